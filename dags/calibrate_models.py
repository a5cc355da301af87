"""
### Calibrate models

Runs when new sensor data is in silver and its hourly aggregates are in gold (Assets
`silver.process__sensor_readings` and `gold.fct_tag_hourly`), or on demand.

For each plant, the parameters that drift in reality — CSTR jacket UA (fouling) and k0
(activity), biorefinery hydrolysis and fermentation yields, electrolyzer Faradaic-efficiency curve
and ohmic resistance, smelter heat-loss coefficient and current efficiency — are fitted by weighted
nonlinear least squares (`models.estimation`) on the rolling window of `window_days` days ending
with the plant's latest complete day in gold. Hours of transients, faults and bad-quality data are
left out; every 4th hour is held out for validation.

Writes `gold.fct_calibration_runs` (window, hours, validation MAPE per key output, status) and
`gold.fct_model_parameters` (estimate, standard error, 95 % CI, design value, band, drift flag).
A parameter outside its band is flagged (`out_of_band`) and logged as a maintenance alert; a fit that
does not converge fails its task with the solver's message after the result row is written.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from nexus.assets import GOLD_MODEL_PARAMETERS, GOLD_TAG_HOURLY, SILVER_SENSOR_READINGS

PLANTS = ["cstr", "biorefinery", "co2_electrolyzer", "smelter"]


def _lake_and_meta(step: str):
    from nexus.settings import get_settings
    from warehouse.lake import CommitMeta, Lake

    ctx = get_current_context()
    meta = CommitMeta(dag_id=ctx["dag"].dag_id, run_id=ctx["run_id"], source="calibration", extra={"task_id": step})
    return Lake(get_settings().lake_root), meta, ctx["params"]


@dag(
    schedule=(SILVER_SENSOR_READINGS & GOLD_TAG_HOURLY),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["nexus", "calibration", "models"],
    default_args={"owner": "nexus", "retries": 1, "retry_delay": dt.timedelta(minutes=1)},
    params={
        "plants": Param(PLANTS, type="array", items={"type": "string", "enum": PLANTS},
                        description="plants to calibrate"),
        "fit_date": Param(None, type=["null", "string"], format="date",
                          description="last day of the window; empty = each plant's latest complete day in gold"),
        "window_days": Param(7, type="integer", minimum=1, maximum=90, description="rolling window length"),
    },
    doc_md=__doc__,
)
def calibrate_models():
    @task
    def select_plants() -> list[dict]:
        from sustainability.pipeline import latest_complete_day

        lake, _, params = _lake_and_meta("select_plants")
        todo = []
        for plant_id in params["plants"]:
            try:
                day = dt.date.fromisoformat(params["fit_date"]) if params.get("fit_date") else \
                    latest_complete_day(lake, [plant_id])
            except Exception as exc:  # no gold data for the plant yet
                print(f"{plant_id}: skipped ({exc})")
                continue
            todo.append({"plant_id": plant_id, "fit_date": day.isoformat()})
        return todo

    @task(outlets=[GOLD_MODEL_PARAMETERS], map_index_template="{{ task.op_kwargs['job']['plant_id'] }}")
    def calibrate_plant(job: dict) -> dict:
        from optimization.calibrate import calibrate_day

        lake, meta, params = _lake_and_meta("calibrate_plant")
        return calibrate_day(lake, dt.date.fromisoformat(job["fit_date"]), meta=meta, plants=[job["plant_id"]],
                             window_days=params["window_days"])

    calibrate_plant.expand(job=select_plants())


calibrate_models()
