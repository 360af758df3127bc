"""``twin fleet mqtt://HOST``: every site and collector publishing to a broker, at a glance.

Reads what ``--publish`` sends (Sparkplug B, :mod:`twin.points.sparkplug`): each
edge node (a ``twin run`` or ``twin monitor``, a shard) is one row: its site (the
Sparkplug group), online or offline (its NDEATH, or a birth not seen), PUE, IT and
facility power, active alarms, devices lost, devices born, and the time since it
last sent anything. A node's metrics arrive by alias after its NBIRTH named them;
a DATA message from a node whose birth this viewer missed makes it ask for a
rebirth (``NCMD`` ``Node Control/Rebirth``, as a Sparkplug host does); until it
comes the row shows "waiting for birth".

:class:`FleetState` is the model (pure, fed message by message, tested without a
broker); :class:`FleetApp` the Textual screen, its MQTT subscription on a thread
and event loop of its own; :func:`fleet_json` the headless table.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from twin.points import sparkplug

__all__ = ["FleetApp", "FleetState", "NodeRow", "fleet_json"]

NODE_FIELDS = {
    "site/pue": "pue",
    "site/it_power_kw": "it_kw",
    "site/facility_power_kw": "facility_kw",
    "site/alarms_active": "alarms",
    "site/devices_lost": "devices_lost",
}


@dataclass
class DeviceRow:
    name: str
    points: int = 0
    not_good: int = 0
    last_s: float = 0.0


@dataclass
class NodeRow:
    group: str
    edge: str
    online: bool = False
    born: bool = False
    bd_seq: int | None = None
    last_s: float = 0.0
    death_s: float | None = None
    values: dict[str, float | None] = field(default_factory=dict)
    devices: dict[str, DeviceRow] = field(default_factory=dict)
    aliases: dict[int, str] = field(default_factory=dict)
    qualities: dict[int, int] = field(default_factory=dict)  # point alias -> quality code
    device_of: dict[int, str] = field(default_factory=dict)

    def json(self, now: float) -> dict[str, Any]:
        def number(name: str) -> float | None:
            v = self.values.get(name)
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

        return {
            "site": self.group,
            "collector": self.edge,
            "state": self.state,
            "pue": number("pue"),
            "it_kw": number("it_kw"),
            "facility_kw": number("facility_kw"),
            "alarms": number("alarms"),
            "devices_lost": number("devices_lost"),
            "devices": len(self.devices),
            "since_last_s": round(now - self.last_s, 1) if self.last_s else None,
        }

    @property
    def state(self) -> str:
        if not self.online:
            return "offline"
        return "online" if self.born else "waiting for birth"


class FleetState:
    """Every edge node seen on the broker, updated message by message (thread-safe)."""

    def __init__(self, clock: Any = time.time) -> None:
        self.nodes: dict[tuple[str, str], NodeRow] = {}
        self.clock = clock
        self.lock = threading.Lock()
        self.messages = 0
        self.undecodable = 0
        self._asked: dict[tuple[str, str], float] = {}  # rebirth requests sent

    def apply(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) < 4 or parts[0] != sparkplug.NAMESPACE:
            return
        group, kind, edge = parts[1], parts[2], parts[3]
        device = parts[4] if len(parts) > 4 else None
        try:
            message = sparkplug.decode(payload)
        except Exception:  # a foreign or broken payload is counted, never fatal
            with self.lock:
                self.undecodable += 1
            return
        now = self.clock()
        with self.lock:
            self.messages += 1
            node = self.nodes.setdefault((group, edge), NodeRow(group, edge))
            if kind == "NDEATH":
                seq = _metric(message, "bdSeq")
                if node.bd_seq is None or seq == node.bd_seq:  # an old session's will: ignored
                    node.online, node.death_s = False, now
                return
            node.last_s = now
            node.online = True
            if kind == "NBIRTH":
                node.born, node.death_s = True, None
                node.bd_seq = _metric(message, "bdSeq")
                node.aliases = {}
                node.devices = {}
                node.qualities = {}
                node.device_of = {}
            for metric in message["metrics"]:
                name = metric["name"]
                alias = metric["alias"]
                if name is not None and alias is not None:
                    node.aliases[alias] = name
                    if device is not None:
                        node.device_of[alias] = device
                name = name or node.aliases.get(alias)
                if device is None and name in NODE_FIELDS:
                    node.values[NODE_FIELDS[name]] = metric["value"]
                if device is not None and alias is not None:
                    quality = metric["properties"].get("Quality")
                    if quality is not None:
                        node.qualities[alias] = int(quality)
            if device is not None:
                row = node.devices.setdefault(device, DeviceRow(device))
                row.last_s = now
                if kind == "DBIRTH":
                    row.points = len(message["metrics"])
                mine = [a for a, d in node.device_of.items() if d == device]
                row.not_good = sum(1 for a in mine if node.qualities.get(a, 192) != 192)

    def rebirths_due(self, every_s: float = 10.0) -> list[tuple[str, str]]:
        """Nodes heard from but never born here, not asked in the last ``every_s``."""
        now = self.clock()
        due = []
        with self.lock:
            for key, node in self.nodes.items():
                if node.online and not node.born and now - self._asked.get(key, -1e9) > every_s:
                    self._asked[key] = now
                    due.append(key)
        return due

    def rows(self) -> list[dict[str, Any]]:
        now = self.clock()
        with self.lock:
            return [n.json(now) for _, n in sorted(self.nodes.items())]

    def devices(self, group: str, edge: str) -> list[DeviceRow]:
        with self.lock:
            node = self.nodes.get((group, edge))
            return sorted(node.devices.values(), key=lambda d: d.name) if node else []


def _metric(message: dict, name: str) -> Any:
    return next((m["value"] for m in message["metrics"] if m["name"] == name), None)


class Subscription(threading.Thread):
    """The broker subscription feeding a :class:`FleetState`, reconnecting forever."""

    def __init__(self, fleet: FleetState, host: str, port: int, **client: Any) -> None:
        super().__init__(name="twin-fleet-mqtt", daemon=True)
        self.fleet, self.host, self.port, self.client = fleet, host, port, client
        self.connected = False
        self.error: str | None = None
        self._stop = threading.Event()

    def run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        import aiomqtt

        delay = 1.0
        while not self._stop.is_set():
            try:
                async with aiomqtt.Client(self.host, self.port, **self.client) as client:
                    self.connected, self.error, delay = True, None, 1.0
                    await client.subscribe(f"{sparkplug.NAMESPACE}/#", qos=1)
                    async for message in client.messages:
                        self.fleet.apply(str(message.topic), bytes(message.payload or b""))
                        for group, edge in self.fleet.rebirths_due():
                            # The node's birth was before we subscribed: ask for another.
                            command = sparkplug.encode(
                                [sparkplug.Metric("Node Control/Rebirth", None,
                                                  sparkplug.BOOLEAN, True)],
                                int(time.time() * 1000),
                                seq=0,
                            )  # fmt: skip
                            await client.publish(
                                sparkplug.topic(group, "NCMD", edge), command, qos=1
                            )
                        if self._stop.is_set():
                            break
            except aiomqtt.MqttError as error:
                self.error = str(error)
            finally:
                self.connected = False
            await asyncio.to_thread(self._stop.wait, delay)
            delay = min(30.0, delay * 2)

    def stop(self) -> None:
        self._stop.set()


def fleet_json(fleet: FleetState) -> dict[str, Any]:
    return {"nodes": fleet.rows(), "messages": fleet.messages, "undecodable": fleet.undecodable}


def _num(value: Any, fmt: str, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:{fmt}}{(' ' + unit) if unit else ''}"


COLUMNS = ("site", "collector", "state", "PUE", "IT", "facility", "alarms", "lost", "devices",
           "last data")  # fmt: skip


class DevicesScreen(Screen):
    """One node's devices: points born, points not good, last message."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, fleet: FleetState, group: str, edge: str) -> None:
        super().__init__()
        self.fleet, self.group, self.edge = fleet, group, edge

    def compose(self) -> ComposeResult:
        yield Static(f"[b]{self.group}[/b] · collector {self.edge} · devices", id="fleet-title")
        yield DataTable(id="fleet-devices", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("device", "points", "not good", "last data")
        self.refresh_rows()
        self.set_interval(1.0, self.refresh_rows)

    def refresh_rows(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        now = self.fleet.clock()
        for d in self.fleet.devices(self.group, self.edge):
            table.add_row(d.name, str(d.points), str(d.not_good), f"{now - d.last_s:.0f} s ago")


class FleetApp(App):
    """Every site on the broker; Enter opens a node's devices."""

    TITLE = "twin fleet"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]

    def __init__(self, fleet: FleetState, where: str, status: Any = None) -> None:
        super().__init__()
        self.fleet, self.where, self.status = fleet, where, status

    def compose(self) -> ComposeResult:
        yield Static(id="fleet-title")
        yield DataTable(id="fleet-nodes", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.refresh_rows()
        self.set_interval(1.0, self.refresh_rows)

    def refresh_rows(self) -> None:
        rows = self.fleet.rows()
        link = ""
        if self.status is not None:
            link = (
                " · connected"
                if self.status.connected
                else f" · {self.status.error or 'connecting'}"
            )
        online = sum(1 for r in rows if r["state"] == "online")
        self.query_one("#fleet-title", Static).update(
            f"[b]twin fleet[/b] · {self.where}{link} · {len(rows)} collectors, {online} online"
        )
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for r in rows:
            since = r["since_last_s"]
            state = r["state"]
            style = {"online": "green", "offline": "bold red"}.get(state, "yellow")
            table.add_row(
                r["site"],
                r["collector"],
                f"[{style}]{state}[/]",
                _num(r["pue"], ".3f"),
                _num(r["it_kw"], ",.0f", "kW"),
                _num(r["facility_kw"], ",.0f", "kW"),
                _num(r["alarms"], ".0f"),
                _num(r["devices_lost"], ".0f"),
                str(r["devices"]),
                "—" if since is None else f"{since:.0f} s ago",
                key=f"{r['site']}\x00{r['collector']}",
            )
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "fleet-nodes" or event.row_key.value is None:
            return
        group, edge = event.row_key.value.split("\x00")
        self.push_screen(DevicesScreen(self.fleet, group, edge))
