"""Validation results in gold and Great Expectations Data Docs, from validate_rows on tiny batches."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from warehouse.lake import CommitMeta
from warehouse.quality import expectations, take_results, validate_rows
from warehouse.tables import FCT_VALIDATION_RESULTS
from warehouse.validation_docs import docs_index, latest_results, record_validations, results_page

META = CommitMeta(dag_id="ingest_sensor_data", run_id="manual__2026-03-02T00:00:00+00:00", source="sensor:cstr",
                  extra={"task_id": "publish_silver", "data_interval": "2026-03-01T00:00:00+00:00/2026-03-02T00:00:00+00:00"})


def _suite():
    gxe = expectations()
    return [gxe.ExpectColumnValuesToNotBeNull(column="tag", meta={"reason": "tag must be set"}),
            gxe.ExpectColumnValuesToBeBetween(column="value", min_value=0, max_value=100,
                                              meta={"reason": "value within the instrument range 0..100"})]


def _batch(values):
    return pd.DataFrame({"_row_id": range(len(values)), "tag": ["TI101"] * (len(values) - 1) + [None],
                         "value": values, "period_date": [dt.date(2026, 3, 1)] * len(values)})


@pytest.fixture(autouse=True)
def _empty_outbox():
    take_results()
    yield
    take_results()


def test_a_validation_writes_a_results_row_and_a_data_docs_page(lake):
    validate_rows(_batch([1.0, 250.0, 3.0]), _suite(), name="silver.process__sensor_readings:cstr")
    (row,) = record_validations(lake, META)

    (gold,) = lake.read(FCT_VALIDATION_RESULTS).to_pylist()
    assert gold == row
    assert gold["suite"] == "silver.process__sensor_readings:cstr"
    assert gold["table_name"] == "silver.process__sensor_readings" and gold["plant_id"] == "cstr"
    assert gold["first_day"] == gold["last_day"] == dt.date(2026, 3, 1)
    assert gold["batch_id"] == "cstr__2026-03-01" and gold["run_id"] == META.run_id
    assert (gold["rows_validated"], gold["rows_failed"]) == (3, 2)
    assert (gold["evaluated_expectations"], gold["successful_expectations"], gold["unsuccessful_expectations"]) == (2, 0, 2)
    assert gold["success"] is False
    assert gold["failures"] == "tag must be set: 1 rows; value within the instrument range 0..100: 1 rows"

    page = Path(lake.root) / gold["data_docs_path"]
    assert page.suffix == ".html" and page.exists()
    html = page.read_text()
    assert "silver.process__sensor_readings:cstr" in html and "value" in html
    index = docs_index(lake)
    assert index.exists() and page.name in index.read_text()
    # a self-contained list (GX's index fills its list with scripts from public CDNs: empty offline)
    listing = Path(results_page(lake))
    text = listing.read_text()
    assert "http" not in text and "<script" not in text
    assert f'href="../{gold["data_docs_path"]}"' in text and "2 / 3" in text
    assert (listing.parent / ".." / gold["data_docs_path"]).resolve() == page.resolve()
    assert take_results() == []  # recorded once
    # the index lists the newest results only, so recording does not slow down with the history
    config = (Path(lake.root) / "_validation" / "gx" / "great_expectations.yml").read_text()
    assert "validation_results_limit: 500" in config


def test_a_passing_batch_and_a_rerun_keep_one_row_per_suite_batch_and_run(lake):
    validate_rows(_batch([1.0, 2.0, 3.0]).assign(tag="TI101"), _suite(), name="silver.process__sensor_readings:cstr")
    validate_rows(_batch([4.0]).assign(tag="TI101", period_date=dt.date(2026, 3, 2)), _suite(),
                  name="silver.market__prices:2026-03-02")
    rows = record_validations(lake, META)
    assert [r["success"] for r in rows] == [True, True] and rows[0]["failures"] is None
    assert rows[1]["plant_id"] is None and rows[1]["batch_id"] == "2026-03-02"

    validate_rows(_batch([1.0, 2.0, 3.0]).assign(tag="TI101"), _suite(), name="silver.process__sensor_readings:cstr")
    record_validations(lake, META)  # the task retried: same run, same batch
    got = latest_results(lake, where={"suite": "silver.process__sensor_readings:cstr"})
    assert len(got) == 1 and len(latest_results(lake)) == 2


def test_nothing_validated_records_nothing(lake):
    validate_rows(_batch([1.0]).iloc[0:0], _suite(), name="silver.process__sensor_readings:cstr")
    assert record_validations(lake, META) == []
    assert not lake.exists(FCT_VALIDATION_RESULTS)


def test_stored_results_keep_few_failing_rows_but_whole_counts(lake):
    from warehouse.quality import KEPT_UNEXPECTED

    n = KEPT_UNEXPECTED * 3
    outcome = validate_rows(_batch([500.0] * n), _suite(), name="silver.process__sensor_readings:cstr")
    assert len(outcome.failed) == n  # the quarantine gets every row
    value = [r for r in outcome.result.results if r.expectation_config.kwargs.get("column") == "value"][0]
    assert len(value.result["unexpected_index_list"]) == KEPT_UNEXPECTED
    assert value.result["unexpected_count"] == n


def test_the_daily_report_links_the_data_docs_and_the_days_validations(lake):
    import re

    from sustainability.report import _validation_html, report_path

    validate_rows(_batch([1.0, 250.0, 3.0]), _suite(), name="silver.process__sensor_readings:cstr")
    record_validations(lake, META)
    page = Path(report_path(lake, dt.date(2026, 3, 1)))
    body = _validation_html(lake, dt.date(2026, 3, 1), page)
    links = re.findall(r'href="([^"]+)"', body)
    assert len(links) == 3 and links[0].endswith("results.html") and links[1].endswith("index.html")
    assert all((page.parent / link).resolve().exists() for link in links)
    assert "silver.process__sensor_readings:cstr" in body and "failed" in body and "1 rows" in body
    assert "Validations of the day" not in _validation_html(lake, dt.date(2026, 3, 5), page)


def test_a_step_records_only_the_validations_run_since_its_lake_was_opened(tmp_path):
    from warehouse.lake import Lake

    validate_rows(_batch([1.0]), _suite(), name="silver.process__sensor_readings:left_over")  # nobody recorded it
    lake = Lake(tmp_path / "lake")  # a new step (a DAG task opens its own lake)
    validate_rows(_batch([2.0]), _suite(), name="silver.process__sensor_readings:cstr")
    assert [r["suite"] for r in record_validations(lake, META)] == ["silver.process__sensor_readings:cstr"]


def test_the_report_lists_passing_validations_too(lake):
    from sustainability.report import _validation_html, report_path

    validate_rows(_batch([1.0, 2.0]).assign(tag="TI101"), _suite(), name="silver.process__sensor_readings:cstr")
    record_validations(lake, META)
    body = _validation_html(lake, dt.date(2026, 3, 1), report_path(lake, dt.date(2026, 3, 1)))
    assert "passed" in body and "0 / 2" in body


@pytest.mark.s3
def test_on_object_storage_the_pages_and_the_list_are_in_the_lake(s3_lake):
    """Great Expectations renders on this machine's disk; the result's page, the site's styles and the
    complete list (from gold) are copied into the lake on S3, and the report's links resolve there."""
    import posixpath
    import re

    from sustainability.report import _validation_html, report_path, report_rel

    validate_rows(_batch([1.0, 250.0, 3.0]), _suite(), name="silver.process__sensor_readings:cstr")
    (row,) = record_validations(s3_lake, META)
    assert docs_index(s3_lake) is None  # each machine's index holds only its own results: not copied
    assert s3_lake.files.exists(row["data_docs_path"])
    assert "silver.process__sensor_readings:cstr" in s3_lake.files.read_text(row["data_docs_path"])
    assert results_page(s3_lake) == f"{s3_lake.root}/_validation/results.html"
    listing = s3_lake.files.read_text("_validation/results.html")
    assert f'href="../{row["data_docs_path"]}"' in listing and "2 / 3" in listing
    assert s3_lake.files.walk("_validation/gx/uncommitted/data_docs/local_site/static")  # the pages' styles
    body = _validation_html(s3_lake, dt.date(2026, 3, 1), report_path(s3_lake, dt.date(2026, 3, 1)))
    links = re.findall(r'href="([^"]+)"', body)
    assert len(links) == 2 and links[0].endswith("results.html")
    for link in links:  # relative to the report's folder in the lake
        assert s3_lake.files.exists(posixpath.normpath(posixpath.join(posixpath.dirname(report_rel(dt.date(2026, 3, 1))), link)))
