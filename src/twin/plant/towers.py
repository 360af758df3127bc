"""Cooling towers: cell staging, leaving water, the fan speed that reaches a target, water.

One group of identical cells on a loop (:class:`twin.plant.layout.TowerGroup`). The
live step (PI or ideal fan command) and the annual study (ideal) both call these.
The correlation is YorkCalc (:func:`twin.physics.cooling.yorkcalc_approach`), clipped
to its published bounds of validity (approach 1.1 to 40 K), as EnergyPlus clips it,
and read as an effectiveness (:func:`twin.physics.cooling.tower_effectiveness`) so that
the leaving water stays between the wet bulb and the entering water in every regime;
still cells reject the free-convection share of their full-fan capacity.
"""

from __future__ import annotations

import numpy as np

from twin.physics import cooling
from twin.plant.layout import TowerGroup
from twin.weather import WeatherSample

#: Bounds of validity of the YorkCalc approach [K] (EnergyPlus Engineering Reference,
#: "Variable Speed Cooling Towers"); the leaving water is clipped to them.
APPROACH_MIN_K = 1.1
APPROACH_MAX_K = 40.0

#: MaximalCell staging: as many cells as keep each at or above this share of its
#: design water flow (EnergyPlus "Cell Control: MaximalCell" with its input "Cell
#: Minimum Water Flow Rate Fraction" at 0.75; EnergyPlus' default is 0.33).
CELL_MIN_WATER_FRAC = 0.75

#: Design air flow of a cell from its design fan power, as EnergyPlus autosizes a
#: tower's "Design Air Flow Rate": a total fan efficiency of 0.5 against a 190 Pa
#: pressure rise (EnergyPlus Input Output Reference, CoolingTower:SingleSpeed /
#: CoolingTower:VariableSpeed, "Design Air Flow Rate"), i.e. 2.63 m³/s per kW of fan.
#: The catalog's fan power is itself EnergyPlus' autosized 1.05 % of the design heat
#: rejection, so this ties the air flow to the nominal capacity: the 4.5 MW YorkCalc
#: cell (47 kW fan) moves 124 m³/s, 149 kg/s of air for 193 kg/s of water (L/G 1.3,
#: within the 1 to 1.5 of counter-flow towers).
FAN_EFFICIENCY_DESIGN = 0.5
FAN_PRESSURE_RISE_DESIGN_PA = 190.0
#: Dry air at 20 °C and 101.325 kPa [kg/m³] (ASHRAE Fundamentals 2017, ch. 1), to turn
#: that volume into a mass flow.
AIR_DENSITY_STANDARD_KG_M3 = 1.204


