"""Where the shipped data lives: models/, sim/ and configs/.

In a checkout these are top-level folders beside ``src/``; in an installed wheel
they are copied into ``twin/_data/``. Users can point elsewhere with
``TWIN_DATA`` (a folder holding the three).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_FOLDERS = ("models", "sim", "configs")


def data_root() -> Path:
    """Return the folder that holds models/, sim/ and configs/."""
    override = os.environ.get("TWIN_DATA")
    if override:
        return Path(override)
    package = Path(__file__).resolve().parent
    installed = package / "_data"
    if (installed / "models").is_dir():
        return installed
    checkout = package.parent.parent
    return checkout


def data_path(*parts: str) -> Path:
    """Path of a shipped data file, e.g. ``data_path("sim", "weather")``."""
    return data_root().joinpath(*parts)


def shipped_sites() -> list[str]:
    """Names of the sites in ``configs/sites`` (what ``twin run NAME`` accepts), sorted."""
    return sorted(p.stem for p in data_path("configs", "sites").glob("*.toml"))
