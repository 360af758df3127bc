"""Argument types shared by every ``twin`` command: one message for one mistake."""

from __future__ import annotations

import argparse
import math
import re
import urllib.parse
from pathlib import Path


def positive_float(text: str) -> float:
    """A finite number > 0 (durations, speeds, intervals, quotas).

    ``float`` alone takes ``nan`` and ``inf``: ``--duration nan`` would then run
    forever, since no comparison with NaN is ever true.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def port_number(text: str) -> int:
    """A TCP port, 0 meaning any free one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535, got {value}")
    return value


def finite_float(text: str) -> float:
    """Any finite number (a start day, an offset)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def http_url(text: str) -> str:
    """An http:// or https:// base URL with a host (a database's write API)."""
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"expected a URL such as http://127.0.0.1:8086, got {text!r}"
        )
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{error} in {text!r}") from None
    return text.strip()


def env_name(text: str) -> str:
    """The name of an environment variable (where a secret is read from, never the secret)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise argparse.ArgumentTypeError(
            f"expected an environment variable name such as INFLUX_TOKEN, got {text!r}"
        )
    return text


def mqtt_url(text: str) -> str:
    """``mqtt://HOST[:PORT]`` or ``mqtts://HOST[:PORT]``, credentials never in it.

    >>> mqtt_url("mqtt://127.0.0.1:1883")
    'mqtt://127.0.0.1:1883'
    """
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
        raise argparse.ArgumentTypeError(
            f"expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT], got {text!r}"
        )
    if parsed.username or parsed.password:
        raise argparse.ArgumentTypeError(
            "no credentials in the URL (every user can read them in ps): use a credentials file"
        )
    try:
        parsed.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None
    return text


def read_credentials(path: Path, option: str) -> tuple[str, str]:
    """User name and password from a file of two lines (never the command line).

    ValueError names the option and the file when it cannot be read or is not two lines.
    """
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise ValueError(f"{option}: cannot read: {error}") from None
    if len(lines) < 2 or not lines[0].strip():
        raise ValueError(f"{option} {path}: expected two lines, user name then password")
    return lines[0].strip(), lines[1]


def protocol_list(text: str) -> tuple[str, ...]:
    """``bacnet,snmp,modbus``: protocols in order of preference (twin.points.protocols)."""
    from twin.points.protocols import parse_protocols

    try:
        return parse_protocols(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
