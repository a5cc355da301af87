"""Proving the benefits: KPIs per plant instance and day, and counterfactual closed-loop replays.

Two questions, answered from what a real plant has (historian data in gold, prices, rules, the
calibration) and never from the simulator's internals:

**What did the plant achieve?** :func:`measure_day` writes ``gold.fct_kpis_daily``: product,
operating profit (metered activity x the prices in force, carbon cost on Scope 1), net purchased
energy and specific energy, waste, CO2e and its intensity, fresh water. What counts as product and
waste is each plant type's own (:data:`KPI_BASES`):

========================  ==================  =================================================
plant type                product             waste
========================  ==================  =================================================
cstr                      B, kmol             unreacted A leaving the reactor, kmol
biorefinery               ethanol, t          COD load sent to wastewater treatment (unconverted
                                              sugars, solubles and fines), t COD
co2_electrolyzer          formic acid, t      unconverted CO2 vented from the cathode, t
smelter                   aluminium, t        spent anode butts, t (net anode consumption x
                                              b / (1 - b), butts b = 25 % of the gross anode)
========================  ==================  =================================================

**What would the optimizer's decisions have delivered?** :func:`replay_day` re-simulates a past
day with the calibrated twin (the optimizer's steady-state model with the parameters fitted up to
that day) hour by hour, over the day's steady hours -- those without an open process anomaly,
shutdown or transient event (``gold.fct_events``), which a steady-state twin represents and in
which an operator would apply a recommendation:

* ``baseline``: the operation that was recorded -- each hour's historian setpoints and measured
  feed -- and how well the replay reproduces the historian (``reproduction_*``: the day's bias and
  the hourly error of the plant's main output, and the residuals against the instrument's noise);
* each decision policy (:mod:`optimization.policy`): the point the policy picks under the day's
  prices, rules and calibration at the day's steady operating point, applied the way the
  write-back would apply it
  (:class:`optimization.writeback.Envelope`: steps of at most 10 % of the tag's span, ramped at 1 %
  of span per minute, the next step only after the settle time; several set points move together
  along the straight line from the recorded point to the target).

Each policy's KPIs and their change against the baseline go to ``gold.fct_benefits_daily``, with a
one-sigma uncertainty propagated from the calibration: the deltas are linearised in the
calibrated parameters (one step of one standard error each, at the day's mean operating points)
and combined with the fit's correlation matrix (``gold.fct_model_parameters.correlation_json``).

The replay is quasi-steady: every hour is the steady state at that hour's mean setpoints. That
holds where the plant settles within the hour (the CSTR, the electrolyzer, the smelter's
electrical balance); the biorefinery's fermentation train has a residence time of a day and
more, so on a day its setpoints move the replay books the new steady state at once. Deltas over
many days are not affected; single transition days are.

:data:`TARGETS` are the benefits the origin documents promise (``gold.dim_benefit_targets``);
the view ``gold.v_benefit_targets`` sets each against what the replays achieve.

Example
-------
>>> sorted(KPI_BASES)
['biorefinery', 'co2_electrolyzer', 'cstr', 'smelter']
>>> KPI_BASES["smelter"].waste_unit
't'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from etl.market import quantity_factor
from etl.units import convert
from models import get_plant
from models.fleet import instance_ids, plant_type
from nexus.errors import ContractViolation, InfeasibleOptimization
from optimization.pipeline import Scenario, _rules_frame, conditions_for, held_hours
from optimization.plants import OperatingConditions, plant_optimizer
from optimization.policy import DEFAULT_POLICY, DecisionPolicy, choose
from sustainability.carbon import daily_activity
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import (
    DIM_BENEFIT_TARGETS,
    FCT_BENEFITS_DAILY,
    FCT_EMISSIONS_SUMMARY_DAILY,
    FCT_KPIS_DAILY,
    FCT_MODEL_PARAMETERS,
    FCT_TAG_HOURLY,
)

__all__ = ["ANODE_BUTT_FRACTION", "KPI_BASES", "REPLAY_POLICIES", "TARGETS", "KpiBasis", "measure_day",
           "replay_day", "write_targets"]

log = logging.getLogger(__name__)

GJ_PER_KWH = 0.0036
#: Beer feed to the column against beer from the fermenters (FI501 / FI404 - 1) beyond which the
#: beer well is filling or draining and the biorefinery's hour is not steady (3 %, about three times
#: the two flow meters' combined noise at their 0.5 %-of-span accuracy).
BEER_WELL_IMBALANCE = 0.03
#: Chiller electricity per unit of the CSTR's jacket duty (1/COP of its activity stream).
_CSTR_CHILLER = 0.25
#: Spent anode butts as a fraction of the gross (new) prebaked anode mass. Assumption of this
#: project: the middle of the 20-30 % usually quoted for prebake potlines; the butts go back to
#: the carbon plant, so they are counted as waste of the cell, not of the company.
ANODE_BUTT_FRACTION = 0.25
#: Policies a replay runs when not told otherwise. co2e_budget is added with a budget of 90 % of
#: the baseline's CO2e when the replay's conf gives no budget of its own.
REPLAY_POLICIES: tuple[DecisionPolicy, ...] = (
    DecisionPolicy("max_profit"),
    DecisionPolicy("max_profit_no_co2e_increase"),
    DecisionPolicy("internal_carbon_price", internal_carbon_price_usd_t=100.0),
    DecisionPolicy("min_co2e_profit_floor"),
)
DEFAULT_BUDGET_FRACTION = 0.9
#: Reproduction criteria of the baseline: the day's bias of the main output within 2 %, its hourly
#: mean absolute error within 3 %, and -- where the tag catalog declares the instrument's noise
#: (``TagSpec.noise_pct``, the instrument's accuracy) -- the hourly residuals' RMS within three of
#: its sigmas. DCS-calculated tags declare none (their noise is their inputs').
REPRODUCTION_MAX_BIAS_PCT = 2.0
REPRODUCTION_MAX_MAPE_PCT = 3.0
REPRODUCTION_MAX_Z = 3.0

Hourly = pd.DataFrame  # index hour_start, columns tag -> hourly mean in the tag's gold unit
Outputs = Mapping[str, float]


def _col(wide: Hourly, tag: str) -> pd.Series:
    return wide[tag] if tag in wide else pd.Series(np.nan, index=wide.index)


@dataclass(frozen=True)
class KpiBasis:
    """What product, waste and energy mean for one plant type, measured and in the twin.

    Measured functions take the hour-by-tag frame of gold hourly means, each tag already in the
    unit named in ``tag_units``; model functions take the optimizer's output dict (one hour at
    steady state) and the prices in the optimizer's units.
    """

    product: str
    product_unit: str
    waste_unit: str
    waste_definition: str
    tag_units: Mapping[str, str]
    product_rate: Callable[[Hourly], pd.Series]
    waste_rate: Callable[[Hourly], pd.Series]
    #: measured energy, GJ per hour (the same definition as ``energy_output``)
    energy_rate: Callable[[Hourly], pd.Series]
    energy_definition: str
    product_output: Callable[[Outputs], float]
    waste_output: Callable[[Outputs], float]
    energy_output: Callable[[Outputs], float]
    energy_cost_output: Callable[[Outputs, Mapping[str, float]], float]
    water_output: Callable[[Outputs], float] | None
    #: the replay's inputs: names the optimizer reads from ``OperatingConditions.current``
    inputs: tuple[str, ...]
    #: historian tag the baseline replay is checked against, and the model's value in its unit
    reproduction_tag: str
    reproduction_output: Callable[[Outputs], float]
    #: revenue of a product that is not an activity stream: (price item, product units per price unit)
    product_price: tuple[str, float] | None = None
    #: purchases whose activity unit does not convert to the price unit: item -> amount per hour in
    #: the price's unit from the hourly frame
    priced_amounts: Mapping[str, Callable[[Hourly], pd.Series]] = dataclasses.field(default_factory=dict)
    #: the twin's steady hour at given inputs when the optimizer's square solve is not the plant's
    #: steady state (the CSTR runs with TC102 in automatic: its input is the temperature set point)
    evaluate: Callable[[Mapping[str, float], OperatingConditions], Any] | None = None
    #: inputs the plant sets itself from others (the biorefinery's residence times follow the feed
    #: with the vessels full, under level control): ``derive(inputs) -> {name: value}``
    derive: Callable[[Mapping[str, float]], Mapping[str, float]] | None = None
    #: hours the historian shows away from steady state though no event is open (an inventory
    #: filling or draining): True where the steady-state twin cannot represent the hour
    unsteady: Callable[[Hourly], pd.Series] | None = None


def _elec_cost(o: Outputs, p: Mapping[str, float]) -> float:
    return o["electricity_kw"] * p["electricity"]


def _vessels_full(inputs: Mapping[str, float]) -> dict[str, float]:
    """The biorefinery's residence times at full vessels for the feed and enzyme loading in ``inputs``.

    No tag writes them: the level controllers keep the hydrolysis and fermentation trains full, so
    the times follow the slurry flow (``optimization.biorefinery.design_setpoints``).
    """
    from optimization.biorefinery import design_setpoints

    full = design_setpoints(dry_feed_t_h=inputs.get("dry_feed_t_h"), enzyme_mg_g=inputs.get("enzyme_mg_g"))
    return {"eh_time_h": full["eh_time_h"], "ferm_time_h": full["ferm_time_h"]}


def _cstr_closed_loop(inputs: Mapping[str, float], cond: OperatingConditions) -> Any:
    """The CSTR's steady hour with TC102 in automatic: T at its set point, the jacket temperature
    and conversion from the balances at the hour's measured feed (models.cstr.closed_loop_steady_state).

    A set point above the envelope's runaway limit at that feed (1.5 K below ignition) would be
    refused by the write-back, so it is held at the limit; the hour is then as the plant could run.
    """
    from models import cstr as plant
    from optimization import cstr as opt
    from optimization.writeback import Envelope

    p = dataclasses.replace(plant.DEFAULT, **{k: float(v) for k, v in cond.parameters.items()})
    q = float(inputs.get("feed_flow_l_min", p.q))
    caf, tf = float(inputs.get("feed_conc_mol_l", p.Caf)), float(inputs.get("feed_temp_k", p.Tf))
    if not (q > 0 and caf > 0):
        return None
    temp = float(inputs["tc102_setpoint_k"])
    try:
        limit = opt.runaway_limit_k(dataclasses.replace(p, q=q, Caf=caf, Tf=tf), margin_k=Envelope().runaway_margin_k)
        temp = min(temp, limit)
    except Exception:  # noqa: BLE001 - no multiplicity at this feed: nothing to hold the set point below
        pass
    ca, tc = plant.closed_loop_steady_state(temp, p, q=q, caf=caf, tf=tf)
    prices = {**opt.DEFAULT_PRICES, **cond.prices}
    perf = opt._performance(q, caf, ca, temp, tc, p.UA, opt.CSTRPrices.from_mapping({
        "product_usd_mol": prices["cstr_product"], "feed_usd_mol": prices["cstr_feed"],
        "electricity_usd_kwh": prices["electricity"], "carbon_usd_tco2e": 0.0,
        "electricity_kgco2e_kwh": cond.grid_kg_co2e_per_kwh}))
    outputs = {**{k: float(v) for k, v in perf.items()}, "reactor_temp_k": temp, "coolant_temp_k": float(tc),
               "conversion": 1.0 - ca / caf, "tc102_setpoint_k": temp}
    return _Point(outputs["profit_usd_h"], outputs["co2e_kg_h"], outputs)


KPI_BASES: dict[str, KpiBasis] = {
    "cstr": KpiBasis(
        product="B", product_unit="kmol", waste_unit="kmol",
        waste_definition="unreacted A leaving the reactor: feed flow x outlet concentration of A (FI101 x AI102)",
        tag_units={"CSTR.FI101": "L/min", "CSTR.AI101": "mol/L", "CSTR.AI102": "mol/L", "CSTR.AY102": "percent",
                   "CSTR.QI101": "kW"},
        energy_rate=lambda w: _col(w, "CSTR.QI101") * _CSTR_CHILLER * GJ_PER_KWH,
        energy_definition="chiller electricity: jacket heat duty QI101 / COP",
        product_rate=lambda w: _col(w, "CSTR.FI101") * 60 * (_col(w, "CSTR.AI101") - _col(w, "CSTR.AI102")) / 1000,
        waste_rate=lambda w: _col(w, "CSTR.FI101") * 60 * _col(w, "CSTR.AI102") / 1000,
        product_output=lambda o: o["production_mol_h"] / 1000,
        waste_output=lambda o: o["production_mol_h"] * (1 / o["conversion"] - 1) / 1000,
        energy_output=lambda o: o["electricity_kw"] * GJ_PER_KWH,
        energy_cost_output=_elec_cost, water_output=None,
        inputs=("tc102_setpoint_k", "feed_flow_l_min", "feed_conc_mol_l", "feed_temp_k"),
        reproduction_tag="CSTR.AY102", reproduction_output=lambda o: 100 * o["conversion"],
        product_price=("cstr_product", 1000.0), evaluate=_cstr_closed_loop,
        priced_amounts={"cstr_feed": lambda w: _col(w, "CSTR.FI101") * 60 * _col(w, "CSTR.AI101")},
    ),
    "biorefinery": KpiBasis(
        product="ethanol", product_unit="t", waste_unit="t",
        waste_definition="COD load to wastewater treatment (unconverted sugars, solubles and fines): "
                         "influent flow x influent COD (FI701 x AI701)",
        tag_units={"BIO.FI507": "t/h", "BIO.FI701": "m**3/h", "BIO.AI701": "kg/m**3", "BIO.QY801": "GJ/h",
                   "BIO.QY803": "GJ/h", "BIO.JI821": "kW", "BIO.JI822": "kW", "BIO.FI404": "t/h",
                   "BIO.FI501": "t/h"},
        energy_rate=lambda w: (_col(w, "BIO.QY801") + _col(w, "BIO.QY803")
                               + (_col(w, "BIO.JI822") - _col(w, "BIO.JI821")) * GJ_PER_KWH),
        energy_definition="fuel fired, LHV (combustor QY801: residue and biogas; natural gas QY803) + electricity "
                          "imported - exported. Natural gas co-fired in the combustor is in both tags; the plant fires "
                          "none there in normal operation",
        product_rate=lambda w: _col(w, "BIO.FI507"),
        waste_rate=lambda w: _col(w, "BIO.FI701") * _col(w, "BIO.AI701") / 1000,
        product_output=lambda o: o["product_t_h"],
        waste_output=lambda o: o["ww_cod_kg_h"] / 1000,
        energy_output=lambda o: (o["fuel_kw"] * GJ_PER_KWH + o["natural_gas_gj_h"]
                                 + (o["power_import_kw"] - o["power_export_kw"]) * GJ_PER_KWH),
        energy_cost_output=lambda o, p: (o["natural_gas_gj_h"] * p["natural_gas"] + o["power_import_kw"] * p["electricity"]
                                         - o["power_export_kw"] * p.get("electricity_export", p["electricity"])),
        water_output=None,
        inputs=("dry_feed_t_h", "enzyme_mg_g", "eh_time_h", "ferm_time_h", "reboiler_ua_kw_k"), derive=_vessels_full,
        # the beer well buffers fermentation from distillation: while the column works a backlog off
        # (or the well fills) the product is not what the train makes at steady state
        unsteady=lambda w: (_col(w, "BIO.FI501") / _col(w, "BIO.FI404") - 1).abs() > BEER_WELL_IMBALANCE,
        reproduction_tag="BIO.FI507", reproduction_output=lambda o: o["product_t_h"],
    ),
    "co2_electrolyzer": KpiBasis(
        product="formic_acid", product_unit="t", waste_unit="t",
        waste_definition="unconverted CO2 vented from the cathode outlet (FY202)",
        tag_units={"ECR.FY301": "t/h", "ECR.FY202": "t/h", "ECR.JI103": "kW"},
        energy_rate=lambda w: _col(w, "ECR.JI103") * GJ_PER_KWH,
        energy_definition="electricity imported (JI103: stack, balance of plant, chiller)",
        product_rate=lambda w: _col(w, "ECR.FY301"),
        waste_rate=lambda w: _col(w, "ECR.FY202"),
        product_output=lambda o: o["formic_acid_kg_h"] / 1000,
        waste_output=lambda o: o["co2_vented_kg_h"] / 1000,
        energy_output=lambda o: o["electricity_kw"] * GJ_PER_KWH,
        energy_cost_output=_elec_cost, water_output=lambda o: o["water_m3_h"],
        inputs=("current_a", "co2_flow_nm3_h", "co2_concentration_pct", "electrode_age_h"),
        reproduction_tag="ECR.FY301", reproduction_output=lambda o: o["formic_acid_kg_h"] / 1000,
    ),
    "smelter": KpiBasis(
        product="aluminium", product_unit="t", waste_unit="t",
        waste_definition=f"spent anode butts: net anode consumption (FY503) x b / (1 - b), b = {ANODE_BUTT_FRACTION:g} "
                         "of the gross anode mass (assumption)",
        tag_units={"SMT.FY401": "t/h", "SMT.FY503": "t/h", "SMT.JI100": "kW"},
        energy_rate=lambda w: _col(w, "SMT.JI100") * GJ_PER_KWH,
        energy_definition="AC electricity imported by the section and its auxiliaries (JI100)",
        product_rate=lambda w: _col(w, "SMT.FY401"),
        waste_rate=lambda w: _col(w, "SMT.FY503") * ANODE_BUTT_FRACTION / (1 - ANODE_BUTT_FRACTION),
        product_output=lambda o: o["aluminium_t_h"],
        waste_output=lambda o: o["anode_t_h"] * ANODE_BUTT_FRACTION / (1 - ANODE_BUTT_FRACTION),
        energy_output=lambda o: o["electricity_kw"] * GJ_PER_KWH,
        energy_cost_output=_elec_cost, water_output=None,
        inputs=("line_current_ka", "acd_cm"),
        reproduction_tag="SMT.FY401", reproduction_output=lambda o: o["aluminium_t_h"],
    ),
}

#: The benefits the origin documents promise, per plant type (percent change; the less and the
#: more ambitious end where a range is given). The CSTR and the electrolyzer documents promise none.
TARGETS: tuple[dict[str, Any], ...] = (
    {"plant_type": "biorefinery", "kpi": "profit", "target_pct": 10.0, "target_stretch_pct": 10.0,
     "source": "biorefinery twin origin document: operating profit +10 %"},
    {"plant_type": "biorefinery", "kpi": "specific_energy", "target_pct": -15.0, "target_stretch_pct": -15.0,
     "source": "biorefinery twin origin document: specific energy -15 %"},
    {"plant_type": "biorefinery", "kpi": "waste_per_unit", "target_pct": -20.0, "target_stretch_pct": -20.0,
     "source": "biorefinery twin origin document: waste -20 % (per t of product here)"},
    {"plant_type": "biorefinery", "kpi": "co2e_per_unit", "target_pct": -25.0, "target_stretch_pct": -25.0,
     "source": "biorefinery twin origin document: CO2e -25 % (per t of product here)"},
    {"plant_type": "smelter", "kpi": "energy_cost_per_unit", "target_pct": -10.0, "target_stretch_pct": -15.0,
     "source": "smelter platform origin document: energy cost -10 to -15 % (per t of aluminium here)"},
    {"plant_type": "smelter", "kpi": "co2e_per_unit", "target_pct": -8.0, "target_stretch_pct": -12.0,
     "source": "smelter platform origin document: GHG emissions -8 to -12 % (per t of aluminium here)"},
)


def write_targets(lake: Lake, *, meta: CommitMeta) -> int:
    """(Re)write ``gold.dim_benefit_targets`` from :data:`TARGETS`."""
    return lake.overwrite(DIM_BENEFIT_TARGETS, pd.DataFrame(list(TARGETS), columns=DIM_BENEFIT_TARGETS.column_names),
                          meta=meta)


# ---------------------------------------------------------------------------------------- reads
def _utc(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _read_hourly(lake: Lake, plant_id: str, day: dt.date, tags: Sequence[str]) -> pd.DataFrame:
    """The day's rows of ``gold.fct_tag_hourly`` for ``tags`` (tag, hour_start, unit, twa_value)."""
    cols = ["tag", "hour_start", "unit", "twa_value"]
    if not lake.exists(FCT_TAG_HOURLY):
        return pd.DataFrame(columns=cols)
    h = lake.read(FCT_TAG_HOURLY, where={"plant_id": plant_id}, start=_utc(day), end=_utc(day + dt.timedelta(days=1)),
                  columns=cols).to_pandas()
    # sorted: sums must not depend on the order Delta returns files in (reruns are bit-identical)
    return h[h["tag"].isin(set(tags))].sort_values(["tag", "hour_start"], kind="stable", ignore_index=True)


