"""Hostile and broken historian deliveries: each ends in quarantine or a rejected file with a reason,
counted in gold, and the files after it still flow (issue 13, items 1, 4 and 5)."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import threading
from pathlib import Path

import pytest

from etl.landing import land_files
from etl.sensor import Batch, completeness_status, run_batch
from warehouse.lake import CommitMeta, Lake
from warehouse.quality import ROW_ID
from warehouse.tables import FCT_INGEST_BATCHES, RAW_FILES, SILVER_SENSOR_QUARANTINE, SILVER_SENSOR_READINGS

DAY = dt.date(2026, 3, 3)
HEADER = "tag,timestamp,value,quality\n"
META = CommitMeta(dag_id="pytest", run_id="hostile", source="sensor:cstr")


def line(minute: int, value: float = 50.0, tag: str = "CSTR.TI102", zone: str = "Z", quality: int = 192) -> str:
    stamp = dt.datetime.combine(DAY, dt.time()) + dt.timedelta(minutes=minute)
    if zone != "Z":  # the same instant written in another UTC offset
        stamp += dt.timedelta(hours=int(zone[:3]))
    return f"{tag},{stamp.isoformat()}{zone},{value},{quality}\n"


def deliver(inbox: Path, name: str, content: str | bytes) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / name).write_bytes(content.encode() if isinstance(content, str) else content)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """One CSTR day delivered as a batch of hostile files, ingested once."""
    root = tmp_path_factory.mktemp("hostile")
    inbox = root / "landing" / "sensor" / "cstr"
    # 01: good lines, a conflict inside the file (minute 1) and an identical repeat (minute 2)
    deliver(inbox, f"cstr__{DAY}__01.csv", HEADER + line(0) + line(1, 50.0) + line(1, 51.0) + line(2) + line(2)
            + line(3))
    # 02: a field over 128 KiB, then good lines; minute 3 again with another value written at +01:00,
    # minute 0 again identical (a true duplicate across files)
    huge = "CSTR.TI102," + "9" * (130 * 1024) + ",1,192\n"
    deliver(inbox, f"cstr__{DAY}__02.csv", HEADER + huge + line(4) + line(3, 49.0, zone="+01:00") + line(0))
    # 03: gzip export with reordered and extra columns
    deliver(inbox, f"cstr__{DAY}__03.csv.gz", gzip.compress(
        ("quality,comment,value,tag,timestamp\n" + "192,ok,42.5,CSTR.TI101,"
         f"{DAY}T00:05:00Z\n").encode()))
    deliver(inbox, f"cstr__{DAY}__04.csv", b"")  # 0 bytes
    deliver(inbox, f"cstr__{DAY}__05.csv", HEADER)  # header only
    deliver(inbox, "export_final.csv", HEADER + line(6))  # misnamed
    deliver(inbox, f"smelter__{DAY}__01.csv", HEADER + line(7))  # another plant's file in this folder
    deliver(inbox, f"cstr__{DAY}__06.csv", b"\x1f\x8b\x08\x00not really gzip")  # unreadable
    lake = Lake(root / "lake")
    out = run_batch(lake, root / "landing", Batch("cstr", DAY), META)
    return {"lake": lake, "out": out, "root": root}


def _audit(lake: Lake) -> dict:
    return lake.read(FCT_INGEST_BATCHES, where={"plant_id": "cstr", "period_date": DAY}).to_pylist()[0]


def test_every_file_that_arrived_is_counted_in_gold(hostile):
    audit = _audit(hostile["lake"])
    assert audit["files_received"] == 8
    assert (audit["files_landed"], audit["files_empty"], audit["files_rejected"], audit["files_duplicate"]) == (3, 2, 3, 0)
    files = {r["file_name"]: r for r in hostile["lake"].read(RAW_FILES).to_pylist()}
    assert files[f"cstr__{DAY}__04.csv"]["reason"] == "0 bytes: no header and no data line"
    assert files[f"cstr__{DAY}__05.csv"]["reason"] == "no data line (header only)"
    assert "does not follow" in files["export_final.csv"]["reason"]
    assert "names plant 'smelter' but arrived in the inbox of 'cstr'" in files[f"smelter__{DAY}__01.csv"]["reason"]
    assert "corrupt gzip" in files[f"cstr__{DAY}__06.csv"]["reason"]
    assert files[f"cstr__{DAY}__03.csv.gz"]["status"] == "loaded"


def test_conflicts_are_quarantined_with_both_values_and_duplicates_counted_apart(hostile):
    lake = hostile["lake"]
    quarantine = lake.read(SILVER_SENSOR_QUARANTINE).to_pylist()
    conflicts = [q for q in quarantine if q["rule"] == "conflicting_values"]
    # minute 1 (inside file 01) and minute 3 (01 against 02 written at +01:00): both sides of each
    assert sorted((q["timestamp"].minute, q["value"]) for q in conflicts) == [(1, 50.0), (1, 51.0), (3, 49.0), (3, 50.0)]
    minute3 = next(q for q in conflicts if q["timestamp"].minute == 3 and q["value"] == 50.0)
    assert "49 (quality 192)" in minute3["reason"] and "__02.csv line 4" in minute3["reason"]
    silver = lake.read(SILVER_SENSOR_READINGS, where={"plant_id": "cstr", "tag": "CSTR.TI102"}).to_pylist()
    assert sorted(r["ts"].minute for r in silver) == [0, 2, 4]  # conflicts published on neither side
    audit = _audit(lake)
    assert audit["duplicates_removed"] == 2  # minute 2 inside 01, minute 0 across 01 and 02
    assert audit["conflicting_rows"] == 4
    assert audit["bronze_rows"] == 11
    assert (audit["silver_rows"], audit["quarantined_rows"]) == (4, 5)  # 4 conflicts + the 128 KiB line
    assert audit["bronze_rows"] == audit["silver_rows"] + audit["quarantined_rows"] + audit["duplicates_removed"]


def test_a_huge_field_is_a_quarantined_line_and_the_rest_flows(hostile):
    quarantine = hostile["lake"].read(SILVER_SENSOR_QUARANTINE).to_pylist()
    huge = [q for q in quarantine if q["rule"] == "parse"]
    assert len(huge) == 1 and huge[0]["_line_number"] == 2 and "65,536-byte limit" in huge[0]["reason"]
    silver = hostile["lake"].read(SILVER_SENSOR_READINGS, where={"plant_id": "cstr", "tag": "CSTR.TI101"}).to_pylist()
    assert [(r["value"], r["unit"], r["_source_file"].endswith("__03.csv.gz")) for r in silver] == [
        (pytest.approx(42.5 + 273.15), "K", True)]


def test_a_sparse_day_is_flagged_incomplete_against_the_tag_catalog(hostile):
    audit = _audit(hostile["lake"])
    assert audit["expected_rows"] == 10 * 1440  # ten CSTR tags, one reading a minute
    assert audit["completeness"] == pytest.approx(4 / 14400)
    assert audit["status"] == "incomplete"
    assert hostile["out"]["silver"]["status"] == "incomplete"


def test_a_rerun_is_idempotent(hostile):
    lake = hostile["lake"]
    before = (lake.read(SILVER_SENSOR_READINGS).num_rows, lake.read(SILVER_SENSOR_QUARANTINE).num_rows, _audit(lake))
    run_batch(lake, hostile["root"] / "landing", Batch("cstr", DAY), META)
    after = (lake.read(SILVER_SENSOR_READINGS).num_rows, lake.read(SILVER_SENSOR_QUARANTINE).num_rows, _audit(lake))
    assert before[:2] == after[:2]
    assert {k: v for k, v in before[2].items() if k != "completed_at"} == {
        k: v for k, v in after[2].items() if k != "completed_at"}


def test_a_day_without_files_is_empty_not_a_success(tmp_path):
    lake = Lake(tmp_path / "lake")
    out = run_batch(lake, tmp_path / "landing", Batch("cstr", DAY), META)
    assert out["silver"]["status"] == "empty"
    audit = _audit(lake)
    assert (audit["files_received"], audit["bronze_rows"], audit["status"], audit["completeness"]) == (0, 0, "empty", 0.0)


@pytest.mark.parametrize(("rows", "share", "status"), [
    (0, 0.0, "empty"), (10, 0.2, "incomplete"), (10, 0.6, "partial"), (10, 0.95, "complete")])
def test_completeness_status(rows, share, status):
    assert completeness_status(rows, share) == status


def test_two_runs_landing_the_same_day_at_once_do_not_collide(tmp_path):
    inbox = tmp_path / "landing" / "sensor" / "cstr"
    for n in range(1, 31):
        deliver(inbox, f"cstr__{DAY}__{n:02d}.csv", HEADER + line(n, float(n)) * 200)
    lake = Lake(tmp_path / "lake")
    land_files(lake, tmp_path / "landing", source="sensor", plant_id="cstr", day=DAY, meta=META)  # creates the table
    for n in range(31, 61):
        deliver(inbox, f"cstr__{DAY}__{n:02d}.csv", HEADER + line(n % 60, float(n)) * 200)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            land_files(lake, tmp_path / "landing", source="sensor", plant_id="cstr", day=DAY, meta=META)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    files = lake.read(RAW_FILES).to_pylist()
    assert sorted({r["file_name"] for r in files}) == sorted(f"cstr__{DAY}__{n:02d}.csv" for n in range(1, 61))
    assert not list(inbox.iterdir())
    raw_dir = tmp_path / "lake" / "raw" / "sensor" / "cstr" / DAY.isoformat()
    assert len(list(raw_dir.iterdir())) == 60  # no temporary file left behind


def test_a_file_redelivered_while_it_is_landed_lands_whole_on_the_next_run(tmp_path, monkeypatch, caplog):
    """The export job rewrites a file under the same name between the landing's hash and its copy:
    the raw copy would hold bytes other than the manifest's sha256. It is not landed; it stays in
    the inbox, and the next run lands the version then there, whole."""
    from warehouse import storage

    inbox = tmp_path / "landing" / "sensor" / "cstr"
    name = f"cstr__{DAY}__01.csv"
    deliver(inbox, name, HEADER + line(0, 1.0))
    real = storage.Folder.sha256

    def hash_then_redeliver(self, rel):
        digest = real(self, rel)
        deliver(inbox, name, HEADER + line(0, 2.0) + line(1, 2.0))  # the export job, at the worst moment
        return digest

    lake = Lake(tmp_path / "lake")
    with monkeypatch.context() as m:
        m.setattr(storage.Folder, "sha256", hash_then_redeliver)
        report = land_files(lake, tmp_path / "landing", source="sensor", plant_id="cstr", day=DAY, meta=META)
    assert report.landed == [] and "changed while it was copied" in caplog.text
    assert [p.name for p in inbox.iterdir()] == [name]
    assert not any(p.is_file() for p in (tmp_path / "lake" / "raw").rglob("*"))  # nothing half-landed
    report = land_files(lake, tmp_path / "landing", source="sensor", plant_id="cstr", day=DAY, meta=META)
    assert report.landed == [name]
    [row] = lake.read(RAW_FILES).to_pylist()
    raw = (tmp_path / "lake" / row["raw_path"]).read_bytes()
    assert raw == (HEADER + line(0, 2.0) + line(1, 2.0)).encode()
    assert row["sha256"] == hashlib.sha256(raw).hexdigest() and row["size_bytes"] == len(raw)


def test_conflicts_are_found_on_every_digit():
    """123456.7 and 123456.9 print alike with 6 significant digits; they still conflict."""
    import pandas as pd

    from etl.sensor import _conflicts

    ts = pd.Timestamp("2026-03-03T00:00:00Z")
    rows = pd.DataFrame({"_row_id": [0, 1, 2, 3], "tag": ["A", "A", "B", "B"], "ts": [ts] * 4,
                         "value": [123456.7, 123456.9, 5.0, 5.0], "quality_code": [192] * 4,
                         "_source_file": ["f1", "f2", "f1", "f2"], "_line_number": [2, 2, 3, 3]})
    found = _conflicts(rows.rename(columns={"_row_id": ROW_ID}))
    assert sorted(found) == [0, 1]  # B is an identical repeat, not a conflict
    assert "123456.9 (quality 192) in f2 line 2" in found[0][0][1]


def test_a_misrouted_or_misnamed_file_put_right_is_loaded(tmp_path):
    landing = tmp_path / "landing"
    content = HEADER + line(0)
    deliver(landing / "sensor" / "biorefinery", f"cstr__{DAY}__01.csv", content)  # wrong inbox
    deliver(landing / "sensor" / "cstr", "export.csv", HEADER + line(1))  # misnamed
    lake = Lake(tmp_path / "lake")
    for plant in ("biorefinery", "cstr"):
        land_files(lake, landing, source="sensor", plant_id=plant, day=DAY, meta=META)
    deliver(landing / "sensor" / "cstr", f"cstr__{DAY}__01.csv", content)  # put right
    deliver(landing / "sensor" / "cstr", f"cstr__{DAY}__02.csv", HEADER + line(1))  # renamed
    report = land_files(lake, landing, source="sensor", plant_id="cstr", day=DAY, meta=META)
    assert sorted(report.landed) == [f"cstr__{DAY}__01.csv", f"cstr__{DAY}__02.csv"]
    assert report.duplicates == [] and report.already_landed == []


def test_minus_zero_and_zero_are_conflicting_readings(tmp_path):
    """-0 and 0 compare equal as numbers but were exported differently: a conflict, as any other digit."""
    inbox = tmp_path / "landing" / "sensor" / "cstr"
    deliver(inbox, f"cstr__{DAY}__01.csv", HEADER + line(1, 0.0))
    deliver(inbox, f"cstr__{DAY}__02.csv", HEADER + line(1, -0.0))
    lake = Lake(tmp_path / "lake")
    out = run_batch(lake, tmp_path / "landing", Batch("cstr", DAY), META)
    assert (out["silver"]["conflicting_rows"], out["silver"]["silver_rows"], out["silver"]["duplicates_removed"]) == (2, 0, 0)


def test_opc_quality_codes_become_quality_classes(tmp_path):
    """Bits 7-6 of the OPC DA code: 11 good (192, and 216 = good, local override), 01 uncertain (64, 84), else bad."""
    codes = {0: 192, 1: 216, 2: 64, 3: 84, 4: 0, 5: 24}
    content = HEADER + "".join(line(m, quality=q) for m, q in codes.items())
    deliver(tmp_path / "landing" / "sensor" / "cstr", f"cstr__{DAY}__01.csv", content)
    lake = Lake(tmp_path / "lake")
    run_batch(lake, tmp_path / "landing", Batch("cstr", DAY), META)
    silver = {r["quality_code"]: r["quality"] for r in lake.read(SILVER_SENSOR_READINGS).to_pylist()}
    assert silver == {192: "good", 216: "good", 64: "uncertain", 84: "uncertain", 0: "bad", 24: "bad"}
