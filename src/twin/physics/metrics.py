"""Facility efficiency metrics: PUE, pPUE, WUE, CUE.

Pure, vectorised functions: numpy arrays in, numpy arrays out; scalars accepted.
"""

from __future__ import annotations

import numpy as np


def power_usage_effectiveness(facility: float | np.ndarray, it: float | np.ndarray) -> np.ndarray:
    r"""Power usage effectiveness.

    Parameters
    ----------
    facility : float or array
        Total facility energy [kWh] (or power [kW] for category 0).
    it : float or array
        IT equipment energy [kWh] (or power [kW]) over the same period.

    Returns
    -------
    numpy.ndarray
        PUE [-]; NaN where IT is zero.

    Notes
    -----
    .. math:: PUE = E_{facility} / E_{IT}

    Source: ISO/IEC 30134-2:2016; The Green Grid WP49.

    Examples
    --------
    >>> float(power_usage_effectiveness(1130.0, 1000.0))
    1.13
    """
    it = np.asanyarray(it, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asanyarray(np.where(it > 0, np.asanyarray(facility) / it, np.nan))


def partial_pue(subsystem: float | np.ndarray, it: float | np.ndarray) -> np.ndarray:
    r"""Partial PUE of one subsystem (cooling, power delivery) inside its boundary.

    Parameters
    ----------
    subsystem : float or array
        Energy of the subsystem [kWh].
    it : float or array
        IT energy [kWh].

    Returns
    -------
    numpy.ndarray
        pPUE [-].

    Notes
    -----
    .. math:: pPUE = (E_{IT} + E_{sub}) / E_{IT}

    Source: The Green Grid WP49, "PUE: a comprehensive examination of the metric".

    Examples
    --------
    >>> float(partial_pue(80.0, 1000.0))
    1.08
    """
    it = np.asanyarray(it, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asanyarray(np.where(it > 0, (it + np.asanyarray(subsystem)) / it, np.nan))


def water_usage_effectiveness(
    water_l: float | np.ndarray, it_kwh: float | np.ndarray
) -> np.ndarray:
    r"""Water usage effectiveness.

    Parameters
    ----------
    water_l : float or array
        Site water use (evaporation, drift, blowdown, humidification) [L].
    it_kwh : float or array
        IT energy [kWh].

    Returns
    -------
    numpy.ndarray
        WUE [L/kWh].

    Notes
    -----
    .. math:: WUE = V_{water} / E_{IT}

    Source: The Green Grid WP35; ISO/IEC 30134-9.

    Examples
    --------
    >>> float(water_usage_effectiveness(2000.0, 1000.0))
    2.0
    """
    it = np.asanyarray(it_kwh, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asanyarray(np.where(it > 0, np.asanyarray(water_l) / it, np.nan))


def carbon_usage_effectiveness(
    facility_kwh: float | np.ndarray,
    it_kwh: float | np.ndarray,
    carbon_kg_per_kwh: float | np.ndarray,
) -> np.ndarray:
    r"""Carbon usage effectiveness.

    Parameters
    ----------
    facility_kwh : float or array
        Facility energy [kWh].
    it_kwh : float or array
        IT energy [kWh].
    carbon_kg_per_kwh : float or array
        Grid emission factor [kg CO2e/kWh].

    Returns
    -------
    numpy.ndarray
        CUE [kg CO2e/kWh of IT].

    Notes
    -----
    .. math:: CUE = CEF \cdot PUE

    Source: The Green Grid WP32; ISO/IEC 30134-8.

    Examples
    --------
    >>> round(float(carbon_usage_effectiveness(1130.0, 1000.0, 0.5)), 3)
    0.565
    """
    return np.asanyarray(
        power_usage_effectiveness(facility_kwh, it_kwh) * np.asanyarray(carbon_kg_per_kwh)
    )