def _wide(h: pd.DataFrame, units: Mapping[str, str]) -> Hourly:
    """Hour x tag frame of hourly means, converted to ``units`` where one is named."""
    cols = {}
    for tag, g in h.groupby("tag"):
        values = g.set_index("hour_start")["twa_value"].astype(float)
        unit = g["unit"].iloc[0]
        cols[tag] = pd.Series(convert(values.to_numpy(), unit, units[tag]), index=values.index) if tag in units \
            else values
    wide = pd.DataFrame(cols).sort_index()
    wide.index = pd.to_datetime(wide.index, utc=True)
    return wide


def _daily_amount(rate: pd.Series) -> tuple[float, int]:
    """A day's amount from hourly rates (mean over the measured hours x 24, as carbon accounting does)."""
    r = rate.dropna()
    return (float(r.mean() * 24.0) if len(r) else 0.0), int(len(r))


def _summary(lake: Lake, plant_id: str, day: dt.date, scenario_id: str) -> dict[str, Any] | None:
    if not lake.exists(FCT_EMISSIONS_SUMMARY_DAILY):
        return None
    s = lake.read(FCT_EMISSIONS_SUMMARY_DAILY, where={"plant_id": plant_id, "scenario_id": scenario_id},
                  start=day, end=day + dt.timedelta(days=1)).to_pylist()
    return s[0] if s else None


