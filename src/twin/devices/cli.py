"""``twin sim`` and ``twin points``: the devices' command-line handlers.

:mod:`twin.cli` only declares the flags (:func:`add_parsers`) and dispatches here.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from twin.argtypes import port_number, positive_float
from twin.config import read_toml, validate
from twin.devices.faults import DeviceFault, check_faults
from twin.devices.modbus_guard import EXTRA_MASTERS, GatewayLimits

DEFAULT_MODBUS_PORT = 5020
DEFAULT_OPCUA_PORT = 4840


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Declare ``sim`` and ``points`` on the main parser."""
    sim = sub.add_parser(
        "sim",
        help="run a site's plant headless behind simulated Modbus TCP and OPC UA devices",
        description="Step a site's plant in real time (or faster) and serve every device over "
        "Modbus TCP (one gateway per area, a unit id per device) and OPC UA. Prints the "
        "endpoint table, then serves until --duration or Ctrl-C.",
        epilog="Examples:\n  twin sim aidc-10mw\n  twin sim aidc-10mw --speed 10 --duration 600\n"
        "  twin sim aidc-10mw --scenario utility-loss --modbus-port 0 --no-opcua",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("site", help="site name or TOML path")
    sim.add_argument(
        "--speed", type=positive_float, default=1.0, help="plant seconds per wall second"
    )
    sim.add_argument(
        "--duration", type=positive_float, help="plant seconds to run (default: forever)"
    )
    sim.add_argument("--step", type=positive_float, default=1.0, help="plant step in seconds")
    sim.add_argument(
        "--scenario",
        help="scenario (sim/scenarios name or TOML path): plant [[events]] and [[device_faults]]",
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    sim.add_argument(
        "--modbus-port",
        type=port_number,
        default=DEFAULT_MODBUS_PORT,
        help="first gateway's port, the others follow (0: any free ports)",
    )
    sim.add_argument(
        "--opcua-port", type=port_number, default=DEFAULT_OPCUA_PORT, help="OPC UA port"
    )
    sim.add_argument(
        "--modbus-idle-timeout",
        type=positive_float,
        default=GatewayLimits().idle_timeout_s,
        metavar="S",
        help="close a Modbus connection that sent no request for S seconds (default: %(default)g)",
    )
    sim.add_argument(
        "--modbus-max-connections",
        type=_connection_count,
        metavar="N",
        help=f"connections per gateway; over it the one idle longest is closed (default: one "
        f"per unit id + {EXTRA_MASTERS})",
    )
    sim.add_argument(
        "--bacnet-port",
        type=port_number,
        metavar="BASE",
        help="also serve the cooling plant (chillers, CRAHs, towers, dry coolers, CDUs, pumps) "
        "as BACnet/IP devices, one UDP port each from BASE (47808 is BACnet's own; 0: any free "
        "ports); default: no BACnet",
    )
    sim.add_argument("--no-opcua", action="store_true", help="serve Modbus TCP only")
    sim.add_argument(
        "--snmp-port",
        type=port_number,
        metavar="N",
        help="also serve every UPS (UPS-MIB) and PDU (Raritan PDU2-MIB) as SNMP agents on "
        "UDP port N, one context per device (0: a free port; default: no SNMP)",
    )
    sim.add_argument(
        "--snmp-credentials",
        type=Path,
        metavar="FILE",
        help="TOML with the v2c community and v3 users (auth_key, priv_key); default: "
        "TWIN_SNMP_COMMUNITY / TWIN_SNMP_USER / TWIN_SNMP_AUTH_KEY / TWIN_SNMP_PRIV_KEY, "
        "else v2c community 'public' only",
    )
    sim.add_argument(
        "--opcua-security",
        type=Path,
        help="TOML with OPC UA security (policies, users, roles); default: no security",
    )
    sim.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".twin-state"),
        help="where generated certificates and keys are kept (never commit it)",
    )

    points = sub.add_parser(
        "points",
        help="print a site's point registry as CSV (Modbus addressing and OPC UA node ids)",
        description="One row per point: name, device, unit, Modbus host/port/unit id, register "
        "type, 0-based address, data type, word order, scale, status bit, OPC UA node id and "
        "endpoint, writable and limits. The collector reads the same format for real gear. "
        "Give the ports twin sim serves on.",
    )
    points.add_argument("site", help="site name or TOML path")
    points.add_argument("--host", default="127.0.0.1", help="Modbus and OPC UA host to print")
    points.add_argument(
        "--modbus-port", type=port_number, default=DEFAULT_MODBUS_PORT, help="first gateway's port"
    )
    points.add_argument(
        "--opcua-port",
        type=port_number,
        default=DEFAULT_OPCUA_PORT,
        help="OPC UA port, printed in the opcua_endpoint column (default: %(default)s; "
        "0: unknown, column left empty)",
    )
    points.add_argument(
        "--bacnet-port",
        type=port_number,
        metavar="BASE",
        help="fill the bacnet_* columns of the cooling plant's devices as twin sim "
        "--bacnet-port BASE serves them (default: no BACnet columns)",
    )
    points.add_argument(
        "--no-opcua",
        action="store_true",
        help="leave opcua_endpoint empty (as for twin sim --no-opcua): rows read over Modbus",
    )


