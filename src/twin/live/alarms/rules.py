"""Alarm rules: what a rules file may say, its checks and its loading.

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

``group``, ``cause`` and ``suppressed_during`` (the first-out and suppression by
design of :mod:`twin.live.alarms.first_out`) tie rules into one event.

Two comms rules are built in (:data:`BUILTIN_RULES`: every device, every gateway
of more than one device) unless the rules give their own: monitoring that loses
its gear says so even with no rules file.

This module is the configuration side of alarms only (the schema ``twin check``
and the engine both read); how a rule is evaluated lives in
:mod:`twin.live.alarms.engine` and its companions.
"""

from __future__ import annotations

import operator
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from twin.config import Frozen, load_toml_model
from twin.errors import ConfigError
from twin.live import alarmtext

AIR_CLASSES = {"recommended": 27.0, "A1": 32.0, "A2": 35.0, "A3": 40.0, "A4": 45.0}
WATER_CLASSES = {"W17": 17.0, "W27": 27.0, "W32": 32.0, "W40": 40.0, "W45": 45.0}
PRIORITIES = ("low", "medium", "high", "urgent")
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
