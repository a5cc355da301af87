"""The sensor pipeline end to end through real Airflow (``dag.test()``) on two simulated days.

One Airflow metadata database serves the whole test session; the lake and landing folder are
temporary. Asserts the row-accounting invariant, quarantine reasons for every kind of bad input,
an idempotent rerun and SQL on gold.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pytest

from etl.sensor import Batch
from models import get_plant
from models.fleet import instance_ids
from warehouse import storage
from warehouse.lake import Lake
from warehouse.tables import (
    BRONZE_TAG_READINGS,
    FCT_INGEST_BATCHES,
    FCT_TAG_HOURLY,
    RAW_FILES,
    SILVER_SENSOR_QUARANTINE,
    SILVER_SENSOR_READINGS,
)

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

UTC = dt.UTC
DAY1, DAY2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
EMPTY_DAY = dt.date(2026, 3, 3)  # no plant delivered anything


def bad_input_file(day: dt.date) -> tuple[str, dict[int, str]]:
    """A historian file with one good reading (twice) and one line of each kind of bad input.

    Returns the text and, per line number, the rule the line must be quarantined under.
    """
    tag = get_plant("cstr").TAGS[0]
    mid = (tag.range_min + tag.range_max) / 2
    ts = f"{day}T12:00:30Z"  # off the simulator's minute grid, so unique
    lines = [
        "tag,timestamp,value,quality",
        f"{tag.tag},{ts},{mid},192",                               # 2 good
        f"{tag.tag},{ts},{mid},192",                               # 3 duplicate reading of line 2
        f"{tag.tag},{day}T12:01:30Z,{mid}",                        # 4 malformed (3 fields)
        f"{tag.tag},{day}T12:02:30Z,n/a,192",                      # 5 non-numeric value
        f"CSTR.XX999,{day}T12:03:30Z,1.0,192",                     # 6 unknown tag
        f"{tag.tag},{day}T12:04:30,{mid},192",                     # 7 timestamp without zone
        f"{tag.tag},{day + dt.timedelta(days=1)}T00:00:30Z,{mid},192",  # 8 outside the interval
        f"{tag.tag},{day}T12:05:30Z,{tag.range_max * 10 + 1000},192",   # 9 out of instrument range
    ]
    rules = {4: "parse", 5: "parse", 6: "known_tag", 7: "parse",
             8: "ts_in_file_day", 9: "in_instrument_range"}
    return "\n".join(lines) + "\n", rules


@pytest.fixture(scope="module", params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def pipeline(request, airflow_db, tmp_path_factory):
    """Simulate two days, add bad input, and ingest both days through the DAG, with the lake and the
    landing inbox on local disk, then both on a real S3 server (SeaweedFS)."""
    from nexus.demo import simulate

    root = tmp_path_factory.mktemp("e2e")
    if request.param == "s3":
        store = request.getfixturevalue("object_store")
        lake_root, landing = store.uri(f"{root.name}-lake"), store.uri(f"{root.name}-landing")
    else:
        lake_root, landing = str(root / "lake"), str(root / "landing")
    os.environ["NEXUS_LAKE_ROOT"] = lake_root
    os.environ["NEXUS_LANDING_DIR"] = landing
    lake = Lake(lake_root)
    sim = simulate("cstr", DAY1, 2, seed=3, landing_dir=landing, lake=lake)
    others = {p: simulate(p, DAY1, 2, seed=3, landing_dir=landing, lake=lake) for p in sorted(instance_ids()) if p != "cstr"}
    inbox = storage.folder(landing).sub("sensor/cstr")
    text, rules = bad_input_file(DAY2)
    inbox.write_text(f"cstr__{DAY2}__09.csv", text)
    inbox.write_text(f"cstr__{DAY2}__07.csv", "")                                # empty file
    inbox.write_text(f"cstr__{DAY2}__08.csv", "time;tag;val\n2026-03-02;x;1\n")  # unreadable
    inbox.write_text("export-final.csv", "tag,timestamp,value,quality\n")         # misnamed

    from ingest_sensor_data import ingest_sensor_data as dag_factory

    dag = dag_factory()
    runs = {day: dag.test(logical_date=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=UTC))
            for day in (DAY1, DAY2, EMPTY_DAY)}
    yield {"lake": lake, "dag": dag, "runs": runs, "rules": rules, "sim": sim, "root": root, "others": others,
           "inbox": inbox}
    os.environ.pop("NEXUS_LAKE_ROOT", None)
    os.environ.pop("NEXUS_LANDING_DIR", None)


def test_runs_succeed(pipeline):
    for day, run in pipeline["runs"].items():
        assert run.state == "success", f"run for {day} ended {run.state}"  # an empty day skips, it does not fail
        if day == EMPTY_DAY:
            continue
        assert run.data_interval_start == dt.datetime.combine(day, dt.time(), tzinfo=UTC)


def count(lake: Lake, spec, **where) -> int:
    return lake.read(spec, where=where).num_rows


def test_every_bronze_row_is_accounted_for(pipeline):
    lake = pipeline["lake"]
    batches = {r["period_date"]: r for r in lake.read(FCT_INGEST_BATCHES, where={"plant_id": "cstr"}).to_pylist()}
    assert set(batches) == {DAY1, DAY2, EMPTY_DAY}
    del batches[EMPTY_DAY]
    for day, b in batches.items():
        bronze = count(lake, BRONZE_TAG_READINGS, plant_id="cstr", period_date=day)
        silver = lake.read(SILVER_SENSOR_READINGS, where={"plant_id": "cstr"}, start=Batch("cstr", day).start,
                           end=Batch("cstr", day).end).num_rows
        quarantined = count(lake, SILVER_SENSOR_QUARANTINE, plant_id="cstr", period_date=day)
        assert (b["bronze_rows"], b["silver_rows"], b["quarantined_rows"]) == (bronze, silver, quarantined)
        assert bronze == silver + quarantined + b["duplicates_removed"]
        assert silver > 0.9 * len(get_plant("cstr").TAGS) * 1440  # a day of 1-minute readings got through
    assert sum(b["bronze_rows"] for b in batches.values()) >= pipeline["sim"]["readings"]


def test_every_plant_is_ingested(pipeline):
    """One run per day maps the pipeline over all four plants."""
    lake = pipeline["lake"]
    audit = lake.read(FCT_INGEST_BATCHES).to_pandas()
    assert set(audit["plant_id"]) == set(instance_ids())
    audit = audit[audit["period_date"] != EMPTY_DAY]
    assert set(audit["status"]) == {"complete"}
    assert (audit["bronze_rows"] == audit["silver_rows"] + audit["quarantined_rows"] + audit["duplicates_removed"]).all()
    for plant_id, sim in pipeline["others"].items():
        mine = audit[audit["plant_id"] == plant_id]
        assert set(mine["period_date"]) == {DAY1, DAY2}
        assert mine["silver_rows"].sum() > 0.97 * sim["readings"], plant_id
        hourly = lake.read(FCT_TAG_HOURLY, where={"plant_id": plant_id})
        assert hourly.num_rows == 2 * 24 * len(get_plant(plant_id).TAGS), plant_id


def test_bad_input_is_quarantined_with_reasons(pipeline):
    lake = pipeline["lake"]
    q = lake.read(SILVER_SENSOR_QUARANTINE, where={"period_date": DAY2})
    mine = q.filter(pc.match_substring(q["_source_file"], f"cstr__{DAY2}__09.csv")).to_pylist()
    assert {r["_line_number"]: r["rule"] for r in mine} == pipeline["rules"]
    reasons = {r["_line_number"]: r["reason"] for r in mine}
    assert "malformed line: expected 4 fields" in reasons[4]
    assert "value 'n/a' is not a finite number" in reasons[5]
    assert "tag must be in the cstr tag catalog; found 'CSTR.XX999'" in reasons[6]
    assert "has no UTC offset" in reasons[7]
    assert "timestamp must lie in the file's day" in reasons[8]
    assert "must lie in its instrument range" in reasons[9]
    # the good line went to silver once; its repeat counts as a removed duplicate
    tag = get_plant("cstr").TAGS[0]
    good = lake.read(SILVER_SENSOR_READINGS, where={"plant_id": "cstr", "tag": tag.tag},
                     start=dt.datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC), end=dt.datetime(2026, 3, 2, 12, 0, 31, tzinfo=UTC))
    assert good.num_rows == 1 and good["_line_number"].to_pylist() == [3]  # latest line wins


def test_files_are_kept_and_reported(pipeline):
    lake = pipeline["lake"]
    files = {r["file_name"]: r for r in lake.read(RAW_FILES).to_pylist()}
    assert files[f"cstr__{DAY2}__08.csv"]["status"] == "rejected"
    assert "header must name the columns" in files[f"cstr__{DAY2}__08.csv"]["reason"]
    assert files["export-final.csv"]["status"] == "rejected"
    assert files["export-final.csv"]["period_date"] == DAY1  # booked on the day of the run that received it
    assert files[f"cstr__{DAY2}__07.csv"]["status"] == "empty" and files[f"cstr__{DAY2}__07.csv"]["rows_loaded"] == 0
    for row in files.values():  # every received file is in raw, byte for byte
        assert lake.files.exists(row["raw_path"])
        if row["status"] != "duplicate":
            assert lake.files.sha256(row["raw_path"]) == (row["sha256"], row["size_bytes"])
    assert lake.files.read_text(files[f"cstr__{DAY2}__08.csv"]["raw_path"]).startswith("time;tag;val")
    assert pipeline["inbox"].files() == [], "landing inbox not emptied"
    batch2 = lake.read(FCT_INGEST_BATCHES, where={"plant_id": "cstr", "period_date": DAY2}).to_pylist()[0]
    assert (batch2["files_received"], batch2["files_rejected"], batch2["files_empty"]) == (batch2["files_landed"] + 2, 1, 1)
    batch1 = lake.read(FCT_INGEST_BATCHES, where={"plant_id": "cstr", "period_date": DAY1}).to_pylist()[0]
    assert batch1["files_rejected"] == 1  # the misnamed file


def test_an_empty_day_is_flagged_and_starts_nothing_downstream(pipeline):
    """A catch-up day without files: every plant's day is 'empty' in gold, the completeness check is
    skipped with an alert, and no asset event (which would start monitoring and calibration) is sent."""
    from airflow.models.asset import AssetEvent
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    lake, run = pipeline["lake"], pipeline["runs"][EMPTY_DAY]
    audit = lake.read(FCT_INGEST_BATCHES, where={"period_date": EMPTY_DAY}).to_pylist()
    assert sorted(r["plant_id"] for r in audit) == sorted(instance_ids())
    assert {(r["status"], r["files_received"], r["bronze_rows"]) for r in audit} == {("empty", 0, 0)}
    with create_session() as session:
        states = {ti.state for ti in session.query(TaskInstance).filter(
            TaskInstance.run_id == run.run_id, TaskInstance.task_id == "validate_completeness")}
        events = session.query(AssetEvent).filter(AssetEvent.source_run_id == run.run_id).count()
        full_day = session.query(AssetEvent).filter(AssetEvent.source_run_id == pipeline["runs"][DAY1].run_id).count()
    assert states == {"skipped"}
    assert events == 0 and full_day == 2 * len(instance_ids())


def test_gold_hourly_covers_every_tag_hour(pipeline):
    lake = pipeline["lake"]
    hourly = lake.read(FCT_TAG_HOURLY, where={"plant_id": "cstr"})
    assert hourly.num_rows == 2 * 24 * len(get_plant("cstr").TAGS)
    assert pc.min(hourly["good_fraction"]).as_py() >= 0 and pc.max(hourly["good_fraction"]).as_py() <= 1


def _snapshot(lake: Lake, spec, day: dt.date):
    drop = {"_run_id", "_ingested_at", "_quarantined_at"}
    table = lake.read(spec, where={"plant_id": "cstr"}, start=Batch("cstr", day).start, end=Batch("cstr", day).end) \
        if spec.interval_column else lake.read(spec, where={"plant_id": "cstr", "period_date": day})
    table = table.select([c for c in table.column_names if c not in drop])
    return sorted(table.to_pylist(), key=repr)


def test_rerun_is_idempotent(pipeline):
    lake, dag = pipeline["lake"], pipeline["dag"]
    specs = [SILVER_SENSOR_READINGS, SILVER_SENSOR_QUARANTINE, FCT_TAG_HOURLY, BRONZE_TAG_READINGS]
    before = {s.name: _snapshot(lake, s, DAY2) for s in specs}
    run = dag.test(logical_date=dt.datetime.combine(DAY2 + dt.timedelta(days=1), dt.time(), tzinfo=UTC))
    assert run.state == "success"
    after = {s.name: _snapshot(lake, s, DAY2) for s in specs}
    for name in before:
        assert after[name] == before[name], f"{name} changed on rerun"
    # Each plant's mapped task commits on its own; the latest cstr commit is the rerun's.
    history = next(h for h in lake.history(SILVER_SENSOR_READINGS, limit=10) if h.get("source") == "sensor:cstr")
    assert history["dag_id"] == "ingest_sensor_data" and history["run_id"] == run.run_id


def test_nexus_sql_on_gold(pipeline):
    env = {**os.environ, "NEXUS_LAKE_ROOT": pipeline["lake"].root}
    nexus = Path(sys.executable).with_name("nexus")
    out = subprocess.run([str(nexus), "sql", "SELECT count(*) AS n, count(DISTINCT tag) AS tags FROM gold.fct_tag_hourly WHERE plant_id = 'cstr'",
                          "--format", "csv"], env=env, capture_output=True, text=True, check=True)
    tags = len(get_plant("cstr").TAGS)
    assert out.stdout.split() == ["n,tags", f"{2 * 24 * tags},{tags}"]
    bad = subprocess.run([str(nexus), "sql", "SELECT * FROM gold.nope"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "nope" in bad.stderr
