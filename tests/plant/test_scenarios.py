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


def test_degradations_reach_their_size_on_their_equipment_and_are_undone() -> None:
    """Pump wear +10 % (hall 1's CDUs), converter losses +30 % (one system), tower
    capacity -20 % (facility water), chiller COP -10 %: each at 60 s, linear over 60 s,
    undone at 240 s. Halfway (90 s) each is at half its size; the chillers then draw
    1 / (1 - 0.05) of the power for the same load."""
    from twin.plant.scenarios import ChillerFouling, ConverterLosses, PumpWear, TowerDegradation

    plant = Plant(assemble(load_site("aidc-10mw")), start_s=180 * 86400.0)
    layout = plant.layout
    pumps = layout.cdus.pump_power_w.copy()
    losses = layout.systems.loss_coefficients.copy()
    system = layout.systems.name[0]
    common = {"at_s": 60, "duration_s": 180, "ramp_s": 60}
    events = [
        PumpWear(kind="pump_wear", target="hall-1-cdu*", power_rise=0.1, **common),
        ConverterLosses(kind="converter_losses", target=system, loss_rise=0.3, **common),
        TowerDegradation(kind="tower_degradation", capacity_loss=0.2, **common),
        ChillerFouling(kind="chiller_fouling", cop_loss=0.1, **common),
    ]
    attach(plant, Scenario(events=events))  # type: ignore[arg-type]
    hall_1 = np.array([n.startswith("hall-1-") for n in layout.cdus.name])
    seen = {}
    for second in range(1, 251):
        plant.step(1.0)
        seen[second] = (
            layout.cdus.pump_power_w / pumps,
            layout.systems.loss_coefficients[:, 0] / losses[:, 0],
            plant.faults.fw_tower_capacity_loss,
            plant.faults.chiller_cop_loss,
        )
    pump, loss, tower, chiller = seen[90]
    assert np.allclose(pump[hall_1], 1.05, atol=0.002) and np.allclose(pump[~hall_1], 1.0)
    assert np.isclose(loss[0], 1.15, atol=0.005) and np.allclose(loss[1:], 1.0)
    assert np.isclose(tower, 0.10, atol=0.004) and np.isclose(chiller, 0.05, atol=0.002)
    pump, loss, tower, chiller = seen[200]
    assert np.allclose(pump[hall_1], 1.1) and np.isclose(loss[0], 1.3)
    assert np.isclose(tower, 0.2) and np.isclose(chiller, 0.1)
    pump, loss, tower, chiller = seen[250]  # repaired, cleaned
    assert np.allclose(pump, 1.0) and np.allclose(loss, 1.0) and tower == 0.0 and chiller == 0.0


def test_a_degraded_tower_leaves_warmer_water_and_fouled_chillers_draw_more() -> None:
    """The same plant twice, one with the facility towers at -20 % capacity and the
    chillers at -10 % COP from the start: after 120 s the towers' leaving water is
    warmer (the fans were already flat out in this June hour, so nothing hides it) and
    the chillers draw more power for about the same heat: 1 / 0.9 = 1.11."""
    from twin.plant.scenarios import ChillerFouling, TowerDegradation

    def after(degraded: bool) -> tuple[float, float, float]:
        plant = Plant(assemble(load_site("aidc-10mw")), start_s=180 * 86400.0)
        plant.warm_up(900.0)
        if degraded:
            attach(plant, Scenario(events=[
                TowerDegradation(kind="tower_degradation", at_s=0, capacity_loss=0.2),
                ChillerFouling(kind="chiller_fouling", at_s=0, cop_loss=0.1),
            ]))  # fmt: skip
        for _ in range(120):
            plant.step(1.0)
        r = plant.readings
        return float(plant.t_fw[0]), r.chw.chiller_power_w, r.chw.chiller_heat_w

    t_clean, p_clean, q_clean = after(False)
    t_worn, p_worn, q_worn = after(True)
    assert t_worn > t_clean + 0.5, (t_clean, t_worn)
    assert abs(q_worn / q_clean - 1.0) < 0.05
    assert 1.06 < (p_worn / q_worn) / (p_clean / q_clean) < 1.16


def test_degradation_targets_naming_nothing_are_refused_with_their_key() -> None:
    import pytest

    from twin.errors import ConfigError
    from twin.plant.scenarios import ConverterLosses, PumpWear

    plant = Plant(assemble(load_site("aidc-10mw")), start_s=0.0)
    for event in (PumpWear(kind="pump_wear", at_s=0, target="hall-9-*"),
                  ConverterLosses(kind="converter_losses", at_s=0, target="nope")):  # fmt: skip
        with pytest.raises(ConfigError, match=r"events\.0\.target"):
            attach(plant, Scenario(events=[event]))
    assert plant.events == []
