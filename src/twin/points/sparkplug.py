"""Sparkplug B payloads and topics: what ``--publish mqtt://`` puts on the broker.

Sparkplug B (Eclipse Foundation, v3.0) is how SCADA and IIoT tools (Ignition, EMQX,
HiveMQ, Neuron, ThingsBoard) expect plant data on MQTT: topics
``spBv1.0/<group>/<NBIRTH|NDATA|NDEATH|DBIRTH|DDATA|DDEATH>/<edge node>[/<device>]``
and protobuf payloads of metrics. Here the group is the site, the edge node is the
collector, and each registry device is a Sparkplug device.

The payload schema is the specification's ``sparkplug_b.proto`` (Eclipse Tahu,
package ``org.eclipse.tahu.protobuf``, proto2), with the field numbers and data
type codes it gives: ``Payload`` {timestamp 1, metrics 2, seq 3, uuid 4, body 5},
``Metric`` {name 1, alias 2, timestamp 3, datatype 4, is_historical 5,
is_transient 6, is_null 7, metadata 8, properties 9, int_value 10, long_value 11,
float_value 12, double_value 13, boolean_value 14, string_value 15, bytes_value 16},
``PropertySet`` {keys 1, values 2}, ``PropertyValue`` {type 1, is_null 2, int_value
3, long_value 4, float_value 5, double_value 6, boolean_value 7, string_value 8};
data types Int64 4, UInt64 8, Double 10, Boolean 11, String 12. The messages are
built from that table at import (``descriptor_pb2``), so there is no generated code;
the parts of the schema we never send (datasets, templates, file metadata) are
left out, which any decoder with the full schema reads as absent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = [
    "BOOLEAN",
    "DOUBLE",
    "INT64",
    "NAMESPACE",
    "STRING",
    "UINT64",
    "Metric",
    "decode",
    "encode",
    "topic",
]

NAMESPACE = "spBv1.0"
INT64, UINT64, DOUBLE, BOOLEAN, STRING = 4, 8, 10, 11, 12

_F = descriptor_pb2.FieldDescriptorProto
_OPTIONAL, _REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
# (name, number, type, label, message type, oneof index)
_SCHEMA: dict[str, list[tuple[str, int, int, int, str | None, int | None]]] = {
    "Payload": [
        ("timestamp", 1, _F.TYPE_UINT64, _OPTIONAL, None, None),
        ("metrics", 2, _F.TYPE_MESSAGE, _REPEATED, "Payload.Metric", None),
        ("seq", 3, _F.TYPE_UINT64, _OPTIONAL, None, None),
        ("uuid", 4, _F.TYPE_STRING, _OPTIONAL, None, None),
        ("body", 5, _F.TYPE_BYTES, _OPTIONAL, None, None),
    ],
    "Metric": [
        ("name", 1, _F.TYPE_STRING, _OPTIONAL, None, None),
        ("alias", 2, _F.TYPE_UINT64, _OPTIONAL, None, None),
        ("timestamp", 3, _F.TYPE_UINT64, _OPTIONAL, None, None),
        ("datatype", 4, _F.TYPE_UINT32, _OPTIONAL, None, None),
        ("is_historical", 5, _F.TYPE_BOOL, _OPTIONAL, None, None),
        ("is_transient", 6, _F.TYPE_BOOL, _OPTIONAL, None, None),
        ("is_null", 7, _F.TYPE_BOOL, _OPTIONAL, None, None),
        ("properties", 9, _F.TYPE_MESSAGE, _OPTIONAL, "Payload.PropertySet", None),
        ("int_value", 10, _F.TYPE_UINT32, _OPTIONAL, None, 0),
        ("long_value", 11, _F.TYPE_UINT64, _OPTIONAL, None, 0),
        ("float_value", 12, _F.TYPE_FLOAT, _OPTIONAL, None, 0),
        ("double_value", 13, _F.TYPE_DOUBLE, _OPTIONAL, None, 0),
        ("boolean_value", 14, _F.TYPE_BOOL, _OPTIONAL, None, 0),
        ("string_value", 15, _F.TYPE_STRING, _OPTIONAL, None, 0),
        ("bytes_value", 16, _F.TYPE_BYTES, _OPTIONAL, None, 0),
    ],
    "PropertySet": [
        ("keys", 1, _F.TYPE_STRING, _REPEATED, None, None),
        ("values", 2, _F.TYPE_MESSAGE, _REPEATED, "Payload.PropertyValue", None),
    ],
    "PropertyValue": [
        ("type", 1, _F.TYPE_UINT32, _OPTIONAL, None, None),
        ("is_null", 2, _F.TYPE_BOOL, _OPTIONAL, None, None),
        ("int_value", 3, _F.TYPE_UINT32, _OPTIONAL, None, 0),
        ("long_value", 4, _F.TYPE_UINT64, _OPTIONAL, None, 0),
        ("float_value", 5, _F.TYPE_FLOAT, _OPTIONAL, None, 0),
        ("double_value", 6, _F.TYPE_DOUBLE, _OPTIONAL, None, 0),
        ("boolean_value", 7, _F.TYPE_BOOL, _OPTIONAL, None, 0),
        ("string_value", 8, _F.TYPE_STRING, _OPTIONAL, None, 0),
    ],
}
_PACKAGE = "org.eclipse.tahu.protobuf"


def _build() -> type:
    file = descriptor_pb2.FileDescriptorProto(
        name="twin_sparkplug_b.proto", package=_PACKAGE, syntax="proto2"
    )
    payload = file.message_type.add(name="Payload")
    for name, fields in _SCHEMA.items():
        message = payload if name == "Payload" else payload.nested_type.add(name=name)
        if any(oneof is not None for *_, oneof in fields):
            message.oneof_decl.add(name="value")
        for field_name, number, kind, label, type_name, oneof in fields:
            field = message.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = f".{_PACKAGE}.{type_name}"
            if oneof is not None:
                field.oneof_index = oneof
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.Payload"))


Payload = _build()


@dataclass(frozen=True, slots=True)
class Metric:
    """One Sparkplug metric: a value (None: is_null) with its type, name or alias.

    ``quality`` is twin's point quality (0 good, 1 stale, 2 bad), sent as the
    metric property ``Quality`` as Ignition reads it (192 good, 500 stale, 0 bad).
    """

    name: str | None
    alias: int | None
    datatype: int
    value: float | bool | str | int | None
    timestamp_ms: int | None = None
    quality: int | None = None
    unit: str | None = None
    historical: bool = False  # sent late, after an outage (Sparkplug's is_historical)


#: twin quality → the OPC DA quality codes Ignition and most Sparkplug hosts read
QUALITY_CODES = {0: 192, 1: 500, 2: 0}


def encode(metrics: Iterable[Metric], timestamp_ms: int, seq: int | None) -> bytes:
    """A Sparkplug B payload; ``seq`` is None only in an NDEATH (the spec's rule)."""
    payload = Payload(timestamp=timestamp_ms)
    if seq is not None:
        payload.seq = seq
    for m in metrics:
        out = payload.metrics.add()
        if m.name is not None:
            out.name = m.name
        if m.alias is not None:
            out.alias = m.alias
        if m.timestamp_ms is not None:
            out.timestamp = m.timestamp_ms
        out.datatype = m.datatype
        if m.historical:
            out.is_historical = True
        value = m.value
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            out.is_null = True
        elif m.datatype == DOUBLE:
            out.double_value = float(value)
        elif m.datatype == BOOLEAN:
            out.boolean_value = bool(value)
        elif m.datatype in (INT64, UINT64):
            # Sparkplug carries signed 64-bit values in the unsigned field, two's complement.
            out.long_value = int(value) & 0xFFFF_FFFF_FFFF_FFFF
        else:
            out.string_value = str(value)
        keys, values = [], []
        if m.quality is not None:
            keys.append("Quality")
            values.append(("int_value", 3, QUALITY_CODES.get(m.quality, 0)))  # 3: Int32
        if m.unit:
            keys.append("engUnit")
            values.append(("string_value", STRING, m.unit))
        if keys:
            out.properties.keys.extend(keys)
            for field_name, kind, v in values:
                pv = out.properties.values.add(type=kind)
                setattr(pv, field_name, v)
    return payload.SerializeToString()


def decode(data: bytes) -> dict:
    """A payload as plain data (for tests and ``twin fleet``)."""
    payload = Payload()
    payload.ParseFromString(data)
    metrics = []
    for m in payload.metrics:
        kind = m.WhichOneof("value")
        value = None if m.is_null or kind is None else getattr(m, kind)
        props = dict(
            zip(
                m.properties.keys,
                (getattr(v, v.WhichOneof("value")) for v in m.properties.values),
                strict=True,
            )
        )
        metrics.append(
            {
                "name": m.name if m.HasField("name") else None,
                "alias": m.alias if m.HasField("alias") else None,
                "datatype": m.datatype,
                "value": value,
                "timestamp": m.timestamp if m.HasField("timestamp") else None,
                "historical": m.is_historical,
                "properties": props,
            }
        )
    return {
        "timestamp": payload.timestamp,
        "seq": payload.seq if payload.HasField("seq") else None,
        "metrics": metrics,
    }


def topic(group: str, kind: str, edge_node: str, device: str | None = None) -> str:
    """``spBv1.0/group/KIND/edge[/device]``; the ids may not hold ``/ + #``.

    >>> topic("aidc-10mw", "DDATA", "collector-1", "ups-1")
    'spBv1.0/aidc-10mw/DDATA/collector-1/ups-1'
    """
    parts = [NAMESPACE, group, kind, edge_node] + ([device] if device else [])
    return "/".join(_id(p) for p in parts)


def _id(text: str) -> str:
    # MQTT topic levels may not contain the separators and wildcards.
    return text.replace("/", "_").replace("+", "_").replace("#", "_")
