"""SQL on the lake through DuckDB.

:func:`connect` returns an in-process DuckDB connection in which every existing silver and gold
table of the registry is a view, ``silver.<table>`` and ``gold.<table>``. The views read a snapshot
of the Delta tables (the versions current when the connection was made) through pyarrow datasets,
so filters and projections push down and memory stays bounded.

The connection cannot change the lake: the tables are only reachable as Arrow scans, file system
access is switched off and the configuration is locked. Work tables you create live in memory.

Example:
    >>> from warehouse.sql import connect
    >>> con = connect()
    >>> con.sql("SELECT tag, avg(twa_value) FROM gold.fct_tag_hourly GROUP BY tag").show()
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from warehouse.lake import Lake
from warehouse.tables import REGISTRY

SERVED_LAYERS: tuple[str, ...] = ("silver", "gold")


def connect(lake: Lake | None = None, *, layers: Iterable[str] = SERVED_LAYERS) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake's tables as read-only views, in UTC."""
    lake = lake or Lake()
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    for layer in layers:
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{layer}"')
        for spec in REGISTRY.layer(layer):
            if not lake.exists(spec):
                continue
            hidden = f"_lake__{spec.layer}__{spec.table}"
            con.register(hidden, lake.dataset(spec))
            con.execute(f'CREATE VIEW "{spec.layer}"."{spec.table}" AS SELECT * FROM "{hidden}"')
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def list_views(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(schema, view) pairs of the lake tables served by ``con``."""
    rows = con.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal AND schema_name <> 'main' ORDER BY 1, 2"
    ).fetchall()
    return [(s, v) for s, v in rows]
