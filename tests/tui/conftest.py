"""A simulated aidc-10mw and its collector (loopback Modbus TCP), shared by the Pilot tests."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
from textual.pilot import Pilot

from twin.runtime import SiteRuntime


@pytest.fixture(scope="package")
def runtime() -> Iterator[SiteRuntime]:
    with SiteRuntime("aidc-10mw") as site:
        yield site


async def until(
    pilot: Pilot, condition: Callable[[], bool], timeout: float = 60.0, what: str = ""
) -> None:
    """Wait on a condition with a generous deadline, letting the app run (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)


Until = Callable[..., Awaitable[None]]
