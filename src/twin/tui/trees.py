"""The power and cooling trees, laid out from the registry's columns alone.

No device or field name is written here. A device's place comes from its rows of the
registry: its ``role`` columns say which tree it belongs to (a point feeding PUE's
facility or IT side, a UPS output, a PDU output: power; a cooling load, a CDU's heat,
a rack inlet: cooling; a rack is in both), ``area`` (or ``hall``) is the first level,
``group`` the system under it (``hall-1-ups/A`` → ``hall-1-ups``, as the metrics
group redundancy), else the equipment class; a device whose name extends another's
(``<ups>-pdu1``) hangs under it. What a row shows is read from the points: the kW a
role names as the device's output (else its first kW), a percentage for the bar,
its other readings with their units, and its status bits by the words of their names
(see :func:`twin.tui.rows.bit_kind`). A class with more than :data:`COLLAPSE_OVER`
members in one area (racks) is one summary row.

Per tick a tree costs one fancy index per device shape (devices of one equipment
class with the same fields share a :class:`~twin.tui.rows.RowGroup`), the rows of
devices whose values changed, and a walk of the nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from twin.points.registry import PointDef
from twin.tui.records import TreeRow
from twin.tui.rows import (
    COUNTER_UNITS,
    NO_VALUE,
    RowGroup,
    bit_kind,
    bit_words,
    field_of,
    is_bit,
    label_of,
    value_formatter,
)

POWER_ROLES = frozenset(
    {
        "facility_kw",
        "utility_kw",
        "generator_kw",
        "it_input_kw",
        "ups_output_kw",
        "ups_load_pct",
        "pdu_output_kw",
        "power_loss_kw",
        "battery_soc_pct",
        "facility_energy_kwh",
        "it_input_energy_kwh",
    }
)
COOLING_ROLES = frozenset({"cooling_kw", "cdu_heat_kw", "rack_inlet_c"})
# The role that names a device's own output, most telling first.
PRIMARY_ROLES = (
    "facility_kw",
    "ups_output_kw",
    "pdu_output_kw",
    "it_input_kw",
    "cdu_heat_kw",
    "generator_kw",
    "utility_kw",
    "cooling_kw",
)
COLLAPSE_OVER = 16  # members of one class in one area shown as one summary row
MAX_DETAILS = 6  # readings on a device's line
DETAIL_WIDTH = 72  # characters: the line fits a 120-column screen
RANK = {"ok": 0, "off": 0, "no data": 1, "warn": 2, "alarm": 3}


@dataclass
class DeviceLayout:
    """One device's line: which of its points it shows, where it hangs."""

    name: str
    equipment: str
    area: str
    bucket: str  # system (group) or equipment class
    system: bool  # bucket is a group of the registry (metrics know its redundancy)
    trees: set[str]
    primary: PointDef | None
    pct: PointDef | None
    details: list[PointDef]
    bits: list[tuple[PointDef, str]]
    parent: str | None = None

    @property
    def shape(self) -> tuple:
        def f(p: PointDef | None) -> str:
            return "" if p is None else field_of(p)

        return (
            self.equipment,
            f(self.primary),
            f(self.pct),
            tuple(map(f, self.details)),
            tuple(f(p) for p, _ in self.bits),
        )


def layout_device(points: Sequence[PointDef], site: str) -> DeviceLayout:
    first = points[0]
    roles = {p.role for p in points if p.role}
    trees = set()
    if roles & POWER_ROLES:
        trees.add("power")
    if roles & COOLING_ROLES:
        trees.add("cooling")
    if not trees:  # no role: a thermal device by its units, else electrical
        thermal = any(p.unit in ("degC", "kg/s", "m3/h", "lpm") for p in points)
        trees.add("cooling" if thermal else "power")
    words = {p.name for p in points}
    status_words = {p.name.rsplit(".", 1)[0] for p in points if p.bit is not None}
    bits: list[tuple[PointDef, str]] = []
    seen_bits: set[str] = set()
    analog: list[PointDef] = []
    for p in points:
        if is_bit(p):
            words_of = field_of(p).rsplit(".", 1)[-1]
            if words_of not in seen_bits:  # a bit published twice (word and input)
                seen_bits.add(words_of)
                bits.append((p, bit_kind(field_of(p))))
        elif p.name not in status_words and p.unit not in COUNTER_UNITS:
            analog.append(p)
    del words
    primary = next(
        (p for role in PRIMARY_ROLES for p in analog if p.role == role),
        next((p for p in analog if p.unit == "kW" and p.role != "power_loss_kw"), None),
    )
    percents = [p for p in analog if p.unit == "pct" and p is not primary]
    pct = next(
        (p for p in percents if p.role == "ups_load_pct"),
        next(
            (p for p in percents if "load" in field_of(p)),
            next(
                (p for p in percents if "speed" in field_of(p)), percents[0] if percents else None
            ),
        ),
    )
    details = [p for p in analog if p is not primary and p is not pct][:MAX_DETAILS]
    system = bool(first.group)
    bucket = first.group.partition("/")[0] if system else first.equipment
    return DeviceLayout(
        name=first.device,
        equipment=first.equipment,
        area=first.area or first.hall or site,
        bucket=bucket,
        system=system,
        trees=trees,
        primary=primary,
        pct=pct,
        details=details,
        bits=bits,
    )


