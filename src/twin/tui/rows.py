"""Rows gathered and formatted a kind at a time, and how one value reads on screen.

:class:`RowGroup` holds the registry indices of the points every row of one kind
shows, resolved once; a tick gathers all their values with one fancy index and
formats again only the rows whose values changed. The helpers below turn a point's
name and unit (registry columns) into the words and numbers a row shows, so a row
can be drawn for equipment the dashboard has never heard of.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from twin.points.registry import PointDef
from twin.points.units import UNITS
from twin.tui.records import TreeRow

NO_VALUE = "—"  # a quantity not (yet) read: never "nan", never a made-up 0

# Unit suffixes of the project's point names (DESIGN.md: units in names); a label
# drops them since the value carries its unit.
_SUFFIXES = ("_kg_s", "_m3_h", "_l_per_h", "_l_per_kwh", "_kwh", "_kw", "_pct", "_lpm", "_rpm")
_SUFFIXES += ("_hz", "_c", "_k", "_v", "_h", "_s")
COUNTER_UNITS = ("kWh", "h")  # totals that only grow: not a reading an operator watches


def unit_symbol(unit: str) -> str:
    """What a display shows for a registry unit (``degC`` → ``°C``)."""
    known = UNITS.get(unit)
    return known.symbol if known is not None else unit


def value_formatter(unit: str) -> Callable[[float], str]:
    """``f(x)``: a finite value and its unit symbol, at the precision its unit deserves
    (chosen once per column: a tick formats thousands of values)."""
    symbol = unit_symbol(unit)
    suffix = f" {symbol}" if symbol else ""
    if symbol in ("°C", "K"):
        return lambda x: f"{x:.1f}{suffix}"
    if symbol in ("kW", "kWh", "L/h", "m³/h", "L/min", "r/min"):
        return lambda x: f"{x:,.0f}{suffix}" if abs(x) >= 100 else f"{x:,.1f}{suffix}"
    if symbol == "%":
        return lambda x: f"{x:.0f}{suffix}"
    if symbol == "kg/s":
        return lambda x: f"{x:,.1f}{suffix}"
    return lambda x: f"{x:,.0f}{suffix}" if float(x).is_integer() else f"{x:.3g}{suffix}"


def display_step(unit: str) -> str:
    """How :func:`value_formatter` rounds a unit: ``one`` (0.1), ``zero`` (1), ``big``
    (1 from 100 up, else 0.1) or ``exact`` (unknown: compared as it is)."""
    symbol = unit_symbol(unit)
    if symbol in ("°C", "K", "kg/s"):
        return "one"
    if symbol in ("kW", "kWh", "L/h", "m³/h", "L/min", "r/min"):
        return "big"
    if symbol == "%":
        return "zero"
    return "exact"


def fmt_value(x: float, unit: str = "") -> str:
    """A value and its unit symbol, at the precision its unit deserves; "—" when unknown."""
    if x is None or x != x or math.isinf(x):
        return NO_VALUE
    return value_formatter(unit)(x)


def field_of(p: PointDef) -> str:
    """The point's name without its device: ``status.on_battery``, ``t_supply_c``."""
    return p.name[len(p.device) + 1 :] if p.name.startswith(f"{p.device}.") else p.name


def label_of(field: str) -> str:
    """Words of a field name: ``t_chw_supply_c`` → ``chw supply``, ``fan_speed_pct`` →
    ``fan speed``; the status word's prefix goes (``status.on_battery`` → ``on battery``)."""
    name = field.rsplit(".", 1)[-1]
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    if name.startswith("t_"):
        name = name[2:]
    return name.replace("_", " ")


def is_bit(p: PointDef) -> bool:
    return p.bit is not None or p.data_type == "bool" or p.register_type in ("coil",)


