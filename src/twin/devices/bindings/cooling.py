"""Bindings of the cooling plant: CDUs, pumps, towers, dry coolers, chillers and
CRAH units, and where their setpoint writes go.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from twin.devices.bindings.base import (
    AIR_RHO_CP,
    COOLING_PLANT,
    Binding,
    _n,
)
from twin.plant.layout import DryCoolerGroup, Layout, PumpGroup, TowerGroup
from twin.plant.model import Plant
from twin.plant.pumps import pump_group_staging
from twin.plant.scenarios import SETPOINT_LIMITS
from twin.plant.towers import tower_cells


class Cdus(Binding):
    def __init__(self, layout: Layout) -> None:
        cdus = layout.cdus
        super().__init__(
            "cdu",
            list(cdus.name),
            [layout.hall_names[h] for h in cdus.hall],
            (
                "t_supply_c",
                "t_return_c",
                "flow_kg_s",
                "heat_kw",
                "pump_power_kw",
                "valve_pct",
                "pump_speed_pct",
                "pump1_running",
                "pump2_running",
                "pump1_fault",
                "pump2_fault",
                "supply_high",
                "t_supply_set_c",
                "t_supply_set_low_c",
                "t_supply_set_high_c",
            ),
            setpoints={"t_supply_set_c": "t_tcs_supply_c"},
        )
        self.hall = cdus.hall
        self.n_halls = layout.n_halls

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        h = self.hall
        running = plant.pump_running.sum(axis=1).astype(float)
        hall_running = np.bincount(h, running, self.n_halls)[h]
        share = np.where(hall_running > 0, running / np.maximum(hall_running, 1.0), 0.0)
        failed = plant.faults.pump_failed
        assert failed is not None
        t_supply = plant.t_tcs_supply[h]
        t_set = plant.t_tcs_supply_set[h]
        pumps = plant.pump_running
        second = pumps[:, 1] if pumps.shape[1] > 1 else np.zeros(len(h), bool)
        second_failed = failed[:, 1] if failed.shape[1] > 1 else np.zeros(len(h), bool)
        return {
            "t_supply_c": t_supply,
            "t_return_c": plant.t_tcs_return[h],
            "flow_kg_s": np.asarray(r.cdus.tcs_flow_kg_s)[h] * share,
            "heat_kw": np.asarray(r.cdus.heat_w)[h] * share / 1e3,
            "pump_power_kw": np.asarray(r.cdus.pump_power_w) / 1e3,
            "valve_pct": np.asarray(r.cdus.valve)[h] * 100.0,
            "pump_speed_pct": np.where(running > 0, np.asarray(r.cdus.pump_speed)[h], 0) * 100,
            "pump1_running": pumps[:, 0].astype(float),
            "pump2_running": second.astype(float),
            "pump1_fault": failed[:, 0].astype(float),
            "pump2_fault": second_failed.astype(float),
            "supply_high": (t_supply > t_set + 3.0).astype(float),
            "t_supply_set_c": t_set.copy(),
            "t_supply_set_low_c": _n(SETPOINT_LIMITS["t_tcs_supply_c"][0], len(h)),
            "t_supply_set_high_c": _n(SETPOINT_LIMITS["t_tcs_supply_c"][1], len(h)),
        }

    def write(self, plant: Plant, device: int, quantity: str, value: float) -> None:
        plant.command(
            "setpoint",
            point=self.setpoints[quantity],
            value=float(value),
            hall=int(self.hall[device]),
        )


class Pumps(Binding):
    """Plant-room pumps: facility water, chilled water, condenser water."""

    LOOPS = (("fw", "fw_pumps"), ("chw", "chw_pumps"), ("cw", "cw_pumps"))

    def __init__(self, layout: Layout) -> None:
        self.groups: list[tuple[str, PumpGroup, slice]] = []
        names: list[str] = []
        for loop, attribute in self.LOOPS:
            group = getattr(layout, attribute)
            if group is None:
                continue
            start = len(names)
            names += [f"{loop}-pump-{i + 1}" for i in range(group.pumps)]
            self.groups.append((loop, group, slice(start, len(names))))
        super().__init__(
            "pump",
            names,
            [COOLING_PLANT] * len(names),
            ("speed_pct", "power_kw", "flow_m3_h", "running", "fault", "run_hours"),
        )

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        n = len(self)
        v = {q: np.zeros(n) for q in ("speed_pct", "power_kw", "flow_m3_h", "running", "fault")}
        for loop, group, where in self.groups:
            pumped = {"fw": r.fw, "chw": r.chw, "cw": r.cw}[loop]
            m = float(pumped.flow_kg_s)
            power = float(pumped.pump_power_w)
            staged, speed = pump_group_staging(group, m)
            on = int(staged) if power > 0 else 0
            running = np.arange(group.pumps) < on
            v["running"][where] = running
            v["speed_pct"][where] = np.where(running, float(speed) * 100.0, 0.0)
            v["power_kw"][where] = np.where(running, power / max(on, 1) / 1e3, 0.0)
            flow_m3_h = m / max(on, 1) / plant.layout.rho_water * 3600.0
            v["flow_m3_h"][where] = np.where(running, flow_m3_h, 0.0)
        v["run_hours"] = self._count("hours", v["running"] / 3600.0, dt)
        return v


class Towers(Binding):
    """Tower cells of the facility-water loop and of the condenser-water loop.

    The leaving-water setpoint is loop-wide: a write to any tower of a loop sets
    that loop's setpoint (``t_fw_supply_c`` or ``t_cw_supply_c``).
    """

    LOOPS = (("fw", "fw_towers"), ("cw", "cw_towers"))
    SETPOINTS: ClassVar[dict[str, str]] = {"fw": "t_fw_supply_c", "cw": "t_cw_supply_c"}

    def __init__(self, layout: Layout) -> None:
        self.groups: list[tuple[str, TowerGroup, slice]] = []
        names: list[str] = []
        for loop, attribute in self.LOOPS:
            group = getattr(layout, attribute)
            if group is None or group.cells == 0:
                continue
            start = len(names)
            names += [f"{loop}-tower-{i + 1}" for i in range(group.cells)]
            self.groups.append((loop, group, slice(start, len(names))))
        super().__init__(
            "tower",
            names,
            [COOLING_PLANT] * len(names),
            (
                "fan_speed_pct",
                "fan_power_kw",
                "t_water_out_c",
                "t_water_in_c",
                "t_wet_bulb_c",
                "fan_running",
                "fan_fault",
                "t_water_out_set_c",
            ),
            setpoints={"t_water_out_set_c": self.SETPOINTS["fw"]},
        )
        self.loop = [loop for loop, _, where in self.groups for _ in range(where.start, where.stop)]

    def write(self, plant: Plant, device: int, quantity: str, value: float) -> None:
        point = self.SETPOINTS[self.loop[device]]
        plant.command("setpoint", point=point, value=float(value))

    def setpoint_targets(self, quantity: str) -> tuple[str, ...]:
        return tuple(self.SETPOINTS[loop] for loop, _, _ in self.groups)

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        n = len(self)
        v = {q: np.zeros(n) for q in self.quantities}
        for loop, group, where in self.groups:
            cooled = r.fw if loop == "fw" else r.cw
            m = float(cooled.flow_kg_s)
            failed = plant.faults.fw_tower_failed if loop == "fw" else plant.faults.cw_tower_failed
            failed = np.zeros(group.cells, bool) if failed is None else failed
            cells_on = int(tower_cells(group, m)[0]) if m > 0 else 0
            working = min(group.cells - int(failed.sum()), cells_on)
            speed = float(cooled.fan_speed)
            power = float(cooled.fan_power_w)
            healthy_rank = np.cumsum(~failed) - 1
            fan_on = (~failed) & (healthy_rank < working) & (speed > 0)
            loop_t = plant.t_fw if loop == "fw" else plant.t_cw
            v["fan_running"][where] = fan_on
            v["fan_fault"][where] = failed
            v["fan_speed_pct"][where] = np.where(fan_on, speed * 100.0, 0.0)
            v["fan_power_kw"][where] = np.where(fan_on, power / max(int(fan_on.sum()), 1) / 1e3, 0)
            v["t_water_out_c"][where] = loop_t[0]
            v["t_water_in_c"][where] = loop_t[1]
            v["t_wet_bulb_c"][where] = r.site.t_wet_c
            v["t_water_out_set_c"][where] = (
                plant.t_fw_supply_set if loop == "fw" else plant.t_cw_supply_set
            )
        return v


class DryCoolers(Binding):
    """Dry coolers of the facility-water loop (sites without towers on that loop).

    The units share the loop's water equally and run their fans at one speed,
    as the plant models them (:class:`twin.plant.layout.DryCoolerGroup`); the
    plant publishes that speed and the group's fan power under the loop's
    heat-rejection readings (``fw_tower_fan_*``, towers and dry coolers being
    exclusive on a loop). Water temperatures are the loop's supply and return
    nodes. The plant models no dry-cooler fan failure: ``fan_fault`` stays 0.
    The leaving-water setpoint is the loop's ``t_fw_supply_c``.
    """

    def __init__(self, layout: Layout) -> None:
        group = layout.fw_drycoolers
        units = group.units if group is not None else 0
        super().__init__(
            "drycooler",
            [f"fw-drycooler-{i + 1}" for i in range(units)],
            [COOLING_PLANT] * units,
            (
                "fan_speed_pct",
                "fan_power_kw",
                "t_water_in_c",
                "t_water_out_c",
                "t_dry_bulb_c",
                "fan_running",
                "fan_fault",
                "t_water_out_set_c",
            ),
            setpoints={"t_water_out_set_c": "t_fw_supply_c"},
        )
        self.group: DryCoolerGroup | None = group

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        n = len(self)
        speed = float(r.fw.fan_speed)
        running = speed > 0
        return {
            "fan_speed_pct": _n(speed * 100.0, n),
            "fan_power_kw": _n(float(r.fw.fan_power_w) / max(n, 1) / 1e3, n),
            "t_water_in_c": _n(plant.t_fw[1], n),
            "t_water_out_c": _n(plant.t_fw[0], n),
            "t_dry_bulb_c": _n(r.site.t_dry_c, n),
            "fan_running": _n(running, n),
            "fan_fault": np.zeros(n),
            "t_water_out_set_c": _n(plant.t_fw_supply_set, n),
        }


class Chillers(Binding):
    def __init__(self, layout: Layout) -> None:
        n = layout.chillers
        super().__init__(
            "chiller",
            [f"chiller-{i + 1}" for i in range(n)],
            [COOLING_PLANT] * n,
            (
                "power_kw",
                "load_pct",
                "t_chw_supply_c",
                "t_chw_return_c",
                "t_cw_supply_c",
                "t_cw_return_c",
                "running",
                "available",
                "tripped",
                "economiser_mode",
                "run_hours",
                "t_chw_supply_set_c",
                "t_chw_supply_set_low_c",
                "t_chw_supply_set_high_c",
            ),
            setpoints={"t_chw_supply_set_c": "t_chw_supply_c"},
        )
        self.capacity_w = layout.chiller.capacity_kw * 1e3

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        n = len(self)
        failed = plant.faults.chiller_failed
        assert failed is not None
        available = ~failed & (plant.chiller_ready_at <= plant.t_s)
        on = int(r.chw.chillers_on)
        running = available & (np.cumsum(available) <= on)
        k = max(on, 1)
        return {
            "power_kw": np.where(running, float(r.chw.chiller_power_w) / k / 1e3, 0.0),
            "load_pct": np.where(running, float(r.chw.chiller_heat_w) / k / self.capacity_w, 0)
            * 100.0,
            "t_chw_supply_c": _n(plant.t_chw[0], n),
            "t_chw_return_c": _n(plant.t_chw[1], n),
            "t_cw_supply_c": _n(plant.t_cw[0], n),
            "t_cw_return_c": _n(plant.t_cw[1], n),
            "running": running.astype(float),
            "available": available.astype(float),
            "tripped": failed.astype(float),
            "economiser_mode": _n(int(r.site.cooling_mode) in (0, 1), n),
            "run_hours": self._count("hours", running / 3600.0, dt),
            "t_chw_supply_set_c": _n(plant.t_chw_supply_set, n),
            "t_chw_supply_set_low_c": _n(SETPOINT_LIMITS["t_chw_supply_c"][0], n),
            "t_chw_supply_set_high_c": _n(SETPOINT_LIMITS["t_chw_supply_c"][1], n),
        }


class Crahs(Binding):
    def __init__(self, layout: Layout) -> None:
        hall = layout.crah_hall
        names = []
        for i, h in enumerate(hall):
            names.append(f"{layout.hall_names[h]}-crah{int(np.sum(hall[:i] == h)) + 1:02d}")
        super().__init__(
            "crah",
            names,
            [layout.hall_names[h] for h in hall],
            (
                "fan_speed_pct",
                "valve_pct",
                "fan_power_kw",
                "heat_kw",
                "t_hall_air_c",
                "fan_running",
                "cooling",
                "t_supply_air_set_c",
                "t_supply_air_c",
                "t_return_air_c",
                "humidity_pct",
            ),
            setpoints={"t_supply_air_set_c": "t_supply_air_c"},
        )
        self.hall = hall
        self.per_hall = np.bincount(hall, minlength=layout.n_halls)[hall].astype(float)
        self.airflow_m3_s = np.array([layout.crah[h].airflow_m3_s for h in hall])

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        h = self.hall
        speed = np.asarray(r.crah.fan_speed)[h]
        power = np.asarray(r.crah.fan_power_w)[h] / self.per_hall
        valve = np.asarray(r.crah.valve)[h]
        return {
            "fan_speed_pct": speed * 100.0,
            "valve_pct": valve * 100.0,
            "fan_power_kw": power / 1e3,
            "heat_kw": np.asarray(r.crah.heat_w)[h] / self.per_hall / 1e3,
            "t_hall_air_c": plant.t_air[h],
            "fan_running": (power > 0).astype(float),
            "cooling": (valve > 0.01).astype(float),
            "t_supply_air_set_c": plant.t_supply_air_set[h].copy(),
            # The hall air node is the air the CRAHs deliver; the return is warmer by
            # the unit's heat over its air stream (q = rho c_p V dT).
            "t_supply_air_c": plant.t_air[h].copy(),
            "t_return_air_c": plant.t_air[h]
            + np.asarray(r.crah.heat_w)[h]
            / self.per_hall
            / (AIR_RHO_CP * np.maximum(self.airflow_m3_s * speed, 1e-3)),
            # No moisture model: the ASHRAE-recommended middle the units are set to.
            "humidity_pct": _n(45.0, len(h)),
        }

    def write(self, plant: Plant, device: int, quantity: str, value: float) -> None:
        plant.command(
            "setpoint",
            point=self.setpoints[quantity],
            value=float(value),
            hall=int(self.hall[device]),
        )
