"""The chilled-water plant: economiser mode, chiller staging and power, the economiser HX.

The mode machine (free, partial, mechanical on the outdoor wet bulb, with deadband and
minimum dwell) is written once, over an array of steps; the live step calls it with
one. Staging brings a chiller on when the running ones pass 90 % of their capacity.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from twin import catalog
from twin.physics import cooling, fluids
from twin.physics.chiller import CurveLimits

#: Cooling modes of the chilled-water plant, by their number in the plant's state.
COOLING_MODES = ("free", "partial", "mechanical")
FREE, PARTIAL, MECHANICAL = 0, 1, 2

#: Part load at which the next chiller is staged on: a chiller is added when the
#: running ones would pass 90 % of their capacity (a common sequence of operation;
#: the value the plant has always used, now in one place).
STAGE_UP_PART_LOAD = 0.9


def economiser_modes(
    t_wet: np.ndarray,
    t_s: np.ndarray,
    free_below: float,
    partial_below: float,
    deadband: float,
    min_dwell_s: float,
    mode: int,
    since_s: float,
) -> tuple[np.ndarray, int, float]:
    """Cooling mode per step (0 free, 1 partial, 2 mechanical) from the outdoor wet bulb.

    Hysteresis: leaving a cooler mode needs the wet bulb a deadband past its threshold;
    a change waits for the minimum dwell since the last one (Stein 2009, "Waterside
    economizing in data centers", ASHRAE Transactions 115(2)). Returns the modes and
    the state (mode, time of the last change) after the last step.
    """
    out = np.empty(np.shape(t_wet)[0], dtype=np.int8)
    free_enter = free_below - deadband
    partial_enter = partial_below - deadband
    for i, (w, t) in enumerate(
        zip(np.asarray(t_wet).tolist(), np.asarray(t_s).tolist(), strict=True)
    ):
        if w < (free_below if mode == FREE else free_enter):
            wanted = FREE
        elif w < (partial_enter if mode == MECHANICAL else partial_below):
            wanted = PARTIAL
        else:
            wanted = MECHANICAL
        if wanted != mode and t - since_s >= min_dwell_s:
            mode = wanted
            since_s = t
        out[i] = mode
    return out, mode, since_s


def chillers_staged(
    q_load_w: np.ndarray | float, capacity_each_w: float, available: np.ndarray | int
) -> np.ndarray:
    """Chillers on for a load [W]: enough to stay below :data:`STAGE_UP_PART_LOAD`
    each, at least one while there is load, at most the ``available`` ones."""
    q = np.asarray(q_load_w, dtype=float)
    n = np.ceil(q / (STAGE_UP_PART_LOAD * capacity_each_w) - 1e-9)
    n = np.minimum(np.maximum(n, 1), available)
    return np.where(q > 0, n, 0).astype(int)


@cache
def curve_limits(chiller: catalog.Chiller) -> CurveLimits:
    """The record's curve range (min/max of each curve input)."""
    c = chiller.curves
    return CurveLimits(c.t_chilled_leaving_limits_c, c.t_condenser_entering_limits_c, c.plr_limits)


@cache
def condenser_lift_offset_k(chiller: catalog.Chiller) -> float:
    """Condensing refrigerant above the entering condenser water at rated load [K]:
    the condenser water's rated range, Q·(1 + 1/COP)/(ṁ·cp), plus the condenser's
    approach (1055 kW · 1.168 / (53.7 kg/s · 4180 J/kg/K) = 5.49 K + 2 K for the York YT)."""
    q_cond_w = chiller.capacity_kw * 1e3 * (1.0 + 1.0 / chiller.cop)
    cp = float(fluids.specific_heat("water", chiller.t_condenser_entering_rated_c))
    return q_cond_w / (chiller.m_flow_condenser_kg_s * cp) + chiller.dt_approach_condenser_k


def chiller_power(
    chiller: catalog.Chiller,
    q_each_w: np.ndarray | float,
    t_chw_supply_c: np.ndarray | float,
    t_cw_supply_c: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    """Compressor power [W] and available capacity [W] of one running chiller.

    DOE-2 electric EIR model with the record's curves, their inputs bounded to the
    record's range as EnergyPlus does, and beyond that range COP following Carnot from
    the edge at the same lift (:mod:`twin.physics.chiller`). The one chiller law of
    the plant: the live step and the annual solver both call it.
    """
    curves = chiller.curves
    return cooling.chiller_eir_power(
        q_each_w,
        t_chw_supply_c,
        t_cw_supply_c,
        chiller.capacity_kw * 1e3,
        chiller.cop,
        list(curves.capft),
        list(curves.eirft),
        list(curves.eirfplr),
        chiller.plr_min,
        limits=curve_limits(chiller),
        dt_evaporator_k=chiller.dt_approach_evaporator_k,
        dt_condenser_k=condenser_lift_offset_k(chiller),
    )


def economiser_effectiveness(design_delta_t_k: float, approach_k: float) -> float:
    """Effectiveness of the economiser plate HX from its design approach: the chilled
    water cools by its design ΔT while leaving ``approach_k`` above the condenser water."""
    return design_delta_t_k / (design_delta_t_k + approach_k)


def free_cooling_target_c(t_chw_supply_set_c: float, approach_k: float) -> float:
    """Condenser water the towers must reach for the economiser alone to hold the
    chilled-water setpoint [°C]."""
    return t_chw_supply_set_c - approach_k
