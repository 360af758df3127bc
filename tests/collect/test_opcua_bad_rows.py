"""Bad rows of a hand-written registry for a foreign OPC UA server: each bad alone, named.

The server is FreeOpcUa's (python-opcua), the collector `twin monitor` run headless as
a user would: a wrong node id, a value that is no number, one outside the row's range
and a namespace URI the server does not have each make their own row bad, with one log
line naming the row, the point and the status code, and a ``bad_points`` entry in the
JSON summary; every other row of the server is read.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

opcua = pytest.importorskip("opcua")  # installed by the test extra
URI = "urn:vendor:plant-room"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def vendor() -> object:
    port = _free_port()
    server = opcua.Server()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/vendor/")
    server.register_namespace("urn:someone-else")
    idx = server.register_namespace(URI)
    ahu = server.get_objects_node().add_object(opcua.ua.NodeId("ahu1", idx), "ahu1")
    ahu.add_variable(opcua.ua.NodeId("ahu1.t_supply_c", idx), "t_supply_c", 18.5)
    ahu.add_variable(opcua.ua.NodeId("ahu1.t_return_c", idx), "t_return_c", 29.0)
    ahu.add_variable(opcua.ua.NodeId("ahu1.mode", idx), "mode", "AUTO")  # a string
    ahu.add_variable(opcua.ua.NodeId("ahu1.fan_pct", idx), "fan_pct", 250.0)  # > 100
    server.start()
    try:
        yield f"opc.tcp://127.0.0.1:{port}/vendor/"
    finally:
        server.stop()


ROWS = [
    # point, node id (row lines 2.. of the CSV)
    ("ahu1.t_supply_c", f"nsu={URI};s=ahu1.t_supply_c"),
    ("ahu1.t_wrong_c", f"nsu={URI};s=ahu1.no_such_node"),
    ("ahu1.mode", f"nsu={URI};s=ahu1.mode"),
    ("ahu1.fan_pct", f"nsu={URI};s=ahu1.fan_pct"),
    ("ahu1.t_other_c", "nsu=urn:not-on-this-server;s=ahu1.t_return_c"),
    ("ahu1.t_return_c", f"nsu={URI};s=ahu1.t_return_c"),
]


@pytest.mark.parametrize("mode", ["subscribe", "poll"])
def test_each_bad_row_is_bad_alone_logged_once_and_listed(
    vendor: str, mode: str, tmp_path: Path
) -> None:
    registry = tmp_path / "vendor-opcua.csv"
    lines = ["point,unit,opcua_endpoint,opcua_node_id,range_low,range_high"]
    lines += [f"{name},degC,{vendor},{node},0,100" for name, node in ROWS]
    registry.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "twin.cli", "monitor", str(registry), "--headless"),
            *("--duration", "8", "--interval", "0.5", "--status-every", "2", "--json"),
            *("--no-store", "--opcua-mode", mode),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["points"]["good"] == 2, summary["points"]  # the two good rows, read
    bad = {entry["point"]: entry for entry in summary["bad_points"]}
    assert set(bad) == {"ahu1.t_wrong_c", "ahu1.mode", "ahu1.fan_pct", "ahu1.t_other_c"}
    assert [bad[n]["row"] for n in sorted(bad, key=lambda n: bad[n]["row"])] == [3, 4, 5, 6]
    assert "BadNodeIdUnknown (0x80340000)" in bad["ahu1.t_wrong_c"]["reason"]
    assert "'AUTO'" in bad["ahu1.mode"]["reason"] and "not a number" in bad["ahu1.mode"]["reason"]
    assert "250 outside the row's range [0, 100]" in bad["ahu1.fan_pct"]["reason"]
    assert "urn:not-on-this-server" in bad["ahu1.t_other_c"]["reason"]
    # one log line per bad point, naming its row, point and status or reason
    log = result.stderr
    for name, entry in bad.items():
        said = [line for line in log.splitlines() if f"point {name} " in line]
        assert len(said) == 1, (name, said, log)
        assert f"row {entry['row']}," in said[0]
    assert "Traceback" not in log
    assert "reconnecting" not in log  # one bad row never takes the session down
