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


# ------------------------------------------------------------------------ hostile files (issue 13)
THU = dt.date(2026, 3, 5)
RATE = "ecb.usd_per_eur,{day},P1D,{rate},USD,EUR,{day}T16:00:00Z"
EUA = "eex.eua,{day},P1D,{value},EUR,t,{day}T17:30:00Z"


def write_bytes(landing: Path, vendor: str, name: str, content: bytes) -> None:
    folder = landing / "market" / vendor
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)


def audit_of(lake, vendor: str, day: dt.date = FRI) -> dict:
    rows = [r for r in lake.read(FCT_INGEST_BATCHES).to_pylist() if r["plant_id"] == vendor and r["period_date"] == day]
    assert len(rows) == 1, rows
    return rows[0]


def quarantine_of(lake, vendor: str) -> dict[int, dict]:
    return {r["_line_number"]: r for r in lake.read(SILVER_PRICE_QUARANTINE, where={"vendor": vendor}).to_pylist()}


def test_a_field_over_128_kib_quarantines_its_line_and_later_files_load(lake, tmp_path):
    landing = tmp_path / "landing"
    write(landing, "ecb", FRI, 1, [RATE.format(day=FRI, rate=1.10)])
    huge = f'eex.eua,2026-03-06,P1D,"{"9" * 200_000}",EUR,t,2026-03-06T17:30:00Z'
    write(landing, "eex", FRI, 1, [huge, EUA.format(day=FRI, value=80.0)])
    write(landing, "eex", FRI, 2, ["eex.gas_ttf,2026-03-06,P1D,30.0,EUR,MWh,2026-03-06T17:30:00Z"])
    run(lake, landing, FRI)
    q = quarantine_of(lake, "eex")
    assert list(q) == [2] and q[2]["rule"] == "parse"
    assert "line 2: malformed CSV (field larger than field limit" in q[2]["reason"]
    assert q[2]["_source_file"].endswith("eex__2026-03-06__01.csv")
    assert {r["series_id"] for r in lake.read(SILVER_PRICES).to_pylist()} == {"ecb.usd_per_eur", "eex.eua", "eex.gas_ttf"}
    run(lake, landing, FRI, run_id="again")  # a rerun goes through as well
    assert audit_of(lake, "eex")["quarantined_rows"] == 1


def test_an_undecodable_byte_quarantines_only_its_line(lake, tmp_path):
    landing = tmp_path / "landing"
    write(landing, "ecb", FRI, 1, [RATE.format(day=FRI, rate=1.10)])
    write_bytes(landing, "eex", f"eex__{FRI}__01.csv", HEADER.encode() + b"eex.eua,2026-03-06,P1D,8\xff0.0,EUR,t,"
                b"2026-03-06T17:30:00Z\n" b"eex.gas_ttf,2026-03-06,P1D,30.0,EUR,MWh,2026-03-06T17:30:00Z\n")
    run(lake, landing, FRI)
    q = quarantine_of(lake, "eex")
    assert list(q) == [2] and "line 2: not UTF-8 text (byte 0xff at column 25)" in q[2]["reason"]
    assert q[2]["_raw_line"] == "eex.eua,2026-03-06,P1D,8\\xff0.0,EUR,t,2026-03-06T17:30:00Z"
    assert [r["series_id"] for r in lake.read(SILVER_PRICE_HISTORY, where={"publication_date": FRI}).to_pylist()
            if r["series_id"].startswith("eex")] == ["eex.gas_ttf"]


def test_fx_rates_flag_rates_that_are_not_positive():
    fx = pd.DataFrame({"series_id": ["ecb.usd_per_eur"] * 3,
                       "period_start": pd.to_datetime(["2026-03-04", "2026-03-05", "2026-03-06"], utc=True),
                       "value_original": [1.10, 0.0, -1.0]})
    for currency in ("EUR", "USD"):  # 1/0 must not become an infinite rate either
        rates = em.fx_rates(fx, currency, "USD" if currency == "EUR" else "EUR")
        assert rates["rate"].notna().tolist() == [True, False, False]
        assert rates["problem"].tolist()[1:] == ["rate 0.0 is not a positive finite number",
                                                  "rate -1.0 is not a positive finite number"]


