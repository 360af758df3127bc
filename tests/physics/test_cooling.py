"""Cooling-plant physics against published values (EnergyPlus, Modelica Buildings, Incropera)."""

from __future__ import annotations

import numpy as np
import pytest

from twin.physics.cooling import (
    affinity_scaling,
    biquadratic,
    chiller_eir_power,
    counterflow_effectiveness,
    crossflow_effectiveness,
    fan_power,
    hydraulic_power,
    moist_air_enthalpy,
    saturated_air_temperature,
    tower_evaporation_saturated_exit,
    tower_water_use,
    yorkcalc_approach,
    yorkcalc_liquid_to_gas_ratio,
)

# Modelica Buildings CoolingTowers.YorkCalc defaults (COEFFICIENTS.md, DOMAIN.md):
# design wet bulb 25.55 °C, range 5.56 K, approach 3.89 K.
DESIGN_TWB_C = 25.55
DESIGN_RANGE_K = 5.56
DESIGN_APPROACH_K = 3.89

# York YT 1055 kW chiller, Modelica Buildings
# ElectricEIRChiller_York_YT_1055kW_5_96COP_Vanes (from EnergyPlus data sets).
YORK = dict(
    q_reference_w=1055e3,
    cop_reference=5.96,
    capft=[0.1785912, -0.05900023, -5.946963e-4, 0.09297889, -2.841024e-3, 4.974221e-3],
    eirft=[0.524511, -0.02850126, 8.03472e-4, 0.01893133, 1.151629e-4, -9.340642e-5],
    eirfplr=[0.2619878, 0.2393605, 0.4988306],
)
RATED_TCHW_C = 6.67
RATED_TCW_C = 29.44


# --- YorkCalc cooling tower -------------------------------------------------------------


def test_yorkcalc_design_point_matches_library_design_approach() -> None:
    # The library's design approach is 3.89 K. At LG = 1 the polynomial gives 3.84 K:
    # the library does not assume LG = 1 at design, it solves the design air flow so the
    # correlation returns 3.89 K, i.e. design LG is slightly above 1. 0.1 K covers
    # that 0.05 K gap with margin, and is well below the correlation's own fit error.
    approach = float(yorkcalc_approach(DESIGN_TWB_C, DESIGN_RANGE_K, 1.0))
    assert approach == pytest.approx(DESIGN_APPROACH_K, abs=0.1)
    assert approach == pytest.approx(3.8445, abs=1e-3)  # docstring value, hand-summed
    lg_design = float(yorkcalc_liquid_to_gas_ratio(DESIGN_TWB_C, DESIGN_RANGE_K, DESIGN_APPROACH_K))
    # So the design LG that reproduces 3.89 K is just above 1 (about 1.01).
    assert 1.0 < lg_design < 1.05


def test_yorkcalc_approach_grows_with_liquid_to_gas_ratio() -> None:
    # Physics: more water per unit of air heats the air more, so the water leaves
    # warmer: the approach rises with LG. Checked over the practical operating region
    # (LG 0.5-2.5, Twb 0-26.7 °C, range 2-10 K); the raw 27-term fit is not monotone
    # far outside it (e.g. range ≥ 10 K, LG → 8 at low wet bulb).
    lg = np.linspace(0.5, 2.5, 41)
    for twb in (0.0, 10.0, 20.0, DESIGN_TWB_C):
        for tr in (2.0, DESIGN_RANGE_K, 10.0):
            assert np.all(np.diff(yorkcalc_approach(twb, tr, lg)) > 0), (twb, tr)


def test_yorkcalc_approach_grows_with_range() -> None:
    # Physics: a larger range is more heat per unit of water at the same LG, so the
    # leaving water sits further above the wet bulb.
    tr = np.linspace(1.1, 22.2, 50)
    for twb in (0.0, 10.0, 20.0, DESIGN_TWB_C):
        for lg in (0.5, 1.0, 1.5, 2.0):
            assert np.all(np.diff(yorkcalc_approach(twb, tr, lg)) > 0), (twb, lg)


