"""Typed OPC UA values of a device point: its Variant type, its quantised value, Bad status.

A point's variable has the type of its registers (Float for scaled integers: the
engineering value they encode, quantised to the scale by :func:`quantise`, as the
Modbus side decodes it), and a value that is not good carries the Bad status of its
fault (:data:`BAD_STATUS`). Apart from the server because the address space, the
writes and each step's update all type values the same way, and the BACnet server
quantises with the same rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from asyncua import ua

from twin.devices.profiles import Point
from twin.points.codec import DATA_TYPES

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
