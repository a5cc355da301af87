"""A lake with something on every console page: two days of every plant ingested and monitored
(the session's gold lake), then the CSTR calibrated, assessed and optimized with its recommendation
proposed as a write, every plant's KPIs, carbon accounting and the daily report of the second day,
and one what-if experiment. Built once per session; tests copy it before writing."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

DAY = dt.date(2026, 3, 2)


@pytest.fixture(scope="session")
def console_lake_template(gold_lake_template, tmp_path_factory) -> Path:
    from etl.what_if import publish_experiment, run_experiment
    from optimization import writeback as wb
    from optimization.benefits import measure_day, replay_day, write_targets
    from optimization.calibrate import assess_asset_health, calibrate_day
    from optimization.pipeline import optimize_day
    from sustainability.pipeline import compute_emissions, write_report
    from warehouse.lake import CommitMeta, Lake

    root = tmp_path_factory.mktemp("console-template") / "lake"
    shutil.copytree(gold_lake_template, root)
    lake = Lake(root)
    meta = CommitMeta(dag_id="pytest", run_id="console-template", source="test")
    calibrate_day(lake, DAY, meta=meta, plants=["cstr"], window_days=2)
    assess_asset_health(lake, "cstr", DAY, meta)
    optimize_day(lake, DAY, meta=meta, plants=["cstr"], pareto_points=3)
    wb.propose(lake, "cstr", DAY, meta=meta, now=dt.datetime(2026, 3, 3, tzinfo=dt.UTC))
    measure_day(lake, DAY, meta=meta)
    replay_day(lake, DAY, meta=meta, plants=["cstr"], uncertainty=False)
    write_targets(lake, meta=meta)
    compute_emissions(lake, DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1), meta=meta)
    write_report(lake, DAY, meta=meta)
    inputs = {"current_a": 500.0, "co2_concentration_pct": 100.0, "co2_flow_nm3_h": 30.0, "duration_h": 1.0}
    publish_experiment(lake, run_experiment(**inputs, step_minutes=10.0), experiment_id="base-run", inputs=inputs,
                       meta=meta)
    return root


@pytest.fixture
def console_lake(console_lake_template, tmp_path):
    from warehouse.lake import Lake

    shutil.copytree(console_lake_template, tmp_path / "lake")
    return Lake(tmp_path / "lake")
