"""`nexus services up|status|down`: the host's Airflow components start healthy and stop without orphans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.services import free_port

pytestmark = [pytest.mark.airflow, pytest.mark.slow]
NEXUS = str(Path(sys.executable).with_name("nexus"))


def _group_members(pgids: set[int]) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pgid=,pid=,args="], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.split() and int(line.split()[0]) in pgids]


def test_up_status_down_leaves_no_process(tmp_path):
    port = free_port()
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__API__PORT": str(port),
           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
           "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
           "NEXUS_LAKE_ROOT": str(tmp_path / "lake"), "NEXUS_LANDING_DIR": str(tmp_path / "landing"),
           "NEXUS_CONSOLE_PORT": str(free_port()), "NEXUS_CONSOLE_HOME": str(tmp_path / "console")}
    env.pop("AIRFLOW__CORE__EXECUTOR", None)
    run = tmp_path / "airflow" / "run"
    try:
        up = subprocess.run([NEXUS, "services", "up"], env=env, capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        state = json.loads(up.stdout[: up.stdout.rindex("}") + 1])
        assert state == {c: "running" for c in ("api-server", "collector", "console", "dag-processor", "scheduler",
                                                "triggerer")}
        # the console answers behind its login, with the generated admin password ready
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{env['NEXUS_CONSOLE_PORT']}/login", timeout=5) as r:
                    assert r.status == 200 and b'name="password"' in r.read()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "airflow" / "logs" / "services" / "console.log").read_text()
                time.sleep(1)
        assert (tmp_path / "console" / "admin_password.generated").stat().st_mode & 0o077 == 0
        status = subprocess.run([NEXUS, "services", "status"], env=env, capture_output=True, text=True, check=True)
        assert json.loads(status.stdout) == state
        again = subprocess.run([NEXUS, "services", "up"], env=env, capture_output=True, text=True)
        assert again.returncode != 0 and "already running" in again.stderr
        for name in state:
            assert (tmp_path / "airflow" / "logs" / "services" / f"{name}.log").stat().st_size > 0, name
        pgids = {int(p.read_text()) for p in run.glob("*.pid")}
        assert _group_members(pgids), "the components should be running"
    finally:
        pgids = {int(p.read_text()) for p in run.glob("*.pid")} if run.is_dir() else set()
        down = subprocess.run([NEXUS, "services", "down"], env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0 and "scheduler" in down.stdout
    assert _group_members(pgids) == [], "processes outlived `nexus services down`"
    assert not list(run.glob("*.pid"))
