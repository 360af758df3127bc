"""Electrical losses of the power chain: transformers, UPS, HVDC, PDUs, batteries.

Pure, vectorised functions: numpy arrays in, numpy arrays out; scalars accepted.
"""

from __future__ import annotations

import numpy as np


def transformer_losses(
    s_kva: float | np.ndarray,
    s_rated_kva: float | np.ndarray,
    p_no_load_w: float | np.ndarray,
    p_load_w: float | np.ndarray,
) -> np.ndarray:
    r"""Losses of a power transformer at a given apparent load.

    Parameters
    ----------
    s_kva : float or array
        Apparent power through the transformer [kVA].
    s_rated_kva : float or array
        Rated apparent power [kVA].
    p_no_load_w : float or array
        No-load (iron) loss P0 [W], from the nameplate or EU 548/2014 tables.
    p_load_w : float or array
        Load (copper) loss Pk at rated current [W].

    Returns
    -------
    numpy.ndarray
        Total losses [W].

    Notes
    -----
    .. math:: P_{loss} = P_0 + P_k \beta^2, \quad \beta = S / S_r

    Efficiency peaks at :math:`\beta = \sqrt{P_0 / P_k}`.
    Source: IEC 60076-1; Commission Regulation (EU) No 548/2014.

    Examples
    --------
    >>> float(transformer_losses(1250.0, 2500.0, 2500.0, 21000.0))
    7750.0
    """
    s_kva = np.asanyarray(s_kva, dtype=float)
    loading = s_kva / np.asanyarray(s_rated_kva, dtype=float)
    return np.asanyarray(p_no_load_w + p_load_w * loading**2, dtype=float)


