"""Row-level data quality with Great Expectations.

Great Expectations validates a batch; Nexus needs to know *which rows* failed *which rule* so
it can publish the passing rows and quarantine the rest with a reason (write-audit-publish).
:func:`validate_rows` runs a suite with ``result_format="COMPLETE"`` and turns each failed
expectation's unexpected index list into per-row failures.

Suites are built from two parts: :func:`spec_expectations` generates the expectations a table
contract implies (non-nullable columns are not null), and pipelines add hand-written ones (a tag
must be in the catalog, a value within its instrument range, ...). Give every expectation a
``meta={"reason": ...}`` saying, for people, what was expected; ``meta={"row_reason": ...}`` is a
``str.format`` template filled from each failing row's columns, and ``meta={"rule": ...}`` a short
rule name for the quarantine (default: the expectation type).

Every validation also leaves its outcome (with Great Expectations' result, failing-row lists cut
to :data:`KEPT_UNEXPECTED` entries) in a small per-process outbox; the pipeline step that ran it
takes them with :func:`take_results` and records them once per batch
(:func:`warehouse.validation_docs.record_validations`: ``gold.fct_validation_results`` and the
Data Docs site), so validating costs nothing more here.
"""

from __future__ import annotations

import collections
import gc
import datetime as dt
import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from warehouse.registry import TableSpec

ROW_ID = "_row_id"
KEPT_UNEXPECTED = 20  # failing-row ids kept per expectation in a stored result (the quarantine has them all)
BATCH_DATE_COLUMNS = ("period_date", "publication_date", "day_start")  # where a batch's days are read from
_OUTBOX: collections.deque = collections.deque(maxlen=256)  # bounded: a run that never takes them loses the oldest

log = logging.getLogger(__name__)


@functools.cache
def _gx():
    """Import Great Expectations once, lazily (its import takes seconds), offline and quiet."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("nexus")
        .add_dataframe_asset("batch")
        .add_batch_definition_whole_dataframe("whole")
    )
    return gx, batch_definition


def expectations():
    """The ``great_expectations.expectations`` module (lazily imported)."""
    return _gx()[0].expectations


def spec_expectations(spec: TableSpec, present: Sequence[str] | None = None) -> list[Any]:
    """Expectations implied by a table contract: every non-nullable column is not null."""
    gxe = expectations()
    cols = [c for c in spec.columns if not c.nullable and (present is None or c.name in present)]
    return [
        gxe.ExpectColumnValuesToNotBeNull(column=c.name, meta={"reason": f"{spec.name}.{c.name} must not be null"})
        for c in cols
    ]


@dataclass
class RowValidation:
    """Outcome of a row-level validation.

    Attributes:
        failed: row id -> list of (rule, reason) in suite order.
        statistics: Great Expectations' suite statistics (evaluated / successful expectations).
        unexpected: expectation label -> number of rows it rejected.
        name: the suite name given to :func:`validate_rows`.
        rows: rows validated.
        days: the batch's first and last day (from :data:`BATCH_DATE_COLUMNS`), if it has one.
        result: Great Expectations' ``ExpectationSuiteValidationResult`` (failing-row lists cut).
        at: when it ran (``time.monotonic()``), so a step takes only its own validations.
    """

    failed: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    statistics: dict[str, Any] = field(default_factory=dict)
    unexpected: dict[str, int] = field(default_factory=dict)
    name: str = ""
    rows: int = 0
    days: tuple[dt.date, dt.date] | None = None
    result: Any = None
    at: float = field(default_factory=time.monotonic)

    @property
    def success(self) -> bool:
        return not self.failed


def take_results(since: float | None = None) -> list[RowValidation]:
    """The validations run in this process since the last call (oldest first), removed from the outbox.

    Args:
        since: a ``time.monotonic()`` value; older validations (left by earlier work in the
            process that nobody recorded) are dropped, not returned.
    """
    out = [r for r in _OUTBOX if since is None or r.at >= since]
    _OUTBOX.clear()
    return out


def _batch_days(df: pd.DataFrame) -> tuple[dt.date, dt.date] | None:
    for col in BATCH_DATE_COLUMNS:
        if col in df.columns and df[col].notna().any():
            values = pd.to_datetime(df[col].dropna())
            return values.min().date(), values.max().date()
    return None


def _cut(result: Any) -> Any:
    """Keep the first :data:`KEPT_UNEXPECTED` failing rows of each expectation (counts stay whole)."""
    for res in result.results:
        for key in ("unexpected_index_list", "unexpected_list", "partial_unexpected_list",
                    "partial_unexpected_index_list"):
            values = res.result.get(key) if res.result else None
            if isinstance(values, list) and len(values) > KEPT_UNEXPECTED:
                res.result[key] = values[:KEPT_UNEXPECTED]
    return result


def _config_key(config: Any) -> str:
    return repr((config.type, sorted(config.kwargs.items(), key=str), sorted((config.meta or {}).items(), key=str)))


def _label(config: Any) -> str:
    column = config.kwargs.get("column")
    return (config.meta or {}).get("reason") or (f"{config.type}({column})" if column else config.type)


def _fmt(value: Any) -> str:
    """A found value as people read it (ISO times, plain numbers)."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return "null"
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    return repr(value)


