"""SQL on the lake through DuckDB, read-only.

:func:`connect` returns an in-process DuckDB connection in which every existing table of the served
layers is a view: ``raw.<table>`` (the file manifest), ``bronze.<table>``, ``silver.<table>``,
``gold.<table>`` (and ``sim.<table>``). The views read the Delta tables through pyarrow datasets, so
filters and projections push down (partition values and per-file min/max statistics prune files
before any is opened) and memory stays bounded.

Lazy, so connecting costs about what opening DuckDB does, whatever the lake's size: :func:`connect`
only lists which tables exist (one directory listing per layer on a local lake); no Delta log is
read and no view is made. A query that names a table gets its view (with the table's declared
columns); a query that reads the catalog (``SHOW``, ``DESCRIBE``, ``duckdb_views()``,
``information_schema``, …) or may reach a table unnamed (``query_table``) gets every table's view
first. A table is opened (its Delta log read) the first time a query names it
(``<layer>.<table>`` in the SQL text), and that version stays the connection's snapshot of the
table from then on. On that first use the query reads only the files its filters on the table can
match (deltalake prunes them by partition values and min/max statistics); later queries read the
snapshot's full dataset (:func:`snapshot_dataset`), whose files carry their partition values and
time range, so DuckDB's filters prune it too. A table that a query reaches
without naming it (``query_table('gold.x')``) is read in full on first use, then opened as above.
A table created after the connection was made is served from the first query that names it.

The connection only answers queries:

- Every SQL text is parsed first (DuckDB's ``extract_statements``) and refused with
  :class:`StatementNotAllowed` unless each statement is a query: ``SELECT`` / ``WITH … SELECT`` /
  ``FROM …`` / ``VALUES``, ``DESCRIBE``, ``SHOW``, ``SUMMARIZE``, ``PIVOT`` with an ``IN`` list,
  ``EXPLAIN [ANALYZE]`` of a query, or a catalog ``PRAGMA`` such as ``table_info``. ``CREATE``,
  ``INSERT``, ``COPY``, ``ATTACH``, ``INSTALL`` / ``LOAD``, ``SET`` and the rest are refused, even
  in memory and even as the second statement of a batch.
- Under that gate DuckDB itself is locked down: file system access is off
  (``enable_external_access = false``) with no allowed directories or paths, no temporary directory
  (so nothing can be written to or read back from one; a query that outgrows the memory limit fails
  instead of spilling), no extension auto-install, a memory limit (``memory_limit`` argument,
  ``$NEXUS_SQL_MEMORY_LIMIT``, default :data:`DEFAULT_MEMORY_LIMIT`), and the configuration is locked.

The Python relation API (``con.sql(...).create(...)`` and the like) is not parsed SQL and is the
caller's responsibility; it still cannot reach files or the lake.

Example:
    >>> from warehouse.sql import connect
    >>> con = connect()
    >>> con.sql("SELECT tag, avg(twa_value) FROM gold.fct_tag_hourly GROUP BY tag").show()
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from warehouse.lake import Lake
from warehouse.registry import TableSpec
from warehouse.tables import REGISTRY

log = logging.getLogger(__name__)

SERVED_LAYERS: tuple[str, ...] = ("raw", "bronze", "silver", "gold", "sim")
#: DuckDB memory limit of a connection unless ``memory_limit`` or ``$NEXUS_SQL_MEMORY_LIMIT`` says otherwise.
DEFAULT_MEMORY_LIMIT = "4GB"

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
    "gold.v_benefit_targets": (
        "Each benefit the origin documents promise (gold.dim_benefit_targets) against what the counterfactual "
        "replays achieve (gold.fct_benefits_daily), per scenario, plant instance and decision policy over every "
        "replayed day: the change against the baseline (ratio of the period's totals), its one-sigma uncertainty "
        "from the calibration (the mean of the daily sigmas: the same parameters err alike every day), and whether "
        "the target is met (met_2sigma: met with the uncertainty taken against it).",
        ("gold.fct_benefits_daily", "gold.dim_benefit_targets"),
        """
        WITH b AS (SELECT * FROM gold.fct_benefits_daily),
        agg AS (
            SELECT p.scenario_id, p.plant_id, p.plant_type, p.policy, count(*) AS days,
                   min(p.benefit_date) AS first_day, max(p.benefit_date) AS last_day,
                   sum(p.hours_replayed) AS hours_replayed,
                   sum(p.profit_usd) AS profit, sum(q.profit_usd) AS base_profit,
                   sum(p.product_amount) AS product, sum(q.product_amount) AS base_product,
                   sum(p.energy_gj) AS energy, sum(q.energy_gj) AS base_energy,
                   sum(p.energy_cost_usd) AS energy_cost, sum(q.energy_cost_usd) AS base_energy_cost,
                   sum(p.waste_amount) AS waste, sum(q.waste_amount) AS base_waste,
                   sum(p.co2e_t) AS co2e, sum(q.co2e_t) AS base_co2e,
                   avg(p.delta_profit_pct_sd) AS sd_profit, avg(p.delta_specific_energy_pct_sd) AS sd_specific_energy,
                   avg(p.delta_energy_cost_per_unit_pct_sd) AS sd_energy_cost_per_unit,
                   avg(p.delta_waste_per_unit_pct_sd) AS sd_waste_per_unit, avg(p.delta_co2e_pct_sd) AS sd_co2e,
                   avg(p.delta_co2e_per_unit_pct_sd) AS sd_co2e_per_unit,
                   bool_and(coalesce(q.reproduces, false)) AS baseline_reproduces
            FROM b p JOIN b q ON q.policy = 'baseline' AND q.scenario_id = p.scenario_id AND q.plant_id = p.plant_id
                             AND q.benefit_date = p.benefit_date
            WHERE p.policy <> 'baseline'
            GROUP BY ALL),
        k AS (
            SELECT a.*, t.kpi, t.target_pct, t.target_stretch_pct, t.source,
                   -- change against the baseline, per cent of its magnitude (a negative baseline, e.g. the
                   -- energy cost of a plant that exports power, keeps the sign of the change)
                   CASE t.kpi
                       WHEN 'profit' THEN 100 * (a.profit - a.base_profit) / nullif(abs(a.base_profit), 0)
                       WHEN 'specific_energy' THEN 100 * (a.energy / nullif(a.product, 0) - a.base_energy
                           / nullif(a.base_product, 0)) / nullif(abs(a.base_energy / nullif(a.base_product, 0)), 0)
                       WHEN 'energy_cost_per_unit' THEN 100 * (a.energy_cost / nullif(a.product, 0) - a.base_energy_cost
                           / nullif(a.base_product, 0)) / nullif(abs(a.base_energy_cost / nullif(a.base_product, 0)), 0)
                       WHEN 'waste_per_unit' THEN 100 * (a.waste / nullif(a.product, 0) - a.base_waste
                           / nullif(a.base_product, 0)) / nullif(abs(a.base_waste / nullif(a.base_product, 0)), 0)
                       WHEN 'co2e' THEN 100 * (a.co2e - a.base_co2e) / nullif(abs(a.base_co2e), 0)
                       WHEN 'co2e_per_unit' THEN 100 * (a.co2e / nullif(a.product, 0) - a.base_co2e
                           / nullif(a.base_product, 0)) / nullif(abs(a.base_co2e / nullif(a.base_product, 0)), 0)
                   END AS achieved_pct,
                   CASE t.kpi WHEN 'profit' THEN a.sd_profit WHEN 'specific_energy' THEN a.sd_specific_energy
                              WHEN 'energy_cost_per_unit' THEN a.sd_energy_cost_per_unit
                              WHEN 'waste_per_unit' THEN a.sd_waste_per_unit WHEN 'co2e' THEN a.sd_co2e
                              WHEN 'co2e_per_unit' THEN a.sd_co2e_per_unit END AS achieved_sd_pct
            FROM agg a JOIN gold.dim_benefit_targets t ON t.plant_type = a.plant_type)
        SELECT scenario_id, plant_id, plant_type, policy, kpi, target_pct, target_stretch_pct, achieved_pct,
               achieved_sd_pct,
               CASE WHEN achieved_pct IS NULL THEN NULL
                    WHEN target_pct >= 0 THEN achieved_pct >= target_pct ELSE achieved_pct <= target_pct END AS met,
               CASE WHEN achieved_pct IS NULL THEN NULL
                    WHEN target_pct >= 0 THEN achieved_pct - 2 * coalesce(achieved_sd_pct, 0) >= target_pct
                    ELSE achieved_pct + 2 * coalesce(achieved_sd_pct, 0) <= target_pct END AS met_2sigma,
               days, first_day, last_day, hours_replayed, baseline_reproduces, source
        FROM k
        """,
    ),
}
_EMPTY_EMISSIONS = ("(SELECT NULL::VARCHAR AS scenario_id, NULL::VARCHAR AS plant_id, NULL::DATE AS emission_date, "
                    "NULL::DOUBLE AS total_market_tco2e WHERE false)")


class StatementNotAllowed(duckdb.PermissionException):
    """A SQL text holds a statement that is not a query (the connection is read-only)."""


#: Catalog PRAGMAs that only read (``PRAGMA name`` or ``PRAGMA name(args)``).
READ_PRAGMAS = frozenset({
    "table_info", "show", "show_tables", "show_tables_expanded", "show_databases", "database_list",
    "database_size", "storage_info", "metadata_info", "version", "platform", "functions", "collations",
    "user_agent",
})
ALLOWED = ("SELECT / WITH … SELECT / FROM / VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN [ANALYZE] of a query, "
           f"PRAGMA {' / '.join(sorted(READ_PRAGMAS))}")
_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)
_PRAGMA = re.compile(r"PRAGMA\s+(\w+)\s*(?:\(.*\))?\s*;?\s*\Z", re.S | re.I)
_KIND_NAMES = {"LOAD": "INSTALL / LOAD", "SET": "SET / RESET / USE", "TRANSACTION": "BEGIN / COMMIT / ROLLBACK"}
_EXPLAIN = re.compile(r"EXPLAIN\s*(?:\([^)]*\))?\s*(?:ANALY[SZ]E\b)?", re.I)


def check_read_only(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Raise :class:`StatementNotAllowed` unless every statement of ``query`` is a query.

    Parses with DuckDB's own parser (a syntax error raises ``duckdb.ParserException``).
    """
    statements = con.extract_statements(query)
    for i, st in enumerate(statements, start=1):
        reason = _refusal(con, st)
        if reason:
            text = " ".join(_COMMENTS.sub("", st.query).split())
            where = f" (statement {i} of {len(statements)})" if len(statements) > 1 else ""
            raise StatementNotAllowed(
                f"read-only connection: {reason}{where}: {text[:80] + ('…' if len(text) > 80 else '')!r}; "
                f"allowed are queries only: {ALLOWED}")


