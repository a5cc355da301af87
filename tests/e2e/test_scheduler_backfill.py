"""The ingest DAG under Airflow's scheduler: `airflow backfill create` over two simulated days.

Runs `airflow standalone` (api-server, scheduler, dag-processor, triggerer; LocalExecutor on
SQLite) in its own temporary home and port, as `make airflow` does.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.e2e.services import airflow, airflow_env, running
from warehouse.lake import Lake
from warehouse.tables import FCT_INGEST_BATCHES, FCT_TAG_HOURLY

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

DAYS = [dt.date(2026, 6, 1), dt.date(2026, 6, 2)]


def test_backfill_through_the_scheduler(tmp_path):
    from nexus.demo import simulate

    lake = Lake(tmp_path / "lake")
    env = airflow_env(tmp_path / "airflow", tmp_path / "lake", tmp_path / "landing")
    simulate("cstr", DAYS[0], len(DAYS), seed=21, landing_dir=tmp_path / "landing", lake=lake)
    airflow(env, "db", "migrate")
    with running(env, tmp_path / "logs", {"standalone": ["standalone"]}) as services:
        first, last = DAYS[0] + dt.timedelta(days=1), DAYS[-1] + dt.timedelta(days=1)  # runs ingest the day before
        airflow(env, "backfill", "create", "--dag-id", "ingest_sensor_data",
                "--from-date", first.isoformat(), "--to-date", last.isoformat())

        def backfills() -> dict[str, str]:
            return {k: v for k, v in services.runs("ingest_sensor_data").items() if k.startswith("backfill__")}

        services.wait(lambda: len(backfills()) == len(DAYS) and all(s in ("success", "failed") for s in backfills().values()),
                      300, "the backfill runs to finish")
        assert set(backfills().values()) == {"success"}, backfills()

    batches = {r["period_date"]: r for r in lake.read(FCT_INGEST_BATCHES, where={"plant_id": "cstr"}).to_pylist()}
    for day in DAYS:
        b = batches[day]
        assert b["run_id"].startswith("backfill__")
        assert b["bronze_rows"] == b["silver_rows"] + b["quarantined_rows"] + b["duplicates_removed"] > 0
    hours = {h.date() for h in lake.read(FCT_TAG_HOURLY)["hour_start"].to_pylist()}
    assert set(DAYS) <= hours
