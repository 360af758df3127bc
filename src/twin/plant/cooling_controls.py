"""The controls stage of the plant's step: how each piece of cooling equipment runs.

:func:`controls` decides, for one step, the flows, fan speeds, valve positions and
chiller staging of the cooling plant, and what each of them draws and can transfer
(conductances), before the thermal network is solved
(:mod:`twin.plant.thermal_stage`). One function per loop, in the order heat travels:

- :func:`cdu_control`: CDU secondary pumps (standby start, speed on flow) and their
  facility-water valves on the TCS supply temperature;
- :func:`facility_water_control`: facility water pumps, towers or dry coolers;
- :func:`crah_control`: CRAH fans on load, chilled-water valves on supply air;
- :func:`chilled_water_control`: economiser mode, chilled water pumps, chillers, the
  plate heat exchanger and the condenser towers.

Live steps (``dt`` up to :data:`IDEAL_CONTROL_STEP_S`) run the PI loops; study steps
track setpoints ideally. The equipment equations live in their modules
(:mod:`twin.plant.cdus`, :mod:`~twin.plant.towers`, :mod:`~twin.plant.drycoolers`,
:mod:`~twin.plant.crah`, :mod:`~twin.plant.chillers`, :mod:`~twin.plant.pumps`,
:mod:`~twin.plant.chilled_water`); this module only decides how they run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from twin.plant.air_controls import (
    ChilledWaterControl,
    CrahControl,
    chilled_water_control,
    crah_control,
)
from twin.plant.cdus import cdu_conductance, cdu_pump_power
from twin.plant.controllers import IDEAL_CONTROL_STEP_S
from twin.plant.drycoolers import (
    drycooler_conductance,
    drycooler_conductance_needed,
    drycooler_fan,
    drycooler_fan_power,
)
from twin.plant.pumps import pump_group_power
from twin.plant.towers import tower_fan_to_reach, tower_leaving_water

if TYPE_CHECKING:
    from twin.plant.model import Conditions, Load, Plant

__all__ = [
    "IDEAL_CONTROL_STEP_S",
    "CduControl",
    "ChilledWaterControl",
    "Controls",
    "CrahControl",
    "FacilityWaterControl",
    "cdu_control",
    "chilled_water_control",
    "controls",
    "crah_control",
    "facility_water_control",
]


@dataclass(slots=True)
class CduControl:
    """CDUs this step, per hall unless stated.

    Attributes
    ----------
    m_tcs : ndarray
        Secondary (TCS) flow [kg/s].
    m_set : ndarray
        Secondary flow setpoint: the racks' design flow [kg/s].
    speed, valve : ndarray
        Pump speed and facility-water valve [0-1].
    p_pump : ndarray
        Secondary pump power per CDU [W].
    p_pump_hall : ndarray
        Secondary pump power per hall [W].
    m_fac : ndarray
        Facility water through the CDUs [kg/s].
    g : ndarray
        Heat-exchanger conductance (effectiveness × smaller capacity rate) [W/K].
    held : ndarray of bool
        Halls whose CDUs hold the TCS supply at its setpoint (study steps).
    """

    m_tcs: np.ndarray
    m_set: np.ndarray
    speed: np.ndarray
    valve: np.ndarray
    p_pump: np.ndarray
    p_pump_hall: np.ndarray
    m_fac: np.ndarray
    g: np.ndarray
    held: np.ndarray


@dataclass(slots=True)
class FacilityWaterControl:
    """The facility water loop this step (0 everywhere on a site without one).

    Attributes
    ----------
    m_flow : float
        Loop flow [kg/s].
    p_pump : float
        Loop pump power [W].
    fan_speed : float
        Tower or dry-cooler fan speed [0-1].
    p_fan : float
        Tower or dry-cooler fan power [W].
    g_tower : float
        Capacity rate through the towers [W/K].
    g_drycooler : float
        Dry-cooler conductance to outdoor air [W/K].
    t_tower_out : float
        Water leaving the towers [°C].
    """

    m_flow: float
    p_pump: float
    fan_speed: float
    p_fan: float
    g_tower: float
    g_drycooler: float
    t_tower_out: float


@dataclass(slots=True)
class Controls:
    """How the cooling plant runs this step, one part per loop."""

    cdu: CduControl
    fw: FacilityWaterControl
    crah: CrahControl
    chw: ChilledWaterControl


def controls(plant: Plant, cond: Conditions, load: Load) -> Controls:
    """Run every control loop of the cooling plant for one step (in the order heat
    travels: CDUs, facility water, CRAH, chilled water)."""
    cdu = cdu_control(plant, cond)
    fw = facility_water_control(plant, cond, cdu)
    crah = crah_control(plant, cond, load)
    chw = chilled_water_control(plant, cond, crah)
    return Controls(cdu=cdu, fw=fw, crah=crah, chw=chw)


def cdu_control(plant: Plant, cond: Conditions) -> CduControl:
    """CDU pumps on flow (with standby start) and valves on TCS supply temperature."""
    layout = plant.layout
    dt = cond.dt
    mech = cond.mech
    n_halls = layout.n_halls
    racks = layout.racks
    cdus = layout.cdus
    if not len(cdus.name):
        zeros = np.zeros(n_halls)
        return CduControl(
            m_tcs=np.zeros(n_halls),
            m_set=np.zeros(n_halls),
            speed=zeros,
            valve=zeros,
            p_pump=np.zeros(0),
            p_pump_hall=zeros,
            m_fac=zeros,
            g=zeros,
            held=np.zeros(n_halls, bool),
        )
    cp_w = layout.cp_water
    cp_s = layout.cp_secondary
    update_standby(plant, cond.t)
    running = plant.pump_running.sum(axis=1).astype(float)
    capacity = running * cdus.m_flow_pump_kg_s  # flow at full speed
    hall_capacity = np.bincount(cdus.hall, capacity, n_halls)
    m_set = np.bincount(racks.hall, racks.m_flow_design_kg_s, n_halls)
    # The pumps follow the flow measured at the end of the last step.
    measured = m_set if plant.m_tcs_measured is None else plant.m_tcs_measured
    speed = plant.cdu_pump.step(np.asarray(measured) / np.maximum(m_set, 1e-9), 1.0, dt)
    min_speed = float(cdus.pump_min_speed.min())
    speed = np.clip(speed, min_speed, 1.0)
    m_tcs = speed * hall_capacity
    p_cdu_pump = cdu_pump_power(cdus, running, speed)
    active = (running > 0).astype(float)
    m_fac_max = np.bincount(cdus.hall, active * cdus.m_flow_facility_kg_s, n_halls)
    fw_ok = mech and layout.fw_pumps is not None
    ideal = dt > IDEAL_CONTROL_STEP_S
    if ideal:
        valve = np.ones(n_halls)
    else:
        valve = plant.cdu_valve.step(plant.t_tcs_supply, plant.t_tcs_supply_set, dt)
    m_fac = valve * m_fac_max * (1.0 if fw_ok else 0.0)
    g_cdu = cdu_conductance(cdus, n_halls, active, m_tcs, m_fac, cp_s, cp_w)
    cdu_held = np.zeros(n_halls, bool)
    if ideal and fw_ok:
        q_need = m_tcs * cp_s * (plant.t_tcs_return - plant.t_tcs_supply_set)
        q_max = g_cdu * (plant.t_tcs_return - plant.t_fw[0])
        cdu_held = (m_tcs > 0) & (q_need >= 0) & (q_need <= q_max)
        valve = np.where(cdu_held, q_need / np.maximum(q_max, 1e-9), 1.0)
        m_fac = valve * m_fac_max
        g_cdu = np.where(cdu_held, 0.0, g_cdu)
    p_cdu_pump_hall = np.bincount(cdus.hall, p_cdu_pump, n_halls)
    return CduControl(
        m_tcs=m_tcs,
        m_set=m_set,
        speed=speed,
        valve=valve,
        p_pump=p_cdu_pump,
        p_pump_hall=p_cdu_pump_hall,
        m_fac=m_fac,
        g=g_cdu,
        held=cdu_held,
    )


def facility_water_control(plant: Plant, cond: Conditions, cdu: CduControl) -> FacilityWaterControl:
    """Facility water pumps for the CDUs' flow; tower or dry-cooler fans on supply."""
    layout = plant.layout
    dt, mech, t_wet, t_dry = cond.dt, cond.mech, cond.t_wet, cond.t_dry
    cp_w = layout.cp_water
    fw_t = layout.fw_towers
    m_fw = float(cdu.m_fac.sum())
    p_fw_pump = 0.0
    fw_fan_speed = 0.0
    g_fw_tower = 0.0
    g_fw_drycooler = 0.0
    t_fw_tower_out = t_wet
    p_fw_fan = 0.0
    if layout.fw_pumps is not None and len(layout.cdus.name):
        p_fw_pump = float(pump_group_power(layout.fw_pumps, m_fw)) if mech else 0.0
        if fw_t is not None:
            failed = plant.faults.fw_tower_failed
            if dt > IDEAL_CONTROL_STEP_S:
                fan_cmd = float(
                    tower_fan_to_reach(
                        fw_t, m_fw, plant.t_fw_supply_set, t_wet, plant.tower_range["fw"]
                    )
                )
            else:
                fan_cmd = float(plant.fw_fan.step(plant.t_fw[0:1], plant.t_fw_supply_set, dt)[0])
            t_fw_tower_out, fw_fan_speed, p_fw_fan = (
                float(x)
                for x in tower_leaving_water(
                    fw_t,
                    m_fw,
                    fan_cmd if mech else 0.0,
                    t_wet,
                    plant.tower_range["fw"],
                    int(failed.sum()) if failed is not None else 0,
                    plant.faults.fw_tower_capacity_loss,
                )
            )
            g_fw_tower = m_fw * cp_w
        dry = layout.fw_drycoolers
        if dry is not None:
            if dt > IDEAL_CONTROL_STEP_S:
                needed = drycooler_conductance_needed(
                    m_fw * cp_w, float(plant.t_fw[1]), plant.t_fw_supply_set, t_dry
                )
                fan_cmd = float(drycooler_fan(dry, np.asarray(m_fw), needed, cp_w))
            else:
                fan_cmd = float(plant.fw_fan.step(plant.t_fw[0:1], plant.t_fw_supply_set, dt)[0])
            fw_fan_speed = min(max(fan_cmd, 0.0), 1.0) if mech else 0.0
            g_fw_drycooler = float(drycooler_conductance(dry, m_fw, fw_fan_speed, cp_w))
            p_fw_fan = float(drycooler_fan_power(dry, fw_fan_speed))
    return FacilityWaterControl(
        m_flow=m_fw,
        p_pump=p_fw_pump,
        fan_speed=fw_fan_speed,
        p_fan=p_fw_fan,
        g_tower=g_fw_tower,
        g_drycooler=g_fw_drycooler,
        t_tower_out=t_fw_tower_out,
    )


def update_standby(plant: Plant, t: float) -> None:
    """Tripped CDU pumps stop; a healthy idle pump starts after the standby delay."""
    cdus = plant.layout.cdus
    failed = plant.faults.pump_failed
    assert failed is not None
    plant.pump_running &= ~failed
    running = plant.pump_running.sum(axis=1)
    short = running < cdus.pumps_duty
    healthy_idle = (~plant.pump_running) & (~failed)
    for index in np.flatnonzero(short):
        pumps = int(cdus.pumps[index])
        if not healthy_idle[index, :pumps].any():
            continue
        if not math.isfinite(plant.pump_standby_timer[index]):
            plant.pump_standby_timer[index] = t + cdus.standby_start_delay_s[index]
        if t >= plant.pump_standby_timer[index]:
            spare = int(np.flatnonzero(healthy_idle[index, :pumps])[0])
            plant.pump_running[index, spare] = True
            plant.pump_standby_timer[index] = np.inf
