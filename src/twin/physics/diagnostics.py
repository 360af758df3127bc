"""Quantities a fault detector derives from measurements (issue 13 item 4).

Pure, vectorised functions: numpy arrays in, numpy arrays out; scalars accepted.
Each inverts a model of :mod:`twin.physics.cooling` from what the instruments of
a plant room read (inlet and outlet temperatures, a flow, a heat meter), so a
detector compares like with like: the conductance a heat exchanger shows today
against the one its catalogue and flows give, not a temperature against a
temperature that also moves with the load.
"""

from __future__ import annotations

import numpy as np

from twin.physics import cooling


def log_mean_temperature_difference(
    t_hot_in_c: float | np.ndarray,
    t_hot_out_c: float | np.ndarray,
    t_cold_in_c: float | np.ndarray,
    t_cold_out_c: float | np.ndarray,
) -> np.ndarray:
    r"""Log-mean temperature difference of a counter-flow heat exchanger.

    Parameters
    ----------
    t_hot_in_c, t_hot_out_c : float or array
        Hot stream inlet and outlet temperatures [°C].
    t_cold_in_c, t_cold_out_c : float or array
        Cold stream inlet and outlet temperatures [°C].

    Returns
    -------
    numpy.ndarray
        LMTD [K]; NaN where either end's difference is not positive (a temperature
        cross no counter-flow exchanger can make: a sensor is wrong, or the
        streams are stopped).

    Notes
    -----
    .. math:: \Delta T_{lm} = \frac{\Delta T_1 - \Delta T_2}{\ln(\Delta T_1/\Delta T_2)},
              \quad \Delta T_1 = T_{h,in} - T_{c,out},\ \Delta T_2 = T_{h,out} - T_{c,in}

    and :math:`\Delta T_{lm} = \Delta T_1` when both ends are equal. Source:
    Incropera & DeWitt, Fundamentals of Heat and Mass Transfer, 6th ed., eq. 11.15.

    Examples
    --------
    >>> round(float(log_mean_temperature_difference(90.0, 50.0, 20.0, 40.0)), 3)  # 20/ln(5/3)
    39.152
    """
    d1 = np.asanyarray(t_hot_in_c, dtype=float) - t_cold_out_c
    d2 = np.asanyarray(t_hot_out_c, dtype=float) - t_cold_in_c
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = d1 / d2
        general = (d1 - d2) / np.log(ratio)
    equal = np.abs(d1 - d2) <= 1e-9 * np.maximum(np.abs(d1), 1.0)
    lmtd = np.where(equal, d1, general)
    return np.asanyarray(np.where((d1 > 0) & (d2 > 0), lmtd, np.nan))


