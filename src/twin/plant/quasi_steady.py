"""The annual study's fast path: the plant solved quasi-steadily over the time axis.

A year at 1-minute steps is 525,600 steps; stepping the live plant costs about a
millisecond each. Here the same physics functions are applied to whole arrays of
time at once (a chunk of days per call), the way EnergyPlus solves its plant
loops: each step is taken as steady, with ideal control (every loop at its
setpoint whenever its equipment can hold it; otherwise the temperature that the
equipment at full output reaches). Loop thermal mass is left out: at study
steps the loops' time constants (seconds to minutes) are inside one step, and
over a year the stored heat nets to zero. The economiser mode, which has
hysteresis and a minimum dwell, is the one sequential piece; it runs as a small
state machine over the steps.

What the dynamic plant adds and this leaves out: PI transients, thermal storage,
scenario events (``twin simulate --scenario`` uses the dynamic plant).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from twin.loads import LoadProfile
from twin.physics import thermal
from twin.plant import chillers as chiller_plant
from twin.plant.cdus import cdu_conductance, cdu_pump_power, cdu_pump_speed_ideal
from twin.plant.chilled_water import chilled_water_plant
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
from twin.plant.layout import DryCoolerGroup, Layout, TowerGroup, system_losses
from twin.plant.ledger import Ledger, count_tower_regimes, heat_sources_w
from twin.plant.power import pdu_losses, transformer_loads, ups_cooling_share
from twin.plant.pumps import chilled_water_flow, pump_group_power
from twin.plant.racks import plate_flow_lpm, rack_power, rack_utilisation
from twin.plant.towers import (
    tower_fan_to_reach,
    tower_leaving_water,
    tower_outside_correlation,
    tower_water_use,
)
from twin.weather import Weather

#: Elements per array per chunk: bounds memory for the 100 MW site.
_CHUNK_ELEMENTS = 1_500_000

YEAR_S = 365 * 86400.0
#: Start of each month of the (non-leap) typical year [s], and the year's end.
MONTH_STARTS_S = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]) * 86400.0
#: What the study sums by month: energy by end use [J], water [kg], seconds per cooling mode.
MONTHLY_TERMS = (
    "it",
    "facility",
    "cooling",
    "power_losses",
    "other",
    "water_kg",
    "free_s",
    "partial_s",
    "mechanical_s",
)


#: The time series of a study, one value per step (``twin simulate --out``): name, unit,
#: meaning. Powers are means over the step, energies its sums; temperatures are
#: the state at the step's end; ``max``/hottest columns are over halls or racks.
SERIES_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("t_s", "s", "start of the step, seconds from 1 January 00:00 of the typical year"),
    ("month", "", "month of the step (1-12), as the monthly summary counts it"),
    ("it_power_kw", "kW", "IT power (racks)"),
    ("facility_power_kw", "kW", "facility power: utility intake plus generators"),
    ("cooling_power_kw", "kW", "cooling: the sum of the four cooling columns below"),
    ("chiller_power_kw", "kW", "chiller compressors"),
    ("heat_rejection_fan_power_kw", "kW", "cooling tower and dry cooler fans"),
    ("pump_power_kw", "kW", "pumps: CDU, facility water, chilled water, condenser water"),
    ("crah_fan_power_kw", "kW", "CRAH / fan wall fans"),
    ("power_losses_kw", "kW", "power losses: the sum of the three loss columns below"),
    ("transformer_losses_kw", "kW", "transformer no-load and load losses"),
    ("converter_losses_kw", "kW", "UPS, HVDC rectifier and PDU losses"),
    ("battery_losses_kw", "kW", "battery charge and discharge losses"),
    ("other_power_kw", "kW", "other facility loads (lighting, offices)"),
    ("it_energy_kwh", "kWh", "IT energy in the step"),
    ("facility_energy_kwh", "kWh", "facility energy in the step"),
    ("cooling_energy_kwh", "kWh", "cooling energy in the step"),
    ("power_losses_energy_kwh", "kWh", "power-loss energy in the step"),
    ("other_energy_kwh", "kWh", "other facility energy in the step"),
    ("pue", "", "facility over IT energy in the step"),
    ("it_utilisation", "", "site IT utilisation (0-1) from the load profile"),
    ("t_dry_bulb_c", "°C", "outdoor dry bulb"),
    ("t_wet_bulb_c", "°C", "outdoor wet bulb"),
    ("t_cdu_supply_c", "°C", "technology cooling (CDU secondary) supply, hottest hall"),
    ("t_cdu_return_c", "°C", "technology cooling (CDU secondary) return, hottest hall"),
    ("t_fw_supply_c", "°C", "facility (warm) water supply to the CDUs"),
    ("t_fw_return_c", "°C", "facility (warm) water return from the CDUs"),
    ("t_chw_supply_c", "°C", "chilled water supply"),
    ("t_chw_return_c", "°C", "chilled water return"),
    ("t_cw_supply_c", "°C", "condenser water supply (tower leaving water)"),
    ("t_cw_return_c", "°C", "condenser water return (tower entering water)"),
    ("t_supply_air_c", "°C", "CRAH supply air, hottest hall"),
    ("max_cold_plate_c", "°C", "hottest cold plate case"),
    ("max_rack_inlet_c", "°C", "hottest rack air inlet"),
    ("cooling_mode", "", "chilled water plant mode: free, partial or mechanical"),
    ("water_l", "L", "water used by the cooling towers in the step (evaporation, drift, "
     "blowdown)"),
)  # fmt: skip


def month_of(t_end_s: np.ndarray | float, step_s: float) -> np.ndarray:
    """Month (0-11) of the steps ending at ``t_end_s``, by their midpoint; years wrap."""
    return np.searchsorted(MONTH_STARTS_S, (np.asarray(t_end_s) - step_s / 2) % YEAR_S, "right") - 1


def _tower_to_setpoint(
    group: TowerGroup,
    m_flow: np.ndarray,
    t_target: np.ndarray | float,
    t_wet: np.ndarray,
    range_k: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leaving water, mean fan speed and fan power of a tower group under ideal fan control."""
    fan = tower_fan_to_reach(group, m_flow, t_target, t_wet, range_k)
    t_out, speed, power = tower_leaving_water(group, m_flow, fan, t_wet, range_k)
    return t_out, speed, power