def tower_cells(group: TowerGroup, m_flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cells on and the water fraction per cell (of its design flow) at ``m_flow`` [kg/s]."""
    m_flow = np.asarray(m_flow, dtype=float)
    cells = np.clip(
        np.floor(m_flow / (CELL_MIN_WATER_FRAC * group.m_flow_design_kg_s)), 1, max(group.cells, 1)
    )
    return cells, m_flow / (cells * group.m_flow_design_kg_s)


def _effectiveness_fans(
    group: TowerGroup,
    water_frac: np.ndarray,
    fan: np.ndarray | float,
    t_wet: np.ndarray | float,
    range_k: np.ndarray | float,
) -> np.ndarray:
    """Effectiveness of one cell with its fan running at ``fan`` (YorkCalc, clipped)."""
    lg = water_frac / np.maximum(fan, 1e-3)
    approach = np.clip(
        cooling.yorkcalc_approach(t_wet, range_k, lg), APPROACH_MIN_K, APPROACH_MAX_K
    )
    return cooling.tower_effectiveness(approach, np.maximum(range_k, 0.0))


def _effectiveness(
    group: TowerGroup,
    water_frac: np.ndarray,
    fan: np.ndarray | float,
    on_share: np.ndarray | float,
    working: np.ndarray,
    cells: np.ndarray,
    t_wet: np.ndarray | float,
    range_k: np.ndarray | float,
) -> np.ndarray:
    """Mean effectiveness of ``cells`` cells, ``working`` of them running ``fan`` for
    ``on_share`` of the time; a still cell rejects the free-convection share of the
    full-fan capacity (``free_convection_frac``, EnergyPlus' "Fraction of Tower
    Capacity in Free Convection Regime", default 0.125: EnergyPlus Input Output
    Reference, CoolingTower:VariableSpeed). The cells share the water equally and it
    enters them at one temperature, so their leaving waters (and effectivenesses)
    average."""
    free = group.free_convection_frac * _effectiveness_fans(group, water_frac, 1.0, t_wet, range_k)
    running = _effectiveness_fans(group, water_frac, fan, t_wet, range_k)
    running = np.maximum(running, free)  # a running fan does no worse than a still one
    cell_on = on_share * running + (1.0 - on_share) * free
    return (working * cell_on + (cells - working) * free) / cells


def _leaving(t_wet: np.ndarray | float, range_k: np.ndarray | float, eff: np.ndarray) -> np.ndarray:
    """Leaving water [°C] at effectiveness ``eff`` for water entering at ``t_wet + range / eff``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        approach = np.where(eff > 0, np.maximum(range_k, 0.0) * (1.0 - eff) / eff, 20.0)
    return np.asarray(t_wet) + approach


def tower_leaving_water(
    group: TowerGroup,
    m_flow: np.ndarray | float,
    fan_command: np.ndarray | float,
    t_wet: np.ndarray | float,
    range_k: np.ndarray | float,
    failed_cells: int = 0,
    capacity_loss: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leaving water [°C], mean fan speed and mean fan power [W] of a tower group.

    The water enters at ``range_k`` above the leaving water; the leaving water is the
    one at which the group's effectiveness
    (:func:`twin.physics.cooling.tower_effectiveness`) carries that range: it is
    always above the wet bulb, and the plant's network, which takes the tower as
    that effectiveness, never has it above the entering water. A command at or above
    the fan's minimum speed runs the fans at it (YorkCalc). A command below it
    cycles the fans at minimum speed for that share of the time (on for
    ``command / min_speed``, off the rest), as EnergyPlus' variable-speed tower does
    below its minimum air flow; a still cell (fan off or failed) rejects by free
    convection ``free_convection_frac`` of what it would at full fan (see
    :func:`_effectiveness`), where YorkCalc, at a liquid-to-gas ratio of 8, is past
    its fit. With no flow the water does not pass the tower: its "leaving"
    temperature is then 20 K above the wet bulb, a value the network never uses (the
    link's conductance is zero). A degraded group (fouled fill, blocked nozzles)
    rejects ``1 - capacity_loss`` of what a clean one does at the same water, air and
    wet bulb: its effectiveness scaled by that share.
    """
    m_flow = np.asarray(m_flow, dtype=float)
    if group.cells == 0:
        zero = np.zeros_like(m_flow)
        return np.asarray(t_wet) + 20.0 + zero, zero, zero
    cells, water_frac = tower_cells(group, m_flow)
    command = np.clip(np.asarray(fan_command, dtype=float), 0.0, 1.0)
    min_speed = group.min_fan_speed
    on_share = np.clip(command / min_speed, 0.0, 1.0)
    fan = np.maximum(command, min_speed)  # speed while running
    working = np.minimum(group.cells - failed_cells, cells)
    eff = _effectiveness(group, water_frac, fan, on_share, working, cells, t_wet, range_k)
    eff = eff * (1.0 - capacity_loss)
    flowing = m_flow > 0
    power = np.where(flowing, on_share * working * cooling.fan_power(fan, group.fan_power_w), 0.0)
    t_out = np.where(flowing, _leaving(t_wet, range_k, eff), np.asarray(t_wet) + 20.0)
    return t_out, np.where(flowing, on_share * fan, 0.0), power


def tower_fan_to_reach(
    group: TowerGroup,
    m_flow: np.ndarray | float,
    t_target: np.ndarray | float,
    t_wet: np.ndarray | float,
    range_k: np.ndarray | float,
) -> np.ndarray:
    """The fan command at which a tower group leaves water at ``t_target`` (ideal control).

    Closed form in the liquid-to-gas ratio (YorkCalc inverted) between minimum and
    full speed; below minimum speed, the cycling share (times the minimum speed) that
    mixes the free-convection and the minimum-speed effectiveness to the one the
    target needs (see :func:`tower_leaving_water`); 0 when free convection alone
    reaches the target; full speed when even full speed does not.
    """
    m_flow = np.asarray(m_flow, dtype=float)
    if group.cells == 0:
        return np.zeros_like(m_flow)
    cells, water_frac = tower_cells(group, m_flow)
    all_cells = np.minimum(group.cells, cells)
    approach_needed = np.asarray(t_target) - t_wet
    lg = cooling.yorkcalc_liquid_to_gas_ratio(t_wet, range_k, approach_needed)
    needed = cooling.tower_effectiveness(approach_needed, np.maximum(range_k, 0.0))
    still = _effectiveness(group, water_frac, 1.0, 0.0, all_cells, cells, t_wet, range_k)
    at_min = _effectiveness(
        group, water_frac, group.min_fan_speed, 1.0, all_cells, cells, t_wet, range_k
    )
    full = _effectiveness(group, water_frac, 1.0, 1.0, all_cells, cells, t_wet, range_k)
    with np.errstate(invalid="ignore", divide="ignore"):
        fan = np.where(np.isfinite(lg), water_frac / lg, np.where(needed > full, 1.0, 0.0))
        cycling = group.min_fan_speed * (needed - still) / (at_min - still)
    fan = np.clip(fan, group.min_fan_speed, 1.0)
    fan = np.where(at_min <= needed, fan, np.clip(cycling, 0.0, group.min_fan_speed))
    fan = np.where(still >= needed, 0.0, fan)
    return np.where(m_flow > 0, fan, 0.0)


#: YorkCalc's bounds of validity on its inputs (EnergyPlus Engineering Reference,
#: "Variable Speed Cooling Towers Empirical Models"; /work/shared/reference
#: COEFFICIENTS.md): wet bulb [°C], range [K], water flow fraction and LG [-].
WET_BULB_RANGE_C = (-34.4, 26.7)
RANGE_RANGE_K = (1.1, 22.2)
WATER_FRAC_RANGE = (0.75, 1.25)
LIQUID_TO_GAS_RANGE = (0.15, 8.0)


def tower_outside_correlation(
    group: TowerGroup | None,
    m_flow: np.ndarray | float,
    fan_speed: np.ndarray | float,
    t_wet: np.ndarray | float,
    range_k: np.ndarray | float,
) -> np.ndarray:
    """Where a tower group ran YorkCalc outside its bounds of validity (bool per step).

    ``fan_speed`` is the mean speed :func:`tower_leaving_water` reports; the
    correlation is read at the speed the fans run (the minimum while they cycle, full
    speed for the free-convection share when they are still). Outside the bounds the
    inputs and the approach are clipped (as EnergyPlus clips them): the study counts
    those hours (``tower_hours_outside_correlation``) rather than hiding them.
    """
    m_flow = np.asarray(m_flow, dtype=float)
    if group is None or group.cells == 0:
        return np.zeros(np.shape(m_flow), dtype=bool)
    _, water_frac = tower_cells(group, m_flow)
    speed = np.asarray(fan_speed, dtype=float)
    running = np.where(speed > 0, np.maximum(speed, group.min_fan_speed), 1.0)
    lg = water_frac / running
    t_wet = np.asarray(t_wet, dtype=float)
    range_k = np.asarray(range_k, dtype=float)
    approach = cooling.yorkcalc_approach(t_wet, range_k, lg)
    outside = (
        (t_wet < WET_BULB_RANGE_C[0])
        | (t_wet > WET_BULB_RANGE_C[1])
        | (range_k < RANGE_RANGE_K[0])
        | (range_k > RANGE_RANGE_K[1])
        | (water_frac < WATER_FRAC_RANGE[0])
        | (water_frac > WATER_FRAC_RANGE[1])
        | (lg < LIQUID_TO_GAS_RANGE[0])
        | (lg > LIQUID_TO_GAS_RANGE[1])
        | (approach < APPROACH_MIN_K)
        | (approach > APPROACH_MAX_K)
    )
    return np.asarray(outside & (m_flow > 0))


def tower_design_air_flow(group: TowerGroup) -> float:
    """Dry-air mass flow of one cell at full fan speed [kg/s] (see ``FAN_EFFICIENCY_DESIGN``)."""
    volume = group.fan_power_w * FAN_EFFICIENCY_DESIGN / FAN_PRESSURE_RISE_DESIGN_PA
    return volume * AIR_DENSITY_STANDARD_KG_M3


def tower_air_flow(
    group: TowerGroup, m_flow: np.ndarray | float, fan_speed: np.ndarray | float
) -> np.ndarray:
    """Dry-air mass flow through a tower group [kg/s] at a mean fan speed.

    ``fan_speed`` is the mean speed :func:`tower_leaving_water` reports: below the
    fan's minimum speed the fans cycle at minimum speed for ``speed / min_speed`` of
    the time and the cells breathe by free convection the rest; cells whose fans are
    off still pass ``free_convection_frac`` of the design air (YorkCalc's free
    convection regime). Air flow is proportional to fan speed (affinity law).
    """
    m_flow = np.asarray(m_flow, dtype=float)
    cells, _ = tower_cells(group, m_flow)
    speed = np.clip(np.asarray(fan_speed, dtype=float), 0.0, 1.0)
    fcf = group.free_convection_frac
    cycling = speed + (1.0 - speed / group.min_fan_speed) * fcf
    air_frac = np.where(speed >= group.min_fan_speed, np.maximum(speed, fcf), cycling)
    return np.where(m_flow > 0, cells * tower_design_air_flow(group) * air_frac, 0.0)


def tower_water_use(
    group: TowerGroup | None,
    m_flow: np.ndarray | float,
    q_rejected_w: np.ndarray | float,
    cp_water: float,
    *,
    weather: WeatherSample,
    fan_speed: np.ndarray | float,
) -> np.ndarray:
    """Water a tower group uses [kg/s]: evaporation, drift and blowdown.

    Evaporation by EnergyPlus' saturated-exit method
    (:func:`twin.physics.cooling.tower_evaporation_saturated_exit`): the air the fans
    move at ``fan_speed`` (mean speed, as :func:`tower_leaving_water` reports it)
    leaves saturated at the enthalpy the rejected heat gives it, so a dry or cold
    climate, whose air takes part of the heat as sensible heat, evaporates less.
    ``weather`` is the outdoor air (dry bulb, wet bulb, pressure) at the same times.
    Drift and blowdown as EnergyPlus' defaults (:func:`twin.physics.cooling.tower_water_use`).
    """
    m_flow = np.asarray(m_flow, dtype=float)
    if group is None:
        return np.zeros_like(m_flow)
    with np.errstate(invalid="ignore", divide="ignore"):
        range_k = np.where(m_flow > 0, np.maximum(q_rejected_w, 0.0) / (m_flow * cp_water), 0.0)
    # The mean speed is the command that gives it (tower_leaving_water), so the
    # water enters at the leaving water of that command plus the range.
    t_leaving, _, _ = tower_leaving_water(group, m_flow, fan_speed, weather.t_wet_c, range_k)
    evaporation = cooling.tower_evaporation_saturated_exit(
        q_rejected_w,
        tower_air_flow(group, m_flow, fan_speed),
        weather.t_dry_c,
        weather.t_wet_c,
        weather.p_pa,
        t_water_in_c=t_leaving + range_k,
    )
    # drift and blowdown (from this evaporation) as EnergyPlus' defaults
    evaporation, drift, blowdown = cooling.tower_water_use(
        m_flow, range_k, group.cycles, evaporation_kg_s=evaporation
    )
    return np.where(m_flow > 0, evaporation + drift + blowdown, 0.0)
