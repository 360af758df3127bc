"""``--publish mqtt://HOST[:PORT]``: the live state on an MQTT broker, as Sparkplug B.

One edge node per collector (``twin run`` or ``twin monitor``), its site as the
Sparkplug group, each registry device a Sparkplug device:

- on connect, ``NBIRTH`` (the node's metrics: ``bdSeq``, ``Node Control/Rebirth``,
  the site's PUE, IT and facility power, active alarms, devices lost) and one
  ``DBIRTH`` per device with every point's name, alias, data type, unit, value and
  quality: what a host (Ignition, a historian, ``twin fleet``) needs to read the
  ``DATA`` messages that follow by alias;
- then, every interval, ``NDATA`` and ``DDATA`` *by exception*: only the metrics
  whose value or quality changed since they were last sent;
- ``NDEATH`` (with the same ``bdSeq``) as the MQTT last will, so the broker tells
  every subscriber when this collector dies without saying goodbye (SIGKILL, a
  cut cable) after 1.5 keepalives, and published by hand on a clean stop.

Every message is QoS 1. The publisher runs on a thread and event loop of its own,
reading the live state under the live layer's lock once per interval: a broker
that is slow, down or refusing us never delays a poll. It reconnects with a
backoff capped at 30 s and sends a new birth (``bdSeq`` + 1) each time, as the
specification asks. Credentials come from a file (``--publish-credentials``, two
lines: user name, password), never the command line; ``mqtts://`` uses TLS with
the system's or ``--publish-ca``'s certificates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import ssl
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from twin.argtypes import mqtt_url, read_credentials
from twin.live.state import LiveState
from twin.points import sparkplug
from twin.points.quality import Quality
from twin.points.sparkplug import BOOLEAN, DOUBLE, INT64, UINT64, Metric

log = logging.getLogger(__name__)

__all__ = ["PublishOptions", "SparkplugPublisher", "add_publish_options", "publish_options"]

#: node metric aliases; device points take 1000 + their registry index
_NODE_ALIASES = {
    "bdSeq": 1,
    "Node Control/Rebirth": 2,
    "site/pue": 3,
    "site/it_power_kw": 4,
    "site/facility_power_kw": 5,
    "site/alarms_active": 6,
    "site/devices_lost": 7,
}
_POINT_ALIAS_BASE = 1000


@dataclass
class PublishOptions:
    url: str
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    keepalive_s: int = 10
    interval_s: float = 1.0


def add_publish_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "MQTT (Sparkplug B)",
        "publish the live state to a broker: births with every point's metadata, data by "
        "exception, death as the last will; site = Sparkplug group, collector = edge node",
    )
    group.add_argument(
        "--publish", metavar="URL", type=mqtt_url, help="mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
    )
    group.add_argument(
        "--publish-credentials",
        metavar="FILE",
        type=Path,
        help="file of two lines: user name, password (keep it 0600)",
    )
    group.add_argument("--publish-ca", metavar="FILE", type=Path, help="CA certificate (mqtts)")
    group.add_argument(
        "--publish-keepalive",
        metavar="S",
        type=int,
        default=10,
        help="MQTT keepalive, s: the broker announces a dead collector after 1.5 of them "
        "(default %(default)s)",
    )


def publish_options(args: argparse.Namespace) -> PublishOptions | None:
    """The ``--publish`` options as one object; ValueError names a bad one."""
    url = getattr(args, "publish", None)
    if not url:
        for name in ("publish_credentials", "publish_ca"):
            if getattr(args, name, None):
                raise ValueError(f"--{name.replace('_', '-')} given without --publish")
        return None
    parsed = urllib.parse.urlsplit(url)
    tls = parsed.scheme == "mqtts"
    options = PublishOptions(
        url=url,
        host=parsed.hostname or "",
        port=parsed.port or (8883 if tls else 1883),
        tls=tls,
        ca_file=args.publish_ca,
        keepalive_s=args.publish_keepalive,
        interval_s=getattr(args, "interval", 1.0) or 1.0,
    )
    if not 5 <= options.keepalive_s <= 3600:
        raise ValueError(f"--publish-keepalive must be 5..3600 s, got {options.keepalive_s}")
    if options.ca_file is not None and not options.ca_file.is_file():
        raise ValueError(f"--publish-ca: no file {options.ca_file}")
    if args.publish_credentials is not None:
        options.username, options.password = read_credentials(
            args.publish_credentials, "--publish-credentials"
        )
    return options


class SparkplugPublisher:
    """Publishes a live state as one Sparkplug edge node, on its own thread."""

    def __init__(
        self,
        options: PublishOptions,
        state: LiveState,
        group: str,
        edge_node: str,
        metrics: Any = None,
        alarms: Any = None,
        lock: Any = None,
    ) -> None:
        self.options = options
        self.state = state
        self.group = group
        self.edge_node = edge_node
        self.metrics = metrics
        self.alarms = alarms
        self.lock = lock if lock is not None else threading.RLock()
        self.bd_seq = 0
        self.seq = 0
        self.connected = False
        self.published = 0
        self.reconnects = 0
        self.rebirths = 0  # births sent again because a host asked (NCMD)
        #: what changed, sampled every interval and sent in order: kept through a
        #: broker outage (about 10 minutes of a 300-device site changing every
        #: second) and sent after the new birth as historical data
        self._queue: deque[tuple[str, list[Metric], int]] = deque(maxlen=200_000)
        self.dropped = 0  # messages lost to a full queue (the oldest first)
        self.historical = 0  # messages sent after an outage, flagged is_historical
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sent_value = np.full(len(state.points), np.nan)
        self._sent_quality = np.full(len(state.points), -1)
        self._sent_node: dict[str, Any] = {}
        points = state.points
        self._devices: dict[str, list[int]] = {}
        for p in points:
            self._devices.setdefault(p.device, []).append(p.index)
        self._names = [
            p.name[len(p.device) + 1 :] if p.name.startswith(p.device + ".") else p.name
            for p in points
        ]
        self._types = [BOOLEAN if p.bit is not None else DOUBLE for p in points]

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="twin-mqtt", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Publish NDEATH (a clean goodbye) and stop; bounded by ``timeout``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        import aiomqtt

        # Births carry values: let the collector's first round of polls land first
        # (bounded: gear that never answers is born null and stale).
        deadline = time.monotonic() + max(10.0, 3 * self.options.interval_s)
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self.lock:
                answered = bool(np.all((self.state.good_ts > 0) | (self.state.bad_ts > 0)))
            if answered:
                break
            await asyncio.sleep(0.2)
        sampler: asyncio.Task | None = None
        delay = 1.0
        first = True
        while not self._stop.is_set():
            if not first:
                self.bd_seq = (self.bd_seq + 1) % 256
                self.reconnects += 1
            first = False
            death = sparkplug.encode(
                [Metric("bdSeq", None, UINT64, self.bd_seq)], _now_ms(), seq=None
            )
            will = aiomqtt.Will(self._topic("NDEATH"), death, qos=1, retain=False)
            try:
                async with aiomqtt.Client(
                    self.options.host,
                    self.options.port,
                    username=self.options.username,
                    password=self.options.password,
                    identifier=f"twin-{self.group}-{self.edge_node}",
                    will=will,
                    keepalive=self.options.keepalive_s,
                    timeout=10,
                    tls_context=self._tls(),
                    clean_session=True,
                ) as client:
                    self.connected, self.last_error, delay = True, None, 1.0
                    connected_ms = _now_ms()
                    log.info("MQTT: connected to %s as %s", self.options.url, self.edge_node)
                    # A host that missed our birth asks for another (Node Control/Rebirth).
                    await client.subscribe(self._topic("NCMD"), qos=1)
                    rebirth = asyncio.Event()
                    listener = asyncio.create_task(self._commands(client, rebirth))
                    try:
                        await self._birth(client)
                        if sampler is None:  # from the first birth on, through outages
                            sampler = asyncio.create_task(self._sample())
                        while not self._stop.is_set():
                            if rebirth.is_set():
                                rebirth.clear()
                                self.rebirths += 1
                                await self._birth(client)
                            await self._drain(client, connected_ms)
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(rebirth.wait(), 0.2)
                        await self._drain(client, connected_ms)  # the last samples, then bye
                    finally:
                        listener.cancel()
                    await client.publish(self._topic("NDEATH"), death, qos=1)
                    self.published += 1
            except aiomqtt.MqttError as error:
                message = str(error)
                if self.last_error is None:  # once per outage, then quiet until it recovers
                    log.error(
                        "MQTT: %s: %s; retrying, samples kept meanwhile (up to %d messages)",
                        self.options.url, message, self._queue.maxlen,
                    )  # fmt: skip
                self.last_error = message
            finally:
                self.connected = False
            if not self._stop.is_set():
                await asyncio.to_thread(self._stop.wait, delay)
                delay = min(30.0, delay * 2)
        if sampler is not None:
            sampler.cancel()

    async def _sample(self) -> None:
        """Every interval, what changed (by exception) joins the queue, connected or not."""
        while True:
            await asyncio.sleep(self.options.interval_s)
            stamp = _now_ms()
            node = self._node_values()
            changed = [
                self._node_metric(name, value, birth=False)
                for name, value in node.items()
                if self._sent_node.get(name) != value
            ]
            self._sent_node.update(node)
            if changed:
                self._enqueue((self._topic("NDATA"), changed, stamp))
            for device, indices in self._devices.items():
                metrics = self._point_metrics(indices, birth=False)
                if metrics:
                    self._enqueue((self._topic("DDATA", device), metrics, stamp))

    def _enqueue(self, message: tuple[str, list[Metric], int]) -> None:
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1  # the oldest goes: counted, and said in the summary
        self._queue.append(message)

    async def _drain(self, client: Any, connected_ms: int) -> None:
        """Send the queue in order; what was sampled before this connection is historical."""
        while self._queue:
            topic, metrics, stamp = self._queue[0]
            if stamp < connected_ms:
                metrics = [dataclasses.replace(m, historical=True) for m in metrics]
                self.historical += 1
            payload = sparkplug.encode(metrics, stamp, seq=self._next_seq())
            await client.publish(topic, payload, qos=1)  # MqttError: it stays queued
            self._queue.popleft()
            self.published += 1

    async def _commands(self, client: Any, rebirth: asyncio.Event) -> None:
        async for message in client.messages:
            try:
                metrics = sparkplug.decode(bytes(message.payload or b""))["metrics"]
            except Exception:  # a command we cannot read is ignored, never fatal
                continue
            if any(m["name"] == "Node Control/Rebirth" and m["value"] for m in metrics):
                rebirth.set()

    def _tls(self) -> ssl.SSLContext | None:
        if not self.options.tls:
            return None
        ca = str(self.options.ca_file) if self.options.ca_file else None
        return ssl.create_default_context(cafile=ca)

    def _topic(self, kind: str, device: str | None = None) -> str:
        return sparkplug.topic(self.group, kind, self.edge_node, device)

    # ------------------------------------------------------------ messages

    def _next_seq(self) -> int:
        seq, self.seq = self.seq, (self.seq + 1) % 256
        return seq

    def _node_values(self) -> dict[str, Any]:
        with self.lock:
            last = getattr(self.metrics, "last", None) if self.metrics is not None else None
            active = len(self.alarms.active()) if self.alarms is not None else None
            lost = self.alarms.comms_lost() if self.alarms is not None else None

        def good(value: Any) -> float | None:
            if value is None or value.quality != Quality.GOOD:
                return None
            return float(value.value)

        return {
            "site/pue": good(last.pue) if last else None,
            "site/it_power_kw": good(last.it_kw) if last else None,
            "site/facility_power_kw": good(last.facility_kw) if last else None,
            "site/alarms_active": active,
            "site/devices_lost": len(lost["devices"]) if lost is not None else None,
        }

    def _node_metric(self, name: str, value: Any, birth: bool) -> Metric:
        kind = INT64 if name in ("site/alarms_active", "site/devices_lost") else DOUBLE
        return Metric(name if birth else None, _NODE_ALIASES[name], kind, value, _now_ms())

    def _point_metrics(self, indices: list[int], birth: bool) -> list[Metric]:
        with self.lock:
            now = time.time()
            values = self.state.value[indices]
            qualities = self.state.qualities(now)[indices]
        stamp = _now_ms()
        out = []
        for i, value, quality in zip(indices, values.tolist(), qualities.tolist(), strict=True):
            changed = (
                birth
                or quality != self._sent_quality[i]
                or (quality == Quality.GOOD and value != self._sent_value[i])
            )
            if not changed:
                continue
            self._sent_value[i], self._sent_quality[i] = value, quality
            point = self.state.points[i]
            out.append(
                Metric(
                    self._names[i] if birth else None,
                    _POINT_ALIAS_BASE + i,
                    self._types[i],
                    value if quality == Quality.GOOD else None,
                    stamp,
                    quality=int(quality),
                    unit=(point.unit or None) if birth else None,
                )
            )
        return out

    async def _birth(self, client: Any) -> None:
        self.seq = 0
        node = self._node_values()
        self._sent_node = dict(node)
        metrics = [
            Metric("bdSeq", _NODE_ALIASES["bdSeq"], UINT64, self.bd_seq),
            Metric("Node Control/Rebirth", _NODE_ALIASES["Node Control/Rebirth"], BOOLEAN, False),
            *(self._node_metric(name, value, birth=True) for name, value in node.items()),
        ]
        await self._send(client, self._topic("NBIRTH"), metrics)
        for device, indices in self._devices.items():
            await self._send(
                client, self._topic("DBIRTH", device), self._point_metrics(indices, birth=True)
            )

    async def _send(self, client: Any, topic: str, metrics: list[Metric]) -> None:
        payload = sparkplug.encode(metrics, _now_ms(), seq=self._next_seq())
        await client.publish(topic, payload, qos=1)
        self.published += 1

    def status(self) -> dict[str, Any]:
        """For the JSON summary and the status line."""
        return {
            "url": self.options.url,
            "group": self.group,
            "edge_node": self.edge_node,
            "connected": self.connected,
            "messages_published": self.published,
            "reconnects": self.reconnects,
            "rebirths": self.rebirths,
            "historical_messages": self.historical,
            "queued_messages": len(self._queue),
            "dropped_messages": self.dropped,
            "error": self.last_error,
        }


def _now_ms() -> int:
    return int(time.time() * 1000)


def edge_node_name(collector: str | None = None) -> str:
    """The Sparkplug edge node id: the collector's name (a shard's), else the host's."""
    import socket

    return collector or socket.gethostname() or "twin"


def start_publisher(
    options: PublishOptions | None,
    state: LiveState,
    group: str,
    edge_node: str,
    **sources: Any,
) -> SparkplugPublisher | None:
    """Start publishing if ``--publish`` was given (else None)."""
    if options is None:
        return None
    publisher = SparkplugPublisher(options, state, group, edge_node, **sources)
    publisher.start()
    return publisher
