"""A heat map of every rack, drawn line by line (Textual's line API, no child widgets).

Each rack is a two-cell block coloured by the chosen quantity; racks are grouped per
hall. Only lines whose colours changed are redrawn, so a 1,000-rack site costs a few
strips a tick.
"""

from __future__ import annotations

import itertools
import math
from typing import ClassVar

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from twin.tui.palette import contrast
from twin.tui.records import Racks

# quantity → (label, unit, bucket edges). ASHRAE A1 recommended inlet 18-27 °C,
# allowable to 32 °C; a cold plate runs at 40-65 °C under load and the shipped rules
# alarm at 80 °C (configs/alarms: cold-plate-high); a W45 loop returns at ~45 °C.
METRICS: dict[str, tuple[str, str, tuple[float, ...]]] = {
    "inlet": ("inlet", "°C", (18.0, 24.0, 27.0, 32.0)),
    "plate": ("cold plate", "°C", (40.0, 65.0, 72.0, 78.0)),
    "return": ("coolant return", "°C", (30.0, 50.0, 55.0, 60.0)),
    "power": ("power", "kW", (10.0, 40.0, 80.0, 120.0)),
}
# Colour bases the operator cycles through with ``c``: what a cold-plate rack and an
# air-cooled rack are coloured by. The first is the default: a liquid-cooled rack by
# what its cooling is (the plate), an air-cooled one by its inlet air.
BASES: dict[str, tuple[str, str]] = {
    "plate": ("plate", "inlet"),
    "return": ("return", "inlet"),
    "inlet": ("inlet", "inlet"),
    "power": ("power", "power"),
}
PALETTE = ("#3b6fd9", "#2e9e5b", "#c9b83a", "#e07b29", "#d8342c")  # cold … hot
NO_DATA = "#555555"


def mark_colour(fill: str) -> str:
    """Black or white, whichever reads better on a rack's fill (white on the green
    was 3.4:1, under WCAG's 4.5:1 for the selection mark)."""
    return max(("#000000", "#ffffff"), key=lambda ink: contrast(ink, fill))


MARK = {fill: mark_colour(fill) for fill in (*PALETTE, NO_DATA)}
CELL = 3  # columns per rack (2 coloured + 1 gap)


