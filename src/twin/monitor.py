"""``twin monitor REGISTRY``: the collector, live state, metrics and alarms, headless.

Reads whatever the registry points at (our simulator or real gear), prints a status
line every few seconds and, with ``--json``, one JSON summary at the end (points
good/stale/bad/never read, samples collected, PUE, IT and facility power, active
alarms, the devices and gateways whose comms are lost). Comms-loss alarms are built
in (:data:`twin.live.alarms.BUILTIN_RULES`), so gear that does not answer raises
an alarm even without ``--alarms``. Exit status 1 when no device answered at all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from twin.argtypes import positive_float

# Every command's parser is built from this module: what monitoring itself needs
# (asyncua alone takes a second to import) loads when a monitor runs, so `twin run`
# draws its first frame without it.
if TYPE_CHECKING:
    from twin.collect.opcua import OpcUaOptions
    from twin.live.state import LiveState


def add_parser(sub: argparse._SubParsersAction) -> None:
    monitor = sub.add_parser(
        "monitor",
        help="collect a point registry's devices (Modbus, OPC UA) into live PUE, state, alarms",
        description="Poll every point of a registry CSV (twin points SITE prints one; "
        "configs/points has examples) and derive the site's live metrics and alarms.",
        epilog="Examples:\n  twin monitor configs/points/aidc-10mw.csv --headless\n"
        "  twin monitor site.csv --headless --duration 30 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    monitor.add_argument(
        "registry", type=Path, nargs="?", help="point registry CSV (or [monitor] registry)"
    )
    monitor.add_argument("--headless", action="store_true", help="status lines, no dashboard")
    monitor.add_argument(
        "--duration", type=positive_float, help="seconds to run (default: forever)"
    )
    monitor.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    monitor.add_argument("--interval", type=positive_float, default=1.0, help="poll interval, s")
    monitor.add_argument("--status-every", type=positive_float, default=5.0, help="status line, s")
    monitor.add_argument("--alarms", type=Path, help="alarm rules TOML (configs/alarms)")
    from twin import logs

    logs.add_log_option(monitor, "monitor")
    monitor.add_argument(
        "--prefer",
        choices=["modbus", "opcua", "bacnet", "snmp"],
        default="modbus",
        help="for rows with more than one addressing",
    )
    monitor.add_argument(
        "--snmp-credentials",
        type=Path,
        metavar="FILE",
        help="SNMP v2c community and v3 users (TOML); default: TWIN_SNMP_* or community public",
    )
    monitor.add_argument(
        "--carbon", type=positive_float, default=0.5703, help="grid carbon factor, kg CO2e/kWh"
    )
    opcua = monitor.add_argument_group(
        "OPC UA",
        "for rows read over OPC UA; the password comes from $OPCUA_PASSWORD, never the "
        "command line",
    )
    opcua.add_argument(
        "--opcua-security",
        metavar="SPEC",
        help="Policy,Mode,client-cert,client-key[,server-cert], e.g. "
        "Basic256Sha256,SignAndEncrypt,cert.pem,key.pem (default: None)",
    )
    opcua.add_argument("--opcua-user", metavar="NAME", help="user name for the session")
    opcua.add_argument(
        "--opcua-mode", choices=["subscribe", "poll"], default="subscribe",
        help="monitored items (default) or polling",
    )  # fmt: skip
    scale = monitor.add_argument_group(
        "many collectors, one registry",
        "N collectors given the same registry and --shard 0/N ... N-1/N split its devices "
        "between them by a stable hash of the device name (vmagent's convention); each "
        "keeps its own spool and tags its records collector=NAME",
    )
    scale.add_argument(
        "--shard", metavar="I/N", type=_shard, help="be member I (0-based) of N collectors"
    )
    scale.add_argument(
        "--collector-name",
        metavar="NAME",
        help="the collector tag of this shard's records (default shard-I-of-N)",
    )
    monitor.add_argument(
        "--twin",
        dest="twin_site_name",
        metavar="SITE",
        help="also run the shadow plant of SITE (a name under sites/ or a site TOML) beside "
        "the collector, on the wall clock in the site's time zone, driven by the measured IT "
        "power, outdoor air and setpoints: the JSON summary gets its coverage, GL14 health, "
        "residuals and findings; findings are twin-finding alarms",
    )
    monitor.add_argument(
        "--twin-learn",
        type=positive_float,
        default=600.0,
        metavar="SECONDS",
        help="with --twin: seconds of clean data each residual band is learned from (600)",
    )
    monitor.add_argument(
        "--twin-persist",
        type=positive_float,
        default=300.0,
        metavar="SECONDS",
        help="with --twin: seconds a departure must last to be a finding, or be gone to "
        "clear it (300)",
    )
    monitor.add_argument(
        "--no-store",
        action="store_true",
        help="keep nothing: no spool, no database (by default samples go to the spool)",
    )
    from twin.sinks.cli import add_sink_options

    add_sink_options(monitor)
    from twin.live.prometheus import add_metrics_option

    add_metrics_option(monitor)
    from twin.sinks.mqtt import add_publish_options

    add_publish_options(monitor)

    from twin.sinks.notify import add_notify_option

    add_notify_option(monitor)


def _shard(text: str) -> tuple[int, int]:
    from twin.points.shard import parse_shard

    return parse_shard(text)


def _apply_shard(registry, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """This collector's part of the registry, its collector name and its own spool."""
    args.collector = None
    if getattr(args, "shard", None) is None:
        if args.collector_name:
            raise ValueError("--collector-name names a shard: give --shard I/N too")
        return registry
    from twin.points.shard import select_shard

    member, count = args.shard
    part = select_shard(registry, member, count)
    if not part.points:
        raise ValueError(f"shard {member}/{count} holds no device of {registry.path}")
    args.collector = args.collector_name or f"shard-{member}-of-{count}"
    if getattr(args, "spool", None) is None and not getattr(args, "no_spool", False):
        from twin.sinks.cli import default_spool_dir

        args.spool = default_spool_dir() / args.collector
    return part