def test_yorkcalc_approach_falls_as_wet_bulb_rises() -> None:
    # Physics: saturated-air enthalpy rises faster with temperature when warm, so
    # the same heat needs a smaller water-to-air temperature difference: a tower
    # closes its approach on hot humid days (well known tower-curve behaviour).
    twb = np.linspace(0.0, 26.7, 50)
    for tr in (DESIGN_RANGE_K, 10.0):
        for lg in (0.5, 1.0, 1.5, 2.0):
            assert np.all(np.diff(yorkcalc_approach(twb, tr, lg)) < 0), (tr, lg)


def test_yorkcalc_liquid_to_gas_ratio_inverts_approach() -> None:
    # Closed-form root of a quadratic: exact up to rounding, so 1e-6 is generous.
    twb, tr, lg = np.meshgrid(
        [0.0, 10.0, 20.0, DESIGN_TWB_C], [2.0, DESIGN_RANGE_K, 10.0], np.linspace(0.5, 2.5, 9)
    )
    approach = yorkcalc_approach(twb, tr, lg)
    np.testing.assert_allclose(yorkcalc_liquid_to_gas_ratio(twb, tr, approach), lg, atol=1e-6)


def test_yorkcalc_liquid_to_gas_ratio_nan_when_unreachable() -> None:
    # An approach above what LG = 8 gives has no LG on the valid range.
    assert np.isnan(yorkcalc_liquid_to_gas_ratio(DESIGN_TWB_C, DESIGN_RANGE_K, 100.0))


# --- Chiller EIR model ------------------------------------------------------------------


def test_chiller_curves_near_one_at_rated_point() -> None:
    # EnergyPlus normalises CAPFT and EIRFT to 1 at rated conditions; the published
    # York YT fit evaluates to 1.010 and 1.009 there (fit residual), so 2e-3 abs.
    assert float(biquadratic(RATED_TCHW_C, RATED_TCW_C, YORK["capft"])) == pytest.approx(
        1.010, abs=2e-3
    )
    assert float(biquadratic(RATED_TCHW_C, RATED_TCW_C, YORK["eirft"])) == pytest.approx(
        1.009, abs=2e-3
    )
    assert sum(YORK["eirfplr"]) == pytest.approx(1.0, abs=1e-3)  # EIRFPLR(1) = 1


def test_chiller_rated_cop_within_one_percent_of_5_96() -> None:
    # Rated 5.96 COP at 6.67 °C / 29.44 °C, full load. CAPFT and EIRFT are 1.010 and
    # 1.009 at that point, not exactly 1, so the model COP is off by about that much:
    # 1 % is the fit residual, not slack in our code.
    power, capacity = chiller_eir_power(1055e3, RATED_TCHW_C, RATED_TCW_C, **YORK)
    assert 1055e3 / float(power) == pytest.approx(5.96, rel=0.01)
    # At the model's own full load (Q = Qav, PLR = 1) COP = COPref / (EIRFT·EIRFPLR(1)).
    power_full, _ = chiller_eir_power(capacity, RATED_TCHW_C, RATED_TCW_C, **YORK)
    eirft = float(biquadratic(RATED_TCHW_C, RATED_TCW_C, YORK["eirft"]))
    expected = 5.96 / (eirft * sum(YORK["eirfplr"]))
    assert float(capacity / power_full) == pytest.approx(expected, rel=1e-12)
    assert float(capacity / power_full) == pytest.approx(5.96, rel=0.01)


def test_chiller_capacity_is_reference_times_capft() -> None:
    tchw = np.array([4.44, 6.67, 8.89])
    tcw = np.array([12.78, 29.44, 35.0])
    _, capacity = chiller_eir_power(500e3, tchw, tcw, **YORK)
    np.testing.assert_allclose(capacity, 1055e3 * biquadratic(tchw, tcw, YORK["capft"]))


