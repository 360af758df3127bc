"""Scenarios behave physically: utility loss, CDU pump trip with and without standby."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from twin import catalog
from twin.physics import fluids, thermal
from twin.plant.layout import assemble
from twin.plant.model import Plant
from twin.plant.racks import rack_power, rack_utilisation
from twin.plant.scenarios import PumpTrip, Scenario, UtilityLoss, attach
from twin.site import load_site


def _run(plant: Plant, seconds: int, dt: float = 1.0) -> list[dict]:
    trace = []
    for _ in range(int(seconds / dt)):
        plant.step(dt)
        r = plant.readings
        trace.append(
            {
                "t": plant.t_s,
                "it_w": float(r.racks.power_w.sum()),
                "soc": float(r.power.battery_soc.min()),
                "discharge_w": float(r.power.battery_discharge_w.sum()),
                "generator_w": float(r.power.generator_power_w),
                "on_generator": bool(np.any(r.power.on_generator)),
                "tcs_supply": plant.t_tcs_supply.copy(),
                "tcs_flow": r.cdus.tcs_flow_kg_s.copy(),
                "cold_plate_max": float(np.nanmax(r.racks.t_cold_plate_c)),
            }
        )
    return trace


def test_utility_loss_battery_bridges_until_generators_pick_up() -> None:
    plant = Plant(assemble(load_site("aidc-10mw")), start_s=0.0)
    _run(plant, 300)  # settle
    attach(plant, Scenario(events=[UtilityLoss(kind="utility_loss", at_s=60, duration_s=240)]))
    trace = _run(plant, 900)
    before = [s for s in trace if s["t"] < 360]
    during = [s for s in trace if 360 <= s["t"] < 600]
    # Batteries carry the load from the first second of the outage...
    assert during[0]["discharge_w"] > 1e6
    # ...the generators take over after their start delay (10 s) plus transfer (1 s)...
    picked_up = next(s["t"] for s in during if s["on_generator"] and s["discharge_w"] == 0)
    assert 360 + 10 <= picked_up <= 360 + 10 + 1 + 10 + 2  # + rectifier walk-in 10 s
    assert max(s["generator_w"] for s in during) > 5e6
    # ...with no IT interruption: the batteries had charge to spare.
    assert plant.ledger.it_interrupted_j == 0.0
    assert min(s["soc"] for s in trace) > 0.9
    it_before = np.mean([s["it_w"] for s in before[-60:]])
    assert min(s["it_w"] for s in during) > 0.5 * it_before  # the load profile still runs
    # Utility back at 600 s, retransfer after 300 s, batteries recharge.
    assert not trace[-1]["on_generator"] or trace[-1]["t"] < 900
    assert trace[-1]["soc"] > min(s["soc"] for s in trace)


def test_cdu_pump_trip_with_standby_recovers() -> None:
    site = load_site("aidc-10mw")
    plant = Plant(assemble(site))
    _run(plant, 600)
    setpoint = site.cooling.t_tcs_supply_c
    attach(
        plant, Scenario(events=[PumpTrip(kind="pump_trip", at_s=10, target="hall-1-cdu1", pump=1)])
    )
    trace = _run(plant, 900)
    cdu = plant.layout.cdus.name.index("hall-1-cdu1")
    # The tripped pump is down, the standby pump runs.
    assert not plant.pump_running[cdu, 0] and plant.pump_running[cdu, 1]
    flows = np.array([s["tcs_flow"][0] for s in trace])
    assert flows.min() < flows[0]  # the trip was felt
    # Flow and supply temperature recover to their setpoints.
    assert abs(flows[-1] - flows[0]) / flows[0] < 0.02
    assert abs(trace[-1]["tcs_supply"][0] - setpoint) < 0.5
    assert max(s["cold_plate_max"] for s in trace) < site.cooling.cold_plate_limit_c


def test_pump_trip_without_standby_crosses_limit_at_hand_calculated_time(
    single_pump_site: Path,
) -> None:
    site = load_site(single_pump_site)
    layout = assemble(site)
    plant = Plant(layout)
    _run(plant, 900)
    rack = catalog.lookup("rack", "gpu-cold-plate-130kw")
    assert isinstance(rack, catalog.Rack)
    # Hand calculation: with no flow, each rack's liquid heat goes into its own
    # coolant and plates (its node: the rack's coolant volume plus its plates' heat
    # capacity, from the catalog) and nothing takes it away:
    #   T(t) = T0 + Q t / C,   case = T + R(0.4 L/min) * q_plate;
    # the first plate over the limit is the rack that gets there first.
    racks = layout.racks
    gpu = racks.is_gpu & (racks.hall == 0)
    utilisation = rack_utilisation(racks, site, float(plant.profile.utilisation(plant.t_s)))
    p_rack = rack_power(racks, utilisation)[gpu]
    q_liquid = p_rack * rack.liquid_frac
    capacity = (
        rack.coolant_volume_l
        / 1000.0
        * fluids.density("pg25", 40.0)
        * fluids.specific_heat("pg25", 40.0)
        + rack.cold_plates * rack.plate_heat_capacity_j_k
    )
    q_plate = q_liquid / rack.cold_plates
    r_stagnant = float(thermal.cold_plate_resistance(0.0))  # held at the lowest table flow
    limit = site.cooling.cold_plate_limit_c
    attach(plant, Scenario(events=[PumpTrip(kind="pump_trip", at_s=0, target="hall-1-cdu1")]))
    t0 = plant.t_s
    t_rack_0 = plant.t_rack[gpu]
    expected = float(np.min((limit - t_rack_0 - r_stagnant * q_plate) * float(capacity) / q_liquid))
    trace = _run(plant, int(expected * 1.5) + 30)
    crossed = next(s["t"] - t0 for s in trace if s["cold_plate_max"] >= limit)
    # One-second steps: the crossing is found to within a step or two.
    assert abs(crossed - expected) <= max(2.0, 0.01 * expected), (crossed, expected)
    assert trace[-1]["tcs_flow"][0] == 0.0


def test_cdu_fouling_ramps_the_halls_ua_down_then_cleaning_restores_it() -> None:
    """UA −30 % over 120 s from 60 s on hall 1's CDUs (a glob), cleaned at 300 s; the
    other halls' exchangers untouched. Linear ramp: 90 s in is 30/120 of the way."""
    from twin.plant.scenarios import CduFouling

    plant = Plant(assemble(load_site("aidc-10mw")), start_s=180 * 86400.0)
    design = plant.layout.cdus.ua_w_k.copy()
    event = CduFouling(kind="cdu_fouling", at_s=60, duration_s=240, target="hall-1-cdu*",
                       ua_loss=0.3, ramp_s=120)  # fmt: skip
    attach(plant, Scenario(events=[event]))
    hall_1 = np.array([n.startswith("hall-1-") for n in plant.layout.cdus.name])
    seen = {}
    for second in range(1, 331):
        plant.step(1.0)
        seen[second] = plant.layout.cdus.ua_w_k / design
    assert np.allclose(seen[59][hall_1], 1.0)
    assert np.allclose(seen[90][hall_1], 1.0 - 0.3 * 30 / 120, atol=0.01)
    assert np.allclose(seen[200][hall_1], 0.7)
    assert np.allclose(seen[330], 1.0)  # cleaned
    assert all(np.allclose(s[~hall_1], 1.0) for s in seen.values())


def test_a_fouling_target_that_names_no_cdu_is_refused_with_its_key() -> None:
    import pytest

    from twin.errors import ConfigError
    from twin.plant.scenarios import CduFouling

    plant = Plant(assemble(load_site("aidc-10mw")), start_s=0.0)
    event = CduFouling(kind="cdu_fouling", at_s=0, target="hall-9-cdu*")
    with pytest.raises(ConfigError, match=r"events\.0\.target"):
        attach(plant, Scenario(events=[event]))
    assert plant.events == []  # nothing half-scheduled
