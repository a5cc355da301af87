"""CO2 electrolyzer setpoint optimization: simulation stage against the twin, then limits and the Pareto front.

Needs IPOPT (cyipopt + PyNumero ASL): fails, never skips, where `make install` did not run.

Prices are the reference levels of :data:`models.market.SERIES` converted to the units of
:data:`optimization.co2_electrolyzer.PRICE_ITEMS` at the ECB reference rate 1.10 USD/EUR:
formic acid 700 EUR/t (chem.formic_acid) -> 0.77 USD/kg, liquid CO2 60 EUR/t (chem.co2_liquid)
-> 0.066 USD/kg, DE day-ahead power 80 EUR/MWh (eex.power_de_da) -> 0.088 USD/kWh, EUA 75 EUR/t
(eex.eua) -> 82.5 USD/t. KHCO3 has no market series: 1.0 USD/kg is an assumption (bulk technical
grade). Grid factor: DE location-based 0.363 kg CO2e/kWh and the permit 1.2 t CO2/day (50 kg/h)
from etl/reference/regulatory (grid-emission-factors-v2, emission-limits-v2).

At these base prices the stack loses money at every operating point (KHCO3 make-up and power
cost more per ampere than the formic acid sells for), so the optimum is the turndown point. The
``HIGH`` case prices formic acid at 1500 EUR/t, the top of the 2019-2024 range the series cites:
there both setpoints are interior (no constraint active).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from models import co2_electrolyzer as plant
from models.market import get_series
from nexus.errors import ConfigError, InfeasibleOptimization
from optimization import co2_electrolyzer as opt
from optimization.flow import degrees_of_freedom
from optimization.plants import OperatingConditions, plant_optimizer

FX_USD_EUR = get_series("ecb.usd_per_eur").reference
MARKET = {
    "formic_acid": get_series("chem.formic_acid").reference * FX_USD_EUR / 1000.0,
    "co2_feed": get_series("chem.co2_liquid").reference * FX_USD_EUR / 1000.0,
    "electricity": get_series("eex.power_de_da").reference * FX_USD_EUR / 1000.0,
    "potassium_bicarbonate": 1.0,
}
HIGH = {**MARKET, "formic_acid": 1500.0 * FX_USD_EUR / 1000.0}
CARBON_USD_T = get_series("eex.eua").reference * FX_USD_EUR
GRID_KG_KWH = 0.363
PERMIT_CO2_KG_H = 1.2 * 1000.0 / 24.0
#: Simulation stage vs models.co2_electrolyzer.steady_state (the twin stops its heat-balance
#: fixed point after three passes; measured error < 1e-5).
SIM_RTOL = 5e-4
#: Bounds and limits at the optimum (IPOPT relaxes bounds by 1e-8 relative).
LIMIT_RTOL = 1e-6


def conditions(prices=MARKET, **kw) -> OperatingConditions:
    return OperatingConditions(
        "co2_electrolyzer", prices, carbon_price_usd_t=CARBON_USD_T, grid_kg_co2e_per_kwh=GRID_KG_KWH,
        limits={"co2_kg_h": PERMIT_CO2_KG_H}, **kw,
    )


@pytest.fixture(scope="module")
def market():
    return opt.optimize(conditions())


@pytest.fixture(scope="module")
def high():
    return opt.optimize(conditions(HIGH))


@pytest.fixture(scope="module")
def high_min_co2e():
    return opt.optimize(conditions(HIGH), objective="co2e")


def twin(current_a, co2_flow_nm3_h, co2_pct=100.0, inlet_c=40.0, params=plant.DEFAULT):
    return plant.steady_state(current_a, co2_flow_nm3_h, co2_pct, inlet_c, params=params)


def twin_profit(s: plant.SteadyState, prices, p=plant.DEFAULT):
    """Profit, CO2e and electricity from the twin's outputs and its DCS blocks (independent of Pyomo)."""
    cooling = np.asarray(s.cooling_kw)
    electricity = (s.stack_power_kw / p.rectifier_efficiency + p.bop_kw + np.maximum(cooling, 0.0) / p.chiller_cop
                   + np.maximum(-cooling, 0.0))
    khco3 = s.current_a * p.bleed_l_per_ah * p.khco3_mol_l * plant.M_KHCO3
    profit = (prices["formic_acid"] * s.formic_acid_kg_h - prices["co2_feed"] * s.co2_feed_kg_h
              - prices["electricity"] * electricity - prices["potassium_bicarbonate"] * khco3
              - CARBON_USD_T / 1000.0 * s.co2_out_kg_h)
    return profit, s.co2_out_kg_h + GRID_KG_KWH * electricity, electricity


