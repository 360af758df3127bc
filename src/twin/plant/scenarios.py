"""Scenario timelines (``sim/scenarios/*.toml``) and the plant's command queue.

A scenario is a list of physical events at plant times: utility loss, CDU pump
trip, tower fan failure, chiller trip, IT load step, one rack's coolant flow lost,
and degradations that grow over a ramp (CDU exchanger fouling, pump wear, tower
capacity loss, chiller condenser fouling, UPS/HVDC losses up): the hidden truth a twin
should find.
Each may have a duration after which it is undone (utility returns, the pump is repaired). The same
events can be started at run time (a dashboard command) through
:meth:`twin.plant.model.Plant.command`, and setpoint writes arrive there too.

File format::

    description = "Utility outage of 2 minutes at 10 min"
    [[events]]
    at_s = 600
    kind = "utility_loss"
    duration_s = 120
    feeds = ["A", "B"]
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import Field

from twin.config import Frozen, line_of_key, load_toml_model, read_toml
from twin.errors import ConfigError
from twin.paths import data_path

if TYPE_CHECKING:
    from twin.plant.layout import Layout
    from twin.plant.model import Plant

Seconds = Annotated[float, Field(ge=0)]


class _Event(Frozen):
    at_s: Seconds
    duration_s: Annotated[float, Field(gt=0)] | None = None


class UtilityLoss(_Event):
    kind: Literal["utility_loss"]
    feeds: tuple[Literal["A", "B"], ...] = ("A", "B")


class PumpTrip(_Event):
    kind: Literal["pump_trip"]
    target: str = Field(description="CDU name, e.g. hall-1-cdu1")
    pump: Annotated[int, Field(ge=1)] = 1


class TowerFanFailure(_Event):
    kind: Literal["tower_fan_failure"]
    loop: Literal["facility_water", "condenser_water"] = "facility_water"
    cell: Annotated[int, Field(ge=1)] = 1


class ChillerTrip(_Event):
    kind: Literal["chiller_trip"]
    chiller: Annotated[int, Field(ge=1)] = 1


class LoadStep(_Event):
    kind: Literal["load_step"]
    factor: Annotated[float, Field(ge=0, le=2)]


class RackFlowLoss(_Event):
    """One liquid-cooled rack loses its coolant (a closed rack valve, a blocked quick
    disconnect): its plates and coolant heat on their own thermal mass."""

    kind: Literal["rack_flow_loss"]
    rack: str = Field(description="liquid-cooled rack name, e.g. hall-1-gpu001")


class CduFouling(_Event):
    """CDU heat exchangers foul: their UA falls by ``ua_loss`` over ``ramp_s``.

    A degradation, the hidden truth a twin should find (issue 13): what weeks of
    fouling do, run in minutes. ``target`` is a CDU name or a glob over CDU names
    (``hall-1-cdu*``). The plant lumps a hall's exchangers into one (their mean UA),
    so fouling one CDU of four lowers its hall's UA by a quarter of ``ua_loss``.
    With a ``duration_s`` the exchangers are cleaned (back to their design UA) then.
    """

    kind: Literal["cdu_fouling"]
    target: str = Field(description="CDU name or glob, e.g. hall-1-cdu1 or hall-1-cdu*")
    ua_loss: Annotated[float, Field(gt=0, lt=1)] = 0.15
    ramp_s: Seconds = 0.0


class PumpWear(_Event):
    """CDU secondary pumps wear (impeller, wear rings): the same water for more power.

    The plant's pumps follow the affinity laws from their rated point, with no head
    curve of their own, so wear is what a twin sees of it: the power at the same flow
    up by ``power_rise`` over ``ramp_s`` (a 10 % head loss at the same system curve
    needs ~5 % more speed, ~16 % more power by the cube law; an efficiency loss adds
    its own share). ``target`` is a CDU name or a glob over CDU names.
    """

    kind: Literal["pump_wear"]
    target: str = Field(description="CDU name or glob, e.g. hall-1-cdu1 or hall-1-cdu*")
    power_rise: Annotated[float, Field(gt=0, le=1)] = 0.10
    ramp_s: Seconds = 0.0


class TowerDegradation(_Event):
    """A tower group loses capacity (fouled fill, blocked nozzles): at the same water,
    air and wet bulb it rejects ``1 - capacity_loss`` of what it did (its effectiveness
    scaled by that share), reached over ``ramp_s``. The plant runs a loop's cells as
    one group of identical cells, so the loop's group degrades as one."""

    kind: Literal["tower_degradation"]
    loop: Literal["facility_water", "condenser_water"] = "facility_water"
    capacity_loss: Annotated[float, Field(gt=0, lt=1)] = 0.20
    ramp_s: Seconds = 0.0


