"""Smelter setpoint optimization: the simulation stage against the twin's steady state, then the optimum.

Conditions are realistic: market reference prices (models.market.SERIES), the EU ETS allowance
price as the carbon price, the Norwegian location-based grid factor and AR6 GWPs, and the permit
limits of etl/reference/regulatory/emission-limits-v2.yaml. Needs IPOPT (cyipopt + PyNumero ASL):
fails, never skips, where `make install` did not run.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pyomo.environ as pyo
import pytest

from models import _smelter_physics as physics
from models import smelter as plant
from models.market import get_series
from nexus.errors import ConfigError, InfeasibleOptimization
from optimization.flow import degrees_of_freedom
from optimization.plants import OperatingConditions
from optimization.smelter import (
    CALIBRATED_PARAMETERS,
    EXAMPLE_PRICES,
    PRICE_ITEMS,
    SETPOINT_TAGS,
    SETPOINTS,
    SUPERHEAT_BAND_K,
    TWIN,
    SmelterEconomics,
    SmelterOptimization,
    optimize,
)

_USD_PER_EUR = get_series("ecb.usd_per_eur").reference  # 1.10
#: Reference prices of models.market.SERIES in PRICE_ITEMS units (USD/t -> USD/kg, EUR/MWh -> USD/kWh).
PRICES = {
    "aluminium": get_series("lme.aluminium").reference / 1000.0,  # 2300 USD/t
    "alumina": get_series("lme.alumina").reference / 1000.0,  # 380 USD/t
    "anode_carbon": get_series("chem.prebaked_anode").reference / 1000.0,  # 550 USD/t
    "aluminium_fluoride": get_series("chem.aluminium_fluoride").reference / 1000.0,  # 1300 USD/t
    "electricity": get_series("nordpool.power_no2_da").reference * _USD_PER_EUR / 1000.0,  # 50 EUR/MWh
}
CARBON_USD_T = get_series("eex.eua").reference * _USD_PER_EUR  # EUA 75 EUR/t
GRID_NO = 0.011  # kg CO2e/kWh, NO location-based (grid-emission-factors-v2.yaml, NVE)
GWP_AR6 = {"co2": 1.0, "ch4": 27.0, "n2o": 273.0, "cf4": 7380.0, "c2f6": 12400.0}
#: emission-limits-v2.yaml, smelter: CF4 10 kg/day; Scope 1 CO2e 170 000 t/year (as an hourly rate).
LIMITS = {"cf4_kg_h": 10.0 / 24.0, "co2e_scope1_kg_h": 170_000e3 / 8760.0}
RTOL = 1e-6  # bounds and limits at the optimum (IPOPT relaxes bounds by 1e-8 relative)
SIM_RTOL = 1e-5  # simulation stage vs steady_state() (measured: < 5e-7; smoothing eps 1e-4)


def conditions(**changes) -> OperatingConditions:
    base = OperatingConditions("smelter", prices=PRICES, carbon_price_usd_t=CARBON_USD_T,
                               grid_kg_co2e_per_kwh=GRID_NO, gwp100=GWP_AR6, limits=LIMITS)
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def best():
    return optimize(conditions())


@pytest.fixture(scope="module")
def greenest():
    return optimize(conditions(), objective="co2e")


def initialized(params: physics.SmelterParams = physics.DEFAULT, **setpoints) -> SmelterOptimization:
    flow = SmelterOptimization(params)
    flow.build()
    flow.set_conditions(**setpoints)
    flow.initialize()
    return flow


# ------------------------------------------------------------------ build, conditions, initialize


@pytest.mark.parametrize("current_ka", [350.0, 320.0])
def test_simulation_stage_reproduces_the_twins_steady_state(current_ka):
    # The ACD is where the twin's pot control holds it (amperage-resistance table); T, CE, the
    # voltage, the ledge and every rate follow from the Pyomo model's own square solve.
    flow = initialized(line_current_ka=current_ka)
    assert degrees_of_freedom(flow.model) == 0
    assert [(s.stage, s.termination) for s in flow.solves] == [("smelter: initialize", "optimal")]
    got = flow.current
    ss = physics.steady_state(current_ka, aem=got["aem"])
    pairs = {
        "aluminium_t_h": ss.aluminium_t_h, "current_efficiency": ss.current_efficiency,
        "cell_voltage_v": ss.voltage_v, "specific_energy_kwh_kg": ss.specific_energy_kwh_kg,
        "bath_temp_c": ss.bath_temp_c, "superheat_k": ss.superheat_k, "liquidus_c": ss.liquidus_c,
        "ledge_cm": ss.ledge_cm, "shell_temp_c": ss.shell_temp_c, "side_loss_kw": ss.side_loss_kw,
        "heat_loss_kw": ss.heat_loss_kw, "power_dc_kw": ss.power_kw, "alumina_t_h": ss.alumina_t_h,
        "anode_t_h": ss.anode_t_h, "co2_t_h": ss.co2_t_h, "cf4_kg_h": ss.cf4_kg_h, "c2f6_kg_h": ss.c2f6_kg_h,
        "alf3_kg_h": ss.alf3_kg_h,
        **{f"{c}_v": float(getattr(ss.breakdown, c)) for c in physics.VoltageBreakdown.COMPONENTS},
    }
    for key, expected in pairs.items():
        assert got[key] == pytest.approx(expected, rel=SIM_RTOL), key
    # the pot-control resistance that holds this ACD is the table's
    assert got["resistance_target_uohm"] == pytest.approx(float(physics.heat_balance_resistance(current_ka)),
                                                          rel=SIM_RTOL)
    # electricity import as the activity stream SMT.JI100 defines it
    assert got["electricity_kw"] == pytest.approx(ss.power_kw / 0.975 + 1500.0, rel=SIM_RTOL)
    if current_ka == 350.0:  # the design point (models.smelter docstring: 13.3 kWh/kg, ~94.5 %)
        assert got["specific_energy_kwh_kg"] == pytest.approx(13.29, abs=0.005)
        assert got["aem"] == pytest.approx(0.09, rel=1e-9)
    else:  # fewer anode effects at a lower current density
        assert got["aem"] < 0.09


def test_simulation_stage_uses_calibrated_parameters():
    params = dataclasses.replace(physics.DEFAULT, ce_ref=0.935, h_bath_ledge_w_m2k=1000.0, g_top_kw_k=0.48,
                                 g_bottom_kw_k=0.12)
    got = initialized(params).current
    ss = physics.steady_state(350.0, params)
    for key, expected in (("bath_temp_c", ss.bath_temp_c), ("current_efficiency", ss.current_efficiency),
                          ("ledge_cm", ss.ledge_cm), ("aluminium_t_h", ss.aluminium_t_h),
                          ("cell_voltage_v", ss.voltage_v)):
        assert got[key] == pytest.approx(expected, rel=SIM_RTOL), key
    assert got["current_efficiency"] < initialized().current["current_efficiency"]


def test_the_ported_twin_is_the_twins_code():
    # The same functions on numbers give the same numbers; on Pyomo expressions an unported numpy
    # function fails loudly instead of computing something else.
    args = (350.0, 4.5, 965.0, 2.8, 12.0)
    assert float(TWIN.cell_voltage_breakdown(*args).total) == float(physics.cell_voltage_breakdown(*args).total)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=965.0)
    assert pyo.value(TWIN.bath_conductivity(12.0, 5.0, 2.8, m.x)) == pytest.approx(
        float(physics.bath_conductivity(12.0, 5.0, 2.8, 965.0)), rel=1e-14)
    with pytest.raises(TypeError, match="np.tanh on a Pyomo expression is not supported"):
        TWIN.np.tanh(m.x)


def test_stages_run_in_order():
    flow = SmelterOptimization()
    with pytest.raises(ConfigError, match="build"):
        flow.initialize()
    flow = initialized()
    with pytest.raises(ConfigError, match="expected decision variables"):
        flow.solve()
    with pytest.raises(ConfigError, match="report expected a solved optimization"):
        flow.report()


# ------------------------------------------------------------------ the optimum


def test_prices_are_the_market_reference_levels():
    assert PRICES == pytest.approx(EXAMPLE_PRICES, rel=1e-12)
    assert set(PRICES) == set(PRICE_ITEMS)
    assert CARBON_USD_T == pytest.approx(82.5)


def test_profit_optimum_is_optimal_and_respects_every_limit(best):
    assert best.termination == "optimal"
    sp, out = best.setpoints, best.outputs
    for name, setpoint in SETPOINTS.items():
        assert setpoint.lower * (1 - RTOL) <= sp[name] <= setpoint.upper * (1 + RTOL), name
    lo, hi = SUPERHEAT_BAND_K
    assert lo * (1 - RTOL) <= out["superheat_k"] <= hi * (1 + RTOL)
    assert out["ledge_cm"] >= 2.0
    assert out["cf4_kg_h"] <= LIMITS["cf4_kg_h"] * (1 + RTOL)
    assert out["co2e_scope1_kg_h"] <= LIMITS["co2e_scope1_kg_h"] * (1 + RTOL)
    # More current at the smallest ACD and superheat the heat balance allows, until the permit's
    # Scope 1 limit stops it: the limit and the superheat floor are the active constraints.
    assert set(best.active_constraints) == {"superheat_min_k", "co2e_scope1_kg_h"}
    assert sp["line_current_ka"] > best.current_setpoints["line_current_ka"]
    assert sp["acd_cm"] < best.current_setpoints["acd_cm"]
    assert best.profit_usd_h > best.current_profit_usd_h
    assert out["specific_energy_kwh_kg"] < best.current_outputs["specific_energy_kwh_kg"]


def test_optimum_is_a_steady_state_of_the_twin(best):
    # Independent check: the twin's steady_state at the optimal line current and pot-control
    # resistance target finds the same ACD, temperature and current efficiency.
    sp, out = best.setpoints, best.outputs
    ss = physics.steady_state(sp["line_current_ka"], resistance_uohm=sp["resistance_target_uohm"], aem=out["aem"])
    assert ss.acd_cm == pytest.approx(sp["acd_cm"], rel=SIM_RTOL)
    for key, expected in (("bath_temp_c", ss.bath_temp_c), ("superheat_k", ss.superheat_k),
                          ("current_efficiency", ss.current_efficiency), ("aluminium_t_h", ss.aluminium_t_h),
                          ("cell_voltage_v", ss.voltage_v), ("co2_t_h", ss.co2_t_h), ("cf4_kg_h", ss.cf4_kg_h)):
        assert out[key] == pytest.approx(expected, rel=SIM_RTOL), key


def test_every_variable_bound_and_inequality_holds_in_the_model():
    flow = initialized()
    flow.setup_optimization(SmelterEconomics.from_conditions(conditions()), limits=LIMITS)
    flow.solve()
    m = flow.model
    for var in m.component_data_objects(pyo.Var):
        if var.lb is not None:
            assert var.value >= var.lb - RTOL * max(1.0, abs(var.lb)), var.name
        if var.ub is not None:
            assert var.value <= var.ub + RTOL * max(1.0, abs(var.ub)), var.name
    for con in m.component_data_objects(pyo.Constraint, active=True):
        if con.equality:
            continue
        body = pyo.value(con.body)
        if con.lower is not None:
            assert body >= pyo.value(con.lower) - RTOL * max(1.0, abs(pyo.value(con.lower))), con.name
        if con.upper is not None:
            assert body <= pyo.value(con.upper) + RTOL * max(1.0, abs(pyo.value(con.upper))), con.name
    table = flow.report()
    assert list(table.index) == ["current", "optimal", "change"]
    assert [s[0] for s in table.attrs["solves"]] == ["smelter: initialize", "smelter: solve"]


def test_profit_and_co2e_follow_the_conventions(best):
    out = best.outputs
    scope1 = 1000 * out["co2_t_h"] + 7380 * out["cf4_kg_h"] + 12400 * out["c2f6_kg_h"]
    assert out["co2e_scope1_kg_h"] == pytest.approx(scope1, rel=1e-12)
    assert out["co2e_scope2_kg_h"] == pytest.approx(GRID_NO * out["electricity_kw"], rel=1e-12)
    assert best.co2e_kg_h == pytest.approx(scope1 + GRID_NO * out["electricity_kw"], rel=1e-12)
    profit = (1000 * (PRICES["aluminium"] * out["aluminium_t_h"] - PRICES["alumina"] * out["alumina_t_h"]
                      - PRICES["anode_carbon"] * out["anode_t_h"])
              - PRICES["aluminium_fluoride"] * out["alf3_kg_h"] - PRICES["electricity"] * out["electricity_kw"]
              - CARBON_USD_T / 1000 * scope1)
    assert best.profit_usd_h == pytest.approx(profit, rel=1e-12)


# ------------------------------------------------------------------ emissions: caps, limits, front


def test_binding_co2e_cap_lowers_co2e_and_profit(best):
    cap = 0.95 * best.co2e_kg_h
    capped = optimize(conditions(), co2e_cap_kg_h=cap)
    assert capped.termination == "optimal"
    assert capped.co2e_kg_h <= cap * (1 + RTOL)
    assert "co2e_cap_kg_h" in capped.active_constraints
    assert capped.profit_usd_h <= best.profit_usd_h
    assert capped.setpoints["line_current_ka"] < best.setpoints["line_current_ka"]


def test_co2e_objective_is_the_low_end_of_the_front(best, greenest):
    assert greenest.termination == "optimal" and greenest.objective == "co2e"
    assert greenest.co2e_kg_h <= best.co2e_kg_h
    assert greenest.profit_usd_h <= best.profit_usd_h
    # the least CO2e per hour is the least current the rectifier and the heat balance allow
    assert greenest.setpoints["line_current_ka"] == pytest.approx(SETPOINTS["line_current_ka"].lower, rel=RTOL)
    assert greenest.outputs["superheat_k"] >= SUPERHEAT_BAND_K[0] * (1 - RTOL)


def test_pareto_front_profit_rises_with_the_cap(best, greenest):
    caps = np.linspace(greenest.co2e_kg_h, best.co2e_kg_h, 6)[1:-1]
    front = [optimize(conditions(), co2e_cap_kg_h=float(cap)) for cap in caps]
    for cap, point in zip(caps, front):
        assert point.co2e_kg_h <= cap * (1 + RTOL)
        assert point.co2e_kg_h == pytest.approx(cap, rel=1e-6)  # profit always wants more CO2e here
    profits = [greenest.profit_usd_h, *(p.profit_usd_h for p in front), best.profit_usd_h]
    assert all(a < b for a, b in itertools.pairwise(profits))


def test_impossible_cap_raises_with_the_solvers_message(greenest):
    with pytest.raises(InfeasibleOptimization,
                       match=r"smelter: solve: .*'infeasible' \(Algorithm converged to a point of local infeasibility"):
        optimize(conditions(), co2e_cap_kg_h=0.9 * greenest.co2e_kg_h)


def test_tighter_cf4_limit_is_respected(best):
    limit = 0.8 * best.outputs["cf4_kg_h"]
    tight = optimize(conditions(limits={**LIMITS, "cf4_kg_h": limit}))
    assert tight.outputs["cf4_kg_h"] <= limit * (1 + RTOL)
    assert "cf4_kg_h" in tight.active_constraints
    assert tight.profit_usd_h <= best.profit_usd_h
    # fewer anode effects need a lower current density
    assert tight.outputs["aem"] < best.outputs["aem"]


# ------------------------------------------------------------------ interface


def test_current_setpoints_are_the_starting_point():
    solution = optimize(conditions(current={"line_current_ka": 340.0, "acd_cm": 5.0}))
    assert solution.current_setpoints["line_current_ka"] == 340.0
    assert solution.current_setpoints["acd_cm"] == 5.0
    assert solution.profit_usd_h >= solution.current_profit_usd_h
    assert solution.solve_seconds > 0 and solution.model_version == "design"


def test_any_current_point_starts_the_same_optimum(best):
    # A cold point (low current, small ACD) whose bath would freeze: the square solve starts from
    # the bracketed root of the heat balance, and the optimum does not depend on where it starts.
    cold = optimize(conditions(current={"line_current_ka": 300.0, "acd_cm": 3.0}))
    assert cold.current_outputs["superheat_k"] < 0
    assert cold.setpoints == pytest.approx(best.setpoints, rel=1e-6)
    assert cold.profit_usd_h == pytest.approx(best.profit_usd_h, rel=1e-9)


def test_setpoint_tags_are_the_twins():
    tags = {t.tag: t for t in plant.TAGS}
    for name, (tag, factor) in SETPOINT_TAGS.items():
        assert tags[tag].unit == SETPOINTS[name].unit and factor == 1.0


def test_unknown_names_raise_value_errors():
    with pytest.raises(ValueError, match=r"calibrated parameters among \['ce_ref', .*unknown \['cathode_j0'\]"):
        optimize(conditions(parameters={"cathode_j0": 4.0}))
    assert CALIBRATED_PARAMETERS == ("ce_ref", "h_bath_ledge_w_m2k", "g_top_kw_k", "g_bottom_kw_k")
    with pytest.raises(ValueError, match=r"emission limits among .*unknown \['hf_kg_h'\]"):
        optimize(conditions(limits={"hf_kg_h": 1.0}))
    with pytest.raises(ValueError, match=r"current setpoints among .*unknown \['resistance_uohm'\]"):
        optimize(conditions(current={"resistance_uohm": 7.0}))
    with pytest.raises(ValueError, match=r"prices for .*missing \['electricity'\]"):
        optimize(conditions(prices={k: v for k, v in PRICES.items() if k != "electricity"}))
    with pytest.raises(ValueError, match="objective must be 'profit' or 'co2e'"):
        optimize(conditions(), objective="emissions")
