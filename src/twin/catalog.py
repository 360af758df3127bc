"""The equipment catalog: named parameter sets in ``models/<kind>/<name>.toml``.

Each entry is data with a ``source`` (datasheet, standard, paper or open model
library) saying where its numbers come from. Code looks entries up by kind and
name; an unknown name is an error that lists the valid ones.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import Field

from twin.config import Frozen, load_toml_model
from twin.errors import ConfigError
from twin.paths import data_path

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


class Entry(Frozen):
    """Fields every catalog entry has."""

    description: str
    source: str


class Transformer(Entry):
    rated_kva: Positive
    voltage_primary_kv: Positive
    voltage_secondary_kv: Positive
    no_load_loss_w: NonNegative
    load_loss_w: NonNegative
    power_factor: Annotated[float, Field(gt=0, le=1)] = 0.95


class ConverterLosses(Frozen):
    """Three-term loss model: fractions of module rating (see physics.electrical)."""

    no_load_frac: Fraction
    proportional_frac: Fraction
    square_frac: Fraction


class Ups(Entry):
    """Modular UPS (double conversion, with eco mode) or 240 V HVDC rectifier system."""

    kind: str = Field(pattern="^(ups|hvdc)$")
    module_kw: Positive
    modules: Annotated[int, Field(ge=1)]
    max_module_load: Annotated[float, Field(gt=0, le=1)] = 0.8
    redundant_modules: Annotated[int, Field(ge=0)] = 1
    losses: ConverterLosses
    eco_losses: ConverterLosses | None = None
    output_voltage_v: Positive


class Pdu(Entry):
    rated_kw: Positive
    losses: ConverterLosses


class Battery(Entry):
    energy_kwh: Positive
    charge_efficiency: Annotated[float, Field(gt=0, le=1)]
    discharge_efficiency: Annotated[float, Field(gt=0, le=1)]
    max_charge_c_rate: Positive
    chemistry: str


class Generator(Entry):
    rated_kw: Positive
    voltage_kv: Positive
    start_delay_s: NonNegative
    ramp_kw_per_s: Positive
    fuel_no_load_l_per_h_per_kw: NonNegative
    fuel_slope_l_per_kwh: NonNegative


class Rack(Entry):
    power_kw: Positive
    idle_frac: Fraction
    liquid_frac: Fraction
    cold_plates: Annotated[int, Field(ge=0)] = 0
    coolant_lpm_per_kw: NonNegative = 0.0
    coolant_volume_l: NonNegative = 0.0
    airflow_m3_s_per_kw: Positive = 0.05
    #: Heat capacity of one cold plate with the package it cools (copper, lid, die) [J/K].
    plate_heat_capacity_j_k: NonNegative = 0.0
    #: GPU thermal protection, on the plate case temperature [°C]: above slowdown the
    #: rack's power falls linearly to ``throttle_floor`` at shutdown; at shutdown it trips.
    #: None (air-cooled racks): no protection modelled.
    t_gpu_slowdown_c: float | None = None
    t_gpu_shutdown_c: float | None = None
    throttle_floor: Fraction = 0.5


class Cdu(Entry):
    capacity_kw: Positive
    approach_k: Positive
    t_return_secondary_c: float
    m_flow_secondary_kg_s: Positive
    m_flow_facility_kg_s: Positive
    pumps: Annotated[int, Field(ge=1)]
    pumps_duty: Annotated[int, Field(ge=1)]
    pump_power_kw: Positive
    pump_min_speed: Fraction = 0.3
    standby_start_delay_s: NonNegative = 5.0
    secondary_coolant: str = "pg25"
    secondary_volume_l: Positive = 400.0


class Pump(Entry):
    v_flow_m3_h: Positive
    dp_kpa: Positive
    efficiency: Annotated[float, Field(gt=0, le=1)]
    min_speed: Fraction = 0.3


class Tower(Entry):
    capacity_kw: Positive
    t_wet_bulb_design_c: float
    approach_design_k: Positive
    range_design_k: Positive
    fan_power_kw: Positive
    min_fan_speed: Fraction = 0.3
    free_convection_frac: Fraction = 0.125
    cycles_of_concentration: Annotated[float, Field(gt=1)] = 3.0
    basin_volume_m3: Positive = 20.0


class DryCooler(Entry):
    capacity_kw: Positive
    t_dry_bulb_design_c: float
    approach_design_k: Positive
    range_design_k: Positive
    fan_power_kw: Positive
    min_fan_speed: Fraction = 0.2


class ChillerCurves(Frozen):
    capft: tuple[float, float, float, float, float, float]
    eirft: tuple[float, float, float, float, float, float]
    eirfplr: tuple[float, float, float]
    #: Range of the curves' inputs (the curve objects' min/max of x and y):
    #: leaving chilled water, entering condenser water [°C], part-load ratio [-].
    t_chilled_leaving_limits_c: tuple[float, float]
    t_condenser_entering_limits_c: tuple[float, float]
    plr_limits: tuple[float, float]


class Chiller(Entry):
    capacity_kw: Positive
    cop: Positive
    t_chilled_leaving_rated_c: float
    t_condenser_entering_rated_c: float
    plr_min: Fraction = 0.1
    curves: ChillerCurves
    m_flow_condenser_kg_s: Positive
    restart_delay_s: NonNegative = 300.0
    #: Refrigerant beyond the leaving water of evaporator and condenser [K], for the
    #: lift of the Carnot correction beyond the curves' range (Modelica Buildings
    #: ``Fluid.Chillers.BaseClasses.Carnot``: 2 K for water).
    dt_approach_evaporator_k: NonNegative = 2.0
    dt_approach_condenser_k: NonNegative = 2.0


class Crah(Entry):
    capacity_kw: Positive
    airflow_m3_s: Positive
    fan_power_kw: Positive
    min_fan_speed: Fraction = 0.3
    t_return_air_design_c: float
    t_chilled_supply_design_c: float
    m_flow_chilled_kg_s: Positive


KINDS: dict[str, type[Entry]] = {
    "transformer": Transformer,
    "ups": Ups,
    "hvdc": Ups,
    "pdu": Pdu,
    "battery": Battery,
    "generator": Generator,
    "rack": Rack,
    "cdu": Cdu,
    "pump": Pump,
    "tower": Tower,
    "drycooler": DryCooler,
    "chiller": Chiller,
    "crah": Crah,
}


def catalog_root() -> Path:
    return data_path("models")


def names(kind: str) -> list[str]:
    """Valid entry names of one kind."""
    folder = catalog_root() / kind
    return sorted(p.stem for p in folder.glob("*.toml"))


@cache
def lookup(kind: str, name: str) -> Entry:
    """The catalog entry ``kind/name``, validated.

    Raises :class:`ConfigError` for an unknown kind or name (listing the valid
    ones) or an invalid entry (naming its file and key).
    """
    if kind not in KINDS:
        raise ConfigError(
            catalog_root(), f"unknown equipment kind {kind!r}; valid: {sorted(KINDS)}"
        )
    path = catalog_root() / kind / f"{name}.toml"
    if not path.is_file():
        valid = ", ".join(names(kind)) or "(none)"
        raise ConfigError(catalog_root() / kind, f"unknown {kind} {name!r}; valid: {valid}")
    return load_toml_model(path, KINDS[kind])


def load_entry_file(path: Path) -> Entry:
    """Validate one catalog file, its kind taken from its folder (for ``twin check``)."""
    kind = path.parent.name
    if kind not in KINDS:
        raise ConfigError(
            path, f"catalog files live in models/<kind>/; kind must be one of {sorted(KINDS)}"
        )
    return load_toml_model(path, KINDS[kind])