def _connection_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def load_sim_scenario(name: str) -> tuple[object, list[DeviceFault], Path]:
    """A scenario file: the plant's events plus optional ``[[device_faults]]``."""
    from pydantic import BaseModel

    from twin.plant.scenarios import Scenario, scenario_path

    path = scenario_path(name)
    data, text = read_toml(path)
    raw_faults = data.pop("device_faults", [])

    class _Faults(BaseModel):
        device_faults: list[DeviceFault]

    faults = validate(path, text, {"device_faults": raw_faults}, _Faults).device_faults
    scenario = validate(path, text, data, Scenario)
    return scenario, faults, path


def cmd_points(args: argparse.Namespace) -> int:
    from twin.devices.inventory import build
    from twin.devices.registry import opcua_endpoint, rows, write_csv
    from twin.plant.layout import assemble
    from twin.site import load_site

    inventory = build(assemble(load_site(args.site)))
    base = args.modbus_port
    ports = [base + i if base else 0 for i in range(len(inventory.gateways))]
    # the endpoint goes in every row: a node id alone names no server, and a collector
    # told --prefer opcua would have nothing to connect to (issue 18 item 8)
    known = args.opcua_port and not args.no_opcua  # 0: twin sim picked one; print none
    endpoint = opcua_endpoint(args.host, args.opcua_port) if known else ""
    bacnet = None
    if args.bacnet_port:  # 0: twin sim picks free ports, which no one knows here
        from twin.devices.bacnet_layout import plan

        bacnet = plan(inventory, args.host, args.bacnet_port)
    try:
        write_csv(rows(inventory, args.host, ports, endpoint, bacnet), sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # `twin points SITE | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from twin.devices.runner import Options, Simulation
    from twin.plant.scenarios import attach
    from twin.site import load_site

    site = load_site(args.site)
    security = None
    if args.opcua_security:
        from twin.devices.opcua_security import load_security

        security = load_security(args.opcua_security)
    snmp_security = None
    if args.snmp_port is not None:
        from twin.points.snmp import load_security

        snmp_security = load_security(args.snmp_credentials)
    options = Options(
        host=args.host,
        modbus_port=args.modbus_port,
        snmp_port=args.snmp_port,
        snmp_security=snmp_security,
        opcua_port=None if args.no_opcua else args.opcua_port,
        step_s=args.step,
        speed=args.speed,
        state_dir=args.state_dir,
        opcua_security=security,
        bacnet_port=args.bacnet_port,
        modbus_limits=GatewayLimits(
            idle_timeout_s=args.modbus_idle_timeout, max_connections=args.modbus_max_connections
        ),
    )
    scenario = load_sim_scenario(args.scenario) if args.scenario else None
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    simulation = Simulation(site, options)
    simulation.setup()
    assert simulation.plant is not None and simulation.inventory is not None
    if scenario is not None:
        plan, faults, path = scenario
        attach(simulation.plant, plan, path)  # type: ignore[arg-type]
        check_faults(faults, simulation.inventory, path)
        simulation.faults.schedule(faults, simulation.plant.t_s)
    return asyncio.run(_serve(simulation, args.duration))


async def _serve(simulation: object, duration: float | None) -> int:
    from twin.devices.runner import Simulation

    assert isinstance(simulation, Simulation)
    try:
        await simulation.start()
    except OSError as error:
        print(f"twin sim: cannot listen: {error}", file=sys.stderr)
        return 1
    table = simulation.endpoints()
    print(f"{'protocol':<11} {'endpoint':<40} {'area':<16} devices")
    for row in table:
        print(f"{row['protocol']:<11} {row['endpoint']:<40} {row['area']:<16} {row['devices']}")
    print(
        f"site {simulation.site.name}: {len(simulation.inventory.devices)} devices, "  # type: ignore[union-attr]
        f"step {simulation.options.step_s:g} s at {simulation.options.speed:g}x; "
        "point map: twin points SITE",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(simulation.run(duration))
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
    runner.cancel()
    waiter.cancel()
    await asyncio.gather(runner, waiter, return_exceptions=True)
    await simulation.stop()
    print("stopped", flush=True)
    return 0
