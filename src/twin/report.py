"""The designer's report of a study: one self-contained HTML file and its PNG figures.

``twin report SITE --html FILE`` runs the study (:mod:`twin.study`) and hands its
DataFrame here. The figures are what an annual energy study is read by: monthly PUE
and WUE, energy by end use, hours per cooling mode against wet bulb, load-duration
curves and the worst hours. Each is written as ``<FILE stem>-<name>.png`` beside the
HTML and embedded in it (base64), so the HTML alone can be mailed.

This module draws tables; it never runs the plant (a layer contract in pyproject).
Matplotlib is used through its Agg canvas only: no display, no pyplot state.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

from twin.physics.metrics import power_usage_effectiveness

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

#: Figure name → caption, in report order.
FIGURES = {
    "monthly-pue-wue": "Monthly PUE and WUE (energy-weighted over each month)",
    "energy-by-end-use": "Energy by end use, by month",
    "cooling-modes-wet-bulb": "Hours per cooling mode against outdoor wet bulb (1 K bins)",
    "load-duration": "Load-duration curves (every study step, sorted)",
}

_MODE_COLOURS = {"free": "#2a9d8f", "partial": "#e9c46a", "mechanical": "#e76f51"}
_END_USE_COLOURS = {
    "it": "#264653",
    "cooling": "#2a9d8f",
    "power_losses": "#e76f51",
    "other": "#8d99ae",
}
_END_USE_LABELS = {
    "it": "IT",
    "cooling": "cooling",
    "power_losses": "power losses",
    "other": "other",
}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def hourly(frame: pandas.DataFrame) -> pandas.DataFrame:
    """Hourly energy sums, mean powers and temperatures, and the hour's PUE."""
    energy = [c for c in frame.columns if c.endswith("_energy_kwh")] + ["water_l"]
    means = [c for c in frame.columns if c.endswith("_kw") or c.startswith("t_")]
    peaks = ["max_cold_plate_c", "max_rack_inlet_c"]
    grouped = frame.resample("h")
    out = grouped[energy].sum().join(grouped[means].mean()).join(grouped[peaks].max())
    out["cooling_mode"] = grouped["cooling_mode"].agg(lambda s: s.mode().iat[0] if len(s) else "")
    out = out[out["it_energy_kwh"] > 0]
    out["pue"] = power_usage_effectiveness(out["facility_energy_kwh"], out["it_energy_kwh"])
    return out


def monthly(summary: dict) -> list[dict]:
    """The months the run reached, from the JSON summary."""
    return [m for m in summary["monthly"] if sum(m["hours_by_cooling_mode"].values()) > 0]


def _figure(width: float = 8.0, height: float = 4.0) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def figure_monthly_pue_wue(summary: dict) -> Figure:
    months = monthly(summary)
    names = [m["month"] for m in months]
    figure = _figure()
    ax = figure.add_subplot()
    pue = [m["pue"] or float("nan") for m in months]
    ax.bar(names, pue, color="#264653", label="PUE")
    low = min(pue) if pue else 1.0
    ax.set_ylim(max(1.0, low - 0.05), max(pue) + 0.03 if pue else 1.5)
    ax.set_ylabel("PUE (facility / IT energy)")
    ax.axhline(summary["pue"], color="#264653", linestyle=":", linewidth=1)
    ax.annotate(f"year {summary['pue']:.3f}", (0, summary["pue"]), xytext=(2, 3),
                textcoords="offset points", fontsize=8)  # fmt: skip
    right = ax.twinx()
    wue = [m["wue_l_per_kwh"] or float("nan") for m in months]
    right.plot(names, wue, color="#e76f51", marker="o", label="WUE")
    right.set_ylabel("WUE [L/kWh IT]", color="#e76f51")
    right.set_ylim(0, max(wue) * 1.25 if wue and max(wue) > 0 else 1.0)
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles, ["PUE", "WUE"], loc="upper left")
    ax.set_title(f"{summary['site']}, {summary['weather']}: PUE and WUE by month")
    return figure


def figure_energy_by_end_use(summary: dict) -> Figure:
    months = monthly(summary)
    names = [m["month"] for m in months]
    figure = _figure(9.0, 4.0)
    all_uses, overhead = figure.subplots(1, 2, width_ratios=[1, 1])
    for ax, uses, title in (
        (all_uses, ("it", "cooling", "power_losses", "other"), "all end uses"),
        (overhead, ("cooling", "power_losses", "other"), "overhead (all but IT)"),
    ):
        bottom = [0.0] * len(months)
        for use in uses:
            values = [m["energy_kwh"][use] / 1e3 for m in months]
            ax.bar(names, values, bottom=bottom, color=_END_USE_COLOURS[use],
                   label=_END_USE_LABELS[use])  # fmt: skip
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_ylabel("energy [MWh]")
        ax.set_title(title)
        ax.tick_params(axis="x", labelrotation=90 if len(months) > 6 else 0)
    all_uses.legend(loc="lower right", fontsize=8)
    overhead.legend(loc="upper left", fontsize=8)
    return figure


