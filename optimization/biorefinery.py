"""Steady-state setpoint optimization of the corn-stover ethanol biorefinery (:mod:`models.biorefinery`).

One Pyomo model of the plant at the level of the setpoints an operator moves, written with the
twin's own equations and parameters (:mod:`models._biorefinery_physics`, sources [Humbird2011]
and the others cited there), optimised by IPOPT (cyipopt) in the staged flow of
:class:`optimization.flow.StagedFlow`. :func:`optimize` is the plant interface of
:mod:`optimization.plants`.

Decisions (:data:`SETPOINTS`)
-----------------------------
* ``dry_feed_t_h``: corn stover, dry t/h. 0.75-1.05 x the 83.33 t/h design, the range the twin's
  scenario runs the plant in (``models.biorefinery._RATE_TARGETS``; the design is 2,000 dry t/d
  [Humbird2011]).
* ``enzyme_mg_g``: cellulase loading, mg protein / g glucan entering hydrolysis. 10-30 (design 20
  [Humbird2011]; the range is a project assumption, +-50 %: the saturating kinetics is calibrated
  through the design point only, so farther extrapolation is not trusted).
* ``eh_time_h``, ``ferm_time_h``: enzymatic-hydrolysis and fermentation residence times, h.
  42-126 and 18-54 (design 84 and 36 h [Humbird2011], +-50 %, assumption). The train volumes are
  fixed (``eh_volume_m3``, ``ferm_volume_m3``), so ``residence time x slurry flow <= volume``: a
  residence time above volume/flow needs less feed. The twin runs its vessels full
  (residence time = volume / flow); a shorter time here means a lower level.

Physics (per hour at steady state; kg/h, kW unless stated)
----------------------------------------------------------
* Pretreatment and conditioning (feed -> dilute-acid pretreatment -> flash -> ammonia
  conditioning) are evaluated by the twin's :func:`~models._biorefinery_physics.front_end` at
  1 dry t/h with no enzyme. At the fixed pretreatment conditions (temperature, time, acid
  loading, moisture, composition) every flow there is proportional to the feed (the acid
  concentration and hence the pH and the yields do not depend on it), so the model scales them
  by ``dry_feed_t_h``.
* Enzymatic hydrolysis: cellulase protein = loading x glucan entering; the dilution water keeps
  ``eh_solids`` with the enzyme counted as solids (as the twin does); glucan solubilised
  X = Xmax (1 - exp(-k E t)) with the twin's k (:func:`~models._biorefinery_physics.enzymatic_constant`)
  and the design glucose/oligomer split, applied with the twin's own hydrolysis stoichiometry.
* Co-fermentation: 3 % of each sugar to lactic acid, then the twin's Monod CSTR with ethanol
  inhibition stated as equations (the twin bisects them):
  ``(S0_i - S_i)(K_i + S_i) = theta_i (t / t_design) (1 - P/Pm) S_i`` and
  ``P = sum Y_i (S0_i - S_i)``, theta_i from :func:`~models._biorefinery_physics.fermentation_constants`;
  consumed sugar split into ethanol + CO2, cells and by-products in the design ratios.
* Distillation (the twin's :func:`~models._biorefinery_physics.distillation`): boil-up ratio control
  demands a duty; the reboiler transfers at most UA x dT_max, UA the held condition
  ``reboiler_ua_kw_k`` (:data:`HELD_CONDITIONS`: the DCS's BIO.UY502, about half the clean
  2,037 kW/K on the plant; default clean). The boil-up left after heating the beer to the bottoms
  sets the stripping factor K V/L (1.5 when the demand is met) and the Kremser ethanol slip to the
  stillage; product 99.5 wt%; LP steam for the reboiler and the rectifier/sieves. At half the clean
  UA the design feed loses 0.68 % of its ethanol (slip 0.69 % vs 0.01 %) and the profit optimum's
  feed falls from 87.06 to 85.35 t/h.
* Stillage filter, wastewater (anaerobic digester: methane 0.35 Nm3/kg COD, 1 % fugitive), boiler
  on the wet cake and the biogas, extraction-condensing turbine, plant power demand and cooling
  duty as in the twin; :func:`~models._biorefinery_physics.wastewater` is called on the Pyomo
  expressions themselves.

Smooth reformulations of the twin's min/max (documented so a reviewer can check them):

* ``LP extraction = min(LP demand, available - HP extraction)``: smooth min
  ``(a + b - sqrt((a - b)**2 + eps**2)) / 2`` with ``eps`` = :data:`SMOOTHING_EPS` ``["steam_kg_h"]``
  (10 kg/h, against ~70 t/h of margin at design: error < 1e-3 kg/h). The LP shortfall it leaves is
  the natural-gas package boiler's steam (``aux``), capped at its capacity (a constraint).
* ``export = max(net, 0)``, ``import = max(-net, 0)``: smooth max with ``eps`` = 1 kW (error
  2e-5 kW at the design's 11.9 MW export); import = export - net exactly.
* ``reboiler duty = min(demand, UA dT_max)`` and boil-up ``max(duty - sensible, 0)``: smooth min/max
  with ``eps`` = ``SMOOTHING_EPS["reboiler_kw"]`` (50 kW: error 0.024 kW on the clean design's
  40.7 MW against its 67 MW capacity, 0.09 kW at half UA, 25 kW at the kink). The Kremser slip
  ``(s - 1)/(s**(N+1) - 1)`` is written as ``1/sum_{k<=N} s**k`` (whole N), smooth through s = 1.
* Kept exact because the constraints keep the twin on one branch: ``HP extraction = min(demand,
  available)`` -> demand with the constraint demand <= available; the filter's ``min(cake
  liquor, liquor)``, the product water ``min(.., water)``, the process cooling ``max(.., 0)`` and
  ``max(E, 0)``: the arguments are positive/the first branch holds by a wide margin over the whole
  decision range (checked at the design and the optimum by the tests
  against :func:`~models._biorefinery_physics.steady_state`).
* Not modelled: natural-gas support firing of the main boiler (0: back-up only), boiler trips.

At the design setpoints the simulation stage reproduces ``steady_state()`` to 6e-7 relative
(ethanol 22.06 t/h, 79.95 gal/dry ton, 188.4 t/h steam, 11.86 MW export; largest deviation the
reboiler steam of the smoothed duty, 6e-7 kg/kg); the tests hold it, at an off-design point and with calibrated
yields, to :data:`SIMULATION_RTOL` = 1e-5.

Economics (USD/h) and emissions (kg/h), the conventions of :mod:`optimization.plants`
-------------------------------------------------------------------------------------
``profit = ethanol product (99.5 wt %, as shipped) x price + export x export price
- import x electricity price - stover (dry) - cellulase protein - H2SO4 (100 %) - NH3
- natural gas (GJ, LHV) - carbon price x Scope 1``.

Scope 1 = fugitive digester CH4 x GWP100(``ch4``) (the item of the plant's activity stream and
of the carbon accounting) + fossil CO2 of the natural gas burnt (the twin's stoichiometric 54.9 kg/GJ;
the CH4/N2O of gas combustion, ~0.06 kg CO2e/GJ, is neglected). Scope 2 (location-based) =
import x grid factor. Biogenic CO2 (fermentation, cake and biogas combustion) is not counted; the
CH4/N2O of the cake combustion is not in the plant's activity data and not counted either.
``co2e_kg_h`` = Scope 1 + Scope 2.

Constraints: vessel volumes, pretreatment steam from the HP extraction within the turbine's available steam
(condensing flow >= ``min_condensing_fraction``), package-boiler capacity, the emission limits
in force (:data:`LIMIT_KEYS`), the CO2e cap. The reboiler capacity (UA x the largest steam-chest
temperature difference) caps the duty inside the model instead; ``active_constraints`` lists
``reboiler_capacity`` while the demand exceeds it. Product purity is fixed by the dehydration design
(0.995) and needs no constraint.

Results at the market reference prices
--------------------------------------
With the reference levels of :data:`models.market.SERIES` (ethanol 2.00 USD/gal, stover 75 USD/dry
short ton, cellulase 5 USD/kg protein, MISO power 35 USD/MWh ...), the permits in force (CH4
1.25 t/d, Scope 1 15,000 t/yr), AR6 GWP100, no carbon price (the plant's scheme is ``none``) and
the clean reboiler:

==================  ======  ======  =====  =====  ========  =====  =======  =======
point               feed    enzyme  t_EH   t_F    profit    CO2e   ethanol  yield
                    t/h     mg/g    h      h      USD/h     kg/h   t/h      gal/ton
==================  ======  ======  =====  =====  ========  =====  =======  =======
design (current)    83.33   20.0    84.0   36.0   5,103     1,515  22.06    79.95
max profit          87.06   12.5    80.6   34.5   5,659     1,552  21.87    75.87
min CO2e            62.50   10.0    42.0   48.1   2,658     1,021  13.18    63.69
==================  ======  ======  =====  =====  ========  =====  =======  =======

The profit optimum runs both trains full and is held by the CH4 permit (without it the feed
goes to its 87.5 t/h bound); a third less enzyme protein (342 vs 525 kg/h) loses 5 % of the
yield and burns the unconverted glucan for 3 MW more export. CO2e is all fugitive digester CH4, which
follows the COD sent to the digester, so the minimum-CO2e point turns the feed down and cuts the
hydrolysis short (fewer unfermented oligomers to the digester, more glucan to the boiler). Each
solve takes 0.04-0.2 s.

Example
-------
>>> from optimization.plants import OperatingConditions
>>> c = OperatingConditions("biorefinery", prices={"ethanol": 0.67, "corn_stover": 0.083,
...     "cellulase": 5.0, "sulfuric_acid": 0.14, "ammonia": 0.55, "natural_gas": 2.8,
...     "electricity": 0.035}, gwp100={"ch4": 29.8}, limits={"ch4_kg_h": 52.08})
>>> s = optimize(c)
>>> s.termination, round(s.outputs["ch4_fugitive_kg_h"], 2)
('optimal', 52.08)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, ClassVar

import pandas as pd
import pyomo.environ as pyo

from models import _biorefinery_physics as phys
from models.biorefinery import _RATE_TARGETS
from nexus.errors import ConfigError
from optimization.flow import StagedFlow
from optimization.plants import Objective, OperatingConditions, Setpoint, Solution
from optimization.solvers import SolveReport

__all__ = [
    "CALIBRATED_PARAMETERS",
    "HELD_CONDITIONS",
    "LEXICOGRAPHIC_WEIGHT",
    "LIMIT_KEYS",
    "OPTIONAL_PRICE_ITEMS",
    "PRICE_ITEMS",
    "SETPOINTS",
    "SETPOINT_TAGS",
    "SIMULATION_RTOL",
    "SMOOTHING_EPS",
    "TWIN_OUTPUTS",
    "BiorefineryOptimization",
    "calibrated_params",
    "design_setpoints",
    "optimize",
]

PLANT_ID = "biorefinery"
_D = phys.DEFAULT

#: The decision variables and their bounds (see the module docstring for the sources).
SETPOINTS: dict[str, Setpoint] = {
    "dry_feed_t_h": Setpoint(
        "dry_feed_t_h", "t/h", min(_RATE_TARGETS) * _D.dry_feed_t_h, max(_RATE_TARGETS) * _D.dry_feed_t_h,
        "corn stover feed, dry basis (the twin's operating range, 0.75-1.05 x design)",
    ),
    "enzyme_mg_g": Setpoint(
        "enzyme_mg_g", "mg/g", 0.5 * _D.enzyme_mg_g, 1.5 * _D.enzyme_mg_g,
        "cellulase loading, mg protein per g glucan entering hydrolysis (design +-50 %)",
    ),
    "eh_time_h": Setpoint(
        "eh_time_h", "h", 0.5 * _D.eh_time_h, 1.5 * _D.eh_time_h,
        "enzymatic hydrolysis residence time; x slurry flow <= train volume",
    ),
    "ferm_time_h": Setpoint(
        "ferm_time_h", "h", 0.5 * _D.ferm_time_h, 1.5 * _D.ferm_time_h,
        "co-fermentation residence time; x slurry flow <= train volume",
    ),
}

#: Historian tags of the current setpoints (``optimization.pipeline.current_setpoints``): setpoint tag,
#: factor. The residence times have none: the trains run full, so the current ones follow from the
#: feed and loading (:func:`design_setpoints`); the DCS residence time BIO.XI301 is a daily mean of
#: volume / flow that includes upsets and would not match the mean feed.
#: The reboiler UA is a held condition (:data:`HELD_CONDITIONS`): the DCS calculation BIO.UY502
#: (duty / chest-to-bottoms dT, gold canonical unit kW/K).
SETPOINT_TAGS: dict[str, tuple[str, float]] = {"dry_feed_t_h": ("BIO.FC101.SP", 1.0),
                                               "enzyme_mg_g": ("BIO.FC301.SP", 1.0),
                                               "reboiler_ua_kw_k": ("BIO.UY502", 1.0)}

#: Conditions held at their current value, not decided (``OperatingConditions.current`` may carry
#: them): name -> unit. ``reboiler_ua_kw_k`` is the beer-column reboiler's measured UA (fouled:
#: the plant's reads about half the clean value); missing = the clean UA
#: (:func:`~models._biorefinery_physics.reboiler_ua_clean` of the parameters in use).
HELD_CONDITIONS: dict[str, str] = {"reboiler_ua_kw_k": "kW/K"}

#: Market items of the objective and the unit their price must be in (items of ``models.biorefinery.ACTIVITY``).
PRICE_ITEMS: dict[str, str] = {
    "ethanol": "USD/kg",  # fuel ethanol product, 99.5 wt %, as shipped
    "corn_stover": "USD/kg",  # dry basis
    "cellulase": "USD/kg",  # kg of enzyme protein
    "sulfuric_acid": "USD/kg",  # 100 % H2SO4 basis
    "ammonia": "USD/kg",
    "natural_gas": "USD/GJ",  # LHV
    "electricity": "USD/kWh",  # import; also export unless electricity_export is given
}
#: Optional items: exported electricity is sold at ``electricity_export`` if given, else at ``electricity``.
OPTIONAL_PRICE_ITEMS: dict[str, str] = {"electricity_export": "USD/kWh"}

#: Parameters a calibration may override (names of :class:`models.biorefinery.BiorefineryParams`):
#: the hydrolysis and fermentation yields that drift, the boiler efficiency and the fugitive share.
CALIBRATED_PARAMETERS: tuple[str, ...] = (
    "eh_glucose_yield",
    "eh_oligomer_yield",
    "eh_max_solubilisation",
    "glucose_to_ethanol",
    "xylose_to_ethanol",
    "contamination_loss",
    "boiler_efficiency",
    "ad_fugitive_ch4",
)

#: Emission limits the model can honour (``conditions.limits`` keys, kg/h): fugitive CH4 mass,
#: fossil CO2 mass, Scope 1 CO2e and boiler NOx (as NO2).
LIMIT_KEYS: tuple[str, ...] = ("ch4_kg_h", "co2_kg_h", "co2e_scope1_kg_h", "nox_kg_h")

#: Smoothing widths of the smooth min/max reformulations.
SMOOTHING_EPS: dict[str, float] = {"steam_kg_h": 10.0, "power_kw": 1.0, "reboiler_kw": 50.0}

#: objective="co2e" minimises ``co2e - LEXICOGRAPHIC_WEIGHT x profit`` (kg CO2e per USD): among
#: points of (nearly) equal CO2e it takes the most profitable one, so the front's end point is
#: Pareto-efficient, not merely weakly efficient, wherever the CO2e is flat in a setpoint.
LEXICOGRAPHIC_WEIGHT: float = 1e-6

#: Relative agreement of the simulation stage with ``steady_state()`` (tested).
SIMULATION_RTOL: float = 1e-5

#: ``steady_state()`` keys the model reproduces (:meth:`BiorefineryOptimization.twin_outputs`).
TWIN_OUTPUTS: tuple[str, ...] = (
    "enzyme_kg_h",
    "acid_kg_h",
    "ammonia_kg_h",
    "slurry_m3_h",
    "eh_glucose_conversion",
    "beer_ethanol_g_l",
    "beer_glucose_g_l",
    "beer_pentose_g_l",
    "product_ethanol_kg_h",
    "product_kg_h",
    "yield_gal_per_dry_ton",
    "reboiler_steam_kg_h",
    "ww_cod_kg_h",
    "ch4_fugitive_kg_h",
    "fuel_kw",
    "steam_kg_h",
    "lp_extraction_kg_h",
    "condensing_kg_h",
    "generation_kw",
    "demand_kw",
    "export_kw",
    "import_kw",
    "ng_gj_h",
)

def _smooth_max0(x, eps: float):
    """max(x, 0), smooth: (x + sqrt(x**2 + eps**2)) / 2 (error eps/2 at 0, eps**2/(4|x|) far from it)."""
    return 0.5 * (x + pyo.sqrt(x * x + eps * eps))


def _smooth_min(a, b, eps: float):
    """min(a, b), smooth: (a + b - sqrt((a - b)**2 + eps**2)) / 2."""
    return 0.5 * (a + b - pyo.sqrt((a - b) ** 2 + eps * eps))


def _kremser_unstripped(s, stages: float):
    """:func:`~models._biorefinery_physics.kremser_unstripped` for a Pyomo stripping factor ``s``.

    ``(s - 1) / (s**(N+1) - 1)`` is 0/0 at s = 1; for a whole number of stages it equals
    ``1 / sum_{k=0..N} s**k`` (geometric series), which is smooth for every s > 0 (and gives the
    physics' 1/(N+1) at s = 1). A fractional N keeps the quotient (singular at s = 1 only).
    """
    n = float(stages)
    if n.is_integer() and n >= 0:
        return 1.0 / sum(s**k for k in range(int(n) + 1))
    return (s - 1.0) / (s ** (n + 1.0) - 1.0)


def calibrated_params(parameters: Mapping[str, float], base: phys.BiorefineryParams = _D) -> phys.BiorefineryParams:
    """``base`` with the calibrated values; ValueError for unknown names or values outside (0, 1]."""
    unknown = sorted(set(parameters) - set(CALIBRATED_PARAMETERS))
    if unknown:
        raise ValueError(f"unknown biorefinery parameters {unknown}; valid: {list(CALIBRATED_PARAMETERS)}")
    values = {k: float(v) for k, v in parameters.items()}
    may_be_zero = ("contamination_loss", "ad_fugitive_ch4")
    bad = {k: v for k, v in values.items() if not (0.0 < v <= 1.0 or (v == 0.0 and k in may_be_zero))}
    if bad:
        raise ValueError(f"calibrated parameters expected fractions in (0, 1] ([0, 1] for {list(may_be_zero)}), "
                         f"found {bad}")
    params = replace(base, **values)
    for sugar, to_e, to_c, consumed in (
        ("glucose", params.glucose_to_ethanol, params.glucose_to_cells, params.glucose_consumed),
        ("xylose", params.xylose_to_ethanol, params.xylose_to_cells, params.xylose_consumed),
    ):
        if to_e + to_c > consumed:
            raise ValueError(f"{sugar}_to_ethanol + {sugar}_to_cells expected <= {sugar}_consumed = {consumed}, "
                             f"found {to_e + to_c:.4f}")
    if params.eh_glucose_yield + params.eh_oligomer_yield >= params.eh_max_solubilisation:
        raise ValueError("eh_glucose_yield + eh_oligomer_yield expected < eh_max_solubilisation, found "
                         f"{params.eh_glucose_yield + params.eh_oligomer_yield:.4f} >= {params.eh_max_solubilisation}")
    return params


def _unit_front_end(params: phys.BiorefineryParams) -> phys.FrontEnd:
    """The twin's front end at 1 dry t/h, no enzyme, no hydrolysis (everything scales with the feed)."""
    return phys.front_end(1.0, params.moisture, enzyme_mg_g=0.0, eh_time_h=0.0, params=params)


def design_setpoints(params: phys.BiorefineryParams = _D, *, dry_feed_t_h: float | None = None,
                     enzyme_mg_g: float | None = None) -> dict[str, float]:
    """Setpoints of the twin's operation: design feed and loading, vessels full (time = volume / flow)."""
    feed = params.dry_feed_t_h if dry_feed_t_h is None else float(dry_feed_t_h)
    enzyme = params.enzyme_mg_g if enzyme_mg_g is None else float(enzyme_mg_g)
    fe = _unit_front_end(params)
    non_water = sum(float(v) for k, v in fe.out.items() if k != "water")
    slurry = feed * (non_water + enzyme * 1e-3 * float(fe.eh_in_glucan)) / params.eh_solids / params.broth_density
    return {"dry_feed_t_h": feed, "enzyme_mg_g": enzyme, "eh_time_h": params.eh_volume_m3 / slurry,
            "ferm_time_h": params.ferm_volume_m3 / slurry}


class BiorefineryOptimization(StagedFlow):
    """Staged setpoint optimization of the biorefinery (see the module docstring for the model).

    Parameters
    ----------
    params : models.biorefinery.BiorefineryParams
        Design and (calibrated) model parameters.

    Stages
    ------
    ``build()``; ``set_conditions(dry_feed_t_h=, enzyme_mg_g=, eh_time_h=, ferm_time_h=,
    reboiler_ua_kw_k=)`` (None = :func:`design_setpoints`, clean UA); ``initialize()`` (square
    solve from the twin's Monod solution);
    ``setup_optimization(conditions, co2e_cap_kg_h=None, objective="profit")``; ``solve()``;
    ``report()``.
    """

    name: ClassVar[str] = "biorefinery"

    def __init__(self, params: phys.BiorefineryParams = _D) -> None:
        super().__init__()
        self.params = params
        self.current: dict[str, float] | None = None
        self.setpoints: dict[str, Setpoint] = {}
        self.conditions: OperatingConditions | None = None
        self.co2e_cap_kg_h: float | None = None
        self.objective: Objective = "profit"
        self._init_steps: list[Callable[[], None]] = []  # initial_guess(): set in build order

    # ------------------------------------------------------------------ build

    def build(self) -> pyo.ConcreteModel:
        """Decisions, stream variables with their defining equations, the implicit equations, capacities.

        The flows at the stream boundaries (hydrolysate, beer) and the plant-wide quantities
        (digester methane, fuel, steam, LP extraction, generation, demand, export) are variables
        defined by one equation each, so expressions stay small and every value is evaluated once.
        """
        p = self.params
        fe = _unit_front_end(p)
        m = pyo.ConcreteModel(name="biorefinery_setpoints")
        self._init_steps = []
        design = design_setpoints(p)
        m.dry_feed_t_h = pyo.Var(bounds=(1.0, None), initialize=design["dry_feed_t_h"], doc="dry feed, t/h")
        m.enzyme_mg_g = pyo.Var(bounds=(0.0, None), initialize=design["enzyme_mg_g"], doc="mg protein/g glucan")
        m.eh_time_h = pyo.Var(bounds=(1.0, None), initialize=design["eh_time_h"], doc="hydrolysis residence, h")
        m.ferm_time_h = pyo.Var(bounds=(1.0, None), initialize=design["ferm_time_h"], doc="fermentation residence, h")
        feed = m.dry_feed_t_h

        def define(name: str, expr, doc: str = "", index=None) -> Any:
            """Variable ``name`` with the equation ``name == expr`` (per index); initialised in build order."""
            if index is None:
                var = pyo.Var(initialize=0.0, doc=doc)
                m.add_component(name, var)
                m.add_component(f"{name}_eq", pyo.Constraint(expr=var == expr))
                self._init_steps.append(lambda: var.set_value(pyo.value(expr)))
            else:
                var = pyo.Var(index, initialize=0.0, doc=doc)
                m.add_component(name, var)
                m.add_component(f"{name}_eq", pyo.Constraint(index, rule=lambda _, i: var[i] == expr[i]))

                def init_indexed() -> None:
                    for i in index:
                        var[i].set_value(pyo.value(expr[i]))

                self._init_steps.append(init_indexed)
            return var

        # Front end: pretreatment + conditioning scale with the feed (twin at 1 dry t/h).
        st: dict[str, Any] = {s: float(fe.out[s]) * feed for s in phys.SPECIES}
        glucan_in = float(fe.eh_in_glucan) * feed
        m.enzyme_kg_h = pyo.Expression(expr=m.enzyme_mg_g * 1e-3 * glucan_in, doc="cellulase protein, kg/h")
        non_water = sum(float(v) for k, v in fe.out.items() if k != "water") * feed + m.enzyme_kg_h
        st["enzyme"] = st["enzyme"] + m.enzyme_kg_h
        # Dilution water keeps eh_solids with the enzyme counted as solids.
        eh_water_extra = m.enzyme_kg_h * (1.0 / p.eh_solids - 1.0)
        st["water"] = st["water"] + eh_water_extra
        m.slurry_m3_h = pyo.Expression(expr=non_water / p.eh_solids / p.broth_density, doc="slurry, m3/h")

        # Enzymatic hydrolysis (the twin's saturating kinetics and stoichiometry).
        k_eh = phys.enzymatic_constant(p)
        share = p.eh_glucose_yield / (p.eh_glucose_yield + p.eh_oligomer_yield)
        m.eh_solubilised = pyo.Expression(
            expr=p.eh_max_solubilisation * (1.0 - pyo.exp(-k_eh * m.enzyme_mg_g * m.eh_time_h)),
            doc="glucan solubilised, fraction of glucan entering",
        )
        m.eh_glucose_conversion = pyo.Expression(expr=m.eh_solubilised * share)
        oligomers = st["glucan"] * m.eh_solubilised * (1.0 - share)
        phys._hydrolyse(st, "glucan", "glucose", m.eh_glucose_conversion)
        st["glucan"] = st["glucan"] - oligomers
        st["oligomers"] = st["oligomers"] + oligomers
        hyd = define("hydrolysate", st, "hydrolysate to fermentation, kg/h", index=phys.SPECIES)

        # Co-fermentation: contamination loss, then the Monod CSTR as equations.
        st = {s: hyd[s] for s in phys.SPECIES}
        lactic = 0.0
        for sugar in ("glucose", "xylose", "arabinose", "galactose", "mannose"):
            moved = st[sugar] * p.contamination_loss
            st[sugar] = st[sugar] - moved
            lactic = lactic + moved
        st["lactic_acid"] = st["lactic_acid"] + lactic
        kf = phys.fermentation_constants(p)
        scale = m.ferm_time_h / kf["tau_h"] * float(phys.cardinal_temperature_factor(p.ferm_temp_c, p))
        sel_g, sel_x = phys._ethanol_selectivity(p)
        yg, yx = phys.ETHANOL_YIELD_THEORETICAL * sel_g, phys.ETHANOL_YIELD_THEORETICAL * sel_x
        xylose_share = float(fe.out["xylose"]) / float(fe.out["xylose"] + fe.out["arabinose"])  # loss is uniform
        m.s0_glucose = pyo.Expression(expr=st["glucose"] / m.slurry_m3_h, doc="glucose into fermentation, g/L")
        m.s0_pentose = pyo.Expression(expr=(st["xylose"] + st["arabinose"]) / m.slurry_m3_h, doc="pentoses in, g/L")
        pm = p.ethanol_inhibition_g_l
        m.glucose_g_l = pyo.Var(bounds=(0.0, None), initialize=1.0, doc="residual glucose, g/L")
        m.pentose_g_l = pyo.Var(bounds=(0.0, None), initialize=3.0, doc="residual xylose + arabinose, g/L")
        m.ethanol_g_l = pyo.Var(bounds=(0.0, pm), initialize=50.0, doc="beer ethanol, g/L")
        inhibition = 1.0 - m.ethanol_g_l / pm
        m.monod_glucose = pyo.Constraint(
            expr=(m.s0_glucose - m.glucose_g_l) * (p.monod_k_glucose + m.glucose_g_l)
            == kf["theta_glucose"] * scale * inhibition * m.glucose_g_l
        )
        m.monod_pentose = pyo.Constraint(
            expr=(m.s0_pentose - m.pentose_g_l) * (p.monod_k_pentose + m.pentose_g_l)
            == kf["theta_pentose"] * scale * inhibition * m.pentose_g_l
        )
        m.ethanol_titer = pyo.Constraint(
            expr=m.ethanol_g_l == yg * (m.s0_glucose - m.glucose_g_l) + yx * (m.s0_pentose - m.pentose_g_l)
        )
        self._init_steps.append(self._guess_fermentation)
        cons_g = (m.s0_glucose - m.glucose_g_l) * m.slurry_m3_h
        cons_x = (m.s0_pentose - m.pentose_g_l) * m.slurry_m3_h
        st["glucose"] = st["glucose"] - cons_g
        st["xylose"] = st["xylose"] - cons_x * xylose_share
        st["arabinose"] = st["arabinose"] - cons_x * (1.0 - xylose_share)
        e_share = phys.MW["ethanol"] / (phys.MW["ethanol"] + phys.MW["co2"])
        to_e = cons_g * sel_g + cons_x * sel_x
        cells = cons_g * p.glucose_to_cells / p.glucose_consumed + cons_x * p.xylose_to_cells / p.xylose_consumed
        st["ethanol"] = st["ethanol"] + to_e * e_share
        st["cell_mass"] = st["cell_mass"] + cells
        st["byproducts"] = st["byproducts"] + cons_g + cons_x - to_e - cells
        beer = define("beer", st, "beer to distillation, kg/h", index=phys.SPECIES)
        m.beer_kg_h = pyo.Expression(expr=sum(beer[s] for s in phys.SPECIES))

        # Distillation (the twin's distillation()): boil-up ratio control demands a duty; the reboiler,
        # fouled to the measured UA (a held condition), transfers at most UA x dT_max; the boil-up left
        # after heating the feed to the bottoms sets the stripping factor and the Kremser slip.
        eps_reb = SMOOTHING_EPS["reboiler_kw"]
        m.reboiler_ua_kw_k = pyo.Param(mutable=True, initialize=phys.reboiler_ua_clean(p),
                                       within=pyo.PositiveReals, doc="reboiler UA (measured, held), kW/K")
        m.reboiler_demand_kw = pyo.Expression(expr=float(phys.beer_column_duty_kw(1.0, p)) * m.beer_kg_h,
                                              doc="duty demanded by boil-up ratio control, kW")
        m.reboiler_capacity_kw = pyo.Expression(expr=m.reboiler_ua_kw_k * p.reboiler_dt_max_k,
                                                doc="UA x largest steam-chest dT, kW")
        define("reboiler_duty_kw", _smooth_min(m.reboiler_demand_kw, m.reboiler_capacity_kw, eps_reb),
               "reboiler duty, kW")
        sensible_kw = m.beer_kg_h * phys.CP_WATER * (p.beer_bottoms_temp_c - p.beer_feed_temp_c) / 3600.0
        m.boilup_kg_h = pyo.Expression(expr=_smooth_max0(m.reboiler_duty_kw - sensible_kw, eps_reb)
                                       * 3600.0 / phys.LATENT_BOTTOMS, doc="beer column boil-up, kg/h")
        m.stripping_factor = pyo.Expression(expr=p.k_ethanol * m.boilup_kg_h / m.beer_kg_h)
        define("ethanol_slip", _kremser_unstripped(m.stripping_factor, p.beer_column_stages),
               "ethanol fraction left in the stillage (Kremser)")
        m.product_ethanol_kg_h = pyo.Expression(expr=beer["ethanol"] * (1.0 - m.ethanol_slip))
        m.product_water_kg_h = pyo.Expression(expr=m.product_ethanol_kg_h * (1.0 - p.product_purity) / p.product_purity)
        m.product_kg_h = pyo.Expression(expr=m.product_ethanol_kg_h + m.product_water_kg_h, doc="99.5 wt% product")
        lp_latent = phys.H_EXTRACT_LP - phys.H_COND_LP
        m.reboiler_steam_kg_h = pyo.Expression(expr=m.reboiler_duty_kw * 3600.0 / lp_latent)
        m.rectifier_steam_kg_h = pyo.Expression(expr=m.product_ethanol_kg_h * p.rectifier_steam_per_ethanol)
        stillage = {s: beer[s] for s in phys.SPECIES}
        stillage["ethanol"] = beer["ethanol"] - m.product_ethanol_kg_h
        stillage["water"] = beer["water"] - m.product_water_kg_h

        # Stillage filter: insolubles to the cake with liquor at cake_moisture.
        insol = sum(v for k, v in stillage.items() if k in phys.INSOLUBLE)
        liquor = sum(v for k, v in stillage.items() if k not in phys.INSOLUBLE)
        m.cake_liquor_share = pyo.Var(bounds=(0.0, 1.0), initialize=0.05, doc="share of the liquor in the cake")
        m.filter_split = pyo.Constraint(
            expr=m.cake_liquor_share * liquor == insol * p.cake_moisture / (1.0 - p.cake_moisture)
        )
        self._init_steps.append(self._guess_filter)
        cake = {k: v if k in phys.INSOLUBLE else v * m.cake_liquor_share for k, v in stillage.items()}
        filtrate = {k: 0.0 if k in phys.INSOLUBLE else v * (1.0 - m.cake_liquor_share) for k, v in stillage.items()}

        # Wastewater: the twin's function on the Pyomo expressions.
        ww_in = dict(filtrate)
        ww_in["water"] = ww_in["water"] + float(fe.flash_water) * feed
        ww_in["furfural"] = ww_in["furfural"] + float(fe.flash_furfural) * feed
        ww = phys.wastewater(ww_in, p)
        m.ww_cod_kg_h = pyo.Expression(expr=ww.cod_in)
        define("ch4_kg_h", ww.ch4_kg_h, "digester methane, kg/h")
        define("aeration_o2_kg_h", ww.o2_demand, "aeration oxygen, kg/h")
        m.ch4_fugitive_kg_h = pyo.Expression(expr=m.ch4_kg_h * p.ad_fugitive_ch4)

        # Boiler fuel: wet cake (LHV, latent heat of its water deducted) + biogas methane.
        heat = -cake["water"] * phys.LATENT_25C_MJ_KG / 3.6
        nitrogen = 0.0
        for s in phys.COMBUSTIBLE:
            heat = heat + cake[s] * phys.lhv_mj_kg(s) / 3.6
            nitrogen = nitrogen + cake[s] * phys.elemental_wt(s)[3] / 100.0
        define("fuel_kw", heat + (m.ch4_kg_h - m.ch4_fugitive_kg_h) * phys.LHV_METHANE_MJ_KG / 3.6, "fuel LHV, kW")
        m.nox_kg_h = pyo.Expression(
            expr=nitrogen * phys.FUEL_N_TO_NOX / phys._AW["N"] * (phys._AW["N"] + 2 * phys._AW["O"])
        )

        # CHP: extraction-condensing turbine (HP = pretreatment steam, LP = distillation + misc).
        define("steam_kg_h", p.boiler_efficiency * m.fuel_kw * 3600.0 / (phys.H_THROTTLE - phys.H_FEEDWATER),
               "steam raised, kg/h")
        m.hp_extraction_kg_h = pyo.Expression(expr=float(fe.pt_steam) * feed)
        m.lp_demand_kg_h = pyo.Expression(
            expr=m.reboiler_steam_kg_h + m.rectifier_steam_kg_h + p.misc_lp_steam_fraction * m.steam_kg_h
        )
        m.available_kg_h = pyo.Expression(expr=m.steam_kg_h * (1.0 - p.min_condensing_fraction))
        define("lp_extraction_kg_h",
               _smooth_min(m.lp_demand_kg_h, m.available_kg_h - m.hp_extraction_kg_h, SMOOTHING_EPS["steam_kg_h"]),
               "LP extraction, kg/h")
        m.aux_steam_kg_h = pyo.Expression(expr=m.lp_demand_kg_h - m.lp_extraction_kg_h, doc="package boiler")
        m.condensing_kg_h = pyo.Expression(expr=m.steam_kg_h - m.hp_extraction_kg_h - m.lp_extraction_kg_h)
        define("generation_kw", p.generator_efficiency * (
            m.steam_kg_h * (phys.H_THROTTLE - phys.H_EXTRACT_HP)
            + (m.steam_kg_h - m.hp_extraction_kg_h) * (phys.H_EXTRACT_HP - phys.H_EXTRACT_LP)
            + m.condensing_kg_h * (phys.H_EXTRACT_LP - phys.H_EXHAUST)
        ) / 3600.0, "gross generation, kW")
        m.ng_gj_h = pyo.Expression(
            expr=m.aux_steam_kg_h * lp_latent / 3600.0 / p.aux_boiler_efficiency * 3.6e-3, doc="natural gas, GJ/h"
        )
        m.co2_fossil_kg_h = pyo.Expression(
            expr=m.ng_gj_h * 1000.0 / phys.LHV_METHANE_MJ_KG * phys.MW["co2"] / phys.MW["methane"]
        )

        # Heat rejected and power demand (the twin's back_end).
        cp_slurry = p.eh_solids * p.cp_dry_solids + (1 - p.eh_solids) * phys.CP_WATER
        eh_water = float(fe.eh_water) * feed + eh_water_extra
        pt_to_eh = float(fe.pt_slurry - fe.flash_water - fe.flash_furfural) * feed
        process_cool = (
            pt_to_eh * cp_slurry * (p.flash_temp_c - p.eh_temp_c)
            - eh_water * phys.CP_WATER * (p.eh_temp_c - phys.DILUTION_WATER_TEMP_C)
        ) / 3600.0 + m.beer_kg_h * cp_slurry * max(p.eh_temp_c - p.ferm_temp_c, 0.0) / 3600.0
        condenser_kw = m.condensing_kg_h * (phys.H_EXHAUST - phys.H_COND_EXHAUST) / 3600.0
        distill_cool = m.reboiler_duty_kw + m.rectifier_steam_kg_h * lp_latent / 3600.0
        m.rejected_kw = pyo.Expression(expr=condenser_kw + process_cool + distill_cool)
        define("demand_kw", p.power_fixed_kw
               + (p.power_feed_kwh_t + p.power_pt_kwh_t) * feed
               + p.power_beer_kwh_t * m.beer_kg_h / 1000.0
               + p.power_steam_kwh_t * (m.steam_kg_h + m.aux_steam_kg_h) / 1000.0
               + p.aeration_kwh_per_kg_o2 * m.aeration_o2_kg_h
               + p.power_cooling_kwh_gj * m.rejected_kw * 3.6e-3, "plant power demand, kW")
        define("export_kw", _smooth_max0(m.generation_kw - m.demand_kw, SMOOTHING_EPS["power_kw"]), "export, kW")
        m.import_kw = pyo.Expression(expr=m.export_kw - (m.generation_kw - m.demand_kw))

        # Reported quantities.
        m.acid_kg_h = pyo.Expression(expr=float(fe.acid) * feed)
        m.ammonia_kg_h = pyo.Expression(expr=float(fe.ammonia) * feed)
        m.ethanol_gal_h = pyo.Expression(expr=m.product_ethanol_kg_h / phys.ETHANOL_DENSITY_KG_M3 / phys.GALLON_M3)
        m.yield_gal_per_dry_ton = pyo.Expression(expr=m.ethanol_gal_h / (feed / phys.SHORT_TON_T))

        # Equipment capacities (inequalities: off in the simulation stage).
        m.eh_volume = pyo.Constraint(expr=m.eh_time_h * m.slurry_m3_h <= p.eh_volume_m3)
        m.ferm_volume = pyo.Constraint(expr=m.ferm_time_h * m.slurry_m3_h <= p.ferm_volume_m3)
        # Reboiler capacity: no constraint (the duty is min(demand, UA dT_max) above, so a fouled
        # reboiler costs boil-up and ethanol instead of making the point infeasible);
        # active_constraints() lists "reboiler_capacity" while the demand exceeds the capacity.
        m.hp_steam_supply = pyo.Constraint(expr=m.hp_extraction_kg_h <= m.available_kg_h)
        m.aux_boiler_capacity = pyo.Constraint(expr=m.aux_steam_kg_h <= p.aux_boiler_capacity_t_h * 1000.0)
        self.model = m
        return m

    # ------------------------------------------------------------------ conditions, initialization

    def set_conditions(
        self,
        *,
        dry_feed_t_h: float | None = None,
        enzyme_mg_g: float | None = None,
        eh_time_h: float | None = None,
        ferm_time_h: float | None = None,
        reboiler_ua_kw_k: float | None = None,
    ) -> None:
        """Fix the current setpoints; None = design feed and loading, residence time = volume / flow.

        ``reboiler_ua_kw_k`` (held condition): the reboiler's measured UA, kW/K; None = clean.
        """
        m = self._model("set_conditions")
        full = design_setpoints(self.params, dry_feed_t_h=dry_feed_t_h, enzyme_mg_g=enzyme_mg_g)
        given = {"eh_time_h": eh_time_h, "ferm_time_h": ferm_time_h}
        ua = phys.reboiler_ua_clean(self.params) if reboiler_ua_kw_k is None else reboiler_ua_kw_k
        if not math.isfinite(ua) or ua <= 0:
            raise ValueError(f"reboiler_ua_kw_k expected a finite number > 0, found {ua!r}")
        for name, value in {**full, **{k: v for k, v in given.items() if v is not None}}.items():
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"setpoint {name} expected a finite number > 0, found {value!r}")
            getattr(m, name).fix(float(value))
        m.reboiler_ua_kw_k.set_value(float(ua))

    def initial_guess(self) -> None:
        """Every variable from its defining equation in build order; the implicit ones from the twin."""
        for step in self._init_steps:
            step()

    def _guess_fermentation(self) -> None:
        # Residual sugars and titer from the twin's Monod CSTR (bisection) at the current inputs.
        m = self.model
        p = self.params
        kf = phys.fermentation_constants(p)
        scale = m.ferm_time_h.value / kf["tau_h"] * float(phys.cardinal_temperature_factor(p.ferm_temp_c, p))
        sg, sx, titer = phys.monod_cstr(pyo.value(m.s0_glucose), pyo.value(m.s0_pentose),
                                        kf["theta_glucose"] * scale, kf["theta_pentose"] * scale, p)
        m.glucose_g_l.set_value(float(sg))
        m.pentose_g_l.set_value(float(sx))
        m.ethanol_g_l.set_value(float(titer))

    def _guess_filter(self) -> None:
        # The filter equation is linear in the share once the beer is known.
        m = self.model
        body = m.filter_split.body
        m.cake_liquor_share.set_value(0.0)
        at0 = pyo.value(body)
        m.cake_liquor_share.set_value(1.0)
        slope = pyo.value(body) - at0
        m.cake_liquor_share.set_value(min(max(-at0 / slope, 0.0), 1.0))


    # ------------------------------------------------------------------ optimization

    def setup_optimization(
        self,
        conditions: OperatingConditions,
        *,
        co2e_cap_kg_h: float | None = None,
        objective: Objective = "profit",
        setpoints: Mapping[str, Setpoint] | None = None,
    ) -> None:
        """Free the setpoints within their bounds; economics, limits, CO2e cap and the objective.

        Parameters
        ----------
        conditions : OperatingConditions
            Prices (:data:`PRICE_ITEMS`), carbon price, grid factor, ``gwp100["ch4"]`` and the
            limits (:data:`LIMIT_KEYS`); its ``parameters`` and ``current`` were used before.
        co2e_cap_kg_h : float, optional
            Adds ``co2e_kg_h <= cap`` (the ε-constraint).
        objective : "profit" or "co2e"
            Maximise profit, or minimise CO2e (with :data:`LEXICOGRAPHIC_WEIGHT` x profit as tie-break).
        setpoints : mapping of Setpoint, optional
            Decisions and bounds; default :data:`SETPOINTS` (a subset keeps the others fixed).

        Raises ValueError for missing prices or GWP, unknown limit keys, an unknown objective or a
        negative cap; the model is left unchanged then.
        """
        m = self._model("setup_optimization")
        if self.current is None:
            raise ConfigError("biorefinery: setup_optimization expected an initialized model, found none "
                              "(call initialize())")
        if objective not in ("profit", "co2e"):
            raise ValueError(f"objective expected 'profit' or 'co2e', found {objective!r}")
        prices = _prices(conditions.prices)
        limits = _limits(conditions.limits)
        if "ch4" not in conditions.gwp100:
            raise ValueError(f"gwp100 expected a value for 'ch4' (fugitive digester methane), found keys "
                             f"{sorted(conditions.gwp100)}")
        gwp_ch4 = float(conditions.gwp100["ch4"])
        if co2e_cap_kg_h is not None and (not math.isfinite(co2e_cap_kg_h) or co2e_cap_kg_h < 0):
            raise ValueError(f"co2e_cap_kg_h expected a finite number >= 0, found {co2e_cap_kg_h!r}")
        decisions = dict(SETPOINTS if setpoints is None else setpoints)
        unknown = sorted(set(decisions) - set(SETPOINTS))
        if unknown:
            raise ValueError(f"unknown biorefinery setpoints {unknown}; valid: {list(SETPOINTS)}")
        for name in ("scope1_co2e_kg_h", "scope2_co2e_kg_h", "co2e_kg_h", "revenue_usd_h", "purchases_usd_h",
                     "carbon_cost_usd_h", "profit_usd_h", "limits", "co2e_cap", "objective"):
            if m.component(name) is not None:
                m.del_component(name)

        m.scope1_co2e_kg_h = pyo.Expression(expr=gwp_ch4 * m.ch4_fugitive_kg_h + m.co2_fossil_kg_h)
        m.scope2_co2e_kg_h = pyo.Expression(expr=float(conditions.grid_kg_co2e_per_kwh) * m.import_kw)
        m.co2e_kg_h = pyo.Expression(expr=m.scope1_co2e_kg_h + m.scope2_co2e_kg_h)
        m.revenue_usd_h = pyo.Expression(
            expr=prices["ethanol"] * m.product_kg_h + prices["electricity_export"] * m.export_kw
        )
        m.purchases_usd_h = pyo.Expression(
            expr=prices["corn_stover"] * 1000.0 * m.dry_feed_t_h
            + prices["cellulase"] * m.enzyme_kg_h
            + prices["sulfuric_acid"] * m.acid_kg_h
            + prices["ammonia"] * m.ammonia_kg_h
            + prices["natural_gas"] * m.ng_gj_h
            + prices["electricity"] * m.import_kw
        )
        m.carbon_cost_usd_h = pyo.Expression(expr=float(conditions.carbon_price_usd_t) / 1000.0 * m.scope1_co2e_kg_h)
        m.profit_usd_h = pyo.Expression(expr=m.revenue_usd_h - m.purchases_usd_h - m.carbon_cost_usd_h)

        emitted = {"ch4_kg_h": m.ch4_fugitive_kg_h, "co2_kg_h": m.co2_fossil_kg_h,
                   "co2e_scope1_kg_h": m.scope1_co2e_kg_h, "nox_kg_h": m.nox_kg_h}
        m.limits = pyo.Constraint(list(limits), rule=lambda _, k: emitted[k] <= limits[k])
        if co2e_cap_kg_h is not None:
            m.co2e_cap = pyo.Constraint(expr=m.co2e_kg_h <= float(co2e_cap_kg_h))
        if objective == "profit":
            m.objective = pyo.Objective(expr=m.profit_usd_h, sense=pyo.maximize)
        else:
            m.objective = pyo.Objective(expr=m.co2e_kg_h - LEXICOGRAPHIC_WEIGHT * m.profit_usd_h, sense=pyo.minimize)

        self.setpoints = decisions
        for name, sp in self.setpoints.items():
            var = getattr(m, name)
            var.unfix()
            var.setlb(sp.lower)
            var.setub(sp.upper)
        self.conditions = conditions
        self.co2e_cap_kg_h = co2e_cap_kg_h
        self.objective = objective
        self.current = self._state()  # the model still holds the initialized point: add its economics

    # ------------------------------------------------------------------ results

    def twin_outputs(self) -> dict[str, float]:
        """The model's values of :data:`TWIN_OUTPUTS` (keys and units of ``steady_state()``)."""
        m = self._model("twin_outputs")
        values = {k: pyo.value(getattr(m, k)) for k in TWIN_OUTPUTS if k not in ("beer_glucose_g_l", "beer_pentose_g_l",
                                                                                  "beer_ethanol_g_l")}
        values |= {"beer_glucose_g_l": m.glucose_g_l.value, "beer_pentose_g_l": m.pentose_g_l.value,
                   "beer_ethanol_g_l": m.ethanol_g_l.value}
        return {k: float(values[k]) for k in TWIN_OUTPUTS}

    def outputs(self) -> dict[str, float]:
        """Key process outputs at the model's current values (units in the key suffixes)."""
        m = self._model("outputs")
        v = {k: float(pyo.value(e)) for k, e in {
            "ethanol_t_h": m.product_ethanol_kg_h / 1000.0,
            "product_t_h": m.product_kg_h / 1000.0,
            "yield_gal_per_dry_ton": m.yield_gal_per_dry_ton,
            "eh_glucose_conversion": m.eh_glucose_conversion,
            "eh_glucan_solubilised": m.eh_solubilised,
            "beer_ethanol_g_l": m.ethanol_g_l,
            "residual_glucose_g_l": m.glucose_g_l,
            "residual_pentose_g_l": m.pentose_g_l,
            "slurry_m3_h": m.slurry_m3_h,
            "enzyme_kg_h": m.enzyme_kg_h,
            "acid_kg_h": m.acid_kg_h,
            "ammonia_kg_h": m.ammonia_kg_h,
            "steam_t_h": m.steam_kg_h / 1000.0,
            "process_steam_t_h": (m.hp_extraction_kg_h + m.lp_demand_kg_h) / 1000.0,
            "aux_steam_t_h": m.aux_steam_kg_h / 1000.0,
            "condensing_t_h": m.condensing_kg_h / 1000.0,
            "reboiler_duty_kw": m.reboiler_duty_kw,
            "reboiler_demand_kw": m.reboiler_demand_kw,
            "reboiler_capacity_kw": m.reboiler_capacity_kw,
            "reboiler_ua_kw_k": m.reboiler_ua_kw_k,
            "ethanol_slip": m.ethanol_slip,
            "fuel_kw": m.fuel_kw,
            "generation_kw": m.generation_kw,
            "demand_kw": m.demand_kw,
            "power_export_kw": m.export_kw,
            "power_import_kw": m.import_kw,
            "natural_gas_gj_h": m.ng_gj_h,
            "ww_cod_kg_h": m.ww_cod_kg_h,
            "ch4_fugitive_kg_h": m.ch4_fugitive_kg_h,
            "nox_kg_h": m.nox_kg_h,
        }.items()}
        return v | (self._economics() if m.component("profit_usd_h") is not None else {})

    def active_constraints(self, rtol: float = 1e-6) -> list[str]:
        """Inequalities and setpoint bounds at their bound (within ``rtol`` relative).

        ``reboiler_capacity`` is listed while the demanded duty is at or above UA x dT_max (the
        duty is then the capacity, within the smoothing).
        """
        m = self._model("active_constraints")
        active = []
        if pyo.value(m.reboiler_demand_kw) >= pyo.value(m.reboiler_capacity_kw) * (1.0 - rtol):
            active.append("reboiler_capacity")
        for c in m.component_data_objects(pyo.Constraint, active=True):
            if c.equality:
                continue
            body = pyo.value(c.body)
            for bound, side in ((c.upper, "<="), (c.lower, ">=")):
                if bound is None:
                    continue
                b = pyo.value(bound)
                if abs(body - b) <= rtol * max(1.0, abs(b)):
                    active.append(c.name if side == "<=" else f"{c.name} (lower)")
        for name in self.setpoints:
            var = getattr(m, name)
            for bound, label in ((var.lb, "lower"), (var.ub, "upper")):
                if bound is not None and abs(var.value - bound) <= rtol * max(1.0, abs(bound)):
                    active.append(f"{name} {label} bound")
        return active

    def report(self) -> pd.DataFrame:
        """Current vs optimal (rows ``current``, ``optimal``, ``change``): setpoints, outputs, economics."""
        if self.current is None or not self.solves or self.solves[-1].stage != "biorefinery: solve":
            raise ConfigError("biorefinery: report expected a solved optimization, found none (run every stage first)")
        table = pd.DataFrame({"current": self.current, "optimal": self._state()}).T
        table.loc["change"] = table.loc["optimal"] - table.loc["current"]
        table.index.name = "case"
        table.attrs = {"active_constraints": self.active_constraints(),
                       "solves": [(s.stage, s.termination, s.wall_time_s) for s in self.solves]}
        return table

    # ------------------------------------------------------------------ helpers

    def _economics(self) -> dict[str, float]:
        m = self.model
        keys = ("profit_usd_h", "revenue_usd_h", "purchases_usd_h", "carbon_cost_usd_h", "co2e_kg_h",
                "scope1_co2e_kg_h", "scope2_co2e_kg_h")
        return {k: float(pyo.value(getattr(m, k))) for k in keys}

    def _state(self) -> dict[str, float]:
        m = self.model
        state = {name: float(getattr(m, name).value) for name in SETPOINTS}
        return state | self.outputs()


