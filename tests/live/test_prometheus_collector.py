"""The /metrics collector on a live state: every good point at its value with its
labels, stale and bad points absent (and counted), one page parsed back by
prometheus_client's OpenMetrics parser; ``--metrics`` ADDR:PORT parsing."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from twin.live.alarms import AlarmEngine
from twin.live.metrics import SiteMetrics
from twin.live.prometheus import TwinCollector, address
from twin.live.state import LiveState
from twin.paths import data_path
from twin.points.registry import load_registry


def _page(collector: TwinCollector) -> dict[str, list]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_every_good_point_at_its_value_bad_and_stale_absent() -> None:
    registry = load_registry(data_path("configs", "points") / "aidc-10mw.csv")
    state = LiveState(registry)
    n = len(registry.points)
    now = time.time()
    values = np.random.default_rng(3).uniform(0, 100, n)
    state.update(np.arange(n), values, np.ones(n, bool), now)
    state.update(np.arange(10), np.zeros(10), np.zeros(10, bool), now, "timeout")  # bad
    state.good_ts[10:20] = now - 600.0  # stale
    metrics = SiteMetrics(state)
    metrics.update(now)
    alarms = AlarmEngine([], state, metrics)
    page = _page(TwinCollector(state, "s1", metrics=metrics, alarms=alarms))

    points = page["twin_point_value"]
    assert len(points) == n - 20
    by_key = {(s.labels["device"], s.labels["point"]): s for s in points}
    assert len(by_key) == len(points)  # labels identify a point: no two series alike
    for point in registry.points[20:]:
        prefix = point.device + "."
        name = point.name[len(prefix) :].replace(".", "_")
        sample = by_key[(point.device, name)]
        assert sample.value == values[point.index]
        assert sample.labels["unit"] == point.unit and sample.labels["site"] == "s1"
    counts = {s.labels["quality"]: s.value for s in page["twin_points"]}
    assert counts == {"good": n - 20, "stale": 10, "bad": 10, "never_read": 0}
    assert {s.labels["window"] for s in page.get("twin_pue", [])} <= {"1m", "15min", "1h", "24h"}
    alarm_series = page["twin_alarms"]
    assert len(alarm_series) == 24 and all(s.value == 0 for s in alarm_series)


def test_address() -> None:
    assert address("[::1]:9464") == ("::1", 9464)
    for bad in ("9464", "host:", "host:99999", "a:b"):
        with pytest.raises(argparse.ArgumentTypeError):
            address(bad)


@given(st.text(max_size=40))
def test_address_is_an_address_or_a_clear_error(text: str) -> None:
    try:
        host, port = address(text)
    except argparse.ArgumentTypeError as error:
        assert "ADDR:PORT" in str(error)
    else:
        assert 0 <= port <= 65535 and isinstance(host, str)
