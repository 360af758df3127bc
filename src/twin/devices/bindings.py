"""Bindings: which plant values each equipment type's devices show, and where writes go.

A binding knows the instances of one equipment type in a site (names and areas
from the layout) and turns the plant's published state into one array per
*quantity* (engineering units of the profiles: kW, °C, %, booleans), all
devices at once. Profiles name quantities; :func:`twin.devices.inventory.build`
checks every name against :attr:`Binding.quantities` before anything is served.

Counters (energy kWh, run hours) are integrated here from the plant's powers
and states, step by step, as a meter or a controller would; the site meter's
energy counters read the plant's ledgers directly.

Setpoint writes turn into plant commands (``plant.command("setpoint", ...)``);
the plant validates them again against ``SETPOINT_LIMITS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from twin.physics import fluids
from twin.plant.layout import SIDES, DryCoolerGroup, Layout, PumpGroup, TowerGroup
from twin.plant.model import Plant
from twin.plant.pumps import pump_group_staging
from twin.plant.scenarios import SETPOINT_LIMITS
from twin.plant.towers import tower_cells

ELECTRICAL_ROOM = "electrical-room"
COOLING_PLANT = "cooling-plant"
J_PER_KWH = 3.6e6
AIR_RHO_CP = fluids.AIR_DENSITY * fluids.AIR_SPECIFIC_HEAT  # J/(m³ K), as the CRAH sizing


@dataclass
class Binding:
    """Instances of one equipment type and the quantities they publish."""

    equipment: str
    names: list[str]
    areas: list[str]
    quantities: tuple[str, ...]
    #: quantity → plant setpoint name (``SETPOINT_LIMITS`` key)
    setpoints: dict[str, str] = field(default_factory=dict)
    counters: dict[str, np.ndarray] = field(default_factory=dict)
    #: quantity → nameplate per device, for the registry's ``rating`` column
    ratings: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def write(self, plant: Plant, device: int, quantity: str, value: float) -> None:
        """Queue a setpoint write from device ``device`` (its position in :attr:`names`)."""
        plant.command("setpoint", point=self.setpoints[quantity], value=float(value))

    def setpoint_targets(self, quantity: str) -> tuple[str, ...]:
        """Every plant setpoint a write of ``quantity`` may reach (for limit checks)."""
        return (self.setpoints[quantity],)

    def _count(self, key: str, rate: np.ndarray, dt: float) -> np.ndarray:
        total = self.counters.setdefault(key, np.zeros(len(self)))
        total += rate * dt
        return total.copy()


def _n(value: object, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()


def _pct(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, 100.0 * numerator / denominator, 0.0)


class SiteMeter(Binding):
    def __init__(self, layout: Layout) -> None:
        super().__init__(
            "site-meter",
            ["site-meter"],
            [ELECTRICAL_ROOM],
            (
                "utility_power_kw",
                "generator_power_kw",
                "facility_power_kw",
                "it_power_kw",
                "t_outdoor_dry_c",
                "t_outdoor_wet_c",
                "water_l_per_h",
                "utility_energy_kwh",
                "it_energy_kwh",
                "feed_a_ok",
                "feed_b_ok",
                "on_generator_a",
                "on_generator_b",
                "voltage_v",
                "frequency_hz",
            ),
        )

    #: Nominal phase voltage [V] and frequency [Hz] of a live low-voltage switchboard:
    #: the plant models no voltage, only whether a source feeds the site.
    NOMINAL_V, NOMINAL_HZ = 230.0, 50.0

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        ok = np.asarray(r.power.utility_ok)
        gen = np.asarray(r.power.on_generator)
        live = bool((ok | gen).any())
        v = {
            "utility_power_kw": r.power.utility_power_w / 1e3,
            "generator_power_kw": r.power.generator_power_w / 1e3,
            "facility_power_kw": r.power.facility_power_w / 1e3,
            "it_power_kw": r.power.it_power_w / 1e3,
            "t_outdoor_dry_c": r.site.t_dry_c,
            "t_outdoor_wet_c": r.site.t_wet_c,
            "water_l_per_h": r.site.water_kg_s * 3600.0,
            "utility_energy_kwh": plant.ledger.utility / J_PER_KWH,
            "it_energy_kwh": plant.ledger.it / J_PER_KWH,
            "feed_a_ok": ok[0],
            "feed_b_ok": ok[1],
            "on_generator_a": gen[0],
            "on_generator_b": gen[1],
            "voltage_v": self.NOMINAL_V if live else 0.0,
            "frequency_hz": self.NOMINAL_HZ if live else 0.0,
        }
        return {k: _n(x, 1) for k, x in v.items()}


class Transformers(Binding):
    def __init__(self, layout: Layout) -> None:
        side = layout.transformer_side
        names = []
        for i, s in enumerate(side):
            names.append(f"tx-{SIDES[s]}{int(np.sum(side[:i] == s)) + 1}")
        super().__init__(
            "transformer",
            names,
            [ELECTRICAL_ROOM] * len(names),
            ("load_kw", "loss_kw", "load_pct", "energised", "overload", "energy_kwh"),
        )
        self.side = side
        self.rated_kva = layout.transformer_rated_kva
        self.pf = layout.transformer_pf

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        load = np.asarray(r.power.transformer_load_w, float)
        energised = (np.asarray(r.power.utility_ok) | np.asarray(r.power.on_generator))[self.side]
        load_pct = load / 1e3 / self.pf / self.rated_kva * 100.0
        return {
            "load_kw": load / 1e3,
            "loss_kw": np.asarray(r.power.transformer_loss_w, float) / 1e3,
            "load_pct": load_pct,
            "energised": energised.astype(float),
            "overload": (load_pct > 100.0).astype(float),
            "energy_kwh": self._count("energy", load / J_PER_KWH, dt),
        }


class Ats(Binding):
    def __init__(self, layout: Layout) -> None:
        super().__init__(
            "ats",
            [f"ats-{s}" for s in SIDES],
            [ELECTRICAL_ROOM] * 2,
            (
                "utility_available",
                "generator_available",
                "on_utility",
                "on_generator",
                "position",
                "load_kw",
            ),
        )
        self.side = layout.transformer_side

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        ok = np.asarray(r.power.utility_ok)
        gen = np.asarray(r.power.on_generator)
        on_utility = ok & ~gen
        intake = np.asarray(r.power.transformer_load_w) + np.asarray(r.power.transformer_loss_w)
        load = np.bincount(self.side, intake, 2)
        return {
            "utility_available": ok.astype(float),
            "generator_available": _n(plant.generator_ready, 2),
            "on_utility": on_utility.astype(float),
            "on_generator": gen.astype(float),
            "position": np.where(gen, 2.0, np.where(on_utility, 1.0, 0.0)),
            "load_kw": load / 1e3,
        }


class Generators(Binding):
    def __init__(self, layout: Layout) -> None:
        n = layout.generators
        super().__init__(
            "generator",
            [f"gen-{i + 1}" for i in range(n)],
            [ELECTRICAL_ROOM] * n,
            (
                "power_kw",
                "fuel_l_per_h",
                "running",
                "ready_to_load",
                "on_load",
                "speed_rpm",
                "run_hours",
            ),
        )

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        n = len(self)
        running = bool(r.power.generators_running)
        on_load = bool(np.asarray(r.power.on_generator).any())
        return {
            "power_kw": _n(r.power.generator_power_w / 1e3 / n, n),
            "fuel_l_per_h": _n(r.power.generator_fuel_l_per_h / n, n),
            "running": _n(running, n),
            "ready_to_load": _n(plant.generator_ready, n),
            "on_load": _n(on_load, n),
            "speed_rpm": _n(1500.0 if running else 0.0, n),
            "run_hours": self._count("hours", _n(running, n) / 3600.0, dt),
        }


class PowerSystems(Binding):
    """UPS frames or HVDC systems (one binding per kind)."""

    def __init__(self, layout: Layout, hvdc: bool) -> None:
        systems = layout.systems
        self.index = np.flatnonzero(systems.is_hvdc == hvdc)
        super().__init__(
            "hvdc" if hvdc else "ups",
            [systems.name[i] for i in self.index],
            [layout.hall_names[systems.hall[i]] for i in self.index],
            (
                "output_kw",
                "input_kw",
                "loss_kw",
                "load_pct",
                "modules_online",
                "online",
                "on_battery",
                "low_battery",
                "bypass",
                "fault",
                "battery_soc_pct",
                "output_energy_kwh",
                "t_battery_c",
            ),
        )
        self.module_w = systems.module_w[self.index]
        # Load % is of the system's rated output (all installed modules), as a modular
        # UPS or rectifier frame reports it; modules asleep are still capacity.
        self.rated_w = systems.modules[self.index] * self.module_w
        # Usable battery energy [kWh]: the collector's runtime estimate needs it.
        self.ratings = {"battery_soc_pct": systems.battery_wh[self.index] / 1e3}

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        i = self.index
        output = np.asarray(r.power.system_output_w)[i]
        modules = np.asarray(r.power.system_modules_online, float)[i]
        alive = np.asarray(r.power.system_alive)[i]
        soc = np.asarray(r.power.battery_soc)[i]
        on_battery = np.asarray(r.power.battery_discharge_w)[i] > 1.0
        return {
            "output_kw": output / 1e3,
            "input_kw": np.asarray(r.power.system_input_w)[i] / 1e3,
            "loss_kw": np.asarray(r.power.system_loss_w)[i] / 1e3,
            "load_pct": _pct(output, self.rated_w),
            "modules_online": modules,
            "online": (alive & ~on_battery).astype(float),
            "on_battery": on_battery.astype(float),
            "low_battery": (on_battery & (soc < 0.25)).astype(float),
            "bypass": np.zeros(len(i)),
            "fault": (~alive).astype(float),
            "battery_soc_pct": soc * 100.0,
            "output_energy_kwh": self._count("energy", output / J_PER_KWH, dt),
            # The plant has no battery thermal model: the battery room's design value.
            "t_battery_c": _n(self.T_BATTERY_C, len(i)),
        }

    T_BATTERY_C = 25.0  # IEEE 1184 / vendors' rated battery temperature


class Batteries(Binding):
    def __init__(self, layout: Layout) -> None:
        systems = layout.systems
        super().__init__(
            "battery",
            [f"{name}-bat" for name in systems.name],
            [layout.hall_names[h] for h in systems.hall],
            ("soc_pct", "power_kw", "charging", "discharging", "low", "depleted"),
        )

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        soc = np.asarray(r.power.battery_soc, float)
        discharge = np.asarray(r.power.battery_discharge_w, float)
        charge = np.asarray(r.power.battery_charge_w, float)
        return {
            "soc_pct": soc * 100.0,
            "power_kw": (discharge - charge) / 1e3,
            "charging": (charge > 1.0).astype(float),
            "discharging": (discharge > 1.0).astype(float),
            "low": (soc < 0.25).astype(float),
            "depleted": (soc <= 0.01).astype(float),
        }


class Pdus(Binding):
    def __init__(self, layout: Layout) -> None:
        pdus = layout.pdus
        super().__init__(
            "pdu",
            list(pdus.name),
            [layout.hall_names[layout.systems.hall[s]] for s in pdus.system],
            ("power_kw", "loss_kw", "load_pct", "energised", "overload", "energy_kwh"),
        )
        self.system = pdus.system
        self.rated_w = pdus.rated_w

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        power = np.asarray(r.power.pdu_power_w, float)
        load_pct = _pct(power, self.rated_w)
        return {
            "power_kw": power / 1e3,
            "loss_kw": np.asarray(r.power.pdu_loss_w, float) / 1e3,
            "load_pct": load_pct,
            "energised": np.asarray(r.power.system_alive)[self.system].astype(float),
            "overload": (load_pct > 100.0).astype(float),
            "energy_kwh": self._count("energy", power / J_PER_KWH, dt),
        }


class Racks(Binding):
    """Air-cooled racks or cold-plate GPU racks (one binding per kind)."""

    def __init__(self, layout: Layout, gpu: bool) -> None:
        racks = layout.racks
        self.index = np.flatnonzero(racks.is_gpu == gpu)
        quantities = ("power_kw", "t_inlet_c", "powered", "inlet_high")
        if gpu:
            quantities += ("t_cold_plate_c", "t_coolant_return_c", "coolant_flow_lpm")
            quantities += ("cold_plate_high", "low_flow")
        super().__init__(
            "gpu-rack" if gpu else "rack",
            [racks.name[i] for i in self.index],
            [layout.hall_names[racks.hall[i]] for i in self.index],
            quantities,
        )
        self.gpu = gpu
        cooling = layout.site.cooling
        self.inlet_limit = cooling.rack_inlet_limit_c
        self.plate_limit = cooling.cold_plate_limit_c
        self.design_lpm = racks.m_flow_design_kg_s[self.index] / layout.rho_secondary * 60000.0

    def values(self, plant: Plant, dt: float) -> dict[str, np.ndarray]:
        r = plant.readings
        i = self.index
        power = np.asarray(r.racks.power_w)[i]
        inlet = np.asarray(r.racks.t_inlet_c)[i]
        v = {
            "power_kw": power / 1e3,
            "t_inlet_c": inlet,
            "powered": (power > 0).astype(float),
            "inlet_high": (inlet > self.inlet_limit).astype(float),
        }
        if self.gpu:
            plate = np.asarray(r.racks.t_cold_plate_c)[i]
            flow = np.asarray(r.racks.coolant_flow_lpm)[i]
            v.update(
                t_cold_plate_c=plate,
                t_coolant_return_c=np.asarray(r.racks.t_coolant_return_c)[i],
                coolant_flow_lpm=flow,
                cold_plate_high=(plate > self.plate_limit).astype(float),
                low_flow=(flow < 0.5 * self.design_lpm).astype(float),
            )
        return v


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


def site_bindings(layout: Layout) -> list[Binding]:
    """Every equipment type of a site, in a stable order (power, IT, cooling)."""
    bindings: list[Binding] = [
        SiteMeter(layout),
        Transformers(layout),
        Ats(layout),
        Generators(layout),
        PowerSystems(layout, hvdc=False),
        PowerSystems(layout, hvdc=True),
        Batteries(layout),
        Pdus(layout),
        Racks(layout, gpu=True),
        Racks(layout, gpu=False),
        Cdus(layout),
        Crahs(layout),
        Pumps(layout),
        Towers(layout),
        DryCoolers(layout),
        Chillers(layout),
    ]
    return [b for b in bindings if len(b)]