def test_chiller_part_load_follows_eirfplr() -> None:
    # P(PLR) / P(1) = PLR-independent factors cancel, leaving EIRFPLR(PLR)/EIRFPLR(1).
    _, capacity = chiller_eir_power(1.0, RATED_TCHW_C, RATED_TCW_C, **YORK)
    p_full, _ = chiller_eir_power(capacity, RATED_TCHW_C, RATED_TCW_C, **YORK)
    p_half, _ = chiller_eir_power(0.5 * capacity, RATED_TCHW_C, RATED_TCW_C, **YORK)
    a, b, c = YORK["eirfplr"]
    ratio = (a + b * 0.5 + c * 0.25) / (a + b + c)
    assert float(p_half / p_full) == pytest.approx(ratio, rel=1e-12)
    # Load above capacity is capped: power no higher than at full load.
    p_over, _ = chiller_eir_power(2 * capacity, RATED_TCHW_C, RATED_TCW_C, **YORK)
    assert float(p_over) == pytest.approx(float(p_full), rel=1e-12)


def test_chiller_cycles_below_minimum_part_load() -> None:
    # EnergyPlus Chiller:Electric:EIR: below PLRmin the compressor cycles, so power is
    # P(PLRmin) scaled by PLR/PLRmin.
    _, capacity = chiller_eir_power(1.0, RATED_TCHW_C, RATED_TCW_C, **YORK)
    p_min, _ = chiller_eir_power(0.1 * capacity, RATED_TCHW_C, RATED_TCW_C, **YORK)
    p_low, _ = chiller_eir_power(0.05 * capacity, RATED_TCHW_C, RATED_TCW_C, **YORK)
    p_zero, _ = chiller_eir_power(0.0, RATED_TCHW_C, RATED_TCW_C, **YORK)
    assert float(p_low) == pytest.approx(0.5 * float(p_min), rel=1e-12)
    assert float(p_zero) == 0.0


# --- Heat exchangers --------------------------------------------------------------------


def test_counterflow_limits_match_incropera_table_11_3() -> None:
    # Incropera & DeWitt, 6th ed., Table 11.3: Cr = 0 → ε = 1 − e^−NTU (any
    # arrangement); Cr = 1 counter-flow → NTU/(1+NTU). Closed forms, so 1e-12.
    ntu = np.array([0.1, 0.5, 1.0, 2.0, 5.0])
    np.testing.assert_allclose(counterflow_effectiveness(ntu, 0.0), 1 - np.exp(-ntu), rtol=1e-12)
    np.testing.assert_allclose(counterflow_effectiveness(ntu, 1.0), ntu / (1 + ntu), rtol=1e-12)


def test_counterflow_hand_value() -> None:
    # NTU = 2, Cr = 0.5: e = exp(−1) → (1 − 0.367879)/(1 − 0.5·0.367879) = 0.774608,
    # hand-computed from Incropera eq. 11.29a; tolerance at the 4th decimal quoted.
    assert float(counterflow_effectiveness(2.0, 0.5)) == pytest.approx(0.7746, abs=5e-5)


def test_counterflow_continuous_at_balanced_flow() -> None:
    # The Cr = 1 branch must join the general formula (limit), to ~1e-6 at 1−Cr = 1e-6.
    assert float(counterflow_effectiveness(2.0, 1.0 - 1e-6)) == pytest.approx(2 / 3, abs=1e-6)


def test_crossflow_unmixed_hand_value() -> None:
    # Incropera eq. 11.32 at NTU = 1, Cr = 1: 1 − exp[(e^−1 − 1)] = 0.468536, hand value
    # to the 4th decimal; the formula itself is an approximation, quoted to 4 figures.
    assert float(crossflow_effectiveness(1.0, 1.0)) == pytest.approx(0.4685, abs=5e-5)
    # Cr → 0 limit is 1 − e^−NTU (Table 11.3); Cr clipped at 1e-9 gives ~1e-7 error.
    assert float(crossflow_effectiveness(2.0, 0.0)) == pytest.approx(1 - np.exp(-2.0), abs=1e-6)


# --- Pumps and fans ---------------------------------------------------------------------


