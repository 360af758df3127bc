"""The twin command line: JSON summary, progress-free output, bad input → exit 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from twin.paths import data_path


def twin(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_simulate_json_is_one_object_with_the_promised_keys() -> None:
    result = twin("simulate", "aidc-10mw", "--days", "1", "--step", "300", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # exactly one JSON document
    for key in (
        "pue",
        "pue_by_month",
        "wue_l_per_kwh",
        "energy_kwh",
        "water_l",
        "hours_by_cooling_mode",
        "max_cold_plate_c",
        "max_rack_inlet_c",
        "electrical_balance_error",
        "heat_balance_error",
        "sim_seconds",
        "wall_seconds",
    ):
        assert key in summary, key
    assert set(summary["energy_kwh"]) >= {"it", "facility", "power_losses", "cooling", "other"}
    assert len(summary["pue_by_month"]) == 12
    assert summary["sim_seconds"] == 86400
    assert 1.0 < summary["pue"] < 1.3


def test_simulate_with_scenario_reports_generator_fuel() -> None:
    result = twin(
        "simulate", "--days", "0.02", "--step", "1", "--scenario", "utility-loss", "--json"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["generator_fuel_l"] > 0
    assert summary["it_interrupted_kwh"] == 0


def test_every_shipped_file_checks_valid() -> None:
    files = [
        *sorted((data_path("configs", "sites")).glob("*.toml")),
        *sorted((data_path("sim", "scenarios")).glob("*.toml")),
        *sorted((data_path("sim", "loads")).glob("*.toml")),
        *sorted((data_path("models")).glob("*/*.toml")),
        *sorted((data_path("models", "profiles")).glob("*/*.toml")),
    ]
    result = twin("check", *map(str, files))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("valid") == len(files)


def _site_with(tmp_path: Path, old: str, new: str) -> Path:
    text = (data_path("configs", "sites") / "aidc-10mw.toml").read_text()
    assert old in text
    path = tmp_path / "sites" / "broken.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # unknown catalog name: the message lists the valid ones
        ('cdu = "deschutes-2000kw"', 'cdu = "deschutes-2000"', "unknown cdu 'deschutes-2000'"),
        # unit typo: other_load_w instead of other_load_kw
        ("other_load_kw = 120", "other_load_w = 120", "unknown key"),
        # negative count
        ("gpu_racks = 35", "gpu_racks = -35", "greater than or equal to 0"),
        # missing key
        ('transformer = "dry-10-0.4kv-2500kva"\n', "", "required key is missing"),
        # TOML syntax
        ("towers = 3", "towers = = 3", "invalid TOML"),
    ],
)
def test_bad_site_is_one_clear_message_and_exit_2(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    path = _site_with(tmp_path, old, new)
    for command in (["check", str(path)], ["simulate", str(path), "--days", "1"]):
        result = twin(*command)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert expected in result.stderr
        assert "broken.toml" in result.stderr
        assert result.stdout == ""


def test_error_names_the_line(tmp_path: Path) -> None:
    path = _site_with(tmp_path, "gpu_racks = 35", "gpu_racks = -35")
    result = twin("check", str(path))
    line = next(
        n for n, text in enumerate(path.read_text().splitlines(), 1) if "gpu_racks = -35" in text
    )
    assert f"line {line}" in result.stderr
    assert "halls.0.gpu_racks" in result.stderr


def test_negative_capacity_in_a_catalog_entry(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "rack"
    folder.mkdir(parents=True)
    entry = folder / "bad.toml"
    text = (data_path("models", "rack") / "air-15kw.toml").read_text()
    entry.write_text(text.replace("power_kw = 15", "power_kw = -15"))
    result = twin("check", str(entry))
    assert result.returncode == 2
    assert "power_kw" in result.stderr and "greater than 0" in result.stderr


def test_unknown_site_and_weather_list_valid_names() -> None:
    result = twin("simulate", "aidc-999mw")
    assert result.returncode == 2
    assert "aidc-10mw" in result.stderr
    result = twin("simulate", "--weather", "atlantis", "--days", "1")
    assert result.returncode == 2
    assert "beijing" in result.stderr


def test_bad_numbers_on_the_command_line() -> None:
    result = twin("simulate", "--days", "-1")
    assert result.returncode == 2
    assert "must be > 0" in result.stderr


def test_installed_entry_point_runs() -> None:
    exe = shutil.which("twin", path=str(Path(sys.executable).parent))
    assert exe is not None
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "simulate" in result.stdout


def test_fast_method_refuses_a_scenario() -> None:
    result = twin("simulate", "--method", "fast", "--scenario", "utility-loss")
    assert result.returncode == 2
    assert "--method dynamic" in result.stderr


def test_replay_is_wired_into_twin(tmp_path: Path) -> None:
    from twin.sinks.spool import Spool

    Spool(tmp_path / "spool").close()
    result = twin("replay", str(tmp_path / "spool"), "--influx-v1", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert "needs --db" in result.stderr


def test_version_is_the_installed_one() -> None:
    import tomllib
    from importlib.metadata import version

    result = twin("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"twin {version('twin')}\n"
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert version("twin") == project["project"]["version"]


def test_help_footer_lists_every_shipped_site(tmp_path: Path) -> None:
    import os

    shipped = sorted(p.stem for p in data_path("configs", "sites").glob("*.toml"))
    assert "aidc-10mw-dry" in shipped
    footer = twin("--help").stdout.split("Sites:", 1)[1]
    words = [w.strip("(),.") for w in footer.split()]
    for name in shipped:
        assert name in words, (name, footer)  # whole, not split at a hyphen
    # read from the folder sites load from, not a list in the code: a site added shows
    root = tmp_path / "data"
    (root / "configs" / "sites").mkdir(parents=True)
    for folder in ("models", "sim"):
        (root / folder).symlink_to(data_path(folder))
    new_site = root / "configs" / "sites" / "my-new-site.toml"
    shutil.copy(data_path("configs", "sites", "aidc-10mw.toml"), new_site)
    env = {**os.environ, "TWIN_DATA": str(root)}
    assert "(my-new-site)." in twin("--help", env=env).stdout
