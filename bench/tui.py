"""Dashboard UI cost on aidc-100mw: first frame, per-tick apply time, CPU share.

The source is the deterministic in-process state (the collector's cost is measured
elsewhere): before each tick every point gets a new value (as a live collector
delivers), then the tick switches view, takes a snapshot (site metrics and alarms
updated) and applies it, as the 1 Hz timer does. Printed beside the issue's limits:
first frame ≤ 2 s, no frame > 100 ms, UI work ≤ 20 % of one core at 1 Hz.
"""

from __future__ import annotations

import asyncio
import sys
import time

import numpy as np
from common import row

from twin.tui.app import TwinApp
from twin.tui.runtime import frozen_source


async def main(site: str, ticks: int) -> None:
    source = frozen_source(site, steps=30)
    state = source.state
    every = np.arange(len(state.points))
    base = state.value.copy()
    rng = np.random.default_rng(1)
    started = time.perf_counter()
    app = TwinApp(source, tick_s=None)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        first = time.perf_counter() - started
        cpu, wall = 0.0, []
        for i in range(ticks):
            # The collector's part (measured in bench/collect.py): every point gets a new
            # value each second, so every row and cell of the dashboard has changed.
            source.clock.now += 1  # type: ignore[attr-defined]
            noisy = base * (1 + 1e-3 * rng.standard_normal(len(base)))
            state.update(every, noisy, np.ones(len(every), bool), source.clock.now)  # type: ignore[attr-defined]
            cpu0 = time.process_time()
            await pilot.press(str(i % 6 + 1))
            t = time.perf_counter()
            app.snapshot = source.snapshot()
            await pilot.pause()
            wall.append(time.perf_counter() - t)
            cpu += time.process_time() - cpu0
        cpu /= ticks
    wall.sort()
    racks = len(source.snapshot().racks.names)
    print(f"site {site}: {len(source.state.points)} points, {racks} racks")
    print(f"first frame        {first:6.2f} s    (limit 2 s)")
    print(
        f"tick median / max  {wall[len(wall) // 2] * 1e3:6.1f} / {wall[-1] * 1e3:.1f} ms"
        "   (limit 100 ms)"
    )
    print(f"CPU per 1 Hz tick  {cpu * 100:6.1f} % of one core   (limit 20 %)")
    row("dashboard first frame [s]", first, 2.0, "<= 2")
    row("dashboard tick, median [ms]", wall[len(wall) // 2] * 1e3, 100.0, "<= 100")
    row("dashboard CPU per 1 Hz tick [% of a core]", cpu * 100, 20.0, "<= 20")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "aidc-100mw", 30))
