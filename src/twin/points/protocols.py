"""Which protocol reads a point: one rule for the collector and for the alarms.

A registry row may carry several addressings (a chiller's supply temperature is a
Modbus register and a BACnet analog input; a UPS's load is a Modbus register and
an SNMP object). The collector reads each point over one of them, and the alarm
engine must put the point on that same link, or a dead BACnet device would raise a
Modbus gateway alarm. Both ask :func:`protocol_of`.

A preference is an ordered list: ``("bacnet", "snmp", "modbus")`` reads every
point over BACnet where the row has it, else SNMP, else Modbus, as an integrator
chooses the plant room's native protocols first and the gateway last. A row with
none of the preferred addressings is read over what it has (Modbus, OPC UA,
BACnet, SNMP, in that order), never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["PROTOCOLS", "parse_protocols", "preference", "protocol_of"]

#: every protocol the collector speaks, in the fallback order for rows without
#: any preferred addressing
PROTOCOLS: tuple[str, ...] = ("modbus", "opcua", "bacnet", "snmp")


def preference(prefer: str | Iterable[str]) -> tuple[str, ...]:
    """The full order to try: the preferred protocols first, then the fallback."""
    chosen = (prefer,) if isinstance(prefer, str) else tuple(prefer)
    return tuple(dict.fromkeys((*chosen, *PROTOCOLS)))


def parse_protocols(text: str) -> tuple[str, ...]:
    """``"bacnet,snmp,modbus"`` → ``("bacnet", "snmp", "modbus")``.

    Raises
    ------
    ValueError
        Naming the unknown or repeated entry, and what is allowed.

    >>> parse_protocols("bacnet, snmp,modbus")
    ('bacnet', 'snmp', 'modbus')
    """
    names = [name.strip().lower() for name in str(text).split(",")]
    if not any(names):
        raise ValueError(f"no protocol given; one or more of {', '.join(PROTOCOLS)}")
    for name in names:
        if name not in PROTOCOLS:
            raise ValueError(f"unknown protocol {name!r}; one or more of {', '.join(PROTOCOLS)}")
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"protocol {twice!r} is listed twice")
    return tuple(names)


def protocol_of(
    point: object, prefer: str | Iterable[str] = "modbus", opcua_endpoint: str | None = None
) -> str:
    """The protocol ``point`` is read over under ``prefer``.

    ``opcua_endpoint`` is the collector's default OPC UA server: a row naming a node
    but no server of its own is read over OPC UA only where there is one, or where
    it has no other addressing (``None``: do not check, as the alarms do, since
    ``twin monitor`` refuses such a preference before it starts).
    """
    have = {
        "modbus": bool(getattr(point, "modbus", False)),
        "bacnet": bool(getattr(point, "bacnet", False)),
        "snmp": getattr(point, "snmp", None) is not None,
    }
    node = bool(getattr(point, "opcua_node_id", ""))
    reachable = opcua_endpoint is None or bool(
        getattr(point, "opcua_endpoint", "") or opcua_endpoint
    )
    have["opcua"] = node and (reachable or not have["modbus"])
    for protocol in preference(prefer):
        if have[protocol]:
            return protocol
    return "opcua" if node else "modbus"
