"""The layer contracts of docs/architecture.md hold, and the linter would catch a breach.

``scripts/test`` runs ``lint-imports`` on the tree; these tests show that the contracts
in pyproject.toml are the ones that matter: a copy of the package with one upward
import added is refused, naming the import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [str(LINT), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "src" / "twin",
        tmp_path / "src" / "twin",
        ignore=shutil.ignore_patterns("__pycache__", "_data"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward", "contract"),
    [
        ("physics/fluids.py", "twin.plant.layout", "Physics is pure"),
        ("collect/modbus.py", "twin.live.state", "collect < live"),
        ("live/metrics.py", "twin.plant.model", "never reaches into the simulated plant"),
        ("tui/app.py", "twin.collect.scheduler", "never the collector"),
        ("plant/layout.py", "twin.devices.profiles", "simulated side below it"),
        ("sinks/sink.py", "twin.app", "Only the composition root"),
        ("study.py", "twin.sinks.spool", "come from the plant alone"),
        ("study.py", "twin.runtime", "Only the composition root"),
        ("report.py", "twin.plant.study", "never runs the plant"),
    ],
)
def test_an_upward_import_is_refused(tree: Path, module: str, upward: str, contract: str) -> None:
    path = tree / "src" / "twin" / module
    path.write_text(path.read_text() + f"\nimport {upward}  # an upward import\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert contract in result.stdout
    assert upward in result.stdout
