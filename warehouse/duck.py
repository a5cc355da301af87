"""Scratch DuckDB connections for pipeline steps: one in-memory database per process, a cursor per use.

``duckdb.connect()`` costs about 20 ms of CPU (a new database each time), as much as the bare
DuckDB pass over a CSTR plant-day's files; a cursor on a database that already exists costs
about 10 µs. Pipeline steps that stage a batch in SQL (silver, the hourly and daily rollups)
take a cursor with :func:`scratch`: views they register and temporary tables they create are
the cursor's own and go with it.

The database runs one thread: a batch is small, and one thread over sorted input adds
floating-point sums in the same order on every run, so a rerun reproduces gold bit for bit.
It is made again in a forked child (Airflow's workers fork after preloading this module),
which must not use its parent's DuckDB threads.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import duckdb

_lock = threading.Lock()
_db: tuple[int, duckdb.DuckDBPyConnection] | None = None


def _database() -> duckdb.DuckDBPyConnection:
    global _db
    with _lock:
        if _db is None or _db[0] != os.getpid():
            _db = (os.getpid(), duckdb.connect(":memory:", config={"threads": 1}))
        return _db[1]


@contextlib.contextmanager
def scratch() -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh cursor on the process's scratch database, in UTC, closed on exit."""
    cursor = _database().cursor()
    try:
        cursor.execute("SET TimeZone = 'UTC'")
        yield cursor
    finally:
        cursor.close()
