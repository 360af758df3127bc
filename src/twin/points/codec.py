"""Register codec shared by the simulated devices and the collector.

A value on a Modbus wire is a run of 16-bit registers. How a number becomes
registers is fixed by three things a vendor's register map states per point:

- the data type (:data:`DATA_TYPES`: INT16 … FLOAT32, UINT64, BOOL),
- the word order of 32/64-bit values (``ABCD`` big-endian, ``CDAB`` word-swapped,
  ``BADC`` byte-swapped, ``DCBA`` little-endian; the letters are the bytes of the
  big-endian value in the order they appear on the wire),
- the scale: ``engineering value = raw × scale`` (a UINT16 of 0.1 °C has scale 0.1).

Encoding works on arrays (all devices of one type at once, for the writer tasks);
decoding works on one point's registers (for clients and tests), or on a whole
reply at once with a :class:`BlockDecoder` (for the collector: the layout of every
value in the reply is worked out once, so a poll costs a few C calls, not a few
numpy calls per value).

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

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter

import numpy as np

__all__ = [
    "DATA_TYPES",
    "WORD_ORDERS",
    "BlockDecoder",
    "DataType",
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


def _inside(bound: float, toward: float) -> float:
    """The float nearest ``bound`` that is not beyond it (toward ``toward``)."""
    value = float(bound)
    while (value > bound) if toward < bound else (value < bound):
        value = float(np.nextafter(value, toward))
    return value


#: the raw range of each integer type as floats that cast without wrapping
_FLOAT_RANGE = {
    name: (_inside(t.low, 0.0), _inside(t.high, 0.0))
    for name, t in DATA_TYPES.items()
    if not t.is_float
}

#: Word orders of multi-register values; the first three letters name the wire order.
WORD_ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")


def data_type_of(name: str) -> DataType:
    """The :data:`DATA_TYPES` row of ``name``; ValueError naming the valid ones."""
    kind = DATA_TYPES.get(name)
    if kind is None:
        raise ValueError(f"data type must be one of {', '.join(DATA_TYPES)}, got {name!r}")
    return kind


def _check_registers(registers: Sequence[int], count: int, data_type: str) -> None:
    if len(registers) != count:
        raise ValueError(f"{data_type} needs {count} registers, got {len(registers)}")
    for word in registers:
        if not 0 <= word <= 0xFFFF:
            raise ValueError(f"a register holds 0..65535, got {word!r}")


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
        with np.errstate(over="ignore"):  # beyond float32: ±inf, as the wire would carry
            raw = (array / scale).astype(kind.numpy)
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            scaled = np.nan_to_num(np.rint(array / scale), nan=0.0)
        # 2**63 - 1 and 2**64 - 1 are no floats (they round up, and would wrap on the
        # cast): clip to the largest float inside, then set the saturated ends exactly
        raw = np.clip(scaled, *_FLOAT_RANGE[kind.name]).astype(kind.numpy)
        raw[scaled >= kind.high] = kind.high
        raw[scaled <= kind.low] = kind.low
    words = raw.view(">u2").reshape(-1, kind.registers).astype(np.uint16)
    return swap_words(words, word_order)


def decode(
    registers: Sequence[int],
    data_type: str,
    word_order: str = "ABCD",
    scale: float = 1.0,
) -> float:
    """Decode one value from its registers into an engineering value.

    Registers that cannot be (too few or many, a word outside 0..65535), an unknown
    data type or word order raise ValueError saying which.
    """
    kind = data_type_of(data_type)
    if kind.name == "bool":
        _check_registers(registers, 1, data_type)
        return float(bool(registers[0]))
    _check_registers(registers, kind.registers, data_type)
    words = np.asarray(registers, dtype=np.uint16).reshape(1, -1)
    words = swap_words(words, word_order).astype(">u2")
    raw = words.view(kind.numpy)[0, 0]
    value = float(raw) * scale
    # Integer × decimal scale: drop the binary noise (-123 × 0.1 is -12.3, not -12.3000…1).
    return value if kind.is_float else round(value, 9)


#: struct format character (standard sizes, after ">") of each numpy raw type
_STRUCT = {"i2": "h", "u2": "H", "i4": "i", "u4": "I", "i8": "q", "u8": "Q", "f4": "f", "f8": "d"}


def not_available(data_type: str) -> int | None:
    """The raw value vendors send for "no reading" (0x8000 INT16, 0xFFFF UINT16…).

    The most negative value of a signed type, the largest of an unsigned one;
    None for floats (NaN says it) and bool.
    """
    kind = DATA_TYPES[data_type]
    if kind.is_float or kind.name == "bool":
        return None
    return int(kind.low if kind.low < 0 else kind.high)


class BlockDecoder:
    """Decoder of many values packed in one run of registers (one merged read's reply).

    Each value ``i`` sits at register ``offsets[i]`` of the run with its data type,
    word order and scale, as :func:`decode` takes them; a ``bits[i]`` of 0…15 reads
    that bit of the (16-bit) raw value instead, as 0.0 or 1.0 (unscaled).
    ``check_na[i]`` asks whether the raw value is the type's "not available" one
    (:func:`not_available`; integers that are not bits only).

    Everything that depends only on the layout is worked out once, here: which
    registers each value takes and in which order (its word order), and one
    :class:`struct.Struct` that unpacks every value of the run in a single call.
    A reply then costs a few C calls however many values it holds (and a step of
    Python per bit, scaled or checked value), and :meth:`decode` gives exactly what
    :func:`decode` gives per value.

    >>> d = BlockDecoder([0, 1, 3], ["int16", "float32", "uint16"], ["ABCD", "CDAB", "ABCD"],
    ...                  [0.1, 1.0, 1.0], bits=[None, None, 2], check_na=[True, False, False])
    >>> values, na = d.decode([65413, 0, 16812, 0b100])
    >>> values.tolist(), na
    ([-12.3, 21.5, 1.0], None)
    >>> d.decode([0x8000, 0, 16812, 0])[1].tolist()
    [True, False, False]
    """

    def __init__(
        self,
        offsets: Sequence[int],
        data_types: Sequence[str],
        word_orders: Sequence[str],
        scales: Sequence[float],
        bits: Sequence[int | None] | None = None,
        check_na: Sequence[bool] | None = None,
    ) -> None:
        n = len(offsets)
        bits = list(bits) if bits is not None else [None] * n
        check = list(check_na) if check_na is not None else [False] * n
        if not len(data_types) == len(word_orders) == len(scales) == len(bits) == len(check) == n:
            raise ValueError("offsets, data types, word orders, scales, bits: one per value")
        self.size = n
        self.registers = 0  # registers a reply must hold
        words: list[int] = []  # the reply's registers, each value's in big-endian (ABCD) order
        swap: list[int] = []  # ... of which these have their two bytes swapped (BADC, DCBA)
        fields = ">"
        self._na: list[tuple[int, int]] = []  # (value, raw "not available" value)
        self._bits: list[tuple[int, int]] = []  # (value, bit)
        self._scale: list[tuple[int, float]] = []  # (value, scale) of floats scaled
        self._round: list[tuple[int, float]] = []  # (value, scale): integer × scale, rounded
        for i in range(n):
            kind = DATA_TYPES[data_types[i]]
            order = word_orders[i]
            if order not in WORD_ORDERS:
                raise ValueError(f"word order must be one of {WORD_ORDERS}, got {order!r}")
            if kind.name == "bool":
                raise ValueError("a bool is one bit of a bit table, not a register value")
            reverse = order in ("CDAB", "DCBA")
            for j in range(kind.registers):
                if order in ("BADC", "DCBA"):
                    swap.append(len(words))
                words.append(int(offsets[i]) + (kind.registers - 1 - j if reverse else j))
            self.registers = max(self.registers, int(offsets[i]) + kind.registers)
            if bits[i] is not None:
                if kind.registers != 1 or not 0 <= int(bits[i]) <= 15:  # type: ignore[arg-type]
                    raise ValueError(f"bit {bits[i]} of a {kind.name}: bits are of 16-bit values")
                fields += "H"
                self._bits.append((i, int(bits[i])))  # type: ignore[arg-type]
                continue
            fields += _STRUCT[kind.numpy[1:]]
            if kind.is_float:
                if scales[i] != 1.0:
                    self._scale.append((i, float(scales[i])))
                continue
            if check[i]:
                self._na.append((i, not_available(kind.name)))  # type: ignore[arg-type]
            if scales[i] != 1.0:
                self._round.append((i, float(scales[i])))
        self._struct = struct.Struct(fields)
        self._pack = struct.Struct(f">{len(words)}H").pack
        self._swap = swap
        self._pick: Callable[[Sequence[int]], Sequence[int]]
        if len(words) > 1:
            self._pick = itemgetter(*words)
        else:  # itemgetter of one index gives the item, not a 1-tuple
            self._pick = lambda registers: tuple(registers[w] for w in words)

    def decode(self, registers: Sequence[int]) -> tuple[np.ndarray, np.ndarray | None]:
        """(values, not available) of a reply's registers; None when every value is available.

        ``registers`` may be longer than the layout needs; shorter raises ValueError.
        The "not available" mask is True where a checked value's raw is its type's
        sentinel (the value itself is then decoded as any other).
        """
        if len(registers) < self.registers:
            raise ValueError(f"{len(registers)} registers, the layout needs {self.registers}")
        words = self._pick(registers)
        # checked before any byte swap, which would fold 65536 into 256 (two C calls)
        if words and (max(words) > 0xFFFF or min(words) < 0):
            bad = next(w for w in words if not 0 <= w <= 0xFFFF)
            raise ValueError(f"a register holds 0..65535, got {bad!r}")
        if self._swap:
            words = list(words)
            for j in self._swap:
                word = words[j]
                words[j] = ((word & 0xFF) << 8) | (word >> 8)
        try:
            packed = self._pack(*words)
        except struct.error:  # a word outside 0..65535 (or not an integer)
            bad = next(w for w in words if not (isinstance(w, int) and 0 <= w <= 0xFFFF))
            raise ValueError(f"a register holds 0..65535, got {bad!r}") from None
        raw = list(self._struct.unpack(packed))
        missing = [i for i, sentinel in self._na if raw[i] == sentinel]
        for i, bit in self._bits:
            raw[i] = (raw[i] >> bit) & 1
        for i, scale in self._scale:
            raw[i] *= scale
        for i, scale in self._round:
            # Integer × decimal scale: drop the binary noise, as decode() does.
            raw[i] = round(raw[i] * scale, 9)
        values = np.array(raw, dtype=np.float64)
        if not missing:
            return values, None
        na = np.zeros(self.size, bool)
        na[missing] = True
        return values, na


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
