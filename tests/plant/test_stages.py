"""The stages of Plant.step, each called on its own on a small site, each checked
against one physical fact (energy into a stage comes out of it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from twin.plant.layout import assemble
from twin.plant.model import Conditions, Plant
from twin.plant.readings import Readings
from twin.site import load_site


def _settled(path: Path, seconds: int = 120) -> Plant:
    plant = Plant(assemble(load_site(path)), start_s=0.0)
    for _ in range(seconds):
        plant.step(1.0)
    return plant


def _stages(plant: Plant, dt: float):  # type: ignore[no-untyped-def]
    cond = plant.apply_inputs(dt)
    load = plant.it_load(cond)
    ctl = plant.run_controls(cond, load)
    heat = plant.solve_thermal(cond, load, ctl)
    power = plant.run_power_chain(cond, load, ctl)
    return cond, load, ctl, heat, power


def test_step_is_its_stages_in_order(single_pump_site: Path) -> None:
    stepped = _settled(single_pump_site, 30)
    staged = _settled(single_pump_site, 30)
    stepped.step(1.0)
    cond, load, ctl, heat, power = _stages(staged, 1.0)
    staged.close_ledgers(cond, load, ctl, heat, power)
    staged.publish_readings(cond, load, ctl, heat, power)
    for group in dataclasses.fields(Readings):
        ours, theirs = getattr(stepped.readings, group.name), getattr(staged.readings, group.name)
        for f in dataclasses.fields(ours):
            np.testing.assert_array_equal(
                getattr(ours, f.name), getattr(theirs, f.name), err_msg=f"{group.name}.{f.name}"
            )
    assert stepped.ledger == staged.ledger


def test_load_stage_an_unpowered_rack_draws_nothing_and_is_counted_interrupted(
    single_pump_site: Path,
) -> None:
    plant = _settled(single_pump_site, 10)
    layout = plant.layout
    rack = 0
    # Both of the rack's PDUs lose their UPS/HVDC systems (flat batteries, say).
    for pdu in layout.racks.pdu[:, rack]:
        plant.system_alive[layout.pdus.system[pdu]] = False
    dead = ~(
        plant.system_alive[layout.pdus.system[layout.racks.pdu[0]]]
        | plant.system_alive[layout.pdus.system[layout.racks.pdu[1]]]
    )
    assert dead[rack]
    before = plant.ledger.it_interrupted_j
    weather = plant.weather.at(plant.t_s + 1.0)
    cond = Conditions(t=plant.t_s + 1.0, dt=1.0, t_wet=15.0, t_dry=20.0, mech=True, weather=weather)
    load = plant.it_load(cond)
    assert np.all(load.p_demand > 0)
    assert np.all(load.p_it[dead] == 0.0)
    np.testing.assert_array_equal(load.p_it[~dead], load.p_demand[~dead])
    # Heat per hall is the IT power that is drawn, no more.
    assert load.q_liquid.sum() + load.q_air_it.sum() == pytest.approx(load.p_it.sum(), rel=1e-12)
    ctl = plant.run_controls(cond, load)
    heat = plant.solve_thermal(cond, load, ctl)
    power = plant.run_power_chain(cond, load, ctl)
    plant.close_ledgers(cond, load, ctl, heat, power)
    interrupted = plant.ledger.it_interrupted_j - before
    assert interrupted == pytest.approx(float(load.p_demand[dead].sum()) * 1.0, rel=1e-12)


@pytest.mark.parametrize("dt", [1.0, 60.0])
def test_thermal_stage_heat_balance_closes(single_pump_site: Path, dt: float) -> None:
    plant = _settled(single_pump_site)
    _, load, ctl, heat, _ = _stages(plant, dt)
    cdu, fw, crah, chw = ctl.cdu, ctl.fw, ctl.crah, ctl.chw
    # Everything the network is handed: IT to liquid, CDU pumps, facility water pumps,
    # the hall air's load (IT to air, hall losses, CRAH fans), chilled and condenser
    # water pumps and the chillers' compressors.
    heat_in = (
        float(load.q_liquid.sum())
        + float(cdu.p_pump_hall.sum())
        + fw.p_pump
        + float(crah.q_air.sum())
        + chw.p_chw_pump
        + chw.p_chiller
        + chw.p_cw_pump
    ) * dt
    rejected = (heat.q_fw_tower + heat.q_fw_drycooler + heat.q_cw_tower) * dt
    assert heat_in > 0
    assert abs(heat_in - rejected - heat.stored) <= 1e-9 * heat_in


def _electrical_balance(plant: Plant, dt: float = 1.0) -> tuple[float, float, float]:
    _, load, _, _, power = _stages(plant, dt)
    systems = plant.layout.systems
    drawn = power.from_utility + power.from_generator
    into = drawn + float(power.discharge.sum())
    out = (
        float(load.p_it.sum())
        + float(power.transformer_loss.sum())
        + float(power.pdu_loss.sum())
        + float(power.sys_loss.sum())
        + float(power.battery_loss.sum())
        + power.p_cooling
        + power.other_w
        + float((power.charging * systems.charge_eff).sum())
    )
    return drawn, into, out


def test_power_stage_facility_power_is_it_plus_losses_plus_cooling(
    single_pump_site: Path,
) -> None:
    plant = _settled(single_pump_site)
    drawn, into, out = _electrical_balance(plant)
    assert drawn > 0
    assert abs(into - out) <= 1e-9 * into


def test_power_stage_balance_holds_on_battery(single_pump_site: Path) -> None:
    plant = _settled(single_pump_site)
    plant.faults.utility_lost[:] = True
    for _ in range(2):
        plant.step(1.0)
    drawn, into, out = _electrical_balance(plant)
    assert drawn == 0.0  # no feed, generators still starting: the batteries carry it
    assert into > 0
    assert abs(into - out) <= 1e-9 * into


def test_controls_stage_a_cdu_with_every_pump_tripped_moves_no_coolant(
    single_pump_site: Path,
) -> None:
    plant = _settled(single_pump_site, 10)
    assert plant.faults.pump_failed is not None
    plant.faults.pump_failed[:] = True
    cond = plant.apply_inputs(1.0)
    ctl = plant.run_controls(cond, plant.it_load(cond))
    np.testing.assert_array_equal(ctl.cdu.m_tcs, 0.0)
    np.testing.assert_array_equal(ctl.cdu.p_pump, 0.0)


def test_readings_are_typed_and_a_misspelt_name_fails(single_pump_site: Path) -> None:
    plant = _settled(single_pump_site, 2)
    assert isinstance(plant.readings, Readings)
    assert plant.readings.power.it_power_w == pytest.approx(plant.readings.racks.power_w.sum())
    with pytest.raises(AttributeError):
        plant.readings.power.it_power_kw  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError):  # slots: no attribute can be added by mistake
        plant.readings.site.t_wetbulb_c = 1.0  # type: ignore[attr-defined]
