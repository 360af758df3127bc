"""twin monitor against aidc-10mw on loopback: headless status lines and a JSON summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .collectsite import Served, served

__all__ = ["served"]  # the fixture

ROOT = Path(__file__).parents[2]


def test_monitor_headless_json_summary(served: Served, tmp_path: Path) -> None:
    plant = served.sim.sim.plant
    assert plant is not None
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "twin.cli",
            "monitor",
            str(served.registry_path),
            "--headless",
            "--duration",
            "5",
            "--status-every",
            "1",
            "--json",
            "--alarms",
            str(ROOT / "configs/alarms/aidc-10mw.toml"),
            "--spool",
            str(tmp_path / "spool"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["points"]["good"] == sum(summary["points"].values()) > 2000
    assert summary["samples"] >= summary["points"]["good"]
    readings = plant.readings
    assert abs(summary["facility_kw"] - readings.power.facility_power_w / 1e3) < 1.0
    assert abs(summary["pue"] - readings.power.facility_power_w / readings.power.it_power_w) < 1e-4
    assert summary["pue_category"].startswith("PUE3")
    assert isinstance(summary["active_alarms"], list)
    assert "points good" in result.stderr  # status lines go to stderr with --json
    # With no database the samples went to the embedded store, every line of them.
    from twin.sinks.spool import Spool

    assert summary["samples_spooled"] > 300  # a record per device per poll, and the site's
    with Spool(tmp_path / "spool") as spool:
        assert spool.count() == summary["samples_spooled"]


def test_monitor_bad_registry_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("point,modbus_host,modbus_port,register_type,address\na.b,h,1502,holding,0\n")
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "monitor", str(bad), "--headless"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "bad.csv" in result.stderr and "row 2, column 'register_type'" in result.stderr


def test_monitor_opcua_options_refuse_bad_input(tmp_path: Path) -> None:
    registry = str(ROOT / "configs/points/aidc-10mw.csv")
    env = {k: v for k, v in os.environ.items() if k != "OPCUA_PASSWORD"}
    for extra, message in (
        (["--opcua-user", "bms"], "needs the password in $OPCUA_PASSWORD"),
        (["--opcua-security", "Basic256Sha256,SignAndEncrypt,a.pem"], "Policy,Mode"),
        (
            ["--opcua-security", f"Basic256Sha256,Sign,{tmp_path / 'no.pem'},{tmp_path}/k"],
            "no file",
        ),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "twin.cli", "monitor", registry, "--headless", *extra],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert message in result.stderr
