"""Site rules: PUE and power redundancy alarms, and battery runtime, from the site metrics.

``pue`` and ``redundancy`` rules watch no point: they read the latest
:class:`~twin.live.metrics.SiteMetrics` snapshot (the 1-minute or an energy-window
PUE; whether each power system group still holds ``N+1`` / ``2N``). The battery
runtime a message may show (``{runtime}``) comes from the same snapshot.

Apart from the engine because these rules depend on the metrics, not the live state:
no quality or hysteresis per point, one alarm for the site or per power group.
:class:`SiteRules` is a part of :class:`~twin.live.alarms.engine.AlarmEngine`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twin.live.alarms.rules import Rule
from twin.live.alarms.states import _HOLDS_ORDER, Alarm
from twin.points.quality import Quality

if TYPE_CHECKING:
    from twin.live.alarms.engine import _Target
    from twin.live.state import LiveState


class SiteRules:
    """The engine's rules on the site metrics (PUE, redundancy) and battery runtime."""

    state: LiveState
    metrics: object | None
    _targets: list[_Target]

    def _site_rule(self, rule: Rule, now: float, feed) -> None:  # type: ignore[no-untyped-def]
        snapshot = getattr(self.metrics, "last", None)
        if snapshot is None:
            return
        if rule.kind == "pue":
            alarm = self._alarm(rule, "site")
            pue = snapshot.pue if rule.pue == "pue" else snapshot.pue_energy.get(rule.pue)
            if pue is None or pue.quality != Quality.GOOD or pue.value is None:
                feed(alarm, alarm.active, None, False)
                return
            limit = rule.threshold()
            over = pue.value > (limit if not alarm.active else limit - rule.deadband)
            feed(alarm, over, pue.value, False)
            return
        for group, system in snapshot.systems.items():
            alarm = self._alarm(rule, group)
            holds = system["redundancy"]
            if holds == "unknown" or system["quality"] != "good":
                feed(alarm, alarm.active, alarm.value, False)
                continue
            order = _HOLDS_ORDER
            feed(alarm, order[holds] < order[rule.required], float(order[holds]), False)

    def runtime_min(self, alarm: Alarm) -> float | None:
        """Estimated battery runtime [min] of the alarm's device(s) at the present load.

        A site-wide alarm gives the shortest among the devices it has in alarm (all
        it watches when none is).
        """
        snapshot = getattr(self.metrics, "last", None)
        runtimes = getattr(snapshot, "battery_runtime_min", None) or {}
        if alarm.rule.scope != "site":
            value = runtimes.get(alarm.device or alarm.source)
            return value.value if value is not None else None
        target = next((t for t in self._targets if alarm in t.alarms), None)
        if target is None:
            return None
        devices = {
            self.state.points[int(i)].device
            for i, r in zip(target.indices, target.raw, strict=True)
            if r or not target.raw.any()
        }
        known = [
            runtimes[d].value for d in devices if d in runtimes and runtimes[d].value is not None
        ]
        return min(known) if known else None
