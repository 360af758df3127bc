"""Psychrometrics of outdoor air: saturation pressure, humidity ratio, wet bulb.

Pure, vectorised functions (numpy in, numpy out; scalars accepted). They follow
the ASHRAE Handbook - Fundamentals (2017), chapter 1, as implemented by psychrolib
(SI), which the tests use as the reference. psychrolib is scalar and solves the
wet bulb by bisection; here the same equations are solved for whole arrays at once
by a bracketed Newton iteration, so a year of hourly weather (8,760 points) takes
milliseconds.

Temperatures are in °C, pressures in Pa, humidity ratios in kg water per kg dry air.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "humidity_ratio",
    "humidity_ratio_from_wet_bulb",
    "saturation_vapour_pressure",
    "wet_bulb_from_humidity_ratio",
    "wet_bulb_temperature",
]

# Ratio of molar masses of water and dry air (ASHRAE 2017 ch. 1 eq. 20).
_MOLAR_MASS_RATIO = 0.621945
# psychrolib's floor on humidity ratio [kg/kg]; keeps very dry air finite.
_MIN_HUMIDITY_RATIO = 1e-7
# Saturation over ice at or below the triple point, over liquid water above it.
_TRIPLE_POINT_C = 0.01
_KELVIN = 273.15

# Newton iteration: stop when every point moved less than this [K].
_TOLERANCE_K = 1e-9
_MAX_ITERATIONS = 60
_DERIVATIVE_STEP_K = 1e-4


def saturation_vapour_pressure(t_c: ArrayLike) -> NDArray[np.float64]:
    r"""Saturation pressure of water vapour over ice or liquid water.

    Parameters
    ----------
    t_c : numeric
        Temperature [°C]. Valid from -100 to 200 °C.

    Returns
    -------
    numpy.ndarray
        Saturation vapour pressure [Pa], same shape as ``t_c``.

    Notes
    -----
    Hyland-Wexler formulation, ASHRAE 2017 ch. 1 eq. 5 (over ice) and eq. 6 (over
    liquid water), with :math:`T` in K:

    .. math::

        \ln p_{ws} = C_1/T + C_2 + C_3 T + C_4 T^2 + C_5 T^3 + C_6 T^4 + C_7 \ln T
        \quad (T \le 273.16\ \mathrm{K})

        \ln p_{ws} = C_8/T + C_9 + C_{10} T + C_{11} T^2 + C_{12} T^3 + C_{13} \ln T
        \quad (T > 273.16\ \mathrm{K})

    The switch is at the triple point (0.01 °C), not at 0 °C, as in psychrolib,
    which removes the small jump between the two branches.

    References
    ----------
    ASHRAE Handbook - Fundamentals (2017), ch. 1, eq. 5 and 6.
    psychrolib ``GetSatVapPres`` (https://github.com/psychrometrics/psychrolib).

    Examples
    --------
    >>> round(float(saturation_vapour_pressure(25.0)), 1)  # ASHRAE Table 3: 3169.7 Pa
    3169.2
    """
    t_c = np.asanyarray(t_c, dtype=np.float64)
    t_k = t_c + _KELVIN
    ln_t = np.log(t_k)
    over_ice = (
        -5.6745359e03 / t_k
        + 6.3925247
        - 9.677843e-03 * t_k
        + 6.2215701e-07 * t_k**2
        + 2.0747825e-09 * t_k**3
        - 9.484024e-13 * t_k**4
        + 4.1635019 * ln_t
    )
    over_water = (
        -5.8002206e03 / t_k
        + 1.3914993
        - 4.8640239e-02 * t_k
        + 4.1764768e-05 * t_k**2
        - 1.4452093e-08 * t_k**3
        + 6.5459673 * ln_t
    )
    return np.exp(np.where(t_c <= _TRIPLE_POINT_C, over_ice, over_water))


def humidity_ratio(t_dew_c: ArrayLike, p_pa: ArrayLike) -> NDArray[np.float64]:
    r"""Humidity ratio of moist air from its dew point.

    Parameters
    ----------
    t_dew_c : numeric
        Dew point temperature [°C].
    p_pa : numeric
        Atmospheric (station) pressure [Pa].

    Returns
    -------
    numpy.ndarray
        Humidity ratio [kg water / kg dry air], at least 1e-7 (psychrolib's floor).

    Notes
    -----
    The vapour pressure is the saturation pressure at the dew point (ASHRAE 2017
    ch. 1 eq. 36), and

    .. math::

        W = 0.621945 \, \frac{p_w}{p - p_w}

    (eq. 20).

    References
    ----------
    ASHRAE Handbook - Fundamentals (2017), ch. 1, eq. 20 and 36.
    psychrolib ``GetHumRatioFromTDewPoint``.

    Examples
    --------
    >>> round(float(humidity_ratio(20.0, 101325.0)), 5)
    0.0147
    """
    p_pa = np.asanyarray(p_pa, dtype=np.float64)
    p_w = saturation_vapour_pressure(t_dew_c)
    w = _MOLAR_MASS_RATIO * p_w / (p_pa - p_w)
    return np.maximum(w, _MIN_HUMIDITY_RATIO)


def humidity_ratio_from_wet_bulb(
    t_dry_c: ArrayLike, t_wet_c: ArrayLike, p_pa: ArrayLike
) -> NDArray[np.float64]:
    r"""Humidity ratio of moist air from its dry bulb and thermodynamic wet bulb.

    Parameters
    ----------
    t_dry_c : numeric
        Dry bulb temperature [°C].
    t_wet_c : numeric
        Thermodynamic wet bulb temperature [°C], not above ``t_dry_c``.
    p_pa : numeric
        Atmospheric (station) pressure [Pa].

    Returns
    -------
    numpy.ndarray
        Humidity ratio [kg water / kg dry air], at least 1e-7.

    Notes
    -----
    Energy balance of adiabatic saturation, with :math:`W_s^*` the saturation
    humidity ratio at the wet bulb :math:`t^*`; above freezing (eq. 33):

    .. math::

        W = \frac{(2501 - 2.326 t^*) W_s^* - 1.006 (t - t^*)}{2501 + 1.86 t - 4.186 t^*}

    and below freezing, over ice (eq. 35):

    .. math::

        W = \frac{(2830 - 0.24 t^*) W_s^* - 1.006 (t - t^*)}{2830 + 1.86 t - 2.1 t^*}

    References
    ----------
    ASHRAE Handbook - Fundamentals (2017), ch. 1, eq. 33 and 35.
    psychrolib ``GetHumRatioFromTWetBulb``.

    Examples
    --------
    ASHRAE 2017 ch. 1 Example 1 (40 °C dry bulb, 20 °C wet bulb, sea level) gives
    W = 0.0065 kg/kg using the tabulated saturation ratio at 20 °C (0.014758, which
    includes the enhancement factor); eq. 36 without it gives 0.01470, hence:

    >>> round(float(humidity_ratio_from_wet_bulb(40.0, 20.0, 101325.0)), 4)
    0.0064
    """
    return np.maximum(_adiabatic_saturation_ratio(t_dry_c, t_wet_c, p_pa), _MIN_HUMIDITY_RATIO)


def wet_bulb_from_humidity_ratio(
    t_dry_c: ArrayLike, w: ArrayLike, p_pa: ArrayLike
) -> NDArray[np.float64]:
    r"""Thermodynamic wet bulb temperature from dry bulb and humidity ratio.

    Parameters
    ----------
    t_dry_c : numeric
        Dry bulb temperature [°C].
    w : numeric
        Humidity ratio [kg water / kg dry air]; values above saturation at ``t_dry_c``
        are treated as saturated (wet bulb = dry bulb).
    p_pa : numeric
        Atmospheric (station) pressure [Pa].

    Returns
    -------
    numpy.ndarray
        Wet bulb temperature [°C], broadcast shape of the inputs.

    Notes
    -----
    Solves :func:`humidity_ratio_from_wet_bulb` (ASHRAE 2017 ch. 1 eq. 33 and 35)
    for :math:`t^*` by Newton's method on the whole array, each point kept inside
    its bracket :math:`[t_{lo}, t]` (bisection when a Newton step leaves it), to
    1e-9 K. The lower end of the bracket is 100 K below the dry bulb, floored at
    -100 °C, the lower validity limit of the saturation formula.

    References
    ----------
    ASHRAE Handbook - Fundamentals (2017), ch. 1, eq. 33 and 35.
    psychrolib ``GetTWetBulbFromHumRatio`` (same equations, scalar bisection).

    Examples
    --------
    >>> round(float(wet_bulb_from_humidity_ratio(40.0, 0.0065, 101325.0)), 2)
    20.08
    """
    t_dry_c, w, p_pa = np.broadcast_arrays(
        np.asanyarray(t_dry_c, dtype=np.float64),
        np.maximum(np.asanyarray(w, dtype=np.float64), _MIN_HUMIDITY_RATIO),
        np.asanyarray(p_pa, dtype=np.float64),
    )
    low = np.maximum(t_dry_c - 100.0, -100.0)
    return _solve_wet_bulb(t_dry_c, w, p_pa, low)


def wet_bulb_temperature(
    t_dry_c: ArrayLike, t_dew_c: ArrayLike, p_pa: ArrayLike
) -> NDArray[np.float64]:
    r"""Thermodynamic wet bulb temperature from dry bulb, dew point and pressure.

    This is what a cooling tower or an evaporative pre-cooler sees: derive it once
    per weather file, not per simulation step.

    Parameters
    ----------
    t_dry_c : numeric
        Dry bulb temperature [°C].
    t_dew_c : numeric
        Dew point temperature [°C]. Weather files sometimes carry a dew point a
        tenth of a degree above the dry bulb (rounding); such points are treated as
        saturated, so the wet bulb equals the dry bulb.
    p_pa : numeric
        Atmospheric (station) pressure [Pa].

    Returns
    -------
    numpy.ndarray
        Wet bulb temperature [°C], between the dew point and the dry bulb.

    Notes
    -----
    The humidity ratio follows from the dew point (:func:`humidity_ratio`,
    ASHRAE 2017 ch. 1 eq. 20 and 36); the wet bulb :math:`t^*` is then the root of
    the adiabatic-saturation balance (eq. 33 above freezing, eq. 35 below)

    .. math::

        W(t, t^*, p) - W = 0, \qquad t_{dew} \le t^* \le t

    solved by bracketed Newton iteration to 1e-9 K (psychrolib bisects the same
    equation to 1e-3 K).

    References
    ----------
    ASHRAE Handbook - Fundamentals (2017), ch. 1, eq. 20, 33, 35 and 36.
    psychrolib ``GetTWetBulbFromTDewPoint`` (https://github.com/psychrometrics/psychrolib).

    Examples
    --------
    >>> wet_bulb_temperature([30.0, 0.0], [20.0, -5.0], 101325.0).round(2)
    array([22.94, -2.01])
    """
    t_dry_c, t_dew_c, p_pa = np.broadcast_arrays(
        np.asanyarray(t_dry_c, dtype=np.float64),
        np.asanyarray(t_dew_c, dtype=np.float64),
        np.asanyarray(p_pa, dtype=np.float64),
    )
    t_dew_c = np.minimum(t_dew_c, t_dry_c)
    w = humidity_ratio(t_dew_c, p_pa)
    return _solve_wet_bulb(t_dry_c, w, p_pa, t_dew_c)


def _adiabatic_saturation_ratio(
    t_dry_c: ArrayLike, t_wet_c: ArrayLike, p_pa: ArrayLike
) -> NDArray[np.float64]:
    """ASHRAE eq. 33/35 without the floor, so it stays monotonic for the solver."""
    t_dry_c = np.asanyarray(t_dry_c, dtype=np.float64)
    t_wet_c = np.asanyarray(t_wet_c, dtype=np.float64)
    p_pa = np.asanyarray(p_pa, dtype=np.float64)
    p_ws = saturation_vapour_pressure(t_wet_c)
    w_s = np.maximum(_MOLAR_MASS_RATIO * p_ws / (p_pa - p_ws), _MIN_HUMIDITY_RATIO)
    above = t_wet_c >= 0.0
    numerator = np.where(above, 2501.0 - 2.326 * t_wet_c, 2830.0 - 0.24 * t_wet_c) * w_s
    numerator -= 1.006 * (t_dry_c - t_wet_c)
    denominator = np.where(
        above, 2501.0 + 1.86 * t_dry_c - 4.186 * t_wet_c, 2830.0 + 1.86 * t_dry_c - 2.1 * t_wet_c
    )
    return numerator / denominator


def _solve_wet_bulb(
    t_dry_c: NDArray[np.float64],
    w: NDArray[np.float64],
    p_pa: NDArray[np.float64],
    low: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Root of W(t_dry, t*, p) = w for t* in [low, t_dry], element-wise.

    The residual rises monotonically with t*, so the bracket shrinks every
    iteration; a Newton step that leaves the bracket is replaced by bisection. A
    point whose air is saturated at or above the dry bulb returns the dry bulb.
    """
    low = np.array(low, dtype=np.float64, copy=True)
    high = np.array(t_dry_c, dtype=np.float64, copy=True)
    low = np.minimum(low, high)
    saturated = _adiabatic_saturation_ratio(t_dry_c, high, p_pa) <= w
    # Eq. 35 (ice) just below 0 °C gives a higher W than eq. 33 (water) at 0 °C, so
    # near 0 °C some W have two roots: an iced wick just below 0 and a wet one above.
    # Take the wet-wick root whenever it exists (the warmer, conservative one for
    # heat rejection) and keep the bracket on one branch, where W(t*) is continuous.
    straddle = (low < 0.0) & (high > 0.0)
    at_zero = _adiabatic_saturation_ratio(t_dry_c, np.zeros_like(high), p_pa) - w
    low = np.where(straddle & (at_zero <= 0.0), 0.0, low)
    high = np.where(straddle & (at_zero > 0.0), 0.0, high)
    x = 0.5 * (low + high)
    for _ in range(_MAX_ITERATIONS):
        residual = _adiabatic_saturation_ratio(t_dry_c, x, p_pa) - w
        low = np.where(residual < 0.0, x, low)
        high = np.where(residual > 0.0, x, high)
        h = _DERIVATIVE_STEP_K
        slope = (_adiabatic_saturation_ratio(t_dry_c, x - h, p_pa) - residual - w) / -h
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = x - residual / slope
        inside = (newton >= low) & (newton <= high)
        x_new = np.where(inside, newton, 0.5 * (low + high))
        done = np.all(np.abs(x_new - x) <= _TOLERANCE_K)
        x = x_new
        if done:
            break
    return np.where(saturated, t_dry_c, x)
