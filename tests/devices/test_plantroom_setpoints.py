"""Plant-room setpoints on the wire: the towers' and dry coolers' leaving-water setpoint.

A write to any tower (or dry cooler) of a loop sets that loop's setpoint, over
Modbus (a plain pymodbus client) and over OPC UA (asyncua); out-of-range writes
are refused (Modbus exception 03, OPC UA BadOutOfRange) and the plant is unchanged.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.sync import Client
from pymodbus.client import ModbusTcpClient

from twin.devices.inventory import build
from twin.devices.profiles import profiles_root
from twin.errors import ConfigError
from twin.plant.layout import assemble
from twin.points.codec import decode, encode
from twin.site import load_site

from .simthread import SimThread

SETPOINT = 0  # holding register of t_water_out_set_c (40001), INT16 × 0.1 °C
FAN_SPEED = 0  # input register of fan_speed_pct (30001), UINT16 × 0.1 %


def _raw(value: float) -> int:
    return int(encode([value], "int16", "ABCD", 0.1)[0][0])


class Gear:
    """Modbus clients to the devices of one site, by device name."""

    def __init__(self, served: SimThread) -> None:
        self.served = served
        self.clients: dict[int, ModbusTcpClient] = {}

    def _client(self, name: str) -> tuple[ModbusTcpClient, int]:
        assert self.served.sim.inventory is not None
        device = self.served.sim.inventory.device(name)
        client = self.clients.get(device.gateway)
        if client is None:
            client = ModbusTcpClient("127.0.0.1", port=self.served.port(device.gateway), timeout=10)
            assert client.connect()
            self.clients[device.gateway] = client
        return client, device.unit_id

    def setpoint(self, name: str) -> float:
        client, unit = self._client(name)
        reply = client.read_holding_registers(SETPOINT, count=1, device_id=unit)
        assert not reply.isError(), reply
        return round(decode(reply.registers, "int16", "ABCD", 0.1), 1)  # 0.1 °C steps

    def fan_speed(self, name: str) -> float:
        client, unit = self._client(name)
        reply = client.read_input_registers(FAN_SPEED, count=1, device_id=unit)
        assert not reply.isError(), reply
        return round(decode(reply.registers, "uint16", "ABCD", 0.1), 1)

    def write(self, name: str, value: float):  # type: ignore[no-untyped-def]
        client, unit = self._client(name)
        return client.write_register(SETPOINT, _raw(value), device_id=unit)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@pytest.fixture
def tower_site(served: SimThread) -> Iterator[tuple[SimThread, Gear]]:
    """aidc-10mw's towers; both loop setpoints are put back afterwards."""
    plant = served.sim.plant
    assert plant is not None
    fw, cw = served.run(lambda: (plant.t_fw_supply_set, plant.t_cw_supply_set))
    gear = Gear(served)
    try:
        yield served, gear
    finally:
        gear.close()
        served.run(lambda: plant.command("setpoint", point="t_fw_supply_c", value=fw))
        served.run(lambda: plant.command("setpoint", point="t_cw_supply_c", value=cw))
        served.step()


def test_tower_setpoint_over_modbus_moves_the_facility_water(tower_site) -> None:  # type: ignore[no-untyped-def]
    served, gear = tower_site
    plant = served.sim.plant
    fw, cw = served.run(lambda: (plant.t_fw_supply_set, plant.t_cw_supply_set))
    # each tower shows its own loop's setpoint
    assert [gear.setpoint(f"fw-tower-{i}") for i in (1, 2, 3)] == [fw] * 3
    assert [gear.setpoint(f"cw-tower-{i}") for i in (1, 2)] == [cw] * 2

    # out of range (profile 15-35 °C, where both loops' limits overlap) → 03, nothing moves
    for refused in (35.1, 14.9, 45.0):
        reply = gear.write("fw-tower-1", refused)
        assert reply.isError() and reply.exception_code == 3, (refused, reply)
    assert gear.setpoint("fw-tower-1") == fw
    assert served.run(lambda: list(plant.commands)) == []
    served.step()
    assert served.run(lambda: plant.t_fw_supply_set) == fw

    # a write to one tower of the loop sets the loop: every fw tower reads it back
    new = fw - 3.5
    t_before = served.run(lambda: float(plant.t_fw[0]))
    fan_before = gear.fan_speed("fw-tower-1")
    assert not gear.write("fw-tower-2", new).isError()
    served.step()
    assert served.run(lambda: plant.t_fw_supply_set) == pytest.approx(new)
    assert served.run(lambda: plant.t_cw_supply_set) == cw  # the other loop is untouched
    assert [gear.setpoint(f"fw-tower-{i}") for i in (1, 2, 3)] == [pytest.approx(new)] * 3
    assert gear.setpoint("cw-tower-1") == cw

    # plant time: the fans speed up and the supply temperature falls toward the setpoint.
    # Three minutes: the loop's water takes minutes to turn over, and in January the
    # tower sat below minimum fan (cycling) with the supply already under the old
    # setpoint, so the error, and the first minute's fall (0.7 K), are small.
    served.step(180)
    t_after = served.run(lambda: float(plant.t_fw[0]))
    assert gear.fan_speed("fw-tower-1") > fan_before
    assert t_after < t_before - 1.0, (t_before, t_after, new)
    assert t_after > new - 3.0  # toward the setpoint, not past it by far


