"""The York YT chiller inside and beyond its curves' range (#12 item 5).

The curves (EnergyPlus ``Chiller:Electric:EIR`` via Modelica Buildings
``ElectricEIRChiller_York_YT_1055kW_5_96COP_Vanes``) were fitted on 4.44-8.89 °C leaving
chilled water, 12.78-35 °C entering condenser water and part-load ratio 0.10-1.05
(COEFFICIENTS.md; the record's TEvaLvgMin/Max, TConEntMin/Max, PLRMin/Max). The shipped
sites run 18 °C (aidc-10mw) and 10 °C (legacy-air-2mw) chilled water.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from twin import catalog
from twin.physics.chiller import T_KELVIN_0C
from twin.physics.cooling import biquadratic, chiller_eir_power
from twin.plant import air_controls, chilled_water
from twin.plant import chillers as chiller_plant

YORK = catalog.lookup("chiller", "york-yt-1055kw")
assert isinstance(YORK, catalog.Chiller)
Q_REF_W = YORK.capacity_kw * 1e3
CURVES = YORK.curves


def _unbounded(q_w, t_chw_c, t_cw_c):  # type: ignore[no-untyped-def]
    """The record's curves as written, with no range (the model before this item)."""
    return chiller_eir_power(
        q_w,
        t_chw_c,
        t_cw_c,
        Q_REF_W,
        YORK.cop,
        list(CURVES.capft),
        list(CURVES.eirft),
        list(CURVES.eirfplr),
        YORK.plr_min,
    )


def _cop_at_plr(plr: float, t_chw_c: np.ndarray, t_cw_c: np.ndarray) -> np.ndarray:
    """COP of one chiller carrying ``plr`` of its available capacity."""
    _, capacity = chiller_plant.chiller_power(YORK, 1.0, t_chw_c, t_cw_c)
    q = plr * capacity
    power, _ = chiller_plant.chiller_power(YORK, q, t_chw_c, t_cw_c)
    return np.asarray(q / power)


def test_record_carries_the_published_range() -> None:
    """Modelica Buildings ElectricEIR record of the York YT: TEvaLvgMin/Max 4.44/8.89 °C,
    TConEntMin/Max 12.78/35.00 °C, PLRMin/Max 0.10/1.05 (COEFFICIENTS.md "Valid for")."""
    assert CURVES.t_chilled_leaving_limits_c == (4.44, 8.89)
    assert CURVES.t_condenser_entering_limits_c == (12.78, 35.0)
    assert CURVES.plr_limits == (0.10, 1.05)


def test_rated_point_and_whole_range_unchanged() -> None:
    """Inside the range the plant's chiller is EnergyPlus' curves to the last bit.

    Rated 1055 kW at 6.67 °C / 29.44 °C: CAPFT 1.010, EIRFT 1.009, so COP = 5.96 / 1.009
    ≈ 5.92 at the model's own full load and 1055 kW / P within 1 % of 5.96 (the cases of
    tests/physics/test_cooling.py), 180.5 kW electric at the model's full load. Every
    grid point inside the range gives the same power and capacity as the unbounded model
    (the Carnot factor is exactly 1 there).
    """
    power, capacity = chiller_plant.chiller_power(YORK, Q_REF_W, 6.67, 29.44)
    assert Q_REF_W / float(power) == pytest.approx(5.96, rel=0.01)
    # At its own full load: Qav/COPref·EIRFT = 1065.9 kW / 5.96 · 1.009 = 180.5 kW.
    p_full, _ = chiller_plant.chiller_power(YORK, capacity, 6.67, 29.44)
    assert float(p_full) == pytest.approx(180.5e3, abs=0.05e3)
    x, y = np.meshgrid(np.linspace(4.44, 8.89, 10), np.linspace(12.78, 35.0, 12))
    for load in (0.05, 0.3, 0.7, 1.0, 1.3):
        p_new, c_new = chiller_plant.chiller_power(YORK, load * Q_REF_W, x, y)
        p_old, c_old = _unbounded(load * Q_REF_W, x, y)
        np.testing.assert_allclose(p_new, p_old, rtol=1e-12)
        np.testing.assert_allclose(c_new, c_old, rtol=1e-12)


