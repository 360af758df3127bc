"""A short Modbus reply (fewer registers than asked) is a bad read of its block only.

The device is a raw asyncio TCP server on 127.0.0.1 speaking Modbus TCP by hand, so
it can do what no well-behaved server does: answer one read with a well-formed
frame (right MBAP length, right byte count) that carries fewer registers than the
request asked for, as a broken gateway does. The block it answers is bad with
reason "short reply"; the device's other block stays good, the link stays up, and
the next poll reads again.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

from twin.collect.modbus import ModbusDevice, ModbusOptions
from twin.live.state import LiveState
from twin.points.codec import encode
from twin.points.quality import Quality
from twin.points.registry import parse_registry

MAP = """\
point,device,equipment,unit,modbus_host,modbus_port,unit_id,register_type,address,data_type,word_order,scale
ups1.output_kw,ups1,ups,kW,127.0.0.1,{port},1,input_register,0,float32,CDAB,1
ups1.load_pct,ups1,ups,%,127.0.0.1,{port},1,input_register,2,int16,,0.1
ups1.battery_v,ups1,ups,V,127.0.0.1,{port},1,input_register,100,float32,ABCD,1
ups1.battery_c,ups1,ups,degC,127.0.0.1,{port},1,input_register,102,int16,,0.1
"""

REGISTERS = {  # input registers the device holds
    0: encode([412.5], "float32", "CDAB")[0].tolist(),
    2: encode([63.4], "int16", scale=0.1)[0].tolist(),
    100: encode([545.0], "float32", "ABCD")[0].tolist(),
    102: encode([24.5], "int16", scale=0.1)[0].tolist(),
}
SHORT_AT = 100  # reads starting here are answered with one register too few


class ShortGateway:
    """Modbus TCP by hand: function 4 only; a read at SHORT_AT gets a short reply."""

    def __init__(self) -> None:
        self.words = dict.fromkeys(range(200), 0)
        for address, words in REGISTERS.items():
            for i, word in enumerate(words):
                self.words[address + i] = word
        self.requests: list[tuple[int, int]] = []  # (start, count)
        self.short = True

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(7)
                tid, _, length, unit = struct.unpack(">HHHB", header)
                pdu = await reader.readexactly(length - 1)
                function, start, count = struct.unpack(">BHH", pdu[:5])
                assert function == 4, function
                self.requests.append((start, count))
                if start == SHORT_AT and self.short:
                    count -= 1  # a well-formed frame with too few registers
                words = [self.words[start + i] for i in range(count)]
                body = struct.pack(f">BB{count}H", function, 2 * count, *words)
                writer.write(struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        finally:
            writer.close()


def test_a_short_reply_marks_its_block_bad_and_the_rest_good(tmp_path: Path) -> None:
    async def run() -> None:
        gateway = ShortGateway()
        server = await asyncio.start_server(gateway.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        registry = parse_registry(MAP.format(port=port), tmp_path / "ups.csv")
        state = LiveState(registry)
        device = ModbusDevice(registry.points, ModbusOptions(timeout=2.0))
        assert [(b.start, b.count) for b in device.blocks] == [(0, 3), (100, 3)]
        try:
            assert await asyncio.wait_for(device.poll(state.update), timeout=30)
            samples = {s.point: s for s in state.all_samples()}
            assert samples["ups1.output_kw"].quality == Quality.GOOD
            assert samples["ups1.output_kw"].value == 412.5
            assert samples["ups1.load_pct"].value == 63.4
            for name in ("ups1.battery_v", "ups1.battery_c"):
                assert samples[name].quality == Quality.BAD
                assert samples[name].value is None
                assert samples[name].reason == "short reply: 2 of 3 registers"
            assert device.stats.exceptions == 1
            assert device.stats.points_read == 2
            assert not device.down and device.client is not None and device.client.connected
            assert [(b.start, b.count) for b in device.blocks] == [(0, 3), (100, 3)]  # no split

            # the gateway mends: the same blocks read good on the next poll
            gateway.short = False
            assert await asyncio.wait_for(device.poll(state.update), timeout=30)
            samples = {s.point: s for s in state.all_samples()}
            assert all(s.quality == Quality.GOOD for s in samples.values())
            assert samples["ups1.battery_v"].value == 545.0
            assert samples["ups1.battery_c"].value == 24.5
            assert gateway.requests == [(0, 3), (100, 3)] * 2
            assert device.stats.connects == 1
        finally:
            device.close()
            server.close()
            await server.wait_closed()

    asyncio.run(run())
