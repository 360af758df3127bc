"""One rule picks the protocol a point is read over (collector and alarms alike)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.points.protocols import PROTOCOLS, parse_protocols, protocol_of


@dataclass
class Row:
    """The addressing a registry row carries (the attributes protocol_of reads)."""

    modbus: bool = False
    bacnet: bool = False
    snmp: object | None = None
    opcua_node_id: str = ""
    opcua_endpoint: str = ""


EVERYTHING = Row(modbus=True, bacnet=True, snmp=object(), opcua_node_id="ns=2;s=x")


@pytest.mark.parametrize(
    ("row", "prefer", "endpoint", "expected"),
    [
        (EVERYTHING, "modbus", "", "modbus"),
        (EVERYTHING, ("bacnet", "snmp", "modbus"), "", "bacnet"),
        (EVERYTHING, ("snmp", "bacnet"), "", "snmp"),
        # preferred but absent: the next one the row has
        (Row(modbus=True, snmp=object()), ("bacnet", "snmp", "modbus"), "", "snmp"),
        (Row(modbus=True), ("bacnet", "snmp"), "", "modbus"),
        # a row with one addressing is read over it whatever the preference
        (Row(bacnet=True), "modbus", "", "bacnet"),
        (Row(snmp=object()), "modbus", "", "snmp"),
        (Row(opcua_node_id="ns=2;s=x"), "modbus", "", "opcua"),
        # OPC UA preferred: only where a server is known, else the row's Modbus
        (Row(modbus=True, opcua_node_id="ns=2;s=x"), "opcua", "", "modbus"),
        (Row(modbus=True, opcua_node_id="ns=2;s=x"), "opcua", "opc.tcp://h:4840", "opcua"),
        (
            Row(modbus=True, opcua_node_id="ns=2;s=x", opcua_endpoint="opc.tcp://h:4840"),
            "opcua", "", "opcua",
        ),
        # the alarms do not check the endpoint (twin monitor refused that case already)
        (Row(modbus=True, opcua_node_id="ns=2;s=x"), "opcua", None, "opcua"),
    ],
)  # fmt: skip
def test_the_first_preferred_protocol_the_row_has(row, prefer, endpoint, expected) -> None:  # type: ignore[no-untyped-def]
    assert protocol_of(row, prefer, endpoint) == expected


def test_a_list_is_parsed_in_order_and_mistakes_are_named() -> None:
    assert parse_protocols("bacnet,snmp,modbus") == ("bacnet", "snmp", "modbus")
    assert parse_protocols(" SNMP ") == ("snmp",)
    with pytest.raises(ValueError, match="unknown protocol 'ftp'; one or more of modbus"):
        parse_protocols("modbus,ftp")
    with pytest.raises(ValueError, match="'modbus' is listed twice"):
        parse_protocols("modbus,bacnet,modbus")
    with pytest.raises(ValueError, match="no protocol given"):
        parse_protocols(" , ")


@given(st.text(max_size=40))
def test_any_text_is_a_list_of_protocols_or_a_clear_error(text: str) -> None:
    try:
        parsed = parse_protocols(text)
    except ValueError as error:
        assert "protocol" in str(error)
    else:
        assert parsed and set(parsed) <= set(PROTOCOLS) and len(set(parsed)) == len(parsed)
