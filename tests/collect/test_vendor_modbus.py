"""The collector against Modbus servers that are not ours, built from the vendor-style map.

The servers are pymodbus' stock datastores filled with pymodbus' own converters
(:mod:`vendorserver`), so nothing on the serving side shares code with the collector.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from twin.collect.modbus import ModbusOptions
from twin.collect.scheduler import Collector, CollectorOptions
from twin.live.metrics import SiteMetrics
from twin.live.state import LiveState
from twin.points.quality import Quality
from twin.points.registry import parse_registry

from .collectsite import until
from .vendorserver import VENDOR_MAP, build_context, close, serve, with_ports


def test_vendor_map_values_split_around_a_missing_register() -> None:
    async def run() -> None:
        plain = parse_registry(VENDOR_MAP.read_text(), VENDOR_MAP)
        context, expected = build_context(plain, missing={"crac1.humidity_pct"})
        server, port = await serve(context)
        registry = parse_registry(
            with_ports(VENDOR_MAP.read_text(), {u: port for u in range(1, 6)}), VENDOR_MAP
        )
        state = LiveState(registry, interval_s=0.3)
        collector = Collector(registry, state, CollectorOptions(interval_s=0.3))
        await collector.start()
        try:
            missing = state.index["crac1.humidity_pct"]
            others = np.array([i for i in range(len(registry)) if i != missing])
            await until(
                lambda: bool((state.good_ts[others] > 0).all() and state.bad[missing]),
                what="every implemented point good, the missing one bad",
            )
        finally:
            await collector.stop()
            await server.shutdown()
        values, quality = state.values()
        for point in registry.points:
            if point.name == "crac1.humidity_pct":
                assert quality[point.index] == Quality.BAD
                assert np.isnan(values[point.index])
                assert "exception 2" in state.sample(point.name).reason
                continue
            assert quality[point.index] == Quality.GOOD, point.name
            assert close(values[point.index], expected[point.name], point), (
                point.name,
                values[point.index],
                expected[point.name],
            )
        crac = collector.device("crac1")
        assert crac.stats.splits >= 1  # the 5-register block was split around register 3
        # the neighbours of the missing register stayed good
        for name in ("crac1.fan_pct", "crac1.fan_power_kw"):
            assert state.sample(name).quality == Quality.GOOD
        snapshot = SiteMetrics(state).update()
        assert snapshot.category.startswith("PUE3")
        # The served values are arbitrary points in each range: the mains meter reads
        # below the IT meter, which is a metering fault, never a PUE below 1.
        assert expected["mains.power_kw"] < expected["it.power_kw"]
        assert snapshot.pue_instant.value is None and snapshot.pue_instant.quality == Quality.BAD
        assert "below IT" in snapshot.pue_instant.reason
        ups = snapshot.systems["room-1-ups"]
        assert ups["capacity_kw"] == 200.0  # the nameplate from the registry's rating
        runtime = snapshot.battery_runtime_min["ups1"].value
        soc, load = expected["ups1.battery_soc_pct"], expected["ups1.output_kw"]
        assert abs(runtime - soc / 100 * 60.0 / load * 60.0) < 1e-6

    asyncio.run(run())


def test_dead_device_goes_stale_backs_off_and_recovers_without_slowing_the_others() -> None:
    interval = 0.5
    options = ModbusOptions(timeout=0.5, backoff_min=0.2, backoff_max=1.6, jitter=0.2)

    async def run() -> None:
        plain = parse_registry(VENDOR_MAP.read_text(), VENDOR_MAP)
        context, _ = build_context(plain)
        server_a, port_a = await serve(context)
        server_b, port_b = await serve(context)  # the one that dies: it serves crac1 only
        ports = {1: port_a, 2: port_a, 3: port_a, 4: port_b, 5: port_a}
        registry = parse_registry(with_ports(VENDOR_MAP.read_text(), ports), VENDOR_MAP)
        state = LiveState(registry, interval_s=interval, stale_after=2.0)
        collector = Collector(
            registry, state, CollectorOptions(interval_s=interval, modbus=options)
        )
        crac1 = np.array([p.index for p in registry.points if p.device == "crac1"])
        await collector.start()
        accepts: list[float] = []
        listener = None
        try:
            await until(lambda: bool((state.good_ts > 0).all()), what="all points good")
            # Kill the device's server. While it is down, its port accepts and drops
            # connections (a gateway whose device is gone), so every attempt is counted.
            await server_b.shutdown()
            killed = time.time()

            async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                accepts.append(time.monotonic())
                writer.close()

            listener = await asyncio.start_server(refuse, "127.0.0.1", port_b)
            down_from = time.monotonic()
            await until(lambda: time.time() > killed + 2 * interval + 0.05, what="2 intervals")
            q = state.qualities(killed + 2 * interval + 0.01)
            assert (q[crac1] == Quality.STALE).all()  # stale within 2 intervals
            await until(lambda: len(accepts) >= 4, timeout=30, what="4 reconnection attempts")
            down_to = time.monotonic()
            listener.close()
            await listener.wait_closed()
            listener = None
            server_b, _ = await serve(context, port_b)
            restarted = time.time()
            await until(
                lambda: bool((state.good_ts[crac1] > restarted).all()),
                timeout=30,
                what="crac1 good again",
            )
        finally:
            if listener is not None:
                listener.close()
            await collector.stop()
            await server_a.shutdown()
            await server_b.shutdown()
        # One attempt per backoff step: each wait at least the step's delay less its jitter.
        gaps = np.diff(accepts[:4])
        for k, gap in enumerate(gaps):
            step = options.backoff_min * 2 ** (k + 1)
            assert gap >= step * (1 - options.jitter) - 0.02, (
                k,
                gaps,
                np.array(accepts) - down_from,
                np.array(collector.device("crac1").stats.connect_times) - down_from,
            )
        device = collector.device("crac1")
        attempts = [t for t in device.stats.connect_times if down_from <= t <= down_to]
        assert len(attempts) <= len([t for t in accepts if t <= down_to]) + 1
        assert device.stats.reconnects >= 1
        # The other devices kept their timing through the outage.
        for name in ("mains", "ups1", "it", "crac2"):
            starts = np.array(collector.device(name).stats.poll_starts)
            during = starts[(starts >= down_from - interval) & (starts <= down_to + interval)]
            assert len(during) >= 4
            assert np.diff(during).max() < interval + 0.3, (name, np.diff(during))

    asyncio.run(run())
