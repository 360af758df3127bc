"""How a device profile is laid out as BACnet objects (no BACnet stack imported here).

The same profile that gives a device its Modbus registers and OPC UA variables
gives it its BACnet objects, so the three protocols cannot disagree:

=========================================  ====================================
profile point                              BACnet object
=========================================  ====================================
analog, input table                        analog-input
analog, holding table, writable            analog-value, commandable (priority
                                           array, limits ``[min, max]``)
analog, holding table, read only           analog-value
status word (``bits``)                     one binary-input per named bit,
                                           named ``<word>.<bit>``
discrete input / coil                      binary-input / binary-value
=========================================  ====================================

Instances count from 1 per object type in profile order, so every device of a type
has the same object list. Which equipment is served (:data:`SERVED`) is the
plant room's cooling gear, which speaks BACnet in most buildings; device ``n``
(in inventory order) listens on UDP ``base_port + n`` and has device instance
``instance_base + n``.
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.devices.inventory import Device, Inventory
from twin.devices.profiles import Point, Profile

#: equipment (a profile's binding) served as BACnet devices: the cooling plant
SERVED = ("chiller", "crah", "tower", "drycooler", "cdu", "pump")
DEFAULT_PORT = 47808  # 0xBAC0, BACnet/IP's own port
DEFAULT_INSTANCE_BASE = 10000


@dataclass(frozen=True)
class BacnetObject:
    """One object of a device: which point (and bit of it) it shows."""

    point: Point
    bit: int | None
    object_type: str
    instance: int
    name: str

    @property
    def commandable(self) -> bool:
        return self.object_type == "analog-value" and self.point.writable


def objects_of(profile: Profile) -> list[BacnetObject]:
    """The objects of every device of a profile, in profile order."""
    counters: dict[str, int] = {}
    out: list[BacnetObject] = []

    def add(point: Point, bit: int | None, object_type: str, name: str) -> None:
        counters[object_type] = counters.get(object_type, 0) + 1
        out.append(BacnetObject(point, bit, object_type, counters[object_type], name))

    for point in profile.points:
        if point.bits:
            for bit, bit_name in enumerate(point.bits):
                if bit_name:
                    add(point, bit, "binary-input", f"{point.name}.{bit_name}")
        elif point.table == "discrete":
            add(point, None, "binary-input", point.name)
        elif point.table == "coil":
            add(point, None, "binary-value", point.name)
        elif point.table == "input":
            add(point, None, "analog-input", point.name)
        else:
            add(point, None, "analog-value", point.name)
    return out


def served(inventory: Inventory) -> list[Device]:
    """The devices served on BACnet/IP, in inventory order."""
    return [d for d in inventory.devices if inventory.profiles[d.equipment].binding in SERVED]


@dataclass(frozen=True)
class BacnetPlan:
    """Where each served device listens and which device instance it has."""

    host: str
    ports: dict[str, int]  # device name → UDP port
    instances: dict[str, int]  # device name → device instance

    def address(self, device: str) -> str:
        return f"{self.host}:{self.ports[device]}"


def plan(
    inventory: Inventory,
    host: str = "127.0.0.1",
    base_port: int = DEFAULT_PORT,
    instance_base: int = DEFAULT_INSTANCE_BASE,
) -> BacnetPlan:
    """Ports ``base_port + n`` and instances ``instance_base + n`` (port 0: picked later)."""
    devices = served(inventory)
    return BacnetPlan(
        host=host,
        ports={d.name: (base_port + n if base_port else 0) for n, d in enumerate(devices)},
        instances={d.name: instance_base + n for n, d in enumerate(devices)},
    )


def registry_columns(
    bacnet_plan: BacnetPlan, profile: Profile, device: str, point: Point, bit: int | None
) -> dict[str, str]:
    """The ``bacnet_*`` registry columns of a point of a served device ({} if not served)."""
    if device not in bacnet_plan.ports:
        return {}
    for spec in objects_of(profile):
        if spec.point.name == point.name and spec.bit == bit:
            return {
                "bacnet_address": bacnet_plan.address(device),
                "bacnet_device": str(bacnet_plan.instances[device]),
                "bacnet_object_type": spec.object_type,
                "bacnet_object_instance": str(spec.instance),
                "bacnet_property": "present-value",
                "bacnet_priority": "",
            }
    return {}  # a status word itself: its bits are the objects
