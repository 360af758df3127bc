"""Security of the OPC UA server: its config file, users' password hashes, who may do what.

:class:`Security` is the ``--opcua-security`` TOML file (policies, anonymous access, a
trust list folder, users with a salted scrypt :func:`password_hash` and their roles),
checked by :func:`load_security`. The user manager and the permission ruleset are what
asyncua asks on each session; the log filter drops asyncua's plaintext-password
warning where no password exists. Apart from the server because it is the part an
operator configures and a test or a tool imports (to hash a password) without
starting asyncua's server; ``OpcUaServer._secure`` (:mod:`twin.devices.opcua_server`)
applies it to the server.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from pathlib import Path
from typing import Any, Literal

from asyncua import ua
from asyncua.crypto.permission_rules import PermissionRuleset, User, UserRole
from pydantic import Field

from twin.config import Frozen, load_toml_model
from twin.errors import ConfigError

Policy = Literal["None", "Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt"]
POLICIES = {
    "None": ua.SecurityPolicyType.NoSecurity,
    "Basic256Sha256_Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
    "Basic256Sha256_SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
}


class UserEntry(Frozen):
    name: str = Field(min_length=1)
    password_hash: str = Field(
        pattern=r"^scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}$",
        description="salted scrypt of the password, as password_hash() prints it",
    )
    roles: list[Literal["read", "write"]] = Field(default_factory=lambda: ["read"])


class Security(Frozen):
    """OPC UA security of ``twin sim`` (a TOML file, paths relative to it)."""

    policies: list[Policy] = Field(
        default_factory=lambda: ["Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt"]
    )
    allow_anonymous: bool = False
    trusted_clients: Path | None = None  # folder of trusted client certificates (DER or PEM)
    users: list[UserEntry] = Field(default_factory=list)


def load_security(path: Path) -> Security:
    security = load_toml_model(path, Security)
    trusted = security.trusted_clients
    if trusted is not None:
        if not trusted.is_absolute():
            trusted = path.parent / trusted
        if not trusted.is_dir():
            raise ConfigError(path, f"no folder {trusted}", key="trusted_clients")
        if not any(entry.is_file() for entry in trusted.iterdir()):
            raise ConfigError(
                path,
                f"no client certificate in {trusted}: no client could connect "
                "(leave trusted_clients out to accept any client certificate)",
                key="trusted_clients",
            )
        security = security.model_copy(update={"trusted_clients": trusted})
    return security


# scrypt with a random salt per user (RFC 7914 parameters for interactive logins):
# a leaked config does not give passwords away to a table lookup or a fast GPU search.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def password_hash(password: str, salt: bytes | None = None) -> str:
    """The ``password_hash`` value of a user entry: ``scrypt$<salt hex>$<hash hex>``.

    ``python -c "import twin.devices.opcua_security as s; print(s.password_hash('pw'))"``
    prints one for a config file.
    """
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of a password against a stored ``password_hash``."""
    _, salt_hex, _ = stored.split("$")
    return hmac.compare_digest(password_hash(password, bytes.fromhex(salt_hex)), stored)


class _NoPasswordToLeak(logging.Filter):
    """Drops asyncua's "password may get transferred in plaintext" when none can be.

    asyncua warns whenever it offers a user-name token on an unencrypted endpoint,
    which the server without a security config always does: the warning then
    printed at every ``twin sim`` start though no user has a password (issue 18
    item 10). With users configured it stays, for there it is true.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No encrypting policy available")


#: the logger asyncua warns on (asyncua.server.server's module logger)
ASYNCUA_SERVER_LOG = logging.getLogger("asyncua.server.server")


class _UserManager:
    def __init__(self, security: Security | None) -> None:
        self.security = security

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if self.security is None:
            return User(role=UserRole.User, name=username)
        if not username:
            # An anonymous token, or a user-name token without a name: anonymous either
            # way, and only where anonymous access is allowed. A trusted client
            # certificate secures the channel; it is not a user (no X509 tokens here).
            return User(role=UserRole.Anonymous) if self.security.allow_anonymous else None
        for entry in self.security.users:
            known = entry.name == username and password is not None
            if known and verify_password(password, entry.password_hash):  # type: ignore[arg-type]
                return User(role=UserRole.User, name=username)
        return None


class _AllowSessions(PermissionRuleset):
    """Every identity the user manager accepted may browse, read and subscribe."""

    def check_validity(self, user: User, action_type_id: Any, body: Any) -> bool:
        return True
