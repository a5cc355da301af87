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
        Column("status", pa.string(), "landed | loaded | empty | duplicate | rejected (empty: no data line)",
               nullable=False),
        Column("reason", pa.string(), "why a file was rejected or marked duplicate"),
        Column("rows_loaded", pa.int64(), "data lines loaded into bronze (status loaded)"),
        Column("_run_id", pa.string(), "run that last changed the row", nullable=False),
    ),
    primary_key=("sha256", "file_name"),
    constraints={"file_status_known": "status IN ('landed', 'loaded', 'empty', 'duplicate', 'rejected')"},
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
    # sorted by tag in row groups of 32 k rows, so silver reads a group of tags of a large day from
    # the groups' statistics instead of decoding the whole day once per group
    sort_by=("tag", "_source_file", "_line_number"),
    row_group_rows=32_768,
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
        Column("flag", pa.string(), "sensor-health flag set by monitoring: stuck | spike | drift | noise; null if none "
               "(or not assessed yet)"),
        Column("flag_reason", pa.string(), "why the reading was flagged: detector, statistic and threshold"),
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
        "flag_known": "flag IS NULL OR flag IN ('stuck', 'spike', 'drift', 'noise')",
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

DIM_ASSETS = _add(TableSpec(
    name="gold.dim_assets",
    description="The asset hierarchy enterprise → site → plant → unit → tag (ISA-95, as PI AF models it), from "
    "the fleet file (models/fleet.toml or NEXUS_FLEET): one row per asset, each naming its parent. Plants are "
    "plant instances (`plant_id` everywhere in gold) of a plant type (the twin).",
    columns=(
        Column("asset_id", pa.string(), "path of the asset: enterprise/site/plant/unit/tag", nullable=False),
        Column("level", pa.string(), "enterprise, site, plant, unit or tag", nullable=False),
        Column("name", pa.string(), "display name", nullable=False),
        Column("parent_id", pa.string(), "asset_id of the parent; null for the enterprise"),
        Column("enterprise_id", pa.string(), "enterprise", nullable=False),
        Column("site_id", pa.string(), "site; null for the enterprise"),
        Column("plant_id", pa.string(), "plant instance, for plants, units and tags"),
        Column("plant_type", pa.string(), "plant type (the twin) of the instance"),
        Column("unit_operation", pa.string(), "unit operation, for units and tags"),
        Column("tag", pa.string(), "historian tag, for tags"),
        Column("unit", pa.string(), "canonical unit of the tag's silver/gold values"),
        Column("country", pa.string(), "ISO 3166 alpha-2 country of the site"),
        Column("grid_region", pa.string(), "electricity grid region of the site (grid emission factors)"),
        Column("capacity", pa.float64(), "nameplate capacity of the plant, in capacity_unit"),
        Column("capacity_unit", pa.string(), "unit of capacity"),
    ),
    primary_key=("asset_id",),
    constraints={"asset_level_known": "level IN ('enterprise', 'site', 'plant', 'unit', 'tag')"},
))

FCT_TAG_HOURLY = _add(TableSpec(
    name="gold.fct_tag_hourly",
    description="Hourly statistics per tag: time-weighted average (sample-and-hold within the hour over "
    "good-quality readings), min, max, counts, the good-quality fraction and how many good readings "
    "sensor-health monitoring flagged.",
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
        Column("flagged_count", pa.int64(), "good readings flagged by sensor-health monitoring (0 until monitored)", nullable=False),
        Column("flagged_fraction", pa.float64(), "flagged_count / good_count (0 when no good reading)", unit="1", nullable=False),
    ),
    primary_key=("plant_id", "tag", "hour_start"),
    partition_by=("plant_id",),
    constraints={
        "fraction_range": "good_fraction >= 0 AND good_fraction <= 1",
        "flagged_range": "flagged_fraction >= 0 AND flagged_fraction <= 1",
        "min_le_max": "min_value IS NULL OR min_value <= max_value",
    },
    interval_column="hour_start",
))

FCT_TAG_DAILY = _add(TableSpec(
    name="gold.fct_tag_daily",
    description="Daily statistics per tag and UTC day, rolled up from gold.fct_tag_hourly (etl.rollups): "
    "time-weighted mean (each hour's average weighted by its good readings), min, max, counts and the "
    "coverage of the day by hours with good data.",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("tag", pa.string(), "historian tag name", nullable=False),
        Column("day", pa.date32(), "UTC day", nullable=False),
        Column("unit", pa.string(), "unit of the value columns", nullable=False),
        Column("twa_value", pa.float64(), "time-weighted mean of the day's good readings: hourly twa_value weighted "
               "by good_count (time held at a fixed sampling period); null if none"),
        Column("min_value", pa.float64(), "minimum good reading of the day"),
        Column("max_value", pa.float64(), "maximum good reading of the day"),
        Column("sample_count", pa.int64(), "readings in the day (any quality)", nullable=False),
        Column("good_count", pa.int64(), "good-quality readings with a value", nullable=False),
        Column("good_fraction", pa.float64(), "good_count / sample_count", unit="1", nullable=False),
        Column("flagged_count", pa.int64(), "good readings flagged by sensor-health monitoring", nullable=False),
        Column("hours_covered", pa.int32(), "hours of the day with at least one good reading", unit="h", nullable=False),
        Column("coverage", pa.float64(), "hours_covered / 24", unit="1", nullable=False),
    ),
    primary_key=("plant_id", "tag", "day"),
    partition_by=("plant_id",),
    constraints={
        "fraction_range": "good_fraction >= 0 AND good_fraction <= 1",
        "coverage_range": "coverage >= 0 AND coverage <= 1",
        "min_le_max": "min_value IS NULL OR min_value <= max_value",
    },
    interval_column="day",
))

FCT_INGEST_BATCHES = _add(TableSpec(
    name="gold.fct_ingest_batches",
    description="Row accounting and completeness of each ingested batch (source, plant or vendor, day): every "
    "file that arrived, and where every row went, each outcome counted on its own. Invariant: bronze_rows = "
    "silver_rows + quarantined_rows + duplicates_removed (checked before anything is published).",
    columns=(
        Column("source", pa.string(), "feed (sensor, market, regulatory)", nullable=False),
        Column("plant_id", pa.string(), "plant (sensor) or vendor (market)", nullable=False),
        Column("period_date", pa.date32(), "UTC day of the batch", nullable=False),
        Column("files_received", pa.int32(), "every file that arrived for the batch, whatever its name or outcome",
               nullable=False),
        Column("files_landed", pa.int32(), "files loaded into bronze with at least one data line", nullable=False),
        Column("files_duplicate", pa.int32(), "files whose content had already landed", nullable=False),
        Column("files_rejected", pa.int32(), "files kept in raw but not loaded (unreadable, misnamed, wrong folder)",
               nullable=False),
        Column("files_empty", pa.int32(), "files with no data line (0 bytes or a header only)", nullable=False),
        Column("bronze_rows", pa.int64(), "data lines in bronze for the day", nullable=False),
        Column("silver_rows", pa.int64(), "rows published to silver", nullable=False),
        Column("quarantined_rows", pa.int64(), "rows sent to quarantine (including conflicting_rows)", nullable=False),
        Column("duplicates_removed", pa.int64(), "identical repeats of a row already published (same key and "
               "same value), dropped", nullable=False),
        Column("conflicting_rows", pa.int64(), "rows quarantined because another row of the same key carries a "
               "different value (every side of the conflict is quarantined)", nullable=False),
        Column("expected_rows", pa.int64(), "rows the catalog expects for the day (sensor: tags x samples per day); "
               "null where a feed has no fixed cadence"),
        Column("completeness", pa.float64(), "silver_rows / expected_rows (null without an expectation)"),
        Column("status", pa.string(), "complete | partial | incomplete | empty: empty has no rows; incomplete is "
               "below the minimum completeness and emits no asset event downstream", nullable=False),
        Column("dag_id", pa.string(), "pipeline that ran the batch", nullable=False),
        Column("run_id", pa.string(), "run that produced these figures", nullable=False),
        Column("completed_at", UTC_TS, "when the batch finished", nullable=False),
    ),
    primary_key=("source", "plant_id", "period_date"),
    constraints={"rows_accounted": "bronze_rows = silver_rows + quarantined_rows + duplicates_removed",
                 "status_known": "status IN ('complete', 'partial', 'incomplete', 'empty')"},
    interval_column="period_date",  # SQL on it prunes files by their day range (the console's recent batches)
))

# ------------------------------------------------------------------------------- simulator truth
SIM_OPERATING_EPISODES = _add(TableSpec(
    name="sim.truth__operating_episodes",
    description="SIMULATOR TRUTH, for evaluation only: every episode (normal, transient, abnormal, extreme) the "
    "plant twins simulated, with its window and label. A real plant's historian has no such table; no pipeline "
    "reads it (a test fails if one does). Detector evaluation and tests compare what Nexus detected with it.",
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

# ------------------------------------------------------------------------------------ monitoring
FCT_TAG_HEALTH = _add(TableSpec(
    name="gold.fct_tag_health",
    description="Sensor health per tag and hour, from the readings alone (models.sensor_health): how many readings "
    "were flagged stuck, spike, drift or noise, the hour's status and the main reason. Flagged readings stay in "
    "silver with their flag; calibration leaves hours with flagged readings of the tags it needs out.",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("tag", pa.string(), "historian tag name", nullable=False),
        Column("hour_start", UTC_TS, "start of the hour (UTC)", nullable=False),
        Column("sample_count", pa.int64(), "good readings with a value assessed in the hour", nullable=False),
        Column("flagged_count", pa.int64(), "readings flagged by any detector", nullable=False),
        Column("stuck_count", pa.int64(), "readings flagged stuck (flat-lined)", nullable=False),
        Column("spike_count", pa.int64(), "readings flagged spike (Hampel)", nullable=False),
        Column("drift_count", pa.int64(), "readings flagged drift (EWMA of the residual against the tag's prediction from correlated tags)", nullable=False),
        Column("noise_count", pa.int64(), "readings flagged noise change", nullable=False),
        Column("flagged_fraction", pa.float64(), "flagged_count / sample_count (0 when no sample)", unit="1", nullable=False),
        Column("status", pa.string(), "ok | suspect | faulty", nullable=False),
        Column("reason", pa.string(), "the hour's most frequent flag reason"),
        Column("scores_json", pa.string(), "detector statistics of the hour (JSON), e.g. max robust z, noise ratio, drift score"),
        Column("detector_version", pa.string(), "version of the sensor-health detectors", nullable=False),
        Column("run_id", pa.string(), "run that wrote the row", nullable=False),
        Column("computed_at", UTC_TS, "when the row was computed", nullable=False),
    ),
    primary_key=("plant_id", "tag", "hour_start"),
    partition_by=("plant_id",),
    constraints={"status_known": "status IN ('ok', 'suspect', 'faulty')",
                 "flag_fraction_range": "flagged_fraction >= 0 AND flagged_fraction <= 1",
                 "flags_counted": "flagged_count <= sample_count"},
    interval_column="hour_start",
))

FCT_MONITOR_SCORES = _add(TableSpec(
    name="gold.fct_monitor_scores",
    description="Multivariate process monitoring per plant (unit 'plant') and unit operation and hour: operating "
    "mode detected from the data, PCA Hotelling T2 and SPE (Q) with their control limits and alarms, the "
    "IsolationForest score for comparison, and the tags that contribute most. Models are trained without labels "
    "on the trailing window's hours that the method itself judges normal.",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("unit", pa.string(), "unit operation, or 'plant' for the plant-wide model", nullable=False),
        Column("hour_start", UTC_TS, "start of the hour (UTC)", nullable=False),
        Column("mode", pa.string(), "steady | transient | shutdown (detected from the data)", nullable=False),
        Column("t2", pa.float64(), "Hotelling T2 of the hour's tag means; null when not scored"),
        Column("t2_limit", pa.float64(), "T2 control limit"),
        Column("spe", pa.float64(), "squared prediction error (Q)"),
        Column("spe_limit", pa.float64(), "SPE control limit"),
        Column("pca_alarm", pa.bool_(), "T2 or SPE above its limit (null when not scored)"),
        Column("if_score", pa.float64(), "IsolationForest anomaly score (higher is more anomalous)"),
        Column("if_limit", pa.float64(), "IsolationForest alarm threshold"),
        Column("if_alarm", pa.bool_(), "IsolationForest score above its threshold"),
        Column("top_tags", pa.string(), "tags with the largest contributions to the alarmed statistic, 'tag:share' joined by ', '"),
        Column("n_tags", pa.int32(), "tags in the model", nullable=False),
        Column("training_hours", pa.int32(), "hours the model was trained on (after robust exclusion)", nullable=False),
        Column("model_version", pa.string(), "monitor model version (plant, unit, training window, fingerprint)", nullable=False),
        Column("run_id", pa.string(), "run that wrote the row", nullable=False),
        Column("computed_at", UTC_TS, "when the row was computed", nullable=False),
    ),
    primary_key=("plant_id", "unit", "hour_start"),
    partition_by=("plant_id",),
    constraints={"mode_known": "mode IN ('steady', 'transient', 'shutdown')"},
    interval_column="hour_start",
))

