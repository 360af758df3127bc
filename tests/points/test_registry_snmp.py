"""The registry's SNMP columns and the SNMP credentials: valid rows load, bad ones fail clearly.

Every error names the file, the row and the column (``twin check`` exits 2 with it);
any text in the SNMP columns gives a Registry or one ConfigError, never a traceback.
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
from twin.points.snmp import load_security

PATH = Path("snmp.csv")
HEADER = (
    "point,unit,snmp_host,snmp_port,snmp_version,snmp_community,snmp_user,snmp_context,"
    "snmp_oid,snmp_type,snmp_scale"
)


def _one(row: str) -> Registry:
    return parse_registry(f"{HEADER}\n{row}\n", PATH)


def test_v2c_and_v3_rows_load() -> None:
    v2c = _one("ups1.soc,pct,10.0.0.5,,,,,,1.3.6.1.2.1.33.1.2.4.0,,").points[0].snmp
    assert v2c is not None
    assert (v2c.port, v2c.version, v2c.type, v2c.scale) == (161, "2c", "integer", 1.0)
    assert v2c.oids == ((1, 3, 6, 1, 2, 1, 33, 1, 2, 4, 0),)
    v3 = (
        _one("pdu1.w,kW,pdu1,1161,3,,ops,pdu1,.1.3.6.1.4.1.13742.6.5.2.3.1.4.1.1.5,gauge32,0.001")
        .points[0]
        .snmp
    )
    assert v3 is not None and (v3.user, v3.context, v3.scale) == ("ops", "pdu1", 0.001)
    summed = _one("u.kw,kW,h,,,,,,1.3.6.1.2.1.33.1.4.4.1.4.1+1.3.6.1.2.1.33.1.4.4.1.4.2,,")
    assert len(summed.points[0].snmp.oids) == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        ("a,kW,h,,,,,,1.3.6.x,,", "snmp_oid", "not a numeric OID"),
        ("a,kW,h,,,,,,,,", "snmp_oid", "needs an OID"),
        ("a,kW,h,,,,,,7.3.6,,", "snmp_oid", "arcs out of range"),
        ("a,kW,h,70000,,,,,1.3.6.1,,", "snmp_port", "must be in [1, 65535]"),
        ("a,kW,h,,1,,,,1.3.6.1,,", "snmp_version", "expected 2c or 3"),
        ("a,kW,h,,3,,,,1.3.6.1,,", "snmp_user", "needs a user"),
        ("a,kW,h,,2c,,ops,,1.3.6.1,,", "snmp_user", "a user is SNMPv3"),
        ("a,kW,h,,3,public,ops,,1.3.6.1,,", "snmp_community", "v3 uses snmp_user"),
        ("a,kW,h,,,,,,1.3.6.1,float,", "snmp_type", "unknown SNMP type 'float'"),
        ("a,kW,h,,,,,,1.3.6.1,,0", "snmp_scale", "finite non-zero"),
        ("a,kW,h,,,,,,1.3.6.1,,abc", "snmp_scale", "expected a number"),
        ("a,kW,,,,,,,1.3.6.1,,", "snmp_host", "snmp_oid is given but no snmp_host"),
        ("a,kW,h,,,,,,1.3.6.1+1.3.6.2,ups-alarm,", "snmp_oid", "one alarm OID"),
    ],
)
def test_a_bad_cell_names_row_and_column(row: str, column: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _one(row)
    assert f"row 2, column '{column}'" in str(caught.value)
    assert words in str(caught.value)
    assert "snmp.csv" in str(caught.value)


def test_a_row_with_no_protocol_at_all_says_which_columns_would_do() -> None:
    with pytest.raises(ConfigError, match="an snmp_host"):
        _one("a,kW,,,,,,,,,")


def test_twin_check_exits_2_naming_the_cell(tmp_path: Path) -> None:
    path = tmp_path / "gear.csv"
    path.write_text(f"{HEADER}\nups1.soc,pct,10.0.0.5,,3,,,,1.3.6.1.2.1.33.1.2.4.0,,\n")
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "check", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "gear.csv" in result.stderr and "row 2, column 'snmp_user'" in result.stderr
    assert "Traceback" not in result.stderr


_CELLS = st.one_of(
    st.sampled_from(["", "h", "161", "0", "2c", "3", "v3", "ops", "1.3.6.1.2.1.1.3.0"]),
    st.sampled_from(["1.3.6.1+1.3.6.2", ".1.3", "2.99999999999", "gauge32", "ups-alarm"]),
    st.sampled_from(["nan", "inf", "-0", "1e-300", '"', "\x00", "+", "..", "1.3." * 40]),
    st.text(max_size=16),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_CELLS, min_size=11, max_size=11), min_size=1, max_size=4))
def test_any_snmp_cells_load_or_fail_clearly(rows: list[list[str]]) -> None:
    import csv
    import io

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for i, row in enumerate(rows):
        writer.writerow([f"p{i}", *row[1:]])
    try:
        registry = parse_registry(f"{HEADER}\n{text.getvalue()}", PATH)
    except ConfigError as error:
        assert "snmp.csv" in str(error) and "row " in str(error)
        return
    for point in registry.points:
        if point.snmp is not None:
            assert point.snmp.oids and point.snmp.scale != 0


def test_credentials_from_a_file_and_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "snmp.toml"
    path.write_text(
        'community = "ops"\n[[users]]\nname = "twin"\nauth_key = "a-long-key"\n'
        'priv_key = "another-key"\n'
    )
    security = load_security(path)
    assert security.community == "ops" and security.user("twin") is not None
    assert "a-long-key" not in repr(security)  # keys never show in a log line
    env = {
        "TWIN_SNMP_USER": "u",
        "TWIN_SNMP_AUTH_KEY": "12345678",
        "TWIN_SNMP_PRIV_KEY": "87654321",
    }
    assert load_security(environ=env).user("u") is not None
    assert load_security(environ={}).users == ()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            '[[users]]\nname = "t"\nauth_key = "short"\npriv_key = "long-enough"\n',
            "users.0.auth_key",
        ),
        ('[[users]]\nauth_key = "long-enough"\npriv_key = "long-enough"\n', "users.0.name"),
        ("community = 3\n", "community"),
        ('colour = "x"\n', "colour"),
    ],
)
def test_bad_credentials_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "snmp.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_security(path)
    assert caught.value.key == key and "snmp.toml" in str(caught.value)
    assert "long-enough" not in str(caught.value)
