"""The shard split: disjoint, covering, stable, whole devices (issue 16 item 2)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.points.registry import PointDef, Registry, load_registry
from twin.points.shard import parse_shard, select_shard, shard_of


def _registry(devices: list[str]) -> Registry:
    points = [
        PointDef(index=i, name=f"{d}.p{i}", device=d, equipment="ups", unit="kW", line=i + 2)
        for i, d in enumerate(devices)
    ]
    return Registry(Path("r.csv"), points)


@settings(max_examples=200, deadline=None)
@given(
    devices=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=40),
    count=st.integers(1, 7),
)
def test_shards_are_disjoint_cover_the_registry_and_keep_devices_whole(
    devices: list[str], count: int
) -> None:
    registry = _registry(devices)
    parts = [select_shard(registry, i, count) for i in range(count)]
    rows = sorted(p.line for part in parts for p in part.points)
    assert rows == sorted(p.line for p in registry.points)  # union = registry, no repeats
    owners: dict[str, set[int]] = {}
    for i, part in enumerate(parts):
        assert [p.index for p in part.points] == list(range(len(part.points)))
        for p in part.points:
            owners.setdefault(p.device, set()).add(i)
    assert all(len(o) == 1 for o in owners.values())  # a device is never split


def test_the_hash_is_the_same_in_another_process() -> None:
    code = "from twin.points.shard import shard_of; print(shard_of('hall-1-cdu1', 7))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(other.stdout) == shard_of("hall-1-cdu1", 7)


def test_the_shipped_site_spreads_over_three_shards() -> None:
    from twin.paths import data_path

    registry = load_registry(data_path("configs", "points", "aidc-10mw.csv"))
    sizes = [len({p.device for p in select_shard(registry, i, 3).points}) for i in range(3)]
    total = len({p.device for p in registry.points})
    assert sum(sizes) == total
    assert min(sizes) > total / 5, sizes  # no shard starved (a hash, not a split by name)


@pytest.mark.parametrize("text", ["3/3", "-1/3", "a/b", "1", "1/0", "0/", ""])
def test_a_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="I/N"):
        parse_shard(text)
