"""Site configurations (``configs/sites/*.toml``): topology and setpoints of one facility.

A site names its equipment by catalog entry (``models/<kind>/<name>.toml``) and
says how many of each there are and how they connect; :func:`load_site` checks
the file and every entry it names, so a typo anywhere fails before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, model_validator

from twin import catalog
from twin.config import Frozen, read_toml, validate
from twin.errors import ConfigError
from twin.paths import data_path, shipped_sites

Count = Annotated[int, Field(ge=0)]
AtLeastOne = Annotated[int, Field(ge=1)]
Positive = Annotated[float, Field(gt=0)]


class Power(Frozen):
    transformer: str
    transformers_per_side: AtLeastOne
    generator: str
    generators: AtLeastOne
    generators_redundant: Count = 1
    ats_transfer_delay_s: Annotated[float, Field(ge=0)] = 1.0
    retransfer_delay_s: Annotated[float, Field(ge=0)] = 300.0
    hvdc: str | None = None
    ups: str
    ups_eco_mode: bool = False
    pdu: str
    battery: str
    batteries_per_system: AtLeastOne = 1
    rectifier_walk_in_s: Annotated[float, Field(ge=0)] = 10.0


class FacilityWater(Frozen):
    """Warm-water loop: towers (or dry coolers) → CDUs."""

    t_supply_c: float = Field(ge=10, le=50)
    tower: str | None = None
    towers: Count = 0
    drycooler: str | None = None
    drycoolers: Count = 0
    pump: str
    pumps: AtLeastOne
    volume_m3: Positive
    design_delta_t_k: Positive = 10.0

    @model_validator(mode="after")
    def _rejection(self) -> FacilityWater:
        towers = bool(self.tower and self.towers)
        drycoolers = bool(self.drycooler and self.drycoolers)
        if towers == drycoolers:
            raise ValueError(
                "the facility water loop rejects heat through towers or dry coolers: "
                "give either tower and towers >= 1, or drycooler and drycoolers >= 1"
            )
        return self


class AirSide(Frozen):
    """Chilled-water plant for the air-side heat: chillers, economiser, towers, CRAHs."""

    t_chilled_supply_c: float = Field(ge=4, le=25)
    t_condenser_supply_c: float = Field(default=29.0, ge=15, le=40)
    chiller: str
    chillers: AtLeastOne
    tower: str
    towers: AtLeastOne
    economiser: bool = True
    economiser_approach_k: Positive = 2.0
    free_cooling_below_wet_bulb_c: float = 12.0
    partial_below_wet_bulb_c: float = 18.0
    mode_deadband_k: Annotated[float, Field(ge=0)] = 1.0
    mode_min_dwell_s: Annotated[float, Field(ge=0)] = 1200.0
    chilled_pump: str
    chilled_pumps: AtLeastOne
    condenser_pump: str
    condenser_pumps: AtLeastOne
    chilled_volume_m3: Positive = 40.0
    condenser_volume_m3: Positive = 40.0
    design_delta_t_k: Positive = 8.0

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> AirSide:
        if self.free_cooling_below_wet_bulb_c > self.partial_below_wet_bulb_c:
            raise ValueError(
                "free_cooling_below_wet_bulb_c must not exceed partial_below_wet_bulb_c"
            )
        return self


class Cooling(Frozen):
    t_supply_air_c: float = Field(ge=10, le=35)
    t_tcs_supply_c: float = Field(default=35.0, ge=15, le=60)
    cold_plate_limit_c: float = Field(default=80.0, gt=0)
    rack_inlet_limit_c: float = Field(default=32.0, gt=0)
    facility_water: FacilityWater | None = None
    air_side: AirSide


class Hall(Frozen):
    name: str = Field(min_length=1)
    gpu_rack: str | None = None
    gpu_racks: Count = 0
    air_rack: str | None = None
    air_racks: Count = 0
    cdu: str | None = None
    cdus: Count = 0
    crah: str
    crahs: AtLeastOne
    hvdc_systems_per_side: Count = 0
    ups_systems_per_side: AtLeastOne = 1
    air_volume_m3: Positive = 5000.0
    building_heat_capacity_kj_per_k: Annotated[float, Field(ge=0)] = 50000.0

    @model_validator(mode="after")
    def _consistent(self) -> Hall:
        if self.gpu_racks and not self.gpu_rack:
            raise ValueError("gpu_racks given without gpu_rack (the catalog name)")
        if self.air_racks and not self.air_rack:
            raise ValueError("air_racks given without air_rack (the catalog name)")
        if self.gpu_racks and not (self.cdu and self.cdus):
            raise ValueError("liquid-cooled racks need a cdu and cdus >= 1")
        if self.gpu_racks and not self.hvdc_systems_per_side:
            raise ValueError("gpu racks need hvdc_systems_per_side >= 1")
        if not (self.gpu_racks or self.air_racks):
            raise ValueError("a hall needs racks: gpu_racks or air_racks")
        return self


class DeviceMap(Frozen):
    """One device of a site whose gear is given device by device (a vendor's products).

    Most sites serve one device per plant component through twin's own profiles;
    a site with ``[[devices]]`` serves exactly these, behind one gateway: each shows
    the values of one plant component (``row``-th of the profile's equipment, see the
    profile's ``binds``) through the profile's register map.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    profile: str = Field(min_length=1)  # models/profiles/<group>/<profile>.toml
    row: Count = 0  # which instance of the plant equipment (0: the first)
    unit_id: int = Field(ge=1, le=247)
    area: str | None = None  # default: the instance's own (hall, electrical-room…)


class Site(Frozen):
    name: str = Field(min_length=1)
    description: str = ""
    weather: str = "shanghai"
    load_profile: str = "steady"
    gpu_utilisation_spread: Annotated[float, Field(ge=0, le=0.5)] = 0.05
    air_rack_utilisation: Annotated[float, Field(ge=0, le=1)] = 0.6
    grid_carbon_kg_per_kwh: Annotated[float, Field(ge=0)] = 0.5703
    other_load_kw: Annotated[float, Field(ge=0)] = 0.0
    #: alarm rules in configs/alarms/<name>.toml; default: the site's own name, if shipped
    alarm_rules: str | None = None
    power: Power
    cooling: Cooling
    halls: list[Hall] = Field(min_length=1)
    #: the gear served, device by device; empty: one device per plant component
    devices: list[DeviceMap] = Field(default_factory=list)

    @model_validator(mode="after")
    def _liquid_needs_water(self) -> Site:
        liquid = any(h.gpu_racks for h in self.halls)
        if liquid and self.cooling.facility_water is None:
            raise ValueError("liquid-cooled halls need a [cooling.facility_water] loop")
        if liquid and self.power.hvdc is None:
            raise ValueError("liquid-cooled (GPU) halls are fed by HVDC: set power.hvdc")
        names = [h.name for h in self.halls]
        if len(set(names)) != len(names):
            raise ValueError(f"hall names must be unique, got {names}")
        for key in ("name", "unit_id"):
            seen = [getattr(d, key) for d in self.devices]
            twice = sorted({str(v) for v in seen if seen.count(v) > 1})
            if twice:
                raise ValueError(f"devices: {key} {twice[0]} is given twice")
        return self


# Which site keys name catalog entries, and of what kind.
_CATALOG_KEYS = {
    ("power", "transformer"): "transformer",
    ("power", "generator"): "generator",
    ("power", "hvdc"): "hvdc",
    ("power", "ups"): "ups",
    ("power", "pdu"): "pdu",
    ("power", "battery"): "battery",
    ("cooling", "facility_water", "tower"): "tower",
    ("cooling", "facility_water", "drycooler"): "drycooler",
    ("cooling", "facility_water", "pump"): "pump",
    ("cooling", "air_side", "chiller"): "chiller",
    ("cooling", "air_side", "tower"): "tower",
    ("cooling", "air_side", "chilled_pump"): "pump",
    ("cooling", "air_side", "condenser_pump"): "pump",
}
_HALL_CATALOG_KEYS = {"gpu_rack": "rack", "air_rack": "rack", "cdu": "cdu", "crah": "crah"}


def sites_folder() -> Path:
    return data_path("configs", "sites")


def site_path(name_or_path: str | Path) -> Path:
    """Resolve a shipped site name (``aidc-10mw``) or a path to a TOML file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        return candidate
    path = sites_folder() / f"{name_or_path}.toml"
    if not path.is_file():
        valid = ", ".join(shipped_sites())
        raise ConfigError(sites_folder(), f"unknown site {str(name_or_path)!r}; valid: {valid}")
    return path


def _check_catalog_names(path: Path, text: str, site: Site) -> None:
    from twin.config import line_of_key

    def check(kind: str, name: str | None, key: str) -> None:
        if name is None:
            return
        try:
            catalog.lookup(kind, name)
        except ConfigError as error:
            if error.path.suffix == ".toml":  # the entry itself is broken: report it there
                raise
            raise ConfigError(path, error.message, key=key, line=line_of_key(text, key)) from None

    for keys, kind in _CATALOG_KEYS.items():
        value: object = site
        for k in keys:
            value = getattr(value, k, None) if value is not None else None
        check(kind, value if isinstance(value, str) else None, ".".join(keys))
    for index, hall in enumerate(site.halls):
        for key, kind in _HALL_CATALOG_KEYS.items():
            check(kind, getattr(hall, key), f"halls.{index}.{key}")


def load_site(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> Site:
    """Load and fully validate a site, including every catalog entry it names.

    ``overrides`` maps dotted keys (``cooling.facility_water.t_supply_c``,
    ``halls.0.gpu_racks``) to values set in the file's data before it is
    validated: a design sweep's case is checked exactly as the edited file would be.
    """
    path = site_path(name_or_path)
    data, text = read_toml(path)
    for key, value in (overrides or {}).items():
        _set_dotted(path, data, key, value)
    site = validate(path, text, data, Site)
    _check_catalog_names(path, text, site)
    if site.alarm_rules is not None and alarm_rules_path(site) is None:
        from twin.config import line_of_key

        shipped = sorted(p.stem for p in data_path("configs", "alarms").glob("*.toml"))
        raise ConfigError(
            path,
            f"no alarm rules {site.alarm_rules!r} in configs/alarms; valid: {', '.join(shipped)}",
            key="alarm_rules",
            line=line_of_key(text, "alarm_rules"),
        )
    return site


def _set_dotted(path: Path, data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(path, f"{len(node)} entries, no index {part!r}", key=where)
            if last:
                node[int(part)] = value
                return
            node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
                return
            node = node.setdefault(part, {})
        else:
            raise ConfigError(path, "a value, not a table", key=".".join(parts[:depth]))
    raise ConfigError(path, "a value, not a table", key=key)  # pragma: no cover


def alarm_rules_path(site: Site) -> Path | None:
    """The site's alarm rules file: ``alarm_rules`` if set, else its own name's, if shipped."""
    path = data_path("configs", "alarms") / f"{site.alarm_rules or site.name}.toml"
    return path if path.is_file() else None
