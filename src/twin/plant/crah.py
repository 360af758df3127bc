"""CRAH units and fan walls per hall: fans on load, the chilled-water coil.

The per-hall arrays are built once per site (:func:`crah_halls`); the live step and the
study evaluate fans and coils from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.physics import cooling, fluids
from twin.plant.layout import Layout

#: Film-coefficient exponent of the coil's conductance on each stream's flow
#: (turbulent, Dittus-Boelter 0.8); the coil's UA scales with the geometric mean of
#: the air and water sides: UA = UA₀·(speed⁰·⁸·valve⁰·⁸)^½.
COIL_FLOW_EXPONENT = 0.8


@dataclass(frozen=True)
class CrahHalls:
    """The CRAH units of each hall, summed: capacity, fans, airflow and coil [per hall]."""

    capacity_w: np.ndarray
    fan_power_w: np.ndarray  # at full speed
    min_fan_speed: np.ndarray
    airflow_m3_s: np.ndarray  # at full speed
    ua_w_k: np.ndarray  # coil UA at design flows
    m_flow_chilled_kg_s: np.ndarray  # chilled water at a fully open valve


def crah_halls(layout: Layout) -> CrahHalls:
    """Sum the units of each hall from the layout (once per site)."""
    counts = np.bincount(layout.crah_hall, minlength=layout.n_halls).astype(float)
    return CrahHalls(
        capacity_w=np.array([c.capacity_kw * 1e3 for c in layout.crah]) * counts,
        fan_power_w=np.array([c.fan_power_kw * 1e3 for c in layout.crah]) * counts,
        min_fan_speed=np.array([c.min_fan_speed for c in layout.crah]),
        airflow_m3_s=np.array([c.airflow_m3_s for c in layout.crah]) * counts,
        ua_w_k=layout.crah_ua_w_k * counts,
        m_flow_chilled_kg_s=np.array([c.m_flow_chilled_kg_s for c in layout.crah]) * counts,
    )


def crah_fan_speed(crah: CrahHalls, q_air_load_w: np.ndarray) -> np.ndarray:
    """Fan speed on load: the share of capacity the hall's air heat asks for, within
    the fans' minimum and full speed."""
    return np.clip(q_air_load_w / np.maximum(crah.capacity_w, 1.0), crah.min_fan_speed, 1.0)


def crah_fan_power(crah: CrahHalls, speed: np.ndarray) -> np.ndarray:
    """Fan power [W] at a speed (cube law)."""
    return cooling.fan_power(speed, crah.fan_power_w)


def crah_air_capacity_rate(crah: CrahHalls, speed: np.ndarray) -> np.ndarray:
    """Heat capacity rate of the supply air [W/K] at a fan speed."""
    return crah.airflow_m3_s * speed * fluids.AIR_DENSITY * fluids.AIR_SPECIFIC_HEAT


def crah_coil_conductance(
    crah: CrahHalls,
    speed: np.ndarray,
    valve: np.ndarray,
    c_air_w_k: np.ndarray,
    cp_water: float,
    water_on: float = 1.0,
) -> np.ndarray:
    """Conductance ε·C_min [W/K] of the halls' chilled-water coils (crossflow).

    ``water_on`` is 0 when the chilled-water pumps have no power (no flow).
    """
    valve = np.asarray(valve, dtype=float)
    m_chw = valve * crah.m_flow_chilled_kg_s * water_on
    ua = (
        crah.ua_w_k
        * (speed**COIL_FLOW_EXPONENT * np.clip(valve, 1e-6, 1.0) ** COIL_FLOW_EXPONENT) ** 0.5
    )
    return cooling.exchanger_conductance(ua, c_air_w_k, m_chw * cp_water, "crossflow")
