"""``twin run``: the whole twin in one command, as a new user meets it.

The composition root (docs/architecture.md §1): the plant steps behind simulated Modbus TCP
gear on loopback, in a process of its own (:mod:`twin.devices.process`); the
collector reads that gear over the sockets through the registry ``twin points``
writes (never the plant's memory); live metrics and alarms are derived from what
was read; every device's sample and the site's metrics go to the sink (the
embedded spool by default, InfluxDB when given); the dashboard shows it when
stdout is a terminal.

``twin dashboard`` is the same composition without the sink and without the
headless mode: the site, its collector and the dashboard.

Headless, ``--json`` prints one summary at the end. Ctrl+C or SIGTERM stop it
cleanly: the sink is flushed and closed (the spool stays consistent), the
collector and the servers close their sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from twin import logs
from twin.argtypes import port_number, positive_float, protocol_list

EXIT_BAD_INPUT = 2
LATENCY_POINT = "site-meter.facility_power_kw"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Declare ``twin run`` on the main parser."""
    from twin.sinks.cli import add_sink_options

    run = sub.add_parser(
        "run",
        help="the whole twin: plant, simulated gear, collector, metrics, alarms, sink, dashboard",
        description="Run a simulated site end to end: the plant behind Modbus TCP devices on "
        "loopback, the collector reading them over the sockets, live PUE and alarms, every "
        "sample to the spool (or InfluxDB), and the dashboard when stdout is a terminal.",
        epilog="Examples:\n  twin run\n  twin run aidc-10mw --headless --duration 60 --json\n"
        "  twin run --speed 10 --scenario cdu-pump-trip --headless\n"
        "  twin run --protocols bacnet,snmp,modbus --headless --duration 120 --json\n"
        "  INFLUX_TOKEN=... twin run --influx http://localhost:8086 --org o --bucket twin",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("site", nargs="?", default="aidc-10mw", help="site name or TOML path")
    run.add_argument("--headless", action="store_true", help="status lines, no dashboard")
    run.add_argument(
        "--duration",
        type=positive_float,
        help="seconds of plant time to run (default: until Ctrl+C)",
    )
    run.add_argument("--json", action="store_true", help="print one JSON summary at the end")
    run.add_argument(
        "--speed", type=positive_float, default=1.0, help="plant seconds per wall second"
    )
    run.add_argument("--scenario", help="scenario name (sim/scenarios) or TOML path")
    run.add_argument(
        "--twin",
        action="store_true",
        help="also run the shadow plant beside the collector: the site's model stepped on "
        "the measured IT power, outdoor air and setpoints, every point modelled; the "
        "JSON summary gets its coverage, GL14 health and residuals (docs/architecture.md)",
    )
    run.add_argument(
        "--twin-learn",
        type=positive_float,
        default=600.0,
        metavar="SECONDS",
        help="with --twin: plant seconds of clean data each residual band is learned from "
        "before any finding (default 600: a training job's swing or two)",
    )
    run.add_argument(
        "--twin-persist",
        type=positive_float,
        default=300.0,
        metavar="SECONDS",
        help="with --twin: plant seconds a departure from the band must last to become a "
        "finding (a twin-finding alarm), and be gone to clear it (default 300)",
    )
    run.add_argument("--interval", type=positive_float, default=1.0, help="poll interval, s")
    run.add_argument("--alarms", type=Path, help="alarm rules TOML (default: the site's own)")
    run.add_argument("--status-every", type=positive_float, default=5.0, help="status line, s")
    run.add_argument(
        "--opcua",
        type=port_number,
        metavar="PORT",
        help="also serve the site's gear on OPC UA (anonymous) at PORT (0: a free one, shown "
        "in the first status line and the JSON) for your own client to browse; the collector "
        "reads Modbus TCP either way",
    )
    run.add_argument(
        "--protocols",
        type=protocol_list,
        default=("modbus",),
        metavar="LIST",
        help="what the collector reads, in order of preference, e.g. bacnet,snmp,modbus: the "
        "gear also serves each (BACnet/IP for the cooling plant, SNMP for UPSs and PDUs, OPC "
        "UA for all, each on free loopback ports) and every point is read over the first one "
        "its device has (default: modbus)",
    )
    logs.add_log_option(run, "run")
    add_sink_options(run)
    from twin.live.prometheus import add_metrics_option

    add_metrics_option(run)
    from twin.sinks.mqtt import add_publish_options

    add_publish_options(run)
    from twin.sinks.notify import add_notify_option

    add_notify_option(run)
    run.set_defaults(handler=cmd_run)


class LatencyProbe:
    """Plant-to-live latency of one point: when the plant stepped to a value, and
    when the collector delivered that value into live state."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.steps: list[tuple[float, float]] = []  # (wall time, value as the wire carries it)
        self.plant_pue: dict[float, float] = {}  # wire value of facility power → plant PUE
        self._lock = threading.Lock()  # steps arrive on another thread than the summary's

    def after_step(self, report: Any) -> None:
        """Record one plant step (a :class:`~twin.devices.process.StepReport`)."""
        facility = report.facility_power_w
        value = float(np.float32(facility / 1e3))
        with self._lock:
            self.steps.append((report.wall_time, value))
            self.plant_pue[value] = facility / max(report.it_power_w, 1e-9)
            if len(self.steps) > 100_000:  # bounded: a long run keeps the recent past
                del self.steps[:50_000]
                self.plant_pue = dict(list(self.plant_pue.items())[-50_000:])

    def plant_pue_of_last_sample(self) -> float | None:
        """The plant's own PUE at the step whose facility power the collector read last."""
        state = self.runtime.state
        if state is None or LATENCY_POINT not in state.index:
            return None
        value = float(state.value[state.index[LATENCY_POINT]])
        with self._lock:
            return self.plant_pue.get(float(np.float32(value)))

    def latencies_ms(self) -> np.ndarray:
        state = self.runtime.state
        if state is None or LATENCY_POINT not in state.index:
            return np.array([])
        ts, values = state.history(LATENCY_POINT)
        with self._lock:
            steps = list(self.steps)
        if not steps:
            return np.array([])
        step_t = np.array([s[0] for s in steps])
        step_v = np.array([s[1] for s in steps])
        out = []
        previous = None
        for t, v in zip(ts, values, strict=True):
            if not np.isfinite(v) or v == previous:
                previous = v
                continue  # only changes: the first arrival of each new value
            previous = v
            # The latest plant step before the arrival that produced this value.
            candidates = np.flatnonzero((step_t <= t) & np.isclose(step_v, v, rtol=1e-6, atol=0))
            if len(candidates):
                out.append((t - step_t[candidates[-1]]) * 1e3)
        return np.array(out)


def cmd_run(args: argparse.Namespace) -> int:
    # Only what checks the command line is imported before the dashboard draws: the
    # collector, the live metrics and the sink feeder load behind the first frame.
    from multiprocessing import resource_tracker

    from twin.devices.process import SimulationFailed
    from twin.live import prometheus
    from twin.live.alarms import load_rules
    from twin.sinks.cli import SinkConfigError, sink_from_args, sink_refusal
    from twin.site import alarm_rules_path, load_site

    site = load_site(args.site)
    scenario = None
    if args.scenario:  # checked here, before anything starts: a bad file is exit 2
        from twin.devices.cli import load_sim_scenario

        scenario = load_sim_scenario(args.scenario)[2]
    rules_path = args.alarms or alarm_rules_path(site)
    rules = load_rules(rules_path) if rules_path else []
    notify = None
    if args.notify is not None:  # checked before anything starts: a bad file is exit 2
        from twin.sinks.notify import load_notify

        notify = load_notify(args.notify)
    try:
        sink = sink_from_args(args)
    except SinkConfigError as error:
        print(f"twin run: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from twin.sinks.mqtt import edge_node_name, publish_options, start_publisher

    try:
        publishing = publish_options(args)
    except ValueError as error:
        sink.close()
        print(f"twin run: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    exporter = prometheus.bind(args.metrics, "run")  # a port in use: exit 2 before anything
    interactive = sys.stdout.isatty() and not args.headless and not args.json
    log_file = logs.configure(args.log or (logs.default_file("run") if interactive else None))
    # Running before any screen owns the terminal (see SiteRuntime.__init__).
    resource_tracker.ensure_running()
    made: dict[str, Any] = {}
    # Held while the live layer ticks and while /metrics reads its alarms and metrics.
    lock = threading.RLock()

    def make_runtime() -> Any:
        from twin.runtime import SiteRuntime

        runtime = SiteRuntime(
            args.site,
            speed=args.speed,
            interval_s=args.interval,
            scenario=scenario,
            log_file=log_file,
            opcua_port=args.opcua,
            protocols=args.protocols,
        )
        probe = LatencyProbe(runtime)
        runtime.after_step.append(probe.after_step)
        made["runtime"], made["probe"] = runtime, probe
        return runtime

    def make_pump() -> Any:
        from twin.live.alarms import AlarmEngine
        from twin.live.metrics import SiteMetrics
        from twin.sinks.feeder import SinkFeeder

        state = made["runtime"].state
        metrics = SiteMetrics(state, carbon_kg_per_kwh=site.grid_carbon_kg_per_kwh)
        alarms = AlarmEngine(rules, state, metrics, prefer=args.protocols)
        if exporter is not None:
            collector = made["runtime"].collector
            exporter.attach(
                state, site.name, metrics=metrics, alarms=alarms, sink=sink, lock=lock,
                devices=lambda: collector.pollers,
            )  # fmt: skip
        made["publisher"] = start_publisher(
            publishing, state, site.name, edge_node_name(), metrics=metrics, alarms=alarms,
            lock=lock,
        )  # fmt: skip
        if args.twin:
            from twin.shadow.monitor import TwinMonitor

            runtime = made["runtime"]
            made["twin"] = TwinMonitor(
                site, state, lambda: runtime.plant_t_s, interval_s=args.interval,
                band_learn_s=args.twin_learn, persistence_s=args.twin_persist,
            ).start()  # fmt: skip
        feeder = SinkFeeder(state, metrics, alarms, sink, site.name)
        if "twin" in made:
            twin = made["twin"]
            feeder.checks.append(lambda now: twin.feed_alarms(alarms, now))
        if notify is not None:
            from twin.sinks.notify import Notifier

            feeder.notifier = made["notifier"] = Notifier(notify, alarms, site.name)
        return feeder

    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    counters = {"spooled": 0}
    summary = None
    refused = ""
    failed: Exception | None = None
    try:
        if interactive:  # the dashboard draws at once and shows the start-up
            pump = _run_dashboard(site.name, make_runtime, make_pump, stop, lock)
        else:
            make_runtime().start()
            pump = make_pump()
            _run_headless(made["runtime"], pump, stop, args, lock, exporter)
        if pump is None:  # quit before the collector polled: nothing was collected
            raise _QuitDuringStartup
        runtime = made["runtime"]
        with lock:
            snapshot = pump.tick()
            counters["spooled"] = pump.spooled
            # Taken while the collector still runs: after it stopped (and after the
            # sink's flush) every point reads stale and the summary said points_good 0.
            summary = _summary(runtime, snapshot, pump.alarms, sink, counters, made["probe"])
        if "twin" in made:
            made["twin"].stop()
            summary["twin"] = made["twin"].summary()
        summary["metrics_url"] = exporter.url if exporter is not None else None
        if made.get("publisher") is not None:
            summary["publish"] = made["publisher"].status()
        runtime.stop()
        # Bounded: a few seconds when the database is down, then what is left stays
        # in the spool (logged) for the next run or `twin replay`.
        sink.finish(timeout=30)
        _sink_summary(summary, sink)  # what the flush sent
        if runtime.process is not None:
            summary["simulation_exit_code"] = runtime.process.exitcode
        if "notifier" in made:  # the last clears go out before the process ends
            made["notifier"].close(timeout=15)
            summary["notifications"] = made["notifier"].status()
    except (SimulationFailed, TimeoutError) as error:
        failed = error
    except _QuitDuringStartup:
        summary = {}
        if "runtime" in made:
            made["runtime"].stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if summary is None and "runtime" in made:  # stopped by an error: still close cleanly
            with contextlib.suppress(Exception):
                made["runtime"].stop()
        sink.finish(timeout=10)  # nothing to do when the run's own finish() ran
        refused = sink_refusal(sink)  # read before close: it counts what the spool keeps
        sink.close()
        if exporter is not None:
            exporter.close()
        if made.get("publisher") is not None:
            made["publisher"].close()
        if "notifier" in made:
            made["notifier"].close(timeout=5)
        if interactive:
            logs.report("run", log_file)
    if failed is not None:
        print(f"twin run: error: {failed}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(summary, sys.stdout)
        sys.stdout.write("\n")
    if refused:
        print(f"twin run: error: {refused}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


async def _task_count() -> int:
    return len(asyncio.all_tasks())


def _status(runtime: Any, snapshot: Any, alarms: Any, sink: Any) -> str:
    from twin.sinks.cli import sink_text

    counts = runtime.state.counts()
    pue = snapshot.pue.value
    pue_text = "-" if pue is None else f"{pue:.3f}"
    rss = _rss_mb(runtime)
    return (
        f"plant t={runtime.plant_t_s:,.0f} s  PUE {pue_text}  "
        f"IT {snapshot.it_kw.value or 0:,.0f} kW  points good {counts['good']}/"
        f"{sum(counts.values())}  alarms {len(alarms.active())}  "
        f"{sink_text(sink.status)}  "
        f"tasks {_tasks(runtime)}  missed polls {_missed_polls(runtime)}  "
        f"rss {rss if rss is None else round(rss)} MB (simulation {_sim_rss(runtime)} MB)"
    )


def _tasks(runtime: Any) -> int:
    """asyncio tasks of this process and of the simulation process (when separate)."""
    here = runtime.call(_task_count(), timeout=10)
    process = runtime.process
    return here + ((process.tasks or 0) if process is not None else 0)


def _sim_rss(runtime: Any) -> str:
    process = runtime.process
    rss = None if process is None else process.rss_mb
    return "-" if rss is None else str(round(rss))


def _run_headless(
    runtime: Any, pump: Any, stop: threading.Event, args: Any, lock: Any, exporter: Any = None
) -> None:
    from twin.sinks.cli import refused_from_the_start

    start_plant = runtime.plant_t_s
    next_status = time.monotonic() + args.status_every
    out = sys.stderr if args.json else sys.stdout
    endpoint = runtime.process.opcua_endpoint if runtime.process is not None else None
    if endpoint:
        print(f"OPC UA server: {endpoint}", file=out, flush=True)
    if exporter is not None:
        print(f"Prometheus metrics: {exporter.url}", file=out, flush=True)
    if tuple(args.protocols) != ("modbus",):  # a preference never goes unnoticed
        read = runtime.collector.read_with()
        shown = ", ".join(f"{len(read[p])} devices over {p}" for p in args.protocols if read.get(p))
        print(f"reading {shown}", file=out, flush=True)
    while not stop.is_set():
        if args.duration and runtime.plant_t_s - start_plant >= args.duration:
            break
        if runtime.process is not None and not runtime.process.alive:
            if runtime.process.ended_by_signal():  # SIGTERM to the group: ours is on its way
                break
            from twin.devices.process import SimulationFailed

            raise SimulationFailed(runtime.process.failure or "the simulation process exited")
        with lock:
            snapshot = pump.tick()
        if refused_from_the_start(pump.sink):
            break  # a configuration error: cmd_run reports it (exit 2), the spool keeps all
        if time.monotonic() >= next_status:
            next_status += args.status_every
            print(_status(runtime, snapshot, pump.alarms, pump.sink), file=out, flush=True)
        stop.wait(args.interval)


class _QuitDuringStartup(Exception):
    """The operator quit the dashboard before the site was read."""


def _run_dashboard(
    site: str, make_runtime: Any, make_pump: Any, stop: threading.Event, lock: Any
) -> Any:
    """The dashboard, drawn at once; the site starts behind it (see twin.tui.startup).

    ``make_runtime`` builds the site runtime (on the start-up thread: its imports
    come after the first frame). Returns the sink feeder once the collector polls
    (None when the operator quit before that); raises what stopped the start-up.
    """
    from twin.tui.app import DARK, TwinApp
    from twin.tui.startup import Startup

    # One alarm store: the dashboard shows (and acks/shelves in) the feeder's own
    # SiteMetrics and AlarmEngine; the feeder updates them under the shared lock.
    made: dict[str, Any] = {}

    def feed() -> None:
        pump = made["pump"]
        while not stop.wait(1.0):
            with lock:
                pump.tick()

    def begin() -> Any:
        from twin.devices.process import SimulationFailed
        from twin.tui.startup import Cancelled

        runtime = made["runtime"] = make_runtime()
        try:
            runtime.begin()
        except SimulationFailed:
            if stop.is_set():  # quit during start-up: runtime.stop() ended it, as asked
                raise Cancelled from None
            raise
        made["pump"] = pump = make_pump()
        made["feeder"] = feeder = threading.Thread(target=feed, name="twin-sink-feed", daemon=True)
        feeder.start()
        return runtime.source(metrics=pump.metrics, alarms=pump.alarms, drive=False, lock=lock)

    def progress() -> tuple[str, ...]:
        runtime = made.get("runtime")
        return runtime.progress() if runtime is not None else (f"site {site} · loading",)

    def finished() -> bool:
        runtime = made.get("runtime")
        return runtime is not None and runtime.started()

    startup = Startup(site, begin, progress, finished)
    try:
        TwinApp(startup=startup, theme=DARK).run()
    finally:
        stop.set()
        if "feeder" in made:
            made["feeder"].join(timeout=10)
    if startup.error is not None and "pump" not in made:
        raise startup.error
    return made.get("pump")


def _missed_polls(runtime: Any) -> int:
    """Poll cycles that started more than 1.5 intervals after the previous one.

    Counted by the collector after its warm-up (the first 30 s of polling, when
    every device connects and is read at once), as the soak's limit asks.
    """
    pollers = getattr(runtime.collector, "pollers", [])  # Modbus, BACnet and SNMP alike
    return sum(poller.stats.missed_cycles for poller in pollers)


def _rss_mb(runtime: Any = None) -> float | None:
    """Resident memory [MB] of this process plus the simulation process, if separate."""
    from twin.devices.process import rss_mb

    here = rss_mb()
    process = getattr(runtime, "process", None)
    if here is None or process is None or process.pid is None:
        return here
    child = rss_mb(process.pid)
    return here + (child or 0.0)


def _summary(runtime, snapshot, alarms, sink, counters, probe) -> dict:  # type: ignore[no-untyped-def]
    state = runtime.state
    counts = state.counts()
    stats = runtime._stats()
    ok = sum(1 for latency, errors in stats.values() if errors == 0)
    latency = probe.latencies_ms()
    status = sink.status
    return {
        "site": runtime.site.name,
        "pue": snapshot.pue.value,
        "pue_quality": snapshot.pue.quality.label,
        "pue_instant": snapshot.pue_instant.value,
        "pue_category": snapshot.category,
        "it_kw": snapshot.it_kw.value,
        "facility_kw": snapshot.facility_kw.value,
        "points_total": int(sum(counts.values())),
        "points_good": int(counts["good"]),
        # never read good in the whole run (a point bad at the last poll was good before)
        "points_never_good": int((state.good_ts == 0).sum()),
        "bad_points": state.bad_points(),
        "samples_collected": int(state.samples),
        "samples_spooled": int(counters["spooled"]),
        "samples_written": int(status.sent),
        "samples_pending": int(status.pending),
        "samples_refused": int(status.refused),
        "samples_dropped": int(status.dropped),
        "spool_full": bool(status.full),
        "sink": status.target,
        "sink_state": status.state,
        "sink_error": status.error,
        "alarms_active": len(alarms.active()),
        "alarms": sorted({a.rule.name for a in alarms.active()}),
        "active_alarms": [a.json() for a in alarms.active()],
        "comms_lost": alarms.comms_lost(),
        "flood": alarms.flood()["flood"] > 0,
        "devices": {"ok": ok, "total": len(stats)},
        "latency_ms": {
            "p50": float(np.percentile(latency, 50)) if len(latency) else None,
            "p99": float(np.percentile(latency, 99)) if len(latency) else None,
            "count": len(latency),
        },
        "plant_pue": probe.plant_pue_of_last_sample(),
        "missed_polls": _missed_polls(runtime),
        # how many devices each protocol reads (twin run --protocols)
        "read_with": {k: len(v) for k, v in runtime.collector.read_with().items()},
        "rss_mb": _rss_mb(runtime),
        "rss_mb_collector": _rss_mb(),
        "plant_seconds": runtime.plant_t_s,
        "opcua_endpoint": runtime.process.opcua_endpoint if runtime.process else None,
        # 0 when the simulation process closed its servers and exited cleanly
        "simulation_exit_code": runtime.process.exitcode if runtime.process else None,
    }


def _sink_summary(summary: dict, sink: Any) -> None:
    """The sink's counts in ``summary`` brought up to date (after its last flush)."""
    status = sink.status
    summary["samples_written"] = int(status.sent)
    summary["samples_pending"] = int(status.pending)
    summary["samples_refused"] = int(status.refused)
    summary["samples_dropped"] = int(status.dropped)
    summary["spool_full"] = bool(status.full)
    summary["sink_state"] = status.state
    summary["sink_error"] = status.error


# ------------------------------------------------------- twin dashboard


def add_dashboard_parser(sub: argparse._SubParsersAction) -> None:
    """Declare ``dashboard`` (with its own handler) on the main parser."""
    parser = sub.add_parser(
        "dashboard",
        help="run a simulated site with its collector and show the terminal dashboard",
        description="Serve a site's simulated devices on free loopback ports, poll them with "
        "the collector over Modbus TCP, and show the dashboard (q quits, ? lists the keys).",
    )
    parser.add_argument("site", nargs="?", default="aidc-10mw", help="site name or TOML path")
    parser.add_argument(
        "--speed", type=positive_float, default=1.0, help="plant seconds per wall second"
    )
    parser.add_argument("--light", action="store_true", help="start with the light theme")
    logs.add_log_option(parser, "dashboard", headless=False)
    parser.set_defaults(handler=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from twin.runtime import SiteRuntime
    from twin.tui.app import DARK, LIGHT, TwinApp
    from twin.tui.startup import Startup

    log_file = logs.configure(args.log or logs.default_file("dashboard"))
    runtime = SiteRuntime(args.site, speed=args.speed, log_file=log_file)

    def begin() -> Any:
        runtime.begin()
        return runtime.source()

    startup = Startup(runtime.site.name, begin, runtime.progress, runtime.started)
    try:
        TwinApp(startup=startup, theme=LIGHT if args.light else DARK).run()
        if startup.error is not None:
            print(f"twin dashboard: error: {startup.error}", file=sys.stderr)
            return 1
    finally:
        with contextlib.suppress(Exception):
            runtime.stop()
        logs.report("dashboard", log_file)
    return 0
