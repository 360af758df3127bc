"""Modbus polling of one device: merged block reads, decoding, quality, reconnect with backoff.

A *device* is one unit id behind one endpoint (a TCP server, an RTU-over-TCP
gateway or a serial port). Each device has its own client and at most one
request in flight; devices are polled concurrently by :mod:`twin.collect.scheduler`.

- Blocks: the device's points of one table, sorted by address, merged while the
  gap between them is at most ``gap`` registers and the block stays within
  ``max_registers`` (125 for registers, 2000 for bits).
- Decoding goes through :mod:`twin.points.codec` (its data types and word swap):
  each block lays its reply out once (:class:`~twin.points.codec.BlockDecoder`),
  so a reply is decoded in a few C calls, not per point.
- Quality: an exception reply, a timeout, NaN, a vendor's "not available" value
  (0x8000 INT16, 0xFFFF UINT16, 0xFFFFFFFF UINT32… on analog points) or a value
  outside ``[range_low, range_high]`` is *bad*. Busy replies (exception 06) are
  retried briefly. A block refused with exception 02/03/04 is split in halves,
  down to single points, so one bad register does not blank its neighbours; the
  split is kept for later polls.
- Connection loss: the client is closed and reconnected after an exponential
  backoff with jitter (``backoff_min`` doubling up to a cap of two poll intervals,
  at least ``backoff_floor``, at most ``backoff_max``: :mod:`twin.collect.backoff`),
  so a device back from an outage is read again within a few polls; at most one
  connection attempt per backoff step, one in flight per device. The first failure
  is logged at ERROR, the rest at DEBUG until the link recovers (logged at WARNING).
- RTU: the unit ids on one serial port (or behind one RTU-over-TCP gateway) share
  one client and one request in flight (:class:`Link`). A unit that does not answer
  there has its points marked bad (timeout) without closing the bus for the others.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException

from twin.collect.backoff import (
    BACKOFF_FLOOR_S,
    BACKOFF_INTERVALS,
    BACKOFF_MAX_S,
    BACKOFF_MIN_S,
    JITTER,
    reconnect_delay,
)
from twin.points.codec import BlockDecoder
from twin.points.registry import BIT_TABLES, SERIAL, PointDef

log = logging.getLogger(__name__)

BUSY = 6
SPLIT_ON = (2, 3, 4)  # illegal address, illegal value, device failure

#: Sink of decoded values: (point indices, values, good mask, timestamp, reason if bad)
Sink = Callable[[np.ndarray, np.ndarray, np.ndarray, float, str], None]


@dataclass
class ModbusOptions:
    """Per-device polling limits (configurable per site)."""

    max_registers: int = 125
    max_bits: int = 2000
    gap: int = 8  # registers read and thrown away to join two points into one request
    timeout: float = 2.0
    busy_retries: int = 3
    busy_delay: float = 0.05
    backoff_min: float = BACKOFF_MIN_S
    backoff_max: float = BACKOFF_MAX_S  # whatever the poll interval
    backoff_intervals: float = BACKOFF_INTERVALS  # the cap, in the device's poll intervals
    backoff_floor: float = BACKOFF_FLOOR_S  # the cap is never below this [s]
    jitter: float = JITTER  # ± fraction of each backoff step


READERS = {
    "input_register": "read_input_registers",
    "holding_register": "read_holding_registers",
    "discrete_input": "read_discrete_inputs",
    "coil": "read_coils",
}


class Block:
    """One merged read: a table, its first register (or bit), its length, its points.

    Everything about decoding a reply that depends only on the points is worked
    out here, once (the :class:`BlockDecoder`, which points are analog, the
    ranges), so a poll of the block costs the same few calls whatever its points.
    """

    def __init__(self, table: str, start: int, count: int, points: list[PointDef]) -> None:
        self.table = table
        self.start = start
        self.count = count
        self.points = points
        self.indices = np.array([p.index for p in points], dtype=np.int64)
        self.reader = READERS[table]  # the client's method that reads this table
        self._decoder: BlockDecoder | None = None
        self._offsets = np.array([p.address - start for p in points], dtype=np.int64)
        if table in BIT_TABLES:
            return
        self._decoder = BlockDecoder(
            [p.address - start for p in points],
            [p.data_type for p in points],
            # one register has no word order (the wire's byte order is Modbus' own)
            [p.word_order if p.registers > 1 else "ABCD" for p in points],
            [p.scale for p in points],
            bits=[p.bit for p in points],
            check_na=[bool(p.unit) and p.bit is None for p in points],  # analog points
        )
        # Ranges with the largest floats for "none": a value within them is finite too,
        # so one pair of comparisons says finite and in range (NaN compares false).
        big = np.finfo(np.float64).max
        low = np.array([-np.inf if p.range_low is None else p.range_low for p in points])
        high = np.array([np.inf if p.range_high is None else p.range_high for p in points])
        self._ranged = bool(np.isfinite(low).any() or np.isfinite(high).any())
        self._low, self._high = np.maximum(low, -big), np.minimum(high, big)

    def __repr__(self) -> str:
        return f"Block({self.table} {self.start}+{self.count}, {len(self.points)} points)"

    def decode(self, words: list[int] | list[bool]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point indices, values, good mask) of a reply's registers or bits."""
        if self._decoder is None:  # bits: the values are the bits, always good
            values = np.asarray(words[: self.count], dtype=float)[self._offsets]
            return self.indices, values, np.ones(len(values), bool)
        values, na = self._decoder.decode(words)
        if self._ranged:
            good = values >= self._low
            good &= values <= self._high
        else:
            good = np.isfinite(values)
        if na is not None:
            good &= ~na
        return self.indices, values, good