def within(value, lo=None, hi=None):
    ok_lo = lo is None or value >= lo - LIMIT_RTOL * max(1.0, abs(lo))
    ok_hi = hi is None or value <= hi + LIMIT_RTOL * max(1.0, abs(hi))
    return ok_lo and ok_hi


def assert_feasible(sol, limits: opt.OperatingLimits):
    out = sol.outputs
    for name, sp in opt.SETPOINTS.items():
        assert within(sol.setpoints[name], sp.lower, sp.upper), name
    assert within(out["co2_stoich_ratio"], lo=limits.min_co2_stoich_ratio)
    assert within(out["cell_voltage_v"], hi=limits.max_cell_voltage_v)
    assert within(out["cell_temp_c"], hi=limits.max_cell_temp_c)
    assert within(out["current_density_ma_cm2"], hi=plant.DEFAULT.rated_current_density_ma_cm2)
    for bound, value in ((limits.vented_co2_max_kg_h, out["co2_vented_kg_h"]), (limits.co2e_cap_kg_h, sol.co2e_kg_h)):
        if bound is not None:
            assert within(value, hi=bound)


# ------------------------------------------------------------------ build, conditions, initialize


@pytest.mark.parametrize("point", [plant.NOMINAL, plant.OperatingPoint(700.0, 45.0, 95.0, 50.0)],
                         ids=["nominal-200mA", "grade-280mA-95pct-50C"])
def test_simulation_stage_reproduces_the_twin(point):
    flow = opt.CO2ElectrolyzerOptimization()
    flow.build()
    flow.set_conditions(current_a=point.current_a, co2_flow_nm3_h=point.co2_flow_nm3_h,
                        co2_concentration_pct=point.co2_concentration_pct, inlet_temp_c=point.inlet_temp_c)
    assert degrees_of_freedom(flow.model) == 0
    report = flow.initialize()
    assert report.termination == "optimal"
    sim, s = flow.current, twin(point.current_a, point.co2_flow_nm3_h, point.co2_concentration_pct, point.inlet_temp_c)
    for ours, theirs in [("formic_acid_kg_h", "formic_acid_kg_h"), ("faradaic_efficiency", "faradaic_efficiency"),
                         ("cell_voltage_v", "cell_voltage_v"), ("stack_power_kw", "stack_power_kw"),
                         ("co2_vented_kg_h", "co2_out_kg_h"), ("co2_feed_kg_h", "co2_feed_kg_h"),
                         ("co2_conversion", "co2_conversion"), ("specific_energy_kwh_kg", "specific_energy_kwh_kg"),
                         ("h2_outlet_pct", "h2_outlet_pct"), ("cooling_kw", "cooling_kw")]:
        assert sim[ours] == pytest.approx(float(getattr(s, theirs)), rel=SIM_RTOL), ours
    assert sim["cell_temp_c"] == pytest.approx(float(s.cell_temp_c), abs=0.02)  # twin: 3 passes, <= 0.015 K
    # electricity import as the twin's DCS block ECR.JI103 (pumps running)
    assert sim["electricity_kw"] == pytest.approx(float(twin_profit(s, MARKET)[2]), rel=SIM_RTOL)
    # carbon closes: CO2 fed = vented + converted to formate
    converted = sim["formic_acid_kg_h"] / plant.M_HCOOH * plant.M_CO2
    assert sim["co2_feed_kg_h"] == pytest.approx(sim["co2_vented_kg_h"] + converted, rel=1e-12)


