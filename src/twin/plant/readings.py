"""What the plant publishes after each step: typed readings, one group per equipment class.

:attr:`twin.plant.model.Plant.readings` is a :class:`Readings`; the simulated devices
(:mod:`twin.devices.bindings`), the process runner and the dynamic study read it by
attribute (``plant.readings.cdus.heat_w``), so a misspelt name fails at the first
step and shows to a type checker. Arrays are per component, in the layout's order
(racks, CDUs, PDUs, UPS/HVDC systems, transformers), or per hall where stated; units
are in the names (``_w``, ``_c``, ``_kg_s``). A new object is published every step:
a consumer may keep one without it changing under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from twin.plant.racks import cold_plates

if TYPE_CHECKING:
    from twin.plant.cooling_controls import Controls
    from twin.plant.model import Conditions, Load, Plant
    from twin.plant.power_chain import PowerFlows
    from twin.plant.thermal_stage import HeatFlows

__all__ = [
    "CdusReadings",
    "ChilledWaterReadings",
    "CondenserWaterReadings",
    "CrahReadings",
    "FacilityWaterReadings",
    "PowerReadings",
    "RacksReadings",
    "Readings",
    "SiteReadings",
    "WaterLoopReadings",
    "published",
]


@dataclass(slots=True)
class SiteReadings:
    """The site as a whole and its weather.

    Attributes
    ----------
    t_s : float
        Plant time at the end of the step [s from Jan 1 00:00 local time].
    t_wet_c, t_dry_c : float
        Outdoor wet-bulb and dry-bulb temperature [°C].
    utilisation : float
        Site IT utilisation (times any load step) [0-1+].
    cooling_mode : int
        Economiser mode: 0 free, 1 partial, 2 mechanical (:data:`COOLING_MODES`).
    water_kg_s : float
        Water the towers use [kg/s].
    cooling_power_w : float
        All cooling power, critical and mechanical [W].
    """

    t_s: float
    t_wet_c: float
    t_dry_c: float
    utilisation: float
    cooling_mode: int
    water_kg_s: float
    cooling_power_w: float


@dataclass(slots=True)
class RacksReadings:
    """Per rack.

    Attributes
    ----------
    power_w : ndarray
        IT power drawn [W].
    t_inlet_c : ndarray
        Air at the rack inlet [°C].
    t_cold_plate_c : ndarray
        Hottest cold-plate case [°C]; NaN for air-cooled racks.
    t_coolant_return_c : ndarray
        Coolant leaving the rack [°C]; NaN for air-cooled racks.
    coolant_flow_lpm : ndarray
        Coolant through the rack [L/min]; NaN for air-cooled racks.
    throttled_w : ndarray
        Powered IT demand not drawn because the GPUs throttle on temperature [W].
    tripped_w : ndarray
        Powered IT demand not drawn because the GPUs shut down on temperature [W].
    tripped : ndarray of bool
        The rack is shut down on temperature (until its plates cool below slowdown).
    """

    power_w: np.ndarray
    t_inlet_c: np.ndarray
    t_cold_plate_c: np.ndarray
    t_coolant_return_c: np.ndarray
    coolant_flow_lpm: np.ndarray
    throttled_w: np.ndarray
    tripped_w: np.ndarray
    tripped: np.ndarray


@dataclass(slots=True)
class CdusReadings:
    """CDUs: per hall unless stated (empty per-CDU arrays on an air-cooled site).

    Attributes
    ----------
    tcs_flow_kg_s, tcs_flow_set_kg_s : ndarray
        Secondary (TCS) flow and its setpoint, the racks' design flow [kg/s].
    pump_speed, valve : ndarray
        Secondary pump speed and facility-water valve [0-1].
    heat_w : ndarray
        Heat handed to facility water [W].
    pump_power_w : ndarray
        Secondary pump power, per CDU [W].
    facility_flow_kg_s : ndarray
        Facility water through the CDUs [kg/s].
    """

    tcs_flow_kg_s: np.ndarray
    tcs_flow_set_kg_s: np.ndarray
    pump_speed: np.ndarray
    valve: np.ndarray
    heat_w: np.ndarray
    pump_power_w: np.ndarray
    facility_flow_kg_s: np.ndarray


@dataclass(slots=True)
class WaterLoopReadings:
    """A water loop rejecting heat outdoors (facility or condenser water).

    Attributes
    ----------
    flow_kg_s : float
        Loop flow [kg/s].
    pump_power_w : float
        Loop pump power [W].
    fan_speed : float
        Heat-rejection fan speed (towers, or dry coolers on facility water) [0-1].
    fan_power_w : float
        Heat-rejection fan power [W].
    tower_heat_w : float
        Heat the towers reject [W].
    """

    flow_kg_s: float
    pump_power_w: float
    fan_speed: float
    fan_power_w: float
    tower_heat_w: float


@dataclass(slots=True)
class FacilityWaterReadings(WaterLoopReadings):
    """The facility water loop (all 0 on a site without one).

    Attributes
    ----------
    drycooler_heat_w : float
        Heat the dry coolers reject [W].
    """

    drycooler_heat_w: float


@dataclass(slots=True)
class CondenserWaterReadings(WaterLoopReadings):
    """The condenser water loop between chillers (and economiser) and its towers."""


@dataclass(slots=True)
class CrahReadings:
    """CRAH units, per hall.

    Attributes
    ----------
    fan_speed, valve : ndarray
        Fan speed and chilled-water valve [0-1].
    fan_power_w : ndarray
        Fan power [W].
    heat_w : ndarray
        Heat the coils take from the hall air [W].
    """

    fan_speed: np.ndarray
    fan_power_w: np.ndarray
    valve: np.ndarray
    heat_w: np.ndarray


@dataclass(slots=True)
class ChilledWaterReadings:
    """The chilled water plant: pumps, chillers and the economiser.

    Attributes
    ----------
    flow_kg_s : float
        Chilled water flow [kg/s].
    pump_power_w : float
        Chilled water pump power [W].
    chillers_on : int
        Chillers running.
    chiller_power_w : float
        Chillers' electrical power [W].
    chiller_heat_w : float
        Heat the chillers take from chilled water [W].
    economiser_heat_w : float
        Heat the economiser plate heat exchanger moves to condenser water [W].
    """

    flow_kg_s: float
    pump_power_w: float
    chillers_on: int
    chiller_power_w: float
    chiller_heat_w: float
    economiser_heat_w: float


@dataclass(slots=True)
class PowerReadings:
    """The power chain, from the feeds to the PDUs.

    Attributes
    ----------
    pdu_power_w, pdu_loss_w : ndarray
        Power delivered by and lost in each PDU [W].
    system_output_w, system_loss_w, system_input_w : ndarray
        Output, conversion loss and input of each UPS/HVDC system [W].
    system_modules_online : ndarray
        Modules online in each system.
    battery_discharge_w, battery_charge_w : ndarray
        Battery discharge and charging power, per system [W].
    battery_soc : ndarray
        Battery state of charge, per system [0-1].
    system_alive : ndarray of bool
        Systems supplying their output.
    transformer_load_w, transformer_loss_w : ndarray
        Load and loss of each transformer [W].
    utility_power_w, generator_power_w : float
        Power from the utility feeds and from the generators [W].
    generator_fuel_l_per_h : float
        Generator fuel rate [L/h].
    generators_running : bool
        Generators started (running, or still starting).
    on_generator, utility_ok : ndarray of bool
        Per side (A, B): fed by the generators; utility present.
    facility_power_w : float
        Power the site takes from utility and generators [W].
    it_power_w : float
        IT power of all racks [W].
    """

    pdu_power_w: np.ndarray
    pdu_loss_w: np.ndarray
    system_output_w: np.ndarray
    system_loss_w: np.ndarray
    system_input_w: np.ndarray
    system_modules_online: np.ndarray
    battery_discharge_w: np.ndarray
    battery_charge_w: np.ndarray
    battery_soc: np.ndarray
    system_alive: np.ndarray
    transformer_load_w: np.ndarray
    transformer_loss_w: np.ndarray
    utility_power_w: float
    generator_power_w: float
    generator_fuel_l_per_h: float
    generators_running: bool
    on_generator: np.ndarray
    utility_ok: np.ndarray
    facility_power_w: float
    it_power_w: float


@dataclass(slots=True)
class Readings:
    """Everything the plant publishes after a step, one group per equipment class."""

    site: SiteReadings
    racks: RacksReadings
    cdus: CdusReadings
    fw: FacilityWaterReadings
    crah: CrahReadings
    chw: ChilledWaterReadings
    cw: CondenserWaterReadings
    power: PowerReadings


def published(
    plant: Plant,
    cond: Conditions,
    load: Load,
    ctl: Controls,
    heat: HeatFlows,
    power: PowerFlows,
) -> Readings:
    """The readings of a step from its stages' results (the last stage of the step)."""
    racks = plant.layout.racks
    cdu, fw, crah, chw = ctl.cdu, ctl.fw, ctl.crah, ctl.chw
    t_case, t_out, flow_lpm = _cold_plates(plant, load.p_it)
    return Readings(
        site=SiteReadings(
            t_s=cond.t,
            t_wet_c=cond.t_wet,
            t_dry_c=cond.t_dry,
            utilisation=load.u_site,
            cooling_mode=plant.mode,
            water_kg_s=heat.water_kg / cond.dt,
            cooling_power_w=power.p_cooling,
        ),
        racks=RacksReadings(
            power_w=load.p_it,
            t_inlet_c=plant.t_air[racks.hall] + racks.inlet_offset_k,
            t_cold_plate_c=t_case,
            t_coolant_return_c=t_out,
            coolant_flow_lpm=flow_lpm,
            throttled_w=load.p_throttled,
            tripped_w=load.p_tripped,
            tripped=plant.rack_tripped.copy(),
        ),
        cdus=CdusReadings(
            tcs_flow_kg_s=cdu.m_tcs,
            tcs_flow_set_kg_s=cdu.m_set,
            pump_speed=cdu.speed,
            valve=cdu.valve,
            heat_w=heat.q_cdu,
            pump_power_w=cdu.p_pump,
            facility_flow_kg_s=cdu.m_fac,
        ),
        fw=FacilityWaterReadings(
            flow_kg_s=fw.m_flow,
            pump_power_w=fw.p_pump,
            fan_speed=fw.fan_speed,
            fan_power_w=fw.p_fan,
            tower_heat_w=heat.q_fw_tower,
            drycooler_heat_w=heat.q_fw_drycooler,
        ),
        crah=CrahReadings(
            fan_speed=crah.fan_speed,
            fan_power_w=crah.p_fan,
            valve=crah.valve,
            heat_w=heat.q_crah,
        ),
        chw=ChilledWaterReadings(
            flow_kg_s=chw.m_chw,
            pump_power_w=chw.p_chw_pump,
            chillers_on=chw.chillers_on,
            chiller_power_w=chw.p_chiller,
            chiller_heat_w=heat.q_chiller,
            economiser_heat_w=heat.q_hx,
        ),
        cw=CondenserWaterReadings(
            flow_kg_s=chw.m_cw,
            pump_power_w=chw.p_cw_pump,
            fan_speed=chw.cw_fan_speed,
            fan_power_w=chw.p_cw_fan,
            tower_heat_w=heat.q_cw_tower,
        ),
        power=PowerReadings(
            pdu_power_w=power.p_pdu_out,
            pdu_loss_w=power.pdu_loss,
            system_output_w=power.p_sys_out,
            system_loss_w=power.sys_loss,
            system_input_w=power.p_sys_in,
            system_modules_online=power.n_modules,
            battery_discharge_w=power.discharge,
            battery_charge_w=power.charging,
            battery_soc=plant.soc.copy(),
            system_alive=plant.system_alive.copy(),
            transformer_load_w=power.p_transformer,
            transformer_loss_w=power.transformer_loss,
            utility_power_w=power.from_utility,
            generator_power_w=power.from_generator,
            generator_fuel_l_per_h=power.fuel_l_per_h,
            generators_running=plant.generators_running,
            on_generator=plant.on_generator.copy(),
            utility_ok=~plant.faults.utility_lost,
            facility_power_w=power.from_utility + power.from_generator,
            it_power_w=float(load.p_it.sum()),
        ),
    )


def _cold_plates(plant: Plant, p_it: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cold-plate case, coolant return [°C] and coolant flow [L/min] per rack, at the
    rack flows of this step (:func:`twin.plant.racks.rack_flows`, set by the network)."""
    layout = plant.layout
    racks = layout.racks
    return cold_plates(
        racks,
        p_it,
        plant.m_rack,
        plant.t_tcs_supply[racks.hall],
        plant.t_rack,
        layout.rho_secondary,
    )
