"""Real database servers for the sink tests, on free loopback ports, in temp dirs.

- :class:`InfluxServer`: Debian's ``influxd`` (InfluxDB 1.x; v1 ``/write``, InfluxQL).
- :class:`VictoriaServer`: Debian's ``victoria-metrics`` (the v2 write API
  ``/api/v2/write``; read back through ``/api/v1/export``).

Both can be stopped and started again on the same port and data directory (the
outage test does that). Everything waits on conditions with generous deadlines: the
test machine is small and shared.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

START_DEADLINE = 60.0
STOP_DEADLINE = 60.0


def free_port() -> int:
    """A TCP port nobody listens on right now (on 127.0.0.1)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(
    condition: Callable[[], object], deadline: float, what: str, interval: float = 0.1
) -> object:
    """Poll ``condition`` until it returns something truthy or ``deadline`` [s] passes."""
    end = time.monotonic() + deadline
    last_error: Exception | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # the server may not be up yet
            last_error = error
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {deadline:.0f} s waiting for {what}: {last_error}")
        time.sleep(interval)


def http(
    method: str,
    url: str,
    *,
    data: bytes | None = None,
    params: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, bytes]:
    """A plain HTTP request: (status, body), whatever the status."""
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, data=data, method=method)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class _Process:
    """A server process with a log file, stoppable and restartable."""

    name = "server"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_path = root / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        """Start and wait until it answers."""
        assert self.process is None, "already running"
        log = open(self.log_path, "ab")  # noqa: SIM115 (owned by the child)
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.root
        )
        log.close()

        def up() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            return self.ready()

        wait_for(up, START_DEADLINE, f"{self.name} to start")

    def stop(self) -> None:
        """SIGTERM (a clean shutdown, like a service stop), SIGKILL if it hangs."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class InfluxServer(_Process):
    """InfluxDB 1.x (Debian ``influxdb``), with authentication on unless ``auth=False``.

    An admin user (``admin``), a read-only user (``reader``) and the database
    ``twin`` are created at first start.
    """

    name = "influxd"
    admin = ("admin", "admin-secret")
    reader = ("reader", "reader-secret")
    database = "twin"

    def __init__(self, root: Path, auth: bool = True) -> None:
        super().__init__(root)
        self.auth = auth
        self.port = free_port()
        self.rpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = root / "influxdb.conf"
        self.config.write_text(
            f"""
reporting-enabled = false
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{root / "meta"}"
[data]
  dir = "{root / "data"}"
  wal-dir = "{root / "wal"}"
  query-log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = {"true" if auth else "false"}
  log-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
"""
        )
        self._initialised = False

    def command(self) -> list[str]:
        return ["influxd", "-config", str(self.config)]

    def ready(self) -> bool:
        status, _ = http("GET", f"{self.url}/ping", timeout=2)
        return status == 204

    def start(self) -> None:
        super().start()
        if not self._initialised and not self.auth:
            self.query(f'CREATE DATABASE "{self.database}"', auth=None)
            self._initialised = True
        if not self._initialised:
            # With auth on, the first statement may create the admin user unauthenticated.
            self.query(
                f"CREATE USER {self.admin[0]} WITH PASSWORD '{self.admin[1]}' WITH ALL PRIVILEGES",
                auth=None,
            )
            self.query(f'CREATE DATABASE "{self.database}"')
            self.query(f"CREATE USER {self.reader[0]} WITH PASSWORD '{self.reader[1]}'")
            self.query(f'GRANT READ ON "{self.database}" TO {self.reader[0]}')
            self._initialised = True

    def query(
        self,
        statement: str,
        *,
        auth: tuple[str, str] | None = admin,
        database: str | None = None,
    ) -> list[dict]:
        """Run InfluxQL; return the list of ``results`` (chunks merged per statement)."""
        params = {"q": statement, "epoch": "ns", "chunked": "true", "chunk_size": "20000"}
        if database:
            params["db"] = database
        status, body = http("POST", f"{self.url}/query", params=params, auth=auth)
        if status != 200:
            raise RuntimeError(f"InfluxQL {statement!r}: HTTP {status} {body[:300]!r}")
        results = []
        for chunk in body.decode().splitlines():
            if not chunk.strip():
                continue
            for result in json.loads(chunk).get("results", []):
                if "error" in result:
                    raise RuntimeError(f"InfluxQL {statement!r}: {result['error']}")
                results.append(result)
        return results

    def rows(self, measurement: str) -> list[dict]:
        """Every point of ``measurement`` as a dict (time, tags, fields), time-ordered."""
        rows = []
        for result in self.query(f'SELECT * FROM "{measurement}"', database=self.database):
            for series in result.get("series", []):
                columns = series["columns"]
                rows.extend(dict(zip(columns, values, strict=True)) for values in series["values"])
        return rows

    def field_types(self, measurement: str) -> dict[str, str]:
        """``SHOW FIELD KEYS``: field name to InfluxDB type."""
        types = {}
        for result in self.query(f'SHOW FIELD KEYS FROM "{measurement}"', database=self.database):
            for series in result.get("series", []):
                types.update({name: kind for name, kind in series["values"]})
        return types


class VictoriaServer(_Process):
    """VictoriaMetrics single node (Debian ``victoria-metrics``).

    ``auth`` turns on HTTP Basic auth (``-httpAuth.*``) to get real 401s.
    """

    name = "victoria-metrics"

    def __init__(self, root: Path, auth: tuple[str, str] | None = None) -> None:
        super().__init__(root)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth = auth

    def command(self) -> list[str]:
        command = [
            "victoria-metrics",
            f"-storageDataPath={self.root / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-loggerLevel=ERROR",
            "-retentionPeriod=1y",
            "-memory.allowedPercent=10",
        ]
        if self.auth:
            command += [f"-httpAuth.username={self.auth[0]}", f"-httpAuth.password={self.auth[1]}"]
        return command

    def ready(self) -> bool:
        status, _ = http("GET", f"{self.url}/health", auth=self.auth, timeout=2)
        return status == 200

    def export(self, match: str) -> list[dict]:
        """``/api/v1/export`` for a series selector, after a forced flush.

        Returns one dict per series: ``metric`` (labels), ``values``, ``timestamps`` [ms].
        """
        http("GET", f"{self.url}/internal/force_flush", auth=self.auth)
        status, body = http(
            "POST",
            f"{self.url}/api/v1/export",
            data=urllib.parse.urlencode({"match[]": match}).encode(),
            auth=self.auth,
        )
        if status != 200:
            raise RuntimeError(f"export {match}: HTTP {status} {body[:300]!r}")
        return [json.loads(line) for line in body.decode().splitlines() if line.strip()]

    def export_count(self, match: str) -> int:
        return sum(len(series["values"]) for series in self.export(match))


def have(binary: str) -> bool:
    return shutil.which(binary) is not None


def python_env() -> dict[str, str]:
    """Environment for child Python processes: same interpreter, unbuffered."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class MosquittoServer(_Process):
    """An MQTT broker (Debian ``mosquitto``), anonymous, no persistence, on a free port.

    Restartable on the same port (``stop()`` then ``start()``): a broker restart.
    """

    name = "mosquitto"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        (root / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )

    def command(self) -> list[str]:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        return [binary, "-c", str(self.root / "mosquitto.conf")]

    def ready(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0
