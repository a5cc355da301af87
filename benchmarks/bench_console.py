"""Benchmark: the operator console's page loads on years of history (issue goal: p95 page load <= 1 s on 5 years).

Builds a lake of ``--years`` years (default 5) of all four plants, written through ``warehouse.lake.Lake``
with the real table schemas (``warehouse.tables``) and a realistic commit pattern (a plant-month per
commit, as ``load_history`` writes):

- ``gold.fct_tag_hourly`` / ``gold.fct_tag_daily`` of every tag of every plant: ``bench_sql.build_lake``;
  ``--silver-days`` (default 365) of CSTR readings at 1-minute sampling in ``silver.process__sensor_readings``,
  the newest days of the history (the live trend reads them), also by ``bench_sql.build_lake``;
- ``gold.dim_assets`` (``etl.assets.publish_assets``), ``gold.dim_plants`` / ``gold.dim_tags``
  (``etl.sensor.publish_dimensions``), ``gold.dim_benefit_targets`` (``optimization.benefits.write_targets``);
- synthesized, every day of the history: ``gold.fct_events`` (a few per plant-day, every kind, the newest
  ones open), ``gold.fct_asset_health`` (every plant / asset / indicator), ``gold.fct_kpis_daily``,
  ``gold.fct_ingest_batches`` (source ``sensor``), ``gold.fct_setpoint_recommendations`` (every set point
  of the plant), ``gold.fct_benefits_daily`` (baseline and the default policy: the view
  ``gold.v_benefit_targets`` the sustainability page reads), ``gold.fct_emission_compliance_daily``,
  ``gold.fct_reports`` (a row per day; no report file); ``gold.fct_setpoint_writes`` (a write per plant
  and week, with its state changes, the newest one proposed);
- a few what-if experiments of the electrolyzer twin (``etl.what_if.run_experiment`` /
  ``publish_experiment``).

Then it serves the console (``nexus.console.app.create_app`` + ``serve``: Waitress, in a thread of this
process) on a free port, signs in with headless Chromium (Selenium) and loads every page ``--repeats``
times after 2 warm-up loads, timing ``driver.get(url)`` until the page's data is shown (the selectors of
``tests/console/test_console_browser.py``; a graph must hold traces) and no Dash callback is pending
(no ``[data-dash-is-loading="true"]``). Against it, in the same run:

- server: the page's callbacks POSTed to ``/_dash-update-component`` by a signed-in ``requests``
  session (the route callback; on ``/trends`` plus the trend figure's callback, which the page fires next);
- floor: the browser loading the bare login page (static HTML, no lake) plus the page's DuckDB queries
  run directly (the ``nexus.console.data`` functions the page calls, on a warm ``Reader``).

Each page's queries are also profiled one by one (SQL text, time) and the Delta file count of every
table the console reads is reported, so a slow page names the query that makes it slow.

    .venv/bin/python benchmarks/bench_console.py --years 5 [--repeats 20] [--lake PATH] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sql import PLANTS, _months, build_lake  # noqa: E402

UTC = dt.timezone.utc
PASSWORD = "bench-console-pass"
#: page -> element that holds its data once rendered (as tests/console/test_console_browser.py)
PAGES = {"/": "#fleet-cards .card", "/trends?plant=cstr": "#trend-graph .main-svg", "/events": "#events-table tbody tr",
         "/health": "#health-table tbody tr", "/recommendations": "#recs-table tbody tr",
         "/what-if": "#what-if-graph .main-svg", "/sustainability": "#reports-table tbody tr"}
#: graphs that must hold traces (an empty dcc.Graph draws its .main-svg before its figure arrives)
GRAPHS = {"/trends?plant=cstr": "#trend-graph", "/what-if": "#what-if-graph"}
#: tables the console reads (file counts reported)
READ_TABLES = ("gold.dim_assets", "gold.dim_tags", "gold.fct_tag_hourly", "gold.fct_tag_daily",
               "silver.process__sensor_readings", "gold.fct_events", "gold.fct_asset_health", "gold.fct_kpis_daily",
               "gold.fct_ingest_batches", "gold.fct_setpoint_recommendations", "gold.fct_setpoint_writes",
               "gold.fct_what_if_runs", "gold.fct_what_if_timeseries", "gold.fct_reports",
               "gold.fct_emission_compliance_daily", "gold.fct_benefits_daily", "gold.dim_benefit_targets")
KINDS = ("sensor_fault", "process_anomaly", "transient", "shutdown", "balance_violation")
KIND_P = (0.35, 0.25, 0.25, 0.05, 0.10)
DETECTORS = {"sensor_fault": "sensor_health", "process_anomaly": "pca_t2_spe", "transient": "rate_of_change",
             "shutdown": "production_rate", "balance_violation": "balances"}
#: per plant: (pollutant, averaging, unit, limit) checked daily
LIMITS = {"cstr": (("voc", "day", "kg", 40.0), ("co2e_scope1", "year", "t", 900.0)),
          "biorefinery": (("nox", "day", "kg", 350.0), ("so2", "day", "kg", 120.0), ("co2e_scope1", "year", "t", 60000.0)),
          "co2_electrolyzer": (("co2e_scope1", "year", "t", 300.0),),
          "smelter": (("hf", "day", "kg", 55.0), ("so2", "day", "kg", 900.0), ("pfc_co2e", "year", "t", 25000.0),
                      ("co2e_scope1", "year", "t", 180000.0))}


# ------------------------------------------------------------------------------------------- the lake


def _table(spec: Any, n: int, cols: dict[str, Any]):
    """A table of ``spec``'s schema from ``cols``; other columns null (nullable) or a type's zero."""
    import pyarrow as pa

    out = {}
    for f in spec.schema:
        if f.name in cols:
            out[f.name] = pa.array(cols[f.name], f.type) if not isinstance(cols[f.name], pa.Array) else cols[f.name]
        elif f.nullable:
            out[f.name] = pa.nulls(n, f.type)
        elif pa.types.is_string(f.type):
            out[f.name] = pa.array([""] * n, f.type)
        else:
            out[f.name] = pa.array([0] * n).cast(f.type)
    return pa.Table.from_pydict(out, schema=spec.schema)


def _ts(days, hours=None):
    """numpy days (datetime64[D]) + hours (float) -> timestamp[us, UTC] array."""
    import numpy as np
    import pyarrow as pa

    t = np.asarray(days).astype("datetime64[us]")
    if hours is not None:
        t = t + (np.asarray(hours) * 3600e6).astype("timedelta64[us]")
    return pa.array(t, pa.timestamp("us", "UTC"))


def build_console_tables(root: Path, *, start: dt.date, years: int, seed: int = 2) -> dict[str, int]:
    """Every table the console reads besides the tag tables, over the same history; row and commit counts."""
    import numpy as np
    import pyarrow as pa

    from etl.assets import publish_assets
    from etl.sensor import publish_dimensions
    from etl.what_if import publish_experiment, run_experiment
    from models import get_plant
    from models.maintenance import DEGRADATIONS
    from optimization.benefits import KPI_BASES, write_targets
    from optimization.plants import plant_optimizer
    from optimization.policy import DEFAULT_POLICY
    from warehouse.lake import CommitMeta, Lake
    from warehouse import tables as T

    rng = np.random.default_rng(seed)
    lake = Lake(root)
    meta = CommitMeta("benchmark", "bench-console", "synthetic")
    end = dt.date(start.year + years, start.month, start.day)
    counts: dict[str, int] = {"commits": 0}

    def put(spec, table, how: str = "append") -> None:
        n = (lake.append if how == "append" else lake.upsert)(spec, table, meta=meta)
        counts[spec.name] = counts.get(spec.name, 0) + (n if isinstance(n, int) else table.num_rows)
        counts["commits"] += 1

    publish_assets(lake, meta)
    counts["commits"] += 1
    for plant_id in PLANTS:
        counts["commits"] += sum(publish_dimensions(lake, plant_id, meta).values())
    write_targets(lake, meta=meta)
    counts["commits"] += 1

    run = "bench_console__synthetic"
    months = _months(start, end)
    newest = np.datetime64(end, "D") - 1
    for plant_id in PLANTS:
        plant = get_plant(plant_id)
        tags = np.array([t.tag for t in plant.TAGS])
        units = sorted({t.unit_operation for t in plant.TAGS})
        unit_of = {t.tag: t.canonical_unit for t in plant.TAGS}
        per_day = len(tags) * max(1, round(86400 / plant.INFO.sampling.total_seconds()))
        basis = KPI_BASES[plant_id]
        setpoints = getattr(plant_optimizer(plant_id), "SETPOINT_TAGS", {})
        degs = DEGRADATIONS.get(plant_id, ())
        level = {"product": rng.uniform(5, 500), "energy": rng.uniform(50, 5000), "profit": rng.uniform(1e4, 5e5)}
        sp_level = {s: rng.uniform(1, 500) for s in setpoints}
        write_n = 0
        for lo, hi in months:
            days = np.arange(np.datetime64(lo, "D"), np.datetime64(hi, "D"))
            nd = len(days)
            # ---- events: a few per plant-day, the newest two days' half open
            per = rng.poisson(2.5, nd)
            ed = np.repeat(days, per)
            n = len(ed)
            kind = rng.choice(KINDS, n, p=KIND_P)
            start_h = rng.integers(0, 24, n).astype(float)
            dur = np.round(1 + rng.exponential(4, n))
            open_ = (ed >= newest - 1) & (rng.random(n) < 0.5)
            ends = ed.astype("datetime64[h]") + (start_h + dur).astype("timedelta64[h]")
            top = [", ".join(f"{t}:{s:.2f}" for t, s in zip(rng.choice(tags, 3, replace=False), sorted(rng.dirichlet([2, 1, 1]),
                                                                                                       reverse=True)))
                   for _ in range(n)]
            unit = rng.choice(units + ["plant"], n)
            starts = _ts(ed, start_h)
            put(T.FCT_EVENTS, _table(T.FCT_EVENTS, n, {
                "event_id": [f"{plant_id}|{u}|{k}|{tt.split(':')[0]}|{s:%Y-%m-%dT%H}|{i}" for i, (u, k, tt, s) in
                             enumerate(zip(unit, kind, top, starts.to_pylist()))],
                "plant_id": [plant_id] * n, "unit": unit, "kind": kind, "start_at": starts,
                "end_at": pa.array(ends.astype("datetime64[us]"), pa.timestamp("us", "UTC"), mask=open_),
                "duration_h": dur, "severity": rng.choice(["low", "medium", "high"], n, p=[0.6, 0.3, 0.1]),
                "peak_score": 1 + rng.exponential(1.5, n), "top_tags": top,
                "detail": [f"{k.replace('_', ' ')} detected on {u}" for k, u in zip(kind, unit)],
                "detector": [DETECTORS[k] for k in kind], "model_version": ["bench"] * n, "run_id": [run] * n,
                "computed_at": _ts(ed + 1, np.full(n, 2.0))}))
            # ---- ingest batches: a row per plant-day
            compl = np.clip(1 - rng.exponential(0.01, nd), 0, 1)
            compl[rng.random(nd) < 0.01] = rng.uniform(0.3, 0.9)
            silver = np.round(compl * per_day).astype(np.int64)
            quar = rng.integers(0, 20, nd)
            dup = rng.integers(0, 5, nd)
            put(T.FCT_INGEST_BATCHES, _table(T.FCT_INGEST_BATCHES, nd, {
                "source": ["sensor"] * nd, "plant_id": [plant_id] * nd, "period_date": days.astype("datetime64[D]"),
                "files_received": np.full(nd, 1), "files_landed": np.full(nd, 1), "bronze_rows": silver + quar + dup,
                "silver_rows": silver, "quarantined_rows": quar, "duplicates_removed": dup,
                "expected_rows": np.full(nd, per_day), "completeness": silver / per_day,
                "status": np.where(compl >= 0.99, "complete", np.where(compl >= 0.9, "partial", "incomplete")),
                "dag_id": ["sensor_ingest"] * nd, "run_id": [run] * nd, "completed_at": _ts(days + 1, np.full(nd, 1.5))}))
            # ---- KPIs: a row per plant-day
            prod = level["product"] * (1 + 0.05 * rng.standard_normal(nd))
            energy = level["energy"] * (1 + 0.05 * rng.standard_normal(nd))
            co2 = energy * 0.12
            put(T.FCT_KPIS_DAILY, _table(T.FCT_KPIS_DAILY, nd, {
                "scenario_id": ["base"] * nd, "plant_id": [plant_id] * nd, "kpi_date": days, "product": [basis.product] * nd,
                "product_unit": [basis.product_unit] * nd, "product_amount": prod, "hours_measured": np.full(nd, 24),
                "revenue_usd": level["profit"] * 2 * (1 + 0.03 * rng.standard_normal(nd)),
                "purchases_usd": level["profit"] * (1 + 0.03 * rng.standard_normal(nd)),
                "energy_cost_usd": energy * 9.0, "carbon_cost_usd": co2 * 40,
                "operating_profit_usd": level["profit"] * (1 + 0.1 * rng.standard_normal(nd)), "energy_gj": energy,
                "energy_definition": [basis.energy_definition] * nd, "specific_energy_gj_per_unit": energy / prod,
                "waste_amount": prod * 0.02, "waste_unit": [getattr(basis, "waste_unit", "t")] * nd,
                "waste_per_unit": np.full(nd, 0.02), "waste_definition": [basis.waste_definition] * nd,
                "co2e_s12_t": co2, "co2e_total_t": co2 * 1.3, "intensity_s12_t_per_unit": co2 / prod,
                "intensity_total_t_per_unit": co2 * 1.3 / prod, "water_m3": prod * 3, "water_m3_per_unit": np.full(nd, 3.0),
                "prices_json": [json.dumps({"electricity": {"usd": 0.08, "source": "market"}})] * nd,
                "run_id": [run] * nd, "computed_at": _ts(days + 1, np.full(nd, 3.0))}))
            # ---- asset health: a row per plant / asset / indicator / day
            if degs:
                k = len(degs)
                rd = np.tile(days, k)
                d = np.repeat(np.arange(k), nd)
                thr = np.array([g.threshold for g in degs])[d]
                design = np.array([g.design_value for g in degs])[d]
                frac = ((rd - np.datetime64(lo, "D")).astype(int) % 90) / 90.0  # a maintenance every 90 days
                value = design + (thr - design) * 0.8 * frac
                rul = np.maximum(1, 90 * (1 - frac) * (1 + 0.1 * rng.standard_normal(len(rd))))
                status = np.where(rul < 14, "maintenance_due", np.where(rul < 30, "plan_maintenance", "ok"))
                put(T.FCT_ASSET_HEALTH, _table(T.FCT_ASSET_HEALTH, len(rd), {
                    "plant_id": [plant_id] * len(rd), "asset": [degs[i].asset for i in d],
                    "indicator": [degs[i].indicator for i in d], "assessed_date": rd, "indicator_value": value,
                    "indicator_std_error": np.abs(value) * 0.01, "unit": [degs[i].unit for i in d], "threshold": thr,
                    "trend_per_day": (thr - design) * 0.8 / 90, "trend_std_error": np.abs(thr - design) * 0.001,
                    "rul_p10_days": rul * 0.7, "rul_p50_days": rul, "rul_p90_days": rul * 1.4,
                    "threshold_date_p50": rd + rul.astype(int), "history_points": (frac * 90).astype(int) + 1,
                    "since_maintenance_date": rd - (frac * 90).astype(int), "method": ["linear, OLS"] * len(rd),
                    "status": status, "recommendation": [degs[i].action for i in d], "run_id": [run] * len(rd),
                    "computed_at": _ts(rd + 1, np.full(len(rd), 4.0))}))
            # ---- recommendations: every set point of the plant, every day
            if setpoints:
                names = list(setpoints)
                m = len(names)
                rd = np.repeat(days, m)
                s = np.tile(names, nd)
                cur = np.array([sp_level[x] for x in s]) * (1 + 0.02 * rng.standard_normal(len(rd)))
                prof = level["profit"] / 24 * (1 + 0.05 * rng.standard_normal(len(rd)))
                put(T.FCT_SETPOINT_RECOMMENDATIONS, _table(T.FCT_SETPOINT_RECOMMENDATIONS, len(rd), {
                    "scenario_id": ["base"] * len(rd), "plant_id": [plant_id] * len(rd), "recommendation_date": rd,
                    "setpoint": s, "unit": [unit_of.get(setpoints[x][0], "1") for x in s], "current_value": cur,
                    "recommended_value": cur * (1 + 0.03 * rng.standard_normal(len(rd))), "lower_bound": cur * 0.8,
                    "upper_bound": cur * 1.2, "expected_profit_usd_h": prof * 1.02, "current_profit_usd_h": prof,
                    "delta_profit_usd_h": prof * 0.02, "expected_co2e_kg_h": np.full(len(rd), 480.0),
                    "current_co2e_kg_h": np.full(len(rd), 500.0), "delta_co2e_kg_h": np.full(len(rd), -20.0),
                    "model_version": [f"{plant_id}@{lo}"] * len(rd),
                    "prices_json": [json.dumps({"electricity": {"usd": 0.08, "source": "market"}})] * len(rd),
                    "carbon_price_usd_t": np.full(len(rd), 80.0), "grid_kg_co2e_per_kwh": np.full(len(rd), 0.35),
                    "limits_json": ["{}"] * len(rd), "active_constraints": ["upper_bound"] * len(rd),
                    "termination": ["optimal"] * len(rd), "solve_seconds": rng.uniform(1, 20, len(rd)),
                    "run_id": [run] * len(rd), "computed_at": _ts(rd, np.full(len(rd), 5.0)),
                    "decision_policy": [DEFAULT_POLICY] * len(rd), "policy_note": [""] * len(rd)}))
            # ---- benefits: baseline and the default policy, every day (the view gold.v_benefit_targets)
            pol = np.tile(["baseline", DEFAULT_POLICY], nd)
            rd = np.repeat(days, 2)
            base = pol == "baseline"
            pr = level["profit"] * np.where(base, 1.0, 1.03)
            put(T.FCT_BENEFITS_DAILY, _table(T.FCT_BENEFITS_DAILY, len(rd), {
                "scenario_id": ["base"] * len(rd), "plant_id": [plant_id] * len(rd), "plant_type": [plant_id] * len(rd),
                "benefit_date": rd, "policy": pol, "policy_params_json": ["{}"] * len(rd),
                "hours_replayed": np.full(len(rd), 20), "hours_applied": np.full(len(rd), 18),
                "product_unit": [basis.product_unit] * len(rd), "product_amount": np.full(len(rd), level["product"]),
                "profit_usd": pr, "energy_gj": level["energy"] * np.where(base, 1.0, 0.98),
                "energy_cost_usd": level["energy"] * 9 * np.where(base, 1.0, 0.98),
                "waste_amount": np.full(len(rd), level["product"] * 0.02), "waste_unit": [getattr(basis, "waste_unit", "t")] * len(rd),
                "co2e_t": level["energy"] * 0.12 * np.where(base, 1.0, 0.97),
                "delta_profit_pct": np.where(base, 0.0, 3.0), "delta_profit_pct_sd": np.full(len(rd), 0.5),
                "reproduces": np.where(base, True, None), "setpoints_json": ["{}"] * len(rd),
                "model_version": [f"{plant_id}@{lo}"] * len(rd), "run_id": [run] * len(rd),
                "computed_at": _ts(rd + 1, np.full(len(rd), 6.0))}))
            # ---- compliance: every limit of the plant, every day
            lim = LIMITS[plant_id]
            m = len(lim)
            rd = np.repeat(days, m)
            li = np.tile(np.arange(m), nd)
            limit = np.array([x[3] for x in lim])[li]
            yearly = np.array([x[1] == "year" for x in lim])[li]
            doy = (rd - rd.astype("datetime64[Y]")).astype(int) + 1
            value = np.where(yearly, limit * 0.85 * doy / 365, limit * rng.uniform(0.3, 1.05, len(rd)))
            proj = np.where(yearly, value * 365 / doy, value)
            util = 100 * value / limit
            putil = 100 * proj / limit
            st = np.where(util > 100, "exceeded", np.where(putil >= 90, "at_risk", "ok"))
            put(T.FCT_EMISSION_COMPLIANCE_DAILY, _table(T.FCT_EMISSION_COMPLIANCE_DAILY, len(rd), {
                "scenario_id": ["base"] * len(rd), "plant_id": [plant_id] * len(rd), "emission_date": rd,
                "pollutant": [lim[i][0] for i in li], "averaging": [lim[i][1] for i in li], "value": value,
                "projected_value": proj, "limit_value": limit, "unit": [lim[i][2] for i in li], "utilisation_pct": util,
                "status": st, "exceeded": st == "exceeded", "document_id": [f"permit-{plant_id}"] * len(rd),
                "version": np.full(len(rd), 1), "run_id": [run] * len(rd), "computed_at": _ts(rd + 1, np.full(len(rd), 7.0)),
                "projected_utilisation_pct": putil}))
            # ---- setpoint writes: a write per plant-week with its state changes; the newest one proposed
            rows = []
            for day in days[::7]:
                write_n += 1
                sp = list(setpoints)[write_n % len(setpoints)] if setpoints else "setpoint"
                tag, _ = setpoints.get(sp, (tags[0], 1.0))
                wid = f"w-{plant_id}-{day}-{sp}"
                t0 = np.datetime64(day, "us") + np.timedelta64(8, "h")
                last = day >= newest - 6
                r = rng.random()
                states = (["proposed"] if last else ["proposed", "approved", "refused"] if r < 0.1 else
                          ["proposed", "rejected"] if r < 0.2 else
                          ["proposed", "approved", "published", "acknowledged", "confirmed"])
                fv = sp_level.get(sp, 1.0)
                for i, state in enumerate(states):
                    rows.append({"write_id": wid, "step": i + 1, "state": state,
                                 "changed_at": (t0 + np.timedelta64(20 * i, "m")).astype(dt.datetime).replace(tzinfo=UTC),
                                 "actor": "operator1" if state in ("approved", "rejected") else
                                          "edge" if state == "acknowledged" else "nexus",
                                 "plant_id": plant_id, "tag": tag, "setpoint": sp, "unit": unit_of.get(tag, "1"),
                                 "from_value": fv, "to_value": fv * 1.02,
                                 "reason": "shift plan" if state != "refused" else "ramp limit exceeded",
                                 "checks_json": None, "recommendation_date": day.astype(dt.date), "scenario_id": "base"})
            if rows:
                put(T.FCT_SETPOINT_WRITES, pa.Table.from_pylist(rows, schema=T.FCT_SETPOINT_WRITES.schema))
    # ---- reports: a row per day (no file), a month per commit
    for lo, hi in months:
        days = np.arange(np.datetime64(lo, "D"), np.datetime64(hi, "D"))
        nd = len(days)
        put(T.FCT_REPORTS, _table(T.FCT_REPORTS, nd, {
            "report_kind": ["sustainability_daily"] * nd, "scenario_id": ["base"] * nd, "report_date": days,
            "path": [f"reports/sustainability/{d}.html" for d in days], "sha256": ["0" * 64] * nd,
            "size_bytes": rng.integers(2_000_000, 4_000_000, nd), "plants": [",".join(PLANTS)] * nd,
            "total_market_tco2e": rng.uniform(500, 800, nd), "exceedances": rng.integers(0, 2, nd),
            "sections": ["summary,kpis,emissions,limits,lca,recommendations,events,health,methods"] * nd,
            "run_id": [run] * nd, "computed_at": _ts(days + 1, np.full(nd, 8.0))}))
    # ---- what-if experiments of the electrolyzer twin (the real twin)
    for i, (cur, conc, flow, hours) in enumerate(((500.0, 100.0, 30.0, 8.0), (600.0, 90.0, 35.0, 8.0),
                                                   (400.0, 100.0, 25.0, 24.0))):
        inputs = {"current_a": cur, "co2_concentration_pct": conc, "co2_flow_nm3_h": flow, "duration_h": hours}
        publish_experiment(lake, run_experiment(**inputs, step_minutes=10.0), experiment_id=f"bench-run-{i + 1}",
                           inputs=inputs, meta=meta)
        counts["commits"] += 2
    counts["gold.fct_what_if_runs"] = 3
    return counts


# ---------------------------------------------------------------------------------------- measuring


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(times: list[float]) -> dict[str, float]:
    s = sorted(times)
    return {"p50_ms": round(statistics.median(s), 1), "p95_ms": round(s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))], 1)}


#: JS: resolve when the selector is present, graphs hold traces and no Dash callback is pending
READY_JS = """
const [sel, graph, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
const t0 = performance.now();
function ready() {
  if (!document.querySelector(sel)) return false;
  if (graph) { const g = document.querySelector(graph + ' .js-plotly-plot');
               if (!g || !g.data || !g.data.length) return false; }
  return document.querySelectorAll('[data-dash-is-loading="true"]').length === 0;
}
(function poll() { if (ready()) done(performance.now() - t0); else setTimeout(poll, 5); })();
"""


def page_functions(q: Any, reader: Any, page: str) -> list[tuple[str, Callable[[], Any]]]:
    """The ``nexus.console.data`` calls a page's callbacks make, in order (as ``nexus/console/app.py``)."""
    import pandas as pd

    if page == "/":
        return [("fleet", lambda: q.fleet(reader))]
    if page.startswith("/trends"):
        def trend():
            from nexus.console.app import RANGES, default_tags
            plants = q.plants(reader)  # the route callback: the plants and the tag catalog
            catalog = q.tags(reader, "cstr")
            chosen = default_tags(plants.set_index("plant_id").loc["cstr", "plant_type"], catalog)
            q.tags(reader, "cstr")  # the figure's callback, as Console.trend_figure
            last_day = q.newest_day(reader, "cstr")
            newest = q.newest_reading(reader, "cstr", last_day - dt.timedelta(days=1))
            live_from = (pd.Timestamp(newest).floor("h").to_pydatetime() if newest is not None else
                         dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), UTC))
            start = live_from - dt.timedelta(days=RANGES["7 days"])
            q.history(reader, "cstr", chosen, start, live_from)
            q.live(reader, "cstr", chosen, live_from - dt.timedelta(microseconds=1))
            q.events(reader, plant_id="cstr", start=start, end=live_from + dt.timedelta(days=1), limit=300)
        return [("trend", trend)]
    if page == "/events":
        def ev():
            newest = q.newest_event_start(reader)
            end = pd.Timestamp(newest).to_pydatetime() + dt.timedelta(days=1)
            q.events(reader, start=end - dt.timedelta(days=30), end=end, limit=300)
            q.plants(reader)
        return [("events", ev)]
    if page == "/health":
        return [("asset_health", lambda: q.asset_health(reader))]
    if page == "/recommendations":
        return [("recommendations", lambda: (q.recommendations(reader), q.writes(reader), q.audit(reader)))]
    if page == "/what-if":
        def wi():
            runs = q.what_if_runs(reader)
            q.what_if_series(reader, runs["experiment_id"].iloc[0])
            q.what_if_runs(reader)
        return [("what_if", wi)]
    if page == "/sustainability":
        return [("sustainability", lambda: (q.kpi_trend(reader), q.targets(reader), q.compliance(reader),
                                            q.report_months(reader), q.reports(reader)))]
    raise KeyError(page)


