"""Tower water use in the plant: design air flow, and evaporation with the weather."""

from __future__ import annotations

import numpy as np
import pytest

from twin.physics.weather import wet_bulb_temperature
from twin.plant.layout import TowerGroup
from twin.plant.towers import tower_air_flow, tower_design_air_flow, tower_water_use
from twin.weather import WeatherSample

# The shipped 4.5 MW YorkCalc cell (models/tower/yorkcalc-4500kw.toml).
CELL = TowerGroup(
    cells=3,
    m_flow_design_kg_s=4.5e6 / (4186.0 * 5.56),
    fan_power_w=47e3,
    min_fan_speed=0.3,
    free_convection_frac=0.125,
    cycles=4.0,
    capacity_w=4.5e6,
)


def _weather(t_dry: float, t_dew: float, p: float = 101325.0) -> WeatherSample:
    t_wet = float(wet_bulb_temperature(t_dry, t_dew, p))
    return WeatherSample(*(np.asarray(x) for x in (t_dry, t_dew, 0.0, p, t_wet)))


def test_design_air_flow_energyplus_autosizing() -> None:
    # EnergyPlus autosizing: V = P_fan·0.5/190 Pa = 47 kW·0.5/190 = 123.7 m³/s; at
    # 1.204 kg/m³, 148.9 kg/s, for 193.3 kg/s of water: L/G = 1.30. Arithmetic: 1e-3.
    assert tower_design_air_flow(CELL) == pytest.approx(47e3 * 0.5 / 190.0 * 1.204, rel=1e-12)
    assert CELL.m_flow_design_kg_s / tower_design_air_flow(CELL) == pytest.approx(1.30, abs=5e-3)
    m = 3 * CELL.m_flow_design_kg_s  # three cells on
    # Full speed: three cells' design air; fans cycling at 0.15 mean speed (half the
    # time at 0.3): 0.15 + 0.5·0.125 of design; fans off: free convection only.
    air = tower_air_flow(CELL, m, np.array([1.0, 0.15, 0.0]))
    np.testing.assert_allclose(
        air / (3 * tower_design_air_flow(CELL)), [1.0, 0.2125, 0.125], rtol=1e-12
    )


def test_water_use_depends_on_climate() -> None:
    m = 3 * CELL.m_flow_design_kg_s
    q = 3 * 3.5e6
    cold_dry = tower_water_use(CELL, m, q, 4186.0, weather=_weather(-10.0, -20.0), fan_speed=0.5)
    hot_humid = tower_water_use(CELL, m, q, 4186.0, weather=_weather(30.0, 26.0), fan_speed=0.5)
    assert float(cold_dry) < 0.8 * float(hot_humid)
    no_towers = tower_water_use(None, m, q, 4186.0, weather=_weather(30.0, 26.0), fan_speed=0.5)
    assert float(no_towers) == 0.0
