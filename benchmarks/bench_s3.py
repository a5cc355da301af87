"""Benchmark: the daily path (land → bronze → silver → gold) with the lake on S3 against local disk.

Simulates ``--plant-days`` days of a plant's historian once, then runs the same files day by day
through ``etl.sensor.run_batch`` twice in one process: on a local lake with a local inbox (the
floor), and on a lake and inbox on a local S3 server (SeaweedFS ``weed mini``, as the tests use,
on loopback: the network is not in the figures, only the S3 protocol, the object store's own work
and Nexus's requests). A warm-up day on a scratch lake pays the one-off imports first, so neither
run carries them. Both lakes must hold the same silver and gold rows (checked).

Reports wall and CPU seconds per run, the S3 server's own CPU seconds, the ratio S3 / local (all
days, and after the first day, which also creates the tables), the monitoring of the same days
(``etl.monitoring.monitor_range``: many small commits per day) and a SQL query on gold through
``warehouse.sql.connect`` on each lake.

    .venv/bin/python benchmarks/bench_s3.py --plant-days 7 [--plant cstr] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_sensor_pipeline import report  # noqa: E402


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(lake_root: str, landing: str, plant: str, days: list[dt.date], tag: str) -> dict:
    from etl.sensor import Batch, run_batch
    from warehouse.lake import CommitMeta, Lake

    lake = Lake(lake_root)
    walls, cpu0 = [], time.process_time()
    for day in days:
        t0 = time.perf_counter()
        out = run_batch(lake, landing, Batch(plant, day), CommitMeta("bench", f"{tag}-{day}", f"sensor:{plant}"))
        walls.append(time.perf_counter() - t0)
        assert out["silver"]["status"] in ("complete", "partial"), out
    return {"walls": walls, "cpu": time.process_time() - cpu0, "lake": lake}


def _monitor(lake, plant: str, days: list[dt.date], tag: str) -> float:
    """Wall seconds of the monitoring of every day (sensor health, PCA, events: many small commits)."""
    from etl.monitoring import monitor_range
    from warehouse.lake import CommitMeta

    t0 = time.perf_counter()
    monitor_range(lake, plant, days[0], days[-1] + dt.timedelta(days=1), CommitMeta("bench", f"{tag}-monitor", "monitoring"))
    return time.perf_counter() - t0


def _sql(lake) -> tuple[float, list]:
    from warehouse.sql import connect

    t0 = time.perf_counter()
    con = connect(lake)
    rows = con.sql("SELECT tag, count(*) AS hours, round(avg(twa_value), 6) AS twa FROM gold.fct_tag_hourly "
                   "GROUP BY tag ORDER BY tag").fetchall()
    return time.perf_counter() - t0, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plant-days", type=int, default=7)
    parser.add_argument("--plant", default="cstr")
    parser.add_argument("--start", default="2026-01-01")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    args = parser.parse_args(argv)

    from nexus.demo import simulate
    from tests.s3 import ObjectStore
    from warehouse import storage
    from warehouse.lake import Lake
    from warehouse.tables import FCT_TAG_HOURLY, SILVER_SENSOR_READINGS

    start = dt.date.fromisoformat(args.start)
    warmup_day = start - dt.timedelta(days=1)
    days = [start + dt.timedelta(days=i) for i in range(args.plant_days)]
    with tempfile.TemporaryDirectory(prefix="nexus-bench-s3-") as tmp:
        tmp = Path(tmp)
        simulate(args.plant, warmup_day, args.plant_days + 1, seed=args.seed, landing_dir=tmp / "files",
                 lake=Lake(tmp / "scratch"))
        inbox = tmp / "files" / "sensor" / args.plant
        n_bytes = sum(p.stat().st_size for p in inbox.iterdir())
        shutil.copytree(tmp / "files", tmp / "landing")
        # The warm-up day (imports, Great Expectations' context) on a scratch lake of its own.
        _run(str(tmp / "warmup-lake"), str(tmp / "landing"), args.plant, [warmup_day], "warmup")

        with ObjectStore(tmp) as store:
            os.environ.update(store.env)
            s3_landing = store.uri("landing")
            remote_inbox = storage.folder(s3_landing)
            for path in sorted((tmp / "files").rglob("*")):
                if path.is_file() and warmup_day.isoformat() not in path.name:
                    remote_inbox.upload(path, path.relative_to(tmp / "files").as_posix())
            local = _run(str(tmp / "lake"), str(tmp / "landing"), args.plant, days, "local")
            server_cpu0 = _proc_cpu(store.proc.pid)
            remote = _run(store.uri("lake"), s3_landing, args.plant, days, "s3")
            server_cpu = _proc_cpu(store.proc.pid) - server_cpu0
            monitor_local = _monitor(local["lake"], args.plant, days, "local")
            monitor_s3 = _monitor(remote["lake"], args.plant, days, "s3")
            sql_local, rows_local = _sql(local["lake"])
            sql_s3, rows_s3 = _sql(remote["lake"])
            assert rows_local == rows_s3, "gold differs between the local and the S3 lake"
            for spec in (SILVER_SENSOR_READINGS, FCT_TAG_HOURLY):
                n_local, n_s3 = local["lake"].read(spec).num_rows, remote["lake"].read(spec).num_rows
                assert n_local == n_s3, f"{spec.name}: {n_local} rows on disk, {n_s3} on S3"
            readings = local["lake"].read(SILVER_SENSOR_READINGS).num_rows

    wl, ws = sum(local["walls"]), sum(remote["walls"])
    wl1, ws1 = sum(local["walls"][1:]), sum(remote["walls"][1:])
    report({
        "plant": args.plant, "plant_days": args.plant_days, "raw_mib": round(n_bytes / 2**20, 1),
        "silver_readings": readings,
        "local_wall_s": round(wl, 2), "s3_wall_s": round(ws, 2),
        "s3_over_local_wall": round(ws / wl, 2),
        "s3_over_local_wall_after_first_day": round(ws1 / wl1, 2) if wl1 else None,
        "local_day_median_s": round(statistics.median(local["walls"]), 3),
        "s3_day_median_s": round(statistics.median(remote["walls"]), 3),
        "local_cpu_s": round(local["cpu"], 2), "s3_cpu_s": round(remote["cpu"], 2),
        "s3_server_cpu_s": round(server_cpu, 2),
        "monitor_local_s": round(monitor_local, 2), "monitor_s3_s": round(monitor_s3, 2),
        "s3_over_local_monitor": round(monitor_s3 / monitor_local, 2),
        "sql_gold_local_s": round(sql_local, 3), "sql_gold_s3_s": round(sql_s3, 3),
        "s3_over_local_sql": round(sql_s3 / sql_local, 2),
    }, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
