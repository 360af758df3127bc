"""`twin run` end to end: latency, resident memory and a soak (not a test).

Runs ``twin run SITE --headless --json`` in a subprocess for ``--seconds`` (default
600: the issue's 10-minute soak of aidc-100mw at 1 Hz) and reads its status lines
(every 10 s: tasks, missed polls, resident memory of both processes) and its final JSON summary.
Prints, beside their limits: p50/p99 latency from a value's change in the plant to
its arrival in live state (limit: 2 poll intervals), resident memory growth after
warm-up (limit 5 %), task count growth (limit 0) and missed poll cycles (limit 0).

    .venv/bin/python bench/twin_run.py [SITE] [--seconds 600] [--protocols bacnet,snmp,modbus]

``--protocols`` passes the same to ``twin run``: the cooling plant read over BACnet/IP,
the UPSs and PDUs over SNMP, the rest over Modbus (issue 15: 0 missed polls after
warm-up); the rows are then named with the protocols.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile

from common import row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", default="aidc-100mw")
    parser.add_argument("--seconds", type=float, default=600.0, help="plant = wall seconds")
    parser.add_argument("--protocols", default="modbus", help="as twin run --protocols")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as spool:
        result = subprocess.run(
            [sys.executable, "-m", "twin.cli", "run", options.site, "--headless", "--json",
             "--duration", str(options.seconds), "--status-every", "10", "--spool", spool,
             "--protocols", options.protocols],
            capture_output=True, text=True, timeout=options.seconds * 3 + 600,
        )  # fmt: skip
    if result.returncode != 0:
        print(result.stderr[-3000:], file=sys.stderr)
        return 1
    summary = json.loads(result.stdout)
    pattern = re.compile(r"tasks (\d+)\s+missed polls (\d+)\s+rss (\d+) MB \(simulation (\d+) MB\)")
    samples = [tuple(map(int, m.groups())) for m in pattern.finditer(result.stderr)]
    warm = samples[len(samples) // 5] if samples else (0, 0, 0, 0)  # after the first fifth
    last = samples[-1] if samples else (0, 0, 0, 0)

    def growth(k: int) -> float:
        return (last[k] - warm[k]) / warm[k] * 100.0 if warm[k] else float("nan")

    def collector_growth() -> float:
        before, after = warm[2] - warm[3], last[2] - last[3]
        return (after - before) / before * 100.0 if before else float("nan")

    latency = summary["latency_ms"]
    rows = [
        ("latency p50, plant to live state [ms]", latency["p50"], 2000.0),
        ("latency p99, plant to live state [ms]", latency["p99"], 2000.0),
        ("resident memory at the end, both processes [MB]", summary["rss_mb"], float("nan")),
        ("resident memory growth after warm-up [%]", growth(2), 5.0),
        ("  of the simulation process [%]", growth(3), 5.0),
        ("  of the collector process [%]", collector_growth(), 5.0),
        ("asyncio task growth after warm-up", last[0] - warm[0], 0.0),
        ("missed poll cycles", summary["missed_polls"], 0.0),
    ]
    print(
        f"twin run {options.site}: {options.seconds:.0f} s, {summary['points_total']} points, "
        f"{summary['devices']['total']} devices, {summary['samples_collected']:,} samples"
    )
    print(f"{'figure':44} {'twin':>10} {'limit':>10}")
    if options.protocols != "modbus":
        rows = [(f"{name} ({options.protocols})", value, limit) for name, value, limit in rows]
        print(f"read with: {summary['read_with']}")
    for name, value, limit in rows:
        shown = "-" if value is None else f"{value:10.1f}"
        print(f"{name:44} {shown:>10} {limit:10.1f}")
        row(name, value, limit, f"<= {limit:g}" if limit == limit else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
