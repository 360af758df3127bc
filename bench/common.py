"""What every bench prints for ``bench/run``'s combined table.

Besides its own human-readable output, a bench calls :func:`row` once per figure;
``bench/run`` collects those lines from every bench into one table.
"""

from __future__ import annotations

import math


def row(figure: str, twin: float | None, peer: float | None, target: str) -> None:
    """One figure: this project's value, the peer's or the limit's, and the target.

    ``peer`` is what was measured beside us in the same run (a bare library, a raw
    POST, EnergyPlus) or, where there is no peer, the limit itself.
    """
    ratio = (
        twin / peer
        if twin is not None and peer not in (None, 0) and not math.isnan(peer)  # type: ignore[arg-type]
        else float("nan")
    )
    fields = [figure, _fmt(twin), _fmt(peer), _fmt(ratio), target]
    print("ROW\t" + "\t".join(fields), flush=True)


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}"
