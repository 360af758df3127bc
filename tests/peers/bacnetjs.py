"""@bacnet-js/client (npm), a BACnet/IP stack independent of bacpypes3, as a peer.

scripts/test installs it (``npm ci`` in tests/peers/bacnet-js, versions pinned by its
package-lock.json); a test run without it installs it on first use. ``probe.js`` is a
client (Who-Is, ReadPropertyMultiple, WriteProperty, SubscribeCOV).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).parent / "bacnet-js"

# BACnet enumerations the tests name (ASHRAE 135 clause 21)
ANALOG_INPUT, ANALOG_VALUE, BINARY_INPUT = 0, 2, 3
OBJECT_NAME, PRESENT_VALUE, STATUS_FLAGS, UNITS = 77, 85, 111, 117
DEGREES_CELSIUS, KILOWATTS, PERCENT = 62, 48, 98


def ensure_installed() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node and npm are needed (Debian: nodejs, npm)")
    if not (FOLDER / "node_modules" / "@bacnet-js" / "client").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=FOLDER,
            check=True,
            timeout=600,
        )


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def probe(
    request: dict[str, Any],
    once_subscribed: Callable[[], None] | None = None,
    timeout: float = 120,
) -> dict:
    """Run probe.js with ``request``; its JSON answer (see probe.js).

    ``once_subscribed`` runs when the probe says its COV subscriptions are made,
    while it waits for notifications (to change what the devices show).
    """
    ensure_installed()
    process = subprocess.Popen(
        ["node", str(FOLDER / "probe.js"), str(free_udp_port()), json.dumps(request)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=FOLDER,
    )
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.strip() == "SUBSCRIBED" and once_subscribed is not None:
                once_subscribed()
        process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise AssertionError(f"bacnet-js probe failed ({process.returncode}):\n{stderr}\n{lines}")
    answers = [line for line in lines if line.startswith("PROBE-RESULT ")]
    if not answers:
        raise AssertionError(f"bacnet-js probe gave no answer:\n{''.join(lines)}\n{stderr}")
    return json.loads(answers[-1].removeprefix("PROBE-RESULT "))


class PeerDevice:
    """device.js: a BACnet/IP device served by @bacnet-js/client on 127.0.0.1 (see device.js)."""

    def __init__(self, device_id: int = 260001) -> None:
        self.device_id = device_id
        self.port = free_udp_port()
        self.writes: list[dict] = []
        self._process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._listening = threading.Event()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> PeerDevice:
        ensure_installed()
        self._process = subprocess.Popen(
            ["node", str(FOLDER / "device.js"), str(self.port), str(self.device_id)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=FOLDER,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._listening.wait(60):
            self.__exit__()
            raise AssertionError("device.js did not start listening in 60 s")
        return self

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            if line.strip() == "LISTENING":
                self._listening.set()
            elif line.startswith("WROTE "):
                self.writes.append(json.loads(line.removeprefix("WROTE ")))

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            if self._process.stdin is not None:
                self._process.stdin.close()  # device.js exits when its stdin closes
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
            self._process = None
