"""End to end: `twin run --headless` against a real InfluxDB (issue 7's proof).

The whole chain runs in a real process: plant → simulated Modbus gear on loopback →
collector → live metrics and alarms → spool → InfluxDB 1.x. A scenario trips every
CDU pump of hall-1 ten seconds in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from twin.paths import data_path


def _steady_site(tmp_path: Path) -> Path:
    # A steady load: PUE then changes only with the plant's slow dynamics, so the
    # PUE derived from meters read a moment apart is the plant's own to float32.
    text = (data_path("configs", "sites") / "aidc-10mw.toml").read_text()
    path = tmp_path / "aidc-10mw-steady.toml"
    path.write_text(text.replace('load_profile = "training-job"', 'load_profile = "steady"'))
    return path


DATABASE = "twin_run_e2e"  # its own database: the session's other tests share "twin"


def _query(influx, statement: str) -> list[dict]:
    rows = []
    for result in influx.query(statement, database=DATABASE):
        for series in result.get("series", []):
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                row.update(series.get("tags", {}))
                row["_measurement"] = series["name"]
                rows.append(row)
    return rows


def test_twin_run_headless_into_influxdb(influx, tmp_path: Path) -> None:
    influx.query(f'CREATE DATABASE "{DATABASE}"')
    env = {
        **os.environ,
        "INFLUX_USERNAME": influx.admin[0],
        "INFLUX_PASSWORD": influx.admin[1],
    }
    result = subprocess.run(
        [
            sys.executable, "-m", "twin.cli", "run", str(_steady_site(tmp_path)),
            "--headless", "--json", "--duration", "100", "--speed", "4",
            "--scenario", "hall-1-cooling-lost",
            "--influx-v1", influx.url, "--db", DATABASE,
            "--spool", str(tmp_path / "spool"),
        ],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)

    # Zero samples lost between collector and database: everything spooled was
    # acknowledged, and the database holds exactly that many lines.
    assert summary["samples_pending"] == 0
    assert summary["simulation_exit_code"] == 0  # the simulation process closed cleanly
    assert summary["samples_written"] == summary["samples_spooled"] > 1000
    counted = _query(influx, 'SELECT count("quality") FROM /.*/')
    assert sum(row["count"] for row in counted) == summary["samples_written"]

    # The PUE stored is the PUE measured (over the last minute), and the ratio of the
    # last powers read is the plant's own within metering resolution (float32
    # registers: ~1e-7 relative per meter).
    (last,) = _query(influx, 'SELECT last("pue") FROM "site"')
    assert last["last"] == summary["pue"]
    assert summary["plant_pue"] is not None
    instant = summary["pue_instant"]
    assert abs(instant - summary["plant_pue"]) / summary["plant_pue"] < 1e-5
    assert 1.0 < summary["pue"] < 1.3

    # The pump trip is an alarm, and the hall's cold plates heat in the stored data.
    assert "cdu-pump-fault" in summary["alarms"]
    assert "cold-plate-high" in summary["alarms"]
    hall_1 = _query(
        influx, 'SELECT "t_cold_plate_c" FROM "gpu-rack" WHERE device = \'hall-1-gpu001\''
    )
    hall_2 = _query(
        influx, 'SELECT "t_cold_plate_c" FROM "gpu-rack" WHERE device = \'hall-2-gpu001\''
    )
    assert len(hall_1) > 10 and len(hall_2) > 10
    first, peak = hall_1[0]["t_cold_plate_c"], max(r["t_cold_plate_c"] for r in hall_1)
    assert peak > first + 20.0, (first, peak)  # about 0.4 K/s once the flow is gone
    spread_2 = [r["t_cold_plate_c"] for r in hall_2]
    assert max(spread_2) - min(spread_2) < 3.0  # the other hall is unaffected

    # Latency from a value's change in the plant to its arrival in live state:
    # within two poll intervals (1 s each) at the 99th percentile.
    assert summary["latency_ms"]["count"] > 10
    assert summary["latency_ms"]["p99"] <= 2000.0
