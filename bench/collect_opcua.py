"""OPC UA collector: subscribe ITEMS monitored items on one server, keep up at 1 Hz.

Starts ``twin sim SITE --modbus-port 0 --opcua-port PORT`` in its own process
group (the plant steps once a second and writes every variable; a variable
whose value did not change sends no notification), builds the registry from
``twin points SITE`` with the server's ``opcua_endpoint`` filled in and keeps
the points of the first ``--items`` distinct node ids (status bits share a
node, so there are more points than monitored items). Then, in this process:

1. the collector (``CollectorOptions(prefer="opcua")``, subscription mode,
   1 s interval, its default publishing/sampling intervals, 500 ms, and batches
   of 1000 items): set-up time from start until
   every item is subscribed, then notifications/s and the share of one core the
   process used over ``--seconds / --rounds``;
2. the peer: a bare asyncua client that resolves the namespace, creates one
   subscription with the same intervals and calls ``subscribe_data_change`` in
   batches of 1000 on the same node ids, with a handler that only counts: the
   same figures.

1 and 2 alternate for ``--rounds`` rounds (the first of the pair swapping each
round); printed are the medians. Last, the collector once more for
``--seconds``, instrumented: the age of each value when it is in the live state
(its arrival minus the server's SourceTimestamp of the change), p50/p99, and
the share of points whose quality is good, sampled once a second; and the bare
client as long, its handler timing the same age (what the server and the
publishing interval alone cost).

Run: ``.venv/bin/python bench/collect_opcua.py [--site SITE] [--items N]
[--seconds S] [--rounds R]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from asyncua import Client
from common import row

from twin.collect import opcua as twin_opcua
from twin.collect.opcua import OpcUaOptions
from twin.collect.scheduler import Collector, CollectorOptions
from twin.live.state import LiveState
from twin.points.quality import Quality
from twin.points.registry import Registry, parse_registry

DEFAULTS = OpcUaOptions()  # the collector's own defaults; the peer subscribes alike
PUBLISHING_MS = DEFAULTS.publishing_ms


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sim(site: str, port: int, timeout: float) -> tuple[subprocess.Popen, str]:
    """The simulator in its own process group, and its OPC UA endpoint once it serves."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "twin.cli",
            "sim",
            site,
            "--modbus-port",
            "0",
            "--opcua-port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    endpoint = ""
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.match(r"opc-ua\s+(opc\.tcp://\S+)", line)
        if match:
            endpoint = match.group(1)
        if line.startswith("site ") or time.monotonic() > deadline:
            break
    if not endpoint:
        raise RuntimeError(f"twin sim {site} printed no OPC UA endpoint")
    return proc, endpoint


def stop_sim(proc: subprocess.Popen) -> None:
    """SIGTERM to the simulator's process group, SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def build_registry(site: str, endpoint: str, items: int) -> tuple[Registry, list[str]]:
    """The site's points with the endpoint filled in, those of the first ``items`` nodes."""
    text = subprocess.run(
        [sys.executable, "-m", "twin.cli", "points", site],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["opcua_node_id"]]
    nodes: dict[str, None] = {}
    kept = []
    for r in rows:
        if r["opcua_node_id"] not in nodes:
            if len(nodes) == items:
                continue
            nodes[r["opcua_node_id"]] = None
        kept.append({**r, "opcua_endpoint": endpoint})
    out = io.StringIO()
    writer = csv.DictWriter(out, [*rows[0].keys(), "opcua_endpoint"])
    writer.writeheader()
    writer.writerows(kept)
    return parse_registry(out.getvalue(), Path(f"{site}-opcua.csv")), list(nodes)


def options() -> CollectorOptions:
    return CollectorOptions(
        interval_s=1.0,
        prefer="opcua",
        opcua=OpcUaOptions(mode="subscribe", timeout=60.0),
    )


async def run_collector(
    registry: Registry, items: int, seconds: float, warm_up: float
) -> tuple[float, float, float]:
    """(set-up s, notifications/s, share of a core) of the twin collector."""
    state = LiveState(registry, interval_s=1.0)
    collector = Collector(registry, state, options())
    t0 = time.perf_counter()
    await collector.start()
    try:
        (client,) = collector.opcua_clients
        while client.stats.subscribed < items:
            if client.task is not None and client.task.done():
                client.task.result()
            if time.perf_counter() - t0 > 600:
                raise TimeoutError(f"collector subscribed {client.stats.subscribed}/{items}")
            await asyncio.sleep(0.01)
        setup = time.perf_counter() - t0
        await asyncio.sleep(warm_up)  # the initial values of every item
        n0, cpu0, t1 = client.stats.notifications, time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - t1
        rate = (client.stats.notifications - n0) / elapsed
        cpu = (time.process_time() - cpu0) / elapsed
        if client.stats.reconnects or client.stats.connects != 1:
            print(f"  collector reconnected: {client.stats}", flush=True)
    finally:
        await collector.stop()
    return setup, rate, cpu


