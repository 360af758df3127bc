"""Racks: utilisation and power per rack, and their cold plates."""

from __future__ import annotations

import numpy as np

from twin.physics import thermal
from twin.physics.load import server_power
from twin.plant.layout import Racks
from twin.site import Site

#: Spread of the air-cooled racks' utilisation around the site's figure, per unit of
#: their deterministic offset (the GPU racks' spread is a site setting).
AIR_RACK_SPREAD = 0.1

#: Below this share of its design flow a rack's plates are no longer renewed from the
#: supply manifold: their coolant trends to the rack-side (return) volume.
PLATE_RENEWAL_FLOW_FRAC = 0.25


def rack_utilisation(racks: Racks, site: Site, u_site: np.ndarray | float) -> np.ndarray:
    """Utilisation (0-1) of each rack: GPU racks follow the site's load profile, spread
    by their offsets; air-cooled racks run at the site's steady air-rack figure.

    ``u_site`` may carry a time axis first (shape ``(n, 1)``) for a study.
    """
    u = np.where(
        racks.is_gpu,
        np.asarray(u_site) * (1.0 + site.gpu_utilisation_spread * racks.utilisation_offset),
        site.air_rack_utilisation * (1.0 + AIR_RACK_SPREAD * racks.utilisation_offset),
    )
    return np.clip(u, 0.0, 1.0)


def rack_power(racks: Racks, utilisation: np.ndarray) -> np.ndarray:
    """IT power of each rack [W] at its utilisation (linear server power model)."""
    return server_power(racks.p_nominal_w * racks.idle_frac, racks.p_nominal_w, utilisation)


def plate_flow_lpm(racks: Racks, m_rack_kg_s: np.ndarray, rho_secondary: float) -> np.ndarray:
    """Coolant flow through one cold plate of each rack [L/min]."""
    return m_rack_kg_s / rho_secondary * 60000.0 / np.maximum(racks.cold_plates, 1)


def cold_plates(
    racks: Racks,
    p_it_w: np.ndarray,
    m_rack_kg_s: np.ndarray,
    t_supply_c: np.ndarray,
    t_return_c: np.ndarray,
    rho_secondary: float,
    cp_secondary: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Case temperature of each rack's hottest plate [°C], its coolant return [°C] and
    flow [L/min]; NaN (flow 0) for air-cooled racks.

    ``t_supply_c`` and ``t_return_c`` are the rack's loop temperatures (per rack).
    """
    gpu = racks.is_gpu
    plates = np.maximum(racks.cold_plates, 1)
    flow_lpm = plate_flow_lpm(racks, m_rack_kg_s, rho_secondary)
    q_plate = p_it_w * racks.liquid_frac / plates
    renewal = np.clip(
        m_rack_kg_s / np.maximum(PLATE_RENEWAL_FLOW_FRAC * racks.m_flow_design_kg_s, 1e-9), 0.0, 1.0
    )
    t_in = renewal * t_supply_c + (1.0 - renewal) * t_return_c
    t_case = thermal.cold_plate_case_temperature(t_in, q_plate, flow_lpm)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_out = np.where(
            m_rack_kg_s > 0,
            t_in + p_it_w * racks.liquid_frac / np.maximum(m_rack_kg_s * cp_secondary, 1e-9),
            t_return_c,
        )
    return (
        np.where(gpu, t_case, np.nan),
        np.where(gpu, t_out, np.nan),
        np.where(gpu, m_rack_kg_s / rho_secondary * 60000.0, 0.0),
    )
