"""Facility metrics: identities from ISO/IEC 30134 and The Green Grid."""

from __future__ import annotations

import numpy as np
import pytest

from twin.physics.metrics import (
    carbon_usage_effectiveness,
    partial_pue,
    power_usage_effectiveness,
    water_usage_effectiveness,
)


def test_pue_definition() -> None:
    # ISO/IEC 30134-2: PUE = facility / IT. LBNL 2024 liquid-cooled tower site ~1.13.
    assert float(power_usage_effectiveness(1130.0, 1000.0)) == pytest.approx(1.13, rel=1e-12)
    assert float(power_usage_effectiveness(1000.0, 1000.0)) == 1.0
    assert np.isnan(power_usage_effectiveness(10.0, 0.0))


def test_partial_pues_sum_to_pue() -> None:
    # The Green Grid WP49: pPUE = (IT + subsystem)/IT; subsystems partitioning the
    # non-IT energy satisfy PUE − 1 = Σ (pPUE_i − 1). Exact arithmetic.
    it, cooling, power_chain, other = 1000.0, 80.0, 40.0, 10.0
    ppue = [float(partial_pue(x, it)) for x in (cooling, power_chain, other)]
    assert ppue[0] == pytest.approx(1.08, rel=1e-12)
    pue = float(power_usage_effectiveness(it + cooling + power_chain + other, it))
    assert pue - 1.0 == pytest.approx(sum(p - 1.0 for p in ppue), rel=1e-12)


def test_wue_definition() -> None:
    # The Green Grid WP35: WUE = site water (L) / IT energy (kWh); LBNL ~2.0 L/kWh.
    assert float(water_usage_effectiveness(2000.0, 1000.0)) == pytest.approx(2.0, rel=1e-12)
    assert np.isnan(water_usage_effectiveness(1.0, 0.0))


def test_cue_is_emission_factor_times_pue() -> None:
    # ISO/IEC 30134-8 / TGG WP32: CUE = CEF·PUE = CEF·facility/IT. Exact.
    facility = np.array([1130.0, 1500.0])
    it = np.array([1000.0, 1000.0])
    cef = np.array([0.5, 0.581])
    np.testing.assert_allclose(
        carbon_usage_effectiveness(facility, it, cef),
        cef * power_usage_effectiveness(facility, it),
        rtol=1e-12,
    )
    assert float(carbon_usage_effectiveness(1130.0, 1000.0, 0.5)) == pytest.approx(0.565)
