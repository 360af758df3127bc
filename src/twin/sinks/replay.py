"""Push what a spool holds into a database: the logic behind ``twin replay``.

The spool is drained oldest first, one batch at a time, each batch deleted only after
the database acknowledged it: a replay interrupted at any point (Ctrl-C, a crash, a
server outage that outlasts the retry budget) can simply be run again, and sends only
what is still in the spool. With ``keep=True`` nothing is deleted (the embedded
store keeps its history) and the replay walks the spool with a cursor instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from twin.sinks.errors import WriteRejected
from twin.sinks.influx import RetryPolicy, Writer, send_with_retry
from twin.sinks.spool import Spool

__all__ = ["ReplayResult", "replay"]

#: Retries for a replay: about five minutes of backoff, then give up (the lines
#: stay in the spool); an interactive command should not hang for ever.
REPLAY_RETRY = RetryPolicy(initial_delay=0.5, max_delay=30.0, max_attempts=15)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Outcome of :func:`replay`: lines sent, set aside as rejected, left in the spool."""

    sent: int
    rejected: int
    remaining: int


def replay(
    spool: Spool,
    writer: Writer,
    *,
    batch_size: int = 5000,
    keep: bool = False,
    retry: RetryPolicy = REPLAY_RETRY,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> ReplayResult:
    """Send every line of ``spool`` to ``writer``, in order.

    Parameters
    ----------
    spool : Spool
        Source; lines are deleted as they are acknowledged unless ``keep``.
    writer : Writer
        Destination.
    batch_size : int
        Lines per request.
    keep : bool
        Leave the spool untouched (send a copy).
    retry : RetryPolicy
        Backoff for transient failures; when its attempts run out the last
        :class:`~twin.sinks.errors.TransientWriteError` is raised.
    progress : callable, optional
        ``progress(done, total)`` after each batch, lines counted.
    stop : threading.Event, optional
        Set it to stop between batches (or while waiting to retry).

    Returns
    -------
    ReplayResult

    Raises
    ------
    WriteRejected
        When the rejection concerns every write (bad token, unknown database…):
        nothing more can be sent, and what is left stays in the spool. A batch
        refused for its content (400) is set aside in the spool's ``rejected`` table
        (or skipped, with ``keep``) and counted; the replay goes on.
    """
    total = spool.pending()
    sent = rejected = 0
    cursor = 0
    if progress is not None:
        progress(0, total)
    while stop is None or not stop.is_set():
        batch = spool.peek(batch_size, after_seq=cursor)
        if batch is None:
            break
        try:
            if not send_with_retry(writer, batch.body(), retry, stop=stop):
                break
        except WriteRejected as error:
            if error.affects_all_writes:
                raise
            rejected += len(batch)
            if keep:
                cursor = batch.last_seq
            else:
                spool.reject(batch, str(error))
        else:
            sent += len(batch)
            if keep:
                cursor = batch.last_seq
            else:
                spool.ack(batch)
        if progress is not None:
            progress(sent + rejected, total)
    remaining = spool.pending() if not keep else max(0, total - sent - rejected)
    return ReplayResult(sent=sent, rejected=rejected, remaining=remaining)
