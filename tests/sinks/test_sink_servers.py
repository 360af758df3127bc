"""What must hold against real servers: nothing lost, nothing doubled, clear errors.

InfluxDB 1.x (Debian ``influxdb``) is written through the v1 ``/write`` path and read
back with InfluxQL; VictoriaMetrics (Debian ``victoria-metrics``) is written through
the v2 write API with influxdb-client and read back through ``/api/v1/export``.
VictoriaMetrics stores millisecond timestamps and keeps about 12 significant digits,
so the test data uses 1 ms steps per series and values with three decimals; both are
then read back exactly.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from twin.points.quality import Quality
from twin.sinks.errors import SpoolFullError, WriteRejected
from twin.sinks.influx import InfluxV1Writer, InfluxV2Writer, RetryPolicy
from twin.sinks.record import Record, encode_lines
from twin.sinks.sink import Sink
from twin.sinks.spool import Spool

from .sinkservers import InfluxServer, VictoriaServer, python_env, wait_for

HERE = Path(__file__).parent
FAST_RETRY = RetryPolicy(initial_delay=0.2, max_delay=1.0)
DEVICES = 100


def t0_ns() -> int:
    """A start time inside VictoriaMetrics' retention, whole milliseconds."""
    return (int(time.time()) - 6 * 3600) * 1_000_000_000


def make_record(measurement: str, t0: int, index: int) -> Record:
    """Deterministic record ``index``; a few are stale or bad (quality convention)."""
    device = f"d{index % DEVICES:03d}"
    step = index // DEVICES
    time_ns = t0 + step * 1_000_000
    value = ((index * 7919) % 1_000_003) / 1000
    quality = Quality.BAD if index % 97 == 0 else Quality.STALE if index % 89 == 0 else 0
    return Record.from_samples(
        measurement,
        {"site": "sh1", "hall": "h1", "device": device},
        {"power_kw": (value, quality), "t_inlet_c": (20 + (index % 1000) / 100, 0)},
        time_ns,
    )


def expected_rows(records: list[Record]) -> dict[str, list[tuple[int, float | None, float]]]:
    """Per device: (time_ns, power_kw or None, quality), time-ordered."""
    rows: dict[str, list[tuple[int, float | None, float]]] = defaultdict(list)
    for record in records:
        device = dict(record.tags)["device"]
        rows[device].append((record.time_ns, record.fields.get("power_kw"), float(record.quality)))
    return {device: sorted(items) for device, items in rows.items()}


def influx_rows(influx: InfluxServer, measurement: str) -> dict[str, list[tuple]]:
    rows: dict[str, list[tuple]] = defaultdict(list)
    for row in influx.rows(measurement):
        rows[row["device"]].append((row["time"], row["power_kw"], row["quality"]))
    return dict(rows)


def victoria_rows(victoria: VictoriaServer, measurement: str) -> dict[str, list[tuple]]:
    """Per device: (time_ms, power_kw or None, quality), joined on timestamp."""
    power: dict[str, dict[int, float]] = defaultdict(dict)
    rows: dict[str, list[tuple]] = defaultdict(list)
    series = victoria.export(f'{{__name__=~"{measurement}_(power_kw|quality)"}}')
    for item in series:
        if item["metric"]["__name__"] == f"{measurement}_power_kw":
            power[item["metric"]["device"]] = dict(
                zip(item["timestamps"], item["values"], strict=True)
            )
    for item in series:
        if item["metric"]["__name__"] == f"{measurement}_quality":
            device = item["metric"]["device"]
            for stamp, quality in zip(item["timestamps"], item["values"], strict=True):
                rows[device].append((stamp, power[device].get(stamp), quality))
    return dict(rows)


