"""The weather reader on the shipped typical years, and on broken copies of them."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from twin.errors import ConfigError
from twin.paths import data_path
from twin.physics.weather import wet_bulb_temperature
from twin.weather import SHIPPED_WEATHER, Weather, load_weather

WEATHER_DIR = data_path("sim", "weather")
EPW_NAMES = [name for name, file in SHIPPED_WEATHER.items() if file.endswith(".epw")]
DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
HOUR_S = 3600.0
YEAR_S = 365 * 86400.0


def _months(time_s: np.ndarray) -> np.ndarray:
    """0-based month of each hour-ending time stamp (24:00 belongs to the day it ends)."""
    day = np.floor((time_s - 1.0) / 86400.0).astype(int)
    first_day = np.concatenate(([0], np.cumsum(DAYS_IN_MONTH)[:-1]))
    return np.searchsorted(first_day, day, side="right") - 1


def _stat_daily_avg(stat_file: Path, quantity: str) -> np.ndarray:
    """The 12 'Daily Avg' values under 'Monthly Statistics for <quantity> temperatures'."""
    text = stat_file.read_text(encoding="latin-1")
    section = text.split(f"Monthly Statistics for {quantity} temperatures", 1)[1]
    row = next(line for line in section.splitlines() if "Daily Avg" in line)
    values = [float(cell) for cell in row.split("\t")[2:] if cell.strip()]
    assert len(values) == 12, row
    return np.array(values)


@pytest.mark.parametrize("name", EPW_NAMES)
def test_monthly_means_match_the_stat_file(name: str) -> None:
    weather = load_weather(name)
    stat_file = WEATHER_DIR / SHIPPED_WEATHER[name].replace(".epw", ".stat")
    month = _months(weather.time_s)
    assert np.bincount(month).tolist() == (DAYS_IN_MONTH * 24).tolist()
    for quantity, values in (("Dry Bulb", weather.t_dry_c), ("Dew Point", weather.t_dew_c)):
        ours = np.array([values[month == m].mean() for m in range(12)])
        expected = _stat_daily_avg(stat_file, quantity)
        # The .stat file prints one decimal: rounding leaves at most 0.05 K.
        np.testing.assert_allclose(ours, expected, atol=0.05 + 1e-9, rtol=0, err_msg=quantity)


@pytest.mark.parametrize("name", EPW_NAMES)
def test_epw_header_and_time_axis(name: str) -> None:
    weather = load_weather(name)
    assert weather.name == name
    assert "CSWD" in weather.source and SHIPPED_WEATHER[name] in weather.source
    assert weather.utc_offset_h == 8.0
    assert 20.0 < weather.latitude < 50.0 and 80.0 < weather.longitude < 125.0
    # EPW stamps each hour at its end: 01:00 Jan 1 … 24:00 Dec 31.
    np.testing.assert_array_equal(weather.time_s, np.arange(1, 8761) * HOUR_S)
    assert weather.period_s == YEAR_S


def test_beijing_header_values() -> None:
    weather = load_weather("beijing")
    assert (weather.latitude, weather.longitude, weather.elevation_m) == (39.80, 116.47, 31.3)
    assert weather.source == "CHN_Beijing.Beijing.545110_CSWD.epw (CSWD, station 545110)"
    # First record of the file: 2005,1,1,1,0,…,-5.1,-10.0,65,101540
    assert (weather.t_dry_c[0], weather.t_dew_c[0], weather.rh_pct[0], weather.p_pa[0]) == (
        -5.1,
        -10.0,
        65.0,
        101540.0,
    )


def test_shenzhen_mos_reads_a_full_plausible_year() -> None:
    weather = load_weather("shenzhen")
    assert weather.time_s.size == 8760
    assert weather.source == "CHN_Guangdong.Shenzhen.594930_SWERA.mos (SWERA, station 594930)"
    assert (weather.latitude, weather.longitude, weather.elevation_m) == (22.55, 114.10, 18.0)
    # The .mos says "Beginning of a year is 0s": its time column is used as written.
    np.testing.assert_array_equal(weather.time_s, np.arange(8760) * HOUR_S)
    # Plausible for a hot, humid coastal city at sea level.
    assert 0.0 < weather.t_dry_c.min() < 10.0 and 33.0 < weather.t_dry_c.max() < 40.0
    assert np.all(weather.t_dew_c <= weather.t_dry_c)
    assert weather.rh_pct.min() > 0.0
    assert weather.rh_pct.max() <= 100.0
    assert 97000.0 < weather.p_pa.min() < weather.p_pa.max() < 104000.0
    july = _months(weather.time_s + HOUR_S) == 6
    assert 26.0 < weather.t_dry_c[july].mean() < 31.0
    assert 24.0 < weather.t_wet_c[july].mean() < 28.0


@pytest.mark.parametrize("name", list(SHIPPED_WEATHER))
def test_wet_bulb_is_derived_once_at_load(name: str) -> None:
    weather = load_weather(name)
    expected = wet_bulb_temperature(weather.t_dry_c, weather.t_dew_c, weather.p_pa)
    np.testing.assert_array_equal(weather.t_wet_c, expected)
    assert np.all(weather.t_wet_c <= weather.t_dry_c)


def test_interpolation_at_half_hours_and_records() -> None:
    weather = load_weather("shanghai")
    records = weather.time_s[100:110]
    sample = weather.at(records)
    np.testing.assert_array_equal(sample.t_dry_c, weather.t_dry_c[100:110])
    half = weather.at(records + 1800.0)
    for field in ("t_dry_c", "t_dew_c", "rh_pct", "p_pa", "t_wet_c"):
        values = getattr(weather, field)
        expected = 0.5 * (values[100:110] + values[101:111])
        np.testing.assert_allclose(getattr(half, field), expected, rtol=1e-12, err_msg=field)


def test_interpolation_wraps_around_the_year() -> None:
    weather = load_weather("beijing")
    # 00:30 Jan 1 lies between the last record (24:00 Dec 31) and the first (01:00 Jan 1).
    start = weather.at(1800.0)
    assert float(start.t_dry_c) == pytest.approx(0.5 * (weather.t_dry_c[-1] + weather.t_dry_c[0]))
    t = np.array([1800.0, 5000.0, 200 * 86400.0 + 123.0])
    for years in (1, 3):
        np.testing.assert_allclose(
            weather.at(t + years * weather.period_s).t_wet_c, weather.at(t).t_wet_c, atol=1e-9
        )
    # The .mos starts at 0 s, so its seam is at the end of the year instead.
    shenzhen = load_weather("shenzhen")
    seam = shenzhen.at(YEAR_S - 1800.0)
    assert float(seam.p_pa) == pytest.approx(0.5 * (shenzhen.p_pa[-1] + shenzhen.p_pa[0]))


def test_interpolation_keeps_the_shape_of_time() -> None:
    weather = load_weather("chengdu")
    t = np.arange(60.0 * 24).reshape(24, 60) * 60.0
    sample = weather.at(t)
    assert sample.t_wet_c.shape == (24, 60)
    assert weather.at(np.arange(525_600) * 60.0).t_dry_c.shape == (525_600,)


def test_weather_is_immutable_and_cached() -> None:
    weather = load_weather("urumqi")
    assert load_weather("URUMQI") is weather
    with pytest.raises(dataclasses.FrozenInstanceError):
        weather.name = "x"  # type: ignore[misc]
    with pytest.raises(ValueError):
        weather.t_dry_c[0] = 0.0


def test_user_path_reads_and_reloads_when_the_file_changes(tmp_path: Path) -> None:
    source = WEATHER_DIR / SHIPPED_WEATHER["beijing"]
    copy = tmp_path / "site.epw"
    copy.write_bytes(source.read_bytes())
    weather = load_weather(copy)
    assert weather.name == "beijing" and weather.source.startswith("site.epw (CSWD")
    lines = copy.read_text(encoding="latin-1").splitlines(keepends=True)
    lines[8] = lines[8].replace(",-5.1,", ",-4.1,", 1)
    copy.write_text("".join(lines), encoding="latin-1")
    os.utime(copy, ns=(1, 1))  # a different mtime even on coarse clocks
    assert load_weather(str(copy)).t_dry_c[0] == -4.1


# --- broken files ----------------------------------------------------------------


def _broken_epw(tmp_path: Path, line: int, edit) -> Path:
    """A copy of the Shanghai EPW whose 1-based ``line`` is passed through ``edit``."""
    source = WEATHER_DIR / SHIPPED_WEATHER["shanghai"]
    lines = source.read_text(encoding="latin-1").splitlines(keepends=True)
    lines[line - 1] = edit(lines[line - 1])
    path = tmp_path / "broken.epw"
    path.write_text("".join(lines), encoding="latin-1")
    return path


def _set_field(field: int, value: str):
    def edit(text: str) -> str:
        fields = text.rstrip("\r\n").split(",")
        fields[field - 1] = value
        return ",".join(fields) + "\n"

    return edit


@pytest.mark.parametrize(
    ("line", "edit", "expected"),
    [
        (12, _set_field(7, "abc"), "field 7 (dry bulb) expected a number, got 'abc'"),
        (20, _set_field(8, "99.9"), "field 8 (dew point) is 99.9, the missing-value marker"),
        (300, _set_field(10, "999999"), "field 10 (station pressure) is 999999"),
        (301, _set_field(9, "250"), "field 9 (relative humidity) expected 0 … 110 %, got 250"),
        (40, _set_field(7, "nan"), "field 7 (dry bulb) expected a number, got 'nan'"),
        (50, lambda text: text.rstrip("\n") + ",1\n", "expected 35 comma-separated fields, got 36"),
        (
            51,
            lambda text: text.split(",", 10)[0] + "\n",
            "expected 35 comma-separated fields, got 1",
        ),
        (60, _set_field(4, "25"), "field 4 (hour) expected a whole number in 1 … 24, got 25"),
        (1, lambda text: "LOCATION,Shanghai,x\n", "expected 'LOCATION,city"),
        (1, _set_field(7, "north"), "LOCATION field 7 (latitude) expected a number, got 'north'"),
    ],
)
def test_broken_epw_names_the_line(tmp_path: Path, line: int, edit, expected: str) -> None:
    path = _broken_epw(tmp_path, line, edit)
    with pytest.raises(ConfigError) as caught:
        load_weather(path)
    error = caught.value
    assert error.line == line
    assert error.path == path
    assert expected in error.message
    assert str(error).startswith(f"{path} line {line}: ")


def test_records_out_of_order(tmp_path: Path) -> None:
    path = _broken_epw(tmp_path, 100, _set_field(4, "1"))
    with pytest.raises(ConfigError, match="time must increase") as caught:
        load_weather(path)
    assert caught.value.line == 100


def test_missing_file_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read weather file") as caught:
        load_weather(tmp_path / "nowhere.epw")
    assert caught.value.path == tmp_path / "nowhere.epw"
    with pytest.raises(ConfigError) as caught:
        load_weather("pekin")
    message = str(caught.value)
    assert "unknown weather 'pekin'" in message
    for name in SHIPPED_WEATHER:
        assert name in message


def _broken_mos(tmp_path: Path, edit) -> Path:
    source = WEATHER_DIR / SHIPPED_WEATHER["shenzhen"]
    lines = source.read_text(encoding="latin-1").splitlines(keepends=True)
    edit(lines)
    path = tmp_path / "broken.mos"
    path.write_text("".join(lines), encoding="latin-1")
    return path


def test_broken_mos_names_the_line(tmp_path: Path) -> None:
    source = (WEATHER_DIR / SHIPPED_WEATHER["shenzhen"]).read_text(encoding="latin-1")
    first_row = next(
        number for number, text in enumerate(source.splitlines(), start=1) if text[:1].isdigit()
    )

    def bad_dew_point(lines: list[str]) -> None:
        cells = lines[first_row + 4].split("\t")
        cells[2] = "x12"
        lines[first_row + 4] = "\t".join(cells)

    with pytest.raises(ConfigError) as caught:
        load_weather(_broken_mos(tmp_path, bad_dew_point))
    assert caught.value.line == first_row + 5
    assert "column 3 (dew point) expected a number, got 'x12'" in caught.value.message

    def short_row(lines: list[str]) -> None:
        lines[first_row + 9] = "\t".join(lines[first_row + 9].split("\t")[:29]) + "\n"

    with pytest.raises(ConfigError, match="expected 30 whitespace-separated columns, got 29"):
        load_weather(_broken_mos(tmp_path, short_row))

    def drop_last_row(lines: list[str]) -> None:
        lines.pop()

    with pytest.raises(ConfigError, match="declares 8760 rows, the file has 8759"):
        load_weather(_broken_mos(tmp_path, drop_last_row))


def test_shipped_weather_is_a_weather() -> None:
    assert isinstance(load_weather("shenzhen"), Weather)
