"""The collector against aidc-10mw on loopback: every value, and PUE, as the plant has them."""

from __future__ import annotations

import asyncio
import math
import time

import numpy as np

from twin.collect.scheduler import Collector, CollectorOptions
from twin.devices.image import point_value
from twin.live.metrics import SiteMetrics
from twin.live.state import LiveState
from twin.points.codec import resolution
from twin.points.quality import Quality
from twin.points.registry import load_registry

from .collectsite import Served, served, until

__all__ = ["served"]  # the fixture


def _expected(served: Served, name: str, row_bit: int | None) -> tuple[float, str, float]:
    sim = served.sim.sim
    assert sim.inventory is not None
    device_name, point_name = name.split(".", 1)
    device = sim.inventory.device(device_name)
    profile = sim.inventory.profiles[device.equipment]
    values = sim.last_values[device.equipment]
    word = point_name.split(".", 1)[0]
    point = next(p for p in profile.points if p.name == word)
    if row_bit is not None:
        return float(values[point.bits[row_bit]][device.row] != 0), "bool", 1.0
    return float(point_value(point, values)[device.row]), point.type, point.scale


def test_every_point_matches_and_pue_equals_the_plant(served: Served) -> None:
    registry = load_registry(served.registry_path)
    served.sim.step()
    stepped = time.time()
    state = LiveState(registry, interval_s=0.5)
    metrics = SiteMetrics(state)

    async def collect() -> None:
        collector = Collector(registry, state, CollectorOptions(interval_s=0.5))
        await collector.start()
        try:
            await until(
                lambda: bool((state.good_ts > stepped).all()), what="a fresh value of every point"
            )
        finally:
            await collector.stop()
        # at most 125 registers per request, and merged: fewer requests than points
        blocks = [b for d in collector.devices for b in d.blocks]
        assert max(b.count for b in blocks if "register" in b.table) <= 125
        assert len(blocks) < len(registry) / 4

    asyncio.run(collect())
    now = time.time()
    values, quality = state.values(now)
    assert (quality == Quality.GOOD).all()
    checked = 0
    for point in registry.points:
        want, data_type, scale = _expected(served, point.name, point.bit)
        got = values[point.index]
        if math.isnan(want):
            assert math.isnan(got), point.name
        else:
            tolerance = resolution(data_type, scale, want) + 1e-9
            assert abs(got - want) <= tolerance, (point.name, got, want)
        checked += 1
    assert checked == len(registry) > 2000

    plant = served.sim.sim.plant
    assert plant is not None
    readings = plant.readings
    plant_pue = float(readings.power.facility_power_w / readings.power.it_power_w)
    snapshot = metrics.update(now)
    assert snapshot.category.startswith("PUE3")
    # One update: the ratio of the powers just read (stale only if they were read apart;
    # the headline PUE over the last minute starts from the same powers).
    assert snapshot.pue_instant.quality != Quality.BAD
    assert snapshot.pue.value == snapshot.pue_instant.value
    # Metering resolution: every rack meter and the facility meter are FLOAT32 kW.
    it_points = [p for p in registry.points if p.role == "it_input_kw"]
    it_res = sum(resolution("float32", 1.0, values[p.index]) for p in it_points)
    facility = snapshot.facility_kw.value
    it = snapshot.it_kw.value
    assert facility is not None and it is not None
    assert abs(it - readings.power.it_power_w / 1e3) <= it_res + 1e-6
    bound = plant_pue * (resolution("float32", 1.0, facility) / facility + it_res / it)
    pue = snapshot.pue_instant.value
    assert pue is not None and abs(pue - plant_pue) <= bound + 1e-12, (pue, plant_pue)
    # Power systems: capacity from measured load %, and the site's redundancy holds.
    systems = snapshot.systems
    assert {"hall-1-hvdc", "hall-1-ups"} <= set(systems)
    assert systems["hall-1-hvdc"]["redundancy"] in ("2N", "N+1")
    assert systems["hall-1-hvdc"]["headroom_kw"] > 0
    assert 1.0 < snapshot.ppue_cooling.value < snapshot.pue.value
    assert snapshot.wue_l_per_kwh.value is not None and snapshot.wue_l_per_kwh.value >= 0
    np.testing.assert_allclose(snapshot.cue_kg_per_kwh.value, snapshot.pue.value * 0.5703)
