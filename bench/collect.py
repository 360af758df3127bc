"""Collector speed: Modbus points/s and CPU, beside a bare pymodbus client; poll jitter.

Starts ``twin sim SITE --no-opcua`` in another process, then in this process:

1. the collector polls every device of the site's registry back to back (interval
   ~0): points/s and the share of one core it used;
2. a bare pymodbus client per device reads the *same blocks* in a tight loop (no
   decoding, no state): points/s and its share of a core;
3. the collector at a 1 s interval: poll start lateness p50/p99.

1 and 2 alternate in ``--rounds`` rounds (``--seconds`` per side in all, the
first of the pair swapping each round), so load that comes and goes on a shared
machine falls on both sides alike; printed are the medians and the median of
the rounds' ratios. CPU per point (the core's time each side spent per point
read) is the figure that such load disturbs least.

Run: ``.venv/bin/python bench/collect.py [SITE] [--seconds S] [--rounds N]``
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import row
from pymodbus.client import AsyncModbusTcpClient

from twin.collect.modbus import READERS
from twin.collect.scheduler import Collector, CollectorOptions
from twin.live.state import LiveState
from twin.points.registry import parse_registry

ROOT = Path(__file__).parents[1]


def start_sim(site: str) -> tuple[subprocess.Popen, list[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "sim", site, "--modbus-port", "0", "--no-opcua"],
        stdout=subprocess.PIPE,
        text=True,
    )
    ports = []
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.match(r"modbus-tcp\s+127\.0\.0\.1:(\d+)", line)
        if match:
            ports.append(int(match.group(1)))
        if line.startswith("site "):
            break
    return proc, ports


def registry_text(site: str, ports: list[int]) -> str:
    text = subprocess.run(
        [sys.executable, "-m", "twin.cli", "points", site, "--modbus-port", "5020"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for i, port in enumerate(ports):
        text = text.replace(f",127.0.0.1,{5020 + i},", f",127.0.0.1,{port},")
    return text


async def run_collector(registry, seconds: float, interval: float) -> tuple[float, float, list]:
    state = LiveState(registry, interval_s=max(interval, 0.001))
    collector = Collector(registry, state, CollectorOptions(interval_s=interval))
    await collector.start()
    await asyncio.sleep(1.0)  # connect and warm up
    samples0, cpu0, t0 = state.samples, time.process_time(), time.perf_counter()
    lateness_from = len(collector.lateness)
    await asyncio.sleep(seconds)
    samples, cpu, elapsed = (
        state.samples - samples0,
        time.process_time() - cpu0,
        time.perf_counter() - t0,
    )
    lateness = list(collector.lateness)[lateness_from:]
    await collector.stop()
    return samples / elapsed, cpu / elapsed, lateness


async def run_bare(registry, seconds: float) -> tuple[float, float]:
    from twin.collect.modbus import ModbusOptions, plan_blocks

    devices: dict[tuple, list] = {}
    for p in registry.points:
        devices.setdefault(p.device_key, []).append(p)
    counts = [0]
    stop = time.perf_counter() + 1.0 + seconds
    start: list[float] = []  # count, CPU and time after the warm-up

    async def one(key: tuple, points: list) -> None:
        blocks = plan_blocks(points, ModbusOptions())
        client = AsyncModbusTcpClient(key[1], port=key[2], timeout=5, retries=0)
        await client.connect()
        try:
            while time.perf_counter() < stop:
                for block in blocks:
                    reader = getattr(client, READERS[block.table])
                    await reader(block.start, count=block.count, device_id=key[3])
                    counts[0] += len(block.points)
        finally:
            client.close()

    async def mark() -> None:
        await asyncio.sleep(1.0)
        start.extend([counts[0], time.process_time(), time.perf_counter()])

    await asyncio.gather(mark(), *(one(k, v) for k, v in devices.items()))
    elapsed = time.perf_counter() - start[2]
    return (counts[0] - start[0]) / elapsed, (time.process_time() - start[1]) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", default="aidc-10mw")
    parser.add_argument("--seconds", type=float, default=10.0, help="per side, all rounds")
    parser.add_argument("--rounds", type=int, default=3, help="collector/bare alternations")
    args = parser.parse_args()
    proc, ports = start_sim(args.site)
    try:
        registry = parse_registry(registry_text(args.site, ports), Path(f"{args.site}.csv"))
        devices = len({p.device_key for p in registry.points})
        print(f"site {args.site}: {len(registry)} points, {devices} devices, {len(ports)} gateways")
        slice_s = args.seconds / args.rounds
        ours: list[tuple[float, float]] = []  # (points/s, share of a core)
        bare: list[tuple[float, float]] = []
        for r in range(args.rounds):
            for side in (0, 1) if r % 2 == 0 else (1, 0):
                if side == 0:
                    rate, cpu, _ = asyncio.run(run_collector(registry, slice_s, 0.0))
                    ours.append((rate, cpu))
                else:
                    bare.append(asyncio.run(run_bare(registry, slice_s)))
            (rate, cpu), (peer, peer_cpu) = ours[-1], bare[-1]
            print(
                f"round {r + 1}: collector {rate:>9,.0f} points/s  CPU {cpu * 100:5.1f} %   "
                f"bare {peer:>9,.0f} points/s  CPU {peer_cpu * 100:5.1f} %   "
                f"ratio {rate / peer:.2f}"
            )
        rate, cpu = (float(np.median(column)) for column in zip(*ours, strict=True))
        peer, peer_cpu = (float(np.median(column)) for column in zip(*bare, strict=True))
        ratio = float(np.median([a[0] / b[0] for a, b in zip(ours, bare, strict=True)]))
        us = float(np.median([c / r * 1e6 for r, c in ours]))  # CPU µs per point
        peer_us = float(np.median([c / r * 1e6 for r, c in bare]))
        print(f"medians of {args.rounds} rounds:")
        print(f"collector         {rate:>12,.0f} points/s   CPU {cpu * 100:5.1f} % of one core")
        print(f"bare pymodbus     {peer:>12,.0f} points/s   CPU {peer_cpu * 100:5.1f} %"
              "   (same blocks, no decoding)")  # fmt: skip
        print(f"ratio             {ratio:12.2f}       (target >= 0.6; >= 100,000 points/s)")
        print(
            f"CPU per point     {us:12.2f} us   bare {peer_us:.2f} us "
            f"(collector's capacity on one core: {1e6 / us:,.0f} points/s)"
        )
        _, _, lateness = asyncio.run(run_collector(registry, args.seconds, 1.0))
        late = np.array(lateness) * 1e3
        print(
            f"poll start jitter at 1 s: p50 {np.percentile(late, 50):.1f} ms, "
            f"p99 {np.percentile(late, 99):.1f} ms  (target p99 <= 50 ms)"
        )
        row(
            "collector Modbus points/s vs bare pymodbus",
            rate,
            peer,
            ">= 0.6x, >= 100,000/s",
        )
        row("collector CPU [% of a core]", cpu * 100, 100.0, "<= 100")
        row("collector CPU per point vs bare [us]", us, peer_us, "informative")
        row("poll start jitter p99 at 1 s [ms]", float(np.percentile(late, 99)), 50.0, "<= 50")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
