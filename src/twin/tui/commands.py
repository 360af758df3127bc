"""The operator's commands on a :class:`~twin.tui.model.LiveSource`: alarms, setpoints,
and on a simulated site scenarios and device faults.

Acknowledging or shelving changes the live layer's own alarm (under the lock its
owner evaluates under); a setpoint goes through the collector's protocol write
(docs/architecture.md §1), after the range check the registry states.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Awaitable, Callable

from twin.live.alarms import AlarmEngine
from twin.live.state import LiveState
from twin.points.registry import Registry
from twin.tui.records import ScenarioInfo, Setpoint, SetpointRefused, SimControl

EVENTS: list[tuple[str, str]] = [
    ("utility_loss", "Utility loss (both feeds, 120 s)"),
    ("pump_trip", "Pump trip (first CDU, pump 1, 300 s)"),
    ("tower_fan_failure", "Tower fan failure (cell 1, 300 s)"),
    ("load_step", "Load step (IT load x1.2, 300 s)"),
    ("cdu_fouling", "CDU fouling (first hall's exchangers, UA -15 %, 600 s)"),
    ("pump_wear", "Pump wear (first hall's CDU pumps, +10 % power, 600 s)"),
    ("tower_degradation", "Tower capacity loss (facility water towers, -20 %, 600 s)"),
    ("chiller_fouling", "Chiller condenser fouling (COP -10 %, 600 s)"),
    ("converter_losses", "UPS/HVDC losses up (first system, +30 %, 600 s)"),
]
FAULT_KINDS = ("offline", "slow", "frozen", "exception", "bad_quality", "garbage")


class SourceCommands:
    """What the operator may ask of a live source (mixed into LiveSource)."""

    state: LiveState
    registry: Registry
    alarms: AlarmEngine
    lock: threading.Lock | threading.RLock
    clock: Callable[[], float]
    writer: Callable[[str, float], Awaitable[None]] | None
    control: SimControl | None

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
        refusal = p.write_refusal(value)
        if refusal == "not a number":
            raise SetpointRefused(refusal)
        if refusal is not None:
            raise SetpointRefused(f"{value:g} {p.unit} is {refusal}")
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

    def scenarios(self) -> list[ScenarioInfo]:
        return self.control.scenarios() if self.control else []

    def start_scenario(self, name: str) -> str:
        if self.control is None:
            raise RuntimeError("not a simulated site")
        return self.control.start_scenario(name)

    def fault_kinds(self) -> tuple[str, ...]:
        return FAULT_KINDS if self.control else ()

    def inject_fault(self, device: str, kind: str) -> str:
        if self.control is None:
            raise RuntimeError("not a simulated site")
        return self.control.inject_fault(device, kind)
