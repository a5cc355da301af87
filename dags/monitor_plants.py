"""
### Monitor plants

Runs when new sensor data is in silver and its hourly aggregates are in gold (Assets
`silver.process__sensor_readings` and `gold.fct_tag_hourly`), or on demand. It tells normal
from abnormal operation **from the data alone**, as on a real plant; per plant (mapped, named by
plant in the UI) and per day:

1. **assess_sensors** — sensor health per tag (`models.sensor_health`): stuck / flat-lined values,
   spikes (Hampel filter), drift (EWMA of the residual against the tag's prediction from correlated
   tags) and noise changes. Flagged readings stay in
   `silver.process__sensor_readings` with `flag` and `flag_reason`; `gold.fct_tag_hourly` counts
   them (`flagged_count`) and `gold.fct_tag_health` has one row per tag and hour.
2. **score_process** — PCA monitoring (Hotelling T² and SPE with control limits and the tags that
   contribute most) plant-wide and per unit operation, plus an IsolationForest for comparison,
   trained without labels on the trailing `training_days` of operation the robust fit itself
   judges normal; the operating mode (steady, transient, shutdown) from the load tags.
   `gold.fct_monitor_scores`.
3. **check_balances** — physics-aware quality gates (`etl.balances`): the mass, energy, carbon
   and charge balances the plant's tags allow, per hour, with the residual, its uncertainty from
   the instruments' stated noise plus a model-form allowance, and ok / violation (beyond 3 sigma) /
   insufficient_data. `gold.fct_balance_checks`. Runs before build_events, which alone writes
   `gold.fct_events`.
4. **build_events** — event frames in `gold.fct_events` (sensor fault, process anomaly,
   transient, shutdown, balance violation) with start, end (empty while still open), severity,
   peak score and the contributing tags. Events are rebuilt from the hourly results over the days a run can affect:
   reruns replace, never duplicate, and later data extend an open event.

The day is `day` if given, else each plant's latest complete day in gold; `days` > 1 monitors the
days before it too (oldest first), e.g. to catch up after a backfill. `calibrate_models` runs
after this DAG and fits only on the hours found steady and normal here.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Param, dag, task

from models.fleet import instance_ids  # the fleet file; plant modules load lazily
from nexus.assets import (
    GOLD_BALANCE_CHECKS,
    GOLD_EVENTS,
    GOLD_MONITOR_SCORES,
    GOLD_TAG_HEALTH,
    GOLD_TAG_HOURLY,
    SILVER_SENSOR_READINGS,
)
from nexus.dag_support import lake_and_meta, plant_days

PLANTS = instance_ids(capability="monitoring")  # plant instances of the fleet (models/fleet.toml or NEXUS_FLEET)


def _days(job: dict) -> list[dt.date]:
    last = dt.date.fromisoformat(job["day"])
    return [last - dt.timedelta(days=i) for i in range(int(job["days"]) - 1, -1, -1)]


@dag(
    schedule=(SILVER_SENSOR_READINGS & GOLD_TAG_HOURLY),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["nexus", "monitoring", "models"],
    default_args={"owner": "nexus", "retries": 1, "retry_delay": dt.timedelta(minutes=1)},
    params={
        "plants": Param(PLANTS, type="array", items={"type": "string", "enum": PLANTS},
                        examples=PLANTS,
                        minItems=1, uniqueItems=True, description="plants to monitor"),
        "day": Param(None, type=["null", "string"], format="date",
                     description="UTC day to monitor; empty = each plant's latest complete day in gold"),
        "days": Param(1, type="integer", minimum=1, maximum=366,
                      description="number of days ending with `day` to monitor, oldest first"),
    },
    doc_md=__doc__,
)
def monitor_plants():
    @task
    def select_plants() -> list[dict]:
        lake, _, ctx = lake_and_meta("monitoring", "select_plants")
        jobs = plant_days(lake, ctx["params"]["plants"], ctx["params"].get("day"))
        return [{**j, "days": int(ctx["params"]["days"])} for j in jobs]

    @task(outlets=[GOLD_TAG_HEALTH], map_index_template="{{ task.op_kwargs['job']['plant_id'] }}")
    def assess_sensors(job: dict) -> dict:
        from etl.monitoring import assess_sensors as assess
        from nexus.lineage import announce

        lake, meta, _ = lake_and_meta(f"monitoring:{job['plant_id']}", "assess_sensors")
        out = {**job, "sensors": {d.isoformat(): assess(lake, job["plant_id"], d, meta) for d in _days(job)}}
        return announce(GOLD_TAG_HEALTH, lake, meta, out)

    @task(outlets=[GOLD_MONITOR_SCORES], map_index_template="{{ task.op_kwargs['job']['plant_id'] }}")
    def score_process(job: dict) -> dict:
        from etl.monitoring import score_process as score
        from nexus.lineage import announce

        lake, meta, _ = lake_and_meta(f"monitoring:{job['plant_id']}", "score_process")
        out = {**job, "process": {d.isoformat(): score(lake, job["plant_id"], d, meta) for d in _days(job)}}
        return announce(GOLD_MONITOR_SCORES, lake, meta, out)

    @task(outlets=[GOLD_BALANCE_CHECKS], map_index_template="{{ task.op_kwargs['job']['plant_id'] }}")
    def check_balances(job: dict) -> dict:
        from etl.balances import check_balances as check
        from nexus.lineage import announce

        lake, meta, _ = lake_and_meta(f"monitoring:{job['plant_id']}", "check_balances")
        out = {**job, "balances": {d.isoformat(): check(lake, job["plant_id"], d, meta) for d in _days(job)}}
        return announce(GOLD_BALANCE_CHECKS, lake, meta, out)

    @task(outlets=[GOLD_EVENTS], map_index_template="{{ task.op_kwargs['job']['plant_id'] }}")
    def build_events(job: dict) -> dict:
        from etl.monitoring import build_events as build
        from nexus.lineage import announce

        lake, meta, _ = lake_and_meta(f"monitoring:{job['plant_id']}", "build_events")
        out = {"plant_id": job["plant_id"], "day": job["day"],
               "events": build(lake, job["plant_id"], dt.date.fromisoformat(job["day"]) - dt.timedelta(days=int(job["days"]) - 1), meta)}
        return announce(GOLD_EVENTS, lake, meta, out)

    scored = score_process.expand(job=assess_sensors.expand(job=select_plants()))
    build_events.expand(job=check_balances.expand(job=scored))


monitor_plants()
