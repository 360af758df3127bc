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
faults) and no value.

Security: with no :class:`Security` the server offers policy None to anonymous
users, who may write (demo). With one, it offers the configured policies
(Basic256Sha256 Sign / SignAndEncrypt) with a server certificate generated into
the state directory, username/password users from the config, anonymous access
only if allowed, client certificates checked against a trust list, and writes
only for users with the ``write`` role.
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import hashlib
import hmac
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from asyncua import Server, ua
from asyncua.common.instantiate_util import instantiate
from asyncua.crypto.cert_gen import (
    dump_private_key_as_pem,
    generate_private_key,
    setup_self_signed_certificate,
)
from asyncua.crypto.permission_rules import PermissionRuleset, User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.address_space import AttributeService
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import Field

from twin.config import Frozen, load_toml_model
from twin.devices.image import point_value
from twin.devices.inventory import Device, Inventory
from twin.devices.profiles import Point, Profile
from twin.devices.registry import opcua_endpoint
from twin.errors import ConfigError
from twin.points.codec import DATA_TYPES, decode
from twin.points.units import UNECE_NAMESPACE, UNITS, unece_unit_id

log = logging.getLogger(__name__)

Policy = Literal["None", "Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt"]
POLICIES = {
    "None": ua.SecurityPolicyType.NoSecurity,
    "Basic256Sha256_Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
    "Basic256Sha256_SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
}
VARIANTS = {
    "int16": ua.VariantType.Int16,
    "uint16": ua.VariantType.UInt16,
    "int32": ua.VariantType.Int32,
    "uint32": ua.VariantType.UInt32,
    "int64": ua.VariantType.Int64,
    "uint64": ua.VariantType.UInt64,
    "float32": ua.VariantType.Float,
    "float64": ua.VariantType.Double,
    "bool": ua.VariantType.Boolean,
}
BAD_STATUS = {
    "offline": ua.StatusCodes.BadCommunicationError,
    "exception": ua.StatusCodes.BadDeviceFailure,
    "bad_quality": ua.StatusCodes.BadSensorFailure,
}


class UserEntry(Frozen):
    name: str = Field(min_length=1)
    password_hash: str = Field(
        pattern=r"^scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}$",
        description="salted scrypt of the password, as password_hash() prints it",
    )
    roles: list[Literal["read", "write"]] = Field(default_factory=lambda: ["read"])


class Security(Frozen):
    """OPC UA security of ``twin sim`` (a TOML file, paths relative to it)."""

    policies: list[Policy] = Field(
        default_factory=lambda: ["Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt"]
    )
    allow_anonymous: bool = False
    trusted_clients: Path | None = None  # folder of trusted client certificates (DER or PEM)
    users: list[UserEntry] = Field(default_factory=list)


def load_security(path: Path) -> Security:
    security = load_toml_model(path, Security)
    trusted = security.trusted_clients
    if trusted is not None:
        if not trusted.is_absolute():
            trusted = path.parent / trusted
        if not trusted.is_dir():
            raise ConfigError(path, f"no folder {trusted}", key="trusted_clients")
        if not any(entry.is_file() for entry in trusted.iterdir()):
            raise ConfigError(
                path,
                f"no client certificate in {trusted}: no client could connect "
                "(leave trusted_clients out to accept any client certificate)",
                key="trusted_clients",
            )
        security = security.model_copy(update={"trusted_clients": trusted})
    return security


# scrypt with a random salt per user (RFC 7914 parameters for interactive logins):
# a leaked config does not give passwords away to a table lookup or a fast GPU search.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def password_hash(password: str, salt: bytes | None = None) -> str:
    """The ``password_hash`` value of a user entry: ``scrypt$<salt hex>$<hash hex>``.

    ``python -c "from twin.devices.opcua_server import password_hash; print(password_hash('pw'))"``
    prints one for a config file.
    """
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of a password against a stored ``password_hash``."""
    _, salt_hex, _ = stored.split("$")
    return hmac.compare_digest(password_hash(password, bytes.fromhex(salt_hex)), stored)


def variant_of(point: Point) -> ua.VariantType:
    """OPC UA type of a point: engineering values of scaled integers are Float."""
    if point.bits:
        return ua.VariantType.UInt16
    if point.type != "bool" and not DATA_TYPES[point.type].is_float and point.scale != 1.0:
        return ua.VariantType.Float
    return VARIANTS[point.type]


def _python(value: float, variant: ua.VariantType) -> Any:
    if variant == ua.VariantType.Boolean:
        return bool(value)
    if variant in (ua.VariantType.Float, ua.VariantType.Double):
        return float(value)
    return int(value)


def quantise(point: Point, values: np.ndarray) -> np.ndarray:
    """What the device's registers carry, in engineering units (as the Modbus side decodes)."""
    kind = DATA_TYPES[point.type]
    if kind.is_float or point.type == "bool":
        return values.astype(np.float32).astype(float) if point.type == "float32" else values
    raw = np.clip(np.nan_to_num(np.rint(values / point.scale)), kind.low, kind.high)
    return np.round(raw * point.scale, 9)


