"""OPC UA security: Basic256Sha256, users from config, trust list, write role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.sync import Client

from twin.devices.opcua_server import Security, UserEntry, password_hash
from twin.devices.runner import Options

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
    from twin.devices.opcua_server import verify_password

    first, second = password_hash("op-secret"), password_hash("op-secret")
    assert first != second  # a fresh salt each time: no table lookup from a leaked config
    assert verify_password("op-secret", first) and verify_password("op-secret", second)
    assert not verify_password("op-secreT", first)
