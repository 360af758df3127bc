"""Alarms: rules from config, evaluated on the live state, with ISA-18.2 states.

Rules (``configs/alarms/*.toml``, ``[[rules]]``), each matching points by glob
(``points = "hall-*-cdu*.t_supply_c"``) or by registry ``role``:

=============  ==============================================================
``high/low``   value above / below ``limit``; clears past ``limit ∓ deadband``
``rate``       change faster than ``limit`` units per minute (over ``window_s``)
``state``      a status bit, contact or code reads one of ``states`` (default
               ``[1]``); ``labels`` name the codes for the message
               (``labels = { 0 = "open", 2 = "on generator" }``)
``comms``      no point of the device is fresh (all stale or bad): the device is
               silent; ``per = "gateway"``: every device behind one gateway
               (Modbus host:port, serial line, OPC UA endpoint) is silent
``ashrae``     rack inlet above an ASHRAE air class's allowable maximum
               (``class = "A1"`` 32 °C … ``"A4"`` 45 °C, ``"recommended"`` 27 °C)
               or facility water above a water class (``"W32"`` 32 °C…)
``redundancy`` a power system group no longer holds ``required`` (``N+1``/``2N``)
``pue``        PUE above ``limit`` (one alarm for the site): the 1-minute PUE, or
               an energy window with ``pue = "15min"`` / ``"1h"`` / ``"24h"``
``system``     a condition of the monitoring itself, fed by its owner through
               :meth:`AlarmEngine.system` (the sink down, the spool full)
=============  ==============================================================

A rules file may start with ``include = ["power-events.toml"]``: the rules of
another file (relative to it) come first, so shared sections are written once.

Every rule has a ``priority`` (low, medium, high, urgent), an ``on_delay_s``
(the condition must hold that long before it alarms), an ``off_delay_s`` and a
``message`` for the operator (:mod:`twin.live.alarmtext`: the fields it may use,
``{value}`` with its unit). ``per`` says what one alarm is about: ``point`` (one
per matched point, the default), ``device`` (the device's matched points
together) or ``site`` (one alarm for all of them: "6 of 20 UPS on battery"
instead of twenty rows). ``when = "<glob> <op> <number>"`` enables a rule only
while any good point matching the glob compares true (``{device}`` in the glob
is the alarm's own device): generator not running *while the utility is lost*.

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

Two comms rules are built in (:data:`BUILTIN_RULES`: every device, every gateway
of more than one device) unless the rules give their own: monitoring that loses
its gear says so even with no rules file. A device never read counts as silent
once its stale time has passed since the engine started.

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
import fnmatch
import math
import operator
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from twin.config import Frozen, load_toml_model
from twin.errors import ConfigError
from twin.live import alarmtext
from twin.live.state import LiveState
from twin.points.protocols import protocol_of
from twin.points.quality import Quality

AIR_CLASSES = {"recommended": 27.0, "A1": 32.0, "A2": 35.0, "A3": 40.0, "A4": 45.0}
WATER_CLASSES = {"W17": 17.0, "W27": 27.0, "W32": 32.0, "W40": 40.0, "W45": 45.0}
PRIORITIES = ("low", "medium", "high", "urgent")
FLOOD_WINDOW_S = 600.0
#: A group member raised this long before its cause still counts as its consequence [s]
GROUP_WINDOW_S = 10.0
PUE_WINDOWS = ("pue", "15min", "1h", "24h")

_WHEN = re.compile(r"^\s*(\S+)\s*(==|!=|<=|>=|<|>)\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")
_OPERATORS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class Rule(Frozen):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    kind: Literal["high", "low", "rate", "state", "comms", "ashrae", "redundancy", "pue", "system"]
    points: str | None = None
    role: str | None = None
    limit: float | None = None
    deadband: float = Field(default=0.0, ge=0)
    on_delay_s: float = Field(default=0.0, ge=0)
    off_delay_s: float = Field(default=0.0, ge=0)
    window_s: float = Field(default=60.0, gt=0)
    priority: Literal["low", "medium", "high", "urgent"] = "medium"
    message: str = ""
    air_class: str | None = Field(default=None, alias="class")
    required: Literal["N+1", "2N"] = "N+1"
    suppress_when: str | None = None  # a point: while it reads 0 (e.g. pump not running)
    states: list[float] = Field(default_factory=lambda: [1.0], min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    when: str | None = None
    per: Literal["point", "device", "gateway", "site"] = "point"
    group: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    cause: bool = False
    suppressed_during: str | None = None
    suppress_hold_s: float = Field(default=600.0, ge=0)
    pue: Literal["pue", "15min", "1h", "24h"] = "pue"

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if self.kind in ("high", "low", "rate", "pue") and self.limit is None:
            raise ValueError(f"a {self.kind} rule needs a limit")
        if self.kind in ("high", "low", "rate", "state", "ashrae") and not (
            self.points or self.role
        ):
            raise ValueError(f"a {self.kind} rule needs points (a glob) or a role")
        if self.kind == "ashrae":
            valid = {**AIR_CLASSES, **WATER_CLASSES}
            if self.air_class not in valid:
                raise ValueError(f"class must be one of {', '.join(valid)}")
        if self.per == "gateway" and self.kind != "comms":
            raise ValueError('per = "gateway" is for comms rules')
        if self.when is not None and not _WHEN.match(self.when):
            raise ValueError(
                f"when must read '<point glob> <op> <number>' (op one of ==, !=, <, <=, >, >=), "
                f"got {self.when!r}"
            )
        for key in self.labels:
            try:
                float(key)
            except ValueError:
                raise ValueError(f"labels: key {key!r} is not a number") from None
        if self.cause and not self.group:
            raise ValueError("cause = true needs the group it is the cause of")
        alarmtext.check_template(self.message)
        return self

    def threshold(self) -> float:
        if self.kind == "ashrae":
            assert self.air_class is not None
            return {**AIR_CLASSES, **WATER_CLASSES}[self.air_class]
        assert self.limit is not None
        return self.limit

    @property
    def scope(self) -> str:
        """What one alarm is about: point, device, gateway or site."""
        if self.kind == "comms":  # about a device (or its gateway), whatever the glob matched
            return "gateway" if self.per == "gateway" else "device"
        return self.per

    @property
    def template(self) -> str:
        if self.message:
            return self.message
        return alarmtext.DEFAULTS["gateway" if self.scope == "gateway" else self.kind]


#: Comms rules every engine has unless the rules define their own of the same ``per``.
BUILTIN_RULES = (
    Rule(
        name="comms-loss",
        kind="comms",
        points="*",
        priority="medium",
        message="No fresh data from {source}: {reason}. Check the device and its link",
    ),
    Rule(
        name="gateway-comms-loss",
        kind="comms",
        points="*",
        per="gateway",
        priority="high",
        message="Gateway {source} not answering: {count} of {total} devices behind it "
        "silent. Check the gateway and the network to it",
    ),
)


class Rules(Frozen):
    #: rules files (relative to this one) whose rules come first: shared sections
    include: list[str] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)


def load_rules(path: str | Path, _seen: tuple[Path, ...] = ()) -> list[Rule]:
    """Read and check an alarm rules file (ConfigError naming file, key and line).

    ``include = ["power-events.toml"]`` takes the rules of another file first, so
    the power events every site shares are written once.
    """
    path = Path(path)
    data = load_toml_model(path, Rules)
    rules: list[Rule] = []
    for i, name in enumerate(data.include):
        included = (path.parent / name).resolve()
        if included in _seen or included == path.resolve():
            raise ConfigError(path, f"include {name!r} includes itself", key=f"include.{i}")
        if not included.is_file():
            raise ConfigError(path, f"include {name!r}: no such file", key=f"include.{i}")
        rules += load_rules(included, (*_seen, path.resolve()))
    first_own = len(rules)
    rules += data.rules
    names: dict[str, int] = {}
    groups = {r.group for r in rules if r.group}
    for i, rule in enumerate(rules):
        key = f"rules.{i - first_own}" if i >= first_own else "include"
        if rule.name in names:
            raise ConfigError(path, f"rule {rule.name!r} is defined twice", key=f"{key}.name")
        if rule.kind == "system":
            raise ConfigError(
                path, "system alarms are raised by twin itself, not by rules", key=f"{key}.kind"
            )
        names[rule.name] = i
        if rule.suppressed_during is not None and rule.suppressed_during not in groups:
            raise ConfigError(
                path,
                f"suppressed_during names no group of these rules: {rule.suppressed_during!r}; "
                f"groups: {', '.join(sorted(groups)) or 'none'}",
                key=f"{key}.suppressed_during",
            )
    return rules


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
_GOOD = int(Quality.GOOD)


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


@dataclass
class _Target:
    """A rule, the points it watches and its alarms, worked out once."""

    rule: Rule
    indices: np.ndarray  # matched points
    alarms: list[Alarm]
    source_of: np.ndarray  # per matched point: position of its alarm in ``alarms``
    raw: np.ndarray  # per matched point: the last raw condition (for hysteresis)
    when: list[np.ndarray] | None = None  # enabling points, one array per alarm (or one)
    when_test: tuple | None = None  # (operator, number)
    devices: np.ndarray | None = None  # comms: each alarm's device position


@dataclass
class _Episode:
    """One event of a first-out group: its first-out, the members, when it last ended."""

    members: list[Alarm] = field(default_factory=list)
    first_out: Alarm | None = None
    ended_at: float | None = None


def gateway_of(point, prefer: str | tuple[str, ...] = "modbus") -> str:  # type: ignore[no-untyped-def]
    """The link a point is read through: Modbus host:port or serial line, OPC UA endpoint.

    A BACnet/IP point: its device's address (each device is its own link); an SNMP
    point: its agent. The protocol is the collector's own choice
    (:func:`twin.points.protocols.protocol_of`), so an alarm names the link that failed.
    """
    protocol = protocol_of(point, prefer)
    if protocol == "bacnet":
        return point.bacnet_address
    if protocol == "snmp":
        return f"snmp {point.snmp.host}:{point.snmp.port}"
    if protocol == "modbus":
        return point.host if point.transport == "rtu" else f"{point.host}:{point.port}"
    return point.opcua_endpoint or "opcua"


class AlarmEngine:
    """Evaluates rules against a LiveState (and SiteMetrics for PUE, redundancy, runtime).

    ``builtin`` adds :data:`BUILTIN_RULES` (device and gateway comms loss) where the
    rules have none of their own; ``prefer`` is the collector's protocol preference
    for rows with both addressings (it decides a point's gateway).
    """

    def __init__(
        self,
        rules: list[Rule],
        state: LiveState,
        metrics: object | None = None,
        builtin: bool = True,
        prefer: str | tuple[str, ...] = "modbus",
    ) -> None:
        rules = list(rules)
        if builtin:
            have = {r.scope for r in rules if r.kind == "comms"}
            names = {r.name for r in rules}
            rules += [r for r in BUILTIN_RULES if r.scope not in have and r.name not in names]
        self.rules = rules
        self.state = state
        self.metrics = metrics
        self.prefer = prefer
        self.alarms: dict[str, Alarm] = {}
        #: called as ``listener(alarm, previous_state, now, why)`` on every change of an
        #: alarm's state, after it (notifications: :mod:`twin.sinks.notify`)
        self.listeners: list[Callable[[Alarm, AlarmState, float, str], None]] = []
        self.started: float | None = None
        self.now = 0.0  # time of the latest evaluation
        self.annunciations: deque[list] = deque()  # [time, grouped] per annunciation
        self._episodes: dict[str, _Episode] = {}
        points = state.points
        self._device_names = sorted({p.device for p in points})
        device_index = {d: i for i, d in enumerate(self._device_names)}
        self._device_of = np.array([device_index[p.device] for p in points], dtype=np.int64)
        self._gateway_names = sorted({gateway_of(p, prefer) for p in points})
        gateway_index = {g: i for i, g in enumerate(self._gateway_names)}
        device_gateway = {p.device: gateway_index[gateway_of(p, prefer)] for p in points}
        self._gateway_of_device = np.array(
            [device_gateway[d] for d in self._device_names], dtype=np.int64
        )
        self._device_index = device_index
        self._points_of_device: dict[str, list[int]] = {}
        for p in points:
            self._points_of_device.setdefault(p.device, []).append(p.index)
        self._targets: list[_Target] = []
        self._comms: list[_Target] = []
        self._gateways: list[_Target] = []
        self._site: list[Rule] = []
        # Group members first (in file order), so a consequence raised in the same tick
        # as its cause finds the cause's episode open; gateways before their devices.
        order = sorted(range(len(rules)), key=lambda i: rules[i].group is None)
        for i in order:
            rule = rules[i]
            if rule.kind in ("pue", "redundancy"):
                self._site.append(rule)
                continue
            target = self._target(rule)
            if rule.scope == "gateway":
                self._gateways.append(target)
            elif rule.kind == "comms":
                self._comms.append(target)
            else:
                self._targets.append(target)
            if rule.group:
                self._episodes.setdefault(rule.group, _Episode()).members += target.alarms

    # --------------------------------------------------------------- build

    def _matched(self, rule: Rule) -> list[int]:
        return [
            p.index
            for p in self.state.points
            if (rule.points and fnmatch.fnmatchcase(p.name, rule.points))
            or (rule.role and p.role == rule.role)
        ]

    def _target(self, rule: Rule) -> _Target:
        points = self.state.points
        matched = self._matched(rule)
        scope = rule.scope
        if scope == "gateway":
            # Every gateway of more than one device (one device: its own alarm says it all).
            devices = np.bincount(self._gateway_of_device, minlength=len(self._gateway_names))
            matched_devices = {points[i].device for i in matched}
            keep = [
                g
                for g, name in enumerate(self._gateway_names)
                if devices[g] > 1
                and any(
                    self._device_names[d] in matched_devices
                    for d in np.flatnonzero(self._gateway_of_device == g)
                )
            ]
            alarms = []
            for g in keep:
                alarm = self._new_alarm(rule, self._gateway_names[g])
                alarm.total = int(devices[g])
                alarms.append(alarm)
            return _Target(rule, np.asarray(keep, dtype=np.int64), alarms,
                           np.arange(len(keep)), np.zeros(len(keep), bool))  # fmt: skip
        positions: dict[str, int] = {}
        alarms: list[Alarm] = []
        codes = []
        for i in matched:
            point = points[i]
            source = {"point": point.name, "device": point.device, "site": "site"}[scope]
            if source not in positions:
                positions[source] = len(alarms)
                alarm = self._new_alarm(rule, source)
                alarm.device = point.device if scope != "site" else ""
                alarm.description = (
                    (point.description or point.name) if scope == "point" else source
                )
                alarm.unit = point.unit
                alarms.append(alarm)
            codes.append(positions[source])
        source_of = np.asarray(codes, dtype=np.int64)
        for k, alarm in enumerate(alarms):
            alarm.total = int(np.count_nonzero(source_of == k))
        target = _Target(
            rule,
            np.asarray(matched, dtype=np.int64),
            alarms,
            source_of,
            np.zeros(len(matched), bool),
        )
        if rule.when is not None:
            match = _WHEN.match(rule.when)
            assert match is not None
            glob, op, number = match.groups()
            target.when_test = (_OPERATORS[op], float(number))
            if "{device}" in glob:
                target.when = [self._glob(glob.replace("{device}", a.device)) for a in alarms]
            else:
                target.when = [self._glob(glob)]
        return target

    def _glob(self, pattern: str) -> np.ndarray:
        return np.asarray(
            [p.index for p in self.state.points if fnmatch.fnmatchcase(p.name, pattern)],
            dtype=np.int64,
        )

    def _new_alarm(self, rule: Rule, source: str) -> Alarm:
        alarm = Alarm(rule, source, engine=self)
        self.alarms[alarm.key] = alarm
        return alarm

    def _alarm(self, rule: Rule, source: str) -> Alarm:
        key = f"{rule.name}:{source}"
        if key not in self.alarms:
            alarm = self._new_alarm(rule, source)
            if rule.group:
                self._episodes.setdefault(rule.group, _Episode()).members.append(alarm)
        return self.alarms[key]

    # ------------------------------------------------------------ evaluate

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

    def _enabled(self, target: _Target, values: np.ndarray, good: np.ndarray) -> np.ndarray:
        """Per alarm: whether the rule's ``when`` holds (any good enabling point)."""
        assert target.when is not None and target.when_test is not None
        test, number = target.when_test
        holds = [
            bool(np.any(good[idx] & test(values[idx], number))) if len(idx) else False
            for idx in target.when
        ]
        if len(holds) == 1:
            return np.full(len(target.alarms), holds[0])
        return np.asarray(holds, dtype=bool)

    def evaluate(self, now: float | None = None) -> list[Alarm]:
        """Run every rule once; return the alarms newly annunciated."""
        now = time.time() if now is None else now
        if self.started is None:
            self.started = now
        self.now = now
        values, quality = self.state.values(now)
        raised: list[Alarm] = []

        def feed(
            alarm: Alarm, raw: bool, value: float | None, suppressed: bool,
            cause: Alarm | None = None,
        ) -> None:  # fmt: skip
            # An alarm that has returned keeps the value it alarmed with (the trip
            # value an alarm summary shows), not the normal one it reads now.
            if raw or alarm.state is _NORMAL:
                alarm.value = value
            if (
                not raw
                and not suppressed
                and alarm.state is _NORMAL
                and not alarm.active
                and alarm.pending_since is None
            ):
                return  # quiet and staying so: nearly every alarm, every tick
            if alarm.condition(raw, now, suppressed):
                raised.append(alarm)
                self._annunciated(alarm, now, cause)

        good_all = quality == _GOOD
        if self._comms or self._gateways:
            self._evaluate_comms(now, values, quality, good_all, feed)
        for target in self._targets:
            self._evaluate_target(target, now, values, quality, good_all, feed)
        for rule in self._site:
            self._site_rule(rule, now, feed)
        for episode in self._episodes.values():
            if episode.first_out is not None and not any(a.active for a in episode.members):
                episode.first_out = None
                episode.ended_at = now
        while self.annunciations and self.annunciations[0][0] < now - FLOOD_WINDOW_S:
            self.annunciations.popleft()
        return raised

    def _evaluate_target(self, target: _Target, now, values, quality, good_all, feed) -> None:  # type: ignore[no-untyped-def]
        rule = target.rule
        indices = target.indices
        if not len(target.alarms):
            return
        suppressed = self._suppressed(rule, values, quality, now)
        good = good_all[indices]
        current = values[indices]
        kind = rule.kind
        previous = target.raw
        if kind == "state":
            states = rule.states
            hit = current == states[0] if len(states) == 1 else np.isin(current, states)
            raw = np.where(good, hit, previous)
        elif kind == "rate":
            raw = previous.copy()
            rates = np.full(len(indices), np.nan)
            for j, i in enumerate(indices.tolist()):
                if good[j]:
                    raw[j], rates[j] = self._rate(rule, bool(previous[j]), i, now)
            current = rates  # what the message shows: the rate, in units per minute
        else:
            threshold = rule.threshold()
            # Hysteresis: an active condition clears only past the limit by its deadband.
            if kind == "low":
                limit = np.where(previous, threshold + rule.deadband, threshold)
                over = current < limit
            else:  # high, ashrae
                limit = np.where(previous, threshold - rule.deadband, threshold)
                over = current > limit
            raw = np.where(good, over, previous)
        target.raw = raw
        n = len(target.alarms)
        if rule.scope == "point":
            alarm_raw = raw.copy()
            shown = np.where(good, current, np.nan)
            counts = raw.astype(np.int64)
        else:
            source_of = target.source_of
            counts = np.bincount(source_of, weights=raw, minlength=n).astype(np.int64)
            alarm_raw = counts > 0
            shown = self._worst(kind, source_of, raw & good, current, n)
        if target.when is not None:
            alarm_raw &= self._enabled(target, values, good_all)
        site = rule.scope == "site"
        for k, (alarm, r, v, c) in enumerate(
            zip(target.alarms, alarm_raw.tolist(), shown.tolist(), counts.tolist(), strict=True)
        ):
            if site and not c:
                # Cleared: the message keeps the figures it alarmed with (how many, the
                # worst), as an alarm summary shows the trip value, not "0 of 20".
                feed(alarm, r, alarm.value, suppressed)
                continue
            alarm.count = c
            if site:
                alarm.worst = self._worst_source(target, k, raw, current, kind)
            feed(alarm, r, v if v == v else None, suppressed)

    @staticmethod
    def _worst(kind: str, source_of, in_alarm, current, n: int) -> np.ndarray:  # type: ignore[no-untyped-def]
        """Per alarm: the worst value among its points in alarm (NaN if none)."""
        out = np.full(n, np.nan)
        if kind == "low":
            np.fmin.at(out, source_of[in_alarm], current[in_alarm])
        else:
            np.fmax.at(out, source_of[in_alarm], current[in_alarm])
        return out

    def _worst_source(self, target: _Target, k: int, raw, current, kind: str) -> str:  # type: ignore[no-untyped-def]
        mine = np.flatnonzero((target.source_of == k) & raw)
        if not len(mine):
            return ""
        pick = mine[np.argmin(current[mine])] if kind == "low" else mine[np.argmax(current[mine])]
        return self.state.points[int(target.indices[pick])].device

    def _rate(self, rule: Rule, active: bool, i: int, now: float) -> tuple[bool, float]:
        """Change over the window from the history ring [units/min], and whether it alarms."""
        threshold = rule.threshold()
        ts, vs = self.state.history(self.state.points[i].name)
        recent = (ts >= now - rule.window_s) & ~(vs != vs)
        if recent.sum() < 2:
            return active, math.nan
        t, x = ts[recent], vs[recent]
        if t[-1] - t[0] <= 0:
            return active, math.nan
        rate = abs(x[-1] - x[0]) / (t[-1] - t[0]) * 60.0
        return (rate > threshold if not active else rate > threshold - rule.deadband), rate

    # --------------------------------------------------------------- comms

    def _device_lost(self, now: float, good_all: np.ndarray) -> np.ndarray:
        """Per device: no point fresh (a point never read counts once its stale time is up)."""
        state = self.state
        assert self.started is not None
        never = (state.good_ts == 0) & ~state.bad
        waiting = never & (now - self.started <= state.stale_after * state.interval)
        alive = good_all | waiting
        answering = np.bincount(self._device_of, weights=alive, minlength=len(self._device_names))
        return answering == 0

    def _evaluate_comms(self, now, values, quality, good_all, feed) -> None:  # type: ignore[no-untyped-def]
        lost = self._device_lost(now, good_all)
        device_index = self._device_index
        gateway_alarms: dict[int, Alarm] = {}
        if self._gateways:
            n = len(self._gateway_names)
            silent = np.bincount(self._gateway_of_device, weights=lost, minlength=n).tolist()
        for target in self._gateways:
            suppressed = self._suppressed(target.rule, values, quality, now)
            for g, alarm in zip(target.indices.tolist(), target.alarms, strict=True):
                count = int(silent[g])
                down = count == alarm.total
                if down or alarm.state is _NORMAL:
                    alarm.count = count
                was = alarm.state
                feed(alarm, down, float(alarm.count), suppressed)
                gateway_alarms[g] = alarm
                if alarm.state is _UNACKED and was is not _UNACKED:
                    self._regroup(alarm, g, now)
        for target in self._comms:
            suppressed = self._suppressed(target.rule, values, quality, now)
            if target.devices is None:  # the device of each alarm, worked out once
                target.devices = np.array([device_index[a.source] for a in target.alarms], int)
            devices = target.devices
            gateways = self._gateway_of_device[devices]
            for alarm, down, g in zip(
                target.alarms, lost[devices].tolist(), gateways.tolist(), strict=True
            ):
                gateway = gateway_alarms.get(g)
                cause = gateway if gateway is not None and gateway.active else None
                if down:  # the reason it alarmed with stays in its message
                    alarm.reason = self.comms_reason(alarm)
                feed(alarm, down, None, suppressed, cause)

    def _regroup(self, gateway: Alarm, g: int, now: float) -> None:
        """Device alarms raised just before their gateway's: consequences of it after all."""
        for target in self._comms:
            for alarm in target.alarms:
                d = self._device_index[alarm.source]
                if (
                    int(self._gateway_of_device[d]) == g
                    and alarm.active
                    and alarm.state in ANNUNCIATED
                    and alarm.cause is None
                ):
                    alarm.cause = gateway
                    if alarm._entry is not None:
                        alarm._entry[1] = True

    def comms_reason(self, alarm: Alarm) -> str:
        """Why a device's data is not fresh, in words (for comms messages)."""
        state = self.state
        idx = self._points_of_device.get(alarm.source, [])
        if not idx:
            return "no points"
        bad = [i for i in idx if state.bad[i]]
        if bad:
            return state.reasons.get(bad[0], "bad reply")
        last = max(float(state.good_ts[i]) for i in idx)
        if last == 0:
            return "it has never answered"
        return f"no fresh value for {max(self.now - last, 0):.0f} s"

    # ---------------------------------------------------------- site rules

    def _site_rule(self, rule: Rule, now: float, feed) -> None:  # type: ignore[no-untyped-def]
        snapshot = getattr(self.metrics, "last", None)
        if snapshot is None:
            return
        if rule.kind == "pue":
            alarm = self._alarm(rule, "site")
            pue = snapshot.pue if rule.pue == "pue" else snapshot.pue_energy.get(rule.pue)
            if pue is None or pue.quality != Quality.GOOD or pue.value is None:
                feed(alarm, alarm.active, None, False)
                return
            limit = rule.threshold()
            over = pue.value > (limit if not alarm.active else limit - rule.deadband)
            feed(alarm, over, pue.value, False)
            return
        for group, system in snapshot.systems.items():
            alarm = self._alarm(rule, group)
            holds = system["redundancy"]
            if holds == "unknown" or system["quality"] != "good":
                feed(alarm, alarm.active, alarm.value, False)
                continue
            order = _HOLDS_ORDER
            feed(alarm, order[holds] < order[rule.required], float(order[holds]), False)

    def runtime_min(self, alarm: Alarm) -> float | None:
        """Estimated battery runtime [min] of the alarm's device(s) at the present load.

        A site-wide alarm gives the shortest among the devices it has in alarm (all
        it watches when none is).
        """
        snapshot = getattr(self.metrics, "last", None)
        runtimes = getattr(snapshot, "battery_runtime_min", None) or {}
        if alarm.rule.scope != "site":
            value = runtimes.get(alarm.device or alarm.source)
            return value.value if value is not None else None
        target = next((t for t in self._targets if alarm in t.alarms), None)
        if target is None:
            return None
        devices = {
            self.state.points[int(i)].device
            for i, r in zip(target.indices, target.raw, strict=True)
            if r or not target.raw.any()
        }
        known = [
            runtimes[d].value for d in devices if d in runtimes and runtimes[d].value is not None
        ]
        return min(known) if known else None

    # ------------------------------------------------------ system alarms

    def system(
        self,
        name: str,
        source: str,
        active: bool,
        reason: str = "",
        priority: str = "high",
        now: float | None = None,
    ) -> Alarm:
        """Feed a condition of the monitoring itself that no rule can see.

        The sink down, the spool full, the simulation process gone: the caller states
        the condition each time it checks (``active``) with the reason in words; the
        alarm then runs the same ISA-18.2 states, flood count and list as the others.
        """
        now = (self.now or time.time()) if now is None else now
        key = f"{name}:{source}"
        alarm = self.alarms.get(key)
        if alarm is None or alarm.rule.priority != priority:
            rule = Rule(name=name, kind="system", priority=priority)  # type: ignore[arg-type]
            alarm = alarm or self._new_alarm(rule, source)
            alarm.rule = rule
        if active:
            alarm.reason = reason
        if alarm.condition(active, now):
            self._annunciated(alarm, now)
        return alarm

    # ------------------------------------------------------------- queries

    def active(self) -> list[Alarm]:
        """Annunciated alarms (unacked, acked, returned unacked), highest priority first."""
        shown = [a for a in self.alarms.values() if a.state in ANNUNCIATED]
        return sorted(shown, key=lambda a: (-PRIORITIES.index(a.rule.priority), a.since))

    def first_outs(self) -> list[Alarm]:
        """Annunciated alarms that stand on their own or head a group of consequences."""
        return [a for a in self.active() if a.cause is None]

    def comms_lost(self) -> dict[str, list[str]]:
        """Devices and gateways whose comms alarm is in force now (condition active)."""
        out: dict[str, list[str]] = {"devices": [], "gateways": []}
        for target in self._comms:
            out["devices"] += [a.source for a in target.alarms if a.active]
        for target in self._gateways:
            out["gateways"] += [a.source for a in target.alarms if a.active]
        return out

    def flood(self, now: float | None = None) -> dict[str, float]:
        """Alarms annunciated in the last 10 minutes (consequences with their first-out)."""
        now = time.time() if now is None else now
        count = sum(
            1 for t, grouped in self.annunciations if t >= now - FLOOD_WINDOW_S and not grouped
        )
        return {"per_10min": float(count), "flood": float(count > 10)}
