"""Lazy serving of the lake to DuckDB: connect reads no Delta log, tables open on first use, filters prune files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from warehouse.sql import connect, list_views, named_tables, snapshot_dataset
from warehouse.tables import DIM_PLANTS, FCT_TAG_DAILY, FCT_TAG_HOURLY, SILVER_SENSOR_READINGS

UTC = dt.timezone.utc


def _hours(day: dt.date, plant: str = "cstr", tags: tuple[str, ...] = ("T", "P")) -> pa.Table:
    return pa.Table.from_pylist([
        {"plant_id": plant, "tag": tag, "hour_start": dt.datetime.combine(day, dt.time(h), UTC), "unit": "K",
         "twa_value": float(day.month * 100 + h), "min_value": 0.0, "max_value": 1000.0, "sample_count": 60,
         "good_count": 60, "good_fraction": 1.0, "flagged_count": 0, "flagged_fraction": 0.0}
        for tag in tags for h in range(24)], schema=FCT_TAG_HOURLY.schema)


@pytest.fixture
def hourly_lake(lake, meta):
    for day in (dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)):  # one file per write
        lake.append(FCT_TAG_HOURLY, _hours(day), meta=meta)
    return lake


def test_named_tables():
    q = ('SELECT * FROM gold.fct_tag_hourly h JOIN "gold"."dim_plants" USING (plant_id), '
         'Silver . process__sensor_readings, _lake__raw__landing__files WHERE x.gold_col = 1')
    assert named_tables(q) == {"gold.fct_tag_hourly", "gold.dim_plants", "silver.process__sensor_readings",
                               "raw.landing__files"}


def test_connect_reads_no_delta_log(hourly_lake, meta):
    hourly_lake.append(DIM_PLANTS, pa.Table.from_pylist([
        {"plant_id": "cstr", "name": "CSTR", "description": "test", "sampling_s": 60.0, "tag_count": 2}],
        schema=DIM_PLANTS.schema), meta=meta)
    # A broken log of one table does not stop the connection, its catalog or the other tables;
    # the broken table fails when a query names it.
    log = Path(hourly_lake.path(DIM_PLANTS), "_delta_log")
    for f in log.glob("*.json"):
        f.write_text("not json\n")
    con = connect(hourly_lake)
    assert list_views(con) == [("gold", "dim_plants"), ("gold", "fct_tag_hourly")]
    assert ("name", "VARCHAR") in con.sql("SELECT column_name, data_type FROM duckdb_columns() "
                                          "WHERE table_name = 'dim_plants'").fetchall()
    assert con.sql("SELECT count(*) FROM gold.fct_tag_hourly").fetchall() == [(144,)]
    with pytest.raises(Exception):
        con.sql("SELECT * FROM gold.dim_plants").fetchall()


def test_a_table_is_pinned_at_first_use_and_new_tables_appear(hourly_lake, meta):
    con = connect(hourly_lake)
    assert con.sql("SELECT count(*) FROM gold.fct_tag_hourly").fetchall() == [(144,)]
    hourly_lake.append(FCT_TAG_HOURLY, _hours(dt.date(2026, 4, 1)), meta=meta)
    assert con.sql("SELECT count(*) FROM gold.fct_tag_hourly").fetchall() == [(144,)]  # the connection's snapshot
    assert connect(hourly_lake).sql("SELECT count(*) FROM gold.fct_tag_hourly").fetchall() == [(192,)]

    # gold.fct_tag_daily is created after the connection: the first query naming it serves it
    hourly_lake.append(FCT_TAG_DAILY, pa.Table.from_pylist([
        {"plant_id": "cstr", "tag": "T", "day": dt.date(2026, 1, 1), "unit": "K", "twa_value": 111.5,
         "min_value": 100.0, "max_value": 123.0, "sample_count": 1440, "good_count": 1440, "good_fraction": 1.0,
         "flagged_count": 0, "hours_covered": 24, "coverage": 1.0}], schema=FCT_TAG_DAILY.schema), meta=meta)
    assert con.execute("SELECT twa_value FROM gold.fct_tag_daily").fetchall() == [(111.5,)]
    assert ("gold", "fct_tag_daily") in list_views(con)


def test_a_table_opens_after_an_unfinished_result(hourly_lake, meta):
    """fetchone() leaves DuckDB's result unfinished; the next query still opens the table it names
    (DuckDB 2 refuses to register a reader while a result is open)."""
    hourly_lake.append(DIM_PLANTS, pa.Table.from_pylist([
        {"plant_id": "cstr", "name": "CSTR", "description": "test", "sampling_s": 60.0, "tag_count": 2}],
        schema=DIM_PLANTS.schema), meta=meta)
    con = connect(hourly_lake)
    assert con.execute("SELECT count(*) FROM gold.dim_plants").fetchone() == (1,)
    assert con.execute("SELECT count(*) FROM gold.fct_tag_hourly").fetchone() == (144,)
    assert con.execute("SELECT sum(sample_count) > 0 FROM gold.fct_tag_hourly WHERE tag = 'T'").fetchone() == (True,)


def test_a_table_reached_without_its_name_is_read_in_full(hourly_lake):
    con = connect(hourly_lake)
    assert con.sql("SELECT count(*) FROM query_table('_lake__gold__' || 'fct_tag_hourly')").fetchall() == [(144,)]
    # the next query reads the opened table (the one-shot reader was consumed)
    assert con.sql("SELECT count(*) FROM query_table('_lake__gold__' || 'fct_tag_hourly')").fetchall() == [(144,)]
    assert con.sql("SELECT sum(twa_value) FROM gold.fct_tag_hourly WHERE tag = 'T'").fetchall() == \
        [(float(sum(m * 100 + h for m in (1, 2, 3) for h in range(24))),)]


def test_filters_prune_files_before_they_are_opened(hourly_lake):
    # Remove January's data file from disk: a query on March never opens it (per-file min/max
    # statistics prune it), a query that needs January fails.
    con = connect(hourly_lake)
    files = sorted(Path(hourly_lake.path(FCT_TAG_HOURLY)).rglob("*.parquet"), key=lambda p: p.stat().st_mtime)
    assert len(files) == 3
    files[0].unlink()
    march = con.sql("SELECT count(*), min(twa_value) FROM gold.fct_tag_hourly WHERE plant_id = 'cstr' AND tag = 'T' "
                    "AND hour_start >= TIMESTAMPTZ '2026-03-01' AND hour_start < TIMESTAMPTZ '2026-04-01'").fetchall()
    assert march == [(24, 300.0)]
    march_query = ("SELECT count(*), min(twa_value) FROM gold.fct_tag_hourly WHERE tag = 'T' "
                   "AND hour_start >= TIMESTAMPTZ '2026-03-01'")
    # later queries read the whole snapshot's dataset: its files carry their time range, so it prunes too
    assert con.sql(march_query).fetchall() == [(24, 300.0)]
    assert con.sql(march_query).fetchall() == [(24, 300.0)]
    with pytest.raises(duckdb.Error):
        con.sql("SELECT count(*) FROM gold.fct_tag_hourly").fetchall()


@pytest.mark.parametrize("query", [
    "SELECT count(*), sum(twa_value) FROM gold.fct_tag_hourly WHERE plant_id = 'cstr' AND tag = 'T' "
    "AND hour_start >= '2026-02-01' AND hour_start < TIMESTAMPTZ '2026-03-01 00:00:00+00'",
    "SELECT count(*) FROM gold.fct_tag_hourly h "
    "WHERE h.tag IN ('P', 'X') AND '2026-02-01 12:00'::TIMESTAMPTZ <= h.hour_start",
    "SELECT count(*), min(fct_tag_hourly.twa_value) FROM gold.fct_tag_hourly WHERE twa_value > 205 OR tag = 'T'",
    "SELECT count(*) FROM gold.fct_tag_hourly a JOIN gold.fct_tag_hourly b USING (plant_id, tag, hour_start) "
    "WHERE a.hour_start < DATE '2026-02-02'",
    "WITH m AS (SELECT * FROM gold.fct_tag_hourly WHERE hour_start >= '2026-03-01 05:00') "
    "SELECT count(*), max(twa_value) FROM m WHERE twa_value < 310",
    "SELECT (SELECT count(*) FROM gold.fct_tag_hourly WHERE tag = 'P' AND twa_value >= 100.5)",
])
def test_first_use_reads_pruned_files_with_the_same_answer(hourly_lake, query):
    warm = connect(hourly_lake)
    warm.sql("SELECT count(*) FROM gold.fct_tag_hourly").fetchall()  # opens the whole snapshot
    assert connect(hourly_lake).sql(query).fetchall() == warm.sql(query).fetchall()
    assert connect(hourly_lake).execute(query).fetchall() == warm.execute(query).fetchall()


def test_snapshot_dataset_reads_what_deltalake_reads(lake, meta):
    rows = [{"plant_id": plant, "reading_date": day, "tag": "T", "ts": dt.datetime.combine(day, dt.time(h, 30), UTC),
             "value": None if h == 3 else float(h), "unit": "K", "quality": "bad" if h == 3 else "good",
             "quality_code": 0 if h == 3 else 192, "flag": "spike" if h == 5 else None, "flag_reason": None,
             "_source_file": "raw/x.csv", "_line_number": h + 2, "_ingested_at": dt.datetime(2026, 1, 9, tzinfo=UTC),
             "_run_id": "r"}
            for plant in ("cstr", "smelter") for day in (dt.date(2026, 1, 1), dt.date(2026, 1, 2)) for h in range(6)]
    lake.append(SILVER_SENSOR_READINGS, pa.Table.from_pylist(rows, schema=SILVER_SENSOR_READINGS.schema), meta=meta)
    order = [("plant_id", "ascending"), ("ts", "ascending")]
    ours = snapshot_dataset(lake, SILVER_SENSOR_READINGS, lake._open(SILVER_SENSOR_READINGS)).to_table().sort_by(order)
    theirs = lake.read(SILVER_SENSOR_READINGS).sort_by(order)
    assert ours.to_pylist() == theirs.select(ours.column_names).to_pylist()
    assert len(list(snapshot_dataset(lake, SILVER_SENSOR_READINGS, lake._open(SILVER_SENSOR_READINGS)).get_fragments(
        filter=(pc.field("reading_date") == dt.date(2026, 1, 2)) & (pc.field("plant_id") == "cstr")))) == 1


def test_a_quoted_alias_cannot_smuggle_a_statement_through_the_rewrite(hourly_lake):
    con = connect(hourly_lake)
    query = ('SELECT count(*) FROM gold.fct_tag_hourly AS "x""; CREATE TABLE t AS SELECT 1; --" '
             "WHERE tag = 'T'")
    assert con.sql(query).fetchall() == [(72,)]
    assert con.sql("SELECT count(*) FROM duckdb_tables()").fetchall() == [(0,)]


@pytest.fixture(scope="module")
def hour_files_lake(tmp_path_factory):
    """One file per hour of 2026-02-01 (two tags), so every hour is pruned or kept on its own (read-only)."""
    from warehouse.lake import CommitMeta, Lake

    lake, meta = Lake(tmp_path_factory.mktemp("hours") / "lake"), CommitMeta(dag_id="pytest", run_id="r", source="test")
    for h in range(24):
        lake.append(FCT_TAG_HOURLY, pa.Table.from_pylist([
            {"plant_id": "cstr", "tag": tag, "hour_start": dt.datetime(2026, 2, 1, h, tzinfo=UTC), "unit": "K",
             "twa_value": h + (0.75 if tag == "P" else 0.0), "min_value": 0.0, "max_value": 1.0,
             "sample_count": 60 + h, "good_count": 60, "good_fraction": 1.0, "flagged_count": 0,
             "flagged_fraction": 0.0} for tag in ("T", "P")], schema=FCT_TAG_HOURLY.schema), meta=meta)
    return lake


@pytest.mark.parametrize("query, expected", [
    # a cast that changes the constant's value: DuckDB compares with midnight, not 12:00
    ("SELECT count(*) FROM gold.fct_tag_hourly WHERE hour_start >= CAST('2026-02-01 12:00' AS DATE)", 48),
    ("SELECT count(*) FROM gold.fct_tag_hourly WHERE hour_start > '2026-02-01 12:00'::DATE", 46),
    # rounding casts: 9.6::INTEGER is 10, so hour 10's T (10.0) is in
    ("SELECT count(*) FROM gold.fct_tag_hourly WHERE twa_value <= 9.6::INTEGER", 21),
    ("SELECT count(*) FROM gold.fct_tag_hourly WHERE twa_value <= CAST(9.6 AS DECIMAL(4, 0))", 21),
    # a plain TIMESTAMP cast drops the offset (05:00), the bare string keeps it (00:00 UTC)
    ("SELECT count(*) FROM gold.fct_tag_hourly WHERE hour_start < CAST('2026-02-01 05:00+05' AS TIMESTAMP)", 10),
    # column aliases rename positionally: here "plant_id" is the tag column
    ("SELECT count(*) FROM gold.fct_tag_hourly AS h(tag, plant_id) WHERE plant_id = 'T'", 24),
    # a sample is taken from the table before the WHERE
    ("SELECT count(*) FROM gold.fct_tag_hourly TABLESAMPLE 5 ROWS (reservoir, 1) WHERE hour_start >= '2026-02-01 22:00'",
     None),
])
def test_first_use_pruning_keeps_what_the_query_means(hour_files_lake, query, expected):
    warm = connect(hour_files_lake)
    warm.sql("SELECT count(*) FROM gold.fct_tag_hourly").fetchall()  # opens the whole snapshot
    answer = warm.sql(query).fetchall()
    if expected is not None:
        assert answer == [(expected,)]
    assert connect(hour_files_lake).sql(query).fetchall() == answer


@pytest.mark.parametrize("query, expected", [
    ("SELECT count(*) FROM gold.fct_tag_hourly WHERE hour_start >= DATE '2026-02-01' AND "
     "hour_start >= TIMESTAMP '2026-02-01 12:00' AND hour_start < TIMESTAMPTZ '2026-02-01 14:00+00'", 4),
    ("SELECT count(*) FROM gold.fct_tag_hourly h WHERE h.twa_value >= 12.0::DOUBLE AND h.sample_count <= 73::INTEGER "
     "AND h.tag IN ('P'::VARCHAR)", 2),
])
def test_value_preserving_casts_still_prune(hour_files_lake, query, expected, tmp_path):
    import shutil

    from warehouse.lake import Lake

    lake = Lake(shutil.copytree(hour_files_lake.root, tmp_path / "lake"))
    files = sorted(Path(lake.path(FCT_TAG_HOURLY)).rglob("*.parquet"), key=lambda p: p.stat().st_mtime)
    files[0].unlink()  # hour 0 is never needed: a query that opened it would fail
    assert connect(lake).sql(query).fetchall() == [(expected,)]
