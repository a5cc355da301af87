"""Steady-state setpoint optimization of the aluminium smelter potline section (:mod:`models.smelter`).

Physics: the twin's own equations
---------------------------------
The Pyomo model is the average cell of :func:`models._smelter_physics.steady_state`, written with
the *same functions* of :mod:`models._smelter_physics`, not copies of their equations: they are
plain arithmetic on numpy, and :data:`TWIN` is that module with its global ``np`` bound to a small
shim that passes Pyomo expressions to Pyomo's ``exp``/``log``/``sqrt``/``asinh`` and numbers to
numpy (:func:`port_to_pyomo`). Only what ``steady_state`` writes inline (assembling the heat
balance, the alumina and AlF3 rates, the wall's steady inner-face temperature) is repeated here,
with the twin's parameters and constants. Per cell, at line current I (kA), anode-cathode distance ACD (cm)
and bath temperature T (degC), with the bath chemistry, potroom air, cell age and anode-effect
minutes as conditions:

* voltage, V: :func:`~models._smelter_physics.cell_voltage_breakdown` (reversible potential with
  alumina activity, Butler-Volmer anode and cathode overvoltages, anode and cathode concentration
  overvoltages, bubble layer, bath ohmic drop ``j/fanning x (ACD - d_b)/kappa(T)``, anode,
  cathode and busbar drops), ~4.22 V at the design point;
* current efficiency: :func:`~models._smelter_physics.current_efficiency` (falls with T, rises
  with ACD, current density and excess AlF3), solved as an equation ``ce == CE(T, ACD, j)``;
* heat balance (the equation :func:`~models._smelter_physics.steady_state` finds T from)::

      I (V - V_ext - E_H(CE, T)) - anode heat = A_side q_side(T) + G_other (T - T_air)
      q_side = max(h (T - T_liq), q_floor)                  (ledge at its maximum below q_floor/h)

  and the quasi-steady ledge ``s = k_ledge (T_liq - T_wall)/q_side`` with the wall's inner face
  ``T_wall = T_air + q_side (R_wall + 1/h_air)`` (the exact steady solution of the twin's finite-
  volume wall, :meth:`~models._smelter_physics.WallModel.steady`);
* section (``n_cells`` in series): aluminium = Faraday x CE; DC power = V I n; electricity import
  = DC / rectifier efficiency + auxiliaries (the ``electricity_import`` activity stream, tag
  SMT.JI100); alumina, net anode carbon, process CO2 (IPCC 2006 Eq. 4.21), AlF3 as in
  ``steady_state``; CF4 and C2F6 by the IPCC Tier 2 slope method.

Anode effects: ``steady_state`` takes the anode-effect minutes per cell-day (AEM) as an input. The
twin's simulator starts spontaneous anode effects at a rate proportional to
``exp((c_AE(j) - c)/scale)``, where the anode-effect threshold ``c_AE`` rises linearly with the
current density j; the alumina cycle c is held by the feed control. So here
``AEM(j) = AEM_ref exp((c_AE(j) - c_AE(j_nom))/ae_alumina_scale_wt)``, anchored at ``aem`` (default
0.09, ``steady_state``'s) at the nominal current density: more line current means more anode
effects and PFCs per tonne.

Smoothing (stated, not hidden): the twin's ``maximum``/``minimum``/``clip`` become
``0.5 (a + b +- sqrt((a - b)**2 + eps**2))`` with ``eps = 1e-4 x max(1, |bound|)`` on Pyomo
expressions. Inside the operating window every one of them is far from its kink: the side-flux
switch sits at a superheat of q_floor/h = 3.2 K (below the 5 K band), the CE clip at 0.965 (CE
stays within 0.94-0.96), the ledge clip at 0 and 25 cm (2-15 cm here), the alumina-activity,
concentration-overvoltage and bubble-coverage clips far outside the 300-400 kA range. The
simulation stage reproduces ``steady_state`` within 5e-7 relative on every output (tested to
1e-5), the largest error being the CE clip's.

Decisions, limits and objective
-------------------------------
Decision variables (:data:`SETPOINTS`): the line current (rectifier range, assumption 300-400 kA:
the twin's power-contract grades and excursions span 310-370 kA, and lines are built with
amperage-creep headroom) and the ACD (the pot control's limits in
:class:`~models._smelter_physics.SmelterParams`, 3.0-6.5 cm: a low ACD costs current efficiency
and metal-pad stability, a high one voltage and heat). The operator enters the ACD as the pot-control
resistance target ``R = (V - 1.65 V)/I``, reported as ``resistance_target_uohm``. Bath chemistry is
a condition, not a decision: the steady-state twin has no cost of bath acidity (AlF3 consumption
there does not depend on the excess AlF3), so as a decision it would run to a bound.

Constraints (``setup_optimization``):

* superheat band :data:`SUPERHEAT_BAND_K` = 5-15 K. Too low: the bath freezes out on the ledge and
  cathode, alumina dissolves slowly (the twin halves its dissolution rate at a 3 K superheat) and
  sludge forms; too high: the protective side ledge melts back and current efficiency falls. The
  operating windows of prebake cells are discussed in Thonstad et al., *Aluminium Electrolysis*,
  3rd ed. 2001, and Tabereaux and Peterson, "Aluminum Production", *Treatise on Process
  Metallurgy* Vol. 3, Elsevier 2014; the numbers 5 and 15 K are this project's choice.
* side ledge at least :data:`LEDGE_MIN_CM` = 2 cm (assumption: keeps the SiC sidewall covered).
* emission limits in force (``conditions.limits``, hourly, see :data:`LIMIT_KEYS`), the
  epsilon-constraint ``co2e_kg_h <= co2e_cap_kg_h``.

Objective (:mod:`optimization.plants` conventions), USD/h: aluminium revenue - alumina, anode
carbon, AlF3 and electricity purchases - carbon price x Scope 1 CO2e; ``co2e_kg_h`` = Scope 1
(anode CO2 + CF4 and C2F6 x GWP100) + Scope 2 (electricity import x location-based grid factor).

Example
-------
>>> from optimization.plants import OperatingConditions
>>> conditions = OperatingConditions("smelter", prices=EXAMPLE_PRICES, carbon_price_usd_t=82.5,
...                                  grid_kg_co2e_per_kwh=0.011)
>>> solution = optimize(conditions)
>>> solution.termination, round(solution.current_outputs["specific_energy_kwh_kg"], 2)
('optimal', 13.29)
>>> solution.profit_usd_h > solution.current_profit_usd_h
True
"""

