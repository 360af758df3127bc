"""``twin run --twin``: the shadow plant beside the collector of a simulated site, end to
end over the sockets; its figures in the JSON summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_twin_run_with_the_shadow_reports_coverage_health_and_residuals(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "twin.cli", "run", "aidc-10mw", "--headless", "--duration", "60",
         "--json", "--twin", "--spool", str(tmp_path / "spool")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    twin = summary["twin"]
    assert twin["coverage"]["fraction"] > 0.95, twin["coverage"]
    assert twin["coverage"]["boundary"]["it_power"] == "site-meter.it_power_kw"
    assert twin["tick_failures"] == 0 and twin["ticks"] >= 30
    # the same model on the readings of the same plant: issue 13's clean-run bands
    assert twin["cdu_supply_p95_k"] is not None and twin["cdu_supply_p95_k"] <= 0.3
    facility = twin["health"]["facility_power"]
    assert facility["samples"] >= 10
    assert abs(facility["sample_nmbe_pct"]) <= 1.0 and facility["sample_cv_rmse_pct"] <= 2.0
    assert twin["residual"] == "measured - modelled"


def test_without_the_flag_there_is_no_shadow(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "twin.cli", "run", "aidc-10mw", "--headless", "--duration", "3",
         "--json", "--spool", str(tmp_path / "spool")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "twin" not in json.loads(run.stdout.strip().splitlines()[-1])


def test_a_fouling_injected_in_the_plant_is_a_twin_finding_alarm_on_its_cdus(
    tmp_path: Path,
) -> None:
    """The hidden truth: hall 1's exchangers lose 20 % of UA at 200 s of plant time. The
    collector is not told; the shadow (bands from 120 s of clean data, 60 s persistence)
    finds it on hall 1's CDU valves only and raises a twin-finding alarm on each."""
    scenario = tmp_path / "foul.toml"
    scenario.write_text(
        'description = "hall 1 fouls"\n[[events]]\nat_s = 200\nkind = "cdu_fouling"\n'
        'target = "hall-1-cdu*"\nua_loss = 0.2\n'
    )
    run = subprocess.run(
        [sys.executable, "-m", "twin.cli", "run", "aidc-10mw", "--headless", "--duration", "440",
         "--speed", "4", "--json", "--twin", "--twin-learn", "120", "--twin-persist", "60",
         "--scenario", str(scenario), "--spool", str(tmp_path / "spool")],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    twin = summary["twin"]
    assert twin["bands"] == "learned" and twin["tick_failures"] == 0
    findings = twin["findings"]
    assert findings, twin.get("largest_median_residuals")
    hall_1 = {f"hall-1-cdu{k}" for k in range(1, 5)}
    assert {f["device"] for f in findings} <= hall_1, findings
    assert all(f["kind"].startswith("heat-exchanger fouling") for f in findings)
    # the scenario runs on plant time from 0 (the plant's start); the shadow starts a few
    # plant seconds later (twin["start_s"]), so the fault's time is 200 s, not start_s + 200
    assert 0 <= twin["start_s"] < 200
    found_at_s = min(f["since_s"] for f in findings)
    assert 200 + 60 <= found_at_s <= 440, found_at_s  # never before fault + persistence
    alarms = [a for a in summary["active_alarms"] if a["rule"] == "twin-finding"]
    assert {a["source"] for a in alarms} == {f["point"] for f in findings}
    assert all("fouling" in a["message"] for a in alarms)
