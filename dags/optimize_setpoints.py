"""
### Optimize setpoints

Runs when new calibrated parameters and new prices are in gold (Assets `gold.fct_model_parameters`
and `gold.fct_prices_daily`), or on demand.

For each plant, a Pyomo steady-state model with the latest calibrated parameters, the prices in
force (market feed) and the carbon price, grid factor and emission limits in force (regulatory
feed) is solved by IPOPT in stages (build → set conditions → initialise at the current operating
point → set up the optimisation → solve → report): maximum operating profit minus carbon cost
within safety limits, product specs, equipment capacities and emission limits. A non-optimal or
infeasible solve fails the task with the solver's message.

The recommended point is picked from the profit vs CO2e front by the `decision_policy` param. The
default, `max_profit_no_co2e_increase`, earns the most without raising CO2e above the current
operating point (it keeps the current setpoints when every feasible point emits more). Others:
`max_profit`, `internal_carbon_price` (with `internal_carbon_price_usd_t`), `min_co2e_profit_floor`
(with `profit_floor_usd_h`, empty = the current profit) and `co2e_budget` (with `co2e_budget_t_d`).

Writes `gold.fct_setpoint_recommendations` (recommended vs current setpoints, expected profit and
CO2e against the current point, model version, prices used, the policy and what it did) and
`gold.fct_pareto_front` (epsilon-constraint front of profit vs CO2e, `pareto_points` points per plant).
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Param, dag, task

from nexus.assets import (
    GOLD_MODEL_PARAMETERS,
    GOLD_PARETO_FRONT,
    GOLD_PRICES_DAILY,
    GOLD_SETPOINT_RECOMMENDATIONS,
)
from nexus.dag_support import lake_and_meta, plant_days, policy_params

from models.fleet import instance_ids  # the fleet file; plant modules load lazily

PLANTS = instance_ids(capability="optimization")  # plant instances of the fleet (models/fleet.toml or NEXUS_FLEET)



@dag(
    schedule=(GOLD_MODEL_PARAMETERS & GOLD_PRICES_DAILY),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["nexus", "optimization"],
    default_args={"owner": "nexus", "retries": 1, "retry_delay": dt.timedelta(minutes=1)},
    params={
        "plants": Param(PLANTS, type="array", items={"type": "string", "enum": PLANTS}, examples=PLANTS,
                        description="plants to optimize"),
        "recommendation_date": Param(None, type=["null", "string"], format="date",
                                     description="day whose prices and rules apply; empty = each plant's latest "
                                                 "complete day in gold"),
        "pareto_points": Param(7, type="integer", minimum=0, maximum=25,
                               description="points on the profit vs CO2e front (0 = optimum only)"),
        **policy_params(),
    },
    doc_md=__doc__,
)
def optimize_setpoints():
    @task
    def select_plants() -> list[dict]:
        lake, _, ctx = lake_and_meta("optimization", "select_plants")
        return plant_days(lake, ctx["params"]["plants"], ctx["params"].get("recommendation_date"))

    @task(outlets=[GOLD_SETPOINT_RECOMMENDATIONS, GOLD_PARETO_FRONT],
          map_index_template="{{ task.op_kwargs['job']['plant_id'] }}")
    def optimize_plant(job: dict) -> dict:
        from optimization.pipeline import optimize_day
        from optimization.policy import DecisionPolicy
        from nexus.lineage import announce

        lake, meta, ctx = lake_and_meta("optimization", "optimize_plant")
        out = optimize_day(lake, dt.date.fromisoformat(job["day"]), meta=meta, plants=[job["plant_id"]],
                           pareto_points=ctx["params"]["pareto_points"],
                           policy=DecisionPolicy.from_params(ctx["params"]))
        return announce([GOLD_SETPOINT_RECOMMENDATIONS, GOLD_PARETO_FRONT], lake, meta, out)

    optimize_plant.expand(job=select_plants())


optimize_setpoints()
