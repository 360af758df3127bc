"""Sensor faults (bias, drift, frozen) as a Modbus client and an OPC UA client see them:
one quantity of one device bent, the rest of the device and its neighbours true."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from asyncua import ua
from asyncua.sync import Client
from pymodbus.client import ModbusTcpClient

from twin.devices.faults import DeviceFault, Faults
from twin.points.codec import decode

from .simthread import SimThread

DEVICE = "hall-1-cdu3"
NEIGHBOUR = "hall-1-cdu2"  # the same hall loop: the same true supply temperature
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clients(served: SimThread) -> Iterator[tuple[SimThread, ModbusTcpClient]]:
    sim = served.sim
    assert sim.inventory is not None
    port = served.port(sim.inventory.device(DEVICE).gateway)
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=5, retries=1)
    assert client.connect()
    yield served, client
    client.close()
    served.run(lambda: sim.faults.clear(DEVICE))
    served.step()


def _read(served: SimThread, client: ModbusTcpClient, device: str) -> tuple[float, float]:
    """(t_supply_c, t_return_c) of ``device`` over Modbus (input registers 0-3, CDAB)."""
    assert served.sim.inventory is not None
    unit = served.sim.inventory.device(device).unit_id
    words = client.read_input_registers(0, count=4, device_id=unit).registers
    return decode(words[0:2], "float32", "CDAB"), decode(words[2:4], "float32", "CDAB")


def _opcua(served: SimThread, device: str, point: str) -> ua.DataValue:
    assert served.sim.opcua is not None
    with Client(served.sim.opcua.endpoint, timeout=30) as client:
        node = client.get_node(ua.NodeId(f"{device}.{point}", 2))
        return node.read_attribute(ua.AttributeIds.Value, raise_on_bad_status=False)


def _inject(served: SimThread, **fields: object) -> None:
    served.run(lambda: served.sim.inject(DeviceFault(device=DEVICE, **fields)))  # type: ignore[arg-type]
    served.step()


def test_a_bias_moves_one_quantity_of_one_device_on_every_protocol(clients) -> None:  # type: ignore[no-untyped-def]
    served, client = clients
    _inject(served, kind="sensor_bias", quantity="t_supply_c", offset=1.5)
    supply, ret = _read(served, client, DEVICE)
    true_supply, true_return = _read(served, client, NEIGHBOUR)
    # float32 on the wire: 1.5 K comes through to its last bit or two
    assert supply - true_supply == pytest.approx(1.5, abs=1e-4)
    assert ret == pytest.approx(true_return, abs=1e-4)  # the other sensor is true
    value = _opcua(served, DEVICE, "t_supply_c")
    assert value.StatusCode.is_good()  # a biased sensor does not say so
    assert value.Value.Value - true_supply == pytest.approx(1.5, abs=1e-4)


def test_a_drift_grows_with_plant_time(clients) -> None:  # type: ignore[no-untyped-def]
    served, client = clients
    # 360 K/h is 0.1 K per plant second: big enough to see over a few 1 s steps
    _inject(served, kind="sensor_drift", quantity="t_supply_c", rate_per_h=360.0)
    first = _read(served, client, DEVICE)[0] - _read(served, client, NEIGHBOUR)[0]
    served.step(5)
    later = _read(served, client, DEVICE)[0] - _read(served, client, NEIGHBOUR)[0]
    assert later - first == pytest.approx(0.5, abs=1e-3)


def test_a_frozen_sensor_holds_while_the_plant_moves(clients) -> None:  # type: ignore[no-untyped-def]
    served, client = clients
    _inject(served, kind="sensor_frozen", quantity="t_return_c")
    held = _read(served, client, DEVICE)[1]
    moved = False
    for _ in range(20):  # the training load swings the return within a 10 s iteration
        served.step()
        assert _read(served, client, DEVICE)[1] == held
        moved = moved or _read(served, client, NEIGHBOUR)[1] != held
        if moved:
            break
    assert moved, "the true return did not move in 20 s: the test proves nothing"
    served.run(lambda: served.sim.faults.clear(DEVICE, "sensor_frozen:t_return_c"))
    served.step()
    assert _read(served, client, DEVICE)[1] == _read(served, client, NEIGHBOUR)[1]


def test_a_timeline_drift_counts_from_its_start() -> None:
    faults = Faults()
    drift = DeviceFault(at_s=10, device="x", kind="sensor_drift", quantity="q", rate_per_h=3.6)
    faults.schedule([drift], now_s=100.0)
    faults.advance(110.0)
    values = {"q": np.array([20.0, 20.0])}
    faults.bend("x", 1, values, 120.0)  # 10 s after it began: 3.6 K/h × 10 s
    assert values["q"].tolist() == pytest.approx([20.0, 20.01])


def test_sensor_faults_name_their_quantity_and_comm_faults_do_not() -> None:
    with pytest.raises(ValueError, match="names its quantity"):
        DeviceFault(device="x", kind="sensor_bias", offset=1.0)
    with pytest.raises(ValueError, match="quantity belongs to sensor faults"):
        DeviceFault(device="x", kind="offline", quantity="t_supply_c")


SCENARIO = """
[[device_faults]]
at_s = 30
device = "hall-1-cdu2"
kind = "sensor_bias"
quantity = "{quantity}"
offset = 1.0
"""


def test_an_unknown_quantity_is_refused_by_check_and_by_sim(tmp_path: Path) -> None:
    path = tmp_path / "scenarios" / "bias.toml"
    path.parent.mkdir()
    path.write_text(SCENARIO.format(quantity="t_suply_c"))
    sim = ("sim", "aidc-10mw", "--scenario", str(path), "--duration", "1", "--no-opcua")
    for args in (("check", str(path)), sim):
        result = subprocess.run(
            [sys.executable, "-m", "twin.cli", *args],
            capture_output=True, text=True, timeout=300, cwd=ROOT,
        )  # fmt: skip
        assert result.returncode == 2, result.stdout + result.stderr
        assert "bias.toml" in result.stderr and "'t_suply_c'" in result.stderr
        assert "t_supply_c" in result.stderr  # the message lists what the device has


def test_twin_run_refuses_a_fault_on_a_quantity_the_device_lacks(tmp_path: Path) -> None:
    path = tmp_path / "bias.toml"
    path.write_text(SCENARIO.format(quantity="no_such_quantity"))
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "run", "aidc-10mw", "--headless", "--duration", "5",
         "--scenario", str(path), "--spool", str(tmp_path / "spool")],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]
    assert "bias.toml" in result.stderr and "'no_such_quantity'" in result.stderr
