"""asyncua's plaintext-password warning: kept where a password exists, not otherwise.

``twin sim`` without a security config has no user and no password, yet asyncua
warned "No encrypting policy available, password may get transferred in plaintext"
at every start (issue 18 item 10). With users on an unencrypted endpoint the
warning is true and must stay.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from twin.devices.opcua_security import password_hash

WARNING = "password may get transferred in plaintext"


def sim(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", "sim", "plant-room", "--modbus-port", "0",
         "--opcua-port", "0", "--duration", "2", "--speed", "4",
         "--state-dir", str(tmp_path / "state"), *extra],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_no_password_warning_when_no_user_is_configured(tmp_path: Path) -> None:
    served = sim(tmp_path)
    assert served.returncode == 0, served.stderr
    assert "opc-ua" in served.stdout  # OPC UA was served
    assert WARNING not in served.stderr, served.stderr


def test_the_warning_stays_where_a_password_could_travel_in_plaintext(tmp_path: Path) -> None:
    config = tmp_path / "security.toml"
    config.write_text(
        'policies = ["None", "Basic256Sha256_Sign"]\n'
        "allow_anonymous = false\n"
        "[[users]]\n"
        'name = "operator"\n'
        f'password_hash = "{password_hash("op-secret")}"\n'
    )
    served = sim(tmp_path, "--opcua-security", str(config))
    assert served.returncode == 0, served.stderr
    assert WARNING in served.stderr, served.stderr
