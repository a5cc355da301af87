"""The end-to-end demo: simulate a plant's historian, ingest it through Airflow, query gold."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import posixpath
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


from nexus.airflow_env import airflow_environ
from nexus.settings import get_settings
from warehouse import storage
from warehouse.lake import CommitMeta, Lake

DAG_ID = "ingest_sensor_data"
HISTORY_DAYS = 14  # market history bulk-loaded before the demo days at least (monthly quotes: see run_demo)
SENSOR_HISTORY_DAYS = 28  # plant history bulk-loaded before them, so the monitors train and calibration has a trend
CALIBRATION_WARMUP_DAYS, CALIBRATION_STRIDE_DAYS = 14, 2  # calibrated history: once the monitors are trained


def simulate(plant_id: str, start: dt.date, days: int, *, seed: int = 0, landing_dir: str | Path | None = None,
             lake: Lake | None = None) -> dict[str, Any]:
    """Write ``days`` days of simulated historian exports into the landing folder.

    The simulator's ground truth (operating episodes) goes to ``sim.truth__operating_episodes``
    (evaluation data: no pipeline reads it).
    """
    from models.fleet import get_instance

    settings = get_settings()
    landing = str(landing_dir or settings.landing_dir)
    lake = lake or Lake(settings.lake_root)
    plant = get_instance(plant_id)
    t0 = dt.datetime.combine(start, dt.time(), tzinfo=dt.timezone.utc)
    with tempfile.TemporaryDirectory() as truth, _local_landing(landing) as local:
        result = plant.simulate(t0, t0 + dt.timedelta(days=days), landing_dir=local, truth_dir=Path(truth), seed=seed)
    from nexus.truth import record_episodes

    meta = CommitMeta(dag_id="nexus-simulate", run_id=f"simulate__{plant_id}__{start}__{days}d__seed{seed}",
                      source=f"simulator:{plant_id}")
    episodes = record_episodes(lake, result.episodes, meta)
    return {"plant_id": plant_id, "start": start, "days": days, "landing_dir": str(landing),
            "files": [storage.join(landing, Path(p).relative_to(local).as_posix()) for p in result.paths], "readings": result.n_readings, "lines": result.n_lines,
            "quirks": [f"{q.day} {q.kind}" for q in result.quirks],
            "episodes": episodes}


def simulate_market(start: dt.date, days: int, *, seed: int = 0, landing_dir: str | Path | None = None) -> dict[str, Any]:
    """Write the vendor price files published on ``days`` days from ``start`` into the landing folder."""
    from models import market

    landing = str(landing_dir or get_settings().landing_dir)
    with _local_landing(landing) as local:
        files = market.simulate(start, start + dt.timedelta(days=days), landing_dir=local, seed=seed)
    return {"start": start, "days": days, "landing_dir": str(landing), "files": len(files),
            "rows": sum(f.rows for f in files), "reissues": sum(f.reissues for f in files),
            "bad_rows": sorted(b for f in files for b in f.bad_rows)}


def seed_regulatory(landing_dir: str | Path | None = None) -> list[str]:
    """Copy the regulatory documents shipped with Nexus into ``<landing>/regulatory/``."""
    from etl.regulatory import seed_documents_dir

    inbox = storage.folder(landing_dir or get_settings().landing_dir).sub("regulatory")
    names = []
    for doc in sorted(seed_documents_dir().glob("*.yaml")):
        inbox.upload(doc, doc.name)
        names.append(doc.name)
    return names


@contextlib.contextmanager
def _local_landing(landing: str):
    """The simulators write historian and vendor files to a local folder, as a plant's export job
    does: for a landing location on S3 they write to a temporary folder, whose files are then
    delivered (uploaded) into the S3 inbox under the same relative paths."""
    if not storage.is_remote(landing):
        yield Path(landing)
        return
    from etl.historian import parse_file_name

    inbox = storage.folder(landing)
    with tempfile.TemporaryDirectory(prefix="nexus-landing-") as tmp:
        yield Path(tmp)
        delivered = [p.relative_to(tmp).as_posix() for p in sorted(Path(tmp).rglob("*")) if p.is_file()]
        for rel in delivered:
            inbox.upload(Path(tmp) / rel, rel)
        # A re-simulated historian day replaces its earlier exports as the plant simulator does in a
        # local inbox (models.historian.write_exports): an earlier run's quirk files <plant>__<day>__0N.csv,
        # N = 2..4, that this run did not write again are removed. Vendor price files are left alone.
        days = {(posixpath.dirname(rel), *parsed[:2]) for rel in delivered if rel.startswith("sensor/")
                and (parsed := parse_file_name(posixpath.basename(rel)))}
        for folder, plant_id, day in sorted(days):
            for nn in (2, 3, 4):
                rel = f"{folder}/{plant_id}__{day:%Y-%m-%d}__{nn:02d}.csv"
                if rel not in delivered:
                    inbox.remove(rel)


def _airflow(args: list[str], env: dict[str, str], log: Path) -> int:
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    with log.open("w") as fh:
        return subprocess.run([airflow, *args], env=env, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode


DEMO_QUERIES = [
    ("Row accounting per feed and day (bronze = silver + quarantine + duplicates) and completeness",
     "SELECT source, plant_id AS plant_or_vendor, period_date, files_received, files_landed, bronze_rows, silver_rows, "
     "quarantined_rows, duplicates_removed, conflicting_rows, round(completeness, 4) AS completeness, status "
     "FROM gold.fct_ingest_batches WHERE period_date >= DATE '{start}' "
     "ORDER BY source DESC, period_date, plant_id"),
    ("Daily reactor conditions from the hourly gold table",
     "SELECT CAST(hour_start AS DATE) AS day, tag, unit, round(avg(twa_value), 3) AS mean, "
     "round(min(min_value), 3) AS min, round(max(max_value), 3) AS max, round(avg(good_fraction), 4) AS good_fraction "
     "FROM gold.fct_tag_hourly WHERE tag IN ('CSTR.TI102', 'CSTR.AI102', 'CSTR.TI103') GROUP BY ALL ORDER BY day, tag"),
    ("Why rows were quarantined",
     "SELECT 'sensor' AS feed, rule, count(*) AS rows, any_value(reason) AS example FROM silver.process__sensor_quarantine GROUP BY ALL "
     "UNION ALL SELECT 'market', rule, count(*), any_value(reason) FROM silver.market__price_quarantine GROUP BY ALL ORDER BY rows DESC"),
    ("What the simulator did (its ground truth, evaluation data only: no pipeline reads it)",
     "SELECT plant_id, category, label, start_at, end_at, tag FROM sim.truth__operating_episodes "
     "WHERE category IN ('abnormal', 'extreme') AND start_at >= DATE '{start}' ORDER BY start_at LIMIT 12"),
    ("What monitoring detected from the data alone (event frames; transients left out)",
     "SELECT plant_id, unit, kind, start_at, end_at, severity, round(peak_score, 2) AS peak, top_tags "
     "FROM gold.fct_events WHERE kind <> 'transient' AND start_at >= DATE '{start}' ORDER BY start_at LIMIT 16"),
    ("Sensor health: flagged readings per tag and kind (flags stay in silver with their reason)",
     "SELECT plant_id, tag, sum(stuck_count) AS stuck, sum(spike_count) AS spike, sum(drift_count) AS drift, "
     "sum(noise_count) AS noise, any_value(reason) AS example FROM gold.fct_tag_health WHERE flagged_count > 0 "
     "GROUP BY ALL ORDER BY plant_id, stuck + spike + drift + noise DESC LIMIT 12"),
    ("Prices of the last demo day in the reporting currency (original quote kept)",
     "SELECT series_id, item, round(price, 2) AS price, unit, round(value_original, 2) AS quoted, unit_original, "
     "is_filled, revision_count FROM gold.fct_prices_daily WHERE price_date = (SELECT max(price_date) FROM gold.fct_prices_daily "
     "WHERE NOT is_filled AND series_id = 'eex.eua') ORDER BY item, series_id"),
    ("Carbon cost of German grid power: EUA price x grid factor in force that day",
     "SELECT p.price_date, round(p.price, 2) AS eua_usd_per_t, f.value AS grid_kg_per_kwh, f.document_id, f.version, "
     "round(p.price * f.value, 2) AS carbon_usd_per_mwh FROM gold.fct_prices_daily p JOIN gold.dim_emission_factors f "
     "ON f.factor_kind = 'grid_electricity' AND f.subject = 'DE' AND f.qualifier = 'location' "
     "AND p.price_date >= f.valid_from AND (f.valid_to IS NULL OR p.price_date < f.valid_to) "
     "WHERE p.series_id = 'eex.eua' ORDER BY p.price_date"),
]


SUSTAINABILITY_QUERIES = [
    ("Emissions per plant and day (t CO2e; Scope 2 both ways; biogenic CO2 outside the totals)",
     "SELECT plant_id, emission_date, round(scope1_tco2e, 2) AS s1, round(scope2_location_tco2e, 2) AS s2_loc, "
     "round(scope2_market_tco2e, 2) AS s2_mkt, round(scope3_tco2e, 2) AS s3, round(total_market_tco2e, 2) AS total_mkt, "
     "round(biogenic_co2_t, 1) AS biogenic, product, round(intensity_total_market_kg_per_kg, 3) AS kg_co2e_per_kg "
     "FROM gold.fct_emissions_summary_daily WHERE scenario_id = 'base' ORDER BY plant_id, emission_date"),
    ("Limits in force on the last day, and how much of each is used",
     "SELECT plant_id, pollutant, averaging, round(value, 3) AS value, limit_value, unit, round(utilisation_pct, 1) AS pct, "
     "status FROM gold.fct_emission_compliance_daily WHERE scenario_id = 'base' AND emission_date = "
     "(SELECT max(emission_date) FROM gold.fct_emission_compliance_daily) ORDER BY plant_id, pollutant"),
    ("Calibrated parameters against design, with drift flags",
     "SELECT plant_id, fit_date, parameter, round(estimate, 4) AS estimate, round(std_error, 4) AS std_error, "
     "design_value, round(drift_pct, 1) AS drift_pct, out_of_band, round(validation_mape_pct, 2) AS val_mape_pct "
     "FROM gold.fct_model_parameters WHERE scenario_id = 'base' ORDER BY plant_id, parameter"),
    ("Asset health: remaining useful life from the calibrated parameter trends (P10 / P50 / P90, days)",
     "SELECT plant_id, asset, indicator, round(indicator_value, 4) AS value, threshold, round(rul_p10_days) AS p10, "
     "round(rul_p50_days) AS p50, round(rul_p90_days) AS p90, status, recommendation FROM gold.fct_asset_health "
     "WHERE assessed_date = (SELECT max(assessed_date) FROM gold.fct_asset_health) ORDER BY plant_id, asset"),
    ("Recommended setpoints, expected profit and CO2e against the current operating point",
     "SELECT plant_id, setpoint, round(current_value, 3) AS current, round(recommended_value, 3) AS recommended, unit, "
     "round(delta_profit_usd_h, 2) AS d_profit_usd_h, round(delta_co2e_kg_h, 2) AS d_co2e_kg_h, model_version "
     "FROM gold.fct_setpoint_recommendations WHERE scenario_id = 'base' ORDER BY plant_id, setpoint"),
    ("Optimized vs baseline: each promised target against the replays (change %, one sigma), default policy",
     "SELECT plant_id, kpi, target_pct, round(achieved_pct, 2) AS achieved_pct, round(achieved_sd_pct, 2) AS sd_pct, "
     "met, days, baseline_reproduces FROM gold.v_benefit_targets WHERE scenario_id = 'base' "
     "AND policy = 'max_profit_no_co2e_increase' ORDER BY plant_id, kpi"),
    ("Cradle-to-gate GWP100 per kg of product (95 % Monte Carlo interval)",
     "SELECT product, allocation, round(value, 3) AS kg_co2e_per_kg, round(p2_5, 3) AS p2_5, round(p97_5, 3) AS p97_5 "
     "FROM gold.fct_lca_results WHERE impact_category = 'climate_change_gwp100' AND scenario_id = 'base' ORDER BY product, allocation"),
]


def product_query() -> tuple[str, str]:
    """Daily product output of every plant from gold hourly means of its product tags (activity data)."""
    from etl.units import registry
    from models import get_plant
    from models.fleet import instance_ids

    ureg = registry()
    parts = []
    for plant_id in sorted(instance_ids()):
        plant = get_plant(plant_id)
        units = {t.tag: t.canonical_unit for t in plant.TAGS}
        for a in plant.ACTIVITY:
            if a.kind != "product":
                continue
            per_hour = (ureg.Quantity(1.0, units[a.tag]) * ureg.hour).to(a.unit).magnitude * a.factor
            parts.append(f"SELECT '{plant_id}' AS plant, '{a.item}' AS product, CAST(hour_start AS DATE) AS day, "
                         f"round(sum(twa_value) * {per_hour!r}, 3) AS amount, '{a.unit}' AS unit "
                         f"FROM gold.fct_tag_hourly WHERE plant_id = '{plant_id}' AND tag = '{a.tag}' GROUP BY ALL")
    return ("Daily product output per plant (hourly means of the product tags, integrated)",
            " UNION ALL ".join(parts) + " ORDER BY plant, product, day")


def run_dag_as_scheduled(dag_id: str, day: dt.date | None = None, conf: dict | None = None) -> str:
    """Run one DAG run in this process with Airflow's ``dag.test()``; returns the run's state.

    With ``day``, the run is the one the scheduler (or ``airflow backfill create``) makes for that
    data day: the same logical date (the start of its data interval), data interval and
    ``run_after`` (when the day has ended), and a start date of when it really started.
    ``airflow dags test DAG DATE`` cannot make that run: it takes DATE as the logical date of a
    manual run whose interval *ends* at DATE, so its logical dates sit one day off the
    scheduler's (a later backfill over the same dates takes the wrong days for done), and it
    stamps the run as started at its logical date (the UI then shows a duration of days).
    Without ``day``, the run is a manual run now, as ``airflow dags test DAG``.
    """
    import json
    from unittest import mock

    import airflow.models.dagrun as dagrun_module
    from airflow.configuration import conf as airflow_conf
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import timezone
    from airflow.serialization.serialized_objects import DagSerialization

    bag = DagBag(dag_folder=str(Path(airflow_conf.get("core", "dags_folder")) / f"{dag_id}.py"))
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise RuntimeError(f"DAG {dag_id!r} not found or failed to parse: {json.dumps(bag.import_errors, default=str)}")
    if day is None:
        return str(dag.test(run_conf=conf).state)
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    served = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    info = next((i for i in served.iter_dagrun_infos_between(midnight, midnight + dt.timedelta(days=2))
                 if i.logical_date is not None and i.logical_date.date() == day), None)
    if info is None:
        raise RuntimeError(f"{dag_id} has no scheduled run for the data day {day}")
    original, made = dagrun_module.get_or_create_dagrun, []

    def as_scheduled(**kwargs):  # dag.test() makes its run through this helper (Airflow 3.x)
        kwargs.update(run_id=f"demo__{info.logical_date.isoformat()}", data_interval=info.data_interval,
                      run_after=info.run_after, start_date=timezone.utcnow())
        made.append(kwargs["run_id"])
        return original(**kwargs)

    with mock.patch.object(dagrun_module, "get_or_create_dagrun", as_scheduled):
        run = dag.test(logical_date=info.logical_date, run_conf=conf)
    if not made:
        raise RuntimeError("Airflow's dag.test() no longer creates its run through get_or_create_dagrun: "
                           "the demo cannot shape its runs like the scheduler's")
    return str(run.state)


def _run_dag(dag_id: str, day: dt.date | None, what: str, env: dict[str, str], logs: Path,
             conf: dict | None = None) -> bool:
    """:func:`run_dag_as_scheduled` in a fresh interpreter with Airflow's environment; its output goes to a log."""
    import json

    log = logs / f"{dag_id}__{day or 'now'}.log"
    t0 = time.perf_counter()
    with log.open("w") as fh:
        rc = subprocess.run([sys.executable, "-m", "nexus.demo", "run-dag", dag_id, day.isoformat() if day else "-",
                             json.dumps(conf or {})], env=env, stdout=fh, stderr=subprocess.STDOUT,
                            check=False).returncode
    ok = rc == 0  # non-zero when the run failed
    print(f"- {dag_id} {f'for {day}' if day else 'now'} ({what}): {'success' if ok else 'FAILED'} "
          f"[{time.perf_counter() - t0:.1f} s, log {log}]")
    if not ok:
        print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
    return ok


