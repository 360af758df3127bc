"""The shadow plant: the site's plant stepped on measured boundaries, every point modelled.

Points are matched to the plant by name, as ``twin points SITE`` prints them
(``<device>.<point>``, status bits as ``<device>.status.<bit>``): the shadow
builds the same device inventory the simulator serves, so a registry written by
``twin points`` is covered point for point. Points it cannot match (real gear
with its own names, or quantities the model lacks) and running totals (energy
meters, run hours: counted since long before the model started) are listed as
uncovered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from twin.devices.image import point_value
from twin.devices.inventory import Inventory, build
from twin.devices.profiles import Point
from twin.plant.layout import Layout, assemble
from twin.plant.model import Plant
from twin.plant.scenarios import SETPOINT_LIMITS
from twin.shadow.boundary import MeasuredLoad, MeasuredWeather
from twin.site import Site

#: The measured points the boundary is read from, in order of preference.
IT_POWER_POINTS = ("site-meter.it_power_kw",)
DRY_BULB_POINTS = ("site-meter.t_outdoor_dry_c",)
WET_BULB_POINTS = ("site-meter.t_outdoor_wet_c",)


#: Quantities that are running totals (energy meters, run hours): the gear's count
#: began long before the shadow's, so only their rates (the powers) are compared.
COUNTER_SUFFIXES = ("_kwh", "run_hours")


@dataclass(frozen=True, slots=True)
class Mapped:
    """Where a registry point's modelled value comes from."""

    equipment: str  # the binding's key in the inventory
    quantity: str  # the binding quantity
    row: int  # the device's row in the binding
    word: Point | None = None  # a status word: packed from its bits as the gear packs it


@dataclass
class Coverage:
    """Which points the shadow models, and which boundary it measures."""

    modelled: list[str] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)
    boundary: dict[str, str] = field(default_factory=dict)  # input → point or "site file"

    @property
    def fraction(self) -> float:
        total = len(self.modelled) + len(self.uncovered)
        return len(self.modelled) / total if total else 0.0

    def json(self) -> dict:
        return {
            "points_modelled": len(self.modelled),
            "points_uncovered": len(self.uncovered),
            "fraction": round(self.fraction, 4),
            "uncovered": self.uncovered[:20],
            "boundary": dict(self.boundary),
        }


