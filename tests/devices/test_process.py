"""The simulated site in its own process: registry, wire, control path, shutdown.

The child serves real Modbus TCP on loopback; these tests read it with a plain
pymodbus client, drive it through the command pipe, and check that it leaves no
port open and no process behind, even when its parent is killed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymodbus.client import ModbusTcpClient

from twin.devices.process import SimulationFailed, SimulationProcess, StepReport
from twin.errors import ConfigError
from twin.points.codec import DATA_TYPES, decode
from twin.points.registry import PointDef, Registry, parse_registry

DEADLINE_S = 60.0


def _wait_for(condition, what: str, timeout: float = DEADLINE_S) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _read(point: PointDef) -> float | str:
    """One point over Modbus TCP, or the exception code the unit answered with."""
    client = ModbusTcpClient(point.host, port=point.port, timeout=2, retries=0)
    assert client.connect()
    try:
        count = DATA_TYPES[point.data_type].registers
        read = (
            client.read_input_registers
            if point.register_type == "input_register"
            else client.read_holding_registers
        )
        reply = read(point.address, count=count, device_id=point.unit_id)
        if reply.isError():
            return f"exception {reply.exception_code}"
        return decode(reply.registers, point.data_type, point.word_order, point.scale)
    finally:
        client.close()


def _registry(text: str) -> Registry:
    return parse_registry(text, Path("<served>"))


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def process() -> Iterator[tuple[SimulationProcess, list[StepReport], dict[str, PointDef]]]:
    sim = SimulationProcess("aidc-10mw", speed=2.0)
    reports: list[StepReport] = []
    sim.after_step.append(reports.append)
    registry = _registry(sim.start())
    sim.go()
    yield sim, reports, registry.by_name
    sim.stop()


def test_the_plant_waits_for_go() -> None:
    sim = SimulationProcess("legacy-air-2mw", speed=10.0)
    reports: list[StepReport] = []
    sim.after_step.append(reports.append)
    registry = _registry(sim.start())
    try:
        # Served and readable at once, but not stepping: a scenario's clock starts at go.
        assert isinstance(_read(registry.points[0]), float)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            assert not reports
            time.sleep(0.05)
        sim.go()
        _wait_for(lambda: len(reports) >= 3, "steps after go")
    finally:
        sim.stop()


def test_registry_points_read_over_the_wire(process) -> None:  # type: ignore[no-untyped-def]
    _, reports, points = process
    assert len(points) > 2000  # aidc-10mw serves 2,929 points
    _wait_for(lambda: len(reports) >= 2, "two step reports")
    facility = _read(points["site-meter.facility_power_kw"])
    assert isinstance(facility, float)
    # The meter on the wire and the plant's own report agree to within a step's change.
    assert facility == pytest.approx(reports[-1].facility_power_w / 1e3, rel=0.05)
    # Plant time advances at the requested speed (2 plant s per wall s, generously).
    first = reports[-1]
    _wait_for(lambda: reports[-1].plant_t_s >= first.plant_t_s + 4, "4 plant seconds")
    elapsed = reports[-1].wall_time - first.wall_time
    assert elapsed < 4.0  # 4 plant seconds at 2x take 2 s; under 1x would take 4


def test_fault_and_event_cross_the_pipe(process) -> None:  # type: ignore[no-untyped-def]
    sim, _, points = process
    flow = points["hall-1-cdu2.flow_kg_s"]
    assert isinstance(_read(flow), float)
    sim.inject_fault("hall-1-cdu2", "exception", duration_s=600)
    _wait_for(lambda: _read(flow) == "exception 4", "the exception fault on the wire")
    # Every other device still answers.
    assert isinstance(_read(points["hall-1-cdu3.flow_kg_s"]), float)

    # The dashboard's pump trip: pump 1 of the first CDU, its fault bit on the wire.
    fault = points["hall-1-cdu1.status.pump1_fault"]
    assert fault.bit is not None

    def fault_bit() -> int:
        word = _read(fault)
        assert isinstance(word, float), word
        return (int(word) >> fault.bit) & 1  # type: ignore[operator]

    assert fault_bit() == 0
    sim.start_event("pump_trip")
    _wait_for(lambda: fault_bit() == 1, "the pump trip in the CDU's status word")


def test_bad_command_is_logged_and_the_site_keeps_running(process) -> None:  # type: ignore[no-untyped-def]
    sim, reports, _ = process
    sim.start_event("no_such_event")
    sim.inject_fault("no-such-device", "offline")
    count = len(reports)
    _wait_for(lambda: len(reports) >= count + 2, "steps after bad commands")
    assert sim.alive


def test_bad_scenario_target_arrives_as_config_error(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text('[[events]]\nkind = "pump_trip"\nat_s = 5\ntarget = "hall-9-cdu7"\n')
    sim = SimulationProcess("aidc-10mw", scenario=scenario)
    with pytest.raises(ConfigError) as caught:
        sim.start()
    assert "bad.toml" in str(caught.value) and "hall-9-cdu7" in str(caught.value)
    assert not sim.alive


def test_unknown_site_fails_with_its_name() -> None:
    sim = SimulationProcess("no-such-site")
    with pytest.raises((ConfigError, SimulationFailed)) as caught:
        sim.start()
    assert "no-such-site" in str(caught.value)


def test_stop_closes_every_port() -> None:
    sim = SimulationProcess("legacy-air-2mw")
    registry = _registry(sim.start())
    ports = sorted({p.port for p in registry.points if p.port})
    assert ports and all(_listening(port) for port in ports)
    sim.stop()
    assert not sim.alive
    assert not any(_listening(port) for port in ports)


PARENT = """
import sys, time
from pathlib import Path
from twin.points.registry import parse_registry
from twin.devices.process import SimulationProcess
sim = SimulationProcess("legacy-air-2mw")
registry = parse_registry(sim.start(), Path('<parent>'))
print(sim.pid, registry.points[0].port, flush=True)
time.sleep(600)
"""


def test_a_killed_parent_leaves_no_orphan() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        line = parent.stdout.readline()  # type: ignore[union-attr]
        child_pid, port = map(int, line.split())
        assert _listening(port)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(30)

        def child_gone() -> bool:
            try:
                os.kill(child_pid, 0)
            except ProcessLookupError:
                return True
            # A zombie is gone for our purpose: it holds no port.
            with open(f"/proc/{child_pid}/stat") as stat:
                return stat.read().split(") ", 1)[1].startswith("Z")

        _wait_for(child_gone, "the orphaned simulation to exit")
        assert not _listening(port)
    finally:
        parent.kill()
