"""The sustainability_report DAG end to end through real Airflow (``dag.test()``) on a gold lake."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse.sql import connect

pytestmark = [pytest.mark.airflow, pytest.mark.slow]



def test_report_dag_writes_emissions_lca_heat_and_the_report(airflow_db, lake_env):
    from sustainability_report import sustainability_report

    run = sustainability_report().test(run_conf={"window_days": 2, "lca_samples": 50})
    assert run.state == "success"
    con = connect(lake_env)
    (days, plants, total), = con.execute(
        "SELECT count(DISTINCT emission_date), count(DISTINCT plant_id), sum(total_market_tco2e) "
        "FROM gold.fct_emissions_summary_daily WHERE scenario_id = 'base'").fetchall()
    assert (days, plants) == (2, 4) and total > 0
    (lca_rows, products), = con.execute("SELECT count(*), count(DISTINCT product) FROM gold.fct_lca_results").fetchall()
    assert products == 3 and lca_rows == (4 + 1 + 1) * 3  # biorefinery under 4 allocations, x 3 categories
    (report_date, path, plants_listed), = con.execute("SELECT report_date, path, plants FROM gold.fct_reports").fetchall()
    assert str(report_date) == "2026-03-02"  # the latest complete day in gold, chosen by the DAG
    assert plants_listed == "biorefinery,co2_electrolyzer,cstr,smelter"
    assert (Path(lake_env.root) / path).stat().st_size > 1_000_000
    # the benefits: KPIs measured over the window, the report day replayed under every policy
    assert con.execute("SELECT count(DISTINCT kpi_date), count(DISTINCT plant_id) FROM gold.fct_kpis_daily"
                       ).fetchall() == [(2, 4)]
    assert con.execute("SELECT count(DISTINCT plant_id), count(DISTINCT policy), min(benefit_date) "
                       "FROM gold.fct_benefits_daily").fetchall()[0][:2] == (4, 6)
    assert con.execute("SELECT count(*) FROM gold.v_benefit_targets").fetchall()[0][0] > 0
    page = (Path(lake_env.root) / path).read_text()
    assert "Optimized vs baseline" in page and "Promised against replayed" in page


def test_a_scenario_run_is_keyed_by_its_id(airflow_db, lake_env):
    from sustainability_report import sustainability_report

    conf = {"report_date": "2026-03-02", "window_days": 1, "lca_samples": 0, "scenario_id": "grid-2030",
            "overrides": {"grid_location_kg_per_kwh": 0.05, "grid_market_kg_per_kwh": 0.05}}
    assert sustainability_report().test(run_conf=conf).state == "success"
    con = connect(lake_env)
    scen = dict(con.execute("SELECT scenario_id, count(*) FROM gold.fct_emissions_summary_daily GROUP BY 1").fetchall())
    assert scen == {"grid-2030": 4}  # the base case was not run here and nothing was written for it
    (grid,), = con.execute("SELECT DISTINCT grid_kg_co2e_per_kwh FROM gold.fct_lca_results").fetchall()
    assert grid == 0.05
    (path,), = con.execute("SELECT path FROM gold.fct_reports WHERE scenario_id = 'grid-2030'").fetchall()
    assert path == "reports/sustainability/scenarios/grid-2030/2026-03-02.html"
