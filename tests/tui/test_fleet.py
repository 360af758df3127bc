"""``twin fleet``: every collector on a broker, and which of them died (issue 16 item 3).

The model is fed Sparkplug messages as the broker delivers them; the tmux test runs
three ``twin run`` sites and two ``twin monitor`` shards publishing to one real
mosquitto, shows them all in ``twin fleet`` in a real terminal, SIGKILLs one site
and waits for its row to say offline.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from twin.paths import data_path
from twin.points import sparkplug
from twin.points.sparkplug import BOOLEAN, DOUBLE, UINT64, Metric
from twin.tui.fleet import FleetState

from ..collect.collectsite import Served, served
from ..sinks.sinkservers import MosquittoServer
from .test_tmux_smoke import TWIN, tmux, wait_pane

__all__ = ["served"]  # the fixture

KEEPALIVE_S = 5


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def _birth(bd_seq: int) -> bytes:
    return sparkplug.encode(
        [
            Metric("bdSeq", 1, UINT64, bd_seq),
            Metric("site/pue", 3, DOUBLE, 1.2),
            Metric("site/it_power_kw", 4, DOUBLE, 900.0),
        ],
        0,
        seq=0,
    )


def test_the_model_follows_births_data_and_deaths() -> None:
    clock = Clock()
    fleet = FleetState(clock)
    base = "spBv1.0/site-a/{}/edge-1"
    fleet.apply(base.format("NBIRTH"), _birth(3))
    dbirth = sparkplug.encode(
        [Metric("t_supply_c", 1000, DOUBLE, 30.0, quality=0),
         Metric("pump1_fault", 1001, BOOLEAN, False, quality=0)],
        0, seq=1,
    )  # fmt: skip
    fleet.apply(base.format("DBIRTH") + "/cdu-1", dbirth)
    fleet.apply(base.format("NDATA"), sparkplug.encode([Metric(None, 3, DOUBLE, 1.3)], 0, seq=2))
    fleet.apply(
        base.format("DDATA") + "/cdu-1",
        sparkplug.encode([Metric(None, 1000, DOUBLE, None, quality=1)], 0, seq=3),
    )
    (row,) = fleet.rows()
    assert row["state"] == "online" and row["pue"] == 1.3 and row["it_kw"] == 900.0
    (device,) = fleet.devices("site-a", "edge-1")
    assert (device.points, device.not_good) == (2, 1)
    # A will from an older session (another bdSeq) is not this session's death.
    fleet.apply(
        base.format("NDEATH"), sparkplug.encode([Metric("bdSeq", None, UINT64, 2)], 0, None)
    )
    assert fleet.rows()[0]["state"] == "online"
    clock.now += 7
    fleet.apply(
        base.format("NDEATH"), sparkplug.encode([Metric("bdSeq", None, UINT64, 3)], 0, None)
    )
    assert fleet.rows()[0]["state"] == "offline"
    assert fleet.rows()[0]["since_last_s"] == 7.0


def test_data_from_a_node_born_before_we_listened_asks_for_a_rebirth_now_and_then() -> None:
    clock = Clock()
    fleet = FleetState(clock)
    data = sparkplug.encode([Metric(None, 3, DOUBLE, 1.3)], 0, seq=9)
    fleet.apply("spBv1.0/site-b/NDATA/edge-2", data)
    assert fleet.rows()[0]["state"] == "waiting for birth"
    assert fleet.rebirths_due() == [("site-b", "edge-2")]
    assert fleet.rebirths_due() == []  # not a storm of commands
    clock.now += 11
    assert fleet.rebirths_due() == [("site-b", "edge-2")]
    fleet.apply("spBv1.0/site-b/NBIRTH/edge-2", _birth(0))
    clock.now += 11
    assert fleet.rebirths_due() == []


def test_foreign_payloads_are_counted_not_fatal() -> None:
    fleet = FleetState()
    fleet.apply("spBv1.0/x/NDATA/y", b"\xff\xff\xff not protobuf")
    fleet.apply("other/topic", b"")
    assert fleet.undecodable == 1 and fleet.rows() == []


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[int]:
    server = MosquittoServer(tmp_path / "mosquitto")
    server.start()
    yield server.port
    server.stop()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_fleet_shows_three_sites_and_two_shards_and_a_killed_site_goes_offline(
    served: Served, broker: int, tmp_path: Path
) -> None:
    url = f"mqtt://127.0.0.1:{broker}"
    publish = ["--publish", url, "--publish-keepalive", str(KEEPALIVE_S)]
    # A third site: the plant room under another name (light enough for a 2-core box).
    other = tmp_path / "plant-room-b.toml"
    text = (data_path("configs", "sites") / "plant-room.toml").read_text()
    other.write_text(text.replace('name = "plant-room"', 'name = "plant-room-b"', 1))
    sites = {"plant-room": "plant-room", "legacy-air-2mw": "legacy-air-2mw",
             "plant-room-b": str(other)}  # fmt: skip
    processes: dict[str, subprocess.Popen] = {}
    session = f"twin-fleet-{uuid.uuid4().hex[:8]}"
    try:
        for name, site in sites.items():
            processes[name] = subprocess.Popen(
                [str(TWIN), "run", site, "--headless", "--spool", str(tmp_path / name), *publish],
                stdout=subprocess.DEVNULL, stderr=(tmp_path / f"{name}.log").open("w"),
            )  # fmt: skip
        for shard in ("0/2", "1/2"):
            processes[shard] = subprocess.Popen(
                [str(TWIN), "monitor", str(served.registry_path), "--headless", "--no-store",
                 "--shard", shard, *publish],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        tmux("new-session", "-d", "-s", session, "-x", "150", "-y", "30",
             f"TERM=xterm-256color {TWIN} fleet {url}; sleep 30")  # fmt: skip
        pane = wait_pane(
            session, "plant-room ", "legacy-air-2mw", "plant-room-b", "shard-0-of-2",
            "shard-1-of-2", "5 collectors, 5 online", timeout=180,
        )  # fmt: skip
        assert "aidc-10mw" in pane and "offline" not in pane, pane
        processes["legacy-air-2mw"].send_signal(signal.SIGKILL)
        processes["legacy-air-2mw"].wait(timeout=30)
        killed = time.monotonic()
        pane = wait_pane(session, "5 collectors, 4 online", timeout=4 * KEEPALIVE_S)
        offline_after = time.monotonic() - killed
        row = next(line for line in pane.splitlines() if "legacy-air-2mw" in line)
        assert "offline" in row, pane
        print(f"offline {offline_after:.1f} s after SIGKILL (keepalive {KEEPALIVE_S} s)")
        assert offline_after <= 1.5 * KEEPALIVE_S + 2  # the broker's will, the pane's 1 s refresh
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=30)
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
