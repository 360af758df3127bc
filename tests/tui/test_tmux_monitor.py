"""``twin monitor`` on a terminal shows the dashboard (tmux, real gear stand-in: twin sim)."""

from __future__ import annotations

import csv
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from .test_tmux_smoke import TWIN, tmux, wait_pane

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


def _free_port_block(count: int) -> int:
    """A first port with ``count`` free ports after it (the sim's gateways), chosen
    below Linux's ephemeral range so no client socket can take one meanwhile."""
    for first in range(20000, 32000 - count, 97):
        try:
            for port in range(first, first + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
    raise RuntimeError("no block of free ports")


def _wait_listening(port: int, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(1.0)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"twin sim did not listen on {port} within {timeout} s")


def test_monitor_shows_the_dashboard_in_a_terminal(tmp_path: Path) -> None:
    port = _free_port_block(16)
    registry = tmp_path / "site.csv"
    registry.write_text(
        subprocess.run(
            [str(TWIN), "points", "aidc-10mw", "--modbus-port", str(port)],
            capture_output=True, text=True, check=True, timeout=120,
        ).stdout
    )  # fmt: skip
    sim = subprocess.Popen(
        [str(TWIN), "sim", "aidc-10mw", "--modbus-port", str(port), "--no-opcua"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    with registry.open(newline="") as rows:
        ports = sorted({int(row["modbus_port"]) for row in csv.DictReader(rows)})
    assert ports
    session = f"twin-monitor-{uuid.uuid4().hex[:8]}"
    rc = tmp_path / "rc"
    command = (
        f"TERM=xterm-256color {TWIN} monitor {registry} --spool {tmp_path / 'spool'}; "
        f"echo $? > {rc}; sleep 30"
    )
    try:
        for port_used in ports:  # every gateway serves before the monitor starts
            _wait_listening(port_used)
        tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "45", command)
        pane = wait_pane(session, "PUE", "Overview", timeout=120)
        assert "aidc-10mw" in pane
        wait_pane(session, "good 306", timeout=120)  # every device read over the wire
        tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 90
        while not rc.exists() or not rc.read_text().strip():
            assert time.monotonic() < deadline, "q did not end twin monitor"
            time.sleep(0.2)
        assert rc.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=30)
        sim.terminate()
        sim.wait(timeout=60)
