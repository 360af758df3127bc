"""``twin monitor REGISTRY --twin SITE``: the shadow plant beside the collector of real
gear (here ``twin sim`` over Modbus TCP in its own process), on the wall clock in the
site's time zone; its coverage, health and findings in the JSON summary."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

GATEWAYS = 4  # aidc-10mw's Modbus gateways: consecutive ports from the first


def _free_base(count: int) -> int:
    """A first port with ``count`` free ports from it (tried, not assumed)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        try:
            held = []
            for port in range(base, base + count):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no run of free ports")


def twin(*args: str, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "twin.cli", *args], capture_output=True,
                          text=True, timeout=kw.pop("timeout", 300), **kw)  # fmt: skip


def test_monitor_with_the_twin_models_real_gear_and_reports_its_figures(tmp_path: Path) -> None:
    base = _free_base(GATEWAYS)
    registry = tmp_path / "aidc-10mw.csv"
    points = twin("points", "aidc-10mw", "--modbus-port", str(base), "--no-opcua")
    assert points.returncode == 0, points.stderr
    registry.write_text(points.stdout)
    sim = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "sim", "aidc-10mw", "--modbus-port", str(base),
         "--no-opcua", "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = sim.stdout.readline()  # type: ignore[union-attr]
            assert line, "twin sim aidc-10mw ended before serving"
            if re.match(r"site aidc-10mw:", line):
                break
        run = twin("monitor", str(registry), "--twin", "aidc-10mw", "--headless", "--json",
                   "--duration", "45", "--no-store", "--twin-learn", "10",
                   "--twin-persist", "10", timeout=400)  # fmt: skip
    finally:
        sim.terminate()
        sim.wait(timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    shadow = summary["twin"]
    assert shadow["coverage"]["fraction"] > 0.95, shadow["coverage"]
    assert shadow["tick_failures"] == 0 and shadow["ticks"] >= 20, shadow
    assert shadow["bands"] == "learned"
    # the wall clock in Beijing's standard time: a plant time within this year
    assert 0 <= shadow["start_s"] < 366 * 86400
    assert shadow["health"]["facility_power"]["samples"] >= 10


def test_monitor_refuses_an_unknown_twin_site_before_connecting(tmp_path: Path) -> None:
    run = twin("monitor", "configs/points/aidc-10mw.csv", "--twin", "no-such-site",
               "--headless", "--duration", "5", "--no-store",
               cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "no-such-site" in run.stderr and "Traceback" not in run.stderr
