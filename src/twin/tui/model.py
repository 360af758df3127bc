"""The dashboard's view model: what the screens show, read from :mod:`twin.live` only.

A :class:`Source` hands the app one immutable :class:`Snapshot` per refresh tick and
takes the operator's few commands (acknowledge, shelve, setpoint write, and on a
simulated site a scenario event or a device fault). Screens never see a device, a
socket or the plant; they render snapshots.

:class:`LiveSource` is the adapter over a :class:`~twin.live.state.LiveState` (and its
registry): metrics are derived from the points' roles (``facility_kw``,
``it_input_kw``, ``cooling_kw``, ``power_loss_kw``, ``water_l_per_h``…), alarms come
from an :class:`AlarmStore`. Until ``twin.live.metrics`` / ``twin.live.alarms`` land,
:class:`StatusAlarms` evaluates the devices' status bits with ISA-18.2 states.

The setpoint write is the one back-edge (DESIGN §1): it goes to the collector's own
protocol write, never to the plant's memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from twin.collect.registry import PointDef, Registry
from twin.live.state import LiveState, Quality

# ----------------------------------------------------------------------------- records

PRIORITIES = ("critical", "high", "medium", "low")
STATES = ("unack", "acked", "rtn_unack", "shelved", "suppressed")
FLOOD_COUNT = 10  # ISA-18.2: more than 10 new alarms in 10 minutes per operator
FLOOD_WINDOW_S = 600.0


@dataclass(frozen=True, slots=True)
class Overview:
    pue: float
    pue_trailing: float
    pue_category: str
    it_kw: float
    facility_kw: float
    cooling_kw: float
    power_loss_kw: float
    ppue_cooling: float
    ppue_power: float
    wue_l_per_kwh: float
    t_dry_c: float
    t_wet_c: float
    cooling_mode: str
    trend_pue: tuple[float, ...] = ()
    trend_it_kw: tuple[float, ...] = ()
    trend_facility_kw: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class AlarmRow:
    id: str
    priority: str
    state: str
    ts: float  # time the alarm became active (or returned)
    point: str
    value: float | None
    message: str
    shelved_until: float | None = None


@dataclass(frozen=True, slots=True)
class DeviceRow:
    name: str
    equipment: str
    protocol: str
    address: str
    last_good: float  # UNIX s, 0 = never
    latency_ms: float | None
    errors: int
    quality: str


@dataclass(frozen=True, slots=True)
class TreeRow:
    """One line of a one-line diagram, already flattened (depth = indentation)."""

    key: str
    depth: int
    label: str
    load: str
    pct: float | None
    detail: str
    state: str  # ok / warn / alarm / off


@dataclass(frozen=True, slots=True)
class Racks:
    names: tuple[str, ...]
    halls: tuple[str, ...]
    inlet_c: np.ndarray
    return_c: np.ndarray
    power_kw: np.ndarray
    liquid: np.ndarray  # bool: cold-plate rack


@dataclass(frozen=True, slots=True)
class Snapshot:
    ts: float
    site: str
    overview: Overview
    alarms: tuple[AlarmRow, ...]
    alarm_counts: dict[str, int]
    flood: bool
    devices: tuple[DeviceRow, ...]
    device_counts: dict[str, int]
    power: tuple[TreeRow, ...]
    cooling: tuple[TreeRow, ...]
    racks: Racks
    simulated: bool


@dataclass(frozen=True, slots=True)
class Setpoint:
    point: str
    device: str
    unit: str
    low: float | None
    high: float | None
    value: float | None
    description: str = ""


class SetpointRefused(Exception):
    """A write the range check, the collector or the device refused."""


class Source(Protocol):
    """What the dashboard reads and the few things it may ask for."""

    simulated: bool

    def snapshot(self) -> Snapshot: ...

    def ack(self, alarm_id: str) -> None: ...

    def shelve(self, alarm_id: str, seconds: float) -> None: ...

    def unshelve(self, alarm_id: str) -> None: ...

    def setpoints(self) -> list[Setpoint]: ...

    def read(self, point: str) -> float | None: ...

    async def write_setpoint(self, point: str, value: float) -> None: ...

    def events(self) -> list[tuple[str, str]]: ...

    def start_event(self, kind: str) -> str: ...

    def fault_kinds(self) -> tuple[str, ...]: ...

    def inject_fault(self, device: str, kind: str) -> str: ...


# ------------------------------------------------------------------------------ alarms


ALARM_BITS: dict[str, tuple[str, str]] = {  # bit name → (priority, message)
    "fault": ("high", "equipment fault"),
    "tripped": ("high", "tripped"),
    "fan_fault": ("high", "fan fault"),
    "pump1_fault": ("high", "pump 1 fault"),
    "pump2_fault": ("high", "pump 2 fault"),
    "depleted": ("critical", "battery depleted"),
    "on_battery": ("high", "on battery"),
    "low_battery": ("critical", "battery low"),
    "low": ("high", "battery low"),
    "overload": ("high", "overload"),
    "supply_high": ("medium", "supply temperature high"),
    "inlet_high": ("medium", "inlet temperature high"),
    "cold_plate_high": ("high", "cold plate temperature high"),
    "low_flow": ("high", "coolant flow low"),
    "on_generator_a": ("medium", "feed A on generator"),
    "on_generator_b": ("medium", "feed B on generator"),
}
INVERTED_BITS: dict[str, tuple[str, str]] = {  # alarm when the bit is 0
    "feed_a_ok": ("critical", "utility feed A lost"),
    "feed_b_ok": ("critical", "utility feed B lost"),
}


@dataclass
class _Alarm:
    id: str
    point: str
    priority: str
    message: str
    active: bool = False
    acked: bool = True
    ts: float = 0.0
    value: float | None = None
    shelved_until: float | None = None

    def state(self, now: float) -> str | None:
        if self.shelved_until is not None and now < self.shelved_until:
            return "shelved"
        if self.active:
            return "acked" if self.acked else "unack"
        return None if self.acked else "rtn_unack"


class AlarmStore(Protocol):
    def evaluate(self, now: float) -> None: ...

    def rows(self, now: float) -> list[AlarmRow]: ...

    def ack(self, alarm_id: str, now: float) -> None: ...

    def shelve(self, alarm_id: str, seconds: float, now: float) -> None: ...

    def unshelve(self, alarm_id: str) -> None: ...

    def flood(self, now: float) -> bool: ...


class StatusAlarms:
    """ISA-18.2 alarm states over the devices' status bits and comms quality.

    Active + unacknowledged → ``unack``; acknowledged → ``acked``; cleared before
    acknowledgement → ``rtn_unack`` (stays listed until acknowledged); cleared and
    acknowledged → normal (gone). A shelved alarm is hidden from the counts until its
    shelf time ends. A device whose points are all bad raises a low-priority comms alarm.
    """

    def __init__(self, state: LiveState) -> None:
        self.state = state
        self.alarms: dict[str, _Alarm] = {}
        self.activations: list[float] = []
        watched: list[tuple[int, bool, str, str]] = []
        for p in state.points:
            bit = p.name.rsplit(".", 1)[-1]
            if p.bit is None:
                continue
            if bit in ALARM_BITS:
                watched.append((p.index, False, *ALARM_BITS[bit]))
            elif bit in INVERTED_BITS:
                watched.append((p.index, True, *INVERTED_BITS[bit]))
        self.index = np.array([w[0] for w in watched], dtype=np.int64)
        self.inverted = np.array([w[1] for w in watched], dtype=bool)
        self.meta = [(state.points[w[0]].name, w[2], w[3]) for w in watched]
        self.devices: dict[str, np.ndarray] = {}
        for p in state.points:
            self.devices.setdefault(p.device, []).append(p.index)  # type: ignore[arg-type]
        self.devices = {k: np.array(v) for k, v in self.devices.items()}

    def _set(
        self,
        key: str,
        point: str,
        priority: str,
        message: str,
        active: bool,
        now: float,
        value: float | None,
    ) -> None:
        alarm = self.alarms.get(key)
        if alarm is None:
            if not active:
                return
            alarm = self.alarms[key] = _Alarm(key, point, priority, message)
        if active and not alarm.active:
            alarm.active, alarm.acked, alarm.ts, alarm.value = True, False, now, value
            self.activations.append(now)
        elif not active and alarm.active:
            alarm.active, alarm.ts = False, now
        if not alarm.active and alarm.acked and alarm.shelved_until is None:
            del self.alarms[key]

    def evaluate(self, now: float) -> None:
        values, quality = self.state.values(now)
        if len(self.index):
            v = values[self.index]
            good = quality[self.index] != Quality.BAD
            on = np.where(self.inverted, v < 0.5, v > 0.5) & good & ~np.isnan(v)
            for (name, priority, message), active, value in zip(
                self.meta, on.tolist(), v.tolist(), strict=True
            ):
                if active or name in self.alarms:
                    self._set(name, name, priority, message, active, now, value)
        for device, idx in self.devices.items():
            down = bool(np.all(quality[idx] == Quality.BAD))
            key = f"{device}.comms"
            if down or key in self.alarms:
                self._set(key, device, "low", "communication failure", down, now, None)
        self.activations = [t for t in self.activations if now - t <= FLOOD_WINDOW_S]

    def rows(self, now: float) -> list[AlarmRow]:
        out = []
        for a in self.alarms.values():
            state = a.state(now)
            if state is None:
                continue
            shelved = a.shelved_until if state == "shelved" else None
            out.append(
                AlarmRow(a.id, a.priority, state, a.ts, a.point, a.value, a.message, shelved)
            )
        out.sort(key=lambda r: (PRIORITIES.index(r.priority), -r.ts, r.id))
        return out

    def ack(self, alarm_id: str, now: float) -> None:
        alarm = self.alarms[alarm_id]
        alarm.acked = True
        if not alarm.active and alarm.shelved_until is None:
            del self.alarms[alarm_id]

    def shelve(self, alarm_id: str, seconds: float, now: float) -> None:
        self.alarms[alarm_id].shelved_until = now + seconds

    def unshelve(self, alarm_id: str) -> None:
        self.alarms[alarm_id].shelved_until = None

    def flood(self, now: float) -> bool:
        return sum(1 for t in self.activations if now - t <= FLOOD_WINDOW_S) > FLOOD_COUNT


# ----------------------------------------------------------------------- sim control


class SimControl(Protocol):
    """Scenario events and device faults on a simulated site (absent on real gear)."""

    def start_event(self, kind: str) -> str: ...

    def inject_fault(self, device: str, kind: str) -> str: ...


EVENTS: list[tuple[str, str]] = [
    ("utility_loss", "Utility loss (both feeds, 120 s)"),
    ("pump_trip", "Pump trip (first CDU, pump 1, 300 s)"),
    ("tower_fan_failure", "Tower fan failure (cell 1, 300 s)"),
    ("load_step", "Load step (IT load x1.2, 300 s)"),
]
FAULT_KINDS = ("offline", "slow", "frozen", "exception", "bad_quality", "garbage")


# ------------------------------------------------------------------------ the adapter


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else math.nan


class LiveSource:
    """The view model over a live state (a registry's latest values and rings)."""

    def __init__(
        self,
        state: LiveState,
        site: str = "",
        alarms: AlarmStore | None = None,
        writer: Callable[[str, float], Awaitable[None]] | None = None,
        control: SimControl | None = None,
        stats: Callable[[], dict[str, tuple[float | None, int]]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.registry: Registry = state.registry
        self.site = site or next((p.site for p in state.points if p.site), "site")
        self.alarm_store: AlarmStore = alarms or StatusAlarms(state)
        self.writer = writer
        self.control = control
        self.simulated = control is not None
        self.stats = stats
        self.clock = clock
        pts = state.points
        self._role: dict[str, np.ndarray] = {}
        for p in pts:
            if p.role:
                self._role.setdefault(p.role, []).append(p.index)  # type: ignore[arg-type]
        self._role = {k: np.array(v, dtype=np.int64) for k, v in self._role.items()}
        self._by_device: dict[str, list[PointDef]] = {}
        for p in pts:
            self._by_device.setdefault(p.device, []).append(p)
        self._device_idx = {d: np.array([p.index for p in v]) for d, v in self._by_device.items()}
        self._racks = self._rack_index()

    # ------------------------------------------------------------------ helpers

    def _point(self, name: str) -> int | None:
        return self.state.index.get(name)

    def _v(self, values: np.ndarray, name: str) -> float:
        i = self._point(name)
        return math.nan if i is None else float(values[i])

    def _sum(self, values: np.ndarray, role: str) -> float:
        idx = self._role.get(role)
        if idx is None or not len(idx):
            return math.nan
        return float(np.nansum(values[idx]))

    def _devices_of(self, equipment: str) -> list[str]:
        return [d for d, pts in self._by_device.items() if pts[0].equipment == equipment]

    def _rack_index(self) -> dict[str, np.ndarray | tuple[str, ...]]:
        names, halls, inlet, ret, power, liquid = [], [], [], [], [], []
        for device, pts in self._by_device.items():
            if pts[0].equipment not in ("rack", "gpu-rack"):
                continue
            by = {p.name.split(".", 1)[1]: p.index for p in pts}
            names.append(device)
            halls.append(pts[0].hall or pts[0].area)
            inlet.append(by.get("t_inlet_c", -1))
            ret.append(by.get("t_coolant_return_c", -1))
            power.append(by.get("power_kw", -1))
            liquid.append(pts[0].equipment == "gpu-rack")
        return {
            "names": tuple(names),
            "halls": tuple(halls),
            "inlet": np.array(inlet, dtype=np.int64),
            "return": np.array(ret, dtype=np.int64),
            "power": np.array(power, dtype=np.int64),
            "liquid": np.array(liquid, dtype=bool),
        }

    @staticmethod
    def _take(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
        out = np.full(len(idx), np.nan)
        ok = idx >= 0
        out[ok] = values[idx[ok]]
        return out

    # ------------------------------------------------------------------ metrics

    def _history_sum(self, role: str, n: int = 60) -> np.ndarray:
        idx = self._role.get(role)
        if idx is None or not len(idx):
            return np.zeros(0)
        st = self.state
        count = int(min(st.ring_pos[idx].min(), st.ring_len, n))
        if count == 0:
            return np.zeros(0)
        rows = []
        for i in idx.tolist():
            pos = int(st.ring_pos[i])
            order = np.arange(pos - count, pos) % st.ring_len
            rows.append(st.ring_value[i, order])
        return np.nansum(np.array(rows), axis=0)

    def _overview(self, values: np.ndarray) -> Overview:
        it = self._sum(values, "it_input_kw")
        facility = self._sum(values, "facility_kw")
        cooling = self._sum(values, "cooling_kw")
        losses = self._sum(values, "power_loss_kw")
        water = self._sum(values, "water_l_per_h")
        pue = facility / it if it > 0 else math.nan
        trend_it = self._history_sum("it_input_kw")
        trend_fac = self._history_sum("facility_kw")
        n = min(len(trend_it), len(trend_fac))
        with np.errstate(divide="ignore", invalid="ignore"):
            trend_pue = trend_fac[-n:] / trend_it[-n:] if n else np.zeros(0)
        # trailing: energy-based over the whole ring (equal sample spacing: sums are energies)
        ring_it = self._history_sum("it_input_kw", self.state.ring_len)
        ring_fac = self._history_sum("facility_kw", self.state.ring_len)
        m = min(len(ring_it), len(ring_fac))
        it_energy = float(np.nansum(ring_it[-m:])) if m else 0.0
        trailing = float(np.nansum(ring_fac[-m:])) / it_energy if it_energy > 0 else math.nan
        chillers = self._devices_of("chiller")
        running = sum(self._v(values, f"{c}.running") > 0.5 for c in chillers)
        economiser = sum(self._v(values, f"{c}.status.economiser_mode") > 0.5 for c in chillers)
        if not chillers:
            mode = "free cooling (no chillers)"
        elif running == 0:
            mode = "free cooling"
        elif economiser:
            mode = f"partial free cooling ({running} chiller{'s' * (running > 1)})"
        else:
            mode = f"mechanical ({running} chiller{'s' * (running > 1)})"
        ok = it > 0
        return Overview(
            pue=_finite(pue),
            pue_trailing=_finite(trailing),
            pue_category="PUE3 (IT equipment input)",
            it_kw=it,
            facility_kw=facility,
            cooling_kw=cooling,
            power_loss_kw=losses,
            ppue_cooling=(it + cooling) / it if ok else math.nan,
            ppue_power=(it + losses) / it if ok else math.nan,
            wue_l_per_kwh=water / it if ok else math.nan,
            t_dry_c=self._v(values, "site-meter.t_outdoor_dry_c"),
            t_wet_c=self._v(values, "site-meter.t_outdoor_wet_c"),
            cooling_mode=mode,
            trend_pue=tuple(float(x) for x in np.nan_to_num(trend_pue)),
            trend_it_kw=tuple(float(x) for x in trend_it),
            trend_facility_kw=tuple(float(x) for x in trend_fac),
        )

    # -------------------------------------------------------------------- trees

    def _power(self, values: np.ndarray) -> tuple[TreeRow, ...]:
        v = values
        rows: list[TreeRow] = []
        utility = self._v(v, "site-meter.utility_power_kw")
        generator = self._v(v, "site-meter.generator_power_kw")
        facility = self._v(v, "site-meter.facility_power_kw")
        rows.append(
            TreeRow(
                "site",
                0,
                f"{self.site}",
                f"{facility:,.0f} kW",
                None,
                f"utility {utility:,.0f} kW · generator {generator:,.0f} kW",
                "ok",
            )
        )
        gens = self._devices_of("generator")
        running = [g for g in gens if self._v(v, f"{g}.running") > 0.5]
        for feed in "AB":
            ok = self._v(v, f"site-meter.feed_{feed.lower()}_ok") > 0.5
            state = "ok" if ok else "alarm"
            rows.append(
                TreeRow(
                    f"feed-{feed}", 1, f"Feed {feed}", "", None, "utility" if ok else "LOST", state
                )
            )
            ats = f"ats-{feed}"
            if ats in self._by_device:
                on_gen = self._v(v, f"{ats}.on_generator") > 0.5
                rows.append(
                    TreeRow(
                        ats,
                        2,
                        ats,
                        f"{self._v(v, f'{ats}.load_kw'):,.0f} kW",
                        None,
                        "on generator" if on_gen else "on utility",
                        "warn" if on_gen else "ok",
                    )
                )
            for tx in self._devices_of("transformer"):
                if not tx.startswith(f"tx-{feed}"):
                    continue
                pct = self._v(v, f"{tx}.load_pct")
                load = self._v(v, f"{tx}.load_kw")
                loss = self._v(v, f"{tx}.loss_kw")
                eff = 100 * (1 - loss / load) if load > 0 else math.nan
                energised = self._v(v, f"{tx}.energised") > 0.5
                rows.append(
                    TreeRow(
                        tx,
                        3,
                        tx,
                        f"{load:,.0f} kW",
                        pct,
                        f"eff {eff:5.1f} %",
                        "ok" if energised else "off",
                    )
                )
        if gens:
            total = sum(self._v(v, f"{g}.power_kw") for g in gens)
            rows.append(
                TreeRow(
                    "generators",
                    1,
                    "Generators",
                    f"{total:,.0f} kW",
                    None,
                    f"{len(running)}/{len(gens)} running",
                    "warn" if running else "ok",
                )
            )
        groups: dict[str, list[str]] = {}
        for d, pts in self._by_device.items():
            if pts[0].equipment in ("ups", "hvdc"):
                groups.setdefault(pts[0].hall or pts[0].area, []).append(d)
        for hall, systems in groups.items():
            online = [s for s in systems if self._v(v, f"{s}.online") > 0.5]
            sides = sorted({self._by_device[s][0].group.rsplit("/", 1)[-1] for s in systems})
            redundancy = "2N" if len(sides) == 2 else "N"
            degraded = len(online) < len(systems)
            rows.append(
                TreeRow(
                    hall,
                    1,
                    hall,
                    "",
                    None,
                    f"{redundancy} · {len(online)}/{len(systems)} systems online",
                    "warn" if degraded else "ok",
                )
            )
            for s in systems:
                out = self._v(v, f"{s}.output_kw")
                inp = self._v(v, f"{s}.input_kw")
                eff = 100 * out / inp if inp > 0 else math.nan
                soc = self._v(v, f"{s}.battery_soc_pct")
                on_batt = self._v(v, f"{s}.on_battery") > 0.5
                fault = self._v(v, f"{s}.fault") > 0.5
                state = "alarm" if fault else "warn" if on_batt else "ok"
                mode = "ON BATTERY" if on_batt else "online"
                rows.append(
                    TreeRow(
                        s,
                        2,
                        s,
                        f"{out:,.0f} kW",
                        self._v(v, f"{s}.load_pct"),
                        f"eff {eff:5.1f} % · SoC {soc:3.0f} % · {mode}",
                        state,
                    )
                )
                for pdu in self._devices_of("pdu"):
                    if pdu.startswith(f"{s}-"):
                        rows.append(
                            TreeRow(
                                pdu,
                                3,
                                pdu.removeprefix(f"{s}-"),
                                f"{self._v(v, f'{pdu}.power_kw'):,.0f} kW",
                                self._v(v, f"{pdu}.load_pct"),
                                f"loss {self._v(v, f'{pdu}.loss_kw'):.1f} kW",
                                "ok",
                            )
                        )
        return tuple(rows)

    def _cooling(self, values: np.ndarray) -> tuple[TreeRow, ...]:
        v = values
        rows: list[TreeRow] = []
        towers = self._devices_of("tower") + self._devices_of("drycooler")
        pumps = self._devices_of("pump")
        if towers or pumps:
            rows.append(
                TreeRow(
                    "fw",
                    0,
                    "Facility water loop",
                    "",
                    None,
                    "ASHRAE W45: facility water supply ≤ 45 °C",
                    "ok",
                )
            )
        for t in towers:
            fault = self._v(v, f"{t}.fan_fault") > 0.5
            t_out = self._v(v, f"{t}.t_water_out_c")
            approach = t_out - self._v(v, f"{t}.t_wet_bulb_c")
            rows.append(
                TreeRow(
                    t,
                    1,
                    t,
                    f"{self._v(v, f'{t}.fan_power_kw'):,.1f} kW",
                    self._v(v, f"{t}.fan_speed_pct"),
                    f"out {t_out:4.1f} °C · in {self._v(v, f'{t}.t_water_in_c'):4.1f}"
                    f" °C · approach {approach:4.1f} K",
                    "alarm" if fault else "ok",
                )
            )
        for p in pumps:
            running = self._v(v, f"{p}.running") > 0.5
            rows.append(
                TreeRow(
                    p,
                    1,
                    p,
                    f"{self._v(v, f'{p}.power_kw'):,.1f} kW",
                    self._v(v, f"{p}.speed_pct"),
                    f"flow {self._v(v, f'{p}.flow_m3_h'):,.0f} m³/h",
                    "ok" if running else "off",
                )
            )
        cdus = self._devices_of("cdu")
        rack_halls = self._racks["halls"]
        liquid = self._racks["liquid"]
        for c in cdus:
            sup, ret = self._v(v, f"{c}.t_supply_c"), self._v(v, f"{c}.t_return_c")
            setp = self._v(v, f"{c}.t_supply_set_c")
            high = self._v(v, f"{c}.status.supply_high") > 0.5
            fault = any(self._v(v, f"{c}.status.pump{i}_fault") > 0.5 for i in (1, 2))
            rows.append(
                TreeRow(
                    c,
                    1,
                    c,
                    f"{self._v(v, f'{c}.heat_kw'):,.0f} kW",
                    self._v(v, f"{c}.pump_speed_pct"),
                    f"sup {sup:4.1f} (set {setp:4.1f}) · ret {ret:4.1f} °C · "
                    f"{self._v(v, f'{c}.flow_kg_s'):5.1f} kg/s · valve "
                    f"{self._v(v, f'{c}.valve_pct'):3.0f} %",
                    "alarm" if fault else "warn" if high else "ok",
                )
            )
        if cdus:
            hall_of = {c: self._by_device[c][0].hall for c in cdus}
            for hall in dict.fromkeys(hall_of.values()):
                sel = np.array([h == hall for h in rack_halls], dtype=bool) & liquid
                if not sel.any():
                    continue
                ret = self._take(v, self._racks["return"])[sel]
                power = self._take(v, self._racks["power"])[sel]
                rows.append(
                    TreeRow(
                        f"{hall}-racks",
                        2,
                        f"{hall} cold-plate racks ({sel.sum()})",
                        f"{np.nansum(power):,.0f} kW",
                        None,
                        f"return max {np.nanmax(ret) if len(ret) else math.nan:4.1f} °C"
                        " · ASHRAE W32/W45 TCS",
                        "ok",
                    )
                )
        chillers = self._devices_of("chiller")
        if chillers:
            rows.append(TreeRow("chw", 0, "Chilled water", "", None, "", "ok"))
        for ch in chillers:
            tripped = self._v(v, f"{ch}.tripped") > 0.5
            running = self._v(v, f"{ch}.running") > 0.5
            rows.append(
                TreeRow(
                    ch,
                    1,
                    ch,
                    f"{self._v(v, f'{ch}.power_kw'):,.0f} kW",
                    self._v(v, f"{ch}.load_pct"),
                    f"chw {self._v(v, f'{ch}.t_chw_supply_c'):4.1f}/"
                    f"{self._v(v, f'{ch}.t_chw_return_c'):4.1f} °C · cw "
                    f"{self._v(v, f'{ch}.t_cw_supply_c'):4.1f}/"
                    f"{self._v(v, f'{ch}.t_cw_return_c'):4.1f} °C",
                    "alarm" if tripped else "ok" if running else "off",
                )
            )
        crahs = self._devices_of("crah")
        if crahs:
            rows.append(
                TreeRow(
                    "air",
                    0,
                    "Air side (CRAH)",
                    "",
                    None,
                    "ASHRAE A1 recommended inlet 18-27 °C",
                    "ok",
                )
            )
        for cr in crahs:
            rows.append(
                TreeRow(
                    cr,
                    1,
                    cr,
                    f"{self._v(v, f'{cr}.heat_kw'):,.0f} kW",
                    self._v(v, f"{cr}.fan_speed_pct"),
                    f"hall air {self._v(v, f'{cr}.t_hall_air_c'):4.1f} °C · valve "
                    f"{self._v(v, f'{cr}.valve_pct'):3.0f} % · set "
                    f"{self._v(v, f'{cr}.t_supply_air_set_c'):4.1f} °C",
                    "ok",
                )
            )
        return tuple(rows)

    # ------------------------------------------------------------------ devices

    def _devices(self, quality: np.ndarray) -> tuple[tuple[DeviceRow, ...], dict[str, int]]:
        stats = self.stats() if self.stats else {}
        rows = []
        counts = {"good": 0, "stale": 0, "bad": 0}
        for device, pts in self._by_device.items():
            idx = self._device_idx[device]
            q = quality[idx]
            label = (
                "bad"
                if (q == Quality.BAD).all()
                else "stale"
                if (q != Quality.GOOD).any()
                else "good"
            )
            if label == "stale" and (q == Quality.BAD).any():
                label = "bad"
            counts[label] += 1
            first = pts[0]
            if first.modbus:
                protocol, address = "modbus-tcp", f"{first.host}:{first.port}/{first.unit_id}"
            else:
                protocol, address = "opc-ua", first.opcua_endpoint
            latency, errors = stats.get(device, (None, 0))
            rows.append(
                DeviceRow(
                    device,
                    first.equipment,
                    protocol,
                    address,
                    float(self.state.good_ts[idx].max()),
                    latency,
                    errors,
                    label,
                )
            )
        return tuple(rows), counts

    # ------------------------------------------------------------------ public

    def snapshot(self) -> Snapshot:
        now = self.clock()
        self.alarm_store.evaluate(now)
        values, quality = self.state.values(now)
        alarms = tuple(self.alarm_store.rows(now))
        counts = {p: 0 for p in PRIORITIES}
        for a in alarms:
            if a.state != "shelved":
                counts[a.priority] += 1
        devices, device_counts = self._devices(quality)
        r = self._racks
        racks = Racks(
            r["names"],  # type: ignore[arg-type]
            r["halls"],  # type: ignore[arg-type]
            self._take(values, r["inlet"]),  # type: ignore[arg-type]
            self._take(values, r["return"]),  # type: ignore[arg-type]
            self._take(values, r["power"]),  # type: ignore[arg-type]
            r["liquid"],  # type: ignore[arg-type]
        )
        return Snapshot(
            ts=now,
            site=self.site,
            overview=self._overview(values),
            alarms=alarms,
            alarm_counts=counts,
            flood=self.alarm_store.flood(now),
            devices=devices,
            device_counts=device_counts,
            power=self._power(values),
            cooling=self._cooling(values),
            racks=racks,
            simulated=self.simulated,
        )

    def ack(self, alarm_id: str) -> None:
        self.alarm_store.ack(alarm_id, self.clock())

    def shelve(self, alarm_id: str, seconds: float) -> None:
        self.alarm_store.shelve(alarm_id, seconds, self.clock())

    def unshelve(self, alarm_id: str) -> None:
        self.alarm_store.unshelve(alarm_id)

    def setpoints(self) -> list[Setpoint]:
        values, _ = self.state.values(self.clock())
        return [
            Setpoint(
                p.name,
                p.device,
                p.unit,
                p.write_min,
                p.write_max,
                _finite(float(values[p.index])),
                p.description,
            )
            for p in self.state.points
            if p.writable and p.register_type in ("holding_register", "coil")
        ]

    def read(self, point: str) -> float | None:
        return self.state.sample(point, self.clock()).value

    async def write_setpoint(self, point: str, value: float) -> None:
        p = self.registry.by_name.get(point)
        if p is None or not p.writable:
            raise SetpointRefused(f"{point} is not a writable point")
        if not math.isfinite(value):
            raise SetpointRefused("not a number")
        if (p.write_min is not None and value < p.write_min) or (
            p.write_max is not None and value > p.write_max
        ):
            raise SetpointRefused(
                f"{value:g} {p.unit} is outside [{p.write_min:g}, {p.write_max:g}]"
            )
        if self.writer is None:
            raise SetpointRefused("read-only source: no collector to write through")
        try:
            await self.writer(point, value)
        except Exception as error:  # the collector's or the device's refusal
            raise SetpointRefused(str(error) or type(error).__name__) from error

    def events(self) -> list[tuple[str, str]]:
        return EVENTS if self.control else []

    def start_event(self, kind: str) -> str:
        if self.control is None:
            raise RuntimeError("not a simulated site")
        return self.control.start_event(kind)

    def fault_kinds(self) -> tuple[str, ...]:
        return FAULT_KINDS if self.control else ()

    def inject_fault(self, device: str, kind: str) -> str:
        if self.control is None:
            raise RuntimeError("not a simulated site")
        return self.control.inject_fault(device, kind)

    def device_names(self) -> Iterable[str]:
        return self._by_device.keys()


@dataclass
class FrozenClock:
    """A settable clock for deterministic snapshots."""

    now: float = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
    _: list = field(default_factory=list)

    def __call__(self) -> float:
        return self.now
