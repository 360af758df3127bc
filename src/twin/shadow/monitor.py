"""The shadow plant run beside a collector: ticked on its own thread from live state.

Each tick takes the latest good reading of every point from the live state, steps
the shadow by the plant time since the last tick (the simulated site's clock in
``twin run``, the wall clock for real gear), and keeps what the operator's summary
needs: per point the recent residuals (measured − modelled), and for the site's
headline powers the paired series GL14 health is computed from.

A tick that fails is logged once and counted; the collector never waits on it.

After the settling time the residuals also feed a :class:`~twin.live.findings.FindingEngine`:
it learns each watched point's band from ``band_learn_s`` of plant time, then raises
a finding for a departure that lasts ``persistence_s``. :meth:`TwinMonitor.feed_alarms`,
called from the thread that evaluates the alarms, turns each standing finding into an
ISA-18.2 alarm (``twin-finding`` on the point) and clears it when the finding goes.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from twin.live.findings import Finding, FindingEngine
from twin.live.residuals import model_health
from twin.live.state import LiveState
from twin.shadow.model import ShadowPlant
from twin.site import Site

log = logging.getLogger(__name__)

#: Site quantities whose model health (GL14) the summary reports.
HEADLINE = {
    "facility_power": "site-meter.facility_power_kw",
    "it_power": "site-meter.it_power_kw",
}
#: Residuals kept per point for the recent-residual figures [ticks].
RING = 600


def standard_time_of_year_s(unix_s: float, utc_offset_h: float) -> float:
    """Seconds since Jan 1 00:00 of the current year in the site's standard time.

    The plant's clock (the weather file's and the load profile's): a real plant's
    shadow runs on the wall clock read this way, daylight saving never applied, as an
    EPW year has none.

    Examples
    --------
    >>> standard_time_of_year_s(1767225600.0, 8.0)  # 2026-01-01 00:00 UTC is 08:00 in Beijing
    28800.0
    """
    local = unix_s + utc_offset_h * 3600.0
    year = datetime.fromtimestamp(local, UTC).year
    return local - datetime(year, 1, 1, tzinfo=UTC).timestamp()


def wall_plant_clock(site: Site) -> Callable[[], float]:
    """The plant clock of a real site: the wall clock in its weather file's time zone."""
    from twin.weather import load_weather

    offset_h = load_weather(site.weather).utc_offset_h
    return lambda: standard_time_of_year_s(time.time(), offset_h)


