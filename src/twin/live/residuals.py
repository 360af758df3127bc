"""Where the model and the measurement part: residuals, their bands, and model health.

The reading side's half of the twin (issue 13). Whatever produced the modelled values
(the shadow plant stepped on measured boundary conditions, a replay, a vendor's model),
this module judges measured against modelled, point by point and system by system.

Conventions
-----------
- A residual is **measured − modelled**, as ASHRAE Guideline 14-2014 writes it, so a
  positive NMBE means the model predicts too little.
- Model health is GL14's CV(RMSE) and NMBE over hourly and monthly periods. GL14 calls a
  model calibrated at hourly |NMBE| ≤ 10 %, CV(RMSE) ≤ 30 % and monthly 5 % / 15 %. The
  criteria are for energy; temperatures are judged by an absolute band in kelvin
  (:func:`learn_band`), never by a percentage of a temperature in °C.
- A point's band is learned from a window of clean data: its centre is the residual's
  median (a steady model error, such as a catalogue 10 % off, is learned rather than
  reported as a fault; model health still shows it), its half-width a multiple of the
  robust spread, never narrower than the instrument's accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: ASHRAE Guideline 14-2014 calibration criteria [%]: (|NMBE| max, CV(RMSE) max).
GL14_CRITERIA = {"hourly": (10.0, 30.0), "monthly": (5.0, 15.0)}

#: The spread of a normal distribution per median absolute deviation.
MAD_TO_SIGMA = 1.4826


def nmbe(measured: np.ndarray, modelled: np.ndarray, n_parameters: int = 1) -> float:
    r"""Normalised mean bias error, ASHRAE Guideline 14-2014 [%].

    Parameters
    ----------
    measured, modelled : array_like
        The measured values :math:`y_i` and the model's :math:`\hat y_i` at the same
        times (or periods), any unit, the same for both.
    n_parameters : int
        :math:`p`, the number of the model's fitted parameters (GL14 uses ``1`` for a
        simulation model).

    Returns
    -------
    float
        NMBE [%]; NaN with fewer than ``n_parameters + 1`` values or a zero mean.

    Notes
    -----
    .. math:: NMBE = 100 \cdot \frac{\sum_i (y_i - \hat y_i)}{(n - p)\,\bar y}

    Source: ASHRAE Guideline 14-2014, *Measurement of Energy, Demand, and Water
    Savings*, section 4.3.2.4 (residual as measured − modelled).

    Examples
    --------
    >>> round(nmbe([10.0, 12.0, 14.0], [11.0, 11.0, 15.0]), 4)  # Σr = −1, n − p = 2, ȳ = 12
    -4.1667
    """
    y, y_hat = _pair(measured, modelled)
    dof = y.size - n_parameters
    mean = float(np.mean(y)) if y.size else 0.0
    if dof <= 0 or mean == 0.0:
        return float("nan")
    return float(100.0 * np.sum(y - y_hat) / (dof * mean))


def cv_rmse(measured: np.ndarray, modelled: np.ndarray, n_parameters: int = 1) -> float:
    r"""Coefficient of variation of the root-mean-square error, ASHRAE GL14-2014 [%].

    Parameters
    ----------
    measured, modelled : array_like
        As :func:`nmbe`.
    n_parameters : int
        As :func:`nmbe`.

    Returns
    -------
    float
        CV(RMSE) [%]; NaN with fewer than ``n_parameters + 1`` values or a zero mean.

    Notes
    -----
    .. math:: CV(RMSE) = \frac{100}{\bar y} \sqrt{\frac{\sum_i (y_i - \hat y_i)^2}{n - p}}

    Source: ASHRAE Guideline 14-2014, section 4.3.2.4.

    Examples
    --------
    >>> round(cv_rmse([10.0, 12.0, 14.0], [11.0, 11.0, 15.0]), 3)  # √(3/2) / 12
    10.206
    """
    y, y_hat = _pair(measured, modelled)
    dof = y.size - n_parameters
    mean = float(np.mean(y)) if y.size else 0.0
    if dof <= 0 or mean == 0.0:
        return float("nan")
    return float(100.0 * np.sqrt(np.sum((y - y_hat) ** 2) / dof) / abs(mean))


def _pair(measured: np.ndarray, modelled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both as float arrays of one shape, with the pairs where either is NaN left out."""
    y = np.asarray(measured, dtype=float).ravel()
    y_hat = np.asarray(modelled, dtype=float).ravel()
    if y.shape != y_hat.shape:
        raise ValueError(f"measured has {y.size} values, modelled {y_hat.size}")
    keep = np.isfinite(y) & np.isfinite(y_hat)
    return y[keep], y_hat[keep]


