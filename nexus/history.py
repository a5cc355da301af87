"""Years of plant history: simulate every plant's historian and bulk-load it into the lake.

The twins' history is what calibration, optimization, anomaly detection and reports learn from.
:func:`backfill_history` produces it month by month and plant by plant — simulate the month's
historian exports, land and load them with the sensor pipeline's bulk path
(:func:`etl.sensor.load_history`: the same steps and the same rows as the daily DAG, a few commits
per month instead of per day), record the simulator's ground-truth episodes in
``sim.truth__operating_episodes`` (evaluation data only) — so memory stays bounded and the landing folder never holds more
than a month.

    .venv/bin/nexus backfill-history --start 2021-01-01 --years 5          # all plants
    .venv/bin/python benchmarks/bench_history.py --years 5                  # the same, timed
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable, Sequence
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


def backfill_history(plants: Sequence[str], start: dt.date, end: dt.date, *, lake: Lake, seed: int = 0,
                     chunk_days: int = 31, landing_dir: Path | None = None,
                     progress: Callable[[str], None] | None = None) -> list[PlantHistory]:
    """Simulate and load ``[start, end)`` for every plant in ``plants``; returns per-plant figures."""
    from etl.sensor import load_history
    from models.fleet import get_instance
    from nexus.truth import record_episodes

    results = []
    for plant_id in plants:
        plant = get_instance(plant_id)
        res = PlantHistory(plant_id)
        meta = CommitMeta(dag_id="nexus-backfill-history", run_id=f"history__{plant_id}__{start}__{end}__seed{seed}",
                          source=f"simulator:{plant_id}")
        for a, b in _month_chunks(start, end, chunk_days):
            with tempfile.TemporaryDirectory(prefix="nexus-history-") as tmp:
                landing = landing_dir or Path(tmp) / "landing"
                t0 = time.perf_counter()
                t_a = dt.datetime.combine(a, dt.time(), tzinfo=dt.timezone.utc)
                t_b = dt.datetime.combine(b, dt.time(), tzinfo=dt.timezone.utc)
                sim = plant.simulate(t_a, t_b, landing_dir=landing, truth_dir=Path(tmp) / "truth", seed=seed)
                t1 = time.perf_counter()
                loaded = load_history(lake, landing, plant_id, a, b, meta, chunk_days=(b - a).days)
                episodes = record_episodes(lake, sim.episodes, meta)
                t2 = time.perf_counter()
            res.days += (b - a).days
            res.readings += sim.n_readings
            res.silver_rows += loaded["silver_rows"]
            res.quarantined_rows += loaded["quarantined_rows"]
            res.episodes += episodes
            res.simulate_s += t1 - t0
            res.load_s += t2 - t1
            if progress:
                progress(f"{plant_id} {a}..{b - dt.timedelta(days=1)}: {sim.n_readings:,} readings, "
                         f"simulate {t1 - t0:.1f} s, load {t2 - t1:.1f} s")
        results.append(res)
    return results
