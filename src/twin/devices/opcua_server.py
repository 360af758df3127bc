"""OPC UA server of a site's simulated devices (asyncua 2.x).

Layout: ``Objects/<Site>/<Area>/<Device>/<Point>`` in the namespace
``urn:twin:<site>:devices`` (index 2), string node ids ``<device>.<point>``. Each
equipment type is an ObjectType defined once from its profile (analog points
are AnalogItemType variables with EngineeringUnits and EURange) and
instantiated per device.

Values are typed Variants: Float for FLOAT32 and for scaled integers (the
engineering value the registers encode, quantised to the scale), the integer
types for unscaled integers, UInt16 for status words, Boolean for contacts.
A value that is not good carries a Bad status (BadSensorFailure for bad
quality, BadCommunicationError when offline, BadDeviceFailure on exception
faults) and no value (:mod:`twin.devices.opcua_values`).

Security: with no :class:`Security` the server offers policy None to anonymous
users, who may write (demo). With one, it offers the configured policies
(Basic256Sha256 Sign / SignAndEncrypt) with a server certificate generated into
the state directory, username/password users from the config, anonymous access
only if allowed, client certificates checked against a trust list, and writes
only for users with the ``write`` role (the config and the users:
:mod:`twin.devices.opcua_security`).

This module is the server's lifecycle (start, security setup, stop), the guard on
writes, ``GetMonitoredItems`` and each step's update; the nodes are built by
:mod:`twin.devices.opcua_nodes`.
"""

from __future__ import annotations

import contextvars
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from asyncua import Server, ua
from asyncua.crypto.cert_gen import (
    dump_private_key_as_pem,
    generate_private_key,
    setup_self_signed_certificate,
)
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.address_space import AttributeService
from cryptography.x509.oid import ExtendedKeyUsageOID

from twin.devices.image import point_value
from twin.devices.inventory import Device, Inventory
from twin.devices.opcua_nodes import AddressSpace
from twin.devices.opcua_security import (
    ASYNCUA_SERVER_LOG,
    POLICIES,
    Security,
    _AllowSessions,
    _NoPasswordToLeak,
    _UserManager,
)
from twin.devices.opcua_values import BAD_STATUS, _python, quantise, variant_of
from twin.devices.profiles import Point
from twin.devices.registry import opcua_endpoint
from twin.errors import ConfigError
from twin.points.codec import decode

log = logging.getLogger(__name__)

ADMIN = User(role=UserRole.Admin)


class _GuardedAttributes(AttributeService):
    """Writes to setpoints: role, limits, then the plant's command queue."""

    def __init__(self, base: AttributeService, owner: OpcUaServer) -> None:
        self.__dict__.update(base.__dict__)
        self.owner = owner

    async def write(self, params: ua.WriteParameters, user: User = ADMIN) -> list[ua.StatusCode]:
        owner = self.owner
        results: list[ua.StatusCode] = []
        for item in params.NodesToWrite:
            target = owner.setpoints.get(item.NodeId)
            if target is None or item.AttributeId != ua.AttributeIds.Value:
                refused = self._not_writable(item, user)
                if refused is not None:
                    results.append(refused)
                    continue
                single = ua.WriteParameters(NodesToWrite=[item])
                results += await super().write(single, user)
                continue
            device, point = target
            if user.role != UserRole.Admin and not owner.may_write(user):
                results.append(ua.StatusCode(ua.StatusCodes.BadUserAccessDenied))
                continue
            variant = item.Value.Value
            if variant is None or variant.VariantType != variant_of(point):
                results.append(ua.StatusCode(ua.StatusCodes.BadTypeMismatch))
                continue
            value = float(variant.Value)
            if not (
                point.min is not None and point.max is not None and point.min <= value <= point.max
            ):
                results.append(ua.StatusCode(ua.StatusCodes.BadOutOfRange))
                continue
            single = ua.WriteParameters(NodesToWrite=[item])
            status = (await super().write(single, User(role=UserRole.Admin)))[0]
            if status.is_good():
                log.info(
                    "%s: %s := %s (OPC UA write by %s)", device.name, point.name, value, user.name
                )
                owner.on_write(device, point, value)
            results.append(status)
        return results

    def _not_writable(self, item: ua.WriteValue, user: User) -> ua.StatusCode | None:
        """Why a write to anything but a setpoint's value is refused (Part 4, 5.10.4).

        BadNodeIdUnknown for no such node, BadNotWritable where the node's AccessLevel
        (or, for an attribute, its WriteMask: zero on every node here) does not allow
        writing, BadUserAccessDenied where only the user's access level forbids it.
        """
        if user.role == UserRole.Admin:
            return None
        if item.NodeId not in self._aspace:
            return ua.StatusCode(ua.StatusCodes.BadNodeIdUnknown)
        access = self._aspace.read_attribute_value(item.NodeId, ua.AttributeIds.AccessLevel)
        if item.AttributeId != ua.AttributeIds.Value:
            return ua.StatusCode(ua.StatusCodes.BadNotWritable)
        level = access.Value.Value if access.Value is not None else None
        if not isinstance(level, int) or not level & ua.AccessLevel.CurrentWrite.mask:
            return ua.StatusCode(ua.StatusCodes.BadNotWritable)
        mine = self._aspace.read_attribute_value(item.NodeId, ua.AttributeIds.UserAccessLevel)
        user_level = mine.Value.Value if mine.Value is not None else 0
        if not isinstance(user_level, int) or not user_level & ua.AccessLevel.CurrentWrite.mask:
            return ua.StatusCode(ua.StatusCodes.BadUserAccessDenied)
        return None