class ChillerFouling(_Event):
    """Condenser fouling (ASHRAE RP-1043's fault): the chillers' COP falls by
    ``cop_loss`` over ``ramp_s``, so they draw ``1 / (1 - cop_loss)`` of the power for
    the same load. The plant stages identical chillers on one condenser loop, so all
    of them foul alike (the loop's water is what fouls them)."""

    kind: Literal["chiller_fouling"]
    cop_loss: Annotated[float, Field(gt=0, lt=1)] = 0.10
    ramp_s: Seconds = 0.0


class ConverterLosses(_Event):
    """A UPS frame or HVDC rectifier system loses more (ageing capacitors, a failing
    fan, a module off its best point): its loss curve's coefficients grow by
    ``loss_rise`` over ``ramp_s``. ``target`` is a system name or a glob
    (``hall-1-ups-A*``)."""

    kind: Literal["converter_losses"]
    target: str = Field(description="UPS/HVDC system name or glob, e.g. hall-1-ups-A1")
    loss_rise: Annotated[float, Field(gt=0, le=2)] = 0.30
    ramp_s: Seconds = 0.0


#: Degradations: they grow over ``ramp_s`` to their size, and are undone (the
#: equipment cleaned or repaired) after ``duration_s``.
Degradation = CduFouling | PumpWear | TowerDegradation | ChillerFouling | ConverterLosses

Event = Annotated[
    UtilityLoss
    | PumpTrip
    | TowerFanFailure
    | ChillerTrip
    | LoadStep
    | RackFlowLoss
    | CduFouling
    | PumpWear
    | TowerDegradation
    | ChillerFouling
    | ConverterLosses,
    Field(discriminator="kind"),
]


class Scenario(Frozen):
    description: str = ""
    events: list[Event] = Field(default_factory=list)


