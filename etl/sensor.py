"""The sensor pipeline for one plant and one UTC day: raw → bronze → silver → gold.

Each step is a plain function of a :class:`~warehouse.lake.Lake` and a :class:`Batch` and is
idempotent for its batch: rerunning any step (or all of them, as a backfill does) replaces
exactly that plant-day in each table. A batch is bounded (one plant, one day), so memory does
not grow with the history.

Row accounting: every bronze row of the day ends in exactly one of silver, quarantine or the
counted duplicates (identical repeats of a reading); each outcome is counted where it happens and
the sum is checked before anything is published. :data:`gold.fct_ingest_batches` records the
figures, every file that arrived and the day's completeness against the tag catalog.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.historian import decompress, parse_file_name, parse_historian_csv
from etl.landing import land_files, manifest
from etl.rollups import build_daily
from etl.units import convert
from models import get_plant
from nexus.errors import ContractViolation, UnparseableFile
from warehouse import storage
from warehouse.duck import scratch
from warehouse.lake import CommitMeta, Lake
from warehouse.quality import ROW_ID, expectations, spec_expectations, validate_rows
from warehouse.validation_docs import record_validations
from warehouse.tables import (
    BRONZE_TAG_READINGS,
    DIM_PLANTS,
    DIM_TAGS,
    FCT_INGEST_BATCHES,
    FCT_TAG_HOURLY,
    RAW_FILES,
    SILVER_SENSOR_QUARANTINE,
    SILVER_SENSOR_READINGS,
)

log = logging.getLogger(__name__)
SOURCE = "sensor"


@dataclass(frozen=True)
class Batch:
    """One plant and the UTC days ``day`` to ``last`` (inclusive; default one day).

    The DAG processes one day per run; a bulk load of history (:func:`load_history`) takes a
    month at a time, which writes the same rows with far fewer commits.
    """

    plant_id: str
    day: dt.date
    last: dt.date | None = None

    def __post_init__(self) -> None:
        if self.last is not None and self.last < self.day:
            raise ValueError(f"batch ends ({self.last}) before it starts ({self.day})")

    @property
    def end_day(self) -> dt.date:
        return self.last or self.day

    @property
    def stop(self) -> dt.date:
        """The day after the batch (exclusive end)."""
        return self.end_day + dt.timedelta(days=1)

    @property
    def days(self) -> list[dt.date]:
        return [self.day + dt.timedelta(days=i) for i in range((self.end_day - self.day).days + 1)]

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.day, dt.time(), tzinfo=dt.timezone.utc)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.stop, dt.time(), tzinfo=dt.timezone.utc)

    def __str__(self) -> str:
        return f"{self.plant_id} {self.day}" + (f"..{self.last}" if self.last and self.last != self.day else "")

    @classmethod
    def from_interval(cls, plant_id: str, start: dt.datetime, end: dt.datetime) -> Batch:
        """The batch of a data interval as Airflow passes it: the last whole UTC day before ``end``.

        For a scheduled run (or a backfill) the interval is exactly one UTC day. A manual run
        triggered at an arbitrary time covers the 24 h before it; it ingests the last complete day.
        """
        if not start < end:
            raise ValueError(f"empty data interval [{start}, {end})")
        return cls(plant_id, (end.astimezone(dt.timezone.utc) - dt.timedelta(days=1)).date())


# ------------------------------------------------------------------------------------------ raw
def land(lake: Lake, landing_dir: str | Path, batch: Batch, meta: CommitMeta) -> dict[str, Any]:
    """Land the batch's files from the inbox into raw (see :func:`etl.landing.land_files`)."""
    report = land_files(lake, landing_dir, source=SOURCE, plant_id=batch.plant_id, day=batch.day,
                        last_day=batch.end_day, meta=meta)
    return report.as_dict()


# --------------------------------------------------------------------------------------- bronze
def load_bronze(lake: Lake, batch: Batch, meta: CommitMeta) -> dict[str, Any]:
    """Parse every landed file of the batch from raw and replace the batch's bronze rows.

    A file with no data line (0 bytes, or a header only) is marked ``empty`` with the reason; a
    file that cannot be read at all is ``rejected`` with the reason; neither stops the others.
    """
    files = _batch_files(lake, batch, ("landed", "loaded", "empty"))
    now = dt.datetime.now(dt.timezone.utc)
    writer = _IntervalWriter(lake, BRONZE_TAG_READINGS, batch, meta, "period_date")
    buffered, updates, rejected, empty, loaded, rows = [], [], [], [], 0, 0
    for row in files.to_pylist():
        content = lake.files.read_bytes(row["raw_path"])
        first, n, flushed = len(buffered), 0, False
        try:
            for piece in _parse_pieces(content, plant_id=batch.plant_id, period_date=row["period_date"],
                                       source_file=row["raw_path"], sha256=row["sha256"], ingested_at=now,
                                       run_id=meta.run_id):
                buffered.append(piece)
                n += piece.num_rows
                if sum(t.num_rows for t in buffered) >= WRITE_ROWS:
                    writer.write(pa.concat_tables(buffered))
                    buffered, first, flushed = [], 0, True
        except UnparseableFile as exc:
            if flushed:  # cannot happen: a file is refused on its gzip stream or header, so on its first piece
                raise
            del buffered[first:]
            log.warning("rejected %s: %s", row["file_name"], exc)
            rejected.append(row["file_name"])
            updates.append({**row, "status": "rejected", "reason": str(exc), "rows_loaded": 0, "_run_id": meta.run_id})
            continue
        if n == 0:
            reason = "0 bytes: no header and no data line" if not content else "no data line (header only)"
            log.warning("empty file %s: %s", row["file_name"], reason)
            empty.append(row["file_name"])
            updates.append({**row, "status": "empty", "reason": reason, "rows_loaded": 0, "_run_id": meta.run_id})
            continue
        loaded, rows = loaded + 1, rows + n
        updates.append({**row, "status": "loaded", "reason": None, "rows_loaded": n, "_run_id": meta.run_id})
    if buffered:
        writer.write(pa.concat_tables(buffered))
    parse_errors = writer.parse_errors
    writer.close()
    if updates:
        lake.upsert(RAW_FILES, pa.Table.from_pylist(updates, schema=RAW_FILES.schema), meta=meta)
    return {"files": loaded, "rejected_files": rejected, "empty_files": empty, "rows": rows,
            "parse_errors": parse_errors}


