"""What an agent sends back, however odd, becomes a value or a bad reason: never an exception."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from pysnmp.proto import rfc1902, rfc1905

from twin.collect.snmp import _value
from twin.points.registry import PointDef
from twin.points.snmp import TYPES, SnmpAddress

OIDS = ((1, 3, 6, 1, 2, 1, 33, 1, 2, 4, 0), (1, 3, 6, 1, 2, 1, 33, 1, 2, 3, 0))

_VALUES = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(rfc1902.Integer32),
    st.integers(0, 2**32 - 1).map(rfc1902.Gauge32),
    st.integers(0, 2**32 - 1).map(rfc1902.Counter32),
    st.integers(0, 2**64 - 1).map(rfc1902.Counter64),
    st.integers(0, 2**32 - 1).map(rfc1902.TimeTicks),
    st.binary(max_size=20).map(rfc1902.OctetString),
    st.just(rfc1902.ObjectIdentifier((1, 3, 6, 1))),
    st.just(rfc1902.IpAddress("10.0.0.1")),
    st.sampled_from([rfc1905.noSuchObject, rfc1905.noSuchInstance, rfc1905.endOfMibView]),
    st.just(rfc1902.Null("")),
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.one_of(st.none(), _VALUES), min_size=2, max_size=2),
    st.sampled_from([t for t in TYPES if t != "ups-alarm"]),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != 0),
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    st.integers(1, 2),
)
def test_any_reply_is_a_value_or_a_reason(values, kind, scale, low, count) -> None:
    address = SnmpAddress("h", 161, "2c", "", "", "", OIDS[:count], kind, scale)
    point = PointDef(index=0, name="p", device="d", equipment="ups", unit="", range_low=low,
                     snmp=address)  # fmt: skip
    got = {oid: value for oid, value in zip(OIDS, values, strict=True) if value is not None}
    value, reason = _value(point, got)
    if reason:
        assert math.isnan(value)
    else:
        assert math.isfinite(value)
        assert low is None or value >= low
