"""Benchmark: what a plant-day costs under Airflow's scheduler against the library work it does.

Simulates two days (D-1 and D) of historian exports of ``--plants`` (default cstr) into a
temporary landing folder, then, on a temporary AIRFLOW_HOME (SQLite metadata DB, LocalExecutor,
free port, the project's Airflow environment from ``nexus.airflow_env.airflow_environ``), starts
``airflow standalone`` (api-server, scheduler, dag-processor, triggerer) and backfills the ingest
DAG's runs of both days, one after the other (the README's ``airflow backfill create``).
Scheduled runs are switched off (``use_job_schedule``), so these are the only runs. The run of
D-1 is the first after start-up (it shares the machine with components still warming up: its
wall time is reported apart); the run of D is measured.

Per task it reports the wall time Airflow records (task instance start → end in the metadata DB;
for mapped tasks the mean over plants) against the library time of the same step, measured in
this process on a copy of the same files (``etl.sensor`` steps as ``run_batch`` calls them, plus
what each DAG task adds: ``publish_assets``, ``record_validations``, the asset-event summary),
warm (imports done: the work alone). ``overhead_s`` = Airflow's time − library time: process
start-up, DAG parse, imports, API calls. ``--preload both`` (default) runs Airflow twice, with
the scheduler's preload of the task libraries (``nexus/airflow_config/airflow_local_settings.py``)
off and on, and reports the ratios, and the scheduler's resident memory in each.

    .venv/bin/python benchmarks/bench_airflow_tasks.py [--plants cstr ...] [--preload both|on|off] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DAG_ID = "ingest_sensor_data"
TASKS = ("select_plants", "land_files", "load_bronze", "publish_silver", "build_gold", "validate_completeness")


def simulate_days(plants: list[str], first: dt.date, days: int, landing: Path, seed: int) -> int:
    """``days`` days of historian exports of each plant instance into ``landing``; returns the readings."""
    from models.fleet import get_instance

    t0 = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    readings = 0
    with tempfile.TemporaryDirectory() as truth:
        for plant_id in plants:
            res = get_instance(plant_id).simulate(t0, t0 + dt.timedelta(days=days), landing_dir=landing,
                                                  truth_dir=Path(truth), seed=seed)
            readings += res.n_readings
    return readings


def library_steps(plants: list[str], day: dt.date, landing: Path, lake_root: Path) -> dict[str, float]:
    """Seconds of each DAG task's library calls, in this process (per plant for mapped tasks: mean)."""
    from etl.assets import publish_assets
    from etl.sensor import Batch, build_gold, completeness_status, land, load_bronze, publish_silver
    from nexus.lineage import asset_extra
    from warehouse.lake import CommitMeta, Lake
    from warehouse.tables import FCT_TAG_HOURLY, SILVER_SENSOR_READINGS
    from warehouse.validation_docs import record_validations

    lake = Lake(lake_root)
    run_id = f"library__{day}"
    times: dict[str, list[float]] = {t: [] for t in TASKS}

    def timed(task: str, fn):
        lake.forget_reads()  # as a fresh task process: its commits name only what it read
        t0 = time.perf_counter()
        out = fn()
        times[task].append(time.perf_counter() - t0)
        return out

    timed("select_plants", lambda: publish_assets(lake, CommitMeta(DAG_ID, run_id, "fleet")))
    for plant_id in plants:
        batch = Batch(plant_id, day)

        def meta(task: str, plant_id: str = plant_id) -> CommitMeta:
            return CommitMeta(DAG_ID, run_id, f"sensor:{plant_id}", extra={"task_id": task})

        timed("land_files", lambda: land(lake, landing, batch, meta("land_files")))
        timed("load_bronze", lambda: load_bronze(lake, batch, meta("load_bronze")))

        def silver():
            out = publish_silver(lake, batch, meta("publish_silver"))
            record_validations(lake, meta("publish_silver"))
            return out

        s = timed("publish_silver", silver)
        timed("build_gold", lambda: build_gold(lake, batch, meta("build_gold")))

        def announce():
            status = completeness_status(s["bronze_rows"], s.get("completeness", 1.0), 0.5)
            return status, [asset_extra(lake, spec, meta("validate_completeness"), any_task=True)
                            for spec in (SILVER_SENSOR_READINGS, FCT_TAG_HOURLY)]

        timed("validate_completeness", announce)
    return {t: statistics.fmean(v) for t, v in times.items() if v}


def _pids_in_group(pgid: int) -> dict[int, str]:
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            out[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, ProcessLookupError):
            continue
    return out


