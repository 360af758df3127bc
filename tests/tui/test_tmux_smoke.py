"""Smoke test in a real terminal: ``twin run`` under tmux, keys sent, pane captured."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from twin.paths import data_path

TWIN = Path(sys.executable).with_name("twin")
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


def tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], check=True, capture_output=True, text=True, timeout=30
    ).stdout


def wait_pane(session: str, *needles: str, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    pane = ""
    while time.monotonic() < deadline:
        pane = tmux("capture-pane", "-p", "-t", session)
        if all(n in pane for n in needles):
            return pane
        time.sleep(0.2)
    raise AssertionError(f"{needles} not on the pane after {timeout} s:\n{pane}")


def test_twin_run_in_tmux(tmp_path: Path) -> None:
    session = f"twin-smoke-{uuid.uuid4().hex[:8]}"
    spool = tmp_path / "spool"
    rc = tmp_path / "rc"
    log = tmp_path / "run.log"
    # twin run shows the dashboard because stdout is a terminal; the scenario trips
    # every CDU pump of hall-1 ten plant seconds in, so the alarm list has rows, and
    # takes one device offline, so the collector has an error to log (to the file,
    # never over the dashboard).
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        (data_path("sim", "scenarios") / "hall-1-cooling-lost.toml").read_text()
        + '\n[[device_faults]]\nat_s = 2\ndevice = "hall-2-cdu1"\nkind = "offline"\n'
    )
    command = (
        f"TERM=xterm-256color {TWIN} run aidc-10mw --speed 2 --scenario {scenario} "
        f"--spool {spool} --log {log}; echo $? > {rc}; sleep 30"
    )
    tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "45", command)
    try:
        # The first frame is the start-up screen, drawn while the site is still being
        # built (bench/first_frame.py times it): not a blank terminal.
        pane = wait_pane(session, "twin ·")
        assert "starting" in pane and "Starting aidc-10mw" in pane, pane
        pane = wait_pane(session, "PUE", "Overview")
        assert "aidc-10mw" in pane
        tmux("send-keys", "-t", session, "5")
        pane = wait_pane(session, "Priority", "State", "hall-1-cdu1.status.pump1_fault")
        deadline = time.monotonic() + 60
        while "hall-2-cdu1" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "the offline device was not logged to the file"
            time.sleep(0.2)
        pane = tmux("capture-pane", "-p", "-t", session)
        assert "ERROR" not in pane and "WARNING" not in pane, pane
        tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 90
        while not rc.exists() or not rc.read_text().strip():
            assert time.monotonic() < deadline, "q did not end twin run"
            time.sleep(0.2)
        assert rc.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=30)
    # A clean shutdown flushed every sample into the spool, which is consistent.
    from twin.sinks.spool import Spool

    with Spool(spool) as store:
        assert store.count() > 100
