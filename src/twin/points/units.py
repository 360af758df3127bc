"""Units a point may carry, with their UN/CEFACT codes (OPC UA EngineeringUnits).

OPC UA Part 8 identifies a unit by its UN/CEFACT Common Code packed into an
integer: each of up to three ASCII characters shifted into one 24-bit number.

>>> unece_unit_id("CEL")
4408652
>>> UNITS["degC"].code
'CEL'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UNECE_NAMESPACE", "UNITS", "Unit", "unece_unit_id"]

UNECE_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"


@dataclass(frozen=True)
class Unit:
    symbol: str  # what a display shows
    code: str  # UN/CEFACT common code
    description: str


#: Units allowed in profiles, by the spelling used in profiles and the point registry.
UNITS: dict[str, Unit] = {
    "": Unit("", "C62", "one (dimensionless, states and counts)"),
    "degC": Unit("°C", "CEL", "degree Celsius"),
    "kW": Unit("kW", "KWT", "kilowatt"),
    "kWh": Unit("kWh", "KWH", "kilowatt hour"),
    "pct": Unit("%", "P1", "percent"),
    "lpm": Unit("L/min", "L2", "litre per minute"),
    "m3/h": Unit("m³/h", "MQH", "cubic metre per hour"),
    "kg/s": Unit("kg/s", "KGS", "kilogram per second"),
    "L/h": Unit("L/h", "E32", "litre per hour"),
    "h": Unit("h", "HUR", "hour"),
    "rpm": Unit("r/min", "RPM", "revolutions per minute"),
    "V": Unit("V", "VLT", "volt"),
    "Hz": Unit("Hz", "HTZ", "hertz"),
}


def unece_unit_id(code: str) -> int:
    """UnitId of a UN/CEFACT common code (OPC UA Part 8, EUInformation)."""
    value = 0
    for char in code:
        value = (value << 8) | ord(char)
    return value
