"""Lineage: commits record the versions they read; ``nexus lineage`` follows them; asset-event extras."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from nexus.lineage import asset_extra, format_trail, trail
from warehouse.lake import CommitMeta, Lake, commit_inputs
from warehouse.registry import Column, TableSpec


def _spec(name: str) -> TableSpec:
    return TableSpec(name=name, description=name, columns=(
        Column("plant_id", pa.string(), "plant", nullable=False),
        Column("day", pa.date32(), "day", nullable=False),
        Column("value", pa.float64(), "value"),
    ), primary_key=("plant_id", "day"), partition_by=("plant_id",), interval_column="day")


READINGS, HOURLY, PARAMS = _spec("silver.t__readings"), _spec("gold.fct_t_hourly"), _spec("gold.fct_t_params")
D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)


def _rows(plant: str, days: list[dt.date], value: float = 1.0) -> pa.Table:
    return pa.table({"plant_id": [plant] * len(days), "day": days, "value": [value] * len(days)})


def _meta(dag: str, task: str, run: str = "r1") -> CommitMeta:
    return CommitMeta(dag_id=dag, run_id=run, source="test", extra={"task_id": task})


@pytest.fixture
def chain(tmp_path):
    """readings -> hourly -> params, each step on its own Lake object (as each DAG task has)."""
    root = tmp_path / "lake"
    Lake(root).append(READINGS, _rows("cstr", [D1, D2]), meta=_meta("ingest", "publish_silver"))
    Lake(root).append(READINGS, _rows("smelter", [D1]), meta=_meta("ingest", "publish_silver"))  # v2

    step = Lake(root)
    hourly = step.read(READINGS, where={"plant_id": "cstr"})
    step.replace_interval(HOURLY, hourly, start=D1, end=D2 + dt.timedelta(days=1), where={"plant_id": "cstr"},
                          meta=_meta("ingest", "build_gold"))

    step = Lake(root)
    params = step.read(HOURLY, where={"plant_id": "cstr"}).slice(0, 1)
    step.append(PARAMS, params, meta=_meta("calibrate", "calibrate_plant", run="c1"))
    return Lake(root)


def test_a_write_records_the_versions_it_read(chain):
    (latest,) = chain.history(HOURLY, limit=1)
    assert commit_inputs(latest) == {"silver.t__readings": 2}
    (params,) = chain.history(PARAMS, limit=1)
    assert json.loads(params["inputs"]) == {"gold.fct_t_hourly": 1}
    assert params["run_id"] == "c1" and params["dag_id"] == "calibrate"


def test_commits_without_reads_record_no_inputs_and_stay_readable(lake, meta):
    lake.append(READINGS, _rows("cstr", [D1]), meta=meta)
    (commit,) = lake.history(READINGS, limit=1)
    assert "inputs" not in commit and commit_inputs(commit) == {}
    assert commit["dag_id"] == "pytest"  # the run metadata as before


def test_reads_are_per_step_and_a_rewritten_table_is_not_its_own_input(lake, meta):
    lake.append(READINGS, _rows("cstr", [D1]), meta=meta)
    lake.read(READINGS)
    lake.upsert(READINGS, _rows("cstr", [D1], 2.0), meta=meta)  # reads itself to merge
    assert commit_inputs(lake.history(READINGS, limit=1)[0]) == {}
    lake.append(HOURLY, _rows("cstr", [D1]), meta=meta)
    assert commit_inputs(lake.history(HOURLY, limit=1)[0]) == {"silver.t__readings": 1}  # v0 is the create
    lake.forget_reads()
    assert lake.reads == {}
    lake.append(HOURLY, _rows("cstr", [D2]), meta=meta)
    assert commit_inputs(lake.history(HOURLY, limit=1)[0]) == {}


def test_time_travel_reads_record_the_version_read(lake, meta):
    lake.append(READINGS, _rows("cstr", [D1]), meta=meta)
    lake.append(READINGS, _rows("cstr", [D2]), meta=meta)
    step = Lake(lake.root)
    step.read(READINGS, version=1)
    step.append(HOURLY, _rows("cstr", [D1]), meta=CommitMeta("d", "r", "s", inputs={"silver.other": 4}))
    assert commit_inputs(step.history(HOURLY, limit=1)[0]) == {"silver.t__readings": 1, "silver.other": 4}


def test_trail_follows_inputs_recursively(chain):
    root = trail(chain, "gold.fct_t_params")
    assert (root.table, root.version) == ("gold.fct_t_params", 1)
    (hourly,) = root.inputs
    assert (hourly.table, hourly.version, hourly.commit["task_id"]) == ("gold.fct_t_hourly", 1, "build_gold")
    (readings,) = hourly.inputs
    assert (readings.table, readings.version, readings.inputs) == ("silver.t__readings", 2, [])
    text = format_trail(root)
    lines = text.splitlines()
    assert lines[0].startswith("gold.fct_t_params v1") and "calibrate/calibrate_plant" in lines[0]
    assert "run=c1" in lines[0] and "+1 rows" in lines[0]
    assert lines[1].startswith("└── gold.fct_t_hourly v1") and "ingest/build_gold" in lines[1]
    assert lines[2].startswith("    └── silver.t__readings v2")


def test_trail_of_an_older_version_and_of_a_missing_table(chain):
    from nexus.errors import TableNotFound

    assert trail(chain, "gold.fct_t_hourly", 0).inputs == []  # the create commit read nothing
    with pytest.raises(TableNotFound):
        trail(chain, "gold.fct_nowhere")
    with pytest.raises(TableNotFound):
        trail(chain, "not_a_table")


def test_asset_extra_says_version_rows_partitions_and_days(chain):
    extra = asset_extra(chain, HOURLY, _meta("ingest", "build_gold"), plant_id="cstr")
    assert extra["table"] == "gold.fct_t_hourly" and extra["version"] == chain.version(HOURLY) == 1
    assert extra["rows"] == 2 and extra["commits"] == 1
    assert extra["partitions"] == ["plant_id=cstr"]
    assert extra["days"] == ["2026-03-01", "2026-03-02"]  # the replaced interval [2026-03-01, 2026-03-03)
    assert extra["inputs"] == {"silver.t__readings": 2} and extra["plant_id"] == "cstr"
    json.dumps(extra)  # an asset event's extra must be JSON
    other = asset_extra(chain, HOURLY, _meta("ingest", "build_gold", run="never"))
    assert other["rows"] == 0 and other["commits"] == 0 and other["version"] == 1


def test_nexus_lineage_prints_the_trail(chain, capsys):
    from nexus.cli import main

    assert main(["--lake", chain.root, "lineage", "gold.fct_t_params"]) == 0
    out = capsys.readouterr().out
    assert "gold.fct_t_params v1" in out and "gold.fct_t_hourly v1" in out and "silver.t__readings v2" in out
    assert main(["--lake", chain.root, "lineage", "gold.fct_t_params", "--json"]) == 0
    tree = json.loads(capsys.readouterr().out)
    assert tree["inputs"][0]["inputs"][0] == {
        "table": "silver.t__readings", "version": 2, "dag_id": "ingest", "run_id": "r1", "task_id": "publish_silver",
        "operation": "append", "committed_at": tree["inputs"][0]["inputs"][0]["committed_at"], "repeated": False,
        "missing": None, "inputs": []}


def test_a_compaction_is_traced_to_the_commit_that_wrote_the_data(chain):
    chain.append(HOURLY, _rows("cstr", [dt.date(2026, 3, 5)]), meta=_meta("ingest", "build_gold", run="r2"))  # v2
    chain.compact(HOURLY, meta=_meta("maintain_lake", "compact_and_vacuum"))  # v3
    node = trail(chain, "gold.fct_t_hourly")
    assert node.version == 3 and node.data_version == 2 and node.commit["run_id"] == "r2"
    assert "compact of v2" in format_trail(node)


def test_asset_extra_of_any_task_of_the_run_and_source(chain):
    announcing = CommitMeta("ingest", "r1", "test", extra={"task_id": "validate_completeness"})
    assert asset_extra(chain, READINGS, announcing)["commits"] == 0  # the announcing task wrote nothing
    extra = asset_extra(chain, READINGS, announcing, any_task=True)
    assert extra["commits"] == 2 and extra["rows"] == 3 and extra["version"] == 2
    assert asset_extra(chain, READINGS, CommitMeta("ingest", "r1", "sensor:other"), any_task=True)["commits"] == 0


def test_tag_to_parameter_to_setpoint_to_co2e(copy_lake, capsys):
    """Each step on its own Lake (as each DAG task): the report traces back to the sensor readings."""
    from nexus.cli import main
    from optimization.calibrate import calibrate_day
    from optimization.pipeline import optimize_day
    from sustainability.pipeline import compute_emissions, write_report
    from warehouse.tables import FCT_SETPOINT_RECOMMENDATIONS

    day, root = dt.date(2026, 3, 2), copy_lake.root
    calibrate_day(Lake(root), day, meta=_meta("calibrate_models", "calibrate_plant", "cal-1"), plants=["cstr"],
                  raise_on_failure=False)
    optimize_day(Lake(root), day, meta=_meta("optimize_setpoints", "optimize_plant", "opt-1"), plants=["cstr"],
                 pareto_points=0)
    compute_emissions(Lake(root), day, day + dt.timedelta(days=1), meta=_meta("sustainability_report",
                      "compute_emissions", "rep-1"), plants=["cstr"])
    write_report(Lake(root), day, meta=_meta("sustainability_report", "write_report", "rep-1"), window_days=1)

    report = trail(Lake(root), "gold.fct_reports")
    by_table = {n.table: n for n in report.inputs}
    setpoints = by_table["gold.fct_setpoint_recommendations"]
    assert setpoints.version == Lake(root).version(FCT_SETPOINT_RECOMMENDATIONS)
    assert setpoints.commit["run_id"] == "opt-1"
    assert "gold.fct_model_parameters" in {n.table for n in setpoints.inputs}
    params = report.find("gold.fct_model_parameters")  # expanded once; later occurrences say "shown above"
    assert params.commit["run_id"] == "cal-1"
    hourly = report.find("gold.fct_tag_hourly", {n.table: n for n in params.inputs}["gold.fct_tag_hourly"].version)
    assert "silver.process__sensor_readings" in {n.table for n in hourly.inputs}  # tag -> parameter -> setpoint
    emissions = by_table["gold.fct_emissions_summary_daily"]
    assert emissions.commit["run_id"] == "rep-1"  # -> CO2e
    assert "gold.fct_tag_hourly" in {n.table for n in emissions.inputs}

    assert main(["--lake", root, "lineage", "gold.fct_reports", "--layers", "gold,silver"]) == 0
    out = capsys.readouterr().out
    assert "optimize_setpoints/optimize_plant  run=opt-1" in out and "calibrate_models/calibrate_plant" in out
    assert "bronze." not in out and "raw." not in out


def test_rows_are_traced_to_the_version_that_wrote_them(chain, capsys):
    from nexus.cli import main
    from nexus.lineage import rows_by_version

    assert rows_by_version(chain, "silver.t__readings", {"plant_id": "cstr"}) == {1: 2}
    assert rows_by_version(chain, "silver.t__readings", {"plant_id": "smelter", "day": "2026-03-01"}) == {2: 1}
    assert rows_by_version(chain, "silver.t__readings", {"plant_id": "nowhere"}) == {}
    chain.upsert(READINGS, _rows("cstr", [D2], 9.0), meta=_meta("ingest", "publish_silver", run="r3"))  # v3
    assert rows_by_version(chain, "silver.t__readings", {"plant_id": "cstr"}) == {3: 2}  # the partition rewritten

    assert main(["--lake", chain.root, "lineage", "gold.fct_t_params", "--where", "plant_id=cstr"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "1 row(s) of gold.fct_t_params where {'plant_id': 'cstr'}: 1 written by v1"
    assert out[1].startswith("gold.fct_t_params v1") and "silver.t__readings v2" in out[3]


def test_days_of_write_predicates():
    from nexus.lineage import _predicate_days

    assert _predicate_days("plant_id = 'x' AND hour_start >= '2026-03-01T00:00:00.000000Z' AND "
                           "hour_start < '2026-03-02T00:00:00.000000Z'") == {"2026-03-01"}
    assert _predicate_days("reading_date = '2026-03-04'") == {"2026-03-04"}
    assert _predicate_days("day >= '2026-03-01'::date AND day < '2026-03-04'::date") == {
        "2026-03-01", "2026-03-02", "2026-03-03"}
    assert _predicate_days("scenario_id = 'base'") == set()
