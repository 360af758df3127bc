"""Alarm rules and the ISA-18.2 state machine: every transition, on a live state fed by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from twin.live.alarms import AlarmEngine, AlarmState, Rule, load_rules
from twin.live.metrics import SiteMetrics
from twin.live.state import LiveState
from twin.points.registry import parse_registry

HEADER = "point,device,unit,modbus_host,modbus_port,unit_id,register_type,address,data_type,"
REGISTRY = (
    HEADER
    + """role,group
cdu1.t_supply_c,cdu1,degC,127.0.0.1,1502,1,input_register,0,float32,,
cdu1.pump_running,cdu1,,127.0.0.1,1502,1,discrete_input,0,bool,,
rack1.t_inlet_c,rack1,degC,127.0.0.1,1502,2,input_register,0,float32,rack_inlet_c,
meter.facility_kw,meter,kW,127.0.0.1,1502,3,input_register,0,float32,facility_kw,
meter.it_kw,meter,kW,127.0.0.1,1502,3,input_register,2,float32,it_input_kw,
ups-a.output_kw,ups-a,kW,127.0.0.1,1502,4,input_register,0,float32,ups_output_kw,hall-ups/A
ups-a.load_pct,ups-a,pct,127.0.0.1,1502,4,input_register,2,float32,ups_load_pct,hall-ups/A
ups-b.output_kw,ups-b,kW,127.0.0.1,1502,5,input_register,0,float32,ups_output_kw,hall-ups/B
ups-b.load_pct,ups-b,pct,127.0.0.1,1502,5,input_register,2,float32,ups_load_pct,hall-ups/B
"""
)

T0 = 1_000_000.0


def _state() -> LiveState:
    return LiveState(parse_registry(REGISTRY, Path("test.csv")), interval_s=1.0, stale_after=2.0)


def _set(state: LiveState, name: str, value: float, t: float, good: bool = True) -> None:
    state.update([state.index[name]], [value], [good], t)


def _engine(state: LiveState, **rule: object) -> tuple[AlarmEngine, object]:
    engine = AlarmEngine([Rule.model_validate({"name": "r", **rule})], state, builtin=False)
    return engine, next(iter(engine.alarms.values()), None)


def _high(state: LiveState, **extra: object):
    return _engine(state, kind="high", points="cdu1.t_supply_c", limit=40.0, deadband=1.0, **extra)


def test_on_delay_then_unacked_ack_and_clear_through_the_deadband() -> None:
    state = _state()
    engine, alarm = _high(state, on_delay_s=5.0)
    _set(state, "cdu1.t_supply_c", 41.0, T0)
    assert engine.evaluate(T0) == [] and alarm.state == AlarmState.NORMAL
    _set(state, "cdu1.t_supply_c", 41.0, T0 + 4)
    engine.evaluate(T0 + 4)
    assert alarm.state == AlarmState.NORMAL  # still inside the on-delay
    _set(state, "cdu1.t_supply_c", 41.0, T0 + 5)
    assert engine.evaluate(T0 + 5) == [alarm]
    assert alarm.state == AlarmState.UNACKED  # normal → unacked
    alarm.acknowledge(T0 + 6)
    assert alarm.state == AlarmState.ACKED  # unacked → acked
    _set(state, "cdu1.t_supply_c", 39.5, T0 + 7)  # below the limit, inside the deadband
    engine.evaluate(T0 + 7)
    assert alarm.state == AlarmState.ACKED
    _set(state, "cdu1.t_supply_c", 38.9, T0 + 8)
    engine.evaluate(T0 + 8)
    assert alarm.state == AlarmState.NORMAL  # acked → normal on return


def test_return_to_normal_while_unacknowledged_and_back() -> None:
    state = _state()
    engine, alarm = _high(state)
    _set(state, "cdu1.t_supply_c", 42.0, T0)
    engine.evaluate(T0)
    assert alarm.state == AlarmState.UNACKED
    _set(state, "cdu1.t_supply_c", 30.0, T0 + 1)
    engine.evaluate(T0 + 1)
    assert alarm.state == AlarmState.RTN_UNACKED  # unacked → returned, unacked
    _set(state, "cdu1.t_supply_c", 42.0, T0 + 2)
    assert engine.evaluate(T0 + 2) == [alarm]
    assert alarm.state == AlarmState.UNACKED  # rtn_unacked → unacked when it comes back
    _set(state, "cdu1.t_supply_c", 30.0, T0 + 3)
    engine.evaluate(T0 + 3)
    alarm.acknowledge(T0 + 4)
    assert alarm.state == AlarmState.NORMAL  # rtn_unacked → normal on acknowledge


def test_shelve_expires_into_the_present_condition() -> None:
    state = _state()
    engine, alarm = _high(state)
    _set(state, "cdu1.t_supply_c", 42.0, T0)
    engine.evaluate(T0)
    alarm.shelve(T0 + 1, duration_s=60.0)
    assert alarm.state == AlarmState.SHELVED
    _set(state, "cdu1.t_supply_c", 42.0, T0 + 30)
    assert engine.evaluate(T0 + 30) == [] and alarm.state == AlarmState.SHELVED
    assert engine.active() == []
    _set(state, "cdu1.t_supply_c", 42.0, T0 + 61)
    assert engine.evaluate(T0 + 61) == [alarm]  # expiry while active → unacked
    assert alarm.state == AlarmState.UNACKED
    alarm.shelve(T0 + 62, 10.0)
    _set(state, "cdu1.t_supply_c", 30.0, T0 + 65)
    engine.evaluate(T0 + 65)
    _set(state, "cdu1.t_supply_c", 30.0, T0 + 72.5)
    engine.evaluate(T0 + 72.5)
    assert alarm.state == AlarmState.NORMAL  # expiry while clear → normal
    alarm.shelve(T0 + 73, 600.0)
    _set(state, "cdu1.t_supply_c", 45.0, T0 + 74)
    engine.evaluate(T0 + 74)
    alarm.unshelve(T0 + 75)
    assert alarm.state == AlarmState.UNACKED  # unshelve re-evaluates


def test_suppressed_by_design_and_out_of_service() -> None:
    state = _state()
    engine, alarm = _high(state, suppress_when="cdu1.pump_running")
    _set(state, "cdu1.pump_running", 0.0, T0)
    _set(state, "cdu1.t_supply_c", 45.0, T0)
    assert engine.evaluate(T0) == []
    assert alarm.state == AlarmState.SUPPRESSED
    _set(state, "cdu1.pump_running", 1.0, T0 + 1)
    _set(state, "cdu1.t_supply_c", 45.0, T0 + 1)
    assert engine.evaluate(T0 + 1) == [alarm]
    assert alarm.state == AlarmState.UNACKED  # suppression cleared → re-evaluated
    alarm.remove_from_service(T0 + 2)
    assert alarm.state == AlarmState.OUT_OF_SERVICE
    _set(state, "cdu1.t_supply_c", 30.0, T0 + 3)
    engine.evaluate(T0 + 3)
    assert alarm.state == AlarmState.OUT_OF_SERVICE
    alarm.return_to_service(T0 + 4)
    assert alarm.state == AlarmState.NORMAL
    assert [h[2].split(" ")[0] for h in alarm.history] == [
        "suppressed",
        "unacked",
        "out_of_service",
        "normal",
    ]


def test_low_rate_comms_and_ashrae_rules() -> None:
    state = _state()
    rules = [
        Rule.model_validate(r)
        for r in (
            {"name": "low", "kind": "low", "points": "cdu1.t_supply_c", "limit": 20.0},
            {"name": "rate", "kind": "rate", "points": "cdu1.t_supply_c", "limit": 5.0},
            {"name": "comms", "kind": "comms", "points": "rack1.*", "on_delay_s": 1.0},
            {"name": "a1", "kind": "ashrae", "role": "rack_inlet_c", "class": "A1"},
        )
    ]
    engine = AlarmEngine(rules, state, builtin=False)
    alarms = engine.alarms
    _set(state, "cdu1.t_supply_c", 19.0, T0)
    _set(state, "rack1.t_inlet_c", 33.0, T0)
    engine.evaluate(T0)
    assert alarms["low:cdu1.t_supply_c"].state == AlarmState.UNACKED
    assert alarms["a1:rack1.t_inlet_c"].state == AlarmState.UNACKED  # 33 °C > A1's 32 °C
    _set(state, "cdu1.t_supply_c", 29.0, T0 + 30)  # +10 K in 30 s: 20 K/min
    _set(state, "rack1.t_inlet_c", 25.0, T0 + 30)
    engine.evaluate(T0 + 30)
    assert alarms["rate:cdu1.t_supply_c"].state == AlarmState.UNACKED
    assert alarms["a1:rack1.t_inlet_c"].state == AlarmState.RTN_UNACKED
    assert alarms["comms:rack1"].state == AlarmState.NORMAL
    engine.evaluate(T0 + 33)  # rack1 stale after 2 intervals, then the 1 s on-delay
    engine.evaluate(T0 + 34.5)
    assert alarms["comms:rack1"].state == AlarmState.UNACKED
    assert engine.active()[0].rule.priority == "medium"
    assert engine.flood(T0 + 35) == {"per_10min": 4.0, "flood": 0.0}
    assert engine.flood(T0 + 1000)["per_10min"] == 0.0


def test_pue_and_redundancy_rules_read_the_metrics() -> None:
    state = _state()
    metrics = SiteMetrics(state)
    rules = [
        Rule.model_validate({"name": "pue", "kind": "pue", "limit": 1.3, "deadband": 0.02}),
        Rule.model_validate({"name": "red", "kind": "redundancy", "required": "2N"}),
    ]
    engine = AlarmEngine(rules, state, metrics, builtin=False)

    def feed(t: float, facility: float, load_a: float, pct_a: float | None = None) -> None:
        for name, value in (
            ("meter.facility_kw", facility),
            ("meter.it_kw", 1000.0),
            ("ups-a.output_kw", load_a),
            ("ups-a.load_pct", load_a / 1000.0 * 100 if pct_a is None else pct_a),  # 1000 kW
            ("ups-b.output_kw", 1000.0 - load_a),
            ("ups-b.load_pct", (1000.0 - load_a) / 10.0),
        ):
            _set(state, name, value, t)
        metrics.update(t)
        engine.evaluate(t)

    for k in range(15):
        feed(T0 + k, 1200.0, 500.0)
    assert metrics.last.pue.quality.label == "good"
    assert engine.active() == []
    # The headline PUE is over the last minute: a step in facility power moves it there.
    for k in range(15, 90):
        feed(T0 + k, 1350.0, 500.0)
    assert engine.alarms["pue:site"].state == AlarmState.UNACKED
    assert "1.350 above the target 1.300" in engine.alarms["pue:site"].message
    assert metrics.last.systems["hall-ups"]["redundancy"] == "2N"
    # Each 1000 kW unit carries 500 kW: each side alone carries 1000 kW. Lose a module:
    # side A now reports 500 kW at 80 % → 625 kW capacity: 2N no longer holds.
    for k in range(90, 160):
        feed(T0 + k, 1250.0, 500.0, pct_a=80.0)
    assert metrics.last.systems["hall-ups"]["redundancy"] == "N"
    red = engine.alarms["red:hall-ups"]
    assert red.state == AlarmState.UNACKED
    assert red.message == "hall-ups: redundancy N, 2N required"
    assert engine.alarms["pue:site"].state == AlarmState.RTN_UNACKED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[rules]]\nname = "x"\nkind = "high"\npoints = "a.*"\n', "needs a limit"),
        ('[[rules]]\nname = "x"\nkind = "hot"\nlimit = 1\n', "rules.0.kind"),
        ('[[rules]]\nname = "x"\nkind = "ashrae"\nrole = "r"\nclass = "A9"\n', "class must be"),
        (
            '[[rules]]\nname = "x"\nkind = "pue"\nlimit = 1.3\n'
            '[[rules]]\nname = "x"\nkind = "pue"\nlimit = 1.4\n',
            "defined twice",
        ),
    ],
)
def test_bad_alarm_rules_exit_2_naming_file_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "alarms" / "bad.toml"
    path.parent.mkdir()
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "bad.toml" in result.stderr and expected in result.stderr, result.stderr


def test_shipped_rules_are_valid() -> None:
    root = Path(__file__).parents[2] / "configs" / "alarms"
    files = sorted(root.glob("*.toml"))
    assert files
    for path in files:
        assert load_rules(path)