class _NoPasswordToLeak(logging.Filter):
    """Drops asyncua's "password may get transferred in plaintext" when none can be.

    asyncua warns whenever it offers a user-name token on an unencrypted endpoint,
    which the server without a security config always does: the warning then
    printed at every ``twin sim`` start though no user has a password (issue 18
    item 10). With users configured it stays, for there it is true.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No encrypting policy available")


#: the logger asyncua warns on (asyncua.server.server's module logger)
ASYNCUA_SERVER_LOG = logging.getLogger("asyncua.server.server")


class _UserManager:
    def __init__(self, security: Security | None) -> None:
        self.security = security

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if self.security is None:
            return User(role=UserRole.User, name=username)
        if not username:
            # An anonymous token, or a user-name token without a name: anonymous either
            # way, and only where anonymous access is allowed. A trusted client
            # certificate secures the channel; it is not a user (no X509 tokens here).
            return User(role=UserRole.Anonymous) if self.security.allow_anonymous else None
        for entry in self.security.users:
            known = entry.name == username and password is not None
            if known and verify_password(password, entry.password_hash):  # type: ignore[arg-type]
                return User(role=UserRole.User, name=username)
        return None


class _AllowSessions(PermissionRuleset):
    """Every identity the user manager accepted may browse, read and subscribe."""

    def check_validity(self, user: User, action_type_id: Any, body: Any) -> bool:
        return True


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


class OpcUaServer:
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

    # ---------------------------------------------------------------- build

    async def _object_type(self, profile: Profile) -> Any:
        idx = self.idx
        server = self.server
        otype = await server.nodes.base_object_type.add_object_type(
            ua.NodeId(profile.opcua_type, idx), ua.QualifiedName(profile.opcua_type, idx)
        )
        for point in profile.points:
            variant = variant_of(point)
            # AnalogItemType (Part 8, 5.3.2) for every analog value: floats, and integers
            # with a unit or a range (a count, a position code); EURange is mandatory
            # there, EngineeringUnits only where there is a unit
            analog = variant in (ua.VariantType.Float, ua.VariantType.Double) or bool(
                (point.unit or point.range) and not point.bits and point.type != "bool"
            )
            item = ua.AddNodesItem()
            item.RequestedNewNodeId = ua.NodeId(f"{profile.opcua_type}.{point.name}", idx)
            item.BrowseName = ua.QualifiedName(point.name, idx)
            item.NodeClass = ua.NodeClass.Variable
            item.ParentNodeId = otype.nodeid
            item.ReferenceTypeId = ua.NodeId(ua.ObjectIds.HasComponent)
            item.TypeDefinition = ua.NodeId(
                ua.ObjectIds.AnalogItemType if analog else ua.ObjectIds.BaseDataVariableType
            )
            attrs = ua.VariableAttributes()
            attrs.DisplayName = ua.LocalizedText(point.name)
            attrs.Description = ua.LocalizedText(point.description or point.name)
            attrs.DataType = ua.NodeId(variant.value)
            attrs.Value = ua.Variant(_python(0, variant), variant)
            attrs.ValueRank = ua.ValueRank.Scalar
            access = ua.AccessLevel.CurrentRead.mask
            if point.writable:
                access |= ua.AccessLevel.CurrentWrite.mask
            attrs.AccessLevel = access
            attrs.UserAccessLevel = access
            item.NodeAttributes = attrs
            result = (await server.iserver.isession.add_nodes([item]))[0]
            result.StatusCode.check()
            node = server.get_node(result.AddedNodeId)
            await node.set_modelling_rule(True)
            if analog:
                low, high = point.range or (
                    DATA_TYPES[point.type].low * point.scale,
                    DATA_TYPES[point.type].high * point.scale,
                )
                eurange = await node.add_property(
                    ua.NodeId(f"{profile.opcua_type}.{point.name}.EURange", idx),
                    "EURange",
                    ua.Variant(ua.Range(low, high), ua.VariantType.ExtensionObject),
                    datatype=ua.NodeId(ua.ObjectIds.Range),
                )
                await eurange.set_modelling_rule(True)
                if point.unit:
                    unit = UNITS[point.unit]
                    info = ua.EUInformation(
                        NamespaceUri=UNECE_NAMESPACE,
                        UnitId=unece_unit_id(unit.code),
                        DisplayName=ua.LocalizedText(unit.symbol),
                        Description=ua.LocalizedText(unit.description),
                    )
                    units = await node.add_property(
                        ua.NodeId(f"{profile.opcua_type}.{point.name}.EngineeringUnits", idx),
                        "EngineeringUnits",
                        ua.Variant(info, ua.VariantType.ExtensionObject),
                        datatype=ua.NodeId(ua.ObjectIds.EUInformation),
                    )
                    await units.set_modelling_rule(True)
        return otype

    async def _build(self) -> None:
        idx = self.idx
        site = await self.server.nodes.objects.add_folder(
            ua.NodeId(self.inventory.site, idx), ua.QualifiedName(self.inventory.site, idx)
        )
        areas: dict[str, Any] = {}
        types: dict[str, Any] = {}
        for equipment, profile in self.inventory.profiles.items():
            types[equipment] = await self._object_type(profile)
            n = len(self.inventory.bindings[equipment])
            self.nodes[equipment] = [[None] * n for _ in profile.points]  # type: ignore[list-item]
        # The first device of a type is instantiated by asyncua (the reference semantics:
        # which children, attributes and references an instance gets); the rest are
        # copies of the nodes it added, renamed, added in one batch. asyncua's
        # instantiate browses the type for every instance: 42 s for aidc-100mw's 2,953
        # devices, against a few seconds for the batch.
        templates: dict[str, tuple[str, list[ua.AddNodesItem]]] = {}
        batch: list[ua.AddNodesItem] = []
        for device in self.inventory.devices:
            if device.area not in areas:
                areas[device.area] = await site.add_folder(
                    ua.NodeId(f"{self.inventory.site}/{device.area}", idx),
                    ua.QualifiedName(device.area, idx),
                )
            parent = areas[device.area]
            profile = self.inventory.profiles[device.equipment]
            template = templates.get(device.equipment)
            if template is None:
                added = await self._instantiate_recorded(parent, types[device.equipment], device)
                templates[device.equipment] = (device.name, added)
            else:
                batch += _renamed(template, device.name, parent.nodeid, idx)
            for p, point in enumerate(profile.points):
                node_id = ua.NodeId(f"{device.name}.{point.name}", idx)
                self.nodes[device.equipment][p][device.row] = node_id
                if point.writable:
                    self.setpoints[node_id] = (device, point)
        results = await self.server.iserver.isession.add_nodes(batch)
        for item, result in zip(batch, results, strict=True):
            if not result.StatusCode.is_good():
                raise RuntimeError(f"OPC UA: could not add {item.RequestedNewNodeId}: {result}")

    async def _instantiate_recorded(self, parent: Any, otype: Any, device: Device) -> list:
        """asyncua's instantiate of one device, returning the AddNodesItems it added."""
        session = self.server.iserver.isession
        added: list[ua.AddNodesItem] = []
        add_nodes = session.add_nodes

        async def recording(items: list[ua.AddNodesItem]) -> list[ua.AddNodesResult]:
            added.extend(items)
            return await add_nodes(items)

        session.add_nodes = recording  # only for this call: the instance's own session object
        try:
            await instantiate(
                parent,
                otype,
                nodeid=ua.NodeId(device.name, self.idx),
                bname=ua.QualifiedName(device.name, self.idx),
                dname=ua.LocalizedText(device.name),
                instantiate_optional=False,
            )
        finally:
            del session.add_nodes  # back to the class's method
        return added

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


