"""Dry coolers: design duty from the catalog, fan control, and both solvers agree."""

from __future__ import annotations

import numpy as np

from twin import catalog
from twin.plant.drycoolers import drycooler_conductance, drycooler_fan
from twin.plant.layout import assemble
from twin.plant.study import run_study
from twin.site import load_site


def test_design_duty_is_the_catalog_capacity() -> None:
    layout = assemble(load_site("aidc-10mw-dry"))
    group = layout.fw_drycoolers
    assert group is not None
    model = catalog.lookup("drycooler", "v-type-1000kw")
    # At design water flow and full fan, water enters at dry bulb + approach + range.
    m = group.units * group.m_flow_design_kg_s
    g = float(drycooler_conductance(group, m, 1.0, layout.cp_water))
    q = g * (model.approach_design_k + model.range_design_k)
    # The UA was solved by bisection to 1e-12 in NTU: the duty is exact to rounding.
    assert abs(q - group.units * model.capacity_kw * 1e3) / q < 1e-6


def test_fan_speed_is_the_least_that_does_the_job() -> None:
    layout = assemble(load_site("aidc-10mw-dry"))
    group = layout.fw_drycoolers
    assert group is not None
    m = group.units * group.m_flow_design_kg_s
    full = float(drycooler_conductance(group, m, 1.0, layout.cp_water))
    fan = float(drycooler_fan(group, m, 0.6 * full, layout.cp_water))
    assert group.min_fan_speed < fan < 1.0
    reached = float(drycooler_conductance(group, m, fan, layout.cp_water))
    assert reached >= 0.6 * full
    # Bisection to 2^-14 of the speed range: within 0.1 % of the needed conductance.
    assert reached <= 0.6 * full * 1.001
    assert float(drycooler_fan(group, m, 2.0 * full, layout.cp_water)) == 1.0


def test_fast_and_dynamic_agree_with_dry_coolers() -> None:
    site = load_site("aidc-10mw-dry")
    start = 150 * 86400.0  # June and July: the dry coolers are at their limit
    fast = run_study(site, 60 * 86400.0, 60.0, start_s=start, method="fast").summary()
    dynamic = run_study(site, 60 * 86400.0, 900.0, start_s=start, method="dynamic").summary()
    assert abs(fast["pue"] - dynamic["pue"]) / dynamic["pue"] < 0.01
    assert abs(fast["max_cold_plate_c"] - dynamic["max_cold_plate_c"]) < 1.5
    assert np.isclose(fast["wue_l_per_kwh"], dynamic["wue_l_per_kwh"], rtol=0.05)
