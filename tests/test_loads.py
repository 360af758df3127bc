"""IT load: server power curves, utilisation profiles, and the TOML profile loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.errors import ConfigError
from twin.loads import LoadProfile, load_profile
from twin.paths import data_path
from twin.physics.load import diurnal_inference, server_power, steady, training_job

YEAR_OF_MINUTES = np.arange(1, 525_601) * 60.0  # each 1-minute step stamped at its end
DAY_S = 86400.0

# A training job whose numbers are easy to follow by hand.
JOB = {
    "compute_level": 0.9,
    "communication_level": 0.4,
    "period_s": 10.0,
    "communication_frac": 0.3,
    "checkpoint_interval_s": 600.0,
    "checkpoint_duration_s": 60.0,
    "checkpoint_level": 0.1,
}
# Duty-cycle mean, by hand: an iteration is 7 s at 0.9 and 3 s at 0.4 → 0.75; each
# 600 s interval after the first is 60 s of checkpoint at 0.1 and 540 s (54 whole
# iterations) of training → (540 · 0.75 + 60 · 0.1) / 600 = 0.685.
JOB_MEAN = (540.0 * 0.75 + 60.0 * 0.1) / 600.0


# --- server power --------------------------------------------------------------------


def test_server_power_linear_and_log2() -> None:
    u = np.array([0.0, 0.25, 0.5, 1.0])
    np.testing.assert_allclose(server_power(100.0, 500.0, u), [100.0, 200.0, 300.0, 500.0])
    log2 = server_power(100.0, 500.0, u, shape="log2")
    np.testing.assert_allclose(log2, 100.0 + 400.0 * np.log2(1.0 + u))
    # Same end points; the log2 curve lies above the line in between.
    assert log2[0] == 100.0 and log2[-1] == 500.0
    assert np.all(log2[1:-1] > server_power(100.0, 500.0, u)[1:-1])


def test_server_power_broadcasts_over_racks_and_time() -> None:
    p_idle = np.array([1000.0, 2000.0])[:, None]
    p_full = np.array([10000.0, 40000.0])[:, None]
    u = np.linspace(0.0, 1.0, 5)[None, :]
    assert server_power(p_idle, p_full, u).shape == (2, 5)
    with pytest.raises(ValueError, match="shape must be"):
        server_power(1.0, 2.0, 0.5, shape="cubic")  # type: ignore[arg-type]


# --- ranges and shapes -----------------------------------------------------------------


PROFILES = {
    "steady": lambda t, w=0.0: steady(t, 0.7, window_s=w),
    "diurnal": lambda t, w=0.0: diurnal_inference(t, 0.2, 0.95, peak_hour=15.0, window_s=w),
    "training": lambda t, w=0.0: training_job(t, **JOB, start_s=3600.0, window_s=w),
}


@pytest.mark.parametrize("name", list(PROFILES))
@pytest.mark.parametrize("window_s", [0.0, 60.0])
def test_a_year_of_minutes_stays_in_range(name: str, window_s: float) -> None:
    u = PROFILES[name](YEAR_OF_MINUTES, window_s)
    assert u.shape == YEAR_OF_MINUTES.shape
    assert np.all((u >= 0.0) & (u <= 1.0 + 1e-12))


@pytest.mark.parametrize("name", list(PROFILES))
def test_shape_follows_time_and_is_deterministic(name: str) -> None:
    t = np.arange(120.0).reshape(4, 30) * 7.0
    first, second = PROFILES[name](t), PROFILES[name](t)
    assert first.shape == (4, 30)
    np.testing.assert_array_equal(first, second)
    assert np.ndim(PROFILES[name](5.0)) == 0


# --- diurnal inference -------------------------------------------------------------------


def test_diurnal_peak_trough_period_and_mean() -> None:
    hours = np.array([15.0, 3.0, 9.0, 21.0])
    u = diurnal_inference(hours * 3600.0, 0.2, 0.95, peak_hour=15.0)
    np.testing.assert_allclose(u, [0.95, 0.2, 0.575, 0.575], atol=1e-12)
    t = np.linspace(0.0, DAY_S, 1000)
    for days in (1, 17, 364):
        np.testing.assert_allclose(
            diurnal_inference(t + days * DAY_S, 0.2, 0.95), diurnal_inference(t, 0.2, 0.95)
        )
    day = np.arange(0.5, DAY_S) * 1.0  # midpoints of every second of a day
    assert diurnal_inference(day, 0.2, 0.95).mean() == pytest.approx(0.575, abs=1e-9)


# --- training job --------------------------------------------------------------------------


def test_training_iterations_swing_between_compute_and_communication() -> None:
    # First interval (no checkpoint yet): 7 s compute, then 3 s communication.
    t = np.array([0.0, 3.0, 6.9, 7.0, 9.9, 10.0, 17.5, 595.0])
    expected = [0.9, 0.9, 0.9, 0.4, 0.4, 0.9, 0.4, 0.9]
    np.testing.assert_allclose(training_job(t, **JOB), expected)
    # Periodic with the iteration away from checkpoints.
    t = np.linspace(0.0, 530.0, 2000)
    np.testing.assert_array_equal(
        training_job(t + 60.0, **JOB)[t + 60.0 < 600.0], training_job(t, **JOB)[t + 60.0 < 600.0]
    )


def test_checkpoint_dips_at_the_right_times() -> None:
    start = 1000.0
    t = start + np.arange(0.0, 4 * 600.0, 0.25)
    u = training_job(t, **JOB, start_s=start)
    dipped = u == 0.1
    # A 60 s dip starting at every interval after the first: [600, 660), [1200, 1260) …
    tau = t - start
    expected = (tau >= 600.0) & (np.mod(tau, 600.0) < 60.0)
    np.testing.assert_array_equal(dipped, expected)
    # Training restarts with a compute phase right after each checkpoint.
    np.testing.assert_allclose(
        training_job(start + np.array([660.0, 1260.0]), **JOB, start_s=start), 0.9
    )
    # Idle before the job starts.
    assert training_job(start - 1.0, **JOB, start_s=start, idle_level=0.05) == 0.05


def test_training_mean_matches_the_hand_computed_duty_cycle() -> None:
    # Sample the middle of every quarter second over 100 intervals after the first.
    t = 600.0 + np.arange(0.125, 100 * 600.0, 0.25)
    assert training_job(t, **JOB).mean() == pytest.approx(JOB_MEAN, abs=1e-12)
    # The window mean gives the same from one value per interval.
    ends = 600.0 * np.arange(2, 102)
    assert training_job(ends, **JOB, window_s=600.0) == pytest.approx(JOB_MEAN, abs=1e-12)


def test_window_mean_is_the_mean_of_the_window() -> None:
    rng = np.random.default_rng(3)
    ends = rng.uniform(0.0, 5000.0, 20)
    for window_s in (0.7, 13.0, 60.0, 900.0):
        fine = np.arange(0.5, 20000) / 20000 * window_s  # midpoints across the window
        for end in ends:
            samples = end - window_s + fine
            for name, profile in PROFILES.items():
                expected = profile(samples).mean()
                # Midpoint sampling of a step function errs by at most one sample's
                # share of each jump: 1/20000 of the window per jump of <= 1.
                jumps = 2 * window_s / 10.0 + 4
                got = float(profile(end, window_s))
                assert got == pytest.approx(expected, abs=jumps / 20000 + 1e-9), name


def test_window_mean_avoids_aliasing_at_one_minute_steps() -> None:
    # A 10 s iteration sampled every 60 s always lands on the same phase; the
    # window mean keeps a year's energy right.
    instantaneous = training_job(YEAR_OF_MINUTES, **JOB)
    windowed = training_job(YEAR_OF_MINUTES, **JOB, window_s=60.0)
    steps_per_interval = 10
    first = slice(0, steps_per_interval)
    # Exact: first interval has no checkpoint (mean 0.75), every later one JOB_MEAN.
    assert windowed[first].mean() == pytest.approx(0.75, abs=1e-12)
    assert windowed[steps_per_interval:].mean() == pytest.approx(JOB_MEAN, abs=1e-9)
    assert abs(instantaneous[steps_per_interval:].mean() - JOB_MEAN) > 0.05


def test_no_checkpoints() -> None:
    t = np.arange(0.5, 3600.0)
    without = dict(JOB, checkpoint_duration_s=0.0)
    assert training_job(t, **without).mean() == pytest.approx(0.75, abs=1e-12)
    infinite = dict(JOB, checkpoint_interval_s=np.inf)
    np.testing.assert_array_equal(training_job(t, **infinite), training_job(t, **without))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"compute_level": 1.2}, "compute_level must be in"),
        ({"communication_frac": -0.1}, "communication_frac must be in"),
        ({"period_s": 0.0}, "period_s must be"),
        ({"checkpoint_duration_s": 600.0}, "checkpoint_duration_s must be"),
    ],
)
def test_training_rejects_bad_parameters(change: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        training_job(0.0, **{**JOB, **change})


# --- profile files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("steady", "steady"),
        ("diurnal-inference", "diurnal_inference"),
        ("training-job", "training_job"),
    ],
)
def test_shipped_profiles_load(name: str, kind: str) -> None:
    profile = load_profile(name)
    assert isinstance(profile, LoadProfile)
    assert profile.kind == kind and profile.name == name
    assert profile.description and profile.source
    assert profile.path == data_path("sim", "loads", f"{name}.toml")
    u = profile.utilisation(YEAR_OF_MINUTES, window_s=60.0)
    assert u.shape == YEAR_OF_MINUTES.shape
    assert np.all((u >= 0.0) & (u <= 1.0))
    assert load_profile(name.replace("-", "_")).parameters == profile.parameters


def test_profile_is_frozen() -> None:
    profile = load_profile("steady")
    with pytest.raises(Exception, match="frozen"):
        profile.parameters.level = 0.1  # type: ignore[misc,union-attr]


VALID_STEADY = 'kind = "steady"\ndescription = "d"\nsource = "s"\nlevel = 0.5\n'
VALID_TRAINING = (
    'kind = "training_job"\ndescription = "d"\nsource = "s"\n'
    "compute_level = 0.9\ncommunication_level = 0.4\nperiod_s = 10.0\n"
    "communication_frac = 0.3\ncheckpoint_interval_s = 600.0\n"
    "checkpoint_duration_s = 60.0\ncheckpoint_level = 0.1\n"
)


@pytest.mark.parametrize(
    ("text", "key", "line", "expected"),
    [
        (VALID_STEADY.replace("0.5", "1.5"), "level", 4, "less than or equal to 1, got 1.5"),
        (VALID_STEADY.replace("0.5", '"0.5"'), "level", 4, "valid number, got '0.5'"),
        (VALID_STEADY.replace("0.5", "nan"), "level", 4, "finite number, got nan"),
        (VALID_STEADY + "levle = 0.3\n", "levle", 5, "unknown key for kind 'steady'"),
        (VALID_STEADY.replace('source = "s"\n', ""), "source", None, "required key is missing"),
        (VALID_STEADY.replace('"steady"', '"stedy"'), "kind", 1, "expected one of"),
        (VALID_STEADY.replace('kind = "steady"\n', ""), "kind", None, "required key is missing"),
        (
            VALID_TRAINING.replace("= 60.0", "= 600.0"),
            "checkpoint_duration_s",
            9,
            "shorter than checkpoint_interval_s",
        ),
        (VALID_TRAINING.replace("period_s = 10.0", "period_s = -1.0"), "period_s", 6, "greater"),
        (
            'kind = "diurnal_inference"\ndescription = "d"\nsource = "s"\nbase = 0.6\npeak = 0.4\n',
            "peak",
            5,
            "must not be below base",
        ),
    ],
)
def test_bad_profiles_name_file_and_key(
    tmp_path: Path, text: str, key: str, line: int | None, expected: str
) -> None:
    path = tmp_path / "profile.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    error = caught.value
    assert (error.path, error.key, error.line) == (path, key, line)
    assert expected in error.message
    assert f"key '{key}'" in str(error) and str(path) in str(error)


def test_toml_syntax_error_and_unknown_names(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('kind = "steady"\nlevel = = 0.5\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML") as caught:
        load_profile(path)
    assert caught.value.line == 2
    with pytest.raises(ConfigError, match="not found"):
        load_profile(tmp_path / "missing.toml")
    with pytest.raises(ConfigError) as caught:
        load_profile("inference")
    for name in ("steady", "diurnal-inference", "training-job"):
        assert name in caught.value.message
