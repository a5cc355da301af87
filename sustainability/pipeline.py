"""Lake-facing steps of the sustainability pipeline: emissions, compliance, LCA, heat integration.

Each step reads gold/silver through :class:`warehouse.lake.Lake`, calls the plain functions of
:mod:`sustainability.carbon` (and the LCA / pinch modules) and replaces exactly its data interval,
so reruns and backfills are idempotent. Results are keyed by ``scenario_id``: ``base`` is the
rules in force; a scenario's overrides never touch the base rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from etl.regulatory import DEFAULT_GWP_SET, rules_from_frame
from models import get_plant
from models.sites import get_site
from nexus.errors import ContractViolation
from sustainability.carbon import (
    account_day,
    compliance,
    daily_activity,
    pollutant_value,
    summarize_day,
)
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import (
    FCT_EMISSION_COMPLIANCE_DAILY,
    FCT_EMISSIONS_DAILY,
    FCT_EMISSIONS_SUMMARY_DAILY,
    FCT_TAG_HOURLY,
    SILVER_REGULATORY_RULES,
)

log = logging.getLogger(__name__)
BASE = "base"


def accounted_plants() -> list[str]:
    """Plant instances of the fleet whose type declares activity data (the CSTR pilot has none)."""
    from models.fleet import instance_ids

    return [p for p in instance_ids() if getattr(get_plant(p), "ACTIVITY", ())]


def _utc(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)


def regulatory_rules(lake: Lake) -> pd.DataFrame:
    if not lake.exists(SILVER_REGULATORY_RULES):
        raise ContractViolation("silver.regulatory__rules does not exist: run the ingest_regulatory_data DAG "
                                "(or `nexus seed-regulatory`) before carbon accounting")
    return lake.read(SILVER_REGULATORY_RULES).to_pandas()


def compute_emissions(lake: Lake, start: dt.date, end: dt.date, *, meta: CommitMeta,
                      plants: Sequence[str] | None = None, scenario_id: str = BASE,
                      overrides: Mapping[str, Any] | None = None, gwp_set: str = DEFAULT_GWP_SET) -> dict[str, Any]:
    """Carbon accounting for the days ``[start, end)``: emissions, daily summary and compliance.

    Args:
        lake: the lake.
        start, end: UTC days, end exclusive.
        meta: commit metadata.
        plants: plants to account (default: every plant with activity data).
        scenario_id: ``base`` or a scenario's id; the rows are keyed by it.
        overrides: a scenario's overrides of the rules (see :func:`etl.regulatory.apply_overrides`).
        gwp_set: GWP set (AR6 by default).

    Returns:
        Per plant: days accounted, days with no activity data, rows written, exceedances.
    """
    if end <= start:
        raise ValueError(f"empty interval [{start}, {end})")
    if scenario_id == BASE and overrides:
        raise ValueError("overrides need a scenario_id other than 'base' (the base case is the rules in force)")
    rules_frame = regulatory_rules(lake)
    now = pd.Timestamp.now(tz="UTC")
    stamp = {"scenario_id": scenario_id, "run_id": meta.run_id, "computed_at": now, "gwp_set": gwp_set}
    report: dict[str, Any] = {}
    for plant_id in plants or accounted_plants():
        streams = get_plant(plant_id).ACTIVITY
        site = get_site(plant_id)
        tags = sorted({s.tag for s in streams})
        hourly = lake.read(FCT_TAG_HOURLY, where={"plant_id": plant_id}, start=_utc(start), end=_utc(end),
                           columns=["tag", "hour_start", "unit", "twa_value"]).to_pandas() \
            if lake.exists(FCT_TAG_HOURLY) else pd.DataFrame(columns=["tag", "hour_start", "unit", "twa_value"])
        # Sorted: the Delta files may come back in another order after a day was rewritten (monitoring
        # rebuilds hourly rows), and floating-point sums must not depend on it (reruns are bit-identical).
        hourly = hourly[hourly["tag"].isin(tags)].sort_values(["tag", "hour_start"], kind="stable", ignore_index=True)
        activity = daily_activity(hourly, streams)
        emissions, summaries, values = [], [], []
        days = [start + dt.timedelta(days=i) for i in range((end - start).days)]
        missing: list[str] = []
        gaps: set[str] = set()
        rules_by_day = {}
        for day in days:
            act = activity[activity["activity_date"] == day]
            if act.empty:
                missing.append(day.isoformat())
                continue
            rules = rules_from_frame(rules_frame, plant_id, day, gwp_set=gwp_set, overrides=overrides)
            rules_by_day[day] = rules
            day_gaps: list[str] = []
            rows = pd.DataFrame(account_day(act, rules, site, gaps=day_gaps))
            gaps.update(re.sub(r" on \d{4}-\d{2}-\d{2}", "", g) for g in day_gaps)
            rows = rows.assign(plant_id=plant_id, emission_date=day, **stamp)
            emissions.append(rows)
            docs = ", ".join(f"{d} v{v}" for d, v in rules.documents)
            summaries.append({**summarize_day(rows, act, rules), "plant_id": plant_id, "emission_date": day,
                              "documents": docs, **stamp})
            pollutants = {p for p, _ in rules.limits}
            values += [{"emission_date": day, "pollutant": p, "value_kg": pollutant_value(rows, p)} for p in pollutants]
        em = pd.concat(emissions, ignore_index=True) if emissions else pd.DataFrame(columns=FCT_EMISSIONS_DAILY.column_names)
        where = {"plant_id": plant_id, "scenario_id": scenario_id}
        n_em = lake.replace_interval(FCT_EMISSIONS_DAILY, em[FCT_EMISSIONS_DAILY.column_names], start=start, end=end,
                                     where=where, meta=meta)
        lake.replace_interval(FCT_EMISSIONS_SUMMARY_DAILY,
                              pd.DataFrame(summaries, columns=FCT_EMISSIONS_SUMMARY_DAILY.column_names),
                              start=start, end=end, where=where, meta=meta)
        comp = _compliance_rows(lake, plant_id, scenario_id, start, pd.DataFrame(values), rules_by_day, stamp)
        lake.replace_interval(FCT_EMISSION_COMPLIANCE_DAILY, comp, start=start, end=end, where=where, meta=meta)
        exceeded = comp[comp["exceeded"]] if len(comp) else comp
        report[plant_id] = {"days": len(rules_by_day), "days_without_activity": missing, "emission_rows": n_em, "factor_gaps": sorted(gaps),
                            "exceedances": [f"{r.emission_date} {r.pollutant}/{r.averaging}"
                                            for r in exceeded.itertuples()]}
        for gap in sorted(gaps):
            log.warning("%s: activity left out of the accounts: %s", plant_id, gap)
        if missing:
            log.warning("%s: no activity data in gold for %d day(s): %s", plant_id, len(missing), ", ".join(missing))
    return report


def _compliance_rows(lake: Lake, plant_id: str, scenario_id: str, start: dt.date, values: pd.DataFrame,
                     rules_by_day: Mapping[dt.date, Any], stamp: Mapping[str, Any]) -> pd.DataFrame:
    """Compliance rows of the new days; yearly limits also count the year's earlier days in gold."""
    cols = FCT_EMISSION_COMPLIANCE_DAILY.column_names
    if not rules_by_day:
        return pd.DataFrame(columns=cols)
    first_year_start = dt.date(min(rules_by_day).year, 1, 1)
    earlier = pd.DataFrame(columns=["emission_date", "pollutant", "value_kg"])
    if first_year_start < start and lake.exists(FCT_EMISSIONS_DAILY):
        old = lake.read(FCT_EMISSIONS_DAILY, where={"plant_id": plant_id, "scenario_id": scenario_id},
                        start=first_year_start, end=start).to_pandas()
        pollutants = {p for r in rules_by_day.values() for p, _ in r.limits}
        earlier = pd.DataFrame([{"emission_date": d, "pollutant": p, "value_kg": pollutant_value(g, p)}
                                for d, g in old.groupby("emission_date") for p in pollutants],
                               columns=earlier.columns)
    daily = pd.concat([earlier, values], ignore_index=True)
    daily["emission_date"] = pd.to_datetime(daily["emission_date"]).dt.date
    rows = []
    for day, rules in sorted(rules_by_day.items()):
        limits = [{"pollutant": p, "averaging": a, **v} for (p, a), v in rules.limits.items()]
        for r in compliance(daily, limits, day):
            rows.append({**r, "plant_id": plant_id, "emission_date": day, "exceeded": r["status"] == "exceeded",
                         **{k: v for k, v in stamp.items() if k != "gwp_set"}})
    return pd.DataFrame(rows, columns=cols)


