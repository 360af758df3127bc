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


@pytest.mark.parametrize(
    ("steps", "rule", "source"),
    [
        (110, "gpu-thermal-throttle", "hall-1-gpu001.status.gpu_throttled"),
        (300, "gpu-thermal-trip", "hall-1-gpu001.status.gpu_tripped"),
    ],
)
def test_rack_flow_loss_raises_throttle_then_trip(steps: int, rule: str, source: str) -> None:
    """One rack's coolant lost half-way through: its GPUs throttle ~20 s later (the
    rule's on-delay is 5 s), trip ~110 s later (tests/plant/test_thermal_protection.py)."""
    live = frozen_source("aidc-10mw", steps=steps, events=("rack_flow_loss",))
    raised = {(a.rule.name, a.source) for a in live.alarms.active()}
    assert (rule, source) in raised, raised


@pytest.mark.parametrize("site", ["aidc-10mw", "aidc-10mw-dry", "aidc-100mw", "legacy-air-2mw",
                                  "plant-room"])  # fmt: skip
def test_every_shipped_rule_watches_points_of_its_site(site: str) -> None:
    """A glob that matches nothing is a rule that can never alarm: catch it here."""
    import io
    from pathlib import Path

    from twin.devices.inventory import build
    from twin.devices.registry import rows, write_csv
    from twin.live.alarms import AlarmEngine, load_rules
    from twin.live.state import LiveState
    from twin.plant.layout import assemble
    from twin.points.registry import parse_registry
    from twin.site import alarm_rules_path, load_site

    loaded = load_site(site)
    path = alarm_rules_path(loaded)
    assert path is not None, f"{site} ships no alarm rules"
    inventory = build(assemble(loaded))
    out = io.StringIO()
    write_csv(rows(inventory, "127.0.0.1", [5020 + i for i in range(len(inventory.gateways))]), out)
    state = LiveState(parse_registry(out.getvalue(), Path(site)))
    engine = AlarmEngine(load_rules(path), state)
    watched = {a.rule.name for a in engine.alarms.values()}
    for target in [*engine._targets, *engine._comms, *engine._gateways]:
        if target.when is not None:
            assert all(len(w) for w in target.when), (target.rule.name, target.rule.when)
    for rule in engine.rules:
        if rule.kind in ("pue", "redundancy"):
            continue  # one alarm for the site, made from the metrics
        assert rule.name in watched, f"{path.name}: rule {rule.name!r} matches no point of {site}"