# What a set or a clear bit means, read from the words of its name. A bit whose name
# says nothing of the kind is shown by its words while set and changes no state.
_RUN = ("running", "energised", "energized", "online", "powered", "on_load", "cooling")
_OK = ("_ok", "available", "ready_to_load")
_FAULT = ("fault", "tripped", "trip", "failed", "failure", "depleted", "alarm")
_WARN = ("on_battery", "on_generator", "low_battery", "overload", "bypass", "low_flow")
_WARN += ("_high", "_low", "discharging", "_throttled")

BitKind = str  # "run" | "ok" | "fault" | "warn" | "info"


def bit_kind(field: str) -> BitKind:
    name = field.rsplit(".", 1)[-1]
    if any(w in name for w in _FAULT):
        return "fault"
    if name.startswith(_WARN) or name.endswith(_WARN) or name == "low":
        return "warn"
    if name.endswith(_OK):
        return "ok"
    if any(name == w or name.endswith(f"_{w}") or name.startswith(f"{w}") for w in _RUN):
        return "run"
    return "info"


def bit_words(field: str, kind: BitKind) -> str:
    """What a bit in its noteworthy state says (set, or clear for ``run``/``ok`` bits)."""
    words = label_of(field)
    if kind == "ok":
        if words.endswith(" ok"):
            return f"{words[:-3].upper()} NOT OK"
        if words.endswith("available"):
            return f"{words[:-9].upper()}UNAVAILABLE"
        return f"NOT {words.upper()}"
    if kind in ("fault", "warn"):
        return words.upper()
    return words


Formatter = Callable[[str, str, list[float]], TreeRow]


class RowGroup:
    """Rows of one kind (all transformers, all CDUs…) and the points each row reads.

    ``idx[i]`` lists the registry indices row ``i`` shows (``nan_slot`` for a point
    the row lacks, which reads NaN). :meth:`rows` gathers every row's values with one
    fancy index and formats again only the rows whose values changed.
    """

    def __init__(
        self,
        keys: Sequence[str],
        labels: Sequence[str],
        idx: np.ndarray,
        fmt: Formatter,
        steps: Sequence[str] | None = None,
    ) -> None:
        self.keys = list(keys)
        self.labels = list(labels)
        self.idx = idx
        self.fmt = fmt
        # Columns compared at the precision they are shown (display_step): a reading
        # whose shown digits did not move keeps its row, so the table redraws nothing.
        steps = list(steps or [])
        self._one = [j for j, s in enumerate(steps) if s == "one"]
        self._zero = [j for j, s in enumerate(steps) if s == "zero"]
        self._big = [j for j, s in enumerate(steps) if s == "big"]
        self._last: np.ndarray | None = None
        self._rows: list[TreeRow] = []

    def values(self, ext: np.ndarray) -> np.ndarray:
        return ext[self.idx]

    def _shown(self, m: np.ndarray) -> np.ndarray:
        if not (self._one or self._zero or self._big):
            return m
        q = m.copy()
        if self._one:
            q[:, self._one] = np.round(m[:, self._one], 1)
        if self._zero:
            q[:, self._zero] = np.round(m[:, self._zero])
        if self._big:
            big = m[:, self._big]
            q[:, self._big] = np.where(np.abs(big) >= 100, np.round(big), np.round(big, 1))
        return q

    def rows(self, ext: np.ndarray, extra: np.ndarray | None = None) -> list[TreeRow]:
        m = ext[self.idx]
        q = self._shown(m)
        if extra is not None:
            m = np.column_stack([m, extra])
            q = np.column_stack([q, extra])
        last = self._last
        if last is None or last.shape != q.shape:
            changed = np.arange(len(self.keys))
            self._rows = [None] * len(self.keys)  # type: ignore[list-item]
        else:
            same = (q == last) | (np.isnan(q) & np.isnan(last))
            changed = np.flatnonzero(~same.all(axis=1))
        for i, vals in zip(changed.tolist(), m[changed].tolist(), strict=True):
            self._rows[i] = self.fmt(self.keys[i], self.labels[i], vals)
        self._last = q
        return self._rows