def _prices(prices: Mapping[str, float]) -> dict[str, float]:
    missing = [k for k in PRICE_ITEMS if k not in prices]
    if missing:
        raise ValueError(f"prices expected items {list(PRICE_ITEMS)} (units {PRICE_ITEMS}), missing {missing}")
    out = {k: float(prices[k]) for k in (*PRICE_ITEMS, *OPTIONAL_PRICE_ITEMS) if k in prices}
    bad = {k: v for k, v in out.items() if not math.isfinite(v)}
    if bad:
        raise ValueError(f"prices expected finite numbers, found {bad}")
    out.setdefault("electricity_export", out["electricity"])
    return out


def _limits(limits: Mapping[str, float]) -> dict[str, float]:
    unknown = sorted(set(limits) - set(LIMIT_KEYS))
    if unknown:
        raise ValueError(f"unknown emission limits {unknown} for the biorefinery; valid: {list(LIMIT_KEYS)}")
    out = {k: float(v) for k, v in limits.items()}
    bad = {k: v for k, v in out.items() if not math.isfinite(v) or v < 0}
    if bad:
        raise ValueError(f"limits expected finite numbers >= 0 (kg/h), found {bad}")
    return out


def optimize(
    conditions: OperatingConditions,
    *,
    co2e_cap_kg_h: float | None = None,
    objective: Objective = "profit",
) -> Solution:
    """Optimal setpoints for the prices, limits and calibrated parameters in ``conditions``.

    Stages: build, set the current setpoints and held conditions (``conditions.current``, names of
    :data:`SETPOINTS` and :data:`HELD_CONDITIONS`; empty = design, clean reboiler),
    initialize (square solve, 0 degrees of freedom checked), set up (4 decisions free), solve,
    report. Raises :class:`~nexus.errors.InfeasibleOptimization` with IPOPT's message when the
    solve is not optimal (e.g. a CO2e cap below the plant's minimum), ValueError for unknown
    parameter, setpoint or limit names and missing prices.
    """
    start = time.perf_counter()
    if conditions.plant_id != PLANT_ID:
        raise ValueError(f"conditions for plant {PLANT_ID!r} expected, found {conditions.plant_id!r}")
    unknown = sorted(set(conditions.current) - set(SETPOINTS) - set(HELD_CONDITIONS))
    if unknown:
        raise ValueError(f"unknown biorefinery setpoints {unknown}; valid: {[*SETPOINTS, *HELD_CONDITIONS]}")
    params = calibrated_params(conditions.parameters)
    flow = BiorefineryOptimization(params)
    flow.build()
    flow.set_conditions(**{k: float(v) for k, v in conditions.current.items()})
    flow.initialize()
    flow.setup_optimization(conditions, co2e_cap_kg_h=co2e_cap_kg_h, objective=objective)
    current_setpoints = {k: float(getattr(flow.model, k).value) for k in SETPOINTS}
    current_outputs = flow.outputs()
    flow.solve()
    outputs = flow.outputs()
    return Solution(
        plant_id=PLANT_ID,
        objective=objective,
        co2e_cap_kg_h=co2e_cap_kg_h,
        setpoints={k: float(getattr(flow.model, k).value) for k in SETPOINTS},
        current_setpoints=current_setpoints,
        profit_usd_h=outputs["profit_usd_h"],
        co2e_kg_h=outputs["co2e_kg_h"],
        current_profit_usd_h=current_outputs["profit_usd_h"],
        current_co2e_kg_h=current_outputs["co2e_kg_h"],
        outputs=outputs,
        current_outputs=current_outputs,
        active_constraints=flow.active_constraints(),
        termination=flow.solves[-1].termination,
        solve_seconds=time.perf_counter() - start,
        model_version=conditions.model_version,
    )

