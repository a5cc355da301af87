"""Steady-state setpoint optimization of the jacketed exothermic CSTR (:mod:`models.cstr`).

Physics (the same steady-state balances as :func:`models.cstr.balances`, parameters from
:class:`models.cstr.CSTRParams`)::

    0 = q/V (Caf - Ca) - k(T) Ca                                       mol/(L min)
    0 = q/V (Tf - T) + (-dH)/(rho Cp) k(T) Ca + UA/(V rho Cp) (Tc - T)   K/min
    k(T) = k0 exp(-E/R / T)

Decision: the jacket (coolant) temperature Tc, within the coolant supply's range
(:data:`models.cstr.DEFAULT_TUNING` ``out_min``-``out_max``, 250-350 K), and optionally the feed
flow q (feed pump range, default 80-120 L/min, i.e. +-20 % of the nominal 100 L/min: an
assumption of this project). The plant runs with TC102 in automatic, so the setpoint handed to
the plant is the reactor temperature T the optimum holds (``tc102_setpoint_k`` in the report);
Tc is what TC102's output settles at.

Objective, USD/h (maximised)::

    profit = product price x B made - feed price x A fed - electricity price x chiller power
             - carbon price x CO2e

B made = 60 q (Caf - Ca) mol/h, A fed = 60 q Caf mol/h. The jacket is cooled by a chiller whose
electricity is the heat duty UA (T - Tc) divided by its COP (the factor of the CSTR's
``electricity_import`` activity stream, 1/COP = 0.25); CO2e is that electricity times the grid
emission factor (scope 2 only: the feed's upstream emissions are outside this boundary).

Constraints
-----------
* Runaway: ``T <= t_max_k``. By default ``t_max_k`` = the lowest ignition temperature over the
  feed-flow range minus ``runaway_margin_k`` = 2 K. The ignition point is the upper end of the
  cold steady-state branch (the fold of :func:`models.cstr.fold_points`: T = 335.654 K at
  Tc = 303.229 K for q = 100 L/min; 335.01 K at 120 L/min). Below it the operating point is an
  open-loop stable steady state (heat-removal slope above heat-generation slope, van Heerden's
  criterion: ratio 0.933 at 333.654 K); above it, up to 350 K, the steady states at such Tc are
  the open-loop unstable middle branch, held only by TC102: losing the loop ignites the reactor
  towards T ~ 370 K. A fixed 340 K limit would sit on that branch, so the limit is computed from
  the model instead. Within T <= t_max_k the cold branch is the only steady state, so the
  optimum cannot land on another branch.
* Conversion spec: ``1 - Ca/Caf >= min_conversion`` (default 0.15; the current point at
  Tc = 300 K converts 12.3 %).
* Cooling only: ``Tc <= T`` (the jacket is fed by a chiller, so the duty is not negative).

Example
-------
>>> flow = CSTROptimization()
>>> table = flow.run(
...     {"coolant_temp_k": 300.0},
...     {"prices": {"product_usd_mol": 0.40, "feed_usd_mol": 0.02, "electricity_usd_kwh": 0.15,
...                 "carbon_usd_tco2e": 85.0, "electricity_kgco2e_kwh": 0.35}},
... )
>>> print(round(table.loc["optimal", "reactor_temp_k"], 3))
333.654
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from models import cstr as plant
from nexus.errors import ConfigError
from optimization.flow import StagedFlow
from optimization.solvers import SolveReport

__all__ = [
    "CHILLER_ELECTRICITY_PER_DUTY",
    "DEFAULT_FEED_FLOW_BOUNDS",
    "CSTROptimization",
    "CSTRPrices",
    "ignition_point",
    "runaway_limit_k",
]

#: Chiller electricity per unit of jacket heat duty (1/COP), from the CSTR's activity data.
CHILLER_ELECTRICITY_PER_DUTY: float = next(a.factor for a in plant.ACTIVITY if a.kind == "electricity_import")
#: Feed pump range when the feed flow is a decision, L/min (assumption: +-20 % of nominal).
DEFAULT_FEED_FLOW_BOUNDS: tuple[float, float] = (80.0, 120.0)
_MIN_PER_H = 60.0
_J_MIN_PER_KW = 6.0e4


@dataclass(frozen=True)
class CSTRPrices:
    """Prices and the utility's emission factor (validated when built).

    Attributes
    ----------
    product_usd_mol : float
        Value of product B, USD/mol.
    feed_usd_mol : float
        Cost of reactant A fed, USD/mol (unconverted A is not recovered).
    electricity_usd_kwh : float
        Electricity price of the chiller, USD/kWh.
    carbon_usd_tco2e : float
        Carbon price, USD/t CO2e.
    electricity_kgco2e_kwh : float
        Emission factor of the chiller's electricity, kg CO2e/kWh.
    """

    product_usd_mol: float
    feed_usd_mol: float
    electricity_usd_kwh: float
    carbon_usd_tco2e: float
    electricity_kgco2e_kwh: float

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"price {f.name} must be a finite number >= 0, found {value!r}")

    @classmethod
    def from_mapping(cls, prices: Mapping[str, float] | CSTRPrices) -> CSTRPrices:
        """Build from a dict with exactly the attribute names as keys."""
        if isinstance(prices, cls):
            return prices
        valid = [f.name for f in fields(cls)]
        missing = [k for k in valid if k not in prices]
        unknown = [k for k in prices if k not in valid]
        if missing or unknown:
            raise ConfigError(f"prices expected keys {valid}, found missing {missing} and unknown {unknown}")
        return cls(**{k: float(prices[k]) for k in valid})


def ignition_point(params: plant.CSTRParams = plant.DEFAULT) -> tuple[float, float] | None:
    """(Tc K, T K) where the cold steady-state branch ends (the lower-T fold), None without multiplicity."""
    folds = plant.fold_points(params)
    return min(folds, key=lambda tc_t: tc_t[1]) if folds else None


def runaway_limit_k(
    params: plant.CSTRParams = plant.DEFAULT,
    feed_flow_bounds: tuple[float, float] | None = None,
    *,
    margin_k: float = 2.0,
) -> float:
    """Highest allowed reactor temperature, K: lowest ignition temperature minus ``margin_k``.

    The ignition temperature falls as the feed flow rises (338.3 K at 80 L/min, 335.0 K at
    120 L/min), so over a feed-flow range it is evaluated at 5 flows including both ends.
    Flows without multiplicity (no ignition point, e.g. 70 L/min) impose nothing. Raises
    :class:`~nexus.errors.ConfigError` if no flow of the range has an ignition point.
    """
    flows = [params.q] if feed_flow_bounds is None else np.linspace(*feed_flow_bounds, 5)
    points = [ignition_point(replace(params, q=float(q))) for q in flows]
    temps = [t for p in points if p is not None for _, t in [p]]
    if not temps:
        raise ConfigError(f"expected an ignition point for feed flows {list(flows)} L/min, found none: pass t_max_k")
    return min(temps) - margin_k


def _performance(q, caf, ca, temp, tc, ua, prices: CSTRPrices | None) -> dict[str, Any]:
    """Rates and economics; works on floats and on Pyomo expressions alike (one formula for both)."""
    production = _MIN_PER_H * q * (caf - ca)
    feed = _MIN_PER_H * q * caf
    duty_kw = ua * (temp - tc) / _J_MIN_PER_KW
    electricity_kw = CHILLER_ELECTRICITY_PER_DUTY * duty_kw
    out = {
        "production_mol_h": production,
        "feed_mol_h": feed,
        "cooling_duty_kw": duty_kw,
        "electricity_kw": electricity_kw,
    }
    if prices is not None:
        co2e = prices.electricity_kgco2e_kwh * electricity_kw
        out |= {
            "co2e_kg_h": co2e,
            "revenue_usd_h": prices.product_usd_mol * production,
            "feed_cost_usd_h": prices.feed_usd_mol * feed,
            "electricity_cost_usd_h": prices.electricity_usd_kwh * electricity_kw,
            "carbon_cost_usd_h": prices.carbon_usd_tco2e / 1000.0 * co2e,
        }
        out["profit_usd_h"] = (
            out["revenue_usd_h"] - out["feed_cost_usd_h"] - out["electricity_cost_usd_h"] - out["carbon_cost_usd_h"]
        )
    return out


class CSTROptimization(StagedFlow):
    """Staged profit optimization of the CSTR's jacket temperature (and optionally feed flow).

    Parameters
    ----------
    params : models.cstr.CSTRParams
        Reactor parameters (volume, kinetics, heat transfer; feed defaults).

    Stages
    ------
    ``build()``; ``set_conditions(coolant_temp_k=300.0, feed_flow=..., feed_conc=...,
    feed_temp_k=..., ua=...)`` (feed and UA default to ``params``); ``initialize()`` (square
    solve from the stable steady state of :func:`models.cstr.analyse_steady_states`);
    ``setup_optimization(prices, ...)``; ``solve()``; ``report()``.
    """

    name: ClassVar[str] = "cstr"

    def __init__(self, params: plant.CSTRParams = plant.DEFAULT) -> None:
        super().__init__()
        self.params = params
        self.prices: CSTRPrices | None = None
        self.limits: dict[str, float] = {}
        self.current: dict[str, float] | None = None

    # ------------------------------------------------------------------ stages

    def build(self) -> pyo.ConcreteModel:
        """Steady-state balances; inputs are variables so that data binding only fixes them."""
        p = self.params
        m = pyo.ConcreteModel(name="cstr_setpoints")
        m.q = pyo.Var(bounds=(0.0, None), initialize=p.q, doc="feed flow, L/min")
        m.caf = pyo.Var(bounds=(0.0, None), initialize=p.Caf, doc="feed concentration of A, mol/L")
        m.tf = pyo.Var(bounds=(200.0, 500.0), initialize=p.Tf, doc="feed temperature, K")
        m.ua = pyo.Var(bounds=(0.0, None), initialize=p.UA, doc="jacket UA, J/(min K)")
        m.tc = pyo.Var(bounds=(200.0, 500.0), initialize=300.0, doc="jacket (coolant) temperature, K")
        m.ca = pyo.Var(bounds=(0.0, None), initialize=0.9 * p.Caf, doc="outlet concentration of A, mol/L")
        m.temp = pyo.Var(bounds=(200.0, 600.0), initialize=320.0, doc="reactor temperature, K")

        m.k = pyo.Expression(expr=p.k0 * pyo.exp(-p.EoverR / m.temp), doc="rate constant, 1/min")
        rho_cp = p.rho * p.Cp
        m.mass_balance = pyo.Constraint(expr=m.q / p.V * (m.caf - m.ca) - m.k * m.ca == 0)
        m.energy_balance = pyo.Constraint(
            expr=m.q / p.V * (m.tf - m.temp) + p.mdelH / rho_cp * m.k * m.ca + m.ua / (p.V * rho_cp) * (m.tc - m.temp)
            == 0
        )
        m.conversion = pyo.Expression(expr=1 - m.ca / m.caf)
        self.model = m
        return m

    def set_conditions(
        self,
        *,
        coolant_temp_k: float = 300.0,
        feed_flow: float | None = None,
        feed_conc: float | None = None,
        feed_temp_k: float | None = None,
        ua: float | None = None,
    ) -> None:
        """Fix the current operating point: jacket temperature, feed (L/min, mol/L, K) and UA."""
        m = self._model("set_conditions")
        p = self.params
        m.tc.fix(float(coolant_temp_k))
        m.q.fix(float(p.q if feed_flow is None else feed_flow))
        m.caf.fix(float(p.Caf if feed_conc is None else feed_conc))
        m.tf.fix(float(p.Tf if feed_temp_k is None else feed_temp_k))
        m.ua.fix(float(p.UA if ua is None else ua))

    def initial_guess(self) -> None:
        """Start at the open-loop *stable* steady state (three exist at Tc = 300 K)."""
        m = self.model
        params = replace(self.params, q=m.q.value, Caf=m.caf.value, Tf=m.tf.value, UA=m.ua.value)
        states = plant.analyse_steady_states(m.tc.value, params)
        stable = [s for s in states if s.stable]
        if not stable:
            raise ConfigError(
                f"cstr: initialize expected a stable steady state at Tc = {m.tc.value} K, found only unstable ones "
                f"(T = {[round(s.temp_k, 3) for s in states]} K)"
            )
        m.ca.set_value(stable[0].ca)
        m.temp.set_value(stable[0].temp_k)


    def setup_optimization(
        self,
        prices: Mapping[str, float] | CSTRPrices,
        *,
        t_max_k: float | None = None,
        runaway_margin_k: float = 2.0,
        min_conversion: float = 0.15,
        coolant_bounds_k: tuple[float, float] = (plant.DEFAULT_TUNING.out_min, plant.DEFAULT_TUNING.out_max),
        feed_flow_bounds: tuple[float, float] | None = None,
    ) -> None:
        """Free Tc (and q if ``feed_flow_bounds``), add the profit objective and the constraints.

        Parameters
        ----------
        prices : mapping or CSTRPrices
            Keys of :class:`CSTRPrices`.
        t_max_k : float, optional
            Runaway limit on T, K; default :func:`runaway_limit_k` over the feed-flow range.
        runaway_margin_k : float
            Margin below the ignition temperature for the default ``t_max_k``, K.
        min_conversion : float
            Conversion spec, fraction of A fed.
        coolant_bounds_k : (float, float)
            Jacket temperature range of the coolant supply, K.
        feed_flow_bounds : (float, float), optional
            Feed pump range, L/min; None keeps the feed flow at its set condition.
        """
        m = self._model("setup_optimization")
        if self.current is None:
            raise ConfigError("cstr: setup_optimization expected an initialized model, found none (call initialize())")
        self.prices = CSTRPrices.from_mapping(prices)
        if t_max_k is None:
            t_max_k = runaway_limit_k(
                replace(self.params, Caf=m.caf.value, Tf=m.tf.value, UA=m.ua.value, q=m.q.value),
                feed_flow_bounds,
                margin_k=runaway_margin_k,
            )
        self.limits = {
            "t_max_k": float(t_max_k),
            "min_conversion": float(min_conversion),
            "coolant_min_k": float(coolant_bounds_k[0]),
            "coolant_max_k": float(coolant_bounds_k[1]),
        }
        m.tc.unfix()
        m.tc.setlb(coolant_bounds_k[0])
        m.tc.setub(coolant_bounds_k[1])
        if feed_flow_bounds is not None:
            self.limits |= {"feed_flow_min_l_min": float(feed_flow_bounds[0]), "feed_flow_max_l_min": float(feed_flow_bounds[1])}
            m.q.unfix()
            m.q.setlb(feed_flow_bounds[0])
            m.q.setub(feed_flow_bounds[1])

        for name in ("runaway", "conversion_spec", "cooling_only", "profit"):
            if m.component(name) is not None:
                m.del_component(name)
        m.runaway = pyo.Constraint(expr=m.temp <= t_max_k)
        m.conversion_spec = pyo.Constraint(expr=m.conversion >= min_conversion)
        m.cooling_only = pyo.Constraint(expr=m.tc <= m.temp)
        perf = _performance(m.q, m.caf, m.ca, m.temp, m.tc, m.ua, self.prices)
        m.profit = pyo.Objective(expr=perf["profit_usd_h"], sense=pyo.maximize)

    def report(self) -> pd.DataFrame:
        """Current vs optimal operating point (rows ``current``, ``optimal``, ``change``).

        Columns: setpoints (``coolant_temp_k``, ``tc102_setpoint_k`` = reactor temperature,
        ``feed_flow_l_min``), states, rates and economics per hour, ``co2e_kg_per_mol`` of B.
        ``attrs`` holds the limits used, the prices and the solves (stage, termination, seconds).
        """
        if self.current is None or self.prices is None or not self.solves or self.solves[-1].stage != "cstr: solve":
            raise ConfigError("cstr: report expected a solved optimization, found none (run every stage first)")
        rows = {"current": self.current, "optimal": self._state()}
        table = pd.DataFrame(
            {case: {**state, **_performance(*self._inputs(state), self.prices)} for case, state in rows.items()}
        ).T
        table["tc102_setpoint_k"] = table["reactor_temp_k"]
        table["co2e_kg_per_mol"] = table["co2e_kg_h"] / table["production_mol_h"]
        table.loc["change"] = table.loc["optimal"] - table.loc["current"]
        table.index.name = "case"
        table.attrs = {
            "limits": dict(self.limits),
            "prices": {f.name: getattr(self.prices, f.name) for f in fields(self.prices)},
            "solves": [(s.stage, s.termination, s.wall_time_s) for s in self.solves],
        }
        return table

    # ------------------------------------------------------------------ helpers

    def _state(self) -> dict[str, float]:
        m = self.model
        state = {
            "coolant_temp_k": m.tc.value,
            "reactor_temp_k": m.temp.value,
            "feed_flow_l_min": m.q.value,
            "feed_conc_mol_l": m.caf.value,
            "ua_j_min_k": m.ua.value,
            "ca_mol_l": m.ca.value,
        }
        state = {k: float(v) for k, v in state.items()}
        return state | {"conversion": 1.0 - state["ca_mol_l"] / state["feed_conc_mol_l"]}

    @staticmethod
    def _inputs(state: Mapping[str, float]) -> tuple[float, ...]:
        return (
            state["feed_flow_l_min"],
            state["feed_conc_mol_l"],
            state["ca_mol_l"],
            state["reactor_temp_k"],
            state["coolant_temp_k"],
            state["ua_j_min_k"],
        )


# ---------------------------------------------------------------------- plant-optimizer interface
from optimization.plants import OperatingConditions, Setpoint, Solution  # noqa: E402

#: Decision variables (see :mod:`optimization.plants`).
SETPOINTS: dict[str, Setpoint] = {
    "coolant_temp_k": Setpoint("coolant_temp_k", "K", plant.DEFAULT_TUNING.out_min, plant.DEFAULT_TUNING.out_max,
                               "jacket (coolant) temperature; TC102 holds the reactor temperature it gives"),
    "tc102_setpoint_k": Setpoint("tc102_setpoint_k", "K", 300.0, 400.0,
                                 "reactor temperature set point of TC102: what the operator enters"),
}
#: Historian tag (gold canonical unit) and factor giving each setpoint's current value.
SETPOINT_TAGS: dict[str, tuple[str, float]] = {"coolant_temp_k": ("CSTR.TI103", 1.0),
                                               "tc102_setpoint_k": ("CSTR.TC102.SP", 1.0),
                                               "feed_flow_l_min": ("CSTR.FI101", 1.0),
                                               "feed_conc_mol_l": ("CSTR.AI101", 1.0),
                                               "feed_temp_k": ("CSTR.TI101", 1.0)}
#: Conditions the optimizer holds at their measured value (``conditions.current``; missing: the
#: design feed of :data:`models.cstr.DEFAULT`): the feed is the upstream plant's, not a decision.
HELD_CONDITIONS: tuple[str, ...] = ("feed_flow_l_min", "feed_conc_mol_l", "feed_temp_k")
#: Prices the objective needs. The pilot's A and B have no market series: the defaults below are
#: this project's assumptions (``DEFAULT_PRICES``), used when the market feed has no quote.
PRICE_ITEMS: dict[str, str] = {"cstr_product": "USD/mol", "cstr_feed": "USD/mol", "electricity": "USD/kWh"}
DEFAULT_PRICES: dict[str, float] = {"cstr_product": 0.40, "cstr_feed": 0.02}
#: Parameters calibration may update (fouling lowers UA; catalyst/feed activity moves k0).
CALIBRATED_PARAMETERS: tuple[str, ...] = ("UA", "k0")


def optimize(conditions: OperatingConditions, *, co2e_cap_kg_h: float | None = None,
             objective: str = "profit") -> Solution:
    """Optimal jacket temperature under ``conditions`` (the plant-optimizer interface).

    Carbon: the CSTR has no Scope 1; its CO2e is the chiller's electricity (Scope 2), whose carbon
    cost is in the electricity price, so ``carbon_price_usd_t`` does not enter the objective.
    """
    import time

    unknown = sorted(set(conditions.parameters) - set(CALIBRATED_PARAMETERS))
    if unknown:
        raise ValueError(f"cstr: unknown calibrated parameter(s) {unknown}; valid: {list(CALIBRATED_PARAMETERS)}")
    if objective not in ("profit", "co2e"):
        raise ValueError(f"objective must be 'profit' or 'co2e', got {objective!r}")
    t0 = time.perf_counter()
    params = replace(plant.DEFAULT, **{k: float(v) for k, v in conditions.parameters.items()})
    prices = {**DEFAULT_PRICES, **conditions.prices}
    flow = CSTROptimization(params)
    flow.build()
    held = {arg: float(conditions.current[name]) for name, arg in (("feed_flow_l_min", "feed_flow"),
                                                                    ("feed_conc_mol_l", "feed_conc"),
                                                                    ("feed_temp_k", "feed_temp_k"))
            if conditions.current.get(name) is not None}
    flow.set_conditions(coolant_temp_k=float(conditions.current.get("coolant_temp_k", 300.0)), **held)
    flow.initialize()
    flow.setup_optimization({"product_usd_mol": prices["cstr_product"], "feed_usd_mol": prices["cstr_feed"],
                             "electricity_usd_kwh": prices["electricity"], "carbon_usd_tco2e": 0.0,
                             "electricity_kgco2e_kwh": conditions.grid_kg_co2e_per_kwh})
    m = flow.model
    co2e = _performance(m.q, m.caf, m.ca, m.temp, m.tc, m.ua, flow.prices)["co2e_kg_h"]
    if co2e_cap_kg_h is not None:
        m.co2e_cap = pyo.Constraint(expr=co2e <= co2e_cap_kg_h)
    if objective == "co2e":
        m.profit.deactivate()
        m.min_co2e = pyo.Objective(expr=co2e, sense=pyo.minimize)
    solve = flow.solve()
    table = flow.report()
    cur, opt = table.loc["current"], table.loc["optimal"]
    limits = flow.limits
    active = [name for name, hit in (("runaway", abs(opt["reactor_temp_k"] - limits["t_max_k"]) < 1e-4),
                                     ("conversion_spec", abs(opt["conversion"] - limits["min_conversion"]) < 1e-6),
                                     ("co2e_cap", co2e_cap_kg_h is not None
                                      and abs(opt["co2e_kg_h"] - co2e_cap_kg_h) < 1e-6 * max(1.0, co2e_cap_kg_h)))
              if hit]
    keys = ("reactor_temp_k", "conversion", "production_mol_h", "cooling_duty_kw", "electricity_kw")
    return Solution(
        plant_id="cstr", objective=objective, co2e_cap_kg_h=co2e_cap_kg_h,
        setpoints={"coolant_temp_k": float(opt["coolant_temp_k"]), "tc102_setpoint_k": float(opt["reactor_temp_k"])},
        current_setpoints={"coolant_temp_k": float(cur["coolant_temp_k"]),
                           "tc102_setpoint_k": float(cur["reactor_temp_k"])},
        profit_usd_h=float(opt["profit_usd_h"]), co2e_kg_h=float(opt["co2e_kg_h"]),
        current_profit_usd_h=float(cur["profit_usd_h"]), current_co2e_kg_h=float(cur["co2e_kg_h"]),
        outputs={k: float(opt[k]) for k in keys}, current_outputs={k: float(cur[k]) for k in keys},
        active_constraints=active, termination=solve.termination, solve_seconds=time.perf_counter() - t0,
        model_version=conditions.model_version)
