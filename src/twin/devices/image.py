"""Register images: every device of one equipment type encoded at once.

An :class:`Image` holds the four Modbus tables of all devices of one type as
numpy arrays (``[devices, addresses]``): uint16 for input and holding registers,
bool for discrete inputs and coils. :meth:`Image.fill` encodes a step's values
for all devices in one pass per point (the codec works on arrays); the Modbus
server answers reads by slicing a device's row. Faults act here: a frozen device
keeps its row, a bad one shows NaN / "not implemented" values, a garbage one
shows random words.
"""

from __future__ import annotations

import numpy as np

from twin.devices.profiles import BIT_TABLES, REGISTER_TABLES, Point, Profile
from twin.points.codec import DATA_TYPES, encode, swap_words

#: Raw value meaning "not available" for integer types (SunSpec convention).
NOT_AVAILABLE = {
    "int16": [0x8000],
    "uint16": [0xFFFF],
    "int32": [0x8000, 0x0000],
    "uint32": [0xFFFF, 0xFFFF],
    "int64": [0x8000, 0, 0, 0],
    "uint64": [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF],
}


def point_value(point: Point, values: dict[str, np.ndarray]) -> np.ndarray:
    """Engineering value of a point for every device (status words packed from bits)."""
    if point.bits:
        word = np.zeros(len(next(iter(values.values()))), dtype=np.int64)
        for bit, name in enumerate(point.bits):
            if name:
                word |= (np.asarray(values[name]) != 0).astype(np.int64) << bit
        return word.astype(float)
    return np.asarray(values[point.source], dtype=float)


class Image:
    """The Modbus tables of the ``n`` devices of one equipment type."""

    def __init__(self, profile: Profile, n: int) -> None:
        self.profile = profile
        self.n = n
        self.tables: dict[str, np.ndarray] = {}
        self.mapped: dict[str, np.ndarray] = {}
        self.points_at: dict[str, dict[int, Point]] = {}
        for table in REGISTER_TABLES + BIT_TABLES:
            points = [p for p in profile.points if p.table == table]
            span = (
                profile.span(table)
                if table in REGISTER_TABLES
                else max((p.address + 1 for p in points), default=0)
            )
            dtype = np.uint16 if table in REGISTER_TABLES else bool
            self.tables[table] = np.zeros((n, span), dtype=dtype)
            mask = np.zeros(span, bool)
            if table in REGISTER_TABLES:
                mask[:] = True  # reserved addresses inside the span read 0
            starts: dict[int, Point] = {}
            for p in points:
                mask[p.address : p.address + p.registers] = True
                starts[p.address] = p
            self.mapped[table] = mask
            self.points_at[table] = starts
        self._rng = np.random.default_rng(12345)

    def fill(
        self,
        values: dict[str, np.ndarray],
        frozen: np.ndarray | None = None,
        bad: np.ndarray | None = None,
        garbage: np.ndarray | None = None,
    ) -> None:
        """Encode one step's values; masks are per device (bool arrays of length n)."""
        kept = {t: a[frozen].copy() for t, a in self.tables.items()} if frozen is not None else {}
        profile = self.profile
        for point in profile.points:
            table = self.tables[point.table]
            value = point_value(point, values)
            if point.table in BIT_TABLES:
                table[:, point.address] = value != 0
                continue
            words = encode(value, point.type, profile.word_order_of(point), point.scale)
            if bad is not None and bad.any():
                words[bad] = self._bad_words(point, profile.word_order_of(point))
            table[:, point.address : point.address + point.registers] = words
        if garbage is not None and garbage.any():
            for name in REGISTER_TABLES:
                table = self.tables[name]
                rows = int(garbage.sum())
                table[garbage] = self._rng.integers(0, 65536, (rows, table.shape[1]), np.uint16)
        for name, saved in kept.items():
            self.tables[name][frozen] = saved

    @staticmethod
    def _bad_words(point: Point, word_order: str) -> np.ndarray:
        kind = DATA_TYPES[point.type]
        if kind.is_float:
            return encode([np.nan], point.type, word_order)[0]
        raw = np.asarray(NOT_AVAILABLE[point.type], dtype=np.uint16).reshape(1, -1)
        return swap_words(raw, word_order)[0]
