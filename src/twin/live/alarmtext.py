"""Alarm messages for the operator: a sentence with the value in its unit, never a rule id.

A rule's ``message`` is a template with named fields in braces; the engine fills
them when the message is read (the value and the battery runtime are the present
ones). The value fields carry their unit already: ``{value}`` reads ``39.4 °C``,
not ``39.4201``.

==============  ==============================================================
``{source}``    what the alarm is about: a point, a device, a gateway, ``site``
``{device}``    the device of the point (the source itself for device alarms)
``{description}`` the point's description from the registry (else its name)
``{value}``     the present value with its unit (a state's label where given)
``{limit}``     the rule's limit with the same unit
``{count}``     sources in alarm (rules with ``per = "site"``; devices of a gateway)
``{total}``     sources the rule watches
``{worst}``     the source with the worst value (``per = "site"``)
``{runtime}``   estimated battery runtime at the present load (shortest of those in alarm)
``{reason}``    why a device's data is not fresh (comms alarms)
``{holds}``     the redundancy that holds now (redundancy rules)
``{required}``  the redundancy required
==============  ==============================================================

>>> format_value(39.4201, "degC")
'39.4 °C'
>>> format_value(9494.2, "kW")
'9,494 kW'
>>> format_value(0.524, "pct")
'0.52 %'
>>> format_value(0.0, "V")
'0 V'
>>> rate_unit("degC")
'K/min'
"""

from __future__ import annotations

import math
import string

from twin.points.units import UNITS

FIELDS = frozenset(
    {
        "source",
        "device",
        "description",
        "value",
        "limit",
        "count",
        "total",
        "worst",
        "runtime",
        "reason",
        "holds",
        "required",
    }
)


def display_unit(unit: str) -> str:
    """What a screen shows for a registry unit (``degC`` → ``°C``); unknown ones as given."""
    known = UNITS.get(unit)
    return known.symbol if known is not None else unit


def rate_unit(unit: str) -> str:
    """Unit of a rate of change per minute (a temperature difference is in kelvin)."""
    return ("K" if unit == "degC" else display_unit(unit) or "") + "/min"


def format_number(value: float) -> str:
    """Three significant figures or whole units, as a panel meter would show."""
    magnitude = abs(value)
    if value == 0:
        return "0"
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_value(value: float | None, unit: str, labels: dict[str, str] | None = None) -> str:
    """A value as the operator reads it: number and unit, a state's label, or "no value"."""
    if value is None or not math.isfinite(value):
        return "no value"
    if labels:
        key = f"{value:g}"
        if key in labels:
            return labels[key]
    symbol = unit if unit.endswith("/min") else display_unit(unit)
    text = format_number(value)
    return f"{text} {symbol}" if symbol else text


def format_minutes(minutes: float | None) -> str:
    if minutes is None or not math.isfinite(minutes):
        return "unknown"
    if minutes >= 120:
        return f"{minutes / 60:.1f} h"
    return f"{max(minutes, 0):.0f} min"


def template_fields(template: str) -> set[str]:
    """Field names a template uses; ValueError on a malformed one or a format spec."""
    names: set[str] = set()
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion:
            raise ValueError(
                f"message field {{{name}}}: no format specs, the value carries its unit already"
            )
        names.add(name)
    return names


def check_template(template: str) -> None:
    """Refuse unknown fields (a typo would show as text on the operator's screen)."""
    unknown = template_fields(template) - FIELDS
    if unknown:
        raise ValueError(
            f"message uses unknown field(s) {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(sorted(FIELDS))}"
        )


class _Fields(dict):
    def __missing__(self, key: str) -> str:  # never raise on the operator's screen
        return "?"


def fill(template: str, fields: dict[str, str]) -> str:
    """The template with its fields filled (a missing one reads ``?``)."""
    return string.Formatter().vformat(template, (), _Fields(fields))


#: Messages of rules that give none, by kind.
DEFAULTS = {
    "high": "{description} high: {value} (limit {limit})",
    "low": "{description} low: {value} (limit {limit})",
    "rate": "{description} changing fast: {value} (limit {limit})",
    "state": "{description}: {value}",
    "ashrae": "{description} above the allowable {limit}: {value}",
    "comms": "No fresh data from {source}: {reason}",
    "gateway": "Gateway {source} not answering: {count} of {total} devices behind it silent",
    "redundancy": "{source}: redundancy {holds}, {required} required",
    "pue": "PUE {value} above the target {limit}",
    "system": "{source}: {reason}",
}
