"""Shared fixtures.

Airflow reads its configuration when first imported, so the test session's Airflow home (one
SQLite metadata database for the whole session) is set here, before any test imports it.
"""

from __future__ import annotations

import os
import shutil
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


@pytest.fixture(scope="session")
def object_store(tmp_path_factory):
    """One SeaweedFS S3 server for the session (tests/s3.py), its AWS_* variables set in the process
    (and so in every subprocess it starts) while the session runs. Each test takes its own prefix."""
    from tests.s3 import ObjectStore

    store = ObjectStore(tmp_path_factory.mktemp("s3")).start()
    saved = {k: os.environ.get(k) for k in store.env}
    os.environ.update(store.env)
    yield store
    store.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_lake(object_store):
    """An empty lake under a prefix of its own on the session's S3 server."""
    from warehouse.lake import Lake

    return Lake(object_store.uri())


GOLD_DAYS = ("2026-03-01", "2026-03-02")


@pytest.fixture(scope="session")
def gold_lake_template(tmp_path_factory):
    """A lake with the shipped regulatory documents, market prices from 2026-01-02 and two days
    (GOLD_DAYS) of every plant ingested to gold and monitored (library calls, no Airflow).
    Session-scoped and read-only: copy it (``copy_lake``) before writing."""
    import datetime as dt

    from etl import market as em
    from etl import regulatory as er
    from etl.monitoring import monitor_range
    from etl.sensor import load_history
    from nexus.demo import seed_regulatory, simulate, simulate_market
    from warehouse.lake import CommitMeta, Lake

    root = tmp_path_factory.mktemp("gold-template")
    lake, landing = Lake(root / "lake"), root / "landing"
    meta = CommitMeta(dag_id="pytest", run_id="gold-template", source="test")
    seed_regulatory(landing)
    er.run_all(lake, landing, meta)
    start = dt.date.fromisoformat(GOLD_DAYS[0])
    end = dt.date.fromisoformat(GOLD_DAYS[-1]) + dt.timedelta(days=1)
    prices_from = dt.date(2026, 1, 2)  # a Friday (FX rate on the first day); monthly series have a quote by March
    simulate_market(prices_from, (end - prices_from).days, seed=57, landing_dir=landing)
    em.load_history(lake, landing, prices_from, end, meta, reporting_currency="USD")
    for plant_id in ("cstr", "biorefinery", "co2_electrolyzer", "smelter"):
        simulate(plant_id, start, (end - start).days, seed=57, landing_dir=landing, lake=lake)
        load_history(lake, landing, plant_id, start, end, meta)
        monitor_range(lake, plant_id, start, end, meta)
    return root / "lake"


@pytest.fixture
def copy_lake(gold_lake_template, tmp_path):
    """A private, writable copy of the session's gold lake."""
    import shutil

    from warehouse.lake import Lake

    shutil.copytree(gold_lake_template, tmp_path / "lake")
    return Lake(tmp_path / "lake")


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Debian's chromium and chromium-driver are missing: `make test` installs them (make browser)")
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tmp_path / 'chromium'}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)  # no Selenium Manager download
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
