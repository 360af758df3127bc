"""Communication faults of simulated devices, from a timeline or injected at run time.

These are faults of the *device* (its comms card, its sensors), not of the plant:

============  ================================================================
kind          what a client sees
============  ================================================================
offline       Modbus: the unit is silent (request times out); OPC UA: every
              point of the device reads BadCommunicationError (no value)
slow          replies arrive ``delay_s`` late (Modbus); OPC UA unaffected
frozen        values stop changing (status words, counters, all); quality stays good
exception     Modbus: every request gets exception ``code`` (default 04 device
              failure); OPC UA: BadDeviceFailure
bad_quality   floats read NaN, integers the "not available" raw value
              (0x8000, 0xFFFF…); OPC UA: BadSensorFailure
garbage       registers hold random words each refresh; OPC UA: values still good
============  ================================================================

Pump trips, fan failures and utility loss are plant events
(:mod:`twin.plant.scenarios`) and show in values, alarms and status words.

A scenario file may carry device faults beside the plant's events::

    [[device_faults]]
    at_s = 30
    device = "hall-1-cdu1"
    kind = "offline"
    duration_s = 60
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field

from twin.config import Frozen

Kind = Literal["offline", "slow", "frozen", "exception", "bad_quality", "garbage"]
KINDS: tuple[str, ...] = ("offline", "slow", "frozen", "exception", "bad_quality", "garbage")


class DeviceFault(Frozen):
    at_s: Annotated[float, Field(ge=0)] = 0.0
    duration_s: Annotated[float, Field(gt=0)] | None = None
    device: str
    kind: Kind
    delay_s: Annotated[float, Field(ge=0, le=60)] = 2.0
    code: Annotated[int, Field(ge=1, le=11)] = 4


@dataclass
class Faults:
    """Faults in force per device, plus a timeline of scheduled ones (plant time)."""

    active: dict[str, dict[str, DeviceFault]] = field(default_factory=dict)
    pending: list[tuple[float, DeviceFault]] = field(default_factory=list)
    ending: list[tuple[float, DeviceFault]] = field(default_factory=list)
    version: int = 0  # bumped on every change, so writers can cache masks

    def inject(self, fault: DeviceFault) -> None:
        """Put a fault in force now."""
        self.active.setdefault(fault.device, {})[fault.kind] = fault
        self.version += 1

    def clear(self, device: str, kind: str | None = None) -> None:
        """Remove one kind of fault from a device, or all of them."""
        kinds = self.active.get(device, {})
        if kind is None:
            kinds.clear()
        else:
            kinds.pop(kind, None)
        self.version += 1

    def schedule(self, faults: list[DeviceFault], now_s: float) -> None:
        """Schedule faults ``at_s`` after ``now_s``."""
        self.pending += [(now_s + f.at_s, f) for f in faults]
        self.pending.sort(key=lambda item: item[0])

    def advance(self, t_s: float) -> None:
        """Start due faults and end those whose duration has passed."""
        while self.pending and self.pending[0][0] <= t_s:
            start, fault = self.pending.pop(0)
            self.inject(fault)
            if fault.duration_s is not None:
                self.ending.append((start + fault.duration_s, fault))
        still = []
        for end, fault in self.ending:
            if end <= t_s:
                self.clear(fault.device, fault.kind)
            else:
                still.append((end, fault))
        self.ending = still

    def get(self, device: str, kind: str) -> DeviceFault | None:
        kinds = self.active.get(device)
        return kinds.get(kind) if kinds else None

    def has(self, device: str, kind: str) -> bool:
        kinds = self.active.get(device)
        return bool(kinds) and kind in kinds  # type: ignore[operator]
