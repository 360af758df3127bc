"""Cold-plate and lumped thermal physics against the OCP published curve."""

from __future__ import annotations

import numpy as np
import pytest

from twin.physics.thermal import (
    cold_plate_case_temperature,
    cold_plate_resistance,
    heat_capacity,
    lumped_temperature_rise,
    relax_toward,
)

# OCP OAI liquid cooling guideline (Chen et al. 2023), via Modelica Buildings
# OCP_1kW_OAM_PG25; the table as printed in COEFFICIENTS.md and DOMAIN.md.
PUBLISHED_FLOW_LPM = np.array([0.4, 0.6, 0.8, 1.0, 1.4, 2.0, 2.4])
PUBLISHED_R_K_PER_W = np.array([0.0389, 0.0300, 0.0265, 0.0245, 0.0220, 0.0204, 0.0197])


def test_cold_plate_reproduces_published_table() -> None:
    # Interpolation through the table points returns them up to exp(log(x)) rounding.
    np.testing.assert_allclose(
        cold_plate_resistance(PUBLISHED_FLOW_LPM), PUBLISHED_R_K_PER_W, rtol=1e-12
    )


def test_cold_plate_monotone_between_points() -> None:
    # More flow, higher film coefficient, lower resistance: strictly decreasing and
    # each value between its bracketing table points.
    flow = np.linspace(0.4, 2.4, 401)
    r = cold_plate_resistance(flow)
    assert np.all(np.diff(r) < 0)
    assert r.max() <= PUBLISHED_R_K_PER_W[0] + 1e-15
    assert r.min() >= PUBLISHED_R_K_PER_W[-1] - 1e-15


def test_cold_plate_clamped_outside_table() -> None:
    # Held at the end values (documented behaviour; no extrapolation).
    np.testing.assert_allclose(cold_plate_resistance([0.0, 0.1, 0.4]), 0.0389, rtol=1e-12)
    np.testing.assert_allclose(cold_plate_resistance([2.4, 3.0, 10.0]), 0.0197, rtol=1e-12)


def test_cold_plate_case_temperature() -> None:
    # T_case = T_in + R·Q (OCP definition of case-to-inlet resistance): 40 + 0.0245·1000.
    assert float(cold_plate_case_temperature(40.0, 1000.0, 1.0)) == pytest.approx(64.5, abs=1e-9)


def test_lumped_volume() -> None:
    # C = Vρcp; T = T0 + Qt/C; exact relaxation T∞ + (T0 − T∞)e^(−GΔt/C).
    c = float(heat_capacity(2.0, 1000.0, 4180.0))
    assert c == pytest.approx(8.36e6, rel=1e-12)
    assert float(lumped_temperature_rise(40.0, 8.36e6, c, 60.0)) == pytest.approx(100.0)
    t = float(relax_toward(40.0, 30.0, 1000.0, 1000.0, 1.0))
    assert t == pytest.approx(30.0 + 10.0 * np.exp(-1.0), rel=1e-12)
    # Two half steps equal one full step (exact solution, any step size).
    half = relax_toward(relax_toward(40.0, 30.0, 1000.0, 1000.0, 0.5), 30.0, 1000.0, 1000.0, 0.5)
    assert float(half) == pytest.approx(t, rel=1e-12)
