"""Live state of a site: the latest value of every point with its quality, and trend rings.

Arrays indexed by the registry's point index (struct of arrays), updated a block
at a time by the collector. Quality is decided when read:

- *bad*: the last read failed (exception reply, timeout, decode failure, out of
  range, NaN, an OPC UA Bad status); the value shown is NaN, never the old one;
- *stale*: no fresh value for more than ``stale_after`` poll intervals (a dead
  link leaves its values to age into stale); the last good value is kept with
  its old timestamp, so it is never mistaken for a fresh one;
- *good* otherwise. A point never read is stale with no value (:meth:`counts` counts
  it apart, as never read).

History rings hold the last ``ring`` samples of each point (NaN for bad ones).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from twin.points.quality import Quality
from twin.points.registry import PointDef, Registry


@dataclass(frozen=True, slots=True)
class Sample:
    point: str
    value: float | None  # None unless good or stale (the last good value, with its time)
    unit: str
    quality: Quality
    ts: float  # UNIX seconds of the value (of the failure, for bad)
    reason: str = ""


class LiveState:
    """Latest values, qualities and history rings of a registry's points."""

    def __init__(
        self,
        registry: Registry,
        interval_s: float = 1.0,
        stale_after: float = 2.0,
        ring: int = 600,
    ) -> None:
        n = len(registry)
        self.registry = registry
        self.points: list[PointDef] = registry.points
        self.index = {p.name: p.index for p in self.points}
        self.value = np.full(n, np.nan)  # last good value
        self.good_ts = np.zeros(n)  # time of the last good value (0 = never)
        self.bad = np.zeros(n, bool)  # last read failed
        self.bad_ts = np.zeros(n)
        self.reasons: dict[int, str] = {}
        self.interval = np.array([p.interval_s or interval_s for p in self.points], dtype=float)
        self.stale_after = stale_after
        self.ring_len = ring
        # Both rings are written through now (np.full, not np.zeros, whose pages the OS
        # maps lazily): their memory is resident from the start, and a soak that sees
        # resident memory climb sees a leak, not the rings filling in.
        self.ring_value = np.full((n, ring), np.nan, dtype=np.float64)
        self.ring_ts = np.full((n, ring), 0.0)
        self.ring_pos = np.zeros(n, dtype=np.int64)
        self.samples = 0  # values received (good or bad)
        self.listeners: list = []  # callables(indices, values, good, ts)

    # --------------------------------------------------------------- writes

    def update(
        self, indices: np.ndarray, values: np.ndarray, good: np.ndarray, ts: float, reason: str = ""
    ) -> None:
        """Values of some points read at ``ts``; ``good`` False marks a bad reading."""
        indices = np.asarray(indices, dtype=np.int64)
        good = np.asarray(good, dtype=bool)
        n = len(indices)
        if np.count_nonzero(good) == n:  # every reading good: the collector's usual case
            values = np.asarray(values, dtype=np.float64)
            self.value[indices] = values
            self.good_ts[indices] = ts
            self.bad[indices] = False
        else:
            values = np.where(good, values, np.nan)
            fresh = indices[good]
            self.value[fresh] = values[good]
            self.good_ts[fresh] = ts
            self.bad[indices] = ~good
            failed = indices[~good]
            self.bad_ts[failed] = ts
            for i in failed.tolist():
                self.reasons[i] = reason or "bad"
        # the rings as flat arrays: one 1-D scatter each instead of a 2-D fancy index
        pos = self.ring_pos[indices]
        flat = indices * self.ring_len + pos % self.ring_len
        self.ring_value.reshape(-1)[flat] = values
        self.ring_ts.reshape(-1)[flat] = ts
        self.ring_pos[indices] = pos + 1
        self.samples += n
        for listener in self.listeners:
            listener(indices, values, good, ts)

    def hold(self, indices: np.ndarray, ts: float) -> None:
        """Points whose last value still holds at ``ts`` (an OPC UA subscription alive).

        A subscription reports a value only when it changes: while the session and
        its subscription are healthy, silence means "unchanged", so the last good
        value is current, not stale. Bad points stay bad; nothing enters the rings
        (history records changes).
        """
        indices = np.asarray(indices, dtype=np.int64)
        held = indices[(~self.bad[indices]) & (self.good_ts[indices] > 0)]
        self.good_ts[held] = ts

    # ---------------------------------------------------------------- reads

    def qualities(self, now: float | None = None) -> np.ndarray:
        """Quality code of every point now."""
        now = time.time() if now is None else now
        limit = self.stale_after * self.interval
        stale = (self.good_ts == 0) | (now - self.good_ts > limit)
        return np.where(self.bad, Quality.BAD, np.where(stale, Quality.STALE, Quality.GOOD))

    def never_read(self) -> np.ndarray:
        """Points with no reply at all yet (no good value, no failed read): bool per point."""
        return (self.good_ts == 0) & ~self.bad

    def counts(self, now: float | None = None) -> dict[str, int]:
        """Points by quality, plus ``never_read``: a partition of every point.

        A point never read is not "stale" (it had no value to go stale): it is
        counted apart, so a registry whose gear never answered does not read as a
        plant whose values aged.
        """
        q = self.qualities(now)
        never = self.never_read()
        out = {label.label: int(np.sum((q == label) & ~never)) for label in Quality}
        out["never_read"] = int(np.sum(never))
        return out

    def bad_points(self, now: float | None = None) -> list[dict[str, object]]:
        """The points bad now: ``point``, ``row`` (registry line), ``reason``, in row order."""
        bad = np.flatnonzero(self.qualities(now) == Quality.BAD)
        return [
            {
                "point": self.points[i].name,
                "row": self.points[i].line,
                "reason": self.reasons.get(int(i), "bad"),
            }
            for i in bad.tolist()
        ]

    def values(self, now: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(values, qualities): NaN for bad points, the last good value for stale ones."""
        q = self.qualities(now)
        return np.where(q == Quality.BAD, np.nan, self.value), q

    def sample(self, name: str, now: float | None = None) -> Sample:
        i = self.index[name]
        quality = Quality(int(self.qualities(now)[i]))
        point = self.points[i]
        if quality == Quality.BAD:
            return Sample(name, None, point.unit, quality, float(self.bad_ts[i]), self.reasons[i])
        value = float(self.value[i]) if self.good_ts[i] else None
        reason = "" if quality == Quality.GOOD else "no fresh value"
        return Sample(name, value, point.unit, quality, float(self.good_ts[i]), reason)

    def all_samples(self, now: float | None = None) -> list[Sample]:
        return [self.sample(p.name, now) for p in self.points]

    def history(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps, values) of a point's ring, oldest first."""
        i = self.index[name]
        pos = int(self.ring_pos[i])
        count = min(pos, self.ring_len)
        order = (np.arange(pos - count, pos)) % self.ring_len
        return self.ring_ts[i, order], self.ring_value[i, order]
