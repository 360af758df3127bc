"""What ``--notify FILE`` holds: the options, the TOML file's checks and its loading.

:class:`NotifyOptions` and its targets are plain dataclasses, what the rest of twin
(and a ``--config`` file's ``[notify]`` table) maps onto; the pydantic models here only
check a TOML file into them, reading each secret from the file or environment
variable the config names (:func:`parse_notify`, :func:`load_notify`). Apart from the
notifier because it is the configuration side: ``twin check`` and the composition
root read it without starting a thread. The file's keys: ``docs/notifications.md``.
"""

from __future__ import annotations

import argparse
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from twin.config import Frozen, line_of_key, read_toml, validate
from twin.errors import ConfigError
from twin.sinks.notify.payload import SIGNATURE_HEADER

EVENTS = ("raise", "clear", "escalate")

# ------------------------------------------------------------------ options
# Plain dataclasses: what the rest of twin (and a --config file) maps onto. The
# pydantic models below only check a TOML file into them.


@dataclass
class Retry:
    attempts: int = 4  # tries in all, the first included
    backoff_s: float = 1.0  # wait before the 2nd try; doubles each try
    max_backoff_s: float = 60.0


@dataclass
class Target:
    name: str
    kind: str  # webhook, email, command
    timeout_s: float = 10.0
    min_priority: str = "low"
    events: tuple[str, ...] = EVENTS


@dataclass
class WebhookTarget(Target):
    url: str = ""
    secret: bytes = field(default=b"", repr=False)  # read from secret_file / secret_env
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class EmailTarget(Target):
    host: str = ""
    port: int = 587
    sender: str = ""
    to: tuple[str, ...] = ()
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None  # a private CA's certificate (default: the system's)


@dataclass
class CommandTarget(Target):
    argv: tuple[str, ...] = ()


@dataclass
class NotifyOptions:
    """Everything ``--notify FILE`` holds (secrets already read)."""

    targets: list[Target] = field(default_factory=list)
    group_wait_s: float = 10.0
    escalate_after_s: float = 0.0  # 0: no time-based escalation
    consequences: bool = False
    min_priority: str = "low"
    rate_limit: int = 5  # raises + escalations sent per alarm per rate_window_s
    rate_window_s: float = 3600.0
    queue_size: int = 1000  # per target
    retry: Retry = field(default_factory=Retry)
    log: Path | None = None  # delivery log, JSON lines
    source: Path | None = None  # the file these came from


_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_Priority = Literal["low", "medium", "high", "urgent"]
_Event = Literal["raise", "clear", "escalate"]


class _Target(Frozen):
    name: str = Field(pattern=_NAME)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    min_priority: _Priority = "low"
    events: list[_Event] = Field(default_factory=lambda: list(EVENTS), min_length=1)


class _Secret(Frozen):
    @model_validator(mode="after")
    def _one_source(self) -> _Secret:
        fields = self._secret_fields()
        given = [k for k in fields if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of {' or '.join(fields)}, not both")
        return self

    @staticmethod
    def _secret_fields() -> tuple[str, str]:
        return ("", "")


class _Webhook(_Target, _Secret):
    url: str
    secret_file: str | None = None
    secret_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @staticmethod
    def _secret_fields() -> tuple[str, str]:
        return ("secret_file", "secret_env")

    @model_validator(mode="after")
    def _check(self) -> _Webhook:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an http(s) URL with a host")
        if self.secret_file is None and self.secret_env is None:
            raise ValueError("a webhook needs secret_file or secret_env (the HMAC key)")
        for name in self.headers:
            if name.lower() in ("content-type", SIGNATURE_HEADER.lower(), "content-length"):
                raise ValueError(f"headers: {name!r} is set by twin")
        return self


class _Email(_Target, _Secret):
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    sender: str = Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    ca_file: str | None = None

    @staticmethod
    def _secret_fields() -> tuple[str, str]:
        return ("password_file", "password_env")

    @model_validator(mode="after")
    def _check(self) -> _Email:
        for address in self.to:
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"to: {address!r} is not an e-mail address")
        has_password = self.password_file is not None or self.password_env is not None
        if has_password != (self.username is not None):
            raise ValueError("username and password_file/password_env go together")
        return self


class _Command(_Target):
    argv: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> _Command:
        if not self.argv[0]:
            raise ValueError("argv[0] (the program) is empty")
        return self


class _Retry(Frozen):
    attempts: int = Field(default=4, ge=1, le=20)
    backoff_s: float = Field(default=1.0, ge=0, le=3600)
    max_backoff_s: float = Field(default=60.0, ge=0, le=86400)


class _RateLimit(Frozen):
    per_alarm: int = Field(default=5, ge=1)
    window_s: float = Field(default=3600.0, gt=0)