def test_a_zero_exchange_rate_quarantines_the_rate_and_the_prices_that_need_it(lake, tmp_path):
    landing = tmp_path / "landing"
    write(landing, "ecb", THU, 1, [RATE.format(day=THU, rate=1.10)])
    write(landing, "eex", THU, 1, [EUA.format(day=THU, value=79.0)])
    write(landing, "ecb", FRI, 1, [RATE.format(day=FRI, rate=0)])
    write(landing, "eex", FRI, 1, [EUA.format(day=FRI, value=80.0)])
    write(landing, "usmkt", FRI, 1, ["usmkt.ethanol_chicago,2026-03-06,P1D,2.00,USD,gal,2026-03-06T18:00:00Z"])
    run(lake, landing, THU)
    out = run(lake, landing, FRI)  # does not fail the day: the rate and the EUR prices wait, USD prices publish
    assert out["silver"]["quarantine_rules"] == {"fx_rate_positive": 1, "fx_rate": 1}
    assert "must be above 0; found 0.0" in quarantine_of(lake, "ecb")[2]["reason"]
    reason = quarantine_of(lake, "eex")[2]["reason"]  # not converted at Thursday's rate either
    assert "EUR->USD exchange rate of 2026-03-06 is not usable" in reason and "ecb__2026-03-06__01.csv line 2" in reason
    history = lake.read(SILVER_PRICE_HISTORY).to_pandas()
    assert (history["price"] > 0).all() and (history["fx_rate"] > 0).all()
    assert set(history.loc[history["publication_date"] == FRI, "series_id"]) == {"usmkt.ethanol_chicago"}


def test_a_bad_repeat_of_a_published_rate_does_not_hide_the_good_one(lake, tmp_path):
    """Friday's ECB file repeats Thursday's rate with a typo: the repeat is quarantined, and Friday's
    EUR prices still convert at Thursday's published rate (the latest as of Friday)."""
    landing = tmp_path / "landing"
    write(landing, "ecb", THU, 1, [RATE.format(day=THU, rate=1.10)])
    run(lake, landing, THU)
    write(landing, "ecb", FRI, 1, [RATE.format(day=THU, rate=1.01)])
    write(landing, "eex", FRI, 1, [EUA.format(day=FRI, value=80.0)])
    out = run(lake, landing, FRI)
    assert out["silver"]["quarantine_rules"] == {"conflicting_issue": 1}
    (eua,) = lake.read(SILVER_PRICE_HISTORY, where={"series_id": "eex.eua"}).to_pylist()
    assert eua["fx_rate"] == pytest.approx(1.10) and eua["price"] == pytest.approx(80.0 * 1.10)


def test_identical_repeats_are_counted_and_conflicting_values_quarantined(lake, tmp_path):
    landing = tmp_path / "landing"
    write(landing, "ecb", FRI, 1, [RATE.format(day=FRI, rate=1.10)])
    gas = "eex.gas_ttf,2026-03-06,P1D,{},EUR,MWh,2026-03-06T17:30:00Z"
    write(landing, "eex", FRI, 1, [EUA.format(day=FRI, value=80.0), gas.format(30.0)])
    write(landing, "eex", FRI, 2, [EUA.format(day=FRI, value="80.00"), gas.format(31.0)])
    out = run(lake, landing, FRI)
    assert out["silver"]["duplicates_removed"] == 1 and out["silver"]["conflicting_rows"] == 2
    a = audit_of(lake, "eex")
    assert (a["bronze_rows"], a["silver_rows"], a["quarantined_rows"], a["duplicates_removed"], a["conflicting_rows"]) \
        == (4, 1, 2, 1, 2)
    assert lake.read(SILVER_PRICE_HISTORY, where={"series_id": "eex.eua"}).num_rows == 1
    assert not lake.read(SILVER_PRICE_HISTORY, where={"series_id": "eex.gas_ttf"}).num_rows
    q = {(r["_source_file"][-6:-4], r["_line_number"]): r for r in lake.read(SILVER_PRICE_QUARANTINE).to_pylist()}
    assert {k: r["rule"] for k, r in q.items()} == {("01", 3): "conflicting_issue", ("02", 3): "conflicting_issue"}
    assert "is 30.0 here but 31.0 at raw/market/eex/2026-03-06/" in q["01", 3]["reason"]
    assert "eex__2026-03-06__02.csv line 3" in q["01", 3]["reason"]


