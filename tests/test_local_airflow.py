"""The local Airflow is for this machine only: the UI binds 127.0.0.1, the generated password file is 0600."""

from __future__ import annotations

import json
import os
import stat
import types

import pytest

from nexus import services
from nexus.airflow_env import airflow_environ
from nexus.cli import main


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def world_readable_umask():
    old = os.umask(0o022)  # the usual default: new files are 0644
    yield
    os.umask(old)


def test_local_api_server_binds_loopback():
    assert airflow_environ({})["AIRFLOW__API__HOST"] == "127.0.0.1"
    # production (docker/compose, a cluster) says where to listen, and that wins
    assert airflow_environ({"AIRFLOW__API__HOST": "0.0.0.0"})["AIRFLOW__API__HOST"] == "0.0.0.0"


def test_password_file_is_created_owner_only(tmp_path, world_readable_umask):
    path = services.protect_password_file({"AIRFLOW_HOME": str(tmp_path / "home")})
    assert path == tmp_path / "home" / "simple_auth_manager_passwords.json.generated"
    assert path.read_text() == "" and mode(path) == 0o600


def test_existing_password_file_is_tightened_and_kept(tmp_path, world_readable_umask):
    path = tmp_path / "simple_auth_manager_passwords.json.generated"
    path.write_text('{"admin": "s3cret"}\n')
    path.chmod(0o644)
    services.protect_password_file({"AIRFLOW_HOME": str(tmp_path)})
    assert mode(path) == 0o600 and json.loads(path.read_text()) == {"admin": "s3cret"}
    configured = tmp_path / "elsewhere" / "passwords.json"
    env = {"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(configured)}
    assert services.protect_password_file(env) == configured and mode(configured) == 0o600


def test_airflow_keeps_the_mode_when_it_writes_the_passwords(tmp_path, world_readable_umask):
    """Airflow's own writer (SimpleAuthManager.init) fills the file in place, so 0600 survives."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from airflow.configuration import conf

    path = services.protect_password_file({"AIRFLOW_HOME": str(tmp_path)})
    had = conf.has_option("core", "simple_auth_manager_passwords_file")
    old = conf.get("core", "simple_auth_manager_passwords_file", fallback=None)
    conf.set("core", "simple_auth_manager_passwords_file", str(path))
    try:
        SimpleAuthManager().init()
    finally:
        if had and old is not None:
            conf.set("core", "simple_auth_manager_passwords_file", old)
        else:
            conf.remove_option("core", "simple_auth_manager_passwords_file")
    assert "admin" in json.loads(path.read_text())  # the generated password is there ...
    assert mode(path) == 0o600  # ... and only its owner can read it


def test_nexus_airflow_standalone_prepares_the_file_and_the_host(tmp_path, monkeypatch, world_readable_umask):
    calls = []
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.delenv("AIRFLOW__API__HOST", raising=False)
    monkeypatch.setattr(os, "execve", lambda path, argv, env: calls.append((argv, env)))
    main(["airflow", "standalone"])
    (argv, env), = calls
    assert argv[1:] == ["standalone"] and env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert mode(tmp_path / "airflow" / "simple_auth_manager_passwords.json.generated") == 0o600


def test_services_up_prepares_the_file_before_starting(tmp_path, monkeypatch, world_readable_umask):
    env = airflow_environ({"AIRFLOW_HOME": str(tmp_path / "airflow"), "PATH": os.environ.get("PATH", "")})
    password_file = tmp_path / "airflow" / "simple_auth_manager_passwords.json.generated"
    started = []

    def popen(args, **kwargs):
        assert mode(password_file) == 0o600, "the file must exist owner-only before the api-server starts"
        started.append((args[1], kwargs["env"]["AIRFLOW__API__HOST"]))
        return types.SimpleNamespace(pid=2**22 + len(started))  # no such process: reported stopped

    monkeypatch.setattr(services.subprocess, "run", lambda *a, **k: types.SimpleNamespace(returncode=0))
    monkeypatch.setattr(services.subprocess, "Popen", popen)
    monkeypatch.setattr(services, "healthy", lambda env: True)
    services.up(env=env)
    assert ("api-server", "127.0.0.1") in started