def test_affinity_laws() -> None:
    # Affinity laws (ASHRAE Handbook HVAC S&E 2020 ch. 44): exact power laws.
    n = np.array([0.3, 0.5, 0.8, 1.0, 1.2])
    flow, head, power = affinity_scaling(n, 100.0, 200e3, 30e3)
    np.testing.assert_allclose(flow, 100.0 * n, rtol=1e-12)
    np.testing.assert_allclose(head, 200e3 * n**2, rtol=1e-12)
    np.testing.assert_allclose(power, 30e3 * n**3, rtol=1e-12)
    np.testing.assert_allclose(fan_power(n, 30e3), 30e3 * n**3, rtol=1e-12)
    # Consistency: P ∝ flow·head, so power/(flow·head) is speed-independent.
    np.testing.assert_allclose(power / (flow * head), 30e3 / (100.0 * 200e3), rtol=1e-12)


def test_hydraulic_power() -> None:
    # P = V̇·Δp/η: 0.1 m³/s × 200 kPa = 20 kW hydraulic, /0.7 = 28.571 kW. Exact.
    assert float(hydraulic_power(0.1, 200e3, 0.7)) == pytest.approx(20e3 / 0.7, rel=1e-12)
    assert float(hydraulic_power(0.1, 200e3, 1.0)) == pytest.approx(20e3, rel=1e-12)


# --- Tower water use --------------------------------------------------------------------


def test_tower_water_use_energyplus_defaults() -> None:
    # EnergyPlus CondenserLoopTowers defaults: evaporation 0.2 %/K of flow, drift
    # 0.008 %, blowdown = evap/(cycles − 1) − drift. Arithmetic, so 1e-12.
    m, tr, cycles = 100.0, 5.56, 4.0
    evap, drift, blowdown = tower_water_use(m, tr, cycles)
    assert float(evap) == pytest.approx(0.002 * tr * m, rel=1e-12)
    assert float(drift) == pytest.approx(0.00008 * m, rel=1e-12)
    assert float(blowdown) == pytest.approx(0.002 * tr * m / (cycles - 1) - 0.00008 * m, rel=1e-12)


def test_saturated_exit_evaporation_by_hand() -> None:
    """EnergyPlus "Saturated Exit" evaporation at one condition, computed by hand.

    1 MW into 100 kg/s of dry air entering at 30 °C dry bulb, 24 °C wet bulb, 101325 Pa
    (ASHRAE Fundamentals 2017 ch. 1; psychrolib gives the same digits):

    - p_ws(24 °C) = 2985.1 Pa (eq. 6), so W*_s = 0.621945·2985.1/(101325 − 2985.1)
      = 0.018879 (eq. 20, 23);
    - W_in = ((2501 − 2.326·24)·0.018879 − 1.006·6) / (2501 + 1.86·30 − 4.186·24)
      = 0.016336 (eq. 33);
    - h_in = 1.006·30 + 0.016336·(2501 + 1.86·30) = 71.948 kJ/kg (eq. 32);
    - h_out = h_in + Q/ṁ_a = 71.948 + 10 = 81.948 kJ/kg;
    - saturated air has that enthalpy at 26.31 °C: p_ws = 3425.3 Pa, W_s = 0.021761,
      h = 1.006·26.31 + 0.021761·(2501 + 1.86·26.31) = 81.956 kJ/kg (≈ h_out);
    - evaporation = 100·(0.021761 − 0.016336) = 0.5424 kg/s.

    The hand value rounds t_out to 0.01 K, which moves W_s by ~2e-6: 1e-3 relative
    covers it.
    """
    evaporation = float(tower_evaporation_saturated_exit(1e6, 100.0, 30.0, 24.0, 101325.0))
    assert evaporation == pytest.approx(0.5424, rel=1e-3)
    assert float(saturated_air_temperature(81.948e3, 101325.0, 24.0)) == pytest.approx(
        26.31, abs=0.01
    )


