"""``twin monitor`` with a full spool and the database down: the same path as
``twin run`` (SinkFeeder), seen from the command line (issue 11 items 1 and 6)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from twin.sinks.errors import SpoolFullError
from twin.sinks.record import Record
from twin.sinks.spool import Spool

from ..collect.vendorserver import VENDOR_MAP, with_ports


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fill(directory: Path, max_mb: float) -> int:
    """A spool at its quota, as a long outage leaves it."""
    with Spool(directory, max_bytes=int(max_mb * 1024 * 1024), fsync="normal") as spool:
        start = 0
        for size in (500, 1):  # then to the last line that fits
            while True:
                numbers = range(start, start + size)
                chunk = [Record("old", {"device": "d"}, {"v": 1.0}, i) for i in numbers]
                start += size
                try:
                    spool.append(chunk)
                except SpoolFullError:
                    break
        return spool.count()


def test_monitor_with_a_full_spool_and_the_database_down(tmp_path: Path) -> None:
    registry = tmp_path / "plant-room.csv"
    gear = _closed_port()
    registry.write_text(with_ports(VENDOR_MAP.read_text(), {u: gear for u in range(1, 6)}))
    spool = tmp_path / "spool"
    stored = _fill(spool, 0.25)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "monitor", str(registry), "--headless", "--json",
         "--duration", "5", "--status-every", "2",
         "--influx-v1", f"http://127.0.0.1:{_closed_port()}", "--db", "twin",
         "--spool", str(spool), "--spool-max-mb", "0.25"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 1, result.stderr[-3000:]  # no gear answered: its own exit
    summary = json.loads(result.stdout)
    assert summary["spool_full"] and summary["samples_refused"] > 0
    assert summary["samples_spooled"] == 0 and summary["samples_written"] == 0
    rules = {a["rule"] for a in summary["active_alarms"]}
    assert {"spool-full", "sink-down"} <= rules
    assert "SPOOL FULL" in result.stderr  # the status lines say so
    assert "database unreachable" in result.stderr and "leaving" in result.stderr
    with Spool(spool) as kept:
        assert kept.count() == stored  # nothing lost, nothing added
    # 5 s of monitoring plus start-up; the shutdown used to wait 30 s on the flush
    assert elapsed < 25.0, f"{elapsed:.1f} s"
