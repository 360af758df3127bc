"""GPU thermal protection and the racks' own thermal mass (issue 12, items 1 and 2).

The plant: ``aidc-10mw`` on the steady profile at 0.8, the training job's mean
(0.7 × 0.95 + 0.3 × 0.45): hall-1's 35 racks put 3.09 MW into their coolant, the
issue's figure. Each rack is a node of its own, its coolant (60 L of PG25) plus its
108 plates (260 J/K each), C = 0.060 m³ × ρ c_p + 108 × 260 J/K ≈ 269 kJ/K, so a
stopped rack heats at 88 kW / 269 kJ/K ≈ 0.33 K/s (the hall-wide node gave 0.23 K/s).
Thresholds from the rack catalog: slowdown 83 °C, shutdown 90 °C, floor 0.5.
"""

from __future__ import annotations

import numpy as np
import pytest

from twin import catalog
from twin.errors import ConfigError
from twin.loads import load_profile
from twin.physics import thermal
from twin.plant.layout import assemble
from twin.plant.model import Plant
from twin.plant.racks import rack_power, rack_utilisation
from twin.plant.scenarios import RackFlowLoss, Scenario, attach, load_scenario, scenario_path
from twin.site import load_site

EVENT_S = 10  # both scenarios lose the flow at 10 s


def _plant() -> Plant:
    plant = Plant(
        assemble(load_site("aidc-10mw")), profile=load_profile("steady"), start_s=8 * 3600.0
    )
    plant.warm_up()
    return plant


def _rack_model() -> catalog.Rack:
    rack = catalog.lookup("rack", "gpu-cold-plate-130kw")
    assert isinstance(rack, catalog.Rack)
    return rack


def _hand_time_to_slowdown(plant: Plant, index: np.ndarray) -> np.ndarray:
    """Seconds from a rack's flow loss to its hottest plate at slowdown, by hand.

    With no flow the rack's node (coolant and plates) takes all its liquid heat,
    ``T(t) = T0 + Q t / C``, and its plates sit ``R(0.4 L/min) q_plate`` above it
    (the OCP plate held at its lowest-flow resistance), so
    ``t = (T_slow − T0 − R q_plate) C / Q``. Catalog figures only; T0 is the node's
    temperature when the flow stops (its steady outlet, supply + Q/(ṁ c_p)).
    """
    rack = _rack_model()
    racks = plant.layout.racks
    u = rack_utilisation(racks, plant.site, float(plant.profile.utilisation(plant.t_s)))
    q = rack_power(racks, u)[index] * rack.liquid_frac
    capacity = racks.heat_capacity_j_k[index]
    expected_c = (
        rack.coolant_volume_l / 1000.0 * plant.layout.rho_secondary * plant.layout.cp_secondary
        + rack.cold_plates * rack.plate_heat_capacity_j_k
    )
    assert np.allclose(capacity, expected_c)
    r_stagnant = float(thermal.cold_plate_resistance(0.0))
    assert rack.t_gpu_slowdown_c is not None
    return (rack.t_gpu_slowdown_c - plant.t_rack[index] - r_stagnant * q / rack.cold_plates) * (
        capacity / q
    )


def _run(plant: Plant, seconds: int) -> list[dict]:
    trace = []
    for _ in range(seconds):
        plant.step(1.0)
        r = plant.readings.racks
        trace.append(
            {
                "t": plant.t_s,
                "plate": r.t_cold_plate_c.copy(),
                "node": plant.t_rack.copy(),
                "throttled": r.throttled_w.copy(),
                "tripped": r.tripped.copy(),
                "power": r.power_w.copy(),
            }
        )
    return trace


@pytest.fixture(scope="module")
def hall_loss() -> tuple[Plant, list[dict], np.ndarray, float]:
    plant = _plant()
    name = "hall-1-cooling-lost"
    attach(plant, load_scenario(name), scenario_path(name))
    t0 = plant.t_s
    before = _run(plant, EVENT_S - 1)  # the flow stops in the 10th step
    racks = plant.layout.racks
    hall1 = np.flatnonzero(racks.is_gpu & (racks.hall == 0))
    expected = _hand_time_to_slowdown(plant, hall1)
    trace = before + _run(plant, 600 - EVENT_S + 1)
    return plant, trace, hall1, float(expected.min()) + t0 + EVENT_S - 1


