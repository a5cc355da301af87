"""Airflow on the machine's PostgreSQL server: a fresh metadata database per test run.

`airflow db migrate` on PostgreSQL, then the production components started one by one
(api-server, scheduler, dag-processor), the ingest DAG triggered from the CLI and followed
to success. The database is dropped at the end.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.e2e.services import airflow, airflow_env, running
from warehouse.lake import Lake
from warehouse.tables import FCT_INGEST_BATCHES

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.postgres]


def test_trigger_on_postgres_metadata(tmp_path, metadata_db):
    from nexus.demo import simulate

    # A run triggered by hand ingests the last complete UTC day before it (its data interval).
    day = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date()
    lake = Lake(tmp_path / "lake")
    env = airflow_env(tmp_path / "airflow", tmp_path / "lake", tmp_path / "landing",
                      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metadata_db, AIRFLOW__CORE__EXECUTOR="LocalExecutor")
    simulate("cstr", day, 2, seed=4, landing_dir=tmp_path / "landing", lake=lake)  # a 2nd day in case midnight passes
    airflow(env, "db", "migrate")
    assert "postgresql" in airflow(env, "config", "get-value", "database", "sql_alchemy_conn").stdout
    components = {"api-server": ["api-server", "--port", env["AIRFLOW__API__PORT"]],
                  "scheduler": ["scheduler"], "dag-processor": ["dag-processor"]}
    with running(env, tmp_path / "logs", components) as services:
        airflow(env, "dags", "trigger", "ingest_sensor_data")

        def manual() -> dict[str, str]:
            return {k: v for k, v in services.runs("ingest_sensor_data").items() if k.startswith("manual__")}

        services.wait(lambda: manual() and all(s in ("success", "failed") for s in manual().values()),
                      300, "the triggered run to finish")
        assert list(manual().values()) == ["success"], manual()

    batch = lake.read(FCT_INGEST_BATCHES, where={"plant_id": "cstr"}).to_pylist()
    assert [b["period_date"] for b in batch] in ([day], [day + dt.timedelta(days=1)])
    assert len(batch) == 1 and batch[0]["run_id"].startswith("manual__")
    assert batch[0]["bronze_rows"] == batch[0]["silver_rows"] + batch[0]["quarantined_rows"] + batch[0]["duplicates_removed"] > 0
