"""Lake-facing steps of setpoint optimization: conditions from gold, recommendations, Pareto fronts.

For a plant and a day, :func:`conditions_for` gathers what the optimizer depends on besides the
physics — the prices in force (``gold.fct_prices_daily``, the latest quote on or before the day,
converted to the units the plant's optimizer asks for), the carbon price and free allocation,
grid factor, GWPs and emission limits in force (regulatory feed), the latest calibrated
parameters (``gold.fct_model_parameters``) and the current setpoints (the day's hourly means in
``gold.fct_tag_hourly``) — and applies a :class:`Scenario`'s changes. :func:`optimize_day`
solves the profit optimum and an ε-constraint Pareto front and writes both to gold, keyed by the
scenario id.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from etl.market import quantity_factor
from etl.regulatory import rules_from_frame
from models.fleet import instance_ids
from models.sites import get_site
from nexus.errors import ContractViolation, InfeasibleOptimization
from optimization.plants import (
    OperatingConditions,
    Solution,
    plant_optimizer,
)
from optimization.policy import DecisionPolicy, choose
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import (
    FCT_EVENTS,
    FCT_MODEL_PARAMETERS,
    FCT_PARETO_FRONT,
    FCT_PRICES_DAILY,
    FCT_SETPOINT_RECOMMENDATIONS,
    FCT_TAG_HOURLY,
    SILVER_REGULATORY_RULES,
)

log = logging.getLogger(__name__)
BASE = "base"
#: Densities for volume-quoted products priced per mass (kg/m3): ethanol at 15 °C (ASTM D4806 basis).
DENSITY_KG_M3 = {"ethanol": 789.0}
#: Mass fraction of the active substance in a quote, where the plant meters the pure substance:
#: sulfuric acid is quoted per short ton of 93 % acid (66 °Bé), the biorefinery meters 100 % H2SO4.
QUOTE_PURITY = {"sulfuric_acid": 0.93}


@dataclass(frozen=True)
class Scenario:
    """A what-if: changes to the prices and rules a past or future day is evaluated under.

    Attributes:
        scenario_id: key of the scenario's rows in gold (``base`` = no change).
        carbon_price_usd_t: replaces the carbon price in force (before free allocation).
        grid_kg_co2e_per_kwh: replaces the grid factor (location- and market-based).
        price_multipliers: item → factor on its market price (``{"electricity": 1.5}``).
        limit_overrides: ``"<plant>:<pollutant>:<averaging>"`` → limit in the unit of the limit in
            force (``{"smelter:cf4:day": 5.0}``).
    """

    scenario_id: str = BASE
    carbon_price_usd_t: float | None = None
    grid_kg_co2e_per_kwh: float | None = None
    price_multipliers: Mapping[str, float] = field(default_factory=dict)
    limit_overrides: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.scenario_id or not self.scenario_id.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"scenario_id must be letters, digits, - or _, got {self.scenario_id!r}")
        changed = (self.carbon_price_usd_t is not None or self.grid_kg_co2e_per_kwh is not None
                   or bool(self.price_multipliers) or bool(self.limit_overrides))
        if self.scenario_id == BASE and changed:
            raise ValueError("the base scenario cannot change prices or rules; give the scenario its own scenario_id")
        for key in self.limit_overrides:
            if len(key.split(":")) != 3:
                raise ValueError(f"limit override keys are '<plant>:<pollutant>:<averaging>', got {key!r}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Scenario:
        """From DAG params (``scenario_id``, ``carbon_price_usd_t``, ``grid_kg_co2e_per_kwh``,
        ``price_multipliers``, ``limit_overrides``); missing or null values mean no change."""
        return cls(scenario_id=params.get("scenario_id") or BASE,
                   carbon_price_usd_t=params.get("carbon_price_usd_t"),
                   grid_kg_co2e_per_kwh=params.get("grid_kg_co2e_per_kwh"),
                   price_multipliers=dict(params.get("price_multipliers") or {}),
                   limit_overrides=dict(params.get("limit_overrides") or {}))

    def rules_overrides(self, plant_id: str, limits_in_force: Mapping[tuple[str, str], Mapping[str, Any]]
                        ) -> dict[str, Any] | None:
        """The scenario as overrides of :class:`etl.regulatory.RulesInForce` (carbon accounting uses them)."""
        out: dict[str, Any] = {}
        if self.grid_kg_co2e_per_kwh is not None:
            out["grid_location_kg_per_kwh"] = out["grid_market_kg_per_kwh"] = float(self.grid_kg_co2e_per_kwh)
        limits = {}
        for key, value in self.limit_overrides.items():
            plant, pollutant, averaging = key.split(":")
            if plant == plant_id:
                unit = limits_in_force.get((pollutant, averaging), {}).get("unit", "kg")
                limits[(pollutant, averaging)] = {"limit": float(value), "unit": unit, "document_id": "scenario",
                                                  "version": 0}
        if limits:
            out["limits"] = limits
        return out or None


def _rules_frame(lake: Lake) -> pd.DataFrame:
    if not lake.exists(SILVER_REGULATORY_RULES):
        raise ContractViolation("silver.regulatory__rules does not exist: run ingest_regulatory_data first")
    return lake.read(SILVER_REGULATORY_RULES).to_pandas()


def _prices_on(lake: Lake, day: dt.date, lookback_days: int = 45) -> pd.DataFrame:
    if not lake.exists(FCT_PRICES_DAILY):
        return pd.DataFrame(columns=FCT_PRICES_DAILY.column_names)
    p = lake.read(FCT_PRICES_DAILY, start=day - dt.timedelta(days=lookback_days), end=day + dt.timedelta(days=1)
                  ).to_pandas()
    return p.sort_values("price_date").groupby("series_id").tail(1)


def _convert_price(price: float, unit: str, item: str, target: str) -> float:
    """``price`` in ``<ccy>/<unit>`` to ``USD/<target unit>`` (the gold price is in the reporting currency)."""
    src = unit.split("/", 1)[1]
    dst = target.split("/", 1)[1]
    density = DENSITY_KG_M3.get(item)
    return price * quantity_factor(src, dst, density) / QUOTE_PURITY.get(item, 1.0)


def prices_for(lake: Lake, plant_id: str, day: dt.date, items: Mapping[str, str],
               defaults: Mapping[str, float] | None = None, *, quotes: pd.DataFrame | None = None
               ) -> dict[str, dict[str, Any]]:
    """Price of each item in force on ``day`` in the unit asked for: ``{item: {"value", "unit", "source"}}``.

    Electricity and natural gas come from the site's own market series; other items from the series
    that prices the item. Items without a quote fall back to ``defaults`` (the optimizer's stated
    assumptions), else raise :class:`ContractViolation` naming the item.
    """
    site = get_site(plant_id)
    quotes = _prices_on(lake, day) if quotes is None else quotes
    by_series = {r["series_id"]: r for r in quotes.to_dict("records")}
    by_item: dict[str, dict] = {}
    for r in quotes.to_dict("records"):
        by_item.setdefault(r["item"], r)
    preferred = {"electricity": site.power_series, "natural_gas": site.gas_series}
    out = {}
    for item, unit in items.items():
        row = by_series.get(preferred.get(item, "")) or by_item.get(item)
        if row is not None and row["unit"].startswith("USD/"):
            out[item] = {"value": _convert_price(float(row["price"]), row["unit"], item, unit), "unit": unit,
                         "source": f"{row['series_id']} {row['price_date']}"}
        elif defaults and item in defaults:
            out[item] = {"value": float(defaults[item]), "unit": unit, "source": "optimizer default (assumption)"}
        else:
            raise ContractViolation(f"{plant_id}: no price for {item!r} on or before {day} in gold.fct_prices_daily "
                                    f"and no default; ingest the market feed first")
    return out


def carbon_price_usd_t(lake: Lake, plant_id: str, day: dt.date, pricing: Mapping[str, Any], *,
                       quotes: pd.DataFrame | None = None) -> tuple[float, str]:
    """Effective carbon price (USD/t CO2e, net of free allocation) under the pricing rules in force."""
    scheme = pricing.get("scheme", "none")
    free = float(pricing.get("free_allocation_share") or 0.0)
    if scheme == "none":
        return 0.0, "no carbon pricing in force"
    if scheme == "eu_ets":
        series = pricing.get("price_series") or get_site(plant_id).carbon_series
        quotes = _prices_on(lake, day) if quotes is None else quotes
        row = quotes[quotes["series_id"] == series]
        if row.empty:
            raise ContractViolation(f"{plant_id}: no {series} price on or before {day} for the EU ETS cost")
        price = float(row["price"].iloc[0])
        floor = pricing.get("price_floor")
        price = max(price, float(floor)) if floor is not None and not pd.isna(floor) else price
        return price * (1.0 - free), f"{series} {row['price_date'].iloc[0]} x (1 - {free:g} free)"
    rate = float(pricing.get("tax_rate") or 0.0)
    currency = pricing.get("currency") or "USD"
    if currency != "USD":
        quotes = _prices_on(lake, day) if quotes is None else quotes
        fx = quotes[quotes["item"] == f"fx_{currency.lower()}"]
        if fx.empty:
            raise ContractViolation(f"{plant_id}: carbon tax in {currency} but no FX rate on or before {day}")
        rate *= float(fx["price"].iloc[0])
    return rate * (1.0 - free), f"carbon tax {pricing.get('tax_rate')} {currency}/t x (1 - {free:g} free)"


def hourly_caps(limits: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, float]:
    """Emission limits as hourly caps in kg/h (a daily limit / 24, a yearly one / 8760); the tighter wins."""
    caps: dict[str, float] = {}
    for (pollutant, averaging), lim in limits.items():
        kg = float(lim["limit"]) * (1000.0 if lim["unit"] == "t" else 1.0)
        per_h = kg / (24.0 if averaging == "day" else 8760.0)
        key = f"{pollutant}_kg_h"
        caps[key] = min(per_h, caps.get(key, np.inf))
    return caps


def calibrated_parameters(lake: Lake, plant_id: str, day: dt.date, scenario_id: str = BASE,
                          accepted: Sequence[str] = ()) -> tuple[dict[str, float], str]:
    """The latest calibration fitted on data up to ``day`` (scenario first, then base): values and model version.

    Only calibrations whose run succeeded are written to ``gold.fct_model_parameters``, so a failed
    fit leaves the previous one in use.
    """
    if not lake.exists(FCT_MODEL_PARAMETERS):
        return {}, "design"
    p = lake.read(FCT_MODEL_PARAMETERS, where={"plant_id": plant_id}, end=day + dt.timedelta(days=1)).to_pandas()
    for sid in (scenario_id, BASE):
        rows = p[p["scenario_id"] == sid]
        if len(rows):
            last = rows[rows["fit_date"] == rows["fit_date"].max()]
            values = {r["parameter"]: float(r["estimate"]) for _, r in last.iterrows() if r["parameter"] in accepted}
            return values, str(last["model_version"].iloc[0])
    return {}, "design"


#: Event kinds during which a plant is not at its steady operating point, and the optimizer's
#: setpoints are not applied: the write-back's interlock events, plus transients (start-ups,
#: shut-downs and grade changes are the operators').
HOLD_EVENTS: tuple[str, ...] = ("process_anomaly", "shutdown", "transient")


def held_hours(lake: Lake, plant_id: str, day: dt.date) -> pd.Series:
    """Per hour of ``day`` (UTC): True when a process anomaly, shutdown or transient event is open in it."""
    hours = pd.date_range(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC), periods=24, freq="h")
    held = pd.Series(False, index=hours)
    if not lake.exists(FCT_EVENTS):
        return held
    ev = lake.read(FCT_EVENTS, where={"plant_id": plant_id}, columns=["kind", "start_at", "end_at"]).to_pandas()
    ev = ev[ev["kind"].isin(HOLD_EVENTS)]
    for e in ev.itertuples():
        end = e.end_at if pd.notna(e.end_at) else hours[-1] + pd.Timedelta(hours=1)
        held |= (hours < end) & (hours + pd.Timedelta(hours=1) > e.start_at)
    return held


def current_setpoints(lake: Lake, plant_id: str, day: dt.date, module: Any) -> dict[str, float]:
    """The current point: each setpoint tag's mean (``SETPOINT_TAGS`` of the optimizer module) over
    the day's steady hours -- those without an open anomaly, shutdown or transient event -- or over
    every hour when monitoring found none steady (a day of shutdowns would otherwise average zeros in)."""
    tags: Mapping[str, tuple[str, float]] = getattr(module, "SETPOINT_TAGS", {})
    if not tags or not lake.exists(FCT_TAG_HOURLY):
        return {}
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    h = lake.read(FCT_TAG_HOURLY, where={"plant_id": plant_id}, start=start, end=start + dt.timedelta(days=1),
                  columns=["tag", "hour_start", "twa_value"]).to_pandas()
    held = held_hours(lake, plant_id, day)
    steady = set(held.index[~held.to_numpy()])
    if steady:
        hours = pd.to_datetime(h["hour_start"], utc=True)
        if hours.isin(steady).any():
            h = h[hours.isin(steady).to_numpy()]
    means = h.groupby("tag")["twa_value"].mean()
    out = {}
    for name, (tag, factor) in tags.items():
        if tag in means and pd.notna(means[tag]):
            sp = module.SETPOINTS.get(name)  # held conditions (e.g. feed CO2 %) have no bounds here
            value = float(means[tag] * factor)
            out[name] = float(np.clip(value, sp.lower, sp.upper)) if sp else value
    return out


def conditions_for(lake: Lake, plant_id: str, day: dt.date, scenario: Scenario | None = None,
                   rules_frame: pd.DataFrame | None = None) -> tuple[OperatingConditions, dict[str, Any]]:
    """Operating conditions of ``plant_id`` on ``day`` from gold (and the scenario's changes), with provenance."""
    scenario = scenario or Scenario()
    module = plant_optimizer(plant_id)
    rules_frame = _rules_frame(lake) if rules_frame is None else rules_frame
    rules = rules_from_frame(rules_frame, plant_id, day)
    overrides = scenario.rules_overrides(plant_id, rules.limits)
    if overrides:
        rules = rules_from_frame(rules_frame, plant_id, day, overrides=overrides)
    quotes = _prices_on(lake, day)  # one read of the prices for the items and the carbon price
    prices = prices_for(lake, plant_id, day, module.PRICE_ITEMS, getattr(module, "DEFAULT_PRICES", {}), quotes=quotes)
    for item, factor in scenario.price_multipliers.items():
        if item in prices:
            prices[item] = {**prices[item], "value": prices[item]["value"] * float(factor),
                            "source": f"{prices[item]['source']} x {factor:g} (scenario)"}
    if scenario.carbon_price_usd_t is not None:
        free = float(rules.carbon_pricing.get("free_allocation_share") or 0.0)
        carbon, carbon_src = scenario.carbon_price_usd_t * (1.0 - free), f"scenario {scenario.carbon_price_usd_t:g} USD/t"
    else:
        carbon, carbon_src = carbon_price_usd_t(lake, plant_id, day, rules.carbon_pricing, quotes=quotes)
    params, version = calibrated_parameters(lake, plant_id, day, scenario.scenario_id,
                                            getattr(module, "CALIBRATED_PARAMETERS", ()))
    cond = OperatingConditions(
        plant_id=plant_id, prices={k: v["value"] for k, v in prices.items()}, carbon_price_usd_t=carbon,
        grid_kg_co2e_per_kwh=float(rules.grid_location_kg_per_kwh or 0.0), gwp100=dict(rules.gwp100),
        limits=hourly_caps(rules.limits), parameters=params, current=current_setpoints(lake, plant_id, day, module),
        model_version=version)
    return cond, {"prices": prices, "carbon_source": carbon_src, "documents": [f"{d} v{v}" for d, v in rules.documents]}


_SUFFIX_UNITS = {"_k": "K", "_uohm": "uohm", "_ka": "kA", "_a": "A", "_cm": "cm", "_h": "h", "_pct": "percent"}


def _unit_from_name(name: str) -> str:
    """Unit of a derived setpoint (not a decision variable) from its name's suffix."""
    return next((u for suffix, u in _SUFFIX_UNITS.items() if name.endswith(suffix)), "")


def pareto_front(plant_id: str, conditions: OperatingConditions, n_points: int = 7,
                 best: Solution | None = None) -> list[Solution]:
    """ε-constraint front: minimum CO2e, ``n_points - 2`` caps evenly between, maximum profit.

    Points whose cap cannot be met are skipped (logged); the front is returned in increasing CO2e.
    """
    module = plant_optimizer(plant_id)
    best = best or module.optimize(conditions)
    low = module.optimize(conditions, objective="co2e")
    points = [low]
    if best.co2e_kg_h - low.co2e_kg_h > 1e-4 * max(1.0, abs(best.co2e_kg_h)):
        for cap in np.linspace(low.co2e_kg_h, best.co2e_kg_h, n_points)[1:-1]:
            try:
                points.append(module.optimize(conditions, co2e_cap_kg_h=float(cap)))
            except InfeasibleOptimization as exc:
                log.warning("%s: Pareto point at %.4g kg/h skipped: %s", plant_id, cap, exc)
    points.append(best)
    return points


def optimize_day(lake: Lake, day: dt.date, *, meta: CommitMeta, plants: Sequence[str] | None = None,
                 scenario: Scenario | None = None, pareto_points: int = 7,
                 policy: DecisionPolicy | None = None) -> dict[str, Any]:
    """Recommendations and Pareto fronts of ``day`` for each plant, into gold (keyed by scenario).

    The recommended point is the one ``policy`` picks from the front (:mod:`optimization.policy`;
    default: the maximum profit that does not raise CO2e above the current point); the front itself
    always spans the minimum-CO2e and maximum-profit ends.
    """
    scenario = scenario or Scenario()
    policy = policy or DecisionPolicy()
    rules_frame = _rules_frame(lake)
    now = pd.Timestamp.now(tz="UTC")
    stamp = {"scenario_id": scenario.scenario_id, "recommendation_date": day, "run_id": meta.run_id, "computed_at": now}
    out = {}
    for plant_id in plants or instance_ids(capability="optimization"):
        recs, fronts = [], []
        module = plant_optimizer(plant_id)
        t0 = time.perf_counter()
        cond, provenance = conditions_for(lake, plant_id, day, scenario, rules_frame)
        choice = choose(policy, cond, optimize=module.optimize)
        best = choice.solution
        for name, value in best.setpoints.items():
            sp = module.SETPOINTS.get(name)
            recs.append({**stamp, "plant_id": plant_id, "setpoint": name, "unit": sp.unit if sp else _unit_from_name(name),
                         "current_value": best.current_setpoints.get(name), "recommended_value": value,
                         "lower_bound": sp.lower if sp else None, "upper_bound": sp.upper if sp else None,
                         "expected_profit_usd_h": best.profit_usd_h, "current_profit_usd_h": best.current_profit_usd_h,
                         "delta_profit_usd_h": best.profit_usd_h - best.current_profit_usd_h,
                         "expected_co2e_kg_h": best.co2e_kg_h, "current_co2e_kg_h": best.current_co2e_kg_h,
                         "delta_co2e_kg_h": best.co2e_kg_h - best.current_co2e_kg_h,
                         "model_version": best.model_version,
                         "prices_json": json.dumps({**provenance["prices"], "carbon": provenance["carbon_source"]}),
                         "carbon_price_usd_t": cond.carbon_price_usd_t,
                         "grid_kg_co2e_per_kwh": cond.grid_kg_co2e_per_kwh, "limits_json": json.dumps(cond.limits),
                         "active_constraints": ",".join(best.active_constraints), "termination": best.termination,
                         "solve_seconds": best.solve_seconds, "decision_policy": policy.kind,
                         "policy_note": choice.note})
        front = (pareto_front(plant_id, cond, pareto_points, choice.max_profit) if pareto_points >= 2
                 else [choice.max_profit])
        for i, s in enumerate(front):
            kind = "min_co2e" if i == 0 else "max_profit" if i == len(front) - 1 else "epsilon"
            fronts.append({**{k: v for k, v in stamp.items()}, "plant_id": plant_id, "point": i, "kind": kind,
                           "co2e_cap_kg_h": s.co2e_cap_kg_h, "co2e_kg_h": s.co2e_kg_h, "profit_usd_h": s.profit_usd_h,
                           "setpoints_json": json.dumps(s.setpoints), "termination": s.termination,
                           "model_version": s.model_version})
        out[plant_id] = {"profit_usd_h": round(best.profit_usd_h, 2),
                         "delta_profit_usd_h": round(best.profit_usd_h - best.current_profit_usd_h, 2),
                         "co2e_kg_h": round(best.co2e_kg_h, 3),
                         "delta_co2e_kg_h": round(best.co2e_kg_h - best.current_co2e_kg_h, 3),
                         "setpoints": {k: round(v, 4) for k, v in best.setpoints.items()},
                         "pareto_points": len(front), "seconds": round(time.perf_counter() - t0, 2),
                         "model_version": best.model_version, "decision_policy": policy.kind,
                         "policy_note": choice.note}
        where = {"scenario_id": scenario.scenario_id, "plant_id": plant_id}
        end = day + dt.timedelta(days=1)
        lake.replace_interval(FCT_SETPOINT_RECOMMENDATIONS,
                              pd.DataFrame(recs, columns=FCT_SETPOINT_RECOMMENDATIONS.column_names),
                              start=day, end=end, where=where, meta=meta)
        lake.replace_interval(FCT_PARETO_FRONT, pd.DataFrame(fronts, columns=FCT_PARETO_FRONT.column_names),
                              start=day, end=end, where=where, meta=meta)
    return out
