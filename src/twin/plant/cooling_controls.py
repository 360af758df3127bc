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

from twin.plant import chillers as chiller_plant
from twin.plant.cdus import cdu_conductance, cdu_pump_power
from twin.plant.chilled_water import chilled_water_plant
from twin.plant.crah import (
    crah_air_capacity_rate,
    crah_coil_conductance,
    crah_fan_power,
    crah_fan_speed,
)
from twin.plant.drycoolers import (
    drycooler_conductance,
    drycooler_conductance_needed,
    drycooler_fan,
    drycooler_fan_power,
)
from twin.plant.pumps import chilled_water_flow, pump_group_power
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

#: Steps longer than this use ideal (setpoint-tracking) control instead of the PI
#: loops: at study steps of minutes the loops' time constants (seconds) are far
#: inside one step, so a discrete PI would bang between its limits. Ideal control
#: meets the setpoint whenever the equipment can, as EnergyPlus plant loops do.
IDEAL_CONTROL_STEP_S = 10.0


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
class CrahControl:
    """CRAH units this step, per hall.

    Attributes
    ----------
    fan_speed, valve : ndarray
        Fan speed and chilled-water valve [0-1].
    p_fan : ndarray
        Fan power [W].
    q_air : ndarray
        Heat into the hall air: IT to air, hall losses and fans [W].
    m_chw : ndarray
        Chilled water through the coils [kg/s].
    g : ndarray
        Coil conductance [W/K].
    rack_air_rise : ndarray
        Air temperature rise across the racks [K].
    q_held : ndarray
        Heat the coils take where they hold the supply air at its setpoint [W].
    """

    fan_speed: np.ndarray
    valve: np.ndarray
    p_fan: np.ndarray
    q_air: np.ndarray
    m_chw: np.ndarray
    g: np.ndarray
    rack_air_rise: np.ndarray
    q_held: np.ndarray


@dataclass(slots=True)
class ChilledWaterControl:
    """The chilled water plant and its condenser loop this step.

    Attributes
    ----------
    m_chw : float
        Chilled water flow [kg/s].
    p_chw_pump : float
        Chilled water pump power [W].
    c_chw : float
        Chilled water capacity rate [W/K].
    g_hx : float
        Economiser plate heat-exchanger conductance [W/K]; 0 when it is off.
    chillers_on : int
        Chillers running.
    p_chiller : float
        Chillers' electrical power [W].
    chiller_capacity : float
        Cooling the running chillers can give at these conditions [W].
    chiller_limited : bool
        The chillers cannot meet the load (or none runs).
    m_cw : float
        Condenser water flow [kg/s].
    p_cw_pump : float
        Condenser water pump power [W].
    t_cw_tower_out : float
        Water leaving the condenser towers [°C].
    cw_fan_speed : float
        Condenser tower fan speed [0-1].
    p_cw_fan : float
        Condenser tower fan power [W].
    """

    m_chw: float
    p_chw_pump: float
    c_chw: float
    g_hx: float
    chillers_on: int
    p_chiller: float
    chiller_capacity: float
    chiller_limited: bool
    m_cw: float
    p_cw_pump: float
    t_cw_tower_out: float
    cw_fan_speed: float
    p_cw_fan: float


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


