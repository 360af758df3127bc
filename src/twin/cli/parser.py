"""The ``twin`` command line's grammar: every command's options, and ``--config FILE``.

:func:`build_parser` declares the commands (each command module adds its own
parser: ``twin.devices.cli``, ``twin.monitor``, ``twin.app``...); :func:`with_config`
parses again with a ``--config`` file's keys as the defaults of ``twin run`` and
``twin monitor``, options on the command line overriding them. ``twin bench`` and
``twin config example``, a few lines each, are handled here too. Apart from the
commands because the whole grammar is read by ``--help``, by ``twin config example``
and by the config-file tests without running any command.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from twin.argtypes import finite_float, positive_float

EXIT_BAD_INPUT = 2


def version() -> str:
    """The installed distribution's version (``pyproject.toml``'s, once installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("twin")
    except PackageNotFoundError:  # a bare source tree on PYTHONPATH, never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    from twin.paths import shipped_sites

    # the footer is read from the folder the sites are loaded from, so a site added
    # there is listed (a hand-kept list had lost aidc-10mw-dry, issue 18 item 10)
    footer = (
        f"Sites: configs/sites/*.toml ({', '.join(shipped_sites())}). "
        "Run 'twin COMMAND --help' for each command."
    )
    parser = argparse.ArgumentParser(
        prog="twin",
        description="Facility digital twin and DCIM monitor for AI data centres.",
        # wrapped here, not by argparse, which splits a site name at its hyphens
        epilog=textwrap.fill(footer, width=79, break_on_hyphens=False),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    simulate = sub.add_parser(
        "simulate",
        help="run a site's plant offline as fast as possible and summarise energy, PUE, water",
        description="Run a site's plant offline (no devices) over days or a typical year of "
        "weather and print PUE, WUE, energy by end use, water, cooling-mode hours, worst "
        "temperatures and the closure of the electrical and heat ledgers.",
        epilog="Examples:\n  twin simulate aidc-10mw --days 7\n"
        "  twin simulate aidc-10mw --year --weather beijing --json\n"
        "  twin simulate aidc-10mw --year --out year.parquet\n"
        "  twin simulate aidc-10mw --days 0.1 --step 1 --scenario utility-loss",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    simulate.add_argument("site", nargs="?", default="aidc-10mw", help="site name or TOML path")
    simulate.add_argument(
        "--weather",
        help="shipped climate (shenzhen, shanghai, chengdu, beijing, urumqi) or an EPW/.mos path; "
        "default: the site's own",
    )
    span = simulate.add_mutually_exclusive_group()
    span.add_argument("--days", type=positive_float, default=None, help="days of plant time")
    span.add_argument("--year", action="store_true", help="a whole typical year (365 days)")
    simulate.add_argument(
        "--step",
        type=positive_float,
        default=60.0,
        help="step in seconds (default 60; steps over 10 s use ideal control, "
        "1-10 s run the PI loops)",
    )
    simulate.add_argument(
        "--method",
        choices=["fast", "dynamic"],
        help="fast: quasi-steady over the time axis (a year in seconds; the default for steps "
        "over 10 s without a scenario); dynamic: step the live plant with thermal mass and "
        "control loops (the default with --scenario or steps of 10 s or less)",
    )
    simulate.add_argument(
        "--start-day", type=finite_float, default=0.0, help="day of year to start"
    )
    simulate.add_argument("--scenario", help="scenario name (sim/scenarios) or TOML path")
    simulate.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    simulate.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="also write the time series, one row per step, to FILE.parquet or FILE.csv "
        "(columns with units in their names: docs/study.md)",
    )

    report = sub.add_parser(
        "report",
        help="run the study and write an HTML report with PNG figures",
        description="Run a site's study (a typical year by default) and write FILE (HTML, "
        "figures embedded) and FILE-<figure>.png beside it: monthly PUE and WUE, energy by end "
        "use, hours per cooling mode against wet bulb, load-duration curves, worst hours.",
        epilog="Examples:\n  twin report aidc-10mw --html year.html\n"
        "  twin report aidc-10mw --weather beijing --html beijing.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("site", nargs="?", default="aidc-10mw", help="site name or TOML path")
    report.add_argument(
        "--weather", help="shipped climate or an EPW/.mos path (default: the site's)"
    )
    report.add_argument(
        "--days", type=positive_float, default=365.0, help="days of plant time (default a year)"
    )
    report.add_argument(
        "--step", type=positive_float, default=60.0, help="study step in seconds (default 60)"
    )
    report.add_argument("--start-day", type=finite_float, default=0.0, help="day of year to start")
    report.add_argument("--html", type=Path, metavar="FILE", help="report to write")
    report.add_argument(
        "--from",
        dest="spool",
        type=Path,
        metavar="SPOOL",
        help="instead of a study: the operator's monthly energy-based PUE (ISO/IEC 30134-2, "
        "with its category), WUE and CUE from the history stored in an embedded store "
        "(the spool directory of twin run / twin monitor)",
    )
    report.add_argument(
        "--json", action="store_true", help="with --from: print the months as one JSON object"
    )
    from twin.cli.study import _cmd_report

    report.set_defaults(handler=_cmd_report)

    check = sub.add_parser(
        "check",
        help="validate sites, scenarios, catalog entries, device or load profiles, weather, "
        "config files",
        description="Validate files before running them. The kind is taken from where the "
        "file lives (configs/sites, sim/scenarios, sim/loads, models/<kind>/) or its "
        "extension (.epw, .mos); a TOML file elsewhere whose sections are those of "
        "`twin config example` is a config file. Exit 0 when valid, 2 with one message when not.",
    )
    check.add_argument("files", nargs="+", type=Path, help="files to check")
    check.add_argument(
        "--kind",
        choices=[
            "site",
            "scenario",
            "catalog",
            "load",
            "weather",
            "profile",
            "registry",
            "alarms",
            "config",
        ],
        help="force the kind instead of guessing it from the path",
    )
    check.add_argument(
        "--site",
        default="aidc-10mw",
        help="site a scenario is checked against: its targets and faulted devices must "
        "exist there, as `twin run SITE --scenario` requires (default %(default)s)",
    )

    from twin.devices.cli import add_parsers as add_device_parsers

    add_device_parsers(sub)  # sim, points

    from twin.monitor import add_parser as add_monitor_parser

    add_monitor_parser(sub)  # monitor

    from twin.sinks.cli import register_replay

    register_replay(sub)  # replay: sets its own handler

    from twin.plant.sweep_cli import add_parser as add_sweep_parser

    add_sweep_parser(sub)  # sweep: sets its own handler

    from twin.tui.fleet_cli import add_parser as add_fleet_parser

    add_fleet_parser(sub)  # fleet: sets its own handler

    from twin.app import add_parser as add_run_parser

    add_run_parser(sub)  # run: sets its own handler

    from twin.collect.discover_cli import add_parser as add_discover_parser

    add_discover_parser(sub)  # discover PROTOCOL: sets its own handler

    bench = sub.add_parser(
        "bench",
        help="run the benchmarks (source checkout only) and print one table",
        description="Run bench/run from the source checkout: every benchmark beside its peer "
        "or limit (EnergyPlus, bare pymodbus, raw HTTP POST to InfluxDB...), one table of "
        "figure, twin, peer/limit, ratio, target. Output of each bench goes to bench/out/.",
        epilog="Examples:\n  twin bench --quick\n  twin bench collect sinks",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("names", nargs="*", help="only these benches (default: all)")
    bench.add_argument("--quick", action="store_true", help="shorter runs (soak 2 min)")
    bench.set_defaults(handler=_cmd_bench)

    from twin.app import add_dashboard_parser

    add_dashboard_parser(sub)  # dashboard: sets its own handler

    for name in CONFIG_COMMANDS:
        sub.choices[name].add_argument(
            "--config",
            type=Path,
            metavar="FILE",
            help="read the options from a TOML file (twin config example prints one); "
            "options given here override it",
        )
    config = sub.add_parser(
        "config",
        help="print an example --config file for twin run and twin monitor",
        description="Config files for `twin run --config FILE` and `twin monitor --config "
        "FILE`: every option as a TOML key. `twin config example > twin.toml` writes a "
        "commented file with every key; `twin check twin.toml` validates one.",
    )
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    example = config_sub.add_parser("example", help="print a commented file with every key")
    example.set_defaults(handler=_cmd_config_example)
    return parser


# The commands that take --config FILE.
CONFIG_COMMANDS = ("run", "monitor")


def command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser of each ``twin`` command, by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise LookupError("no commands")


def config_parsers() -> dict[str, argparse.ArgumentParser]:
    """The parsers whose options a config file holds: ``run`` and ``monitor``."""
    commands = command_parsers(build_parser())
    return {name: commands[name] for name in CONFIG_COMMANDS}


def _cmd_config_example(args: argparse.Namespace) -> int:
    from twin.runconfig import example_text

    sys.stdout.write(example_text(config_parsers()))
    return 0


_UNSET = object()


def _given_on_command_line(argv: Sequence[str], command: str) -> set[str]:
    """The dests of ``command`` that ``argv`` sets (its defaults replaced by a marker)."""
    parser = build_parser()
    for action in command_parsers(parser)[command]._actions:
        if action.dest != "help":
            action.default = _UNSET
    args = parser.parse_args(argv)
    return {dest for dest, value in vars(args).items() if value is not _UNSET}


def with_config(argv: Sequence[str], args: argparse.Namespace) -> argparse.Namespace:
    """Parse ``argv`` again with the file of ``--config`` as the defaults of its command.

    Raises ConfigError for a bad file (naming its line and key).
    """
    from twin.runconfig import load_run_config, overridden

    parser = build_parser()
    commands = command_parsers(parser)
    config = load_run_config(args.config, [commands[name] for name in CONFIG_COMMANDS])
    command = commands[args.command]
    explicit = _given_on_command_line(argv, args.command)
    command.set_defaults(**overridden(config.for_parser(command), explicit, command))
    return parser.parse_args(argv)


def _cmd_bench(args: argparse.Namespace) -> int:
    import subprocess

    script = Path(__file__).resolve().parents[3] / "bench" / "run"
    if not script.is_file():
        print(
            "twin bench: the benchmarks ship with the source checkout (bench/), not the wheel; "
            "clone the repository and run it there",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    command = [sys.executable, str(script), *args.names, *(["--quick"] if args.quick else [])]
    return subprocess.call(command, cwd=script.parents[1])
