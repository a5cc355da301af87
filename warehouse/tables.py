"""Declarations of every lake table (the one place a table is defined)."""

from __future__ import annotations

import pyarrow as pa

from warehouse.registry import UTC_TS, Column, Registry, TableSpec

REGISTRY = Registry()
_add = REGISTRY.add

# Lineage columns shared by bronze and silver rows.
_SOURCE_FILE = Column("_source_file", pa.string(), "raw path of the file the row came from, relative to the lake root", nullable=False)
_LINE = Column("_line_number", pa.int64(), "1-based line number in the source file (header is line 1)", nullable=False)
_INGESTED = Column("_ingested_at", UTC_TS, "when the row was loaded into bronze", nullable=False)
_RUN = Column("_run_id", pa.string(), "orchestrator run that wrote the row", nullable=False)

# ----------------------------------------------------------------------------------------- raw
RAW_FILES = _add(TableSpec(
    name="raw.landing__files",
    description="Manifest of every file received in the landing folder: one row per (content hash, file name). "
    "Files are kept byte for byte under raw/<source>/...; a file whose content already landed is recorded "
    "as a duplicate and not loaded again.",
    columns=(
        Column("sha256", pa.string(), "SHA-256 of the file's bytes", nullable=False),
        Column("file_name", pa.string(), "name of the file as received", nullable=False),
        Column("source", pa.string(), "feed the file belongs to (sensor, market, regulatory)", nullable=False),
        Column("plant_id", pa.string(), "plant the file belongs to, when the feed is per plant"),
        Column("period_date", pa.date32(), "UTC day the file's records belong to (from its name)"),
        Column("raw_path", pa.string(), "where the bytes are kept, relative to the lake root", nullable=False),
        Column("size_bytes", pa.int64(), "file size", unit="byte", nullable=False),
        Column("received_at", UTC_TS, "when the file was landed", nullable=False),
        Column("status", pa.string(), "landed | loaded | duplicate | rejected", nullable=False),
        Column("reason", pa.string(), "why a file was rejected or marked duplicate"),
        Column("rows_loaded", pa.int64(), "data lines loaded into bronze (status loaded)"),
        Column("_run_id", pa.string(), "run that last changed the row", nullable=False),
    ),
    primary_key=("sha256", "file_name"),
    constraints={"status_known": "status IN ('landed', 'loaded', 'duplicate', 'rejected')"},
))

# -------------------------------------------------------------------------------------- bronze
BRONZE_TAG_READINGS = _add(TableSpec(
    name="bronze.historian__tag_readings",
    description="Historian export rows as received (tag, timestamp, value, quality), typed where they parse, "
    "one row per data line of every loaded file, with the original line and lineage.",
    columns=(
        Column("plant_id", pa.string(), "plant whose historian exported the file", nullable=False),
        Column("period_date", pa.date32(), "UTC day the file covers", nullable=False),
        Column("tag", pa.string(), "historian tag name as exported"),
        Column("timestamp", UTC_TS, "reading time, converted to UTC from the exported offset; null if it did not parse"),
        Column("value", pa.float64(), "reading in the tag's engineering unit; null if empty or not numeric"),
        Column("quality", pa.int32(), "OPC DA quality code as exported (192 good, 64 uncertain, 0 bad)"),
        Column("_raw_line", pa.string(), "the data line exactly as received", nullable=False),
        Column("_parse_error", pa.string(), "why the line could not be typed, else null"),
        _SOURCE_FILE,
        Column("_source_sha256", pa.string(), "SHA-256 of the source file", nullable=False),
        _LINE,
        _INGESTED,
        _RUN,
    ),
    partition_by=("plant_id", "period_date"),
))

# -------------------------------------------------------------------------------------- silver
SILVER_SENSOR_READINGS = _add(TableSpec(
    name="silver.process__sensor_readings",
    description="Validated sensor readings: one row per (plant, tag, UTC timestamp), latest delivery wins, "
    "values in the tag's canonical unit.",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("reading_date", pa.date32(), "UTC day of ts (partition)", nullable=False),
        Column("tag", pa.string(), "historian tag name", nullable=False),
        Column("ts", UTC_TS, "reading time (UTC)", nullable=False),
        Column("value", pa.float64(), "reading in `unit`; null only for bad-quality readings"),
        Column("unit", pa.string(), "canonical unit of value (pint notation)", nullable=False),
        Column("quality", pa.string(), "good | uncertain | bad (from the OPC DA code)", nullable=False),
        Column("quality_code", pa.int32(), "OPC DA quality code as exported", nullable=False),
        _SOURCE_FILE,
        _LINE,
        _INGESTED,
        _RUN,
    ),
    primary_key=("plant_id", "tag", "ts"),
    partition_by=("plant_id", "reading_date"),
    constraints={
        "quality_known": "quality IN ('good', 'uncertain', 'bad')",
        "good_has_value": "quality <> 'good' OR value IS NOT NULL",
    },
    interval_column="ts",
))

SILVER_SENSOR_QUARANTINE = _add(TableSpec(
    name="silver.process__sensor_quarantine",
    description="Bronze sensor rows that failed validation, with the rule and the reason; nothing is dropped silently.",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("period_date", pa.date32(), "UTC day of the file the row came from", nullable=False),
        Column("tag", pa.string(), "tag as exported, if it parsed"),
        Column("timestamp", UTC_TS, "reading time, if it parsed"),
        Column("value", pa.float64(), "value in the exported unit, if it parsed"),
        Column("quality", pa.int32(), "OPC DA quality code, if it parsed"),
        Column("rule", pa.string(), "first rule the row failed (e.g. parse, expect_column_values_to_be_in_set)", nullable=False),
        Column("reason", pa.string(), "what was expected and what was found (all failed rules)", nullable=False),
        Column("_raw_line", pa.string(), "the data line exactly as received", nullable=False),
        _SOURCE_FILE,
        _LINE,
        Column("_quarantined_at", UTC_TS, "when the row was quarantined", nullable=False),
        _RUN,
    ),
    primary_key=("_source_file", "_line_number"),
    partition_by=("plant_id", "period_date"),
))

