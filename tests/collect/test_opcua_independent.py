"""The OPC UA collector against a server from another stack (FreeOpcUa python-opcua).

The server registers an extra namespace first, so the vendor namespace is not at
index 2: the registry names it by URI. A Bad status becomes a bad sample; a server
restart is survived by reconnecting and subscribing again.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from twin.collect.opcua import OpcUaOptions
from twin.collect.scheduler import Collector, CollectorOptions
from twin.live.state import LiveState
from twin.points.quality import Quality
from twin.points.registry import parse_registry

from .collectsite import until

opcua = pytest.importorskip("opcua")  # installed by the test extra
URI = "urn:vendor:plant-room"
POINTS = {"crac1.t_supply_c": 18.5, "crac1.t_return_c": 29.0, "crac1.fan_pct": 62.0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server(port: int, offset: float = 0.0) -> tuple:
    server = opcua.Server()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/vendor/")
    server.register_namespace("urn:someone-else")  # pushes the vendor namespace to 3
    idx = server.register_namespace(URI)
    crac = server.get_objects_node().add_object(opcua.ua.NodeId("crac1", idx), "crac1")
    nodes = {}
    for name, value in POINTS.items():
        nodes[name] = crac.add_variable(opcua.ua.NodeId(name, idx), name, value + offset)
    server.start()
    return server, nodes, idx


def test_subscriptions_bad_status_and_restart() -> None:
    port = _free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/vendor/"
    server, nodes, idx = _server(port)
    assert idx == 3
    lines = ["point,unit,opcua_endpoint,opcua_node_id,range_low,range_high"]
    lines += [f"{n},degC,{endpoint},nsu={URI};s={n},0,100" for n in POINTS]
    registry = parse_registry("\n".join(lines), Path("vendor-opcua.csv"))
    state = LiveState(registry, interval_s=0.5, stale_after=4.0)
    options = OpcUaOptions(sampling_ms=100, publishing_ms=100, backoff_min=0.2, backoff_max=1.0)
    restarted = None

    async def run() -> None:
        nonlocal server, nodes, restarted
        collector = Collector(registry, state, CollectorOptions(interval_s=0.5, opcua=options))
        await collector.start()
        try:
            await until(lambda: bool((state.good_ts > 0).all()), what="every point good")
            values, _ = state.values()
            assert values.tolist() == list(POINTS.values())
            # a Bad status from the server: the sample is bad, its value never shown
            bad = opcua.ua.DataValue(opcua.ua.Variant(0.0, opcua.ua.VariantType.Double))
            bad.StatusCode = opcua.ua.StatusCode(opcua.ua.StatusCodes.BadSensorFailure)
            nodes["crac1.fan_pct"].set_data_value(bad)
            await until(lambda: bool(state.bad[state.index["crac1.fan_pct"]]), what="bad")
            assert state.sample("crac1.fan_pct").value is None
            # restart the server with new values: reconnect, subscribe again
            server.stop()
            await asyncio.sleep(0)
            server, nodes, _ = _server(port, offset=1.0)
            restarted = time.time()
            await until(
                lambda: bool((state.good_ts > restarted).all()), timeout=60, what="good again"
            )
            client = collector.opcua_clients[0]
            assert client.stats.reconnects >= 1 and client.stats.subscribed == 3
        finally:
            await collector.stop()
            server.stop()

    asyncio.run(run())
    values, quality = state.values()
    assert (quality == Quality.GOOD).all()
    np.testing.assert_allclose(values, np.array(list(POINTS.values())) + 1.0)


def test_unchanged_values_stay_good_while_the_subscription_lives() -> None:
    # A subscription reports changes only: a constant value must not turn stale
    # while the session and subscription are healthy, and must once they are gone.
    port = _free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/vendor/"
    server, _, _ = _server(port)
    lines = ["point,unit,opcua_endpoint,opcua_node_id,range_low,range_high"]
    lines += [f"{n},degC,{endpoint},nsu={URI};s={n},0,100" for n in POINTS]
    registry = parse_registry("\n".join(lines), Path("vendor-opcua.csv"))
    state = LiveState(registry, interval_s=0.5, stale_after=2.0)  # stale after 1 s
    options = OpcUaOptions(sampling_ms=100, publishing_ms=100, backoff_min=0.2, backoff_max=1.0)
    stopped = False

    async def run() -> None:
        nonlocal stopped
        collector = Collector(registry, state, CollectorOptions(interval_s=0.5, opcua=options))
        await collector.start()
        try:
            await until(lambda: bool((state.good_ts > 0).all()), what="every point good")
            start = time.time()
            while time.time() < start + 5.0:  # five stale windows, no value changes
                assert (state.qualities() == Quality.GOOD).all(), state.qualities()
                await asyncio.sleep(0.1)
            server.stop()
            stopped = True
            await until(
                lambda: bool((state.qualities() != Quality.GOOD).all()),
                timeout=60,
                what="stale once the server is gone",
            )
        finally:
            await collector.stop()
            if not stopped:
                server.stop()

    asyncio.run(run())
