"""Small helpers the DAG files share (imported at parse time: cheap, no I/O until called in a task)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any


def alert_on_skip(context: Any) -> None:
    """Task callback: a task that skipped on purpose (no data, incomplete data) raises an alert.

    The alert is an ERROR record of the ``nexus.alerts`` logger with the DAG, task, run and the
    reason the task gave, in the task's log (and any log handler an operator attaches, e.g. mail).
    """
    import logging

    ti = context.get("task_instance") or context.get("ti")
    reason = context.get("exception") or "skipped"
    logging.getLogger("nexus.alerts").error(
        "ALERT %s.%s[%s] run %s: %s", getattr(ti, "dag_id", "?"), getattr(ti, "task_id", "?"),
        getattr(ti, "map_index", -1), context.get("run_id"), reason)


def lake_and_meta(source: str, step: str) -> tuple[Any, Any, Any]:
    """The lake, the commit metadata of this task and the Airflow context (call inside a task)."""
    from airflow.sdk import get_current_context

    from nexus.settings import get_settings
    from warehouse.lake import CommitMeta, Lake

    ctx = get_current_context()
    extra = {"task_id": step}
    if "scenario_id" in ctx["params"]:
        extra["scenario_id"] = str(ctx["params"]["scenario_id"])
    meta = CommitMeta(dag_id=ctx["dag"].dag_id, run_id=ctx["run_id"], source=source, extra=extra)
    return Lake(get_settings().lake_root), meta, ctx


def plant_days(lake: Any, plants: Sequence[str], day: str | None) -> list[dict[str, str]]:
    """``[{"plant_id", "day"}]``: the given day, else each plant's latest complete day in gold.

    Plants without gold data are left out (and said so in the task log).
    """
    from nexus.errors import ContractViolation
    from sustainability.pipeline import latest_complete_day

    todo = []
    for plant_id in plants:
        try:
            when = dt.date.fromisoformat(day) if day else latest_complete_day(lake, [plant_id])
        except ContractViolation as exc:
            print(f"{plant_id}: skipped ({exc})")
            continue
        todo.append({"plant_id": plant_id, "day": when.isoformat()})
    return todo
