"""Lineage: which Delta versions of which tables, written by which runs, fed a table.

    >>> from nexus.lineage import trail, format_trail
    >>> print(format_trail(trail(Lake(), "gold.fct_setpoint_recommendations")))  # doctest: +SKIP
    gold.fct_setpoint_recommendations v3  2026-03-03T00:12:09Z  upsert  optimize_setpoints/optimize_plant run=...
    └── gold.fct_model_parameters v5  ...  calibrate_models/calibrate_plant run=...
        └── gold.fct_tag_hourly v9  ...  ingest_sensor_data/build_gold run=...
            └── silver.process__sensor_readings v9  ...  ingest_sensor_data/publish_silver run=...

Every commit a :class:`warehouse.lake.Lake` makes records the versions of the tables the step read
(``inputs`` in the commit's metadata). :func:`trail` follows them recursively from a table's
latest (or a given) version; ``nexus lineage TABLE`` prints the result. :func:`rows_by_version`
finds the versions whose commits wrote given rows (``nexus lineage TABLE --where plant_id=cstr``),
so each gold row is traceable to the runs and input versions behind it.

The same facts reach Airflow: :func:`announce` (called by each producing task) puts the written
table's version, rows and intervals into the asset event's ``extra``, and hands the task's lake
reads and writes to Airflow's hook-lineage collector, so the OpenLineage provider emits them as
the task's input and output datasets (``file`` namespace, the table's folder as the name). It
also records the task's validation results (``gold.fct_validation_results``, Data Docs).

Airflow is imported only inside :func:`announce` and :func:`report_openlineage`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nexus.errors import TableNotFound
from warehouse.lake import CommitMeta, Lake, commit_inputs
from warehouse.registry import LAYERS, TableSpec

SAME_DATA = ("compact", "add_constraints", "drop_constraints")  # commits that change no row: lineage is the commit before
HISTORY_LIMIT = 200  # commits searched for a run's writes (asset_extra)


@dataclass
class LineageNode:
    """One table version in a lineage trail.

    Attributes:
        table: registry name.
        version: Delta version.
        commit: the commit that made the version (:meth:`Lake.history` entry), ``{}`` if not found.
        inputs: the versions the commit was computed from, as nodes.
        repeated: the version already appears earlier in the trail (its inputs are not repeated).
        missing: why the version could not be looked up (table gone, history vacuumed), else ``""``.
        data_version: for a compaction (same rows, new files), the version whose commit wrote the
            data; ``commit`` is then that commit.
    """

    table: str
    version: int
    commit: dict[str, Any] = field(default_factory=dict)
    inputs: list[LineageNode] = field(default_factory=list)
    repeated: bool = False
    missing: str = ""
    data_version: int | None = None

    def walk(self) -> Iterable[LineageNode]:
        """This node and every node under it, depth first."""
        yield self
        for node in self.inputs:
            yield from node.walk()

    def find(self, table: str, version: int | None = None) -> LineageNode | None:
        """The expanded node of ``table`` (at ``version``, else the first met depth first), or ``None``."""
        return next((n for n in self.walk() if n.table == table and not n.repeated
                     and (version is None or n.version == version)), None)

    def to_dict(self) -> dict[str, Any]:
        c = self.commit
        return {"table": self.table, "version": self.version, "dag_id": c.get("dag_id"), "run_id": c.get("run_id"),
                "task_id": c.get("task_id"), "operation": c.get("nexus_operation") or c.get("operation"),
                "committed_at": _when(c), "repeated": self.repeated, "missing": self.missing or None,
                "inputs": [n.to_dict() for n in self.inputs]}


def _when(commit: Mapping[str, Any]) -> str | None:
    ts = commit.get("timestamp")
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Histories:
    """Each table's commits by version, read once per trail."""

    def __init__(self, lake: Lake) -> None:
        from warehouse.tables import REGISTRY

        self.lake, self.registry = lake, REGISTRY
        self._by_table: dict[str, dict[int, dict[str, Any]]] = {}

    def spec(self, table: str) -> TableSpec:
        """The registry's spec; for a name the registry no longer (or not yet) declares, one locating its folder."""
        if table in self.registry or table.partition(".")[0] not in LAYERS or not table.partition(".")[2]:
            return self.registry.get(table)  # raises TableNotFound with the known names
        return TableSpec(name=table, description="", columns=())

    def commit(self, table: str, version: int) -> dict[str, Any] | None:
        if table not in self._by_table:
            try:
                history = self.lake.history(self.spec(table))
            except TableNotFound:
                history = []
            self._by_table[table] = {int(c["version"]): c for c in history if "version" in c}
        return self._by_table[table].get(version)


