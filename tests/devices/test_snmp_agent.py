"""The simulated SNMP agents read by net-snmp (Debian ``snmp``): another stack than ours.

``snmpget``, ``snmpwalk`` and ``snmpbulkwalk`` read a UPS (UPS-MIB) and a PDU
(Raritan PDU2-MIB) over v2c and v3 authPriv; the values agree with the same
quantity read over Modbus at the same plant step; a utility loss moves the UPS
output source to battery and raises the on-battery alarm; an offline device is
silent while the others answer; malformed datagrams leave the agent answering.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymodbus.client import ModbusTcpClient

from twin.devices.faults import DeviceFault
from twin.devices.runner import Options
from twin.plant.scenarios import make_event
from twin.points.codec import decode
from twin.points.snmp import SnmpSecurity, SnmpUser

from .simthread import SimThread

pytestmark = pytest.mark.skipif(shutil.which("snmpget") is None, reason="needs net-snmp (snmp)")

MIBS = Path(__file__).resolve().parents[2] / "models" / "mibs"
AUTH, PRIV = "twin-auth-secret", "twin-priv-secret"
UPS_MIB = "1.3.6.1.2.1.33.1"
OUTPUT_SOURCE = f"{UPS_MIB}.4.1.0"
CHARGE = f"{UPS_MIB}.2.4.0"
ALARMS_PRESENT = f"{UPS_MIB}.6.1.0"
INLET_VALUE = "1.3.6.1.4.1.13742.6.5.2.3.1.4.1.1"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimThread]:
    security = SnmpSecurity("public", (SnmpUser("twin", AUTH, PRIV),))
    options = Options(
        modbus_port=0,
        opcua_port=None,
        snmp_port=0,
        snmp_security=security,
        state_dir=tmp_path_factory.mktemp("state"),
    )
    with SimThread("aidc-10mw", options) as sim:
        sim.step()
        yield sim


def _names(agent: SimThread, equipment: str) -> list[str]:
    assert agent.sim.snmp is not None
    return [d.name for d in agent.sim.snmp.devices if d.equipment == equipment]


def _net_snmp(tool: str, *args: str, timeout: float = 30.0) -> str:
    env = dict(os.environ, MIBS="", MIBDIRS=str(MIBS))  # no default MIB list: quiet
    done = subprocess.run(
        [tool, "-r", "1", "-t", "3", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)}: {done.stdout} {done.stderr}")
    return done.stdout


def _v2c(agent: SimThread, device: str) -> list[str]:
    assert agent.sim.snmp is not None
    return ["-v2c", "-c", f"public@{device}", f"127.0.0.1:{agent.sim.snmp.port}"]


def _v3(agent: SimThread, device: str, auth: str = AUTH) -> list[str]:
    assert agent.sim.snmp is not None
    return ["-v3", "-l", "authPriv", "-u", "twin", "-a", "SHA", "-A", auth, "-x", "AES",
            "-X", PRIV, "-n", device, f"127.0.0.1:{agent.sim.snmp.port}"]  # fmt: skip


def _values(text: str) -> dict[str, str]:
    """``-On -Oqv``-less output of numeric OIDs: OID → value text."""
    out = {}
    for line in text.splitlines():
        if " = " in line:
            oid, value = line.split(" = ", 1)
            out[oid.strip().lstrip(".")] = value.split(": ", 1)[-1].strip()
    return out


def _modbus(agent: SimThread, device_name: str, point_name: str) -> float:
    """One point of a device read over Modbus TCP from its gateway."""
    sim = agent.sim
    assert sim.inventory is not None
    device = sim.inventory.by_name[device_name]
    profile = sim.inventory.profiles[device.equipment]
    point = next(p for p in profile.points if p.name == point_name)
    client = ModbusTcpClient("127.0.0.1", port=agent.port(device.gateway), timeout=10)
    assert client.connect()
    try:
        reply = client.read_input_registers(
            point.address, count=point.registers, device_id=device.unit_id
        )
        assert not reply.isError(), reply
        return decode(reply.registers, point.type, profile.word_order_of(point), point.scale)
    finally:
        client.close()


def test_snmpget_v2c_reads_the_ups_as_modbus_does(agent: SimThread) -> None:
    ups = _names(agent, "ups")[0]
    power = [f"{UPS_MIB}.4.4.1.4.{line}" for line in (1, 2, 3)]
    got = _values(_net_snmp("snmpget", "-On", *_v2c(agent, ups), OUTPUT_SOURCE, CHARGE, *power))
    assert got[OUTPUT_SOURCE] == "3"  # normal
    output_kw = _modbus(agent, ups, "output_kw")
    assert output_kw > 10.0
    snmp_w = sum(int(got[oid]) for oid in power)
    assert abs(snmp_w - 1e3 * output_kw) <= 3 + 1e-4 * 1e3 * output_kw  # per-line watts
    assert abs(int(got[CHARGE]) - _modbus(agent, ups, "battery_soc_pct")) <= 0.5 + 0.1


def test_snmpwalk_names_the_objects_with_the_shipped_mibs(agent: SimThread) -> None:
    ups = _names(agent, "ups")[0]
    text = _net_snmp("snmpwalk", "-m", "UPS-MIB:SNMPv2-MIB", *_v2c(agent, ups), "1.3.6.1.2.1")
    assert f"SNMPv2-MIB::sysName.0 = STRING: {ups}" in text
    assert "UPS-MIB::upsOutputSource.0 = INTEGER: normal(3)" in text
    assert "UPS-MIB::upsBatteryStatus.0 = INTEGER: batteryNormal(2)" in text
    assert "UPS-MIB::upsOutputPower.3 = INTEGER:" in text
    assert "UPS-MIB::upsAlarmsPresent.0 = Gauge32: 0" in text


def test_snmpbulkwalk_v3_authpriv_reads_the_pdu_as_modbus_does(agent: SimThread) -> None:
    pdu = _names(agent, "pdu")[0]
    text = _net_snmp("snmpbulkwalk", "-On", "-Cr20", *_v3(agent, pdu), INLET_VALUE)
    got = _values(text)
    assert len(got) == 6 and text.count("No more variables") <= 1  # once, at the end
    inlet_w = float(got[f"{INLET_VALUE}.5"])  # activePower, 0 decimal digits
    expected = 1e3 * (_modbus(agent, pdu, "power_kw") + _modbus(agent, pdu, "loss_kw"))
    assert expected > 1e3 and abs(inlet_w - expected) <= 1.0 + 1e-4 * expected
    assert got[f"{INLET_VALUE}.7"] == "100"  # powerFactor 1.00 at 2 decimal digits
    named = _net_snmp("snmpwalk", "-m", "TWIN-PDU2-SUBSET-MIB", *_v3(agent, pdu),
                      "1.3.6.1.4.1.13742.6.3.3.4.1.7")  # fmt: skip
    assert "inletSensorDecimalDigits.1.1.rmsCurrent = Gauge32: 3" in named


def test_v3_with_a_wrong_key_is_refused(agent: SimThread) -> None:
    pdu = _names(agent, "pdu")[0]
    with pytest.raises(AssertionError, match=r"(?i)authentication|decryption|timeout"):
        _net_snmp("snmpget", *_v3(agent, pdu, auth="not-the-key-1"), f"{INLET_VALUE}.5")


def test_unknown_objects_and_instances(agent: SimThread) -> None:
    ups = _names(agent, "ups")[0]
    text = _net_snmp("snmpget", *_v2c(agent, ups), f"{UPS_MIB}.2.5.0", f"{UPS_MIB}.4.4.1.4.9")
    assert "No Such Object" in text  # upsBatteryVoltage: not modelled
    assert "No Such Instance" in text  # an output line this UPS does not have


def test_utility_loss_moves_the_ups_to_battery_and_raises_the_alarm(agent: SimThread) -> None:
    ups = _names(agent, "ups")[0]
    plant = agent.sim.plant
    assert plant is not None
    agent.run(lambda: plant.command("event", event=make_event(plant, "utility_loss")))
    agent.step(3)
    assert int(_modbus(agent, ups, "status")) & 0b10  # Modbus says on battery too
    got = _values(_net_snmp("snmpget", "-On", *_v2c(agent, ups), OUTPUT_SOURCE, ALARMS_PRESENT))
    assert got[OUTPUT_SOURCE] == "5"  # battery
    assert int(got[ALARMS_PRESENT]) >= 1
    alarms = _net_snmp("snmpwalk", "-m", "UPS-MIB", *_v2c(agent, ups), f"{UPS_MIB}.6.2.1.2")
    assert "UPS-MIB::upsAlarmOnBattery" in alarms
    agent.step(2)  # the generators need over 10 s: still on battery, two seconds later
    seconds = _values(_net_snmp("snmpget", "-On", *_v2c(agent, ups), f"{UPS_MIB}.2.2.0"))
    assert int(seconds[f"{UPS_MIB}.2.2.0"]) >= 2
    # the generators pick up (start delay, transfer, rectifier walk-in): back to normal
    for _ in range(60):
        agent.step(5)
        got = _values(_net_snmp("snmpget", "-On", *_v2c(agent, ups), OUTPUT_SOURCE))
        if got[OUTPUT_SOURCE] == "3":
            break
    assert got[OUTPUT_SOURCE] == "3"
    alarms = _net_snmp("snmpwalk", "-m", "UPS-MIB", *_v2c(agent, ups), f"{UPS_MIB}.6.2.1.2")
    assert "upsAlarmOnBattery" not in alarms


def test_an_offline_device_is_silent_the_others_answer(agent: SimThread) -> None:
    pdus = _names(agent, "pdu")
    agent.run(lambda: agent.sim.inject(DeviceFault(device=pdus[0], kind="offline", duration_s=600)))
    try:
        with pytest.raises(AssertionError, match=r"(?i)timeout"):
            _net_snmp("snmpget", *_v2c(agent, pdus[0]), f"{INLET_VALUE}.5")
        assert "Gauge32" in _net_snmp("snmpget", *_v2c(agent, pdus[1]), f"{INLET_VALUE}.5")
    finally:
        agent.run(lambda: agent.sim.faults.active.clear())


def test_malformed_datagrams_leave_the_agent_answering(
    agent: SimThread, caplog: pytest.LogCaptureFixture
) -> None:
    assert agent.sim.snmp is not None
    port = agent.sim.snmp.port
    ups = _names(agent, "ups")[0]
    valid = _request(f"public@{ups}")
    rng = random.Random(15)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(400):  # bounded: random bytes, truncations, bit flips, huge lengths
            kind = i % 4
            if kind == 0:
                data = rng.randbytes(rng.randint(0, 200))
            elif kind == 1:
                data = valid[: rng.randint(0, len(valid) - 1)]
            elif kind == 2:
                flipped = bytearray(valid)
                for _ in range(rng.randint(1, 4)):
                    flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
                data = bytes(flipped)
            elif kind == 3 and i % 8 == 3:
                data = b"\x30\x84\xff\xff\xff\xff" + rng.randbytes(20)
            else:  # an SNMPv3 header with garbage where the security parameters go
                data = bytes.fromhex("3081a0020103301102") + rng.randbytes(rng.randint(0, 150))
            with caplog.at_level(logging.ERROR):
                sock.sendto(data, ("127.0.0.1", port))
    text = _net_snmp("snmpget", "-On", *_v2c(agent, ups), OUTPUT_SOURCE)
    assert OUTPUT_SOURCE in text
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, tracebacks[0].getMessage()


def _request(community: str) -> bytes:
    """A well-formed v2c GET of upsOutputSource.0, encoded by pysnmp (to be mangled)."""
    from pyasn1.codec.ber import encoder
    from pysnmp.proto import api

    proto = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    pdu = proto.GetRequestPDU()
    proto.apiPDU.set_defaults(pdu)
    proto.apiPDU.set_varbinds(
        pdu, [(tuple(int(x) for x in OUTPUT_SOURCE.split(".")), proto.Null(""))]
    )
    message = proto.Message()
    proto.apiMessage.set_defaults(message)
    proto.apiMessage.set_community(message, community)
    proto.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)


def _twin_sim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", "sim", "aidc-10mw", "--modbus-port", "0",
         "--no-opcua", "--snmp-port", "0", "--duration", "1", "--speed", "10", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_twin_sim_serves_snmp_with_v3_keys_from_a_file(tmp_path: Path) -> None:
    credentials = tmp_path / "snmp.toml"
    credentials.write_text(
        f'community = "ops"\n[[users]]\nname = "twin"\nauth_key = "{AUTH}"\npriv_key = "{PRIV}"\n'
    )
    done = _twin_sim("--snmp-credentials", str(credentials))
    assert done.returncode == 0, done.stderr
    line = next(row for row in done.stdout.splitlines() if row.startswith("snmp"))
    assert "ups" in line and "pdu" in line and "v2c v3" in line
    assert AUTH not in done.stdout + done.stderr  # keys never printed


def test_twin_sim_refuses_bad_snmp_credentials_naming_the_key(tmp_path: Path) -> None:
    credentials = tmp_path / "snmp.toml"
    credentials.write_text('[[users]]\nname = "twin"\nauth_key = "short"\npriv_key = "x"\n')
    done = _twin_sim("--snmp-credentials", str(credentials))
    assert done.returncode == 2, done.stderr
    assert "snmp.toml" in done.stderr and "users.0.auth_key" in done.stderr
    assert "Traceback" not in done.stderr
