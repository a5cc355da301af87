"""Benchmark: raw → gold throughput of the sensor pipeline.

Simulates ``--plant-days`` days of a plant's historian into a temporary landing folder, then times
the pipeline steps (land → bronze → silver → gold) day by day on a temporary lake, as the DAG
runs them but without Airflow's own overhead. Reports readings (points) per second and the peak
resident memory, and the peak after the first day, to show memory does not grow with the history.

    .venv/bin/python benchmarks/bench_sensor_pipeline.py --plant-days 7 [--plant cstr] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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

        lake = Lake(tmp / "lake")
        points = silver = 0
        per_day, rss_after_first = [], None
        t0 = time.perf_counter()
        for i in range(args.plant_days):
            day = start + dt.timedelta(days=i)
            meta = CommitMeta(dag_id="benchmark", run_id=f"bench-{day}", source=f"sensor:{args.plant}")
            t1 = time.perf_counter()
            out = run_batch(lake, tmp / "landing", Batch(args.plant, day), meta)
            per_day.append(time.perf_counter() - t1)
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
    }
    if args.json:
        print(json.dumps(result))
    else:
        width = max(map(len, result))
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
