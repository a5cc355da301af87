"""One port setting moves Airflow's UI, the execution API tasks report to and the log servers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from nexus.airflow_env import airflow_environ
from nexus.errors import ConfigError
from nexus.services import plan
from nexus.settings import airflow_port_environ

ROOT = Path(__file__).resolve().parents[1]
PORT_KEYS = ("AIRFLOW__API__PORT", "AIRFLOW__API__BASE_URL", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
             "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT")


def _clean() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in PORT_KEYS}


def test_every_url_and_port_follows_the_api_port():
    env = airflow_environ({**_clean(), "AIRFLOW__API__PORT": "18080"})
    base, execution = urlsplit(env["AIRFLOW__API__BASE_URL"]), urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert (base.hostname, base.port) == ("127.0.0.1", 18080)  # the host the api-server binds to
    assert (execution.hostname, execution.port, execution.path) == ("127.0.0.1", 18080, "/execution/")
    assert (env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"], env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]) == (
        "18793", "18794")
    api = next(c for c in plan(env, workers=0) if c.name == "api-server")
    assert api.args == ("api-server", "--port", "18080")


def test_the_default_port_keeps_airflows_defaults():
    env = airflow_environ(_clean())
    assert env["AIRFLOW__API__PORT"] == "8080"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8080/execution/"
    assert (env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"], env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]) == (
        "8793", "8794")


def test_an_explicit_remote_execution_api_is_kept():
    env = airflow_port_environ({"AIRFLOW__API__PORT": "8080",
                                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://api-server:8080/execution/"})
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://api-server:8080/execution/"


@pytest.mark.parametrize("key, value", [("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "http://localhost:8080/execution/"),
                                        ("AIRFLOW__API__BASE_URL", "http://127.0.0.1:8080")])
def test_a_local_url_on_another_port_is_refused(key, value):
    with pytest.raises(ConfigError, match="AIRFLOW__API__PORT=18080"):
        airflow_port_environ({"AIRFLOW__API__PORT": "18080", key: value})


def test_a_bad_port_is_refused():
    with pytest.raises(ConfigError, match="AIRFLOW__API__PORT"):
        airflow_port_environ({"AIRFLOW__API__PORT": "eighty"})


def test_make_airflow_prints_the_port_it_serves_on(tmp_path):
    """`make airflow` with stand-ins for the installed commands: the banner names the real port."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (fake / "nexus").write_text('#!/bin/sh\necho "ran: nexus $*"\n')
    for f in fake.iterdir():
        f.chmod(0o755)
    stamp = tmp_path / "stamp"
    stamp.touch()
    out = subprocess.run(["make", "-s", "--no-print-directory", "airflow", f"BIN={fake}", f"STAMP={stamp}",
                          f"PYNUMERO={stamp}"], cwd=ROOT, env={**_clean(), "AIRFLOW__API__PORT": "18080"},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Airflow UI: http://127.0.0.1:18080 " in out.stdout
    assert "ran: nexus airflow standalone" in out.stdout
