"""Registry rows that read a simulated site's UPSs and PDUs over SNMP (``twin sim --snmp-port``).

The same CSV format as ``twin points`` (:data:`twin.points.registry.COLUMNS`), with
the ``snmp_`` columns filled and no Modbus or OPC UA addressing, so a collector reads
these points over SNMP only. Point names follow the Modbus profile where the
quantity is the same (``<ups>.output_kw``, ``<ups>.battery_soc_pct``,
``<ups>.on_battery``), so the site metrics find them by role; SNMP-only
quantities have names of their own (``<ups>.output_source``,
``<ups>.minutes_remaining``, ``<pdu>.inlet_kw``).
"""

from __future__ import annotations

import csv
from typing import TextIO

from twin.devices.inventory import Inventory
from twin.devices.registry import ROLES
from twin.devices.snmp_mibs import (
    ALARM_LOW_BATTERY,
    ALARM_ON_BATTERY,
    INLET_SENSORS,
    MEASUREMENTS_INLET_SENSOR_ENTRY,
    UPS_OBJECTS,
)
from twin.points.registry import COLUMNS
from twin.points.snmp import SNMP_COLUMNS

Oid = tuple[int, ...]


def _dotted(*oids: Oid) -> str:
    return "+".join(".".join(map(str, oid)) for oid in oids)


def _lines(column: tuple[int, ...]) -> str:
    return _dotted(*((*column, line) for line in (1, 2, 3)))


OUTPUT_POWER = (*UPS_OBJECTS, 4, 4, 1, 4)
OUTPUT_LOAD = (*UPS_OBJECTS, 4, 4, 1, 5)
INPUT_POWER = (*UPS_OBJECTS, 3, 3, 1, 5)

#: equipment → (point, unit, OID text, snmp_type, scale, description)
POINTS: dict[str, list[tuple[str, str, str, str, float, str]]] = {
    "ups": [
        ("output_kw", "kW", _lines(OUTPUT_POWER), "integer", 1e-3, "upsOutputPower, 3 lines"),
        ("input_kw", "kW", _lines(INPUT_POWER), "integer", 1e-3, "upsInputTruePower, 3 lines"),
        ("load_pct", "pct", _lines(OUTPUT_LOAD), "integer", 1 / 3, "upsOutputPercentLoad, mean"),
        (
            "battery_soc_pct",
            "pct",
            _dotted((*UPS_OBJECTS, 2, 4, 0)),
            "integer",
            1.0,
            "upsEstimatedChargeRemaining",
        ),
        (
            "minutes_remaining",
            "min",
            _dotted((*UPS_OBJECTS, 2, 3, 0)),
            "integer",
            1.0,
            "upsEstimatedMinutesRemaining",
        ),
        (
            "seconds_on_battery",
            "s",
            _dotted((*UPS_OBJECTS, 2, 2, 0)),
            "integer",
            1.0,
            "upsSecondsOnBattery",
        ),
        (
            "output_source",
            "",
            _dotted((*UPS_OBJECTS, 4, 1, 0)),
            "integer",
            1.0,
            "upsOutputSource (3 normal, 4 bypass, 5 battery)",
        ),
        (
            "alarms_present",
            "",
            _dotted((*UPS_OBJECTS, 6, 1, 0)),
            "gauge32",
            1.0,
            "upsAlarmsPresent",
        ),
        (
            "on_battery",
            "",
            _dotted(ALARM_ON_BATTERY),
            "ups-alarm",
            1.0,
            "upsAlarmOnBattery in upsAlarmTable",
        ),
        (
            "low_battery",
            "",
            _dotted(ALARM_LOW_BATTERY),
            "ups-alarm",
            1.0,
            "upsAlarmLowBattery in upsAlarmTable",
        ),
    ],
    "pdu": [
        (
            "inlet_kw",
            "kW",
            _dotted((*MEASUREMENTS_INLET_SENSOR_ENTRY, 4, 1, 1, 5)),
            "gauge32",
            10.0 ** -INLET_SENSORS[5][0] * 1e-3,
            "PDU2-MIB inlet activePower",
        ),
        (
            "current_a",
            "A",
            _dotted((*MEASUREMENTS_INLET_SENSOR_ENTRY, 4, 1, 1, 1)),
            "gauge32",
            10.0 ** -INLET_SENSORS[1][0],
            "PDU2-MIB inlet rmsCurrent",
        ),
        (
            "inlet_energy_kwh",
            "kWh",
            _dotted((*MEASUREMENTS_INLET_SENSOR_ENTRY, 4, 1, 1, 8)),
            "gauge32",
            10.0 ** -INLET_SENSORS[8][0] * 1e-3,
            "PDU2-MIB inlet activeEnergy",
        ),
    ],
}


def snmp_rows(
    inventory: Inventory,
    host: str,
    port: int,
    community: str = "public",
    user: str = "",
) -> list[dict[str, str]]:
    """Every SNMP point of every UPS and PDU; v3 (context = device) when ``user`` is given."""
    out: list[dict[str, str]] = []
    for device in inventory.devices:
        kind = inventory.profiles[device.equipment].equipment_class
        if kind not in POINTS or inventory.bindings[device.equipment].equipment != kind:
            continue
        for name, unit, oid, snmp_type, scale, description in POINTS[kind]:
            out.append(
                {
                    "point": f"{device.name}.{name}",
                    "device": device.name,
                    "equipment": kind,
                    "area": device.area,
                    "description": description,
                    "unit": unit,
                    "site": inventory.site,
                    "hall": device.area if device.area.startswith("hall") else "",
                    "role": ROLES.get((kind, name), ""),
                    "snmp_host": host,
                    "snmp_port": str(port),
                    "snmp_version": "3" if user else "2c",
                    "snmp_community": "" if user else f"{community}@{device.name}",
                    "snmp_user": user,
                    "snmp_context": device.name if user else "",
                    "snmp_oid": oid,
                    "snmp_type": snmp_type,
                    "snmp_scale": f"{scale:.12g}",
                }
            )
    return out


def write_snmp_csv(table: list[dict[str, str]], stream: TextIO) -> None:
    """The rows as a registry CSV: ``twin points``' columns, then the ``snmp_`` ones."""
    # the BACnet columns only where some device is served on BACnet (as twin points)
    bacnet = any(row.get("bacnet_address") for row in table)
    fields = [c for c in COLUMNS if bacnet or not c.startswith("bacnet_")]
    writer = csv.DictWriter(
        stream, fieldnames=(*fields, *SNMP_COLUMNS), lineterminator="\n", restval=""
    )
    writer.writeheader()
    writer.writerows(table)


def merge_rows(table: list[dict[str, str]], snmp: list[dict[str, str]]) -> list[dict[str, str]]:
    """``twin points``' rows with the SNMP addressing of the same points added to them.

    A point both protocols serve (``<ups>.output_kw``) becomes one row with both
    addressings, so the collector's ``prefer`` picks the protocol; SNMP-only points
    (``<ups>.output_source``) are added as rows of their own.
    """
    merged = [dict(row) for row in table]
    by_name = {row["point"]: row for row in merged}
    for row in snmp:
        existing = by_name.get(row["point"])
        if existing is None:
            merged.append(dict(row))
        else:
            existing.update({k: v for k, v in row.items() if k.startswith("snmp_")})
    return merged
