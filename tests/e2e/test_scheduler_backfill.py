"""The ingest DAG under Airflow's scheduler: `airflow backfill create` over two simulated days.

Starts `airflow standalone` (api-server, scheduler, dag-processor, triggerer; LocalExecutor on
SQLite) in its own temporary home and port, as `make airflow` does, and stops its whole process
group at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from warehouse.lake import Lake
from warehouse.tables import FCT_INGEST_BATCHES, FCT_TAG_HOURLY

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

DAYS = [dt.date(2026, 6, 1), dt.date(2026, 6, 2)]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"airflow standalone exited ({proc.returncode}) while waiting for {what}:\n{log.read_text()[-3000:]}")
        if predicate():
            return
        time.sleep(2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}:\n{log.read_text()[-3000:]}")


@pytest.fixture
def standalone(tmp_path):
    from nexus.demo import simulate

    port = _free_port()
    env = {**os.environ,
           "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AIRFLOW__API__PORT": str(port),
           "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
           "AIRFLOW__CORE__PARALLELISM": "2",
           "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
           "NEXUS_LAKE_ROOT": str(tmp_path / "lake"),
           "NEXUS_LANDING_DIR": str(tmp_path / "landing"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    simulate("cstr", DAYS[0], len(DAYS), seed=21, landing_dir=tmp_path / "landing", lake=Lake(tmp_path / "lake"))
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    log = tmp_path / "standalone.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([AIRFLOW, "standalone"], env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://localhost:{port}/api/v2/monitor/health", timeout=5) as r:
                    body = json.load(r)
                return all(body[c]["status"] == "healthy" for c in ("metadatabase", "scheduler", "dag_processor"))
            except (OSError, ValueError, KeyError):
                return False

        _wait(healthy, 180, "a healthy api-server, scheduler and dag-processor", proc, log)

        def parsed() -> bool:
            return subprocess.run([AIRFLOW, "dags", "unpause", "ingest_sensor_data"], env=env,
                                  capture_output=True).returncode == 0

        _wait(parsed, 120, "the DAG to be parsed and unpaused", proc, log)
        yield env, proc, log, Lake(tmp_path / "lake")
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen, timeout: float = 45) -> None:
    """SIGTERM the whole process group (standalone's children too), SIGKILL what outlives it."""
    os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(1)
    os.killpg(proc.pid, signal.SIGKILL)


def test_backfill_through_the_scheduler(standalone):
    env, proc, log, lake = standalone
    first, last = DAYS[0] + dt.timedelta(days=1), DAYS[-1] + dt.timedelta(days=1)  # runs ingest the day before
    out = subprocess.run([AIRFLOW, "backfill", "create", "--dag-id", "ingest_sensor_data",
                          "--from-date", first.isoformat(), "--to-date", last.isoformat()],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]

    def runs() -> dict[str, str]:
        res = subprocess.run([AIRFLOW, "dags", "list-runs", "ingest_sensor_data", "-o", "json"], env=env,
                             capture_output=True, text=True)
        rows = next((json.loads(line) for line in res.stdout.splitlines() if line.startswith("[")), [])
        return {r["run_id"]: r["state"] for r in rows if r["run_id"].startswith("backfill__")}

    _wait(lambda: len(runs()) == len(DAYS) and all(s in ("success", "failed") for s in runs().values()),
          300, "the backfill runs to finish", proc, log)
    assert set(runs().values()) == {"success"}, runs()

    batches = {r["period_date"]: r for r in lake.read(FCT_INGEST_BATCHES).to_pylist()}
    for day in DAYS:
        b = batches[day]
        assert b["run_id"].startswith("backfill__")
        assert b["bronze_rows"] == b["silver_rows"] + b["quarantined_rows"] + b["duplicates_removed"] > 0
    hourly = lake.read(FCT_TAG_HOURLY)
    hours = {r.date() for r in hourly["hour_start"].to_pylist()}
    assert set(DAYS) <= hours
