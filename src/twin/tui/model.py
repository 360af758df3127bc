"""The dashboard's view model: what the screens show, read from :mod:`twin.live` only.

A :class:`Source` hands the app one immutable :class:`Snapshot` per refresh tick and
takes the operator's few commands (acknowledge, shelve, setpoint write, and on a
simulated site a scenario event or a device fault). Screens never see a device, a
socket or the plant; they render snapshots.

:class:`LiveSource` is the adapter over the live layer: a
:class:`~twin.live.state.LiveState` (latest values, qualities, rings), the site's
:class:`~twin.live.metrics.SiteMetrics` (PUE by category, energy windows, pPUE, WUE,
CUE, redundancy, battery runtime) and its :class:`~twin.live.alarms.AlarmEngine`
(ISA-18.2 states). The dashboard computes no metric and keeps no alarm of its own:
acknowledging or shelving from a screen changes the engine's alarm, the same one
``twin run`` sends to the sinks.

Per tick the work is vectorised: every row of the power and cooling trees, every rack
and every device has its registry indices resolved once, at start; a tick gathers
values with one fancy index per kind of row and re-formats only rows whose inputs
changed.

The setpoint write is the one back-edge (docs/architecture.md §1): it goes to the collector's own
protocol write, never to the plant's memory.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from twin.live.alarms import AlarmEngine, AlarmState, load_rules
from twin.live.metrics import SiteMetrics
from twin.live.metrics import Snapshot as MetricsSnapshot
from twin.live.metrics import Value as MetricValue
from twin.live.state import LiveState
from twin.paths import data_path
from twin.points.quality import Quality
from twin.points.registry import PointDef, Registry

# ----------------------------------------------------------------------------- records

PRIORITIES = ("urgent", "high", "medium", "low")  # the alarm engine's, most urgent first
TREND_POINTS = 60


@dataclass(frozen=True, slots=True)
class Overview:
    pue: float
    pue_quality: str  # good / stale / bad (of the metric, from its points)
    pue_category: str
    pue_windows: tuple[tuple[str, float, str], ...]  # (window, energy-based PUE, quality)
    it_kw: float
    facility_kw: float
    cooling_kw: float
    power_loss_kw: float
    ppue_cooling: float
    ppue_power: float
    wue_l_per_kwh: float
    cue_kg_per_kwh: float
    t_dry_c: float
    t_wet_c: float
    cooling_mode: str
    trend_pue: tuple[float, ...] = ()
    trend_it_kw: tuple[float, ...] = ()
    trend_facility_kw: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class AlarmRow:
    id: str  # the engine's alarm key, ``rule:source``
    priority: str
    state: str  # the engine's state: unacked, acked, rtn_unacked, shelved, suppressed…
    ts: float  # time of the last state change
    point: str
    value: float | None
    message: str  # the operator's message, value and unit filled in (Alarm.message)
    shelved_until: float | None = None
    unit: str = ""  # the unit of ``value`` as shown (°C, kW, K/min…)
    first_out: str | None = None  # the id of the alarm this one is a consequence of


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
    alarm_rate: float  # alarms annunciated in the last 10 minutes
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


def default_rules_path(site: str) -> Path | None:
    """The site's own alarm rules, ``configs/alarms/<site>.toml``, if shipped."""
    path = data_path("configs", "alarms") / f"{site}.toml"
    return path if path.is_file() else None


# ------------------------------------------------------------------ row groups


def _fmt(x: float, spec: str) -> str:
    return "—" if x != x else format(x, spec)


def _bit(x: float) -> bool:
    return x > 0.5  # NaN (bad or never read) is not set


def _mv(value: MetricValue | None) -> float:
    return math.nan if value is None or value.value is None else float(value.value)


Formatter = Callable[[str, str, list[float]], TreeRow]


