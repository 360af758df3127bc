"""Every number option refuses NaN and infinity: ``--duration nan`` used to run forever.

Issue 11 item 17. argparse's ``type=float`` takes "nan" and "inf", and since no comparison
with NaN is true, a NaN duration never ends and a NaN interval never polls.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.argtypes import finite_float, positive_float

NOT_FINITE = ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"]


@pytest.mark.parametrize("text", NOT_FINITE)
def test_positive_float_refuses_what_is_not_finite(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="finite"):
        positive_float(text)
    with pytest.raises(argparse.ArgumentTypeError, match="finite"):
        finite_float(text)


@given(st.text(max_size=40))
def test_positive_float_gives_a_message_or_a_positive_finite_number(text: str) -> None:
    try:
        value = positive_float(text)
    except argparse.ArgumentTypeError as error:
        assert str(error)
    else:
        assert 0 < value < float("inf")


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--headless", "--duration", "nan"],
        ["run", "--headless", "--duration", "inf"],
        ["run", "--headless", "--interval", "nan"],
        ["run", "--headless", "--speed", "inf"],
        ["run", "--headless", "--spool-max-mb", "nan"],
        ["run", "--headless", "--spool-max-mb", "-1"],
        ["run", "--headless", "--flush-interval", "nan"],
        ["monitor", "configs/points/aidc-10mw.csv", "--duration", "nan"],
        ["sim", "aidc-10mw", "--step", "inf"],
        ["simulate", "aidc-10mw", "--days", "nan"],
        ["simulate", "aidc-10mw", "--start-day", "nan"],
        ["dashboard", "--speed", "nan"],
    ],
    ids=lambda c: " ".join(c[:1] + c[-2:]),
)
def test_the_commands_exit_2_naming_the_option(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", *command],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    option = command[-2]
    assert option in result.stderr
    assert "Traceback" not in result.stderr
    assert "max_bytes" not in result.stderr


@pytest.mark.parametrize(
    "url", ["notaurl", "127.0.0.1:8086", "ftp://host/", "http://", "http://h:99999"]
)
@pytest.mark.parametrize("option", ["--influx-v1", "--influx"])
def test_a_database_url_that_is_not_one_exits_2(option: str, url: str) -> None:
    """``--influx-v1 notaurl`` used to run and retry forever with exit 0 (issue 11 item 19)."""
    extra = ["--db", "twin"] if option == "--influx-v1" else ["--org", "o", "--bucket", "b"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "twin.cli",
            "run",
            "--headless",
            "--duration",
            "5",
            option,
            url,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "INFLUX_TOKEN": "x"},
    )
    assert result.returncode == 2, result.stderr
    assert option in result.stderr and "URL" in result.stderr
    assert "Traceback" not in result.stderr
