"""The shipped power-event rules on a live state fed by hand: one utility loss is one event.

The points carry the names and roles ``twin points`` gives the reference site's gear
(site meter, ATSs, generator, UPS), so the rules under test are the shipped file
(configs/alarms/aidc-10mw.toml with its power-events.toml), not a copy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.live.alarms import AlarmEngine, AlarmState, Rule, load_rules
from twin.live.metrics import SiteMetrics
from twin.live.state import LiveState
from twin.paths import data_path
from twin.points.registry import parse_registry

HEADER = (
    "point,device,description,unit,modbus_host,modbus_port,unit_id,register_type,address,"
    "data_type,bit,role,group,rating\n"
)
ROWS = """\
site-meter.facility_power_kw,site-meter,Facility,kW,h,5020,1,input_register,4,float32,,facility_kw,,
site-meter.it_power_kw,site-meter,IT power,kW,h,5020,1,input_register,6,float32,,it_input_kw,,
site-meter.feed_a_ok,site-meter,Feed A,,h,5020,1,discrete_input,0,bool,,,,
site-meter.feed_b_ok,site-meter,Feed B,,h,5020,1,discrete_input,1,bool,,,,
ats-A.position,ats-A,Switch position,,h,5020,2,input_register,1,int16,,,,
ats-A.on_generator,ats-A,On generator,,h,5020,2,discrete_input,1,bool,,,,
ats-A.utility_available,ats-A,Utility present,,h,5020,2,discrete_input,2,bool,,,,
ats-B.position,ats-B,Switch position,,h,5020,3,input_register,1,int16,,,,
ats-B.on_generator,ats-B,On generator,,h,5020,3,discrete_input,1,bool,,,,
ats-B.utility_available,ats-B,Utility present,,h,5020,3,discrete_input,2,bool,,,,
gen-1.running,gen-1,Engine running,,h,5020,4,discrete_input,0,bool,,generator_running,,
gen-2.running,gen-2,Engine running,,h,5020,5,discrete_input,0,bool,,generator_running,,
ups-A.output_kw,ups-A,Output,kW,h,5022,1,input_register,0,float32,,ups_output_kw,hall-1-ups/A,
ups-A.battery_soc_pct,ups-A,Charge,pct,h,5022,1,input_register,9,float32,,battery_soc_pct,,250
ups-A.on_battery,ups-A,On battery,,h,5022,1,discrete_input,1,bool,,on_battery,,
ups-B.output_kw,ups-B,Output,kW,h,5022,2,input_register,0,float32,,ups_output_kw,hall-1-ups/B,
ups-B.battery_soc_pct,ups-B,Charge,pct,h,5022,2,input_register,9,float32,,battery_soc_pct,,250
ups-B.on_battery,ups-B,On battery,,h,5022,2,discrete_input,1,bool,,on_battery,,
hall-1-cdu1.t_supply_c,hall-1-cdu1,Supply,degC,h,5022,3,input_register,0,float32,,,,
hall-1-cdu2.t_supply_c,hall-1-cdu2,Supply,degC,h,5022,4,input_register,0,float32,,,,
"""
T0 = 1_700_000_000.0
NORMAL = {
    "site-meter.facility_power_kw": 1130.0,
    "site-meter.it_power_kw": 1000.0,
    "site-meter.feed_a_ok": 1.0,
    "site-meter.feed_b_ok": 1.0,
    "ats-A.position": 1.0,
    "ats-A.on_generator": 0.0,
    "ats-A.utility_available": 1.0,
    "ats-B.position": 1.0,
    "ats-B.on_generator": 0.0,
    "ats-B.utility_available": 1.0,
    "gen-1.running": 0.0,
    "gen-2.running": 0.0,
    "ups-A.output_kw": 500.0,
    "ups-A.battery_soc_pct": 100.0,
    "ups-A.on_battery": 0.0,
    "ups-B.output_kw": 500.0,
    "ups-B.battery_soc_pct": 100.0,
    "ups-B.on_battery": 0.0,
    "hall-1-cdu1.t_supply_c": 35.0,
    "hall-1-cdu2.t_supply_c": 35.0,
}
LOSS = {
    "site-meter.facility_power_kw": 0.0,
    "site-meter.feed_a_ok": 0.0,
    "site-meter.feed_b_ok": 0.0,
    "ats-A.position": 0.0,
    "ats-A.utility_available": 0.0,
    "ats-B.position": 0.0,
    "ats-B.utility_available": 0.0,
    "gen-1.running": 1.0,
    "gen-2.running": 1.0,
    "ups-A.on_battery": 1.0,
    "ups-B.on_battery": 1.0,
}
ON_GENERATOR = {
    **LOSS,
    "site-meter.facility_power_kw": 1200.0,
    "ats-A.position": 2.0,
    "ats-A.on_generator": 1.0,
    "ats-B.position": 2.0,
    "ats-B.on_generator": 1.0,
    "ups-A.on_battery": 0.0,
    "ups-B.on_battery": 0.0,
}
UTILITY_BACK = {
    **ON_GENERATOR,
    "site-meter.feed_a_ok": 1.0,
    "site-meter.feed_b_ok": 1.0,
    "ats-A.utility_available": 1.0,
    "ats-B.utility_available": 1.0,
}


class Site:
    def __init__(self) -> None:
        registry = parse_registry(HEADER + ROWS, Path("power.csv"))
        self.state = LiveState(registry, interval_s=1.0, stale_after=2.0)
        self.metrics = SiteMetrics(self.state)
        rules = load_rules(data_path("configs", "alarms") / "aidc-10mw.toml")
        self.engine = AlarmEngine(rules, self.state, self.metrics)
        self.values = dict(NORMAL)
        self.t = T0

    def run(self, seconds: int, **changes: float) -> None:
        """Every point read once a second for ``seconds``, metrics and alarms each time."""
        for _ in range(seconds):
            self.t += 1.0
            for name, value in self.values.items():
                self.state.update([self.state.index[name]], [value], [True], self.t)
            self.metrics.update(self.t)
            self.engine.evaluate(self.t)

    def alarm(self, key: str):  # type: ignore[no-untyped-def]
        return self.engine.alarms[key]


FEED_A = "utility-loss-a:site-meter.feed_a_ok"


def test_one_utility_loss_is_one_cause_with_its_consequences() -> None:
    site = Site()
    site.run(15)
    assert site.engine.active() == []
    site.values.update(LOSS)
    site.run(1)
    first = site.alarm(FEED_A)
    assert first.state == AlarmState.UNACKED and first.cause is None
    assert first.rule.priority == "high"
    assert first.message.startswith("Utility feed A lost")
    for key in ("utility-loss-b:site-meter.feed_b_ok", "ats-transfer:ats-A.position",
                "ats-transfer:ats-B.position", "ups-on-battery:site"):  # fmt: skip
        alarm = site.alarm(key)
        assert alarm.state == AlarmState.UNACKED, key
        assert alarm.cause is first, key  # shown under the first-out
    assert site.alarm("ats-transfer:ats-A.position").message.startswith(
        "ats-A transferred off utility (open, transferring)"
    )
    battery = site.alarm("ups-on-battery:site")
    # 100 % of 250 kWh at 500 kW: 30 minutes
    assert (
        battery.message
        == "2 of 2 UPS/HVDC systems on battery: shortest runtime 30 min at this load"
    )
    assert battery.json()["first_out"] == FEED_A
    # The PUE is not good while batteries carry IT outside the facility meter.
    pue = site.metrics.last.pue
    assert pue.value is None and "on battery" in pue.reason
    # The generators pick up: on generator, batteries off.
    site.values.update(ON_GENERATOR)
    site.run(2)
    on_generator = site.alarm("on-generator:site")
    assert on_generator.state == AlarmState.UNACKED and on_generator.cause is first
    assert battery.state == AlarmState.RTN_UNACKED
    assert "(on generator)" in site.alarm("ats-transfer:ats-A.position").message
    # The cooling restarts: supply temperatures rise fast, an expected consequence.
    for k in range(30):
        site.values["hall-1-cdu1.t_supply_c"] = 35.0 + 0.2 * k
        site.values["hall-1-cdu2.t_supply_c"] = 35.0 + 0.2 * k
        site.run(1)
    rate = site.alarm("cdu-supply-rate:site")
    assert rate.state == AlarmState.SUPPRESSED and rate.active
    # One event, one annunciation counted.
    assert site.engine.flood(site.t) == {"per_10min": 1.0, "flood": 0.0}
    assert [a.key for a in site.engine.first_outs()] == [FEED_A]
    # The utility returns; the ATSs retransfer after their delay: everything clears.
    site.values.update(UTILITY_BACK)
    site.run(5)
    assert first.state == AlarmState.RTN_UNACKED
    assert site.alarm("ats-transfer:ats-A.position").active  # still on generator
    site.values.update(NORMAL)
    site.run(5)
    for alarm in site.engine.alarms.values():
        if alarm.rule.group == "utility":
            assert not alarm.active and alarm.state in (AlarmState.RTN_UNACKED,
                                                        AlarmState.NORMAL), alarm.key  # fmt: skip
    assert site.metrics.last.pue_instant.quality.label == "good"
    # Returned, the transfer alarm still says what it alarmed with (its trip value).
    assert "(on generator)" in site.alarm("ats-transfer:ats-A.position").message


def test_consequences_stay_suppressed_for_the_hold_time_then_alarm_again() -> None:
    site = Site()
    site.run(5)
    site.values.update(LOSS)
    site.run(20)
    site.values.update(NORMAL)
    site.run(5)
    rate = site.alarm("cdu-supply-rate:site")
    hold = rate.rule.suppress_hold_s

    def ramp(seconds: int) -> None:
        start = site.values["hall-1-cdu1.t_supply_c"]
        for k in range(seconds):
            site.values["hall-1-cdu1.t_supply_c"] = start + 0.1 * (k + 1)  # 6 K/min
            site.run(1)

    ramp(30)
    assert rate.state == AlarmState.SUPPRESSED  # inside the hold after the event
    site.values["hall-1-cdu1.t_supply_c"] = 35.0
    site.run(int(hold))
    ramp(60)
    assert rate.state == AlarmState.UNACKED and rate.cause is None
    assert rate.message.startswith("CDU supply temperature rising fast at 1 of 2 CDUs: hall-1-cdu1")
    assert "K/min" in rate.message


def test_generators_that_do_not_start_or_pick_up_are_urgent() -> None:
    site = Site()
    site.run(5)
    site.values.update({**LOSS, "gen-2.running": 0.0})
    site.run(29)
    failed = site.alarm("generator-failed-to-start:gen-2.running")
    assert failed.state == AlarmState.NORMAL  # a set has 30 s to start
    site.run(2)
    assert failed.state == AlarmState.UNACKED and failed.rule.priority == "urgent"
    assert failed.message.startswith("gen-2 has not started 30 s after the utility loss")
    assert site.alarm("generator-failed-to-start:gen-1.running").state == AlarmState.NORMAL
    site.run(30)  # 60 s and the ATSs still open
    pick_up = site.alarm("generator-failed-to-pick-up:ats-A")
    assert pick_up.state == AlarmState.UNACKED
    assert pick_up.cause is site.alarm(FEED_A)
    # With the utility there, a stopped generator is normal: no alarm.
    quiet = Site()
    quiet.run(60)
    assert quiet.engine.active() == []


def test_battery_low_names_the_lowest_with_its_value_and_unit() -> None:
    site = Site()
    site.run(5)
    site.values.update({**LOSS, "ups-A.battery_soc_pct": 41.5, "ups-B.battery_soc_pct": 60.0})
    site.run(2)
    low = site.alarm("ups-battery-low:site")
    assert low.state == AlarmState.UNACKED and low.rule.priority == "urgent"
    # 41.5 % of 250 kWh at 500 kW: 12 minutes
    assert low.message == "Battery low at 1 of 2 systems, lowest 41.5 % (ups-A): 12 min left"
    assert low.json()["unit"] == "%" and low.json()["value"] == 41.5


def test_facility_below_it_is_never_a_good_pue() -> None:
    site = Site()
    site.run(15)
    assert site.metrics.last.pue.quality.label == "good"
    site.values["site-meter.facility_power_kw"] = 983.0  # below IT (1000 kW), no battery
    site.run(70)
    for value in (site.metrics.last.pue, site.metrics.last.pue_instant):
        assert value.value is None and value.quality.label == "bad"
        assert "below IT" in value.reason
    assert site.metrics.last.cue_kg_per_kwh.value is None


def test_a_message_template_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        Rule.model_validate(
            {"name": "x", "kind": "high", "points": "a", "limit": 1, "message": "{valeu}"}
        )
    with pytest.raises(ValueError, match="no format specs"):
        Rule.model_validate(
            {"name": "x", "kind": "high", "points": "a", "limit": 1, "message": "{value:.1f}"}
        )


def test_a_consequence_read_a_poll_before_its_cause_is_grouped_under_it() -> None:
    site = Site()
    site.run(5)
    # The ATS is polled before the site meter: it shows open one tick before the loss.
    site.values.update({"ats-A.position": 0.0, "ats-A.utility_available": 0.0})
    site.run(1)
    transfer = site.alarm("ats-transfer:ats-A.position")
    assert transfer.state == AlarmState.UNACKED and transfer.cause is None
    site.values.update(LOSS)
    site.run(1)
    assert transfer.cause is site.alarm(FEED_A)
    assert site.engine.flood(site.t)["per_10min"] == 1.0
