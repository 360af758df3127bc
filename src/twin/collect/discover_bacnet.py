"""``twin discover bacnet``: Who-Is, object lists, a registry draft the integrator edits.

What an integrator otherwise does by hand from a PDF point list: find the devices
on the wire (Who-Is to each ``host:port`` of a range the user gives, within
:data:`MAX_PORTS`, plus an optional broadcast), read each device's ``object-list``
and, for every analog, binary and multi-state object, its ``object-name``,
``description`` and ``units`` (ReadPropertyMultiple in batches), and write one
registry row per object: ``<device name>.<object name>`` with the device's
address, instance, the object type and instance, ``present-value``, the unit
mapped to ours where we have it (unknown BACnet units leave the unit empty and
say so in the description). Nothing is written to any device.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import re
from dataclasses import dataclass
from typing import Any, TextIO

from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from twin.collect.bacnet import BacnetClient, BacnetOptions
from twin.points.bacnet import COLUMNS, OBJECT_TYPES, UNIT_OF_BACNET

log = logging.getLogger(__name__)

MAX_PORTS = 1024  # one discovery asks at most this many addresses
BATCH = 16  # objects per ReadPropertyMultiple


@dataclass(frozen=True)
class Found:
    address: str  # host:port
    instance: int
    name: str


def parse_ports(text: str) -> list[int]:
    """``47808`` or ``47808-47900``; ValueError past :data:`MAX_PORTS` or outside 1..65535."""
    match = re.fullmatch(r"\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?", text)
    if not match:
        raise ValueError(f"expected PORT or FIRST-LAST, got {text!r}")
    first = int(match[1])
    last = int(match[2] or first)
    if not 1 <= first <= last <= 65535:
        raise ValueError(f"ports must satisfy 1 <= first <= last <= 65535, got {text!r}")
    if last - first + 1 > MAX_PORTS:
        raise ValueError(f"at most {MAX_PORTS} ports a discovery, got {last - first + 1}")
    return list(range(first, last + 1))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", name.strip()) or "unnamed"


async def _who_is(client: BacnetClient, addresses: list[str], timeout: float) -> list[Found]:
    app = client.app
    assert app is not None
    futures = [app.who_is(address=Address(a), timeout=timeout) for a in addresses]
    answers = await asyncio.gather(*futures, return_exceptions=True)
    seen: dict[tuple[str, int], Found] = {}
    for answer in answers:
        if isinstance(answer, BaseException):
            continue
        for i_am in answer:
            address = str(i_am.pduSource)
            if ":" not in address:  # bacpypes3 leaves out the standard port
                address = f"{address}:47808"
            instance = int(i_am.iAmDeviceIdentifier[1])
            seen.setdefault((address, instance), Found(address, instance, ""))
    return sorted(seen.values(), key=lambda f: (f.address, f.instance))


async def _read(client: BacnetClient, address: str, parameters: list, timeout: float) -> list:
    app = client.app
    assert app is not None
    try:
        result = await asyncio.wait_for(
            app.read_property_multiple(Address(address), parameters), timeout
        )
    except (TimeoutError, ErrorRejectAbortNack) as error:
        log.warning("%s: %s", address, type(error).__name__)
        return []
    return result if isinstance(result, list) else []


async def _device_rows(client: BacnetClient, found: Found, timeout: float) -> list[dict[str, str]]:
    device_id = ObjectIdentifier(("device", found.instance))
    head = await _read(client, found.address, [device_id, ["objectName", "objectList"]], timeout)
    values = {str(prop): value for _, prop, _, value in head}
    name = _safe(str(values.get("object-name") or f"device-{found.instance}"))
    objects = [
        ObjectIdentifier(o)
        for o in (values.get("object-list") or [])
        if not hasattr(o, "errorCode") and str(ObjectIdentifier(o)[0]) in OBJECT_TYPES
    ]
    rows: list[dict[str, str]] = []
    for start in range(0, len(objects), BATCH):
        parameters: list[Any] = []
        for oid in objects[start : start + BATCH]:
            wanted = ["objectName", "description"]
            if "binary" not in str(oid[0]) and "multi-state" not in str(oid[0]):
                wanted.append("units")
            parameters += [oid, wanted]
        details: dict[tuple, dict[str, Any]] = {}
        for oid, prop, _, value in await _read(client, found.address, parameters, timeout):
            if not hasattr(value, "errorCode"):
                details.setdefault(tuple(oid), {})[str(prop)] = value
        for oid in objects[start : start + BATCH]:
            info = details.get(tuple(oid), {})
            object_type, instance = str(oid[0]), int(oid[1])
            object_name = _safe(str(info.get("object-name") or f"{object_type}-{instance}"))
            description = str(info.get("description") or "")
            unit = ""
            units = info.get("units")
            if units is not None:
                unit = UNIT_OF_BACNET.get(int(units), "")
                if not unit and int(units) != 95:
                    description = f"{description} [BACnet unit {units}: not mapped]".strip()
            rows.append(
                {
                    "point": f"{name}.{object_name}",
                    "device": name,
                    "description": description,
                    "unit": unit,
                    "bacnet_address": found.address,
                    "bacnet_device": str(found.instance),
                    "bacnet_object_type": object_type,
                    "bacnet_object_instance": str(instance),
                    "bacnet_property": "present-value",
                }
            )
    return rows


async def discover(
    host: str,
    ports: list[int],
    timeout: float = 2.0,
    broadcast: str | None = None,
    bind: str = "127.0.0.1",
) -> list[dict[str, str]]:
    """Registry draft rows of every device that answered Who-Is."""
    client = BacnetClient(BacnetOptions(timeout=timeout, bind=bind))
    await client.start()
    try:
        addresses = [f"{host}:{port}" for port in ports]
        if broadcast:
            addresses.append(broadcast)
        found = await _who_is(client, addresses, timeout)
        rows: list[dict[str, str]] = []
        for device in found:
            rows += await _device_rows(client, device, timeout)
        return rows
    finally:
        client.close()


def write_draft(rows: list[dict[str, str]], stream: TextIO) -> None:
    """The draft as registry CSV (the columns ``twin check`` reads)."""
    header = ["point", "device", "description", "unit", *COLUMNS, "writable", "min", "max"]
    stream.write(
        "# registry draft written by twin discover bacnet: check units, name points, mark\n"
        "# setpoints writable with min and max, then run twin check on it\n"
    )
    writer = csv.DictWriter(stream, fieldnames=header, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
