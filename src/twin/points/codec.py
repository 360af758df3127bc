"""Register codec shared by the simulated devices and the collector.

A value on a Modbus wire is a run of 16-bit registers. How a number becomes
registers is fixed by three things a vendor's register map states per point:

- the data type (:data:`DATA_TYPES`: INT16 … FLOAT32, UINT64, BOOL),
- the word order of 32/64-bit values (``ABCD`` big-endian, ``CDAB`` word-swapped,
  ``BADC`` byte-swapped, ``DCBA`` little-endian; the letters are the bytes of the
  big-endian value in the order they appear on the wire),
- the scale: ``engineering value = raw × scale`` (a UINT16 of 0.1 °C has scale 0.1).

Encoding works on arrays (all devices of one type at once, for the writer tasks);
decoding works on one point's registers (for clients and tests).

Examples
--------
>>> encode([21.5], "float32", "ABCD").tolist()
[[16812, 0]]
>>> encode([21.5], "float32", "CDAB").tolist()
[[0, 16812]]
>>> decode([0, 16812], "float32", "CDAB")
21.5
>>> encode([-12.3], "int16", scale=0.1).tolist()
[[65413]]
>>> decode([65413], "int16", scale=0.1)
-12.3
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DATA_TYPES",
    "WORD_ORDERS",
    "DataType",
    "Quality",
    "decode",
    "encode",
    "resolution",
    "swap_words",
]


@dataclass(frozen=True)
class DataType:
    """One row of the data type table."""

    name: str
    registers: int  # 16-bit registers on the wire (0 for a single bit)
    numpy: str  # big-endian numpy dtype of the raw value
    is_float: bool
    low: float  # raw range
    high: float


def _int(name: str, bits: int, signed: bool) -> DataType:
    low = -(2 ** (bits - 1)) if signed else 0
    high = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
    kind = "i" if signed else "u"
    return DataType(name, bits // 16, f">{kind}{bits // 8}", False, low, high)


#: Every data type a profile may use, checked at load time.
DATA_TYPES: dict[str, DataType] = {
    t.name: t
    for t in (
        DataType("bool", 0, "?", False, 0, 1),
        _int("int16", 16, True),
        _int("uint16", 16, False),
        _int("int32", 32, True),
        _int("uint32", 32, False),
        _int("int64", 64, True),
        _int("uint64", 64, False),
        DataType("float32", 2, ">f4", True, -3.4028235e38, 3.4028235e38),
        DataType("float64", 4, ">f8", True, -1.7976931348623157e308, 1.7976931348623157e308),
    )
}

#: Word orders of multi-register values; the first three letters name the wire order.
WORD_ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")


class Quality(enum.IntEnum):
    """Quality of a value, as OPC UA spells it and as the collector stores it."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2


def swap_words(words: np.ndarray, word_order: str) -> np.ndarray:
    """Reorder big-endian (ABCD) register columns into ``word_order``, or back.

    Each swap is its own inverse, so the same function decodes.
    ``words`` is ``[n, registers]`` of uint16.
    """
    if word_order not in WORD_ORDERS:
        raise ValueError(f"word order must be one of {WORD_ORDERS}, got {word_order!r}")
    if word_order in ("CDAB", "DCBA"):
        words = words[:, ::-1]
    if word_order in ("BADC", "DCBA"):
        words = words.byteswap()
    return words


def encode(
    values: Sequence[float] | np.ndarray,
    data_type: str,
    word_order: str = "ABCD",
    scale: float = 1.0,
) -> np.ndarray:
    """Encode engineering values into registers, ``[n, registers]`` uint16.

    Integer types round ``value / scale`` and saturate at the type's range (a
    meter pegs rather than wraps); NaN becomes 0 for integers. Booleans encode as
    one register of 0/1 (for bit tables use the values directly).
    """
    kind = DATA_TYPES[data_type]
    array = np.asarray(values, dtype=float).reshape(-1)
    if kind.name == "bool":
        return (array != 0).astype(np.uint16).reshape(-1, 1)
    if kind.is_float:
        raw = (array / scale).astype(kind.numpy)
    else:
        scaled = np.nan_to_num(np.rint(array / scale), nan=0.0)
        raw = np.clip(scaled, kind.low, kind.high).astype(kind.numpy)
    words = raw.view(">u2").reshape(-1, kind.registers).astype(np.uint16)
    return swap_words(words, word_order)


def decode(
    registers: Sequence[int],
    data_type: str,
    word_order: str = "ABCD",
    scale: float = 1.0,
) -> float:
    """Decode one value from its registers into an engineering value."""
    kind = DATA_TYPES[data_type]
    if kind.name == "bool":
        return float(bool(registers[0]))
    if len(registers) != kind.registers:
        raise ValueError(f"{data_type} needs {kind.registers} registers, got {len(registers)}")
    words = np.asarray(registers, dtype=np.uint16).reshape(1, -1)
    words = swap_words(words, word_order).astype(">u2")
    raw = words.view(kind.numpy)[0, 0]
    value = float(raw) * scale
    # Integer × decimal scale: drop the binary noise (-123 × 0.1 is -12.3, not -12.3000…1).
    return value if kind.is_float else round(value, 9)


def resolution(data_type: str, scale: float, value: float) -> float:
    """Largest error the encoding of ``value`` may introduce (for round-trip checks)."""
    kind = DATA_TYPES[data_type]
    if kind.name == "bool":
        return 0.0
    if kind.name == "float32":
        return abs(value) * 2.0**-23 + 1e-30
    if kind.name == "float64":
        return abs(value) * 2.0**-52 + 1e-300
    return abs(scale) / 2.0
