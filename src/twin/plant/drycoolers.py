"""Dry coolers: conductance at flows and fan speed, and the fan speed that holds a setpoint.

Identical units sharing a loop's water equally, fans at one speed
(:class:`twin.plant.layout.DryCoolerGroup`); a crossflow finned-coil exchanger
whose UA follows the flows (:func:`twin.physics.cooling.ua_at_flows`).
"""

from __future__ import annotations

import numpy as np

from twin.physics import cooling
from twin.plant.layout import DryCoolerGroup

#: Bisection steps for the fan speed: 2⁻¹⁴ of the speed range, far below a fan's
#: own resolution.
_FAN_BISECTION_STEPS = 14


def drycooler_conductance(
    group: DryCoolerGroup,
    m_flow: np.ndarray | float,
    fan: np.ndarray | float,
    cp_water: float,
) -> np.ndarray:
    """Heat the dry coolers reject per kelvin of entering water above dry bulb [W/K] (ε·C_min).

    A fan command below the minimum speed cycles the fans at minimum speed for that
    share of the time (:func:`fan_cycle`); the conductance is the mean over the cycle,
    the coil's natural convection with its fans stopped being neglected.
    """
    on_share, speed = fan_cycle(group, fan)
    m_unit = np.asarray(m_flow, dtype=float) / group.units
    c_air = speed * group.c_air_w_k
    ua = cooling.ua_at_flows(group.ua_w_k, c_air, group.c_air_w_k, m_unit, group.m_flow_design_kg_s)
    g = cooling.exchanger_conductance(ua, m_unit * cp_water, c_air, "crossflow")
    return on_share * group.units * g


def fan_cycle(group: DryCoolerGroup, fan: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Share of the time the fans run, and their speed while running, for a command.

    At or above the minimum speed the fans run continuously at the command; below it
    they cycle at minimum speed for ``command / min_speed`` of the time, as a fluid
    cooler's controls do when even minimum speed over-cools the water.
    """
    command = np.clip(np.asarray(fan, dtype=float), 0.0, 1.0)
    min_speed = group.min_fan_speed
    return np.clip(command / min_speed, 0.0, 1.0), np.maximum(command, min_speed)


def drycooler_conductance_needed(
    c_water_w_k: np.ndarray | float,
    t_in: np.ndarray | float,
    t_set: np.ndarray | float,
    t_dry: np.ndarray | float,
) -> np.ndarray:
    """Conductance [W/K] that cools water entering at ``t_in`` to ``t_set`` against ``t_dry``.

    ``g·(T_in − T_dry) = C_w·(T_in − T_set)``; infinite (full fan) when the entering
    water is within 0.1 K of the dry bulb.
    """
    t_in = np.asarray(t_in, dtype=float)
    span = t_in - t_dry
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(span > 0.1, c_water_w_k * np.maximum(t_in - t_set, 0.0) / span, np.inf)
    return g


def drycooler_fan(
    group: DryCoolerGroup,
    m_flow: np.ndarray | float,
    g_needed: np.ndarray | float,
    cp_water: float,
) -> np.ndarray:
    """Lowest fan command whose conductance reaches ``g_needed`` (full speed if none does):
    below what minimum speed gives, the cycling command (:func:`fan_cycle`) that gives
    exactly ``g_needed``."""
    m_flow = np.asarray(m_flow, dtype=float)
    lo = np.full(np.broadcast(m_flow, g_needed).shape, group.min_fan_speed)
    hi = np.ones_like(lo)
    for _ in range(_FAN_BISECTION_STEPS):  # conductance rises with fan speed
        mid = 0.5 * (lo + hi)
        enough = drycooler_conductance(group, m_flow, mid, cp_water) >= g_needed
        hi = np.where(enough, mid, hi)
        lo = np.where(enough, lo, mid)
    g_min = drycooler_conductance(group, m_flow, group.min_fan_speed, cp_water)
    with np.errstate(divide="ignore", invalid="ignore"):
        cycling = group.min_fan_speed * np.clip(np.asarray(g_needed) / g_min, 0.0, 1.0)
    return np.where(g_min >= g_needed, np.nan_to_num(cycling), hi)


def drycooler_fan_power(group: DryCoolerGroup, fan: np.ndarray | float) -> np.ndarray:
    """Mean fan power of the group [W] at a command (cube law; cycling below minimum)."""
    on_share, speed = fan_cycle(group, fan)
    return on_share * group.units * cooling.fan_power(speed, group.fan_power_w)