class _Counter:
    """The bare client's handler: counts, and with ``ages`` times each value's arrival."""

    def __init__(self, ages: list[float] | None = None) -> None:
        self.count = 0
        self.ages = ages

    def datachange_notification(self, node, value, data) -> None:
        self.count += 1
        if self.ages is not None:
            source = data.monitored_item.Value.SourceTimestamp
            if source is not None:
                self.ages.append(time.time() - source.timestamp())


async def run_bare(
    endpoint: str,
    node_ids: list[str],
    seconds: float,
    warm_up: float,
    ages: list[float] | None = None,
) -> tuple[float, float, float]:
    """The same figures for a bare asyncua client on the same node ids."""
    t0 = time.perf_counter()
    # asyncua's supervisor reads the server state every watchdog_intervall (1 s by
    # default) with as long to answer: a server busy creating 17k items misses that
    # now and then, and the client declares itself disconnected. Give it 10 s.
    client = Client(endpoint, timeout=60.0, watchdog_intervall=10.0)
    await client.connect()
    try:
        namespaces = await client.get_namespace_array()
        nodes = [client.get_node(twin_opcua.parse_node_id(n, namespaces)) for n in node_ids]
        handler = _Counter(ages)
        subscription = await client.create_subscription(PUBLISHING_MS, handler)
        refused = 0
        for start in range(0, len(nodes), DEFAULTS.batch):
            handles = await subscription.subscribe_data_change(
                nodes[start : start + DEFAULTS.batch],
                queuesize=DEFAULTS.queue_size,
                sampling_interval=DEFAULTS.sampling_ms,
            )
            refused += sum(not isinstance(h, int) for h in handles)
        setup = time.perf_counter() - t0
        if refused:
            print(f"  bare asyncua: {refused} items refused", flush=True)
        await asyncio.sleep(warm_up)
        if ages is not None:
            ages.clear()
        n0, cpu0, t1 = handler.count, time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - t1
        rate = (handler.count - n0) / elapsed
        cpu = (time.process_time() - cpu0) / elapsed
    finally:
        try:
            await asyncio.wait_for(client.disconnect(), timeout=10)
        except Exception:
            client.disconnect_socket()
    return setup, rate, cpu


async def run_staleness(
    registry: Registry, items: int, seconds: float, warm_up: float
) -> tuple[np.ndarray, list[float], float]:
    """Ages [s] of values as they reach the live state, good share each second, rate."""
    ages: list[float] = []
    original = twin_opcua._Handler.datachange_notification

    def timed(handler, node, value, data) -> None:  # type: ignore[no-untyped-def]
        original(handler, node, value, data)
        source = data.monitored_item.Value.SourceTimestamp
        if source is not None:
            ages.append(time.time() - source.timestamp())

    twin_opcua._Handler.datachange_notification = timed  # type: ignore[method-assign]
    state = LiveState(registry, interval_s=1.0)
    collector = Collector(registry, state, options())
    good: list[float] = []
    try:
        await collector.start()
        (client,) = collector.opcua_clients
        while client.stats.subscribed < items:
            if client.task is not None and client.task.done():
                client.task.result()
            await asyncio.sleep(0.05)
        await asyncio.sleep(warm_up)
        ages.clear()
        n0, t0 = client.stats.notifications, time.perf_counter()
        for _ in range(max(int(seconds), 1)):
            await asyncio.sleep(1.0)
            good.append(float(np.mean(state.qualities() == Quality.GOOD)))
        rate = (client.stats.notifications - n0) / (time.perf_counter() - t0)
        if client.stats.connects != 1:
            print(f"  collector reconnected: {client.stats}", flush=True)
    finally:
        twin_opcua._Handler.datachange_notification = original  # type: ignore[method-assign]
        await collector.stop()
    return np.array(ages), good, rate