class QuasiSteadyPlant:
    """The site's plant solved steadily over arrays of time (see module notes)."""

    def __init__(self, layout: Layout, weather: Weather, profile: LoadProfile) -> None:
        self.layout = layout
        self.weather = weather
        self.profile = profile
        site = layout.site
        air = site.cooling.air_side
        self.mode = 2 if not air.economiser else 1
        self.mode_since_s = -math.inf
        racks = layout.racks
        n_halls = layout.n_halls
        self.n_halls = n_halls
        # Rack power is affine in the site utilisation u while no rack clips at full
        # utilisation (checked per chunk): p = a + b·u, from the racks' own model
        # evaluated at u = 0 and at the largest u that clips none.
        spread = np.where(
            racks.is_gpu, 1.0 + site.gpu_utilisation_spread * racks.utilisation_offset, 0.0
        )
        self.max_spread = float(spread.max()) if racks.is_gpu.any() else 0.0
        u_ref = 1.0 / max(self.max_spread, 1.0)
        self.rack_a = rack_power(racks, rack_utilisation(racks, site, 0.0))
        self.rack_b = (
            rack_power(racks, rack_utilisation(racks, site, u_ref)) - self.rack_a
        ) / u_ref
        liquid = racks.liquid_frac
        self.liquid_a = np.bincount(racks.hall, self.rack_a * liquid, n_halls)
        self.liquid_b = np.bincount(racks.hall, self.rack_b * liquid, n_halls)
        self.air_a = np.bincount(racks.hall, self.rack_a * (1 - liquid), n_halls)
        self.air_b = np.bincount(racks.hall, self.rack_b * (1 - liquid), n_halls)
        # PDU loads, both sides sharing (2N, all healthy), are affine in u, so each
        # PDU's three-term losses are a quadratic in u: fit it exactly from the PDUs'
        # loss model at u = 0, ½, 1 and sum the coefficients per power system and per
        # hall once, instead of evaluating every PDU every step.
        pdus = layout.pdus
        n_pdus = len(pdus.name)
        a = np.bincount(racks.pdu[0], 0.5 * self.rack_a, n_pdus) + np.bincount(
            racks.pdu[1], 0.5 * self.rack_a, n_pdus
        )
        b = np.bincount(racks.pdu[0], 0.5 * self.rack_b, n_pdus) + np.bincount(
            racks.pdu[1], 0.5 * self.rack_b, n_pdus
        )
        l0, lh, l1 = (pdu_losses(pdus, a + b * x) for x in (0.0, 0.5, 1.0))
        loss = np.stack([l0, 4 * lh - 3 * l0 - l1, 2 * (l1 + l0) - 4 * lh])
        n_sys = len(layout.systems.name)
        self.sys_out_coef = np.stack(
            [np.bincount(pdus.system, row, n_sys) for row in (loss[0] + a, loss[1] + b, loss[2])]
        )
        hall_of_pdu = layout.systems.hall[pdus.system]
        self.hall_pdu_loss_coef = np.stack([np.bincount(hall_of_pdu, row, n_halls) for row in loss])
        self.pdu_loss_coef_total = loss.sum(axis=1)
        self.system_to_hall = np.zeros((n_sys, n_halls))
        self.system_to_hall[np.arange(n_sys), layout.systems.hall] = 1.0
        # Constant parts of the cooling plant (flows held at design by the pump PI).
        cdus = layout.cdus
        cp_s, cp_w = layout.cp_secondary, layout.cp_water
        self.m_tcs = np.bincount(racks.hall, racks.m_flow_design_kg_s, n_halls)
        if len(cdus.name):
            running = cdus.pumps_duty.astype(float)
            capacity = np.bincount(cdus.hall, running * cdus.m_flow_pump_kg_s, n_halls)
            speed = cdu_pump_speed_ideal(self.m_tcs, capacity, float(cdus.pump_min_speed.min()))
            self.m_tcs = speed * capacity
            self.p_cdu_pump = np.bincount(cdus.hall, cdu_pump_power(cdus, running, speed), n_halls)
            self.m_fac_max = np.bincount(cdus.hall, cdus.m_flow_facility_kg_s, n_halls)
            self.g_cdu_full = cdu_conductance(
                cdus, n_halls, (running > 0).astype(float), self.m_tcs, self.m_fac_max, cp_s, cp_w
            )
        else:
            self.p_cdu_pump = np.zeros(n_halls)
            self.m_fac_max = np.zeros(n_halls)
            self.g_cdu_full = np.zeros(n_halls)
        # Cold plates: flow per plate at design, hottest rack per hall.
        gpu = racks.is_gpu
        plates = np.maximum(racks.cold_plates, 1)
        flow_lpm = plate_flow_lpm(racks, racks.m_flow_design_kg_s, layout.rho_secondary)
        self.plate_r = np.where(gpu, thermal.cold_plate_resistance(flow_lpm), 0.0)
        self.plate_a = np.where(gpu, self.rack_a * liquid / plates, 0.0)
        self.plate_b = np.where(gpu, self.rack_b * liquid / plates, 0.0)
        self.rack_hall = racks.hall
        self.inlet_offset_max = np.zeros(n_halls)
        np.maximum.at(self.inlet_offset_max, racks.hall, racks.inlet_offset_k)
        self.crah = crah_halls(layout)
        self.max_cold_plate_c = -math.inf
        self.max_rack_inlet_c = -math.inf
        #: When set, :meth:`run_chunk` keeps each chunk's time series in :attr:`series`.
        self.record = False
        self.series: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ chunk

    def _drycoolers(
        self,
        group: DryCoolerGroup,
        m_fw: np.ndarray,
        q_fw: np.ndarray,
        t_set: float,
        t_dry: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Leaving water and fan power of dry coolers told to hold ``t_set``."""
        cp_w = self.layout.cp_water
        c_w = np.maximum(m_fw * cp_w, 1e-9)
        t_in = t_set + q_fw / c_w
        g_needed = drycooler_conductance_needed(c_w, t_in, t_set, t_dry)
        fan = drycooler_fan(group, m_fw, g_needed, cp_w)
        g = np.maximum(drycooler_conductance(group, m_fw, fan, cp_w), 1e-9)
        t_out = np.where(g >= g_needed, t_set, t_dry + q_fw / g - q_fw / c_w)
        return t_out, np.where(m_fw > 0, drycooler_fan_power(group, fan), 0.0)

    def _electrical(
        self, u: np.ndarray, p_cooling_ups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """System losses, total PDU losses, system inputs and hall losses over time."""
        systems = self.layout.systems
        k = self.sys_out_coef
        u_col = u[:, None]
        p_out = k[0][None, :] + u_col * (k[1][None, :] + u_col * k[2][None, :])
        alive = np.ones(len(systems.name), bool)
        p_out = p_out + ups_cooling_share(systems, alive, p_cooling_ups, self.n_halls)
        _, sys_loss = system_losses(systems, p_out)
        h = self.hall_pdu_loss_coef
        hall_pdu = h[0][None, :] + u_col * (h[1][None, :] + u_col * h[2][None, :])
        hall_losses = hall_pdu + sys_loss @ self.system_to_hall
        t = self.pdu_loss_coef_total
        pdu_loss = t[0] + u * (t[1] + u * t[2])
        return sys_loss, pdu_loss, p_out + sys_loss, hall_losses

    def run_chunk(self, t: np.ndarray, dt: float, totals: Ledger) -> np.ndarray:
        """Solve steps ending at times ``t`` and add them to ``totals``; return the modes."""
        layout = self.layout
        site = layout.site
        cool = site.cooling
        air_cfg = cool.air_side
        fw_cfg = cool.facility_water
        cp_s, cp_w = layout.cp_secondary, layout.cp_water
        weather = self.weather.at(t)
        t_wet = weather.t_wet_c
        u = self.profile.utilisation(t, window_s=dt if dt > 1.0 else 0.0)
        if self.max_spread * float(u.max()) > 1.0:
            raise ValueError("utilisation clips at 1 for some racks: use the dynamic study")
        n = t.shape[0]
        p_it = float(self.rack_a.sum()) + u * float(self.rack_b.sum())
        q_liquid = self.liquid_a[None, :] + u[:, None] * self.liquid_b[None, :]
        q_air_it = self.air_a[None, :] + u[:, None] * self.air_b[None, :]

        # --- liquid side: TCS at setpoint where the CDUs can hold it
        q_tcs = q_liquid + self.p_cdu_pump[None, :]
        t_tcs_set = cool.t_tcs_supply_c
        fw_t = layout.fw_towers
        fw_dc = layout.fw_drycoolers
        has_fw = (fw_t is not None or fw_dc is not None) and bool(self.m_tcs.sum() > 0)
        t_fw_set = fw_cfg.t_supply_c if fw_cfg else 30.0
        t_fw_supply = np.full(n, t_fw_set)
        m_fw = np.zeros(n)
        p_fw_pump = np.zeros(n)
        p_fw_fan = np.zeros(n)
        fw_fan_speed = np.zeros(n)
        q_fw = np.zeros(n)
        fw_range = np.zeros(n)
        t_tcs_supply = np.full((n, self.n_halls), t_tcs_set)
        if has_fw:
            assert layout.fw_pumps is not None
            c_tcs = self.m_tcs * cp_s
            for _ in range(2):  # supply temperature ↔ facility flow: two passes settle it
                t_return = t_tcs_set + q_tcs / np.maximum(c_tcs, 1e-9)
                q_max = self.g_cdu_full * (t_return - t_fw_supply[:, None])
                held = (q_tcs <= q_max) & (q_max > 0)
                valve = np.where(held, q_tcs / np.maximum(q_max, 1e-9), 1.0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    t_short = t_fw_supply[:, None] + q_tcs * (
                        1.0 / np.maximum(self.g_cdu_full, 1e-9) - 1.0 / np.maximum(c_tcs, 1e-9)
                    )
                t_tcs_supply = np.where(held, t_tcs_set, t_short)
                m_fw = (valve * self.m_fac_max[None, :]).sum(axis=1)
                p_fw_pump = pump_group_power(layout.fw_pumps, m_fw)
                q_fw = q_tcs.sum(axis=1) + p_fw_pump
                fw_range = q_fw / np.maximum(m_fw * cp_w, 1e-9)
                if fw_t is not None:
                    t_fw_supply, fw_fan_speed, p_fw_fan = _tower_to_setpoint(
                        fw_t, m_fw, t_fw_set, t_wet, fw_range
                    )
                else:
                    assert fw_dc is not None
                    t_fw_supply, p_fw_fan = self._drycoolers(
                        fw_dc, m_fw, q_fw, t_fw_set, weather.t_dry_c
                    )
            plate = t_tcs_supply[:, self.rack_hall] + self.plate_r * (
                self.plate_a + u[:, None] * self.plate_b
            )
            self.max_cold_plate_c = max(self.max_cold_plate_c, float(plate.max()))

        # --- air side: CRAH fans on load, hall losses from the power chain
        crah_speed = np.zeros_like(q_air_it)
        p_crah = np.zeros_like(q_air_it)
        hall_losses = np.zeros_like(q_air_it)
        for _ in range(2):  # fans ↔ UPS losses: two passes settle it
            q_air_load = q_air_it + hall_losses
            crah_speed = crah_fan_speed(self.crah, q_air_load)
            p_crah = crah_fan_power(self.crah, crah_speed)
            p_cooling_ups = self.p_cdu_pump[None, :] + p_crah
            sys_loss, pdu_loss, p_sys_in, hall_losses = self._electrical(u, p_cooling_ups)
        q_air = q_air_it + hall_losses + p_crah
        t_chw_set = air_cfg.t_chilled_supply_c
        # CRAH coil at full valve with chilled water at its setpoint.
        c_air = crah_air_capacity_rate(self.crah, crah_speed)
        g_crah = crah_coil_conductance(self.crah, crah_speed, np.ones_like(crah_speed), c_air, cp_w)
        rise = q_air / np.maximum(c_air, 1.0)
        t_air_set = cool.t_supply_air_c
        q_max_air = g_crah * (t_air_set + rise - t_chw_set)
        held_air = q_air <= q_max_air
        valve_air = np.where(held_air, q_air / np.maximum(q_max_air, 1e-9), 1.0)
        # Where the coil cannot, the room settles where it can: Q = g·(T + rise − T_chw).
        t_air = np.where(held_air, t_air_set, t_chw_set + q_air / np.maximum(g_crah, 1e-9) - rise)
        self.max_rack_inlet_c = max(
            self.max_rack_inlet_c, float((t_air + self.inlet_offset_max[None, :]).max())
        )
        m_chw = chilled_water_flow(
            layout.chw_pumps, (valve_air * self.crah.m_flow_chilled_kg_s[None, :]).sum(axis=1)
        )
        p_chw_pump = pump_group_power(layout.chw_pumps, m_chw)
        q_chw = q_air.sum(axis=1) + p_chw_pump

        # --- chilled water plant
        modes, self.mode, self.mode_since_s = (
            chiller_plant.economiser_modes(
                t_wet,
                t,
                air_cfg.free_cooling_below_wet_bulb_c,
                air_cfg.partial_below_wet_bulb_c,
                air_cfg.mode_deadband_k,
                air_cfg.mode_min_dwell_s,
                self.mode,
                self.mode_since_s,
            )
            if air_cfg.economiser
            else (np.full(n, 2, np.int8), 2, self.mode_since_s)
        )
        plant = chilled_water_plant(
            layout, modes, q_chw, m_chw, t_wet, t_chw_set, air_cfg.t_condenser_supply_c
        )
        m_cw, p_cw_pump, p_cw_fan = plant.m_cw_kg_s, plant.p_cw_pump_w, plant.p_cw_fan_w
        t_cw_supply, cw_range = plant.t_cw_supply_c, plant.cw_range_k
        t_chw_return, p_chiller, q_cw = plant.t_chw_return_c, plant.p_chiller_w, plant.q_condenser_w

        # --- water
        # Dry coolers use no water (no adiabatic pre-cooling modelled).
        water = tower_water_use(
            fw_t, m_fw, fw_range * m_fw * cp_w, cp_w, weather=weather, fan_speed=fw_fan_speed
        ) + tower_water_use(
            layout.cw_towers,
            m_cw,
            cw_range * m_cw * cp_w,
            cp_w,
            weather=weather,
            fan_speed=plant.cw_fan,
        )

        # --- towers: leaving minus entering water, and hours outside YorkCalc
        count_tower_regimes(
            totals,
            dt,
            np.stack([-fw_range, -cw_range], axis=1),
            np.stack(
                [(m_fw > 0) & (fw_t is not None), (m_cw > 0) & (layout.cw_towers is not None)],
                axis=1,
            ),
            tower_outside_correlation(fw_t, m_fw, fw_fan_speed, t_wet, fw_range)
            | tower_outside_correlation(layout.cw_towers, m_cw, plant.cw_fan, t_wet, cw_range),
        )

        # --- transformers and intake
        p_mech = p_fw_pump + p_fw_fan + p_chw_pump + p_cw_pump + p_cw_fan + p_chiller
        other = site.other_load_kw * 1e3
        p_tr, tr_loss = transformer_loads(layout, p_sys_in, p_mech + other, np.ones(2, bool))
        intake = (p_tr + tr_loss).sum(axis=1)
        p_cooling = self.p_cdu_pump.sum() + p_crah.sum(axis=1) + p_mech

        totals.it += float(p_it.sum()) * dt
        totals.utility += float(intake.sum()) * dt
        totals.losses_transformer += float(tr_loss.sum()) * dt
        totals.losses_converter += float(sys_loss.sum() + pdu_loss.sum()) * dt
        totals.cooling += float(p_cooling.sum()) * dt
        totals.other += other * n * dt
        heat_in = heat_sources_w(
            p_it,
            hall_losses.sum(axis=1),
            self.p_cdu_pump.sum(),
            p_crah.sum(axis=1),
            p_fw_pump + p_chw_pump + p_cw_pump,
            p_chiller,
        )
        totals.heat_sources += float(heat_in.sum()) * dt
        totals.heat_rejected += float((q_fw + q_cw).sum()) * dt
        totals.water_kg += float(water.sum()) * dt
        p_tr_loss = tr_loss.sum(axis=1)
        p_conv_loss = sys_loss.sum(axis=1) + pdu_loss
        self.last = {
            "it": p_it,
            "facility": intake,
            "cooling": p_cooling,
            "power_losses": p_tr_loss + p_conv_loss,
            "water_kg": water,
        }
        if self.record:
            liquid = has_fw
            nan = np.full(n, np.nan)
            kw, kwh = 1e-3, dt / 3.6e6
            c_tcs_all = np.maximum(self.m_tcs * cp_s, 1e-9)
            self.series = {
                "t_s": t - dt,
                "it_power_kw": p_it * kw,
                "facility_power_kw": intake * kw,
                "cooling_power_kw": p_cooling * kw,
                "chiller_power_kw": p_chiller * kw,
                "heat_rejection_fan_power_kw": (p_fw_fan + p_cw_fan) * kw,
                "pump_power_kw": (self.p_cdu_pump.sum() + p_fw_pump + p_chw_pump + p_cw_pump) * kw,
                "crah_fan_power_kw": p_crah.sum(axis=1) * kw,
                "power_losses_kw": (p_tr_loss + p_conv_loss) * kw,
                "transformer_losses_kw": p_tr_loss * kw,
                "converter_losses_kw": p_conv_loss * kw,
                "battery_losses_kw": np.zeros(n),
                "other_power_kw": np.full(n, other * kw),
                "it_energy_kwh": p_it * kwh,
                "facility_energy_kwh": intake * kwh,
                "cooling_energy_kwh": p_cooling * kwh,
                "power_losses_energy_kwh": (p_tr_loss + p_conv_loss) * kwh,
                "other_energy_kwh": np.full(n, other * kwh),
                "pue": intake / p_it,
                "it_utilisation": u,
                "t_dry_bulb_c": weather.t_dry_c,
                "t_wet_bulb_c": t_wet,
                "t_cdu_supply_c": t_tcs_supply.max(axis=1) if liquid else nan,
                "t_cdu_return_c": (t_tcs_supply + q_tcs / c_tcs_all).max(axis=1) if liquid else nan,
                "t_fw_supply_c": t_fw_supply if liquid else nan,
                "t_fw_return_c": t_fw_supply + fw_range if liquid else nan,
                "t_chw_supply_c": np.full(n, t_chw_set),
                "t_chw_return_c": t_chw_return,
                "t_cw_supply_c": t_cw_supply,
                "t_cw_return_c": t_cw_supply + cw_range,
                "t_supply_air_c": t_air.max(axis=1),
                "max_cold_plate_c": plate.max(axis=1) if liquid else nan,
                "max_rack_inlet_c": (t_air + self.inlet_offset_max[None, :]).max(axis=1),
                "cooling_mode": modes,
                "water_l": water * dt,  # 1 kg of water ≈ 1 L
            }
        return modes


def run_quasi_steady(
    layout: Layout,
    weather: Weather,
    profile: LoadProfile,
    start_s: float,
    n_steps: int,
    step_s: float,
    progress: Callable[[float], None] | None = None,
    record: bool = False,
) -> tuple[
    Ledger,
    tuple[float, float],
    dict[str, np.ndarray],
    np.ndarray,
    float,
    dict[str, np.ndarray] | None,
]:
    """Run the fast study.

    Returns the ledger, the hottest cold plate and rack inlet [°C], the
    :data:`MONTHLY_TERMS` by month, seconds per cooling mode, wall time and, with
    ``record``, the :data:`SERIES_COLUMNS` (else ``None``).
    """
    plant = QuasiSteadyPlant(layout, weather, profile)
    plant.record = record
    chunks: list[dict[str, np.ndarray]] = []
    width = max(len(layout.systems.name), len(layout.transformer_side), layout.n_halls, 1)
    chunk = max(60, min(n_steps, _CHUNK_ELEMENTS // width))
    totals = Ledger()
    monthly = {term: np.zeros(12) for term in MONTHLY_TERMS}
    mode_seconds = np.zeros(3)
    other_w = layout.site.other_load_kw * 1e3
    wall = time.perf_counter()
    last = 0.0
    for first in range(0, n_steps, chunk):
        count = min(chunk, n_steps - first)
        t = start_s + step_s * (first + 1 + np.arange(count, dtype=float))
        modes = plant.run_chunk(t, step_s, totals)
        mode_seconds += np.bincount(modes, minlength=3)[:3] * step_s
        month = month_of(t, step_s)
        for term, values in plant.last.items():
            monthly[term] += np.bincount(month, values * step_s, 12)
        steps_by_month = np.bincount(month, minlength=12)
        monthly["other"] += steps_by_month * other_w * step_s
        for mode, term in enumerate(("free_s", "partial_s", "mechanical_s")):
            monthly[term] += np.bincount(month, modes == mode, 12) * step_s
        if record:
            chunks.append({**plant.series, "month": (month + 1).astype(np.int8)})
        if progress is not None and (time.perf_counter() - last > 0.5 or first + count >= n_steps):
            progress((first + count) / n_steps)
            last = time.perf_counter()
    wall = time.perf_counter() - wall
    series = None
    if record:
        series = {name: np.concatenate([c[name] for c in chunks]) for name, _, _ in SERIES_COLUMNS}
    extremes = (plant.max_cold_plate_c, plant.max_rack_inlet_c)
    return totals, extremes, monthly, mode_seconds, wall, series