def _refusal(con: duckdb.DuckDBPyConnection, st: Any) -> str | None:
    """Why the parsed statement ``st`` is refused, or None when it only reads."""
    kind = st.type
    text = _COMMENTS.sub("", st.query)
    if kind == duckdb.StatementType.SELECT:
        return None
    if kind == duckdb.StatementType.PRAGMA:
        m = _PRAGMA.match(text)
        if m and m.group(1).lower() in READ_PRAGMAS:
            return None
        return "PRAGMA that is not a catalog read"
    if kind == duckdb.StatementType.EXPLAIN:
        m = _EXPLAIN.match(text)
        try:  # EXPLAIN ANALYZE runs its statement, so the statement must itself be a query
            inner = con.extract_statements(text[m.end():]) if m else []
        except duckdb.Error:
            inner = []
        if len(inner) == 1 and inner[0].type == duckdb.StatementType.SELECT:
            return None
        return "EXPLAIN of a statement that is not a query"
    if kind == duckdb.StatementType.MULTI:
        return "statement that creates objects (a PIVOT needs an explicit IN list here)"
    return f"{_KIND_NAMES.get(kind.name, kind.name)} statement"


class ReadOnlyConnection:
    """A DuckDB connection that runs queries only (see the module docstring).

    ``sql`` / ``query`` return DuckDB relations; ``execute`` returns this object, whose ``fetch*``,
    ``df`` and ``description`` read the result as on a DuckDB connection.
    """

    _RESULT = frozenset({
        "fetchall", "fetchone", "fetchmany", "fetchdf", "fetch_df", "df", "pl", "fetchnumpy", "fetch_arrow_table",
        "fetch_record_batch", "fetch_df_chunk", "arrow", "description", "rowcount", "table", "view", "interrupt",
    })

    def __init__(self, con: duckdb.DuckDBPyConnection, tables: LakeTables | None = None) -> None:
        self._con = con
        self._tables = tables

    def _new_statement(self) -> None:
        """Close the previous ``execute()`` result, as a new statement on a plain DuckDB connection does.

        DuckDB 2 refuses ``register`` (how a table's view is made on first use) while a result is
        unfinished, e.g. after ``fetchone()`` of a one-row result, and the next ``execute`` would
        discard that result anyway.
        """
        abort = getattr(self._con, "abort", None)  # DuckDB >= 2
        if abort is not None:
            abort()

    def sql(self, query: str, *, params: object = None) -> duckdb.DuckDBPyRelation | None:
        check_read_only(self._con, query)
        if self._tables is not None:
            self._new_statement()
            query = self._tables.prepare(query)
            check_read_only(self._con, query)  # the rewritten text passes the same gate
        return self._con.sql(query, params=params)

    query = sql

    def execute(self, query: str, parameters: object = None) -> ReadOnlyConnection:
        check_read_only(self._con, query)
        if self._tables is not None:
            self._new_statement()
            query = self._tables.prepare(query)
            check_read_only(self._con, query)  # the rewritten text passes the same gate
        self._con.execute(query, parameters)
        return self

    def extract_statements(self, query: str) -> list[Any]:
        return self._con.extract_statements(query)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> ReadOnlyConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        if name in self._RESULT:
            return getattr(self._con, name)
        raise AttributeError(f"{name!r} is not available on a read-only lake connection")


