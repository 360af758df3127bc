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
from twin.physics.metrics import power_usage_effectiveness, water_usage_effectiveness
from twin.plant.chillers import COOLING_MODES
from twin.plant.layout import Layout, assemble
from twin.plant.ledger import Ledger
from twin.plant.model import Plant
from twin.plant.quasi_steady import MONTHLY_TERMS, SERIES_COLUMNS, month_of, run_quasi_steady
from twin.plant.scenarios import Scenario, attach
from twin.site import Site
from twin.weather import Weather, load_weather

SECONDS_PER_DAY = 86400.0
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_KWH = 1.0 / 3.6e6


def _finite(ratio: np.ndarray) -> float | None:
    """A ratio of twin.physics.metrics as JSON: None where it is undefined (no IT energy)."""
    value = float(ratio)
    return value if np.isfinite(value) else None


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
    #: :data:`~twin.plant.quasi_steady.MONTHLY_TERMS` by month: energy [J], water [kg], [s].
    monthly: dict[str, np.ndarray] = field(default_factory=dict)
    #: With ``record=True``: the :data:`~twin.plant.quasi_steady.SERIES_COLUMNS`, one
    #: value per step (``cooling_mode`` as 0 free, 1 partial, 2 mechanical).
    series: dict[str, np.ndarray] | None = None
    extras: dict[str, float] = field(default_factory=dict)

    def months(self) -> list[dict]:
        """Each month's PUE, WUE, energy by end use, water and cooling-mode hours.

        A month the run did not reach has zero energy and ``None`` ratios. Steps are
        counted in the month of their midpoint.
        """
        out = []
        for index, name in enumerate(MONTH_NAMES):
            m = {term: float(values[index]) for term, values in self.monthly.items()}
            if not m:
                m = dict.fromkeys(MONTHLY_TERMS, 0.0)
            out.append(
                {
                    "month": name,
                    "pue": _finite(power_usage_effectiveness(m["facility"], m["it"])),
                    "wue_l_per_kwh": _finite(
                        water_usage_effectiveness(m["water_kg"], m["it"] * _KWH)
                    ),
                    "energy_kwh": {
                        term: m[term] * _KWH
                        for term in ("it", "facility", "cooling", "power_losses", "other")
                    },
                    "water_l": m["water_kg"],
                    "hours_by_cooling_mode": {
                        mode: m[f"{mode}_s"] / 3600.0 for mode in COOLING_MODES
                    },
                }
            )
        return out

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
            "pue": _finite(power_usage_effectiveness(facility, it)),
            "pue_by_month": self.pue_by_month,
            "monthly": self.months(),
            "wue_l_per_kwh": _finite(water_usage_effectiveness(water_l, it * kwh)),
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
            "it_throttled_kwh": ledger.it_throttled_j * kwh,
            "it_tripped_kwh": ledger.it_tripped_j * kwh,
            "generator_fuel_l": ledger.fuel_l,
            # Towers in every regime: steps with leaving water above entering (0 by
            # construction, counted to show it), the largest leaving minus entering
            # [K], and the hours YorkCalc ran outside its bounds (inputs clipped).
            "tower_hours_leaving_above_entering": ledger.tower_heating_s / 3600.0,
            "tower_max_leaving_minus_entering_k": _finite(np.asarray(ledger.tower_max_rise_k)),
            "tower_hours_outside_correlation": ledger.tower_outside_correlation_s / 3600.0,
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
    record: bool = False,
) -> StudyResult:
    """Run a site's plant for ``duration_s`` of plant time in steps of ``step_s``.

    ``method="fast"`` (the default without a scenario) solves the plant
    quasi-steadily over whole arrays of time (:mod:`twin.plant.quasi_steady`);
    ``"dynamic"`` (the default with a scenario, or with steps of 10 s or less)
    steps the live plant, thermal mass and control loops included. In the dynamic
    method a warm-up (an hour of plant time before ``start_s``, not counted) lets
    loop temperatures and controllers settle from their initial guesses, as an
    EnergyPlus run warms up its first day. ``record`` keeps the time series of every
    step (:attr:`StudyResult.series`); without it the run costs nothing extra.
    """
    if method is None:
        method = "dynamic" if scenario is not None or step_s <= 10.0 else "fast"
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "fast" and scenario is not None:
        raise ValueError("scenarios need the dynamic method")
    layout = assemble(site)
    if method == "fast":
        return _run_fast(site, layout, duration_s, step_s, weather, start_s, progress, record)
    plant = Plant(layout, weather=weather, start_s=start_s - warmup_s)
    wall_start = time.perf_counter()
    warm_step = min(step_s, 60.0)
    while plant.t_s < start_s - 1e-9:
        plant.step(min(warm_step, start_s - plant.t_s))
    plant.ledger = Ledger()
    if scenario is not None:
        attach(plant, scenario, scenario_path)  # type: ignore[arg-type]
    n_steps = max(1, round(duration_s / step_s))
    monthly = {term: np.zeros(12) for term in MONTHLY_TERMS}
    mode_terms = ("free_s", "partial_s", "mechanical_s")
    mode_seconds = np.zeros(3)
    max_plate = -np.inf
    max_inlet = -np.inf
    min_soc = 1.0
    last_report = 0.0
    before = _ledger_terms(plant.ledger)
    series = {name: np.empty(n_steps) for name, _, _ in SERIES_COLUMNS} if record else None
    liquid = len(layout.cdus.name) > 0
    for index in range(n_steps):
        plant.step(step_s)
        r = plant.readings
        month = int(month_of(plant.t_s, step_s))
        after = _ledger_terms(plant.ledger)
        for term, value in after.items():
            monthly[term][month] += value - before[term]
        if series is not None:
            _record_step(series, index, plant, before, after, step_s, month, liquid)
        before = after
        mode = int(r.site.cooling_mode)
        mode_seconds[mode] += step_s
        monthly[mode_terms[mode]][month] += step_s
        plates = r.racks.t_cold_plate_c
        if np.any(np.isfinite(plates)):
            max_plate = max(max_plate, float(np.nanmax(plates)))
        max_inlet = max(max_inlet, float(np.max(r.racks.t_inlet_c)))
        min_soc = min(min_soc, float(np.min(r.power.battery_soc)))
        if progress is not None:
            now = time.perf_counter()
            if now - last_report > 0.5 or index == n_steps - 1:
                progress((index + 1) / n_steps)
                last_report = now
    wall = time.perf_counter() - wall_start
    pue_by_month = power_usage_effectiveness(monthly["facility"], monthly["it"])
    return StudyResult(
        method="dynamic",
        site=site.name,
        weather=plant.weather.name,
        sim_seconds=n_steps * step_s,
        wall_seconds=wall,
        step_s=step_s,
        ledger=plant.ledger,
        pue_by_month=[float(x) if np.isfinite(x) else None for x in pue_by_month],
        hours_by_cooling_mode={
            m: float(s / 3600.0) for m, s in zip(COOLING_MODES, mode_seconds, strict=True)
        },
        max_cold_plate_c=float(max_plate) if np.isfinite(max_plate) else None,  # type: ignore[arg-type]
        max_rack_inlet_c=float(max_inlet),
        min_battery_soc=min_soc,
        monthly=monthly,
        series=_typed(series),
    )


