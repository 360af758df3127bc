"""10,000 malformed or random Modbus frames leave a gateway serving, without leaks."""

from __future__ import annotations

import asyncio
import random
import socket
import struct

from pymodbus.client import ModbusTcpClient

from .simthread import SimThread, wait_for


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _frame(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:  # pure noise
        return rng.randbytes(rng.randrange(1, 300))
    transaction = rng.randrange(65536)
    unit = rng.randrange(256)
    function = rng.randrange(256)
    body = rng.randbytes(rng.randrange(0, 20))
    length = len(body) + 2
    if kind == 1:  # length field that lies
        length = rng.randrange(65536)
    protocol = 0 if kind != 2 else rng.randrange(1, 65536)  # not Modbus
    if kind == 3:  # a read of a wild address/count
        function = rng.choice((1, 2, 3, 4))
        body = struct.pack(">HH", rng.randrange(65536), rng.randrange(65536))
        length = len(body) + 2
    return struct.pack(">HHHBB", transaction, protocol, length, unit, function) + body


def test_random_frames_do_not_stop_or_leak_a_gateway(served: SimThread) -> None:
    sim = served.sim
    port = served.port(2)  # hall-1 gateway
    loop_tasks = served.run(lambda: len(asyncio.all_tasks(served.loop)))
    good = ModbusTcpClient("127.0.0.1", port=port, timeout=10)
    assert good.connect()
    rng = random.Random(20240501)
    rss_before = _rss_kb()
    sent = 0
    try:
        for batch in range(100):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                for _ in range(100):
                    try:
                        raw.sendall(_frame(rng))
                    except OSError:
                        break  # the server may drop a connection that sent nonsense
                    sent += 1
            reply = good.read_input_registers(0, count=13, device_id=1)
            assert not reply.isError(), (batch, reply)
        assert sent >= 9000
        # after the storm: well-formed requests still served, and by a new client too
        with ModbusTcpClient("127.0.0.1", port=port, timeout=10) as fresh:
            assert not fresh.read_input_registers(0, count=13, device_id=1).isError()
    finally:
        good.close()

    def settled() -> bool:
        return served.run(lambda: len(asyncio.all_tasks(served.loop))) <= loop_tasks + 2

    wait_for(settled, timeout=60, what="connection tasks to finish")
    growth_mb = (_rss_kb() - rss_before) / 1024
    assert growth_mb < 40, f"RSS grew {growth_mb:.1f} MB"
    assert sim.modbus is not None