def connect(lake: Lake | None = None, *, layers: Iterable[str] = SERVED_LAYERS,
            memory_limit: str | None = None) -> ReadOnlyConnection:
    """A read-only DuckDB connection with the lake's tables as views, in UTC.

    Lazy (see the module docstring): connecting reads no Delta log, whatever the lake's size; each
    table is opened on the first query that names it and keeps that version for the connection.

    Args:
        lake: the lake to serve (default: the settings' lake root).
        layers: schemas to serve; each existing table of the layer is a view ``<layer>.<table>``.
        memory_limit: DuckDB ``memory_limit`` such as ``"2GB"`` (default ``$NEXUS_SQL_MEMORY_LIMIT``,
            else :data:`DEFAULT_MEMORY_LIMIT`).
    """
    lake = lake or Lake()
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    tables = LakeTables(lake, con, layers)
    for layer in tables.layers:
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{layer}"')
    tables.existing = {spec.name for spec in existing_tables(lake, tables.layers)}
    _lock_down(con, memory_limit or os.environ.get("NEXUS_SQL_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT)
    return ReadOnlyConnection(con, tables)


def existing_tables(lake: Lake, layers: Iterable[str] = SERVED_LAYERS) -> list[TableSpec]:
    """The registry's tables of ``layers`` that exist in ``lake``.

    On a local lake one directory listing per layer (a table exists when its ``_delta_log`` holds a
    commit or checkpoint), so the cost does not grow with the tables' history; on an object store
    one listing per layer, then each table found there is asked (``Lake.exists``).
    """
    specs = [s for layer in layers for s in REGISTRY.layer(layer)]
    if lake.remote:
        listed = {layer: set(lake.files.folders(layer)) for layer in {s.layer for s in specs}}
        return [s for s in specs if s.table in listed[s.layer] and lake.exists(s)]
    found: dict[str, set[str]] = {}
    for layer in {s.layer for s in specs}:
        try:
            with os.scandir(Path(lake.root, layer)) as entries:
                found[layer] = {e.name for e in entries if e.is_dir()}
        except (FileNotFoundError, NotADirectoryError):
            found[layer] = set()
    return [s for s in specs if s.table in found[s.layer] and _has_commit(Path(lake.path(s), "_delta_log"))]


def _has_commit(log: Path) -> bool:
    try:
        with os.scandir(log) as entries:
            return any(e.name.endswith((".json", ".checkpoint.parquet")) or e.name == "_last_checkpoint"
                       for e in entries)
    except (FileNotFoundError, NotADirectoryError):
        return False


#: Words of a SQL text that reads the catalog (or a table without naming it): every table is served first.
_CATALOG = re.compile(r"\b(show|describe|summarize|pragma|duckdb_\w+|information_schema|pg_catalog|sqlite_master|"
                      r"query_table|query)\b", re.I)

#: ``<layer>.<table>`` (optionally quoted) or a hidden ``_lake__<layer>__<table>`` name in a SQL text.
_NAMED = re.compile(r'(?<![\w"])"?(raw|bronze|silver|gold|sim)"?\s*\.\s*"?([A-Za-z_]\w*)"?|\b_lake__([a-z]+)__(\w+)',
                    re.I)


def named_tables(query: str) -> set[str]:
    """``<layer>.<table>`` names a SQL text mentions (a superset: a name inside a string counts too)."""
    out = set()
    for m in _NAMED.finditer(query):
        layer, table = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        out.add(f"{layer.lower()}.{table.lower()}")
    return out


#: Delta statistics keep timestamps to the millisecond: widen a file's [min, max] by that much.
_STATS_SLACK = dt.timedelta(milliseconds=1)


def snapshot_dataset(lake: Lake, spec: TableSpec, table: Any) -> ds.Dataset:
    """Every data file of the Delta snapshot ``table`` as a pyarrow dataset, built from its add actions.

    Each file carries its partition values and the min/max of the table's ``interval_column`` as
    its fragment expression, so DuckDB's filters on those prune files without opening them.
    deltalake's own ``to_pyarrow_dataset`` puts every column's statistics there, which costs about
    a millisecond per file to build (seconds on a big table) and slows every scan's pruning; this
    costs a few milliseconds for hundreds of files. Files are read with Arrow's native file system,
    local or S3 (:meth:`Lake.table_filesystem`). Tables with reader features (deletion vectors,
    column mapping) are read through deltalake's dataset instead.
    """
    if table.protocol().reader_features:
        return lake._arrow_dataset(spec, table)
    schema = pa.schema([pa.field(f.name, f.type) for f in spec.schema])
    actions = pa.table(table.get_add_actions(flatten=True))
    exprs: list[Any] = [None] * actions.num_rows

    def both(i: int, term: Any) -> None:
        exprs[i] = term if exprs[i] is None else exprs[i] & term

    for col in spec.partition_by:
        values = actions.column(f"partition.{col}").cast(schema.field(col).type).to_pylist()
        for i, v in enumerate(values):
            both(i, pc.field(col).is_null() if v is None else pc.field(col) == pa.scalar(v, schema.field(col).type))
    col = spec.interval_column
    if col and f"min.{col}" in actions.column_names and f"max.{col}" in actions.column_names:
        kind = schema.field(col).type
        slack = _STATS_SLACK if pa.types.is_timestamp(kind) else dt.timedelta(0)
        for i, (lo, hi) in enumerate(zip(actions.column(f"min.{col}").to_pylist(),
                                         actions.column(f"max.{col}").to_pylist())):
            if lo is not None and hi is not None:
                both(i, (pc.field(col) >= pa.scalar(lo - slack, kind)) & (pc.field(col) <= pa.scalar(hi + slack, kind)))
    paths = [unquote(p) for p in actions.column("path").to_pylist()]
    return ds.FileSystemDataset.from_paths(
        paths, schema=schema, format=ds.ParquetFileFormat(),
        filesystem=lake.table_filesystem(spec),
        partitions=[e if e is not None else pc.scalar(True) for e in exprs])


class LakeTables:
    """The lake tables of one connection, opened on first use.

    A served table starts as a view over a one-shot reader that opens the table when scanned (so
    nothing is read at connect, and a query never silently sees an unopened table); :meth:`prepare`
    swaps in the table's pyarrow dataset before a query that names it runs, so DuckDB's filters and
    projections push down into it (partitions and per-file min/max statistics prune files).
    """

    def __init__(self, lake: Lake, con: duckdb.DuckDBPyConnection, layers: Iterable[str]) -> None:
        self.lake, self.con = lake, con
        self.layers = tuple(dict.fromkeys(layers))
        self.existing: set[str] = set()         # tables found at connect
        self.served: set[str] = set()           # tables with a view
        self.derived: set[str] = set()          # VIEWS created
        self._datasets: dict[str, ds.Dataset] = {}  # opened tables (the connection's snapshot)
        self._registered: set[str] = set()      # views reading their dataset (not the one-shot reader)
        self._spent: set[str] = set()           # one-shot readers a query consumed: open before the next
        self._tables: dict[str, Any] = {}       # opened Delta snapshots
        self._uses: dict[str, int] = {}         # queries that named each table
        self._n = 0

    @staticmethod
    def hidden(spec: TableSpec) -> str:
        return f"_lake__{spec.layer}__{spec.table}"

    def serve(self, spec: TableSpec) -> None:
        """Create the view ``<layer>.<table>`` over a reader that opens the table when first scanned."""
        self.con.register(self.hidden(spec), self._reader(spec))
        self.con.execute(f'CREATE VIEW "{spec.layer}"."{spec.table}" AS SELECT * FROM "{self.hidden(spec)}"')
        self.served.add(spec.name)

    def _serve(self, specs: Iterable[TableSpec | str]) -> bool:
        """Give each table (or derived view name) that exists a view; True if all of them have one."""
        ok = True
        for spec in specs:
            if isinstance(spec, str):  # a derived view of VIEWS
                ok = self._derive(spec) and ok
                continue
            if spec.name in self.served:
                continue
            if spec.name not in self.existing and not self.lake.exists(spec):  # created after the connection?
                ok = False
                continue
            try:
                self.serve(spec)
            except duckdb.Error:  # a result still being read holds the connection
                ok = False
        return ok

    def _derive(self, name: str) -> bool:
        if name in self.derived:
            return True
        _, needs, sql = VIEWS[name]
        emissions = "gold.fct_emissions_summary_daily"
        if not self._serve([REGISTRY.get(t) for t in needs]):
            return False
        if not self._serve([REGISTRY.get(emissions)]):
            emissions = _EMPTY_EMISSIONS
        schema, view = name.split(".")
        self.con.execute(f'CREATE VIEW "{schema}"."{view}" AS {sql.format(emissions=emissions)}')
        self.derived.add(name)
        return True

    def dataset(self, spec: TableSpec) -> ds.Dataset:
        """The table's pyarrow dataset, opened once per connection (every file of the snapshot)."""
        if spec.name not in self._datasets:
            self._datasets[spec.name] = snapshot_dataset(self.lake, spec, self.table(spec))
        return self._datasets[spec.name]

    def _reader(self, spec: TableSpec) -> pa.RecordBatchReader:
        schema = pa.schema([pa.field(f.name, f.type) for f in spec.schema])

        def batches() -> Iterator[pa.RecordBatch]:
            self._spent.add(spec.name)
            for batch in self.dataset(spec).to_batches():
                yield batch.cast(schema)

        return pa.RecordBatchReader.from_batches(schema, batches())

    def table(self, spec: TableSpec) -> Any:
        """The table's Delta snapshot for this connection (opened once: its version stays)."""
        if spec.name not in self._tables:
            self._tables[spec.name] = self.lake._open(spec)
            self.lake._remember_read(spec, self._tables[spec.name].version())
        return self._tables[spec.name]

    def prepare(self, query: str) -> str:
        """Open the tables ``query`` names (and those a previous query reached unnamed) before it runs.

        Returns the query to run: on a table's first use in the connection, a table named once
        with simple filters in its own ``WHERE`` (``column <op> constant``, ``column IN (…)``; a
        constant under a cast that may change its value prunes nothing) and no column aliases or
        ``TABLESAMPLE`` is
        read through a dataset of just the files those filters can match (deltalake file pruning
        by partition values and min/max statistics), registered under a name of its own that
        replaces the table's name in the query text. Later uses read the whole snapshot's
        dataset, which DuckDB prunes itself. Anything else runs the query as written.
        """
        names = named_tables(query) | self._spent
        if _CATALOG.search(query):  # the catalog or an unnamed reach: every table gets its view (not opened)
            self._serve([REGISTRY.get(n) for n in sorted(self.existing - self.served)]
                        + (sorted(VIEWS) if "gold" in self.layers else []))
        for view, (_, needs, _) in VIEWS.items():
            if view in names and "gold" in self.layers:
                names |= set(needs) | {"gold.fct_emissions_summary_daily"}
                self._serve([view])
        todo = [REGISTRY.get(n) for n in sorted(names - self._registered)
                if n in REGISTRY and REGISTRY.get(n).layer in self.layers]
        todo = [spec for spec in todo if self._serve([spec])]
        refs = _base_tables(self.con, query) if any(self._uses.get(s.name, 0) == 0 for s in todo) else {}
        edits: list[tuple[int, int, str]] = []
        for spec in todo:
            first = self._uses.get(spec.name, 0) == 0
            self._uses[spec.name] = self._uses.get(spec.name, 0) + 1
            ref = refs.get(spec.name) if first and spec.name not in self._spent else None
            terms = _prune_terms(spec, ref) if ref else []
            if terms and ref:
                try:
                    pruned = self.lake._arrow_dataset(spec, self.table(spec), terms)
                    self._n += 1
                    own = f"_lake_q{self._n}__{spec.layer}__{spec.table}"
                    self.con.register(own, pruned)
                    alias = (ref["alias"] or spec.table).replace('"', '""')
                    edits.append((ref["start"], ref["length"], f'"{own}" AS "{alias}"'))
                    continue
                except Exception as exc:  # noqa: BLE001 - any trouble with the shortcut: read the snapshot
                    log.debug("no file pruning for %s (%s); reading its snapshot", spec.name, exc)
            try:
                self.con.register(self.hidden(spec), self.dataset(spec))
            except duckdb.Error:  # a result still being read holds the connection: keep the reader
                continue
            self._registered.add(spec.name)
            self._spent.discard(spec.name)
        for at, length, text in sorted(edits, reverse=True):
            query = query[:at] + text + query[at + length:]
        return query


_OPS = {"COMPARE_EQUAL": "=", "COMPARE_GREATERTHAN": ">", "COMPARE_GREATERTHANOREQUALTO": ">=",
        "COMPARE_LESSTHAN": "<", "COMPARE_LESSTHANOREQUALTO": "<="}
_FLIPPED = {"=": "=", ">": "<", ">=": "<=", "<": ">", "<=": ">="}


def _base_tables(con: duckdb.DuckDBPyConnection, query: str) -> dict[str, dict[str, Any]]:
    """Lake tables read once, straight from a ``SELECT``'s ``FROM``, in a one-statement query:
    name -> where the reference is in the text (``start``, ``length``, ``alias``) and that
    ``SELECT``'s ``where`` clause (DuckDB's parse tree, ``json_serialize_sql``)."""
    if not query.isascii():  # the parser's locations are byte offsets
        return {}
    try:
        with con.cursor() as cur:  # its own connection: a result being read on ``con`` stays intact
            tree = json.loads(cur.execute("SELECT json_serialize_sql(?)", [query]).fetchone()[0])
    except (duckdb.Error, TypeError, ValueError):
        return {}
    if tree.get("error") or len(tree.get("statements", [])) != 1:
        return {}
    seen: dict[str, int] = {}
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        if node.get("type") == "BASE_TABLE" and node.get("schema_name"):
            name = f"{node['schema_name'].lower()}.{node['table_name'].lower()}"
            seen[name] = seen.get(name, 0) + 1
        frm = node.get("from_table")
        if node.get("type") == "SELECT_NODE" and isinstance(frm, dict) and frm.get("type") == "BASE_TABLE" \
                and frm.get("schema_name") and not frm.get("catalog_name") and not frm.get("at_clause") \
                and not frm.get("column_name_alias") and not frm.get("sample"):
            # (column aliases rename columns, so the WHERE's names are not the table's; a sample is
            # drawn from the whole table before the WHERE: both stay as written, unpruned)
            start, length = frm.get("query_location"), frm.get("query_location_length")
            text = query[start:start + length] if isinstance(start, int) and isinstance(length, int) else ""
            name = f"{frm['schema_name'].lower()}.{frm['table_name'].lower()}"
            if text and _NAMED.match(text) and named_tables(text) == {name}:
                found[name] = {"start": start, "length": length, "alias": frm.get("alias") or "",
                               "where": node.get("where_clause")}
        for value in node.values():
            walk(value)

    walk(tree["statements"])
    return {name: ref for name, ref in found.items() if seen.get(name) == 1}


def _conjuncts(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "CONJUNCTION_AND":
            for child in node.get("children", []):
                yield from _conjuncts(child)
        else:
            yield node


def _column(node: Any, spec: TableSpec, alias: str) -> str | None:
    if not isinstance(node, dict) or node.get("class") != "COLUMN_REF":
        return None
    parts = [p.lower() for p in node.get("column_names", [])]
    if len(parts) == 2 and parts[0] == (alias or spec.table).lower():
        parts = parts[1:]
    return parts[0] if len(parts) == 1 and parts[0] in spec.column_names else None


#: Casts of a constant that keep its value for a column of each kind (DuckDB type names as written,
#: upper-cased). Any other cast (``'… 12:00'::DATE``, ``9.6::INTEGER``, ``TIMESTAMP_S``, a type with
#: modifiers such as ``DECIMAL(4, 0)``) may change the value, so its comparison prunes nothing.
_KEEPING_CASTS = {
    "string": {"VARCHAR", "TEXT", "STRING"},
    "timestamp": {"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP", "DATETIME", "DATE"},
    "date": {"DATE"},
    "integer": {"TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "INT1", "INT2", "INT4", "INT8",
                "SHORT", "LONG", "SIGNED", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"},
    "floating": {"DOUBLE", "FLOAT8"},
}


def _kind(t: pa.DataType) -> str | None:
    return next((k for k, test in (("string", pa.types.is_string), ("timestamp", pa.types.is_timestamp),
                                   ("date", pa.types.is_date), ("integer", pa.types.is_integer),
                                   ("floating", pa.types.is_floating)) if test(t)), None)


def _constant(node: Any, column: Any) -> Any:
    """The Python value of a constant (or a value-keeping cast of one) as the column's type, or None."""
    t = column.type
    cast = None
    if isinstance(node, dict) and node.get("class") == "CAST":
        type_expr = node.get("type_expr") or {}
        cast = str(type_expr.get("type_name") or "").upper()
        if type_expr.get("children") or type_expr.get("schema") or type_expr.get("catalog") \
                or cast not in _KEEPING_CASTS.get(_kind(t) or "", ()):
            return None
        node = node.get("child")
    if not isinstance(node, dict) or node.get("class") != "CONSTANT":
        return None
    literal = node.get("literal") or {}
    kind, text = literal.get("kind"), literal.get("text")
    if text is None:
        return None
    try:
        if pa.types.is_string(t) and kind == "STRING":
            return text
        if pa.types.is_timestamp(t) and kind == "STRING":
            if cast == "DATE" and len(text) != 10:  # '2026-02-01 12:00'::DATE is midnight
                return None
            when = dt.datetime.fromisoformat(text)
            if when.tzinfo and cast in ("TIMESTAMP", "DATETIME", "DATE"):  # these casts drop the offset
                return None
            return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)  # the connection's TimeZone
        if pa.types.is_date(t) and kind == "STRING" and len(text) == 10:
            return dt.date.fromisoformat(text)
        if pa.types.is_integer(t) and kind == "INTEGER":
            return int(text)
        if pa.types.is_floating(t) and kind in ("INTEGER", "NUMERIC", "DOUBLE", "FLOAT", "DECIMAL"):
            return float(text)
    except (ValueError, TypeError):
        return None
    return None


def _prune_terms(spec: TableSpec, ref: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """deltalake file-pruning filters from the top-level ``AND`` terms of a ``WHERE`` on ``spec``."""
    terms = []
    for node in _conjuncts(ref.get("where")):
        op = _OPS.get(node.get("type", ""))
        if op and node.get("class") == "COMPARISON":
            col, other = _column(node.get("left"), spec, ref["alias"]), node.get("right")
            if col is None:
                col, other, op = _column(node.get("right"), spec, ref["alias"]), node.get("left"), _FLIPPED[op]
            value = _constant(other, spec.column(col)) if col else None
            if value is not None:
                terms.append((col, op, value))
        elif node.get("type") == "COMPARE_IN" and node.get("children"):
            col = _column(node["children"][0], spec, ref["alias"])
            values = [_constant(v, spec.column(col)) for v in node["children"][1:]] if col else []
            if values and all(v is not None for v in values) and pa.types.is_string(spec.column(col).type):
                terms.append((col, "in", values))
    return terms


def _lock_down(con: duckdb.DuckDBPyConnection, memory_limit: str) -> None:
    # With external access off DuckDB still lets SQL reach the allowed directories and paths and its
    # temporary directory: empty all three first, then lock the configuration.
    con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET temp_directory = ''")
    con.execute("SET allowed_directories = []")
    con.execute("SET allowed_paths = []")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def list_views(con: ReadOnlyConnection | duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(schema, view) pairs of the lake tables served by ``con``."""
    rows = con.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal AND schema_name <> 'main' ORDER BY 1, 2"
    ).fetchall()
    return [(s, v) for s, v in rows]
