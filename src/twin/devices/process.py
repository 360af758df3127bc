"""A simulated site in its own process: the plant and its Modbus gear, one pipe of control.

``twin run`` and ``twin dashboard`` read the simulated gear over loopback sockets,
exactly as they would read real gear. Serving ~3,000 devices and stepping a 100 MW
plant in the same interpreter as the collector, the live layer and the sink made
them share one GIL: at 100 MW the collector missed poll cycles whenever the plant or
the servers held it. In its own process the simulation has its own interpreter and
the parent keeps only what a monitor of real gear would run.

Only three things cross the process boundary, each as a small message on a pipe:

- child → parent, once: the registry of the served points (the CSV ``twin points``
  writes, with the ports the gateways actually bound) or the error that stopped
  the set-up (a :class:`~twin.errors.ConfigError` arrives as itself);
- child → parent, every plant step: a :class:`StepReport` (wall time, plant time,
  the plant's own facility and IT power), for the plant-to-live latency probe;
- parent → child: operator commands (a scenario event, a device fault) and stop.

The child ignores SIGINT (a Ctrl+C in the terminal reaches the whole process group;
the parent decides when to stop) and exits when its command pipe closes, so a
killed parent never leaves an orphan serving ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import multiprocessing
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepReport:
    """What the plant did at one step, as the parent needs it."""

    wall_time: float  # time.time() just after the step [s since epoch]
    plant_t_s: float  # plant time after the step [s]
    facility_power_w: float  # the plant's own facility power [W]
    it_power_w: float  # the plant's own IT power [W]
    tasks: int | None = None  # asyncio tasks in the child (every 10th step), for the soak
    rss_mb: float | None = None  # the child's resident memory (every 10th step) [MB]


class SimulationFailed(RuntimeError):
    """The simulation process stopped or could not start; the message says why."""


class SimulationProcess:
    """A site's plant and Modbus TCP devices served from a child process.

    Parameters
    ----------
    site : str
        Site name or TOML path (as ``twin sim`` takes it).
    speed : float
        Plant seconds per wall second.
    scenario : str or Path, optional
        Scenario name or TOML path, attached at start (plant events and device faults).
    host : str
        Address the gateways bind (loopback by default).
    log_file : Path, optional
        Where the child logs (and writes anything else to stderr); default stderr.
        ``twin run`` passes its own log file while the dashboard owns the terminal.
    opcua_port : int, optional
        Also serve the site's OPC UA server (anonymous, no security) on this port;
        0 picks a free one. Default: Modbus TCP only.
    state_dir : Path
        Where the OPC UA server keeps its certificates, if it needs any.
    bacnet_port : int, optional
        Also serve the cooling plant as BACnet/IP devices from this UDP port on
        (0: free ports); the registry then has their ``bacnet_*`` columns.
    snmp_port : int, optional
        Also serve the UPSs and PDUs as SNMP agents on this UDP port (0: a free one;
        credentials from the ``TWIN_SNMP_*`` environment, else v2c ``public``); the
        registry then carries their SNMP addressing too (``snmp_`` columns).
    """

    def __init__(
        self,
        site: str | Path,
        speed: float = 1.0,
        scenario: str | Path | None = None,
        host: str = "127.0.0.1",
        log_file: Path | None = None,
        opcua_port: int | None = None,
        state_dir: Path = Path(".twin-state"),
        bacnet_port: int | None = None,
        snmp_port: int | None = None,
    ) -> None:
        self.site = str(site)
        self.bacnet_port = bacnet_port
        self.snmp_port = snmp_port
        self.log_file = log_file
        self.opcua_port = opcua_port
        self.state_dir = state_dir
        self.opcua_endpoint: str | None = None  # once started, if OPC UA is served
        self.site_name = ""  # the site's own name, once started
        self.speed = speed
        self.scenario = None if scenario is None else str(scenario)
        self.host = host
        #: called on the receiver thread with each :class:`StepReport`
        self.after_step: list[Callable[[StepReport], None]] = []
        self.last: StepReport | None = None
        self.tasks: int | None = None
        self.rss_mb: float | None = None
        self.failure: str | None = None  # why the child stopped, if it failed
        self.signalled = False  # the child stopped cleanly on a SIGTERM of its own
        self._process: Any = None
        self._commands: Connection | None = None
        self._reports: Connection | None = None
        self._receiver: threading.Thread | None = None
        self._ready = threading.Event()
        self._ready_payload: tuple[str, Any] | None = None
        self._stopping = False

    @property
    def plant_t_s(self) -> float:
        return self.last.plant_t_s if self.last else 0.0

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def exitcode(self) -> int | None:
        """The child's exit status once it has ended: 0 clean, -N killed by signal N."""
        return None if self._process is None else self._process.exitcode

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self, timeout: float = 300.0) -> str:
        """Start the child; return the registry CSV of its devices once they all listen.

        The CSV is what ``twin points`` writes, with the ports actually bound: the
        collector's side parses it (``twin.points.registry.parse_registry``).

        The devices answer from then on, with the settled plant's values; the plant
        steps (and a scenario's timeline runs) from :meth:`go`.
        """
        context = multiprocessing.get_context("spawn")  # never fork a threaded parent
        commands_out, commands_in = context.Pipe(duplex=False)
        reports_out, reports_in = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_child_main,
            args=(
                commands_out,
                reports_in,
                self.site,
                self.speed,
                self.scenario,
                self.host,
                self.log_file,
                self.opcua_port,
                self.state_dir,
                self.bacnet_port,
                self.snmp_port,
            ),
            name=f"twin-sim-{Path(self.site).stem}",
            daemon=True,
        )
        self._process.start()
        commands_out.close()  # the child's ends: keep none here, so EOF means "gone"
        reports_in.close()
        self._commands = commands_in
        self._reports = reports_out
        self._receiver = threading.Thread(
            target=self._receive, name="twin-sim-reports", daemon=True
        )
        self._receiver.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise SimulationFailed(
                f"the simulation of {self.site} did not start in {timeout:.0f} s"
            )
        assert self._ready_payload is not None
        kind, payload = self._ready_payload
        if kind == "error":
            self.stop()
            if isinstance(payload, BaseException):
                raise payload
            raise SimulationFailed(str(payload))
        text, self.site_name, self.opcua_endpoint = payload
        return text

    def _receive(self) -> None:
        assert self._reports is not None
        while True:
            try:
                kind, payload = self._reports.recv()
            except (EOFError, OSError):
                if not self._stopping and not self.signalled:
                    self.failure = self.failure or "the simulation process exited"
                    log.error("%s", self.failure)
                if not self._ready.is_set():
                    self._ready_payload = ("error", SimulationFailed(self.failure or "stopped"))
                    self._ready.set()
                return
            if kind == "step":
                self.last = payload
                if payload.tasks is not None:
                    self.tasks = payload.tasks
                    self.rss_mb = payload.rss_mb
                for hook in self.after_step:
                    try:
                        hook(payload)
                    except Exception:  # a broken probe must not stop the reports
                        log.exception("step hook failed")
            elif kind == "signalled":
                self.signalled = True
            elif kind in ("ready", "error"):
                if kind == "error" and self._ready.is_set():
                    self.failure = str(payload)
                self._ready_payload = (kind, payload)
                self._ready.set()

    def ended_by_signal(self, timeout: float = 5.0) -> bool:
        """Whether the child, now exited, stopped cleanly on a SIGTERM of its own.

        Waits for the report receiver to read the child's last words first.
        """
        if self._receiver is not None:
            self._receiver.join(timeout)
        return self.signalled

    def _send(self, message: tuple) -> None:
        if self._commands is None:
            raise SimulationFailed("the simulation is not running")
        try:
            self._commands.send(message)
        except OSError as error:
            raise SimulationFailed(f"the simulation process is gone ({error})") from error

    def go(self) -> None:
        """Start stepping the plant (the caller's collector is polling by now)."""
        self._send(("go",))

    def start_event(self, kind: str) -> None:
        """Start a plant event now (dashboard defaults: ``twin.plant.scenarios.make_event``)."""
        self._send(("event", kind))

    def start_scenario(self, name: str) -> None:
        """Run a scenario file's timeline from now (its first event at once)."""
        self._send(("scenario", name))

    def inject_fault(self, device: str, kind: str, duration_s: float = 120.0) -> None:
        """Put a device fault in force now for ``duration_s`` of plant time."""
        self._send(("fault", device, kind, duration_s))

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the child to close its servers and exit; kill it if it does not."""
        self._stopping = True
        if self._commands is not None:
            with contextlib.suppress(OSError):
                self._commands.send(("stop",))
                self._commands.close()
            self._commands = None
        if self._process is not None:
            self._process.join(timeout)
            if self._process.is_alive():
                log.warning("simulation process did not stop in %.0f s; killing it", timeout)
                self._process.kill()
                self._process.join(10)
        if self._receiver is not None:
            self._receiver.join(10)
        if self._reports is not None:
            self._reports.close()
            self._reports = None


# ------------------------------------------------------------------ the child


def _child_main(
    commands: Connection,
    reports: Connection,
    site_name: str,
    speed: float,
    scenario_name: str | None,
    host: str,
    log_file: Path | None,
    opcua_port: int | None = None,
    state_dir: Path = Path(".twin-state"),
    bacnet_port: int | None = None,
    snmp_port: int | None = None,
) -> None:
    from twin import logs

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if log_file is not None:  # nothing of ours may draw over the parent's dashboard
        sys.stderr = open(log_file, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
    logs.configure(log_file)
    try:
        sim = _build(
            site_name, speed, scenario_name, host, opcua_port, state_dir, bacnet_port, snmp_port
        )
    except Exception as error:  # the parent shows it; a ConfigError keeps its type
        with contextlib.suppress(Exception):
            reports.send(("error", error))
        return
    try:
        asyncio.run(_serve(sim, commands, reports))
    except Exception as error:
        log.exception("simulation failed")
        with contextlib.suppress(Exception):
            reports.send(("error", f"the simulation failed: {error}"))


def _build(
    site_name: str,
    speed: float,
    scenario_name: str | None,
    host: str,
    opcua_port: int | None,
    state_dir: Path,
    bacnet_port: int | None = None,
    snmp_port: int | None = None,
) -> Any:
    from twin.devices.runner import Options, Simulation
    from twin.plant import scenarios
    from twin.site import load_site

    security = None
    if snmp_port is not None:
        from twin.points.snmp import load_security

        security = load_security()  # the environment: never the command line
    options = Options(
        host=host,
        modbus_port=0,
        opcua_port=opcua_port,
        speed=speed,
        state_dir=state_dir,
        bacnet_port=bacnet_port,
        snmp_port=snmp_port,
        snmp_security=security,
    )
    sim = Simulation(load_site(site_name), options)
    sim.setup()
    if scenario_name is not None:
        from twin.devices.cli import load_sim_scenario
        from twin.devices.faults import check_faults

        plan, faults, path = load_sim_scenario(scenario_name)
        scenarios.attach(sim.plant, plan, path)  # type: ignore[arg-type]
        # a fault on a device or quantity the site lacks would never match: refused
        check_faults(faults, sim.inventory, path)  # type: ignore[arg-type]
        sim.faults.schedule(faults, sim.plant.t_s)  # type: ignore[union-attr]
    return sim


def start_scenario_now(sim: Any, name: str) -> None:
    """Schedule a scenario's events and device faults with its first one now.

    A shipped scenario starts its story ten minutes in (a settled plant first); an
    operator who picks it on a running site wants the story, not the wait.
    """
    from twin.devices.cli import load_sim_scenario
    from twin.devices.faults import check_faults
    from twin.plant import scenarios

    plan, faults, path = load_sim_scenario(name)
    check_faults(faults, sim.inventory, path)  # before anything of it starts
    lead = min([e.at_s for e in plan.events] + [f.at_s for f in faults], default=0.0)
    events = [e.model_copy(update={"at_s": e.at_s - lead}) for e in plan.events]
    plan = plan.model_copy(update={"events": events})  # type: ignore[attr-defined]
    scenarios.attach(sim.plant, plan, path)
    sim.faults.schedule(
        [f.model_copy(update={"at_s": f.at_s - lead}) for f in faults], sim.plant.t_s
    )


async def _serve(sim: Any, commands: Connection, reports: Connection) -> None:
    from twin.devices.faults import DeviceFault
    from twin.devices.registry import rows, write_csv

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    go = asyncio.Event()  # the plant steps once the parent's collector polls: a
    # scenario's timeline starts when monitoring does, not during the parent's set-up
    await sim.start()
    plant = sim.plant
    advance = sim.advance
    steps = 0

    async def advance_and_report() -> None:
        nonlocal steps
        await advance()
        steps += 1
        readings = plant.readings
        sampled = steps % 10 == 0
        reports.send(
            (
                "step",
                StepReport(
                    wall_time=time.time(),
                    plant_t_s=float(plant.t_s),
                    facility_power_w=float(readings.power.facility_power_w),
                    it_power_w=float(readings.power.it_power_w),
                    tasks=len(asyncio.all_tasks()) if sampled else None,
                    rss_mb=rss_mb() if sampled else None,
                ),
            )
        )

    sim.advance = advance_and_report

    def handle(message: tuple) -> None:
        from twin.plant.scenarios import make_event

        try:
            if message[0] == "stop":
                stop.set()
            elif message[0] == "go":
                go.set()
            elif message[0] == "event":
                plant.command("event", event=make_event(plant, message[1]))
            elif message[0] == "scenario":
                start_scenario_now(sim, message[1])
            elif message[0] == "fault":
                _, device, kind, duration = message
                sim.inject(DeviceFault(device=device, kind=kind, duration_s=duration))
        except Exception:  # a bad command is logged; the site keeps running
            log.exception("command %r failed", message[:2])

    def listen() -> None:
        while True:
            try:
                message = commands.recv()
            except (EOFError, OSError):  # the parent is gone: stop serving
                loop.call_soon_threadsafe(stop.set)
                return
            loop.call_soon_threadsafe(handle, message)
            if message[0] == "stop":
                return

    text = io.StringIO()
    bacnet = None if sim.bacnet is None else sim.bacnet.bound
    table = rows(sim.inventory, sim.options.host, list(sim.modbus.ports), bacnet=bacnet)
    if sim.snmp is None:
        write_csv(table, text)
    else:  # the UPS and PDU points carry their SNMP addressing too
        from twin.devices.snmp_registry import merge_rows, snmp_rows, write_snmp_csv

        community = sim.snmp.security.community
        extra = snmp_rows(sim.inventory, sim.options.host, sim.snmp.port, community)
        write_snmp_csv(merge_rows(table, extra), text)
    endpoint = None if sim.opcua is None else sim.opcua.endpoint
    reports.send(("ready", (text.getvalue(), sim.site.name, endpoint)))
    threading.Thread(target=listen, name="twin-sim-commands", daemon=True).start()

    async def run_when_told() -> None:
        await go.wait()
        await sim.run()

    # A SIGTERM to the process group (systemd, `timeout`, a container stop) reaches
    # this child with its parent: close the servers cleanly and tell the parent so.
    signalled = False

    def on_sigterm() -> None:
        nonlocal signalled
        signalled = True
        stop.set()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    run = asyncio.ensure_future(run_when_told())
    waiter = asyncio.ensure_future(stop.wait())
    await asyncio.wait({run, waiter}, return_when=asyncio.FIRST_COMPLETED)
    failed = run.exception() if run.done() and not run.cancelled() else None
    run.cancel()
    waiter.cancel()
    await asyncio.gather(run, waiter, return_exceptions=True)
    await sim.stop()
    if failed is not None:
        raise failed
    if signalled:
        with contextlib.suppress(OSError):
            reports.send(("signalled", None))


def rss_mb(pid: int | str = "self") -> float | None:
    """Resident memory of a process [MB] (Linux ``/proc``); None where unavailable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None
