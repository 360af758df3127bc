"""Findings from residuals: which equipment departs from its model, how, and how much.

APAR's pattern (House & Vaezi-Nejad, ASHRAE Trans. 107(1) 2001): a rule per
quantity, a band learned from clean data, a persistence timer, then a finding. The
residual is measured − modelled (:mod:`twin.live.residuals`); where the modelled
values come from does not matter here.

Two kinds of finding:

- **Process faults**, one rule per quantity whose departure names a fault: a CDU
  valve open wider than the model needs for the same heat is a fouled exchanger
  (the supply loop hides it in the temperatures), a pump drawing more than the
  model at the same flow is worn, a tower leaving warmer than the model at the same
  wet bulb, range and fan has lost capacity, a chiller drawing more for the same
  load has fouled, a converter losing more than its curve is degrading. Fault names
  follow ASHRAE RP-1043 where it has one (condenser fouling).
- **Sensor faults**: a temperature whose residual leaves its band while the other
  sensors of the same quantity in the same area (the CDUs of one hall loop read one
  supply temperature) stay in theirs. A process fault moves all of them; one
  biased, drifting or stuck transmitter moves one.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import numpy as np

from twin.live.residuals import Band, Persistence, learn_band


@dataclass(frozen=True, slots=True)
class Rule:
    """A quantity whose departure from the model, in one direction, names a fault."""

    equipment: str  # the registry's equipment column, e.g. "cdu"
    quantity: str  # the point name after the device, e.g. "valve_pct"
    sign: int  # +1: measured above the model is the fault's direction
    kind: str
    floor: float  # the smallest departure that counts, in the point's unit
    relative_floor: float = 0.0  # and as a share of the measured value (powers)
    #: (equipment, quantity, device glob) upstream whose own departure explains this
    #: one: while it stands out of its band, this rule finds nothing (APAR's rule
    #: precedence: the cause upstream, not its echo downstream)
    explained_by: tuple[str, str, str] | None = None


RULES: tuple[Rule, ...] = (
    # Warmer facility water (a degraded tower) opens the valves as a fouled exchanger
    # does; the facility water towers are ``fw-tower-N`` as `twin points` names them.
    Rule("cdu", "valve_pct", +1, "heat-exchanger fouling: the valve opens wider than a clean "
         "exchanger needs for the same heat", floor=0.5,
         explained_by=("tower", "t_water_out_c", "fw-*")),
    Rule("cdu", "pump_power_kw", +1, "pump wear: more power than the model at the same flow",
         floor=0.3, relative_floor=0.03),
    Rule("tower", "t_water_out_c", +1, "tower capacity loss (fill, nozzles): leaving water "
         "warmer than the model at the same wet bulb, range and fan", floor=0.3),
    Rule("chiller", "power_kw", +1, "chiller efficiency loss (condenser fouling, RP-1043): "
         "more power for the same load", floor=1.0, relative_floor=0.03),
    Rule("ups", "loss_kw", +1, "conversion losses above the UPS's curve", floor=0.5,
         relative_floor=0.05),
    Rule("hvdc", "loss_kw", +1, "conversion losses above the rectifier's curve", floor=0.5,
         relative_floor=0.05),
)  # fmt: skip

#: A temperature sensor's band is never narrower than this [K] (a Pt100 class A
#: transmitter with its loop: ±0.15 K + 0.002|t|, IEC 60751).
SENSOR_FLOOR_K = 0.2


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of equipment departing from its model, with the evidence."""

    device: str
    point: str
    kind: str
    size: float  # the median departure beyond the band's centre, in the point's unit
    unit: str
    since_s: float  # when the finding was raised (the persistence timer's end) [plant s]

    def json(self) -> dict:
        return {
            "device": self.device, "point": self.point, "kind": self.kind,
            "size": round(self.size, 4), "unit": self.unit, "since_s": self.since_s,
        }  # fmt: skip


