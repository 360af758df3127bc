"""The dashboard's first minute: drawn at once, with what the start-up is doing.

Building a 100 MW plant and serving its gear takes the simulation process most of
20 s, and reading every point once a few more. :class:`Startup` runs that start-up
(``begin``, given by the composition root) on a thread of its own while the app
draws; the app polls :meth:`Startup.lines` for the progress, takes the source the
moment the collector polls (rows read "no reading yet" until their points answer),
and shows progress in the banner until :meth:`Startup.finished` says every point
has answered once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from twin.tui.records import Source

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised by ``begin`` when the start-up was stopped on purpose (the operator quit)."""


class Startup:
    """A start-up in progress: its lines, then its source, or the error that stopped it."""

    def __init__(
        self,
        site: str,
        begin: Callable[[], Source],
        progress: Callable[[], tuple[str, ...]],
        finished: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.site = site
        self._begin = begin
        self._progress = progress
        self._finished = finished
        self.source: Source | None = None
        self.error: BaseException | None = None
        self.clock = clock
        self.started = clock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.started = self.clock()
        self._thread = threading.Thread(target=self._run, name="twin-startup", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.source = self._begin()
        except Cancelled:  # the operator quit while the site was starting: no failure
            log.info("start-up stopped: the dashboard was closed before the site was read")
        except BaseException as error:  # shown on screen; the app ends with it
            log.exception("start-up failed")
            self.error = error

    def lines(self) -> tuple[str, ...]:
        try:
            return self._progress()
        except Exception as error:  # progress is advisory: never stop the screen for it
            return (f"starting {self.site} ({error})",)

    def elapsed(self) -> float:
        """Seconds since the start-up began [s]."""
        return self.clock() - self.started

    def finished(self) -> bool:
        return self.source is not None and self._finished()
