"""One stack for the module: influxd, ``twin run`` writing into it and serving
``/metrics``, and Prometheus scraping that. Real processes (Debian ``influxdb`` and
``prometheus``, installed by ``scripts/test``), free loopback ports, temp dirs.
A missing binary is a failure, not a skip.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sinks.sinkservers import InfluxServer, have, wait_for

from .stack import PrometheusServer, TwinRun

SITE = "aidc-10mw"


@dataclass
class Stack:
    influx: InfluxServer
    prometheus: PrometheusServer
    twin: TwinRun


@contextlib.contextmanager
def running_stack(root: Path, extra: list[str] | None = None) -> Iterator[Stack]:
    """influxd, ``twin run`` into it (plus ``extra`` options), Prometheus scraping it."""
    for binary, package in (("influxd", "influxdb"), ("prometheus", "prometheus")):
        if not have(binary):
            pytest.fail(f"{binary} not found: install the Debian package {package}")
    influx = InfluxServer(root / "influxdb", auth=False)
    influx.start()
    options = ["--influx-v1", influx.url, "--db", influx.database, *(extra or [])]
    twin = TwinRun(root, SITE, options)
    prometheus = PrometheusServer(root / "prometheus", f"127.0.0.1:{twin.metrics_port}")
    prometheus.start()
    try:
        twin.wait_serving()
        wait_for(lambda: prometheus.query('twin_pue{window="1m"}'), 120, "Prometheus to hold a PUE")
        yield Stack(influx, prometheus, twin)
    finally:
        try:
            twin.stop()
        finally:
            prometheus.stop()
            influx.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("export")) as running:
        yield running