from __future__ import annotations

import math
import numbers
import time
import types
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from scipy.optimize import brentq

from models import _smelter_physics as physics
from models import smelter as plant
from nexus.errors import ConfigError
from optimization.flow import StagedFlow
from optimization.plants import OperatingConditions, Setpoint, Solution
from optimization.solvers import SolveReport

__all__ = [
    "CALIBRATED_PARAMETERS",
    "DEFAULT_GWP100",
    "EXAMPLE_PRICES",
    "LEDGE_MIN_CM",
    "LIMIT_KEYS",
    "LINE_CURRENT_BOUNDS_KA",
    "OUTPUT_KEYS",
    "PRICE_ITEMS",
    "SETPOINTS",
    "SETPOINT_TAGS",
    "SUPERHEAT_BAND_K",
    "TWIN",
    "SmelterEconomics",
    "SmelterOptimization",
    "calibrated_params",
    "optimize",
    "port_to_pyomo",
]

P = physics.DEFAULT
#: Rectifier range of the line current, kA (assumption, see the module docstring).
LINE_CURRENT_BOUNDS_KA: tuple[float, float] = (300.0, 400.0)
#: Operating band of the bath superheat, K (sources in the module docstring).
SUPERHEAT_BAND_K: tuple[float, float] = (5.0, 15.0)
#: Thinnest acceptable side ledge, cm (assumption).
LEDGE_MIN_CM: float = 2.0
#: GWP100 used when ``conditions.gwp100`` lacks a gas: IPCC AR6 WG1 Table 7.SM.7.
DEFAULT_GWP100: dict[str, float] = {"cf4": 7380.0, "c2f6": 12400.0}

#: Decision variables (see :mod:`optimization.plants`).
SETPOINTS: dict[str, Setpoint] = {
    "line_current_ka": Setpoint("line_current_ka", "kA", *LINE_CURRENT_BOUNDS_KA,
                                "potline current (rectifier set point SMT.IC101.SP)"),
    "acd_cm": Setpoint("acd_cm", "cm", P.acd_min_cm, P.acd_max_cm,
                       "anode-cathode distance; the pot control holds it through its resistance target"),
}
#: Historian tag (and factor to the setpoint's unit) whose daily mean is the current setpoint
#: (read by :func:`optimization.pipeline.current_setpoints`).
SETPOINT_TAGS: dict[str, tuple[str, float]] = {"line_current_ka": ("SMT.II101", 1.0), "acd_cm": ("SMT.ZY103", 1.0)}
#: Market items the objective prices, with the unit the price must be in. Keys are the activity
#: items of :data:`models.smelter.ACTIVITY` and :data:`models.market.SERIES`.
PRICE_ITEMS: dict[str, str] = {
    "aluminium": "USD/kg",  # metal sold (LME cash, lme.aluminium, quoted in USD/t)
    "alumina": "USD/kg",  # smelter-grade alumina bought (lme.alumina, USD/t)
    "anode_carbon": "USD/kg",  # prebaked anodes, net consumption (chem.prebaked_anode, USD/t)
    "aluminium_fluoride": "USD/kg",  # AlF3 additions (chem.aluminium_fluoride, USD/t)
    "electricity": "USD/kWh",  # AC import incl. auxiliaries (nordpool.power_no2_da, EUR/MWh)
}
#: Prices at the reference levels of :data:`models.market.SERIES` in the units of PRICE_ITEMS:
#: 2300, 380, 550 and 1300 USD/t; NO2 power 50 EUR/MWh x 1.10 USD/EUR (ecb.usd_per_eur).
EXAMPLE_PRICES: dict[str, float] = {
    "aluminium": 2.30, "alumina": 0.38, "anode_carbon": 0.55, "aluminium_fluoride": 1.30, "electricity": 0.055,
}
#: Parameters of :class:`~models._smelter_physics.SmelterParams` calibration may update: the heat-
#: loss coefficients (bath-to-ledge transfer; top and bottom conductances, which drift with cell
#: age and cover practice) and the current-efficiency level.
CALIBRATED_PARAMETERS: tuple[str, ...] = ("ce_ref", "h_bath_ledge_w_m2k", "g_top_kw_k", "g_bottom_kw_k")
#: Emission limits the model can enforce (keys of ``conditions.limits``, kg/h).
LIMIT_KEYS: tuple[str, ...] = ("cf4_kg_h", "c2f6_kg_h", "co2_kg_h", "co2e_scope1_kg_h")

