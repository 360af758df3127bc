"""Heat in solids and lumped fluid volumes: cold plates, loop thermal mass.

Pure, vectorised functions: numpy arrays in, numpy arrays out; scalars accepted.
"""

from __future__ import annotations

import numpy as np

#: OCP 1 kW OAM cold plate on PG25: flow per plate [L/min] and case-to-inlet
#: thermal resistance [K/W]. Source: OCP OAI liquid cooling guideline
#: (Chen et al. 2023), as in Modelica Buildings ``DataHalls`` record ``OCP_1kW_OAM_PG25``.
OCP_COLD_PLATE_FLOW_LPM = np.array([0.4, 0.6, 0.8, 1.0, 1.4, 2.0, 2.4])
OCP_COLD_PLATE_RESISTANCE_K_PER_W = np.array(
    [0.0389, 0.0300, 0.0265, 0.0245, 0.0220, 0.0204, 0.0197]
)


def cold_plate_resistance(
    flow_lpm: float | np.ndarray,
    flow_table_lpm: np.ndarray = OCP_COLD_PLATE_FLOW_LPM,
    resistance_table_k_per_w: np.ndarray = OCP_COLD_PLATE_RESISTANCE_K_PER_W,
) -> np.ndarray:
    r"""Case-to-inlet thermal resistance of a cold plate at a coolant flow.

    Parameters
    ----------
    flow_lpm : float or array
        Coolant flow through one plate [L/min].
    flow_table_lpm, resistance_table_k_per_w : array
        The plate's published curve (default: OCP 1 kW OAM on PG25).

    Returns
    -------
    numpy.ndarray
        Thermal resistance [K/W].

    Notes
    -----
    Interpolated linearly in log(flow)-log(R) between the published points (the
    curve is close to a power law, R ∝ V̇^-0.4 at low flow); held at the end
    values outside the table, so a stopped plate keeps the lowest-flow
    resistance while its coolant heats up (see :func:`lumped_temperature_rise`).

    Source: OCP OAI liquid cooling guideline (Chen et al. 2023); Modelica
    Buildings ``OCP_1kW_OAM_PG25``.

    Examples
    --------
    >>> round(float(cold_plate_resistance(1.0)), 6)
    0.0245
    >>> round(float(cold_plate_resistance(1.2)), 4)
    0.0231
    """
    flow = np.clip(np.asanyarray(flow_lpm, dtype=float), flow_table_lpm[0], flow_table_lpm[-1])
    log_r = np.interp(np.log(flow), np.log(flow_table_lpm), np.log(resistance_table_k_per_w))
    return np.asanyarray(np.exp(log_r))


def cold_plate_case_temperature(
    t_coolant_in_c: float | np.ndarray,
    q_plate_w: float | np.ndarray,
    flow_lpm: float | np.ndarray,
) -> np.ndarray:
    r"""Case temperature of a cold-plated processor.

    Parameters
    ----------
    t_coolant_in_c : float or array
        Coolant temperature at the plate inlet [°C].
    q_plate_w : float or array
        Heat through the plate [W].
    flow_lpm : float or array
        Coolant flow through the plate [L/min].

    Returns
    -------
    numpy.ndarray
        Case temperature [°C].

    Notes
    -----
    .. math:: T_{case} = T_{in} + R(\dot V)\, Q

    Source: OCP OAI liquid cooling guideline (definition of case-to-inlet resistance).

    Examples
    --------
    >>> float(cold_plate_case_temperature(40.0, 1000.0, 1.0))
    64.5
    """
    return np.asanyarray(
        np.asanyarray(t_coolant_in_c, dtype=float)
        + cold_plate_resistance(flow_lpm) * np.asanyarray(q_plate_w, dtype=float)
    )


def heat_capacity(
    volume_m3: float | np.ndarray,
    density_kg_m3: float | np.ndarray,
    specific_heat_j_kg_k: float | np.ndarray,
) -> np.ndarray:
    r"""Heat capacity of a lumped fluid volume.

    Parameters
    ----------
    volume_m3 : float or array
        Fluid volume [m³].
    density_kg_m3 : float or array
        Density [kg/m³].
    specific_heat_j_kg_k : float or array
        Specific heat [J/(kg·K)].

    Returns
    -------
    numpy.ndarray
        Heat capacity C = V ρ c_p [J/K].

    Examples
    --------
    >>> float(heat_capacity(2.0, 1000.0, 4180.0))
    8360000.0
    """
    return np.asanyarray(
        np.asanyarray(volume_m3, dtype=float) * density_kg_m3 * specific_heat_j_kg_k
    )


