"""Site metrics from measured points only: PUE, pPUE, WUE, CUE, headroom, redundancy, runtime.

Points take part through their registry ``role`` (see :data:`twin.devices.registry.ROLES`):

==========================  =====================================================
facility_kw                 total facility input (else utility_kw + generator_kw)
it_input_kw                 IT equipment input (rack meters): PUE category 3
pdu_output_kw               PDU outputs: PUE category 2
ups_output_kw               UPS / HVDC outputs: PUE category 1; with ups_load_pct
                            or a ``rating`` they give capacity, headroom, redundancy
cooling_kw, power_loss_kw   the cooling subsystem / power delivery losses (pPUE)
water_l_per_h               site make-up water (WUE)
battery_soc_pct             with a ``rating`` in kWh: battery runtime at present load
cdu_heat_kw                 with a ``rating`` in kW: cooling headroom of each CDU
on_battery                  a UPS/HVDC "on battery" contact or bit (1 = on battery)
generator_running           a generator "running" contact or bit
==========================  =====================================================

PUE (ISO/IEC 30134-2, EN 50600-4-2) = facility energy / IT energy over the same
period; its category says where IT energy was metered (PUE1 UPS output, PUE2 PDU
output, PUE3 IT equipment input). The ratios go through :mod:`twin.physics.metrics`
(``power_usage_effectiveness``, ``partial_pue``, ``water_usage_effectiveness``,
``carbon_usage_effectiveness``), the same functions the annual study uses.

- ``pue`` (the headline) is the energy ratio over the last minute
  (:data:`HEADLINE_WINDOW_S`), integrated from the measured powers (trapezoids
  between updates, only while both are good): the site meter and the rack meters
  are polled at different moments, and a ratio of two powers read apart reads 1.7
  for a tick in a load swing. ``pue_instant`` is the ratio of the latest powers,
  stale when its inputs were read more than half a poll interval apart.
  ``pue_energy`` holds the 15 min, 1 h and 24 h windows; CUE = carbon factor
  (kg CO2e per kWh, from config) × the headline PUE's energies.
- A PUE is never good while facility metering misses a path that feeds IT
  (batteries discharging: ``on_battery``; generators outside a facility figure
  built from the utility meter: ``generator_running``), nor below 1.0 (facility
  below IT is a metering fault, not a result): it is bad, with no value and the
  reason in :attr:`Value.reason`. Such intervals are left out of every window.
- pPUE = (IT + subsystem) / IT. WUE = water (L) / IT energy (kWh).

A metric built from a point that is not good carries that quality (stale: computed
from last good values; bad: no value), so it is never shown as fresh.

Examples
--------
>>> redundancy({"A": 2000.0, "B": 2000.0}, [1000.0, 1000.0, 1000.0, 1000.0], 1500.0)
'2N'
>>> redundancy({"": 3000.0}, [1000.0, 1000.0, 1000.0], 1800.0)
'N+1'
>>> redundancy({"": 2000.0}, [1000.0, 1000.0], 1800.0)
'N'
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from twin.live.state import LiveState
from twin.physics import metrics as physics
from twin.points.quality import Quality

CATEGORIES = {
    3: ("it_input_kw", "PUE3 (IT equipment input)"),
    2: ("pdu_output_kw", "PUE2 (PDU output)"),
    1: ("ups_output_kw", "PUE1 (UPS output)"),
}
WINDOWS_S = {"15min": 900.0, "1h": 3600.0, "24h": 86400.0}
#: the headline PUE is the energy ratio over this trailing window [s] ...
HEADLINE_WINDOW_S = 60.0
#: ... good once this much of it is covered by good data [s]
HEADLINE_MIN_S = 10.0
#: the instantaneous ratio is stale when its inputs were read further apart than this
#: fraction of the poll interval
SKEW_FRACTION = 0.5


def redundancy(sides: dict[str, float], units: list[float], load: float) -> str:
    """Redundancy that holds now: ``2N``, ``N+1``, ``N`` or ``overloaded``.

    ``sides`` maps a side (A, B…) to its capacity, ``units`` lists unit capacities.
    """
    total = sum(units)
    if len(sides) >= 2 and all(c >= load for c in sides.values()):
        return "2N"
    if units and total - max(units) >= load:
        return "N+1"
    return "N" if total >= load else "overloaded"


@dataclass
class Value:
    value: float | None
    quality: Quality
    unit: str = ""
    reason: str = ""  # why it is not good (or what it covers), in words

    def json(self) -> dict:
        v = None if self.value is None or not math.isfinite(self.value) else self.value
        out = {"value": v, "quality": self.quality.label, "unit": self.unit}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class Snapshot:
    ts: float
    facility_kw: Value
    it_kw: Value
    pue: Value
    category: str
    pue_by_category: dict[str, Value]
    pue_energy: dict[str, Value]
    ppue_cooling: Value
    ppue_power: Value
    wue_l_per_kwh: Value
    cue_kg_per_kwh: Value
    systems: dict[str, dict] = field(default_factory=dict)
    cdus: dict[str, dict] = field(default_factory=dict)
    battery_runtime_min: dict[str, Value] = field(default_factory=dict)
    #: the ratio of the latest powers (the headline ``pue`` is over the last minute)
    pue_instant: Value = field(default_factory=lambda: Value(None, Quality.STALE))

    def json(self) -> dict:
        return {
            "ts": self.ts,
            "facility_kw": self.facility_kw.json(),
            "it_kw": self.it_kw.json(),
            "pue": self.pue.json(),
            "pue_instant": self.pue_instant.json(),
            "pue_category": self.category,
            "pue_by_category": {k: v.json() for k, v in self.pue_by_category.items()},
            "pue_energy": {k: v.json() for k, v in self.pue_energy.items()},
            "ppue_cooling": self.ppue_cooling.json(),
            "ppue_power": self.ppue_power.json(),
            "wue_l_per_kwh": self.wue_l_per_kwh.json(),
            "cue_kg_per_kwh": self.cue_kg_per_kwh.json(),
            "systems": self.systems,
            "cdus": self.cdus,
            "battery_runtime_min": {k: v.json() for k, v in self.battery_runtime_min.items()},
        }


def _ratio(num: Value, den: Value, unit: str = "", ratio=None) -> Value:  # type: ignore[no-untyped-def]
    """A ratio of two measured values through ``ratio`` (a twin.physics.metrics function)."""
    quality = Quality(max(num.quality, den.quality))
    if num.value is None or den.value is None or den.value <= 0:
        bad = Quality.BAD if quality == Quality.GOOD else quality
        return Value(None, bad, unit, "no value" if den.value is None else "no IT load")
    value = float(ratio(num.value, den.value)) if ratio else num.value / den.value
    return Value(value, quality, unit)


def pue_value(
    facility: float | None,
    it: float | None,
    quality: Quality = Quality.GOOD,
    excluded: str = "",
) -> Value:
    """PUE of a facility and an IT figure (powers or energies), with its validity.

    Not good, with the reason, when a path that feeds IT is outside the facility
    metering (``excluded``), when there is no IT load, and when facility is below
    IT: a PUE below 1.0 is a metering fault, never a result.

    >>> pue_value(1130.0, 1000.0).value
    1.13
    >>> pue_value(9336.0, 9494.0).quality.label, pue_value(9336.0, 9494.0).value
    ('bad', None)
    >>> pue_value(0.0, 9494.0, excluded="on battery").reason
    'on battery'
    """
    if excluded:
        return Value(None, Quality.BAD, "", excluded)
    if facility is None or it is None:
        bad = Quality.BAD if quality == Quality.GOOD else quality
        return Value(None, bad, "", "no facility or IT value")
    if it <= 0:
        return Value(None, Quality.BAD, "", "no IT load")
    pue = float(physics.power_usage_effectiveness(facility, it))
    if pue < 1.0:
        return Value(
            None,
            Quality.BAD,
            "",
            f"facility {facility:,.0f} below IT {it:,.0f}: a path feeding IT bypasses the "
            "facility meter, or the meters disagree",
        )
    return Value(pue, quality)


class SiteMetrics:
    """Derived metrics of a :class:`LiveState`; call :meth:`update` periodically."""

    def __init__(
        self,
        state: LiveState,
        carbon_kg_per_kwh: float = 0.5703,  # China grid average 2022 (MEE), change in config
        windows_s: dict[str, float] | None = None,
    ) -> None:
        self.state = state
        self.carbon = carbon_kg_per_kwh
        self.windows = windows_s or WINDOWS_S
        registry = state.registry
        self.roles: dict[str, np.ndarray] = {}
        for point in registry.points:
            if point.role:
                self.roles.setdefault(point.role, []).append(point.index)  # type: ignore[arg-type]
        self.roles = {k: np.asarray(v, dtype=np.int64) for k, v in self.roles.items()}
        self.category = next((c for c in (3, 2, 1) if CATEGORIES[c][0] in self.roles), 0)
        # cumulative energies (kWh) and water (L) while facility and IT are good
        self._last: tuple[float, float, float, float] | None = None  # t, fac, it, water
        self.energy_facility = 0.0
        self.energy_it = 0.0
        self.water = 0.0
        self.covered_s = 0.0
        longest = max(max(self.windows.values()), HEADLINE_WINDOW_S)
        self._history: deque[tuple[float, float, float, float, float]] = deque()
        self._history_span = longest
        self.last: Snapshot | None = None
        self._ts_range: dict[str, tuple[float, float]] = {}

    # ------------------------------------------------------------- helpers

    def _sum(self, role: str, values: np.ndarray, quality: np.ndarray, unit: str) -> Value:
        idx = self.roles.get(role)
        if idx is None or not len(idx):
            return Value(None, Quality.BAD, unit)
        worst = Quality(int(quality[idx].max()))
        if worst == Quality.BAD or np.isnan(values[idx]).any():
            return Value(None, Quality.BAD if worst != Quality.STALE else worst, unit)
        return Value(float(values[idx].sum()), worst, unit)

    def _facility_roles(self) -> list[str]:
        if "facility_kw" in self.roles:
            return ["facility_kw"]
        return [r for r in ("utility_kw", "generator_kw") if r in self.roles]

    def _facility(self, values: np.ndarray, quality: np.ndarray) -> Value:
        if "facility_kw" in self.roles:
            return self._sum("facility_kw", values, quality, "kW")
        utility = self._sum("utility_kw", values, quality, "kW")
        generator = (
            self._sum("generator_kw", values, quality, "kW")
            if "generator_kw" in self.roles
            else Value(0.0, Quality.GOOD, "kW")
        )
        if utility.value is None or generator.value is None:
            return Value(None, Quality(max(utility.quality, generator.quality)), "kW")
        q = Quality(max(utility.quality, generator.quality))
        return Value(utility.value + generator.value, q, "kW")

    def excluded(self, values: np.ndarray, quality: np.ndarray) -> tuple[str, Quality]:
        """Why facility metering misses a path that feeds IT now ("" if none), and how sure.

        Batteries discharging feed IT with energy no facility meter sees this
        instant; generators feed it outside a facility figure built from the utility
        meter alone. The quality is stale when a path's indicator is not fresh.
        """
        doubt = Quality.GOOD
        on_battery = self.roles.get("on_battery")
        if on_battery is not None and len(on_battery):
            q = quality[on_battery]
            on = (q == Quality.GOOD) & (values[on_battery] > 0.5)
            if on.any():
                return (
                    f"{int(on.sum())} UPS/HVDC on battery: IT is fed from batteries the "
                    "facility meter does not see",
                    Quality.GOOD,
                )
            if (q != Quality.GOOD).any():
                doubt = Quality.STALE
        running = self.roles.get("generator_running")
        if (
            running is not None
            and len(running)
            and "facility_kw" not in self.roles
            and "generator_kw" not in self.roles
        ):
            on = (quality[running] == Quality.GOOD) & (values[running] > 0.5)
            if on.any():
                return (
                    "generators running: the facility figure is the utility meter alone",
                    Quality.GOOD,
                )
        return "", doubt

    def _spread_s(self, roles: list[str]) -> float:
        """Seconds between the oldest and newest reading among the inputs of a ratio."""
        ranges = [self._ts_range[r] for r in roles if r in self._ts_range]
        if not ranges:
            return 0.0
        return max(0.0, max(r[1] for r in ranges) - min(r[0] for r in ranges))

    def _reading_times(self) -> None:
        """Oldest and newest reading time of each power role (for :meth:`_spread_s`)."""
        good_ts = self.state.good_ts
        self._ts_range = {}
        for role in (
            "facility_kw",
            "utility_kw",
            "generator_kw",
            *(c[0] for c in CATEGORIES.values()),
        ):
            idx = self.roles.get(role)
            if idx is None or not len(idx):
                continue
            ts = good_ts[idx]
            ts = ts[ts > 0]
            if len(ts):
                self._ts_range[role] = (float(ts.min()), float(ts.max()))

    def _instant(
        self, facility: Value, it: Value, it_role: str, excluded: str, doubt: Quality
    ) -> Value:
        """The ratio of the latest powers, not good when its inputs are of different instants."""
        quality = Quality(max(facility.quality, it.quality, doubt))
        pue = pue_value(facility.value, it.value, quality, excluded)
        if pue.value is None:
            return pue
        spread = self._spread_s([*self._facility_roles(), it_role])
        interval = float(self.state.interval.min()) if len(self.state.interval) else 1.0
        if spread > SKEW_FRACTION * interval:
            return Value(
                pue.value,
                Quality(max(pue.quality, Quality.STALE)),
                "",
                f"facility and IT read {spread:.1f} s apart",
            )
        if doubt != Quality.GOOD:
            return Value(pue.value, pue.quality, "", "battery state not fresh")
        return pue

    # -------------------------------------------------------------- update

    def update(self, now: float | None = None) -> Snapshot:
        now = time.time() if now is None else now
        values, quality = self.state.values(now)
        self._reading_times()
        facility = self._facility(values, quality)
        excluded, doubt = self.excluded(values, quality)
        by_category = {}
        it = Value(None, Quality.BAD, "kW")
        it_role = CATEGORIES[self.category][0] if self.category else ""
        for c in (3, 2, 1):
            role = CATEGORIES[c][0]
            if role in self.roles:
                it_c = self._sum(role, values, quality, "kW")
                by_category[f"PUE{c}"] = self._instant(facility, it_c, role, excluded, doubt)
                if c == self.category:
                    it = it_c
        instant = self._instant(facility, it, it_role, excluded, doubt)
        water_h = self._sum("water_l_per_h", values, quality, "L/h")
        self._integrate(now, facility, it, water_h, excluded)
        pue, cue = self._headline(now, facility, it, excluded, doubt)
        cooling = self._sum("cooling_kw", values, quality, "kW")
        losses = self._sum("power_loss_kw", values, quality, "kW")
        ppue_cooling = _ratio(cooling, it, ratio=physics.partial_pue)
        ppue_power = _ratio(losses, it, ratio=physics.partial_pue)
        wue = _ratio(water_h, it, "L/kWh", ratio=physics.water_usage_effectiveness)
        snapshot = Snapshot(
            ts=now,
            facility_kw=facility,
            it_kw=it,
            pue=pue,
            category=CATEGORIES[self.category][1] if self.category else "none",
            pue_by_category=by_category,
            pue_energy=self._windows(now),
            ppue_cooling=ppue_cooling,
            ppue_power=ppue_power,
            wue_l_per_kwh=wue,
            cue_kg_per_kwh=cue,
            systems=self._systems(values, quality),
            cdus=self._cdus(values, quality),
            battery_runtime_min=self._runtime(values, quality),
            pue_instant=instant,
        )
        self.last = snapshot
        return snapshot

    def _integrate(
        self, now: float, facility: Value, it: Value, water: Value, excluded: str
    ) -> None:
        ok = (
            facility.quality == Quality.GOOD
            and it.quality == Quality.GOOD
            and facility.value is not None
            and it.value is not None
            and not excluded
        )
        if ok:
            w = water.value if water.quality == Quality.GOOD and water.value is not None else 0.0
            point = (now, facility.value, it.value, w)
            if self._last is not None:
                dt = now - self._last[0]
                if 0 < dt <= 60.0:  # a gap longer than a minute is not integrated over
                    self.energy_facility += 0.5 * (self._last[1] + point[1]) * dt / 3600.0
                    self.energy_it += 0.5 * (self._last[2] + point[2]) * dt / 3600.0
                    self.water += 0.5 * (self._last[3] + point[3]) * dt / 3600.0
                    self.covered_s += dt
            self._last = point  # type: ignore[assignment]
        else:
            self._last = None
        self._history.append(
            (now, self.energy_facility, self.energy_it, self.water, self.covered_s)
        )
        while self._history and self._history[0][0] < now - self._history_span - 1.0:
            self._history.popleft()

    def _delta(self, now: float, span: float) -> tuple[float, float, float]:
        """Facility kWh, IT kWh and seconds covered by good data in the last ``span`` s."""
        times = [h[0] for h in self._history]
        latest = self._history[-1]
        i = int(np.searchsorted(times, now - span))
        first = self._history[min(i, len(self._history) - 1)]
        return latest[1] - first[1], latest[2] - first[2], latest[4] - first[4]

    def _headline(
        self, now: float, facility: Value, it: Value, excluded: str, doubt: Quality
    ) -> tuple[Value, Value]:
        """PUE and CUE over the last minute of good data (facility and IT energies).

        Energy over a minute, not the ratio of two powers read at different moments:
        a load swing between the site meter's poll and the rack meters' cannot show
        as a PUE of 1.7 for one tick.
        """
        unit = "kgCO2e/kWh"
        if excluded:
            return pue_value(None, None, excluded=excluded), Value(
                None, Quality.BAD, unit, excluded
            )
        d_fac, d_it, covered = self._delta(now, HEADLINE_WINDOW_S)
        current = Quality(max(facility.quality, it.quality, doubt))
        quality = current
        reason = "inputs not fresh" if current != Quality.GOOD else ""
        if covered < HEADLINE_MIN_S:
            quality = Quality(max(quality, Quality.STALE))
            reason = reason or f"{covered:.0f} s of good data in the last minute"
        if d_it <= 0:  # nothing integrated yet: the latest powers, not good
            d_fac, d_it = facility.value, it.value
            quality = Quality(max(quality, Quality.STALE))
            reason = reason or "no minute of data yet"
        pue = pue_value(d_fac, d_it, quality)
        if pue.value is None:
            return pue, Value(None, pue.quality, unit, pue.reason)
        assert d_fac is not None and d_it is not None
        cue = float(physics.carbon_usage_effectiveness(d_fac, d_it, self.carbon))
        return Value(pue.value, quality, "", reason), Value(cue, quality, unit, reason)

    def _windows(self, now: float) -> dict[str, Value]:
        out: dict[str, Value] = {}
        if not self._history:
            return {k: Value(None, Quality.STALE) for k in self.windows}
        for name, span in self.windows.items():
            d_fac, d_it, covered = self._delta(now, span)
            # Good while the window is fully covered by good data; stale while filling.
            quality = Quality.GOOD if covered >= 0.95 * span else Quality.STALE
            reason = "" if quality == Quality.GOOD else f"{covered:.0f} s of {span:.0f} s covered"
            if d_it <= 0:
                out[name] = Value(None, Quality.STALE, "", reason or "no IT energy")
                continue
            pue = pue_value(d_fac, d_it, quality)
            out[name] = pue if pue.value is None else Value(pue.value, quality, "", reason)
        return out

    def energy_wue(self) -> float | None:
        """WUE over everything integrated so far (L/kWh)."""
        if self.energy_it <= 0:
            return None
        return float(physics.water_usage_effectiveness(self.water, self.energy_it))

    def _systems(self, values: np.ndarray, quality: np.ndarray) -> dict[str, dict]:
        """Capacity, load, headroom and redundancy of each UPS/HVDC group."""
        points = self.state.points
        load_pct = {points[i].device: i for i in self.roles.get("ups_load_pct", [])}
        groups: dict[str, dict] = {}
        for i in self.roles.get("ups_output_kw", []):
            point = points[i]
            name, _, side = (point.group or point.hall or "site").partition("/")
            g = groups.setdefault(name, {"units": [], "sides": {}, "load": 0.0, "q": 0})
            g["q"] = max(g["q"], int(quality[i]))
            output = values[i]
            capacity = point.rating
            if capacity is None and point.device in load_pct:
                j = load_pct[point.device]
                g["q"] = max(g["q"], int(quality[j]))
                pct = values[j]
                capacity = output / (pct / 100.0) if pct > 0.5 and np.isfinite(pct) else None
            if not np.isfinite(output):
                continue
            g["load"] += float(output)
            if capacity is not None and np.isfinite(capacity):
                g["units"].append(float(capacity))
                g["sides"][side] = g["sides"].get(side, 0.0) + float(capacity)
        out = {}
        for name, g in groups.items():
            capacity = sum(g["units"])
            out[name] = {
                "load_kw": g["load"],
                "capacity_kw": capacity,
                "headroom_kw": capacity - g["load"],
                "redundancy": redundancy(g["sides"], g["units"], g["load"])
                if g["units"]
                else "unknown",
                "quality": Quality(g["q"]).label,
            }
        return out

    def _cdus(self, values: np.ndarray, quality: np.ndarray) -> dict[str, dict]:
        out = {}
        for i in self.roles.get("cdu_heat_kw", []):
            point = self.state.points[i]
            heat = values[i]
            rating = point.rating
            out[point.device] = {
                "heat_kw": float(heat) if np.isfinite(heat) else None,
                "rating_kw": rating,
                "headroom_kw": rating - float(heat) if rating and np.isfinite(heat) else None,
                "quality": Quality(int(quality[i])).label,
            }
        return out

    def _runtime(self, values: np.ndarray, quality: np.ndarray) -> dict[str, Value]:
        """Minutes of battery at the present output of the same device."""
        points = self.state.points
        output = {points[i].device: i for i in self.roles.get("ups_output_kw", [])}
        out = {}
        for i in self.roles.get("battery_soc_pct", []):
            point = points[i]
            j = output.get(point.device)
            if point.rating is None or j is None:
                continue
            q = Quality(max(int(quality[i]), int(quality[j])))
            load = values[j]
            if not (np.isfinite(load) and np.isfinite(values[i])) or load <= 0:
                out[point.device] = Value(None, q, "min")
                continue
            out[point.device] = Value(values[i] / 100.0 * point.rating / load * 60.0, q, "min")
        return out
