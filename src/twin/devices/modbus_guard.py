"""What keeps a Modbus TCP gateway serving under careless or hostile peers.

- :class:`GatewayLimits`: idle timeout and connection caps, with the defaults a BMS
  integrator expects (see README, "Modbus gateways").
- :class:`RateLimitedLog`: malformed frames and failed requests are logged once per
  peer and kind per minute, with a count of the ones in between, so a peer that sends
  garbage cannot fill the disk with log lines.
- :class:`Connections`: the open connections of a site's gateways in order of last
  activity; the sweep closes idle ones, and a new connection over a cap closes the one
  idle longest, so idle sockets can never lock an active master out.
"""

from __future__ import annotations

import logging
import resource
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

log = logging.getLogger("twin.devices.modbus")

#: descriptors kept free for everything else the process opens (OPC UA, logs, spool).
DESCRIPTOR_RESERVE = 64
#: connections a gateway accepts beyond one per unit id (other masters: BMS, SCADA, tools).
EXTRA_MASTERS = 32


@dataclass(frozen=True)
class GatewayLimits:
    """Connection limits of every gateway of a site.

    ``idle_timeout_s``: a connection that sent no well-formed request for this long is
    closed (0 disables). ``max_connections``: per gateway; ``None`` allows one
    connection per unit id plus :data:`EXTRA_MASTERS`. Whatever the caps say, the
    process keeps :data:`DESCRIPTOR_RESERVE` descriptors of its ``RLIMIT_NOFILE`` free.
    """

    idle_timeout_s: float = 120.0
    max_connections: int | None = None
    log_window_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_connections is not None and self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {self.max_connections}")
        if not self.idle_timeout_s >= 0:  # NaN too
            raise ValueError(f"idle_timeout_s must be 0 (off) or more, not {self.idle_timeout_s}")

    def per_gateway(self, units: int) -> int:
        return self.max_connections or units + EXTRA_MASTERS


def descriptor_budget() -> int:
    """Sockets this process may hold open: its soft descriptor limit less a reserve."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    return max(16, int(soft) - DESCRIPTOR_RESERVE)


@dataclass
class _Tally:
    since: float
    detail: str
    more: int = 0


class RateLimitedLog:
    """One WARNING line per (peer, kind) per window; repeats are counted, not written.

    The first occurrence is logged at once; repeats inside the window only count, and
    :meth:`sweep` (called every few seconds) writes one line with the count when the
    window closes. At most ``max_keys`` keys are held (the oldest is reported and
    forgotten first), so a flood of peers cannot grow memory either.
    """

    def __init__(
        self,
        window_s: float = 60.0,
        max_keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self.clock = clock
        self.logger = logger
        self._tallies: OrderedDict[tuple[str, str, str], _Tally] = OrderedDict()
        self.reported = 0  # occurrences seen (logged or counted), for tests and stats

    def report(self, where: str, peer: str, kind: str, detail: str) -> None:
        """One occurrence of ``kind`` (e.g. "malformed frame") from ``peer`` at ``where``."""
        self.reported += 1
        key = (where, peer, kind)
        now = self.clock()
        tally = self._tallies.get(key)
        if tally is not None and now - tally.since < self.window_s:
            tally.more += 1
            tally.detail = detail
            return
        if tally is not None:
            self._flush(key, tally)
        self._tallies[key] = _Tally(since=now, detail=detail)
        self._tallies.move_to_end(key)
        while len(self._tallies) > self.max_keys:
            old_key, old = self._tallies.popitem(last=False)
            self._flush(old_key, old)
        self.logger.warning(
            "%s: %s from %s: %s (repeats from this peer are counted, one line a minute)",
            where,
            kind,
            peer,
            detail,
        )

    def sweep(self) -> None:
        """Write the counts of windows that closed, and forget them."""
        now = self.clock()
        for key in [k for k, t in self._tallies.items() if now - t.since >= self.window_s]:
            self._flush(key, self._tallies.pop(key))

    def flush(self) -> None:
        """Write every pending count (at shutdown)."""
        while self._tallies:
            self._flush(*self._tallies.popitem(last=False))

    def _flush(self, key: tuple[str, str, str], tally: _Tally) -> None:
        if tally.more:
            where, peer, kind = key
            self.logger.warning(
                "%s: %d more %s from %s in %.0f s (last: %s)",
                where,
                tally.more,
                kind + ("s" if tally.more > 1 and not kind.endswith("s") else ""),
                peer,
                self.clock() - tally.since,
                tally.detail,
            )


@dataclass
class Connections:
    """Open connections per gateway, least recently active first.

    A connection is anything with ``close()``; its key is the connection itself.
    """

    budget: int = field(default_factory=descriptor_budget)
    _by_gateway: dict[int, OrderedDict[Hashable, float]] = field(default_factory=dict)
    total: int = 0
    evicted: int = 0
    timed_out: int = 0

    def opened(self, gateway: int, connection: Hashable, cap: int) -> list[Hashable]:
        """Register a new connection; returns the connections to close to make room."""
        now = time.monotonic()
        members = self._by_gateway.setdefault(gateway, OrderedDict())
        members[connection] = now
        self.total += 1
        victims: list[Hashable] = []
        while len(members) > cap:
            victims.append(self._pop_oldest(members, skip=connection))
        while self.total > self.budget:
            oldest = self._oldest_gateway(skip=connection)
            if oldest is None:
                break
            victims.append(self._pop_oldest(self._by_gateway[oldest], skip=connection))
        self.evicted += len(victims)
        return victims

    def active(self, gateway: int, connection: Hashable) -> None:
        members = self._by_gateway.get(gateway)
        if members is not None and connection in members:
            members[connection] = time.monotonic()
            members.move_to_end(connection)

    def closed(self, gateway: int, connection: Hashable) -> None:
        members = self._by_gateway.get(gateway)
        if members is not None and members.pop(connection, None) is not None:
            self.total -= 1

    def idle(self, timeout_s: float) -> list[Hashable]:
        """Connections that have been idle longer than ``timeout_s``, unregistered."""
        if timeout_s <= 0:
            return []
        limit = time.monotonic() - timeout_s
        out: list[Hashable] = []
        for members in self._by_gateway.values():
            while members:
                connection, last = next(iter(members.items()))
                if last > limit:
                    break
                members.popitem(last=False)
                self.total -= 1
                out.append(connection)
        self.timed_out += len(out)
        return out

    def count(self, gateway: int) -> int:
        return len(self._by_gateway.get(gateway, ()))

    def _pop_oldest(self, members: OrderedDict[Hashable, float], skip: Hashable) -> Hashable:
        for connection in members:
            if connection is not skip:
                del members[connection]
                self.total -= 1
                return connection
        raise LookupError("no connection to close")  # cap < 1: refused by GatewayLimits

    def _oldest_gateway(self, skip: Hashable) -> int | None:
        best, best_t = None, float("inf")
        for gateway, members in self._by_gateway.items():
            for connection, last in members.items():
                if connection is skip:
                    continue
                if last < best_t:
                    best, best_t = gateway, last
                break
        return best
