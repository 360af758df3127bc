"""``--metrics ADDR:PORT``: the live state as OpenMetrics for Prometheus to scrape.

A custom ``prometheus_client`` collector reads the live state when Prometheus
scrapes: nothing is updated per tick, a scrape sees the latest value of every
point, the latest site metrics (:attr:`SiteMetrics.last`) and the collector's own
counters at that moment. Served by ``prometheus_client``'s HTTP server on a thread
of its own; it answers ``text/plain`` 0.0.4 or OpenMetrics 1.0 as the scraper's
``Accept`` header asks (Prometheus asks for OpenMetrics).

Metric families (every one carries ``site``)::

    twin_point_value{device,point,unit,equipment,hall}  every point's latest good value
    twin_points{quality}                 points good / stale / bad / never_read
    twin_pue{window}                     energy PUE over 1m (the headline), 15min, 1h, 24h
    twin_pue_instant                     ratio of the latest powers
    twin_pue_by_category{category}       instant PUE per metering category (PUE1/2/3)
    twin_ppue{subsystem}                 pPUE of cooling / power delivery
    twin_wue_l_per_kwh, twin_cue_kg_per_kwh
    twin_it_power_kw, twin_facility_power_kw
    twin_metric_quality{metric}          0 good, 1 stale, 2 bad (a bad metric has no value)
    twin_system_{load,capacity,headroom}_kw{system}  UPS / HVDC groups
    twin_redundancy{system,twin_redundancy}  state set: 2N, N+1, N, overloaded, unknown
    twin_cdu_heat_kw{device}, twin_cdu_headroom_kw{device}
    twin_battery_runtime_min{device}
    twin_device_up{device}               1 while the device answers
    twin_device_poll_seconds{device}     duration of its last poll
    twin_device_polls_total{device}, twin_device_errors_total{device,kind}
    twin_device_reconnects_total{device}, twin_device_missed_polls_total{device}
    twin_samples_total                   values received by the live state
    twin_alarms{state,priority}          alarms not normal, by state and priority
    twin_alarm_flood                     1 during an alarm flood (>10 per 10 min)
    twin_sink_pending_records            spool backlog (records not yet acknowledged)
    twin_sink_{sent,rejected,retries}_total, twin_sink_state{twin_sink_state}
    twin_sink_{refused,dropped}_total    lost at the spool's quota (reject, drop_oldest)
    twin_scrape_render_seconds           how long the previous scrape took to render

Cardinality is bounded by the registry, never by the data: one
``twin_point_value`` series per point (``point`` is the point's name within its
device, ``t_supply_c``; ``unit``, ``equipment`` and ``hall`` follow from the
point, so they add no series), a few series per device, a handful per UPS group
and per CDU. ``aidc-100mw`` (25,404 points, 2,953 devices) gives about 45,000
series. Only good values are exported: a stale or bad point's series is absent
(Prometheus marks it stale) and counted in ``twin_points``, so an old value is
never read as a fresh one.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from twin.live.state import LiveState
from twin.points.quality import Quality

REDUNDANCY_LEVELS = ("2N", "N+1", "N", "overloaded", "unknown")
SINK_STATES = ("idle", "sending", "retrying", "stopped", "embedded", "closed")  # sinks.sink


def address(text: str) -> tuple[str, int]:
    """``ADDR:PORT`` (``127.0.0.1:9464``, ``:9464`` for every interface, port 0 a free one).

    >>> address("127.0.0.1:9464")
    ('127.0.0.1', 9464)
    >>> address(":0")
    ('0.0.0.0', 0)
    """
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not ADDR:PORT (e.g. 127.0.0.1:9464)")
    return host.strip("[]") or "0.0.0.0", int(port)


def add_metrics_option(parser: argparse.ArgumentParser) -> None:
    """Declare ``--metrics ADDR:PORT`` on a command's parser."""
    parser.add_argument(
        "--metrics",
        type=address,
        metavar="ADDR:PORT",
        help="serve Prometheus / OpenMetrics at http://ADDR:PORT/metrics (every point, the "
        "site's PUE, the collector's health; docs/prometheus.md). Port 0 takes a free one, "
        "shown in the status line and the JSON",
    )


