"""Residuals, bands and model health (twin.live.residuals), against hand calculations."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.live.residuals import (
    Persistence,
    cv_rmse,
    learn_band,
    model_health,
    nmbe,
    period_means,
)


def test_gl14_figures_by_hand() -> None:
    # y = 100, 110, 90, 100; ŷ = 98, 112, 88, 101 → r = 2, −2, 2, −1; ȳ = 100, n − p = 3.
    y, y_hat = [100.0, 110.0, 90.0, 100.0], [98.0, 112.0, 88.0, 101.0]
    assert nmbe(y, y_hat) == pytest.approx(100 * 1 / (3 * 100))
    assert cv_rmse(y, y_hat) == pytest.approx(100 * np.sqrt(13 / 3) / 100)
    # p = 0 is the plain RMSE over the mean
    assert cv_rmse(y, y_hat, n_parameters=0) == pytest.approx(100 * np.sqrt(13 / 4) / 100)
    # The sign says which way: a model that predicts too little gives a positive NMBE.
    assert nmbe([10.0, 10.0], [9.0, 9.0]) > 0


def test_missing_values_are_left_out_and_too_few_give_nan() -> None:
    assert nmbe([1.0, np.nan, 3.0], [1.0, 5.0, 2.0]) == pytest.approx(100 * 1 / (1 * 2))
    assert np.isnan(cv_rmse([1.0], [1.0]))
    assert np.isnan(nmbe([0.0, 0.0], [1.0, 1.0]))  # a zero mean normalises nothing
    with pytest.raises(ValueError, match="measured has 2 values, modelled 3"):
        nmbe([1.0, 2.0], [1.0, 2.0, 3.0])


def test_hours_with_a_gap_are_left_out_not_read_as_zero() -> None:
    t = np.arange(0.0, 4 * 3600.0, 10.0)
    y = np.where((t >= 3600) & (t < 3600 + 3000), np.nan, 500.0)  # 50 of the 60 min missing
    starts, measured, _ = period_means(t, y, np.full(t.size, 500.0))
    assert starts.tolist() == [0.0, 7200.0, 10800.0]
    assert measured.tolist() == [500.0] * 3


def test_calendar_months_are_utc_months() -> None:
    jan_31 = dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC).timestamp()
    t = jan_31 + np.arange(0.0, 2 * 86400.0, 600.0)  # Jan 31 noon to Feb 2 noon
    starts, _, _ = period_means(t, np.ones(t.size), np.ones(t.size), "monthly", min_fraction=0)
    months = [dt.datetime.fromtimestamp(s, dt.UTC).strftime("%Y-%m-%d") for s in starts]
    assert months == ["2026-01-01", "2026-02-01"]
    with pytest.raises(ValueError, match="'hourly' or 'monthly'"):
        period_means(t, t, t, "weekly")


def test_a_model_one_percent_low_on_a_day_of_training_swings() -> None:
    """Facility power swinging 6 ↔ 9.5 MW every 10 s, a model 1 % low with 0.5 %
    white noise: hourly NMBE is the bias (≈ +1 %, over 23 degrees of freedom of 24
    hours: 1 % × 24/23), CV(RMSE) near it (the noise averages out over an hour)."""
    rng = np.random.default_rng(7)
    t = np.arange(0.0, 86400.0, 1.0)
    y = np.where((t % 10) < 7, 9.5e6, 6.0e6)
    y_hat = 0.99 * y * (1 + 0.005 * rng.standard_normal(t.size))
    health = model_health(t, y, y_hat)
    assert health.hours == 24
    assert health.hourly_nmbe == pytest.approx(1.0 * 24 / 23, rel=0.01)
    assert health.hourly_cv_rmse == pytest.approx(1.0 * np.sqrt(24 / 23), rel=0.02)
    assert health.calibrated("hourly")
    assert health.months == 0 and np.isnan(health.monthly_nmbe)  # a day is no month
    summary = health.json()
    assert summary["residual"] == "measured - modelled"
    assert summary["monthly"]["nmbe_pct"] is None and summary["hourly"]["calibrated"]


def test_a_band_learns_a_steady_model_error_and_keeps_the_instrument_floor() -> None:
    """A model whose catalogue is off gives a steady offset: the band is centred on it
    (no finding), and its width is 4 robust σ of the noise (σ = 0.05 K here)."""
    rng = np.random.default_rng(3)
    residuals = 0.8 + 0.05 * rng.standard_normal(3600)
    residuals[::100] = 5.0  # 1 % of bad samples do not widen a robust band
    band = learn_band(residuals, accuracy_floor=0.1)
    assert band.centre == pytest.approx(0.8, abs=0.01)
    assert band.half_width == pytest.approx(4 * 0.05, rel=0.1)
    assert not band.outside(0.9) and band.outside(1.2) and band.outside(0.5)
    assert not band.outside(np.nan)
    # A quiet model (no noise) is never judged finer than the sensor's accuracy.
    assert learn_band(np.zeros(100), accuracy_floor=0.3).half_width == 0.3
    assert learn_band([], accuracy_floor=0.3).centre == 0.0
    with pytest.raises(ValueError):
        learn_band([1.0], accuracy_floor=-1.0)


def test_persistence_raises_after_its_time_and_ignores_blips() -> None:
    timer = Persistence(2, raise_s=60.0, clear_s=120.0)
    active = []
    for t in range(0, 400, 10):
        blip = t == 50  # point 0: one sample outside
        held = 100 <= t < 200  # point 1: outside for 100 s, then back
        active.append(timer.update(float(t), np.array([blip, held])))
    by_time = dict(zip(range(0, 400, 10), active, strict=True))
    assert not any(a[0] for a in active)  # a blip never raises
    assert not by_time[150][1] and by_time[160][1]  # raised 60 s after it began
    assert by_time[310][1] and not by_time[320][1]  # cleared 120 s after it ended
