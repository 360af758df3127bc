r"""A chiller's performance curves inside, and beyond, the envelope they were fitted on.

EnergyPlus' electric EIR chiller (``Chiller:Electric:EIR``) evaluates its CAPFT and
EIRFT biquadratics with each input bounded to the curve object's minimum and maximum
(``Curve:Biquadratic`` fields "Minimum/Maximum Value of x/y"): outside the range the
curve is held at its edge. Held alone, that makes COP stop rising once the chilled
water passes the range, although the refrigerant lift keeps falling. Here the COP
beyond the range follows the Carnot COP from the edge of the range at the same lift:

.. math:: COP(x, y) = \eta_{anchor}\;\frac{T_{eva}(x)}{T_{con}(y) - T_{eva}(x)},
          \qquad \eta_{anchor} = \frac{COP_{curve}(x_a, y_a)}{COP_{Carnot}(x_a, y_a)}

with :math:`T_{eva} = x - \Delta T_{eva}`, :math:`T_{con} = y + \Delta T_{con}` [K]
(Modelica Buildings ``Fluid.Chillers.BaseClasses.Carnot``: refrigerant 2 K beyond the
leaving water of each heat exchanger), and the anchor :math:`(x_a, y_a)` the point on
the edge of the curve's range with the same lift (the compressor sees the same pressure
ratio). The Carnot fraction is thus fitted on the curve where the curve is valid, so
the rated point and every point inside the range are EnergyPlus' own; at the edge the
correction is 1, so COP is continuous. No lift smaller than the curve's smallest (its
warmest chilled water against its coldest condenser water) is extrapolated to.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Kelvin at 0 °C.
T_KELVIN_0C = 273.15


class CurveLimits(NamedTuple):
    """Range of a chiller's curve inputs (EnergyPlus curve objects' min/max of x and y).

    Attributes: leaving chilled water and entering condenser water [°C], each
    (min, max); part-load ratio (min, max) of the EIRFPLR curve [-].
    """

    t_chw_c: tuple[float, float]
    t_cw_c: tuple[float, float]
    plr: tuple[float, float]


def equal_lift_anchor(
    t_chw_c: np.ndarray | float,
    t_cw_c: np.ndarray | float,
    limits: CurveLimits,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Point of the curve's range with the same lift as the operating point [°C].

    Parameters
    ----------
    t_chw_c, t_cw_c : float or array
        Leaving chilled water and entering condenser water [°C].
    limits : CurveLimits
        The curve's range.

    Returns
    -------
    tuple of numpy.ndarray
        (chilled water, condenser water) of the anchor [°C].

    Notes
    -----
    .. math:: x_a = \mathrm{clip}(x, x_{min}, x_{max}), \quad
              y_a = \mathrm{clip}(y - (x - x_a), y_{min}, y_{max})

    Shifting both temperatures by :math:`x - x_a` keeps the lift :math:`y - x`;
    inside the range the anchor is the point itself; outside both ranges it is
    EnergyPlus' bounded input. Source of the bounding: EnergyPlus Input Output
    Reference, ``Curve:Biquadratic``.

    Examples
    --------
    >>> lim = CurveLimits((4.44, 8.89), (12.78, 35.0), (0.1, 1.05))
    >>> [round(float(v), 2) for v in equal_lift_anchor(18.0, 27.0, lim)]
    [8.89, 17.89]
    >>> [round(float(v), 2) for v in equal_lift_anchor(6.67, 29.44, lim)]
    [6.67, 29.44]
    """
    x = np.asanyarray(t_chw_c, dtype=float)
    y = np.asanyarray(t_cw_c, dtype=float)
    x_a = _bound(x, limits.t_chw_c)
    y_a = _bound(y - (x - x_a), limits.t_cw_c)
    return np.asanyarray(x_a), np.asanyarray(y_a)


def _bound(v: np.ndarray, lo_hi: tuple[float, float]) -> np.ndarray:
    """``v`` held within ``lo_hi`` (np.clip, at a third of its cost on scalars)."""
    return np.asanyarray(np.minimum(np.maximum(v, lo_hi[0]), lo_hi[1]))


def carnot_lift_k(
    t_chw_c: np.ndarray | float,
    t_cw_c: np.ndarray | float,
    dt_evaporator_k: float,
    dt_condenser_k: float,
) -> np.ndarray:
    r"""Refrigerant lift of a water-cooled chiller [K].

    Parameters
    ----------
    t_chw_c, t_cw_c : float or array
        Leaving chilled water and entering condenser water [°C].
    dt_evaporator_k : float
        Leaving chilled water above the evaporating refrigerant [K].
    dt_condenser_k : float
        Condensing refrigerant above the entering condenser water (condenser
        water range plus the condenser's approach) [K].

    Returns
    -------
    numpy.ndarray
        :math:`(y + \Delta T_{con}) - (x - \Delta T_{eva})` [K].

    Notes
    -----
    Source: Modelica Buildings ``Fluid.Chillers.BaseClasses.Carnot`` (``TConAct``,
    ``TEvaAct``; approach 2 K for water on each side).

    Examples
    --------
    >>> round(float(carnot_lift_k(6.67, 29.44, 2.0, 7.5)), 2)
    32.27
    """
    x = np.asanyarray(t_chw_c, dtype=float)
    y = np.asanyarray(t_cw_c, dtype=float)
    return np.asanyarray((y + dt_condenser_k) - (x - dt_evaporator_k))