_SMOOTHING = 1e-4
_ACTIVE_RTOL = 1e-6
_RATES = ("aluminium_t_h", "alumina_t_h", "anode_t_h", "alf3_kg_h", "electricity_kw", "co2_t_h", "cf4_kg_h",
          "c2f6_kg_h")


# ---------------------------------------------------------------------- the twin, ported to Pyomo


def _is_expression(x: Any) -> bool:
    return not isinstance(x, (numbers.Number, np.ndarray, np.generic))


def _smoothing(a: Any, b: Any) -> float:
    """eps of the smooth max/min: 1e-4 x the magnitude of the bound (the numeric operand)."""
    bound = b if not _is_expression(b) else a if not _is_expression(a) else b
    value = pyo.value(bound, exception=False) if _is_expression(bound) else float(np.max(np.abs(bound)))
    return _SMOOTHING * max(1.0, abs(value)) if value is not None else _SMOOTHING


def _smooth_max(a: Any, b: Any) -> Any:
    eps = _smoothing(a, b)
    return 0.5 * (a + b + pyo.sqrt((a - b) ** 2 + eps**2))


def _smooth_min(a: Any, b: Any) -> Any:
    eps = _smoothing(a, b)
    return 0.5 * (a + b - pyo.sqrt((a - b) ** 2 + eps**2))


class _PyomoNumpy:
    """``numpy`` as :mod:`models._smelter_physics` uses it, extended to Pyomo expressions.

    Numbers and arrays go to numpy unchanged; a Pyomo expression goes to Pyomo's intrinsic
    functions, and ``maximum``/``minimum``/``clip`` to their smooth versions. Any other numpy
    function refuses Pyomo arguments (a twin equation that needs it must be ported here first).
    """

    _PYOMO: ClassVar[dict[str, Any]] = {
        "exp": pyo.exp,
        "log": pyo.log,
        "sqrt": pyo.sqrt,
        "arcsinh": pyo.asinh,
        "log1p": lambda x: pyo.log(1.0 + x),
        "maximum": _smooth_max,
        "minimum": _smooth_min,
        "clip": lambda x, lo, hi: _smooth_min(_smooth_max(x, lo), hi),
    }

    @staticmethod
    def asarray(x: Any, dtype: Any = None) -> Any:
        return x if _is_expression(x) else np.asarray(x, dtype=dtype)

    def __getattr__(self, name: str) -> Any:
        numpy_fn = getattr(np, name)
        pyomo_fn = self._PYOMO.get(name)
        if not callable(numpy_fn):
            return numpy_fn

        def fn(*args: Any, **kwargs: Any) -> Any:
            if not any(_is_expression(a) for a in args):
                return numpy_fn(*args, **kwargs)
            if pyomo_fn is None or kwargs:
                raise TypeError(f"port_to_pyomo: np.{name} on a Pyomo expression is not supported; "
                                f"supported: asarray, {', '.join(sorted(self._PYOMO))}")
            return pyomo_fn(*args)

        return fn


def port_to_pyomo(module: types.ModuleType) -> types.SimpleNamespace:
    """The functions of a numpy physics module, evaluated on Pyomo expressions.

    Every function defined in ``module`` is re-created with the same code but with module globals
    in which ``np`` is :class:`_PyomoNumpy`, so calls between them stay inside the port. Constants,
    dataclasses and everything else are the module's own objects.
    """
    namespace = dict(vars(module))
    namespace["np"] = _PyomoNumpy()
    for name, obj in vars(module).items():
        if isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__:
            fn = types.FunctionType(obj.__code__, namespace, name, obj.__defaults__, obj.__closure__)
            fn.__kwdefaults__ = obj.__kwdefaults__
            fn.__doc__ = obj.__doc__
            namespace[name] = fn
    return types.SimpleNamespace(**namespace)


#: :mod:`models._smelter_physics` with Pyomo-capable functions (see :func:`port_to_pyomo`).
TWIN = port_to_pyomo(physics)


# ---------------------------------------------------------------------- conditions


def calibrated_params(values: Mapping[str, float], base: physics.SmelterParams = P) -> physics.SmelterParams:
    """``base`` with the calibrated parameters in ``values``; unknown names raise ValueError."""
    unknown = sorted(set(values) - set(CALIBRATED_PARAMETERS))
    if unknown:
        raise ValueError(f"smelter: expected calibrated parameters among {list(CALIBRATED_PARAMETERS)}, "
                         f"found unknown {unknown}")
    for name, value in values.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"smelter: calibrated parameter {name} must be a finite number > 0, found {value!r}")
    return replace(base, **{k: float(v) for k, v in values.items()})


