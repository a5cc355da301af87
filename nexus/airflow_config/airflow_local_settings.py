"""Nexus's Airflow local settings: preload the task libraries in the process that forks the tasks.

Airflow imports ``airflow_local_settings`` at the start of every Airflow process;
``nexus.airflow_env.airflow_environ`` puts this folder on ``PYTHONPATH`` so this module is the one
found. With the LocalExecutor the scheduler forks its worker processes, and each worker's
supervisor forks the task process (a bare ``os.fork()`` on Linux), which parses the DAG file and
runs the task. Modules imported in the scheduler before its workers fork are therefore inherited
by every task process instead of being imported again in each: pandas, pyarrow, deltalake, the
project's ETL and plant types (1–2 s per task) and Great Expectations (3–7 s per validating task).
A Celery worker forks its pool the same way. ``benchmarks/bench_airflow_tasks.py`` measures it
(a CSTR plant-day's six tasks: 28.5 s → 5.3 s; the scheduler's RSS +300 MiB).

Only modules whose import starts no runtime are preloaded. deltalake creates its tokio runtime on
the first table operation and refuses to run in a child forked after that; nothing here opens a
table, connects DuckDB or builds a Great Expectations context. The native threads that exist after
these imports (OpenBLAS's pools, jemalloc's background threads) have fork handlers;
Great Expectations starts no thread of its own at import.

``NEXUS_AIRFLOW_PRELOAD=0`` turns the preload off; ``NEXUS_AIRFLOW_PRELOAD=...`` (comma-separated
module names) replaces the list. Every other Airflow process (api-server, dag-processor,
triggerer, the CLI) imports nothing here.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time

#: Airflow copies every name this module exports into ``airflow.settings`` (its overrides and policy
#: hooks); this module overrides nothing, so it exports nothing.
__all__: list[str] = []

log = logging.getLogger(__name__)

#: Imported in the scheduler (LocalExecutor) and in Celery workers, in this order; then the plant
#: type packages (``models.base.PLANTS``: tag catalogs and physics, with scipy). ``module:function``
#: also calls a function of no arguments that builds a cached, pure-Python object (no I/O, no threads).
PRELOAD: tuple[str, ...] = (
    "numpy", "pyarrow", "pyarrow.compute", "pyarrow.csv", "pyarrow.dataset", "pyarrow.parquet", "pandas",
    "deltalake", "duckdb",
    "warehouse.lake", "warehouse.tables", "warehouse.quality", "warehouse.validation_docs",
    "etl.sensor", "etl.assets", "models.fleet", "nexus.lineage",
    "great_expectations",
    "etl.units:registry",  # pint and its unit registry (silver and gold convert units)
)


def plant_packages() -> tuple[str, ...]:
    """The plant type packages (imported lazily by ``models.get_plant``)."""
    try:
        from models.base import PLANTS
    except Exception as exc:  # noqa: BLE001 - a settings hook must never stop Airflow
        log.warning("nexus preload: no plant types (%s: %s)", type(exc).__name__, exc)
        return ()
    return tuple(PLANTS.values())


#: What was preloaded in this process: module -> import seconds (empty where nothing was).
preloaded: dict[str, float] = {}


def forks_tasks(argv: list[str] | None = None) -> bool:
    """Whether this Airflow process forks task processes: a LocalExecutor scheduler or a Celery worker."""
    args = [a for a in (sys.argv if argv is None else argv)[1:] if not a.startswith("-")]
    if args[:2] == ["celery", "worker"]:
        return True
    if args[:1] != ["scheduler"]:
        return False
    try:
        from airflow.configuration import conf

        return "LocalExecutor" in conf.get("core", "executor", fallback="LocalExecutor")
    except Exception:  # noqa: BLE001 - a settings hook must never stop Airflow
        return True


def modules(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """The modules to preload under ``environ`` (``NEXUS_AIRFLOW_PRELOAD``: 0/off, or a list)."""
    raw = (os.environ if environ is None else environ).get("NEXUS_AIRFLOW_PRELOAD", "").strip()
    if raw.lower() in ("0", "false", "off", "no"):
        return ()
    if raw and raw.lower() not in ("1", "true", "on", "yes"):
        return tuple(m.strip() for m in raw.split(",") if m.strip())
    return PRELOAD + plant_packages()


def preload(names: tuple[str, ...]) -> dict[str, float]:
    """Import ``names``; a module that fails is logged and skipped (the task imports it again)."""
    done = {}
    # Great Expectations logs ~100 INFO lines about its API docs registry while it is imported
    chatty = logging.getLogger("great_expectations._docs_decorators")
    level = chatty.level
    chatty.setLevel(logging.WARNING)
    try:
        for name in names:
            t0 = time.perf_counter()
            try:
                module, _, function = name.partition(":")
                imported = importlib.import_module(module)
                if function:
                    getattr(imported, function)()
            except Exception as exc:  # noqa: BLE001 - never stop the scheduler over a preload
                log.warning("nexus preload: %s not preloaded (%s: %s)", name, type(exc).__name__, exc)
                continue
            done[name] = time.perf_counter() - t0
    finally:
        chatty.setLevel(level)
    return done


if forks_tasks():
    preloaded.update(preload(modules()))
    if preloaded:
        log.info("nexus preload: %d modules in %.2f s for the task processes this process forks",
                 len(preloaded), sum(preloaded.values()))