def _renamed(
    template: tuple[str, list[ua.AddNodesItem]], name: str, parent: ua.NodeId, idx: int
) -> list[ua.AddNodesItem]:
    """The nodes one instance added, for another device: ids re-prefixed, root re-named.

    Children of a String-id instance have ids ``<root>.<browse name>`` (asyncua's
    rule), so renaming is a prefix swap. Attributes are shared between copies except
    the root's, whose DisplayName differs; the server copies values out of them.
    """
    first, items = template

    def swap(node_id: ua.NodeId) -> ua.NodeId:
        text = node_id.Identifier
        if isinstance(text, str) and (text == first or text.startswith(first + ".")):
            return ua.NodeId(name + text[len(first) :], node_id.NamespaceIndex)
        return node_id

    out = []
    for k, item in enumerate(items):
        if k == 0:  # the device object itself
            attributes = copy.copy(item.NodeAttributes)
            attributes.DisplayName = ua.LocalizedText(name)
            out.append(
                dataclasses.replace(
                    item,
                    RequestedNewNodeId=ua.NodeId(name, idx),
                    BrowseName=ua.QualifiedName(name, idx),
                    ParentNodeId=parent,
                    NodeAttributes=attributes,
                )
            )
        else:
            out.append(
                dataclasses.replace(
                    item,
                    RequestedNewNodeId=swap(item.RequestedNewNodeId),
                    ParentNodeId=swap(item.ParentNodeId),
                )
            )
    return out