@dataclass(frozen=True)
class SmelterEconomics:
    """Prices, carbon price and emission factors of one optimization (validated when built).

    Attributes
    ----------
    aluminium_usd_kg, alumina_usd_kg, anode_carbon_usd_kg, aluminium_fluoride_usd_kg : float
        Prices of the :data:`PRICE_ITEMS`, USD/kg.
    electricity_usd_kwh : float
        Electricity price, USD/kWh (may be negative).
    carbon_usd_t : float
        Cost of a tonne of Scope 1 CO2e, USD/t.
    grid_kg_co2e_per_kwh : float
        Location-based grid emission factor, kg CO2e/kWh.
    gwp_cf4, gwp_c2f6 : float
        GWP100 of CF4 and C2F6.
    """

    aluminium_usd_kg: float
    alumina_usd_kg: float
    anode_carbon_usd_kg: float
    aluminium_fluoride_usd_kg: float
    electricity_usd_kwh: float
    carbon_usd_t: float = 0.0
    grid_kg_co2e_per_kwh: float = 0.0
    gwp_cf4: float = DEFAULT_GWP100["cf4"]
    gwp_c2f6: float = DEFAULT_GWP100["c2f6"]

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            # day-ahead power can trade below zero; nothing else can
            low = -math.inf if f.name == "electricity_usd_kwh" else 0.0
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
                raise ValueError(f"smelter: {f.name} must be a finite number >= {low}, found {value!r}")

    @classmethod
    def from_conditions(cls, conditions: OperatingConditions) -> SmelterEconomics:
        """From the prices (:data:`PRICE_ITEMS` keys), carbon price, grid factor and GWPs in force."""
        missing = [k for k in PRICE_ITEMS if k not in conditions.prices]
        if missing:
            raise ValueError(f"smelter: expected prices for {list(PRICE_ITEMS)} (units {PRICE_ITEMS}), "
                             f"found missing {missing}")
        gwp = {**DEFAULT_GWP100, **{k: v for k, v in conditions.gwp100.items() if k in DEFAULT_GWP100}}
        return cls(
            aluminium_usd_kg=conditions.prices["aluminium"],
            alumina_usd_kg=conditions.prices["alumina"],
            anode_carbon_usd_kg=conditions.prices["anode_carbon"],
            aluminium_fluoride_usd_kg=conditions.prices["aluminium_fluoride"],
            electricity_usd_kwh=conditions.prices["electricity"],
            carbon_usd_t=conditions.carbon_price_usd_t,
            grid_kg_co2e_per_kwh=conditions.grid_kg_co2e_per_kwh,
            gwp_cf4=gwp["cf4"],
            gwp_c2f6=gwp["c2f6"],
        )


def _economics(rates: Mapping[str, Any], e: SmelterEconomics) -> dict[str, Any]:
    """Emissions and money per hour; works on floats and on Pyomo expressions alike (one formula)."""
    scope1 = 1000.0 * rates["co2_t_h"] + e.gwp_cf4 * rates["cf4_kg_h"] + e.gwp_c2f6 * rates["c2f6_kg_h"]
    scope2 = e.grid_kg_co2e_per_kwh * rates["electricity_kw"]
    out = {
        "co2e_scope1_kg_h": scope1,
        "co2e_scope2_kg_h": scope2,
        "co2e_kg_h": scope1 + scope2,
        "revenue_usd_h": 1000.0 * e.aluminium_usd_kg * rates["aluminium_t_h"],
        "alumina_cost_usd_h": 1000.0 * e.alumina_usd_kg * rates["alumina_t_h"],
        "anode_cost_usd_h": 1000.0 * e.anode_carbon_usd_kg * rates["anode_t_h"],
        "alf3_cost_usd_h": e.aluminium_fluoride_usd_kg * rates["alf3_kg_h"],
        "electricity_cost_usd_h": e.electricity_usd_kwh * rates["electricity_kw"],
        "carbon_cost_usd_h": e.carbon_usd_t / 1000.0 * scope1,
    }
    out["profit_usd_h"] = out["revenue_usd_h"] - sum(
        out[k] for k in ("alumina_cost_usd_h", "anode_cost_usd_h", "alf3_cost_usd_h", "electricity_cost_usd_h",
                         "carbon_cost_usd_h"))
    return out


# ---------------------------------------------------------------------- staged flow


