"""Does a refactor of the plant's step change a number? (not a test, not a bench row)

Steps the plant of several sites through several scenarios, live (1 s) and at
study steps (60 s), and records every reading, every ledger term and the plant's
state after every step. ``dump`` writes them to an ``.npz``; ``compare`` checks two
dumps agree to ``--rtol`` (default 1e-12) and says how many values are
bit-identical. Run it on the code before a change and after:

    git stash; .venv/bin/python bench/plant_equal.py dump /tmp/before.npz; git stash pop
    .venv/bin/python bench/plant_equal.py dump /tmp/after.npz
    .venv/bin/python bench/plant_equal.py compare /tmp/before.npz /tmp/after.npz

A dump of the code from before typed readings (``plant.readings`` a dict) compares
with ``--key-map bench/plant_equal_keys.txt``, which names each old key's attribute.

Scenario events are moved to 100 s after the warm-up, so the 600 s live run sees
them (and, for the short ones, their end).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from twin.errors import ConfigError
from twin.plant import scenarios
from twin.plant.layout import assemble
from twin.plant.model import Plant
from twin.site import load_site

SITES = ["aidc-10mw", "aidc-10mw-dry", "legacy-air-2mw", "aidc-100mw", "plant-room"]
SCENARIOS = [
    None,
    "hall-1-cooling-lost",
    "utility-loss",
    "tower-fan-failure",
    "cdu-pump-trip",
    "chiller-trip",
    "load-step",
]
RUNS = [(1.0, 600), (60.0, 200)]
FIRST_EVENT_S = 100.0

# The plant's state besides its readings: a change that moved a number would show here
# a step before it shows in a reading.
STATE = [
    "t_tcs_supply",
    "t_tcs_return",
    "t_air",
    "t_fw",
    "t_chw",
    "t_cw",
    "soc",
    "system_alive",
    "walk_in",
    "pump_running",
    "mode",
    "generator_output_w",
    "chiller_ready_at",
]


def flatten(readings: object) -> dict[str, np.ndarray]:
    """Readings as ``name → array``: a dict's keys, or a typed readings object's
    ``group.field`` attributes (:mod:`twin.plant.readings`)."""
    if isinstance(readings, dict):
        return {k: np.asarray(v, dtype=float) for k, v in readings.items()}
    out: dict[str, np.ndarray] = {}
    for group in dataclasses.fields(readings):  # type: ignore[arg-type]
        value = getattr(readings, group.name)
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                out[f"{group.name}.{f.name}"] = np.asarray(getattr(value, f.name), dtype=float)
        else:
            out[group.name] = np.asarray(value, dtype=float)
    return out


def run(site: str, scenario: str | None, dt: float, steps: int) -> dict[str, np.ndarray] | None:
    plant = Plant(assemble(load_site(site)), start_s=180 * 86400.0)
    plant.warm_up()
    if scenario is not None:
        try:
            scenarios.attach(plant, scenarios.load_scenario(scenario))
        except ConfigError:
            return None  # the scenario names equipment this site does not have
        shift = plant.events[0][0] - plant.t_s - FIRST_EVENT_S
        plant.events = [(t - shift, e) for t, e in plant.events]
    series: dict[str, list[np.ndarray]] = {}
    for i in range(steps):
        if i == steps // 2:
            plant.command("setpoint", point="t_chw_supply_c", value=plant.t_chw_supply_set + 1.0)
        plant.step(dt)
        values = flatten(plant.readings)
        for f in dataclasses.fields(plant.ledger):
            values[f"ledger.{f.name}"] = np.asarray(getattr(plant.ledger, f.name), dtype=float)
        for name in STATE:
            values[f"state.{name}"] = np.asarray(getattr(plant, name), dtype=float)
        for name, value in values.items():
            series.setdefault(name, []).append(value.ravel())
    return {name: np.stack(v) for name, v in series.items()}


def dump(path: Path, key_map: dict[str, str] | None = None) -> None:
    arrays: dict[str, np.ndarray] = {}
    for site in SITES:
        for scenario in SCENARIOS:
            for dt, steps in RUNS:
                result = run(site, scenario, dt, steps)
                label = f"{site}|{scenario or 'none'}|{dt:g}"
                if result is None:
                    print(f"{label}: skipped (targets not on site)", file=sys.stderr)
                    continue
                for name, value in result.items():
                    arrays[f"{label}|{name}"] = value
                print(f"{label}: {len(result)} series", file=sys.stderr, flush=True)
    np.savez_compressed(path, **arrays)


def compare(before: Path, after: Path, rtol: float, key_map: Path | None) -> int:
    a = np.load(before)
    b = np.load(after)
    rename: dict[str, str] = {}
    if key_map is not None:  # old reading name → new one, one "old new" pair a line
        for line in key_map.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                old, new = line.split()
                rename[old] = new

    def new_key(key: str) -> str:
        site, scenario, dt, name = key.split("|", 3)
        return f"{site}|{scenario}|{dt}|{rename.get(name, name)}"

    missing = [k for k in a.files if new_key(k) not in b.files]
    extra = sorted(set(b.files) - {new_key(k) for k in a.files})
    bad = []
    identical = values = 0
    for key in a.files:
        other = new_key(key)
        if other not in b.files:
            continue
        x, y = a[key], b[other]
        if x.shape != y.shape:
            bad.append(f"{key}: shape {x.shape} != {y.shape}")
            continue
        values += x.size
        same = (x == y) | (np.isnan(x) & np.isnan(y))
        identical += int(same.sum())
        if not np.allclose(x, y, rtol=rtol, atol=0.0, equal_nan=True):
            worst = np.nanmax(np.abs(x - y) / np.maximum(np.abs(x), 1e-300))
            bad.append(f"{key}: differs (worst relative {worst:.3g})")
    print(f"{len(a.files)} series, {values} values, {identical} bit-identical")
    for line in bad[:40]:
        print("DIFF", line)
    for key in missing[:40]:
        print("MISSING", key)
    for key in extra[:40]:
        print("EXTRA", key)
    ok = not bad and not missing and not extra
    print("equal" if ok else f"NOT equal: {len(bad)} differ, {len(missing)} missing")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("path", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--rtol", type=float, default=1e-12)
    c.add_argument("--key-map", type=Path, help="file of 'old new' reading names")
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.path)
        return 0
    return compare(args.before, args.after, args.rtol, args.key_map)


if __name__ == "__main__":
    sys.exit(main())