def as_ms(rows: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    return {d: [(t // 1_000_000, *rest) for t, *rest in items] for d, items in rows.items()}


def v1_writer(influx: InfluxServer, **kwargs) -> InfluxV1Writer:
    user, password = kwargs.pop("auth", influx.admin)
    return InfluxV1Writer(
        influx.url,
        kwargs.pop("database", influx.database),
        username=user,
        password=password,
        **kwargs,
    )


def v2_writer(victoria: VictoriaServer, **kwargs) -> InfluxV2Writer:
    return InfluxV2Writer(victoria.url, "twin-org", "twin", kwargs.pop("token", "any"), **kwargs)


def count_in(server: InfluxServer | VictoriaServer, measurement: str) -> int:
    if isinstance(server, InfluxServer):
        result = server.query(f'SELECT count(quality) FROM "{measurement}"', database="twin")
        series = result[0].get("series") if result else None
        return series[0]["values"][0][1] if series else 0
    return server.export_count(f'{{__name__="{measurement}_quality"}}')


def read_back(server: InfluxServer | VictoriaServer, measurement: str) -> dict[str, list[tuple]]:
    if isinstance(server, InfluxServer):
        return influx_rows(server, measurement)
    return victoria_rows(server, measurement)


def wait_count(server, measurement: str, expected: int) -> None:
    """Wait until the server shows at least ``expected`` lines (it may lag a write)."""
    wait_for(
        lambda: count_in(server, measurement) >= expected, 60, f"{expected} lines visible", 0.3
    )


@pytest.fixture(params=["influx-v1", "victoria-v2"])
def target(request, influx, victoria):
    """(server, writer factory) for each wire path."""
    if request.param == "influx-v1":
        return influx, lambda **kw: v1_writer(influx, **kw)
    return victoria, lambda **kw: v2_writer(victoria, **kw)


# -- every sample read back -------------------------------------------------------------


def test_100k_samples_read_back_exactly(target, tmp_path) -> None:
    server, writer = target
    measurement = f"readback_{type(server).__name__.lower()}"
    t0 = t0_ns()
    records = [make_record(measurement, t0, i) for i in range(100_000)]
    with Sink(writer(), Spool(tmp_path / "spool"), batch_size=5000, retry=FAST_RETRY) as sink:
        for start in range(0, len(records), 1000):  # as a collector would, tick by tick
            sink.write(records[start : start + 1000])
        assert sink.flush(timeout=180)
        assert sink.status.sent == 100_000 and sink.status.rejected == 0
        assert sink.spool is not None and sink.spool.count() == 0  # all acknowledged
    wait_count(server, measurement, 100_000)
    expected = expected_rows(records)
    got = read_back(server, measurement)
    if isinstance(server, VictoriaServer):
        expected = as_ms(expected)
    assert sum(map(len, got.values())) == 100_000
    assert got == expected
    # the quality rule reached the database: bad and stale samples carry no value
    assert sum(1 for rows in got.values() for _, value, q in rows if value is None) == sum(
        1 for r in records if r.quality != Quality.GOOD
    )


def test_integers_are_written_as_floats(influx, tmp_path) -> None:
    measurement = "int_to_float"
    record = Record("int_to_float", {"device": "ups1"}, {"power_kw": 512, "count_n": 3}, t0_ns())
    with Sink(v1_writer(influx), Spool(tmp_path)) as sink:
        sink.write([record])
        assert sink.flush(timeout=60)
    assert influx.field_types(measurement) == {
        "power_kw": "float",
        "count_n": "float",
        "quality": "float",
    }
    # so a later fractional reading of the same field is accepted…
    v1_writer(influx).write(f"{measurement},device=ups1 power_kw=512.5 {t0_ns() + 1}".encode())
    # …while an integer really would conflict: the type is enforced by the server
    with pytest.raises(WriteRejected, match="type conflict"):
        v1_writer(influx).write(f"{measurement},device=ups1 power_kw=7i {t0_ns() + 2}".encode())


# -- database stopped for 30 s mid-stream -----------------------------------------------


class Producer(threading.Thread):
    """Feeds a sink at a steady rate, like a collector, until told to stop."""

    def __init__(self, sink: Sink, measurement: str, t0: int, per_tick: int = 50) -> None:
        super().__init__(daemon=True)
        self.sink, self.measurement, self.t0, self.per_tick = sink, measurement, t0, per_tick
        self.records: list[Record] = []
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        index = 0
        try:
            while not self.stop_event.wait(0.05):  # ~1000 lines/s per sink
                chunk = [make_record(self.measurement, self.t0, index + k) for k in range(50)]
                index += len(chunk)
                self.sink.write(chunk)
                self.records.extend(chunk)
        except BaseException as error:  # surfaced by the test
            self.error = error


def test_database_stopped_30s_mid_stream_loses_nothing(influx, victoria, tmp_path) -> None:
    t0 = t0_ns()
    servers = {"influx": influx, "victoria": victoria}
    sinks = {
        "influx": Sink(v1_writer(influx), Spool(tmp_path / "a"), batch_size=2000, retry=FAST_RETRY),
        "victoria": Sink(
            v2_writer(victoria), Spool(tmp_path / "b"), batch_size=2000, retry=FAST_RETRY
        ),
    }
    producers = {name: Producer(sink, f"outage_{name}", t0) for name, sink in sinks.items()}
    try:
        for producer in producers.values():
            producer.start()
        wait_for(lambda: all(s.sent >= 2000 for s in sinks.values()), 60, "first batches sent")
        for server in servers.values():
            server.stop()
        stopped = time.monotonic()
        wait_for(
            lambda: all(s.status.state == "retrying" for s in sinks.values()),
            30,
            "both sinks to notice the outage",
        )
        sent_during = {name: sink.sent for name, sink in sinks.items()}
        time.sleep(max(0.0, 30.0 - (time.monotonic() - stopped)))  # the outage, by design
        assert {name: sink.sent for name, sink in sinks.items()} == sent_during
        assert all(sink.status.pending > 10_000 for sink in sinks.values())  # spooled meanwhile
        for server in servers.values():
            server.start()
        wait_for(
            lambda: all(s.sent > sent_during[n] + 4000 for n, s in sinks.items()),
            120,
            "sending to resume",
        )
    finally:
        for producer in producers.values():
            producer.stop_event.set()
            producer.join()
    for name, sink in sinks.items():
        assert producers[name].error is None
        assert sink.flush(timeout=120)
        assert sink.status.retries > 0 and sink.status.error is None
        sink.close()
    for name, server in servers.items():
        measurement = f"outage_{name}"
        records = producers[name].records
        wait_count(server, measurement, len(records))
        got = read_back(server, measurement)
        expected = expected_rows(records)
        if isinstance(server, VictoriaServer):
            expected = as_ms(expected)
        for device, rows in got.items():
            stamps = [row[0] for row in rows]
            assert len(stamps) == len(set(stamps)), f"{name}: duplicates in {device}"
            assert stamps == sorted(stamps)
        assert got == expected, f"{name}: lost or changed samples"
        # stored = written = spooled: every append acknowledged once, none twice
        assert sum(len(rows) for rows in got.values()) == sinks[name].sent == len(records)


# -- writer killed with SIGKILL mid-stream ----------------------------------------------


class ProgressReader(threading.Thread):
    """Reads a writer child's ``appended N`` lines; ``appended`` is the latest N."""

    def __init__(self, child: subprocess.Popen[str]) -> None:
        super().__init__(daemon=True)
        self.child = child
        self.appended = 0

    def run(self) -> None:
        assert self.child.stdout is not None
        for line in self.child.stdout:
            self.appended = max(self.appended, int(line.split()[1]))


@pytest.mark.parametrize("scenario", ["healthy", "database-down"])
def test_writer_killed_mid_stream_loses_nothing_appended(
    influx, victoria, tmp_path, scenario
) -> None:
    """SIGKILL a real writer process, start it again on the same spool: nothing lost.

    ``healthy``: killed while streaming normally. ``database-down``: both databases
    are stopped first, so the writer is certainly holding unacknowledged batches (one
    of them in its retry loop) when it dies.
    """
    t0 = t0_ns()
    script = str(HERE / "sink_writer_proc.py")
    env = python_env()
    env["INFLUX_USERNAME"], env["INFLUX_PASSWORD"] = influx.admin
    runs = {
        "influx": ("v1", influx.url, influx),
        "victoria": ("v2", victoria.url, victoria),
    }
    tag = scenario.replace("-", "_")
    children = {}
    for name, (api, url, _) in runs.items():
        spool = str(tmp_path / name)
        command = [sys.executable, script, "produce", api, url, spool, f"killed_{tag}_{name}"]
        children[name] = subprocess.Popen(
            [*command, str(t0), "200000"], stdout=subprocess.PIPE, text=True, env=env
        )
    readers = {name: ProgressReader(child) for name, child in children.items()}
    for reader in readers.values():
        reader.start()
    try:
        wait_for(lambda: all(r.appended >= 20_000 for r in readers.values()), 120, "streaming")
        if scenario == "database-down":
            for server in (influx, victoria):
                server.stop()
            mark = {name: reader.appended for name, reader in readers.items()}
            wait_for(
                lambda: all(r.appended >= mark[n] + 5000 for n, r in readers.items()),
                120,
                "appends to go on while the databases are down",
            )
        for child in children.values():
            child.send_signal(signal.SIGKILL)
        for child in children.values():
            child.wait(30)
            assert child.returncode == -signal.SIGKILL
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
                child.wait()
        if scenario == "database-down":
            for server in (influx, victoria):
                if server.process is None:
                    server.start()
    for reader in readers.values():
        reader.join(30)
    # what the children reported before dying is durable (more may have followed)
    appended = {name: reader.appended for name, reader in readers.items()}
    if scenario == "database-down":
        for name in runs:
            with Spool(tmp_path / name) as spool:
                assert spool.count() >= 5000, f"{name}: the kill should leave unsent lines"
    drains = {
        name: subprocess.Popen(
            [sys.executable, script, "drain", api, url, str(tmp_path / name)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name, (api, url, _) in runs.items()
    }
    for name, child in drains.items():
        out, _ = child.communicate(timeout=180)
        assert child.returncode == 0 and out.strip() == "drained 0", f"{name}: {out}"
    from .sink_writer_proc import record  # the child's own generator

    for name, (_, _, server) in runs.items():
        measurement = f"killed_{tag}_{name}"
        wait_count(server, measurement, appended[name])
        if isinstance(server, InfluxServer):
            stamps = {
                d: [row[0] for row in rows] for d, rows in influx_rows(server, measurement).items()
            }
            values = {
                (row["device"], row["time"]): row["power_kw"] for row in server.rows(measurement)
            }
            scale = 1
        else:
            series = server.export(f'{{__name__="{measurement}_power_kw"}}')
            stamps = {s["metric"]["device"]: s["timestamps"] for s in series}
            values = {
                (s["metric"]["device"], t): v
                for s in series
                for t, v in zip(s["timestamps"], s["values"], strict=True)
            }
            scale = 1_000_000
        # stored = spooled: the records 0..M-1, every one exactly, none other. M is
        # what the spool durably took, at least what the child reported before dying.
        spooled = len(values)
        assert spooled >= appended[name]
        for index in range(spooled):
            r = record(measurement, t0, index)
            key = (dict(r.tags)["device"], r.time_ns // scale)
            assert values.get(key) == r.fields["power_kw"], f"{name}: record {index} lost"
        counts = Counter(t for device_stamps in stamps.values() for t in device_stamps)
        duplicates = sum(counts.values()) - len(values)
        # at-least-once: at most the one batch in flight at the kill is sent twice
        # (InfluxDB overwrites identical points, so it never shows any)
        assert 0 <= duplicates <= 5000, f"{name}: {duplicates} duplicates"


# -- clear errors, no endless retry, the spool keeps the data ----------------------------


def assert_rejected_and_kept(sink: Sink, cause: str, words: str) -> WriteRejected:
    with pytest.raises(WriteRejected) as caught:
        sink.flush(timeout=60)
    error = caught.value
    assert error.cause == cause
    assert words in str(error)
    assert sink.retries == 0  # no retry at all
    assert sink.status.state == "stopped"
    wait_for(lambda: sink._thread is not None and not sink._thread.is_alive(), 10, "sender stop")
    assert sink.queue.pending() == 10  # the data is still there
    return error


def ten_records(measurement: str = "errors") -> list[Record]:
    return [Record(measurement, {"device": "x"}, {"v": i}, t0_ns() + i) for i in range(10)]


def test_v1_wrong_password_is_a_clear_401(influx, tmp_path) -> None:
    sink = Sink(v1_writer(influx, auth=("admin", "wrong")), Spool(tmp_path))
    sink.write(ten_records())
    error = assert_rejected_and_kept(sink, "bad-token", "INFLUX_PASSWORD")
    assert error.status == 401 and "wrong" not in str(error)
    sink.close()
    with Spool(tmp_path) as spool:
        assert spool.count() == 10  # still there after closing, for a later replay


def test_v1_user_without_write_permission_is_a_clear_403(influx, tmp_path) -> None:
    with Sink(v1_writer(influx, auth=influx.reader), Spool(tmp_path)) as sink:
        sink.write(ten_records())
        error = assert_rejected_and_kept(sink, "forbidden", "may not write")
        assert error.status == 403


def test_v1_unknown_database_is_a_clear_404(influx, tmp_path) -> None:
    with Sink(v1_writer(influx, database="nosuchdb"), Spool(tmp_path)) as sink:
        sink.write(ten_records())
        error = assert_rejected_and_kept(sink, "not-found", "unknown database")
        assert 'database not found: "nosuchdb"' in error.server_message


def test_v1_unknown_retention_policy_is_not_retried(influx, tmp_path) -> None:
    # InfluxDB 1.x answers this one with a 500; retrying it would never end.
    with Sink(v1_writer(influx, retention_policy="nosuchrp"), Spool(tmp_path)) as sink:
        sink.write(ten_records())
        assert_rejected_and_kept(sink, "not-found", "retention policy")


def test_v1_malformed_line_is_set_aside_and_the_stream_goes_on(influx, tmp_path) -> None:
    measurement = "malformed_v1"
    good = ten_records(measurement)
    with Sink(v1_writer(influx), Spool(tmp_path), batch_size=100, retry=FAST_RETRY) as sink:
        # five good lines and one the server cannot parse, in one batch
        sink.write_lines([*encode_lines(good[:5]), f"{measurement},device=y v="])
        assert sink.flush(timeout=60)  # no retry loop: the batch was set aside
        assert sink.retries == 0 and sink.status.rejected == 6
        rejected = sink.spool.rejected_lines()  # type: ignore[union-attr]
        assert "malformed (400 Bad Request)" in rejected[0][2]
        assert "unable to parse" in rejected[0][2]
        sink.write(good[5:])  # the stream is not blocked behind the bad line
        assert sink.flush(timeout=60)
        assert sink.status.sent == 5
    with Spool(tmp_path) as spool:
        assert spool.rejected_count() == 6  # kept, on disk
    # InfluxDB wrote the good lines of the partial write; the later batch went through
    wait_count(influx, measurement, 10)


def test_v2_bad_token_is_a_clear_401(victoria_auth, tmp_path) -> None:
    sink = Sink(v2_writer(victoria_auth, token="not-the-token"), Spool(tmp_path))
    sink.write(ten_records())
    error = assert_rejected_and_kept(sink, "bad-token", "INFLUX_TOKEN")
    assert error.status == 401 and "not-the-token" not in str(error)
    sink.close()


def test_v2_on_a_server_without_the_v2_api_is_a_clear_404(influx, tmp_path) -> None:
    # InfluxDB 1.6 has no /api/v2/write: the message must say what to use instead.
    with Sink(InfluxV2Writer(influx.url, "org", "bucket", "t"), Spool(tmp_path)) as sink:
        sink.write(ten_records())
        assert_rejected_and_kept(sink, "not-found", "--influx-v1")


def test_token_never_appears_in_logs(victoria_auth, tmp_path, caplog) -> None:
    secret = "s3cr3t-token-value"
    with Sink(v2_writer(victoria_auth, token=secret), Spool(tmp_path)) as sink:
        sink.write(ten_records())
        with pytest.raises(WriteRejected):
            sink.flush(timeout=60)
        assert secret not in repr(sink.writer) and secret not in str(sink.status)
    assert caplog.records and all(secret not in r.getMessage() for r in caplog.records)


def test_replay_of_the_embedded_store(influx, tmp_path, capsys, monkeypatch) -> None:
    import argparse

    from twin.sinks.cli import register_replay

    measurement = "replayed"
    t0 = t0_ns()
    records = [make_record(measurement, t0, i) for i in range(12_000)]
    store = tmp_path / "store"
    with Sink(None, Spool(store)) as sink:  # `twin run` with no database
        sink.write(records)
    parser = argparse.ArgumentParser(prog="twin")
    register_replay(parser.add_subparsers(dest="command"))
    monkeypatch.setenv("INFLUX_USERNAME", influx.admin[0])
    monkeypatch.setenv("INFLUX_PASSWORD", influx.admin[1])
    args = parser.parse_args(["replay", str(store), "--influx-v1", influx.url, "--db", "twin"])
    assert args.handler(args) == 0
    err = capsys.readouterr().err
    assert "12000/12000 lines (100%)" in err and "sent 12000 lines" in err
    with Spool(store) as spool:
        assert spool.count() == 0
    wait_count(influx, measurement, len(records))
    assert influx_rows(influx, measurement) == expected_rows(records)


# -- the spool full during an outage: counted exactly, nothing silent (issue 11) ----------


@pytest.mark.parametrize("policy", ["reject", "drop_oldest"])
def test_spool_full_during_an_outage_counts_exactly(target, tmp_path, policy) -> None:
    """The database stopped, a 256 KiB spool fills; the database comes back.

    ``reject``: stored = written = spooled, and what was refused is counted (collected
    = spooled + refused). ``drop_oldest``: stored + dropped = collected, and what is
    stored is exactly the newest records (a batch the sender already holds is never
    dropped, so a drop is never also stored).
    """
    server, make_writer = target
    measurement = f"full_{policy}_{'influx' if isinstance(server, InfluxServer) else 'vm'}"
    t0 = t0_ns()
    spool = Spool(tmp_path, max_bytes=256 * 1024, on_full=policy, fsync="normal")
    sink = Sink(make_writer(), spool, batch_size=1000, flush_interval=0.2, retry=FAST_RETRY)
    collected: list[Record] = []
    spooled: list[Record] = []
    server.stop()
    try:
        wait_for(lambda: sink.write([make_record(measurement, t0, 0)]), 5, "first write")
        collected.append(make_record(measurement, t0, 0))
        spooled.append(collected[0])
        wait_for(lambda: sink.status.state == "retrying", 30, "the sink to notice the outage")
        index, after_full = 1, 0
        while after_full < 20:  # write on well past the quota, like a collector
            chunk = [make_record(measurement, t0, index + k) for k in range(50)]
            index += len(chunk)
            collected.extend(chunk)
            try:
                sink.write(chunk)
                spooled.extend(chunk)
            except SpoolFullError:
                pass
            if sink.status.full or sink.status.dropped:
                after_full += 1
            assert index < 200_000, "the quota was never reached"
        assert sink.sent == 0
    finally:
        server.start()
    assert sink.flush(timeout=120)
    status = sink.status
    sink.close()
    wait_count(server, measurement, status.sent)
    stored = count_in(server, measurement)
    got = read_back(server, measurement)
    if policy == "reject":
        assert status.refused > 0 and status.dropped == 0
        assert stored == status.sent == len(spooled)
        assert len(collected) == len(spooled) + status.refused
        expected = expected_rows(spooled)
        if isinstance(server, VictoriaServer):
            expected = as_ms(expected)
        assert got == expected
    else:
        assert status.dropped > 0 and status.refused == 0
        assert stored + status.dropped == len(collected) == len(spooled)
        assert stored == status.sent
        # every stored row is one collected, none twice (the batch the sender held
        # through the outage was not dropped, so nothing is both dropped and stored)
        everything = expected_rows(collected)
        if isinstance(server, VictoriaServer):
            everything = as_ms(everything)
        for device, rows in got.items():
            assert len(rows) == len(set(rows))
            assert set(rows) <= set(everything[device])
