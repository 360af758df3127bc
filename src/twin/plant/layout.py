"""Site assembly: a :class:`twin.site.Site` turned into arrays per component class.

Every component class is one struct of arrays (all racks in one set of arrays,
all CDUs in another) and every connection an index array: rack → hall,
rack → PDU (per side), PDU → power system, power system → transformer,
CDU → hall. The plant aggregates along them with ``np.bincount``; nothing on
the hot path loops over objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from twin import catalog
from twin.physics import cooling, electrical, fluids
from twin.site import Site

SIDES = ("A", "B")


@dataclass(frozen=True)
class Racks:
    name: list[str]
    hall: np.ndarray  # int
    is_gpu: np.ndarray  # bool
    p_nominal_w: np.ndarray
    idle_frac: np.ndarray
    liquid_frac: np.ndarray
    cold_plates: np.ndarray
    m_flow_design_kg_s: np.ndarray  # coolant design flow (0 for air racks)
    airflow_m3_s: np.ndarray
    utilisation_offset: np.ndarray  # deterministic spread around the site profile
    inlet_offset_k: np.ndarray  # recirculation: rack inlet above supply air
    pdu: np.ndarray  # [2, n] PDU index per side
    #: Rack-side lumped node: coolant in the rack's manifolds and plates, plus the
    #: plates and packages themselves [J/K] (0 for air racks).
    heat_capacity_j_k: np.ndarray
    t_slowdown_c: np.ndarray  # GPU protection thresholds (inf for air racks) [°C]
    t_shutdown_c: np.ndarray
    throttle_floor: np.ndarray


@dataclass(frozen=True)
class PowerSystems:
    """UPS frames and HVDC rectifier systems (one entry per system per side)."""

    name: list[str]
    is_hvdc: np.ndarray
    hall: np.ndarray
    side: np.ndarray  # 0 = A, 1 = B
    transformer: np.ndarray
    modules: np.ndarray
    module_w: np.ndarray
    max_module_load: np.ndarray
    redundant_modules: np.ndarray
    loss_coefficients: np.ndarray  # [n, 3]
    battery_wh: np.ndarray
    charge_eff: np.ndarray
    discharge_eff: np.ndarray
    max_charge_w: np.ndarray


@dataclass(frozen=True)
class Pdus:
    name: list[str]
    system: np.ndarray
    rated_w: np.ndarray
    loss_coefficients: np.ndarray  # [n, 3]


@dataclass(frozen=True)
class Cdus:
    name: list[str]
    hall: np.ndarray
    pumps: np.ndarray
    pumps_duty: np.ndarray
    pump_power_w: np.ndarray  # per pump at full speed
    pump_min_speed: np.ndarray
    m_flow_pump_kg_s: np.ndarray  # per pump at full speed
    m_flow_facility_kg_s: np.ndarray
    m_flow_secondary_kg_s: np.ndarray
    ua_w_k: np.ndarray
    standby_start_delay_s: np.ndarray
    capacity_w: np.ndarray


@dataclass(frozen=True)
class TowerGroup:
    """Identical tower cells on one loop, run with the most cells that keep each
    cell's water flow at or above 75 % of design (EnergyPlus "MaximalCell")."""

    cells: int
    m_flow_design_kg_s: float  # per cell
    fan_power_w: float  # per cell
    min_fan_speed: float
    free_convection_frac: float
    cycles: float
    capacity_w: float


@dataclass(frozen=True)
class DryCoolerGroup:
    """Identical dry coolers sharing a loop's water equally, fans at one speed."""

    units: int
    ua_w_k: float  # per unit at design flows
    c_air_w_k: float  # per unit at full fan speed
    m_flow_design_kg_s: float  # per unit
    fan_power_w: float  # per unit at full speed
    min_fan_speed: float


@dataclass(frozen=True)
class PumpGroup:
    pumps: int
    m_flow_design_kg_s: float  # per pump
    power_w: float  # per pump at design
    min_speed: float


