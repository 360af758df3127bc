"""``twin monitor`` on a terminal shows the dashboard (tmux, real gear stand-in: twin sim)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from test_tmux_smoke import TWIN, tmux, wait_pane

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


def _free_port_block(count: int) -> int:
    """A first port with ``count`` free ports after it (the sim's gateways)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count >= 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
    raise RuntimeError("no block of free ports")


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
    session = f"twin-monitor-{uuid.uuid4().hex[:8]}"
    rc = tmp_path / "rc"
    command = (
        f"TERM=xterm-256color {TWIN} monitor {registry} --spool {tmp_path / 'spool'}; "
        f"echo $? > {rc}; sleep 30"
    )
    try:
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
