"""Session-wide fixtures: annual studies are computed once and shared."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from twin.plant.study import StudyResult, run_study
from twin.site import load_site
from twin.weather import load_weather

# The fast (quasi-steady) study runs at the 1-minute step; the dynamic
# plant at EnergyPlus' usual 15-minute step, where its controls are ideal too.
STEP_S = {"fast": 60.0, "dynamic": 900.0}


@pytest.fixture(scope="session")
def annual() -> Callable[..., StudyResult]:
    cache: dict[tuple[str, str | None, str], StudyResult] = {}

    def run(site: str, weather: str | None, method: str = "fast") -> StudyResult:
        key = (site, weather, method)
        if key not in cache:
            loaded = load_site(site)
            cache[key] = run_study(
                loaded,
                365 * 86400.0,
                step_s=STEP_S[method],
                weather=load_weather(weather) if weather else None,
                method=method,
            )
        return cache[key]

    return run


@pytest.fixture(autouse=True)
def own_state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Each test (and each ``twin`` it starts) keeps its default spool to itself.

    Without it a test that leaves out ``--spool`` used ~/.local/state/twin/spool and
    was refused ("in use by another process") whenever the user, or another test,
    ran ``twin run`` at the same time.
    """
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    monkeypatch.delenv("TWIN_SPOOL", raising=False)
