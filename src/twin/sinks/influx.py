"""Writers that push one batch of line protocol to InfluxDB, and the retry policy.

Two wire paths:

- :class:`InfluxV2Writer`: the v2 write API (``/api/v2/write``, org + bucket + token)
  through ``influxdb-client``. InfluxDB 2.x, 3.x, 1.8+ (compat API) and servers that
  speak it (VictoriaMetrics). We call its synchronous ``WriteService.post_write``
  (what its ``WriteApi`` calls per request) with our own batches: the batching
  ``WriteApi`` acknowledges nothing per batch (and its ``flush()`` does nothing),
  while the spool must delete exactly what the database acknowledged.
- :class:`InfluxV1Writer`: the 1.x ``/write`` endpoint (db, retention policy, optional
  user/password) for InfluxDB 1.x servers without the v2 API (Debian's 1.6.7), over
  ``urllib3`` (already a dependency of influxdb-client) for keep-alive connections.

A writer sends one batch and either returns (acknowledged: the server answered 2xx)
or raises :class:`~twin.sinks.errors.TransientWriteError` (retry later) or
:class:`~twin.sinks.errors.WriteRejected` (retrying cannot help; the message names the
cause). Writers never retry by themselves: :func:`send_with_retry` does, so that the
caller sees every attempt and can stop between them.

Secrets: the token and password are held by the writer only; they are never part of
a message, ``repr`` or log line, and the v1 password travels in an ``Authorization``
header, not the query string (InfluxDB 1.x logs request URLs).
"""

from __future__ import annotations

import base64
import email.utils
import gzip as gzip_module
import json
import logging
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import urllib3

from twin.sinks.errors import TransientWriteError, WriteRejected

__all__ = [
    "InfluxV1Writer",
    "InfluxV2Writer",
    "RetryPolicy",
    "SplitWriter",
    "Writer",
    "classify_response",
    "send_with_retry",
]

log = logging.getLogger(__name__)


