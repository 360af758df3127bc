"""Every point of aidc-10mw read over Modbus and over OPC UA matches the plant value.

The dry coolers, which aidc-10mw does not have, are checked the same way on aidc-10mw-dry.
"""

from __future__ import annotations

import math

import numpy as np
from asyncua import ua
from asyncua.sync import Client
from pymodbus.client import ModbusTcpClient

from twin.devices.image import point_value
from twin.points.codec import decode, resolution

from .simthread import SimThread

READERS = {
    "input": "read_input_registers",
    "holding": "read_holding_registers",
    "discrete": "read_discrete_inputs",
    "coil": "read_coils",
}


def _close(got: float, want: float, point_type: str, scale: float) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    return abs(got - want) <= resolution(point_type, scale, want) + 1e-9


def _modbus_round_trip(served: SimThread, equipment: set[str] | None = None) -> int:
    """Read every point of the devices (of ``equipment``) over Modbus; the number checked."""
    sim = served.sim
    assert sim.inventory is not None
    served.step()
    clients: dict[int, ModbusTcpClient] = {}
    checked = 0
    try:
        for device in sim.inventory.devices:
            if equipment is not None and device.equipment not in equipment:
                continue
            client = clients.get(device.gateway)
            if client is None:
                client = ModbusTcpClient("127.0.0.1", port=served.port(device.gateway), timeout=10)
                assert client.connect()
                clients[device.gateway] = client
            profile = sim.inventory.profiles[device.equipment]
            image = sim.images[device.equipment]
            values = sim.last_values[device.equipment]
            for table, reader in READERS.items():
                span = image.tables[table].shape[1]
                if span == 0:
                    continue
                reply = getattr(client, reader)(0, count=span, device_id=device.unit_id)
                assert not reply.isError(), (device.name, table, reply)
                words = reply.registers if table in ("input", "holding") else reply.bits
                for point in (p for p in profile.points if p.table == table):
                    raw = words[point.address : point.address + point.registers]
                    got = decode(raw, point.type, profile.word_order_of(point), point.scale)
                    want = float(point_value(point, values)[device.row])
                    assert _close(got, want, point.type, point.scale), (
                        device.name,
                        point.name,
                        got,
                        want,
                    )
                    checked += 1
    finally:
        for client in clients.values():
            client.close()
    return checked


def _points_of(served: SimThread, equipment: str) -> int:
    sim = served.sim
    assert sim.inventory is not None
    return len(sim.inventory.bindings[equipment]) * len(sim.inventory.profiles[equipment].points)


def test_every_point_round_trips_over_modbus(served: SimThread) -> None:
    assert _modbus_round_trip(served) > 1700  # every point of every device


def test_drycooler_points_round_trip_over_modbus(served_dry: SimThread) -> None:
    checked = _modbus_round_trip(served_dry, {"drycooler"})
    assert checked == _points_of(served_dry, "drycooler") == 12 * 9  # 12 units, 9 points
    values = served_dry.sim.last_values["drycooler"]
    assert values["fan_speed_pct"][0] > 0  # the loop rejects heat: the fans run


def test_bindings_are_the_plant_readings(served: SimThread) -> None:
    """Spot checks that the values served are the plant's own, in the profile's units."""
    sim = served.sim
    assert sim.plant is not None and sim.inventory is not None
    r = sim.plant.readings
    meter = sim.last_values["site-meter"]
    assert meter["it_power_kw"][0] == r.power.it_power_w / 1e3
    assert meter["utility_power_kw"][0] == r.power.utility_power_w / 1e3
    gpu = sim.inventory.bindings["gpu-rack"]
    index = sim.plant.layout.racks.name.index(gpu.names[0])
    assert sim.last_values["gpu-rack"]["power_kw"][0] == r.racks.power_w[index] / 1e3
    assert sim.last_values["gpu-rack"]["t_cold_plate_c"][0] == r.racks.t_cold_plate_c[index]
    cdu = sim.last_values["cdu"]
    assert cdu["t_supply_c"][0] == sim.plant.t_tcs_supply[0]
    pdus = sim.last_values["pdu"]["power_kw"]
    np.testing.assert_array_equal(pdus, np.asarray(r.power.pdu_power_w) / 1e3)


def _opcua_round_trip(served: SimThread, equipment: set[str] | None = None) -> int:
    """Read every point of the devices (of ``equipment``) over OPC UA; the number checked."""
    sim = served.sim
    assert sim.inventory is not None and sim.opcua is not None
    served.step()
    nodes: list[ua.NodeId] = []
    expected: list[tuple[str, float, str, float]] = []
    for device in sim.inventory.devices:
        if equipment is not None and device.equipment not in equipment:
            continue
        profile = sim.inventory.profiles[device.equipment]
        values = sim.last_values[device.equipment]
        for point in profile.points:
            nodes.append(ua.NodeId(f"{device.name}.{point.name}", 2))
            want = float(point_value(point, values)[device.row])
            expected.append((f"{device.name}.{point.name}", want, point.type, point.scale))
    with Client(sim.opcua.endpoint, timeout=30) as client:
        got: list = []
        for start in range(0, len(nodes), 500):
            got += client.read_values([client.get_node(n) for n in nodes[start : start + 500]])
    assert len(got) == len(expected)
    for value, (name, want, point_type, scale) in zip(got, expected, strict=True):
        assert _close(float(value), want, point_type, scale), (name, value, want)
    return len(got)


def test_every_point_round_trips_over_opcua(served: SimThread) -> None:
    sim = served.sim
    assert sim.opcua is not None
    assert _opcua_round_trip(served) > 1700
    with Client(sim.opcua.endpoint, timeout=30) as client:
        units = client.get_node(ua.NodeId("hall-1-cdu1.t_supply_c.EngineeringUnits", 2))
        assert units.read_value().DisplayName.Text == "°C"
        low_high = client.get_node(ua.NodeId("hall-1-cdu1.t_supply_c.EURange", 2)).read_value()
        assert (low_high.Low, low_high.High) == (0.0, 80.0)


def test_drycooler_points_round_trip_over_opcua(served_dry: SimThread) -> None:
    sim = served_dry.sim
    assert sim.opcua is not None
    assert _opcua_round_trip(served_dry, {"drycooler"}) == _points_of(served_dry, "drycooler")
    with Client(sim.opcua.endpoint, timeout=30) as client:
        # one DryCoolerType, instantiated per unit, with units and ranges on analog values
        unit = client.get_node(ua.NodeId("fw-drycooler-12", 2))
        assert unit.read_type_definition() == ua.NodeId("DryCoolerType", 2)
        t_out = ua.NodeId("fw-drycooler-12.t_water_out_c.EngineeringUnits", 2)
        assert client.get_node(t_out).read_value().DisplayName.Text == "°C"
        dry_bulb = client.get_node(ua.NodeId("fw-drycooler-12.t_dry_bulb_c.EURange", 2))
        low_high = dry_bulb.read_value()
        assert (low_high.Low, low_high.High) == (-50.0, 60.0)
