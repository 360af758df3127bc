"""Samples and metrics become sink records: good values as fields, quality as the worst."""

from __future__ import annotations

from pathlib import Path

from twin.live.metrics import SiteMetrics
from twin.live.state import LiveState
from twin.points.quality import Quality
from twin.points.registry import parse_registry
from twin.sinks.feeder import device_records, site_records

TEXT = """point,device,equipment,unit,modbus_host,modbus_port,unit_id,register_type,address,\
data_type,site,hall,role
cdu1.t_supply_c,cdu1,cdu,degC,h,1502,1,input_register,0,float32,s1,hall-1,
cdu1.flow_lpm,cdu1,cdu,lpm,h,1502,1,input_register,2,float32,s1,hall-1,
meter.facility_kw,meter,site-meter,kW,h,1502,2,input_register,0,float32,s1,,facility_kw
meter.it_kw,meter,site-meter,kW,h,1502,2,input_register,2,float32,s1,,it_input_kw
"""


def test_records_keep_only_good_values_and_carry_the_worst_quality() -> None:
    state = LiveState(parse_registry(TEXT, Path("r.csv")), interval_s=1.0)
    index = state.index
    state.update(
        [index["cdu1.t_supply_c"], index["cdu1.flow_lpm"]], [32.5, 0.0], [True, False], 100.0
    )
    metrics = SiteMetrics(state)
    for t in range(85, 101):  # the site's PUE is over the last minute: 15 s of it
        state.update(
            [index["meter.facility_kw"], index["meter.it_kw"]], [1200.0, 1000.0], [True, True], t
        )
        metrics.update(t)
    records = {r.tags["device"]: r for r in (dict_tags(r) for r in device_records(state, 100.5))}
    cdu = records["cdu1"]
    assert cdu.record.measurement == "cdu"
    assert dict(cdu.record.fields) == {"t_supply_c": 32.5}
    assert cdu.record.quality == Quality.BAD
    assert cdu.tags == {"device": "cdu1", "site": "s1", "hall": "hall-1"}
    meter = records["meter"].record
    assert dict(meter.fields) == {"facility_kw": 1200.0, "it_kw": 1000.0}
    snapshot = metrics.update(100.5)
    site = {dict(r.tags)["metric"]: r for r in site_records(snapshot, "s1")}
    assert {r.measurement for r in site.values()} == {"site"}
    assert abs(dict(site["pue"].fields)["pue"] - 1.2) < 1e-12
    # each metric its own series and quality: no water meter makes WUE bad, not PUE
    assert site["pue"].quality == Quality.GOOD
    assert site["wue_l_per_kwh"].quality > Quality.GOOD
    assert dict(site["wue_l_per_kwh"].fields) == {}
    assert all(set(r.fields) <= {name} for name, r in site.items())
    # three seconds later nothing is fresh: no values, quality stale
    stale = {dict(r.tags)["device"]: r for r in device_records(state, 103.5)}
    assert dict(stale["meter"].fields) == {} and stale["meter"].quality == Quality.STALE


class dict_tags:
    def __init__(self, record) -> None:
        self.record = record
        self.tags = dict(record.tags)
