"""The power chain's steady parts: PDU losses, critical cooling on the UPS, transformers.

What is stateful (batteries, generators, the ATSs, rectifier walk-in) stays in the
live step (:mod:`twin.plant.model`); these are the equations both solvers share.
UPS and HVDC system losses are :func:`twin.plant.layout.system_losses`.
"""

from __future__ import annotations

import numpy as np

from twin.physics import electrical
from twin.plant.layout import Layout, Pdus, PowerSystems


def pdu_losses(pdus: Pdus, p_out_w: np.ndarray) -> np.ndarray:
    """Losses of each PDU [W] at its output (three-term converter model); none unloaded."""
    c = pdus.loss_coefficients
    loss = electrical.converter_losses(p_out_w, pdus.rated_w, c[:, 0], c[:, 1], c[:, 2])
    return np.where(p_out_w > 0, loss, 0.0)


def ups_cooling_share(
    systems: PowerSystems, alive: np.ndarray, p_cooling_hall_w: np.ndarray, n_halls: int
) -> np.ndarray:
    """Critical cooling (CDU pumps, CRAH fans) carried by each UPS system [W].

    A hall's critical cooling is shared equally by its live UPS systems (HVDC systems
    feed IT only). ``p_cooling_hall_w`` may carry a time axis first.
    """
    ups_alive = (~systems.is_hvdc) & alive
    per_hall = np.bincount(systems.hall, ups_alive.astype(float), n_halls)
    share = np.where(ups_alive, 1.0 / np.maximum(per_hall[systems.hall], 1.0), 0.0)
    return np.asarray(p_cooling_hall_w)[..., systems.hall] * share


def transformer_loads(
    layout: Layout,
    p_systems_in_w: np.ndarray,
    p_shared_w: np.ndarray | float,
    energised: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Load [W] and losses [W] of each transformer.

    Power systems load the transformer they are assigned to; the mechanical plant and
    other loads (``p_shared_w``) are split evenly over the transformers of the
    energised side(s) through the switchboards' ATSs. ``p_systems_in_w`` may carry a
    time axis first (then ``p_shared_w`` is one value per step).
    """
    systems = layout.systems
    n_tr = len(layout.transformer_side)
    p_sys = np.asarray(p_systems_in_w)
    p_tr = p_sys @ _assignment(systems, n_tr)
    on_side = np.asarray(energised)[layout.transformer_side]
    sides_on = max(int(np.asarray(energised).sum()), 1)
    per_tr = n_tr // 2
    shared = np.asarray(p_shared_w, dtype=float)[..., None] / sides_on / per_tr
    p_tr = p_tr + np.where(on_side, shared, 0.0)
    loss = electrical.transformer_losses(
        p_tr / 1e3 / layout.transformer_pf,
        layout.transformer_rated_kva,
        layout.transformer_p0_w,
        layout.transformer_pk_w,
    )
    return p_tr, np.where(on_side, loss, 0.0)


def _assignment(systems: PowerSystems, n_tr: int) -> np.ndarray:
    """Matrix [systems × transformers] of which transformer feeds which system."""
    matrix = np.zeros((len(systems.name), n_tr))
    matrix[np.arange(len(systems.name)), systems.transformer] = 1.0
    return matrix
