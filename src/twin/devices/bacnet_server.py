"""BACnet/IP devices of a site's cooling plant (bacpypes3 0.0.10x).

One bacpypes3 :class:`~bacpypes3.app.Application` per device, each with its
Device object, its own UDP port on the loopback (``base_port + n``) and the
objects :func:`twin.devices.bacnet_layout.objects_of` lays out from its profile.
What each object says:

- ``present-value`` the plant's value as the device's registers carry it (scaled
  integers quantised to their scale, as Modbus decodes them); ``units`` the
  BACnet engineering unit of the profile's unit; ``cov-increment`` one step of
  the encoding (the scale) or 1/1000 of the range for floats; ``status-flags``
  from ``reliability`` and ``out-of-service``.
- A setpoint is a commandable analog-value: a write of ``present-value`` goes to
  its priority array at the request's priority (16 if none); the resulting value
  goes to the plant's command queue like a Modbus write. A value outside
  ``[min, max]`` is refused with Error(property, value-out-of-range) and changes
  nothing; a write to anything else with Error(property, write-access-denied).
  What the plant then holds is the ``relinquish-default`` (the setpoint with no
  command in force), so a Modbus or OPC UA write shows here too.
- Device faults: ``bad_quality`` sets ``reliability`` unreliable-other (status
  flag fault), ``exception`` communication-failure, ``offline`` makes the device
  silent (no I-Am, no replies), ``slow`` delays its replies.

COV subscriptions (SubscribeCOV, confirmed or not) are bacpypes3's own; a change
of the status flags (a fault coming or going) notifies as the standard asks.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

import numpy as np
from bacpypes3.app import Application
from bacpypes3.errors import PropertyError
from bacpypes3.local.analog import AnalogInputObject, AnalogValueObject, AnalogValueObjectCmd
from bacpypes3.local.binary import BinaryInputObject, BinaryValueObject
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.primitivedata import Real

from twin.devices.bacnet_layout import BacnetObject, BacnetPlan, objects_of, served
from twin.devices.faults import Faults
from twin.devices.image import point_value
from twin.devices.inventory import Device, Inventory
from twin.devices.opcua_values import quantise
from twin.devices.profiles import Point
from twin.points.bacnet import BACNET_UNITS
from twin.points.codec import DATA_TYPES, decode

log = logging.getLogger(__name__)

WriteHandler = Callable[[Device, Point, float], None]
VENDOR_ID = 999  # ASHRAE's "reserved for testing" is 0; 999 is what bacpypes3's samples use
RELIABILITY = {
    "bad_quality": "unreliable-other",
    "exception": "communication-failure",
}


class _ReadOnly:
    """Simulated gear: nothing but a setpoint's present value may be written."""

    async def write_property(self, attr: Any, value: Any, index: Any = None, priority: Any = None):
        raise PropertyError("writeAccessDenied")


class _Input(_ReadOnly, AnalogInputObject):
    pass


class _Value(_ReadOnly, AnalogValueObject):
    pass


class _BinaryInput(_ReadOnly, BinaryInputObject):
    pass


class _BinaryValue(_ReadOnly, BinaryValueObject):
    pass


class _Setpoint(AnalogValueObjectCmd):
    """A commandable analog value: limits checked, the result sent to the plant."""

    async def write_property(self, attr: Any, value: Any, index: Any = None, priority: Any = None):
        name = attr if isinstance(attr, str) else self._property_identifier_class(attr).attr
        if name != "presentValue" or index is not None:
            raise PropertyError("writeAccessDenied")
        if priority is not None and not 1 <= int(priority) <= 16:
            raise PropertyError("invalidArrayIndex")
        owner, device, point = self._twin
        relinquish = getattr(value, "null", None) is not None or value is None
        if not relinquish:
            number = float(value)
            if not (point.min <= number <= point.max):  # NaN fails too
                raise PropertyError("valueOutOfRange")
        await super().write_property("presentValue", value, None, priority)
        result = float(self.presentValue)
        log.info(
            "%s: %s := %s (BACnet write, priority %s)", device.name, point.name, result,
            priority or 16,
        )  # fmt: skip
        owner.on_write(device, point, result)


