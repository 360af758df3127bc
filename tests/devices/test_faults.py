"""Each device fault mode, as a Modbus client and an OPC UA client see it."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
from asyncua import ua
from asyncua.sync import Client
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from twin.devices.faults import DeviceFault, Faults
from twin.points.codec import decode

from .simthread import SimThread

DEVICE = "hall-1-cdu3"


@pytest.fixture
def faulty(served: SimThread) -> Iterator[tuple[SimThread, ModbusTcpClient, int]]:
    sim = served.sim
    assert sim.inventory is not None
    device = sim.inventory.device(DEVICE)
    client = ModbusTcpClient("127.0.0.1", port=served.port(device.gateway), timeout=1, retries=0)
    assert client.connect()
    yield served, client, device.unit_id
    client.close()
    served.run(lambda: sim.faults.clear(DEVICE))
    served.step()


def _inject(served: SimThread, kind: str, **params: float) -> None:
    served.run(lambda: served.sim.inject(DeviceFault(device=DEVICE, kind=kind, **params)))  # type: ignore[arg-type]
    served.step()


def _opcua(served: SimThread, point: str) -> ua.DataValue:
    assert served.sim.opcua is not None
    with Client(served.sim.opcua.endpoint, timeout=30) as client:
        node = client.get_node(ua.NodeId(f"{DEVICE}.{point}", 2))
        return node.read_attribute(ua.AttributeIds.Value, raise_on_bad_status=False)


def test_offline_unit_is_silent_and_opcua_says_communication_error(faulty) -> None:  # type: ignore[no-untyped-def]
    served, client, unit = faulty
    _inject(served, "offline")
    started = time.monotonic()
    try:
        reply = client.read_input_registers(0, count=2, device_id=unit)
        assert reply.isError()
    except ModbusException:
        pass  # no reply within the timeout
    assert time.monotonic() - started >= 0.9
    assert _opcua(served, "t_supply_c").StatusCode.value == ua.StatusCodes.BadCommunicationError
    # the other units of the same gateway still answer
    assert not client.read_input_registers(0, count=2, device_id=unit - 1).isError()


def test_slow_device_answers_late(faulty) -> None:  # type: ignore[no-untyped-def]
    served, _, unit = faulty
    _inject(served, "slow", delay_s=1.5)
    assert served.sim.inventory is not None
    port = served.port(served.sim.inventory.device(DEVICE).gateway)
    with ModbusTcpClient("127.0.0.1", port=port, timeout=10, retries=0) as patient:
        started = time.monotonic()
        assert not patient.read_input_registers(0, count=2, device_id=unit).isError()
        assert time.monotonic() - started >= 1.4


def test_frozen_values_stop_changing(faulty) -> None:  # type: ignore[no-untyped-def]
    served, client, unit = faulty
    _inject(served, "frozen")
    first = client.read_input_registers(0, count=13, device_id=unit).registers
    plant_before = served.run(lambda: float(served.sim.plant.t_tcs_supply[0]))  # type: ignore[union-attr]
    served.step(5)
    plant_after = served.run(lambda: float(served.sim.plant.t_tcs_supply[0]))  # type: ignore[union-attr]
    assert plant_after != plant_before
    assert client.read_input_registers(0, count=13, device_id=unit).registers == first
    assert _opcua(served, "t_supply_c").StatusCode.is_good()


def test_exception_replies(faulty) -> None:  # type: ignore[no-untyped-def]
    served, client, unit = faulty
    _inject(served, "exception", code=4)
    reply = client.read_input_registers(0, count=2, device_id=unit)
    assert reply.isError() and reply.exception_code == 4
    assert _opcua(served, "t_supply_c").StatusCode.value == ua.StatusCodes.BadDeviceFailure


def test_bad_quality_reads_nan_and_not_available(faulty) -> None:  # type: ignore[no-untyped-def]
    served, client, unit = faulty
    _inject(served, "bad_quality")
    words = client.read_input_registers(0, count=13, device_id=unit).registers
    assert math.isnan(decode(words[0:2], "float32", "CDAB"))  # t_supply_c
    assert words[10] == 0xFFFF  # valve_pct UINT16: "not available"
    value = _opcua(served, "t_supply_c")
    assert value.StatusCode.value == ua.StatusCodes.BadSensorFailure
    assert value.Value is None or value.Value.Value is None


def test_garbage_registers(faulty) -> None:  # type: ignore[no-untyped-def]
    served, client, unit = faulty
    _inject(served, "garbage")
    first = client.read_input_registers(0, count=13, device_id=unit).registers
    served.step()
    second = client.read_input_registers(0, count=13, device_id=unit).registers
    assert first != second
    t_supply = decode(second[0:2], "float32", "CDAB")
    truth = served.run(lambda: float(served.sim.plant.t_tcs_supply[0]))  # type: ignore[union-attr]
    assert not (abs(t_supply - truth) < 0.01)


def test_timeline_starts_and_ends_faults() -> None:
    faults = Faults()
    faults.schedule([DeviceFault(at_s=10, duration_s=5, device="x", kind="offline")], now_s=100.0)
    faults.advance(109.0)
    assert not faults.has("x", "offline")
    faults.advance(110.0)
    assert faults.has("x", "offline")
    faults.advance(115.0)
    assert not faults.has("x", "offline")
