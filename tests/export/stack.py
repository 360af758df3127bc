"""A real Prometheus (Debian ``prometheus``) and a ``twin run`` that both it and an
influxd read, on free loopback ports in temp dirs.

:class:`PrometheusServer` scrapes one target every second; :class:`TwinRun` runs
``twin run --headless --metrics ... --influx-v1 ...`` until stopped (SIGTERM, the
clean stop a service manager sends).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.sinks.sinkservers import _Process, free_port, http, python_env, wait_for


class PrometheusServer(_Process):
    """Prometheus 2.x scraping ``target`` (``host:port``) every second."""

    name = "prometheus"

    def __init__(self, root: Path, target: str) -> None:
        super().__init__(root)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = root / "prometheus.yml"
        self.config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: twin\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )

    def command(self) -> list[str]:
        return [
            "prometheus",
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.root / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]

    def ready(self) -> bool:
        status, _ = http("GET", f"{self.url}/-/ready", timeout=2)
        return status == 200

    def api(self, path: str, **params: str) -> dict:
        """GET ``/api/v1/<path>``; the ``data`` of a success, RuntimeError otherwise."""
        status, body = http("GET", f"{self.url}/api/v1/{path}", params=params)
        reply = json.loads(body or b"{}")
        if status != 200 or reply.get("status") != "success":
            raise RuntimeError(f"{path} {params}: HTTP {status} {body[:300]!r}")
        return reply["data"]

    def query(self, promql: str, **params: str) -> list[dict]:
        """An instant query's result (a list of series)."""
        return self.api("query", query=promql, **params)["result"]

    def target_health(self) -> str:
        targets = self.api("targets")["activeTargets"]
        return targets[0]["health"] if targets else "none"


class TwinRun:
    """``twin run SITE --headless --metrics 127.0.0.1:PORT`` (plus ``extra``), in the background."""

    def __init__(self, root: Path, site: str, extra: list[str], env: dict | None = None) -> None:
        self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.err = root / "twin-run.err"
        self.out = root / "twin-run.out"
        command = [
            sys.executable, "-m", "twin.cli", "run", site, "--headless", "--json",
            "--duration", "3600", "--status-every", "5",
            "--metrics", f"127.0.0.1:{self.metrics_port}",
            "--spool", str(root / "spool"), *extra,
        ]  # fmt: skip
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=err, env={**python_env(), **(env or {})}
            )

    def scrape(self) -> str:
        """The exporter's page now, as Prometheus asks for it (OpenMetrics)."""
        request_accept = "application/openmetrics-text; version=1.0.0"
        import urllib.request

        request = urllib.request.Request(self.metrics_url, headers={"Accept": request_accept})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.headers["Content-Type"].startswith("application/openmetrics-text")
            return response.read().decode()

    def wait_serving(self, deadline: float = 300.0) -> None:
        def serving() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"twin run exited: {self.err.read_text()[-3000:]}")
            return "twin_pue{" in self.scrape()

        wait_for(serving, deadline, "twin run to serve its PUE on /metrics", interval=1.0)

    def stop(self) -> dict:
        """SIGTERM, wait, and return the JSON summary."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(300)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        text = self.out.read_text()
        assert self.process.returncode == 0, self.err.read_text()[-3000:]
        return json.loads(text) if text.strip() else {}


def sample_value(page: str, name: str, labels: dict[str, str]) -> float | None:
    """The value of the sample ``name`` with (at least) ``labels`` on an exposition page."""
    for line in page.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return None


def selector(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"
