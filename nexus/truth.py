"""The simulator's ground truth in the lake: written by the simulator harness, read by evaluation only.

A real plant's historian has no table of what really happened. The twins know it (their
episodes: normal, transient, abnormal, extreme, sensor faults with the affected tag), and Nexus
keeps it in ``sim.truth__operating_episodes`` so that detectors can be *evaluated* against it
(:mod:`nexus.evaluation`). No pipeline — monitoring, calibration, surrogate training,
optimization, sustainability, reports — reads it; ``tests/test_truth_isolation.py`` fails if a
production module imports this module or names the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
import pyarrow as pa

from warehouse.lake import CommitMeta, Lake
from warehouse.tables import SIM_OPERATING_EPISODES


def record_episodes(lake: Lake, episodes: Iterable[Any], meta: CommitMeta) -> int:
    """Upsert simulated :class:`models.base.Episode` objects into the truth table; returns the count."""
    rows = [{"plant_id": e.plant_id, "episode_id": e.episode_id, "category": e.category, "label": e.label,
             "start_at": e.start, "end_at": e.end, "tag": e.tag, "detail": e.detail} for e in episodes]
    if rows:
        lake.upsert(SIM_OPERATING_EPISODES, pa.Table.from_pylist(rows, schema=SIM_OPERATING_EPISODES.schema), meta=meta)
    return len(rows)


def read_episodes(lake: Lake, plant_id: str | None = None) -> pd.DataFrame:
    """The truth table (optionally one plant's) as a DataFrame; empty when nothing was simulated."""
    if not lake.exists(SIM_OPERATING_EPISODES):
        return pd.DataFrame(columns=SIM_OPERATING_EPISODES.column_names)
    return lake.read(SIM_OPERATING_EPISODES, where={"plant_id": plant_id} if plant_id else None).to_pandas()
