"""The register codec under any input: a value or a clear ValueError, never a traceback.

Property-based (hypothesis), bounded so the whole file stays a few seconds on a slow
machine: registers of any integer (a buggy gateway sends anything), any length, any
data type and word order names; round trips of every type, word order and scale; the
block decoder the collector uses agrees with the per-value decoder on any reply.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.points.codec import DATA_TYPES, WORD_ORDERS, BlockDecoder, decode, encode, resolution

BOUNDED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REGISTER = st.integers(0, 0xFFFF)
ANY_INT = st.integers(-(2**70), 2**70)
TYPES = sorted(DATA_TYPES)
REGISTER_TYPES = [t for t in TYPES if t != "bool"]
SCALES = st.sampled_from([1.0, 0.1, 0.01, 10.0, 0.5, -1.0])


@BOUNDED
@given(
    registers=st.lists(st.one_of(REGISTER, ANY_INT), max_size=6),
    data_type=st.one_of(st.sampled_from(TYPES), st.text(max_size=8)),
    word_order=st.one_of(st.sampled_from(WORD_ORDERS), st.text(max_size=5)),
    scale=st.one_of(SCALES, st.floats(allow_nan=True, allow_infinity=True)),
)
def test_decode_gives_a_float_or_a_clear_error(
    registers: list[int], data_type: str, word_order: str, scale: float
) -> None:
    try:
        value = decode(registers, data_type, word_order, scale)
    except ValueError as error:
        assert str(error)  # says what was wrong
        return
    assert isinstance(value, float)


@BOUNDED
@given(
    layout=st.lists(
        st.tuples(
            st.sampled_from(REGISTER_TYPES),
            st.sampled_from(WORD_ORDERS),
            SCALES,
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    ),
    gaps=st.lists(st.integers(0, 3), min_size=6, max_size=6),
    reply=st.lists(st.one_of(REGISTER, ANY_INT), max_size=40),
)
def test_block_decoder_gives_values_or_a_clear_error(
    layout: list[tuple[str, str, float, bool]], gaps: list[int], reply: list[int]
) -> None:
    offsets, at = [], 0
    for (data_type, _, _, _), gap in zip(layout, gaps, strict=False):
        at += gap
        offsets.append(at)
        at += DATA_TYPES[data_type].registers
    types, orders, scales, checks = (list(column) for column in zip(*layout, strict=True))
    decoder = BlockDecoder(offsets, types, orders, scales, check_na=checks)
    try:
        values, _ = decoder.decode(reply)
    except ValueError as error:
        assert str(error)
        return
    assert values.shape == (len(layout),)
    # the collector's block decoder and the per-value decoder agree on every value
    for k, offset in enumerate(offsets):
        words = reply[offset : offset + DATA_TYPES[types[k]].registers]
        expected = decode(words, types[k], orders[k], scales[k])
        assert values[k] == expected or (math.isnan(values[k]) and math.isnan(expected))


def _in_range(data_type: str, scale: float) -> st.SearchStrategy[float]:
    kind = DATA_TYPES[data_type]
    if kind.name == "float32":
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind.name == "float64":
        return st.floats(allow_nan=False, allow_infinity=False)
    low, high = sorted((kind.low * scale, kind.high * scale))
    # integers: exactly representable raw values times the scale
    return (
        st.integers(int(kind.low), int(kind.high))
        .map(lambda raw: raw * scale)
        .filter(lambda v: low <= v <= high and abs(v) < 2**53)
    )


@st.composite
def _typed_value(draw: st.DrawFn) -> tuple[str, str, float, float]:
    data_type = draw(st.sampled_from(REGISTER_TYPES))
    word_order = draw(st.sampled_from(WORD_ORDERS))
    scale = 1.0 if DATA_TYPES[data_type].is_float else draw(SCALES)
    return data_type, word_order, scale, draw(_in_range(data_type, scale))


@BOUNDED
@given(case=_typed_value())
def test_encode_decode_round_trips(case: tuple[str, str, float, float]) -> None:
    data_type, word_order, scale, value = case
    words = encode([value], data_type, word_order, scale)[0].tolist()
    assert len(words) == DATA_TYPES[data_type].registers
    assert all(0 <= w <= 0xFFFF for w in words)
    back = decode(words, data_type, word_order, scale)
    assert abs(back - value) <= resolution(data_type, scale, value) + 1e-9 * abs(value)
    # and once more: a decoded value encodes to the same registers
    assert encode([back], data_type, word_order, scale)[0].tolist() == words


@BOUNDED
@given(
    data_type=st.sampled_from(REGISTER_TYPES),
    word_order=st.sampled_from(WORD_ORDERS),
    scale=SCALES,
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=8),
)
def test_encode_takes_any_float(
    data_type: str, word_order: str, scale: float, values: list[float]
) -> None:
    """NaN, infinities, huge values: integers saturate, floats carry what they can."""
    words = encode(values, data_type, word_order, scale)
    assert words.shape == (len(values), DATA_TYPES[data_type].registers)
    assert words.dtype == np.uint16


@BOUNDED
@given(registers=st.lists(REGISTER, min_size=4, max_size=4))
def test_any_registers_decode_to_something_in_every_type(registers: list[int]) -> None:
    """A garbage register never breaks the decoder: every type gives some float."""
    for data_type in REGISTER_TYPES:
        words = registers[: DATA_TYPES[data_type].registers]
        for word_order in WORD_ORDERS:
            assert isinstance(decode(words, data_type, word_order), float)


@BOUNDED
@given(
    data_type=st.sampled_from([t for t in REGISTER_TYPES if not DATA_TYPES[t].is_float]),
    scale=SCALES,
    # Beyond every type's range at every scale: 1e20 / 10 = 1e19 still fits a uint64.
    magnitude=st.floats(1e21, 1e300),
)
def test_integers_saturate_at_their_range_never_wrap(
    data_type: str, scale: float, magnitude: float
) -> None:
    """A meter pegs: far beyond the range is the type's end, 64-bit types included."""
    kind = DATA_TYPES[data_type]
    for value in (magnitude, -magnitude, math.inf, -math.inf):
        expected = kind.high if value / scale > 0 else kind.low
        words = encode([value], data_type, scale=scale)[0].tolist()
        assert decode(words, data_type) == float(expected), (value, words)
