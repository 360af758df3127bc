"""The registry's BACnet/IP columns: checked at load, every problem naming its row and column.

``twin check`` on a registry with a bad BACnet row exits 2 with the same message.
A hypothesis property: whatever text the ``bacnet_*`` cells hold, loading either
gives a point whose BACnet fields are in the standard's vocabulary, or one
ConfigError naming the row and a ``bacnet_`` column; never another exception.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.errors import ConfigError
from twin.points.bacnet import COLUMNS, MAX_INSTANCE, OBJECT_TYPES, PROPERTIES
from twin.points.registry import parse_registry

PATH = Path("bacnet.csv")
GOOD = {
    "point": "ahu.t",
    "unit": "degC",
    "bacnet_address": "127.0.0.1:47808",
    "bacnet_device": "1001",
    "bacnet_object_type": "analog-input",
    "bacnet_object_instance": "3",
    "bacnet_property": "present-value",
    "bacnet_priority": "",
}


def _text(**changes: str) -> str:
    row = {**GOOD, **changes}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
    writer.writeheader()
    writer.writerow(row)
    return out.getvalue()


def test_a_good_row_loads_with_names_normalised() -> None:
    point = parse_registry(
        _text(
            bacnet_object_type="analogValue", bacnet_property="presentValue", bacnet_priority="8"
        ),
        PATH,
    ).points[0]
    assert point.bacnet and not point.modbus
    assert (point.bacnet_object_type, point.bacnet_object_instance) == ("analog-value", 3)
    assert (point.bacnet_device, point.bacnet_property, point.bacnet_priority) == (
        1001,
        "present-value",
        8,
    )


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"bacnet_address": "127.0.0.1"}, "bacnet_address", "host:port"),
        ({"bacnet_address": "127.0.0.1:70000"}, "bacnet_address", "port"),
        ({"bacnet_device": ""}, "bacnet_device", "device instance"),
        ({"bacnet_device": "4194303"}, "bacnet_device", "must be in"),
        ({"bacnet_object_type": "analog-in"}, "bacnet_object_type", "unknown object type"),
        ({"bacnet_object_instance": "x"}, "bacnet_object_instance", "integer"),
        ({"bacnet_property": "object-name"}, "bacnet_property", "unknown property"),
        ({"bacnet_priority": "17"}, "bacnet_priority", "must be in [1, 16]"),
        ({"bacnet_address": "", "bacnet_device": "5"}, "bacnet_address", "no bacnet_address"),
    ],
)
def test_a_bad_cell_names_its_row_and_column(changes: dict, column: str, words: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_registry(_text(**changes), PATH)
    message = str(error.value)
    assert f"row 2, column '{column}'" in message and words in message, message


def test_twin_check_exits_2_on_a_bad_bacnet_row(tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    path.write_text(_text(bacnet_object_type="thermostat"))
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result
    assert "row 2, column 'bacnet_object_type'" in result.stderr


cells = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "127.0.0.1:47808", "h:1", "analog-input", "binaryValue", "16", "0"]),
    st.integers(-5, MAX_INSTANCE + 5).map(str),
    st.sampled_from([*OBJECT_TYPES, *PROPERTIES]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({c: cells for c in COLUMNS}))
def test_any_bacnet_cells_load_or_fail_naming_row_and_column(values: dict[str, str]) -> None:
    clean = {k: v.replace("\x00", "") for k, v in values.items()}
    try:
        text = _text(**clean)
        registry = parse_registry(text, PATH)
    except ConfigError as error:
        message = str(error)
        assert "row " in message, message
        if "column '" in message:
            assert "column 'bacnet_" in message or "column 'modbus_host'" in message, message
        return
    point = registry.points[0]
    assert point.bacnet_object_type in OBJECT_TYPES
    assert point.bacnet_property in PROPERTIES
    assert 0 <= (point.bacnet_device or 0) <= MAX_INSTANCE
    assert point.bacnet_priority is None or 1 <= point.bacnet_priority <= 16


def test_twin_points_writes_the_bacnet_columns_of_the_cooling_plant() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "points", "aidc-10mw", "--bacnet-port", "47808"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    registry = parse_registry(result.stdout, Path("points.csv"))
    served = [p for p in registry.points if p.bacnet]
    assert {p.equipment for p in served} == {"chiller", "crah", "tower", "cdu", "pump"}
    ports = sorted({int(p.bacnet_address.rsplit(":", 1)[1]) for p in served})
    assert ports == list(range(47808, 47808 + len(ports)))  # one port per device, in order
    setpoint = registry.by_name["chiller-1.t_chw_supply_set_c"]
    assert (setpoint.bacnet_object_type, setpoint.writable) == ("analog-value", True)
    assert not any(p.bacnet for p in registry.points if p.equipment == "ups")
    plain = subprocess.run(
        [sys.executable, "-m", "twin.cli", "points", "aidc-10mw"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "bacnet_address" not in plain.stdout.splitlines()[0]  # unchanged without it
