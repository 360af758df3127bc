"""A full spool, dropped samples and a dead database are alarms, never the end of
monitoring (issue 11 items 1 and 2): the path ``twin run`` and ``twin monitor``
share, :class:`SinkFeeder` over a real spool and a real (refused) socket."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from twin.live.alarms import AlarmEngine
from twin.live.metrics import SiteMetrics
from twin.live.state import LiveState
from twin.points.registry import parse_registry
from twin.sinks.cli import sink_text
from twin.sinks.errors import SpoolFullError
from twin.sinks.feeder import SinkFeeder
from twin.sinks.influx import InfluxV1Writer, RetryPolicy
from twin.sinks.record import Record
from twin.sinks.sink import Sink
from twin.sinks.spool import Spool

from .sinkservers import wait_for

TEXT = """point,device,equipment,unit,modbus_host,modbus_port,unit_id,register_type,address,\
data_type,site,hall,role
cdu1.t_supply_c,cdu1,cdu,degC,h,1502,1,input_register,0,float32,s1,hall-1,
meter.facility_kw,meter,site-meter,kW,h,1502,2,input_register,0,float32,s1,,facility_kw
meter.it_kw,meter,site-meter,kW,h,1502,2,input_register,2,float32,s1,,it_input_kw
"""
QUOTA = 256 * 1024


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def live() -> tuple[LiveState, SiteMetrics, AlarmEngine]:
    state = LiveState(parse_registry(TEXT, Path("r.csv")), interval_s=1.0)
    metrics = SiteMetrics(state)
    return state, metrics, AlarmEngine([], state, metrics)


def read(state: LiveState, t: float) -> None:
    index = state.index
    state.update(
        [index["cdu1.t_supply_c"], index["meter.facility_kw"], index["meter.it_kw"]],
        [30.0 + t % 3, 1200.0, 1000.0],
        [True, True, True],
        t,
    )


def fill(spool: Spool) -> int:
    """Append big chunks until the next one does not fit (or starts dropping)."""
    appended = start = 0
    for size in (500, 1):  # then to the last line that fits
        while not spool.dropped:
            numbers = range(start, start + size)
            chunk = [Record("filler", {"device": "f"}, {"v": float(i)}, i) for i in numbers]
            start += size
            try:
                appended += spool.append(chunk)
            except SpoolFullError:
                break
    return appended


def active(alarms: AlarmEngine) -> dict[str, str]:
    return {a.rule.name: a.message for a in alarms.active()}


def test_full_spool_refuses_counts_and_alarms_but_monitoring_goes_on(tmp_path) -> None:
    state, metrics, alarms = live()
    sink = Sink(None, Spool(tmp_path, max_bytes=QUOTA, fsync="normal"))
    feeder = SinkFeeder(state, metrics, alarms, sink, "s1")
    try:
        stored = fill(sink.spool)  # type: ignore[arg-type]
        for t in range(100, 110):  # ticks on a full spool: no exception, each refused
            read(state, t)
            feeder.tick(t + 0.5)
        status = sink.status
        assert status.full and status.refused > 0
        assert sink.spool.count() == stored  # type: ignore[union-attr]  # nothing of them added
        assert "spool-full" in active(alarms)
        assert "samples refused" in active(alarms)["spool-full"]
        assert "SPOOL FULL" in sink_text(status)
        assert metrics.update(110).pue.value is not None  # the live layer kept going
        # the spool drains (a replay, the database back): appends are taken again
        # and the alarm returns to normal
        while sink.spool.pending() > stored // 2:  # type: ignore[union-attr]
            sink.spool.ack(sink.spool.peek(1000))  # type: ignore[arg-type, union-attr]
        before = feeder.spooled
        read(state, 120)
        feeder.tick(120.5)
        assert feeder.spooled > before and not sink.status.full
        assert not any(a.active for a in alarms.alarms.values() if a.rule.name == "spool-full")
    finally:
        sink.close()


def test_drop_oldest_drops_are_counted_and_alarmed(tmp_path) -> None:
    state, metrics, alarms = live()
    sink = Sink(None, Spool(tmp_path, max_bytes=QUOTA, on_full="drop_oldest", fsync="normal"))
    feeder = SinkFeeder(state, metrics, alarms, sink, "s1")
    try:
        fill(sink.spool)  # type: ignore[arg-type]
        dropped = sink.status.dropped
        for t in range(100, 400):  # enough ticks to need room again
            read(state, t)
            feeder.tick(t + 0.5)
            if sink.status.dropped > dropped:
                break
        status = sink.status
        assert status.dropped > dropped and status.refused == 0
        assert "spool-dropping" in active(alarms)
        assert f"dropped {status.dropped}" in sink_text(status)
    finally:
        sink.close()


@pytest.mark.parametrize("policy", ["reject", "drop_oldest"])
def test_database_down_is_an_alarm_with_the_reason(tmp_path, policy) -> None:
    state, metrics, alarms = live()
    writer = InfluxV1Writer(f"http://127.0.0.1:{closed_port()}", "twin")
    sink = Sink(
        writer,
        Spool(tmp_path, max_bytes=QUOTA, on_full=policy, fsync="normal"),
        flush_interval=0.1,
        retry=RetryPolicy(initial_delay=0.1, max_delay=0.2),
    )
    feeder = SinkFeeder(state, metrics, alarms, sink, "s1")
    try:
        read(state, 100)
        feeder.tick(100.5)
        wait_for(lambda: sink.status.state == "retrying", 30, "the sink to retry")
        read(state, 101)
        feeder.tick(101.5)
        assert "sink-down" in active(alarms)
        assert "cannot reach" in active(alarms)["sink-down"]
    finally:
        sink.close(timeout=0)


def test_refused_and_dropped_are_on_the_metrics_page(tmp_path) -> None:
    from prometheus_client import CollectorRegistry
    from prometheus_client.openmetrics.exposition import generate_latest
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    from twin.live.prometheus import TwinCollector

    state, metrics, alarms = live()
    sink = Sink(None, Spool(tmp_path, max_bytes=QUOTA, fsync="normal"))
    feeder = SinkFeeder(state, metrics, alarms, sink, "s1")
    try:
        fill(sink.spool)  # type: ignore[arg-type]
        read(state, 100)
        feeder.tick(100.5)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(TwinCollector(state, "s1", metrics=metrics, alarms=alarms, sink=sink))
        text = generate_latest(registry).decode()
        page = {f.name: f.samples for f in text_string_to_metric_families(text)}
        assert page["twin_sink_refused"][0].value == sink.status.refused > 0
        assert page["twin_sink_dropped"][0].value == 0
    finally:
        sink.close()


def test_spool_dropping_holds_a_minute_after_the_last_drop(tmp_path) -> None:
    """At the quota not every append drops: the alarm must not come and go per tick."""
    from twin.sinks.feeder import DROP_HOLD_S

    state, metrics, alarms = live()
    sink = Sink(None, Spool(tmp_path, max_bytes=QUOTA, on_full="drop_oldest", fsync="normal"))
    feeder = SinkFeeder(state, metrics, alarms, sink, "s1")
    try:
        fill(sink.spool)  # type: ignore[arg-type]
        feeder.sink_alarms(100.0)
        assert "spool-dropping" in active(alarms)
        feeder.sink_alarms(100.0 + DROP_HOLD_S / 2)  # no drop since: still active
        (alarm,) = [a for a in alarms.alarms.values() if a.rule.name == "spool-dropping"]
        assert alarm.active
        feeder.sink_alarms(101.0 + DROP_HOLD_S)
        assert not alarm.active
    finally:
        sink.close()


def test_shutdown_with_the_database_down_is_bounded_and_keeps_the_lines(tmp_path, caplog) -> None:
    """Issue 11 item 6: flush 30 s then close 10 s (~40 s) with the database down."""
    import time

    writer = InfluxV1Writer(f"http://127.0.0.1:{closed_port()}", "twin")
    sink = Sink(writer, Spool(tmp_path, fsync="normal"), flush_interval=0.1)
    records = [Record("m", {"device": "d"}, {"v": float(i)}, i) for i in range(1000)]
    sink.write(records)
    wait_for(lambda: sink.status.state == "retrying", 30, "the sink to retry")
    started = time.monotonic()
    assert not sink.finish(timeout=30)
    sink.close()
    elapsed = time.monotonic() - started
    assert elapsed < 6.0, f"{elapsed:.1f} s"
    assert any(
        "database unreachable" in r.getMessage() and "leaving 1000 lines" in r.getMessage()
        for r in caplog.records
    )
    with Spool(tmp_path) as spool:
        assert spool.count() == 1000  # all there for the next run or twin replay
