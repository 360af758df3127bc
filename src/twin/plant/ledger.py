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
    #: Time a tower's leaving water was above its entering water [s] (a tower
    #: heating its water; expected 0), and the largest such rise [K] (leaving
    #: minus entering; negative when every tower cooled its water every step).
    tower_heating_s: float = 0.0
    tower_max_rise_k: float = float("-inf")
    #: Time a tower ran YorkCalc outside its bounds of validity [s]
    #: (:func:`twin.plant.towers.tower_outside_correlation`).
    tower_outside_correlation_s: float = 0.0

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


def count_tower_regimes(
    ledger: Ledger,
    dt: float,
    t_rise_k: np.ndarray,
    flowing: np.ndarray,
    outside: np.ndarray,
) -> None:
    """Add a chunk of steps to the tower counters of ``ledger``.

    ``t_rise_k`` is leaving minus entering water per step and tower loop (any
    shape); ``flowing`` where water passed that tower; ``outside`` per step where any
    tower ran outside its correlation.
    """
    rise = np.where(flowing, t_rise_k, -np.inf)
    if rise.size:
        ledger.tower_max_rise_k = max(ledger.tower_max_rise_k, float(rise.max()))
        heating = (rise > 1e-9).reshape(rise.shape[0], -1).any(axis=1)
        ledger.tower_heating_s += float(heating.sum()) * dt
    ledger.tower_outside_correlation_s += float(np.count_nonzero(outside)) * dt


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
