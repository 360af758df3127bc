"""The Devices view's rows: each device's comms, from the qualities of its points.

Indices are laid out once (points sorted by device, each device's first slot), so a
tick's per-device reductions are one ``bincount`` or ``reduceat`` each; a row object
is rebuilt only when its device's state, last good time or counters changed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from twin.live.state import LiveState
from twin.points.quality import Quality
from twin.points.registry import PointDef
from twin.tui.records import DeviceRow

QUALITIES = ("good", "stale", "bad", "not read")


class DeviceTable:
    """Every device of a registry, in registry order."""

    def __init__(
        self,
        state: LiveState,
        by_device: dict[str, list[PointDef]],
        stats: Callable[[], dict[str, tuple[float | None, int]]] | None = None,
    ) -> None:
        self.state = state
        self.stats = stats
        devices = list(by_device)
        self.names = devices
        self.number = {d: i for i, d in enumerate(devices)}
        self._point_device = np.array([self.number[p.device] for p in state.points], dtype=np.int64)
        self._order = np.argsort(self._point_device, kind="stable")
        counts = np.bincount(self._point_device, minlength=len(devices))
        self._starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        info = []
        for d in devices:
            first = by_device[d][0]
            if first.modbus:
                protocol, address = "modbus-tcp", f"{first.host}:{first.port}/{first.unit_id}"
            else:
                protocol, address = "opc-ua", first.opcua_endpoint or ""
            info.append((first.equipment, protocol, address))
        self._info = info
        self._rows: list[DeviceRow | None] = [None] * len(devices)
        self._keys: list[tuple | None] = [None] * len(devices)

    def rows(self, quality: np.ndarray) -> tuple[tuple[DeviceRow, ...], dict[str, int]]:
        """Each device's row and the count of devices per quality."""
        stats = self.stats() if self.stats else {}
        n = len(self.names)
        dev = self._point_device
        bad = np.bincount(dev, weights=quality == Quality.BAD, minlength=n) > 0
        not_good = np.bincount(dev, weights=quality != Quality.GOOD, minlength=n) > 0
        order, starts = self._order, self._starts
        last_good = np.maximum.reduceat(self.state.good_ts[order], starts)
        last_bad = np.maximum.reduceat(self.state.bad_ts[order], starts)
        # A device none of whose points has answered yet is "not read", not stale.
        label = np.where(
            (last_good == 0) & (last_bad == 0), 3, np.where(bad, 2, np.where(not_good, 1, 0))
        )
        counts = {
            k: int(c) for k, c in zip(QUALITIES, np.bincount(label, minlength=4), strict=True)
        }
        rows, keys, names, info = self._rows, self._keys, self.names, self._info
        for i, (q, t) in enumerate(zip(label.tolist(), last_good.tolist(), strict=True)):
            latency, errors = stats.get(names[i], (None, 0))
            key = (q, t, latency, errors)
            if keys[i] != key:
                keys[i] = key
                equipment, protocol, address = info[i]
                rows[i] = DeviceRow(
                    names[i], equipment, protocol, address, t, latency, errors, QUALITIES[q]
                )
        return tuple(rows), counts  # type: ignore[arg-type]
