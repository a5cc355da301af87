"""
### Daily sustainability report

Runs when the day's sensor data, the regulatory factors and the optimizer's setpoint
recommendations are all fresh in gold (Assets `gold.fct_tag_hourly`, `gold.dim_emission_factors`
and `gold.fct_setpoint_recommendations`, which `optimize_setpoints` writes after calibration), so
the report never shows the previous day's recommendations; or on demand with a report date.

1. **select_report_date** — the `report_date` param, else the latest day gold has complete for
   every plant.
2. **compute_emissions** — GHG Protocol carbon accounting of the trailing `window_days` (late data
   is picked up): Scope 1 (combustion per fuel and gas, process, fugitive), Scope 2 location- and
   market-based, Scope 3 categories 1 and 4, biogenic CO2 apart, with the factors in force each
   day → `gold.fct_emissions_daily`, `gold.fct_emissions_summary_daily`, and the check against
   every limit in force → `gold.fct_emission_compliance_daily`.
3. **compute_lca** — cradle-to-gate LCA per kg of ethanol, formic acid and aluminium (matrix
   method, allocation variants, Monte Carlo 95 % intervals) → `gold.fct_lca_results`.
4. **compute_heat_integration** — pinch analysis of the plants' hot and cold streams →
   `gold.fct_heat_integration`.
5. **measure_kpis** — per plant and day of the window, measured from the historian: product,
   operating profit, specific energy, waste, CO2e intensity, water → `gold.fct_kpis_daily`.
6. **replay_benefits** — the last `benefit_days` days re-simulated with the calibrated twin: the
   recorded operation (and how well it reproduces the historian) and every decision policy applied
   through the write-back's steps and ramps, with deltas and their uncertainty →
   `gold.fct_benefits_daily`; against the origin documents' targets in `gold.v_benefit_targets`.
7. **analyse_sensitivity** — Sobol' indices of profit and CO2e for the calibrated parameters'
   uncertainty at the report day's operating point (`sensitivity_samples`, 0 = skip) →
   `gold.fct_sensitivity_indices`.
8. **write_report** — one self-contained HTML file (plotly, works offline) under
   `<lake>/reports/sustainability/<date>.html` (and `latest.html`), listed in `gold.fct_reports`.

A `scenario_id` other than `base` with `overrides` (e.g. `{"grid_location_kg_per_kwh": 0.1}`)
recomputes emissions and the report under the scenario, keyed by its id; the base case is untouched.
KPIs, replays and sensitivities are computed for the base case only here: `replay_scenario`
replays a period under another carbon price, prices, limits or decision policy.
Find the reports with `nexus sql "SELECT report_date, path FROM gold.fct_reports ORDER BY 1 DESC"`.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Param, dag, task

from nexus.assets import (
    GOLD_BENEFITS_DAILY,
    GOLD_EMISSION_FACTORS,
    GOLD_EMISSIONS_DAILY,
    GOLD_HEAT_INTEGRATION,
    GOLD_KPIS_DAILY,
    GOLD_LCA_RESULTS,
    GOLD_REPORTS,
    GOLD_SENSITIVITY_INDICES,
    GOLD_SETPOINT_RECOMMENDATIONS,
    GOLD_TAG_HOURLY,
)
from nexus.dag_support import lake_and_meta


@dag(
    schedule=(GOLD_TAG_HOURLY & GOLD_EMISSION_FACTORS & GOLD_SETPOINT_RECOMMENDATIONS),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["nexus", "sustainability", "report"],
    default_args={"owner": "nexus", "retries": 1, "retry_delay": dt.timedelta(minutes=1)},
    params={
        "report_date": Param(None, type=["null", "string"], format="date",
                             description="UTC day to report on; empty = the latest day gold has complete"),
        "window_days": Param(30, type="integer", minimum=1, maximum=366,
                             description="days of trends, recomputed on every run so late data is included"),
        "scenario_id": Param("base", type="string", pattern="^[a-z0-9_\\-]+$",
                             description="'base' for the rules in force, else the id the scenario's rows are keyed by"),
        "overrides": Param({}, type="object", description="scenario overrides of the rules, e.g. "
                           "{\"grid_location_kg_per_kwh\": 0.1, \"materials\": {\"alumina\": 0.9}}"),
        "gwp_set": Param("AR6", enum=["AR6", "AR5"], description="IPCC GWP100 set"),
        "lca_samples": Param(500, type="integer", minimum=0, maximum=20000,
                             description="Monte Carlo samples of the LCA (0 = deterministic only)"),
        "benefit_days": Param(1, type="integer", minimum=0, maximum=31,
                              description="days up to the report day replayed for the benefits (0 = none)"),
        "internal_carbon_price_usd_t": Param(100.0, type="number", minimum=0,
                                             description="internal carbon price of the replay's "
                                                         "internal_carbon_price policy, USD/t CO2e"),
        "sensitivity_samples": Param(32, type="integer", enum=[0, 8, 16, 32, 64, 128, 256, 512, 1024],
                                     description="Sobol' base sample size per plant, a power of 2 "
                                                 "(0 = skip the sensitivity)"),
    },
    doc_md=__doc__,
)
def sustainability_report():
    @task
    def select_report_date() -> str:
        from sustainability.pipeline import latest_complete_day

        lake, _, ctx = lake_and_meta("sustainability", "select_report_date")
        params = ctx["params"]
        if params.get("report_date"):
            return dt.date.fromisoformat(params["report_date"]).isoformat()
        return latest_complete_day(lake).isoformat()

    @task(outlets=[GOLD_EMISSIONS_DAILY])
    def compute_emissions(report_date: str) -> dict:
        from sustainability.pipeline import compute_emissions as compute
        from nexus.lineage import announce

        lake, meta, ctx = lake_and_meta("sustainability", "compute_emissions")
        params = ctx["params"]
        end = dt.date.fromisoformat(report_date) + dt.timedelta(days=1)
        out = compute(lake, end - dt.timedelta(days=params["window_days"]), end, meta=meta,
                      scenario_id=params["scenario_id"], overrides=params["overrides"] or None,
                      gwp_set=params["gwp_set"])
        return announce(GOLD_EMISSIONS_DAILY, lake, meta, out)

    @task(outlets=[GOLD_LCA_RESULTS])
    def compute_lca(report_date: str) -> dict:
        from sustainability.pipeline import compute_lca as compute
        from nexus.lineage import announce

        lake, meta, ctx = lake_and_meta("sustainability", "compute_lca")
        params = ctx["params"]
        out = compute(lake, dt.date.fromisoformat(report_date), meta=meta, scenario_id=params["scenario_id"],
                      overrides=params["overrides"] or None, n_samples=params["lca_samples"])
        return announce(GOLD_LCA_RESULTS, lake, meta, out)

    @task(outlets=[GOLD_HEAT_INTEGRATION])
    def compute_heat_integration(report_date: str) -> dict:
        from sustainability.pipeline import compute_heat_integration as compute
        from nexus.lineage import announce

        lake, meta, _ = lake_and_meta("sustainability", "compute_heat_integration")
        out = compute(lake, dt.date.fromisoformat(report_date), meta=meta)
        return announce(GOLD_HEAT_INTEGRATION, lake, meta, out)

    @task(outlets=[GOLD_KPIS_DAILY])
    def measure_kpis(report_date: str, emissions: dict) -> dict:
        from optimization.benefits import measure_day
        from nexus.lineage import announce

        lake, meta, ctx = lake_and_meta("benefits", "measure_kpis")
        params = ctx["params"]
        if params["scenario_id"] != "base":
            return {"skipped": "KPIs are measured for the base case"}
        last = dt.date.fromisoformat(report_date)
        out = {}
        for i in range(params["window_days"] - 1, -1, -1):
            day = last - dt.timedelta(days=i)
            out[day.isoformat()] = measure_day(lake, day, meta=meta)
        return announce(GOLD_KPIS_DAILY, lake, meta, out)

    @task(outlets=[GOLD_BENEFITS_DAILY])
    def replay_benefits(report_date: str) -> dict:
        from optimization.benefits import REPLAY_POLICIES, replay_day, write_targets
        from optimization.policy import DecisionPolicy
        from nexus.lineage import announce

        lake, meta, ctx = lake_and_meta("benefits", "replay_benefits")
        params = ctx["params"]
        if params["scenario_id"] != "base" or not params["benefit_days"]:
            return {"skipped": "replays run for the base case here (replay_scenario for other scenarios)"}
        write_targets(lake, meta=meta)
        policies = [p if p.kind != "internal_carbon_price" else
                    DecisionPolicy(p.kind, internal_carbon_price_usd_t=params["internal_carbon_price_usd_t"])
                    for p in REPLAY_POLICIES]
        last = dt.date.fromisoformat(report_date)
        out = {}
        for i in range(params["benefit_days"] - 1, -1, -1):
            day = last - dt.timedelta(days=i)
            out[day.isoformat()] = replay_day(lake, day, meta=meta, policies=policies)
        return announce(GOLD_BENEFITS_DAILY, lake, meta, out)

    @task(outlets=[GOLD_SENSITIVITY_INDICES])
    def analyse_sensitivity(report_date: str) -> dict:
        from optimization.sensitivity import sensitivity_day
        from nexus.lineage import announce

        lake, meta, ctx = lake_and_meta("benefits", "analyse_sensitivity")
        params = ctx["params"]
        if params["scenario_id"] != "base" or not params["sensitivity_samples"]:
            return {"skipped": "sensitivity runs for the base case with sensitivity_samples > 0"}
        out = sensitivity_day(lake, dt.date.fromisoformat(report_date), meta=meta, n=params["sensitivity_samples"])
        return announce(GOLD_SENSITIVITY_INDICES, lake, meta, out)

    @task(outlets=[GOLD_REPORTS])
    def write_report(report_date: str, emissions: dict, lca: dict, heat: dict, kpis: dict, benefits: dict,
                     sensitivity: dict) -> dict:
        from sustainability.pipeline import write_report as write
        from nexus.lineage import announce

        lake, meta, ctx = lake_and_meta("sustainability", "write_report")
        params = ctx["params"]
        out = write(lake, dt.date.fromisoformat(report_date), meta=meta, scenario_id=params["scenario_id"],
                    window_days=params["window_days"])
        return announce(GOLD_REPORTS, lake, meta, out)

    day = select_report_date()
    emissions = compute_emissions(day)
    write_report(day, emissions, compute_lca(day), compute_heat_integration(day), measure_kpis(day, emissions),
                 replay_benefits(day), analyse_sensitivity(day))


sustainability_report()
