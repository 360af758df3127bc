"""One Modbus TCP gateway of a few devices, served from its own loop in a thread.

No plant behind it (the registers hold what the test puts there): for tests of the
gateway itself (framing, unit ids, connections), which need not wait for a site.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable
from concurrent.futures import Future
from typing import TypeVar

import numpy as np

from twin.devices.faults import Faults
from twin.devices.image import Image
from twin.devices.inventory import Device
from twin.devices.modbus_guard import GatewayLimits
from twin.devices.modbus_server import ModbusGateways
from twin.devices.profiles import load_profiles

T = TypeVar("T")

EQUIPMENT = "chiller"  # 10 input registers, writable setpoints


class GatewayThread:
    def __init__(self, units: int = 3, limits: GatewayLimits | None = None) -> None:
        profile = load_profiles()[EQUIPMENT][0]
        self.image = Image(profile, units)
        span = self.image.tables["input"].shape[1]
        # unit u's input register a reads 1000 u + a: a reply shows whose registers it is
        self.image.tables["input"][:] = 1000 * np.arange(1, units + 1)[:, None] + np.arange(span)
        self.devices = [
            Device(f"chiller-{u}", EQUIPMENT, "plant", row=u - 1, gateway=0, unit_id=u)
            for u in range(1, units + 1)
        ]
        self.faults = Faults()
        self.writes: list[tuple[str, str, float]] = []
        self.limits = limits
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.gateways: ModbusGateways | None = None

    def __enter__(self) -> GatewayThread:
        self.thread.start()

        async def start() -> ModbusGateways:
            gateways = ModbusGateways(
                self.devices,
                {EQUIPMENT: self.image},
                self.faults,
                lambda d, p, v: self.writes.append((d.name, p.name, v)),
                base_port=0,
                limits=self.limits,
                areas=["plant"],
            )
            await gateways.start()
            return gateways

        self.gateways = self.call(start())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.gateways is not None
        self.call(self.gateways.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()

    @property
    def port(self) -> int:
        assert self.gateways is not None
        return self.gateways.ports[0]

    def call(self, awaitable: Awaitable[T], timeout: float = 60.0) -> T:
        future: Future = asyncio.run_coroutine_threadsafe(awaitable, self.loop)  # type: ignore[arg-type]
        return future.result(timeout)


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))
