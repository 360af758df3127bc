"""SNMP collection rate: our collector beside a bare pysnmp client doing the same GETs.

Starts ``twin sim SITE --snmp-port 0`` in another process (every UPS and PDU of the
site as an SNMP agent context), then in this process alternates, ``--rounds`` times:

1. the collector polls every agent context back to back (interval 0) through the
   registry ``twin.devices.snmp_registry`` writes (the ``ups-alarm`` rows, which
   cost a GETBULK walk, are left out so both sides send the same GETs);
2. a bare pysnmp hlapi client (``get_cmd``, ``lookupMib=False``) per context sends
   the same OIDs in the same batches in a tight loop, keeping nothing.

Printed: points/s and CPU share of each side, the median ratio. Both sides share
the simulator's one agent process, which is often the limit: the ratio then says
the collector costs the agent no more requests than a bare client.

Run: ``.venv/bin/python bench/collect_snmp.py [SITE] [--seconds S] [--rounds N]``
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import row
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    get_cmd,
)

from twin.collect.scheduler import Collector, CollectorOptions
from twin.collect.snmp import SnmpOptions
from twin.devices.inventory import build
from twin.devices.snmp_registry import snmp_rows, write_snmp_csv
from twin.live.state import LiveState
from twin.plant.layout import assemble
from twin.points.registry import parse_registry
from twin.site import load_site

BATCH = SnmpOptions().max_oids


def start_sim(site: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "sim", site, "--modbus-port", "0", "--no-opcua",
         "--snmp-port", "0"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    port = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.match(r"snmp\s+127\.0\.0\.1:(\d+)", line)
        if match:
            port = int(match.group(1))
        if line.startswith("site "):
            break
    return proc, port


def registry_for(site: str, port: int):
    rows = [r for r in snmp_rows(build(assemble(load_site(site))), "127.0.0.1", port)
            if r["snmp_type"] != "ups-alarm"]  # fmt: skip
    text = io.StringIO()
    write_snmp_csv(rows, text)
    return parse_registry(text.getvalue(), Path(f"{site}-snmp.csv"))


async def run_collector(registry, seconds: float) -> tuple[float, float]:
    state = LiveState(registry, interval_s=0.001)
    collector = Collector(registry, state, CollectorOptions(interval_s=0.0))
    await collector.start()
    await asyncio.sleep(1.0)
    samples0, cpu0, t0 = state.samples, time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    samples, cpu, elapsed = (
        state.samples - samples0, time.process_time() - cpu0, time.perf_counter() - t0,
    )  # fmt: skip
    await collector.stop()
    return samples / elapsed, cpu / elapsed


async def run_bare(registry, seconds: float) -> tuple[float, float]:
    engine = SnmpEngine()
    agents: dict[tuple, list] = {}
    for point in registry.points:
        agents.setdefault(point.snmp.agent_key, []).append(point)
    counts = [0]
    stop = time.perf_counter() + 1.0 + seconds
    start: list[float] = []

    async def one(points: list) -> None:
        address = points[0].snmp
        oids = list(dict.fromkeys(o for p in points for o in p.snmp.oids))
        batches = [
            [ObjectType(ObjectIdentity(".".join(map(str, o)))) for o in oids[i : i + BATCH]]
            for i in range(0, len(oids), BATCH)
        ]
        target = await UdpTransportTarget.create((address.host, address.port), timeout=2, retries=0)
        auth = CommunityData(address.community, mpModel=1)
        while time.perf_counter() < stop:
            for batch in batches:
                error, status, _, binds = await get_cmd(
                    engine, auth, target, ContextData(), *batch, lookupMib=False
                )
                if not error and not status:
                    counts[0] += len(binds)

    async def mark() -> None:
        await asyncio.sleep(1.0)
        start.extend([counts[0], time.process_time(), time.perf_counter()])

    await asyncio.gather(mark(), *(one(v) for v in agents.values()))
    elapsed = time.perf_counter() - start[2]
    engine.close_dispatcher()
    return (counts[0] - start[0]) / elapsed, (time.process_time() - start[1]) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", default="aidc-10mw")
    parser.add_argument("--seconds", type=float, default=10.0, help="per side, all rounds")
    parser.add_argument("--rounds", type=int, default=3, help="collector/bare alternations")
    args = parser.parse_args()
    proc, port = start_sim(args.site)
    try:
        registry = registry_for(args.site, port)
        agents = len({p.snmp.agent_key for p in registry.points})
        print(
            f"site {args.site}: {len(registry)} SNMP points, {agents} agent contexts, port {port}"
        )
        slice_s = args.seconds / args.rounds
        ours, bare = [], []
        for r in range(args.rounds):
            for side in (0, 1) if r % 2 == 0 else (1, 0):
                if side == 0:
                    ours.append(asyncio.run(run_collector(registry, slice_s)))
                else:
                    bare.append(asyncio.run(run_bare(registry, slice_s)))
            (rate, cpu), (peer, peer_cpu) = ours[-1], bare[-1]
            print(f"round {r + 1}: collector {rate:>8,.0f} points/s  CPU {cpu * 100:5.1f} %   "
                  f"bare pysnmp {peer:>8,.0f} points/s  CPU {peer_cpu * 100:5.1f} %   "
                  f"ratio {rate / peer:.2f}")  # fmt: skip
        rate, cpu = (float(np.median(c)) for c in zip(*ours, strict=True))
        peer, peer_cpu = (float(np.median(c)) for c in zip(*bare, strict=True))
        ratio = float(np.median([a[0] / b[0] for a, b in zip(ours, bare, strict=True)]))
        print(f"medians: collector {rate:,.0f} points/s (CPU {cpu * 100:.1f} %), bare pysnmp "
              f"{peer:,.0f} points/s (CPU {peer_cpu * 100:.1f} %), ratio {ratio:.2f}")  # fmt: skip
        row("collector SNMP points/s vs bare pysnmp", rate, peer, ">= 0.6x")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
