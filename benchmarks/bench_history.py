"""Benchmark: years of hourly-and-faster history for every plant, simulated and bulk-loaded into the lake.

Runs :func:`nexus.history.backfill_history` (simulate a month of historian exports, load it with
the sensor pipeline's bulk path, record ground truth) on a temporary lake and reports, per plant
and in total, the time, readings per second, lake size and peak resident memory.

The floor: a bare DuckDB ``read_csv`` → Parquet pass over the same files (the bytes raw keeps),
in the same run. ``load_cpu_over_floor`` is the process CPU time spent in
:func:`etl.sensor.load_history` over the floor's (issue 14's goal: ≤ 2.5; peak RSS ≤ 1 GB).

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


def floor(raw: Path, out: Path) -> float:
    """CPU seconds of a bare DuckDB pass over the files raw keeps: read_csv → Parquet, one file per day."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    c0 = time.process_time()
    for i, day_dir in enumerate(sorted(d for d in raw.glob("*/*") if d.is_dir() and not d.name.startswith("_"))):
        files = sorted(str(f) for f in day_dir.iterdir() if f.is_file())
        con.execute(f"COPY (SELECT * FROM read_csv({files!r}, header=true, "
                    "columns={'tag': 'VARCHAR', 'timestamp': 'TIMESTAMPTZ', 'value': 'DOUBLE', 'quality': 'INTEGER'}, "
                    f"ignore_errors=true)) TO '{out / f'{i}.parquet'}' (FORMAT parquet)")
    cpu = time.process_time() - c0
    con.close()
    return cpu


def main(argv: list[str] | None = None) -> int:
    from models.fleet import instance_ids
    from nexus.history import backfill_history
    from warehouse.lake import Lake

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2021-01-01")
    span = parser.add_mutually_exclusive_group()
    span.add_argument("--years", type=int)
    span.add_argument("--days", type=int)
    parser.add_argument("--plants", nargs="+", default=sorted(instance_ids()),
                        help="plant instances of the fleet (default: all of models/fleet.toml or NEXUS_FLEET)")
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
        import etl.sensor

        load_cpu = [0.0]
        real_load = etl.sensor.load_history

        def timed_load(*a, **k):  # backfill_history imports it at call time: count its CPU alone
            c0 = time.process_time()
            try:
                return real_load(*a, **k)
            finally:
                load_cpu[0] += time.process_time() - c0

        etl.sensor.load_history = timed_load
        t0 = time.perf_counter()
        results = backfill_history(args.plants, start, end, lake=lake, seed=args.seed, chunk_days=args.chunk_days,
                                   progress=None if args.quiet else lambda m: print(m, flush=True))
        wall = time.perf_counter() - t0
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the floor's own reads
        etl.sensor.load_history = real_load
        size = _size_mib(root)
        floor_cpu = floor(root / "raw" / "sensor", Path(tmp) / "floor")
    rows = []
    for r in results:
        rows.append({"plant": r.plant_id, "days": r.days, "readings": r.readings, "silver_rows": r.silver_rows,
                     "quarantined": r.quarantined_rows, "episodes": r.episodes, "simulate_s": round(r.simulate_s, 1),
                     "load_s": round(r.load_s, 1), "points_per_s": round(r.points_per_s)})
    total = sum(r.readings for r in results)
    summary = {"start": str(start), "end": str(end), "plants": rows, "readings": total, "wall_s": round(wall, 1),
               "points_per_s": round(total / wall), "lake_mib": round(size), "peak_rss_mib":
               round(peak_mib), "cpus": os.cpu_count(),
               "load_cpu_s": round(load_cpu[0], 1), "floor_cpu_s": round(floor_cpu, 2),
               "load_cpu_over_floor": round(load_cpu[0] / floor_cpu, 1) if floor_cpu else None}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
