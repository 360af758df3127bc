"""Cooling-plant equipment: heat exchangers, cooling towers, chillers, pumps and fans.

Pure, vectorised functions: numpy arrays in, numpy arrays out; scalars accepted.
Temperatures in °C, heat flows and powers in W, mass flows in kg/s.
"""

from __future__ import annotations

import numpy as np

from twin.physics.chiller import CurveLimits, envelope_inputs
from twin.physics.weather import (
    humidity_ratio,
    humidity_ratio_from_wet_bulb,
    saturation_vapour_pressure,
)

#: YorkCalc approach coefficients, k = i + 3·j + 9·l for Twb^i · Tr^j · LG^l.
#: Source: EnergyPlus ``CoolingTower:VariableSpeed`` (model type YorkCalc), as in
#: Modelica Buildings ``CoolingTowers/Correlations/yorkCalc.mo``.
YORKCALC_COEFFICIENTS = np.array(
    [
        -0.359741205, -0.055053608, 0.0023850432,
        0.173926877, -0.0248473764, 0.00048430224,
        -0.005589849456, 0.0005770079712, -0.00001342427256,
        2.84765801111111, -0.121765149, 0.0014599242,
        1.680428651, -0.0166920786, -0.0007190532,
        -0.025485194448, 0.0000487491696, 0.00002719234152,
        -0.0653766255555556, -0.002278167, 0.0002500254,
        -0.0910565458, 0.00318176316, 0.000038621772,
        -0.0034285382352, 0.00000856589904, -0.000001516821552,
    ]
)  # fmt: skip


def _yorkcalc_lg_polynomial(t_wet_bulb_c: np.ndarray, range_k: np.ndarray) -> list[np.ndarray]:
    """The three coefficients (of LG^0, LG^1, LG^2) of the YorkCalc approach."""
    c = YORKCALC_COEFFICIENTS
    twb = t_wet_bulb_c
    out = []
    for lg_power in range(3):
        total = np.zeros(np.broadcast(twb, range_k).shape)
        for j, tr_term in enumerate((1.0, range_k, range_k * range_k)):
            k = 9 * lg_power + 3 * j
            total = total + (c[k] + c[k + 1] * twb + c[k + 2] * twb * twb) * tr_term
        out.append(total)
    return out


def yorkcalc_approach(
    t_wet_bulb_c: float | np.ndarray,
    range_k: float | np.ndarray,
    liquid_to_gas_ratio: float | np.ndarray,
) -> np.ndarray:
    r"""Approach of a variable-speed cooling tower (YorkCalc correlation).

    Parameters
    ----------
    t_wet_bulb_c : float or array
        Entering air wet-bulb temperature [°C].
    range_k : float or array
        Water range, entering minus leaving water temperature [K].
    liquid_to_gas_ratio : float or array
        Water flow fraction over air flow fraction, both relative to design [-].

    Returns
    -------
    numpy.ndarray
        Approach, leaving water minus entering wet bulb [K].

    Notes
    -----
    .. math:: A = \sum_{i,j,l=0}^{2} c_{i+3j+9l}\, T_{wb}^i\, T_r^j\, LG^l

    Inputs are clipped to the correlation's bounds of validity (Twb -34.4 to
    26.7 °C, Tr 1.1 to 22.2 K, LG 0.15 to 8), as EnergyPlus does.
    Source: EnergyPlus Engineering Reference, "Variable speed cooling towers
    empirical models" (YorkCalc); coefficients from York International.

    Examples
    --------
    >>> round(float(yorkcalc_approach(25.55, 5.56, 1.0)), 2)
    3.84
    """
    twb = np.clip(np.asanyarray(t_wet_bulb_c, dtype=float), -34.4, 26.7)
    tr = np.clip(np.asanyarray(range_k, dtype=float), 1.1, 22.2)
    lg = np.clip(np.asanyarray(liquid_to_gas_ratio, dtype=float), 0.15, 8.0)
    a0, a1, a2 = _yorkcalc_lg_polynomial(twb, tr)
    return np.asanyarray(a0 + a1 * lg + a2 * lg * lg)


