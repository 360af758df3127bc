"""Modbus TCP gateways in front of the simulated devices (pymodbus 3.10/3.11).

One :class:`pymodbus.server.ModbusTcpServer` per gateway (an area of the site),
one unit id per device. Each device's context answers from its equipment type's
:class:`twin.devices.image.Image` row, so a refresh of the plant's values is one
vectorised fill per type and a read is one slice.

Replies, as the profile says:

- read or write of an address outside the device's map → exception 02;
- write to a read-only register → the profile's ``read_only_exception`` (01 or 02);
- write covering part of a 32/64-bit value → exception 02;
- setpoint outside ``[min, max]`` → exception 03, nothing changes;
- accepted setpoint → stored, and queued on the plant's command queue.

Device faults (:mod:`twin.devices.faults`) act per request: offline units are
silent, slow ones answer late, failing ones answer with an exception code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.datastore.context import ModbusBaseDeviceContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer

from twin.devices.faults import Faults
from twin.devices.image import Image
from twin.devices.inventory import Device
from twin.devices.profiles import Point, Profile
from twin.points.codec import decode

log = logging.getLogger(__name__)

#: Modbus function code → table it addresses.
TABLE_OF_FUNCTION = {1: "coil", 5: "coil", 15: "coil", 2: "discrete", 4: "input"}
TABLE_OF_FUNCTION.update({fc: "holding" for fc in (3, 6, 16, 22, 23)})

#: Called with (device, point, engineering value) for an accepted write.
WriteHandler = Callable[[Device, Point, float], None]


class DeviceContext(ModbusBaseDeviceContext):
    """One unit id: a device's row of its type's image, with its profile's rules."""

    def __init__(self, device: Device, image: Image, faults: Faults, on_write: WriteHandler):
        self.device = device
        self.image = image
        self.profile: Profile = image.profile
        self.faults = faults
        self.on_write = on_write

    def reset(self) -> None:  # required by the interface; the plant owns the values
        pass

    async def _fault(self) -> ExcCodes | None:
        name = self.device.name
        slow = self.faults.get(name, "slow")
        if slow is not None:
            await asyncio.sleep(slow.delay_s)
        failing = self.faults.get(name, "exception")
        if failing is not None:
            return ExcCodes(failing.code)
        return None

    def _table(self, func_code: int, address: int, count: int) -> str | ExcCodes:
        table = TABLE_OF_FUNCTION.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        mapped = self.image.mapped[table]
        if count < 1 or address < 0 or address + count > len(mapped):
            return ExcCodes.ILLEGAL_ADDRESS
        if not mapped[address : address + count].all():
            return ExcCodes.ILLEGAL_ADDRESS
        return table

    async def async_getValues(
        self, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        failure = await self._fault()
        if failure is not None:
            return failure
        table = self._table(func_code, address, count)
        if isinstance(table, ExcCodes):
            return table
        return self.image.tables[table][self.device.row, address : address + count].tolist()

    def getValues(self, func_code: int, address: int, count: int = 1) -> list[int] | ExcCodes:
        table = self._table(func_code, address, count)
        if isinstance(table, ExcCodes):
            return table
        return self.image.tables[table][self.device.row, address : address + count].tolist()

    async def async_setValues(
        self, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        failure = await self._fault()
        if failure is not None:
            return failure
        return self.setValues(func_code, address, values)

    def setValues(
        self, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        table = self._table(func_code, address, len(values))
        if isinstance(table, ExcCodes):
            return table
        starts = self.image.points_at[table]
        owner = self._owners(table)
        end = address + len(values)
        accepted: list[tuple[Point, float, list[int]]] = []
        at = address
        while at < end:
            point = starts.get(at)
            if point is None:
                owning = owner.get(at)
                if owning is not None and not owning.writable:
                    return ExcCodes(self.profile.read_only_exception)
                return ExcCodes.ILLEGAL_ADDRESS  # reserved, or the middle of a value
            if not point.writable:
                return ExcCodes(self.profile.read_only_exception)
            if at + point.registers > end:
                return ExcCodes.ILLEGAL_ADDRESS  # part of a 32/64-bit value
            raw = [int(v) for v in values[at - address : at - address + point.registers]]
            value = decode(raw, point.type, self.profile.word_order_of(point), point.scale)
            limited = point.min is not None and point.max is not None
            if limited and not point.min <= value <= point.max:  # type: ignore[operator]
                return ExcCodes.ILLEGAL_VALUE  # NaN fails too
            accepted.append((point, value, raw))
            at += point.registers
        row = self.device.row
        for point, value, raw in accepted:
            self.image.tables[table][row, point.address : point.address + point.registers] = raw
            log.info("%s: %s := %s (Modbus write)", self.device.name, point.name, value)
            self.on_write(self.device, point, value)
        return None

    def _owners(self, table: str) -> dict[int, Point]:
        owners: dict[int, Point] = {}
        for point in self.profile.points:
            if point.table == table:
                for offset in range(point.registers):
                    owners[point.address + offset] = point
        return owners


class GatewayContext(ModbusServerContext):
    """The unit ids of one gateway; offline devices are absent (silent)."""

    def __init__(self, units: dict[int, DeviceContext], faults: Faults) -> None:
        super().__init__(devices=units, single=False)
        self.faults = faults

    def __getitem__(self, device_id: int) -> DeviceContext:
        context = super().__getitem__(device_id)
        if self.faults.has(context.device.name, "offline"):
            raise NoSuchIdException(f"unit {device_id} ({context.device.name}) is offline")
        return context


class ModbusGateways:
    """The Modbus TCP servers of a site: ``setup()`` builds, ``start()`` serves."""

    def __init__(
        self,
        devices: list[Device],
        images: dict[str, Image],
        faults: Faults,
        on_write: WriteHandler,
        host: str = "127.0.0.1",
        base_port: int = 5020,
    ) -> None:
        self.devices = devices
        self.images = images
        self.faults = faults
        self.on_write = on_write
        self.host = host
        self.base_port = base_port
        self.servers: list[ModbusTcpServer] = []
        self.ports: list[int] = []

    def setup(self) -> None:
        gateways: dict[int, dict[int, DeviceContext]] = {}
        for device in self.devices:
            context = DeviceContext(
                device, self.images[device.equipment], self.faults, self.on_write
            )
            gateways.setdefault(device.gateway, {})[device.unit_id] = context
        for index in sorted(gateways):
            port = self.base_port + index if self.base_port else 0
            server = ModbusTcpServer(
                GatewayContext(gateways[index], self.faults),
                address=(self.host, port),
                ignore_missing_devices=True,
            )
            self.servers.append(server)

    async def start(self) -> None:
        if not self.servers:
            self.setup()  # pymodbus servers are built inside the running loop
        for server in self.servers:
            await server.serve_forever(background=True)
            sockets = server.transport.sockets  # type: ignore[union-attr]
            self.ports.append(int(sockets[0].getsockname()[1]))

    async def stop(self) -> None:
        for server in self.servers:
            await server.shutdown()
