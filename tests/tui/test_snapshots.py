"""SVG snapshots of every view at 120x40 on deterministic states.

During a utility loss: a real aidc-10mw plant stepped 60 s in-process (a pump trip
and a utility loss at 30 s), its device values written into a LiveState at fixed
times with a frozen clock: the same on every run and machine. During start-up: the
same registry with no point answered yet, and the start-up screen before the
collector polls. Update with ``pytest tests/tui --snapshot-update`` and review the
SVGs (tests/tui/test_screen.py checks the same screens hold no placeholder number).
"""

from __future__ import annotations

import threading

import pytest
from textual.pilot import Pilot

from twin.runtime import frozen_source
from twin.tui.app import TwinApp
from twin.tui.startup import Startup

from .screens import starting_source

SIZE = (120, 40)


def press_keys(*keys: str):  # -> run_before
    async def run_before(pilot: Pilot) -> None:
        await pilot.app.refresh_now()  # type: ignore[attr-defined]
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize(
    "key",
    ["1", "2", "3", "4", "5", "6", "7"],
    ids=["overview", "power", "cooling", "racks", "alarms", "devices", "oneline"],
)
def test_view(snap_compare, key: str) -> None:
    app = TwinApp(frozen_source(), tick_s=None)
    assert snap_compare(app, terminal_size=SIZE, run_before=press_keys(key))


def test_help_light_theme(snap_compare) -> None:
    app = TwinApp(frozen_source(), tick_s=None, theme="textual-light")
    assert snap_compare(app, terminal_size=SIZE, run_before=press_keys("question_mark"))


@pytest.mark.parametrize(
    "key",
    ["1", "2", "3", "4", "5", "6", "7"],
    ids=["overview", "power", "cooling", "racks", "alarms", "devices", "oneline"],
)
def test_view_during_start_up(snap_compare, key: str) -> None:
    app = TwinApp(starting_source(answered=0.0), tick_s=None)
    assert snap_compare(app, terminal_size=SIZE, run_before=press_keys(key))


def test_start_up_screen(snap_compare) -> None:
    never = threading.Event()

    def begin():  # the simulation still building its plant: no source yet
        never.wait(30)
        raise RuntimeError("test over")

    startup = Startup(
        "aidc-100mw",
        begin,
        lambda: (
            "site aidc-100mw · 3 s since start · building the plant and serving its devices",
            "plant and gateways: being built in the simulation process",
        ),
        lambda: False,
        clock=lambda: 0.0,  # the title's "starting (N s)": the same on every run
    )

    async def run_before(pilot: Pilot) -> None:
        await pilot.pause()

    try:
        app = TwinApp(startup=startup, tick_s=None)
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        never.set()


def test_power_view_light_theme(snap_compare) -> None:
    app = TwinApp(frozen_source(), tick_s=None, theme="textual-light")
    assert snap_compare(app, terminal_size=SIZE, run_before=press_keys("2"))