def _per(x: float | None, amount: float) -> float | None:
    return None if x is None or not amount else x / amount


# ---------------------------------------------------------------------------------------- KPIs
def measure_day(lake: Lake, day: dt.date, *, meta: CommitMeta, plants: Sequence[str] | None = None,
                scenario: Scenario | None = None) -> dict[str, Any]:
    """Measured KPIs of ``day`` per plant instance into ``gold.fct_kpis_daily`` (idempotent per day).

    Money uses the prices in force (``scenario``'s if given) in the optimizer's units; an activity
    item without a price is left out of the money and listed in ``prices_json["unpriced"]``.
    Returns per plant the KPIs written (or why none).
    """
    scenario = scenario or Scenario()
    rules_frame = _rules_frame(lake)
    now = pd.Timestamp.now(tz="UTC")
    out: dict[str, Any] = {}
    for plant_id in plants or instance_ids(capability="optimization"):
        basis = KPI_BASES[plant_type(plant_id)]
        module = plant_optimizer(plant_id)
        streams = get_plant(plant_id).ACTIVITY
        tags = sorted({s.tag for s in streams} | set(basis.tag_units))
        hourly = _read_hourly(lake, plant_id, day, tags)
        wide = _wide(hourly, basis.tag_units)
        product, hours = _daily_amount(basis.product_rate(wide)) if len(wide) else (0.0, 0)
        if not hours:
            out[plant_id] = {"skipped": f"no measured product rate on {day}"}
            log.warning("%s: no KPIs for %s: no measured product rate in gold.fct_tag_hourly", plant_id, day)
            lake.replace_interval(FCT_KPIS_DAILY, pd.DataFrame(columns=FCT_KPIS_DAILY.column_names), start=day,
                                  end=day + dt.timedelta(days=1),
                                  where={"scenario_id": scenario.scenario_id, "plant_id": plant_id}, meta=meta)
            continue
        waste, _ = _daily_amount(basis.waste_rate(wide))
        activity = daily_activity(hourly, streams)
        try:
            cond, prov = conditions_for(lake, plant_id, day, scenario, rules_frame)
        except ContractViolation as exc:  # a price not quoted yet: the physical KPIs still stand
            log.warning("%s: KPIs of %s without money: %s", plant_id, day, exc)
            cond, prov = None, {"prices": {}, "carbon_source": None, "missing": str(exc)}
        money = _money(activity, wide, basis, module, cond, product) if cond is not None else \
            {"revenue": None, "purchases": None, "energy_cost": None, "unpriced": ["all: " + prov["missing"]]}
        energy, _ = _daily_amount(basis.energy_rate(wide))
        water = sum(float(convert(a.amount, a.unit, "m**3")) for a in activity.itertuples() if a.kind == "water_intake")
        summary = _summary(lake, plant_id, day, scenario.scenario_id)
        s12 = total = scope1 = None
        if summary is not None:
            scope1 = float(summary["scope1_tco2e"])
            s12 = scope1 + float(summary["scope2_location_tco2e"])
            total = float(summary["total_location_tco2e"])
        carbon = None if scope1 is None or cond is None else scope1 * cond.carbon_price_usd_t
        profit = None if carbon is None else money["revenue"] - money["purchases"] - carbon
        row = {"scenario_id": scenario.scenario_id, "plant_id": plant_id, "kpi_date": day, "product": basis.product,
               "product_unit": basis.product_unit, "product_amount": product, "hours_measured": hours,
               "revenue_usd": money["revenue"], "purchases_usd": money["purchases"],
               "energy_cost_usd": money["energy_cost"], "carbon_cost_usd": carbon, "operating_profit_usd": profit,
               "energy_gj": energy, "specific_energy_gj_per_unit": _per(energy, product),
               "waste_amount": waste, "waste_unit": basis.waste_unit, "waste_per_unit": _per(waste, product),
               "waste_definition": basis.waste_definition, "energy_definition": basis.energy_definition,
               "co2e_s12_t": s12, "co2e_total_t": total,
               "intensity_s12_t_per_unit": _per(s12, product), "intensity_total_t_per_unit": _per(total, product),
               "water_m3": water, "water_m3_per_unit": _per(water, product),
               "prices_json": json.dumps({**prov["prices"], "carbon": prov["carbon_source"],
                                          "unpriced": money["unpriced"]}),
               "run_id": meta.run_id, "computed_at": now}
        lake.replace_interval(FCT_KPIS_DAILY, pd.DataFrame([row], columns=FCT_KPIS_DAILY.column_names), start=day,
                              end=day + dt.timedelta(days=1),
                              where={"scenario_id": scenario.scenario_id, "plant_id": plant_id}, meta=meta)
        out[plant_id] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()
                         if k in ("product_amount", "operating_profit_usd", "specific_energy_gj_per_unit",
                                  "waste_per_unit", "intensity_s12_t_per_unit", "water_m3")}
    return out


