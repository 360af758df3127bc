"""Many collectors, one registry: ``twin monitor REGISTRY --shard I/N``.

Each of N collectors keeps the devices whose stable hash falls in its shard, so
they share one registry file with no coordination, as vmagent's
``-promscrape.cluster.memberNum`` / ``membersCount`` share one scrape config: member
I of N (0-based) keeps the targets with ``hash % N == I``. The hash is of the
device name, so every point of a device goes to the same collector (one client,
one request in flight per device), and it is BLAKE2b rather than Python's
``hash()``, which changes from process to process.

The union of the shards is the registry and no device is in two of them
(``tests/collect/test_shards.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib

from twin.points.registry import Registry

__all__ = ["parse_shard", "select_shard", "shard_of"]


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` → ``(I, N)`` with ``0 <= I < N``; an argparse error otherwise.

    >>> parse_shard("2/3")
    (2, 3)
    """
    member, sep, count = text.partition("/")
    try:
        i, n = int(member), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected I/N (member I of N collectors, 0-based), got {text!r}"
        ) from None
    if not sep or n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(
            f"expected I/N with 0 <= I < N (e.g. 0/3, 1/3, 2/3), got {text!r}"
        )
    return i, n


def shard_of(device: str, count: int) -> int:
    """The shard (0..count-1) that keeps ``device``; the same in every process.

    >>> shard_of("hall-1-cdu1", 1)
    0
    """
    digest = hashlib.blake2b(device.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def select_shard(registry: Registry, member: int, count: int) -> Registry:
    """The registry's points whose device falls in shard ``member`` of ``count``.

    Points are renumbered from 0 (the live state indexes them by position); each
    keeps its row number, so messages still name the file's row.
    """
    kept = [p for p in registry.points if shard_of(p.device, count) == member]
    return Registry(registry.path, [dataclasses.replace(p, index=i) for i, p in enumerate(kept)])
