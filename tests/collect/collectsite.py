"""Helpers of the collector's loopback tests: the served site and its registry CSV."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from twin.devices.registry import rows, write_csv
from twin.devices.runner import Options

from ..devices.simthread import SimThread  # the devices' test harness: a sim on its own loop


@dataclass
class Served:
    sim: SimThread
    registry_path: Path


def registry_csv(sim: SimThread, host: str = "127.0.0.1") -> str:
    inventory = sim.sim.inventory
    assert inventory is not None
    ports = [sim.port(i) for i in range(len(inventory.gateways))]
    out = io.StringIO()
    write_csv(rows(inventory, host, ports), out)
    return out.getvalue()


async def until(condition: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    """Wait for a condition with a generous deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """aidc-10mw served on free loopback ports (Modbus and OPC UA), with its registry CSV.

    Import it into a test module (``from .collectsite import served``); there is no
    conftest here so that pytest's doctest collection of ``tests/`` stays unambiguous.
    """
    state = tmp_path_factory.mktemp("state")
    options = Options(modbus_port=0, opcua_port=0, state_dir=state)
    with SimThread("aidc-10mw", options) as sim:
        sim.step()
        path = tmp_path_factory.mktemp("registry") / "aidc-10mw.csv"
        path.write_text(registry_csv(sim))
        yield Served(sim, path)
