"""Fluid properties of the plant's coolants, through CoolProp.

The plant evaluates properties once per loop at its design temperature when a
site is assembled (see :mod:`twin.plant`), never per step: over the 20-50 °C a
liquid-cooling loop spans, the specific heat of water changes by under 0.3 %
and that of PG25 by under 1 %, well inside the metering resolution the twin
is compared against. CoolProp's incompressible backend (``INCOMP::``) costs well
under a microsecond a point, the full equation of state for water about 20 µs.
"""

from __future__ import annotations

import numpy as np
from CoolProp.CoolProp import PropsSI

#: CoolProp names of the coolants a site may use.
COOLANTS = {
    "water": "INCOMP::Water",
    "pg25": "INCOMP::MPG[0.25]",
    "pg30": "INCOMP::MPG[0.30]",
    "eg25": "INCOMP::MEG[0.25]",
}

#: Specific heat of dry air at 20-30 °C [J/(kg·K)] (ASHRAE Fundamentals 2017, ch. 1).
AIR_SPECIFIC_HEAT = 1006.0

#: Density of air at 25 °C and 101.325 kPa [kg/m³] (ideal gas, R = 287.055 J/(kg·K)).
AIR_DENSITY = 1.184

_ABSOLUTE_ZERO_C = -273.15
_LOOP_PRESSURE_PA = 2.0e5


def _coolant(name: str) -> str:
    try:
        return COOLANTS[name]
    except KeyError:
        valid = ", ".join(sorted(COOLANTS))
        raise ValueError(f"unknown coolant {name!r}; valid: {valid}") from None


def specific_heat(coolant: str, t_c: float | np.ndarray) -> np.ndarray:
    """Specific heat capacity of a liquid coolant.

    Parameters
    ----------
    coolant : str
        One of :data:`COOLANTS` (``water``, ``pg25``, ...).
    t_c : float or array
        Temperature [°C].

    Returns
    -------
    numpy.ndarray
        Specific heat at constant pressure [J/(kg·K)].

    Notes
    -----
    CoolProp's incompressible-fluid fits (Bell et al. 2014, Ind. Eng. Chem. Res.
    53(6)), evaluated at 2 bar.

    Examples
    --------
    >>> round(float(specific_heat("water", 35.0)))
    4171
    """
    t_k = np.asanyarray(t_c, dtype=float) - _ABSOLUTE_ZERO_C
    return np.asanyarray(PropsSI("C", "T", t_k, "P", _LOOP_PRESSURE_PA, _coolant(coolant)))


def density(coolant: str, t_c: float | np.ndarray) -> np.ndarray:
    """Density of a liquid coolant.

    Parameters
    ----------
    coolant : str
        One of :data:`COOLANTS`.
    t_c : float or array
        Temperature [°C].

    Returns
    -------
    numpy.ndarray
        Density [kg/m³].

    Notes
    -----
    CoolProp incompressible-fluid fits, at 2 bar.

    Examples
    --------
    >>> round(float(density("pg25", 35.0)))
    1012
    """
    t_k = np.asanyarray(t_c, dtype=float) - _ABSOLUTE_ZERO_C
    return np.asanyarray(PropsSI("D", "T", t_k, "P", _LOOP_PRESSURE_PA, _coolant(coolant)))
