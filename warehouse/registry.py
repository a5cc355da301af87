"""The table registry: every lake table is declared here once.

A :class:`TableSpec` names a table, its layer, columns (Arrow type, unit, description), partition
columns, primary key and CHECK constraints. Delta table creation, constraints, Great Expectations
suites, DuckDB views and the table docs (``nexus tables``) are all generated from it.

Naming follows the project's conventions: ``<layer>.<table>``; bronze tables are source-shaped
(``bronze.historian__tag_readings``), silver tables are conformed
(``silver.process__sensor_readings``), gold tables use ``fct_`` / ``dim_`` prefixes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from nexus.errors import TableNotFound

Layer = Literal["raw", "bronze", "silver", "gold", "sim"]
#: ``sim`` holds the simulator's ground truth: evaluation data only, never read by a pipeline.
LAYERS: tuple[str, ...] = ("raw", "bronze", "silver", "gold", "sim")

UTC_TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Column:
    """One column of a table contract.

    Attributes:
        name: snake_case name; measured quantities carry a unit suffix or a ``unit`` column.
        type: Arrow type.
        description: one line for the docs.
        unit: physical or currency unit of the values (pint-parsable where physical), or ``None``.
        nullable: whether nulls are allowed (checked before every write).
    """

    name: str
    type: pa.DataType
    description: str
    unit: str | None = None
    nullable: bool = True

    def field(self) -> pa.Field:
        meta = {"description": self.description}
        if self.unit:
            meta["unit"] = self.unit
        return pa.field(self.name, self.type, nullable=self.nullable, metadata=meta)


@dataclass(frozen=True)
class TableSpec:
    """The contract of one lake table.

    Attributes:
        name: ``<layer>.<table>``, e.g. ``gold.fct_tag_hourly``.
        description: what one row is, for people.
        columns: the columns in storage order.
        primary_key: columns that identify a row; enforced unique on every write.
        partition_by: Delta partition columns.
        constraints: Delta CHECK constraints, ``{name: SQL expression}``, enforced on every write.
        interval_column: the timestamp column that places a row in a data interval (used by
            interval replacement, so a rerun replaces exactly its period).
        sort_by: columns every write sorts its rows by (ascending), so each Parquet row group
            covers a narrow range of them.
        row_group_rows: Parquet row groups of at most this many rows (default: the writer's,
            about a million). Small groups of sorted rows let a reader filtering on ``sort_by``
            skip most of a file on the groups' statistics.
    """

    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    constraints: Mapping[str, str] = field(default_factory=dict)
    interval_column: str | None = None
    sort_by: tuple[str, ...] = ()
    row_group_rows: int | None = None

    def __post_init__(self) -> None:
        layer, _, table = self.name.partition(".")
        if layer not in LAYERS or not table:
            raise ValueError(f"table name must be '<layer>.<table>' with layer in {LAYERS}, found {self.name!r}")
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate column names in {names}")
        for group, cols in (("primary_key", self.primary_key), ("partition_by", self.partition_by),
                            ("sort_by", self.sort_by)):
            missing = [c for c in cols if c not in names]
            if missing:
                raise ValueError(f"{self.name}: {group} names unknown columns {missing}")
        if self.interval_column is not None and self.interval_column not in names:
            raise ValueError(f"{self.name}: interval_column {self.interval_column!r} is not a column")

    @property
    def layer(self) -> str:
        return self.name.partition(".")[0]

    @property
    def table(self) -> str:
        """The name inside its layer (``fct_tag_hourly``)."""
        return self.name.partition(".")[2]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([c.field() for c in self.columns], metadata={"description": self.description})

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}; columns are {self.column_names}")


class Registry:
    """An ordered, name-indexed collection of table specs."""

    def __init__(self, specs: Iterable[TableSpec] = ()) -> None:
        self._specs: dict[str, TableSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: TableSpec) -> TableSpec:
        if spec.name in self._specs:
            raise ValueError(f"table {spec.name!r} is declared twice")
        self._specs[spec.name] = spec
        return spec

    def get(self, name: str) -> TableSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise TableNotFound(f"no table {name!r} in the registry; known tables: {sorted(self._specs)}") from None

    def __iter__(self):
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def layer(self, layer: str) -> list[TableSpec]:
        return [s for s in self._specs.values() if s.layer == layer]
