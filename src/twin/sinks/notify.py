"""``--notify FILE``: alarm transitions sent to webhooks, e-mail and commands.

The alarm engine calls :meth:`Notifier.transition` on every change of an alarm's
state (:attr:`twin.live.alarms.AlarmEngine.listeners`); :meth:`Notifier.tick`
(after each evaluation, on the feeder's thread) turns them into events:

``raise``     the alarm is annunciated (``unacked``), after ``group_wait_s`` so that a
              consequence polled a moment before its first-out is known as one
``clear``     the condition returned to normal; sent only for an alarm whose raise was
              sent, so every incident a receiver opened is closed
``escalate``  still unacknowledged ``escalate_after_s`` after its raise, or its
              priority went up (a system alarm)

What is *not* sent: a shelved, suppressed or out-of-service alarm (those states
annunciate nothing, and a raise still waiting when its alarm is shelved is dropped);
a consequence annunciated under a first-out (``consequences = false``, the default:
the first-out's payload counts them); alarms below ``min_priority``; raises and
escalations past the per-alarm rate limit (counted, logged).

Deliveries never run on the poll loop or the feeder's thread: each target has its
own bounded queue and thread. A full queue drops the event, counts it and raises
the system alarm ``notify-queue-full`` (the enqueue never blocks); a target that
gave up after its retries raises ``notify-failed`` until a delivery succeeds.
Secrets (webhook HMAC keys, SMTP passwords) come from a file or an environment
variable the config names, never the config itself or the command line, and never
reach a log. The payload and the configuration: ``docs/notifications.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import logging
import os
import queue
import smtplib
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from twin.config import Frozen, line_of_key, read_toml, validate
from twin.errors import ConfigError
from twin.live.alarms import PRIORITIES, Alarm, AlarmEngine, AlarmState

log = logging.getLogger("twin.notify")

PAYLOAD_VERSION = 1
SIGNATURE_HEADER = "X-Twin-Signature"
EVENTS = ("raise", "clear", "escalate")
_CLEARED = (AlarmState.NORMAL, AlarmState.RTN_UNACKED)
_RAISED = (AlarmState.UNACKED, AlarmState.ACKED)
_QUIET = (AlarmState.SHELVED, AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE)

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


# ------------------------------------------------------------------ payload


def payload(event: str, alarm: Alarm, now: float, site: str, why: str, **extra: Any) -> dict:
    """The JSON body of one event (docs/notifications.md)."""
    data = alarm.json()
    return {
        "version": PAYLOAD_VERSION,
        "id": str(uuid.uuid4()),
        "event": event,
        "site": site,
        "time": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
        "time_unix": round(now, 3),
        "why": why,
        "alarm": {
            "key": alarm.key,
            "rule": data["rule"],
            "source": data["source"],
            "device": alarm.device or alarm.source,
            "priority": data["priority"],
            "state": data["state"],
            "active": data["active"],
            "value": data["value"],
            "unit": data["unit"],
            "message": data["message"],
            "since_unix": round(alarm.since, 3),
            "group": data["group"],
            "first_out": data["first_out"],
        },
        **extra,
    }


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body.

    >>> sign(b"key", b"{}")[:15]
    'sha256=a777724d'
    """
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` (constant-time compare)."""
    return hmac.compare_digest(sign(secret, body), header)


# ----------------------------------------------------------------- delivery


class DeliveryError(Exception):
    """One try failed; the text is safe to log (no URL, no secret)."""


def _deliver_webhook(target: WebhookTarget, body: bytes, data: dict) -> str:
    request = urllib.request.Request(target.url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header(SIGNATURE_HEADER, sign(target.secret, body))
    request.add_header("X-Twin-Event", data["event"])
    request.add_header("X-Twin-Delivery", data["id"])
    request.add_header("User-Agent", "twin-notify/1")
    for name, value in target.headers.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=target.timeout_s) as reply:
            return f"HTTP {reply.status}"
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"HTTP {error.code}") from None
    except urllib.error.URLError as error:
        raise DeliveryError(f"not reached: {error.reason}") from None
    except (TimeoutError, OSError) as error:
        raise DeliveryError(f"no answer: {type(error).__name__}") from None


def _subject(data: dict) -> str:
    alarm = data["alarm"]
    return f"[twin {data['site']}] {data['event'].upper()} {alarm['priority']}: {alarm['message']}"


def _deliver_email(target: EmailTarget, body: bytes, data: dict) -> str:
    message = EmailMessage()
    message["From"] = target.sender
    message["To"] = ", ".join(target.to)
    message["Subject"] = _subject(data)[:200]
    message["X-Twin-Event"] = data["event"]
    alarm = data["alarm"]
    message.set_content(
        f"{alarm['message']}\n\nevent: {data['event']}\nalarm: {alarm['key']}\n"
        f"priority: {alarm['priority']}\nstate: {alarm['state']}\ntime: {data['time']}\n"
        f"site: {data['site']}\n"
    )
    message.add_attachment(body, maintype="application", subtype="json", filename="alarm.json")
    context = ssl.create_default_context(cafile=str(target.ca_file) if target.ca_file else None)
    try:
        with smtplib.SMTP(target.host, target.port, timeout=target.timeout_s) as smtp:
            smtp.ehlo()
            # Always STARTTLS: a password or an alarm never crosses the network in clear.
            smtp.starttls(context=context)
            smtp.ehlo()
            if target.username is not None:
                smtp.login(target.username, target.password or "")
            smtp.send_message(message)
    except smtplib.SMTPNotSupportedError:
        raise DeliveryError("the server offers no STARTTLS") from None
    except smtplib.SMTPAuthenticationError as error:
        raise DeliveryError(f"login refused ({error.smtp_code})") from None
    except smtplib.SMTPResponseException as error:
        raise DeliveryError(f"SMTP {error.smtp_code}") from None
    except ssl.SSLError as error:
        raise DeliveryError(f"TLS: {error.reason or type(error).__name__}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"SMTP: {type(error).__name__}: {error}") from None
    return "sent"


def _deliver_command(target: CommandTarget, body: bytes, data: dict) -> str:
    try:
        done = subprocess.run(
            list(target.argv), input=body, capture_output=True, timeout=target.timeout_s,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise DeliveryError(f"still running after {target.timeout_s:g} s, killed") from None
    except OSError as error:
        raise DeliveryError(f"cannot start: {error.strerror}") from None
    if done.returncode != 0:
        raise DeliveryError(f"exit status {done.returncode}")
    return "exit 0"


_DELIVER = {"webhook": _deliver_webhook, "email": _deliver_email, "command": _deliver_command}


class _Worker:
    """One target's bounded queue and the thread that empties it (with retries)."""

    def __init__(self, target: Target, options: NotifyOptions, record) -> None:  # type: ignore[no-untyped-def]
        self.target = target
        self.retry = options.retry
        self.queue: queue.Queue[dict | None] = queue.Queue(maxsize=options.queue_size)
        self.record = record
        self.stopping = threading.Event()
        self.delivered = 0
        self.failed = 0  # events given up after every try
        self.dropped = 0  # queue full
        self.failing = ""  # the last give-up's reason, until a delivery succeeds
        self.thread = threading.Thread(target=self._run, name=f"twin-notify-{target.name}",
                                       daemon=True)  # fmt: skip
        self.thread.start()

    def put(self, data: dict) -> bool:
        try:
            self.queue.put_nowait(data)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def _run(self) -> None:
        deliver = _DELIVER[self.target.kind]
        while True:
            data = self.queue.get()
            if data is None:
                return
            body = json.dumps(data, separators=(",", ":")).encode()
            wait = self.retry.backoff_s
            for attempt in range(1, self.retry.attempts + 1):
                started = time.monotonic()
                try:
                    outcome = deliver(self.target, body, data)  # type: ignore[operator]
                except DeliveryError as error:
                    last = attempt == self.retry.attempts or self.stopping.is_set()
                    self.record(self.target, data, "gave_up" if last else "retrying",
                                attempt, str(error), started)  # fmt: skip
                    if last:
                        self.failed += 1
                        self.failing = str(error)
                        break
                    # Exponential backoff; a stop cuts the wait short (and ends the tries).
                    self.stopping.wait(wait)
                    wait = min(wait * 2, self.retry.max_backoff_s)
                except Exception as error:  # a bug must not end the thread
                    log.exception("notify %s: delivery failed", self.target.name)
                    self.record(self.target, data, "gave_up", attempt,
                                type(error).__name__, started)  # fmt: skip
                    self.failed += 1
                    break
                else:
                    self.delivered += 1
                    self.failing = ""
                    self.record(self.target, data, "delivered", attempt, outcome, started)
                    break

    def close(self, deadline: float) -> None:
        """Deliver what is queued until ``deadline`` (monotonic), then stop trying."""
        # A queue still full at the deadline: the daemon thread ends with the process.
        with contextlib.suppress(queue.Full):
            self.queue.put(None, timeout=max(deadline - time.monotonic(), 0.01))
        self.stopping.set()  # no more retries; a try in progress ends at its own timeout
        self.thread.join(timeout=max(deadline - time.monotonic(), 0))


@dataclass
class _Open:
    """An alarm whose raise was sent (or waits to be): what its clear and escalation need."""

    raised_at: float
    priority: str
    sent: bool = False
    escalated: bool = False
    why: str = ""


class Notifier:
    """Alarm transitions to events, events to each target's queue (see the module doc)."""

    def __init__(self, options: NotifyOptions, engine: AlarmEngine, site: str) -> None:
        self.options = options
        self.engine = engine
        self.site = site
        self.counts = {"raise": 0, "clear": 0, "escalate": 0, "rate_limited": 0, "consequence": 0}
        self._open: dict[str, _Open] = {}
        self._sent: dict[str, list[float]] = {}  # per alarm: times of raises/escalations sent
        self._log_lock = threading.Lock()
        self._log_file = None
        if options.log is not None:
            options.log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = options.log.open("a", encoding="utf-8")
        self.workers = [_Worker(t, options, self._record) for t in options.targets]
        engine.listeners.append(self.transition)

    # ----------------------------------------------------- engine side

    def transition(self, alarm: Alarm, previous: AlarmState, now: float, why: str) -> None:
        """The engine's listener: an alarm changed state (called under the feeder's lock)."""
        if alarm.rule.kind == "system" and alarm.rule.name.startswith("notify-"):
            return  # our own trouble: raised on the engine, not fed back into the queues
        key = alarm.key
        state = alarm.state
        entry = self._open.get(key)
        if state is AlarmState.UNACKED and entry is None:
            self._open[key] = _Open(now, alarm.rule.priority, why=why)
        elif state in _CLEARED and previous not in _CLEARED and entry is not None:
            if not entry.sent:
                self._send_raise(alarm, entry, now)  # raised and cleared within group_wait_s
            if entry.sent:
                self._send("clear", alarm, now, why)
            del self._open[key]
        elif state in _QUIET and entry is not None and not entry.sent:
            del self._open[key]  # shelved (suppressed) before its raise went: nothing is sent

    def tick(self, now: float | None = None) -> None:
        """After each evaluation: send raises past ``group_wait_s``, escalations, own alarms."""
        now = time.time() if now is None else now
        options = self.options
        for key, entry in list(self._open.items()):
            alarm = self.engine.alarms.get(key)
            if alarm is None:
                continue
            if not entry.sent:
                if now - entry.raised_at >= options.group_wait_s:
                    if alarm.state not in _RAISED:
                        del self._open[key]  # shelved or suppressed meanwhile
                    else:
                        self._send_raise(alarm, entry, now)
                continue
            higher = PRIORITIES.index(alarm.rule.priority) > PRIORITIES.index(entry.priority)
            late = (
                options.escalate_after_s > 0
                and not entry.escalated
                and alarm.state is AlarmState.UNACKED
                and now - entry.raised_at >= options.escalate_after_s
            )
            if higher or late:
                entry.escalated = entry.escalated or late
                entry.priority = alarm.rule.priority
                age = now - entry.raised_at
                why = "priority raised" if higher else f"unacknowledged for {age:.0f} s"
                if self._allowed(key, now):
                    self._send("escalate", alarm, now, why)
        for worker in self.workers:
            name = worker.target.name
            self.engine.system(
                "notify-queue-full", name, worker.dropped > getattr(worker, "_seen_dropped", 0),
                reason=f"{worker.dropped} notifications dropped: the queue of {name} is full",
                priority="medium", now=now,
            )  # fmt: skip
            worker._seen_dropped = worker.dropped  # type: ignore[attr-defined]
            self.engine.system(
                "notify-failed", name, bool(worker.failing),
                reason=f"notifications to {name} fail: {worker.failing}", priority="medium",
                now=now,
            )  # fmt: skip

    def _send_raise(self, alarm: Alarm, entry: _Open, now: float) -> None:
        if alarm.cause is not None and not self.options.consequences:
            self.counts["consequence"] += 1
            del self._open[alarm.key]  # its first-out's notification stands for it
            return
        if not self._allowed(alarm.key, now):
            del self._open[alarm.key]
            return
        entry.sent = True
        self._send("raise", alarm, now, entry.why)

    def _allowed(self, key: str, now: float) -> bool:
        """The per-alarm rate limit (raises and escalations; a clear follows its raise)."""
        sent = [t for t in self._sent.get(key, []) if t > now - self.options.rate_window_s]
        if len(sent) >= self.options.rate_limit:
            self._sent[key] = sent
            self.counts["rate_limited"] += 1
            self._log({"time": now, "event": "rate_limited", "alarm": key})
            log.warning("notify: %s past its rate limit, not sent", key)
            return False
        sent.append(now)
        self._sent[key] = sent
        return True

    def _send(self, event: str, alarm: Alarm, now: float, why: str) -> None:
        self.counts[event] += 1
        consequences = sum(1 for a in self.engine.active() if a.cause is alarm)
        data = payload(event, alarm, now, self.site, why, consequences=consequences)
        rank = PRIORITIES.index(alarm.rule.priority)
        for worker in self.workers:
            target = worker.target
            if event not in target.events or rank < PRIORITIES.index(
                max(target.min_priority, self.options.min_priority, key=PRIORITIES.index)
            ):
                continue
            if not worker.put(data):
                self._record(target, data, "dropped_queue_full", 0, "queue full", None)

    # ------------------------------------------------------- delivery log

    def _record(self, target: Target, data: dict, outcome: str, attempt: int, detail: str,
                started: float | None) -> None:  # fmt: skip
        entry = {
            "time": round(time.time(), 3),
            "target": target.name,
            "kind": target.kind,
            "event": data["event"],
            "id": data["id"],
            "alarm": data["alarm"]["key"],
            "outcome": outcome,
            "attempt": attempt,
            "detail": detail,
        }
        if started is not None:
            entry["latency_ms"] = round((time.monotonic() - started) * 1e3, 1)
        self._log(entry)
        level = logging.INFO if outcome == "delivered" else logging.WARNING
        log.log(level, "notify %s %s %s: %s (try %d, %s)", target.name, data["event"],
                data["alarm"]["key"], outcome, attempt, detail)  # fmt: skip

    def _log(self, entry: dict) -> None:
        if self._log_file is None:
            return
        with self._log_lock:
            self._log_file.write(json.dumps(entry) + "\n")
            self._log_file.flush()

    def status(self) -> dict[str, dict[str, int]]:
        """Per target: delivered, failed (gave up), dropped (queue full), queued."""
        return {
            w.target.name: {
                "delivered": w.delivered, "failed": w.failed, "dropped": w.dropped,
                "queued": w.queue.qsize(),
            }
            for w in self.workers
        }  # fmt: skip

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout`` s in all), then stop the threads."""
        if self.transition not in self.engine.listeners:
            return  # closed already
        self.engine.listeners.remove(self.transition)
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            worker.close(deadline)
        with self._log_lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
