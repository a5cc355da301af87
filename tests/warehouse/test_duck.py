"""The per-process scratch DuckDB database (warehouse.duck): isolation per cursor and fork safety."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pyarrow as pa

from warehouse.duck import scratch


def test_cursors_keep_their_views_and_temp_tables_to_themselves():
    with scratch() as one, scratch() as two:
        one.register("rows", pa.table({"x": [1, 2, 3]}))
        one.execute("CREATE TEMP TABLE t AS SELECT sum(x) AS s FROM rows")
        two.register("rows", pa.table({"x": [10]}))
        assert one.sql("SELECT s FROM t").fetchall() == [(6,)]
        assert two.sql("SELECT sum(x) FROM rows").fetchall() == [(10,)]
        assert two.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'").fetchall() == [(0,)]
        assert one.sql("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]


def test_a_forked_child_gets_its_own_database_and_exits_cleanly():
    """An inherited DuckDB database hangs or crashes a child that uses or frees it; the child must get a new one."""
    script = textwrap.dedent("""
        import os, sys
        from warehouse.duck import scratch
        with scratch() as c:
            assert c.sql("SELECT 42").fetchall() == [(42,)]
        statuses = []
        for use in (True, False):  # a child that queries, and one that only exits
            pid = os.fork()
            if pid == 0:
                if use:
                    with scratch() as c:
                        ok = c.sql("SELECT 1").fetchall() == [(1,)]
                    sys.exit(0 if ok else 3)
                sys.exit(0)
            statuses.append(os.waitpid(pid, 0)[1])
        with scratch() as c:
            assert c.sql("SELECT 7").fetchall() == [(7,)]
        print(statuses)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[0, 0]"
