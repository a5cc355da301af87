"""CSTR setpoint optimization, stage by stage, ending with balance closure and safety checks.

Needs IPOPT (cyipopt + PyNumero ASL): fails, never skips, where `make install` did not run.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyomo.environ as pyo
import pytest

from models import cstr as plant
from nexus.errors import ConfigError, InfeasibleOptimization
from optimization.cstr import (
    CSTROptimization,
    CSTRPrices,
    ignition_point,
    runaway_limit_k,
)
from optimization.flow import degrees_of_freedom

PRICES = {
    "product_usd_mol": 0.40,
    "feed_usd_mol": 0.02,
    "electricity_usd_kwh": 0.15,
    "carbon_usd_tco2e": 85.0,
    "electricity_kgco2e_kwh": 0.35,
}
# IPOPT relaxes inequalities by bound_relax_factor (1e-8 relative): ~3e-6 K at 334 K.
TOL_K = 1e-5


def initialized(**conditions) -> CSTROptimization:
    flow = CSTROptimization()
    flow.build()
    flow.set_conditions(**conditions)
    flow.initialize()
    return flow


@pytest.fixture(scope="module")
def solved() -> CSTROptimization:
    flow = initialized(coolant_temp_k=300.0)
    flow.setup_optimization(PRICES)
    flow.solve()
    return flow


def profit_usd_h(temp_k: float, params: plant.CSTRParams = plant.DEFAULT) -> float:
    """Independent profit at the steady state holding T (models.cstr's closed-loop steady state)."""
    ca, tc = plant.closed_loop_steady_state(temp_k, params)
    p = CSTRPrices(**PRICES)
    electricity_kw = 0.25 * params.UA * (temp_k - tc) / 6e4
    return (
        60 * params.q * (params.Caf - ca) * p.product_usd_mol
        - 60 * params.q * params.Caf * p.feed_usd_mol
        - electricity_kw * (p.electricity_usd_kwh + p.carbon_usd_tco2e / 1000 * p.electricity_kgco2e_kwh)
    )


# ------------------------------------------------------------------ build, conditions, initialize


def test_simulation_stage_reproduces_published_steady_state():
    # APMonitor CSTR (Seborg et al.): Tc = 300 K -> Ca = 0.87725294 mol/L, T = 324.475443 K.
    flow = initialized(coolant_temp_k=300.0)
    assert degrees_of_freedom(flow.model) == 0
    assert flow.model.ca.value == pytest.approx(0.87725294, abs=1e-6)
    assert flow.model.temp.value == pytest.approx(324.475443, abs=1e-6)
    assert flow.solves[0].stage == "cstr: initialize" and flow.solves[0].termination == "optimal"
    # the stable one of the three steady states at 300 K
    assert np.all(np.linalg.eigvals(plant.jacobian(flow.model.ca.value, flow.model.temp.value)).real < 0)


def test_dof_check_rejects_an_under_specified_square_problem():
    flow = CSTROptimization()
    flow.build()
    flow.set_conditions(coolant_temp_k=300.0)
    flow.model.ua.unfix()  # forgot to bind UA
    assert degrees_of_freedom(flow.model) == 1
    with pytest.raises(ConfigError, match=r"cstr: initialize: expected 0 degrees of freedom, found 1 .*unfixed variables: .*\bua\b"):
        flow.initialize()
    assert flow.solves == []


def test_stages_run_in_order():
    flow = CSTROptimization()
    with pytest.raises(ConfigError, match="build"):
        flow.initialize()
    flow = initialized()
    with pytest.raises(ConfigError, match="expected decision variables"):
        flow.solve()  # nothing unfixed yet: setup_optimization() was not called
    with pytest.raises(ConfigError, match="report expected a solved optimization"):
        flow.report()


def test_prices_are_validated():
    with pytest.raises(ConfigError, match="missing \\['carbon_usd_tco2e'\\] and unknown \\['carbon_price'\\]"):
        CSTRPrices.from_mapping({**{k: v for k, v in PRICES.items() if k != "carbon_usd_tco2e"}, "carbon_price": 80.0})
    with pytest.raises(ConfigError, match="feed_usd_mol must be a finite number >= 0, found -1.0"):
        CSTRPrices.from_mapping({**PRICES, "feed_usd_mol": -1.0})


# ------------------------------------------------------------------ runaway limit from the model


def test_runaway_limit_is_below_the_ignition_point():
    tc_ign, t_ign = ignition_point()
    assert (tc_ign, t_ign) == pytest.approx((303.2293, 335.6541), abs=1e-4)  # models.cstr docstring
    assert runaway_limit_k() == pytest.approx(t_ign - 2.0, abs=1e-9)
    # a wider feed range lowers the limit to the ignition point of the highest flow
    assert runaway_limit_k(feed_flow_bounds=(80.0, 120.0)) == pytest.approx(
        ignition_point(replace(plant.DEFAULT, q=120.0))[1] - 2.0, abs=1e-9
    )


# ------------------------------------------------------------------ set up, solve, report


def test_optimum_is_optimal_and_respects_every_limit(solved):
    m, limits = solved.model, solved.limits
    assert [s.termination for s in solved.solves] == ["optimal", "optimal"]
    assert limits["t_max_k"] == pytest.approx(runaway_limit_k())
    # bounds and constraints
    assert limits["coolant_min_k"] - TOL_K <= m.tc.value <= limits["coolant_max_k"] + TOL_K
    assert m.temp.value <= limits["t_max_k"] + TOL_K
    assert 1 - m.ca.value / m.caf.value >= limits["min_conversion"] - 1e-8
    assert m.tc.value <= m.temp.value
    for var in m.component_data_objects(pyo.Var):
        assert (var.lb is None or var.value >= var.lb - TOL_K) and (var.ub is None or var.value <= var.ub + TOL_K), var.name
    # more conversion pays, so the runaway limit is active
    assert m.temp.value == pytest.approx(limits["t_max_k"], abs=TOL_K)
    # balance closure with the twin's own equations (independent of the Pyomo model)
    dca, dtemp = plant.balances(m.ca.value, m.temp.value, m.tc.value)
    assert abs(dca) < 1e-8 and abs(dtemp) < 1e-6
    # the optimum is an open-loop stable steady state (cold branch)
    assert np.all(np.linalg.eigvals(plant.jacobian(m.ca.value, m.temp.value)).real < 0)


def test_optimum_beats_every_feasible_operating_point(solved):
    # Independent check: profit along the cold branch from models.cstr's steady states.
    temps = np.linspace(320.0, solved.limits["t_max_k"], 60)
    best = max(profit_usd_h(t) for t in temps)
    table = solved.report()
    assert table.loc["optimal", "profit_usd_h"] == pytest.approx(profit_usd_h(solved.model.temp.value), rel=1e-9)
    assert table.loc["optimal", "profit_usd_h"] >= best - 1e-6


def test_report_compares_setpoints_profit_and_co2e_with_the_current_point(solved):
    table = solved.report()
    assert list(table.index) == ["current", "optimal", "change"]
    current, optimal = table.loc["current"], table.loc["optimal"]
    assert current["coolant_temp_k"] == 300.0
    assert current["reactor_temp_k"] == pytest.approx(324.475443, abs=1e-6)
    assert optimal["tc102_setpoint_k"] == optimal["reactor_temp_k"]
    assert current["profit_usd_h"] == pytest.approx(profit_usd_h(plant.NOMINAL_SETPOINT_K), rel=1e-6)
    assert optimal["profit_usd_h"] > current["profit_usd_h"]
    assert table.loc["change", "profit_usd_h"] == pytest.approx(optimal["profit_usd_h"] - current["profit_usd_h"])
    # CO2e = chiller electricity (duty / COP 4) x grid factor; more conversion means more duty
    for row in (current, optimal):
        assert row["co2e_kg_h"] == pytest.approx(row["cooling_duty_kw"] * 0.25 * PRICES["electricity_kgco2e_kwh"])
    assert optimal["co2e_kg_h"] > current["co2e_kg_h"]
    assert optimal["co2e_kg_per_mol"] < current["co2e_kg_per_mol"]
    assert [s[0] for s in table.attrs["solves"]] == ["cstr: initialize", "cstr: solve"]


def test_feed_flow_as_second_decision():
    flow = initialized(coolant_temp_k=300.0)
    flow.setup_optimization(PRICES, feed_flow_bounds=(80.0, 120.0))
    assert degrees_of_freedom(flow.model) == 2
    flow.solve()
    m = flow.model
    assert 80.0 - TOL_K <= m.q.value <= 120.0 + TOL_K
    assert m.temp.value <= runaway_limit_k(feed_flow_bounds=(80.0, 120.0)) + TOL_K
    # stable at the optimum, and no ignition anywhere in the pump range at that temperature
    params = replace(plant.DEFAULT, q=m.q.value)
    assert np.all(np.linalg.eigvals(plant.jacobian(m.ca.value, m.temp.value, params)).real < 0)
    assert m.temp.value < min(ignition_point(replace(plant.DEFAULT, q=q))[1] for q in (80.0, 100.0, 120.0))


def test_unreachable_conversion_spec_raises_with_the_solvers_message():
    flow = initialized(coolant_temp_k=300.0)
    flow.setup_optimization(PRICES, min_conversion=0.5)  # needs T far above the runaway limit
    with pytest.raises(InfeasibleOptimization, match=r"cstr: solve: .*'infeasible' \(Algorithm converged to a point of local infeasibility"):
        flow.solve()
    assert flow.model.temp.value == pytest.approx(324.475443, abs=1e-6)  # model left at the current point
