"""Both ledgers close within 0.1 % (DESIGN.md §4), live and in a study."""

from __future__ import annotations

import pytest

from twin.plant.study import run_study
from twin.site import load_site

LEDGER_TOLERANCE = 1e-3  # the 0.1 %


def test_ledgers_close_over_a_day_with_pi_control() -> None:
    # 10 s steps run the PI loops, as the live twin does.
    result = run_study(load_site("aidc-10mw"), 86400.0, step_s=10.0)
    assert result.ledger.electrical_balance_error < LEDGER_TOLERANCE
    assert result.ledger.heat_balance_error < LEDGER_TOLERANCE
    # Something real flowed through both ledgers.
    assert result.ledger.it > 5e11  # > 140 MWh: a day of the 10 MW site at ~75 % utilisation
    assert result.ledger.heat_rejected > 0.9 * result.ledger.it


def test_ledgers_close_over_a_year_of_the_dynamic_plant(annual) -> None:
    # The dynamic plant stores heat in its loops, so its heat ledger is a real
    # check: sources − rejected − stored, summed over 35,040 steps.
    result = annual("aidc-10mw", None, "dynamic")
    assert result.ledger.electrical_balance_error < LEDGER_TOLERANCE
    assert result.ledger.heat_balance_error < LEDGER_TOLERANCE
    assert abs(result.ledger.heat_stored) < 1e-3 * result.ledger.heat_sources


@pytest.mark.parametrize("site", ["aidc-10mw", "legacy-air-2mw"])
def test_ledgers_close_over_a_year_of_the_fast_study(site: str, annual) -> None:
    result = annual(site, None)
    assert result.ledger.electrical_balance_error < LEDGER_TOLERANCE
    assert result.ledger.heat_balance_error < LEDGER_TOLERANCE


@pytest.mark.parametrize(
    ("site", "weather"), [("aidc-10mw", None), ("legacy-air-2mw", None), ("aidc-10mw", "urumqi")]
)
def test_fast_study_agrees_with_the_dynamic_plant(site: str, weather: str | None, annual) -> None:
    # Same physics, two solvers: quasi-steady over the time axis at 1-min steps
    # against the stepped plant (thermal mass, staging on measured temperatures)
    # at 15-min steps. Annual PUE within 1 %, cooling energy within 8 %.
    fast = annual(site, weather).summary()
    dynamic = annual(site, weather, "dynamic").summary()
    assert abs(fast["pue"] - dynamic["pue"]) / dynamic["pue"] < 0.01
    cooling_fast = fast["energy_kwh"]["cooling"]
    cooling_dynamic = dynamic["energy_kwh"]["cooling"]
    assert abs(cooling_fast - cooling_dynamic) / cooling_dynamic < 0.08
    assert abs(fast["max_rack_inlet_c"] - dynamic["max_rack_inlet_c"]) < 1.0
    for mode, hours in dynamic["hours_by_cooling_mode"].items():
        assert abs(fast["hours_by_cooling_mode"][mode] - hours) < 24.0
