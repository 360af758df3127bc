"""``--prefer opcua`` reads OPC UA, or says why it cannot (issue 18 item 8).

A registry from ``twin points`` carried node ids but no ``opcua_endpoint``, so the
collector read every row over Modbus while the operator had asked for OPC UA, and
nothing said so. ``twin points`` now writes the endpoint ``twin sim`` serves; a
registry without one is refused under ``--prefer opcua``, naming the column and rows;
and the monitor's first line says how many devices each protocol reads.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def twin(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def endpoints_of(printed: str) -> set[str]:
    return {row["opcua_endpoint"] for row in csv.DictReader(io.StringIO(printed))}


def test_twin_points_writes_the_opcua_endpoint_it_knows() -> None:
    given = twin("points", "plant-room", "--opcua-port", "4841")
    assert given.returncode == 0, given.stderr
    assert endpoints_of(given.stdout) == {"opc.tcp://127.0.0.1:4841/twin/"}
    default = twin("points", "plant-room", "--host", "10.0.0.7")
    assert endpoints_of(default.stdout) == {"opc.tcp://10.0.0.7:4840/twin/"}  # twin sim's
    for unknown in (["--no-opcua"], ["--opcua-port", "0"]):
        printed = twin("points", "plant-room", *unknown)
        assert endpoints_of(printed.stdout) == {""}, unknown


def test_prefer_opcua_refuses_rows_with_no_endpoint(tmp_path: Path) -> None:
    registry = tmp_path / "plant-room.csv"
    registry.write_text(twin("points", "plant-room", "--no-opcua").stdout)
    refused = twin("monitor", str(registry), "--prefer", "opcua", "--headless",
                   "--duration", "5", "--no-store")  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    message = refused.stderr.strip()
    assert "plant-room.csv" in message and "'opcua_endpoint'" in message, message
    assert re.search(r"rows 2, 3, 4, 5, 6 … \(\d+ rows\)", message), message
    assert "Traceback" not in refused.stderr


@pytest.fixture
def plant_room(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """``twin sim plant-room`` on free ports, Modbus and OPC UA: yields the two ports."""
    sim = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "sim", "plant-room", "--modbus-port", "0",
         "--opcua-port", "0", "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        modbus = opcua = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = sim.stdout.readline()  # type: ignore[union-attr]
            assert line, "twin sim plant-room ended before serving"
            found = re.match(r"modbus-tcp\s+127\.0\.0\.1:(\d+)\s", line)
            modbus = int(found.group(1)) if found else modbus
            found = re.match(r"opc-ua\s+opc\.tcp://127\.0\.0\.1:(\d+)/twin/\s", line)
            opcua = int(found.group(1)) if found else opcua
            if line.startswith("site plant-room:"):
                break
        assert modbus and opcua, "no endpoints printed"
        yield modbus, opcua
    finally:
        sim.terminate()
        sim.wait(timeout=60)


def test_prefer_opcua_reads_the_simulated_plant_room_over_opcua(
    plant_room: tuple[int, int], tmp_path: Path
) -> None:
    modbus, opcua = plant_room
    registry = tmp_path / "plant-room.csv"
    printed = twin("points", "plant-room", "--modbus-port", str(modbus), "--opcua-port", str(opcua))
    registry.write_text(printed.stdout)
    for prefer, expected in (("opcua", (0, 5)), ("modbus", (5, 0))):
        result = twin("monitor", str(registry), "--prefer", prefer, "--headless",
                      "--duration", "8", "--json", "--no-store")  # fmt: skip
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        read = summary["read_with"]
        assert (len(read["modbus"]), len(read["opcua"])) == expected, (prefer, read)
        assert summary["points"]["good"] == sum(summary["points"].values()) > 20, summary
        first = f"reading {expected[0]} devices over Modbus"
        if prefer == "opcua":
            first += f", 5 over OPC UA (opc.tcp://127.0.0.1:{opcua}/twin/)"
        assert first + "\n" in result.stderr, result.stderr
