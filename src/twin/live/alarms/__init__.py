"""Alarms: rules from config, evaluated on the live state, with ISA-18.2 states.

The package's modules, each one responsibility: :mod:`~twin.live.alarms.rules` (the
rules file: kinds, fields, checks, includes), :mod:`~twin.live.alarms.states` (one
alarm's ISA-18.2 state machine and its message), :mod:`~twin.live.alarms.engine` (the
engine that applies the rules each tick) with its parts
:mod:`~twin.live.alarms.comms` (device and gateway comms loss),
:mod:`~twin.live.alarms.site_rules` (PUE, redundancy) and
:mod:`~twin.live.alarms.first_out` (first-out, suppression, flood count). The names
the rest of twin uses are imported here, so ``from twin.live.alarms import
AlarmEngine`` stays the one way in.
"""

from twin.live.alarms.comms import gateway_of
from twin.live.alarms.engine import AlarmEngine
from twin.live.alarms.first_out import FLOOD_WINDOW_S, GROUP_WINDOW_S
from twin.live.alarms.rules import (
    AIR_CLASSES,
    BUILTIN_RULES,
    PRIORITIES,
    PUE_WINDOWS,
    WATER_CLASSES,
    Rule,
    Rules,
    load_rules,
)
from twin.live.alarms.states import ANNUNCIATED, HISTORY_PER_ALARM, Alarm, AlarmState

__all__ = [
    "AIR_CLASSES",
    "ANNUNCIATED",
    "BUILTIN_RULES",
    "FLOOD_WINDOW_S",
    "GROUP_WINDOW_S",
    "HISTORY_PER_ALARM",
    "PRIORITIES",
    "PUE_WINDOWS",
    "WATER_CLASSES",
    "Alarm",
    "AlarmEngine",
    "AlarmState",
    "Rule",
    "Rules",
    "gateway_of",
    "load_rules",
]
