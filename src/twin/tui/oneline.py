"""The power chain as a one-line diagram: feeds → ATS → transformers → UPS/HVDC → PDUs → halls.

Every DCIM draws this view, and it is the one an operator reads during a utility
loss: which feed is lost, which ATS is on generator, which UPS or rectifier systems
are carrying the load from their batteries and how full those are. The layout is
worked out once from the registry (no site file is needed, so it works for real gear
too): each power device's *side* (the ``A``/``B`` of a 2N chain) comes from its
``group`` (``hall-1-hvdc/A``) or the last part of its name (``ats-A``, ``tx-B3``);
a PDU belongs to the system whose name is the longest prefix of its own
(``hall-1-hvdc-A1-pdu1`` → ``hall-1-hvdc-A1``); systems and PDUs carry their hall.

Per tick :meth:`OneLineModel.read` turns the latest values into a
:class:`OneLine`: plain numbers (NaN where a value is not known) that the view
writes with units; it reads index arrays worked out here, so a 100 MW site costs a
handful of numpy reductions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from twin.points.registry import PointDef

__all__ = ["HallLine", "OneLine", "OneLineModel", "SideLine"]

_SIDE_TOKEN = re.compile(r"^([A-Z])\d*$")
SYSTEM_EQUIPMENT = ("hvdc", "ups")


def side_of(device: str, group: str = "") -> str:
    """The side (``A``, ``B``…) of a power device, or ``""`` if it has none.

    >>> side_of("hall-1-hvdc-A1", "hall-1-hvdc/A"), side_of("tx-B3"), side_of("gen-2")
    ('A', 'B', '')
    """
    if "/" in group:
        return group.rsplit("/", 1)[1]
    match = _SIDE_TOKEN.match(device.rsplit("-", 1)[-1])
    return match.group(1) if match else ""


@dataclass(frozen=True, slots=True)
class HallLine:
    """One hall's share of one side: its UPS/HVDC systems and the PDUs behind them."""

    hall: str
    kind: str  # "hvdc", "ups" or "hvdc+ups"
    systems: int
    online: float  # systems reporting online (NaN: not known)
    on_battery: float  # systems on battery
    soc_min_pct: float
    output_kw: float
    runtime_min: float  # the lowest battery runtime of the hall's systems on battery
    pdus: int
    pdu_kw: float


@dataclass(frozen=True, slots=True)
class SideLine:
    side: str
    utility_available: float  # 1 / 0 / NaN
    ats: str  # the ATS device name, "" if none
    ats_on_utility: float
    ats_on_generator: float
    ats_kw: float
    transformers: int
    transformers_energised: float
    transformer_kw: float
    transformer_max_pct: float
    halls: tuple[HallLine, ...] = field(default_factory=tuple)

    @property
    def on_battery(self) -> bool:
        return any(h.on_battery > 0 for h in self.halls)


@dataclass(frozen=True, slots=True)
class OneLine:
    generators: int
    generators_running: float
    generator_kw: float
    sides: tuple[SideLine, ...]

    @property
    def empty(self) -> bool:
        return not self.sides


def _first(points: Sequence[PointDef], *fields: str) -> str | None:
    names = {p.name.split(".", 1)[1] if "." in p.name else p.name: p.name for p in points}
    for f in fields:
        if f in names:
            return names[f]
    return None


class _Sum:
    """Index arrays of one quantity over a set of devices; NaN-aware reductions."""

    def __init__(self, index: Mapping[str, int], nan_slot: int, names: list[str | None]) -> None:
        self.idx = np.array([index.get(n, nan_slot) if n else nan_slot for n in names], dtype=int)
        self.known = np.array([n is not None and n in index for n in names], dtype=bool)

    def total(self, ext: np.ndarray) -> float:
        v = ext[self.idx]
        return float(np.nansum(v)) if np.isfinite(v).any() else float("nan")

    def count(self, ext: np.ndarray) -> float:
        """How many are true (nonzero); NaN if none of them is known."""
        v = ext[self.idx]
        ok = np.isfinite(v)
        return float(np.count_nonzero(v[ok])) if ok.any() else float("nan")

    def low(self, ext: np.ndarray) -> float:
        v = ext[self.idx]
        return float(np.nanmin(v)) if np.isfinite(v).any() else float("nan")

    def high(self, ext: np.ndarray) -> float:
        v = ext[self.idx]
        return float(np.nanmax(v)) if np.isfinite(v).any() else float("nan")


