"""Device layer speed: refresh cost and Modbus throughput, beside a bare pymodbus server.

Prints, for a site (default aidc-100mw):

- the CPU share of one core the device layer spends refreshing every point of
  every device at 1 Hz (Modbus images and OPC UA variables), against the 50 % target;
- Modbus requests/s of 125 registers, in aggregate over several clients, while
  the plant steps and the writers refresh, beside a bare pymodbus server (one
  sequential datastore, no plant) on the same machine, as a ratio.

Run: ``.venv/bin/python bench/devices.py [SITE] [--seconds S] [--no-opcua]``
"""

from __future__ import annotations

import argparse
import asyncio
import time

from common import row
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.datastore import (
    ModbusDeviceContext,
    ModbusSequentialDataBlock,
    ModbusServerContext,
)
from pymodbus.server import ModbusTcpServer

from twin.devices.runner import Options, Simulation
from twin.site import load_site

CLIENTS = 8


async def _hammer(port: int, units: list[int], seconds: float) -> int:
    """Requests of 125 input registers from CLIENTS clients, one in flight each."""
    done = 0
    stop_at = time.perf_counter() + seconds

    async def one(index: int) -> None:
        nonlocal done
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=10)
        await client.connect()
        unit = units[index % len(units)]
        while time.perf_counter() < stop_at:
            reply = await client.read_input_registers(0, count=125, device_id=unit)
            assert not reply.isError(), reply
            done += 1
        client.close()

    await asyncio.gather(*(one(i) for i in range(CLIENTS)))
    return done


async def bare(seconds: float) -> float:
    store = ModbusDeviceContext(ir=ModbusSequentialDataBlock(1, [7] * 200))
    server = ModbusTcpServer(
        ModbusServerContext(devices=store, single=True), address=("127.0.0.1", 0)
    )
    await server.serve_forever(background=True)
    port = server.transport.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    count = await _hammer(port, [1], seconds)
    await server.shutdown()
    return count / seconds


async def twin_layer(site: str, seconds: float, opcua: bool) -> dict[str, float]:
    options = Options(modbus_port=0, opcua_port=0 if opcua else None, speed=1.0)
    sim = Simulation(load_site(site), options)
    started = time.perf_counter()
    sim.setup()
    await sim.start()
    setup_s = time.perf_counter() - started
    assert sim.inventory is not None and sim.modbus is not None
    # refresh cost at 1 Hz, measured over `seconds` of steps with no clients
    runner = asyncio.create_task(sim.run())
    sim.refresh_seconds = 0.0
    cpu0 = time.process_time()
    await asyncio.sleep(seconds)
    refresh_share = sim.refresh_seconds / seconds
    process_share = (time.process_time() - cpu0) / seconds
    # throughput while refreshing: devices with a 125-register input block
    blocks = [
        d for d in sim.inventory.devices if sim.images[d.equipment].tables["input"].shape[1] >= 125
    ]
    by_gateway: dict[int, list[int]] = {}
    for device in blocks:
        by_gateway.setdefault(device.gateway, []).append(device.unit_id)
    gateway, units = max(by_gateway.items(), key=lambda item: len(item[1]))
    count = await _hammer(sim.modbus.ports[gateway], units, seconds)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await sim.stop()
    return {
        "devices": len(sim.inventory.devices),
        "setup_s": setup_s,
        "refresh_share": refresh_share,
        "process_share": process_share,
        "requests_s": count / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", default="aidc-100mw")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-opcua", action="store_true")
    args = parser.parse_args()
    peer = asyncio.run(bare(args.seconds))
    ours = asyncio.run(twin_layer(args.site, args.seconds, not args.no_opcua))
    print(f"site {args.site}: {ours['devices']:.0f} devices, set-up {ours['setup_s']:.1f} s")
    print(
        f"refresh at 1 Hz      {ours['refresh_share'] * 100:5.1f} % of one core "
        f"(whole process {ours['process_share'] * 100:.1f} %)   target <= 50 %"
    )
    print(
        f"Modbus 125-register reads/s, {CLIENTS} clients: twin {ours['requests_s']:,.0f}  "
        f"bare pymodbus {peer:,.0f}  ratio {ours['requests_s'] / peer:.2f}   target >= 2,000"
    )
    row("device layer refresh at 1 Hz [% of a core]", ours["refresh_share"] * 100, 50.0, "<= 50")
    row("Modbus 125-register reads/s vs bare pymodbus", ours["requests_s"], peer, ">= 2,000/s")


if __name__ == "__main__":
    main()
