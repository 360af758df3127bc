"""A durable, ordered, on-disk spool of line-protocol lines, on SQLite.

Samples are appended here before anything touches the network, and removed only
once the database acknowledged them, so neither a database outage nor a crash of
this process loses data. With no database configured the spool is the embedded
store: it keeps everything (up to its quota) and ``twin replay`` sends it later.

Why SQLite and not hand-rolled segment files: crash safety, ordering and atomic
acknowledgement come from a library tested far harder than anything written here.
A row is a *segment*: up to ``segment_lines`` consecutive lines (newline-joined),
keyed by a monotonically increasing ``seq`` (``AUTOINCREMENT``: never reused). One
append is one transaction however many segments it makes; the sender takes whole
segments from the lowest ``seq`` up, and an acknowledgement deletes exactly the
segments of the batch the database took, in one transaction. Storing segments rather
than one row per line keeps SQLite's cost per line negligible next to the network.

Fsync policy (``fsync=``), the durability/speed trade-off:

``"full"`` (default)
    ``synchronous=FULL``: every append is on stable storage when ``append`` returns.
    Survives a crash of this process, of the OS and a power cut. Costs one fsync per
    append call (per batch, not per sample: append in batches).
``"normal"``
    ``synchronous=NORMAL`` in WAL mode: an append survives a crash of this process
    (SIGKILL, OOM kill) the moment it returns, but the last appends before an OS crash
    or power cut may be rolled back (the database itself stays consistent). fsyncs
    happen only at WAL checkpoints.

Quota (``max_bytes``, ``on_full=``): the quota bounds what the spool really takes
on disk, the database file with its write-ahead log (``-wal``) and shared-memory
index (``-shm``). The WAL would otherwise grow to SQLite's default of 1000 pages
(4 MB) and keep that size, so a 1 MB quota once took 5 MB: here the WAL is
checkpointed and truncated (``wal_checkpoint(TRUNCATE)``, ``journal_size_limit``)
whenever it passes a share of the quota (:data:`WAL_SHARE`, at most 4 MB), and the
data pages get what the WAL and the index leave. One append may be written to the
WAL before the next quota check sees it, so the disk use can pass the quota by at
most one append's pages. When an append would take the spool over its
quota, ``"reject"`` (default) refuses the whole append with :class:`SpoolFullError`,
sets :attr:`Spool.full` (an alarm flag) and logs an error; nothing is dropped.
``"drop_oldest"`` deletes the oldest lines to make room, counts them in
:attr:`Spool.dropped` and logs a warning: for an embedded store used as a ring.

Only one process may open a spool at a time (an exclusive ``flock`` on
``spool.lock``), because two senders draining one spool would send lines twice. The
lock dies with the process, so a killed writer never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from twin.sinks.errors import SpoolBusyError, SpoolFullError
from twin.sinks.record import LineEncoder, Record

__all__ = ["Batch", "FsyncPolicy", "QuotaPolicy", "Spool", "SpoolStats"]

log = logging.getLogger(__name__)

FsyncPolicy = Literal["full", "normal"]
QuotaPolicy = Literal["reject", "drop_oldest"]

DB_NAME = "spool.sqlite3"
LOCK_NAME = "spool.lock"
SCHEMA_VERSION = "1"
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB: about ten million typical lines
# Per-row overhead beyond the line text (rowid, two columns, b-tree cell), measured
# on typical lines; used only to estimate whether an append fits in the quota.
ROW_OVERHEAD = 24
# Share of the quota the write-ahead log may take before it is checkpointed and
# truncated, between WAL_MIN_PAGES pages and WAL_MAX_BYTES.
WAL_SHARE = 8
WAL_MIN_PAGES = 8
WAL_MAX_BYTES = 4 << 20  # SQLite's own default checkpoint size (1000 pages of 4 KiB)
# The -shm index: 32 KiB per 4096 WAL frames, so one block for any WAL kept here.
SHM_BYTES = 32 * 1024
DROP_LOG_EVERY_S = 60.0
# The least room for data pages a quota must leave, beyond the WAL and the index.
MIN_DATA_BYTES = 64 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS segment (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    lines INTEGER NOT NULL,
    first_ns INTEGER,
    last_ns INTEGER,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY,
    lines INTEGER NOT NULL,
    first_ns INTEGER,
    last_ns INTEGER,
    body TEXT NOT NULL,
    error TEXT NOT NULL,
    rejected_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Batch:
    """Segments read from the head of a queue, to be sent then acknowledged.

    ``first_seq`` and ``last_seq`` bound the segments, ``count`` is the number of lines,
    ``segments`` are newline-joined lines in order.
    """

    first_seq: int
    last_seq: int
    count: int
    segments: list[str]

    def body(self) -> bytes:
        """The request body: every line, newline-separated, UTF-8."""
        return "\n".join(self.segments).encode()

    @property
    def lines(self) -> list[str]:
        """The lines, one by one."""
        return [line for segment in self.segments for line in segment.split("\n")]

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """A snapshot of the spool for status displays and alarms."""

    pending: int
    rejected: int
    used_bytes: int
    disk_bytes: int
    max_bytes: int
    full: bool
    dropped: int
    first_seq: int | None
    last_seq: int | None


def _line_time(line: str) -> int | None:
    """The timestamp of a line, if it has one."""
    tail = line.rsplit(" ", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].lstrip("-").isdigit() else None


def _line_measurement(line: str) -> str:
    """The (escaped) measurement of a line: up to the first unescaped comma or space."""
    for index, char in enumerate(line):
        if char in ", " and (index == 0 or line[index - 1] != "\\"):
            return line[:index]
    return line


class Spool:
    """A durable FIFO of line-protocol lines in ``directory/spool.sqlite3``.

    Parameters
    ----------
    directory : str or Path
        Created if missing. Holds the database and its lock file.
    fsync : {"full", "normal"}
        Durability policy, see the module docstring.
    max_bytes : int
        Disk quota: the database file, its WAL and its index together.
    on_full : {"reject", "drop_oldest"}
        What to do at the quota, see the module docstring.
    segment_lines : int
        Lines per stored segment at most; a batch is made of whole segments, so keep
        it at or below the sink's batch size.

    Notes
    -----
    Thread-safe: one connection guarded by a lock, so the producer appending and the
    sender reading and acknowledging can live on different threads. The lock is held
    only for the SQLite calls, never across a network request.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        fsync: FsyncPolicy = "full",
        max_bytes: int = DEFAULT_MAX_BYTES,
        on_full: QuotaPolicy = "reject",
        segment_lines: int = 500,
    ) -> None:
        if fsync not in ("full", "normal"):
            raise ValueError(f"fsync policy must be 'full' or 'normal', not {fsync!r}")
        if on_full not in ("reject", "drop_oldest"):
            raise ValueError(f"quota policy must be 'reject' or 'drop_oldest', not {on_full!r}")
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        if segment_lines < 1:
            raise ValueError(f"segment_lines must be at least 1, got {segment_lines}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fsync: FsyncPolicy = fsync
        self.max_bytes = max_bytes
        self.on_full: QuotaPolicy = on_full
        self.segment_lines = segment_lines
        self.full = False
        self.dropped = 0
        self._drop_logged_at: float | None = None
        self._in_flight = 0  # segments up to this seq were handed to a sender
        self._lock = threading.RLock()
        self._encoder = LineEncoder()
        self._lock_file = open(self.directory / LOCK_NAME, "a+")  # noqa: SIM115 (held open)
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise SpoolBusyError(
                f"spool {self.directory} is in use by another process "
                "(a running `twin run` or `twin replay`?)"
            ) from None
        try:
            self._db = sqlite3.connect(
                self.directory / DB_NAME, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={fsync.upper()}")
            self._page_size = self._pragma("page_size")
            self._wal_limit = max(
                WAL_MIN_PAGES * self._page_size, min(max_bytes // WAL_SHARE, WAL_MAX_BYTES)
            )
            # SQLite's own checkpoint at about the same size, and a WAL reset truncates
            # the file back to the limit instead of keeping its largest size.
            self._db.execute(f"PRAGMA wal_autocheckpoint={self._wal_limit // self._page_size}")
            self._db.execute(f"PRAGMA journal_size_limit={self._wal_limit}")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
            )
            (version,) = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.DatabaseError as error:
            self._release()
            raise ValueError(f"{self.directory / DB_NAME} is not a twin spool: {error}") from None
        if version != SCHEMA_VERSION:
            self._release()
            raise ValueError(f"spool schema version {version} is not supported")
        # What the data pages may take: the quota less the WAL and its index.
        self._data_budget = max_bytes - self._wal_limit - SHM_BYTES
        if self._data_budget < MIN_DATA_BYTES:
            self._release()
            least = (MIN_DATA_BYTES + self._wal_limit + SHM_BYTES) / (1 << 20)
            raise ValueError(
                f"a spool quota of {max_bytes} bytes leaves no room for data next to "
                f"SQLite's log and index: give at least {least:.2f} MB"
            )
        self._checkpoint()
        # Counted once here, then kept up to date by every insert and delete, so
        # status displays never pay for a scan of a large store.
        self._pending = self._sum("segment")

    # -- housekeeping -----------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The SQLite database file."""
        return self.directory / DB_NAME

    def _pragma(self, name: str) -> int:
        return int(self._db.execute(f"PRAGMA {name}").fetchone()[0])

    def _sum(self, table: str) -> int:
        return int(self._db.execute(f"SELECT coalesce(sum(lines), 0) FROM {table}").fetchone()[0])

    def _release(self) -> None:
        if getattr(self, "_db", None) is not None:
            self._db.close()
            self._db = None  # type: ignore[assignment]
        if not self._lock_file.closed:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    def close(self) -> None:
        """Close the database and release the lock (idempotent)."""
        with self._lock:
            self._release()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Spool({str(self.directory)!r})"

    def used_bytes(self) -> int:
        """Bytes of database pages holding data (free pages excluded)."""
        with self._lock:
            return (self._pragma("page_count") - self._pragma("freelist_count")) * self._page_size

    def disk_bytes(self) -> int:
        """What the spool takes on disk: the database file, its WAL and its index."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(f"{self.path}{suffix}").st_size
        return total

    def _checkpoint(self) -> None:
        """Checkpoint and truncate the WAL once it passed its share of the quota.

        Called after every commit, under the lock. With this one connection and no
        reader holding a snapshot the checkpoint always completes; pages freed by
        deletes stay in the database file and are reused by later appends, so the
        file itself never grows past the data pages' budget.
        """
        try:
            wal = os.stat(f"{self.path}-wal").st_size
        except FileNotFoundError:
            return
        if wal > self._wal_limit:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    # -- appending --------------------------------------------------------------------

    def append(self, records: Iterable[Record]) -> int:
        """Append records, durably (per the fsync policy), in one transaction.

        Returns the number of lines appended. Raises :class:`SpoolFullError` (and
        appends nothing) when the quota is reached and the policy is ``"reject"``.
        """
        if not isinstance(records, list | tuple):
            records = list(records)
        lines = self._encoder.encode_many(records)
        times = [record.time_ns for record in records]
        return self._insert(lines, times)

    def append_lines(self, lines: Iterable[str]) -> int:
        """Append already-encoded lines (e.g. imported from elsewhere) as they are."""
        kept = []
        for line in lines:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                kept.append(line)
        return self._insert(kept, [_line_time(line) for line in kept])

    def _insert(self, lines: list[str], times: list[int | None]) -> int:
        if not lines:
            return 0
        rows = []
        size = self.segment_lines
        for start in range(0, len(lines), size):
            known = [t for t in times[start : start + size] if t is not None]
            body = "\n".join(lines[start : start + size])
            count = min(size, len(lines) - start)
            rows.append((count, min(known) if known else None, max(known) if known else None, body))
        estimate = sum(len(row[3]) for row in rows) + ROW_OVERHEAD * len(rows)
        with self._lock:
            self._make_room(estimate)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO segment(lines, first_ns, last_ns, body) VALUES (?, ?, ?, ?)", rows
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._pending += len(lines)
            self._checkpoint()
        return len(lines)

    def _make_room(self, estimate: int) -> None:
        used = self.used_bytes()
        budget = self._data_budget
        if used + estimate <= budget:
            if self.full:
                log.warning("spool %s below its quota again: accepting data", self.directory)
            self.full = False
            return
        if self.on_full == "reject" or estimate > budget:
            self._refuse(estimate)
        # drop_oldest: free about what is needed, from the head, in one transaction.
        # Deleted pages go to the free list and count as free in used_bytes().
        # Segments the sender took (peeked, not yet acknowledged) are not dropped:
        # they may already be in the database, and a drop count must be exact.
        segments, droppable = self._db.execute(
            "SELECT count(*), count(*) FILTER (WHERE seq > ?) FROM segment", (self._in_flight,)
        ).fetchone()
        if droppable == 0:
            self._refuse(estimate)
        average = max(1, used // segments)
        count = min(droppable, (used + estimate - budget) // average + 1)
        self._db.execute("BEGIN IMMEDIATE")
        (lines,) = self._db.execute(
            "SELECT coalesce(sum(lines), 0) FROM "
            "(SELECT lines FROM segment WHERE seq > ? ORDER BY seq LIMIT ?)",
            (self._in_flight, count),
        ).fetchone()
        self._db.execute(
            "DELETE FROM segment WHERE seq IN "
            "(SELECT seq FROM segment WHERE seq > ? ORDER BY seq LIMIT ?)",
            (self._in_flight, count),
        )
        self._db.execute("COMMIT")
        self._checkpoint()
        self._pending -= lines
        self.dropped += lines
        # Once when drops begin, then at most once a minute: a long outage drops on
        # every append, and a line per append would flood the log.
        now = time.monotonic()
        if self._drop_logged_at is None or now - self._drop_logged_at >= DROP_LOG_EVERY_S:
            log.warning(
                "spool %s at its quota: dropped the %d oldest lines (policy 'drop_oldest', "
                "%d dropped in all)",
                self.directory,
                lines,
                self.dropped,
            )
            self._drop_logged_at = now

    def _refuse(self, estimate: int) -> None:
        disk = self.disk_bytes()
        if not self.full:
            log.error(
                "spool %s is full (%d bytes on disk, quota %d): refusing new data; "
                "nothing is dropped (policy %r)",
                self.directory,
                disk,
                self.max_bytes,
                self.on_full,
            )
        self.full = True
        raise SpoolFullError(
            f"spool {self.directory} is full ({disk} bytes on disk of a {self.max_bytes} "
            f"quota, {estimate} more needed); policy {self.on_full!r} refuses new data"
        )

    # -- reading and acknowledging ---------------------------------------------------

    def peek(self, limit: int, after_seq: int = 0) -> Batch | None:
        """The oldest whole segments with ``seq > after_seq``, up to ``limit`` lines.

        Always at least one segment (so a segment larger than ``limit`` still goes);
        None if there is nothing after ``after_seq``.
        """
        segments: list[str] = []
        count = 0
        first = last = 0
        with self._lock:
            cursor = self._db.execute(
                "SELECT seq, lines, body FROM segment WHERE seq > ? ORDER BY seq", (after_seq,)
            )
            try:
                for seq, lines, body in cursor:
                    if segments and count + lines > limit:
                        break
                    if not segments:
                        first = seq
                    last = seq
                    segments.append(body)
                    count += lines
                    if count >= limit:
                        break
            finally:
                cursor.close()
        if not segments:
            return None
        # Taken by a sender: on its way to the database until acknowledged, so
        # drop_oldest must leave it (see _make_room).
        with self._lock:
            self._in_flight = max(self._in_flight, last)
        return Batch(first, last, count, segments)

    def ack(self, batch: Batch) -> None:
        """Delete a batch the database acknowledged (one transaction)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            deleted = self._delete_range(batch)
            self._db.execute("COMMIT")
            self._pending -= deleted
            self._checkpoint()

    def _delete_range(self, batch: Batch) -> int:
        (lines,) = self._db.execute(
            "SELECT coalesce(sum(lines), 0) FROM segment WHERE seq BETWEEN ? AND ?",
            (batch.first_seq, batch.last_seq),
        ).fetchone()
        self._db.execute(
            "DELETE FROM segment WHERE seq BETWEEN ? AND ?", (batch.first_seq, batch.last_seq)
        )
        return lines

    def reject(self, batch: Batch, error: str) -> None:
        """Move a batch the database refused to the ``rejected`` table (kept, not sent).

        One malformed line must not block everything behind it, and must not be lost:
        it waits in ``rejected`` with the server's error until an operator looks at it
        (:meth:`rejected_lines`) or re-queues it (:meth:`requeue_rejected`).
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO rejected(seq, lines, first_ns, last_ns, body, error, "
                "rejected_at) SELECT seq, lines, first_ns, last_ns, body, ?, ? FROM segment "
                "WHERE seq BETWEEN ? AND ?",
                (error, time.time(), batch.first_seq, batch.last_seq),
            )
            deleted = self._delete_range(batch)
            self._db.execute("COMMIT")
            self._pending -= deleted
            self._checkpoint()

    def requeue_rejected(self) -> int:
        """Put rejected lines back at the head of the spool, in their original order."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            lines = self._sum("rejected")
            self._db.execute(
                "INSERT INTO segment(seq, lines, first_ns, last_ns, body) "
                "SELECT seq, lines, first_ns, last_ns, body FROM rejected ORDER BY seq"
            )
            self._db.execute("DELETE FROM rejected")
            self._db.execute("COMMIT")
            self._pending += lines
            self._checkpoint()
            return lines

    # -- inspection -------------------------------------------------------------------

    def pending(self) -> int:
        """Lines waiting to be sent."""
        return self._pending

    def count(self) -> int:
        """Lines waiting, summed from the table (slower than :meth:`pending`; for checks)."""
        with self._lock:
            return self._sum("segment")

    def rejected_count(self) -> int:
        """Lines the database refused, kept in the ``rejected`` table."""
        with self._lock:
            return self._sum("rejected")

    def rejected_lines(self) -> list[tuple[int, str, str]]:
        """``(seq, line, error)`` of every rejected line, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT seq, body, error FROM rejected ORDER BY seq").fetchall()
        return [(seq, line, error) for seq, body, error in rows for line in body.split("\n")]

    def lines(
        self,
        measurement: str | None = None,
        start_ns: int | None = None,
        stop_ns: int | None = None,
    ) -> Iterator[str]:
        """Iterate over stored lines in order, optionally filtered (the embedded store).

        ``measurement`` is compared with the line's (escaped) measurement;
        ``start_ns`` is inclusive, ``stop_ns`` exclusive. Segments whose time range
        misses the window are skipped unread; one segment at a time is held, so a
        large store never sits in memory and appends are not blocked for long.
        """
        after = 0
        while True:
            with self._lock:
                row = self._db.execute(
                    "SELECT seq, first_ns, last_ns, body FROM segment WHERE seq > ? "
                    "ORDER BY seq LIMIT 1",
                    (after,),
                ).fetchone()
            if row is None:
                return
            after, first_ns, last_ns, body = row
            if start_ns is not None and last_ns is not None and last_ns < start_ns:
                continue
            if stop_ns is not None and first_ns is not None and first_ns >= stop_ns:
                continue
            for line in body.split("\n"):
                if measurement is not None and _line_measurement(line) != measurement:
                    continue
                if start_ns is not None or stop_ns is not None:
                    stamp = _line_time(line)
                    if stamp is None:
                        continue
                    if start_ns is not None and stamp < start_ns:
                        continue
                    if stop_ns is not None and stamp >= stop_ns:
                        continue
                yield line

    def stats(self) -> SpoolStats:
        """A consistent snapshot for status lines and alarms."""
        with self._lock:
            first, last = self._db.execute("SELECT min(seq), max(seq) FROM segment").fetchone()
            return SpoolStats(
                pending=self._pending,
                rejected=self.rejected_count(),
                used_bytes=self.used_bytes(),
                disk_bytes=self.disk_bytes(),
                max_bytes=self.max_bytes,
                full=self.full,
                dropped=self.dropped,
                first_seq=first,
                last_seq=last,
            )
