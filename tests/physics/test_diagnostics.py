"""Measurement-derived quantities (twin.physics.diagnostics) against hand values and
against the plant's own heat-exchanger model, which they invert."""

from __future__ import annotations

import numpy as np
import pytest

from twin.physics import cooling
from twin.physics.diagnostics import (
    log_mean_temperature_difference,
    odd_one_out,
    ua_from_measurements,
    ua_ratio,
)


def test_lmtd_by_hand() -> None:
    # equal end differences: the LMTD is that difference (the limit of the formula)
    assert float(log_mean_temperature_difference(80.0, 60.0, 30.0, 50.0)) == pytest.approx(30.0)
    # 90 → 50 against 20 → 40: ΔT1 = 50, ΔT2 = 30, (50 − 30) / ln(50/30) = 39.152 K
    assert float(log_mean_temperature_difference(90.0, 50.0, 20.0, 40.0)) == pytest.approx(
        20.0 / np.log(5.0 / 3.0)
    )
    # a temperature cross no counter-flow exchanger makes: not a number, not a guess
    assert np.isnan(log_mean_temperature_difference(40.0, 35.0, 30.0, 42.0))


@pytest.mark.parametrize(("m_hot", "m_cold"), [(1.0, 1.0), (0.5, 1.2), (2.0, 0.7)])
def test_ua_from_the_temperatures_the_plant_model_makes_is_the_ua_it_was_given(
    m_hot: float, m_cold: float
) -> None:
    """ε-NTU forward (the CDU model), LMTD backward: the same counter-flow solution
    (Incropera & DeWitt §11.3-11.4), so the round trip closes to rounding."""
    ua, cp_hot, cp_cold = 250e3, 3800.0, 4180.0  # PG25 secondary against water
    t_hot_in, t_cold_in = 45.0, 30.0
    q = float(cooling.heat_exchanger_heat_flow(ua, m_hot * 10, cp_hot, t_hot_in,
                                               m_cold * 10, cp_cold, t_cold_in))  # fmt: skip
    t_hot_out = t_hot_in - q / (m_hot * 10 * cp_hot)
    t_cold_out = t_cold_in + q / (m_cold * 10 * cp_cold)
    found = float(ua_from_measurements(q, t_hot_in, t_hot_out, t_cold_in, t_cold_out))
    assert found == pytest.approx(ua, rel=1e-9)


def test_a_clean_exchanger_shows_ratio_one_at_every_flow_and_fouling_its_loss() -> None:
    flows = np.array([0.3, 0.5, 0.8, 1.0, 1.1])
    clean = cooling.ua_at_flows(100e3, flows, 1.0, 1.0, 1.0)
    assert ua_ratio(clean, 100e3, flows, 1.0, 1.0, 1.0) == pytest.approx(np.ones(5))
    assert ua_ratio(0.85 * clean, 100e3, flows, 1.0, 1.0, 1.0) == pytest.approx(0.85 * np.ones(5))
    # raw UA at 30 % hot-side flow is 55 % of nominal: a raw threshold would call it fouled
    assert float(clean[0]) / 100e3 < 0.6
    assert np.isnan(ua_ratio(50e3, 100e3, 0.0, 1.0, 1.0, 1.0))


def test_two_out_of_three_names_the_odd_estimate() -> None:
    cases = np.array([
        [1000.0, 1005.0, 995.0],   # all agree
        [1150.0, 1000.0, 1004.0],  # the first is off
        [1000.0, 1003.0, 870.0],   # the third is off
        [1000.0, 1200.0, 800.0],   # no two agree
        [1000.0, np.nan, 1000.0],  # one missing
    ])  # fmt: skip
    assert odd_one_out(cases, rel_tol=0.03).tolist() == [-1, 0, 2, -2, -3]
    with pytest.raises(ValueError, match="three estimates"):
        odd_one_out(np.ones((2, 4)), 0.03)
