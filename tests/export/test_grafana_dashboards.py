"""Every query of the Grafana dashboards in grafana/dashboards/ returns series:
InfluxQL against the influxd that ``twin run`` fills, PromQL against the Prometheus
that scrapes it (tests/export/conftest.py); Flux is parsed by libflux's own parser
(no Flux-capable server installs here: Debian's influxdb is 1.6)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from pathlib import Path

import pytest

from tests.peers.flux import parse_errors
from tests.sinks.sinkservers import wait_for

from .conftest import SITE

ROOT = Path(__file__).resolve().parents[2] / "grafana"


def _queries(folder: str, key: str) -> list[tuple[str, str, str]]:
    out = []
    for path in sorted((ROOT / "dashboards" / folder).glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            out += [(path.name, panel["title"], target[key]) for target in panel["targets"]]
    assert out, folder
    return out


def _variables(folder: str) -> list[str]:
    paths = sorted((ROOT / "dashboards" / folder).glob("*.json"))
    return [v["query"] for p in paths for v in json.loads(p.read_text())["templating"]["list"]]


def test_the_json_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.dashboards()
    on_disk = {str(p.relative_to(ROOT / "dashboards")) for p in ROOT.glob("dashboards/*/*.json")}
    assert on_disk == set(built)
    for name, dashboard in built.items():
        assert json.loads((ROOT / "dashboards" / name).read_text()) == dashboard, name
    for folder in ("influxdb", "influxdb-flux", "prometheus"):
        titles = {json.loads(p.read_text())["title"] for p in ROOT.glob(f"dashboards/{folder}/*")}
        assert len(titles) == 5  # site overview, power chain, cooling, racks, comms health


def _influxql(query: str) -> str:
    return (
        query.replace("$timeFilter", "time > now() - 1h")
        .replace("$__interval", "10s")
        .replace("$site", SITE)
    )


def _has_series(influx, statement: str) -> bool:
    results = influx.query(statement, auth=None, database=influx.database)
    return any(result.get("series") for result in results)


def test_every_influxql_query_returns_series(stack) -> None:
    influx = stack.influx
    for variable in _variables("influxdb"):
        wait_for(lambda v=variable: _has_series(influx, v), 300, variable, interval=1.0)
    queries = _queries("influxdb", "query")

    def empty() -> list:
        return [q for q in queries if not _has_series(influx, _influxql(q[2]))]

    # The spool reaches InfluxDB in batches, and the headline PUE is stored once it is
    # good (10 s of a minute covered): wait for every query, then name the empty ones.
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: not empty(), 300, "every InfluxQL query to return series", 1.0)
    assert not empty()


def test_every_promql_query_returns_series(stack) -> None:
    prometheus = stack.prometheus
    assert SITE in prometheus.api("label/site/values", **{"match[]": "twin_pue"})
    queries = [(n, t, q.replace("$site", SITE)) for n, t, q in _queries("prometheus", "expr")]

    def empty() -> list:
        return [q for q in queries if not prometheus.query(q[2])]

    # rate() and increase() need a few scrapes in their window.
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: not empty(), 120, "every PromQL query to return series", 1.0)
    assert not empty()


@pytest.mark.parametrize("folder", ["influxdb-flux"])
def test_every_flux_query_parses(folder: str) -> None:
    queries = [q for _, _, q in _queries(folder, "query")] + _variables(folder)
    errors = parse_errors(queries)
    assert errors == [[] for _ in queries], [
        (q, e) for q, e in zip(queries, errors, strict=True) if e
    ]
    # the checker can fail: a broken query is reported
    assert parse_errors(['from(bucket: "twin") |> range(start: )']) != [[]]