#: :func:`load_bronze` parses a plain (unquoted) file larger than this in pieces of
#: about this many bytes of whole lines, so the parser's per-line Python objects stay bounded.
PARSE_BYTES = 8 * 2**20


def _parse_pieces(content: bytes, *, parse_bytes: int | None = None, **kwargs: Any) -> Iterator[pa.Table]:
    """:func:`~etl.historian.parse_historian_csv` of one file, in pieces of whole lines if it is large.

    Each piece is the header line and a run of data lines, cut before a non-empty line that follows
    a non-empty line; its line numbers are shifted to the file's. Files with quotes, NUL bytes or
    carriage returns are parsed whole, as are small ones. A file is refused (``UnparseableFile``)
    on its gzip stream or its header, so on its first piece.
    """
    size = parse_bytes or PARSE_BYTES
    content = decompress(content, kwargs["source_file"])
    header_end = content.find(b"\n") + 1
    if (len(content) <= size or header_end <= 0
            or any(b in content for b in (b'"', b"\x00", b"\r"))):
        yield parse_historian_csv(content, **kwargs)
        return
    header, pos, first_line = content[:header_end], header_end, 2
    while pos < len(content):
        cut = len(content) if pos + size >= len(content) else content.find(b"\n", pos + size) + 1
        while 0 < cut < len(content) and (content[cut:cut + 1] == b"\n" or content[cut - 2:cut - 1] == b"\n"):
            cut = content.find(b"\n", cut) + 1  # never cut next to an empty line
        if cut <= 0:
            cut = len(content)
        piece = parse_historian_csv(header + content[pos:cut], **kwargs)
        if piece.num_rows:
            i = piece.schema.get_field_index("_line_number")
            piece = piece.set_column(i, piece.schema.field(i), pc.add(piece["_line_number"], first_line - 2))
        yield piece
        first_line += content.count(b"\n", pos, cut)
        pos = cut


#: A table's rows of a large batch are written in parts of about this many rows (see :class:`_IntervalWriter`).
WRITE_ROWS = 100_000


class _IntervalWriter:
    """Writes a batch's rows of one table in parts: the first replaces the batch's interval, the rest append.

    A rerun replaces the interval again, so it stays idempotent; a batch that fits one part (every
    CSTR-sized day) is one ``replace_interval`` commit as before. Between the parts' commits a
    reader sees part of the batch's day.
    """

    def __init__(self, lake: Lake, spec: Any, batch: Batch, meta: CommitMeta, column: str) -> None:
        self.lake, self.spec, self.batch, self.meta, self.column = lake, spec, batch, meta, column
        self.started, self.rows, self.parse_errors = False, 0, 0

    def write(self, table: pa.Table) -> None:
        if "_parse_error" in table.column_names:
            self.parse_errors += table.num_rows - table["_parse_error"].null_count
        if not self.started:
            self.lake.replace_interval(self.spec, table, start=self.batch.day, end=self.batch.stop, column=self.column,
                                       where={"plant_id": self.batch.plant_id}, meta=self.meta)
            self.started = True
        elif table.num_rows:
            self.lake.append(self.spec, table, meta=self.meta)
        self.rows += table.num_rows
        _trim()

    def close(self) -> None:
        if not self.started:  # no row: the interval is emptied
            self.write(self.spec.schema.empty_table())


def _batch_files(lake: Lake, batch: Batch, statuses: tuple[str, ...] = ("landed", "loaded")) -> pa.Table:
    """Manifest rows of the batch's files (by status), in delivery order."""
    if batch.last in (None, batch.day):
        rows = manifest(lake, source=SOURCE, plant_id=batch.plant_id, day=batch.day)
    else:
        rows = manifest(lake, source=SOURCE, plant_id=batch.plant_id)
        rows = rows.filter(pc.and_(pc.greater_equal(rows["period_date"], pa.scalar(batch.day, pa.date32())),
                                   pc.less(rows["period_date"], pa.scalar(batch.stop, pa.date32()))))
    rows = rows.filter(pc.is_in(rows["status"], pa.array(list(statuses))))
    return rows.sort_by([("period_date", "ascending"), ("received_at", "ascending"), ("file_name", "ascending")])


def _batch_dataset(lake: Lake, spec: Any, batch: Batch, column: str, start: Any, stop: Any) -> tuple[Any, Any]:
    """``spec`` as a lazy dataset of the batch's files and the filter of its rows (``start <= column < stop``)."""
    kind = spec.column(column).type
    expr = ((pc.field("plant_id") == batch.plant_id) & (pc.field(column) >= pa.scalar(start, kind))
            & (pc.field(column) < pa.scalar(stop, kind)))
    files = [("plant_id", "=", batch.plant_id), (column, ">=", start), (column, "<", stop)]
    return lake.dataset(spec, files=files), expr


def _bronze_dataset(lake: Lake, batch: Batch) -> tuple[Any, Any]:
    """Bronze's files and rows of the batch (by the files' day)."""
    return _batch_dataset(lake, BRONZE_TAG_READINGS, batch, "period_date", batch.day, batch.stop)