class RackMap(ScrollView, can_focus=True):
    """Racks per hall as coloured cells; arrows move the selection, ``c`` changes colour."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1)", "Prev rack", show=False),
        Binding("right", "move(1)", "Next rack", show=False),
        Binding("up", "move_row(-1)", "Rack above", show=False),
        Binding("down", "move_row(1)", "Rack below", show=False),
        Binding("c", "cycle_metric", "Colour basis"),
    ]
    DEFAULT_CSS = """
    RackMap { height: 1fr; }
    """

    metric: reactive[str] = reactive("plate")  # a key of BASES
    selected: reactive[int] = reactive(0)

    class Selected(Message):
        def __init__(self, index: int) -> None:
            self.index = index
            super().__init__()

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.racks: Racks | None = None
        self._buckets = np.zeros(0, dtype=np.int8)
        self._lines: list[tuple[str, list[int]]] = []  # (hall header or "", rack indices)
        self._line_of: dict[int, int] = {}
        self._per_line = 1
        self._cache: dict[int, Strip] = {}
        self.lines_redrawn = 0

    # ---------------------------------------------------------------- data

    def quantity(self, name: str) -> np.ndarray:
        assert self.racks is not None
        r = self.racks
        if name == "plate":  # a rack without a plate sensor: its coolant return
            plate = r.plate_c if len(r.plate_c) == len(r.names) else np.full(len(r.names), np.nan)
            return np.where(np.isnan(plate), r.return_c, plate)
        return {"inlet": r.inlet_c, "return": r.return_c, "power": r.power_kw}[name]

    def bases(self) -> tuple[str, str]:
        """(quantity of cold-plate racks, quantity of air-cooled racks) shown now."""
        return BASES[self.metric]

    def _bucketise(self) -> np.ndarray:
        assert self.racks is not None
        liquid_basis, air_basis = self.bases()
        out = np.zeros(len(self.racks.names), dtype=np.int8)
        liquid = np.asarray(self.racks.liquid, dtype=bool)
        for basis, members in ((liquid_basis, liquid), (air_basis, ~liquid)):
            values = self.quantity(basis)[members]
            edges = np.array(METRICS[basis][2])
            buckets = np.searchsorted(edges, np.nan_to_num(values, nan=-1e9)).astype(np.int8)
            buckets[np.isnan(values)] = -1
            out[members] = buckets
        return out

    def show(self, racks: Racks) -> None:
        first = self.racks is None or racks.names != self.racks.names
        self.racks = racks
        buckets = self._bucketise()
        if first:
            self._buckets = buckets
            self._relayout()
            return
        changed = np.flatnonzero(buckets != self._buckets)
        self._buckets = buckets
        for y in sorted({self._line_of[int(i)] for i in changed}):
            self._cache.pop(y, None)
            self.refresh_line(y)

    def _relayout(self) -> None:
        if self.racks is None:
            return
        width = max(self.scrollable_content_region.width, CELL * 4)
        per_line = max(1, (width - 10) // CELL)
        lines: list[tuple[str, list[int]]] = []
        halls: dict[str, list[int]] = {}
        for i, hall in enumerate(self.racks.halls):
            halls.setdefault(hall, []).append(i)
        for hall, members in halls.items():
            for start in range(0, len(members), per_line):
                label = hall if start == 0 else ""
                lines.append((label, members[start : start + per_line]))
        self._lines = lines
        self._per_line = per_line
        self._line_of = {i: y for y, (_, members) in enumerate(lines) for i in members}
        self._cache.clear()
        self.virtual_size = Size(10 + per_line * CELL, len(lines))
        self.refresh()

    def on_resize(self) -> None:
        self._relayout()

    def watch_metric(self) -> None:
        if self.racks is not None:
            self._buckets = self._bucketise()
            self._cache.clear()
            self.refresh()

    def watch_selected(self, old: int, new: int) -> None:
        for index in (old, new):
            y = self._line_of.get(index)
            if y is not None:
                self._cache.pop(y, None)
                self.refresh_line(y)
        y = self._line_of.get(new)
        if y is not None:
            self.scroll_to_region(self.region.__class__(0, y, 1, 1), animate=False)
        self.post_message(self.Selected(new))

    # ------------------------------------------------------------- actions

    def action_cycle_metric(self) -> None:
        names = list(BASES)
        self.metric = names[(names.index(self.metric) + 1) % len(names)]

    def action_move(self, step: int) -> None:
        if self.racks is not None and len(self.racks.names):
            self.selected = (self.selected + step) % len(self.racks.names)

    def action_move_row(self, step: int) -> None:
        if self.racks is None or not self._lines:
            return
        y = self._line_of.get(self.selected, 0)
        col = self._lines[y][1].index(self.selected)
        target = min(max(y + step, 0), len(self._lines) - 1)
        members = self._lines[target][1]
        self.selected = members[min(col, len(members) - 1)]

    # ------------------------------------------------------------- drawing

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line = scroll_y + y
        strip = self._cache.get(line)
        if strip is None:
            strip = self._draw(line)
            self._cache[line] = strip
            self.lines_redrawn += 1
        return strip.crop(scroll_x, scroll_x + self.size.width)

    def _draw(self, line: int) -> Strip:
        if line >= len(self._lines) or self.racks is None:
            return Strip.blank(self.virtual_size.width, self.rich_style)
        label, members = self._lines[line]
        base = self.rich_style
        segments = [Segment(f"{label:<9.9} ", base)]
        for i in members:
            bucket = int(self._buckets[i])
            colour = NO_DATA if bucket < 0 else PALETTE[bucket]
            mark = "[]" if i == self.selected else "  "
            style = Style(bgcolor=colour, color=MARK[colour], bold=True)
            segments.append(Segment(mark, style))
            segments.append(Segment(" ", base))
        return Strip(segments).adjust_cell_length(self.virtual_size.width, base)

    def _scale(self, basis: str) -> str:
        label, unit, edges = METRICS[basis]
        parts = [f"< {edges[0]:g}"]
        parts += [f"{a:g}-{b:g}" for a, b in itertools.pairwise(edges)]
        parts.append(f"> {edges[-1]:g}")
        return f"{label} [{unit}] " + " ".join(
            f"[on {c}]  [/] {p}" for c, p in zip(PALETTE, parts, strict=True)
        )

    def legend(self) -> str:
        liquid_basis, air_basis = self.bases()
        liquid = self.racks is not None and bool(np.any(self.racks.liquid))
        air = self.racks is None or not bool(np.all(self.racks.liquid))
        lines = []
        if liquid:
            lines.append(f"cold-plate racks by {self._scale(liquid_basis)}")
        if air:
            lines.append(f"air-cooled racks by {self._scale(air_basis)}")
        return "\n".join(lines) + f"  [on {NO_DATA}]  [/] no reading  (c: colour basis)"

    def detail(self) -> str:
        if self.racks is None or not len(self.racks.names):
            return "no racks"
        r, i = self.racks, self.selected

        def fmt(x: float, unit: str) -> str:
            return "—" if math.isnan(x) else f"{x:.1f} {unit}"

        if r.liquid[i]:
            plate = r.plate_c[i] if len(r.plate_c) == len(r.names) else math.nan
            cooling = (
                f"cold plate {fmt(plate, '°C')} · coolant return {fmt(r.return_c[i], '°C')} · "
            )
            kind = "cold-plate"
        else:
            cooling, kind = "", "air-cooled"
        return (
            f"[b]{r.names[i]}[/b] ({r.halls[i]}, {kind})  {cooling}inlet {fmt(r.inlet_c[i], '°C')}"
            f" · power {fmt(r.power_kw[i], 'kW')}"
        )
