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


#: The decision policies (optimization.policy.POLICIES; repeated here so DAG files parse without it).
POLICY_KINDS: tuple[str, ...] = ("max_profit_no_co2e_increase", "max_profit", "internal_carbon_price",
                                 "min_co2e_profit_floor", "co2e_budget")


def policy_params() -> dict[str, Any]:
    """DAG params choosing how the recommended point is picked from the Pareto front."""
    from airflow.sdk import Param

    return {
        "decision_policy": Param(
            POLICY_KINDS[0], type="string", enum=list(POLICY_KINDS),
            description="how the recommended point is picked from the profit vs CO2e front: max_profit_no_co2e_increase "
                        "(default: the most profit without raising CO2e above the current point), max_profit, "
                        "internal_carbon_price (profit - price x CO2e), min_co2e_profit_floor (least CO2e earning at "
                        "least the current profit), co2e_budget (most profit within a daily CO2e budget)"),
        "internal_carbon_price_usd_t": Param(None, type=["null", "number"], minimum=0,
                                             description="internal_carbon_price: USD per t CO2e (Scope 1 + 2)"),
        "profit_floor_usd_h": Param(None, type=["null", "number"],
                                    description="min_co2e_profit_floor: floor in USD/h; empty = the current point's "
                                                "profit"),
        "co2e_budget_t_d": Param(None, type=["null", "number"], minimum=0,
                                 description="co2e_budget: t CO2e per day (Scope 1 + location-based Scope 2)"),
    }