# --------------------------------------------------------------------------------------- silver
def sensor_suite(plant_id: str, batch: Batch | None = None) -> list[Any]:
    """The Great Expectations suite of a sensor batch: catalog, contract, interval and ranges.

    Ranges are checked in the exported (engineering) unit against the batch's ``range_min`` /
    ``range_max`` columns (joined from the tag catalog), so a quarantine reason reads in the same
    unit as the raw line it explains.
    """
    gxe = expectations()
    plant = get_plant(plant_id)
    tags = [t.tag for t in plant.TAGS]
    suite = [gxe.ExpectColumnValuesToBeInSet(
        column="tag", value_set=tags, meta={"rule": "known_tag", "reason": f"tag must be in the {plant_id} tag catalog"})]
    suite += spec_expectations(SILVER_SENSOR_READINGS, present=["plant_id", "tag", "ts", "quality", "quality_code"])
    # The file's day per row (day_start, day_end columns), so a batch may span several days.
    day_reason = "timestamp must lie in the file's day [{day_start}, {day_end}); found {ts}"
    suite.append(gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="ts", column_B="day_start", or_equal=True, ignore_row_if="either_value_is_missing",
        meta={"rule": "ts_in_file_day", "reason": "timestamp must not precede the file's day", "row_reason": day_reason}))
    suite.append(gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="day_end", column_B="ts", or_equal=False, ignore_row_if="either_value_is_missing",
        meta={"rule": "ts_in_file_day", "reason": "timestamp must precede the end of the file's day", "row_reason": day_reason}))
    suite.append(gxe.ExpectColumnValuesToNotBeNull(
        column="value", row_condition='quality=="good"', condition_parser="pandas",
        meta={"rule": "good_has_value", "reason": "a good-quality reading must have a value"}))
    # Instrument ranges as two column-pair rules over per-row range columns, so the suite's size
    # does not grow with the tag count (one row-conditioned rule per tag would).
    row_reason = "{tag} must lie in its instrument range [{range_min:g}, {range_max:g}] {unit}; found {value!r}"
    suite.append(gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="value", column_B="range_min", or_equal=True, ignore_row_if="either_value_is_missing",
        meta={"rule": "in_instrument_range", "reason": "a value must not be below its tag's instrument range",
              "row_reason": row_reason}))
    suite.append(gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="range_max", column_B="value", or_equal=True, ignore_row_if="either_value_is_missing",
        meta={"rule": "in_instrument_range", "reason": "a value must not be above its tag's instrument range",
              "row_reason": row_reason}))
    return suite


#: :func:`publish_silver` stages, validates and deduplicates a batch in groups of whole tags of at
#: most about this many readings (a tag with more is a group of its own), and :func:`build_hourly`
#: aggregates it in the same groups. A tag's rows never depend on another tag's (rules are per row,
#: repeats and conflicts per tag and time), so the groups give exactly the rows of the whole batch;
#: only the row accounting and the completeness are summed over the groups. Bounds memory by
#: readings, whatever the tag count; every demo plant-day is one group.
GROUP_ROWS = 100_000


def tag_groups(tags: pa.Array, max_rows: int) -> list[list[str]]:
    """The distinct non-null ``tags`` (one entry per reading), sorted, cut into runs of at most ``max_rows`` readings."""
    counts = sorted((r["values"], r["counts"]) for r in pc.value_counts(tags).to_pylist() if r["values"] is not None)
    groups: list[list[str]] = [[]]
    held = 0
    for tag, n in counts:
        if groups[-1] and held + n > max_rows:
            groups.append([])
            held = 0
        groups[-1].append(tag)
        held += n
    return groups


def _in_group(group: list[str]) -> Any:
    """The filter of a tag group; its range lets a reader of rows sorted by tag skip files and row groups."""
    return ((pc.field("tag") >= group[0]) & (pc.field("tag") <= group[-1])
            & pc.field("tag").isin(pa.array(group, pa.string())))


