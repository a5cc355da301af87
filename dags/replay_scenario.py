"""
### Replay a scenario

Replays calibration, setpoint optimization and carbon accounting over past days under another
carbon price, grid factor, market prices or emission limits, and writes every result keyed by
`scenario_id` — the base case is never touched. One run replays one day, its data interval D (the
run due at D + 1, whose logical date is D; backfill dates are due dates), so a period is replayed
with a backfill:

```
airflow backfill create --dag-id replay_scenario --from-date 2026-03-02 --to-date 2026-03-04 \
  --reprocess-behavior completed --dag-run-conf '{"scenario_id": "carbon-150", "carbon_price_usd_t": 150}'
```

(Airflow keeps one run per date: `--reprocess-behavior completed` re-runs dates that already ran,
e.g. under another scenario, with this conf; each scenario's results stay in gold under its id.)

or from the UI (Trigger → a date range, with the params below). Params:
`scenario_id`; `carbon_price_usd_t` (replaces the carbon price in force, before free allocation);
`grid_kg_co2e_per_kwh` (replaces the grid factor); `price_multipliers` (`{"electricity": 1.5}`);
`limit_overrides` (`{"smelter:cf4:day": 5.0}`, in the unit of the limit in force).

Compare with the base case in SQL: `SELECT * FROM gold.v_scenario_comparison` (profit, CO2e and
setpoints per plant and day, scenario against base).

The replay re-simulates operation under the scenario, not only prices: `replay_benefits` runs the
calibrated twin over the day's steady hours as operated and with the setpoints the decision policy
(`decision_policy` and its parameter; with `replay_policies`, every other policy too) picks under
the scenario's prices and rules, applied through the write-back's steps and ramps. KPIs and their
change against the recorded operation land in `gold.fct_benefits_daily` keyed by `scenario_id`;
`SELECT * FROM gold.v_benefit_targets WHERE scenario_id = 'carbon-150'` sets them against the
targets the origin documents promise. Replaying `base` itself fills the base case
for past days. Scheduled (daily) runs of the base scenario do nothing: `calibrate_models` and
`optimize_setpoints` keep the base case current.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Param, dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from nexus.assets import (
    GOLD_BENEFITS_DAILY,
    GOLD_EMISSIONS_DAILY,
    GOLD_MODEL_PARAMETERS,
    GOLD_SETPOINT_RECOMMENDATIONS,
)
from nexus.dag_support import lake_and_meta, policy_params

from models.fleet import instance_ids  # the fleet file; plant modules load lazily

PLANTS = instance_ids(capability="optimization")  # plant instances of the fleet (models/fleet.toml or NEXUS_FLEET)



@dag(
    schedule=CronTriggerTimetable("0 0 * * *", timezone="UTC", interval=dt.timedelta(days=1)),
    start_date=pendulum.datetime(2021, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    tags=["nexus", "scenario", "optimization", "calibration"],
    default_args={"owner": "nexus", "retries": 1, "retry_delay": dt.timedelta(minutes=1)},
    params={
        "scenario_id": Param("base", type="string", pattern="^[a-z0-9_\\-]+$",
                             description="key of the scenario's rows in gold ('base' = the rules and prices in force)"),
        "carbon_price_usd_t": Param(None, type=["null", "number"], minimum=0,
                                    description="carbon price replacing the one in force, USD/t CO2e"),
        "grid_kg_co2e_per_kwh": Param(None, type=["null", "number"], minimum=0, maximum=2,
                                      description="grid emission factor replacing the one in force, kg CO2e/kWh"),
        "price_multipliers": Param({}, type="object",
                                   description="item -> factor on its market price, e.g. {\"electricity\": 1.5}"),
        "limit_overrides": Param({}, type="object",
                                 description="'<plant>:<pollutant>:<averaging>' -> limit, e.g. {\"smelter:cf4:day\": 5}"),
        "plants": Param(PLANTS, type="array", items={"type": "string", "enum": PLANTS}, examples=PLANTS),
        "window_days": Param(7, type="integer", minimum=1, maximum=90, description="calibration window"),
        "pareto_points": Param(5, type="integer", minimum=0, maximum=25),
        **policy_params(),
        "replay_policies": Param(True, type="boolean",
                                 description="also replay every other decision policy next to decision_policy "
                                             "(gold.fct_benefits_daily)"),
    },
    doc_md=__doc__,
)
def replay_scenario():
    @task.short_circuit
    def select_day() -> dict | None:
        from optimization.pipeline import Scenario

        _, _, ctx = lake_and_meta("scenario", "select_day")
        scenario = Scenario.from_params(ctx["params"])  # validates the params before any work
        run = ctx["dag_run"]
        if scenario.scenario_id == "base" and str(run.run_type).lower().endswith("scheduled"):
            print("scheduled run of the base scenario: nothing to replay (calibrate_models / optimize_setpoints "
                  "keep the base case current)")
            return None
        start = ctx.get("data_interval_start")
        day = (start.date() if start is not None else (pendulum.now("UTC").date() - dt.timedelta(days=1)))
        return {"day": day.isoformat(), "scenario_id": scenario.scenario_id}

    @task(outlets=[GOLD_MODEL_PARAMETERS])
    def calibrate_models(job: dict) -> dict:
        from optimization.calibrate import calibrate_day
        from nexus.lineage import announce

        lake, meta, ctx = lake_and_meta("scenario", "calibrate_models")
        p = ctx["params"]
        out = calibrate_day(lake, dt.date.fromisoformat(job["day"]), meta=meta, plants=p["plants"],
                            window_days=p["window_days"], scenario_id=job["scenario_id"], raise_on_failure=False)
        return announce(GOLD_MODEL_PARAMETERS, lake, meta, out)

    @task(outlets=[GOLD_SETPOINT_RECOMMENDATIONS])
    def optimize_setpoints(job: dict, calibration: dict) -> dict:
        from optimization.pipeline import Scenario, optimize_day
        from optimization.policy import DecisionPolicy
        from nexus.lineage import announce

        lake, meta, ctx = lake_and_meta("scenario", "optimize_setpoints")
        p = ctx["params"]
        out = optimize_day(lake, dt.date.fromisoformat(job["day"]), meta=meta, plants=p["plants"],
                           scenario=Scenario.from_params(p), pareto_points=p["pareto_points"],
                           policy=DecisionPolicy.from_params(p))
        return announce(GOLD_SETPOINT_RECOMMENDATIONS, lake, meta, out)

    @task(outlets=[GOLD_BENEFITS_DAILY])
    def replay_benefits(job: dict, calibration: dict) -> dict:
        from optimization.benefits import REPLAY_POLICIES, replay_day, write_targets
        from optimization.pipeline import Scenario
        from optimization.policy import DecisionPolicy
        from nexus.lineage import announce

        lake, meta, ctx = lake_and_meta("scenario", "replay_benefits")
        p = ctx["params"]
        chosen = DecisionPolicy.from_params(p)
        policies = [chosen, *(q for q in REPLAY_POLICIES if q.kind != chosen.kind)] if p["replay_policies"] \
            else [chosen]
        write_targets(lake, meta=meta)
        out = replay_day(lake, dt.date.fromisoformat(job["day"]), meta=meta, plants=p["plants"],
                         scenario=Scenario.from_params(p), policies=policies,
                         budget_fraction=0.9 if p["replay_policies"] else None)
        return announce(GOLD_BENEFITS_DAILY, lake, meta, out)

    @task(outlets=[GOLD_EMISSIONS_DAILY])
    def compute_emissions(job: dict) -> dict:
        from optimization.pipeline import Scenario
        from sustainability.pipeline import accounted_plants, replay_emissions
        from nexus.lineage import announce

        lake, meta, ctx = lake_and_meta("scenario", "compute_emissions")
        p = ctx["params"]
        day = dt.date.fromisoformat(job["day"])
        plants = [x for x in p["plants"] if x in accounted_plants()]
        out = replay_emissions(lake, day, meta=meta, plants=plants, scenario=Scenario.from_params(p))
        return announce(GOLD_EMISSIONS_DAILY, lake, meta, out)

    job = select_day()
    calibration = calibrate_models(job)
    optimize_setpoints(job, calibration)
    replay_benefits(job, calibration)
    compute_emissions(job)


replay_scenario()
