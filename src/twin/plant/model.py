"""The plant: the only stateful model of the twin.

:class:`Plant` holds the state of one site (loop and room temperatures, pump and
fan commands, battery charge, generator and ATS state) as arrays per component
class, and :meth:`Plant.step` advances it by ``dt``. A step is a sequence of
stages, each a method a test can call on its own, each handing the next an
explicit result:

1. :meth:`Plant.apply_inputs`: due scenario events, queued commands (setpoint
   writes), the weather and which power sources are on → :class:`Conditions`;
2. :meth:`Plant.it_load`: IT power per rack from the load profile → :class:`Load`;
3. :meth:`Plant.run_controls`: the control loops (PI) set flows, fan speeds and
   chiller staging (:mod:`twin.plant.cooling_controls`) → ``Controls``;
4. :meth:`Plant.solve_thermal`: the thermal network (CDUs, facility water, towers or
   dry coolers, CRAH, chilled water, chillers, condenser water), solved implicitly
   (:mod:`twin.plant.thermal_stage`) → ``HeatFlows``;
5. :meth:`Plant.run_power_chain`: the power chain walked up from the racks (PDU →
   UPS/HVDC → transformer → feed, batteries and generators on utility loss;
   :mod:`twin.plant.power_chain`) → ``PowerFlows``;
6. :meth:`Plant.close_ledgers`: the electrical and heat ledgers;
7. :meth:`Plant.publish_readings`: :attr:`Plant.readings`.

The same step runs live (1 s) and in a study (minutes): integration is implicit
and PI integral gains are capped per step, so it is stable at either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from twin.loads import LoadProfile, load_profile
from twin.plant.chillers import COOLING_MODES
from twin.plant.controllers import PiArray
from twin.plant.cooling_controls import IDEAL_CONTROL_STEP_S, Controls, controls
from twin.plant.crah import crah_halls
from twin.plant.layout import Layout
from twin.plant.ledger import Ledger, count_tower_regimes, heat_sources_w
from twin.plant.power_chain import PowerFlows, power_chain, rack_powered, update_sources
from twin.plant.racks import (
    plate_inlet,
    protection,
    rack_power,
    rack_utilisation,
)
from twin.plant.readings import Readings, published
from twin.plant.thermal_stage import HeatFlows, thermal_network
from twin.plant.towers import tower_outside_correlation
from twin.weather import Weather, WeatherSample, load_weather

__all__ = [
    "COOLING_MODES",
    "IDEAL_CONTROL_STEP_S",
    "Conditions",
    "Faults",
    "Ledger",
    "Load",
    "Plant",
]


@dataclass
class Faults:
    """Physical faults in force (set by scenario events)."""

    utility_lost: np.ndarray = field(default_factory=lambda: np.zeros(2, bool))
    pump_failed: np.ndarray | None = None  # [cdu, pump]
    fw_tower_failed: np.ndarray | None = None
    cw_tower_failed: np.ndarray | None = None
    chiller_failed: np.ndarray | None = None
    load_factor: float = 1.0
    rack_flow_lost: np.ndarray | None = None  # per rack: valve closed, QD blocked
    # Degradations (scenario events that grow over a ramp), as shares lost [-]
    fw_tower_capacity_loss: float = 0.0
    cw_tower_capacity_loss: float = 0.0
    chiller_cop_loss: float = 0.0


@dataclass(slots=True)
class Conditions:
    """What a step starts from, once events, commands and sources are applied.

    Attributes
    ----------
    t : float
        Plant time at the end of the step [s from Jan 1 00:00 local time].
    dt : float
        Step length [s].
    t_wet, t_dry : float
        Outdoor wet-bulb and dry-bulb temperature [°C].
    mech : bool
        The mechanical plant (loop pumps, towers, chillers) has power: at least one
        side is energised.
    weather : WeatherSample
        The outdoor air at ``t`` (dry and wet bulb, pressure): what the towers'
        evaporation needs beyond the wet bulb.
    """

    t: float
    dt: float
    t_wet: float
    t_dry: float
    mech: bool
    weather: WeatherSample


@dataclass(slots=True)
class Load:
    """IT load of one step.

    Attributes
    ----------
    u_site : float
        Site utilisation from the load profile, times any load-step factor [0-1+].
    p_demand : ndarray
        IT power each rack asks for [W].
    p_it : ndarray
        IT power each rack draws: its demand if powered, times its thermal
        protection's factor (0 if tripped) [W].
    p_interrupted : ndarray
        Demand of racks no live PDU feeds [W].
    p_throttled, p_tripped : ndarray
        Powered demand each rack does not draw because its GPUs throttle, or
        because they tripped on temperature [W].
    q_liquid : ndarray
        IT heat into the liquid (cold plates), per hall [W].
    q_liquid_rack : ndarray
        The same per rack [W].
    q_air_it : ndarray
        IT heat into the hall air, per hall [W].
    """

    u_site: float
    p_demand: np.ndarray
    p_it: np.ndarray
    p_interrupted: np.ndarray
    p_throttled: np.ndarray
    p_tripped: np.ndarray
    q_liquid: np.ndarray
    q_liquid_rack: np.ndarray
    q_air_it: np.ndarray


class Plant:
    """A site's plant, stepped in time.

    After each step :attr:`readings` (:class:`twin.plant.readings.Readings`) holds what
    the plant publishes; before the first step it is not set.

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

    readings: Readings

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
        racks = layout.racks
        # Each liquid-cooled rack's node (coolant leaving it) [°C]; NaN for air racks.
        self.t_rack = np.where(racks.is_gpu, self.t_tcs_return[racks.hall], np.nan)
        # GPU protection state: last step's coolant at the plates [°C], the racks tripped.
        self.t_plate_in = np.full(len(racks.name), np.nan)
        self.rack_tripped = np.zeros(len(racks.name), bool)
        # Coolant through each rack [kg/s], set by the thermal stage: the step's own in
        # the readings, the last step's for the protection of the next.
        self.m_rack = racks.m_flow_design_kg_s.copy()
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
            rack_flow_lost=np.zeros(len(layout.racks.name), bool),
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
        # Secondary flow measured at the end of the last step [kg/s per hall]; None
        # before the first step (the pumps then start from the design flow).
        self.m_tcs_measured: np.ndarray | None = None
        self.side_energised = np.ones(2, bool)  # utility or generator on each side
        self.mech_powered = True
        # Losses inside the halls (PDUs, UPS/HVDC, batteries) [W]: set by the power
        # chain, they heat the hall air in the next step.
        self.hall_losses_w = np.zeros(n_halls)
        self.crah = crah_halls(layout)
        self.events: list = []  # scenario events not yet applied, sorted by time
        self.active_events: list = []
        #: degradations in force: (start [s], event, the design values they scale)
        self.ramps: list = []

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
        """Advance the plant by ``dt`` seconds, stage by stage (see the module)."""
        cond = self.apply_inputs(dt)
        load = self.it_load(cond)
        ctl = self.run_controls(cond, load)
        heat = self.solve_thermal(cond, load, ctl)
        power = self.run_power_chain(cond, load, ctl)
        self.close_ledgers(cond, load, ctl, heat, power)
        self.publish_readings(cond, load, ctl, heat, power)

    def apply_inputs(self, dt: float) -> Conditions:
        """Stage 1: advance the clock, apply due events and queued commands, read the
        weather, and decide which power sources feed each side."""
        t = self.t_s + dt
        self.t_s = t
        self._apply_events()
        self._apply_commands()
        weather = self.weather.at(t)
        t_wet = float(weather.t_wet_c)
        t_dry = float(weather.t_dry_c)
        update_sources(self, t, dt)
        return Conditions(
            t=t, dt=dt, t_wet=t_wet, t_dry=t_dry, mech=self.mech_powered, weather=weather
        )

    def it_load(self, cond: Conditions) -> Load:
        """Stage 2: IT power per rack; a rack with neither PDU on a live system draws 0,
        one whose GPUs are hot throttles or trips (:func:`twin.plant.racks.protection`,
        on the last step's plate temperature)."""
        layout = self.layout
        racks = layout.racks
        n_halls = layout.n_halls
        # Steps over 1 s draw the profile's mean over the step, a live step its value.
        window = cond.dt if cond.dt > 1.0 else 0.0
        u_site = float(self.profile.utilisation(cond.t, window_s=window)) * self.faults.load_factor
        u = rack_utilisation(racks, self.site, u_site)
        p_demand = rack_power(racks, u)
        p_powered = p_demand * rack_powered(layout, self.system_alive)
        factor, self.rack_tripped = protection(
            racks, p_powered, self.t_plate_in, self.m_rack, layout.rho_secondary, self.rack_tripped
        )
        p_it = p_powered * factor
        q_liquid_rack = p_it * racks.liquid_frac
        return Load(
            u_site=u_site,
            p_demand=p_demand,
            p_it=p_it,
            p_interrupted=p_demand - p_powered,
            p_throttled=np.where(self.rack_tripped, 0.0, p_powered - p_it),
            p_tripped=np.where(self.rack_tripped, p_powered, 0.0),
            q_liquid=np.bincount(racks.hall, q_liquid_rack, n_halls),
            q_liquid_rack=q_liquid_rack,
            q_air_it=np.bincount(racks.hall, p_it - q_liquid_rack, n_halls),
        )

    def run_controls(self, cond: Conditions, load: Load) -> Controls:
        """Stage 3: flows, fan speeds, valves and chiller staging of the cooling plant."""
        return controls(self, cond, load)

    def solve_thermal(self, cond: Conditions, load: Load, ctl: Controls) -> HeatFlows:
        """Stage 4: solve the thermal network; the node temperatures move to the step's end."""
        return thermal_network(self, cond, load, ctl)

    def run_power_chain(self, cond: Conditions, load: Load, ctl: Controls) -> PowerFlows:
        """Stage 5: the power drawn by IT and cooling, walked up to the feeds."""
        cdu, fw, crah, chw = ctl.cdu, ctl.fw, ctl.crah, ctl.chw
        p_cooling_ups = cdu.p_pump_hall + crah.p_fan  # critical cooling on UPS
        p_mech = (
            fw.p_pump + fw.p_fan + chw.p_chw_pump + chw.p_cw_pump + chw.p_cw_fan + chw.p_chiller
            if cond.mech
            else 0.0
        )
        return power_chain(self, load.p_it, p_cooling_ups, p_mech, cond.dt)

    def close_ledgers(
        self, cond: Conditions, load: Load, ctl: Controls, heat: HeatFlows, power: PowerFlows
    ) -> None:
        """Stage 6: add the step's energy, heat, water and fuel to :attr:`ledger`."""
        dt = cond.dt
        ledger = self.ledger
        p_it = load.p_it
        throttled = float(load.p_throttled.sum())
        tripped = float(load.p_tripped.sum())
        ledger.it_interrupted_j += float(np.sum(load.p_interrupted)) * dt
        ledger.it_throttled_j += throttled * dt
        ledger.it_tripped_j += tripped * dt
        ledger.it += float(p_it.sum()) * dt
        ledger.cooling += power.p_cooling * dt
        ledger.other += power.other_w * dt
        heat_in = float(
            heat_sources_w(
                float(p_it.sum()),
                # This step's hall losses, just set by the power chain (the network
                # took the last step's): as before the stages, so the numbers stay.
                float(self.hall_losses_w.sum()),
                float(ctl.cdu.p_pump_hall.sum()),
                float(ctl.crah.p_fan.sum()),
                ctl.fw.p_pump + ctl.chw.p_chw_pump + ctl.chw.p_cw_pump,
                ctl.chw.p_chiller,
            )
        )
        ledger.heat_sources += heat_in * dt
        ledger.heat_rejected += (heat.q_fw_tower + heat.q_fw_drycooler + heat.q_cw_tower) * dt
        ledger.heat_stored += heat.stored
        self._count_towers(cond, ctl, heat)
        ledger.water_kg += heat.water_kg
        ledger.utility += power.from_utility * dt
        ledger.generator += power.from_generator * dt
        ledger.battery_discharge += float(power.discharge.sum()) * dt
        ledger.battery_charge += float((power.charging * self.layout.systems.charge_eff).sum()) * dt
        ledger.losses_transformer += float(power.transformer_loss.sum()) * dt
        ledger.losses_converter += float(power.pdu_loss.sum() + power.sys_loss.sum()) * dt
        ledger.losses_battery += float(power.battery_loss.sum()) * dt
        ledger.fuel_l += power.fuel_l_per_h * dt / 3600.0

    def _count_towers(self, cond: Conditions, ctl: Controls, heat: HeatFlows) -> None:
        """Tower counters of the ledger: leaving above entering, outside YorkCalc."""
        cp_w = self.layout.cp_water
        m_fw, m_cw = ctl.fw.m_flow, ctl.chw.m_cw
        fw_t, cw_t = self.layout.fw_towers, self.layout.cw_towers
        rise = [
            -heat.q_fw_tower / (m_fw * cp_w) if m_fw > 0 else 0.0,
            -heat.q_cw_tower / (m_cw * cp_w) if m_cw > 0 else 0.0,
        ]
        flowing = [m_fw > 0 and fw_t is not None, m_cw > 0 and cw_t is not None]
        outside = tower_outside_correlation(
            fw_t, m_fw, ctl.fw.fan_speed, cond.t_wet, self.tower_range["fw"]
        ) | tower_outside_correlation(
            cw_t, m_cw, ctl.chw.cw_fan_speed, cond.t_wet, self.tower_range["cw"]
        )
        count_tower_regimes(
            self.ledger, cond.dt, np.array([rise]), np.array([flowing]), np.atleast_1d(outside)
        )

    def publish_readings(
        self, cond: Conditions, load: Load, ctl: Controls, heat: HeatFlows, power: PowerFlows
    ) -> None:
        """Stage 7: :attr:`readings` for devices, collector and studies."""
        # The CDU pumps of the next step follow the flow measured now.
        self.m_tcs_measured = ctl.cdu.m_tcs
        self.readings = published(self, cond, load, ctl, heat, power)
        # The GPUs' protection of the next step acts on the coolant reached now.
        racks = self.layout.racks
        self.t_plate_in = plate_inlet(
            racks, self.m_rack, self.t_tcs_supply[racks.hall], self.t_rack
        )
