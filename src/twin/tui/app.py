"""The operator's dashboard: six views of one site, refreshed once a second.

Every tick a worker thread asks the :class:`~twin.tui.model.Source` for a snapshot;
the UI thread applies it to the title bar and the view on screen (tables update only
the cells that changed, the rack map only the lines whose colours changed); a view
brought on screen is given the latest snapshot at once. The UI never touches the
network: the setpoint write is awaited from a worker and runs on the collector's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Iterable
from functools import partial
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static, Tab, Tabs

from twin.tui.palette import palette
from twin.tui.records import TREND_WINDOWS_S, Snapshot, Source
from twin.tui.screens.dialogs import HelpScreen, SetpointScreen, ShelveScreen
from twin.tui.screens.text import (
    PRIORITY_MARKUP,
    STATE_WORDS,
    alarm_value,
    clock,
    num,
    pue_text,
    span_text,
)
from twin.tui.screens.views import VIEWS, AlarmsView, DevicesView, FilteredView, View
from twin.tui.startup import Startup
from twin.tui.widgets.table import LiveTable

DARK, LIGHT = "textual-dark", "textual-light"


class TwinApp(App[None]):
    """``twin dashboard``: PUE, power, cooling, racks, alarms and device comms."""

    CSS_PATH = "twin.tcss"
    TITLE = "twin"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(str(i + 1), f"show('{name}')", label.split(" ", 1)[1], show=False)
            for i, (name, (label, _)) in enumerate(VIEWS.items())
        ),
        Binding("question_mark", "help", "Help"),
        Binding("slash", "filter", "Filter"),
        Binding("p", "setpoint", "Setpoint"),
        # Alarm keys work on the Alarms view wherever the focus is (the view's own
        # bindings show them in the footer once its table has the focus).
        Binding("a", "ack", "Acknowledge", show=False),
        Binding("s", "shelve", "Shelve", show=False),
        Binding("u", "unshelve", "Unshelve", show=False),
        Binding("t", "toggle_theme", "Theme"),
        Binding("w", "trend_window", "Trend window", show=False),
        Binding("q", "quit", "Quit"),
    ]

    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True)
    view: reactive[str] = reactive("overview")

    def __init__(
        self,
        source: Source | None = None,
        tick_s: float | None = 1.0,
        theme: str = DARK,
        startup: Startup | None = None,
    ) -> None:
        super().__init__()
        if source is None and startup is None:
            raise ValueError("a dashboard needs a source or a start-up that makes one")
        self.source: Source = source  # type: ignore[assignment]  # None only until start-up
        self.startup = startup if source is None else None
        self.starting = self.startup is not None  # progress in the banner until all read
        self.tick_s = tick_s
        self.theme = theme
        self.frame_times: list[float] = []  # seconds spent applying each snapshot
        self.ticks = 0

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """The dashboard's state colours for the theme on screen (twin.tui.palette)."""
        dark = True
        # Before the theme is set (App.__init__ reads the CSS variables): the dark one.
        with contextlib.suppress(Exception):
            dark = self.current_theme.dark
        return palette(dark).variables()

    def watch_theme(self) -> None:
        if not self.screen_stack:  # set in __init__: nothing drawn yet
            return
        for view in self.query(View):
            view.restyle()
        if self.snapshot is not None:
            self.current_view().show(self.snapshot)

    def compose(self) -> ComposeResult:
        yield Static(id="title-bar")
        yield Static(id="alarm-banner")
        yield Tabs(*(Tab(label, id=f"tab-{name}") for name, (label, _) in VIEWS.items()))
        with ContentSwitcher(initial="startup" if self.startup else "overview", id="views"):
            yield Static(id="startup", classes="startup")
            for name, (_, cls) in VIEWS.items():
                yield cls(id=name)
        yield Footer()

    async def on_mount(self) -> None:
        if self.startup is not None:
            # the timer first: a start-up that fails at once stops it in the first call
            self._startup_timer = self.set_interval(0.25, self.show_startup)
            self.startup.start()
            await self.show_startup()
            return
        await self.begin_ticks()

    async def begin_ticks(self) -> None:
        await self.refresh_now()
        # Everything alive now (registry, live state, widgets) lives as long as the app:
        # frozen, the cyclic GC's full collections walk only what later ticks allocate
        # (on aidc-100mw walking it all paused the UI 60-230 ms, 18 times in 30 ticks).
        gc.freeze()
        if self.tick_s:
            self.set_interval(self.tick_s, self.tick)

    # --------------------------------------------------------------- start-up

    async def show_startup(self) -> None:
        """Draw the start-up's progress; take its source the moment there is one."""
        try:
            await self._show_startup()
        except NoMatches:
            # The timer can fire once more while the app tears its screen down (seen in
            # CI under load): the widgets, composed together, are gone; nothing to draw.
            return

    async def _show_startup(self) -> None:
        startup = self.startup
        if startup is None:
            return
        if startup.error is not None:
            self._startup_timer.stop()
            self.query_one("#startup", Static).update(
                f"[b $twin-alarm]start-up failed:[/] {startup.error}"
            )
            self.exit(message=f"start-up failed: {startup.error}")
            return
        lines = startup.lines()
        elapsed = startup.elapsed()
        if self.source is None:  # once the views show, each tick writes the title
            self.query_one("#title-bar", Static).update(
                f"[b]twin[/b] · {startup.site} · starting ({elapsed:.0f} s)", layout=False
            )
        self.query_one("#alarm-banner", Static).update(
            f"[$twin-info]start-up:[/] {lines[-1] if lines else ''}", layout=False
        )
        if self.source is None and startup.source is not None:
            self.source = startup.source
            self.query_one(ContentSwitcher).current = self.view
            await self.begin_ticks()
        elif self.source is None:
            self.query_one("#startup", Static).update(
                f"[b]Starting {startup.site}[/b]\n\n"
                + "\n".join(lines)
                + "\n\n[$twin-muted]the views open as soon as the collector polls[/]"
            )
        if self.source is not None and startup.finished():
            self._startup_timer.stop()
            self.starting = False
            self.startup = None
            if self.snapshot is not None:
                self.watch_snapshot(self.snapshot)

    # ------------------------------------------------------------------ ticks

    def tick(self) -> None:
        self.load_snapshot()

    @work(thread=True, exclusive=True, group="tick")
    def load_snapshot(self) -> None:
        snap = self.source.snapshot()
        self.call_from_thread(setattr, self, "snapshot", snap)

    async def refresh_now(self) -> None:
        """Take a snapshot (off the UI thread) and apply it now."""
        self.snapshot = await asyncio.to_thread(self.source.snapshot)

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        try:
            self._apply(snap)
        except NoMatches:  # a tick's snapshot landing while the app tears its widgets down
            return

    def _apply(self, snap: Snapshot) -> None:
        started = time.perf_counter()
        self.current_view().show(snap)
        o = snap.overview
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(snap.ts))
        alarms = sum(v for v in snap.alarm_counts.values())
        flood = " [b $twin-urgent-fg on $twin-urgent-bg] FLOOD [/]" if snap.flood else ""
        sim = " · simulated" if snap.simulated else ""
        self.query_one("#title-bar", Static).update(
            f"[b]twin[/b] · {snap.site}{sim} · {stamp} · PUE {pue_text(o)} · "
            f"IT {num(o.it_kw, ',.0f', 'kW')} · alarms {alarms}{flood}",
            layout=False,  # one line, height fixed by CSS: no screen reflow every second
        )
        if not self.starting:
            self.query_one("#alarm-banner", Static).update(self.banner(snap), layout=False)
        self.ticks += 1
        self.frame_times.append(time.perf_counter() - started)
        del self.frame_times[:-1000]

    def banner(self, snap: Snapshot) -> str:
        """The newest annunciated alarm, above every view; or that there is none."""
        a = snap.newest_alarm
        if a is None:
            return "[$twin-ok]no active alarm[/]"
        value = alarm_value(a.value, a.unit) if a.unit else ""  # a bit's 1 says nothing
        more = sum(snap.alarm_counts.values()) - 1
        others = f" · {more} more (5: Alarms)" if more > 0 else ""
        return (
            f"[{PRIORITY_MARKUP[a.priority]}] {a.priority.upper()} [/] "
            f"{clock(a.ts)} {STATE_WORDS.get(a.state, a.state)} · {a.message}"
            f"{' · ' + value if value else ''} · {a.point}{others}"
        )

    # ---------------------------------------------------------------- views

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab.id:
            self.view = event.tab.id.removeprefix("tab-")

    def watch_view(self, view: str) -> None:
        if self.source is None:  # still starting: the view opens with the first snapshot
            self.query_one(Tabs).active = f"tab-{view}"
            return
        if self.snapshot is not None:
            self.query_one(f"#{view}", View).show(self.snapshot)
        self.query_one(ContentSwitcher).current = view
        self.query_one(Tabs).active = f"tab-{view}"
        if view in ("alarms", "devices"):  # their keys act on the selected row
            self.query_one(f"#{view}", View).query_one(LiveTable).focus()

    def action_show(self, view: str) -> None:
        self.view = view

    def current_view(self) -> View:
        return self.query_one(f"#{self.view}", View)

    def action_filter(self) -> None:
        if not self._has_source():
            return
        view = self.current_view()
        if isinstance(view, FilteredView):
            view.open_filter()
        else:
            self.notify("no list to filter on this view", severity="warning")

    async def action_trend_window(self) -> None:
        """The overview's trends: 1 min → 10 min → 1 h → 1 min."""
        source = self.source
        if source is None or not hasattr(source, "trend_window_s"):
            return
        windows = TREND_WINDOWS_S
        now = source.trend_window_s
        source.trend_window_s = windows[(windows.index(now) + 1) % len(windows)]
        self.notify(f"trends: the last {span_text(source.trend_window_s)}")
        await self.refresh_now()

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def action_help(self) -> None:
        keys: list[tuple[str, str, str]] = []
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            keys.append(
                (
                    "Everywhere",
                    binding.key.replace("question_mark", "?").replace("slash", "/"),
                    binding.description,
                )
            )
        keys += [
            ("Everywhere", "ctrl+p", "Command palette (views, scenarios, faults, theme)"),
            ("Everywhere", "tab", "Next widget (tabs, lists, filter)"),
            ("Lists", "↑ ↓ pgup pgdn", "Move the selection"),
            ("Lists", "esc", "Clear the filter"),
            ("Alarms", "a", "Acknowledge the selected alarm"),
            ("Alarms", "s", "Shelve the selected alarm (15 min, 1 h, 8 h)"),
            ("Alarms", "u", "Unshelve the selected alarm"),
            ("Racks", "← → ↑ ↓", "Select a rack"),
            ("Racks", "c", "Colour basis: cold plate / coolant return / inlet / power"),
            ("Overview", "w", "Trend window: last 1 min / 10 min / 1 h"),
        ]
        self.push_screen(HelpScreen(keys))

    # --------------------------------------------------------------- alarms

    def _has_source(self) -> bool:
        if self.source is None:
            self.notify("still starting: the site is not read yet", severity="warning")
        return self.source is not None

    def _alarm(self) -> str | None:
        if not self._has_source():
            return None
        if self.view != "alarms":
            self.notify("alarms are acknowledged on the Alarms view (key 5)", severity="warning")
            return None
        alarm = self.query_one(AlarmsView).selected
        if alarm is None:
            self.notify("no alarm selected", severity="warning")
        return alarm

    def _alarm_words(self, alarm: str) -> str:
        snap = self.snapshot
        row = next((a for a in snap.alarms if a.id == alarm), None) if snap else None
        return row.message if row is not None else alarm

    def action_ack(self) -> None:
        alarm = self._alarm()
        if alarm is None:
            return
        try:
            self.source.ack(alarm)
        except KeyError:
            self.notify("that alarm is gone", severity="warning")
            return
        self.notify(f"acknowledged: {self._alarm_words(alarm)}")
        self.load_snapshot()

    def action_shelve(self) -> None:
        alarm = self._alarm()
        if alarm is None:
            return

        def done(seconds: float | None) -> None:
            if seconds:
                self.source.shelve(alarm, seconds)
                self.notify(f"shelved for {seconds / 60:g} min: {self._alarm_words(alarm)}")
                self.load_snapshot()

        self.push_screen(ShelveScreen(alarm), done)

    def action_unshelve(self) -> None:
        alarm = self._alarm()
        if alarm is not None:
            self.source.unshelve(alarm)
            self.notify(f"unshelved: {self._alarm_words(alarm)}")
            self.load_snapshot()

    # ------------------------------------------------------------ commands

    def action_setpoint(self, point: str | None = None) -> None:
        if not self._has_source():
            return
        setpoints = self.source.setpoints()
        if not setpoints:
            self.notify("this site has no writable setpoints", severity="warning")
            return
        chosen = next((s for s in setpoints if s.point == point), None)
        if chosen is None:
            chosen = next(
                (s for s in setpoints if s.point.endswith("t_supply_set_c")), setpoints[0]
            )
        self.push_screen(SetpointScreen(chosen))

    def start_event(self, kind: str) -> None:
        try:
            self.notify(self.source.start_event(kind))
        except (ValueError, RuntimeError) as error:  # e.g. the simulation process is gone
            self.notify(str(error), severity="error")

    def start_scenario(self, name: str) -> None:
        try:
            self.notify(self.source.start_scenario(name))
        except (ValueError, RuntimeError) as error:
            self.notify(str(error), severity="error")

    def inject_fault(self, kind: str) -> None:
        device = self.query_one(DevicesView).selected
        if device is None:
            self.notify("select a device on the Devices view first", severity="warning")
            return
        try:
            self.notify(self.source.inject_fault(device, kind))
        except (ValueError, RuntimeError) as error:
            self.notify(str(error), severity="error")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        if self.source is None:
            yield SystemCommand("Quit", "Quit the dashboard", self.exit)
            return
        for name, (label, _) in VIEWS.items():
            yield SystemCommand(
                f"Show {label[2:]}",
                f"Switch to the {label[2:]} view (key {label[0]})",
                partial(self.action_show, name),
            )
        yield SystemCommand(
            "Toggle light/dark theme",
            "Switch between the light and dark themes",
            self.action_toggle_theme,
        )
        yield SystemCommand("Help", "Every key of the dashboard", self.action_help)
        for s in self.source.setpoints():
            yield SystemCommand(
                f"Setpoint: {s.point}",
                f"Write {s.point} [{s.low:g}, {s.high:g}] {s.unit}",
                partial(self.action_setpoint, s.point),
            )
        for scenario in self.source.scenarios():
            yield SystemCommand(
                f"Scenario: {scenario.name}",
                f"{scenario.description} (simulated site; its timeline starts now)",
                partial(self.start_scenario, scenario.name),
            )
        for kind, label in self.source.events():
            yield SystemCommand(
                f"Scenario event now: {label}",
                "Simulated site: one plant event at once",
                partial(self.start_event, kind),
            )
        for kind in self.source.fault_kinds():
            yield SystemCommand(
                f"Inject device fault: {kind}",
                "Simulated site: on the device selected on the Devices view (120 s)",
                partial(self.inject_fault, kind),
            )
        yield SystemCommand("Quit", "Quit the dashboard", self.exit)


def run_dashboard(source: Source, tick_s: float = 1.0) -> None:
    TwinApp(source, tick_s=tick_s).run()
