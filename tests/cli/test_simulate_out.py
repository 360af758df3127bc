"""`twin simulate --out` and `twin.study.simulate`: the study's time series, read back in
pandas with the documented columns, reproduce the summary (issue 17 item 5)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli.test_cli import twin
from twin.study import COLUMNS, simulate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "study.md"
END_USES = ("it", "facility", "cooling", "power_losses", "other")


def documented_columns() -> dict[str, str]:
    """Column → unit from the time-series table of docs/study.md."""
    text = DOCS.read_text().split("## The time series", 1)[1]
    rows = re.findall(r"^\| `([a-z0-9_]+)`(?: \(index\))? \| ([^|]+) \|", text, re.M)
    return {name: unit.strip() for name, unit in rows}


def test_the_docs_list_every_column_with_its_unit() -> None:
    documented = documented_columns()
    assert documented.pop("time") == "timestamp"
    assert documented == {name: unit or "-" for name, (unit, _) in COLUMNS.items()}
    for name, (unit, _) in COLUMNS.items():  # units in the names
        suffix = {"kW": "_kw", "kWh": "_kwh", "°C": "_c", "L": "_l", "s": "_s"}.get(unit)
        assert suffix is None or name.endswith(suffix), name


def test_a_year_in_parquet_reads_back_and_sums_to_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "year.parquet"
    result = twin("simulate", "aidc-10mw", "--year", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    frame = pd.read_parquet(out)
    assert list(frame.columns) == [c for c in documented_columns() if c != "time"]
    assert frame.index.name == "time" and len(frame) == 365 * 24 * 60
    assert frame.index[0] == pd.Timestamp("2001-01-01 00:00")
    assert frame.index[-1] == pd.Timestamp("2001-12-31 23:59")
    for end_use in END_USES:
        total = frame[f"{end_use}_energy_kwh"].sum()
        assert total == pytest.approx(summary["energy_kwh"][end_use], rel=1e-4), end_use
    assert frame["water_l"].sum() == pytest.approx(summary["water_l"], rel=1e-4)
    hours = frame["cooling_mode"].value_counts() / 60.0
    assert hours.to_dict() == pytest.approx(summary["hours_by_cooling_mode"])
    # The parts add up to their end use, and the table's months to the frame's.
    parts = ["chiller_power_kw", "heat_rejection_fan_power_kw", "pump_power_kw"]
    cooling = frame[[*parts, "crah_fan_power_kw"]].sum(axis=1)
    np.testing.assert_allclose(cooling, frame["cooling_power_kw"], rtol=1e-9)
    losses = frame[["transformer_losses_kw", "converter_losses_kw", "battery_losses_kw"]]
    np.testing.assert_allclose(losses.sum(axis=1), frame["power_losses_kw"], rtol=1e-9)
    july = frame[frame["month"] == 7]
    assert july["facility_energy_kwh"].sum() / july["it_energy_kwh"].sum() == pytest.approx(
        summary["monthly"][6]["pue"]
    )
    assert frame["t_wet_bulb_c"].between(-40, 35).all()
    assert (frame["t_wet_bulb_c"] <= frame["t_dry_bulb_c"] + 1e-9).all()
    assert frame["t_cdu_supply_c"].notna().all() and frame["max_cold_plate_c"].max() < 80


def test_csv_reads_back_with_the_same_columns(tmp_path: Path) -> None:
    out = tmp_path / "days.csv"
    result = twin("simulate", "--days", "2", "--step", "900", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    frame = pd.read_csv(out, index_col="time", parse_dates=["time"])
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 2 * 96
    assert frame["it_energy_kwh"].sum() == pytest.approx(summary["energy_kwh"]["it"], rel=1e-9)
    assert set(frame["cooling_mode"]) <= {"free", "partial", "mechanical"}


def test_the_dynamic_method_gives_the_same_columns_and_sums() -> None:
    frame = simulate("aidc-10mw", days=1, step_s=900, method="dynamic", weather="beijing")
    summary = frame.attrs["summary"]
    assert summary["method"] == "dynamic" and summary["weather"] == "beijing"
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 96
    for end_use in END_USES:
        total = frame[f"{end_use}_energy_kwh"].sum()
        assert total == pytest.approx(summary["energy_kwh"][end_use], rel=1e-9), end_use
    cooling = frame[
        ["chiller_power_kw", "heat_rejection_fan_power_kw", "pump_power_kw", "crah_fan_power_kw"]
    ].sum(axis=1)
    np.testing.assert_allclose(cooling, frame["cooling_power_kw"], rtol=1e-6)


def test_an_air_cooled_site_leaves_the_liquid_columns_empty() -> None:
    frame = simulate("legacy-air-2mw", days=1, step_s=900)
    assert frame["t_cdu_supply_c"].isna().all() and frame["max_cold_plate_c"].isna().all()
    assert frame["t_chw_supply_c"].notna().all()
    assert (frame["cooling_mode"] == "mechanical").all()


def test_an_unknown_output_type_is_refused_before_the_run(tmp_path: Path) -> None:
    result = twin("simulate", "--year", "--out", str(tmp_path / "year.xlsx"))
    assert result.returncode == 2
    assert "year.xlsx" in result.stderr and ".parquet or .csv" in result.stderr
    result = twin("simulate", "--days", "1", "--out", str(tmp_path / "nowhere" / "x.csv"))
    assert result.returncode == 2 and "folder does not exist" in result.stderr