def opcua_options(args: argparse.Namespace) -> OpcUaOptions:
    """OPC UA client settings from the command line and the environment."""
    from twin.collect.opcua import OpcUaOptions

    password = os.environ.get("OPCUA_PASSWORD")
    if args.opcua_user and not password:
        raise ValueError("--opcua-user needs the password in $OPCUA_PASSWORD")
    if args.opcua_security:
        parts = args.opcua_security.split(",")
        if len(parts) < 4:
            raise ValueError("--opcua-security is Policy,Mode,client-cert,client-key[,server-cert]")
        for path in parts[2:]:
            if not Path(path).is_file():
                raise ValueError(f"--opcua-security: no file {path}")
    return OpcUaOptions(
        mode=args.opcua_mode,
        security=args.opcua_security,
        username=args.opcua_user,
        password=password if args.opcua_user else None,
    )


def check_prefer(registry, path: Path, prefer: str, default_endpoint: str = "") -> None:  # type: ignore[no-untyped-def]
    """Refuse ``--prefer opcua`` where rows name a node but no server to read it from.

    The collector reads such a row over Modbus instead, and an operator who asked
    for OPC UA would never learn it (issue 18 item 8). Raises ConfigError naming the
    column and the rows.
    """
    if prefer != "opcua" or default_endpoint:
        return
    points = registry.points
    rows = [p.line for p in points if p.opcua_node_id and p.modbus and not p.opcua_endpoint]
    if not rows:
        return
    from twin.errors import ConfigError

    shown = ", ".join(str(r) for r in rows[:5])
    shown += f" … ({len(rows)} rows)" if len(rows) > 5 else ""
    raise ConfigError(
        path,
        f"--prefer opcua, but row{'s' if len(rows) > 1 else ''} {shown} "
        f"{'have' if len(rows) > 1 else 'has'} an opcua_node_id and an empty 'opcua_endpoint' "
        "column: they would be read over Modbus. Fill the column (twin points SITE "
        "--opcua-port PORT writes it) or leave out --prefer opcua",
    )


def protocols_text(collector) -> str:  # type: ignore[no-untyped-def]
    """One line saying what is read how, so that a preference never goes unnoticed."""
    read = collector.read_with()
    endpoints = sorted({p.opcua_endpoint for p in collector.opcua_points if p.opcua_endpoint})
    parts = [f"{len(read['modbus'])} devices over Modbus"]
    if read["opcua"] or endpoints:
        where = f" ({', '.join(endpoints)})" if endpoints else ""
        parts.append(f"{len(read['opcua'])} over OPC UA{where}")
    if read.get("snmp"):
        parts.append(f"{len(read['snmp'])} over SNMP")
    both = sorted(set(read["modbus"]) & set(read["opcua"]))
    if both:
        parts.append(f"{len(both)} over both (some rows each)")
    if read.get("bacnet"):
        parts.append(f"{len(read['bacnet'])} over BACnet/IP")
    return "reading " + ", ".join(parts)