def _money(activity: pd.DataFrame, wide: Hourly, basis: KpiBasis, module: Any, cond: OperatingConditions,
           product: float) -> dict[str, Any]:
    """Revenue, purchases and energy cost of the day from metered activity and the prices in force."""
    revenue = purchases = energy_cost = 0.0
    unpriced: list[str] = []
    prices, units = cond.prices, module.PRICE_ITEMS
    if basis.product_price is not None:
        item, per = basis.product_price
        revenue += product * per * prices[item]
    for item, amount_fn in basis.priced_amounts.items():
        amount, _ = _daily_amount(amount_fn(wide))
        purchases += amount * prices[item]
    for a in activity.itertuples():
        if a.kind in ("process_emission", "biogenic_co2", "water_intake") or a.item in basis.priced_amounts:
            continue
        item = "electricity_export" if a.kind == "electricity_export" and "electricity_export" in prices else a.item
        if item not in prices:
            unpriced.append(f"{a.kind}:{a.item}")
            continue
        denominator = (units.get(item) or units.get(a.item)).split("/", 1)[1]
        try:
            value = a.amount * prices[item] * quantity_factor(denominator, a.unit)
        except ValueError:
            unpriced.append(f"{a.kind}:{a.item}")
            continue
        if a.kind in ("product", "electricity_export"):
            revenue += value
        else:
            purchases += value
        if a.kind in ("fuel", "steam_import", "electricity_import"):
            energy_cost += value
        elif a.kind == "electricity_export":
            energy_cost -= value
    return {"revenue": revenue, "purchases": purchases, "energy_cost": energy_cost, "unpriced": sorted(set(unpriced))}


