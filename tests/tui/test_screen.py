"""What the operator reads: no placeholder numbers in any view, from the first frame on;
alarms named with units; every shipped scenario one palette search away; the trees of a
registry the dashboard has never seen; cold-plate racks coloured by their cooling."""

from __future__ import annotations

import asyncio
import functools
import math
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from textual.command import CommandInput, CommandList, CommandPalette

from twin.live.alarms import AlarmState
from twin.live.state import LiveState
from twin.paths import data_path
from twin.points.registry import load_registry
from twin.runtime import SiteRuntime, frozen_source
from twin.tui.app import TwinApp
from twin.tui.model import FrozenClock, LiveSource
from twin.tui.records import Racks
from twin.tui.screens.views import VIEWS
from twin.tui.startup import Startup
from twin.tui.widgets.rackmap import PALETTE, RackMap

from .conftest import until
from .screens import PLACEHOLDER, screen_text, starting_source

SIZE = (120, 40)


def synchronously(test):
    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return run


async def walk_views(app: TwinApp, pilot) -> dict[str, str]:
    """Every view's screen text (the racks view once per colour basis)."""
    seen = {}
    for key, name in enumerate(VIEWS, start=1):
        await pilot.press(str(key))
        await until(pilot, lambda name=name: app.view == name)
        await pilot.pause()
        seen[name] = screen_text(app.export_screenshot())
        if name == "racks":
            for basis in range(1, 4):
                await pilot.press("c")
                await pilot.pause()
                seen[f"racks/{basis}"] = screen_text(app.export_screenshot())
    return seen


@pytest.mark.parametrize(
    "phase",
    ["nothing read", "half read", "utility loss", "aidc-100mw nothing read"],
)
@synchronously
async def test_no_view_shows_a_placeholder_number(phase: str) -> None:
    # During start-up (no point read yet, then half of them) and during a utility
    # loss (both feeds lost 30 s before the snapshot, a CDU pump tripped): a value
    # is a number with its unit or "—", never nan or a 0.000 standing in for one.
    # aidc-100mw's first frame showed "IT nan kW" (issue 18 item 5).
    if phase == "utility loss":
        source = frozen_source()
    elif phase.startswith("aidc-100mw"):
        source = starting_source("aidc-100mw")
    else:
        source = starting_source(answered=0.0 if phase == "nothing read" else 0.5)
    app = TwinApp(source, tick_s=None)
    async with app.run_test(size=SIZE) as pilot:
        await app.refresh_now()
        await pilot.pause()
        seen = await walk_views(app, pilot)
    for view, text in seen.items():
        bad = PLACEHOLDER.findall(text)
        assert not bad, f"{phase}, {view}: {bad}\n{text}"
    if phase.endswith("nothing read"):  # nothing is known: no zero may stand in for a value
        for view, text in seen.items():
            zeros = re.findall(r"(?<![\d.,])0(?:\.0+)? ?(?:kW|°C|%|L/h|kg/s)", text)
            assert not zeros, f"{view}: {zeros}\n{text}"
        assert "no reading yet" in seen["power"] and "no reading yet" in seen["cooling"]
        assert "no active alarm" in seen["overview"]
    if phase == "utility loss":
        assert "UTILITY UNAVAILABLE" in seen["power"] and "ON GENERATOR" in seen["power"]
        assert "PUMP1 FAULT" in seen["cooling"]


@synchronously
async def test_placeholder_check_can_fail() -> None:
    assert PLACEHOLDER.findall("IT nan kW · PUE 0.000 · CUE 1.000 · 10.000 kW") == ["nan", "0.000"]


@synchronously
async def test_start_up_is_on_screen_at_once_then_the_views() -> None:
    release = threading.Event()
    source = starting_source(answered=0.5)
    done = {"all read": False}

    def begin() -> LiveSource:
        release.wait(60)
        return source

    def progress() -> tuple[str, ...]:
        return ("site aidc-10mw · building the plant", "points answered 1/2")

    startup = Startup("aidc-10mw", begin, progress, lambda: done["all read"])
    app = TwinApp(startup=startup, tick_s=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app.export_screenshot())
        assert "Starting aidc-10mw" in text and "points answered 1/2" in text, text
        assert "starting" in text.splitlines()[0]
        await pilot.press("2")  # keys work while starting: the view opens with the data
        release.set()
        await until(pilot, lambda: app.snapshot is not None, what="the first snapshot")
        await until(pilot, lambda: app.view == "power")
        text = screen_text(app.export_screenshot())
        assert "start-up:" in text and "power" in text.lower(), text
        assert any(r.state == "no data" for r in app.snapshot.power)
        done["all read"] = True
        await until(pilot, lambda: not app.starting, what="the end of start-up")
        await pilot.pause(0.5)
        text = screen_text(app.export_screenshot())
        assert "start-up:" not in text and "PUE" in text.splitlines()[0], text