class ShadowPlant:
    """The plant model of ``site`` driven by measured values, one :meth:`tick` at a time.

    Parameters
    ----------
    site : Site
        The site the measured plant is (its TOML: catalogue, layout, controls).
    point_names : iterable of str
        The registry's point names, in the order :meth:`tick` returns them.
    start_s : float
        Plant time of the first tick [s from Jan 1 00:00, local standard time].
    warm_up_s : float
        Plant time stepped before the first tick, so loops and controllers start
        settled instead of from their initial guesses.
    """

    def __init__(
        self, site: Site, point_names: Iterable[str], start_s: float, warm_up_s: float = 900.0
    ) -> None:
        self.layout: Layout = assemble(site)
        self.inventory: Inventory = build(self.layout)
        self.plant = Plant(self.layout, start_s=start_s)
        self.weather = MeasuredWeather(self.plant.weather)
        self.load = MeasuredLoad(self.layout, self.plant.profile)
        self.plant.weather = self.weather  # type: ignore[assignment]
        self.plant.profile = self.load  # type: ignore[assignment]
        self.names = list(point_names)
        self.coverage = Coverage()
        self._mapped: list[Mapped | None] = [self._match(n) for n in self.names]
        for name, mapped in zip(self.names, self._mapped, strict=True):
            (self.coverage.modelled if mapped else self.coverage.uncovered).append(name)
        present = set(self.names)
        self._it = next((p for p in IT_POWER_POINTS if p in present), None)
        self._dry = next((p for p in DRY_BULB_POINTS if p in present), None)
        self._wet = next((p for p in WET_BULB_POINTS if p in present), None)
        self.coverage.boundary = {
            "it_power": self._it or "site load profile (not measured)",
            "t_outdoor_dry": self._dry or "site weather file (not measured)",
            "t_outdoor_wet": self._wet or "site weather file (not measured)",
        }
        self._setpoints = self._setpoint_points()
        self._words: dict[tuple[str, str], Point] = {}  # status words by (binding, name)
        self._groups = self._gather_plan()
        self._written: dict[int, float] = {}  # the setpoint values already passed on
        if warm_up_s > 0:
            self.plant.warm_up(warm_up_s)
        self.values: dict[str, dict[str, np.ndarray]] = {}

    def _match(self, name: str) -> Mapped | None:
        device_name, _, point = name.partition(".")
        device = self.inventory.by_name.get(device_name)
        if device is None or not point:
            return None
        binding = self.inventory.bindings[device.equipment]
        profile = self.inventory.profiles.get(device.equipment)
        quantity = None
        if point.startswith("status.") and point[len("status.") :] in binding.quantities:
            quantity = point[len("status.") :]
        elif profile is not None:
            found = next((p for p in profile.points if p.name == point), None)
            if found is not None and found.bits:
                return Mapped(device.equipment, found.name, device.row, word=found)
            quantity = found.source if found is not None else None
        if quantity is None or quantity not in binding.quantities:
            return None
        if quantity.endswith(COUNTER_SUFFIXES):
            return None  # a running total: the gear's started before the model did
        return Mapped(device.equipment, quantity, device.row)

    def _gather_plan(self) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
        """(binding, quantity, word) → (registry positions, device rows) of the mapped."""
        plan: dict[tuple, tuple[list[int], list[int]]] = {}
        for index, mapped in enumerate(self._mapped):
            if mapped is not None:
                key = (mapped.equipment, mapped.quantity, mapped.word is not None)
                if mapped.word is not None:
                    self._words[(mapped.equipment, mapped.quantity)] = mapped.word
                positions, device_rows = plan.setdefault(key, ([], []))
                positions.append(index)
                device_rows.append(mapped.row)
        return {k: (np.array(p), np.array(r)) for k, (p, r) in plan.items()}

    def _setpoint_points(self) -> list[tuple[int, str]]:
        """(registry index, plant setpoint) of every measured setpoint point."""
        out = []
        for index, mapped in enumerate(self._mapped):
            if mapped is None:
                continue
            if mapped.word is not None:
                continue
            setpoint = self.inventory.bindings[mapped.equipment].setpoints.get(mapped.quantity)
            if setpoint is not None:
                out.append((index, setpoint))
        return out

    def tick(self, measured: Mapping[str, float], dt: float) -> np.ndarray:
        """Step the model ``dt`` seconds on the latest measurements; the modelled values.

        Parameters
        ----------
        measured : mapping of str to float
            The latest good value of each point by name (bad or missing ones left out
            or NaN: the boundary then keeps its last good reading).
        dt : float
            Plant time since the last tick [s].

        Returns
        -------
        numpy.ndarray
            One modelled value per registry point, in the order given at
            construction; NaN for uncovered points.
        """
        it_kw = measured.get(self._it) if self._it else None
        self.load.measure(None if it_kw is None else it_kw * 1e3)
        self.weather.measure(
            measured.get(self._dry) if self._dry else None,
            measured.get(self._wet) if self._wet else None,
        )
        for index, setpoint in self._setpoints:
            value = measured.get(self.names[index])
            if value is None or not np.isfinite(value) or self._written.get(index) == value:
                continue
            low, high = SETPOINT_LIMITS[setpoint]
            if low <= value <= high:  # as the gear would refuse it; the model keeps its own
                mapped = self._mapped[index]
                assert mapped is not None
                binding = self.inventory.bindings[mapped.equipment]
                binding.write(self.plant, mapped.row, mapped.quantity, float(value))
            self._written[index] = value
        self.plant.step(dt)
        self.values = {
            key: binding.values(self.plant, dt) for key, binding in self.inventory.bindings.items()
        }
        return self.points_of(self.values)

    def points_of(self, values: Mapping[str, Mapping[str, np.ndarray]]) -> np.ndarray:
        """The registry's points from bindings' values (``binding key → quantity → rows``):
        the model's after a tick, or any plant's with the same layout.

        Returns
        -------
        numpy.ndarray
            One value per registry point; NaN for uncovered points.
        """
        out = np.full(len(self.names), np.nan)
        # one gather per (binding, quantity or status word): 25,000 points of 100 MW
        # in a few dozen numpy operations, not a Python loop over points
        for (equipment, quantity, is_word), (positions, device_rows) in self._groups.items():
            rows = values[equipment]
            word = self._words[(equipment, quantity)] if is_word else None
            column = point_value(word, rows) if word is not None else rows[quantity]  # type: ignore[arg-type]
            out[positions] = np.asarray(column, dtype=float)[device_rows]
        return out
