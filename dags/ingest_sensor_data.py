"""
### Ingest sensor data

Daily ingestion of plant-historian exports for every plant instance of the fleet (the `plants`
param, default all of them; the fleet is `models/fleet.toml` or the file `NEXUS_FLEET` names, and
`gold.dim_assets` holds its hierarchy). Each step runs once per plant instance (dynamic task
mapping; the mapped task instances are named by plant in the UI), so plants proceed in parallel and
one plant's bad day does not hold up another:

1. **land_files** — moves the day's export files from the landing folder into raw (kept byte for
   byte, with a sha256 manifest; a file already landed is not loaded twice).
2. **load_bronze** — parses every line into `bronze.historian__tag_readings`.
3. **publish_silver** — validates with Great Expectations (tag catalog, instrument ranges,
   timestamps in the day, contract), publishes passing rows to `silver.process__sensor_readings`
   in canonical units, quarantines the rest in `silver.process__sensor_quarantine` with the reason,
   and records the row accounting in `gold.fct_ingest_batches`.
4. **build_gold** — hourly time-weighted statistics in `gold.fct_tag_hourly`, plus `gold.dim_tags`
   and `gold.dim_plants`. If the plant also streamed the day over MQTT (`nexus collect`), the
   export replaced the streamed readings in silver and the two are compared tag by tag in
   `gold.fct_stream_reconciliation` (agree / differ / incomplete; nothing is counted twice).
5. **validate_completeness** — compares the readings that reached silver with what the tag catalog
   expects for the day (tags × samples per day; `completeness` and `status` in
   `gold.fct_ingest_batches`). Only a day with at least `min_completeness` of them announces fresh
   data (the `silver.process__sensor_readings` and `gold.fct_tag_hourly` asset events that start
   monitoring, calibration and optimization downstream). A day with no files, or far fewer readings,
   is **skipped** here with an alert in the task log: downstream pipelines do not run on it.

A run processes exactly its **data interval**, one UTC day *D* (`[D, D+1)`): the scheduled run is
due at 00:00 UTC on *D+1*, when the day has ended, and shows *D* as its logical date. Backfill
dates are due dates (`--from-date 2026-03-02` starts with the run of 2026-03-01). A run triggered
by hand without a logical date ingests the last complete UTC day. Every step replaces its
plant-day, so clearing a run or backfilling a period gives the same rows, never duplicates. Query the results with `nexus sql`.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from models.fleet import instance_ids  # the fleet file; plant modules load lazily
from nexus.assets import GOLD_TAG_HOURLY, SILVER_SENSOR_READINGS
from nexus.dag_support import alert_on_skip

PLANTS = instance_ids()  # plant instances of the fleet (models/fleet.toml or NEXUS_FLEET)


def _batch_and_meta(plant_id: str, step: str):
    """The batch of this run's data interval for one plant, the lake and the commit metadata (at run time)."""
    from etl.sensor import Batch
    from nexus.settings import get_settings
    from warehouse.lake import CommitMeta, Lake

    ctx = get_current_context()
    ctx["plant_id"] = plant_id  # names the mapped task instance in the UI (map_index_template)
    start, end = ctx.get("data_interval_start"), ctx.get("data_interval_end")
    if start is None or end is None:  # triggered without a logical date (the UI's default): no interval
        end = ctx["dag_run"].run_after
        start = end - dt.timedelta(days=1)
    batch = Batch.from_interval(plant_id, start, end)
    meta = CommitMeta(dag_id=ctx["dag"].dag_id, run_id=ctx["run_id"], source=f"sensor:{plant_id}",
                      extra={"task_id": step, "data_interval": f"{batch.start.isoformat()}/{batch.end.isoformat()}"})
    settings = get_settings()
    return batch, Lake(settings.lake_root), meta, settings


