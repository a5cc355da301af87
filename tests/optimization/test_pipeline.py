"""Setpoint optimization on a real lake: conditions from gold, recommendations, Pareto fronts, scenarios."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from optimization.pipeline import Scenario, carbon_price_usd_t, conditions_for, hourly_caps, optimize_day, prices_for
from warehouse.lake import CommitMeta
from warehouse.sql import connect
from warehouse.tables import FCT_MODEL_PARAMETERS, FCT_PARETO_FRONT, FCT_PRICES_DAILY, FCT_SETPOINT_RECOMMENDATIONS

DAY = dt.date(2026, 3, 2)
META = CommitMeta(dag_id="pytest", run_id="opt", source="test")
PLANTS = ["cstr", "co2_electrolyzer"]


@pytest.fixture(scope="module")
def optimized(gold_lake_template, tmp_path_factory):
    import shutil

    from warehouse.lake import Lake

    root = tmp_path_factory.mktemp("optimized")
    shutil.copytree(gold_lake_template, root / "lake")
    lake = Lake(root / "lake")
    base = optimize_day(lake, DAY, meta=META, plants=PLANTS, pareto_points=5)
    return lake, base


def test_prices_are_the_ones_in_force_in_the_units_asked_for(gold_lake_template):
    from warehouse.lake import Lake

    lake = Lake(gold_lake_template)
    gold = lake.read(FCT_PRICES_DAILY, where={"price_date": DAY}).to_pandas().set_index("series_id")
    got = prices_for(lake, "smelter", DAY, {"electricity": "USD/kWh", "aluminium": "USD/kg"})
    assert gold.loc["nordpool.power_no2_da", "unit"] == "USD/MWh"
    assert got["electricity"]["value"] == pytest.approx(gold.loc["nordpool.power_no2_da", "price"] / 1000)
    assert got["aluminium"]["value"] == pytest.approx(gold.loc["lme.aluminium", "price"] / 1000)  # USD/t -> USD/kg
    assert got["electricity"]["source"] == "nordpool.power_no2_da 2026-03-02"
    with pytest.raises(Exception, match="no price for 'unobtainium'"):
        prices_for(lake, "smelter", DAY, {"unobtainium": "USD/kg"})
    assert prices_for(lake, "smelter", DAY, {"unobtainium": "USD/kg"}, {"unobtainium": 3.0})["unobtainium"]["value"] == 3.0


def test_carbon_price_nets_free_allocation(gold_lake_template):
    from warehouse.lake import Lake

    lake = Lake(gold_lake_template)
    eua = lake.read(FCT_PRICES_DAILY, where={"price_date": DAY, "series_id": "eex.eua"}).to_pandas()["price"].item()
    price, source = carbon_price_usd_t(lake, "smelter", DAY, {"scheme": "eu_ets", "free_allocation_share": 0.8775})
    assert price == pytest.approx(eua * 0.1225) and "eex.eua" in source
    assert carbon_price_usd_t(lake, "smelter", DAY, {"scheme": "none"})[0] == 0.0
    tax, _ = carbon_price_usd_t(lake, "biorefinery", DAY, {"scheme": "carbon_tax", "tax_rate": 50.0, "currency": "USD",
                                                           "free_allocation_share": 0.2})
    assert tax == pytest.approx(40.0)


def test_hourly_caps_take_the_tighter_limit():
    caps = hourly_caps({("cf4", "day"): {"limit": 12.0, "unit": "kg"}, ("co2e_scope1", "year"): {"limit": 8760, "unit": "t"},
                        ("co2", "day"): {"limit": 2.4, "unit": "t"}, ("co2", "year"): {"limit": 100.0, "unit": "t"}})
    assert caps == pytest.approx({"cf4_kg_h": 0.5, "co2e_scope1_kg_h": 1000.0, "co2_kg_h": 100_000 / 8760})


def test_scenario_validation():
    with pytest.raises(ValueError, match="base scenario"):
        Scenario(carbon_price_usd_t=100.0)
    with pytest.raises(ValueError, match="<plant>:<pollutant>:<averaging>"):
        Scenario("s1", limit_overrides={"cf4": 3.0})
    s = Scenario.from_params({"scenario_id": "s1", "grid_kg_co2e_per_kwh": 0.1, "limit_overrides": {"smelter:cf4:day": 3}})
    assert s.rules_overrides("smelter", {("cf4", "day"): {"limit": 10.0, "unit": "kg"}}) == {
        "grid_location_kg_per_kwh": 0.1, "grid_market_kg_per_kwh": 0.1,
        "limits": {("cf4", "day"): {"limit": 3.0, "unit": "kg", "document_id": "scenario", "version": 0}}}
    assert s.rules_overrides("cstr", {}) == {"grid_location_kg_per_kwh": 0.1, "grid_market_kg_per_kwh": 0.1}


def test_recommendations_beat_the_current_point_and_record_what_they_used(optimized):
    lake, base = optimized
    rec = lake.read(FCT_SETPOINT_RECOMMENDATIONS).to_pandas()
    assert set(rec["plant_id"]) == set(PLANTS) and (rec["termination"] == "optimal").all()
    assert (rec["expected_profit_usd_h"] >= rec["current_profit_usd_h"] - 1e-6).all()
    # the default decision policy never raises CO2e above the current point, and says what it did
    assert (rec["decision_policy"] == "max_profit_no_co2e_increase").all() and rec["policy_note"].str.len().gt(0).all()
    assert (rec["expected_co2e_kg_h"] <= rec["current_co2e_kg_h"] * (1 + 1e-6) + 1e-9).all()
    assert (rec["recommended_value"] >= rec["lower_bound"] - 1e-6).all()
    assert (rec["recommended_value"] <= rec["upper_bound"] + 1e-6).all()
    ecr = rec[rec["plant_id"] == "co2_electrolyzer"].iloc[0]
    prices = json.loads(ecr["prices_json"])
    assert prices["electricity"]["source"] == "eex.power_de_da 2026-03-02"
    assert prices["potassium_bicarbonate"]["source"] == "optimizer default (assumption)"
    assert ecr["grid_kg_co2e_per_kwh"] == 0.363 and ecr["model_version"] == "design"
    # The electrolyzer's current setpoints come from the day's historian data.
    assert set(rec.loc[rec["plant_id"] == "co2_electrolyzer", "setpoint"]) == {"current_a", "co2_flow_nm3_h"}
    assert rec.loc[rec["plant_id"] == "co2_electrolyzer", "current_value"].notna().all()


def test_pareto_fronts_are_monotone(optimized):
    lake, _ = optimized
    front = lake.read(FCT_PARETO_FRONT).to_pandas()
    for plant_id, f in front.groupby("plant_id"):
        f = f.sort_values("point")
        assert f["kind"].iloc[0] == "min_co2e" and f["kind"].iloc[-1] == "max_profit"
        assert f["co2e_kg_h"].is_monotonic_increasing, plant_id
        assert (f["profit_usd_h"].diff().dropna() >= -1e-6).all(), plant_id
        caps = f.dropna(subset=["co2e_cap_kg_h"])
        assert (caps["co2e_kg_h"] <= caps["co2e_cap_kg_h"] * (1 + 1e-6) + 1e-9).all()


def test_a_scenario_is_keyed_apart_and_compared_with_the_base(optimized):
    lake, base = optimized
    before = lake.read(FCT_SETPOINT_RECOMMENDATIONS, where={"scenario_id": "base"}).to_pandas()
    scen = Scenario("cheap-power", price_multipliers={"electricity": 0.5})
    out = optimize_day(lake, DAY, meta=META, plants=PLANTS, scenario=scen, pareto_points=0)
    after = lake.read(FCT_SETPOINT_RECOMMENDATIONS, where={"scenario_id": "base"}).to_pandas()
    pd.testing.assert_frame_equal(before.sort_values(["plant_id", "setpoint"]).reset_index(drop=True),
                                  after.sort_values(["plant_id", "setpoint"]).reset_index(drop=True))
    assert out["cstr"]["profit_usd_h"] > base["cstr"]["profit_usd_h"]  # cheaper chiller power
    rows = connect(lake).execute("SELECT scenario_id, plant_id, delta_profit_usd_h, base_setpoints, scenario_setpoints "
                                 "FROM gold.v_scenario_comparison ORDER BY plant_id").fetchall()
    assert [r[:2] for r in rows] == [("cheap-power", "co2_electrolyzer"), ("cheap-power", "cstr")]
    assert all(r[2] > 0 for r in rows) and "coolant_temp_k=" in rows[1][3]


def test_calibrated_parameters_are_used(copy_lake):
    row = {"scenario_id": "base", "plant_id": "cstr", "fit_date": DAY - dt.timedelta(days=1), "model_version": "cstr@x",
           "parameter": "UA", "unit": "J/(min*K)", "estimate": 4.0e4, "std_error": 500.0, "ci95_low": 3.9e4,
           "ci95_high": 4.1e4, "design_value": 5.0e4, "band_low": 4.25e4, "band_high": 5.5e4, "drift_pct": -20.0,
           "out_of_band": True, "window_start": pd.Timestamp("2026-02-23", tz="UTC"),
           "window_end": pd.Timestamp("2026-03-02", tz="UTC"), "validation_mape_pct": 1.0, "correlation_json": None, "run_id": "x",
           "computed_at": pd.Timestamp.now(tz="UTC")}
    copy_lake.upsert(FCT_MODEL_PARAMETERS, pd.DataFrame([row]), meta=META)
    cond, _ = conditions_for(copy_lake, "cstr", DAY)
    assert cond.parameters == {"UA": 4.0e4} and cond.model_version == "cstr@x"
    fouled = optimize_day(copy_lake, DAY, meta=META, plants=["cstr"], pareto_points=0)["cstr"]
    assert fouled["model_version"] == "cstr@x"
    # A calibration is used from its fit date on, never before.
    assert conditions_for(copy_lake, "cstr", DAY - dt.timedelta(days=1))[0].model_version == "cstr@x"
    assert conditions_for(copy_lake, "cstr", DAY - dt.timedelta(days=2))[0].model_version == "design"


def test_the_current_point_is_the_mean_of_the_steady_hours(copy_lake):
    from optimization.pipeline import current_setpoints
    from optimization.plants import plant_optimizer
    from warehouse.tables import FCT_EVENTS, FCT_TAG_HOURLY

    start = pd.Timestamp(DAY, tz="UTC")
    h = copy_lake.read(FCT_TAG_HOURLY, where={"plant_id": "smelter", "tag": "SMT.II101"}, start=start.to_pydatetime(),
                       end=(start + pd.Timedelta(days=1)).to_pydatetime()).to_pandas()
    before = current_setpoints(copy_lake, "smelter", DAY, plant_optimizer("smelter"))
    event = {c: None for c in FCT_EVENTS.column_names} | {
        "event_id": "smelter|plant|shutdown|test", "plant_id": "smelter", "unit": "plant", "kind": "shutdown",
        "start_at": start, "end_at": start + pd.Timedelta(hours=12), "duration_h": 12.0, "severity": "high",
        "detail": "test", "detector": "test", "model_version": "test", "run_id": "test",
        "computed_at": pd.Timestamp.now(tz="UTC")}
    # the template's own events of the day stay: the current point is the mean of the hours none of them covers
    copy_lake.upsert(FCT_EVENTS, pd.DataFrame([event], columns=FCT_EVENTS.column_names), meta=META)
    after = current_setpoints(copy_lake, "smelter", DAY, plant_optimizer("smelter"))
    from optimization.pipeline import held_hours

    held = held_hours(copy_lake, "smelter", DAY)
    assert held.iloc[:12].all()
    steady = h[~pd.to_datetime(h["hour_start"], utc=True).isin(held.index[held.to_numpy()])]
    assert after["line_current_ka"] == pytest.approx(steady["twa_value"].mean())
    assert len(steady) <= 12 < len(h) and before["line_current_ka"] != after["line_current_ka"]
