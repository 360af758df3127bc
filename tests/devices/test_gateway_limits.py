"""A gateway as BMS masters expect one: 0B for a missing unit, bounded logs and sockets."""

from __future__ import annotations

import contextlib
import logging
import resource
import socket
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pymodbus.client import ModbusTcpClient

from twin.devices.modbus_guard import GatewayLimits, RateLimitedLog

from .gatewaythread import GatewayThread
from .simthread import wait_for


def _read_input(unit: int, tid: int = 7, address: int = 0, count: int = 2) -> bytes:
    return struct.pack(">HHHBBHH", tid, 0, 6, unit, 4, address, count)


def _reply(raw: socket.socket) -> bytes:
    header = b""
    while len(header) < 6:
        chunk = raw.recv(6 - len(header))
        if not chunk:
            raise ConnectionError("closed")
        header += chunk
    length = struct.unpack(">H", header[4:6])[0]
    body = b""
    while len(body) < length:
        chunk = raw.recv(length - len(body))
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    return header + body


# ------------------------------------------------------------ item 13: unit ids


def test_a_unit_the_gateway_does_not_have_gets_exception_0B() -> None:
    with GatewayThread(units=3) as gateway:
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as raw:
            raw.sendall(_read_input(unit=200, tid=0x1234))
            reply = _reply(raw)
        tid, protocol, _, unit, function, code = struct.unpack(">HHHBBB", reply)
        assert (tid, protocol, unit) == (0x1234, 0, 200)
        assert (function, code) == (0x84, 0x0B)


def test_mbpoll_tells_a_missing_unit_from_a_present_one() -> None:
    """mbpoll (libmodbus) names exception 0B; the present unit answers its registers."""
    with GatewayThread(units=3) as gateway:
        common = ["mbpoll", "-m", "tcp", "-p", str(gateway.port), "-t", "3", "-0", "-1"]
        common += ["-r", "0", "-c", "2", "-o", "5"]
        present = subprocess.run(
            [*common, "-a", "2", "127.0.0.1"], capture_output=True, text=True, timeout=30
        )
        assert present.returncode == 0, present.stdout + present.stderr
        assert "[0]: \t2000" in present.stdout and "[1]: \t2001" in present.stdout
        missing = subprocess.run(
            [*common, "-a", "99", "127.0.0.1"], capture_output=True, text=True, timeout=30
        )
        text = (missing.stdout + missing.stderr).lower()
        # libmodbus names exception 0B (EMBXGTAR); a silent unit would be "timed out"
        assert "target device failed to respond" in text and "timed out" not in text, text


def test_an_offline_unit_stays_silent_and_broadcast_gets_no_reply() -> None:
    from twin.devices.faults import DeviceFault

    with GatewayThread(units=3) as gateway:
        gateway.faults.inject(DeviceFault(device="chiller-2", kind="offline", at_s=0))
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as raw:
            raw.sendall(_read_input(unit=2, tid=1))
            raw.sendall(_read_input(unit=0, tid=2))
            raw.sendall(_read_input(unit=3, tid=3))
            reply = _reply(raw)  # only unit 3 answers
        assert struct.unpack(">H", reply[:2])[0] == 3
        assert reply[7] == 4


# ------------------------------------------------------- item 14: bounded logs


def _garbage(rng_seed: int, n: int) -> list[bytes]:
    import random

    rng = random.Random(rng_seed)
    frames = []
    for k in range(n):
        kind = k % 4
        if kind == 0:
            frames.append(struct.pack(">HHHBB", k, 7, 6, 1, 3) + b"\0\0\0\1")  # protocol 7
        elif kind == 1:
            frames.append(struct.pack(">HHHBB", k, 0, 3, 1, 3) + b"\0")  # body too short
        elif kind == 2:
            frames.append(struct.pack(">HHHBB", k, 0, 2, 1, rng.randrange(100, 128)))
        else:
            frames.append(rng.randbytes(rng.randrange(8, 40)))
    return frames


def test_malformed_frames_are_logged_once_a_minute_per_peer_and_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, pymodbus and asyncio included
    frames = _garbage(11, 800)
    with GatewayThread(units=3) as gateway:
        for start in range(0, len(frames), 40):
            with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as raw:
                for frame in frames[start : start + 40]:
                    raw.sendall(frame)
                raw.sendall(_read_input(unit=1, tid=999))
                # the request after the garbage is answered (or the garbage ate it): either
                # way the connection is served, not torn down with a traceback
                raw.settimeout(0.5)
                try:
                    while True:
                        if struct.unpack(">H", _reply(raw)[:2])[0] == 999:
                            break
                except (TimeoutError, ConnectionError):
                    pass
        assert gateway.gateways is not None
        # frames that arrive together after a malformed one are dropped with it (framing
        # is lost): fewer reports than frames, but at least one a connection
        wait_for(lambda: gateway.gateways.problems.reported >= 20, what="problems reported")
        with ModbusTcpClient("127.0.0.1", port=gateway.port, timeout=10) as client:
            reply = client.read_input_registers(0, count=2, device_id=3)
            assert reply.registers == [3000, 3001]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    text = "\n".join(r.getMessage() for r in warnings)
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
    # one line per kind at most (all from 127.0.0.1, all within the minute), plus the
    # counts written at shutdown: nowhere near one per frame
    assert len(warnings) <= 8, text
    assert "malformed frame from 127.0.0.1" in text
    assert "undecodable request from 127.0.0.1" in text
    assert " more malformed frames from 127.0.0.1" in text  # the count, at shutdown