FCT_EVENTS = _add(TableSpec(
    name="gold.fct_events",
    description="Event frames detected from the data: one row per event (sensor fault on a tag, process anomaly "
    "of a unit or the plant, transient, shutdown, violated mass/energy/carbon/charge balance) with its window, "
    "severity, peak score and the tags behind it. "
    "An event still going on at the end of the data has no end; later data extend it. Reruns replace, never duplicate.",
    columns=(
        Column("event_id", pa.string(), "stable id: plant, unit, kind, tag and start", nullable=False),
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("unit", pa.string(), "unit operation, or 'plant'", nullable=False),
        Column("kind", pa.string(), "sensor_fault | process_anomaly | transient | shutdown | balance_violation",
               nullable=False),
        Column("start_at", UTC_TS, "first hour of the event", nullable=False),
        Column("end_at", UTC_TS, "end of the last hour of the event; null while it is still open"),
        Column("duration_h", pa.float64(), "hours from start to end (to the end of the data while open)", unit="h", nullable=False),
        Column("severity", pa.string(), "low | medium | high", nullable=False),
        Column("peak_score", pa.float64(), "peak of the detector statistic divided by its limit (1 = at the limit)", unit="1"),
        Column("top_tags", pa.string(), "contributing tags, most important first, 'tag:share' joined by ', '"),
        Column("detail", pa.string(), "what was detected, for people", nullable=False),
        Column("detector", pa.string(), "detector that raised the event", nullable=False),
        Column("model_version", pa.string(), "model or detector version", nullable=False),
        Column("run_id", pa.string(), "run that wrote the row", nullable=False),
        Column("computed_at", UTC_TS, "when the row was computed", nullable=False),
    ),
    primary_key=("event_id",),
    partition_by=("plant_id",),
    # event_kind_known replaced kind_known when balance_violation joined the vocabulary: Delta keeps
    # constraints by name, so Lake.ensure swaps them on existing tables by the new name.
    constraints={"event_kind_known": "kind IN ('sensor_fault', 'process_anomaly', 'transient', 'shutdown', "
                                     "'balance_violation')",
                 "severity_known": "severity IN ('low', 'medium', 'high')",
                 "window_ordered": "end_at IS NULL OR start_at < end_at"},
    interval_column="start_at",
))

FCT_BALANCE_CHECKS = _add(TableSpec(
    name="gold.fct_balance_checks",
    description="Physics-aware quality gates: per plant, hour and balance (models.balances) the in and out terms "
    "of a mass, energy, carbon or charge balance computed from the hourly tag means, the residual, its standard "
    "uncertainty (instrument noise from the tag catalog propagated, plus a stated model-form allowance) and the "
    "verdict: violation when |residual| > k sigma. Runs of violating hours become balance_violation events.",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("hour_start", UTC_TS, "start of the hour (UTC)", nullable=False),
        Column("balance", pa.string(), "balance name, unique per plant (energy, carbon, charge, beer_column_mass ...)",
               nullable=False),
        Column("quantity", pa.string(), "what is conserved: mass | energy | carbon | charge | component", nullable=False),
        Column("section", pa.string(), "unit operation the balance closes over", nullable=False),
        Column("unit", pa.string(), "unit of the terms, residual and sigma (kW, t/h, kg/h, A)", nullable=False),
        Column("in_total", pa.float64(), "sum of the in terms, in `unit`"),
        Column("out_total", pa.float64(), "sum of the out terms, in `unit`"),
        Column("terms_json", pa.string(), "every term by name with its side and value, JSON", nullable=False),
        Column("residual", pa.float64(), "in_total - out_total, in `unit`"),
        Column("residual_pct", pa.float64(), "residual as percent of throughput = max(|in|, |out|)", unit="percent"),
        Column("sigma", pa.float64(), "standard uncertainty of the residual (instruments and model form), in `unit`"),
        Column("sigma_instruments", pa.float64(), "part of sigma from the tags' stated noise, in `unit`"),
        Column("sigma_model", pa.float64(), "model-form allowance, in `unit`"),
        Column("z_score", pa.float64(), "residual / sigma", unit="1"),
        Column("k_sigma", pa.float64(), "coverage factor: violation when |z_score| > k_sigma", unit="1", nullable=False),
        Column("status", pa.string(), "ok | violation | insufficient_data (a tag missing or flagged, or the plant "
               "below the balance's minimum throughput)", nullable=False),
        Column("tags_used", pa.string(), "tags the balance reads, comma-separated", nullable=False),
        Column("tag_shares", pa.string(), "measured tags' shares of the instrument variance, 'tag:share' joined by "
               "', ', largest first"),
        Column("missing_tags", pa.string(), "tags missing or flagged in the hour, comma-separated"),
        Column("model_version", pa.string(), "balance definitions version", nullable=False),
        Column("run_id", pa.string(), "run that wrote the row", nullable=False),
        Column("computed_at", UTC_TS, "when the row was computed", nullable=False),
    ),
    primary_key=("plant_id", "balance", "hour_start"),
    partition_by=("plant_id",),
    constraints={"status_known": "status IN ('ok', 'violation', 'insufficient_data')",
                 "sigma_nonnegative": "sigma IS NULL OR sigma >= 0",
                 "violation_has_z": "status <> 'violation' OR z_score IS NOT NULL"},
    interval_column="hour_start",
))

FCT_DETECTOR_EVALUATION = _add(TableSpec(
    name="gold.fct_detector_evaluation",
    description="Detectors evaluated against the simulator's truth (sim.truth__operating_episodes) per plant, "
    "detector and episode label: detection rate, mean detection delay, false-alarm rate on normal hours. Written "
    "by the evaluation (nexus evaluate-detectors), never read by a pipeline.",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("detector", pa.string(), "pca | isolation_forest | sensor_health | events", nullable=False),
        Column("category", pa.string(), "episode category evaluated (abnormal, extreme, sensor_fault, normal)", nullable=False),
        Column("label", pa.string(), "episode label, or '*' for all labels of the category", nullable=False),
        Column("window_start", UTC_TS, "start of the evaluated period", nullable=False),
        Column("window_end", UTC_TS, "end of the evaluated period", nullable=False),
        Column("episodes", pa.int64(), "episodes of the label in the period (0 for the normal-hours row)", nullable=False),
        Column("detected", pa.int64(), "episodes detected (on the right tag for sensor faults)", nullable=False),
        Column("detection_rate", pa.float64(), "detected / episodes", unit="1"),
        Column("mean_delay_h", pa.float64(), "mean hours from the episode start to its detection", unit="h"),
        Column("normal_hours", pa.int64(), "hours wholly inside normal episodes", nullable=False),
        Column("false_alarm_hours", pa.int64(), "normal hours the detector alarmed", nullable=False),
        Column("false_alarm_rate", pa.float64(), "false_alarm_hours / normal_hours", unit="1"),
        Column("goal", pa.string(), "the goal this row is measured against"),
        Column("goal_met", pa.bool_(), "whether the goal is met"),
        Column("evaluated_at", UTC_TS, "when the evaluation ran", nullable=False),
    ),
    primary_key=("plant_id", "detector", "category", "label"),
))

FCT_ASSET_HEALTH = _add(TableSpec(
    name="gold.fct_asset_health",
    description="Predictive maintenance: per plant, asset and day, a health indicator (a calibrated parameter or a "
    "data-derived indicator) trended since the last maintenance with its uncertainty and projected to the "
    "maintenance threshold: remaining useful life P10/P50/P90 and a recommendation.",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("asset", pa.string(), "equipment the indicator belongs to", nullable=False),
        Column("indicator", pa.string(), "health indicator", nullable=False),
        Column("assessed_date", pa.date32(), "day of the assessment (data up to its end)", nullable=False),
        Column("indicator_value", pa.float64(), "latest value of the indicator"),
        Column("indicator_std_error", pa.float64(), "its standard error"),
        Column("unit", pa.string(), "unit of the indicator", nullable=False),
        Column("threshold", pa.float64(), "maintenance threshold of the indicator", nullable=False),
        Column("trend_per_day", pa.float64(), "fitted trend since the last maintenance", unit="unit/d"),
        Column("trend_std_error", pa.float64(), "its standard error", unit="unit/d"),
        Column("rul_p10_days", pa.float64(), "remaining useful life, 10th percentile", unit="d"),
        Column("rul_p50_days", pa.float64(), "remaining useful life, median", unit="d"),
        Column("rul_p90_days", pa.float64(), "remaining useful life, 90th percentile", unit="d"),
        Column("threshold_date_p50", pa.date32(), "median date the threshold is reached"),
        Column("history_points", pa.int32(), "indicator values the trend was fitted on", nullable=False),
        Column("since_maintenance_date", pa.date32(), "start of the trend: the last detected maintenance, or the first data"),
        Column("method", pa.string(), "how the trend and its uncertainty were estimated", nullable=False),
        Column("status", pa.string(), "ok | plan_maintenance | maintenance_due | insufficient_data | no_degradation_trend", nullable=False),
        Column("recommendation", pa.string(), "what to do, for the maintenance planner", nullable=False),
        Column("run_id", pa.string(), "run that wrote the row", nullable=False),
        Column("computed_at", UTC_TS, "when the row was computed", nullable=False),
    ),
    primary_key=("plant_id", "asset", "indicator", "assessed_date"),
    constraints={"status_known": "status IN ('ok', 'plan_maintenance', 'maintenance_due', 'insufficient_data', "
                                 "'no_degradation_trend')"},
    interval_column="assessed_date",
))

