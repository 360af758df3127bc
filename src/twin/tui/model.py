"""The dashboard's view model: what the screens show, read from :mod:`twin.live` only.

:class:`LiveSource` is the adapter over the live layer: a
:class:`~twin.live.state.LiveState` (latest values, qualities, rings), the site's
:class:`~twin.live.metrics.SiteMetrics` (PUE by category, energy windows, pPUE, WUE,
CUE, redundancy, battery runtime) and its :class:`~twin.live.alarms.AlarmEngine`
(ISA-18.2 states). The dashboard computes no metric and keeps no alarm of its own:
acknowledging or shelving from a screen changes the engine's alarm, the same one
``twin run`` sends to the sinks.

What is drawn is laid out from the registry's columns (``equipment``, ``area``,
``hall``, ``group``, ``role``, units), never from device names: the trees in
:mod:`twin.tui.sitetrees`, the racks here (a device with a rack-inlet and an
IT-input role). Per tick the work is vectorised: indices are resolved once, a tick
gathers values with one fancy index per kind of row and re-formats only rows whose
inputs changed.

The setpoint write is the one back-edge (docs/architecture.md §1): it goes to the
collector's own protocol write, never to the plant's memory.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import numpy as np

from twin.live.alarms import AlarmEngine, load_rules
from twin.live.metrics import SiteMetrics
from twin.live.metrics import Snapshot as MetricsSnapshot
from twin.live.metrics import Value as MetricValue
from twin.live.state import LiveState
from twin.paths import data_path
from twin.points.registry import PointDef, Registry
from twin.tui.alarmrows import alarm_rows
from twin.tui.commands import SourceCommands
from twin.tui.devices import DeviceTable
from twin.tui.oneline import OneLineModel
from twin.tui.records import (
    PRIORITIES,
    TREND_BUCKETS,
    TREND_POINTS,
    TREND_WINDOWS_S,
    AlarmRow,
    DeviceRow,
    FrozenClock,
    Overview,
    Racks,
    ScenarioInfo,
    Setpoint,
    SetpointRefused,
    SimControl,
    Snapshot,
    Source,
    TreeRow,
)
from twin.tui.rows import field_of, fmt_value
from twin.tui.sitetrees import SiteTrees
from twin.tui.trees import counts_text, worst

__all__ = [
    "PRIORITIES",
    "AlarmRow",
    "DeviceRow",
    "FrozenClock",
    "LiveSource",
    "Overview",
    "Racks",
    "ScenarioInfo",
    "Setpoint",
    "SetpointRefused",
    "SimControl",
    "Snapshot",
    "Source",
    "TreeRow",
]


def default_rules_path(site: str) -> Path | None:
    """The site's own alarm rules, ``configs/alarms/<site>.toml``, if shipped."""
    path = data_path("configs", "alarms") / f"{site}.toml"
    return path if path.is_file() else None


def _mv(value: MetricValue | None) -> float:
    return math.nan if value is None or value.value is None else float(value.value)


def _reason(value: MetricValue | None) -> str:
    """Why a metric is not good, when the metrics layer says (``Value.reason``)."""
    return str(getattr(value, "reason", "") or "") if value is not None else ""


