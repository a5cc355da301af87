"""The object store fails in the middle of a write: nothing is lost, nothing is half there.

A day of the CSTR runs raw -> gold (``etl.sensor.run_batch``) in a process of its own with the lake
and the landing inbox on a private SeaweedFS server. As soon as the first bronze commit is on S3,
the server is killed (SIGKILL, as a crash) and started again 2 s later (the writer's retries ride it
out) or 8 s later with the writer's retries set shorter than that (the run fails). Then:

- every table of the lake opens and reads at its newest commit (a commit is one conditional PUT of
  its log file: there is no half-written version to trip over);
- a rerun of the same day leaves silver, quarantine and gold exactly as an uninterrupted run of the
  same files on a local lake does (reruns are idempotent, and the landing copy is removed only
  after raw and the manifest hold the file).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.s3 import ObjectStore
from warehouse import storage
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import (
    BRONZE_TAG_READINGS,
    FCT_INGEST_BATCHES,
    FCT_TAG_HOURLY,
    RAW_FILES,
    SILVER_SENSOR_QUARANTINE,
    SILVER_SENSOR_READINGS,
)

pytestmark = [pytest.mark.slow, pytest.mark.s3]

DAY = dt.date(2026, 3, 1)
TABLES = (RAW_FILES, BRONZE_TAG_READINGS, SILVER_SENSOR_READINGS, SILVER_SENSOR_QUARANTINE, FCT_TAG_HOURLY,
          FCT_INGEST_BATCHES)
RUN = ("import datetime as dt, sys\n"
       "from etl.sensor import Batch, run_batch\n"
       "from warehouse.lake import CommitMeta, Lake\n"
       "out = run_batch(Lake(sys.argv[1]), sys.argv[2], Batch('cstr', dt.date(2026, 3, 1)),\n"
       "                CommitMeta('faults', sys.argv[3], 'sensor:cstr'))\n"
       "print('status', out['silver']['status'])\n")


def _frame(lake: Lake, spec) -> pd.DataFrame:
    drop = ["_run_id", "_ingested_at", "_quarantined_at", "completed_at", "run_id", "dag_id", "received_at"]
    df = lake.read(spec).to_pandas().drop(columns=drop, errors="ignore")
    return df.sort_values(list(spec.primary_key)).reset_index(drop=True)


@pytest.mark.parametrize("outage_s, retries, first_run", [
    (2, {}, "rides it out"),  # the default retries outlast a quick restart
    (8, {"NEXUS_S3_MAX_ATTEMPTS": "2", "NEXUS_S3_RETRY_TIMEOUT_S": "2"}, "fails"),  # an outage longer than them
], ids=["restart", "outage"])
def test_a_store_crash_mid_write_leaves_tables_at_a_commit_and_a_rerun_completes(tmp_path, monkeypatch, outage_s,
                                                                                   retries, first_run):
    from etl.sensor import Batch, run_batch
    from nexus.demo import simulate

    # The reference: the same files, uninterrupted, on a local lake.
    reference = Lake(tmp_path / "reference-lake")
    simulate("cstr", DAY, 1, seed=11, landing_dir=tmp_path / "reference-landing", lake=Lake(tmp_path / "scratch"))
    run_batch(reference, tmp_path / "reference-landing", Batch("cstr", DAY), CommitMeta("faults", "ref", "sensor:cstr"))

    with ObjectStore(tmp_path) as store:
        for key, value in store.env.items():
            monkeypatch.setenv(key, value)
        lake_root, landing = store.uri("lake"), store.uri("landing")
        simulate("cstr", DAY, 1, seed=11, landing_dir=landing, lake=Lake(tmp_path / "scratch"))
        script = tmp_path / "run.py"
        script.write_text(RUN)
        log = (tmp_path / "run-1.log").open("w")
        proc = subprocess.Popen([sys.executable, str(script), lake_root, landing, "run-1"], stdout=log,
                                stderr=subprocess.STDOUT, env={**os.environ, **retries})
        watcher = Lake(lake_root)
        deadline = time.monotonic() + 240
        while not watcher.exists(BRONZE_TAG_READINGS):
            assert proc.poll() is None, (tmp_path / "run-1.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no bronze commit within 240 s"
            time.sleep(0.05)
        store.kill()  # a crash in the middle of the batch's writes
        time.sleep(outage_s)
        store.start()
        first_rc = proc.wait(600)
        log.close()
        text = (tmp_path / "run-1.log").read_text()
        if first_run == "rides it out":
            assert first_rc == 0 and "status complete" in text, text[-3000:]
        else:  # the task fails with the store's error (Airflow retries it later)
            assert first_rc != 0 and "status" not in text, text[-3000:]

        # Whatever the interrupted run managed, every table is readable at a commit.
        lake = Lake(lake_root)
        versions = {}
        for spec in TABLES:
            if lake.exists(spec):
                versions[spec.name] = lake.history(spec, limit=1)[0]["version"]
                lake.read(spec)
        assert RAW_FILES.name in versions and BRONZE_TAG_READINGS.name in versions

        # A rerun of the day completes it, equal to the uninterrupted run.
        out = subprocess.run([sys.executable, str(script), lake_root, landing, "run-2"], capture_output=True,
                             text=True, env=os.environ.copy(), timeout=600)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        for spec in (SILVER_SENSOR_READINGS, SILVER_SENSOR_QUARANTINE, FCT_TAG_HOURLY, FCT_INGEST_BATCHES):
            pd.testing.assert_frame_equal(_frame(lake, spec), _frame(reference, spec), obj=spec.name)
        assert storage.folder(landing).sub("sensor/cstr").files() == []  # every file landed
        received = lake.read(RAW_FILES).to_pandas()
        assert sorted(received["file_name"]) == sorted(reference.read(RAW_FILES).to_pandas()["file_name"])
    print(f"first run rc={first_rc}; versions after it: {versions}")