@dag(
    schedule=CronTriggerTimetable("0 0 * * *", timezone="UTC", interval=dt.timedelta(days=1)),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["nexus", "sensor", "ingest"],
    default_args={"owner": "nexus", "retries": 2, "retry_delay": dt.timedelta(minutes=1)},
    params={"plants": Param(PLANTS, type="array", items={"type": "string", "enum": PLANTS},
                            examples=PLANTS,
                            minItems=1, uniqueItems=True, description="Plants whose historian exports to ingest"),
            "min_completeness": Param(0.5, type="number", minimum=0, maximum=1,
                                      description="Share of the catalog's expected readings a plant-day needs to "
                                                  "announce fresh data downstream")},
    doc_md=__doc__,
)
def ingest_sensor_data():
    @task
    def select_plants() -> list[str]:
        """The run's plant instances; brings `gold.dim_assets` in line with the fleet file first."""
        from etl.assets import publish_assets
        from nexus.settings import get_settings
        from warehouse.lake import CommitMeta, Lake

        ctx = get_current_context()
        meta = CommitMeta(dag_id=ctx["dag"].dag_id, run_id=ctx["run_id"], source="fleet",
                          extra={"task_id": "select_plants"})
        publish_assets(Lake(get_settings().lake_root), meta)
        return list(ctx["params"]["plants"])

    @task(map_index_template="{{ plant_id }}")
    def land_files(plant_id: str) -> dict:
        from etl.sensor import land

        batch, lake, meta, settings = _batch_and_meta(plant_id, "land_files")
        return {"plant_id": plant_id, **land(lake, settings.landing_dir, batch, meta)}

    @task(map_index_template="{{ plant_id }}")
    def load_bronze(landed: dict) -> dict:
        from etl.sensor import load_bronze as load

        batch, lake, meta, _ = _batch_and_meta(landed["plant_id"], "load_bronze")
        return {"plant_id": batch.plant_id, **load(lake, batch, meta)}

    @task(map_index_template="{{ plant_id }}")
    def publish_silver(bronze: dict) -> dict:
        from etl.sensor import publish_silver as publish
        from warehouse.validation_docs import record_validations

        batch, lake, meta, _ = _batch_and_meta(bronze["plant_id"], "publish_silver")
        out = {"plant_id": batch.plant_id, **publish(lake, batch, meta)}
        record_validations(lake, meta)  # gold.fct_validation_results and Data Docs, once per batch
        return out

    @task(map_index_template="{{ plant_id }}")
    def build_gold(silver: dict) -> dict:
        from etl.sensor import build_gold as build
        from etl.stream import reconcile_days

        batch, lake, meta, _ = _batch_and_meta(silver["plant_id"], "build_gold")
        gold = build(lake, batch, meta)
        return {**silver, "gold": gold, "stream_reconciliation": reconcile_days(lake, batch.plant_id, batch.days, meta)}

    @task(outlets=[SILVER_SENSOR_READINGS, GOLD_TAG_HOURLY], map_index_template="{{ plant_id }}",
          on_skipped_callback=alert_on_skip)
    def validate_completeness(built: dict) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from etl.sensor import completeness_status

        ctx = get_current_context()
        ctx["plant_id"] = built["plant_id"]
        minimum = float(ctx["params"]["min_completeness"])
        status = completeness_status(built["bronze_rows"], built["completeness"], minimum)
        if status in ("empty", "incomplete"):
            raise AirflowSkipException(
                f"{built['plant_id']}: {status} day, {built['silver_rows']} of {built['expected_rows']} expected "
                f"readings ({100 * built['completeness']:.1f} % < {100 * minimum:.0f} %); no fresh-data event sent "
                "downstream (see gold.fct_ingest_batches)")
        from nexus.lineage import announce

        _, lake, meta, _ = _batch_and_meta(built["plant_id"], "validate_completeness")
        return announce([SILVER_SENSOR_READINGS, GOLD_TAG_HOURLY], lake, meta, any_task=True, result={
            "plant_id": built["plant_id"], "status": status, "completeness": built["completeness"]})

    validate_completeness.expand(built=build_gold.expand(silver=publish_silver.expand(bronze=load_bronze.expand(
        landed=land_files.expand(plant_id=select_plants())))))


ingest_sensor_data()