def plan_blocks(points: list[PointDef], options: ModbusOptions) -> list[Block]:
    """Merge a device's points into reads: adjacent or close points share a request."""
    blocks: list[Block] = []
    by_table: dict[str, list[PointDef]] = {}
    for p in points:
        by_table.setdefault(p.register_type, []).append(p)
    for table, members in by_table.items():
        limit = options.max_bits if table in BIT_TABLES else options.max_registers
        gap = options.gap if table not in BIT_TABLES else options.gap * 16
        members.sort(key=lambda p: (p.address, -1 if p.bit is None else p.bit))
        current: list[PointDef] = []
        start = end = 0
        for p in members:
            p_end = p.address + p.registers
            if current and p.address - end <= gap and max(end, p_end) - start <= limit:
                current.append(p)
                end = max(end, p_end)
                continue
            if current:
                blocks.append(Block(table, start, end - start, current))
            current, start, end = [p], p.address, p_end
        if current:
            blocks.append(Block(table, start, end - start, current))
    return blocks


def split(block: Block) -> list[Block]:
    """Two halves of a block (by points), each spanning only its own points."""
    half = len(block.points) // 2
    parts = []
    for members in (block.points[:half], block.points[half:]):
        start = min(p.address for p in members)
        end = max(p.address + p.registers for p in members)
        parts.append(Block(block.table, start, end - start, members))
    return parts


class LinkDown(Exception):
    """The device cannot be reached (connection refused, lost or timed out)."""


class RecentTimes:
    """The last ``size`` timestamps, in an array allocated (and touched) up front.

    A collector of 3,000 devices keeps this per device for days: its memory is
    fixed from the first poll, so a soak sees flat resident memory.
    """

    def __init__(self, size: int = 256) -> None:
        self._times = np.full(size, np.nan)
        self._count = 0

    def append(self, t: float) -> None:
        self._times[self._count % len(self._times)] = t
        self._count += 1

    def __len__(self) -> int:
        return min(self._count, len(self._times))

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        size = len(self._times)
        order = np.arange(self._count - len(self), self._count) % size
        out = self._times[order]
        return out if dtype is None else out.astype(dtype)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.__array__().tolist())

    def __getitem__(self, k: int) -> float:
        return float(self.__array__()[k])


@dataclass
class DeviceStats:
    polls: int = 0
    requests: int = 0
    exceptions: int = 0
    timeouts: int = 0
    connects: int = 0  # connection attempts
    connect_times: list[float] = field(default_factory=list)
    reconnects: int = 0
    splits: int = 0
    busy_retries: int = 0
    points_read: int = 0
    poll_starts: RecentTimes = field(default_factory=RecentTimes)  # monotonic, the last 256
    #: poll cycles that started over 1.5 intervals after the previous one, after the
    #: collector's warm-up (CollectorOptions.warm_up_s)
    missed_cycles: int = 0
    #: schedule slots passed over because a poll overran or the collector stalled:
    #: the device resumes at its next due slot instead of bursting to catch up
    skipped_slots: int = 0
    last_poll_s: float | None = None  # duration of the latest poll [s] (Prometheus health)


