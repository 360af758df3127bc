"""A device back from an outage is read again within a few polls, and no reconnect storm
while it is down (issue 11 item 7).

The plant-room site is served on a loopback Modbus TCP gateway; one of its units is
taken offline with the device fault (the unit goes silent: every request times out,
the gateway stays up) and brought back. The collector polls every second, as
``twin run`` does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from twin.collect.backoff import backoff_cap
from twin.collect.modbus import ModbusOptions
from twin.collect.scheduler import Collector, CollectorOptions
from twin.devices.faults import DeviceFault
from twin.devices.runner import Options
from twin.live.state import LiveState
from twin.points.registry import parse_registry

from ..devices.simthread import SimThread
from .collectsite import registry_csv, until

DEVICE = "crac1"
INTERVAL = 1.0
#: consecutive failures before the unit comes back: an uncapped doubling from 0.5 s
#: waits 16 s (± 20 %) after the sixth
FAILURES = 6


@pytest.fixture(scope="module")
def plant_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimThread]:
    options = Options(modbus_port=0, opcua_port=None, state_dir=tmp_path_factory.mktemp("state"))
    with SimThread("plant-room", options) as sim:
        sim.step()
        yield sim


def test_a_returning_device_is_read_within_a_few_polls_without_a_reconnect_storm(
    plant_room: SimThread,
) -> None:
    options = ModbusOptions(timeout=1.0)
    registry = parse_registry(registry_csv(plant_room), Path("<plant-room>"))
    points = np.array([p.index for p in registry.points if p.device == DEVICE])
    cap = backoff_cap(INTERVAL)

    async def run() -> tuple[float, list[float], float, float]:
        state = LiveState(registry, interval_s=INTERVAL, stale_after=2.0)
        collector = Collector(
            registry, state, CollectorOptions(interval_s=INTERVAL, modbus=options)
        )
        await collector.start()
        try:
            await until(lambda: bool((state.good_ts > 0).all()), what="every point read")
            device = collector.device(DEVICE)
            offline = DeviceFault(device=DEVICE, kind="offline")
            plant_room.run(lambda: plant_room.sim.inject(offline))
            down_from = time.monotonic()
            # Back right after a failed attempt, deep in the backoff: the worst moment.
            await until(
                lambda: device.failures >= FAILURES and device.client is None,
                timeout=120,
                what=f"{FAILURES} consecutive failures",
            )
            plant_room.run(lambda: plant_room.sim.faults.clear(DEVICE))
            back = time.time()
            down_to = time.monotonic()
            attempts = [t - down_from for t in device.stats.connect_times if t >= down_from]
            await until(
                lambda: bool((state.good_ts[points] > back).all()),
                timeout=60,
                what=f"{DEVICE} read again",
            )
            read_after = float(state.good_ts[points].min()) - back
            return read_after, attempts, down_to - down_from, cap
        finally:
            await collector.stop()

    read_after, attempts, down_s, cap = asyncio.run(run())
    # Read again within a few poll intervals: at most one capped backoff step, one
    # request timeout and one poll slot.
    limit = cap * (1 + options.jitter) + options.timeout + INTERVAL + 1.0
    assert read_after <= limit, (read_after, limit, attempts)
    assert read_after <= 6 * INTERVAL, read_after
    # No storm while down: one attempt per backoff step (never two in flight or back
    # to back), so at most 60 / (cap × (1 - jitter)) a minute once at the cap.
    gaps = np.diff(attempts)
    assert (gaps >= options.backoff_min * (1 - options.jitter) - 0.05).all(), attempts
    at_cap = gaps[3:]  # 0.5, 1, 2 s, then the cap
    assert (at_cap >= cap * (1 - options.jitter) - 0.05).all(), attempts
    per_minute = len(attempts) / down_s * 60.0
    assert per_minute <= 60.0 / (cap * (1 - options.jitter)), (per_minute, attempts)
