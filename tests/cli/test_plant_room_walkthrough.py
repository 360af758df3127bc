"""The README's real-gear walkthrough, end to end, on the shipped simulated plant room.

``twin sim plant-room`` serves exactly configs/points/plant-room-vendor.csv (three
vendors' maps, 1-based manual numbers converted in the registry); the walkthrough's
commands run on it as a user runs them: ``twin check`` the registry, then ``twin
monitor`` it with the shipped rules. The only change to the registry is the port
(tests never use fixed ports): the map's own 1502 becomes the simulator's free one.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from twin.points.registry import load_registry, parse_registry

from ..collect.vendorserver import VENDOR_MAP, with_ports

ROOT = Path(__file__).parents[2]
RULES = ROOT / "configs/alarms/plant-room.toml"
SCENARIO = """\
description = "The walkthrough's events: a short utility loss, then a CRAC's comms card off"
[[events]]
at_s = 40
kind = "utility_loss"
duration_s = 15
feeds = ["A", "B"]

[[device_faults]]
at_s = 40
device = "crac2"
kind = "offline"
duration_s = 10
"""


def twin(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def plant_room(tmp_path: Path) -> Iterator[Path]:
    """The simulated plant room serving; yields the vendor registry pointed at it."""
    scenario = tmp_path / "walkthrough.toml"
    scenario.write_text(SCENARIO)
    sim = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "sim", "plant-room", "--modbus-port", "0",
         "--no-opcua", "--scenario", str(scenario)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        port = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = sim.stdout.readline()  # type: ignore[union-attr]
            assert line, "twin sim plant-room ended before serving"
            found = re.match(r"modbus-tcp\s+127\.0\.0\.1:(\d+)\s+plant-room\s+5 ", line)
            port = int(found.group(1)) if found else port
            if line.startswith("site plant-room:"):
                break
        assert port, "no Modbus endpoint printed"
        registry = tmp_path / "plant-room-vendor.csv"
        registry.write_text(with_ports(VENDOR_MAP.read_text(), {u: port for u in range(1, 6)}))
        yield registry
    finally:
        sim.terminate()
        sim.wait(timeout=60)


def test_walkthrough_runs_on_the_simulated_plant_room(plant_room: Path) -> None:
    # Step 2: the registry checks.
    checked = twin("check", str(plant_room))
    assert checked.returncode == 0, checked.stderr
    # Step 3, quiet plant: every point of the vendor map good, sane PUE, no alarm.
    quiet = twin("monitor", str(plant_room), "--alarms", str(RULES), "--headless",
                 "--duration", "15", "--json", "--no-store")  # fmt: skip
    assert quiet.returncode == 0, quiet.stderr
    summary = json.loads(quiet.stdout)
    assert summary["points"] == {"good": 26, "stale": 0, "bad": 0, "never_read": 0}
    assert summary["active_alarms"] == [], summary["active_alarms"]
    assert summary["pue_category"].startswith("PUE3")
    assert summary["pue_quality"] == "good" and 1.2 < summary["pue"] < 2.5
    assert 50 < summary["it_kw"] < 200 and summary["facility_kw"] > summary["it_kw"]
    metrics = summary["metrics"]
    assert metrics["systems"]["room-1-ups"]["capacity_kw"] == 200.0  # the map's nameplate
    assert metrics["battery_runtime_min"]["ups1"]["quality"] == "good"
    # Step 3 through the events: the alarms work, with the operator's messages.
    events = twin("monitor", str(plant_room), "--alarms", str(RULES), "--headless",
                  "--duration", "50", "--json", "--no-store")  # fmt: skip
    assert events.returncode == 0, events.stderr
    summary = json.loads(events.stdout)
    assert summary["points"]["good"] == 26  # the CRAC is back by the end
    alarms = {a["rule"]: a for a in summary["active_alarms"]}
    mains = alarms["mains-lost"]
    assert mains["priority"] == "high" and mains["first_out"] is None
    assert mains["message"].startswith("Mains supply lost at the switchboard (0 V)")
    battery = alarms["ups-on-battery"]
    assert battery["first_out"] == "mains-lost:mains.voltage_v"
    assert re.match(r"ups1 on battery: about \d+ min left at this load", battery["message"])
    comms = alarms["comms-loss"]
    assert comms["source"] == "crac2" and comms["state"] == "rtn_unacked"
    assert comms["message"].startswith("No fresh data from crac2")
    for alarm in summary["active_alarms"]:  # every one has returned to normal
        assert alarm["state"] == "rtn_unacked" and not alarm["active"], alarm


def test_the_simulated_plant_room_serves_exactly_the_vendor_map() -> None:
    """``twin points plant-room`` and the hand-written map agree on every wire detail."""
    printed = twin("points", "plant-room", "--modbus-port", "1502")
    assert printed.returncode == 0, printed.stderr
    ours = parse_registry(printed.stdout, Path("twin points plant-room")).by_name
    vendor = load_registry(VENDOR_MAP)
    for point in vendor.points:
        mine = ours[point.name]
        for field in WIRE:
            assert getattr(mine, field) == getattr(point, field), (point.name, field)
        if point.role and point.bit is None:
            assert mine.role == point.role, point.name


WIRE = (
    "device", "equipment", "unit", "host", "port", "unit_id", "register_type", "address",
    "data_type", "word_order", "scale", "bit", "writable", "write_min", "write_max",
    "range_low", "range_high", "site", "hall",
)  # fmt: skip