class SmelterOptimization(StagedFlow):
    """Staged profit (or CO2e) optimization of the potline's line current and ACD.

    Parameters
    ----------
    params : models._smelter_physics.SmelterParams
        Cell and section parameters (calibrated ones included, see :func:`calibrated_params`).

    Stages
    ------
    ``build()``; ``set_conditions(line_current_ka=350, acd_cm=None, ...)`` (ACD default: where the
    twin's pot control puts it, i.e. ``steady_state(line_current_ka).acd_cm`` with the amperage-
    resistance table); ``initialize()`` (square solve: T and CE); ``setup_optimization(economics,
    ...)``; ``solve()``; ``report()``.
    """

    name: ClassVar[str] = "smelter"

    def __init__(self, params: physics.SmelterParams = P) -> None:
        super().__init__()
        self.params = params
        self.economics: SmelterEconomics | None = None
        self.limits: dict[str, float] = {}
        self.current: dict[str, float] | None = None
        self.objective: str | None = None
        self._constraints: dict[str, tuple[Any, str]] = {}

    # ------------------------------------------------------------------ stages

    def build(self) -> pyo.ConcreteModel:
        """Average-cell steady state and section rates; conditions are mutable parameters."""
        p = self.params
        tw = TWIN
        m = pyo.ConcreteModel(name="smelter_setpoints")
        # Conditions (set_conditions binds them).
        m.alf3_wt = pyo.Param(initialize=p.alf3_target_wt, mutable=True, doc="excess AlF3, wt %")
        m.al2o3_wt = pyo.Param(initialize=0.5 * (p.alumina_low_wt + p.alumina_high_wt), mutable=True,
                               doc="dissolved alumina, cycle mean, wt %")
        m.air_temp_c = pyo.Param(initialize=30.0, mutable=True, doc="potroom air, degC")
        m.cell_age_d = pyo.Param(initialize=730.0, mutable=True, doc="cell age, d")
        m.wall_resistance = pyo.Param(initialize=physics.WallModel.build(p, 730.0, 900.0).resistance, mutable=True,
                                      doc="SiC block + shell conduction resistance, m**2 K/W")
        m.aem_ref = pyo.Param(initialize=0.09, mutable=True, doc="AE-min per cell-day at the nominal current density")
        # Setpoints and states.
        m.line_current_ka = pyo.Var(bounds=(1.0, 1000.0), initialize=p.nominal_current_ka, doc="line current, kA")
        m.acd_cm = pyo.Var(bounds=(p.acd_min_cm, p.acd_max_cm), initialize=p.ce_acd_ref_cm, doc="ACD, cm")
        m.temp_c = pyo.Var(bounds=(600.0, 1200.0), initialize=p.ce_t_ref_c, doc="bath temperature, degC")
        m.ce = pyo.Var(bounds=(0.5, 1.0), initialize=p.ce_ref, doc="current efficiency")

        cur, temp = m.line_current_ka, m.temp_c
        bd = tw.cell_voltage_breakdown(cur, m.acd_cm, temp, m.al2o3_wt, m.alf3_wt, p, cell_age_d=m.cell_age_d)
        m.voltage_v = pyo.Expression(physics.VoltageBreakdown.COMPONENTS, rule=lambda _, c: getattr(bd, c),
                                     doc="cell voltage components, V")
        m.cell_voltage_v = pyo.Expression(expr=sum(m.voltage_v[c] for c in physics.VoltageBreakdown.COMPONENTS))
        m.current_density = pyo.Expression(expr=bd.current_density, doc="anode current density, A/cm**2")
        m.liquidus_c = pyo.Expression(expr=tw.liquidus_temperature(m.alf3_wt, p.caf2_wt, m.al2o3_wt))
        # A variable, not an expression: IPOPT relaxes an inequality by 1e-8 x its bound, and the
        # bound of "T - T_liq >= 5" as written for the solver is 5 + T_liq ~ 961 K (1e-5 K).
        m.superheat_k = pyo.Var(bounds=(-400.0, 250.0), initialize=8.5, doc="bath superheat, K")
        m.superheat_eq = pyo.Constraint(expr=m.superheat_k == temp - m.liquidus_c)

        # Current efficiency: the twin's correlation as an equation.
        m.ce_correlation = pyo.Expression(expr=tw.current_efficiency(temp, m.alf3_wt, m.acd_cm, m.current_density, p))
        m.ce_eq = pyo.Constraint(expr=m.ce == m.ce_correlation)

        # Heat balance of steady_state, side flux and quasi-steady ledge.
        q_floor = tw.heat_loss_floor_flux(m.liquidus_c, m.air_temp_c, m.wall_resistance, p)
        m.side_flux_w_m2 = pyo.Expression(expr=tw.side_flux(temp, m.liquidus_c, q_floor, p))
        m.heat_generated_kw = pyo.Expression(
            expr=cur * (m.cell_voltage_v - m.voltage_v["external"] - tw.enthalpy_voltage(m.ce, temp, p))
            - p.anode_heat_kw,
            doc="heat generated per cell, net of the anode-setting heat sink, kW")
        m.heat_loss_kw = pyo.Expression(
            expr=p.side_area_m2 * m.side_flux_w_m2 / 1000.0 + tw._other_loss_kw_k(m.cell_age_d, p) * (temp - m.air_temp_c),
            doc="heat lost per cell through sidewall, top and bottom, kW")
        m.heat_balance = pyo.Constraint(expr=m.heat_generated_kw == m.heat_loss_kw)
        wall_face = m.air_temp_c + m.side_flux_w_m2 * (m.wall_resistance + 1.0 / p.h_air_w_m2k)
        m.ledge_cm = pyo.Expression(expr=100.0 * tw.ledge_thickness_m(m.side_flux_w_m2, m.liquidus_c, wall_face, p))
        m.shell_temp_c = pyo.Expression(expr=m.air_temp_c + m.side_flux_w_m2 / p.h_air_w_m2k)

        # Section rates (steady_state's formulas; activity streams of models.smelter).
        n = p.n_cells
        m.aluminium_t_h = pyo.Expression(expr=tw.faraday_aluminium_kg_h(cur, m.ce) * n / 1000.0)
        m.power_dc_kw = pyo.Expression(expr=m.cell_voltage_v * cur * n)
        m.electricity_kw = pyo.Expression(expr=m.power_dc_kw / p.rectifier_efficiency + p.auxiliary_kw,
                                          doc="AC import of section + auxiliaries (SMT.JI100), kW")
        m.specific_energy_kwh_kg = pyo.Expression(expr=tw.specific_energy_kwh_per_kg(m.cell_voltage_v, m.ce))
        anode_t_per_t = tw.carbon_consumption_t_per_t(m.ce, p) / (1.0 - (p.anode_sulfur_wt + p.anode_ash_wt) / 100.0)
        m.anode_t_h = pyo.Expression(expr=anode_t_per_t * m.aluminium_t_h)
        m.co2_t_h = pyo.Expression(expr=tw.process_co2_t_per_t(anode_t_per_t, p) * m.aluminium_t_h)
        m.alumina_t_h = pyo.Expression(
            expr=m.aluminium_t_h * physics.M_AL2O3 / (2 * physics.M_AL) / (1.0 - p.alumina_loss_frac))
        na2o_kg_h = m.alumina_t_h * 1000.0 * p.na2o_wt / 100.0
        m.alf3_kg_h = pyo.Expression(
            expr=m.aluminium_t_h * p.fluoride_loss_kg_alf3_per_t + na2o_kg_h * 2 * physics.M_ALF3 / (3 * physics.M_NA2O))
        j_nom = p.nominal_current_ka * 1000.0 / p.anode_area_cm2
        m.aem = pyo.Expression(
            expr=m.aem_ref * pyo.exp((tw.anode_effect_threshold_wt(m.current_density, p)
                                      - tw.anode_effect_threshold_wt(j_nom, p)) / p.ae_alumina_scale_wt),
            doc="anode-effect minutes per cell-day")
        cf4, c2f6 = tw.pfc_slope_method(m.aem, m.aluminium_t_h, p)
        m.cf4_kg_h = pyo.Expression(expr=cf4)
        m.c2f6_kg_h = pyo.Expression(expr=c2f6)
        self.model = m
        return m

    def set_conditions(
        self,
        *,
        line_current_ka: float | None = None,
        acd_cm: float | None = None,
        alf3_wt: float | None = None,
        al2o3_wt: float | None = None,
        air_temp_c: float = 30.0,
        cell_age_d: float = 730.0,
        aem: float = 0.09,
    ) -> None:
        """Fix the operating point: setpoints and the conditions ``steady_state`` takes.

        Parameters
        ----------
        line_current_ka : float, optional
            Line current, kA; default the nominal current.
        acd_cm : float, optional
            ACD, cm; default where the twin's pot control holds it at this current (amperage-
            resistance table, :func:`~models._smelter_physics.steady_state`).
        alf3_wt, al2o3_wt : float, optional
            Excess AlF3 and mean dissolved alumina, wt %; default the targets (12, 2.8).
        air_temp_c, cell_age_d, aem : float
            Potroom air (degC), cell age (d), anode-effect minutes per cell-day at the nominal
            current density; defaults as in ``steady_state``.

        A current point may lie outside the superheat band, even below the liquidus (a day
        with an outage, averaged); it is simulated with the same equations (ledge at its
        maximum, no latent-heat buffer at steady state) and only serves as the starting point
        and the comparison.
        """
        m = self._model("set_conditions")
        p = self.params
        cur = float(p.nominal_current_ka if line_current_ka is None else line_current_ka)
        alf3 = float(p.alf3_target_wt if alf3_wt is None else alf3_wt)
        al2o3 = float(0.5 * (p.alumina_low_wt + p.alumina_high_wt) if al2o3_wt is None else al2o3_wt)
        if acd_cm is None:
            acd_cm = physics.steady_state(cur, p, alf3_wt=alf3, al2o3_wt=al2o3, air_temp_c=air_temp_c,
                                          cell_age_d=cell_age_d, aem=aem).acd_cm
        m.alf3_wt.set_value(alf3)
        m.al2o3_wt.set_value(al2o3)
        m.air_temp_c.set_value(float(air_temp_c))
        m.cell_age_d.set_value(float(cell_age_d))
        m.wall_resistance.set_value(physics.WallModel.build(p, float(cell_age_d), 900.0).resistance)
        m.aem_ref.set_value(float(aem))
        m.line_current_ka.fix(cur)
        m.acd_cm.fix(float(acd_cm))

    def initial_guess(self) -> None:
        """Start the square solve at the root of the model's own heat balance in T (Brent's method).

        Like ``steady_state``: with I and ACD fixed, CE follows from T, so the heat balance is one
        equation in T, monotone (the side loss rises steeply above the liquidus). A Newton method
        started above the liquidus overshoots when the point is frozen (the loss slope drops from
        ~22 to ~0.55 kW/K there), so IPOPT starts from the bracketed root instead.
        """
        m = self.model
        liquidus = pyo.value(m.liquidus_c)

        def residual(temp_c: float) -> float:
            m.temp_c.set_value(temp_c)
            m.ce.set_value(pyo.value(m.ce_correlation))
            return pyo.value(m.heat_generated_kw - m.heat_loss_kw)

        low, high = m.temp_c.bounds
        temp = brentq(residual, low, high, xtol=1e-6) if residual(low) > 0 > residual(high) else liquidus + 8.5
        residual(temp)
        m.superheat_k.set_value(temp - liquidus)


    def setup_optimization(
        self,
        economics: SmelterEconomics,
        *,
        limits: Mapping[str, float] | None = None,
        co2e_cap_kg_h: float | None = None,
        objective: str = "profit",
        current_bounds_ka: tuple[float, float] = LINE_CURRENT_BOUNDS_KA,
        acd_bounds_cm: tuple[float, float] | None = None,
        superheat_band_k: tuple[float, float] = SUPERHEAT_BAND_K,
        ledge_min_cm: float = LEDGE_MIN_CM,
    ) -> None:
        """Free line current and ACD within bounds; add the operating limits and the objective.

        Parameters
        ----------
        economics : SmelterEconomics
            Prices, carbon price, grid factor and GWPs.
        limits : mapping, optional
            Emission limits in force, kg/h, keys among :data:`LIMIT_KEYS`.
        co2e_cap_kg_h : float, optional
            Epsilon-constraint on Scope 1 + 2 CO2e, kg/h.
        objective : {"profit", "co2e"}
            Maximise profit or minimise CO2e.
        current_bounds_ka, acd_bounds_cm : (float, float)
            Rectifier range and ACD range (default: the pot control's, from the parameters).
        superheat_band_k : (float, float)
            Allowed bath superheat, K.
        ledge_min_cm : float
            Thinnest acceptable side ledge, cm.
        """
        m = self._model("setup_optimization")
        if self.current is None:
            raise ConfigError("smelter: setup_optimization expected an initialized model, found none "
                              "(call initialize())")
        if objective not in ("profit", "co2e"):
            raise ValueError(f"smelter: objective must be 'profit' or 'co2e', found {objective!r}")
        limits = dict(limits or {})
        unknown = sorted(set(limits) - set(LIMIT_KEYS))
        if unknown:
            raise ValueError(f"smelter: expected emission limits among {list(LIMIT_KEYS)}, found unknown {unknown}")
        acd_bounds_cm = (self.params.acd_min_cm, self.params.acd_max_cm) if acd_bounds_cm is None else acd_bounds_cm
        self.economics = economics
        self.limits = {
            "line_current_min_ka": float(current_bounds_ka[0]), "line_current_max_ka": float(current_bounds_ka[1]),
            "acd_min_cm": float(acd_bounds_cm[0]), "acd_max_cm": float(acd_bounds_cm[1]),
            "superheat_min_k": float(superheat_band_k[0]), "superheat_max_k": float(superheat_band_k[1]),
            "ledge_min_cm": float(ledge_min_cm),
            **{k: float(v) for k, v in limits.items()},
        }
        if co2e_cap_kg_h is not None:
            self.limits["co2e_cap_kg_h"] = float(co2e_cap_kg_h)
        m.line_current_ka.unfix()
        m.line_current_ka.setlb(current_bounds_ka[0])
        m.line_current_ka.setub(current_bounds_ka[1])
        m.acd_cm.unfix()
        m.acd_cm.setlb(acd_bounds_cm[0])
        m.acd_cm.setub(acd_bounds_cm[1])

        for name in ("economics", "operating_limits", "profit", "min_co2e"):
            if m.component(name) is not None:
                m.del_component(name)
        econ = _economics({k: getattr(m, k) for k in _RATES}, economics)
        m.economics = pyo.Expression(list(econ), rule=lambda _, k: econ[k])
        bodies = {
            "superheat_min_k": (m.superheat_k, ">="),
            "superheat_max_k": (m.superheat_k, "<="),
            "ledge_min_cm": (m.ledge_cm, ">="),
            "cf4_kg_h": (m.cf4_kg_h, "<="),
            "c2f6_kg_h": (m.c2f6_kg_h, "<="),
            "co2_kg_h": (1000.0 * m.co2_t_h, "<="),
            "co2e_scope1_kg_h": (m.economics["co2e_scope1_kg_h"], "<="),
            "co2e_cap_kg_h": (m.economics["co2e_kg_h"], "<="),
        }
        self._constraints = {k: bodies[k] for k in bodies if k in self.limits}
        m.operating_limits = pyo.Constraint(
            list(self._constraints),
            rule=lambda _, k: (self._constraints[k][0] >= self.limits[k]) if self._constraints[k][1] == ">="
            else (self._constraints[k][0] <= self.limits[k]))
        if objective == "profit":
            m.profit = pyo.Objective(expr=m.economics["profit_usd_h"], sense=pyo.maximize)
        else:
            m.min_co2e = pyo.Objective(expr=m.economics["co2e_kg_h"], sense=pyo.minimize)
        self.objective = objective

    def report(self) -> pd.DataFrame:
        """Current vs optimal operating point (rows ``current``, ``optimal``, ``change``).

        Columns: setpoints (``line_current_ka``, ``acd_cm``, ``resistance_target_uohm``), cell
        states (temperatures, superheat, ledge, CE, voltage and its components), section rates
        and economics per hour, ``co2e_kg_per_t_al``. ``attrs`` holds the limits, the economics,
        the active constraints and the solves (stage, termination, seconds).
        """
        if (self.current is None or self.economics is None or not self.solves
                or self.solves[-1].stage != "smelter: solve"):
            raise ConfigError("smelter: report expected a solved optimization, found none (run every stage first)")
        rows = {"current": self.current, "optimal": self._state()}
        table = pd.DataFrame({case: {**s, **_economics(s, self.economics)} for case, s in rows.items()}).T
        table["co2e_kg_per_t_al"] = table["co2e_kg_h"] / table["aluminium_t_h"]
        table.loc["change"] = table.loc["optimal"] - table.loc["current"]
        table.index.name = "case"
        table.attrs = {
            "limits": dict(self.limits),
            "economics": {f.name: getattr(self.economics, f.name) for f in fields(self.economics)},
            "active_constraints": self.active_constraints(),
            "solves": [(s.stage, s.termination, s.wall_time_s) for s in self.solves],
        }
        return table

    # ------------------------------------------------------------------ helpers

    def active_constraints(self) -> list[str]:
        """Limits at their bound at the current solution (within 1e-6 relative)."""
        m = self._model("active_constraints")
        active = []

        def at(value: float, bound: float) -> bool:
            return abs(value - bound) <= _ACTIVE_RTOL * max(1.0, abs(bound))

        for var, low, high in ((m.line_current_ka, "line_current_min_ka", "line_current_max_ka"),
                               (m.acd_cm, "acd_min_cm", "acd_max_cm")):
            if not var.fixed:
                active += [k for k, b in ((low, var.lb), (high, var.ub)) if at(var.value, b)]
        for key, (body, _) in self._constraints.items():
            if at(pyo.value(body), self.limits[key]):
                active.append(key)
        return active

    def _state(self) -> dict[str, float]:
        m = self.model
        p = self.params
        state = {
            "line_current_ka": m.line_current_ka.value,
            "acd_cm": m.acd_cm.value,
            "resistance_target_uohm": (pyo.value(m.cell_voltage_v) - p.back_emf_v) / m.line_current_ka.value * 1e3,
            "current_density_a_cm2": pyo.value(m.current_density),
            "bath_temp_c": m.temp_c.value,
            "liquidus_c": pyo.value(m.liquidus_c),
            "superheat_k": m.superheat_k.value,
            "ledge_cm": pyo.value(m.ledge_cm),
            "shell_temp_c": pyo.value(m.shell_temp_c),
            "side_loss_kw": p.side_area_m2 * pyo.value(m.side_flux_w_m2) / 1000.0,
            "heat_loss_kw": pyo.value(m.heat_loss_kw),
            "current_efficiency": m.ce.value,
            "cell_voltage_v": pyo.value(m.cell_voltage_v),
            **{f"{c}_v": pyo.value(m.voltage_v[c]) for c in physics.VoltageBreakdown.COMPONENTS},
            "specific_energy_kwh_kg": pyo.value(m.specific_energy_kwh_kg),
            "power_dc_kw": pyo.value(m.power_dc_kw),
            "aem": pyo.value(m.aem),
            **{k: pyo.value(getattr(m, k)) for k in _RATES},
        }
        return {k: float(v) for k, v in state.items()}


