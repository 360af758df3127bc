"""Live state and metrics as :class:`twin.sinks.record.Record` objects for the sinks.

One record per device: measurement = equipment class (``ups``, ``cdu``, ``rack``…),
tags ``site``/``hall``/``device`` (low cardinality), one float field per point named
after the point within its device (``t_supply_c``; bits ``status_supply_high``), and
the sink's quality rule: only good values become fields; the record's ``quality`` is
the worst of its points. A device with no new reading and points stale or bad makes
a *stale record* (its quality, no faked value, the tick's time) about once per poll
interval: see :class:`SinkFeeder` and ``SCHEMA.md``. Site metrics make ``site``
records, one per metric with its own quality (:func:`site_records`).
"""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from collections.abc import Callable
from itertools import compress

import numpy as np

from twin.live.metrics import Snapshot, Value
from twin.live.state import LiveState
from twin.points.quality import Quality
from twin.sinks.errors import SpoolFullError
from twin.sinks.record import Record

log = logging.getLogger(__name__)


class DeviceTable:
    """What never changes between ticks, worked out once per state: per device its
    measurement, tags, field names, and the points behind them as index arrays.

    Devices come in the order of their first point; a device's measurement and tags
    are those of its first point; a field is named after the point within its device
    (``cdu1.t_supply_c`` -> ``t_supply_c``, dots as underscores), in the order of the
    points, and if two points give the same name the later one's sample is the
    field's (as a dict built point by point would have it).
    """

    def __init__(self, state: LiveState) -> None:
        self.points = state.points
        devices: dict[str, tuple[str, dict[str, str], dict[str, int], list[int]]] = {}
        for point in state.points:
            entry = devices.get(point.device)
            if entry is None:
                tags = {"device": point.device}
                if point.site:
                    tags["site"] = point.site
                if point.hall:
                    tags["hall"] = point.hall
                entry = devices[point.device] = (point.equipment, tags, {}, [])
            prefix = point.device + "."
            field = point.name[len(prefix) :] if point.name.startswith(prefix) else point.name
            entry[2][field.replace(".", "_")] = point.index
            entry[3].append(point.index)
        self.devices = list(devices)
        self.measurements: list[str] = []
        self.tags: list[tuple[tuple[str, str], ...]] = []
        names: list[str] = []
        field_points: list[int] = []
        field_counts: list[int] = []
        all_points: list[int] = []
        point_counts: list[int] = []
        for measurement, tags, fields, indices in devices.values():
            # One record with every name checks (once) what every tick relies on.
            probe = Record(measurement, tags, dict.fromkeys(fields, 0.0), 0)
            self.measurements.append(probe.measurement)
            self.tags.append(probe.tags)
            names.extend(fields)
            field_points.extend(fields.values())
            field_counts.append(len(fields))
            all_points.extend(indices)
            point_counts.append(len(indices))
        self.names = names
        self.field_points = np.array(field_points, dtype=np.int64)
        self.field_counts = np.array(field_counts, dtype=np.int64)
        self.field_starts = np.concatenate(([0], np.cumsum(field_counts)[:-1])).astype(np.int64)
        self.all_points = np.array(all_points, dtype=np.int64)
        self.point_starts = np.concatenate(([0], np.cumsum(point_counts)[:-1])).astype(np.int64)
        #: per device its shortest poll interval [s]: the pace of its stale records
        self.intervals = (
            np.minimum.reduceat(state.interval[self.all_points], self.point_starts)
            if self.devices
            else np.zeros(0)
        )

    def records(
        self,
        state: LiveState,
        now: float,
        newest: np.ndarray | None = None,
        devices: np.ndarray | None = None,
        at_now: np.ndarray | None = None,
        qualities: np.ndarray | None = None,
    ) -> list[Record]:
        """Records of ``devices`` (a boolean mask over :attr:`devices`; all if None).

        ``newest`` is ``max(good_ts, bad_ts)`` per point, and ``qualities`` the
        points' quality at ``now``, if the caller has them. A device in ``at_now`` (a
        mask like ``devices``) is stamped ``now`` instead of its newest sample time:
        a stale record, which has no sample of its own (and must not land on the
        time of the last good one, where InfluxDB would merge it into that point).
        """
        if not self.devices:
            return []
        if newest is None:
            newest = np.maximum(state.good_ts, state.bad_ts)
        # The record's time: the newest sample of any of the device's points.
        times = np.maximum.reduceat(newest[self.all_points], self.point_starts)
        if at_now is not None:
            times = np.where(at_now, now, times)
        if qualities is None:
            qualities = state.qualities(now)
        quality = qualities[self.field_points]
        values = state.value[self.field_points]
        good = quality == Quality.GOOD
        finite = np.isfinite(values)
        # A "good" value that is not a finite number is bad (Record.from_samples' rule).
        quality = np.where(good & ~finite, int(Quality.BAD), quality)
        good &= finite
        worst = np.maximum.reduceat(quality, self.field_starts)
        goods = np.add.reduceat(good.astype(np.int64), self.field_starts)
        names = self.names
        if devices is not None:
            chosen = np.flatnonzero(devices)
            keep = np.repeat(devices, self.field_counts)
            good = good[keep]
            values = values[keep]
            names = list(compress(names, keep.tolist()))
        else:
            chosen = np.arange(len(self.devices))
        # Only good samples become fields: (name, value) pairs of every chosen device
        # in order, then each device takes its count of them.
        pairs = list(compress(zip(names, values.tolist(), strict=True), good.tolist()))
        make = Record._trusted
        measurements, tags = self.measurements, self.tags
        qualities = _QUALITIES
        records = []
        start = 0
        for device, stamp, count, q in zip(
            chosen.tolist(),
            times[chosen].tolist(),
            goods[chosen].tolist(),
            worst[chosen].tolist(),
            strict=True,
        ):
            fields = dict(pairs[start : start + count])
            start += count
            records.append(
                make(
                    measurements[device],
                    tags[device],
                    fields,
                    int((stamp or now) * 1e9),
                    qualities[q],
                )
            )
        return records


