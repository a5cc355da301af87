"""The sensor pipeline's steps on a real lake, without Airflow: delivery quirks and row accounting.

One simulated CSTR day is exported with every delivery quirk forced on (local-time timestamps,
a late partial export, an overlapping re-export, a byte-identical duplicate file and a
communication failure), then landed and processed step by step.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.compute as pc
import pytest

from etl.sensor import Batch, build_gold, build_hourly, land, load_bronze, publish_silver, run_batch
from models import get_plant
from models.historian import HistorianConfig, write_exports
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import (
    BRONZE_TAG_READINGS,
    FCT_VALIDATION_RESULTS,
    FCT_INGEST_BATCHES,
    FCT_TAG_HOURLY,
    RAW_FILES,
    SILVER_SENSOR_QUARANTINE,
    SILVER_SENSOR_READINGS,
)

UTC = dt.timezone.utc
DAY = dt.date(2026, 5, 16)  # seed 11 has a spiking-sensor episode with out-of-range spikes that day
ALL_QUIRKS = HistorianConfig(p_comm_failure=1.0, p_local_time=1.0, p_late_partial=1.0, p_overlap=1.0, p_duplicate_file=1.0)


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    root = tmp_path_factory.mktemp("quirks")
    cstr = get_plant("cstr")
    start = dt.datetime.combine(DAY, dt.time(), tzinfo=UTC)
    values, episodes = cstr.simulate_true(start, start + dt.timedelta(days=1), seed=11)
    export = write_exports(values, cstr.TAGS, episodes, plant=cstr.INFO, landing_dir=root / "landing", seed=11, config=ALL_QUIRKS)
    lines = {Path(p).name[-6:-4]: sum(1 for _ in open(p)) - 1 for p in export.paths}  # data lines per file
    lake = Lake(root / "lake")
    meta = CommitMeta(dag_id="pytest", run_id="first", source="sensor:cstr")
    batch = Batch("cstr", DAY)
    out = {"land": land(lake, root / "landing", batch, meta), "bronze": load_bronze(lake, batch, meta),
           "silver": publish_silver(lake, batch, meta), "gold": build_gold(lake, batch, meta)}
    return {"lake": lake, "root": root, "export": export, "out": out, "batch": batch, "values": values,
            "lines": lines, "episodes": episodes}


def test_quirks_were_all_exported(processed):
    kinds = {q.kind for q in processed["export"].quirks}
    assert {"local_time", "late_partial", "overlap_reexport", "duplicate_file", "comm_failure"} <= kinds
    assert sorted(Path(p).name[-6:] for p in processed["export"].paths) == ["01.csv", "02.csv", "03.csv", "04.csv"]


def test_duplicate_file_is_recorded_not_loaded(processed):
    land_report = processed["out"]["land"]
    assert land_report["duplicates"] == [f"cstr__{DAY}__04.csv"]
    files = {r["file_name"]: r for r in processed["lake"].read(RAW_FILES).to_pylist()}
    dup, orig = files[f"cstr__{DAY}__04.csv"], files[f"cstr__{DAY}__01.csv"]
    assert dup["status"] == "duplicate" and dup["sha256"] == orig["sha256"] and dup["raw_path"] == orig["raw_path"]
    assert processed["out"]["bronze"]["files"] == 3  # 01, 02 and 03


def test_every_line_is_accounted_for(processed):
    export, silver, lines = processed["export"], processed["out"]["silver"], processed["lines"]
    assert silver["bronze_rows"] == export.n_lines - lines["04"]  # the duplicate file is not loaded
    assert silver["bronze_rows"] == silver["silver_rows"] + silver["quarantined_rows"] + silver["duplicates_removed"]
    # the overlapping re-export repeats readings already in __01: each repeat is a removed duplicate
    assert silver["duplicates_removed"] == lines["03"]
    assert silver["silver_rows"] == export.n_readings - silver["quarantined_rows"]
    batch = processed["lake"].read(FCT_INGEST_BATCHES).to_pylist()[0]
    assert (batch["files_landed"], batch["files_duplicate"], batch["files_rejected"]) == (3, 1, 0)


def test_local_time_exports_become_utc_and_units_canonical(processed):
    lake, batch = processed["lake"], processed["batch"]
    silver = lake.read(SILVER_SENSOR_READINGS, where={"plant_id": "cstr", "tag": "CSTR.TI102"}, start=batch.start, end=batch.end)
    ts = silver["ts"]
    assert pc.min(ts).as_py() >= batch.start and pc.max(ts).as_py() < batch.end
    assert silver.num_rows >= 1400  # nearly every minute of the day, despite the +01:00 export
    assert set(silver["unit"].to_pylist()) == {"K"}
    good = silver.filter(pc.equal(silver["quality"], "good"))
    # exported in degC, stored in K: compare with the true reactor temperature (noise is a few 0.1 %)
    truth = processed["values"]["CSTR.TI102"]
    first = good.slice(0, 1).to_pylist()[0]
    assert first["value"] == pytest.approx(truth.loc[first["ts"]] + 273.15, abs=1.0)


def test_comm_failure_keeps_bad_quality_rows_and_lowers_good_fraction(processed):
    lake, batch = processed["lake"], processed["batch"]
    silver = lake.read(SILVER_SENSOR_READINGS, where={"plant_id": "cstr"}, start=batch.start, end=batch.end)
    bad = silver.filter(pc.equal(silver["quality"], "bad"))
    assert bad.num_rows > 0 and bad["value"].null_count == bad.num_rows
    assert set(bad["quality_code"].to_pylist()) <= {0, 24}
    hourly = lake.read(FCT_TAG_HOURLY)
    assert pc.min(hourly["good_fraction"]).as_py() < 1.0


def test_spikes_out_of_range_are_quarantined(processed):
    lake = processed["lake"]
    q = lake.read(SILVER_SENSOR_QUARANTINE).to_pylist()
    spikes = next(e for e in processed["episodes"] if e.label == "spiking_sensor")
    assert len(q) == 10 and {r["tag"] for r in q} == {spikes.tag}  # "10 outside the instrument range"
    assert all(spikes.start <= r["timestamp"] < spikes.end for r in q)
    assert all(r["rule"] == "in_instrument_range" for r in q)
    assert all("must lie in its instrument range" in r["reason"] for r in q)
    assert len(q) == processed["out"]["silver"]["quarantined_rows"]


def test_each_step_reruns_idempotently(processed):
    lake, root, batch = processed["lake"], processed["root"], processed["batch"]

    def snapshot():
        out = {}
        for spec in (BRONZE_TAG_READINGS, SILVER_SENSOR_READINGS, SILVER_SENSOR_QUARANTINE, FCT_TAG_HOURLY):
            t = lake.read(spec)
            t = t.select([c for c in t.column_names if c not in {"_run_id", "_ingested_at", "_quarantined_at"}])
            out[spec.name] = sorted(map(repr, t.to_pylist()))
        return out

    before = snapshot()
    again = run_batch(lake, root / "landing", batch, CommitMeta(dag_id="pytest", run_id="second", source="sensor:cstr"))
    assert again["land"]["landed"] == [] and again["silver"]["bronze_rows"] == processed["out"]["silver"]["bronze_rows"]
    assert snapshot() == before


def test_a_day_in_tag_groups_and_file_pieces_equals_the_whole_day(processed, monkeypatch):
    """Parsing big files in pieces of lines and publishing silver a few tags at a time (as a
    1,000-tag plant-day is, to bound memory) gives exactly the rows and accounting of the whole day."""
    import etl.sensor as sensor

    lake, batch = processed["lake"], processed["batch"]
    drop = {"_run_id", "run_id", "_ingested_at", "_quarantined_at", "completed_at"}
    specs = (BRONZE_TAG_READINGS, SILVER_SENSOR_READINGS, SILVER_SENSOR_QUARANTINE, FCT_TAG_HOURLY, FCT_INGEST_BATCHES)

    def snapshot():
        out = {}
        for spec in specs:
            t = lake.read(spec)
            out[spec.name] = sorted(map(repr, t.select([c for c in t.column_names if c not in drop]).to_pylist()))
        return out

    before = snapshot()
    tags = len(get_plant("cstr").TAGS)
    monkeypatch.setattr(sensor, "PARSE_BYTES", 3000)  # every file of the day in pieces of ~40 lines
    meta = CommitMeta(dag_id="pytest", run_id="grouped", source="sensor:cstr")
    bronze = load_bronze(lake, batch, meta)
    silver = publish_silver(lake, batch, meta, group_rows=4000)  # the day in groups of 2-3 tags
    assert build_hourly(lake, batch, meta, group_rows=4000)["tags"] == tags  # and gold in the same groups
    assert tags > 6 and bronze["rows"] == processed["out"]["bronze"]["rows"]
    first = processed["out"]["silver"]
    for key in ("bronze_rows", "silver_rows", "quarantined_rows", "duplicates_removed", "conflicting_rows", "completeness",
                "status", "quarantine_rules"):
        assert silver[key] == first[key], key
    assert silver["quarantined_rows"] > 0 and silver["duplicates_removed"] > 0
    assert snapshot() == before


def test_a_late_file_for_an_earlier_day_is_reported_and_taken_by_its_rerun(tmp_path):
    lake, landing = Lake(tmp_path / "lake"), tmp_path / "landing"
    inbox = landing / "sensor" / "cstr"
    inbox.mkdir(parents=True)
    tag = get_plant("cstr").TAGS[0]
    line = f"{tag.tag},2026-07-01T10:00:00Z,{(tag.range_min + tag.range_max) / 2},192\n"
    (inbox / "cstr__2026-07-02__01.csv").write_text("tag,timestamp,value,quality\n")
    (inbox / "cstr__2026-07-01__02.csv").write_text("tag,timestamp,value,quality\n" + line)  # late for 07-01
    meta = CommitMeta(dag_id="pytest", run_id="r", source="sensor:cstr")
    report = run_batch(lake, landing, Batch("cstr", dt.date(2026, 7, 2)), meta)
    assert report["land"]["waiting_for_earlier_days"] == ["cstr__2026-07-01__02.csv"]
    assert (inbox / "cstr__2026-07-01__02.csv").exists()
    rerun = run_batch(lake, landing, Batch("cstr", dt.date(2026, 7, 1)), meta)
    assert rerun["land"]["landed"] == ["cstr__2026-07-01__02.csv"] and rerun["silver"]["silver_rows"] == 1


def test_a_multi_day_batch_equals_day_by_day(tmp_path):
    """The bulk history load (month batches) writes exactly the rows of the daily runs."""
    import pandas as pd

    from etl.sensor import load_history

    cstr = get_plant("cstr")
    start = dt.datetime(2026, 5, 15, tzinfo=UTC)

    def load(root: Path, chunks: int, **chunking) -> Lake:
        cstr.simulate(start, start + dt.timedelta(days=3), landing_dir=root / "landing", truth_dir=root / "truth", seed=11)
        lake = Lake(root / "lake")
        out = load_history(lake, root / "landing", "cstr", start.date(), (start + dt.timedelta(days=3)).date(),
                           CommitMeta("pytest", "r", "sensor:cstr"), **chunking)
        assert out["chunks"] == chunks
        return lake

    # a chunk ends at chunk_days or, after its first day, at chunk_bytes of CSV text (here: one day)
    daily, bulk = load(tmp_path / "daily", 3, chunk_days=3, chunk_bytes=1), load(tmp_path / "bulk", 1, chunk_days=3)
    drop = ["_run_id", "_ingested_at", "_quarantined_at", "completed_at"]
    for spec in (SILVER_SENSOR_READINGS, SILVER_SENSOR_QUARANTINE, FCT_TAG_HOURLY, FCT_INGEST_BATCHES):
        keys = list(spec.primary_key)
        a, b = (lake.read(spec).to_pandas().drop(columns=drop, errors="ignore") for lake in (daily, bulk))
        assert len(a) > 0
        pd.testing.assert_frame_equal(a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True),
                                      obj=spec.name)
    # every chunk's validations are recorded: one per day loaded day by day, one for the 3-day chunk
    results = {name: lake.read(FCT_VALIDATION_RESULTS).to_pylist() for name, lake in (("daily", daily), ("bulk", bulk))}
    assert (len(results["daily"]), len(results["bulk"])) == (3, 1)
    assert {r["plant_id"] for r in results["bulk"]} == {"cstr"} and results["bulk"][0]["evaluated_expectations"] > 0


def test_tag_groups_hold_whole_tags_of_bounded_readings():
    import pyarrow as pa

    from etl.sensor import tag_groups

    tags = pa.array(["b"] * 3 + ["a"] * 2 + [None] + ["d"] * 9 + ["c"] * 1)
    assert tag_groups(tags, 4) == [["a"], ["b", "c"], ["d"]]  # sorted; a tag over the bound is a group of its own
    assert tag_groups(tags, 100) == [["a", "b", "c", "d"]]
    assert tag_groups(pa.array([], pa.string()), 4) == [[]]  # an empty batch is one empty group
