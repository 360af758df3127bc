"""A simulated site composed with its collector, and the dashboard's sources on it.

Part of the composition root (docs/architecture.md §1) beside :mod:`twin.app`: it imports the
devices, the collector and the live layer, which the dashboard itself never does.

- :class:`SiteRuntime`: a simulated site in its own process and a collector reading
  it over loopback Modbus TCP, on an event loop in a background thread
  (``twin run``, ``twin dashboard``).
  The dashboard reads the collector's :class:`~twin.live.state.LiveState`; a setpoint
  goes through the collector's protocol write; scenario events and device faults go
  to the simulation's own loop.
- :func:`frozen_source`: a deterministic state for snapshot tests: a site's plant
  stepped a fixed number of times in-process, its device values (as the devices'
  bindings publish them, rounded to float32 like the wire) written into a LiveState
  at fixed times, with a frozen clock; the site metrics and the alarm engine are
  updated at those times. No sockets, no wall clock.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
import tomllib
from collections.abc import Awaitable, Coroutine
from concurrent.futures import Future
from multiprocessing import resource_tracker
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from twin.collect.scheduler import Collector, CollectorOptions
from twin.devices.faults import DeviceFault
from twin.devices.process import SimulationFailed, SimulationProcess
from twin.live.alarms import AlarmEngine, load_rules
from twin.live.metrics import SiteMetrics
from twin.live.state import LiveState
from twin.paths import data_path
from twin.points.registry import Registry, parse_registry
from twin.site import alarm_rules_path, load_site
from twin.tui.model import FrozenClock, LiveSource
from twin.tui.records import ScenarioInfo

if TYPE_CHECKING:
    from twin.devices.runner import Simulation

T = TypeVar("T")


def registry_of(sim: Simulation, host: str, ports: list[int]) -> Registry:
    """The collector's registry of a simulation's devices (as ``twin points`` writes it)."""
    from twin.devices.registry import rows, write_csv

    assert sim.inventory is not None
    out = io.StringIO()
    write_csv(rows(sim.inventory, host, ports), out)
    return parse_registry(out.getvalue(), Path(f"<{sim.site.name}>"))


class SiteRuntime:
    """A simulated site, in its own process, and its collector on a background loop.

    The plant and its devices run in a child process
    (:class:`~twin.devices.process.SimulationProcess`); only the collector runs
    here, reading them over loopback Modbus TCP: the arrangement of ``twin run`` and
    ``twin dashboard``, and the one that holds its poll cycles at 100 MW.
    """

    def __init__(
        self,
        site: str,
        speed: float = 1.0,
        interval_s: float = 1.0,
        scenario: Path | None = None,
        log_file: Path | None = None,
        opcua_port: int | None = None,
        protocols: tuple[str, ...] = ("modbus",),
    ) -> None:
        self.site = load_site(site)
        #: what the collector reads, in order of preference (twin.points.protocols);
        #: the gear serves Modbus always, and each other protocol named here too
        self.protocols = protocols
        # The child is spawned from a start-up thread while a dashboard may already own
        # the terminal: Textual swaps sys.stderr for one without a file descriptor,
        # which multiprocessing's resource tracker would hand its own child. Started
        # here, on the caller's thread, it is running before any screen is drawn.
        resource_tracker.ensure_running()
        self.process = SimulationProcess(
            site,
            speed=speed,
            scenario=scenario,
            log_file=log_file,
            opcua_port=0 if opcua_port is None and "opcua" in protocols else opcua_port,
            bacnet_port=0 if "bacnet" in protocols else None,
            snmp_port=0 if "snmp" in protocols else None,
        )
        # Called on the report receiver thread after every plant step with a
        # StepReport (twin run measures its latency with it).
        self.after_step = self.process.after_step
        self.interval_s = interval_s
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="site")
        self.collector: Collector | None = None
        self.state: LiveState | None = None
        self.started_at = time.monotonic()
        self.phase = "not started"
        self._stopped = False

    @property
    def plant_t_s(self) -> float:
        """Plant time of the latest step [s]."""
        return self.process.plant_t_s

    def call(self, awaitable: Awaitable[T], timeout: float = 120.0) -> T:
        future: Future = asyncio.run_coroutine_threadsafe(awaitable, self.loop)  # type: ignore[arg-type]
        return future.result(timeout)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def start(self, timeout: float = 60.0) -> SiteRuntime:
        """Serve the devices, start polling, return once every point has been read.

        Read means answered, good or bad: a scenario may have made a value
        unavailable (NaN on the wire) before its first poll, and the dashboard
        shows such a point as bad rather than never starting.
        """
        self.begin()
        self.wait_read(timeout)
        return self

    def begin(self) -> SiteRuntime:
        """Serve the devices and start polling; return once the collector polls.

        The slow part of a start (building the plant and its gear in the child) is
        here; :meth:`progress` says where it is from any thread, so a dashboard can
        draw at once and show it.
        """
        self.started_at = time.monotonic()
        self.phase = "building the plant and serving its devices"
        text = self.process.start()
        if self._stopped:  # stopped while the child was starting (the operator quit)
            raise SimulationFailed("stopped during start-up")
        registry = parse_registry(text, Path(f"<{self.process.site_name}>"))
        self.phase = "starting the collector"
        self.thread.start()

        async def go() -> None:
            self.state = LiveState(registry, interval_s=self.interval_s, stale_after=3.0)
            self.collector = Collector(registry, self.state, self._collector_options())
            await self.collector.start()
            self.process.go()

        self.call(go())
        self.phase = "reading every point"
        return self

    def _collector_options(self) -> CollectorOptions:
        options = CollectorOptions(interval_s=self.interval_s, prefer=self.protocols)
        if "opcua" in self.protocols:  # the rows name nodes; the child says on which server
            from twin.collect.opcua import OpcUaOptions

            options.opcua = OpcUaOptions(endpoint=self.process.opcua_endpoint or "")
        if "snmp" in self.protocols:  # the same environment as the child's agent
            from twin.collect.snmp import SnmpOptions
            from twin.points.snmp import load_security

            options.snmp = SnmpOptions(security=load_security())
        return options

    def wait_read(self, timeout: float = 60.0) -> None:
        """Wait until every point has been answered once (good or bad)."""
        deadline = time.monotonic() + timeout
        assert self.state is not None
        while ((self.state.good_ts == 0) & (self.state.bad_ts == 0)).any():
            if time.monotonic() > deadline:
                read = (self.state.good_ts > 0) | (self.state.bad_ts > 0)
                unread = [p.name for p in self.state.points if not read[p.index]]
                raise TimeoutError(
                    f"the collector had not read {len(unread)} of {len(self.state.points)} "
                    f"points {timeout:.0f} s after start (first: {', '.join(unread[:3])})"
                )
            if not self.process.alive:
                raise SimulationFailed(self.process.failure or "the simulation process exited")
            time.sleep(0.05)
        self.phase = "running"

    def progress(self) -> tuple[str, ...]:
        """Start-up progress, one line per stage: what runs now and what is done."""
        elapsed = time.monotonic() - self.started_at
        lines = [f"site {self.site.name} · {elapsed:.0f} s since start · {self.phase}"]
        state = self.state
        if state is None:
            lines.append("plant and gateways: being built in the simulation process")
            return tuple(lines)
        points = state.points
        gateways = {(p.host, p.port) for p in points if p.modbus}
        lines.append(f"plant built · gateways bound {len(gateways)}/{len(gateways)}")
        read = (state.good_ts > 0) | (state.bad_ts > 0)
        devices = {p.device for p in points}
        answered = {points[i].device for i in np.flatnonzero(read)}
        lines.append(
            f"points answered {int(read.sum()):,}/{len(points):,} · "
            f"devices answering {len(answered):,}/{len(devices):,}"
        )
        return tuple(lines)

    def started(self) -> bool:
        """Every point answered once (start-up is over)."""
        state = self.state
        return state is not None and bool(((state.good_ts > 0) | (state.bad_ts > 0)).all())

    def stop(self) -> None:
        self._stopped = True
        try:
            if self.thread.is_alive() and self.collector is not None:
                self.call(self.collector.stop(), timeout=30)
        finally:
            if self.thread.is_alive():
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(timeout=30)
            self.loop.close()
            self.process.stop()

    def __enter__(self) -> SiteRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ the source

    async def _write(self, point: str, value: float) -> None:
        """Runs on the app's loop; the protocol write runs on the site's loop."""
        assert self.collector is not None
        await asyncio.wrap_future(self.submit(self.collector.write(point, value)))

    def start_event(self, kind: str) -> str:
        self.process.start_event(kind)
        return f"{kind.replace('_', ' ')} started"

    def scenarios(self) -> list[ScenarioInfo]:
        """Every shipped scenario (``sim/scenarios/**``), by the name ``--scenario`` takes."""
        folder = data_path("sim", "scenarios")
        out = []
        for path in sorted(folder.rglob("*.toml")):
            try:
                description = str(tomllib.loads(path.read_text()).get("description", ""))
            except (OSError, tomllib.TOMLDecodeError):
                description = "(unreadable: starting it says why)"
            out.append(
                ScenarioInfo(path.relative_to(folder).with_suffix("").as_posix(), description)
            )
        return out

    def start_scenario(self, name: str) -> str:
        """Run a scenario's timeline from now, checked here first against this site's devices."""
        # Read here with tomllib, not the plant's scenario model: the reading side does
        # not import the plant (its fluid tables take seconds to load); the child
        # validates the events and logs what it refuses.
        path = data_path("sim", "scenarios") / f"{name}.toml"
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ValueError(f"{path}: {error}") from error
        assert self.state is not None
        devices = {p.device for p in self.state.points}
        named = [e.get("target") for e in data.get("events", [])]
        named += [f.get("device") for f in data.get("device_faults", [])]
        missing = sorted({d for d in named if isinstance(d, str) and d not in devices})
        if missing:
            raise ValueError(f"scenario {name} names devices this site lacks: {', '.join(missing)}")
        self.process.start_scenario(name)
        return f"scenario {name} started: its first event now"

    def inject_fault(self, device: str, kind: str) -> str:
        fault = DeviceFault(device=device, kind=kind, duration_s=120)  # type: ignore[arg-type]
        assert self.state is not None
        if not any(p.device == device for p in self.state.points):
            raise ValueError(f"no device {device!r} on this site")
        self.process.inject_fault(fault.device, fault.kind, 120.0)
        return f"{kind} fault on {device} for 120 s"

    def _stats(self) -> dict[str, tuple[float | None, int]]:
        out: dict[str, tuple[float | None, int]] = {}
        if self.collector is None:
            return out
        for device in self.collector.pollers:
            s = device.stats
            latency = getattr(s, "latency_ms", None)
            out[device.name] = (latency, s.exceptions + s.timeouts)
        return out

    def source(
        self,
        metrics: SiteMetrics | None = None,
        alarms: AlarmEngine | None = None,
        drive: bool | None = None,
        lock: threading.Lock | threading.RLock | None = None,
    ) -> LiveSource:
        """The dashboard's source over this site's live state.

        Pass the live layer's ``metrics`` and ``alarms`` when something else owns
        them (``twin run``: its sink feeder updates them under ``lock``); otherwise
        they are created here (the site's default rules) and updated every snapshot.
        """
        assert self.state is not None
        if metrics is None and alarms is None:  # the site's own rules (alarm_rules or name)
            metrics = SiteMetrics(self.state, carbon_kg_per_kwh=self.site.grid_carbon_kg_per_kwh)
            path = alarm_rules_path(self.site)
            rules = load_rules(path) if path else []
            alarms = AlarmEngine(rules, self.state, metrics, prefer=self.protocols)
            drive = True if drive is None else drive
        return LiveSource(
            self.state,
            site=self.site.name,
            metrics=metrics,
            alarms=alarms,
            writer=self._write,
            control=self,
            stats=self._stats,
            drive=drive,
            lock=lock,
            carbon_kg_per_kwh=self.site.grid_carbon_kg_per_kwh,
        )


def frozen_source(
    site: str = "aidc-10mw",
    steps: int = 60,
    ring: int = 600,
    events: tuple[str, ...] = ("pump_trip", "utility_loss"),
) -> LiveSource:
    """A deterministic source: ``steps`` plant seconds, values at fixed times, frozen clock."""
    from twin.devices.runner import Options, Simulation
    from twin.plant.scenarios import make_event

    sim = Simulation(load_site(site), Options(modbus_port=0, opcua_port=None))
    sim.setup()
    assert sim.inventory is not None and sim.plant is not None
    registry = registry_of(sim, "127.0.0.1", [5020 + i for i in range(len(sim.inventory.gateways))])
    state = LiveState(registry, interval_s=1.0, stale_after=3.0, ring=ring)
    clock = FrozenClock()
    inventory = sim.inventory
    lookups = []  # (point index, equipment, quantity, row, bits)
    for p in registry.points:
        device = inventory.device(p.device)
        point_name = p.name[len(p.device) + 1 :]
        base = point_name.split(".", 1)[0]
        profile_point = next(
            q for q in inventory.profiles[device.equipment].points if q.name == base
        )
        if p.bit is not None:
            lookups.append((p.index, device.equipment, profile_point.bits[p.bit], device.row, None))
        elif profile_point.bits:
            lookups.append((p.index, device.equipment, "", device.row, profile_point.bits))
        else:
            lookups.append((p.index, device.equipment, profile_point.source, device.row, None))
    indices = np.array([x[0] for x in lookups], dtype=np.int64)
    start = clock.now - steps
    # The live layer's own metrics and alarms (the site's default rules), driven at the
    # frozen times: energy-based PUE windows and alarm states are as deterministic as
    # the values.
    source = LiveSource(
        state,
        site=sim.site.name,
        clock=clock,
        carbon_kg_per_kwh=sim.site.grid_carbon_kg_per_kwh,
    )
    for k in range(steps):
        if k == steps // 2:
            for kind in events:
                sim.plant.command("event", event=make_event(sim.plant, kind))
        sim.plant.step(sim.options.step_s)
        for equipment in sim.images:
            sim._compute(equipment)
        values = np.empty(len(lookups))
        for j, (_, equipment, quantity, row, bits) in enumerate(lookups):
            table = sim.last_values[equipment]
            if bits is not None:
                values[j] = sum(
                    (int(table[b][row]) & 1) << i for i, b in enumerate(bits) if b and b in table
                )
            else:
                values[j] = table[quantity][row]
        values = values.astype(np.float32).astype(np.float64)
        clock.now = start + k + 1
        state.update(indices, values, np.ones(len(indices), bool), clock.now)
        source.tick(clock.now)
    return source