class Writer(Protocol):
    """Sends one batch of line protocol; see the module docstring for the contract."""

    #: Where the data goes, for messages: URL plus bucket or database, never secrets.
    target: str

    def write(self, body: bytes) -> None:
        """Send newline-separated line protocol (UTF-8) with nanosecond timestamps."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class SplitWriter(Writer, Protocol):
    """A writer whose ``write`` is ``send(prepare(body))``, exposed in two steps.

    ``prepare`` (compression) needs no connection, so a sink can prepare the next
    batch while the previous one is on the wire; ``send`` is ``write`` for a body
    already prepared, with the same contract (acknowledged, transient or rejected).
    """

    def prepare(self, body: bytes) -> bytes:
        """The request body as it goes on the wire (gzip-compressed if enabled)."""
        ...

    def send(self, payload: bytes) -> None:
        """Send what :meth:`prepare` returned; see :meth:`Writer.write`."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter for transient failures.

    The n-th retry waits ``initial_delay * multiplier**(n-1)``, capped at
    ``max_delay``, spread by ``±jitter`` (a fraction) so that many writers restarting
    together do not hammer a recovering server in step. A server's ``Retry-After``
    replaces the computed delay (capped at ``max_retry_after``).

    Parameters
    ----------
    initial_delay, max_delay : float
        [s] First and largest wait.
    multiplier : float
        Growth per attempt.
    jitter : float
        Fraction of the delay added or removed at random.
    max_retry_after : float
        [s] Largest ``Retry-After`` honoured.
    max_attempts : int or None
        Give up (re-raise) after this many failed attempts; None retries forever,
        which is what a spool wants: the data is safe on disk meanwhile.
    """

    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2
    max_retry_after: float = 300.0
    max_attempts: int | None = None

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_retry_after)
        base = min(self.max_delay, self.initial_delay * self.multiplier ** max(0, attempt - 1))
        return max(0.0, base * (1 + self.jitter * (2 * random.random() - 1)))


def send_with_retry(
    writer: Writer,
    body: bytes,
    policy: RetryPolicy,
    *,
    stop: threading.Event | None = None,
    on_retry: Callable[[TransientWriteError, int, float], None] | None = None,
) -> bool:
    """Send one batch, retrying transient failures per ``policy``.

    Returns True once the server acknowledged the batch, False if ``stop`` was set
    while waiting to retry. :class:`WriteRejected` propagates at once (no retry), and
    so does the last :class:`TransientWriteError` when ``policy.max_attempts`` runs out.
    ``on_retry(error, attempt, delay)`` is called before each wait.
    """
    attempt = 0
    while True:
        try:
            writer.write(body)
            return True
        except TransientWriteError as error:
            attempt += 1
            if policy.max_attempts is not None and attempt >= policy.max_attempts:
                raise
            delay = policy.delay(attempt, error.retry_after)
            if on_retry is not None:
                on_retry(error, attempt, delay)
            if stop is None:
                time.sleep(delay)
            elif stop.wait(delay):
                return False


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = None
    for key, item in headers.items():
        if key.lower() == "retry-after":
            value = item.strip()
            break
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _server_message(body: bytes | str | None, headers: Mapping[str, str] | None) -> str:
    """The error text a server sent: JSON ``message``/``error``, else the raw body."""
    if headers:
        for key, value in headers.items():
            if key.lower() == "x-influxdb-error" and value:
                return value
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "error"):
            if isinstance(data.get(key), str):
                return data[key]
    text = " ".join(text.split())
    return text[:300] + ("…" if len(text) > 300 else "")


def classify_response(
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str] | None,
    *,
    target: str,
    api: str,
) -> TransientWriteError | WriteRejected:
    """Turn a failed HTTP response into the error to raise.

    ``api`` is ``"v2"`` or ``"v1"``: the hints for 401/404 name the right knobs.
    429 and 5xx are transient (with ``Retry-After``); every other status is a
    rejection whose message names the likely cause.
    """
    said = _server_message(body, headers)
    suffix = f" (server said: {said})" if said else ""
    if status == 500 and "retention policy not found" in said:
        # InfluxDB 1.x answers an unknown retention policy with a 500, which would
        # otherwise be retried for ever: it is a configuration error like a 404.
        status = 404
    if status == 429 or 500 <= status <= 599:
        return TransientWriteError(
            f"{target}: HTTP {status}{suffix}", status=status, retry_after=_retry_after(headers)
        )
    if status == 400:
        return WriteRejected(
            f"{target}: the server refused the data as malformed (400 Bad Request){suffix}",
            status,
            "malformed",
            said,
        )
    if status == 401:
        what = (
            "the token was refused: check INFLUX_TOKEN or --influx-token-file"
            if api == "v2"
            else "the user name or password was refused: check INFLUX_USERNAME and INFLUX_PASSWORD"
        )
        return WriteRejected(
            f"{target}: {what} (401 Unauthorized){suffix}", status, "bad-token", said
        )
    if status == 403:
        what = (
            "the token may not write to this bucket" if api == "v2" else "this user may not write"
        )
        return WriteRejected(f"{target}: {what} (403 Forbidden){suffix}", status, "forbidden", said)
    if status == 404:
        what = (
            "unknown bucket or org, or the server has no /api/v2/write "
            "(InfluxDB 1.x before 1.8: use --influx-v1)"
            if api == "v2"
            else "unknown database or retention policy (create it first)"
        )
        return WriteRejected(f"{target}: {what} (404 Not Found){suffix}", status, "not-found", said)
    if status == 413:
        return WriteRejected(
            f"{target}: batch too large for the server (413); lower the batch size{suffix}",
            status,
            "too-large",
            said,
        )
    return WriteRejected(f"{target}: unexpected HTTP {status}{suffix}", status, "rejected", said)


def _connection_error(target: str, error: BaseException) -> TransientWriteError:
    # urllib3 wraps the cause (refused, reset, timeout) several levels deep; the
    # innermost reason is what an operator needs to read.
    reason = getattr(error, "reason", None) or error
    return TransientWriteError(f"{target}: cannot reach the server ({reason})")


class InfluxV2Writer:
    """Write to the v2 API (``/api/v2/write``) with ``influxdb-client``.

    Parameters
    ----------
    url : str
        Server URL, e.g. ``http://127.0.0.1:8086``.
    org, bucket : str
        Destination (org may be empty for servers that ignore it).
    token : str
        API token (from the environment or a file, never the command line).
    gzip : bool
        Compress request bodies (``Content-Encoding: gzip``); worth it over a real
        network. We compress at level 1 ourselves and hand the body to the client's
        ``WriteService`` marked as gzip: its own ``enable_gzip`` uses level 9, which on
        line protocol costs about 1.4 µs a line (as much as the server's parsing)
        for a body only 40 % smaller.
    timeout : float
        [s] Per request.
    verify_ssl : bool
        Check the server certificate for https URLs.
    """

    api = "v2"

    def __init__(
        self,
        url: str,
        org: str,
        bucket: str,
        token: str,
        *,
        gzip: bool = True,
        timeout: float = 10.0,
        verify_ssl: bool = True,
    ) -> None:
        # Imported here so the embedded store (no database) works without the package.
        from influxdb_client import InfluxDBClient
        from influxdb_client.service.write_service import WriteService

        self.url = url.rstrip("/")
        self.org = org
        self.bucket = bucket
        self.target = f"{self.url} bucket {bucket!r}" + (f" org {org!r}" if org else "")
        self._client = InfluxDBClient(
            url=self.url,
            token=token,
            org=org,
            enable_gzip=False,  # compressed here, at a cheaper level (see above)
            timeout=int(timeout * 1000),
            verify_ssl=verify_ssl,
            retries=False,  # we retry ourselves, visibly, between batches
        )
        self.gzip = gzip
        # The synchronous service call the client's WriteApi makes for each request,
        # without its per-record serialisation: our bodies are line protocol already.
        self._service = WriteService(self._client.api_client)

    def __repr__(self) -> str:
        return f"InfluxV2Writer({self.target})"

    def write(self, body: bytes) -> None:
        """Send one batch; see :class:`Writer`."""
        self.send(self.prepare(body))

    def prepare(self, body: bytes) -> bytes:
        """The body as sent: compressed at level 1 when ``gzip`` is on."""
        return gzip_module.compress(body, compresslevel=1) if self.gzip else body

    def send(self, payload: bytes) -> None:
        """Send a body from :meth:`prepare`; see :class:`Writer`."""
        from influxdb_client.rest import ApiException

        extra = {"content_encoding": "gzip"} if self.gzip else {}
        try:
            self._service.post_write(
                org=self.org,
                bucket=self.bucket,
                body=payload,
                precision="ns",
                content_type="text/plain; charset=utf-8",
                **extra,
            )
        except ApiException as error:
            raise classify_response(
                error.status or 0, error.body, error.headers, target=self.target, api=self.api
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise _connection_error(self.target, error) from None

    def close(self) -> None:
        """Release connections."""
        self._client.close()


class InfluxV1Writer:
    """Write to the InfluxDB 1.x ``/write`` endpoint.

    Parameters
    ----------
    url : str
        Server URL, e.g. ``http://127.0.0.1:8086``.
    database : str
        Destination database (must exist).
    retention_policy : str or None
        Destination retention policy; None for the database default.
    username, password : str or None
        Sent as HTTP Basic auth when set.
    gzip : bool
        Compress request bodies (fast level: the CPU matters more than the bytes on
        the links a monitor uses).
    timeout : float
        [s] Per request.
    """

    api = "v1"

    def __init__(
        self,
        url: str,
        database: str,
        *,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        gzip: bool = True,
        timeout: float = 10.0,
        verify_ssl: bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        self.gzip = gzip
        query = {"db": database, "precision": "ns"}
        if retention_policy:
            query["rp"] = retention_policy
        self._write_url = f"{self.url}/write?{urllib.parse.urlencode(query)}"
        self.target = f"{self.url} database {database!r}" + (
            f" retention policy {retention_policy!r}" if retention_policy else ""
        )
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if gzip:
            self._headers["Content-Encoding"] = "gzip"
        if username:
            secret = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {secret}"
        self._pool = urllib3.PoolManager(
            num_pools=1,
            maxsize=1,
            timeout=urllib3.Timeout(total=timeout),
            retries=False,
            cert_reqs="CERT_REQUIRED" if verify_ssl else "CERT_NONE",
        )

    def __repr__(self) -> str:
        return f"InfluxV1Writer({self.target})"

    def write(self, body: bytes) -> None:
        """Send one batch; see :class:`Writer`."""
        self.send(self.prepare(body))

    def prepare(self, body: bytes) -> bytes:
        """The body as sent: compressed at level 1 when ``gzip`` is on."""
        return gzip_module.compress(body, compresslevel=1) if self.gzip else body

    def send(self, payload: bytes) -> None:
        """Send a body from :meth:`prepare`; see :class:`Writer`."""
        try:
            response = self._pool.request(
                "POST", self._write_url, body=payload, headers=self._headers, preload_content=True
            )
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise _connection_error(self.target, error) from None
        if 200 <= response.status < 300:
            return
        raise classify_response(
            response.status, response.data, response.headers, target=self.target, api=self.api
        )

    def close(self) -> None:
        """Release connections."""
        self._pool.clear()
