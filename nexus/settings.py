"""Settings, chosen per environment by one variable.

``NEXUS_ENV`` picks the environment (``local`` — the embedded default, ``ci`` or ``prod``).
Paths come from the environment too, so the same code runs on a laptop, in CI and on a cluster
whose lake root is shared storage:

- ``NEXUS_LAKE_ROOT``: root of the Delta lake, a local folder (default ``<project>/lake``) or an
  S3 location ``s3://bucket/prefix`` shared by workers on several machines (credentials and
  endpoint from the standard ``AWS_*`` variables, see :mod:`warehouse.storage`).
- ``NEXUS_LANDING_DIR``: inbox where historian / vendor files are dropped
  (default ``<project>/landing``); a local folder or an ``s3://`` location too.
- ``NEXUS_STATE_DIR``: this machine's own working state, always a local folder (a plant edge's
  store-and-forward buffer, Great Expectations' working copy for a lake on S3). Default
  ``<lake root>/_state`` for a local lake; for one on S3 ``<project>/_state`` in a checkout, else
  ``$XDG_STATE_HOME/nexus`` (``~/.local/state/nexus``). Compose sets ``/data/state`` (its volume).
- ``NEXUS_REPORTING_CURRENCY``: ISO 4217 currency prices are converted to in silver
  (default ``USD``; ``EUR`` also works with the ECB reference rates).
- ``AIRFLOW__API__PORT``: the port of Airflow's api-server (UI and REST API, default 8080). The
  execution API URL tasks report to, the API's base URL and the worker and triggerer log-server
  ports follow it (:func:`airflow_port_environ`), so one variable moves a local Airflow.

No setting is read at import time; call :func:`get_settings` where a value is needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from nexus.errors import ConfigError

Environment = Literal["local", "ci", "prod"]
ENVIRONMENTS: tuple[str, ...] = ("local", "ci", "prod")


def project_root() -> Path:
    """The checkout the package runs from (editable install), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").exists() else Path.cwd()


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one process."""

    env: Environment
    lake_root: str    # an absolute local path or s3://bucket/prefix (warehouse.storage.normalize)
    landing_dir: str  # the same
    reporting_currency: str = "USD"
    state_dir: str = ""  # a local folder of this machine (get_settings fills it in)

    def __post_init__(self) -> None:
        if self.env not in ENVIRONMENTS:
            raise ConfigError(f"NEXUS_ENV must be one of {ENVIRONMENTS}, found {self.env!r}")
        if len(self.reporting_currency) != 3 or not self.reporting_currency.isupper():
            raise ConfigError(f"NEXUS_REPORTING_CURRENCY must be an ISO 4217 code like USD, found {self.reporting_currency!r}")


def _location(value: str | Path) -> str:
    """A local path resolved to an absolute one, or an object-store URI in its one spelling."""
    from warehouse.storage import is_remote, normalize

    location = normalize(value)  # also reads file:///path as /path
    return location if is_remote(location) else str(Path(location).resolve())


def get_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``environ`` (default: the process environment)."""
    from warehouse.storage import is_remote

    env = os.environ if environ is None else environ
    root = project_root()
    lake_root = _location(env.get("NEXUS_LAKE_ROOT") or root / "lake")
    state = env.get("NEXUS_STATE_DIR")
    if state and is_remote(_location(state)):
        raise ConfigError(f"NEXUS_STATE_DIR is this machine's own folder (SQLite buffers, working copies): "
                          f"a local path, found {state!r}")
    if not is_remote(lake_root):
        default_state = Path(lake_root) / "_state"
    elif root == Path(__file__).resolve().parents[1]:  # a checkout (editable install)
        default_state = root / "_state"
    else:  # an installed package: the working directory may be anyone's (/opt/nexus in the image)
        default_state = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "nexus"
    return Settings(
        env=env.get("NEXUS_ENV", "local"),  # type: ignore[arg-type]
        lake_root=lake_root,
        landing_dir=_location(env.get("NEXUS_LANDING_DIR") or root / "landing"),
        reporting_currency=env.get("NEXUS_REPORTING_CURRENCY", "USD"),
        state_dir=_location(state or default_state),
    )


