"""Our collector reads a recording of a real UPS served by snmpsim; snmpget agrees.

The recording is ``snmpsim-data``'s Eaton 93E 80 kVA (``UPS/eaton-93e-80``), served
by snmpsim's own command responder as community ``eaton-93e-80``. The registry is
written by hand, as an integrator writes one from the UPS-MIB: nothing of it comes
from our simulator. Every value the collector stores equals what net-snmp's
``snmpget`` reads from the same agent, times the row's scale.
"""

from __future__ import annotations

import asyncio
import bz2
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from twin.collect.scheduler import Collector, CollectorOptions
from twin.collect.snmp import SnmpOptions
from twin.points.registry import parse_registry
from twin.points.snmp import load_security

from ..sinks.sinkservers import free_port
from .collectsite import until
from .test_snmp_collector import Recorder

snmpsim_data = pytest.importorskip("snmpsim_data", reason="needs snmpsim-data (test extra)")
RESPONDER = Path(sys.executable).parent / "snmpsim-command-responder"
pytestmark = pytest.mark.skipif(
    shutil.which("snmpget") is None or not RESPONDER.exists(), reason="needs snmpsim and net-snmp"
)

RECORDING = Path(snmpsim_data.__file__).parent / "data" / "UPS" / "eaton-93e-80.snmprec.bz2"

#: point, unit, OID, type, scale, range
REGISTRY = """\
# Eaton 93E 80 kVA read over UPS-MIB (RFC 1628), hand-written from the MIB
point,device,equipment,unit,range_low,range_high,snmp_host,snmp_port,snmp_community,snmp_oid,snmp_type,snmp_scale
ups.battery_status,ups,ups,,1,4,127.0.0.1,{port},eaton-93e-80,1.3.6.1.2.1.33.1.2.1.0,integer,1
ups.minutes_remaining,ups,ups,min,,,127.0.0.1,{port},eaton-93e-80,1.3.6.1.2.1.33.1.2.3.0,integer,1
ups.battery_soc_pct,ups,ups,pct,0,100,127.0.0.1,{port},eaton-93e-80,1.3.6.1.2.1.33.1.2.4.0,integer,1
ups.battery_v,ups,ups,V,,,127.0.0.1,{port},eaton-93e-80,1.3.6.1.2.1.33.1.2.5.0,integer,0.1
ups.t_battery_c,ups,ups,degC,,,127.0.0.1,{port},eaton-93e-80,1.3.6.1.2.1.33.1.2.7.0,integer,1
ups.output_source,ups,ups,,,,127.0.0.1,{port},eaton-93e-80,1.3.6.1.2.1.33.1.4.1.0,integer,1
ups.output_hz,ups,ups,Hz,,,127.0.0.1,{port},eaton-93e-80,1.3.6.1.2.1.33.1.4.2.0,integer,0.1
ups.output_kw,ups,ups,kW,,,127.0.0.1,{port},eaton-93e-80,1.3.6.1.2.1.33.1.4.4.1.4.1+1.3.6.1.2.1.33.1.4.4.1.4.2+1.3.6.1.2.1.33.1.4.4.1.4.3,integer,0.001
ups.load_l1_pct,ups,ups,pct,,,127.0.0.1,{port},eaton-93e-80,1.3.6.1.2.1.33.1.4.4.1.5.1,integer,1
ups.alarms_present,ups,ups,,,,127.0.0.1,{port},eaton-93e-80,1.3.6.1.2.1.33.1.6.1.0,gauge32,1
ups.on_battery,ups,ups,,,,127.0.0.1,{port},eaton-93e-80,1.3.6.1.2.1.33.1.6.3.2,ups-alarm,1
"""


@pytest.fixture(scope="module")
def snmpsim() -> Iterator[int]:
    # snmpsim refuses to run as root and drops to nobody: its data and cache must be
    # readable (and the cache writable) by that user, outside pytest's private tmp
    data = Path(tempfile.mkdtemp(prefix="twin-snmpsim-"))
    data.chmod(0o755)
    recording = data / "eaton-93e-80.snmprec"
    recording.write_bytes(bz2.decompress(RECORDING.read_bytes()))
    recording.chmod(0o644)
    cache = data / "cache"
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    port = free_port()
    log = data / "snmpsim.log"
    drop = ["--process-user=nobody", "--process-group=nogroup"] if os.geteuid() == 0 else []
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*_responder(), f"--data-dir={data}", f"--agent-udpv4-endpoint=127.0.0.1:{port}",
             f"--cache-dir={cache}", "--logging-method=stderr", *drop],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while _snmpget(port, "1.3.6.1.2.1.33.1.1.1.0") is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"snmpsim did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(data, ignore_errors=True)