def test_hall_loss_load_is_the_issues(hall_loss) -> None:
    """The hall's liquid heat is the issue's 3.09 MW (3.09 MW / 13.2 MJ/K = 0.23 K/s)."""
    _, trace, hall1, _ = hall_loss
    power = trace[0]["power"][hall1]
    assert abs(float(power.sum()) * _rack_model().liquid_frac - 3.09e6) < 0.02 * 3.09e6


def test_hall_loss_throttles_then_trips_below_shutdown_plus_10k(hall_loss) -> None:
    """All CDU flow of hall-1 lost: GPUs throttle, then trip; no plate goes more
    than 10 K over the shutdown threshold (90 °C, the catalog's)."""
    plant, trace, hall1, _ = hall_loss
    rack = _rack_model()
    assert rack.t_gpu_shutdown_c is not None
    first_throttle = next(s["t"] for s in trace if (s["throttled"][hall1] > 0).any())
    first_trip = next(s["t"] for s in trace if s["tripped"][hall1].any())
    assert first_throttle < first_trip
    # Ten minutes on, every rack of the hall is down and stays down (no flow back).
    assert trace[-1]["tripped"][hall1].all()
    assert float(trace[-1]["power"][hall1].sum()) == 0.0
    peak = max(float(np.nanmax(s["plate"][hall1])) for s in trace)
    assert peak <= rack.t_gpu_shutdown_c + 10.0, peak
    # The other hall keeps running untouched.
    hall2 = np.flatnonzero(plant.layout.racks.is_gpu & (plant.layout.racks.hall == 1))
    assert not any(s["tripped"][hall2].any() for s in trace)


def test_hall_loss_time_to_slowdown_matches_hand_calculation(hall_loss) -> None:
    """Time from the flow loss to the first plate at slowdown, within 10 % of
    ``(T_slow − T0 − R q_plate) C / Q`` (see :func:`_hand_time_to_slowdown`)."""
    _, trace, hall1, expected_t = hall_loss
    slowdown = _rack_model().t_gpu_slowdown_c
    event_t = trace[EVENT_S - 1]["t"] - 1.0  # start of the step the flow stops in
    crossed = next(s["t"] for s in trace if float(np.nanmax(s["plate"][hall1])) >= slowdown)
    simulated, hand = crossed - event_t, expected_t - event_t
    assert 5.0 < hand < 120.0  # seconds to tens of seconds, as a rack-side loss is
    assert abs(simulated - hand) <= 0.1 * hand, (simulated, hand)


def test_hall_loss_ledger_splits_unserved_it(hall_loss) -> None:
    """Throttled and tripped IT land in their own ledger terms, not in "interrupted"
    (no power was lost); both ledgers still close within 0.1 %."""
    plant, _, _, _ = hall_loss
    ledger = plant.ledger
    assert ledger.it_throttled_j > 0.0
    assert ledger.it_tripped_j > ledger.it_throttled_j  # ten minutes down vs a few seconds
    assert ledger.it_interrupted_j == 0.0
    assert ledger.electrical_balance_error < 1e-3
    assert ledger.heat_balance_error < 1e-3


def test_one_rack_flow_loss_throttles_on_its_own_mass_neighbours_unmoved() -> None:
    """One rack's valve closed: it throttles within the time its own coolant and
    plates give (the hand time, ~20 s; within 10 %), its neighbours' plate and
    coolant temperatures move less than 1 K against the same plant without the fault."""
    name = "rack-flow-loss"
    scenario = load_scenario(name)
    target = scenario.events[0]
    assert isinstance(target, RackFlowLoss)
    faulted, reference = _plant(), _plant()
    attach(faulted, scenario, scenario_path(name))
    t_event = faulted.t_s + EVENT_S - 1
    i = faulted.layout.racks.name.index(target.rack)
    trace = _run(faulted, EVENT_S - 1)
    hand = float(_hand_time_to_slowdown(faulted, np.array([i]))[0])
    trace += _run(faulted, 150 - EVENT_S + 1)
    ref = _run(reference, 150)
    throttled_at = next(s["t"] for s in trace if s["throttled"][i] > 0) - t_event
    assert 1.0 <= throttled_at <= 60.0
    assert abs(throttled_at - hand) <= 0.1 * hand + 1.0, (throttled_at, hand)
    gpu = faulted.layout.racks.is_gpu.copy()
    gpu[i] = False
    moved = max(
        max(
            float(np.max(np.abs(s["plate"][gpu] - r["plate"][gpu]))),
            float(np.max(np.abs(s["node"][gpu] - r["node"][gpu]))),
        )
        for s, r in zip(trace, ref, strict=True)
    )
    assert moved < 1.0, moved
    rack = _rack_model()
    assert rack.t_gpu_shutdown_c is not None
    assert max(float(s["plate"][i]) for s in trace) <= rack.t_gpu_shutdown_c + 10.0