def figure_cooling_modes(frame: pandas.DataFrame) -> Figure:
    import numpy as np

    step_h = _step_hours(frame)
    wet = frame["t_wet_bulb_c"].to_numpy()
    edges = np.arange(np.floor(np.nanmin(wet)), np.ceil(np.nanmax(wet)) + 1.0, 1.0)
    if len(edges) < 2:
        edges = np.array([edges[0], edges[0] + 1.0])
    figure = _figure()
    ax = figure.add_subplot()
    bottom = np.zeros(len(edges) - 1)
    for mode, colour in _MODE_COLOURS.items():
        counts, _ = np.histogram(wet[(frame["cooling_mode"] == mode).to_numpy()], edges)
        hours = counts * step_h
        ax.bar(edges[:-1], hours, width=1.0, align="edge", bottom=bottom, color=colour,
               label=f"{mode} ({hours.sum():,.0f} h)")  # fmt: skip
        bottom += hours
    ax.set_xlabel("outdoor wet bulb [°C]")
    ax.set_ylabel("hours per 1 K bin [h]")
    ax.legend(title="chilled water plant mode")
    ax.set_title("Hours in each cooling mode by wet bulb")
    return figure


def figure_load_duration(frame: pandas.DataFrame) -> Figure:
    """Each power sorted from its highest step down, against the hours spent at or above."""
    import numpy as np

    figure = _figure(8.0, 5.5)
    power, cooling = figure.subplots(2, 1, sharex=True)
    # Steps, not hourly means: an hour's mean hides the load swings that set the peak.
    rank = np.arange(1, len(frame) + 1) * _step_hours(frame)
    for ax, columns in (
        (power, (("facility_power_kw", "facility", "#e76f51"), ("it_power_kw", "IT", "#264653"))),
        (cooling, (("cooling_power_kw", "cooling", "#2a9d8f"),
                   ("power_losses_kw", "power losses", "#8d99ae"))),
    ):  # fmt: skip
        for column, label, colour in columns:
            values = np.sort(frame[column].to_numpy())[::-1] / 1e3
            ax.plot(rank, values, color=colour, label=f"{label} (peak {values[0]:,.2f} MW)")
        ax.set_ylabel("power [MW]")
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    cooling.set_xlabel("hours at or above [h]")
    power.set_title("Load-duration curves")
    return figure


def _step_hours(frame: pandas.DataFrame) -> float:
    t = frame["t_s"].to_numpy()
    return float(t[1] - t[0]) / 3600.0 if len(t) > 1 else 1.0


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def figures(frame: pandas.DataFrame, summary: dict) -> dict[str, bytes]:
    """Every figure of :data:`FIGURES` as PNG bytes."""
    drawn = {
        "monthly-pue-wue": figure_monthly_pue_wue(summary),
        "energy-by-end-use": figure_energy_by_end_use(summary),
        "cooling-modes-wet-bulb": figure_cooling_modes(frame),
        "load-duration": figure_load_duration(frame),
    }
    return {name: png_bytes(drawn[name]) for name in FIGURES}


#: The worst-hours table: column, heading, format.
_WORST_COLUMNS = (
    ("pue", "PUE", "{:.3f}"),
    ("facility_power_kw", "facility kW", "{:,.0f}"),
    ("it_power_kw", "IT kW", "{:,.0f}"),
    ("cooling_power_kw", "cooling kW", "{:,.0f}"),
    ("t_dry_bulb_c", "dry bulb °C", "{:.1f}"),
    ("t_wet_bulb_c", "wet bulb °C", "{:.1f}"),
    ("cooling_mode", "mode", "{}"),
    ("max_cold_plate_c", "cold plate max °C", "{:.1f}"),
    ("max_rack_inlet_c", "rack inlet max °C", "{:.1f}"),
)


def worst_hours(hours: pandas.DataFrame, by: str, n: int = 10) -> pandas.DataFrame:
    """The ``n`` hours with the highest ``by``, worst first."""
    return hours.sort_values(by, ascending=False, kind="stable").head(n)


def _table(headings: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headings)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(fmt: str, value: object) -> str:
    try:
        if value != value:  # NaN: a column the site lacks
            return "-"
    except TypeError:
        pass
    return fmt.format(value)


def _worst_table(hours: pandas.DataFrame, by: str) -> str:
    rows = [
        [f"{when:%d %b %H:00}", *(_fmt(f, row[c]) for c, _, f in _WORST_COLUMNS)]
        for when, row in worst_hours(hours, by).iterrows()
    ]
    return _table(["hour", *(h for _, h, _ in _WORST_COLUMNS)], rows)