# ---------------------------------------------------------------------------------------- replay
@dataclass(frozen=True)
class _Point:
    """One steady hour of the twin: profit (USD/h), CO2e (kg/h) and the optimizer's outputs."""

    profit: float
    co2e: float
    outputs: Mapping[str, float]


class _Twin:
    """The calibrated twin of one plant-day: the steady state at given inputs and parameters, cached.

    It is the optimizer's own model, initialised at the inputs (the square solve every
    optimization starts from): ``current_profit_usd_h``, ``current_co2e_kg_h`` and the current
    outputs of :func:`optimize`. Emission limits are dropped on a retry (they bind only the
    optimization, not the evaluation of a point); a point the model cannot solve is None.
    """

    def __init__(self, module: Any, conditions: OperatingConditions, basis: KpiBasis) -> None:
        self.module, self.conditions, self.basis = module, conditions, basis
        self.cache: dict[tuple, _Point | None] = {}
        self.failures: list[str] = []

    def at(self, inputs: Mapping[str, float], parameters: Mapping[str, float] | None = None) -> _Point | None:
        params = dict(self.conditions.parameters if parameters is None else parameters)
        key = (tuple(sorted((k, float(f"{v:.7g}")) for k, v in inputs.items())), tuple(sorted(params.items())))
        if key not in self.cache:
            self.cache[key] = self._solve(dict(key[0]), params)
        return self.cache[key]

    def _solve(self, inputs: dict[str, float], params: dict[str, float]) -> _Point | None:
        cond = dataclasses.replace(self.conditions, current=inputs, parameters=params)
        if self.basis.evaluate is not None:
            point = self.basis.evaluate(inputs, cond)
            if point is None:
                self.failures.append(f"{inputs}: no steady state")
            return point
        error = None
        for c in (cond, dataclasses.replace(cond, limits={})):
            try:
                sol = self.module.optimize(c)
            except (InfeasibleOptimization, ValueError) as exc:
                error = exc
                continue
            return _Point(float(sol.current_profit_usd_h), float(sol.current_co2e_kg_h),
                          {**sol.current_outputs, **sol.current_setpoints})
        self.failures.append(f"{inputs}: {str(error)[:200]}")
        return None


def _hourly_inputs(hourly: pd.DataFrame, day: dt.date, module: Any, basis: KpiBasis,
                   defaults: Mapping[str, float]) -> pd.DataFrame:
    """Hour x input frame of the recorded operation: every setpoint tag's hourly means (in the
    optimizer's units, within its bounds); the twin's inputs without a tag at ``defaults`` (the
    optimizer's current point). ``hourly``: the day's rows of gold.fct_tag_hourly (:func:`_read_hourly`)."""
    tagged = dict(getattr(module, "SETPOINT_TAGS", {}))
    wide = _wide(hourly[hourly["tag"].isin({t for t, _ in tagged.values()})], {})
    hours = pd.date_range(_utc(day), periods=24, freq="h")
    frame = pd.DataFrame(index=hours)
    for name in dict.fromkeys([*tagged, *basis.inputs]):
        if name in tagged and tagged[name][0] in wide:
            tag, factor = tagged[name]
            values = wide[tag].reindex(hours) * factor
            sp = module.SETPOINTS.get(name)
            frame[name] = values.clip(sp.lower, sp.upper) if sp is not None else values
        elif name in defaults:
            frame[name] = float(defaults[name])
    # an hour without a reading of a setpoint held it at its last value
    frame = frame.ffill().bfill()
    if basis.derive is not None and len(frame.dropna()):
        derived = pd.DataFrame([basis.derive(r.to_dict()) for _, r in frame.iterrows()], index=frame.index)
        frame[derived.columns] = derived
    return frame


def _applied_path(recorded: pd.DataFrame, targets: Mapping[str, float], applied: pd.Series,
                  limits: Mapping[str, tuple[float, float] | None], *, settle_min: float) -> pd.DataFrame:
    """Hourly means of the inputs moved from their recorded values to ``targets`` in each run of applied hours.

    Moves are coordinated, as an operator or an APC layer moves several set points: every input
    travels the straight line from the recorded point (at the run's first hour) to the target, in
    ``n`` equal writes, ``n`` the most any tag needs to keep each write within its step limit.
    Each write is ramped at the pace of the slowest tag (``limits[name] = (max step, max rate per
    minute)``, the write-back envelope's) and followed by ``settle_min`` before the next one (no
    second write of a tag while one is in flight). Inputs without a writable tag (``limits``
    None) follow the same line. Outside the runs the recorded values hold.
    """
    out = recorded.astype(float).copy()
    names = [n for n in targets if n in recorded.columns]
    flags = applied.reindex(recorded.index, fill_value=False).to_numpy()
    i = 0
    while i < len(flags):
        if not flags[i]:
            i += 1
            continue
        j = i
        while j < len(flags) and flags[j]:
            j += 1
        start = {n: float(recorded[n].iloc[i]) for n in names}
        delta = {n: float(targets[n]) - start[n] for n in names}
        moving = {n: limits[n] for n in names if limits.get(n) is not None and abs(delta[n]) > 1e-12}
        fraction = np.ones((j - i) * 60)
        if moving:
            writes = max(1, max(math.ceil(abs(delta[n]) / step - 1e-9) for n, (step, _) in moving.items()))
            ramp = max(abs(delta[n]) / writes / rate for n, (_, rate) in moving.items())
            per_write = max(1, math.ceil(ramp))
            k = np.arange(1, per_write + 1)
            segment = np.minimum(k / ramp, 1.0)
            pieces = []
            for w in range(writes):
                pieces += [(w + segment) / writes, np.full(int(round(settle_min)), (w + 1) / writes)]
            curve = np.concatenate(pieces)[: len(fraction)]
            fraction[: len(curve)] = curve
        hourly = fraction.reshape(j - i, 60).mean(axis=1)
        for n in names:
            out.iloc[i:j, out.columns.get_loc(n)] = start[n] + hourly * delta[n]
        i = j
    return out


def _kpis(points: Sequence[_Point], basis: KpiBasis, prices: Mapping[str, float]) -> dict[str, float | None]:
    """Day totals of a sequence of steady hours."""
    o = [p.outputs for p in points]
    return {"profit": sum(p.profit for p in points), "co2e_t": sum(p.co2e for p in points) / 1000.0,
            "product": sum(basis.product_output(x) for x in o), "energy": sum(basis.energy_output(x) for x in o),
            "energy_cost": sum(basis.energy_cost_output(x, prices) for x in o),
            "waste": sum(basis.waste_output(x) for x in o),
            "water": None if basis.water_output is None else sum(basis.water_output(x) for x in o)}


def _pct(new: float, old: float) -> float | None:
    return None if not old or not math.isfinite(old) else 100.0 * (new - old) / abs(old)


def _per_unit(k: Mapping[str, float | None], key: str) -> float | None:
    return None if k[key] is None or not k["product"] else k[key] / k["product"]


DELTAS: tuple[str, ...] = ("profit", "specific_energy", "energy_cost_per_unit", "waste_per_unit", "co2e",
                           "co2e_per_unit")