def test_a_later_file_repeating_a_published_issue(lake, tmp_path):
    landing = tmp_path / "landing"
    gas = "eex.gas_ttf,2026-03-06,P1D,{},EUR,MWh,2026-03-06T17:30:00Z "
    write(landing, "ecb", FRI, 1, [RATE.format(day=FRI, rate=1.10)])
    write(landing, "eex", FRI, 1, [EUA.format(day=FRI, value=80.0), gas.format(30.0)])
    write(landing, "eex", SAT, 1, [EUA.format(day=FRI, value=80.0), gas.format(31.0)])
    run(lake, landing, FRI)
    out = run(lake, landing, SAT)
    assert out["silver"]["duplicates_removed"] == 1 and out["silver"]["conflicting_rows"] == 1
    assert "is 31.0 here but 30.0 at raw/market/eex/2026-03-06/" in quarantine_of(lake, "eex")[3]["reason"]
    assert "(already published)" in quarantine_of(lake, "eex")[3]["reason"]
    history = lake.read(SILVER_PRICE_HISTORY).to_pandas()
    assert sorted(history.loc[history["series_id"] != "ecb.usd_per_eur", "value_original"]) == [30.0, 80.0]


def test_repeats_across_days_decide_the_same_in_one_multi_day_batch(tmp_path):
    from warehouse.lake import Lake

    def load(root, batches):
        landing = root / "landing"
        gas = "eex.gas_ttf,2026-03-06,P1D,{},EUR,MWh,2026-03-06T17:30:00Z"
        write(landing, "ecb", FRI, 1, [RATE.format(day=FRI, rate=1.10)])
        write(landing, "eex", FRI, 1, [EUA.format(day=FRI, value=80.0), gas.format(30.0)])
        write(landing, "eex", SAT, 1, [EUA.format(day=FRI, value=80.0), gas.format(31.0)])
        lake = Lake(root / "lake")
        for b in batches:
            em.run_batch(lake, landing, b, CommitMeta("pytest", "r", "market"))
        quarantine = sorted((r["_source_file"][-18:], r["_line_number"], r["rule"]) for r in lake.read(SILVER_PRICE_QUARANTINE).to_pylist())
        history = sorted((r["series_id"], r["value_original"], r["publication_date"]) for r in lake.read(SILVER_PRICE_HISTORY).to_pylist())
        audit = sorted((r["plant_id"], r["period_date"], r["silver_rows"], r["quarantined_rows"], r["duplicates_removed"],
                        r["conflicting_rows"]) for r in lake.read(FCT_INGEST_BATCHES).to_pylist())
        return quarantine, history, audit

    daily = load(tmp_path / "a", [em.Batch(FRI), em.Batch(SAT)])
    assert daily[0] == [("2026-03-07__01.csv", 3, "conflicting_issue")]
    assert load(tmp_path / "b", [em.Batch(FRI, SAT)]) == daily