class OneLineModel:
    """The diagram's layout, from a registry's devices; :meth:`read` per tick."""

    def __init__(
        self, by_device: Mapping[str, Sequence[PointDef]], index: Mapping[str, int], nan_slot: int
    ) -> None:
        def devices(equipment: str) -> list[str]:
            return [d for d, pts in by_device.items() if pts and pts[0].equipment == equipment]

        def sum_of(names: list[str], *fields: str) -> _Sum:
            return _Sum(index, nan_slot, [_first(by_device[d], *fields) for d in names])

        gens = devices("generator")
        self.generators = len(gens)
        self._gen_running = sum_of(gens, "running", "status.running")
        self._gen_kw = sum_of(gens, "power_kw")
        systems = [d for e in SYSTEM_EQUIPMENT for d in devices(e)]
        pdus = devices("pdu")
        parent: dict[str, str] = {}
        for pdu in pdus:
            owners = [s for s in systems if pdu.startswith(s + "-")]
            if owners:
                parent[pdu] = max(owners, key=len)
        sides = sorted(
            {side_of(d, by_device[d][0].group) for d in [*systems, *devices("ats")]} - {""}
        )
        self._sides = []
        for side in sides:
            ats = [d for d in devices("ats") if side_of(d) == side]
            txs = [d for d in devices("transformer") if side_of(d) == side]
            mine = [s for s in systems if side_of(s, by_device[s][0].group) == side]
            halls: dict[str, list[str]] = {}
            for s in mine:
                halls.setdefault(by_device[s][0].hall or "site", []).append(s)
            hall_parts = []
            for hall, members in halls.items():
                kinds = sorted({by_device[s][0].equipment for s in members})
                hall_pdus = [p for p, owner in parent.items() if owner in members]
                hall_parts.append(
                    (
                        hall,
                        "+".join(kinds),
                        len(members),
                        sum_of(members, "online", "status.online"),
                        sum_of(members, "on_battery", "status.on_battery"),
                        sum_of(members, "battery_soc_pct"),
                        sum_of(members, "output_kw"),
                        members,
                        len(hall_pdus),
                        sum_of(hall_pdus, "power_kw"),
                    )
                )
            self._sides.append(
                (
                    side,
                    ats[0] if ats else "",
                    sum_of(ats[:1], "utility_available", "status.utility_available"),
                    sum_of(ats[:1], "on_utility", "status.on_utility"),
                    sum_of(ats[:1], "on_generator", "status.on_generator"),
                    sum_of(ats[:1], "load_kw"),
                    len(txs),
                    sum_of(txs, "energised", "status.energised"),
                    sum_of(txs, "load_kw"),
                    sum_of(txs, "load_pct"),
                    hall_parts,
                )
            )

    def read(self, ext: np.ndarray, runtime_min: Mapping[str, float] | None = None) -> OneLine:
        """The diagram's values from ``ext`` (values by point index, NaN slot last).

        ``runtime_min`` gives a system's estimated battery runtime [min] where the
        metrics layer has one.
        """
        runtime_min = runtime_min or {}
        sides = []
        for side, ats, util, on_u, on_g, ats_kw, n_tx, tx_on, tx_kw, tx_pct, halls in self._sides:
            hall_lines = []
            for hall, kind, n, online, batt, soc, kw, members, n_pdu, pdu_kw in halls:
                runtimes = [runtime_min[m] for m in members if m in runtime_min]
                on_battery = batt.count(ext)
                hall_lines.append(
                    HallLine(
                        hall=hall,
                        kind=kind,
                        systems=n,
                        online=online.count(ext),
                        on_battery=on_battery,
                        soc_min_pct=soc.low(ext),
                        output_kw=kw.total(ext),
                        runtime_min=min(runtimes) if runtimes and on_battery > 0 else float("nan"),
                        pdus=n_pdu,
                        pdu_kw=pdu_kw.total(ext),
                    )
                )
            sides.append(
                SideLine(
                    side=side,
                    utility_available=util.high(ext),
                    ats=ats,
                    ats_on_utility=on_u.high(ext),
                    ats_on_generator=on_g.high(ext),
                    ats_kw=ats_kw.total(ext),
                    transformers=n_tx,
                    transformers_energised=tx_on.count(ext),
                    transformer_kw=tx_kw.total(ext),
                    transformer_max_pct=tx_pct.high(ext),
                    halls=tuple(hall_lines),
                )
            )
        return OneLine(
            generators=self.generators,
            generators_running=self._gen_running.count(ext),
            generator_kw=self._gen_kw.total(ext),
            sides=tuple(sides),
        )
