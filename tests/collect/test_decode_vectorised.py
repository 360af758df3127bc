"""The collector's block decoder against the scalar codec, value by value.

:class:`twin.points.codec.BlockDecoder` lays a whole reply out once and decodes it
in a few C calls; :func:`twin.points.codec.decode` decodes one value's registers.
Both must give the same number for every data type, word order and scale,
including raw values that are NaN, infinite or a vendor's "not available", and
bits of 16-bit registers. Then :class:`twin.collect.modbus.Block` on top of it:
the quality of each point (not available, NaN, out of range) as before.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from twin.collect.modbus import ModbusOptions, plan_blocks
from twin.points.codec import (
    DATA_TYPES,
    WORD_ORDERS,
    BlockDecoder,
    decode,
    encode,
    not_available,
    swap_words,
)
from twin.points.registry import PointDef

TYPES = [name for name in DATA_TYPES if name != "bool"]
SCALES = [1.0, 0.1, 0.001, 10.0, 0.25]

#: raw register runs a float32/float64 takes on the wire (ABCD) that are not plain numbers
SPECIAL_FLOATS = {
    "float32": [
        [0x7FC0, 0x0000],  # quiet NaN
        [0x7F80, 0x0001],  # signalling NaN
        [0xFFC0, 0x0000],  # negative NaN
        [0x7F80, 0x0000],  # +inf
        [0xFF80, 0x0000],  # -inf
        [0x0000, 0x0001],  # smallest denormal
        [0x8000, 0x0000],  # -0.0
    ],
    "float64": [
        [0x7FF8, 0, 0, 0],
        [0x7FF0, 0, 0, 1],
        [0x7FF0, 0, 0, 0],
        [0xFFF0, 0, 0, 0],
        [0, 0, 0, 1],
    ],
}


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (
        a == b and math.copysign(1, a) == math.copysign(1, b)
    )


def raw_runs(data_type: str, rng: random.Random, count: int) -> list[list[int]]:
    """ABCD register runs of ``data_type``: random, extremes, sentinels, special floats."""
    kind = DATA_TYPES[data_type]
    n = kind.registers
    runs = [[rng.randrange(65536) for _ in range(n)] for _ in range(count)]
    runs += [[0] * n, [0xFFFF] * n, [0x8000] + [0] * (n - 1), [0x7FFF] + [0xFFFF] * (n - 1)]
    runs += SPECIAL_FLOATS.get(data_type, [])
    if not kind.is_float:
        sentinel = not_available(data_type)
        assert sentinel is not None
        bits = sentinel % 2 ** (16 * n)  # two's complement of a negative sentinel
        runs.append([(bits >> (16 * (n - 1 - j))) & 0xFFFF for j in range(n)])
    return runs


def wire(run: list[int], word_order: str) -> list[int]:
    """The registers of an ABCD run as they are on the wire in ``word_order``."""
    return swap_words(np.array([run], dtype=np.uint16), word_order)[0].tolist()


def raw_int(words: list[int], data_type: str, word_order: str) -> int:
    """The exact integer a run of wire registers holds (for the "not available" check)."""
    abcd = swap_words(np.array([words], dtype=np.uint16), word_order)[0].tolist()
    data = b"".join(w.to_bytes(2, "big") for w in abcd)
    return int.from_bytes(data, "big", signed=DATA_TYPES[data_type].low < 0)


@pytest.mark.parametrize("word_order", WORD_ORDERS)
@pytest.mark.parametrize("data_type", TYPES)
def test_every_type_and_word_order_matches_the_scalar_codec(
    data_type: str, word_order: str
) -> None:
    rng = random.Random(f"{data_type}-{word_order}")
    kind = DATA_TYPES[data_type]
    for scale in SCALES:
        runs = raw_runs(data_type, rng, 60)
        # values spread over a reply with gaps between them, as merged reads leave them
        registers: list[int] = []
        offsets = []
        for run in runs:
            registers += [rng.randrange(65536) for _ in range(rng.randrange(3))]
            offsets.append(len(registers))
            registers += wire(run, word_order)
        decoder = BlockDecoder(
            offsets,
            [data_type] * len(runs),
            [word_order] * len(runs),
            [scale] * len(runs),
            check_na=[True] * len(runs),
        )
        values, na = decoder.decode(registers)
        assert values.dtype == np.float64 and len(values) == len(runs)
        for i, offset in enumerate(offsets):
            words = registers[offset : offset + kind.registers]
            want = decode(words, data_type, word_order, scale)
            assert same(float(values[i]), want), (data_type, word_order, scale, words)
        sentinel = not_available(data_type)
        expected_na = [
            sentinel is not None
            and raw_int(registers[o : o + kind.registers], data_type, word_order) == sentinel
            for o in offsets
        ]
        assert (na.tolist() if na is not None else [False] * len(runs)) == expected_na
        if sentinel is not None:
            assert any(expected_na)  # the sentinel run is there


def test_a_mixed_block_with_bits_matches_the_scalar_codec() -> None:
    """Every type and word order in one reply, bits of 16-bit registers among them."""
    rng = random.Random(7)
    for _ in range(200):
        registers: list[int] = []
        layout = []  # (offset, data type, word order, scale, bit, check)
        for _ in range(rng.randrange(1, 30)):
            data_type = rng.choice(TYPES)
            kind = DATA_TYPES[data_type]
            bit = rng.randrange(16) if kind.registers == 1 and rng.random() < 0.4 else None
            order = rng.choice(WORD_ORDERS)
            run = rng.choice(raw_runs(data_type, rng, 3))
            offset = len(registers)
            registers += wire(run, order)
            layout.append((offset, data_type, order, rng.choice(SCALES), bit, rng.random() < 0.5))
            if bit is not None and rng.random() < 0.5:  # another bit of the same register
                layout.append((offset, data_type, order, 1.0, rng.randrange(16), False))
            registers += [rng.randrange(65536) for _ in range(rng.randrange(2))]
        rng.shuffle(layout)  # the points' order is the block's, not the registers'
        offsets, types, orders, scales, bits, checks = (list(c) for c in zip(*layout, strict=True))
        decoder = BlockDecoder(offsets, types, orders, scales, bits=bits, check_na=checks)
        values, na = decoder.decode([*registers, 1, 2, 3])  # a longer reply is fine
        for i, (offset, data_type, order, scale, bit, check) in enumerate(layout):
            words = registers[offset : offset + max(DATA_TYPES[data_type].registers, 1)]
            if bit is not None:
                want = float((raw_int(words, data_type, order) >> bit) & 1)
            else:
                want = decode(words, data_type, order, scale)
            assert same(float(values[i]), want), (data_type, order, scale, bit, words)
            missing = (
                check
                and bit is None
                and not DATA_TYPES[data_type].is_float
                and raw_int(words, data_type, order) == not_available(data_type)
            )
            assert bool(na is not None and na[i]) == missing


def test_large_64_bit_integers_are_exact() -> None:
    """Counters past 2**53 decode as the scalar codec does: the nearest float, unrounded."""
    counts = [2**53 + 1, 2**60 + 12345, 2**64 - 2, 2**63 - 1]
    for data_type in ("uint64", "int64"):
        for order in WORD_ORDERS:
            runs = [[(c >> (16 * (3 - j))) & 0xFFFF for j in range(4)] for c in counts]
            registers = [w for run in runs for w in wire(run, order)]
            decoder = BlockDecoder([0, 4, 8, 12], [data_type] * 4, [order] * 4, [1.0] * 4)
            got, _ = decoder.decode(registers)
            want = [float(raw_int(registers[o : o + 4], data_type, order)) for o in (0, 4, 8, 12)]
            assert got.tolist() == want
            assert want == [decode(registers[o : o + 4], data_type, order) for o in (0, 4, 8, 12)]


def test_a_short_reply_or_a_bad_layout_is_refused() -> None:
    decoder = BlockDecoder([0, 2], ["float32", "uint16"], ["ABCD", "ABCD"], [1.0, 1.0])
    assert decoder.registers == 3
    with pytest.raises(ValueError, match="2 registers"):
        decoder.decode([0, 0])
    with pytest.raises(ValueError, match="word order"):
        BlockDecoder([0], ["float32"], ["DBCA"], [1.0])
    with pytest.raises(ValueError, match="bits are of 16-bit"):
        BlockDecoder([0], ["float32"], ["ABCD"], [1.0], bits=[3])


# ------------------------------------------------------------- the collector's block


def point(index: int, address: int, data_type: str = "uint16", **fields: object) -> PointDef:
    defaults: dict[str, object] = {"unit": "kW", "register_type": "input_register"}
    defaults.update(fields)
    return PointDef(
        index,
        f"dev.p{index}",
        "dev",
        "ups",
        host="127.0.0.1",
        port=1502,
        address=address,
        data_type=data_type,
        **defaults,  # type: ignore[arg-type]
    )


def test_block_quality_per_point() -> None:
    points = [
        point(0, 0, "int16", scale=0.1, range_low=-50.0, range_high=50.0),  # in range
        point(1, 1, "int16", scale=0.1, range_low=-50.0, range_high=50.0),  # out of range
        point(2, 2, "uint16"),  # analog: 0xFFFF is "not available"
        point(3, 3, "uint16", unit=""),  # a status word: 0xFFFF is a value
        point(4, 4, "uint16", bit=15),  # a bit of 0xFFFF: a value, never "not available"
        point(5, 5, "float32", word_order="CDAB"),  # NaN
        point(6, 7, "float32", word_order="CDAB", range_high=100.0),  # 21.5
        point(7, 9, "int16"),  # 0x8000: not available
        point(8, 10, "uint32", word_order="CDAB", scale=0.001),
    ]
    (block,) = plan_blocks(points, ModbusOptions())
    assert (block.start, block.count) == (0, 12)
    registers = [
        *encode([12.3], "int16", scale=0.1)[0],
        *encode([-60.0], "int16", scale=0.1)[0],
        0xFFFF,
        0xFFFF,
        0xFFFF,
        0x0000,
        0x7FC0,
        *encode([21.5], "float32", "CDAB")[0],
        0x8000,
        *encode([4_000_000.123], "uint32", "CDAB", scale=0.001)[0],
    ]
    indices, values, good = block.decode([int(r) for r in registers])
    assert indices.tolist() == list(range(9))
    assert good.tolist() == [True, False, False, True, True, False, True, False, True]
    assert values[0] == 12.3 and values[1] == -60.0
    assert values[3] == 65535.0 and values[4] == 1.0
    assert math.isnan(values[5]) and values[6] == 21.5
    assert values[8] == 4_000_000.123


def test_block_of_bits() -> None:
    points = [point(i, a, "bool", register_type="coil", unit="") for i, a in enumerate([0, 3, 9])]
    (block,) = plan_blocks(points, ModbusOptions())
    bits = [False] * 16  # pymodbus pads bits to whole bytes
    bits[3] = bits[9] = True
    indices, values, good = block.decode(bits)
    assert indices.tolist() == [0, 1, 2]
    assert values.tolist() == [0.0, 1.0, 1.0]
    assert good.all()


@pytest.mark.parametrize("ranged", [False, True])
def test_infinite_and_nan_floats_are_bad_with_or_without_ranges(ranged: bool) -> None:
    limits = {"range_low": -1e6, "range_high": 1e6} if ranged else {}
    points = [point(i, 2 * i, "float32", **limits) for i in range(4)]
    points.append(point(4, 8, "float32"))  # no range of its own, in a block that may have some
    (block,) = plan_blocks(points, ModbusOptions())
    registers = [0x7F80, 0, 0xFF80, 0, 0x7FC0, 0, *encode([-3.0e38], "float32")[0], 0x4000, 0]
    _, values, good = block.decode([int(r) for r in registers])
    assert good.tolist() == [False, False, False, not ranged, True]
    assert values[4] == 2.0
