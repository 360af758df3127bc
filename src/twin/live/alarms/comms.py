"""Comms alarms: a device that sends no fresh data, a gateway whose devices all fall silent.

A ``comms`` rule alarms when no point of a device is fresh (all stale or bad); with
``per = "gateway"`` when every device behind one gateway is silent (a Modbus
host:port or serial line, an OPC UA endpoint, a BACnet device, an SNMP agent:
:func:`gateway_of`). A device never read counts as silent once its stale time has
passed since the engine started. A device's comms alarm raised while its gateway is
silent is a consequence of the gateway's alarm (annunciated under it, as a first-out
group's members are: :mod:`twin.live.alarms.first_out`).

Apart from the engine because comms alarms watch the link, not a value: they count
points per device and devices per gateway, and word the reason a device is silent.
:class:`CommsAlarms` is a part of :class:`~twin.live.alarms.engine.AlarmEngine`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from twin.live.alarms.states import _NORMAL, _UNACKED, ANNUNCIATED, Alarm
from twin.points.protocols import protocol_of

if TYPE_CHECKING:
    from twin.live.alarms.engine import _Target
    from twin.live.state import LiveState


def gateway_of(point, prefer: str | tuple[str, ...] = "modbus") -> str:  # type: ignore[no-untyped-def]
    """The link a point is read through: Modbus host:port or serial line, OPC UA endpoint.

    A BACnet/IP point: its device's address (each device is its own link); an SNMP
    point: its agent. The protocol is the collector's own choice
    (:func:`twin.points.protocols.protocol_of`), so an alarm names the link that failed.
    """
    protocol = protocol_of(point, prefer)
    if protocol == "bacnet":
        return point.bacnet_address
    if protocol == "snmp":
        return f"snmp {point.snmp.host}:{point.snmp.port}"
    if protocol == "modbus":
        return point.host if point.transport == "rtu" else f"{point.host}:{point.port}"
    return point.opcua_endpoint or "opcua"


class CommsAlarms:
    """The engine's device and gateway comms alarms."""

    state: LiveState
    started: float | None
    now: float
    _comms: list[_Target]
    _gateways: list[_Target]
    _device_names: list[str]
    _device_index: dict[str, int]
    _device_of: np.ndarray
    _gateway_names: list[str]
    _gateway_of_device: np.ndarray
    _points_of_device: dict[str, list[int]]

    def _device_lost(self, now: float, good_all: np.ndarray) -> np.ndarray:
        """Per device: no point fresh (a point never read counts once its stale time is up)."""
        state = self.state
        assert self.started is not None
        never = (state.good_ts == 0) & ~state.bad
        waiting = never & (now - self.started <= state.stale_after * state.interval)
        alive = good_all | waiting
        answering = np.bincount(self._device_of, weights=alive, minlength=len(self._device_names))
        return answering == 0

    def _evaluate_comms(self, now, values, quality, good_all, feed) -> None:  # type: ignore[no-untyped-def]
        lost = self._device_lost(now, good_all)
        device_index = self._device_index
        gateway_alarms: dict[int, Alarm] = {}
        if self._gateways:
            n = len(self._gateway_names)
            silent = np.bincount(self._gateway_of_device, weights=lost, minlength=n).tolist()
        for target in self._gateways:
            suppressed = self._suppressed(target.rule, values, quality, now)
            for g, alarm in zip(target.indices.tolist(), target.alarms, strict=True):
                count = int(silent[g])
                down = count == alarm.total
                if down or alarm.state is _NORMAL:
                    alarm.count = count
                was = alarm.state
                feed(alarm, down, float(alarm.count), suppressed)
                gateway_alarms[g] = alarm
                if alarm.state is _UNACKED and was is not _UNACKED:
                    self._regroup(alarm, g, now)
        for target in self._comms:
            suppressed = self._suppressed(target.rule, values, quality, now)
            if target.devices is None:  # the device of each alarm, worked out once
                target.devices = np.array([device_index[a.source] for a in target.alarms], int)
            devices = target.devices
            gateways = self._gateway_of_device[devices]
            for alarm, down, g in zip(
                target.alarms, lost[devices].tolist(), gateways.tolist(), strict=True
            ):
                gateway = gateway_alarms.get(g)
                cause = gateway if gateway is not None and gateway.active else None
                if down:  # the reason it alarmed with stays in its message
                    alarm.reason = self.comms_reason(alarm)
                feed(alarm, down, None, suppressed, cause)

    def _regroup(self, gateway: Alarm, g: int, now: float) -> None:
        """Device alarms raised just before their gateway's: consequences of it after all."""
        for target in self._comms:
            for alarm in target.alarms:
                d = self._device_index[alarm.source]
                if (
                    int(self._gateway_of_device[d]) == g
                    and alarm.active
                    and alarm.state in ANNUNCIATED
                    and alarm.cause is None
                ):
                    alarm.cause = gateway
                    if alarm._entry is not None:
                        alarm._entry[1] = True

    def comms_reason(self, alarm: Alarm) -> str:
        """Why a device's data is not fresh, in words (for comms messages)."""
        state = self.state
        idx = self._points_of_device.get(alarm.source, [])
        if not idx:
            return "no points"
        bad = [i for i in idx if state.bad[i]]
        if bad:
            return state.reasons.get(bad[0], "bad reply")
        last = max(float(state.good_ts[i]) for i in idx)
        if last == 0:
            return "it has never answered"
        return f"no fresh value for {max(self.now - last, 0):.0f} s"

    def comms_lost(self) -> dict[str, list[str]]:
        """Devices and gateways whose comms alarm is in force now (condition active)."""
        out: dict[str, list[str]] = {"devices": [], "gateways": []}
        for target in self._comms:
            out["devices"] += [a.source for a in target.alarms if a.active]
        for target in self._gateways:
            out["gateways"] += [a.source for a in target.alarms if a.active]
        return out