class Link:
    """The connection of one endpoint and its one request in flight.

    A Modbus TCP device has a link of its own. The unit ids on one serial port, or
    behind one RTU-over-TCP gateway, share theirs: RTU is half duplex and its frames
    carry no transaction id, so there is one client and one request on the bus.
    """

    def __init__(self) -> None:
        self.client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self.lock = asyncio.Lock()


class ModbusDevice:
    """One unit id on one endpoint, polled through its link (own, or shared on a bus)."""

    def __init__(
        self,
        points: list[PointDef],
        options: ModbusOptions | None = None,
        rng: random.Random | None = None,
        link: Link | None = None,
        interval_s: float = 1.0,
    ) -> None:
        first = points[0]
        #: its poll interval [s]: the reconnect backoff is capped by it
        self.interval_s = first.interval_s or interval_s
        self.key = first.device_key
        self.name = first.device
        self.points = points
        self.options = options or ModbusOptions()
        self.blocks = plan_blocks(points, self.options)
        self.indices = np.array([p.index for p in points], dtype=np.int64)
        self.stats = DeviceStats()
        self.link = link or Link()
        self.failures = 0  # consecutive connection failures (backoff step)
        self.retry_at = 0.0  # monotonic time before which no connection is attempted
        self.down = False
        self._rng = rng or random.Random()
        self._unit = self.key[3]

    @property
    def client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient | None:
        return self.link.client

    @client.setter
    def client(self, client: AsyncModbusTcpClient | AsyncModbusSerialClient | None) -> None:
        self.link.client = client

    @property
    def _lock(self) -> asyncio.Lock:  # one request in flight on the link (polls and writes)
        return self.link.lock

    # ----------------------------------------------------------- connection

    def _make_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        transport, host, port, _ = self.key
        timeout = self.options.timeout
        if transport == "rtu":
            first = self.points[0]
            match = SERIAL.match(first.serial or "9600 8N1")
            assert match is not None
            baud, bits, parity, stop = match.groups()
            return AsyncModbusSerialClient(
                host,
                framer=FramerType.RTU,
                baudrate=int(baud),
                bytesize=int(bits),
                parity=parity,
                stopbits=int(stop),
                timeout=timeout,
                retries=0,
                reconnect_delay=0,
            )
        framer = FramerType.RTU if transport == "rtu-over-tcp" else FramerType.SOCKET
        return AsyncModbusTcpClient(
            host, port=port, framer=framer, timeout=timeout, retries=0, reconnect_delay=0
        )

    def backoff(self, step: int) -> float:
        """Delay before the next attempt after ``step`` consecutive failures (with jitter)."""
        o = self.options
        return reconnect_delay(
            step, self.interval_s, minimum=o.backoff_min, maximum=o.backoff_max,
            per_interval=o.backoff_intervals, floor=o.backoff_floor, jitter=o.jitter,
            rng=self._rng,
        )  # fmt: skip

    def _link_failed(self, reason: str) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        self.failures += 1
        delay = self.backoff(self.failures)
        self.retry_at = time.monotonic() + delay
        if not self.down:
            log.error("%s %s: %s; retrying with backoff", self.name, self._where(), reason)
        else:
            log.debug("%s: still down (%s); next attempt in %.2f s", self.name, reason, delay)
        self.down = True

    def _where(self) -> str:
        transport, host, port, unit = self.key
        return f"({transport} {host}{':' + str(port) if port else ''} unit {unit})"

    async def _ensure_connected(self) -> None:
        """Connect unless connected; every attempt ends in a reply or a counted failure."""
        if self.client is not None:
            if self.client.connected:
                return
            # Closed by the peer since the last request: a failure like any other, so
            # the next attempt waits for its backoff step.
            self._link_failed("connection closed by the device")
            raise LinkDown("connection closed")
        if time.monotonic() < self.retry_at:
            raise LinkDown("waiting for backoff")
        self.client = self._make_client()
        self.stats.connects += 1
        self.stats.connect_times.append(time.monotonic())
        del self.stats.connect_times[:-1000]
        try:
            ok = await asyncio.wait_for(self.client.connect(), self.options.timeout + 1.0)
        except (TimeoutError, OSError, ModbusException) as error:
            ok = False
            reason = f"connect failed: {error}"
        else:
            reason = "connection refused"
        if not ok:
            self._link_failed(reason)
            raise LinkDown(reason)

    def _recovered(self) -> None:
        if self.down:
            log.warning("%s %s: link recovered", self.name, self._where())
            self.stats.reconnects += 1
        self.down = False
        self.failures = 0

    # ---------------------------------------------------------------- reads

    async def _read(self, block: Block, sink: Sink) -> list[Block] | None:
        """Read one block into the sink; the blocks that replace it (split), None if none do."""
        for attempt in range(self.options.busy_retries + 1):
            client = self.link.client
            assert client is not None
            self.stats.requests += 1
            try:
                reply = await getattr(client, block.reader)(
                    block.start, count=block.count, device_id=self._unit
                )
            except ConnectionException as error:
                self._link_failed(f"connection lost: {error}")
                raise LinkDown(str(error)) from None
            except ModbusException as error:  # timeout or garbled reply
                task = asyncio.current_task()
                if task is not None and task.cancelling():  # pymodbus turns cancel into this
                    raise asyncio.CancelledError from None
                self.stats.timeouts += 1
                if self.key[0] == "tcp":
                    self._link_failed(f"no reply: {error}")
                    raise LinkDown(str(error)) from None
                # On a bus a silent unit is not a broken port: its points are bad (a
                # timeout), the link stays open for the other units on it.
                if not self.down:
                    log.error("%s %s: no reply (%s)", self.name, self._where(), error)
                self.down = True
                n = len(self.indices)
                sink(
                    self.indices,
                    np.full(n, np.nan),
                    np.zeros(n, bool),
                    time.time(),
                    f"timeout: no reply from unit {self.key[3]}",
                )
                raise LinkDown(str(error)) from None
            if not reply.isError():
                if self.down:
                    self._recovered()
                words = reply.bits if block.table in BIT_TABLES else reply.registers
                if len(words) < block.count:
                    # A short reply (a broken gateway, a garbled frame) is a bad read
                    # of the block, not a crash of the poll.
                    n = len(block.indices)
                    sink(block.indices, np.full(n, np.nan), np.zeros(n, bool), time.time(),
                         f"short reply: {len(words)} of {block.count} registers")  # fmt: skip
                    self.stats.exceptions += 1
                    return None
                idx, val, ok = block.decode(words)
                bad = len(ok) - np.count_nonzero(ok)
                sink(idx, val, ok, time.time(), "decode or range" if bad else "")
                self.stats.points_read += len(idx)
                return None
            self._recovered()  # the link works: the device answered
            code = getattr(reply, "exception_code", 0)
            self.stats.exceptions += 1
            if code == BUSY and attempt < self.options.busy_retries:
                self.stats.busy_retries += 1
                await asyncio.sleep(self.options.busy_delay * (attempt + 1))
                continue
            break
        if code in SPLIT_ON and len(block.points) > 1:
            self.stats.splits += 1
            log.debug(
                "%s: %s %d+%d refused (exception %d): split",
                self.name,
                block.table,
                block.start,
                block.count,
                code,
            )
            replaced: list[Block] = []
            for part in split(block):
                replaced += await self._read(part, sink) or [part]
            return replaced
        n = len(block.indices)
        sink(block.indices, np.full(n, np.nan), np.zeros(n, bool), time.time(), f"exception {code}")
        return None

    async def poll(self, sink: Sink) -> bool:
        """Read every block once; False when the link is down (its points are left to age)."""
        self.stats.polls += 1
        async with self.link.lock:
            try:
                client = self.link.client
                if client is None or not client.connected:
                    await self._ensure_connected()
                blocks = self.blocks
                replaced: list[Block] | None = None  # built only once a block splits
                for i, block in enumerate(blocks):
                    parts = await self._read(block, sink)
                    if parts is not None:
                        if replaced is None:
                            replaced = blocks[:i]
                        replaced += parts
                    elif replaced is not None:
                        replaced.append(block)
                if replaced is not None:  # later polls read the halves
                    self.blocks = replaced
            except LinkDown:
                return False
        return True

    async def write(self, point: PointDef, value: float) -> None:
        """Write a holding register or coil (encoded with the shared codec), range-checked."""
        from twin.points.codec import encode

        refusal = point.write_refusal(value)
        if refusal is not None:
            raise ValueError(f"{point.name}: {value:g} {refusal}")
        async with self._lock:
            await self._ensure_connected()
            assert self.client is not None
            unit = self.key[3]
            if point.register_type == "coil":
                reply = await self.client.write_coil(point.address, bool(value), device_id=unit)
            else:
                words = encode([value], point.data_type, point.word_order, point.scale)[0]
                reply = await self.client.write_registers(
                    point.address, [int(w) for w in words], device_id=unit
                )
            if reply.isError():
                raise ValueError(f"{point.name}: write refused ({reply})")
            log.info("wrote %s = %s", point.name, value)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