def crah_control(plant: Plant, cond: Conditions, load: Load) -> CrahControl:
    """CRAH fans on the hall's air load, chilled-water valves on supply air."""
    layout = plant.layout
    dt, mech = cond.dt, cond.mech
    n_halls = layout.n_halls
    cp_w = layout.cp_water
    crah = plant.crah
    q_air_load = load.q_air_it + plant.hall_losses_w
    fan_speed = crah_fan_speed(crah, q_air_load)
    p_crah_fan = crah_fan_power(crah, fan_speed)
    q_air = q_air_load + p_crah_fan
    c_air = crah_air_capacity_rate(crah, fan_speed)
    ideal_air = dt > IDEAL_CONTROL_STEP_S
    if ideal_air:
        crah_valve = np.ones(n_halls)
    else:
        crah_valve = plant.crah_valve.step(plant.t_air, plant.t_supply_air_set, dt)
    m_chw_nominal = crah.m_flow_chilled_kg_s
    m_chw_hall = crah_valve * m_chw_nominal * (1.0 if mech else 0.0)
    g_crah = crah_coil_conductance(
        crah, fan_speed, crah_valve, c_air, cp_w, water_on=1.0 if mech else 0.0
    )
    rack_air_rise = q_air / np.maximum(c_air, 1.0)
    q_crah_held = np.zeros(n_halls)
    if ideal_air and mech:
        capacity_air = layout.heat_capacity["hall_air"]
        q_need_air = q_air + capacity_air * (plant.t_air - plant.t_supply_air_set) / dt
        q_max_air = g_crah * (plant.t_air + rack_air_rise - plant.t_chw[0])
        crah_held = (q_need_air >= 0) & (q_need_air <= q_max_air)
        crah_valve = np.where(crah_held, q_need_air / np.maximum(q_max_air, 1e-9), 1.0)
        m_chw_hall = crah_valve * m_chw_nominal
        q_crah_held = np.where(crah_held, q_need_air, 0.0)
        g_crah = np.where(crah_held, 0.0, g_crah)
    return CrahControl(
        fan_speed=fan_speed,
        valve=crah_valve,
        p_fan=p_crah_fan,
        q_air=q_air,
        m_chw=m_chw_hall,
        g=g_crah,
        rack_air_rise=rack_air_rise,
        q_held=q_crah_held,
    )


def chilled_water_control(plant: Plant, cond: Conditions, crah: CrahControl) -> ChilledWaterControl:
    """Economiser mode, chilled water pumps, chillers and condenser towers."""
    layout = plant.layout
    t, dt, mech, t_wet = cond.t, cond.dt, cond.mech, cond.t_wet
    cp_w = layout.cp_water
    air_cfg = plant.site.cooling.air_side
    update_mode(plant, t, t_wet)
    # Without power the coils' water is already off (crah_control): no flow.
    m_chw = float(chilled_water_flow(layout.chw_pumps, float(crah.m_chw.sum()))) if mech else 0.0
    p_chw_pump = float(pump_group_power(layout.chw_pumps, m_chw))
    c_chw = m_chw * cp_w
    available = (~plant.faults.chiller_failed) & (plant.chiller_ready_at <= t) & mech
    if not mech:
        plant.chiller_ready_at = np.maximum(
            plant.chiller_ready_at, t + layout.chiller.restart_delay_s
        )
    hx_on = plant.mode in (0, 1) and air_cfg.economiser and mech
    # Economiser plate HX: fixed effectiveness from its design approach.
    dt_design = air_cfg.design_delta_t_k
    eff_hx = chiller_plant.economiser_effectiveness(dt_design, air_cfg.economiser_approach_k)
    g_hx = eff_hx * c_chw if hx_on else 0.0
    n_avail = int(available.sum())
    cw_failed = plant.faults.cw_tower_failed
    cw_failed_cells = int(cw_failed.sum()) if cw_failed is not None else 0
    if dt > IDEAL_CONTROL_STEP_S and mech:
        # At study steps the loops settle within the step: the plant is operated as
        # the annual study operates it, for the heat the air side hands over.
        operated = chilled_water_plant(
            layout,
            plant.mode,
            float(crah.q_air.sum()) + p_chw_pump,
            m_chw,
            t_wet,
            plant.t_chw_supply_set,
            plant.t_cw_supply_set,
            n_avail,
            cw_failed_cells,
        )
        n_on = int(operated.chillers_on)
        chiller_capacity = float(operated.chiller_capacity_w)
        return ChilledWaterControl(
            m_chw=m_chw,
            p_chw_pump=p_chw_pump,
            c_chw=c_chw,
            g_hx=g_hx,
            chillers_on=n_on,
            p_chiller=float(operated.p_chiller_w),
            chiller_capacity=chiller_capacity,
            chiller_limited=(
                float(operated.q_chiller_w) > chiller_capacity * 0.999 if n_on else True
            ),
            m_cw=float(operated.m_cw_kg_s),
            p_cw_pump=float(operated.p_cw_pump_w),
            t_cw_tower_out=float(operated.t_cw_supply_c),
            cw_fan_speed=float(operated.cw_fan),
            p_cw_fan=float(operated.p_cw_fan_w),
        )
    return _chilled_water_on_pi(
        plant, cond, m_chw, p_chw_pump, c_chw, g_hx, n_avail, cw_failed_cells
    )


