"""Pump-group staging for least power (affinity laws)."""

from __future__ import annotations

import numpy as np
import pytest

from twin.plant.layout import PumpGroup
from twin.plant.pumps import PUMP_MAX_SPEED, pump_group_power, pump_group_staging

# Four 48 kW pumps of 100 kg/s at design, minimum speed 0.3 (the example).
GROUP = PumpGroup(pumps=4, m_flow_design_kg_s=100.0, power_w=48e3, min_speed=0.3)


def test_power_non_decreasing_in_flow() -> None:
    # Fine grid from no flow to past what four pumps carry at the highest speed; the
    # head is the affinity law's (∝ speed²) at every point, as in the plant.
    m = np.linspace(0.0, 1.3 * 4 * 100.0, 20001)
    power = pump_group_power(GROUP, m)
    assert np.all(np.diff(power) >= -1e-9 * power.max())
    n_on, speed = pump_group_staging(GROUP, m)
    running = m > 0
    assert np.all((speed[running] >= GROUP.min_speed) & (speed[running] <= PUMP_MAX_SPEED))
    assert np.all((n_on[running] >= 1) & (n_on[running] <= GROUP.pumps))
    np.testing.assert_array_equal(n_on[~running], 0)
    # Each pump carries its share at its speed, or more at minimum speed (recirculated).
    carried = n_on * speed * GROUP.m_flow_design_kg_s
    assert np.all(carried[running] >= np.minimum(m[running], 4 * PUMP_MAX_SPEED * 100.0) - 1e-9)


def test_hand_checked_points() -> None:
    # Half flow (200 kg/s): 1 pump cannot (2.0 > 1.2); 2 pumps at 1.0: 2·48·1³ = 96 kW;
    # 3 at 0.667: 3·48·0.2963 = 42.67 kW; 4 at 0.5: 4·48·0.125 = 24 kW -> 4 pumps, 24 kW.
    n_on, speed = pump_group_staging(GROUP, 200.0)
    assert (int(n_on), float(speed)) == (4, 0.5)
    assert float(pump_group_power(GROUP, 200.0)) == pytest.approx(24e3, rel=1e-12)
    # 76 % (304 kg/s): four at 0.76: 4·48·0.76³ = 84.28 kW (above the 24 kW at half flow).
    assert float(pump_group_power(GROUP, 304.0)) == pytest.approx(4 * 48e3 * 0.76**3, rel=1e-12)
    # 50 kg/s: 1 pump at 0.5: 6 kW; 2 at minimum speed 0.3 (0.25 asked): 2·48·0.027
    # = 2.592 kW; 3 or 4 at 0.3: 3.888, 5.184 kW -> two pumps at minimum speed.
    n_on, speed = pump_group_staging(GROUP, 50.0)
    assert (int(n_on), float(speed)) == (2, 0.3)
    assert float(pump_group_power(GROUP, 50.0)) == pytest.approx(2 * 48e3 * 0.3**3, rel=1e-12)


def test_vectorised_and_one_pump() -> None:
    m = np.array([[0.0, 50.0], [200.0, 304.0]])
    n_on, speed = pump_group_staging(GROUP, m)
    assert n_on.shape == speed.shape == m.shape
    np.testing.assert_array_equal(n_on, [[0, 2], [4, 4]])
    single = PumpGroup(pumps=1, m_flow_design_kg_s=100.0, power_w=10e3, min_speed=0.3)
    # Past the highest speed the one pump runs at it (as before).
    assert float(pump_group_staging(single, 150.0)[1]) == PUMP_MAX_SPEED
    assert float(pump_group_power(single, 50.0)) == pytest.approx(10e3 * 0.125, rel=1e-12)
