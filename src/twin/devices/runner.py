"""Run a site's plant behind its simulated devices: ``setup()`` builds, ``run()`` serves.

The plant steps at a fixed plant-time step (1 s by default), paced by the wall
clock divided by ``speed``. After each step one writer task per datastore (one
per equipment type: its register image and its OPC UA variables) refreshes
every device of that type from the plant's state. Setpoint writes from either
protocol go to the plant's command queue and take effect at the next step.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twin.devices.faults import DeviceFault, Faults, check_faults
from twin.devices.image import Image
from twin.devices.inventory import Device, Inventory, build
from twin.devices.modbus_guard import GatewayLimits
from twin.devices.modbus_server import ModbusGateways
from twin.devices.profiles import Point
from twin.plant.layout import assemble
from twin.plant.model import Plant
from twin.site import Site

log = logging.getLogger(__name__)


@dataclass
class Options:
    """How a simulation is served (``twin sim`` flags map onto these)."""

    host: str = "127.0.0.1"
    modbus_port: int = 5020  # first gateway's port; 0 = any free ports
    opcua_port: int | None = 4840  # None = no OPC UA server; 0 = a free port
    step_s: float = 1.0
    speed: float = 1.0
    state_dir: Path = field(default_factory=lambda: Path(".twin-state"))
    opcua_security: object | None = None  # twin.devices.opcua_security.Security
    modbus_limits: GatewayLimits = field(default_factory=GatewayLimits)
    bacnet_port: int | None = None  # first BACnet/IP device's UDP port; None = no BACnet
    bacnet_instance_base: int = 10000  # device instance of the first BACnet device
    snmp_port: int | None = None  # None = no SNMP agent; 0 = a free port
    snmp_security: object | None = None  # twin.points.snmp.SnmpSecurity


class Simulation:
    """A plant and its devices on the network."""

    def __init__(self, site: Site, options: Options | None = None) -> None:
        self.site = site
        self.options = options or Options()
        self.plant: Plant | None = None
        self.inventory: Inventory | None = None
        self.images: dict[str, Image] = {}
        self.faults = Faults()
        self.modbus: ModbusGateways | None = None
        self.opcua = None
        self.bacnet = None  # twin.devices.bacnet_server.BacnetDevices, if served
        self.snmp = None  # twin.devices.snmp_agent.SnmpAgent, if served
        #: the values each type showed at its last refresh (engineering units)
        self.last_values: dict[str, dict[str, np.ndarray]] = {}
        self.generation = 0
        self._written: dict[str, int] = {}
        self._last_t: dict[str, float] = {}
        self._values: dict[int, tuple[float, dict[str, np.ndarray]]] = {}
        self._tick: asyncio.Condition | None = None
        self._tasks: list[asyncio.Task] = []
        self.paused = False
        self.refresh_seconds = 0.0  # wall time spent refreshing (device layer cost)

    # ------------------------------------------------------------------ build

    def setup(self) -> None:
        layout = assemble(self.site)
        self.plant = Plant(layout)
        # Live gear should look like a plant that has been running, not one whose
        # loops are still settling from the model's initial guesses.
        self.plant.warm_up()
        self.inventory = build(layout)
        for equipment, binding in self.inventory.bindings.items():
            self.images[equipment] = Image(self.inventory.profiles[equipment], len(binding))
        opts = self.options
        self.modbus = ModbusGateways(
            self.inventory.devices,
            self.images,
            self.faults,
            self.write,
            host=opts.host,
            base_port=opts.modbus_port,
            limits=opts.modbus_limits,
            areas=self.inventory.gateways,
        )
        if opts.opcua_port is not None:
            from twin.devices.opcua_server import OpcUaServer

            self.opcua = OpcUaServer(
                self.inventory,
                self.write,
                host=opts.host,
                port=opts.opcua_port,
                state_dir=opts.state_dir,
                security=opts.opcua_security,  # type: ignore[arg-type]
            )
        if opts.bacnet_port is not None:
            from twin.devices.bacnet_layout import plan
            from twin.devices.bacnet_server import BacnetDevices

            bacnet_plan = plan(
                self.inventory, opts.host, opts.bacnet_port, opts.bacnet_instance_base
            )
            self.bacnet = BacnetDevices(self.inventory, bacnet_plan, self.faults, self.write)
        if opts.snmp_port is not None:
            from twin.devices.snmp_agent import agent_for

            self.snmp = agent_for(self, opts.snmp_port, opts.snmp_security)
        self.plant.step(self.options.step_s)
        for equipment in self.images:
            self._compute(equipment)

    # --------------------------------------------------------------- writes

    def write(self, device: Device, point: Point, value: float) -> None:
        """An accepted protocol write: queue it on the plant."""
        assert self.plant is not None and self.inventory is not None
        binding = self.inventory.bindings[device.equipment]
        binding.write(self.plant, device.row, point.source, value)

    def inject(self, fault: DeviceFault) -> None:
        """Put a device fault in force now (its ``at_s`` is ignored)."""
        assert self.inventory is not None
        assert self.plant is not None
        check_faults([fault], self.inventory, Path("<injected>"))
        self.faults.inject(fault, self.plant.t_s)

    # -------------------------------------------------------------- refresh

    def _masks(self, equipment: str) -> dict[str, np.ndarray | None]:
        assert self.inventory is not None
        masks: dict[str, np.ndarray | None] = {}
        for kind in ("frozen", "bad_quality", "garbage", "offline", "exception"):
            if not any(self.faults.has(n, kind) for n in self.faults.active):
                masks[kind] = None
                continue
            names = self.inventory.row_names[equipment]
            masks[kind] = np.array([self.faults.has(n, kind) for n in names])
        return masks

    async def _refresh(self, equipment: str) -> None:
        """Refresh one datastore (image + OPC UA variables) from the plant."""
        started = time.perf_counter()
        values, masks = self._compute(equipment)
        if self.opcua is not None:
            tables = self.images[equipment].tables
            await self.opcua.update(equipment, values, masks, tables)
        if self.bacnet is not None:
            self.bacnet.update(equipment, values, masks, self.images[equipment].tables)
        self.refresh_seconds += time.perf_counter() - started

    def _compute(
        self, equipment: str
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray | None]]:
        """Values of one equipment type from the plant, encoded into its image."""
        assert self.plant is not None and self.inventory is not None
        binding = self.inventory.bindings[equipment]
        t = self.plant.t_s
        dt = t - self._last_t.get(equipment, t - self.options.step_s)
        self._last_t[equipment] = t
        # One computation per binding and step: two datastores may show the same plant
        # component (a vendor's mains meter and IT meter both read the site meter), and
        # a binding's counters must advance once.
        cached = self._values.get(id(binding))
        if cached is not None and cached[0] == t:
            values = cached[1]
        else:
            values = binding.values(self.plant, dt)
            self._values[id(binding)] = (t, values)
        masks = self._masks(equipment)
        frozen = masks["frozen"]
        if frozen is not None and equipment in self.last_values:
            previous = self.last_values[equipment]
            values = {k: np.where(frozen, previous[k], v) for k, v in values.items()}
        faulted = {n for n in self.faults.active if self.faults.sensor_faults(n)}
        if faulted:
            names = self.inventory.row_names[equipment]
            rows = [(name, row) for row, name in enumerate(names) if name in faulted]
            if rows:
                values = dict(values)  # the binding's cache keeps the true values
                for name, row in rows:
                    self.faults.bend(name, row, values, t)
        self.images[equipment].fill(
            values, frozen=frozen, bad=masks["bad_quality"], garbage=masks["garbage"]
        )
        self.last_values[equipment] = values
        if self.snmp is not None:  # its history (seconds on battery, alarms) follows each step
            self.snmp.observe(equipment)
        return values, masks

    # ---------------------------------------------------------------- serve

    async def start(self) -> None:
        """Open the servers and start the writer tasks (the plant is stepped by run())."""
        assert self.modbus is not None
        await self.modbus.start()
        if self.bacnet is not None:
            await self.bacnet.start()
        if self.opcua is not None:
            await self.opcua.start()
        if self.opcua is not None or self.bacnet is not None:
            for equipment in self.images:
                await self._refresh(equipment)
        if self.snmp is not None:
            await self.snmp.start()
        self._tick = asyncio.Condition()
        for equipment in self.images:
            self._written[equipment] = self.generation
            self._tasks.append(asyncio.create_task(self._writer(equipment)))

    async def _writer(self, equipment: str) -> None:
        assert self._tick is not None
        while True:
            async with self._tick:
                await self._tick.wait_for(lambda: self.generation > self._written[equipment])
                generation = self.generation
            try:
                await self._refresh(equipment)
            except Exception:  # one bad refresh must not stop the datastore's writer
                log.exception("refresh of %s failed", equipment)
            self._written[equipment] = generation
            await asyncio.sleep(0)

    async def advance(self) -> None:
        """One plant step; the writer tasks refresh their datastores after it."""
        assert self.plant is not None and self._tick is not None
        self.plant.step(self.options.step_s)
        self.faults.advance(self.plant.t_s)
        async with self._tick:
            self.generation += 1
            self._tick.notify_all()

    async def settled(self, timeout: float = 30.0) -> None:
        """Wait until every writer has refreshed the latest step."""
        deadline = time.monotonic() + timeout
        while any(self._written[e] < self.generation for e in self._written):
            if time.monotonic() > deadline:
                raise TimeoutError("writers did not catch up")
            await asyncio.sleep(0.005)

    async def run(self, duration_s: float | None = None) -> None:
        """Serve until ``duration_s`` of plant time has passed (forever if None)."""
        assert self.plant is not None
        if not self._tasks:
            await self.start()
        period = self.options.step_s / self.options.speed
        start_plant = self.plant.t_s
        next_at = time.monotonic()
        while duration_s is None or self.plant.t_s - start_plant < duration_s - 1e-9:
            next_at += period
            if not self.paused:
                await self.advance()
            delay = next_at - time.monotonic()
            if delay < -5 * period:
                next_at = time.monotonic()  # fell behind: do not try to catch up in a burst
            await asyncio.sleep(max(delay, 0.0))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.modbus is not None:
            await self.modbus.stop()
        if self.opcua is not None:
            await self.opcua.stop()
        if self.bacnet is not None:
            await self.bacnet.stop()
        if self.snmp is not None:
            await self.snmp.stop()

    def endpoints(self) -> list[dict[str, str]]:
        """One row per gateway / server: protocol, address, area, units."""
        assert self.inventory is not None and self.modbus is not None
        rows = []
        for index, area in enumerate(self.inventory.gateways):
            units = [d for d in self.inventory.devices if d.gateway == index]
            port = (
                self.modbus.ports[index] if self.modbus.ports else self.options.modbus_port + index
            )
            rows.append(
                {
                    "protocol": "modbus-tcp",
                    "endpoint": f"{self.options.host}:{port}",
                    "area": area,
                    "devices": f"{len(units)} (unit ids 1-{len(units)})",
                }
            )
        if self.opcua is not None:
            rows.append(
                {
                    "protocol": "opc-ua",
                    "endpoint": self.opcua.endpoint,
                    "area": "all",
                    "devices": str(len(self.inventory.devices)),
                }
            )
        if self.bacnet is not None:
            rows += self.bacnet.endpoint_rows
        if self.snmp is not None:
            rows.append(self.snmp.endpoint_row())
        return rows