def ua_from_measurements(
    q_w: float | np.ndarray,
    t_hot_in_c: float | np.ndarray,
    t_hot_out_c: float | np.ndarray,
    t_cold_in_c: float | np.ndarray,
    t_cold_out_c: float | np.ndarray,
) -> np.ndarray:
    r"""Overall conductance a counter-flow exchanger shows: heat over LMTD.

    Parameters
    ----------
    q_w : float or array
        Heat moved [W] (a heat meter, or ṁ c_p ΔT of either stream).
    t_hot_in_c, t_hot_out_c, t_cold_in_c, t_cold_out_c : float or array
        The four measured temperatures [°C].

    Returns
    -------
    numpy.ndarray
        UA [W/K]; NaN where the LMTD is not defined.

    Notes
    -----
    .. math:: UA = Q / \Delta T_{lm}

    Exact for a counter-flow exchanger at steady state: the ε-NTU relation
    (:func:`twin.physics.cooling.counterflow_effectiveness`) and the LMTD relation
    are the same solution (Incropera & DeWitt, 6th ed., §11.3-11.4), so the UA found
    here from the temperatures :func:`twin.physics.cooling.heat_exchanger_heat_flow`
    gives is the UA it was given.

    Examples
    --------
    >>> round(float(ua_from_measurements(800e3, 90.0, 50.0, 20.0, 40.0)))  # 800 kW / 39.15 K
    20433
    """
    lmtd = log_mean_temperature_difference(t_hot_in_c, t_hot_out_c, t_cold_in_c, t_cold_out_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asanyarray(np.where(lmtd > 0, np.asanyarray(q_w, dtype=float) / lmtd, np.nan))


def ua_ratio(
    ua_measured: float | np.ndarray,
    ua_nominal: float | np.ndarray,
    m_flow_hot: float | np.ndarray,
    m_flow_hot_nominal: float | np.ndarray,
    m_flow_cold: float | np.ndarray,
    m_flow_cold_nominal: float | np.ndarray,
    exponent: float = 0.8,
) -> np.ndarray:
    r"""The measured UA over the UA a clean exchanger has at the same flows.

    Parameters
    ----------
    ua_measured : float or array
        UA from :func:`ua_from_measurements` [W/K].
    ua_nominal : float or array
        The catalogue's UA at design flows [W/K].
    m_flow_hot, m_flow_cold : float or array
        Measured mass flows [kg/s].
    m_flow_hot_nominal, m_flow_cold_nominal : float or array
        Design mass flows [kg/s].
    exponent : float
        Film coefficient exponent on mass flow, as the plant model uses it [-].

    Returns
    -------
    numpy.ndarray
        UA ratio [-]: 1 for a clean exchanger at any flow, 0.85 for one that lost
        15 % of its conductance to fouling; NaN where either flow is zero.

    Notes
    -----
    .. math:: r = UA_{meas} / UA(\dot m_h, \dot m_c), \quad UA(\cdot) from
              :func:`twin.physics.cooling.ua_at_flows`

    Dividing out the flow dependence is what lets one threshold serve every load:
    with both flows at half a clean exchanger's UA is 57 % of nominal, which a raw UA
    threshold would call fouling.

    Examples
    --------
    >>> clean = cooling.ua_at_flows(100e3, 0.5, 1.0, 1.0, 1.0)  # a clean one at half flow
    >>> round(float(ua_ratio(0.85 * clean, 100e3, 0.5, 1.0, 1.0, 1.0)), 3)
    0.85
    """
    expected = cooling.ua_at_flows(
        ua_nominal, m_flow_hot, m_flow_hot_nominal, m_flow_cold, m_flow_cold_nominal, exponent
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asanyarray(
            np.where(expected > 0, np.asanyarray(ua_measured, dtype=float) / expected, np.nan)
        )


def odd_one_out(estimates: np.ndarray, rel_tol: float) -> np.ndarray:
    r"""Which of three redundant estimates of one quantity disagrees with the other two.

    The CDU's heat is known three ways: from its primary side (facility water
    ṁ c_p ΔT), from its secondary side, and from the racks' liquid heat (IT power
    times the liquid share). A process fault (a fouled exchanger) moves the plant
    and all three estimates with it; a single biased sensor moves one of them.

    Parameters
    ----------
    estimates : array_like, shape (..., 3)
        Three estimates of the same quantity along the last axis.
    rel_tol : float
        Agreement tolerance, relative to the median of the three [-].

    Returns
    -------
    numpy.ndarray of int
        Along the leading axes: ``-1`` when all three agree, ``0``, ``1`` or ``2``
        the one estimate outside the tolerance when the other two agree with each
        other, ``-2`` when no two agree (nothing can be said), ``-3`` where an
        estimate is missing (NaN).

    Notes
    -----
    Two-out-of-three (2oo3) voting, as redundant instrumentation is judged in
    process safety (the MooN arrangements of IEC 61508 / IEC 61511): with three
    channels one faulty channel is both tolerated and named.

    Examples
    --------
    >>> odd_one_out([[1000.0, 1002.0, 998.0], [1000.0, 1100.0, 1001.0]], 0.02).tolist()
    [-1, 1]
    """
    e = np.asanyarray(estimates, dtype=float)
    if e.shape[-1] != 3:
        raise ValueError(f"three estimates along the last axis, not {e.shape[-1]}")
    median = np.median(e, axis=-1, keepdims=True)
    tolerance = rel_tol * np.abs(median)
    off = np.abs(e - median) > tolerance  # the median itself is never off
    pair = [(1, 2), (0, 2), (0, 1)]  # the other two of each
    agree = np.stack([np.abs(e[..., a] - e[..., b]) <= tolerance[..., 0] for a, b in pair], axis=-1)
    out = np.full(e.shape[:-1], -2, dtype=int)
    out = np.where(~off.any(axis=-1), -1, out)
    for k in range(3):
        only_k = off[..., k] & (off.sum(axis=-1) == 1) & agree[..., k]
        out = np.where(only_k, k, out)
    return np.where(np.isnan(e).any(axis=-1), -3, out)
