"""BACnet/IP polling of one device: ReadPropertyMultiple in batches, quality, writes (bacpypes3).

A *device* is one device instance at one BACnet/IP address (``bacnet_address``,
``bacnet_device`` in the registry). All devices share one local BACnet
application (:class:`BacnetClient`: one UDP socket, bacpypes3's transaction
state machines), each polled by its own task in :mod:`twin.collect.scheduler`.

- Batches: a device's objects go into ReadPropertyMultiple requests of at most
  ``max_objects`` objects; for each object the registry's properties and
  ``status-flags``.
- Quality: a property the device refuses (unknown object, unknown property), a
  value that is not a finite number or lies outside ``[range_low, range_high]``,
  or status flags with *fault* or *out-of-service* set make the point *bad*, with
  that reason. No reply within ``timeout`` makes every point of the request bad
  ("timeout: …"); the first such failure is logged at ERROR, the rest at DEBUG
  until the device answers again (logged at WARNING).
- COV (``cov``): subscriptions with polling as the fallback, :mod:`twin.collect.bacnet_cov`.
- Writes: a setpoint's ``present-value`` is written at the row's
  ``bacnet_priority``, or the configured ``priority`` (16, the lowest, unless set),
  range-checked against the row's ``min``/``max`` first; a device's refusal
  (e.g. ``property: value-out-of-range``) is raised as a ValueError naming it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.app import Application
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier, Real

from twin.collect.bacnet_cov import CovWatch
from twin.collect.modbus import DeviceStats, Sink
from twin.points.bacnet import BINARY, DEFAULT_PRIORITY, parse_address
from twin.points.registry import PointDef

log = logging.getLogger(__name__)

FAULT, OUT_OF_SERVICE = 1, 3  # status-flags bits (ASHRAE 135 clause 12.x.y)
CLIENT_INSTANCE = 4194300  # our own device instance on the network (not polled)


@dataclass
class BacnetOptions:
    """BACnet/IP polling limits (configurable per site)."""

    timeout: float = 2.0  # one request's reply [s]
    max_objects: int = 16  # objects per ReadPropertyMultiple (each with its status flags)
    priority: int = DEFAULT_PRIORITY  # write priority where a row names none
    bind: str = "127.0.0.1"  # local address of the collector's BACnet socket
    client_instance: int = CLIENT_INSTANCE
    cov: bool = False  # subscribe to COV where devices allow it (twin.collect.bacnet_cov)
    cov_lifetime_s: float = 300.0  # each subscription's lifetime (renewed before it lapses)
    cov_refresh_s: float = 60.0  # poll subscribed objects anyway this often


def _camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(part.capitalize() for part in rest)


def _refused(value: Any) -> bool:
    """A property the device refused: an error PDU, or an RPM result's access error."""
    return isinstance(value, ErrorRejectAbortNack) or hasattr(value, "errorCode")


def _number(value: Any) -> float:
    """A present value as a float: REAL, Unsigned, an enumeration (inactive 0, active 1)."""
    if value is None or isinstance(value, ErrorRejectAbortNack):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _error_text(error: Any) -> str:
    error_class = getattr(error, "errorClass", None)
    error_code = getattr(error, "errorCode", None)
    if error_class is not None or error_code is not None:
        return f"{error_class}: {error_code}"
    reason = getattr(error, "reason", None) or getattr(error, "rejectReason", None)
    return f"{type(error).__name__}{f' {reason}' if reason else ''}"


class _ClientApplication(Application):
    """bacpypes3's Application, quiet about a reply that comes after its request gave up.

    A request cancelled on timeout leaves its future in the table until a done
    callback runs; a reply arriving in between made bacpypes3 set a result on the
    cancelled future and log an InvalidStateError traceback.
    """

    async def confirmation(self, apdu: Any) -> None:
        for request, future in self._requests.get(apdu.pduSource, []):
            if request.apduInvokeID == apdu.apduInvokeID and future.done():
                return
        await super().confirmation(apdu)