#: The session whose request is being served (set around its Call requests), so a
#: method can tell whose subscriptions it may show.
_CALLER: contextvars.ContextVar[Any] = contextvars.ContextVar("opcua_caller", default=None)


class OpcUaServer(AddressSpace):
    """The site's OPC UA server: ``setup()`` (in :meth:`start`) builds, ``update`` refreshes."""

    def __init__(
        self,
        inventory: Inventory,
        on_write: Callable[[Device, Point, float], None],
        host: str = "127.0.0.1",
        port: int = 4840,
        state_dir: Path = Path(".twin-state"),
        security: Security | None = None,
    ) -> None:
        self.inventory = inventory
        self.on_write = on_write
        self.host = host
        self.port = port or _free_port(host)
        self.state_dir = Path(state_dir)
        self.security = security
        self.server = Server(user_manager=_UserManager(security))  # type: ignore[arg-type]
        self.endpoint = opcua_endpoint(host, self.port)  # what `twin points` prints
        self.uri = f"urn:twin:{inventory.site}"
        self.idx = 2
        self.setpoints: dict[ua.NodeId, tuple[Device, Point]] = {}
        #: per equipment type: node ids [point][device]
        self.nodes: dict[str, list[list[ua.NodeId]]] = {}
        self.certificate: Path | None = None
        self._quiet: logging.Filter | None = None  # while serving with no passwords

    def may_write(self, user: User) -> bool:
        if self.security is None:
            return True
        for entry in self.security.users:
            if entry.name == user.name:
                return "write" in entry.roles
        return False

    async def _secure(self) -> None:
        server = self.server
        security = self.security
        if security is None:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity], _AllowSessions())
            server.set_identity_tokens([ua.AnonymousIdentityToken, ua.UserNameIdentityToken])
            return
        folder = self.state_dir / "opcua"
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)  # the server's private key lives here
        key, cert = folder / "server-key.pem", folder / "server-cert.der"
        if not key.is_file():
            # asyncua would write the key with the process umask (0644 as a rule): write
            # it 0600 from its first byte, and let asyncua make the certificate for it
            pem = dump_private_key_as_pem(generate_private_key())
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as stream:
                stream.write(pem)
        key.chmod(0o600)  # a key left 0644 by an older version, too
        await setup_self_signed_certificate(
            key,
            cert,
            self.uri,
            socket.gethostname(),
            [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH],
            {
                "countryName": "CN",
                "organizationName": "twin",
                "commonName": f"twin {self.inventory.site}",
            },
        )
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        self.certificate = cert
        server.set_security_policy([POLICIES[p] for p in security.policies], _AllowSessions())
        tokens: list[type] = [ua.UserNameIdentityToken]
        if security.allow_anonymous:
            tokens.append(ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        if security.trusted_clients is not None:
            store = TrustStore([security.trusted_clients], [])
            try:
                await store.load()
            except ValueError:  # cryptography refuses a store without certificates
                raise ConfigError(
                    security.trusted_clients,
                    "no client certificate (DER or PEM) in the trust list folder: "
                    "no client could connect",
                    key="trusted_clients",
                ) from None
            validator = CertificateValidator(
                options=CertificateValidatorOptions.TRUSTED_VALIDATION
                | CertificateValidatorOptions.PEER_CLIENT,
                trust_store=store,
            )
        else:
            # No trust list: any well-formed client certificate (in date, its URI the
            # client's, made for a client) may open a secure channel; users still need
            # their password, and anonymous access stays as configured.
            log.warning(
                "OPC UA: no trusted_clients in the security config: any client certificate "
                "is accepted (sessions still need a user and password)"
            )
            validator = CertificateValidator(
                options=CertificateValidatorOptions.EXT_VALIDATION
                | CertificateValidatorOptions.PEER_CLIENT
            )
        server.set_certificate_validator(validator)

    async def start(self) -> None:
        server = self.server
        if self.security is None or not self.security.users:
            self._quiet = _NoPasswordToLeak()
            ASYNCUA_SERVER_LOG.addFilter(self._quiet)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"twin {self.inventory.site}")
        await server.set_application_uri(self.uri)
        await self._secure()
        self.idx = await server.register_namespace(f"{self.uri}:devices")
        await self._build()
        server.iserver.attribute_service = _GuardedAttributes(
            server.iserver.attribute_service, self
        )
        self._serve_get_monitored_items()
        await server.start()

    async def stop(self) -> None:
        try:
            await self.server.stop()
        finally:
            if self._quiet is not None:
                ASYNCUA_SERVER_LOG.removeFilter(self._quiet)
                self._quiet = None

    def _serve_get_monitored_items(self) -> None:
        """``Server.GetMonitoredItems`` (Part 5, 9.1), which asyncua leaves unimplemented.

        Clients call it to learn the monitored items of a subscription they own (after a
        reconnect, or to check one they made: node-opcua's sample client does).
        """
        iserver = self.server.iserver
        create_session = iserver.create_session

        def tracked_session(*args: Any, **kwargs: Any) -> Any:
            session = create_session(*args, **kwargs)
            call = session.call

            async def call_as_caller(params: list[ua.CallMethodRequest]) -> Any:
                token = _CALLER.set(session)
                try:
                    return await call(params)
                finally:
                    _CALLER.reset(token)

            session.call = call_as_caller  # this session object only
            return session

        iserver.create_session = tracked_session

        async def get_monitored_items(parent: ua.NodeId, *arguments: ua.Variant) -> Any:
            if len(arguments) != 1 or not isinstance(arguments[0].Value, int):
                return ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
            subscription_id = arguments[0].Value
            subscription = iserver.subscription_service.subscriptions.get(subscription_id)
            if subscription is None:
                return ua.StatusCode(ua.StatusCodes.BadSubscriptionIdInvalid)
            caller = _CALLER.get()
            if caller is None or caller.session_id != subscription.session_id:
                return ua.StatusCode(ua.StatusCodes.BadUserAccessDenied)
            # asyncua keeps a subscription's items in its monitored-item service only
            items = list(subscription.monitored_item_srv._monitored_items.values())
            server_handles = [int(item.monitored_item_id) for item in items]
            client_handles = [int(item.client_handle) for item in items]
            return [
                ua.Variant(server_handles, ua.VariantType.UInt32),
                ua.Variant(client_handles, ua.VariantType.UInt32),
            ]

        iserver.aspace.add_method_callback(
            ua.NodeId(ua.ObjectIds.Server_GetMonitoredItems), get_monitored_items
        )

    # --------------------------------------------------------------- update

    async def update(
        self,
        equipment: str,
        values: dict[str, np.ndarray],
        masks: dict[str, np.ndarray | None],
        registers: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Write one step's values of one equipment type into its variables."""
        if equipment not in self.nodes:
            return
        profile = self.inventory.profiles[equipment]
        write = self.server.iserver.aspace.write_attribute_value
        value_attribute = ua.AttributeIds.Value
        n = len(self.inventory.bindings[equipment])
        status = [ua.StatusCode(ua.StatusCodes.Good)] * n
        bad_any = False
        for kind in ("bad_quality", "exception", "offline"):
            mask = masks.get(kind)
            if mask is not None:
                for row in np.flatnonzero(mask):
                    status[row] = ua.StatusCode(BAD_STATUS[kind])
                    bad_any = True
        garbage = masks.get("garbage")
        stamp = datetime.now(UTC)
        for p, point in enumerate(profile.points):
            variant = variant_of(point)
            shown = quantise(point, point_value(point, values))
            if garbage is not None and registers is not None and garbage.any():
                table = registers[point.table]
                for row in np.flatnonzero(garbage):
                    words = table[row, point.address : point.address + point.registers].tolist()
                    shown[row] = decode(
                        words, point.type, profile.word_order_of(point), point.scale
                    )
            nodes = self.nodes[equipment][p]
            for row, number in enumerate(shown.tolist()):
                if bad_any and not status[row].is_good():
                    data = ua.DataValue(StatusCode=status[row], SourceTimestamp=stamp)
                else:
                    data = ua.DataValue(
                        ua.Variant(_python(number, variant), variant), SourceTimestamp=stamp
                    )
                await write(nodes[row], value_attribute, data)


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
