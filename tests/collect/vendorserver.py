"""A Modbus TCP server built straight from a vendor register map, with pymodbus' own parts.

Independent of twin's device layer and codec: values are encoded with pymodbus'
``convert_to_registers`` and served by its stock sparse data blocks, as a third-party
device would serve them. Points listed in ``missing`` are not implemented (a read that
touches them gets exception 02, as real firmware does for unmapped registers).
"""

from __future__ import annotations

import math
from pathlib import Path

from pymodbus.client import ModbusTcpClient
from pymodbus.datastore import ModbusDeviceContext, ModbusServerContext, ModbusSparseDataBlock
from pymodbus.server import ModbusTcpServer

from twin.points.registry import PointDef, Registry

DATATYPES = {
    "int16": ModbusTcpClient.DATATYPE.INT16,
    "uint16": ModbusTcpClient.DATATYPE.UINT16,
    "int32": ModbusTcpClient.DATATYPE.INT32,
    "uint32": ModbusTcpClient.DATATYPE.UINT32,
    "float32": ModbusTcpClient.DATATYPE.FLOAT32,
    "float64": ModbusTcpClient.DATATYPE.FLOAT64,
}


def value_for(point: PointDef) -> float:
    """A plausible engineering value inside the point's range, on its scale's grid."""
    low = point.range_low if point.range_low is not None else 0.0
    high = point.range_high if point.range_high is not None else 100.0
    value = low + (high - low) * (0.3 + 0.01 * (point.index % 37))
    if point.data_type != "float32":
        value = round(value / point.scale) * point.scale
    return value


def build_context(
    registry: Registry, missing: set[str] = frozenset()
) -> tuple[ModbusServerContext, dict[str, float]]:
    tables: dict[int, dict[str, dict[int, int]]] = {}
    expected: dict[str, float] = {}
    for point in registry.points:
        table = tables.setdefault(point.unit_id, {"i": {}, "h": {}, "d": {}, "c": {}})
        key = {"input_register": "i", "holding_register": "h", "discrete_input": "d", "coil": "c"}[
            point.register_type
        ]
        if point.name in missing:
            continue
        if point.register_type in ("discrete_input", "coil"):
            expected[point.name] = 1.0
            table[key][point.address + 1] = True
            continue
        if point.bit is None and point.data_type == "uint16" and not point.unit:
            table[key].setdefault(point.address + 1, 0)  # a status word: bits set below
            continue
        if point.bit is not None:
            word = table[key].get(point.address + 1, 0)
            on = point.bit % 2 == 0
            table[key][point.address + 1] = word | (int(on) << point.bit)
            expected[point.name] = float(on)
            continue
        value = value_for(point)
        raw: float | int = (
            value if point.data_type.startswith("float") else round(value / point.scale)
        )
        order = "little" if point.word_order == "CDAB" else "big"
        words = ModbusTcpClient.convert_to_registers(
            raw, DATATYPES[point.data_type], word_order=order
        )
        for offset, word in enumerate(words):
            table[key][point.address + 1 + offset] = word
        expected[point.name] = value
    devices = {}
    for unit, t in tables.items():
        blocks = {k: ModbusSparseDataBlock(v or {1: 0}) for k, v in t.items()}
        devices[unit] = ModbusDeviceContext(
            di=blocks["d"], co=blocks["c"], hr=blocks["h"], ir=blocks["i"]
        )
    # expected words of status points are whole-word values
    for point in registry.points:
        if (
            point.bit is None
            and point.data_type == "uint16"
            and not point.unit
            and point.name not in missing
        ):
            table = tables[point.unit_id]["i" if point.register_type == "input_register" else "h"]
            expected[point.name] = float(table[point.address + 1])
    return ModbusServerContext(devices=devices, single=False), expected


async def serve(context: ModbusServerContext, port: int = 0) -> tuple[ModbusTcpServer, int]:
    server = ModbusTcpServer(context, address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    return server, int(server.transport.sockets[0].getsockname()[1])  # type: ignore[union-attr]


def close(got: float, want: float, point: PointDef) -> bool:
    if point.data_type == "float32":
        return math.isclose(got, want, rel_tol=2**-23, abs_tol=1e-30)
    return abs(got - want) <= abs(point.scale) / 2 + 1e-9


def with_ports(text: str, ports: dict[int, int]) -> str:
    """Registry text with each unit's port replaced (1502 in the shipped map)."""
    out = []
    for line in text.splitlines():
        if line.startswith("#") or line.startswith("point,"):
            out.append(line)
            continue
        out.append(line)
        for unit, port in ports.items():
            if f",127.0.0.1,1502,{unit}," in line:
                out[-1] = line.replace(f",127.0.0.1,1502,{unit},", f",127.0.0.1,{port},{unit},")
    return "\n".join(out) + "\n"


VENDOR_MAP = Path(__file__).parents[2] / "configs/points/plant-room-vendor.csv"
