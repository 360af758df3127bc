"""Pump groups: staging and affinity-law power."""

from __future__ import annotations

import numpy as np

from twin.physics import cooling
from twin.plant.layout import PumpGroup

#: Highest speed a pump of a group is driven to, as a share of its design speed: the
#: range over which the plant applies the affinity law.
PUMP_MAX_SPEED = 1.2

#: Least chilled-water flow, as a share of the pumps' design flow, held by the bypass
#: when the coils' valves close: a modelling floor that keeps the loop's temperatures
#: defined at no load, not a vendor's figure.
CHW_MIN_FLOW_FRAC = 0.1


def pump_group_staging(
    group: PumpGroup, m_flow: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Pumps on and their speed at ``m_flow`` [kg/s]: staged so each runs at or below
    design flow, sharing the flow equally; none on (speed 0) without flow."""
    m_flow = np.asarray(m_flow, dtype=float)
    m_design = group.m_flow_design_kg_s
    n_on = np.clip(np.ceil(m_flow / m_design - 1e-9), 1, group.pumps)
    speed = np.clip(m_flow / (n_on * m_design), group.min_speed, PUMP_MAX_SPEED)
    flowing = m_flow > 0
    return np.where(flowing, n_on, 0).astype(int), np.where(flowing, speed, 0.0)


def pump_group_power(group: PumpGroup, m_flow: np.ndarray | float) -> np.ndarray:
    """Power of a pump group at ``m_flow`` [kg/s]: the pumps of
    :func:`pump_group_staging`, each at the affinity-law power of its speed [W]."""
    n_on, speed = pump_group_staging(group, m_flow)
    return n_on * cooling.fan_power(speed, group.power_w)


def chilled_water_flow(group: PumpGroup, m_flow_demand: np.ndarray | float) -> np.ndarray:
    """Chilled-water flow [kg/s]: what the coils' valves ask for, never below the minimum."""
    return np.maximum(m_flow_demand, CHW_MIN_FLOW_FRAC * group.pumps * group.m_flow_design_kg_s)
