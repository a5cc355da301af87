"""Trigger forms that can be submitted as shown, and schedules that wait for what a DAG reads.

Airflow's trigger form (3.x) builds its fields from each param's JSON schema: a param whose
``type`` does not allow ``null`` is *required*, and a text field or multi-select left empty is
sent as ``null``; an array becomes a multi-select only with ``examples`` (or ``enum``) on the
array itself, otherwise it is a free-text box. The tests check the DAGs against those rules and
validate the conf the form sends as the api-server does: the serialized DAG's params,
``deep_merge(conf).validate()``.
"""

from __future__ import annotations

import pytest
from airflow.serialization.serialized_objects import DagSerialization


def _served(dag):
    """The DAG as the api-server holds it (serialized), whose params validate a trigger's conf."""
    return DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))


def _form_conf(params) -> dict:
    """The conf the trigger form sends for untouched fields: empty text and empty selections as null."""
    return {k: (None if v in ("", []) else v) for k, v in params.dump().items()}


def _nullable(schema: dict) -> bool:
    kinds = schema.get("type")
    return isinstance(kinds, list) and "null" in kinds


@pytest.fixture(scope="module")
def what_if():
    from simulate_electrolyzer_what_if import SURROGATE_VARIABLES, simulate_electrolyzer_what_if

    return _served(simulate_electrolyzer_what_if()), SURROGATE_VARIABLES


def test_the_what_if_form_submits_with_its_defaults(what_if):
    dag, _ = what_if
    dag.params.deep_merge(_form_conf(dag.params)).validate()  # raises ParamValidationError if the form would refuse
    for name, param in dag.params.items():
        if param in ("", [], None):  # left empty in the form: must not be a required field
            assert _nullable(dag.params.get_param(name).schema), name
    assert dag.params["experiment_id"] is None  # empty = the run id (simulate_what_if)


def test_surrogate_outputs_is_a_choice_of_the_valid_outputs(what_if):
    dag, outputs = what_if
    schema = dag.params.get_param("surrogate_outputs").schema
    assert "array" in schema["type"] and schema["examples"] == outputs  # a multi-select, not free text
    ok = dag.params.deep_merge({"surrogate_outputs": ["faradaic_efficiency", "cell_voltage"]})
    assert ok.validate()["surrogate_outputs"] == ["faradaic_efficiency", "cell_voltage"]
    with pytest.raises(ValueError, match="surrogate_outputs"):
        dag.params.deep_merge({"surrogate_outputs": ["faradaic efficiency"]}).validate()


def test_the_report_waits_for_the_days_recommendations():
    from sustainability_report import sustainability_report

    from nexus.assets import GOLD_EMISSION_FACTORS, GOLD_SETPOINT_RECOMMENDATIONS, GOLD_TAG_HOURLY

    condition = sustainability_report().timetable.asset_condition
    assert type(condition).__name__ == "AssetAll"  # every asset, not any one of them
    assert set(condition.objects) == {GOLD_TAG_HOURLY, GOLD_EMISSION_FACTORS, GOLD_SETPOINT_RECOMMENDATIONS}


def test_every_choice_list_param_is_a_multi_select():
    """An array param whose items are a fixed set (plants, outputs) must show as a pick-list."""
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).parents[2] / "dags"))
    assert not bag.import_errors
    checked = []
    for dag_id, dag in bag.dags.items():
        for name, param in dag.params.items():
            schema = dag.params.get_param(name).schema
            if "enum" in schema.get("items", {}):
                assert schema.get("examples") == schema["items"]["enum"], f"{dag_id}.{name}"
                checked.append(f"{dag_id}.{name}")
    assert {"ingest_sensor_data.plants", "monitor_plants.plants", "calibrate_models.plants",
            "optimize_setpoints.plants", "replay_scenario.plants"} <= set(checked)


def test_maintenance_form_submits_with_its_defaults():
    from maintain_lake import maintain_lake

    dag = _served(maintain_lake())
    assert dag.params.deep_merge(_form_conf(dag.params)).validate()["tables"] is None  # = every table
