"""The power stage of the plant's step: sources, and the chain from racks to feeds.

Two functions of :meth:`twin.plant.model.Plant.step`:

- :func:`update_sources` runs first in the step: utility, generators and ATSs decide
  which sides are energised, which the racks (through their UPS/HVDC systems) and the
  mechanical plant need to know before they draw anything;
- :func:`power_chain` runs after the thermal network: it walks the power drawn up from
  the racks (PDU → UPS/HVDC with its batteries → transformer → feed) and returns every
  flow as a :class:`PowerFlows`.

Both update the plant's power state in place (battery charge, systems alive, rectifier
walk-in, generator and ATS state). The equipment equations live in
:mod:`twin.plant.power`, :func:`twin.plant.layout.system_losses` and
:mod:`twin.physics.electrical`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from twin.physics import electrical
from twin.plant.layout import Layout, system_losses
from twin.plant.power import pdu_losses, transformer_loads, ups_cooling_share

if TYPE_CHECKING:
    from twin.plant.model import Plant

__all__ = ["PowerFlows", "power_chain", "rack_powered", "update_sources"]


@dataclass(slots=True)
class PowerFlows:
    """Electrical flows of one step [W], per component class.

    Attributes
    ----------
    p_cooling_ups : ndarray
        Critical cooling (CDU pumps, CRAH fans) carried by the halls' UPS, per hall [W].
    p_mech : float
        Mechanical plant on the switchboards (loop pumps, tower and dry-cooler fans,
        chillers) [W]; 0 with no side energised.
    p_pdu_out, pdu_loss : ndarray
        Power delivered by and lost in each PDU [W].
    p_sys_out, sys_loss, p_sys_in : ndarray
        Output, conversion loss and input of each UPS/HVDC system [W].
    n_modules : ndarray
        Modules online in each system.
    discharge, charging, battery_loss : ndarray
        Battery discharge (drawn from the cells), charging (drawn from the input) and
        their losses, per system [W].
    p_transformer, transformer_loss : ndarray
        Load and loss of each transformer [W].
    from_utility, from_generator : float
        Power taken from the utility feeds and from the generators [W].
    fuel_l_per_h : float
        Generator fuel rate [L/h].
    other_w : float
        Other site load (offices, lighting) [W]; 0 with no side energised.
    p_cooling : float
        All cooling power, critical (on UPS) and mechanical [W].
    """

    p_cooling_ups: np.ndarray
    p_mech: float
    p_pdu_out: np.ndarray
    pdu_loss: np.ndarray
    p_sys_out: np.ndarray
    sys_loss: np.ndarray
    p_sys_in: np.ndarray
    n_modules: np.ndarray
    discharge: np.ndarray
    charging: np.ndarray
    battery_loss: np.ndarray
    p_transformer: np.ndarray
    transformer_loss: np.ndarray
    from_utility: float
    from_generator: float
    fuel_l_per_h: float
    other_w: float
    p_cooling: float


def rack_powered(layout: Layout, system_alive: np.ndarray) -> np.ndarray:
    """1.0 for each rack with at least one of its two PDUs on a live system, else 0.0."""
    racks = layout.racks
    systems = layout.pdus.system
    side_a = system_alive[systems[racks.pdu[0]]]
    side_b = system_alive[systems[racks.pdu[1]]]
    return (side_a | side_b).astype(float)


def update_sources(plant: Plant, t: float, dt: float) -> None:
    """Utility, generators and ATS: decide which sides are energised this step."""
    gen = plant.layout.generator
    power = plant.site.power
    lost = plant.faults.utility_lost
    for side in range(2):
        if lost[side] and not math.isfinite(plant.utility_lost_since[side]):
            plant.utility_lost_since[side] = t
            plant.utility_back_since[side] = -math.inf
        if not lost[side] and math.isfinite(plant.utility_lost_since[side]):
            plant.utility_lost_since[side] = math.inf
            plant.utility_back_since[side] = t
    need_generators = bool(lost.any() or plant.on_generator.any())
    if need_generators and not plant.generators_running:
        plant.generators_running = True
        plant.generator_state_since = t
    ready = plant.generators_running and t - plant.generator_state_since >= gen.start_delay_s
    plant.generator_ready = ready
    for side in range(2):
        transfer_at = plant.generator_state_since + gen.start_delay_s + power.ats_transfer_delay_s
        if lost[side] and ready and t >= transfer_at:
            if not plant.on_generator[side]:
                plant.walk_in[plant.layout.systems.side == side] = 0.0
            plant.on_generator[side] = True
        retransfer_at = plant.utility_back_since[side] + power.retransfer_delay_s
        if not lost[side] and plant.on_generator[side] and t >= retransfer_at:
            plant.on_generator[side] = False
    if plant.generators_running and not lost.any() and not plant.on_generator.any():
        plant.generators_running = False
    energised = (~lost) | plant.on_generator
    plant.side_energised = energised
    plant.mech_powered = bool(energised.any())
    # Rectifier walk-in: the input ramps from the new source over walk_in_s.
    ramp = dt / max(power.rectifier_walk_in_s, 1e-9)
    side_of = plant.layout.systems.side
    plant.walk_in = np.where(energised[side_of], np.minimum(plant.walk_in + ramp, 1.0), 0.0)


def power_chain(
    plant: Plant,
    p_it: np.ndarray,
    p_cooling_ups: np.ndarray,
    p_mech: float,
    dt: float,
) -> PowerFlows:
    """Walk the power drawn up from the racks to the feeds for one step of ``dt`` [s].

    ``p_it`` is the IT power per rack, ``p_cooling_ups`` the critical cooling per hall
    and ``p_mech`` the mechanical plant [W]. Updates the batteries' charge, which
    systems are alive, the generators' output and the losses inside the halls (which
    heat the hall air in the next step).
    """
    layout = plant.layout
    racks, pdus, systems = layout.racks, layout.pdus, layout.systems
    n_pdus = len(pdus.name)
    n_sys = len(systems.name)
    alive = plant.system_alive
    sys_a = pdus.system[racks.pdu[0]]
    sys_b = pdus.system[racks.pdu[1]]
    a_ok = alive[sys_a]
    b_ok = alive[sys_b]
    both = a_ok & b_ok
    share_a = np.where(both, 0.5, np.where(a_ok, 1.0, 0.0))
    share_b = np.where(both, 0.5, np.where(b_ok, 1.0, 0.0))
    p_pdu_out = np.bincount(racks.pdu[0], p_it * share_a, n_pdus) + np.bincount(
        racks.pdu[1], p_it * share_b, n_pdus
    )
    pdu_loss = pdu_losses(pdus, p_pdu_out)
    p_sys_out = np.bincount(pdus.system, p_pdu_out + pdu_loss, n_sys)
    # Critical cooling (CDU pumps, CRAH fans) shares the halls' UPS systems.
    p_sys_out = p_sys_out + ups_cooling_share(systems, alive, p_cooling_ups, layout.n_halls)
    n_mod, sys_loss = system_losses(systems, p_sys_out)
    sys_loss = np.where(alive, sys_loss, 0.0)
    demand = p_sys_out + sys_loss  # DC/AC bus demand before batteries
    from_input = demand * plant.walk_in
    shortfall = demand - from_input
    # Batteries carry what the input does not.
    energy = systems.battery_wh * 3600.0
    available = plant.soc * energy
    discharge = np.minimum(shortfall / systems.discharge_eff, available / dt)
    delivered = discharge * systems.discharge_eff
    failing = (shortfall - delivered > 1.0) & alive
    if failing.any():
        plant.system_alive = alive & ~failing
    # Charge when the input is back.
    charging = np.where(
        plant.walk_in >= 1.0,
        np.minimum(systems.max_charge_w, (1.0 - plant.soc) * energy / dt / systems.charge_eff),
        0.0,
    )
    charging = np.clip(charging, 0.0, None)
    plant.soc = np.clip(
        plant.soc + (charging * systems.charge_eff - discharge) * dt / energy, 0.0, 1.0
    )
    # Systems dropped for a flat battery restart once their input returns.
    plant.system_alive = plant.system_alive | (plant.walk_in >= 1.0)
    p_sys_in = from_input + charging
    battery_loss = discharge * (1 - systems.discharge_eff) + charging * (1 - systems.charge_eff)
    # Transformers: systems by assignment, mechanical and other loads split evenly
    # over the energised side(s) through the switchboards' ATSs.
    energised = plant.side_energised
    other = plant.site.other_load_kw * 1e3 if energised.any() else 0.0
    p_tr, tr_loss = transformer_loads(layout, p_sys_in, p_mech + other, energised)
    intake = np.bincount(layout.transformer_side, p_tr + tr_loss, 2)
    from_generator = float(np.sum(np.where(plant.on_generator, intake, 0.0)))
    from_utility = float(np.sum(np.where(plant.on_generator, 0.0, intake)))
    gen = layout.generator
    fuel = 0.0
    if plant.generators_running:
        fuel = float(
            electrical.generator_fuel_rate(
                from_generator,
                gen.rated_kw * 1e3 * layout.generators,
                gen.fuel_no_load_l_per_h_per_kw,
                gen.fuel_slope_l_per_kwh,
            )
        )
    plant.generator_output_w = from_generator
    # Losses inside the halls (PDUs, UPS/HVDC, batteries) heat the hall air next step.
    hall_of_pdu = systems.hall[pdus.system]
    plant.hall_losses_w = np.bincount(hall_of_pdu, pdu_loss, layout.n_halls) + np.bincount(
        systems.hall, sys_loss + battery_loss, layout.n_halls
    )
    return PowerFlows(
        p_cooling_ups=p_cooling_ups,
        p_mech=p_mech,
        p_pdu_out=p_pdu_out,
        pdu_loss=pdu_loss,
        p_sys_out=p_sys_out,
        sys_loss=sys_loss,
        p_sys_in=p_sys_in,
        n_modules=n_mod,
        discharge=discharge,
        charging=charging,
        battery_loss=battery_loss,
        p_transformer=p_tr,
        transformer_loss=tr_loss,
        from_utility=from_utility,
        from_generator=from_generator,
        fuel_l_per_h=fuel,
        other_w=other,
        # Summed once here: the ledger and the readings both use it.
        p_cooling=float(p_cooling_ups.sum()) + p_mech,
    )
