"""One alarm and its ISA-18.2 states: the state machine, operator actions, the message.

An :class:`Alarm` is a rule applied to one point, device, gateway or the site. It is
fed its raw condition each tick (:meth:`Alarm.condition`), applies the rule's on and
off delays, and moves through the states of ISA-18.2 / IEC 62682; the operator
acknowledges, shelves or removes it from service. It also words itself for the
operator (:attr:`Alarm.message`, through :mod:`twin.live.alarmtext`). It is apart
from the engine because it knows nothing of points or rules' matching: it is the
lifecycle every alarm shares, rule-made or :meth:`AlarmEngine.system`.

States (ISA-18.2 / IEC 62682)::

    normal ─cond→ unacked ─ack→ acked ─clear→ normal
                    │clear          │
                    ▼               │
               rtn_unacked ─ack→ normal        (rtn_unacked ─cond→ unacked)
    any ─shelve(d)→ shelved ─expiry/unshelve→ unacked or normal (re-evaluated)
    any ─suppressing condition→ suppressed ─cleared→ re-evaluated
    any ─remove_from_service→ out_of_service ─return_to_service→ re-evaluated

Flood figures: alarms annunciated per 10 minutes, a consequence counted with its
first-out (ISA-18.2 calls > 10 per 10 minutes per operator a flood).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from twin.live import alarmtext
from twin.live.alarms.rules import Rule

if TYPE_CHECKING:
    from twin.live.alarms.engine import AlarmEngine


class AlarmState(enum.Enum):
    NORMAL = "normal"
    UNACKED = "unacked"
    ACKED = "acked"
    RTN_UNACKED = "rtn_unacked"
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"
    OUT_OF_SERVICE = "out_of_service"


ANNUNCIATED = (AlarmState.UNACKED, AlarmState.ACKED, AlarmState.RTN_UNACKED)
# Members as plain names: an enum member looked up on its class costs a
# metaclass __getattr__ in Python 3.11, and evaluate() runs ~30,000 alarms a second
# on aidc-100mw.
_NORMAL, _UNACKED, _ACKED, _RTN_UNACKED, _SHELVED, _SUPPRESSED, _OUT_OF_SERVICE = AlarmState


#: Transitions kept per alarm (its recent story for the dashboard and the log).
HISTORY_PER_ALARM = 200


@dataclass
class Alarm:
    """One alarm instance (a rule applied to one point, device, gateway or the site)."""

    rule: Rule
    source: str
    state: AlarmState = AlarmState.NORMAL
    active: bool = False  # the condition, after on/off delays
    since: float = 0.0  # time of the last state change
    pending_since: float | None = None  # raw condition changed, waiting for its delay
    shelved_until: float | None = None
    value: float | None = None
    history: list[tuple[float, str, str]] = field(default_factory=list)
    #: the first-out this alarm was annunciated under (None: it stands on its own)
    cause: Alarm | None = field(default=None, repr=False)
    #: sources in alarm / watched (site-wide rules; devices of a gateway)
    count: int = 0
    total: int = 0
    worst: str = ""
    reason: str = ""  # why a device is silent, as of its latest tick in alarm
    #: what the message says the alarm is about
    device: str = ""
    description: str = ""
    unit: str = ""
    engine: AlarmEngine | None = field(default=None, repr=False, compare=False)
    _entry: list | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.rule.name}:{self.source}"

    def _go(self, state: AlarmState, now: float, why: str) -> None:
        if state != self.state:
            self.history.append((now, self.state.value, f"{state.value} ({why})"))
            # Bounded: a chattering alarm must not grow memory over a long run.
            del self.history[:-HISTORY_PER_ALARM]
            previous = self.state
            self.state = state
            self.since = now
            engine = self.engine
            if engine is not None and engine.listeners:
                # Only on a change of state (rare): the quiet path of evaluate() is untouched.
                for listener in engine.listeners:
                    listener(self, previous, now, why)

    # ------------------------------------------------------ condition input

    def condition(self, raw: bool, now: float, suppressed: bool = False) -> bool:
        """Feed the raw condition; return True when the alarm is newly annunciated."""
        rule = self.rule
        if raw != self.active:
            if self.pending_since is None:
                self.pending_since = now
            delay = rule.on_delay_s if raw else rule.off_delay_s
            if now - self.pending_since >= delay:
                self.active = raw
                self.pending_since = None
        else:
            self.pending_since = None
        return self._evaluate(now, suppressed)

    def _evaluate(self, now: float, suppressed: bool = False) -> bool:
        state = self.state
        if state is _OUT_OF_SERVICE:
            return False
        if state is _SHELVED:
            if self.shelved_until is not None and now >= self.shelved_until:
                self.shelved_until = None
                return self._resume(now, "shelve expired")
            return False
        if suppressed:
            self._go(_SUPPRESSED, now, "suppressed by design")
            return False
        if state is _SUPPRESSED:
            return self._resume(now, "suppression cleared")
        if self.active:
            if state is _NORMAL or state is _RTN_UNACKED:
                self._go(_UNACKED, now, "condition")
                return True
        elif state is _UNACKED:
            self._go(_RTN_UNACKED, now, "return to normal")
        elif state is _ACKED:
            self._go(_NORMAL, now, "return to normal")
        return False

    def _resume(self, now: float, why: str) -> bool:
        if self.active:
            self._go(AlarmState.UNACKED, now, why)
            return True
        self._go(AlarmState.NORMAL, now, why)
        return False

    # ---------------------------------------------------- operator actions

    def acknowledge(self, now: float) -> None:
        if self.state == AlarmState.UNACKED:
            self._go(AlarmState.ACKED, now, "acknowledged")
        elif self.state == AlarmState.RTN_UNACKED:
            self._go(AlarmState.NORMAL, now, "acknowledged")

    def shelve(self, now: float, duration_s: float) -> None:
        self.shelved_until = now + duration_s
        self._go(AlarmState.SHELVED, now, f"shelved for {duration_s:g} s")

    def unshelve(self, now: float) -> None:
        if self.state == AlarmState.SHELVED:
            self.shelved_until = None
            self._resume(now, "unshelved")

    def remove_from_service(self, now: float) -> None:
        self._go(AlarmState.OUT_OF_SERVICE, now, "removed from service")

    def return_to_service(self, now: float) -> None:
        if self.state == AlarmState.OUT_OF_SERVICE:
            self._resume(now, "returned to service")

    # ------------------------------------------------------------- reading

    @property
    def display_unit(self) -> str:
        """The unit of :attr:`value` as a screen shows it (``°C``, ``K/min``, ``%``)."""
        if self.rule.kind == "rate":
            return alarmtext.rate_unit(self.unit)
        if self.rule.kind in ("state", "comms", "redundancy", "pue", "system") or self.rule.labels:
            return ""
        return alarmtext.display_unit(self.unit)

    def value_text(self) -> str:
        """The value as the message shows it: ``39.4 °C``, a state's label, ``no value``."""
        rule = self.rule
        if rule.kind == "redundancy":
            return _HOLDS.get(self.value, "unknown") if self.value is not None else "unknown"
        if rule.kind == "pue":
            return "no value" if self.value is None else f"{self.value:.3f}"
        unit = alarmtext.rate_unit(self.unit) if rule.kind == "rate" else self.unit
        if rule.kind == "state" and rule.scope == "site":
            return str(self.count)
        return alarmtext.format_value(self.value, unit, rule.labels)

    @property
    def message(self) -> str:
        """The operator's message, with the present value and its unit."""
        rule = self.rule
        limit = ""
        if rule.kind in ("high", "low", "rate", "ashrae", "pue"):
            unit = alarmtext.rate_unit(self.unit) if rule.kind == "rate" else self.unit
            limit = (
                f"{rule.threshold():.3f}"
                if rule.kind == "pue"
                else alarmtext.format_value(rule.threshold(), unit)
            )
        engine = self.engine
        fields = {
            "source": self.source,
            "device": self.device or self.source,
            "description": self.description or self.source,
            "value": self.value_text(),
            "limit": limit,
            "count": str(self.count),
            "total": str(self.total),
            "worst": self.worst or self.source,
            "holds": self.value_text() if rule.kind == "redundancy" else "",
            "required": rule.required,
        }
        template = rule.template
        names = alarmtext.template_fields(template)
        if engine is not None and "runtime" in names:
            fields["runtime"] = alarmtext.format_minutes(engine.runtime_min(self))
        if "reason" in names:
            fields["reason"] = self.reason or (engine.comms_reason(self) if engine else "")
        return alarmtext.fill(template, fields)

    def json(self) -> dict:
        return {
            "rule": self.rule.name,
            "source": self.source,
            "state": self.state.value,
            "priority": self.rule.priority,
            "value": None if self.value is None or not math.isfinite(self.value) else self.value,
            "unit": self.display_unit,
            "since": self.since,
            "message": self.message,
            "active": self.active,
            "group": self.rule.group,
            "first_out": self.cause.key if self.cause is not None else None,
        }


_HOLDS_ORDER = {"overloaded": 0, "N": 1, "N+1": 2, "2N": 3}
_HOLDS = {float(v): k for k, v in _HOLDS_ORDER.items()}
