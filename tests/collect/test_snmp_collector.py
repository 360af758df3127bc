"""The SNMP collector reads the simulated agents (v2c and v3) with the quality rules.

Values equal the plant's quantities at the same step; a missing OID is bad with
``noSuchObject``/``noSuchInstance``, a wrong syntax is bad with ``type``, an offline
agent's points are bad with ``timeout`` once and it is logged once, then read again
when it answers; the UPS-MIB alarm table (GETBULK) gives on-battery during a
utility loss.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from twin.collect.scheduler import Collector, CollectorOptions
from twin.collect.snmp import SnmpOptions
from twin.devices.faults import DeviceFault
from twin.devices.runner import Options
from twin.devices.snmp_registry import snmp_rows, write_snmp_csv
from twin.plant.scenarios import make_event
from twin.points.registry import parse_registry
from twin.points.snmp import SnmpSecurity, SnmpUser

from ..devices.simthread import SimThread
from .collectsite import until

SECURITY = SnmpSecurity("public", (SnmpUser("twin", "collector-auth", "collector-priv"),))


class Recorder:
    """A receiver keeping the latest value, quality and reason of every row."""

    def __init__(self, n: int) -> None:
        self.values = np.full(n, np.nan)
        self.good = np.zeros(n, bool)
        self.reasons = [""] * n
        self.updates = np.zeros(n, int)

    def update(self, indices, values, good, ts, reason=""):
        self.values[indices] = values
        self.good[indices] = good
        self.updates[indices] += 1
        for i in np.asarray(indices)[~np.asarray(good)]:
            self.reasons[int(i)] = reason

    def hold(self, indices, ts):
        pass


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimThread]:
    options = Options(
        modbus_port=0,
        opcua_port=None,
        snmp_port=0,
        snmp_security=SECURITY,
        state_dir=tmp_path_factory.mktemp("state"),
    )
    with SimThread("aidc-10mw", options) as sim:
        sim.step()
        yield sim


def _registry(agent: SimThread, user: str = "", extra: list[dict[str, str]] | None = None):
    sim = agent.sim
    assert sim.inventory is not None and sim.snmp is not None
    rows = snmp_rows(sim.inventory, "127.0.0.1", sim.snmp.port, user=user)
    text = io.StringIO()
    write_snmp_csv(rows + (extra or []), text)
    return parse_registry(text.getvalue(), Path("snmp.csv"))


async def _collect(registry, recorder: Recorder, polls: int = 2, during=None) -> None:
    options = CollectorOptions(interval_s=0.2, snmp=SnmpOptions(security=SECURITY, timeout=1.0))
    collector = Collector(registry, recorder, options)
    await collector.start()
    try:
        await until(lambda: recorder.updates.min() >= polls, 60.0, "every row read")
        if during is not None:
            await during(collector)
    finally:
        await collector.stop()


def _expected(agent: SimThread, device: str, quantity: str) -> float:
    sim = agent.sim
    assert sim.inventory is not None
    d = sim.inventory.by_name[device]
    return float(sim.last_values[d.equipment][quantity][d.row])


@pytest.mark.parametrize("user", ["", "twin"], ids=["v2c", "v3-authpriv"])
def test_the_collector_reads_our_agents(agent: SimThread, user: str) -> None:
    registry = _registry(agent, user)
    recorder = Recorder(len(registry))
    asyncio.run(_collect(registry, recorder))
    assert recorder.good.all(), [
        (p.name, recorder.reasons[p.index]) for p in registry.points if not recorder.good[p.index]
    ][:5]
    for point in registry.points:
        device, quantity = point.name.rsplit(".", 1)
        got = recorder.values[point.index]
        if quantity in ("output_kw", "input_kw"):  # three lines of whole watts
            assert abs(got - _expected(agent, device, quantity)) <= 3e-3 + 1e-9
        elif quantity == "battery_soc_pct":
            assert abs(got - _expected(agent, device, quantity)) <= 0.5 + 1e-9
        elif quantity == "inlet_kw":
            want = _expected(agent, device, "power_kw") + _expected(agent, device, "loss_kw")
            assert abs(got - want) <= 1e-3
        elif quantity == "output_source":
            assert got == 3.0
        elif quantity == "on_battery":
            assert got == 0.0


def test_missing_objects_and_wrong_types_are_bad_with_a_reason(
    agent: SimThread, caplog: pytest.LogCaptureFixture
) -> None:
    ups = next(d.name for d in agent.sim.snmp.devices if d.equipment == "ups")  # type: ignore[union-attr]
    port = str(agent.sim.snmp.port)  # type: ignore[union-attr]
    base = {"device": ups, "snmp_host": "127.0.0.1", "snmp_port": port,
            "snmp_community": f"public@{ups}"}  # fmt: skip
    extra = [
        {**base, "point": "x.battery_voltage", "snmp_oid": "1.3.6.1.2.1.33.1.2.5.0"},
        {**base, "point": "x.line9", "snmp_oid": "1.3.6.1.2.1.33.1.4.4.1.4.9"},
        {**base, "point": "x.alarms_as_int", "snmp_oid": "1.3.6.1.2.1.33.1.6.1.0"},
    ]
    registry = _registry(agent, extra=extra)
    recorder = Recorder(len(registry))
    with caplog.at_level(logging.WARNING, logger="twin.collect.snmp"):
        asyncio.run(_collect(registry, recorder, polls=3))
    logged = [r.getMessage() for r in caplog.records if "x.battery_voltage" in r.getMessage()]
    assert len(logged) == 1 and "row " in logged[0]  # once, with its line, over three polls
    reason = {p.name: recorder.reasons[p.index] for p in registry.points}
    good = {p.name: recorder.good[p.index] for p in registry.points}
    assert not good["x.battery_voltage"] and reason["x.battery_voltage"].startswith("noSuchObject")
    assert not good["x.line9"] and reason["x.line9"].startswith("noSuchInstance")
    assert not good["x.alarms_as_int"] and reason["x.alarms_as_int"].startswith("type:")
    assert good[f"{ups}.output_kw"]  # its neighbours in the same GET are fine


def test_an_offline_agent_is_bad_with_timeout_logged_once_then_read_again(
    agent: SimThread, caplog: pytest.LogCaptureFixture
) -> None:
    pdu = next(d.name for d in agent.sim.snmp.devices if d.equipment == "pdu")  # type: ignore[union-attr]
    registry = _registry(agent)
    mine = [p for p in registry.points if p.device == pdu]
    recorder = Recorder(len(registry))

    marks: dict[str, int] = {}

    async def outage(collector: Collector) -> None:
        # On a busy machine a read may time out before the outage too (logged as its
        # own outage): judge the records of this outage alone.
        marks["start"] = len(caplog.records)
        agent.run(
            lambda: agent.sim.inject(DeviceFault(device=pdu, kind="offline", duration_s=3600))
        )
        await until(lambda: not recorder.good[mine[0].index], 30.0, "the offline PDU bad")
        assert recorder.reasons[mine[0].index].startswith("timeout")
        others = [p.index for p in registry.points if p.device != pdu]
        before = recorder.updates[others].copy()
        await until(lambda: (recorder.updates[others] > before + 2).all(), 30.0, "others read")
        agent.run(lambda: agent.sim.faults.active.clear())
        await until(lambda: recorder.good[mine[0].index], 30.0, "the PDU back")
        marks["end"] = len(caplog.records)

    with caplog.at_level(logging.DEBUG, logger="twin.collect.snmp"):
        asyncio.run(_collect(registry, recorder, during=outage))
    records = caplog.records[marks["start"] : marks["end"]]
    errors = [r for r in records if r.levelno == logging.ERROR and pdu in r.getMessage()]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert any("answers again" in r.getMessage() for r in records)


def test_the_alarm_table_says_on_battery_during_a_utility_loss(agent: SimThread) -> None:
    registry = _registry(agent)
    ups = next(d.name for d in agent.sim.snmp.devices if d.equipment == "ups")  # type: ignore[union-attr]
    on_battery = registry.by_name[f"{ups}.on_battery"].index
    source = registry.by_name[f"{ups}.output_source"].index
    recorder = Recorder(len(registry))
    plant = agent.sim.plant
    assert plant is not None

    async def outage(collector: Collector) -> None:
        agent.run(lambda: plant.command("event", event=make_event(plant, "utility_loss")))
        agent.step(3)
        # both are read in one poll but may ride in two GET PDUs, answered on either
        # side of the plant's step: wait for the poll that sees the outage in both
        await until(
            lambda: recorder.values[on_battery] == 1.0 and recorder.values[source] == 5.0,
            30.0,
            "on battery (alarm table) and output source battery(5) over SNMP",
        )

    asyncio.run(_collect(registry, recorder, during=outage))
    agent.step(120)  # the generators take over; leave the plant as the other tests expect


def test_a_simulation_process_serves_snmp_and_the_collector_prefers_it() -> None:
    """``SimulationProcess(snmp_port=0)``: one registry with both addressings on the UPS and
    PDU points; a collector told to prefer SNMP reads those over SNMP, the rest over Modbus."""
    from twin.devices.process import SimulationProcess

    sim = SimulationProcess("aidc-10mw", speed=1.0, snmp_port=0)
    text = sim.start()
    try:
        registry = parse_registry(text, Path("served.csv"))
        both = [p for p in registry.points if p.snmp is not None and p.modbus]
        assert any(p.name.endswith(".output_kw") for p in both)
        assert any(p.name.endswith(".output_source") and not p.modbus for p in registry.points)
        recorder = Recorder(len(registry))

        async def collect() -> None:
            collector = Collector(
                registry, recorder, CollectorOptions(interval_s=0.5, prefer="snmp")
            )
            assert collector.snmp_agents and collector.devices
            await collector.start()
            try:
                await until(lambda: recorder.updates.min() >= 1, 120.0, "every row read")
            finally:
                await collector.stop()

        asyncio.run(collect())
        snmp = [p.index for p in registry.points if p.snmp is not None]
        assert recorder.good[snmp].all()
        assert recorder.good.mean() > 0.99
    finally:
        sim.stop()


@pytest.mark.parametrize(
    ("security", "words"),
    [
        (SnmpSecurity("public", (SnmpUser("twin", "not-the-auth-key", "collector-priv"),)),
         "snmp:"),
        (SnmpSecurity("public"), "no credentials for SNMPv3 user 'twin'"),
    ],
    ids=["wrong-key", "no-keys"],
)  # fmt: skip
def test_v3_credentials_the_agent_refuses_make_the_points_bad(
    agent: SimThread, security: SnmpSecurity, words: str
) -> None:
    registry = _registry(agent, user="twin")
    pdu = next(p for p in registry.points if p.equipment == "pdu")
    mine = [p for p in registry.points if p.device == pdu.device]
    sub = parse_registry(
        "point,device,snmp_host,snmp_port,snmp_version,snmp_user,snmp_context,snmp_oid,snmp_type\n"
        + "\n".join(
            f"{p.name},{p.device},127.0.0.1,{p.snmp.port},3,twin,{p.device},"  # type: ignore[union-attr]
            f"{'+'.join('.'.join(map(str, o)) for o in p.snmp.oids)},{p.snmp.type}"  # type: ignore[union-attr]
            for p in mine
        ),
        Path("v3.csv"),
    )
    recorder = Recorder(len(sub))

    async def collect() -> None:
        options = CollectorOptions(interval_s=0.3, snmp=SnmpOptions(security=security, timeout=1.0))
        collector = Collector(sub, recorder, options)
        await collector.start()
        try:
            await until(lambda: recorder.updates.min() >= 1, 30.0, "a verdict on every row")
        finally:
            await collector.stop()

    asyncio.run(collect())
    assert not recorder.good.any()
    assert all(words in reason for reason in recorder.reasons), recorder.reasons[:2]
