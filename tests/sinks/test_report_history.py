"""`twin report --from SPOOL`: the operator's monthly energy-based PUE (ISO/IEC 30134-2, with
its category), WUE and CUE from the stored history (issue 17 item 5)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from twin.sinks.record import Record
from twin.sinks.spool import Spool

ROOT = Path(__file__).resolve().parents[2]


def twin(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", *args],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


def ns(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1e9)


def test_months_are_energy_weighted_with_gaps_left_uncovered(tmp_path: Path) -> None:
    start = ns("2026-01-31T23:00:00")
    records = []
    for i in range(121):  # 23:00 to 01:00 every minute, across the month boundary
        t = start + i * 60 * 10**9
        it = 1000.0 if i < 60 else 2000.0  # January at 1 MW, February at 2 MW
        fields = {"facility_power_kw": 1.2 * it if i < 60 else 1.5 * it, "it_power_kw": it,
                  "wue_l_per_kwh": 2.0, "cue_kg_per_kwh": 0.6, "pue_category": 3.0}  # fmt: skip
        if 90 <= i < 100:
            # bad readings: the record carries no values, only its quality
            records.append(Record("site", {"site": "s1"}, {}, t, quality=2))
            continue
        records.append(Record("site", {"site": "s1"}, fields, t))
    # A device record and another site in the same store are told apart.
    records.append(Record("cdu", {"site": "s1", "device": "cdu-1"}, {"t_supply_c": 30.0}, start))
    with Spool(tmp_path) as spool:
        spool.append(records)
    result = twin("report", "--from", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    months = json.loads(result.stdout)["sites"]["s1"]
    jan, feb = months
    assert jan["month"] == "2026-01" and feb["month"] == "2026-02"
    # 23:59 → 00:00 is January's last interval, by its start: a trapezoid from
    # (1200, 1000) kW to (3000, 2000) kW.
    it_kwh = (59 * 1000 + 1500) / 60
    assert jan["it_kwh"] == pytest.approx(it_kwh) and jan["covered_h"] == pytest.approx(1.0)
    assert jan["pue"] == pytest.approx((59 * 1200 + 2100) / 60 / it_kwh)
    assert feb["pue"] == pytest.approx(1.5)
    # 01:29 → 01:40 (ten bad records) is not covered: 60 − 11 minutes of February.
    assert feb["covered_h"] == pytest.approx(49 / 60)
    assert feb["it_kwh"] == pytest.approx(49 / 60 * 2000)
    assert feb["pue_category"] == "PUE3 (IT equipment input)"
    assert jan["wue_l_per_kwh"] == pytest.approx(2.0) and feb["cue_kg_per_kwh"] == pytest.approx(
        0.6
    )
    assert feb["coverage"] == pytest.approx(49 / 60 / (28 * 24))


def test_a_run_of_the_twin_reports_its_own_pue(tmp_path: Path) -> None:
    # The reference site under a steady load. Its own training-job load swings 6.1 ↔ 9.5 MW
    # every few seconds, and the collector reads the facility meter and the racks at
    # slightly different instants: a record taken across a swing holds one power from
    # before it and one from after (PUE 0.72 once in 20 s). Over a month such records
    # cancel; over 20 s one of them moves the energy PUE by 2 %, more than the
    # comparison with the plant's last instant could tell from a wrong sum.
    text = (ROOT / "configs/sites/aidc-10mw.toml").read_text()
    site = tmp_path / "aidc-10mw.toml"
    site.write_text(text.replace('load_profile = "training-job"', 'load_profile = "steady"'))
    assert 'load_profile = "steady"' in site.read_text()
    spool = tmp_path / "spool"
    run = twin("run", str(site), "--headless", "--duration", "20", "--spool", str(spool),
               "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    plant_pue = json.loads(run.stdout.strip().splitlines()[-1])["plant_pue"]
    result = twin("report", "--from", str(spool), "--json")
    assert result.returncode == 0, result.stderr
    (month,) = json.loads(result.stdout)["sites"]["aidc-10mw"]
    assert month["pue_category"] == "PUE3 (IT equipment input)"
    assert month["pue"] == pytest.approx(plant_pue, rel=0.005)
    assert month["covered_h"] * 3600 >= 10  # most of the run's 20 s
    # CUE is the grid's carbon factor times the PUE (twin.live.metrics' default factor).
    assert month["cue_kg_per_kwh"] == pytest.approx(0.5703 * month["pue"], rel=0.01)
    text = twin("report", "--from", str(spool), "--html", str(tmp_path / "h.html"))
    assert text.returncode == 0 and "PUE category PUE3" in text.stdout
    assert "<h2>aidc-10mw</h2>" in (tmp_path / "h.html").read_text()


def test_a_folder_without_a_spool_is_refused(tmp_path: Path) -> None:
    result = twin("report", "--from", str(tmp_path))
    assert result.returncode == 2 and "no spool here" in result.stderr
    assert not (tmp_path / "spool.sqlite3").exists()  # and none was created


def test_a_spool_in_use_is_refused_with_a_message(tmp_path: Path) -> None:
    with Spool(tmp_path):
        result = twin("report", "--from", str(tmp_path))
    assert result.returncode == 2 and "in use" in result.stderr
