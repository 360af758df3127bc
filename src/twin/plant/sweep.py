"""Design sweeps: the annual study over a grid of site variants, on Dask.

A designer asks "what if the facility water ran at 26, 30 or 34 °C, in each of
five climates?". :func:`sweep` builds the grid (every combination of the values
given per site key), runs :func:`twin.plant.study.run_study` once per case on a
``dask.distributed`` cluster (a :class:`~distributed.LocalCluster` on this
machine by default, or a running scheduler at ``tcp://host:port``), and returns one
row per case as a :class:`pandas.DataFrame`, units in the column names.

Each case is a plain dict of site overrides (``{"weather": "beijing",
"cooling.facility_water.t_supply_c": 26}``) applied to the site's TOML before it
is validated, so a sweep case is exactly the site a user would get by editing the
file: the same checks, the same error for a key that does not exist. Workers load
the site themselves; only the overrides and the result row cross the wire, so a
case run on a cluster is bit-for-bit the case run alone.
"""

from __future__ import annotations

import itertools
import logging
import math
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twin.errors import ConfigError
from twin.plant.model import COOLING_MODES
from twin.plant.study import run_study
from twin.site import Site, load_site
from twin.weather import SHIPPED_WEATHER, load_weather

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ROW_COLUMNS", "cases_from_vary", "parse_vary", "run_case", "sweep"]

#: The result columns of every case, after the case's own override columns.
ROW_COLUMNS: tuple[str, ...] = (
    "pue",
    "wue_l_per_kwh",
    "it_mwh",
    "facility_mwh",
    "power_losses_mwh",
    "cooling_mwh",
    "other_mwh",
    "water_m3",
    *(f"hours_{mode}_h" for mode in COOLING_MODES),
    "max_cold_plate_c",
    "max_rack_inlet_c",
    "min_battery_soc",
    "study_wall_s",
)


def _value(text: str) -> Any:
    """A TOML scalar (``26``, ``26.5``, ``true``, ``"x"``), else the bare text as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_vary(item: str) -> tuple[str, list[Any]]:
    """``KEY=V1,V2,...`` → ``(KEY, [V1, V2, ...])``; a ConfigError names the item if malformed.

    >>> parse_vary("cooling.facility_water.t_supply_c=26,30.5")
    ('cooling.facility_water.t_supply_c', [26, 30.5])
    """
    key, sep, values = item.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip():
        raise ConfigError(Path("--vary"), f"expected KEY=V1,V2,..., got {item!r}")
    parsed = [_value(v.strip()) for v in values.split(",") if v.strip()]
    if not parsed:
        raise ConfigError(Path("--vary"), f"no values for {key!r}")
    return key, parsed


def cases_from_vary(vary: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the values given per key, the first key varying slowest."""
    keys = list(vary)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*vary.values())]


def load_site_variant(site: str, overrides: Mapping[str, Any]) -> Site:
    """The site with ``overrides`` applied to its TOML; an error names the case."""
    try:
        return load_site(site, overrides)
    except ConfigError as error:
        case = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        raise ConfigError(Path("--vary"), f"case {case}: {error}") from None


def run_case(
    site: str, overrides: Mapping[str, Any], duration_s: float, step_s: float
) -> dict[str, Any]:
    """One sweep case: the annual (or shorter) study of a site variant, as a result row.

    Module-level and given only plain data so a Dask worker can run it anywhere.
    """
    variant = load_site_variant(site, overrides)
    result = run_study(
        variant, duration_s, step_s=step_s, weather=load_weather(variant.weather), method="fast"
    )
    s = result.summary()
    energy = s["energy_kwh"]
    hours = s["hours_by_cooling_mode"]

    def number(value: float | None) -> float:
        return float(value) if value is not None else math.nan

    return {
        "pue": number(s["pue"]),
        "wue_l_per_kwh": number(s["wue_l_per_kwh"]),
        "it_mwh": energy["it"] / 1e3,
        "facility_mwh": energy["facility"] / 1e3,
        "power_losses_mwh": energy["power_losses"] / 1e3,
        "cooling_mwh": energy["cooling"] / 1e3,
        "other_mwh": energy["other"] / 1e3,
        "water_m3": s["water_l"] / 1e3,
        **{f"hours_{mode}_h": hours[mode] for mode in COOLING_MODES},
        "max_cold_plate_c": number(s["max_cold_plate_c"]),
        "max_rack_inlet_c": number(s["max_rack_inlet_c"]),
        "min_battery_soc": number(s["min_battery_soc"]),
        "study_wall_s": s["wall_seconds"],
    }


