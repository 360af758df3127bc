"""``twin discover snmp``'s command line, without importing pysnmp until it runs.

:mod:`twin.cli` builds every command's parser at start-up (``twin run`` must draw
at once): the walk itself is :mod:`twin.collect.discover_snmp`.
"""

from __future__ import annotations

import argparse


def add_snmp_parser(protocols: argparse._SubParsersAction) -> None:
    """Declare ``snmp`` under ``twin discover`` (its handler set on the parser)."""
    from pathlib import Path

    from twin.argtypes import port_number, positive_float

    snmp = protocols.add_parser(
        "snmp",
        help="walk an SNMP agent's system group, UPS-MIB and Raritan PDU2-MIB",
        description="GETBULK walks of SNMPv2-MIB system, UPS-MIB (RFC 1628) and PDU2-MIB inlet "
        "sensors; one registry row per recognised object. Community and v3 keys come from "
        "--credentials or TWIN_SNMP_* (never the command line).",
    )
    snmp.add_argument("host", help="agent address")
    snmp.add_argument("--port", type=port_number, default=161, help="UDP port (default 161)")
    snmp.add_argument("--version", choices=["2c", "3"], default="2c")
    snmp.add_argument("--user", help="SNMPv3 user (keys from --credentials or TWIN_SNMP_*)")
    snmp.add_argument("--context", help="SNMPv3 context (twin sim: the device name)")
    snmp.add_argument(
        "--index", help="v2c community-string index: reads <community>@INDEX (twin sim: a device)"
    )
    snmp.add_argument("--credentials", type=Path, help="TOML: community, [[users]]")
    snmp.add_argument("--device", help="device name for the rows (default: sysName)")
    snmp.add_argument("--timeout", type=positive_float, default=2.0, help="per request [s]")
    snmp.add_argument("--out", type=Path, help="write the draft here (default: stdout)")
    snmp.set_defaults(handler=_handler)


def _handler(args: argparse.Namespace) -> int:
    from twin.collect.discover_snmp import cmd_discover_snmp

    return cmd_discover_snmp(args)
