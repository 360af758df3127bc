"""The offline study: a plant run over days or a year of weather, as fast as it goes.

The study steps the same :class:`~twin.plant.model.Plant` the live twin runs,
at a coarser step (implicit integration keeps it stable), and sums the ledgers
into the figures an annual energy study reports: PUE by month, WUE, energy by
end use, water, hours per cooling mode, worst temperatures, ledger closure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from twin.loads import load_profile
from twin.plant.layout import Layout, assemble
from twin.plant.model import COOLING_MODES, Ledger, Plant
from twin.plant.quasi_steady import run_quasi_steady
from twin.plant.scenarios import Scenario, attach
from twin.site import Site
from twin.weather import Weather, load_weather

SECONDS_PER_DAY = 86400.0
_MONTH_STARTS_DAYS = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


@dataclass
class StudyResult:
    method: str
    site: str
    weather: str
    sim_seconds: float
    wall_seconds: float
    step_s: float
    ledger: Ledger
    pue_by_month: list[float | None]
    hours_by_cooling_mode: dict[str, float]
    max_cold_plate_c: float
    max_rack_inlet_c: float
    min_battery_soc: float
    extras: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict:
        """The JSON summary of ``twin simulate --json``."""
        ledger = self.ledger
        kwh = 1.0 / 3.6e6
        facility = ledger.utility + ledger.generator
        it = ledger.it
        water_l = ledger.water_kg  # 1 kg of water ≈ 1 L
        return {
            "method": self.method,
            "site": self.site,
            "weather": self.weather,
            "pue": facility / it if it else None,
            "pue_by_month": self.pue_by_month,
            "wue_l_per_kwh": water_l / (it * kwh) if it else None,
            "energy_kwh": {
                "it": it * kwh,
                "facility": facility * kwh,
                "power_losses": ledger.power_losses * kwh,
                "cooling": ledger.cooling * kwh,
                "other": ledger.other * kwh,
                "battery_net": (ledger.battery_charge - ledger.battery_discharge) * kwh,
            },
            "water_l": water_l,
            "hours_by_cooling_mode": self.hours_by_cooling_mode,
            "max_cold_plate_c": self.max_cold_plate_c,
            "max_rack_inlet_c": self.max_rack_inlet_c,
            "min_battery_soc": self.min_battery_soc,
            "it_interrupted_kwh": ledger.it_interrupted_j * kwh,
            "generator_fuel_l": ledger.fuel_l,
            "electrical_balance_error": ledger.electrical_balance_error,
            "heat_balance_error": ledger.heat_balance_error,
            "sim_seconds": self.sim_seconds,
            "wall_seconds": self.wall_seconds,
            "step_s": self.step_s,
        }


METHODS = ("fast", "dynamic")


def run_study(
    site: Site,
    duration_s: float,
    step_s: float = 60.0,
    weather: Weather | None = None,
    scenario: Scenario | None = None,
    scenario_path: object = None,
    start_s: float = 0.0,
    progress: Callable[[float], None] | None = None,
    warmup_s: float = 3600.0,
    method: str | None = None,
) -> StudyResult:
    """Run a site's plant for ``duration_s`` of plant time in steps of ``step_s``.

    ``method="fast"`` (the default without a scenario) solves the plant
    quasi-steadily over whole arrays of time (:mod:`twin.plant.quasi_steady`);
    ``"dynamic"`` (the default with a scenario, or with steps of 10 s or less)
    steps the live plant, thermal mass and control loops included. In the dynamic
    method a warm-up (an hour of plant time before ``start_s``, not counted) lets
    loop temperatures and controllers settle from their initial guesses, as an
    EnergyPlus run warms up its first day.
    """
    if method is None:
        method = "dynamic" if scenario is not None or step_s <= 10.0 else "fast"
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "fast" and scenario is not None:
        raise ValueError("scenarios need the dynamic method")
    layout = assemble(site)
    if method == "fast":
        return _run_fast(site, layout, duration_s, step_s, weather, start_s, progress)
    plant = Plant(layout, weather=weather, start_s=start_s - warmup_s)
    wall_start = time.perf_counter()
    warm_step = min(step_s, 60.0)
    while plant.t_s < start_s - 1e-9:
        plant.step(min(warm_step, start_s - plant.t_s))
    plant.ledger = Ledger()
    if scenario is not None:
        attach(plant, scenario, scenario_path)  # type: ignore[arg-type]
    n_steps = max(1, round(duration_s / step_s))
    facility_by_month = np.zeros(12)
    it_by_month = np.zeros(12)
    mode_seconds = np.zeros(3)
    max_plate = -np.inf
    max_inlet = -np.inf
    min_soc = 1.0
    last_report = 0.0
    for index in range(n_steps):
        before_facility = plant.ledger.utility + plant.ledger.generator
        before_it = plant.ledger.it
        plant.step(step_s)
        r = plant.readings
        day = ((plant.t_s - step_s / 2) / SECONDS_PER_DAY) % 365.0
        month = int(np.searchsorted(_MONTH_STARTS_DAYS, day, side="right") - 1)
        facility_by_month[month] += plant.ledger.utility + plant.ledger.generator - before_facility
        it_by_month[month] += plant.ledger.it - before_it
        mode_seconds[int(r["cooling_mode"])] += step_s
        plates = r["cold_plate_c"]
        if np.any(np.isfinite(plates)):
            max_plate = max(max_plate, float(np.nanmax(plates)))
        max_inlet = max(max_inlet, float(np.max(r["rack_inlet_c"])))
        min_soc = min(min_soc, float(np.min(r["battery_soc"])))
        if progress is not None:
            now = time.perf_counter()
            if now - last_report > 0.5 or index == n_steps - 1:
                progress((index + 1) / n_steps)
                last_report = now
    wall = time.perf_counter() - wall_start
    with np.errstate(invalid="ignore", divide="ignore"):
        monthly = facility_by_month / it_by_month
    return StudyResult(
        method="dynamic",
        site=site.name,
        weather=plant.weather.name,
        sim_seconds=n_steps * step_s,
        wall_seconds=wall,
        step_s=step_s,
        ledger=plant.ledger,
        pue_by_month=[float(x) if np.isfinite(x) else None for x in monthly],
        hours_by_cooling_mode={
            m: float(s / 3600.0) for m, s in zip(COOLING_MODES, mode_seconds, strict=True)
        },
        max_cold_plate_c=float(max_plate) if np.isfinite(max_plate) else None,  # type: ignore[arg-type]
        max_rack_inlet_c=float(max_inlet),
        min_battery_soc=min_soc,
    )


def _run_fast(
    site: Site,
    layout: Layout,
    duration_s: float,
    step_s: float,
    weather: Weather | None,
    start_s: float,
    progress: Callable[[float], None] | None,
) -> StudyResult:
    weather = weather or load_weather(site.weather)
    profile = load_profile(site.load_profile)
    n_steps = max(1, round(duration_s / step_s))
    totals, facility_month, it_month, mode_seconds, wall = run_quasi_steady(
        layout, weather, profile, start_s, n_steps, step_s, progress
    )
    ledger = Ledger(
        utility=totals.utility,
        it=totals.it,
        losses_transformer=totals.losses_transformer,
        losses_converter=totals.losses_converter,
        cooling=totals.cooling,
        other=totals.other,
        heat_sources=totals.heat_sources,
        heat_rejected=totals.heat_rejected,
        water_kg=totals.water_kg,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        monthly = facility_month / it_month
    return StudyResult(
        method="fast",
        site=site.name,
        weather=weather.name,
        sim_seconds=n_steps * step_s,
        wall_seconds=wall,
        step_s=step_s,
        ledger=ledger,
        pue_by_month=[float(x) if np.isfinite(x) else None for x in monthly],
        hours_by_cooling_mode={
            m: float(s / 3600.0) for m, s in zip(COOLING_MODES, mode_seconds, strict=True)
        },
        max_cold_plate_c=float(totals.max_cold_plate_c)
        if np.isfinite(totals.max_cold_plate_c)
        else None,  # type: ignore[arg-type]
        max_rack_inlet_c=float(totals.max_rack_inlet_c),
        min_battery_soc=1.0,
    )
