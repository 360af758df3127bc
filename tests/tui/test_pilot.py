"""The dashboard on a running simulated site: every view renders, keys switch views,
alarms are acknowledged and shelved in the live AlarmEngine, setpoints go over the wire."""

from __future__ import annotations

import asyncio
import functools
import math

from textual.widgets import Button, Input, Static

from twin.live.alarms import AlarmEngine, AlarmState
from twin.runtime import SiteRuntime
from twin.tui.app import TwinApp
from twin.tui.screens.dialogs import SetpointScreen, ShelveScreen
from twin.tui.screens.views import VIEWS, AlarmsView
from twin.tui.widgets.rackmap import RackMap
from twin.tui.widgets.table import LiveTable

from .conftest import until

SIZE = (140, 45)


def synchronously(test):  # no async plugin needed: each test runs its own event loop
    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return run


@synchronously
async def test_every_view_renders_and_number_keys_switch(runtime: SiteRuntime) -> None:
    app = TwinApp(runtime.source())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        title = str(app.query_one("#title-bar", Static).render())
        assert "PUE" in title and "aidc-10mw" in title
        for key, name in enumerate(VIEWS, start=1):
            await pilot.press(str(key))
            await until(pilot, lambda name=name: app.view == name)
            view = app.query_one(f"#{name}")
            assert view.display and app.query_one("ContentSwitcher").current == name
        assert app.query_one("#power").query_one(LiveTable).row_count > 10
        assert app.query_one("#cooling").query_one(LiveTable).row_count > 10
        assert app.query_one("#devices").query_one(LiveTable).row_count == len(app.snapshot.devices)
        assert app.query_one(RackMap).racks is not None
        ticks = app.ticks
        await until(pilot, lambda: app.ticks >= ticks + 2, what="two refresh ticks")
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen.__class__.__name__ == "HelpScreen")
        await pilot.press("escape")
        await pilot.press("q")


@synchronously
async def test_ack_and_shelve_change_the_state_in_the_alarm_engine(runtime: SiteRuntime) -> None:
    source = runtime.source()
    engine = source.alarms  # the live layer's AlarmEngine, rules from configs/alarms
    assert isinstance(engine, AlarmEngine) and engine.rules
    app = TwinApp(source)
    async with app.run_test(size=SIZE) as pilot:
        app.start_event("pump_trip")
        cdu = next(p.device for p in runtime.state.points if p.equipment == "cdu")  # type: ignore[union-attr]
        key = f"cdu-pump-fault:{cdu}.status.pump1_fault"

        def state() -> AlarmState | None:
            alarm = engine.alarms.get(key)
            return None if alarm is None else alarm.state

        await until(pilot, lambda: state() == AlarmState.UNACKED, what="the pump trip alarm")
        await pilot.press("5")
        table = app.query_one("#alarm-table", LiveTable)
        await until(pilot, lambda: key in table._shown, what="the alarm listed")
        table.focus()
        table.move_cursor(row=table.get_row_index(key))
        await until(pilot, lambda: app.query_one(AlarmsView).selected == key, what="selection")
        await pilot.press("a")
        await until(pilot, lambda: state() == AlarmState.ACKED, what="acknowledged")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ShelveScreen))
        await pilot.click("#shelve-900")
        await until(pilot, lambda: state() == AlarmState.SHELVED, what="shelved")
        shelved_until = engine.alarms[key].shelved_until
        assert shelved_until is not None and shelved_until > source.clock() + 800
        await until(pilot, lambda: "shelved" in str(table.get_cell(key, "State")))
        await pilot.press("u")
        await until(pilot, lambda: state() != AlarmState.SHELVED, what="unshelved")
        assert engine.alarms[key].shelved_until is None


@synchronously
async def test_setpoint_refused_out_of_range_and_written_over_the_wire(
    runtime: SiteRuntime,
) -> None:
    source = runtime.source()
    app = TwinApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, SetpointScreen))
        dialog = app.screen
        assert isinstance(dialog, SetpointScreen)
        point = dialog.setpoint.point
        assert point.endswith("t_supply_set_c")
        before = source.read(point)
        assert before is not None
        limits = str(dialog.query_one("#sp-limits").render())
        assert "limits [20, 50]" in limits
        result = dialog.query_one("#sp-result", Static)
        value_box = dialog.query_one("#sp-value", Input)
        write = dialog.query_one("#sp-write", Button)

        value_box.value = "99"
        write.press()
        await until(pilot, lambda: "refused" in str(result.render()), what="a refusal")
        assert source.read(point) == before

        target = 38.0 if abs(before - 38.0) > 0.5 else 36.0
        value_box.value = f"{target:g}"
        write.press()
        await until(pilot, lambda: "Confirm" in str(write.label), what="the confirmation")
        write.press()
        await until(pilot, lambda: "written" in str(result.render()), what="the device's ack")
        await until(
            pilot,
            lambda: math.isclose(source.read(point) or 0.0, target, abs_tol=0.01),
            what="the new setpoint read back over Modbus",
        )


