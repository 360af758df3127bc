"""Coolant distribution units per hall: secondary pumps and the plate heat exchanger.

The technology cooling loop (CDU secondary) of each hall is driven by its CDUs'
pumps toward the racks' design flow; the plate HX hands the heat to the facility
water through a valve that holds the secondary supply temperature.
"""

from __future__ import annotations

import numpy as np

from twin.physics import cooling
from twin.plant.layout import Cdus


def cdu_pump_speed_ideal(
    m_flow_set_kg_s: np.ndarray, capacity_kg_s: np.ndarray, min_speed: float
) -> np.ndarray:
    """Pump speed that gives the hall's set flow (ideal control), within its limits."""
    return np.clip(m_flow_set_kg_s / np.maximum(capacity_kg_s, 1e-9), min_speed, 1.0)


def cdu_pump_power(cdus: Cdus, running: np.ndarray, speed_hall: np.ndarray) -> np.ndarray:
    """Power of each CDU's running pumps [W] at its hall's pump speed (cube law)."""
    return cooling.fan_power(speed_hall[cdus.hall], running * cdus.pump_power_w)


def cdu_conductance(
    cdus: Cdus,
    n_halls: int,
    active: np.ndarray,
    m_secondary_kg_s: np.ndarray,
    m_facility_kg_s: np.ndarray,
    cp_secondary: float,
    cp_water: float,
) -> np.ndarray:
    """Conductance ε·C_min [W/K] of each hall's CDU heat exchangers in parallel.

    ``active`` (per CDU, 0 or 1) says which CDUs pass flow; the hall's flows are
    shared equally among them; each exchanger's UA follows its flows
    (:func:`twin.physics.cooling.ua_at_flows`), counter-flow.
    """
    n_active = np.bincount(cdus.hall, active, n_halls)
    per = np.maximum(n_active, 1.0)
    ua_nominal = np.bincount(cdus.hall, cdus.ua_w_k, n_halls) / np.maximum(
        np.bincount(cdus.hall, minlength=n_halls), 1
    )
    ua = n_active * cooling.ua_at_flows(
        ua_nominal,
        m_secondary_kg_s / per,
        cdus.m_flow_secondary_kg_s[0],
        m_facility_kg_s / per,
        cdus.m_flow_facility_kg_s[0],
    )
    return cooling.exchanger_conductance(
        ua, m_secondary_kg_s * cp_secondary, m_facility_kg_s * cp_water, "counterflow"
    )