@dataclass(frozen=True)
class Layout:
    site: Site
    hall_names: list[str]
    racks: Racks
    systems: PowerSystems
    pdus: Pdus
    cdus: Cdus
    transformer_side: np.ndarray
    transformer_rated_kva: float
    transformer_p0_w: float
    transformer_pk_w: float
    transformer_pf: float
    generators: int
    generator: catalog.Generator
    fw_towers: TowerGroup | None
    fw_drycoolers: DryCoolerGroup | None
    fw_pumps: PumpGroup | None
    cw_towers: TowerGroup
    cw_pumps: PumpGroup
    chw_pumps: PumpGroup
    chiller: catalog.Chiller
    chillers: int
    crah_hall: np.ndarray
    crah: list[catalog.Crah]  # per hall model
    crah_ua_w_k: np.ndarray  # per hall, one unit
    cp_water: float
    cp_secondary: float
    heat_capacity: dict[str, np.ndarray] = field(default_factory=dict)
    #: Densities of the facility water and the secondary coolant [kg/m³], at the
    #: loops' design temperatures (:mod:`twin.physics.fluids`), as the specific heats.
    rho_water: float = 997.3
    rho_secondary: float = 1009.9

    @property
    def n_halls(self) -> int:
        return len(self.hall_names)


def system_losses(systems: PowerSystems, p_out_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Modules on line and losses [W] of every UPS/HVDC system at its output power.

    ``p_out_w`` has the systems on its last axis (one row per time step in a study).
    """
    n_mod = electrical.modules_online(
        p_out_w,
        systems.module_w,
        systems.modules,
        systems.max_module_load,
        int(systems.redundant_modules.max()),
    )
    n_mod = np.minimum(n_mod, systems.modules)
    c = systems.loss_coefficients
    loss = electrical.converter_losses(p_out_w, n_mod * systems.module_w, c[:, 0], c[:, 1], c[:, 2])
    return n_mod, loss


def _losses(entry: catalog.ConverterLosses) -> list[float]:
    return [entry.no_load_frac, entry.proportional_frac, entry.square_frac]


def _pump_group(name: str, count: int, rho: float) -> PumpGroup:
    pump = catalog.lookup("pump", name)
    assert isinstance(pump, catalog.Pump)
    v = pump.v_flow_m3_h / 3600.0
    power = float(cooling.hydraulic_power(v, pump.dp_kpa * 1e3, pump.efficiency))
    return PumpGroup(count, v * rho, power, pump.min_speed)


def _tower_group(name: str, cells: int, cp: float) -> TowerGroup:
    tower = catalog.lookup("tower", name)
    assert isinstance(tower, catalog.Tower)
    m = tower.capacity_kw * 1e3 / (cp * tower.range_design_k)
    return TowerGroup(
        cells=cells,
        m_flow_design_kg_s=m,
        fan_power_w=tower.fan_power_kw * 1e3,
        min_fan_speed=tower.min_fan_speed,
        free_convection_frac=tower.free_convection_frac,
        cycles=tower.cycles_of_concentration,
        capacity_w=tower.capacity_kw * 1e3,
    )


def _cdu_ua(cdu: catalog.Cdu, cp_secondary: float, cp_water: float) -> float:
    """UA that gives the record's approach at its design duty (counter-flow plate HX)."""
    c_hot = cdu.m_flow_secondary_kg_s * cp_secondary
    c_cold = cdu.m_flow_facility_kg_s * cp_water
    q = cdu.capacity_kw * 1e3
    t_hot_in = cdu.t_return_secondary_c
    t_hot_out = t_hot_in - q / c_hot
    t_cold_in = t_hot_out - cdu.approach_k
    eff = q / (min(c_hot, c_cold) * (t_hot_in - t_cold_in))
    return _ua_for_effectiveness(eff, c_hot, c_cold)


def _ua_for_effectiveness(
    eff: float, c_a: float, c_b: float, arrangement: str = "counterflow"
) -> float:
    """UA at which an exchanger reaches ``eff`` (bisection on NTU; at assembly only)."""
    c_min, c_max = min(c_a, c_b), max(c_a, c_b)
    effectiveness = (
        cooling.counterflow_effectiveness
        if arrangement == "counterflow"
        else cooling.crossflow_effectiveness
    )
    lo, hi = 1e-3, 50.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if float(effectiveness(mid, c_min / c_max)) < eff:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi) * c_min


def _drycooler_group(name: str, units: int, cp: float) -> DryCoolerGroup:
    """Design UA from the catalog's approach and range at design dry bulb.

    The air-side temperature rise at design is taken equal to the water range
    (balanced capacity rates), as V-type dry coolers are selected near there.
    """
    model = catalog.lookup("drycooler", name)
    assert isinstance(model, catalog.DryCooler)
    q = model.capacity_kw * 1e3
    c_water = q / model.range_design_k
    c_air = c_water
    eff = model.range_design_k / (model.approach_design_k + model.range_design_k)
    return DryCoolerGroup(
        units=units,
        ua_w_k=_ua_for_effectiveness(eff, c_air, c_water, "crossflow"),
        c_air_w_k=c_air,
        m_flow_design_kg_s=c_water / cp,
        fan_power_w=model.fan_power_kw * 1e3,
        min_fan_speed=model.min_fan_speed,
    )


