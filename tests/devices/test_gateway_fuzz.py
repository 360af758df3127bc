"""Bounded fuzzing of a live gateway: malformed and mutated MBAP frames over real sockets.

After every burst the gateway answers well-formed requests correctly (the registers
each unit holds, 0B for a missing unit), and over the whole run its memory, threads
and descriptors stay flat. The frames are seeded (reproducible); hypothesis adds any
bytes at all, each followed by a well-formed request on a fresh connection.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .gatewaythread import GatewayThread, open_descriptors
from .simthread import wait_for

UNITS = 3


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _request(tid: int, unit: int, function: int = 4, address: int = 0, count: int = 3) -> bytes:
    return struct.pack(">HHHBBHH", tid, 0, 6, unit, function, address, count)


def _mutated(rng: random.Random) -> bytes:
    """A well-formed request, then damaged the ways buggy or hostile masters do."""
    frame = bytearray(_request(rng.randrange(65536), rng.randrange(256), rng.choice((1, 2, 3, 4))))
    kind = rng.randrange(8)
    if kind == 0:  # flip bytes anywhere
        for _ in range(rng.randrange(1, 4)):
            frame[rng.randrange(len(frame))] = rng.randrange(256)
    elif kind == 1:  # truncated
        frame = frame[: rng.randrange(1, len(frame))]
    elif kind == 2:  # trailing garbage
        frame += rng.randbytes(rng.randrange(1, 40))
    elif kind == 3:  # a length that lies
        frame[4:6] = struct.pack(">H", rng.randrange(65536))
    elif kind == 4:  # not Modbus
        frame[2:4] = struct.pack(">H", rng.randrange(1, 65536))
    elif kind == 5:  # any function code, any body
        body = rng.randbytes(rng.randrange(0, 30))
        frame = bytearray(struct.pack(">HHHBB", 1, 0, len(body) + 2, 1, rng.randrange(256)) + body)
    elif kind == 6:  # wild address / count of a read
        frame[8:12] = struct.pack(">HH", rng.randrange(65536), rng.randrange(65536))
    else:  # pure noise
        frame = bytearray(rng.randbytes(rng.randrange(1, 300)))
    return bytes(frame)


def _reply(raw: socket.socket) -> bytes:
    data = b""
    while len(data) < 6 or len(data) < 6 + struct.unpack(">H", data[4:6])[0]:
        chunk = raw.recv(512)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _check_answers(port: int, tid: int) -> None:
    """Every unit's registers, and 0B for a unit the gateway does not have."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        for unit in range(1, UNITS + 1):
            raw.sendall(_request(tid, unit))
            reply = _reply(raw)
            assert struct.unpack(">HHHBBB", reply[:9]) == (tid, 0, 9, unit, 4, 6), reply
            assert list(struct.unpack(">3H", reply[9:15])) == [
                1000 * unit,
                1000 * unit + 1,
                1000 * unit + 2,
            ]
        raw.sendall(_request(tid, 77))
        assert _reply(raw)[7:9] == b"\x84\x0b"


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayThread]:
    with GatewayThread(units=UNITS) as served:
        yield served


def _burst(port: int, frames: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        for frame in frames:
            try:
                raw.sendall(frame)
            except OSError:
                return  # the gateway may close a connection that sent nonsense
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_WR)
        raw.settimeout(2)
        with contextlib.suppress(OSError):
            while raw.recv(4096):  # read what it answered until it closes
                pass


def _round(gateway: GatewayThread, rng: random.Random, frames: int, tid: int) -> None:
    per_connection = 50
    for start in range(0, frames, per_connection):
        _burst(gateway.port, [_mutated(rng) for _ in range(per_connection)])
        if start % 500 == 0:
            _check_answers(gateway.port, tid)


def test_thousands_of_malformed_frames_leave_it_answering_and_flat(
    gateway: GatewayThread,
) -> None:
    rng = random.Random(20261202)
    _round(gateway, rng, 1000, tid=1)  # warm-up: caches, buffers, the allocator's arenas
    assert gateway.gateways is not None

    def quiet() -> bool:
        return gateway.gateways.connections.total == 0  # type: ignore[union-attr]

    wait_for(quiet, timeout=30, what="connections closed")
    rss, threads, fds = _rss_kb(), threading.active_count(), open_descriptors()
    _round(gateway, rng, 3000, tid=2)
    _check_answers(gateway.port, tid=3)
    wait_for(quiet, timeout=30, what="connections closed")
    wait_for(lambda: open_descriptors() <= fds, timeout=30, what="descriptors back")
    assert threading.active_count() <= threads
    growth_mb = (_rss_kb() - rss) / 1024
    assert growth_mb < 8, f"RSS grew {growth_mb:.1f} MB over 3,000 frames"


def test_any_bytes_then_a_fresh_master_is_answered(gateway: GatewayThread) -> None:
    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(frame=st.binary(max_size=300))
    def check(frame: bytes) -> None:
        _burst(gateway.port, [frame])
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as raw:
            raw.sendall(_request(9, 2, count=1))
            assert _reply(raw)[9:11] == struct.pack(">H", 2000)

    check()