def lumped_temperature_rise(
    t_start_c: float | np.ndarray,
    q_w: float | np.ndarray,
    heat_capacity_j_k: float | np.ndarray,
    duration_s: float | np.ndarray,
) -> np.ndarray:
    r"""Temperature of a lumped volume heated with no heat removed.

    Parameters
    ----------
    t_start_c : float or array
        Starting temperature [°C].
    q_w : float or array
        Heat input [W].
    heat_capacity_j_k : float or array
        Heat capacity of the volume [J/K].
    duration_s : float or array
        Time heated [s].

    Returns
    -------
    numpy.ndarray
        Temperature [°C].

    Notes
    -----
    .. math:: T(t) = T_0 + Q t / C

    The hand calculation for a loop that loses all flow: its coolant absorbs
    the heat until something trips.

    Examples
    --------
    >>> float(lumped_temperature_rise(40.0, 100e3, 10e6, 60.0))
    40.6
    """
    return np.asanyarray(
        np.asanyarray(t_start_c, dtype=float)
        + np.asanyarray(q_w) * np.asanyarray(duration_s) / np.asanyarray(heat_capacity_j_k)
    )


def relax_toward(
    t_c: float | np.ndarray,
    t_target_c: float | np.ndarray,
    conductance_w_k: float | np.ndarray,
    heat_capacity_j_k: float | np.ndarray,
    dt_s: float,
) -> np.ndarray:
    r"""Exact step of a lumped volume relaxing toward a target temperature.

    Parameters
    ----------
    t_c : float or array
        Temperature at the start of the step [°C].
    t_target_c : float or array
        Temperature the volume tends to (held over the step) [°C].
    conductance_w_k : float or array
        Conductance to the target, e.g. ṁ·c_p for a flushed volume [W/K].
    heat_capacity_j_k : float or array
        Heat capacity [J/K].
    dt_s : float
        Step [s].

    Returns
    -------
    numpy.ndarray
        Temperature at the end of the step [°C].

    Notes
    -----
    .. math:: T(t+\Delta t) = T_\infty + (T - T_\infty)\, e^{-G \Delta t / C}

    The analytic solution of :math:`C\,dT/dt = G (T_\infty - T)`: stable for
    any step, so the same plant runs at 1 s live and at 60 s in a study.

    Examples
    --------
    >>> round(float(relax_toward(40.0, 30.0, 1000.0, 1000.0, 1.0)), 4)
    33.6788
    """
    t = np.asanyarray(t_c, dtype=float)
    decay = np.exp(-np.asanyarray(conductance_w_k) * dt_s / np.asanyarray(heat_capacity_j_k))
    return np.asanyarray(t_target_c + (t - t_target_c) * decay)


def gpu_power_factor(
    t_coolant_in_c: float | np.ndarray,
    rise_full_k: float | np.ndarray,
    t_slowdown_c: float | np.ndarray,
    t_shutdown_c: float | np.ndarray,
    floor: float | np.ndarray,
) -> np.ndarray:
    r"""Share of its demanded power a thermally protected GPU draws.

    Parameters
    ----------
    t_coolant_in_c : float or array
        Coolant at the cold plate's inlet [°C].
    rise_full_k : float or array
        Case rise over the coolant at the demanded power, :math:`R(\dot V)\,Q` [K].
    t_slowdown_c, t_shutdown_c : float or array
        Slowdown and shutdown thresholds on the case temperature [°C]
        (``nvidia-smi -q``: "GPU Slowdown Temp", "GPU Shutdown Temp"); ``inf``
        for no protection.
    floor : float or array
        Share of power the throttle leaves at the shutdown temperature [0-1].

    Returns
    -------
    numpy.ndarray
        Power factor: 1 while the case stays at or below slowdown; in between, the
        factor at which the case sits on the throttle line; 0 (a trip, whose
        latching is the caller's) when even the floor leaves it above shutdown.

    Notes
    -----
    The throttle line is linear, full power at slowdown to the floor at shutdown,
    :math:`f = 1 - k (T - T_{slow})`, :math:`k = (1 - f_{min})/(T_{shut} - T_{slow})`.
    With the case at :math:`T = T_{in} + R Q f` the governor settles where both hold:

    .. math:: f = \frac{1 - k (T_{in} - T_{slow})}{1 + k R Q}

    Solved for the settled factor, not iterated on the last temperature, so a
    step of any length cannot make it limit-cycle. A documented stand-in for the
    firmware's clock steps: NVML describes HW slowdown as "reducing the core clocks
    by a factor of 2 or more" (``nvmlClocksThrottleReasonHwSlowdown``), hence the
    catalog's floor of 0.5.

    Examples
    --------
    >>> gpu_power_factor([40.0, 60.0, 80.0], 30.0, 83.0, 90.0, 0.5).round(3).tolist()
    [1.0, 0.841, 0.0]
    """
    t_in = np.asanyarray(t_coolant_in_c, dtype=float)
    rise = np.asanyarray(rise_full_k, dtype=float)
    t_slow = np.asanyarray(t_slowdown_c, dtype=float)
    t_shut = np.asanyarray(t_shutdown_c, dtype=float)
    f_min = np.asanyarray(floor, dtype=float)
    protected = np.isfinite(t_slow) & np.isfinite(t_in)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(protected, (1.0 - f_min) / np.maximum(t_shut - t_slow, 1e-9), 0.0)
        t_rel = np.where(protected, t_in - t_slow, 0.0)
        f = np.minimum((1.0 - k * t_rel) / (1.0 + k * np.where(protected, rise, 0.0)), 1.0)
    return np.asanyarray(np.where(protected & (f < f_min), 0.0, np.where(protected, f, 1.0)))