def validate_rows(df: pd.DataFrame, suite: Sequence[Any], *, name: str) -> RowValidation:
    """Validate ``df`` against ``suite`` and report the failing rows.

    Args:
        df: the batch; must hold an integer column ``_row_id`` unique per row.
        suite: Great Expectations expectation objects.
        name: suite name, for logs.
    """
    gx, batch_definition = _gx()
    if ROW_ID not in df.columns or not df[ROW_ID].is_unique:
        raise ValueError(f"validate_rows needs a unique integer column {ROW_ID!r}")
    outcome = RowValidation()
    if df.empty or not suite:
        return outcome
    batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
    try:
        return _validate(df, batch, gx, suite, name, outcome)
    finally:
        del batch
        _release(batch_definition)


def _release(batch_definition: Any) -> None:
    """Let the validated DataFrame go once Great Expectations is done with it.

    Two things keep it alive: the pandas execution engine, cached on the datasource for the
    process, holds the last batch; and exceptions Great Expectations raises and catches inside
    (pydantic's validation of its own objects) leave reference cycles through the validator's
    frames, which only the cycle collector frees: left to Python's own schedule, a long bulk load
    kept one batch per validation (+30 MiB a chunk). A collection of the young generations, where
    those cycles are, costs under 1 ms (a full one ~0.13 s with Great Expectations loaded).
    """
    manager = batch_definition.data_asset.datasource.get_execution_engine().batch_manager
    manager.reset_batch_cache()
    manager.batch_data_cache.clear()
    gc.collect(1)


def _validate(df: pd.DataFrame, batch: Any, gx: Any, suite: Sequence[Any], name: str,
              outcome: RowValidation) -> RowValidation:
    """:func:`validate_rows` on a loaded batch of ``df``."""
    # Two passes: the whole suite with BOOLEAN_ONLY results (a third of COMPLETE's cost: no
    # unexpected-value and index metrics), then only the failing expectations again with COMPLETE
    # results, which replace their entries, so the stored result is whole and names every failing row.
    result = batch.validate(gx.ExpectationSuite(name=name, expectations=[e.copy() for e in suite]),
                            result_format="BOOLEAN_ONLY")
    failing = [i for i, res in enumerate(result.results) if not res.success]
    if failing:  # (results need not follow the suite's order: matched by configuration)
        detail = batch.validate(
            gx.ExpectationSuite(name=name, expectations=[result.results[i].expectation_config.to_domain_obj()
                                                         for i in failing]),
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_ID],
                           "return_unexpected_index_query": False, "partial_unexpected_count": 0},
        )
        by_config = {_config_key(res.expectation_config): res for res in detail.results}
        for i in failing:
            result.results[i] = by_config[_config_key(result.results[i].expectation_config)]
    outcome.statistics = dict(result.statistics)
    for res in result.results:
        config = res.expectation_config
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise RuntimeError(f"expectation {config.type} raised: {res.exception_info.get('exception_message')}")
        if res.success:
            continue
        label = _label(config)
        column = config.kwargs.get("column")
        row_reason = (config.meta or {}).get("row_reason")
        rows = res.result.get("unexpected_index_list") or []
        outcome.unexpected[label] = len(rows)
        ids = [int(item[ROW_ID]) for item in rows]
        if row_reason:  # a per-row message formatted from the row's own columns
            by_id = df.set_index(ROW_ID).loc[ids]
            details = [row_reason.format(**rec) for rec in by_id.reset_index().to_dict(orient="records")]
        else:
            details = [f"{label}; found {_fmt(item.get(column))}" if column else label for item in rows]
        for row_id, detail in zip(ids, details):
            outcome.failed.setdefault(row_id, []).append(((config.meta or {}).get("rule", config.type), detail))
    outcome.name, outcome.rows, outcome.days, outcome.result = name, len(df), _batch_days(df), _cut(result)
    _OUTBOX.append(outcome)
    log.info("suite %s: %s expectations, %s rows failed %s", name,
             outcome.statistics.get("evaluated_expectations"), len(outcome.failed), outcome.unexpected)
    return outcome
