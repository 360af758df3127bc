"""The shadow plant run beside a collector: ticked on its own thread from live state.

Each tick takes the latest good reading of every point from the live state, steps
the shadow by the plant time since the last tick (the simulated site's clock in
``twin run``, the wall clock for real gear), and keeps what the operator's summary
needs: per point the recent residuals (measured − modelled), and for the site's
headline powers the paired series GL14 health is computed from.

A tick that fails is logged once and counted; the collector never waits on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

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
    """

    def __init__(
        self,
        site: Site,
        state: LiveState,
        plant_clock: Callable[[], float],
        interval_s: float = 1.0,
        learn_s: float = 30.0,
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
            for key, (times, ys, y_hats) in self._series.items():
                i = self._headline[key]
                assert i is not None
                if good[i] and np.isfinite(modelled[i]):
                    times.append(now)
                    ys.append(float(value[i]))
                    y_hats.append(float(modelled[i]))

    def summary(self) -> dict:
        """Coverage, health and recent residuals, for the ``--json`` summary."""
        with self._lock:
            ring = self.ring[:, : min(self._pos, RING)].copy()
            series = {k: tuple(np.array(x) for x in v) for k, v in self._series.items()}
        out: dict = {
            "coverage": self.shadow.coverage.json(),
            "ticks": self.ticks,
            "tick_failures": self.failures,
            "tick_ms_p50": round(1e3 * float(np.median(self.tick_s)), 2) if self.tick_s else None,
            "residual": "measured - modelled",
        }
        out["health"] = {k: model_health(*v).json() | _sample_figures(*v) for k, v in
                         series.items()}  # fmt: skip
        with np.errstate(all="ignore"):
            p95 = np.nanpercentile(np.abs(ring), 95, axis=1) if ring.shape[1] else None
        if p95 is not None:
            supplies = [i for i, n in enumerate(self.names)
                        if n.endswith(".t_supply_c") and "-cdu" in n]  # fmt: skip
            worst = float(np.nanmax(p95[supplies])) if supplies else float("nan")
            out["cdu_supply_p95_k"] = round(worst, 4) if np.isfinite(worst) else None
            median = np.nanmedian(ring, axis=1)
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
