"""COV subscriptions of one BACnet device, with polling as the fallback (bacpypes3).

With ``BacnetOptions.cov`` on, a device whose first poll answered gets one
SubscribeCOV (unconfirmed notifications, ``cov_lifetime_s``, renewed by
bacpypes3 before it lapses) per object whose points read ``present-value``.
A notification (present value and status flags) is decoded with the same
quality rules as a poll and written at once. An object with a live subscription
is not polled: its points are *held* (``Receiver.hold``: silence on a live
subscription means "unchanged"), except every ``cov_refresh_s``, when the whole
device is polled so a dead device or a lost subscription is noticed.

An object the device will not subscribe (an Error, a Reject, or no reply: COV is
optional in BACnet and many devices lack it) stays polled, logged once at INFO.
A device that stops answering loses its subscriptions; they are made again once
it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from bacpypes3.apdu import ErrorRejectAbortNack

if TYPE_CHECKING:
    from twin.collect.bacnet import BacnetDevice, _Read
    from twin.collect.modbus import Sink

log = logging.getLogger(__name__)


class CovWatch:
    """The subscriptions of one device and the tasks reading their notifications."""

    def __init__(self, device: BacnetDevice) -> None:
        self.device = device
        self.live: dict[int, Any] = {}  # id(read) → bacpypes3 SubscriptionContextManager
        self.refused: set[int] = set()  # id(read) of objects polled instead
        self._tasks: list[asyncio.Task] = []
        self._last_refresh = time.monotonic()
        self._told = False

    def polled(self, reads: list[_Read]) -> list[_Read]:
        """The objects this poll reads: those without a live subscription, or all at a refresh."""
        refresh = self.device.options.cov_refresh_s
        if self.live and time.monotonic() - self._last_refresh >= refresh:
            self._last_refresh = time.monotonic()
            return reads
        return [r for r in reads if id(r) not in self.live]

    def held(self, reads: list[_Read]) -> list[int]:
        """Indices of the points whose values a live subscription vouches for now."""
        return [p.index for r in reads if id(r) in self.live for p in r.points]

    async def subscribe(self, reads: list[_Read], sink: Sink) -> None:
        """Subscribe every object not yet subscribed nor refused."""
        app = self.device.client.app
        assert app is not None
        options = self.device.options
        for read in reads:
            key = id(read)
            if key in self.live or key in self.refused:
                continue
            if any(p.bacnet_property != "present-value" for p in read.points):
                self.refused.add(key)
                continue
            context = app.change_of_value(
                self.device.address,
                read.object_id,
                issue_confirmed_notifications=False,
                lifetime=int(options.cov_lifetime_s),
            )
            try:
                await asyncio.wait_for(context.__aenter__(), options.timeout)
            except (Exception, ErrorRejectAbortNack) as error:  # an Error/Reject/Abort, no reply
                self.refused.add(key)
                app._cov_contexts.pop(
                    (context.address, context.subscriber_process_identifier), None
                )
                if not self._told:
                    log.info(
                        "%s: no COV for %s (%s); polling it",
                        self.device.name,
                        read.object_id,
                        type(error).__name__,
                    )
                    self._told = True
                continue
            self.live[key] = context
            self._tasks.append(asyncio.create_task(self._read(read, context, sink)))

    async def _read(self, read: _Read, context: Any, sink: Sink) -> None:
        latest: dict[str, Any] = {}
        while True:
            prop, value = await context.get_value()
            latest[str(prop)] = value
            if context.queue.empty():  # a notification's values have all arrived
                result = [(read.object_id, name, None, v) for name, v in latest.items()]
                self.device._decode([read], result, sink)

    def drop(self) -> None:
        """Forget every subscription (the device stopped answering)."""
        app = self.device.client.app
        for context in self.live.values():
            if context.refresh_subscription_handle is not None:
                context.refresh_subscription_handle.cancel()
            if app is not None:
                key = (context.address, context.subscriber_process_identifier)
                app._cov_contexts.pop(key, None)
        self.live.clear()
        self.refused.clear()
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    async def close(self) -> None:
        tasks = list(self._tasks)
        self.drop()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
