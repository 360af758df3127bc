"""Outdoor weather for the plant: read a typical year once, interpolate it at any time.

``load_weather("beijing")`` reads a file shipped in ``sim/weather/`` (see its
README); ``load_weather("/path/to/site.epw")`` reads a user's file. Two formats are
understood:

- EnergyPlus EPW (``.epw``): 8 header lines, then one row of 35 comma-separated
  fields per record. The row's time stamp is the END of its hour (hour 1 covers
  00:00-01:00 and is stamped 01:00), in local standard time.
- Modelica table (``.mos``), as written by Modelica Buildings' weather converter:
  ``#`` comment lines (the EPW header copied, and one ``#Cn`` line per column),
  a ``double name(rows, columns)`` declaration, then whitespace-separated rows.
  Column 1 is the time in seconds from the start of the year, used as written.

The wet bulb is derived once per file (:func:`twin.physics.weather.wet_bulb_temperature`)
and files are cached by path, size and modification time, so loading the same
weather twice costs nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twin.errors import ConfigError
from twin.paths import data_path
from twin.physics.weather import wet_bulb_temperature

__all__ = ["SHIPPED_WEATHER", "Weather", "WeatherSample", "load_weather"]

#: Short names of the typical years shipped in ``sim/weather/``.
SHIPPED_WEATHER: dict[str, str] = {
    "shenzhen": "CHN_Guangdong.Shenzhen.594930_SWERA.mos",
    "shanghai": "CHN_Shanghai.Shanghai.583620_CSWD.epw",
    "chengdu": "CHN_Sichuan.Chengdu.562940_CSWD.epw",
    "beijing": "CHN_Beijing.Beijing.545110_CSWD.epw",
    "urumqi": "CHN_Xinjiang.Uygur.Urumqi.514630_CSWD.epw",
}

_HOUR_S = 3600.0
_DAY_S = 86400.0
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_EPW_HEADER_LINES = 8
_EPW_FIELDS = 35


@dataclasses.dataclass(frozen=True)
class _Quantity:
    """One weather quantity: its EPW field (1-based), label and valid range.

    The ranges are those of the EnergyPlus Weather Converter's EPW definition;
    each lies strictly inside the format's missing-value marker (99.9, 999,
    999999), so a marker is reported as out of range.
    """

    attribute: str
    epw_field: int  # or the .mos column, once found from its header
    label: str
    unit: str
    low: float
    high: float
    missing: float


_QUANTITIES = (
    _Quantity("t_dry_c", 7, "dry bulb", "°C", -70.0, 70.0, 99.9),
    _Quantity("t_dew_c", 8, "dew point", "°C", -70.0, 70.0, 99.9),
    _Quantity("rh_pct", 9, "relative humidity", "%", 0.0, 110.0, 999.0),
    _Quantity("p_pa", 10, "station pressure", "Pa", 31000.0, 120000.0, 999999.0),
)


class _Location(NamedTuple):
    """The EPW LOCATION record (also copied into a .mos header)."""

    city: str
    data_set: str
    station: str
    latitude: float
    longitude: float
    utc_offset_h: float
    elevation_m: float


@dataclasses.dataclass(frozen=True)
class WeatherSample:
    """Weather interpolated at a set of times; each array has the shape of ``t_s``."""

    t_dry_c: NDArray[np.float64]
    t_dew_c: NDArray[np.float64]
    rh_pct: NDArray[np.float64]
    p_pa: NDArray[np.float64]
    t_wet_c: NDArray[np.float64]


@dataclasses.dataclass(frozen=True, eq=False)
class Weather:
    """A year of outdoor weather, read from a file; arrays are read-only.

    Attributes
    ----------
    name : str
        Short name (``"beijing"``) for a shipped file, else the file's city.
    source : str
        File name and data set, e.g. ``"CHN_Beijing.Beijing.545110_CSWD.epw
        (CSWD, station 545110)"``.
    latitude, longitude : float
        Station position [degrees north, degrees east].
    elevation_m : float
        Station elevation [m].
    utc_offset_h : float
        Time zone of the time stamps [hours from UTC], e.g. 8.0 for China.
    time_s : numpy.ndarray
        Time of each record [s from Jan 1 00:00 local standard time]: the end of
        the hour for EPW (3600 … 31,536,000), the file's own column for ``.mos``.
    t_dry_c, t_dew_c : numpy.ndarray
        Dry bulb and dew point temperature [°C].
    rh_pct : numpy.ndarray
        Relative humidity [%].
    p_pa : numpy.ndarray
        Station pressure [Pa].
    t_wet_c : numpy.ndarray
        Thermodynamic wet bulb [°C], derived at load.
    period_s : float
        Length of the year the records repeat with [s]: 365 days, or 366 for a
        leap-year file.
    """

    name: str
    source: str
    latitude: float
    longitude: float
    elevation_m: float
    utc_offset_h: float
    time_s: NDArray[np.float64]
    t_dry_c: NDArray[np.float64]
    t_dew_c: NDArray[np.float64]
    rh_pct: NDArray[np.float64]
    p_pa: NDArray[np.float64]
    t_wet_c: NDArray[np.float64]
    period_s: float

    def at(self, t_s: ArrayLike) -> WeatherSample:
        """Interpolate every quantity linearly at simulation times ``t_s``.

        Parameters
        ----------
        t_s : numeric
            Simulation time [s from Jan 1 00:00 local standard time]; any shape.
            Times beyond one year (or before zero) wrap around the year, so a
            multi-year run repeats the typical year; between the last record and
            the first of the next year the values are interpolated across the seam.

        Returns
        -------
        WeatherSample
            Arrays of the shape of ``t_s``.
        """
        t_s = np.asanyarray(t_s, dtype=np.float64)
        time, values = _padded_table(self)
        phase = np.mod(t_s, self.period_s)
        return WeatherSample(*(np.interp(phase, time, row) for row in values))


@functools.lru_cache(maxsize=16)
def _padded_table(weather: Weather) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Times and stacked values with the year's last record copied before the
    first and the first after the last, one period away, so every phase in
    [0, period) has a record on each side."""
    time = np.concatenate(
        (
            [weather.time_s[-1] - weather.period_s],
            weather.time_s,
            [weather.time_s[0] + weather.period_s],
        )
    )
    stacked = np.vstack(
        [weather.t_dry_c, weather.t_dew_c, weather.rh_pct, weather.p_pa, weather.t_wet_c]
    )
    values = np.concatenate((stacked[:, -1:], stacked, stacked[:, :1]), axis=1)
    time.flags.writeable = False
    values.flags.writeable = False
    return time, values