def _crah_ua(crah: catalog.Crah, cp_water: float) -> float:
    """Coil UA that gives the unit's capacity at its design air and water temperatures."""
    c_air = crah.airflow_m3_s * fluids.AIR_DENSITY * fluids.AIR_SPECIFIC_HEAT
    c_water = crah.m_flow_chilled_kg_s * cp_water
    eff = (
        crah.capacity_kw
        * 1e3
        / (min(c_air, c_water) * (crah.t_return_air_design_c - crah.t_chilled_supply_design_c))
    )
    eff = min(eff, 0.95)
    c_min, c_max = min(c_air, c_water), max(c_air, c_water)
    lo, hi = 1e-3, 50.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if float(cooling.crossflow_effectiveness(mid, c_min / c_max)) < eff:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi) * c_min


def assemble(site: Site) -> Layout:
    """Build the arrays of a site from its config and the catalog."""
    cp_water = float(fluids.specific_heat("water", 30.0))
    cp_secondary = float(fluids.specific_heat("pg25", 40.0))
    rho_water = float(fluids.density("water", 30.0))
    rho_secondary = float(fluids.density("pg25", 40.0))
    power = site.power

    rack_rows: dict[str, list] = {k: [] for k in Racks.__dataclass_fields__}
    rack_rows["pdu"] = [[], []]
    sys_rows: dict[str, list] = {k: [] for k in PowerSystems.__dataclass_fields__}
    pdu_rows: dict[str, list] = {k: [] for k in Pdus.__dataclass_fields__}
    cdu_rows: dict[str, list] = {k: [] for k in Cdus.__dataclass_fields__}
    crah_hall: list[int] = []
    crahs: list[catalog.Crah] = []
    crah_ua: list[float] = []
    battery = catalog.lookup("battery", power.battery)
    pdu_model = catalog.lookup("pdu", power.pdu)
    assert isinstance(battery, catalog.Battery) and isinstance(pdu_model, catalog.Pdu)
    n_transformers = power.transformers_per_side
    system_counter = [0, 0]

    def add_system(kind: str, model_name: str, hall_index: int, side: int, number: int) -> int:
        model = catalog.lookup(kind, model_name)
        assert isinstance(model, catalog.Ups)
        index = len(sys_rows["name"])
        hall_name = site.halls[hall_index].name
        sys_rows["name"].append(f"{hall_name}-{kind}-{SIDES[side]}{number + 1}")
        sys_rows["is_hvdc"].append(kind == "hvdc")
        sys_rows["hall"].append(hall_index)
        sys_rows["side"].append(side)
        sys_rows["transformer"].append(
            side * n_transformers + system_counter[side] % n_transformers
        )
        system_counter[side] += 1
        sys_rows["modules"].append(model.modules)
        sys_rows["module_w"].append(model.module_kw * 1e3)
        sys_rows["max_module_load"].append(model.max_module_load)
        sys_rows["redundant_modules"].append(model.redundant_modules)
        losses = model.losses
        if kind == "ups" and power.ups_eco_mode and model.eco_losses is not None:
            losses = model.eco_losses
        sys_rows["loss_coefficients"].append(_losses(losses))
        energy = power.batteries_per_system * battery.energy_kwh * 1e3
        sys_rows["battery_wh"].append(energy)
        sys_rows["charge_eff"].append(battery.charge_efficiency)
        sys_rows["discharge_eff"].append(battery.discharge_efficiency)
        sys_rows["max_charge_w"].append(energy * battery.max_charge_c_rate)
        return index

    for h, hall in enumerate(site.halls):
        rack_specs: list[tuple[str, int, str]] = []
        if hall.gpu_racks:
            rack_specs.append((hall.gpu_rack or "", hall.gpu_racks, "hvdc"))
        if hall.air_racks:
            rack_specs.append((hall.air_rack or "", hall.air_racks, "ups"))
        for model_name, count, kind in rack_specs:
            model = catalog.lookup("rack", model_name)
            assert isinstance(model, catalog.Rack)
            n_systems = hall.hvdc_systems_per_side if kind == "hvdc" else hall.ups_systems_per_side
            model_sys = power.hvdc if kind == "hvdc" else power.ups
            p_group = count * model.power_kw * 1e3
            # Each side carries the whole group on its own (2N): PDUs sized on that.
            pdus_per_system = max(
                1, math.ceil(p_group / n_systems / (0.8 * pdu_model.rated_kw * 1e3))
            )
            first_pdu = [[0] * n_systems for _ in SIDES]
            for side in range(2):
                for s in range(n_systems):
                    system = add_system(kind, model_sys or "", h, side, s)
                    first_pdu[side][s] = len(pdu_rows["name"])
                    for p in range(pdus_per_system):
                        pdu_rows["name"].append(f"{sys_rows['name'][system]}-pdu{p + 1}")
                        pdu_rows["system"].append(system)
                        pdu_rows["rated_w"].append(pdu_model.rated_kw * 1e3)
                        pdu_rows["loss_coefficients"].append(_losses(pdu_model.losses))
            prefix = "gpu" if kind == "hvdc" else "air"
            for r in range(count):
                rack_rows["name"].append(f"{hall.name}-{prefix}{r + 1:03d}")
                rack_rows["hall"].append(h)
                rack_rows["is_gpu"].append(model.liquid_frac > 0)
                rack_rows["p_nominal_w"].append(model.power_kw * 1e3)
                rack_rows["idle_frac"].append(model.idle_frac)
                rack_rows["liquid_frac"].append(model.liquid_frac)
                rack_rows["cold_plates"].append(model.cold_plates)
                liquid_kw = model.power_kw * model.liquid_frac
                lpm = model.coolant_lpm_per_kw * liquid_kw
                rack_rows["m_flow_design_kg_s"].append(lpm / 60.0 / 1000.0 * rho_secondary)
                rack_rows["airflow_m3_s"].append(model.airflow_m3_s_per_kw * model.power_kw)
                rack_rows["heat_capacity_j_k"].append(
                    model.coolant_volume_l / 1000.0 * rho_secondary * cp_secondary
                    + model.cold_plates * model.plate_heat_capacity_j_k
                )
                rack_rows["t_slowdown_c"].append(model.t_gpu_slowdown_c or math.inf)
                rack_rows["t_shutdown_c"].append(model.t_gpu_shutdown_c or math.inf)
                rack_rows["throttle_floor"].append(model.throttle_floor)
                # A fixed, reproducible spread: racks differ, runs do not.
                phase = (len(rack_rows["name"]) * 0.618034) % 1.0
                rack_rows["utilisation_offset"].append(2.0 * phase - 1.0)
                rack_rows["inlet_offset_k"].append(
                    1.5 * ((len(rack_rows["name"]) * 0.381966) % 1.0)
                )
                s = r % n_systems
                for side in range(2):
                    pdu = first_pdu[side][s] + (r // n_systems) % pdus_per_system
                    rack_rows["pdu"][side].append(pdu)
        if hall.cdus:
            cdu = catalog.lookup("cdu", hall.cdu or "")
            assert isinstance(cdu, catalog.Cdu)
            ua = _cdu_ua(cdu, cp_secondary, cp_water)
            for c in range(hall.cdus):
                cdu_rows["name"].append(f"{hall.name}-cdu{c + 1}")
                cdu_rows["hall"].append(h)
                cdu_rows["pumps"].append(cdu.pumps)
                cdu_rows["pumps_duty"].append(cdu.pumps_duty)
                cdu_rows["pump_power_w"].append(cdu.pump_power_kw * 1e3 / cdu.pumps_duty)
                cdu_rows["pump_min_speed"].append(cdu.pump_min_speed)
                cdu_rows["m_flow_pump_kg_s"].append(cdu.m_flow_secondary_kg_s / cdu.pumps_duty)
                cdu_rows["m_flow_facility_kg_s"].append(cdu.m_flow_facility_kg_s)
                cdu_rows["m_flow_secondary_kg_s"].append(cdu.m_flow_secondary_kg_s)
                cdu_rows["ua_w_k"].append(ua)
                cdu_rows["standby_start_delay_s"].append(cdu.standby_start_delay_s)
                cdu_rows["capacity_w"].append(cdu.capacity_kw * 1e3)
        crah = catalog.lookup("crah", hall.crah)
        assert isinstance(crah, catalog.Crah)
        crahs.append(crah)
        crah_ua.append(_crah_ua(crah, cp_water))
        crah_hall.extend([h] * hall.crahs)

    def arrays(rows: dict[str, list], cls: type) -> object:
        values = {}
        for key, value in rows.items():
            values[key] = value if key == "name" else np.asarray(value)
        return cls(**values)

    racks = arrays(rack_rows, Racks)
    systems = arrays(sys_rows, PowerSystems)
    pdus = arrays(pdu_rows, Pdus)
    cdus = arrays(cdu_rows, Cdus)
    assert isinstance(racks, Racks) and isinstance(systems, PowerSystems)
    assert isinstance(pdus, Pdus) and isinstance(cdus, Cdus)

    transformer = catalog.lookup("transformer", power.transformer)
    generator = catalog.lookup("generator", power.generator)
    chiller = catalog.lookup("chiller", site.cooling.air_side.chiller)
    assert isinstance(transformer, catalog.Transformer)
    assert isinstance(generator, catalog.Generator) and isinstance(chiller, catalog.Chiller)
    fw = site.cooling.facility_water
    air = site.cooling.air_side
    n_halls = len(site.halls)

    # Heat capacities of the lumped nodes [J/K].
    cdu_volume = np.zeros(n_halls)
    for h, hall in enumerate(site.halls):
        if hall.cdus:
            cdu_model = catalog.lookup("cdu", hall.cdu or "")
            assert isinstance(cdu_model, catalog.Cdu)
            cdu_volume[h] = hall.cdus * cdu_model.secondary_volume_l / 1000.0
    c_secondary = rho_secondary * cp_secondary
    heat_capacity = {
        # Supply side: CDU internals and supply manifolds (half the CDU volume).
        "tcs_supply": np.maximum(0.5 * cdu_volume * c_secondary, 1.0),
        # Return side: CDU internals and return manifolds (half the CDU volume); the
        # racks' own coolant and plates are nodes of their own (Racks.heat_capacity_j_k).
        "tcs_return": np.maximum(0.5 * cdu_volume * c_secondary, 1.0),
        "hall_air": np.array(
            [
                h.air_volume_m3 * fluids.AIR_DENSITY * fluids.AIR_SPECIFIC_HEAT
                + h.building_heat_capacity_kj_per_k * 1e3
                for h in site.halls
            ]
        ),
        "fw_supply": np.array([0.5 * (fw.volume_m3 if fw else 1.0) * rho_water * cp_water]),
        "fw_return": np.array([0.5 * (fw.volume_m3 if fw else 1.0) * rho_water * cp_water]),
        "chw_supply": np.array([0.5 * air.chilled_volume_m3 * rho_water * cp_water]),
        "chw_return": np.array([0.5 * air.chilled_volume_m3 * rho_water * cp_water]),
        "cw_supply": np.array([0.5 * air.condenser_volume_m3 * rho_water * cp_water]),
        "cw_return": np.array([0.5 * air.condenser_volume_m3 * rho_water * cp_water]),
    }

    return Layout(
        site=site,
        hall_names=[h.name for h in site.halls],
        racks=racks,
        systems=systems,
        pdus=pdus,
        cdus=cdus,
        transformer_side=np.repeat([0, 1], n_transformers),
        transformer_rated_kva=transformer.rated_kva,
        transformer_p0_w=transformer.no_load_loss_w,
        transformer_pk_w=transformer.load_loss_w,
        transformer_pf=transformer.power_factor,
        generators=power.generators,
        generator=generator,
        fw_towers=_tower_group(fw.tower, fw.towers, cp_water) if fw and fw.towers else None,
        fw_drycoolers=(
            _drycooler_group(fw.drycooler, fw.drycoolers, cp_water)
            if fw and fw.drycooler and fw.drycoolers
            else None
        ),
        fw_pumps=_pump_group(fw.pump, fw.pumps, rho_water) if fw else None,
        cw_towers=_tower_group(air.tower, air.towers, cp_water),
        cw_pumps=_pump_group(air.condenser_pump, air.condenser_pumps, rho_water),
        chw_pumps=_pump_group(air.chilled_pump, air.chilled_pumps, rho_water),
        chiller=chiller,
        chillers=air.chillers,
        crah_hall=np.asarray(crah_hall),
        crah=crahs,
        crah_ua_w_k=np.asarray(crah_ua),
        cp_water=cp_water,
        cp_secondary=cp_secondary,
        heat_capacity=heat_capacity,
        rho_water=rho_water,
        rho_secondary=rho_secondary,
    )
