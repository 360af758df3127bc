"""The collector on BACnet/IP: our simulated cooling plant, and a device of another stack.

- Every BACnet row of ``twin points`` for aidc-10mw's cooling plant, read by
  ReadPropertyMultiple, equals the same point read over Modbus (one plant step,
  no step between the reads).
- A device served by @bacnet-js/client (``tests/peers/bacnet-js/device.js``) read
  through a hand-written registry: a healthy sensor is good, a sensor with the
  fault flag and one out of service are bad with that reason, an object the device
  does not have is bad ("unknown-object") without spoiling its batch, a binary
  input reads 1.0; a setpoint write goes out at the configured priority, and the
  device's value-out-of-range refusal comes back as an error naming it.
- A device that does not answer: its points are bad with a timeout reason.
- COV on: a fault on our chiller reaches the receiver by notification, no request
  sent; device.js, which rejects SubscribeCOV, stays polled.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.peers import bacnetjs
from twin.collect.bacnet import BacnetOptions
from twin.collect.scheduler import Collector, CollectorOptions
from twin.devices.faults import DeviceFault
from twin.devices.registry import rows, write_csv
from twin.devices.runner import Options
from twin.points.registry import COLUMNS, parse_registry

from ..devices.simthread import SimThread


class Store:
    """A receiver that keeps the latest value, quality and reason of every point."""

    def __init__(self, n: int) -> None:
        self.values = np.full(n, np.nan)
        self.good = np.zeros(n, bool)
        self.reasons = [""] * n
        self.seen = np.zeros(n, bool)

    def update(self, indices, values, good, ts, reason=""):  # type: ignore[no-untyped-def]
        self.values[indices] = values
        self.good[indices] = good
        self.seen[indices] = True
        for i in np.asarray(indices).tolist():
            self.reasons[i] = reason

    def hold(self, indices, ts):  # type: ignore[no-untyped-def]
        pass


async def _poll_once(registry, options: CollectorOptions, good: bool = False) -> Store:  # type: ignore[no-untyped-def]
    """Collect until every point of the preferred protocol is read (``good``: read good).

    ``good`` is for a plant that should answer in full: on a busy machine a device may
    miss the first poll's APDU timeout and answer the next (the collector retries, as it
    must), so the test waits for that instead of judging the first poll alone.
    """
    store = Store(len(registry))
    collector = Collector(registry, store, options)
    await collector.start()
    try:
        deadline = asyncio.get_running_loop().time() + 60
        wanted = [
            p.index
            for p in registry.points
            if (p.bacnet if options.prefer == "bacnet" else p.modbus)
        ]
        while not (store.good if good else store.seen)[wanted].all():
            assert asyncio.get_running_loop().time() < deadline, "points never read"
            await asyncio.sleep(0.02)
    finally:
        await collector.stop()
    return store


@pytest.fixture(scope="module")
def site() -> Iterator[SimThread]:
    with SimThread("aidc-10mw", Options(modbus_port=0, opcua_port=None, bacnet_port=0)) as sim:
        sim.step()
        yield sim


def test_bacnet_reads_equal_modbus_reads(site: SimThread) -> None:
    inventory = site.sim.inventory
    assert inventory is not None and site.sim.bacnet is not None
    ports = [site.port(i) for i in range(len(inventory.gateways))]
    text = io.StringIO()
    write_csv(rows(inventory, "127.0.0.1", ports, bacnet=site.sim.bacnet.bound), text)
    registry = parse_registry(text.getvalue(), Path("aidc-10mw.csv"))
    served = [p for p in registry.points if p.bacnet]
    assert {p.equipment for p in served} == {"chiller", "crah", "tower", "cdu", "pump"}
    over_bacnet = asyncio.run(_poll_once(registry, CollectorOptions(prefer="bacnet"), good=True))
    over_modbus = asyncio.run(_poll_once(registry, CollectorOptions(prefer="modbus"), good=True))
    index = np.array([p.index for p in served])
    assert over_bacnet.good[index].all(), [
        (p.name, over_bacnet.reasons[p.index]) for p in served if not over_bacnet.good[p.index]
    ]
    # float32 registers and REALs carry the same single-precision number; scaled
    # integers are quantised the same way on both protocols
    np.testing.assert_allclose(
        over_bacnet.values[index], over_modbus.values[index], rtol=1e-6, atol=1e-6
    )


HEADER = (
    "point,device,unit,bacnet_address,bacnet_device,bacnet_object_type,"
    "bacnet_object_instance,writable,min,max,bacnet_priority"
)
REGISTRY = (
    HEADER
    + """