def trail(lake: Lake, table: str, version: int | None = None, *, max_depth: int = 12) -> LineageNode:
    """The lineage of ``table`` at ``version`` (default: its latest), following commit inputs recursively.

    Raises:
        TableNotFound: the table is not in the registry or does not exist in the lake.
    """
    hist = _Histories(lake)
    spec = hist.spec(table)
    if not lake.exists(spec):
        raise TableNotFound(f"table {table} does not exist at {lake.path(spec)}")
    if version is None:
        version = lake.version(spec)
    seen: set[tuple[str, int]] = set()

    def build(name: str, ver: int, depth: int) -> LineageNode:
        node = LineageNode(table=name, version=ver)
        if (name, ver) in seen:
            node.repeated = True
            node.commit = hist.commit(name, ver) or {}
            return node
        seen.add((name, ver))
        try:
            commit = hist.commit(name, ver)
        except TableNotFound as exc:
            node.missing = str(exc)
            return node
        if commit is None:
            node.missing = f"no commit v{ver} in the history of {name} (vacuumed or log cleaned up)"
            return node
        node.commit = commit
        # A compaction or constraint change leaves the data as the commit before it wrote them.
        back = ver
        while commit is not None and not commit_inputs(commit) and commit.get("nexus_operation") in SAME_DATA:
            back -= 1
            commit = hist.commit(name, back) if back >= 0 else None
        if commit is None:
            commit = node.commit
        elif back != ver:
            node.data_version = back
            node.commit = {**commit, "nexus_operation": f"{node.commit.get('nexus_operation')} of v{back}"}
        if depth < max_depth:
            node.inputs = [build(n, v, depth + 1) for n, v in sorted(commit_inputs(commit).items())]
        return node

    return build(spec.name, version, 0)


def _describe(node: LineageNode) -> str:
    c = node.commit
    step = "/".join(x for x in (c.get("dag_id"), c.get("task_id")) if x) or "-"
    parts = [f"{node.table} v{node.version}"]
    if node.repeated:
        return f"{node.table} v{node.version}  (shown above)"
    if c:
        parts += [_when(c) or "", c.get("nexus_operation") or c.get("operation", ""), step,
                  f"run={c.get('run_id', '-')}"]
        rows = (c.get("operationMetrics") or {}).get("num_added_rows")
        if rows is not None:
            parts.append(f"+{rows} rows")
    if node.missing:
        parts.append(f"({node.missing})")
    return "  ".join(p for p in parts if p)


def format_trail(root: LineageNode, layers: Sequence[str] | None = None) -> str:
    """The trail as an indented tree for the terminal, the table asked for at the top.

    Args:
        layers: show only tables of these layers (e.g. ``("gold", "silver")``); the inputs of a
            table left out are left out too.
    """
    lines = [_describe(root)]

    def add(node: LineageNode, prefix: str) -> None:
        shown = [n for n in node.inputs if layers is None or n.table.partition(".")[0] in layers]
        for i, child in enumerate(shown):
            last = i == len(shown) - 1
            lines.append(prefix + ("└── " if last else "├── ") + _describe(child))
            add(child, prefix + ("    " if last else "│   "))

    add(root, "")
    if not root.inputs and not root.missing and root.commit:
        lines.append("  (this commit recorded no inputs: written from files or parameters, or before lineage was kept)")
    return "\n".join(lines)


