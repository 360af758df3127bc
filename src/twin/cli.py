"""The ``twin`` command line.

Every command reports bad input (a config, a scenario, a weather file) as one
line naming the file, the key or line, and what was expected, and exits with
status 2; nothing runs half-loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from twin.argtypes import finite_float, positive_float
from twin.errors import ConfigError

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


def _progress(fraction: float) -> None:
    width = 30
    filled = int(width * fraction)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f} %")
    if fraction >= 1.0:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _cmd_simulate(args: argparse.Namespace) -> int:
    from twin.plant.scenarios import load_scenario, scenario_path
    from twin.plant.study import run_study
    from twin.site import load_site
    from twin.weather import load_weather

    if args.method == "fast" and args.scenario:
        print(
            "twin simulate: --scenario needs --method dynamic (events are stepped)", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    if args.out is not None:
        from twin.study import check_output

        check_output(args.out)  # before the run, not after it
    site = load_site(args.site)
    weather = load_weather(args.weather) if args.weather else load_weather(site.weather)
    scenario = load_scenario(args.scenario) if args.scenario else None
    path = scenario_path(args.scenario) if args.scenario else None
    days = 365.0 if args.year else (args.days if args.days is not None else 7.0)
    show_progress = sys.stderr.isatty() and not args.json
    result = run_study(
        site,
        days * 86400.0,
        step_s=args.step,
        weather=weather,
        scenario=scenario,
        scenario_path=path,
        start_s=args.start_day * 86400.0,
        progress=_progress if show_progress else None,
        method=args.method,
        record=args.out is not None,
    )
    summary = result.summary()
    if args.out is not None:
        from twin.study import frame_of, write

        frame = frame_of(result)
        write(frame, args.out)
        print(
            f"wrote {len(frame):,} steps x {frame.shape[1]} columns to {args.out}", file=sys.stderr
        )
    if args.json:
        json.dump(summary, sys.stdout)
        sys.stdout.write("\n")
        return 0
    energy = summary["energy_kwh"]
    print(
        f"site {summary['site']}  weather {summary['weather']}  {days:g} days at "
        f"{args.step:g} s ({summary['method']} method)"
    )
    print(f"PUE                 {summary['pue']:.3f}")
    print(f"WUE                 {summary['wue_l_per_kwh']:.2f} L/kWh")
    print(f"IT energy           {energy['it'] / 1e3:,.0f} MWh")
    print(f"facility energy     {energy['facility'] / 1e3:,.0f} MWh")
    print(f"  power losses      {energy['power_losses'] / 1e3:,.0f} MWh")
    print(f"  cooling           {energy['cooling'] / 1e3:,.0f} MWh")
    print(f"  other             {energy['other'] / 1e3:,.0f} MWh")
    print(f"water               {summary['water_l'] / 1e3:,.0f} m3")
    modes = ", ".join(f"{k} {v:,.0f} h" for k, v in summary["hours_by_cooling_mode"].items())
    print(f"cooling modes       {modes}")
    plate = summary["max_cold_plate_c"]
    print(f"max cold plate      {plate:.1f} C" if plate is not None else "max cold plate      -")
    print(f"max rack inlet      {summary['max_rack_inlet_c']:.1f} C")
    print(
        f"ledgers             electrical {summary['electrical_balance_error']:.1e}, "
        f"heat {summary['heat_balance_error']:.1e}"
    )
    print(
        f"speed               {summary['sim_seconds'] / summary['wall_seconds']:,.0f} x real time"
    )
    print()
    print(monthly_table(summary))
    return 0


#: The monthly table's columns: heading, unit, width.
_MONTH_COLUMNS = (
    ("month", "", 5),
    ("PUE", "", 6),
    ("WUE", "L/kWh", 6),
    ("IT", "MWh", 8),
    ("cooling", "MWh", 8),
    ("losses", "MWh", 7),
    ("other", "MWh", 6),
    ("facility", "MWh", 8),
    ("water", "m³", 9),
    ("free", "h", 6),
    ("partial", "h", 7),
    ("mechanical", "h", 10),
)


def monthly_table(summary: dict) -> str:
    """The summary's months as a table (months the run reached) and the total row.

    PUE and WUE are energy-weighted over each month; energy by end use in MWh
    (power losses: transformers, UPS/HVDC, PDUs, batteries), water in m³, hours in
    each cooling mode.
    """

    def row(label: str, pue: float | None, wue: float | None, energy: dict, water_l: float,
            hours: dict) -> str:  # fmt: skip
        cells = [
            label,
            f"{pue:.3f}" if pue is not None else "-",
            f"{wue:.2f}" if wue is not None else "-",
            *(f"{energy[k] / 1e3:,.0f}" for k in ("it", "cooling", "power_losses", "other")),
            f"{energy['facility'] / 1e3:,.0f}",
            f"{water_l / 1e3:,.0f}",
            *(f"{hours[m]:,.0f}" for m in ("free", "partial", "mechanical")),
        ]
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, (_, _, w)) in enumerate(zip(cells, _MONTH_COLUMNS, strict=True))
        )

    lines = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w) for i, (h, _, w) in enumerate(_MONTH_COLUMNS)
        ),
        "  ".join(
            u.ljust(w) if i == 0 else u.rjust(w) for i, (_, u, w) in enumerate(_MONTH_COLUMNS)
        ),
    ]
    for month in summary["monthly"]:
        if sum(month["hours_by_cooling_mode"].values()) == 0:
            continue  # a month the run did not reach
        lines.append(
            row(
                month["month"],
                month["pue"],
                month["wue_l_per_kwh"],
                month["energy_kwh"],
                month["water_l"],
                month["hours_by_cooling_mode"],
            )
        )
    lines.append(
        row(
            "total",
            summary["pue"],
            summary["wue_l_per_kwh"],
            summary["energy_kwh"],
            summary["water_l"],
            summary["hours_by_cooling_mode"],
        )
    )
    return "\n".join(lines)


def _cmd_report(args: argparse.Namespace) -> int:
    if args.spool is not None:
        return _report_history(args)
    if args.html is None:
        print("twin report: give --html FILE (or --from SPOOL)", file=sys.stderr)
        return EXIT_BAD_INPUT
    from twin.study import frame_of, study

    if not args.html.parent.is_dir():
        raise ConfigError(args.html, "its folder does not exist")
    result = study(
        args.site,
        weather=args.weather,
        days=args.days,
        step_s=args.step,
        start_day=args.start_day,
        progress=_progress if sys.stderr.isatty() else None,
    )
    from twin.report import write_report

    frame = frame_of(result)
    pngs = write_report(frame, frame.attrs["summary"], args.html)
    print(f"wrote {args.html}")
    for png in pngs:
        print(f"wrote {png}")
    return 0


def _report_history(args: argparse.Namespace) -> int:
    """``twin report --from SPOOL``: monthly PUE, WUE, CUE of each site in the store."""
    from twin.sinks.history import spool_history

    if args.html is not None and not args.html.parent.is_dir():
        raise ConfigError(args.html, "its folder does not exist")
    sites = spool_history(args.spool)
    if args.json:
        json.dump({"spool": str(args.spool), "sites": sites}, sys.stdout)
        sys.stdout.write("\n")
    else:
        if not sites:
            print(f"{args.spool}: no site records stored")
        print(history_table(sites))
    if args.html is not None:
        from twin.report import write_history_report

        write_history_report(sites, args.spool, args.html)
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


def history_table(sites: dict[str, list[dict]]) -> str:
    """The months of each site as text: energy-based PUE with its category, WUE, CUE."""
    lines = []
    for site, months in sites.items():
        categories = sorted({m["pue_category"] for m in months})
        lines.append(f"site {site}  PUE category {', '.join(categories)}")
        lines.append(
            f"{'month':8} {'PUE':>6} {'WUE':>6} {'CUE':>6} {'IT':>10} {'facility':>10} "
            f"{'water':>9} {'covered':>8}"
        )
        lines.append(f"{'':8} {'':>6} {'L/kWh':>6} {'kg/kWh':>6} {'kWh':>10} {'kWh':>10} "
                     f"{'L':>9} {'%':>8}")  # fmt: skip

        def num(value: float | None, fmt: str) -> str:
            return format(value, fmt) if value is not None else "-"

        for m in months:
            lines.append(
                f"{m['month']:8} {num(m['pue'], '.3f'):>6} {num(m['wue_l_per_kwh'], '.2f'):>6} "
                f"{num(m['cue_kg_per_kwh'], '.3f'):>6} {m['it_kwh']:>10,.0f} "
                f"{m['facility_kwh']:>10,.0f} {m['water_l']:>9,.0f} {m['coverage'] * 100:>8.1f}"
            )
    lines.append(
        "Energy-weighted over the stored good records (gaps over 5 min are not covered); "
        "ISO/IEC 30134-2 reports a year, months are interim figures."
    )
    return "\n".join(lines)


def _check_scenario(path: Path, site_name: str) -> None:
    """A scenario as `twin sim --scenario` and `twin run --scenario` read it, on ``site_name``."""
    from twin.devices.cli import load_sim_scenario
    from twin.devices.inventory import build
    from twin.plant.layout import assemble
    from twin.plant.scenarios import check_targets
    from twin.site import load_site

    scenario, faults, _ = load_sim_scenario(str(path))
    site = load_site(site_name)
    layout = assemble(site)
    check_targets(layout, scenario, path)  # type: ignore[arg-type]
    devices = build(layout).by_name
    for fault in faults:
        if fault.device not in devices:
            raise ConfigError(
                path, f"no device {fault.device!r} in site {site.name}", key="device_faults"
            )


def check_file(path: Path, kind: str | None = None, site: str = "aidc-10mw") -> str:
    """Validate one file as the command that loads it would; return its kind.

    A scenario is checked against ``site`` (its targets and faulted devices must exist
    there). Raises ConfigError.
    """
    from twin import catalog
    from twin.loads import load_profile
    from twin.site import load_site
    from twin.weather import load_weather

    if not path.exists():
        raise ConfigError(path, "file not found")
    folders = {"alarms": "alarms", "sites": "site", "scenarios": "scenario", "loads": "load",
               "profiles": "profile", "models": "catalog"}  # fmt: skip
    # The nearest known folder decides (a checkout under /work/alarms is not an alarm file).
    nearest = next((folders[p] for p in reversed(path.resolve().parts[:-1]) if p in folders), None)
    if kind is None:
        if path.suffix in (".epw", ".mos"):
            kind = "weather"
        elif path.suffix == ".csv":
            kind = "registry"
        elif path.parent.name in catalog.KINDS:
            kind = "catalog"
        elif nearest is not None:
            kind = nearest
        elif path.suffix == ".toml" and _is_run_config(path):
            kind = "config"
        else:
            raise ConfigError(path, "cannot tell what this file is from its folder; pass --kind")
    if kind == "site":
        # `twin run` reads the site's weather before the first step: so does check.
        load_weather(load_site(path).weather)
    elif kind == "scenario":
        _check_scenario(path, site)
    elif kind == "load":
        load_profile(path)
    elif kind == "weather":
        load_weather(path)
    elif kind == "registry":
        from twin.points.registry import load_registry

        load_registry(path)
    elif kind == "alarms":
        from twin.live.alarms import load_rules

        load_rules(path)
    elif kind == "config":
        from twin.runconfig import load_run_config

        load_run_config(path, config_parsers().values())
    elif kind == "profile":
        from twin.devices.profiles import load_profile_file

        load_profile_file(path)
    else:
        catalog.load_entry_file(path)
    return kind


def _is_run_config(path: Path) -> bool:
    from twin.runconfig import looks_like_run_config

    try:
        return looks_like_run_config(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False


def _cmd_check(args: argparse.Namespace) -> int:
    for path in args.files:
        kind = check_file(path, args.kind, args.site)
        print(f"{path}: valid {kind}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import subprocess

    script = Path(__file__).resolve().parents[2] / "bench" / "run"
    if not script.is_file():
        print(
            "twin bench: the benchmarks ship with the source checkout (bench/), not the wheel; "
            "clone the repository and run it there",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    command = [sys.executable, str(script), *args.names, *(["--quick"] if args.quick else [])]
    return subprocess.call(command, cwd=script.parents[1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if getattr(args, "config", None) is not None:
        try:
            args = with_config(argv, args)
        except ConfigError as error:
            print(f"twin {args.command}: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    from twin.devices.cli import cmd_points, cmd_sim
    from twin.monitor import cmd_monitor

    handlers = {
        "simulate": _cmd_simulate,
        "check": _cmd_check,
        "sim": cmd_sim,
        "points": cmd_points,
        "monitor": cmd_monitor,
    }
    handler = getattr(args, "handler", None) or handlers[args.command]
    try:
        return handler(args)
    except ConfigError as error:
        print(f"twin {args.command}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
