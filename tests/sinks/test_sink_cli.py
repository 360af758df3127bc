"""The command-line hooks: options, the sink they build, ``twin replay`` exit codes."""

from __future__ import annotations

import argparse

import pytest

from twin.sinks.cli import (
    SinkConfigError,
    add_sink_options,
    register_replay,
    sink_from_args,
)
from twin.sinks.influx import InfluxV1Writer, InfluxV2Writer
from twin.sinks.record import Record
from twin.sinks.spool import Spool


def run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twin run")
    add_sink_options(parser)
    return parser


def replay_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twin")
    register_replay(parser.add_subparsers(dest="command"))
    return parser


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("INFLUX_TOKEN", "INFLUX_USERNAME", "INFLUX_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TWIN_SPOOL", str(tmp_path / "default-spool"))


def test_no_database_means_the_embedded_store_in_the_default_place(tmp_path) -> None:
    sink = sink_from_args(run_parser().parse_args([]))
    try:
        assert sink.writer is None and sink.spool is not None
        assert sink.spool.directory == tmp_path / "default-spool"
        assert sink.status.state == "embedded"
    finally:
        sink.close()


def test_v2_with_token_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("INFLUX_TOKEN", "tok-from-env")
    args = run_parser().parse_args(
        ["--influx", "http://127.0.0.1:9", "--org", "o", "--bucket", "b", "--spool", str(tmp_path)]
    )
    sink = sink_from_args(args)
    try:
        assert isinstance(sink.writer, InfluxV2Writer) and sink.writer.bucket == "b"
        assert sink.spool is not None and sink.spool.directory == tmp_path
    finally:
        sink.close(timeout=0)


def test_v2_token_from_a_file(tmp_path) -> None:
    token = tmp_path / "token"
    token.write_text("tok-from-file\n")
    args = run_parser().parse_args(
        [
            "--influx",
            "http://127.0.0.1:9",
            "--org",
            "o",
            "--bucket",
            "b",
            "--no-spool",
            "--influx-token-file",
            str(token),
        ]
    )
    sink = sink_from_args(args)
    try:
        assert sink.spool is None
        assert sink.writer._client.token == "tok-from-file"  # type: ignore[union-attr]
    finally:
        sink.close(timeout=0)


def test_v1_with_user_and_password_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("INFLUX_USERNAME", "twin")
    monkeypatch.setenv("INFLUX_PASSWORD", "pw")
    args = run_parser().parse_args(
        ["--influx-v1", "http://127.0.0.1:9", "--db", "twin", "--rp", "week", "--no-spool"]
    )
    sink = sink_from_args(args)
    try:
        assert isinstance(sink.writer, InfluxV1Writer)
        assert "rp=week" in sink.writer._write_url and "pw" not in sink.writer._write_url
        assert sink.writer._headers["Authorization"].startswith("Basic ")
    finally:
        sink.close(timeout=0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--influx", "http://h", "--org", "o", "--bucket", "b"], "INFLUX_TOKEN"),
        (["--influx", "http://h", "--bucket", "b"], "--org"),
        (["--influx-v1", "http://h"], "needs --db"),
        (["--influx-v1", "http://h", "--db", "d", "--bucket", "b"], "go with --influx"),
        (["--db", "d"], "without --influx"),
        (["--no-spool"], "needs a database"),
        (
            ["--influx", "http://h", "--org", "o", "--bucket", "b", "--influx-token-file", "/nope"],
            "cannot read the token file",
        ),
        (["--batch-size", "0"], "at least 1"),
    ],
)
def test_usage_errors_are_clear(argv, message) -> None:
    with pytest.raises(SinkConfigError, match=message):
        sink_from_args(run_parser().parse_args(argv))


def test_a_quota_too_small_for_sqlite_is_a_usage_error(tmp_path) -> None:
    # the WAL and its index take room of their own now that the quota counts them
    with pytest.raises(SinkConfigError, match=r"give at least 0\.\d+ MB \(--spool-max-mb\)"):
        args = run_parser().parse_args(["--spool", str(tmp_path), "--spool-max-mb", "0.05"])
        sink_from_args(args)


def test_busy_spool_is_a_usage_error_with_a_hint(tmp_path) -> None:
    with Spool(tmp_path), pytest.raises(SinkConfigError, match="its own --spool"):
        sink_from_args(run_parser().parse_args(["--spool", str(tmp_path)]))


def test_v2_and_v1_are_exclusive_and_no_token_option_exists(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        run_parser().parse_args(["--influx", "http://a", "--influx-v1", "http://b"])
    assert caught.value.code == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as caught:
        run_parser().parse_args(["--influx-token", "s3cret"])  # never on the command line
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "never taken on the command line" in err and "s3cret" not in err
    assert "--influx-token-file" in run_parser().format_help()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["replay", "{missing}", "--influx-v1", "http://h", "--db", "d"], "not a spool directory"),
        (["replay", "{spool}"], "--influx URL or --influx-v1 URL"),
        (["replay", "{spool}", "--influx-v1", "http://h"], "needs --db"),
        (
            ["replay", "{spool}", "--influx", "http://h", "--org", "o", "--bucket", "b"],
            "INFLUX_TOKEN",
        ),
        (
            ["replay", "{spool}", "--influx-v1", "http://h", "--db", "d", "--batch-size", "0"],
            "at least 1",
        ),
    ],
)
def test_replay_bad_input_exits_2_with_a_message(tmp_path, capsys, argv, message) -> None:
    spool_dir = tmp_path / "spool"
    Spool(spool_dir).close()
    argv = [a.format(spool=spool_dir, missing=tmp_path / "missing") for a in argv]
    args = replay_parser().parse_args(argv)
    assert args.handler(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("twin replay: error: ") and message in err


def test_replay_of_a_busy_spool_exits_2(tmp_path, capsys) -> None:
    with Spool(tmp_path) as spool:
        spool.append([Record("m", {}, {"v": 1}, 1)])
        args = replay_parser().parse_args(
            ["replay", str(tmp_path), "--influx-v1", "http://h", "--db", "d"]
        )
        assert args.handler(args) == 2
    assert "in use by another process" in capsys.readouterr().err


def test_replay_with_a_bad_password_exits_1_and_keeps_the_spool(
    influx, tmp_path, capsys, monkeypatch
) -> None:
    with Spool(tmp_path) as spool:
        spool.append([Record("m", {}, {"v": i}, i) for i in range(100)])
    monkeypatch.setenv("INFLUX_USERNAME", "admin")
    monkeypatch.setenv("INFLUX_PASSWORD", "wrong")
    args = replay_parser().parse_args(
        ["replay", str(tmp_path), "--influx-v1", influx.url, "--db", "twin"]
    )
    assert args.handler(args) == 1
    err = capsys.readouterr().err
    assert "401 Unauthorized" in err and "100 lines left" in err and "wrong" not in err
    with Spool(tmp_path) as spool:
        assert spool.count() == 100