# ---------------------------------------------------------------------- plant-optimizer interface

#: Outputs reported in :class:`~optimization.plants.Solution`.
OUTPUT_KEYS: tuple[str, ...] = (
    "aluminium_t_h", "current_efficiency", "cell_voltage_v", "specific_energy_kwh_kg", "bath_temp_c", "liquidus_c",
    "superheat_k", "ledge_cm", "electricity_kw", "alumina_t_h", "anode_t_h", "alf3_kg_h", "co2_t_h", "aem",
    "cf4_kg_h", "c2f6_kg_h", "co2e_scope1_kg_h", "co2e_scope2_kg_h", "co2e_kg_per_t_al",
)


def optimize(conditions: OperatingConditions, *, co2e_cap_kg_h: float | None = None,
             objective: str = "profit") -> Solution:
    """Optimal line current and ACD under ``conditions`` (the plant-optimizer interface).

    ``conditions.current`` may hold ``line_current_ka`` and ``acd_cm`` (empty: the design point,
    350 kA with the ACD of the amperage-resistance table); ``conditions.parameters`` the
    :data:`CALIBRATED_PARAMETERS`; ``conditions.limits`` keys of :data:`LIMIT_KEYS`. Raises
    ValueError on unknown names, :class:`~nexus.errors.InfeasibleOptimization` with the solver's
    message when no optimal point exists.
    """
    t0 = time.perf_counter()
    if conditions.plant_id != plant.PLANT_ID:
        raise ValueError(f"smelter: expected conditions for plant {plant.PLANT_ID!r}, found {conditions.plant_id!r}")
    unknown = sorted(set(conditions.current) - set(SETPOINTS))
    if unknown:
        raise ValueError(f"smelter: expected current setpoints among {list(SETPOINTS)}, found unknown {unknown}")
    if co2e_cap_kg_h is not None and not (math.isfinite(co2e_cap_kg_h) and co2e_cap_kg_h >= 0):
        raise ValueError(f"smelter: co2e_cap_kg_h must be a finite number >= 0 or None, found {co2e_cap_kg_h!r}")
    flow = SmelterOptimization(calibrated_params(conditions.parameters))
    economics = SmelterEconomics.from_conditions(conditions)
    flow.build()
    flow.set_conditions(line_current_ka=conditions.current.get("line_current_ka"),
                        acd_cm=conditions.current.get("acd_cm"))
    flow.initialize()
    flow.setup_optimization(economics, limits=conditions.limits, co2e_cap_kg_h=co2e_cap_kg_h, objective=objective)
    solve = flow.solve()
    table = flow.report()
    cur, opt = table.loc["current"], table.loc["optimal"]
    keys = ("line_current_ka", "acd_cm", "resistance_target_uohm")
    return Solution(
        plant_id=plant.PLANT_ID, objective=objective, co2e_cap_kg_h=co2e_cap_kg_h,
        setpoints={k: float(opt[k]) for k in keys}, current_setpoints={k: float(cur[k]) for k in keys},
        profit_usd_h=float(opt["profit_usd_h"]), co2e_kg_h=float(opt["co2e_kg_h"]),
        current_profit_usd_h=float(cur["profit_usd_h"]), current_co2e_kg_h=float(cur["co2e_kg_h"]),
        outputs={k: float(opt[k]) for k in OUTPUT_KEYS}, current_outputs={k: float(cur[k]) for k in OUTPUT_KEYS},
        active_constraints=list(table.attrs["active_constraints"]), termination=solve.termination,
        solve_seconds=time.perf_counter() - t0, model_version=conditions.model_version,
    )
