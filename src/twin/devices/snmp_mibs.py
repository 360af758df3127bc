"""What a simulated UPS and a simulated PDU answer over SNMP: their MIB objects, as data.

Every value comes from the same per-device quantities the Modbus register image and
the OPC UA variables are filled from (:class:`twin.devices.bindings.Binding`
``values``, kept by :class:`~twin.devices.runner.Simulation` in ``last_values``): one
source of truth, so the three protocols cannot disagree.

**UPS: UPS-MIB (RFC 1628, ``1.3.6.1.2.1.33``)**, the IETF standard every UPS network
card implements beside its vendor MIB. Served: ``upsIdent``; ``upsBattery`` (status,
seconds on battery, estimated minutes and charge remaining, temperature);
``upsInput`` (line-bads counter, three input lines: frequency, voltage, current, true
power); ``upsOutput`` (source, frequency, three output lines: voltage, current, power,
percent load); ``upsAlarm`` (alarms present and the alarm table, whose descriptions
are the well-known alarms ``upsAlarmOnBattery``, ``upsAlarmLowBattery``,
``upsAlarmDepletedBattery``, ``upsAlarmOnBypass``, ``upsAlarmGeneralFault``); and
``upsConfig`` nominal values. Objects the plant has no model for (battery voltage and
current, bypass lines, tests, controls) are absent: ``noSuchObject``, as a real card
answers for what it does not implement.

**PDU: Raritan PDU2-MIB (PX2/PX3, enterprise ``1.3.6.1.4.1.13742.6``)**. Chosen
because it is the rack PDU MIB most widely read by third-party tools (Network UPS
Tools' ``raritan-px2-mib`` subdriver, the Prometheus ``snmp_exporter`` generator's
Raritan module, Zabbix and LibreNMS templates), and because its design is the one a
collector has to handle well: one measurements table indexed by
``pduId.inletId.sensorType`` whose raw values are scaled by a *decimal digits*
column the agent publishes beside them (``inletSensorDecimalDigits``), so a reading
is ``value / 10**digits``. Served subset: ``nameplateTable`` (manufacturer, model,
serial, ratings), ``unitConfigurationTable`` (inlet and outlet counts, name),
``inletSensorConfigurationTable`` (decimal digits) and
``measurementsInletSensorTable`` (is-available, state, value) for rmsCurrent,
rmsVoltage, activePower, apparentPower, powerFactor and activeEnergy. The OIDs and
enumerations are those of PDU2-MIB as Network UPS Tools' ``raritan-px2-mib.c``
documents them; the vendor's MIB text is not reproduced (``models/mibs/README.md``).

Electrical quantities the plant does not model (voltage, current, frequency) are
nominal values of a live 400/230 V, 50 Hz board, with current derived from the
modelled power at unity power factor, and stated as such.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from pysnmp.proto import rfc1902

Oid = tuple[int, ...]

SYSTEM = (1, 3, 6, 1, 2, 1, 1)
UPS_MIB = (1, 3, 6, 1, 2, 1, 33)
UPS_OBJECTS = (*UPS_MIB, 1)
#: upsWellKnownAlarms (RFC 1628 §upsAlarm)
WELL_KNOWN_ALARMS = (*UPS_OBJECTS, 6, 3)
ALARM_ON_BATTERY = (*WELL_KNOWN_ALARMS, 2)
ALARM_LOW_BATTERY = (*WELL_KNOWN_ALARMS, 3)
ALARM_DEPLETED_BATTERY = (*WELL_KNOWN_ALARMS, 4)
ALARM_ON_BYPASS = (*WELL_KNOWN_ALARMS, 9)
ALARM_GENERAL_FAULT = (*WELL_KNOWN_ALARMS, 18)
#: upsOutputSource values
SOURCE_NONE, SOURCE_NORMAL, SOURCE_BYPASS, SOURCE_BATTERY = 2, 3, 4, 5
#: upsBatteryStatus values
BATTERY_NORMAL, BATTERY_LOW, BATTERY_DEPLETED = 2, 3, 4

RARITAN_PDU2 = (1, 3, 6, 1, 4, 1, 13742, 6)
NAMEPLATE_ENTRY = (*RARITAN_PDU2, 3, 2, 1, 1)
UNIT_CONFIGURATION_ENTRY = (*RARITAN_PDU2, 3, 2, 2, 1)
INLET_SENSOR_CONFIGURATION_ENTRY = (*RARITAN_PDU2, 3, 3, 4, 1)
MEASUREMENTS_INLET_SENSOR_ENTRY = (*RARITAN_PDU2, 5, 2, 3, 1)
#: PDU2-MIB SensorTypeEnumeration → (decimal digits this agent publishes, unit)
INLET_SENSORS = {
    1: (3, "A"),  # rmsCurrent
    4: (0, "V"),  # rmsVoltage
    5: (0, "W"),  # activePower
    6: (0, "VA"),  # apparentPower
    7: (2, ""),  # powerFactor
    8: (0, "Wh"),  # activeEnergy
}
#: PDU2-MIB SensorStateEnumeration values used here
STATE_BELOW_LOWER_CRITICAL, STATE_NORMAL, STATE_ABOVE_UPPER_CRITICAL = 2, 4, 6

NOMINAL_V = 230.0  # phase voltage of a live low-voltage board [V]
LINE_V = 400.0  # line-to-line [V]
NOMINAL_HZ = 50.0
LINES = 3
MAX_INT32 = 2**31 - 1


def _int(value: float, low: int = -(2**31), high: int = MAX_INT32) -> int:
    return int(min(max(round(value), low), high))


def _gauge(value: float) -> rfc1902.Gauge32:
    return rfc1902.Gauge32(_int(value, 0, 2**32 - 1))


@dataclass
class DeviceState:
    """What an agent remembers about one device between requests (its history)."""

    name: str
    equipment: str
    area: str
    rating_kwh: float = 0.0  # usable battery energy (UPS)
    rated_w: float = 0.0  # nameplate output
    on_battery_since: float | None = None  # plant time the battery took the load [s]
    line_bads: int = 0  # upsInputLineBads: times the input went out of tolerance
    alarms: dict[Oid, tuple[int, int]] = field(default_factory=dict)  # OID → (id, ticks)
    next_alarm_id: int = 1

    def raise_alarms(self, present: list[Oid], ticks: int) -> None:
        """Add newly present alarms to the table (RFC 1628: ids grow), drop cleared ones."""
        for oid in list(self.alarms):
            if oid not in present:
                del self.alarms[oid]
        for oid in present:
            if oid not in self.alarms:
                self.alarms[oid] = (self.next_alarm_id, ticks)
                self.next_alarm_id += 1


def system_group(state: DeviceState, ticks: int, object_id: Oid, descr: str) -> list:
    """SNMPv2-MIB ``system``: what a discovery walk reads first."""
    return [
        ((*SYSTEM, 1, 0), rfc1902.OctetString(descr)),
        ((*SYSTEM, 2, 0), rfc1902.ObjectIdentifier(object_id)),
        ((*SYSTEM, 3, 0), rfc1902.TimeTicks(ticks % 2**32)),
        ((*SYSTEM, 4, 0), rfc1902.OctetString("twin simulator")),
        ((*SYSTEM, 5, 0), rfc1902.OctetString(state.name)),
        ((*SYSTEM, 6, 0), rfc1902.OctetString(state.area)),
        ((*SYSTEM, 7, 0), rfc1902.Integer32(72)),  # application + end-to-end layers
    ]


def ups_objects(v: dict[str, float], state: DeviceState, plant_t: float, ticks: int) -> list:
    """The UPS-MIB objects of one UPS from its quantities (``output_kw``, ``on_battery``…)."""
    on_battery = v["on_battery"] > 0.5
    low = v["low_battery"] > 0.5
    soc = v["battery_soc_pct"]
    depleted = on_battery and soc <= 1.0
    alive = v["fault"] < 0.5
    if on_battery and state.on_battery_since is None:
        state.on_battery_since = plant_t
        state.line_bads += 1
    elif not on_battery:
        state.on_battery_since = None
    present = [ALARM_ON_BATTERY] if on_battery else []
    present += [ALARM_LOW_BATTERY] if low else []
    present += [ALARM_DEPLETED_BATTERY] if depleted else []
    present += [ALARM_ON_BYPASS] if v["bypass"] > 0.5 else []
    present += [ALARM_GENERAL_FAULT] if not alive else []
    state.raise_alarms(present, ticks)

    output_w, input_w = v["output_kw"] * 1e3, v["input_kw"] * 1e3
    stored_kwh = state.rating_kwh * soc / 100.0
    minutes = 60.0 * stored_kwh / max(v["output_kw"], 1e-3)
    seconds = 0.0 if state.on_battery_since is None else plant_t - state.on_battery_since
    if on_battery:
        source = SOURCE_BATTERY
    elif v["bypass"] > 0.5:
        source = SOURCE_BYPASS
    elif not alive:
        source = SOURCE_NONE
    else:
        source = SOURCE_NORMAL
    battery_status = BATTERY_DEPLETED if depleted else BATTERY_LOW if low else BATTERY_NORMAL
    input_live = not on_battery
    i32 = rfc1902.Integer32
    ident = (*UPS_OBJECTS, 1)
    battery = (*UPS_OBJECTS, 2)
    inp = (*UPS_OBJECTS, 3)
    out = (*UPS_OBJECTS, 4)
    alarm = (*UPS_OBJECTS, 6)
    config = (*UPS_OBJECTS, 9)
    objects = system_group(state, ticks, UPS_MIB, "twin simulated modular UPS (UPS-MIB RFC 1628)")
    objects += [
        ((*ident, 1, 0), rfc1902.OctetString("twin")),
        ((*ident, 2, 0), rfc1902.OctetString("modular double-conversion UPS")),
        ((*ident, 3, 0), rfc1902.OctetString("simulated")),
        ((*ident, 4, 0), rfc1902.OctetString("twin snmp agent 1")),
        ((*ident, 5, 0), rfc1902.OctetString(state.name)),
        ((*ident, 6, 0), rfc1902.OctetString(state.area)),
        ((*battery, 1, 0), i32(battery_status)),
        ((*battery, 2, 0), i32(_int(seconds, 0))),
        ((*battery, 3, 0), i32(_int(minutes, 1))),
        ((*battery, 4, 0), i32(_int(soc, 0, 100))),
        ((*battery, 7, 0), i32(_int(v["t_battery_c"]))),
        ((*inp, 1, 0), rfc1902.Counter32(state.line_bads % 2**32)),
        ((*inp, 2, 0), i32(LINES)),
    ]
    # upsInputTable: columns in OID order (index, frequency, voltage, current, power)
    per_line_in = input_w / LINES if input_live else 0.0
    columns_in = {
        2: NOMINAL_HZ * 10 if input_live else 0.0,  # 0.1 Hz
        3: NOMINAL_V if input_live else 0.0,  # RMS V
        4: 10.0 * per_line_in / NOMINAL_V,  # 0.1 RMS A
        5: per_line_in,  # W
    }
    for column, value in columns_in.items():
        for line in range(1, LINES + 1):
            objects.append(((*inp, 3, 1, column, line), i32(_int(value, 0))))
    objects += [
        ((*out, 1, 0), i32(source)),
        ((*out, 2, 0), i32(_int(NOMINAL_HZ * 10 if source != SOURCE_NONE else 0))),
        ((*out, 3, 0), i32(LINES)),
    ]
    per_line_out = output_w / LINES
    columns_out = {
        2: NOMINAL_V if source != SOURCE_NONE else 0.0,
        3: 10.0 * per_line_out / NOMINAL_V,
        4: per_line_out,
        5: v["load_pct"],
    }
    for column, value in columns_out.items():
        for line in range(1, LINES + 1):
            high = 200 if column == 5 else MAX_INT32
            objects.append(((*out, 4, 1, column, line), i32(_int(value, 0, high))))
    objects.append(((*alarm, 1, 0), _gauge(len(state.alarms))))
    rows = sorted((index, oid, at) for oid, (index, at) in state.alarms.items())
    for index, oid, _ in rows:
        objects.append(((*alarm, 2, 1, 2, index), rfc1902.ObjectIdentifier(oid)))
    for index, _, at in rows:
        objects.append(((*alarm, 2, 1, 3, index), rfc1902.TimeTicks(at % 2**32)))
    objects += [
        ((*config, 1, 0), i32(_int(NOMINAL_V))),
        ((*config, 2, 0), i32(_int(NOMINAL_HZ * 10))),
        ((*config, 3, 0), i32(_int(NOMINAL_V))),
        ((*config, 4, 0), i32(_int(NOMINAL_HZ * 10))),
        ((*config, 5, 0), i32(_int(state.rated_w, 0))),  # VA at unity power factor
        ((*config, 6, 0), i32(_int(state.rated_w, 0))),
    ]
    return objects


def pdu_objects(v: dict[str, float], state: DeviceState, plant_t: float, ticks: int) -> list:
    """The PDU2-MIB objects of one PDU (pdu 1, inlet 1) from its quantities."""
    energised = v["energised"] > 0.5
    inlet_w = (v["power_kw"] + v["loss_kw"]) * 1e3  # the inlet meters what the PDU draws
    current_a = inlet_w / (math.sqrt(3.0) * LINE_V) if energised else 0.0
    readings = {
        1: current_a,
        4: LINE_V if energised else 0.0,
        5: inlet_w,
        6: inlet_w,  # unity power factor: the plant models no reactive power
        7: 1.0 if energised else 0.0,
        8: v["energy_kwh"] * 1e3,
    }
    if not energised:
        state_value = STATE_BELOW_LOWER_CRITICAL
    elif v["overload"] > 0.5:
        state_value = STATE_ABOVE_UPPER_CRITICAL
    else:
        state_value = STATE_NORMAL
    objects = system_group(state, ticks, RARITAN_PDU2, "twin simulated PDU (Raritan PDU2-MIB)")
    octets = rfc1902.OctetString
    objects += [
        ((*NAMEPLATE_ENTRY, 2, 1), octets("twin")),
        ((*NAMEPLATE_ENTRY, 3, 1), octets("simulated row PDU")),
        ((*NAMEPLATE_ENTRY, 4, 1), octets(state.name)),
        ((*NAMEPLATE_ENTRY, 5, 1), octets("400V")),
        ((*NAMEPLATE_ENTRY, 6, 1), octets(f"{state.rated_w / (math.sqrt(3) * LINE_V):.0f}A")),
        ((*NAMEPLATE_ENTRY, 7, 1), octets("50Hz")),
        ((*NAMEPLATE_ENTRY, 8, 1), octets(f"{state.rated_w / 1e3:.0f}kVA")),
        ((*UNIT_CONFIGURATION_ENTRY, 2, 1), rfc1902.Integer32(1)),  # inletCount
        ((*UNIT_CONFIGURATION_ENTRY, 4, 1), rfc1902.Integer32(0)),  # outletCount
        ((*UNIT_CONFIGURATION_ENTRY, 13, 1), octets(state.name)),  # pduName
    ]
    sensors = sorted(INLET_SENSORS)
    for sensor in sensors:
        digits = INLET_SENSORS[sensor][0]
        objects.append(((*INLET_SENSOR_CONFIGURATION_ENTRY, 7, 1, 1, sensor), _gauge(digits)))
    for column in (2, 3, 4):  # isAvailable, state, value
        for sensor in sensors:
            oid = (*MEASUREMENTS_INLET_SENSOR_ENTRY, column, 1, 1, sensor)
            if column == 2:
                objects.append((oid, rfc1902.Integer32(1)))  # TruthValue true
            elif column == 3:
                objects.append((oid, rfc1902.Integer32(state_value)))
            else:
                raw = readings[sensor] * 10 ** INLET_SENSORS[sensor][0]
                if sensor == 8:
                    objects.append((oid, _gauge(raw % 2**32)))  # a counter that wraps
                else:
                    objects.append((oid, _gauge(raw)))
    return objects


#: equipment type → (objects of one device, the quantities it needs)
MIBS: dict[str, Callable[[dict[str, float], DeviceState, float, int], list]] = {
    "ups": ups_objects,
    "pdu": pdu_objects,
}
#: the types whose objects depend on what happened before (seconds on battery, alarms)
HISTORY = frozenset({"ups"})
