"""``twin discover snmp HOST``: walk an agent's standard MIBs into a registry draft.

What an integrator otherwise types from a PDF point list. The walk reads the
``system`` group (the device's name and description), UPS-MIB (RFC 1628:
battery, input and output lines, alarms) and the inlet sensors of Raritan PDU2-MIB
(values with their published decimal digits), with GETBULK, and writes one registry
row per object it recognises, with the syntax it saw (``snmp_type``) and the scale
the MIB's units call for (0.1 Hz, 0.1 A, W → kW). Rows for the on-battery and
low-battery alarms are added when the agent has the UPS-MIB alarm table. The draft
is meant to be edited: names, ranges, roles.
"""

from __future__ import annotations

import csv
from typing import TextIO

from pysnmp.proto import rfc1902

from twin.collect.snmp import SnmpAgentPoller, SnmpOptions, _Failure
from twin.points.registry import COLUMNS, PointDef
from twin.points.snmp import SNMP_COLUMNS, SnmpAddress

Oid = tuple[int, ...]
SYSTEM = (1, 3, 6, 1, 2, 1, 1)
UPS = (1, 3, 6, 1, 2, 1, 33, 1)
PDU2_DIGITS = (1, 3, 6, 1, 4, 1, 13742, 6, 3, 3, 4, 1, 7)
PDU2_VALUES = (1, 3, 6, 1, 4, 1, 13742, 6, 5, 2, 3, 1, 4)
ALARMS = {"on_battery": (*UPS, 6, 3, 2), "low_battery": (*UPS, 6, 3, 3)}

#: UPS-MIB object (OID under upsObjects, without the instance) → (name, unit, scale, role)
UPS_SCALARS: dict[Oid, tuple[str, str, float, str]] = {
    (2, 1): ("battery_status", "", 1.0, ""),
    (2, 2): ("seconds_on_battery", "s", 1.0, ""),
    (2, 3): ("minutes_remaining", "min", 1.0, ""),
    (2, 4): ("battery_soc_pct", "pct", 1.0, "battery_soc_pct"),
    (2, 5): ("battery_v", "V", 0.1, ""),
    (2, 6): ("battery_a", "A", 0.1, ""),
    (2, 7): ("t_battery_c", "degC", 1.0, ""),
    (3, 1): ("input_line_bads", "", 1.0, ""),
    (4, 1): ("output_source", "", 1.0, ""),
    (4, 2): ("output_hz", "Hz", 0.1, ""),
    (6, 1): ("alarms_present", "", 1.0, ""),
}
#: UPS-MIB table column → (name with {line}, unit, scale)
UPS_COLUMNS: dict[Oid, tuple[str, str, float]] = {
    (3, 3, 1, 2): ("input_hz_l{line}", "Hz", 0.1),
    (3, 3, 1, 3): ("input_v_l{line}", "V", 1.0),
    (3, 3, 1, 4): ("input_a_l{line}", "A", 0.1),
    (3, 3, 1, 5): ("input_kw_l{line}", "kW", 1e-3),
    (4, 4, 1, 2): ("output_v_l{line}", "V", 1.0),
    (4, 4, 1, 3): ("output_a_l{line}", "A", 0.1),
    (4, 4, 1, 4): ("output_kw_l{line}", "kW", 1e-3),
    (4, 4, 1, 5): ("output_load_l{line}_pct", "pct", 1.0),
}
#: PDU2-MIB sensor type → (name, unit, extra scale after the decimal digits)
PDU2_SENSORS = {
    1: ("inlet_current_a", "A", 1.0),
    4: ("inlet_voltage_v", "V", 1.0),
    5: ("inlet_kw", "kW", 1e-3),
    6: ("inlet_kva", "", 1e-3),
    7: ("inlet_power_factor", "", 1.0),
    8: ("inlet_energy_kwh", "kWh", 1e-3),
}
TYPES = {
    rfc1902.Integer32.tagSet: "integer",
    rfc1902.Gauge32.tagSet: "gauge32",
    rfc1902.Counter32.tagSet: "counter32",
    rfc1902.Counter64.tagSet: "counter64",
    rfc1902.TimeTicks.tagSet: "timeticks",
}


def _dotted(*oids: Oid) -> str:
    return "+".join(".".join(map(str, o)) for o in oids)


