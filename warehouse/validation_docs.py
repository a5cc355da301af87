"""Validation results people can browse: ``gold.fct_validation_results`` and Great Expectations Data Docs.

    >>> results = validate_rows(df, suite, name="silver.process__sensor_readings:cstr")  # doctest: +SKIP
    >>> record_validations(lake, meta)  # doctest: +SKIP  (once per batch, after the validations)
    [{'suite': 'silver.process__sensor_readings:cstr', 'success': False, 'failures': '... 12 rows', ...}]

:func:`warehouse.quality.validate_rows` leaves each outcome in an outbox; :func:`record_validations`
takes them and, in one step per batch:

1. stores each Great Expectations result in a file data context under the lake,
   ``<lake>/_validation/gx`` (validation results store, JSON);
2. renders the Data Docs pages of just these results and the site's index
   (``<lake>/_validation/gx/uncommitted/data_docs/local_site/index.html``, see :func:`docs_index`);
3. upserts one row per result into ``gold.fct_validation_results`` (suite, batch, run, expectation
   counts, failures summarized, the page's path relative to the lake root).

A lake on object storage gets the gold rows but no Data Docs (the site is local files).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from nexus.errors import ConfigError
from warehouse.lake import CommitMeta, Lake
from warehouse.quality import RowValidation, take_results
from warehouse.tables import FCT_VALIDATION_RESULTS

VALIDATION_DIR = "_validation"  # under the lake root
SITE = "local_site"

log = logging.getLogger(__name__)


#: Newest results the Data Docs index lists.
INDEX_LIMIT = 500


def _local_root(lake: Lake) -> Path | None:
    return None if lake.remote else Path(lake.root)


def _workdir(lake: Lake) -> Path:
    """Where Great Expectations keeps its file context: the lake itself on local disk; for a lake on
    object storage a working folder of this machine under ``NEXUS_STATE_DIR`` (private to its user:
    GX imports from its context's ``plugins/``), whose result pages are copied into the lake
    (:func:`_upload_pages`)."""
    from nexus.settings import get_settings

    root = _local_root(lake)
    if root is not None:
        return root
    state = Path(get_settings().state_dir) / "gx"
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    if state.stat().st_uid != os.getuid():
        raise ConfigError(f"{state} belongs to another user; Great Expectations imports plugins from its working "
                          f"folder, so each user needs a NEXUS_STATE_DIR of their own")
    if state.stat().st_mode & 0o077:
        state.chmod(0o700)
    return state / hashlib.sha256(lake.root.encode()).hexdigest()[:16]


def _upload_pages(lake: Lake, work: Path, pages: Sequence[str]) -> None:
    """Copy the result pages just rendered (and, once per lake, the site's static styles) into a lake
    on object storage. The site's index is not copied: each machine renders it from its own results
    only, so the complete list is :func:`results_page`, written from gold."""
    site = f"{VALIDATION_DIR}/gx/uncommitted/data_docs/{SITE}"
    static = work / site / "static"
    if static.is_dir() and not lake.files.exists(f"{site}/static/.uploaded"):
        for path in sorted(p for p in static.rglob("*") if p.is_file()):
            lake.files.upload(path, f"{site}/static/{path.relative_to(static).as_posix()}")
        lake.files.write_bytes(f"{site}/static/.uploaded", b"")
    for page in pages:
        if (work / page).is_file():
            lake.files.upload(work / page, page)


def docs_index(lake: Lake) -> Path | None:
    """Path of the Data Docs index page of ``lake`` (``None`` for a lake on object storage, whose
    complete list of results is :func:`results_page`)."""
    root = _local_root(lake)
    return None if root is None else root / VALIDATION_DIR / "gx" / "uncommitted" / "data_docs" / SITE / "index.html"


@functools.cache
def _context(folder: str) -> Any:
    """The file data context in ``folder`` (created on first use; one per process and folder)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    Path(folder).mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=folder)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    # The index loads every result it lists: cap it, so recording a batch does not slow down as the
    # history grows (results.html and gold.fct_validation_results list everything).
    sites = context.variables.data_docs_sites or {}
    index = sites.get(SITE, {}).get("site_index_builder")
    if index is not None and index.get("validation_results_limit") != INDEX_LIMIT:
        index["validation_results_limit"] = INDEX_LIMIT
        context.variables.data_docs_sites = sites
        context.variables.save()
        context = gx.get_context(mode="file", project_root_dir=folder)
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _safe(text: str) -> str:
    """A file-name-safe form (run ids hold ':' and '+')."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_") or "-"


def _failures(outcome: RowValidation) -> str | None:
    return "; ".join(f"{label}: {n} rows" for label, n in outcome.unexpected.items()) or None


def _days(outcome: RowValidation, meta: CommitMeta) -> tuple[dt.date | None, dt.date | None]:
    if outcome.days:
        return outcome.days
    interval = meta.extra.get("data_interval") or meta.extra.get("publication_date")
    if interval:
        try:
            first = dt.datetime.fromisoformat(str(interval).split("/")[0]).date()
            return first, first
        except ValueError:
            pass
    return None, None


def record_validations(lake: Lake, meta: CommitMeta, results: Sequence[RowValidation] | None = None, *,
                       build_docs: bool = True) -> list[dict[str, Any]]:
    """Record validation outcomes in gold and in the Data Docs site; returns the gold rows.

    Args:
        lake: the lake the validated batch belongs to.
        meta: the step's run metadata (dag, run, task).
        results: outcomes to record; default: every validation this process ran since ``lake``
            was opened (and since the last call): :func:`warehouse.quality.take_results`.
        build_docs: also store the results and render their Data Docs pages (local lakes).
    """
    results = take_results(since=lake.opened_at) if results is None else list(results)
    results = [r for r in results if r.result is not None]
    if not results:
        return []
    now = dt.datetime.now(dt.UTC)
    root = _workdir(lake)
    context = _context(str(root / VALIDATION_DIR)) if build_docs else None
    rows, keys = [], []
    for outcome in results:
        table, _, part = outcome.name.partition(":")
        first, last = _days(outcome, meta)
        is_day = bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", part))
        plant_id = None if is_day or not part else part
        span = "" if first is None else (first.isoformat() if first == last else f"{first}_{last}")
        batch_id = "__".join(x for x in (plant_id, span) if x) or part or "batch"
        stats = outcome.statistics
        row = {
            "suite": outcome.name, "table_name": table, "batch_id": batch_id, "plant_id": plant_id,
            "first_day": first, "last_day": last, "dag_id": meta.dag_id, "run_id": meta.run_id,
            "task_id": meta.extra.get("task_id"), "validated_at": now, "rows_validated": outcome.rows,
            "rows_failed": len(outcome.failed),
            "evaluated_expectations": int(stats.get("evaluated_expectations") or 0),
            "successful_expectations": int(stats.get("successful_expectations") or 0),
            "unsuccessful_expectations": int(stats.get("unsuccessful_expectations") or 0),
            "success": bool(outcome.result.success), "failures": _failures(outcome), "data_docs_path": None,
        }
        if context is not None:
            key = _store(context, outcome, table, batch_id, meta.run_id, now)
            keys.append(key)
            row["data_docs_path"] = _page(context, key, root)
        rows.append(row)
    if context is not None:
        context.build_data_docs(site_names=[SITE], resource_identifiers=keys)  # these pages and the index
        if lake.remote:
            _upload_pages(lake, root, [r["data_docs_path"] for r in rows if r["data_docs_path"]])
    lake.upsert(FCT_VALIDATION_RESULTS, pa.Table.from_pylist(rows, schema=FCT_VALIDATION_RESULTS.schema), meta=meta)
    if context is not None:
        write_results_page(lake)
    log.info("recorded %d validation result(s) in %s%s", len(rows), FCT_VALIDATION_RESULTS.name,
             f"; Data Docs: {docs_index(lake)}" if context is not None else "")
    return rows


def _store(context: Any, outcome: RowValidation, table: str, batch_id: str, run_id: str, when: dt.datetime) -> Any:
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=table),
        run_id=RunIdentifier(run_name=_safe(run_id), run_time=when),
        batch_identifier=_safe(batch_id),
    )
    outcome.result.meta["run_id"] = {"run_name": run_id, "run_time": when.isoformat()}
    context.validation_results_store.set(key, outcome.result)
    return key


def _page(context: Any, key: Any, root: Path) -> str | None:
    """The result's page, relative to the lake root."""
    for site in context.get_docs_sites_urls(resource_identifier=key, site_name=SITE, only_if_exists=False):
        url = site.get("site_url") or ""
        if url.startswith("file://"):
            try:
                return str(Path(url[len("file://"):]).relative_to(root))
            except ValueError:
                return url
    return None


RESULTS_PAGE = f"{VALIDATION_DIR}/results.html"  # relative to the lake root


def results_page(lake: Lake) -> str:
    """Where the plain list of every recorded result is: a local path or an ``s3://`` URI."""
    return lake.files.uri(RESULTS_PAGE)


def write_results_page(lake: Lake, limit: int = 2000) -> str:
    """Write :func:`results_page`: the newest ``limit`` results from gold, linked to their pages.

    Great Expectations' own index lists the results with JavaScript and styles from public CDNs,
    so offline (as plants run) it shows an empty list; this page is self-contained HTML.
    """
    import html

    rows = latest_results(lake)[:limit]
    cells = []
    for r in rows:
        page = r["data_docs_path"]
        href = f'<a href="../{html.escape(page)}">result</a>' if page and "://" not in page else ""
        cells.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            r["validated_at"].strftime("%Y-%m-%d %H:%M:%SZ"), r["suite"], r["batch_id"], r["run_id"],
            "passed" if r["success"] else "failed", f"{r['rows_failed']:,} / {r['rows_validated']:,}",
            r["failures"] or "")) + f"<td>{href}</td></tr>")
    lake.files.write_text(
        RESULTS_PAGE,
        "<!doctype html><html><head><meta charset='utf-8'><title>Nexus validation results</title><style>"
        "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}</style></head><body>"
        f"<h1>Validation results</h1><p>{len(rows)} newest of gold.fct_validation_results (Great Expectations), "
        "each linked to its Data Docs page.</p><table><thead><tr><th>Validated (UTC)</th><th>Suite</th>"
        "<th>Batch</th><th>Run</th><th>Outcome</th><th>Rows failed / validated</th><th>Failures</th>"
        "<th>Page</th></tr></thead><tbody>" + "".join(cells) + "</tbody></table></body></html>")
    return results_page(lake)


def latest_results(lake: Lake, where: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The recorded results (newest first), optionally filtered by column = value."""
    if not lake.exists(FCT_VALIDATION_RESULTS):
        return []
    rows = lake.read(FCT_VALIDATION_RESULTS, where=where).to_pylist()
    return sorted(rows, key=lambda r: r["validated_at"], reverse=True)
