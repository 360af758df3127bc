"""``twin fleet URL``: the flags (declared here, registered by :mod:`twin.cli`) and the command."""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
from pathlib import Path

from twin.argtypes import mqtt_url, positive_float, read_credentials

EXAMPLES = """\
Examples:
  twin fleet mqtt://broker.example:1883
  twin fleet mqtts://broker.example --ca ca.pem --credentials ~/.config/twin/mqtt
  twin fleet mqtt://127.0.0.1 --json --duration 10       (one JSON table, for scripts)

Every twin run or twin monitor started with --publish mqtt://... on the same broker is
a row: site, collector, online/offline (its death certificate), PUE, IT and facility
power, active alarms, devices lost, devices, time since its last data. Enter opens a
collector's devices; Esc goes back."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "fleet",
        help="every site and collector publishing to an MQTT broker, on one screen",
        description="Subscribe to a broker's Sparkplug B traffic (what twin run and twin "
        "monitor send with --publish) and show every collector of every site.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", type=mqtt_url, help="mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
    parser.add_argument("--credentials", type=Path, help="file of two lines: user, password")
    parser.add_argument("--ca", type=Path, help="CA certificate (mqtts)")
    parser.add_argument("--json", action="store_true", help="print one JSON table and exit")
    parser.add_argument(
        "--duration", type=positive_float, default=5.0,
        help="with --json: seconds to listen first (default %(default)s)",
    )  # fmt: skip
    parser.set_defaults(handler=cmd_fleet)


def cmd_fleet(args: argparse.Namespace) -> int:
    import ssl

    from twin.tui.fleet import FleetApp, FleetState, Subscription, fleet_json

    parsed = urllib.parse.urlsplit(args.url)
    tls = parsed.scheme == "mqtts"
    client: dict = {"identifier": None, "keepalive": 10, "timeout": 10}
    if tls:
        if args.ca is not None and not args.ca.is_file():
            print(f"twin fleet: error: --ca: no file {args.ca}", file=sys.stderr)
            return 2
        client["tls_context"] = ssl.create_default_context(cafile=str(args.ca) if args.ca else None)
    if args.credentials is not None:
        try:
            client["username"], client["password"] = read_credentials(
                args.credentials, "--credentials"
            )
        except ValueError as error:
            print(f"twin fleet: error: {error}", file=sys.stderr)
            return 2
    fleet = FleetState()
    subscription = Subscription(
        fleet, parsed.hostname or "", parsed.port or (8883 if tls else 1883), **client
    )
    subscription.start()
    try:
        if args.json:
            deadline = time.monotonic() + args.duration
            while time.monotonic() < deadline:
                time.sleep(0.1)
            table = fleet_json(fleet)
            table["connected"] = subscription.connected
            table["error"] = subscription.error
            json.dump(table, sys.stdout)
            sys.stdout.write("\n")
            return 0 if subscription.connected or fleet.messages else 1
        FleetApp(fleet, args.url, subscription).run()
        return 0
    finally:
        subscription.stop()