class RowGroup:
    """Rows of one kind (all transformers, all CDUs…) and the points each row reads.

    ``names[i]`` lists the points row ``i`` shows, resolved to registry indices once
    (a missing point reads NaN). :meth:`rows` gathers every row's values with one
    fancy index and formats again only the rows whose values changed.
    """

    def __init__(
        self,
        index: dict[str, int],
        nan_slot: int,
        keys: Sequence[str],
        labels: Sequence[str],
        names: Sequence[Sequence[str]],
        fmt: Formatter,
    ) -> None:
        self.keys = list(keys)
        self.labels = list(labels)
        width = max((len(n) for n in names), default=0)
        self.idx = np.full((len(self.keys), width), nan_slot, dtype=np.int64)
        for i, row in enumerate(names):
            for j, name in enumerate(row):
                self.idx[i, j] = index.get(name, nan_slot)
        self.fmt = fmt
        self._last: np.ndarray | None = None
        self._rows: list[TreeRow] = []

    def values(self, ext: np.ndarray) -> np.ndarray:
        return ext[self.idx]

    def rows(self, ext: np.ndarray, extra: np.ndarray | None = None) -> list[TreeRow]:
        m = ext[self.idx]
        if extra is not None:
            m = np.column_stack([m, extra])
        last = self._last
        if last is None or last.shape != m.shape:
            changed = np.arange(len(self.keys))
            self._rows = [None] * len(self.keys)  # type: ignore[list-item]
        else:
            same = (m == last) | (np.isnan(m) & np.isnan(last))
            changed = np.flatnonzero(~same.all(axis=1))
        for i, vals in zip(changed.tolist(), m[changed].tolist(), strict=True):
            self._rows[i] = self.fmt(self.keys[i], self.labels[i], vals)
        self._last = m
        return self._rows


# ------------------------------------------------------------------------ the adapter


