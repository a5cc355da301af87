"""Decision policies: how the operating point is picked from the profit-vs-CO2e Pareto front.

The optimizers (:mod:`optimization.plants`) answer two questions: the maximum profit, optionally
under a cap on CO2e (the ε-constraint), and the minimum CO2e. A *decision policy* is the
operator's rule for turning those answers into the one point recommended:

``max_profit``
    The maximum-profit end of the front. It may raise CO2e above the current operation (on the
    demo lake it does for the smelter and the biorefinery), so it is not the default.
``max_profit_no_co2e_increase`` (default)
    The maximum profit whose CO2e is no higher than at the current operating point: the
    ε-constraint with the cap at the current CO2e. Never raises CO2e above the baseline: when
    no point that meets the operating constraints emits less (the current point breaks one,
    e.g. the CSTR's conversion spec), it recommends keeping the current setpoints.
``internal_carbon_price``
    The point that maximises ``profit - internal price x CO2e`` (Scope 1 + location-based
    Scope 2, on top of any carbon cost the plant already pays): the shadow price a company sets
    for its own decisions. Found by golden-section search over the cap along the front
    (``max profit(cap) - price x cap`` is concave where the front is).
``min_co2e_profit_floor``
    The lowest CO2e whose maximum profit is no lower than a floor -- the current point's profit
    unless ``profit_floor_usd_h`` is given: bisection on the cap (the front's maximum profit
    increases with the cap).
``co2e_budget``
    The maximum profit with CO2e within a budget in t CO2e per day (``co2e_budget_t_d``, held
    as an hourly cap of budget / 24). A budget below the plant's minimum falls back to the
    minimum-CO2e point and says so.

Every choice carries a note saying what was applied (the cap, the price) and any fallback, which
ends up in ``gold.fct_setpoint_recommendations.policy_note``.

Example
-------
>>> policy = DecisionPolicy.from_params({"decision_policy": "co2e_budget", "co2e_budget_t_d": 12.0})
>>> policy.kind, policy.co2e_budget_t_d
('co2e_budget', 12.0)
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from nexus.errors import InfeasibleOptimization
from optimization.plants import OperatingConditions, Solution, plant_optimizer

__all__ = ["DEFAULT_POLICY", "POLICIES", "DecisionPolicy", "PolicyChoice", "choose"]

log = logging.getLogger(__name__)

PolicyKind = Literal["max_profit", "max_profit_no_co2e_increase", "internal_carbon_price",
                     "min_co2e_profit_floor", "co2e_budget"]
POLICIES: tuple[str, ...] = ("max_profit", "max_profit_no_co2e_increase", "internal_carbon_price",
                             "min_co2e_profit_floor", "co2e_budget")
DEFAULT_POLICY = "max_profit_no_co2e_increase"
#: Relative tolerance of the searches along the front (on the cap, kg/h).
_RTOL = 1e-4
_MAX_ITER = 40


@dataclass(frozen=True)
class DecisionPolicy:
    """An operator's rule for picking a point from the Pareto front (see the module docstring).

    Attributes:
        kind: one of :data:`POLICIES`.
        internal_carbon_price_usd_t: ``internal_carbon_price`` only, USD per t CO2e (>= 0).
        profit_floor_usd_h: ``min_co2e_profit_floor`` only; None = the current point's profit.
        co2e_budget_t_d: ``co2e_budget`` only, t CO2e per day (Scope 1 + location-based Scope 2).
    """

    kind: str = DEFAULT_POLICY
    internal_carbon_price_usd_t: float | None = None
    profit_floor_usd_h: float | None = None
    co2e_budget_t_d: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in POLICIES:
            raise ValueError(f"decision_policy must be one of {list(POLICIES)}, got {self.kind!r}")
        if self.kind == "internal_carbon_price":
            p = self.internal_carbon_price_usd_t
            if p is None or not math.isfinite(p) or p < 0:
                raise ValueError("internal_carbon_price expects internal_carbon_price_usd_t, a number >= 0 (USD/t CO2e), "
                                 f"got {p!r}")
        if self.kind == "co2e_budget":
            b = self.co2e_budget_t_d
            if b is None or not math.isfinite(b) or b < 0:
                raise ValueError(f"co2e_budget expects co2e_budget_t_d, a number >= 0 (t CO2e per day), got {b!r}")
        if self.profit_floor_usd_h is not None and not math.isfinite(self.profit_floor_usd_h):
            raise ValueError(f"profit_floor_usd_h must be finite, got {self.profit_floor_usd_h!r}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DecisionPolicy:
        """From DAG params or a replay's conf: ``decision_policy`` and the parameter its kind needs."""
        def num(key: str) -> float | None:
            value = params.get(key)
            return None if value is None else float(value)

        return cls(kind=params.get("decision_policy") or DEFAULT_POLICY,
                   internal_carbon_price_usd_t=num("internal_carbon_price_usd_t"),
                   profit_floor_usd_h=num("profit_floor_usd_h"), co2e_budget_t_d=num("co2e_budget_t_d"))

    def as_params(self) -> dict[str, Any]:
        """The policy as JSON-able params (only what its kind uses)."""
        out: dict[str, Any] = {"decision_policy": self.kind}
        if self.kind == "internal_carbon_price":
            out["internal_carbon_price_usd_t"] = self.internal_carbon_price_usd_t
        if self.kind == "min_co2e_profit_floor" and self.profit_floor_usd_h is not None:
            out["profit_floor_usd_h"] = self.profit_floor_usd_h
        if self.kind == "co2e_budget":
            out["co2e_budget_t_d"] = self.co2e_budget_t_d
        return out


