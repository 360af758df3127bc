"""aidc-10mw served on free loopback ports, with its point registry as a CSV file."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "devices"))

from simthread import SimThread  # the devices' test harness: a sim on its own loop

from twin.devices.registry import rows, write_csv
from twin.devices.runner import Options


@dataclass
class Served:
    sim: SimThread
    registry_path: Path


def registry_csv(sim: SimThread) -> str:
    inventory = sim.sim.inventory
    assert inventory is not None
    ports = [sim.port(i) for i in range(len(inventory.gateways))]
    out = io.StringIO()
    write_csv(rows(inventory, "127.0.0.1", ports), out)
    return out.getvalue()


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    state = tmp_path_factory.mktemp("state")
    options = Options(modbus_port=0, opcua_port=0, state_dir=state)
    with SimThread("aidc-10mw", options) as sim:
        sim.step()
        path = tmp_path_factory.mktemp("registry") / "aidc-10mw.csv"
        path.write_text(registry_csv(sim))
        yield Served(sim, path)