def latest_complete_day(lake: Lake, plants: Sequence[str] | None = None) -> dt.date:
    """The latest UTC day that gold has complete (hour 23 included) for every accounted plant with data."""
    if not lake.exists(FCT_TAG_HOURLY):
        raise ContractViolation("gold.fct_tag_hourly does not exist yet: ingest sensor data first")
    wanted = list(plants or accounted_plants())
    t = lake.read(FCT_TAG_HOURLY, columns=["plant_id", "hour_start"]).to_pandas()
    t = t[t["plant_id"].isin(wanted)]
    if t.empty:
        raise ContractViolation(f"gold.fct_tag_hourly holds no data of {wanted}")
    last_hour = pd.to_datetime(t.groupby("plant_id")["hour_start"].max(), utc=True)
    return min((h + pd.Timedelta(hours=1)).date() - dt.timedelta(days=1) for h in last_hour)


def write_report(lake: Lake, report_date: dt.date, *, meta: CommitMeta, scenario_id: str = BASE,
                 window_days: int = 30) -> dict[str, Any]:
    """Build the day's HTML report from gold, list it in ``gold.fct_reports`` and refresh ``latest.html``."""
    import posixpath
    import re

    from sustainability.report import build_report, report_rel
    from warehouse.tables import FCT_REPORTS

    rep = build_report(lake, report_date, scenario_id=scenario_id, window_days=window_days, generated_by=meta.run_id)
    rel = report_rel(report_date, scenario_id)
    row = {"report_kind": "sustainability_daily", "scenario_id": scenario_id, "report_date": report_date, "path": rel,
           "sha256": rep.sha256, "size_bytes": rep.size_bytes, "plants": ",".join(rep.plants),
           "total_market_tco2e": rep.total_market_tco2e, "exceedances": rep.exceedances,
           "sections": ",".join(rep.sections), "run_id": meta.run_id, "computed_at": pd.Timestamp.now(tz="UTC")}
    lake.upsert(FCT_REPORTS, pd.DataFrame([row], columns=FCT_REPORTS.column_names), meta=meta)
    folder = posixpath.dirname(rel)
    days = [e.name for e in lake.files.files(folder) if re.fullmatch(r"\d{4}-\d{2}-\d{2}\.html", e.name)]
    if max(days, default=posixpath.basename(rel)) == posixpath.basename(rel):  # the newest day: refresh latest
        lake.files.copy_from(lake.files, rel, f"{folder}/latest.html")
    return {**row, "absolute_path": str(rep.path), "figures": rep.figures, "computed_at": str(row["computed_at"]),
            "report_date": report_date.isoformat()}


