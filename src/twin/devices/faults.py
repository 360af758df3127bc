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

Sensor faults bend one quantity of one device, on every protocol alike, while
the device itself answers normally (quality good): the faults a twin's residuals
must find (issue 13), as a real plant's drifting or stuck transmitter shows them.

=============  ===============================================================
kind           what a client sees of ``quantity``
=============  ===============================================================
sensor_bias    the true value plus ``offset`` (in the quantity's unit)
sensor_drift   the true value plus ``rate_per_h`` × hours since the fault began
sensor_frozen  the value at the moment the fault began, from then on
=============  ===============================================================

Pump trips, fan failures and utility loss are plant events
(:mod:`twin.plant.scenarios`) and show in values, alarms and status words.

A scenario file may carry device faults beside the plant's events::

    [[device_faults]]
    at_s = 30
    device = "hall-1-cdu1"
    kind = "offline"
    duration_s = 60

    [[device_faults]]
    at_s = 600
    device = "hall-1-cdu2"
    kind = "sensor_bias"
    quantity = "t_supply_c"
    offset = 1.5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from twin.config import Frozen
from twin.errors import ConfigError

if TYPE_CHECKING:
    from twin.devices.inventory import Inventory

Kind = Literal[
    "offline", "slow", "frozen", "exception", "bad_quality", "garbage",
    "sensor_bias", "sensor_drift", "sensor_frozen",
]  # fmt: skip
KINDS: tuple[str, ...] = ("offline", "slow", "frozen", "exception", "bad_quality", "garbage")
#: Faults of one quantity's sensor, not of the device's communications.
SENSOR_KINDS: tuple[str, ...] = ("sensor_bias", "sensor_drift", "sensor_frozen")


class DeviceFault(Frozen):
    at_s: Annotated[float, Field(ge=0)] = 0.0
    duration_s: Annotated[float, Field(gt=0)] | None = None
    device: str
    kind: Kind
    delay_s: Annotated[float, Field(ge=0, le=60)] = 2.0
    code: Annotated[int, Field(ge=1, le=11)] = 4
    #: the quantity a sensor fault bends (a profile's source name, e.g. t_supply_c)
    quantity: str | None = None
    offset: Annotated[float, Field(allow_inf_nan=False)] = 0.0  # sensor_bias [unit]
    rate_per_h: Annotated[float, Field(allow_inf_nan=False)] = 0.0  # sensor_drift [unit/h]

    @model_validator(mode="after")
    def _quantity_with_sensor_kinds_only(self) -> DeviceFault:
        if self.kind in SENSOR_KINDS and not self.quantity:
            raise ValueError(f"a {self.kind} fault names its quantity (e.g. quantity = "
                             '"t_supply_c")')  # fmt: skip
        if self.kind not in SENSOR_KINDS and self.quantity is not None:
            raise ValueError(f"quantity belongs to sensor faults ({', '.join(SENSOR_KINDS)}), "
                             f"not {self.kind}")  # fmt: skip
        return self

    @property
    def key(self) -> str:
        """What it is in force as: its kind, or kind and quantity for a sensor fault."""
        return f"{self.kind}:{self.quantity}" if self.quantity else self.kind


def check_faults(faults: list[DeviceFault], inventory: Inventory, path: Path) -> None:
    """Every fault names a device of the site, and a sensor fault one of its quantities.

    Raises :class:`~twin.errors.ConfigError` naming ``path`` and the device or quantity.
    """
    for fault in faults:
        device = inventory.by_name.get(fault.device)
        if device is None:
            raise ConfigError(
                path, f"no device {fault.device!r} in site {inventory.site}", key="device_faults"
            )
        if fault.quantity is not None:
            known = inventory.bindings[device.equipment].quantities
            if fault.quantity not in known:
                raise ConfigError(
                    path,
                    f"{fault.device} has no quantity {fault.quantity!r} (it has "
                    f"{', '.join(sorted(known))})",
                    key="device_faults",
                )


@dataclass
class Faults:
    """Faults in force per device, plus a timeline of scheduled ones (plant time)."""

    active: dict[str, dict[str, DeviceFault]] = field(default_factory=dict)
    pending: list[tuple[float, DeviceFault]] = field(default_factory=list)
    ending: list[tuple[float, DeviceFault]] = field(default_factory=list)
    version: int = 0  # bumped on every change, so writers can cache masks

    #: (device, key) → plant time a fault came into force (drift counts from it)
    started: dict[tuple[str, str], float] = field(default_factory=dict)
    #: (device, quantity) → the value a sensor_frozen fault holds
    held: dict[tuple[str, str], float] = field(default_factory=dict)

    def inject(self, fault: DeviceFault, now_s: float = 0.0) -> None:
        """Put a fault in force now (``now_s``: the plant time, for a drift)."""
        self.active.setdefault(fault.device, {})[fault.key] = fault
        self.started[(fault.device, fault.key)] = now_s
        if fault.quantity is not None:
            self.held.pop((fault.device, fault.quantity), None)
        self.version += 1

    def sensor_faults(self, device: str) -> list[DeviceFault]:
        """The sensor faults in force on ``device``."""
        return [f for f in self.active.get(device, {}).values() if f.quantity is not None]

    def bend(self, device: str, row: int, values: dict[str, np.ndarray], t_s: float) -> None:
        """Apply ``device``'s sensor faults to its row of ``values`` (arrays, in place).

        Arrays are copied before the first change so a binding's cached values stay true.
        """
        for fault in self.sensor_faults(device):
            quantity = fault.quantity
            assert quantity is not None
            if quantity not in values:
                continue
            column = values[quantity] = np.array(values[quantity], dtype=float)
            true = float(column[row])
            if fault.kind == "sensor_bias":
                column[row] = true + fault.offset
            elif fault.kind == "sensor_drift":
                since = self.started.get((device, fault.key), t_s)
                column[row] = true + fault.rate_per_h * max(t_s - since, 0.0) / 3600.0
            else:  # sensor_frozen
                column[row] = self.held.setdefault((device, quantity), true)

    def clear(self, device: str, kind: str | None = None) -> None:
        """Remove one kind of fault from a device, or all of them."""
        kinds = self.active.get(device, {})
        if kind is None:
            kinds.clear()
        else:
            kinds.pop(kind, None)
        for held in [k for k in self.held if k[0] == device]:
            if kind is None or kind == f"sensor_frozen:{held[1]}":
                del self.held[held]
        self.version += 1

    def schedule(self, faults: list[DeviceFault], now_s: float) -> None:
        """Schedule faults ``at_s`` after ``now_s``."""
        self.pending += [(now_s + f.at_s, f) for f in faults]
        self.pending.sort(key=lambda item: item[0])

    def advance(self, t_s: float) -> None:
        """Start due faults and end those whose duration has passed."""
        while self.pending and self.pending[0][0] <= t_s:
            start, fault = self.pending.pop(0)
            self.inject(fault, start)
            if fault.duration_s is not None:
                self.ending.append((start + fault.duration_s, fault))
        still = []
        for end, fault in self.ending:
            if end <= t_s:
                self.clear(fault.device, fault.key)
            else:
                still.append((end, fault))
        self.ending = still

    def get(self, device: str, kind: str) -> DeviceFault | None:
        kinds = self.active.get(device)
        return kinds.get(kind) if kinds else None

    def has(self, device: str, kind: str) -> bool:
        kinds = self.active.get(device)
        return bool(kinds) and kind in kinds  # type: ignore[operator]