def test_condenser_tower_setpoint_over_modbus_sets_the_condenser_loop(tower_site) -> None:  # type: ignore[no-untyped-def]
    served, gear = tower_site
    plant = served.sim.plant
    fw = served.run(lambda: plant.t_fw_supply_set)
    assert not gear.write("cw-tower-2", 30.5).isError()
    served.step()
    assert served.run(lambda: plant.t_cw_supply_set) == pytest.approx(30.5)
    assert served.run(lambda: plant.t_fw_supply_set) == fw
    assert gear.setpoint("cw-tower-1") == pytest.approx(30.5)
    assert gear.setpoint("fw-tower-1") == fw


def test_tower_setpoint_over_opcua(tower_site) -> None:  # type: ignore[no-untyped-def]
    served, gear = tower_site
    sim = served.sim
    plant = sim.plant
    assert sim.opcua is not None
    fw = served.run(lambda: plant.t_fw_supply_set)
    with Client(sim.opcua.endpoint, timeout=30) as client:
        node = client.get_node(ua.NodeId("cw-tower-1.t_water_out_set_c", 2))
        with pytest.raises(ua.UaStatusCodeError) as refused:
            node.write_value(ua.DataValue(ua.Variant(36.0, ua.VariantType.Float)))
        assert refused.value.code == ua.StatusCodes.BadOutOfRange
        assert served.run(lambda: list(plant.commands)) == []
        node.write_value(ua.DataValue(ua.Variant(29.5, ua.VariantType.Float)))
        served.step()
        assert served.run(lambda: plant.t_cw_supply_set) == 29.5
        assert served.run(lambda: plant.t_fw_supply_set) == fw
        other = client.get_node(ua.NodeId("cw-tower-2.t_water_out_set_c", 2))
        assert other.read_value() == 29.5  # loop-wide, also on the other protocol
    assert gear.setpoint("cw-tower-2") == 29.5


def test_drycooler_setpoint_over_both_protocols(served_dry: SimThread) -> None:
    sim = served_dry.sim
    plant = sim.plant
    assert plant is not None and sim.opcua is not None
    gear = Gear(served_dry)
    fw, cw = served_dry.run(lambda: (plant.t_fw_supply_set, plant.t_cw_supply_set))
    try:
        assert gear.setpoint("fw-drycooler-7") == fw
        # the dry coolers take the facility-water loop's own limits, 15-45 °C
        reply = gear.write("fw-drycooler-1", 45.5)
        assert reply.isError() and reply.exception_code == 3
        assert gear.setpoint("fw-drycooler-1") == fw
        assert served_dry.run(lambda: list(plant.commands)) == []

        # The served plant starts on 1 January in Urumqi (-13 °C): the dry coolers sit at
        # their minimum fan speed with the water far below any setpoint, so here the write
        # is checked on the wire; tests/plant/test_setpoints.py shows the loop following
        # it in summer.
        assert not gear.write("fw-drycooler-5", fw - 4.0).isError()
        served_dry.step()
        assert served_dry.run(lambda: plant.t_fw_supply_set) == pytest.approx(fw - 4.0)
        assert gear.setpoint("fw-drycooler-12") == pytest.approx(fw - 4.0)

        with Client(sim.opcua.endpoint, timeout=30) as client:
            node = client.get_node(ua.NodeId("fw-drycooler-3.t_water_out_set_c", 2))
            with pytest.raises(ua.UaStatusCodeError) as refused:
                node.write_value(ua.DataValue(ua.Variant(14.5, ua.VariantType.Float)))
            assert refused.value.code == ua.StatusCodes.BadOutOfRange
            node.write_value(ua.DataValue(ua.Variant(40.0, ua.VariantType.Float)))
            served_dry.step()
            assert served_dry.run(lambda: plant.t_fw_supply_set) == 40.0
        assert gear.setpoint("fw-drycooler-1") == 40.0
        assert served_dry.run(lambda: plant.t_cw_supply_set) == cw
    finally:
        gear.close()
        served_dry.run(lambda: plant.command("setpoint", point="t_fw_supply_c", value=fw))
        served_dry.step()


def test_a_profile_cannot_accept_what_the_plant_refuses(tmp_path: Path) -> None:
    """The tower map serves both loops: a max above the condenser loop's 35 °C is refused."""
    root = tmp_path / "profiles"
    shutil.copytree(profiles_root(), root)
    tower = root / "cooling" / "tower.toml"
    tower.write_text(tower.read_text().replace("max = 35.0", "max = 40.0"))
    with pytest.raises(ConfigError, match="t_cw_supply_c accepts \\[13, 35\\]") as error:
        build(assemble(load_site("aidc-10mw")), root)
    assert error.value.key == "points.7.max"
