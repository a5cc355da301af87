"""Scratch DuckDB connections for pipeline steps: one in-memory database per process, a cursor per use.

``duckdb.connect()`` costs about 20 ms of CPU (a new database each time), as much as the bare
DuckDB pass over a CSTR plant-day's files; a cursor on a database that already exists costs
about 10 µs. Pipeline steps that stage a batch in SQL (silver, the hourly and daily rollups)
take a cursor with :func:`scratch`: views they register and temporary tables they create are
the cursor's own and go with it.

The database runs one thread: a batch is small, and one thread over sorted input adds
floating-point sums in the same order on every run, so a rerun reproduces gold bit for bit.

Fork safety: a DuckDB database inherited through ``fork()`` must be neither used nor freed in
the child (either hangs or crashes it). So a process closes its scratch database just before it
forks (the next use in the parent makes a new one) and the child starts without one.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import duckdb

_lock = threading.Lock()
_db: duckdb.DuckDBPyConnection | None = None


def _database() -> duckdb.DuckDBPyConnection:
    global _db
    with _lock:
        if _db is None:
            _db = duckdb.connect(":memory:", config={"threads": 1})
        return _db


def _close_before_fork() -> None:
    global _db
    with _lock:
        db, _db = _db, None
    if db is not None:
        db.close()  # cursors still open in other threads keep the database alive until they close


def _reset_in_child() -> None:
    global _db, _lock
    _db, _lock = None, threading.Lock()  # (a lock another thread held at the fork would never be released)


os.register_at_fork(before=_close_before_fork, after_in_child=_reset_in_child)


@contextlib.contextmanager
def scratch() -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh cursor on the process's scratch database, in UTC, closed on exit."""
    cursor = _database().cursor()
    try:
        cursor.execute("SET TimeZone = 'UTC'")
        yield cursor
    finally:
        cursor.close()
