"""twin.sinks: InfluxDB writers behind a durable SQLite spool (see SCHEMA.md).

Records go in through :class:`Sink` (``write``), land in a :class:`Spool` (or a
memory buffer), and leave in batches through an :class:`InfluxV2Writer` or
:class:`InfluxV1Writer`, deleted only once the database acknowledged them.
"""

from twin.sinks.errors import (
    SinkError,
    SpoolBusyError,
    SpoolFullError,
    TransientWriteError,
    WriteRejected,
)
from twin.sinks.influx import InfluxV1Writer, InfluxV2Writer, RetryPolicy
from twin.sinks.record import Quality, Record, encode_line, encode_lines
from twin.sinks.replay import ReplayResult, replay
from twin.sinks.sink import Sink, SinkStatus
from twin.sinks.spool import Spool

__all__ = [
    "InfluxV1Writer",
    "InfluxV2Writer",
    "Quality",
    "Record",
    "ReplayResult",
    "RetryPolicy",
    "Sink",
    "SinkError",
    "SinkStatus",
    "Spool",
    "SpoolBusyError",
    "SpoolFullError",
    "TransientWriteError",
    "WriteRejected",
    "encode_line",
    "encode_lines",
    "replay",
]