@synchronously
async def test_alarm_keys_act_on_the_alarms_view_without_focusing_its_table() -> None:
    source = frozen_source()
    app = TwinApp(source, tick_s=None)
    async with app.run_test(size=SIZE) as pilot:
        await app.refresh_now()
        await pilot.press("1")
        first = app.snapshot.alarms[0].id
        before = source.alarms.alarms[first].state
        assert before in (AlarmState.UNACKED, AlarmState.RTN_UNACKED)
        # ISA-18.2: acknowledging an active alarm leaves it acknowledged; one that has
        # already returned to normal leaves the list.
        after = AlarmState.ACKED if before == AlarmState.UNACKED else AlarmState.NORMAL
        await pilot.press("a")  # not on the Alarms view: says where, changes nothing
        await pilot.pause()
        assert source.alarms.alarms[first].state == before
        assert any("Alarms view" in n.message for n in app._notifications)
        await pilot.press("5")
        await pilot.pause()
        await pilot.press("a")
        await until(pilot, lambda: source.alarms.alarms[first].state == after, what="the ack")
        assert any(n.message.startswith("acknowledged:") for n in app._notifications)
        text = screen_text(app.export_screenshot())
        assert "rtn_una" not in text, text
        assert after == AlarmState.NORMAL or "ACKED" in text, text
        # Each value with its point's unit, each message the engine's own words.
        with_unit = [a for a in app.snapshot.alarms if a.unit]
        assert with_unit and all(a.message for a in app.snapshot.alarms)
        assert f"{with_unit[0].unit}" in text


@synchronously
async def test_every_shipped_scenario_is_one_palette_search_away(runtime: SiteRuntime) -> None:
    folder = data_path("sim", "scenarios")
    shipped = sorted(
        p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob("*.toml")
    )
    assert {"chiller-trip", "hall-1-cooling-lost", "load-step", "devices/comms-faults"} <= set(
        shipped
    )
    source = runtime.source()
    app = TwinApp(source)
    it_point = "site-meter.it_power_kw"
    async with app.run_test(size=(140, 45)) as pilot:
        await until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        before = source.read(it_point)
        assert before is not None and before > 0
        app.action_command_palette()
        await until(
            pilot,
            lambda: isinstance(app.screen, CommandPalette) and app.screen.query(CommandInput),
            what="the command palette",
        )
        await pilot.press(*"scenario")
        options = app.screen.query_one(CommandList)

        def prompts() -> list[str]:
            return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

        await until(
            pilot,
            lambda: all(any(f"Scenario: {s}" in p for p in prompts()) for s in shipped),
            what="every shipped scenario listed",
        )
        await pilot.press(*": load-step")
        await until(pilot, lambda: any("load-step" in p for p in prompts()[:1]))
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, CommandPalette))
        await until(
            pilot,
            lambda: (source.read(it_point) or before) < 0.75 * before,
            what="the load step (IT load to 50 %) started from the palette",
        )


def test_a_registry_with_other_equipment_gets_sensible_trees() -> None:
    # The README's vendor plant room: other device names (mains, ups1, it, crac1),
    # 1-based vendor numbering, no area column. Its trees come from its columns.
    registry = load_registry(Path(data_path("configs", "points") / "plant-room-vendor.csv"))
    clock = FrozenClock()
    state = LiveState(registry, interval_s=1.0, stale_after=3.0)
    source = LiveSource(state, clock=clock)
    values = np.array(
        [
            120.0
            if p.unit == "kW"
            else 23.5
            if p.unit == "degC"
            else 40.0
            if p.unit == "pct"
            else float(p.name.endswith("on_battery"))
            for p in registry.points
        ]
    )
    state.update(np.arange(len(values)), values, np.ones(len(values), bool), clock.now)
    snap = source.snapshot()
    power = {r.label: r for r in snap.power}
    cooling = {r.label: r for r in snap.cooling}
    assert {"plant-room", "room-1", "room-1-ups", "ups1", "mains", "it"} <= set(power), power
    assert {"crah (2)", "crac1", "crac2"} <= set(cooling), cooling
    assert power["ups1"].depth == power["room-1-ups"].depth + 1
    assert power["ups1"].load == "120 kW" and power["ups1"].pct == 40.0
    # On battery at 40 % charge: the plant room's rules raise battery low (urgent), so the
    # row is in alarm, not merely flagged.
    assert "ON BATTERY" in power["ups1"].detail and power["ups1"].state == "alarm"
    assert "battery 23.5 °C" in power["ups1"].detail
    assert (
        "supply 23.5 °C" in cooling["crac1"].detail and "humidity 40 %" in cooling["crac1"].detail
    )
    assert power["mains"].load == "120 kW" and "frequency" in power["mains"].detail
    for row in snap.power + snap.cooling:
        assert not PLACEHOLDER.findall(f"{row.load} {row.detail}"), row


