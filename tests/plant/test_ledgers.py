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


@pytest.mark.parametrize("site", ["aidc-10mw", "legacy-air-2mw"])
def test_ledgers_close_over_a_year(site: str, annual) -> None:
    result = annual(site, None)
    assert result.ledger.electrical_balance_error < LEDGER_TOLERANCE
    assert result.ledger.heat_balance_error < LEDGER_TOLERANCE
