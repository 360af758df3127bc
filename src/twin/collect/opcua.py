"""OPC UA collection: subscriptions (monitored items) by default, polling as a fallback.

One client per server endpoint. Node ids may name their namespace by URI
(``nsu=urn:vendor;s=AHU1.Temp``): the URI is resolved against the server's
namespace array on every (re)connection, so a server that renumbers its
namespaces does not break them. Monitored items are created in batches with the
configured sampling interval; notifications with a Bad status become bad samples
(never a fresh value). If the server refuses subscriptions the client polls with
``read`` at the collector's interval. A lost connection (keep-alive failure,
server restart) is reconnected with exponential backoff and jitter (capped by the
poll interval: :mod:`twin.collect.backoff`), and the
subscription is created again. Security policy, mode, certificate and user come
from :class:`OpcUaOptions`; the session's application URI is the certificate's. A
session the server refuses (wrong password, untrusted certificate) makes the
points bad with the server's reason, and is retried with backoff.

A bad point is bad on its own: a node id that does not parse or names a namespace
URI the server does not have, a monitored item the server refuses, a Bad status, a
value that is not a number, or one outside the row's range makes that row's point
bad with the reason (the status code's name and number where there is one), logged
once per point and kind of reason with the row's line, while every other row of
the server is read as usual. Node ids are resolved again at every reconnection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass, field

import numpy as np
from asyncua import Client, ua

from twin.collect.backoff import (
    BACKOFF_FLOOR_S,
    BACKOFF_INTERVALS,
    BACKOFF_MAX_S,
    BACKOFF_MIN_S,
    JITTER,
    reconnect_delay,
)
from twin.collect.receiver import Receiver
from twin.points.registry import PointDef

log = logging.getLogger(__name__)


@dataclass
class OpcUaOptions:
    endpoint: str = ""  # for rows without opcua_endpoint
    mode: str = "subscribe"  # or "poll"
    sampling_ms: float = 500.0
    publishing_ms: float = 500.0
    batch: int = 1000  # monitored items per CreateMonitoredItems call
    queue_size: int = 1
    timeout: float = 10.0
    # "Basic256Sha256,SignAndEncrypt,client-cert.pem,client-key.pem[,server-cert.der]"
    security: str | None = None
    username: str | None = None
    password: str | None = None
    backoff_min: float = BACKOFF_MIN_S
    backoff_max: float = BACKOFF_MAX_S  # whatever the poll interval
    backoff_intervals: float = BACKOFF_INTERVALS  # the cap, in poll intervals
    backoff_floor: float = BACKOFF_FLOOR_S  # the cap is never below this [s]
    jitter: float = JITTER


@dataclass
class _Stats:
    connects: int = 0
    subscribed: int = 0
    notifications: int = 0
    polls: int = 0
    reconnects: int = 0
    connect_times: list[float] = field(default_factory=list)


class _Handler:
    def __init__(self, client: OpcUaClient) -> None:
        self.client = client

    def datachange_notification(self, node, value, data) -> None:
        indices = self.client.by_node.get(node.nodeid)
        if not indices:
            return
        status = data.monitored_item.Value.StatusCode
        self.client.stats.notifications += 1
        self.client.deliver(indices, [value] * len(indices), [status] * len(indices))

    def status_change_notification(self, status) -> None:
        log.warning("%s: subscription status %s", self.client.endpoint, status)
        self.client.lost.set()


async def _certificate_uri(path: str) -> str | None:
    """The application URI (a URI subject alternative name) of a certificate file."""
    from asyncua.crypto import uacrypto
    from cryptography import x509

    cert = await uacrypto.load_certificate(path)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def status_text(status: ua.StatusCode) -> str:
    """``BadNodeIdUnknown (0x80340000)``: the name and the number a vendor's manual uses."""
    try:
        name = status.name
    except Exception:  # a code the stack does not know
        name = "status"
    return f"{name} (0x{int(status.value):08X})"


def parse_node_id(text: str, namespaces: list[str]) -> ua.NodeId:
    """A node id from ``ns=…;`` or ``nsu=URI;`` text, resolved against ``namespaces``."""
    if text.startswith("nsu="):
        uri, _, rest = text[4:].partition(";")
        if uri not in namespaces:
            raise ValueError(f"namespace {uri!r} is not on the server")
        text = f"ns={namespaces.index(uri)};{rest}"
    return ua.NodeId.from_string(text)


