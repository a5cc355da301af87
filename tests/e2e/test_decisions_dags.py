"""calibrate_models then optimize_setpoints end to end through real Airflow (``dag.test()``) on a gold lake."""

from __future__ import annotations

import pytest

from warehouse.sql import connect

pytestmark = [pytest.mark.airflow, pytest.mark.slow]



def test_calibrate_then_optimize(airflow_db, lake_env):
    from calibrate_models import calibrate_models
    from optimize_setpoints import optimize_setpoints

    run = calibrate_models().test(run_conf={"window_days": 2})
    assert run.state == "success"
    con = connect(lake_env)
    runs = con.execute("SELECT plant_id, fit_date, status, fit_hours, validation_mape_pct FROM gold.fct_calibration_runs "
                       "ORDER BY plant_id").fetchall()
    assert [r[0] for r in runs] == ["biorefinery", "co2_electrolyzer", "cstr", "smelter"]
    assert {str(r[1]) for r in runs} == {"2026-03-02"}  # each plant's latest complete day in gold
    calibrated = [r for r in runs if r[2] == "calibrated"]
    assert calibrated and all(r[3] > 0 and r[4] is not None for r in calibrated)

    run = optimize_setpoints().test(run_conf={"pareto_points": 3})
    assert run.state == "success"
    con = connect(lake_env)
    rec = con.execute("SELECT plant_id, any_value(model_version), any_value(termination), count(*) "
                      "FROM gold.fct_setpoint_recommendations GROUP BY 1 ORDER BY 1").fetchall()
    assert [r[0] for r in rec] == ["biorefinery", "co2_electrolyzer", "cstr", "smelter"]
    assert all(r[2] == "optimal" for r in rec)
    versions = {r[0]: r[1] for r in rec}
    for plant_id, _, status, _, _ in runs:  # the fresh calibration is the one the optimizer used
        assert versions[plant_id] == (f"{plant_id}@2026-03-02" if status == "calibrated" else "design")
    (points,), = con.execute("SELECT count(*) FROM gold.fct_pareto_front").fetchall()
    assert points >= 4 * 2