# ==================================================================================== market feed
_PRICE_UNIT = "reporting currency per canonical unit (see `unit`)"

BRONZE_PRICE_QUOTES = _add(TableSpec(
    name="bronze.market__price_quotes",
    description="Vendor price files as received: one row per data line, typed where it parses, in the vendor's "
    "own currency and unit, with the original line and lineage.",
    columns=(
        Column("vendor", pa.string(), "vendor whose file it is (from the file name)", nullable=False),
        Column("publication_date", pa.date32(), "date the vendor published the file (from its name)", nullable=False),
        Column("series_id", pa.string(), "price series as written by the vendor"),
        Column("period_start", UTC_TS, "start of the priced period (UTC; daily periods start at 00:00 UTC)"),
        Column("period", pa.string(), "ISO 8601 duration of the period: P1D or PT1H"),
        Column("value", pa.float64(), "price in `currency` per `unit` as quoted"),
        Column("currency", pa.string(), "ISO 4217 currency of the quote"),
        Column("unit", pa.string(), "quantity unit of the quote"),
        Column("issued_at", UTC_TS, "when the vendor issued the value; a later issue of a period is a re-issue"),
        Column("_raw_line", pa.string(), "the data line as received (bytes that are not UTF-8 as \\xNN escapes)",
               nullable=False),
        Column("_parse_error", pa.string(), "why the line could not be read or typed, else null"),
        _SOURCE_FILE,
        Column("_source_sha256", pa.string(), "SHA-256 of the source file", nullable=False),
        _LINE,
        _INGESTED,
        _RUN,
    ),
    partition_by=("vendor",),
))

_PRICE_COLUMNS = (
    Column("series_id", pa.string(), "price series (<vendor>.<code>)", nullable=False),
    Column("item", pa.string(), "what is priced (activity item shared with the plant models)", nullable=False),
    Column("region", pa.string(), "market region", nullable=False),
    Column("period_start", UTC_TS, "start of the priced period (UTC)", nullable=False),
    Column("period", pa.string(), "P1D or PT1H", nullable=False),
    Column("price", pa.float64(), "price in the reporting currency per canonical unit", unit=_PRICE_UNIT, nullable=False),
    Column("unit", pa.string(), "price unit, <currency>/<canonical unit>, e.g. USD/t, USD/MWh", nullable=False),
    Column("value_original", pa.float64(), "price as quoted", nullable=False),
    Column("unit_original", pa.string(), "quote unit as quoted, e.g. USD/gal, EUR/MWh", nullable=False),
    Column("fx_rate", pa.float64(), "reporting-currency units per quote-currency unit used", nullable=False),
    Column("fx_date", pa.date32(), "date of the exchange rate used (latest on or before the period)"),
    Column("issued_at", UTC_TS, "when the vendor issued this value", nullable=False),
    Column("publication_date", pa.date32(), "publication date of the file it came from", nullable=False),
)

SILVER_PRICE_HISTORY = _add(TableSpec(
    name="silver.market__price_history",
    description="Every validated issue of every price: one row per (series, period, issue time). Re-issued "
    "prices keep their earlier issues here; silver.market__prices holds the latest.",
    columns=_PRICE_COLUMNS + (_SOURCE_FILE, _LINE, _RUN),
    primary_key=("series_id", "period_start", "issued_at"),
    partition_by=("publication_date",),
))

SILVER_PRICES = _add(TableSpec(
    name="silver.market__prices",
    description="Validated prices in canonical units and the reporting currency: one row per (series, period), "
    "the latest issue wins; the original quote is kept.",
    columns=_PRICE_COLUMNS + (
        Column("revision_count", pa.int32(), "issues of this period seen (1 = never re-issued)", nullable=False),
        _SOURCE_FILE, _LINE, _RUN),
    primary_key=("series_id", "period_start"),
    constraints={"revisions_positive": "revision_count >= 1", "fx_positive": "fx_rate > 0"},
))

SILVER_PRICE_QUARANTINE = _add(TableSpec(
    name="silver.market__price_quarantine",
    description="Vendor price rows that failed validation, with the rule and the reason; nothing is dropped silently.",
    columns=(
        Column("vendor", pa.string(), "vendor", nullable=False),
        Column("publication_date", pa.date32(), "publication date of the file", nullable=False),
        Column("series_id", pa.string(), "series as written, if it parsed"),
        Column("period_start", UTC_TS, "period start, if it parsed"),
        Column("value", pa.float64(), "value as quoted, if it parsed"),
        Column("rule", pa.string(), "first rule the row failed: parse, a suite rule (known_series, "
               "vendor_matches_series, ..., fx_rate_positive), conflicting_issue or fx_rate", nullable=False),
        Column("reason", pa.string(), "what was expected and what was found (all failed rules)", nullable=False),
        Column("_raw_line", pa.string(), "the data line as received (bytes that are not UTF-8 as \\xNN escapes)",
               nullable=False),
        _SOURCE_FILE,
        _LINE,
        Column("_quarantined_at", UTC_TS, "when the row was quarantined", nullable=False),
        _RUN,
    ),
    primary_key=("_source_file", "_line_number"),
    partition_by=("vendor", "publication_date"),
))

FCT_PRICES_DAILY = _add(TableSpec(
    name="gold.fct_prices_daily",
    description="One price per series and calendar day in the reporting currency and canonical units. Days "
    "without a quote (weekends, holidays, monthly contracts) carry the last quote forward (is_filled); hourly "
    "power is averaged over the UTC day (baseload).",
    columns=(
        Column("series_id", pa.string(), "price series", nullable=False),
        Column("item", pa.string(), "what is priced", nullable=False),
        Column("region", pa.string(), "market region", nullable=False),
        Column("price_date", pa.date32(), "calendar day (UTC)", nullable=False),
        Column("price", pa.float64(), "price", unit=_PRICE_UNIT, nullable=False),
        Column("unit", pa.string(), "<currency>/<canonical unit>", nullable=False),
        Column("value_original", pa.float64(), "the quote in its market convention (daily mean for hourly series)", nullable=False),
        Column("unit_original", pa.string(), "market convention, e.g. USD/gal", nullable=False),
        Column("observed_date", pa.date32(), "date of the quote the price comes from", nullable=False),
        Column("is_filled", pa.bool_(), "true when carried forward from an earlier quote", nullable=False),
        Column("hours", pa.int32(), "hourly prices averaged (hourly series; 24 for a full day)"),
        Column("revision_count", pa.int32(), "issues of the underlying quote (max over the hours)", nullable=False),
    ),
    primary_key=("series_id", "price_date"),
    constraints={"observed_not_after": "observed_date <= price_date"},
    interval_column="price_date",
))

FCT_PRICES_HOURLY = _add(TableSpec(
    name="gold.fct_prices_hourly",
    description="Hourly electricity prices (day-ahead auctions) in the reporting currency per MWh.",
    columns=(
        Column("series_id", pa.string(), "price series", nullable=False),
        Column("item", pa.string(), "electricity", nullable=False),
        Column("region", pa.string(), "bidding zone / hub", nullable=False),
        Column("hour_start", UTC_TS, "delivery hour start (UTC)", nullable=False),
        Column("price", pa.float64(), "price", unit=_PRICE_UNIT, nullable=False),
        Column("unit", pa.string(), "<currency>/MWh", nullable=False),
        Column("value_original", pa.float64(), "price as quoted", nullable=False),
        Column("unit_original", pa.string(), "quote unit as quoted", nullable=False),
        Column("revision_count", pa.int32(), "issues of this hour seen", nullable=False),
    ),
    primary_key=("series_id", "hour_start"),
    interval_column="hour_start",
))

# ================================================================================ regulatory feed
_VALIDITY = (
    Column("valid_from", pa.date32(), "first day the version is in force", nullable=False),
    Column("valid_to", pa.date32(), "first day it is no longer in force (the next version's valid_from or its "
           "own end date); null while in force"),
)
_DOC_REF = (
    Column("document_id", pa.string(), "regulatory document series", nullable=False),
    Column("version", pa.int32(), "version of the document", nullable=False),
)

BRONZE_REGULATORY_DOCUMENTS = _add(TableSpec(
    name="bronze.regulatory__documents",
    description="Regulatory documents as received: one row per loaded file, its header fields where they parse "
    "and its whole content as JSON.",
    columns=(
        Column("sha256", pa.string(), "SHA-256 of the file", nullable=False),
        Column("file_name", pa.string(), "file name as received", nullable=False),
        Column("document_id", pa.string(), "document_id field, if present"),
        Column("version", pa.int64(), "version field, if an integer"),
        Column("kind", pa.string(), "kind field, if present"),
        Column("content_json", pa.string(), "the parsed document as JSON; null if it did not parse"),
        Column("_parse_error", pa.string(), "why the file could not be parsed, else null"),
        _SOURCE_FILE,
        Column("_received_at", UTC_TS, "when the file was landed", nullable=False),
        _INGESTED,
        _RUN,
    ),
    primary_key=("sha256", "file_name"),
))

SILVER_REGULATORY_DOCUMENTS = _add(TableSpec(
    name="silver.regulatory__documents",
    description="Accepted versions of every regulatory document with their validity (valid_from / valid_to); "
    "a later version closes the one before it.",
    columns=_DOC_REF + (
        Column("kind", pa.string(), "gwp_set | grid_emission_factors | fuel_emission_factors | material_emission_factors "
               "| emission_limits | carbon_pricing", nullable=False),
        Column("title", pa.string(), "title", nullable=False),
        Column("source", pa.string(), "publication the values come from", nullable=False),
        *_VALIDITY,
        Column("declared_valid_to", pa.date32(), "valid_to as written in the document"),
        Column("entries", pa.int32(), "number of entries", nullable=False),
        Column("sha256", pa.string(), "SHA-256 of the file", nullable=False),
        _SOURCE_FILE,
        _RUN,
    ),
    primary_key=("document_id", "version"),
    constraints={"validity_ordered": "valid_to IS NULL OR valid_from < valid_to", "version_positive": "version >= 1"},
))