_QUALITIES = {int(q): q for q in Quality}
_TABLES: weakref.WeakKeyDictionary[LiveState, DeviceTable] = weakref.WeakKeyDictionary()


def device_table(state: LiveState) -> DeviceTable:
    """The state's :class:`DeviceTable`, built on first use."""
    table = _TABLES.get(state)
    if table is None or table.points is not state.points:
        table = _TABLES[state] = DeviceTable(state)
    return table


def device_records(state: LiveState, now: float | None = None) -> list[Record]:
    """One record per device with every point's latest value and quality."""
    now = time.time() if now is None else now
    return device_table(state).records(state, now)


def device_records_point_by_point(state: LiveState, now: float) -> list[Record]:
    """What :func:`device_records` returns, built the straightforward way: every point,
    one at a time. Kept as its definition: the fast path's test compares against it
    and ``bench/feeder.py`` measures against it. Not for production use (slow).
    """
    values, quality = state.values(now)
    grouped: dict[str, tuple[dict, dict, str, float]] = {}
    for point in state.points:
        tags, samples, measurement, ts = grouped.get(point.device, ({}, {}, "", 0.0))
        if not tags:
            tags = {"device": point.device}
            if point.site:
                tags["site"] = point.site
            if point.hall:
                tags["hall"] = point.hall
            measurement = point.equipment
        field = (
            point.name[len(point.device) + 1 :]
            if point.name.startswith(point.device + ".")
            else point.name
        )
        q = int(quality[point.index])
        v = float(values[point.index])
        samples[field.replace(".", "_")] = (v if q == Quality.GOOD else None, q)
        ts = max(ts, float(state.good_ts[point.index]), float(state.bad_ts[point.index]))
        grouped[point.device] = (tags, samples, measurement, ts)
    return [
        Record.from_samples(measurement, tags, samples, int((ts or now) * 1e9))
        for tags, samples, measurement, ts in grouped.values()
    ]


