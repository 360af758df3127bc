"""``twin run`` in a real terminal (tmux): how soon the first frame, the views, the site.

Launches ``twin run SITE`` in a detached tmux pane and captures the pane every 50 ms:

- first frame: the command started → the title bar on the pane (limit 2 s, issue 18);
- views open: → the start-up panel gave way to the Overview (the collector polls);
- every point answered: → the banner's start-up line is gone;
- quit: ``q`` → the command's exit code is written.

Usage: ``python bench/first_frame.py [SITE ...]`` (default aidc-10mw aidc-100mw).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import row

TWIN = Path(sys.executable).with_name("twin")


# A tmux server of our own: one already running (another user's) would start the
# command with its environment, not ours (PYTHONPATH, the checkout under test).
SOCKET = f"twin-bench-{uuid.uuid4().hex[:8]}"


def tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", "-L", SOCKET, *args], check=True, capture_output=True, text=True
    ).stdout


def measure(site: str) -> dict[str, float]:
    session = f"twin-first-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        rc = Path(tmp) / "rc"
        path = os.environ.get("PYTHONPATH")
        env = f"PYTHONPATH={shlex.quote(path)} " if path else ""
        command = (
            f"TERM=xterm-256color {env}{TWIN} run {site} --spool {tmp}/spool --log {tmp}/run.log; "
            f"echo $? > {rc}; sleep 60"
        )
        started = time.monotonic()
        tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "45", command)
        marks: dict[str, float] = {}
        try:
            deadline = started + 300
            while time.monotonic() < deadline and "all read" not in marks:
                pane = tmux("capture-pane", "-p", "-t", session)
                now = time.monotonic() - started
                if "first frame" not in marks and "twin ·" in pane:
                    marks["first frame"] = now
                    marks["progress shown"] = now if "start" in pane else float("nan")
                if "views" not in marks and "PUE" in pane and "Starting" not in pane:
                    marks["views"] = now
                if "views" in marks and "start-up:" not in pane:
                    marks["all read"] = now
                time.sleep(0.05)
            tmux("send-keys", "-t", session, "q")
            quit_at = time.monotonic()
            while time.monotonic() < quit_at + 60 and not (rc.exists() and rc.read_text()):
                time.sleep(0.05)
            marks["quit"] = time.monotonic() - quit_at
            marks["exit code"] = float(rc.read_text()) if rc.exists() else float("nan")
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    return marks


def main(sites: list[str]) -> None:
    try:
        for site in sites:
            report(site, measure(site))
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)


def report(site: str, m: dict[str, float]) -> None:
    print(
        f"{site}: first frame {m.get('first frame', float('nan')):.2f} s (limit 2 s), "
        f"progress on it: {'yes' if m.get('progress shown') == m.get('first frame') else 'no'} · "
        f"views {m.get('views', float('nan')):.1f} s · every point answered "
        f"{m.get('all read', float('nan')):.1f} s · quit {m.get('quit', float('nan')):.1f} s"
        f" · exit {m.get('exit code', float('nan')):g}"
    )
    row(f"twin run {site}: first frame [s]", m.get("first frame", float("nan")), 2.0, "<= 2")


if __name__ == "__main__":
    main(sys.argv[1:] or ["aidc-10mw", "aidc-100mw"])
