"""The registry's cooling_kw role covers every cooling motor: towers or dry coolers."""

from __future__ import annotations

import pytest

from twin.devices.inventory import build
from twin.devices.registry import ROLES
from twin.plant.layout import assemble
from twin.plant.model import Plant
from twin.site import load_site


@pytest.mark.parametrize("site", ["aidc-10mw", "aidc-10mw-dry"])
def test_cooling_role_points_add_up_to_the_plant_cooling_power(site: str) -> None:
    layout = assemble(load_site(site))
    plant = Plant(layout)
    plant.warm_up()
    plant.step(1.0)
    total_kw = 0.0
    for equipment, binding in build(layout).bindings.items():
        values = binding.values(plant, 1.0)
        for (kind, point), role in ROLES.items():
            if kind == equipment and role == "cooling_kw":
                total_kw += float(values[point].sum())
    # pPUE of the cooling plant from the wire needs every fan, pump and compressor
    assert total_kw == pytest.approx(plant.readings.site.cooling_power_w / 1e3, rel=1e-9)
