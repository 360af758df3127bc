"""The plant's water and air volumes as one linear thermal network, stepped implicitly.

Within one step every heat flow of the plant is linear in the node temperatures
once flows, effectivenesses and tower approaches are frozen at their values for
the step: a stream carries ``c·T`` from one node to the next, an exchanger moves
``g·(T_hot − T_cold)`` from one loop to another, a tower returns water at
``T_wb + approach``. Backward Euler on that system,

    (C/dt − M) T_new = C/dt T_old + b,

is stable for any step (1 s live, 10 min in a study) and, because every flux is
debited from one node and credited to another (or to the outdoors), the heat
ledger closes to round-off.
"""

from __future__ import annotations

import numpy as np


class Network:
    """Collects the linear heat flows of one step, then solves for new temperatures."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.matrix = np.zeros((size, size))
        self.constant = np.zeros(size)

    def stream(self, source: np.ndarray, target: np.ndarray, rate_w_k: np.ndarray) -> None:
        """Fluid at capacity rate ``rate`` flows from ``source`` to ``target``."""
        np.add.at(self.matrix, (source, source), -rate_w_k)
        np.add.at(self.matrix, (target, source), rate_w_k)

    def exchange(
        self,
        hot: np.ndarray,
        cold: np.ndarray,
        debit: np.ndarray,
        credit: np.ndarray,
        conductance_w_k: np.ndarray,
    ) -> None:
        """Heat ``g·(T_hot − T_cold)`` taken from node ``debit``, given to node ``credit``."""
        np.add.at(self.matrix, (debit, hot), -conductance_w_k)
        np.add.at(self.matrix, (debit, cold), conductance_w_k)
        np.add.at(self.matrix, (credit, hot), conductance_w_k)
        np.add.at(self.matrix, (credit, cold), -conductance_w_k)

    def carry(
        self, source: np.ndarray, target: np.ndarray, rate_w_k: np.ndarray, t_ref_c: np.ndarray
    ) -> None:
        """Heat ``rate·(T_source − t_ref)`` delivered to ``target`` (the source is debited
        by its own outflow): chillers handing their load to the condenser loop."""
        np.add.at(self.matrix, (target, source), rate_w_k)
        np.add.at(self.constant, target, -rate_w_k * t_ref_c)

    def to_ambient(
        self, node: np.ndarray, debit: np.ndarray, conductance_w_k: np.ndarray, t_c: np.ndarray
    ) -> None:
        """Heat ``g·(T_node − T_ambient)`` taken from ``debit`` to the outdoors (a dry cooler)."""
        np.add.at(self.matrix, (debit, node), -conductance_w_k)
        np.add.at(self.constant, debit, conductance_w_k * t_c)

    def outflow(self, node: np.ndarray, rate_w_k: np.ndarray) -> None:
        """Fluid leaves the network at the node's temperature (to a tower, say)."""
        np.add.at(self.matrix, (node, node), -rate_w_k)

    def inflow(self, node: np.ndarray, rate_w_k: np.ndarray, t_c: np.ndarray) -> None:
        """Fluid enters the node at a fixed temperature (from a tower, say)."""
        np.add.at(self.constant, node, rate_w_k * t_c)

    def heat(self, node: np.ndarray, q_w: np.ndarray) -> None:
        """A fixed heat input (IT, pump work, losses) or output (negative)."""
        np.add.at(self.constant, node, q_w)

    def solve(self, t_old: np.ndarray, capacity_j_k: np.ndarray, dt: float) -> np.ndarray:
        """Temperatures at the end of the step."""
        c_dt = capacity_j_k / dt
        system = np.diag(c_dt) - self.matrix
        return np.linalg.solve(system, c_dt * t_old + self.constant)
