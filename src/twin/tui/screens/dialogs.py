"""Modal dialogs: the ``?`` help, shelving an alarm, a setpoint write."""

from __future__ import annotations

import math
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from twin.tui.records import Setpoint, SetpointRefused
from twin.tui.rows import unit_symbol


class HelpScreen(ModalScreen[None]):
    """Every key of the dashboard."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, keys: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        lines = ["[b]Keys[/b]  (Esc or ? closes)", ""]
        where = None
        for scope, key, description in self.keys:
            if scope != where:
                lines.append(f"[b]{scope}[/b]")
                where = scope
            lines.append(f"  [reverse] {key:^9} [/]  {description}")
        with Vertical(id="help-box", classes="dialog"):
            yield Static("\n".join(lines), id="help-text")


SHELVE_CHOICES = (("15 min", 900), ("1 h", 3600), ("8 h", 28800))


class ShelveScreen(ModalScreen[float | None]):
    """Choose how long to shelve an alarm."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, alarm_id: str) -> None:
        super().__init__()
        self.alarm_id = alarm_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Shelve [b]{self.alarm_id}[/b] for:")
            with Horizontal(classes="buttons"):
                for label, seconds in SHELVE_CHOICES:
                    yield Button(label, id=f"shelve-{seconds}")
                yield Button("Cancel", id="cancel")  # not destructive: no red

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self.dismiss(float(str(event.button.id).removeprefix("shelve-")))


class SetpointScreen(ModalScreen[None]):
    """Write a setpoint: limits shown, a confirmation, the device's answer shown."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]

    def __init__(self, setpoint: Setpoint) -> None:
        super().__init__()
        self.setpoint = setpoint
        self.pending: float | None = None
        # the symbol every table shows (°C), not the registry's code (degC)
        self.unit = unit_symbol(setpoint.unit)
        self.low = "—" if setpoint.low is None else f"{setpoint.low:g}"
        self.high = "—" if setpoint.high is None else f"{setpoint.high:g}"

    def compose(self) -> ComposeResult:
        s, unit = self.setpoint, self.unit
        current = "—" if s.value is None or math.isnan(s.value) else f"{s.value:g}"
        with Vertical(classes="dialog", id="setpoint-box"):
            yield Label(f"[b]Setpoint[/b] {s.point}")
            yield Label(s.description or "", classes="dim")
            limits = f"now {current} {unit}   limits [{self.low}, {self.high}] {unit}"
            yield Label(limits, id="sp-limits")
            yield Input(placeholder=f"new value [{unit}]", id="sp-value")
            yield Static("", id="sp-result")
            with Horizontal(classes="buttons"):
                yield Button("Write", id="sp-write", variant="primary")
                yield Button("Close", id="sp-close")

    def _result(self, text: str) -> None:
        self.query_one("#sp-result", Static).update(text)

    def on_input_submitted(self) -> None:
        self.query_one("#sp-write", Button).press()

    def on_input_changed(self) -> None:
        self.pending = None
        self.query_one("#sp-write", Button).label = "Write"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "sp-close":
            self.dismiss()
            return
        s, unit = self.setpoint, self.unit
        text = self.query_one("#sp-value", Input).value.strip()
        try:
            value = float(text)
        except ValueError:
            self._result(f"[$twin-alarm]refused: {text!r} is not a number[/]")
            return
        if (
            not math.isfinite(value)
            or (s.low is not None and value < s.low)
            or (s.high is not None and value > s.high)
        ):
            self._result(
                f"[b $twin-alarm]refused: {value:g} {unit} is outside [{self.low}, {self.high}][/]"
            )
            return
        if self.pending != value:
            self.pending = value
            event.button.label = "Confirm"
            self._result(f"write {s.point} = {value:g} {unit}? press Confirm")
            return
        self.pending = None
        event.button.label = "Write"
        self._result(f"writing {value:g} {unit}…")
        self.write(value)

    @work(exclusive=True, group="setpoint")
    async def write(self, value: float) -> None:
        s, unit = self.setpoint, self.unit
        try:
            await self.app.source.write_setpoint(s.point, value)  # type: ignore[attr-defined]
        except SetpointRefused as refusal:
            self._result(f"[b $twin-alarm]refused: {refusal}[/]")
            return
        self._result(f"[$twin-ok]written: {s.point} = {value:g} {unit} (accepted by the device)[/]")
        self.app.notify(f"{s.point} = {value:g} {unit} written")
