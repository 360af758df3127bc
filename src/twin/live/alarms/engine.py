"""The alarm engine: applies the rules to the live state once a tick.

:class:`AlarmEngine` works out once which points each rule watches and which alarms
it makes (one per point, device, gateway or the site), then each tick evaluates the
point rules (high, low, rate, state, ashrae, with hysteresis, ``when`` and delays)
and hands each alarm its raw condition. Its companions, each a part of the engine
class: :mod:`~twin.live.alarms.comms` (device and gateway comms loss),
:mod:`~twin.live.alarms.site_rules` (PUE, redundancy, battery runtime) and
:mod:`~twin.live.alarms.first_out` (first-out groups, suppression, flood count). It
also takes the monitoring's own conditions (:meth:`AlarmEngine.system`) and answers
the queries of the dashboard, the sinks and the notifier.
"""

from __future__ import annotations

import fnmatch
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from twin.live.alarms.comms import CommsAlarms, gateway_of
from twin.live.alarms.first_out import FLOOD_WINDOW_S, FirstOut, _Episode
from twin.live.alarms.rules import _OPERATORS, _WHEN, BUILTIN_RULES, PRIORITIES, Rule
from twin.live.alarms.site_rules import SiteRules
from twin.live.alarms.states import _NORMAL, ANNUNCIATED, Alarm, AlarmState
from twin.live.state import LiveState
from twin.points.quality import Quality

_GOOD = int(Quality.GOOD)


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


class AlarmEngine(CommsAlarms, SiteRules, FirstOut):
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
