"""SVG snapshots of every view at 120x40 on a deterministic state.

The state is a real aidc-10mw plant stepped 60 s in-process (a pump trip and a
utility loss at 30 s), its device values written into a LiveState at fixed
times with a frozen clock: the same on every run and machine. Update with
``pytest tests/tui --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from twin.runtime import frozen_source
from twin.tui.app import TwinApp

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
    ["1", "2", "3", "4", "5", "6"],
    ids=["overview", "power", "cooling", "racks", "alarms", "devices"],
)
def test_view(snap_compare, key: str) -> None:
    app = TwinApp(frozen_source(), tick_s=None)
    assert snap_compare(app, terminal_size=SIZE, run_before=press_keys(key))


def test_help_light_theme(snap_compare) -> None:
    app = TwinApp(frozen_source(), tick_s=None, theme="textual-light")
    assert snap_compare(app, terminal_size=SIZE, run_before=press_keys("question_mark"))