def cmd_monitor(args: argparse.Namespace) -> int:
    from twin.points.registry import load_registry
    from twin.sinks.cli import SinkConfigError, sink_from_args

    if args.registry is None:  # optional only so that a --config file can name it
        print(
            "twin monitor: error: a point registry CSV is needed: give it as the first "
            "argument or as [monitor] registry in --config FILE",
            file=sys.stderr,
        )
        return 2
    try:
        args.opcua = opcua_options(args)
    except ValueError as error:
        print(f"twin monitor: error: {error}", file=sys.stderr)
        return 2
    registry = load_registry(args.registry)
    args.snmp = None
    if any(p.snmp is not None for p in registry.points):  # pysnmp loads only when needed
        from twin.collect.snmp import SnmpOptions
        from twin.points.snmp import load_security

        args.snmp = SnmpOptions(security=load_security(getattr(args, "snmp_credentials", None)))
    try:
        registry = _apply_shard(registry, args)
        from twin.sinks.mqtt import publish_options

        args.publish_options = publish_options(args)
    except ValueError as error:
        print(f"twin monitor: error: {error}", file=sys.stderr)
        return 2
    check_prefer(registry, args.registry, args.prefer, args.opcua.endpoint)
    args.twin_site = None
    if getattr(args, "twin_site_name", None):  # a bad site is exit 2 before connecting
        from twin.site import load_site

        args.twin_site = load_site(args.twin_site_name)
    args.notify_options = None
    if args.notify is not None:  # a bad file is exit 2 before anything connects
        from twin.sinks.notify import load_notify

        args.notify_options = load_notify(args.notify)
    sink = None
    if not args.no_store:
        try:
            sink = sink_from_args(args)
        except SinkConfigError as error:
            print(f"twin monitor: error: {error}", file=sys.stderr)
            return 2
    from twin.live import prometheus

    try:
        args.exporter = prometheus.bind(args.metrics, "monitor")
    except SystemExit:
        if sink is not None:
            sink.close()
        raise
    from twin.sinks.cli import sink_refusal

    refused = ""
    try:
        status = _run(registry, args, sink)
    finally:
        if sink is not None:
            # Bounded: a few seconds when the database is down, then what is left
            # stays in the spool (logged) for the next run or `twin replay`.
            sink.finish(timeout=30)
            refused = sink_refusal(sink)  # before close: it counts what the spool keeps
            sink.close()
        if args.exporter is not None:
            args.exporter.close()
        if getattr(args, "publisher", None) is not None:
            args.publisher.close()
    if refused:
        print(f"twin monitor: error: {refused}", file=sys.stderr)
        return 2
    return status


def _run(registry, args: argparse.Namespace, sink) -> int:  # type: ignore[no-untyped-def]
    rules = None
    if args.alarms:
        from twin.live.alarms import load_rules

        rules = load_rules(args.alarms)
    from twin import logs

    if sys.stdout.isatty() and not args.headless and not args.json:
        log_file = logs.configure(args.log or logs.default_file("monitor"))
        try:
            return _dashboard(registry, rules, args, sink)
        finally:
            logs.report("monitor", log_file)
    logs.configure(args.log)
    return asyncio.run(_monitor(registry, rules, args, sink))