def _deltas(pol: Mapping[str, float | None], base: Mapping[str, float | None]) -> dict[str, float | None]:
    def ratio(key: str) -> float | None:
        a, b = _per_unit(pol, key), _per_unit(base, key)
        return None if a is None or b is None else _pct(a, b)

    return {"profit": _pct(pol["profit"], base["profit"]), "specific_energy": ratio("energy"),
            "energy_cost_per_unit": ratio("energy_cost"), "waste_per_unit": ratio("waste"),
            "co2e": _pct(pol["co2e_t"], base["co2e_t"]), "co2e_per_unit": ratio("co2e_t")}


def _parameter_uncertainty(lake: Lake, plant_id: str, day: dt.date, cond: OperatingConditions
                           ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Names, standard errors and correlation matrix of the calibrated parameters in use."""
    if not cond.parameters or not lake.exists(FCT_MODEL_PARAMETERS):
        return [], np.zeros(0), np.zeros((0, 0))
    p = lake.read(FCT_MODEL_PARAMETERS, where={"plant_id": plant_id, "model_version": cond.model_version},
                  end=day + dt.timedelta(days=1)).to_pandas()
    p = p[p["parameter"].isin(cond.parameters) & p["std_error"].notna() & (p["std_error"] > 0)]
    p = p.drop_duplicates("parameter", keep="last")
    names = list(p["parameter"])
    se = p["std_error"].to_numpy(dtype=float)
    corr = np.eye(len(names))
    for i, raw in enumerate(p["correlation_json"] if "correlation_json" in p else []):
        if isinstance(raw, str):
            row = json.loads(raw)
            for j, q in enumerate(names):
                if q in row and i != j:
                    corr[i, j] = corr[j, i] = float(row[q])
    return names, se, corr


def _reproduction(plant_id: str, basis: KpiBasis, measured: Hourly, base: Mapping[pd.Timestamp, _Point]
                  ) -> dict[str, Any]:
    """How well the baseline replay reproduces the historian's main output tag (see the table's columns)."""
    tag = basis.reproduction_tag
    none = {"reproduction_tag": tag, "reproduction_bias_pct": None, "reproduction_mape_pct": None,
            "reproduction_z": None, "reproduces": None}
    if tag not in measured:
        return none
    meas = measured[tag]
    pairs = [(basis.reproduction_output(p.outputs), float(meas[h])) for h, p in base.items()
             if h in meas.index and pd.notna(meas[h]) and meas[h] != 0]
    if not pairs:
        return none
    model, obs = np.array(pairs).T
    bias = _pct(float(model.sum()), float(obs.sum()))
    mape = float(np.mean(np.abs(model - obs) / np.abs(obs)) * 100.0)
    spec = {t.tag: t for t in get_plant(plant_id).TAGS}.get(tag)
    sigma = None
    if spec is not None and spec.noise_pct:
        # the span in the tag's engineering unit, converted as a difference (degC -> K adds nothing)
        lo, hi = (float(convert(v, spec.unit, basis.tag_units[tag])) for v in (spec.range_min, spec.range_max))
        sigma = spec.noise_pct / 100.0 * (hi - lo)
    z = None if sigma is None else float(np.sqrt(np.mean((model - obs) ** 2)) / sigma)
    ok = (bias is not None and abs(bias) <= REPRODUCTION_MAX_BIAS_PCT and mape <= REPRODUCTION_MAX_MAPE_PCT
          and (z is None or z <= REPRODUCTION_MAX_Z))
    return {"reproduction_tag": tag, "reproduction_bias_pct": bias, "reproduction_mape_pct": mape,
            "reproduction_z": z, "reproduces": bool(ok)}


def replay_day(lake: Lake, day: dt.date, *, meta: CommitMeta, plants: Sequence[str] | None = None,
               scenario: Scenario | None = None, policies: Sequence[DecisionPolicy] = REPLAY_POLICIES,
               budget_fraction: float | None = DEFAULT_BUDGET_FRACTION, uncertainty: bool = True) -> dict[str, Any]:
    """Counterfactual replay of ``day`` per plant instance into ``gold.fct_benefits_daily``.

    Args:
        lake: the lake (gold hourly tags, events, prices, rules, calibration).
        day: UTC day replayed.
        meta: commit metadata.
        plants: plant instances (default: every instance with an optimizer).
        scenario: prices and rules to replay under (default: those in force); the policies pick
            their points under it, so a scenario replay re-simulates operation, not only prices.
        policies: decision policies to replay (default :data:`REPLAY_POLICIES`).
        budget_fraction: unless ``policies`` has a ``co2e_budget`` of its own, one is added with a
            budget of this fraction of the baseline's CO2e (None: none).
        uncertainty: propagate the calibration's standard errors to the deltas.

    Returns:
        Per plant and policy the deltas (percent) written, and the baseline's reproduction.
    """
    scenario = scenario or Scenario()
    rules_frame = _rules_frame(lake)
    now = pd.Timestamp.now(tz="UTC")
    out: dict[str, Any] = {}
    for plant_id in plants or instance_ids(capability="optimization"):
        t0 = time.perf_counter()
        try:
            rows, summary = _replay_plant(lake, plant_id, day, scenario, rules_frame, policies, budget_fraction,
                                          uncertainty, meta, now)
        except (ContractViolation, InfeasibleOptimization, _Skip) as exc:
            # nothing to replay (no prices yet, no steady hour, the twin not solved at the day's
            # point): the day's earlier rows of the plant go too, so gold never shows a stale replay
            rows, summary = [], {"skipped": str(exc)[:300]}
            log.warning("%s: no replay of %s: %s", plant_id, day, exc)
        lake.replace_interval(FCT_BENEFITS_DAILY, pd.DataFrame(rows, columns=FCT_BENEFITS_DAILY.column_names),
                              start=day, end=day + dt.timedelta(days=1),
                              where={"scenario_id": scenario.scenario_id, "plant_id": plant_id}, meta=meta)
        out[plant_id] = summary | {"seconds": round(time.perf_counter() - t0, 2)}
    return out


class _Skip(Exception):
    """A plant-day with nothing to replay, and why."""


def _replay_plant(lake: Lake, plant_id: str, day: dt.date, scenario: Scenario, rules_frame: pd.DataFrame,
                  policies: Sequence[DecisionPolicy], budget_fraction: float | None, uncertainty: bool,
                  meta: CommitMeta, now: pd.Timestamp) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows of one plant-day's replay (see :func:`replay_day`) and a summary."""
    basis = KPI_BASES[plant_type(plant_id)]
    module = plant_optimizer(plant_id)
    cond, _ = conditions_for(lake, plant_id, day, scenario, rules_frame)
    twin = _Twin(module, cond, basis)
    best = module.optimize(cond)
    # one read of the day's hourly means: the setpoint tags and the basis' own (steadiness, reproduction)
    hourly = _read_hourly(lake, plant_id, day, [*(t for t, _ in getattr(module, "SETPOINT_TAGS", {}).values()),
                                                *basis.tag_units])
    measured = _wide(hourly[hourly["tag"].isin(set(basis.tag_units))], basis.tag_units)
    recorded = _hourly_inputs(hourly, day, module, basis, best.current_setpoints)
    if recorded.empty or recorded.isna().all(axis=None):
        raise _Skip(f"no recorded setpoints on {day} in gold.fct_tag_hourly")
    held = held_hours(lake, plant_id, day)
    if basis.unsteady is not None:
        flags = basis.unsteady(measured)
        held |= flags.reindex(held.index, fill_value=False).fillna(False).astype(bool)
    recorded_all, recorded = recorded, recorded[[c for c in basis.inputs if c in recorded]]
    base_pts = {h: twin.at(row.dropna().to_dict()) for h, row in recorded.iterrows() if not held[h]}
    base_pts = {h: p for h, p in base_pts.items() if p is not None}
    hours = pd.DatetimeIndex(sorted(base_pts))
    if not len(hours):
        raise _Skip("no steady hour: every hour had an open event or, by the historian, an inventory filling or "
                    "draining" if held.all() else f"no steady hour the twin could solve: {twin.failures[:1]}")
    base_k = _kpis([base_pts[h] for h in hours], basis, cond.prices)
    base_co2e_kg_h, base_profit_usd_h = 1000.0 * base_k["co2e_t"] / len(hours), base_k["profit"] / len(hours)
    # ramps restart after every gap (an event, an hour the twin could not solve)
    steady = pd.Series(True, index=recorded.index).where(recorded.index.isin(hours), False)
    policy_list = list(policies)
    if budget_fraction is not None and not any(p.kind == "co2e_budget" for p in policy_list):
        policy_list.append(DecisionPolicy("co2e_budget", co2e_budget_t_d=budget_fraction * base_co2e_kg_h * 24 / 1000))
    names, se, corr = _parameter_uncertainty(lake, plant_id, day, cond) if uncertainty else ([], [], [])
    # the policies decide at the day's steady operating point (the day's mean over all hours
    # would average in shutdowns and start-ups)
    steady_cond = dataclasses.replace(cond, current={
        k: float(v) for k, v in recorded_all.loc[hours].mean().items() if k in getattr(module, "SETPOINT_TAGS", {})})
    steady_best = module.optimize(steady_cond)
    rows = [_row(scenario.scenario_id, plant_id, day, "baseline",
                 {"decision_policy": "baseline", "note": "the recorded operation"}, base_k, base_k, recorded.loc[hours],
                 len(hours), len(hours), basis, cond, meta, now) | _reproduction(plant_id, basis, measured, base_pts)]
    summary: dict[str, Any] = {"hours": len(hours), "held_hours": int(held.sum()),
                               "baseline": {"profit_usd": round(base_k["profit"], 2),
                                            "co2e_t": round(base_k["co2e_t"], 4)},
                               "reproduction": {k: rows[0][k] for k in ("reproduction_bias_pct", "reproduction_mape_pct",
                                                                        "reproduction_z", "reproduces")}}
    for policy in policy_list:
        try:
            choice = choose(policy, steady_cond, optimize=module.optimize, best=steady_best,
                            baseline_co2e_kg_h=base_co2e_kg_h, baseline_profit_usd_h=base_profit_usd_h)
        except InfeasibleOptimization as exc:
            log.warning("%s: policy %s picked no point on %s: %s", plant_id, policy.kind, day, exc)
            summary[policy.kind] = {"skipped": str(exc)[:200]}
            continue
        # "hold" (the default policy when nothing meeting the constraints emits less): no write at all
        targets = {} if choice.solution.objective == "hold" else dict(choice.solution.setpoints)
        note = choice.note
        path, pts, applied = _run_policy(plant_id, module, basis, twin, recorded, targets, steady, hours, base_pts)
        pol_k = _kpis(pts, basis, cond.prices)
        if policy.kind == DEFAULT_POLICY and targets and pol_k["co2e_t"] > base_k["co2e_t"]:
            # The point is within the cap, but the way there is not: CO2e along a move is not linear
            # and the ramp hours count. Aim a little lower until the day keeps the promise.
            for margin in (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, None):
                if margin is None:
                    targets, note = {}, note + "; every lower cap still raised the day's CO2e on the way: kept the " \
                                                  "recorded setpoints"
                else:
                    lower = choose(policy, steady_cond, optimize=module.optimize, best=steady_best,
                                   baseline_co2e_kg_h=base_co2e_kg_h * (1 - margin),
                                   baseline_profit_usd_h=base_profit_usd_h)
                    targets = {} if lower.solution.objective == "hold" else dict(lower.solution.setpoints)
                path, pts, applied = _run_policy(plant_id, module, basis, twin, recorded, targets, steady, hours,
                                                 base_pts)
                pol_k = _kpis(pts, basis, cond.prices)
                if margin is not None and pol_k["co2e_t"] <= base_k["co2e_t"]:
                    choice, note = lower, (lower.note + f"; capped {margin:.2%} below the baseline: the ramps to the "
                                                        "point at the baseline's CO2e pass points emitting more")
                    break
        row = _row(scenario.scenario_id, plant_id, day, policy.kind,
                   {**policy.as_params(), "note": note,
                    "targets": {k: round(v, 6) for k, v in choice.solution.setpoints.items()},
                    "active_constraints": list(choice.solution.active_constraints)},
                   pol_k, base_k, path, len(hours), applied, basis, cond, meta, now)
        if len(names):
            row |= _uncertainty(twin, basis, cond, recorded.loc[hours], path, names, se, corr)
        else:
            row |= {f"delta_{k}_pct_sd": None for k in DELTAS}
        rows.append(row)
        summary[policy.kind] = {f"delta_{k}_pct": None if row[f"delta_{k}_pct"] is None
                                else round(row[f"delta_{k}_pct"], 3) for k in DELTAS}
    summary |= {"twin_evaluations": len(twin.cache), "twin_failures": len(twin.failures)}
    return rows, summary