def percentiles(ages: np.ndarray) -> tuple[float, float]:
    """p50 and p99 [s], NaN when nothing arrived."""
    if not len(ages):
        return float("nan"), float("nan")
    return float(np.percentile(ages, 50)), float(np.percentile(ages, 99))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--site", default="aidc-100mw", help="site served by twin sim (default aidc-100mw)"
    )
    parser.add_argument(
        "--items",
        type=int,
        default=20_000,
        help="monitored items (distinct node ids; capped at the site's) (default 20000)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=30.0,
        help="measured seconds per side over all rounds, and of the staleness run (default 30)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="collector/bare alternations, even so each side goes first as often (default 4)",
    )
    parser.add_argument(
        "--warm-up", type=float, default=3.0, help="seconds after set-up before measuring"
    )
    parser.add_argument(
        "--start-timeout", type=float, default=180.0, help="seconds to wait for twin sim"
    )
    args = parser.parse_args()
    logging.getLogger("asyncua").setLevel(logging.ERROR)  # session-timeout chatter
    t_start = time.perf_counter()
    proc, endpoint = start_sim(args.site, free_port(), args.start_timeout)
    try:
        print(
            f"twin sim {args.site}: serving {endpoint} after {time.perf_counter() - t_start:.1f} s"
        )
        registry, node_ids = build_registry(args.site, endpoint, args.items)
        items = len(node_ids)
        note = "" if items == args.items else f" (the site has only {items}, not {args.items})"
        print(f"{len(registry)} points on {items} monitored items{note}", flush=True)
        slice_s = args.seconds / args.rounds
        ours: list[tuple[float, float, float]] = []  # (set-up s, notifications/s, core share)
        bare: list[tuple[float, float, float]] = []
        for r in range(args.rounds):
            for side in (0, 1) if r % 2 == 0 else (1, 0):
                if side == 0:
                    ours.append(asyncio.run(run_collector(registry, items, slice_s, args.warm_up)))
                else:
                    bare.append(asyncio.run(run_bare(endpoint, node_ids, slice_s, args.warm_up)))
            (s, n, c), (ps, pn, pc) = ours[-1], bare[-1]
            print(
                f"round {r + 1}: collector set-up {s:6.2f} s {n:>8,.0f} notif/s "
                f"CPU {c * 100:5.1f} %   bare set-up {ps:6.2f} s {pn:>8,.0f} notif/s "
                f"CPU {pc * 100:5.1f} %",
                flush=True,
            )
        setup, rate, cpu = (float(np.median(column)) for column in zip(*ours, strict=True))
        p_setup, p_rate, p_cpu = (float(np.median(column)) for column in zip(*bare, strict=True))
        us = float(np.median([c / n * 1e6 if n else np.nan for _, n, c in ours]))
        p_us = float(np.median([c / n * 1e6 if n else np.nan for _, n, c in bare]))
        ages, good, s_rate = asyncio.run(run_staleness(registry, items, args.seconds, args.warm_up))
        bare_ages: list[float] = []
        asyncio.run(run_bare(endpoint, node_ids, args.seconds, args.warm_up, bare_ages))
        p50, p99 = percentiles(ages)
        p_p50, p_p99 = percentiles(np.array(bare_ages))
        good_median = float(np.median(good)) if good else float("nan")
        good_min = float(np.min(good)) if good else float("nan")

        print(f"\nmedians of {args.rounds} rounds, {items:,} items, {len(registry):,} points:")
        print(f"{'':28}{'collector':>12}{'bare asyncua':>14}{'ratio':>8}")
        table = [
            ("subscribe all items [s]", setup, p_setup),
            ("notifications/s", rate, p_rate),
            ("CPU [% of one core]", cpu * 100, p_cpu * 100),
            ("CPU per notification [us]", us, p_us),
        ]
        for name, a, b in table:
            print(f"{name:28}{a:12,.2f}{b:14,.2f}{a / b if b else float('nan'):8.2f}")
        print(
            f"staleness ({args.seconds:g} s, {s_rate:,.0f} notif/s): value age in the live "
            f"state p50 {p50 * 1e3:.0f} ms, p99 {p99 * 1e3:.0f} ms; points good: median "
            f"{good_median:.1%}, lowest {good_min:.1%}"
        )
        print(
            f"bare asyncua, same run length: value age at its handler p50 {p_p50 * 1e3:.0f} ms, "
            f"p99 {p_p99 * 1e3:.0f} ms"
        )
        k = f"{items / 1000:.3g}k"
        row(f"OPC UA subscribe {k} items [s] vs bare asyncua", setup, p_setup, "informative")
        row("OPC UA notifications/s vs bare asyncua", rate, p_rate, ">= 0.9x (keeps up at 1 Hz)")
        row("OPC UA collector CPU at 1 Hz [% of a core]", cpu * 100, p_cpu * 100, "<= 100")
        row("OPC UA CPU per notification vs bare [us]", us, p_us, "informative")
        row("OPC UA value age p50 vs bare asyncua [ms]", p50 * 1e3, p_p50 * 1e3, "<= 1000 (1 Hz)")
        row("OPC UA value age p99 vs bare asyncua [ms]", p99 * 1e3, p_p99 * 1e3, "<= 1000 (1 Hz)")
        row("OPC UA points good at 1 Hz [%] (median)", good_median * 100, 100.0, "100")
    finally:
        stop_sim(proc)


if __name__ == "__main__":
    main()
