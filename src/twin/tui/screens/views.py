"""The views: each renders a :class:`~twin.tui.model.Snapshot` and nothing else."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Input, Sparkline, Static

from twin.tui.records import PRIORITIES, DeviceRow, Snapshot, TreeRow
from twin.tui.screens.text import (
    FLOOD,
    PRIORITY_MARKUP,
    STATE_WIDTH,
    STATE_WORDS,
    Look,
    alarm_value,
    clock,
    look,
    num,
    pue_text,
    trend_label,
    window_text,
)
from twin.tui.widgets.rackmap import RackMap
from twin.tui.widgets.table import LiveTable


class View(Vertical):
    """A view: ``show`` takes a snapshot; ``filter`` narrows long lists."""

    filter_text = ""

    def show(self, snap: Snapshot) -> None:
        raise NotImplementedError

    @property
    def look(self) -> Look:
        return look(self.app.current_theme.dark)

    def restyle(self) -> None:
        """The theme changed: cells styled with the old palette are drawn again."""
        for table in self.query(LiveTable):
            table.invalidate()
        for cells in getattr(self, "_cell_formatters", ()):
            cells.memo.clear()

    def set_text(self, widget_id: str, text: str) -> None:
        """Update a Static only when its text changed (no needless repaint)."""
        widget = self.query_one(f"#{widget_id}", Static)
        if getattr(widget, "_twin_text", None) != text:
            widget._twin_text = text  # type: ignore[attr-defined]
            widget.update(text)


class FilterBox(Input):
    """The ``/`` filter of a list; Escape clears it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear", "Clear filter", show=False)]

    def action_clear(self) -> None:
        self.value = ""
        self.display = False
        if self.parent is not None:
            self.screen.focus_next()


class FilteredView(View):
    def compose_filter(self) -> ComposeResult:
        box = FilterBox(placeholder="filter…  (Esc clears)", classes="filter")
        box.display = False
        yield box

    def open_filter(self) -> None:
        box = self.query_one(FilterBox)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip().lower()
        if self.app.snapshot is not None:  # type: ignore[attr-defined]
            self.show(self.app.snapshot)  # type: ignore[attr-defined]

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(LiveTable).focus()

    def keep(self, *texts: str) -> bool:
        f = self.filter_text
        return not f or any(f in t.lower() for t in texts)


class RowCells:
    """A row's cells, formatted again only when the model handed a new row object.

    The view model keeps a row's object while its inputs are unchanged, so an
    unchanged row costs a dictionary look-up, and the table, finding the very same
    cells, skips it. The table calls it for the rows it shows (see LiveTable.apply).
    """

    def __init__(self, fmt: Callable[[Any], tuple[str | Text, ...]], key: str = "key") -> None:
        self.fmt = fmt
        self.key = key
        self.memo: dict[str, tuple[object, tuple[str | Text, ...]]] = {}

    def __call__(self, row: Any) -> tuple[str | Text, ...]:
        key = getattr(row, self.key)
        hit = self.memo.get(key)
        if hit is not None and hit[0] is row:
            return hit[1]
        cells = self.fmt(row)
        self.memo[key] = (row, cells)
        return cells


# ----------------------------------------------------------------------- overview


