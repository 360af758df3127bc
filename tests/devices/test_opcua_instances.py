"""Every OPC UA device instance has its type's full structure, not only the first.

The server instantiates the first device of each type with asyncua and adds the
others as renamed copies of those nodes (a start-up time fix). A client must not be
able to tell: the same children, node classes, type definitions, data types, access
levels and EURange/EngineeringUnits properties, under the device's own node ids.
"""

from __future__ import annotations

from asyncua import ua
from asyncua.sync import Client, SyncNode

from .simthread import SimThread


def _shape(node: SyncNode, prefix: str) -> dict[str, tuple]:
    """The subtree below ``node``: relative path → what a browsing client sees."""
    out: dict[str, tuple] = {}
    for child in node.get_children():
        name = child.read_browse_name().Name
        path = f"{prefix}/{name}"
        node_class = child.read_node_class()
        type_definition = child.read_type_definition()
        identifier = child.nodeid.Identifier
        facts: tuple = (node_class, type_definition)
        if node_class == ua.NodeClass.Variable:
            facts += (
                child.read_data_type(),
                child.read_attribute(ua.AttributeIds.AccessLevel).Value.Value,
            )
            if name == "EURange":
                facts += (child.read_value().Low, child.read_value().High)
            if name == "EngineeringUnits":
                facts += (child.read_value().UnitId,)
        out[path] = (*facts, identifier.split(".", 1)[1] if "." in identifier else "")
        out.update(_shape(child, path))
    return out


def test_every_instance_matches_the_first_of_its_type(served: SimThread) -> None:
    sim = served.sim
    assert sim.inventory is not None and sim.opcua is not None
    by_type: dict[str, list[str]] = {}
    for device in sim.inventory.devices:
        by_type.setdefault(device.equipment, []).append(device.name)
    with Client(sim.opcua.endpoint, timeout=30) as client:
        idx = client.get_namespace_index(f"urn:twin:{sim.inventory.site}:devices")
        for equipment, names in by_type.items():
            first = client.get_node(ua.NodeId(names[0], idx))
            reference = _shape(first, "")
            assert reference, equipment
            for name in {names[-1], names[len(names) // 2]} - {names[0]}:
                device = client.get_node(ua.NodeId(name, idx))
                assert device.read_display_name().Text == name
                assert device.read_browse_name().Name == name
                assert device.read_type_definition() == first.read_type_definition()
                assert _shape(device, "") == reference, (equipment, name)
