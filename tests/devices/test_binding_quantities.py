"""Each binding publishes exactly the quantities it declares, on every shipped site.

A binding names its quantities twice: in ``quantities`` (what the device profiles,
registry and collectors are built from) and as the keys of ``values()`` (what is
served). A quantity in one list and not the other is a point that is never written,
or a value nobody reads; this catches it on every site in configs/sites, live and
during a utility loss (when the power chain's branches differ).
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.devices.bindings import site_bindings
from twin.paths import data_path
from twin.plant.layout import assemble
from twin.plant.model import Plant
from twin.plant.scenarios import UtilityLoss
from twin.site import load_site

SITES = sorted(p.stem for p in (data_path("configs", "sites")).glob("*.toml"))


@pytest.mark.parametrize("site", SITES)
def test_values_publish_exactly_the_declared_quantities(site: str) -> None:
    plant = Plant(assemble(load_site(site)), start_s=0.0)
    bindings = site_bindings(plant.layout)
    assert bindings
    plant.command("event", event=UtilityLoss(kind="utility_loss", at_s=0, duration_s=30))
    for seconds in (1, 20):  # just after the loss, then later in the outage
        for _ in range(seconds):
            plant.step(1.0)
        for binding in bindings:
            values = binding.values(plant, 1.0)
            label = f"{site}: {binding.equipment} ({binding.names[0]}…)"
            assert set(values) == set(binding.quantities), label
            for quantity, value in values.items():
                assert np.shape(value) == (len(binding),), f"{label} {quantity}"
