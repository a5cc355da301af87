"""Shared fixtures.

Airflow reads its configuration when first imported, so the test session's Airflow home (one
SQLite metadata database for the whole session) is set here, before any test imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="nexus-airflow-"))
os.environ.update({
    "NEXUS_ENV": "ci",
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__PARALLELISM": "2",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
})
if str(DAGS) not in sys.path:
    sys.path.insert(0, str(DAGS))  # as Airflow's DAG processor does


@pytest.fixture
def lake(tmp_path):
    """An empty lake in a temporary folder."""
    from warehouse.lake import Lake

    return Lake(tmp_path / "lake")


@pytest.fixture
def meta():
    from warehouse.lake import CommitMeta

    return CommitMeta(dag_id="pytest", run_id="run-1", source="test")


@pytest.fixture(scope="session")
def airflow_db():
    """Migrate the session's Airflow metadata database once (SQLite in a temporary home)."""
    airflow = Path(sys.executable).with_name("airflow")
    proc = subprocess.run([str(airflow), "db", "migrate"], env=os.environ.copy(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return _AIRFLOW_HOME
