"""The point registry of a site as CSV: one row per point, as vendors' register maps read.

Columns (the collector reads the same format for real gear):

=================  ===========================================================
point              ``<device>.<point>``; bits of a status word are
                   ``<device>.<word>.<bit name>``
device, equipment  device name and equipment type (profile)
area               hall, electrical-room or cooling-plant
description, unit  what it is; unit as in profiles (degC, kW, kWh, pct, lpm…)
modbus_host/port   the gateway serving the device
unit_id            Modbus unit id of the device on that gateway
register_type      input_register, holding_register, discrete_input, coil
address            **0-based** protocol address (input 0 is "30001" in a manual)
data_type          int16 … uint64, float32, bool
word_order         ABCD (big-endian) or CDAB (word-swapped) for 32/64-bit values
scale              engineering value = raw × scale
bit                bit number inside a status word (0 = least significant)
opcua_node_id      node id on the site's OPC UA server
opcua_endpoint     ``opc.tcp://`` address of that server when the writer knows it
                   (empty: a collector told ``--prefer opcua`` has nowhere to read
                   the node from)
writable           yes/no; min, max: accepted range of a write
range_low/high     EURange (the span a display should expect)
site, hall         tags (hall is empty outside the halls)
role               what the point is to the site metrics (:data:`ROLES`), e.g.
                   ``it_input_kw`` (PUE category 3), ``facility_kw``
group              redundancy group ``<group>/<side>`` of UPS/HVDC systems and CDUs
rating             nameplate of the quantity where the binding knows it (kWh of a
                   UPS/HVDC battery on ``battery_soc_pct``: battery runtime)
=================  ===========================================================
"""

from __future__ import annotations

import csv
from typing import TextIO

from twin.devices.bacnet_layout import BacnetPlan, registry_columns
from twin.devices.bindings import COOLING_PLANT, ELECTRICAL_ROOM
from twin.devices.inventory import Inventory
from twin.devices.profiles import Point
from twin.points.registry import COLUMNS

#: Role of a profile point in the site metrics (twin.live.metrics reads these).
ROLES: dict[tuple[str, str], str] = {
    ("site-meter", "facility_power_kw"): "facility_kw",
    ("site-meter", "utility_power_kw"): "utility_kw",
    ("site-meter", "generator_power_kw"): "generator_kw",
    ("site-meter", "utility_energy_kwh"): "facility_energy_kwh",
    ("site-meter", "it_energy_kwh"): "it_input_energy_kwh",
    ("site-meter", "water_l_per_h"): "water_l_per_h",
    ("ups", "output_kw"): "ups_output_kw",
    ("ups", "load_pct"): "ups_load_pct",
    ("ups", "loss_kw"): "power_loss_kw",
    ("ups", "battery_soc_pct"): "battery_soc_pct",
    ("hvdc", "output_kw"): "ups_output_kw",
    ("hvdc", "load_pct"): "ups_load_pct",
    ("hvdc", "loss_kw"): "power_loss_kw",
    ("hvdc", "battery_soc_pct"): "battery_soc_pct",
    # the paths facility metering may miss (twin.live.metrics: a PUE is not good then)
    ("ups", "on_battery"): "on_battery",
    ("hvdc", "on_battery"): "on_battery",
    ("generator", "running"): "generator_running",
    ("pdu", "power_kw"): "pdu_output_kw",
    ("pdu", "loss_kw"): "power_loss_kw",
    ("transformer", "loss_kw"): "power_loss_kw",
    ("rack", "power_kw"): "it_input_kw",
    ("gpu-rack", "power_kw"): "it_input_kw",
    ("rack", "t_inlet_c"): "rack_inlet_c",
    ("gpu-rack", "t_inlet_c"): "rack_inlet_c",
    ("cdu", "pump_power_kw"): "cooling_kw",
    ("cdu", "heat_kw"): "cdu_heat_kw",
    ("chiller", "power_kw"): "cooling_kw",
    ("pump", "power_kw"): "cooling_kw",
    ("tower", "fan_power_kw"): "cooling_kw",
    ("drycooler", "fan_power_kw"): "cooling_kw",
    ("crah", "fan_power_kw"): "cooling_kw",
}

REGISTER_TYPES = {
    "input": "input_register",
    "holding": "holding_register",
    "discrete": "discrete_input",
    "coil": "coil",
}
OPCUA_NAMESPACE_INDEX = 2


