"""What the shadow plant costs per tick, beside the plant's own step (not a test).

    .venv/bin/python bench/shadow.py [SITE ...] [--ticks N]

For each site (default aidc-10mw and aidc-100mw): a "measured" plant stepped at 1 s and
read through its device bindings, and the shadow (twin.shadow.model.ShadowPlant) ticked
on those readings. Reports the medians of the truth's plant step and of the shadow's
tick (its plant step, every binding's values and the point mapping), and their ratio.
Issue 13's target is a shadow tick of at most 1 ms on this machine for aidc-100mw.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from common import row

from twin.devices.inventory import build
from twin.devices.registry import rows
from twin.plant.layout import assemble
from twin.plant.model import Plant
from twin.shadow.model import ShadowPlant
from twin.site import load_site

START_S = 180 * 86400.0


def measure(site_name: str, ticks: int) -> tuple[float, float, float]:
    """(truth step, shadow tick, shadow plant step alone) medians [ms]."""
    site = load_site(site_name)
    truth = Plant(assemble(site), start_s=START_S)
    truth.warm_up(300.0)
    inventory = build(truth.layout)
    names = [r["point"] for r in rows(inventory, "127.0.0.1", [0] * len(inventory.gateways))]
    shadow = ShadowPlant(site, names, start_s=START_S, warm_up_s=300.0)
    step_ms, tick_ms, shadow_step_ms = [], [], []
    for _ in range(ticks):
        started = time.perf_counter()
        truth.step(1.0)
        step_ms.append(1e3 * (time.perf_counter() - started))
        values = {key: b.values(truth, 1.0) for key, b in inventory.bindings.items()}
        reading = dict(zip(names, shadow.points_of(values).tolist(), strict=True))
        started = time.perf_counter()
        shadow.tick(reading, 1.0)
        tick_ms.append(1e3 * (time.perf_counter() - started))
        started = time.perf_counter()
        shadow.plant.step(1.0)  # the model's own step alone, for the split
        shadow_step_ms.append(1e3 * (time.perf_counter() - started))
    return (statistics.median(step_ms), statistics.median(tick_ms),
            statistics.median(shadow_step_ms))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sites", nargs="*", default=["aidc-10mw", "aidc-100mw"])
    parser.add_argument("--ticks", type=int, default=60, help="ticks measured (median)")
    options = parser.parse_args()
    for site in options.sites:
        step, tick, alone = measure(site, options.ticks)
        print(f"{site}: plant step {step:.2f} ms, shadow tick {tick:.2f} ms "
              f"(of which its plant step {alone:.2f} ms)")  # fmt: skip
        row(f"shadow tick / plant step, {site} [ms]", tick, step, "tick ≤ 1 ms (100 MW)")
    np.seterr(all="ignore")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