def rows_by_version(lake: Lake, table: str, where: Mapping[str, Any]) -> dict[int | None, int]:
    """Which versions wrote the current rows matching ``where`` (column = value, ANDed): version -> rows.

    Values may be strings (as typed on the command line); they are cast to the column's type.
    ``None`` counts rows in files whose adding commit is no longer in the Delta log. Follow each
    version with :func:`trail` to see what it was computed from.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    from urllib.parse import unquote

    spec = _Histories(lake).spec(table)
    dataset = lake.dataset(spec)
    expr = None
    for col, value in where.items():
        if col not in dataset.schema.names:
            raise TableNotFound(f"{table} has no column {col!r}; columns are {dataset.schema.names}")
        typed = pc.cast(pa.array([value]), dataset.schema.field(col).type)[0] if isinstance(value, str) else value
        term = pc.field(col) == typed
        expr = term if expr is None else expr & term
    added = {unquote(path): v for path, v in lake.file_versions(spec).items()}
    out: dict[int | None, int] = {}
    for fragment in dataset.get_fragments(filter=expr):
        n = ds.Scanner.from_fragment(fragment, schema=dataset.schema, filter=expr).count_rows()
        if n:
            rel = unquote(fragment.path.replace("\\", "/"))
            version = next((v for path, v in added.items() if rel.endswith(path)), None)
            out[version] = out.get(version, 0) + n
    return dict(sorted(out.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)))


# ---------------------------------------------------------------------------- asset events
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EQ = re.compile(r"(\w+) = '([^']*)'")
_GE = re.compile(r"(\w+) >= '([^']*)'")
_LT = re.compile(r"(\w+) < '([^']*)'")


def _predicate_days(predicate: str) -> set[str]:
    """The UTC days a write predicate replaces: ``col = 'date'`` and ``col >= start AND col < end``."""
    days = {v for _, v in _EQ.findall(predicate) if _DATE.match(v)}
    ends = dict(_LT.findall(predicate))
    for col, start in _GE.findall(predicate):
        if col not in ends:
            continue
        try:
            lo, hi = (dt.datetime.fromisoformat(x.replace("Z", "+00:00")) for x in (start, ends[col]))
        except ValueError:
            continue
        last = (hi - dt.timedelta(microseconds=1)).date()
        n = (last - lo.date()).days + 1
        if 0 < n <= 366:
            days.update((lo.date() + dt.timedelta(days=i)).isoformat() for i in range(n))
        else:
            days.update({lo.date().isoformat(), last.isoformat()})
    return days


def asset_extra(lake: Lake, spec: TableSpec, meta: CommitMeta | None = None, *, any_task: bool = False,
                **more: Any) -> dict[str, Any]:
    """What an asset event should say about a write: table, version, rows, partitions and days.

    Looks up the commits of ``meta``'s run and source (and task, when ``meta.extra`` names one
    and not ``any_task``) among the table's latest commits: ``version`` is the newest of them,
    ``rows`` the rows they added,
    ``partitions`` the ``column=value`` slices they replaced and ``days`` the UTC days their
    predicates replaced (an interval ``[start, end)`` gives each day in it). Without ``meta`` (or when the run wrote nothing) it describes the latest
    version. ``more`` is added as given (JSON-serialisable values).
    """
    out: dict[str, Any] = {"table": spec.name}
    if not lake.exists(spec):
        return {**out, "version": None, "rows": 0, **more}
    history = lake.history(spec, limit=HISTORY_LIMIT)
    mine = history[:1]
    if meta is not None:
        task = None if any_task else meta.extra.get("task_id")
        mine = [c for c in history if c.get("run_id") == meta.run_id and c.get("dag_id") == meta.dag_id
                and c.get("source") == meta.source and (task is None or c.get("task_id") == task)
                and c.get("nexus_operation") != "create"]
    rows, partitions, days, inputs = 0, set(), set(), {}
    for c in mine:
        rows += int((c.get("operationMetrics") or {}).get("num_added_rows") or 0)
        predicate = (c.get("operationParameters") or {}).get("predicate") or ""
        partitions.update(f"{k}={v}" for k, v in _EQ.findall(predicate) if k in spec.partition_by)
        days.update(_predicate_days(predicate))
        inputs.update(commit_inputs(c))
    out.update({"version": max((int(c["version"]) for c in mine), default=lake.version(spec)),
                "commits": len(mine), "rows": rows, "partitions": sorted(partitions), "days": sorted(days),
                "inputs": inputs})
    out.update(more)
    return out


def _table_uri(lake: Lake, spec: TableSpec) -> str:
    path = lake.path(spec)
    return path if "://" in path else "file://" + path


def report_openlineage(lake: Lake, outputs: Sequence[TableSpec]) -> None:
    """Hand the running task's lake reads (inputs) and ``outputs`` to Airflow's hook-lineage collector.

    The OpenLineage provider turns them into the task's input and output datasets. Local lakes
    give ``file`` datasets; an object-store lake needs the provider of its scheme (e.g. amazon
    for ``s3``) installed, or the datasets are left out of the events.
    """
    from airflow.sdk.lineage import get_hook_lineage_collector

    from warehouse.tables import REGISTRY

    collector = get_hook_lineage_collector()
    written = {s.name for s in outputs}
    for name, version in sorted(lake.reads.items()):
        if name in written or name not in REGISTRY:
            continue
        collector.add_input_asset(context=lake, uri=_table_uri(lake, REGISTRY.get(name)),
                                  asset_extra={"table": name, "version": version})
    for spec in outputs:
        collector.add_output_asset(context=lake, uri=_table_uri(lake, spec), asset_extra={"table": spec.name})


def announce(assets: Any, lake: Lake, meta: CommitMeta, result: Any = None, *, any_task: bool = False,
            **more: Any) -> Any:
    """Call at the end of a producing task: validation results, asset events' ``extra``, OpenLineage datasets.

    ``assets`` is one Airflow Asset of a lake table (``nexus.assets``) or a list of them.

    1. Records the Great Expectations validations the task ran (if any) in
       ``gold.fct_validation_results`` and the Data Docs site, in one step
       (:func:`warehouse.validation_docs.record_validations`).
    2. Sets ``outlet_events[asset].extra`` to :func:`asset_extra` of each asset's table (the
       commits of this task; of any task of the run and source with ``any_task``, for a task
       that announces what earlier tasks wrote).
    3. Reports the task's lake reads and these writes to the hook-lineage collector
       (:func:`report_openlineage`).

    Returns ``result`` unchanged, so a task can end with
    ``return announce(ASSET, lake, meta, build(lake, meta))``; the extras go to the task log.
    """
    from airflow.sdk import get_current_context

    from warehouse.tables import REGISTRY
    from warehouse.validation_docs import record_validations

    assets = list(assets) if isinstance(assets, (list, tuple)) else [assets]
    events = get_current_context()["outlet_events"]
    for row in record_validations(lake, meta):
        print(f"validation {row['suite']} {row['batch_id']}: {'passed' if row['success'] else 'failed'} "
              f"({row['failures'] or 'no failures'}); Data Docs: {row['data_docs_path']}")
    specs = [REGISTRY.get(a.name) for a in assets]
    for asset, spec in zip(assets, specs):
        extra = asset_extra(lake, spec, meta, any_task=any_task, **more)
        events[asset].extra.update(extra)
        print(f"asset event {spec.name}: version {extra.get('version')}, {extra.get('rows')} rows, "
              f"partitions {extra.get('partitions')}, days {extra.get('days')}")
    try:
        report_openlineage(lake, specs)
    except ImportError:  # no hook-lineage support in this Airflow
        pass
    return result