def publish_silver(lake: Lake, batch: Batch, meta: CommitMeta, *, group_rows: int | None = None) -> dict[str, Any]:
    """Validate the batch's bronze rows; publish the passing ones, quarantine the rest.

    Write-audit-publish: the batch is staged in memory in groups of whole tags of at most
    ``group_rows`` readings (default :data:`GROUP_ROWS`), each group validated by the Great Expectations suite, deduplicated
    (latest delivery wins) and converted; then the row accounting of the whole batch is checked
    and the day's silver and quarantine rows are replaced in one commit each.
    """
    plant = get_plant(batch.plant_id)
    dataset, in_batch = _bronze_dataset(lake, batch)
    files = _batch_files(lake, batch, ("landed", "loaded", "empty", "duplicate", "rejected"))
    received = dict(zip(files["sha256"].to_pylist(), files["received_at"].to_pylist()))  # a copy's file: the latest
    suite = sensor_suite(batch.plant_id, batch)
    now = dt.datetime.now(dt.timezone.utc)
    groups = tag_groups(dataset.to_table(columns=["tag"], filter=in_batch)["tag"], group_rows or GROUP_ROWS)

    # each group's silver rows wait in a temporary Arrow file until the whole batch's accounting adds up
    spill = tempfile.TemporaryDirectory(prefix="nexus-silver-")
    silver_parts, quarantine_parts, n_bronze, n_dropped, n_conflicts, evaluated = [], [], 0, 0, 0, 0
    per_day: dict[str, dict[dt.date, int]] = {}
    with scratch() as con:
        _stage(con, plant, received)
        for k, group in enumerate(groups):
            rows = in_batch
            if len(groups) > 1:  # one group's rows read at a time; rows without a tag (parse failures) with the first
                rows = rows & (_in_group(group) | pc.field("tag").is_null() if k == 0 else _in_group(group))
            part = dataset.to_table(filter=rows)
            part = part.append_column(ROW_ID, pa.array(np.arange(n_bronze, n_bronze + part.num_rows, dtype=np.int64)))
            n_bronze += part.num_rows
            # a batch of several groups records one validation per group (its suite named by the group)
            name = SILVER_SENSOR_READINGS.name + (f"#tags{k + 1}of{len(groups)}" if len(groups) > 1 else "")
            out = _silver_group(con, part, suite, batch, meta, now, name)
            del part
            _trim()
            table = lake.conform(SILVER_SENSOR_READINGS, out["silver"])
            silver_parts.append(_spill(spill.name, k, table) if len(groups) > 1 else (table, table.num_rows))
            quarantine_parts.append(out["quarantine"])
            for key, counts in out["per_day"].items():
                total = per_day.setdefault(key, {})
                for day, n in counts.items():
                    total[day] = total.get(day, 0) + n
            n_dropped += out["dropped"]
            n_conflicts += out["conflicts"]
            evaluated = max(evaluated, out["evaluated"])
    n_silver = sum(n for _, n in silver_parts)
    # quarantine rows by file and line (bronze is stored sorted by tag)
    quarantine = pa.concat_tables(quarantine_parts).drop_columns(["_row"]).sort_by(
        [("period_date", "ascending"), ("_source_file", "ascending"), ("_line_number", "ascending")])

    expected = len(plant.TAGS) * round(86400 / plant.INFO.sampling.total_seconds())
    status = pd.DataFrame({"day": files["period_date"].to_pylist(), "status": files["status"].to_pylist()})
    audits = []
    for day in batch.days:
        counts = {k: int(v.get(day, 0)) for k, v in per_day.items()}
        outcome = counts["silver_rows"] + counts["quarantined_rows"] + counts["duplicates_removed"]
        if counts["bronze_rows"] != outcome:
            raise ContractViolation(
                f"row accounting of {batch.plant_id} {day} does not add up: {counts['bronze_rows']} bronze rows, "
                f"{counts['silver_rows']} silver + {counts['quarantined_rows']} quarantined + "
                f"{counts['duplicates_removed']} duplicates = {outcome}; nothing was published")
        st = status.loc[status["day"] == day, "status"].tolist()
        completeness = counts["silver_rows"] / expected
        audits.append({
            "source": SOURCE, "plant_id": batch.plant_id, "period_date": day, "files_received": len(st),
            "files_landed": st.count("loaded"), "files_duplicate": st.count("duplicate"),
            "files_rejected": st.count("rejected"), "files_empty": st.count("empty"), **counts,
            "expected_rows": expected, "completeness": completeness,
            "status": completeness_status(counts["bronze_rows"], completeness),
            "dag_id": meta.dag_id, "run_id": meta.run_id, "completed_at": now,
        })

    # on the partition column reading_date (the UTC day of ts, so the same rows as the ts interval): the
    # day's partitions are replaced from the log alone, without scanning years of files' statistics
    # The accounting row first: it also tells a running MQTT collector (etl.stream) that the export
    # owns these days now, so it holds late streamed points instead of appending them after the
    # replace below. (A failed replace is retried by the DAG; the row is rewritten then.)
    lake.upsert(FCT_INGEST_BATCHES, pa.Table.from_pylist(audits, schema=FCT_INGEST_BATCHES.schema), meta=meta)
    # A day the export did not fill (no file, or no line) keeps the readings streamed for it.
    kept = _streamed(lake, SILVER_SENSOR_READINGS, "reading_date", batch,
                     [day for day in batch.days if not per_day["bronze_rows"].get(day)])
    with spill:
        writer = _IntervalWriter(lake, SILVER_SENSOR_READINGS, batch, meta, "reading_date")
        for part in _parts(silver_parts):
            writer.write(part)
        if kept.num_rows:
            writer.write(kept)
        writer.close()
    # the day's quarantine is the export's plus the streamed points' (etl.stream), which the export does not replace
    streamed = _streamed(lake, SILVER_SENSOR_QUARANTINE, "period_date", batch, batch.days)
    if streamed.num_rows:
        quarantine = pa.concat_tables([quarantine, streamed])
    lake.replace_interval(SILVER_SENSOR_QUARANTINE, quarantine, start=batch.day, end=batch.stop, column="period_date",
                          where={"plant_id": batch.plant_id}, meta=meta)
    figures = {
        "bronze_rows": n_bronze, "silver_rows": n_silver, "quarantined_rows": quarantine.num_rows,
        "duplicates_removed": n_dropped, "conflicting_rows": n_conflicts,
        "expected_rows": expected * len(batch.days),
        "completeness": round(n_silver / (expected * len(batch.days)), 4),
        "status": _worst([a["status"] for a in audits]),
    }
    rules = {r["values"]: r["counts"] for r in pc.value_counts(quarantine["rule"]).to_pylist()}
    log.info("silver %s: %s; quarantine rules %s", batch, figures, rules)
    if figures["status"] in ("empty", "incomplete", "partial"):
        log.warning("%s is %s: %d of %d expected readings (%.1f %%) reached silver", batch, figures["status"],
                    n_silver, figures["expected_rows"], 100 * figures["completeness"])
    return {**figures, "quarantine_rules": rules, "expectations": evaluated}


def _streamed(lake: Lake, spec: Any, column: str, batch: Batch, days: list[dt.date]) -> pa.Table:
    """``spec``'s rows of the plant on ``days`` (by ``column``) that came over MQTT (``_source_file``
    ``mqtt:...``; see etl.stream): what an export's replace of those days keeps."""
    if not days or not lake.exists(spec):
        return spec.schema.empty_table()
    dataset = lake.dataset(spec, files=[("plant_id", "=", batch.plant_id), (column, "in", days)])
    return dataset.to_table(filter=(pc.field("plant_id") == batch.plant_id) & pc.field(column).isin(days)
                            & pc.starts_with(pc.field("_source_file"), "mqtt:")).cast(spec.schema)


def _trim() -> None:
    """Hand the heaps' free pages back to the system (glibc and Arrow keep them after a group's objects die)."""
    pa.default_memory_pool().release_unused()  # Arrow's own allocator (mimalloc or jemalloc) keeps freed pages too
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _spill(directory: str, k: int, table: pa.Table) -> tuple[str, int]:
    """Write ``table`` to an Arrow file in ``directory``; its path and row count."""
    path = str(Path(directory) / f"part-{k:05d}.arrow")
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
        out.write_table(table)
    return path, table.num_rows