def test_rack_flow_loss_names_a_liquid_rack() -> None:
    """A rack_flow_loss on an air rack or an unknown name: one ConfigError naming the key."""
    layout = assemble(load_site("aidc-10mw"))
    for rack in ("hall-1-air001", "no-such-rack"):
        event = RackFlowLoss(kind="rack_flow_loss", at_s=0, rack=rack)
        with pytest.raises(ConfigError, match="liquid-cooled rack") as err:
            attach(Plant(layout), Scenario(events=[event]))
        assert "events.0.rack" in str(err.value)


def test_power_factor_is_the_settled_point_of_the_throttle_line() -> None:
    """Hand check of the settled throttle (thermal.gpu_power_factor): coolant 60 °C,
    30 K rise at full power: k = 0.5/7, f = (1 + 23k)/(1 + 30k) = 0.841, and the case
    at 60 + 30 f = 85.2 °C lies on the line 1 − k (T − 83) = 0.841."""
    f = float(thermal.gpu_power_factor(60.0, 30.0, 83.0, 90.0, 0.5))
    k = 0.5 / 7.0
    assert abs(f - (1 + 23 * k) / (1 + 30 * k)) < 1e-12
    assert abs((1 - k * (60.0 + 30.0 * f - 83.0)) - f) < 1e-12


def test_twin_check_rejects_a_bad_rack_with_one_message_exit_2(tmp_path) -> None:
    """``twin check`` on a rack_flow_loss naming no liquid-cooled rack: exit 2, one line
    naming the file, line and key."""
    import subprocess
    import sys

    bad = tmp_path / "bad.toml"
    bad.write_text('[[events]]\nat_s = 5\nkind = "rack_flow_loss"\nrack = "hall-9-gpu001"\n')
    done = subprocess.run(
        [sys.executable, "-m", "twin.cli", "check", "--kind", "scenario", "--site", "aidc-10mw",
         str(bad)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "events.0.rack" in lines[0] and "line 4" in lines[0], lines


def test_rack_nodes_settle_on_the_annual_solvers_temperatures() -> None:
    """At steady load the rack node is the rack return the annual solver implies,
    ``T_supply + Q/(ṁ c_p)``, and the plate is ``T_supply + R(V̇) q_plate`` as in
    ``quasi_steady`` (its ``plate_r``): the node changes transients, not steady states."""
    plant = _plant()
    for _ in range(300):  # 5 more minutes at 1 s: the nodes' time constant is C/(ṁ c_p) ≈ 26 s
        plant.step(1.0)
    racks, layout = plant.layout.racks, plant.layout
    gpu = racks.is_gpu
    r = plant.readings.racks
    t_supply = plant.t_tcs_supply[racks.hall][gpu]
    q = r.power_w[gpu] * racks.liquid_frac[gpu]
    m = r.coolant_flow_lpm[gpu] * layout.rho_secondary / 60000.0
    assert np.allclose(plant.t_rack[gpu], t_supply + q / (m * layout.cp_secondary), atol=0.05)
    flow = r.coolant_flow_lpm[gpu] / racks.cold_plates[gpu]
    plate = t_supply + thermal.cold_plate_resistance(flow) * q / racks.cold_plates[gpu]
    assert np.allclose(r.t_cold_plate_c[gpu], plate, atol=1e-9)


def test_annual_plates_stay_below_slowdown_so_the_fast_study_needs_no_throttle(annual) -> None:
    """The quasi-steady solver does not throttle; that is right only while no plate of
    the year reaches slowdown (aidc-10mw: 54 °C against 83 °C)."""
    result = annual("aidc-10mw", None)
    slowdown = _rack_model().t_gpu_slowdown_c
    assert slowdown is not None
    assert result.max_cold_plate_c < slowdown - 10.0
