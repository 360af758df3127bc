"""Modbus replies as the profiles say, checked with pymodbus and with Debian's mbpoll."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from pymodbus.client import ModbusTcpClient

from twin.points.codec import decode, encode

from .simthread import SimThread, wait_for

MBPOLL = shutil.which("mbpoll")
needs_mbpoll = pytest.mark.skipif(MBPOLL is None, reason="mbpoll not installed (scripts/test)")


def _unit(served: SimThread, name: str) -> tuple[int, int]:
    assert served.sim.inventory is not None
    device = served.sim.inventory.device(name)
    return served.port(device.gateway), device.unit_id


def mbpoll(port: int, unit: int, *args: str, write: tuple[str, ...] = ()) -> list[str]:
    """Run mbpoll once (0-based addressing) and return the values it printed."""
    assert MBPOLL is not None
    command = [MBPOLL, "-m", "tcp", "-p", str(port), "-a", str(unit), "-0", "-1", "-o", "5"]
    result = subprocess.run(
        [*command, *args, "127.0.0.1", *write],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return re.findall(r"^\[\d+\]:\s+(\S+)", result.stdout, re.MULTILINE)


@needs_mbpoll
def test_mbpoll_reads_float32_in_both_word_orders(served: SimThread) -> None:
    sim = served.sim
    # site meter: FLOAT32 ABCD (mbpoll -B); transformer: FLOAT32 CDAB (mbpoll's default)
    port, unit = _unit(served, "site-meter")
    (it_kw,) = mbpoll(port, unit, "-t", "3:float", "-B", "-r", "6", "-c", "1")
    want = sim.last_values["site-meter"]["it_power_kw"][0]
    assert float(it_kw) == pytest.approx(want, rel=1e-5)  # mbpoll prints 6 digits
    port, unit = _unit(served, "tx-A1")
    (load_kw,) = mbpoll(port, unit, "-t", "3:float", "-r", "0", "-c", "1")
    assert float(load_kw) == pytest.approx(
        sim.last_values["transformer"]["load_kw"][0], rel=1e-5
    )  # mbpoll prints 6 digits


@needs_mbpoll
def test_mbpoll_reads_scaled_int16_and_status_bits(served: SimThread) -> None:
    sim = served.sim
    assert sim.inventory is not None
    name = sim.inventory.bindings["gpu-rack"].names[0]
    port, unit = _unit(served, name)
    # t_inlet_c: INT16 × 0.1 at input 2; status word at input 6
    inlet_raw, _, _, _, status_raw = mbpoll(port, unit, "-t", "3", "-r", "2", "-c", "5")
    row = sim.inventory.device(name).row
    values = sim.last_values["gpu-rack"]
    assert int(inlet_raw) * 0.1 == pytest.approx(values["t_inlet_c"][row], abs=0.05)
    status = int(status_raw)
    assert bool(status & 1) == bool(values["powered"][row])  # bit 0 powered
    assert bool(status & 8) == bool(values["low_flow"][row])  # bit 3 low_flow
    # dry contacts on discrete inputs
    port, unit = _unit(served, "hall-1-cdu1")
    contacts = mbpoll(port, unit, "-t", "1", "-r", "0", "-c", "2")
    running = sim.plant.pump_running[0] if sim.plant else None
    assert contacts == [str(int(bool(x))) for x in running]  # pump 1 and 2 running


@needs_mbpoll
def test_mbpoll_writes_a_setpoint_that_reaches_the_plant(served: SimThread) -> None:
    sim = served.sim
    assert sim.plant is not None
    port, unit = _unit(served, "hall-2-cdu1")
    before = sim.plant.t_tcs_supply_set[1]
    assert before != 33.5
    mbpoll(port, unit, "-t", "4:float", "-r", "0", write=("33.5",))  # CDAB, mbpoll's default
    served.step()
    assert served.run(lambda: float(sim.plant.t_tcs_supply_set[1])) == 33.5
    (readback,) = mbpoll(port, unit, "-t", "4:float", "-r", "0", "-c", "1")
    assert float(readback) == 33.5


def test_exceptions_and_range_checked_setpoints(served: SimThread) -> None:
    sim = served.sim
    assert sim.plant is not None
    port, cdu = _unit(served, "hall-1-cdu2")
    plant_port, chiller = _unit(served, "chiller-1")
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=10)
    assert client.connect()
    try:
        # beyond the input block → 02
        reply = client.read_input_registers(125, count=1, device_id=cdu)
        assert reply.isError() and reply.exception_code == 2
        # function the device has no table for (coils) → 02 (empty table)
        reply = client.read_coils(0, count=1, device_id=cdu)
        assert reply.isError() and reply.exception_code == 2
        # read-only holding register: CDU profile says 02
        words = encode([30.0], "float32", "CDAB")[0].tolist()
        reply = client.write_registers(2, words, device_id=cdu)
        assert reply.isError() and reply.exception_code == 2
        # half of a FLOAT32 setpoint → 02
        reply = client.write_register(0, words[0], device_id=cdu)
        assert reply.isError() and reply.exception_code == 2
        # out of range → 03 and no change
        before = client.read_holding_registers(0, count=2, device_id=cdu).registers
        too_hot = encode([55.0], "float32", "CDAB")[0].tolist()
        reply = client.write_registers(0, too_hot, device_id=cdu)
        assert reply.isError() and reply.exception_code == 3
        assert client.read_holding_registers(0, count=2, device_id=cdu).registers == before
        assert served.run(lambda: list(sim.plant.commands)) == []
        # accepted setpoint → plant command queue → physics
        ok = encode([37.0], "float32", "CDAB")[0].tolist()
        assert not client.write_registers(0, ok, device_id=cdu).isError()
        served.step()
        assert served.run(lambda: float(sim.plant.t_tcs_supply_set[0])) == 37.0
        served.step(30)
        t_supply = served.run(lambda: float(sim.plant.t_tcs_supply[0]))
        assert t_supply > 35.2  # the loop moves toward the new setpoint
        value = client.read_holding_registers(0, count=2, device_id=cdu).registers
        assert decode(value, "float32", "CDAB") == 37.0
        # the chiller profile answers 01 for read-only registers, and takes a scaled INT16
        client.close()
        client = ModbusTcpClient("127.0.0.1", port=plant_port, timeout=10)
        assert client.connect()
        reply = client.write_register(1, 100, device_id=chiller)
        assert reply.isError() and reply.exception_code == 1
        reply = client.write_register(0, 300, device_id=chiller)  # 30.0 °C > 25 → 03
        assert reply.isError() and reply.exception_code == 3
        assert not client.write_register(0, 165, device_id=chiller).isError()  # 16.5 °C
        served.step()
        wait_for(lambda: served.run(lambda: sim.plant.t_chw_supply_set) == 16.5, what="chw set")
    finally:
        client.close()
        served.run(lambda: sim.plant.command("setpoint", point="t_tcs_supply_c", value=35.0))
        served.run(lambda: sim.plant.command("setpoint", point="t_chw_supply_c", value=18.0))
        served.step()
