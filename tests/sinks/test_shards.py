"""Many collectors, one registry: three ``twin monitor --shard I/3`` into one VictoriaMetrics.

Issue 16's sharding must-hold: every point is stored exactly once (by the one
collector whose shard holds its device, tagged with it), and killing one collector
leaves the other two writing while its own devices go visibly stale (their newest
sample stops at the kill). The split itself is checked without servers in
``tests/points/test_shard.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from twin.points.registry import load_registry
from twin.points.shard import shard_of

from ..collect.collectsite import Served, served
from .sinkservers import VictoriaServer, python_env, wait_for

__all__ = ["served"]  # the fixture

SHARDS = 3


def _monitor(
    served: Served, victoria: VictoriaServer, member: int, spool: Path
) -> subprocess.Popen:
    env = python_env()
    env["INFLUX_TOKEN"] = "unused-by-victoria"  # the v2 API wants one; VictoriaMetrics ignores it
    return subprocess.Popen(
        [
            sys.executable, "-m", "twin.cli", "monitor", str(served.registry_path),
            "--headless", "--interval", "1", "--shard", f"{member}/{SHARDS}",
            "--influx", victoria.url, "--org", "twin", "--bucket", "twin",
            "--spool", str(spool), "--flush-interval", "0.5",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(spool.parent / f"monitor-{member}.log").open("w"),
    )  # fmt: skip


def _newest_by_collector(victoria: VictoriaServer) -> tuple[dict, dict[str, float]]:
    """Per (metric, device): the collectors that stored it; per collector: its newest sample [s]."""
    stored: dict[tuple[str, str], set[str]] = defaultdict(set)
    newest: dict[str, float] = defaultdict(float)
    for series in victoria.export('{collector=~"shard-.+"}'):
        labels = series["metric"]
        key = (labels["__name__"], labels.get("device", ""))
        stored[key].add(labels["collector"])
        newest[labels["collector"]] = max(
            newest[labels["collector"]], max(series["timestamps"]) / 1e3
        )
    return stored, newest


def test_three_shards_store_every_point_once_and_a_killed_one_goes_stale_alone(
    served: Served, victoria: VictoriaServer, tmp_path: Path
) -> None:
    registry = load_registry(served.registry_path)
    devices = {p.device for p in registry.points}
    expected = {d: f"shard-{shard_of(d, SHARDS)}-of-{SHARDS}" for d in devices}
    monitors = [_monitor(served, victoria, i, tmp_path / f"spool-{i}") for i in range(SHARDS)]
    try:

        def every_device_stored() -> bool:
            stored, _ = _newest_by_collector(victoria)
            return {device for _, device in stored} >= devices

        wait_for(every_device_stored, 180, "every device of every shard stored", interval=2)
        stored, _ = _newest_by_collector(victoria)
        # Exactly once: one collector per series, the one whose shard holds the device.
        twice = {key: who for key, who in stored.items() if len(who) != 1}
        assert not twice, f"stored by more than one collector: {sorted(twice)[:5]}"
        wrong = {key: who for key, who in stored.items() if who != {expected[key[1]]}}
        assert not wrong, f"stored by the wrong collector: {sorted(wrong)[:5]}"
        # The shards wrote no site record of their partial metrics.
        assert not any(name.startswith("site_") for name, _ in stored)

        victim = monitors[1]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        killed_at = time.time()

        def others_moved_on() -> bool:
            _, newest = _newest_by_collector(victoria)
            return all(newest[f"shard-{i}-of-{SHARDS}"] > killed_at + 3 for i in (0, 2))

        wait_for(others_moved_on, 120, "the surviving shards to keep writing", interval=1)
        _, newest = _newest_by_collector(victoria)
        # The killed shard's devices are stale: nothing of theirs after the kill.
        assert newest[f"shard-1-of-{SHARDS}"] <= killed_at + 0.5, newest
        for i in (0, 2):
            log = (tmp_path / f"monitor-{i}.log").read_text()
            assert monitors[i].poll() is None, f"shard {i} stopped: {log[-2000:]}"
    finally:
        for process in monitors:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in monitors:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