SILVER_REGULATORY_RULES = _add(TableSpec(
    name="silver.regulatory__rules",
    description="Every value of every accepted document version, one row per (document, version, entry key, "
    "parameter), with the version's validity: the history an as-of-date lookup reads.",
    columns=_DOC_REF + (
        Column("kind", pa.string(), "document kind", nullable=False),
        *_VALIDITY,
        Column("entry_key", pa.string(), "the entry's key fields, e.g. 'region=DE|basis=location'", nullable=False),
        Column("plant_id", pa.string(), "plant the rule applies to (limits, carbon pricing)"),
        Column("region", pa.string(), "grid region (grid factors)"),
        Column("subject", pa.string(), "gas, fuel, material or pollutant the value is about"),
        Column("qualifier", pa.string(), "gwp_set, basis, averaging period or scheme"),
        Column("parameter", pa.string(), "what the value is, e.g. gwp100, co2_kg_per_gj, limit", nullable=False),
        Column("value", pa.float64(), "numeric value, in `unit`"),
        Column("text_value", pa.string(), "non-numeric value (scheme, price series)"),
        Column("unit", pa.string(), "unit of value"),
    ),
    primary_key=("document_id", "version", "entry_key", "parameter"),
))

SILVER_REGULATORY_REJECTIONS = _add(TableSpec(
    name="silver.regulatory__rejections",
    description="Regulatory files that were not accepted, with the field at fault and the reason; the versions "
    "in force before them stay in force.",
    columns=(
        Column("sha256", pa.string(), "SHA-256 of the file", nullable=False),
        Column("file_name", pa.string(), "file name as received", nullable=False),
        Column("document_id", pa.string(), "document_id, if it had one"),
        Column("version", pa.int64(), "version, if it had one"),
        Column("field", pa.string(), "the field at fault (dotted path, e.g. entries[3].gwp100)", nullable=False),
        Column("reason", pa.string(), "what was expected and what was found", nullable=False),
        _SOURCE_FILE,
        _RUN,
    ),
    primary_key=("sha256", "file_name"),
))

DIM_EMISSION_FACTORS = _add(TableSpec(
    name="gold.dim_emission_factors",
    description="Emission factors and GWPs with their validity and source: GWP100 per gas and set, grid "
    "electricity (location- and market-based) per region, fuel combustion per gas, materials (cradle to gate).",
    columns=(
        Column("factor_kind", pa.string(), "gwp100 | grid_electricity | fuel_combustion | material | transport", nullable=False),
        Column("subject", pa.string(), "gas (gwp100), region (grid), fuel, material item or freight mode", nullable=False),
        Column("qualifier", pa.string(), "gwp set (AR6, AR5), basis (location, market) or '' ", nullable=False),
        Column("gas", pa.string(), "gas the factor emits (co2, ch4, n2o, co2e ...)", nullable=False),
        Column("value", pa.float64(), "factor in `unit`", nullable=False),
        Column("unit", pa.string(), "e.g. kg/GJ, kg CO2e/kWh, 1 (GWP)", nullable=False),
        Column("biogenic", pa.bool_(), "CO2 of biogenic origin (reported outside the scopes)", nullable=False),
        *_VALIDITY,
        *_DOC_REF,
        Column("source", pa.string(), "publication", nullable=False),
    ),
    primary_key=("factor_kind", "subject", "qualifier", "gas", "valid_from"),
))

DIM_REGULATORY_LIMITS = _add(TableSpec(
    name="gold.dim_regulatory_limits",
    description="Emission limits per plant and pollutant with their averaging period and validity.",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("pollutant", pa.string(), "co2e_scope1, cf4, hf, nox, voc ...", nullable=False),
        Column("averaging", pa.string(), "day | year", nullable=False),
        Column("limit_value", pa.float64(), "limit in `unit` per averaging period", nullable=False),
        Column("unit", pa.string(), "unit of the limit (mass per averaging period)", nullable=False),
        *_VALIDITY,
        *_DOC_REF,
        Column("source", pa.string(), "permit or regulation", nullable=False),
    ),
    primary_key=("plant_id", "pollutant", "averaging", "valid_from"),
))

DIM_CARBON_PRICING = _add(TableSpec(
    name="gold.dim_carbon_pricing",
    description="Carbon pricing rules per plant with their validity: scheme (eu_ets, carbon_tax, none), the "
    "allowance price series or tax rate, price floor and free allocation share.",
    columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("scheme", pa.string(), "eu_ets | carbon_tax | none", nullable=False),
        Column("price_series", pa.string(), "market series of the allowance price (eu_ets)"),
        Column("tax_rate", pa.float64(), "carbon tax per t CO2e (carbon_tax), in `currency`"),
        Column("currency", pa.string(), "currency of tax_rate and price_floor"),
        Column("price_floor", pa.float64(), "minimum carbon price per t CO2e, in `currency`"),
        Column("free_allocation_share", pa.float64(), "share of scope-1 emissions covered by free allowances",
               unit="1", nullable=False),
        *_VALIDITY,
        *_DOC_REF,
        Column("source", pa.string(), "regulation", nullable=False),
    ),
    primary_key=("plant_id", "valid_from"),
    constraints={"share_range": "free_allocation_share >= 0 AND free_allocation_share <= 1"},
))

# =================================================================================== twin runs
FCT_WHAT_IF_RUNS = _add(TableSpec(
    name="gold.fct_what_if_runs",
    description="What-if experiments on the CO2 electrolyzer twin: the operator's set points, totals over the "
    "experiment and which source (physics or surrogate) answered each output.",
    columns=(
        Column("experiment_id", pa.string(), "experiment (the DAG run's id unless named)", nullable=False),
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("run_id", pa.string(), "run that produced it", nullable=False),
        Column("requested_at", UTC_TS, "when it ran", nullable=False),
        Column("current_a", pa.float64(), "stack current set point", unit="A", nullable=False),
        Column("co2_concentration_pct", pa.float64(), "CO2 in the feed gas", unit="percent", nullable=False),
        Column("co2_flow_nm3_h", pa.float64(), "feed gas flow", unit="m**3/h", nullable=False),
        Column("duration_h", pa.float64(), "length of the experiment", unit="h", nullable=False),
        Column("step_minutes", pa.float64(), "time step of the trajectory", unit="min"),
        Column("formic_acid_kg", pa.float64(), "formic acid made (100 % basis)", unit="kg", nullable=False),
        Column("energy_kwh", pa.float64(), "stack DC energy", unit="kWh", nullable=False),
        Column("specific_energy_kwh_kg", pa.float64(), "energy per kg formic acid", unit="kWh/kg"),
        Column("co2_vented_kg", pa.float64(), "unreacted CO2 leaving with the cathode gas", unit="kg", nullable=False),
        Column("mean_faradaic_efficiency_pct", pa.float64(), "time-averaged formate Faradaic efficiency", unit="percent",
               nullable=False),
        Column("final_cell_voltage_v", pa.float64(), "average cell voltage at the end", unit="V", nullable=False),
        Column("co2_starved_fraction", pa.float64(), "share of the time the feed could not supply the CO2 the current "
               "demands", unit="1", nullable=False),
        Column("sources", pa.string(), "JSON: twin variable -> mechanistic | surrogate", nullable=False),
        Column("surrogate_metrics", pa.string(), "JSON: held-out R2 and MAPE per surrogate output, if one was used"),
        Column("notes", pa.string(), "warnings from the twin (e.g. CO2 starvation)"),
    ),
    primary_key=("experiment_id",),
))

FCT_WHAT_IF_TIMESERIES = _add(TableSpec(
    name="gold.fct_what_if_timeseries",
    description="Trajectory of each what-if experiment: set points and the twin's outputs over time.",
    columns=(
        Column("experiment_id", pa.string(), "experiment", nullable=False),
        Column("elapsed_h", pa.float64(), "time since the set-point change", unit="h", nullable=False),
        Column("current_a", pa.float64(), "stack current", unit="A", nullable=False),
        Column("current_density_ma_cm2", pa.float64(), "current density", unit="mA/cm**2", nullable=False),
        Column("co2_flow_nm3_h", pa.float64(), "feed gas flow", unit="m**3/h", nullable=False),
        Column("co2_concentration_pct", pa.float64(), "CO2 in the feed gas", unit="percent", nullable=False),
        Column("faradaic_efficiency_pct", pa.float64(), "formate Faradaic efficiency", unit="percent", nullable=False),
        Column("cell_voltage_v", pa.float64(), "average cell voltage", unit="V", nullable=False),
        Column("cell_temp_c", pa.float64(), "stack temperature", unit="degC", nullable=False),
        Column("formic_acid_kg_h", pa.float64(), "formic acid rate", unit="kg/h", nullable=False),
        Column("formic_acid_cum_kg", pa.float64(), "formic acid made so far", unit="kg", nullable=False),
        Column("h2_outlet_pct", pa.float64(), "H2 in the dry cathode outlet gas", unit="percent", nullable=False),
        Column("co2_conversion_pct", pa.float64(), "single-pass CO2 conversion", unit="percent", nullable=False),
        Column("co2_vented_kg_h", pa.float64(), "unreacted CO2", unit="kg/h", nullable=False),
        Column("stack_power_kw", pa.float64(), "stack DC power", unit="kW", nullable=False),
        Column("energy_kwh", pa.float64(), "energy so far", unit="kWh", nullable=False),
        Column("specific_energy_kwh_kg", pa.float64(), "energy per kg formic acid", unit="kWh/kg"),
        Column("co2_starved", pa.bool_(), "the feed cannot supply the CO2 the current demands", nullable=False),
        Column("ts", UTC_TS, "wall-clock time, when the experiment was anchored to a start time"),
    ),
    primary_key=("experiment_id", "elapsed_h"),
))

# ------------------------------------------------------------------------------ sustainability
_SCENARIO = Column("scenario_id", pa.string(), "'base' for the rules in force; otherwise the scenario whose "
                   "overrides were applied", nullable=False)
_COMPUTED = (
    Column("run_id", pa.string(), "run that computed the row", nullable=False),
    Column("computed_at", UTC_TS, "when it was computed", nullable=False),
)

