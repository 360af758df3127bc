"""The plant's ledgers: energy by term and the heat balance, one for every solver."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Ledger:
    """Energy totals since the start [J] by term; water [kg] and fuel [L]."""

    utility: float = 0.0
    generator: float = 0.0
    battery_discharge: float = 0.0
    it: float = 0.0
    losses_transformer: float = 0.0
    losses_converter: float = 0.0  # UPS, HVDC, PDU
    losses_battery: float = 0.0
    battery_charge: float = 0.0
    cooling: float = 0.0
    other: float = 0.0
    heat_sources: float = 0.0
    heat_rejected: float = 0.0
    heat_stored: float = 0.0
    water_kg: float = 0.0
    fuel_l: float = 0.0
    it_interrupted_j: float = 0.0  # IT demand not served: no power reached the rack
    it_throttled_j: float = 0.0  # ... served in part: the GPUs throttled on temperature
    it_tripped_j: float = 0.0  # ... not served: the GPUs shut down on temperature

    @property
    def power_losses(self) -> float:
        return self.losses_transformer + self.losses_converter + self.losses_battery

    @property
    def electrical_in(self) -> float:
        return self.utility + self.generator + self.battery_discharge

    @property
    def electrical_out(self) -> float:
        return self.it + self.power_losses + self.cooling + self.other + self.battery_charge

    @property
    def electrical_balance_error(self) -> float:
        return abs(self.electrical_in - self.electrical_out) / max(self.electrical_in, 1e-9)

    @property
    def heat_balance_error(self) -> float:
        return abs(self.heat_sources - self.heat_rejected - self.heat_stored) / max(
            self.heat_sources, 1e-9
        )


def heat_sources_w(
    p_it_w: np.ndarray | float,
    hall_losses_w: np.ndarray | float,
    p_cdu_pumps_w: np.ndarray | float,
    p_crah_fans_w: np.ndarray | float,
    p_loop_pumps_w: np.ndarray | float,
    p_chillers_w: np.ndarray | float,
) -> np.ndarray:
    """Heat entering the cooling plant [W]: IT, the losses inside the halls, and the
    work of every pump, CRAH fan and compressor (all of it ends up in the water).

    Tower and dry-cooler fans move outdoor air only: their work is not in the water.
    """
    return np.asarray(
        p_it_w + hall_losses_w + p_cdu_pumps_w + p_crah_fans_w + p_loop_pumps_w + p_chillers_w
    )
