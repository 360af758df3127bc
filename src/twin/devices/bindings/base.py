"""The binding base: one equipment type's devices and the quantities they publish.

Shared by :mod:`twin.devices.bindings.power` and :mod:`twin.devices.bindings.cooling`;
the package's docstring says what a binding is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from twin.physics import fluids
from twin.plant.model import Plant

ELECTRICAL_ROOM = "electrical-room"
COOLING_PLANT = "cooling-plant"
J_PER_KWH = 3.6e6
AIR_RHO_CP = fluids.AIR_DENSITY * fluids.AIR_SPECIFIC_HEAT  # J/(m³ K), as the CRAH sizing


@dataclass
class Binding:
    """Instances of one equipment type and the quantities they publish."""

    equipment: str
    names: list[str]
    areas: list[str]
    quantities: tuple[str, ...]
    #: quantity → plant setpoint name (``SETPOINT_LIMITS`` key)
    setpoints: dict[str, str] = field(default_factory=dict)
    counters: dict[str, np.ndarray] = field(default_factory=dict)
    #: quantity → nameplate per device, for the registry's ``rating`` column
    ratings: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def write(self, plant: Plant, device: int, quantity: str, value: float) -> None:
        """Queue a setpoint write from device ``device`` (its position in :attr:`names`)."""
        plant.command("setpoint", point=self.setpoints[quantity], value=float(value))

    def setpoint_targets(self, quantity: str) -> tuple[str, ...]:
        """Every plant setpoint a write of ``quantity`` may reach (for limit checks)."""
        return (self.setpoints[quantity],)

    def _count(self, key: str, rate: np.ndarray, dt: float) -> np.ndarray:
        total = self.counters.setdefault(key, np.zeros(len(self)))
        total += rate * dt
        return total.copy()


def _n(value: object, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()


def _pct(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, 100.0 * numerator / denominator, 0.0)
