"""Years of plant history: simulate every plant's historian and bulk-load it into the lake.

The twins' history is what calibration, optimization, anomaly detection and reports learn from.
:func:`backfill_history` produces it month by month and plant by plant — simulate the month's
historian exports (in a worker process, the next month while this one loads), land and load them with the sensor pipeline's bulk path
(:func:`etl.sensor.load_history`: the same steps and the same rows as the daily DAG, a few commits
per month instead of per day), record the simulator's ground-truth episodes in
``sim.truth__operating_episodes`` (evaluation data only) — so memory stays bounded and the landing folder never holds more
than a month.

    .venv/bin/nexus backfill-history --start 2021-01-01 --years 5          # all plants
    .venv/bin/python benchmarks/bench_history.py --years 5                  # the same, timed
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any
from dataclasses import dataclass, field
from pathlib import Path

from warehouse.lake import CommitMeta, Lake


@dataclass
class PlantHistory:
    """What loading one plant's history did."""

    plant_id: str
    days: int = 0
    readings: int = 0
    silver_rows: int = 0
    quarantined_rows: int = 0
    episodes: int = 0
    simulate_s: float = 0.0
    load_s: float = 0.0
    chunks: list[dict] = field(default_factory=list)

    @property
    def points_per_s(self) -> float:
        total = self.simulate_s + self.load_s
        return self.readings / total if total else 0.0


def _month_chunks(start: dt.date, end: dt.date, chunk_days: int) -> list[tuple[dt.date, dt.date]]:
    out, day = [], start
    while day < end:
        stop = min(day + dt.timedelta(days=chunk_days), end)
        out.append((day, stop))
        day = stop
    return out


def _simulate_chunk(plant_id: str, fleet_file: str, a: dt.date, b: dt.date, tmp: str, seed: int,
                    landing_dir: str | None) -> tuple[Any, float]:
    """Simulate one plant instance's ``[a, b)`` into ``tmp`` (runs in the simulation worker process)."""
    from models.fleet import read_fleet

    t0 = time.perf_counter()
    t_a = dt.datetime.combine(a, dt.time(), tzinfo=dt.timezone.utc)
    t_b = dt.datetime.combine(b, dt.time(), tzinfo=dt.timezone.utc)
    landing = Path(landing_dir) if landing_dir else Path(tmp) / "landing"
    sim = read_fleet(fleet_file).get(plant_id).simulate(t_a, t_b, landing_dir=landing,
                                                         truth_dir=Path(tmp) / "truth", seed=seed)
    return sim, time.perf_counter() - t0


def backfill_history(plants: Sequence[str], start: dt.date, end: dt.date, *, lake: Lake, seed: int = 0,
                     chunk_days: int = 31, landing_dir: Path | None = None,
                     progress: Callable[[str], None] | None = None, overlap: bool = True) -> list[PlantHistory]:
    """Simulate and load ``[start, end)`` for every plant instance in ``plants``; returns per-plant figures.

    With ``overlap`` (the default) a worker process simulates the next chunk while this process
    loads the current one, so simulation and loading share the machine's cores; each chunk's
    landing folder is its own temporary folder (unless ``landing_dir`` is given, which turns overlap
    off), deleted once loaded.
    """
    from etl.assets import publish_assets
    from etl.sensor import load_history
    from models.fleet import fleet_path, load_fleet
    from nexus.truth import record_episodes

    fleet = load_fleet()
    for plant_id in plants:
        fleet.get(plant_id)  # unknown instances fail before any work
    publish_assets(lake, CommitMeta(dag_id="nexus-backfill-history", run_id=f"history__{start}__{end}", source="fleet"))
    jobs = [(plant_id, a, b) for plant_id in plants for a, b in _month_chunks(start, end, chunk_days)]
    pool = None
    if overlap and landing_dir is None and len(jobs) > 1:
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver"))
    pending: deque[tuple[str, Any]] = deque()

    def submit(i: int) -> None:
        plant_id, a, b = jobs[i]
        tmp = tempfile.mkdtemp(prefix="nexus-history-")
        args = (plant_id, str(fleet_path()), a, b, tmp, seed, str(landing_dir) if landing_dir else None)
        pending.append((tmp, pool.submit(_simulate_chunk, *args) if pool else args))

    results: dict[str, PlantHistory] = {p: PlantHistory(p) for p in plants}
    try:
        if jobs:
            submit(0)
        for i, (plant_id, a, b) in enumerate(jobs):
            if pool and i + 1 < len(jobs):
                submit(i + 1)  # simulated while this chunk loads
            tmp, job = pending.popleft()
            try:
                sim, sim_s = job.result() if pool else _simulate_chunk(*job)
                landing = landing_dir or Path(tmp) / "landing"
                meta = CommitMeta(dag_id="nexus-backfill-history",
                                  run_id=f"history__{plant_id}__{start}__{end}__seed{seed}", source=f"simulator:{plant_id}")
                t1 = time.perf_counter()
                loaded = load_history(lake, landing, plant_id, a, b, meta, chunk_days=(b - a).days)
                episodes = record_episodes(lake, sim.episodes, meta)
                load_s = time.perf_counter() - t1
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            if not pool and i + 1 < len(jobs):
                submit(i + 1)
            res = results[plant_id]
            res.days += (b - a).days
            res.readings += sim.n_readings
            res.silver_rows += loaded["silver_rows"]
            res.quarantined_rows += loaded["quarantined_rows"]
            res.episodes += episodes
            res.simulate_s += sim_s
            res.load_s += load_s
            if progress:
                progress(f"{plant_id} {a}..{b - dt.timedelta(days=1)}: {sim.n_readings:,} readings, "
                         f"simulate {sim_s:.1f} s, load {load_s:.1f} s")
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)
        for tmp, _ in pending:
            shutil.rmtree(tmp, ignore_errors=True)
    return [results[p] for p in plants]
