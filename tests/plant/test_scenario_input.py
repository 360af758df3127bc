"""Scenario files a careless or hostile author writes: a ConfigError or a valid scenario.

Issue 11's bounded fuzzing asks this of the scenario loader as of the codec and the
registry: any input gives one clear error naming the file, or a result the plant
accepts, never a traceback. Two layers are fuzzed: arbitrary bytes (the TOML reader),
and well-formed TOML whose events carry any kind, key and value (the models and the
site check that ``twin run`` applies).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.devices.cli import load_sim_scenario
from twin.errors import ConfigError
from twin.plant.layout import assemble
from twin.plant.scenarios import Scenario, check_targets, load_scenario
from twin.site import load_site

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

KINDS = [
    "utility_loss",
    "pump_trip",
    "tower_fan_failure",
    "chiller_trip",
    "load_step",
    "rack_flow_loss",
]
FAULT_KINDS = ["offline", "slow", "frozen", "exception", "bad_quality", "garbage"]
KEYS = [
    "at_s",
    "duration_s",
    "feeds",
    "target",
    "pump",
    "loop",
    "cell",
    "chiller",
    "factor",
    "rack",
    "device",
    "delay_s",
    "surprise",
]


def _toml_value(value: object) -> str:
    """A TOML literal for a Python value (strings escaped the TOML way)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    text = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    return f'"{text}"'


scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=20),
    st.sampled_from([*KINDS, *FAULT_KINDS, "hall-1-cdu1", "A", "B", "facility_water"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3))
tables = st.dictionaries(
    st.sampled_from([*KEYS, "kind"]),
    values,
    max_size=6,
).map(lambda table: {"kind": table.get("kind", "pump_trip"), **table})


def _scenario_text(events: list[dict], faults: list[dict], description: object) -> str:
    lines = [f"description = {_toml_value(description)}"]
    for name, entries in (("events", events), ("device_faults", faults)):
        for entry in entries:
            lines.append(f"[[{name}]]")
            lines.extend(f"{key} = {_toml_value(value)}" for key, value in entry.items())
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def layout():  # type: ignore[no-untyped-def]
    return assemble(load_site("aidc-10mw"))


@FUZZ
@given(raw=st.binary(max_size=400))
def test_any_bytes_are_a_config_error_or_a_scenario(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "any.toml"
    path.write_bytes(raw)
    try:
        scenario = load_scenario(path)
    except ConfigError as error:
        assert str(path) in str(error)
        return
    assert isinstance(scenario, Scenario)


@FUZZ
@given(
    events=st.lists(tables, max_size=4),
    faults=st.lists(tables, max_size=3),
    description=scalars,
)
def test_any_events_are_a_config_error_or_accepted_by_the_site(
    tmp_path: Path, layout, events: list[dict], faults: list[dict], description: object
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "events.toml"
    path.write_text(_scenario_text(events, faults, description), encoding="utf-8")
    try:
        scenario, device_faults, _ = load_sim_scenario(str(path))
        check_targets(layout, scenario, path)
    except ConfigError as error:
        message = str(error)
        assert str(path) in message
        # The key named is one the author wrote, not pydantic's union tag.
        assert not any(f".{kind}." in message for kind in KINDS + FAULT_KINDS)
        return
    assert all(math.isfinite(event.at_s) and event.at_s >= 0 for event in scenario.events)
    assert len(scenario.events) == len(events)
    assert len(device_faults) == len(faults)


def test_a_nan_start_time_is_refused_naming_the_event(tmp_path: Path) -> None:
    path = tmp_path / "nan.toml"
    path.write_text('[[events]]\nat_s = nan\nkind = "load_step"\nfactor = 1.1\n')
    with pytest.raises(ConfigError, match=r"line 2 key 'events\.0\.at_s'"):
        load_scenario(path)
