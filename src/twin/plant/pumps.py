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
    """Pumps on and their speed at ``m_flow`` [kg/s], staged for least group power.

    For each number of running pumps n (1 to ``group.pumps``) that can carry the flow
    at or below :data:`PUMP_MAX_SPEED`, the pumps share the flow equally at the
    affinity-law speed ``m_flow / (n · m_design)``, never below their minimum speed (a
    group at minimum speed carries more than asked and the surplus recirculates, as a
    single pump at low flow already did); each draws ``power_w · speed³``
    (:func:`twin.physics.cooling.fan_power`). The n of least total power is chosen,
    the fewest pumps on a tie. Above what all pumps carry at the highest speed, all
    run at it. None on (speed 0) without flow.

    The group power is then non-decreasing in flow: each candidate's power is, and
    the set of candidates only shrinks as the flow grows. (Staging the fewest pumps
    at up to design speed was not: 4 pumps of 48 kW drew 96 kW at half flow, two at
    design, and 84 kW at 76 %, all four at 0.76.)
    """
    m_flow = np.asarray(m_flow, dtype=float)
    m_design = group.m_flow_design_kg_s
    pumps = max(int(group.pumps), 1)
    n = np.arange(1, pumps + 1, dtype=float).reshape((pumps,) + (1,) * m_flow.ndim)
    share = m_flow / (n * m_design)
    speed = np.clip(share, group.min_speed, PUMP_MAX_SPEED)
    power = n * cooling.fan_power(speed, 1.0)
    able = (share <= PUMP_MAX_SPEED * (1.0 + 1e-12)) | (n == pumps)
    best = np.argmin(np.where(able, power, np.inf), axis=0)
    n_on = np.take_along_axis(np.broadcast_to(n, power.shape), best[None], 0)[0]
    speed_on = np.take_along_axis(speed, best[None], 0)[0]
    flowing = m_flow > 0
    return np.where(flowing, n_on, 0).astype(int), np.where(flowing, speed_on, 0.0)


def pump_group_power(group: PumpGroup, m_flow: np.ndarray | float) -> np.ndarray:
    """Power of a pump group at ``m_flow`` [kg/s]: the pumps of
    :func:`pump_group_staging`, each at the affinity-law power of its speed [W]."""
    n_on, speed = pump_group_staging(group, m_flow)
    return n_on * cooling.fan_power(speed, group.power_w)


def chilled_water_flow(group: PumpGroup, m_flow_demand: np.ndarray | float) -> np.ndarray:
    """Chilled-water flow [kg/s]: what the coils' valves ask for, never below the minimum."""
    return np.maximum(m_flow_demand, CHW_MIN_FLOW_FRAC * group.pumps * group.m_flow_design_kg_s)
