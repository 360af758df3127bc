"""The ``--notify`` file: any TOML is either valid options or one ConfigError naming
the file (and the key); a bad file stops ``twin run`` with exit 2 before it starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.errors import ConfigError
from twin.sinks.notify import NotifyOptions, load_notify, parse_notify

ROOT = Path(__file__).parents[2]
KEYS = ["group_wait_s", "escalate_after_s", "consequences", "min_priority", "queue_size", "log",
        "retry", "rate_limit", "webhook", "email", "command", "name", "url", "secret_file",
        "secret_env", "host", "port", "from", "to", "username", "password_env", "argv",
        "timeout_s", "events", "attempts", "backoff_s", "per_alarm", "window_s",
        "headers"]  # fmt: skip
scalars = st.one_of(
    st.booleans(), st.integers(-10, 70000), st.floats(allow_nan=True), st.sampled_from(
        ["", "high", "raise", "http://127.0.0.1:1/x", "a@b.c", "TWIN_T_SECRET", "s.secret",
         "x y"]), st.text(max_size=8),
)  # fmt: skip
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=6))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=20,
)
documents = st.dictionaries(keys, values, max_size=8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_document_is_valid_or_one_config_error(data: dict) -> None:
    path = Path(__file__).parent / "notify.toml"
    try:
        options = parse_notify(data, path)
    except ConfigError as error:
        assert error.path == path and error.message
        assert "notify.toml" in str(error)
    else:
        assert isinstance(options, NotifyOptions) and options.targets


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_valid_or_one_config_error(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("n") / "notify.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_notify(path)
    except ConfigError as error:
        assert error.path == path


def test_the_shipped_example_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWIN_WEBHOOK_SECRET", "x")
    monkeypatch.setenv("TWIN_SMTP_PASSWORD", "y")
    options = load_notify(ROOT / "configs/notify/example.toml")
    assert [t.kind for t in options.targets] == ["webhook", "email", "command"]
    assert "secret=" not in repr(options.targets[0])  # the key never reaches a repr or a log


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('[[webhook]]\nname = "a"\nurl = "ftp://x"\nsecret_env = "E"\n', "webhook.0", "http(s)"),
        ('[[webhook]]\nname = "a"\nurl = "http://h/"\nsecret_env = "TWIN_T_UNSET"\n',
         "webhook.0.secret_env", "not set"),
        ('[[command]]\nname = "c"\nargv = ["x"]\ntimeout_s = -1\n', "command.0.timeout_s",
         "greater than 0"),
        ('group_wait = 3\n[[command]]\nname = "c"\nargv = ["x"]\n', "group_wait", "unknown key"),
        ('[[command]]\nname = "c"\nargv = ["x"]\n[[command]]\nname = "c"\nargv = ["y"]\n',
         "command.1.name", "named twice"),
    ],
)  # fmt: skip
def test_a_bad_file_is_exit_2_naming_file_and_key(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "run", "aidc-10mw", "--headless", "--duration", "1",
         "--notify", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "bad.toml" in result.stderr and f"key '{key}'" in result.stderr, result.stderr
    assert message in result.stderr
