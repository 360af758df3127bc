"""Sample quality: one definition for both ends of the wire and for every sink.

A sample is *good* (fresh from the device), *stale* (no fresh value within its
stale time: the last good value is kept with its own timestamp) or *bad* (device
error, exception reply, decode failure, out of range: no value). InfluxDB records
carry it as the float field ``quality`` (0, 1, 2), so the numbers are part of the
stored schema and never change.
"""

from __future__ import annotations

import enum


class Quality(enum.IntEnum):
    """Quality of a sample; the integer is what the ``quality`` field stores."""

    GOOD = 0
    STALE = 1
    BAD = 2

    @property
    def label(self) -> str:
        """Lower-case name (``good``, ``stale``, ``bad``) as status lines and JSON print it."""
        return self.name.lower()
