"""Where warnings and errors go: stderr, or a file while a dashboard owns the terminal.

A log line written to stderr under a full-screen dashboard draws over it and stays
there until the next full repaint. So while the dashboard runs, ``twin run``,
``twin dashboard`` and ``twin monitor`` log to a file (``.twin-state/<command>.log``
unless ``--log FILE`` says otherwise), and say on exit how many lines went there.
Headless, they log to stderr as usual.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DEFAULT_DIR = Path(".twin-state")


_start_offset: dict[Path, int] = {}  # a log file's size when this session began


def configure(log_file: Path | None = None) -> Path | None:
    """Log warnings and errors to ``log_file`` (appending; its folder is made) or stderr.

    The protocol libraries are quietened: the collector reports a device's failure
    once, in its own words, and pymodbus would repeat it on every retry.
    Returns the file, if any.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if log_file is not None:
        log_file = Path(log_file)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        _start_offset[log_file] = log_file.stat().st_size if log_file.exists() else 0
        handler: logging.Handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    return log_file


def add_log_option(parser: argparse.ArgumentParser, command: str, headless: bool = True) -> None:
    """Declare ``--log FILE`` on a command that may show the dashboard."""
    where = f"{DEFAULT_DIR}/{command}.log"
    default = (
        f"stderr headless; {where} while the dashboard shows, so nothing draws over it"
        if headless
        else where
    )
    parser.add_argument(
        "--log", type=Path, metavar="FILE", help=f"warnings and errors to FILE (default: {default})"
    )


def default_file(command: str) -> Path:
    """The log file of a dashboard session of ``command`` (``run``, ``monitor``…)."""
    return DEFAULT_DIR / f"{command}.log"


def lines_since_configure(log_file: Path) -> int:
    """Lines added to ``log_file`` since :func:`configure` (by any process of the session)."""
    try:
        with open(log_file, "rb") as stream:
            stream.seek(_start_offset.get(Path(log_file), 0))
            return stream.read().count(b"\n")
    except OSError:
        return 0


def report(command: str, log_file: Path | None) -> None:
    """After a dashboard session: say where its warnings went, if there were any."""
    if log_file is None:
        return
    for handler in logging.getLogger().handlers:
        handler.flush()
    count = lines_since_configure(log_file)
    if count:
        print(f"twin {command}: {count} log line(s) written to {log_file}", file=sys.stderr)
