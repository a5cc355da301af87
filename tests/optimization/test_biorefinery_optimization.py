"""Biorefinery setpoint optimization: simulation against the twin, optimum, limits, ε-constraint front.

Needs IPOPT (cyipopt + PyNumero ASL): fails, never skips, where `make install` did not run.

Prices are the reference levels of the project's simulated market (:data:`models.market.SERIES`),
converted to the units of :data:`optimization.biorefinery.PRICE_ITEMS`; limits, GWP and grid factor
are the regulatory documents in force for the plant (etl/reference/regulatory): CH4 1.25 t/day and
Scope 1 15,000 t CO2e/yr (emission-limits v2), AR6 GWP100 of CH4 29.8, US-MROW location-based grid
factor 0.410 kg/kWh (grid-emission-factors v2), no carbon pricing for the biorefinery
(carbon-pricing v2, ``scheme: none``).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pyomo.environ as pyo
import pytest

from models import _biorefinery_physics as phys
from models.market import get_series
from nexus.errors import ConfigError, InfeasibleOptimization
from optimization import biorefinery as bio
from optimization.flow import degrees_of_freedom
from optimization.plants import OperatingConditions, plant_optimizer

SHORT_TON_KG = 907.18474  # US short ton, exact
MMBTU_GJ = 1.055056  # GJ per MMBtu (IT Btu)
RTOL = 1e-6  # bounds and limits at the optimum, relative (IPOPT: tol 1e-8, bound_relax_factor 1e-8)


def market_prices() -> dict[str, float]:
    """Reference prices of models.market.SERIES in PRICE_ITEMS units."""
    ethanol = get_series("usmkt.ethanol_chicago")  # USD/gal at the series' density
    return {
        "ethanol": ethanol.reference / (phys.GALLON_M3 * ethanol.density_kg_m3),
        "corn_stover": get_series("usmkt.corn_stover").reference / SHORT_TON_KG,  # USD/dry short ton
        "cellulase": get_series("usmkt.cellulase").reference,  # USD/kg protein
        "sulfuric_acid": get_series("usmkt.sulfuric_acid").reference / SHORT_TON_KG / 0.93,  # 93 % acid -> 100 %
        "ammonia": get_series("usmkt.ammonia").reference / 1000.0,  # USD/t
        "natural_gas": get_series("usmkt.henry_hub").reference / MMBTU_GJ,  # USD/MMBtu
        "electricity": get_series("usmkt.power_miso_da").reference / 1000.0,  # USD/MWh
    }


LIMITS = {"ch4_kg_h": 1250.0 / 24.0, "co2e_scope1_kg_h": 15_000e3 / 8760.0}


def conditions(**changes) -> OperatingConditions:
    base = OperatingConditions(
        plant_id="biorefinery",
        prices=market_prices(),
        carbon_price_usd_t=0.0,
        grid_kg_co2e_per_kwh=0.410,
        gwp100={"co2": 1.0, "ch4": 29.8, "n2o": 273.0},
        limits=LIMITS,
    )
    return replace(base, **changes)


def staged(cond: OperatingConditions | None = None, **options) -> bio.BiorefineryOptimization:
    flow = bio.BiorefineryOptimization()
    flow.build()
    flow.set_conditions()
    flow.initialize()
    flow.setup_optimization(cond or conditions(), **options)
    flow.solve()
    return flow


@pytest.fixture(scope="module")
def profit_flow() -> bio.BiorefineryOptimization:
    return staged()


@pytest.fixture(scope="module")
def best() -> object:
    return bio.optimize(conditions())


@pytest.fixture(scope="module")
def greenest() -> object:
    return bio.optimize(conditions(), objective="co2e")


def assert_within_bounds(model: pyo.ConcreteModel) -> None:
    for var in model.component_data_objects(pyo.Var):
        tol = RTOL * max(1.0, abs(var.value))
        assert var.lb is None or var.value >= var.lb - tol, var.name
        assert var.ub is None or var.value <= var.ub + tol, var.name
    for con in model.component_data_objects(pyo.Constraint, active=True):
        body = pyo.value(con.body)
        if con.equality:
            assert body == pytest.approx(pyo.value(con.upper), rel=1e-7, abs=1e-6), con.name
            continue
        for bound, sign in ((con.upper, 1.0), (con.lower, -1.0)):
            if bound is not None:
                b = pyo.value(bound)
                assert sign * (body - b) <= RTOL * max(1.0, abs(b)), con.name


# ------------------------------------------------------------------ build, conditions, initialize


@pytest.mark.parametrize(
    ("setpoints", "parameters"),
    [
        ({}, {}),  # design
        ({"dry_feed_t_h": 70.0, "enzyme_mg_g": 15.0}, {}),  # turned down, less enzyme
        ({}, {"eh_glucose_yield": 0.85, "glucose_to_ethanol": 0.93}),  # calibrated (drifted) yields
    ],
)
def test_simulation_stage_reproduces_the_twins_steady_state(setpoints, parameters):
    params = bio.calibrated_params(parameters)
    flow = bio.BiorefineryOptimization(params)
    flow.build()
    flow.set_conditions(**setpoints)
    assert degrees_of_freedom(flow.model) == 0
    flow.initialize()
    assert flow.solves[0].stage == "biorefinery: initialize" and flow.solves[0].termination == "optimal"
    twin = phys.steady_state(params=params, **setpoints)
    ours = flow.twin_outputs()
    for key in bio.TWIN_OUTPUTS:
        assert ours[key] == pytest.approx(float(twin[key]), rel=bio.SIMULATION_RTOL, abs=1e-3), key
    if not setpoints and not parameters:  # the design case of models.biorefinery's docstring
        assert ours["yield_gal_per_dry_ton"] == pytest.approx(79.95, abs=0.005)
        assert ours["export_kw"] == pytest.approx(11_862, abs=1.0)
        assert ours["steam_kg_h"] == pytest.approx(188_386, abs=1.0)


def test_design_setpoints_run_the_vessels_full():
    sp = bio.design_setpoints()
    twin = phys.steady_state()
    assert sp["dry_feed_t_h"] == pytest.approx(2000.0 / 24.0)
    assert sp["eh_time_h"] == pytest.approx(float(twin["eh_time_h"]), rel=1e-12)
    assert sp["ferm_time_h"] == pytest.approx(float(twin["ferm_tau_h"]), rel=1e-12)
    for name, s in bio.SETPOINTS.items():
        assert s.lower < sp[name] <= s.upper, name


def test_dof_check_rejects_an_under_specified_square_problem():
    flow = bio.BiorefineryOptimization()
    flow.build()
    flow.set_conditions()
    flow.model.ferm_time_h.unfix()
    with pytest.raises(ConfigError, match=r"biorefinery: initialize: expected 0 degrees of freedom, found 1 .*ferm_time_h"):
        flow.initialize()


# ------------------------------------------------------------------ fouled reboiler (held condition)

UA_CLEAN = phys.reboiler_ua_clean()


def simulated(ua: float | None) -> bio.BiorefineryOptimization:
    flow = bio.BiorefineryOptimization()
    flow.build()
    flow.set_conditions(reboiler_ua_kw_k=ua)
    flow.initialize()
    return flow


def test_fouled_reboiler_caps_the_duty_and_leaves_ethanol_in_the_stillage():
    clean, fouled = simulated(None), simulated(0.5 * UA_CLEAN)  # fouling ratio 1: U = U_clean / 2
    c, f = clean.outputs(), fouled.outputs()
    assert c["reboiler_ua_kw_k"] == pytest.approx(UA_CLEAN) and f["reboiler_ua_kw_k"] == pytest.approx(0.5 * UA_CLEAN)
    capacity = 0.5 * UA_CLEAN * phys.DEFAULT.reboiler_dt_max_k
    assert f["reboiler_demand_kw"] > capacity  # the design demand exceeds the fouled capacity ...
    assert f["reboiler_duty_kw"] == pytest.approx(capacity, rel=1e-4)  # ... so the duty is capped at UA dT_max
    assert c["reboiler_duty_kw"] == pytest.approx(c["reboiler_demand_kw"], rel=1e-5)  # clean: the demand
    assert f["ethanol_slip"] > 10 * c["ethanol_slip"]
    assert f["ethanol_t_h"] < c["ethanol_t_h"] and f["product_t_h"] < c["product_t_h"]
    assert "reboiler_capacity" in fouled.active_constraints()
    assert "reboiler_capacity" not in clean.active_constraints()
    # the twin's distillation() on the model's own beer, at the same fouling
    for flow, ratio in ((clean, 0.0), (fouled, 1.0)):
        m = flow.model
        beer = {s: m.beer[s].value for s in phys.SPECIES}
        d = phys.distillation(beer, ratio, phys.DEFAULT)
        assert pyo.value(m.product_ethanol_kg_h) == pytest.approx(float(d.product_ethanol), rel=1e-3)
        assert pyo.value(m.reboiler_duty_kw) == pytest.approx(float(d.duty_kw), rel=1e-3)
        assert pyo.value(m.ethanol_slip) == pytest.approx(float(d.ethanol_slip), rel=1e-3)
        assert pyo.value(m.reboiler_steam_kg_h) == pytest.approx(float(d.reboiler_steam), rel=1e-3)
    # and the whole plant at that fouling
    twin = phys.steady_state(fouling_ratio=1.0)
    assert f["ethanol_t_h"] * 1000 == pytest.approx(float(twin["product_ethanol_kg_h"]), rel=1e-3)


def test_kremser_slip_matches_the_physics_through_s_equal_one():
    for s in (0.3, 0.999, 1.0, 1.001, 1.5, 3.0):
        ours = pyo.value(bio._kremser_unstripped(s, phys.DEFAULT.beer_column_stages))
        assert ours == pytest.approx(float(phys.kremser_unstripped(s, phys.DEFAULT.beer_column_stages)), rel=1e-6), s
    assert pyo.value(bio._kremser_unstripped(1.5, 2.5)) == pytest.approx(float(phys.kremser_unstripped(1.5, 2.5)))


def test_fouled_reboiler_lowers_the_optimal_feed(best):
    fouled = bio.optimize(conditions(current={"reboiler_ua_kw_k": 0.5 * UA_CLEAN}))
    assert fouled.termination == "optimal"
    assert fouled.current_setpoints == pytest.approx(bio.design_setpoints())  # held, not a decision
    assert fouled.outputs["reboiler_ua_kw_k"] == pytest.approx(0.5 * UA_CLEAN)
    assert "reboiler_capacity" in fouled.active_constraints
    assert fouled.current_outputs["ethanol_t_h"] < best.current_outputs["ethanol_t_h"]
    assert fouled.setpoints["dry_feed_t_h"] < best.setpoints["dry_feed_t_h"] - 1.0  # 85.3 vs 87.1 t/h
    assert fouled.profit_usd_h < best.profit_usd_h
    with pytest.raises(ValueError, match=r"reboiler_ua_kw_k expected a finite number > 0"):
        bio.optimize(conditions(current={"reboiler_ua_kw_k": 0.0}))


# ------------------------------------------------------------------ set up, solve, report


def test_profit_optimum_is_optimal_and_respects_every_bound_and_limit(profit_flow):
    m = profit_flow.model
    assert [s.termination for s in profit_flow.solves] == ["optimal", "optimal"]
    assert degrees_of_freedom(m) == len(bio.SETPOINTS)
    assert_within_bounds(m)  # decision bounds, volumes, reboiler, steam, package boiler, limits
    for name, sp in bio.SETPOINTS.items():
        value = getattr(m, name).value
        assert sp.lower * (1 - RTOL) <= value <= sp.upper * (1 + RTOL), name
    assert pyo.value(m.ch4_fugitive_kg_h) <= LIMITS["ch4_kg_h"] * (1 + RTOL)
    assert pyo.value(m.scope1_co2e_kg_h) <= LIMITS["co2e_scope1_kg_h"] * (1 + RTOL)
    # Filling the trains costs nothing, so both run full; the CH4 permit caps the throughput.
    assert {"eh_volume", "ferm_volume", "limits[ch4_kg_h]"} <= set(profit_flow.active_constraints())
    table = profit_flow.report()
    assert list(table.index) == ["current", "optimal", "change"]
    assert table.loc["optimal", "profit_usd_h"] > table.loc["current", "profit_usd_h"]


def test_optimize_returns_the_solution_against_the_current_point(best):
    assert best.plant_id == "biorefinery" and best.objective == "profit" and best.co2e_cap_kg_h is None
    assert best.termination == "optimal"
    assert best.current_setpoints == pytest.approx(bio.design_setpoints())
    assert best.profit_usd_h >= best.current_profit_usd_h
    # the current point is the twin's design case, valued at market prices
    p = market_prices()
    twin = phys.steady_state()
    revenue = p["ethanol"] * twin["product_kg_h"] + p["electricity"] * twin["export_kw"]
    cost = (
        p["corn_stover"] * 1000 * phys.DEFAULT.dry_feed_t_h
        + p["cellulase"] * twin["enzyme_kg_h"]
        + p["sulfuric_acid"] * twin["acid_kg_h"]
        + p["ammonia"] * twin["ammonia_kg_h"]
    )
    assert best.current_profit_usd_h == pytest.approx(float(revenue - cost), rel=1e-6)
    assert best.current_co2e_kg_h == pytest.approx(29.8 * float(twin["ch4_fugitive_kg_h"]), rel=1e-6)
    for key in ("ethanol_t_h", "yield_gal_per_dry_ton", "power_export_kw", "steam_t_h", "ch4_fugitive_kg_h"):
        assert key in best.outputs and key in best.current_outputs
    assert best.outputs["profit_usd_h"] == best.profit_usd_h
    assert best.solve_seconds > 0.0  # recorded; speed belongs in benchmarks/, not in a test
    assert plant_optimizer("biorefinery") is bio


def test_optimum_is_a_steady_state_of_the_twin(best):
    # Both trains run full at the optimum, so steady_state() at the optimal feed and loading
    # (residence times = volume / flow) must give the optimizer's outputs.
    assert {"eh_volume", "ferm_volume"} <= set(best.active_constraints)
    twin = phys.steady_state(dry_feed_t_h=best.setpoints["dry_feed_t_h"], enzyme_mg_g=best.setpoints["enzyme_mg_g"])
    assert best.setpoints["eh_time_h"] == pytest.approx(float(twin["eh_time_h"]), rel=1e-6)
    assert best.setpoints["ferm_time_h"] == pytest.approx(float(twin["ferm_tau_h"]), rel=1e-6)
    assert best.outputs["ethanol_t_h"] == pytest.approx(float(twin["product_ethanol_kg_h"]) / 1000, rel=1e-5)
    assert best.outputs["power_export_kw"] == pytest.approx(float(twin["export_kw"]), rel=1e-5)
    assert best.outputs["ch4_fugitive_kg_h"] == pytest.approx(float(twin["ch4_fugitive_kg_h"]), rel=1e-5)


def test_binding_co2e_cap(best, greenest):
    cap = 0.5 * (best.co2e_kg_h + greenest.co2e_kg_h)
    capped = bio.optimize(conditions(), co2e_cap_kg_h=cap)
    assert capped.termination == "optimal" and "co2e_cap" in capped.active_constraints
    assert capped.co2e_kg_h <= cap * (1 + RTOL)
    assert capped.profit_usd_h <= best.profit_usd_h + 1e-6


def test_minimum_co2e_point(best, greenest):
    assert greenest.objective == "co2e" and greenest.termination == "optimal"
    assert greenest.co2e_kg_h <= best.co2e_kg_h
    assert greenest.co2e_kg_h <= greenest.current_co2e_kg_h
    assert greenest.profit_usd_h <= best.profit_usd_h
    assert "dry_feed_t_h lower bound" in greenest.active_constraints


def test_epsilon_constraint_front_is_monotone(best, greenest):
    lo, hi = greenest.co2e_kg_h, best.co2e_kg_h
    caps = [hi - f * (hi - lo) for f in (0.1, 0.4, 0.7, 0.95)]  # tightening
    front = [bio.optimize(conditions(), co2e_cap_kg_h=cap) for cap in caps]
    for cap, point in zip(caps, front):
        assert point.co2e_kg_h <= cap * (1 + RTOL)
    profits = [best.profit_usd_h] + [p.profit_usd_h for p in front] + [greenest.profit_usd_h]
    assert all(a >= b - 1e-6 for a, b in pairwise(profits)), profits


def test_cap_below_the_minimum_raises_with_the_solvers_message(greenest):
    with pytest.raises(InfeasibleOptimization, match=r"biorefinery: solve: expected an optimal solution from cyipopt, "
                                                     r"found termination 'infeasible' \(.*infeasib"):
        bio.optimize(conditions(), co2e_cap_kg_h=0.9 * greenest.co2e_kg_h)


def test_carbon_price_is_charged_on_scope_1(best):
    priced = bio.optimize(conditions(carbon_price_usd_t=85.0 * 1.10))  # EUA reference 75 EUR/t x 1.10 USD/EUR
    out = priced.outputs
    assert out["carbon_cost_usd_h"] == pytest.approx(85.0 * 1.10 / 1000 * out["scope1_co2e_kg_h"])
    assert priced.co2e_kg_h <= best.co2e_kg_h * (1 + RTOL)
    assert priced.profit_usd_h < best.profit_usd_h


def test_invalid_conditions_raise_value_errors():
    with pytest.raises(ValueError, match=r"unknown biorefinery parameters \['eh_yield'\]; valid: \['eh_glucose_yield'"):
        bio.optimize(conditions(parameters={"eh_yield": 0.9}))
    with pytest.raises(ValueError, match=r"expected fractions"):
        bio.optimize(conditions(parameters={"glucose_to_ethanol": 1.5}))
    with pytest.raises(ValueError, match=r"unknown biorefinery setpoints \['temp_c'\]"):
        bio.optimize(conditions(current={"temp_c": 30.0}))
    with pytest.raises(ValueError, match=r"unknown emission limits \['so2_kg_h'\].*valid: \['ch4_kg_h'"):
        bio.optimize(conditions(limits={"so2_kg_h": 1.0}))
    with pytest.raises(ValueError, match=r"missing \['cellulase'\]"):
        bio.optimize(conditions(prices={k: v for k, v in market_prices().items() if k != "cellulase"}))
    with pytest.raises(ValueError, match=r"gwp100 expected a value for 'ch4'"):
        bio.optimize(conditions(gwp100={}))
    with pytest.raises(ValueError, match=r"objective expected 'profit' or 'co2e'"):
        bio.optimize(conditions(), objective="ethanol")  # type: ignore[arg-type]


def test_pipeline_hooks_name_real_tags_and_parameters():
    from models.biorefinery import TAGS
    from models.calibration import __doc__ as calibration_doc

    tags = {t.tag: t for t in TAGS}
    for name, (tag, _) in bio.SETPOINT_TAGS.items():
        unit = bio.SETPOINTS[name].unit if name in bio.SETPOINTS else bio.HELD_CONDITIONS[name]
        assert tag in tags and tags[tag].canonical_unit == unit, name
    assert bio.SETPOINT_TAGS["reboiler_ua_kw_k"] == ("BIO.UY502", 1.0)
    assert set(bio.CALIBRATED_PARAMETERS) <= set(vars(phys.DEFAULT))
    for name in ("eh_glucose_yield", "glucose_to_ethanol"):  # what models.calibration fits for the biorefinery
        assert name in bio.CALIBRATED_PARAMETERS and name in calibration_doc