def yorkcalc_liquid_to_gas_ratio(
    t_wet_bulb_c: float | np.ndarray,
    range_k: float | np.ndarray,
    approach_k: float | np.ndarray,
) -> np.ndarray:
    r"""Liquid-to-gas ratio at which a YorkCalc tower reaches a given approach.

    The inverse of :func:`yorkcalc_approach` in LG: the approach is quadratic in
    LG, so the root is closed-form, which lets a whole year be solved at once.

    Parameters
    ----------
    t_wet_bulb_c : float or array
        Entering air wet-bulb temperature [°C].
    range_k : float or array
        Water range [K].
    approach_k : float or array
        Wanted approach [K].

    Returns
    -------
    numpy.ndarray
        LG [-] on the correlation's increasing branch; NaN where no LG in
        0.15 to 8 gives that approach.

    Notes
    -----
    Solves :math:`a_2 LG^2 + a_1 LG + a_0 - A = 0` for the root at which the
    approach grows with LG. Source: as :func:`yorkcalc_approach`.

    Examples
    --------
    >>> round(float(yorkcalc_liquid_to_gas_ratio(25.55, 5.56, 3.84)), 2)
    1.0
    """
    twb = np.clip(np.asanyarray(t_wet_bulb_c, dtype=float), -34.4, 26.7)
    tr = np.clip(np.asanyarray(range_k, dtype=float), 1.1, 22.2)
    a0, a1, a2 = _yorkcalc_lg_polynomial(twb, tr)
    c0 = a0 - np.asanyarray(approach_k, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        disc = a1 * a1 - 4.0 * a2 * c0
        # The root where d(approach)/d(LG) = 2·a2·LG + a1 = +sqrt(disc) > 0, written
        # without dividing by a2 (small, of either sign) to stay accurate.
        root = -2.0 * c0 / (a1 + np.sqrt(disc))
    return np.asanyarray(np.where((root >= 0.15) & (root <= 8.0), root, np.nan))


def tower_effectiveness(approach_k: float | np.ndarray, range_k: float | np.ndarray) -> np.ndarray:
    r"""Effectiveness of a cooling tower from its approach and range.

    Parameters
    ----------
    approach_k : float or array
        Leaving water minus entering air wet bulb [K]; below 0 counts as 0.
    range_k : float or array
        Entering minus leaving water [K]; below 0 counts as 0.

    Returns
    -------
    numpy.ndarray
        :math:`\varepsilon` in 0 to 1 [-]; 0 where range and approach are both 0.

    Notes
    -----
    .. math:: \varepsilon = \frac{T_{w,in} - T_{w,out}}{T_{w,in} - T_{wb}}
              = \frac{T_r}{T_r + A}

    The plant's network takes the tower as the heat
    :math:`\varepsilon\, \dot m c_p (T_{w,in} - T_{wb})` from the water, the
    entering water found in the same implicit solve: the leaving water then lies
    between the wet bulb and the entering water whatever the correlation gave, so a
    tower never heats its water (water entering above the wet bulb). At a
    consistent range (:math:`T_{w,in} = T_{wb} + A + T_r`) it leaves at exactly
    :math:`T_{wb} + A`. Source: the tower effectiveness of ASHRAE Handbook - HVAC
    Systems and Equipment (2020), ch. 40 ("approach" and "range"); Braun, Klein &
    Mitchell, ASHRAE Trans. 95(2), 1989 (effectiveness model of cooling towers).

    Examples
    --------
    >>> round(float(tower_effectiveness(3.89, 5.56)), 4)  # YorkCalc design point
    0.5884
    """
    a = np.clip(np.asanyarray(approach_k, dtype=float), 0.0, None)
    r = np.clip(np.asanyarray(range_k, dtype=float), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asanyarray(np.where(a + r > 0, r / (a + r), 0.0))


def fan_power(
    speed_frac: float | np.ndarray,
    p_nominal_w: float | np.ndarray,
    exponent: float = 3.0,
) -> np.ndarray:
    r"""Power of a fan or pump at part speed (affinity law).

    Parameters
    ----------
    speed_frac : float or array
        Speed over design speed [-].
    p_nominal_w : float or array
        Shaft (or electric) power at design speed [W].
    exponent : float
        Exponent of the power law; 3 for the ideal affinity law [-].

    Returns
    -------
    numpy.ndarray
        Power [W].

    Notes
    -----
    .. math:: P = P_0 (n/n_0)^3, \quad \dot V = \dot V_0 (n/n_0), \quad
              \Delta p = \Delta p_0 (n/n_0)^2

    Source: affinity laws (e.g. ASHRAE Handbook HVAC Systems and Equipment 2020,
    ch. 44 "Centrifugal pumps").

    Examples
    --------
    >>> float(fan_power(0.5, 8000.0))
    1000.0
    """
    speed = np.clip(np.asanyarray(speed_frac, dtype=float), 0.0, None)
    return np.asanyarray(np.asanyarray(p_nominal_w, dtype=float) * speed**exponent)


def affinity_scaling(
    speed_frac: float | np.ndarray,
    v_flow_nominal: float | np.ndarray,
    dp_nominal: float | np.ndarray,
    p_nominal: float | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Flow, head and power of a pump or fan at part speed on a fixed system curve.

    Parameters
    ----------
    speed_frac : float or array
        Speed over design speed [-].
    v_flow_nominal : float or array
        Design volume flow [any unit, returned in the same].
    dp_nominal : float or array
        Design pressure rise [Pa].
    p_nominal : float or array
        Design power [W].

    Returns
    -------
    tuple of numpy.ndarray
        (flow, pressure rise [Pa], power [W]).

    Notes
    -----
    .. math:: \dot V \propto n, \quad \Delta p \propto n^2, \quad P \propto n^3

    Source: affinity laws (ASHRAE Handbook HVAC Systems and Equipment 2020, ch. 44).

    Examples
    --------
    >>> [round(float(x), 6) for x in affinity_scaling(0.8, 100.0, 200e3, 30e3)]
    [80.0, 128000.0, 15360.0]
    """
    n = np.asanyarray(speed_frac, dtype=float)
    return (
        np.asanyarray(np.asanyarray(v_flow_nominal) * n),
        np.asanyarray(np.asanyarray(dp_nominal) * n**2),
        np.asanyarray(np.asanyarray(p_nominal) * n**3),
    )


def hydraulic_power(
    v_flow_m3_s: float | np.ndarray,
    dp_pa: float | np.ndarray,
    efficiency: float | np.ndarray,
) -> np.ndarray:
    r"""Electric power of a pump delivering a flow against a pressure rise.

    Parameters
    ----------
    v_flow_m3_s : float or array
        Volume flow [m³/s].
    dp_pa : float or array
        Pressure rise [Pa].
    efficiency : float or array
        Wire-to-water efficiency (motor, drive and pump) [-].

    Returns
    -------
    numpy.ndarray
        Electric power [W].

    Notes
    -----
    .. math:: P = \dot V \Delta p / \eta

    Source: textbook; Modelica Buildings ``Fluid.Movers`` uses the same balance.

    Examples
    --------
    >>> float(hydraulic_power(0.1, 200e3, 0.7)) // 1
    28571.0
    """
    return np.asanyarray(
        np.asanyarray(v_flow_m3_s, dtype=float) * np.asanyarray(dp_pa) / np.asanyarray(efficiency)
    )


def counterflow_effectiveness(
    ntu: float | np.ndarray,
    capacity_ratio: float | np.ndarray,
) -> np.ndarray:
    r"""Effectiveness of a counter-flow heat exchanger (plate heat exchanger).

    Parameters
    ----------
    ntu : float or array
        Number of transfer units, UA / C_min [-].
    capacity_ratio : float or array
        C_min / C_max [-], in 0 to 1.

    Returns
    -------
    numpy.ndarray
        Effectiveness [-].

    Notes
    -----
    .. math:: \varepsilon = \frac{1 - e^{-NTU(1-C_r)}}{1 - C_r e^{-NTU(1-C_r)}},
              \quad \varepsilon(C_r = 1) = \frac{NTU}{1 + NTU}

    Source: Incropera & DeWitt, Fundamentals of Heat and Mass Transfer, 6th ed.,
    Table 11.3.

    Examples
    --------
    >>> round(float(counterflow_effectiveness(2.0, 0.5)), 4)
    0.7746
    """
    ntu = np.asanyarray(ntu, dtype=float)
    cr = np.clip(np.asanyarray(capacity_ratio, dtype=float), 0.0, 1.0)
    balanced = np.abs(1.0 - cr) < 1e-9
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(-ntu * (1.0 - cr))
        general = (1.0 - e) / (1.0 - cr * e)
    return np.asanyarray(np.where(balanced, ntu / (1.0 + ntu), general))


def crossflow_effectiveness(
    ntu: float | np.ndarray,
    capacity_ratio: float | np.ndarray,
) -> np.ndarray:
    r"""Effectiveness of a cross-flow heat exchanger, both fluids unmixed (coils, dry coolers).

    Parameters
    ----------
    ntu : float or array
        Number of transfer units [-].
    capacity_ratio : float or array
        C_min / C_max [-], in 0 to 1.

    Returns
    -------
    numpy.ndarray
        Effectiveness [-].

    Notes
    -----
    .. math:: \varepsilon = 1 - \exp\left[\frac{NTU^{0.22}}{C_r}
              \left(e^{-C_r NTU^{0.78}} - 1\right)\right]

    Source: Incropera & DeWitt, 6th ed., Table 11.3 (eq. 11.32).

    Examples
    --------
    >>> round(float(crossflow_effectiveness(1.0, 1.0)), 4)
    0.4685
    """
    ntu = np.asanyarray(ntu, dtype=float)
    cr = np.clip(np.asanyarray(capacity_ratio, dtype=float), 1e-9, 1.0)
    return np.asanyarray(1.0 - np.exp(ntu**0.22 / cr * (np.exp(-cr * ntu**0.78) - 1.0)))


def ua_at_flows(
    ua_nominal: float | np.ndarray,
    m_flow_hot: float | np.ndarray,
    m_flow_hot_nominal: float | np.ndarray,
    m_flow_cold: float | np.ndarray,
    m_flow_cold_nominal: float | np.ndarray,
    exponent: float = 0.8,
) -> np.ndarray:
    r"""Overall conductance of a heat exchanger at off-design flows.

    Parameters
    ----------
    ua_nominal : float or array
        UA at design flows [W/K].
    m_flow_hot, m_flow_cold : float or array
        Mass flows [kg/s].
    m_flow_hot_nominal, m_flow_cold_nominal : float or array
        Design mass flows [kg/s].
    exponent : float
        Film coefficient exponent on mass flow (0.8 for turbulent flow) [-].

    Returns
    -------
    numpy.ndarray
        UA [W/K]; zero when either flow is zero.

    Notes
    -----
    Each side's film conductance scales as :math:`h \propto \dot m^{0.8}`, both
    sides equal at design, so

    .. math:: UA = \frac{UA_0}{\tfrac12 (\dot m_h/\dot m_{h0})^{-0.8}
              + \tfrac12 (\dot m_c/\dot m_{c0})^{-0.8}}

    Source: Modelica Buildings ``HeatExchangers.DryCoilEffectivenessNTU`` and the
    CDU ε-NTU model of ``DataHalls/CDUs`` (Dittus-Boelter scaling).

    Examples
    --------
    >>> round(float(ua_at_flows(100e3, 0.5, 1.0, 1.0, 1.0)), 1)
    72963.4
    """
    hot = np.clip(np.asanyarray(m_flow_hot, dtype=float) / m_flow_hot_nominal, 0.0, None)
    cold = np.clip(np.asanyarray(m_flow_cold, dtype=float) / m_flow_cold_nominal, 0.0, None)
    with np.errstate(divide="ignore"):
        resistance = 0.5 * hot**-exponent + 0.5 * cold**-exponent
        return np.asanyarray(np.where((hot > 0) & (cold > 0), ua_nominal / resistance, 0.0))


def heat_exchanger_heat_flow(
    ua: float | np.ndarray,
    m_flow_hot: float | np.ndarray,
    cp_hot: float | np.ndarray,
    t_hot_in_c: float | np.ndarray,
    m_flow_cold: float | np.ndarray,
    cp_cold: float | np.ndarray,
    t_cold_in_c: float | np.ndarray,
    arrangement: str = "counterflow",
) -> np.ndarray:
    r"""Heat moved from the hot to the cold stream of a heat exchanger (ε-NTU).

    Parameters
    ----------
    ua : float or array
        Overall conductance [W/K].
    m_flow_hot, m_flow_cold : float or array
        Mass flows [kg/s].
    cp_hot, cp_cold : float or array
        Specific heats [J/(kg·K)].
    t_hot_in_c, t_cold_in_c : float or array
        Inlet temperatures [°C].
    arrangement : str
        ``"counterflow"`` (plate heat exchangers) or ``"crossflow"`` (coils).

    Returns
    -------
    numpy.ndarray
        Heat flow [W], negative when the "cold" stream is warmer.

    Notes
    -----
    .. math:: Q = \varepsilon(NTU, C_r)\, C_{min} (T_{h,in} - T_{c,in})

    Source: Incropera & DeWitt, 6th ed., §11.4.

    Examples
    --------
    >>> round(float(heat_exchanger_heat_flow(10e3, 1.0, 4180.0, 45.0, 1.0, 4180.0, 30.0)))
    44217
    """
    c_hot = np.asanyarray(m_flow_hot, dtype=float) * cp_hot
    c_cold = np.asanyarray(m_flow_cold, dtype=float) * cp_cold
    conductance = exchanger_conductance(ua, c_hot, c_cold, arrangement)
    return np.asanyarray(conductance * (np.asanyarray(t_hot_in_c) - t_cold_in_c))


def exchanger_conductance(
    ua: float | np.ndarray,
    c_hot_w_k: float | np.ndarray,
    c_cold_w_k: float | np.ndarray,
    arrangement: str = "counterflow",
) -> np.ndarray:
    r"""Heat a heat exchanger moves per kelvin of inlet temperature difference.

    Parameters
    ----------
    ua : float or array
        Overall conductance [W/K].
    c_hot_w_k, c_cold_w_k : float or array
        Capacity rates ṁ·c_p of the two streams [W/K].
    arrangement : str
        ``"counterflow"`` or ``"crossflow"``.

    Returns
    -------
    numpy.ndarray
        :math:`\varepsilon C_{min}` [W/K]; zero when either stream stops.

    Notes
    -----
    The plant's thermal network uses it as the conductance of an exchanger link:
    :math:`Q = \varepsilon C_{min} (T_{h,in} - T_{c,in})`.
    Source: Incropera & DeWitt, 6th ed., §11.4.

    Examples
    --------
    >>> round(float(exchanger_conductance(10e3, 4180.0, 4180.0)), 1)
    2947.8
    """
    c_hot = np.asanyarray(c_hot_w_k, dtype=float)
    c_cold = np.asanyarray(c_cold_w_k, dtype=float)
    c_min = np.minimum(c_hot, c_cold)
    c_max = np.maximum(c_hot, c_cold)
    with np.errstate(divide="ignore", invalid="ignore"):
        ntu = np.where(c_min > 0, np.asanyarray(ua) / c_min, 0.0)
        cr = np.where(c_max > 0, c_min / c_max, 0.0)
    if arrangement == "counterflow":
        eff = counterflow_effectiveness(ntu, cr)
    elif arrangement == "crossflow":
        eff = crossflow_effectiveness(ntu, cr)
    else:
        raise ValueError(f"unknown arrangement {arrangement!r}")
    return np.asanyarray(np.nan_to_num(eff) * c_min)


def tower_water_use(
    m_flow_kg_s: float | np.ndarray,
    range_k: float | np.ndarray,
    cycles_of_concentration: float | np.ndarray = 3.0,
    evaporation_per_k: float = 0.002,
    drift_frac: float = 0.00008,
    evaporation_kg_s: float | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Evaporation, drift and blowdown of an open cooling tower.

    Parameters
    ----------
    m_flow_kg_s : float or array
        Circulating water flow [kg/s].
    range_k : float or array
        Water range [K].
    cycles_of_concentration : float or array
        Ratio of dissolved solids in the basin to those in make-up water [-].
    evaporation_per_k : float
        Evaporated fraction of the circulating flow per kelvin of range [1/K].
    drift_frac : float
        Fraction of the circulating flow carried away as drift [-].
    evaporation_kg_s : float or array, optional
        Evaporation found by another method (e.g.
        :func:`tower_evaporation_saturated_exit`) [kg/s]; it replaces the loss-factor
        rule, and blowdown follows from it.

    Returns
    -------
    tuple of numpy.ndarray
        (evaporation, drift, blowdown) [kg/s].

    Notes
    -----
    .. math:: \dot m_{evap} = 0.002\,T_r\,\dot m, \quad \dot m_{drift} = 8\cdot10^{-5}
              \dot m, \quad \dot m_{bd} = \max(0, \dot m_{evap}/(C-1) - \dot m_{drift})

    Source: EnergyPlus Engineering Reference, "Cooling tower make-up water usage"
    (evaporation loss factor 0.2 %/K, drift 0.008 %, blowdown by concentration ratio).

    Examples
    --------
    >>> [round(float(x), 4) for x in tower_water_use(100.0, 5.0)]
    [1.0, 0.008, 0.492]
    """
    m = np.asanyarray(m_flow_kg_s, dtype=float)
    if evaporation_kg_s is None:
        evaporation = (
            evaporation_per_k * np.clip(np.asanyarray(range_k, dtype=float), 0.0, None) * m
        )
    else:
        evaporation = np.asanyarray(evaporation_kg_s, dtype=float)
    drift = drift_frac * m
    blowdown = np.clip(
        evaporation / (np.asanyarray(cycles_of_concentration) - 1.0) - drift, 0, None
    )
    return np.asanyarray(evaporation), np.asanyarray(drift), np.asanyarray(blowdown)


#: Specific heats and latent heat of moist-air enthalpy [J/kg, J/(kg·K)] (ASHRAE
#: Handbook - Fundamentals 2017, ch. 1, eq. 32), as psychrolib ``GetMoistAirEnthalpy``.
_CP_DRY_AIR = 1006.0
_CP_VAPOUR = 1860.0
_H_FG_0C = 2501e3


def moist_air_enthalpy(t_dry_c: float | np.ndarray, w: float | np.ndarray) -> np.ndarray:
    r"""Specific enthalpy of moist air [J per kg of dry air].

    Parameters
    ----------
    t_dry_c : float or array
        Dry bulb temperature [°C].
    w : float or array
        Humidity ratio [kg water / kg dry air].

    Returns
    -------
    numpy.ndarray
        Enthalpy [J/kg dry air], zero at 0 °C and dry.

    Notes
    -----
    .. math:: h = 1006\,t + W\,(2.501\cdot10^6 + 1860\,t)

    Source: ASHRAE Handbook - Fundamentals (2017), ch. 1, eq. 32; psychrolib
    ``GetMoistAirEnthalpy``.

    Examples
    --------
    >>> round(float(moist_air_enthalpy(25.0, 0.01)))
    50625
    """
    t = np.asanyarray(t_dry_c, dtype=float)
    return np.asanyarray(_CP_DRY_AIR * t + np.asanyarray(w) * (_H_FG_0C + _CP_VAPOUR * t))


def saturated_air_temperature(
    h_j_kg: float | np.ndarray, p_pa: float | np.ndarray, t_guess_c: float | np.ndarray = 20.0
) -> np.ndarray:
    r"""Temperature of saturated air of a given enthalpy (psychrolib-like ``TsatFnHPb``).

    Parameters
    ----------
    h_j_kg : float or array
        Moist-air enthalpy [J/kg dry air].
    p_pa : float or array
        Atmospheric pressure [Pa].
    t_guess_c : float or array
        Starting point of the iteration [°C]; the wet bulb of the entering air is a
        good one.

    Returns
    -------
    numpy.ndarray
        Temperature [°C] at which saturated air has enthalpy ``h_j_kg``.

    Notes
    -----
    Solves :math:`h(t, W_s(t, p)) = h` by Newton iteration (last step under 1e-4 K, so
    converged to about 1e-8 K), with the analytic slope, on the
    saturation humidity ratio of :func:`twin.physics.weather.humidity_ratio` (dew
    point = dry bulb): the enthalpy of saturated air grows monotonically and convexly
    with temperature, so the iteration converges from any start. Source: ASHRAE
    Handbook - Fundamentals (2017), ch. 1, eq. 20, 32 and 36.

    Examples
    --------
    >>> round(float(saturated_air_temperature(76306.66, 101325.0)), 3)  # saturated at 25 °C
    25.0
    """
    h = np.asanyarray(h_j_kg, dtype=float)
    p = np.asanyarray(p_pa, dtype=float)
    t = np.broadcast_to(np.asanyarray(t_guess_c, dtype=float), np.broadcast(h, p).shape).copy()
    for _ in range(50):
        f, slope = _saturated_enthalpy_and_slope(t, p)
        delta = (f - h) / slope
        t = np.clip(t - delta, -60.0, 95.0)
        # Newton converges quadratically: after a step under 1e-4 K the error is
        # of order 1e-8 K.
        if float(np.max(np.abs(delta), initial=0.0)) < 1e-4:
            break
    return np.asanyarray(t)


def _saturated_enthalpy_and_slope(
    t_c: np.ndarray, p_pa: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""Enthalpy of saturated air [J/kg] and its derivative in temperature [J/(kg·K)].

    One saturation pressure per call, the derivative analytic: with
    :math:`W_s = 0.621945\, p_{ws}/(p - p_{ws})` (ASHRAE 2017 ch. 1 eq. 20 and 36),
    :math:`dW_s/dt = 0.621945\, p\, p_{ws}' / (p - p_{ws})^2` and
    :math:`p_{ws}' = p_{ws}\, d\ln p_{ws}/dT` from the Hyland-Wexler terms of
    :func:`twin.physics.weather.saturation_vapour_pressure` (eq. 5 and 6, switched at
    the triple point as there); :math:`dh/dt = 1006 + 1860 W_s + (2.501\cdot10^6 +
    1860\, t)\, dW_s/dt` (eq. 32). Where the humidity ratio sits at its 1e-7 floor its
    derivative is taken as 0.
    """
    t_k = t_c + 273.15
    p_ws = saturation_vapour_pressure(t_c)
    dln_ice = (
        5.6745359e03 / t_k**2
        - 9.677843e-03
        + 2 * 6.2215701e-07 * t_k
        + 3 * 2.0747825e-09 * t_k**2
        - 4 * 9.484024e-13 * t_k**3
        + 4.1635019 / t_k
    )
    dln_water = (
        5.8002206e03 / t_k**2
        - 4.8640239e-02
        + 2 * 4.1764768e-05 * t_k
        - 3 * 1.4452093e-08 * t_k**2
        + 6.5459673 / t_k
    )
    dp_ws = p_ws * np.where(t_c <= 0.01, dln_ice, dln_water)
    raw = 0.621945 * p_ws / (p_pa - p_ws)
    w = np.maximum(raw, 1e-7)
    dw = np.where(raw > 1e-7, 0.621945 * p_pa * dp_ws / (p_pa - p_ws) ** 2, 0.0)
    h = moist_air_enthalpy(t_c, w)
    slope = _CP_DRY_AIR + _CP_VAPOUR * w + (_H_FG_0C + _CP_VAPOUR * t_c) * dw
    return h, slope


def tower_evaporation_saturated_exit(
    q_rejected_w: float | np.ndarray,
    m_air_kg_s: float | np.ndarray,
    t_dry_c: float | np.ndarray,
    t_wet_c: float | np.ndarray,
    p_pa: float | np.ndarray = 101325.0,
    t_water_in_c: float | np.ndarray | None = None,
) -> np.ndarray:
    r"""Evaporation of an open cooling tower, its exit air saturated (EnergyPlus method).

    Parameters
    ----------
    q_rejected_w : float or array
        Heat the tower rejects to the air [W]; none evaporates at zero or below.
    m_air_kg_s : float or array
        Dry-air mass flow through the tower [kg/s].
    t_dry_c, t_wet_c : float or array
        Dry bulb and wet bulb of the entering (outdoor) air [°C].
    p_pa : float or array
        Atmospheric pressure [Pa].
    t_water_in_c : float or array, optional
        Water entering the tower [°C]: the exit air is no warmer (see Notes).

    Returns
    -------
    numpy.ndarray
        Evaporated water [kg/s].

    Notes
    -----
    The air leaves saturated at the enthalpy the heat balance gives it:

    .. math:: h_{out} = h_{in} + Q / \dot m_a, \quad t_{out} = t_{sat}(h_{out}), \quad
              \dot m_{evap} = \dot m_a \, (W_s(t_{out}) - W_{in})

    with :math:`W_{in}` from the dry and wet bulb. Dry, cold air takes part of the
    heat as sensible heat, so it evaporates less per kWh than warm, humid air.

    The air cannot leave warmer than the water entering the tower. Where the given
    air flow would have to (little air, as in free convection or at minimum fan
    speed in cold weather, where the YorkCalc fit is extrapolated), the air flow is
    taken as the least that carries Q out saturated at ``t_water_in_c``:
    :math:`\dot m_a = \max(\dot m_a, Q / (h_s(t_{w,in}) - h_{in}))`. This bound is
    this model's, not EnergyPlus'.
    Source: EnergyPlus Engineering Reference, "Cooling Towers: Tower Makeup Water
    Usage", evaporation loss mode "Saturated Exit" (EnergyPlus' default);
    psychrometrics from ASHRAE Handbook - Fundamentals (2017), ch. 1.

    Hand check: 1 MW into 100 kg/s of air at 30 °C dry bulb, 24 °C wet bulb,
    101325 Pa: W_in = 0.01634, h_in = 71.95 kJ/kg, h_out = 81.95 kJ/kg, saturated at
    26.31 °C where W_s = 0.02176, so 100 × (0.02176 − 0.01634) = 0.542 kg/s (1.95 L
    per kWh rejected; its latent heat, ≈ 1.32 MW, exceeds Q because the warm air
    also gives up sensible heat on its way to 26.31 °C).

    Examples
    --------
    >>> round(float(tower_evaporation_saturated_exit(1e6, 100.0, 30.0, 24.0)), 3)
    0.542
    """
    q = np.clip(np.asanyarray(q_rejected_w, dtype=float), 0.0, None)
    m_air = np.asanyarray(m_air_kg_s, dtype=float)
    t_dry = np.asanyarray(t_dry_c, dtype=float)
    t_wet = np.minimum(np.asanyarray(t_wet_c, dtype=float), t_dry)
    w_in = humidity_ratio_from_wet_bulb(t_dry, t_wet, p_pa)
    h_in = moist_air_enthalpy(t_dry, w_in)
    if t_water_in_c is not None:
        t_hot = np.asanyarray(t_water_in_c, dtype=float)
        h_hot = moist_air_enthalpy(t_hot, humidity_ratio(t_hot, p_pa))
        with np.errstate(divide="ignore", invalid="ignore"):
            least = np.where(h_hot > h_in, q / (h_hot - h_in), np.inf)
        m_air = np.where(m_air > 0, np.maximum(m_air, least), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h_out = h_in + np.where(m_air > 0, q / m_air, 0.0)
    t_out = saturated_air_temperature(h_out, p_pa, t_wet)
    evaporation = m_air * (humidity_ratio(t_out, p_pa) - w_in)
    return np.asanyarray(np.where((q > 0) & (m_air > 0), np.maximum(evaporation, 0.0), 0.0))


def biquadratic(
    x: float | np.ndarray, y: float | np.ndarray, coefficients: np.ndarray | list[float]
) -> np.ndarray:
    r"""EnergyPlus biquadratic performance curve.

    Parameters
    ----------
    x, y : float or array
        Curve inputs (for chillers: leaving chilled water and entering
        condenser water temperature [°C]).
    coefficients : sequence of 6 floats
        a, b, c, d, e, f.

    Returns
    -------
    numpy.ndarray
        :math:`a + b x + c x^2 + d y + e y^2 + f x y`.

    Notes
    -----
    Source: EnergyPlus Input Output Reference, ``Curve:Biquadratic``.

    Examples
    --------
    >>> float(biquadratic(1.0, 2.0, [1, 1, 1, 1, 1, 1]))
    11.0
    """
    a, b, c, d, e, f = coefficients
    x = np.asanyarray(x, dtype=float)
    y = np.asanyarray(y, dtype=float)
    return np.asanyarray(a + b * x + c * x * x + d * y + e * y * y + f * x * y)


def chiller_eir_power(
    q_load_w: float | np.ndarray,
    t_chilled_leaving_c: float | np.ndarray,
    t_condenser_entering_c: float | np.ndarray,
    q_reference_w: float,
    cop_reference: float,
    capft: list[float],
    eirft: list[float],
    eirfplr: list[float],
    plr_min: float = 0.1,
    limits: CurveLimits | None = None,
    dt_evaporator_k: float = 2.0,
    dt_condenser_k: float = 7.5,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Electric power and available capacity of a chiller (EnergyPlus electric EIR model).

    Parameters
    ----------
    q_load_w : float or array
        Evaporator load asked of the chiller [W].
    t_chilled_leaving_c : float or array
        Leaving chilled water temperature [°C].
    t_condenser_entering_c : float or array
        Entering condenser water temperature [°C].
    q_reference_w : float
        Reference capacity [W].
    cop_reference : float
        Reference COP [-].
    capft, eirft : list of 6 floats
        Biquadratic capacity and EIR modifiers (see :func:`biquadratic`).
    eirfplr : list of 3 floats
        Quadratic EIR modifier on part-load ratio.
    plr_min : float
        Minimum part-load ratio before the compressor cycles [-].
    limits : CurveLimits, optional
        Range of the curves' inputs. Given, CAPFT takes its inputs bounded to it and
        EIRFPLR its part-load ratio, as EnergyPlus does; EIRFT is read at the
        equal-lift point of the range and the COP beyond it follows Carnot
        (:mod:`twin.physics.chiller`). None: the curves as written, everywhere.
    dt_evaporator_k, dt_condenser_k : float
        Refrigerant-side offsets of the lift (see
        :func:`twin.physics.chiller.carnot_lift_k`) [K]; used only with ``limits``.

    Returns
    -------
    tuple of numpy.ndarray
        (electric power [W], available capacity [W]). The load is capped at
        the available capacity.

    Notes
    -----
    .. math:: Q_{av} = Q_{ref}\,CAPFT, \quad PLR = \min(Q, Q_{av}) / Q_{av}

    .. math:: P = \frac{Q_{av}}{COP_{ref}}\,EIRFT\,EIRFPLR(\max(PLR, PLR_{min}))
              \cdot \min(1, PLR / PLR_{min})

    Below the minimum part-load ratio the compressor cycles, so power falls in
    proportion. Source: EnergyPlus Engineering Reference, "Electric chiller
    model based on condenser entering temperature" (Chiller:Electric:EIR).
    With ``limits``: CAPFT at the bounded inputs, EIRFT at the equal-lift anchor,
    power divided by :func:`twin.physics.chiller.carnot_envelope_factor` (1 inside
    the range, so the curves are unchanged there).

    Examples
    --------
    >>> york = dict(q_reference_w=1055e3, cop_reference=5.96,
    ...     capft=[0.1785912, -0.05900023, -5.946963e-4, 0.09297889, -2.841024e-3, 4.974221e-3],
    ...     eirft=[0.524511, -0.02850126, 8.03472e-4, 0.01893133, 1.151629e-4, -9.340642e-5],
    ...     eirfplr=[0.2619878, 0.2393605, 0.4988306])
    >>> power, capacity = chiller_eir_power(1055e3, 6.67, 29.44, **york)
    >>> round(float(1055e3 / power), 2)  # the fit is within 1 % of 1.0 at the rated point
    5.92
    >>> lim = CurveLimits((4.44, 8.89), (12.78, 35.0), (0.1, 1.05))
    >>> power, capacity = chiller_eir_power(1055e3, 18.0, 27.0, limits=lim, **york)
    >>> round(float(capacity / 1055e3), 3)  # CAPFT held at 8.89 °C, not 1.78
    1.24
    """
    q = np.clip(np.asanyarray(q_load_w, dtype=float), 0.0, None)
    x = np.asanyarray(t_chilled_leaving_c, dtype=float)
    y = np.asanyarray(t_condenser_entering_c, dtype=float)
    if limits is None:
        cap_mod = biquadratic(x, y, capft)
        eir_mod = biquadratic(x, y, eirft)
        plr_lo, plr_hi, carnot = plr_min, np.inf, 1.0
    else:
        e = envelope_inputs(x, y, limits, dt_evaporator_k, dt_condenser_k)
        cap_mod = biquadratic(e.t_chw_capacity_c, e.t_cw_capacity_c, capft)
        eir_mod = biquadratic(e.t_chw_anchor_c, e.t_cw_anchor_c, eirft)
        plr_lo, plr_hi = max(plr_min, limits.plr[0]), limits.plr[1]
        carnot = e.carnot_factor
    q_available = np.clip(q_reference_w * cap_mod, 1.0, None)
    plr = np.minimum(q, q_available) / q_available
    plr_eval = np.minimum(np.maximum(plr, plr_lo), plr_hi)
    a, b, c = eirfplr
    plr_mod = a + b * plr_eval + c * plr_eval * plr_eval
    cycling = np.minimum(1.0, plr / plr_min)
    power = q_available / cop_reference * eir_mod * plr_mod * cycling / carnot
    return np.asanyarray(power), np.asanyarray(q_available)
