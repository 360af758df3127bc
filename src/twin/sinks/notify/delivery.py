"""How a notification is sent: webhook, e-mail and command, each target on its own thread.

Each target has a :class:`_Worker`: a bounded queue (a full one drops the event and
counts it; the enqueue never blocks) and a thread that delivers with retries and
exponential backoff. A failed try raises :class:`DeliveryError`, whose text is safe
to log (no URL, no secret). E-mail always goes over STARTTLS. Apart from the notifier
because it is the I/O (sockets, SMTP, subprocesses, threads), while the notifier's
decisions of what to send run on the feeder's thread and never block.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import smtplib
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from email.message import EmailMessage

from twin.sinks.notify.options import (
    CommandTarget,
    EmailTarget,
    NotifyOptions,
    Target,
    WebhookTarget,
)
from twin.sinks.notify.payload import SIGNATURE_HEADER, sign

log = logging.getLogger("twin.notify")


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
