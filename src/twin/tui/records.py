"""What the screens render: immutable records of one refresh, and the source protocol.

A :class:`Source` hands the app one :class:`Snapshot` per tick and takes the
operator's few commands. Screens never see a device, a socket or the plant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np

from twin.tui.oneline import OneLine

PRIORITIES = ("urgent", "high", "medium", "low")  # the alarm engine's, most urgent first
TREND_POINTS = 3600  # an hour of snapshots at one a second: the longest trend window
TREND_WINDOWS_S = (60.0, 600.0, 3600.0)  # what `w` cycles through on the overview
TREND_BUCKETS = 120  # a sparkline is at most this many bars: longer windows are averaged


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
    pue_reason: str = ""  # why the PUE is not good, as the metrics layer says
    trend_window_s: float = 60.0  # the span the trend series cover


@dataclass(frozen=True, slots=True)
class AlarmRow:
    id: str  # the engine's alarm key, ``rule:source``
    priority: str
    state: str  # the engine's state: unacked, acked, rtn_unacked, shelved, suppressed…
    ts: float  # time of the last state change
    point: str
    value: float | None
    message: str
    shelved_until: float | None = None
    unit: str = ""  # display symbol of the value's unit (°C, kW, %)


class DeviceRow(NamedTuple):
    """One device's comms (a named tuple: ~3,000 are rebuilt a tick at 100 MW)."""

    name: str
    equipment: str
    protocol: str
    address: str
    last_good: float  # UNIX s, 0 = never
    latency_ms: float | None
    errors: int
    quality: str


class TreeRow(NamedTuple):
    """One line of a one-line diagram, already flattened (depth = indentation).

    A named tuple, not a frozen dataclass: a 100 MW site makes ~1,500 a tick, and a
    frozen dataclass pays ``object.__setattr__`` for every field.
    """

    key: str
    depth: int
    label: str
    load: str
    pct: float | None
    detail: str
    state: str  # ok / warn / alarm / off / no data


@dataclass(frozen=True, slots=True)
class Racks:
    names: tuple[str, ...]
    halls: tuple[str, ...]
    inlet_c: np.ndarray
    return_c: np.ndarray  # coolant return (NaN: an air-cooled rack)
    power_kw: np.ndarray
    liquid: np.ndarray  # bool: cold-plate rack
    plate_c: np.ndarray = field(default_factory=lambda: np.zeros(0))  # cold plate


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
    newest_alarm: AlarmRow | None = None  # the latest annunciated, unacknowledged first
    oneline: OneLine | None = None  # the power chain, for the one-line view


@dataclass(frozen=True, slots=True)
class Setpoint:
    point: str
    device: str
    unit: str
    low: float | None
    high: float | None
    value: float | None
    description: str = ""


@dataclass(frozen=True, slots=True)
class ScenarioInfo:
    """A shipped scenario the palette offers (``sim/scenarios/**``)."""

    name: str  # as ``--scenario`` takes it: ``chiller-trip``, ``devices/comms-faults``
    description: str


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

    def scenarios(self) -> list[ScenarioInfo]: ...

    def start_scenario(self, name: str) -> str: ...

    def fault_kinds(self) -> tuple[str, ...]: ...

    def inject_fault(self, device: str, kind: str) -> str: ...


class SimControl(Protocol):
    """Scenario events and device faults on a simulated site (absent on real gear)."""

    def start_event(self, kind: str) -> str: ...

    def scenarios(self) -> list[ScenarioInfo]: ...

    def start_scenario(self, name: str) -> str: ...

    def inject_fault(self, device: str, kind: str) -> str: ...


@dataclass
class FrozenClock:
    """A settable clock for deterministic snapshots."""

    now: float = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC

    def __call__(self) -> float:
        return self.now