def profile_queries(q: Any, lake: Any, page: str, repeats: int) -> list[dict[str, Any]]:
    """Each SQL query the page's data functions run, with its median time on a warm reader."""

    class Timed(q.Reader):
        log: list[tuple[str, float, int]] = []

        def df(self, sql: str, *, fresh: bool = False):
            t0 = time.perf_counter()
            out = super().df(sql, fresh=fresh)
            self.log.append((sql, (time.perf_counter() - t0) * 1e3, len(out)))
            return out

    reader = Timed(lake, ttl_s=1e9)
    for _, fn in page_functions(q, reader, page):
        fn()  # warm
    per: dict[str, list[float]] = {}
    rows: dict[str, int] = {}
    for _ in range(repeats):
        Timed.log = []
        for _, fn in page_functions(q, reader, page):
            fn()
        for sql, ms, n in Timed.log:
            key = " ".join(sql.split())
            per.setdefault(key, []).append(ms)
            rows[key] = n
    out = [{"sql": k, "p50_ms": round(statistics.median(v), 1), "calls_per_load": len(v) // repeats, "rows": rows[k]}
           for k, v in per.items()]
    return sorted(out, key=lambda r: -r["p50_ms"] * r["calls_per_load"])


def file_counts(lake: Any) -> dict[str, int]:
    import pyarrow as pa

    from warehouse.tables import REGISTRY

    out = {}
    for name in READ_TABLES:
        spec = REGISTRY.get(name)
        if lake.exists(spec):
            out[name] = pa.table(lake._open(spec).get_add_actions(flatten=True)).num_rows
    return out


def browser(profile_dir: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile_dir}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.implicitly_wait(0)
    driver.set_script_timeout(120)
    return driver


def callback_body(outputs: list[tuple[str, str]], inputs: list[tuple[str, str, Any]],
                  state: list[tuple[str, str, Any]] = ()) -> dict:
    """A Dash callback request as the browser sends it (tests/console/test_console.py ``callback()``)."""
    if len(outputs) == 1:
        output, outs = f"{outputs[0][0]}.{outputs[0][1]}", {"id": outputs[0][0], "property": outputs[0][1]}
    else:
        output = ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
        outs = [{"id": i, "property": p} for i, p in outputs]
    return {"output": output, "outputs": outs, "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
            "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=5, help="years of history of every plant")
    parser.add_argument("--silver-days", type=int, default=365, help="newest days of CSTR silver readings (1-minute)")
    parser.add_argument("--start", default=None,
                        help="first day of the history (default: --years before today, so the history ends today "
                             "as a live plant's does)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--profile-repeats", type=int, default=5, help="repeats of each page's query profile")
    parser.add_argument("--slow-s", type=float, default=15.0,
                        help="a page whose first load takes longer is measured --slow-repeats times only")
    parser.add_argument("--slow-repeats", type=int, default=2)
    parser.add_argument("--lake", help="reuse (or build once into) this folder instead of a temporary one")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    args = parser.parse_args(argv)

    import requests
    from waitress.server import create_server

    from nexus.console import data as q
    from nexus.console.app import create_app
    from nexus.console.auth import Users
    from warehouse.lake import Lake

    if args.start:
        start = dt.date.fromisoformat(args.start)
    else:
        today = dt.datetime.now(UTC).date()
        start = dt.date(today.year - args.years, today.month, min(today.day, 28))
    end = dt.date(start.year + args.years, start.month, start.day)
    with tempfile.TemporaryDirectory(prefix="nexus-bench-console-") as tmp:
        root = Path(args.lake) if args.lake else Path(tmp) / "lake"
        built: dict[str, Any] = {}
        t0 = time.perf_counter()
        if not (root / "gold" / "fct_reports").exists():
            tags = build_lake(root, years=args.years, silver_days=0, start=start)
            silver = build_lake(root, years=0, silver_days=args.silver_days, start=end - dt.timedelta(days=args.silver_days)) \
                if args.silver_days else {"silver_rows": 0, "commits": 0}
            rest = build_console_tables(root, start=start, years=args.years)
            built = {**{k: v for k, v in tags.items() if k != "silver_rows"}, "silver_rows": silver["silver_rows"],
                     **{k: v for k, v in rest.items() if k != "commits"},
                     "commits": tags["commits"] + silver["commits"] + rest["commits"]}
        build_s = round(time.perf_counter() - t0, 1)
        if built:
            print(f"built in {build_s} s: {json.dumps(built)}", file=sys.stderr, flush=True)
        lake = Lake(root)
        files = file_counts(lake)

        # the console, served by Waitress in this process (as nexus.console.app.serve, on our own port)
        home = Path(tmp) / "console-home"
        Users(home).add("bench", PASSWORD, "operator")
        app = create_app(lake, home=home, ack_timeout_s=1.0, broker=("127.0.0.1", 1))
        port = free_port()
        server = create_server(app.server, host="127.0.0.1", port=port, threads=4, ident="nexus-console")
        threading.Thread(target=server.run, daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/login", timeout=2)
                break
            except OSError:
                time.sleep(0.1)

        results: dict[str, dict[str, Any]] = {}
        driver = browser(Path(tmp) / "chromium")
        driver.set_script_timeout(1800)
        try:
            # floor 1: the bare login page (static HTML, no lake)
            login_ms = []
            for i in range(args.repeats + 2):
                t = time.perf_counter()
                driver.get(base + "/login")
                driver.execute_async_script(READY_JS, "#sign-in", None)
                if i >= 2:
                    login_ms.append((time.perf_counter() - t) * 1e3)
            login = pct(login_ms)
            driver.find_element("id", "username").send_keys("bench")
            driver.find_element("id", "password").send_keys(PASSWORD)
            driver.find_element("id", "sign-in").click()
            driver.execute_async_script(READY_JS, PAGES["/"], None)
            session = requests.Session()
            assert session.post(base + "/login", data={"username": "bench", "password": PASSWORD},
                                allow_redirects=False).status_code == 302
            reader = q.Reader(lake)  # a warm reader of our own for the pages' queries (the floor)
            for path, selector in PAGES.items():
                graph = GRAPHS.get(path)
                times: list[float] = []
                slow = False
                for i in range(args.repeats + 2):
                    t = time.perf_counter()
                    driver.get(base + path)
                    driver.execute_async_script(READY_JS, selector, graph)
                    ms = (time.perf_counter() - t) * 1e3
                    # a page this slow on its first load (the app's scripts already cached) gets
                    # --slow-repeats loads in all, the first one counted, instead of 2 + --repeats
                    slow = slow or (i == 0 and ms > args.slow_s * 1e3)
                    if i >= 2 or slow:
                        times.append(ms)
                    if slow and len(times) >= args.slow_repeats:
                        break
                # server: the page's callbacks over HTTP, as the browser posts them
                pathname, _, search = path.partition("?")
                route = callback_body([("page", "children")], [("url", "pathname", pathname),
                                                               ("url", "search", "?" + search if search else "")])
                trend = callback_body([("trend-graph", "figure"), ("trend-graph", "extendData"), ("live-state", "data"),
                                       ("trend-status", "children")],
                                      [("trend-plant", "value", "cstr"),
                                       ("trend-tags", "value", ["CSTR.AY102", "CSTR.TC102.SP"]),
                                       ("trend-range", "value", "7 days"), ("live-tick", "n_intervals", None)],
                                      [("live-state", "data", None)])
                server_ms, route_ms = [], []
                for i in range(args.repeats + 2):
                    t = time.perf_counter()
                    r = session.post(base + "/_dash-update-component", json=route)
                    assert r.status_code == 200, (path, r.status_code, r.text[:300])
                    components = r.text.count('"namespace":')  # Dash components the route callback returns
                    tr = time.perf_counter()
                    if path.startswith("/trends"):
                        r = session.post(base + "/_dash-update-component", json=trend)
                        assert r.status_code == 200, (path, r.status_code, r.text[:300])
                    if i >= 2:
                        route_ms.append((tr - t) * 1e3)
                        server_ms.append((time.perf_counter() - t) * 1e3)
                # floor 2: the page's queries, directly
                query_ms = []
                for i in range(args.repeats + 2):
                    t = time.perf_counter()
                    for _, fn in page_functions(q, reader, path):
                        fn()
                    if i >= 2:
                        query_ms.append((time.perf_counter() - t) * 1e3)
                b, s, qy = pct(times), pct(server_ms), pct(query_ms)
                floor = round(login["p50_ms"] + qy["p50_ms"], 1)
                print(f"{path}: {len(times)} loads, browser p95 {pct(times)['p95_ms']} ms", file=sys.stderr, flush=True)
                results[path] = {"loads": len(times), "components": components, "browser": b, "server": s, "route_callback": pct(route_ms), "queries": qy,
                                 "floor_ms": floor, "ratio_p95_floor": round(b["p95_ms"] / max(floor, 1e-3), 2),
                                 "ok": b["p95_ms"] <= 1000.0}
        finally:
            driver.quit()
            server.close()
        for path in PAGES:
            results[path]["slowest_queries"] = profile_queries(q, lake, path, args.profile_repeats)[:3]

    out = {"years": args.years, "silver_days": args.silver_days, "history": f"{start} .. {end}",
           "repeats": args.repeats, "build_s": build_s, **({"built": built} if built else {}), "files": files,
           "login_page": login, "pages": results, "all_ok": all(r["ok"] for r in results.values())}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"lake: {args.years} years ({start} .. {end}), {args.silver_days} days of CSTR silver; built in {build_s} s "
          f"{json.dumps(built) if built else '(reused)'}")
    print("Delta files per table:", ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in files.items()))
    print(f"login page (floor, static HTML): p50 {login['p50_ms']} ms, p95 {login['p95_ms']} ms")
    print(f"\n{'page':<22}{'loads':>6}{'components':>11}{'browser p50':>12}{'p95':>8}{'server p50':>12}{'p95':>8}{'queries p50':>13}"
          f"{'floor':>8}{'p95/floor':>11}  p95<=1s")
    for path, r in results.items():
        print(f"{path:<22}{r['loads']:>6}{r['components']:>11}{r['browser']['p50_ms']:>12.0f}{r['browser']['p95_ms']:>8.0f}{r['server']['p50_ms']:>12.0f}"
              f"{r['server']['p95_ms']:>8.0f}{r['queries']['p50_ms']:>13.0f}{r['floor_ms']:>8.0f}"
              f"{r['ratio_p95_floor']:>11.2f}  {'yes' if r['ok'] else 'NO'}")
    print("(ms; floor = login page p50 + the page's queries p50 run directly on a warm reader; components = Dash "
          "components in the route callback's response)")
    print("\nslowest queries per page (p50 on a warm reader, x calls per load):")
    for path, r in results.items():
        for s in r["slowest_queries"]:
            print(f"  {path:<20} {s['p50_ms']:>8.1f} ms x{s['calls_per_load']} rows {s['rows']:<6} {s['sql'][:150]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
