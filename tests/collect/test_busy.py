"""Exception 06 (server device busy): retried briefly, never forever.

The device is pymodbus' stock TCP server whose unit answers "busy" to its first
requests (a controller still starting up, or a gateway with its bus occupied):
pymodbus turns the datastore's ``ExcCodes.DEVICE_BUSY`` into a real exception reply.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import numpy as np
from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusDeviceContext

from twin.collect.modbus import ModbusDevice, ModbusOptions
from twin.collect.scheduler import Collector, CollectorOptions
from twin.live.state import LiveState
from twin.points.quality import Quality
from twin.points.registry import parse_registry

from .collectsite import until
from .vendorserver import build_context, serve

# A chiller controller's map, 1-based as its manual prints it.
MAP = """\
point,device,equipment,unit,modbus_host,modbus_port,unit_id,vendor_address,data_type,word_order,scale,range_low,range_high
chiller1.t_chw_supply_c,chiller1,chiller,degC,127.0.0.1,{port},7,30001,int16,,0.1,0,30
chiller1.t_chw_return_c,chiller1,chiller,degC,127.0.0.1,{port},7,30002,int16,,0.1,0,40
chiller1.power_kw,chiller1,chiller,kW,127.0.0.1,{port},7,30003,float32,CDAB,1,0,2000
"""
OPTIONS = ModbusOptions(timeout=2.0, busy_retries=3, busy_delay=0.05)


class BusyUnit(ModbusDeviceContext):
    """A unit that answers busy ``busy`` times (math.inf: always), then its registers."""

    def __init__(self, inner: ModbusDeviceContext, busy: float) -> None:
        super().__init__()
        self.inner, self.busy = inner, busy
        self.requests: list[float] = []  # monotonic time of each read request
        self.busy_replies = 0

    def getValues(self, func_code, address, count=1):  # type: ignore[no-untyped-def]
        self.requests.append(time.monotonic())
        if self.busy > 0:
            self.busy -= 1
            self.busy_replies += 1
            return ExcCodes.DEVICE_BUSY
        return self.inner.getValues(func_code, address, count)


async def _busy_server(busy: float):  # type: ignore[no-untyped-def]
    plain = parse_registry(MAP.format(port=1502), Path("chiller.csv"))
    context, expected = build_context(plain)
    unit = BusyUnit(context[7], busy)
    context[7] = unit
    server, port = await serve(context)
    registry = parse_registry(MAP.format(port=port), Path("chiller.csv"))
    return server, unit, registry, expected


def test_busy_a_few_times_then_the_value_arrives_good() -> None:
    async def run() -> None:
        server, unit, registry, expected = await _busy_server(busy=2)
        state = LiveState(registry)
        device = ModbusDevice(registry.points, OPTIONS)
        try:
            assert len(device.blocks) == 1  # one request per attempt
            assert await asyncio.wait_for(device.poll(state.update), timeout=30)
        finally:
            device.close()
            await server.shutdown()
        values, quality = state.values()
        assert (quality == Quality.GOOD).all()
        for point in registry.points:
            want = expected[point.name]
            if point.data_type == "float32":
                want = float(np.float32(want))
            assert math.isclose(values[point.index], want, rel_tol=0, abs_tol=1e-9), point.name
        assert unit.busy_replies == 2 and len(unit.requests) == 3
        assert device.stats.busy_retries == 2
        assert device.stats.exceptions == 2 and device.stats.requests == 3
        assert device.stats.splits == 0  # busy is not a reason to split the block
        # briefly: each retry waits its step (busy_delay × attempt), no more than a moment
        gaps = np.diff(unit.requests)
        for k, gap in enumerate(gaps):
            assert gap >= OPTIONS.busy_delay * (k + 1) - 0.005, gaps
        assert unit.requests[-1] - unit.requests[0] < 10.0

    asyncio.run(run())


def test_a_unit_that_stays_busy_goes_bad_and_polling_goes_on() -> None:
    interval = 0.3

    async def run() -> None:
        server, unit, registry, _ = await _busy_server(busy=math.inf)
        state = LiveState(registry, interval_s=interval)
        # one poll on its own: the retries are bounded, then the points are bad
        device = ModbusDevice(registry.points, OPTIONS)
        try:
            assert await asyncio.wait_for(device.poll(state.update), timeout=30)
        finally:
            device.close()
        _, quality = state.values()
        assert (quality == Quality.BAD).all()
        assert state.sample("chiller1.power_kw").reason == "exception 6"
        assert state.sample("chiller1.power_kw").value is None
        assert device.stats.busy_retries == OPTIONS.busy_retries
        assert len(unit.requests) == OPTIONS.busy_retries + 1
        assert device.stats.splits == 0
        # under the collector: every poll gives up after its retries, the schedule goes on
        unit.requests.clear()
        collector = Collector(
            registry, state, CollectorOptions(interval_s=interval, modbus=OPTIONS)
        )
        polled = collector.devices[0]
        await collector.start()
        try:
            await until(lambda: polled.stats.polls >= 4, what="four polls of a busy unit")
            assert state.bad.all() and (state.good_ts == 0).all()
            polls, requests = polled.stats.polls, len(unit.requests)
            per_poll = OPTIONS.busy_retries + 1
            assert per_poll * (polls - 1) <= requests <= per_poll * polls
            # the unit finishes whatever kept it busy: the next poll reads it good
            unit.busy = 0
            ready = time.time()
            await until(
                lambda: bool((state.good_ts > ready).all() and not state.bad.any()),
                what="good once no longer busy",
            )
        finally:
            await collector.stop()
            await server.shutdown()

    asyncio.run(run())
