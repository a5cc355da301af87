"""A scenario backfill through Airflow's scheduler: `airflow backfill create` with a run conf.

Replays calibration, setpoint optimization and carbon accounting of two past days under a carbon
price of 150 USD/t and a cleaner grid, keyed by the scenario id, then compares against the base
case (replayed the same way) in `gold.v_scenario_comparison`.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.services import airflow, airflow_env, running
from warehouse.sql import connect

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

PLANTS = ["cstr", "co2_electrolyzer", "smelter"]


def _created(env: dict, args: list[str]) -> bool:
    out = airflow(env, *args, check=False)
    if out.returncode == 0:
        return True
    assert "Another backfill is running" in out.stdout + out.stderr, out.stderr[-2000:]
    return False


def _replayed(lake, scenario_id: str) -> bool:
    """Both days of the scenario are in gold (its calibration, recommendations and emissions)."""
    try:
        con = connect(lake)
        (runs,), = con.execute("SELECT count(*) FROM gold.fct_calibration_runs WHERE scenario_id = ?",
                               [scenario_id]).fetchall()
        (days,), = con.execute("SELECT count(DISTINCT emission_date) FROM gold.fct_emissions_summary_daily "
                               "WHERE scenario_id = ?", [scenario_id]).fetchall()
    except Exception:  # noqa: BLE001 - a table not written yet
        return False
    return runs == 2 * len(PLANTS) and days == 2


def test_scenario_backfill_leaves_the_base_untouched(copy_lake, tmp_path):
    env = airflow_env(tmp_path / "airflow", copy_lake.root, tmp_path / "landing")
    airflow(env, "db", "migrate")
    base = {"scenario_id": "base", "plants": PLANTS, "window_days": 2, "pareto_points": 3}
    scenario = {**base, "scenario_id": "carbon-150", "carbon_price_usd_t": 150.0, "grid_kg_co2e_per_kwh": 0.05}
    with running(env, tmp_path / "logs", {"standalone": ["standalone"]}) as services:
        # Backfill runs of a paused DAG stay queued. Unpausing also makes today's scheduled run, which
        # does nothing for the base scenario (checked below).
        services.wait(lambda: airflow(env, "dags", "unpause", "replay_scenario", check=False).returncode == 0,
                      120, "replay_scenario to be parsed and unpaused")

        def backfills() -> dict[str, str]:
            return {k: v for k, v in services.runs("replay_scenario").items() if k.startswith("backfill__")}

        # Runs replay the day before their date: 2026-03-02..03 replay the lake's 2026-03-01..02.
        # Airflow keeps one run per date and runs one backfill per DAG at a time (a backfill counts as
        # running until the scheduler closes it, a little after its runs end): the base case first,
        # then the scenario over the same dates, reprocessing those runs with the scenario's conf.
        for conf, reprocess in ((base, "none"), (scenario, "completed")):
            args = ["backfill", "create", "--dag-id", "replay_scenario", "--from-date", "2026-03-02",
                    "--to-date", "2026-03-03", "--dag-run-conf", json.dumps(conf), "--reprocess-behavior", reprocess]
            services.wait(lambda a=args: _created(env, a), 180, f"the {conf['scenario_id']} backfill to be accepted")
            services.wait(lambda sid=conf["scenario_id"]: _replayed(copy_lake, sid) and len(backfills()) == 2
                          and all(s in ("success", "failed") for s in backfills().values()),
                          300, f"the {conf['scenario_id']} backfill runs to finish")
            assert set(backfills().values()) == {"success"}, backfills()
        scheduled = {k: v for k, v in services.runs("replay_scenario").items() if k.startswith("scheduled__")}
        assert set(scheduled.values()) <= {"success", "running", "queued"}, scheduled

    con = connect(copy_lake)
    rows = con.execute("SELECT plant_id, day, delta_profit_usd_h, base_emissions_tco2e, scenario_emissions_tco2e, "
                       "scenario_carbon_price_usd_t FROM gold.v_scenario_comparison "
                       "WHERE scenario_id = 'carbon-150' ORDER BY plant_id, day").fetchall()
    assert {(r[0], str(r[1])) for r in rows} == {(p, d) for p in PLANTS for d in ("2026-03-01", "2026-03-02")}
    for plant_id, day, d_profit, base_em, scen_em, carbon in rows:
        assert d_profit <= 1e-6, (plant_id, day)  # a higher carbon price cannot raise the best profit
        if plant_id == "smelter":
            assert carbon == pytest.approx(150.0 * (1 - 0.8775))  # free allocation still applies
            assert scen_em < base_em  # the cleaner grid cuts Scope 2 (market-based)
    runs = dict(con.execute("SELECT scenario_id, count(*) FROM gold.fct_calibration_runs GROUP BY 1").fetchall())
    assert runs == {"base": 6, "carbon-150": 6}
