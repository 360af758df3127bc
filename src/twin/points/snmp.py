"""SNMP addressing of a registry row, and SNMP credentials (never on the command line).

Registry columns (all prefixed ``snmp_``; a row with ``snmp_host`` is read over SNMP):

=================  ===========================================================
snmp_host          agent address
snmp_port          UDP port (default 161)
snmp_version       ``2c`` (default) or ``3`` (USM authPriv: HMAC-SHA-96, AES-128)
snmp_community     v2c community (default: the credentials' community, else
                   ``public``); ``<community>@<device>`` selects a device of a
                   multi-device agent (``twin sim``, snmpsim, community indexing)
snmp_user          v3 user; its keys come from the credentials file or environment
snmp_context       v3 context name (``twin sim``: the device name)
snmp_oid           numeric instance OID (``1.3.6.1.2.1.33.1.2.4.0``); several joined
                   by ``+`` are summed (the three phases of a UPS output); for
                   ``ups-alarm`` the well-known alarm's OID (``1.3.6.1.2.1.33.1.6.3.2``)
snmp_type          the SMI syntax expected: ``integer`` (default), ``gauge32``,
                   ``unsigned32``, ``counter32``, ``counter64``, ``timeticks``;
                   ``ups-alarm``: 1 while the alarm is in the UPS-MIB alarm table
                   (read with GETBULK), else 0
snmp_scale         engineering value = raw × scale (default 1; a PDU2-MIB sensor
                   with 3 decimal digits has 0.001)
=================  ===========================================================

Credentials: a TOML file (``community = "..."`` and ``[[users]]`` tables with
``name``, ``auth_key``, ``priv_key``) or the environment (``TWIN_SNMP_COMMUNITY``,
``TWIN_SNMP_USER``, ``TWIN_SNMP_AUTH_KEY``, ``TWIN_SNMP_PRIV_KEY``). Keys are at least
8 characters (RFC 3414 §11.2). Nothing here logs a key.

Examples
--------
>>> parse_oids("1.3.6.1.2.1.33.1.4.4.1.4.1+1.3.6.1.2.1.33.1.4.4.1.4.2")
((1, 3, 6, 1, 2, 1, 33, 1, 4, 4, 1, 4, 1), (1, 3, 6, 1, 2, 1, 33, 1, 4, 4, 1, 4, 2))
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from twin.errors import ConfigError

VERSIONS = ("2c", "3")
TYPES = ("integer", "gauge32", "unsigned32", "counter32", "counter64", "timeticks", "ups-alarm")
#: UPS-MIB upsAlarmDescr: the column a ``ups-alarm`` point looks for its alarm in
UPS_ALARM_DESCR = (1, 3, 6, 1, 2, 1, 33, 1, 6, 2, 1, 2)
MAX_OIDS = 16  # summed OIDs in one row
MIN_KEY = 8  # RFC 3414 §11.2: pass phrases of at least 8 octets

#: the registry columns of this module, in the order ``twin points`` prints them
SNMP_COLUMNS = (
    "snmp_host",
    "snmp_port",
    "snmp_version",
    "snmp_community",
    "snmp_user",
    "snmp_context",
    "snmp_oid",
    "snmp_type",
    "snmp_scale",
)


class _RowLike(Protocol):
    def text(self, column: str) -> str: ...
    def integer(
        self, column: str, low: int, high: int, default: int | None = None
    ) -> int | None: ...
    def number(self, column: str, default: float | None = None) -> float | None: ...
    def fail(self, column: str, message: str) -> ConfigError: ...


@dataclass(frozen=True, slots=True)
class SnmpAddress:
    """Where and how one point is read over SNMP."""

    host: str
    port: int
    version: str
    community: str  # v2c ("" → the credentials' community)
    user: str  # v3
    context: str
    oids: tuple[tuple[int, ...], ...]
    type: str
    scale: float

    @property
    def agent_key(self) -> tuple:
        """One poll task (and one request in flight) per agent and security context."""
        return (self.host, self.port, self.version, self.community, self.user, self.context)


def parse_oid(text: str) -> tuple[int, ...]:
    """A dotted numeric OID (a leading dot allowed); ValueError says why not."""
    raw = text.strip().removeprefix(".")
    parts = raw.split(".")
    if len(parts) < 2 or not all(p.isdigit() and p.isascii() for p in parts):
        raise ValueError(f"{text!r} is not a numeric OID like 1.3.6.1.2.1.33.1.2.4.0")
    oid = tuple(int(p) for p in parts)
    if oid[0] > 2 or (oid[0] < 2 and oid[1] > 39) or any(n >= 2**32 for n in oid):
        raise ValueError(f"{text!r}: arcs out of range (first 0-2, second 0-39, all < 2^32)")
    if len(oid) > 128:
        raise ValueError(f"{text!r}: more than 128 arcs")
    return oid


def parse_oids(text: str) -> tuple[tuple[int, ...], ...]:
    """One OID, or several joined by ``+`` (summed)."""
    parts = text.split("+")
    if len(parts) > MAX_OIDS:
        raise ValueError(f"at most {MAX_OIDS} OIDs are summed, got {len(parts)}")
    return tuple(parse_oid(p) for p in parts)


def parse_snmp(row: _RowLike) -> SnmpAddress | None:
    """The SNMP addressing of a registry row, None when it has no ``snmp_host``."""
    host = row.text("snmp_host")
    if not host:
        for column in ("snmp_oid", "snmp_user", "snmp_context"):
            if row.text(column):
                raise row.fail("snmp_host", f"{column} is given but no snmp_host")
        return None
    if any(c.isspace() for c in host):
        raise row.fail("snmp_host", f"{host!r} is not a host name or address")
    port = row.integer("snmp_port", 1, 65535, 161)
    version = row.text("snmp_version") or "2c"
    if version in ("v2c", "2"):
        version = "2c"
    if version == "v3":
        version = "3"
    if version not in VERSIONS:
        raise row.fail("snmp_version", f"expected 2c or 3, got {version!r}")
    community, user = row.text("snmp_community"), row.text("snmp_user")
    if version == "3" and not user:
        raise row.fail("snmp_user", "an SNMPv3 point needs a user (its keys: credentials)")
    if version == "2c" and user:
        raise row.fail("snmp_user", "a user is SNMPv3; set snmp_version to 3")
    if version == "3" and community:
        raise row.fail("snmp_community", "a community is SNMPv2c; v3 uses snmp_user")
    text = row.text("snmp_oid")
    if not text:
        raise row.fail("snmp_oid", "an SNMP point needs an OID (numeric, e.g. 1.3.6.1.2.1.1.3.0)")
    try:
        oids = parse_oids(text)
    except ValueError as error:
        raise row.fail("snmp_oid", str(error)) from None
    kind = row.text("snmp_type") or "integer"
    if kind not in TYPES:
        raise row.fail("snmp_type", f"unknown SNMP type {kind!r}; valid: {', '.join(TYPES)}")
    if kind == "ups-alarm" and len(oids) > 1:
        raise row.fail("snmp_oid", "a ups-alarm point names one alarm OID")
    scale = row.number("snmp_scale", 1.0)
    assert scale is not None
    if scale == 0 or scale != scale or abs(scale) == float("inf"):
        raise row.fail("snmp_scale", f"scale must be a finite non-zero number, got {scale:g}")
    return SnmpAddress(
        host=host,
        port=port or 161,
        version=version,
        community=community,
        user=user,
        context=row.text("snmp_context"),
        oids=oids,
        type=kind,
        scale=scale,
    )


# ------------------------------------------------------------------ credentials


@dataclass(frozen=True)
class SnmpUser:
    name: str
    auth_key: str = field(repr=False)  # HMAC-SHA-96 pass phrase
    priv_key: str = field(repr=False)  # AES-128-CFB pass phrase


@dataclass(frozen=True)
class SnmpSecurity:
    """A v2c community and v3 users: an agent serves them, a collector uses them."""

    community: str = "public"
    users: tuple[SnmpUser, ...] = ()

    def user(self, name: str) -> SnmpUser | None:
        return next((u for u in self.users if u.name == name), None)


def _user(where: Path, key: str, name: object, auth: object, priv: object) -> SnmpUser:
    if not isinstance(name, str) or not name:
        raise ConfigError(where, "a user needs a name", key=f"{key}.name")
    for label, value in (("auth_key", auth), ("priv_key", priv)):
        if not isinstance(value, str) or len(value) < MIN_KEY:
            raise ConfigError(
                where, f"user {name!r}: {label} must be a text of at least {MIN_KEY} characters",
                key=f"{key}.{label}",
            )  # fmt: skip
    return SnmpUser(name, str(auth), str(priv))


def load_security(path: Path | None = None, environ: dict[str, str] | None = None) -> SnmpSecurity:
    """Credentials from a TOML file, else from the environment, else v2c ``public`` only."""
    env = os.environ if environ is None else environ
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(path, f"cannot read: {error.strerror or error}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(path, f"not TOML: {error}") from None
        unknown = set(data) - {"community", "users"}
        if unknown:
            raise ConfigError(path, "unknown key; valid: community, users", key=sorted(unknown)[0])
        community = data.get("community", "public")
        if not isinstance(community, str):
            raise ConfigError(path, "community must be a text", key="community")
        users = data.get("users", [])
        if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
            raise ConfigError(path, "users must be [[users]] tables", key="users")
        parsed = tuple(
            _user(path, f"users.{i}", u.get("name"), u.get("auth_key"), u.get("priv_key"))
            for i, u in enumerate(users)
        )
        return SnmpSecurity(community, parsed)
    community = env.get("TWIN_SNMP_COMMUNITY", "public")
    name = env.get("TWIN_SNMP_USER", "")
    if not name:
        return SnmpSecurity(community)
    where = Path("<environment>")
    user = _user(
        where, "TWIN_SNMP_USER", name, env.get("TWIN_SNMP_AUTH_KEY"), env.get("TWIN_SNMP_PRIV_KEY")
    )
    return SnmpSecurity(community, (user,))
