"""Shared helpers for plant tests: small sites written from the shipped reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.paths import data_path


def reference_text() -> str:
    return (data_path("configs", "sites") / "aidc-10mw.toml").read_text()


@pytest.fixture
def single_pump_site(tmp_path: Path) -> Path:
    """One hall of 4 GPU racks behind one single-pump CDU, steady load, no spread."""
    text = reference_text()
    head, _, _ = text.partition("[[halls]]")
    head = head.replace('load_profile = "training-job"', 'load_profile = "steady"')
    head = head.replace("gpu_utilisation_spread = 0.05", "gpu_utilisation_spread = 0.0")
    hall = """[[halls]]
name = "hall-1"
gpu_rack = "gpu-cold-plate-130kw"
gpu_racks = 4
air_rack = "air-15kw"
air_racks = 2
cdu = "inrow-800kw-single-pump"
cdus = 1
crah = "fan-wall-300kw"
crahs = 2
hvdc_systems_per_side = 1
ups_systems_per_side = 1
"""
    path = tmp_path / "single-pump.toml"
    path.write_text(head + hall)
    return path
