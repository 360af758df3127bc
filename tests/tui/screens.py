"""Deterministic sources for the screen tests: a site starting up, a site in a utility loss."""

from __future__ import annotations

import html
import re
from collections import defaultdict

import numpy as np

from twin.live.state import LiveState
from twin.runtime import frozen_source
from twin.tui.model import FrozenClock, LiveSource

PLACEHOLDER = re.compile(r"\bnan\b|\bNaN\b|\binf\b|(?<![\d.])0\.000(?!\d)")


def starting_source(site: str = "aidc-10mw", answered: float = 0.0) -> LiveSource:
    """The site as a dashboard sees it while starting: a ``answered`` share of the
    points read once (the first devices in registry order), the others never."""
    settled = frozen_source(site, steps=2, events=())
    registry = settled.state.registry
    clock = FrozenClock()
    state = LiveState(registry, interval_s=1.0, stale_after=3.0)
    n = int(len(registry.points) * answered)
    if n:
        values = settled.state.value[:n].copy()
        state.update(np.arange(n), values, np.ones(n, bool), clock.now)
    return LiveSource(state, site=settled.site, clock=clock, carbon_kg_per_kwh=0.5)


def screen_text(svg: str) -> str:
    """The characters of a Textual SVG screenshot, line by line (spans joined by x)."""
    lines: dict[float, list[tuple[float, str]]] = defaultdict(list)
    for x, y, text in re.findall(r'<text[^>]*x="([\d.]+)"[^>]*y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        lines[float(y)].append((float(x), html.unescape(re.sub(r"<[^>]+>", "", text))))
    return "\n".join(
        "".join(t for _, t in sorted(parts)).replace("\xa0", " ")
        for _, parts in sorted(lines.items())
    )
