"""``twin check`` is exactly as strict as the commands that load the file (issue 11 item 18).

It used to reject the shipped device-fault scenario (it did not know ``[[device_faults]]``,
so errors inside fault entries were never reported) and to pass an unknown weather name
and an unknown scenario target that ``twin run`` then refused.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def twin(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_every_shipped_file_checks_clean() -> None:
    files = sorted(ROOT.glob("sim/scenarios/**/*.toml")) + sorted(ROOT.glob("configs/sites/*.toml"))
    result = twin("check", *map(str, files))
    assert result.returncode == 0, result.stderr
    assert "comms-faults.toml: valid scenario" in result.stdout


FAULTS = """
[[events]]
at_s = 60
kind = "pump_trip"
target = "{target}"

[[device_faults]]
at_s = 30
device = "{device}"
kind = "{kind}"
duration_s = 120
"""


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"target": "hall-9-cdu7", "device": "hall-1-cdu2", "kind": "offline"}, "hall-9-cdu7"),
        ({"target": "hall-1-cdu1", "device": "no-such-box", "kind": "offline"}, "no-such-box"),
        ({"target": "hall-1-cdu1", "device": "hall-1-cdu2", "kind": "melt"}, "device_faults"),
    ],
    ids=["unknown target", "unknown device", "bad fault kind"],
)
def test_check_and_sim_refuse_the_same_scenario(
    tmp_path: Path, fields: dict[str, str], said: str
) -> None:
    path = tmp_path / "scenarios" / "bad.toml"
    path.parent.mkdir()
    path.write_text(FAULTS.format(**fields))
    check = twin("check", str(path))
    assert check.returncode == 2, check.stdout + check.stderr
    assert said in check.stderr and "bad.toml" in check.stderr
    sim = twin("sim", "aidc-10mw", "--scenario", str(path), "--duration", "1", "--no-opcua")
    assert sim.returncode == 2, sim.stderr
    assert said in sim.stderr


def test_a_site_with_an_unknown_weather_name_is_refused(tmp_path: Path) -> None:
    text = (ROOT / "configs/sites/aidc-10mw.toml").read_text()
    assert 'weather = "shanghai"' in text
    path = tmp_path / "sites" / "nowhere.toml"
    path.parent.mkdir()
    path.write_text(text.replace('weather = "shanghai"', 'weather = "atlantis"'))
    check = twin("check", str(path))
    assert check.returncode == 2, check.stdout
    assert "atlantis" in check.stderr
    run = twin("simulate", str(path), "--days", "0.01")
    assert run.returncode == 2
    assert "atlantis" in run.stderr
