"""Fixtures of the service-backed end-to-end tests."""

from __future__ import annotations

import os
import uuid

import pytest

PG = {"host": os.environ.get("NEXUS_TEST_PG_HOST", "127.0.0.1"), "port": int(os.environ.get("NEXUS_TEST_PG_PORT", "5432")),
      "user": os.environ.get("NEXUS_TEST_PG_USER", "postgres")}


@pytest.fixture
def metadata_db():
    """A new, empty PostgreSQL database; dropped afterwards."""
    import psycopg2

    name = f"nexus_airflow_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture
def lake_env(copy_lake):
    """A private copy of the session's gold lake, set as the lake of the DAGs run in this process."""
    os.environ["NEXUS_LAKE_ROOT"] = copy_lake.root
    yield copy_lake
    os.environ.pop("NEXUS_LAKE_ROOT", None)
