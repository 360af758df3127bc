"""What a Prometheus scrape of ``--metrics`` costs: ``/metrics`` render time.

    .venv/bin/python bench/metrics.py [SITE] [--scrapes N]

Builds the deterministic live state of SITE (default aidc-100mw: 25,404 points,
2,953 devices) with ``frozen_source``, gives every point a fresh value (a few bad),
then renders the page as Prometheus asks for it (OpenMetrics) through
:class:`twin.live.prometheus.TwinCollector`, which reads the live state at scrape
time. Also the classic text format, and the page's size.

The peer, in the same run on the same values: prometheus-client's own labelled
``Gauge`` holding the same point series, set point by point (the per-tick gauge
updates the collector avoids), then rendered. Medians in ms. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from common import row
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client import generate_latest as text_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from twin.live.prometheus import TwinCollector
from twin.points.quality import Quality
from twin.runtime import frozen_source


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("site", nargs="?", default="aidc-100mw")
    parser.add_argument("--scrapes", type=int, default=15, help="renders measured (median)")
    options = parser.parse_args()
    source = frozen_source(options.site, steps=5)
    state = source.state
    state.stale_after = 1e9  # the values given below stay good for the whole bench
    n = len(state.points)
    rng = np.random.default_rng(0)
    now = time.time()
    state.update(np.arange(n), state.value + rng.normal(0, 0.01, n), rng.random(n) > 0.001, now)
    source.metrics.update(now)
    collector = TwinCollector(state, source.site, metrics=source.metrics, alarms=source.alarms)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)

    peer_registry = CollectorRegistry()
    gauge = Gauge(
        "twin_point_value", "latest good value", ["site", "device", "point", "unit"],
        registry=peer_registry,
    )  # fmt: skip
    children = [
        gauge.labels(source.site, p.device, p.name[len(p.device) + 1 :], p.unit)
        for p in state.points
    ]

    def peer() -> bytes:
        good = state.qualities() == Quality.GOOD
        for child, value, ok in zip(children, state.value.tolist(), good.tolist(), strict=True):
            if ok:
                child.set(value)
        return openmetrics_latest(peer_registry)

    def median_ms(render) -> tuple[float, int]:  # type: ignore[no-untyped-def]
        times, size = [], 0
        for k in range(options.scrapes + 2):
            start = time.perf_counter()
            size = len(render())
            if k >= 2:  # two warm-up renders
                times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e3, size

    ours, size = median_ms(lambda: openmetrics_latest(registry))
    text, _ = median_ms(lambda: text_latest(registry))
    theirs, _ = median_ms(peer)
    series = sum(1 for line in openmetrics_latest(registry).splitlines() if line[:1] != b"#")
    print(f"{options.site}: {n:,} points, {series:,} series, page {size / 1e6:.1f} MB")
    print(f"  /metrics render (OpenMetrics)   {ours:8.1f} ms")
    print(f"  /metrics render (text 0.0.4)    {text:8.1f} ms")
    print(f"  peer: Gauge set + render        {theirs:8.1f} ms")
    row(f"metrics: /metrics render ms, {options.site}", ours, theirs, "< 1x")
    row(f"metrics: /metrics render ms vs 1 s scrape, {options.site}", ours, 1000.0, "< 0.5x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