def test_cold_plate_racks_are_coloured_by_their_plates() -> None:
    # hall-1-cooling-lost: the plates heat up while the inlet air stays in range.
    n = 4
    racks = Racks(
        names=tuple(f"r{i}" for i in range(n)),
        halls=("hall-1",) * n,
        inlet_c=np.full(n, 25.0),
        return_c=np.array([45.0, 58.0, math.nan, 45.0]),
        power_kw=np.full(n, 100.0),
        liquid=np.array([True, True, False, True]),
        plate_c=np.array([55.0, 85.0, math.nan, math.nan]),
    )
    rack_map = RackMap()
    rack_map.racks = racks
    buckets = rack_map._bucketise()
    assert buckets[0] == 1 and buckets[1] == len(PALETTE) - 1  # a plate at 85 °C is red
    assert buckets[2] == 2  # air-cooled: by inlet, 25 °C in the A1 recommended band
    assert buckets[3] == 1  # no plate sensor: its coolant return, 45 °C
    rack_map.metric = "inlet"  # the old basis: every rack alike, the hot plate hidden
    assert (rack_map._bucketise() == 2).all()


@synchronously
async def test_a_start_up_that_fails_at_once_ends_with_its_message() -> None:
    # The failure lands before the first progress draw: the app stopped on an
    # AttributeError (its progress timer not made yet) instead of saying why.
    failed = threading.Event()

    def begin() -> LiveSource:
        failed.set()
        raise RuntimeError("cannot listen on 127.0.0.1:5020")

    startup = Startup("aidc-10mw", begin, lambda: ("starting",), lambda: False)
    original = startup.start

    def start_and_fail() -> None:  # the thread's failure, before start() returns
        original()
        failed.wait(10)
        assert startup._thread is not None
        startup._thread.join(10)

    startup.start = start_and_fail  # type: ignore[method-assign]
    app = TwinApp(startup=startup, tick_s=0.2)
    said: list[str] = []
    exit_app = app.exit

    def exit_saying(*args, **kwargs) -> None:  # the message the terminal gets at the end
        said.append(str(kwargs.get("message")))
        exit_app(*args, **kwargs)

    app.exit = exit_saying  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(said), what="the app to end")
    assert said == ["start-up failed: cannot listen on 127.0.0.1:5020"]


@synchronously
async def test_the_setpoint_dialog_shows_units_as_the_tables_do() -> None:
    # The tables show °C; the dialog said "degC", the registry's code for it.
    from textual.widgets import Button, Input, Static

    from twin.tui.records import Setpoint
    from twin.tui.screens.dialogs import SetpointScreen

    app = TwinApp(frozen_source(), tick_s=None)
    async with app.run_test(size=SIZE) as pilot:
        await app.refresh_now()
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, SetpointScreen))
        await pilot.pause()
        text = screen_text(app.export_screenshot())
        assert "limits [20, 50] °C" in text and "new value [°C]" in text, text
        assert "degC" not in text
        dialog = app.screen
        dialog.query_one("#sp-value", Input).value = "99"
        dialog.query_one("#sp-write", Button).press()
        result = dialog.query_one("#sp-result", Static)
        await until(pilot, lambda: "refused" in str(result.render()), what="a refusal")
        assert "99 °C is outside [20, 50]" in str(result.render())
        await pilot.press("escape")
        # a setpoint with only an upper limit is refused with it, not with a crash
        only_high = SetpointScreen(Setpoint("x.t_set_c", "x", "degC", None, 50.0, 40.0))
        app.push_screen(only_high)
        await until(pilot, lambda: app.screen is only_high and only_high.is_mounted)
        await pilot.pause()
        dialog = only_high
        dialog.query_one("#sp-value", Input).value = "51"
        dialog.query_one("#sp-write", Button).press()
        result = dialog.query_one("#sp-result", Static)
        await until(pilot, lambda: "refused" in str(result.render()), what="a refusal")
        assert "51 °C is outside [—, 50]" in str(result.render())