def ingest_days(start: dt.date, days: int, env: dict[str, str], logs: Path, *,
                dag_ids: tuple[str, ...] = ("ingest_market_data", DAG_ID), conf: dict | None = None) -> bool:
    """Run the daily ingest DAGs for the data days ``[start, start + days)``, day by day, as the scheduler would."""
    for i in range(days):
        day = start + dt.timedelta(days=i)
        for dag_id in dag_ids:
            what = f"prices published on {day}" if dag_id == "ingest_market_data" else f"historian exports of {day}"
            if not _run_dag(dag_id, day, what, env, logs, conf):
                return False
    return True


def run_demo(days: int = 3, start: dt.date = dt.date(2026, 3, 1), seed: int = 57) -> int:
    """Simulate plants, prices and rules, ingest everything through Airflow day by day, query gold."""
    from warehouse.sql import connect

    settings = get_settings()
    env = airflow_environ()
    logs = Path(env["AIRFLOW_HOME"]) / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"Nexus demo: {days} day(s) from {start}, lake at {settings.lake_root}")

    from models.fleet import instance_ids

    PLANTS = instance_ids()  # the plant instances of the fleet file
    for plant_id in sorted(PLANTS):
        t0 = time.perf_counter()
        sim = simulate(plant_id, start, days, seed=seed)
        print(f"- simulated {sim['readings']:,} {plant_id} readings in {len(sim['files'])} historian files "
              f"({sim['episodes']} episodes; delivery quirks: {sim['quirks'] or 'none'}) [{time.perf_counter() - t0:.1f} s]")
    t0 = time.perf_counter()
    history_start = start - dt.timedelta(days=HISTORY_DAYS)
    while history_start.weekday() >= 5:  # begin on a business day, so the first prices have an FX rate
        history_start -= dt.timedelta(days=1)
    # Monthly contracts (feedstock, enzyme, formic acid, ...) are quoted on the first business day of a
    # month: begin with the quote before the one in force on the first demo day, so every day has a
    # price even when the vendor's bad rows quarantine one quote (the README's replay of the first day
    # failed on "no price for 'corn_stover' on or before 2026-03-01", then on sulfuric acid, whose
    # 2026-02-02 quote came without a price).
    from models.market import monthly_quote_day

    in_force = monthly_quote_day(start)
    history_start = min(history_start, monthly_quote_day(in_force - dt.timedelta(days=1)))
    mkt = simulate_market(history_start, (start - history_start).days + days, seed=seed)
    docs = seed_regulatory()
    print(f"- simulated {mkt['rows']:,} vendor price quotes in {mkt['files']} files from {history_start} (re-issues "
          f"{mkt['reissues']}, bad rows {mkt['bad_rows'] or 'none'}); {len(docs)} regulatory documents "
          f"[{time.perf_counter() - t0:.1f} s]")
    t0 = time.perf_counter()
    from etl.market import load_history

    loaded = load_history(Lake(settings.lake_root), settings.landing_dir, history_start, start,
                          CommitMeta("nexus-demo", f"load_history__{history_start}__{start}", "market"),
                          reporting_currency=settings.reporting_currency)
    print(f"- bulk-loaded the {(start - history_start).days} days of prices before {start} ({loaded['silver_rows']:,} quotes to silver, "
          f"{loaded['quarantined_rows']} quarantined) [{time.perf_counter() - t0:.1f} s]")

    lake = Lake(settings.lake_root)
    t0 = time.perf_counter()
    from nexus.history import backfill_history

    hist_start = start - dt.timedelta(days=SENSOR_HISTORY_DAYS)
    hist = backfill_history(sorted(PLANTS), hist_start, start, lake=lake, seed=seed, chunk_days=SENSOR_HISTORY_DAYS)
    print(f"- simulated and bulk-loaded {SENSOR_HISTORY_DAYS} days of plant history before {start} "
          f"({sum(h.readings for h in hist):,} readings) [{time.perf_counter() - t0:.1f} s]")
    t0 = time.perf_counter()
    from etl.monitoring import monitor_range

    for plant_id in sorted(PLANTS):
        monitor_range(lake, plant_id, hist_start, start,
                      CommitMeta("nexus-demo", f"monitor_history__{plant_id}__{hist_start}", f"monitoring:{plant_id}"))
    print(f"- monitored the history (sensor health, PCA and IsolationForest, event frames) "
          f"[{time.perf_counter() - t0:.1f} s]")
    t0 = time.perf_counter()
    from optimization.calibrate import calibrate_day

    cal_meta = CommitMeta("nexus-demo", f"calibrate_history__{hist_start}", "calibration")
    for i in range(CALIBRATION_WARMUP_DAYS, SENSOR_HISTORY_DAYS, CALIBRATION_STRIDE_DAYS):
        calibrate_day(lake, hist_start + dt.timedelta(days=i), meta=cal_meta, raise_on_failure=False)
    print(f"- calibrated the history every {CALIBRATION_STRIDE_DAYS} days (parameter trends for remaining useful life) "
          f"[{time.perf_counter() - t0:.1f} s]")

    t0 = time.perf_counter()
    if _airflow(["db", "migrate"], env, logs / "db-migrate.log"):
        print(f"airflow db migrate failed, see {logs / 'db-migrate.log'}", file=sys.stderr)
        return 1
    print(f"- Airflow metadata database ready at {env['AIRFLOW_HOME']} [{time.perf_counter() - t0:.1f} s]")

    if not _run_dag("ingest_regulatory_data", start, "the documents waiting in landing/regulatory", env, logs):
        return 1
    if not ingest_days(start, days, env, logs):
        return 1

    last = start + dt.timedelta(days=days - 1)
    if not _run_dag("monitor_plants", None, "sensor health, process monitoring and event frames", env, logs,
                    conf={"day": last.isoformat(), "days": days}):
        return 1
    if not _run_dag("calibrate_models", None, "parameters fitted on the hours monitoring found steady and normal",
                    env, logs, conf={"fit_date": last.isoformat()}):
        return 1
    if not _run_dag("optimize_setpoints", None, f"setpoints under the prices and rules of {last}", env, logs,
                    conf={"recommendation_date": last.isoformat(), "pareto_points": 5}):
        return 1
    if not _run_dag("sustainability_report", None, f"carbon accounting, LCA and the report of {last}", env, logs,
                    conf={"report_date": last.isoformat(), "window_days": min(30, SENSOR_HISTORY_DAYS + days),
                          "lca_samples": 300, "benefit_days": days}):
        return 1
    if not _run_dag("simulate_electrolyzer_what_if", None, "a what-if experiment: the console's first base run", env,
                    logs, conf={"current_a": 450.0, "duration_h": 4.0, "step_minutes": 10.0,
                                "experiment_id": "demo-450A-4h"}):
        return 1
    t0 = time.perf_counter()
    from optimization import writeback as wb

    proposed = []
    for plant_id in sorted(PLANTS):  # the last day's recommendations, waiting for an operator in the console
        try:
            proposed += wb.propose(lake, plant_id, last, meta=CommitMeta("nexus-demo", f"propose__{last}", "writeback"),
                                   now=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC))
        except wb.InvalidWriteRequest as exc:
            print(f"  {plant_id}: nothing to propose ({exc})")
    print(f"- proposed {len(proposed)} setpoint writes of {last} for approval in the console "
          f"[{time.perf_counter() - t0:.1f} s]")

    from nexus.evaluation import evaluate_detectors, summary

    evaluation = evaluate_detectors(lake, sorted(PLANTS), CommitMeta("nexus-demo", "evaluate_detectors", "simulator-truth"))
    con = connect()
    for title, query in [*DEMO_QUERIES, product_query(), *SUSTAINABILITY_QUERIES]:
        query = query.replace("{start}", start.isoformat())
        print(f"\n{title}:\n  nexus sql \"{query[:90]}{'...' if len(query) > 90 else ''}\"")
        con.sql(query).show(max_width=160)
    print("\nDetectors against the simulator's truth (gold.fct_detector_evaluation; goals: >= 90 % of abnormal and "
          "extreme episodes detected with <= 5 % of normal hours alarmed, >= 90 % of sensor faults on the right tag):")
    print(summary(evaluation).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    from sustainability.report import report_path

    report = report_path(lake, last)
    print(f"\nSustainability report of {last}: {report if storage.is_remote(report) else Path(report).as_uri()}")
    print(f"\nThe lake is at {settings.lake_root}. Try:\n"
          f"  .venv/bin/nexus tables\n"
          f"  .venv/bin/nexus rules smelter {start}\n"
          f"  .venv/bin/nexus sql \"SELECT * FROM gold.fct_prices_daily LIMIT 10\"\n"
          f"  .venv/bin/nexus reports   # the daily sustainability reports (open the HTML in a browser)\n"
          f"  .venv/bin/nexus console   # the operator console on http://127.0.0.1:8050 (user admin; password in "
          f".console/admin_password.generated after its first start)\n"
          f"  make airflow   # the Airflow UI on {env['AIRFLOW__API__BASE_URL']}")
    return 0


def _main(argv: list[str]) -> int:
    """``python -m nexus.demo run-dag DAG_ID DAY|- CONF_JSON`` (what :func:`_run_dag` runs)."""
    import json

    if len(argv) != 4 or argv[0] != "run-dag":
        print("usage: python -m nexus.demo run-dag DAG_ID DAY|- CONF_JSON", file=sys.stderr)
        return 2
    day = None if argv[2] == "-" else dt.date.fromisoformat(argv[2])
    state = run_dag_as_scheduled(argv[1], day, json.loads(argv[3]) or None)
    print(f"{argv[1]} {argv[2]}: {state}")
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
