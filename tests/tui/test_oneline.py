"""The one-line view: the power chain read from the registry, lit where a utility loss is.

Issue 17 item 6: the view every DCIM has. Checked on the real aidc-10mw plant
(``frozen_source``: devices written into a live state at fixed times) before and
during a utility loss on both feeds, against the device values themselves.
"""

from __future__ import annotations

import asyncio

import numpy as np
from textual.widgets import Static

from twin.runtime import frozen_source
from twin.tui.app import TwinApp
from twin.tui.oneline import OneLineModel, side_of


def _line(events: tuple[str, ...]):  # type: ignore[no-untyped-def]
    source = frozen_source("aidc-10mw", steps=3, events=events)
    return source, source.snapshot().oneline


def test_sides_halls_and_pdus_come_from_the_registry() -> None:
    source, line = _line(())
    assert [s.side for s in line.sides] == ["A", "B"]
    assert line.generators == 7
    state = source.state
    values = np.append(state.value, np.nan)
    for side in line.sides:
        assert side.ats == f"ats-{side.side}"
        assert side.transformers == 6
        assert [h.hall for h in side.halls] == ["hall-1", "hall-2"]
        for hall in side.halls:
            # Every PDU of this hall and side, by name, and their power summed.
            pdus = [
                d
                for d in {p.device for p in state.points}
                if d.startswith(f"{hall.hall}-")
                and "-pdu" in d
                and side_of(d.split("-pdu")[0]) == side.side
            ]
            assert hall.pdus == len(pdus)
            total = sum(values[state.index[f"{d}.power_kw"]] for d in pdus)
            assert np.isclose(hall.pdu_kw, total)


def test_in_normal_operation_every_path_is_on_utility() -> None:
    _, line = _line(())
    for side in line.sides:
        assert side.utility_available == 1 and side.ats_on_utility == 1
        assert side.transformers_energised == side.transformers
        assert not side.on_battery
    assert line.generators_running == 0


def test_a_utility_loss_lights_the_path_on_battery() -> None:
    _, line = _line(("utility_loss",))
    for side in line.sides:
        assert side.utility_available == 0
        assert side.ats_on_utility == 0
        assert side.transformers_energised == 0
        assert side.on_battery
        assert all(h.on_battery == h.systems for h in side.halls)
        assert all(np.isfinite(h.runtime_min) and h.runtime_min > 0 for h in side.halls)
    assert line.generators_running == line.generators  # starting, not yet on load


def test_the_view_names_the_lost_feeds_and_the_systems_on_battery() -> None:
    app = TwinApp(frozen_source("aidc-10mw", steps=3, events=("utility_loss",)), tick_s=None)

    async def run() -> str:
        async with app.run_test(size=(140, 48)) as pilot:
            await app.refresh_now()  # type: ignore[attr-defined]
            await pilot.press("7")
            await pilot.pause()
            assert app.view == "oneline"
            return "\n".join(str(w.render()) for w in app.query_one("#oneline").query(Static))

    text = asyncio.run(run())
    assert "Side A" in text and "Side B" in text
    assert text.count("LOST") == 2
    assert "ON BATTERY" in text and "min left" in text
    assert "nan" not in text


def test_a_registry_without_a_power_chain_has_an_empty_diagram() -> None:
    assert OneLineModel({}, {}, 0).read(np.array([np.nan])).empty
