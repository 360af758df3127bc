"""Point registry: the CSV an integrator writes (or ``twin points`` prints), read and checked.

One row per point, the columns of :data:`COLUMNS` (``point``, ``device``,
``unit``, ``modbus_host``, ``modbus_port``, ``unit_id``, ``register_type``, ``address``,
``data_type``, ``word_order``, ``scale``, ``bit``, ``opcua_node_id``, ``range_low``,
``range_high``, ``site``, ``hall``, ``role``, ``group``…). Only ``point`` and the
addressing of one protocol are required; the others are optional columns:

=================  ===========================================================
equipment          equipment class: the measurement of the point's records
transport          ``tcp`` (default), ``rtu-over-tcp`` (serial gateway passing RTU
                   frames through), ``rtu`` (``modbus_host`` is a serial port)
serial             ``<baud> <bits><parity><stop>`` for ``rtu``, e.g. ``19200 8E1``
registers          registers the vendor states for the point (checked against the type)
vendor_address     the number a 1-based manual prints (``30001`` = input 0,
                   ``40001`` = holding 0, ``10001`` = discrete 0, ``1`` = coil 0);
                   when ``address`` is empty it is converted, when both are
                   given they must agree
opcua_endpoint     ``opc.tcp://host:port/path`` of the server holding the node
interval_s         poll interval of the device (the collector's default otherwise)
rating             nameplate of the quantity (kW of a UPS, kWh of its battery, kW of
                   a CDU) for headroom and battery runtime
snmp_*             SNMP addressing (host, port, version, community or v3 user,
                   context, OID, type, scale): :mod:`twin.points.snmp`
=================  ===========================================================

Addresses are **0-based protocol addresses**. OPC UA node ids may name their
namespace by URI (``nsu=urn:vendor:plant;s=AHU1.Temp``), so a server that
renumbers its namespaces does not break them. Lines starting with ``#`` are
comments. Every error names the file, the row (its line in the file) and the column.

Examples
--------
>>> to_protocol_address(40001)
('holding_register', 0)
>>> to_protocol_address(30017)
('input_register', 16)
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from twin.errors import ConfigError
from twin.points import bacnet
from twin.points.codec import DATA_TYPES, WORD_ORDERS
from twin.points.snmp import SnmpAddress, parse_snmp

REGISTER_TYPES = ("input_register", "holding_register", "discrete_input", "coil")
BIT_TABLES = ("discrete_input", "coil")
TRANSPORTS = ("tcp", "rtu-over-tcp", "rtu")
NODE_ID = re.compile(r"^(ns=\d+|nsu=[^;]+);([isgb])=.+$")
SERIAL = re.compile(r"^(\d+)\s+([5-8])([NEO])([12])$")

#: The columns ``twin points`` prints, in order (a hand-written registry may hold any
#: subset, in any order, plus the optional columns above).
COLUMNS = (
    "point",
    "device",
    "equipment",
    "area",
    "description",
    "unit",
    "modbus_host",
    "modbus_port",
    "unit_id",
    "register_type",
    "address",
    "data_type",
    "word_order",
    "scale",
    "bit",
    "opcua_node_id",
    "opcua_endpoint",
    "writable",
    "min",
    "max",
    "range_low",
    "range_high",
    "site",
    "hall",
    "role",
    "group",
    "rating",
    *bacnet.COLUMNS,  # twin.points.bacnet: BACnet/IP addressing
)

_VENDOR_BASES = (  # (lowest printed number, table)
    (400001, "holding_register"),
    (300001, "input_register"),
    (100001, "discrete_input"),
    (40001, "holding_register"),
    (30001, "input_register"),
    (10001, "discrete_input"),
    (1, "coil"),
)


def to_protocol_address(number: int) -> tuple[str, int]:
    """Table and 0-based address of a 1-based manual number (5 or 6 digits)."""
    for base, table in _VENDOR_BASES:
        if number >= base:
            if base in (40001, 30001, 10001) and number - base > 9998:
                continue
            return table, number - base
    raise ValueError(f"{number} is not a 1-based register number")


@dataclass(frozen=True, slots=True)
class PointDef:
    """One row of a registry."""

    index: int
    name: str
    device: str
    equipment: str
    unit: str
    description: str = ""
    # Modbus
    host: str = ""
    port: int | None = None
    transport: str = "tcp"
    serial: str = ""
    unit_id: int = 1
    register_type: str = ""
    address: int = 0
    data_type: str = "float32"
    word_order: str = "ABCD"
    scale: float = 1.0
    bit: int | None = None
    # OPC UA
    opcua_endpoint: str = ""
    opcua_node_id: str = ""
    # BACnet/IP (twin.points.bacnet)
    bacnet_address: str = ""
    bacnet_device: int | None = None
    bacnet_object_type: str = ""
    bacnet_object_instance: int | None = None
    bacnet_property: str = "present-value"
    bacnet_priority: int | None = None
    # limits and tags
    writable: bool = False
    write_min: float | None = None
    write_max: float | None = None
    range_low: float | None = None
    range_high: float | None = None
    site: str = ""
    hall: str = ""
    area: str = ""
    role: str = ""
    group: str = ""
    rating: float | None = None
    interval_s: float | None = None
    line: int = 0
    # SNMP (twin.points.snmp)
    snmp: SnmpAddress | None = None

    @property
    def registers(self) -> int:
        return max(DATA_TYPES[self.data_type].registers, 1)

    @property
    def modbus(self) -> bool:
        return bool(self.host) and bool(self.register_type)

    @property
    def bacnet(self) -> bool:
        return bool(self.bacnet_address)

    @property
    def device_key(self) -> tuple:
        """One Modbus client per device: (transport, host, port, unit id)."""
        return (self.transport, self.host, self.port, self.unit_id)

    def write_refusal(self, value: float) -> str | None:
        """Why writing ``value`` to this point is refused, or None when it may be written.

        One rule for every protocol's write and for the dashboard's setpoint dialog:
        the point must be writable, the value a finite number inside ``[min, max]``
        of its registry row (either bound may be open).

        >>> p = PointDef(0, "crah-1.t_supply_set", "crah-1", "crah", "°C", writable=True,
        ...              write_min=18.0, write_max=None)
        >>> p.write_refusal(15.0), p.write_refusal(35.0)
        ('outside [18, —]', None)
        """
        if not self.writable:
            return "not writable"
        if not math.isfinite(value):
            return "not a number"
        low, high = self.write_min, self.write_max
        if (low is not None and value < low) or (high is not None and value > high):
            return f"outside [{_bound(low)}, {_bound(high)}]"
        return None


def _bound(limit: float | None) -> str:
    return "—" if limit is None else f"{limit:g}"


@dataclass
class Registry:
    path: Path
    points: list[PointDef]
    by_name: dict[str, PointDef] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {p.name: p for p in self.points}

    def __len__(self) -> int:
        return len(self.points)

    def with_role(self, role: str) -> list[PointDef]:
        return [p for p in self.points if p.role == role]


class _Row:
    """A CSV row with errors that name the file, row and column."""

    def __init__(self, path: Path, line: int, data: dict[str, str]) -> None:
        self.path, self.line, self.data = path, line, data

    def fail(self, column: str, message: str) -> ConfigError:
        return ConfigError(self.path, f"row {self.line}, column '{column}': {message}")

    def text(self, column: str) -> str:
        return (self.data.get(column) or "").strip()

    def integer(self, column: str, low: int, high: int, default: int | None = None) -> int | None:
        raw = self.text(column)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise self.fail(column, f"expected an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise self.fail(column, f"must be in [{low}, {high}], got {value}")
        return value

    def number(self, column: str, default: float | None = None) -> float | None:
        raw = self.text(column)
        if not raw:
            return default
        try:
            return float(raw)
        except ValueError:
            raise self.fail(column, f"expected a number, got {raw!r}") from None


def _parse(row: _Row, index: int) -> PointDef:
    name = row.text("point")
    if not name:
        raise row.fail("point", "a point needs a name")
    device = row.text("device") or name.split(".", 1)[0]
    host = row.text("modbus_host")
    node = row.text("opcua_node_id")
    fields: dict[str, object] = bacnet.parse_columns(row)
    snmp = parse_snmp(row)
    if not host and not node and not fields and snmp is None:
        raise row.fail(
            "modbus_host",
            "a point needs Modbus addressing, an opcua_node_id, a bacnet_address or an snmp_host",
        )
    if node and not NODE_ID.match(node):
        raise row.fail(
            "opcua_node_id", f"{node!r} is not a node id (ns=2;s=Name or nsu=URI;s=Name)"
        )
    data_type = row.text("data_type") or ("bool" if row.text("bit") else "float32")
    if data_type not in DATA_TYPES:
        raise row.fail(
            "data_type", f"unknown data type {data_type!r}; valid: {', '.join(DATA_TYPES)}"
        )
    kind = DATA_TYPES[data_type]
    if host:
        transport = row.text("transport") or "tcp"
        if transport not in TRANSPORTS:
            raise row.fail(
                "transport", f"unknown transport {transport!r}; valid: {', '.join(TRANSPORTS)}"
            )
        serial = row.text("serial")
        if transport == "rtu" and not SERIAL.match(serial or "9600 8N1"):
            raise row.fail(
                "serial", f"expected '<baud> <bits><parity><stop>' like 19200 8E1, got {serial!r}"
            )
        port = row.integer("modbus_port", 1, 65535)
        if transport != "rtu" and port is None:
            raise row.fail("modbus_port", "a Modbus TCP point needs a port")
        register_type = row.text("register_type")
        address = row.integer("address", 0, 65535)
        vendor = row.integer("vendor_address", 1, 465536)
        if vendor is not None:
            try:
                vendor_table, vendor_address = to_protocol_address(vendor)
            except ValueError as error:
                raise row.fail("vendor_address", str(error)) from None
            if address is None:
                address = vendor_address
            elif address != vendor_address:
                raise row.fail(
                    "address",
                    f"address {address} disagrees with vendor_address {vendor} "
                    f"(= {vendor_table} {vendor_address}, 0-based)",
                )
            register_type = register_type or vendor_table
            if register_type != vendor_table:
                raise row.fail("register_type", f"vendor_address {vendor} is a {vendor_table}")
        if register_type not in REGISTER_TYPES:
            raise row.fail(
                "register_type",
                f"unknown register type {register_type!r}; valid: {', '.join(REGISTER_TYPES)}",
            )
        if address is None:
            raise row.fail("address", "a Modbus point needs an address (0-based)")
        bit = row.integer("bit", 0, 15)
        if register_type in BIT_TABLES and data_type != "bool":
            raise row.fail("data_type", f"a {register_type} is one bit: data type must be bool")
        if register_type not in BIT_TABLES and data_type == "bool" and bit is None:
            raise row.fail("data_type", "a register is not a bool (use uint16 with a bit)")
        if bit is not None and data_type not in ("uint16", "int16", "bool"):
            raise row.fail("bit", f"a bit is read from a 16-bit register, not {data_type}")
        if bit is not None and data_type == "bool":
            data_type = "uint16"
        stated = row.integer("registers", 0, 4)
        if stated is not None and stated != max(kind.registers, 1):
            raise row.fail(
                "registers",
                f"{data_type} takes {max(kind.registers, 1)} register(s), the row says {stated}",
            )
        word_order = row.text("word_order") or "ABCD"
        if word_order not in WORD_ORDERS:
            raise row.fail(
                "word_order", f"unknown word order {word_order!r}; valid: {', '.join(WORD_ORDERS)}"
            )
        if address + max(DATA_TYPES[data_type].registers, 1) > 65536:
            raise row.fail("address", f"{data_type} at {address} runs past register 65535")
        scale = row.number("scale", 1.0)
        if scale == 0:
            raise row.fail("scale", "scale must not be 0")
        fields.update(
            host=host,
            port=port,
            transport=transport,
            serial=serial,
            unit_id=row.integer("unit_id", 0, 255, 1),
            register_type=register_type,
            address=address,
            word_order=word_order,
            scale=scale,
            bit=bit,
        )
    endpoint = row.text("opcua_endpoint")
    if endpoint and not endpoint.startswith("opc.tcp://"):
        raise row.fail("opcua_endpoint", f"expected opc.tcp://host:port/..., got {endpoint!r}")
    low, high = row.number("range_low"), row.number("range_high")
    if low is not None and high is not None and low > high:
        raise row.fail("range_high", f"range_high {high:g} is below range_low {low:g}")
    interval = row.number("interval_s")
    if interval is not None and interval <= 0:
        raise row.fail("interval_s", "must be > 0")
    writable = row.text("writable").lower()
    if writable not in ("", "yes", "no", "true", "false", "1", "0"):
        raise row.fail("writable", f"expected yes or no, got {writable!r}")
    area = row.text("area")
    hall = row.text("hall") or (area if area.startswith("hall") else "")
    write_min, write_max = row.number("min"), row.number("max")
    if write_min is not None and write_max is not None and write_min > write_max:
        raise row.fail("min", f"{write_min:g} is above max {write_max:g}")
    return PointDef(
        index=index,
        name=name,
        device=device,
        equipment=row.text("equipment") or "device",
        unit=row.text("unit"),
        description=row.text("description"),
        data_type=data_type,
        opcua_endpoint=endpoint,
        opcua_node_id=node,
        writable=writable in ("yes", "true", "1"),
        write_min=write_min,
        write_max=write_max,
        range_low=low,
        range_high=high,
        site=row.text("site"),
        hall=hall,
        area=area,
        role=row.text("role"),
        group=row.text("group"),
        rating=row.number("rating"),
        interval_s=interval,
        line=row.line,
        snmp=snmp,
        **fields,  # type: ignore[arg-type]
    )


def _check_overlaps(path: Path, points: list[PointDef]) -> None:
    """Two points on the same register of a device (bits of one word excepted)."""
    words: dict[tuple, PointDef] = {}  # (device, table, address) → point using it whole
    bits: dict[tuple, PointDef] = {}  # (device, table, address, bit)
    for point in points:
        if not point.modbus:
            continue
        base = (point.device_key, point.register_type)
        if point.bit is not None:
            key = (*base, point.address, point.bit)
            if key in bits:
                raise ConfigError(
                    path,
                    f"row {point.line}, column 'bit': bit {point.bit} of {point.register_type} "
                    f"{point.address} is already {bits[key].name} (row {bits[key].line})",
                )
            bits[key] = point
            other = words.get((*base, point.address))
            if other is not None and other.registers > 1:
                raise _overlap(path, point, other)
            continue
        for offset in range(point.registers):
            key = (*base, point.address + offset)
            other = words.get(key)
            if other is not None:
                raise _overlap(path, point, other)
            words[key] = point


def _overlap(path: Path, point: PointDef, other: PointDef) -> ConfigError:
    return ConfigError(
        path,
        f"row {point.line}, column 'address': {point.name} ({point.data_type} at "
        f"{point.register_type} {point.address}) overlaps {other.name} (row {other.line}, "
        f"{other.data_type} at {other.address}) on unit {point.unit_id} of "
        f"{point.host}:{point.port or ''}",
    )


def parse_registry(text: str, path: Path) -> Registry:
    """Parse and check registry text; the first problem is a ConfigError."""
    lines = text.splitlines()
    numbered = [(i + 1, line) for i, line in enumerate(lines) if not line.lstrip().startswith("#")]
    numbered = [(n, line) for n, line in numbered if line.strip()]
    if not numbered:
        raise ConfigError(path, "empty registry: expected a header row and one row per point")
    reader = csv.reader(io.StringIO("\n".join(line for _, line in numbered)))
    try:
        return _parse_rows(path, numbered, reader)
    except csv.Error as error:
        # csv's own limits (a field over 128 KiB, a NUL byte): the row it stopped at.
        line = numbered[min(max(reader.line_num, 1), len(numbered)) - 1][0]
        raise ConfigError(path, f"row {line}: {error}") from None


def _delimiter_found(header_line: str) -> str | None:
    """The separator a header that is not comma-separated seems to use."""
    for delimiter, name in ((";", "';'"), ("\t", "a tab"), ("|", "'|'")):
        if delimiter in header_line and "point" in (
            h.strip() for h in header_line.split(delimiter)
        ):
            return name
    return None


def _parse_rows(
    path: Path, numbered: list[tuple[int, str]], reader: Iterator[list[str]]
) -> Registry:
    header_line = numbered[0][0]
    header = [h.strip() for h in next(reader)]
    if "point" not in header:
        found = _delimiter_found(numbered[0][1])
        if found:
            raise ConfigError(
                path,
                f"row {header_line}: the header is separated by {found}; a registry is "
                "comma-separated (save it as CSV with ',' as the delimiter)",
            )
        raise ConfigError(path, f"row {header_line}: the header needs a 'point' column")
    duplicates = {h for h in header if header.count(h) > 1}
    if duplicates:
        raise ConfigError(path, f"row {header_line}: column {sorted(duplicates)[0]!r} twice")
    points: list[PointDef] = []
    seen: dict[str, int] = {}
    for (line, _), values in zip(numbered[1:], reader, strict=False):
        if len(values) > len(header):
            raise ConfigError(
                path, f"row {line}: {len(values)} fields, the header has {len(header)}"
            )
        row = _Row(path, line, dict(zip(header, values, strict=False)))
        point = _parse(row, len(points))
        if point.name in seen:
            raise row.fail("point", f"{point.name!r} is already defined in row {seen[point.name]}")
        seen[point.name] = line
        points.append(point)
    if not points:
        raise ConfigError(path, f"row {header_line}: a header and no points (one row per point)")
    _check_overlaps(path, points)
    return Registry(path, points)


def load_registry(path: str | Path) -> Registry:
    """Read and check a registry CSV file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(path, "file not found") from None
    except UnicodeDecodeError as error:
        raise ConfigError(path, f"not UTF-8 text: {error}") from None
    return parse_registry(text, path)