DEFAULT_AIRFLOW_PORT = 8080
# Airflow's log servers default to 8793 (workers) and 8794 (triggerer): the api-server's port plus
# these offsets, so the default port keeps Airflow's defaults and another port moves them along.
WORKER_LOG_SERVER_OFFSET, TRIGGER_LOG_SERVER_OFFSET = 713, 714
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "::", "")


def airflow_port_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Airflow settings that must follow the api-server's port, resolved from ``environ``.

    ``AIRFLOW__API__PORT`` (default 8080) is the one setting; from it come the API's base URL
    (``AIRFLOW__API__BASE_URL``), the execution API URL tasks report to
    (``AIRFLOW__CORE__EXECUTION_API_SERVER_URL``; Airflow itself falls back to
    ``http://localhost:8080`` whatever the port) and the log-server ports of workers and the
    triggerer (port + 713 and + 714: 8793 and 8794 for 8080, Airflow's defaults). A value set
    explicitly is kept (a container's execution API lives on another host), but one that points
    at this machine on another port than the api-server's is refused: every task would fail with
    "connection refused".

    >>> airflow_port_environ({"AIRFLOW__API__PORT": "18080"})["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    'http://localhost:18080/execution/'
    """
    env = os.environ if environ is None else environ
    raw = env.get("AIRFLOW__API__PORT") or str(DEFAULT_AIRFLOW_PORT)
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 < port < 65536 - TRIGGER_LOG_SERVER_OFFSET:
        raise ConfigError(f"AIRFLOW__API__PORT must be a TCP port below {65536 - TRIGGER_LOG_SERVER_OFFSET}, "
                          f"found {raw!r}")
    host = env.get("AIRFLOW__API__HOST", "")
    url_host = "localhost" if host in ("", "0.0.0.0", "::") else host
    url_host = f"[{url_host}]" if ":" in url_host else url_host
    base_url = env.get("AIRFLOW__API__BASE_URL") or f"http://{url_host}:{port}"
    resolved = {
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
            env.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL") or f"{base_url.rstrip('/')}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT":
            env.get("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT") or str(port + WORKER_LOG_SERVER_OFFSET),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT":
            env.get("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT") or str(port + TRIGGER_LOG_SERVER_OFFSET),
    }
    for key in ("AIRFLOW__API__BASE_URL", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL"):
        url = urlsplit(resolved[key])
        try:
            url_port = url.port or (443 if url.scheme == "https" else 80)
        except ValueError:
            raise ConfigError(f"{key} is not a URL: {resolved[key]!r}") from None
        if (url.hostname or "") in _LOCAL_HOSTS and url_port != port:
            raise ConfigError(f"{key}={resolved[key]!r} points at port {url_port} of this machine, but the "
                              f"api-server listens on AIRFLOW__API__PORT={port}: set only AIRFLOW__API__PORT "
                              "and the URLs follow it")
    return resolved


def mqtt_broker(value: str | None = None, environ: Mapping[str, str] | None = None) -> tuple[str, int]:
    """``(host, port)`` of the live path's MQTT broker.

    From ``value`` (``mqtt://host:port`` or ``host:port``), else ``NEXUS_MQTT_URL``, else the
    broker every Nexus machine runs on ``127.0.0.1:1883``.

    Raises:
        ConfigError: anything else, with what was found.
    """
    env = os.environ if environ is None else environ
    text = value or env.get("NEXUS_MQTT_URL", "").strip() or "mqtt://127.0.0.1:1883"
    parts = urlsplit(text if "://" in text else f"mqtt://{text}")
    try:
        port = parts.port or 1883
    except ValueError:
        port = None
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname or port is None:
        raise ConfigError(f"MQTT broker must look like HOST:PORT or mqtt://host:port, found {text!r}")
    return parts.hostname, port
