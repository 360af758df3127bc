"""SNMP polling (pysnmp 7): GETs batched per agent, GETBULK for the UPS-MIB alarm table.

One :class:`SnmpAgentPoller` per agent and security context (host, port, version,
community or user, context), polled on its own clock by
:mod:`twin.collect.scheduler` like a Modbus device. All pollers share one pysnmp
engine and one UDP socket; requests go through pysnmp's command generators with
the registry's numeric OIDs as they are (no MIB look-up on the hot path).

- Batching: a poll sends the agent's instance OIDs in GETs of at most
  ``max_oids`` var-binds; a ``tooBig`` reply halves the batch size for that agent
  (kept for later polls). Rows whose OIDs are joined by ``+`` are summed.
- Tables: ``ups-alarm`` rows are answered by one GETBULK walk of
  ``upsAlarmDescr`` per poll (plus a GET of ``upsAlarmsPresent``, so an agent with
  no UPS-MIB alarm table makes them bad instead of "no alarm").
- Quality: ``noSuchObject``, ``noSuchInstance``, ``endOfMibView``, a syntax other
  than the row's ``snmp_type``, or a value outside ``[range_low, range_high]``
  makes that row bad with the reason; an error status (``genErr``,
  ``authorizationError``…) makes the request's rows bad with its name; an
  authentication or context failure makes the agent's rows bad with pysnmp's
  indication. A timeout makes the agent's rows bad (``timeout: no reply from
  host:port``) once, then they are left to age while the agent waits out its
  backoff (:mod:`twin.collect.backoff`), as a Modbus device's are.
- Logging: the first failure of an agent at ERROR, then DEBUG until it answers
  again (WARNING "recovered"). No key is ever logged.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from dataclasses import dataclass, field

import numpy as np
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config
from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.hlapi.v3arch.asyncio.auth import CommunityData, UsmUserData
from pysnmp.hlapi.v3arch.asyncio.lcd import CommandGeneratorLcdConfigurator
from pysnmp.hlapi.v3arch.asyncio.transport import UdpTransportTarget
from pysnmp.proto import rfc1902, rfc1905

from twin.collect.backoff import reconnect_delay
from twin.collect.modbus import DeviceStats, Sink
from twin.points.registry import PointDef
from twin.points.snmp import UPS_ALARM_DESCR, SnmpAddress, SnmpSecurity

log = logging.getLogger(__name__)

UPS_ALARMS_PRESENT = (1, 3, 6, 1, 2, 1, 33, 1, 6, 1, 0)
#: the SMI syntaxes each ``snmp_type`` accepts (Gauge32 and Unsigned32 share a tag)
SYNTAX = {
    "integer": rfc1902.Integer32.tagSet,
    "gauge32": rfc1902.Gauge32.tagSet,
    "unsigned32": rfc1902.Unsigned32.tagSet,
    "counter32": rfc1902.Counter32.tagSet,
    "counter64": rfc1902.Counter64.tagSet,
    "timeticks": rfc1902.TimeTicks.tagSet,
}
EXCEPTIONS = {
    rfc1905.noSuchObject.tagSet: "noSuchObject",
    rfc1905.noSuchInstance.tagSet: "noSuchInstance",
    rfc1905.endOfMibView.tagSet: "endOfMibView",
}
NULL = rfc1902.Null("")
_GET = cmdgen.GetCommandGenerator()
_BULK = cmdgen.BulkCommandGenerator()


@dataclass
class SnmpOptions:
    timeout: float = 2.0  # per request [s]
    retries: int = 0  # a missed poll is retried by the next poll, not by the request
    max_oids: int = 32  # var-binds per GET
    bulk_repetitions: int = 25
    security: SnmpSecurity = field(default_factory=SnmpSecurity)
    jitter: float = 0.2


class _Failure(Exception):
    """A request got no usable reply; ``reason`` says why, ``timeout`` if none at all."""

    def __init__(self, reason: str, timeout: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout


class SnmpAgentPoller:
    """The points of one agent and security context, read once per poll."""

    def __init__(
        self,
        points: list[PointDef],
        engine: SnmpEngine,
        options: SnmpOptions | None = None,
        interval_s: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        first = points[0].snmp
        assert first is not None
        self.address: SnmpAddress = first
        self.points = points
        self.name = points[0].device
        self.engine = engine
        self.options = options or SnmpOptions()
        self.interval_s = points[0].interval_s or interval_s
        self.stats = DeviceStats()
        self.batch = max(1, self.options.max_oids)
        self.down = False
        self.failures = 0
        self.retry_at = 0.0
        self._rng = rng or random.Random()
        self._target: str | None = None
        self._logged: set[tuple[int, str]] = set()
        self._context = b"" if first.version == "2c" else first.context.encode()
        self.scalars = [p for p in points if p.snmp and p.snmp.type != "ups-alarm"]
        self.alarms = [p for p in points if p.snmp and p.snmp.type == "ups-alarm"]
        #: every instance OID of the scalar rows, each once, in request order
        self.oids = list(dict.fromkeys(oid for p in self.scalars for oid in p.snmp.oids))  # type: ignore[union-attr]

    def where(self) -> str:
        a = self.address
        who = f"user {a.user} context {a.context!r}" if a.version == "3" else "v2c"
        return f"({a.host}:{a.port} {who})"

    # ------------------------------------------------------------- set-up

    async def _ensure_target(self) -> str:
        if self._target is not None:
            return self._target
        a = self.address
        if a.version == "2c":
            community = a.community or self.options.security.community
            index = f"twin-{abs(hash((a.host, a.port, community)))}"
            auth: CommunityData | UsmUserData = CommunityData(index, community, mpModel=1)
        else:
            user = self.options.security.user(a.user)
            if user is None:
                raise _Failure(f"no credentials for SNMPv3 user {a.user!r}")
            auth = UsmUserData(
                a.user,
                user.auth_key,
                user.priv_key,
                authProtocol=config.USM_AUTH_HMAC96_SHA,
                privProtocol=config.USM_PRIV_CFB128_AES,
            )
        try:
            target = await UdpTransportTarget.create(
                (a.host, a.port), timeout=self.options.timeout, retries=self.options.retries
            )
        except Exception as error:  # an unresolvable host name
            raise _Failure(f"bad address: {error}") from None
        name, _ = CommandGeneratorLcdConfigurator().configure(
            self.engine, auth, target, self._context
        )
        self._target = name
        return name

    # ----------------------------------------------------------- requests

    async def _send(self, var_binds: list, bulk: bool = False) -> list:
        target = await self._ensure_target()
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()

        def done(engine, handle, indication, status, index, binds, ctx) -> None:
            if not future.done():
                future.set_result((indication, status, index, binds))

        self.stats.requests += 1
        if bulk:
            _BULK.send_varbinds(self.engine, target, None, self._context, 0,
                                self.options.bulk_repetitions, var_binds, done)  # fmt: skip
        else:
            _GET.send_varbinds(self.engine, target, None, self._context, var_binds, done)
        wait = self.options.timeout * (self.options.retries + 1) + 2.0
        try:
            indication, status, index, binds = await asyncio.wait_for(future, wait)
        except TimeoutError:
            raise _Failure("timeout: no reply", timeout=True) from None
        if indication:
            text = str(indication)
            if "timed out" in text.lower() or "timeout" in text.lower():
                self.stats.timeouts += 1
                raise _Failure(f"timeout: no reply from {self.where()}", timeout=True)
            raise _Failure(f"snmp: {text}")
        if status:
            name = status.prettyPrint() if hasattr(status, "prettyPrint") else str(status)
            if name == "tooBig" and len(var_binds) > 1:
                raise _Failure("tooBig")
            self.stats.exceptions += 1
            raise _Failure(f"error-status {name} (index {int(index)})")
        return list(binds)

    async def _get(self, oids: list[tuple[int, ...]]) -> dict[tuple[int, ...], object]:
        """Values of ``oids`` (batched, shrinking on tooBig)."""
        got: dict[tuple[int, ...], object] = {}
        at = 0
        while at < len(oids):
            chunk = oids[at : at + self.batch]
            try:
                binds = await self._send([(rfc1902.ObjectName(o), NULL) for o in chunk])
            except _Failure as failure:
                if failure.reason == "tooBig":
                    self.batch = max(1, len(chunk) // 2)
                    log.debug("%s: tooBig, batches of %d now", self.name, self.batch)
                    continue
                raise
            for name, value in binds:
                got[tuple(name)] = value
            at += len(chunk)
        return got

    async def _walk(self, root: tuple[int, ...]) -> list[tuple[tuple[int, ...], object]]:
        """Every (OID, value) under ``root``, by GETBULK."""
        rows: list[tuple[tuple[int, ...], object]] = []
        current = root
        for _ in range(1000):  # a table of 25,000 rows at most: an agent that loops stops here
            binds = await self._send([(rfc1902.ObjectName(current), NULL)], bulk=True)
            if not binds:
                break
            for name, value in binds:
                oid = tuple(name)
                if oid[: len(root)] != root or value.tagSet in EXCEPTIONS:
                    return rows
                if rows and oid <= rows[-1][0]:
                    return rows  # not increasing: a broken agent, stop rather than loop
                rows.append((oid, value))
            current = rows[-1][0] if rows else root
        return rows

    # --------------------------------------------------------------- poll

    async def poll(self, sink: Sink) -> bool:
        """Read every point once; False when the agent did not answer."""
        self.stats.polls += 1
        if time.monotonic() < self.retry_at:
            return False
        now = time.time
        try:
            if self.scalars:
                got = await self._get(self.oids)
                self._deliver(sink, self.scalars, got, now())
            if self.alarms:
                present = await self._get([UPS_ALARMS_PRESENT])
                table = await self._walk(UPS_ALARM_DESCR)
                self._deliver_alarms(sink, present[UPS_ALARMS_PRESENT], table, now())
        except _Failure as failure:
            self._failed(sink, failure)
            return False
        if self.down:
            log.warning("%s %s: agent answers again", self.name, self.where())
            self.stats.reconnects += 1
        self.down = False
        self.failures = 0
        return True

    def _failed(self, sink: Sink, failure: _Failure) -> None:
        self.failures += 1
        self.retry_at = time.monotonic() + reconnect_delay(
            self.failures, self.interval_s, jitter=self.options.jitter, rng=self._rng
        )
        if not self.down:
            log.error("%s %s: %s; retrying with backoff", self.name, self.where(), failure.reason)
            indices = np.array([p.index for p in self.points], dtype=np.int64)
            n = len(indices)
            sink(indices, np.full(n, np.nan), np.zeros(n, bool), time.time(), failure.reason)
        else:
            log.debug("%s: still failing (%s)", self.name, failure.reason)
        self.down = True

    def _deliver(self, sink: Sink, points: list[PointDef], got: dict, ts: float) -> None:
        by_reason: dict[str, tuple[list[int], list[float], bool]] = {}
        for point in points:
            value, reason = _value(point, got)
            entry = by_reason.setdefault(reason, ([], [], not reason))
            entry[0].append(point.index)
            entry[1].append(value)
        for reason, (indices, values, good) in by_reason.items():
            n = len(indices)
            sink(np.array(indices, dtype=np.int64), np.array(values, float),
                 np.full(n, good), ts, reason)  # fmt: skip
            if reason:
                self._log_bad(indices, reason)
        self.stats.points_read += len(points)

    def _log_bad(self, indices: list[int], reason: str) -> None:
        """A bad row is logged once per kind of reason (with its line), then counted only."""
        kind = reason.split(" ", 1)[0]
        by_index = {p.index: p for p in self.points}
        for index in indices:
            if (index, kind) in self._logged:
                continue
            self._logged.add((index, kind))
            point = by_index[index]
            log.warning("%s %s: row %d (%s) is bad: %s", self.name, self.where(), point.line,
                        point.name, reason)  # fmt: skip

    def _deliver_alarms(self, sink: Sink, present: object, table: list, ts: float) -> None:
        indices = np.array([p.index for p in self.alarms], dtype=np.int64)
        n = len(indices)
        kind = EXCEPTIONS.get(getattr(present, "tagSet", None))  # type: ignore[arg-type]
        if kind is not None:
            sink(indices, np.full(n, np.nan), np.zeros(n, bool), ts,
                 f"{kind} at upsAlarmsPresent: no UPS-MIB alarm table")  # fmt: skip
            return
        raised = {
            tuple(value) for _, value in table if value.tagSet == rfc1902.ObjectIdentifier.tagSet
        }
        values = [1.0 if p.snmp.oids[0] in raised else 0.0 for p in self.alarms]  # type: ignore[union-attr]
        sink(indices, np.array(values), np.ones(n, bool), ts, "")
        self.stats.points_read += n

    def close(self) -> None:
        self._target = None


def _value(point: PointDef, got: dict) -> tuple[float, str]:
    """(engineering value, "") of a row, or (NaN, why it is bad)."""
    address = point.snmp
    assert address is not None
    total = 0.0
    for oid in address.oids:
        value = got.get(oid)
        dotted = ".".join(map(str, oid))
        if value is None:
            return float("nan"), f"no var-bind for {dotted} in the reply"
        kind = EXCEPTIONS.get(value.tagSet)  # type: ignore[attr-defined]
        if kind is not None:
            return float("nan"), f"{kind} at {dotted}"
        if value.tagSet != SYNTAX[address.type]:  # type: ignore[attr-defined]
            name = type(value).__name__
            return float("nan"), f"type: {dotted} is {name}, the row says {address.type}"
        total += float(int(value))  # type: ignore[call-overload]
    result = total * address.scale
    if not math.isfinite(result):
        return float("nan"), f"overflow: {total:g} x scale {address.scale:g} is not finite"
    if point.range_low is not None and result < point.range_low:
        return float("nan"), f"out of range: {result:g} < {point.range_low:g}"
    if point.range_high is not None and result > point.range_high:
        return float("nan"), f"out of range: {result:g} > {point.range_high:g}"
    return result, ""


def pollers(
    points: list[PointDef], options: SnmpOptions, interval_s: float
) -> list[SnmpAgentPoller]:
    """One poller per agent and security context, sharing one engine."""
    engine = SnmpEngine()
    groups: dict[tuple, list[PointDef]] = {}
    for point in points:
        assert point.snmp is not None
        groups.setdefault(point.snmp.agent_key, []).append(point)
    return [SnmpAgentPoller(group, engine, options, interval_s) for group in groups.values()]


async def close(agents: list[SnmpAgentPoller]) -> None:
    """Close the pollers' shared engine (its UDP socket and timer).

    The socket stops reading first and the datagrams it already took are handled
    while its transport is still registered: a reply that crossed the stop must not
    end in pysnmp's "Unregistered transport" traceback.
    """
    engines = {id(a.engine): a.engine for a in agents}
    for agent in agents:
        agent.close()
    for engine in engines.values():
        dispatcher = engine.transport_dispatcher
        if dispatcher is None:
            continue
        transport = dispatcher.get_transport(udp.DOMAIN_NAME)
        inner = getattr(transport, "transport", None)
        if inner is not None:
            inner.close()
        for _ in range(3):
            await asyncio.sleep(0)
        engine.close_dispatcher()