class OpcUaClient:
    """The points of one OPC UA server, subscribed (or polled) into the live state."""

    def __init__(
        self,
        endpoint: str,
        points: list[PointDef],
        state: Receiver,
        options: OpcUaOptions,
        interval_s: float,
    ) -> None:
        self.endpoint = endpoint
        self.points = points
        self.state = state
        self.options = options
        self.interval_s = interval_s
        self.stats = _Stats()
        self.by_node: dict[ua.NodeId, list[int]] = {}  # node → point indices (bits share)
        self.lost = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.client: Client | None = None
        self.failures = 0
        self.mode = options.mode
        self._poller: asyncio.Task | None = None
        self._rng = random.Random()
        self._low = np.array([-np.inf if p.range_low is None else p.range_low for p in points])
        self._high = np.array([np.inf if p.range_high is None else p.range_high for p in points])
        self._position = {p.index: i for i, p in enumerate(points)}
        self._logged: set[tuple[int, str]] = set()  # (point index, kind) already logged

    def bad(self, indices: list[int], kind: str, reason: str, ts: float | None = None) -> None:
        """Points (registry indices) bad for ``reason``; each logged once per ``kind``."""
        for i in indices:
            if (i, kind) not in self._logged:
                self._logged.add((i, kind))
                point = self.points[self._position[i]]
                log.warning(
                    "%s: row %d, point %s (node %s): %s",
                    self.endpoint,
                    point.line,
                    point.name,
                    point.opcua_node_id,
                    reason,
                )
        n = len(indices)
        self.state.update(
            np.asarray(indices, dtype=np.int64),
            np.full(n, np.nan),
            np.zeros(n, bool),
            time.time() if ts is None else ts,
            reason,
        )

    def deliver(
        self, indices: list[int], values: list, statuses: list[ua.StatusCode | None]
    ) -> None:
        """Values into the state, with the same quality rules as Modbus."""
        ts = time.time()
        good_at: list[int] = []
        good_values: list[float] = []
        bad: dict[str, tuple[str, list[int]]] = {}  # reason → (kind, point indices)
        for i, value, status in zip(indices, values, statuses, strict=True):
            k = self._position[i]
            if status is not None and not status.is_good():
                kind, reason = status_text(status), f"OPC UA {status_text(status)}"
            elif isinstance(value, bool | int | float | np.number):
                number = float(value)
                point = self.points[k]
                if point.bit is not None and np.isfinite(number):
                    number = float((int(number) >> point.bit) & 1)
                if not np.isfinite(number):
                    kind, reason = "not finite", f"value {number} is not a number"
                elif not self._low[k] <= number <= self._high[k]:
                    kind = "out of range"
                    reason = (
                        f"value {number:g} outside the row's range "
                        f"[{self._low[k]:g}, {self._high[k]:g}]"
                    )
                else:
                    good_at.append(i)
                    good_values.append(number)
                    continue
            else:
                kind = "wrong type"
                shown = repr(value)
                shown = shown if len(shown) <= 40 else shown[:37] + "..."
                reason = f"value {shown} of type {type(value).__name__}, not a number"
            bad.setdefault(reason, (kind, []))[1].append(i)
        if good_at:
            n = len(good_at)
            self.state.update(
                np.asarray(good_at, dtype=np.int64), np.asarray(good_values), np.ones(n, bool), ts
            )
        for reason, (kind, where) in bad.items():
            self.bad(where, kind, reason, ts)

    async def _connect(self) -> list[tuple[PointDef, ua.NodeId]]:
        opts = self.options
        # asyncua probes the server every watchdog interval and gives it that long to
        # answer (1 s by default): a server busy creating 17k monitored items misses
        # that and the session is torn down and rebuilt. Half the request timeout still
        # finds a silent link in seconds; a closed socket is noticed at once anyway.
        client = Client(
            self.endpoint, timeout=opts.timeout, watchdog_intervall=max(1.0, opts.timeout / 2)
        )
        if opts.security:
            # Servers check that the session's application URI is the certificate's
            # (BadCertificateUriInvalid otherwise): take it from the certificate.
            parts = opts.security.split(",")
            if len(parts) >= 3:
                uri = await _certificate_uri(parts[2])
                if uri:
                    client.application_uri = uri
            await client.set_security_string(opts.security)
        if opts.username:
            client.set_user(opts.username)
            client.set_password(opts.password or "")
        self.stats.connects += 1
        self.stats.connect_times.append(time.monotonic())
        try:
            await client.connect()
        except ua.UaStatusCodeError as error:
            # The server answered and said no (user, password, certificate, policy):
            # not a link that will come back by itself, so the points are bad, with why.
            who = f" as {opts.username!r}" if opts.username else " (anonymous)"
            reason = f"OPC UA session refused{who}: {error}"
            n = len(self.points)
            self.state.update(
                np.array([p.index for p in self.points], dtype=np.int64),
                np.full(n, np.nan),
                np.zeros(n, bool),
                time.time(),
                reason,
            )
            raise ConnectionError(reason) from None
        self.client = client
        namespaces = await client.get_namespace_array()
        return self._resolve(namespaces)

    def _resolve(self, namespaces: list[str]) -> list[tuple[PointDef, ua.NodeId]]:
        """The rows' node ids on this server; a row that does not resolve is bad alone."""
        resolved: list[tuple[PointDef, ua.NodeId]] = []
        for point in self.points:
            try:
                node = parse_node_id(point.opcua_node_id, namespaces)
            except Exception as error:  # ValueError, UaStringParsingError...
                self.bad([point.index], "node id", f"node id not usable: {error}")
                continue
            resolved.append((point, node))
        return resolved

    async def _subscribe(self, nodes: list[tuple[PointDef, ua.NodeId]]) -> None:
        assert self.client is not None
        opts = self.options
        self.by_node = {}
        for point, node in nodes:
            self.by_node.setdefault(node, []).append(point.index)
        unique = list(self.by_node)
        subscription = await self.client.create_subscription(opts.publishing_ms, _Handler(self))
        subscribed = 0
        for start in range(0, len(unique), opts.batch):
            chunk = [self.client.get_node(n) for n in unique[start : start + opts.batch]]
            handles = await subscription.subscribe_data_change(
                chunk, queuesize=opts.queue_size, sampling_interval=opts.sampling_ms
            )
            for node, handle in zip(chunk, handles, strict=True):
                if isinstance(handle, int):
                    subscribed += 1
                    continue
                indices = self.by_node[node.nodeid]  # refused (e.g. BadNodeIdUnknown)
                if isinstance(handle, ua.StatusCode):
                    text = status_text(handle)
                    self.bad(indices, text, f"monitored item refused: OPC UA {text}")
                else:
                    self.bad(indices, "refused", f"monitored item refused: {handle}")
        self.stats.subscribed = subscribed

    async def _poll(self, nodes: list[tuple[PointDef, ua.NodeId]]) -> None:
        assert self.client is not None
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        node_objects = [self.client.get_node(n) for _, n in nodes]
        rows = [p.index for p, _ in nodes]
        while True:
            next_at += self.interval_s
            self.stats.polls += 1
            for start in range(0, len(node_objects), self.options.batch):
                chunk = node_objects[start : start + self.options.batch]
                results = await self.client.read_attributes(chunk, ua.AttributeIds.Value)
                indices = rows[start : start + len(chunk)]
                values = [r.Value.Value if r.Value is not None else None for r in results]
                self.deliver(indices, values, [r.StatusCode for r in results])
            await asyncio.sleep(max(next_at - loop.time(), 0.0))

    async def run(self) -> None:
        while True:
            try:
                nodes = await self._connect()
                self.lost.clear()
                if self.mode == "subscribe":
                    try:
                        await self._subscribe(nodes)
                    except ua.UaStatusCodeError as error:
                        log.warning("%s: no subscriptions (%s); polling", self.endpoint, error)
                        self.mode = "poll"
                if self.failures:
                    log.warning("%s: reconnected", self.endpoint)
                    self.stats.reconnects += 1
                self.failures = 0
                poller = asyncio.create_task(self._poll(nodes)) if self.mode == "poll" else None
                self._poller = poller
                held = np.array([p.index for p, _ in nodes], dtype=np.int64)
                while not self.lost.is_set():  # keep-alive: the client's own check
                    if poller is not None and poller.done():
                        poller.result()
                    await self.client.check_connection()  # type: ignore[union-attr]
                    if poller is None:  # subscribed and alive: silence means unchanged
                        self.state.hold(held, time.time())
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self.lost.wait(), timeout=min(1.0, self.interval_s / 2)
                        )
                raise ConnectionError("subscription lost")
            except asyncio.CancelledError:
                raise
            except Exception as error:  # connection refused, keep-alive failure, server gone
                self.failures += 1
                o = self.options
                delay = reconnect_delay(
                    self.failures, self.interval_s, minimum=o.backoff_min,
                    maximum=o.backoff_max, per_interval=o.backoff_intervals,
                    floor=o.backoff_floor, jitter=o.jitter, rng=self._rng,
                )  # fmt: skip
                level = logging.ERROR if self.failures == 1 else logging.DEBUG
                log.log(level, "%s: %s; reconnecting in %.2f s", self.endpoint, error, delay)
                await self._disconnect()
                await asyncio.sleep(delay)

    async def _disconnect(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self.client is not None:
            client, self.client = self.client, None
            try:
                await asyncio.wait_for(client.disconnect(), timeout=2.0)
            except Exception:  # the server may already be gone
                client.disconnect_socket()

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self._disconnect()


async def start_opcua(
    points: list[PointDef], state: Receiver, options: OpcUaOptions, interval_s: float
) -> list[OpcUaClient]:
    """One client task per endpoint."""
    by_endpoint: dict[str, list[PointDef]] = {}
    for point in points:
        endpoint = point.opcua_endpoint or options.endpoint
        if not endpoint:
            raise ValueError(f"{point.name}: no opcua_endpoint and no default endpoint")
        by_endpoint.setdefault(endpoint, []).append(point)
    clients = []
    for endpoint, members in by_endpoint.items():
        client = OpcUaClient(endpoint, members, state, options, interval_s)
        client.task = asyncio.get_running_loop().create_task(client.run(), name=endpoint)
        clients.append(client)
    return clients