def test_saturated_exit_against_psychrolib() -> None:
    # The same balance with psychrolib's own functions, over climates from cold-dry to
    # hot-humid; the psychrometrics are the same equations, so 1e-6 relative.
    psychrolib = pytest.importorskip("psychrolib")
    psychrolib.SetUnitSystem(psychrolib.SI)
    cases = [(-10.0, -11.0, 91000.0), (5.0, 2.0, 101325.0), (28.0, 26.0, 100500.0)]
    for t_dry, t_wet, p in cases:
        w_in = psychrolib.GetHumRatioFromTWetBulb(t_dry, t_wet, p)
        h_out = psychrolib.GetMoistAirEnthalpy(t_dry, w_in) + 2e6 / 120.0
        lo, hi = -40.0, 80.0
        for _ in range(100):  # bisection on psychrolib's saturated enthalpy
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if psychrolib.GetSatAirEnthalpy(mid, p) < h_out else (lo, mid)
        expected = 120.0 * (psychrolib.GetSatHumRatio(mid, p) - w_in)
        got = float(tower_evaporation_saturated_exit(2e6, 120.0, t_dry, t_wet, p))
        assert got == pytest.approx(expected, rel=1e-6)


def test_saturated_exit_climate_and_bounds() -> None:
    q, m_air = 4.5e6, 150.0
    # Cold air takes much of the heat as sensible heat: less water per kWh than warm,
    # humid air (latent heat of the water evaporated over Q: ~0.5 against ~0.9).
    cold = float(tower_evaporation_saturated_exit(q, m_air, -10.0, -11.0))
    humid = float(tower_evaporation_saturated_exit(q, m_air, 28.0, 26.0))
    assert cold < 0.7 * humid
    assert 0.3 < cold * 2.45e6 / q < 0.7
    assert 0.8 < humid * 2.44e6 / q < 1.1
    # No heat, no air: no evaporation.
    np.testing.assert_array_equal(
        tower_evaporation_saturated_exit([0.0, -1e5, 1e6], [100.0, 100.0, 0.0], 20.0, 15.0),
        0.0,
    )
    # Exit air no warmer than the water entering: with too little air for that, the
    # air flow becomes the least that carries Q out saturated at the water temperature.
    t_hot = 35.0
    starved = float(tower_evaporation_saturated_exit(q, 10.0, 5.0, 2.0, t_water_in_c=t_hot))
    from twin.physics.weather import humidity_ratio, humidity_ratio_from_wet_bulb

    w_in = float(humidity_ratio_from_wet_bulb(5.0, 2.0, 101325.0))
    w_hot = float(humidity_ratio(t_hot, 101325.0))
    h_hot = float(moist_air_enthalpy(t_hot, w_hot))
    least = q / (h_hot - float(moist_air_enthalpy(5.0, w_in)))
    assert starved == pytest.approx(least * (w_hot - w_in), rel=1e-6)
    # Enough air: the bound does not bite.
    free = float(tower_evaporation_saturated_exit(q, m_air, 5.0, 2.0))
    assert float(
        tower_evaporation_saturated_exit(q, m_air, 5.0, 2.0, t_water_in_c=t_hot)
    ) == pytest.approx(free, rel=1e-12)


def test_tower_evaporation_per_kwh_rejected() -> None:
    # DOMAIN.md: 0.2 %/K ≈ 1.72 L per kWh rejected. Heat rejected = ṁ·cp·range, so
    # evaporation per kWh = 0.002 / cp · 3.6e6 s·W = 0.002·3.6e6/4186 = 1.72 kg ≈ 1.72 L
    # (water ~1 kg/L). 2 % covers cp (4180-4190 J/kg/K) and density (995-1000 kg/m³).
    cp_water = 4186.0
    m, tr = 50.0, 5.56
    evap, _, _ = tower_water_use(m, tr)
    q_rejected_kwh_per_s = m * cp_water * tr / 3.6e6
    litres_per_kwh = float(evap) / q_rejected_kwh_per_s  # 1 kg ≈ 1 L
    assert litres_per_kwh == pytest.approx(1.72, rel=0.02)
