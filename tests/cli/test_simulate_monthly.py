"""`twin simulate` reports by month: a table a designer reads and the same values in JSON
(issue 18 item 11)."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import twin

TERMS = ("it", "facility", "cooling", "power_losses", "other")


@pytest.mark.parametrize("method", ["fast", "dynamic"])
def test_monthly_values_sum_to_the_run_totals(method: str) -> None:
    # 40 days from 20 January: the end of January, all of February, the start of March.
    result = twin(
        "simulate", "--days", "40", "--start-day", "20", "--step", "900",
        "--method", method, "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    months = summary["monthly"]
    assert [m["month"] for m in months][:3] == ["Jan", "Feb", "Mar"] and len(months) == 12
    hours = [sum(m["hours_by_cooling_mode"].values()) for m in months]
    assert hours[:3] == pytest.approx([11 * 24, 28 * 24, 1 * 24])
    assert hours[3:] == [0.0] * 9 and all(m["pue"] is None for m in months[3:])
    for term in TERMS:
        total = sum(m["energy_kwh"][term] for m in months)
        assert total == pytest.approx(summary["energy_kwh"][term], rel=1e-9), term
    assert sum(m["water_l"] for m in months) == pytest.approx(summary["water_l"], rel=1e-9)
    for mode, h in summary["hours_by_cooling_mode"].items():
        assert sum(m["hours_by_cooling_mode"][mode] for m in months) == pytest.approx(h)
    feb = months[1]
    assert feb["pue"] == pytest.approx(feb["energy_kwh"]["facility"] / feb["energy_kwh"]["it"])
    assert feb["wue_l_per_kwh"] == pytest.approx(feb["water_l"] / feb["energy_kwh"]["it"])
    assert summary["pue_by_month"][:3] == pytest.approx([m["pue"] for m in months[:3]])


def test_the_text_output_is_a_table_by_month_name() -> None:
    result = twin("simulate", "--days", "40", "--start-day", "20", "--step", "900")
    assert result.returncode == 0, result.stderr
    assert "PUE by month" not in result.stdout  # the twelve bare numbers are gone
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("month"))
    assert lines[header].split() == [
        "month", "PUE", "WUE", "IT", "cooling", "losses", "other", "facility", "water",
        "free", "partial", "mechanical",
    ]  # fmt: skip
    assert lines[header + 1].split() == ["L/kWh"] + ["MWh"] * 5 + ["m³"] + ["h"] * 3
    rows = [line.split() for line in lines[header + 2 :]]
    assert [r[0] for r in rows] == ["Jan", "Feb", "Mar", "total"]
    feb = rows[1]
    assert 1.0 < float(feb[1]) < 1.3  # PUE
    assert (
        int(feb[9].replace(",", "")) + int(feb[10].replace(",", "")) + int(feb[11].replace(",", ""))
        == 28 * 24
    )
