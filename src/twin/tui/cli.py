"""``twin dashboard SITE``: a simulated site (its own process), its collector and the dashboard."""

from __future__ import annotations

import argparse
from pathlib import Path


def register_dashboard(sub: argparse._SubParsersAction) -> None:
    """Declare ``dashboard`` (with its own handler) on the main parser."""
    parser = sub.add_parser(
        "dashboard",
        help="run a simulated site with its collector and show the terminal dashboard",
        description="Serve a site's simulated devices on free loopback ports, poll them with "
        "the collector over Modbus TCP, and show the dashboard (q quits, ? lists the keys).",
    )
    parser.add_argument("site", nargs="?", default="aidc-10mw", help="site name or TOML path")
    parser.add_argument("--speed", type=float, default=1.0, help="plant seconds per wall second")
    parser.add_argument("--light", action="store_true", help="start with the light theme")
    parser.add_argument(
        "--log",
        type=Path,
        metavar="FILE",
        help="warnings and errors to FILE (default .twin-state/dashboard.log)",
    )
    parser.set_defaults(handler=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from twin import logs
    from twin.tui.app import DARK, LIGHT, TwinApp
    from twin.tui.runtime import SiteRuntime

    log_file = logs.configure(args.log or logs.default_file("dashboard"))
    try:
        with SiteRuntime(
            args.site, speed=args.speed, separate_process=True, log_file=log_file
        ) as runtime:
            TwinApp(runtime.source(), theme=LIGHT if args.light else DARK).run()
    finally:
        logs.report("dashboard", log_file)
    return 0
