"""The environment Airflow runs in for this project (embedded default: SQLite, LocalExecutor).

Values already set in the environment win, so production (PostgreSQL, Celery) is configured the
usual Airflow way, with ``AIRFLOW__SECTION__KEY`` variables.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from nexus.settings import airflow_port_environ, project_root

#: The folder of Nexus's ``airflow_local_settings`` (the scheduler's preload of the task libraries).
LOCAL_SETTINGS_DIR = Path(__file__).resolve().parent / "airflow_config"


def airflow_environ(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) plus the project's Airflow defaults."""
    env = dict(os.environ if base is None else base)
    root = project_root()
    defaults = {
        "AIRFLOW_HOME": str(root / ".airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # 2-core machines: Airflow's defaults (32 worker processes) would thrash.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",  # one task at a time per Celery worker
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        # The UI of a local Airflow is for this machine only; production (docker/compose) sets its host.
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    # OpenLineage events of every task run, to a local file (no network); lake tables are the datasets.
    env.setdefault("AIRFLOW__OPENLINEAGE__NAMESPACE", "nexus")
    env.setdefault("AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps(
        {"type": "file", "log_file_path": os.path.join(env["AIRFLOW_HOME"], "openlineage-events.jsonl"), "append": True}))
    # One port (AIRFLOW__API__PORT) moves the UI, the execution API tasks report to and the log servers.
    env.update(airflow_port_environ(env))
    # Nexus's airflow_local_settings (preloads the task libraries where tasks fork), unless the Airflow
    # home has its own: Airflow imports the first one on sys.path, and PYTHONPATH comes first.
    own = Path(env["AIRFLOW_HOME"]) / "config" / "airflow_local_settings.py"
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if not own.exists() and str(LOCAL_SETTINGS_DIR) not in paths:
        env["PYTHONPATH"] = os.pathsep.join([str(LOCAL_SETTINGS_DIR), *paths])
    # `airflow standalone` starts its components as `airflow ...` subprocesses found on PATH.
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")]).rstrip(os.pathsep)
    return env
