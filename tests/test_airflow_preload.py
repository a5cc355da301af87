"""The scheduler's preload of the task libraries (nexus/airflow_config/airflow_local_settings.py).

Airflow imports ``airflow_local_settings`` in every process; with the project's environment
(``airflow_environ()``) that is Nexus's, which preloads the task libraries only where tasks are
forked (a LocalExecutor scheduler, a Celery worker), starts no Delta runtime there, and leaves a
forked child able to write Delta tables and query DuckDB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from nexus.airflow_env import LOCAL_SETTINGS_DIR, airflow_environ

sys.path.insert(0, str(LOCAL_SETTINGS_DIR))
import airflow_local_settings as nexus_settings  # noqa: E402  (Airflow finds it the same way: on sys.path)

sys.path.remove(str(LOCAL_SETTINGS_DIR))


def test_the_project_environment_puts_the_preload_first_on_the_path(tmp_path):
    env = airflow_environ({"AIRFLOW_HOME": str(tmp_path), "PYTHONPATH": "/elsewhere"})
    assert env["PYTHONPATH"].split(os.pathsep) == [str(LOCAL_SETTINGS_DIR), "/elsewhere"]
    assert airflow_environ(env)["PYTHONPATH"] == env["PYTHONPATH"]  # idempotent
    # an Airflow home with its own local settings keeps them: ours would shadow them
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "airflow_local_settings.py").write_text("")
    assert "PYTHONPATH" not in airflow_environ({"AIRFLOW_HOME": str(tmp_path)})


@pytest.mark.parametrize(("argv", "forks"), [
    (["airflow", "scheduler"], True), (["airflow", "scheduler", "-n", "3"], True),
    (["airflow", "celery", "worker"], True), (["airflow", "api-server"], False),
    (["airflow", "dag-processor"], False), (["airflow", "triggerer"], False), (["airflow", "standalone"], False),
    (["airflow", "dags", "list-runs", "scheduler"], False), (["pytest"], False)])
def test_only_processes_that_fork_tasks_preload(argv, forks):
    assert nexus_settings.forks_tasks(argv) is forks


def test_the_preload_list_is_switchable():
    from models.base import PLANTS

    assert nexus_settings.modules({}) == nexus_settings.PRELOAD + tuple(PLANTS.values())
    assert "models.cstr" in PLANTS.values()
    assert nexus_settings.modules({"NEXUS_AIRFLOW_PRELOAD": "0"}) == ()
    assert nexus_settings.modules({"NEXUS_AIRFLOW_PRELOAD": "numpy, pandas"}) == ("numpy", "pandas")
    assert {"pandas", "pyarrow", "deltalake", "etl.sensor"} <= set(nexus_settings.PRELOAD)


SCHEDULER = textwrap.dedent("""
    import json, os, sys
    sys.argv = ["airflow", "scheduler"]  # what Airflow's scheduler process looks like to the settings hook
    import airflow  # settings.initialize() imports airflow_local_settings, as in every Airflow process
    import airflow_local_settings

    def threads():
        task = f"/proc/{os.getpid()}/task"
        return sorted(open(f"{task}/{t}/comm").read().strip() for t in os.listdir(task))

    parent_threads = threads()
    pid = os.fork()  # as the LocalExecutor's worker and the supervisor do
    if pid == 0:
        code = 1
        try:
            import duckdb
            from etl.assets import publish_assets
            from warehouse.lake import CommitMeta, Lake
            lake = Lake(os.environ["PRELOAD_TEST_LAKE"])
            publish_assets(lake, CommitMeta("pytest", "preload", "fleet"))  # a real Delta write in the child
            rows = duckdb.sql("SELECT 41 + 1").fetchall()[0][0]
            code = 0 if rows == 42 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"file": airflow_local_settings.__file__, "preloaded": sorted(airflow_local_settings.preloaded),
                      "parent_threads": parent_threads, "child_exit": os.waitstatus_to_exitcode(status),
                      "great_expectations": "great_expectations" in sys.modules,
                      "settings_log": airflow.settings.log.name}))
""")


@pytest.mark.airflow
@pytest.mark.slow
def test_scheduler_preloads_without_a_delta_runtime_and_a_forked_task_writes_delta(tmp_path):
    env = airflow_environ({**os.environ, "AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                           "PRELOAD_TEST_LAKE": str(tmp_path / "lake")})
    env.pop("NEXUS_AIRFLOW_PRELOAD", None)
    out = subprocess.run([sys.executable, "-c", SCHEDULER], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["file"] == str(LOCAL_SETTINGS_DIR / "airflow_local_settings.py")  # the one Airflow loaded
    assert set(nexus_settings.modules({})) <= set(got["preloaded"])  # every module imported cleanly
    assert not any(t.startswith("tokio") for t in got["parent_threads"]), got["parent_threads"]  # no Delta runtime
    assert got["child_exit"] == 0  # the forked child wrote a Delta table and queried DuckDB
    assert (tmp_path / "lake" / "gold" / "dim_assets" / "_delta_log").is_dir()
    assert got["great_expectations"] is ("great_expectations" in nexus_settings.PRELOAD)
    assert got["settings_log"] == "airflow.settings"  # nothing of ours was copied into Airflow's settings
