"""Command-line hooks for the sinks, wired into ``twin`` by ``twin.cli``.

- :func:`add_sink_options` adds the database and spool options to a command that
  produces data (``twin run``, ``twin monitor``); :func:`sink_from_args` builds the
  :class:`~twin.sinks.sink.Sink` they describe.
- :func:`register_replay` adds ``twin replay SPOOL --influx …``.

Secrets never come from the command line (it is visible to every user in ``ps`` and
kept in shell histories): the v2 token comes from ``INFLUX_TOKEN`` or a file named by
``--influx-token-file``, the v1 user and password from ``INFLUX_USERNAME`` and
``INFLUX_PASSWORD``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from twin.argtypes import env_name, http_url, positive_float
from twin.sinks.errors import SinkError, SpoolBusyError, TransientWriteError, WriteRejected
from twin.sinks.influx import InfluxV1Writer, InfluxV2Writer, Writer
from twin.sinks.replay import replay
from twin.sinks.sink import Sink, SinkStatus
from twin.sinks.spool import DB_NAME, Spool

__all__ = [
    "SinkConfigError",
    "add_sink_options",
    "default_spool_dir",
    "refused_from_the_start",
    "register_replay",
    "replay_main",
    "sink_from_args",
    "sink_refusal",
    "sink_text",
    "writer_from_args",
]


class SinkConfigError(SinkError, ValueError):
    """The options do not describe a usable sink (a usage error: exit status 2)."""


def default_spool_dir() -> Path:
    """Where the spool lives when ``--spool`` is not given.

    ``$TWIN_SPOOL`` if set, else ``$XDG_STATE_HOME/twin/spool`` (by default
    ``~/.local/state/twin/spool``): it is state the program keeps, not configuration.
    """
    override = os.environ.get("TWIN_SPOOL")
    if override:
        return Path(override)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "twin" / "spool"


class _RefuseToken(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(
            "a token is never taken on the command line (every user can read it in ps): "
            "set INFLUX_TOKEN or use --influx-token-file FILE"
        )


def _add_database_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "InfluxDB",
        "v2 write API (InfluxDB 2.x, 3.x, 1.8+): --influx URL --org ORG --bucket BUCKET, "
        "token from $INFLUX_TOKEN or --influx-token-file. "
        "InfluxDB 1.x: --influx-v1 URL --db DB [--rp RP], user/password from "
        "$INFLUX_USERNAME/$INFLUX_PASSWORD.",
    )
    target = group.add_mutually_exclusive_group()
    target.add_argument(
        "--influx", metavar="URL", type=http_url, help="InfluxDB v2 write API base URL"
    )
    target.add_argument(
        "--influx-v1", metavar="URL", type=http_url, help="InfluxDB 1.x base URL (/write)"
    )
    group.add_argument("--org", metavar="ORG", help="organization (v2)")
    group.add_argument("--bucket", metavar="BUCKET", help="bucket (v2)")
    group.add_argument(
        "--influx-token-file",
        metavar="FILE",
        type=Path,
        help="read the v2 token from FILE instead of $INFLUX_TOKEN",
    )
    group.add_argument(
        "--influx-token-env",
        metavar="NAME",
        type=env_name,
        help="read the v2 token from the environment variable NAME (default INFLUX_TOKEN)",
    )
    # Not a real option: it exists so that `--influx-token SECRET` is refused with an
    # explanation instead of being taken (as an abbreviation) for --influx-token-file,
    # and so that the secret is never echoed back.
    group.add_argument("--influx-token", nargs="?", action=_RefuseToken, help=argparse.SUPPRESS)
    group.add_argument("--db", metavar="DB", help="database (v1)")
    group.add_argument("--rp", metavar="RP", help="retention policy (v1; default: the db's)")
    group.add_argument(
        "--batch-size",
        metavar="N",
        type=int,
        default=5000,
        help="lines per write request (default %(default)s)",
    )
    group.add_argument("--no-gzip", action="store_true", help="send request bodies uncompressed")


def add_sink_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--influx``/``--influx-v1`` and ``--spool`` options to ``parser``.

    See :func:`sink_from_args` for what they build.
    """
    _add_database_options(parser)
    parser.add_argument(
        "--flush-interval",
        metavar="S",
        type=positive_float,
        default=1.0,
        help="send a partial batch after S seconds (default %(default)s)",
    )
    group = parser.add_argument_group(
        "spool",
        "samples are appended to an on-disk spool (SQLite) before they are sent and "
        "deleted once the database acknowledged them; with no database the spool is "
        "the embedded store (send it later with `twin replay`)",
    )
    spool = group.add_mutually_exclusive_group()
    spool.add_argument(
        "--spool",
        metavar="DIR",
        type=Path,
        help=f"spool directory (default $TWIN_SPOOL or {default_spool_dir()})",
    )
    spool.add_argument(
        "--no-spool",
        action="store_true",
        help="buffer in memory instead (lost on a crash; needs a database)",
    )
    group.add_argument(
        "--spool-fsync",
        choices=("full", "normal"),
        default="full",
        help="full: every append fsynced (survives power loss); normal: survives a "
        "crash of twin, not of the OS (default %(default)s)",
    )
    group.add_argument(
        "--spool-max-mb",
        metavar="MB",
        type=positive_float,
        default=1024.0,
        help="disk quota of the spool (default %(default)s)",
    )
    group.add_argument(
        "--spool-on-full",
        choices=("reject", "drop_oldest"),
        default="reject",
        help="at the quota: refuse new samples and raise an alarm (reject), or drop "
        "the oldest (default %(default)s)",
    )


