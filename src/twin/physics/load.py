"""IT load: server power from utilisation, and utilisation profiles over time.

Pure, vectorised functions of a time array (numpy in, numpy out; scalars
accepted), deterministic. A study evaluates a profile for a whole year of 1-minute
steps (525,600 times) in one call, so nothing here loops in Python over time.

Time ``t_s`` is simulation time [s from Jan 1 00:00 local standard time], the
same axis as the weather. Every profile takes ``window_s``: with ``window_s = 0``
it returns the utilisation at the instant ``t_s``; with ``window_s > 0`` it returns
the exact mean over the window ``(t_s - window_s, t_s]`` (from the profile's
closed-form integral). Use the window when stepping coarser than the profile's
fastest swing: a 10 s training iteration sampled every 60 s would otherwise alias
into a constant, while the window mean keeps the energy right.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["diurnal_inference", "server_power", "steady", "training_job"]

_DAY_S = 86400.0
_HOUR_S = 3600.0


def server_power(
    p_idle_w: ArrayLike,
    p_full_w: ArrayLike,
    utilisation: ArrayLike,
    shape: Literal["linear", "log2"] = "linear",
) -> NDArray[np.float64]:
    r"""Electrical power of a server (or GPU, or rack) at a given utilisation.

    Parameters
    ----------
    p_idle_w : numeric
        Power at zero utilisation [W].
    p_full_w : numeric
        Power at full utilisation [W].
    utilisation : numeric
        Utilisation [0-1]; not clipped, so values outside [0, 1] extrapolate.
    shape : {"linear", "log2"}, default "linear"
        Curve between idle and full power (see Notes).

    Returns
    -------
    numpy.ndarray
        Power [W], broadcast shape of the inputs.

    Notes
    -----
    ``"linear"`` (the usual server power model, and DOMAIN.md's default):

    .. math:: P = P_{idle} + (P_{full} - P_{idle})\,u

    ``"log2"``, the GPU model of HPE SustainCluster (after Tang & Fu 2020), which
    rises faster at low utilisation and meets the linear one at 0 and 1:

    .. math:: P = P_{idle} + (P_{full} - P_{idle})\,\log_2(1 + u)

    References
    ----------
    HPE SustainCluster documentation, "SustainDC: detailed data center simulation
    model", section 4.2, GPU power model
    (https://github.com/HewlettPackard/sustain-cluster).
    X. Tang and Z. Fu, "CPU-GPU utilization aware energy-efficient scheduling
    algorithm on heterogeneous computing systems", IEEE Access 8 (2020) 58948-58958.

    Examples
    --------
    >>> server_power(1000.0, 10200.0, [0.0, 0.5, 1.0])
    array([ 1000.,  5600., 10200.])
    >>> server_power(1000.0, 10200.0, 0.5, shape="log2").round(0)
    np.float64(6382.0)
    """
    p_idle_w = np.asanyarray(p_idle_w, dtype=np.float64)
    p_full_w = np.asanyarray(p_full_w, dtype=np.float64)
    utilisation = np.asanyarray(utilisation, dtype=np.float64)
    if shape == "linear":
        fraction = utilisation
    elif shape == "log2":
        fraction = np.log2(1.0 + utilisation)
    else:
        raise ValueError(f"shape must be 'linear' or 'log2', got {shape!r}")
    return p_idle_w + (p_full_w - p_idle_w) * fraction


def steady(t_s: ArrayLike, level: float, window_s: float = 0.0) -> NDArray[np.float64]:
    """Constant utilisation: a fully booked cluster, or a commissioning load bank.

    Parameters
    ----------
    t_s : numeric
        Simulation time [s].
    level : float
        Utilisation [0-1].
    window_s : float, default 0
        Averaging window [s] (the mean of a constant is the constant).

    Returns
    -------
    numpy.ndarray
        Utilisation [0-1], shape of ``t_s``.

    Examples
    --------
    >>> steady([0.0, 3600.0], 0.8)
    array([0.8, 0.8])
    """
    _check_level("level", level)
    _check_window(window_s)
    return np.full(np.shape(t_s), float(level))


def diurnal_inference(
    t_s: ArrayLike,
    base: float,
    peak: float,
    peak_hour: float = 14.0,
    window_s: float = 0.0,
) -> NDArray[np.float64]:
    r"""Inference serving: a smooth daily cycle following user demand.

    Parameters
    ----------
    t_s : numeric
        Simulation time [s from Jan 1 00:00 local standard time].
    base : float
        Utilisation at the daily trough, 12 h after the peak [0-1].
    peak : float
        Utilisation at the daily peak [0-1], not below ``base``.
    peak_hour : float, default 14.0
        Local standard time of the peak [h, 0-24].
    window_s : float, default 0
        Averaging window [s]; 0 for the instantaneous value.

    Returns
    -------
    numpy.ndarray
        Utilisation [0-1], shape of ``t_s``.

    Notes
    -----
    A raised cosine with a 24 h period, :math:`h` the hour of day:

    .. math::

        u = u_b + \frac{u_p - u_b}{2}\left[1 + \cos\left(2\pi\frac{h - h_p}{24}\right)\right]

    Its daily mean is :math:`(u_b + u_p)/2`. The window mean uses the closed-form
    integral (the cosine integrates to a sine). Online services follow their users'
    day, with a night-time trough; this is a smooth stand-in for that cycle, not a
    fit to a trace, so take ``base``, ``peak`` and ``peak_hour`` from the site.

    Examples
    --------
    >>> diurnal_inference(np.array([2.0, 8.0, 14.0]) * 3600.0, 0.3, 0.9).round(3)
    array([0.3, 0.6, 0.9])
    """
    _check_level("base", base)
    _check_level("peak", peak)
    if peak < base:
        raise ValueError(f"peak ({peak}) must not be below base ({base})")
    if not 0.0 <= peak_hour < 24.0:
        raise ValueError(f"peak_hour must be in [0, 24), got {peak_hour}")
    _check_window(window_s)
    t_s = np.asanyarray(t_s, dtype=np.float64)
    omega = 2.0 * np.pi / _DAY_S
    t_peak = peak_hour * _HOUR_S
    swing = peak - base
    if window_s == 0.0:
        return base + swing * 0.5 * (1.0 + np.cos(omega * (t_s - t_peak)))
    # Mean over (t - w, t] of the cosine term, written with the sine of the half
    # window so that it stays accurate for short windows and large t.
    half = 0.5 * window_s
    mean_cos = np.cos(omega * (t_s - half - t_peak)) * np.sin(omega * half) / (omega * half)
    return base + swing * 0.5 * (1.0 + mean_cos)


def training_job(
    t_s: ArrayLike,
    compute_level: float,
    communication_level: float,
    period_s: float,
    communication_frac: float,
    checkpoint_interval_s: float,
    checkpoint_duration_s: float,
    checkpoint_level: float,
    start_s: float = 0.0,
    *,
    idle_level: float = 0.0,
    window_s: float = 0.0,
) -> NDArray[np.float64]:
    r"""Synchronous training: compute/communication swings and checkpoint dips.

    All accelerators of a data-parallel job step together, so the whole hall swings
    between a compute phase (near full power) and a communication phase (collectives,
    lower power) every iteration, and drops further while a checkpoint is written.

    Parameters
    ----------
    t_s : numeric
        Simulation time [s].
    compute_level : float
        Utilisation during the compute phase of an iteration [0-1].
    communication_level : float
        Utilisation during the communication phase [0-1].
    period_s : float
        Iteration time [s], > 0.
    communication_frac : float
        Share of each iteration spent communicating [0-1]; it ends the iteration.
    checkpoint_interval_s : float
        Time between checkpoint starts [s]; ``inf`` for none.
    checkpoint_duration_s : float
        Length of each checkpoint [s], below the interval; 0 for none.
    checkpoint_level : float
        Utilisation while a checkpoint is written [0-1].
    start_s : float, default 0
        Job start [s]; the first checkpoint begins at ``start_s + checkpoint_interval_s``.
    idle_level : float, default 0
        Utilisation before the job starts [0-1].
    window_s : float, default 0
        Averaging window [s]; 0 for the instantaneous value.

    Returns
    -------
    numpy.ndarray
        Utilisation [0-1], shape of ``t_s``.

    Notes
    -----
    With :math:`\tau = t - t_{start}`, :math:`I` the checkpoint interval and
    :math:`D` its duration, checkpoints occupy :math:`[kI, kI + D)` for
    :math:`k \ge 1`. Training runs in between, its iterations restarting from the
    compute phase after each checkpoint; within an iteration of period :math:`P`
    the first :math:`(1 - c)P` is compute and the last :math:`cP` communication.
    When :math:`I - D` is a whole number of iterations, the long-run mean is

    .. math::

        \bar u = \frac{I - D}{I}\left[(1 - c)\,u_{comp} + c\,u_{comm}\right]
                 + \frac{D}{I}\,u_{ckpt}

    The window mean is exact, from the closed-form integral of this piecewise
    constant profile.

    References
    ----------
    Llama Team, Meta, "The Llama 3 herd of models" (arXiv:2407.21783, 2024): tens of
    thousands of GPUs raise or drop their power together, e.g. while all wait for a
    checkpoint or a collective to finish, swinging the data centre by tens of MW.
    Choukse et al., "Power stabilization for AI training datacenters" (Microsoft,
    OpenAI, NVIDIA; arXiv:2508.14318, 2025): iteration-scale swings between
    compute- and communication-bound phases.

    Examples
    --------
    Iterations of 10 s (7 s compute, 3 s communication), a 60 s checkpoint every
    hour:

    >>> t = np.array([1.0, 8.0, 3601.0, 3700.0])
    >>> training_job(t, 0.95, 0.45, 10.0, 0.3, 3600.0, 60.0, 0.15)
    array([0.95, 0.45, 0.15, 0.95])
    """
    for name, value in (
        ("compute_level", compute_level),
        ("communication_level", communication_level),
        ("checkpoint_level", checkpoint_level),
        ("idle_level", idle_level),
        ("communication_frac", communication_frac),
    ):
        _check_level(name, value)
    if not (np.isfinite(period_s) and period_s > 0.0):
        raise ValueError(f"period_s must be a positive number, got {period_s}")
    if not checkpoint_interval_s > 0.0:
        raise ValueError(f"checkpoint_interval_s must be > 0, got {checkpoint_interval_s}")
    if not 0.0 <= checkpoint_duration_s < checkpoint_interval_s:
        raise ValueError(
            f"checkpoint_duration_s must be in [0, checkpoint_interval_s), "
            f"got {checkpoint_duration_s}"
        )
    _check_window(window_s)
    job = _TrainingJob(
        compute_level,
        communication_level,
        period_s,
        communication_frac,
        checkpoint_interval_s,
        checkpoint_duration_s,
        checkpoint_level,
        idle_level,
    )
    tau = np.asanyarray(t_s, dtype=np.float64) - start_s
    if window_s == 0.0:
        return job.value(tau)
    return (job.integral(tau) - job.integral(tau - window_s)) / window_s


class _TrainingJob:
    """The piecewise-constant training profile and its integral, on job time tau."""

    def __init__(
        self,
        compute: float,
        communication: float,
        period: float,
        communication_frac: float,
        interval: float,
        duration: float,
        checkpoint: float,
        idle: float,
    ) -> None:
        self.compute = compute
        self.communication = communication
        self.period = period
        self.compute_time = (1.0 - communication_frac) * period
        self.iteration_mean = (1.0 - communication_frac) * compute + communication_frac * (
            communication
        )
        self.checkpoints = bool(np.isfinite(interval) and duration > 0.0)
        self.interval = interval
        self.duration = duration
        self.checkpoint = checkpoint
        self.idle = idle
        if self.checkpoints:
            self.first_interval = self._iterations_integral(interval)
            self.later_interval = duration * checkpoint + self._iterations_integral(
                interval - duration
            )

    def _iterations(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Utilisation at x [s] after training (re)started."""
        phase = np.mod(x, self.period)
        return np.where(phase < self.compute_time, self.compute, self.communication)

    def _iterations_integral(self, x: ArrayLike) -> NDArray[np.float64]:
        """Integral of the iterations from 0 to x >= 0 [s]."""
        whole, phase = np.divmod(np.asanyarray(x, dtype=np.float64), self.period)
        in_compute = np.minimum(phase, self.compute_time)
        in_communication = np.maximum(phase - self.compute_time, 0.0)
        return (
            whole * self.period * self.iteration_mean
            + self.compute * in_compute
            + self.communication * in_communication
        )

    def value(self, tau: NDArray[np.float64]) -> NDArray[np.float64]:
        started = tau >= 0.0
        elapsed = np.maximum(tau, 0.0)
        if not self.checkpoints:
            return np.where(started, self._iterations(elapsed), self.idle)
        index, into = np.divmod(elapsed, self.interval)
        later = index >= 1.0
        writing = later & (into < self.duration)
        training = self._iterations(np.where(later, into - self.duration, into))
        return np.where(started, np.where(writing, self.checkpoint, training), self.idle)

    def integral(self, tau: NDArray[np.float64]) -> NDArray[np.float64]:
        """Integral of the utilisation from job start to tau (negative before it)."""
        before = self.idle * np.minimum(tau, 0.0)
        elapsed = np.maximum(tau, 0.0)
        if not self.checkpoints:
            return before + self._iterations_integral(elapsed)
        index, into = np.divmod(elapsed, self.interval)
        later_part = (
            self.first_interval
            + (index - 1.0) * self.later_interval
            + self.checkpoint * np.minimum(into, self.duration)
            + self._iterations_integral(np.maximum(into - self.duration, 0.0))
        )
        first_part = self._iterations_integral(into)
        return before + np.where(index >= 1.0, later_part, first_part)


def _check_level(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def _check_window(window_s: float) -> None:
    if not (np.isfinite(window_s) and window_s >= 0.0):
        raise ValueError(f"window_s must be a finite number >= 0, got {window_s}")
