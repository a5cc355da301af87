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

SERVED_LAYERS: tuple[str, ...] = ("silver", "gold", "sim")

#: Derived SQL views over gold: name -> (description, tables it needs, SQL). Created when the tables exist.
VIEWS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "gold.v_scenario_comparison": (
        "Scenario against the base case per plant and day: expected profit and CO2e of the recommended setpoints, "
        "the setpoints themselves, and the day's accounted emissions (t CO2e, market-based) when they exist.",
        ("gold.fct_setpoint_recommendations",),
        """
        WITH rec AS (
            SELECT scenario_id, plant_id, recommendation_date AS day,
                   any_value(expected_profit_usd_h) AS profit_usd_h, any_value(expected_co2e_kg_h) AS co2e_kg_h,
                   any_value(model_version) AS model_version, any_value(carbon_price_usd_t) AS carbon_price_usd_t,
                   string_agg(setpoint || '=' || CAST(round(recommended_value, 4) AS VARCHAR), ', ' ORDER BY setpoint)
                       AS setpoints
            FROM gold.fct_setpoint_recommendations GROUP BY ALL),
        em AS (
            SELECT scenario_id, plant_id, emission_date AS day, total_market_tco2e
            FROM {emissions})
        SELECT s.scenario_id, s.plant_id, s.day,
               b.profit_usd_h AS base_profit_usd_h, s.profit_usd_h AS scenario_profit_usd_h,
               s.profit_usd_h - b.profit_usd_h AS delta_profit_usd_h,
               b.co2e_kg_h AS base_co2e_kg_h, s.co2e_kg_h AS scenario_co2e_kg_h,
               s.co2e_kg_h - b.co2e_kg_h AS delta_co2e_kg_h,
               b.carbon_price_usd_t AS base_carbon_price_usd_t, s.carbon_price_usd_t AS scenario_carbon_price_usd_t,
               b.setpoints AS base_setpoints, s.setpoints AS scenario_setpoints,
               eb.total_market_tco2e AS base_emissions_tco2e, es.total_market_tco2e AS scenario_emissions_tco2e,
               b.model_version AS base_model_version, s.model_version AS scenario_model_version
        FROM rec s
        LEFT JOIN rec b ON b.scenario_id = 'base' AND b.plant_id = s.plant_id AND b.day = s.day
        LEFT JOIN em es ON es.scenario_id = s.scenario_id AND es.plant_id = s.plant_id AND es.day = s.day
        LEFT JOIN em eb ON eb.scenario_id = 'base' AND eb.plant_id = s.plant_id AND eb.day = s.day
        WHERE s.scenario_id <> 'base'
        """,
    ),
}
_EMPTY_EMISSIONS = ("(SELECT NULL::VARCHAR AS scenario_id, NULL::VARCHAR AS plant_id, NULL::DATE AS emission_date, "
                    "NULL::DOUBLE AS total_market_tco2e WHERE false)")


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
    _create_views(con, lake)
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def _create_views(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    if "gold" not in [r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()]:
        return
    for name, (_, needs, sql) in VIEWS.items():
        if not all(lake.exists(REGISTRY.get(t)) for t in needs):
            continue
        emissions = ("gold.fct_emissions_summary_daily" if lake.exists(REGISTRY.get("gold.fct_emissions_summary_daily"))
                     else _EMPTY_EMISSIONS)
        schema, view = name.split(".")
        con.execute(f'CREATE VIEW "{schema}"."{view}" AS {sql.format(emissions=emissions)}')


def list_views(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(schema, view) pairs of the lake tables served by ``con``."""
    rows = con.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal AND schema_name <> 'main' ORDER BY 1, 2"
    ).fetchall()
    return [(s, v) for s, v in rows]