FCT_EMISSIONS_DAILY = _add(TableSpec(
    name="gold.fct_emissions_daily",
    description="Daily greenhouse-gas emissions per plant by GHG Protocol scope, category, gas and source, from "
    "metered activity data and the factors in force that day (or a scenario's overrides). Scope 2 appears twice, "
    "location- and market-based (scope2_basis); biogenic CO2 has scope 'biogenic' and is never part of a scope "
    "total. Sum co2e_t over scope IN ('1','2','3') with scope2_basis IN ('', 'market') for a market-based total.",
    columns=(
        _SCENARIO,
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("emission_date", pa.date32(), "UTC day", nullable=False),
        Column("scope", pa.string(), "1 | 2 | 3 | biogenic", nullable=False),
        Column("category", pa.string(), "stationary_combustion | process | fugitive | purchased_electricity | "
               "purchased_steam | cat1_purchased_goods | cat4_upstream_transport | biogenic_combustion | "
               "biogenic_process", nullable=False),
        Column("scope2_basis", pa.string(), "location | market for Scope 2, else ''", nullable=False),
        Column("gas", pa.string(), "co2, ch4, n2o, cf4, c2f6, or co2e for factors given as CO2e", nullable=False),
        Column("source", pa.string(), "activity item (natural_gas, electricity, alumina ...)", nullable=False),
        Column("source_ref", pa.string(), "historian tag of the activity, or the transport leg", nullable=False),
        Column("activity_amount", pa.float64(), "activity over the day in activity_unit", nullable=False),
        Column("activity_unit", pa.string(), "unit of the activity (t, kg, GJ, kWh, t*km)", nullable=False),
        Column("factor_value", pa.float64(), "emission factor applied", nullable=False),
        Column("factor_unit", pa.string(), "unit of the factor (kg/GJ, kg/kWh, kg/kg, kg/(t*km))", nullable=False),
        Column("factor_source", pa.string(), "document and version of the factor ('measured' for metered gases, "
               "'scenario override')", nullable=False),
        Column("gwp100", pa.float64(), "GWP100 applied to gas_kg (1 for CO2 and CO2e)", unit="1", nullable=False),
        Column("gwp_source", pa.string(), "document and version of the GWP set", nullable=False),
        Column("gwp_set", pa.string(), "IPCC assessment report of the GWPs (AR6, AR5)", nullable=False),
        Column("gas_kg", pa.float64(), "mass of the gas (kg CO2e when gas is co2e)", unit="kg", nullable=False),
        Column("co2e_t", pa.float64(), "gas_kg x gwp100 in tonnes (biogenic rows: tonnes CO2)", unit="t",
               nullable=False),
        Column("biogenic", pa.bool_(), "biogenic CO2, reported outside the scopes", nullable=False),
        Column("coverage_fraction", pa.float64(), "share of the day's hours with a measured activity rate", unit="1",
               nullable=False),
        *_COMPUTED,
    ),
    primary_key=("scenario_id", "plant_id", "emission_date", "scope", "category", "scope2_basis", "gas", "source",
                 "source_ref"),
    partition_by=("plant_id",),
    constraints={"scope_known": "scope IN ('1', '2', '3', 'biogenic')",
                 "basis_known": "scope2_basis IN ('', 'location', 'market')",
                 "coverage_range": "coverage_fraction >= 0 AND coverage_fraction <= 1"},
    interval_column="emission_date",
))

FCT_EMISSIONS_SUMMARY_DAILY = _add(TableSpec(
    name="gold.fct_emissions_summary_daily",
    description="One row per plant and day: Scope 1, Scope 2 (location and market), Scope 3 and biogenic CO2 totals, "
    "product output and emission intensity per kg of product (no co-product allocation).",
    columns=(
        _SCENARIO,
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("emission_date", pa.date32(), "UTC day", nullable=False),
        Column("scope1_tco2e", pa.float64(), "Scope 1", unit="t", nullable=False),
        Column("scope2_location_tco2e", pa.float64(), "Scope 2, location-based", unit="t", nullable=False),
        Column("scope2_market_tco2e", pa.float64(), "Scope 2, market-based", unit="t", nullable=False),
        Column("scope3_tco2e", pa.float64(), "Scope 3 (categories 1 and 4)", unit="t", nullable=False),
        Column("total_location_tco2e", pa.float64(), "Scopes 1 + 2 (location) + 3", unit="t", nullable=False),
        Column("total_market_tco2e", pa.float64(), "Scopes 1 + 2 (market) + 3", unit="t", nullable=False),
        Column("biogenic_co2_t", pa.float64(), "biogenic CO2, outside the scopes", unit="t", nullable=False),
        Column("product", pa.string(), "main product (ethanol, formic_acid, aluminium)"),
        Column("product_t", pa.float64(), "product made", unit="t"),
        Column("intensity_s12_market_kg_per_kg", pa.float64(), "(Scope 1 + Scope 2 market) per kg product",
               unit="kg/kg"),
        Column("intensity_total_market_kg_per_kg", pa.float64(), "(Scopes 1 + 2 market + 3) per kg product",
               unit="kg/kg"),
        Column("electricity_export_kwh", pa.float64(), "electricity exported to the grid", unit="kWh", nullable=False),
        Column("avoided_grid_tco2e_memo", pa.float64(), "memo: location-based grid emissions the export displaces "
               "(not netted)", unit="t", nullable=False),
        Column("water_intake_m3", pa.float64(), "fresh water taken in", unit="m**3", nullable=False),
        Column("coverage_fraction", pa.float64(), "lowest share of measured hours over the activity streams",
               unit="1", nullable=False),
        Column("gwp_set", pa.string(), "GWP set", nullable=False),
        Column("documents", pa.string(), "every regulatory document version used, 'id vN' comma-separated",
               nullable=False),
        *_COMPUTED,
    ),
    primary_key=("scenario_id", "plant_id", "emission_date"),
    interval_column="emission_date",
))

FCT_EMISSION_COMPLIANCE_DAILY = _add(TableSpec(
    name="gold.fct_emission_compliance_daily",
    description="Each plant-day checked against every emission limit in force: the day's value for daily limits, the "
    "year-to-date value for yearly ones, and whether the limit is exceeded or at risk (the year-to-date rate "
    "would exceed it by year end).",
    columns=(
        _SCENARIO,
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("emission_date", pa.date32(), "UTC day", nullable=False),
        Column("pollutant", pa.string(), "gas (Scope 1 mass) or co2e_scope1", nullable=False),
        Column("averaging", pa.string(), "day | year", nullable=False),
        Column("value", pa.float64(), "value over the averaging period (year to date for yearly limits), in unit",
               nullable=False),
        Column("projected_value", pa.float64(), "year-end projection at the year-to-date rate (yearly limits)",
               nullable=False),
        Column("limit_value", pa.float64(), "limit in unit", nullable=False),
        Column("unit", pa.string(), "kg | t", nullable=False),
        Column("utilisation_pct", pa.float64(), "value / limit", unit="percent", nullable=False),
        Column("status", pa.string(), "ok | at_risk | exceeded", nullable=False),
        Column("exceeded", pa.bool_(), "status = 'exceeded'", nullable=False),
        *_DOC_REF,
        *_COMPUTED,
        Column("projected_utilisation_pct", pa.float64(), "projected value / limit: the day's for a daily limit, the "
               "year-end projection for a yearly one; status is at_risk from 90 %", unit="percent"),
    ),
    primary_key=("scenario_id", "plant_id", "emission_date", "pollutant", "averaging"),
    constraints={"status_known": "status IN ('ok', 'at_risk', 'exceeded')"},
    interval_column="emission_date",
))

FCT_REPORTS = _add(TableSpec(
    name="gold.fct_reports",
    description="Generated reports (the daily sustainability report): where the file is, its checksum and the "
    "headline figures it shows.",
    columns=(
        Column("report_kind", pa.string(), "sustainability_daily", nullable=False),
        _SCENARIO,
        Column("report_date", pa.date32(), "UTC day the report is about", nullable=False),
        Column("path", pa.string(), "file path, relative to the lake root", nullable=False),
        Column("sha256", pa.string(), "SHA-256 of the file", nullable=False),
        Column("size_bytes", pa.int64(), "file size", unit="byte", nullable=False),
        Column("plants", pa.string(), "plants covered, comma-separated", nullable=False),
        Column("total_market_tco2e", pa.float64(), "all plants, Scopes 1 + 2 (market) + 3 on the day", unit="t"),
        Column("exceedances", pa.int32(), "limits exceeded on the day", nullable=False),
        Column("sections", pa.string(), "sections included, comma-separated", nullable=False),
        *_COMPUTED,
    ),
    primary_key=("report_kind", "scenario_id", "report_date"),
    interval_column="report_date",
))

FCT_HEAT_INTEGRATION = _add(TableSpec(
    name="gold.fct_heat_integration",
    description="Pinch analysis (problem table algorithm) of each plant's hot and cold process streams, taken from "
    "its twin at the design steady state: minimum hot and cold utility, pinch temperatures, and the saving against "
    "the utility the plant uses today. streams_json holds the stream data, so the curves can be redrawn.",
    columns=(
        Column("assessment_date", pa.date32(), "day the analysis was run for", nullable=False),
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("dt_min_k", pa.float64(), "minimum approach temperature", unit="K", nullable=False),
        Column("n_streams", pa.int32(), "hot and cold streams analysed", nullable=False),
        Column("hot_utility_min_kw", pa.float64(), "minimum hot utility QH,min", unit="kW", nullable=False),
        Column("cold_utility_min_kw", pa.float64(), "minimum cold utility QC,min", unit="kW", nullable=False),
        Column("heat_recovery_kw", pa.float64(), "maximum process-to-process heat recovery", unit="kW",
               nullable=False),
        Column("pinch_shifted_c", pa.float64(), "pinch in shifted temperature (null: threshold problem)", unit="degC"),
        Column("pinch_hot_c", pa.float64(), "hot-stream temperature at the pinch", unit="degC"),
        Column("pinch_cold_c", pa.float64(), "cold-stream temperature at the pinch", unit="degC"),
        Column("current_hot_kw", pa.float64(), "hot utility used today on these streams", unit="kW", nullable=False),
        Column("current_cold_kw", pa.float64(), "cold utility used today on these streams", unit="kW", nullable=False),
        Column("hot_saving_kw", pa.float64(), "current hot utility - QH,min", unit="kW", nullable=False),
        Column("cold_saving_kw", pa.float64(), "current cold utility - QC,min", unit="kW", nullable=False),
        Column("hot_saving_pct", pa.float64(), "hot saving / current hot utility", unit="percent", nullable=False),
        Column("cold_saving_pct", pa.float64(), "cold saving / current cold utility", unit="percent", nullable=False),
        Column("summary", pa.string(), "what the analysis found, in one sentence", nullable=False),
        Column("streams_json", pa.string(), "JSON list of {name, supply_c, target_c, cp_kw_k, note}", nullable=False),
        *_COMPUTED,
    ),
    primary_key=("assessment_date", "plant_id", "dt_min_k"),
    interval_column="assessment_date",
))

