"""twin points (CSV registry) and twin sim (headless run) from the command line."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

from twin.errors import ConfigError


def twin(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_points_csv_has_one_row_per_point_with_addressing() -> None:
    result = twin("points", "aidc-10mw")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len({r["point"] for r in rows}) == len(rows) > 2000
    by_name = {r["point"]: r for r in rows}
    setpoint = by_name["hall-1-cdu1.t_supply_set_c"]
    assert setpoint["register_type"] == "holding_register"
    assert (setpoint["address"], setpoint["data_type"], setpoint["word_order"]) == (
        "0",
        "float32",
        "CDAB",
    )
    assert (setpoint["writable"], setpoint["min"], setpoint["max"]) == ("yes", "20", "50")
    assert setpoint["opcua_node_id"] == "ns=2;s=hall-1-cdu1.t_supply_set_c"
    assert by_name["site-meter.it_power_kw"]["word_order"] == "ABCD"
    inlet = next(r for r in rows if r["point"].endswith(".t_inlet_c"))
    assert (inlet["data_type"], inlet["scale"]) == ("int16", "0.1")
    bit = by_name["hall-1-cdu1.status.pump2_running"]
    assert (bit["bit"], bit["address"]) == ("1", "12")
    assert {r["modbus_port"] for r in rows} == {"5020", "5021", "5022", "5023"}


def test_bad_site_and_bad_profile_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    result = twin("points", "no-such-site")
    assert result.returncode == 2
    assert "unknown site 'no-such-site'" in result.stderr
    from twin.devices.profiles import load_profile_file

    bad = tmp_path / "cdu.toml"
    text = (Path(__file__).parents[2] / "models/profiles/cooling/cdu.toml").read_text()
    bad.write_text(text.replace("address = 2\n", "address = 1\n", 1))
    try:
        load_profile_file(bad)
    except ConfigError as error:
        message = str(error)
    assert "points.1.address" in message and "already used by t_supply_c" in message
    assert "line" in message


def test_sim_serves_for_a_duration_and_prints_endpoints() -> None:
    result = twin(
        "sim",
        "aidc-10mw",
        "--speed",
        "20",
        "--duration",
        "20",
        "--modbus-port",
        "0",
        "--opcua-port",
        "0",
        "--scenario",
        "utility-loss",
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "modbus-tcp" in result.stdout and "opc.tcp://127.0.0.1:" in result.stdout
    assert "stopped" in result.stdout


def test_sim_bad_scenario_exits_2() -> None:
    result = twin("sim", "aidc-10mw", "--scenario", "no-such-scenario", "--no-opcua")
    assert result.returncode == 2
    assert "unknown scenario" in result.stderr
