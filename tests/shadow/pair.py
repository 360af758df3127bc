"""A "measured" plant and its shadow stepped together, for the shadow's tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from twin.devices.inventory import build
from twin.devices.registry import rows
from twin.plant.layout import assemble
from twin.plant.model import Plant
from twin.shadow.model import ShadowPlant
from twin.site import load_site

START_S = 180 * 86400.0  # a day in early summer: towers and economiser both working


def registry_rows(site_name: str = "aidc-10mw") -> list[dict[str, str]]:
    inventory = build(assemble(load_site(site_name)))
    return rows(inventory, "127.0.0.1", [0] * len(inventory.gateways))


def registry_names(site_name: str = "aidc-10mw") -> list[str]:
    return [r["point"] for r in registry_rows(site_name)]


def run_pair(
    seconds: int,
    names: list[str] | None = None,
    spoil_truth: Callable[[Plant], None] | None = None,
    spoil_reading: Callable[[dict[str, float]], None] | None = None,
    spoil_from_s: float = 0.0,
    each: Callable[[float, np.ndarray, np.ndarray], None] | None = None,
) -> tuple[ShadowPlant, list[str], np.ndarray, np.ndarray]:
    """Truth and shadow stepped together at 1 s, the truth read as float32 (the wire).

    ``spoil_truth`` changes the truth once, ``spoil_reading`` every reading, both from
    ``spoil_from_s`` seconds on; ``each(t, measured, modelled)`` sees every tick.
    Returns (shadow, names, measured, modelled), one row per second.
    """
    site = load_site("aidc-10mw")
    truth = Plant(assemble(site), start_s=START_S)
    truth.warm_up(900.0)
    inventory = build(truth.layout)
    names = names if names is not None else registry_names("aidc-10mw")
    shadow = ShadowPlant(site, names, start_s=START_S)
    measured_rows, modelled_rows = [], []
    for second in range(seconds):
        spoiled = second >= spoil_from_s
        if spoil_truth is not None and second == int(spoil_from_s):
            spoil_truth(truth)
        truth.step(1.0)
        values = {key: b.values(truth, 1.0) for key, b in inventory.bindings.items()}
        wire = shadow.points_of(values).astype(np.float32).astype(float)
        reading = dict(zip(names, wire, strict=True))
        if spoil_reading is not None and spoiled:
            spoil_reading(reading)
        measured = np.array([reading[n] for n in names])
        modelled = shadow.tick(reading, 1.0)
        if each is not None:
            each(float(second), measured, modelled)
        measured_rows.append(measured)
        modelled_rows.append(modelled)
    return shadow, names, np.array(measured_rows), np.array(modelled_rows)
