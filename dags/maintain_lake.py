"""
### Maintain the lake

Weekly housekeeping of every Delta table (Sundays 02:00 UTC, or on demand): OPTIMIZE-compacts
the small files daily runs leave behind, then vacuums the files no table version written within
`retention_hours` references — time travel keeps working inside that window. Then (when no
`tables` are named) it removes the temporary files (`.<name>.<random>.tmp`) that writers killed
mid-write left in the lake's raw, report, validation and artifact folders or the landing inbox's
source folders, once they are `temporary_age_hours` old. `dry_run` only lists what both would
remove. The same as `nexus maintain`.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Param, dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from nexus.dag_support import lake_and_meta


@dag(
    schedule=CronTriggerTimetable("0 2 * * 0", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["nexus", "maintenance"],
    default_args={"owner": "nexus", "retries": 1, "retry_delay": dt.timedelta(minutes=5)},
    params={
        "retention_hours": Param(168, type="integer", minimum=0, description="keep what time travel may need"),
        "dry_run": Param(False, type="boolean",
                         description="list what vacuum and the sweep would remove, remove nothing"),
        "temporary_age_hours": Param(24, type="integer", minimum=1,
                                     description="remove temporary files of killed writers this old"),
        # Nullable: the trigger form sends an empty list as null, which a plain array would refuse.
        "tables": Param(None, type=["null", "array"], items={"type": "string"},
                        description="tables, e.g. gold.fct_tag_hourly (empty = all)"),
    },
    doc_md=__doc__,
)
def maintain_lake():
    @task
    def compact_and_vacuum() -> list[dict]:
        from warehouse.maintenance import maintain

        lake, meta, ctx = lake_and_meta("maintenance", "compact_and_vacuum")
        p = ctx["params"]
        return maintain(lake, meta=meta, tables=p["tables"] or (), retention_hours=p["retention_hours"],
                        dry_run=p["dry_run"])

    @task
    def sweep_temporaries() -> list[str]:
        from nexus.settings import get_settings
        from warehouse.maintenance import file_folders
        from warehouse.maintenance import sweep_temporaries as sweep

        lake, _meta, ctx = lake_and_meta("maintenance", "sweep_temporaries")
        p = ctx["params"]
        if p["tables"]:  # named tables: their housekeeping only
            return []
        return sweep(file_folders(lake, get_settings().landing_dir),
                     older_than=dt.timedelta(hours=p["temporary_age_hours"]), dry_run=p["dry_run"])

    compact_and_vacuum() >> sweep_temporaries()


maintain_lake()
