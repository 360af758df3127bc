"""OPC UA security: Basic256Sha256, users from config, trust list, write role."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.sync import Client

from twin.devices.opcua_security import Security, UserEntry, load_security, password_hash
from twin.devices.runner import Options
from twin.errors import ConfigError

from .simthread import SimThread, client_certificate

CLIENT_URI = "urn:twin:test-client"
SETPOINT = ua.NodeId("chiller-1.t_chw_supply_set_c", 2)


def _certificate(folder: Path, name: str, keys: Path) -> tuple[Path, Path]:
    key, cert = keys / f"{name}-key.pem", folder / f"{name}.der"
    client_certificate(key, cert, CLIENT_URI, name)
    return key, cert


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimThread, dict]]:
    root = tmp_path_factory.mktemp("opcua-security")
    trusted = root / "trusted"
    trusted.mkdir()
    certs = {
        "trusted": _certificate(trusted, "trusted-client", root),
        "untrusted": _certificate(root, "untrusted-client", root),
    }
    security = Security(
        policies=["Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt"],
        allow_anonymous=False,
        trusted_clients=trusted,
        users=[
            UserEntry(
                name="operator", password_hash=password_hash("op-secret"), roles=["read", "write"]
            ),
            UserEntry(name="viewer", password_hash=password_hash("view-secret"), roles=["read"]),
        ],
    )
    options = Options(
        modbus_port=0, opcua_port=0, state_dir=root / "state", opcua_security=security
    )
    with SimThread("legacy-air-2mw", options) as sim:
        yield sim, certs
    # the generated server key stays in the state directory, never in the tree
    assert (root / "state" / "opcua" / "server-key.pem").is_file()


def _client(sim: SimThread, certs: dict, which: str, mode: ua.MessageSecurityMode) -> Client:
    assert sim.sim.opcua is not None
    client = Client(sim.sim.opcua.endpoint, timeout=30)
    client.application_uri = CLIENT_URI
    key, cert = certs[which]
    client.set_security(SecurityPolicyBasic256Sha256, str(cert), str(key), mode=mode)
    return client


@pytest.mark.parametrize(
    "mode", [ua.MessageSecurityMode.Sign, ua.MessageSecurityMode.SignAndEncrypt]
)
def test_operator_reads_and_writes_over_a_secure_session(secure, mode) -> None:  # type: ignore[no-untyped-def]
    sim, certs = secure
    client = _client(sim, certs, "trusted", mode)
    client.set_user("operator")
    client.set_password("op-secret")
    with client:
        node = client.get_node(SETPOINT)
        before = node.read_value()
        assert before == sim.run(lambda: sim.sim.plant.t_chw_supply_set)  # type: ignore[union-attr]
        node.write_value(ua.DataValue(ua.Variant(before + 1.5, ua.VariantType.Float)))
        with pytest.raises(ua.UaStatusCodeError) as refused:
            node.write_value(ua.DataValue(ua.Variant(40.0, ua.VariantType.Float)))
        assert refused.value.code == ua.StatusCodes.BadOutOfRange
    sim.step()
    assert sim.run(lambda: sim.sim.plant.t_chw_supply_set) == before + 1.5  # type: ignore[union-attr]
    sim.run(lambda: sim.sim.plant.command("setpoint", point="t_chw_supply_c", value=before))  # type: ignore[union-attr]
    sim.step()


def test_wrong_password_is_refused(secure) -> None:  # type: ignore[no-untyped-def]
    sim, certs = secure
    client = _client(sim, certs, "trusted", ua.MessageSecurityMode.SignAndEncrypt)
    client.set_user("operator")
    client.set_password("guess")
    with pytest.raises(ua.UaStatusCodeError) as refused:
        client.connect()
    client.disconnect()
    assert refused.value.code in (
        ua.StatusCodes.BadUserAccessDenied,
        ua.StatusCodes.BadIdentityTokenRejected,
    )


def test_untrusted_client_certificate_is_refused(secure) -> None:  # type: ignore[no-untyped-def]
    sim, certs = secure
    client = _client(sim, certs, "untrusted", ua.MessageSecurityMode.SignAndEncrypt)
    client.set_user("operator")
    client.set_password("op-secret")
    with pytest.raises(ua.UaStatusCodeError) as refused:
        client.connect()
    client.disconnect()
    assert refused.value.code == ua.StatusCodes.BadCertificateUntrusted


def test_anonymous_is_refused_when_disabled(secure) -> None:  # type: ignore[no-untyped-def]
    sim, certs = secure
    client = _client(sim, certs, "trusted", ua.MessageSecurityMode.SignAndEncrypt)
    with pytest.raises(ua.UaStatusCodeError) as refused:
        client.connect()
    client.disconnect()
    assert refused.value.code in (
        ua.StatusCodes.BadIdentityTokenInvalid,
        ua.StatusCodes.BadIdentityTokenRejected,
        ua.StatusCodes.BadUserAccessDenied,
    )


def test_user_without_write_role_cannot_write(secure) -> None:  # type: ignore[no-untyped-def]
    sim, certs = secure
    client = _client(sim, certs, "trusted", ua.MessageSecurityMode.Sign)
    client.set_user("viewer")
    client.set_password("view-secret")
    with client:
        node = client.get_node(SETPOINT)
        assert 5.0 <= node.read_value() <= 25.0
        with pytest.raises(ua.UaStatusCodeError) as refused:
            node.write_value(ua.DataValue(ua.Variant(17.0, ua.VariantType.Float)))
        assert refused.value.code == ua.StatusCodes.BadUserAccessDenied


def test_password_hashes_are_salted_and_verified_in_constant_time() -> None:
    from twin.devices.opcua_security import verify_password

    first, second = password_hash("op-secret"), password_hash("op-secret")
    assert first != second  # a fresh salt each time: no table lookup from a leaked config
    assert verify_password("op-secret", first) and verify_password("op-secret", second)
    assert not verify_password("op-secreT", first)


def test_user_token_without_a_name_is_not_an_anonymous_session(secure) -> None:  # type: ignore[no-untyped-def]
    """A trusted client sending a user-name token with a null name: refused, not anonymous."""
    sim, certs = secure
    client = _client(sim, certs, "trusted", ua.MessageSecurityMode.SignAndEncrypt)
    hostile = client.aio_obj

    def nameless_user_token(params: ua.ActivateSessionParameters) -> None:
        hostile._add_user_auth(params, None, "anything")

    hostile._add_anonymous_auth = nameless_user_token  # what this client sends instead
    with pytest.raises(ua.UaStatusCodeError) as refused:
        client.connect()
    client.disconnect()
    assert refused.value.code in (
        ua.StatusCodes.BadUserAccessDenied,
        ua.StatusCodes.BadIdentityTokenRejected,
        ua.StatusCodes.BadIdentityTokenInvalid,
    )


def test_generated_server_key_is_private(secure) -> None:  # type: ignore[no-untyped-def]
    sim, _ = secure
    folder = sim.sim.options.state_dir / "opcua"
    assert stat.S_IMODE((folder / "server-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def _sim(args: list[str], cwd: Path) -> subprocess.Popen:
    twin = str(Path(sys.executable).parent / "twin")
    return subprocess.Popen(
        [twin, "sim", "legacy-air-2mw", "--modbus-port", "0", "--opcua-port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def test_security_without_a_trust_list_serves_any_client_certificate(tmp_path: Path) -> None:
    """trusted_clients is optional: without it `twin sim` serves (users still log in)."""
    config = tmp_path / "security.toml"
    config.write_text(
        "allow_anonymous = false\n"
        "[[users]]\n"
        'name = "operator"\n'
        f'password_hash = "{password_hash("op-secret")}"\n'
        'roles = ["read"]\n'
    )
    sim = _sim(["--opcua-security", str(config), "--state-dir", str(tmp_path / "state")], tmp_path)
    try:
        assert sim.stdout is not None
        endpoint = None
        for line in sim.stdout:
            if line.startswith("opc-ua"):
                endpoint = line.split()[1]
            if line.startswith("site "):
                break
        assert endpoint, sim.stderr.read() if sim.stderr else ""
        key, cert = _certificate(tmp_path, "any-client", tmp_path)
        client = Client(endpoint, timeout=30)
        client.application_uri = CLIENT_URI
        client.set_security(
            SecurityPolicyBasic256Sha256,
            str(cert),
            str(key),
            mode=ua.MessageSecurityMode.SignAndEncrypt,
        )
        client.set_user("operator")
        client.set_password("op-secret")
        with client:
            assert 5.0 <= client.get_node(SETPOINT).read_value() <= 25.0
    finally:
        sim.terminate()
        _, stderr = sim.communicate(timeout=60)
    assert "Traceback" not in stderr, stderr
    assert "any client certificate is accepted" in stderr


def test_an_empty_trust_list_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "trusted").mkdir()
    config = tmp_path / "security.toml"
    config.write_text('trusted_clients = "trusted"\n')
    with pytest.raises(ConfigError, match="no client certificate"):
        load_security(config)