class FindingEngine:
    """Learn each watched point's band, then follow its residual through persistence.

    Parameters
    ----------
    names : list of str
        Registry point names (``<device>.<point>``), in the order of the arrays
        :meth:`update` receives.
    equipment : list of str
        Each point's equipment type (the registry's ``equipment`` column).
    areas : list of str
        Each point's area (registry column): a sensor's peers share area and quantity.
    learn_s : float
        Plant time of clean data the bands are learned from [s].
    persistence_s : float
        How long a departure must last to become a finding, and be gone to clear [s].
    """

    def __init__(
        self, names: list[str], equipment: list[str], areas: list[str],
        learn_s: float = 600.0, persistence_s: float = 300.0,
    ) -> None:  # fmt: skip
        self.names = names
        self.learn_s = learn_s
        self.rules: dict[int, Rule] = {}
        self.sensors: dict[int, list[int]] = {}  # temperature point → its peers
        by_quantity: dict[tuple[str, str], list[int]] = {}
        for i, name in enumerate(names):
            point = name.partition(".")[2]
            for rule in RULES:
                if point == rule.quantity and equipment[i] == rule.equipment:
                    self.rules[i] = rule
            if point.startswith("t_") and point.endswith("_c") and "_set" not in point:
                by_quantity.setdefault((areas[i], point), []).append(i)
        for members in by_quantity.values():
            if len(members) >= 3:  # two peers to agree against the odd one
                for i in members:
                    self.sensors[i] = [j for j in members if j != i]
        self.watched = np.array(sorted(set(self.rules) | set(self.sensors)), dtype=int)
        self._position = {int(i): k for k, i in enumerate(self.watched)}
        self._upstream: dict[int, list[int]] = {}  # watched position → upstream positions
        for i, rule in self.rules.items():
            if rule.explained_by is not None:
                kind, quantity, device = rule.explained_by
                self._upstream[self._position[i]] = [
                    self._position[j] for j, r in self.rules.items()
                    if (r.equipment, r.quantity) == (kind, quantity)
                    and fnmatch.fnmatchcase(names[j].partition(".")[0], device)
                ]  # fmt: skip
        self._learning: list[np.ndarray] = []
        self._measured: list[np.ndarray] = []
        self.bands: list[Band] | None = None
        self._started_s: float | None = None
        self.timer = Persistence(len(self.watched), persistence_s, persistence_s)
        self._recent: list[np.ndarray] = []
        self._recent_measured: list[np.ndarray] = []
        self._was_active = np.zeros(len(self.watched), dtype=bool)
        self._raised_at = np.full(len(self.watched), np.nan)
        self.findings: list[Finding] = []

    @property
    def learning(self) -> bool:
        return self.bands is None

    def update(self, t_s: float, measured: np.ndarray, residual: np.ndarray) -> list[Finding]:
        """One tick of residuals (NaN where a point is not read or not modelled)."""
        r = np.asarray(residual, dtype=float)[self.watched]
        y = np.asarray(measured, dtype=float)[self.watched]
        if self._started_s is None:
            self._started_s = t_s
        if self.bands is None:
            self._learning.append(r)
            self._measured.append(y)
            if t_s - self._started_s >= self.learn_s:
                self._learn()
            return []
        assert self.bands is not None
        centre = np.array([b.centre for b in self.bands])
        half = np.array([b.half_width for b in self.bands])
        departure = r - centre
        sign = np.array([self.rules[int(i)].sign if int(i) in self.rules else 0
                         for i in self.watched])  # fmt: skip
        with np.errstate(invalid="ignore"):
            outside = np.where(sign != 0, sign * departure > half, np.abs(departure) > half)
        upstream_out = outside | self._was_active
        for k, ups in self._upstream.items():
            if ups and upstream_out[ups].any():
                outside[k] = False  # explained upstream: its timer starts again
        self._recent.append(departure)
        self._recent_measured.append(y)
        del self._recent[:-60], self._recent_measured[:-60]
        active = self.timer.update(t_s, outside)
        self._raised_at = np.where(active & ~self._was_active, t_s, self._raised_at)
        self._was_active = active
        self.findings = self._explain(active, outside)
        return self.findings

    def _learn(self) -> None:
        r = np.array(self._learning)
        y = np.array(self._measured)
        bands = []
        for k, i in enumerate(self.watched):
            rule = self.rules.get(int(i))
            if rule is not None:
                typical = float(np.nanmedian(np.abs(y[:, k]))) if np.isfinite(y[:, k]).any() else 0
                floor = max(rule.floor, rule.relative_floor * typical)
            else:
                floor = SENSOR_FLOOR_K
            bands.append(learn_band(r[:, k], accuracy_floor=floor))
        self.bands = bands
        self._learning.clear()
        self._measured.clear()

    def _explain(self, active: np.ndarray, outside: np.ndarray) -> list[Finding]:
        recent = np.array(self._recent)
        measured = np.array(self._recent_measured)
        findings = []
        for k in np.flatnonzero(active):
            t_s = float(self._raised_at[k])
            i = int(self.watched[k])
            name = self.names[i]
            device, _, point = name.partition(".")
            size = float(np.nanmedian(recent[:, k]))
            rule = self.rules.get(i)
            if rule is not None:
                unit = "pp" if point.endswith("_pct") else point.rsplit("_", 1)[-1]
                findings.append(Finding(device, name, rule.kind, size, unit, t_s))
                continue
            peers = [self._position[j] for j in self.sensors[i]]
            if not outside[peers].any():  # the others agree with the model: this sensor
                how = "reads off the model while its peers agree"
                if len(measured) >= 10 and np.ptp(measured[:, k]) == 0.0:
                    # a live transmitter's last digits always move; a stuck one's do not
                    how = (
                        f"frozen, the same reading for {len(measured)} ticks while its peers agree"
                    )
                findings.append(Finding(
                    device, name, f"sensor fault: {how} ({len(peers)} others of the same "
                    "quantity in its area)", size, "K", t_s,
                ))  # fmt: skip
        return findings
