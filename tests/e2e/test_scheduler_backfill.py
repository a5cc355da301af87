"""The ingest DAG under Airflow's scheduler: the README's `airflow backfill create` after the demo.

The demo's own steps (``nexus.demo.ingest_days``) ingest the first days; then the README's
backfill command, as written there with its dates moved to this window, runs under `airflow
standalone` (api-server, scheduler, dag-processor, triggerer; LocalExecutor on SQLite) in its own
temporary home and port, as `make airflow` does. Every day of the window must run: the days the
demo ran again, the last one for the first time.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import re
import shlex
from pathlib import Path

import pytest

from tests.e2e.services import airflow, airflow_env, running
from warehouse.lake import Lake
from warehouse.tables import FCT_INGEST_BATCHES, FCT_TAG_HOURLY

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "ingest_sensor_data"
DAYS = [dt.date(2026, 6, 1), dt.date(2026, 6, 2), dt.date(2026, 6, 3)]
DEMO_DAYS = DAYS[:2]  # the demo ingests these; the backfill adds the third


def readme_backfill_command() -> list[str]:
    """The README's backfill command of the ingest DAG, as a user would paste it."""
    text = (ROOT / "README.md").read_text()
    lines = [m.group(0) for m in re.finditer(rf"^\.venv/bin/nexus airflow backfill create --dag-id {DAG_ID}\b.*$",
                                             text, flags=re.M)]
    assert len(lines) == 1, lines
    return shlex.split(lines[0])


def runs_by_day(env: dict[str, str]) -> dict[dt.date, dict]:
    out = airflow(env, "dags", "list-runs", DAG_ID, "-o", "json", check=False)
    rows = next((json.loads(line) for line in out.stdout.splitlines() if line.startswith("[")), [])
    when = dt.datetime.fromisoformat
    return {when(r["logical_date"]).date(): {**r, **{k: when(r[k]) for k in ("run_after", "start_date", "end_date")
                                                       if r.get(k)}}
            for r in rows if r.get("logical_date")}


def test_the_readme_backfill_after_the_demo_runs_every_day(tmp_path):
    from nexus.demo import ingest_days, run_demo, simulate

    # The README's dates are the demo's days, each run being due when its day has ended.
    command = readme_backfill_command()
    demo = inspect.signature(run_demo).parameters
    demo_start, demo_days = demo["start"].default, demo["days"].default
    dates = {command[i]: dt.date.fromisoformat(command[i + 1]) for i, a in enumerate(command) if a.endswith("-date")}
    assert dates == {"--from-date": demo_start + dt.timedelta(days=1),
                     "--to-date": demo_start + dt.timedelta(days=demo_days)}, command
    assert command[:3] == [".venv/bin/nexus", "airflow", "backfill"]

    lake = Lake(tmp_path / "lake")
    env = airflow_env(tmp_path / "airflow", tmp_path / "lake", tmp_path / "landing")
    # No scheduled run of the latest interval beside the backfill: started after midnight UTC, the
    # scheduler would queue one at once (catchup off), and a backfill created while it ran finished
    # with no runs once under a loaded suite (max_active_runs=1). Backfills run all the same.
    env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"
    simulate("cstr", DAYS[0], len(DAYS), seed=21, landing_dir=tmp_path / "landing", lake=lake)
    airflow(env, "db", "migrate")
    started = dt.datetime.now(dt.UTC)
    (tmp_path / "demo-logs").mkdir()
    assert ingest_days(DEMO_DAYS[0], len(DEMO_DAYS), env, tmp_path / "demo-logs", dag_ids=(DAG_ID,),
                       conf={"plants": ["cstr"]})
    demo_runs = runs_by_day(env)
    assert set(demo_runs) == set(DEMO_DAYS)
    for day, run in demo_runs.items():  # the scheduler's convention: logical date = the data day, due at its end
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        assert run["state"] == "success"
        assert run["run_after"] == midnight + dt.timedelta(days=1)
        assert run["start_date"] >= started  # started when it ran, not at its logical date: real durations

    with running(env, tmp_path / "logs", {"standalone": ["standalone"]}) as services:
        moved = {"--from-date": DAYS[0] + dt.timedelta(days=1), "--to-date": DAYS[-1] + dt.timedelta(days=1)}
        args = [moved[command[i - 1]].isoformat() if command[i - 1] in moved else a
                for i, a in enumerate(command) if i >= 2]
        airflow(env, *args)

        def done() -> bool:
            runs = runs_by_day(env)
            return set(DAYS) <= set(runs) and all(
                runs[d]["state"] in ("success", "failed") and runs[d].get("end_date")
                and (d not in demo_runs or runs[d]["end_date"] > demo_runs[d]["end_date"]) for d in DAYS)

        services.wait(done, 300, "every day of the backfill to run")
    runs = runs_by_day(env)
    assert {d: runs[d]["state"] for d in DAYS} == {d: "success" for d in DAYS}
    assert runs[DAYS[-1]]["run_id"].startswith("backfill__")
    assert all(runs[d]["run_id"] == demo_runs[d]["run_id"] for d in DEMO_DAYS)  # the demo's runs, run again

    batches = {r["period_date"]: r for r in lake.read(FCT_INGEST_BATCHES, where={"plant_id": "cstr"}).to_pylist()}
    for day in DAYS:
        b = batches[day]
        assert b["run_id"] == runs[day]["run_id"]
        assert b["bronze_rows"] == b["silver_rows"] + b["quarantined_rows"] + b["duplicates_removed"] > 0
    hours = {h.date() for h in lake.read(FCT_TAG_HOURLY)["hour_start"].to_pylist()}
    assert set(DAYS) <= hours
