"""``twin discover PROTOCOL``: walk what is on the wire, write a registry draft.

:mod:`twin.cli` declares ``discover`` through :func:`add_parser`; each protocol is a
sub-command of it (``bacnet`` here, ``snmp`` in :mod:`twin.collect.discover_snmp_cli`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from twin.argtypes import positive_float


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Declare ``discover`` and its protocols on the main parser."""
    discover = sub.add_parser(
        "discover",
        help="find devices on the wire and write a registry draft (commissioning)",
        description="Walk what answers on the wire within limits you set and write a "
        "registry draft (CSV) to edit and then check with twin check.",
    )
    protocols = discover.add_subparsers(dest="protocol", required=True, metavar="PROTOCOL")
    bacnet = protocols.add_parser(
        "bacnet",
        help="BACnet/IP: Who-Is to host:port for each port, then each device's objects",
        description="Send Who-Is to HOST:PORT for every port of --ports (at most 1024), "
        "read each answering device's object list, names, descriptions and units, and "
        "write one registry row per analog, binary and multi-state object.",
        epilog="Example:\n  twin discover bacnet --host 127.0.0.1 --ports 47808-47850 "
        "--out draft.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bacnet.add_argument("--host", default="127.0.0.1", help="device address (default loopback)")
    bacnet.add_argument(
        "--ports", default="47808", help="PORT or FIRST-LAST (UDP; default %(default)s)"
    )
    bacnet.add_argument("--broadcast", metavar="HOST:PORT", help="also send Who-Is here")
    bacnet.add_argument("--bind", default="127.0.0.1", help="local address of our BACnet socket")
    bacnet.add_argument("--timeout", type=positive_float, default=2.0, help="wait for answers, s")
    bacnet.add_argument("--out", type=Path, help="write the draft here (default: stdout)")
    bacnet.set_defaults(handler=cmd_discover_bacnet)
    from twin.collect.discover_snmp_cli import add_snmp_parser

    add_snmp_parser(protocols)


def cmd_discover_bacnet(args: argparse.Namespace) -> int:
    from twin.collect.discover_bacnet import discover, parse_ports, write_draft

    try:
        ports = parse_ports(args.ports)
    except ValueError as error:
        print(f"twin discover bacnet: --ports: {error}", file=sys.stderr)
        return 2
    rows = asyncio.run(discover(args.host, ports, args.timeout, args.broadcast, args.bind))
    devices = len({r["bacnet_device"] for r in rows})
    if args.out is not None:
        with args.out.open("w", encoding="utf-8") as stream:
            write_draft(rows, stream)
    else:
        write_draft(rows, sys.stdout)
    print(f"found {devices} devices, {len(rows)} objects", file=sys.stderr)
    return 0
