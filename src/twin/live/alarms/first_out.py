"""First-out, suppression by design and the flood count of the alarm engine.

First-out and suppression by design (ISA-18.2 §11, EEMUA 191 §6): rules of one
``group`` form one event. The first alarm of a quiet group from a rule marked
``cause = true`` is the *first-out*; every alarm of the group raised while that
episode lasts (until none of the group is active), or in the
:data:`GROUP_WINDOW_S` before it (gear is polled device by device), is annunciated
as its consequence (:attr:`Alarm.cause`), shown under it and counted once in the
flood rate. A rule with ``suppressed_during = "<group>"`` is suppressed while an
episode of that group lasts and ``suppress_hold_s`` after it: an expected,
action-free consequence (the CDU supply temperature rising while cooling restarts
on generator power) is kept off the operator's list, visible as suppressed.
A device's comms alarm raised while its gateway is silent is a consequence of
the gateway's alarm the same way.

Flood figures: alarms annunciated per 10 minutes, a consequence counted with its
first-out (ISA-18.2 calls > 10 per 10 minutes per operator a flood).

Apart from :mod:`twin.live.alarms.engine` because it is the alarm-management layer
over single alarms (which alarm heads an event, which is kept off the list, how
many the operator got), not the evaluation of any rule; :class:`FirstOut` is a part
of :class:`~twin.live.alarms.engine.AlarmEngine`.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from twin.live.alarms.rules import Rule
from twin.live.alarms.states import ANNUNCIATED, Alarm
from twin.points.quality import Quality

if TYPE_CHECKING:
    from twin.live.state import LiveState

FLOOD_WINDOW_S = 600.0
#: A group member raised this long before its cause still counts as its consequence [s]
GROUP_WINDOW_S = 10.0


@dataclass
class _Episode:
    """One event of a first-out group: its first-out, the members, when it last ended."""

    members: list[Alarm] = field(default_factory=list)
    first_out: Alarm | None = None
    ended_at: float | None = None


class FirstOut:
    """The engine's episodes of first-out groups, its suppression and its flood count."""

    state: LiveState
    annunciations: deque[list]
    _episodes: dict[str, _Episode]

    def _suppressed(self, rule: Rule, values, quality, now: float) -> bool:
        if rule.suppressed_during is not None:
            episode = self._episodes.get(rule.suppressed_during)
            if episode is not None and (
                episode.first_out is not None
                or (episode.ended_at is not None and now - episode.ended_at < rule.suppress_hold_s)
            ):
                return True
        if not rule.suppress_when:
            return False
        i = self.state.index.get(rule.suppress_when)
        return i is not None and quality[i] == Quality.GOOD and values[i] == 0

    def _annunciated(self, alarm: Alarm, now: float, cause: Alarm | None = None) -> None:
        """Record an annunciation, under its first-out when it is a consequence."""
        rule = alarm.rule
        if cause is None and rule.group:
            episode = self._episodes[rule.group]
            if episode.first_out is not None and episode.first_out is not alarm:
                cause = episode.first_out
            elif rule.cause:
                episode.first_out = alarm
                episode.ended_at = None
                # Gear is polled device by device: an ATS may be read open a poll before
                # the meter that shows the feed lost. Those are consequences all the same.
                for other in episode.members:
                    if (
                        other is not alarm
                        and other.active
                        and other.cause is None
                        and other.state in ANNUNCIATED
                        and now - other.since <= GROUP_WINDOW_S
                    ):
                        other.cause = alarm
                        if other._entry is not None:
                            other._entry[1] = True
        alarm.cause = cause
        entry = [now, cause is not None]
        alarm._entry = entry
        self.annunciations.append(entry)

    def first_outs(self) -> list[Alarm]:
        """Annunciated alarms that stand on their own or head a group of consequences."""
        return [a for a in self.active() if a.cause is None]

    def flood(self, now: float | None = None) -> dict[str, float]:
        """Alarms annunciated in the last 10 minutes (consequences with their first-out)."""
        now = time.time() if now is None else now
        count = sum(
            1 for t, grouped in self.annunciations if t >= now - FLOOD_WINDOW_S and not grouped
        )
        return {"per_10min": float(count), "flood": float(count > 10)}
