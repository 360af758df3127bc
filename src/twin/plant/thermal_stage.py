"""The thermal stage of the plant's step: the site's heat network, built and solved.

:func:`thermal_network` lays the plant out as one linear network of temperature nodes
(per hall: TCS supply, TCS return and hall air; then facility water, chilled water and
condenser water supply and return; then one per liquid-cooled rack, its coolant and
plates between its hall's TCS supply and return), connects them with the flows and conductances the
controls stage decided (:mod:`twin.plant.cooling_controls`), solves it implicitly
(:class:`twin.plant.network.Network`, backward Euler) and returns the heat flows at the
new temperatures as a :class:`HeatFlows`. Every flux is debited from one node and
credited to another, so the heat sources, the heat rejected outdoors and the heat
stored balance to round-off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from twin.physics import cooling
from twin.plant.network import Network
from twin.plant.racks import rack_flows
from twin.plant.towers import tower_water_use

if TYPE_CHECKING:
    from twin.plant.cooling_controls import Controls
    from twin.plant.model import Conditions, Load, Plant

__all__ = ["HeatFlows", "thermal_network"]


def _effectiveness(t_leaving_c: float, t_wet_c: float, range_k: float) -> float:
    """Tower effectiveness of the leaving water its control found at ``range_k``."""
    return float(cooling.tower_effectiveness(t_leaving_c - t_wet_c, range_k))


@dataclass(slots=True)
class HeatFlows:
    """Heat flows of one step at the step's new temperatures [W].

    Attributes
    ----------
    q_cdu : ndarray
        Heat the CDUs hand to facility water, per hall [W].
    q_fw_tower, q_fw_drycooler : float
        Heat rejected by the facility water towers and dry coolers [W].
    q_cw_tower : float
        Heat rejected by the condenser water towers [W].
    q_crah : ndarray
        Heat the CRAH coils take from the hall air, per hall [W].
    q_hx : float
        Heat the economiser plate heat exchanger moves to condenser water [W].
    q_chiller : float
        Heat the chillers take from chilled water [W].
    stored : float
        Heat stored in the nodes over the step [J].
    water_kg : float
        Water the towers used over the step (evaporation, drift, blowdown) [kg].
    """

    q_cdu: np.ndarray
    q_fw_tower: float
    q_fw_drycooler: float
    q_cw_tower: float
    q_crah: np.ndarray
    q_hx: float
    q_chiller: float
    stored: float
    water_kg: float


def thermal_network(plant: Plant, cond: Conditions, load: Load, ctl: Controls) -> HeatFlows:
    """Solve the heat network over one step; update the plant's node temperatures."""
    layout = plant.layout
    dt, t_dry, t_wet = cond.dt, cond.t_dry, cond.t_wet
    n_halls = layout.n_halls
    cp_w = layout.cp_water
    cp_s = layout.cp_secondary
    fw_t = layout.fw_towers
    cdu, fw, crah, chw = ctl.cdu, ctl.fw, ctl.crah, ctl.chw
    # Node order: per hall [tcs_supply, tcs_return, air],
    # then fw_s, fw_r, chw_s, chw_r, cw_s, cw_r, then one per liquid-cooled rack.
    h = np.arange(n_halls)
    tcs_s, tcs_r, hall_air = 3 * h, 3 * h + 1, 3 * h + 2
    base = 3 * n_halls
    fw_s, fw_r, chw_s, chw_r, cw_s, cw_r = (np.array([base + i]) for i in range(6))
    racks = layout.racks
    gpu = np.flatnonzero(racks.is_gpu)
    rack_node = base + 6 + np.arange(len(gpu))
    size = base + 6 + len(gpu)
    net = Network(size)
    cap = layout.heat_capacity
    capacity = np.empty(size)
    capacity[tcs_s] = cap["tcs_supply"]
    capacity[tcs_r] = cap["tcs_return"]
    capacity[hall_air] = cap["hall_air"]
    capacity[base : base + 6] = [
        cap["fw_supply"][0],
        cap["fw_return"][0],
        cap["chw_supply"][0],
        cap["chw_return"][0],
        cap["cw_supply"][0],
        cap["cw_return"][0],
    ]
    capacity[rack_node] = racks.heat_capacity_j_k[gpu]
    t_old = np.empty(size)
    t_old[tcs_s] = plant.t_tcs_supply
    t_old[tcs_r] = plant.t_tcs_return
    t_old[hall_air] = plant.t_air
    t_old[base : base + 6] = [*plant.t_fw, *plant.t_chw, *plant.t_cw]
    t_old[rack_node] = plant.t_rack[gpu]
    # Secondary (TCS) loops: supply → each rack's node → return; what no open rack
    # takes bypasses them.
    c_tcs = cdu.m_tcs * cp_s
    assert plant.faults.rack_flow_lost is not None
    # This step's rack flows: the readings report them, the next step's protection reads them.
    plant.m_rack = rack_flows(racks, cdu.m_tcs, plant.faults.rack_flow_lost)
    c_rack = plant.m_rack[gpu] * cp_s
    hall_of_rack = racks.hall[gpu]
    net.stream(tcs_s[hall_of_rack], rack_node, c_rack)
    net.stream(rack_node, tcs_r[hall_of_rack], c_rack)
    c_bypass = np.maximum(c_tcs - np.bincount(hall_of_rack, c_rack, n_halls), 0.0)
    net.stream(tcs_s, tcs_r, c_bypass)
    held = cdu.held.astype(float)
    net.stream(tcs_r, tcs_s, c_tcs * (1.0 - held))
    net.heat(rack_node, load.q_liquid_rack[gpu])  # only liquid-cooled racks have liquid heat
    net.heat(tcs_r, cdu.p_pump_hall)
    fw_s_h, fw_r_h = np.repeat(fw_s, n_halls), np.repeat(fw_r, n_halls)
    net.exchange(tcs_r, fw_s_h, tcs_s, fw_r_h, cdu.g)
    # CDUs holding their setpoint hand c·(T_return − T_set) to the facility water.
    net.outflow(tcs_r, c_tcs * held)
    net.inflow(tcs_s, c_tcs * held, plant.t_tcs_supply_set)
    net.carry(tcs_r, fw_r_h, c_tcs * held, plant.t_tcs_supply_set)
    # Facility water loop and its towers.
    c_fw = fw.m_flow * cp_w
    net.stream(fw_s, fw_r, np.array([c_fw]))
    net.heat(fw_r, np.array([fw.p_pump]))
    # Towers as exchangers with the wet bulb (physics.cooling.tower_effectiveness):
    # the leaving water stays between the wet bulb and the entering water.
    g_fw_tower = fw.g_tower * _effectiveness(fw.t_tower_out, t_wet, plant.tower_range["fw"])
    if fw_t is not None:
        net.stream(fw_r, fw_s, np.array([c_fw]))
        net.to_ambient(fw_r, fw_s, np.array([g_fw_tower]), np.array([t_wet]))
    elif layout.fw_drycoolers is not None:
        net.stream(fw_r, fw_s, np.array([c_fw]))
        net.to_ambient(fw_r, fw_s, np.array([fw.g_drycooler]), np.array([t_dry]))
    # Hall air and CRAH coils (air enters the coil from the hot aisle).
    net.heat(hall_air, crah.q_air)
    chw_s_h = np.repeat(chw_s, n_halls)
    chw_r_h = np.repeat(chw_r, n_halls)
    net.exchange(hall_air, chw_s_h, hall_air, chw_r_h, crah.g)
    net.heat(hall_air, -crah.g * crah.rack_air_rise)
    net.heat(chw_r_h, crah.g * crah.rack_air_rise)
    net.heat(hall_air, -crah.q_held)
    net.heat(chw_r_h, crah.q_held)
    # Chilled water: return → economiser → chillers → supply.
    c_chw = chw.c_chw
    net.stream(chw_s, chw_r, np.array([c_chw]))
    net.heat(chw_r, np.array([chw.p_chw_pump]))
    chiller_temperature_controlled = chw.chillers_on > 0 and not chw.chiller_limited
    if chiller_temperature_controlled:
        # Chillers hold the leaving temperature: the supply gets c·T_set and the
        # economiser and chillers together hand c·(T_r − T_set) to the condenser loop.
        net.outflow(chw_r, np.array([c_chw]))
        net.inflow(chw_s, np.array([c_chw]), np.array([plant.t_chw_supply_set]))
        net.carry(chw_r, cw_r, np.array([c_chw]), np.array([plant.t_chw_supply_set]))
    else:
        net.stream(chw_r, chw_s, np.array([c_chw]))
        if chw.g_hx > 0:
            net.exchange(chw_r, cw_s, chw_s, cw_r, np.array([chw.g_hx]))
        if chw.chillers_on:
            net.heat(chw_s, np.array([-chw.chiller_capacity]))
            net.heat(cw_r, np.array([chw.chiller_capacity]))
    net.heat(cw_r, np.array([chw.p_chiller + chw.p_cw_pump]))
    # Condenser water loop and its towers.
    c_cw = chw.m_cw * cp_w
    net.stream(cw_s, cw_r, np.array([c_cw]))
    # Condenser towers as exchangers with the wet bulb, as the facility water towers:
    # a fixed leaving water would have a still tower heat its water whenever the
    # entering water fell below it (issue 12, January tower-fan-failure).
    g_cw_tower = c_cw * _effectiveness(chw.t_cw_tower_out, t_wet, plant.tower_range["cw"])
    if layout.cw_towers.cells > 0:
        net.stream(cw_r, cw_s, np.array([c_cw]))
        net.to_ambient(cw_r, cw_s, np.array([g_cw_tower]), np.array([t_wet]))
    else:
        net.outflow(cw_r, np.array([c_cw]))
        net.inflow(cw_s, np.array([c_cw]), np.array([chw.t_cw_tower_out]))

    t_new = net.solve(t_old, capacity, dt)

    # Heat flows at the new temperatures (what the ledger and meters see).
    q_cdu = cdu.g * (t_new[tcs_r] - t_new[fw_s][0]) + c_tcs * held * (
        t_new[tcs_r] - plant.t_tcs_supply_set
    )
    q_fw_tower = g_fw_tower * (t_new[fw_r][0] - t_wet) if fw_t is not None else 0.0
    q_fw_drycooler = fw.g_drycooler * (t_new[fw_r][0] - t_dry)
    if layout.cw_towers.cells > 0:
        q_cw_tower = g_cw_tower * (t_new[cw_r][0] - t_wet)
    else:
        q_cw_tower = c_cw * (t_new[cw_r][0] - chw.t_cw_tower_out)
    q_crah = crah.g * (t_new[hall_air] + crah.rack_air_rise - t_new[chw_s][0]) + crah.q_held
    q_hx = chw.g_hx * (t_new[chw_r][0] - t_new[cw_s][0])
    if chiller_temperature_controlled:
        q_plant = c_chw * (t_new[chw_r][0] - plant.t_chw_supply_set)
        q_hx = min(max(q_hx, 0.0), max(q_plant, 0.0))
        q_chiller = q_plant - q_hx
    else:
        q_chiller = chw.chiller_capacity if chw.chillers_on else 0.0
    stored = float(np.sum(capacity * (t_new - t_old)))
    plant.t_tcs_supply = t_new[tcs_s]
    plant.t_tcs_return = t_new[tcs_r]
    plant.t_air = t_new[hall_air]
    plant.t_fw = t_new[base : base + 2]
    plant.t_chw = t_new[base + 2 : base + 4]
    plant.t_cw = t_new[base + 4 : base + 6]
    plant.t_rack[gpu] = t_new[rack_node]
    # The towers' fan commands of the next step start from this step's range.
    m_fw, m_cw = fw.m_flow, chw.m_cw
    if m_fw > 0 and fw_t is not None:
        plant.tower_range["fw"] = max(q_fw_tower / (m_fw * cp_w), 0.5)
    if m_cw > 0:
        plant.tower_range["cw"] = max(q_cw_tower / (m_cw * cp_w), 0.5)
    water = (
        float(
            tower_water_use(
                fw_t, m_fw, q_fw_tower, cp_w, weather=cond.weather, fan_speed=fw.fan_speed
            )
            + tower_water_use(
                layout.cw_towers,
                m_cw,
                q_cw_tower,
                cp_w,
                weather=cond.weather,
                fan_speed=chw.cw_fan_speed,
            )
        )
        * dt
    )
    return HeatFlows(
        q_cdu=q_cdu,
        q_fw_tower=float(q_fw_tower),
        q_fw_drycooler=float(q_fw_drycooler),
        q_cw_tower=float(q_cw_tower),
        q_crah=q_crah,
        q_hx=float(q_hx),
        q_chiller=float(q_chiller),
        stored=stored,
        water_kg=water,
    )
