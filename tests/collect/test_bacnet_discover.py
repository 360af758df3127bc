"""``twin discover bacnet``: Who-Is over a port range, object lists, a draft twin check accepts.

Run against devices of two stacks at once: three simulated chillers (bacpypes3) on
consecutive ports and a device served by @bacnet-js/client. The draft has one row per
object with names, units mapped back to ours, and BACnet addressing; loaded as a
registry and polled, its values are good.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers import bacnetjs
from twin.collect.bacnet import BacnetOptions
from twin.collect.discover_bacnet import MAX_PORTS, discover, parse_ports, write_draft
from twin.collect.scheduler import CollectorOptions
from twin.devices.runner import Options
from twin.points.registry import parse_registry

from ..devices.simthread import SimThread
from .test_bacnet_collect import _poll_once


@pytest.fixture(scope="module")
def site() -> Iterator[SimThread]:
    base = bacnetjs.free_udp_port()  # a probe: the 42 ports above it are very likely free
    with SimThread("aidc-10mw", Options(modbus_port=0, opcua_port=None, bacnet_port=base)) as sim:
        sim.step()
        yield sim


def test_port_ranges_are_bounded() -> None:
    assert parse_ports("47808-47810") == [47808, 47809, 47810]
    for bad in ("0", "47810-47808", "x", f"1-{MAX_PORTS + 1}"):
        with pytest.raises(ValueError):
            parse_ports(bad)


def test_discovery_drafts_a_registry_of_both_stacks(site: SimThread) -> None:
    bacnet = site.sim.bacnet
    assert bacnet is not None
    chillers = [n for n in bacnet.ports if n.startswith("chiller-")]
    ports = sorted(bacnet.ports[n] for n in chillers)
    with bacnetjs.PeerDevice(device_id=260077) as peer:
        rows = asyncio.run(discover("127.0.0.1", list(range(ports[0], ports[-1] + 1)), 1.0))
        peer_rows = asyncio.run(discover("127.0.0.1", [peer.port], 1.0))
        text = io.StringIO()
        write_draft(rows + peer_rows, text)
        registry = parse_registry(text.getvalue(), Path("draft.csv"))
        by = registry.by_name
        assert {p.device for p in registry.points} == {*chillers, "peer-ahu"}
        supply = by["chiller-1.t_chw_supply_c"]
        assert (supply.unit, supply.bacnet_object_type) == ("degC", "analog-input")
        assert supply.bacnet_device == bacnet.plan.instances["chiller-1"]
        assert by["chiller-1.status.running"].bacnet_object_type == "binary-input"
        assert by["peer-ahu.humidity"].unit == "pct"
        assert by["peer-ahu.mode"].bacnet_object_type == "multi-state-input"
        store = asyncio.run(
            _poll_once(
                registry, CollectorOptions(prefer="bacnet", bacnet=BacnetOptions(timeout=1.0))
            )
        )
        good = {p.name for p in registry.points if store.good[p.index]}
        assert {"chiller-1.t_chw_supply_c", "peer-ahu.supply_air_temp"} <= good