def load_weather(name_or_path: str | os.PathLike[str]) -> Weather:
    """Read a typical year of weather by short name or from a file.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A shipped name (``"shenzhen"``, ``"shanghai"``, ``"chengdu"``,
        ``"beijing"``, ``"urumqi"``), or the path of an ``.epw`` or ``.mos`` file.

    Returns
    -------
    Weather

    Raises
    ------
    twin.errors.ConfigError
        Unknown name (the message lists the valid ones), missing file, or a
        malformed record (the message gives the line, the field and what was
        expected; missing-value markers such as 99.9 are rejected too).

    Examples
    --------
    >>> weather = load_weather("beijing")
    >>> weather.time_s.size, weather.source
    (8760, 'CHN_Beijing.Beijing.545110_CSWD.epw (CSWD, station 545110)')
    >>> round(float(weather.at(3600.0).t_dry_c), 1)
    -5.1
    """
    path, name = _resolve(name_or_path)
    try:
        stat = path.stat()
    except OSError as error:
        raise ConfigError(path, f"cannot read weather file: {error.strerror}") from None
    if not path.is_file():
        raise ConfigError(path, "expected a weather file (.epw or .mos), got a folder")
    return _load_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns, name)


def _resolve(name_or_path: str | os.PathLike[str]) -> tuple[Path, str | None]:
    """Path of the file to read, and the short name when it is a shipped one."""
    text = os.fspath(name_or_path)
    key = text.strip().lower()
    if key in SHIPPED_WEATHER:
        return data_path("sim", "weather", SHIPPED_WEATHER[key]), key
    path = Path(text)
    if path.suffix.lower() in (".epw", ".mos") or path.exists() or os.sep in text:
        return path, None
    valid = ", ".join(SHIPPED_WEATHER)
    raise ConfigError(
        data_path("sim", "weather"),
        f"unknown weather {text!r}: expected one of {valid}, or the path of an .epw or .mos file",
    )


