"""Bindings of the electrical room and the IT: site meter, transformers, ATSs,
generators, UPS/HVDC systems, batteries, PDUs and racks (what each device shows of
:attr:`twin.plant.model.Plant.readings`, counters integrated here).
"""

from __future__ import annotations

import numpy as np

from twin.devices.bindings.base import (
    ELECTRICAL_ROOM,
    J_PER_KWH,
    Binding,
    _n,
    _pct,
)
from twin.plant.layout import SIDES, Layout
from twin.plant.model import Plant


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
            quantities += ("cold_plate_high", "low_flow", "gpu_throttled", "gpu_tripped")
            quantities += ("throttled_kw", "tripped_kw")
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
                throttled_kw=np.asarray(r.racks.throttled_w)[i] / 1e3,
                tripped_kw=np.asarray(r.racks.tripped_w)[i] / 1e3,
                gpu_throttled=(np.asarray(r.racks.throttled_w)[i] > 0).astype(float),
                gpu_tripped=np.asarray(r.racks.tripped)[i].astype(float),
            )
        return v
