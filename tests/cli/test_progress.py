"""Long study runs show a progress bar on stderr when it is a terminal, and only then
(issue 17 item 5)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_with_terminal_stderr(args: list[str]) -> tuple[int, str, str]:
    """Run ``twin ARGS`` with stderr on a pseudo-terminal; return code, stdout, stderr."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", *args],
        stdout=subprocess.PIPE, stderr=slave, env=env, text=True,
    )  # fmt: skip
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    os.close(master)
    out = process.communicate(timeout=60)[0]
    return process.returncode, out, seen.decode(errors="replace")


@pytest.mark.parametrize(
    "command", [["simulate", "--days", "60", "--step", "300"], ["report", "--days", "60"]]
)
def test_a_terminal_gets_a_progress_bar(command: list[str], tmp_path: Path) -> None:
    args = [*command, "--html", str(tmp_path / "r.html")] if command[0] == "report" else command
    code, out, err = run_with_terminal_stderr(args)
    assert code == 0, err
    assert "\r[" in err and "100.0 %" in err
    assert "%" not in out  # the bar never mixes into the output


def test_no_terminal_no_progress_bar(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "report", "--days", "60", "--html",
         str(tmp_path / "r.html")],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "%" not in result.stderr and "\r" not in result.stderr
