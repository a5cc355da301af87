"""
### Calibrate models

Runs after `monitor_plants` has classified the new data (Asset `gold.fct_events`), or on demand.

For each plant, the parameters that drift in reality — CSTR jacket UA (fouling) and k0
(activity), biorefinery hydrolysis and fermentation yields, electrolyzer Faradaic-efficiency curve
and ohmic resistance, smelter heat-loss coefficient and current efficiency — are fitted by weighted
nonlinear least squares (`models.estimation`) on the rolling window of `window_days` days ending
with the plant's latest complete day in gold. Only hours that monitoring found steady and normal
are used (no process-anomaly, transient or shutdown event; no flagged reading of a tag the fit
needs; enough good readings); every 4th of them is held out for validation.

Writes `gold.fct_calibration_runs` (window, hours, validation MAPE per key output, status) and
`gold.fct_model_parameters` (estimate, standard error, 95 % CI, design value, band, drift flag).
A parameter outside its band is flagged (`out_of_band`) and logged as a maintenance alert; a fit that
does not converge fails its task with the solver's message after the result row is written.

Then **assess_assets** trends each plant's health indicators (calibrated parameters such as the
jacket UA or the electrolyzer's aged Faradaic efficiency, or indicators from hourly tag means such
as the reboiler UA) since their last maintenance and projects them to the maintenance threshold:
remaining useful life P10/P50/P90 and a recommendation in `gold.fct_asset_health`.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Param, dag, task

from nexus.assets import GOLD_ASSET_HEALTH, GOLD_EVENTS, GOLD_MODEL_PARAMETERS
from nexus.dag_support import lake_and_meta, plant_days

from models.fleet import instance_ids  # the fleet file; plant modules load lazily

PLANTS = instance_ids(capability="calibration")  # plant instances of the fleet (models/fleet.toml or NEXUS_FLEET)



@dag(
    schedule=GOLD_EVENTS,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["nexus", "calibration", "models"],
    default_args={"owner": "nexus", "retries": 1, "retry_delay": dt.timedelta(minutes=1)},
    params={
        "plants": Param(PLANTS, type="array", items={"type": "string", "enum": PLANTS}, examples=PLANTS,
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
        lake, _, ctx = lake_and_meta("calibration", "select_plants")
        return plant_days(lake, ctx["params"]["plants"], ctx["params"].get("fit_date"))

    @task(outlets=[GOLD_MODEL_PARAMETERS], map_index_template="{{ task.op_kwargs['job']['plant_id'] }}")
    def calibrate_plant(job: dict) -> dict:
        from optimization.calibrate import calibrate_day
        from nexus.lineage import announce

        lake, meta, ctx = lake_and_meta("calibration", "calibrate_plant")
        out = calibrate_day(lake, dt.date.fromisoformat(job["day"]), meta=meta, plants=[job["plant_id"]],
                            window_days=ctx["params"]["window_days"])
        return announce(GOLD_MODEL_PARAMETERS, lake, meta, out)

    @task(outlets=[GOLD_ASSET_HEALTH], trigger_rule="all_done")
    def assess_assets(jobs: list[dict]) -> dict:
        from optimization.calibrate import assess_asset_health
        from nexus.lineage import announce

        lake, meta, _ = lake_and_meta("calibration", "assess_assets")
        out = {j["plant_id"]: assess_asset_health(lake, j["plant_id"], dt.date.fromisoformat(j["day"]), meta)
               for j in jobs}
        return announce(GOLD_ASSET_HEALTH, lake, meta, out)

    jobs = select_plants()
    calibrate_plant.expand(job=jobs) >> assess_assets(jobs)


calibrate_models()
