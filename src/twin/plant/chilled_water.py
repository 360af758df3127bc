"""The chilled-water plant at steady state under ideal control, over any number of steps.

Given the heat the coils hand to the chilled water and its flow, this sequences the
plant the way its controls do when every loop reaches its setpoint within the step
(EnergyPlus' plant loops; the live step at study steps): economiser mode, chillers
staged for the load, condenser flow, towers driven to their target, the economiser's
share of the load at the return temperature the setpoint implies, the chillers trimming
the rest. The annual study calls it over its time axis; the dynamic plant at study
steps calls it for one step, so the two give the same plant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.plant import chillers as chiller_plant
from twin.plant.layout import Layout
from twin.plant.pumps import pump_group_power
from twin.plant.towers import tower_fan_to_reach, tower_leaving_water

#: Target far below any wet bulb: in partial mode the towers run at full speed, the
#: coldest condenser water they can make feeding the economiser first.
_COLDEST = -100.0


@dataclass(frozen=True)
class ChilledWaterPlant:
    """The plant's operating point (arrays with the shape of the inputs)."""

    m_cw_kg_s: np.ndarray  # condenser water flow
    p_cw_pump_w: np.ndarray
    cw_fan: np.ndarray  # tower fan command (mean speed)
    p_cw_fan_w: np.ndarray
    t_cw_supply_c: np.ndarray  # tower leaving water
    cw_range_k: np.ndarray  # tower range at the heat it rejects
    t_chw_return_c: np.ndarray
    q_economiser_w: np.ndarray
    q_chiller_w: np.ndarray
    chillers_on: np.ndarray
    p_chiller_w: np.ndarray
    chiller_capacity_w: np.ndarray  # of the chillers on, at these temperatures
    q_condenser_w: np.ndarray  # heat into the condenser water (to the towers)


def chilled_water_plant(
    layout: Layout,
    modes: np.ndarray | int,
    q_chw_w: np.ndarray | float,
    m_chw_kg_s: np.ndarray | float,
    t_wet_c: np.ndarray | float,
    t_chw_supply_set_c: float,
    t_cw_supply_set_c: float,
    chillers_available: np.ndarray | int | None = None,
    failed_tower_cells: int = 0,
) -> ChilledWaterPlant:
    """Operate the chilled-water plant for a load ``q_chw_w`` [W] at flow ``m_chw_kg_s``.

    ``modes``: 0 free cooling (the economiser carries the load, the towers aim at the
    setpoint less the economiser's approach), 1 partial (towers at full speed, the
    economiser first, chillers trim), 2 mechanical (chillers, towers at the condenser
    setpoint).
    """
    air = layout.site.cooling.air_side
    cp_w = layout.cp_water
    chiller = layout.chiller
    cap = chiller.capacity_kw * 1e3
    available = layout.chillers if chillers_available is None else chillers_available
    modes = np.asarray(modes)
    q_chw = np.asarray(q_chw_w, dtype=float)
    m_chw = np.asarray(m_chw_kg_s, dtype=float)
    c_chw = np.maximum(m_chw * cp_w, 1e-9)
    eff_hx = chiller_plant.economiser_effectiveness(air.design_delta_t_k, air.economiser_approach_k)
    hx_on = (modes < chiller_plant.MECHANICAL) & air.economiser
    g_hx = np.where(hx_on, eff_hx * c_chw, 0.0)
    t_chw_return = t_chw_supply_set_c + q_chw / c_chw
    # Condenser flow for the chillers the whole load would need, and a first guess
    # at the condenser heat (the load plus compressors at rated COP) for the range.
    mechanical = modes > chiller_plant.FREE
    staged_for_all = chiller_plant.chillers_staged(q_chw, cap, available)
    m_cw = np.maximum(
        np.where(mechanical, staged_for_all * chiller.m_flow_condenser_kg_s, 0.0),
        np.where(hx_on, m_chw, 0.0),
    )
    p_cw_pump = pump_group_power(layout.cw_pumps, m_cw)
    c_cw = np.maximum(m_cw * cp_w, 1e-9)
    p_chiller_guess = np.where(mechanical, q_chw / chiller.cop, 0.0)
    range_guess = (q_chw + p_chiller_guess + p_cw_pump) / c_cw
    target = np.where(
        modes == chiller_plant.FREE,
        chiller_plant.free_cooling_target_c(t_chw_supply_set_c, air.economiser_approach_k),
        np.where(modes == chiller_plant.PARTIAL, _COLDEST, t_cw_supply_set_c),
    )
    towers = layout.cw_towers
    fan = tower_fan_to_reach(towers, m_cw, target, t_wet_c, range_guess)
    t_cw_supply, fan, p_cw_fan = tower_leaving_water(
        towers, m_cw, fan, t_wet_c, range_guess, failed_tower_cells
    )
    q_hx = np.where(hx_on, np.minimum(q_chw, g_hx * (t_chw_return - t_cw_supply)), 0.0)
    q_hx = np.clip(q_hx, 0.0, None)
    # In free cooling the chilled water warms until the economiser carries it all.
    q_hx = np.where(modes == chiller_plant.FREE, q_chw, q_hx)
    q_chiller = np.where(mechanical, q_chw - q_hx, 0.0)
    n_on = chiller_plant.chillers_staged(q_chiller, cap, available)
    p_each, q_available = chiller_plant.chiller_power(
        chiller, q_chiller / np.maximum(n_on, 1), t_chw_supply_set_c, t_cw_supply
    )
    p_chiller = p_each * n_on
    q_cw = q_hx + q_chiller + p_chiller + p_cw_pump
    return ChilledWaterPlant(
        m_cw_kg_s=m_cw,
        p_cw_pump_w=p_cw_pump,
        cw_fan=fan,
        p_cw_fan_w=p_cw_fan,
        t_cw_supply_c=t_cw_supply,
        cw_range_k=q_cw / c_cw,
        t_chw_return_c=t_chw_return,
        q_economiser_w=q_hx,
        q_chiller_w=q_chiller,
        chillers_on=n_on,
        p_chiller_w=p_chiller,
        chiller_capacity_w=q_available * n_on,
        q_condenser_w=q_cw,
    )
