"""Modbus RTU: on a serial port (a socat pty pair) and over TCP (a serial gateway).

The far end is pymodbus' own RTU server (serial, or TCP with the RTU framer) built
from the vendor-style map by :mod:`vendorserver`, so nothing on the serving side
shares code with the collector. All five units of the map sit on one bus, as they
would on an RS-485 line: the collector must share the port between them. A unit
that falls silent goes bad (timeout) while the others keep reading, and comes back.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import serial  # noqa: F401  pyserial comes with pymodbus[serial]: missing is a failure, not a skip
from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

from twin.collect.modbus import ModbusOptions
from twin.collect.scheduler import Collector, CollectorOptions
from twin.live.state import LiveState
from twin.points.quality import Quality
from twin.points.registry import Registry, parse_registry

from .collectsite import until
from .vendorserver import VENDOR_MAP, build_context

INTERVAL = 0.3
SILENT_UNIT = 4  # crac1
# Linux ptys refuse parity bits (tcsetattr EINVAL), so the pty line is 8N1.
SERIAL = "19200 8N1"


def vendor_registry(transport: str, host: str, port: int | None) -> Registry:
    """The shipped vendor map, every unit moved onto one RTU bus."""
    lines = [line for line in VENDOR_MAP.read_text().splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(lines))
    out = io.StringIO()
    writer = csv.DictWriter(out, [*rows[0], "transport", "serial"])
    writer.writeheader()
    for row in rows:
        row.update(
            modbus_host=host,
            modbus_port="" if port is None else str(port),
            transport=transport,
            serial=SERIAL if transport == "rtu" else "",
        )
        writer.writerow(row)
    return parse_registry(out.getvalue(), Path(f"vendor-{transport}.csv"))


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Two linked ptys from socat: what one end writes, the other reads."""
    socat = shutil.which("socat")
    if socat is None:
        pytest.fail("socat is missing: scripts/test installs it (scripts/test-packages.txt)")
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    process = subprocess.Popen(
        [socat, "-d", "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not (a.exists() and b.exists()):
            if process.poll() is not None:
                pytest.fail(f"socat exited: {process.stderr.read().decode()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                pytest.fail("socat did not create the pty pair")
            time.sleep(0.02)
        yield a, b
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def exact(got: float, want: float, data_type: str) -> bool:
    """Decoded exactly: float32 to its own rounding, scaled integers to the count."""
    if data_type == "float32":
        return got == float(np.float32(want))
    return abs(got - want) <= 1e-9 * max(1.0, abs(want))


async def exercise(registry: Registry, context, expected: dict[str, float]) -> Collector:  # type: ignore[no-untyped-def]
    """All points good and exact; one unit silenced goes bad, the others stay good; back."""
    state = LiveState(registry, interval_s=INTERVAL, stale_after=4.0)
    options = ModbusOptions(timeout=0.5, backoff_min=0.2, backoff_max=1.0)
    collector = Collector(registry, state, CollectorOptions(interval_s=INTERVAL, modbus=options))
    silent = np.array([p.index for p in registry.points if p.unit_id == SILENT_UNIT])
    others = np.array([p.index for p in registry.points if p.unit_id != SILENT_UNIT])
    await collector.start()
    try:
        await until(lambda: bool((state.good_ts > 0).all()), what="every point good")
        values, quality = state.values()
        for point in registry.points:
            assert quality[point.index] == Quality.GOOD, point.name
            assert exact(values[point.index], expected[point.name], point.data_type), (
                point.name,
                values[point.index],
                expected[point.name],
            )
        # the unit falls silent (a server ignoring requests to an unknown id)
        device = context[SILENT_UNIT]
        del context[SILENT_UNIT]
        silenced = time.time()
        await until(lambda: bool(state.bad[silent].all()), what="the silent unit's points bad")
        reason = state.sample(registry.points[int(silent[0])].name).reason
        assert "timeout" in reason and f"unit {SILENT_UNIT}" in reason, reason
        # the other units on the bus keep reading meanwhile
        await until(
            lambda: bool((state.good_ts[others] > silenced + 2 * INTERVAL).all()),
            what="the other units still read while one is silent",
        )
        assert not state.bad[others].any()
        context[SILENT_UNIT] = device
        back = time.time()
        await until(
            lambda: bool((state.good_ts[silent] > back).all() and not state.bad[silent].any()),
            what="the silent unit good again",
        )
        assert collector.device("crac1").stats.timeouts >= 1
        assert collector.device("crac1").stats.reconnects >= 1
    finally:
        await collector.stop()
    _, quality = state.values()
    assert (quality == Quality.GOOD).all()
    # one link for the bus: a single client was opened for all five units
    assert len({id(d.link) for d in collector.devices}) == 1
    assert sum(d.stats.connects for d in collector.devices) == 1
    return collector


def test_rtu_on_a_serial_port(pty_pair: tuple[Path, Path]) -> None:
    server_end, collector_end = pty_pair

    async def run() -> None:
        plain = parse_registry(VENDOR_MAP.read_text(), VENDOR_MAP)
        context, expected = build_context(plain)
        server = ModbusSerialServer(
            context,
            framer=FramerType.RTU,
            port=str(server_end),
            baudrate=19200,
            ignore_missing_devices=True,
        )
        await server.serve_forever(background=True)
        try:
            registry = vendor_registry("rtu", str(collector_end), None)
            assert {p.transport for p in registry.points} == {"rtu"}
            await exercise(registry, context, expected)
        finally:
            await server.shutdown()

    asyncio.run(run())


def test_rtu_over_tcp_through_a_serial_gateway() -> None:
    async def run() -> None:
        plain = parse_registry(VENDOR_MAP.read_text(), VENDOR_MAP)
        context, expected = build_context(plain)
        server = ModbusTcpServer(
            context,
            framer=FramerType.RTU,
            address=("127.0.0.1", 0),
            ignore_missing_devices=True,
        )
        await server.serve_forever(background=True)
        try:
            port = int(server.transport.sockets[0].getsockname()[1])  # type: ignore[union-attr]
            registry = vendor_registry("rtu-over-tcp", "127.0.0.1", port)
            await exercise(registry, context, expected)
        finally:
            await server.shutdown()

    asyncio.run(run())
