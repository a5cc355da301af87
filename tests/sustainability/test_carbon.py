"""Carbon accounting against hand-computed CO2e with the published factors Nexus ships.

Factors: IPCC 2006 Guidelines Vol. 2 Table 2.2 (natural gas 56.1 kg CO2/GJ, 0.001 kg CH4/GJ,
0.0001 kg N2O/GJ; other primary solid biomass 100 kg CO2/GJ, 0.030 kg CH4/GJ, 0.004 kg N2O/GJ);
IPCC AR6 WG1 Table 7.SM.7 GWP100 (CH4 29.8, N2O 273, CF4 7380); German grid 2024 data
(UBA: 0.363 kg/kWh location-based; AIB residual mix 0.690 kg/kWh market-based).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import yaml

from etl import regulatory as er
from models.base import ActivityStream
from models.sites import InboundLeg, Site
from sustainability.carbon import (
    account_day,
    compliance,
    daily_activity,
    pollutant_value,
    summarize_day,
)

D = dt.date
DAY = D(2025, 7, 1)


@pytest.fixture(scope="module")
def rules_frame():
    docs = [er.validate_document(yaml.safe_load(p.read_text()), p.name) for p in er.seed_documents_dir().glob("*.yaml")]
    accepted, _ = er.resolve_versions(sorted(docs, key=lambda d: (d.document_id, d.version)))
    return pd.DataFrame([row for doc, to in accepted for row in er.rule_rows(doc, to)])


@pytest.fixture(scope="module")
def rules(rules_frame):
    return er.rules_from_frame(rules_frame, "co2_electrolyzer", DAY)  # a DE site


SITE = Site("test", "DE", "DE", "p", "g", inbound=(InboundLeg("alumina", "bulk_ship", 9500.0),
                                                    InboundLeg("alumina", "truck", 100.0)))


def _activity(*rows):
    return pd.DataFrame([{"activity_date": DAY, "kind": k, "item": i, "tag": f"T{n}", "amount": a, "unit": u,
                          "hours_covered": 24, "coverage_fraction": 1.0} for n, (k, i, a, u) in enumerate(rows)])


def test_stationary_combustion_of_natural_gas_by_hand(rules):
    rows = pd.DataFrame(account_day(_activity(("fuel", "natural_gas", 100.0, "GJ")), rules, SITE))
    by_gas = rows.set_index("gas")
    assert by_gas.loc["co2", "gas_kg"] == pytest.approx(5610.0)
    assert by_gas.loc["ch4_fossil", "co2e_t"] * 1000 == pytest.approx(0.1 * 29.8)
    assert by_gas.loc["n2o", "co2e_t"] * 1000 == pytest.approx(0.01 * 273)
    assert rows["co2e_t"].sum() * 1000 == pytest.approx(5610.0 + 2.98 + 2.73)
    assert set(rows["scope"]) == {"1"} and set(rows["category"]) == {"stationary_combustion"}
    assert set(rows["factor_source"]) == {"ipcc-2006-stationary-combustion v1"}
    assert set(rows["gwp_source"]) == {"ipcc-gwp100-ar6 v1"}


def test_biogenic_co2_is_kept_out_of_the_scope_totals(rules):
    act = _activity(("fuel", "other_primary_solid_biomass", 10.0, "GJ"), ("biogenic_co2", "co2", 2.0, "t"),
                    ("product", "formic_acid", 1.0, "t"))
    rows = pd.DataFrame(account_day(act, rules, SITE))
    bio = rows[rows["scope"] == "biogenic"]
    assert bio["gas_kg"].sum() == pytest.approx(1000.0 + 2000.0) and bio["biogenic"].all()
    # CH4 and N2O of biomass combustion stay in Scope 1 (GHG Protocol); the CH4 is non-fossil, so it
    # takes AR6's non-fossil GWP100 (27.0, Table 7.15), not the fossil value that adds its oxidation CO2.
    s1 = rows[rows["scope"] == "1"]
    assert s1.set_index("gas").loc["ch4_biogenic", "gwp100"] == 27.0
    assert s1["co2e_t"].sum() * 1000 == pytest.approx(0.3 * 27.0 + 0.04 * 273)
    summary = summarize_day(rows, act, rules)
    assert summary["biogenic_co2_t"] == pytest.approx(3.0)
    assert summary["total_market_tco2e"] == pytest.approx(summary["scope1_tco2e"]) == pytest.approx(0.01902)
    assert summary["intensity_s12_market_kg_per_kg"] == pytest.approx(0.01902)


def test_scope2_location_and_market_based(rules):
    rows = pd.DataFrame(account_day(_activity(("electricity_import", "electricity", 1000.0, "kWh")), rules, SITE))
    got = dict(zip(rows["scope2_basis"], rows["co2e_t"] * 1000))
    assert got == pytest.approx({"location": 363.0, "market": 690.0})
    summary = summarize_day(rows, _activity(("electricity_import", "electricity", 1000.0, "kWh")), rules)
    assert (summary["total_location_tco2e"], summary["total_market_tco2e"]) == pytest.approx((0.363, 0.690))


def test_purchased_steam_defaults_to_a_gas_boiler_at_80_percent(rules):
    rows = pd.DataFrame(account_day(_activity(("steam_import", "steam", 10.0, "GJ")), rules, SITE))
    per_gj = (56.1 + 0.001 * 29.8 + 0.0001 * 273) / 0.8  # IPCC 2006 natural gas x AR6, EPA default efficiency
    assert set(rows["scope"]) == {"2"} and set(rows["scope2_basis"]) == {"location", "market"}
    assert (rows["co2e_t"] * 1000).tolist() == pytest.approx([10 * per_gj] * 2)
    assert "EPA default" in rows["factor_source"].iloc[0]


def test_scope3_purchased_goods_and_inbound_transport(rules):
    rows = pd.DataFrame(account_day(_activity(("feedstock", "alumina", 2.0, "t")), rules, SITE))
    cat1 = rows[rows["category"] == "cat1_purchased_goods"]
    assert cat1["co2e_t"].sum() == pytest.approx(2.0 * 1.3)
    legs = rows[rows["category"] == "cat4_upstream_transport"].set_index("source_ref")
    assert legs.loc["bulk_ship 9500 km", "activity_amount"] == pytest.approx(19000.0)  # t*km
    assert legs.loc["bulk_ship 9500 km", "co2e_t"] * 1000 == pytest.approx(19000 * 0.0035)
    assert legs.loc["truck 100 km", "co2e_t"] * 1000 == pytest.approx(200 * 0.107)
    assert set(rows["scope"]) == {"3"}


def test_process_emissions_use_the_gwp_in_force(rules_frame):
    act = _activity(("process_emission", "cf4", 2.0, "kg"), ("process_emission", "ch4", 1.0, "t"))
    ar6 = pd.DataFrame(account_day(act, er.rules_from_frame(rules_frame, "smelter", DAY), SITE)).set_index("gas")
    ar5 = pd.DataFrame(account_day(act, er.rules_from_frame(rules_frame, "smelter", DAY, gwp_set="AR5"), SITE)
                       ).set_index("gas")
    assert ar6.loc["cf4", "co2e_t"] == pytest.approx(2.0 * 7380 / 1000)
    assert ar6.loc["ch4", "category"] == "fugitive" and ar6.loc["ch4", "co2e_t"] == pytest.approx(29.8)
    assert ar5.loc["cf4", "co2e_t"] == pytest.approx(2.0 * 6630 / 1000)  # AR5 WG1 Table 8.A.1


def test_factors_follow_the_day_and_scenario_overrides(rules_frame):
    act = _activity(("electricity_import", "electricity", 1000.0, "kWh"))
    old = pd.DataFrame(account_day(act, er.rules_from_frame(rules_frame, "cstr", D(2024, 7, 1)), SITE))
    assert set(old["factor_source"]) == {"grid-emission-factors v1"}
    assert old.loc[old["scope2_basis"] == "location", "co2e_t"].item() == pytest.approx(0.380)
    scen = er.rules_from_frame(rules_frame, "cstr", DAY, overrides={"grid_location_kg_per_kwh": 0.1})
    rows = pd.DataFrame(account_day(act, scen, SITE)).set_index("scope2_basis")
    assert rows.loc["location", "co2e_t"] == pytest.approx(0.1)
    assert rows.loc["location", "factor_source"] == "scenario override"
    assert rows.loc["market", "factor_source"] == "grid-emission-factors v2"


def test_a_missing_factor_raises_or_is_recorded_as_a_gap(rules):
    act = _activity(("feedstock", "unobtainium", 1.0, "t"), ("electricity_import", "electricity", 10.0, "kWh"))
    with pytest.raises(KeyError, match="unobtainium"):
        account_day(act, rules, SITE)
    gaps: list[str] = []
    rows = account_day(act, rules, SITE, gaps=gaps)
    assert len(rows) == 2 and len(gaps) == 1 and "unobtainium" in gaps[0]


def test_daily_activity_integrates_hourly_means_and_fills_gaps():
    hours = pd.date_range("2025-07-01", periods=24, freq="h", tz="UTC")
    hourly = pd.concat([
        pd.DataFrame({"tag": "F", "hour_start": hours, "unit": "t/h", "twa_value": 10.0}),
        pd.DataFrame({"tag": "P", "hour_start": hours, "unit": "kW", "twa_value": [500.0] * 12 + [None] * 12}),
    ])
    streams = (ActivityStream("feedstock", "alumina", "F", "t"),
               ActivityStream("electricity_import", "electricity", "P", "kWh", factor=0.5))
    act = daily_activity(hourly, streams).set_index("tag")
    assert act.loc["F", "amount"] == pytest.approx(240.0) and act.loc["F", "coverage_fraction"] == 1.0
    # 12 measured hours at 500 kW, gap-filled to the day, times the stream's factor 0.5.
    assert act.loc["P", "amount"] == pytest.approx(500 * 24 * 0.5) and act.loc["P", "coverage_fraction"] == 0.5


def test_compliance_daily_exceedance_and_yearly_projection():
    daily = pd.DataFrame({"emission_date": [D(2026, 1, 1), D(2026, 1, 2)], "pollutant": ["cf4", "cf4"],
                          "value_kg": [4.0, 12.0]})
    limits = [{"pollutant": "cf4", "averaging": "day", "limit": 10.0, "unit": "kg"},
              {"pollutant": "cf4", "averaging": "year", "limit": 2.0, "unit": "t"}]
    day, year = compliance(daily, limits, D(2026, 1, 2))
    assert (day["value"], day["status"]) == (12.0, "exceeded")
    assert year["value"] == pytest.approx(0.016) and year["projected_value"] == pytest.approx(0.008 * 365)
    assert year["status"] == "at_risk"
    assert compliance(daily, limits, D(2026, 1, 1))[0]["status"] == "ok"


def test_compliance_warns_alike_for_daily_and_yearly_limits():
    """At risk from 90 % of a limit, projected: a day at 95 % warns, one at 85 % does not; a yearly
    limit barely used yet but set to end at 95 % warns, one set to end at 50 % does not."""
    daily = pd.DataFrame({"emission_date": [D(2026, 1, 1)] * 2, "pollutant": ["cf4", "ch4"], "value_kg": [9.5, 8.5]})
    limits = [{"pollutant": "cf4", "averaging": "day", "limit": 10.0, "unit": "kg"},
              {"pollutant": "ch4", "averaging": "day", "limit": 10.0, "unit": "kg"},
              {"pollutant": "cf4", "averaging": "year", "limit": 9.5 * 365 / 0.95, "unit": "kg"},
              {"pollutant": "ch4", "averaging": "year", "limit": 8.5 * 365 / 0.5, "unit": "kg"}]
    rows = compliance(daily, limits, D(2026, 1, 1))
    assert [r["status"] for r in rows] == ["at_risk", "ok", "at_risk", "ok"]
    assert [round(r["projected_utilisation_pct"], 6) for r in rows] == [95.0, 85.0, 95.0, 50.0]
    assert rows[2]["utilisation_pct"] == pytest.approx(100 * 0.95 / 365)  # 0.26 % used by 1 January


def test_pollutant_values():
    rows = pd.DataFrame({"scope": ["1", "1", "2", "biogenic"], "scope2_basis": ["", "", "market", ""],
                         "gas": ["co2", "cf4", "co2e", "co2"], "gas_kg": [1000.0, 1.0, 500.0, 9000.0],
                         "co2e_t": [1.0, 7.38, 0.5, 9.0]})
    assert pollutant_value(rows, "co2") == 1000.0  # the biogenic CO2 is not the permit's CO2
    assert pollutant_value(rows, "co2e_scope1") == pytest.approx(8380.0)
    assert pollutant_value(rows, "co2e_total") == pytest.approx(8880.0)
    # a methane limit counts fugitive (biogenic) and combustion (fossil) methane alike
    methane = pd.DataFrame({"scope": ["1", "1", "1"], "scope2_basis": ["", "", ""],
                            "gas": ["ch4_biogenic", "ch4_fossil", "n2o"], "gas_kg": [40.0, 2.0, 1.0],
                            "co2e_t": [1.08, 0.0596, 0.273]})
    assert pollutant_value(methane, "ch4") == 42.0
