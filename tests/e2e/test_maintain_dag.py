"""maintain_lake through real Airflow (``dag.test()``): compaction and vacuum leave the data as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse.sql import connect

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def test_maintain_lake_keeps_the_data(airflow_db, lake_env):
    query = "SELECT count(*), sum(twa_value) FROM gold.fct_tag_hourly"
    before = connect(lake_env).execute(query).fetchall()
    from maintain_lake import maintain_lake

    assert maintain_lake().test(run_conf={"retention_hours": 0}).state == "success"
    after = connect(lake_env).execute(query).fetchall()
    assert after[0][0] == before[0][0] and after[0][1] == pytest.approx(before[0][1], rel=1e-12)
    files = list(Path(lake_env.root).glob("gold/fct_tag_hourly/**/*.parquet"))
    assert 0 < len(files) <= 4  # one compacted file per plant partition
