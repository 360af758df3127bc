"""Registries a careless integrator writes: one clear ConfigError, never a traceback.

Issue 11 items 16 and 19: a 1 MB single-line CSV raised ``csv.Error`` (exit 1), a
``;``-separated file (Excel's default in much of Europe and China) was "empty", a header
with no rows and ``min > max`` were "valid".
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.errors import ConfigError
from twin.points.registry import Registry, parse_registry

HEADER = "point,unit,modbus_host,modbus_port,unit_id,register_type,address,data_type,word_order"
GOOD = "a.p,kW,127.0.0.1,1502,1,input_register,0,float32,CDAB"
PATH = Path("points.csv")


def test_a_megabyte_on_one_line_is_a_config_error_naming_the_row() -> None:
    text = f"{HEADER}\n" + "x" * 1_000_000 + "\n"
    with pytest.raises(ConfigError, match="row 2"):
        parse_registry(text, PATH)


def test_the_command_line_exits_2_on_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text("point," + "y" * 1_000_000 + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "huge.csv" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("delimiter", "said"), [(";", "';'"), ("\t", "a tab")])
def test_another_delimiter_is_named(delimiter: str, said: str) -> None:
    text = f"{HEADER}\n{GOOD}\n".replace(",", delimiter)
    with pytest.raises(ConfigError, match=f"separated by {said}"):
        parse_registry(text, PATH)


def test_a_header_without_points_is_refused() -> None:
    with pytest.raises(ConfigError, match="no points"):
        parse_registry(f"# site registry\n{HEADER}\n", PATH)


def test_min_above_max_is_refused_naming_the_column() -> None:
    text = f"{HEADER},writable,min,max\n{GOOD},yes,30,20\n"
    with pytest.raises(ConfigError, match="row 2, column 'min'"):
        parse_registry(text, PATH)


def test_min_below_max_still_loads() -> None:
    registry = parse_registry(f"{HEADER},writable,min,max\n{GOOD},yes,20,30\n", PATH)
    assert registry.points[0].write_min == 20


_CELLS = st.one_of(
    st.sampled_from(["", "a.p", "kW", "127.0.0.1", "1502", "1", "0", "float32", "CDAB", "-1"]),
    st.sampled_from(["input_register", "coil", "yes", "nan", "1e999", '"', "\x00", ";"]),
    st.text(max_size=12),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_CELLS, min_size=1, max_size=11), max_size=6), st.booleans())
def test_any_rows_under_the_header_load_or_fail_clearly(
    rows: list[list[str]], header: bool
) -> None:
    lines = ([HEADER] if header else []) + [",".join(row) for row in rows]
    try:
        registry = parse_registry("\n".join(lines), PATH)
    except ConfigError as error:
        assert str(error)
    else:
        assert isinstance(registry, Registry)
        assert registry.points


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_loads_or_fails_clearly(text: str) -> None:
    try:
        parse_registry(text, PATH)
    except ConfigError as error:
        assert str(error)
