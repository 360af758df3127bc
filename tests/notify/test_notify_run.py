"""The must-hold of issue 17 item 4, end to end on ``twin run``.

A CDU pump trips and is reset (a scenario); ``twin run --notify`` delivers the
alarm's raise and clear to a webhook receiver on 127.0.0.1 (its HMAC signature
verified here with the secret the run read from a file) and to a real SMTP server
(aiosmtpd) over STARTTLS with a login; a third target, a webhook whose server
accepts and never answers, retries in the background while the collector keeps
its schedule: missed polls stay 0.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .receivers import HangingServer, SmtpServer, WebhookReceiver

SCENARIO = """\
description = "hall-1-cdu1's duty pump trips once the collector's warm-up is over, then resets"
[[events]]
at_s = 70
kind = "pump_trip"
target = "hall-1-cdu1"
pump = 1
duration_s = 20
"""
SECRET = "s3cret-hmac-key-for-the-test"
PASSWORD = "smtp-pass-word"


@pytest.fixture
def receivers(tmp_path: Path):  # type: ignore[no-untyped-def]
    hook, hanging, smtp = WebhookReceiver(), HangingServer(), SmtpServer(tmp_path, "twin", PASSWORD)
    yield hook, hanging, smtp
    hook.close()
    hanging.close()
    smtp.close()


def test_pump_trip_raise_and_clear_reach_webhook_and_smtp_and_a_dead_hook_costs_no_poll(
    tmp_path: Path, receivers
) -> None:  # type: ignore[no-untyped-def]
    hook, hanging, smtp = receivers
    (tmp_path / "hook.secret").write_text(SECRET + "\n")
    (tmp_path / "smtp.password").write_text(PASSWORD)
    scenario = tmp_path / "trip.toml"
    scenario.write_text(SCENARIO)
    config = tmp_path / "notify.toml"
    config.write_text(f"""
group_wait_s = 2
log = "deliveries.jsonl"
[retry]
attempts = 3
backoff_s = 0.5
[[webhook]]
name = "ops"
url = "{hook.url}"
secret_file = "hook.secret"
[[webhook]]
name = "dead"
url = "{hanging.url}"
secret_env = "TWIN_TEST_DEAD_SECRET"
timeout_s = 3
[[email]]
name = "oncall"
host = "127.0.0.1"
port = {smtp.port}
from = "twin@example.net"
to = ["oncall@example.net"]
username = "twin"
password_file = "smtp.password"
ca_file = "{smtp.cert}"
""")
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "run", "aidc-10mw", "--headless", "--json",
         "--speed", "2", "--duration", "130", "--scenario", str(scenario),
         "--notify", str(config)],
        capture_output=True, text=True, timeout=400, cwd=tmp_path,
        env={**__import__("os").environ, "TWIN_TEST_DEAD_SECRET": "x"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert SECRET not in result.stderr and PASSWORD not in result.stderr

    # The webhook: the pump fault's raise, then its clear, each signed over its body.
    trip = [
        (headers, body) for headers, body in hook.received
        if json.loads(body)["alarm"]["rule"] == "cdu-pump-fault"
    ]  # fmt: skip
    events = [json.loads(body) for _, body in trip]
    assert [e["event"] for e in events] == ["raise", "clear"], hook.events()
    for headers, body in trip:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Twin-Signature"], expected)
    raised, cleared = events
    assert raised["alarm"]["source"].startswith("hall-1-cdu1.")
    assert raised["alarm"]["priority"] == "high" and raised["alarm"]["active"] is True
    assert cleared["alarm"]["active"] is False and cleared["alarm"]["key"] == raised["alarm"]["key"]
    assert raised["site"] == "aidc-10mw" and raised["version"] == 1

    # The SMTP server: the same two, over TLS, after a successful login.
    subjects = [m["Subject"] for m in smtp.messages if "pump tripped" in m["Subject"]]
    assert [s.split()[2] for s in subjects] == ["RAISE", "CLEAR"], subjects
    assert smtp.logins and all(ok and tls for ok, tls in smtp.logins)

    # The dead webhook was tried (and given up on) while the collector kept its schedule.
    assert hanging.accepted >= 3
    assert summary["missed_polls"] == 0
    assert summary["notifications"]["dead"]["failed"] >= 1
    assert summary["notifications"]["ops"]["failed"] == 0
    log = [json.loads(line) for line in (tmp_path / "deliveries.jsonl").read_text().splitlines()]
    assert {e["outcome"] for e in log if e["target"] == "dead"} >= {"retrying", "gave_up"}
    assert any(e["outcome"] == "delivered" and e["target"] == "oncall" for e in log)
    text = (tmp_path / "deliveries.jsonl").read_text() + result.stderr
    assert SECRET not in text and PASSWORD not in text and "token=abc" not in text
