"""Build hook: the wheel carries the shipped data as ``twin/_data/``.

models/ (catalog and device profiles), sim/ (weather, loads, scenarios) and
configs/ (sites, point registries, alarm rules) are data a user edits in a
checkout; an installed wheel needs its own copy, where :mod:`twin.paths` looks
for it. Everything else is declared in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("models", "sim", "configs")


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "twin" / "_data"
        for folder in DATA_FOLDERS:
            shutil.rmtree(target / folder, ignore_errors=True)
            shutil.copytree(
                root / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__")
            )


setup(cmdclass={"build_py": BuildWithData})
