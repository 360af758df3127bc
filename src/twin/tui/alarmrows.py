"""The alarm list as the engine holds it: its states, its words, each value's unit.

The dashboard keeps no alarm of its own: these rows are the live layer's
:class:`~twin.live.alarms.AlarmEngine` alarms, read under the lock their owner
evaluates them under. Each row says what the engine says (its message, whatever
wording the rules give), the value with the unit of the point it came from, and
the engine's ISA-18.2 state.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from twin.live.alarms import AlarmEngine, AlarmState
from twin.points.registry import Registry
from twin.tui.records import PRIORITIES, AlarmRow
from twin.tui.rows import unit_symbol

ANNUNCIATED = (AlarmState.UNACKED, AlarmState.ACKED, AlarmState.RTN_UNACKED)
ACTIVE = (AlarmState.UNACKED, AlarmState.ACKED)
LEVEL = {"urgent": 2.0, "high": 2.0, "medium": 1.0, "low": 1.0}  # a tree row's alarm / warn


def alarm_text(alarm: object) -> str:
    """The engine's message for the operator (its own wording, whatever it provides)."""
    for attribute in ("text", "message"):
        text = getattr(alarm, attribute, None)
        if isinstance(text, str) and text:
            return text
    rule = alarm.rule  # type: ignore[attr-defined]
    return rule.message or rule.name


def alarm_rows(
    engine: AlarmEngine,
    lock: threading.Lock | threading.RLock,
    registry: Registry,
    device_number: dict[str, int],
    levels: np.ndarray,
) -> tuple[tuple[AlarmRow, ...], dict[str, int], AlarmRow | None]:
    """Rows most urgent first, annunciated counts per priority, the newest active alarm.

    ``levels[device]`` is set to the worst active alarm of each device (2 urgent or
    high, 1 medium or low), for the trees' row states.
    """
    with lock:
        alarms = [a for a in list(engine.alarms.values()) if a.state != AlarmState.NORMAL]
    counts = {p: 0 for p in PRIORITIES}
    rows = []
    levels[:] = 0.0
    by_name = registry.by_name
    newest: AlarmRow | None = None
    for a in alarms:
        state = a.state
        point = by_name.get(a.source)
        # The engine's own unit for what it shows (K/min for a rate, none for a state).
        unit = getattr(a, "display_unit", None)
        unit = unit_symbol(unit if isinstance(unit, str) else point.unit if point else "")
        value = a.value if a.value is not None and math.isfinite(a.value) else None
        row = AlarmRow(
            a.key,
            a.rule.priority,
            state.value,
            a.since,
            a.source,
            value,
            alarm_text(a) if a.cause is None else f"↳ {alarm_text(a)}",
            a.shelved_until if state == AlarmState.SHELVED else None,
            unit,
        )
        rows.append(row)
        if state in ANNUNCIATED:
            counts[a.rule.priority] += 1
        if state in ACTIVE:
            number = device_number.get(point.device if point is not None else a.source)
            if number is not None:
                levels[number] = max(levels[number], LEVEL.get(a.rule.priority, 1.0))
            if newest is None or (row.ts, row.id) > (newest.ts, newest.id):
                newest = row
    rows.sort(key=lambda r: (PRIORITIES.index(r.priority), -r.ts, r.id))
    return tuple(rows), counts, newest