def test_eirfplr_half_load_still_0_5064() -> None:
    """EIRFPLR(0.5) = 0.2619878 + 0.2393605/2 + 0.4988306/4 = 0.50638; P(0.5)/P(1) is
    EIRFPLR(0.5)/EIRFPLR(1) both at the rated point and at 18 °C / 27 °C, beyond the
    range (the Carnot factor and EIRFT do not depend on the load, so they cancel)."""
    a, b, c = CURVES.eirfplr
    half = a + b * 0.5 + c * 0.25
    assert half == pytest.approx(0.5064, abs=1e-4)
    for t_chw, t_cw in ((6.67, 29.44), (18.0, 27.0), (10.0, 29.0)):
        _, capacity = chiller_plant.chiller_power(YORK, 1.0, t_chw, t_cw)
        p_full, _ = chiller_plant.chiller_power(YORK, capacity, t_chw, t_cw)
        p_half, _ = chiller_plant.chiller_power(YORK, 0.5 * capacity, t_chw, t_cw)
        assert float(p_half / p_full) == pytest.approx(half / (a + b + c), rel=1e-12)


def test_cop_monotonic_over_the_sites_envelope() -> None:
    """COP rises with leaving chilled water and does not rise with entering condenser
    water at every point of 5-25 °C × 10-40 °C (0.25 K grid), part load 30-100 %.

    Hand reasoning: at a given part-load ratio COP = COPref·PLR / (EIRFT·EIRFPLR(PLR))·f,
    so only EIRFT and the Carnot factor f move. ∂EIRFT/∂x = b + 2c·x + f·y is at most
    −0.02850 + 2·8.035e-4·8.89 − 9.34e-5·12.78 = −0.0154 < 0 on the range, ∂EIRFT/∂y =
    d + 2e·y + f·x at least 0.01893 + 2·1.152e-4·12.78 − 9.34e-5·8.89 = 0.0210 > 0. Beyond
    the range EIRFT is read at the equal-lift point (x_max, y − (x − x_max)), which moves
    the same way, and f = T_eva(x)/T_eva(x_max) rises with x. Below the curve's smallest
    lift COP is held in y (flat, never rising). The part-load ratio is the load as the
    EIR model sees it (EIRFPLR's input): at a fixed kW the York IGV curve inside its own
    range trades CAPFT against EIRFPLR (a bigger capacity is a deeper part load), which
    is EnergyPlus' behaviour and left as is.
    """
    xs = np.arange(5.0, 25.0 + 1e-9, 0.25)  # the setpoint limits of t_chw_supply_c
    ys = np.arange(10.0, 40.0 + 1e-9, 0.25)  # beyond 13-35 °C, the setpoint limits
    x, y = np.meshgrid(xs, ys, indexing="ij")
    for plr in np.arange(0.3, 1.0 + 1e-9, 0.1):
        cop = _cop_at_plr(float(plr), x, y)
        assert np.all(np.diff(cop, axis=0) > 0), f"COP not rising with CHW at PLR {plr:.1f}"
        assert np.all(np.diff(cop, axis=1) <= 1e-12), f"COP rising with CW at PLR {plr:.1f}"
    # At a fixed load in kW beyond the chilled-water range the capacity is held, so the
    # part-load ratio is too, and COP must rise with chilled water at every load.
    x_out, y_out = np.meshgrid(np.arange(8.89, 25.0 + 1e-9, 0.25), ys, indexing="ij")
    for load in np.arange(0.3, 1.0 + 1e-9, 0.1):
        q = load * Q_REF_W
        power, capacity = chiller_plant.chiller_power(YORK, q, x_out, y_out)
        cop = np.minimum(q, capacity) / power
        assert np.all(np.diff(cop, axis=0) > 0), f"COP not rising with CHW at {load:.1f}"


