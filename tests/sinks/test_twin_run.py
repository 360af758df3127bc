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

import pytest

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


# -- the database down, the spool full: monitoring goes on (issue 11 items 1, 2, 6) ------


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_timed(command: list[str], env: dict | None = None) -> tuple[int, dict, list, float]:
    """Run ``twin``; (exit status, JSON summary, stderr lines with their arrival time
    [monotonic s], exit time)."""
    import threading
    import time

    child = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", *command],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    lines: list[tuple[float, str]] = []

    def read() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            lines.append((time.monotonic(), line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert child.stdout is not None
    out = child.stdout.read()  # not communicate(): it would read stderr too
    child.wait(timeout=300)
    ended = time.monotonic()
    reader.join(30)
    summary = json.loads(out) if out.strip() else {}
    return child.returncode, summary, lines, ended


@pytest.mark.parametrize("policy", ["reject", "drop_oldest"])
def test_twin_run_with_the_database_down_and_the_spool_full_keeps_monitoring(
    influx, tmp_path: Path, policy: str
) -> None:
    """Issue 11 items 1, 2, 6: ``--spool-max-mb`` small, the database unreachable.

    It used to die with a SpoolFullError traceback (reject), drop without saying so
    in the summary or an alarm (drop_oldest), and take ~40 s to shut down with
    ``points_good 0`` in the summary.
    """
    from twin.sinks.spool import Spool

    spool = tmp_path / "spool"
    status, summary, lines, ended = _run_timed(
        [
            "run", "--headless", "--json", "--duration", "15", "--status-every", "2",
            "--influx-v1", f"http://127.0.0.1:{_closed_port()}", "--db", "twin",
            "--spool", str(spool), "--spool-max-mb", "0.5", "--spool-on-full", policy,
        ]
    )  # fmt: skip
    text = "".join(line for _, line in lines)
    assert status == 0, text[-3000:]
    assert "Traceback" not in text
    # the summary was taken while the collector ran
    assert summary["points_good"] == summary["points_total"] > 0
    # nothing lost silently: what was spooled is in the spool, what was not is counted
    with Spool(spool) as kept:
        in_spool = kept.count()
    assert summary["samples_written"] == 0
    assert summary["samples_pending"] == in_spool
    status_lines = [line for _, line in lines if line.startswith("plant t=")]
    if policy == "reject":
        assert summary["spool_full"] and summary["samples_refused"] > 0
        assert in_spool == summary["samples_spooled"]
        assert "spool-full" in summary["alarms"]
        assert any("SPOOL FULL" in line for line in status_lines)
    else:
        assert summary["samples_dropped"] > 0 and summary["samples_refused"] == 0
        assert in_spool == summary["samples_spooled"] - summary["samples_dropped"]
        assert "spool-dropping" in summary["alarms"]
        assert any("dropped" in line for line in status_lines)
        assert text.count("oldest lines") == 1  # logged once, not once per tick
    assert "sink-down" in summary["alarms"]
    # shutdown is bounded and says why it leaves lines behind
    assert "database unreachable" in text and "leaving" in text
    last_status = max(t for t, line in lines if line.startswith("plant t="))
    assert ended - last_status < 12.0, f"{ended - last_status:.1f} s from the last status to exit"
    # the database back: `twin replay` stores exactly what the spool kept
    database = f"spool_full_{policy}"
    influx.query(f'CREATE DATABASE "{database}"')
    env = {**os.environ, "INFLUX_USERNAME": influx.admin[0], "INFLUX_PASSWORD": influx.admin[1]}
    replayed = subprocess.run(
        [sys.executable, "-m", "twin.cli", "replay", str(spool),
         "--influx-v1", influx.url, "--db", database],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    counted = influx.query('SELECT count("quality") FROM /.*/', database=database)
    stored = sum(
        values[1] for result in counted for series in result.get("series", [])
        for values in series["values"]
    )  # fmt: skip
    assert stored == in_spool == summary["samples_pending"]


def test_twin_run_into_a_database_that_does_not_exist_is_one_message_exit_2(
    influx, tmp_path: Path
) -> None:
    """Issue 18 item 14: a clear log line, then a WriteRejected traceback and exit 1.

    Now: stopped at once (running on cannot help), one error naming the database
    and where the samples are, exit 2, every sample kept in the spool.
    """
    from twin.sinks.spool import Spool

    env = {**os.environ, "INFLUX_USERNAME": influx.admin[0], "INFLUX_PASSWORD": influx.admin[1]}
    spool = tmp_path / "spool"
    status, summary, lines, _ = _run_timed(
        [
            "run", "--headless", "--json", "--duration", "120",
            "--influx-v1", influx.url, "--db", "nosuchdb", "--spool", str(spool),
        ],
        env=env,
    )  # fmt: skip
    text = "".join(line for _, line in lines)
    assert status == 2, text[-3000:]
    assert "Traceback" not in text
    errors = [line for _, line in lines if line.startswith("twin run: error:")]
    assert len(errors) == 1 and "create it first" in errors[0] and str(spool) in errors[0]
    # the sink's log line when it stopped, and the conclusion: nothing repeated
    assert text.count("create it first") == 2
    assert summary["plant_seconds"] < 60  # it stopped, it did not run the 120 s
    with Spool(spool) as kept:
        assert kept.count() == summary["samples_spooled"] == summary["samples_pending"] > 0
