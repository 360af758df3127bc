"""Racks: utilisation and power per rack, their coolant flow, cold plates and GPU
thermal protection.

Each liquid-cooled rack is a lumped node of the heat network (its coolant, plates
and packages, :attr:`twin.plant.layout.Racks.heat_capacity_j_k`) between its hall's
secondary supply and return: the node's temperature is the coolant leaving the rack.
At steady state it is ``T_supply + Q/(ṁ c_p)``, the rack return the annual solver
computes, so the node changes transients only.
"""

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


def rack_flows(racks: Racks, m_tcs_kg_s: np.ndarray, flow_lost: np.ndarray) -> np.ndarray:
    """Coolant through each rack [kg/s]: its hall's secondary flow shared over the
    GPU racks whose flow is not lost (a closed valve, a blocked quick-disconnect), by
    their design flow.

    The CDU pumps hold the hall's flow (flow control), so the racks left open share
    a lost rack's flow; with none open the flow bypasses the racks.
    """
    hall = racks.hall
    n_halls = len(m_tcs_kg_s)
    open_design = np.where(racks.is_gpu & ~flow_lost, racks.m_flow_design_kg_s, 0.0)
    hall_open = np.bincount(hall, open_design, n_halls)
    return np.asarray(m_tcs_kg_s)[hall] * open_design / np.maximum(hall_open[hall], 1e-12)


def protection(
    racks: Racks,
    p_w: np.ndarray,
    t_plate_in_c: np.ndarray,
    m_rack_kg_s: np.ndarray,
    rho_secondary: float,
    tripped: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Power factor (0-1) and trip state of each rack from its GPU temperature.

    Above slowdown the power is throttled along a line from full power at slowdown
    to the catalog's floor at shutdown (:func:`twin.physics.thermal.gpu_power_factor`);
    when even the floor would leave the plates above shutdown the rack trips and
    stays at 0 W until it has coolant again (at least :data:`PLATE_RENEWAL_FLOW_FRAC`
    of its design flow) and its idle plates (at their coolant's temperature) are
    below slowdown: then it restarts on its own, as a job scheduler relaunches it.
    ``p_w`` is the power it would draw; ``t_plate_in_c`` and ``m_rack_kg_s`` the
    last step's coolant at the plates (NaN for air racks: never protected) and flow.
    """
    plates = np.maximum(racks.cold_plates, 1)
    flow_lpm = plate_flow_lpm(racks, m_rack_kg_s, rho_secondary)
    rise = thermal.cold_plate_resistance(flow_lpm) * p_w * racks.liquid_frac / plates
    factor = thermal.gpu_power_factor(
        t_plate_in_c, rise, racks.t_slowdown_c, racks.t_shutdown_c, racks.throttle_floor
    )
    flowing = m_rack_kg_s >= PLATE_RENEWAL_FLOW_FRAC * racks.m_flow_design_kg_s
    with np.errstate(invalid="ignore"):
        restart = flowing & (t_plate_in_c < racks.t_slowdown_c)
    now_tripped = (tripped & ~restart) | (factor == 0.0)
    return np.where(now_tripped, 0.0, factor), now_tripped


def plate_inlet(
    racks: Racks, m_rack_kg_s: np.ndarray, t_supply_c: np.ndarray, t_rack_c: np.ndarray
) -> np.ndarray:
    """Coolant at each rack's plates [°C]: flowing, the supply; below
    :data:`PLATE_RENEWAL_FLOW_FRAC` of design flow it trends to the rack's own node."""
    renewal = np.clip(
        m_rack_kg_s / np.maximum(PLATE_RENEWAL_FLOW_FRAC * racks.m_flow_design_kg_s, 1e-9), 0.0, 1.0
    )
    return np.where(racks.is_gpu, renewal * t_supply_c + (1.0 - renewal) * t_rack_c, np.nan)


def cold_plates(
    racks: Racks,
    p_it_w: np.ndarray,
    m_rack_kg_s: np.ndarray,
    t_supply_c: np.ndarray,
    t_rack_c: np.ndarray,
    rho_secondary: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Case temperature of each rack's hottest plate [°C], its coolant return [°C] and
    flow [L/min]; NaN (flow 0) for air-cooled racks.

    ``t_supply_c`` is the rack's supply (its hall's), ``t_rack_c`` its own node: the
    coolant leaving it. Flowing, a plate sees the supply; below
    :data:`PLATE_RENEWAL_FLOW_FRAC` of design flow its coolant trends to the rack's.
    """
    gpu = racks.is_gpu
    plates = np.maximum(racks.cold_plates, 1)
    flow_lpm = plate_flow_lpm(racks, m_rack_kg_s, rho_secondary)
    q_plate = p_it_w * racks.liquid_frac / plates
    t_in = plate_inlet(racks, m_rack_kg_s, t_supply_c, t_rack_c)
    t_case = thermal.cold_plate_case_temperature(t_in, q_plate, flow_lpm)
    return (
        np.where(gpu, t_case, np.nan),
        np.where(gpu, t_rack_c, np.nan),
        np.where(gpu, m_rack_kg_s / rho_secondary * 60000.0, 0.0),
    )
