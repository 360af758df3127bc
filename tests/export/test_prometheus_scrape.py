"""A real Prometheus scrapes ``twin run --metrics``; its query API returns the
site's PUE and a chosen point equal to the live values the endpoint served."""

from __future__ import annotations

import time

from tests.sinks.sinkservers import wait_for

from .conftest import SITE
from .stack import sample_value, selector

CHOSEN = [
    ("twin_pue", {"site": SITE, "window": "1m"}),
    ("twin_point_value", {"site": SITE, "device": "site-meter", "point": "facility_power_kw"}),
]


def test_prometheus_holds_the_live_values(stack) -> None:
    # What the endpoint serves, seen by the test at ~0.3 s intervals for 20 s.
    seen: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in CHOSEN}
    end = time.time() + 20.0
    while time.time() < end:
        page = stack.twin.scrape()
        now = time.time()
        for name, labels in CHOSEN:
            value = sample_value(page, name, labels)
            if value is not None:
                seen[name].append((now, value))
        time.sleep(0.3)

    for name, labels in CHOSEN:
        assert len(seen[name]) > 20, (name, seen[name])
        assert len({v for _, v in seen[name]}) > 1, "the live value should move: a real test"
        query = f"{selector(name, labels)}[40s]"
        (series,) = wait_for(lambda q=query: stack.prometheus.query(q), 60, query)
        assert series["metric"]["site"] == SITE
        # Prometheus' samples from well inside the window the test watched.
        first, last = seen[name][0][0] + 3.0, seen[name][-1][0] - 3.0
        samples = [(float(t), float(v)) for t, v in series["values"]]
        samples = [(t, v) for t, v in samples if first <= t <= last]
        assert len(samples) >= 5, series["values"]
        # Each sample Prometheus stored is exactly a value the endpoint served around
        # its scrape (the value changes once a tick; exact equality, not a tolerance).
        for t, v in samples:
            near = {value for when, value in seen[name] if abs(when - t) <= 3.0}
            assert v in near, (name, t, v, sorted(near))


def test_health_and_openmetrics(stack) -> None:
    page = stack.twin.scrape()
    assert page.rstrip().endswith("# EOF")  # OpenMetrics, as Prometheus asked
    assert sample_value(page, "twin_points", {"quality": "good"}) > 2000
    assert sample_value(page, "twin_device_up", {"device": "site-meter"}) == 1.0
    assert sample_value(page, "twin_device_polls_total", {"device": "site-meter"}) > 0
    assert sample_value(page, "twin_device_poll_seconds", {"device": "site-meter"}) > 0
    assert sample_value(page, "twin_sink_pending_records", {"site": SITE}) is not None
    (up,) = stack.prometheus.query('up{job="twin"}')
    assert up["value"][1] == "1"
    assert stack.prometheus.target_health() == "up"
    # Bounded cardinality: one point series per good point, nothing per sample.
    (points,) = stack.prometheus.query(f'count(twin_point_value{{site="{SITE}"}})')
    (good,) = stack.prometheus.query(f'twin_points{{site="{SITE}",quality="good"}}')
    (total,) = stack.prometheus.query(f'sum(twin_points{{site="{SITE}"}})')
    assert float(points["value"][1]) <= float(total["value"][1])  # the registry's points
    assert abs(float(points["value"][1]) - float(good["value"][1])) < 50