class LiveSource(SourceCommands):
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
        self.trend_window_s = TREND_WINDOWS_S[0]  # the dashboard's `w` cycles it
        pts = state.points
        self._nan_slot = len(pts)
        self._by_device: dict[str, list[PointDef]] = {}
        for p in pts:
            self._by_device.setdefault(p.device, []).append(p)
        self._ext = np.full(len(pts) + 1, np.nan)
        self._metrics_snapshot: MetricsSnapshot | None = None
        self.device_table = DeviceTable(state, self._by_device, stats)
        self._device_number = self.device_table.number
        self._build_racks()
        self._build_overview()
        self.oneline = OneLineModel(self._by_device, state.index, self._nan_slot)
        self.trees = SiteTrees(
            self._by_device,
            state.index,
            self._nan_slot,
            self.site,
            {"power": self._power_root, "cooling": self._cooling_root},
        )

    # ------------------------------------------------------------ index building

    def _idx(self, names: Iterable[str]) -> np.ndarray:
        return np.array([self.state.index.get(n, self._nan_slot) for n in names], dtype=np.int64)

    def _field_idx(self, devices: Iterable[str], *candidates: str) -> np.ndarray:
        """Per device, its first point among ``candidates`` (field names), else the NaN slot."""
        out = []
        for d in devices:
            fields = {field_of(p): p.index for p in self._by_device[d]}
            out.append(next((fields[c] for c in candidates if c in fields), self._nan_slot))
        return np.array(out, dtype=np.int64)

    def _role_idx(self, devices: Iterable[str], role: str) -> np.ndarray:
        out = []
        for d in devices:
            out.append(
                next((p.index for p in self._by_device[d] if p.role == role), self._nan_slot)
            )
        return np.array(out, dtype=np.int64)

    def _build_racks(self) -> None:
        """Racks: devices that carry both a rack-inlet and an IT-input role."""
        racks = [
            d
            for d, pts in self._by_device.items()
            if {"rack_inlet_c", "it_input_kw"} <= {p.role for p in pts}
        ]
        first = [self._by_device[d][0] for d in racks]
        self._rack_names = tuple(racks)
        self._rack_halls = tuple(p.hall or p.area or self.site for p in first)
        self._rack_inlet = self._role_idx(racks, "rack_inlet_c")
        self._rack_power = self._role_idx(racks, "it_input_kw")
        self._rack_return = self._field_idx(racks, "t_coolant_return_c", "t_return_c")
        self._rack_plate = self._field_idx(racks, "t_cold_plate_c", "t_plate_c")
        self._rack_liquid = (self._rack_return != self._nan_slot) | (
            self._rack_plate != self._nan_slot
        )

    def _build_overview(self) -> None:
        chillers = [d for d, pts in self._by_device.items() if pts[0].equipment == "chiller"]
        self._chillers = len(chillers)
        self._chiller_running = self._field_idx(chillers, "running", "status.running")
        self._chiller_economiser = self._field_idx(
            chillers, "status.economiser_mode", "economiser_mode"
        )
        outdoor = {field_of(p): p.index for p in self.state.points}
        self._outdoor = np.array(
            [outdoor.get(f, self._nan_slot) for f in ("t_outdoor_dry_c", "t_outdoor_wet_c")],
            dtype=np.int64,
        )
        roles: dict[str, list[int]] = {}
        for p in self.state.points:
            if p.role:
                roles.setdefault(p.role, []).append(p.index)
        self._role_points = {r: np.array(ix, dtype=np.int64) for r, ix in roles.items()}

    # -------------------------------------------------------------- tree roots

    def _role_sum(self, role: str) -> float:
        idx = self._role_points.get(role)
        if idx is None:
            return math.nan
        values = self._ext[idx]
        return float(np.nansum(values)) if np.isfinite(values).any() else math.nan

    def _power_root(self, children: list[TreeRow]) -> TreeRow:
        m = self._metrics_snapshot
        parts = []
        for role, words in (("utility_kw", "utility"), ("generator_kw", "generator")):
            value = self._role_sum(role)
            if value == value:
                parts.append(f"{words} {fmt_value(value, 'kW')}")
        it = _mv(m.it_kw) if m else math.nan
        if it == it:
            parts.append(f"IT {fmt_value(it, 'kW')}")
        parts.append(counts_text(children, "areas"))
        facility = _mv(m.facility_kw) if m else self._role_sum("facility_kw")
        return TreeRow(
            "power",
            0,
            self.site,
            fmt_value(facility, "kW"),
            None,
            " · ".join(parts),
            worst(children),
        )

    def _cooling_root(self, children: list[TreeRow]) -> TreeRow:
        cooling = self._role_sum("cooling_kw")
        detail = f"{self._mode()} · {counts_text(children, 'areas')}"
        return TreeRow(
            "cooling", 0, "Cooling", fmt_value(cooling, "kW"), None, detail, worst(children)
        )

    # ------------------------------------------------------------ per tick

    def _mode(self) -> str:
        ext = self._ext
        if self._chillers == 0:
            return "free cooling (no chillers)"
        running_values = ext[self._chiller_running]
        if np.isnan(running_values).all():
            return "not read yet"
        running = int(np.sum(running_values > 0.5))
        economiser = int(np.sum(ext[self._chiller_economiser] > 0.5))
        plural = "s" * (running > 1)
        if running == 0:
            return "free cooling"
        if economiser:
            return f"partial free cooling ({running} chiller{plural})"
        return f"mechanical ({running} chiller{plural})"

    def _overview(self, m: MetricsSnapshot | None) -> Overview:
        mode = self._mode()
        t_dry, t_wet = (float(x) for x in self._ext[self._outdoor])
        trend = list(self._trend)
        if m is None:
            nan = math.nan
            return Overview(
                nan, "bad", "none", (), nan, nan, nan, nan, nan, nan, nan, nan, t_dry, t_wet, mode,
                pue_reason="no metrics yet",
            )  # fmt: skip
        it = _mv(m.it_kw)
        ppue_cooling, ppue_power = _mv(m.ppue_cooling), _mv(m.ppue_power)

        window = self.trend_window_s
        recent = [t for t in trend if t[0] >= m.ts - window]
        stamps = np.array([t[0] for t in recent])
        bucket_s = max(1.0, window / TREND_BUCKETS)

        def series(column: int) -> tuple[float, ...]:
            # A sparkline needs numbers: an unknown instant is left out, not drawn as 0;
            # a window longer than the bars drawn shows each bar's mean.
            values = np.array([t[column] for t in recent])
            known = np.isfinite(values)
            if bucket_s <= 1.0 or not known.any():
                return tuple(values[known].tolist())
            slot = ((stamps[known] - stamps[known][0]) // bucket_s).astype(np.int64)
            sums = np.bincount(slot, weights=values[known])
            counts = np.bincount(slot)
            filled = counts > 0
            return tuple((sums[filled] / counts[filled]).tolist())

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
            trend_pue=series(1),
            trend_it_kw=series(2),
            trend_facility_kw=series(3),
            pue_reason=_reason(m.pue),
            trend_window_s=window,
        )

    def _runtime(self) -> None:
        runtime = self.trees.runtime
        runtime[:] = np.nan
        m = self._metrics_snapshot
        for device, value in m.battery_runtime_min.items() if m else ():
            number = self._device_number.get(device)
            if number is not None:
                runtime[number] = _mv(value)

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
        self._ext = ext = np.append(values, np.nan)
        alarms, counts, newest = alarm_rows(
            self.alarms, self.lock, self.registry, self._device_number, self.trees.levels
        )
        self._runtime()
        self.trees.systems = m.systems if m is not None else {}
        trees = self.trees.rows(ext)
        flood = self.alarms.flood(now)
        devices, device_counts = self.device_table.rows(quality)
        racks = Racks(
            self._rack_names,
            self._rack_halls,
            ext[self._rack_inlet],
            ext[self._rack_return],
            ext[self._rack_power],
            self._rack_liquid,
            ext[self._rack_plate],
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
            power=trees["power"],
            cooling=trees["cooling"],
            racks=racks,
            simulated=self.simulated,
            newest_alarm=newest,
            oneline=self.oneline.read(
                ext, {d: _mv(v) for d, v in m.battery_runtime_min.items()} if m else None
            ),
        )

    def device_names(self) -> Iterable[str]:
        return self._by_device.keys()