def _chilled_water_on_pi(
    plant: Plant,
    cond: Conditions,
    m_chw: float,
    p_chw_pump: float,
    c_chw: float,
    g_hx: float,
    n_avail: int,
    cw_failed_cells: int,
) -> ChilledWaterControl:
    """Chillers staged on the measured return, towers on their PI loops (live steps)."""
    layout = plant.layout
    dt, mech, t_wet = cond.dt, cond.mech, cond.t_wet
    cap_chiller = layout.chiller.capacity_kw * 1e3
    hx_on = g_hx > 0
    chillers_on_mode = plant.mode in (1, 2)
    q_need_est = c_chw * (plant.t_chw[1] - plant.t_chw_supply_set)
    m_cw_hx = m_chw if hx_on else 0.0
    q_hx_est = g_hx * max(plant.t_chw[1] - plant.t_cw[0], 0.0)
    chiller_load_est = max(q_need_est - q_hx_est, 0.0) if chillers_on_mode else 0.0
    n_on = int(chiller_plant.chillers_staged(chiller_load_est, cap_chiller, n_avail))
    n_on = n_on if chillers_on_mode else 0
    ch = layout.chiller
    per_chiller_est = chiller_load_est / max(n_on, 1)
    p_chiller_each, q_cap_each = chiller_plant.chiller_power(
        ch, per_chiller_est, plant.t_chw_supply_set, plant.t_cw[0]
    )
    p_chiller = float(p_chiller_each) * n_on
    chiller_capacity = float(q_cap_each) * n_on
    chiller_limited = chiller_load_est > chiller_capacity * 0.999 if n_on else True
    m_cw = max(n_on * ch.m_flow_condenser_kg_s, m_cw_hx)
    p_cw_pump = float(pump_group_power(layout.cw_pumps, m_cw)) if m_cw > 0 and mech else 0.0
    if plant.mode == 0:
        cw_cmd = plant.cw_fan.step(plant.t_chw[0:1], plant.t_chw_supply_set, dt)[0]
    elif plant.mode == 1:
        cw_cmd = 1.0
        plant.cw_fan.reset(slice(None), 1.0)
    else:
        cw_cmd = plant.cw_fan.step(plant.t_cw[0:1], plant.t_cw_supply_set, dt)[0]
    t_cw_tower_out, cw_fan_speed, p_cw_fan = (
        float(x)
        for x in tower_leaving_water(
            layout.cw_towers,
            m_cw,
            float(cw_cmd) if mech else 0.0,
            t_wet,
            plant.tower_range["cw"],
            cw_failed_cells,
        )
    )
    return ChilledWaterControl(
        m_chw=m_chw,
        p_chw_pump=p_chw_pump,
        c_chw=c_chw,
        g_hx=g_hx,
        chillers_on=n_on,
        p_chiller=p_chiller,
        chiller_capacity=chiller_capacity,
        chiller_limited=chiller_limited,
        m_cw=m_cw,
        p_cw_pump=p_cw_pump,
        t_cw_tower_out=t_cw_tower_out,
        cw_fan_speed=cw_fan_speed,
        p_cw_fan=p_cw_fan,
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


def update_mode(plant: Plant, t: float, t_wet: float) -> None:
    """Economiser mode on wet bulb (:func:`twin.plant.chillers.economiser_modes`)."""
    air = plant.site.cooling.air_side
    if not air.economiser:
        plant.mode = chiller_plant.MECHANICAL
        return
    _, plant.mode, plant.mode_since_s = chiller_plant.economiser_modes(
        np.array([t_wet]),
        np.array([t]),
        air.free_cooling_below_wet_bulb_c,
        air.partial_below_wet_bulb_c,
        air.mode_deadband_k,
        air.mode_min_dwell_s,
        plant.mode,
        plant.mode_since_s,
    )