def test_capacity_never_above_the_bounded_maximum() -> None:
    """Capacity never exceeds Qref·max CAPFT over the range: ∂CAPFT/∂x = −0.0590 −
    2·5.95e-4·x + 4.97e-3·y > 0 on the range, so the maximum is at x = 8.89 °C and
    y* = (d + f·8.89)/(−2e) = (0.09298 + 0.04422)/0.005682 = 24.15 °C: CAPFT 1.2635,
    1333 kW. At 18 °C the unbounded curve gave 1.78 × nameplate (1879 kW at 27 °C)."""
    cap_max = Q_REF_W * float(biquadratic(8.89, 24.15, CURVES.capft))
    assert cap_max == pytest.approx(1333e3, rel=1e-3)
    x, y = np.meshgrid(np.linspace(0.0, 30.0, 121), np.linspace(5.0, 45.0, 161))
    _, capacity = chiller_plant.chiller_power(YORK, 1.0, x, y)
    assert float(capacity.max()) <= cap_max * (1 + 1e-6)
    _, at_18 = chiller_plant.chiller_power(YORK, 1.0, 18.0, 27.0)
    _, at_edge = chiller_plant.chiller_power(YORK, 1.0, 8.89, 27.0)
    _, before = _unbounded(1.0, 18.0, 27.0)
    assert float(at_18) == pytest.approx(float(at_edge), rel=1e-12)
    assert float(before) / Q_REF_W == pytest.approx(1.781, abs=1e-3)


def test_cop_continuous_at_the_range_edges() -> None:
    """At each edge of the range the Carnot factor is 1 (same point, same lift), so COP
    either side of the edge differs only by the curves' slope over 2e-6 K."""
    eps = 1e-6
    edges = [
        ((8.89 - eps, 27.0), (8.89 + eps, 27.0)),
        ((4.44 - eps, 27.0), (4.44 + eps, 27.0)),
        ((8.0, 12.78 - eps), (8.0, 12.78 + eps)),
        ((8.0, 35.0 - eps), (8.0, 35.0 + eps)),
        ((18.0, 12.78 + 9.11 - eps), (18.0, 12.78 + 9.11 + eps)),  # the smallest lift
    ]
    for below, above in edges:
        for plr in (0.3, 0.7, 1.0):
            c_below = float(_cop_at_plr(plr, np.array(below[0]), np.array(below[1])))
            c_above = float(_cop_at_plr(plr, np.array(above[0]), np.array(above[1])))
            assert c_above == pytest.approx(c_below, rel=1e-5), (below, plr)


def test_cop_at_18c_chilled_water_by_hand() -> None:
    """18 °C leaving, 27 °C entering, full available capacity (PLR 1).

    Equal-lift anchor: x = 8.89, y = 27 − (18 − 8.89) = 17.89 °C, where EIRFT = 0.6953
    (0.524511 − 0.02850126·8.89 + 8.03472e-4·8.89² + 0.01893133·17.89 + 1.151629e-4·17.89²
    − 9.340642e-5·8.89·17.89). Carnot factor at equal lift = T_eva ratio =
    (18 − 2 + 273.15)/(8.89 − 2 + 273.15) = 289.15/280.04 = 1.0325. COP = 5.96 / 0.6953 ×
    1.0325 = 8.85, against 5.92 rated; the unbounded curves gave 7.36 at 1055 kW, with
    capacity 1.78 × nameplate.
    """
    eirft = float(biquadratic(8.89, 17.89, CURVES.eirft))
    assert eirft == pytest.approx(0.6953, abs=1e-4)
    t_eva_ratio = (18.0 - 2.0 + T_KELVIN_0C) / (8.89 - 2.0 + T_KELVIN_0C)
    expected = YORK.cop / (eirft * sum(CURVES.eirfplr)) * t_eva_ratio
    assert float(_cop_at_plr(1.0, np.array(18.0), np.array(27.0))) == pytest.approx(
        expected, rel=1e-9
    )
    assert expected == pytest.approx(8.85, abs=0.01)


def test_one_chiller_law_for_both_solvers() -> None:
    """The live step (air_controls) and the annual solver (chilled_water) reach the
    chiller through :func:`twin.plant.chillers.chiller_power` and nowhere else."""
    for module in (air_controls, chilled_water):
        source = inspect.getsource(module)
        assert "chiller_plant.chiller_power(" in source
        assert "chiller_eir_power" not in source
