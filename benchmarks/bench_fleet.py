"""Benchmark: a fleet through one pipeline — 100 CSTR instances and the other plant types, one day.

Writes a fleet file (``NEXUS_FLEET``) with ``--cstr-instances`` CSTR instances whose parameters
differ (jacket UA ±10 %, volume ±5 %, feed temperature ±1 %, each from its own seed) next to one
instance of every other plant type (and ``--banks`` instances of the 1,000-tag reactor bank), simulates one day of every instance's historian exports (two
worker processes), publishes ``gold.dim_assets``, then runs the daily sensor path (land → bronze →
silver → gold, :func:`etl.sensor.run_batch`) for every instance on one lake, as the mapped DAG does
but without Airflow's own overhead. Compares the pipeline's CPU with a bare DuckDB pass over the
same files (read_csv → Parquet, per instance) in the same run.

    .venv/bin/python benchmarks/bench_fleet.py --cstr-instances 100 [--json]
    .venv/bin/python benchmarks/bench_fleet.py --cstr-instances 0 --no-others --banks 1   # one 1,000-tag instance
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sensor_pipeline import floor, peak_rss_mib, report  # noqa: E402


def write_fleet(path: Path, n_cstr: int, others: bool, seed: int, banks: int = 0) -> list[str]:
    """A fleet file with ``n_cstr`` CSTR instances of differing parameters (plus the other types)."""
    from models.fleet import DEFAULT_FLEET_FILE, read_fleet

    base = read_fleet(DEFAULT_FLEET_FILE)
    lines = [f'[enterprise]\nid = "{base.enterprise_id}"\nname = "{base.enterprise_name} (benchmark fleet)"\n']
    for sid, s in base.sites.items():
        lines.append(f'[sites.{sid}]\nname = "{s.name}"\ncountry = "{s.country}"\ngrid_region = "{s.grid_region}"\n'
                     f'power_series = "{s.power_series}"\ngas_series = "{s.gas_series}"\n'
                     + (f'carbon_series = "{s.carbon_series}"\n' if s.carbon_series else ""))
    rng = random.Random(seed)
    ids = []
    for k in range(1, n_cstr + 1):
        pid = f"cstr_{k:03d}"
        ua, vol, tf = 5.0e4 * rng.uniform(0.9, 1.1), 100.0 * rng.uniform(0.95, 1.05), 350.0 * rng.uniform(0.99, 1.01)
        lines.append(f'[plants.{pid}]\ntype = "cstr"\nsite = "de_chempark"\nname = "CSTR R-{100 + k}"\n'
                     f'capacity = {round(144.0 * vol / 100.0, 1)}\ncapacity_unit = "m3/d"\n'
                     f"params = {{ UA = {ua:.1f}, V = {vol:.2f}, Tf = {tf:.2f} }}\n")
        ids.append(pid)
    for k in range(1, banks + 1):
        pid = f"reactor_bank_{k:02d}"
        lines.append(f'[plants.{pid}]\ntype = "reactor_bank"\nsite = "de_chempark"\nname = "Reactor bank B-{k}"\n'
                     f"params = {{ design_seed = {k} }}\n")
        ids.append(pid)
    if others:
        for inst in base:
            if inst.plant_type != "cstr":
                lines.append(f'[plants.{inst.plant_id}]\ntype = "{inst.plant_type}"\nsite = "{inst.site.site_id}"\n')
                ids.append(inst.plant_id)
    path.write_text("\n".join(lines), encoding="utf-8")
    return ids


def _simulate(fleet_file: str, plant_id: str, start: dt.datetime, landing: str, truth: str, seed: int) -> tuple[int, float]:
    from models.fleet import read_fleet

    t0 = time.process_time()
    sim = read_fleet(fleet_file).get(plant_id).simulate(start, start + dt.timedelta(days=1), landing_dir=landing,
                                                          truth_dir=truth, seed=seed)
    return sim.n_readings, time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cstr-instances", type=int, default=100)
    parser.add_argument("--banks", type=int, default=0,
                        help="instances of the 1,000-tag reactor bank (models.reactor_bank) to add")
    parser.add_argument("--no-others", action="store_true", help="no instance of the other plant types")
    parser.add_argument("--date", default="2026-01-05")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="simulation worker processes")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    args = parser.parse_args(argv)

    day = dt.date.fromisoformat(args.date)
    t_day = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
    with tempfile.TemporaryDirectory(prefix="nexus-bench-fleet-") as tmp:
        tmp = Path(tmp)
        fleet_file = tmp / "fleet.toml"
        ids = write_fleet(fleet_file, args.cstr_instances, not args.no_others, args.seed, args.banks)
        os.environ["NEXUS_FLEET"] = str(fleet_file)

        from etl.assets import publish_assets
        from etl.sensor import Batch, run_batch
        from models import get_plant
        from warehouse.lake import CommitMeta, Lake

        t0 = time.perf_counter()
        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
            sims = list(pool.map(_simulate, [str(fleet_file)] * len(ids), ids, [t_day] * len(ids),
                                 [str(tmp / "landing")] * len(ids), [str(tmp / "truth")] * len(ids),
                                 [args.seed] * len(ids)))
        sim_s = time.perf_counter() - t0

        for pid in ids:  # the same files for the floor (landing moves them into raw)
            shutil.copytree(tmp / "landing" / "sensor" / pid, tmp / "floor-in" / pid)

        lake = Lake(tmp / "lake")
        c0, t0 = time.process_time(), time.perf_counter()
        assets = publish_assets(lake, CommitMeta("benchmark", "bench-fleet", "fleet"))
        per_instance, statuses, points, silver = [], {}, 0, 0
        for pid in ids:
            t1 = time.perf_counter()
            out = run_batch(lake, tmp / "landing", Batch(pid, day),
                            CommitMeta("benchmark", f"bench-fleet-{pid}", f"sensor:{pid}"))
            per_instance.append(time.perf_counter() - t1)
            points += out["silver"]["bronze_rows"]
            silver += out["silver"]["silver_rows"]
            status = out["silver"].get("status", "?")
            statuses[status] = statuses.get(status, 0) + 1
        pipeline_s, pipeline_cpu = time.perf_counter() - t0, time.process_time() - c0
        peak_mib = peak_rss_mib()  # the pipeline's (the floor's DuckDB reads come after)

        floor_cpu = floor_wall = 0.0
        (tmp / "floor-out").mkdir()
        for pid in ids:
            c, w = floor(tmp / "floor-in" / pid, tmp / "floor-out" / pid, pid, day, 1)
            floor_cpu, floor_wall = floor_cpu + c, floor_wall + w
        tags = sum(len(get_plant(pid).TAGS) for pid in ids)
    result = {
        "instances": len(ids), "cstr_instances": args.cstr_instances, "bank_instances": args.banks, "tags": tags, "assets": assets["assets"],
        "readings": points, "silver_rows": silver, "batch_status": statuses,
        "simulate_s": round(sim_s, 1), "simulate_cpu_s": round(sum(c for _, c in sims), 1),
        "pipeline_s": round(pipeline_s, 1), "pipeline_cpu_s": round(pipeline_cpu, 1),
        "median_instance_s": round(sorted(per_instance)[len(per_instance) // 2], 3),
        "points_per_s": round(points / pipeline_s), "floor_cpu_s": round(floor_cpu, 2),
        "floor_wall_s": round(floor_wall, 2), "cpu_over_floor": round(pipeline_cpu / floor_cpu, 1),
        "peak_rss_mib": round(peak_mib, 1),
    }
    report(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
