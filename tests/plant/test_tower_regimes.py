"""Towers in every regime: free convection, no heat added, fan control without limit cycles.

Issue 12 item 3. The tower is read as an effectiveness on the wet bulb
(``physics.cooling.tower_effectiveness``): the heat it takes is
ε·ṁ·c_p·(T_in − T_wb) with the entering water from the same implicit solve, so its
leaving water lies between the wet bulb and the entering water in every regime.
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.physics.cooling import tower_effectiveness, yorkcalc_approach
from twin.plant.layout import TowerGroup, assemble
from twin.plant.model import Plant
from twin.plant.scenarios import attach, load_scenario
from twin.plant.towers import tower_fan_to_reach, tower_leaving_water, tower_outside_correlation
from twin.site import load_site

# The shipped 4.5 MW YorkCalc cell (models/tower/yorkcalc-4500kw.toml), three cells.
GROUP = TowerGroup(
    cells=3,
    m_flow_design_kg_s=4.5e6 / (4186.0 * 5.56),
    fan_power_w=47e3,
    min_fan_speed=0.3,
    free_convection_frac=0.125,
    cycles=4.0,
    capacity_w=4.5e6,
)
JULY_S = 196 * 86400.0  # 15 July, 00:00


def _reversals(x: np.ndarray, tol: float = 0.01) -> int:
    """Direction changes of ``x`` that move at least ``tol`` (a 1 % speed hysteresis,
    so that round-off and sub-percent wobble do not count as a fan reversing)."""
    count, extreme, direction = 0, float(x[0]), 0
    for v in map(float, x[1:]):
        if direction >= 0 and v < extreme - tol:
            count += direction == 1
            direction, extreme = -1, v
        elif direction <= 0 and v > extreme + tol:
            count += direction == -1
            direction, extreme = 1, v
        elif (direction >= 0 and v > extreme) or (direction <= 0 and v < extreme):
            extreme = v
    return count


def _effectiveness_at(fan: float, range_k: float = 5.56, t_wet: float = 25.55) -> float:
    t_out, _, _ = tower_leaving_water(GROUP, 3 * GROUP.m_flow_design_kg_s, fan, t_wet, range_k)
    return range_k / (float(t_out) + range_k - t_wet)


def test_free_convection_rejects_its_share_with_the_fans_off() -> None:
    """With the fans off a tower still rejects EnergyPlus' free-convection share.

    EnergyPlus Input Output Reference, CoolingTower:VariableSpeed, "Fraction of Tower
    Capacity in Free Convection Regime" (default 0.125; the shipped cell's
    ``free_convection_frac``). Hand calc at YorkCalc's design point (Twb 25.55 °C,
    range 5.56 K, LG 1): approach 3.845 K, so ε_full = 5.56 / (5.56 + 3.845) = 0.5912;
    with the fans off ε = 0.125 · 0.5912 = 0.0739, i.e. for water entering at the
    same 34.955 °C the still tower takes 0.0739 · ṁc_p · 9.405 K, 12.5 % of the
    full-fan heat, and leaves it below the entering water and above the wet bulb.
    """
    full = _effectiveness_at(1.0)
    assert full == pytest.approx(5.56 / (5.56 + 3.845), abs=2e-4)
    still = _effectiveness_at(0.0)
    assert still == pytest.approx(0.125 * full, rel=1e-9)
    assert still == pytest.approx(0.0739, abs=2e-4)
    # Every fan command: ε between free convection and full fan, non-decreasing.
    effs = [_effectiveness_at(f) for f in np.linspace(0.0, 1.0, 41)]
    assert min(effs) == pytest.approx(still) and max(effs) == pytest.approx(full)
    assert np.all(np.diff(effs) >= -1e-12)


def test_fan_to_reach_inverts_leaving_water_in_every_regime() -> None:
    """Ideal control (annual solver) and the step's leaving water are one model.

    For targets from below reach (full fan) through cycling (below the 30 % minimum)
    to above free convection (fans off), the command found by ``tower_fan_to_reach``
    gives back the target, or the nearest reachable leaving water.
    """
    m = np.full(7, 3 * GROUP.m_flow_design_kg_s)
    t_wet, range_k = 10.0, 8.0
    targets = np.array([12.0, 14.0, 18.0, 22.0, 26.0, 30.0, 80.0])
    fan = tower_fan_to_reach(GROUP, m, targets, t_wet, range_k)
    t_out, _, _ = tower_leaving_water(GROUP, m, fan, t_wet, range_k)
    t_full, _, _ = tower_leaving_water(GROUP, m, 1.0, t_wet, range_k)
    t_still, _, _ = tower_leaving_water(GROUP, m, 0.0, t_wet, range_k)
    reachable = (targets >= t_full) & (targets <= t_still)
    np.testing.assert_allclose(t_out[reachable], targets[reachable], atol=0.02)
    assert np.all(fan[targets < t_full] == 1.0) and np.all(fan[targets > t_still] == 0.0)
    # Leaving water above the wet bulb in every regime (approach ≥ 0).
    assert np.all(t_out > t_wet)


def test_yorkcalc_bounds_are_counted() -> None:
    """A wet bulb above YorkCalc's 26.7 °C (COEFFICIENTS.md bounds) is outside the
    correlation; the design point (25.55 °C, 5.56 K, LG 1, approach 3.845 K) is in."""
    m = 3 * GROUP.m_flow_design_kg_s
    assert not tower_outside_correlation(GROUP, m, 1.0, 25.55, 5.56)
    assert tower_outside_correlation(GROUP, m, 1.0, 28.0, 5.56)
    assert tower_outside_correlation(GROUP, m, 1.0, 20.0, 30.0)  # range > 22.2 K
    assert float(yorkcalc_approach(25.55, 5.56, 1.0)) == pytest.approx(3.845, abs=1e-3)
    assert float(tower_effectiveness(3.845, 5.56)) == pytest.approx(0.5912, abs=1e-4)


@pytest.mark.parametrize("start_s", [0.0, JULY_S], ids=["january", "july"])
def test_tower_fan_failure_never_heats_the_water_and_the_fan_settles(start_s: float) -> None:
    """``tower-fan-failure`` (one fw cell's fan out for an hour at 10 min), 80 min at 1 s.

    Before issue 12 the extrapolated correlation left the water hotter than it came
    in for 2,400 of 4,800 steps (up to 10.5 MW added) and the fan limit-cycled every
    step. Must hold: the facility water towers take heat every step (leaving <
    entering), the condenser towers never give heat to their water (none flows
    while the chillers are off), and in this steady weather the fan
    reverses direction (by more than 1 % of speed) at most 4 times per hour.
    """
    plant = Plant(assemble(load_site("aidc-10mw")), start_s=start_s)
    attach(plant, load_scenario("tower-fan-failure"))
    seconds = 4800
    q, fan, t_in = np.empty(seconds), np.empty(seconds), np.empty(seconds)
    q_cw = np.empty(seconds)
    for i in range(seconds):
        plant.step(1.0)
        q[i] = plant.readings.fw.tower_heat_w
        q_cw[i] = plant.readings.cw.tower_heat_w
        fan[i] = plant.readings.fw.fan_speed
        t_in[i] = plant.t_fw[1]
    assert q.min() > 0.0  # the facility water towers (the scenario's loop)
    assert q_cw.min() >= 0.0  # the condenser towers, exchangers with the wet bulb too
    # Leaving water above the wet bulb: the heat is at most ṁc_p·(T_in − T_wb).
    t_wet = float(plant.weather.at(plant.t_s).t_wet_c)
    assert np.all(t_in > t_wet)
    # Settled after the first 5 min (the start from the initial state is not weather).
    assert _reversals(fan[300:]) <= 4 * (seconds - 300) / 3600


@pytest.mark.parametrize("weather", ["urumqi", "beijing", "shanghai", "shenzhen"])
def test_year_has_no_tower_heating_its_water(annual, weather: str) -> None:
    """A fast year in every shipped climate: no step with a tower's leaving water above
    its entering water (study counter), and the hours outside YorkCalc are reported.

    Shenzhen's wet bulb exceeds YorkCalc's 26.7 °C upper bound in summer (issue 12:
    939 h), so its study must report hours outside the correlation.
    """
    summary = annual("aidc-10mw", weather).summary()
    assert summary["tower_hours_leaving_above_entering"] == 0.0
    assert summary["tower_max_leaving_minus_entering_k"] < 0.0
    assert summary["tower_hours_outside_correlation"] >= 0.0
    if weather == "shenzhen":
        assert summary["tower_hours_outside_correlation"] > 100.0
