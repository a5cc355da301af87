"""maintain_lake through real Airflow (``dag.test()``): compaction and vacuum leave the data as it was;
the temporary files of killed writers go once they are old, the young ones (writes under way) stay."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from warehouse.sql import connect

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def _temporary(path: Path, age_hours: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half a file")
    t = time.time() - age_hours * 3600
    os.utime(path, (t, t))
    return path


def test_maintain_lake_keeps_the_data(airflow_db, lake_env, tmp_path, monkeypatch):
    monkeypatch.setenv("NEXUS_LANDING_DIR", str(tmp_path / "landing"))
    root = Path(lake_env.root)
    dead = [_temporary(root / "reports/sustainability/.2026-03-01.html.k2j4h5g6.tmp", 30),
            _temporary(tmp_path / "landing/sensor/cstr/.cstr_2026-03-02.csv.gz.0a1b2c3d4e5f.tmp", 48)]
    live = [_temporary(root / "raw/sensor/.cstr_2026-03-02.csv.gz.q9w8e7r6.tmp", 1),  # a write under way
            _temporary(tmp_path / "landing/.notes.txt.a1b2c3d4.tmp", 48)]  # not a folder Nexus writes
    query = "SELECT count(*), sum(twa_value) FROM gold.fct_tag_hourly"
    before = connect(lake_env).execute(query).fetchall()
    from maintain_lake import maintain_lake

    assert maintain_lake().test(run_conf={"retention_hours": 0}).state == "success"
    assert [p.exists() for p in dead] == [False, False] and all(p.exists() for p in live)
    after = connect(lake_env).execute(query).fetchall()
    assert after[0][0] == before[0][0] and after[0][1] == pytest.approx(before[0][1], rel=1e-12)
    files = list(Path(lake_env.root).glob("gold/fct_tag_hourly/**/*.parquet"))
    assert 0 < len(files) <= 4  # one compacted file per plant partition
