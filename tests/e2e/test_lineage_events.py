"""Lineage through a real Airflow run (``airflow dags test`` in the project's Airflow environment).

One run of ``ingest_market_data`` on one simulated publication day checks where lineage and
validation results show up: the OpenLineage events the provider writes with the file transport
``nexus.airflow_env`` configures (lake tables as datasets), the asset events' ``extra`` in the
metadata database, the Delta commits' ``inputs`` that ``nexus lineage`` follows, and the batch's
Great Expectations result in ``gold.fct_validation_results`` and the Data Docs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.slow]
DAY = dt.date(2026, 3, 5)  # publication day; the run of logical date DAY + 1 ingests it


@pytest.fixture(scope="module")
def market_run(tmp_path_factory):
    from models import market as mm
    from nexus.airflow_env import airflow_environ

    root = tmp_path_factory.mktemp("lineage-run")
    mm.simulate(DAY, DAY + dt.timedelta(days=1), landing_dir=root / "landing", seed=8)
    home = root / "airflow"
    home.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OPENLINEAGE"))}
    base.update({"AIRFLOW_HOME": str(home), "NEXUS_LAKE_ROOT": str(root / "lake"),
                 "NEXUS_LANDING_DIR": str(root / "landing"),
                 "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}"})
    env = airflow_environ(base)  # the project's defaults, OpenLineage's file transport included
    airflow = str(Path(sys.executable).with_name("airflow"))
    for args in (["db", "migrate"], ["dags", "test", "ingest_market_data", (DAY + dt.timedelta(days=1)).isoformat()]):
        proc = subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root, home


def test_openlineage_events_name_the_lake_tables_read_and_written(market_run):
    root, home = market_run
    events = [json.loads(line) for line in (home / "openlineage-events.jsonl").read_text().splitlines()]
    complete = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}
    assert {"ingest_market_data.land_files", "ingest_market_data.build_gold"} <= set(complete)
    assert all(e["job"]["namespace"] == "nexus" for e in events)

    def names(event, side):
        return {(d["namespace"], d["name"]) for d in event.get(side, [])}

    lake = str(root / "lake")
    silver = complete["ingest_market_data.publish_silver"]
    assert ("file", f"{lake}/bronze/market__price_quotes") in names(silver, "inputs")
    assert ("file", f"{lake}/silver/market__prices") in names(silver, "outputs")
    gold = complete["ingest_market_data.build_gold"]
    assert ("file", f"{lake}/silver/market__prices") in names(gold, "inputs")
    assert ("file", f"{lake}/gold/fct_prices_daily") in names(gold, "outputs")


def test_asset_events_carry_version_rows_and_inputs(market_run):
    _, home = market_run
    with sqlite3.connect(home / "airflow.db") as con:
        extras = {name: json.loads(extra) for name, extra in con.execute(
            "SELECT a.name, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id")}
    gold = extras["gold.fct_prices_daily"]
    assert gold["table"] == "gold.fct_prices_daily" and gold["rows"] > 0 and gold["version"] >= 1
    assert "silver.market__prices" in gold["inputs"] and DAY.isoformat() in gold["days"]
    assert extras["silver.market__prices"]["rows"] > 0


def test_nexus_lineage_traces_gold_to_the_silver_versions_the_run_read(market_run, capsys):
    from nexus.cli import main
    from nexus.lineage import trail
    from warehouse.lake import Lake

    root, _ = market_run
    node = trail(Lake(root / "lake"), "gold.fct_prices_daily")
    assert node.commit["dag_id"] == "ingest_market_data" and node.commit["task_id"] == "build_gold"
    silver = {n.table: n for n in node.inputs}["silver.market__prices"]
    assert silver.commit["task_id"] == "publish_silver"
    assert "bronze.market__price_quotes" in {n.table for n in silver.inputs}
    assert main(["--lake", str(root / "lake"), "lineage", "gold.fct_prices_daily"]) == 0
    assert f"silver.market__prices v{silver.version}" in capsys.readouterr().out


def test_the_runs_validation_is_in_gold_and_in_the_data_docs(market_run):
    from warehouse.lake import Lake
    from warehouse.validation_docs import docs_index, latest_results

    root, _ = market_run
    lake = Lake(root / "lake")
    (row,) = latest_results(lake)
    assert row["suite"] == f"silver.market__prices:{DAY}" and row["dag_id"] == "ingest_market_data"
    assert row["task_id"] == "publish_silver" and row["first_day"] == DAY and row["evaluated_expectations"] > 0
    page = root / "lake" / row["data_docs_path"]
    assert page.exists() and row["suite"] in page.read_text()
    assert page.name in docs_index(lake).read_text()
