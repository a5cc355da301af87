"""
### What-if experiment on the CO2 electrolyzer

Trigger this DAG with the form to ask the twin what the stack would do under other set points:
**stack current**, **CO2 concentration** and **flow of the feed gas**, held for a **duration**
(the what-if experiments of the project's origin). The twin starts from the nominal operating
point, ramps to the new set points and follows the stack's temperature and catholyte dynamics.

1. **train_surrogate** — if any output is to come from the data-driven surrogate
   (`surrogate_outputs`), fits it on the plant's hourly history in `gold.fct_tag_hourly`
   (`training_days` before the run, hours of abnormal and extreme episodes left out) and reports
   its held-out R² and MAPE. Its inputs are only set points and feed conditions, never an output.
2. **simulate_what_if** — runs the experiment and writes `gold.fct_what_if_runs` (set points,
   formic acid made, energy, specific energy, mean Faradaic efficiency, CO2 starvation, which
   source answered each output) and `gold.fct_what_if_timeseries` (the trajectory).

```sql
SELECT * FROM gold.fct_what_if_runs ORDER BY requested_at DESC
```
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

SURROGATE_VARIABLES = ["faradaic_efficiency", "cell_voltage", "h2_outlet", "co2_conversion"]


def _lake_and_meta(step: str):
    from nexus.settings import get_settings
    from warehouse.lake import CommitMeta, Lake

    ctx = get_current_context()
    meta = CommitMeta(dag_id=ctx["dag"].dag_id, run_id=ctx["run_id"], source="twin:co2_electrolyzer",
                      extra={"task_id": step})
    return ctx, Lake(get_settings().lake_root), meta


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["nexus", "twin", "what-if", "co2_electrolyzer"],
    default_args={"owner": "nexus", "retries": 1, "retry_delay": dt.timedelta(minutes=1)},
    params={
        "current_a": Param(500.0, type="number", minimum=0, maximum=750, description="Stack current, A (rated 750 A)"),
        "co2_concentration_pct": Param(100.0, type="number", exclusiveMinimum=0, maximum=100,
                                       description="CO2 in the feed gas, %"),
        "co2_flow_nm3_h": Param(30.0, type="number", exclusiveMinimum=0, maximum=60, description="Feed gas flow, Nm3/h"),
        "duration_h": Param(8.0, type="number", exclusiveMinimum=0, maximum=744, description="Duration, h"),
        "electrode_age_h": Param(250.0, type="number", minimum=0, maximum=20000,
                                 description="Age of the gas-diffusion electrodes at the start, h (decay state)"),
        "step_minutes": Param(5.0, type="number", minimum=1, maximum=60, description="Time step of the results, min"),
        # `examples` makes the trigger form a multi-select of the valid outputs (Airflow shows an array
        # without them as free text); clearing the selection sends null, hence the nullable type.
        "surrogate_outputs": Param([], type=["null", "array"], items={"type": "string", "enum": SURROGATE_VARIABLES},
                                   uniqueItems=True, examples=SURROGATE_VARIABLES,
                                   description="Outputs answered by the data-driven surrogate instead of the physics"),
        "training_days": Param(60, type="integer", minimum=7, maximum=3650,
                               description="Days of hourly history the surrogate learns from"),
        # Nullable: the form treats a non-nullable text field left empty as missing and refuses to trigger.
        "experiment_id": Param(None, type=["null", "string"], maxLength=200,
                               description="Name of the experiment; empty = the run id"),
    },
    doc_md=__doc__,
)
def simulate_electrolyzer_what_if():
    @task
    def train_surrogate() -> dict:
        from etl.what_if import train_surrogate_from_lake

        ctx, lake, meta = _lake_and_meta("train_surrogate")
        outputs = ctx["params"]["surrogate_outputs"] or []
        if not outputs:
            return {"path": None, "metrics": None}
        return train_surrogate_from_lake(lake, outputs=outputs, days=ctx["params"]["training_days"],
                                         end=ctx["dag_run"].run_after, run_id=meta.run_id)

    @task
    def simulate_what_if(surrogate: dict) -> dict:
        from etl.what_if import publish_experiment, run_experiment

        ctx, lake, meta = _lake_and_meta("simulate_what_if")
        p = ctx["params"]
        inputs = {k: float(p[k]) for k in ("current_a", "co2_concentration_pct", "co2_flow_nm3_h", "duration_h")}
        traj = run_experiment(**inputs, step_minutes=float(p["step_minutes"]),
                              electrode_age_h=float(p["electrode_age_h"]), surrogate_path=surrogate["path"],
                              sources={v: "surrogate" for v in p["surrogate_outputs"] or []})
        return publish_experiment(lake, traj, experiment_id=p["experiment_id"] or meta.run_id, inputs=inputs,
                                  meta=meta, surrogate=surrogate if surrogate["path"] else None)

    simulate_what_if(train_surrogate())


simulate_electrolyzer_what_if()
