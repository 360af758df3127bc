"""The simulated cooling plant on BACnet/IP, checked by a stack that is not ours.

@bacnet-js/client (npm, pure TypeScript, no bacpypes3 in it) discovers the devices
with Who-Is, reads present values with their engineering units and status flags by
ReadPropertyMultiple, subscribes to COV and sees a fault raise the status flags,
writes a setpoint in range (read back over Modbus after the plant's step) and is
refused out of range with Error(property, value-out-of-range), and refused writing an
input with Error(property, write-access-denied). The values agree with what the
same device's Modbus registers say.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pymodbus.client import ModbusTcpClient

from tests.peers import bacnetjs
from tests.peers.bacnetjs import (
    ANALOG_INPUT,
    ANALOG_VALUE,
    BINARY_INPUT,
    DEGREES_CELSIUS,
    OBJECT_NAME,
    PRESENT_VALUE,
    STATUS_FLAGS,
    UNITS,
)
from twin.devices.bacnet_layout import objects_of
from twin.devices.faults import DeviceFault
from twin.devices.runner import Options
from twin.points.codec import decode

from .simthread import SimThread

TYPES = {"analog-input": ANALOG_INPUT, "analog-value": ANALOG_VALUE, "binary-input": BINARY_INPUT}
FAULT = 1 << 1  # status-flags bit 1 (fault); the peer numbers bits from 0 (in-alarm)


@pytest.fixture(scope="module")
def site() -> Iterator[SimThread]:
    bacnetjs.ensure_installed()
    with SimThread("aidc-10mw", Options(modbus_port=0, opcua_port=None, bacnet_port=0)) as sim:
        sim.step()
        yield sim


def _address(site: SimThread, device: str) -> str:
    assert site.sim.bacnet is not None
    return f"127.0.0.1:{site.sim.bacnet.ports[device]}"


def _object(site: SimThread, device: str, name: str) -> dict:
    assert site.sim.inventory is not None
    profile = site.sim.inventory.profiles[site.sim.inventory.device(device).equipment]
    spec = next(o for o in objects_of(profile) if o.name == name)
    return {
        "address": _address(site, device),
        "type": TYPES[spec.object_type],
        "instance": spec.instance,
    }


def _modbus(site: SimThread, device: str, table: str, address: int, kind: str, scale: float):
    assert site.sim.inventory is not None
    unit = site.sim.inventory.device(device)
    client = ModbusTcpClient("127.0.0.1", port=site.port(unit.gateway), timeout=10)
    assert client.connect()
    try:
        read = client.read_input_registers if table == "input" else client.read_holding_registers
        reply = read(address, count=1, device_id=unit.unit_id)
        assert not reply.isError(), reply
        return decode(reply.registers, kind, "ABCD", scale)
    finally:
        client.close()


def test_who_is_finds_every_cooling_device(site: SimThread) -> None:
    bacnet = site.sim.bacnet
    assert bacnet is not None
    names = [d.name for d in bacnet.devices]
    kinds = {site.sim.inventory.device(n).equipment for n in names}  # type: ignore[union-attr]
    assert {"chiller", "crah", "tower", "cdu", "pump"} <= kinds
    expected = {(_address(site, n), bacnet.plan.instances[n]) for n in names}
    found: set[tuple[str, int]] = set()
    # Who-Is and I-Am are unconfirmed datagrams: on a busy machine one of 42 can be
    # lost, and a BACnet tool asks again. Three rounds for the ones not yet heard.
    for _ in range(3):
        missing = sorted({address for address, _ in expected} - {a for a, _ in found})
        if not missing:
            break
        answer = bacnetjs.probe({"whois": missing})
        found |= {(i["address"], i["deviceId"]) for i in answer["iams"]}
    assert found == expected
    assert len({bacnet.plan.instances[n] for n in names}) == len(names)  # unique instances


def test_present_values_units_and_flags_agree_with_modbus(site: SimThread) -> None:
    supply = _object(site, "chiller-1", "t_chw_supply_c")
    running = _object(site, "chiller-1", "status.running")
    properties = [PRESENT_VALUE, UNITS, STATUS_FLAGS, OBJECT_NAME]
    answer = bacnetjs.probe(
        {
            "read": [
                {**supply, "properties": properties},
                {**running, "properties": [PRESENT_VALUE, OBJECT_NAME]},
            ]
        }
    )
    analog, binary = answer["reads"]
    assert "error" not in analog, analog
    assert analog["values"][str(UNITS)] == [DEGREES_CELSIUS]
    assert analog["values"][str(OBJECT_NAME)] == ["t_chw_supply_c"]
    assert analog["values"][str(STATUS_FLAGS)][0]["value"] == [0]  # normal, no fault
    over_modbus = _modbus(site, "chiller-1", "input", 3, "int16", 0.1)  # 30004, INT16 0.1 °C
    assert analog["values"][str(PRESENT_VALUE)][0] == pytest.approx(over_modbus, abs=1e-4)
    assert binary["values"][str(OBJECT_NAME)] == ["status.running"]
    assert binary["values"][str(PRESENT_VALUE)][0] in (0, 1)


def test_setpoint_write_in_range_reaches_the_plant_and_out_of_range_is_refused(
    site: SimThread,
) -> None:
    setpoint = _object(site, "chiller-1", "t_chw_supply_set_c")
    supply = _object(site, "chiller-1", "t_chw_supply_c")
    before = _modbus(site, "chiller-1", "holding", 0, "int16", 0.1)
    target = 16.5 if abs(before - 16.5) > 0.5 else 17.5
    answer = bacnetjs.probe({"write": [
        {**setpoint, "value": target, "priority": 8},
        {**setpoint, "value": 40.0, "priority": 8},  # limits [5, 25]
        {**supply, "value": 12.0, "priority": 8},  # an input
    ]})  # fmt: skip
    accepted, too_high, input_write = answer["writes"]
    assert accepted["ok"], accepted
    assert not too_high["ok"] and too_high["error"] == "BacnetError - Class:2 - Code:37"
    assert not input_write["ok"] and input_write["error"] == "BacnetError - Class:2 - Code:40"
    site.step()
    assert _modbus(site, "chiller-1", "holding", 0, "int16", 0.1) == pytest.approx(target)
    read = bacnetjs.probe({"read": [{**setpoint, "properties": [PRESENT_VALUE]}]})
    assert read["reads"][0]["values"][str(PRESENT_VALUE)][0] == pytest.approx(target)


def test_cov_notifies_the_value_then_a_fault(site: SimThread) -> None:
    supply = _object(site, "chiller-2", "t_chw_supply_c")

    def break_sensor() -> None:
        fault = DeviceFault(device="chiller-2", kind="bad_quality", duration_s=600)
        site.run(site.sim.inject, fault)
        site.step()

    try:
        answer = bacnetjs.probe(
            {"subscribe": [supply], "notifications": 2, "wait_ms": 30000},
            once_subscribed=break_sensor,
        )
    finally:
        site.run(site.sim.faults.clear, "chiller-2")
        site.step()
    assert answer["cov"][0].get("subscribed"), answer
    notes = answer["notifications"][f"{supply['address']}/{ANALOG_INPUT}:{supply['instance']}"]
    assert len(notes) >= 2, notes
    first = {v["property"]: v["value"] for v in notes[0]["values"]}
    last = {v["property"]: v["value"] for v in notes[-1]["values"]}
    assert notes[0]["device"]["instance"] == site.sim.bacnet.plan.instances["chiller-2"]  # type: ignore[union-attr]
    assert isinstance(first[PRESENT_VALUE][0], float)
    assert first[STATUS_FLAGS][0]["value"] == [0]
    assert last[STATUS_FLAGS][0]["value"][0] & FAULT


def test_twin_sim_says_so_when_a_bacnet_port_is_taken() -> None:
    import socket
    import subprocess
    import sys

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "twin.cli", "sim", "aidc-10mw", "--modbus-port", "0",
             "--no-opcua", "--bacnet-port", str(port), "--duration", "1"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert result.returncode == 1, result
    assert "cannot listen" in result.stderr, result.stderr


def test_a_broadcast_who_is_on_the_loopback_is_answered(site: SimThread) -> None:
    """Who-Is to 127.0.0.255 (the /24 broadcast) at a device's port gets its I-Am."""
    bacnet = site.sim.bacnet
    assert bacnet is not None
    port = bacnet.ports["chiller-3"]
    answer = bacnetjs.probe({"whois": [f"127.0.0.255:{port}"]})
    assert [i["deviceId"] for i in answer["iams"]] == [bacnet.plan.instances["chiller-3"]]
    assert answer["iams"][0]["address"] == f"127.0.0.1:{port}"
