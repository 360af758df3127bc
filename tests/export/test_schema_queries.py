"""What SCHEMA.md says of the stored data holds in an influxd that ``twin run`` fills
(tests/export/conftest.py: aidc-10mw, real processes, loopback).

- Each site metric carries its own quality (issue 11 item 5): the good headline PUE
  is found by ``quality = 0`` while the 24 h PUE, with minutes of data, is not good.
"""

from __future__ import annotations

from tests.sinks.sinkservers import wait_for


def _rows(influx, statement: str) -> list[dict]:  # type: ignore[no-untyped-def]
    rows = []
    for result in influx.query(statement, auth=None, database=influx.database):
        for series in result.get("series", []):
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                row.update(series.get("tags") or {})
                rows.append(row)
    return rows


def test_good_site_metrics_are_found_by_quality_0_each_on_its_own(stack) -> None:
    influx = stack.influx
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