def _run_policy(plant_id: str, module: Any, basis: KpiBasis, twin: _Twin, recorded: pd.DataFrame,
                targets: Mapping[str, float], steady: pd.Series, hours: pd.DatetimeIndex,
                base_pts: Mapping[pd.Timestamp, _Point]) -> tuple[pd.DataFrame, list[_Point], int]:
    """The hourly inputs of a policy's move, the twin's hours along it and how many of them it solved
    (an hour it cannot solve runs as recorded)."""
    path = _policy_path(plant_id, module, recorded, targets, steady).loc[hours]
    if basis.derive is not None:
        path = path.apply(lambda r: pd.Series({**r.to_dict(), **basis.derive(r.to_dict())}), axis=1)[path.columns]
    pts = [twin.at(path.loc[h].dropna().to_dict()) for h in hours]
    applied = sum(p is not None for p in pts)
    return path, [p if p is not None else base_pts[h] for p, h in zip(pts, hours)], applied


def _policy_path(plant_id: str, module: Any, recorded: pd.DataFrame, targets: Mapping[str, float],
                 applied: pd.Series) -> pd.DataFrame:
    """Hourly inputs under a policy: the inputs with a target moved the write-back's way (see
    :func:`_applied_path`); inputs without one (held conditions, the feed) as recorded."""
    from optimization.writeback import Envelope

    envelope = Envelope()
    specs = {t.tag: t for t in get_plant(plant_id).TAGS}
    tags = getattr(module, "SETPOINT_TAGS", {})
    limits: dict[str, tuple[float, float] | None] = {}
    for name in targets:
        spec = specs.get(tags[name][0]) if name in tags else None
        factor = tags[name][1] if name in tags else 1.0
        limits[name] = None if spec is None else (envelope.step_limit(spec) * factor,
                                                  envelope.rate_limit(spec) * factor)
    return _applied_path(recorded, {k: v for k, v in targets.items() if k in recorded.columns}, applied, limits,
                         settle_min=envelope.settle_time.total_seconds() / 60.0)