FCT_LCA_RESULTS = _add(TableSpec(
    name="gold.fct_lca_results",
    description="Cradle-to-gate life cycle assessment per functional unit (1 kg of product) by the matrix method: "
    "climate change (GWP100), fossil energy demand and water consumption, per co-product allocation method, with "
    "Monte Carlo mean and 95 % interval. The grid factor is the one in force that day for the plant's region.",
    columns=(
        Column("assessment_date", pa.date32(), "day whose factors were used", nullable=False),
        _SCENARIO,
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("product", pa.string(), "product assessed", nullable=False),
        Column("functional_unit", pa.string(), "functional unit", nullable=False),
        Column("allocation", pa.string(), "mass | energy | economic | system_expansion", nullable=False),
        Column("impact_category", pa.string(), "climate_change_gwp100 | fossil_energy | water_consumption",
               nullable=False),
        Column("unit", pa.string(), "unit per functional unit (kg CO2e, MJ, m3)", nullable=False),
        Column("value", pa.float64(), "deterministic result", nullable=False),
        Column("mean", pa.float64(), "Monte Carlo mean"),
        Column("median", pa.float64(), "Monte Carlo median"),
        Column("std", pa.float64(), "Monte Carlo standard deviation"),
        Column("p2_5", pa.float64(), "2.5th percentile"),
        Column("p97_5", pa.float64(), "97.5th percentile"),
        Column("n_samples", pa.int32(), "Monte Carlo samples (0: deterministic only)", nullable=False),
        Column("grid_region", pa.string(), "grid region of the electricity", nullable=False),
        Column("grid_kg_co2e_per_kwh", pa.float64(), "location-based grid factor used", unit="kg/kWh"),
        *_COMPUTED,
    ),
    primary_key=("assessment_date", "scenario_id", "plant_id", "allocation", "impact_category"),
    interval_column="assessment_date",
))

FCT_LCA_CONTRIBUTIONS = _add(TableSpec(
    name="gold.fct_lca_contributions",
    description="Contribution of each process (foreground plant and background supply chains) to each LCA impact "
    "per functional unit; negative values are credits (system expansion).",
    columns=(
        Column("assessment_date", pa.date32(), "day whose factors were used", nullable=False),
        _SCENARIO,
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("product", pa.string(), "product assessed", nullable=False),
        Column("allocation", pa.string(), "allocation method", nullable=False),
        Column("impact_category", pa.string(), "impact category", nullable=False),
        Column("process", pa.string(), "process", nullable=False),
        Column("unit", pa.string(), "unit per functional unit", nullable=False),
        Column("value", pa.float64(), "contribution", nullable=False),
        Column("share", pa.float64(), "value / total of the category", unit="1"),
        *_COMPUTED,
    ),
    primary_key=("assessment_date", "scenario_id", "plant_id", "allocation", "impact_category", "process"),
    interval_column="assessment_date",
))

# --------------------------------------------------------------------- calibration and optimization
FCT_CALIBRATION_RUNS = _add(TableSpec(
    name="gold.fct_calibration_runs",
    description="One row per plant calibration: the fit window of normal-operation hours, how many hours were fitted "
    "and held out, validation MAPE on the held-out hours (per key output in JSON, and the worst), and the outcome.",
    columns=(
        _SCENARIO,
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("fit_date", pa.date32(), "last day of the fit window (the calibration is valid from the next day)",
               nullable=False),
        Column("model_version", pa.string(), "identifier of the parameter set: <plant>@<fit_date>", nullable=False),
        Column("window_start", UTC_TS, "first hour of the window", nullable=False),
        Column("window_end", UTC_TS, "end of the window (exclusive)", nullable=False),
        Column("hours_in_window", pa.int32(), "hours in the window", nullable=False),
        Column("hours_excluded", pa.int32(), "hours left out: transients, anomalies, missing or bad-quality data",
               nullable=False),
        Column("fit_hours", pa.int32(), "hours fitted", nullable=False),
        Column("validation_hours", pa.int32(), "held-out hours", nullable=False),
        Column("validation_mape_pct", pa.float64(), "worst validation MAPE over the key outputs", unit="percent"),
        Column("validation_mape_json", pa.string(), "JSON: key output -> validation MAPE %"),
        Column("fit_mape_json", pa.string(), "JSON: key output -> fit MAPE %"),
        Column("output_uncertainty_json", pa.string(), "JSON: key output -> mean, std, p2_5, p97_5 of the window-mean "
               "prediction when the parameters vary within their covariance (Monte Carlo propagation)"),
        Column("parameters_out_of_band", pa.int32(), "parameters flagged as drifting out of their band", nullable=False),
        Column("status", pa.string(), "calibrated | failed | insufficient_data", nullable=False),
        Column("message", pa.string(), "what was fitted, or why it failed", nullable=False),
        Column("seconds", pa.float64(), "wall time of the fit", unit="s", nullable=False),
        *_COMPUTED,
    ),
    primary_key=("scenario_id", "plant_id", "fit_date"),
    constraints={"status_known": "status IN ('calibrated', 'failed', 'insufficient_data')"},
    interval_column="fit_date",
))

FCT_MODEL_PARAMETERS = _add(TableSpec(
    name="gold.fct_model_parameters",
    description="Calibrated model parameters over time: estimate, standard error and 95 % confidence interval from the "
    "weighted least-squares fit on the window's normal-operation hours, against the design value and the normal band; "
    "out_of_band flags drift (e.g. jacket fouling, catalyst decay) for maintenance.",
    columns=(
        _SCENARIO,
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("fit_date", pa.date32(), "last day of the fit window", nullable=False),
        Column("model_version", pa.string(), "<plant>@<fit_date>", nullable=False),
        Column("parameter", pa.string(), "parameter name (as the twin names it)", nullable=False),
        Column("unit", pa.string(), "unit of the parameter", nullable=False),
        Column("estimate", pa.float64(), "fitted value", nullable=False),
        Column("std_error", pa.float64(), "standard error"),
        Column("ci95_low", pa.float64(), "95 % confidence interval, low"),
        Column("ci95_high", pa.float64(), "95 % confidence interval, high"),
        Column("design_value", pa.float64(), "design (as-built) value", nullable=False),
        Column("band_low", pa.float64(), "normal band, low", nullable=False),
        Column("band_high", pa.float64(), "normal band, high", nullable=False),
        Column("drift_pct", pa.float64(), "estimate vs design", unit="percent", nullable=False),
        Column("out_of_band", pa.bool_(), "estimate outside the normal band", nullable=False),
        Column("window_start", UTC_TS, "first hour of the fit window", nullable=False),
        Column("window_end", UTC_TS, "end of the fit window (exclusive)", nullable=False),
        Column("validation_mape_pct", pa.float64(), "worst validation MAPE of the plant's key outputs", unit="percent"),
        *_COMPUTED,
        Column("correlation_json", pa.string(), "JSON: other estimated parameter -> correlation with this one (the "
               "fit's linearised covariance is std_error x correlation x std_error); null when fitted alone"),
    ),
    primary_key=("scenario_id", "plant_id", "fit_date", "parameter"),
    interval_column="fit_date",
))

FCT_SETPOINT_RECOMMENDATIONS = _add(TableSpec(
    name="gold.fct_setpoint_recommendations",
    description="Recommended setpoints per plant and day from the Pyomo optimization (IPOPT), one row per setpoint, "
    "with the expected profit and CO2e against the current operating point, the model version (calibration) and the "
    "prices, carbon price and grid factor used.",
    columns=(
        _SCENARIO,
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("recommendation_date", pa.date32(), "day the recommendation is for (prices and rules in force)",
               nullable=False),
        Column("setpoint", pa.string(), "decision variable", nullable=False),
        Column("unit", pa.string(), "unit of the setpoint", nullable=False),
        Column("current_value", pa.float64(), "current setpoint"),
        Column("recommended_value", pa.float64(), "optimal setpoint", nullable=False),
        Column("lower_bound", pa.float64(), "equipment lower bound"),
        Column("upper_bound", pa.float64(), "equipment upper bound"),
        Column("expected_profit_usd_h", pa.float64(), "operating profit at the recommendation", unit="USD/h",
               nullable=False),
        Column("current_profit_usd_h", pa.float64(), "operating profit at the current point", unit="USD/h",
               nullable=False),
        Column("delta_profit_usd_h", pa.float64(), "expected - current", unit="USD/h", nullable=False),
        Column("expected_co2e_kg_h", pa.float64(), "Scope 1 + location-based Scope 2 at the recommendation",
               unit="kg/h", nullable=False),
        Column("current_co2e_kg_h", pa.float64(), "the same at the current point", unit="kg/h", nullable=False),
        Column("delta_co2e_kg_h", pa.float64(), "expected - current", unit="kg/h", nullable=False),
        Column("model_version", pa.string(), "parameter set used (<plant>@<fit_date> or design)", nullable=False),
        Column("prices_json", pa.string(), "JSON: item -> price used (USD per unit) and its source", nullable=False),
        Column("carbon_price_usd_t", pa.float64(), "carbon price net of free allocation", unit="USD/t", nullable=False),
        Column("grid_kg_co2e_per_kwh", pa.float64(), "grid factor used", unit="kg/kWh", nullable=False),
        Column("limits_json", pa.string(), "JSON: hourly emission caps applied", nullable=False),
        Column("active_constraints", pa.string(), "constraints at their bound, comma-separated", nullable=False),
        Column("termination", pa.string(), "solver termination", nullable=False),
        Column("solve_seconds", pa.float64(), "wall time of all stages", unit="s", nullable=False),
        *_COMPUTED,
        Column("decision_policy", pa.string(), "how the point was picked from the Pareto front "
               "(optimization.policy; null: rows written before policies existed, maximum profit)"),
        Column("policy_note", pa.string(), "what the policy did: the cap or price it applied, a fallback and why"),
    ),
    primary_key=("scenario_id", "plant_id", "recommendation_date", "setpoint"),
    interval_column="recommendation_date",
))

FCT_PARETO_FRONT = _add(TableSpec(
    name="gold.fct_pareto_front",
    description="Profit vs CO2e Pareto front per plant and day by the epsilon-constraint method: the maximum profit for "
    "each cap on CO2e between the minimum-CO2e and the maximum-profit operating points.",
    columns=(
        _SCENARIO,
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("recommendation_date", pa.date32(), "day", nullable=False),
        Column("point", pa.int32(), "0 = minimum CO2e ... n-1 = maximum profit", nullable=False),
        Column("kind", pa.string(), "min_co2e | epsilon | max_profit", nullable=False),
        Column("co2e_cap_kg_h", pa.float64(), "epsilon: cap on CO2e (null at the end points)", unit="kg/h"),
        Column("co2e_kg_h", pa.float64(), "CO2e at the point", unit="kg/h", nullable=False),
        Column("profit_usd_h", pa.float64(), "profit at the point", unit="USD/h", nullable=False),
        Column("setpoints_json", pa.string(), "JSON: setpoint -> value", nullable=False),
        Column("termination", pa.string(), "solver termination", nullable=False),
        Column("model_version", pa.string(), "parameter set used", nullable=False),
        *_COMPUTED,
    ),
    primary_key=("scenario_id", "plant_id", "recommendation_date", "point"),
    interval_column="recommendation_date",
))

