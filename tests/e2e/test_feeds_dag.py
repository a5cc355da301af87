"""The market and regulatory pipelines end to end through real Airflow (``dag.test()``)."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest

from etl import regulatory as er
from models import market as mm
from warehouse.lake import Lake
from warehouse.sql import connect
from warehouse.tables import (
    FCT_INGEST_BATCHES,
    FCT_PRICES_DAILY,
    SILVER_REGULATORY_DOCUMENTS,
)

pytestmark = [pytest.mark.airflow, pytest.mark.slow]
UTC = dt.UTC
DAYS = (dt.date(2026, 3, 5), dt.date(2026, 3, 6))  # Thursday, Friday


@pytest.fixture(scope="module")
def feeds(airflow_db, tmp_path_factory):
    root = tmp_path_factory.mktemp("feeds")
    landing = root / "landing"
    os.environ["NEXUS_LAKE_ROOT"] = str(root / "lake")
    os.environ["NEXUS_LANDING_DIR"] = str(landing)
    files = mm.simulate(DAYS[0], DAYS[-1] + dt.timedelta(days=1), landing_dir=landing, seed=8)
    (landing / "regulatory").mkdir(parents=True)
    for p in er.seed_documents_dir().glob("*.yaml"):
        shutil.copy(p, landing / "regulatory" / p.name)

    from ingest_market_data import ingest_market_data
    from ingest_regulatory_data import ingest_regulatory_data

    reg = ingest_regulatory_data().test(logical_date=dt.datetime(2026, 3, 7, tzinfo=UTC))
    market = ingest_market_data()
    runs = [market.test(logical_date=dt.datetime.combine(d + dt.timedelta(days=1), dt.time(), tzinfo=UTC)) for d in DAYS]
    yield {"lake": Lake(root / "lake"), "reg": reg, "runs": runs, "files": files}
    os.environ.pop("NEXUS_LAKE_ROOT", None)
    os.environ.pop("NEXUS_LANDING_DIR", None)


def test_runs_succeed(feeds):
    assert feeds["reg"].state == "success"
    assert [r.state for r in feeds["runs"]] == ["success", "success"]


def test_market_rows_accounted_and_gold_complete(feeds):
    lake = feeds["lake"]
    audit = lake.read(FCT_INGEST_BATCHES).to_pandas()
    assert set(audit["period_date"]) == set(DAYS)
    assert audit["bronze_rows"].sum() == sum(f.rows for f in feeds["files"])
    assert (audit["bronze_rows"] == audit["silver_rows"] + audit["quarantined_rows"] + audit["duplicates_removed"]).all()
    daily = lake.read(FCT_PRICES_DAILY).to_pandas()
    daily_series = {s.series_id for s in mm.SERIES if s.frequency == "daily"}
    assert daily_series <= set(daily["series_id"])
    assert (daily["unit"].str.startswith("USD/")).all()


def test_regulatory_documents_in_silver(feeds):
    docs = feeds["lake"].read(SILVER_REGULATORY_DOCUMENTS).to_pandas()
    assert len(docs) == len(list(er.seed_documents_dir().glob("*.yaml")))


def test_sql_joins_prices_with_factors(feeds):
    con = connect(feeds["lake"])
    # Carbon cost of 1 MWh of German grid power under the factors in force and the EUA price of the day.
    row = con.sql("""
        SELECT p.price_date, p.price AS eua_usd_per_t, f.value AS kg_per_kwh, p.price * f.value AS usd_per_mwh
        FROM gold.fct_prices_daily p
        JOIN gold.dim_emission_factors f
          ON f.factor_kind = 'grid_electricity' AND f.subject = 'DE' AND f.qualifier = 'location'
         AND p.price_date >= f.valid_from AND (f.valid_to IS NULL OR p.price_date < f.valid_to)
        WHERE p.series_id = 'eex.eua' AND p.price_date = DATE '2026-03-06'
    """).fetchall()
    assert len(row) == 1 and row[0][2] == 0.363
    assert row[0][3] == pytest.approx(row[0][1] * 0.363)
