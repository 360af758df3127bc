"""node-opcua (npm), an OPC UA stack independent of asyncua, as a client peer.

scripts/test installs it (``npm ci`` in tests/peers/node-opcua, versions pinned by its
package-lock.json); a test run without it installs it on first use.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).parent / "node-opcua"


def ensure_installed() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node and npm are needed (Debian: nodejs, npm)")
    if not (FOLDER / "node_modules" / "node-opcua-client").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=FOLDER,
            check=True,
            timeout=600,
        )


def probe(endpoint: str, pki: Path, request: dict[str, Any], timeout: float = 120) -> dict:
    """Run probe.js against ``endpoint``; its JSON answer (see probe.js)."""
    ensure_installed()
    done = subprocess.run(
        ["node", str(FOLDER / "probe.js"), endpoint, str(pki), json.dumps(request)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=FOLDER,
    )
    if done.returncode != 0:
        raise AssertionError(f"node-opcua probe failed:\n{done.stderr}\n{done.stdout}")
    # node-opcua prints its own notices on stdout too: the answer is the marked line
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE-RESULT ")]
    if not lines:
        raise AssertionError(f"node-opcua probe gave no answer:\n{done.stdout}\n{done.stderr}")
    return json.loads(lines[-1].removeprefix("PROBE-RESULT "))
