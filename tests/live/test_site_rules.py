"""The reference site's shipped alarm rules fire on the plant events they are for.

The plant is stepped in-process and its devices' values reach live state as the
wire carries them (``frozen_source``); the site's own rules (configs/alarms) run.
"""

from __future__ import annotations

import pytest

from twin.runtime import frozen_source


@pytest.mark.parametrize(
    ("event", "rule", "source"),
    [
        ("tower_fan_failure", "tower-fan-fault", "fw-tower-1.status.fan_fault"),
        ("pump_trip", "cdu-pump-fault", "hall-1-cdu1.status.pump1_fault"),
    ],
)
def test_event_raises_its_alarm(event: str, rule: str, source: str) -> None:
    quiet = frozen_source("aidc-10mw", steps=20, events=())
    assert rule not in {a.rule.name for a in quiet.alarms.active()}
    live = frozen_source("aidc-10mw", steps=20, events=(event,))
    raised = {(a.rule.name, a.source) for a in live.alarms.active()}
    assert (rule, source) in raised, raised
