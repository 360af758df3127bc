"""``--config twin.toml`` for ``twin run`` and ``twin monitor`` (issue 17 item 1).

Every option of the two commands is reachable from the file; a bad key or value is
one message naming the file, its line and the key, exit 2; options on the command
line override the file; ``twin config example`` prints a file ``twin check`` accepts.
"""

from __future__ import annotations

import argparse
import http.server
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.cli.parser import build_parser, command_parsers, config_parsers, with_config
from twin.errors import ConfigError
from twin.runconfig import EXCLUDED, SECTIONS, TABLE, active_table, parse_run_config


def twin(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def parse(argv: list[str]) -> argparse.Namespace:
    """What ``main`` hands the command: the file applied under the command line."""
    return with_config(argv, build_parser().parse_args(argv))


def test_every_option_of_run_and_monitor_is_a_key_or_excluded_with_a_reason() -> None:
    mapped = {entry.dest for entry in TABLE}
    for name, parser in config_parsers().items():
        for action in parser._actions:
            assert action.dest in mapped or action.dest in EXCLUDED, (
                f"twin {name} {action.option_strings or action.dest}: no key in "
                "twin.runconfig.TABLE and not in EXCLUDED"
            )
    # Every key of the table is an option of one of them; `[notify] file` only
    # where the --notify option exists (it arrives with issue 17 item 4).
    dests = {action.dest for p in config_parsers().values() for action in p._actions}
    assert {entry.dest for entry in TABLE} - dests <= {"notify"}
    assert all(reason for reason in EXCLUDED.values())
    keys = [entry.dotted for entry in TABLE]
    assert len(keys) == len(set(keys)) and {entry.section for entry in TABLE} <= set(SECTIONS)


@pytest.mark.parametrize("entry", active_table(config_parsers().values()), ids=lambda e: e.dotted)
def test_each_key_reaches_its_option(entry, tmp_path: Path) -> None:
    """The example value of each key, alone in a file, lands in the option's dest."""
    value = entry.example
    config = tmp_path / "twin.toml"
    literal = f'"{value}"' if isinstance(value, str) else str(value).lower()
    flipped = not value if isinstance(value, bool) else None
    if flipped is not None:
        literal = str(flipped).lower()  # the non-default value, so the dest must change
    config.write_text(f"[{entry.section}]\n{entry.key} = {literal}\n")
    for name, parser in config_parsers().items():
        if entry.dest not in {action.dest for action in parser._actions}:
            continue
        args = parse([name, "--config", str(config)])
        got = getattr(args, entry.dest)
        if flipped is not None:
            assert got is ((not flipped) if entry.invert else flipped), entry.dotted
        elif isinstance(got, Path):
            assert got == (tmp_path / value if not Path(value).is_absolute() else Path(value))
        elif entry.dest == "metrics":
            assert got == ("127.0.0.1", 9464)
        elif entry.dest == "shard":
            assert got == (0, 3)
        elif entry.dest == "protocols":
            assert got == ("bacnet", "snmp", "modbus")
        else:
            assert got == value, entry.dotted


def test_example_passes_twin_check_and_monitor_parses_it(tmp_path: Path) -> None:
    example = twin("config", "example")
    assert example.returncode == 0, example.stderr
    text = example.stdout
    for entry in active_table(config_parsers().values()):
        # every key is written, live or commented out, in its own section
        section = text.split(f"\n[{entry.section}]", 1)[1].split("\n[", 1)[0]
        assert re.search(rf"^(# )?{entry.key} = ", section, re.M), entry.dotted
    config = tmp_path / "twin.toml"
    config.write_text(text)
    check = twin("check", str(config))
    assert check.returncode == 0, check.stderr
    assert "valid config" in check.stdout
    args = parse(["monitor", "--config", str(config)])
    assert args.registry == tmp_path / "configs/points/aidc-10mw.csv"  # from the file's folder
    assert (args.interval, args.prefer, args.spool_on_full) == (1.0, "modbus", "reject")
    run = parse(["run", "--config", str(config)])
    assert (run.site, run.speed) == ("aidc-10mw", 1.0)


def test_every_commented_key_of_the_example_is_valid_once_uncommented(tmp_path: Path) -> None:
    text = twin("config", "example").stdout
    # v1 is the other way to the database; uncomment everything but that way.
    others = ("influx_v1", "db", "rp")
    lines = [
        re.sub(r"^# (\w+ = )", r"\1", line) if not line.startswith(others, 2) else line
        for line in text.splitlines()
    ]
    config = tmp_path / "twin.toml"
    config.write_text("\n".join(lines))
    args = parse(["monitor", "--config", str(config)])
    assert args.influx == "http://127.0.0.1:8086" and args.influx_token_env == "INFLUX_TOKEN"
    assert args.opcua_security.startswith("Basic256Sha256") and args.duration == 3600.0
    assert parse(["run", "--config", str(config)]).opcua == 4840


BAD = [
    # (file text, key, line, words of the message)
    ("[collect]\n\ninterval = -1\n", "collect.interval", 3, "must be > 0, got -1 (as --interval)"),
    ("[collect]\ninterval = nan\n", "collect.interval", 2, "finite"),
    ('[collect]\ninterval = "fast"\n', "collect.interval", 2, "expected a number"),
    (
        '[monitor]\nprefer = "ftp"\n',
        "monitor.prefer",
        2,
        "one of 'modbus', 'opcua', 'bacnet', 'snmp'",
    ),
    ("[sink]\nbatch_size = 1.5\n", "sink.batch_size", 2, "whole number"),
    ('[console]\nheadless = "yes"\n', "console.headless", 2, "true or false"),
    ('[sink]\ninflux = "notaurl"\n', "sink.influx", 2, "expected a URL"),
    ('[metrics]\nlisten = "9464"\n', "metrics.listen", 2, "not ADDR:PORT"),
    ('[sink]\ntoken_env = "my token"\n', "sink.token_env", 2, "environment variable name"),
    ("[publish]\nopcua_port = 70000\n", "publish.opcua_port", 2, "0-65535"),
    ("[collect]\nintervall = 2\n", "collect.intervall", 2, "unknown key; did you mean 'interval'"),
    ("[colect]\ninterval = 2\n", "colect", 1, "unknown section [colect]; did you mean 'collect'"),
    ("interval = 2\n", "interval", 1, "belongs in a section: [collect] interval"),
    ('[sink]\ntoken = "s3cret"\n', "sink.token", 2, "use token_file"),
    ('[sink]\ninflux_token = "s3cret"\n', "sink.influx_token", 2, "token_env"),
    ('[security]\npassword = "s3cret"\n', "security.password", 2, "OPCUA_PASSWORD"),
    (
        '[sink]\ninflux = "http://a:1"\ninflux_v1 = "http://b:1"\n',
        "sink.influx_v1",
        3,
        "not allowed with 'sink.influx'",
    ),
    ('[spool]\ndir = "s"\nenabled = false\n', "spool.enabled", 3, "not allowed with 'spool.dir'"),
    ("[collect\n", None, 1, "invalid TOML"),
]


@pytest.mark.parametrize(("text", "key", "line", "words"), BAD)
def test_a_bad_key_or_value_names_the_file_line_and_key(
    text: str, key: str | None, line: int, words: str, tmp_path: Path
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    result = twin("monitor", "--config", "bad.toml", "--headless", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    where = f"bad.toml line {line}" + (f" key '{key}'" if key else "")
    assert f"twin monitor: {where}: " in result.stderr, result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr
    check = twin("check", "--kind", "config", "bad.toml", cwd=tmp_path)
    assert check.returncode == 2 and where in check.stderr, check.stderr


def test_options_on_the_command_line_override_the_file(tmp_path: Path) -> None:
    config = tmp_path / "twin.toml"
    config.write_text(
        '[collect]\ninterval = 2.5\n[monitor]\nregistry = "a.csv"\n'
        '[sink]\ninflux = "http://127.0.0.1:8086"\norg = "o"\nbucket = "b"\n'
        'token_file = "tok"\n[spool]\ndir = "spool"\nmax_mb = 10\n'
    )
    args = parse(["monitor", "--config", str(config)])
    assert (args.interval, args.registry) == (2.5, tmp_path / "a.csv")
    assert args.spool == tmp_path / "spool"
    args = parse(
        ["monitor", "b.csv", "--config", str(config), "--interval", "3",
         "--influx-v1", "http://x:1", "--db", "d", "--no-spool"]
    )  # fmt: skip
    assert (args.interval, args.registry, args.spool_max_mb) == (3.0, Path("b.csv"), 10.0)
    # --influx-v1 replaces the file's v2 database with its org, bucket and token ...
    assert (args.influx, args.org, args.bucket, args.influx_token_file) == (None,) * 4
    assert (args.influx_v1, args.db) == ("http://x:1", "d")
    # ... and --no-spool the file's spool directory.
    assert args.no_spool and args.spool is None


def test_monitor_without_a_registry_anywhere_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "twin.toml").write_text("[collect]\ninterval = 2\n")
    result = twin("monitor", "--config", "twin.toml", "--headless", cwd=tmp_path)
    assert result.returncode == 2 and "[monitor] registry" in result.stderr, result.stderr


def test_a_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    result = twin("run", "--config", "nope.toml", cwd=tmp_path)
    assert result.returncode == 2 and "nope.toml: file not found" in result.stderr


def test_check_tells_a_config_file_from_its_sections(tmp_path: Path) -> None:
    config = tmp_path / "anything.toml"
    config.write_text("[collect]\ninterval = 2\n")
    result = twin("check", str(config))
    assert result.returncode == 0 and "valid config" in result.stdout, result.stderr


def test_the_token_comes_from_the_variable_the_file_names(monkeypatch, tmp_path: Path) -> None:
    from twin.sinks.cli import SinkConfigError, sink_from_args
    from twin.sinks.influx import InfluxV2Writer

    seen: list[str] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers["Authorization"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path / "twin.toml"
    config.write_text(
        f'[sink]\ninflux = "http://127.0.0.1:{server.server_port}"\norg = "o"\nbucket = "b"\n'
        'token_env = "SITE_A_TOKEN"\n[spool]\nenabled = false\n'
    )
    monkeypatch.delenv("SITE_A_TOKEN", raising=False)
    monkeypatch.setenv("INFLUX_TOKEN", "not-this-one")
    args = parse(["run", "--config", str(config)])
    with pytest.raises(SinkConfigError, match="set SITE_A_TOKEN"):
        sink_from_args(args)
    monkeypatch.setenv("SITE_A_TOKEN", "tok-a")
    sink = sink_from_args(args)
    try:
        assert isinstance(sink.writer, InfluxV2Writer) and sink.spool is None
        sink.write_lines(["m v=1 1"])
        assert sink.flush(timeout=60)
        assert seen == ["Token tok-a"]  # the variable the file names, not $INFLUX_TOKEN
    finally:
        sink.close(timeout=0)
        server.shutdown()


# Any TOML text: a ConfigError or a valid config, never a traceback.
_PARSERS = list(config_parsers().values())
_KEYS = [(entry.section, entry.key) for entry in TABLE]
_literal = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.booleans().map(lambda b: str(b).lower()),
    st.text(max_size=20).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(
        [
            '"http://127.0.0.1:8086"',
            '"127.0.0.1:0"',
            '"modbus"',
            "[]",
            "{}",
            "1979-05-27T07:32:00Z",
            '"a/b.toml"',
            '"x.csv"',
            "[1, 2]",
            '"http://["',
            '"http://h:99999"',
            '"~/x"',
        ]
    ),
)


@st.composite
def _config_text(draw) -> str:  # type: ignore[no-untyped-def]
    """Mostly well-placed keys (so values reach the options' checks), some noise."""
    chosen = draw(st.lists(st.sampled_from(_KEYS), max_size=8, unique=True))
    lines = []
    for section in dict.fromkeys(section for section, _ in chosen):
        header = draw(st.sampled_from([section] * 4 + [*SECTIONS, "x"]))
        lines.append(f"[{header}]")
        for key in (k for s, k in chosen if s == section):
            key = draw(st.sampled_from([key] * 6 + ["token", "intervall", "a.b", '"q"']))
            lines.append(f"{key} = {draw(_literal)}")
    return "\n".join(lines)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_config_text(), st.text(max_size=200)))
