"""Findings from the shadow's residuals (twin.live.findings): clean → none; a fouled CDU
exchanger, a biased sensor → found, on the right equipment, and on nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from twin.live.findings import Finding, FindingEngine
from twin.plant import scenarios
from twin.plant.model import Plant

from .pair import registry_rows, run_pair

LEARN_S = 120.0  # the bands from two minutes of clean data (training swings included)
PERSIST_S = 60.0
FAULT_AT_S = 150.0


def _findings(seconds: int, every: int = 1, **spoil) -> tuple[list[Finding], float | None]:  # type: ignore[no-untyped-def]
    """The findings at the end, and the first time any finding stood [s of the run];
    ``every``: keep one registry row in that many (real gear rarely has all)."""
    registry = registry_rows()[::every]
    engine = FindingEngine(
        [r["point"] for r in registry], [r["equipment"] for r in registry],
        [r["area"] for r in registry], learn_s=LEARN_S, persistence_s=PERSIST_S,
    )  # fmt: skip
    first: list[float] = []

    def each(t: float, measured: np.ndarray, modelled: np.ndarray) -> None:
        if engine.update(t, measured, measured - modelled) and not first:
            first.append(t)

    run_pair(seconds, names=[r["point"] for r in registry], spoil_from_s=FAULT_AT_S, each=each,
             **spoil)  # fmt: skip
    return engine.findings, (first[0] if first else None)


def test_a_clean_plant_gives_no_finding() -> None:
    findings, _ = _findings(330)
    assert findings == []


def test_a_fouled_cdu_exchanger_is_found_in_its_hall_and_nowhere_else() -> None:
    """Hall 1's exchangers lose 15 % of UA at 150 s (weeks of fouling, at once): the
    valves of hall 1 open ~1.2 pp wider than the model's (test_shadow_plant), beyond
    the 0.5 pp floor; found once that has lasted the 60 s persistence."""

    def foul(plant: Plant) -> None:
        plant.layout.cdus.ua_w_k[plant.layout.cdus.hall == 0] *= 0.85

    findings, first = _findings(420, spoil_truth=foul)
    assert findings, "the fouling was not found"
    assert {f.device for f in findings} <= {f"hall-1-cdu{k}" for k in range(1, 5)}
    assert all("fouling" in f.kind for f in findings)
    assert all(f.size > 0.5 for f in findings)  # percentage points of valve
    assert first is not None and first - FAULT_AT_S <= 240, first


def test_a_biased_sensor_is_a_sensor_finding_not_a_process_one() -> None:
    def bias(reading: dict[str, float]) -> None:
        reading["hall-1-cdu2.t_supply_c"] += 1.5

    findings, first = _findings(300, spoil_reading=bias)
    assert [f.point for f in findings] == ["hall-1-cdu2.t_supply_c"]
    (finding,) = findings
    assert finding.kind.startswith("sensor fault")
    assert abs(finding.size - 1.5) < 0.1
    assert first is not None and first - FAULT_AT_S <= PERSIST_S + 5


def test_a_third_of_the_registry_still_finds_what_its_points_see() -> None:
    """One row in three (121 points watched of 373): hall 1's valve points are among
    them, so the fouling is found there; on the clean plant nothing is found."""

    def foul(plant: Plant) -> None:
        plant.layout.cdus.ua_w_k[plant.layout.cdus.hall == 0] *= 0.85

    assert _findings(330, every=3)[0] == []
    findings, first = _findings(420, every=3, spoil_truth=foul)
    assert findings and {f.device for f in findings} <= {f"hall-1-cdu{k}" for k in range(1, 5)}
    assert all("fouling" in f.kind for f in findings)
    assert first is not None and first - FAULT_AT_S <= 240, first


# Each degradation at the size a real plant reaches in weeks (the dashboard's defaults,
# scenarios.make_event), the equipment it must be found on, and the kind's first words.
CDUS_HALL_1 = {f"hall-1-cdu{k}" for k in range(1, 5)}
DEGRADATIONS = {
    "pump_wear": (CDUS_HALL_1, "pump wear"),  # power at the same flow +10 %
    "tower_degradation": ({f"fw-tower-{k}" for k in range(1, 4)}, "tower capacity loss"),  # -20 %
    "chiller_fouling": ({f"chiller-{k}" for k in range(1, 5)}, "chiller efficiency loss"),  # -10 %
    "converter_losses": ({"hall-1-hvdc-A1"}, "conversion losses"),  # +30 %
}


@pytest.mark.parametrize("kind", sorted(DEGRADATIONS))
def test_each_degradation_is_found_on_its_equipment_and_nowhere_else(kind: str) -> None:
    """The scenario event itself, started at 150 s in the "measured" plant only. A
    degraded facility water tower also opens the CDU valves (warmer water, as fouled
    exchangers would): the valve rule is explained upstream and finds nothing then.
    Detection times at these sizes (60 s persistence): pumps, chillers, converters
    ~60 s; the towers ~100 s (the loop's water takes its time to warm)."""

    def degrade(plant: Plant) -> None:
        scenarios.apply_command(plant, "event", {"event": scenarios.make_event(plant, kind)})

    devices, words = DEGRADATIONS[kind]
    findings, first = _findings(420, spoil_truth=degrade)
    assert findings, f"{kind} was not found"
    assert {f.device for f in findings} <= devices, findings
    assert all(f.kind.startswith(words) for f in findings), findings
    assert all(f.size > 0 for f in findings)
    assert first is not None and first - FAULT_AT_S <= 240, first


def test_a_frozen_sensor_is_found_and_called_frozen() -> None:
    """Hall 1's CDU 2 return transmitter sticks at 150 s while the training swings move
    the others: a sensor finding on it alone, named frozen."""
    held: dict[str, float] = {}

    def freeze(reading: dict[str, float]) -> None:
        point = "hall-1-cdu2.t_return_c"
        reading[point] = held.setdefault(point, reading[point])

    findings, first = _findings(400, spoil_reading=freeze)
    assert [f.point for f in findings] == ["hall-1-cdu2.t_return_c"]
    assert findings[0].kind.startswith("sensor fault: frozen")
    assert first is not None and first - FAULT_AT_S <= 240, first