#: the tag that tells a site metric's series apart (its value is the field's name)
METRIC_TAG = "metric"


def site_fields(snapshot: Snapshot) -> dict[str, Value]:
    """The site metrics stored, by field name (the unit in the name)."""
    fields = {
        "pue": snapshot.pue,
        "facility_power_kw": snapshot.facility_kw,
        "it_power_kw": snapshot.it_kw,
        "ppue_cooling": snapshot.ppue_cooling,
        "ppue_power": snapshot.ppue_power,
        "wue_l_per_kwh": snapshot.wue_l_per_kwh,
        "cue_kg_per_kwh": snapshot.cue_kg_per_kwh,
    }
    for name, value in snapshot.pue_energy.items():
        fields[f"pue_{name}"] = value
    return fields


def site_records(snapshot: Snapshot, site: str) -> list[Record]:
    """The site's metrics as ``site`` records: one per metric, each with its own quality.

    Each metric is its own series (tag ``metric`` = the field's name) with its own
    ``quality``: the metrics have different inputs and windows (the 24 h PUE is not
    good for a day after start, WUE needs a water meter), and one record for all
    made every metric as bad as the worst, so ``SELECT pue FROM site WHERE
    quality = 0`` found nothing. A metric that is not good has no field, only its
    quality (the sink's rule).
    """
    stamp = int(snapshot.ts * 1e9)
    records = [
        Record.from_samples(
            "site", {"site": site, METRIC_TAG: name}, {name: (v.value, int(v.quality))}, stamp
        )
        for name, v in site_fields(snapshot).items()
    ]
    # Where IT energy is metered (ISO/IEC 30134-2 category 1-3): stored so that a PUE
    # computed later from the history (twin report --from) can state its category.
    if snapshot.category.startswith("PUE"):
        category = {"pue_category": (float(snapshot.category[3]), 0)}
        tags = {"site": site, METRIC_TAG: "pue_category"}
        records.append(Record.from_samples("site", tags, category, stamp))
    return records


DROP_HOLD_S = 60.0  # [s] spool-dropping stays active this long after the last drop


