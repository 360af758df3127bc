"""Design sweeps on Dask: the grid, identical results on a cluster, clear errors.

Issue 16 item 4: ``twin sweep SITE --vary KEY=V1,V2`` runs the annual study over the
grid on ``dask.distributed`` and gives, case for case, what running that case alone
gives. The speed target (20 cases in ≤ 0.6 × the serial time on 2 workers) is a
bench (``bench/sweep.py``), not a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.errors import ConfigError
from twin.plant.sweep import ROW_COLUMNS, cases_from_vary, parse_vary, run_case, sweep

from ..sinks.sinkservers import free_port

VARY = {"weather": ["beijing", "shenzhen"], "cooling.facility_water.t_supply_c": [26, 34]}
DAYS = 2.0
COMPARED = [c for c in ROW_COLUMNS if c != "study_wall_s"]


def _twin(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_the_grid_is_every_combination_first_key_slowest() -> None:
    cases = cases_from_vary({"a": [1, 2], "b": ["x", "y", "z"]})
    assert cases == [{"a": a, "b": b} for a in (1, 2) for b in ("x", "y", "z")], (
        "the order a user reads in the table"
    )


def test_a_cluster_gives_each_case_exactly_what_running_it_alone_gives() -> None:
    frame = sweep("aidc-10mw", VARY, days=DAYS, workers=2)
    assert list(frame.columns) == [*VARY, *ROW_COLUMNS]
    assert len(frame) == 4
    for _, row in frame.iterrows():
        case = {key: row[key] for key in VARY}
        alone = run_case("aidc-10mw", case, DAYS * 86400.0, 60.0)
        assert [row[c] for c in COMPARED] == [alone[c] for c in COMPARED], case
    # The cases differ where the physics says they must: Shenzhen's wet bulb costs
    # cooling energy that Beijing's winter does not.
    by_weather = frame.groupby("weather")["cooling_mwh"].mean()
    assert by_weather["shenzhen"] > by_weather["beijing"]


def test_a_running_scheduler_and_workers_give_the_same_table(tmp_path: Path) -> None:
    """A real cluster (dask scheduler and dask worker processes), as --scheduler names one."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            address,
            "--nthreads",
            "1",
            "--no-dashboard",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        out = tmp_path / "cases.csv"
        result = _twin(
            "sweep",
            "--weather",
            "beijing,shenzhen",
            "--days",
            str(DAYS),
            "--scheduler",
            address,
            "--out",
            str(out),
        )
        assert result.returncode == 0, result.stderr
        remote = pd.read_csv(out)
        local = sweep("aidc-10mw", {"weather": ["beijing", "shenzhen"]}, days=DAYS, workers=0)
        pd.testing.assert_frame_equal(remote[COMPARED], local[COMPARED], rtol=1e-12)
    finally:
        for process in (worker, scheduler):
            process.terminate()
        for process in (worker, scheduler):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_the_command_writes_parquet_with_the_documented_columns(tmp_path: Path) -> None:
    out = tmp_path / "cases.parquet"
    result = _twin(
        "sweep",
        "--vary",
        "cooling.facility_water.t_supply_c=26,34",
        "--days",
        "1",
        "--workers",
        "0",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["cooling.facility_water.t_supply_c", *ROW_COLUMNS]
    assert frame["cooling.facility_water.t_supply_c"].tolist() == [26, 34]
    assert "2 cases in" in result.stdout and "pue" in result.stdout


def test_json_rows_have_no_nan(tmp_path: Path) -> None:
    result = _twin(
        "sweep", "legacy-air-2mw", "--weather", "beijing", "--days", "1", "--workers", "0", "--json"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # strict JSON: a NaN would not parse as a number here
    assert len(data["cases"]) == 1
    assert data["cases"][0]["max_cold_plate_c"] is None  # an air-cooled site has no plates


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--vary", "cooling.facility_water.t_suply_c=26"], "unknown key"),
        (["--vary", "halls.7.gpu_racks=3"], "no index '7'"),
        (["--vary", "cooling.facility_water.t_supply_c=99"], "less than or equal to 50"),
        (["--weather", "mars"], "unknown weather 'mars'"),
        (["--vary", "nothing"], "expected KEY=V1,V2"),
        (["--vary", "weather=beijing", "--weather", "all"], "also given with --vary"),
        (["--out", "cases.xlsx"], "must end in .parquet or .csv"),
        (["--workers", "-1"], "must be 0"),
    ],
)
def test_bad_input_is_one_message_and_exit_2_before_any_case_runs(
    args: list[str], said: str
) -> None:
    result = _twin("sweep", "--days", "365", *args)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert "cases in" not in result.stdout  # refused up front, not after a year of study


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60))
def test_any_vary_text_is_a_config_error_or_a_key_and_values(text: str) -> None:
    try:
        key, values = parse_vary(text)
    except ConfigError as error:
        assert "--vary" in str(error)
        return
    assert key and "=" not in key
    assert values
