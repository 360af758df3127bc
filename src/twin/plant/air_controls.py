"""The controls of the air side and the chilled water plant, for the controls stage.

Split from :mod:`twin.plant.cooling_controls` (which runs the liquid side and calls
these in the order heat travels) to keep each module readable:

- :func:`crah_control`: CRAH fans on load, chilled-water valves on supply air;
- :func:`chilled_water_control`: the economiser mode machine (:func:`update_mode`),
  chilled water pumps, chillers, the plate heat exchanger and the condenser towers.

Like the rest of the stage, these only decide how the equipment runs; its equations
live in :mod:`twin.plant.crah`, :mod:`~twin.plant.chillers`, :mod:`~twin.plant.pumps`,
:mod:`~twin.plant.towers` and :mod:`~twin.plant.chilled_water`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from twin.plant import chillers as chiller_plant
from twin.plant.chilled_water import chilled_water_plant
from twin.plant.controllers import IDEAL_CONTROL_STEP_S
from twin.plant.crah import (
    crah_air_capacity_rate,
    crah_coil_conductance,
    crah_fan_power,
    crah_fan_speed,
)
from twin.plant.pumps import chilled_water_flow, pump_group_power
from twin.plant.towers import tower_leaving_water

if TYPE_CHECKING:
    from twin.plant.model import Conditions, Load, Plant


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
            p_chiller=float(operated.p_chiller_w) / (1.0 - plant.faults.chiller_cop_loss),
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
    # condenser fouling (a degradation event): the same load for 1 / (1 - loss) the power
    p_chiller = float(p_chiller_each) * n_on / (1.0 - plant.faults.chiller_cop_loss)
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
            plant.faults.cw_tower_capacity_loss,
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