def compute_heat_integration(lake: Lake, on: dt.date, *, meta: CommitMeta, dt_min_k: float = 10.0) -> dict[str, Any]:
    """Pinch analysis of every plant with stream data, written to ``gold.fct_heat_integration`` for ``on``."""
    import json

    from sustainability.pinch import PLANTS as PINCH_PLANTS
    from sustainability.pinch import pinch_analysis, plant_heat_streams, utility_savings
    from warehouse.tables import FCT_HEAT_INTEGRATION

    rows = []
    for plant_id in PINCH_PLANTS:
        streams, current = plant_heat_streams(plant_id)
        res = pinch_analysis(streams, dt_min_k)
        sav = utility_savings(res, current["hot_utility_kw"], current["cold_utility_kw"])
        rows.append({"assessment_date": on, "plant_id": plant_id, "dt_min_k": dt_min_k, "n_streams": len(streams),
                     "hot_utility_min_kw": res.hot_utility_kw, "cold_utility_min_kw": res.cold_utility_kw,
                     "heat_recovery_kw": res.heat_recovery_kw, "pinch_shifted_c": res.pinch_shifted_c,
                     "pinch_hot_c": res.pinch_hot_c, "pinch_cold_c": res.pinch_cold_c,
                     "current_hot_kw": sav.current_hot_kw, "current_cold_kw": sav.current_cold_kw,
                     "hot_saving_kw": sav.hot_saving_kw, "cold_saving_kw": sav.cold_saving_kw,
                     "hot_saving_pct": sav.hot_saving_pct, "cold_saving_pct": sav.cold_saving_pct,
                     "summary": res.summary,
                     "streams_json": json.dumps([{"name": s.name, "supply_c": s.supply_c, "target_c": s.target_c,
                                                  "cp_kw_k": s.cp_kw_k, "note": s.note} for s in streams]),
                     "run_id": meta.run_id, "computed_at": pd.Timestamp.now(tz="UTC")})
    frame = pd.DataFrame(rows, columns=FCT_HEAT_INTEGRATION.column_names)
    lake.replace_interval(FCT_HEAT_INTEGRATION, frame, start=on, end=on + dt.timedelta(days=1), meta=meta)
    return {r["plant_id"]: {k: r[k] for k in ("hot_utility_min_kw", "cold_utility_min_kw", "pinch_hot_c",
                                              "hot_saving_kw", "hot_saving_pct")} for r in rows}