# ------------------------------------------------------------------------- proving the benefits
# DESIGN.md "Proving the benefits": KPIs per instance and day measured from the historian, and
# counterfactual replays of the calibrated twin under decision policies (optimization.benefits).
FCT_KPIS_DAILY = _add(TableSpec(
    name="gold.fct_kpis_daily",
    description="Key performance indicators per plant instance and UTC day, measured: product, operating profit "
    "(metered activity x the prices in force, carbon cost on Scope 1), net purchased energy and specific energy, "
    "waste (defined per plant type, see waste_definition), CO2e (Scope 1 + location-based Scope 2, and with Scope 3) "
    "and its intensity, fresh water. Amounts integrate gold hourly tag means (optimization.benefits.KPI_BASES).",
    columns=(
        _SCENARIO,
        Column("plant_id", pa.string(), "plant instance", nullable=False),
        Column("kpi_date", pa.date32(), "UTC day", nullable=False),
        Column("product", pa.string(), "main product", nullable=False),
        Column("product_unit", pa.string(), "unit of product_amount and the per-unit KPIs (t, or kmol for the CSTR)",
               nullable=False),
        Column("product_amount", pa.float64(), "product made over the day, in product_unit", nullable=False),
        Column("hours_measured", pa.int32(), "hours of the day with a measured product rate", nullable=False),
        Column("revenue_usd", pa.float64(), "products and exported electricity at market prices", unit="USD"),
        Column("purchases_usd", pa.float64(), "feedstocks, chemicals, fuel and electricity bought", unit="USD"),
        Column("energy_cost_usd", pa.float64(), "fuel and electricity bought, less electricity sold", unit="USD"),
        Column("carbon_cost_usd", pa.float64(), "Scope 1 CO2e x the carbon price net of free allocation", unit="USD"),
        Column("operating_profit_usd", pa.float64(), "revenue - purchases - carbon cost", unit="USD"),
        Column("energy_gj", pa.float64(), "energy used over the day: fuel fired (LHV) + electricity imported - "
               "exported (energy_definition)", unit="GJ", nullable=False),
        Column("energy_definition", pa.string(), "what counts as energy for this plant type", nullable=False),
        Column("specific_energy_gj_per_unit", pa.float64(), "energy_gj per product_unit", unit="GJ/product_unit"),
        Column("waste_amount", pa.float64(), "waste over the day (waste_definition), in waste_unit", nullable=False),
        Column("waste_unit", pa.string(), "unit of waste_amount (t, or kmol for the CSTR)", nullable=False),
        Column("waste_per_unit", pa.float64(), "waste_amount per product_unit", unit="waste_unit/product_unit"),
        Column("waste_definition", pa.string(), "what counts as waste for this plant type", nullable=False),
        Column("co2e_s12_t", pa.float64(), "Scope 1 + Scope 2 (location-based)", unit="t"),
        Column("co2e_total_t", pa.float64(), "Scopes 1 + 2 (location-based) + 3", unit="t"),
        Column("intensity_s12_t_per_unit", pa.float64(), "co2e_s12_t per product_unit", unit="t/product_unit"),
        Column("intensity_total_t_per_unit", pa.float64(), "co2e_total_t per product_unit", unit="t/product_unit"),
        Column("water_m3", pa.float64(), "fresh water taken in", unit="m**3", nullable=False),
        Column("water_m3_per_unit", pa.float64(), "water_m3 per product_unit", unit="m**3/product_unit"),
        Column("prices_json", pa.string(), "JSON: item -> price used and its source", nullable=False),
        *_COMPUTED,
    ),
    primary_key=("scenario_id", "plant_id", "kpi_date"),
    constraints={"kpi_amounts_not_negative": "product_amount >= 0 AND waste_amount >= 0 AND water_m3 >= 0",
                 "kpi_hours_range": "hours_measured >= 0 AND hours_measured <= 24"},
    interval_column="kpi_date",
))

FCT_BENEFITS_DAILY = _add(TableSpec(
    name="gold.fct_benefits_daily",
    description="Counterfactual closed-loop replay of a past day with the calibrated twin, per plant instance, "
    "scenario and decision policy: 'baseline' re-simulates the operation that was recorded (and says how well it "
    "reproduces the historian), each policy applies the setpoints it picks through the write-back envelope's steps "
    "and ramps in the hours without an open event. KPIs and deltas against the baseline, with one-sigma "
    "uncertainties propagated from the calibration's standard errors.",
    columns=(
        _SCENARIO,
        Column("plant_id", pa.string(), "plant instance", nullable=False),
        Column("plant_type", pa.string(), "plant type of the instance (its targets: gold.dim_benefit_targets)",
               nullable=False),
        Column("benefit_date", pa.date32(), "UTC day replayed", nullable=False),
        Column("policy", pa.string(), "baseline | max_profit | max_profit_no_co2e_increase | internal_carbon_price "
               "| min_co2e_profit_floor | co2e_budget", nullable=False),
        Column("policy_params_json", pa.string(), "JSON: the policy's parameters and what it did", nullable=False),
        Column("hours_replayed", pa.int32(), "hours the twin could be evaluated at the recorded operation",
               nullable=False),
        Column("hours_applied", pa.int32(), "hours the policy's setpoints were in force (no open event)",
               nullable=False),
        Column("product_unit", pa.string(), "unit of product_amount (t, or kmol for the CSTR)", nullable=False),
        Column("product_amount", pa.float64(), "product made", nullable=False),
        Column("profit_usd", pa.float64(), "operating profit (the optimizer's definition)", unit="USD",
               nullable=False),
        Column("energy_gj", pa.float64(), "energy used (the plant type's definition, as in gold.fct_kpis_daily)",
               unit="GJ", nullable=False),
        Column("energy_cost_usd", pa.float64(), "cost of that energy at the day's prices", unit="USD",
               nullable=False),
        Column("waste_amount", pa.float64(), "waste (the plant type's definition, as in gold.fct_kpis_daily)",
               nullable=False),
        Column("waste_unit", pa.string(), "unit of waste_amount (t, or kmol for the CSTR)", nullable=False),
        Column("co2e_t", pa.float64(), "Scope 1 + location-based Scope 2", unit="t", nullable=False),
        Column("specific_energy_gj_per_unit", pa.float64(), "energy_gj / product_amount", unit="GJ/product_unit"),
        Column("energy_cost_usd_per_unit", pa.float64(), "energy_cost_usd / product_amount",
               unit="USD/product_unit"),
        Column("waste_per_unit", pa.float64(), "waste_amount / product_amount", unit="waste_unit/product_unit"),
        Column("co2e_t_per_unit", pa.float64(), "co2e_t / product_amount", unit="t/product_unit"),
        Column("delta_profit_pct", pa.float64(), "against the baseline (0 for the baseline)", unit="percent"),
        Column("delta_profit_pct_sd", pa.float64(), "one sigma of delta_profit_pct", unit="percent"),
        Column("delta_specific_energy_pct", pa.float64(), "against the baseline", unit="percent"),
        Column("delta_specific_energy_pct_sd", pa.float64(), "one sigma", unit="percent"),
        Column("delta_energy_cost_per_unit_pct", pa.float64(), "against the baseline", unit="percent"),
        Column("delta_energy_cost_per_unit_pct_sd", pa.float64(), "one sigma", unit="percent"),
        Column("delta_waste_per_unit_pct", pa.float64(), "against the baseline", unit="percent"),
        Column("delta_waste_per_unit_pct_sd", pa.float64(), "one sigma", unit="percent"),
        Column("delta_co2e_pct", pa.float64(), "against the baseline", unit="percent"),
        Column("delta_co2e_pct_sd", pa.float64(), "one sigma", unit="percent"),
        Column("delta_co2e_per_unit_pct", pa.float64(), "against the baseline", unit="percent"),
        Column("delta_co2e_per_unit_pct_sd", pa.float64(), "one sigma", unit="percent"),
        Column("reproduction_tag", pa.string(), "baseline: historian tag the replay is checked against"),
        Column("reproduction_bias_pct", pa.float64(), "baseline: replayed - measured day mean of that tag, % of "
               "measured", unit="percent"),
        Column("reproduction_mape_pct", pa.float64(), "baseline: mean absolute error of the replayed hours against "
               "the measured hourly means, % of measured", unit="percent"),
        Column("reproduction_z", pa.float64(), "baseline: RMS of the hourly residuals over the instrument's noise sigma "
               "(tag catalog); null for a calculated tag", unit="1"),
        Column("reproduces", pa.bool_(), "baseline: |bias| <= 2 %, MAPE <= 3 % and z <= 3 where z is defined"),
        Column("setpoints_json", pa.string(), "JSON: setpoint -> mean value applied over the replayed hours",
               nullable=False),
        Column("model_version", pa.string(), "calibrated parameter set", nullable=False),
        *_COMPUTED,
    ),
    primary_key=("scenario_id", "plant_id", "benefit_date", "policy"),
    constraints={"benefit_hours_range": "hours_applied >= 0 AND hours_applied <= hours_replayed "
                                        "AND hours_replayed <= 24"},
    interval_column="benefit_date",
))

DIM_BENEFIT_TARGETS = _add(TableSpec(
    name="gold.dim_benefit_targets",
    description="The benefits the origin documents promise per plant type: KPI, target change (a range where the "
    "document gives one) and where it comes from. Plant types without a promised figure have no rows.",
    columns=(
        Column("plant_type", pa.string(), "plant type", nullable=False),
        Column("kpi", pa.string(), "profit | specific_energy | energy_cost_per_unit | waste_per_unit | co2e_per_unit",
               nullable=False),
        Column("target_pct", pa.float64(), "promised change, the less ambitious end of a range", unit="percent",
               nullable=False),
        Column("target_stretch_pct", pa.float64(), "the ambitious end of a range (= target_pct when one figure)",
               unit="percent", nullable=False),
        Column("source", pa.string(), "document and wording of the promise", nullable=False),
    ),
    primary_key=("plant_type", "kpi"),
))

FCT_SENSITIVITY_INDICES = _add(TableSpec(
    name="gold.fct_sensitivity_indices",
    description="Sobol' first- and total-order indices of the plant's profit and CO2e at the day's operating point "
    "with respect to the calibrated parameters' uncertainty (models.sensitivity), with bootstrap 95 % intervals.",
    columns=(
        _SCENARIO,
        Column("plant_id", pa.string(), "plant instance", nullable=False),
        Column("analysis_date", pa.date32(), "day whose conditions and calibration were used", nullable=False),
        Column("output", pa.string(), "profit_usd_h | co2e_kg_h", nullable=False),
        Column("parameter", pa.string(), "calibrated parameter", nullable=False),
        Column("first_order", pa.float64(), "S1: share of the output variance the parameter explains alone",
               unit="1", nullable=False),
        Column("first_order_low", pa.float64(), "95 % interval, low", unit="1"),
        Column("first_order_high", pa.float64(), "95 % interval, high", unit="1"),
        Column("total_order", pa.float64(), "ST: share including all interactions", unit="1", nullable=False),
        Column("total_order_low", pa.float64(), "95 % interval, low", unit="1"),
        Column("total_order_high", pa.float64(), "95 % interval, high", unit="1"),
        Column("output_mean", pa.float64(), "mean of the output over the sample", nullable=False),
        Column("output_sd", pa.float64(), "standard deviation of the output over the sample", nullable=False),
        Column("n_samples", pa.int64(), "model evaluations", nullable=False),
        Column("model_version", pa.string(), "calibrated parameter set", nullable=False),
        *_COMPUTED,
    ),
    primary_key=("scenario_id", "plant_id", "analysis_date", "output", "parameter"),
    interval_column="analysis_date",
))

