"""The per-device table behind device_records and SinkFeeder gives exactly the records
that building them point by point gives, on a real site with bad, stale, unread and
non-finite points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.live.state import LiveState
from twin.points.quality import Quality as PointQuality
from twin.points.registry import parse_registry
from twin.sinks.feeder import SinkFeeder, device_records, device_records_point_by_point
from twin.sinks.record import LineEncoder, Record

reference_records = device_records_point_by_point


def assert_same(got: list[Record], want: list[Record]) -> None:
    assert got == want  # measurement, tags, fields, time, quality; in device order
    # and the same text on the wire (field order included)
    assert LineEncoder().encode_many(got) == LineEncoder().encode_many(want)


@pytest.fixture(scope="module")
def site_state() -> tuple[LiveState, float]:
    from twin.runtime import frozen_source

    source = frozen_source("aidc-10mw", steps=5)
    return source.state, source.clock.now


def degrade(state: LiveState, now: float, rng: np.random.Generator) -> None:
    """Some points bad, some stale, some never read, some 'good' but not finite."""
    n = len(state.points)
    picks = rng.permutation(n)
    bad, stale, unread, nonfinite = np.array_split(picks[: n // 5], 4)
    state.update(bad, np.zeros(len(bad)), np.zeros(len(bad), bool), now, "timeout")
    state.good_ts[stale] = now - 60.0
    state.good_ts[unread] = 0.0
    state.bad_ts[unread] = 0.0
    state.bad[unread] = False
    values = rng.choice([np.nan, np.inf, -np.inf], len(nonfinite))
    state.update(nonfinite, values, np.ones(len(nonfinite), bool), now)
    # one whole device never read: its record takes the time of the call
    first = state.points[0].device
    whole = [p.index for p in state.points if p.device == first]
    state.good_ts[whole] = 0.0
    state.bad_ts[whole] = 0.0
    state.bad[whole] = False


def test_device_records_match_the_point_by_point_construction(site_state) -> None:
    state, now = site_state
    assert_same(device_records(state, now + 0.5), reference_records(state, now + 0.5))
    degrade(state, now + 1, np.random.default_rng(1))
    for at in (now + 1.5, now + 30.0):  # the second: everything stale by then
        want = reference_records(state, at)
        assert {r.quality for r in want} >= {PointQuality.GOOD, PointQuality.BAD} or at > now + 2
        assert_same(device_records(state, at), want)


class Capture:
    def __init__(self) -> None:
        self.batches: list[list[Record]] = []

    def write(self, records: list[Record]) -> int:
        self.batches.append(list(records))
        return len(records)


class NoMetrics:
    def update(self, now: float | None = None):
        from twin.live.metrics import SiteMetrics

        return SiteMetrics(self.state).update(now)

    def __init__(self, state: LiveState) -> None:
        self.state = state


def devices_of(batch: list[Record]) -> list[Record]:
    """A batch without its site records (which come last)."""
    n = sum(r.measurement == "site" for r in batch)
    assert n and all(r.measurement == "site" for r in batch[-n:])
    return batch[:-n]


def degraded_devices(state: LiveState, at: float) -> set[str]:
    """Devices with a point not good at ``at`` (stale, bad, never read)."""
    quality = state.qualities(at)
    return {p.device for p in state.points if quality[p.index] != PointQuality.GOOD}


def expected(state: LiveState, at: float, fresh: set[str], stale: set[str]) -> list[Record]:
    """The fresh devices' records as built point by point; the stale ones stamped ``at``."""
    out = []
    for r in reference_records(state, at):
        device = dict(r.tags)["device"]
        if device in fresh:
            out.append(r)
        elif device in stale:
            out.append(Record(r.measurement, r.tags, dict(r.fields), int(at * 1e9), r.quality))
    return out


def test_feeder_sends_exactly_the_fresh_devices_and_stale_records(site_state) -> None:
    state, now = site_state
    rng = np.random.default_rng(2)
    sink = Capture()
    feeder = SinkFeeder(state, NoMetrics(state), None, sink, "site-a")
    t = float(np.floor(now)) + 2  # whole seconds: t + 0.5 is in t's interval slot
    assert (state.interval == 1.0).all()
    feeder.tick(t)
    # first tick: every device with any reading at all, and a stale record (stamped
    # now) of every device not good with none
    read = {p.device for p in state.points if state.good_ts[p.index] or state.bad_ts[p.index]}
    stale = degraded_devices(state, t) - read
    assert_same(devices_of(sink.batches[-1]), expected(state, t, read, stale))
    assert sink.batches[-1][-1].measurement == "site"
    # nothing new, same interval slot: no second stale record of a device, only of
    # those gone stale since (their stale time passed) and the site record
    feeder.tick(t + 0.5)
    assert stale, "the fixture has devices never read"
    newly = degraded_devices(state, t + 0.5) - stale
    assert_same(devices_of(sink.batches[-1]), expected(state, t + 0.5, set(), newly))
    assert sink.batches[-1][-1].measurement == "site"
    # a few points of a few devices read again, good and bad: just those devices,
    # and (next slot) the stale records of the others not good
    some = rng.choice(len(state.points), 40, replace=False)
    good = rng.random(40) > 0.3
    state.update(some, rng.normal(50, 10, 40), good, t + 1)
    feeder.tick(t + 1.2)
    fresh = {state.points[i].device for i in some}
    stale = degraded_devices(state, t + 1.2) - fresh
    want = expected(state, t + 1.2, fresh, stale)
    assert len(want) == len(fresh) + len(stale)
    assert_same(devices_of(sink.batches[-1]), want)


REGISTRY = """point,device,equipment,unit,modbus_host,modbus_port,unit_id,register_type,address,\
data_type,site,hall,role
cdu1.a.b,cdu1,cdu,degC,h,1502,1,input_register,0,float32,s1,hall-1,
cdu1.a_b,cdu1,cdu,degC,h,1502,1,input_register,2,float32,s1,hall-1,
cdu1.flow_lpm,cdu1,cdu,lpm,h,1502,1,input_register,4,float32,s1,hall-1,
other.x,cdu1,cdu,lpm,h,1502,1,input_register,6,float32,s1,hall-1,
meter.facility_kw,meter,site-meter,kW,h,1502,2,input_register,0,float32,s1,,facility_kw
"""


def test_same_field_name_twice_keeps_the_later_point() -> None:
    state = LiveState(parse_registry(REGISTRY, Path("r.csv")), interval_s=1.0)
    index = state.index
    state.update(
        [index["cdu1.a.b"], index["cdu1.a_b"], index["other.x"]], [1.0, 2.0, 3.0], [True] * 3, 10
    )
    state.update([index["cdu1.flow_lpm"]], [0.0], [False], 10.5)
    for at in (10.6, 20.0):
        assert_same(device_records(state, at), reference_records(state, at))
    (cdu, meter) = device_records(state, 10.6)
    assert dict(cdu.fields) == {"a_b": 2.0, "other_x": 3.0}
    assert cdu.time_ns == 10_500_000_000 and meter.time_ns == 10_600_000_000
