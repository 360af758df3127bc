"""How the views write values, states and colours (shared by the views and the app).

A number the dashboard does not have is "—", never ``nan`` or a 0 standing in for it;
a metric the live layer does not call good is shown with its quality and reason.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from twin.tui.palette import palette


# Static markup takes the palette as theme variables ([$twin-warn]); table cells are
# Rich Text, styled with the palette of the theme on screen (see Look).
@dataclass(frozen=True)
class Look:
    """The cell styles of one theme; shared Text cells are never mutated."""

    state: dict[str, str]
    quality: dict[str, Text]
    priority: dict[str, str]


@functools.cache
def look(dark: bool) -> Look:
    c = palette(dark)
    return Look(
        state={
            "ok": c.ok,
            "warn": c.warn,
            "alarm": f"bold {c.alarm}",
            "off": c.muted,
            "no data": c.muted,
        },
        quality={
            "good": Text("good", style=c.ok),
            "stale": Text("stale", style=c.warn),
            "bad": Text("bad", style=f"bold {c.alarm}"),
            "not read": Text("not read", style=c.muted),
        },
        priority={
            "urgent": f"bold {c.urgent_fg} on {c.urgent_bg}",
            "high": f"bold {c.alarm}",
            "medium": c.warn,
            "low": c.info,
        },
    )


# ISA-18.2 alarm states as an operator reads them (the engine's names are identifiers).
STATE_WORDS = {
    "unacked": "UNACK",
    "acked": "ACKED",
    "rtn_unacked": "RTN UNACK",
    "suppressed": "suppressed",
    "out_of_service": "out of service",
    "normal": "normal",
}
STATE_WIDTH = len("shelved to 00:00:00")
PRIORITY_MARKUP = {
    "urgent": "b $twin-urgent-fg on $twin-urgent-bg",
    "high": "b $twin-alarm",
    "medium": "$twin-warn",
    "low": "$twin-info",
}
FLOOD = "[b $twin-urgent-fg on $twin-urgent-bg]"


def num(x: float, fmt: str = ",.0f", unit: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:{fmt}}{(' ' + unit) if unit else ''}"


def span_text(seconds: float) -> str:
    """A trend window as an operator says it: ``1 min``, ``10 min``, ``1 h``.

    >>> span_text(60), span_text(600), span_text(3600)
    ('1 min', '10 min', '1 h')
    """
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def trend_label(
    name: str, now: str, values: tuple[float, ...], fmt: str, unit: str, span: float
) -> str:
    """A sparkline's scale: what it shows, the value now, the range drawn, the time axis."""
    if values:
        low, high = min(values), max(values)
        scale = f"{num(low, fmt)} – {num(high, fmt, unit)}"
    else:
        scale = "—"
    return (
        f"[b]{name}[/b] now {now}   [$twin-muted]range {scale} · −{span_text(span)} → now "
        f"(w: window)[/]"
    )


def pue_text(o: Any, big: bool = False) -> str:
    """PUE as trusted or not: a value the metrics layer does not call good is shown
    muted with its quality and the reason it gives, never as a plain number."""
    value = num(o.pue, ".3f")
    if o.pue_quality == "good":
        return f"[b reverse] {value} [/]" if big else f"[b]{value}[/]"
    why = f"{o.pue_quality}: {o.pue_reason}" if o.pue_reason else o.pue_quality
    shown = "—" if value == "—" else f"[$twin-muted]{value}[/]"
    return f"{shown} [$twin-warn]({why})[/]"


def window_text(value: float, quality: str) -> str:
    """An energy-based PUE window: its value once the window is covered, else "filling"."""
    if quality == "good":
        return num(value, ".3f")
    return "[$twin-muted]filling[/]" if quality == "stale" else "—"


@functools.lru_cache(maxsize=4096)
def clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts)) if ts else "never"


def alarm_value(value: float | None, unit: str) -> str:
    """The value that tripped the alarm, with its unit, at a precision a reader takes in."""
    if value is None or value != value:
        return ""
    if unit in ("°C", "K", "kg/s"):
        text = f"{value:.1f}"
    elif unit in ("kW", "L/h", "m³/h"):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    elif unit == "%":
        text = f"{value:.0f}"
    else:
        text = f"{value:.4g}"
    return f"{text} {unit}" if unit else text