class OverviewView(View):
    def compose(self) -> ComposeResult:
        with Grid(id="ov-grid"):
            yield Static(id="ov-pue", classes="panel big")
            yield Static(id="ov-power", classes="panel")
            yield Static(id="ov-site", classes="panel")
            yield Static(id="ov-status", classes="panel")
        for name in ("pue", "it", "facility"):
            yield Static(id=f"tl-{name}", classes="trend-label")
            yield Sparkline([], id=f"tr-{name}", classes="trend")

    def show(self, snap: Snapshot) -> None:
        o = snap.overview
        windows = " · ".join(
            f"{name} {window_text(value, quality)}" for name, value, quality in o.pue_windows
        )
        self.set_text(
            "ov-pue",
            f"[b]PUE[/b]  {pue_text(o, big=True)}  {o.pue_category}\n"
            f"trailing {windows or '—'}\n"
            f"pPUE cooling {num(o.ppue_cooling, '.3f')} · power {num(o.ppue_power, '.3f')}\n"
            f"CUE {num(o.cue_kg_per_kwh, '.3f', 'kgCO2e/kWh')}",
        )
        self.set_text(
            "ov-power",
            f"[b]Power[/b]\nIT        {num(o.it_kw, ',.0f', 'kW')}\n"
            f"facility  {num(o.facility_kw, ',.0f', 'kW')}\n"
            f"cooling   {num(o.cooling_kw, ',.0f', 'kW')}\n"
            f"losses    {num(o.power_loss_kw, ',.0f', 'kW')}",
        )
        self.set_text(
            "ov-site",
            f"[b]Site[/b]\noutdoor dry {num(o.t_dry_c, '.1f', '°C')} · "
            f"wet {num(o.t_wet_c, '.1f', '°C')}\n"
            f"cooling mode: {o.cooling_mode}\nWUE {num(o.wue_l_per_kwh, '.2f', 'L/kWh')}",
        )
        counts = "  ".join(
            f"[{PRIORITY_MARKUP[p]}]{p} {snap.alarm_counts.get(p, 0)}[/]" for p in PRIORITIES
        )
        d = snap.device_counts
        flood = f"  {FLOOD} ALARM FLOOD [/]" if snap.flood else ""
        self.set_text(
            "ov-status",
            f"[b]Alarms[/b]{flood}\n{counts}\n[b]Devices[/b]\n"
            f"[$twin-ok]good {d.get('good', 0)}[/]  [$twin-warn]stale {d.get('stale', 0)}[/]  "
            f"[$twin-alarm]bad {d.get('bad', 0)}[/]"
            + (f"  [$twin-muted]not read {d['not read']}[/]" if d.get("not read") else ""),
        )
        span = o.trend_window_s
        self.set_text("tl-pue", trend_label("PUE", pue_text(o), o.trend_pue, ".3f", "", span))
        self.set_text(
            "tl-it",
            trend_label("IT power", num(o.it_kw, ",.0f", "kW"), o.trend_it_kw, ",.0f", "kW", span),
        )
        self.set_text(
            "tl-facility",
            trend_label(
                "Facility power",
                num(o.facility_kw, ",.0f", "kW"),
                o.trend_facility_kw,
                ",.0f",
                "kW",
                span,
            ),
        )
        for widget_id, data in (
            ("tr-pue", o.trend_pue),
            ("tr-it", o.trend_it_kw),
            ("tr-facility", o.trend_facility_kw),
        ):
            spark = self.query_one(f"#{widget_id}", Sparkline)
            if list(spark.data or []) != list(data):
                spark.data = list(data)


# ------------------------------------------------------------------- power/cooling


def tree_cells(row: TreeRow, styles: dict[str, str]) -> tuple[str | Text, ...]:
    indent = "  " * row.depth + ("└ " if row.depth else "")
    pct = "" if row.pct is None or math.isnan(row.pct) else f"{row.pct:5.1f} %"
    state = Text(row.state, style=styles.get(row.state, ""))
    return (indent + row.label, row.load, pct, state, row.detail)


class TreeView(FilteredView):
    attribute = "power"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cells = RowCells(lambda row: tree_cells(row, self.look.state))
        self._cell_formatters = [self.cells]

    def compose(self) -> ComposeResult:
        yield Static(id=f"{self.attribute}-head", classes="view-head")
        yield from self.compose_filter()
        # State before Detail: the detail may run past a narrow screen, the state may not.
        yield LiveTable(("Node", "Load", "% cap", "State", "Detail"), min_widths={"State": 7})

    def show(self, snap: Snapshot) -> None:
        rows = getattr(snap, self.attribute)
        shown = [(r.key, r) for r in rows if self.keep(r.label, r.detail, r.state)]
        self.query_one(LiveTable).apply(shown, self.cells)
        self.set_text(f"{self.attribute}-head", self.heading(snap))

    def heading(self, snap: Snapshot) -> str:
        return ""


class PowerView(TreeView):
    attribute = "power"

    def heading(self, snap: Snapshot) -> str:
        o = snap.overview
        return (
            f"[b]Power one-line[/b]  facility {num(o.facility_kw, ',.0f', 'kW')} · "
            f"IT {num(o.it_kw, ',.0f', 'kW')} · losses {num(o.power_loss_kw, ',.0f', 'kW')} · "
            f"pPUE power {num(o.ppue_power, '.3f')}"
        )


class CoolingView(TreeView):
    attribute = "cooling"

    def heading(self, snap: Snapshot) -> str:
        o = snap.overview
        return (
            f"[b]Cooling[/b]  mode: {o.cooling_mode} · cooling {num(o.cooling_kw, ',.0f', 'kW')}"
            f" · pPUE cooling {num(o.ppue_cooling, '.3f')} · wet bulb {num(o.t_wet_c, '.1f', '°C')}"
        )


# ------------------------------------------------------------------------- racks