def _serial(
    site: str,
    cases: list[dict[str, Any]],
    duration_s: float,
    step_s: float,
    progress: Callable[[int, int], None] | None,
) -> list[dict[str, Any]]:
    rows = []
    for index, case in enumerate(cases):
        rows.append(run_case(site, case, duration_s, step_s))
        if progress:
            progress(index + 1, len(cases))
    return rows


def _on_dask(
    site: str,
    cases: list[dict[str, Any]],
    duration_s: float,
    step_s: float,
    workers: int,
    scheduler: str | None,
    progress: Callable[[int, int], None] | None,
) -> list[dict[str, Any]]:
    from dask.distributed import Client, LocalCluster, as_completed

    if scheduler:
        cluster = None
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as error:
            raise ConfigError(
                Path("--scheduler"), f"no Dask scheduler answers at {scheduler!r}: {error}"
            ) from None
    else:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.WARNING,
        )
        client = Client(cluster)
    try:
        futures = [
            client.submit(run_case, site, case, duration_s, step_s, pure=False) for case in cases
        ]
        index_of = {future.key: index for index, future in enumerate(futures)}
        rows: list[dict[str, Any] | None] = [None] * len(cases)
        for done, future in enumerate(as_completed(futures), start=1):
            rows[index_of[future.key]] = future.result()
            if progress:
                progress(done, len(cases))
        return rows  # type: ignore[return-value]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def sweep(
    site: str,
    vary: Mapping[str, Sequence[Any]],
    *,
    days: float = 365.0,
    step_s: float = 60.0,
    workers: int = 2,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Run the study of ``site`` over every combination of ``vary``; one row per case.

    Parameters
    ----------
    site : str
        Site name (``aidc-10mw``) or path to a site TOML.
    vary : mapping of str to sequence
        Dotted site keys (``cooling.facility_water.t_supply_c``, ``weather``,
        ``halls.0.gpu_racks``) to the values each takes.
    days : float
        Plant time per case, days (365: the typical year).
    step_s : float
        Study step, s (the fast quasi-steady method).
    workers : int
        Worker processes of the local Dask cluster; 0 runs the cases one after the
        other in this process (the reference a cluster run must equal).
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``) instead of a
        local cluster.
    progress : callable, optional
        Called with (cases done, cases in all) as cases finish.

    Returns
    -------
    pandas.DataFrame
        The override columns (one per key of ``vary``) then :data:`ROW_COLUMNS`.
    """
    import pandas as pd

    cases = cases_from_vary(vary)
    # Every case is validated here first: a typo fails at once, not on a worker an
    # hour into the sweep.
    climates = set()
    for case in cases:
        climates.add(load_site_variant(site, case).weather)
    for climate in sorted(climates):
        load_weather(climate)
    duration_s = days * 86400.0
    if workers == 0 and not scheduler:
        rows = _serial(site, cases, duration_s, step_s, progress)
    else:
        rows = _on_dask(site, cases, duration_s, step_s, workers, scheduler, progress)
    frame = pd.DataFrame([{**case, **row} for case, row in zip(cases, rows, strict=True)])
    return frame[[*vary, *ROW_COLUMNS]]


def all_weather() -> list[str]:
    """Every shipped climate, for ``--weather all``."""
    return list(SHIPPED_WEATHER)


def describe(cases: Iterable[Mapping[str, Any]]) -> str:
    """``3 cases: weather × t_supply_c`` for the progress line."""
    cases = list(cases)
    keys = list(cases[0]) if cases else []
    plural = "s" if len(cases) != 1 else ""
    return f"{len(cases)} case{plural} over {' × '.join(keys) or 'the site as it is'}"
