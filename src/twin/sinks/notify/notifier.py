"""The notifier: alarm transitions to raise, clear and escalate events, for each target.

:class:`Notifier` is the alarm engine's listener. It decides what is sent and when
(``group_wait_s``, consequences under their first-out, ``min_priority``, the
per-alarm rate limit, escalation) and hands each event to the targets' queues
(:mod:`twin.sinks.notify.delivery`); it keeps the delivery log and raises the
notifier's own system alarms. The events and what is not sent: :mod:`twin.sinks.notify`.
Apart from the delivery because it runs on the feeder's thread, under its lock, and
must never block on a network.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass

from twin.live.alarms import PRIORITIES, Alarm, AlarmEngine, AlarmState
from twin.sinks.notify.delivery import _Worker
from twin.sinks.notify.options import NotifyOptions, Target
from twin.sinks.notify.payload import payload

log = logging.getLogger("twin.notify")

_CLEARED = (AlarmState.NORMAL, AlarmState.RTN_UNACKED)
_RAISED = (AlarmState.UNACKED, AlarmState.ACKED)
_QUIET = (AlarmState.SHELVED, AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE)


@dataclass
class _Open:
    """An alarm whose raise was sent (or waits to be): what its clear and escalation need."""

    raised_at: float
    priority: str
    sent: bool = False
    escalated: bool = False
    why: str = ""


class Notifier:
    """Alarm transitions to events, events to each target's queue (see the module doc)."""

    def __init__(self, options: NotifyOptions, engine: AlarmEngine, site: str) -> None:
        self.options = options
        self.engine = engine
        self.site = site
        self.counts = {"raise": 0, "clear": 0, "escalate": 0, "rate_limited": 0, "consequence": 0}
        self._open: dict[str, _Open] = {}
        self._sent: dict[str, list[float]] = {}  # per alarm: times of raises/escalations sent
        self._log_lock = threading.Lock()
        self._log_file = None
        if options.log is not None:
            options.log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = options.log.open("a", encoding="utf-8")
        self.workers = [_Worker(t, options, self._record) for t in options.targets]
        engine.listeners.append(self.transition)

    # ----------------------------------------------------- engine side

    def transition(self, alarm: Alarm, previous: AlarmState, now: float, why: str) -> None:
        """The engine's listener: an alarm changed state (called under the feeder's lock)."""
        if alarm.rule.kind == "system" and alarm.rule.name.startswith("notify-"):
            return  # our own trouble: raised on the engine, not fed back into the queues
        key = alarm.key
        state = alarm.state
        entry = self._open.get(key)
        if state is AlarmState.UNACKED and entry is None:
            self._open[key] = _Open(now, alarm.rule.priority, why=why)
        elif state in _CLEARED and previous not in _CLEARED and entry is not None:
            if not entry.sent:
                self._send_raise(alarm, entry, now)  # raised and cleared within group_wait_s
            if entry.sent:
                self._send("clear", alarm, now, why)
            del self._open[key]
        elif state in _QUIET and entry is not None and not entry.sent:
            del self._open[key]  # shelved (suppressed) before its raise went: nothing is sent

    def tick(self, now: float | None = None) -> None:
        """After each evaluation: send raises past ``group_wait_s``, escalations, own alarms."""
        now = time.time() if now is None else now
        options = self.options
        for key, entry in list(self._open.items()):
            alarm = self.engine.alarms.get(key)
            if alarm is None:
                continue
            if not entry.sent:
                if now - entry.raised_at >= options.group_wait_s:
                    if alarm.state not in _RAISED:
                        del self._open[key]  # shelved or suppressed meanwhile
                    else:
                        self._send_raise(alarm, entry, now)
                continue
            higher = PRIORITIES.index(alarm.rule.priority) > PRIORITIES.index(entry.priority)
            late = (
                options.escalate_after_s > 0
                and not entry.escalated
                and alarm.state is AlarmState.UNACKED
                and now - entry.raised_at >= options.escalate_after_s
            )
            if higher or late:
                entry.escalated = entry.escalated or late
                entry.priority = alarm.rule.priority
                age = now - entry.raised_at
                why = "priority raised" if higher else f"unacknowledged for {age:.0f} s"
                if self._allowed(key, now):
                    self._send("escalate", alarm, now, why)
        for worker in self.workers:
            name = worker.target.name
            self.engine.system(
                "notify-queue-full", name, worker.dropped > getattr(worker, "_seen_dropped", 0),
                reason=f"{worker.dropped} notifications dropped: the queue of {name} is full",
                priority="medium", now=now,
            )  # fmt: skip
            worker._seen_dropped = worker.dropped  # type: ignore[attr-defined]
            self.engine.system(
                "notify-failed", name, bool(worker.failing),
                reason=f"notifications to {name} fail: {worker.failing}", priority="medium",
                now=now,
            )  # fmt: skip

    def _send_raise(self, alarm: Alarm, entry: _Open, now: float) -> None:
        if alarm.cause is not None and not self.options.consequences:
            self.counts["consequence"] += 1
            del self._open[alarm.key]  # its first-out's notification stands for it
            return
        if not self._allowed(alarm.key, now):
            del self._open[alarm.key]
            return
        entry.sent = True
        self._send("raise", alarm, now, entry.why)

    def _allowed(self, key: str, now: float) -> bool:
        """The per-alarm rate limit (raises and escalations; a clear follows its raise)."""
        sent = [t for t in self._sent.get(key, []) if t > now - self.options.rate_window_s]
        if len(sent) >= self.options.rate_limit:
            self._sent[key] = sent
            self.counts["rate_limited"] += 1
            self._log({"time": now, "event": "rate_limited", "alarm": key})
            log.warning("notify: %s past its rate limit, not sent", key)
            return False
        sent.append(now)
        self._sent[key] = sent
        return True

    def _send(self, event: str, alarm: Alarm, now: float, why: str) -> None:
        self.counts[event] += 1
        consequences = sum(1 for a in self.engine.active() if a.cause is alarm)
        data = payload(event, alarm, now, self.site, why, consequences=consequences)
        rank = PRIORITIES.index(alarm.rule.priority)
        for worker in self.workers:
            target = worker.target
            if event not in target.events or rank < PRIORITIES.index(
                max(target.min_priority, self.options.min_priority, key=PRIORITIES.index)
            ):
                continue
            if not worker.put(data):
                self._record(target, data, "dropped_queue_full", 0, "queue full", None)

    # ------------------------------------------------------- delivery log

    def _record(self, target: Target, data: dict, outcome: str, attempt: int, detail: str,
                started: float | None) -> None:  # fmt: skip
        entry = {
            "time": round(time.time(), 3),
            "target": target.name,
            "kind": target.kind,
            "event": data["event"],
            "id": data["id"],
            "alarm": data["alarm"]["key"],
            "outcome": outcome,
            "attempt": attempt,
            "detail": detail,
        }
        if started is not None:
            entry["latency_ms"] = round((time.monotonic() - started) * 1e3, 1)
        self._log(entry)
        level = logging.INFO if outcome == "delivered" else logging.WARNING
        log.log(level, "notify %s %s %s: %s (try %d, %s)", target.name, data["event"],
                data["alarm"]["key"], outcome, attempt, detail)  # fmt: skip

    def _log(self, entry: dict) -> None:
        if self._log_file is None:
            return
        with self._log_lock:
            self._log_file.write(json.dumps(entry) + "\n")
            self._log_file.flush()

    def status(self) -> dict[str, dict[str, int]]:
        """Per target: delivered, failed (gave up), dropped (queue full), queued."""
        return {
            w.target.name: {
                "delivered": w.delivered, "failed": w.failed, "dropped": w.dropped,
                "queued": w.queue.qsize(),
            }
            for w in self.workers
        }  # fmt: skip

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout`` s in all), then stop the threads."""
        if self.transition not in self.engine.listeners:
            return  # closed already
        self.engine.listeners.remove(self.transition)
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            worker.close(deadline)
        with self._log_lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
