"""Comms-loss alarms: built in, per device and per gateway, a gateway first-out over its devices."""

from __future__ import annotations

from pathlib import Path

from twin.live.alarms import AlarmEngine, AlarmState
from twin.live.state import LiveState
from twin.points.registry import parse_registry

REGISTRY = """\
point,device,unit,modbus_host,modbus_port,unit_id,register_type,address,data_type
a1.t_c,a1,degC,10.0.0.1,502,1,input_register,0,float32
a1.p_kw,a1,kW,10.0.0.1,502,1,input_register,2,float32
a2.t_c,a2,degC,10.0.0.1,502,2,input_register,0,float32
b1.t_c,b1,degC,10.0.0.2,502,1,input_register,0,float32
c1.t_c,c1,degC,10.0.0.3,502,1,input_register,0,float32
c2.t_c,c2,degC,10.0.0.3,502,2,input_register,0,float32
"""
T0 = 1_700_000_000.0


def _state() -> LiveState:
    return LiveState(parse_registry(REGISTRY, Path("c.csv")), interval_s=1.0, stale_after=2.0)


def _read(state: LiveState, devices: tuple[str, ...], t: float) -> None:
    for p in state.points:
        if p.device in devices:
            state.update([p.index], [20.0], [True], t)


def test_built_in_comms_alarms_device_then_gateway_as_first_out() -> None:
    state = _state()
    engine = AlarmEngine([], state)  # no rules at all: the comms alarms are still there
    every = ("a1", "a2", "b1", "c1", "c2")
    for k in range(5):
        _read(state, every, T0 + k)
        engine.evaluate(T0 + k)
    assert engine.active() == []
    # a1 goes silent; its points age into stale after 2 intervals
    for k in range(5, 9):
        _read(state, ("a2", "b1", "c1", "c2"), T0 + k)
        engine.evaluate(T0 + k)
    a1 = engine.alarms["comms-loss:a1"]
    assert a1.state == AlarmState.UNACKED and a1.cause is None
    assert a1.since - state.good_ts[state.index["a1.t_c"]] <= 2.0 * 1.0 + 1.0  # its stale time
    assert a1.message.startswith("No fresh data from a1: no fresh value for")
    # then a2, the other device on the same gateway: the gateway is silent
    for k in range(9, 13):
        _read(state, ("b1", "c1", "c2"), T0 + k)
        engine.evaluate(T0 + k)
    gateway = engine.alarms["gateway-comms-loss:10.0.0.1:502"]
    assert gateway.state == AlarmState.UNACKED and gateway.rule.priority == "high"
    assert gateway.message.startswith("Gateway 10.0.0.1:502 not answering: 2 of 2 devices")
    assert engine.alarms["comms-loss:a2"].cause is gateway
    assert a1.cause is gateway  # regrouped: the gateway is the cause after all
    assert engine.flood(T0 + 13)["per_10min"] == 1.0
    assert engine.comms_lost() == {"devices": ["a1", "a2"], "gateways": ["10.0.0.1:502"]}
    assert "gateway-comms-loss:10.0.0.2:502" not in engine.alarms  # one device: no gateway alarm
    # the link comes back: both return to normal (unacknowledged)
    for k in range(13, 15):
        _read(state, every, T0 + k)
        engine.evaluate(T0 + k)
    assert gateway.state == AlarmState.RTN_UNACKED and not a1.active
    # returned, they keep what they alarmed with, not the normal present
    assert "2 of 2 devices" in gateway.message
    assert "no fresh value for" in a1.message
    assert engine.comms_lost() == {"devices": [], "gateways": []}


def test_a_device_never_read_alarms_once_its_stale_time_has_passed() -> None:
    state = _state()
    engine = AlarmEngine([], state)
    engine.evaluate(T0)
    _read(state, ("a1", "a2", "b1"), T0 + 1)
    engine.evaluate(T0 + 1)
    assert engine.active() == []  # c1, c2 not read yet: still inside their stale time
    _read(state, ("a1", "a2", "b1"), T0 + 2.5)
    engine.evaluate(T0 + 2.5)
    gateway = engine.alarms["gateway-comms-loss:10.0.0.3:502"]
    assert gateway.state == AlarmState.UNACKED
    c1 = engine.alarms["comms-loss:c1"]
    assert c1.cause is gateway and "it has never answered" in c1.message
    assert state.counts(T0 + 2.5) == {"good": 4, "stale": 0, "bad": 0, "never_read": 2}


def test_a_bad_reply_is_its_reason() -> None:
    state = _state()
    engine = AlarmEngine([], state, builtin=True)
    _read(state, ("a1", "a2", "b1", "c1", "c2"), T0)
    engine.evaluate(T0)
    idx = [state.index["b1.t_c"]]
    state.update(idx, [float("nan")], [False], T0 + 1, "exception 4 (device failure)")
    engine.evaluate(T0 + 1)
    b1 = engine.alarms["comms-loss:b1"]
    assert b1.state == AlarmState.UNACKED
    assert b1.message == (
        "No fresh data from b1: exception 4 (device failure). Check the device and its link"
    )


def test_a_system_alarm_runs_the_same_states() -> None:
    """A condition of the monitoring itself (a sink down) fed by its owner, not a rule."""
    engine = AlarmEngine([], _state())
    alarm = engine.system("sink-down", "influx", True, "connection refused", now=T0)
    assert alarm.state == AlarmState.UNACKED and alarm.message == "influx: connection refused"
    assert engine.flood(T0)["per_10min"] == 1.0
    engine.system("sink-down", "influx", False, now=T0 + 5)
    assert alarm.state == AlarmState.RTN_UNACKED
    assert alarm.message == "influx: connection refused"  # what it alarmed with
