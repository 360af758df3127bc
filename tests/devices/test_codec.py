"""Codec round trips: every data type and word order, against pymodbus' own converter."""

from __future__ import annotations

import math

import pytest
from pymodbus.client.mixin import ModbusClientMixin

from twin.points.codec import DATA_TYPES, WORD_ORDERS, decode, encode

PEER = ModbusClientMixin.DATATYPE


@pytest.mark.parametrize("word_order", WORD_ORDERS)
@pytest.mark.parametrize(
    ("data_type", "value"),
    [("float32", -1234.5), ("int32", -123456), ("uint32", 3_000_000_000), ("uint64", 2**40 + 7)],
)
def test_round_trip_every_word_order(data_type: str, value: float, word_order: str) -> None:
    words = encode([value], data_type, word_order)[0].tolist()
    assert decode(words, data_type, word_order) == value


@pytest.mark.parametrize(("data_type", "value"), [("float32", 21.5), ("uint32", 123456789)])
def test_abcd_and_cdab_match_pymodbus(data_type: str, value: float) -> None:
    peer = getattr(PEER, data_type.upper())
    big = ModbusClientMixin.convert_to_registers(value, peer, word_order="big")
    little = ModbusClientMixin.convert_to_registers(value, peer, word_order="little")
    assert encode([value], data_type, "ABCD")[0].tolist() == big
    assert encode([value], data_type, "CDAB")[0].tolist() == little


def test_scaled_integers_round_and_saturate() -> None:
    assert decode(encode([-12.34], "int16", scale=0.1)[0].tolist(), "int16", scale=0.1) == -12.3
    assert encode([1e9], "uint16", scale=0.1)[0].tolist() == [65535]
    assert encode([-5.0], "uint16")[0].tolist() == [0]
    assert encode([math.nan], "int16")[0].tolist() == [0]
    assert math.isnan(decode(encode([math.nan], "float32")[0].tolist(), "float32"))
    assert set(DATA_TYPES) >= {"int16", "uint16", "uint32", "uint64", "float32", "bool"}
