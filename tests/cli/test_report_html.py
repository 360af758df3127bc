"""`twin report SITE --html FILE`: one self-contained HTML file and its PNG figures beside it
(issue 17 item 5)."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from tests.cli.test_cli import twin
from twin.report import FIGURES, hourly, worst_hours
from twin.study import simulate


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "study.html"
    # 40 days from 1 May: spring into summer, all three cooling modes.
    result = twin(
        "report", "aidc-10mw", "--weather", "shanghai", "--days", "40", "--start-day", "120",
        "--step", "300", "--html", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_the_html_embeds_every_figure_and_they_are_the_pngs_beside_it(report: Path) -> None:
    text = report.read_text()
    # Self-contained: no src or href pointing outside the file.
    assert not re.search(r"(src|href)=['\"](?!data:)", text)
    embedded = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)
    assert len(embedded) == len(FIGURES)
    for name, data in zip(FIGURES, embedded, strict=True):
        png = report.with_name(f"study-{name}.png").read_bytes()
        assert base64.b64decode(data) == png, name
        pixels = imread(io.BytesIO(png))
        assert pixels.shape[1] >= 800 and pixels.shape[0] >= 400
        # A drawn figure, not a blank canvas: many distinct colours.
        colours = np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)
        assert len(colours) > 50, name


def test_the_html_has_the_monthly_table_and_worst_hours(report: Path) -> None:
    text = report.read_text()
    months = re.findall(
        r"<tr><td>(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|total)</td>", text
    )
    assert months == ["May", "Jun", "total"]
    for heading in ("Worst hours by PUE", "Worst hours by cold plate temperature"):
        assert f"<h2>{heading}</h2>" in text
    worst = text.split("<h2>Worst hours by PUE</h2>", 1)[1].split("</table>", 1)[0]
    pues = [
        float(p) for p in re.findall(r"<tr><td>\d\d \w{3} \d\d:00</td><td>([\d.]+)</td>", worst)
    ]
    assert len(pues) == 10 and pues == sorted(pues, reverse=True)
    assert re.search(r"<td>(free|partial|mechanical)</td>", worst)


def test_the_worst_hours_are_the_highest_hourly_pue() -> None:
    frame = simulate("aidc-10mw", days=3, start_day=200, step_s=300)
    hours = hourly(frame)
    assert len(hours) == 72
    worst = worst_hours(hours, "pue", 5)
    first = worst.index[0]
    in_hour = frame.loc[first : first + np.timedelta64(3599, "s")]
    expected = in_hour["facility_energy_kwh"].sum() / in_hour["it_energy_kwh"].sum()
    assert worst["pue"].iat[0] == pytest.approx(expected) == pytest.approx(hours["pue"].max())


def test_a_report_into_a_missing_folder_is_refused(tmp_path: Path) -> None:
    result = twin("report", "--days", "1", "--html", str(tmp_path / "nope" / "r.html"))
    assert result.returncode == 2 and "folder does not exist" in result.stderr