def _responder() -> list[str]:
    """snmpsim's command responder, with what it imports lazily imported up front.

    Once it has dropped to nobody it may no longer read the interpreter's own files
    (a Python installed under /root), and its index needs ``dbm``.
    """
    code = (
        "import sys, dbm, dbm.dumb, encodings.idna, encodings.latin_1, encodings.ascii; "
        "from snmpsim.commands.responder import main; sys.exit(main())"
    )
    return [sys.executable, "-c", code]


def _snmpget(port: int, oid: str) -> str | None:
    """The value net-snmp reads (``-Oqv``: the value alone, numbers bare), None if no reply."""
    done = subprocess.run(
        ["snmpget", "-v2c", "-c", "eaton-93e-80", "-r", "0", "-t", "1", "-Oqv", "-Oe", "-On",
         f"127.0.0.1:{port}", oid],
        capture_output=True, text=True, timeout=20, check=False,
        env=dict(os.environ, MIBS=""),
    )  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def test_the_collector_reads_snmpsim_as_snmpget_does(snmpsim: int) -> None:
    registry = parse_registry(REGISTRY.format(port=snmpsim), Path("eaton-93e.csv"))
    recorder = Recorder(len(registry))

    async def collect() -> None:
        options = CollectorOptions(interval_s=0.3, snmp=SnmpOptions(timeout=2.0))
        collector = Collector(registry, recorder, options)
        await collector.start()
        try:
            await until(lambda: recorder.updates.min() >= 2, 60.0, "every row read")
        finally:
            await collector.stop()

    asyncio.run(collect())
    assert recorder.good.all(), [
        (p.name, recorder.reasons[p.index]) for p in registry.points if not recorder.good[p.index]
    ]
    for point in registry.points:
        assert point.snmp is not None
        got = recorder.values[point.index]
        if point.snmp.type == "ups-alarm":
            alarms = subprocess.run(
                ["snmpwalk", "-v2c", "-c", "eaton-93e-80", "-On", "-Oqv",
                 f"127.0.0.1:{snmpsim}", "1.3.6.1.2.1.33.1.6.2.1.2"],
                capture_output=True, text=True, timeout=20, check=False,
                env=dict(os.environ, MIBS=""),
            ).stdout  # fmt: skip
            assert got == (1.0 if ".1.3.6.1.2.1.33.1.6.3.2" in alarms.split() else 0.0)
            continue
        raw = [_snmpget(snmpsim, ".".join(map(str, oid))) for oid in point.snmp.oids]
        assert None not in raw, point.name
        want = sum(float(r) for r in raw) * point.snmp.scale  # type: ignore[arg-type]
        assert got == pytest.approx(want, rel=1e-12), point.name
    output = registry.by_name["ups.output_kw"].index
    assert recorder.values[output] == pytest.approx(5.1 + 3.6 + 2.7)  # the recording's watts


def test_discover_drafts_a_registry_the_collector_reads(snmpsim: int, tmp_path: Path) -> None:
    """``twin discover snmp`` on the recorded Eaton: the draft loads and reads all good."""
    draft = tmp_path / "eaton-draft.csv"
    credentials = tmp_path / "snmp.toml"
    credentials.write_text('community = "eaton-93e-80"\n')
    done = subprocess.run(
        [sys.executable, "-m", "twin.cli", "discover", "snmp", "127.0.0.1", "--port",
         str(snmpsim), "--credentials", str(credentials), "--device", "eaton", "--out", str(draft)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    registry = parse_registry(draft.read_text(), draft)
    names = {p.name for p in registry.points}
    assert {"eaton.battery_soc_pct", "eaton.output_kw", "eaton.on_battery"} <= names
    assert "eaton.output_v_l3" in names and "eaton.input_hz_l1" in names
    recorder = Recorder(len(registry))

    async def collect() -> None:
        options = CollectorOptions(
            interval_s=0.3,
            snmp=SnmpOptions(timeout=2.0, security=load_security(credentials)),
        )
        collector = Collector(registry, recorder, options)
        await collector.start()
        try:
            await until(lambda: recorder.updates.min() >= 1, 60.0, "every drafted row read")
        finally:
            await collector.stop()

    asyncio.run(collect())
    assert recorder.good.all()
    assert recorder.values[registry.by_name["eaton.output_kw"].index] == pytest.approx(11.4)
    assert recorder.values[registry.by_name["eaton.battery_soc_pct"].index] == 100.0


def test_twin_monitor_reads_the_recorded_ups(snmpsim: int, tmp_path: Path) -> None:
    """``twin monitor`` on the hand-written registry: every point good, no comms loss."""
    import json

    registry = tmp_path / "eaton.csv"
    registry.write_text(REGISTRY.format(port=snmpsim))
    done = subprocess.run(
        [sys.executable, "-m", "twin.cli", "monitor", str(registry), "--headless",
         "--duration", "4", "--json", "--interval", "0.5"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    assert summary["points"]["good"] == len(parse_registry(registry.read_text(), registry))
    assert summary["bad_points"] == []
    assert summary["comms_lost"] == {"devices": [], "gateways": []}
    assert "over SNMP" in done.stderr
