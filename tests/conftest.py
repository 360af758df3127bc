"""Session-wide fixtures: annual studies are computed once and shared."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from twin.plant.study import StudyResult, run_study
from twin.site import load_site
from twin.weather import load_weather

ANNUAL_STEP_S = 900.0  # EnergyPlus' usual 15-min step; ideal control at this step


@pytest.fixture(scope="session")
def annual() -> Callable[[str, str | None], StudyResult]:
    cache: dict[tuple[str, str | None], StudyResult] = {}

    def run(site: str, weather: str | None) -> StudyResult:
        key = (site, weather)
        if key not in cache:
            loaded = load_site(site)
            cache[key] = run_study(
                loaded,
                365 * 86400.0,
                step_s=ANNUAL_STEP_S,
                weather=load_weather(weather) if weather else None,
            )
        return cache[key]

    return run