class TwinMonitor:
    """The shadow of ``site`` fed from ``state`` every ``interval_s`` of wall time.

    Parameters
    ----------
    site : Site
        The measured plant's site description.
    state : LiveState
        The collector's live state (read only).
    plant_clock : callable
        The measured plant's time [s from Jan 1, local standard time]; its
        difference between ticks is the shadow's step.
    interval_s : float
        Wall time between ticks [s].
    learn_s : float
        Plant time before residual figures count: loops settle, the boundary fills.
    band_learn_s : float
        Plant time of clean data, after ``learn_s``, each watched point's residual band
        is learned from (10 min by default: a training job's swing or two) [s].
    persistence_s : float
        How long a departure must last to be a finding, and be gone to clear [s].
    """

    def __init__(
        self,
        site: Site,
        state: LiveState,
        plant_clock: Callable[[], float],
        interval_s: float = 1.0,
        learn_s: float = 30.0,
        band_learn_s: float = 600.0,
        persistence_s: float = 300.0,
    ) -> None:
        self.state = state
        self.clock = plant_clock
        self.interval_s = interval_s
        self.learn_s = learn_s
        self.names = [p.name for p in state.points]
        self.start_s = plant_clock()
        self.shadow = ShadowPlant(site, self.names, start_s=self.start_s)
        self.modelled = np.full(len(self.names), np.nan)
        self.ring = np.full((len(self.names), RING), np.nan)
        self.ticks = 0
        self.failures = 0
        self.tick_s: list[float] = []
        self._pos = 0
        self._last_s = self.start_s
        self._headline = {k: state.index.get(v) for k, v in HEADLINE.items()}
        self._series: dict[str, tuple[list[float], list[float], list[float]]] = {
            k: ([], [], []) for k, i in self._headline.items() if i is not None
        }
        points = state.points
        self.engine = FindingEngine(
            self.names, [p.equipment for p in points], [p.area for p in points],
            learn_s=band_learn_s, persistence_s=persistence_s,
        )  # fmt: skip
        self._raised: set[str] = set()  # points with a twin-finding alarm standing
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="twin-shadow", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> TwinMonitor:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception:  # the twin must never stop the monitoring beside it
                self.failures += 1
                if self.failures == 1:
                    log.exception("shadow plant tick failed (further failures counted)")

    def tick(self) -> None:
        """One step of the shadow on the latest good readings."""
        now = self.clock()
        dt = now - self._last_s
        if dt <= 0:
            return
        self._last_s = now
        state = self.state
        good = state.good_ts > 0
        value = state.value.copy()
        measured = {n: float(value[i]) for i, n in enumerate(self.names) if good[i]}
        started = time.perf_counter()
        modelled = self.shadow.tick(measured, dt)
        self.tick_s.append(time.perf_counter() - started)
        del self.tick_s[:-1000]
        residual = np.where(good, value - modelled, np.nan)
        with self._lock:
            self.modelled = modelled
            self.ticks += 1
            if now - self.start_s < self.learn_s:
                return
            self.ring[:, self._pos % RING] = residual
            self._pos += 1
            self.engine.update(now, np.where(good, value, np.nan), residual)
            for key, (times, ys, y_hats) in self._series.items():
                i = self._headline[key]
                assert i is not None
                if good[i] and np.isfinite(modelled[i]):
                    times.append(now)
                    ys.append(float(value[i]))
                    y_hats.append(float(modelled[i]))

    def findings(self) -> list[Finding]:
        """The findings standing after the latest tick."""
        with self._lock:
            return list(self.engine.findings)

    def feed_alarms(self, alarms: Any, now: float | None = None) -> None:
        """Raise a ``twin-finding`` alarm per standing finding, clear those gone.

        ``alarms`` is the collector's :class:`~twin.live.alarms.AlarmEngine`; call this
        where its other conditions are evaluated (the feeder's tick), not from the
        shadow's thread.
        """
        standing = {f.point: f for f in self.findings()}
        for point, f in standing.items():
            alarm = alarms.system(
                "twin-finding", point, True,
                f"{f.kind}; {f.size:+.2f} {f.unit} beyond the model's band",
                priority="medium", now=now,
            )  # fmt: skip
            alarm.device = f.device
        for point in self._raised - standing.keys():
            alarms.system("twin-finding", point, False, priority="medium", now=now)
        self._raised = set(standing)

    def summary(self) -> dict:
        """Coverage, health and recent residuals, for the ``--json`` summary."""
        with self._lock:
            ring = self.ring[:, : min(self._pos, RING)].copy()
            series = {k: tuple(np.array(x) for x in v) for k, v in self._series.items()}
        out: dict = {
            "coverage": self.shadow.coverage.json(),
            "start_s": self.start_s,  # plant time the shadow began (findings' since_s)
            "ticks": self.ticks,
            "tick_failures": self.failures,
            "tick_ms_p50": round(1e3 * float(np.median(self.tick_s)), 2) if self.tick_s else None,
            "residual": "measured - modelled",
            "watched_points": int(self.engine.watched.size),
            "bands": "learning" if self.engine.learning else "learned",
            "findings": [f.json() for f in self.findings()],
        }
        out["health"] = {k: model_health(*v).json() | _sample_figures(*v) for k, v in
                         series.items()}  # fmt: skip
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # points never read: NaN rows
            p95 = np.nanpercentile(np.abs(ring), 95, axis=1) if ring.shape[1] else None
            median = np.nanmedian(ring, axis=1) if ring.shape[1] else None
        if p95 is not None and median is not None:
            supplies = [i for i, n in enumerate(self.names)
                        if n.endswith(".t_supply_c") and "-cdu" in n]  # fmt: skip
            worst = float(np.nanmax(p95[supplies])) if supplies else float("nan")
            out["cdu_supply_p95_k"] = round(worst, 4) if np.isfinite(worst) else None
            order = np.argsort(-np.nan_to_num(np.abs(median)))[:5]
            out["largest_median_residuals"] = [
                {"point": self.names[i], "median": round(float(median[i]), 4)}
                for i in order
                if np.isfinite(median[i])
            ]
        return out


def _sample_figures(t: np.ndarray, y: np.ndarray, y_hat: np.ndarray) -> dict:
    """NMBE and CV(RMSE) over the samples themselves, for runs shorter than GL14's hours."""
    from twin.live.residuals import cv_rmse, nmbe

    def number(x: float) -> float | None:
        return None if not np.isfinite(x) else round(x, 4)

    return {
        "samples": int(y.size),
        "sample_nmbe_pct": number(nmbe(y, y_hat)) if y.size > 1 else None,
        "sample_cv_rmse_pct": number(cv_rmse(y, y_hat)) if y.size > 1 else None,
    }
