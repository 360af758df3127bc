"""The one-line view: the power chain per side, the path on battery or generator lit."""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from twin.tui.oneline import HallLine, OneLine, SideLine
from twin.tui.records import Snapshot
from twin.tui.screens.text import num
from twin.tui.screens.views import View


def _known(x: float) -> bool:
    return not (x is None or (isinstance(x, float) and math.isnan(x)))


def _flag(x: float, yes: str, no: str, unknown: str = "[$twin-muted]—[/]") -> str:
    if not _known(x):
        return unknown
    return yes if x > 0 else no


def _hall(h: HallLine) -> list[str]:
    kind = h.kind.upper().replace("+", " + ")
    # "online" is the UPS's double-conversion state: a system on battery is not
    # online but is carrying the load, so only a shortfall on mains is worth a word.
    online = f"{h.systems} systems"
    on_mains = not (_known(h.on_battery) and h.on_battery > 0)
    if on_mains and _known(h.online) and h.online < h.systems:
        online += f" [$twin-warn]({h.systems - h.online:.0f} not online)[/]"
    if _known(h.on_battery) and h.on_battery > 0:
        runtime = f", {num(h.runtime_min, ',.0f', 'min')} left" if _known(h.runtime_min) else ""
        state = (
            f"[$twin-alarm]{h.on_battery:.0f} ON BATTERY[/] "
            f"(SoC {num(h.soc_min_pct, '.0f', '%')}{runtime})"
        )
    elif _known(h.on_battery):
        state = f"[$twin-ok]on mains[/] · SoC {num(h.soc_min_pct, '.0f', '%')}"
    else:
        state = f"[$twin-muted]source not known[/] · SoC {num(h.soc_min_pct, '.0f', '%')}"
    lines = [
        f"[b]{h.hall}[/b]  {kind} {online} · {num(h.output_kw, ',.0f', 'kW')}",
        f"   {state}",
    ]
    if h.pdus:
        lines.append(f"   └ {h.pdus} PDUs · {num(h.pdu_kw, ',.0f', 'kW')}")
    return lines


def side_text(side: SideLine) -> str:
    """One side of the chain, top (utility) to bottom (halls), as Static markup."""
    lost = _known(side.utility_available) and side.utility_available == 0
    utility = _flag(side.utility_available, "[$twin-ok]available[/]", "[$twin-alarm]LOST[/]")
    if _known(side.ats_on_utility) and side.ats_on_utility > 0:
        position = "[$twin-ok]on utility[/]"
    elif _known(side.ats_on_generator) and side.ats_on_generator > 0:
        position = "[$twin-warn]ON GENERATOR[/]"
    elif _known(side.ats_on_utility):
        position = "[$twin-alarm]OPEN (no source)[/]"
    else:
        position = "[$twin-muted]—[/]"
    energised = (
        f"{num(side.transformers_energised, ',.0f')}/{side.transformers} energised"
        if side.transformers
        else "none"
    )
    tx_style = "$twin-alarm" if side.transformers and side.transformers_energised == 0 else ""
    transformers = f"[{tx_style}]{energised}[/]" if tx_style else energised
    rule = "[$twin-alarm]" if side.on_battery or lost else ""
    battery = "  [$twin-alarm]on battery[/]" if side.on_battery else ""
    lines = [
        f"[b reverse] Side {side.side} [/]{battery}",
        f"Utility {side.side}    {utility}",
        f"{rule}│[/]" if rule else "│",
        f"{side.ats or 'ATS'}        {position} · {num(side.ats_kw, ',.0f', 'kW')}",
        "│",
        f"Transformers {transformers} · {num(side.transformer_kw, ',.0f', 'kW')} · "
        f"max {num(side.transformer_max_pct, '.0f', '%')}",
        "│",
    ]
    for hall in side.halls:
        lines += _hall(hall)
    return "\n".join(lines)


def header_text(line: OneLine) -> str:
    running = f"{num(line.generators_running, ',.0f')}/{line.generators}"
    busy = _known(line.generators_running) and line.generators_running > 0
    generators = f"[$twin-warn]{running} running[/]" if busy else f"{running} running"
    paths = [
        f"{s.side} [$twin-alarm]on battery[/]"
        if s.on_battery
        else f"{s.side} [$twin-warn]on generator[/]"
        if _known(s.ats_on_generator) and s.ats_on_generator > 0
        else f"{s.side} [$twin-ok]on utility[/]"
        if _known(s.ats_on_utility) and s.ats_on_utility > 0
        else f"{s.side} [$twin-muted]—[/]"
        for s in line.sides
    ]
    return (
        f"[b]Generators [/b]{generators} · {num(line.generator_kw, ',.0f', 'kW')}"
        f"    [b]Paths [/b] {' · '.join(paths)}"
    )


class OneLineView(View):
    """Feeds → ATS → transformers → UPS/HVDC → PDUs → halls, one column per side."""

    def compose(self) -> ComposeResult:
        yield Static(id="ol-header", classes="heading")
        with VerticalScroll(id="ol-scroll"), Horizontal(id="ol-sides"):
            yield Static(id="ol-side-0", classes="panel ol-side")
            yield Static(id="ol-side-1", classes="panel ol-side")

    def show(self, snap: Snapshot) -> None:
        line = snap.oneline
        if line is None or line.empty:
            self.set_text("ol-header", "No power chain in this registry (no ATS, UPS or HVDC).")
            self.set_text("ol-side-0", "")
            self.set_text("ol-side-1", "")
            return
        self.set_text("ol-header", header_text(line))
        for i in range(2):
            self.set_text(f"ol-side-{i}", side_text(line.sides[i]) if i < len(line.sides) else "")