class SinkFeeder:
    """Once per tick: update metrics, evaluate alarms, and send what is new to a sink.

    Each device with a reading newer than the last tick becomes one record (its
    latest sample time), plus the ``site`` records of the metrics: a sample is
    never written twice. A device with no new reading whose points are stale or
    bad (offline, timed out, never answered) becomes a *stale record* instead: its
    ``quality`` (1 or 2), no value for a point that is not good, stamped with the
    tick's time, at most once per poll-interval slot of the clock (the device's
    shortest interval), so the store shows the outage as it lasts, never a
    silent gap, and at no more than a healthy device's rate (see ``SCHEMA.md``).
    Used by ``twin run`` and ``twin monitor``.
    """

    def __init__(  # type: ignore[no-untyped-def]
        self, state: LiveState, metrics, alarms, sink, site: str, collector: str | None = None
    ) -> None:
        self.state = state
        self.metrics = metrics
        self.alarms = alarms
        self.sink = sink
        self.site = site
        self.spooled = 0
        self._dropped = 0  # the spool counts drops from this process's start too
        self._dropped_at = -np.inf
        #: a :class:`twin.sinks.notify.Notifier`, ticked after each evaluation (--notify)
        self.notifier = None
        #: conditions other parts feed the alarm engine each tick, after its own
        #: evaluation and before the notifier: ``check(now)`` (the twin's findings)
        self.checks: list[Callable[[float | None], None]] = []
        self.check_failures = 0
        self._last_ts = np.zeros(len(state.points))
        self._table = device_table(state) if sink is not None else None
        #: One of several collectors sharing a registry (``--shard``): its records
        #: carry ``collector=NAME``, and it writes no ``site`` records, since its
        #: metrics cover only its own devices (the whole site's are computed from
        #: every shard's points downstream, or by an unsharded collector).
        self.collector = collector
        if collector and self._table is not None:
            table = self._table = DeviceTable(state)  # its own: the cached one is shared
            table.tags = [
                Record(m, {**dict(t), "collector": collector}, {"probe": 0.0}, 0).tags
                for m, t in zip(table.measurements, table.tags, strict=True)
            ]
        # Per device the interval slot (floor(time / interval)) of its last stale
        # record: one per slot at most.
        devices = len(self._table.devices) if self._table is not None else 0
        self._stale_slot = np.full(devices, -1.0)
        #: stale records written (devices with no fresh reading and quality > 0)
        self.stale_records = 0

    def tick(self, now: float | None = None) -> Snapshot:
        snapshot = self.metrics.update(now)
        if self.alarms is not None:
            self.alarms.evaluate(now)
            for check in self.checks:
                try:
                    check(now)
                except Exception:  # a check's trouble never stops the collecting
                    self.check_failures += 1
                    if self.check_failures == 1:
                        log.exception("an alarm check failed (further failures counted)")
        if self.notifier is not None:
            self.notifier.tick(now)
        if self.sink is None:
            return snapshot
        assert self._table is not None
        now = time.time() if now is None else now
        newest = np.maximum(self.state.good_ts, self.state.bad_ts)
        fresh = newest > self._last_ts
        self._last_ts = newest
        table = self._table
        if not table.devices:
            if not self.collector:
                self._write(site_records(snapshot, self.site), now)
            return snapshot
        fresh_devices = np.logical_or.reduceat(fresh[table.all_points], table.point_starts)
        qualities = self.state.qualities(now)
        worst = np.maximum.reduceat(qualities[table.all_points], table.point_starts)
        slot = np.floor(now / np.maximum(table.intervals, 1e-3))
        stale = ~fresh_devices & (worst > Quality.GOOD) & (slot != self._stale_slot)
        self._stale_slot = np.where(stale, slot, self._stale_slot)
        self.stale_records += int(np.count_nonzero(stale))
        records = table.records(
            self.state, now, newest, fresh_devices | stale, at_now=stale, qualities=qualities
        )
        if not self.collector:
            records += site_records(snapshot, self.site)
        self._write(records, now)
        return snapshot

    def _write(self, records: list[Record], now: float) -> None:
        """Hand records to the sink; a full spool is an alarm, never the end of monitoring.

        A refused append is counted by the sink (``status.refused``, in the summary)
        and the spool logged it; collecting goes on, and appends are taken again as
        soon as the database drains the spool.
        """
        with contextlib.suppress(SpoolFullError):  # counted in sink.status.refused
            self.spooled += self.sink.write(records)
        self.sink_alarms(now)

    def sink_alarms(self, now: float | None = None) -> None:
        """Raise or clear the sink's system alarms from its status (once per tick).

        ``spool-full``: appends are refused (policy ``reject``), samples are being
        lost; ``spool-dropping``: the oldest samples are deleted to make room (policy
        ``drop_oldest``), cleared once :data:`DROP_HOLD_S` pass without a drop;
        ``sink-down``: the database does not take writes (retrying, or stopped on a
        rejection), data waits in the spool.
        """
        if self.alarms is None or self.sink is None:
            return
        status = self.sink.status
        target = status.target
        self.alarms.system(
            "spool-full",
            target,
            status.full,
            f"spool full: {status.refused} samples refused, {status.pending} waiting to be sent",
            priority="high",
            now=now,
        )
        now = time.time() if now is None else now
        if status.dropped > self._dropped:
            self._dropped, self._dropped_at = status.dropped, now
        # Held a while after the last drop: at the quota not every append drops, and
        # an alarm that clears and returns tick after tick would flood the operator.
        dropping = now - self._dropped_at < DROP_HOLD_S
        self.alarms.system(
            "spool-dropping",
            target,
            dropping,
            f"spool at its quota: {status.dropped} oldest samples dropped",
            priority="high",
            now=now,
        )
        self.alarms.system(
            "sink-down",
            target,
            status.state in ("retrying", "stopped"),
            f"database not taking writes ({status.error}); {status.pending} samples "
            "kept in the spool",
            priority="medium",
            now=now,
        )
