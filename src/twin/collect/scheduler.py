"""The collector: every device of a registry polled concurrently on its own clock.

One task per Modbus device (one client, one request in flight) and one per OPC UA
server (subscriptions, or polling as a fallback). A device's next poll time is
fixed *before* its current poll runs (``next += interval``), so the schedule
does not drift with the poll's own duration; a poll that overruns skips the
slots it missed instead of bursting to catch up. A dead device waits out its
backoff inside its own task and never delays the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field

from twin.collect.modbus import Link, ModbusDevice, ModbusOptions
from twin.collect.receiver import Receiver
from twin.points.protocols import protocol_of
from twin.points.registry import PointDef, Registry

log = logging.getLogger(__name__)


@dataclass
class CollectorOptions:
    interval_s: float = 1.0
    modbus: ModbusOptions = field(default_factory=ModbusOptions)
    #: protocol, or protocols in order, for rows with several addressings
    #: (twin.points.protocols.protocol_of)
    prefer: str | tuple[str, ...] = "modbus"
    opcua: object | None = None  # twin.collect.opcua.OpcUaOptions
    bacnet: object | None = None  # twin.collect.bacnet.BacnetOptions
    #: start-up window in which a late poll is not counted as a missed cycle: every
    #: device connects and is read at once then, which no steady schedule repeats
    warm_up_s: float = 30.0
    snmp: object | None = None  # twin.collect.snmp.SnmpOptions


class Collector:
    """Polls a registry's devices into a :class:`~twin.collect.receiver.Receiver`."""

    def __init__(
        self, registry: Registry, state: Receiver, options: CollectorOptions | None = None
    ) -> None:
        self.registry = registry
        self.state = state
        self.options = options or CollectorOptions()
        modbus_points: dict[tuple, list[PointDef]] = {}
        opcua_points: list[PointDef] = []
        bacnet_points: dict[tuple, list[PointDef]] = {}
        snmp_points: list[PointDef] = []
        default_endpoint = str(getattr(self.options.opcua, "endpoint", "") or "")
        for point in registry.points:
            protocol = protocol_of(point, self.options.prefer, default_endpoint)
            if protocol == "bacnet":
                key = (point.bacnet_address, point.bacnet_device)
                bacnet_points.setdefault(key, []).append(point)
            elif protocol == "snmp":
                snmp_points.append(point)
            elif protocol == "opcua":
                opcua_points.append(point)
            else:
                modbus_points.setdefault(point.device_key, []).append(point)
        links: dict[tuple, Link] = {}  # one per serial port / RTU gateway, shared by its units
        self.devices = [
            ModbusDevice(
                pts,
                self.options.modbus,
                link=None if key[0] == "tcp" else links.setdefault(key[:3], Link()),
                interval_s=self.options.interval_s,
            )
            for key, pts in modbus_points.items()
        ]
        self.opcua_points = opcua_points
        self.snmp_agents: list = []  # twin.collect.snmp.SnmpAgentPoller, polled like devices
        if snmp_points:
            from twin.collect.snmp import SnmpOptions, pollers

            snmp_options = self.options.snmp or SnmpOptions()
            assert isinstance(snmp_options, SnmpOptions)
            self.snmp_agents = pollers(snmp_points, snmp_options, self.options.interval_s)
        self.opcua_clients: list = []
        self.bacnet_points = bacnet_points
        self.bacnet_devices: list = []  # twin.collect.bacnet.BacnetDevice, once started
        self.bacnet_client = None
        self.lateness: deque[float] = deque(maxlen=100_000)  # poll start - scheduled start, s
        self.overruns = 0
        self._tasks: list[asyncio.Task] = []
        self._stopping = False

    def interval_of(self, device: ModbusDevice) -> float:  # or an SNMP agent poller
        return device.points[0].interval_s or self.options.interval_s

    async def _device_loop(self, device: ModbusDevice) -> None:  # or a BacnetDevice
        interval = self.interval_of(device)
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        counted_from = next_at + self.options.warm_up_s
        previous_start: float | None = None
        while not self._stopping:
            scheduled = next_at
            next_at += interval  # fixed before this poll runs: no drift
            now = loop.time()
            self.lateness.append(now - scheduled)
            device.stats.poll_starts.append(time.monotonic())
            late = previous_start is not None and now - previous_start > 1.5 * interval
            if late and now > counted_from:
                device.stats.missed_cycles += 1
            previous_start = now
            try:
                await device.poll(self.state.update)
            except Exception:  # a bug in one device's handling must not stop the others
                log.exception("poll of %s failed", device.name)
            device.stats.last_poll_s = loop.time() - previous_start
            now = loop.time()
            if now > next_at and interval <= 0:
                next_at = now  # back to back (benchmarks)
            elif now > next_at:
                missed = int((now - next_at) // interval) + 1
                self.overruns += missed
                device.stats.skipped_slots += missed
                next_at += missed * interval
            await asyncio.sleep(next_at - loop.time())

    def stall(self, seconds: float) -> None:
        """Test hook: block the collector's event loop for ``seconds``.

        What a long GC pause, a swapped-out process or a blocking call in a callback
        does to a real collector; must be called on the collector's loop.
        """
        asyncio.get_running_loop().call_soon(time.sleep, seconds)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for device in [*self.devices, *self.snmp_agents]:
            self._tasks.append(loop.create_task(self._device_loop(device), name=device.name))
        if self.opcua_points:
            from twin.collect.opcua import OpcUaOptions, start_opcua

            options = self.options.opcua or OpcUaOptions()
            assert isinstance(options, OpcUaOptions)
            self.opcua_clients = await start_opcua(
                self.opcua_points, self.state, options, self.options.interval_s
            )
            self._tasks += [c.task for c in self.opcua_clients if c.task is not None]
        if self.bacnet_points:
            await self._start_bacnet()

    async def _start_bacnet(self) -> None:
        from twin.collect.bacnet import BacnetClient, BacnetDevice, BacnetOptions

        options = self.options.bacnet or BacnetOptions()
        assert isinstance(options, BacnetOptions)
        self.bacnet_client = BacnetClient(options)
        await self.bacnet_client.start()
        loop = asyncio.get_running_loop()
        for points in self.bacnet_points.values():
            device = BacnetDevice(points, self.bacnet_client, options, self.options.interval_s)
            device.receiver = self.state  # COV: a live subscription holds its points
            self.bacnet_devices.append(device)
            task = loop.create_task(self._device_loop(device), name=device.name)  # type: ignore[arg-type]
            self._tasks.append(task)

    async def stop(self) -> None:
        # pymodbus turns a cancellation inside a request into ModbusIOException; the
        # flag ends a loop whose cancellation was swallowed that way.
        self._stopping = True
        pending = [t for t in self._tasks if not t.done()]
        while pending:
            for task in pending:
                task.cancel()
            _, still = await asyncio.wait(pending, timeout=1.0)
            pending = list(still)
        self._tasks.clear()
        for device in self.devices:
            device.close()
        for client in self.opcua_clients:
            await client.close()
        for bacnet in self.bacnet_devices:
            bacnet.close()
        if self.bacnet_client is not None:
            self.bacnet_client.close()
        if self.snmp_agents:
            from twin.collect.snmp import close

            await close(self.snmp_agents)

    async def run(self, duration_s: float | None = None) -> None:
        await self.start()
        try:
            if duration_s is None:
                await asyncio.Event().wait()
            else:
                await asyncio.sleep(duration_s)
        finally:
            await self.stop()

    @property
    def pollers(self) -> list:
        """Everything polled on its own clock: Modbus devices, BACnet devices, SNMP agents.

        Each has ``name`` and ``stats`` (missed cycles, poll starts), so a summary or a
        soak counts them alike whatever the protocol.
        """
        return [*self.devices, *self.bacnet_devices, *self.snmp_agents]

    def read_with(self) -> dict[str, list[str]]:
        """The devices each protocol reads: ``{"modbus": [...], "opcua": [...], ...}``.

        Modbus and OPC UA always (empty lists where none); BACnet and SNMP where used.
        """
        modbus = {p.device for d in self.devices for p in d.points}
        read = {"modbus": sorted(modbus), "opcua": sorted({p.device for p in self.opcua_points})}
        bacnet = {p.device for points in self.bacnet_points.values() for p in points}
        if bacnet:
            read["bacnet"] = sorted(bacnet)
        snmp = {p.device for agent in self.snmp_agents for p in agent.points}
        if snmp:
            read["snmp"] = sorted(snmp)
        return read

    def device(self, name: str) -> ModbusDevice:
        for device in self.devices:
            if device.name == name:
                return device
        raise KeyError(name)

    async def write(self, point_name: str, value: float) -> None:
        """A setpoint write through the device's own client (range-checked, logged)."""
        point = self.registry.by_name[point_name]
        for bacnet in self.bacnet_devices:
            if point in bacnet.points:
                await bacnet.write(point, value)
                return
        for device in self.devices:
            if device.key == point.device_key:
                await device.write(point, value)
                return
        raise KeyError(f"{point_name} is not a Modbus point of this collector")
