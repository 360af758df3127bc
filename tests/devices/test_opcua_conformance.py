"""The OPC UA server as an independent client (node-opcua) and Part 4/5/8 expect it."""

from __future__ import annotations

from pathlib import Path

import pytest
from asyncua import ua
from asyncua.sync import Client

from tests.peers.nodeopcua import probe

from .simthread import SimThread

NS = "ns=2;s="


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("node-opcua-pki")


def test_node_opcua_sample_client_flow_get_monitored_items(served: SimThread, pki: Path) -> None:
    """A subscription, its items, then Server.GetMonitoredItems, as node-opcua's sample does."""
    assert served.sim.opcua is not None
    nodes = [f"{NS}chiller-1.power_kw", f"{NS}ats-A.position", f"{NS}hall-1-ups-A1.output_kw"]
    answer = probe(served.sim.opcua.endpoint, pki, {"subscribe": nodes})
    listed = answer["getMonitoredItems"]
    assert listed["status"] == "Good", listed
    assert sorted(listed["serverHandles"]) == sorted(answer["ownServerHandles"])
    assert sorted(listed["clientHandles"]) == sorted(answer["ownClientHandles"])
    # pairs line up: the i-th server handle belongs to the i-th client handle
    pairs = dict(zip(listed["serverHandles"], listed["clientHandles"], strict=True))
    own = dict(zip(answer["ownServerHandles"], answer["ownClientHandles"], strict=True))
    assert pairs == own
    assert set(answer["values"]) == set(nodes)
    assert all(v["status"] == "Good" for v in answer["values"].values()), answer["values"]


def test_get_monitored_items_of_another_session_or_no_subscription(served: SimThread) -> None:
    assert served.sim.opcua is not None
    endpoint = served.sim.opcua.endpoint
    method = ua.NodeId(ua.ObjectIds.Server_GetMonitoredItems)
    with Client(endpoint, timeout=30) as owner, Client(endpoint, timeout=30) as other:

        class Handler:
            def datachange_notification(self, *args: object) -> None:
                pass

        subscription = owner.create_subscription(500, Handler())
        handle = subscription.subscribe_data_change(
            owner.get_node(ua.NodeId("chiller-1.power_kw", 2))
        )
        server = owner.nodes.server
        number = ua.Variant(subscription.aio_obj.subscription_id, ua.VariantType.UInt32)
        server_handles, client_handles = server.call_method(method, number)
        assert list(server_handles) == [handle] and len(client_handles) == 1
        with pytest.raises(ua.UaStatusCodeError) as theirs:
            other.nodes.server.call_method(method, number)
        assert theirs.value.code == ua.StatusCodes.BadUserAccessDenied
        with pytest.raises(ua.UaStatusCodeError) as unknown:
            server.call_method(method, ua.Variant(987654, ua.VariantType.UInt32))
        assert unknown.value.code == ua.StatusCodes.BadSubscriptionIdInvalid
        subscription.delete()


def test_writes_to_read_only_nodes_are_bad_not_writable(served: SimThread, pki: Path) -> None:
    """Part 4, 5.10.4: BadNotWritable where the access level forbids writing."""
    assert served.sim.opcua is not None
    writes = [
        [f"{NS}chiller-1.power_kw", "Float", 1.0],  # a measurement
        [f"{NS}ats-A.position", "Int16", 1],
        [f"{NS}chiller-1.no_such_point", "Float", 1.0],
    ]
    answer = probe(served.sim.opcua.endpoint, pki, {"write": writes})
    assert answer["writes"] == ["BadNotWritable", "BadNotWritable", "BadNodeIdUnknown"]
    with Client(served.sim.opcua.endpoint, timeout=30) as client:  # and asyncua agrees
        node = client.get_node(ua.NodeId("chiller-1.power_kw", 2))
        with pytest.raises(ua.UaStatusCodeError) as refused:
            node.write_value(ua.DataValue(ua.Variant(1.0, ua.VariantType.Float)))
        assert refused.value.code == ua.StatusCodes.BadNotWritable
        with pytest.raises(ua.UaStatusCodeError) as attribute:
            node.write_attribute(
                ua.AttributeIds.DisplayName, ua.DataValue(ua.Variant(ua.LocalizedText("x")))
            )
        assert attribute.value.code == ua.StatusCodes.BadNotWritable


def test_unitless_integers_with_a_range_have_an_eurange(served: SimThread, pki: Path) -> None:
    assert served.sim.opcua is not None
    reads = [
        f"{NS}ats-A.position.EURange",
        f"{NS}hall-1-ups-A1.modules_online.EURange",
        f"{NS}hall-1-ups-A1.output_kw.EURange",
    ]
    answer = probe(served.sim.opcua.endpoint, pki, {"read": reads})
    ranges = [(r["status"], r["value"]["low"], r["value"]["high"]) for r in answer["reads"]]
    assert ranges == [("Good", 0, 2), ("Good", 0, 64), ("Good", 0, 1500)]
    with Client(served.sim.opcua.endpoint, timeout=30) as client:
        position = client.get_node(ua.NodeId("ats-A.position", 2))
        assert position.read_type_definition() == ua.NodeId(ua.ObjectIds.AnalogItemType)
        names = {child.read_browse_name().Name for child in position.get_children()}
        assert names == {"EURange"}  # no unit, so no EngineeringUnits