ahu.supply_air_temp,ahu,degC,{address},{device},analog-input,1,,,,
ahu.return_air_temp,ahu,degC,{address},{device},analog-input,2,,,,
ahu.humidity,ahu,pct,{address},{device},analogInput,3,,,,
ahu.fan_running,ahu,,{address},{device},binary-input,1,,,,
ahu.mode,ahu,,{address},{device},multi-state-input,1,,,,
ahu.missing,ahu,degC,{address},{device},analog-input,9,,,,
ahu.supply_air_set,ahu,degC,{address},{device},analog-value,1,yes,0,40,8
gone.temp,gone,degC,127.0.0.1:{silent},77,analog-input,1,,,,
"""
)


def test_collector_reads_and_writes_a_device_of_another_stack() -> None:
    with bacnetjs.PeerDevice() as peer:
        text = REGISTRY.format(
            address=peer.address, device=peer.device_id, silent=bacnetjs.free_udp_port()
        )
        registry = parse_registry(text, Path("peer.csv"))
        options = CollectorOptions(
            prefer="bacnet", bacnet=BacnetOptions(timeout=0.5, max_objects=16, priority=12)
        )
        store = asyncio.run(_poll_once(registry, options))
        by = {p.name: p.index for p in registry.points}
        assert store.good[by["ahu.supply_air_temp"]]
        assert store.values[by["ahu.supply_air_temp"]] == pytest.approx(18.5)
        assert store.values[by["ahu.fan_running"]] == 1.0 and store.good[by["ahu.fan_running"]]
        assert store.values[by["ahu.mode"]] == 2.0 and store.good[by["ahu.mode"]]
        assert not store.good[by["ahu.return_air_temp"]]
        assert store.reasons[by["ahu.return_air_temp"]] == "status flags: fault"
        assert not store.good[by["ahu.humidity"]]
        assert store.reasons[by["ahu.humidity"]] == "status flags: out of service"
        assert not store.good[by["ahu.missing"]]
        assert "unknown-object" in store.reasons[by["ahu.missing"]]
        assert not store.good[by["gone.temp"]]
        assert store.reasons[by["gone.temp"]].startswith("timeout")

        async def writes() -> str:
            collector = Collector(registry, Store(len(registry)), options)
            await collector.start()
            try:
                await collector.write("ahu.supply_air_set", 22.5)
                with pytest.raises(ValueError) as refused:
                    await collector.write("ahu.supply_air_set", 35.0)  # the device allows 10..30
                return str(refused.value)
            finally:
                await collector.stop()

        refusal = asyncio.run(writes())
        assert "value-out-of-range" in refusal
        assert peer.writes == [
            {"objectId": {"type": 2, "instance": 1}, "value": 22.5, "priority": 8}
        ]


def test_the_registry_has_the_bacnet_columns() -> None:
    assert [c for c in COLUMNS if c.startswith("bacnet_")] == [
        "bacnet_address",
        "bacnet_device",
        "bacnet_object_type",
        "bacnet_object_instance",
        "bacnet_property",
        "bacnet_priority",
    ]


def test_cov_reports_a_fault_without_a_poll(site: SimThread) -> None:
    """With COV on, a fault reaches the receiver by notification, not by the next poll."""
    inventory = site.sim.inventory
    assert inventory is not None and site.sim.bacnet is not None
    ports = [site.port(i) for i in range(len(inventory.gateways))]
    text = io.StringIO()
    table = [r for r in rows(inventory, "127.0.0.1", ports, bacnet=site.sim.bacnet.bound)]
    write_csv([r for r in table if r["device"] == "chiller-3" and r.get("bacnet_address")], text)
    registry = parse_registry(text.getvalue(), Path("chiller-3.csv"))
    options = CollectorOptions(
        interval_s=3600.0,  # one poll, then only notifications
        prefer="bacnet",
        bacnet=BacnetOptions(cov=True, cov_refresh_s=3600.0),
    )
    supply = registry.by_name["chiller-3.t_chw_supply_c"].index

    async def run() -> tuple[Store, int, int]:
        store = Store(len(registry))
        collector = Collector(registry, store, options)
        await collector.start()
        try:
            device = collector.bacnet_devices[0]
            deadline = asyncio.get_running_loop().time() + 60
            while not (store.seen.all() and device.cov.live):
                assert asyncio.get_running_loop().time() < deadline, "never subscribed"
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)  # the initial notifications
            assert store.good[supply]
            requests = device.stats.requests
            fault = DeviceFault(device="chiller-3", kind="bad_quality", duration_s=600)
            await asyncio.to_thread(site.run, site.sim.inject, fault)
            await asyncio.to_thread(site.step)
            while store.good[supply]:
                assert asyncio.get_running_loop().time() < deadline, "no COV notification"
                await asyncio.sleep(0.02)
            return store, requests, device.stats.requests
        finally:
            await collector.stop()
            site.run(site.sim.faults.clear, "chiller-3")
            site.step()

    store, before, after = asyncio.run(run())
    assert store.reasons[supply] == "status flags: fault"
    assert after == before  # no request went out: the notification carried it


def test_cov_falls_back_to_polling_where_the_device_has_none() -> None:
    """device.js answers no SubscribeCOV: its objects stay polled, their values fresh."""
    with bacnetjs.PeerDevice() as peer:
        text = REGISTRY.format(
            address=peer.address, device=peer.device_id, silent=bacnetjs.free_udp_port()
        )
        registry = parse_registry(
            "\n".join(line for line in text.splitlines() if not line.startswith("gone.")),
            Path("peer.csv"),
        )
        options = CollectorOptions(
            interval_s=0.2, prefer="bacnet", bacnet=BacnetOptions(timeout=0.5, cov=True)
        )

        async def run() -> tuple[int, set]:
            store = Store(len(registry))
            collector = Collector(registry, store, options)
            await collector.start()
            try:
                device = collector.bacnet_devices[0]
                deadline = asyncio.get_running_loop().time() + 60
                while device.stats.polls < 4:
                    assert asyncio.get_running_loop().time() < deadline
                    await asyncio.sleep(0.05)
                assert store.good[registry.by_name["ahu.supply_air_temp"].index]
                return len(device.cov.live), set(device.cov.refused)
            finally:
                await collector.stop()

        live, refused = asyncio.run(run())
        assert live == 0 and len(refused) == 7  # every object: polled


def test_an_offline_device_times_out_then_recovers(site: SimThread, caplog) -> None:  # type: ignore[no-untyped-def]
    """The device fault ``offline`` makes a BACnet device silent; back, it is read again."""
    inventory = site.sim.inventory
    assert inventory is not None and site.sim.bacnet is not None
    ports = [site.port(i) for i in range(len(inventory.gateways))]
    text = io.StringIO()
    table = rows(inventory, "127.0.0.1", ports, bacnet=site.sim.bacnet.bound)
    write_csv([r for r in table if r["device"] == "fw-tower-1" and r.get("bacnet_address")], text)
    registry = parse_registry(text.getvalue(), Path("fw-tower-1.csv"))
    options = CollectorOptions(interval_s=0.2, prefer="bacnet", bacnet=BacnetOptions(timeout=0.3))
    fan = registry.by_name["fw-tower-1.fan_speed_pct"].index

    async def run() -> list[tuple[bool, str]]:
        store = Store(len(registry))
        collector = Collector(registry, store, options)
        await collector.start()
        seen: list[tuple[bool, str]] = []
        loop = asyncio.get_running_loop()

        async def until(wanted: bool) -> None:
            deadline = loop.time() + 30
            while not (store.seen[fan] and bool(store.good[fan]) == wanted):
                assert loop.time() < deadline, (wanted, store.reasons[fan])
                await asyncio.sleep(0.02)
            seen.append((bool(store.good[fan]), store.reasons[fan]))

        try:
            await until(True)
            fault = DeviceFault(device="fw-tower-1", kind="offline", duration_s=600)
            await asyncio.to_thread(site.run, site.sim.inject, fault)
            await until(False)
            await asyncio.sleep(1.0)  # several more silent polls: logged once
            await asyncio.to_thread(site.run, site.sim.faults.clear, "fw-tower-1")
            await until(True)
        finally:
            await collector.stop()
            site.run(site.sim.faults.clear, "fw-tower-1")
        return seen

    with caplog.at_level("DEBUG", logger="twin.collect.bacnet"):
        seen = asyncio.run(run())
    assert seen[0] == (True, "")
    assert seen[1][0] is False and seen[1][1].startswith("timeout")
    assert seen[2] == (True, "")
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert any("answering again" in r.getMessage() for r in caplog.records)


def test_a_bacnet_point_is_on_its_device_link_for_comms_alarms() -> None:
    from twin.live.alarms import gateway_of

    text = REGISTRY.format(address="127.0.0.1:47900", device=5, silent=47901)
    points = parse_registry(text, Path("peer.csv")).by_name
    assert gateway_of(points["ahu.supply_air_temp"]) == "127.0.0.1:47900"
    assert gateway_of(points["gone.temp"], prefer="bacnet") == "127.0.0.1:47901"


def test_collector_writes_a_crah_setpoint_over_bacnet_and_modbus_reads_it(site: SimThread) -> None:
    """Our collector's BACnet write (float32 setpoint, word-swapped on Modbus) reaches the plant."""
    inventory = site.sim.inventory
    assert inventory is not None and site.sim.bacnet is not None
    ports = [site.port(i) for i in range(len(inventory.gateways))]
    text = io.StringIO()
    write_csv(rows(inventory, "127.0.0.1", ports, bacnet=site.sim.bacnet.bound), text)
    registry = parse_registry(text.getvalue(), Path("aidc-10mw.csv"))
    name = "hall-1-crah01.t_supply_air_set_c"
    before = asyncio.run(_poll_once(registry, CollectorOptions(prefer="modbus"))).values
    target = 24.0 if abs(before[registry.by_name[name].index] - 24.0) > 0.5 else 26.0

    async def write() -> None:
        collector = Collector(registry, Store(len(registry)), CollectorOptions(prefer="bacnet"))
        await collector.start()
        try:
            await collector.write(name, target)
        finally:
            await collector.stop()

    asyncio.run(write())
    site.step()
    after = asyncio.run(_poll_once(registry, CollectorOptions(prefer="modbus")))
    assert after.values[registry.by_name[name].index] == pytest.approx(target)