def test_rows_and_files_of_another_vendor_are_refused(lake, tmp_path):
    landing = tmp_path / "landing"
    write(landing, "ecb", FRI, 1, [RATE.format(day=FRI, rate=1.10)])
    write(landing, "eex", FRI, 1, [EUA.format(day=FRI, value=80.0), RATE.format(day=FRI, rate=1.2)])
    write_bytes(landing, "eex", f"ecb__{FRI}__02.csv", (HEADER + RATE.format(day=FRI, rate=1.3) + "\n").encode())
    run(lake, landing, FRI)
    q = quarantine_of(lake, "eex")
    assert q[3]["rule"] == "vendor_matches_series"
    assert "ecb.usd_per_eur is delivered by vendor ecb; found in a file of vendor eex" in q[3]["reason"]
    assert [r["value_original"] for r in lake.read(SILVER_PRICES, where={"series_id": "ecb.usd_per_eur"}).to_pylist()] == [1.10]
    files = {r["file_name"]: r for r in lake.read(em.RAW_FILES).to_pylist()}
    assert files[f"ecb__{FRI}__02.csv"]["status"] == "rejected" and files[f"ecb__{FRI}__02.csv"]["plant_id"] == "eex"
    assert "names plant 'ecb' but arrived in the inbox of 'eex'" in files[f"ecb__{FRI}__02.csv"]["reason"]
    assert not any((landing / "market" / "eex").iterdir())  # nothing waits in the inbox for ever
    a = audit_of(lake, "eex")
    assert (a["files_received"], a["files_landed"], a["files_rejected"]) == (2, 1, 1)


def test_a_gzip_vendor_file_loads_and_a_corrupt_one_is_rejected(lake, tmp_path):
    import gzip

    landing = tmp_path / "landing"
    write_bytes(landing, "ecb", f"ecb__{FRI}__01.csv.gz", gzip.compress((HEADER + RATE.format(day=FRI, rate=1.1) + "\n").encode()))
    write_bytes(landing, "ecb", f"ecb__{FRI}__02.csv.gz", gzip.compress(b"series_id")[:12])
    run(lake, landing, FRI)
    assert [r["value_original"] for r in lake.read(SILVER_PRICES).to_pylist()] == [1.1]
    a = audit_of(lake, "ecb")
    assert (a["files_received"], a["files_landed"], a["files_rejected"]) == (2, 1, 1)


def test_every_file_that_arrives_is_counted_even_without_rows(lake, tmp_path):
    landing = tmp_path / "landing"
    write_bytes(landing, "eex", f"eex__{FRI}__01.csv", b"")
    write_bytes(landing, "eex", f"eex__{FRI}__02.csv", HEADER.encode() + b"\n\n")
    write_bytes(landing, "eex", f"eex__{FRI}__03.csv", b"price;date\n1;2\n")
    write_bytes(landing, "eex", "prices-friday.csv", b"misnamed\n")
    write(landing, "eex", FRI, 4, [])  # a header only, without the blank lines of __02
    run(lake, landing, FRI)
    a = audit_of(lake, "eex")
    assert a["status"] == "empty" and a["bronze_rows"] == a["silver_rows"] == 0
    assert (a["files_received"], a["files_landed"], a["files_empty"], a["files_rejected"]) == (5, 0, 3, 2)
    status = {r["file_name"]: (r["status"], r["reason"]) for r in lake.read(em.RAW_FILES).to_pylist()}
    assert status[f"eex__{FRI}__01.csv"] == ("empty", "0 bytes")
    assert status[f"eex__{FRI}__02.csv"] == ("empty", "no data line (header only)")
    assert status[f"eex__{FRI}__03.csv"][0] == "rejected" and "line 1: header must be" in status[f"eex__{FRI}__03.csv"][1]
    assert status["prices-friday.csv"][0] == "rejected"


