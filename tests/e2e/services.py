"""Start and stop real Airflow components for end-to-end tests.

Each component runs in its own process group, so stopping it also stops the workers it forked;
nothing outlives the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from nexus.airflow_env import LOCAL_SETTINGS_DIR

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(driver, predicate, timeout: float = 30, what: str = "the page") -> None:
    """Poll a browser page (Selenium) until ``predicate(driver)`` holds; fail with the page's text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate(driver):
                return
        except Exception:  # the page re-renders while we look
            pass
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; page text: {driver.find_element('tag name', 'body').text[:1500]}")


def airflow_env(home: Path, lake: Path, landing: Path, **extra: str) -> dict[str, str]:
    """The environment of an isolated Airflow (own home, own port) over a temporary lake."""
    port = free_port()
    return {**os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # the log servers of workers and triggerers default to fixed ports (8793, 8794)
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "NEXUS_LAKE_ROOT": str(lake),
            "NEXUS_LANDING_DIR": str(landing),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            # the project's airflow_local_settings (the scheduler preloads the task libraries), as airflow_environ()
            "PYTHONPATH": os.pathsep.join(p for p in (str(LOCAL_SETTINGS_DIR), os.environ.get("PYTHONPATH")) if p),
            **extra}


def airflow(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run an airflow CLI command; retried while SQLite is locked by the running scheduler.

    A retry is not always a first try: an attempt that failed on the lock may have committed its
    work before the locked statement (seen in CI: ``backfill create`` retried, then refused with
    ``AlreadyRunningBackfill`` for the backfill its own first attempt had made). That refusal
    after a locked attempt means the command took effect.
    """
    locked = False
    for _ in range(5):
        out = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True)
        if locked and "AlreadyRunningBackfill" in out.stdout + out.stderr:
            return out
        if out.returncode == 0 or "database is locked" not in out.stdout + out.stderr:
            break
        locked = True
        time.sleep(2)
    if check and out.returncode:
        raise AssertionError(f"airflow {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return out


def stop_group(proc: subprocess.Popen, timeout: float = 45) -> None:
    """SIGTERM a process group, SIGKILL what outlives ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


class Services:
    """Running Airflow components and their logs."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.procs = env, logs, {}

    def start(self, name: str, args: Sequence[str]) -> None:
        with (self.logs / f"{name}.log").open("w") as fh:
            self.procs[name] = subprocess.Popen([AIRFLOW, *args], env=self.env, stdout=fh,
                                                stderr=subprocess.STDOUT, start_new_session=True)

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(self.logs.glob("*.log")))

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    pytest.fail(f"{name} exited ({proc.returncode}) while waiting for {what}:\n{self.tail()}")
            if predicate():
                return
            time.sleep(2)
        pytest.fail(f"timed out after {timeout} s waiting for {what}:\n{self.tail()}")

    def healthy(self, components: Sequence[str] = ("metadatabase", "scheduler", "dag_processor")) -> bool:
        try:
            url = f"{self.env['AIRFLOW__API__BASE_URL']}/api/v2/monitor/health"
            with urllib.request.urlopen(url, timeout=5) as r:
                body = json.load(r)
            return all(body[c]["status"] == "healthy" for c in components)
        except (OSError, ValueError, KeyError):
            return False

    def runs(self, dag_id: str) -> dict[str, str]:
        out = airflow(self.env, "dags", "list-runs", dag_id, "-o", "json", check=False)
        rows = next((json.loads(line) for line in out.stdout.splitlines() if line.startswith("[")), [])
        return {r["run_id"]: r["state"] for r in rows}

    def stop(self) -> None:
        for proc in self.procs.values():
            stop_group(proc)


@contextlib.contextmanager
def running(env: dict[str, str], logs: Path, components: dict[str, Sequence[str]]) -> Iterator[Services]:
    """Start ``components`` (name -> airflow arguments), wait until healthy and the DAGs parsed."""
    logs.mkdir(parents=True, exist_ok=True)
    services = Services(env, logs)
    try:
        for name, args in components.items():
            services.start(name, args)
        services.wait(services.healthy, 180, "a healthy api-server, scheduler and dag-processor")
        services.wait(lambda: airflow(env, "dags", "unpause", "ingest_sensor_data", check=False).returncode == 0,
                      120, "the DAG to be parsed and unpaused")
        yield services
    finally:
        services.stop()
