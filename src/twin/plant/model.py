"""The plant: the only stateful model of the twin.

:class:`Plant` holds the state of one site (loop and room temperatures, pump and
fan commands, battery charge, generator and ATS state) as arrays per component
class, and :meth:`Plant.step` advances it by ``dt``. Each step:

1. applies due scenario events and queued commands (setpoint writes);
2. evaluates IT load per rack from the load profile;
3. runs the control loops (PI) and sets flows, fan speeds and chiller staging;
4. solves the thermal network implicitly (:mod:`twin.plant.network`);
5. walks the power chain up from the racks (PDU → UPS/HVDC → transformer →
   feed, batteries and generators on utility loss);
6. closes the electrical and heat ledgers and publishes :attr:`Plant.readings`.

The same step runs live (1 s) and in a study (minutes): integration is implicit
and PI integral gains are capped per step, so it is stable at either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from twin.loads import LoadProfile, load_profile
from twin.physics import electrical
from twin.plant import chillers as chiller_plant
from twin.plant.cdus import cdu_conductance, cdu_pump_power
from twin.plant.chilled_water import chilled_water_plant
from twin.plant.chillers import COOLING_MODES
from twin.plant.controllers import PiArray
from twin.plant.crah import (
    crah_air_capacity_rate,
    crah_coil_conductance,
    crah_fan_power,
    crah_fan_speed,
    crah_halls,
)
from twin.plant.drycoolers import (
    drycooler_conductance,
    drycooler_conductance_needed,
    drycooler_fan,
    drycooler_fan_power,
)
from twin.plant.layout import Layout, system_losses
from twin.plant.ledger import Ledger, heat_sources_w
from twin.plant.network import Network
from twin.plant.power import pdu_losses, transformer_loads, ups_cooling_share
from twin.plant.pumps import chilled_water_flow, pump_group_power
from twin.plant.racks import cold_plates, rack_power, rack_utilisation
from twin.plant.towers import tower_fan_to_reach, tower_leaving_water, tower_water_use
from twin.weather import Weather, load_weather

__all__ = ["COOLING_MODES", "IDEAL_CONTROL_STEP_S", "Faults", "Ledger", "Plant"]

#: Steps longer than this use ideal (setpoint-tracking) control instead of the PI
#: loops: at study steps of minutes the loops' time constants (seconds) are far
#: inside one step, so a discrete PI would bang between its limits. Ideal control
#: meets the setpoint whenever the equipment can, as EnergyPlus plant loops do.
IDEAL_CONTROL_STEP_S = 10.0


@dataclass
class Faults:
    """Physical faults in force (set by scenario events)."""

    utility_lost: np.ndarray = field(default_factory=lambda: np.zeros(2, bool))
    pump_failed: np.ndarray | None = None  # [cdu, pump]
    fw_tower_failed: np.ndarray | None = None
    cw_tower_failed: np.ndarray | None = None
    chiller_failed: np.ndarray | None = None
    load_factor: float = 1.0


class Plant:
    """A site's plant, stepped in time.

    Parameters
    ----------
    layout : Layout
        The assembled site (:func:`twin.plant.layout.assemble`).
    weather : Weather, optional
        Outdoor conditions; the site's default climate when omitted.
    profile : LoadProfile, optional
        IT utilisation profile; the site's default when omitted.
    start_s : float
        Simulation time at start [s from Jan 1 00:00 local time].
    """

    def __init__(
        self,
        layout: Layout,
        weather: Weather | None = None,
        profile: LoadProfile | None = None,
        start_s: float = 0.0,
    ) -> None:
        self.layout = layout
        site = layout.site
        self.site = site
        self.weather = weather or load_weather(site.weather)
        self.profile = profile or load_profile(site.load_profile)
        self.t_s = float(start_s)
        cool = site.cooling
        n_halls = layout.n_halls
        fw = cool.facility_water
        air = cool.air_side
        # Setpoints (writable through the devices' command queue).
        self.t_tcs_supply_set = np.full(n_halls, cool.t_tcs_supply_c)
        self.t_supply_air_set = np.full(n_halls, cool.t_supply_air_c)
        self.t_fw_supply_set = fw.t_supply_c if fw else 30.0
        self.t_chw_supply_set = air.t_chilled_supply_c
        self.t_cw_supply_set = air.t_condenser_supply_c
        # Node temperatures start at their setpoints' steady values.
        self.t_tcs_supply = self.t_tcs_supply_set.copy()
        self.t_tcs_return = self.t_tcs_supply_set + 10.0
        self.t_air = self.t_supply_air_set.copy()
        self.t_fw = np.array([self.t_fw_supply_set, self.t_fw_supply_set + 8.0])
        self.t_chw = np.array([self.t_chw_supply_set, self.t_chw_supply_set + 6.0])
        self.t_cw = np.array([self.t_cw_supply_set, self.t_cw_supply_set + 5.0])
        # Controllers.
        self.cdu_valve = PiArray(n_halls, kp=0.6, ti_s=60.0, span=5.0, initial=0.6)
        self.cdu_pump = PiArray(n_halls, kp=0.3, ti_s=10.0, span=1.0, reverse=False, initial=0.8)
        self.crah_valve = PiArray(n_halls, kp=0.6, ti_s=120.0, span=3.0, initial=0.5)
        self.fw_fan = PiArray(1, kp=0.5, ti_s=120.0, span=3.0, initial=0.6)
        self.cw_fan = PiArray(1, kp=0.5, ti_s=120.0, span=3.0, initial=0.6)
        # Equipment state.
        cdus = layout.cdus
        max_pumps = int(cdus.pumps.max()) if len(cdus.name) else 1
        self.pump_running = np.zeros((len(cdus.name), max_pumps), bool)
        for i, duty in enumerate(cdus.pumps_duty):
            self.pump_running[i, :duty] = True
        self.pump_standby_timer = np.full(len(cdus.name), np.inf)
        self.faults = Faults(
            pump_failed=np.zeros_like(self.pump_running),
            fw_tower_failed=np.zeros(layout.fw_towers.cells if layout.fw_towers else 0, bool),
            cw_tower_failed=np.zeros(layout.cw_towers.cells, bool),
            chiller_failed=np.zeros(layout.chillers, bool),
        )
        self.chiller_ready_at = np.full(layout.chillers, -np.inf)  # ready from the start
        self.mode = 2 if not air.economiser else 1
        self.mode_since_s = -math.inf
        self.tower_range = {"fw": fw.design_delta_t_k if fw else 5.0, "cw": 5.0}
        n_sys = len(layout.systems.name)
        self.soc = np.ones(n_sys)
        self.system_alive = np.ones(n_sys, bool)
        self.walk_in = np.ones(n_sys)  # fraction of input the rectifier takes from its feed
        # Power sources.
        self.generator_state_since = 0.0
        self.generators_running = False
        self.generator_ready = False
        self.on_generator = np.zeros(2, bool)
        self.utility_back_since = np.full(2, -math.inf)
        self.utility_lost_since = np.full(2, math.inf)
        self.generator_output_w = 0.0
        self.commands: list[tuple[str, dict]] = []
        self.ledger = Ledger()
        self.readings: dict[str, np.ndarray | float] = {}
        self._side_energised = np.ones(2, bool)
        self._mech_powered = True
        self._hall_losses_w = np.zeros(n_halls)
        self.crah = crah_halls(layout)
        self.events: list = []  # scenario events not yet applied, sorted by time
        self.active_events: list = []

    def warm_up(self, duration_s: float = 900.0, step_s: float = 5.0) -> None:
        """Settle loops and controllers from their initial guesses before the run.

        Steps the plant over the ``duration_s`` of plant time that precede its current
        time, then starts the ledgers afresh, as an EnergyPlus run warms up. Call it
        before attaching a scenario.
        """
        end = self.t_s
        self.t_s = end - duration_s
        while self.t_s < end - 1e-9:
            self.step(min(step_s, end - self.t_s))
        self.ledger = Ledger()

    # ------------------------------------------------------------------ inputs

    def command(self, name: str, **values: float | int | str) -> None:
        """Queue a setpoint or operator command; applied at the start of the next step."""
        self.commands.append((name, values))

    def _apply_commands(self) -> None:
        from twin.plant import scenarios

        for name, values in self.commands:
            scenarios.apply_command(self, name, values)
        self.commands.clear()

    def _apply_events(self) -> None:
        from twin.plant import scenarios

        scenarios.advance(self)

    # -------------------------------------------------------------------- step

    def step(self, dt: float) -> None:
        """Advance the plant by ``dt`` seconds."""
        layout = self.layout
        site = self.site
        t = self.t_s + dt
        self.t_s = t
        self._apply_events()
        self._apply_commands()
        weather = self.weather.at(t)
        t_wet = float(weather.t_wet_c)
        t_dry = float(weather.t_dry_c)
        self._update_power_sources(t, dt)
        mech = self._mech_powered
        n_halls = layout.n_halls
        racks = layout.racks
        cp_w = layout.cp_water
        cp_s = layout.cp_secondary

        # --- IT load per rack
        window = dt if dt > 1.0 else 0.0
        u_site = float(self.profile.utilisation(t, window_s=window)) * self.faults.load_factor
        u = rack_utilisation(racks, site, u_site)
        powered = self._rack_powered()
        p_demand = rack_power(racks, u)
        p_it = p_demand * powered
        self.ledger.it_interrupted_j += float(np.sum(p_demand - p_it)) * dt
        q_liquid_rack = p_it * racks.liquid_frac
        q_liquid = np.bincount(racks.hall, q_liquid_rack, n_halls)
        q_air_it = np.bincount(racks.hall, p_it - q_liquid_rack, n_halls)

        # --- CDU secondary pumps: standby starts after its delay
        cdus = layout.cdus
        n_cdus = len(cdus.name)
        if n_cdus:
            self._update_standby(t)
            running = self.pump_running.sum(axis=1).astype(float)
            capacity = running * cdus.m_flow_pump_kg_s  # flow at full speed
            hall_capacity = np.bincount(cdus.hall, capacity, n_halls)
            m_set = np.bincount(racks.hall, racks.m_flow_design_kg_s, n_halls)
            measured = self.readings.get("tcs_flow_kg_s", m_set)
            speed = self.cdu_pump.step(np.asarray(measured) / np.maximum(m_set, 1e-9), 1.0, dt)
            min_speed = float(cdus.pump_min_speed.min())
            speed = np.clip(speed, min_speed, 1.0)
            m_tcs = speed * hall_capacity
            p_cdu_pump = cdu_pump_power(cdus, running, speed)
            active = (running > 0).astype(float)
            m_fac_max = np.bincount(cdus.hall, active * cdus.m_flow_facility_kg_s, n_halls)
            fw_ok = mech and layout.fw_pumps is not None
            ideal = dt > IDEAL_CONTROL_STEP_S
            if ideal:
                valve = np.ones(n_halls)
            else:
                valve = self.cdu_valve.step(self.t_tcs_supply, self.t_tcs_supply_set, dt)
            m_fac = valve * m_fac_max * (1.0 if fw_ok else 0.0)
            g_cdu = cdu_conductance(cdus, n_halls, active, m_tcs, m_fac, cp_s, cp_w)
            cdu_held = np.zeros(n_halls, bool)
            if ideal and fw_ok:
                q_need = m_tcs * cp_s * (self.t_tcs_return - self.t_tcs_supply_set)
                q_max = g_cdu * (self.t_tcs_return - self.t_fw[0])
                cdu_held = (m_tcs > 0) & (q_need >= 0) & (q_need <= q_max)
                valve = np.where(cdu_held, q_need / np.maximum(q_max, 1e-9), 1.0)
                m_fac = valve * m_fac_max
                g_cdu = np.where(cdu_held, 0.0, g_cdu)
            p_cdu_pump_hall = np.bincount(cdus.hall, p_cdu_pump, n_halls)
        else:
            m_tcs = np.zeros(n_halls)
            m_fac = g_cdu = p_cdu_pump_hall = np.zeros(n_halls)
            cdu_held = np.zeros(n_halls, bool)
            p_cdu_pump = np.zeros(0)
            valve = speed = np.zeros(n_halls)
            m_set = np.zeros(n_halls)

        # --- facility water loop: pumps and towers
        fw_t = layout.fw_towers
        m_fw = float(m_fac.sum())
        p_fw_pump = 0.0
        fw_fan_speed = 0.0
        g_fw_tower = 0.0
        g_fw_drycooler = 0.0
        t_fw_tower_out = t_wet
        p_fw_fan = 0.0
        if layout.fw_pumps is not None and n_cdus:
            p_fw_pump = float(pump_group_power(layout.fw_pumps, m_fw)) if mech else 0.0
            if fw_t is not None:
                failed = self.faults.fw_tower_failed
                if dt > IDEAL_CONTROL_STEP_S:
                    fan_cmd = float(
                        tower_fan_to_reach(
                            fw_t, m_fw, self.t_fw_supply_set, t_wet, self.tower_range["fw"]
                        )
                    )
                else:
                    fan_cmd = float(self.fw_fan.step(self.t_fw[0:1], self.t_fw_supply_set, dt)[0])
                t_fw_tower_out, fw_fan_speed, p_fw_fan = (
                    float(x)
                    for x in tower_leaving_water(
                        fw_t,
                        m_fw,
                        fan_cmd if mech else 0.0,
                        t_wet,
                        self.tower_range["fw"],
                        int(failed.sum()) if failed is not None else 0,
                    )
                )
                g_fw_tower = m_fw * cp_w
            dry = layout.fw_drycoolers
            if dry is not None:
                if dt > IDEAL_CONTROL_STEP_S:
                    needed = drycooler_conductance_needed(
                        m_fw * cp_w, float(self.t_fw[1]), self.t_fw_supply_set, t_dry
                    )
                    fan_cmd = float(drycooler_fan(dry, np.asarray(m_fw), needed, cp_w))
                else:
                    fan_cmd = float(self.fw_fan.step(self.t_fw[0:1], self.t_fw_supply_set, dt)[0])
                fw_fan_speed = min(max(fan_cmd, 0.0), 1.0) if mech else 0.0
                g_fw_drycooler = float(drycooler_conductance(dry, m_fw, fw_fan_speed, cp_w))
                p_fw_fan = float(drycooler_fan_power(dry, fw_fan_speed))

        # --- air side: CRAH fans on load, valves on supply air
        crah = self.crah
        q_air_load = q_air_it + self._hall_losses_w
        fan_speed = crah_fan_speed(crah, q_air_load)
        p_crah_fan = crah_fan_power(crah, fan_speed)
        q_air = q_air_load + p_crah_fan
        c_air = crah_air_capacity_rate(crah, fan_speed)
        ideal_air = dt > IDEAL_CONTROL_STEP_S
        if ideal_air:
            crah_valve = np.ones(n_halls)
        else:
            crah_valve = self.crah_valve.step(self.t_air, self.t_supply_air_set, dt)
        m_chw_nominal = crah.m_flow_chilled_kg_s
        m_chw_hall = crah_valve * m_chw_nominal * (1.0 if mech else 0.0)
        g_crah = crah_coil_conductance(
            crah, fan_speed, crah_valve, c_air, cp_w, water_on=1.0 if mech else 0.0
        )
        rack_air_rise = q_air / np.maximum(c_air, 1.0)
        crah_held = np.zeros(n_halls, bool)
        q_crah_held = np.zeros(n_halls)
        if ideal_air and mech:
            capacity_air = layout.heat_capacity["hall_air"]
            q_need_air = q_air + capacity_air * (self.t_air - self.t_supply_air_set) / dt
            q_max_air = g_crah * (self.t_air + rack_air_rise - self.t_chw[0])
            crah_held = (q_need_air >= 0) & (q_need_air <= q_max_air)
            crah_valve = np.where(crah_held, q_need_air / np.maximum(q_max_air, 1e-9), 1.0)
            m_chw_hall = crah_valve * m_chw_nominal
            q_crah_held = np.where(crah_held, q_need_air, 0.0)
            g_crah = np.where(crah_held, 0.0, g_crah)

        # --- chilled water plant: mode, chillers, economiser, condenser towers
        air_cfg = site.cooling.air_side
        self._update_mode(t, t_wet)
        if mech:
            m_chw = float(chilled_water_flow(layout.chw_pumps, float(m_chw_hall.sum())))
        else:
            m_chw = 0.0
            m_chw_hall = m_chw_hall * 0.0
        p_chw_pump = float(pump_group_power(layout.chw_pumps, m_chw))
        c_chw = m_chw * cp_w
        available = (~self.faults.chiller_failed) & (self.chiller_ready_at <= t) & mech
        if not mech:
            self.chiller_ready_at = np.maximum(
                self.chiller_ready_at, t + layout.chiller.restart_delay_s
            )
        hx_on = self.mode in (0, 1) and air_cfg.economiser and mech
        # Economiser plate HX: fixed effectiveness from its design approach.
        dt_design = air_cfg.design_delta_t_k
        eff_hx = chiller_plant.economiser_effectiveness(dt_design, air_cfg.economiser_approach_k)
        g_hx = eff_hx * c_chw if hx_on else 0.0
        n_avail = int(available.sum())
        cw_failed = self.faults.cw_tower_failed
        cw_failed_cells = int(cw_failed.sum()) if cw_failed is not None else 0
        if dt > IDEAL_CONTROL_STEP_S and mech:
            # At study steps the loops settle within the step: the plant is operated as
            # the annual study operates it, for the heat the air side hands over.
            plant = chilled_water_plant(
                layout,
                self.mode,
                float(q_air.sum()) + p_chw_pump,
                m_chw,
                t_wet,
                self.t_chw_supply_set,
                self.t_cw_supply_set,
                n_avail,
                cw_failed_cells,
            )
            n_on = int(plant.chillers_on)
            p_chiller = float(plant.p_chiller_w)
            chiller_capacity = float(plant.chiller_capacity_w)
            chiller_limited = float(plant.q_chiller_w) > chiller_capacity * 0.999 if n_on else True
            m_cw = float(plant.m_cw_kg_s)
            p_cw_pump = float(plant.p_cw_pump_w)
            t_cw_tower_out = float(plant.t_cw_supply_c)
            cw_fan_speed = float(plant.cw_fan)
            p_cw_fan = float(plant.p_cw_fan_w)
        else:
            (
                n_on,
                p_chiller,
                chiller_capacity,
                chiller_limited,
                m_cw,
                p_cw_pump,
                t_cw_tower_out,
                cw_fan_speed,
                p_cw_fan,
            ) = self._chilled_water_controlled(
                dt, t_wet, mech, c_chw, g_hx, m_chw, n_avail, cw_failed_cells
            )

        # --- thermal network
        # Node order: per hall [tcs_supply, tcs_return, air],
        # then fw_s, fw_r, chw_s, chw_r, cw_s, cw_r.
        h = np.arange(n_halls)
        tcs_s, tcs_r, hall_air = 3 * h, 3 * h + 1, 3 * h + 2
        base = 3 * n_halls
        fw_s, fw_r, chw_s, chw_r, cw_s, cw_r = (np.array([base + i]) for i in range(6))
        net = Network(base + 6)
        cap = layout.heat_capacity
        capacity = np.empty(base + 6)
        capacity[tcs_s] = cap["tcs_supply"]
        capacity[tcs_r] = cap["tcs_return"]
        capacity[hall_air] = cap["hall_air"]
        capacity[base:] = [
            cap["fw_supply"][0],
            cap["fw_return"][0],
            cap["chw_supply"][0],
            cap["chw_return"][0],
            cap["cw_supply"][0],
            cap["cw_return"][0],
        ]
        t_old = np.empty(base + 6)
        t_old[tcs_s] = self.t_tcs_supply
        t_old[tcs_r] = self.t_tcs_return
        t_old[hall_air] = self.t_air
        t_old[base:] = [*self.t_fw, *self.t_chw, *self.t_cw]
        # Secondary (TCS) loops.
        c_tcs = m_tcs * cp_s
        net.stream(tcs_s, tcs_r, c_tcs)
        held = cdu_held.astype(float)
        net.stream(tcs_r, tcs_s, c_tcs * (1.0 - held))
        net.heat(tcs_r, q_liquid + p_cdu_pump_hall)
        fw_s_h, fw_r_h = np.repeat(fw_s, n_halls), np.repeat(fw_r, n_halls)
        net.exchange(tcs_r, fw_s_h, tcs_s, fw_r_h, g_cdu)
        # CDUs holding their setpoint hand c·(T_return − T_set) to the facility water.
        net.outflow(tcs_r, c_tcs * held)
        net.inflow(tcs_s, c_tcs * held, self.t_tcs_supply_set)
        net.carry(tcs_r, fw_r_h, c_tcs * held, self.t_tcs_supply_set)
        # Facility water loop and its towers.
        c_fw = m_fw * cp_w
        net.stream(fw_s, fw_r, np.array([c_fw]))
        net.heat(fw_r, np.array([p_fw_pump]))
        if fw_t is not None:
            net.outflow(fw_r, np.array([g_fw_tower]))
            net.inflow(fw_s, np.array([g_fw_tower]), np.array([t_fw_tower_out]))
        elif layout.fw_drycoolers is not None:
            net.stream(fw_r, fw_s, np.array([c_fw]))
            net.to_ambient(fw_r, fw_s, np.array([g_fw_drycooler]), np.array([t_dry]))
        # Hall air and CRAH coils (air enters the coil from the hot aisle).
        net.heat(hall_air, q_air)
        chw_s_h = np.repeat(chw_s, n_halls)
        chw_r_h = np.repeat(chw_r, n_halls)
        net.exchange(hall_air, chw_s_h, hall_air, chw_r_h, g_crah)
        net.heat(hall_air, -g_crah * rack_air_rise)
        net.heat(chw_r_h, g_crah * rack_air_rise)
        net.heat(hall_air, -q_crah_held)
        net.heat(chw_r_h, q_crah_held)
        # Chilled water: return → economiser → chillers → supply.
        net.stream(chw_s, chw_r, np.array([c_chw]))
        net.heat(chw_r, np.array([p_chw_pump]))
        chiller_temperature_controlled = n_on > 0 and not chiller_limited
        if chiller_temperature_controlled:
            # Chillers hold the leaving temperature: the supply gets c·T_set and the
            # economiser and chillers together hand c·(T_r − T_set) to the condenser loop.
            net.outflow(chw_r, np.array([c_chw]))
            net.inflow(chw_s, np.array([c_chw]), np.array([self.t_chw_supply_set]))
            net.carry(chw_r, cw_r, np.array([c_chw]), np.array([self.t_chw_supply_set]))
        else:
            net.stream(chw_r, chw_s, np.array([c_chw]))
            if g_hx > 0:
                net.exchange(chw_r, cw_s, chw_s, cw_r, np.array([g_hx]))
            if n_on:
                net.heat(chw_s, np.array([-chiller_capacity]))
                net.heat(cw_r, np.array([chiller_capacity]))
        net.heat(cw_r, np.array([p_chiller + p_cw_pump]))
        # Condenser water loop and its towers.
        c_cw = m_cw * cp_w
        net.stream(cw_s, cw_r, np.array([c_cw]))
        net.outflow(cw_r, np.array([c_cw]))
        net.inflow(cw_s, np.array([c_cw]), np.array([t_cw_tower_out]))

        t_new = net.solve(t_old, capacity, dt)

        # --- heat flows at the new temperatures (what the ledger and meters see)
        q_cdu = g_cdu * (t_new[tcs_r] - t_new[fw_s][0]) + c_tcs * held * (
            t_new[tcs_r] - self.t_tcs_supply_set
        )
        q_fw_tower = g_fw_tower * (t_new[fw_r][0] - t_fw_tower_out) if fw_t is not None else 0.0
        q_fw_drycooler = g_fw_drycooler * (t_new[fw_r][0] - t_dry)
        q_cw_tower = c_cw * (t_new[cw_r][0] - t_cw_tower_out)
        q_crah = g_crah * (t_new[hall_air] + rack_air_rise - t_new[chw_s][0]) + q_crah_held
        q_hx = g_hx * (t_new[chw_r][0] - t_new[cw_s][0])
        if chiller_temperature_controlled:
            q_plant = c_chw * (t_new[chw_r][0] - self.t_chw_supply_set)
            q_hx = min(max(q_hx, 0.0), max(q_plant, 0.0))
            q_chiller = q_plant - q_hx
        else:
            q_chiller = chiller_capacity if n_on else 0.0
        stored = float(np.sum(capacity * (t_new - t_old)))
        self.t_tcs_supply = t_new[tcs_s]
        self.t_tcs_return = t_new[tcs_r]
        self.t_air = t_new[hall_air]
        self.t_fw = t_new[base : base + 2]
        self.t_chw = t_new[base + 2 : base + 4]
        self.t_cw = t_new[base + 4 : base + 6]
        if m_fw > 0 and fw_t is not None:
            self.tower_range["fw"] = max(q_fw_tower / (m_fw * cp_w), 0.5)
        if m_cw > 0:
            self.tower_range["cw"] = max(q_cw_tower / (m_cw * cp_w), 0.5)

        # --- water use of the towers
        water = (
            float(
                tower_water_use(fw_t, m_fw, q_fw_tower, cp_w)
                + tower_water_use(layout.cw_towers, m_cw, q_cw_tower, cp_w)
            )
            * dt
        )

        # --- power chain
        p_cooling_ups = p_cdu_pump_hall + p_crah_fan  # critical cooling on UPS
        p_mech = (
            p_fw_pump + p_fw_fan + p_chw_pump + p_cw_pump + p_cw_fan + p_chiller if mech else 0.0
        )
        self._power_chain(p_it, p_cooling_ups, p_mech, dt, t)

        # --- ledgers
        ledger = self.ledger
        p_cooling = float(p_cooling_ups.sum()) + p_mech
        ledger.it += float(p_it.sum()) * dt
        ledger.cooling += p_cooling * dt
        ledger.other += (site.other_load_kw * 1e3 if self._any_energised() else 0.0) * dt
        heat_in = float(
            heat_sources_w(
                float(p_it.sum()),
                float(self._hall_losses_w.sum()),
                float(p_cdu_pump_hall.sum()),
                float(p_crah_fan.sum()),
                p_fw_pump + p_chw_pump + p_cw_pump,
                p_chiller,
            )
        )
        ledger.heat_sources += heat_in * dt
        ledger.heat_rejected += (q_fw_tower + q_fw_drycooler + q_cw_tower) * dt
        ledger.heat_stored += stored
        ledger.water_kg += water

        # --- readings for devices, collector and studies
        r = self.readings
        r.update(
            t_s=t,
            t_wet_c=t_wet,
            t_dry_c=t_dry,
            utilisation=u_site,
            rack_power_w=p_it,
            rack_inlet_c=self.t_air[racks.hall] + racks.inlet_offset_k,
            tcs_flow_kg_s=m_tcs,
            tcs_flow_set_kg_s=m_set,
            cdu_pump_speed=speed,
            cdu_valve=valve,
            cdu_heat_w=q_cdu,
            cdu_pump_power_w=p_cdu_pump,
            facility_flow_kg_s=m_fac,
            fw_flow_kg_s=m_fw,
            fw_tower_fan_speed=fw_fan_speed,
            fw_tower_fan_power_w=p_fw_fan,
            fw_tower_heat_w=q_fw_tower,
            fw_drycooler_heat_w=q_fw_drycooler,
            fw_pump_power_w=p_fw_pump,
            crah_fan_speed=fan_speed,
            crah_fan_power_w=p_crah_fan,
            crah_valve=crah_valve,
            crah_heat_w=q_crah,
            chw_flow_kg_s=m_chw,
            chw_pump_power_w=p_chw_pump,
            chillers_on=n_on,
            chiller_power_w=p_chiller,
            chiller_heat_w=q_chiller,
            economiser_heat_w=q_hx,
            cw_flow_kg_s=m_cw,
            cw_pump_power_w=p_cw_pump,
            cw_tower_fan_speed=cw_fan_speed,
            cw_tower_fan_power_w=p_cw_fan,
            cw_tower_heat_w=q_cw_tower,
            cooling_mode=self.mode,
            water_kg_s=water / dt,
            cooling_power_w=p_cooling,
        )
        self._cold_plates(p_it, m_tcs, m_set)

    def _chilled_water_controlled(
        self,
        dt: float,
        t_wet: float,
        mech: bool,
        c_chw: float,
        g_hx: float,
        m_chw: float,
        n_avail: int,
        cw_failed_cells: int,
    ) -> tuple[int, float, float, bool, float, float, float, float, float]:
        """Chillers staged on the measured return, towers on their PI loops (live steps)."""
        layout = self.layout
        cap_chiller = layout.chiller.capacity_kw * 1e3
        hx_on = g_hx > 0
        chillers_on_mode = self.mode in (1, 2)
        q_need_est = c_chw * (self.t_chw[1] - self.t_chw_supply_set)
        m_cw_hx = m_chw if hx_on else 0.0
        q_hx_est = g_hx * max(self.t_chw[1] - self.t_cw[0], 0.0)
        chiller_load_est = max(q_need_est - q_hx_est, 0.0) if chillers_on_mode else 0.0
        n_on = int(chiller_plant.chillers_staged(chiller_load_est, cap_chiller, n_avail))
        n_on = n_on if chillers_on_mode else 0
        ch = layout.chiller
        per_chiller_est = chiller_load_est / max(n_on, 1)
        p_chiller_each, q_cap_each = chiller_plant.chiller_power(
            ch, per_chiller_est, self.t_chw_supply_set, self.t_cw[0]
        )
        p_chiller = float(p_chiller_each) * n_on
        chiller_capacity = float(q_cap_each) * n_on
        chiller_limited = chiller_load_est > chiller_capacity * 0.999 if n_on else True
        m_cw = max(n_on * ch.m_flow_condenser_kg_s, m_cw_hx)
        p_cw_pump = float(pump_group_power(layout.cw_pumps, m_cw)) if m_cw > 0 and mech else 0.0
        if self.mode == 0:
            cw_cmd = self.cw_fan.step(self.t_chw[0:1], self.t_chw_supply_set, dt)[0]
        elif self.mode == 1:
            cw_cmd = 1.0
            self.cw_fan.reset(slice(None), 1.0)
        else:
            cw_cmd = self.cw_fan.step(self.t_cw[0:1], self.t_cw_supply_set, dt)[0]
        t_cw_tower_out, cw_fan_speed, p_cw_fan = (
            float(x)
            for x in tower_leaving_water(
                layout.cw_towers,
                m_cw,
                float(cw_cmd) if mech else 0.0,
                t_wet,
                self.tower_range["cw"],
                cw_failed_cells,
            )
        )
        return (
            n_on,
            p_chiller,
            chiller_capacity,
            chiller_limited,
            m_cw,
            p_cw_pump,
            t_cw_tower_out,
            cw_fan_speed,
            p_cw_fan,
        )

    # ------------------------------------------------------------ sub-models

    def _cold_plates(self, p_it: np.ndarray, m_tcs: np.ndarray, m_set: np.ndarray) -> None:
        layout = self.layout
        racks = layout.racks
        hall = racks.hall
        share = np.where(
            racks.is_gpu, racks.m_flow_design_kg_s / np.maximum(m_set[hall], 1e-9), 0.0
        )
        t_case, t_out, flow_lpm = cold_plates(
            racks,
            p_it,
            m_tcs[hall] * share,
            self.t_tcs_supply[hall],
            self.t_tcs_return[hall],
            layout.rho_secondary,
            layout.cp_secondary,
        )
        self.readings["cold_plate_c"] = t_case
        self.readings["rack_coolant_return_c"] = t_out
        self.readings["rack_coolant_flow_lpm"] = flow_lpm

    def _update_standby(self, t: float) -> None:
        cdus = self.layout.cdus
        failed = self.faults.pump_failed
        assert failed is not None
        self.pump_running &= ~failed
        running = self.pump_running.sum(axis=1)
        short = running < cdus.pumps_duty
        healthy_idle = (~self.pump_running) & (~failed)
        for index in np.flatnonzero(short):
            pumps = int(cdus.pumps[index])
            if not healthy_idle[index, :pumps].any():
                continue
            if not math.isfinite(self.pump_standby_timer[index]):
                self.pump_standby_timer[index] = t + cdus.standby_start_delay_s[index]
            if t >= self.pump_standby_timer[index]:
                spare = int(np.flatnonzero(healthy_idle[index, :pumps])[0])
                self.pump_running[index, spare] = True
                self.pump_standby_timer[index] = np.inf

    def _update_mode(self, t: float, t_wet: float) -> None:
        """Economiser mode on wet bulb (:func:`twin.plant.chillers.economiser_modes`)."""
        air = self.site.cooling.air_side
        if not air.economiser:
            self.mode = chiller_plant.MECHANICAL
            return
        _, self.mode, self.mode_since_s = chiller_plant.economiser_modes(
            np.array([t_wet]),
            np.array([t]),
            air.free_cooling_below_wet_bulb_c,
            air.partial_below_wet_bulb_c,
            air.mode_deadband_k,
            air.mode_min_dwell_s,
            self.mode,
            self.mode_since_s,
        )

    # ------------------------------------------------------------- power chain

    def _any_energised(self) -> bool:
        return bool(self._side_energised.any())

    def _rack_powered(self) -> np.ndarray:
        racks = self.layout.racks
        systems = self.layout.pdus.system
        alive = self.system_alive
        side_a = alive[systems[racks.pdu[0]]]
        side_b = alive[systems[racks.pdu[1]]]
        return (side_a | side_b).astype(float)

    def _update_power_sources(self, t: float, dt: float) -> None:
        """Utility, generators and ATS: decide which sides are energised this step."""
        gen = self.layout.generator
        power = self.site.power
        lost = self.faults.utility_lost
        for side in range(2):
            if lost[side] and not math.isfinite(self.utility_lost_since[side]):
                self.utility_lost_since[side] = t
                self.utility_back_since[side] = -math.inf
            if not lost[side] and math.isfinite(self.utility_lost_since[side]):
                self.utility_lost_since[side] = math.inf
                self.utility_back_since[side] = t
        need_generators = bool(lost.any() or self.on_generator.any())
        if need_generators and not self.generators_running:
            self.generators_running = True
            self.generator_state_since = t
        ready = self.generators_running and t - self.generator_state_since >= gen.start_delay_s
        self.generator_ready = ready
        for side in range(2):
            transfer_at = (
                self.generator_state_since + gen.start_delay_s + power.ats_transfer_delay_s
            )
            if lost[side] and ready and t >= transfer_at:
                if not self.on_generator[side]:
                    self.walk_in[self.layout.systems.side == side] = 0.0
                self.on_generator[side] = True
            retransfer_at = self.utility_back_since[side] + power.retransfer_delay_s
            if not lost[side] and self.on_generator[side] and t >= retransfer_at:
                self.on_generator[side] = False
        if self.generators_running and not lost.any() and not self.on_generator.any():
            self.generators_running = False
        energised = (~lost) | self.on_generator
        self._side_energised = energised
        self._mech_powered = bool(energised.any())
        # Rectifier walk-in: the input ramps from the new source over walk_in_s.
        ramp = dt / max(power.rectifier_walk_in_s, 1e-9)
        side_of = self.layout.systems.side
        self.walk_in = np.where(energised[side_of], np.minimum(self.walk_in + ramp, 1.0), 0.0)

    def _power_chain(
        self, p_it: np.ndarray, p_cooling_ups: np.ndarray, p_mech: float, dt: float, t: float
    ) -> None:
        layout = self.layout
        racks, pdus, systems = layout.racks, layout.pdus, layout.systems
        n_pdus = len(pdus.name)
        n_sys = len(systems.name)
        alive = self.system_alive
        sys_a = pdus.system[racks.pdu[0]]
        sys_b = pdus.system[racks.pdu[1]]
        a_ok = alive[sys_a]
        b_ok = alive[sys_b]
        both = a_ok & b_ok
        share_a = np.where(both, 0.5, np.where(a_ok, 1.0, 0.0))
        share_b = np.where(both, 0.5, np.where(b_ok, 1.0, 0.0))
        p_pdu_out = np.bincount(racks.pdu[0], p_it * share_a, n_pdus) + np.bincount(
            racks.pdu[1], p_it * share_b, n_pdus
        )
        pdu_loss = pdu_losses(pdus, p_pdu_out)
        p_sys_out = np.bincount(pdus.system, p_pdu_out + pdu_loss, n_sys)
        # Critical cooling (CDU pumps, CRAH fans) shares the halls' UPS systems.
        p_sys_out = p_sys_out + ups_cooling_share(systems, alive, p_cooling_ups, layout.n_halls)
        n_mod, sys_loss = system_losses(systems, p_sys_out)
        sys_loss = np.where(alive, sys_loss, 0.0)
        demand = p_sys_out + sys_loss  # DC/AC bus demand before batteries
        from_input = demand * self.walk_in
        shortfall = demand - from_input
        # Batteries carry what the input does not.
        energy = systems.battery_wh * 3600.0
        available = self.soc * energy
        discharge = np.minimum(shortfall / systems.discharge_eff, available / dt)
        delivered = discharge * systems.discharge_eff
        failing = (shortfall - delivered > 1.0) & alive
        if failing.any():
            self.system_alive = alive & ~failing
        # Charge when the input is back.
        charging = np.where(
            self.walk_in >= 1.0,
            np.minimum(systems.max_charge_w, (1.0 - self.soc) * energy / dt / systems.charge_eff),
            0.0,
        )
        charging = np.clip(charging, 0.0, None)
        self.soc = np.clip(
            self.soc + (charging * systems.charge_eff - discharge) * dt / energy, 0.0, 1.0
        )
        # Systems dropped for a flat battery restart once their input returns.
        self.system_alive = self.system_alive | (self.walk_in >= 1.0)
        p_sys_in = from_input + charging
        battery_loss = discharge * (1 - systems.discharge_eff) + charging * (1 - systems.charge_eff)
        # Transformers: systems by assignment, mechanical and other loads split evenly
        # over the energised side(s) through the switchboards' ATSs.
        energised = self._side_energised
        other = self.site.other_load_kw * 1e3 if energised.any() else 0.0
        p_tr, tr_loss = transformer_loads(layout, p_sys_in, p_mech + other, energised)
        intake = np.bincount(layout.transformer_side, p_tr + tr_loss, 2)
        from_generator = float(np.sum(np.where(self.on_generator, intake, 0.0)))
        from_utility = float(np.sum(np.where(self.on_generator, 0.0, intake)))
        gen = layout.generator
        fuel = 0.0
        if self.generators_running:
            fuel = float(
                electrical.generator_fuel_rate(
                    from_generator,
                    gen.rated_kw * 1e3 * layout.generators,
                    gen.fuel_no_load_l_per_h_per_kw,
                    gen.fuel_slope_l_per_kwh,
                )
            )
        self.generator_output_w = from_generator
        # Losses inside the halls (PDUs, UPS/HVDC, batteries) heat the hall air next step.
        hall_of_pdu = systems.hall[pdus.system]
        self._hall_losses_w = np.bincount(hall_of_pdu, pdu_loss, layout.n_halls) + np.bincount(
            systems.hall, sys_loss + battery_loss, layout.n_halls
        )
        ledger = self.ledger
        ledger.utility += from_utility * dt
        ledger.generator += from_generator * dt
        ledger.battery_discharge += float(discharge.sum()) * dt
        ledger.battery_charge += float((charging * systems.charge_eff).sum()) * dt
        ledger.losses_transformer += float(tr_loss.sum()) * dt
        ledger.losses_converter += float(pdu_loss.sum() + sys_loss.sum()) * dt
        ledger.losses_battery += float(battery_loss.sum()) * dt
        ledger.fuel_l += fuel * dt / 3600.0
        r = self.readings
        r.update(
            pdu_power_w=p_pdu_out,
            pdu_loss_w=pdu_loss,
            system_output_w=p_sys_out,
            system_loss_w=sys_loss,
            system_input_w=p_sys_in,
            system_modules_online=n_mod,
            battery_discharge_w=discharge,
            battery_charge_w=charging,
            battery_soc=self.soc.copy(),
            system_alive=self.system_alive.copy(),
            transformer_load_w=p_tr,
            transformer_loss_w=tr_loss,
            utility_power_w=from_utility,
            generator_power_w=from_generator,
            generator_fuel_l_per_h=fuel,
            generators_running=self.generators_running,
            on_generator=self.on_generator.copy(),
            utility_ok=~self.faults.utility_lost,
            facility_power_w=from_utility + from_generator,
            it_power_w=float(p_it.sum()),
        )
