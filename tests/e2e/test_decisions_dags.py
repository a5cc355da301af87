"""monitor_plants, calibrate_models and optimize_setpoints end to end through real Airflow (``dag.test()``) on a gold lake."""

from __future__ import annotations

import pytest

from warehouse.sql import connect

pytestmark = [pytest.mark.airflow, pytest.mark.slow]



def test_monitor_then_calibrate_then_optimize(airflow_db, lake_env):
    from calibrate_models import calibrate_models
    from monitor_plants import monitor_plants
    from optimize_setpoints import optimize_setpoints

    con = connect(lake_env)
    events_before = con.execute("SELECT count(*) FROM gold.fct_events").fetchone()[0]
    run = monitor_plants().test(run_conf={"days": 2})  # each plant's two days, again: replaced, not duplicated
    assert run.state == "success"
    con = connect(lake_env)
    health = con.execute("SELECT plant_id, count(DISTINCT hour_start), count(DISTINCT tag) FROM gold.fct_tag_health "
                         "GROUP BY 1 ORDER BY 1").fetchall()
    assert [(p, h) for p, h, _ in health] == [(p, 48) for p in ("biorefinery", "co2_electrolyzer", "cstr", "smelter")]
    modes = con.execute("SELECT DISTINCT mode FROM gold.fct_monitor_scores").fetchall()
    assert {m for (m,) in modes} <= {"steady", "transient", "shutdown"}
    assert con.execute("SELECT count(*) FROM gold.fct_events").fetchone()[0] == events_before
    flagged = con.execute("SELECT sum(flagged_count) FROM gold.fct_tag_hourly").fetchone()[0]
    assert flagged == con.execute("SELECT count(*) FROM silver.process__sensor_readings WHERE flag IS NOT NULL").fetchone()[0]

    run = calibrate_models().test(run_conf={"window_days": 2})
    assert run.state == "success"
    con = connect(lake_env)
    runs = con.execute("SELECT plant_id, fit_date, status, fit_hours, validation_mape_pct FROM gold.fct_calibration_runs "
                       "ORDER BY plant_id").fetchall()
    assert [r[0] for r in runs] == ["biorefinery", "co2_electrolyzer", "cstr", "smelter"]
    assert {str(r[1]) for r in runs} == {"2026-03-02"}  # each plant's latest complete day in gold
    calibrated = [r for r in runs if r[2] == "calibrated"]
    assert calibrated and all(r[3] > 0 and r[4] is not None for r in calibrated)
    assets = con.execute("SELECT plant_id, status FROM gold.fct_asset_health").fetchall()
    assert {p for p, _ in assets} == {"biorefinery", "co2_electrolyzer", "cstr", "smelter"}  # two days: no trend yet

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
