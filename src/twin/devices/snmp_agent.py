"""Simulated SNMP agents (pysnmp 7): every UPS and PDU of a site on one UDP endpoint.

**One endpoint, one context per device**, as ``snmpsim`` serves many recorded
devices from one port (selected by community for v1/v2c, by context name for v3)
and as this simulator's Modbus gateways serve many unit ids from one TCP port.
A site of hundreds of PDUs then needs one port, not hundreds, and a collector
addresses a device by (host, port, context) as it addresses a Modbus device by
(host, port, unit id):

- **v2c**: community ``<community>@<device>``, the community-string indexing
  convention of Cisco agents and net-snmp's ``com2sec``/context mapping, which
  ``snmpget``, ``snmp_exporter`` and NUT all accept as an opaque community;
- **v3** (USM authPriv, HMAC-SHA-96 and AES-128-CFB): user and keys from
  :class:`SnmpSecurity`, context name ``<device>`` (``snmpget -n <device>``).

Each device's context answers from its own :class:`DeviceMib`: a sorted table of
(OID, value) built from :data:`twin.devices.snmp_mibs.MIBS` when the plant's values
change, bisected for GETNEXT/GETBULK. Device faults act per request: ``offline``
devices are silent (the request is dropped), ``exception`` answers ``genErr``,
``bad_quality`` answers ``noSuchInstance`` outside the ``system`` group.

A datagram that does not decode is dropped by pysnmp's message dispatcher (counted
in ``snmpInASNParseErrs``); the agent keeps answering (tests/devices/test_snmp_agent.py
sends a bounded run of malformed packets).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.error import PySnmpError
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.smi import error as smi_error
from pysnmp.smi.instrum import AbstractMibInstrumController

from twin.devices.faults import Faults
from twin.devices.modbus_guard import RateLimitedLog
from twin.devices.snmp_mibs import HISTORY, MIBS, SYSTEM, DeviceState, Oid
from twin.devices.snmp_protocol import BulkResponder, GuardedUdp
from twin.points.snmp import SnmpSecurity

log = logging.getLogger(__name__)

SYS_UPTIME = (*SYSTEM, 3, 0)
#: security models of the VACM group entries (RFC 3411: 2 = SNMPv2c, 3 = USM)
V2C, USM = 2, 3


@dataclass(frozen=True)
class SnmpDevice:
    """One device an agent serves: its name (the context), type and plant row."""

    name: str
    equipment: str
    area: str
    row: int
    rating_kwh: float = 0.0
    rated_w: float = 0.0


class DeviceMib(AbstractMibInstrumController):
    """The MIB view of one device: what GET, GETNEXT and GETBULK in its context read."""

    def __init__(self, agent: SnmpAgent, device: SnmpDevice) -> None:
        self.agent = agent
        self.device = device
        self.state = DeviceState(
            device.name, device.equipment, device.area, device.rating_kwh, device.rated_w
        )
        self._build = MIBS[device.equipment]
        self._key: int | None = None
        self._oids: list[Oid] = []
        self._values: list = []

    def refresh(self) -> None:
        self._table()

    def _table(self) -> tuple[list[Oid], list]:
        values = self.agent.values(self.device.equipment)
        if self._key != id(values):  # a new plant step: rebuild this device's table
            row = {k: float(np.asarray(a)[self.device.row]) for k, a in values.items()}
            ticks = self.agent.uptime_ticks()
            objects = self._build(row, self.state, self.agent.plant_time(), ticks)
            objects.sort(key=lambda item: item[0])
            self._oids = [oid for oid, _ in objects]
            self._values = [value for _, value in objects]
            self._key = id(values)
        return self._oids, self._values

    def _fault_check(self) -> bool:
        """Raise for a silent or failing device; True when its values are bad."""
        faults, name = self.agent.faults, self.device.name
        if faults.has(name, "offline"):
            raise PySnmpError(f"{name} is offline")  # pysnmp drops the request: no reply
        if faults.has(name, "exception"):
            raise smi_error.GenError()
        return faults.has(name, "bad_quality")

    def _value(self, oid: Oid, value: object, bad: bool) -> object:
        if oid == SYS_UPTIME:
            return rfc1902.TimeTicks(self.agent.uptime_ticks() % 2**32)
        if bad and oid[: len(SYSTEM)] != SYSTEM:
            return rfc1905.noSuchInstance
        return value

    def read_variables(self, *var_binds, **ctx):
        bad = self._fault_check()
        oids, values = self._table()
        out = []
        for name, _ in var_binds:
            oid = tuple(name)
            at = bisect.bisect_left(oids, oid)
            if at < len(oids) and oids[at] == oid:
                out.append((name, self._value(oid, values[at], bad)))
            elif at < len(oids) and oids[at][: len(oid)] == oid:
                out.append((name, rfc1905.noSuchInstance))  # an object, not an instance
            elif self._is_object(oids, oid):
                out.append((name, rfc1905.noSuchInstance))
            else:
                out.append((name, rfc1905.noSuchObject))
        return out

    @staticmethod
    def _is_object(oids: list[Oid], oid: Oid) -> bool:
        """Whether ``oid`` is an instance of an object this device has (a missing row)."""
        parent = oid[:-1]
        at = bisect.bisect_left(oids, parent)
        return at < len(oids) and oids[at][: len(parent)] == parent and len(parent) > 8

    def read_next_variables(self, *var_binds, **ctx):
        bad = self._fault_check()
        oids, values = self._table()
        out = []
        for name, _ in var_binds:
            oid = tuple(name)
            at = bisect.bisect_right(oids, oid)
            if at < len(oids):
                found = oids[at]
                out.append((rfc1902.ObjectName(found), self._value(found, values[at], bad)))
            else:
                out.append((name, rfc1905.endOfMibView))
        return out

    def write_variables(self, *var_binds, **ctx):
        raise smi_error.NotWritableError(name=var_binds[0][0] if var_binds else (), idx=0)


class SnmpAgent:
    """One UDP endpoint answering SNMP for a set of devices (``start()``, ``stop()``).

    Parameters
    ----------
    devices : list of SnmpDevice
        The devices served, each in a context of its name.
    values : callable
        ``values(equipment)`` → the quantities of every device of that type (the
        dict the Modbus image was filled from; a new dict each plant step).
    plant_time : callable
        Plant time [s], for seconds on battery.
    security : SnmpSecurity
        v2c community and v3 users.
    """

    def __init__(
        self,
        devices: list[SnmpDevice],
        values: Callable[[str], dict[str, np.ndarray]],
        plant_time: Callable[[], float],
        security: SnmpSecurity,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 1161,
    ) -> None:
        self.devices = devices
        self.values = values
        self.plant_time = plant_time
        self.security = security
        self.faults = faults or Faults()
        self.host = host
        self.port = port
        self.engine: engine.SnmpEngine | None = None
        self.mibs: dict[str, DeviceMib] = {}
        self._started = time.monotonic()
        self._socket: socket.socket | None = None
        self.problems = RateLimitedLog()
        self._sweeper: asyncio.Task | None = None

    def uptime_ticks(self) -> int:
        """sysUpTime: hundredths of a second since the agent started."""
        return int((time.monotonic() - self._started) * 100)

    @property
    def endpoint(self) -> str:
        return f"udp:{self.host}:{self.port}"

    async def start(self) -> None:
        snmp = engine.SnmpEngine()
        self.engine = snmp
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        transport = GuardedUdp()
        transport.problems = self.problems
        transport.where = f"SNMP agent {self.host}:{self.port}"
        config.add_transport(snmp, udp.DOMAIN_NAME, transport.open_server_mode(sock=sock))
        snmp_context = context.SnmpContext(snmp)
        for device in self.devices:
            mib = DeviceMib(self, device)
            self.mibs[device.name] = mib
            snmp_context.register_context_name(device.name, mib)
            config.add_context(snmp, device.name)
        self._configure_security(snmp)
        for responder in (
            cmdrsp.GetCommandResponder,
            cmdrsp.NextCommandResponder,
            BulkResponder,
            cmdrsp.SetCommandResponder,
        ):
            responder(snmp, snmp_context)
        self._started = time.monotonic()
        self._sweeper = asyncio.create_task(self._sweep(), name="snmp agent sweep")

    def _configure_security(self, snmp: engine.SnmpEngine) -> None:
        view = (1, 3, 6, 1)
        security = self.security
        if security.community:
            for device in self.devices:
                community = f"{security.community}@{device.name}"
                config.add_v1_system(
                    snmp,
                    f"c-{len(device.name)}-{abs(hash(device.name))}",
                    community,
                    contextName=device.name,
                    securityName="twin-v2c",
                )
            self._grant(snmp, V2C, "twin-v2c", "noAuthNoPriv", view)
        for user in security.users:
            config.add_v3_user(
                snmp,
                user.name,
                config.USM_AUTH_HMAC96_SHA,
                user.auth_key,
                config.USM_PRIV_CFB128_AES,
                user.priv_key,
            )
            self._grant(snmp, USM, user.name, "authPriv", view)

    @staticmethod
    def _grant(snmp: engine.SnmpEngine, model: int, name: str, level: str, view: Oid) -> None:
        """Read access for ``name`` to ``view`` in every context (prefix match on "")."""
        group = f"g-{model}-{name}"
        config.add_vacm_group(snmp, group, model, name)
        config.add_vacm_access(snmp, group, b"", model, level, "prefix", f"r-{group}", "", "")
        config.add_vacm_view(snmp, f"r-{group}", "included", view, b"")

    def observe(self, equipment: str) -> None:
        """Bring the devices of one type up to the plant's latest values (every step).

        Tables of the types with a history (a UPS: when it went on battery, when an
        alarm was raised) are rebuilt here rather than at the next request, so the
        history is dated by the plant's step, not by when somebody asked; the others
        (760 PDUs on aidc-100mw: ~0.1 s a step) are built when first read.
        """
        if equipment not in HISTORY:  # nothing to date: built when first asked
            return
        for mib in self.mibs.values():
            if mib.device.equipment == equipment:
                mib.refresh()

    def endpoint_row(self) -> dict[str, str]:
        """This agent's row of ``twin sim``'s endpoint table."""
        counts: dict[str, int] = {}
        for device in self.devices:
            counts[device.equipment] = counts.get(device.equipment, 0) + 1
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        versions = "v2c" + (" v3" if self.security.users else "")
        return {
            "protocol": "snmp",
            "endpoint": f"{self.host}:{self.port}",
            "area": "all",
            "devices": f"{kinds or 'none'} ({versions}; community <c>@<device>, context <device>)",
        }

    async def _sweep(self) -> None:
        """Write the counts of rate-limited problems whose window closed."""
        while True:
            await asyncio.sleep(5.0)
            self.problems.sweep()

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        self.problems.flush()
        if self.engine is not None:
            dispatcher = self.engine.transport_dispatcher
            if dispatcher is not None:
                dispatcher.close_dispatcher()
            self.engine = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def agent_for(sim: object, port: int, security: object | None = None) -> SnmpAgent:
    """The SNMP agent of a :class:`~twin.devices.runner.Simulation` (after its setup)."""
    inventory = sim.inventory  # type: ignore[attr-defined]
    return SnmpAgent(
        devices_of(inventory),
        lambda equipment: sim.last_values[equipment],  # type: ignore[attr-defined]
        lambda: float(sim.plant.t_s),  # type: ignore[attr-defined]
        security if isinstance(security, SnmpSecurity) else SnmpSecurity(),
        faults=sim.faults,  # type: ignore[attr-defined]
        host=sim.options.host,  # type: ignore[attr-defined]
        port=port,
    )


def devices_of(inventory: object) -> list[SnmpDevice]:
    """The devices of an inventory that speak SNMP (UPSs and PDUs), in device order."""
    out = []
    for device in inventory.devices:  # type: ignore[attr-defined]
        binding = inventory.bindings[device.equipment]  # type: ignore[attr-defined]
        kind = inventory.profiles[device.equipment].equipment_class  # type: ignore[attr-defined]
        if kind not in MIBS or binding.equipment != kind:
            continue
        rating = binding.ratings.get("battery_soc_pct")
        rated = getattr(binding, "rated_w", None)
        out.append(
            SnmpDevice(
                device.name,
                kind,
                device.area,
                device.row,
                rating_kwh=0.0 if rating is None else float(rating[device.row]),
                rated_w=0.0 if rated is None else _finite(float(rated[device.row])),
            )
        )
    return out


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0