@synchronously
async def test_live_table_draws_what_datatable_public_api_draws() -> None:
    """LiveTable fills DataTable's row store directly (one pass, widths measured here);
    it must draw exactly what clear() + add_row() + update_cell() would. This pins the
    DataTable internals it relies on against a Textual upgrade."""
    from rich.text import Text
    from textual.app import App, ComposeResult
    from textual.geometry import Region
    from textual.widgets import DataTable

    columns = ("Name", "Address", "Time", "Note", "Wide", "Quality")

    def rows(n: int, tick: int) -> list[tuple[str, tuple[str | Text, ...]]]:
        return [
            (
                f"dev-{i}",
                (
                    f"dev-{i}" + "x" * (i % 7),
                    f"10.0.0.{i}:502/{i % 3}",
                    f"00:00:{(i + tick) % 60:02d}",
                    "[b]bold[/b] :smile: 12:30:45"
                    if i % 5 == 0
                    else "cropped: wider than its column " * 3
                    if (i, tick) == (3, 1)
                    else "plain · é 全角",
                    "全" + "角" * ((i + tick) % 5) + "—",
                    Text("good" if (i + tick) % 4 else "stale", style="green"),
                ),
            )
            for i in range(n)
        ]

    class Pair(App[None]):
        CSS = "#live, #ref { height: 12; }"

        def compose(self) -> ComposeResult:
            yield LiveTable(columns, id="live")
            yield DataTable(cursor_type="row", zebra_stripes=False, id="ref")

        def on_mount(self) -> None:
            ref = self.query_one("#ref", DataTable)
            for name in columns:
                ref.add_column(name, key=name)

    def fill(ref: DataTable, data: list[tuple[str, tuple[str | Text, ...]]]) -> None:
        ref.clear()
        for key, cells in data:
            ref.add_row(*cells, key=key)

    def drawn(table: DataTable) -> list[list[tuple[str, object]]]:  # text and style
        lines = table.render_lines(Region(0, 0, table.size.width, table.size.height))
        return [[(s.text, s.style) for s in line.simplify()] for line in lines]

    app = Pair()
    async with app.run_test(size=(100, 30)) as pilot:
        live = app.query_one("#live", LiveTable)
        ref = app.query_one("#ref", DataTable)
        app.set_focus(None)  # both drawn blurred (focus changes the cursor's style)
        for n, tick in ((40, 0), (40, 1), (25, 2), (60, 3)):  # load, update, reload, grow
            data = rows(n, tick)
            live.apply(data)
            if tick == 1:
                for key, cells in data:
                    for name, old, new in zip(columns, ref.get_row(key), cells, strict=True):
                        if old != new:
                            ref.update_cell(key, name, new)
            else:
                fill(ref, data)
            await pilot.pause()
            assert live.row_count == ref.row_count == n
            assert [c.content_width for c in live.ordered_columns] == [
                c.content_width for c in ref.ordered_columns
            ]
            assert live.virtual_size == ref.virtual_size
            assert drawn(live) == drawn(ref)
            if tick == 1:  # rows off screen are written when scrolled to
                live.scroll_to(y=30, animate=False, immediate=True)
                ref.scroll_to(y=30, animate=False, immediate=True)
                await pilot.pause()
                assert drawn(live) == drawn(ref)
                live.scroll_to(y=0, animate=False, immediate=True)
                ref.scroll_to(y=0, animate=False, immediate=True)
                live.apply(rows(n, 5))  # and read back through the DataTable API
                for key, cells in rows(n, 5):
                    for name, old, new in zip(columns, ref.get_row(key), cells, strict=True):
                        if old != new:
                            ref.update_cell(key, name, new)
                await pilot.pause()
            assert [live.get_row(k) for k, _ in data] == [ref.get_row(k) for k, _ in data]
            assert drawn(live) == drawn(ref)
        live.move_cursor(row=7)
        ref.move_cursor(row=7)
        live.focus()
        await pilot.pause()
        focused = drawn(live)
        ref.focus()
        await pilot.pause()
        assert focused == drawn(ref)  # the cursor row, focused
        live.apply(rows(60, 4))  # same keys: the selection stays
        assert live.selected_key == "dev-7"
        live.apply(list(reversed(rows(60, 4))))  # new order: the selected row is followed
        await pilot.pause()
        assert live.selected_key == "dev-7" and live.cursor_row == 52
