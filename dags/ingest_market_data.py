"""
### Ingest market data

Daily ingestion of vendor price files (feedstocks, products, energy, carbon allowances, exchange
rates) published on one day, from `landing/market/<vendor>/<vendor>__<YYYY-MM-DD>__<NN>.csv`:

1. **land_files** — each vendor's files of the day into raw (byte for byte, sha256 manifest).
2. **load_bronze** — every line typed into `bronze.market__price_quotes`, in the vendor's own
   currency and unit.
3. **publish_silver** — Great Expectations checks every quote against the series catalog
   (known series, currency, unit, period, price floor, plausible level); failing rows go to
   `silver.market__price_quarantine` with the reason. Passing quotes are converted to canonical
   units (per t, per MWh) and the reporting currency (`NEXUS_REPORTING_CURRENCY`, default USD)
   and written to `silver.market__price_history` (every issue) and `silver.market__prices`
   (latest issue per period: a vendor's re-issue of a past day replaces it).
4. **build_gold** — `gold.fct_prices_daily` (a price for every calendar day, carried forward
   where no quote exists) and `gold.fct_prices_hourly` (day-ahead power).

Each run handles the files published on one day *D*, its data interval: the scheduled run is due
at 00:30 UTC on *D+1* and shows *D* as its logical date (backfill dates are due dates). Runs go one at a time
(a re-issue changes gold for the days after it); a backfill replays publication days in order.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from nexus.assets import GOLD_PRICES_DAILY, SILVER_PRICES


def _batch_and_meta(step: str):
    """The publication day of this run, the lake and the commit metadata (at run time)."""
    from etl.market import Batch
    from nexus.settings import get_settings
    from warehouse.lake import CommitMeta, Lake

    ctx = get_current_context()
    start, end = ctx.get("data_interval_start"), ctx.get("data_interval_end")
    if start is None or end is None:  # triggered without a logical date: the last complete day
        end = ctx["dag_run"].run_after
        start = end - dt.timedelta(days=1)
    batch = Batch.from_interval(start, end)
    meta = CommitMeta(dag_id=ctx["dag"].dag_id, run_id=ctx["run_id"], source="market",
                      extra={"task_id": step, "publication_date": batch.day.isoformat()})
    settings = get_settings()
    return batch, Lake(settings.lake_root), meta, settings


@dag(
    schedule=CronTriggerTimetable("30 0 * * *", timezone="UTC", interval=dt.timedelta(days=1)),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["nexus", "market", "ingest"],
    default_args={"owner": "nexus", "retries": 2, "retry_delay": dt.timedelta(minutes=1)},
    doc_md=__doc__,
)
def ingest_market_data():
    @task
    def land_files() -> dict:
        from etl.market import land

        batch, lake, meta, settings = _batch_and_meta("land_files")
        return land(lake, settings.landing_dir, batch, meta)

    @task
    def load_bronze(landed: dict) -> dict:
        from etl.market import load_bronze as load

        batch, lake, meta, _ = _batch_and_meta("load_bronze")
        return load(lake, batch, meta)

    @task(outlets=[SILVER_PRICES])
    def publish_silver(bronze: dict) -> dict:
        from etl.market import publish_silver as publish
        from nexus.lineage import announce

        batch, lake, meta, settings = _batch_and_meta("publish_silver")
        return announce(SILVER_PRICES, lake, meta,
                        publish(lake, batch, meta, reporting_currency=settings.reporting_currency))

    @task(outlets=[GOLD_PRICES_DAILY])
    def build_gold(silver: dict) -> dict:
        from etl.market import build_gold as build
        from nexus.lineage import announce

        batch, lake, meta, _ = _batch_and_meta("build_gold")
        first = dt.date.fromisoformat(silver["first_period"]) if silver.get("first_period") else batch.day
        return announce(GOLD_PRICES_DAILY, lake, meta, build(lake, batch, meta, since=min(first, batch.day)))

    build_gold(publish_silver(load_bronze(land_files())))


ingest_market_data()
