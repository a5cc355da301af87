"""Benchmark: years of hourly-and-faster history for every plant, simulated and bulk-loaded into the lake.

Runs :func:`nexus.history.backfill_history` (simulate a month of historian exports, load it with
the sensor pipeline's bulk path, record ground truth) on a temporary lake and reports, per plant
and in total, the time, readings per second, lake size and peak resident memory.

    .venv/bin/python benchmarks/bench_history.py --years 5            # all plants, 2021-2025
    .venv/bin/python benchmarks/bench_history.py --days 62 --plants biorefinery smelter
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import tempfile
import time
from pathlib import Path


def _size_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main(argv: list[str] | None = None) -> int:
    from models import PLANTS
    from nexus.history import backfill_history
    from warehouse.lake import Lake

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2021-01-01")
    span = parser.add_mutually_exclusive_group()
    span.add_argument("--years", type=int)
    span.add_argument("--days", type=int)
    parser.add_argument("--plants", nargs="+", default=sorted(PLANTS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk-days", type=int, default=31)
    parser.add_argument("--lake", help="keep the lake here instead of a temporary folder")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    start = dt.date.fromisoformat(args.start)
    end = start.replace(year=start.year + args.years) if args.years else start + dt.timedelta(days=args.days or 31)
    with tempfile.TemporaryDirectory(prefix="nexus-bench-history-") as tmp:
        root = Path(args.lake) if args.lake else Path(tmp) / "lake"
        lake = Lake(root)
        t0 = time.perf_counter()
        results = backfill_history(args.plants, start, end, lake=lake, seed=args.seed, chunk_days=args.chunk_days,
                                   progress=None if args.quiet else lambda m: print(m, flush=True))
        wall = time.perf_counter() - t0
        size = _size_mib(root)
    rows = []
    for r in results:
        rows.append({"plant": r.plant_id, "days": r.days, "readings": r.readings, "silver_rows": r.silver_rows,
                     "quarantined": r.quarantined_rows, "episodes": r.episodes, "simulate_s": round(r.simulate_s, 1),
                     "load_s": round(r.load_s, 1), "points_per_s": round(r.points_per_s)})
    total = sum(r.readings for r in results)
    summary = {"start": str(start), "end": str(end), "plants": rows, "readings": total, "wall_s": round(wall, 1),
               "points_per_s": round(total / wall), "lake_mib": round(size), "peak_rss_mib":
               round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), "cpus": os.cpu_count()}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