def test_any_toml_text_is_a_config_error_or_a_valid_config(text: str) -> None:
    path = Path("/tmp/hypothesis/twin.toml")
    try:
        config = parse_run_config(path, text, _PARSERS)
    except ConfigError as error:
        assert str(error).startswith(str(path)) and error.message
    else:
        for dest in config.values:
            assert dest in {entry.dest for entry in TABLE}


def test_config_has_its_own_command() -> None:
    assert "config" in command_parsers(build_parser())


def test_twin_run_runs_from_the_file_alone(tmp_path: Path) -> None:
    """A real run set up by the file only: headless JSON, the spool in the file's folder."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "twin.toml").write_text(
        '[twin]\nsite = "aidc-10mw"\nspeed = 10.0\n[collect]\nduration = 20.0\n'
        '[console]\nheadless = true\njson = true\n[spool]\ndir = "spool"\n'
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    result = twin("run", "--config", str(site / "twin.toml"), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # [console] json: one JSON document
    assert summary["site"] == "aidc-10mw" and summary["plant_seconds"] >= 20.0
    assert summary["sink"].startswith("embedded store") and summary["samples_spooled"] > 0
    assert (site / "spool" / "spool.sqlite3").is_file()  # relative to the file, not the cwd
    assert not (elsewhere / "spool").exists()