def test_a_device_exception_fault_shows_as_the_fault_flag(site: SimThread) -> None:
    """The device fault ``exception`` sets reliability communication-failure: bad, flagged."""
    inventory = site.sim.inventory
    assert inventory is not None and site.sim.bacnet is not None
    ports = [site.port(i) for i in range(len(inventory.gateways))]
    text = io.StringIO()
    table = rows(inventory, "127.0.0.1", ports, bacnet=site.sim.bacnet.bound)
    write_csv([r for r in table if r["device"] == "fw-pump-2" and r.get("bacnet_address")], text)
    registry = parse_registry(text.getvalue(), Path("fw-pump-2.csv"))
    options = CollectorOptions(prefer="bacnet")
    try:
        site.run(site.sim.inject, DeviceFault(device="fw-pump-2", kind="exception", duration_s=600))
        site.step()
        store = asyncio.run(_poll_once(registry, options))
    finally:
        site.run(site.sim.faults.clear, "fw-pump-2")
        site.step()
    assert not store.good.any()
    assert set(store.reasons) == {"status flags: fault"}
    assert asyncio.run(_poll_once(registry, options, good=True)).good.all()  # cleared: good again


def test_the_simulation_process_serves_bacnet_and_says_where() -> None:
    """SimulationProcess(bacnet_port=0): its registry carries the ports it bound."""
    from twin.devices.process import SimulationProcess

    process = SimulationProcess("aidc-10mw", opcua_port=None, bacnet_port=0)
    text = process.start()
    try:
        registry = parse_registry(text, Path("aidc-10mw.csv"))
        served = [p for p in registry.points if p.bacnet]
        assert len({p.bacnet_address for p in served}) == len({p.device for p in served}) > 30
        store = asyncio.run(_poll_once(registry, CollectorOptions(prefer="bacnet"), good=True))
        assert store.good[[p.index for p in served]].all()
    finally:
        process.stop()
