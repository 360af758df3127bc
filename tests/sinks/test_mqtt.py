"""``--publish mqtt://``: Sparkplug B on a real mosquitto, read by other stacks.

Issue 16 item 3. ``twin monitor`` publishes aidc-10mw (served on loopback) to a
mosquitto broker (Debian ``mosquitto``); ``mosquitto_sub`` (the C client,
``mosquitto-clients``) records every message, and Debian's ``protoc`` decodes the
payloads with the specification's schema (``tests/peers/sparkplug``): births with
every point's name, alias, type, unit and value; data by exception; the NDEATH
last will with the birth's ``bdSeq`` when the collector is SIGKILLed.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from twin.points import sparkplug
from twin.points.registry import load_registry

from ..collect.collectsite import Served, served
from .sinkservers import MosquittoServer, python_env, wait_for

__all__ = ["served"]  # the fixture

PROTO = Path(__file__).parents[1] / "peers" / "sparkplug" / "sparkplug_b.proto"
KEEPALIVE_S = 5


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    for binary in ("mosquitto_sub", "protoc"):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} not found: scripts/test installs mosquitto-clients and "
                        "protobuf-compiler")  # fmt: skip
    server = MosquittoServer(tmp_path_factory.mktemp("mosquitto"))
    server.start()
    yield server.port
    server.stop()


class Recorder(threading.Thread):
    """``mosquitto_sub`` printing every message as ``topic hex-payload``."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.process = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
             "-t", "spBv1.0/#", "-F", "%t %x"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.messages: list[tuple[float, str, bytes]] = []

    def run(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            topic, _, payload = line.strip().partition(" ")
            try:
                self.messages.append((time.monotonic(), topic, bytes.fromhex(payload)))
            except ValueError:  # not one line per message: kept, so a test can see it
                self.messages.append((time.monotonic(), topic, payload.encode()))

    def of(self, kind: str) -> list[tuple[float, str, bytes]]:
        return [m for m in list(self.messages) if m[1].split("/")[2] == kind]

    def stop(self) -> None:
        # mosquitto_sub ends on SIGTERM only once its loop runs again; on a busy machine
        # it can sit in a write to the pipe for longer than a test waits. It only records.
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def protoc_decode(payload: bytes) -> str:
    result = subprocess.run(
        ["protoc", f"--proto_path={PROTO.parent}", "--decode=org.eclipse.tahu.protobuf.Payload",
         PROTO.name],
        input=payload, capture_output=True, check=True,
    )  # fmt: skip
    return result.stdout.decode()


def test_births_data_by_exception_and_the_last_will(
    served: Served, broker: int, tmp_path: Path
) -> None:
    registry = load_registry(served.registry_path)
    devices = {p.device for p in registry.points}
    recorder = Recorder(broker)
    recorder.start()
    wait_for(lambda: recorder.process.poll() is None, 10, "mosquitto_sub running")
    log = (tmp_path / "monitor.log").open("w")
    monitor = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "monitor", str(served.registry_path), "--headless",
         "--interval", "1", "--no-store", "--publish", f"mqtt://127.0.0.1:{broker}",
         "--publish-keepalive", str(KEEPALIVE_S)],
        env=python_env(), stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    try:
        wait_for(lambda: len(recorder.of("DBIRTH")) >= len(devices), 120, "a DBIRTH per device")
        (_, node_topic, node_birth), *_ = recorder.of("NBIRTH")
        group, edge = node_topic.split("/")[1], node_topic.split("/")[3]
        assert group == "aidc-10mw"
        born = {m[1].split("/")[4] for m in recorder.of("DBIRTH")}
        assert born == devices

        # The node birth, as protoc reads it: bdSeq and the site's metrics, named.
        text = protoc_decode(node_birth)
        assert 'name: "bdSeq"' in text and 'name: "site/pue"' in text
        birth = sparkplug.decode(node_birth)
        bd_seq = next(m["value"] for m in birth["metrics"] if m["name"] == "bdSeq")
        assert birth["seq"] == 0

        # A device birth: every point of the device, with alias, type, unit, quality.
        device = "hall-1-cdu1"
        payload = next(p for _, t, p in recorder.of("DBIRTH") if t.endswith("/" + device))
        text = protoc_decode(payload)
        ours = sparkplug.decode(payload)
        points = [p for p in registry.points if p.device == device]
        assert len(ours["metrics"]) == len(points)
        for point, metric in zip(points, ours["metrics"], strict=True):
            assert metric["name"] == point.name[len(device) + 1 :]
            assert f'name: "{metric["name"]}"' in text
            assert metric["alias"] == 1000 + point.index
            assert metric["datatype"] in (sparkplug.DOUBLE, sparkplug.BOOLEAN)
            if point.unit:
                assert metric["properties"]["engUnit"] == point.unit
            assert metric["properties"]["Quality"] == 192  # good
        supply = next(m for m in ours["metrics"] if m["name"] == "t_supply_c")
        served_value = re.search(r'name: "t_supply_c".*?double_value: ([-0-9.e+]+)', text, re.S)
        assert served_value and float(served_value.group(1)) == pytest.approx(supply["value"])

        # By exception: the plant holds still, so hardly any data; a step moves values.
        quiet_from = time.monotonic()
        wait_for(lambda: time.monotonic() - quiet_from > 4, 30, "a quiet while")
        quiet = [m for m in recorder.of("DDATA") if m[0] > quiet_from]
        served.sim.step()
        moved_from = time.monotonic()
        wait_for(
            lambda: len([m for m in recorder.of("DDATA") if m[0] > moved_from]) > 20,
            60,
            "data after the plant stepped",
        )
        assert len(quiet) < 20, f"{len(quiet)} DDATA while nothing changed"
        data = sparkplug.decode(recorder.of("DDATA")[-1][2])
        assert all(m["name"] is None and m["alias"] >= 1000 for m in data["metrics"])

        # SIGKILL: the broker publishes the last will, NDEATH with the birth's bdSeq.
        monitor.send_signal(signal.SIGKILL)
        monitor.wait(timeout=30)
        killed = time.monotonic()
        wait_for(lambda: recorder.of("NDEATH"), 4 * KEEPALIVE_S, "the NDEATH last will")
        (at, topic, death), *_ = recorder.of("NDEATH")
        assert topic == f"spBv1.0/{group}/NDEATH/{edge}"
        print(f"NDEATH {at - killed:.1f} s after SIGKILL (keepalive {KEEPALIVE_S} s)")
        assert at - killed <= 1.5 * KEEPALIVE_S + 2  # the broker's rule, plus its timer tick
        metrics = sparkplug.decode(death)["metrics"]
        assert metrics[0]["name"] == "bdSeq" and metrics[0]["value"] == bd_seq
    finally:
        if monitor.poll() is None:
            monitor.kill()
            monitor.wait()
        recorder.stop()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--publish", "http://127.0.0.1:1883"], "expected mqtt://HOST"),
        (["--publish", "mqtt://user:secret@127.0.0.1"], "no credentials in the URL"),
        (["--publish", "mqtt://127.0.0.1:notaport"], "notaport"),
        (["--publish", "mqtt://127.0.0.1", "--publish-credentials", "/nonexistent"], "cannot read"),
        (["--publish-ca", "/etc/hostname"], "without --publish"),
        (["--publish", "mqtt://127.0.0.1", "--publish-keepalive", "1"], "5..3600"),
    ],
)
def test_bad_publish_options_are_one_message_and_exit_2(
    served: Served, args: list[str], said: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "monitor", str(served.registry_path), "--headless",
         "--no-store", "--duration", "1", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr.replace("user:secret", "")  # not echoed elsewhere


def test_a_broker_restart_is_followed_by_a_new_birth(served: Served, tmp_path: Path) -> None:
    """A second broker on its own port, restarted under the collector: rebirth, bdSeq + 1."""
    broker = MosquittoServer(tmp_path / "broker")
    broker.start()
    port = broker.port
    monitor = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "monitor", str(served.registry_path), "--headless",
         "--interval", "1", "--no-store", "--publish", f"mqtt://127.0.0.1:{port}"],
        env=python_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    recorder = None
    try:
        recorder = Recorder(port)
        recorder.start()
        wait_for(lambda: recorder.of("DDATA") or recorder.of("NDATA") or recorder.of("NBIRTH"),
                 120, "the collector publishing")  # fmt: skip
        recorder.stop()
        broker.stop()
        broker.start()
        recorder = Recorder(port)
        recorder.start()
        wait_for(lambda: recorder.of("NBIRTH"), 60, "a new NBIRTH after the restart")
        birth = sparkplug.decode(recorder.of("NBIRTH")[0][2])
        assert birth["seq"] == 0
        bd_seq = next(m["value"] for m in birth["metrics"] if m["name"] == "bdSeq")
        assert bd_seq >= 1  # a new session: the old one's death certificate is not reused
        assert monitor.poll() is None  # monitoring went on through the outage
    finally:
        monitor.kill()
        monitor.wait()
        if recorder is not None:
            recorder.stop()
        broker.stop()