def _kib(pid: int, field: str, file: str = "status") -> int:
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def scheduler_memory(pgid: int) -> dict[str, float]:
    """RSS of the scheduler and PSS (shared pages split) of it plus its LocalExecutor workers, MiB."""
    procs = _pids_in_group(pgid)
    named = [p for p, cmd in procs.items() if cmd.endswith("airflow scheduler")]  # forked workers keep the name
    sched = [p for p in named if _ppid(p) not in named]
    if not sched:
        return {}
    family = [p for p in procs if p in sched or _ppid(p) in sched]
    return {"scheduler_rss_mib": round(_kib(sched[0], "VmRSS") / 1024, 1),
            "scheduler_and_workers_pss_mib": round(sum(_kib(p, "Pss", "smaps_rollup") for p in family) / 1024, 1),
            "executor_workers": len([p for p in family if p not in sched])}


def _ppid(pid: int) -> int:
    return _kib(pid, "PPid")


def airflow_run(plants: list[str], day: dt.date, source: Path, work: Path, preload: bool, modules: str = "1") -> dict:
    """Run the ingest DAG for ``day`` under a real scheduler; per-task times from the metadata DB."""
    from nexus.airflow_env import airflow_environ
    from tests.e2e.services import airflow, airflow_env, running

    home, lake, landing = work / "airflow", work / "lake", work / "landing"
    shutil.copytree(source, landing)
    env = airflow_environ(airflow_env(home, lake, landing, AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
                                      NEXUS_AIRFLOW_PRELOAD=modules if preload else "0"))
    airflow(env, "db", "migrate")
    # The runs of data days D-1 (the first after start-up: it shares the machine with the components
    # still warming up) and D (measured), each due when its day ends, as the README's backfill.
    with running(env, work / "logs", {"standalone": ["standalone"]}) as services:
        pgid = services.procs["standalone"].pid
        mem_idle = scheduler_memory(pgid)
        t0 = time.perf_counter()
        airflow(env, "backfill", "create", "--dag-id", DAG_ID, "--from-date", day.isoformat(),
                "--to-date", (day + dt.timedelta(days=1)).isoformat(), "--max-active-runs", "1",
                "--dag-run-conf", json.dumps({"plants": plants}))
        services.wait(lambda: sum(s in ("success", "failed") for s in services.runs(DAG_ID).values()) == 2,
                      900, "the two ingest runs")
        waited = time.perf_counter() - t0
        mem_after = scheduler_memory(pgid)
        first_run_id, run_id = sorted(services.runs(DAG_ID))
    with sqlite3.connect(home / "airflow.db") as db:
        tis = db.execute("SELECT task_id, map_index, state, julianday(start_date), julianday(end_date), "
                         "julianday(queued_dttm) FROM task_instance WHERE dag_id = ? AND run_id = ?",
                         (DAG_ID, run_id)).fetchall()
        run = db.execute("SELECT state, julianday(start_date), julianday(end_date) FROM dag_run "
                         "WHERE dag_id = ? AND run_id = ?", (DAG_ID, run_id)).fetchone()
        first = db.execute("SELECT state, julianday(start_date), julianday(end_date) FROM dag_run "
                           "WHERE dag_id = ? AND run_id = ?", (DAG_ID, first_run_id)).fetchone()
    from warehouse.lake import Lake
    from warehouse.tables import FCT_INGEST_BATCHES

    batches = Lake(lake).read(FCT_INGEST_BATCHES, where={"period_date": day}).to_pylist() \
        if Lake(lake).exists(FCT_INGEST_BATCHES) else []
    day_s = 86400.0
    per_task: dict[str, dict] = {}
    for task_id, _, state, start, end, queued in tis:
        t = per_task.setdefault(task_id, {"n": 0, "states": set(), "durations": [], "queue_waits": []})
        t["n"] += 1
        t["states"].add(state)
        if start and end:
            t["durations"].append((end - start) * day_s)
        if start and queued:
            t["queue_waits"].append((start - queued) * day_s)
    tasks = {k: {"n": v["n"], "state": ",".join(sorted(v["states"])),
                 "airflow_s": round(statistics.fmean(v["durations"]), 2) if v["durations"] else None,
                 "queued_to_start_s": round(statistics.fmean(v["queue_waits"]), 2) if v["queue_waits"] else None}
             for k, v in per_task.items()}
    return {"preload": preload, "run_id": run_id, "run_state": run[0],
            "silver_rows": {b["plant_id"]: b["silver_rows"] for b in batches}, "run_wall_s": round((run[2] - run[1]) * day_s, 1),
            "first_run_after_start_wall_s": round((first[2] - first[1]) * day_s, 1),
            "backfill_to_done_s": round(waited, 1),
            "task_seconds_total": round(sum(sum(v["durations"]) for v in per_task.values()), 1),
            "tasks": tasks, "memory_idle": mem_idle, "memory_after_run": mem_after}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plants", nargs="+", default=["cstr"])
    parser.add_argument("--day", default="2026-01-02", help="the measured data day (the day before runs first)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--preload", choices=("both", "on", "off"), default="both")
    parser.add_argument("--modules", default="1", help="NEXUS_AIRFLOW_PRELOAD of the run with the preload on "
                        "(1: the default list; or comma-separated modules)")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of tables")
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep it: Airflow homes, logs, lakes")
    args = parser.parse_args(argv)
    day = dt.date.fromisoformat(args.day)

    with tempfile.TemporaryDirectory(prefix="nexus-bench-airflow-") as tmp:
        tmp = Path(tmp)
        if args.keep:
            args.keep.mkdir(parents=True)
            tmp = args.keep
        readings = simulate_days(args.plants, day - dt.timedelta(days=1), 2, tmp / "source", args.seed) // 2
        # library time: day D-1 pays imports and first-use set-up (cold), day D the work alone (warm)
        shutil.copytree(tmp / "source", tmp / "landing-library")
        lib = {label: library_steps(args.plants, d, tmp / "landing-library", tmp / "lake-library")
               for label, d in (("cold", day - dt.timedelta(days=1)), ("warm", day))}
        modes = {"both": (False, True), "on": (True,), "off": (False,)}[args.preload]
        runs = {("on" if p else "off"): airflow_run(args.plants, day, tmp / "source", tmp / f"af-{p}", p, args.modules)
                for p in modes}

    result: dict = {"plants": args.plants, "day": str(day), "readings": readings,
                    "library_s": {k: {t: round(s, 3) for t, s in v.items()} for k, v in lib.items()}, "airflow": runs}
    for label, run in runs.items():
        for task, row in run["tasks"].items():
            warm = lib["warm"].get(task)
            if row["airflow_s"] and warm is not None:
                row["library_s"] = round(warm, 3)
                row["overhead_s"] = round(row["airflow_s"] - warm, 2)
                row["overhead_share"] = round(1 - warm / row["airflow_s"], 3)
        # a plant-day: each mapped task once (mean over plants) and its share of the run's select_plants
        share = {t: 1 / len(args.plants) if t == "select_plants" else 1 for t in TASKS}
        per_day = sum(r["airflow_s"] * share[t] for t, r in run["tasks"].items() if r["airflow_s"])
        work = sum(s * share[t] for t, s in lib["warm"].items())
        run["task_s_per_plant_day"] = round(per_day, 2)
        run["library_s_per_plant_day"] = round(work, 3)
        run["airflow_over_library"] = round(per_day / work, 1) if work else None
    if len(runs) == 2:
        off, on = runs["off"], runs["on"]
        result["off_over_on"] = {
            "task_s_per_plant_day": round(off["task_s_per_plant_day"] / on["task_s_per_plant_day"], 2),
            "run_wall_s": round(off["run_wall_s"] / on["run_wall_s"], 2),
            **{t: round(off["tasks"][t]["airflow_s"] / on["tasks"][t]["airflow_s"], 2)
               for t in TASKS if t in off["tasks"] and t in on["tasks"] and on["tasks"][t]["airflow_s"]}}
        result["scheduler_rss_added_mib"] = round(on["memory_idle"].get("scheduler_rss_mib", 0)
                                                  - off["memory_idle"].get("scheduler_rss_mib", 0), 1)
    if args.json:
        print(json.dumps(result, default=str))
        return 0
    print(f"{', '.join(args.plants)} on {day}: {readings:,} readings")
    print("library time per task (s, in-process; mapped tasks: mean per plant): "
          + ", ".join(f"{t} {lib['cold'][t]:.2f} cold / {lib['warm'][t]:.3f} warm" for t in TASKS))
    for label, run in runs.items():
        print(f"\npreload {label}: run {run['run_id']} {run['run_state']} (silver rows {run['silver_rows']}) in {run['run_wall_s']} s (the "
              f"first run after start-up: {run['first_run_after_start_wall_s']} s); task time per plant-day {run['task_s_per_plant_day']} s for "
              f"{run['library_s_per_plant_day']} s of library work ({run['airflow_over_library']}x); memory idle "
              f"{run['memory_idle']}, after {run['memory_after_run']}")
        print(f"  {'task':<22} {'n':>2} {'airflow_s':>9} {'library_s':>9} {'overhead_s':>10} {'share':>6} {'queued->start_s':>15}")
        for t in TASKS:
            r = run["tasks"].get(t)
            if r:
                print(f"  {t:<22} {r['n']:>2} {r['airflow_s']!s:>9} {r.get('library_s', '')!s:>9} "
                      f"{r.get('overhead_s', '')!s:>10} {r.get('overhead_share', '')!s:>6} {r['queued_to_start_s']!s:>15}")
    if "off_over_on" in result:
        print(f"\npreload off / on: {result['off_over_on']}; scheduler RSS added by the preload: "
              f"{result['scheduler_rss_added_mib']} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
