"""twin monitor on a registry whose gear is not there: comms alarms, said so, never read."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from .vendorserver import VENDOR_MAP, with_ports


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_monitor_with_no_gear_raises_comms_alarms_and_says_so(tmp_path: Path) -> None:
    registry = tmp_path / "plant-room.csv"
    port = _closed_port()  # the plant room's one gateway, which is not there
    registry.write_text(with_ports(VENDOR_MAP.read_text(), {u: port for u in range(1, 6)}))
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "monitor", str(registry), "--headless",
         "--duration", "6", "--status-every", "2", "--json", "--no-store"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # nothing answered at all
    summary = json.loads(result.stdout)
    points = summary["points"]
    # Never read is not stale: there was never a value to go stale.
    assert points == {"good": 0, "stale": 0, "bad": 0, "never_read": 26}
    lost = summary["comms_lost"]
    assert lost["gateways"] == [f"127.0.0.1:{port}"]
    assert sorted(lost["devices"]) == ["crac1", "crac2", "it", "mains", "ups1"]
    alarms = {a["rule"]: a for a in summary["active_alarms"]}
    gateway = alarms["gateway-comms-loss"]
    assert gateway["priority"] == "high" and gateway["first_out"] is None
    assert gateway["message"].startswith(f"Gateway 127.0.0.1:{port} not answering: 5 of 5")
    devices = [a for a in summary["active_alarms"] if a["rule"] == "comms-loss"]
    assert len(devices) == 5
    assert all(a["first_out"] == f"gateway-comms-loss:127.0.0.1:{port}" for a in devices)
    assert all("it has never answered" in a["message"] for a in devices)
    assert "comms lost: gateway" in result.stderr  # the status lines say so
    assert "never read 26" in result.stderr
    assert "no device answered" in result.stderr