def carnot_envelope_factor(
    t_chw_c: np.ndarray | float,
    t_cw_c: np.ndarray | float,
    limits: CurveLimits,
    dt_evaporator_k: float,
    dt_condenser_k: float,
) -> np.ndarray:
    r"""COP at the operating point over the curve's COP at its equal-lift anchor [-].

    Parameters
    ----------
    t_chw_c, t_cw_c : float or array
        Leaving chilled water and entering condenser water [°C].
    limits : CurveLimits
        The curve's range.
    dt_evaporator_k, dt_condenser_k : float
        Refrigerant-side offsets (see :func:`carnot_lift_k`) [K].

    Returns
    -------
    numpy.ndarray
        :math:`COP_{Carnot}(x, y) / COP_{Carnot}(x_a, y_a)`, 1 inside the range.

    Notes
    -----
    .. math:: f = \frac{T_{eva}(x)}{T_{eva}(x_a)}\;
              \frac{L(x_a, y_a)}{\max(L(x, y),\, L(x_a, y_{min}))}

    The Carnot fraction of the anchor is held (Modelica Buildings ``Carnot_TEva``:
    COP = η_Carnot · T_eva / (T_con − T_eva), η fitted at a known point). The lift
    :math:`L` is floored at the smallest lift on the curve's range at the anchor's
    chilled water, so nothing is extrapolated to a lift the curve never saw.

    Examples
    --------
    >>> lim = CurveLimits((4.44, 8.89), (12.78, 35.0), (0.1, 1.05))
    >>> float(carnot_envelope_factor(6.67, 29.44, lim, 2.0, 7.5))  # inside: the curve
    1.0
    >>> round(float(carnot_envelope_factor(18.0, 27.0, lim, 2.0, 7.5)), 4)  # 289.15/280.04
    1.0325
    """
    x = np.asanyarray(t_chw_c, dtype=float)
    y = np.asanyarray(t_cw_c, dtype=float)
    x_a, y_a = equal_lift_anchor(x, y, limits)
    return _factor_at_anchor(x, x_a, y, y_a, limits, dt_evaporator_k, dt_condenser_k)


def _factor_at_anchor(
    x: np.ndarray,
    x_a: np.ndarray,
    y: np.ndarray,
    y_a: np.ndarray,
    limits: CurveLimits,
    dt_evaporator_k: float,
    dt_condenser_k: float,
) -> np.ndarray:
    """:func:`carnot_envelope_factor` with the anchor already found."""
    lift = carnot_lift_k(x, y, dt_evaporator_k, dt_condenser_k)
    lift_anchor = carnot_lift_k(x_a, y_a, dt_evaporator_k, dt_condenser_k)
    lift_floor = carnot_lift_k(x_a, limits.t_cw_c[0], dt_evaporator_k, dt_condenser_k)
    t_eva = x - dt_evaporator_k + T_KELVIN_0C
    t_eva_anchor = x_a - dt_evaporator_k + T_KELVIN_0C
    return np.asanyarray(t_eva / t_eva_anchor * lift_anchor / np.maximum(lift, lift_floor))


class EnvelopeInputs(NamedTuple):
    """Where each curve is read, and the Carnot factor (see :func:`envelope_inputs`)."""

    t_chw_capacity_c: np.ndarray
    t_cw_capacity_c: np.ndarray
    t_chw_anchor_c: np.ndarray
    t_cw_anchor_c: np.ndarray
    carnot_factor: np.ndarray


def envelope_inputs(
    t_chw_c: np.ndarray | float,
    t_cw_c: np.ndarray | float,
    limits: CurveLimits,
    dt_evaporator_k: float,
    dt_condenser_k: float,
) -> EnvelopeInputs:
    r"""Inputs of CAPFT (bounded), of EIRFT (equal-lift anchor) and the Carnot factor.

    Parameters
    ----------
    t_chw_c, t_cw_c : float or array
        Leaving chilled water and entering condenser water [°C].
    limits : CurveLimits
        The curve's range.
    dt_evaporator_k, dt_condenser_k : float
        Refrigerant-side offsets (see :func:`carnot_lift_k`) [K].

    Returns
    -------
    EnvelopeInputs
        CAPFT's inputs: each bounded to its range (EnergyPlus, ``Curve:Biquadratic``
        min/max of x and y), so capacity beyond the range holds the edge's value;
        EIRFT's: :func:`equal_lift_anchor`; and :func:`carnot_envelope_factor`.

    Examples
    --------
    >>> lim = CurveLimits((4.44, 8.89), (12.78, 35.0), (0.1, 1.05))
    >>> e = envelope_inputs(18.0, 27.0, lim, 2.0, 7.5)
    >>> [round(float(v), 4) for v in e]
    [8.89, 27.0, 8.89, 17.89, 1.0325]
    """
    x = np.asanyarray(t_chw_c, dtype=float)
    y = np.asanyarray(t_cw_c, dtype=float)
    x_a, y_a = equal_lift_anchor(x, y, limits)
    factor = _factor_at_anchor(x, x_a, y, y_a, limits, dt_evaporator_k, dt_condenser_k)
    return EnvelopeInputs(x_a, _bound(y, limits.t_cw_c), x_a, y_a, factor)
