"""libflux's own parser (npm ``@influxdata/flux``, WebAssembly) as a Flux syntax checker.

No Flux-capable server installs here (Debian's influxdb is 1.6, before Flux), so
the dashboards' Flux queries are parsed by the language's reference parser and
must come back without a parse error. scripts/test installs it (``npm ci`` in
tests/peers/flux, pinned by its package-lock.json); a run without it installs it
on first use.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

FOLDER = Path(__file__).parent / "flux"


def ensure_installed() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node and npm are needed (Debian: nodejs, npm)")
    if not (FOLDER / "node_modules" / "@influxdata" / "flux").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=FOLDER, check=True, timeout=600,
        )  # fmt: skip


def parse_errors(queries: list[str], timeout: float = 120) -> list[list[str]]:
    """The parse errors of each query ([] for a query that parses)."""
    ensure_installed()
    done = subprocess.run(
        ["node", str(FOLDER / "check.mjs")],
        input=json.dumps(queries), capture_output=True, text=True, timeout=timeout, cwd=FOLDER,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"check.mjs failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)
