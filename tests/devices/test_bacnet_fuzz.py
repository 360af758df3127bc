"""Malformed BACnet/IP datagrams at a simulated device: it keeps answering.

A bounded run (a few thousand datagrams, seeded) of what a broken or hostile peer
sends: random bytes, BVLC headers whose length lies, unknown BVLC functions, NPDUs
with bad versions and control bits, and a valid ReadProperty request truncated and
with bytes flipped. After each burst the device still answers a well-formed
ReadProperty, by our client and by @bacnet-js/client.
"""

from __future__ import annotations

import random
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from tests.peers import bacnetjs
from twin.devices.runner import Options

from .simthread import SimThread

ROUNDS, PER_ROUND = 8, 400


def read_property(invoke: int, object_type: int, instance: int, prop: int = 85) -> bytes:
    """A confirmed ReadProperty request in BVLC Original-Unicast-NPDU (135 Annex J)."""
    object_id = struct.pack(">I", object_type << 22 | instance)
    apdu = bytes([0x00, 0x05, invoke & 0xFF, 0x0C, 0x0C]) + object_id + bytes([0x19, prop])
    npdu = bytes([0x01, 0x04])  # version 1, expecting a reply
    body = npdu + apdu
    return bytes([0x81, 0x0A]) + struct.pack(">H", 4 + len(body)) + body


def garbage(rng: random.Random) -> bytes:
    good = read_property(rng.randrange(256), 0, 1)
    kind = rng.randrange(7)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 1600))
    if kind == 1:  # BVLC length that lies
        return good[:2] + struct.pack(">H", rng.choice([0, 1, 3, 4, 5, 2000, 65535])) + good[4:]
    if kind == 2:  # unknown or unsupported BVLC functions
        return bytes([0x81, rng.randrange(256)]) + good[2:]
    if kind == 3:  # NPDU version and control bits
        return good[:4] + bytes([rng.randrange(256), rng.randrange(256)]) + good[6:]
    if kind == 4:  # truncated
        return good[: rng.randrange(len(good))]
    if kind == 5:  # bytes flipped
        data = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(4, len(data))] = rng.randrange(256)
        return bytes(data)
    return good + rng.randbytes(rng.randrange(1, 64))  # trailing bytes


def answers(sock: socket.socket, port: int, invoke: int, deadline_s: float = 60.0) -> bool:
    """Whether the device answers a well-formed ReadProperty, asked as a client does.

    A BACnet client resends an unanswered request after its APDU timeout (135 clause
    5.4.4, 3 s by default); so does this one. A burst of 400 datagrams can overflow
    the socket buffers of a busy 2-core machine and drop our request with it: that is
    UDP, not a dead device. A device that stopped answering fails after the deadline.
    """
    request = read_property(invoke, 0, 1)
    give_up = time.monotonic() + deadline_s
    while time.monotonic() < give_up:
        sock.settimeout(3.0)
        sock.sendto(request, ("127.0.0.1", port))
        try:
            while True:
                reply = sock.recv(2048)
                # BVLC, NPDU (2 bytes), then a ComplexACK (0x30) for our invoke id
                if len(reply) > 8 and reply[6] == 0x30 and reply[7] == invoke:
                    return True
        except TimeoutError:
            continue
    return False


@pytest.fixture(scope="module")
def site() -> Iterator[SimThread]:
    with SimThread("aidc-10mw", Options(modbus_port=0, opcua_port=None, bacnet_port=0)) as sim:
        sim.step()
        yield sim


def test_the_device_keeps_answering_after_malformed_datagrams(site: SimThread) -> None:
    bacnet = site.sim.bacnet
    assert bacnet is not None
    port = bacnet.ports["chiller-1"]
    rng = random.Random(20261202)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5.0)
        for round_ in range(ROUNDS):
            for _ in range(PER_ROUND):
                sock.sendto(garbage(rng), ("127.0.0.1", port))
            # drain whatever it answered (errors, rejects), then ask properly
            sock.settimeout(0.05)
            try:
                while True:
                    sock.recv(2048)
            except TimeoutError:
                pass
            assert answers(sock, port, invoke=200 + round_), f"no answer after round {round_}"
    answer = bacnetjs.probe(
        {"read": [{"address": f"127.0.0.1:{port}", "type": 0, "instance": 1,
                   "properties": [bacnetjs.PRESENT_VALUE]}]}
    )  # fmt: skip
    assert "error" not in answer["reads"][0], answer
