"""The sink: records in, batches out to InfluxDB, through a spool or a memory buffer.

``Sink.write(records)`` appends the records to the queue in front of the network
(encoded to line protocol and committed to disk, with a spool; as they are, with the
memory buffer, which encodes them when they are sent), then returns; a background
thread cuts batches (``batch_size`` lines, or whatever is waiting once
``flush_interval`` has passed since the last send), sends one batch at a time, and
removes a batch from the queue only after the database acknowledged it. One batch
in flight keeps the acknowledgement exact and the order of lines on the wire the
order of appends.

With the writers here (which can compress a body apart from sending it), a helper
thread keeps the sender busy: while one batch is on the wire it reads, encodes and
compresses the next full batch, and it deletes a batch the database acknowledged
while the next one is sent. Neither changes what is sent, in which batches or
order, nor when a batch may leave the queue (only after its acknowledgement).

Three shapes, chosen by what is passed in:

- writer + :class:`~twin.sinks.spool.Spool`: durable. An outage or a crash of this
  process loses nothing; on start, what the spool still holds is sent first, in order.
- writer, no spool: an in-memory buffer of at most ``max_buffer`` lines. Survives an
  outage while the buffer lasts, not a crash. When full, ``write`` raises
  :class:`~twin.sinks.errors.SpoolFullError`: nothing is dropped silently.
- spool, no writer: the embedded store. Lines stay in the spool (up to its quota)
  until ``twin replay`` pushes them to a database.

Failures: transient ones (server down, 429, 5xx) are retried with backoff, logged
once at ERROR and then at DEBUG until the link recovers. A rejection that concerns
every write (bad token, no permission, unknown bucket/database) stops the sender:
the data stays queued, :attr:`Sink.status` carries the error and :meth:`Sink.flush`
raises it. A rejection of the data itself (400: malformed line, type conflict) moves
that batch to the spool's ``rejected`` table, so one bad line neither blocks the
stream nor gets lost.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from twin.sinks.errors import SinkError, SpoolFullError, TransientWriteError, WriteRejected
from twin.sinks.influx import RetryPolicy, SplitWriter, Writer, send_with_retry
from twin.sinks.record import LineEncoder, Record
from twin.sinks.spool import Batch, Spool

__all__ = ["MemoryQueue", "Sink", "SinkStatus"]

log = logging.getLogger(__name__)

# finish(): how long the database may fail before a shutdown stops waiting for it.
UNREACHABLE_S = 3.0
# close(): how long to wait for a write on the wire (the writers time out at 10 s).
JOIN_S = 5.0

SinkState = Literal["idle", "sending", "retrying", "stopped", "embedded", "closed"]


def _unchanged(body: bytes) -> bytes:
    return body


class _Prepared:
    """A :class:`SplitWriter` seen as a plain writer of bodies it already prepared."""

    def __init__(self, writer: SplitWriter) -> None:
        self.writer = writer
        self.target = writer.target

    def write(self, body: bytes) -> None:
        self.writer.send(body)

    def close(self) -> None:
        self.writer.close()


class MemoryQueue:
    """The spool's interface over a bounded in-memory queue (no durability).

    Records are kept as they came and encoded only when the sender takes them, in the
    sender's thread, while the previous batch is on the wire: with no spool there is
    no reason to make the producer pay for encoding.

    Parameters
    ----------
    max_lines : int
        Capacity; appending beyond it raises :class:`SpoolFullError`.
    chunk_lines : int
        Appends are cut into chunks of at most this many lines; a batch is made of
        whole chunks (like the spool's segments).
    """

    def __init__(self, max_lines: int = 1_000_000, chunk_lines: int = 500) -> None:
        self.max_lines = max_lines
        self.chunk_lines = chunk_lines
        # Chunks in order: [seq, line count, list of Records or encoded text].
        self._chunks: deque[list] = deque()
        self._next_seq = 1
        self._pending = 0
        self._lock = threading.Lock()
        self._encoder = LineEncoder()
        self.rejected: list[tuple[int, str, str]] = []
        self.full = False

    def append(self, records: Iterable[Record]) -> int:
        """Append records; all or nothing."""
        return self._append(list(records))

    def append_lines(self, lines: Iterable[str]) -> int:
        """Append encoded lines; all or nothing."""
        kept = [line.rstrip("\n") for line in lines]
        kept = [line for line in kept if line and not line.startswith("#")]
        return self._append(kept, "\n".join(kept))

    def _append(self, items: list, text: str | None = None) -> int:
        if not items:
            return 0
        with self._lock:
            if self._pending + len(items) > self.max_lines:
                self.full = True
                raise SpoolFullError(
                    f"memory buffer full ({self._pending} of {self.max_lines} lines): "
                    "the database is not keeping up or is down; configure a spool (--spool) "
                    "to ride out outages on disk"
                )
            self.full = False
            if text is not None:
                self._chunks.append([self._next_seq, len(items), text])
                self._next_seq += 1
            else:
                for start in range(0, len(items), self.chunk_lines):
                    piece = items[start : start + self.chunk_lines]
                    self._chunks.append([self._next_seq, len(piece), piece])
                    self._next_seq += 1
            self._pending += len(items)
        return len(items)

    def peek(self, limit: int, after_seq: int = 0) -> Batch | None:
        """The oldest whole chunks after ``after_seq``, up to ``limit`` lines (at least one)."""
        taken: list[list] = []
        count = 0
        with self._lock:
            for chunk in self._chunks:
                if chunk[0] <= after_seq:
                    continue
                if taken and count + chunk[1] > limit:
                    break
                taken.append(chunk)
                count += chunk[1]
                if count >= limit:
                    break
        if not taken:
            return None
        segments = []
        for chunk in taken:
            if not isinstance(chunk[2], str):
                # Encoded outside the lock; the chunk object stays in place in the deque.
                chunk[2] = "\n".join(self._encoder.encode_many(chunk[2]))
            segments.append(chunk[2])
        return Batch(taken[0][0], taken[-1][0], count, segments)

    def ack(self, batch: Batch) -> None:
        """Drop an acknowledged batch from the head."""
        with self._lock:
            while self._chunks and self._chunks[0][0] <= batch.last_seq:
                self._pending -= self._chunks.popleft()[1]

    def reject(self, batch: Batch, error: str) -> None:
        """Keep a refused batch aside (in memory) and drop it from the head."""
        self.rejected.extend((batch.first_seq, line, error) for line in batch.lines)
        self.ack(batch)

    def pending(self) -> int:
        """Lines waiting to be sent."""
        return self._pending

    def rejected_count(self) -> int:
        """Lines the database refused."""
        return len(self.rejected)

    def close(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True, slots=True)
class SinkStatus:
    """What a status line or an alarm needs to know about a sink."""

    state: SinkState
    target: str
    pending: int
    sent: int
    rejected: int
    retries: int
    full: bool
    error: str | None
    refused: int = 0  # lines refused because the queue was full (policy "reject")
    dropped: int = 0  # oldest lines deleted to make room (policy "drop_oldest")


class Sink:
    """Records in; durable batches out. See the module docstring.

    Parameters
    ----------
    writer : Writer or None
        Where batches go; None makes the spool an embedded store.
    spool : Spool or None
        Durable queue; None uses an in-memory buffer (requires a writer).
    batch_size : int
        Lines per request at most; a full batch is sent at once.
    flush_interval : float
        [s] A partial batch is sent once this long has passed since the last send.
    retry : RetryPolicy
        Backoff for transient failures.
    max_buffer : int
        Capacity of the in-memory buffer when there is no spool.

    The sink owns the writer and the spool: :meth:`close` closes both.
    """

    def __init__(
        self,
        writer: Writer | None,
        spool: Spool | None = None,
        *,
        batch_size: int = 5000,
        flush_interval: float = 1.0,
        retry: RetryPolicy | None = None,
        max_buffer: int = 1_000_000,
    ) -> None:
        if writer is None and spool is None:
            raise ValueError("a sink needs a database (writer), a spool, or both")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.writer = writer
        self.spool = spool
        # Batches are made of whole segments (chunks): none may be larger than a batch.
        chunk = min(500, batch_size)
        if spool is not None:
            spool.segment_lines = min(spool.segment_lines, chunk)
        self.queue: Spool | MemoryQueue = (
            spool if spool is not None else MemoryQueue(max_buffer, chunk_lines=chunk)
        )
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retry = retry or RetryPolicy()
        self.sent = 0
        self.retries = 0
        self.refused = 0
        self._state: SinkState = "embedded" if writer is None else "idle"
        self._error: SinkError | None = None
        self._last_error: str | None = None
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._flush_requested = False
        self._finished = False
        self._thread: threading.Thread | None = None
        # A writer that can compress a body apart from sending it (SplitWriter) gets
        # the next batch prepared in a helper thread while the current one is sent.
        self._ahead: ThreadPoolExecutor | None = None
        self._prepare: Callable[[bytes], bytes] = _unchanged
        self._wire: Writer | None = writer
        if writer is not None and callable(getattr(writer, "prepare", None)):
            self._prepare = writer.prepare  # type: ignore[union-attr]
            self._wire = _Prepared(writer)  # type: ignore[arg-type]
            self._ahead = ThreadPoolExecutor(1, thread_name_prefix="twin-sink-prepare")
        # The acknowledged batch being deleted in the helper thread, if any.
        self._deleting: tuple[Future[None], Batch] | None = None
        if writer is not None:
            self._thread = threading.Thread(target=self._run, name="twin-sink", daemon=True)
            self._thread.start()

    # -- producer side ----------------------------------------------------------------

    def write(self, records: Iterable[Record]) -> int:
        """Append records to the queue (durably, with a spool) and return their count.

        Raises :class:`SpoolFullError` if the queue is at its limit (nothing of this
        call is appended; the lines are counted in :attr:`refused`). Never blocks on
        the network.
        """
        if not isinstance(records, list | tuple):
            records = list(records)
        try:
            count = self.queue.append(records)
        except SpoolFullError:
            self.refused += len(records)
            raise
        self._poke(count)
        return count

    def write_lines(self, lines: Iterable[str]) -> int:
        """Append already-encoded lines of line protocol."""
        lines = list(lines)
        try:
            count = self.queue.append_lines(lines)
        except SpoolFullError:
            self.refused += len(lines)
            raise
        self._poke(count)
        return count

    def _poke(self, appended: int) -> None:
        if self._thread is not None and appended and self.queue.pending() >= self.batch_size:
            with self._wake:
                self._wake.notify()

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued now, without waiting for a full batch or the interval.

        Returns True once the queue is empty (everything acknowledged or set aside
        as rejected), False if ``timeout`` [s] passed first. Raises the error that
        stopped the sender, if one did. With no writer (embedded store) there is
        nothing to send and it returns True.
        """
        if self.writer is None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._wake:
            self._flush_requested = True
            self._wake.notify()
            while True:
                if self._error is not None:
                    raise self._error
                if self.queue.pending() == 0:
                    self._flush_requested = False
                    return True
                if self._state == "closed":
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._wake.wait(0.5 if remaining is None else min(0.5, remaining))

    def finish(self, timeout: float = 30.0, unreachable_s: float = UNREACHABLE_S) -> bool:
        """Send what is queued before shutting down, for ``timeout`` [s] at most, and
        only while the database takes writes: once it has failed for ``unreachable_s``
        [s] (down, or stopped on a rejection) waiting longer cannot help, and a
        shutdown that sits in a retry loop looks hung. Says what it leaves behind.

        Returns True when everything was sent. Never raises: the sink's error is in
        :attr:`status`. Then :meth:`close` (it does not flush again).
        """
        if self.writer is None or self._state == "closed":
            return True
        if self._finished:  # said once what it leaves behind
            return not self.queue.pending()
        deadline = time.monotonic() + timeout
        failing_since: float | None = None
        with self._wake:
            self._flush_requested = True
            self._wake.notify()
            while self._error is None and self.queue.pending():
                now = time.monotonic()
                if self._state == "retrying":
                    failing_since = now if failing_since is None else failing_since
                    if now - failing_since >= unreachable_s:
                        break
                else:
                    failing_since = None
                if now >= deadline:
                    break
                self._wake.wait(min(0.2, deadline - now))
            self._flush_requested = False
        left = self.queue.pending()
        if not left:
            return True
        where = f"in the spool {self.spool.directory}" if self.spool is not None else "in memory"
        kept = "they are sent on the next run or by `twin replay`" if self.spool else "lost"
        if self._error is not None:
            pass  # logged when the sender stopped; the command ends with it (exit 2)
        elif self._state == "retrying":
            log.warning("database unreachable (%s): leaving %d lines %s (%s)",
                        self._last_error, left, where, kept)  # fmt: skip
        else:
            log.warning("database too slow: %d lines not sent within %.0f s, leaving them %s (%s)",
                        left, timeout, where, kept)  # fmt: skip
        self._finished = True
        return False

    def close(self, timeout: float | None = 10.0) -> None:
        """Try to flush for ``timeout`` [s], stop the sender, close writer and spool.

        What could not be sent stays in the spool for next time (or is lost with
        the memory buffer, which is logged). After :meth:`finish` it does not flush
        again. A write still on the wire is waited for :data:`JOIN_S` at most.
        """
        if self._state == "closed":
            return
        if self.writer is not None and self._error is None and not self._finished:
            # The error is already in self.status; closing must still release things.
            with contextlib.suppress(SinkError):
                self.flush(timeout)
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            # Retry waits end at once on _stop; only a request in flight to a host
            # that does not answer can hold the sender (the writer's own timeout).
            self._thread.join(JOIN_S)
            if self._thread.is_alive():
                log.warning(
                    "a write to %s is still in flight after %.0f s: not waiting for it "
                    "(its lines stay in the spool and are sent again next time)",
                    self.writer.target if self.writer is not None else "?",
                    JOIN_S,
                )
        if self._ahead is not None:
            self._ahead.shutdown(wait=True)  # an acknowledged batch's delete must run
        left = self.queue.pending()
        if left and self.spool is None:
            log.error("sink closed with %d lines unsent in the memory buffer: lost", left)
        elif left and self.writer is not None and not self._finished:  # finish() said so
            log.warning("sink closed with %d lines unsent: kept in the spool", left)
        if self.writer is not None:
            self.writer.close()
        self.queue.close()
        self._state = "closed"

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def error(self) -> SinkError | None:
        """The rejection that stopped the sender, if any (data is still queued)."""
        return self._error

    @property
    def status(self) -> SinkStatus:
        """A snapshot for status lines and alarms."""
        return SinkStatus(
            state=self._state,
            target=self.writer.target
            if self.writer is not None
            else f"embedded store {getattr(self.spool, 'directory', '')}",
            pending=self.queue.pending(),
            sent=self.sent,
            rejected=self.queue.rejected_count(),
            retries=self.retries,
            full=self.queue.full,
            error=self._last_error,
            refused=self.refused,
            dropped=getattr(self.queue, "dropped", 0),
        )

    # -- sender thread ----------------------------------------------------------------

    def _next_batch(self) -> Batch | None:
        """Wait until a batch is due; None when asked to stop."""
        last_send = time.monotonic()
        with self._wake:
            while not self._stop.is_set():
                pending = self.queue.pending()
                due = time.monotonic() - last_send >= self.flush_interval
                if pending >= self.batch_size or (pending and (due or self._flush_requested)):
                    break
                if not pending:
                    last_send = time.monotonic()  # the interval runs from the first line
                    self._wake.notify_all()  # wake flush() waiters: all sent
                    self._wake.wait(self.flush_interval)
                else:
                    self._wake.wait(max(0.0, self.flush_interval - (time.monotonic() - last_send)))
            else:
                return None
        return self.queue.peek(self.batch_size)

    def _on_retry(self, error: TransientWriteError, attempt: int, delay: float) -> None:
        self.retries += 1
        self._state = "retrying"
        self._last_error = str(error)
        # Once at ERROR per outage, then DEBUG: a down database must not flood the log.
        level = logging.ERROR if attempt == 1 else logging.DEBUG
        log.log(level, "write failed, retrying in %.1f s (attempt %d): %s", delay, attempt, error)

    def _prepare_after(self, after_seq: int) -> tuple[Batch, bytes] | None:
        """The batch after ``after_seq`` and its request body (in the helper thread)."""
        batch = self.queue.peek(self.batch_size, after_seq)
        return None if batch is None else (batch, self._prepare(batch.body()))

    def _run(self) -> None:
        assert self.writer is not None
        ahead: Future[tuple[Batch, bytes] | None] | None = None
        try:
            while True:
                if ahead is not None:
                    # Prepared while the previous batch was on the wire.
                    taken, ahead = ahead.result(), None
                    if taken is None or self._stop.is_set():
                        continue
                    batch, payload = taken
                else:
                    # The queue's head and count are exact only once the last
                    # acknowledged batch is deleted.
                    self._settle()
                    batch = self._next_batch()
                    if batch is None:
                        return
                    payload = self._prepare(batch.body())
                # A full batch waits behind this one: take it from the queue, encode and
                # compress it while this one is on the wire (the GIL is free meanwhile).
                # Only a full one, so batches are cut exactly as without this; nothing
                # leaves the queue before its own acknowledgement.
                if self._ahead is not None and self._waiting() - len(batch) >= self.batch_size:
                    ahead = self._ahead.submit(self._prepare_after, batch.last_seq)
                if not self._send(batch, payload):
                    return
        except Exception as error:  # a bug: reading the queue or preparing a body failed
            log.exception("sink sender stopped")
            self._set_error(SinkError(f"sender: {error!r}"))
        finally:
            if ahead is not None:
                ahead.cancel()

    def _waiting(self) -> int:
        """Lines queued, not counting an acknowledged batch still being deleted."""
        deleting = self._deleting
        if deleting is not None and not deleting[0].done():
            # Read before pending(): if the delete ends in between, this undercounts,
            # which only skips one prepare-ahead.
            return self.queue.pending() - len(deleting[1])
        return self.queue.pending()

    def _settle(self) -> None:
        """Wait for the deletion of the last acknowledged batch (raising its error)."""
        if self._deleting is not None:
            future, self._deleting = self._deleting[0], None
            future.result()

    def _delete(self, batch: Batch) -> None:
        """Delete an acknowledged batch from the queue (in the helper thread)."""
        self.queue.ack(batch)
        with self._wake:
            self._wake.notify_all()

    def _send(self, batch: Batch, payload: bytes) -> bool:
        """Send one batch until acknowledged or set aside; False stops the sender."""
        assert self.writer is not None
        self._state = "sending"
        retries_before = self.retries
        try:
            sent = send_with_retry(
                self._wire, payload, self.retry, stop=self._stop, on_retry=self._on_retry
            )
        except WriteRejected as error:
            self._last_error = str(error)
            if error.affects_all_writes:
                log.error("%s; stopped sending, %d lines kept", error, self.queue.pending())
                self._set_error(error)
                return False
            log.error("%s; %d lines set aside in 'rejected'", error, len(batch))
            self.queue.reject(batch, str(error))
            return True
        except Exception as error:  # a bug or an exhausted retry budget
            log.exception("sink sender stopped")
            wrapped = error if isinstance(error, SinkError) else SinkError(f"sender: {error!r}")
            self._set_error(wrapped)
            return False
        if not sent:
            return False  # stopped while waiting to retry: the batch stays queued
        if self._ahead is not None:
            # The database has it: the next batch may go now. Deleting it from the
            # spool (a transaction with its own fsync) happens in the helper thread
            # meanwhile; a crash before that commits sends it again on the next start,
            # as a crash between the database's commit and the delete always did.
            self._settle()
            self._deleting = (self._ahead.submit(self._delete, batch), batch)
        else:
            self.queue.ack(batch)
        self.sent += len(batch)
        if self.retries != retries_before:
            log.warning("write to %s recovered", self.writer.target)
            self._last_error = None
        self._state = "idle"
        with self._wake:
            self._wake.notify_all()
        return True

    def _set_error(self, error: SinkError) -> None:
        # What the status shows with the error is settled: an acknowledged batch is
        # deleted first (if that fails too, the batch stays queued and is sent again).
        with contextlib.suppress(Exception):
            self._settle()
        with self._wake:
            self._error = error
            self._state = "stopped"
            self._wake.notify_all()
