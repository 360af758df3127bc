"""The wheel carries the shipped data, so an installed twin works outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_runs_outside_the_checkout(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        timeout=600,
        capture_output=True,
    )
    (wheel,) = wheels.glob("twin-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "twin/_data/configs/sites/aidc-10mw.toml",
        "twin/_data/models/chiller/york-yt-1055kw.toml",
        "twin/_data/models/profiles/cooling/cdu.toml",
        "twin/_data/sim/weather/CHN_Beijing.Beijing.545110_CSWD.epw",
        "twin/_data/sim/loads/training-job.toml",
        "twin/_data/sim/scenarios/utility-loss.toml",
    ):
        assert shipped in names, shipped
    target = tmp_path / "site-packages"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("TWIN_DATA", None)
    where = subprocess.run(
        [sys.executable, "-c", "import twin.paths; print(twin.paths.data_root())"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert Path(where.stdout.strip()) == target / "twin" / "_data"
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "simulate", "aidc-10mw", "--days", "1", "--json"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert 1.0 < json.loads(result.stdout)["pue"] < 1.3
    points = subprocess.run(
        [sys.executable, "-m", "twin.cli", "points", "aidc-10mw"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert points.returncode == 0, points.stderr
    assert points.stdout.count("\n") > 1000
