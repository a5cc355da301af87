"""
### Ingest regulatory data

Versioned regulatory documents (YAML or JSON) dropped into `landing/regulatory/`: GWP sets
(IPCC AR6 default, AR5 selectable), grid electricity emission factors (location- and
market-based), fuel and material emission factors, emission limits per plant and pollutant,
carbon pricing rules (EU ETS, carbon tax, price floor, free allocation).

1. **land_files** — every waiting document into raw (sha256 manifest).
2. **load_bronze** — parsed into `bronze.regulatory__documents`; a file that cannot be parsed
   (syntax, duplicate keys, anchors/aliases, over 256 KiB, not UTF-8) is rejected on its own with
   the reason in `silver.regulatory__rejections`, and the other documents load.
3. **publish_silver** — every document validated (required fields, types, ranges, internal
   contradictions, overlapping versions, re-issued versions). Accepted versions go to
   `silver.regulatory__documents` / `silver.regulatory__rules` with `valid_from` / `valid_to`
   (a later version closes the one before); rejected files to `silver.regulatory__rejections`
   with the field and the reason — the versions in force before them stay in force.
4. **build_gold** — `gold.dim_emission_factors`, `gold.dim_regulatory_limits`,
   `gold.dim_carbon_pricing`.

Silver is rebuilt from all documents on every run, so reruns change nothing and the arrival
order of versions does not matter. `etl.regulatory.rules_in_force(plant, date)` answers what was
in force at a plant on any past day.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from nexus.assets import GOLD_EMISSION_FACTORS, SILVER_REGULATORY_RULES


def _lake_and_meta(step: str):
    from nexus.settings import get_settings
    from warehouse.lake import CommitMeta, Lake

    ctx = get_current_context()
    meta = CommitMeta(dag_id=ctx["dag"].dag_id, run_id=ctx["run_id"], source="regulatory", extra={"task_id": step})
    settings = get_settings()
    return Lake(settings.lake_root), meta, settings


@dag(
    schedule=CronTriggerTimetable("15 0 * * *", timezone="UTC", interval=dt.timedelta(days=1)),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["nexus", "regulatory", "ingest"],
    default_args={"owner": "nexus", "retries": 2, "retry_delay": dt.timedelta(minutes=1)},
    doc_md=__doc__,
)
def ingest_regulatory_data():
    @task
    def land_files() -> dict:
        from etl.regulatory import land

        lake, meta, settings = _lake_and_meta("land_files")
        return land(lake, settings.landing_dir, meta)

    @task
    def load_bronze(landed: dict) -> dict:
        from etl.regulatory import load_bronze as load

        lake, meta, _ = _lake_and_meta("load_bronze")
        return load(lake, meta)

    @task(outlets=[SILVER_REGULATORY_RULES])
    def publish_silver(bronze: dict) -> dict:
        from etl.regulatory import publish_silver as publish
        from nexus.lineage import announce

        lake, meta, _ = _lake_and_meta("publish_silver")
        return announce(SILVER_REGULATORY_RULES, lake, meta, publish(lake, meta))

    @task(outlets=[GOLD_EMISSION_FACTORS])
    def build_gold(silver: dict) -> dict:
        from etl.regulatory import build_gold as build
        from nexus.lineage import announce

        lake, meta, _ = _lake_and_meta("build_gold")
        return announce(GOLD_EMISSION_FACTORS, lake, meta, build(lake, meta))

    build_gold(publish_silver(load_bronze(land_files())))


ingest_regulatory_data()
