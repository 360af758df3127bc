"""The OPC UA server's address space: an ObjectType per equipment type, a node per device.

``Objects/<Site>/<Area>/<Device>/<Point>``: each equipment type is an ObjectType made
once from its profile (AnalogItemType variables with EURange and EngineeringUnits);
the first device of a type is instantiated by asyncua and the others are copies of
the nodes it added, renamed and added in one batch (:func:`_renamed`). Apart from the
server because building the nodes is done once at start and is most of the OPC UA
information model; :class:`AddressSpace` is a part of
:class:`~twin.devices.opcua_server.OpcUaServer`.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any

from asyncua import ua
from asyncua.common.instantiate_util import instantiate

from twin.devices.inventory import Device
from twin.devices.opcua_values import _python, variant_of
from twin.devices.profiles import Point, Profile
from twin.points.codec import DATA_TYPES
from twin.points.units import UNECE_NAMESPACE, UNITS, unece_unit_id

if TYPE_CHECKING:
    from asyncua import Server

    from twin.devices.inventory import Inventory


class AddressSpace:
    """The server's nodes, built in :meth:`_build` (called by ``start``)."""

    server: Server
    inventory: Inventory
    idx: int
    setpoints: dict[ua.NodeId, tuple[Device, Point]]
    nodes: dict[str, list[list[ua.NodeId]]]

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