class _Device(Application):
    """A device's application: device faults act on what it answers."""

    _owner: BacnetDevices
    _name: str

    async def indication(self, apdu: Any) -> None:
        faults = self._owner.faults
        if faults.has(self._name, "offline"):
            return  # silent, as a device whose network cable is out
        slow = faults.get(self._name, "slow")
        if slow is not None:
            await asyncio.sleep(slow.delay_s)
        await super().indication(apdu)


def _cov_increment(point: Point) -> float:
    if not DATA_TYPES[point.type].is_float:
        return abs(point.scale)
    low, high = point.range or (0.0, 1000.0)
    return max((high - low) / 1000.0, 1e-6)


def _free_udp_port(host: str, port: int) -> int:
    """``port`` if free (0: a free one); OSError if another socket holds it.

    bacpypes3 binds with SO_REUSEPORT and retries forever on failure, so a port in
    use would neither fail nor be served: probe it first, without that option.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, port))
        return int(probe.getsockname()[1])


class BacnetDevices:
    """The site's BACnet/IP devices: ``start()`` binds and serves, ``update`` refreshes."""

    def __init__(
        self, inventory: Inventory, bacnet_plan: BacnetPlan, faults: Faults, on_write: WriteHandler
    ) -> None:
        self.inventory = inventory
        self.plan = bacnet_plan
        self.faults = faults
        self.on_write = on_write
        self.devices = served(inventory)
        self.layouts = {
            e: objects_of(inventory.profiles[e]) for e in {d.equipment for d in self.devices}
        }
        self.ports: dict[str, int] = {}
        self.apps: dict[str, _Device] = {}
        #: per equipment type: [object][row] → the bacpypes3 object (None: not served)
        self.objects: dict[str, list[list[Any]]] = {}
        self._reliability: dict[str, str] = {}  # device → reliability it shows

    @property
    def bound(self) -> BacnetPlan:
        """The plan with the ports actually bound (``twin points`` rows of a running sim)."""
        return BacnetPlan(self.plan.host, dict(self.ports), dict(self.plan.instances))

    @property
    def endpoint_rows(self) -> list[dict[str, str]]:
        rows = []
        for device in self.devices:
            if device.name in self.ports:
                rows.append(
                    {
                        "protocol": "bacnet-ip",
                        "endpoint": f"{self.plan.host}:{self.ports[device.name]}",
                        "area": device.area,
                        "devices": f"{device.name} (device {self.plan.instances[device.name]})",
                    }
                )
        return rows

    def _objects(self, device: Device, layout: list[BacnetObject]) -> list[Any]:
        out = []
        for spec in layout:
            point = spec.point
            common = {
                "objectIdentifier": (spec.object_type, spec.instance),
                "objectName": spec.name,
                "description": point.description
                + (f", bit {spec.bit}" if spec.bit is not None else ""),
                "outOfService": False,
                "reliability": "no-fault-detected",
                "eventState": "normal",
            }
            if spec.object_type.startswith("binary"):
                cls = _BinaryInput if spec.object_type == "binary-input" else _BinaryValue
                obj = cls(presentValue="inactive", **common)
            else:
                extra = {
                    "presentValue": Real(0.0),
                    "units": BACNET_UNITS[point.unit][0],
                    "covIncrement": _cov_increment(point),
                }
                if point.range:
                    extra["minPresValue"], extra["maxPresValue"] = point.range
                if spec.commandable:
                    obj = _Setpoint(relinquishDefault=Real(0.0), **extra, **common)
                    obj._twin = (self, device, point)
                elif spec.object_type == "analog-input":
                    obj = _Input(**extra, **common)
                else:
                    obj = _Value(**extra, **common)
            out.append(obj)
        return out

    async def start(self) -> None:
        plan = self.plan
        for equipment, layout in self.layouts.items():
            n = len(self.inventory.bindings[equipment])
            self.objects[equipment] = [[None] * n for _ in layout]
        for device in self.devices:
            port = _free_udp_port(plan.host, plan.ports[device.name])
            profile = self.inventory.profiles[device.equipment]
            device_object = DeviceObject(
                objectIdentifier=("device", plan.instances[device.name]),
                objectName=device.name,
                description=f"{profile.description} ({device.area})",
                vendorIdentifier=VENDOR_ID,
                vendorName="twin",
                modelName=profile.equipment,
                location=device.area,
            )
            network_port = NetworkPortObject(
                f"{plan.host}/24:{port}",
                objectIdentifier=("network-port", 1),
                objectName="NetworkPort-1",
            )
            layout = self.layouts[device.equipment]
            objects = self._objects(device, layout)
            app = _Device.from_object_list([device_object, network_port, *objects])
            app._owner = self
            app._name = device.name
            self.apps[device.name] = app
            self.ports[device.name] = port
            for k, obj in enumerate(objects):
                self.objects[device.equipment][k][device.row] = obj
        await asyncio.sleep(0)  # let the link layers' endpoint tasks bind

    async def stop(self) -> None:
        for app in self.apps.values():
            app.close()
        self.apps.clear()
        await asyncio.sleep(0)

    def update(
        self,
        equipment: str,
        values: dict[str, np.ndarray],
        masks: dict[str, np.ndarray | None],
        registers: dict[str, np.ndarray] | None = None,
    ) -> None:
        """One step's values of one equipment type into its devices' objects."""
        table = self.objects.get(equipment)
        if table is None:
            return
        profile = self.inventory.profiles[equipment]
        garbage = masks.get("garbage")
        shown: dict[str, np.ndarray] = {}
        for spec, row_objects in zip(self.layouts[equipment], table, strict=True):
            point = spec.point
            if point.name not in shown:
                number = quantise(point, point_value(point, values))
                if garbage is not None and registers is not None and garbage.any():
                    words = registers[point.table]
                    for row in np.flatnonzero(garbage):
                        raw = words[row, point.address : point.address + point.registers]
                        number[row] = decode(
                            raw.tolist(), point.type, profile.word_order_of(point), point.scale
                        )
                shown[point.name] = number
            column = shown[point.name]
            for row, obj in enumerate(row_objects):
                if obj is None:
                    continue
                value = float(column[row])
                if spec.bit is not None:
                    state = int(value) >> spec.bit & 1 if np.isfinite(value) else 0
                    obj.presentValue = "active" if state else "inactive"
                elif spec.object_type.startswith("binary"):
                    obj.presentValue = "active" if value else "inactive"
                elif spec.commandable:
                    if np.isfinite(value):
                        obj.relinquishDefault = Real(value)
                        obj.recalculating()
                elif np.isfinite(value):
                    obj.presentValue = Real(value)
        self._faults(equipment, masks)

    def _faults(self, equipment: str, masks: dict[str, np.ndarray | None]) -> None:
        names = self.inventory.row_names[equipment]
        table = self.objects[equipment]
        for row, name in enumerate(names):
            wanted = "no-fault-detected"
            for kind, reliability in RELIABILITY.items():
                mask = masks.get(kind)
                if mask is not None and mask[row]:
                    wanted = reliability
            if self._reliability.get(name, "no-fault-detected") == wanted:
                continue
            self._reliability[name] = wanted
            for row_objects in table:
                obj = row_objects[row]
                if obj is not None:
                    _set_reliability(obj, wanted)


def _set_reliability(obj: Any, reliability: str) -> None:
    """Change an object's reliability and tell its COV watchers its status flags moved."""
    before = obj.statusFlags
    obj.reliability = reliability
    after = obj.statusFlags
    if before != after:
        for monitor in obj._property_monitors["statusFlags"]:
            monitor(before, after)
