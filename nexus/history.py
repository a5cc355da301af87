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
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
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


@dataclass(frozen=True)
class _Chunk:
    """What the pipeline needs of one simulated chunk."""

    n_readings: int
    episodes: tuple
    seconds: float


def _simulate_chunk(plant_id: str, fleet_file: str, a: str, b: str, tmp: str, seed: int,
                    landing_dir: str | None) -> dict[str, Any]:
    """Simulate one plant instance's ``[a, b)`` into ``tmp``; the truth file holds its episodes."""
    from models.fleet import read_fleet

    t0 = time.perf_counter()
    t_a = dt.datetime.combine(dt.date.fromisoformat(a), dt.time(), tzinfo=dt.timezone.utc)
    t_b = dt.datetime.combine(dt.date.fromisoformat(b), dt.time(), tzinfo=dt.timezone.utc)
    landing = Path(landing_dir) if landing_dir else Path(tmp) / "landing"
    sim = read_fleet(fleet_file).get(plant_id).simulate(t_a, t_b, landing_dir=landing,
                                                         truth_dir=Path(tmp) / "truth", seed=seed)
    return {"n_readings": sim.n_readings, "truth_path": str(sim.truth_path), "seconds": time.perf_counter() - t0}


def _chunk(reply: dict[str, Any]) -> _Chunk:
    from models.historian import read_episodes

    return _Chunk(reply["n_readings"], tuple(read_episodes(reply["truth_path"])), reply["seconds"])


class _SimulationWorker:
    """A child Python process that simulates chunks, one JSON line per job and per reply, in order.

    A plain subprocess (``python -m nexus.history --worker``), not a fork: the parent may hold Delta
    Lake's runtime threads, and a clean interpreter never re-runs the caller's ``__main__``.
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "nexus.history", "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def submit(self, args: tuple) -> None:
        self.proc.stdin.write(json.dumps(args) + "\n")
        self.proc.stdin.flush()

    def result(self) -> _Chunk:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulation worker ended (exit status {self.proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"simulation failed in the worker:\n{reply['error']}")
        return _chunk(reply)

    def close(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _worker_main() -> int:
    # Replies go to the pipe the parent reads; anything else printed (by Python or a library) to stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    for line in sys.stdin:
        try:
            reply = _simulate_chunk(*json.loads(line))
        except Exception:  # reported to the parent, which raises it
            reply = {"error": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    return 0


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
    worker = _SimulationWorker() if overlap and landing_dir is None and len(jobs) > 1 else None
    pending: deque[tuple[str, tuple]] = deque()

    def submit(i: int) -> None:
        plant_id, a, b = jobs[i]
        tmp = tempfile.mkdtemp(prefix="nexus-history-")
        args = (plant_id, str(fleet_path()), a.isoformat(), b.isoformat(), tmp, seed,
                str(landing_dir) if landing_dir else None)
        if worker:
            worker.submit(args)
        pending.append((tmp, args))

    results: dict[str, PlantHistory] = {p: PlantHistory(p) for p in plants}
    try:
        if jobs:
            submit(0)
        for i, (plant_id, a, b) in enumerate(jobs):
            if worker and i + 1 < len(jobs):
                submit(i + 1)  # simulated while this chunk loads
            tmp, args = pending.popleft()
            try:
                sim = worker.result() if worker else _chunk(_simulate_chunk(*args))
                landing = landing_dir or Path(tmp) / "landing"
                meta = CommitMeta(dag_id="nexus-backfill-history",
                                  run_id=f"history__{plant_id}__{start}__{end}__seed{seed}", source=f"simulator:{plant_id}")
                t1 = time.perf_counter()
                loaded = load_history(lake, landing, plant_id, a, b, meta, chunk_days=(b - a).days)
                episodes = record_episodes(lake, list(sim.episodes), meta)
                load_s = time.perf_counter() - t1
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            if not worker and i + 1 < len(jobs):
                submit(i + 1)
            res = results[plant_id]
            res.days += (b - a).days
            res.readings += sim.n_readings
            res.silver_rows += loaded["silver_rows"]
            res.quarantined_rows += loaded["quarantined_rows"]
            res.episodes += episodes
            res.simulate_s += sim.seconds
            res.load_s += load_s
            if progress:
                progress(f"{plant_id} {a}..{b - dt.timedelta(days=1)}: {sim.n_readings:,} readings, "
                         f"simulate {sim.seconds:.1f} s, load {load_s:.1f} s")
    finally:
        if worker:
            worker.close()
        for tmp, _ in pending:
            shutil.rmtree(tmp, ignore_errors=True)
    return [results[p] for p in plants]


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    sys.exit(_worker_main())
