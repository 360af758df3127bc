"""Bindings: which plant values each equipment type's devices show, and where writes go.

A binding knows the instances of one equipment type in a site (names and areas
from the layout) and turns the plant's published state into one array per
*quantity* (engineering units of the profiles: kW, °C, %, booleans), all
devices at once. Profiles name quantities; :func:`twin.devices.inventory.build`
checks every name against :attr:`Binding.quantities` before anything is served.

Counters (energy kWh, run hours) are integrated here from the plant's powers
and states, step by step, as a meter or a controller would; the site meter's
energy counters read the plant's ledgers directly.

Setpoint writes turn into plant commands (``plant.command("setpoint", ...)``);
the plant validates them again against ``SETPOINT_LIMITS``.
"""

from __future__ import annotations

from twin.devices.bindings.base import COOLING_PLANT, ELECTRICAL_ROOM, Binding
from twin.devices.bindings.cooling import Cdus, Chillers, Crahs, DryCoolers, Pumps, Towers
from twin.devices.bindings.power import (
    Ats,
    Batteries,
    Generators,
    Pdus,
    PowerSystems,
    Racks,
    SiteMeter,
    Transformers,
)
from twin.plant.layout import Layout

__all__ = ["COOLING_PLANT", "ELECTRICAL_ROOM", "Binding", "site_bindings"]


def site_bindings(layout: Layout) -> list[Binding]:
    """Every equipment type of a site, in a stable order (power, IT, cooling)."""
    bindings: list[Binding] = [
        SiteMeter(layout),
        Transformers(layout),
        Ats(layout),
        Generators(layout),
        PowerSystems(layout, hvdc=False),
        PowerSystems(layout, hvdc=True),
        Batteries(layout),
        Pdus(layout),
        Racks(layout, gpu=True),
        Racks(layout, gpu=False),
        Cdus(layout),
        Crahs(layout),
        Pumps(layout),
        Towers(layout),
        DryCoolers(layout),
        Chillers(layout),
    ]
    return [b for b in bindings if len(b)]