def _typed(series: dict[str, np.ndarray] | None) -> dict[str, np.ndarray] | None:
    if series is not None:
        series["month"] = series["month"].astype(np.int8)
        series["cooling_mode"] = series["cooling_mode"].astype(np.int8)
    return series


def _record_step(
    series: dict[str, np.ndarray],
    i: int,
    plant: Plant,
    before: dict[str, float],
    after: dict[str, float],
    dt: float,
    month: int,
    liquid: bool,
) -> None:
    """One row of the dynamic study's time series (see SERIES_COLUMNS)."""
    r = plant.readings
    energy = {term: after[term] - before[term] for term in after}  # [J] in the step
    cdu_pumps = float(np.sum(r.cdus.pump_power_w))
    crah = float(np.sum(r.crah.fan_power_w))
    mech = {
        "chiller": float(np.sum(r.chw.chiller_power_w)),
        "fans": float(r.fw.fan_power_w) + float(r.cw.fan_power_w),
        "pumps": float(r.fw.pump_power_w + r.chw.pump_power_w + r.cw.pump_power_w),
    }
    # The mechanical plant counts only while energised (the plant leaves it out of the
    # cooling ledger otherwise): scale its readings to the ledger's share.
    raw = sum(mech.values())
    share = (energy["cooling"] / dt - cdu_pumps - crah) / raw if raw > 0 else 0.0
    share = min(max(share, 0.0), 1.0)
    tr = float(np.sum(r.power.transformer_loss_w))
    conv = float(np.sum(r.power.system_loss_w) + np.sum(r.power.pdu_loss_w))
    kw, kwh = 1e-3, 1.0 / 3.6e6
    plates = r.racks.t_cold_plate_c
    nan = float("nan")
    row = {
        "t_s": plant.t_s - dt,
        "month": month + 1,
        "it_power_kw": energy["it"] / dt * kw,
        "facility_power_kw": energy["facility"] / dt * kw,
        "cooling_power_kw": energy["cooling"] / dt * kw,
        "chiller_power_kw": mech["chiller"] * share * kw,
        "heat_rejection_fan_power_kw": mech["fans"] * share * kw,
        "pump_power_kw": (cdu_pumps + mech["pumps"] * share) * kw,
        "crah_fan_power_kw": crah * kw,
        "power_losses_kw": energy["power_losses"] / dt * kw,
        "transformer_losses_kw": tr * kw,
        "converter_losses_kw": conv * kw,
        "battery_losses_kw": (energy["power_losses"] / dt - tr - conv) * kw,
        "other_power_kw": energy["other"] / dt * kw,
        "it_energy_kwh": energy["it"] * kwh,
        "facility_energy_kwh": energy["facility"] * kwh,
        "cooling_energy_kwh": energy["cooling"] * kwh,
        "power_losses_energy_kwh": energy["power_losses"] * kwh,
        "other_energy_kwh": energy["other"] * kwh,
        "pue": float(power_usage_effectiveness(energy["facility"], energy["it"])),
        "it_utilisation": float(r.site.utilisation),
        "t_dry_bulb_c": float(r.site.t_dry_c),
        "t_wet_bulb_c": float(r.site.t_wet_c),
        "t_cdu_supply_c": float(np.max(plant.t_tcs_supply)) if liquid else nan,
        "t_cdu_return_c": float(np.max(plant.t_tcs_return)) if liquid else nan,
        "t_fw_supply_c": float(plant.t_fw[0]) if liquid else nan,
        "t_fw_return_c": float(plant.t_fw[1]) if liquid else nan,
        "t_chw_supply_c": float(plant.t_chw[0]),
        "t_chw_return_c": float(plant.t_chw[1]),
        "t_cw_supply_c": float(plant.t_cw[0]),
        "t_cw_return_c": float(plant.t_cw[1]),
        "t_supply_air_c": float(np.max(plant.t_air)),
        "max_cold_plate_c": float(np.nanmax(plates)) if np.any(np.isfinite(plates)) else nan,
        "max_rack_inlet_c": float(np.max(r.racks.t_inlet_c)),
        "cooling_mode": int(r.site.cooling_mode),
        "water_l": energy["water_kg"],
    }
    for name, value in row.items():
        series[name][i] = value


