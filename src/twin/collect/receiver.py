"""Where the collector puts what it reads: any object with ``update`` and ``hold``.

The collector sits below the live state in the layers (docs/architecture.md): it
must not import :mod:`twin.live`. It writes into a :class:`Receiver` handed to it
by the composition root, which is :class:`twin.live.state.LiveState` in every
command; a test or another consumer (a shard writer, a recorder) can pass its own.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Receiver(Protocol):
    """The latest-value store the collector writes into, indexed by registry row."""

    def update(
        self, indices: np.ndarray, values: np.ndarray, good: np.ndarray, ts: float, reason: str = ""
    ) -> None:
        """Values of the points ``indices`` read at ``ts`` [UNIX s]; ``good`` False is bad."""

    def hold(self, indices: np.ndarray, ts: float) -> None:
        """The last values of ``indices`` still hold at ``ts`` (a live subscription)."""