def find_parents(layouts: dict[str, DeviceLayout]) -> None:
    """A device whose name is another's plus ``-…`` hangs under the longest such one."""
    for name, layout in layouts.items():
        cut = name.rfind("-")
        while cut > 0:  # the longest prefix first: hall-1-hvdc-A1-pdu1 → hall-1-hvdc-A1
            other = layouts.get(name[:cut])
            if other is not None:
                if other.trees & layout.trees:
                    layout.parent = other.name
                break
            cut = name.rfind("-", 0, cut)


def device_formatter(layout: DeviceLayout, depth_of: dict[str, int]) -> Callable:
    """The formatter of one device shape: values [primary, pct, details, bits, alarm, runtime]."""
    n_details = len(layout.details)
    details = [(f"{label_of(field_of(p))} ", value_formatter(p.unit)) for p in layout.details]
    kinds = [kind for _, kind in layout.bits]
    words = [bit_words(field_of(p), kind) for p, kind in layout.bits]
    has_primary = layout.primary is not None
    primary = value_formatter(layout.primary.unit if layout.primary is not None else "")
    has_run = "run" in kinds
    end_bits = 2 + n_details + len(kinds)

    bit_specs = list(zip(kinds, words, strict=True))
    start_bits = 2 + n_details

    def fmt(key: str, label: str, v: list[float]) -> TreeRow:
        readings = v[:end_bits]
        alarm_level, runtime = v[end_bits], v[end_bits + 1]
        depth = depth_of[key]
        if all(x != x for x in readings):
            return TreeRow(key, depth, label, NO_VALUE, None, "no reading yet", "no data")
        state = "ok"
        flags = []
        running = None
        for (kind, text), x in zip(bit_specs, v[start_bits:end_bits]):  # noqa: B905
            if x != x:
                continue
            if kind == "run":
                running = running or x > 0.5
            elif kind == "ok":
                if x < 0.5:
                    flags.append(text)
                    if state == "ok":
                        state = "warn"
            elif x > 0.5:
                flags.append(text)
                if kind == "fault":
                    state = "alarm"
                elif kind == "warn" and state != "alarm":
                    state = "warn"
        parts = [
            text + value(x)
            for (text, value), x in zip(details, v[2:start_bits])  # noqa: B905
            if x == x
        ]
        if runtime == runtime:
            parts.append(f"runtime {runtime:,.0f} min")
        if alarm_level >= 2:
            state = "alarm"
        elif alarm_level >= 1 and state == "ok":
            state = "warn"
        if state == "ok" and has_run and running is False:
            state = "off"
        pct = v[1] if v[1] == v[1] else None
        load = (primary(v[0]) if v[0] == v[0] else NO_VALUE) if has_primary else ""
        return TreeRow(key, depth, label, load, pct, clip(flags + parts), state)

    return fmt


def clip(parts: list[str], width: int = DETAIL_WIDTH) -> str:
    """Parts joined while they fit (flags come first, so trouble is never cut off)."""
    joined = " · ".join(parts)
    if len(joined) <= width:
        return joined
    out = ""
    for part in parts:
        joined = f"{out} · {part}" if out else part
        if len(joined) > width and out:
            return f"{out} …"
        out = joined
    return out


@dataclass
class Node:
    """A line of a tree: a device row (``group``/``row``) or a heading over children."""

    key: str
    depth: int
    label: str
    children: list[Node] = field(default_factory=list)
    group: RowGroup | None = None
    row: int = 0
    summary: Callable[[list[TreeRow]], TreeRow] | None = None  # a heading's own line
    collapsed: Callable[[], TreeRow] | None = None  # a class shown as one line


def worst(rows: Sequence[TreeRow]) -> str:
    states = {r.state for r in rows}
    if not states:
        return "ok"
    if states == {"off"} or states == {"no data"}:
        return states.pop()
    # ok and off rank alike: a group with some members running and the rest off
    # (standby pumps) is ok. Said here, not left to the set's order, which differs
    # between processes (string hashing) and drew "off" or "ok" by chance.
    return max(states, key=lambda state: (RANK[state], state == "ok"))


def counts_text(rows: Sequence[TreeRow], noun: str = "devices") -> str:
    out = [f"{len(rows)} {noun}"]
    for state in ("alarm", "warn", "no data", "off"):
        n = sum(r.state == state for r in rows)
        if n:
            out.append(f"{n} {state}")
    return " · ".join(out)


def walk(node: Node, rows_of: dict[int, list[TreeRow]], out: list[TreeRow]) -> TreeRow:
    """Append ``node``'s line and its subtree's (pre-order); return its own line."""
    if node.group is not None:
        own = rows_of[id(node.group)][node.row]
        out.append(own)
        for child in node.children:
            walk(child, rows_of, out)
        return own
    if node.collapsed is not None:
        own = node.collapsed()
        out.append(own)
        return own
    at = len(out)
    out.append(None)  # type: ignore[arg-type]  # the heading, once its children are known
    children = [walk(child, rows_of, out) for child in node.children]
    assert node.summary is not None
    own = node.summary(children)
    out[at] = own
    return own
