"""The measured boundary conditions a shadow plant is driven by.

The plant asks its weather for ``at(t)`` and its load profile for
``utilisation(t, window_s)``; these two stand in for the typical year and the
shipped profile with what the instruments read, falling back to the site's own
files (and saying so) for what the registry does not measure.
"""

from __future__ import annotations

import numpy as np

from twin.physics import weather as psy
from twin.plant.layout import Layout
from twin.plant.racks import rack_power, rack_utilisation
from twin.weather import Weather, WeatherSample

#: Utilisation grid the IT power curve is tabulated on [-].
_U_GRID = np.linspace(0.0, 1.0, 1001)


class MeasuredWeather:
    """Outdoor air from measured dry and wet bulb; the site's weather file for the rest.

    The station pressure always comes from the file (no plant room measures it; it
    moves a few hundred pascals, which moves a wet-bulb psychrometric result by
    hundredths of a kelvin). Dry or wet bulb not measured (``None``): the file's.
    """

    def __init__(self, fallback: Weather) -> None:
        self.fallback = fallback
        self.t_dry_c: float | None = None
        self.t_wet_c: float | None = None

    def measure(self, t_dry_c: float | None, t_wet_c: float | None) -> None:
        """The latest good readings (``None`` where a reading is missing or bad)."""
        self.t_dry_c = _finite(t_dry_c)
        self.t_wet_c = _finite(t_wet_c)

    @property
    def measured(self) -> bool:
        return self.t_dry_c is not None and self.t_wet_c is not None

    def at(self, t_s: float) -> WeatherSample:
        base = self.fallback.at(t_s)
        if not self.measured:
            return base
        t_dry = np.asarray(self.t_dry_c, dtype=float)
        t_wet = np.minimum(np.asarray(self.t_wet_c, dtype=float), t_dry)
        p = np.asarray(base.p_pa, dtype=float)
        w = psy.humidity_ratio_from_wet_bulb(t_dry, t_wet, p)
        p_w = w * p / (0.621945 + w)  # ASHRAE 2017 ch. 1 eq. 20, solved for p_w
        rh = np.clip(100.0 * p_w / psy.saturation_vapour_pressure(t_dry), 0.0, 100.0)
        return WeatherSample(
            t_dry_c=t_dry, t_dew_c=_dew_point(p_w), rh_pct=rh, p_pa=p, t_wet_c=t_wet
        )


def _dew_point(p_w: np.ndarray) -> np.ndarray:
    """Dew point [°C] of a vapour pressure [Pa], by the Hyland-Wexler curve inverted."""
    grid = np.linspace(-60.0, 60.0, 2401)
    return np.asarray(np.interp(p_w, psy.saturation_vapour_pressure(grid), grid))


def _finite(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return float(value)


class MeasuredLoad:
    """The site utilisation that makes the plant's racks draw the measured IT power.

    The plant spreads one site utilisation over its racks (GPU racks by their
    offsets, air racks at their steady figure); the total is monotonic in it, so a
    tabulated curve inverts it. Until a reading arrives, the site's profile.
    """

    def __init__(self, layout: Layout, fallback: object) -> None:
        self.fallback = fallback
        racks = layout.racks
        u = rack_utilisation(racks, layout.site, _U_GRID[:, None])
        self.p_grid_w = rack_power(racks, u).sum(axis=1)
        self.u: float | None = None

    def measure(self, it_power_w: float | None) -> None:
        """The latest good IT power reading [W] (``None``: keep the last one)."""
        value = _finite(it_power_w)
        if value is not None:
            self.u = float(np.interp(value, self.p_grid_w, _U_GRID))

    def utilisation(self, t_s: float, window_s: float = 0.0) -> np.ndarray:
        if self.u is None:
            return self.fallback.utilisation(t_s, window_s=window_s)  # type: ignore[attr-defined]
        return np.asarray(self.u)
