"""All Delta Lake I/O of Nexus goes through this module.

Nothing else calls ``write_deltalake``. A :class:`Lake` is bound to one root, a local folder or
an S3 location (from ``NEXUS_LAKE_ROOT`` by default; its other files go through
:mod:`warehouse.storage`, :attr:`Lake.files`), and writes tables declared in the registry:

- :meth:`Lake.ensure` creates a table from its spec (schema, partitions, CHECK constraints);
- :meth:`Lake.append`, :meth:`Lake.upsert` (merge on the primary key),
  :meth:`Lake.replace_interval` (exactly one data interval, for idempotent reruns and backfills) and
  :meth:`Lake.replace_where` (exactly one partition-like slice) write;
- :meth:`Lake.read` reads as Arrow (optionally an older version or time), :meth:`Lake.history`
  lists commits with their run metadata.

Every commit carries :class:`CommitMeta` (dag_id, run_id, source) in the Delta log, so a table's
history says which run wrote what. A :class:`Lake` also remembers the version of every table it
read (:attr:`Lake.reads`) and records them as the commit's ``inputs`` (``{"table": version}`` as
JSON), so each write is traceable to the Delta versions it was computed from (``nexus lineage``).
Use one :class:`Lake` per pipeline step (as the DAG tasks do) or call :meth:`Lake.forget_reads`
between steps, so a step's inputs are its own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pa_fs
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from nexus.errors import ConfigError, ContractViolation, SchemaDrift, TableNotFound
from nexus.settings import get_settings
from warehouse import storage
from warehouse.registry import TableSpec

Scalar = str | int | float | bool | dt.date | dt.datetime
COMMIT_ATTEMPTS = 6
INPUTS_KEY = "inputs"  # commit metadata key of the versions read (lineage)
UPSERT_IN_LIST_MAX = 2000  # an upsert scopes its rewrite by key IN (...) lists up to this many values

log = logging.getLogger(__name__)


def _retry_on_conflict(method):
    """Rerun a whole write when a concurrent commit conflicts with it.

    Delta's optimistic concurrency rejects a commit whose snapshot another writer changed
    underneath (two runs upserting the manifest, two reruns of one day). Each attempt re-reads
    the table, so rerunning the operation is correct, not just re-sending the same commit.
    """

    @functools.wraps(method)
    def wrapper(self, spec, *args, **kwargs):
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                return method(self, spec, *args, **kwargs)
            except CommitFailedError as exc:
                if attempt == COMMIT_ATTEMPTS:
                    raise
                pause = random.uniform(0.1, 0.5) * attempt
                log.warning("%s on %s conflicted with a concurrent commit (%s); retrying in %.1f s",
                            method.__name__, spec.name, str(exc).splitlines()[0], pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    return wrapper


@dataclass(frozen=True)
class CommitMeta:
    """Run metadata written into every Delta commit.

    Attributes:
        dag_id: pipeline (or command) that wrote, e.g. ``ingest_sensor_data`` or ``nexus-cli``.
        run_id: run of that pipeline.
        source: feed or component the data came from, e.g. ``sensor:cstr``.
        extra: more key/values worth keeping (data interval, counts).
        inputs: table name -> Delta version read to compute the write (lineage); a
            :class:`Lake` adds the versions it read itself, so callers rarely set this.
    """

    dag_id: str
    run_id: str
    source: str
    extra: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, int] = field(default_factory=dict)

    def properties(self, operation: str) -> CommitProperties:
        meta = {"dag_id": self.dag_id, "run_id": self.run_id, "source": self.source,
                "nexus_operation": operation, **{k: str(v) for k, v in self.extra.items()}}
        if self.inputs:
            meta[INPUTS_KEY] = json.dumps({k: int(v) for k, v in sorted(self.inputs.items())})
        return CommitProperties(custom_metadata=meta)


def commit_inputs(commit: Mapping[str, Any]) -> dict[str, int]:
    """The ``inputs`` (table -> version read) of a commit from :meth:`Lake.history`; ``{}`` if none."""
    raw = commit.get(INPUTS_KEY)
    if not raw:
        return {}
    try:
        return {str(k): int(v) for k, v in json.loads(raw).items()}
    except (TypeError, ValueError, AttributeError):
        return {}


def sql_literal(value: Scalar) -> str:
    """Render a Python value as a SQL literal for a Delta predicate."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"timestamps in predicates must be timezone-aware, found {value!r}")
        return "'" + value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def _constraint_names(table: DeltaTable) -> set[str]:
    prefix = "delta.constraints."
    return {k[len(prefix):] for k in table.metadata().configuration if k.startswith(prefix)}