def _read_token(args: argparse.Namespace) -> str:
    path = getattr(args, "influx_token_file", None)
    if path is not None:
        try:
            token = Path(path).read_text().strip()
        except OSError as error:
            raise SinkConfigError(f"cannot read the token file {path}: {error.strerror}") from None
        if not token:
            raise SinkConfigError(f"the token file {path} is empty")
        return token
    name = getattr(args, "influx_token_env", None) or "INFLUX_TOKEN"
    token = os.environ.get(name, "").strip()
    if not token:
        raise SinkConfigError(
            f"--influx needs a token: set {name} or pass --influx-token-file FILE "
            "(never on the command line)"
        )
    return token


def writer_from_args(args: argparse.Namespace) -> Writer | None:
    """The writer the database options describe, or None if none is given.

    Raises :class:`SinkConfigError` for incomplete options or a missing token.
    """
    gzip = not getattr(args, "no_gzip", False)
    if getattr(args, "influx", None):
        missing = [name for name in ("org", "bucket") if not getattr(args, name, None)]
        if missing:
            raise SinkConfigError("--influx needs " + " and ".join(f"--{name}" for name in missing))
        if getattr(args, "db", None) or getattr(args, "rp", None):
            raise SinkConfigError("--db/--rp go with --influx-v1, not --influx")
        return InfluxV2Writer(args.influx, args.org, args.bucket, _read_token(args), gzip=gzip)
    if getattr(args, "influx_v1", None):
        if not getattr(args, "db", None):
            raise SinkConfigError("--influx-v1 needs --db")
        if getattr(args, "bucket", None) or getattr(args, "org", None):
            raise SinkConfigError("--org/--bucket go with --influx, not --influx-v1")
        return InfluxV1Writer(
            args.influx_v1,
            args.db,
            retention_policy=args.rp,
            username=os.environ.get("INFLUX_USERNAME") or None,
            password=os.environ.get("INFLUX_PASSWORD") or None,
            gzip=gzip,
        )
    stray = [name for name in ("org", "bucket", "db", "rp") if getattr(args, name, None)]
    if stray:
        raise SinkConfigError(
            " ".join(f"--{name}" for name in stray) + " given without --influx or --influx-v1"
        )
    return None


def sink_from_args(args: argparse.Namespace) -> Sink:
    """Build the sink that the options of :func:`add_sink_options` describe.

    - a database and a spool (``--spool DIR``, or the default directory): durable;
    - a database and ``--no-spool``: in-memory buffer;
    - no database: the spool alone, as the embedded store.

    Raises
    ------
    SinkConfigError
        For a usage error (incomplete options, missing token, ``--no-spool`` without
        a database, spool already in use): report it and exit with status 2.
    """
    if args.batch_size < 1:
        raise SinkConfigError("--batch-size must be at least 1")
    writer = writer_from_args(args)
    if getattr(args, "no_spool", False):
        if writer is None:
            raise SinkConfigError("--no-spool needs a database (--influx or --influx-v1)")
        spool = None
    else:
        directory = args.spool if args.spool is not None else default_spool_dir()
        try:
            spool = Spool(
                directory,
                fsync=args.spool_fsync,
                max_bytes=int(args.spool_max_mb * 1024 * 1024),
                on_full=args.spool_on_full,
            )
        except (SpoolBusyError, ValueError, OSError) as error:
            if writer is not None:
                writer.close()
            hint = (
                " (give each process its own --spool DIR)"
                if isinstance(error, SpoolBusyError)
                else " (--spool-max-mb)"
                if "quota" in str(error)
                else ""
            )
            raise SinkConfigError(f"{error}{hint}") from None
    return Sink(writer, spool, batch_size=args.batch_size, flush_interval=args.flush_interval)


