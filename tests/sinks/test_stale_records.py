"""An offline device shows in InfluxDB as stale records, not as a silent gap (issue 11 item 4).

The plant-room site is served on a loopback Modbus TCP gateway and read by the
collector every second; the sink feeder ticks every second into a real influxd
(InfluxDB 1.x), as ``twin run`` does. One unit goes offline (the device fault: it
goes silent) for a while and comes back. Read back from the database: records of
that device with ``quality > 0`` for as long as it was out, about one per poll
interval, none with a value in it, and its earlier good records untouched.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np

from twin.collect.modbus import ModbusOptions
from twin.collect.scheduler import Collector, CollectorOptions
from twin.devices.faults import DeviceFault
from twin.devices.runner import Options
from twin.live.metrics import SiteMetrics
from twin.live.state import LiveState
from twin.points.quality import Quality
from twin.points.registry import parse_registry
from twin.sinks.feeder import SinkFeeder
from twin.sinks.influx import InfluxV1Writer
from twin.sinks.sink import Sink

from ..collect.collectsite import registry_csv, until
from ..devices.simthread import SimThread

DATABASE = "twin_stale"
DEVICE = "crac1"
INTERVAL = 1.0
STALE_AFTER = 2.0  # poll intervals
OUTAGE_S = 10.0  # stale records written for this long (after the stale time)


def _rows(influx, statement: str) -> list[dict]:  # type: ignore[no-untyped-def]
    rows = []
    for result in influx.query(statement, database=DATABASE):
        for series in result.get("series", []):
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                row["_measurement"] = series["name"]
                rows.append(row)
    return rows


def test_an_offline_device_is_stored_as_stale_records(influx, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    influx.query(f'CREATE DATABASE "{DATABASE}"')
    options = Options(modbus_port=0, opcua_port=None, state_dir=tmp_path / "state")
    with SimThread("plant-room", options) as sim:
        sim.step()
        registry = parse_registry(registry_csv(sim), Path("<plant-room>"))
        writer = InfluxV1Writer(
            influx.url, DATABASE, username=influx.admin[0], password=influx.admin[1]
        )
        sink = Sink(writer, flush_interval=0.5)
        state = LiveState(registry, interval_s=INTERVAL, stale_after=STALE_AFTER)
        feeder = SinkFeeder(state, SiteMetrics(state), None, sink, "plant-room")
        points = np.array([p.index for p in registry.points if p.device == DEVICE])
        marks: dict[str, float] = {}

        async def run() -> None:
            collector = Collector(
                registry,
                state,
                CollectorOptions(interval_s=INTERVAL, modbus=ModbusOptions(timeout=1.0)),
            )
            await collector.start()

            async def ticking() -> None:
                while True:
                    feeder.tick()
                    await asyncio.sleep(INTERVAL)

            ticker = None
            try:
                # The feeder starts once every point answered, as in twin run.
                await until(lambda: bool((state.good_ts > 0).all()), what="every point read")
                ticker = asyncio.create_task(ticking())
                first = time.time()
                await until(lambda: time.time() > first + 3 * INTERVAL, what="3 good ticks")
                offline = DeviceFault(device=DEVICE, kind="offline")
                sim.run(lambda: sim.sim.inject(offline))
                marks["offline"] = time.time()
                await until(
                    lambda: bool((state.qualities()[points] == Quality.STALE).all()),
                    timeout=30,
                    what=f"{DEVICE} stale",
                )
                marks["stale"] = time.time()
                await until(
                    lambda: time.time() > marks["stale"] + OUTAGE_S, timeout=60, what="outage"
                )
                sim.run(lambda: sim.sim.faults.clear(DEVICE))
                marks["back"] = time.time()
                await until(
                    lambda: bool((state.good_ts[points] > marks["back"]).all()),
                    timeout=60,
                    what=f"{DEVICE} read again",
                )
                marks["good"] = float(state.good_ts[points].min())
                again = time.time()
                await until(lambda: time.time() > again + 2 * INTERVAL, what="2 more ticks")
            finally:
                if ticker is not None:
                    ticker.cancel()
                    await asyncio.gather(ticker, return_exceptions=True)
                await collector.stop()

        try:
            asyncio.run(run())
            assert sink.flush(timeout=60)
        finally:
            sink.close()

    ns = {k: int(v * 1e9) for k, v in marks.items()}
    degraded = _rows(influx, f'SELECT * FROM /.*/ WHERE "device" = \'{DEVICE}\' AND "quality" > 0')
    assert degraded, "no record with quality > 0 for the offline device"
    assert {r["_measurement"] for r in degraded} == {"crah"}
    times = [r["time"] for r in degraded]
    # Written while it was out (from its stale time until it answered again), stale.
    assert all(ns["offline"] < t < ns["good"] for t in times), (ns, times)
    assert {r["quality"] for r in degraded} == {float(Quality.STALE)}
    # No value faked: a stale record holds no field but its quality.
    keys = {row["fieldKey"] for row in _rows(influx, 'SHOW FIELD KEYS FROM "crah"')}
    assert {"t_supply_c", "quality"} <= keys
    values = {k for r in degraded for k in keys - {"quality"} if r[k] is not None}
    assert values == set(), values
    # Bounded: about one per poll interval, never more than one per interval slot.
    span_s = (ns["back"] - ns["stale"]) / 1e9
    assert len(times) == len(set(times))
    assert len(times) <= (ns["good"] - ns["offline"]) / 1e9 / INTERVAL + 1, (len(times), span_s)
    assert len(times) >= span_s / INTERVAL - 3, (len(times), span_s)
    slots = [int(t / 1e9 // INTERVAL) for t in times]
    assert len(slots) == len(set(slots)), slots
    # The device's good records before and after are intact (quality 0, with values);
    # the other devices show no outage at all.
    good = _rows(influx, f'SELECT * FROM "crah" WHERE "device" = \'{DEVICE}\' AND quality = 0')
    assert any(r["time"] < ns["offline"] for r in good)
    assert any(r["time"] >= ns["good"] for r in good)
    assert all(r["t_supply_c"] is not None for r in good)
    others = _rows(
        influx,
        f'SELECT * FROM /.*/ WHERE "device" =~ /./ AND "device" != \'{DEVICE}\' AND quality > 0',
    )
    assert others == [], others[:3]
    assert feeder.stale_records == len(times)