def _uncertainty(twin: _Twin, basis: KpiBasis, cond: OperatingConditions, recorded: pd.DataFrame,
                 path: pd.DataFrame, names: Sequence[str], se: np.ndarray, corr: np.ndarray) -> dict[str, float]:
    """One-sigma of each delta from the calibration: linearised at the day's mean operating points."""
    base_in, pol_in = recorded.mean().to_dict(), path.mean().to_dict()

    def deltas(params: Mapping[str, float]) -> dict[str, float | None] | None:
        b, p = twin.at(base_in, params), twin.at(pol_in, params)
        if b is None or p is None:
            return None
        return _deltas(_kpis([p], basis, cond.prices), _kpis([b], basis, cond.prices))

    d0 = deltas(cond.parameters)
    out: dict[str, float | None] = {f"delta_{k}_pct_sd": None for k in DELTAS}
    if d0 is None:
        return out
    jac: dict[str, list[float | None]] = {k: [] for k in DELTAS}
    for name, s in zip(names, se):
        step = 1.0
        dk = deltas({**cond.parameters, name: cond.parameters[name] + float(s)})
        if dk is None:  # one standard error up is not solvable: one down, the slope's sign turned
            step = -1.0
            dk = deltas({**cond.parameters, name: cond.parameters[name] - float(s)})
        for k in DELTAS:
            ok = dk is not None and dk[k] is not None and d0[k] is not None
            jac[k].append(step * (dk[k] - d0[k]) if ok else None)
    for k in DELTAS:
        if any(v is None for v in jac[k]):
            continue  # a parameter whose effect could not be evaluated: no sigma rather than a small one
        j = np.asarray(jac[k], dtype=float)
        out[f"delta_{k}_pct_sd"] = float(math.sqrt(max(float(j @ corr @ j), 0.0)))
    return out


def _row(scenario_id: str, plant_id: str, day: dt.date, policy: str, params: Mapping[str, Any],
         k: Mapping[str, float | None], base: Mapping[str, float | None], inputs: pd.DataFrame, hours: int,
         applied: int, basis: KpiBasis, cond: OperatingConditions, meta: CommitMeta, now: pd.Timestamp) -> dict[str, Any]:
    d = _deltas(k, base)
    row = {"scenario_id": scenario_id, "plant_id": plant_id, "plant_type": plant_type(plant_id), "benefit_date": day,
           "policy": policy,
           "policy_params_json": json.dumps(params), "hours_replayed": hours, "hours_applied": applied,
           "product_unit": basis.product_unit, "product_amount": k["product"], "profit_usd": k["profit"],
           "energy_gj": k["energy"], "energy_cost_usd": k["energy_cost"], "waste_amount": k["waste"],
           "waste_unit": basis.waste_unit, "co2e_t": k["co2e_t"],
           "specific_energy_gj_per_unit": _per_unit(k, "energy"),
           "energy_cost_usd_per_unit": _per_unit(k, "energy_cost"), "waste_per_unit": _per_unit(k, "waste"),
           "co2e_t_per_unit": _per_unit(k, "co2e_t"),
           "setpoints_json": json.dumps({c: round(float(v), 6) for c, v in inputs.mean().items()}),
           "model_version": cond.model_version, "run_id": meta.run_id, "computed_at": now}
    for key in DELTAS:
        row[f"delta_{key}_pct"] = d[key]
        row[f"delta_{key}_pct_sd"] = 0.0 if policy == "baseline" else None
    return row


# ---------------------------------------------------------------------------------------- targets
KPI_LABELS: dict[str, str] = {"profit": "operating profit", "specific_energy": "specific energy",
                              "energy_cost_per_unit": "energy cost per unit of product",
                              "waste_per_unit": "waste per unit of product", "co2e": "CO2e",
                              "co2e_per_unit": "CO2e per unit of product"}
_SUMS = {"profit": "profit_usd", "product": "product_amount", "energy": "energy_gj", "energy_cost": "energy_cost_usd",
         "waste": "waste_amount", "co2e_t": "co2e_t"}


def achieved(benefits: pd.DataFrame, targets: Sequence[Mapping[str, Any]] = TARGETS) -> pd.DataFrame:
    """Each promised target against what the replays in ``benefits`` achieve, per scenario, plant and policy.

    The same figures as the view ``gold.v_benefit_targets`` (which covers every replayed day) for any
    selection of ``gold.fct_benefits_daily`` rows, e.g. a report's window: the change of the period's
    totals against the baseline's, the mean of the daily one-sigma uncertainties, met and met at two sigma.
    """
    cols = ["scenario_id", "plant_id", "plant_type", "policy", "kpi", "target_pct", "target_stretch_pct",
            "achieved_pct", "achieved_sd_pct", "met", "met_2sigma", "days", "baseline_reproduces", "source"]
    if benefits.empty:
        return pd.DataFrame(columns=cols)
    key = ["scenario_id", "plant_id", "benefit_date"]
    base = benefits[benefits["policy"] == "baseline"].set_index(key)
    rows = []
    for (scenario_id, plant_id, ptype, policy), g in benefits[benefits["policy"] != "baseline"].groupby(
            ["scenario_id", "plant_id", "plant_type", "policy"]):
        g = g.set_index(key)
        q = base.reindex(g.index).dropna(subset=["profit_usd"])
        g = g.loc[q.index]
        if g.empty:
            continue
        pol = {k: float(g[c].sum()) for k, c in _SUMS.items()}
        ref = {k: float(q[c].sum()) for k, c in _SUMS.items()}
        deltas = _deltas(pol, ref)
        for t in targets:
            if t["plant_type"] != ptype:
                continue
            value = deltas[t["kpi"]]
            sd = g[f"delta_{t['kpi']}_pct_sd"].mean()
            sd = None if pd.isna(sd) else float(sd)
            up = t["target_pct"] >= 0
            met = None if value is None else (value >= t["target_pct"] if up else value <= t["target_pct"])
            margin = 2 * (sd or 0.0)
            met2 = None if value is None else (value - margin >= t["target_pct"] if up
                                                else value + margin <= t["target_pct"])
            rows.append({"scenario_id": scenario_id, "plant_id": plant_id, "plant_type": ptype, "policy": policy,
                         "kpi": t["kpi"], "target_pct": t["target_pct"], "target_stretch_pct": t["target_stretch_pct"],
                         "achieved_pct": value, "achieved_sd_pct": sd, "met": met, "met_2sigma": met2,
                         "days": len(g), "baseline_reproduces": bool(q["reproduces"].fillna(False).all()),
                         "source": t["source"]})
    return pd.DataFrame(rows, columns=cols)
