"""A writer process for the SIGKILL test (run as a script, not collected by pytest).

    python sink_writer_proc.py produce {v1,v2} URL SPOOL MEASUREMENT T0_NS COUNT
    python sink_writer_proc.py drain   {v1,v2} URL SPOOL

``produce`` appends records 0..COUNT-1 in chunks through a spooled sink and prints
``appended N`` after each append has returned (N records are then durable), until
it is killed. ``drain`` reopens the same spool, sends what is left and prints
``drained P`` (P lines still pending: 0 when all went through).
v1 credentials come from INFLUX_USERNAME / INFLUX_PASSWORD, like the CLI.
"""

from __future__ import annotations

import os
import sys
import time

from twin.sinks.influx import InfluxV1Writer, InfluxV2Writer, RetryPolicy
from twin.sinks.record import Record
from twin.sinks.sink import Sink
from twin.sinks.spool import Spool

DEVICES = 20
CHUNK = 300


def record(measurement: str, t0_ns: int, index: int) -> Record:
    """Record number ``index``: deterministic, so the test can recompute it."""
    device = f"d{index % DEVICES:02d}"
    step = index // DEVICES
    return Record(
        measurement,
        {"site": "sh1", "device": device},
        {"power_kw": ((index * 7919) % 1_000_003) / 1000},
        t0_ns + step * 1_000_000,  # 1 ms apart per series: VictoriaMetrics keeps ms
    )


def main(argv: list[str]) -> int:
    mode, api, url, spool_dir = argv[:4]
    if api == "v1":
        writer = InfluxV1Writer(
            url,
            "twin",
            username=os.environ.get("INFLUX_USERNAME"),
            password=os.environ.get("INFLUX_PASSWORD"),
        )
    else:
        writer = InfluxV2Writer(url, "twin-org", "twin", "any-token")
    sink = Sink(
        writer,
        Spool(spool_dir),
        batch_size=5000,
        flush_interval=0.5,
        retry=RetryPolicy(initial_delay=0.2, max_delay=1.0),
    )
    if mode == "drain":
        sink.flush(timeout=120)
        print(f"drained {sink.queue.pending()}", flush=True)
        sink.close()
        return 0
    measurement, t0_ns, count = argv[4], int(argv[5]), int(argv[6])
    for start in range(0, count, CHUNK):
        chunk = [record(measurement, t0_ns, i) for i in range(start, min(count, start + CHUNK))]
        sink.write(chunk)
        print(f"appended {start + len(chunk)}", flush=True)
        time.sleep(0.01)  # a collector tick, roughly: the kill must land mid-stream
    sink.close(timeout=120)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