def test_dof_check_and_stage_order():
    flow = opt.CO2ElectrolyzerOptimization()
    flow.build()
    flow.set_conditions()
    flow.model.inlet_temp_c.unfix()  # forgot to bind the catholyte inlet temperature
    with pytest.raises(ConfigError, match=r"co2_electrolyzer: initialize: expected 0 degrees of freedom, found 1 .*inlet_temp_c"):
        flow.initialize()
    with pytest.raises(ConfigError, match="setup_optimization expected an initialized model"):
        flow.setup_optimization(MARKET)
    with pytest.raises(ConfigError, match="report expected a solved optimization"):
        flow.report()


# ------------------------------------------------------------------ optimum under the prices in force


@pytest.mark.parametrize("case", ["market", "high"])
def test_optimum_is_optimal_feasible_and_a_steady_state_of_the_twin(case, request):
    sol = request.getfixturevalue(case)
    assert sol.termination == "optimal" and sol.plant_id == "co2_electrolyzer" and sol.objective == "profit"
    assert sol.current_setpoints == {"current_a": 500.0, "co2_flow_nm3_h": 30.0}  # empty current -> NOMINAL
    assert_feasible(sol, opt.OperatingLimits(vented_co2_max_kg_h=PERMIT_CO2_KG_H))
    assert sol.profit_usd_h >= sol.current_profit_usd_h
    # the optimum is the twin's steady state at the optimal setpoints, and its economics agree
    s = twin(sol.setpoints["current_a"], sol.setpoints["co2_flow_nm3_h"])
    assert sol.outputs["formic_acid_kg_h"] == pytest.approx(float(s.formic_acid_kg_h), rel=SIM_RTOL)
    assert sol.outputs["cell_voltage_v"] == pytest.approx(float(s.cell_voltage_v), rel=SIM_RTOL)
    profit, co2e, _ = twin_profit(s, MARKET if case == "market" else HIGH)
    assert sol.profit_usd_h == pytest.approx(float(profit), rel=SIM_RTOL, abs=1e-3)
    assert sol.co2e_kg_h == pytest.approx(float(co2e), rel=SIM_RTOL)
    assert sol.current_profit_usd_h == pytest.approx(float(twin_profit(twin(500.0, 30.0), MARKET if case == "market" else HIGH)[0]),
                                                     rel=SIM_RTOL)


def test_at_base_prices_the_optimum_is_turndown_at_the_starvation_margin(market):
    # Each ampere costs more (KHCO3 make-up ~0.015 kg/h, ~0.13 kW) than the formate it makes sells for.
    assert sorted(market.active_constraints) == ["co2_not_starved", "current_a.lower"]
    assert market.profit_usd_h < 0 and market.current_profit_usd_h < market.profit_usd_h
    assert market.outputs["co2_stoich_ratio"] == pytest.approx(1.2, rel=1e-6)