def scenario_path(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        return candidate
    folder = data_path("sim", "scenarios")
    path = folder / f"{name_or_path}.toml"
    if not path.is_file():
        valid = ", ".join(sorted(p.stem for p in folder.glob("*.toml")))
        raise ConfigError(folder, f"unknown scenario {str(name_or_path)!r}; valid: {valid}")
    return path


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Read and validate a scenario file (events are checked against a site in :func:`attach`)."""
    return load_toml_model(scenario_path(name_or_path), Scenario)


def attach(plant: Plant, scenario: Scenario, path: Path | None = None) -> None:
    """Schedule a scenario's events on a plant, relative to the plant's current time.

    Every target is checked against the site first: nothing is scheduled if one is wrong.
    """
    check_targets(plant.layout, scenario, path)
    start = plant.t_s
    for event in scenario.events:
        plant.events.append((start + event.at_s, event))
    plant.events.sort(key=lambda item: item[0])


def check_targets(layout: Layout, scenario: Scenario, path: Path | None = None) -> None:
    """Raise a ConfigError naming the event key if a target is not on this site.

    Shared by :func:`attach` and ``twin check --site``, so a file that checks clean
    is one that ``twin run`` and ``twin sim`` accept.
    """
    text = read_toml(path)[1] if path else ""
    for index, event in enumerate(scenario.events):

        def fail(key: str, message: str, index: int = index) -> None:
            dotted = f"events.{index}.{key}"
            raise ConfigError(
                path or Path("<scenario>"),
                message,
                key=dotted,
                line=line_of_key(text, dotted) if text else None,
            )

        if isinstance(event, PumpTrip):
            if event.target not in layout.cdus.name:
                fail("target", f"no CDU {event.target!r}; valid: {', '.join(layout.cdus.name)}")
            i = layout.cdus.name.index(event.target)
            if event.pump > layout.cdus.pumps[i]:
                fail("pump", f"{event.target} has {layout.cdus.pumps[i]} pumps")
        if isinstance(event, TowerFanFailure):
            group = layout.fw_towers if event.loop == "facility_water" else layout.cw_towers
            cells = group.cells if group else 0
            if event.cell > cells:
                fail("cell", f"the {event.loop} loop has {cells} tower cells")
        if isinstance(event, ChillerTrip) and event.chiller > layout.chillers:
            fail("chiller", f"the site has {layout.chillers} chillers")
        if isinstance(event, CduFouling | PumpWear) and not fouled_cdus(layout, event.target):
            fail("target", f"no CDU matches {event.target!r}; valid: "
                 f"{', '.join(layout.cdus.name[:3])} … or a glob such as hall-1-cdu*")  # fmt: skip
        if isinstance(event, ConverterLosses) and not _matching(layout.systems.name, event.target):
            shown = ", ".join(layout.systems.name[:3])
            fail("target", f"no UPS or HVDC system matches {event.target!r}; valid: "
                 f"{shown} … or a glob such as hall-1-*-A*")  # fmt: skip
        if isinstance(event, TowerDegradation):
            group = layout.fw_towers if event.loop == "facility_water" else layout.cw_towers
            if group is None or group.cells == 0:
                fail("loop", f"the {event.loop} loop has no towers")
        if isinstance(event, ChillerFouling) and layout.chillers == 0:
            fail("kind", "the site has no chillers")
        if isinstance(event, RackFlowLoss):
            racks = layout.racks
            liquid = [n for n, gpu in zip(racks.name, racks.is_gpu, strict=True) if gpu]
            if event.rack not in liquid:
                shown = ", ".join(liquid[:3]) + (f" … {liquid[-1]}" if len(liquid) > 3 else "")
                fail(
                    "rack",
                    f"no liquid-cooled rack {event.rack!r}; valid: {shown or '(none)'}"
                    f" ({len(liquid)} racks)",
                )


def _matching(names: list[str], target: str) -> list[int]:
    return [i for i, name in enumerate(names) if fnmatch.fnmatchcase(name, target)]


def fouled_cdus(layout: Layout, target: str) -> list[int]:
    """Positions of the CDUs a fouling event's ``target`` (a name or a glob) names."""
    return _matching(layout.cdus.name, target)


def advance(plant: Plant) -> None:
    """Apply events that are due and undo those whose duration has passed."""
    t = plant.t_s
    for start, event, design in plant.ramps:  # degradations growing to their size
        _degrade(
            plant, event, design, min(1.0, (t - start) / event.ramp_s) if event.ramp_s else 1.0
        )
    while plant.events and plant.events[0][0] <= t:
        _, event = plant.events.pop(0)
        _set(plant, event, active=True)
        if event.duration_s is not None:
            plant.active_events.append((t + event.duration_s, event))
    still = []
    for end, event in plant.active_events:
        if end <= t:
            _set(plant, event, active=False)
        else:
            still.append((end, event))
    plant.active_events = still


def _set(plant: Plant, event: _Event, active: bool) -> None:
    faults = plant.faults
    layout = plant.layout
    if isinstance(event, UtilityLoss):
        for feed in event.feeds:
            faults.utility_lost["AB".index(feed)] = active
    elif isinstance(event, PumpTrip):
        i = layout.cdus.name.index(event.target)
        assert faults.pump_failed is not None
        faults.pump_failed[i, event.pump - 1] = active
    elif isinstance(event, TowerFanFailure):
        failed = (
            faults.fw_tower_failed if event.loop == "facility_water" else faults.cw_tower_failed
        )
        assert failed is not None
        failed[event.cell - 1] = active
    elif isinstance(event, ChillerTrip):
        assert faults.chiller_failed is not None
        faults.chiller_failed[event.chiller - 1] = active
        if not active:
            plant.chiller_ready_at[event.chiller - 1] = plant.t_s + layout.chiller.restart_delay_s
    elif isinstance(event, LoadStep):
        faults.load_factor = event.factor if active else 1.0
    elif isinstance(event, Degradation):
        if active:
            design = _degraded_value(plant, event)
            plant.ramps.append((plant.t_s, event, design))
            _degrade(plant, event, design, 0.0 if event.ramp_s else 1.0)
        else:
            for ramp in [r for r in plant.ramps if r[1] is event]:
                plant.ramps.remove(ramp)
                _degrade(plant, event, ramp[2], 0.0)  # cleaned, repaired: as before
    elif isinstance(event, RackFlowLoss):
        assert faults.rack_flow_lost is not None
        faults.rack_flow_lost[layout.racks.name.index(event.rack)] = active


def _tower_loss_name(event: TowerDegradation) -> str:
    return "fw_tower_capacity_loss" if event.loop == "facility_water" else "cw_tower_capacity_loss"


def _degraded_value(plant: Plant, event: Degradation) -> np.ndarray | float:
    """What a degradation changes, as it is before the event (restored when undone)."""
    layout = plant.layout
    if isinstance(event, CduFouling):
        return layout.cdus.ua_w_k[fouled_cdus(layout, event.target)].copy()
    if isinstance(event, PumpWear):
        return layout.cdus.pump_power_w[fouled_cdus(layout, event.target)].copy()
    if isinstance(event, ConverterLosses):
        return layout.systems.loss_coefficients[_matching(layout.systems.name, event.target)].copy()
    if isinstance(event, TowerDegradation):
        return float(getattr(plant.faults, _tower_loss_name(event)))
    return float(plant.faults.chiller_cop_loss)


def _degrade(plant: Plant, event: Degradation, before: np.ndarray | float, share: float) -> None:
    """The equipment an event degrades at ``share`` (0-1) of the event's full size,
    from its value ``before`` the event."""
    layout = plant.layout
    if isinstance(event, CduFouling):
        index = fouled_cdus(layout, event.target)
        layout.cdus.ua_w_k[index] = before * (1.0 - event.ua_loss * share)
    elif isinstance(event, PumpWear):
        index = fouled_cdus(layout, event.target)
        layout.cdus.pump_power_w[index] = before * (1.0 + event.power_rise * share)
    elif isinstance(event, ConverterLosses):
        index = _matching(layout.systems.name, event.target)
        layout.systems.loss_coefficients[index] = before * (1.0 + event.loss_rise * share)
    elif isinstance(event, TowerDegradation):  # losses compose: (1 - a)(1 - b) remains
        loss = 1.0 - (1.0 - float(before)) * (1.0 - event.capacity_loss * share)
        setattr(plant.faults, _tower_loss_name(event), loss)
    else:
        loss = 1.0 - (1.0 - float(before)) * (1.0 - event.cop_loss * share)
        plant.faults.chiller_cop_loss = loss


# Setpoints an operator (or BMS) may write, with their limits [°C].
# t_cw_supply_c, the condenser water the towers send to the chillers: 13-35 °C is
# where the chiller model is valid (York YT EIR curves, entering condenser water
# 12.78-35 °C, reference/COEFFICIENTS.md), rounded up to the 0.1 °C the devices
# carry. Below it a centrifugal chiller loses the lift it needs (the usual
# minimum entering condenser water); above it the chiller runs off its curves.
# A setpoint under wet bulb + the tower's approach (3.89 K at design, YorkCalc,
# reference/DOMAIN.md) is accepted but not reached: the fans run flat out.
SETPOINT_LIMITS = {
    "t_tcs_supply_c": (20.0, 50.0),
    "t_supply_air_c": (15.0, 32.0),
    "t_fw_supply_c": (15.0, 45.0),
    "t_chw_supply_c": (5.0, 25.0),
    "t_cw_supply_c": (13.0, 35.0),
}


def apply_command(plant: Plant, name: str, values: dict) -> None:
    """Apply one queued command: a setpoint write or a run-time event."""
    if name == "setpoint":
        point = str(values["point"])
        value = float(values["value"])
        low, high = SETPOINT_LIMITS[point]
        if not low <= value <= high:
            raise ValueError(f"{point} must be in [{low}, {high}], got {value}")
        hall = values.get("hall")
        if point == "t_tcs_supply_c":
            _hall_array(plant.t_tcs_supply_set, hall)[...] = value
        elif point == "t_supply_air_c":
            _hall_array(plant.t_supply_air_set, hall)[...] = value
        elif point == "t_fw_supply_c":
            plant.t_fw_supply_set = value
        elif point == "t_chw_supply_c":
            plant.t_chw_supply_set = value
        elif point == "t_cw_supply_c":
            plant.t_cw_supply_set = value
    elif name == "event":
        event = values["event"]
        plant.events.insert(0, (plant.t_s, event))
        advance(plant)
    else:
        raise ValueError(f"unknown command {name!r}")


def _hall_array(array, hall):  # type: ignore[no-untyped-def]
    return array if hall is None else array[int(hall) : int(hall) + 1]


def make_event(plant: Plant, kind: str) -> Event:
    """A run-time event of ``kind`` with the dashboard's defaults, starting now.

    What an operator starts from the dashboard's command list (``twin run``,
    ``twin dashboard``): a 120 s utility loss, a 300 s trip of the first CDU's pump,
    a 300 s tower fan failure, a 300 s IT load step of ×1.2, 600 s of the first
    hall's CDU exchangers fouled by 15 % (for the twin to find), and the other
    degradations at the sizes a real plant reaches in weeks (pumps +10 % power,
    towers -20 % capacity, chillers -10 % COP, a converter's losses +30 %), 600 s each.
    """
    if kind == "utility_loss":
        return UtilityLoss(kind="utility_loss", at_s=0, duration_s=120)
    if kind == "pump_trip":
        target = plant.layout.cdus.name[0]
        return PumpTrip(kind="pump_trip", at_s=0, duration_s=300, target=target)
    if kind == "tower_fan_failure":
        return TowerFanFailure(kind="tower_fan_failure", at_s=0, duration_s=300)
    if kind == "load_step":
        return LoadStep(kind="load_step", at_s=0, duration_s=300, factor=1.2)
    if kind == "cdu_fouling":  # a degradation for the twin to find, cleaned after 600 s
        hall = plant.layout.cdus.name[0].rsplit("-cdu", 1)[0]
        return CduFouling(kind="cdu_fouling", at_s=0, duration_s=600, target=f"{hall}-cdu*")
    if kind == "pump_wear":  # power at the same flow +10 %, repaired after 600 s
        hall = plant.layout.cdus.name[0].rsplit("-cdu", 1)[0]
        return PumpWear(kind="pump_wear", at_s=0, duration_s=600, target=f"{hall}-cdu*")
    if kind == "tower_degradation":  # the facility water towers (or the condenser's) -20 %
        loop = "facility_water" if plant.layout.fw_towers is not None else "condenser_water"
        return TowerDegradation(kind="tower_degradation", at_s=0, duration_s=600, loop=loop)
    if kind == "chiller_fouling":  # COP -10 %, cleaned after 600 s
        return ChillerFouling(kind="chiller_fouling", at_s=0, duration_s=600)
    if kind == "converter_losses":  # the first UPS/HVDC system's losses +30 % for 600 s
        target = plant.layout.systems.name[0]
        return ConverterLosses(kind="converter_losses", at_s=0, duration_s=600, target=target)
    if kind == "rack_flow_loss":  # not on the dashboard's list: for tests and the wire
        gpu = [n for n, liquid in zip(plant.layout.racks.name, plant.layout.racks.is_gpu,
                                      strict=True) if liquid]  # fmt: skip
        return RackFlowLoss(kind="rack_flow_loss", at_s=0, duration_s=300, rack=gpu[0])
    raise ValueError(f"unknown event {kind!r}")
