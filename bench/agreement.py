"""The two solvers of one plant, side by side: the quasi-steady study and the dynamic
plant at 60 s steps (ideal control), over 7 days per site and climate.

Issue "One plant": IT energy equal, cooling within 0.5 %, water within 1 %, PUE within
0.002. ``python bench/agreement.py [--days 7] [--start-day 0]`` prints one row per case.
"""

from __future__ import annotations

import argparse
import time

from twin.plant.study import run_study
from twin.site import load_site
from twin.weather import load_weather

SITES = ("aidc-10mw", "aidc-10mw-dry", "legacy-air-2mw")
CLIMATES = ("shanghai", "beijing", "shenzhen")
OTHER_CLIMATES = ("chengdu", "urumqi")


def compare(site_name: str, climate: str, days: float, start_day: float) -> dict[str, float]:
    site = load_site(site_name)
    weather = load_weather(climate)
    start = start_day * 86400.0
    kwargs = dict(weather=weather, start_s=start, step_s=60.0)
    fast = run_study(site, days * 86400.0, method="fast", **kwargs)
    dyn = run_study(site, days * 86400.0, method="dynamic", **kwargs)
    f, d = fast.ledger, dyn.ledger
    pue_f = (f.utility + f.generator) / f.it
    pue_d = (d.utility + d.generator) / d.it
    return {
        "it": f.it / d.it - 1,
        "cooling": f.cooling / d.cooling - 1,
        "water": (f.water_kg / d.water_kg - 1) if d.water_kg > 0 else f.water_kg,
        "pue": pue_f - pue_d,
        "wall_fast": fast.wall_seconds,
        "wall_dyn": dyn.wall_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--start-day", type=float, default=0.0)
    parser.add_argument("--site", action="append")
    parser.add_argument("--climate", action="append")
    args = parser.parse_args()
    print(f"{'site':16} {'climate':9} {'IT':>8} {'cooling':>8} {'water':>8} {'PUE':>8}")
    worst = {"it": 0.0, "cooling": 0.0, "water": 0.0, "pue": 0.0}
    t0 = time.perf_counter()
    for site in args.site or SITES:
        for climate in args.climate or CLIMATES:
            r = compare(site, climate, args.days, args.start_day)
            for k in worst:
                worst[k] = max(worst[k], abs(r[k]))
            print(
                f"{site:16} {climate:9} {r['it']:+8.2%} {r['cooling']:+8.2%} "
                f"{r['water']:+8.2%} {r['pue']:+8.4f}",
                flush=True,
            )
    print(
        f"worst: IT {worst['it']:.3%} (target 0), cooling {worst['cooling']:.2%} (0.5 %), "
        f"water {worst['water']:.2%} (1 %), PUE {worst['pue']:.4f} (0.002); "
        f"{time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
