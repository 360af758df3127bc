"""The OPC UA collector over a secure channel: policy, mode, certificate and user from config.

The server is twin's own device server with security on (as
tests/devices/test_opcua_security.py configures it): Basic256Sha256
SignAndEncrypt only, no anonymous access, client certificates checked against a
trust list, users with salted password hashes. Certificates are generated at run
time into the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.sync import Client

from twin.collect.opcua import OpcUaOptions
from twin.collect.scheduler import Collector, CollectorOptions
from twin.devices.opcua_security import Security, UserEntry, password_hash
from twin.devices.runner import Options
from twin.live.state import LiveState
from twin.points.quality import Quality
from twin.points.registry import Registry, parse_registry

from ..devices.simthread import SimThread, client_certificate
from .collectsite import registry_csv, until

CLIENT_URI = "urn:twin:collector"
POINTS = 12  # the first points of the site that have a node id


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimThread, Path, Path]]:
    root = tmp_path_factory.mktemp("opcua-secure-collector")
    trusted = root / "trusted"
    trusted.mkdir()
    key, cert = root / "collector-key.pem", trusted / "collector.der"
    client_certificate(key, cert, CLIENT_URI, "collector")
    security = Security(
        policies=["Basic256Sha256_SignAndEncrypt"],
        allow_anonymous=False,
        trusted_clients=trusted,
        users=[UserEntry(name="bms", password_hash=password_hash("bms-secret"), roles=["read"])],
    )
    options = Options(
        modbus_port=0, opcua_port=0, state_dir=root / "state", opcua_security=security
    )
    with SimThread("legacy-air-2mw", options) as sim:
        sim.step()
        yield sim, cert, key


def _registry(sim: SimThread) -> Registry:
    """A few of the site's points, addressed by OPC UA only (namespace by URI)."""
    assert sim.sim.opcua is not None
    rows = list(csv.DictReader(io.StringIO(registry_csv(sim))))
    rows = [r for r in rows if r["opcua_node_id"] and r["point"].count(".") == 1][:POINTS]
    out = io.StringIO()
    writer = csv.DictWriter(out, ["point", "unit", "opcua_endpoint", "opcua_node_id"])
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                "point": row["point"],
                "unit": row["unit"],
                "opcua_endpoint": sim.sim.opcua.endpoint,
                "opcua_node_id": row["opcua_node_id"],
            }
        )
    return parse_registry(out.getvalue(), Path("secure-opcua.csv"))


def _options(cert: Path, key: Path, password: str) -> OpcUaOptions:
    return OpcUaOptions(
        security=f"Basic256Sha256,SignAndEncrypt,{cert},{key}",
        username="bms",
        password=password,
        sampling_ms=100,
        publishing_ms=100,
        timeout=20,
        backoff_min=0.2,
        backoff_max=1.0,
    )


def _read_independently(sim: SimThread, registry: Registry, cert: Path, key: Path) -> list:
    """The same nodes read by a plain asyncua client on its own secure session."""
    assert sim.sim.opcua is not None
    client = Client(sim.sim.opcua.endpoint, timeout=30)
    client.application_uri = CLIENT_URI
    client.set_security(
        SecurityPolicyBasic256Sha256,
        str(cert),
        str(key),
        mode=ua.MessageSecurityMode.SignAndEncrypt,
    )
    client.set_user("bms")
    client.set_password("bms-secret")
    with client:
        namespaces = client.get_namespace_array()
        values = []
        for point in registry.points:
            uri, _, rest = point.opcua_node_id.removeprefix("nsu=").partition(";")
            node_id = point.opcua_node_id
            if point.opcua_node_id.startswith("nsu="):
                node_id = f"ns={namespaces.index(uri)};{rest}"
            values.append(client.get_node(node_id).read_value())
    return values


def test_collector_reads_over_basic256sha256_sign_and_encrypt(secure) -> None:  # type: ignore[no-untyped-def]
    sim, cert, key = secure
    registry = _registry(sim)
    assert len(registry) == POINTS
    state = LiveState(registry, interval_s=0.5, stale_after=10.0)
    options = CollectorOptions(interval_s=0.5, opcua=_options(cert, key, "bms-secret"))

    async def run() -> None:
        collector = Collector(registry, state, options)
        await collector.start()
        try:
            await until(lambda: bool((state.good_ts > 0).all()), what="every point good")
            client = collector.opcua_clients[0]
            assert client.stats.subscribed == POINTS
            policy = client.client.security_policy  # type: ignore[union-attr]
            assert policy.URI == SecurityPolicyBasic256Sha256.URI
            assert policy.Mode == ua.MessageSecurityMode.SignAndEncrypt
        finally:
            await collector.stop()

    asyncio.run(run())
    values, quality = state.values()
    assert (quality == Quality.GOOD).all()
    wanted = _read_independently(sim, registry, cert, key)
    assert values.tolist() == [float(v) for v in wanted]


def test_wrong_password_is_bad_quality_with_a_reason(secure) -> None:  # type: ignore[no-untyped-def]
    sim, cert, key = secure
    registry = _registry(sim)
    state = LiveState(registry, interval_s=0.5)
    options = CollectorOptions(interval_s=0.5, opcua=_options(cert, key, "guess"))

    async def run() -> None:
        collector = Collector(registry, state, options)
        await collector.start()
        try:
            await until(lambda: bool(state.bad.all()), what="every point bad")
            client = collector.opcua_clients[0]
            # refused again after a backoff step: retried, the task is alive, no crash
            await until(lambda: client.stats.connects >= 2, what="a second attempt")
            assert client.task is not None and not client.task.done()
        finally:
            await collector.stop()

    asyncio.run(run())
    _, quality = state.values()
    assert (quality == Quality.BAD).all()
    assert (state.good_ts == 0).all()
    reason = state.sample(registry.points[0].name).reason
    assert "BadUserAccessDenied" in reason or "BadIdentityTokenRejected" in reason, reason
    assert "'bms'" in reason, reason
