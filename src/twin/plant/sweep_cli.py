"""``twin sweep``: the flags (declared here, registered by :mod:`twin.cli`) and the command."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from twin.argtypes import positive_float
from twin.errors import ConfigError

EXAMPLES = """\
Examples:
  twin sweep aidc-10mw --vary cooling.facility_water.t_supply_c=26,30,34 --weather all
  twin sweep aidc-10mw --vary halls.0.gpu_racks=100,120 --days 30 --out cases.parquet
  twin sweep aidc-10mw --weather beijing,shenzhen --workers 0          (serial, no Dask)
  twin sweep aidc-10mw --weather all --scheduler tcp://10.0.0.5:8786   (a running cluster)

KEY is a dotted key of the site's TOML (configs/sites/*.toml): weather,
power.ups_eco_mode, cooling.facility_water.t_supply_c, halls.0.gpu_racks...
Values are TOML scalars (26, 26.5, true) or bare words (beijing). Every case is
validated before the first one runs, exactly as an edited site file would be."""


def _vary(text: str) -> tuple[str, list[object]]:
    from twin.plant.sweep import parse_vary

    try:
        return parse_vary(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(error.message) from None


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (serial) or more, got {value}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sweep",
        help="run the annual study over a grid of site variants (on Dask) and tabulate them",
        description="Run the annual energy study once per combination of the values given "
        "with --vary (and --weather), on a Dask cluster (a local one of --workers processes "
        "by default), and print one row per case: PUE, WUE, energy by end use, water, hours "
        "per cooling mode, worst temperatures. --out writes the table to Parquet or CSV.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("site", nargs="?", default="aidc-10mw", help="site name or TOML path")
    parser.add_argument(
        "--vary",
        metavar="KEY=V1,V2,...",
        type=_vary,
        action="append",
        default=[],
        help="a site key and the values it takes (repeat for a grid)",
    )
    parser.add_argument(
        "--weather",
        help="climates to run: 'all' (every shipped one) or names/paths separated by commas; "
        "the same as --vary weather=...",
    )
    span = parser.add_mutually_exclusive_group()
    span.add_argument("--days", type=positive_float, default=None, help="days per case")
    span.add_argument("--year", action="store_true", help="a typical year per case (default)")
    parser.add_argument(
        "--step", type=positive_float, default=60.0, help="study step in seconds (default 60)"
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=2,
        help="worker processes of the local Dask cluster (default 2; 0: one after the "
        "other in this process)",
    )
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://...)")
    parser.add_argument("--out", type=Path, help="write the cases to FILE.parquet or FILE.csv")
    parser.add_argument("--json", action="store_true", help="print the cases as JSON rows")
    parser.set_defaults(handler=cmd_sweep)


def _progress_line(start: float) -> object:
    def show(done: int, total: int) -> None:
        elapsed = time.monotonic() - start
        sys.stderr.write(f"\rsweep: {done}/{total} cases done, {elapsed:,.0f} s")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def cmd_sweep(args: argparse.Namespace) -> int:
    from twin.plant.sweep import all_weather, cases_from_vary, describe, sweep

    vary: dict[str, list[object]] = {}
    for key, values in args.vary:
        if key in vary:
            raise ConfigError(Path("--vary"), f"{key!r} is given twice")
        vary[key] = values
    if args.weather:
        if "weather" in vary:
            raise ConfigError(Path("--weather"), "weather is also given with --vary")
        names = [w.strip() for w in args.weather.split(",") if w.strip()]
        vary["weather"] = all_weather() if names == ["all"] else names
    if args.out is not None and args.out.suffix not in (".parquet", ".csv"):
        raise ConfigError(args.out, "--out must end in .parquet or .csv")
    days = args.days if args.days is not None else 365.0
    cases = cases_from_vary(vary)
    if not args.json:
        where = args.scheduler or (
            f"a local Dask cluster of {args.workers} workers" if args.workers else "this process"
        )
        print(f"twin sweep: {describe(cases)}, {days:g} days each, on {where}", file=sys.stderr)
    start = time.monotonic()
    frame = sweep(
        args.site,
        vary,
        days=days,
        step_s=args.step,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=_progress_line(start) if sys.stderr.isatty() else None,  # type: ignore[arg-type]
    )
    wall = time.monotonic() - start
    if args.out is not None:
        if args.out.suffix == ".parquet":
            frame.to_parquet(args.out, index=False)
        else:
            frame.to_csv(args.out, index=False)
    if args.json:
        rows = frame.to_dict(orient="records")
        for row in rows:
            for key, value in row.items():
                if isinstance(value, float) and not math.isfinite(value):
                    row[key] = None
        json.dump({"cases": rows, "wall_seconds": wall}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    shown = [c for c in frame.columns if c not in ("study_wall_s", "min_battery_soc")]
    print(frame[shown].to_string(index=False, float_format=lambda x: f"{x:,.3f}"))
    print(f"{len(frame)} cases in {wall:,.1f} s", end="")
    print(f"; written to {args.out}" if args.out is not None else "")
    return 0