def _parts(spilled: list[tuple[Any, int]]) -> Iterator[pa.Table]:
    """The spilled tables again (memory-mapped; a table not spilled as it is), merged into parts of at most :data:`WRITE_ROWS` rows (or one table)."""
    held: list[pa.Table] = []
    for path, rows in spilled:
        if held and sum(t.num_rows for t in held) + rows > WRITE_ROWS:
            yield pa.concat_tables(held)
            held = []
        held.append(path if isinstance(path, pa.Table) else pa.ipc.open_file(pa.memory_map(path)).read_all())
    if held:
        yield pa.concat_tables(held)


#: The OPC DA quality class of a bronze row's code: bits 7-6 of the low byte, 11 good, 01 uncertain,
#: else bad (a row without a code is bad).
_QUALITY_SQL = "CASE coalesce(quality, 0) & 192 WHEN 192 THEN 'good' WHEN 64 THEN 'uncertain' ELSE 'bad' END"

#: The UTC day of a TIMESTAMPTZ (arithmetic on the instant: a cast goes through the ICU calendar).
_UTC_DATE_SQL = "DATE '1970-01-01' + CAST(floor(epoch_us({}) / 86400e6) AS INTEGER)"

#: The staged rows of one tag group (see :func:`_silver_group`): bronze rows that parsed, with the
#: tag catalog joined for units and ranges, the quality class and the file's day, for validation.
_CANDIDATES_SQL = f"""
SELECT b._row_id, b.plant_id, b.tag, b.timestamp AS ts, b.value, c.unit, c.range_min, c.range_max,
       {_QUALITY_SQL.replace("quality", "b.quality")} AS quality, b.quality AS quality_code,
       -- (epoch arithmetic: a TIMESTAMPTZ cast or interval goes through the ICU calendar, 5x slower)
       to_timestamp(epoch(b.period_date)) AS day_start, to_timestamp(epoch(b.period_date) + 86400) AS day_end
FROM bronze b LEFT JOIN catalog c USING (tag)
WHERE b._parse_error IS NULL
"""

#: After validation: ``passing``, the rows that passed every rule; ``repeats``, those of them
#: whose (tag, UTC time) was read more than once, whether the readings there differ (a
#: conflict: value or quality code, compared exactly) and each row's rank from the latest
#: delivery (1 = the one published when they do not differ).
_PASSING_SQL = f"""
CREATE OR REPLACE TEMP TABLE passing AS
SELECT _row_id, plant_id, tag, timestamp AS ts, value, {_QUALITY_SQL} AS quality, quality AS quality_code, period_date,
       _source_file, _line_number, _ingested_at, _source_sha256
FROM bronze ANTI JOIN failed USING (_row_id)
WHERE _parse_error IS NULL;

CREATE OR REPLACE TEMP TABLE repeats AS
WITH keys AS (
    SELECT tag, ts,
           min(value) IS DISTINCT FROM max(value) OR count(value) NOT IN (0, count(*))
           -- (min and max take -0.0 for 0.0; the exported digits differ, so the readings do)
           OR bool_or(signbit(value)) IS DISTINCT FROM bool_and(signbit(value))
           OR min(quality_code) IS DISTINCT FROM max(quality_code) OR count(quality_code) NOT IN (0, count(*)) AS conflicting
    FROM passing GROUP BY tag, ts HAVING count(*) > 1
)
SELECT p._row_id, p.period_date, k.conflicting,
       row_number() OVER (PARTITION BY p.tag, p.ts ORDER BY r.received_at DESC NULLS FIRST, p._source_file DESC,
                          p._line_number DESC, p._row_id DESC) AS latest
FROM passing p JOIN keys k USING (tag, ts) LEFT JOIN received r ON r.sha256 = p._source_sha256;
"""


def _stage(con: duckdb.DuckDBPyConnection, plant: Any, received: dict[str, Any]) -> None:
    """Register the plant's tag catalog and the files' delivery times on ``con`` for :func:`_silver_group`."""
    tags = plant.TAGS
    con.register("catalog", pa.table({
        "tag": pa.array([t.tag for t in tags], pa.string()),
        "unit": pa.array([t.unit for t in tags], pa.string()),
        "canonical_unit": pa.array([t.canonical_unit for t in tags], pa.string()),
        "range_min": pa.array([float(t.range_min) for t in tags], pa.float64()),
        "range_max": pa.array([float(t.range_max) for t in tags], pa.float64()),
    }))
    con.register("received", pa.table({"sha256": pa.array(list(received), pa.string()),
                                        "received_at": pa.array(list(received.values()), RAW_FILES.column("received_at").type)}))


