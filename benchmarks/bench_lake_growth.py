"""Benchmark: does a plant-day cost more as the lake grows?

Loads ``--days`` days of one plant's historian into a "grown" lake, then processes the next day on
it and on a fresh lake holding only that day, and reruns the day ``--repeats`` times on each
(median, process CPU and wall). ``--history daily`` loads the history day by day (one set of Delta
files per day, as the daily DAG writes them, compacted every Sunday as the maintain_lake DAG does); ``--history bulk`` (default) takes the fast route a
real plant's first load takes, :func:`etl.sensor.load_history`, over cheap synthetic days (one
simulated day copied to every history day with its dates rewritten; ``--thin N`` keeps every Nth
reading of them), then runs the last ``--daily-tail`` days day by day on top, so a multi-year lake
(``--days 1825``) is reached in minutes. Also times a read
of one plant-day of silver with the file selection ``Lake.read`` does (partition values and
min/max statistics) against a scan of the whole table's dataset with the same row filter.

Issue 14's goal: a plant-day on a 5-year lake within 1.2x of one on a fresh lake.

    .venv/bin/python benchmarks/bench_lake_growth.py --days 60 [--plant cstr] [--repeats 3] [--json]
    .venv/bin/python benchmarks/bench_lake_growth.py --days 1825 --thin 10      # a 5-year lake
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
    parser.add_argument("--profile", action="store_true", help="print a cProfile (CPU) of one day on the grown lake")
    parser.add_argument("--history", choices=("bulk", "daily"), default="bulk")
    parser.add_argument("--thin", type=int, default=1, help="bulk history: keep every Nth reading of the synthetic days")
    parser.add_argument("--daily-tail", type=int, default=7, help="bulk history: days loaded day by day at its end")
    args = parser.parse_args(argv)

    import pyarrow as pa
    import pyarrow.compute as pc

    from etl.sensor import Batch, load_history, run_batch
    from models import get_plant
    from warehouse.lake import CommitMeta, Lake
    from warehouse.maintenance import maintain
    from warehouse.tables import SILVER_SENSOR_READINGS

    start = dt.date.fromisoformat(args.start)
    day = start + dt.timedelta(days=args.days)  # the day measured
    t_start = dt.datetime.combine(start, dt.time(), tzinfo=dt.timezone.utc)
    with tempfile.TemporaryDirectory(prefix="nexus-bench-") as tmp:
        tmp = Path(tmp)
        inbox = tmp / "landing" / "sensor" / args.plant
        if args.history == "daily":
            get_plant(args.plant).simulate(t_start, t_start + dt.timedelta(days=args.days + 1),
                                           landing_dir=tmp / "landing", truth_dir=tmp / "truth", seed=args.seed)
        else:  # simulate the measured day and one template day; copy the template to every history day
            t_day = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
            get_plant(args.plant).simulate(t_day - dt.timedelta(days=1), t_day + dt.timedelta(days=1),
                                           landing_dir=tmp / "landing", truth_dir=tmp / "truth", seed=args.seed)
            template_day = day - dt.timedelta(days=1)
            template = {f.name: f.read_bytes() for f in inbox.glob(f"{args.plant}__{template_day}__*")}
            for f in inbox.glob(f"{args.plant}__{template_day}__*"):
                f.unlink()
            for i in range(args.days):
                d = start + dt.timedelta(days=i)
                for name, content in template.items():
                    lines = content.replace(str(template_day).encode(), str(d).encode()).split(b"\n")
                    body = [ln for j, ln in enumerate(lines[1:]) if j % args.thin == 0]
                    (inbox / name.replace(str(template_day), str(d))).write_bytes(b"\n".join(lines[:1] + body))
        # the measured day's files, kept aside for the fresh lake
        fresh_landing = tmp / "fresh-landing" / "sensor" / args.plant
        fresh_landing.mkdir(parents=True)
        for f in inbox.glob(f"{args.plant}__{day}__*"):
            (fresh_landing / f.name).write_bytes(f.read_bytes())

        grown = Lake(tmp / "grown")
        t0 = time.perf_counter()
        tail = 0 if args.history == "daily" else min(args.daily_tail, args.days)
        if args.days - tail > 0:
            load_history(grown, tmp / "landing", args.plant, start, start + dt.timedelta(days=args.days - tail),
                         CommitMeta("benchmark", "history", "sensor"))
            # the weekly maintain_lake DAG compacts after a bulk load too (vacuum left out: nothing is old enough)
            maintain(grown, meta=CommitMeta("benchmark", "maintain", "lake"), dry_run=True)
        for i in range(args.days - (tail if args.history == "bulk" else args.days), args.days):
            d = start + dt.timedelta(days=i)
            run_batch(grown, tmp / "landing", Batch(args.plant, d), CommitMeta("benchmark", f"load-{d}", "sensor"))
            if args.history == "daily" and d.weekday() == 6:  # the weekly maintain_lake DAG (Sundays)
                maintain(grown, meta=CommitMeta("benchmark", f"maintain-{d}", "lake"), dry_run=True)
        load_s = time.perf_counter() - t0
        fresh = Lake(tmp / "fresh")

        def day_cost(lake: Lake, landing: Path) -> tuple[float, float]:
            times, cpu = [], []
            for r in range(args.repeats + 1):  # the first run lands the files; reruns replace the day
                t1, c1 = time.perf_counter(), time.process_time()
                run_batch(lake, landing, Batch(args.plant, day), CommitMeta("benchmark", f"day-{r}", "sensor"))
                times.append(time.perf_counter() - t1)
                cpu.append(time.process_time() - c1)
            return statistics.median(times[1:]), statistics.median(cpu[1:])

        fresh_s, fresh_cpu = day_cost(fresh, tmp / "fresh-landing")  # first: it pays the one-off imports
        grown_s, grown_cpu = day_cost(grown, tmp / "landing")
        if args.profile:  # the same day on each lake, CPU-profiled, fresh first
            import cProfile
            import pstats

            for name, lake, landing in (("fresh", fresh, tmp / "fresh-landing"), ("grown", grown, tmp / "landing")):
                prof = cProfile.Profile(time.process_time)
                prof.runcall(run_batch, lake, landing, Batch(args.plant, day), CommitMeta("benchmark", "p", "sensor"))
                print(f"==== {name} lake", file=sys.stderr)
                pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(r"etl|warehouse|deltalake", 40)

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
        "plant": args.plant, "history_days": args.days, "history": args.history, "thin": args.thin,
        "history_load_s": round(load_s, 1),
        "day_cpu_on_grown_lake_s": round(grown_cpu, 3), "day_cpu_on_fresh_lake_s": round(fresh_cpu, 3),
        "grown_over_fresh_cpu": round(grown_cpu / fresh_cpu, 2),
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
