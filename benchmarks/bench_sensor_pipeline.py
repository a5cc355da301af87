"""Benchmark: raw → gold throughput of the sensor pipeline.

Simulates ``--plant-days`` days of a plant's historian into a temporary landing folder, then times
the pipeline steps (land → bronze → silver → gold) day by day on a temporary lake, as the DAG
runs them but without Airflow's own overhead. Reports readings (points) per second and the peak
resident memory, and the peak after the first day, to show memory does not grow with the history.

The floor: a bare DuckDB ``read_csv`` of the same landed files → one Parquet file per day, in the
same process and run. ``cpu_over_floor`` is the pipeline's process CPU time (user + system, all
threads: ``time.process_time()``) over the floor's; issue 14's goal is ≤ 5. The first day also pays
one-off imports (Great Expectations, models); ``cpu_over_floor_after_first_day`` leaves it out.

    .venv/bin/python benchmarks/bench_sensor_pipeline.py --plant-days 7 [--plant cstr] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(result: dict, as_json: bool) -> None:
    """Print a benchmark's figures: one JSON line, or an aligned table."""
    if as_json:
        print(json.dumps(result))
    else:
        width = max(map(len, result))
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")


def floor(inbox: Path, out: Path, plant: str, start: dt.date, days: int) -> tuple[float, float]:
    """CPU and wall seconds of a bare DuckDB pass over the files: read_csv → Parquet, one file per day."""
    import duckdb

    out.mkdir()
    con = duckdb.connect()
    c0, t0 = time.process_time(), time.perf_counter()
    for i in range(days):
        day = start + dt.timedelta(days=i)
        files = sorted(str(f) for f in inbox.glob(f"{plant}__{day}__*"))
        if files:
            con.execute(f"COPY (SELECT * FROM read_csv({files!r}, header=true, "
                        "columns={'tag': 'VARCHAR', 'timestamp': 'TIMESTAMPTZ', 'value': 'DOUBLE', 'quality': 'INTEGER'}, "
                        "ignore_errors=true)) "
                        f"TO '{out / f'{day}.parquet'}' (FORMAT parquet)")
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    con.close()
    return cpu, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plant-days", type=int, default=7)
    parser.add_argument("--plant", default="cstr")
    parser.add_argument("--start", default="2026-01-01")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    args = parser.parse_args(argv)

    from etl.sensor import Batch, run_batch
    from models import get_plant
    from warehouse.lake import CommitMeta, Lake

    start = dt.date.fromisoformat(args.start)
    t_start = dt.datetime.combine(start, dt.time(), tzinfo=dt.timezone.utc)
    with tempfile.TemporaryDirectory(prefix="nexus-bench-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        sim = get_plant(args.plant).simulate(t_start, t_start + dt.timedelta(days=args.plant_days),
                                             landing_dir=tmp / "landing", truth_dir=tmp / "truth", seed=args.seed)
        sim_s = time.perf_counter() - t0

        # the same files for the floor (landing moves them into raw)
        shutil.copytree(tmp / "landing" / "sensor" / args.plant, tmp / "floor-in")
        floor_cpu, floor_wall = floor(tmp / "floor-in", tmp / "floor-out", args.plant, start, args.plant_days)

        lake = Lake(tmp / "lake")
        points = silver = 0
        per_day, cpu_day, rss_after_first = [], [], None
        t0 = time.perf_counter()
        for i in range(args.plant_days):
            day = start + dt.timedelta(days=i)
            meta = CommitMeta(dag_id="benchmark", run_id=f"bench-{day}", source=f"sensor:{args.plant}")
            t1, c1 = time.perf_counter(), time.process_time()
            out = run_batch(lake, tmp / "landing", Batch(args.plant, day), meta)
            per_day.append(time.perf_counter() - t1)
            cpu_day.append(time.process_time() - c1)
            points += out["silver"]["bronze_rows"]
            silver += out["silver"]["silver_rows"]
            if rss_after_first is None:
                rss_after_first = peak_rss_mib()
        pipeline_s = time.perf_counter() - t0

    result = {
        "plant": args.plant, "plant_days": args.plant_days, "readings": points, "silver_rows": silver,
        "simulate_s": round(sim_s, 2), "pipeline_s": round(pipeline_s, 2),
        "points_per_s": round(points / pipeline_s), "first_day_s": round(per_day[0], 2),
        "median_day_s": round(sorted(per_day)[len(per_day) // 2], 2),
        "peak_rss_mib": round(peak_rss_mib(), 1), "peak_rss_after_first_day_mib": round(rss_after_first or 0, 1),
        "pipeline_cpu_s": round(sum(cpu_day), 2), "floor_cpu_s": round(floor_cpu, 3), "floor_wall_s": round(floor_wall, 3),
        "cpu_over_floor": round(sum(cpu_day) / floor_cpu, 1),
        "cpu_over_floor_after_first_day": round(sum(cpu_day[1:]) / (floor_cpu * (len(cpu_day) - 1) / len(cpu_day)), 1)
        if len(cpu_day) > 1 else None,
        "wall_over_floor": round(pipeline_s / floor_wall, 1),
    }
    report(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