def _silver_group(con: duckdb.DuckDBPyConnection, bronze: pa.Table, suite: list[Any], batch: Batch,
                  meta: CommitMeta, now: dt.datetime, name: str) -> dict[str, Any]:
    """Silver, quarantine and per-day counts of one group of tags' bronze rows (see :func:`publish_silver`).

    Staged in DuckDB (``con`` prepared by :func:`_stage`; one thread, so rows come back in one order): the catalog join, the repeats and conflicts
    and the accounting are SQL over the group's Arrow rows; Great Expectations validates the
    staged candidates; only the rows it failed and the (rare) conflicting readings come back to
    Python for their reasons.
    """
    con.register("bronze", bronze)
    candidates = con.sql(_CANDIDATES_SQL).to_arrow_table()
    result = validate_rows(candidates.to_pandas(), suite, name=f"{name}:{batch.plant_id}")
    con.register("failed", pa.table({ROW_ID: pa.array(list(result.failed), pa.int64())}))
    con.execute(_PASSING_SQL)

    # Repeated readings of one (tag, UTC time) among the passing rows, however their timestamps were
    # written: identical repeats (same value and quality) are duplicates, kept once (latest delivery);
    # different values are a conflict, and every side of it goes to quarantine with the others' values.
    conflicted = con.sql(
        "SELECT p._row_id, p.tag, p.ts, p.value, p.quality_code, p._source_file, p._line_number "
        "FROM passing p JOIN repeats x USING (_row_id) LEFT JOIN received r ON r.sha256 = p._source_sha256 "
        "WHERE x.conflicting ORDER BY r.received_at NULLS LAST, p._source_file, p._line_number, p._row_id").df()
    conflicts = _conflicts(conflicted) if len(conflicted) else {}

    # Quarantine: parse failures, rows that failed a rule and conflicting readings, one row each.
    reasons = {**result.failed, **conflicts}
    con.register("reasons", pa.table({
        ROW_ID: pa.array(list(reasons), pa.int64()),
        "rule": pa.array([r[0][0] for r in reasons.values()], pa.string()),
        "reason": pa.array(["; ".join(text for _, text in r) for r in reasons.values()], pa.string()),
    }))
    quarantine = con.sql(
        "SELECT b.plant_id, b.period_date, b.tag, b.timestamp, b.value, b.quality, coalesce(r.rule, 'parse') AS rule, "
        "coalesce(r.reason, b._parse_error) AS reason, b._raw_line, b._source_file, b._line_number, "
        "$now AS _quarantined_at, $run_id AS _run_id, b._row_id AS _row "
        "FROM bronze b LEFT JOIN reasons r USING (_row_id) "
        "WHERE b._parse_error IS NOT NULL OR r._row_id IS NOT NULL ORDER BY b._row_id",
        params={"now": now, "run_id": meta.run_id}).to_arrow_table()
    quarantine = quarantine.cast(pa.schema([*SILVER_SENSOR_QUARANTINE.schema, pa.field("_row", pa.int64())]))

    # Publish: the remaining rows once each (latest delivery of identical repeats), canonical units.
    silver = con.sql(
        f"SELECT p.plant_id, {_UTC_DATE_SQL.format('p.ts')} AS reading_date, p.tag, p.ts, p.value, c.unit AS source_unit, "
        "c.canonical_unit AS unit, p.quality, p.quality_code, NULL::VARCHAR AS flag, NULL::VARCHAR AS flag_reason, "
        "p._source_file, p._line_number, p._ingested_at, $run_id AS _run_id, p.period_date AS file_day "
        "FROM passing p JOIN catalog c USING (tag) ANTI JOIN (SELECT _row_id FROM repeats WHERE conflicting OR latest > 1) "
        "USING (_row_id) ORDER BY p.tag, p.ts",
        params={"run_id": meta.run_id}).to_arrow_table()
    silver = _to_canonical(silver)

    # Row accounting per file day, every outcome counted where it happened, checked before publishing.
    per_day: dict[str, dict[dt.date, int]] = {k: {} for k in (
        "bronze_rows", "silver_rows", "quarantined_rows", "duplicates_removed", "conflicting_rows")}
    for key, day, n in con.sql(
            "SELECT 'bronze_rows', period_date, count(*) FROM bronze GROUP BY ALL "
            "UNION ALL SELECT CASE WHEN conflicting THEN 'conflicting_rows' ELSE 'duplicates_removed' END, period_date, "
            "count(*) FROM repeats WHERE conflicting OR latest > 1 GROUP BY ALL").fetchall():
        per_day.setdefault(key, {})[day] = n
    for key, table, column in (("silver_rows", silver, "file_day"), ("quarantined_rows", quarantine, "period_date")):
        for row in pc.value_counts(table[column]).to_pylist():
            per_day[key][row["values"]] = row["counts"]
    dropped = sum(per_day["duplicates_removed"].values())
    for view in ("bronze", "failed", "reasons"):
        con.unregister(view)
    con.execute("DROP TABLE passing; DROP TABLE repeats")
    return {"silver": silver.drop_columns(["source_unit", "file_day"]), "quarantine": quarantine, "per_day": per_day,
            "dropped": dropped,
            "conflicts": len(conflicts), "evaluated": result.statistics.get("evaluated_expectations", 0)}


def _to_canonical(silver: pa.Table) -> pa.Table:
    """``value`` converted from each row's ``source_unit`` to its ``unit`` (rows sorted by tag: one pint call per tag)."""
    if not silver.num_rows or pc.all(pc.equal(silver["source_unit"], silver["unit"])).as_py():
        return silver
    column = silver["value"].combine_chunks()
    values = column.to_numpy(zero_copy_only=False).astype(float)  # nulls as NaN, put back below
    # the rows of each tag are one run, in tag order (DuckDB's byte order of UTF-8 is Python's code-point order)
    lo = 0
    for run in sorted(pc.value_counts(silver["tag"]).to_pylist(), key=lambda r: r["values"]):
        hi = lo + run["counts"]
        source, target = silver["source_unit"][lo].as_py(), silver["unit"][lo].as_py()
        if source != target:
            values[lo:hi] = convert(values[lo:hi], source, target)
        lo = hi
    converted = pa.array(values, pa.float64(), mask=column.is_null().to_numpy(zero_copy_only=False))
    return silver.set_column(silver.schema.get_field_index("value"), "value", converted)


#: A plant-day with at least this share of the readings its tag catalog expects is complete.
COMPLETE_AT = 0.95
#: Below this share a plant-day is incomplete: flagged, alerted, and no asset event goes downstream.
MIN_COMPLETENESS = 0.5
_SEVERITY = ("complete", "partial", "incomplete", "empty")


def completeness_status(bronze_rows: int, completeness: float, minimum: float = MIN_COMPLETENESS) -> str:
    """``empty`` (no rows at all), ``incomplete`` (< ``minimum``), ``partial`` (< 95 %) or ``complete``."""
    if bronze_rows == 0:
        return "empty"
    if completeness < minimum:
        return "incomplete"
    return "partial" if completeness < COMPLETE_AT else "complete"


def _worst(statuses: list[str]) -> str:
    return max(statuses, key=_SEVERITY.index) if statuses else "empty"


