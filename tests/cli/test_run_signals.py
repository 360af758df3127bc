"""SIGTERM to twin run's whole process group (systemd, ``timeout``, a container stop).

The simulation process gets the signal with its parent: both stop cleanly, the
summary is printed, the spool is consistent, and nothing is logged as an error.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from twin.sinks.spool import Spool


def test_sigterm_to_the_group_is_a_clean_stop(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    run = subprocess.Popen(
        [
            sys.executable, "-m", "twin.cli", "run", "aidc-10mw", "--headless", "--json",
            "--status-every", "1", "--spool", str(spool),
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while True:  # the first status line: the twin is running
            assert time.monotonic() < deadline, "no status line"
            line = run.stderr.readline()  # type: ignore[union-attr]
            assert line, "twin run ended before its first status line"
            if line.startswith("plant t="):
                break
        os.killpg(run.pid, signal.SIGTERM)
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 0, err
    assert "ERROR" not in err and "Traceback" not in err, err
    summary = json.loads(out)
    assert summary["simulation_exit_code"] == 0  # closed its servers, not killed by the signal
    assert summary["points_good"] == summary["points_total"] > 2000
    assert summary["bad_points"] == []  # listed by name, row and reason when there are any
    with Spool(spool) as store:
        assert store.count() == summary["samples_spooled"] > 0