def node_id(device: str, point: str) -> str:
    """OPC UA node id of a point (string ids; the site's namespace is index 2)."""
    return f"ns={OPCUA_NAMESPACE_INDEX};s={device}.{point}"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.12g}"


def opcua_endpoint(host: str, port: int) -> str:
    """The endpoint ``twin sim`` serves OPC UA on (:class:`~twin.devices.opcua_server`)."""
    return f"opc.tcp://{host}:{port}/twin/"


def rows(
    inventory: Inventory,
    host: str,
    ports: list[int],
    endpoint: str = "",
    bacnet: BacnetPlan | None = None,
) -> list[dict[str, str]]:
    """Every point of every device, in device order then profile order.

    ``endpoint`` fills the ``opcua_endpoint`` column: without it the node ids name
    nodes on no server, and only Modbus can read the rows. ``bacnet`` (where the
    BACnet/IP devices listen) fills the ``bacnet_*`` columns of the devices it serves.
    """
    out: list[dict[str, str]] = []
    for device in inventory.devices:
        profile = inventory.profiles[device.equipment]
        port = ports[device.gateway]
        for point in profile.points:
            for bit in [None, *(b for b, name in enumerate(point.bits) if name)]:
                row = _row(inventory, device.name, point, host, port, bit, endpoint)
                if bacnet is not None:
                    row.update(registry_columns(bacnet, profile, device.name, point, bit))
                out.append(row)
    return out


def _row(
    inventory: Inventory,
    device_name: str,
    point: Point,
    host: str,
    port: int,
    bit: int | None,
    endpoint: str,
) -> dict[str, str]:
    device = inventory.device(device_name)
    profile = inventory.profiles[device.equipment]
    equipment = profile.equipment_class
    instance = inventory.bindings[device.equipment].names[device.row]
    multi = point.registers > 1 and point.type != "bool"
    name = f"{device.name}.{point.name}"
    description = point.description
    if bit is not None:
        name = f"{name}.{point.bits[bit]}"
        description = f"{point.description}, bit {bit}: {point.bits[bit]}"
    low, high = point.range if point.range else (None, None)
    return {
        "point": name,
        "device": device.name,
        "equipment": equipment,
        "area": device.area,
        "description": description,
        "unit": point.unit if bit is None else "",
        "modbus_host": host,
        "modbus_port": str(port),
        "unit_id": str(device.unit_id),
        "register_type": REGISTER_TYPES[point.table],
        "address": str(point.address),
        "data_type": point.type,
        "word_order": profile.word_order_of(point) if multi else "",
        "scale": f"{point.scale:g}",
        "bit": "" if bit is None else str(bit),
        "opcua_node_id": node_id(device.name, point.name),
        "opcua_endpoint": endpoint,
        "writable": "yes" if point.writable and bit is None else "no",
        "min": _number(point.min) if bit is None else "",
        "max": _number(point.max) if bit is None else "",
        "range_low": _number(low),
        "range_high": _number(high),
        "site": inventory.site,
        "hall": "" if device.area in (ELECTRICAL_ROOM, COOLING_PLANT) else device.area,
        "role": (point.role or ROLES.get((equipment, point.name), "")) if bit is None else "",
        "group": _group(instance, equipment, device.area),
        "rating": _rating(inventory, device.equipment, device.row, point, bit),
    }


def _rating(inventory: Inventory, equipment: str, row: int, point: Point, bit: int | None) -> str:
    ratings = inventory.bindings[equipment].ratings
    if bit is not None or point.bits or point.source not in ratings:
        return ""
    return _number(float(ratings[point.source][row]))


def _group(name: str, equipment: str, area: str) -> str:
    """Redundancy group of power systems and CDUs: ``hall-1-hvdc/A``, ``hall-1-cdu``."""
    if equipment in ("ups", "hvdc"):
        side = name.rsplit("-", 1)[-1][:1]
        return f"{area}-{equipment}/{side}"
    return f"{area}-cdu" if equipment == "cdu" else ""


def write_csv(table: list[dict[str, str]], stream: TextIO) -> None:
    # the BACnet columns only where some device is served on BACnet: a registry of
    # Modbus and OPC UA gear reads as it did before they existed
    bacnet = any(row.get("bacnet_address") for row in table)
    fields = [c for c in COLUMNS if bacnet or not c.startswith("bacnet_")]
    writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(table)
