"""What the notifier sends for which alarm transition, on an alarm engine fed by hand
and a real webhook receiver (and a real command): shelved and suppressed alarms send
nothing, consequences ride on their first-out, the rate limit holds, escalation."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from twin.live.alarms import AlarmEngine, Rule
from twin.live.state import LiveState
from twin.points.registry import parse_registry
from twin.sinks.notify import CommandTarget, Notifier, NotifyOptions, Retry, WebhookTarget, verify

from .receivers import WebhookReceiver, wait_for

HEADER = "point,device,unit,modbus_host,modbus_port,unit_id,register_type,address,data_type\n"
REGISTRY = HEADER + (
    "cdu1.t_supply_c,cdu1,degC,127.0.0.1,1502,1,input_register,0,float32\n"
    "cdu1.pump_running,cdu1,,127.0.0.1,1502,1,discrete_input,0,bool\n"
    "cdu1.pump_fault,cdu1,,127.0.0.1,1502,1,discrete_input,1,bool\n"
)
T0 = 1_000_000.0
SECRET = b"key"


@pytest.fixture
def hook():  # type: ignore[no-untyped-def]
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def _setup(hook: WebhookReceiver, rules: list[dict], **options: object):  # type: ignore[no-untyped-def]
    state = LiveState(parse_registry(REGISTRY, Path("t.csv")), interval_s=1.0, stale_after=1e9)
    engine = AlarmEngine([Rule.model_validate(r) for r in rules], state, builtin=False)
    target = WebhookTarget(name="hook", kind="webhook", url=hook.url, secret=SECRET, timeout_s=5)
    opts = NotifyOptions(targets=[target], group_wait_s=0.0, retry=Retry(1, 0, 0))
    for key, value in options.items():
        setattr(opts, key, value)
    return state, engine, Notifier(opts, engine, "test-site")


def _tick(state, engine, notifier, t: float, **values: float) -> None:  # type: ignore[no-untyped-def]
    for name, value in values.items():
        state.update([state.index[name.replace("__", ".")]], [value], [True], t)
    engine.evaluate(t)
    notifier.tick(t)


HIGH = {"name": "hot", "kind": "high", "points": "cdu1.t_supply_c", "limit": 40.0}


def test_raise_and_clear_signed_and_nothing_while_shelved(hook: WebhookReceiver) -> None:
    state, engine, notifier = _setup(hook, [HIGH])
    _tick(state, engine, notifier, T0, cdu1__t_supply_c=41.0)
    _tick(state, engine, notifier, T0 + 1, cdu1__t_supply_c=30.0)
    wait_for(lambda: len(hook.received) == 2, what="raise and clear")
    assert [e["event"] for e in hook.events()] == ["raise", "clear"]
    assert all(verify(SECRET, body, headers["X-Twin-Signature"]) for headers, body in hook.received)
    assert not verify(b"other", hook.received[0][1], hook.received[0][0]["X-Twin-Signature"])
    # Shelved: a trip and a clear while shelved, and the shelve's expiry into normal, send nothing.
    alarm = engine.alarms["hot:cdu1.t_supply_c"]
    alarm.shelve(T0 + 2, 60.0)
    _tick(state, engine, notifier, T0 + 3, cdu1__t_supply_c=45.0)
    _tick(state, engine, notifier, T0 + 10, cdu1__t_supply_c=30.0)
    _tick(state, engine, notifier, T0 + 70, cdu1__t_supply_c=30.0)
    # One more real trip after the shelve: the probe that deliveries still flow.
    _tick(state, engine, notifier, T0 + 80, cdu1__t_supply_c=42.0)
    wait_for(lambda: len(hook.received) == 3, what="the probe raise")
    notifier.close(5)
    events = hook.events()
    assert [(e["event"], e["time_unix"]) for e in events[2:]] == [("raise", T0 + 80)]
    assert alarm.state.value == "unacked"


def test_a_raise_waiting_when_its_alarm_is_shelved_is_dropped(hook: WebhookReceiver) -> None:
    state, engine, notifier = _setup(hook, [HIGH], group_wait_s=10.0)
    _tick(state, engine, notifier, T0, cdu1__t_supply_c=41.0)
    engine.alarms["hot:cdu1.t_supply_c"].shelve(T0 + 1, 600.0)
    _tick(state, engine, notifier, T0 + 20, cdu1__t_supply_c=41.0)
    _tick(state, engine, notifier, T0 + 30, cdu1__t_supply_c=30.0)
    notifier.close(5)
    assert hook.received == []


def test_suppressed_by_design_and_consequences_send_nothing_of_their_own(
    hook: WebhookReceiver,
) -> None:
    rules = [
        {"name": "pump-fault", "kind": "state", "points": "cdu1.pump_fault", "group": "cdu",
         "cause": True, "priority": "high"},
        {"name": "hot", "kind": "high", "points": "cdu1.t_supply_c", "limit": 40.0,
         "group": "cdu"},
    ]  # fmt: skip
    state, engine, notifier = _setup(hook, rules, group_wait_s=5.0)
    # The temperature alarm is polled a moment before the pump fault that causes it.
    _tick(state, engine, notifier, T0, cdu1__t_supply_c=41.0, cdu1__pump_fault=0)
    _tick(state, engine, notifier, T0 + 1, cdu1__pump_fault=1)
    _tick(state, engine, notifier, T0 + 6)
    wait_for(lambda: len(hook.received) >= 1, what="the first-out's raise")
    notifier.close(5)
    events = hook.events()
    assert [(e["event"], e["alarm"]["rule"]) for e in events] == [("raise", "pump-fault")]
    assert events[0]["consequences"] == 1 and notifier.counts["consequence"] == 1

    suppressing = {**HIGH, "suppress_when": "cdu1.pump_running"}
    hook.received.clear()
    state, engine, notifier = _setup(hook, [suppressing])
    _tick(state, engine, notifier, T0, cdu1__t_supply_c=41.0, cdu1__pump_running=0)
    _tick(state, engine, notifier, T0 + 1, cdu1__t_supply_c=30.0, cdu1__pump_running=1)
    _tick(state, engine, notifier, T0 + 2, cdu1__t_supply_c=43.0)  # the probe
    wait_for(lambda: len(hook.received) >= 1, what="the probe raise")
    notifier.close(5)
    assert [(e["event"], e["time_unix"]) for e in hook.events()] == [("raise", T0 + 2)]


def test_rate_limit_per_alarm_and_escalation(hook: WebhookReceiver) -> None:
    state, engine, notifier = _setup(hook, [HIGH], rate_limit=2, rate_window_s=100.0,
                                     escalate_after_s=30.0)  # fmt: skip
    for k in range(4):  # four trips in a minute: two raises (and their clears) go
        _tick(state, engine, notifier, T0 + 10 * k, cdu1__t_supply_c=41.0)
        _tick(state, engine, notifier, T0 + 10 * k + 5, cdu1__t_supply_c=30.0)
    _tick(state, engine, notifier, T0 + 200, cdu1__t_supply_c=41.0)  # a new window
    _tick(state, engine, notifier, T0 + 240, cdu1__t_supply_c=41.0)  # unacked 40 s
    _tick(state, engine, notifier, T0 + 260, cdu1__t_supply_c=41.0)  # escalated once only
    wait_for(lambda: len(hook.received) >= 6, what="six deliveries")
    notifier.close(5)
    assert [e["event"] for e in hook.events()] == [
        "raise", "clear", "raise", "clear", "raise", "escalate"
    ]  # fmt: skip
    assert notifier.counts["rate_limited"] == 2


def test_a_command_gets_the_payload_on_stdin(hook: WebhookReceiver, tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    script = f"import sys, pathlib; pathlib.Path({str(out)!r}).write_bytes(sys.stdin.buffer.read())"
    state, engine, notifier = _setup(hook, [HIGH])
    notifier.close(1)
    command = CommandTarget(name="cmd", kind="command", argv=(sys.executable, "-c", script))
    notifier = Notifier(NotifyOptions(targets=[command], group_wait_s=0.0), engine, "s")
    _tick(state, engine, notifier, T0, cdu1__t_supply_c=41.0)
    wait_for(out.exists, what="the command's output")
    notifier.close(10)
    assert json.loads(out.read_text())["event"] == "raise"
    assert notifier.status()["cmd"]["delivered"] == 1


def test_a_hanging_webhook_never_blocks_the_tick_and_a_full_queue_raises_an_alarm() -> None:
    """The tick (on the collector's event loop in ``twin monitor``) only enqueues: a
    webhook that accepts and never answers costs it nothing; when its queue fills,
    events are dropped, counted, and the system alarm ``notify-queue-full`` raised."""
    from .receivers import HangingServer

    hanging = HangingServer()
    try:
        state = LiveState(parse_registry(REGISTRY, Path("t.csv")), interval_s=1.0, stale_after=1e9)
        engine = AlarmEngine([Rule.model_validate(HIGH)], state, builtin=False)
        target = WebhookTarget(name="dead", kind="webhook", url=hanging.url, secret=SECRET,
                               timeout_s=5)  # fmt: skip
        options = NotifyOptions(targets=[target], group_wait_s=0.0, queue_size=3,
                                rate_limit=1000, retry=Retry(3, 1.0, 1.0))  # fmt: skip
        notifier = Notifier(options, engine, "s")
        import time

        slowest = 0.0
        for k in range(20):  # 20 trips and clears: 40 events for a queue of 3
            for value in (41.0, 30.0):
                started = time.perf_counter()
                _tick(state, engine, notifier, T0 + 2 * k + (value < 40), cdu1__t_supply_c=value)
                slowest = max(slowest, time.perf_counter() - started)
        assert slowest < 0.05, f"a tick took {slowest * 1e3:.0f} ms"
        status = notifier.status()["dead"]
        assert status["dropped"] >= 30 and status["delivered"] == 0
        assert engine.alarms["notify-queue-full:dead"].active
        wait_for(lambda: hanging.accepted >= 1, what="a connection to the hanging server")
        started = time.perf_counter()
        notifier.close(2)
        assert time.perf_counter() - started < 3
    finally:
        hanging.close()
