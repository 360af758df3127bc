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

As a gateway (a Modbus TCP to serial gateway in front of its units):

- a unit id the gateway does not have → exception 0B (gateway target device failed
  to respond), so a master tells a missing device from a dead link; unit 0 is the
  broadcast address and gets no reply;
- a malformed frame (protocol id not 0, MBAP length outside 2..254) → the buffered
  bytes are dropped; an unknown function code → exception 01; a known one whose
  body does not decode → exception 03; each logged once per peer and kind a minute
  (:class:`~twin.devices.modbus_guard.RateLimitedLog`), never a traceback;
- connections idle longer than the idle timeout are closed, and a connection over
  the cap closes the one idle longest (:class:`~twin.devices.modbus_guard.GatewayLimits`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
from collections.abc import Callable

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.datastore.context import ModbusBaseDeviceContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.transaction import TransactionManager

from twin.devices.faults import Faults
from twin.devices.image import Image
from twin.devices.inventory import Device
from twin.devices.modbus_guard import Connections, GatewayLimits, RateLimitedLog
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


#: Set while a connection hands a peer's bytes to pymodbus: what pymodbus logs then is
#: about that peer's frame, which the connection reports itself (rate-limited).
_HANDLING: contextvars.ContextVar[bool] = contextvars.ContextVar("handling", default=False)


class _QuietWhileHandling(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _HANDLING.get()


_PYMODBUS_LOG = logging.getLogger("pymodbus.logging")
_QUIET = _QuietWhileHandling()

MBAP_MAX_LENGTH = 254  # unit id + the largest PDU (253 bytes), Modbus TCP spec §4.1
MAX_PENDING = 64  # requests of one connection waiting for their reply


def mbap_problem(data: bytes) -> str | None:
    """Why a buffer cannot start with a Modbus TCP frame, or None if it may."""
    if len(data) < 6:
        return None  # wait for the header
    protocol = int.from_bytes(data[2:4], "big")
    length = int.from_bytes(data[4:6], "big")
    if protocol != 0:
        return f"protocol id {protocol}, not 0 (Modbus)"
    if not 2 <= length <= MBAP_MAX_LENGTH:
        return f"MBAP length {length}, outside 2..{MBAP_MAX_LENGTH}"
    return None


class _GatewayConnection(ServerRequestHandler):
    """One master's connection to a gateway: framing checks, 0B replies, activity.

    Every complete frame in what arrived is taken (pymodbus takes one per read and
    leaves pipelined requests waiting); requests are answered in order by one task
    per connection, at most :data:`MAX_PENDING` waiting.
    """

    def __init__(self, server: _GatewayServer) -> None:
        super().__init__(server, server.trace_packet, server.trace_pdu, server.trace_connect)
        self.gateway: _GatewayServer = server
        self.peer = "?"
        self._pending: collections.deque[ModbusPDU] = collections.deque()
        self._worker: asyncio.Task | None = None

    def callback_connected(self) -> None:
        super().callback_connected()
        peer = self.transport.get_extra_info("peername") if self.transport else None
        self.peer = str(peer[0]) if peer else "?"  # per host: a reconnecting peer is one peer
        self.gateway.owner.opened(self.gateway, self)

    def callback_disconnected(self, exc: Exception | None) -> None:
        super().callback_disconnected(exc)
        self.gateway.owner.closed(self.gateway, self)
        self._stop_worker()

    def close(self, reconnect: bool = False) -> None:
        super().close(reconnect)
        self._stop_worker()

    def _stop_worker(self) -> None:
        self._pending.clear()
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None

    def send(self, data: bytes, addr: tuple | None = None) -> None:
        # pymodbus' send also empties the receive buffer, losing a request that
        # arrived while this one was served
        if self.transport:
            self.transport.write(data)  # type: ignore[attr-defined]

    def callback_data(self, data: bytes, addr: tuple | None = None) -> int:
        taken = 0
        while len(data) - taken >= 6:
            frame = data[taken:]
            problem = mbap_problem(frame)
            if problem is not None:  # framing is lost: drop what is buffered
                self.gateway.owner.report(self, "malformed frame", problem)
                return len(data)
            used = self._one_frame(frame, addr)
            if not used:
                break  # the rest of the frame is still on its way
            taken += used
        return taken

    def _one_frame(self, frame: bytes, addr: tuple | None) -> int:
        token = _HANDLING.set(True)
        try:
            used = TransactionManager.callback_data(self, frame, addr)
        except Exception as error:  # a complete frame whose PDU does not decode
            self._refuse(frame, error)
            return 6 + int.from_bytes(frame[4:6], "big")
        finally:
            _HANDLING.reset(token)
        request = self.last_pdu
        if request is not None:
            self.gateway.owner.active(self.gateway, self)
            if len(self._pending) >= MAX_PENDING:
                self.gateway.owner.report(self, "request flood", "requests sent unread")
            else:
                self._pending.append(request)
                if self._worker is None or self._worker.done():
                    self._worker = self.loop.create_task(self._serve())
        return used

    def _refuse(self, frame: bytes, error: Exception) -> None:
        """Exception 01 for an unknown function code, 03 for a body that does not decode."""
        function = frame[7]
        known = function in self.framer.decoder.pdu_table
        code = ExcCodes.ILLEGAL_VALUE if known else ExcCodes.ILLEGAL_FUNCTION
        detail = f"function {function}" + (f": {type(error).__name__}: {error}" if known else "")
        self.gateway.owner.report(self, "undecodable request", detail)
        reply = ExceptionResponse(function & 0x7F, code)
        reply.transaction_id = int.from_bytes(frame[0:2], "big")
        reply.dev_id = frame[6]
        self.server_send(reply, None)

    async def _serve(self) -> None:
        while self._pending:
            request = self._pending.popleft()
            response = await self._answer(request)
            if response is not None and self.transport:
                response.transaction_id = request.transaction_id
                response.dev_id = request.dev_id
                self.server_send(response, None)

    async def handle_request(self) -> None:  # pymodbus' entry point: not used here
        raise NotImplementedError

    async def _answer(self, request: ModbusPDU) -> ModbusPDU | None:
        unit = request.dev_id
        context = self.gateway.context
        if isinstance(request, ExceptionResponse):  # function code >= 0x80 is no request
            return ExceptionResponse(request.function_code, ExcCodes.ILLEGAL_FUNCTION)
        if unit not in context:
            if unit == 0:
                return None  # broadcast: Modbus says no reply
            return ExceptionResponse(request.function_code, ExcCodes.GATEWAY_NO_RESPONSE)
        try:
            device = context[unit]
        except NoSuchIdException:
            return None  # an offline fault: the unit behind the gateway is silent
        try:
            return await request.update_datastore(device)
        except Exception as error:
            detail = f"function {request.function_code}: {type(error).__name__}: {error}"
            self.gateway.owner.report(self, "failed request", detail)
            return ExceptionResponse(request.function_code, ExcCodes.DEVICE_FAILURE)


class _GatewayServer(ModbusTcpServer):
    def __init__(
        self, context: GatewayContext, address: tuple[str, int], owner: ModbusGateways, name: str
    ) -> None:
        super().__init__(context, address=address)
        self.owner = owner
        self.name = name
        self.units = len(context._devices)

    def callback_new_connection(self) -> _GatewayConnection:
        return _GatewayConnection(self)


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
        limits: GatewayLimits | None = None,
        areas: list[str] | None = None,
    ) -> None:
        self.devices = devices
        self.images = images
        self.faults = faults
        self.on_write = on_write
        self.host = host
        self.base_port = base_port
        self.limits = limits or GatewayLimits()
        self.areas = areas or []
        self.servers: list[_GatewayServer] = []
        self.ports: list[int] = []
        self.connections = Connections()
        self.problems = RateLimitedLog(window_s=self.limits.log_window_s)
        self._sweeper: asyncio.Task | None = None

    def setup(self) -> None:
        gateways: dict[int, dict[int, DeviceContext]] = {}
        for device in self.devices:
            context = DeviceContext(
                device, self.images[device.equipment], self.faults, self.on_write
            )
            gateways.setdefault(device.gateway, {})[device.unit_id] = context
        for index in sorted(gateways):
            port = self.base_port + index if self.base_port else 0
            area = self.areas[index] if index < len(self.areas) else f"gateway {index}"
            server = _GatewayServer(
                GatewayContext(gateways[index], self.faults), (self.host, port), self, area
            )
            self.servers.append(server)

    async def start(self) -> None:
        if not self.servers:
            self.setup()  # pymodbus servers are built inside the running loop
        if _QUIET not in _PYMODBUS_LOG.filters:
            _PYMODBUS_LOG.addFilter(_QUIET)
        for server in self.servers:
            await server.serve_forever(background=True)
            sockets = server.transport.sockets  # type: ignore[union-attr]
            self.ports.append(int(sockets[0].getsockname()[1]))
            server.name = f"Modbus gateway {server.name} ({self.host}:{self.ports[-1]})"
        self._sweeper = asyncio.create_task(self._sweep(), name="modbus gateway sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        for server in self.servers:
            await server.shutdown()
        self.problems.flush()

    # ------------------------------------------------- connections, problems

    def opened(self, server: _GatewayServer, connection: _GatewayConnection) -> None:
        cap = self.limits.per_gateway(server.units)
        for victim in self.connections.opened(id(server), connection, cap):
            log.info("%s: closing the connection idle longest to admit a new one", server.name)
            victim.close()  # type: ignore[attr-defined]

    def active(self, server: _GatewayServer, connection: _GatewayConnection) -> None:
        self.connections.active(id(server), connection)

    def closed(self, server: _GatewayServer, connection: _GatewayConnection) -> None:
        self.connections.closed(id(server), connection)

    def report(self, connection: _GatewayConnection, kind: str, detail: str) -> None:
        self.problems.report(connection.gateway.name, connection.peer, kind, detail)

    async def _sweep(self) -> None:
        """Close idle connections, write the counts of rate-limited problems."""
        timeout = self.limits.idle_timeout_s
        period = min(5.0, timeout / 4) if timeout > 0 else 5.0
        while True:
            await asyncio.sleep(period)
            for connection in self.connections.idle(timeout):
                with contextlib.suppress(Exception):  # the sweep must outlive any one close
                    connection.close()  # type: ignore[attr-defined]
            self.problems.sweep()