# ------------------------------------------------------------------------------ data quality
FCT_VALIDATION_RESULTS = _add(TableSpec(
    name="gold.fct_validation_results",
    description="One row per Great Expectations validation of a batch (write-audit-publish): the suite, the batch, "
    "how many expectations were evaluated and failed, the failures summarized, and the Data Docs page that shows "
    "the full result. Written by warehouse.validation_docs.record_validations.",
    columns=(
        Column("suite", pa.string(), "suite name, e.g. silver.process__sensor_readings:cstr", nullable=False),
        Column("table_name", pa.string(), "table the validated rows were bound for", nullable=False),
        Column("batch_id", pa.string(), "batch within the suite: plant or vendor and days", nullable=False),
        Column("plant_id", pa.string(), "plant (or vendor) of the batch, when the suite is per plant"),
        Column("first_day", pa.date32(), "first UTC day of the batch"),
        Column("last_day", pa.date32(), "last UTC day of the batch"),
        Column("dag_id", pa.string(), "pipeline that validated", nullable=False),
        Column("run_id", pa.string(), "run that validated", nullable=False),
        Column("task_id", pa.string(), "task that validated"),
        Column("validated_at", UTC_TS, "when the result was recorded", nullable=False),
        Column("rows_validated", pa.int64(), "rows in the batch", nullable=False),
        Column("rows_failed", pa.int64(), "rows failing at least one expectation (quarantined)", nullable=False),
        Column("evaluated_expectations", pa.int32(), "expectations evaluated", nullable=False),
        Column("successful_expectations", pa.int32(), "expectations every row met", nullable=False),
        Column("unsuccessful_expectations", pa.int32(), "expectations some row failed", nullable=False),
        Column("success", pa.bool_(), "every expectation met by every row", nullable=False),
        Column("failures", pa.string(), "failed expectations, '<reason>: <rows> rows' joined by '; ' (null if none)"),
        Column("data_docs_path", pa.string(), "the result's Data Docs page, relative to the lake root (null when "
               "the pages were not built)"),
    ),
    primary_key=("suite", "batch_id", "run_id"),
    constraints={"expectations_add_up": "evaluated_expectations = successful_expectations + unsuccessful_expectations",
                 "rows_failed_le_rows": "rows_failed <= rows_validated"},
    interval_column="validated_at",
))

# ------------------------------------------------------------------------------------ live path
# The live path (DESIGN.md "Live path and write-back"): readings streamed by plant edges over MQTT
# (contract: nexus.wire) and setpoint writes back to them.
BRONZE_STREAM_READINGS = _add(TableSpec(
    name="bronze.mqtt__tag_readings",
    description="Readings received over MQTT as sent (one row per point of a data message; one row for a message "
    "that could not be read), with the message's stream and sequence number: (_stream, _seq) is the collector's "
    "deduplication key, so a message delivered twice is stored once.",
    columns=(
        Column("plant_id", pa.string(), "plant instance the message came from (its topic's, if unreadable)",
               nullable=False),
        Column("period_date", pa.date32(), "UTC day of the reading (of the receipt for an unreadable point)",
               nullable=False),
        Column("tag", pa.string(), "tag as sent, if it could be read"),
        Column("timestamp", UTC_TS, "reading time as sent, if it could be read"),
        Column("value", pa.float64(), "reading in the tag's engineering unit; null if none was sent"),
        Column("quality", pa.int32(), "OPC DA quality code as sent"),
        Column("_raw_line", pa.string(), "the point as received (JSON), or the unreadable payload (first 4 kB)",
               nullable=False),
        Column("_parse_error", pa.string(), "why the point or message breaks the wire contract, else null"),
        Column("_topic", pa.string(), "MQTT topic of the message", nullable=False),
        Column("_stream", pa.string(), "edge[.epoch]/plant_id/unit: the scope of _seq ('?/<topic>' if unreadable)",
               nullable=False),
        Column("_seq", pa.int64(), "message sequence number within its stream (for an unreadable message: a 56-bit "
               "hash of its bytes, so a redelivery is stored once)", nullable=False),
        Column("_point", pa.int32(), "0-based position of the point in its message (-1: the whole message)",
               nullable=False),
        Column("_sent_at", UTC_TS, "when the edge published the message (its clock), if readable"),
        Column("_received_at", UTC_TS, "when the collector received the message", nullable=False),
        _INGESTED,
        _RUN,
    ),
    primary_key=("_stream", "_seq", "_point"),
    partition_by=("plant_id", "period_date"),
    constraints={"point_position": "_point >= -1"},
))

FCT_STREAM_BATCHES = _add(TableSpec(
    name="gold.fct_stream_batches",
    description="Row accounting of the live path per plant and UTC day, updated as micro-batches land: messages "
    "and points received, redeliveries dropped by the deduplication key, and where every point went. Invariant: "
    "points_received = silver_rows + quarantined_rows + held_rows + duplicates_removed (points of a day whose "
    "historian export has already been loaded stay in bronze and are reconciled, not published twice).",
    columns=(
        Column("plant_id", pa.string(), "plant instance", nullable=False),
        Column("period_date", pa.date32(), "UTC day of the readings", nullable=False),
        Column("messages", pa.int64(), "distinct messages stored in bronze", nullable=False),
        Column("redeliveries_dropped", pa.int64(), "messages received again (same stream and seq) and dropped",
               nullable=False),
        Column("points_received", pa.int64(), "bronze rows of the day (points, and unreadable messages)",
               nullable=False),
        Column("silver_rows", pa.int64(), "points published to silver by the collector", nullable=False),
        Column("quarantined_rows", pa.int64(), "points sent to the sensor quarantine", nullable=False),
        Column("held_rows", pa.int64(), "points kept in bronze only: the day's historian export had been loaded",
               nullable=False),
        Column("duplicates_removed", pa.int64(), "points identical to a reading already published (same tag, time, "
               "value and quality), kept once", nullable=False),
        Column("last_reading_at", UTC_TS, "newest reading time of the day"),
        Column("last_commit_at", UTC_TS, "when the collector last committed rows of the day", nullable=False),
        Column("run_id", pa.string(), "collector run that wrote the row", nullable=False),
    ),
    primary_key=("plant_id", "period_date"),
    constraints={"stream_points_accounted": "points_received = silver_rows + quarantined_rows + held_rows + "
                                            "duplicates_removed"},
))

FCT_STREAM_RECONCILIATION = _add(TableSpec(
    name="gold.fct_stream_reconciliation",
    description="The streamed readings of a plant-day against its daily historian export, per tag: how many "
    "readings each side has, how many agree within the tag's noise band, differ, or are on one side only. The "
    "historian export is the record; silver holds its rows, and the stream's are never counted twice.",
    columns=(
        Column("plant_id", pa.string(), "plant instance", nullable=False),
        Column("reading_date", pa.date32(), "UTC day", nullable=False),
        Column("tag", pa.string(), "tag", nullable=False),
        Column("streamed", pa.int64(), "distinct readings of the tag received over MQTT", nullable=False),
        Column("historian", pa.int64(), "readings of the tag in silver from the historian export", nullable=False),
        Column("matched", pa.int64(), "readings at the same time on both sides with equal values (within tolerance)",
               nullable=False),
        Column("differing", pa.int64(), "readings at the same time on both sides with different values",
               nullable=False),
        Column("stream_only", pa.int64(), "streamed readings the export does not have", nullable=False),
        Column("historian_only", pa.int64(), "exported readings the stream did not deliver", nullable=False),
        Column("max_abs_difference", pa.float64(), "largest |stream - historian| of readings at the same time, "
               "in the tag's engineering unit"),
        Column("tolerance", pa.float64(), "agreement tolerance used, in the tag's engineering unit", nullable=False),
        Column("status", pa.string(), "agree | differ | incomplete (one side misses readings)", nullable=False),
        Column("reconciled_at", UTC_TS, "when the row was computed", nullable=False),
        Column("run_id", pa.string(), "run that computed the row", nullable=False),
    ),
    primary_key=("plant_id", "reading_date", "tag"),
    partition_by=("plant_id",),
    constraints={"reconciliation_status_known": "status IN ('agree', 'differ', 'incomplete')",
                 "sides_add_up": "streamed = matched + differing + stream_only AND "
                                 "historian = matched + differing + historian_only"},
    interval_column="reading_date",
))

FCT_SETPOINT_WRITES = _add(TableSpec(
    name="gold.fct_setpoint_writes",
    description="Audit of setpoint writes, one row per state change (append-only): proposed from a recommendation, "
    "approved or rejected by an operator, checked by the safety envelope (refused writes never reach the broker), "
    "published, acknowledged by the edge, confirmed by readback or reverted.",
    columns=(
        Column("write_id", pa.string(), "the write", nullable=False),
        Column("step", pa.int32(), "1-based position of the state change within the write", nullable=False),
        Column("state", pa.string(), "proposed | approved | rejected | refused | published | acknowledged | "
               "confirmed | reverted | failed", nullable=False),
        Column("changed_at", UTC_TS, "when the state was entered (the plant's clock)", nullable=False),
        Column("actor", pa.string(), "who: the operator's identity, or nexus / edge", nullable=False),
        Column("plant_id", pa.string(), "plant instance", nullable=False),
        Column("tag", pa.string(), "setpoint tag written", nullable=False),
        Column("setpoint", pa.string(), "decision variable of the recommendation", nullable=False),
        Column("unit", pa.string(), "engineering unit of from_value and to_value (the tag's)", nullable=False),
        Column("from_value", pa.float64(), "setpoint before the write (last good value)"),
        Column("to_value", pa.float64(), "setpoint the write asks for", nullable=False),
        Column("reason", pa.string(), "why: the operator's reason, the refusal, the readback result", nullable=False),
        Column("checks_json", pa.string(), "JSON: envelope check -> {passed, detail}, where the state ran checks"),
        Column("recommendation_date", pa.date32(), "recommendation the write came from"),
        Column("scenario_id", pa.string(), "scenario of that recommendation"),
    ),
    primary_key=("write_id", "step"),
    constraints={"write_state_known": "state IN ('proposed', 'approved', 'rejected', 'refused', 'published', "
                                      "'acknowledged', 'confirmed', 'reverted', 'failed')",
                 "step_positive": "step >= 1"},
    interval_column="changed_at",
))
