"""Concurrent writers (parallel backfill runs, Celery workers) lose nothing and duplicate nothing."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp

import pyarrow as pa

from warehouse.lake import CommitMeta, Lake
from warehouse.registry import UTC_TS, Column, TableSpec

UTC = dt.timezone.utc
KEYED = TableSpec(
    name="gold.test__keyed", description="upsert target",
    columns=(Column("k", pa.string(), "key", nullable=False), Column("writer", pa.int64(), "who wrote")),
    primary_key=("k",), constraints={"writer_known": "writer >= 0"},
)
DAILY = TableSpec(
    name="silver.test__daily", description="interval target",
    columns=(Column("plant_id", pa.string(), "plant", nullable=False), Column("ts", UTC_TS, "time", nullable=False),
             Column("v", pa.float64(), "value")),
    primary_key=("plant_id", "ts"), partition_by=("plant_id",), interval_column="ts",
)


def _writer(root: str, writer: int, n: int) -> None:
    lake = Lake(root)
    meta = CommitMeta(dag_id="concurrency", run_id=f"w{writer}", source="test")
    day = dt.datetime(2026, 1, 1 + writer, tzinfo=UTC)
    for i in range(n):
        lake.upsert(KEYED, pa.table({"k": [f"w{writer}-{i}", "shared"], "writer": [writer, writer]}), meta=meta)
    rows = pa.table({"plant_id": ["p"] * 24, "ts": pa.array([day + dt.timedelta(hours=h) for h in range(24)], UTC_TS),
                     "v": [float(writer)] * 24})
    for _ in range(2):  # a rerun of the same day
        lake.replace_interval(DAILY, rows, start=day, end=day + dt.timedelta(days=1), where={"plant_id": "p"}, meta=meta)


def test_parallel_upserts_and_interval_replacements(tmp_path):
    root, writers, n = str(tmp_path / "lake"), 3, 4
    procs = [mp.get_context("spawn").Process(target=_writer, args=(root, w, n)) for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    lake = Lake(root)
    keyed = lake.read(KEYED).to_pylist()
    keys = [r["k"] for r in keyed]
    assert len(keys) == len(set(keys)) == writers * n + 1  # every key once, "shared" included
    daily = lake.read(DAILY)
    assert daily.num_rows == writers * 24
    assert len(set(zip(daily["plant_id"].to_pylist(), daily["ts"].to_pylist()))) == writers * 24
