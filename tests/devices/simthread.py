"""A simulation served from its own event loop in a background thread, for tests.

Tests talk to it only over sockets (pymodbus and asyncua clients, mbpoll); to
step the plant deterministically they ask the simulation's own loop to do it
(:meth:`SimThread.call`), so nothing races the servers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from twin.devices.runner import Options, Simulation
from twin.site import load_site

T = TypeVar("T")


class SimThread:
    def __init__(self, site: str, options: Options) -> None:
        self.sim = Simulation(load_site(site), options)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> SimThread:
        self.sim.setup()
        self.thread.start()
        self.call(self.sim.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()

    def call(self, awaitable: Awaitable[T], timeout: float = 120.0) -> T:
        future: Future = asyncio.run_coroutine_threadsafe(awaitable, self.loop)  # type: ignore[arg-type]
        return future.result(timeout)

    def run(self, function: Callable[..., T], *args: Any) -> T:
        async def wrapper() -> T:
            return function(*args)

        return self.call(wrapper())

    def step(self, steps: int = 1) -> None:
        """Advance the plant and wait for every writer task to refresh."""

        async def go() -> None:
            for _ in range(steps):
                await self.sim.advance()
            await self.sim.settled()

        self.call(go())

    def port(self, gateway: int) -> int:
        assert self.sim.modbus is not None
        return self.sim.modbus.ports[gateway]


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll a condition with a generous deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


def client_certificate(key: Path, cert: Path, uri: str, name: str) -> None:
    """A self-signed OPC UA client certificate (DER) and key (PEM) for a test client."""
    import socket

    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    asyncio.run(
        setup_self_signed_certificate(
            key,
            cert,
            uri,
            socket.gethostname(),
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"countryName": "CN", "organizationName": "twin tests", "commonName": name},
        )
    )
