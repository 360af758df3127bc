"""What a notification says: the JSON payload of an event and its HMAC signature.

:func:`payload` is the body every target gets (a webhook's POST, an e-mail's
attachment, a command's standard input); :func:`sign` and :func:`verify` are the
``X-Twin-Signature`` a receiver checks. Apart from the notifier and the delivery
because it is the contract with receivers (``docs/notifications.md``), versioned by
:data:`PAYLOAD_VERSION`, and the part a receiver's own code may import.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any

from twin.live.alarms import Alarm

PAYLOAD_VERSION = 1
SIGNATURE_HEADER = "X-Twin-Signature"


def payload(event: str, alarm: Alarm, now: float, site: str, why: str, **extra: Any) -> dict:
    """The JSON body of one event (docs/notifications.md)."""
    data = alarm.json()
    return {
        "version": PAYLOAD_VERSION,
        "id": str(uuid.uuid4()),
        "event": event,
        "site": site,
        "time": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
        "time_unix": round(now, 3),
        "why": why,
        "alarm": {
            "key": alarm.key,
            "rule": data["rule"],
            "source": data["source"],
            "device": alarm.device or alarm.source,
            "priority": data["priority"],
            "state": data["state"],
            "active": data["active"],
            "value": data["value"],
            "unit": data["unit"],
            "message": data["message"],
            "since_unix": round(alarm.since, 3),
            "group": data["group"],
            "first_out": data["first_out"],
        },
        **extra,
    }


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body.

    >>> sign(b"key", b"{}")[:15]
    'sha256=a777724d'
    """
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` (constant-time compare)."""
    return hmac.compare_digest(sign(secret, body), header)