def test_high_formic_acid_price_gives_an_interior_optimum(high):
    assert high.active_constraints == []
    x = high.setpoints
    sp = opt.SETPOINTS
    assert sp["current_a"].lower + 50 < x["current_a"] < sp["current_a"].upper - 50
    assert high.outputs["co2_stoich_ratio"] > 1.25
    # local optimality checked on the twin: +-2 % on either setpoint loses profit
    base = float(twin_profit(twin(x["current_a"], x["co2_flow_nm3_h"]), HIGH)[0])
    for dc, dq in [(1.02, 1.0), (0.98, 1.0), (1.0, 1.02), (1.0, 0.98)]:
        assert float(twin_profit(twin(x["current_a"] * dc, x["co2_flow_nm3_h"] * dq), HIGH)[0]) < base
    # and no feasible point of a 41 x 57 grid of twin steady states does better
    cur, q = np.meshgrid(np.linspace(200.0, 750.0, 41), np.linspace(3.0, 60.0, 57))
    s = twin(cur, q)
    profit, _, _ = twin_profit(s, HIGH)
    ok = (s.co2_stoich_ratio >= 1.2) & (s.cell_voltage_v <= 4.0) & (s.co2_out_kg_h <= PERMIT_CO2_KG_H)
    assert high.profit_usd_h >= profit[ok].max() - 1e-6


# ------------------------------------------------------------------ CO2e: objective, caps, Pareto front


def test_min_co2e_objective(high, high_min_co2e):
    assert high_min_co2e.termination == "optimal" and high_min_co2e.objective == "co2e"
    assert high_min_co2e.co2e_kg_h <= high.co2e_kg_h
    assert high_min_co2e.profit_usd_h <= high.profit_usd_h
    # least power and least vented CO2: turndown at the starvation margin
    assert sorted(high_min_co2e.active_constraints) == ["co2_not_starved", "current_a.lower"]
    assert_feasible(high_min_co2e, opt.OperatingLimits(vented_co2_max_kg_h=PERMIT_CO2_KG_H))


def test_binding_co2e_cap(high, high_min_co2e):
    cap = 0.5 * (high.co2e_kg_h + high_min_co2e.co2e_kg_h)
    sol = opt.optimize(conditions(HIGH), co2e_cap_kg_h=cap)
    assert sol.co2e_cap_kg_h == cap and sol.termination == "optimal"
    assert within(sol.co2e_kg_h, hi=cap) and sol.co2e_kg_h == pytest.approx(cap, rel=1e-6)
    assert "co2e_cap" in sol.active_constraints
    assert sol.profit_usd_h <= high.profit_usd_h
    assert_feasible(sol, opt.OperatingLimits(vented_co2_max_kg_h=PERMIT_CO2_KG_H, co2e_cap_kg_h=cap))


def test_pareto_front_is_monotone(high, high_min_co2e):
    lo, hi = high_min_co2e.co2e_kg_h, high.co2e_kg_h
    caps = [lo + f * (hi - lo) for f in (0.1, 0.4, 0.7, 0.95)]
    front = [opt.optimize(conditions(HIGH), co2e_cap_kg_h=c) for c in caps]
    profits = [s.profit_usd_h for s in front]
    assert all(s.co2e_kg_h <= c * (1 + LIMIT_RTOL) for s, c in zip(front, caps))
    assert all(a < b for a, b in itertools.pairwise(profits))  # more CO2e allowed, more profit
    assert high_min_co2e.profit_usd_h <= profits[0] and profits[-1] <= high.profit_usd_h


def test_impossible_cap_raises_with_the_solvers_message(high_min_co2e):
    with pytest.raises(InfeasibleOptimization,
                       match=r"co2_electrolyzer: solve: .*'infeasible' \(Algorithm converged to a point of local infeasibility"):
        opt.optimize(conditions(HIGH), co2e_cap_kg_h=0.5 * high_min_co2e.co2e_kg_h)


def test_tighter_vented_co2_limit_is_respected(high):
    limit = 0.5 * high.outputs["co2_vented_kg_h"]
    sol = opt.optimize(dataclasses.replace(conditions(HIGH), limits={"co2_kg_h": limit}))
    assert within(sol.outputs["co2_vented_kg_h"], hi=limit) and "vented_co2" in sol.active_constraints
    assert sol.profit_usd_h <= high.profit_usd_h
    with pytest.raises(ValueError, match=r"unknown emission limit\(s\) \['nox_kg_h'\]; expected keys from \['co2_kg_h'"):
        opt.optimize(dataclasses.replace(conditions(HIGH), limits={"nox_kg_h": 1.0}))