def _ledger_terms(ledger: Ledger) -> dict[str, float]:
    """The ledger's running totals of the energy and water terms summed by month."""
    return {
        "it": ledger.it,
        "facility": ledger.utility + ledger.generator,
        "cooling": ledger.cooling,
        "power_losses": ledger.power_losses,
        "other": ledger.other,
        "water_kg": ledger.water_kg,
    }


def _run_fast(
    site: Site,
    layout: Layout,
    duration_s: float,
    step_s: float,
    weather: Weather | None,
    start_s: float,
    progress: Callable[[float], None] | None,
    record: bool,
) -> StudyResult:
    weather = weather or load_weather(site.weather)
    profile = load_profile(site.load_profile)
    n_steps = max(1, round(duration_s / step_s))
    ledger, (max_plate, max_inlet), monthly, mode_seconds, wall, series = run_quasi_steady(
        layout, weather, profile, start_s, n_steps, step_s, progress, record
    )
    pue_by_month = power_usage_effectiveness(monthly["facility"], monthly["it"])
    return StudyResult(
        method="fast",
        site=site.name,
        weather=weather.name,
        sim_seconds=n_steps * step_s,
        wall_seconds=wall,
        step_s=step_s,
        ledger=ledger,
        pue_by_month=[float(x) if np.isfinite(x) else None for x in pue_by_month],
        hours_by_cooling_mode={
            m: float(s / 3600.0) for m, s in zip(COOLING_MODES, mode_seconds, strict=True)
        },
        max_cold_plate_c=float(max_plate) if np.isfinite(max_plate) else None,  # type: ignore[arg-type]
        max_rack_inlet_c=float(max_inlet),
        min_battery_soc=1.0,
        monthly=monthly,
        series=series,
    )
