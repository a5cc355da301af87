"""Benchmark: SQL on the lake (``warehouse.sql.connect``) whatever the lake's size.

Builds a lake of ``--years`` years of every plant type (the real tag catalogs) cheaply: hourly tag
aggregates are synthesized with numpy and written through ``Lake.append`` a plant-month per commit
(as ``load_history`` writes them), the daily rollup (``gold.fct_tag_daily``) is computed from them by
``etl.rollups.daily_rollup``, and ``--silver-days`` days of CSTR readings at its 1-minute sampling go
to ``silver.process__sensor_readings`` (a file per plant-day). Then it times, ``--repeats`` times
each (p50 / p95):

- ``connect()`` (also on a lake where every registry table exists), and ``connect()`` + a first
  query (what a one-shot ``nexus sql`` pays);
- a month of one tag from ``gold.fct_tag_hourly`` and from silver, on an open connection;
- daily averages of every tag of every plant over the whole history, from the rollup and, for
  comparison, aggregated from the hourly table;

against a floor measured in the same run: plain DuckDB over the same Parquet files with a glob
(``read_parquet(..., hive_partitioning = true)``), with no Delta log and no read-only gate, and a
bare ``duckdb.connect()`` for the connection. Ratios are ours / floor.

Issue 14's goals: connect <= 100 ms, a month of one tag <= 20 ms, daily averages of 5 years <= 200 ms.

    .venv/bin/python benchmarks/bench_sql.py --years 5 [--silver-days 365] [--repeats 20] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PLANTS = ("cstr", "biorefinery", "co2_electrolyzer", "smelter")
UTC = dt.timezone.utc


def _months(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    out, d = [], start
    while d < end:
        nxt = dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
        out.append((d, min(nxt, end)))
        d = nxt
    return out


def build_lake(root: Path, *, years: int, silver_days: int, start: dt.date, seed: int = 1) -> dict[str, int]:
    """Write the synthetic lake; returns row and commit counts."""
    import numpy as np
    import pyarrow as pa

    from etl.rollups import daily_rollup
    from models import get_plant
    from warehouse.lake import CommitMeta, Lake
    from warehouse.tables import FCT_TAG_DAILY, FCT_TAG_HOURLY, SILVER_SENSOR_READINGS

    rng = np.random.default_rng(seed)
    lake = Lake(root)
    meta = CommitMeta("benchmark", "bench-sql", "synthetic")
    end = dt.date(start.year + years, start.month, start.day)
    counts = {"hourly_rows": 0, "daily_rows": 0, "silver_rows": 0, "commits": 0}
    for plant_id in PLANTS:
        plant = get_plant(plant_id)
        tags = [t.tag for t in plant.TAGS]
        units = [t.canonical_unit for t in plant.TAGS]
        per_hour = max(1, round(3600 / plant.INFO.sampling.total_seconds()))
        level = rng.uniform(1, 500, len(tags))
        for lo, hi in _months(start, end):
            hours = np.arange(np.datetime64(lo, "h"), np.datetime64(hi, "h"))
            n = len(tags) * len(hours)
            good = np.where(rng.random(n) < 0.02, 0, per_hour)  # 2 % of hours without a good reading
            twa = np.repeat(level, len(hours)) * (1 + 0.05 * rng.standard_normal(n))
            spread = np.abs(twa) * 0.01
            has = good > 0
            hourly = pa.table({
                "plant_id": pa.array([plant_id] * n), "tag": pa.array(np.repeat(tags, len(hours))),
                "hour_start": pa.array(np.tile(hours, len(tags)).astype("datetime64[us]"), pa.timestamp("us", "UTC")),
                "unit": pa.array(np.repeat(units, len(hours))),
                "twa_value": pa.array(twa, mask=~has), "min_value": pa.array(twa - spread, mask=~has),
                "max_value": pa.array(twa + spread, mask=~has), "sample_count": pa.array(np.full(n, per_hour)),
                "good_count": pa.array(good), "good_fraction": pa.array(good / per_hour),
                "flagged_count": pa.array(np.zeros(n, dtype=np.int64)), "flagged_fraction": pa.array(np.zeros(n)),
            })
            counts["hourly_rows"] += lake.append(FCT_TAG_HOURLY, hourly, meta=meta)
            counts["daily_rows"] += lake.append(FCT_TAG_DAILY, daily_rollup(hourly), meta=meta)
            counts["commits"] += 2
    # silver: CSTR readings at its own sampling (1 min), one month per commit, a file per day
    plant = get_plant("cstr")
    tags = [t.tag for t in plant.TAGS]
    step = int(plant.INFO.sampling.total_seconds())
    s_end = start + dt.timedelta(days=silver_days)
    for lo, hi in _months(start, s_end):
        ts = np.arange(np.datetime64(lo, "s"), np.datetime64(hi, "s"), step)
        n = len(tags) * len(ts)
        tss = np.tile(ts, len(tags))
        silver = pa.table({
            "plant_id": pa.array(["cstr"] * n), "reading_date": pa.array(tss.astype("datetime64[D]")),
            "tag": pa.array(np.repeat(tags, len(ts))),
            "ts": pa.array(tss.astype("datetime64[us]"), pa.timestamp("us", "UTC")),
            "value": pa.array(rng.uniform(0, 100, n)), "unit": pa.array(["1"] * n),
            "quality": pa.array(["good"] * n), "quality_code": pa.array(np.full(n, 192, dtype=np.int32)),
            "flag": pa.nulls(n, pa.string()), "flag_reason": pa.nulls(n, pa.string()),
            "_source_file": pa.array([f"raw/sensor/cstr/{lo}.csv"] * n), "_line_number": pa.array(np.arange(n) + 2),
            "_ingested_at": pa.array(np.full(n, np.datetime64(lo, "us")), pa.timestamp("us", "UTC")),
            "_run_id": pa.array(["bench"] * n),
        })
        counts["silver_rows"] += lake.append(SILVER_SENSOR_READINGS, silver, meta=meta)
        counts["commits"] += 1
    return counts


def _time(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    fn()  # warm-up (imports, first plan)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=5, help="years of hourly and daily facts of every plant")
    parser.add_argument("--silver-days", type=int, default=365, help="days of CSTR silver readings (1-minute)")
    parser.add_argument("--start", default="2022-01-01")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--lake", help="reuse (or build once into) this folder instead of a temporary one")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    args = parser.parse_args(argv)

    import duckdb

    from warehouse.lake import CommitMeta, Lake
    from warehouse.sql import connect
    from warehouse.tables import REGISTRY

    start = dt.date.fromisoformat(args.start)
    with tempfile.TemporaryDirectory(prefix="nexus-bench-sql-") as tmp:
        root = Path(args.lake) if args.lake else Path(tmp) / "lake"
        t0 = time.perf_counter()
        built = build_lake(root, years=args.years, silver_days=args.silver_days, start=start) \
            if not (root / "gold").exists() else {}
        build_s = time.perf_counter() - t0
        lake = Lake(root)

        month_lo = dt.date(start.year + args.years // 2, 3, 1) if args.years > 1 else start
        month_hi = dt.date(month_lo.year, month_lo.month + 1, 1)
        s_lo = start + dt.timedelta(days=min(args.silver_days, 60) // 2)
        s_hi = s_lo + dt.timedelta(days=30)
        hourly_month = (f"SELECT hour_start, twa_value FROM {{t}} WHERE plant_id = 'cstr' AND tag = 'CSTR.TI102' "
                        f"AND hour_start >= TIMESTAMPTZ '{month_lo}' AND hour_start < TIMESTAMPTZ '{month_hi}'")
        silver_month = (f"SELECT ts, value FROM {{t}} WHERE plant_id = 'cstr' AND tag = 'CSTR.TI102' "
                        f"AND ts >= TIMESTAMPTZ '{s_lo}' AND ts < TIMESTAMPTZ '{s_hi}'")
        daily_rollup = "SELECT plant_id, tag, day, twa_value FROM {t}"
        daily_hourly = ("SELECT plant_id, tag, CAST(hour_start AS DATE) AS day, "
                        "sum(twa_value * good_count) / nullif(sum(good_count), 0) AS twa_value FROM {t} GROUP BY ALL")

        con = connect(lake)
        floor = duckdb.connect()
        floor.execute("SET TimeZone = 'UTC'")

        def glob(name: str) -> str:  # the table's data files (partition folders), not the Delta log's checkpoints
            spec = REGISTRY.get(name)
            parts = "".join(f"{c}=*/" for c in spec.partition_by)
            return f"read_parquet('{lake.path(spec)}/{parts}*.parquet', hive_partitioning = true)"

        ours = {"hourly": "gold.fct_tag_hourly", "daily": "gold.fct_tag_daily",
                "silver": "silver.process__sensor_readings"}
        theirs = {k: glob(v) for k, v in ours.items()}
        queries = {"month_of_one_tag_hourly": (hourly_month, "hourly"),
                   "month_of_one_tag_silver": (silver_month, "silver"),
                   "daily_averages_from_rollup": (daily_rollup, "daily"),
                   "daily_averages_from_hourly": (daily_hourly, "hourly")}
        rows: dict[str, int] = {}
        results: dict[str, dict[str, float]] = {}

        def connect_once() -> None:
            connect(lake).close()

        def bare_connect() -> None:
            c = duckdb.connect()
            c.execute("SET TimeZone = 'UTC'")
            c.close()

        def first_query(sql: str) -> Callable[[], None]:
            def run() -> None:  # what a one-shot ``nexus sql`` pays: connect, open the table, query
                with connect(lake) as c:
                    c.sql(sql).to_arrow_table()
            return run

        results["connect"] = {**_time(connect_once, args.repeats),
                              **{f"floor_{k}": v for k, v in _time(bare_connect, args.repeats).items()}}
        # every table of the registry existing (empty): connecting must not grow with the number of tables
        every = Lake(Path(tmp) / "every-table")
        for spec in REGISTRY:
            every.ensure(spec, CommitMeta("benchmark", "bench-sql", "synthetic"))
        results["connect_every_table"] = {"tables": len(list(REGISTRY)),
                                          **_time(lambda: connect(every).close(), args.repeats)}
        results["connect_and_month_of_one_tag_hourly"] = _time(first_query(hourly_month.format(t=ours["hourly"])),
                                                               args.repeats)
        if args.silver_days:
            results["connect_and_month_of_one_tag_silver"] = _time(
                first_query(silver_month.format(t=ours["silver"])), args.repeats)
        results["connect_and_daily_averages_from_rollup"] = _time(first_query(daily_rollup.format(t=ours["daily"])),
                                                                  args.repeats)
        for name, (sql, table) in queries.items():
            if table == "silver" and not args.silver_days:
                continue
            rows[name] = con.sql(sql.format(t=ours[table])).to_arrow_table().num_rows
            floor_rows = floor.sql(sql.format(t=theirs[table])).to_arrow_table().num_rows
            assert rows[name] == floor_rows, (name, rows[name], floor_rows)
            ours_t = _time(lambda: con.sql(sql.format(t=ours[table])).to_arrow_table(), args.repeats)
            floor_t = _time(lambda: floor.sql(sql.format(t=theirs[table])).to_arrow_table(), args.repeats)
            results[name] = {**ours_t, **{f"floor_{k}": v for k, v in floor_t.items()}}
        for r in results.values():
            if "floor_p50_ms" in r:
                r["ratio_p50"] = round(r["p50_ms"] / max(r["floor_p50_ms"], 1e-3), 2)
        files = {k: floor.sql(f"SELECT count(DISTINCT filename) FROM {theirs[k].replace(')', ', filename = true)')}")
                 .fetchall()[0][0] for k in ours}
        out = {"years": args.years, "silver_days": args.silver_days, "repeats": args.repeats,
               "build_s": round(build_s, 1), **built, "parquet_files": files, "result_rows": rows, **results}
        con.close()
        floor.close()
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>30}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
