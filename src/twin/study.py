"""The annual study from Python: a site's year (or days) as a pandas DataFrame.

    >>> from twin.study import simulate
    >>> frame = simulate("aidc-10mw", days=1, step_s=900)
    >>> len(frame), round(float(frame["it_energy_kwh"].sum()) / 1e3)
    (96, 196)
    >>> summary = frame.attrs["summary"]
    >>> bool(abs(summary["energy_kwh"]["it"] / frame["it_energy_kwh"].sum() - 1) < 1e-12)
    True

One row per study step, indexed by the step's start (a timestamp in 2001, a
non-leap year standing for the typical year); the columns and their units are
:data:`COLUMNS` (docs/study.md). ``frame.attrs["summary"]`` is the JSON summary
of ``twin simulate --json`` for the same run. pandas is imported on first use,
so ``twin simulate`` without ``--out`` does not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from twin.errors import ConfigError
from twin.plant.model import COOLING_MODES
from twin.plant.quasi_steady import SERIES_COLUMNS
from twin.plant.study import StudyResult, run_study
from twin.site import Site, load_site
from twin.weather import Weather, load_weather

if TYPE_CHECKING:
    import pandas

#: Column name → (unit, meaning), in the frame's order; the index is ``time``.
COLUMNS: dict[str, tuple[str, str]] = {name: (unit, text) for name, unit, text in SERIES_COLUMNS}

#: The year the typical year's timestamps are labelled with (any non-leap year would do).
TYPICAL_YEAR = 2001

#: File types ``write`` (and ``twin simulate --out``) knows, by suffix.
FORMATS = (".parquet", ".csv")


def simulate(
    site: str | Path | Site = "aidc-10mw",
    *,
    weather: str | Path | Weather | None = None,
    days: float = 365.0,
    step_s: float = 60.0,
    start_day: float = 0.0,
    method: str | None = None,
    scenario: str | Path | None = None,
    progress: Callable[[float], None] | None = None,
) -> pandas.DataFrame:
    """Run the study and return its time series (see module notes).

    Parameters
    ----------
    site : str, Path or Site
        A shipped site name, a site TOML path, or a loaded site.
    weather : str, Path or Weather, optional
        A shipped climate, an EPW/.mos path or loaded weather; default the site's own.
    days, step_s, start_day : float
        Span [d], step [s] and first day of year, as ``twin simulate``.
    method : {"fast", "dynamic"}, optional
        As :func:`twin.plant.study.run_study` (default: fast unless a scenario or
        a step of 10 s or less asks for the stepped plant).
    scenario : str or Path, optional
        A scenario name or TOML path (dynamic method).
    progress : callable, optional
        Called with the fraction done (0-1) about twice a second.
    """
    return frame_of(
        study(
            site,
            weather=weather,
            days=days,
            step_s=step_s,
            start_day=start_day,
            method=method,
            scenario=scenario,
            progress=progress,
        )
    )


def study(
    site: str | Path | Site = "aidc-10mw",
    *,
    weather: str | Path | Weather | None = None,
    days: float = 365.0,
    step_s: float = 60.0,
    start_day: float = 0.0,
    method: str | None = None,
    scenario: str | Path | None = None,
    progress: Callable[[float], None] | None = None,
) -> StudyResult:
    """The run behind :func:`simulate`, its series kept (``frame_of`` makes the frame)."""
    from twin.plant.scenarios import load_scenario, scenario_path

    loaded = site if isinstance(site, Site) else load_site(site)
    if weather is None:
        weather = load_weather(loaded.weather)
    elif not isinstance(weather, Weather):
        weather = load_weather(weather)
    return run_study(
        loaded,
        days * 86400.0,
        step_s=step_s,
        weather=weather,
        scenario=load_scenario(scenario) if scenario else None,
        scenario_path=scenario_path(scenario) if scenario else None,
        start_s=start_day * 86400.0,
        progress=progress,
        method=method,
        record=True,
    )


def frame_of(result: StudyResult) -> pandas.DataFrame:
    """The DataFrame of a recorded run (``run_study(..., record=True)``)."""
    import pandas as pd

    if result.series is None:
        raise ValueError("the run kept no time series: run_study(..., record=True)")
    columns = dict(result.series)
    columns["cooling_mode"] = pd.Categorical.from_codes(
        columns["cooling_mode"], categories=list(COOLING_MODES)
    )
    start = pd.Timestamp(year=TYPICAL_YEAR, month=1, day=1)
    index = pd.DatetimeIndex(start + pd.to_timedelta(columns["t_s"], unit="s"), name="time")
    frame = pd.DataFrame({name: columns[name] for name in COLUMNS}, index=index)
    frame.attrs["summary"] = result.summary()
    return frame


def check_output(path: Path) -> None:
    """Refuse an output path ``write`` cannot write, before a run is spent on it."""
    if path.suffix.lower() not in FORMATS:
        raise ConfigError(path, f"unknown output type {path.suffix!r}; use {' or '.join(FORMATS)}")
    if not path.parent.is_dir():
        raise ConfigError(path, "its folder does not exist")


def write(frame: pandas.DataFrame, path: Path) -> None:
    """Write the frame as Parquet (pyarrow) or CSV, by the path's suffix.

    CSV carries the ``time`` index as its first column in ISO 8601; Parquet keeps
    the types (timestamps, the categorical cooling mode, int8 month) and the
    summary in ``attrs``.
    """
    check_output(path)
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, engine="pyarrow")
    else:
        frame.to_csv(path, date_format="%Y-%m-%dT%H:%M:%S")
