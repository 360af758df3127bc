"""Sink throughput against a raw bulk HTTP POST of the same line protocol.

    .venv/bin/python bench/sinks.py [--records N] [--batch N] [--runs N]

Starts Debian's ``influxd`` (v1 ``/write``) and ``victoria-metrics`` (v2
``/api/v2/write``) on free loopback ports in a temporary directory, and for each
server measures, in interleaved runs:

- raw: the peer, the limit. The same lines, pre-encoded and pre-joined into bodies of
  the same batch size, POSTed one after the other on one keep-alive
  ``http.client`` connection, uncompressed. It pays nothing but the server.
- raw gzip: the same bodies gzip-compressed (level 1, as the sink) beforehand, with
  ``Content-Encoding: gzip``: what the server's decompression alone costs, so the
  ceiling of a sink that sends gzip (the default). Context, not a target.
- sink: ``Sink(writer, None)``: from prebuilt Records to acknowledged batches
  (encoding, batching, gzip as configured, one request in flight), no spool.
- sink+spool: the same with the durable SQLite spool in front (fsync policy as
  given; append, read back, delete on acknowledgement).

Each run writes new points (timestamps shifted per run). Prints medians in lines/s
and the ratio to raw, side by side. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "sinks"))  # the test suite's server fixtures

from common import row  # noqa: E402
from sinkservers import InfluxServer, VictoriaServer  # noqa: E402

from twin.sinks.influx import InfluxV1Writer, InfluxV2Writer  # noqa: E402
from twin.sinks.record import LineEncoder, Record  # noqa: E402
from twin.sinks.sink import Sink  # noqa: E402
from twin.sinks.spool import Spool  # noqa: E402

DEVICES = 200


def make_records(count: int, t0_ns: int) -> list[Record]:
    """A rack-level stream: 200 racks, two float fields each, 1 ms apart per rack."""
    return [
        Record(
            "rack",
            {"site": "sh1", "hall": "h1", "device": f"rack{i % DEVICES:03d}"},
            {
                "power_kw": ((i * 7919) % 1_000_003) / 1000,
                "t_inlet_c": 20 + (i % 1000) / 100,
            },
            t0_ns + (i // DEVICES) * 1_000_000,
        )
        for i in range(count)
    ]


def raw_post(url: str, path: str, headers: dict[str, str], bodies: list[bytes]) -> float:
    """POST every body on one keep-alive connection; seconds taken."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    start = time.perf_counter()
    for body in bodies:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status >= 300:
            raise RuntimeError(f"raw POST: HTTP {response.status}")
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed


def sink_run(make_writer, records: list[Record], batch: int, spool_dir: Path | None, fsync: str):
    """Records in, everything acknowledged; seconds taken."""
    spool = Spool(spool_dir, fsync=fsync) if spool_dir is not None else None  # type: ignore[arg-type]
    sink = Sink(make_writer(), spool, batch_size=batch, flush_interval=0.2)
    start = time.perf_counter()
    for index in range(0, len(records), 1000):  # the collector hands over ticks
        sink.write(records[index : index + 1000])
    if not sink.flush(timeout=600):
        raise RuntimeError("sink did not drain")
    elapsed = time.perf_counter() - start
    if sink.status.sent != len(records):
        raise RuntimeError(f"sent {sink.status.sent} of {len(records)}")
    sink.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="lines per run")
    parser.add_argument("--batch", type=int, default=5000, help="lines per request")
    parser.add_argument("--runs", type=int, default=5, help="runs per variant (median)")
    parser.add_argument("--fsync", choices=("full", "normal"), default="full")
    parser.add_argument("--no-gzip", action="store_true", help="sink sends uncompressed")
    options = parser.parse_args()
    gzip_on = not options.no_gzip
    work = Path(tempfile.mkdtemp(prefix="twin-bench-sinks-"))
    influx = InfluxServer(work / "influx", auth=False)
    victoria = VictoriaServer(work / "victoria")
    influx.start()
    victoria.start()
    try:
        t0 = (int(time.time()) - 12 * 3600) * 1_000_000_000
        targets = {
            "InfluxDB 1.6 /write (v1)": (
                influx.url,
                "/write?db=twin&precision=ns",
                {"Content-Type": "text/plain; charset=utf-8"},
                lambda: InfluxV1Writer(influx.url, "twin", gzip=gzip_on),
            ),
            "VictoriaMetrics /api/v2/write": (
                victoria.url,
                "/api/v2/write?org=o&bucket=b&precision=ns",
                {"Content-Type": "text/plain; charset=utf-8", "Authorization": "Token t"},
                lambda: InfluxV2Writer(victoria.url, "o", "b", "t", gzip=gzip_on),
            ),
        }
        print(
            f"{options.records} lines per run, batch {options.batch}, median of "
            f"{options.runs} runs; sink gzip {'on' if gzip_on else 'off'}, "
            f"spool fsync={options.fsync}; raw = keep-alive POST of pre-joined bodies"
        )
        print(
            f"{'server':32} {'raw lines/s':>12} {'raw gzip':>9} {'ratio':>6} {'sink':>10} "
            f"{'ratio':>6} {'sink+spool':>11} {'ratio':>6}"
        )
        run = 0
        for name, (url, path, headers, make_writer) in targets.items():
            times: dict[str, list[float]] = {"raw": [], "rawgz": [], "sink": [], "spool": []}
            for _ in range(options.runs):
                for variant in times:
                    run += 1
                    records = make_records(options.records, t0 + run * 10**12)
                    if variant in ("raw", "rawgz"):
                        lines = LineEncoder().encode_many(records)
                        bodies = [
                            "\n".join(lines[i : i + options.batch]).encode()
                            for i in range(0, len(lines), options.batch)
                        ]
                        sent = headers
                        if variant == "rawgz":
                            bodies = [gzip.compress(body, compresslevel=1) for body in bodies]
                            sent = {**headers, "Content-Encoding": "gzip"}
                        times[variant].append(raw_post(url, path, sent, bodies))
                    else:
                        spool_dir = work / f"spool{run}" if variant == "spool" else None
                        times[variant].append(
                            sink_run(make_writer, records, options.batch, spool_dir, options.fsync)
                        )
            rate = {k: options.records / statistics.median(v) for k, v in times.items()}
            print(
                f"{name:32} {rate['raw']:12,.0f} {rate['rawgz']:9,.0f} "
                f"{rate['rawgz'] / rate['raw']:5.2f}x {rate['sink']:10,.0f} "
                f"{rate['sink'] / rate['raw']:5.2f}x {rate['spool']:11,.0f} "
                f"{rate['spool'] / rate['raw']:5.2f}x"
            )
            row(f"raw gzip POST lines/s vs raw POST, {name}", rate["rawgz"], rate["raw"], "-")
            row(f"sink lines/s vs raw POST, {name}", rate["sink"], rate["raw"], ">= 0.7x")
            row(f"sink+spool lines/s vs raw POST, {name}", rate["spool"], rate["raw"], ">= 0.6x")
    finally:
        influx.stop()
        victoria.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