def test_rows_that_do_not_add_up_stop_the_batch_before_anything_is_written(lake, tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    write(landing, "ecb", FRI, 1, [RATE.format(day=FRI, rate=1.10)])
    write(landing, "eex", FRI, 1, [EUA.format(day=FRI, value=80.0), EUA.format(day=FRI, value=80.0)])
    real = em._split_repeats

    def lose_the_duplicates(valid, published):  # a bug that drops rows without counting them
        rows, _, conflicts = real(valid, published)
        return rows, set(), conflicts

    monkeypatch.setattr(em, "_split_repeats", lose_the_duplicates)
    with pytest.raises(em.ContractViolation, match=r"market batch eex 2026-03-06: 2 bronze rows but 1 silver \+ 0 quarantined \+ 0 duplicates"):
        run(lake, landing, FRI)
    assert not lake.exists(SILVER_PRICE_HISTORY) and not lake.exists(SILVER_PRICES) and not lake.exists(FCT_INGEST_BATCHES)


# ------------------------------------------------------------------------------ clean exit
# Issue 13: a run that had done its work aborted on exit ("terminate called without an active
# exception", rc -6), segfaulted or hung. Cause (fixed in Lake._arrow_dataset): Lake.dataset served
# Delta tables through deltalake's default PyFileSystem, so Arrow's I/O threads called into Python
# for every read; a scan left unfinished (DuckDB stopping at a LIMIT on a connection nobody closed)
# still had them reading when the interpreter finalized. Reproduced in 3 of 6 and 4 of 6 runs of
# the case below; 0 of 8 with the tables read through Arrow's own local file system.
_CASE = """
import datetime as dt, sys
from pathlib import Path
from etl import market as em
from warehouse.lake import CommitMeta, Lake
from warehouse.sql import connect

root = Path(sys.argv[1])
head = "series_id,period_start,period,value,currency,unit,issued_at\\n"
lines = {"ecb": ["ecb.usd_per_eur,{d},P1D,1.1,USD,EUR,{d}T16:00:00Z", "ecb.usd_per_eur,{d},P1D,0,USD,EUR,{d}T16:05:00Z"],
         "eex": ["eex.eua,{d},P1D,80,EUR,t,{d}T17:30:00Z", "eex.eua,{d},P1D,81,EUR,t,{d}T17:30:00Z",
                 'eex.eua,{d},P1D,"' + "9" * 140_000 + '",EUR,t,{d}T17:30:00Z']}
days = [dt.date(2026, 3, 2) + dt.timedelta(days=i) for i in range(4)]
for vendor, rows in lines.items():
    (root / "landing" / "market" / vendor).mkdir(parents=True)
    for d in days:
        (root / "landing" / "market" / vendor / f"{vendor}__{d}__01.csv").write_text(
            head + "".join(r.format(d=d) + "\\n" for r in rows))
lake = Lake(root / "lake")
for d in days:
    em.run_batch(lake, root / "landing", em.Batch(d), CommitMeta("pytest", f"exit-{d}", "market"))
con = connect(lake)  # left open, as a script or notebook does
print(con.sql("SELECT series_id FROM silver.market__price_history LIMIT 1").fetchall())  # stops at the LIMIT
"""


def test_a_finished_run_exits_cleanly(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    runs = []
    for i in range(2):
        (tmp_path / str(i)).mkdir()
        done = subprocess.run([sys.executable, "-c", _CASE, str(tmp_path / str(i))], cwd=root, capture_output=True,
                              text=True, timeout=120)
        runs.append((done.returncode, done.stdout.strip(), done.stderr[-300:]))
    assert [(rc, out) for rc, out, _ in runs] == [(0, "[('ecb.usd_per_eur',)]")] * 2, runs


def test_tables_are_read_without_calling_python_from_arrow_threads(lake, tmp_path):
    import pyarrow.fs

    landing = tmp_path / "landing"
    write(landing, "ecb", FRI, 1, [RATE.format(day=FRI, rate=1.10)])
    run(lake, landing, FRI)
    assert not isinstance(lake.dataset(SILVER_PRICE_HISTORY).filesystem, pyarrow.fs.PyFileSystem)
