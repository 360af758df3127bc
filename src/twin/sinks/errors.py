"""Errors raised by the sinks.

Two families matter to the caller:

- :class:`TransientWriteError`: the database could not take the batch *now* (down,
  overloaded: connection refused, timeout, 429, 5xx). The sink retries with backoff;
  the data stays where it is (spool or buffer).
- :class:`WriteRejected`: the database refused the batch and will refuse it again
  (400 malformed line or type conflict, 401 bad token, 403 no permission, 404 unknown
  bucket/database, 413 too large). Retrying cannot help, so the sink does not; the
  message names the cause and the data stays in the spool.
"""

from __future__ import annotations

__all__ = [
    "SinkError",
    "SpoolBusyError",
    "SpoolFullError",
    "TransientWriteError",
    "WriteRejected",
]


class SinkError(Exception):
    """Base class of every sink error."""


class TransientWriteError(SinkError):
    """A write failed in a way that may succeed later (retry with backoff).

    Parameters
    ----------
    message : str
        What happened, with the target (never the token).
    status : int or None
        HTTP status, or None for a connection-level failure.
    retry_after : float or None
        Seconds the server asked us to wait (``Retry-After``), if any.
    """

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class WriteRejected(SinkError):
    """The database refused a batch for a reason that retrying will not fix.

    Parameters
    ----------
    message : str
        A sentence naming the cause (bad token, unknown bucket, malformed line…).
    status : int
        HTTP status.
    cause : str
        Short machine-readable cause: ``bad-token``, ``forbidden``, ``not-found``,
        ``malformed``, ``too-large`` or ``rejected``.
    server_message : str
        The error text the server sent, for the operator.
    """

    def __init__(self, message: str, status: int, cause: str, server_message: str = ""):
        super().__init__(message)
        self.status = status
        self.cause = cause
        self.server_message = server_message

    @property
    def affects_all_writes(self) -> bool:
        """True when every later batch would fail too (configuration, not data)."""
        return self.cause in {"bad-token", "forbidden", "not-found"}


class SpoolFullError(SinkError):
    """The spool reached its disk quota and its policy is to refuse new data."""


class SpoolBusyError(SinkError):
    """Another process already has this spool open."""