def _where_sql(where: Mapping[str, Scalar]) -> list[str]:
    return [f"{col} = {sql_literal(val)}" for col, val in where.items()]


def _where_expr(where: Mapping[str, Scalar]) -> ds.Expression | None:
    expr = None
    for col, val in where.items():
        term = pc.field(col) == val
        expr = term if expr is None else expr & term
    return expr


def _prune_term(spec: TableSpec, column: str, op: str, value: Any) -> list[tuple[str, str, Any]]:
    """A deltalake file-pruning filter with ``value`` in the column's own Python type (deltalake is
    strict: a numpy integer or a datetime for a date column would fail), or none when it does not
    convert (the row filter still applies)."""
    try:
        return [(column, op, pa.scalar(value, spec.column(column).type).as_py())]
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, KeyError, TypeError, ValueError):
        return []


class Lake:
    """A Delta lake rooted at one folder (or object-store URI)."""

    def __init__(self, root: str | Path | None = None, *, storage_options: Mapping[str, str] | None = None) -> None:
        root = root if root is not None else get_settings().lake_root
        self.root = storage.normalize(root) if storage.is_remote(root) else str(root)
        if storage_options and storage.is_remote(self.root):
            # Delta tables and the lake's plain files must reach the same store with the same keys.
            raise ConfigError(f"a lake on object storage ({self.root}) takes its endpoint and keys from the "
                              "process's AWS_* variables (warehouse.storage), not from storage_options")
        # On S3 the process's AWS settings (endpoint, region, retries), explicit: see storage.delta_options.
        self.storage_options = storage.delta_options(self.root) or (dict(storage_options) if storage_options else None)
        self._files: storage.Folder | None = None
        self._reads: dict[str, int] = {}
        self._handles: dict[str, DeltaTable] = {}  # newest-version handles, kept up to date (see _open)
        self.opened_at = time.monotonic()  # validations after this belong to this lake's steps

    @property
    def reads(self) -> dict[str, int]:
        """Table name -> the newest version this lake object has read (what the next writes record as inputs)."""
        return dict(self._reads)

    def forget_reads(self) -> None:
        """Start a new step: later writes record only the tables read from now on."""
        self._reads.clear()

    def _remember_read(self, spec: TableSpec, version: int) -> None:
        self._reads[spec.name] = max(version, self._reads.get(spec.name, version))

    def __repr__(self) -> str:
        return f"Lake({self.root!r})"

    @property
    def remote(self) -> bool:
        """True when the lake is on an object store (``s3://``)."""
        return storage.is_remote(self.root)

    @property
    def files(self) -> storage.Folder:
        """The lake's files outside Delta (raw files, reports, artifacts), local or on S3 alike."""
        if self._files is None:
            self._files = storage.folder(self.root)
        return self._files

    def table_filesystem(self, spec: TableSpec) -> pa_fs.FileSystem:
        """Arrow's native file system rooted at the table's folder, local or S3.

        Reads go through it rather than deltalake's default ``PyFileSystem``, which calls back into
        Python from Arrow's I/O threads: a scan left unfinished at interpreter exit (DuckDB stopping
        at a LIMIT on a connection nobody closed, an abandoned batch iterator) then has those
        threads take the GIL during finalization, and the process aborts (rc -6), segfaults or
        hangs after its work is done (seen on local disk and, 10 runs of 10, on S3).
        """
        return pa_fs.SubTreeFileSystem(self.files.sub(f"{spec.layer}/{spec.table}").base, self.files.fs)

    # ------------------------------------------------------------------ paths and tables
    def path(self, spec: TableSpec) -> str:
        """``<root>/<layer>/<table>``."""
        return f"{self.root.rstrip('/')}/{spec.layer}/{spec.table}"

    def _open(self, spec: TableSpec, version: int | dt.datetime | None = None) -> DeltaTable:
        """A new handle on the table at its newest version (or ``version``), owned by the caller."""
        try:
            table = DeltaTable(self.path(spec), storage_options=self.storage_options)
        except TableNotFoundError:
            raise TableNotFound(f"table {spec.name} does not exist yet at {self.path(spec)}") from None
        if version is not None:
            table.load_as_version(version)  # a version number or a point in time
        return table

    def _handle(self, spec: TableSpec) -> DeltaTable:
        """This lake's own handle on the table, brought to the newest version.

        Opening a table replays its log: on a table with years of daily commits that costs more
        than the day's own work. So the lake keeps one handle per table for its reads and writes
        and updates it with ``update_incremental`` (only the commits added since). Callers that
        keep a snapshot (a SQL connection) take their own with :meth:`_open`.
        """
        cached = self._handles.get(spec.name)
        if cached is not None:
            try:
                cached.update_incremental()
                return cached
            except (DeltaError, OSError):  # the table was removed or replaced: open it afresh
                self._handles.pop(spec.name, None)
        self._handles[spec.name] = table = self._open(spec)
        return table

    def exists(self, spec: TableSpec) -> bool:
        if spec.name in self._handles and (self.remote or Path(self.path(spec), "_delta_log").is_dir()):
            return True
        return DeltaTable.is_deltatable(self.path(spec), storage_options=self.storage_options)

    def ensure(self, spec: TableSpec, meta: CommitMeta) -> DeltaTable:
        """Create the table from its spec if it is missing; check its columns if it exists, and bring
        its constraints to the spec's (:meth:`_migrate_constraints`) when their names differ.

        Raises:
            SchemaDrift: the existing table's columns differ from the spec.
        """
        if self.exists(spec):
            table = self._handle(spec)
            found = [f.name for f in table.schema().fields]
            if found != spec.column_names:
                table = self._add_columns(spec, table, found, meta)
            if _constraint_names(table) != set(spec.constraints):
                self._migrate_constraints(spec, table, meta)
                table = self._handle(spec)
            return table
        if not self.remote:
            Path(self.path(spec)).parent.mkdir(parents=True, exist_ok=True)
        try:
            table = DeltaTable.create(
                self.path(spec),
                schema=spec.schema,
                partition_by=list(spec.partition_by) or None,
                name=spec.name,
                description=spec.description,
                storage_options=self.storage_options,
                commit_properties=meta.properties("create"),
            )
        except DeltaError as exc:
            if "already exists" not in str(exc):
                raise
            table = self._open(spec)  # another writer created it first
        self._ensure_constraints(spec, table, meta)
        return self._handle(spec)

    def _add_columns(self, spec: TableSpec, table: DeltaTable, found: list[str], meta: CommitMeta) -> DeltaTable:
        """Evolve an existing table whose spec appends nullable columns (the one migration done in place).

        Columns added at the end of a spec, nullable, are added to the table (``ALTER TABLE ... ADD
        COLUMNS``; existing rows read them as null). Any other difference -- a column dropped, renamed,
        reordered, retyped, or a new non-nullable one -- raises :class:`SchemaDrift`.
        """
        new = spec.column_names[len(found):]
        fields = {f.name: f for f in spec.schema}
        if spec.column_names[:len(found)] != found or not new or not all(fields[c].nullable for c in new):
            raise SchemaDrift(
                f"{spec.name} at {self.path(spec)} has columns {found}, the spec expects {spec.column_names} "
                "(only nullable columns appended at the end are added in place)"
            )
        from deltalake.schema import Field as DeltaField

        added = [DeltaField.from_arrow(fields[c].remove_metadata()) for c in new]
        table.alter.add_columns(added, commit_properties=meta.properties("add columns"))
        log.info("%s: added columns %s", spec.name, new)
        return self._handle(spec)

    def _migrate_constraints(self, spec: TableSpec, table: DeltaTable, meta: CommitMeta) -> None:
        """Make an existing table's CHECK constraints those of its spec, by name.

        A constraint the spec no longer names is dropped, one it names that the table lacks is
        added (failing if existing rows break it). Delta stores expressions normalised (``IN``
        becomes ``OR``), so a spec that changes an expression gives it a new name.
        """
        for name in sorted(_constraint_names(table) - set(spec.constraints)):
            table.alter.drop_constraint(name, raise_if_not_exists=False,
                                        commit_properties=meta.properties("drop_constraints"))
            log.info("%s: dropped constraint %s (no longer in the spec)", spec.name, name)
        self._ensure_constraints(spec, self._open(spec), meta)

    @staticmethod
    def _ensure_constraints(spec: TableSpec, table: DeltaTable, meta: CommitMeta) -> None:
        missing = {k: v for k, v in spec.constraints.items()
                   if f"delta.constraints.{k}" not in table.metadata().configuration}
        if not missing:
            return
        try:
            table.alter.add_constraint(missing, commit_properties=meta.properties("add_constraints"))
        except (CommitFailedError, DeltaError):
            table.update_incremental()
            still = [k for k in missing if f"delta.constraints.{k}" not in table.metadata().configuration]
            if still:  # not a concurrent creator adding the same constraints
                raise

    # ------------------------------------------------------------------ validation before writes
    def conform(self, spec: TableSpec, data: pa.Table | Any) -> pa.Table:
        """Return ``data`` as an Arrow table with exactly the spec's columns and types.

        Accepts a pyarrow Table or a pandas DataFrame.

        Raises:
            SchemaDrift: columns are missing or unexpected, or a type cannot be cast.
            ContractViolation: a non-nullable column holds nulls.
        """
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        have, want = set(table.column_names), set(spec.column_names)
        if have != want:
            raise SchemaDrift(
                f"{spec.name}: missing columns {sorted(want - have)}, unexpected columns {sorted(have - want)}"
            )
        table = table.select(spec.column_names)
        for col in spec.columns:
            if not col.nullable and table.num_rows and table.column(col.name).null_count:
                raise ContractViolation(
                    f"{spec.name}.{col.name} must not be null, found {table.column(col.name).null_count} null(s)"
                )
        try:
            return table.cast(spec.schema, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError) as exc:
            raise SchemaDrift(f"{spec.name}: data does not cast to the spec schema: {exc}") from exc

    def _check_unique(self, spec: TableSpec, table: pa.Table) -> None:
        if not spec.primary_key or table.num_rows == 0:
            return
        keys = table.group_by(list(spec.primary_key)).aggregate([([], "count_all")])
        dupes = keys.filter(pc.greater(keys["count_all"], 1))
        if dupes.num_rows:
            example = dupes.slice(0, 1).to_pylist()[0]
            raise ContractViolation(
                f"{spec.name}: primary key {spec.primary_key} must be unique in a batch, "
                f"found {dupes.num_rows} repeated key(s), e.g. {example}"
            )

    def _write(self, spec: TableSpec, table: pa.Table, *, mode: str, predicate: str | None,
               meta: CommitMeta, operation: str, target: DeltaTable | None = None) -> None:
        inputs = {k: v for k, v in self._reads.items() if k != spec.name}  # a table re-read to merge is no input
        if inputs:
            meta = dataclasses.replace(meta, inputs={**inputs, **meta.inputs})
        # Column descriptions live in the registry (and in the table's metadata from its creation); a
        # write carries none, so editing a description never breaks writes to an existing table
        # (delta-rs refuses to merge differing field metadata).
        table = table.cast(pa.schema([f.remove_metadata() for f in table.schema]))
        if spec.sort_by and table.num_rows:
            table = table.sort_by([(c, "ascending") for c in spec.sort_by])
        properties = WriterProperties(max_row_group_size=spec.row_group_rows) if spec.row_group_rows else None
        try:
            write_deltalake(
                target if target is not None else self.path(spec), table, mode=mode, predicate=predicate,
                storage_options=self.storage_options, commit_properties=meta.properties(operation),
                writer_properties=properties,
            )
        except DeltaError as exc:
            if "failed validation check" in str(exc) or "Invariant violations" in str(exc):
                raise ContractViolation(
                    f"{spec.name}: rows break the table constraints {dict(spec.constraints)}: {exc}"
                ) from exc
            raise

    # ------------------------------------------------------------------ writes
    @_retry_on_conflict
    def append(self, spec: TableSpec, data: pa.Table | Any, *, meta: CommitMeta) -> int:
        """Append rows; returns the number written."""
        table = self.conform(spec, data)
        self._check_unique(spec, table)
        target = self.ensure(spec, meta)
        self._write(spec, table, mode="append", predicate=None, meta=meta, operation="append", target=target)
        return table.num_rows

    @_retry_on_conflict
    def upsert(self, spec: TableSpec, data: pa.Table | Any, *, meta: CommitMeta) -> dict[str, int]:
        """Insert rows, replacing the rows that have the same primary key, in one commit.

        Merge semantics on the primary key, done as an atomic rewrite of just the data files that
        may hold the batch's keys: the predicate is ``key IN (the batch's values)`` for every key
        column (and the partitions the batch touches), so deltalake selects the files by partition
        values and min/max statistics, the rows of those files are read, the rows whose key the
        batch carries dropped, the batch added, and only those files replaced. A table that grows
        by one file a day (a manifest, an audit table) is then not rewritten whole every day.

        Why not Delta's MERGE: delta-rs 1.x MERGE writes string columns as Arrow ``string_view``
        into the Parquet files, and pyarrow cannot filter ``string_view`` (no ``array_filter``
        kernel), which breaks filtered reads and DuckDB's filter pushdown on the table
        (delta-io/delta-rs#4302, apache/arrow#49368).

        Returns:
            ``{"num_target_rows_inserted": n, "num_target_rows_updated": m}``.
        """
        if not spec.primary_key:
            raise ContractViolation(f"{spec.name} has no primary key; upsert needs one")
        table = self.conform(spec, data)
        self._check_unique(spec, table)
        target = self.ensure(spec, meta)
        if table.num_rows == 0:
            return {"num_target_rows_inserted": 0, "num_target_rows_updated": 0}
        keys = list(spec.primary_key)
        slices = table.select(list(spec.partition_by)).group_by(list(spec.partition_by)).aggregate([]).to_pylist() \
            if spec.partition_by else []
        terms = ["(" + " OR ".join("(" + " AND ".join(_where_sql(s)) + ")" for s in slices) + ")"] if slices else []
        expr = None
        for s in slices:
            term = _where_expr(s)
            expr = term if expr is None else expr | term
        files: list[tuple[str, str, Any]] = []
        for key in keys:  # the batch's values of each key column: a superset of its keys, selecting few files
            values = pc.unique(table.column(key)).to_pylist()
            if len(values) > UPSERT_IN_LIST_MAX:
                continue
            terms.append(f"{key} IN ({', '.join(sql_literal(v) for v in values)})")
            term = pc.field(key).isin(pa.array(values, spec.column(key).type))
            expr = term if expr is None else expr & term
            files.append((key, "in", values))
        predicate = " AND ".join(terms) or None
        # Read and write on the same snapshot, so a concurrent upsert makes this commit fail
        # (and retry) instead of both keeping the rows each read.
        current = self._arrow_dataset(spec, target, files).to_table(filter=expr).cast(spec.schema)
        marker = table.select(keys).append_column("_nexus_new", pa.array([True] * table.num_rows))
        kept = current.join(marker, keys=keys, join_type="left anti") if current.num_rows else current
        updated = current.num_rows - kept.num_rows
        out = pa.concat_tables([kept.select(spec.column_names).cast(spec.schema), table])
        self._write(spec, out, mode="overwrite", predicate=predicate, meta=meta, operation="upsert", target=target)
        return {"num_target_rows_inserted": table.num_rows - updated, "num_target_rows_updated": updated}

    @_retry_on_conflict
    def overwrite(self, spec: TableSpec, data: pa.Table | Any, *, meta: CommitMeta) -> int:
        """Replace the whole table with ``data`` in one commit (for small tables derived in full)."""
        table = self.conform(spec, data)
        self._check_unique(spec, table)
        target = self.ensure(spec, meta)
        self._write(spec, table, mode="overwrite", predicate=None, meta=meta, operation="overwrite", target=target)
        return table.num_rows

    @_retry_on_conflict
    def replace_where(self, spec: TableSpec, data: pa.Table | Any, *, where: Mapping[str, Scalar],
                      meta: CommitMeta) -> int:
        """Replace every row matching ``where`` (column = value, ANDed) with ``data``, atomically.

        All of ``data`` must match ``where``. With empty ``data`` this deletes the slice.
        """
        if not where:
            raise ValueError("replace_where needs at least one condition; use a full overwrite deliberately")
        table = self.conform(spec, data)
        self._check_unique(spec, table)
        self._check_inside(spec, table, where=where)
        target = self.ensure(spec, meta)
        self._write(spec, table, mode="overwrite", predicate=" AND ".join(_where_sql(where)), meta=meta,
                    operation="replace_where", target=target)
        return table.num_rows

    @_retry_on_conflict
    def replace_interval(self, spec: TableSpec, data: pa.Table | Any, *, start: dt.date, end: dt.date,
                         where: Mapping[str, Scalar] | None = None, meta: CommitMeta,
                         column: str | None = None) -> int:
        """Replace exactly the rows of one data interval ``[start, end)`` (and ``where``) with ``data``.

        This is what makes reruns and backfills idempotent: running the same interval twice leaves
        the table as running it once. All of ``data`` must lie inside the interval. The interval
        is on the spec's ``interval_column`` unless ``column`` names another one; ``start`` and
        ``end`` are datetimes for timestamp columns and dates for date columns.
        """
        col = column or spec.interval_column
        if col is None:
            raise ContractViolation(f"{spec.name} declares no interval_column; it cannot replace an interval")
        if not start < end:
            raise ValueError(f"interval start must precede end, found [{start}, {end})")
        where = dict(where or {})
        table = self.conform(spec, data)
        self._check_unique(spec, table)
        self._check_inside(spec, table, where=where, start=start, end=end, column=col)
        target = self.ensure(spec, meta)
        predicate = " AND ".join(
            _where_sql(where) + [f"{col} >= {sql_literal(start)}", f"{col} < {sql_literal(end)}"]
        )
        self._write(spec, table, mode="overwrite", predicate=predicate, meta=meta, operation="replace_interval",
                    target=target)
        return table.num_rows

    def _check_inside(self, spec: TableSpec, table: pa.Table, *, where: Mapping[str, Scalar],
                      start: dt.date | None = None, end: dt.date | None = None, column: str | None = None) -> None:
        if table.num_rows == 0:
            return
        for col, val in where.items():
            outside = pc.sum(pc.invert(pc.equal(table.column(col), pa.scalar(val)))).as_py() or 0
            if outside:
                raise ContractViolation(f"{spec.name}: {outside} row(s) have {col} != {val!r} but the write replaces only {col} = {val!r}")
        if start is not None and end is not None:
            col = column or spec.interval_column
            ts = table.column(col)
            lo, hi = pc.min(ts).as_py(), pc.max(ts).as_py()
            if lo < start or hi >= end:
                raise ContractViolation(
                    f"{spec.name}: rows must lie in [{start.isoformat()}, {end.isoformat()}), "
                    f"found {col} from {lo.isoformat()} to {hi.isoformat()}"
                )

    # ------------------------------------------------------------------ reads
    def dataset(self, spec: TableSpec, *, version: int | dt.datetime | None = None,
                files: Sequence[tuple[str, str, Any]] | None = None) -> ds.Dataset:
        """The table as a lazily read pyarrow dataset (filters and projections push down).

        ``files`` selects the data files before the dataset is built, as deltalake tuple filters
        ``(column, op, value)``: exact on partition columns, by per-file min/max statistics on
        the others (a superset: filter the rows as well). Without it every file of the snapshot
        becomes a fragment, which costs time in proportion to the table's history.

        The version opened is remembered (:attr:`reads`) as an input of this lake's next writes.
        """
        table = self._open(spec, version) if version is not None else self._handle(spec)
        self._remember_read(spec, table.version())
        return self._arrow_dataset(spec, table, files)

    def _arrow_dataset(self, spec: TableSpec, table: DeltaTable,
                       files: Sequence[tuple[str, str, Any]] | None = None) -> ds.Dataset:
        """``table`` as a pyarrow dataset, read with Arrow's own file system (:meth:`table_filesystem`)."""
        prune = {"file_pruning_predicate": list(files)} if files else {}
        return table.to_pyarrow_dataset(filesystem=self.table_filesystem(spec), **prune)

    def read(self, spec: TableSpec, *, where: Mapping[str, Scalar] | None = None,
             start: dt.datetime | None = None, end: dt.datetime | None = None,
             columns: Sequence[str] | None = None, version: int | dt.datetime | None = None) -> pa.Table:
        """Read rows as Arrow.

        Args:
            where: equality filters, ANDed.
            start, end: keep rows whose ``interval_column`` lies in ``[start, end)``.
            columns: projection.
            version: a table version number or a point in time (time travel).
        """
        expr = _where_expr(where or {})
        # The same filters select the files first (partition values, then min/max statistics), so a
        # read of one plant-day does not list every file of a table that grows with the history.
        files = [f for col, val in (where or {}).items() if val is not None
                 for f in _prune_term(spec, col, "=", val)]
        if start is not None or end is not None:
            if spec.interval_column is None:
                raise ContractViolation(f"{spec.name} declares no interval_column to filter on")
            col = pc.field(spec.interval_column)
            for term in ([col >= pa.scalar(start, spec.column(spec.interval_column).type)] if start else []) + \
                        ([col < pa.scalar(end, spec.column(spec.interval_column).type)] if end else []):
                expr = term if expr is None else expr & term
            files += _prune_term(spec, spec.interval_column, ">=", start) if start is not None else []
            files += _prune_term(spec, spec.interval_column, "<", end) if end is not None else []
        return self.dataset(spec, version=version, files=files).to_table(
            filter=expr, columns=list(columns) if columns else None)

    def version(self, spec: TableSpec) -> int:
        return self._open(spec).version()

    def history(self, spec: TableSpec, limit: int | None = None) -> list[dict[str, Any]]:
        """Commits newest first, each with its operation and run metadata."""
        return self._open(spec).history(limit)

    def file_versions(self, spec: TableSpec) -> dict[str, int]:
        """Data file (path relative to the table) -> the version whose commit added it (lineage of rows).

        Read from the JSON commit files of the Delta log (local or S3), so only for commits whose
        log file is still kept (Delta cleans up logs older than ``delta.logRetentionDuration``,
        30 days by default, once a checkpoint covers them).
        """
        log_folder = self.files.sub(f"{spec.layer}/{spec.table}/_delta_log")
        out: dict[str, int] = {}
        commits = sorted((int(e.name[:-5]), e.name) for e in log_folder.files()
                         if e.name.endswith(".json") and e.name[:-5].isdigit())
        for version, name in commits:
            for line in log_folder.read_text(name).splitlines():
                if '"add"' in line:
                    add = json.loads(line).get("add")
                    if add:
                        out[add["path"]] = version
        return out

    # ------------------------------------------------------------------ maintenance
    @_retry_on_conflict
    @_retry_on_conflict
    def compact(self, spec: TableSpec, *, meta: CommitMeta, target_size: int | None = None,
                where: Mapping[str, Scalar] | None = None) -> dict[str, int]:
        """Rewrite many small files into few (Delta OPTIMIZE compact); the data is unchanged.

        ``where`` (partition column = value, ANDed) limits the rewrite to those partitions, e.g. the
        day a stream is appending to. Returns ``{"files_removed": n, "files_added": m}``. Superseded
        files stay until :meth:`vacuum` removes them, so time travel keeps working within the retention.
        """
        outside = sorted(set(where or {}) - set(spec.partition_by))
        if outside:
            raise ValueError(f"{spec.name}: compact(where=...) takes partition columns {list(spec.partition_by)}, "
                             f"found {outside}")
        # (a spec's row-group size holds for the rewritten files too; rows keep their order within each old file)
        properties = WriterProperties(max_row_group_size=spec.row_group_rows) if spec.row_group_rows else None
        filters = [(k, "=", v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v))
                   for k, v in (where or {}).items()] or None
        out = self._open(spec).optimize.compact(partition_filters=filters, target_size=target_size,
                                                writer_properties=properties,
                                                commit_properties=meta.properties("compact"))
        return {"files_removed": int(out.get("numFilesRemoved", 0)), "files_added": int(out.get("numFilesAdded", 0))}

    def vacuum(self, spec: TableSpec, *, retention_hours: int = 168, dry_run: bool = True) -> list[str]:
        """Remove files no version younger than ``retention_hours`` needs."""
        return self._open(spec).vacuum(retention_hours=retention_hours, dry_run=dry_run,
                                       enforce_retention_duration=retention_hours >= 168)
