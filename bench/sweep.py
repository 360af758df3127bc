"""A design sweep on Dask beside the same cases run one after the other (not a test).

    .venv/bin/python bench/sweep.py [SITE] [--days D] [--workers N]

Issue 16's target: 20 cases (5 shipped climates × 4 facility-water supply
temperatures, a typical year each) on a LocalCluster of 2 workers finish in
≤ 0.6 × the serial time on this machine, with identical results. Both runs are
whole: the cluster's start-up and the workers' imports count against it, as a
user waiting for ``twin sweep`` sees them. The serial run is the same
:func:`twin.plant.sweep.sweep` with ``workers=0`` (each case in this process).
"""

from __future__ import annotations

import argparse
import sys
import time

from common import row

from twin.plant.sweep import ROW_COLUMNS, sweep
from twin.weather import SHIPPED_WEATHER


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("site", nargs="?", default="aidc-10mw")
    parser.add_argument("--days", type=float, default=365.0, help="plant days per case")
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    vary = {
        "weather": list(SHIPPED_WEATHER),
        "cooling.facility_water.t_supply_c": [26, 28, 30, 32],
    }
    cases = len(vary["weather"]) * len(vary["cooling.facility_water.t_supply_c"])
    print(f"{cases} cases of {options.site}, {options.days:g} days each", flush=True)
    start = time.perf_counter()
    serial = sweep(options.site, vary, days=options.days, workers=0)
    serial_s = time.perf_counter() - start
    print(f"serial: {serial_s:.1f} s", flush=True)
    start = time.perf_counter()
    parallel = sweep(options.site, vary, days=options.days, workers=options.workers)
    parallel_s = time.perf_counter() - start
    print(f"LocalCluster of {options.workers} workers: {parallel_s:.1f} s", flush=True)
    compared = [c for c in ROW_COLUMNS if c != "study_wall_s"]
    identical = bool((serial[compared] == parallel[compared]).all().all())
    print(f"results identical: {identical}")
    print(serial[[*vary, "pue", "wue_l_per_kwh", "cooling_mwh"]].to_string(index=False))
    row(f"sweep of {cases} cases, {options.workers} workers vs serial (s)", parallel_s,
        serial_s, "<= 0.6")  # fmt: skip
    row("sweep results identical to serial (1 = yes)", float(identical), 1.0, "= 1")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
