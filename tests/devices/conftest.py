from __future__ import annotations

from collections.abc import Iterator

import pytest

from twin.devices.runner import Options

from .simthread import SimThread


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimThread]:
    """aidc-10mw on free loopback ports, Modbus and OPC UA, stepped by the tests."""
    state = tmp_path_factory.mktemp("state")
    options = Options(modbus_port=0, opcua_port=0, state_dir=state)
    with SimThread("aidc-10mw", options) as sim:
        sim.step()
        yield sim


@pytest.fixture(scope="package")
def served_dry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimThread]:
    """aidc-10mw-dry (dry coolers on the warm-water loop), Modbus and OPC UA, stepped by tests."""
    state = tmp_path_factory.mktemp("state-dry")
    options = Options(modbus_port=0, opcua_port=0, state_dir=state)
    with SimThread("aidc-10mw-dry", options) as sim:
        sim.step()
        yield sim