class RacksView(View):
    def compose(self) -> ComposeResult:
        yield Static(id="racks-legend", classes="view-head")
        yield RackMap(id="rackmap")
        yield Static(id="racks-detail", classes="detail")

    def show(self, snap: Snapshot) -> None:
        rack_map = self.query_one(RackMap)
        rack_map.show(snap.racks)
        self._texts(rack_map)

    def _texts(self, rack_map: RackMap) -> None:
        self.set_text(
            "racks-legend",
            f"[b]Racks[/b] ({len(rack_map.racks.names) if rack_map.racks else 0})  "
            + rack_map.legend(),
        )
        self.set_text("racks-detail", rack_map.detail())

    def on_rack_map_selected(self, _: RackMap.Selected) -> None:
        self._texts(self.query_one(RackMap))

    def watch_metric(self) -> None:  # pragma: no cover - RackMap refreshes itself
        pass


# ------------------------------------------------------------------------ alarms


class AlarmsView(FilteredView):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "app.ack", "Acknowledge"),
        Binding("s", "app.shelve", "Shelve"),
        Binding("u", "app.unshelve", "Unshelve"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(id="alarms-head", classes="view-head")
        yield from self.compose_filter()
        yield LiveTable(
            ("Priority", "State", "Time", "Point", "Value", "Message"),
            id="alarm-table",
            min_widths={"State": STATE_WIDTH, "Priority": len("urgent")},
        )

    def show(self, snap: Snapshot) -> None:
        rows = []
        priority_style = self.look.priority
        for a in snap.alarms:
            state = (
                f"shelved to {clock(a.shelved_until or 0)}"
                if a.state == "shelved"
                else STATE_WORDS.get(a.state, a.state)
            )
            if not self.keep(a.id, a.priority, state, a.message, a.point):
                continue
            rows.append(
                (
                    a.id,
                    (
                        Text(a.priority, style=priority_style[a.priority]),
                        Text(state, style="bold" if a.state in ("unacked", "rtn_unacked") else ""),
                        clock(a.ts),
                        a.point,
                        alarm_value(a.value, a.unit),
                        a.message,
                    ),
                )
            )
        self.query_one(LiveTable).apply(rows)
        counts = " · ".join(f"{p} {snap.alarm_counts.get(p, 0)}" for p in PRIORITIES)
        rate = f" · {snap.alarm_rate:g} in 10 min"
        flood = f"  {FLOOD} ALARM FLOOD: >10 alarms in 10 min [/]" if snap.flood else ""
        keys = "  [$twin-muted]a acknowledge · s shelve · u unshelve[/]" if snap.alarms else ""
        self.set_text(
            "alarms-head", f"[b]Alarms[/b] ({len(snap.alarms)})  {counts}{rate}{flood}{keys}"
        )

    @property
    def selected(self) -> str | None:
        return self.query_one(LiveTable).selected_key


# ----------------------------------------------------------------------- devices


def device_cells(d: DeviceRow, quality: dict[str, Text], bad: str) -> tuple[str | Text, ...]:
    latency = "—" if d.latency_ms is None else f"{d.latency_ms:.1f} ms"
    return (
        d.name,
        d.equipment,
        d.protocol,
        d.address,
        clock(d.last_good),
        latency,
        str(d.errors),
        quality.get(d.quality) or Text(d.quality, style=bad),
    )


class DevicesView(FilteredView):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cells = RowCells(
            lambda d: device_cells(d, self.look.quality, self.look.state["alarm"]), key="name"
        )
        self._cell_formatters = [self.cells]

    def compose(self) -> ComposeResult:
        yield Static(id="devices-head", classes="view-head")
        yield from self.compose_filter()
        yield LiveTable(
            ("Device", "Type", "Protocol", "Address", "Last good", "Latency", "Errors", "Quality"),
            id="device-table",
        )

    def show(self, snap: Snapshot) -> None:
        keep = self.keep
        rows = [
            (d.name, d) for d in snap.devices if keep(d.name, d.equipment, d.quality, d.address)
        ]
        self.query_one(LiveTable).apply(rows, self.cells)
        c = snap.device_counts
        self.set_text(
            "devices-head",
            f"[b]Devices[/b] ({len(snap.devices)})  good {c.get('good', 0)} · "
            f"stale {c.get('stale', 0)} · bad {c.get('bad', 0)}"
            + (f" · not read yet {c['not read']}" if c.get("not read") else ""),
        )

    @property
    def selected(self) -> str | None:
        return self.query_one(LiveTable).selected_key


# Views with modules of their own build on View (above), so they are imported here.
from twin.tui.screens.oneline import OneLineView  # noqa: E402

VIEWS: dict[str, tuple[str, type[View]]] = {
    "overview": ("1 Overview", OverviewView),
    "power": ("2 Power", PowerView),
    "cooling": ("3 Cooling", CoolingView),
    "racks": ("4 Racks", RacksView),
    "alarms": ("5 Alarms", AlarmsView),
    "devices": ("6 Devices", DevicesView),
    "oneline": ("7 One-line", OneLineView),
}
__all__ = ["VIEWS", "Horizontal"]
