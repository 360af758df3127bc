"""Live state and metrics as :class:`twin.sinks.record.Record` objects for the sinks.

One record per device: measurement = equipment class (``ups``, ``cdu``, ``rack``…),
tags ``site``/``hall``/``device`` (low cardinality), one float field per point named
after the point within its device (``t_supply_c``; bits ``status_supply_high``), and
the sink's quality rule: only good values become fields; the record's ``quality`` is
the worst of its points. Site metrics make one ``site`` record.
"""

from __future__ import annotations

import time

from twin.live.metrics import Snapshot
from twin.live.state import LiveState, Quality
from twin.sinks.record import Record


def device_records(state: LiveState, now: float | None = None) -> list[Record]:
    """One record per device with every point's latest value and quality."""
    now = time.time() if now is None else now
    values, quality = state.values(now)
    grouped: dict[str, tuple[dict[str, str], dict[str, tuple[float | None, int]], str, float]] = {}
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
    records = []
    for tags, samples, measurement, ts in grouped.values():
        records.append(Record.from_samples(measurement, tags, samples, int((ts or now) * 1e9)))
    return records


def site_record(snapshot: Snapshot, site: str) -> Record:
    """The site's metrics as one ``site`` record."""
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
    samples = {k: (v.value, int(v.quality)) for k, v in fields.items()}
    return Record.from_samples("site", {"site": site}, samples, int(snapshot.ts * 1e9))


class SinkFeeder:
    """Once per tick: update metrics, evaluate alarms, and send what is new to a sink.

    Each device with a reading newer than the last tick becomes one record (its
    latest sample time), plus one ``site`` record of the metrics: a sample is
    never written twice. Used by ``twin run`` and ``twin monitor``.
    """

    def __init__(self, state: LiveState, metrics, alarms, sink, site: str) -> None:  # type: ignore[no-untyped-def]
        import numpy as np

        self.state = state
        self.metrics = metrics
        self.alarms = alarms
        self.sink = sink
        self.site = site
        self.spooled = 0
        self._last_ts = np.zeros(len(state.points))

    def tick(self, now: float | None = None) -> Snapshot:
        import numpy as np

        snapshot = self.metrics.update(now)
        if self.alarms is not None:
            self.alarms.evaluate(now)
        if self.sink is None:
            return snapshot
        newest = np.maximum(self.state.good_ts, self.state.bad_ts)
        fresh = newest > self._last_ts
        self._last_ts = newest
        devices = {self.state.points[i].device for i in np.flatnonzero(fresh)}
        records = [
            r for r in device_records(self.state, now) if dict(r.tags).get("device") in devices
        ]
        records.append(site_record(snapshot, self.site))
        self.spooled += self.sink.write(records)
        return snapshot