def test_rate_limited_log_writes_one_line_a_window_with_the_count() -> None:
    now = [0.0]
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("test.ratelimit")
    logger.propagate = False
    logger.addHandler(Collect())
    limiter = RateLimitedLog(window_s=60, max_keys=2, clock=lambda: now[0], logger=logger)
    for _ in range(1000):
        limiter.report("gw", "10.0.0.1", "malformed frame", "protocol id 7")
        now[0] += 0.01  # 1000 frames in 10 s
    assert len(lines) == 1
    now[0] = 61
    limiter.sweep()
    assert len(lines) == 2 and "999 more malformed frames from 10.0.0.1" in lines[1]
    for peer in ("a", "b", "c", "d"):  # more peers than keys: the oldest is written, forgotten
        limiter.report("gw", peer, "malformed frame", "x")
        limiter.report("gw", peer, "malformed frame", "x")
    assert len(limiter._tallies) == 2
    assert sum("1 more malformed frame from a" in line for line in lines) == 1


# -------------------------------------------------- item 15: idle, connection cap


def test_idle_connections_are_closed_and_active_ones_kept() -> None:
    limits = GatewayLimits(idle_timeout_s=1.0)
    with GatewayThread(units=2, limits=limits) as gateway:
        idle = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
        garbage = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
        with ModbusTcpClient("127.0.0.1", port=gateway.port, timeout=10) as active:
            deadline = time.monotonic() + 4.0
            while time.monotonic() < deadline:  # requests every 0.2 s keep it open
                assert not active.read_input_registers(0, count=1, device_id=1).isError()
                with contextlib.suppress(OSError):  # once closed, the gateway refuses it
                    garbage.sendall(b"\x00")  # traffic, but never a request
                time.sleep(0.2)
            idle.settimeout(10)
            assert idle.recv(1) == b""  # closed by the gateway
            garbage.settimeout(10)
            with contextlib.suppress(ConnectionResetError):
                assert garbage.recv(100) == b""
            assert not active.read_input_registers(0, count=1, device_id=2).isError()
        idle.close()
        garbage.close()
        assert gateway.gateways is not None and gateway.gateways.connections.timed_out >= 2


def test_over_the_cap_the_connection_idle_longest_makes_room() -> None:
    limits = GatewayLimits(max_connections=5)
    with GatewayThread(units=2, limits=limits) as gateway:
        address = ("127.0.0.1", gateway.port)
        hoard = [socket.create_connection(address, timeout=10) for _ in range(20)]
        try:
            with ModbusTcpClient("127.0.0.1", port=gateway.port, timeout=10) as client:
                assert client.read_input_registers(0, count=2, device_id=2).registers == [
                    2000,
                    2001,
                ]
            assert gateway.gateways is not None
            wait_for(lambda: gateway.gateways.connections.count(0) <= 5, what="cap held")
            assert gateway.gateways.connections.evicted >= 15
        finally:
            for raw in hoard:
                raw.close()


def test_gateway_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        GatewayLimits(max_connections=0)
    with pytest.raises(ValueError, match="idle_timeout_s"):
        GatewayLimits(idle_timeout_s=float("nan"))
    assert GatewayLimits().per_gateway(247) == 279  # a connection per unit id, 32 masters


_HOARDER = textwrap.dedent(
    """
    import socket, sys
    port = int(sys.argv[1])
    held = []
    try:
        while len(held) < 1100:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    except OSError:
        pass
    print(len(held), flush=True)
    sys.stdin.read()
    """
)


def test_idle_sockets_to_the_descriptor_limit_do_not_lock_a_bms_out(tmp_path: Path) -> None:
    """`twin sim` under a 1,024-descriptor limit: 1,100 idle sockets, then a BMS client."""
    limit = 1024
    sim = subprocess.Popen(
        [
            *(str(Path(sys.executable).parent / "twin"), "sim", "legacy-air-2mw"),
            *("--modbus-port", "0", "--no-opcua", "--state-dir", str(tmp_path / "state")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit)),
        cwd=tmp_path,
    )
    hoarder = None
    try:
        assert sim.stdout is not None
        ports = []
        for line in sim.stdout:
            if line.startswith("modbus-tcp"):
                ports.append(int(line.split()[1].rsplit(":", 1)[1]))
            if line.startswith("site "):
                break
        assert ports, sim.stderr.read() if sim.stderr else ""
        port = ports[2]  # hall-1, 247 unit ids
        hoarder = subprocess.Popen(
            [sys.executable, "-c", _HOARDER, str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert hoarder.stdout is not None
        held = int(hoarder.stdout.readline())
        assert held >= 1000
        # the BMS: mbpoll, a fresh connection, polling a unit
        result = subprocess.run(
            [
                *("mbpoll", "-m", "tcp", "-p", str(port), "-a", "5", "-t", "3", "-0", "-1"),
                *("-r", "0", "-c", "1", "-o", "5", "127.0.0.1"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        if hoarder is not None:
            hoarder.kill()
            hoarder.wait()
        sim.terminate()
        try:
            sim.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()