@dataclass
class PolicyChoice:
    """The point a policy picked, the maximum-profit point it was picked against, and what was done."""

    policy: DecisionPolicy
    solution: Solution
    max_profit: Solution
    note: str
    evaluations: int = 0


def _hold(best: Solution, cap: float) -> Solution:
    """The current operating point as a solution (the recommendation is: change nothing)."""
    return dataclasses.replace(best, objective="hold", co2e_cap_kg_h=cap, setpoints=dict(best.current_setpoints),
                               profit_usd_h=best.current_profit_usd_h, co2e_kg_h=best.current_co2e_kg_h,
                               outputs=dict(best.current_outputs), active_constraints=[])


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def choose(policy: DecisionPolicy, conditions: OperatingConditions, *,
           optimize: Callable[..., Solution] | None = None, best: Solution | None = None,
           baseline_co2e_kg_h: float | None = None, baseline_profit_usd_h: float | None = None) -> PolicyChoice:
    """The operating point ``policy`` picks under ``conditions``.

    Args:
        policy: the rule.
        conditions: prices, limits, parameters and the current point (the baseline the default
            policy and the profit floor refer to).
        optimize: the plant's ``optimize`` (default: the plant type's optimizer module).
        best: the maximum-profit solution if already solved (saves one solve).
        baseline_co2e_kg_h, baseline_profit_usd_h: the baseline the default policy and the profit
            floor refer to, when it is known better than the model's current point (a replay's
            recorded hours); the stricter of the two is used for CO2e.

    Raises:
        InfeasibleOptimization: the maximum-profit problem itself has no optimum (nothing to pick).
    """
    optimize = optimize or plant_optimizer(conditions.plant_id).optimize
    calls = 0

    def opt(**kw: Any) -> Solution:
        nonlocal calls
        calls += 1
        return optimize(conditions, **kw)

    def capped(cap: float) -> Solution | None:
        try:
            return opt(co2e_cap_kg_h=float(cap))
        except InfeasibleOptimization as exc:
            log.debug("%s: cap %.6g kg/h infeasible: %s", conditions.plant_id, cap, exc)
            return None

    best = best or opt()
    kind = policy.kind
    tol = _RTOL * max(1.0, abs(best.co2e_kg_h))

    def done(sol: Solution, note: str) -> PolicyChoice:
        return PolicyChoice(policy, sol, best, note, calls)

    def lowest() -> Solution | None:
        try:
            return opt(objective="co2e")
        except InfeasibleOptimization as exc:
            log.warning("%s: minimum-CO2e point not found: %s", conditions.plant_id, exc)
            return None

    if kind == "max_profit":
        return done(best, "maximum profit (no cap on CO2e)")

    if kind == "max_profit_no_co2e_increase" or kind == "co2e_budget":
        if kind == "co2e_budget":
            cap = 1000.0 * float(policy.co2e_budget_t_d) / 24.0
            what = f"CO2e budget {_fmt(policy.co2e_budget_t_d)} t/d = {_fmt(cap)} kg/h"
        else:
            cap = best.current_co2e_kg_h if baseline_co2e_kg_h is None else min(best.current_co2e_kg_h,
                                                                                 baseline_co2e_kg_h)
            what = f"CO2e capped at the current point's {_fmt(cap)} kg/h"
        # the default promises no increase at all; a budget is a figure an operator set, met to the solver's tolerance
        if best.co2e_kg_h <= (cap if kind == "max_profit_no_co2e_increase" else cap + tol):
            return done(best, f"{what}: the maximum-profit point ({_fmt(best.co2e_kg_h)} kg/h) is within it")
        sol = capped(cap)
        if sol is not None:
            return done(sol, f"{what}: maximum profit under the cap")
        if kind == "max_profit_no_co2e_increase":
            # The current point breaks an operating constraint (e.g. a conversion spec) and every
            # point meeting it emits more: hold the current point rather than raise CO2e.
            return done(_hold(best, cap), f"{what}: no point meeting the operating constraints emits less; "
                                          "the current setpoints are kept")
        low = lowest()
        if low is None:
            raise InfeasibleOptimization(f"{conditions.plant_id}: {what} cannot be met and the minimum-CO2e point "
                                         "was not found")
        return done(low, f"{what} cannot be met (the plant's minimum is {_fmt(low.co2e_kg_h)} kg/h): "
                         "minimum-CO2e point instead")

    low = lowest()
    if low is None or best.co2e_kg_h - low.co2e_kg_h <= tol:
        return done(best, "the front is a single point (CO2e cannot be traded for profit): maximum profit")

    if kind == "internal_carbon_price":
        price = float(policy.internal_carbon_price_usd_t) / 1000.0  # USD per kg

        def merit(sol: Solution) -> float:
            return sol.profit_usd_h - price * sol.co2e_kg_h

        cache: dict[float, Solution | None] = {}

        def at(cap: float) -> float:
            if cap not in cache:
                cache[cap] = capped(cap)
            sol = cache[cap]
            return -math.inf if sol is None else merit(sol)

        a, b = low.co2e_kg_h, best.co2e_kg_h
        g = (math.sqrt(5.0) - 1.0) / 2.0
        c, d = b - g * (b - a), a + g * (b - a)
        for _ in range(_MAX_ITER):
            if b - a <= tol:
                break
            if at(c) >= at(d):
                b, d = d, c
                c = b - g * (b - a)
            else:
                a, c = c, d
                d = a + g * (b - a)
        candidates = [low, best, *(s for s in cache.values() if s is not None)]
        sol = max(candidates, key=merit)
        return done(sol, f"internal carbon price {_fmt(policy.internal_carbon_price_usd_t)} USD/t on Scope 1 + 2 CO2e: "
                         f"{_fmt(sol.co2e_kg_h)} kg/h, profit {_fmt(sol.profit_usd_h)} USD/h")

    # min_co2e_profit_floor
    current = best.current_profit_usd_h if baseline_profit_usd_h is None else baseline_profit_usd_h
    floor = current if policy.profit_floor_usd_h is None else float(policy.profit_floor_usd_h)
    what = ("profit no lower than the current point's " if policy.profit_floor_usd_h is None else "profit floor ") \
        + f"{_fmt(floor)} USD/h"
    if low.profit_usd_h >= floor:
        return done(low, f"{what}: the minimum-CO2e point already earns {_fmt(low.profit_usd_h)} USD/h")
    if best.profit_usd_h < floor:
        return done(best, f"{what} is above the maximum profit {_fmt(best.profit_usd_h)} USD/h: maximum profit instead")
    a, b, found = low.co2e_kg_h, best.co2e_kg_h, best
    for _ in range(_MAX_ITER):
        if b - a <= tol:
            break
        mid = 0.5 * (a + b)
        sol = capped(mid)
        if sol is not None and sol.profit_usd_h >= floor:
            b, found = mid, sol
        else:
            a = mid
    return done(found, f"{what}: lowest CO2e meeting it {_fmt(found.co2e_kg_h)} kg/h")

