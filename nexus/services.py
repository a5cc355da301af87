"""Start, watch and stop the Airflow components of one host: ``nexus services up|status|down``.

For a host running Nexus without containers (the production shape on one machine, or a laptop
trying it): each component — api-server, scheduler, dag-processor, triggerer, with the
CeleryExecutor the workers, the live path's MQTT collector (``nexus collect``) and the operator
console (``nexus console`` on ``NEXUS_CONSOLE_PORT``, default 8050; its first start creates the
user ``admin`` with a generated password in ``<console home>/admin_password.generated``) — runs in its own process group, with its log in
``$AIRFLOW_HOME/logs/services/<name>.log`` and its process-group id in
``$AIRFLOW_HOME/run/<name>.pid``. ``down`` stops every group (SIGTERM, then SIGKILL after a
grace period), so no scheduler or task process outlives it.

The configuration is the environment's, as for every Nexus process: ``NEXUS_ENV``,
``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``, ``AIRFLOW__CORE__EXECUTOR``, ``AIRFLOW__CELERY__*``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nexus.airflow_env import airflow_environ
from nexus.settings import airflow_port_environ

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


@dataclass(frozen=True)
class Component:
    """One process group: ``program`` (a console script next to this Python) with ``args``."""

    name: str
    args: tuple[str, ...]
    program: str = "airflow"


def plan(env: dict[str, str], workers: int) -> list[Component]:
    """The components to run for this environment (workers only with the CeleryExecutor)."""
    port = airflow_port_environ(env)["AIRFLOW__API__PORT"]
    comps = [Component("api-server", ("api-server", "--port", port)), Component("scheduler", ("scheduler",)),
             Component("dag-processor", ("dag-processor",)), Component("triggerer", ("triggerer",))]
    if env.get("AIRFLOW__CORE__EXECUTOR", "") == "CeleryExecutor":
        comps += [Component(f"worker-{i}", ("celery", "worker", "--celery-hostname", f"nexus-worker-{i}@%h"))
                  for i in range(1, workers + 1)]
    # the live path's MQTT collector (etl.stream): one per lake, it waits for the broker if it is not up yet
    comps.append(Component("collector", ("collect",), program="nexus"))
    # the operator console (nexus.console): reads the lake, writes set points through the write-back
    comps.append(Component("console", ("console", "--port", env.get("NEXUS_CONSOLE_PORT", "8050")), program="nexus"))
    return comps


def password_file(env: Mapping[str, str]) -> Path:
    """Where Airflow's simple auth manager keeps the generated passwords (in plain text)."""
    configured = env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
    default = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    return Path(configured) if configured else default


def protect_password_file(env: Mapping[str, str]) -> Path:
    """Make the generated-password file readable by its owner only (0600), creating it empty if missing.

    Airflow writes the file with ``open(path, "a+")``: a new file gets the umask's mode (usually
    world-readable 0644), an existing one keeps its mode. So the file is created 0600 here before
    the api-server starts (and an older world-readable one is tightened); Airflow reads an empty
    file as no passwords yet and fills it in place.
    """
    path = password_file(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # never truncates existing passwords
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return path


def _dirs(env: dict[str, str]) -> tuple[Path, Path]:
    home = Path(env["AIRFLOW_HOME"])
    logs, run = home / "logs" / "services", home / "run"
    logs.mkdir(parents=True, exist_ok=True)
    run.mkdir(parents=True, exist_ok=True)
    return logs, run


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _pids(run: Path) -> dict[str, int]:
    out = {}
    for f in sorted(run.glob("*.pid")):
        with contextlib.suppress(ValueError):
            out[f.stem] = int(f.read_text().strip())
    return out


def status(env: dict[str, str] | None = None) -> dict[str, str]:
    """Component -> ``running`` / ``stopped`` (from the pid files and the process groups)."""
    env = env or airflow_environ()
    _, run = _dirs(env)
    return {name: ("running" if _alive(pgid) else "stopped") for name, pgid in _pids(run).items()}


def healthy(env: dict[str, str]) -> bool:
    url = f"{airflow_port_environ(env)['AIRFLOW__API__BASE_URL'].rstrip('/')}/api/v2/monitor/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        return all(body[c]["status"] == "healthy" for c in ("metadatabase", "scheduler", "dag_processor"))
    except (OSError, ValueError, KeyError):
        return False


def up(*, workers: int = 2, env: dict[str, str] | None = None, wait: float = 180.0) -> dict[str, str]:
    """Migrate the metadata database, start the components, wait until the api-server reports healthy."""
    env = env or airflow_environ()
    env.update(airflow_port_environ(env))  # the URLs and log-server ports follow AIRFLOW__API__PORT
    logs, run = _dirs(env)
    protect_password_file(env)
    running = [n for n, s in status(env).items() if s == "running"]
    if running:
        raise RuntimeError(f"already running: {running}; `nexus services down` first")
    airflow = str(Path(sys.executable).with_name("airflow"))
    migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True)
    if migrate.returncode:
        raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout[-2000:]}{migrate.stderr[-2000:]}")
    for comp in plan(env, workers):
        with (logs / f"{comp.name}.log").open("a") as fh:
            program = airflow if comp.program == "airflow" else str(Path(sys.executable).with_name(comp.program))
            proc = subprocess.Popen([program, *comp.args], env=env, stdout=fh, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        (run / f"{comp.name}.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if healthy(env):
            return status(env)
        stopped = [n for n, s in status(env).items() if s == "stopped"]
        if stopped:
            down(env=env)
            raise RuntimeError(f"{stopped} exited during start-up; see {logs}")
        time.sleep(2)
    down(env=env)
    raise RuntimeError(f"not healthy after {wait:.0f} s; see {logs}")


def down(*, env: dict[str, str] | None = None, grace: float = 45.0) -> list[str]:
    """Stop every component's process group; returns the names stopped."""
    env = env or airflow_environ()
    _, run = _dirs(env)
    pids = _pids(run)
    for pgid in pids.values():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in pids.values()):
        time.sleep(1)
    for pgid in pids.values():
        if _alive(pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
    for name in pids:
        (run / f"{name}.pid").unlink(missing_ok=True)
    return sorted(pids)
