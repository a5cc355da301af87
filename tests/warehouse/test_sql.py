"""DuckDB serving of the lake's silver and gold tables."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from warehouse.sql import connect, list_views
from warehouse.tables import DIM_PLANTS, FCT_TAG_HOURLY

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
