"""What the live-to-sink feeder costs the main thread of ``twin run`` per tick.

    .venv/bin/python bench/feeder.py [SITE] [--ticks N]

Builds the deterministic live state of SITE (default aidc-100mw: 25,374 points,
2,953 devices) with ``frozen_source``, then ticks like ``twin run`` at 1 Hz: before
each tick every point gets a new value (a few bad, as a live collector delivers),
then ``SinkFeeder.tick`` updates the site metrics and alarms, builds one record per
device with a fresh reading plus the ``site`` record, and writes them to a
``Sink`` over a durable SQLite spool in a temporary directory (no database: the
embedded store, so the figure is the tick's own cost, fsync included).

Prints medians in ms: the whole tick, and its parts (metrics and alarms; building
the records; the sink write). The peer, measured in the same run on the same
state, is the straightforward construction the feeder used to do: every point in
Python, one at a time, into ``Record.from_samples``, then filtered to the fresh
devices. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from common import row

from twin.live.state import LiveState
from twin.runtime import frozen_source
from twin.sinks.feeder import SinkFeeder, device_records_point_by_point
from twin.sinks.record import Record
from twin.sinks.sink import Sink
from twin.sinks.spool import Spool


def point_by_point(state: LiveState, now: float, fresh_devices: set[str]) -> list[Record]:
    """The peer: the per-point construction, then the fresh devices kept."""
    records = device_records_point_by_point(state, now)
    return [r for r in records if dict(r.tags).get("device") in fresh_devices]


class Timed:
    """Wraps a callable, adding the seconds of each call to ``spent``."""

    def __init__(self, function) -> None:  # type: ignore[no-untyped-def]
        self.function = function
        self.spent = 0.0

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.spent += time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("site", nargs="?", default="aidc-100mw")
    parser.add_argument("--ticks", type=int, default=30, help="ticks measured (median)")
    parser.add_argument("--fsync", choices=("full", "normal"), default="full")
    options = parser.parse_args()
    source = frozen_source(options.site, steps=5)
    state, now = source.state, source.clock.now
    devices = len({p.device for p in state.points})
    rng = np.random.default_rng(0)
    n = len(state.points)
    everything = np.arange(n)
    work = Path(tempfile.mkdtemp(prefix="twin-bench-feeder-"))
    sink = Sink(None, Spool(work / "spool", fsync=options.fsync))
    feeder = SinkFeeder(state, source.metrics, source.alarms, sink, source.site)
    # The parts, timed from outside: what is not metrics, alarms or the write is the
    # building of records.
    update = Timed(source.metrics.update)
    evaluate = Timed(source.alarms.evaluate if source.alarms is not None else lambda now: None)
    write = Timed(sink.write)
    feeder.metrics = SimpleNamespace(update=update)
    feeder.alarms = SimpleNamespace(evaluate=evaluate)
    feeder.sink = SimpleNamespace(write=write)
    ticks: list[float] = []
    builds: list[float] = []
    writes: list[float] = []
    others: list[float] = []
    peers: list[float] = []
    records_per_tick = 0
    for k in range(options.ticks + 2):  # two warm-up ticks
        now += 1.0
        values = state.value + rng.normal(0, 0.01, n)
        good = rng.random(n) > 0.001
        state.update(everything, values, good, now - 0.3)
        before = (write.spent, update.spent + evaluate.spent)
        start = time.perf_counter()
        feeder.tick(now)
        elapsed = time.perf_counter() - start
        wrote = write.spent - before[0]
        other = update.spent + evaluate.spent - before[1]
        # the peer, on the same state at the same time
        fresh = {p.device for p in state.points}  # every point was just read
        start = time.perf_counter()
        peer = point_by_point(state, now, fresh)
        peer_s = time.perf_counter() - start
        if k >= 2:
            ticks.append(elapsed)
            writes.append(wrote)
            others.append(other)
            builds.append(elapsed - wrote - other)
            peers.append(peer_s)
            records_per_tick = len(peer) + 1
    sink.close()
    shutil.rmtree(work, ignore_errors=True)

    def ms(values: list[float]) -> float:
        return statistics.median(values) * 1e3

    print(
        f"{options.site}: {n:,} points, {devices:,} devices, {records_per_tick:,} records "
        f"per tick; median of {options.ticks} ticks; spool fsync={options.fsync}"
    )
    print(f"  tick total        {ms(ticks):8.2f} ms")
    print(f"    metrics+alarms  {ms(others):8.2f} ms")
    print(f"    build records   {ms(builds):8.2f} ms")
    print(f"    sink write      {ms(writes):8.2f} ms (encode + spool append)")
    print(f"  peer: point-by-point records {ms(peers):8.2f} ms")
    row(f"feeder: build records per tick ms, {options.site}", ms(builds), ms(peers), "< 1x")
    row(f"feeder: tick ms (records, spool, metrics), {options.site}", ms(ticks), 1000.0, "-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