class BacnetClient:
    """The collector's own BACnet application: one UDP socket for every device."""

    def __init__(self, options: BacnetOptions) -> None:
        self.options = options
        self.app: Application | None = None

    async def start(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((self.options.bind, 0))  # a free port: no broadcast socket then
            port = probe.getsockname()[1]
        device = DeviceObject(
            objectIdentifier=("device", self.options.client_instance),
            objectName="twin-collector",
            vendorIdentifier=999,
            apduTimeout=int(self.options.timeout * 1000),
            numberOfApduRetries=0,
        )
        network = NetworkPortObject(
            f"{self.options.bind}:{port}",
            objectIdentifier=("network-port", 1),
            objectName="NetworkPort-1",
        )
        self.app = _ClientApplication.from_object_list([device, network])
        await asyncio.sleep(0)

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
            self.app = None


class _Read:
    """One object of a device and the points reading its properties."""

    def __init__(self, object_type: str, instance: int) -> None:
        self.object_id = ObjectIdentifier((object_type, instance))
        self.binary = object_type in BINARY
        self.points: list[PointDef] = []

    @property
    def properties(self) -> list[str]:
        wanted = [_camel(p.bacnet_property) for p in self.points]
        return [*dict.fromkeys(wanted), "statusFlags"]


class BacnetDevice:
    """One BACnet device, polled through the shared client."""

    def __init__(
        self,
        points: list[PointDef],
        client: BacnetClient,
        options: BacnetOptions | None = None,
        interval_s: float = 1.0,
    ) -> None:
        first = points[0]
        self.name = first.device
        self.points = points
        self.client = client
        self.options = options or client.options
        self.interval_s = first.interval_s or interval_s
        host, port = parse_address(first.bacnet_address)
        self.address = Address(f"{host}:{port}")
        self.instance = first.bacnet_device
        self.key = ("bacnet", first.bacnet_address, first.bacnet_device)
        objects: dict[tuple[str, int], _Read] = {}
        for point in points:
            key = (point.bacnet_object_type, int(point.bacnet_object_instance or 0))
            objects.setdefault(key, _Read(*key)).points.append(point)
        self.reads = list(objects.values())
        self.batches = self._batches(self.reads)
        self.stats = DeviceStats()
        self.down = False
        #: the collector's receiver, for ``hold`` of points a COV subscription covers
        self.receiver: Any = None
        self.cov: CovWatch | None = CovWatch(self) if self.options.cov else None

    def _batches(self, reads: list[_Read]) -> list[list[_Read]]:
        size = max(self.options.max_objects, 1)
        return [reads[i : i + size] for i in range(0, len(reads), size)]

    def _where(self) -> str:
        return f"(BACnet device {self.instance} at {self.points[0].bacnet_address})"

    async def _request(self, coroutine: Any) -> Any:
        return await asyncio.wait_for(coroutine, self.options.timeout)

    def _failed(self, reason: str) -> None:
        if not self.down:
            log.error("%s %s: %s", self.name, self._where(), reason)
        else:
            log.debug("%s: still failing (%s)", self.name, reason)
        self.down = True

    def _recovered(self) -> None:
        if self.down:
            log.warning("%s %s: answering again", self.name, self._where())
            self.stats.reconnects += 1
        self.down = False

    async def poll(self, sink: Sink) -> bool:
        """Read every batch once; False when the device did not answer."""
        self.stats.polls += 1
        app = self.client.app
        assert app is not None, "BacnetClient.start() first"
        answered = True
        batches = self.batches
        if self.cov is not None:
            batches = self._batches(self.cov.polled(self.reads))
            held = self.cov.held([r for r in self.reads if not any(r in b for b in batches)])
            if held and self.receiver is not None:
                self.receiver.hold(np.array(held, dtype=np.int64), time.time())
        for batch in batches:
            parameters: list[Any] = []
            for read in batch:
                parameters += [read.object_id, read.properties]
            self.stats.requests += 1
            try:
                result = await self._request(app.read_property_multiple(self.address, parameters))
            except TimeoutError:
                self.stats.timeouts += 1
                reason = f"timeout: no reply from BACnet device {self.instance}"
                self._failed(reason)
                self._all_bad(batch, sink, reason)
                answered = False
                continue
            except ErrorRejectAbortNack as error:
                result = error
            if isinstance(result, ErrorRejectAbortNack) or result is None:
                # the device answered, but not this request (an unknown object in it
                # refuses the whole request on some devices): read it object by object
                self._recovered()
                self.stats.exceptions += 1
                reason = f"refused: {_error_text(result)}"
                if len(batch) > 1:
                    for read in batch:
                        await self._one(app, read, sink)
                else:
                    self._all_bad(batch, sink, reason)
                continue
            self._recovered()
            self._decode(batch, result, sink)
        if self.cov is not None:
            if not answered:
                self.cov.drop()  # made again once the device answers
            else:
                await self.cov.subscribe(self.reads, sink)
        return answered

    async def _one(self, app: Application, read: _Read, sink: Sink) -> None:
        try:
            result = await self._request(
                app.read_property_multiple(self.address, [read.object_id, read.properties])
            )
        except TimeoutError:
            self._all_bad([read], sink, f"timeout: no reply from BACnet device {self.instance}")
            return
        except ErrorRejectAbortNack as error:
            result = error
        if isinstance(result, ErrorRejectAbortNack) or result is None:
            self._all_bad([read], sink, f"refused: {_error_text(result)}")
            return
        self._decode([read], result, sink)

    def _all_bad(self, batch: list[_Read], sink: Sink, reason: str) -> None:
        indices = np.array([p.index for r in batch for p in r.points], dtype=np.int64)
        sink(
            indices,
            np.full(len(indices), np.nan),
            np.zeros(len(indices), bool),
            time.time(),
            reason,
        )

    def _decode(self, batch: list[_Read], result: list, sink: Sink) -> None:
        values: dict[tuple, Any] = {}
        for object_id, prop, _index, value in result:
            values[(tuple(object_id), str(prop))] = value
        now = time.time()
        groups: dict[str, tuple[list[int], list[float], list[bool]]] = {}
        for read in batch:
            key = tuple(read.object_id)
            flags = values.get((key, "status-flags"))
            flag_reason = ""
            if flags is not None and not _refused(flags):
                bits = list(flags)
                if len(bits) > FAULT and bits[FAULT]:
                    flag_reason = "status flags: fault"
                elif len(bits) > OUT_OF_SERVICE and bits[OUT_OF_SERVICE]:
                    flag_reason = "status flags: out of service"
            for point in read.points:
                raw = values.get((key, point.bacnet_property))
                reason = flag_reason
                if _refused(raw):
                    reason = f"refused: {_error_text(raw)}"
                number = _number(raw)
                if not reason and not math.isfinite(number):
                    reason = "not a number"
                low, high = point.range_low, point.range_high
                if not reason and (
                    (low is not None and number < low) or (high is not None and number > high)
                ):
                    reason = "outside range"
                indices, numbers, good = groups.setdefault(reason, ([], [], []))
                indices.append(point.index)
                numbers.append(number)
                good.append(not reason)
        for reason, (indices, numbers, good) in groups.items():
            sink(np.array(indices, dtype=np.int64), np.array(numbers), np.array(good), now, reason)
            self.stats.points_read += len(indices)

    async def write(self, point: PointDef, value: float) -> None:
        """Write a setpoint's present value at its priority, range-checked."""
        refusal = point.write_refusal(value)
        if refusal is not None:
            raise ValueError(f"{point.name}: {value:g} {refusal}")
        app = self.client.app
        assert app is not None, "BacnetClient.start() first"
        priority = point.bacnet_priority or self.options.priority
        object_id = ObjectIdentifier((point.bacnet_object_type, point.bacnet_object_instance))
        written: Any = "active" if value and point.bacnet_object_type in BINARY else Real(value)
        if point.bacnet_object_type in BINARY and not value:
            written = "inactive"
        try:
            reply = await self._request(
                app.write_property(
                    self.address,
                    object_id,
                    _camel(point.bacnet_property),
                    written,
                    priority=priority,
                )
            )
        except TimeoutError:
            raise ValueError(f"{point.name}: no reply to the write {self._where()}") from None
        except ErrorRejectAbortNack as error:
            reply = error
        if isinstance(reply, ErrorRejectAbortNack):
            raise ValueError(f"{point.name}: write refused ({_error_text(reply)})")
        log.info("wrote %s = %s (BACnet, priority %d)", point.name, value, priority)

    def close(self) -> None:
        if self.cov is not None:
            self.cov.drop()  # the shared client itself is closed by the collector
