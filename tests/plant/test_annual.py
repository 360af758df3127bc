"""Annual PUE in the bands published sites report (shared/reference/DOMAIN.md)."""

from __future__ import annotations


def test_liquid_cooled_reference_site_in_published_band(annual) -> None:
    # LBNL 2024 (Lei & Masanet): liquid cooled with waterside economiser + towers
    # ~1.13, AI-specialised fleet median 1.14 (1.09-1.19). DOMAIN.md: a liquid hall
    # below ~1.03 or above ~1.25 with economiser "deserves a look".
    summary = annual("aidc-10mw", None).summary()
    assert 1.08 <= summary["pue"] <= 1.20
    # WUE with open towers: LBNL ~2.0 L/kWh for towers + economiser; two tower
    # loops here (warm water and condenser), so allow up to 3.5.
    assert 1.0 <= summary["wue_l_per_kwh"] <= 3.5
    # Warm water cooling keeps the plates far from their limit all year.
    assert summary["max_cold_plate_c"] < 80.0
    assert summary["max_rack_inlet_c"] < 27.0 + 1.5  # ASHRAE recommended max + recirculation
    months = summary["pue_by_month"]
    assert len(months) == 12 and all(m is not None for m in months)
    assert max(months[5:8]) > min(months[0:2])  # summer costs more than winter


def test_legacy_air_site_in_air_cooled_band(annual) -> None:
    # Air-cooled baselines: source report ~1.5; Uptime global average 1.54-1.57;
    # LBNL mid-size water-cooled chiller site ~1.53.
    summary = annual("legacy-air-2mw", None).summary()
    assert 1.35 <= summary["pue"] <= 1.70
    assert summary["hours_by_cooling_mode"]["mechanical"] == 365 * 24
    assert summary["max_rack_inlet_c"] < 27.0  # 20 C supply air holds all year


def test_cold_climate_beats_hot_humid_climate(annual) -> None:
    cold = annual("aidc-10mw", "urumqi").summary()
    hot = annual("aidc-10mw", "shenzhen").summary()
    assert cold["pue"] < hot["pue"]
    assert cold["hours_by_cooling_mode"]["free"] > hot["hours_by_cooling_mode"]["free"]


def test_dry_coolers_save_the_liquid_loops_water(annual) -> None:
    # Same site and climate, dry coolers instead of towers on the warm-water loop:
    # LBNL 2024 puts liquid cooling with dry coolers near WUE 0.16 against ~2.0
    # with towers; here the air side keeps its towers, so expect well under half.
    dry = annual("aidc-10mw-dry", "urumqi").summary()
    towers = annual("aidc-10mw", "urumqi").summary()
    assert dry["wue_l_per_kwh"] < 0.5 * towers["wue_l_per_kwh"]
    assert 1.05 <= dry["pue"] <= 1.20
    assert dry["max_cold_plate_c"] < 80.0
