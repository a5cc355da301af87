"""The production shape: Airflow on PostgreSQL with the CeleryExecutor on Redis, two workers, and the
lake and the landing inbox on object storage (a real S3 server, SeaweedFS).

A backfill of three days through the scheduler (`airflow backfill create`, with a run conf that
picks two plants) runs its tasks on both Celery workers, and leaves silver and gold on S3 exactly as
running the same pipeline day by day on a local lake does. Tasks pass table references, never
data, so any worker can run any task; the lake on S3 is the storage they share.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import pandas as pd
import pytest

from tests.e2e.services import airflow, airflow_env, running
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import (
    FCT_INGEST_BATCHES,
    FCT_TAG_HOURLY,
    SILVER_SENSOR_QUARANTINE,
    SILVER_SENSOR_READINGS,
)

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.postgres, pytest.mark.s3]

DAYS = [dt.date(2026, 4, 1) + dt.timedelta(days=i) for i in range(3)]
PLANTS = ["cstr", "smelter"]


@pytest.fixture
def redis_url():
    """A Redis database of its own on the machine's server; flushed afterwards."""
    import redis

    db = random.randint(1, 15)
    url = f"redis://127.0.0.1:6379/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def _day_by_day(root, landing) -> Lake:
    """The same days through the same library steps, one day at a time, on a lake of its own."""
    from etl.sensor import Batch, run_batch

    lake = Lake(root)
    for day in DAYS:
        for plant in PLANTS:
            run_batch(lake, landing, Batch(plant, day), CommitMeta("reference", f"day-by-day__{day}", f"sensor:{plant}"))
    return lake


def _frame(lake: Lake, spec) -> pd.DataFrame:
    """The table's rows of the backfilled plant-days, without run-specific columns."""
    drop = ["_run_id", "_ingested_at", "_quarantined_at", "completed_at", "run_id", "dag_id"]
    df = lake.read(spec).to_pandas()
    if "period_date" in df:
        df = df[df["period_date"].isin(DAYS)]
    df = df.drop(columns=drop, errors="ignore")
    return df.sort_values(list(spec.primary_key)).reset_index(drop=True)


def test_backfill_on_two_celery_workers(tmp_path, metadata_db, redis_url, object_store):
    from nexus.demo import simulate

    lake_root, landing = object_store.uri(f"{tmp_path.name}-lake"), object_store.uri(f"{tmp_path.name}-landing")
    reference_landing = tmp_path / "reference-landing"
    for plant in PLANTS:
        for folder in (landing, reference_landing):
            simulate(plant, DAYS[0], len(DAYS), seed=5, landing_dir=folder, lake=Lake(tmp_path / "scratch"))
    env = airflow_env(tmp_path / "airflow", lake_root, landing,
                      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metadata_db,
                      AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
                      AIRFLOW__CELERY__BROKER_URL=redis_url,
                      AIRFLOW__CELERY__RESULT_BACKEND="db+" + metadata_db.replace("+psycopg2", ""),
                      AIRFLOW__CELERY__WORKER_CONCURRENCY="1",
                      AIRFLOW__CORE__PARALLELISM="4")
    airflow(env, "db", "migrate")
    components = {"api-server": ["api-server", "--port", env["AIRFLOW__API__PORT"]], "scheduler": ["scheduler"],
                  "dag-processor": ["dag-processor"],
                  "worker-1": ["celery", "worker", "--celery-hostname", "nexus-worker-1@%h", "--skip-serve-logs"],
                  "worker-2": ["celery", "worker", "--celery-hostname", "nexus-worker-2@%h", "--skip-serve-logs"]}
    with running(env, tmp_path / "logs", components) as services:
        first, last = DAYS[0] + dt.timedelta(days=1), DAYS[-1] + dt.timedelta(days=1)  # runs ingest the day before
        airflow(env, "backfill", "create", "--dag-id", "ingest_sensor_data", "--from-date", first.isoformat(),
                "--to-date", last.isoformat(), "--dag-run-conf", json.dumps({"plants": PLANTS}))

        def backfills() -> dict[str, str]:
            return {k: v for k, v in services.runs("ingest_sensor_data").items() if k.startswith("backfill__")}

        services.wait(lambda: len(backfills()) == len(DAYS) and all(s in ("success", "failed") for s in backfills().values()),
                      480, "the backfill runs to finish on the Celery workers")
        assert set(backfills().values()) == {"success"}, backfills()
        logs = {w: (tmp_path / "logs" / f"{w}.log").read_text() for w in ("worker-1", "worker-2")}

    # Both workers ran tasks (Celery logs every task it receives).
    received = {w: text.count("received") for w, text in logs.items()}
    assert all(n > 0 for n in received.values()), received
    # The Celery backfill left silver and gold exactly as day-by-day runs do. (Unpausing the DAG
    # also lets the scheduler start today's run, which finds no files: its empty batches are
    # outside the backfilled days.)
    celery_lake = Lake(lake_root)
    assert celery_lake.remote and celery_lake.files.walk("raw/sensor")  # the workers' raw files are on S3
    reference = _day_by_day(tmp_path / "reference-lake", reference_landing)
    for spec in (SILVER_SENSOR_READINGS, SILVER_SENSOR_QUARANTINE, FCT_TAG_HOURLY, FCT_INGEST_BATCHES):
        pd.testing.assert_frame_equal(_frame(celery_lake, spec), _frame(reference, spec), obj=spec.name)
    backfilled = _frame(celery_lake, FCT_INGEST_BATCHES)
    assert set(backfilled["plant_id"]) == set(PLANTS) and set(backfilled["period_date"]) == set(DAYS)
