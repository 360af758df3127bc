"""The devices of a site: names, areas, profiles, Modbus unit ids and gateways.

Every equipment instance of the plant is a device. Devices are grouped by area
(a hall, the electrical room, the cooling plant) behind Modbus TCP *gateways*,
like a protocol gateway in front of a plant room: one TCP server per area (more
when an area has over 247 devices), unit ids 1, 2, … in device order. On OPC UA
each device is ``Objects/<Site>/<Area>/<Device>`` with one variable per point.

A site that lists its ``[[devices]]`` (a vendor's plant room) serves exactly
those, behind one gateway, with the unit ids it gives: each a plant component
shown through a product's profile (:class:`~twin.devices.profiles.Profile`
``binds``). The datastores are then keyed by profile, each still holding every
instance of its plant equipment (a row per instance; only the listed rows are
served).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from twin.devices.bindings import Binding, site_bindings
from twin.devices.profiles import Profile, load_profiles
from twin.errors import ConfigError
from twin.plant.layout import Layout
from twin.plant.scenarios import SETPOINT_LIMITS
from twin.site import sites_folder

MAX_UNITS_PER_GATEWAY = 247


@dataclass(frozen=True)
class Device:
    name: str
    equipment: str
    area: str
    row: int  # position among the devices of its equipment type (binding index)
    gateway: int
    unit_id: int


@dataclass
class Inventory:
    site: str
    devices: list[Device]
    bindings: dict[str, Binding]
    profiles: dict[str, Profile]
    profile_paths: dict[str, Path]
    gateways: list[str] = field(default_factory=list)  # area of each gateway
    by_name: dict[str, Device] = field(default_factory=dict)

    #: per datastore (equipment type or profile): the device name of each row, for
    #: faults addressed by device name
    row_names: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {d.name: d for d in self.devices}
        for key, binding in self.bindings.items():
            self.row_names.setdefault(key, list(binding.names))
        for device in self.devices:
            self.row_names[device.equipment][device.row] = device.name

    def device(self, name: str) -> Device:
        if name not in self.by_name:
            raise KeyError(f"no device {name!r} in site {self.site}")
        return self.by_name[name]


def check_bindings(binding: Binding, profile: Profile, path: Path) -> None:
    """Every quantity a profile names must be one its equipment type publishes."""
    valid = set(binding.quantities)
    for i, point in enumerate(profile.points):
        wanted = [point.source] if not point.bits else [b for b in point.bits if b]
        for quantity in wanted:
            if quantity not in valid:
                raise ConfigError(
                    path,
                    f"point {point.name!r}: {binding.equipment} devices publish no quantity "
                    f"{quantity!r}; valid: {', '.join(binding.quantities)}",
                    key=f"points.{i}.{'bits' if point.bits else 'quantity'}",
                )
        if point.writable and point.source not in binding.setpoints:
            raise ConfigError(
                path,
                f"point {point.name!r} is writable but {binding.equipment} has no setpoint "
                f"{point.source!r}; writable: {', '.join(binding.setpoints) or 'none'}",
                key=f"points.{i}.writable",
            )
        if point.writable and point.min is not None and point.max is not None:
            # A write the device accepts must be one the plant accepts too.
            for target in binding.setpoint_targets(point.source):
                low, high = SETPOINT_LIMITS[target]
                if point.min < low or point.max > high:
                    raise ConfigError(
                        path,
                        f"point {point.name!r} accepts [{point.min:g}, {point.max:g}] but the "
                        f"plant's {target} accepts [{low:g}, {high:g}]",
                        key=f"points.{i}.{'min' if point.min < low else 'max'}",
                    )


def build(layout: Layout, profiles_root: Path | None = None) -> Inventory:
    """All devices of an assembled site, checked against their profiles."""
    loaded = load_profiles(profiles_root)
    bindings = site_bindings(layout)
    if layout.site.devices:
        return _mapped(layout, loaded, bindings)
    devices: list[Device] = []
    gateways: list[str] = []
    by_area: dict[str, list[tuple[Binding, int]]] = {}
    for binding in bindings:
        if binding.equipment not in loaded:
            root = profiles_root or Path("models/profiles")
            raise ConfigError(root, f"no profile for equipment type {binding.equipment!r}")
        profile, path = loaded[binding.equipment]
        check_bindings(binding, profile, path)
        for row, area in enumerate(binding.areas):
            by_area.setdefault(area, []).append((binding, row))
    # Electrical room and cooling plant first, then halls, in layout order.
    order = sorted(by_area, key=lambda a: (a not in ("electrical-room", "cooling-plant"), 0))
    for area in order:
        members = by_area[area]
        for start in range(0, len(members), MAX_UNITS_PER_GATEWAY):
            gateway = len(gateways)
            gateways.append(area)
            for unit, (binding, row) in enumerate(
                members[start : start + MAX_UNITS_PER_GATEWAY], start=1
            ):
                devices.append(
                    Device(binding.names[row], binding.equipment, area, row, gateway, unit)
                )
    return Inventory(
        site=layout.site.name,
        devices=devices,
        bindings={b.equipment: b for b in bindings},
        profiles={b.equipment: loaded[b.equipment][0] for b in bindings},
        profile_paths={b.equipment: loaded[b.equipment][1] for b in bindings},
        gateways=gateways,
    )


def _mapped(
    layout: Layout, loaded: dict[str, tuple[Profile, Path]], bindings: list[Binding]
) -> Inventory:
    """The devices a site lists one by one, behind one gateway."""
    site = layout.site
    where = sites_folder() / f"{site.name}.toml"
    by_equipment = {b.equipment: b for b in bindings}
    devices: list[Device] = []
    used: dict[str, Binding] = {}
    for i, entry in enumerate(site.devices):
        if entry.profile not in loaded:
            raise ConfigError(
                where,
                f"no device profile {entry.profile!r}; valid: {', '.join(sorted(loaded))}",
                key=f"devices.{i}.profile",
            )
        profile, path = loaded[entry.profile]
        binding = by_equipment.get(profile.binding)
        if binding is None:
            raise ConfigError(
                where,
                f"profile {entry.profile!r} shows {profile.binding!r} equipment, which this "
                f"site has none of",
                key=f"devices.{i}.profile",
            )
        if entry.row >= len(binding):
            raise ConfigError(
                where,
                f"row {entry.row}: the site has {len(binding)} {profile.binding} "
                f"(rows 0-{len(binding) - 1})",
                key=f"devices.{i}.row",
            )
        check_bindings(binding, profile, path)
        used[profile.equipment] = binding
        area = entry.area or binding.areas[entry.row]
        devices.append(Device(entry.name, profile.equipment, area, entry.row, 0, entry.unit_id))
    return Inventory(
        site=site.name,
        devices=devices,
        bindings=used,
        profiles={key: loaded[key][0] for key in used},
        profile_paths={key: loaded[key][1] for key in used},
        gateways=[site.name],
    )
