"""Benchmark: detection figures and the time to monitor a plant-day, per plant.

Simulates ``--days`` days of every plant (``--plants``) into a temporary lake with the sensor
pipeline's bulk path, monitors them day by day (sensor health, PCA and IsolationForest scores,
event frames — :func:`etl.monitoring.monitor_day`, what the ``monitor_plants`` DAG runs), then
evaluates the detectors against the simulator's truth (:mod:`nexus.evaluation`) and compares
calibration on the detected steady-normal hours with calibration on the truth's normal hours.

Times are per plant-day, split by step, next to a floor measured in the same run on the same
data: one bare DuckDB pass over the day's silver readings (read the Delta files, hourly means).

    .venv/bin/python benchmarks/bench_monitoring.py --days 35 [--plants cstr smelter] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import tempfile
import time
from pathlib import Path


def _floor_seconds(lake, plant_id: str, day: dt.date) -> float:
    """A bare DuckDB pass over the day's silver readings: scan the Delta files, hourly mean per tag."""
    import duckdb

    from warehouse.tables import SILVER_SENSOR_READINGS

    t0 = time.perf_counter()
    ds = lake.dataset(SILVER_SENSOR_READINGS)
    con = duckdb.connect()
    con.register("r", ds)
    con.execute("SELECT tag, date_trunc('hour', ts) h, avg(value) FROM r WHERE plant_id = ? AND reading_date = ? "
                "GROUP BY ALL", [plant_id, day]).fetchall()
    con.close()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=35, help="days simulated; the monitors train on the first 14")
    parser.add_argument("--plants", nargs="+", default=["cstr", "biorefinery", "co2_electrolyzer", "smelter"])
    parser.add_argument("--start", default="2026-01-01")
    parser.add_argument("--seed", type=int, default=57)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import pandas as pd

    from etl.monitoring import assess_sensors, build_events, score_process
    from nexus.evaluation import compare_calibration_windows, evaluate_detectors, summary
    from nexus.history import backfill_history
    from warehouse.lake import CommitMeta, Lake

    start = dt.date.fromisoformat(args.start)
    end = start + dt.timedelta(days=args.days)
    results: dict = {"days": args.days, "seed": args.seed, "plants": {}}
    with tempfile.TemporaryDirectory(prefix="nexus-bench-monitor-") as tmp:
        lake = Lake(Path(tmp) / "lake")
        t0 = time.perf_counter()
        backfill_history(args.plants, start, end, lake=lake, seed=args.seed, chunk_days=args.days)
        results["load_s"] = round(time.perf_counter() - t0, 1)
        for plant_id in args.plants:
            meta = CommitMeta("benchmark", f"monitor-{plant_id}", f"monitoring:{plant_id}")
            steps = {"sensors": [], "process": [], "events": [], "floor": []}
            day = start
            while day < end:
                for name, fn in (("sensors", assess_sensors), ("process", score_process), ("events", build_events)):
                    t1 = time.perf_counter()
                    fn(lake, plant_id, day, meta)
                    steps[name].append(time.perf_counter() - t1)
                steps["floor"].append(_floor_seconds(lake, plant_id, day))
                day += dt.timedelta(days=1)
            per_day = {k: float(pd.Series(v).median()) for k, v in steps.items()}
            total = per_day["sensors"] + per_day["process"] + per_day["events"]
            cal = compare_calibration_windows(lake, plant_id, end - dt.timedelta(days=1))
            results["plants"][plant_id] = {
                "seconds_per_day_p50": {k: round(v, 3) for k, v in per_day.items()},
                "monitor_s_per_day_p50": round(total, 3),
                "ratio_to_floor": round(total / per_day["floor"], 1) if per_day["floor"] else None,
                "calibration": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in cal.items()
                                if k not in ("plant_id", "day")},
            }
        rows = evaluate_detectors(lake, args.plants, CommitMeta("benchmark", "evaluate", "simulator-truth"))
        results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        table = summary(rows)
    if args.json:
        results["evaluation"] = json.loads(table.to_json(orient="records"))
        print(json.dumps(results, default=str))
        return 0
    print(f"{args.days} days of {', '.join(args.plants)} (seed {args.seed}), loaded in {results['load_s']} s; "
          f"peak RSS {results['peak_rss_mib']} MiB\n")
    print("Time to monitor one plant-day (median over the days; floor = one bare DuckDB pass over the day's silver):")
    for plant_id, r in results["plants"].items():
        s = r["seconds_per_day_p50"]
        print(f"  {plant_id:17s} {r['monitor_s_per_day_p50']:6.2f} s  (sensors {s['sensors']:.2f}, process "
              f"{s['process']:.2f}, events {s['events']:.2f}; floor {s['floor']:.3f} s, {r['ratio_to_floor']}x)")
    print("\nDetectors against the simulator's truth (monitored days after the 14 training days):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nCalibration on the last 7 days: detected steady-normal hours vs the truth's normal hours (max validation MAPE, %):")
    for plant_id, r in results["plants"].items():
        c = r["calibration"]
        print(f"  {plant_id:17s} detected {c.get('detected_validation_mape_pct')} on {c.get('detected_hours')} h "
              f"({c.get('detected_hours_truly_normal_pct')} % truly normal); truth {c.get('truth_validation_mape_pct')} "
              f"on {c.get('truth_hours')} h")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
