"""DuckDB serving of the lake's tables (raw manifest, bronze, silver, gold), read-only."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from warehouse.sql import StatementNotAllowed, connect, list_views
from warehouse.tables import DIM_PLANTS, FCT_TAG_HOURLY, REGISTRY

UTC = dt.timezone.utc


@pytest.fixture
def served(lake, meta):
    lake.upsert(DIM_PLANTS, pa.Table.from_pylist([
        {"plant_id": "cstr", "name": "CSTR", "description": "test", "sampling_s": 60.0, "tag_count": 2}],
        schema=DIM_PLANTS.schema), meta=meta)
    lake.append(FCT_TAG_HOURLY, pa.Table.from_pylist([
        {"plant_id": "cstr", "tag": "T", "hour_start": dt.datetime(2026, 1, 1, h, tzinfo=UTC), "unit": "K",
         "twa_value": 300.0 + h, "min_value": 299.0 + h, "max_value": 301.0 + h, "sample_count": 60,
         "good_count": 60, "good_fraction": 1.0, "flagged_count": 0, "flagged_fraction": 0.0} for h in range(3)], schema=FCT_TAG_HOURLY.schema), meta=meta)
    return lake


def test_views_in_gold_schema(served):
    con = connect(served)
    assert list_views(con) == [("gold", "dim_plants"), ("gold", "fct_tag_hourly")]
    assert con.sql("SELECT avg(twa_value) FROM gold.fct_tag_hourly").fetchall() == [(301.0,)]
    row = con.sql("SELECT h.tag, p.name FROM gold.fct_tag_hourly h JOIN gold.dim_plants p USING (plant_id) LIMIT 1").fetchall()
    assert row == [("T", "CSTR")]
    # timestamps are served in UTC
    assert con.sql("SELECT min(hour_start)::VARCHAR FROM gold.fct_tag_hourly").fetchall() == [("2026-01-01 00:00:00+00",)]


def test_connection_cannot_touch_files_or_settings(served, tmp_path):
    con = connect(served)
    with pytest.raises(duckdb.Error):
        con.execute(f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'")
    with pytest.raises(duckdb.Error):
        con.execute(f"SELECT * FROM read_parquet('{served.root}/gold/fct_tag_hourly/**/*.parquet')")
    with pytest.raises(duckdb.Error):
        con.execute("SET enable_external_access = true")
    with pytest.raises(duckdb.Error):
        con.execute("INSERT INTO gold.fct_tag_hourly SELECT * FROM gold.fct_tag_hourly")
    assert not (tmp_path / "x.csv").exists()


def test_empty_lake_has_no_views(lake):
    assert list_views(connect(lake)) == []


@pytest.mark.parametrize("statement", [
    "COPY (SELECT 42 AS x) TO '.tmp/out.csv'",
    "COPY gold.fct_tag_hourly TO 'out.parquet' (FORMAT parquet)",
    "CREATE TABLE work AS SELECT 1 AS x",
    "CREATE TEMP TABLE work AS SELECT 1 AS x",
    "CREATE VIEW gold.v AS SELECT 1 AS x",
    "ATTACH ':memory:' AS scratch",
    "INSTALL delta",
    "LOAD delta",
    "SET threads = 1",
    "RESET memory_limit",
    "PRAGMA memory_limit = '64GB'",
    "PRAGMA enable_profiling",
    "SELECT 1; CREATE TABLE work(a INT)",
    "SELECT 1;\n  -- the second statement is the one that writes\n  DROP VIEW gold.fct_tag_hourly",
    "EXPLAIN ANALYZE CREATE TABLE work AS SELECT 1",
    "INSERT INTO gold.fct_tag_hourly SELECT * FROM gold.fct_tag_hourly",
    "CALL pragma_version()",
    "BEGIN TRANSACTION",
])
def test_only_queries_are_allowed(served, statement):
    con = connect(served)
    for run in (con.sql, con.execute):
        with pytest.raises(StatementNotAllowed, match="read-only connection: .*allowed are queries only"):
            run(statement)
    # nothing was created and the served views are intact
    assert con.sql("SELECT count(*) FROM duckdb_tables()").fetchall() == [(0,)]
    assert con.sql("SELECT count(*) FROM duckdb_databases() WHERE NOT internal").fetchall() == [(1,)]
    assert con.sql("SELECT count(*) FROM gold.fct_tag_hourly").fetchall() == [(3,)]


def test_refusal_names_the_statement(served):
    with pytest.raises(duckdb.PermissionException) as info:
        connect(served).sql("SELECT 1; CREATE TABLE work(a INT)")
    assert "CREATE statement (statement 2 of 2): 'CREATE TABLE work(a INT)'" in str(info.value)


@pytest.mark.parametrize("query, expected", [
    ("SELECT count(*) FROM gold.fct_tag_hourly", [(3,)]),
    ("WITH h AS (SELECT * FROM gold.fct_tag_hourly) SELECT max(twa_value) FROM h", [(302.0,)]),
    ("FROM gold.dim_plants SELECT name", [("CSTR",)]),
    ("-- a comment first\nSELECT name FROM gold.dim_plants", [("CSTR",)]),
    ("SELECT 1; SELECT name FROM gold.dim_plants", [("CSTR",)]),
    ("VALUES (1)", [(1,)]),
])
def test_queries_over_gold_still_work(served, query, expected):
    assert connect(served).sql(query).fetchall() == expected
    assert connect(served).execute(query).fetchall() == expected


def test_catalog_reads_are_allowed(served):
    con = connect(served)
    assert ("tag", "VARCHAR") in [r[:2] for r in con.sql("DESCRIBE gold.fct_tag_hourly").fetchall()]
    assert "fct_tag_hourly" in [r[2] for r in con.sql("SHOW ALL TABLES").fetchall()]
    assert "tag" in [r[1] for r in con.sql("PRAGMA table_info('gold.fct_tag_hourly')").fetchall()]
    assert con.sql("SUMMARIZE gold.fct_tag_hourly").fetchall()
    assert "physical_plan" in con.sql("EXPLAIN SELECT * FROM gold.fct_tag_hourly").fetchall()[0][0]
    assert con.sql("EXPLAIN ANALYZE SELECT count(*) FROM gold.fct_tag_hourly").fetchall()
    assert con.execute("SELECT ? + 1", [41]).fetchone() == (42,)


def test_no_temporary_directory_to_write_to_or_read_from(served, tmp_path, monkeypatch):
    # DuckDB's default temporary directory (.tmp under the working directory) stays reachable when
    # external access is off, unless it is emptied before the configuration is locked.
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "secret.txt").write_text("secret")
    con = connect(served)
    assert con.sql("SELECT current_setting('temp_directory'), current_setting('allowed_directories')::VARCHAR, "
                   "current_setting('allowed_paths')::VARCHAR").fetchall() == [("", "[]", "[]")]
    for path in (".tmp/secret.txt", str(tmp_path / ".tmp" / "secret.txt")):
        with pytest.raises(duckdb.PermissionException):
            con.sql(f"SELECT content FROM read_text('{path}')").fetchall()
    with pytest.raises(duckdb.Error):
        con.sql("SELECT * FROM glob('.tmp/*')").fetchall()


def test_memory_limit_is_set_and_configurable(served, monkeypatch):
    monkeypatch.delenv("NEXUS_SQL_MEMORY_LIMIT", raising=False)
    limit = "SELECT current_setting('memory_limit')"
    assert connect(served).sql(limit).fetchall()[0][0] == "3.7 GiB"  # DEFAULT_MEMORY_LIMIT = 4GB (10^9 bytes)
    assert connect(served, memory_limit="256MB").sql(limit).fetchall()[0][0] == "244.1 MiB"
    monkeypatch.setenv("NEXUS_SQL_MEMORY_LIMIT", "512MB")
    assert connect(served).sql(limit).fetchall()[0][0] == "488.2 MiB"
    with pytest.raises(StatementNotAllowed):
        connect(served).execute("SET memory_limit = '64GB'")


def test_python_api_has_no_write_back_door(served):
    con = connect(served)
    with pytest.raises(AttributeError, match="not available on a read-only lake connection"):
        con.register("x", pa.table({"a": [1]}))
    with pytest.raises(AttributeError):
        con.install_extension("delta")


def test_raw_manifest_and_bronze_are_served(lake, meta):
    received = dt.datetime(2026, 1, 2, 3, tzinfo=UTC)
    raw = REGISTRY.get("raw.landing__files")
    lake.append(raw, pa.Table.from_pylist([
        {"sha256": "ab" * 32, "file_name": "permit.json", "source": "regulatory", "plant_id": None,
         "period_date": None, "raw_path": "raw/regulatory/permit.json", "size_bytes": 120, "received_at": received,
         "status": "loaded", "reason": None, "rows_loaded": 1, "_run_id": "run-1"}], schema=raw.schema), meta=meta)
    bronze = REGISTRY.get("bronze.regulatory__documents")
    lake.append(bronze, pa.Table.from_pylist([
        {"sha256": "ab" * 32, "file_name": "permit.json", "document_id": "permit-1", "version": 1, "kind": "permit",
         "content_json": "{}", "_parse_error": None, "_source_file": "raw/regulatory/permit.json",
         "_received_at": received, "_ingested_at": received, "_run_id": "run-1"}], schema=bronze.schema), meta=meta)
    con = connect(lake)
    assert list_views(con) == [("bronze", "regulatory__documents"), ("raw", "landing__files")]
    row = con.sql("SELECT f.status, f.size_bytes, d.document_id FROM raw.landing__files f "
                  "JOIN bronze.regulatory__documents d ON d._source_file = f.raw_path").fetchall()
    assert row == [("loaded", 120, "permit-1")]