# ---------------------------------------------------------------------------------------- gold
DIM_PLANTS = _add(TableSpec(
    name="gold.dim_plants",
    description="Plants with a digital twin in Nexus.",
    columns=(
        Column("plant_id", pa.string(), "plant identifier", nullable=False),
        Column("name", pa.string(), "plant name", nullable=False),
        Column("description", pa.string(), "what the plant makes and how", nullable=False),
        Column("sampling_s", pa.float64(), "historian sampling period", unit="s", nullable=False),
        Column("tag_count", pa.int32(), "number of historian tags", nullable=False),
    ),
    primary_key=("plant_id",),
))

DIM_TAGS = _add(TableSpec(
    name="gold.dim_tags",
    description="Historian tag catalog: what each tag measures, its units and instrument range.",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("tag", pa.string(), "historian tag name", nullable=False),
        Column("description", pa.string(), "what the tag measures", nullable=False),
        Column("unit_operation", pa.string(), "unit operation the instrument belongs to", nullable=False),
        Column("unit", pa.string(), "canonical unit of silver/gold values", nullable=False),
        Column("source_unit", pa.string(), "engineering unit of the historian export", nullable=False),
        Column("range_min", pa.float64(), "instrument range low, in `unit`", nullable=False),
        Column("range_max", pa.float64(), "instrument range high, in `unit`", nullable=False),
    ),
    primary_key=("plant_id", "tag"),
    constraints={"range_ordered": "range_min < range_max"},
))

FCT_TAG_HOURLY = _add(TableSpec(
    name="gold.fct_tag_hourly",
    description="Hourly statistics per tag: time-weighted average (sample-and-hold within the hour over "
    "good-quality readings), min, max, counts and the good-quality fraction.",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("tag", pa.string(), "historian tag name", nullable=False),
        Column("hour_start", UTC_TS, "start of the hour (UTC)", nullable=False),
        Column("unit", pa.string(), "unit of the value columns", nullable=False),
        Column("twa_value", pa.float64(), "time-weighted average of good readings; null if none"),
        Column("min_value", pa.float64(), "minimum good reading"),
        Column("max_value", pa.float64(), "maximum good reading"),
        Column("sample_count", pa.int64(), "readings in the hour (any quality)", nullable=False),
        Column("good_count", pa.int64(), "good-quality readings with a value", nullable=False),
        Column("good_fraction", pa.float64(), "good_count / sample_count", unit="1", nullable=False),
    ),
    primary_key=("plant_id", "tag", "hour_start"),
    partition_by=("plant_id",),
    constraints={
        "fraction_range": "good_fraction >= 0 AND good_fraction <= 1",
        "min_le_max": "min_value IS NULL OR min_value <= max_value",
    },
    interval_column="hour_start",
))

FCT_INGEST_BATCHES = _add(TableSpec(
    name="gold.fct_ingest_batches",
    description="Row accounting of each ingested batch (source, plant, day): files and rows in, and where "
    "every row went. Invariant: bronze_rows = silver_rows + quarantined_rows + duplicates_removed.",
    columns=(
        Column("source", pa.string(), "feed (sensor, market, regulatory)", nullable=False),
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("period_date", pa.date32(), "UTC day of the batch", nullable=False),
        Column("files_landed", pa.int32(), "files loaded for the day", nullable=False),
        Column("files_duplicate", pa.int32(), "files whose content had already landed", nullable=False),
        Column("files_rejected", pa.int32(), "files kept in raw but unreadable", nullable=False),
        Column("bronze_rows", pa.int64(), "data lines in bronze for the day", nullable=False),
        Column("silver_rows", pa.int64(), "rows published to silver", nullable=False),
        Column("quarantined_rows", pa.int64(), "rows sent to quarantine", nullable=False),
        Column("duplicates_removed", pa.int64(), "repeated readings of the same (tag, ts) dropped, latest kept", nullable=False),
        Column("dag_id", pa.string(), "pipeline that ran the batch", nullable=False),
        Column("run_id", pa.string(), "run that produced these figures", nullable=False),
        Column("completed_at", UTC_TS, "when the batch finished", nullable=False),
    ),
    primary_key=("source", "plant_id", "period_date"),
    constraints={"rows_accounted": "bronze_rows = silver_rows + quarantined_rows + duplicates_removed"},
))

FCT_OPERATING_EPISODES = _add(TableSpec(
    name="gold.fct_operating_episodes",
    description="Ground truth of simulated operation: every episode (normal, transient, abnormal, extreme) "
    "with its window and label, for evaluating anomaly detection and calibration.",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("episode_id", pa.int64(), "stable episode id within the plant (derived from its UTC day)", nullable=False),
        Column("category", pa.string(), "normal | transient | abnormal | extreme", nullable=False),
        Column("label", pa.string(), "episode kind, e.g. setpoint_change, jacket_fouling", nullable=False),
        Column("start_at", UTC_TS, "episode start (inclusive)", nullable=False),
        Column("end_at", UTC_TS, "episode end (exclusive)", nullable=False),
        Column("tag", pa.string(), "affected tag for sensor faults"),
        Column("detail", pa.string(), "what happened", nullable=False),
    ),
    primary_key=("plant_id", "episode_id"),
    constraints={"window_ordered": "start_at < end_at",
                 "category_known": "category IN ('normal', 'transient', 'abnormal', 'extreme')"},
    interval_column="start_at",
))
