"""``twin run --opcua``: the same gear on OPC UA too, for the user's own client."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time

from asyncua.sync import Client


def test_twin_run_serves_opcua_beside_modbus(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = subprocess.Popen(
        [
            sys.executable, "-m", "twin.cli", "run", "aidc-10mw", "--headless",
            "--opcua", "0", "--status-every", "2", "--spool", str(tmp_path / "spool"),
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in run.stdout],
        daemon=True,  # type: ignore[union-attr]
    ).start()
    try:
        endpoint = None
        status = None
        deadline = time.monotonic() + 240
        while status is None:
            assert time.monotonic() < deadline, "no endpoint and status line from twin run"
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert run.poll() is None, run.stderr.read()  # type: ignore[union-attr]
                continue
            if line.startswith("OPC UA server: "):
                endpoint = line.split(": ", 1)[1].strip()
            elif line.startswith("plant t="):
                status = line
        assert endpoint is not None and endpoint.startswith("opc.tcp://127.0.0.1:"), status
        with Client(endpoint, timeout=30) as client:
            meter = client.get_node("ns=2;s=site-meter.facility_power_kw").read_value()
            it = client.get_node("ns=2;s=site-meter.it_power_kw").read_value()
        # aidc-10mw: 10 MW of IT at most, a PUE between 1 and 1.5 (what the plant holds).
        assert 1_000 < it <= 10_500
        assert it < meter < 1.5 * it
        # SIGTERM stops cleanly.
        run.send_signal(signal.SIGTERM)
        assert run.wait(120) == 0, run.stderr.read()  # type: ignore[union-attr]
    finally:
        if run.poll() is None:
            run.kill()
