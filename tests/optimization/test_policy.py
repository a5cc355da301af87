"""Decision policies pick the point their rule says from the real optimizers' fronts (IPOPT)."""

from __future__ import annotations

import pytest

from optimization.plants import OperatingConditions, plant_optimizer
from optimization.policy import DEFAULT_POLICY, DecisionPolicy, choose

GWP = {"ch4": 27.9, "n2o": 273.0, "cf4": 7380.0, "c2f6": 12400.0}
BIO = OperatingConditions(
    plant_id="biorefinery", carbon_price_usd_t=80.0, grid_kg_co2e_per_kwh=0.4, gwp100=GWP,
    prices={"ethanol": 0.8, "corn_stover": 0.07, "cellulase": 5.0, "sulfuric_acid": 0.1, "ammonia": 0.5,
            "natural_gas": 4.0, "electricity": 0.07})
CSTR = OperatingConditions(plant_id="cstr", prices={"electricity": 0.15}, grid_kg_co2e_per_kwh=0.4)


@pytest.fixture(scope="module")
def bio_ends():
    opt = plant_optimizer("biorefinery").optimize
    return opt(BIO), opt(BIO, objective="co2e")


def test_default_never_raises_co2e_above_the_current_point(bio_ends):
    best, _ = bio_ends
    assert best.co2e_kg_h > best.current_co2e_kg_h * 1.01  # maximum profit would raise it (the finding)
    choice = choose(DecisionPolicy(), BIO, best=best)
    assert DEFAULT_POLICY == "max_profit_no_co2e_increase" and choice.policy.kind == DEFAULT_POLICY
    assert choice.solution.co2e_kg_h <= best.current_co2e_kg_h * (1 + 1e-6)
    assert best.current_profit_usd_h < choice.solution.profit_usd_h < best.profit_usd_h
    assert "capped at the current point" in choice.note


def test_default_holds_the_current_point_when_every_feasible_point_emits_more():
    # The CSTR's current point converts 12.3 % < the 15 % spec; meeting the spec needs more chiller power.
    choice = choose(DecisionPolicy(), CSTR)
    sol = choice.solution
    assert sol.objective == "hold" and sol.setpoints == sol.current_setpoints
    assert sol.co2e_kg_h == pytest.approx(sol.current_co2e_kg_h)
    assert "current setpoints are kept" in choice.note


def test_min_co2e_with_the_profit_floor_lands_on_the_floor(bio_ends):
    best, low = bio_ends
    choice = choose(DecisionPolicy("min_co2e_profit_floor"), BIO, best=best)
    sol = choice.solution
    floor = best.current_profit_usd_h
    assert low.profit_usd_h < floor  # the floor binds
    assert sol.profit_usd_h >= floor - 1e-6
    assert sol.profit_usd_h == pytest.approx(floor, rel=2e-3)  # the lowest CO2e meeting it sits on it
    assert low.co2e_kg_h <= sol.co2e_kg_h < best.current_co2e_kg_h


def test_internal_carbon_price_moves_along_the_front(bio_ends):
    best, low = bio_ends
    zero = choose(DecisionPolicy("internal_carbon_price", internal_carbon_price_usd_t=0.0), BIO, best=best).solution
    high = choose(DecisionPolicy("internal_carbon_price", internal_carbon_price_usd_t=5000.0), BIO, best=best).solution
    assert zero.co2e_kg_h == pytest.approx(best.co2e_kg_h, rel=1e-3)
    assert high.co2e_kg_h < zero.co2e_kg_h
    # at its price the chosen point beats both ends of the front
    merit = lambda s: s.profit_usd_h - 5.0 * s.co2e_kg_h  # noqa: E731 - USD/kg
    assert merit(high) >= max(merit(best), merit(low)) - 1e-6


def test_co2e_budget_caps_or_falls_back_to_the_minimum(bio_ends):
    best, low = bio_ends
    budget = 0.5 * (best.co2e_kg_h + low.co2e_kg_h) * 24 / 1000  # t/d
    sol = choose(DecisionPolicy("co2e_budget", co2e_budget_t_d=budget), BIO, best=best).solution
    assert sol.co2e_kg_h <= budget * 1000 / 24 * (1 + 1e-6)
    too_low = choose(DecisionPolicy("co2e_budget", co2e_budget_t_d=low.co2e_kg_h * 24 / 1000 * 0.5), BIO, best=best)
    assert too_low.solution.co2e_kg_h == pytest.approx(low.co2e_kg_h, rel=1e-4)
    assert "cannot be met" in too_low.note


def test_policy_params_are_validated():
    with pytest.raises(ValueError, match="decision_policy must be one of"):
        DecisionPolicy("cheapest")
    with pytest.raises(ValueError, match="internal_carbon_price_usd_t"):
        DecisionPolicy.from_params({"decision_policy": "internal_carbon_price"})
    with pytest.raises(ValueError, match="co2e_budget_t_d"):
        DecisionPolicy("co2e_budget", co2e_budget_t_d=-1.0)
    p = DecisionPolicy.from_params({"decision_policy": "co2e_budget", "co2e_budget_t_d": 12, "internal_carbon_price_usd_t": 9})
    assert p.as_params() == {"decision_policy": "co2e_budget", "co2e_budget_t_d": 12.0}
    assert DecisionPolicy.from_params({}).kind == DEFAULT_POLICY


def test_the_dag_param_lists_every_policy_with_the_default_first():
    from nexus.dag_support import POLICY_KINDS
    from optimization.policy import POLICIES

    assert set(POLICY_KINDS) == set(POLICIES) and POLICY_KINDS[0] == DEFAULT_POLICY
