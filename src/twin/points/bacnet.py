"""BACnet/IP addressing of a point: the vocabulary both ends share, and the registry's columns.

A BACnet point is a property of an object of a device (ASHRAE 135, clause 12):
the device is reached at a BACnet/IP address (``host:port``, UDP) and named by its
device instance; the object by its type and instance; the property by its
identifier (``present-value`` unless stated). The registry columns are:

=======================  =========================================================
bacnet_address           ``host:port`` of the device (BACnet/IP, UDP; 47808 = 0xBAC0)
bacnet_device            device instance (0 … 4194302)
bacnet_object_type       ``analog-input``, ``binary-value``… (:data:`OBJECT_TYPES`)
bacnet_object_instance   object instance (0 … 4194302)
bacnet_property          property identifier, default ``present-value``
                         (:data:`PROPERTIES`)
bacnet_priority          priority of a setpoint write (1 … 16; default 16, or the
                         collector's configured one)
=======================  =========================================================

Names are the standard's, spelled with hyphens (``analog-input``,
``present-value``); the camel case some tools print (``analogInput``,
``presentValue``) is accepted and normalised.

Examples
--------
>>> normalise("presentValue")
'present-value'
>>> normalise("Analog-Input")
'analog-input'
>>> parse_address("127.0.0.1:47809")
('127.0.0.1', 47809)
>>> BACNET_UNITS["degC"]
('degrees-celsius', 62)
"""

from __future__ import annotations

import re
from typing import Protocol

#: The registry columns of a BACnet point, in the order ``twin points`` prints them.
COLUMNS = (
    "bacnet_address",
    "bacnet_device",
    "bacnet_object_type",
    "bacnet_object_instance",
    "bacnet_property",
    "bacnet_priority",
)

#: Object types a point may be read from (the ones whose present value is a number,
#: a boolean state or a state number).
OBJECT_TYPES = (
    "analog-input",
    "analog-output",
    "analog-value",
    "binary-input",
    "binary-output",
    "binary-value",
    "multi-state-input",
    "multi-state-output",
    "multi-state-value",
)
#: Object types whose present value is commandable through a priority array (135 cl. 19.2)
COMMANDABLE = ("analog-output", "analog-value", "binary-output", "binary-value")
BINARY = ("binary-input", "binary-output", "binary-value")

#: Properties a point may read: numbers (or a binary / state number) of these objects.
PROPERTIES = (
    "present-value",
    "relinquish-default",
    "cov-increment",
    "high-limit",
    "low-limit",
    "deadband",
    "min-pres-value",
    "max-pres-value",
)

#: The largest object or device instance (22 bits; 4194303 is "unconfigured").
MAX_INSTANCE = 4194302
DEFAULT_PRIORITY = 16

#: Our units → BACnet engineering units (name, enumeration value; 135 cl. 21).
BACNET_UNITS: dict[str, tuple[str, int]] = {
    "": ("no-units", 95),
    "degC": ("degrees-celsius", 62),
    "kW": ("kilowatts", 48),
    "kWh": ("kilowatt-hours", 19),
    "pct": ("percent", 98),
    "lpm": ("liters-per-minute", 88),
    "m3/h": ("cubic-meters-per-hour", 135),
    "kg/s": ("kilograms-per-second", 42),
    "L/h": ("liters-per-hour", 136),
    "h": ("hours", 71),
    "rpm": ("revolutions-per-minute", 104),
    "V": ("volts", 5),
    "Hz": ("hertz", 27),
}
#: BACnet engineering unit number → our unit (what discovery writes in a draft).
UNIT_OF_BACNET: dict[int, str] = {number: ours for ours, (_, number) in BACNET_UNITS.items()}

_HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+):(?P<port>\d{1,5})$")


def normalise(name: str) -> str:
    """``presentValue`` / ``Present-Value`` / ``present_value`` → ``present-value``."""
    text = re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", name.strip())
    return text.replace("_", "-").lower()


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` of a BACnet/IP device; ValueError says what is wrong."""
    match = _HOST_PORT.match(text.strip())
    if not match:
        raise ValueError(f"expected host:port (BACnet/IP, e.g. 127.0.0.1:47808), got {text!r}")
    port = int(match["port"])
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be in [1, 65535], got {port}")
    return match["host"], port


class _RowLike(Protocol):
    def text(self, column: str) -> str: ...
    def integer(
        self, column: str, low: int, high: int, default: int | None = None
    ) -> int | None: ...
    def fail(self, column: str, message: str) -> Exception: ...


def parse_columns(row: _RowLike) -> dict[str, object]:
    """The ``bacnet_*`` columns of a registry row as PointDef fields ({} when absent).

    Every problem raises the row's error naming the column.
    """
    address = row.text("bacnet_address")
    named = [c for c in COLUMNS if row.text(c)]
    if not address:
        if named:
            raise row.fail("bacnet_address", f"{named[0]} is given but no bacnet_address")
        return {}
    try:
        parse_address(address)
    except ValueError as error:
        raise row.fail("bacnet_address", str(error)) from None
    device = row.integer("bacnet_device", 0, MAX_INSTANCE)
    if device is None:
        raise row.fail("bacnet_device", "a BACnet point needs its device instance")
    object_type = normalise(row.text("bacnet_object_type"))
    if object_type not in OBJECT_TYPES:
        raise row.fail(
            "bacnet_object_type",
            f"unknown object type {row.text('bacnet_object_type')!r}; "
            f"valid: {', '.join(OBJECT_TYPES)}",
        )
    instance = row.integer("bacnet_object_instance", 0, MAX_INSTANCE)
    if instance is None:
        raise row.fail("bacnet_object_instance", "a BACnet point needs its object instance")
    prop = normalise(row.text("bacnet_property") or "present-value")
    if prop not in PROPERTIES:
        raise row.fail(
            "bacnet_property",
            f"unknown property {row.text('bacnet_property')!r}; valid: {', '.join(PROPERTIES)}",
        )
    priority = row.integer("bacnet_priority", 1, 16)
    return {
        "bacnet_address": address,
        "bacnet_device": device,
        "bacnet_object_type": object_type,
        "bacnet_object_instance": instance,
        "bacnet_property": prop,
        "bacnet_priority": priority,
    }
