"""The ``twin`` command line.

Every command reports bad input (a config, a scenario, a weather file) as one
line naming the file, the key or line, and what was expected, and exits with
status 2; nothing runs half-loaded.

:func:`main` is the ``twin`` entry point (and ``python -m twin.cli``). The package's
modules: :mod:`~twin.cli.parser` (every command's options, ``--config FILE``),
:mod:`~twin.cli.study` (``twin simulate``, ``twin report``) and :mod:`~twin.cli.check`
(``twin check``); the other commands live with their layer (``twin.devices.cli``,
``twin.monitor``, ``twin.app``, ``twin.sinks.cli``...).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from twin.cli.check import _cmd_check
from twin.cli.parser import EXIT_BAD_INPUT, build_parser, with_config
from twin.cli.study import _cmd_simulate
from twin.errors import ConfigError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if getattr(args, "config", None) is not None:
        try:
            args = with_config(argv, args)
        except ConfigError as error:
            print(f"twin {args.command}: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    from twin.devices.cli import cmd_points, cmd_sim
    from twin.monitor import cmd_monitor

    handlers = {
        "simulate": _cmd_simulate,
        "check": _cmd_check,
        "sim": cmd_sim,
        "points": cmd_points,
        "monitor": cmd_monitor,
    }
    handler = getattr(args, "handler", None) or handlers[args.command]
    try:
        return handler(args)
    except ConfigError as error:
        print(f"twin {args.command}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