@functools.lru_cache(maxsize=16)
def _load_cached(path_text: str, size: int, mtime_ns: int, name: str | None) -> Weather:
    """Parse once per (file, size, mtime): the cache key changes when the file does."""
    del size, mtime_ns  # only part of the cache key
    path = Path(path_text)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(path, f"cannot read weather file: {error.strerror}") from None
    # EPW files are ASCII in practice; Latin-1 decodes any byte, so a stray accent
    # in a comment line cannot stop the reader.
    lines = raw.decode("latin-1").splitlines()
    if path.suffix.lower() == ".mos":
        return _parse_mos(path, lines, name)
    return _parse_epw(path, lines, name)


def _parse_epw(path: Path, lines: list[str], name: str | None) -> Weather:
    if len(lines) <= _EPW_HEADER_LINES:
        raise ConfigError(
            path,
            f"expected {_EPW_HEADER_LINES} header lines and hourly records, got {len(lines)} lines",
        )
    location = _parse_location(path, lines[0], 1)
    records_per_hour = _parse_data_periods(path, lines[_EPW_HEADER_LINES - 1])

    numbers: list[int] = []
    rows: list[list[str]] = []
    for number, text in enumerate(lines[_EPW_HEADER_LINES:], start=_EPW_HEADER_LINES + 1):
        if text.strip():
            numbers.append(number)
            rows.append(text.split(","))
    line_numbers = np.asarray(numbers)
    counts = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
    wrong = np.flatnonzero(counts != _EPW_FIELDS)
    if wrong.size:
        first = int(wrong[0])
        raise ConfigError(
            path,
            f"expected {_EPW_FIELDS} comma-separated fields, got {counts[first]}",
            line=int(line_numbers[first]),
        )

    def column(field: int, label: str) -> NDArray[np.float64]:
        return _numeric_column(path, [row[field - 1] for row in rows], line_numbers, field, label)

    month = column(2, "month")
    day = column(3, "day")
    hour = column(4, "hour")
    minute = column(5, "minute")
    _check_range(path, month, line_numbers, "field 2 (month)", 1, 12, integer=True)
    _check_range(path, day, line_numbers, "field 3 (day)", 1, 31, integer=True)
    _check_range(path, hour, line_numbers, "field 4 (hour)", 1, 24, integer=True)
    _check_range(path, minute, line_numbers, "field 5 (minute)", 0, 60, integer=True)

    leap = bool(np.any((month == 2) & (day == 29)))
    days_in_month = np.array(_DAYS_IN_MONTH)
    if leap:
        days_in_month[1] = 29
    month_index = month.astype(np.int64) - 1
    too_late = np.flatnonzero(day > days_in_month[month_index])
    if too_late.size:
        first = int(too_late[0])
        raise ConfigError(
            path,
            f"field 3 (day) is {day[first]:g}, but month {month[first]:g} "
            f"has {days_in_month[month_index[first]]} days",
            line=int(line_numbers[first]),
        )
    first_day = np.concatenate(([0], np.cumsum(days_in_month)[:-1]))
    day_of_year = first_day[month_index] + day - 1
    if records_per_hour == 1:
        # Hourly data: the record covers the hour ending at `hour`.
        time_s = day_of_year * _DAY_S + hour * _HOUR_S
    else:
        time_s = day_of_year * _DAY_S + (hour - 1.0) * _HOUR_S + minute * 60.0
    values = {
        quantity.attribute: _quantity_column(
            path, column(quantity.epw_field, quantity.label), line_numbers, quantity
        )
        for quantity in _QUANTITIES
    }
    return _build(path, name, location, time_s, line_numbers, values, leap)