async def discover(address: SnmpAddress, options: SnmpOptions, device: str = "") -> list[dict]:
    """Registry rows for what the agent at ``address`` serves of the standard MIBs."""
    probe = PointDef(index=0, name="discover", device=device or address.host, equipment="",
                     unit="", snmp=address)  # fmt: skip
    poller = SnmpAgentPoller([probe], _engine(), options)
    try:
        system = dict(await poller._walk(SYSTEM))
    except _Failure as failure:
        raise RuntimeError(f"{address.host}:{address.port}: {failure.reason}") from None
    name = device or str(system.get((*SYSTEM, 5, 0), "") or address.host).strip() or address.host
    ups = await poller._walk(UPS)
    digits = dict(await poller._walk(PDU2_DIGITS))
    sensors = await poller._walk(PDU2_VALUES)
    rows: list[dict] = []
    equipment = "ups" if ups else "pdu" if sensors else "device"
    base = _base(address, name, equipment)

    def add(point: str, unit: str, oid: str, kind: str, scale: float, what: str, role: str = ""):
        rows.append({**base, "point": f"{name}.{point}", "unit": unit, "description": what,
                     "role": role, "snmp_oid": oid, "snmp_type": kind,
                     "snmp_scale": f"{scale:.12g}"})  # fmt: skip

    output_power: list[Oid] = []
    for oid, value in ups:
        rest = oid[len(UPS) :]
        kind = TYPES.get(value.tagSet)
        if kind is None:
            continue  # text, OIDs (the alarm table is read as ups-alarm rows below)
        if rest[:-1] in UPS_SCALARS and rest[-1] == 0:
            point, unit, scale, role = UPS_SCALARS[rest[:-1]]
            add(point, unit, _dotted(oid), kind, scale, f"UPS-MIB {_dotted(rest)}", role)
        elif rest[:-1] in UPS_COLUMNS:
            point, unit, scale = UPS_COLUMNS[rest[:-1]]
            add(point.format(line=rest[-1]), unit, _dotted(oid), kind, scale,
                f"UPS-MIB {_dotted(rest)}")  # fmt: skip
            if rest[:-1] == (4, 4, 1, 4):
                output_power.append(oid)
    if output_power:
        add("output_kw", "kW", _dotted(*output_power), "integer", 1e-3,
            "UPS-MIB upsOutputPower, all lines", "ups_output_kw")  # fmt: skip
    if any(oid[len(UPS) :] == (6, 1, 0) for oid, _ in ups):
        for point, alarm in ALARMS.items():
            add(point, "", _dotted(alarm), "ups-alarm", 1.0, f"UPS-MIB alarm {_dotted(alarm)}")
    for oid, value in sensors:
        index = oid[len(PDU2_VALUES) :]
        kind = TYPES.get(value.tagSet)
        if len(index) != 3 or kind is None or index[2] not in PDU2_SENSORS:
            continue
        point, unit, extra = PDU2_SENSORS[index[2]]
        places = int(digits.get((*PDU2_DIGITS, *index), 0))  # type: ignore[call-overload]
        suffix = "" if index[:2] == (1, 1) else f"_{index[0]}_{index[1]}"
        add(point + suffix, unit, _dotted(oid), kind, extra * 10.0**-places,
            f"PDU2-MIB inlet sensor {index[2]}, {places} decimal digits")  # fmt: skip
    poller.engine.close_dispatcher()
    return rows


def _engine():
    from pysnmp.entity.engine import SnmpEngine

    return SnmpEngine()


def _base(address: SnmpAddress, name: str, equipment: str) -> dict[str, str]:
    return {
        "device": name,
        "equipment": equipment,
        "snmp_host": address.host,
        "snmp_port": str(address.port),
        "snmp_version": address.version,
        "snmp_community": address.community,
        "snmp_user": address.user,
        "snmp_context": address.context,
    }


def write_draft(rows: list[dict], stream: TextIO, source: str) -> None:
    """The draft as a registry CSV, with a comment line saying where it came from."""
    stream.write(f"# registry draft from twin discover snmp {source}: edit names, ranges, roles\n")
    writer = csv.DictWriter(stream, fieldnames=(*COLUMNS, *SNMP_COLUMNS), lineterminator="\n",
                            extrasaction="ignore")  # fmt: skip
    writer.writeheader()
    writer.writerows(rows)


def cmd_discover_snmp(args: object) -> int:
    """``twin discover snmp``: print (or write) the draft; exit 1 when the agent is silent."""
    import asyncio
    import sys
    from pathlib import Path

    from twin.points.snmp import load_security

    a = args
    security = load_security(a.credentials)  # type: ignore[attr-defined]
    community = ""
    if a.version == "2c" and a.index:  # type: ignore[attr-defined]
        community = f"{security.community}@{a.index}"  # type: ignore[attr-defined]
    address = SnmpAddress(
        host=a.host, port=a.port, version=a.version, community=community,  # type: ignore[attr-defined]
        user=a.user or "", context=a.context or "", oids=((1, 3),), type="integer", scale=1.0,  # type: ignore[attr-defined]
    )  # fmt: skip
    if address.version == "3" and not address.user:
        print("twin discover snmp: --version 3 needs --user", file=sys.stderr)
        return 2
    options = SnmpOptions(security=security, timeout=a.timeout)  # type: ignore[attr-defined]
    try:
        rows = asyncio.run(discover(address, options, a.device or ""))  # type: ignore[attr-defined]
    except RuntimeError as error:
        print(f"twin discover snmp: {error}", file=sys.stderr)
        return 1
    source = f"{a.host}:{a.port}"  # type: ignore[attr-defined]
    if a.out is None:  # type: ignore[attr-defined]
        write_draft(rows, sys.stdout, source)
    else:
        with Path(a.out).open("w", encoding="utf-8") as stream:  # type: ignore[attr-defined]
            write_draft(rows, stream, source)
    print(f"{len(rows)} points found at {source}", file=sys.stderr)
    return 0 if rows else 1