def _monthly_table(summary: dict) -> str:
    def cells(label: str, m: dict) -> list[str]:
        e = m["energy_kwh"]
        h = m["hours_by_cooling_mode"]
        return [
            label,
            _fmt("{:.3f}", m["pue"]) if m["pue"] is not None else "-",
            _fmt("{:.2f}", m["wue_l_per_kwh"]) if m["wue_l_per_kwh"] is not None else "-",
            *(f"{e[k] / 1e3:,.0f}" for k in ("it", "cooling", "power_losses", "other", "facility")),
            f"{m['water_l'] / 1e3:,.0f}",
            *(f"{h[k]:,.0f}" for k in ("free", "partial", "mechanical")),
        ]

    rows = [cells(m["month"], m) for m in monthly(summary)]
    rows.append(cells("year" if len(rows) == 12 else "total", summary))
    headings = [
        "month", "PUE", "WUE L/kWh", "IT MWh", "cooling MWh", "power losses MWh", "other MWh",
        "facility MWh", "water m³", "free h", "partial h", "mechanical h",
    ]  # fmt: skip
    return _table(headings, rows)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1.5em 0; } img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; }
"""


def write_report(frame: pandas.DataFrame, summary: dict, path: Path) -> list[Path]:
    """Write the HTML report to ``path`` and its PNG figures beside it; return the PNGs."""
    pngs = figures(frame, summary)
    written = []
    for name, data in pngs.items():
        png = path.with_name(f"{path.stem}-{name}.png")
        png.write_bytes(data)
        written.append(png)
    hours = hourly(frame)
    title = f"twin study: {summary['site']}, {summary['weather']} weather"
    days = summary["sim_seconds"] / 86400.0
    plate = summary["max_cold_plate_c"]
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{days:g} days at {summary['step_s']:g} s steps ({html.escape(summary['method'])} "
        f"method). PUE <b>{summary['pue']:.3f}</b>, WUE <b>{summary['wue_l_per_kwh']:.2f} "
        f"L/kWh</b>, IT energy {summary['energy_kwh']['it'] / 1e3:,.0f} MWh, facility "
        f"{summary['energy_kwh']['facility'] / 1e3:,.0f} MWh, water "
        f"{summary['water_l'] / 1e3:,.0f} m³; hottest cold plate "
        f"{_fmt('{:.1f}', plate) if plate is not None else '-'} °C, hottest rack inlet "
        f"{summary['max_rack_inlet_c']:.1f} °C. Ledger closure: electrical "
        f"{summary['electrical_balance_error']:.1e}, heat {summary['heat_balance_error']:.1e}."
        "</p>",
        "<h2>By month</h2>",
        _monthly_table(summary),
    ]
    for name, caption in FIGURES.items():
        encoded = base64.b64encode(pngs[name]).decode("ascii")
        parts.append(
            f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{encoded}'>"
            f"<figcaption>{html.escape(caption)} ({html.escape(path.stem)}-{name}.png)"
            "</figcaption></figure>"
        )
    parts += [
        "<h2>Worst hours by PUE</h2>",
        _worst_table(hours, "pue"),
    ]
    if hours["max_cold_plate_c"].notna().any():
        parts += ["<h2>Worst hours by cold plate temperature</h2>",
                  _worst_table(hours, "max_cold_plate_c")]  # fmt: skip
    parts += ["<h2>Worst hours by rack inlet temperature</h2>",
              _worst_table(hours, "max_rack_inlet_c"), "</body></html>"]  # fmt: skip
    path.write_text("\n".join(parts), encoding="utf-8")
    return written


def write_history_report(sites: dict[str, list[dict]], source: Path, path: Path) -> None:
    """The operator's monthly PUE, WUE and CUE (``twin report --from``) as one HTML page."""
    title = f"twin history: {source}"
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<p>Energy-based PUE (ISO/IEC 30134-2), WUE (30134-9) and CUE (30134-8) by calendar "
        "month (UTC), from the stored good site records; months are interim figures, the "
        "standard reports a year. Coverage is the share of the month with good records.</p>",
    ]
    for site, months in sites.items():
        rows = [
            [
                m["month"],
                _fmt("{:.3f}", m["pue"]) if m["pue"] is not None else "-",
                m["pue_category"],
                _fmt("{:.2f}", m["wue_l_per_kwh"]) if m["wue_l_per_kwh"] is not None else "-",
                _fmt("{:.3f}", m["cue_kg_per_kwh"]) if m["cue_kg_per_kwh"] is not None else "-",
                f"{m['it_kwh']:,.0f}",
                f"{m['facility_kwh']:,.0f}",
                f"{m['water_l']:,.0f}",
                f"{m['coverage'] * 100:.1f} %",
            ]
            for m in months
        ]
        headings = ["month", "PUE", "category", "WUE L/kWh", "CUE kg/kWh", "IT kWh",
                    "facility kWh", "water L", "coverage"]  # fmt: skip
        parts += [f"<h2>{html.escape(site)}</h2>", _table(headings, rows)]
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