def sink_refusal(sink: Sink) -> str:
    """The database's refusal of every write (unknown database, bad credentials) in
    one sentence with where the data is, or "" (``twin run`` and ``twin monitor``).

    Such a refusal is a configuration error (exit status 2): the options named a
    database that does not take our writes. Nothing is lost: the spool keeps it.
    """
    error = sink.error
    if not isinstance(error, WriteRejected) or not error.affects_all_writes:
        return ""
    where = (
        f"kept in the spool {sink.spool.directory} (send them with `twin replay` once "
        "the database takes them)"
        if sink.spool is not None
        else "lost with the memory buffer"
    )
    return f"{error}; {sink.status.pending} samples {where}"


def refused_from_the_start(sink: Sink) -> bool:
    """True when the database refused every write before taking any: the options
    are wrong (no such database, bad token), and running on cannot help."""
    error = sink.error
    return isinstance(error, WriteRejected) and error.affects_all_writes and not sink.sent


def sink_text(status: SinkStatus) -> str:
    """The sink's part of a status line: state, backlog, and what was refused or
    dropped at the spool's quota (shown as soon as it happens, never silent)."""
    text = f"sink {status.state} pending {status.pending}"
    if status.full:
        text += f"  SPOOL FULL: {status.refused} samples refused"
    elif status.refused:
        text += f"  refused {status.refused}"
    if status.dropped:
        text += f"  dropped {status.dropped} (spool quota)"
    return text


def register_replay(
    subparsers: argparse._SubParsersAction,  # type: ignore[type-arg]
) -> argparse.ArgumentParser:
    """Add ``twin replay SPOOL (--influx … | --influx-v1 …)`` to ``subparsers``.

    The parser's default ``handler`` is :func:`replay_main` (``args.handler(args)``
    returns the exit status).
    """
    parser = subparsers.add_parser(
        "replay",
        help="push a spool (or the embedded store) into InfluxDB",
        description="Send every line a spool holds to InfluxDB, oldest first, deleting "
        "each batch once the database acknowledged it (so an interrupted replay can "
        "simply be run again). Exit status: 0 all sent, 1 some lines could not be "
        "sent (they stay in the spool), 2 bad usage.",
    )
    parser.add_argument("spool", metavar="SPOOL", type=Path, help="spool directory")
    _add_database_options(parser)
    parser.add_argument(
        "--keep", action="store_true", help="leave the spool as it is (send a copy)"
    )
    parser.set_defaults(handler=replay_main)
    return parser


def _progress_printer(stream: TextIO | None = None) -> Callable[[int, int], None]:
    stream = stream or sys.stderr
    interactive = stream.isatty()
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < (0.2 if interactive else 5.0):
            return
        last[0] = now
        percent = 100.0 * done / total if total else 100.0
        text = f"replay: {done}/{total} lines ({percent:.0f}%)"
        if interactive:
            stream.write("\r" + text + ("\n" if done >= total else ""))
        else:
            stream.write(text + "\n")
        stream.flush()

    return show


def replay_main(args: argparse.Namespace) -> int:
    """Run ``twin replay``; returns the exit status (0 ok, 1 not all sent, 2 usage)."""

    def fail(message: str, status: int) -> int:
        print(f"twin replay: error: {message}", file=sys.stderr)
        return status

    directory: Path = args.spool
    if not (directory / DB_NAME).is_file():
        return fail(f"{directory} is not a spool directory (no {DB_NAME} in it)", 2)
    if args.batch_size < 1:
        return fail("--batch-size must be at least 1", 2)
    try:
        writer = writer_from_args(args)
    except SinkConfigError as error:
        return fail(str(error), 2)
    if writer is None:
        return fail("say where to send it: --influx URL or --influx-v1 URL", 2)
    try:
        spool = Spool(directory)
    except (SpoolBusyError, ValueError) as error:
        writer.close()
        return fail(str(error), 2)
    try:
        result = replay(
            spool,
            writer,
            batch_size=args.batch_size,
            keep=args.keep,
            progress=_progress_printer(),
        )
    except WriteRejected as error:
        return fail(f"{error}; {spool.pending()} lines left in {directory}", 1)
    except TransientWriteError as error:
        return fail(f"gave up retrying: {error}; {spool.pending()} lines left in {directory}", 1)
    except KeyboardInterrupt:
        return fail(f"interrupted; {spool.pending()} lines left in {directory}", 1)
    finally:
        writer.close()
        spool.close()
    print(
        f"twin replay: sent {result.sent} lines to {writer.target}"
        + (f", {result.rejected} refused by the server" if result.rejected else ""),
        file=sys.stderr,
    )
    if result.rejected:
        return fail(
            f"{result.rejected} lines were refused as malformed; they are kept in the "
            f"spool's 'rejected' table",
            1,
        )
    return 0