def period_means(
    t_s: np.ndarray,
    measured: np.ndarray,
    modelled: np.ndarray,
    period: str = "hourly",
    min_fraction: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means of measured and modelled over each hour or calendar month (UTC).

    A period counts only when at least ``min_fraction`` of its samples (judged
    against the median sampling interval) are present in both series, so a gap is
    left out rather than read as zero. The mean of a power over a period is its
    energy over the period's length, which is what GL14 judges.

    Parameters
    ----------
    t_s : array_like
        Sample times [s since the Unix epoch, UTC].
    measured, modelled : array_like
        Values at those times (NaN where missing).
    period : {"hourly", "monthly"}
        The period.
    min_fraction : float
        Share of a period's samples needed for it to count [0-1].

    Returns
    -------
    starts, measured_mean, modelled_mean : numpy.ndarray
        Each counted period's start [s since the epoch] and the two means.

    Examples
    --------
    >>> t = np.arange(0.0, 7200.0, 60.0)  # two hours at one sample a minute
    >>> starts, y, y_hat = period_means(t, np.full(t.size, 100.0), np.full(t.size, 99.0))
    >>> starts.tolist(), y.tolist(), y_hat.tolist()
    ([0.0, 3600.0], [100.0, 100.0], [99.0, 99.0])
    """
    t = np.asarray(t_s, dtype=float).ravel()
    y = np.asarray(measured, dtype=float).ravel()
    y_hat = np.asarray(modelled, dtype=float).ravel()
    if not t.size == y.size == y_hat.size:
        raise ValueError(f"{t.size} times, {y.size} measured, {y_hat.size} modelled values")
    keep = np.isfinite(t) & np.isfinite(y) & np.isfinite(y_hat)
    t, y, y_hat = t[keep], y[keep], y_hat[keep]
    empty = np.array([])
    if t.size < 2:
        return empty, empty, empty
    interval = float(np.median(np.diff(np.sort(t))))
    if period == "hourly":
        starts = np.floor(t / 3600.0) * 3600.0
        lengths = np.full(starts.shape, 3600.0)
    elif period == "monthly":
        starts, lengths = _month_starts(t)
    else:
        raise ValueError(f"period is 'hourly' or 'monthly', not {period!r}")
    keys, inverse, counts = np.unique(starts, return_inverse=True, return_counts=True)
    sum_y = np.bincount(inverse, weights=y)
    sum_y_hat = np.bincount(inverse, weights=y_hat)
    length = np.zeros(keys.size)
    length[inverse] = lengths
    expected = length / max(interval, 1e-9)
    enough = counts >= min_fraction * expected
    return keys[enough], (sum_y / counts)[enough], (sum_y_hat / counts)[enough]


def _month_starts(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each time's calendar month (UTC): its start and its length [s]."""
    months = t.astype("datetime64[s]").astype("datetime64[M]")
    starts = months.astype("datetime64[s]").astype(float)
    ends = (months + 1).astype("datetime64[s]").astype(float)
    return starts, ends - starts


@dataclass(frozen=True, slots=True)
class Health:
    """How well the model follows one measured quantity (GL14 metrics) [%]."""

    hourly_cv_rmse: float
    hourly_nmbe: float
    hours: int
    monthly_cv_rmse: float
    monthly_nmbe: float
    months: int

    def calibrated(self, period: str = "hourly") -> bool:
        """Whether GL14 would call the model calibrated on this period's data."""
        max_nmbe, max_cv = GL14_CRITERIA[period]
        cv, bias = (
            (self.hourly_cv_rmse, self.hourly_nmbe)
            if period == "hourly"
            else (self.monthly_cv_rmse, self.monthly_nmbe)
        )
        return bool(abs(bias) <= max_nmbe and cv <= max_cv)

    def json(self) -> dict:
        """The figures, with the sign convention stated (for ``--json`` summaries)."""

        def number(x: float) -> float | None:
            return None if np.isnan(x) else round(x, 3)

        return {
            "residual": "measured - modelled",
            "hourly": {"cv_rmse_pct": number(self.hourly_cv_rmse),
                       "nmbe_pct": number(self.hourly_nmbe), "periods": self.hours,
                       "calibrated": self.calibrated("hourly")},
            "monthly": {"cv_rmse_pct": number(self.monthly_cv_rmse),
                        "nmbe_pct": number(self.monthly_nmbe), "periods": self.months,
                        "calibrated": self.calibrated("monthly")},
        }  # fmt: skip


def model_health(
    t_s: np.ndarray, measured: np.ndarray, modelled: np.ndarray, n_parameters: int = 1
) -> Health:
    """GL14 CV(RMSE) and NMBE of a model against a measured series, hourly and monthly.

    Parameters
    ----------
    t_s : array_like
        Sample times [s since the Unix epoch, UTC].
    measured, modelled : array_like
        The measured and the modelled values (a power or an energy rate; NaN where
        missing).
    n_parameters : int
        The model's fitted parameters (:func:`nmbe`).

    Returns
    -------
    Health
        NaN figures where fewer than ``n_parameters + 1`` periods are covered.

    Examples
    --------
    >>> t = np.arange(0.0, 3 * 3600.0, 10.0)
    >>> health = model_health(t, np.full(t.size, 1000.0), np.full(t.size, 990.0))
    >>> round(health.hourly_nmbe, 3), health.hours  # 3 × 10 / (3 − 1) / 1000
    (1.5, 3)
    """
    _, y_h, y_hat_h = period_means(t_s, measured, modelled, "hourly")
    _, y_m, y_hat_m = period_means(t_s, measured, modelled, "monthly")
    return Health(
        hourly_cv_rmse=cv_rmse(y_h, y_hat_h, n_parameters),
        hourly_nmbe=nmbe(y_h, y_hat_h, n_parameters),
        hours=int(y_h.size),
        monthly_cv_rmse=cv_rmse(y_m, y_hat_m, n_parameters),
        monthly_nmbe=nmbe(y_m, y_hat_m, n_parameters),
        months=int(y_m.size),
    )


@dataclass(frozen=True, slots=True)
class Band:
    """Where a point's residual is expected to stay: ``centre ± half_width``."""

    centre: float
    half_width: float

    def outside(self, residual: np.ndarray | float) -> np.ndarray:
        """True where ``residual`` lies outside the band (NaN is not outside)."""
        r = np.asarray(residual, dtype=float)
        with np.errstate(invalid="ignore"):
            return np.abs(r - self.centre) > self.half_width


def learn_band(residuals: np.ndarray, accuracy_floor: float, k: float = 4.0) -> Band:
    r"""A point's residual band from a learning window of clean data.

    Parameters
    ----------
    residuals : array_like
        Measured − modelled over the learning window (NaN left out).
    accuracy_floor : float
        The instrument's stated accuracy, in the point's unit: the band is never
        narrower, so a model that is better than the sensor does not turn the
        sensor's own error into findings.
    k : float
        Half-width in robust standard deviations (4: a normal residual leaves the
        band once in ~16,000 samples, and a persistence timer then filters those).

    Returns
    -------
    Band
        Centre the median; half-width :math:`\max(k \cdot 1.4826 \cdot MAD,\ floor)`.
        With no residual at all the centre is 0 and the half-width the floor.

    Notes
    -----
    The median and the median absolute deviation (MAD) are not moved by the few bad
    samples a learning window of real data holds, where a mean and standard deviation
    are (Rousseeuw & Croux, J. Am. Stat. Assoc. 88(424) 1993: 1.4826 × MAD estimates
    the standard deviation of a normal distribution).

    Examples
    --------
    >>> band = learn_band([0.4, 0.5, 0.6, 0.5, 9.0], accuracy_floor=0.1)  # one outlier
    >>> band.centre, round(band.half_width, 3)  # MAD 0.1 → 4 × 0.148
    (0.5, 0.593)
    """
    r = np.asarray(residuals, dtype=float).ravel()
    r = r[np.isfinite(r)]
    if accuracy_floor < 0 or k <= 0:
        raise ValueError("accuracy_floor must be ≥ 0 and k > 0")
    if r.size == 0:
        return Band(0.0, float(accuracy_floor))
    centre = float(np.median(r))
    spread = MAD_TO_SIGMA * float(np.median(np.abs(r - centre)))
    return Band(centre, max(k * spread, float(accuracy_floor)))


class Persistence:
    """A condition held long enough: raised after ``raise_s`` of it, cleared after
    ``clear_s`` without it (NIST APAR's persistence timer, per point, vectorised).

    Parameters
    ----------
    n : int
        Number of points followed together.
    raise_s, clear_s : float
        How long the condition must hold to raise, and be absent to clear [s].

    Examples
    --------
    >>> timer = Persistence(1, raise_s=60.0, clear_s=30.0)
    >>> [bool(timer.update(t, np.array([t >= 10]))[0]) for t in (0, 10, 60, 70, 80)]
    [False, False, False, True, True]
    """

    def __init__(self, n: int, raise_s: float, clear_s: float) -> None:
        if raise_s < 0 or clear_s < 0:
            raise ValueError("persistence times are ≥ 0 s")
        self.raise_s = raise_s
        self.clear_s = clear_s
        self.active = np.zeros(n, dtype=bool)
        self._since = np.full(n, np.nan)  # when the present state of the condition began
        self._held = np.zeros(n, dtype=bool)  # the condition at the last update

    def update(self, t_s: float, condition: np.ndarray) -> np.ndarray:
        """Advance to ``t_s`` with the condition as now observed; the active flags."""
        now = np.asarray(condition, dtype=bool)
        changed = (now != self._held) | np.isnan(self._since)
        self._since = np.where(changed, t_s, self._since)
        self._held = now
        lasted = t_s - self._since
        self.active = np.where(
            now, self.active | (lasted >= self.raise_s), self.active & (lasted < self.clear_s)
        )
        return self.active.copy()