def _parse_mos(path: Path, lines: list[str], name: str | None) -> Weather:
    location: _Location | None = None
    columns: dict[int, str] = {}
    declared: tuple[int, int] | None = None
    numbers: list[int] = []
    rows: list[list[str]] = []
    declaration = re.compile(r"^\s*(?:double|float)\s+\w+\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)")
    described = re.compile(r"^#\s*C(\d+)\s+(.*)$")
    for number, text in enumerate(lines, start=1):
        stripped = text.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if stripped.startswith("#LOCATION"):
                location = _parse_location(path, stripped[1:], number)
            elif match := described.match(stripped):
                columns[int(match.group(1))] = match.group(2).lower()
            continue
        if declared is None:
            match = declaration.match(stripped)
            if match is None:
                raise ConfigError(
                    path,
                    f"expected a table declaration like 'double tab1(8760,30)', got {stripped!r}",
                    line=number,
                )
            declared = (int(match.group(1)), int(match.group(2)))
            continue
        numbers.append(number)
        rows.append(stripped.split())
    if declared is None:
        raise ConfigError(path, "expected a table declaration like 'double tab1(8760,30)'")
    if location is None:
        raise ConfigError(path, "expected a '#LOCATION,…' header line (EPW location record)")
    n_rows, n_columns = declared
    line_numbers = np.asarray(numbers)
    if len(rows) != n_rows:
        raise ConfigError(path, f"the table declares {n_rows} rows, the file has {len(rows)}")
    for row, number in zip(rows, numbers, strict=True):
        if len(row) != n_columns:
            raise ConfigError(
                path,
                f"expected {n_columns} whitespace-separated columns, got {len(row)}",
                line=number,
            )

    wanted = {
        "time_s": ("time in seconds", "time"),
        "t_dry_c": ("dry bulb temperature", "dry bulb"),
        "t_dew_c": ("dew point temperature", "dew point"),
        "rh_pct": ("relative humidity", "relative humidity"),
        "p_pa": ("atmospheric station pressure", "station pressure"),
    }
    found: dict[str, int] = {}
    for attribute, (phrase, _) in wanted.items():
        matches = [index for index, text in columns.items() if text.startswith(phrase)]
        if not matches:
            raise ConfigError(
                path, f"expected a '#C<n> {phrase.capitalize()} …' line describing a column"
            )
        found[attribute] = matches[0]

    def column(attribute: str) -> NDArray[np.float64]:
        index = found[attribute]
        label = wanted[attribute][1]
        strings = [row[index - 1] for row in rows]
        return _numeric_column(path, strings, line_numbers, index, label, word="column")

    time_s = column("time_s")
    values = {}
    for quantity in _QUANTITIES:
        in_this_file = dataclasses.replace(quantity, epw_field=found[quantity.attribute])
        values[quantity.attribute] = _quantity_column(
            path, column(quantity.attribute), line_numbers, in_this_file, word="column"
        )
    leap = bool(time_s[-1] >= 365 * _DAY_S)
    return _build(path, name, location, time_s, line_numbers, values, leap)


def _build(
    path: Path,
    name: str | None,
    location: _Location,
    time_s: NDArray[np.float64],
    line_numbers: NDArray[np.int64],
    values: dict[str, NDArray[np.float64]],
    leap: bool,
) -> Weather:
    """Check the time axis, derive the wet bulb, freeze the arrays."""
    period_s = (366 if leap else 365) * _DAY_S
    if time_s.size < 2:
        raise ConfigError(path, f"expected at least 2 records, got {time_s.size}")
    backwards = np.flatnonzero(np.diff(time_s) <= 0.0)
    if backwards.size:
        first = int(backwards[0]) + 1
        raise ConfigError(
            path,
            f"time must increase from record to record: {time_s[first]:g} s follows "
            f"{time_s[first - 1]:g} s",
            line=int(line_numbers[first]),
        )
    if time_s[0] < 0.0 or time_s[-1] > period_s or time_s[-1] - time_s[0] >= period_s:
        raise ConfigError(
            path,
            f"expected record times within one year (0 … {period_s:g} s), "
            f"got {time_s[0]:g} … {time_s[-1]:g} s",
        )
    t_wet_c = wet_bulb_temperature(values["t_dry_c"], values["t_dew_c"], values["p_pa"])
    arrays = {"time_s": time_s, **values, "t_wet_c": t_wet_c}
    for array in arrays.values():
        array.flags.writeable = False
    return Weather(
        name=name or location.city.lower(),
        source=f"{path.name} ({location.data_set}, station {location.station})",
        latitude=location.latitude,
        longitude=location.longitude,
        elevation_m=location.elevation_m,
        utc_offset_h=location.utc_offset_h,
        period_s=period_s,
        **arrays,
    )