def converter_losses(
    p_out_w: float | np.ndarray,
    p_rated_w: float | np.ndarray,
    no_load_frac: float | np.ndarray,
    proportional_frac: float | np.ndarray,
    square_frac: float | np.ndarray,
) -> np.ndarray:
    r"""Losses of a UPS, rectifier or PDU with the three-term loss model.

    Parameters
    ----------
    p_out_w : float or array
        Output power [W].
    p_rated_w : float or array
        Rated output power of the units that carry it [W].
    no_load_frac : float or array
        No-load loss as a fraction of rated power [-].
    proportional_frac : float or array
        Loss proportional to load, as a fraction of output power [-].
    square_frac : float or array
        Loss growing with the square of load, as a fraction of rated power at full load [-].

    Returns
    -------
    numpy.ndarray
        Losses [W]; zero where the rating is zero (unit off).

    Notes
    -----
    With :math:`x = P_{out}/P_r`:

    .. math:: P_{loss} = P_r (a + b x + c x^2)

    Source: N. Rasmussen, "Electrical efficiency modeling for data centers",
    Schneider Electric White Paper 113 (no-load, proportional and square-law
    losses); LBNL/EPRI "High performance buildings: data centers, UPS" (2005).

    Examples
    --------
    >>> loss = converter_losses(250e3, 500e3, 0.01, 0.02, 0.02)
    >>> float(loss), round(float(250e3 / (250e3 + loss)), 4)
    (12500.0, 0.9524)
    """
    p_out_w = np.asanyarray(p_out_w, dtype=float)
    p_rated_w = np.asanyarray(p_rated_w, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        load = np.where(p_rated_w > 0, p_out_w / p_rated_w, 0.0)
    return np.asanyarray(
        p_rated_w * (no_load_frac + proportional_frac * load + square_frac * load**2), dtype=float
    )


def converter_efficiency(
    load_frac: float | np.ndarray,
    no_load_frac: float | np.ndarray,
    proportional_frac: float | np.ndarray,
    square_frac: float | np.ndarray,
) -> np.ndarray:
    r"""Efficiency of a converter (UPS, rectifier, PDU) at a load fraction.

    Parameters
    ----------
    load_frac : float or array
        Output power over rated power [-].
    no_load_frac, proportional_frac, square_frac : float or array
        Loss coefficients of :func:`converter_losses` [-].

    Returns
    -------
    numpy.ndarray
        Efficiency [-]; zero at zero load.

    Notes
    -----
    .. math:: \eta = \frac{x}{x + a + b x + c x^2}

    Source: Schneider Electric White Paper 113.

    Examples
    --------
    >>> round(float(converter_efficiency(1.0, 0.01, 0.02, 0.02)), 4)
    0.9524
    """
    x = np.asanyarray(load_frac, dtype=float)
    loss = no_load_frac + proportional_frac * x + square_frac * x**2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asanyarray(np.where(x > 0, x / (x + loss), 0.0), dtype=float)


def modules_online(
    p_out_w: float | np.ndarray,
    module_rating_w: float | np.ndarray,
    modules_installed: int | np.ndarray,
    max_module_load: float = 0.8,
    redundant_modules: int = 1,
) -> np.ndarray:
    r"""Number of power modules a modular UPS or rectifier system keeps on line.

    Parameters
    ----------
    p_out_w : float or array
        System output power [W].
    module_rating_w : float or array
        Rating of one module [W].
    modules_installed : int or array
        Modules installed (and healthy) in the frame.
    max_module_load : float
        Load per module above which another module is woken [-].
    redundant_modules : int
        Extra modules kept on line beyond those the load needs (N+1 by default).

    Returns
    -------
    numpy.ndarray
        Modules on line (float, for use as a multiplier).

    Notes
    -----
    .. math:: n = \min(N_{inst}, \lceil P / (x_{max} P_m) \rceil + r)

    Module sleep ("ECO-conversion", "intelligent sleep") is how modular UPS and
    240 V HVDC systems keep each running module near its efficient load
    (Schneider White Paper 127; vendors' modular UPS manuals).

    Examples
    --------
    >>> float(modules_online(400e3, 100e3, 10))
    6.0
    """
    p_out_w = np.asanyarray(p_out_w, dtype=float)
    needed = np.ceil(p_out_w / (np.asanyarray(module_rating_w) * max_module_load) - 1e-9)
    return np.asanyarray(
        np.minimum(np.asanyarray(modules_installed), np.maximum(needed, 1.0) + redundant_modules),
        dtype=float,
    )


def battery_runtime_s(
    energy_wh: float | np.ndarray,
    p_discharge_w: float | np.ndarray,
    discharge_eff: float = 0.95,
) -> np.ndarray:
    r"""Time a battery carries a constant load.

    Parameters
    ----------
    energy_wh : float or array
        Usable stored energy [Wh].
    p_discharge_w : float or array
        DC power drawn from the battery [W].
    discharge_eff : float
        Discharge efficiency [-].

    Returns
    -------
    numpy.ndarray
        Runtime [s]; infinite at zero load.

    Notes
    -----
    .. math:: t = 3600 E \eta_d / P

    A constant-power, constant-efficiency estimate; Li-ion's flat discharge
    curve makes Peukert corrections small at the 10-15 min rates data-centre
    strings are sized for (IEEE 1184-2006 §5).

    Examples
    --------
    >>> float(battery_runtime_s(100_000.0, 400_000.0, 1.0))
    900.0
    """
    energy_wh = np.asanyarray(energy_wh, dtype=float)
    p = np.asanyarray(p_discharge_w, dtype=float)
    with np.errstate(divide="ignore"):
        return np.asanyarray(np.where(p > 0, 3600.0 * energy_wh * discharge_eff / p, np.inf))


def generator_fuel_rate(
    p_w: float | np.ndarray,
    p_rated_w: float | np.ndarray,
    fuel_no_load_l_per_h_per_kw: float = 0.03,
    fuel_slope_l_per_kwh: float = 0.22,
) -> np.ndarray:
    r"""Diesel consumption of a running generator (Willans line).

    Parameters
    ----------
    p_w : float or array
        Electrical output [W].
    p_rated_w : float or array
        Rated output [W].
    fuel_no_load_l_per_h_per_kw : float
        Idle consumption per kW of rating [L/(h·kW)].
    fuel_slope_l_per_kwh : float
        Incremental consumption [L/kWh].

    Returns
    -------
    numpy.ndarray
        Fuel rate [L/h].

    Notes
    -----
    .. math:: \dot V = a P_r + b P

    Linear fuel curves fit diesel gensets within a few percent from 25 to 100 %
    load (HOMER Energy documentation, "Generator fuel curve"; typical
    a = 0.03 L/h/kW, b = 0.22 L/kWh for 1-2 MW sets).

    Examples
    --------
    >>> float(generator_fuel_rate(1000e3, 2000e3))
    280.0
    """
    return np.asanyarray(
        fuel_no_load_l_per_h_per_kw * np.asanyarray(p_rated_w) / 1e3
        + fuel_slope_l_per_kwh * np.asanyarray(p_w) / 1e3,
        dtype=float,
    )
