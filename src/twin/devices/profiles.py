"""Device profiles: the register map and OPC UA layout of one equipment type, as data.

A profile lives in ``models/profiles/<group>/<equipment>.toml``. It is what a
vendor publishes for a product: every point with its Modbus table, its 0-based
protocol address, data type, word order, scale, unit and range, whether it is
writable and within which limits, and status words as bit fields. The same
profile drives the simulated device (:mod:`twin.devices.modbus_server`,
:mod:`twin.devices.opcua_server`) and the collector's default point registry
(``twin points``), so the two can never disagree.

Addresses are **0-based protocol addresses** (what goes into the request PDU):
input register 0 is "30001" and holding register 0 is "40001" in a 1-based
manual. Each register table spans ``[0, input_registers)`` or
``[0, holding_registers)``; addresses inside the span that no point uses are
reserved and read as 0; anything beyond the span is refused with exception 02.

A vendor's product (``models/profiles/vendor/``) names the plant equipment it
shows with ``binds`` and the class it reports as with ``kind``; a site lists such
devices one by one (``[[devices]]`` in its config).

A profile is refused at load, with the file, the key and its line, when a data
type or word order is unknown, two points overlap, a writable point has no
limits or limits the encoding cannot carry, a bit field is not on a UINT16, or
a discrete input is not a BOOL.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from twin.config import Frozen, read_toml, validate
from twin.errors import ConfigError
from twin.paths import data_path
from twin.points.codec import DATA_TYPES, WORD_ORDERS
from twin.points.units import UNITS

Table = Literal["input", "holding", "discrete", "coil"]
REGISTER_TABLES = ("input", "holding")
BIT_TABLES = ("discrete", "coil")


class Point(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    table: Table
    address: Annotated[int, Field(ge=0, le=65535)]
    type: str = "float32"
    word_order: str | None = None
    scale: float = 1.0
    unit: str = ""
    quantity: str | None = None
    range: tuple[float, float] | None = None
    writable: bool = False
    min: float | None = None
    max: float | None = None
    bits: list[str] = Field(default_factory=list)
    #: the point's role in the site metrics, where the (equipment, point) table has none
    role: str | None = None

    @property
    def source(self) -> str:
        """The binding quantity this point reads (its name unless stated)."""
        return self.quantity or self.name

    @property
    def registers(self) -> int:
        return max(DATA_TYPES[self.type].registers, 1)


class Profile(Frozen):
    equipment: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    description: str
    source: str
    addressing: str
    word_order: str = "ABCD"
    read_only_exception: Literal[1, 2] = 2
    input_registers: Annotated[int, Field(ge=0, le=65536)] | None = None
    holding_registers: Annotated[int, Field(ge=0, le=65536)] | None = None
    opcua_type: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$")
    #: the plant equipment whose values this product shows (default: ``equipment``)
    binds: str | None = None
    #: the equipment class the device reports as: the registry's ``equipment`` column
    #: (default: ``equipment``); a vendor's UPS map is a ``ups``
    kind: str | None = None
    points: list[Point]

    @property
    def binding(self) -> str:
        return self.binds or self.equipment

    @property
    def equipment_class(self) -> str:
        return self.kind or self.equipment

    def word_order_of(self, point: Point) -> str:
        return point.word_order or self.word_order

    def span(self, table: str) -> int:
        """Number of addresses of a table (reserved ones included)."""
        used = [p.address + p.registers for p in self.points if p.table == table]
        declared = {"input": self.input_registers, "holding": self.holding_registers}.get(table)
        return declared if declared is not None else max(used, default=0)


def profiles_root() -> Path:
    return data_path("models", "profiles")


def _points_line(text: str, index: int, key: str) -> int | None:
    """Line of ``key`` inside the ``index``-th ``[[points]]`` table (1-based lines)."""
    seen = -1
    in_table = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if re.match(r"^\[\[\s*points\s*\]\]$", line):
            seen += 1
            in_table = seen == index
            if in_table and key == "":
                return number
            continue
        if line.startswith("["):
            in_table = False
        if in_table and re.match(rf"^{re.escape(key)}\s*=", line):
            return number
    return None


def check_profile(profile: Profile, path: Path, text: str = "") -> None:
    """Checks the schema cannot express; the first failure is a ConfigError."""

    def fail(index: int, key: str, message: str) -> None:
        line = _points_line(text, index, key) if text else None
        raise ConfigError(path, message, key=f"points.{index}.{key}", line=line)

    if profile.word_order not in WORD_ORDERS:
        raise ConfigError(
            path, f"word order must be one of {', '.join(WORD_ORDERS)}", key="word_order"
        )
    names: set[str] = set()
    used: dict[str, dict[int, str]] = {t: {} for t in ("input", "holding", "discrete", "coil")}
    for i, point in enumerate(profile.points):
        if point.name in names:
            fail(i, "name", f"point {point.name!r} is defined twice")
        names.add(point.name)
        if point.type not in DATA_TYPES:
            fail(i, "type", f"unknown data type {point.type!r}; valid: {', '.join(DATA_TYPES)}")
        kind = DATA_TYPES[point.type]
        if point.word_order is not None and point.word_order not in WORD_ORDERS:
            fail(i, "word_order", f"word order must be one of {', '.join(WORD_ORDERS)}")
        if point.unit not in UNITS:
            fail(i, "unit", f"unknown unit {point.unit!r}; valid: {', '.join(UNITS)}")
        if point.table in BIT_TABLES and point.type != "bool":
            fail(i, "type", f"a {point.table} point is one bit: type must be 'bool'")
        if point.table in REGISTER_TABLES and point.type == "bool":
            fail(i, "type", "a register point cannot be 'bool' (use uint16 with bits)")
        if point.scale == 0 or (kind.is_float and point.scale != 1.0):
            fail(i, "scale", "scale must be non-zero, and 1 for floating-point types")
        if point.bits and (point.type != "uint16" or len(point.bits) > 16):
            fail(i, "bits", "a bit field is a uint16 of at most 16 named bits")
        if point.writable:
            if point.table not in ("holding", "coil"):
                fail(i, "writable", "only holding registers and coils can be written")
            if point.type != "bool" and (point.min is None or point.max is None):
                fail(i, "writable", "a writable point needs min and max")
            if point.min is not None and point.max is not None:
                if point.min > point.max:
                    fail(i, "min", f"min {point.min} is above max {point.max}")
                low, high = kind.low * point.scale, kind.high * point.scale
                low, high = min(low, high), max(low, high)
                if point.min < low or point.max > high:
                    fail(
                        i,
                        "max",
                        f"limits [{point.min}, {point.max}] do not fit {point.type} "
                        f"at scale {point.scale} ([{low:g}, {high:g}])",
                    )
        table = used[point.table]
        for offset in range(point.registers):
            address = point.address + offset
            if address in table:
                fail(i, "address", f"{point.table} {address} is already used by {table[address]}")
            table[address] = point.name
        if point.table in REGISTER_TABLES:
            span = profile.span(point.table)
            if point.address + point.registers > span:
                fail(
                    i,
                    "address",
                    f"{point.table} {point.address} lies beyond {point.table}_registers = {span}",
                )


def load_profile_file(path: Path) -> Profile:
    """Read, validate and check one profile file."""
    data, text = read_toml(path)
    profile = validate(path, text, data, Profile)
    check_profile(profile, path, text)
    if path.stem != profile.equipment:
        raise ConfigError(
            path, f"file name must match equipment = {profile.equipment!r}", key="equipment"
        )
    return profile


@cache
def _load_all(root: Path) -> dict[str, tuple[Profile, Path]]:
    found: dict[str, tuple[Profile, Path]] = {}
    for path in sorted(root.glob("*/*.toml")):
        profile = load_profile_file(path)
        if profile.equipment in found:
            raise ConfigError(
                path, f"equipment {profile.equipment!r} also in {found[profile.equipment][1]}"
            )
        found[profile.equipment] = (profile, path)
    return found


def load_profiles(root: Path | None = None) -> dict[str, tuple[Profile, Path]]:
    """Every profile under ``models/profiles``, by equipment type, with its file."""
    return _load_all((root or profiles_root()).resolve())