def test_cell_voltage_limit_binds_when_power_is_cheap():
    flow = opt.CO2ElectrolyzerOptimization()
    flow.build()
    flow.set_conditions()
    flow.initialize()
    limits = opt.OperatingLimits(max_cell_voltage_v=3.0, min_faradaic_efficiency=0.85)
    flow.setup_optimization({**HIGH, "electricity": 0.03}, carbon_price_usd_t=CARBON_USD_T, limits=limits)
    assert degrees_of_freedom(flow.model) == 2
    flow.solve()
    table = flow.report()
    opt_row = table.loc["optimal"]
    assert within(opt_row["cell_voltage_v"], hi=3.0) and within(opt_row["faradaic_efficiency"], lo=0.85)
    assert "cell_voltage" in table.attrs["active_constraints"]
    assert [s[0] for s in table.attrs["solves"]] == ["co2_electrolyzer: initialize", "co2_electrolyzer: solve"]


# ------------------------------------------------------------------ calibrated parameters and inputs


def test_calibrated_parameters_are_used():
    calibrated = {"fe_max": 0.85, "asr_ohm_cm2": 2.6}
    sol = opt.optimize(conditions(HIGH, parameters=calibrated, model_version="calib-1"))
    s = twin(500.0, 30.0, params=dataclasses.replace(plant.DEFAULT, **calibrated))
    assert sol.model_version == "calib-1"
    assert sol.current_outputs["faradaic_efficiency"] == pytest.approx(float(s.faradaic_efficiency), rel=SIM_RTOL)
    assert sol.current_outputs["cell_voltage_v"] == pytest.approx(float(s.cell_voltage_v), rel=SIM_RTOL)


def test_unknown_names_and_missing_prices_raise():
    with pytest.raises(ValueError, match=r"unknown calibrated parameter\(s\) \['fe_plateau'\]; expected names from "
                                         r"\['fe_max', 'j_onset_ma_cm2', 'j_lim_ref_ma_cm2', 'j0_cathode_ma_cm2', 'asr_ohm_cm2'\]"):
        opt.optimize(conditions(parameters={"fe_plateau": 0.9}))
    with pytest.raises(ValueError, match="fe_max must lie in"):
        opt.optimize(conditions(parameters={"fe_max": 1.2}))
    with pytest.raises(ValueError, match=r"unknown current setpoint\(s\) \['current_density'\]"):
        opt.optimize(conditions(current={"current_density": 200.0}))
    with pytest.raises(ValueError, match=r"missing \['potassium_bicarbonate'\]"):
        opt.optimize(conditions({k: v for k, v in MARKET.items() if k != "potassium_bicarbonate"}))
    with pytest.raises(ValueError, match="current_a must lie in"):
        opt.optimize(conditions(current={"current_a": 900.0}))


def test_current_point_from_conditions_and_plant_registry():
    assert plant_optimizer("co2_electrolyzer") is opt
    assert set(opt.PRICE_ITEMS) == {"formic_acid", "co2_feed", "electricity", "potassium_bicarbonate"}
    current = {"current_a": 700.0, "co2_flow_nm3_h": 45.0, "co2_concentration_pct": 95.0, "inlet_temp_c": 50.0}
    sol = opt.optimize(conditions(HIGH, current=current))
    assert sol.current_setpoints == {"current_a": 700.0, "co2_flow_nm3_h": 45.0}
    s = twin(700.0, 45.0, 95.0, 50.0)
    assert sol.current_outputs["formic_acid_kg_h"] == pytest.approx(float(s.formic_acid_kg_h), rel=SIM_RTOL)
    assert sol.outputs["co2_concentration_pct"] == 95.0 and sol.outputs["inlet_temp_c"] == 50.0  # held
    assert sol.profit_usd_h > sol.current_profit_usd_h