def compute_lca(lake: Lake, on: dt.date, *, meta: CommitMeta, scenario_id: str = BASE,
                overrides: Mapping[str, Any] | None = None, n_samples: int = 500, seed: int = 0) -> dict[str, Any]:
    """Cradle-to-gate LCA of each product with the grid factor in force on ``on``, into gold.

    The multi-output biorefinery (ethanol and exported electricity) is assessed under every
    allocation method; single-product plants under system expansion (the same for all methods).
    A scenario's ``grid_location_kg_per_kwh`` override is applied to the electricity.
    """
    from sustainability.inventories import PLANTS as LCA_PLANTS
    from sustainability.inventories import assess
    from sustainability.lca import ALLOCATION_MODES
    from warehouse.tables import FCT_LCA_CONTRIBUTIONS, FCT_LCA_RESULTS

    rules_frame = regulatory_rules(lake)
    stamp = {"assessment_date": on, "scenario_id": scenario_id, "run_id": meta.run_id,
             "computed_at": pd.Timestamp.now(tz="UTC")}
    results, contributions, out = [], [], {}
    for plant_id in LCA_PLANTS:
        rules = rules_from_frame(rules_frame, plant_id, on, overrides=overrides)
        grid = rules.grid_location_kg_per_kwh
        modes = ALLOCATION_MODES if plant_id == "biorefinery" else ("system_expansion",)
        for mode in modes:
            a = assess(plant_id, allocation=mode, n_monte_carlo=n_samples, seed=seed, region_grid_kg_per_kwh=grid)
            results.append(a.results.assign(grid_kg_co2e_per_kwh=grid, n_samples=n_samples, **stamp))
            contributions.append(a.contributions.assign(**stamp))
            gwp = a.results[a.results["impact_category"] == "climate_change_gwp100"].iloc[0]
            out[f"{plant_id}/{mode}"] = {"kg_co2e_per_kg": round(float(gwp["value"]), 4),
                                         "p2_5": None if pd.isna(gwp["p2_5"]) else round(float(gwp["p2_5"]), 4),
                                         "p97_5": None if pd.isna(gwp["p97_5"]) else round(float(gwp["p97_5"]), 4)}
    where = {"scenario_id": scenario_id}
    end = on + dt.timedelta(days=1)
    lake.replace_interval(FCT_LCA_RESULTS, pd.concat(results)[FCT_LCA_RESULTS.column_names], start=on, end=end,
                          where=where, meta=meta)
    lake.replace_interval(FCT_LCA_CONTRIBUTIONS, pd.concat(contributions)[FCT_LCA_CONTRIBUTIONS.column_names],
                          start=on, end=end, where=where, meta=meta)
    return out


def replay_emissions(lake: Lake, day: dt.date, *, meta: CommitMeta, plants: Sequence[str], scenario: Any
                     ) -> dict[str, Any]:
    """Carbon accounting of one day under a scenario (:class:`optimization.pipeline.Scenario`)."""
    rules_frame = regulatory_rules(lake)
    out = {}
    for plant_id in plants:
        base_rules = rules_from_frame(rules_frame, plant_id, day)
        overrides = scenario.rules_overrides(plant_id, base_rules.limits) if scenario.scenario_id != BASE else None
        if scenario.scenario_id != BASE and not overrides:
            overrides = {}
        out.update(compute_emissions(lake, day, day + dt.timedelta(days=1), meta=meta, plants=[plant_id],
                                     scenario_id=scenario.scenario_id, overrides=overrides or None))
    return out