def _conflicts(rows: pd.DataFrame) -> dict[int, list[tuple[str, str]]]:
    """Quarantine reasons of every reading whose (tag, ts) also carries a different value or quality."""
    shared = rows[rows.duplicated(subset=["tag", "ts"], keep=False)]
    if shared.empty:
        return {}
    # compared on the values themselves (repr keeps every digit; NaN equals NaN), printed shorter
    exact = shared["value"].map(lambda v: "empty" if pd.isna(v) else repr(float(v)))
    quality = shared["quality_code"].astype("Int64").astype(str)
    varied = (exact + "/" + quality).groupby([shared["tag"], shared["ts"]]).transform("nunique") > 1
    value_text = shared["value"].map(lambda v: "empty" if pd.isna(v) else f"{v:.10g}")
    shared = shared.assign(_sig=value_text + " (quality " + quality + ")")
    out: dict[int, list[tuple[str, str]]] = {}
    for (tag, ts), group in shared[varied].groupby(["tag", "ts"], sort=False):
        sides = [f"{sig} in {src} line {line}" for sig, src, line
                 in zip(group["_sig"], group["_source_file"], group["_line_number"])]
        when = pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z"
        for i, row_id in enumerate(group[ROW_ID]):
            others = "; ".join(sides[:i] + sides[i + 1:])
            out[int(row_id)] = [("conflicting_values",
                                 f"{tag} at {when} has conflicting readings: this one {sides[i]}; other: {others}")]
    return out


# ----------------------------------------------------------------------------------------- gold
HOURLY_SQL = """
WITH s AS (
    SELECT tag, unit, value, quality, flag, epoch_us(ts) AS t, hour_us,
           -- a reading holds until the next reading of the tag, of any quality, or the hour's end
           LEAST(COALESCE(LEAD(epoch_us(ts)) OVER (PARTITION BY tag ORDER BY ts), hour_us + 3600000000),
                 hour_us + 3600000000) AS held_until
    -- hours on the instant in µs (date_trunc and intervals on a TIMESTAMPTZ go through the ICU calendar, 2x slower)
    FROM (SELECT *, CAST(floor(epoch_us(ts) / 3600e6) AS BIGINT) * 3600000000 AS hour_us FROM readings)
),
counts AS (
    SELECT tag, hour_us, any_value(unit) AS unit, count(*) AS sample_count,
           count(*) FILTER (WHERE quality = 'good' AND value IS NOT NULL) AS good_count,
           count(*) FILTER (WHERE quality = 'good' AND value IS NOT NULL AND flag IS NOT NULL) AS flagged_count
    FROM s GROUP BY tag, hour_us
),
tw AS (
    SELECT tag, hour_us,
           sum(value * ((held_until - t) / 1e6)) / nullif(sum((held_until - t) / 1e6), 0) AS twa_value,
           min(value) AS min_value, max(value) AS max_value
    FROM s WHERE quality = 'good' AND value IS NOT NULL
    GROUP BY tag, hour_us
)
SELECT $plant_id AS plant_id, c.tag, to_timestamp(c.hour_us / 1e6) AS hour_start, c.unit, tw.twa_value, tw.min_value, tw.max_value,
       c.sample_count, c.good_count, c.good_count / c.sample_count AS good_fraction,
       c.flagged_count, coalesce(c.flagged_count / nullif(c.good_count, 0), 0.0) AS flagged_fraction
FROM counts c LEFT JOIN tw USING (tag, hour_us)
ORDER BY c.tag, c.hour_us
"""


def hourly_aggregates(readings: pa.Table, plant_id: str) -> pa.Table:
    """Hourly time-weighted statistics of silver readings (see ``gold.fct_tag_hourly``).

    The time-weighted average treats a good reading as holding its value until the next
    reading of the same tag or the end of its hour, whichever comes first (sample-and-hold,
    as historians interpolate stepped values); time covered by bad readings is left out.
    Readings flagged by sensor-health monitoring (``flag``) stay in the statistics, as a
    historian shows them, and are counted in ``flagged_count``.
    """
    if "flag" not in readings.column_names:
        readings = readings.append_column("flag", pa.nulls(readings.num_rows, pa.string()))
    # One thread over sorted input (the scratch database's): floating-point sums then add in the
    # same order on every run, so a rerun reproduces gold bit for bit (parallel aggregation does not).
    with scratch() as con:
        con.register("readings", readings.sort_by([("tag", "ascending"), ("ts", "ascending")]))
        return con.sql(HOURLY_SQL, params={"plant_id": plant_id}).to_arrow_table()


def build_gold(lake: Lake, batch: Batch, meta: CommitMeta) -> dict[str, Any]:
    """Refresh the plant's dimensions and replace the day's hourly tag statistics."""
    publish_dimensions(lake, batch.plant_id, meta)
    return build_hourly(lake, batch, meta)


def build_hourly(lake: Lake, batch: Batch, meta: CommitMeta, *, group_rows: int | None = None) -> dict[str, Any]:
    """Replace the batch's hourly tag statistics from silver (also after monitoring set flags).

    A batch of more than ``group_rows`` readings (default :data:`GROUP_ROWS`) is read and
    aggregated a group of tags at a time (a tag's hours depend only on its own readings).
    """
    columns = ["tag", "unit", "ts", "value", "quality", "flag"]
    # one snapshot of silver for the tag list and every group (a write in between must not mix versions)
    dataset, in_batch = _batch_dataset(lake, SILVER_SENSOR_READINGS, batch, "ts", batch.start, batch.end)
    groups = tag_groups(dataset.to_table(columns=["tag"], filter=in_batch)["tag"], group_rows or GROUP_ROWS)
    if len(groups) == 1:
        hourly = hourly_aggregates(dataset.to_table(columns=columns, filter=in_batch), batch.plant_id)
    else:
        parts = []
        for group in groups:
            readings = dataset.to_table(columns=columns, filter=in_batch & _in_group(group))
            parts.append(hourly_aggregates(readings, batch.plant_id))
            del readings
            _trim()
        hourly = pa.concat_tables(parts)
    lake.replace_interval(FCT_TAG_HOURLY, hourly, start=batch.start, end=batch.end,
                          where={"plant_id": batch.plant_id}, meta=meta)
    build_daily(lake, batch.plant_id, batch.days, meta)  # gold.fct_tag_daily of the same days
    return {"hourly_rows": hourly.num_rows, "tags": len(set(hourly["tag"].to_pylist()))}


