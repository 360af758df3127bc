"""BACnet/IP collector: points read per second beside a bare bacpypes3 client (not a test).

Starts the site's simulation in its own process (``SimulationProcess`` with BACnet/IP
on free ports: the cooling plant, one device per port) and takes its registry's
BACnet rows. Then, in this process, alternating for ``--rounds`` rounds:

1. the collector (``prefer="bacnet"``, back-to-back polls: interval 0), every device
   its own task, ReadPropertyMultiple batches of 16 objects with their status
   flags, decoding and quality rules into a LiveState: points read per second;
2. the peer: one bare bacpypes3 Application, one task per device sending the same
   ReadPropertyMultiple requests (same objects, same properties) back to back and
   only counting the values that come back: points per second.

Printed are the medians and their ratio (collector / bare client; 1.0 means the
collector's own work costs nothing beside the stack's).

Run: ``.venv/bin/python bench/collect_bacnet.py [--site SITE] [--seconds S] [--rounds R]``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from bacpypes3.app import Application
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.pdu import Address
from common import row

from twin.collect.bacnet import BacnetDevice
from twin.collect.scheduler import Collector, CollectorOptions
from twin.devices.process import SimulationProcess
from twin.live.state import LiveState
from twin.points.registry import Registry, parse_registry


async def collector_rate(registry, seconds: float) -> float:  # type: ignore[no-untyped-def]
    state = LiveState(registry)
    collector = Collector(registry, state, CollectorOptions(interval_s=0.0, prefer="bacnet"))
    await collector.start()
    try:
        await asyncio.sleep(1.0)  # warm-up: the first requests
        start = sum(d.stats.points_read for d in collector.bacnet_devices)
        began = time.perf_counter()
        await asyncio.sleep(seconds)
        done = sum(d.stats.points_read for d in collector.bacnet_devices) - start
        return done / (time.perf_counter() - began)
    finally:
        await collector.stop()


async def bare_rate(registry, seconds: float) -> float:  # type: ignore[no-untyped-def]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = Application.from_object_list(
        [
            DeviceObject(
                objectIdentifier=("device", 4194299), objectName="bare", vendorIdentifier=999
            ),
            NetworkPortObject(
                f"127.0.0.1:{port}", objectIdentifier=("network-port", 1), objectName="np"
            ),
        ]
    )
    # the same requests the collector sends: build them with its own batching
    by_device: dict[tuple, list] = {}
    for p in registry.points:
        if p.bacnet:
            by_device.setdefault((p.bacnet_address, p.bacnet_device), []).append(p)
    plans = []
    for points in by_device.values():
        device = BacnetDevice.__new__(BacnetDevice)  # only its batching, no client
        BacnetDevice.__init__(device, points, _NoClient(), None)
        requests = []
        for batch in device.batches:
            parameters: list = []
            for read in batch:
                parameters += [read.object_id, read.properties]
            requests.append((len([p for r in batch for p in r.points]), parameters))
        plans.append((Address(points[0].bacnet_address), requests))
    counted = [0]
    stop = False

    async def loop(address: Address, requests: list) -> None:
        while not stop:
            for points, parameters in requests:
                result = await app.read_property_multiple(address, parameters)
                if isinstance(result, list):
                    counted[0] += points

    tasks = [asyncio.create_task(loop(a, r)) for a, r in plans]
    try:
        await asyncio.sleep(1.0)
        start = counted[0]
        began = time.perf_counter()
        await asyncio.sleep(seconds)
        return (counted[0] - start) / (time.perf_counter() - began)
    finally:
        stop = True
        await asyncio.gather(*tasks, return_exceptions=True)
        app.close()


class _NoClient:
    """Stands in for BacnetClient where only BacnetDevice's request plan is wanted."""

    def __init__(self) -> None:
        from twin.collect.bacnet import BacnetOptions

        self.options = BacnetOptions()
        self.app = None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default="aidc-10mw")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sim = SimulationProcess(args.site, opcua_port=None, bacnet_port=0)
    text = sim.start()
    try:
        sim.go()
        full = parse_registry(text, Path(f"{args.site}.csv"))
        # only the BACnet rows: the Modbus gear would be polled back to back beside them
        served = [p for p in full.points if p.bacnet]
        registry = Registry(full.path, [replace(p, index=i) for i, p in enumerate(served)])
        points = sum(1 for p in registry.points if p.bacnet)
        devices = len({p.bacnet_device for p in registry.points if p.bacnet})
        print(f"{args.site}: {devices} BACnet devices, {points} points")
        ours, bare = [], []
        for round_ in range(args.rounds):
            pair = [("twin", collector_rate), ("bare", bare_rate)]
            if round_ % 2:
                pair.reverse()
            for name, run in pair:
                rate = asyncio.run(run(registry, args.seconds))
                (ours if name == "twin" else bare).append(rate)
                print(f"round {round_ + 1}: {name} {rate:,.0f} points/s", flush=True)
        twin_rate, bare_rate_ = statistics.median(ours), statistics.median(bare)
        print(f"median: collector {twin_rate:,.0f} points/s, bare bacpypes3 {bare_rate_:,.0f}")
        row("BACnet RPM points/s (collector vs bare bacpypes3)", twin_rate, bare_rate_, ">= 0.8")
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
