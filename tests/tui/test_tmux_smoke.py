"""Smoke test in a real terminal: ``twin dashboard`` under tmux, keys sent, pane captured."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

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


def test_dashboard_in_tmux() -> None:
    session = f"twin-smoke-{uuid.uuid4().hex[:8]}"
    command = f"TERM=xterm-256color {TWIN} dashboard aidc-10mw; sleep 30"
    tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "45", command)
    try:
        pane = wait_pane(session, "PUE", "Overview", "trailing")
        assert "aidc-10mw" in pane
        tmux("send-keys", "-t", session, "5")
        pane = wait_pane(session, "Priority", "State", "Message")
        tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 60
        while "Priority" in tmux("capture-pane", "-p", "-t", session):
            assert time.monotonic() < deadline, "q did not quit the dashboard"
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=30)