def publish_dimensions(lake: Lake, plant_id: str, meta: CommitMeta) -> dict[str, bool]:
    """Upsert the plant and its tag catalog into ``gold.dim_plants`` / ``gold.dim_tags`` when they changed.

    The catalog rarely changes, so each table is read first (one plant's rows) and written only if
    its rows differ: a daily run then adds no commit and no file to either dimension.
    """
    plant = get_plant(plant_id)
    info = plant.INFO
    plants = pa.Table.from_pylist([{
        "plant_id": info.plant_id, "name": info.name, "description": info.description,
        "sampling_s": info.sampling.total_seconds(), "tag_count": len(plant.TAGS)}], schema=DIM_PLANTS.schema)
    rows = []
    for t in plant.TAGS:
        lo, hi = convert(np.array([t.range_min, t.range_max]), t.unit, t.canonical_unit)
        rows.append({"plant_id": info.plant_id, "tag": t.tag, "description": t.description,
                     "unit_operation": t.unit_operation, "unit": t.canonical_unit, "source_unit": t.unit,
                     "range_min": float(lo), "range_max": float(hi)})
    tags = pa.Table.from_pylist(rows, schema=DIM_TAGS.schema)
    written = {}
    for spec, new in ((DIM_PLANTS, plants), (DIM_TAGS, tags)):
        written[spec.name] = not _same_rows(lake, spec, new, plant_id)
        if written[spec.name]:
            lake.upsert(spec, new, meta=meta)
    return written


def _same_rows(lake: Lake, spec: Any, new: pa.Table, plant_id: str) -> bool:
    """Whether the plant's rows of ``spec`` are exactly ``new`` (any order)."""
    if not lake.exists(spec):
        return False
    old = lake.read(spec, where={"plant_id": plant_id}).cast(spec.schema)
    keys = [(k, "ascending") for k in spec.primary_key]
    return old.num_rows == new.num_rows and old.sort_by(keys).equals(new.cast(spec.schema).sort_by(keys))


def run_batch(lake: Lake, landing_dir: str | Path, batch: Batch, meta: CommitMeta) -> dict[str, Any]:
    """All steps of one batch in order (what the DAG does, for scripts and benchmarks).

    Each step starts with a clean read log, so a step's commits name only the tables that step
    read as their lineage inputs (as each DAG task, in its own process, does).
    """
    out: dict[str, Any] = {}
    steps = (("land", lambda: land(lake, landing_dir, batch, meta)), ("bronze", lambda: load_bronze(lake, batch, meta)),
             ("silver", lambda: publish_silver(lake, batch, meta)), ("gold", lambda: build_gold(lake, batch, meta)))
    for name, step in steps:
        lake.forget_reads()
        out[name] = step()
        _trim()
    return out


#: Bulk loads cut a chunk when its files hold this many bytes of CSV text (about 100 000 readings;
#: the pipeline holds a few copies of a chunk in memory, so this bounds the peak whatever the period).
CHUNK_BYTES = 4 * 2**20
#: A bulk load records its chunks' validation results (gold rows, Data Docs) every this many chunks.
RECORD_EVERY = 32


def _day_bytes(landing_dir: str | Path, plant_id: str) -> dict[dt.date, int]:
    """Uncompressed bytes of the plant's inbox files per day (a gzip file's size from its trailer)."""
    out: dict[dt.date, int] = {}
    inbox = storage.folder(landing_dir).sub(f"{SOURCE}/{plant_id}")
    for name, size in inbox.files():
        parsed = parse_file_name(name)
        if parsed is None or parsed[0] != plant_id:
            continue
        if name.endswith(".gz") and size >= 4:
            size = max(size, int.from_bytes(inbox.tail(name, 4), "little"))  # ISIZE: length mod 2**32
        out[parsed[1]] = out.get(parsed[1], 0) + size
    return out


def load_history(lake: Lake, landing_dir: str | Path, plant_id: str, start: dt.date, end: dt.date, meta: CommitMeta, *,
                 chunk_days: int = 31, chunk_bytes: int = CHUNK_BYTES) -> dict[str, Any]:
    """Bulk-load the plant's historian files of the days ``[start, end)`` in chunks.

    The initial load of a plant's history: the same rows as running the DAG day by day (a test
    checks it), with a few commits per chunk instead of per day. A chunk holds at most
    ``chunk_days`` days and, from the second day on, at most ``chunk_bytes`` of the inbox's CSV
    text, so memory stays bounded however many tags or days a chunk would cover.
    """
    sizes = _day_bytes(landing_dir, plant_id)
    totals = {"chunks": 0, "bronze_rows": 0, "silver_rows": 0, "quarantined_rows": 0, "hourly_rows": 0}
    day = start
    while day < end:
        last, held = day, sizes.get(day, 0)
        while (last + dt.timedelta(days=1) < end and (last - day).days + 1 < chunk_days
               and held + sizes.get(last + dt.timedelta(days=1), 0) <= chunk_bytes):
            last += dt.timedelta(days=1)
            held += sizes.get(last, 0)
        out = run_batch(lake, landing_dir, Batch(plant_id, day, last), meta)
        totals["chunks"] += 1
        if totals["chunks"] % RECORD_EVERY == 0:
            record_validations(lake, meta)
        for k in ("bronze_rows", "silver_rows", "quarantined_rows"):
            totals[k] += out["silver"][k]
        totals["hourly_rows"] += out["gold"]["hourly_rows"]
        day = last + dt.timedelta(days=1)
    if totals["chunks"] % RECORD_EVERY:
        # the chunks' Great Expectations results, one row each in gold; their Data Docs pages are
        # rendered together (rendering the site costs seconds per call, whatever the result count)
        record_validations(lake, meta)
    return totals
