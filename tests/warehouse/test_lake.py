"""Lake I/O on real Delta tables in tmp_path."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from nexus.errors import ContractViolation, SchemaDrift, TableNotFound
from warehouse.lake import CommitMeta, Lake
from warehouse.registry import UTC_TS, Column, TableSpec

UTC = dt.timezone.utc
SPEC = TableSpec(
    name="silver.test__readings",
    description="test table",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("ts", UTC_TS, "time", nullable=False),
        Column("value", pa.float64(), "value", unit="K"),
    ),
    primary_key=("plant_id", "ts"),
    partition_by=("plant_id",),
    constraints={"value_positive": "value > 0"},
    interval_column="ts",
)


def t(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 1, day, hour, tzinfo=UTC)


def rows(*items: tuple[str, dt.datetime, float | None]) -> pa.Table:
    plant, ts, value = zip(*items) if items else ((), (), ())
    return pa.table({"plant_id": list(plant), "ts": pa.array(list(ts), UTC_TS), "value": pa.array(list(value), pa.float64())})


def content(lake: Lake, **kw) -> list[tuple]:
    table = lake.read(SPEC, **kw).sort_by([("plant_id", "ascending"), ("ts", "ascending")])
    return [(r["plant_id"], r["ts"], r["value"]) for r in table.to_pylist()]


def test_create_from_spec_with_constraints(lake, meta):
    table = lake.ensure(SPEC, meta)
    assert table.metadata().name == "silver.test__readings"
    assert table.metadata().configuration == {"delta.constraints.value_positive": "value > 0"}
    assert table.metadata().partition_columns == ["plant_id"]
    assert lake.path(SPEC).endswith("/silver/test__readings")
    assert lake.read(SPEC).num_rows == 0


def test_constraint_enforced_on_every_write(lake, meta):
    lake.append(SPEC, rows(("a", t(1), 1.0)), meta=meta)
    with pytest.raises(ContractViolation, match="value_positive"):
        lake.append(SPEC, rows(("a", t(1, 1), -5.0)), meta=meta)
    with pytest.raises(ContractViolation):
        lake.upsert(SPEC, rows(("a", t(1), 0.0)), meta=meta)
    assert content(lake) == [("a", t(1), 1.0)]


def test_upsert_merges_on_primary_key(lake, meta):
    lake.append(SPEC, rows(("a", t(1), 1.0), ("a", t(2), 2.0)), meta=meta)
    metrics = lake.upsert(SPEC, rows(("a", t(2), 20.0), ("b", t(2), 3.0)), meta=meta)
    assert metrics["num_target_rows_updated"] == 1
    assert metrics["num_target_rows_inserted"] == 1
    assert content(lake) == [("a", t(1), 1.0), ("a", t(2), 20.0), ("b", t(2), 3.0)]


def test_replace_interval_touches_exactly_its_period(lake, meta):
    lake.append(SPEC, rows(("a", t(1, 5), 1.0), ("a", t(2, 5), 2.0), ("b", t(2, 5), 3.0), ("a", t(3), 4.0)), meta=meta)
    new = rows(("a", t(2, 6), 7.0), ("a", t(2, 7), 8.0))
    for _ in range(2):  # a rerun leaves the same rows
        lake.replace_interval(SPEC, new, start=t(2), end=t(3), where={"plant_id": "a"}, meta=meta)
    assert content(lake) == [("a", t(1, 5), 1.0), ("a", t(2, 6), 7.0), ("a", t(2, 7), 8.0),
                             ("a", t(3), 4.0), ("b", t(2, 5), 3.0)]
    # empty data deletes the interval
    lake.replace_interval(SPEC, rows(), start=t(2), end=t(3), where={"plant_id": "a"}, meta=meta)
    assert ("a", t(2, 6), 7.0) not in content(lake)
    assert len(content(lake)) == 3


def test_replace_interval_rejects_rows_outside(lake, meta):
    with pytest.raises(ContractViolation, match=r"must lie in \[2026-01-02"):
        lake.replace_interval(SPEC, rows(("a", t(3), 1.0)), start=t(2), end=t(3), where={"plant_id": "a"}, meta=meta)
    with pytest.raises(ContractViolation, match="plant_id != 'a'"):
        lake.replace_interval(SPEC, rows(("b", t(2), 1.0)), start=t(2), end=t(3), where={"plant_id": "a"}, meta=meta)


def test_replace_where(lake, meta):
    lake.append(SPEC, rows(("a", t(1), 1.0), ("b", t(1), 2.0)), meta=meta)
    lake.replace_where(SPEC, rows(("b", t(1, 3), 5.0)), where={"plant_id": "b"}, meta=meta)
    assert content(lake) == [("a", t(1), 1.0), ("b", t(1, 3), 5.0)]


def test_primary_key_unique_in_batch(lake, meta):
    with pytest.raises(ContractViolation, match="repeated key"):
        lake.append(SPEC, rows(("a", t(1), 1.0), ("a", t(1), 2.0)), meta=meta)


def test_not_null_and_schema_drift(lake, meta):
    with pytest.raises(ContractViolation, match="plant_id must not be null"):
        lake.append(SPEC, rows((None, t(1), 1.0)), meta=meta)
    with pytest.raises(SchemaDrift, match=r"unexpected columns \['extra'\]"):
        lake.append(SPEC, rows(("a", t(1), 1.0)).append_column("extra", pa.array([1])), meta=meta)
    with pytest.raises(SchemaDrift, match=r"missing columns \['value'\]"):
        lake.append(SPEC, rows(("a", t(1), 1.0)).drop_columns(["value"]), meta=meta)
    with pytest.raises(SchemaDrift, match="does not cast"):
        lake.append(SPEC, rows(("a", t(1), 1.0)).set_column(2, "value", pa.array(["hot"])), meta=meta)


def test_existing_table_with_other_columns_is_drift(lake, meta):
    lake.ensure(SPEC, meta)
    other = TableSpec(name=SPEC.name, description="x", columns=SPEC.columns[:2])
    with pytest.raises(SchemaDrift, match="has columns"):
        lake.ensure(other, meta)


def test_nullable_columns_appended_to_a_spec_are_added_in_place(lake, meta):
    """A release that appends a nullable column to a table's spec keeps working on an existing lake:
    the column is added (old rows read null); anything else stays SchemaDrift."""
    lake.append(SPEC, rows(("a", t(1), 1.0)), meta=meta)
    wider = TableSpec(name=SPEC.name, description="x", partition_by=SPEC.partition_by, primary_key=SPEC.primary_key,
                      constraints=SPEC.constraints, interval_column="ts",
                      columns=(*SPEC.columns, Column("note", pa.string(), "added later")))
    lake.append(wider, rows(("a", t(2), 2.0)).append_column("note", pa.array(["new"])), meta=meta)
    got = lake.read(wider).sort_by("ts").to_pylist()
    assert [(r["value"], r["note"]) for r in got] == [(1.0, None), (2.0, "new")]
    assert "add columns" in str(lake.history(wider, limit=3))
    required = TableSpec(name=SPEC.name, description="x", columns=(*wider.columns,
                                                                     Column("must", pa.int64(), "x", nullable=False)))
    with pytest.raises(SchemaDrift, match="only nullable columns appended"):
        lake.ensure(required, meta)


def test_editing_a_column_description_does_not_break_writes(lake, meta):
    """Descriptions are documentation: a new wording in the registry must not make delta-rs refuse
    writes to a table created with the old one (SchemaMismatchError on merging field metadata)."""
    lake.append(SPEC, rows(("a", t(1), 1.0)), meta=meta)
    reworded = TableSpec(name=SPEC.name, description="reworded", partition_by=SPEC.partition_by,
                         primary_key=SPEC.primary_key, constraints=SPEC.constraints, interval_column="ts",
                         columns=tuple(Column(c.name, c.type, c.description + " (reworded)", unit=c.unit,
                                              nullable=c.nullable) for c in SPEC.columns))
    lake.append(reworded, rows(("a", t(1, 1), 2.0)), meta=meta)
    lake.upsert(reworded, rows(("a", t(1), 3.0)), meta=meta)
    lake.replace_interval(reworded, rows(("a", t(2), 4.0)), start=t(2), end=t(3), meta=meta)
    assert content(lake) == [("a", t(1), 3.0), ("a", t(1, 1), 2.0), ("a", t(2), 4.0)]


def test_every_commit_carries_run_metadata(lake):
    m1 = CommitMeta(dag_id="ingest", run_id="r1", source="sensor:a", extra={"data_interval": "2026-01-01"})
    m2 = CommitMeta(dag_id="ingest", run_id="r2", source="sensor:a")
    lake.append(SPEC, rows(("a", t(1), 1.0)), meta=m1)
    lake.upsert(SPEC, rows(("a", t(1), 2.0)), meta=m2)
    history = lake.history(SPEC)
    assert [h["nexus_operation"] for h in history] == ["upsert", "append", "add_constraints", "create"]
    assert all(h["dag_id"] == "ingest" and h["source"] == "sensor:a" for h in history)
    assert [h["run_id"] for h in history] == ["r2", "r1", "r1", "r1"]
    assert history[1]["data_interval"] == "2026-01-01"


def test_time_travel(lake, meta):
    lake.append(SPEC, rows(("a", t(1), 1.0)), meta=meta)
    v_before = lake.version(SPEC)
    lake.upsert(SPEC, rows(("a", t(1), 9.0)), meta=meta)
    assert content(lake, version=v_before) == [("a", t(1), 1.0)]
    assert content(lake) == [("a", t(1), 9.0)]


def test_read_filters(lake, meta):
    lake.append(SPEC, rows(("a", t(1), 1.0), ("a", t(2), 2.0), ("b", t(2), 3.0)), meta=meta)
    assert content(lake, where={"plant_id": "a"}, start=t(2), end=t(3)) == [("a", t(2), 2.0)]
    assert lake.read(SPEC, columns=["value"]).column_names == ["value"]


def test_missing_table(lake):
    with pytest.raises(TableNotFound, match="does not exist yet"):
        lake.read(SPEC)


def test_upsert_rewrites_only_touched_partitions_and_stays_filterable(lake, meta):
    import duckdb
    import pyarrow.parquet as pq

    lake.append(SPEC, rows(("a", t(1), 1.0), ("b", t(1), 2.0)), meta=meta)
    b_files = {f for f in lake._open(SPEC).file_uris() if "plant_id=b" in f}
    metrics = lake.upsert(SPEC, rows(("a", t(1), 5.0), ("a", t(2), 6.0)), meta=meta)
    assert metrics == {"num_target_rows_inserted": 1, "num_target_rows_updated": 1}
    assert {f for f in lake._open(SPEC).file_uris() if "plant_id=b" in f} == b_files  # untouched
    for uri in lake._open(SPEC).file_uris():  # plain strings: pyarrow and DuckDB can filter them
        assert "string_view" not in str(pq.read_schema(uri.removeprefix("file://")))
    assert content(lake, where={"plant_id": "a"}) == [("a", t(1), 5.0), ("a", t(2), 6.0)]
    con = duckdb.connect()
    con.register("t", lake.dataset(SPEC))
    assert con.sql("SELECT count(*) FROM t WHERE plant_id <> 'b'").fetchall() == [(2,)]


def test_compact_then_vacuum_keeps_the_data_and_frees_the_files(lake, meta):
    from pathlib import Path

    import pyarrow.parquet as pq

    for day in range(1, 7):  # six small appends: six files in partition a
        lake.append(SPEC, rows(("a", t(day), float(day))), meta=meta)
    before = content(lake)
    on_disk = lambda: len(list(Path(lake.path(SPEC)).rglob("*.parquet")))  # noqa: E731
    assert len(lake._open(SPEC).file_uris()) == 6 and on_disk() == 6
    assert lake.compact(SPEC, meta=meta) == {"files_removed": 6, "files_added": 1}
    assert content(lake) == before and content(lake, where={"plant_id": "a"}, start=t(3), end=t(4)) == [("a", t(3), 3.0)]
    assert lake.history(SPEC, limit=1)[0]["nexus_operation"] == "compact"
    for uri in lake._open(SPEC).file_uris():  # still plain strings (filterable by pyarrow and DuckDB)
        assert "string_view" not in str(pq.read_schema(uri.removeprefix("file://")))
    assert on_disk() == 7  # the superseded files stay for time travel ...
    assert len(lake.vacuum(SPEC, retention_hours=0, dry_run=False)) == 6
    assert on_disk() == 1 and content(lake) == before  # ... until vacuum removes them


def test_reads_select_files_by_partition_and_statistics_before_scanning(lake, meta):
    """A read of one plant-day opens only that day's files, however long the table's history."""
    for day in range(1, 11):
        lake.append(SPEC, rows(("a", t(day), float(day)), ("a", t(day, 12), float(day)), ("b", t(day), 1.0)), meta=meta)
    assert len(lake.dataset(SPEC).files) == 20  # one file per plant and append
    one_day = [("plant_id", "=", "a"), ("ts", ">=", t(4)), ("ts", "<", t(5))]
    assert len(lake.dataset(SPEC, files=one_day).files) == 1  # partition exact, ts by min/max statistics
    assert content(lake, where={"plant_id": "a"}, start=t(4), end=t(5)) == [("a", t(4), 4.0), ("a", t(4, 12), 4.0)]
    assert content(lake, start=t(10, 6)) == [("a", t(10, 12), 10.0)]
    assert len(content(lake, where={"plant_id": "b"})) == 10


def test_read_filters_of_another_python_type_still_work(lake, meta):
    import numpy as np

    lake.append(SPEC, rows(("a", t(1), 1.0), ("a", t(2), 2.0)), meta=meta)
    assert content(lake, where={"value": np.float64(2.0)}) == [("a", t(2), 2.0)]
    naive = dt.datetime(2026, 1, 2)  # read as UTC, as the row filter does
    assert content(lake, start=naive) == [("a", t(2), 2.0)]


def test_upsert_rewrites_only_the_files_that_may_hold_its_keys(lake, meta):
    """A day's upsert into a table that grows by a file a day leaves the other days' files alone."""
    for day in (1, 2, 3):
        lake.upsert(SPEC, rows(("a", t(day), float(day))), meta=meta)
    before = set(lake.dataset(SPEC).files)
    out = lake.upsert(SPEC, rows(("a", t(2), 20.0), ("a", t(4), 4.0)), meta=meta)
    after = set(lake.dataset(SPEC).files)
    assert out == {"num_target_rows_inserted": 1, "num_target_rows_updated": 1}
    assert len(before - after) == 1  # only day 2's file was rewritten (ts IN (...) by min/max statistics)
    assert content(lake) == [("a", t(1), 1.0), ("a", t(2), 20.0), ("a", t(3), 3.0), ("a", t(4), 4.0)]


def test_a_lake_sees_commits_made_through_another(lake, meta, tmp_path):
    """A lake's kept table handle is brought up to date, so another writer's commits are read."""
    lake.append(SPEC, rows(("a", t(1), 1.0)), meta=meta)
    assert content(lake) == [("a", t(1), 1.0)]
    Lake(lake.root).append(SPEC, rows(("a", t(2), 2.0)), meta=meta)
    assert content(lake) == [("a", t(1), 1.0), ("a", t(2), 2.0)]
    lake.upsert(SPEC, rows(("a", t(1), 5.0)), meta=meta)  # writes on the newest snapshot, not the kept one
    assert content(Lake(lake.root)) == [("a", t(1), 5.0), ("a", t(2), 2.0)]


def test_a_sorted_spec_writes_sorted_row_groups_that_a_filter_skips(lake, meta):
    """sort_by + row_group_rows: each write is sorted and cut into small groups with statistics."""
    import dataclasses

    import pyarrow.parquet as pq

    spec = dataclasses.replace(SPEC, name="silver.test__sorted", primary_key=(), constraints={},
                               sort_by=("value",), row_group_rows=10)
    values = [float(v) for v in (37, 5, 99, 12, 64, 1, 80, 45, 23, 71) * 5]
    lake.append(spec, rows(*[("a", t(1, i % 24), v) for i, v in enumerate(values)]), meta=meta)
    dataset = lake.dataset(spec)
    (path,) = dataset.files
    metadata = pq.ParquetFile(dataset.filesystem.open_input_file(path)).metadata
    assert metadata.num_row_groups == 5
    bounds = [(metadata.row_group(i).column(1).statistics.min, metadata.row_group(i).column(1).statistics.max)
              for i in range(5)]
    assert bounds == [(1.0, 5.0), (12.0, 23.0), (37.0, 45.0), (64.0, 71.0), (80.0, 99.0)]
    assert sorted(r["value"] for r in lake.read(spec).to_pylist()) == sorted(values)
    import pyarrow.compute as pc

    fragment = next(iter(dataset.get_fragments()))
    kept = fragment.split_by_row_group(filter=pc.field("value") >= 70.0)
    assert len(kept) == 2  # the groups whose statistics allow a match
