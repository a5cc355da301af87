"""Lineage through a real Airflow run (``airflow dags test`` in the project's Airflow environment).

One run of ``ingest_regulatory_data`` (the smallest feed) checks the three places lineage shows up:
the OpenLineage events the provider writes with the file transport ``nexus.airflow_env`` configures
(lake tables as datasets), the asset events' ``extra`` in the metadata database, and the Delta
commits' ``inputs`` that ``nexus lineage`` follows.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


@pytest.fixture(scope="module")
def regulatory_run(tmp_path_factory):
    from nexus.airflow_env import airflow_environ
    from nexus.demo import seed_regulatory

    root = tmp_path_factory.mktemp("lineage-run")
    seed_regulatory(root / "landing")
    home = root / "airflow"
    home.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OPENLINEAGE"))}
    base.update({"AIRFLOW_HOME": str(home), "NEXUS_LAKE_ROOT": str(root / "lake"),
                 "NEXUS_LANDING_DIR": str(root / "landing"),
                 "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}"})
    env = airflow_environ(base)  # the project's defaults, OpenLineage's file transport included
    airflow = str(Path(sys.executable).with_name("airflow"))
    for args in (["db", "migrate"], ["dags", "test", "ingest_regulatory_data", "2026-03-02"]):
        proc = subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root, home


def test_openlineage_events_name_the_lake_tables_read_and_written(regulatory_run):
    root, home = regulatory_run
    events = [json.loads(line) for line in (home / "openlineage-events.jsonl").read_text().splitlines()]
    complete = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}
    assert {"ingest_regulatory_data.land_files", "ingest_regulatory_data.build_gold"} <= set(complete)
    assert all(e["job"]["namespace"] == "nexus" for e in events)

    def names(event, side):
        return {(d["namespace"], d["name"]) for d in event.get(side, [])}

    lake = str(root / "lake")
    silver = complete["ingest_regulatory_data.publish_silver"]
    assert ("file", f"{lake}/bronze/regulatory__documents") in names(silver, "inputs")
    assert ("file", f"{lake}/silver/regulatory__rules") in names(silver, "outputs")
    gold = complete["ingest_regulatory_data.build_gold"]
    assert ("file", f"{lake}/silver/regulatory__rules") in names(gold, "inputs")
    assert ("file", f"{lake}/gold/dim_emission_factors") in names(gold, "outputs")


def test_asset_events_carry_version_rows_and_inputs(regulatory_run):
    _, home = regulatory_run
    with sqlite3.connect(home / "airflow.db") as con:
        extras = {name: json.loads(extra) for name, extra in con.execute(
            "SELECT a.name, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id")}
    gold = extras["gold.dim_emission_factors"]
    assert gold["table"] == "gold.dim_emission_factors" and gold["rows"] > 0 and gold["version"] >= 1
    assert "silver.regulatory__rules" in gold["inputs"]
    assert extras["silver.regulatory__rules"]["rows"] > 0


def test_nexus_lineage_traces_gold_to_the_silver_versions_the_run_read(regulatory_run, capsys):
    from nexus.cli import main
    from nexus.lineage import trail
    from warehouse.lake import Lake

    root, _ = regulatory_run
    node = trail(Lake(root / "lake"), "gold.dim_emission_factors")
    assert node.commit["dag_id"] == "ingest_regulatory_data" and node.commit["task_id"] == "build_gold"
    inputs = {n.table: n for n in node.inputs}
    assert inputs["silver.regulatory__rules"].commit["task_id"] == "publish_silver"
    assert "bronze.regulatory__documents" in {n.table for n in inputs["silver.regulatory__rules"].inputs}
    assert main(["--lake", str(root / "lake"), "lineage", "gold.dim_emission_factors"]) == 0
    out = capsys.readouterr().out
    assert f"silver.regulatory__rules v{inputs['silver.regulatory__rules'].version}" in out
