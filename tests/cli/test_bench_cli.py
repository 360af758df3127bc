"""``twin bench``: runs bench/run from the checkout; a bad bench name is exit 2, named."""

from __future__ import annotations

import subprocess
import sys


def test_unknown_bench_is_refused_with_the_known_names() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "bench", "no-such-bench"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "no-such-bench" in result.stderr
    assert "collect" in result.stderr and "twin_run" in result.stderr
