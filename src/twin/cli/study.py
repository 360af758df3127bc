"""``twin simulate`` and ``twin report``: the offline study of a site on the command line.

``twin simulate`` runs a site's plant offline and prints (or writes) its summary:
PUE, WUE, energy by end use, water, cooling-mode hours, the ledgers and the monthly
table; ``twin report`` writes the study's HTML report, or with ``--from SPOOL`` the
operator's monthly PUE, WUE and CUE from the stored history. Apart from the parser
and ``twin check`` because these are the commands that print tables of results.
"""

from __future__ import annotations

import argparse
import json
import sys

from twin.cli.parser import EXIT_BAD_INPUT
from twin.errors import ConfigError


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
