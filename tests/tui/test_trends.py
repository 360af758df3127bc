"""Overview trends with a scale and a selectable window (issue 17 item 6)."""

from __future__ import annotations

import asyncio

import numpy as np
from textual.widgets import Static

from twin.runtime import frozen_source
from twin.tui.app import TwinApp
from twin.tui.records import TREND_BUCKETS


def test_a_longer_window_averages_into_at_most_the_bars_drawn() -> None:
    source = frozen_source("aidc-10mw", steps=60)
    one_minute = source.snapshot().overview
    source.trend_window_s = 600.0
    ten_minutes = source.snapshot().overview
    assert ten_minutes.trend_window_s == 600.0
    assert len(ten_minutes.trend_pue) <= TREND_BUCKETS
    # 60 one-second samples in 5 s bars: 12 (or 13 where the minute straddles a bar).
    assert 12 <= len(ten_minutes.trend_it_kw) <= 13
    assert len(ten_minutes.trend_pue) <= 13  # fewer: a PUE not good is left out
    # Averaging keeps the level: the mean of the bars is the mean of the samples.
    assert np.isclose(np.mean(ten_minutes.trend_it_kw), np.mean(one_minute.trend_it_kw), rtol=0.05)


def test_w_cycles_the_window_and_the_labels_give_the_scale() -> None:
    app = TwinApp(frozen_source("aidc-10mw", steps=60), tick_s=None)

    async def run() -> list[str]:
        labels = []
        async with app.run_test(size=(140, 48)) as pilot:
            await app.refresh_now()  # type: ignore[attr-defined]
            await pilot.pause()
            for _ in range(4):
                labels.append(str(app.query_one("#tl-it", Static).render()))
                await pilot.press("w")
                await pilot.pause()
        return labels

    labels = asyncio.run(run())
    assert ["−1 min" in labels[0], "−10 min" in labels[1], "−1 h" in labels[2]] == [True] * 3
    assert "−1 min" in labels[3]  # and round again
    assert "now 9,494 kW" in labels[0]
    assert "range " in labels[0] and "kW" in labels[0] and "nan" not in "".join(labels)