def _parse_location(path: Path, text: str, line: int) -> _Location:
    """EPW LOCATION record: city, region, country, data set, station, lat, lon, tz, elevation."""
    fields = [field.strip() for field in text.split(",")]
    if fields[0].upper() != "LOCATION" or len(fields) < 10:
        raise ConfigError(
            path,
            "expected 'LOCATION,city,region,country,data set,station,latitude,longitude,"
            f"time zone,elevation', got {text[:60]!r}",
            line=line,
        )
    numbers: dict[str, float] = {}
    limits = {
        "latitude": (7, -90.0, 90.0),
        "longitude": (8, -180.0, 180.0),
        "utc_offset_h": (9, -12.0, 14.0),
        "elevation_m": (10, -1000.0, 9999.9),
    }
    for key, (field, low, high) in limits.items():
        text_value = fields[field - 1]
        label = key.replace("_", " ").replace(" m", "").replace(" h", "")
        try:
            value = float(text_value)
        except ValueError:
            raise ConfigError(
                path,
                f"LOCATION field {field} ({label}) expected a number, got {text_value!r}",
                line=line,
            ) from None
        if not low <= value <= high:
            raise ConfigError(
                path,
                f"LOCATION field {field} ({label}) expected {low:g} … {high:g}, got {value:g}",
                line=line,
            )
        numbers[key] = value
    return _Location(
        city=fields[1],
        data_set=fields[4] or "unknown data set",
        station=fields[5] or "unknown",
        **numbers,
    )


def _parse_data_periods(path: Path, text: str) -> int:
    """Records per hour from the EPW DATA PERIODS line (line 8)."""
    fields = [field.strip() for field in text.split(",")]
    if fields[0].upper() != "DATA PERIODS" or len(fields) < 3:
        raise ConfigError(
            path,
            f"expected 'DATA PERIODS,count,records per hour,…', got {text[:60]!r}",
            line=_EPW_HEADER_LINES,
        )
    try:
        records_per_hour = int(fields[2])
    except ValueError:
        records_per_hour = 0
    if not 1 <= records_per_hour <= 60:
        raise ConfigError(
            path,
            f"DATA PERIODS field 3 (records per hour) expected 1 … 60, got {fields[2]!r}",
            line=_EPW_HEADER_LINES,
        )
    return records_per_hour


def _numeric_column(
    path: Path,
    strings: list[str],
    line_numbers: NDArray[np.int64],
    field: int,
    label: str,
    word: str = "field",
) -> NDArray[np.float64]:
    """Convert one column of strings at once; on failure, find and report the culprit."""
    try:
        values = np.asarray(strings, dtype=np.float64)
    except ValueError:
        values = None
    if values is not None and np.all(np.isfinite(values)):
        return values
    for text, number in zip(strings, line_numbers, strict=True):
        try:
            ok = np.isfinite(float(text))
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError(
                path,
                f"{word} {field} ({label}) expected a number, got {text.strip()!r}",
                line=int(number),
            )
    raise AssertionError("unreachable: a column failed to convert but no value is bad")


def _quantity_column(
    path: Path,
    values: NDArray[np.float64],
    line_numbers: NDArray[np.int64],
    quantity: _Quantity,
    word: str = "field",
) -> NDArray[np.float64]:
    """Reject missing-value markers and out-of-range values with their line."""
    bad = np.flatnonzero(~((values >= quantity.low) & (values <= quantity.high)))
    if bad.size:
        first = int(bad[0])
        value = values[first]
        what = f"{word} {quantity.epw_field} ({quantity.label})"
        if value == quantity.missing:
            message = (
                f"{what} is {value:g}, the missing-value marker; expected a measured "
                f"value in {quantity.low:g} … {quantity.high:g} {quantity.unit}"
            )
        else:
            message = (
                f"{what} expected {quantity.low:g} … {quantity.high:g} {quantity.unit}, "
                f"got {value:g}"
            )
        raise ConfigError(path, message, line=int(line_numbers[first]))
    return values


def _check_range(
    path: Path,
    values: NDArray[np.float64],
    line_numbers: NDArray[np.int64],
    what: str,
    low: float,
    high: float,
    integer: bool = False,
) -> None:
    ok = (values >= low) & (values <= high)
    if integer:
        ok &= values == np.round(values)
    bad = np.flatnonzero(~ok)
    if bad.size:
        first = int(bad[0])
        kind = "a whole number" if integer else "a value"
        raise ConfigError(
            path,
            f"{what} expected {kind} in {low:g} … {high:g}, got {values[first]:g}",
            line=int(line_numbers[first]),
        )
