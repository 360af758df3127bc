"""The operator's monthly figures from stored history: energy-based PUE, WUE and CUE.

ISO/IEC 30134-2 defines PUE as facility energy over IT energy over the same period
(a year for a reported figure; shorter periods are interim), with a category that
says where IT energy was metered: PUE1 at UPS outputs, PUE2 at PDU outputs, PUE3 at
the IT equipment input. WUE (30134-9) is site water over IT energy [L/kWh]; CUE
(30134-8) is the CO2 of the facility energy over IT energy [kg/kWh].

The ``site`` records of the store (``src/twin/sinks/SCHEMA.md``) carry the facility
and IT power, and WUE and CUE as instantaneous ratios, only when good. Energy is the
trapezoid between consecutive good records no more than ``max_gap_s`` apart; water is
WUE × IT power and CO2 is CUE × IT power integrated the same way, so each month's
ratio is energy-weighted, never a mean of instants. Time a month was not covered
(gaps, bad data) is reported as coverage rather than filled in. Months are calendar
months in UTC.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from twin.errors import ConfigError

#: The category numbers the ``site`` record's ``pue_category`` field carries.
CATEGORY_NAMES = {
    1: "PUE1 (UPS output)",
    2: "PUE2 (PDU output)",
    3: "PUE3 (IT equipment input)",
}


@dataclass
class Month:
    """Sums of one calendar month of one site."""

    month: str  # "2026-03"
    facility_kwh: float = 0.0
    it_kwh: float = 0.0
    water_l: float = 0.0
    water_it_kwh: float = 0.0  # IT energy over the time WUE was known
    co2_kg: float = 0.0
    co2_it_kwh: float = 0.0
    covered_s: float = 0.0
    categories: set[int] = field(default_factory=set)

    def json(self) -> dict:
        year, month = (int(x) for x in self.month.split("-"))
        start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
        end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.UTC)
        category = (
            CATEGORY_NAMES.get(next(iter(self.categories)), "unknown")
            if len(self.categories) == 1
            else "mixed" if self.categories else "not stored"
        )  # fmt: skip
        return {
            "month": self.month,
            "pue": self.facility_kwh / self.it_kwh if self.it_kwh > 0 else None,
            "pue_category": category,
            "wue_l_per_kwh": self.water_l / self.water_it_kwh if self.water_it_kwh > 0 else None,
            "cue_kg_per_kwh": self.co2_kg / self.co2_it_kwh if self.co2_it_kwh > 0 else None,
            "facility_kwh": self.facility_kwh,
            "it_kwh": self.it_kwh,
            "water_l": self.water_l,
            "co2_kg": self.co2_kg,
            "covered_h": self.covered_s / 3600.0,
            "coverage": self.covered_s / (end - start).total_seconds(),
        }


def _unescape(text: str) -> str:
    return text.replace("\\ ", " ").replace("\\,", ",").replace("\\=", "=").replace("\\\\", "\\")


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` where it is not backslash-escaped."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_site_line(line: str) -> tuple[str, dict[str, float], int] | None:
    """``(site, fields, time_ns)`` of a ``site`` line of our line protocol, else ``None``."""
    parts = _split(line, " ")
    if len(parts) != 3:
        return None
    head, body, stamp = parts
    series = _split(head, ",")
    if _unescape(series[0]) != "site" or not stamp.lstrip("-").isdigit():
        return None
    tags = dict(_unescape(t).split("=", 1) for t in series[1:] if "=" in t)
    fields = {}
    for item in _split(body, ","):
        key, _, value = item.partition("=")
        try:
            fields[_unescape(key)] = float(value)
        except ValueError:
            continue  # not one of ours (floats only)
    return tags.get("site", ""), fields, int(stamp)


def monthly_history(lines: Iterable[str], max_gap_s: float = 300.0) -> dict[str, list[dict]]:
    """Each site's months (:meth:`Month.json`) from line-protocol ``site`` lines."""
    # A snapshot's metrics are one series each (tag ``metric``), stamped alike: the
    # lines of one site and instant are one row of fields again.
    instants: dict[str, dict[int, dict[str, float]]] = {}
    for line in lines:
        parsed = parse_site_line(line)
        if parsed is None:
            continue
        site, fields, stamp = parsed
        instants.setdefault(site, {}).setdefault(stamp, {}).update(fields)
    out = {}
    for site, by_stamp in instants.items():
        rows = sorted((stamp / 1e9, fields) for stamp, fields in by_stamp.items())
        months: dict[str, Month] = {}
        for (t0, a), (t1, b) in itertools.pairwise(rows):
            span = t1 - t0
            if span <= 0 or span > max_gap_s:
                continue
            if not all(k in a and k in b for k in ("facility_power_kw", "it_power_kw")):
                continue  # a record without good power readings: not covered
            key = dt.datetime.fromtimestamp(t0, dt.UTC).strftime("%Y-%m")
            m = months.setdefault(key, Month(key))
            hours = span / 3600.0
            it_kwh = 0.5 * (a["it_power_kw"] + b["it_power_kw"]) * hours
            m.facility_kwh += 0.5 * (a["facility_power_kw"] + b["facility_power_kw"]) * hours
            m.it_kwh += it_kwh
            m.covered_s += span
            if "pue_category" in a:
                m.categories.add(int(a["pue_category"]))
            for ratio, total, it_total in (
                ("wue_l_per_kwh", "water_l", "water_it_kwh"),
                ("cue_kg_per_kwh", "co2_kg", "co2_it_kwh"),
            ):
                if ratio in a and ratio in b:
                    flow = 0.5 * (a[ratio] * a["it_power_kw"] + b[ratio] * b["it_power_kw"])
                    setattr(m, total, getattr(m, total) + flow * hours)
                    setattr(m, it_total, getattr(m, it_total) + it_kwh)
        out[site] = [months[k].json() for k in sorted(months)]
    return out


def spool_history(path: Path, max_gap_s: float = 300.0) -> dict[str, list[dict]]:
    """:func:`monthly_history` of the ``site`` lines of an embedded store (a spool)."""
    from twin.sinks.errors import SpoolBusyError
    from twin.sinks.spool import DB_NAME, Spool

    if not (path / DB_NAME).is_file():
        raise ConfigError(path, f"no spool here (no {DB_NAME})")
    try:
        spool = Spool(path)
    except SpoolBusyError as error:
        raise ConfigError(path, f"the spool is in use by another process ({error})") from None
    with spool:
        return monthly_history(spool.lines(measurement="site"), max_gap_s)