def _dashboard(registry, rules, args: argparse.Namespace, sink) -> int:  # type: ignore[no-untyped-def]
    """The collector on a background event loop, the dashboard in front of it.

    The dashboard reads the live layer only; a setpoint it writes goes through the
    collector's protocol write on the collector's loop.
    """
    import threading

    from twin.collect.scheduler import Collector, CollectorOptions
    from twin.live.alarms import AlarmEngine
    from twin.live.metrics import SiteMetrics
    from twin.live.state import LiveState
    from twin.sinks.feeder import SinkFeeder
    from twin.tui.app import DARK, TwinApp
    from twin.tui.model import LiveSource

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="collector", daemon=True)
    thread.start()
    state = LiveState(registry, interval_s=args.interval)
    metrics = SiteMetrics(state, carbon_kg_per_kwh=args.carbon)
    alarms = AlarmEngine(rules or [], state, metrics, prefer=args.prefer)
    collector = Collector(
        registry,
        state,
        CollectorOptions(
            interval_s=args.interval,
            prefer=args.prefer,
            opcua=args.opcua,
            snmp=getattr(args, "snmp", None),
        ),
    )
    site = next((p.site for p in registry.points if p.site), "site")
    feeder = SinkFeeder(state, metrics, alarms, sink, site, collector=args.collector)
    notifier = _notifier(args, feeder, alarms, site)
    shadow = _shadow(args, state, feeder, alarms)
    lock = threading.RLock()
    _export(args, state, site, metrics, alarms, sink, lock, collector)
    stop = threading.Event()

    def feed() -> None:
        while not stop.wait(args.interval):
            with lock:
                feeder.tick()

    async def write(point: str, value: float) -> None:
        future = asyncio.run_coroutine_threadsafe(collector.write(point, value), loop)
        await asyncio.wrap_future(future)

    def stats() -> dict[str, tuple[float | None, int]]:
        return {
            d.name: (getattr(d.stats, "latency_ms", None), d.stats.exceptions + d.stats.timeouts)
            for d in collector.pollers
        }

    asyncio.run_coroutine_threadsafe(collector.start(), loop).result(timeout=120)
    feeding = threading.Thread(target=feed, name="twin-sink-feed", daemon=True)
    feeding.start()
    try:
        source = LiveSource(
            state, site=site, metrics=metrics, alarms=alarms, writer=write, stats=stats,
            drive=False, lock=lock,
        )  # fmt: skip
        TwinApp(source, theme=DARK).run()
    finally:
        stop.set()
        feeding.join(timeout=10)
        asyncio.run_coroutine_threadsafe(collector.stop(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
        if notifier is not None:
            notifier.close(timeout=15)
        if shadow is not None:
            shadow.stop()
    return 0


async def _monitor(registry, rules, args: argparse.Namespace, sink=None) -> int:  # type: ignore[no-untyped-def]
    from twin.collect.scheduler import Collector, CollectorOptions
    from twin.live.metrics import SiteMetrics
    from twin.live.state import LiveState
    from twin.sinks.cli import refused_from_the_start
    from twin.sinks.feeder import SinkFeeder

    state = LiveState(registry, interval_s=args.interval)
    metrics = SiteMetrics(state, carbon_kg_per_kwh=args.carbon)
    from twin.live.alarms import AlarmEngine

    alarms = AlarmEngine(rules or [], state, metrics, prefer=args.prefer)
    collector = Collector(
        registry,
        state,
        CollectorOptions(
            interval_s=args.interval,
            prefer=args.prefer,
            opcua=args.opcua,
            snmp=getattr(args, "snmp", None),
        ),
    )
    site = registry.points[0].site if registry.points and registry.points[0].site else "site"
    feeder = SinkFeeder(state, metrics, alarms, sink, site, collector=args.collector)
    notifier = _notifier(args, feeder, alarms, site)
    shadow = _shadow(args, state, feeder, alarms)
    import threading

    lock = threading.RLock()  # /metrics reads alarms and metrics on its own thread
    _export(args, state, site, metrics, alarms, sink, lock, collector)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await collector.start()
    started = time.monotonic()
    next_status = started + args.status_every
    out = sys.stderr if args.json else sys.stdout
    print(protocols_text(collector), file=out, flush=True)
    if args.exporter is not None:
        print(f"Prometheus metrics: {args.exporter.url}", file=out, flush=True)
    snapshot = None
    try:
        while not stop.is_set():
            if args.duration and time.monotonic() - started >= args.duration:
                break
            with lock:
                snapshot = feeder.tick()
            if sink is not None and refused_from_the_start(sink):
                break  # a configuration error: cmd_monitor reports it (exit 2)
            if time.monotonic() >= next_status:
                next_status += args.status_every
                print(_status(state, snapshot, alarms, sink), file=out, flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(1.0, args.interval))
    finally:
        if shadow is not None:
            shadow.stop()
        await collector.stop()
    with lock:
        snapshot = metrics.update()
        alarms.evaluate()
        if notifier is not None:
            notifier.tick()
    if notifier is not None:  # off the event loop: the last deliveries may take a while
        await asyncio.to_thread(notifier.close, 15)
    if args.json:
        summary = summary_json(state, snapshot, alarms)
        summary["elapsed_s"] = round(time.monotonic() - started, 3)
        summary["samples_spooled"] = feeder.spooled
        if sink is not None:
            status = sink.status
            # Before the final flush (cmd_monitor's): written may still grow after.
            summary["samples_written"] = status.sent
            summary["samples_pending"] = status.pending
            summary["samples_refused"] = status.refused
            summary["samples_dropped"] = status.dropped
            summary["spool_full"] = status.full
            summary["sink_state"] = status.state
            summary["sink_error"] = status.error
        if getattr(args, "publisher", None) is not None:
            summary["publish"] = args.publisher.status()
        if args.collector:
            summary["collector"] = args.collector
            summary["shard"] = list(args.shard)
            summary["devices"] = sorted({p.device for p in registry.points})
        summary["read_with"] = collector.read_with()
        if shadow is not None:
            summary["twin"] = shadow.summary()
        if notifier is not None:
            summary["notifications"] = notifier.status()
        json.dump(summary, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(_status(state, snapshot, alarms, sink), file=out)
    lost = comms_text(alarms)
    if lost:
        print(f"twin monitor: {lost}", file=sys.stderr, flush=True)
    if not (state.good_ts > 0).any():
        print(
            f"twin monitor: no device answered in {time.monotonic() - started:.0f} s: "
            "check the registry's addresses and the network",
            file=sys.stderr,
        )
        return 1
    return 0


def _shadow(args, state, feeder, alarms):  # type: ignore[no-untyped-def]
    """``--twin SITE``'s shadow plant, started, its findings fed to the alarms each tick."""
    site = getattr(args, "twin_site", None)
    if site is None:
        return None
    from twin.shadow.monitor import TwinMonitor, wall_plant_clock

    shadow = TwinMonitor(
        site, state, wall_plant_clock(site), interval_s=args.interval,
        band_learn_s=args.twin_learn, persistence_s=args.twin_persist,
    ).start()  # fmt: skip
    feeder.checks.append(lambda now: shadow.feed_alarms(alarms, now))
    return shadow


def _notifier(args, feeder, alarms, site):  # type: ignore[no-untyped-def]
    """``--notify``'s notifier (options read by :func:`cmd_monitor`) on the feeder."""
    options = getattr(args, "notify_options", None)
    if options is None:
        return None
    from twin.sinks.notify import Notifier

    feeder.notifier = Notifier(options, alarms, site)
    return feeder.notifier


def _export(args, state, site, metrics, alarms, sink, lock, collector) -> None:  # type: ignore[no-untyped-def]
    """Give ``--metrics``' endpoint (bound by :func:`cmd_monitor`) the live layer, and
    start ``--publish``'s Sparkplug edge node on it."""
    from twin.sinks.mqtt import edge_node_name, start_publisher

    args.publisher = start_publisher(
        getattr(args, "publish_options", None),
        state,
        site,
        edge_node_name(getattr(args, "collector", None)),
        metrics=metrics,
        alarms=alarms,
        lock=lock,
    )
    if getattr(args, "exporter", None) is not None:
        args.exporter.attach(
            state, site, metrics=metrics, alarms=alarms, sink=sink, lock=lock,
            devices=lambda: collector.pollers,
        )  # fmt: skip


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def comms_text(alarms) -> str:  # type: ignore[no-untyped-def]
    """ "comms lost: ..." naming the silent gateways and devices ("" when all answer)."""
    lost = alarms.comms_lost()
    devices, gateways = lost["devices"], lost["gateways"]
    if not devices and not gateways:
        return ""
    parts = []
    if gateways:
        parts.append(f"gateway {', '.join(gateways)}")
    if devices:
        shown = ", ".join(devices[:8]) + (
            f" and {len(devices) - 8} more" if len(devices) > 8 else ""
        )
        parts.append(f"{len(devices)} device{'s' if len(devices) != 1 else ''} ({shown})")
    return "comms lost: " + "; ".join(parts)


def _status(state: LiveState, snapshot, alarms, sink=None) -> str:  # type: ignore[no-untyped-def]
    counts = state.counts()
    active = len(alarms.active())
    tail = [text for text in (comms_text(alarms),) if text]
    if sink is not None:  # the spool's trouble (full, dropping) shows here at once
        from twin.sinks.cli import sink_text

        tail.append(sink_text(sink.status))
    return (
        f"points good {counts['good']} stale {counts['stale']} bad {counts['bad']} "
        f"never read {counts['never_read']}  "
        f"samples {state.samples}  PUE {_fmt(snapshot.pue.value, '.3f')} "
        f"({snapshot.pue.quality.label})  IT {_fmt(snapshot.it_kw.value, ',.0f')} kW  "
        f"facility {_fmt(snapshot.facility_kw.value, ',.0f')} kW  alarms {active}"
        + "".join(f"  {text}" for text in tail)
    )


def summary_json(state: LiveState, snapshot, alarms) -> dict:
    """The JSON summary of ``twin monitor --json``."""
    data = snapshot.json()
    return {
        "points": state.counts(),
        "samples": state.samples,
        "pue": data["pue"]["value"],
        "pue_quality": data["pue"]["quality"],
        "pue_category": data["pue_category"],
        "it_kw": data["it_kw"]["value"],
        "facility_kw": data["facility_kw"]["value"],
        "active_alarms": [a.json() for a in alarms.active()],
        "comms_lost": alarms.comms_lost(),
        "bad_points": state.bad_points(),
        "metrics": data,
    }
