"""One range rule for every setpoint write: Modbus, BACnet and the dashboard's dialog."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from twin.points.registry import PointDef

bounds = st.one_of(st.none(), st.floats(-1e6, 1e6))


def point(low: float | None, high: float | None, writable: bool = True) -> PointDef:
    return PointDef(0, "cdu-1.t_supply_set_c", "cdu-1", "cdu", "°C", writable=writable,
                    write_min=low, write_max=high)  # fmt: skip


@given(bounds, bounds, st.floats(allow_nan=True, allow_infinity=True))
def test_refused_exactly_when_outside_the_row_limits(low, high, value):
    refusal = point(low, high).write_refusal(value)
    inside = (
        math.isfinite(value) and (low is None or value >= low) and (high is None or value <= high)
    )
    assert (refusal is None) == inside
    if refusal is not None and math.isfinite(value):
        assert refusal.startswith("outside [")


def test_a_read_only_point_refuses_any_value():
    assert point(0.0, 10.0, writable=False).write_refusal(5.0) == "not writable"


def test_an_open_bound_reads_as_a_dash():
    assert point(None, 50.0).write_refusal(51.0) == "outside [—, 50]"
