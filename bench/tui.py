"""Dashboard UI cost on aidc-100mw: first frame, view openings, per-tick apply time, CPU.

The source is the deterministic in-process state (the collector's cost is measured
elsewhere). After the first frame each of the six views is opened once, as an
operator's first look at it costs (a thousand-row table is built then); then before
each tick every point gets a new value (as a live collector delivers), the tick
switches view, takes a snapshot (site metrics and alarms updated; in the app a worker
thread does, so it counts in the CPU share, not in a frame) and applies it, as the
1 Hz timer does. Printed beside the issue's limits: first frame ≤ 2 s, no frame
> 100 ms, UI work ≤ 20 % of one core at 1 Hz.

A frame is what keeps the UI from answering: for a view switch, from the key press
to the first paint of the new view, or the longest single event-loop callback while
it settles (whichever is longer: a table can paint empty and then measure its rows
on idle); for a tick, applying the snapshot until the app is idle again. "Worst
frame" is the longest of them all, first openings included.
"""

from __future__ import annotations

import asyncio
import sys
import time
from asyncio import events

import numpy as np
from common import row

from twin.runtime import frozen_source
from twin.tui.app import TwinApp
from twin.tui.screens.views import VIEWS


class LoopWatch:
    """The longest event-loop callback since the last :meth:`reset` (a UI stall)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._run = events.Handle._run

    def __enter__(self) -> LoopWatch:
        watch, run = self, self._run

        def timed(handle: events.Handle) -> None:
            t = time.perf_counter()
            try:
                run(handle)
            finally:
                watch.longest = max(watch.longest, time.perf_counter() - t)

        events.Handle._run = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        events.Handle._run = self._run  # type: ignore[method-assign]

    def reset(self) -> None:
        self.longest = 0.0


async def main(site: str, ticks: int) -> None:
    source = frozen_source(site, steps=30)
    state = source.state
    every = np.arange(len(state.points))
    base = state.value.copy()
    rng = np.random.default_rng(1)
    started = time.perf_counter()
    app = TwinApp(source, tick_s=None)
    paints: list[float] = []
    display = app._display

    def timed_display(screen, renderable) -> None:  # type: ignore[no-untyped-def]
        paints.append(time.perf_counter())
        display(screen, renderable)

    app._display = timed_display  # type: ignore[method-assign]
    with LoopWatch() as loop:
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            first = time.perf_counter() - started

            async def switch(key: str) -> float:
                """Open a view by its key: the frame the operator waits for."""
                paints.clear()
                loop.reset()
                t = time.perf_counter()
                await pilot.press(key)
                await pilot.pause()
                shown = paints[0] - t if paints else 0.0
                return max(shown, loop.longest)

            opening = {}
            for key, name in reversed(list(enumerate(VIEWS, start=1))):
                opening[name] = await switch(str(key))  # first openings; overview last
            cpu, wall, frames, snapshot = 0.0, [], [], []
            for i in range(ticks):
                # The collector's part (measured in bench/collect.py): every point gets
                # a new value each second, so every row and cell of the dashboard changed.
                source.clock.now += 1  # type: ignore[attr-defined]
                noisy = base * (1 + 1e-3 * rng.standard_normal(len(base)))
                state.update(every, noisy, np.ones(len(every), bool), source.clock.now)  # type: ignore[attr-defined]
                cpu0 = time.process_time()
                frames.append(await switch(str(i % len(VIEWS) + 1)))
                # The app takes its snapshot in a worker thread: CPU, not a UI frame.
                t = time.perf_counter()
                snap = source.snapshot()
                snapshot.append(time.perf_counter() - t)
                loop.reset()
                t = time.perf_counter()
                app.snapshot = snap
                await pilot.pause()
                wall.append(time.perf_counter() - t)
                frames.append(max(wall[-1], loop.longest))
                cpu += time.process_time() - cpu0
            cpu /= ticks
    wall.sort()
    snapshot.sort()
    worst_open = max(opening.values())
    worst = max(worst_open, *frames)
    racks = len(source.snapshot().racks.names)
    print(f"site {site}: {len(source.state.points)} points, {racks} racks")
    print(f"first frame        {first:6.2f} s    (limit 2 s)")
    print(
        "first opening      "
        + "  ".join(f"{name} {t * 1e3:.0f}" for name, t in opening.items())
        + " ms"
    )
    print(
        f"tick median / max  {wall[len(wall) // 2] * 1e3:6.1f} / {wall[-1] * 1e3:.1f} ms"
        "   (limit 100 ms)"
    )
    print(f"snapshot median    {snapshot[len(snapshot) // 2] * 1e3:6.1f} ms (worker thread)")
    print(
        f"worst frame        {worst * 1e3:6.1f} ms (first openings {worst_open * 1e3:.1f} ms,"
        f" switches and ticks {max(frames) * 1e3:.1f} ms)   (target 50 ms)"
    )
    print(f"CPU per 1 Hz tick  {cpu * 100:6.1f} % of one core   (limit 20 %)")
    row("dashboard first frame [s]", first, 2.0, "<= 2")
    row("dashboard tick, median [ms]", wall[len(wall) // 2] * 1e3, 100.0, "<= 100")
    # Issue 17 item 6 lowers the worst frame's target from 100 ms to 50 ms.
    row("dashboard worst frame, first openings incl. [ms]", worst * 1e3, 50.0, "<= 50")
    row("dashboard CPU per 1 Hz tick [% of a core]", cpu * 100, 20.0, "<= 20")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "aidc-100mw", 30))
