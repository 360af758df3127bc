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