class TwinCollector:
    """A ``prometheus_client`` collector over the live layer, read at scrape time.

    Parameters
    ----------
    state : LiveState
        The points.
    site : str
        The ``site`` label.
    metrics : SiteMetrics or None
        Its :attr:`last` snapshot gives the site metrics.
    alarms : AlarmEngine or None
        Alarm counts.
    devices : callable or None
        Returns the collector's devices (objects with ``name``, ``down``, ``stats``).
    sink : Sink or None
        Its ``status`` gives the spool backlog and the sink's state.
    lock : lock or None
        Held while alarms and metrics are read (the thread that ticks them holds it).
    """

    def __init__(
        self,
        state: LiveState,
        site: str,
        metrics: Any = None,
        alarms: Any = None,
        devices: Callable[[], Iterable[Any]] | None = None,
        sink: Any = None,
        lock: Any = None,
    ) -> None:
        self.state = state
        self.site = site
        self.metrics = metrics
        self.alarms = alarms
        self.devices = devices
        self.sink = sink
        self.lock = lock if lock is not None else contextlib.nullcontext()
        self.render_s = 0.0
        # The labels of every point never change: worked out once.
        self._point_labels = []
        for point in state.points:
            prefix = point.device + "."
            name = point.name[len(prefix) :] if point.name.startswith(prefix) else point.name
            self._point_labels.append(
                {
                    "site": site,
                    "device": point.device,
                    "point": name.replace(".", "_"),  # as the InfluxDB field is named
                    "unit": point.unit,
                    "equipment": point.equipment,
                    "hall": point.hall,
                }
            )

    def describe(self) -> list:
        return []  # registered without a probe: collect() runs only at scrape time

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        started = time.perf_counter()
        yield from self._points()
        with self.lock:
            snapshot = getattr(self.metrics, "last", None)
            if snapshot is not None:
                yield from self._site(snapshot)
            if self.alarms is not None:
                yield from self._alarms()
        if self.devices is not None:
            yield from self._devices(list(self.devices()))
        if self.sink is not None:
            yield from self._sink(self.sink.status)
        render = GaugeMetricFamily(
            "twin_scrape_render_seconds", "time the previous scrape took to render", labels=["site"]
        )
        render.add_metric([self.site], self.render_s)
        yield render
        self.render_s = time.perf_counter() - started

    # ----------------------------------------------------------- families

    def _points(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily
        from prometheus_client.samples import Sample

        state = self.state
        quality = state.qualities()
        good = np.flatnonzero((quality == Quality.GOOD) & np.isfinite(state.value))
        values = state.value[good].tolist()
        labels = self._point_labels
        family = GaugeMetricFamily(
            "twin_point_value", "latest good value of each registry point (absent unless good)"
        )
        family.samples = [
            Sample("twin_point_value", labels[i], v, None, None)
            for i, v in zip(good.tolist(), values, strict=True)
        ]
        yield family
        counts = GaugeMetricFamily(
            "twin_points", "registry points by quality", labels=["site", "quality"]
        )
        for name, count in state.counts().items():
            counts.add_metric([self.site, name], count)
        yield counts
        samples = GaugeMetricFamily(
            "twin_samples", "values received by the live state", labels=["site"]
        )
        samples.add_metric([self.site], state.samples)
        yield samples

    def _site(self, snap: Any) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily, StateSetMetricFamily

        site = self.site

        def gauge(name: str, text: str, values: dict[tuple[str, ...], Any], labels=()) -> Any:  # type: ignore[no-untyped-def]
            family = GaugeMetricFamily(name, text, labels=["site", *labels])
            for key, value in values.items():
                number = getattr(value, "value", value)
                good = getattr(value, "quality", Quality.GOOD) != Quality.BAD
                if number is not None and good and np.isfinite(number):
                    family.add_metric([site, *key], float(number))
            return family

        pue = {("1m",): snap.pue} | {(k,): v for k, v in snap.pue_energy.items()}
        yield gauge("twin_pue", "energy-based PUE over a trailing window", pue, ["window"])
        yield gauge("twin_pue_instant", "PUE of the latest powers", {(): snap.pue_instant})
        by_category = {(k,): v for k, v in snap.pue_by_category.items()}
        yield gauge(
            "twin_pue_by_category", "instant PUE per metering category", by_category, ["category"]
        )
        ppue = {("cooling",): snap.ppue_cooling, ("power",): snap.ppue_power}
        yield gauge("twin_ppue", "partial PUE of a subsystem", ppue, ["subsystem"])
        yield gauge("twin_wue_l_per_kwh", "water usage effectiveness", {(): snap.wue_l_per_kwh})
        yield gauge("twin_cue_kg_per_kwh", "carbon usage effectiveness", {(): snap.cue_kg_per_kwh})
        yield gauge("twin_it_power_kw", "IT power", {(): snap.it_kw})
        yield gauge("twin_facility_power_kw", "facility input power", {(): snap.facility_kw})
        quality = GaugeMetricFamily(
            "twin_metric_quality", "0 good, 1 stale, 2 bad", labels=["site", "metric"]
        )
        for name in ("pue", "pue_instant", "it_kw", "facility_kw", "wue_l_per_kwh"):
            quality.add_metric([site, name], int(getattr(snap, name).quality))
        yield quality
        systems = snap.systems
        for field in ("load", "capacity", "headroom"):
            values = {(name,): s[f"{field}_kw"] for name, s in systems.items()}
            yield gauge(f"twin_system_{field}_kw", f"UPS / HVDC group {field}", values, ["system"])
        levels = StateSetMetricFamily(
            "twin_redundancy", "redundancy that holds now", labels=["site", "system"]
        )
        for name, s in systems.items():
            levels.add_metric(
                [site, name], {level: s["redundancy"] == level for level in REDUNDANCY_LEVELS}
            )
        yield levels
        cdus = snap.cdus
        for field in ("heat", "headroom"):
            values = {(name,): c[f"{field}_kw"] for name, c in cdus.items()}
            yield gauge(f"twin_cdu_{field}_kw", f"CDU {field}", values, ["device"])
        runtime = {(k,): v for k, v in snap.battery_runtime_min.items()}
        text = "battery runtime at present load"
        yield gauge("twin_battery_runtime_min", text, runtime, ["device"])

    def _alarms(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        # Every (state, priority) pair, zeros included: a dashboard's series exist
        # before the first alarm, and there are only 6 states x 4 priorities.
        from twin.live.alarms import PRIORITIES, AlarmState

        states = [s.value for s in AlarmState if s != AlarmState.NORMAL]
        counts = {(s, p): 0 for s in states for p in PRIORITIES}
        for alarm in list(self.alarms.alarms.values()):
            key = (alarm.state.value, alarm.rule.priority)
            if key in counts:
                counts[key] += 1
        family = GaugeMetricFamily(
            "twin_alarms", "alarms not normal, by state and priority",
            labels=["site", "state", "priority"],
        )  # fmt: skip
        for (state, priority), count in counts.items():
            family.add_metric([self.site, state, priority], count)
        yield family
        flood = GaugeMetricFamily("twin_alarm_flood", "1 during an alarm flood", labels=["site"])
        flood.add_metric([self.site], self.alarms.flood()["flood"])
        yield flood

    def _devices(self, devices: list[Any]) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        site = self.site
        labels = ["site", "device"]
        up = GaugeMetricFamily("twin_device_up", "1 while the device answers", labels=labels)
        poll = GaugeMetricFamily(
            "twin_device_poll_seconds", "duration of the device's last poll", labels=labels
        )
        polls = CounterMetricFamily("twin_device_polls", "poll cycles", labels=labels)
        errors = CounterMetricFamily(
            "twin_device_errors", "failed requests", labels=["site", "device", "kind"]
        )
        reconnects = CounterMetricFamily(
            "twin_device_reconnects", "recoveries after a lost link", labels=labels
        )
        missed = CounterMetricFamily(
            "twin_device_missed_polls", "poll cycles started over 1.5 intervals late", labels=labels
        )
        for device in devices:
            stats, key = device.stats, [site, device.name]
            up.add_metric(key, 0.0 if getattr(device, "down", False) else 1.0)
            last = getattr(stats, "last_poll_s", None)
            if last is not None:
                poll.add_metric(key, last)
            polls.add_metric(key, stats.polls)
            errors.add_metric([*key, "exception"], stats.exceptions)
            errors.add_metric([*key, "timeout"], stats.timeouts)
            reconnects.add_metric(key, stats.reconnects)
            missed.add_metric(key, stats.missed_cycles)
        yield from (up, poll, polls, errors, reconnects, missed)

    def _sink(self, status: Any) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            StateSetMetricFamily,
        )

        labels = ["site", "target"]
        key = [self.site, status.target]
        pending = GaugeMetricFamily(
            "twin_sink_pending_records", "records spooled, not yet acknowledged", labels=labels
        )
        pending.add_metric(key, status.pending)
        yield pending
        for name, value in (
            ("sent", status.sent), ("rejected", status.rejected), ("retries", status.retries),
            ("refused", status.refused), ("dropped", status.dropped),
        ):  # fmt: skip
            family = CounterMetricFamily(f"twin_sink_{name}", f"sink records {name}", labels=labels)
            family.add_metric(key, value)
            yield family
        state = str(getattr(status.state, "value", status.state))
        states = StateSetMetricFamily("twin_sink_state", "the sink's state", labels=labels)
        states.add_metric(key, {s: s == state for s in {*SINK_STATES, state}})
        yield states


class MetricsServer:
    """The HTTP endpoint: ``/metrics`` on its own thread until :meth:`close`.

    Bound at once (a port in use is an error before anything else starts); it
    serves an empty page until :meth:`attach` gives it the live layer.
    """

    def __init__(self, where: tuple[str, int]) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        self.collector: TwinCollector | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)  # type: ignore[arg-type]
        self._server, self._thread = start_http_server(
            where[1], addr=where[0], registry=self.registry
        )
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}/metrics"

    def attach(self, state: LiveState, site: str, **sources: Any) -> TwinCollector:
        """Serve ``state`` from now on (``sources`` as for :class:`TwinCollector`)."""
        self.collector = TwinCollector(state, site, **sources)
        return self.collector

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[Any]:
        if self.collector is not None:
            yield from self.collector.collect()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def bind(where: tuple[str, int] | None, command: str) -> MetricsServer | None:
    """The endpoint of ``--metrics`` (None without it); SystemExit 2 if it cannot bind."""
    if where is None:
        return None
    try:
        return MetricsServer(where)
    except OSError as error:
        import sys

        print(
            f"twin {command}: error: --metrics {where[0]}:{where[1]}: {error.strerror or error}",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