class LiveSource:
    """The view model over the live layer: state, site metrics and the alarm engine.

    ``metrics`` and ``alarms`` are the live layer's own objects (``twin run`` passes
    the ones that also feed the sinks); when not given they are created here, the
    alarms from the site's default rules file. ``drive`` says whether this source
    updates them on every snapshot (default: when it created them); a composition
    root that updates them elsewhere passes ``drive=False`` and the ``lock`` it
    holds while updating, so an acknowledgement never interleaves an evaluation.
    """

    def __init__(
        self,
        state: LiveState,
        site: str = "",
        metrics: SiteMetrics | None = None,
        alarms: AlarmEngine | None = None,
        writer: Callable[[str, float], Awaitable[None]] | None = None,
        control: SimControl | None = None,
        stats: Callable[[], dict[str, tuple[float | None, int]]] | None = None,
        clock: Callable[[], float] = time.time,
        drive: bool | None = None,
        lock: threading.Lock | threading.RLock | None = None,
        carbon_kg_per_kwh: float | None = None,
    ) -> None:
        self.state = state
        self.registry: Registry = state.registry
        self.site = site or next((p.site for p in state.points if p.site), "site")
        created = metrics is None or alarms is None
        if metrics is None:
            metrics = (
                SiteMetrics(state)
                if carbon_kg_per_kwh is None
                else SiteMetrics(state, carbon_kg_per_kwh=carbon_kg_per_kwh)
            )
        if alarms is None:
            rules_path = default_rules_path(self.site)
            alarms = AlarmEngine(load_rules(rules_path) if rules_path else [], state, metrics)
        self.metrics = metrics
        self.alarms = alarms
        self.drive = created if drive is None else drive
        self.lock = lock if lock is not None else threading.RLock()
        self.writer = writer
        self.control = control
        self.simulated = control is not None
        self.stats = stats
        self.clock = clock
        self._snapshot_lock = threading.Lock()  # one snapshot at a time (row caches)
        self._trend: deque[tuple[float, float, float, float]] = deque(maxlen=TREND_POINTS)
        pts = state.points
        self._nan_slot = len(pts)
        self._by_device: dict[str, list[PointDef]] = {}
        for p in pts:
            self._by_device.setdefault(p.device, []).append(p)
        self._build_devices()
        self._build_racks()
        self._build_overview()
        self._build_power()
        self._build_cooling()

    # ------------------------------------------------------------ index building

    def _devices_of(self, *equipment: str) -> list[str]:
        return [d for d, pts in self._by_device.items() if pts[0].equipment in equipment]

    def _group(
        self,
        keys: Sequence[str],
        names: Sequence[Sequence[str]],
        fmt: Formatter,
        labels: Sequence[str] | None = None,
    ) -> RowGroup:
        return RowGroup(self.state.index, self._nan_slot, keys, labels or list(keys), names, fmt)

    def _fields(self, devices: Sequence[str], fields: Sequence[str]) -> list[list[str]]:
        return [[f"{d}.{f}" for f in fields] for d in devices]

    def _idx(self, names: Sequence[str]) -> np.ndarray:
        return np.array([self.state.index.get(n, self._nan_slot) for n in names], dtype=np.int64)

    def _build_devices(self) -> None:
        devices = list(self._by_device)
        self._device_names = devices
        number = {d: i for i, d in enumerate(devices)}
        self._point_device = np.array([number[p.device] for p in self.state.points], dtype=np.int64)
        self._device_order = np.argsort(self._point_device, kind="stable")
        counts = np.bincount(self._point_device, minlength=len(devices))
        self._device_starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        info = []
        for d in devices:
            first = self._by_device[d][0]
            if first.modbus:
                protocol, address = "modbus-tcp", f"{first.host}:{first.port}/{first.unit_id}"
            else:
                protocol, address = "opc-ua", first.opcua_endpoint or ""
            info.append((first.equipment, protocol, address))
        self._device_info = info
        self._device_rows: list[DeviceRow | None] = [None] * len(devices)
        self._device_keys: list[tuple | None] = [None] * len(devices)

    def _build_racks(self) -> None:
        racks = self._devices_of("rack", "gpu-rack")
        first = [self._by_device[d][0] for d in racks]
        self._rack_names = tuple(racks)
        self._rack_halls = tuple(p.hall or p.area for p in first)
        self._rack_liquid = np.array([p.equipment == "gpu-rack" for p in first], dtype=bool)
        self._rack_inlet = self._idx([f"{d}.t_inlet_c" for d in racks])
        self._rack_return = self._idx([f"{d}.t_coolant_return_c" for d in racks])
        self._rack_power = self._idx([f"{d}.power_kw" for d in racks])

    def _build_overview(self) -> None:
        chillers = self._devices_of("chiller")
        self._chillers = len(chillers)
        self._chiller_running = self._idx([f"{c}.running" for c in chillers])
        self._chiller_economiser = self._idx([f"{c}.status.economiser_mode" for c in chillers])
        self._outdoor = self._idx(["site-meter.t_outdoor_dry_c", "site-meter.t_outdoor_wet_c"])

    # ------------------------------------------------------------ power tree

    def _build_power(self) -> None:
        site = self.site
        entries: list[tuple[RowGroup, int] | Callable[[], TreeRow]] = []

        def site_row(key: str, label: str, v: list[float]) -> TreeRow:
            facility, utility, generator = v
            return TreeRow(
                key,
                0,
                label,
                f"{_fmt(facility, ',.0f')} kW",
                None,
                f"utility {_fmt(utility, ',.0f')} kW · generator {_fmt(generator, ',.0f')} kW",
                "ok",
            )

        meter = self._group(
            ["site"],
            self._fields(
                ["site-meter"], ("facility_power_kw", "utility_power_kw", "generator_power_kw")
            ),
            site_row,
            [site],
        )
        self._power_groups = [meter]
        entries.append((meter, 0))

        def feed_row(key: str, label: str, v: list[float]) -> TreeRow:
            ok = _bit(v[0])
            return TreeRow(
                key, 1, label, "", None, "utility" if ok else "LOST", "ok" if ok else "alarm"
            )

        feeds = self._group(
            ["feed-A", "feed-B"],
            [["site-meter.feed_a_ok"], ["site-meter.feed_b_ok"]],
            feed_row,
            ["Feed A", "Feed B"],
        )

        def ats_row(key: str, label: str, v: list[float]) -> TreeRow:
            load, on_gen = v
            gen = _bit(on_gen)
            return TreeRow(
                key,
                2,
                label,
                f"{_fmt(load, ',.0f')} kW",
                None,
                "on generator" if gen else "on utility",
                "warn" if gen else "ok",
            )

        atses = [a for a in ("ats-A", "ats-B") if a in self._by_device]
        ats = self._group(atses, self._fields(atses, ("load_kw", "on_generator")), ats_row)

        def tx_row(key: str, label: str, v: list[float]) -> TreeRow:
            load, pct, loss, energised = v
            eff = 100 * (1 - loss / load) if load > 0 else math.nan
            return TreeRow(
                key,
                3,
                label,
                f"{_fmt(load, ',.0f')} kW",
                pct,
                f"eff {_fmt(eff, '5.1f')} %",
                "ok" if _bit(energised) else "off",
            )

        transformers = self._devices_of("transformer")
        txs = self._group(
            transformers,
            self._fields(transformers, ("load_kw", "load_pct", "loss_kw", "energised")),
            tx_row,
        )
        self._power_groups += [feeds, ats, txs]
        for f, feed in enumerate("AB"):
            entries.append((feeds, f))
            if f"ats-{feed}" in atses:
                entries.append((ats, atses.index(f"ats-{feed}")))
            entries += [(txs, i) for i, t in enumerate(transformers) if t.startswith(f"tx-{feed}")]

        generators = self._devices_of("generator")
        gen_power = self._idx([f"{g}.power_kw" for g in generators])
        gen_running = self._idx([f"{g}.running" for g in generators])
        if generators:

            def generators_row() -> TreeRow:
                ext = self._ext
                running = int(np.sum(ext[gen_running] > 0.5))
                total = float(np.nansum(ext[gen_power]))
                return TreeRow(
                    "generators",
                    1,
                    "Generators",
                    f"{total:,.0f} kW",
                    None,
                    f"{running}/{len(generators)} running",
                    "warn" if running else "ok",
                )

            entries.append(generators_row)

        # UPS / HVDC systems, grouped as the metrics group them (redundancy, headroom).
        units = self._devices_of("ups", "hvdc")
        unit_fields = (
            "output_kw",
            "input_kw",
            "battery_soc_pct",
            "on_battery",
            "fault",
            "load_pct",
            "online",
        )

        def unit_row(key: str, label: str, v: list[float]) -> TreeRow:
            out, inp, soc, on_batt, fault, pct, _online, runtime = v
            eff = 100 * out / inp if inp > 0 else math.nan
            batt = _bit(on_batt)
            mode = "ON BATTERY" if batt else "online"
            minutes = "" if runtime != runtime else f" · {runtime:,.0f} min"
            return TreeRow(
                key,
                2,
                label,
                f"{_fmt(out, ',.0f')} kW",
                pct,
                f"eff {_fmt(eff, '5.1f')} % · SoC {_fmt(soc, '3.0f')} %{minutes} · {mode}",
                "alarm" if _bit(fault) else "warn" if batt else "ok",
            )

        self._units = self._group(units, self._fields(units, unit_fields), unit_row)
        self._unit_names = units

        def pdu_row(key: str, label: str, v: list[float]) -> TreeRow:
            power, pct, loss = v
            return TreeRow(
                key,
                3,
                label,
                f"{_fmt(power, ',.0f')} kW",
                pct,
                f"loss {_fmt(loss, '.1f')} kW",
                "ok",
            )

        pdus = self._devices_of("pdu")
        parent = {}
        for pdu in pdus:  # a PDU hangs under the longest unit name it starts with
            owner = max((u for u in units if pdu.startswith(f"{u}-")), key=len, default=None)
            if owner is not None:
                parent[pdu] = owner
        children: dict[str, list[int]] = {}
        shown_pdus = [p for p in pdus if p in parent]
        for i, p in enumerate(shown_pdus):
            children.setdefault(parent[p], []).append(i)
        pdu_group = self._group(
            shown_pdus,
            self._fields(shown_pdus, ("power_kw", "load_pct", "loss_kw")),
            pdu_row,
            [p.removeprefix(f"{parent[p]}-") for p in shown_pdus],
        )
        self._power_groups += [self._units, pdu_group]

        systems: dict[str, list[int]] = {}
        for i, u in enumerate(units):
            first = self._by_device[u][0]
            name = (first.group or first.hall or "site").partition("/")[0]
            systems.setdefault(name, []).append(i)
        online_col = unit_fields.index("online")
        for name, members in systems.items():
            member_idx = self._units.idx[members, online_col]

            def system_row(name: str = name, member_idx: np.ndarray = member_idx) -> TreeRow:
                online = int(np.sum(self._ext[member_idx] > 0.5))
                total = len(member_idx)
                info = self._metrics_snapshot.systems.get(name) if self._metrics_snapshot else None
                if info is None:
                    redundancy, headroom, state = "—", "", "ok"
                else:
                    redundancy = info["redundancy"]
                    headroom = f" · headroom {info['headroom_kw']:,.0f} kW"
                    state = "warn" if redundancy in ("N", "overloaded") else "ok"
                    if info["quality"] != "good":
                        redundancy += f" ({info['quality']})"
                if online < total:
                    state = "warn"
                load = "" if info is None else f"{info['load_kw']:,.0f} kW"
                pct = (
                    100 * info["load_kw"] / info["capacity_kw"]
                    if info is not None and info["capacity_kw"] > 0
                    else None
                )
                return TreeRow(
                    name,
                    1,
                    name,
                    load,
                    pct,
                    f"{redundancy}{headroom} · {online}/{total} online",
                    state,
                )

            entries.append(system_row)
            for i in members:
                entries.append((self._units, i))
                entries += [(pdu_group, j) for j in children.get(units[i], [])]
        self._power_entries = entries

    def _unit_runtime(self) -> np.ndarray:
        runtime = self._metrics_snapshot.battery_runtime_min if self._metrics_snapshot else {}
        return np.array([_mv(runtime.get(u)) for u in self._unit_names], dtype=float)

    # ---------------------------------------------------------- cooling tree

    def _build_cooling(self) -> None:
        entries: list[tuple[RowGroup, int] | Callable[[], TreeRow]] = []
        towers = self._devices_of("tower", "drycooler")
        pumps = self._devices_of("pump")
        if towers or pumps:
            fw = TreeRow(
                "fw",
                0,
                "Facility water loop",
                "",
                None,
                "ASHRAE W45: facility water supply ≤ 45 °C",
                "ok",
            )
            entries.append(lambda: fw)

        def tower_row(key: str, label: str, v: list[float]) -> TreeRow:
            fan_kw, speed, t_out, t_in, t_wb, fault = v
            return TreeRow(
                key,
                1,
                label,
                f"{_fmt(fan_kw, ',.1f')} kW",
                speed,
                f"out {_fmt(t_out, '4.1f')} °C · in {_fmt(t_in, '4.1f')} °C · approach "
                f"{_fmt(t_out - t_wb, '4.1f')} K",
                "alarm" if _bit(fault) else "ok",
            )

        # A tower's approach is to the wet bulb, a dry cooler's to the dry bulb.
        air = {"tower": "t_wet_bulb_c", "drycooler": "t_dry_bulb_c"}
        tower_fields = [
            [
                f"{d}.{f}"
                for f in (
                    "fan_power_kw",
                    "fan_speed_pct",
                    "t_water_out_c",
                    "t_water_in_c",
                    air[self._by_device[d][0].equipment],
                    "fan_fault",
                )
            ]
            for d in towers
        ]
        tower_group = self._group(towers, tower_fields, tower_row)
        entries += [(tower_group, i) for i in range(len(towers))]

        def pump_row(key: str, label: str, v: list[float]) -> TreeRow:
            power, speed, flow, running = v
            return TreeRow(
                key,
                1,
                label,
                f"{_fmt(power, ',.1f')} kW",
                speed,
                f"flow {_fmt(flow, ',.0f')} m³/h",
                "ok" if _bit(running) else "off",
            )

        pump_group = self._group(
            pumps, self._fields(pumps, ("power_kw", "speed_pct", "flow_m3_h", "running")), pump_row
        )
        entries += [(pump_group, i) for i in range(len(pumps))]

        def cdu_row(key: str, label: str, v: list[float]) -> TreeRow:
            heat, speed, sup, ret, setp, flow, valve, high, f1, f2 = v
            fault = _bit(f1) or _bit(f2)
            return TreeRow(
                key,
                1,
                label,
                f"{_fmt(heat, ',.0f')} kW",
                speed,
                f"sup {_fmt(sup, '4.1f')} (set {_fmt(setp, '4.1f')}) · ret {_fmt(ret, '4.1f')} °C"
                f" · {_fmt(flow, '5.1f')} kg/s · valve {_fmt(valve, '3.0f')} %",
                "alarm" if fault else "warn" if _bit(high) else "ok",
            )

        cdus = self._devices_of("cdu")
        cdu_group = self._group(
            cdus,
            self._fields(
                cdus,
                (
                    "heat_kw",
                    "pump_speed_pct",
                    "t_supply_c",
                    "t_return_c",
                    "t_supply_set_c",
                    "flow_kg_s",
                    "valve_pct",
                    "status.supply_high",
                    "status.pump1_fault",
                    "status.pump2_fault",
                ),
            ),
            cdu_row,
        )
        entries += [(cdu_group, i) for i in range(len(cdus))]
        if cdus:
            halls = dict.fromkeys(self._by_device[c][0].hall for c in cdus)
            rack_halls = np.array(self._rack_halls, dtype=object)
            for hall in halls:
                sel = (rack_halls == hall) & self._rack_liquid
                if not sel.any():
                    continue
                ret_idx, power_idx, count = self._rack_return[sel], self._rack_power[sel], sel.sum()

                def racks_row(
                    hall: str | None = hall,
                    ret_idx: np.ndarray = ret_idx,
                    power_idx: np.ndarray = power_idx,
                    count: int = int(count),
                ) -> TreeRow:
                    ret = self._ext[ret_idx]
                    top = float(np.nanmax(ret)) if np.isfinite(ret).any() else math.nan
                    return TreeRow(
                        f"{hall}-racks",
                        2,
                        f"{hall} cold-plate racks ({count})",
                        f"{np.nansum(self._ext[power_idx]):,.0f} kW",
                        None,
                        f"return max {_fmt(top, '4.1f')} °C · ASHRAE W32/W45 TCS",
                        "ok",
                    )

                entries.append(racks_row)

        chillers = self._devices_of("chiller")
        if chillers:
            chw = TreeRow("chw", 0, "Chilled water", "", None, "", "ok")
            entries.append(lambda: chw)

        def chiller_row(key: str, label: str, v: list[float]) -> TreeRow:
            power, pct, chw_s, chw_r, cw_s, cw_r, tripped, running = v
            return TreeRow(
                key,
                1,
                label,
                f"{_fmt(power, ',.0f')} kW",
                pct,
                f"chw {_fmt(chw_s, '4.1f')}/{_fmt(chw_r, '4.1f')} °C · cw "
                f"{_fmt(cw_s, '4.1f')}/{_fmt(cw_r, '4.1f')} °C",
                "alarm" if _bit(tripped) else "ok" if _bit(running) else "off",
            )

        chiller_group = self._group(
            chillers,
            self._fields(
                chillers,
                (
                    "power_kw",
                    "load_pct",
                    "t_chw_supply_c",
                    "t_chw_return_c",
                    "t_cw_supply_c",
                    "t_cw_return_c",
                    "tripped",
                    "running",
                ),
            ),
            chiller_row,
        )
        entries += [(chiller_group, i) for i in range(len(chillers))]
        crahs = self._devices_of("crah")
        if crahs:
            air = TreeRow(
                "air", 0, "Air side (CRAH)", "", None, "ASHRAE A1 recommended inlet 18-27 °C", "ok"
            )
            entries.append(lambda: air)

        def crah_row(key: str, label: str, v: list[float]) -> TreeRow:
            heat, speed, hall_air, valve, setp = v
            return TreeRow(
                key,
                1,
                label,
                f"{_fmt(heat, ',.0f')} kW",
                speed,
                f"hall air {_fmt(hall_air, '4.1f')} °C · valve {_fmt(valve, '3.0f')} % · set "
                f"{_fmt(setp, '4.1f')} °C",
                "ok",
            )

        crah_group = self._group(
            crahs,
            self._fields(
                crahs,
                ("heat_kw", "fan_speed_pct", "t_hall_air_c", "valve_pct", "t_supply_air_set_c"),
            ),
            crah_row,
        )
        entries += [(crah_group, i) for i in range(len(crahs))]
        self._cooling_groups = [tower_group, pump_group, cdu_group, chiller_group, crah_group]
        self._cooling_entries = entries

    # ------------------------------------------------------------ per tick

    _ext: np.ndarray = np.zeros(1)
    _metrics_snapshot: MetricsSnapshot | None = None

    @staticmethod
    def _assemble(
        entries: list[tuple[RowGroup, int] | Callable[[], TreeRow]],
        rows_of: dict[int, list[TreeRow]],
    ) -> tuple[TreeRow, ...]:
        out = []
        for entry in entries:
            if isinstance(entry, tuple):
                out.append(rows_of[id(entry[0])][entry[1]])
            else:
                out.append(entry())
        return tuple(out)

    def _power(self) -> tuple[TreeRow, ...]:
        rows_of = {id(g): g.rows(self._ext) for g in self._power_groups if g is not self._units}
        rows_of[id(self._units)] = self._units.rows(self._ext, self._unit_runtime())
        return self._assemble(self._power_entries, rows_of)

    def _cooling(self) -> tuple[TreeRow, ...]:
        rows_of = {id(g): g.rows(self._ext) for g in self._cooling_groups}
        return self._assemble(self._cooling_entries, rows_of)

    def _overview(self, m: MetricsSnapshot | None) -> Overview:
        ext = self._ext
        if self._chillers == 0:
            mode = "free cooling (no chillers)"
        else:
            running = int(np.sum(ext[self._chiller_running] > 0.5))
            economiser = int(np.sum(ext[self._chiller_economiser] > 0.5))
            plural = "s" * (running > 1)
            if running == 0:
                mode = "free cooling"
            elif economiser:
                mode = f"partial free cooling ({running} chiller{plural})"
            else:
                mode = f"mechanical ({running} chiller{plural})"
        t_dry, t_wet = (float(x) for x in ext[self._outdoor])
        trend = list(self._trend)
        if m is None:
            nan = math.nan
            return Overview(
                nan, "bad", "none", (), nan, nan, nan, nan, nan, nan, nan, nan, t_dry, t_wet, mode
            )
        it = _mv(m.it_kw)
        ppue_cooling, ppue_power = _mv(m.ppue_cooling), _mv(m.ppue_power)
        return Overview(
            pue=_mv(m.pue),
            pue_quality=m.pue.quality.label,
            pue_category=m.category,
            pue_windows=tuple((name, _mv(v), v.quality.label) for name, v in m.pue_energy.items()),
            it_kw=it,
            facility_kw=_mv(m.facility_kw),
            cooling_kw=(ppue_cooling - 1.0) * it,  # pPUE = (IT + cooling) / IT
            power_loss_kw=(ppue_power - 1.0) * it,
            ppue_cooling=ppue_cooling,
            ppue_power=ppue_power,
            wue_l_per_kwh=_mv(m.wue_l_per_kwh),
            cue_kg_per_kwh=_mv(m.cue_kg_per_kwh),
            t_dry_c=t_dry,
            t_wet_c=t_wet,
            cooling_mode=mode,
            trend_pue=tuple(0.0 if t[1] != t[1] else t[1] for t in trend),
            trend_it_kw=tuple(0.0 if t[2] != t[2] else t[2] for t in trend),
            trend_facility_kw=tuple(0.0 if t[3] != t[3] else t[3] for t in trend),
        )

    def _devices(self, quality: np.ndarray) -> tuple[tuple[DeviceRow, ...], dict[str, int]]:
        stats = self.stats() if self.stats else {}
        n = len(self._device_names)
        dev = self._point_device
        bad = np.bincount(dev, weights=quality == Quality.BAD, minlength=n) > 0
        not_good = np.bincount(dev, weights=quality != Quality.GOOD, minlength=n) > 0
        label = np.where(bad, 2, np.where(not_good, 1, 0))
        last_good = np.maximum.reduceat(self.state.good_ts[self._device_order], self._device_starts)
        names = ("good", "stale", "bad")
        counts = {k: int(c) for k, c in zip(names, np.bincount(label, minlength=3), strict=True)}
        rows = self._device_rows
        keys = self._device_keys
        for i, (q, t) in enumerate(zip(label.tolist(), last_good.tolist(), strict=True)):
            latency, errors = stats.get(self._device_names[i], (None, 0))
            key = (q, t, latency, errors)
            if keys[i] != key:
                keys[i] = key
                equipment, protocol, address = self._device_info[i]
                rows[i] = DeviceRow(
                    self._device_names[i],
                    equipment,
                    protocol,
                    address,
                    t,
                    latency,
                    errors,
                    names[q],
                )
        return tuple(rows), counts  # type: ignore[arg-type]

    def _alarm_rows(self, now: float) -> tuple[tuple[AlarmRow, ...], dict[str, int]]:
        with self.lock:
            alarms = [a for a in list(self.alarms.alarms.values()) if a.state != AlarmState.NORMAL]
        counts = {p: 0 for p in PRIORITIES}
        rows = []
        for a in alarms:
            state = a.state
            if state in (AlarmState.UNACKED, AlarmState.ACKED, AlarmState.RTN_UNACKED):
                counts[a.rule.priority] += 1
            rows.append(
                AlarmRow(
                    a.key,
                    a.rule.priority,
                    state.value,
                    a.since,
                    a.source,
                    a.value,
                    a.message,
                    a.shelved_until if state == AlarmState.SHELVED else None,
                    a.display_unit,
                    a.cause.key if a.cause is not None else None,
                )
            )
        rows.sort(key=lambda r: (PRIORITIES.index(r.priority), -r.ts, r.id))
        return tuple(rows), counts

    # ------------------------------------------------------------------ public

    def tick(self, now: float | None = None) -> MetricsSnapshot:
        """Update the metrics and evaluate the alarms once (when this source drives them)."""
        now = self.clock() if now is None else now
        with self.lock:
            snapshot = self.metrics.update(now)
            self.alarms.evaluate(now)
        self._record_trend(snapshot)
        return snapshot

    def _record_trend(self, m: MetricsSnapshot | None) -> None:
        if m is not None and (not self._trend or m.ts > self._trend[-1][0]):
            self._trend.append((m.ts, _mv(m.pue), _mv(m.it_kw), _mv(m.facility_kw)))

    def snapshot(self) -> Snapshot:
        with self._snapshot_lock:
            return self._snapshot()

    def _snapshot(self) -> Snapshot:
        now = self.clock()
        if self.drive:
            self.tick(now)
        m = self.metrics.last
        self._record_trend(m)
        self._metrics_snapshot = m
        values, quality = self.state.values(now)
        self._ext = np.append(values, np.nan)
        alarms, counts = self._alarm_rows(now)
        flood = self.alarms.flood(now)
        devices, device_counts = self._devices(quality)
        ext = self._ext
        racks = Racks(
            self._rack_names,
            self._rack_halls,
            ext[self._rack_inlet],
            ext[self._rack_return],
            ext[self._rack_power],
            self._rack_liquid,
        )
        return Snapshot(
            ts=now,
            site=self.site,
            overview=self._overview(m),
            alarms=alarms,
            alarm_counts=counts,
            flood=bool(flood["flood"]),
            alarm_rate=flood["per_10min"],
            devices=devices,
            device_counts=device_counts,
            power=self._power(),
            cooling=self._cooling(),
            racks=racks,
            simulated=self.simulated,
        )

    def ack(self, alarm_id: str) -> None:
        with self.lock:
            self.alarms.alarms[alarm_id].acknowledge(self.clock())

    def shelve(self, alarm_id: str, seconds: float) -> None:
        with self.lock:
            self.alarms.alarms[alarm_id].shelve(self.clock(), seconds)

    def unshelve(self, alarm_id: str) -> None:
        with self.lock:
            self.alarms.alarms[alarm_id].unshelve(self.clock())

    def setpoints(self) -> list[Setpoint]:
        values, _ = self.state.values(self.clock())
        return [
            Setpoint(
                p.name,
                p.device,
                p.unit,
                p.write_min,
                p.write_max,
                float(values[p.index]) if math.isfinite(values[p.index]) else math.nan,
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

    def __call__(self) -> float:
        return self.now
