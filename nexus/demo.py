"""The end-to-end demo: simulate a plant's historian, ingest it through Airflow, query gold."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from nexus.airflow_env import airflow_environ
from nexus.settings import get_settings
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import FCT_OPERATING_EPISODES

DAG_ID = "ingest_sensor_data"


def simulate(plant_id: str, start: dt.date, days: int, *, seed: int = 0, landing_dir: str | Path | None = None,
             lake: Lake | None = None) -> dict[str, Any]:
    """Write ``days`` days of simulated historian exports into the landing folder.

    The simulator's ground truth (operating episodes) goes to ``gold.fct_operating_episodes``.
    """
    from models import get_plant

    settings = get_settings()
    landing = Path(landing_dir) if landing_dir else settings.landing_dir
    lake = lake or Lake(settings.lake_root)
    plant = get_plant(plant_id)
    t0 = dt.datetime.combine(start, dt.time(), tzinfo=dt.timezone.utc)
    with tempfile.TemporaryDirectory() as truth:
        result = plant.simulate(t0, t0 + dt.timedelta(days=days), landing_dir=landing, truth_dir=Path(truth), seed=seed)
    episodes = [{"plant_id": e.plant_id, "episode_id": e.episode_id, "category": e.category, "label": e.label,
                 "start_at": e.start, "end_at": e.end, "tag": e.tag, "detail": e.detail} for e in result.episodes]
    meta = CommitMeta(dag_id="nexus-simulate", run_id=f"simulate__{plant_id}__{start}__{days}d__seed{seed}",
                      source=f"simulator:{plant_id}")
    if episodes:
        lake.upsert(FCT_OPERATING_EPISODES, pa.Table.from_pylist(episodes, schema=FCT_OPERATING_EPISODES.schema), meta=meta)
    return {"plant_id": plant_id, "start": start, "days": days, "landing_dir": str(landing),
            "files": [str(p) for p in result.paths], "readings": result.n_readings, "lines": result.n_lines,
            "quirks": [f"{q.day} {q.kind}" for q in result.quirks],
            "episodes": len(episodes)}


def _airflow(args: list[str], env: dict[str, str], log: Path) -> int:
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    with log.open("w") as fh:
        return subprocess.run([airflow, *args], env=env, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode


DEMO_QUERIES = [
    ("Row accounting per day (bronze = silver + quarantine + duplicates)",
     "SELECT period_date, files_landed, files_duplicate, files_rejected, bronze_rows, silver_rows, "
     "quarantined_rows, duplicates_removed FROM gold.fct_ingest_batches ORDER BY period_date"),
    ("Daily reactor conditions from the hourly gold table",
     "SELECT CAST(hour_start AS DATE) AS day, tag, unit, round(avg(twa_value), 3) AS mean, "
     "round(min(min_value), 3) AS min, round(max(max_value), 3) AS max, round(avg(good_fraction), 4) AS good_fraction "
     "FROM gold.fct_tag_hourly WHERE tag IN ('CSTR.TI102', 'CSTR.AI102', 'CSTR.TI103') GROUP BY ALL ORDER BY day, tag"),
    ("Why rows were quarantined",
     "SELECT rule, count(*) AS rows, any_value(reason) AS example FROM silver.process__sensor_quarantine GROUP BY rule ORDER BY rows DESC"),
    ("What the simulator did (ground truth, not normal operation)",
     "SELECT category, label, start_at, end_at, tag FROM gold.fct_operating_episodes "
     "WHERE category <> 'normal' ORDER BY start_at LIMIT 12"),
]


def run_demo(days: int = 3, start: dt.date = dt.date(2026, 3, 1), seed: int = 57) -> int:
    """Simulate ``days`` days of the CSTR, run the ingest DAG for each day through Airflow, query gold."""
    from warehouse.sql import connect

    settings = get_settings()
    env = airflow_environ()
    logs = Path(env["AIRFLOW_HOME"]) / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"Nexus demo: {days} day(s) of the CSTR twin from {start}, lake at {settings.lake_root}")

    t0 = time.perf_counter()
    sim = simulate("cstr", start, days, seed=seed)
    print(f"- simulated {sim['readings']:,} readings in {len(sim['files'])} historian files "
          f"({sim['episodes']} episodes; delivery quirks: {sim['quirks'] or 'none'}) [{time.perf_counter() - t0:.1f} s]")

    t0 = time.perf_counter()
    if _airflow(["db", "migrate"], env, logs / "db-migrate.log"):
        print(f"airflow db migrate failed, see {logs / 'db-migrate.log'}", file=sys.stderr)
        return 1
    print(f"- Airflow metadata database ready at {env['AIRFLOW_HOME']} [{time.perf_counter() - t0:.1f} s]")

    for i in range(days):
        day = start + dt.timedelta(days=i)
        logical = day + dt.timedelta(days=1)  # a run's data interval is the day before its logical date
        log = logs / f"{DAG_ID}__{day}.log"
        t0 = time.perf_counter()
        rc = _airflow(["dags", "test", DAG_ID, logical.isoformat()], env, log)
        failed = rc != 0  # `airflow dags test` exits non-zero when the run fails
        print(f"- airflow dags test {DAG_ID} {logical} (ingests {day}): "
              f"{'FAILED' if failed else 'success'} [{time.perf_counter() - t0:.1f} s, log {log}]")
        if failed:
            print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
            return 1

    con = connect()
    for title, query in DEMO_QUERIES:
        print(f"\n{title}:\n  nexus sql \"{query[:90]}{'...' if len(query) > 90 else ''}\"")
        con.sql(query).show(max_width=160)
    print(f"\nThe lake is at {settings.lake_root}. Try:\n"
          f"  .venv/bin/nexus tables\n"
          f"  .venv/bin/nexus sql \"SELECT * FROM gold.fct_tag_hourly LIMIT 10\"\n"
          f"  make airflow   # the Airflow UI on http://localhost:8080")
    return 0
