"""What SCHEMA.md says of the stored data holds in an influxd that ``twin run`` fills
(tests/export/conftest.py: aidc-10mw, real processes, loopback), here with the
``devices/comms-faults`` scenario, which takes ``hall-1-cdu2`` offline 30 s in.

- Every query in SCHEMA.md (each line of its ``sql`` blocks; a query anywhere else in
  the file is a failure) runs and returns series, and every field and tag its example
  lines name is one the store holds (issue 18 item 13).
- Each site metric carries its own quality (issue 11 item 5): the good headline PUE
  is found by ``quality = 0`` while the 24 h PUE, with minutes of data, is not good.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sinks.sinkservers import wait_for

from .conftest import Stack, running_stack

SCHEMA = Path(__file__).resolve().parents[2] / "src" / "twin" / "sinks" / "SCHEMA.md"
BLOCK = re.compile(r"^```sql\n(.*?)^```", re.S | re.M)
QUERY_WORDS = re.compile(r"\b(SELECT|SHOW)\s")  # InfluxQL keywords as written


def schema_queries(text: str) -> list[str]:
    """Every statement of the ``sql`` blocks, one a line (``--`` lines are comments).

    Raises AssertionError if a query appears outside those blocks: it would not be
    run, so it could name a field that does not exist.
    """
    queries = []
    for block in BLOCK.findall(text):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith("--"):
                queries.append(line)
    outside = BLOCK.sub("", text)
    stray = [line for line in outside.splitlines() if QUERY_WORDS.search(line)]
    assert not stray, f"{SCHEMA}: queries outside a ```sql block (not tested): {stray}"
    return queries


def schema_lines(text: str) -> list[tuple[str, set[str], set[str]]]:
    """(measurement, tag keys, field keys) of every example line of line protocol."""
    out = []
    for line in text.splitlines():
        if "<" in line or not re.match(r"^[a-z][\w-]*,\S+ \S+=\S+ \d+$", line):
            continue
        series, fields, _ = line.split(" ")
        measurement, *tags = series.split(",")
        tag_keys = {t.split("=")[0] for t in tags}
        out.append((measurement, tag_keys, {f.split("=")[0] for f in fields.split(",")}))
    return out


@pytest.fixture(scope="module")
def faulted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("schema")
    with running_stack(root, ["--scenario", "devices/comms-faults"]) as running:
        yield running


def _rows(influx, statement: str) -> list[dict]:  # type: ignore[no-untyped-def]
    rows = []
    for result in influx.query(statement, auth=None, database=influx.database):
        for series in result.get("series", []):
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                row.update(series.get("tags") or {})
                rows.append(row)
    return rows


def _has_series(influx, statement: str) -> bool:  # type: ignore[no-untyped-def]
    results = influx.query(statement, auth=None, database=influx.database)
    return any(result.get("series") for result in results)


def test_the_extractor_finds_queries_and_refuses_stray_ones() -> None:
    text = "a\n```sql\n-- what\nSELECT a FROM b\n\nSHOW MEASUREMENTS\n```\nb\n"
    assert schema_queries(text) == ["SELECT a FROM b", "SHOW MEASUREMENTS"]
    with pytest.raises(AssertionError, match="outside"):
        schema_queries(text + "Try `SELECT power_it_kw FROM site`.\n")


def test_every_query_in_schema_md_returns_series(faulted: Stack) -> None:
    queries = schema_queries(SCHEMA.read_text())
    assert len(queries) >= 8
    influx = faulted.influx

    def empty() -> list[str]:
        return [q for q in queries if not _has_series(influx, q)]

    # Batches reach InfluxDB a second apart, the PUE is good once 10 s of the minute
    # is covered, the offline CDU is stale 3 s after it goes silent 30 s in: wait for
    # every query, then name the empty ones.
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: not empty(), 300, "every SCHEMA.md query to return series", 1.0)
    assert empty() == []
    # The outage query finds the offline CDU's stale records: a quality, no value.
    stale = _rows(influx, "SELECT * FROM cdu WHERE device = 'hall-1-cdu2' AND quality > 0")
    assert stale and all(row["t_supply_c"] is None for row in stale)


def test_every_example_line_names_stored_fields_and_tags(faulted: Stack) -> None:
    lines = schema_lines(SCHEMA.read_text())
    assert {m for m, _, _ in lines} >= {"cdu", "site"}
    influx = faulted.influx

    def keys(statement: str) -> set[str]:
        return {row.get("fieldKey") or row.get("tagKey") for row in _rows(influx, statement)}

    for measurement, tags, fields in lines:
        stored = wait_for(
            lambda m=measurement: keys(f'SHOW FIELD KEYS FROM "{m}"'), 120, measurement
        )
        assert fields <= stored, (measurement, fields - stored)
        stored_tags = keys(f'SHOW TAG KEYS FROM "{measurement}"')
        assert tags <= stored_tags, (measurement, tags - stored_tags)


def test_good_site_metrics_are_found_by_quality_0_each_on_its_own(faulted: Stack) -> None:
    influx = faulted.influx
    good = wait_for(
        lambda: _rows(influx, "SELECT pue FROM site WHERE quality = 0"),
        180,
        "a good PUE in InfluxDB",
        interval=1.0,
    )
    assert all(1.0 <= row["pue"] < 2.0 for row in good), good[:3]
    for field in ("it_power_kw", "facility_power_kw"):
        rows = _rows(influx, f"SELECT {field} FROM site WHERE quality = 0")
        assert rows and all(row[field] > 0 for row in rows), field
    # The 24 h window is minutes old: stored as not good, with no value, and that does
    # not make the other metrics bad.
    bad = _rows(influx, "SELECT quality, pue_24h FROM site WHERE metric = 'pue_24h'")
    assert bad and all(row["quality"] > 0 and row["pue_24h"] is None for row in bad)
    assert not _rows(influx, "SELECT pue_24h FROM site WHERE quality = 0")