class _File(Frozen):
    group_wait_s: float = Field(default=10.0, ge=0, le=3600)
    escalate_after_s: float = Field(default=0.0, ge=0)
    consequences: bool = False
    min_priority: _Priority = "low"
    queue_size: int = Field(default=1000, ge=1, le=1_000_000)
    log: str | None = None
    retry: _Retry = Field(default_factory=_Retry)
    rate_limit: _RateLimit = Field(default_factory=_RateLimit)
    webhook: list[_Webhook] = Field(default_factory=list)
    email: list[_Email] = Field(default_factory=list)
    command: list[_Command] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> _File:
        if not (self.webhook or self.email or self.command):
            raise ValueError("no [[webhook]], [[email]] or [[command]]: nothing to notify")
        return self


def _secret(path: Path, text: str, key: str, file: str | None, env: str | None) -> str:
    """A secret from the file or the environment variable the config names."""
    if file is not None:
        where = (path.parent / Path(file).expanduser()).resolve()
        try:
            value = where.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(
                path, f"cannot read the secret file: {error.strerror}", key=f"{key}_file",
                line=line_of_key(text, f"{key}_file"),
            ) from None  # fmt: skip
        if not value:
            raise ConfigError(path, "the secret file is empty", key=f"{key}_file")
        return value
    assert env is not None
    value = os.environ.get(env, "")
    if not value:
        raise ConfigError(
            path, f"environment variable {env} is not set (or empty)", key=f"{key}_env",
            line=line_of_key(text, f"{key}_env"),
        )  # fmt: skip
    return value


def parse_notify(data: dict[str, Any], path: Path, text: str = "") -> NotifyOptions:
    """Check parsed TOML (a ``--notify`` file, or a table of a larger config) into options.

    Raises :class:`ConfigError` naming ``path`` and the key.
    """
    checked = validate(path, text, data, _File)
    targets: list[Target] = []
    names: set[str] = set()
    for kind, entries in (("webhook", checked.webhook), ("email", checked.email),
                          ("command", checked.command)):  # fmt: skip
        for i, entry in enumerate(entries):
            key = f"{kind}.{i}"
            if entry.name in names:
                raise ConfigError(path, f"target {entry.name!r} is named twice", key=f"{key}.name")
            names.add(entry.name)
            common = {
                "name": entry.name,
                "kind": kind,
                "timeout_s": entry.timeout_s,
                "min_priority": entry.min_priority,
                "events": tuple(entry.events),
            }
            if isinstance(entry, _Webhook):
                secret = _secret(path, text, f"{key}.secret", entry.secret_file, entry.secret_env)
                targets.append(
                    WebhookTarget(
                        **common, url=entry.url, secret=secret.encode(), headers=dict(entry.headers)
                    )
                )
            elif isinstance(entry, _Email):
                password = None
                if entry.username is not None:
                    password = _secret(path, text, f"{key}.password", entry.password_file,
                                       entry.password_env)  # fmt: skip
                ca = None
                if entry.ca_file is not None:
                    ca = (path.parent / Path(entry.ca_file).expanduser()).resolve()
                    if not ca.is_file():
                        raise ConfigError(path, f"no such file {ca}", key=f"{key}.ca_file")
                targets.append(EmailTarget(**common, host=entry.host, port=entry.port,
                                           sender=entry.sender, to=tuple(entry.to),
                                           username=entry.username, password=password,
                                           ca_file=ca))  # fmt: skip
            else:
                targets.append(CommandTarget(**common, argv=tuple(entry.argv)))
    log_path = None
    if checked.log is not None:
        if not checked.log.strip():
            raise ConfigError(path, "log is an empty path", key="log")
        log_path = path.parent / Path(checked.log).expanduser()
    return NotifyOptions(
        targets=targets,
        group_wait_s=checked.group_wait_s,
        escalate_after_s=checked.escalate_after_s,
        consequences=checked.consequences,
        min_priority=checked.min_priority,
        rate_limit=checked.rate_limit.per_alarm,
        rate_window_s=checked.rate_limit.window_s,
        queue_size=checked.queue_size,
        retry=Retry(checked.retry.attempts, checked.retry.backoff_s, checked.retry.max_backoff_s),
        log=log_path,
        source=path,
    )


def load_notify(path: str | os.PathLike[str]) -> NotifyOptions:
    """Read a ``--notify`` TOML file (ConfigError naming the file, key and line)."""
    path = Path(path)
    data, text = read_toml(path)
    return parse_notify(data, path, text)


def add_notify_option(parser: argparse.ArgumentParser) -> None:
    """Declare ``--notify FILE`` on a command's parser."""
    parser.add_argument(
        "--notify",
        type=Path,
        metavar="FILE",
        help="send alarm raises, clears and escalations to webhooks, e-mail or a command "
        "(TOML; configs/notify/example.toml, docs/notifications.md)",
    )
