#!/usr/bin/env python3
"""Writes the Grafana dashboards of grafana/dashboards/ from the panel list below.

    python3 grafana/generate.py

One list of panels, three query languages side by side: InfluxQL and Flux for the
InfluxDB the sinks write (measurement = equipment, tags site/hall/device, one field
per point, the ``site`` measurement for PUE & co., see src/twin/sinks/SCHEMA.md) and
PromQL for ``--metrics`` (src/twin/live/prometheus.py). tests/export checks every
query: InfluxQL and PromQL against real servers filled by ``twin run``, Flux with
libflux's parser. Edit here, run, commit the JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent
SITE_RE = "/^$site$/"


def iql(measurement: str, fields: list[str], agg: str = "mean", by: str = "") -> str:
    """An InfluxQL time series of ``fields`` of ``measurement`` for the chosen site."""
    select = ", ".join(f'{agg}("{f}") AS "{f}"' for f in fields)
    group = f', "{by}"' if by else ""
    return (
        f'SELECT {select} FROM "{measurement}" WHERE "site" =~ {SITE_RE} AND $timeFilter '
        f"GROUP BY time($__interval){group} fill(null)"
    )


def flux(measurement: str, fields: list[str], agg: str = "mean", by: str = "") -> str:
    """The same series in Flux (Grafana's v.* variables; bucket ``twin``)."""
    names = " or ".join(f'r._field == "{f}"' for f in fields)
    group = f'\n  |> group(columns: ["_field", "{by}"])' if by else ""
    return (
        'from(bucket: "twin")\n  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n'
        f'  |> filter(fn: (r) => r._measurement == "{measurement}" and r.site == "${{site}}")\n'
        f"  |> filter(fn: (r) => {names}){group}\n"
        f"  |> aggregateWindow(every: v.windowPeriod, fn: {agg}, createEmpty: false)"
    )


def both(measurement: str, fields: list[str], agg: str = "mean", by: str = "") -> dict:
    return {
        "influxql": iql(measurement, fields, agg, by),
        "flux": flux(measurement, fields, agg, by),
    }


def point(equipment: str, name: str) -> str:
    return f'twin_point_value{{site=~"$site",equipment="{equipment}",point="{name}"}}'


# (title, unit, {"influxql", "flux", "promql"}) per dashboard
DASHBOARDS: dict[str, tuple[str, list[tuple[str, str, dict]]]] = {
    "site-overview": ("twin · site overview", [
        ("PUE (energy windows)", "none", {
            **both("site", ["pue", "pue_15min", "pue_1h", "pue_24h"]),
            "promql": ['twin_pue{site=~"$site"}']}),
        ("IT vs facility power", "kwatt", {
            **both("site", ["it_power_kw", "facility_power_kw"]),
            "promql": ['twin_it_power_kw{site=~"$site"}',
                       'twin_facility_power_kw{site=~"$site"}']}),
        ("pPUE, WUE, CUE", "none", {
            **both("site", ["ppue_cooling", "ppue_power", "wue_l_per_kwh", "cue_kg_per_kwh"]),
            "promql": ['twin_ppue{site=~"$site"}', 'twin_wue_l_per_kwh{site=~"$site"}',
                       'twin_cue_kg_per_kwh{site=~"$site"}']}),
        ("Cooling mode (chiller economiser, 1 = free cooling)", "none", {
            **both("chiller", ["status_economiser_mode", "status_running"], "max", "device"),
            "promql": [point("chiller", "status_economiser_mode")]}),
        ("Alarms (Prometheus: annunciated by priority; InfluxDB: worst quality per equipment)",
         "none", {
            "influxql": 'SELECT max("quality") FROM /.*/ WHERE "site" =~ /^$site$/ AND '
                        "$timeFilter GROUP BY time($__interval) fill(null)",
            "flux": 'from(bucket: "twin")\n  |> range(start: v.timeRangeStart, stop: '
                    'v.timeRangeStop)\n  |> filter(fn: (r) => r.site == "${site}" and '
                    'r._field == "quality")\n  |> group(columns: ["_measurement"])\n'
                    "  |> aggregateWindow(every: v.windowPeriod, fn: max, createEmpty: false)",
            "promql": ['sum by (priority) (twin_alarms{site=~"$site",'
                       'state=~"unacked|acked|rtn_unacked"})']}),
    ]),
    "power-chain": ("twin · power chain", [
        ("UPS / HVDC output", "kwatt", {
            **both("hvdc", ["output_kw"], by="device"),
            "promql": ['twin_system_load_kw{site=~"$site"}']}),
        ("UPS / HVDC load", "percent", {
            **both("ups", ["load_pct"], by="device"),
            "promql": ['twin_point_value{site=~"$site",equipment=~"ups|hvdc",point="load_pct"}']}),
        ("Headroom", "kwatt", {
            "influxql": 'SELECT 100 - mean("load_pct") AS "headroom_pct" FROM "hvdc" WHERE '
                        '"site" =~ /^$site$/ AND $timeFilter GROUP BY time($__interval), '
                        '"device" fill(null)',
            "flux": flux("hvdc", ["load_pct"], by="device")
            + '\n  |> map(fn: (r) => ({r with _value: 100.0 - r._value}))',
            "promql": ['twin_system_headroom_kw{site=~"$site"}']}),
        ("Battery state of charge / runtime", "none", {
            **both("battery", ["soc_pct"], "min", "device"),
            "promql": ['twin_battery_runtime_min{site=~"$site"}']}),
        ("Transformers and generators", "kwatt", {
            **both("transformer", ["load_kw"], by="device"),
            "promql": [point("transformer", "load_kw"), point("generator", "power_kw")]}),
    ]),
    "cooling": ("twin · cooling", [
        ("CDU supply and return", "celsius", {
            **both("cdu", ["t_supply_c", "t_return_c"], by="device"),
            "promql": [point("cdu", "t_supply_c"), point("cdu", "t_return_c")]}),
        ("CDU supply minus setpoint", "celsius", {
            "influxql": 'SELECT mean("t_supply_c") - mean("t_supply_set_c") AS "deviation" '
                        'FROM "cdu" WHERE "site" =~ /^$site$/ AND $timeFilter GROUP BY '
                        'time($__interval), "device" fill(null)',
            "flux": flux("cdu", ["t_supply_c", "t_supply_set_c"], by="device")
            + '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
            + '\n  |> map(fn: (r) => ({_time: r._time, device: r.device, '
            + "_value: r.t_supply_c - r.t_supply_set_c}))",
            "promql": [point("cdu", "t_supply_c") + " - ignoring(point) "
                       + point("cdu", "t_supply_set_c")]}),
        ("Tower approach (water out minus wet bulb)", "celsius", {
            "influxql": 'SELECT mean("t_water_out_c") - mean("t_wet_bulb_c") AS "approach" '
                        'FROM "tower" WHERE "site" =~ /^$site$/ AND $timeFilter GROUP BY '
                        'time($__interval), "device" fill(null)',
            "flux": flux("tower", ["t_water_out_c", "t_wet_bulb_c"], by="device")
            + '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
            + '\n  |> map(fn: (r) => ({_time: r._time, device: r.device, '
            + "_value: r.t_water_out_c - r.t_wet_bulb_c}))",
            "promql": [point("tower", "t_water_out_c") + " - ignoring(point) "
                       + point("tower", "t_wet_bulb_c")]}),
        ("Chiller water and power", "celsius", {
            **both("chiller", ["t_chw_supply_c", "t_chw_return_c", "power_kw"], by="device"),
            "promql": [point("chiller", "t_chw_supply_c"), point("chiller", "power_kw")]}),
        ("CDU heat (Prometheus: headroom too, for CDUs the registry rates)", "kwatt", {
            **both("cdu", ["heat_kw"], by="device"),
            "promql": ['twin_cdu_heat_kw{site=~"$site"}']}),
    ]),
    "racks": ("twin · racks", [
        ("Hottest cold plate per hall", "celsius", {
            **both("gpu-rack", ["t_cold_plate_c"], "max", "hall"),
            "promql": ['max by (hall) (' + point("gpu-rack", "t_cold_plate_c") + ")"]}),
        ("Rack inlet air per hall (max)", "celsius", {
            **both("rack", ["t_inlet_c"], "max", "hall"),
            "promql": ['max by (hall) (twin_point_value{site=~"$site",'
                       'equipment=~"rack|gpu-rack",point="t_inlet_c"})']}),
        ("IT power per hall", "kwatt", {
            **both("gpu-rack", ["power_kw"], "sum", "hall"),
            "promql": ['sum by (hall) (twin_point_value{site=~"$site",'
                       'equipment=~"rack|gpu-rack",point="power_kw"})']}),
        ("Ten hottest GPU racks", "celsius", {
            "influxql": 'SELECT top("t_cold_plate_c", "device", 10) FROM "gpu-rack" WHERE '
                        '"site" =~ /^$site$/ AND $timeFilter',
            "flux": flux("gpu-rack", ["t_cold_plate_c"], "max", "device")
            + '\n  |> group()\n  |> top(n: 10)',
            "promql": ["topk(10, " + point("gpu-rack", "t_cold_plate_c") + ")"]}),
    ]),
    "comms-health": ("twin · comms health", [
        ("Devices not answering (InfluxDB: records received per interval)", "none", {
            "influxql": 'SELECT count("quality") FROM /.*/ WHERE "site" =~ /^$site$/ AND '
                        "$timeFilter GROUP BY time($__interval) fill(0)",
            "flux": 'from(bucket: "twin")\n  |> range(start: v.timeRangeStart, stop: '
                    'v.timeRangeStop)\n  |> filter(fn: (r) => r.site == "${site}" and '
                    'r._field == "quality")\n  |> group(columns: ["_measurement"])\n'
                    "  |> aggregateWindow(every: v.windowPeriod, fn: count, createEmpty: true)",
            "promql": ['sum(1 - twin_device_up{site=~"$site"})']}),
        ("Poll duration (slowest device)", "s", {
            "influxql": None, "flux": None,
            "promql": ['max(twin_device_poll_seconds{site=~"$site"})',
                       'quantile(0.5, twin_device_poll_seconds{site=~"$site"})']}),
        ("Errors and reconnects per minute", "none", {
            "influxql": None, "flux": None,
            "promql": ['sum by (kind) (rate(twin_device_errors_total{site=~"$site"}[1m])) * 60',
                       'sum(rate(twin_device_reconnects_total{site=~"$site"}[5m])) * 60',
                       'sum(increase(twin_device_missed_polls_total{site=~"$site"}[5m]))']}),
        ("Points by quality; spool backlog", "none", {
            "influxql": None, "flux": None,
            "promql": ['twin_points{site=~"$site"}', 'twin_sink_pending_records{site=~"$site"}',
                       'twin_scrape_render_seconds{site=~"$site"}']}),
        ("Worst point quality per equipment (0 good, 1 stale, 2 bad)", "none", {
            **both("site", ["quality"], "max"),
            "influxql": 'SELECT max("quality") FROM /.*/ WHERE "site" =~ /^$site$/ AND '
                        "$timeFilter GROUP BY time($__interval) fill(null)",
            "promql": None}),
    ]),
}  # fmt: skip


def _panel(k: int, title: str, unit: str, targets: list[dict], datasource: dict) -> dict:
    return {
        "id": k + 1,
        "type": "timeseries",
        "title": title,
        "datasource": datasource,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (k % 2), "y": 8 * (k // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": targets,
    }


def _variable(datasource: dict, query: str) -> dict:
    return {
        "name": "site", "label": "site", "type": "query", "datasource": datasource,
        "query": query, "definition": query, "refresh": 1, "current": {},
    }  # fmt: skip


def dashboards() -> dict[str, dict]:
    """File name under grafana/dashboards/ → dashboard JSON."""
    sources = {
        "influxql": ({"type": "influxdb", "uid": "twin-influxdb"},
                     'SHOW TAG VALUES FROM "site" WITH KEY = "site"'),
        "flux": ({"type": "influxdb", "uid": "twin-influxdb-flux"},
                 'import "influxdata/influxdb/schema"\n'
                 'schema.tagValues(bucket: "twin", tag: "site")'),
        "promql": ({"type": "prometheus", "uid": "twin-prometheus"},
                   "label_values(twin_pue, site)"),
    }  # fmt: skip
    out = {}
    for name, (title, panels) in DASHBOARDS.items():
        for language, (datasource, variable) in sources.items():
            built = []
            for panel_title, unit, queries in panels:
                query = queries[language]
                if query is None:  # nothing of the kind in that database
                    continue
                texts = query if isinstance(query, list) else [query]
                if language == "influxql":
                    targets = [
                        {"refId": chr(65 + i), "query": q, "rawQuery": True,
                         "resultFormat": "time_series"}
                        for i, q in enumerate(texts)
                    ]  # fmt: skip
                elif language == "flux":
                    targets = [{"refId": chr(65 + i), "query": q} for i, q in enumerate(texts)]
                else:
                    targets = [{"refId": chr(65 + i), "expr": q} for i, q in enumerate(texts)]
                built.append(_panel(len(built), panel_title, unit, targets, datasource))
            folder = {"influxql": "influxdb", "flux": "influxdb-flux", "promql": "prometheus"}
            out[f"{folder[language]}/{name}.json"] = {
                "uid": f"twin-{name}-{folder[language]}"[:40],
                "title": f"{title} ({folder[language]})",
                "tags": ["twin", folder[language]],
                "timezone": "browser",
                "schemaVersion": 39,
                "refresh": "10s",
                "time": {"from": "now-1h", "to": "now"},
                "templating": {"list": [_variable(datasource, variable)]},
                "panels": built,
            }
    return out


def main() -> None:
    for path, dashboard in dashboards().items():
        target = HERE / "dashboards" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(dashboard, indent=2) + "\n")


if __name__ == "__main__":
    main()
