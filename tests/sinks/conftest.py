"""Fixtures: one InfluxDB 1.x and one VictoriaMetrics for the whole sinks session.

The servers are real processes (Debian packages ``influxdb`` and
``victoria-metrics``, installed by ``scripts/test``), on free loopback ports with
temporary data directories, stopped at the end. A missing binary is a failure, not
a skip: these tests are the proof that nothing is lost.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .sinkservers import InfluxServer, VictoriaServer, have


def _require(binary: str, package: str) -> None:
    if not have(binary):
        pytest.fail(f"{binary} not found: install the Debian package {package} (scripts/test does)")


@pytest.fixture(scope="session")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """InfluxDB 1.x with auth on, database ``twin``, users admin and reader."""
    _require("influxd", "influxdb")
    server = InfluxServer(tmp_path_factory.mktemp("influxdb"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaServer]:
    """VictoriaMetrics without auth: the v2 write API server."""
    _require("victoria-metrics", "victoria-metrics")
    server = VictoriaServer(tmp_path_factory.mktemp("victoria"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def victoria_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaServer]:
    """VictoriaMetrics with HTTP Basic auth, to get real 401s on the v2 path."""
    _require("victoria-metrics", "victoria-metrics")
    server = VictoriaServer(tmp_path_factory.mktemp("victoria-auth"), auth=("twin", "right"))
    server.start()
    yield server
    server.stop()
