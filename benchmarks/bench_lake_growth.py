"""Benchmark: does a plant-day cost more as the lake grows?

Loads ``--days`` days of one plant's historian day by day (one set of Delta files per day, as the
daily DAG writes them) into a "grown" lake, then processes the next day on it and on a fresh lake
holding only that day, and reruns the day ``--repeats`` times on each (median). Also times a read
of one plant-day of silver with the file selection ``Lake.read`` does (partition values and
min/max statistics) against a scan of the whole table's dataset with the same row filter.

Issue 14's goal: a plant-day on a 5-year lake within 1.2x of one on a fresh lake.

    .venv/bin/python benchmarks/bench_lake_growth.py --days 60 [--plant cstr] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60, help="days of history in the grown lake")
    parser.add_argument("--plant", default="cstr")
    parser.add_argument("--start", default="2026-01-01")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    args = parser.parse_args(argv)

    import pyarrow as pa
    import pyarrow.compute as pc

    from etl.sensor import Batch, run_batch
    from models import get_plant
    from warehouse.lake import CommitMeta, Lake
    from warehouse.tables import SILVER_SENSOR_READINGS

    start = dt.date.fromisoformat(args.start)
    day = start + dt.timedelta(days=args.days)  # the day measured
    t_start = dt.datetime.combine(start, dt.time(), tzinfo=dt.timezone.utc)
    with tempfile.TemporaryDirectory(prefix="nexus-bench-") as tmp:
        tmp = Path(tmp)
        get_plant(args.plant).simulate(t_start, t_start + dt.timedelta(days=args.days + 1), landing_dir=tmp / "landing",
                                       truth_dir=tmp / "truth", seed=args.seed)
        # the measured day's files, kept aside for the fresh lake
        fresh_landing = tmp / "fresh-landing" / "sensor" / args.plant
        fresh_landing.mkdir(parents=True)
        for f in (tmp / "landing" / "sensor" / args.plant).glob(f"{args.plant}__{day}__*"):
            (fresh_landing / f.name).write_bytes(f.read_bytes())

        grown = Lake(tmp / "grown")
        t0 = time.perf_counter()
        for i in range(args.days):
            d = start + dt.timedelta(days=i)
            run_batch(grown, tmp / "landing", Batch(args.plant, d), CommitMeta("benchmark", f"load-{d}", "sensor"))
        load_s = time.perf_counter() - t0
        fresh = Lake(tmp / "fresh")

        def day_cost(lake: Lake, landing: Path) -> float:
            times = []
            for r in range(args.repeats + 1):  # the first run lands the files; reruns replace the day
                t1 = time.perf_counter()
                run_batch(lake, landing, Batch(args.plant, day), CommitMeta("benchmark", f"day-{r}", "sensor"))
                times.append(time.perf_counter() - t1)
            return statistics.median(times[1:])

        grown_s = day_cost(grown, tmp / "landing")
        fresh_s = day_cost(fresh, tmp / "fresh-landing")

        lo = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
        hi = lo + dt.timedelta(days=1)

        def read_pruned() -> int:
            return grown.read(SILVER_SENSOR_READINGS, where={"plant_id": args.plant}, start=lo, end=hi).num_rows

        def read_full() -> int:
            ts = SILVER_SENSOR_READINGS.column("ts").type
            expr = ((pc.field("plant_id") == args.plant) & (pc.field("ts") >= pa.scalar(lo, ts))
                    & (pc.field("ts") < pa.scalar(hi, ts)))
            return grown.dataset(SILVER_SENSOR_READINGS).to_table(filter=expr).num_rows

        reads = {}
        for name, fn in (("pruned", read_pruned), ("full", read_full)):
            rows, times = fn(), []
            for _ in range(5):
                t1 = time.perf_counter()
                assert fn() == rows
                times.append(time.perf_counter() - t1)
            reads[name] = statistics.median(times)
        files = len(grown.dataset(SILVER_SENSOR_READINGS).files)

    result = {
        "plant": args.plant, "history_days": args.days, "history_load_s": round(load_s, 1),
        "day_on_grown_lake_s": round(grown_s, 3), "day_on_fresh_lake_s": round(fresh_s, 3),
        "grown_over_fresh": round(grown_s / fresh_s, 2), "silver_files": files,
        "read_day_pruned_ms": round(1000 * reads["pruned"], 1), "read_day_full_scan_ms": round(1000 * reads["full"], 1),
        "full_over_pruned": round(reads["full"] / reads["pruned"], 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>24}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
