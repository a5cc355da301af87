"""Market feed: unit and currency conversion against hand-computed values, validation, re-issues, gold."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from etl import market as em
from models import market as mm
from warehouse.lake import CommitMeta
from warehouse.tables import (
    FCT_INGEST_BATCHES,
    FCT_PRICES_DAILY,
    FCT_PRICES_HOURLY,
    SILVER_PRICE_HISTORY,
    SILVER_PRICE_QUARANTINE,
    SILVER_PRICES,
)

HEADER = "series_id,period_start,period,value,currency,unit,issued_at\n"


# ----------------------------------------------------------------------------- conversions
@pytest.mark.parametrize(("unit", "canonical", "density", "expected"), [
    # 1 t of ethanol = 1000 kg / 789 kg/m3 = 1.267427 m3 = 334.8188 US gal (3.785411784 L/gal)
    ("gal", "t", 789.0, 1000 / 789 / 0.003785411784),
    # 1 MWh = 3.6e9 J / 1.05505585262e9 J per MMBtu (International Table Btu) = 3.412142
    ("MMBtu", "MWh", None, 3.6e9 / 1.05505585262e9),
    # 1 t = 1000 kg / 907.18474 kg per short ton
    ("ton", "t", None, 1000 / 907.18474),
    ("kg", "t", None, 1000.0),
    ("MWh", "MWh", None, 1.0),
])
def test_quantity_factor_matches_hand_computation(unit, canonical, density, expected):
    assert em.quantity_factor(unit, canonical, density) == pytest.approx(expected, rel=1e-9)


def test_price_conversion_by_hand():
    # 2.00 USD/gal ethanol -> 669.638 USD/t; 3.00 USD/MMBtu -> 10.236 USD/MWh
    assert 2.00 * em.quantity_factor("gal", "t", 789.0) == pytest.approx(669.638, abs=1e-3)
    assert 3.00 * em.quantity_factor("MMBtu", "MWh") == pytest.approx(10.2364, abs=1e-4)


def test_fx_rates_as_of_and_inverse():
    fx = pd.DataFrame({"series_id": ["ecb.usd_per_eur"] * 2,
                       "period_start": pd.to_datetime(["2026-03-05", "2026-03-06"], utc=True),
                       "value_original": [1.10, 1.08]})
    usd = em.fx_rates(fx, "EUR", "USD")
    assert usd["rate"].tolist() == [1.10, 1.08]
    eur = em.fx_rates(fx, "USD", "EUR")  # the same series read the other way round
    assert eur["rate"].tolist() == pytest.approx([1 / 1.10, 1 / 1.08])


# ------------------------------------------------------------------------------- pipeline
def write(landing: Path, vendor: str, day: dt.date, nn: int, rows: list[str]) -> None:
    folder = landing / "market" / vendor
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{vendor}__{day}__{nn:02d}.csv").write_text(HEADER + "".join(r + "\n" for r in rows))


FRI, SAT, MON = dt.date(2026, 3, 6), dt.date(2026, 3, 7), dt.date(2026, 3, 9)


@pytest.fixture
def feed(lake, tmp_path):
    landing = tmp_path / "landing"
    write(landing, "ecb", FRI, 1, ["ecb.usd_per_eur,2026-03-06,P1D,1.1000,USD,EUR,2026-03-06T16:00:00Z"])
    write(landing, "eex", FRI, 1, [
        "eex.eua,2026-03-06,P1D,80.00,EUR,t,2026-03-06T17:30:00Z",                  # 2 good: 88 USD/t
        "eex.gas_ttf,2026-03-06,P1D,-3.00,EUR,MWh,2026-03-06T17:30:00Z",            # 3 negative gas price
        "eex.power_de_da,2026-03-07T00:00:00+01:00,PT1H,-12.5,EUR,MWh,2026-03-06T12:00:00Z",  # 4 negative power ok
        "eex.power_de_da,2026-03-07T01:00:00+01:00,PT1H,40.0,EUR,kWh,2026-03-06T12:00:00Z",   # 5 wrong unit
        "eex.eua_dec,2026-03-06,P1D,80.00,EUR,t,2026-03-06T17:30:00Z",              # 6 unknown series
        "eex.eua,2026-03-06,P1D,,EUR,t,2026-03-06T17:30:00Z",                       # 7 missing value
        "eex.eua,06.03.2026,P1D,80.00,EUR,t,2026-03-06T17:30:00Z",                  # 8 unparseable date
        "eex.gas_ttf,2026-03-06,P1D,3500.0,EUR,MWh,2026-03-06T17:30:00Z",           # 9 fat finger (100x)
    ])
    write(landing, "usmkt", FRI, 1, ["usmkt.ethanol_chicago,2026-03-06,P1D,2.00,USD,gal,2026-03-06T18:00:00Z"])
    # Monday: the vendor re-issues Friday's EUA price and publishes Monday's.
    write(landing, "ecb", MON, 1, ["ecb.usd_per_eur,2026-03-09,P1D,1.0800,USD,EUR,2026-03-09T16:00:00Z"])
    write(landing, "eex", MON, 1, ["eex.eua,2026-03-06,P1D,82.00,EUR,t,2026-03-09T17:30:00Z",
                                   "eex.eua,2026-03-09,P1D,81.00,EUR,t,2026-03-09T17:30:00Z"])
    return landing


def run(lake, landing, day, run_id="r1"):
    return em.run_batch(lake, landing, em.Batch(day), CommitMeta("pytest", f"{run_id}-{day}", "market"))


def test_quotes_are_validated_converted_and_quarantined(lake, feed):
    out = run(lake, feed, FRI)
    assert out["silver"]["quarantined_rows"] == 6
    q = {r["_line_number"]: r for r in lake.read(SILVER_PRICE_QUARANTINE).to_pylist() if "eex__" in r["_source_file"]}
    assert {n: r["rule"] for n, r in q.items()} == {
        3: "price_floor", 5: "unit_matches_contract", 6: "known_series", 7: "value_present", 8: "parse",
        9: "plausible_level"}
    assert "must not be below 0 EUR/MWh; found -3.0" in q[3]["reason"]
    assert "quoted in EUR/MWh per PT1H; found EUR/kWh" in q[5]["reason"]
    assert "more than 20x its reference level 35" in q[9]["reason"]
    prices = {r["series_id"]: r for r in lake.read(SILVER_PRICES).to_pylist()}
    assert prices["eex.eua"]["price"] == pytest.approx(88.0) and prices["eex.eua"]["unit"] == "USD/t"
    assert prices["eex.eua"]["value_original"] == 80.0 and prices["eex.eua"]["unit_original"] == "EUR/t"
    assert prices["eex.eua"]["fx_rate"] == 1.10 and prices["eex.eua"]["fx_date"] == FRI
    assert prices["eex.power_de_da"]["price"] == pytest.approx(-13.75)  # negative power prices are real
    assert prices["usmkt.ethanol_chicago"]["price"] == pytest.approx(669.638, abs=1e-3)
    audit = {r["plant_id"]: r for r in lake.read(FCT_INGEST_BATCHES).to_pylist()}
    assert audit["eex"]["bronze_rows"] == 8 and audit["eex"]["silver_rows"] == 2 and audit["eex"]["quarantined_rows"] == 6


def test_reissue_keeps_history_and_updates_latest_and_gold(lake, feed):
    for day in (FRI, SAT, MON):
        run(lake, feed, day)
    eua = lake.read(SILVER_PRICES, where={"series_id": "eex.eua"}).to_pandas().set_index("period_start")
    fri = eua.loc[pd.Timestamp(FRI, tz="UTC")]
    assert fri["value_original"] == 82.0 and fri["revision_count"] == 2
    assert fri["price"] == pytest.approx(82.0 * 1.10)  # the rate of the period's date, not of the re-issue
    history = lake.read(SILVER_PRICE_HISTORY, where={"series_id": "eex.eua"}).to_pandas()
    assert sorted(history["value_original"]) == [80.0, 81.0, 82.0]
    gold = lake.read(FCT_PRICES_DAILY, where={"series_id": "eex.eua"}).to_pandas().set_index("price_date")
    assert gold.loc[FRI, "price"] == pytest.approx(90.2) and gold.loc[FRI, "revision_count"] == 2
    # weekend: carried forward from Friday's (re-issued) quote, flagged
    sat = gold.loc[SAT]
    assert sat["is_filled"] and sat["observed_date"] == FRI and sat["price"] == pytest.approx(90.2)
    assert gold.loc[MON, "price"] == pytest.approx(81.0 * 1.08) and not gold.loc[MON, "is_filled"]
    hourly = lake.read(FCT_PRICES_HOURLY).to_pylist()
    assert [(h["hour_start"].isoformat(), h["price"]) for h in hourly] == [("2026-03-06T23:00:00+00:00", pytest.approx(-13.75))]


def test_rerun_is_idempotent(lake, feed):
    for day in (FRI, SAT, MON):
        run(lake, feed, day)
    before = {s.name: lake.read(s).to_pandas().drop(columns=["_run_id"], errors="ignore")
              for s in (SILVER_PRICES, SILVER_PRICE_HISTORY, FCT_PRICES_DAILY)}
    run(lake, feed, FRI, run_id="again")  # Friday again, after Monday's re-issue: the re-issue still wins
    for spec in (SILVER_PRICES, SILVER_PRICE_HISTORY, FCT_PRICES_DAILY):
        after = lake.read(spec).to_pandas().drop(columns=["_run_id"], errors="ignore")
        keys = list(spec.primary_key)
        pd.testing.assert_frame_equal(after.sort_values(keys).reset_index(drop=True),
                                      before[spec.name].sort_values(keys).reset_index(drop=True))


def test_missing_exchange_rate_is_quarantined_not_guessed(lake, tmp_path):
    landing = tmp_path / "landing"
    write(landing, "eex", FRI, 1, ["eex.eua,2026-03-06,P1D,80.00,EUR,t,2026-03-06T17:30:00Z"])
    out = run(lake, landing, FRI)
    assert out["silver"]["quarantine_rules"] == {"fx_rate": 1}
    reason = lake.read(SILVER_PRICE_QUARANTINE).to_pylist()[0]["reason"]
    assert "no EUR->USD exchange rate" in reason


def test_simulated_vendor_files_load_end_to_end(lake, tmp_path):
    landing = tmp_path / "landing"
    files = mm.simulate(dt.date(2026, 1, 5), dt.date(2026, 1, 8), landing_dir=landing, seed=3)
    total = sum(f.rows for f in files)
    for day in (dt.date(2026, 1, 5), dt.date(2026, 1, 6), dt.date(2026, 1, 7)):
        run(lake, landing, day)
    audit = lake.read(FCT_INGEST_BATCHES).to_pandas()
    assert audit["bronze_rows"].sum() == total
    assert (audit["bronze_rows"] == audit["silver_rows"] + audit["quarantined_rows"] + audit["duplicates_removed"]).all()
    gold = lake.read(FCT_PRICES_DAILY).to_pandas()
    assert set(gold["series_id"]) >= {s.series_id for s in mm.SERIES if s.frequency != "monthly"}
    power = gold[gold["series_id"] == "eex.power_de_da"]
    assert (power["hours"] == 24).all()  # day-ahead: full days of hourly prices


def test_simulator_is_deterministic_and_window_independent(tmp_path):
    a = mm.price_path("eex.power_de_da", dt.date(2026, 6, 1), dt.date(2026, 6, 3), seed=5)
    b = mm.price_path("eex.power_de_da", dt.date(2026, 6, 2), dt.date(2026, 6, 3), seed=5)
    pd.testing.assert_series_equal(a.iloc[24:], b)
    mm.simulate(dt.date(2026, 6, 1), dt.date(2026, 6, 3), landing_dir=tmp_path / "x", seed=5)
    mm.simulate(dt.date(2026, 6, 2), dt.date(2026, 6, 3), landing_dir=tmp_path / "y", seed=5)
    for f in (tmp_path / "y").rglob("*.csv"):
        assert f.read_bytes() == (tmp_path / "x" / f.relative_to(tmp_path / "y")).read_bytes()


def test_simulated_levels_follow_their_references():
    for s in mm.SERIES:
        p = mm.price_path(s.series_id, dt.date(2020, 1, 1), dt.date(2025, 1, 1) if s.frequency != "hourly" else dt.date(2021, 1, 1))
        median = float(p.median())
        assert s.reference / 2 < median < s.reference * 2, (s.series_id, median)
        if not s.allow_negative:
            assert (p > 0).all(), s.series_id


def test_a_multi_day_batch_equals_day_by_day(tmp_path):
    from warehouse.lake import Lake

    def load(root, batches):
        landing = root / "landing"
        mm.simulate(dt.date(2026, 1, 1), dt.date(2026, 1, 11), landing_dir=landing, seed=4)
        lake = Lake(root / "lake")
        for b in batches:
            em.run_batch(lake, landing, b, CommitMeta("pytest", "r", "market"))
        return lake

    days = [em.Batch(dt.date(2026, 1, 1) + dt.timedelta(days=i)) for i in range(10)]
    daily = load(tmp_path / "a", days)
    bulk = load(tmp_path / "b", [em.Batch(dt.date(2026, 1, 1), dt.date(2026, 1, 6)), em.Batch(dt.date(2026, 1, 7), dt.date(2026, 1, 10))])
    drop = ["_run_id", "_source_file", "_ingested_at", "_quarantined_at", "completed_at"]
    for spec in (SILVER_PRICES, SILVER_PRICE_HISTORY, SILVER_PRICE_QUARANTINE, FCT_PRICES_DAILY, FCT_PRICES_HOURLY,
                 FCT_INGEST_BATCHES):
        keys = list(spec.primary_key) or ["vendor", "publication_date", "_line_number", "_source_file"]
        a, b = (lake.read(spec).to_pandas() for lake in (daily, bulk))
        a, b = (x.sort_values([k for k in keys if k in x]).drop(columns=drop, errors="ignore").reset_index(drop=True) for x in (a, b))
        pd.testing.assert_frame_equal(a, b, obj=spec.name)
