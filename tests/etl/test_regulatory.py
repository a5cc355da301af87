"""Regulatory feed: document validation, versions and supersession, as-of lookup, overrides, pipeline."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
import yaml

from etl import regulatory as er
from warehouse.lake import CommitMeta
from warehouse.tables import DIM_CARBON_PRICING, DIM_EMISSION_FACTORS, SILVER_REGULATORY_DOCUMENTS

D = dt.date


def grid_doc(version=1, valid_from="2024-01-01", valid_to=None, de=0.38, **extra):
    doc = {"document_id": "grid", "version": version, "kind": "grid_emission_factors", "title": "t", "source": "s",
           "valid_from": valid_from, "valid_to": valid_to,
           "entries": [{"region": "DE", "basis": "location", "kg_co2e_per_kwh": de},
                       {"region": "DE", "basis": "market", "kg_co2e_per_kwh": 0.7}]}
    doc.update(extra)
    return doc


# ------------------------------------------------------------------------------ one document
@pytest.mark.parametrize(("change", "field", "message"), [
    ({"title": None}, "title", "required field is missing"),
    ({"version": "2"}, "version", "expected a number"),
    ({"kind": "tariffs"}, "kind", "must be one of"),
    ({"valid_from": "01.01.2024"}, "valid_from", "expected a date YYYY-MM-DD"),
    ({"valid_to": "2023-06-01"}, "valid_to", "must be after valid_from 2024-01-01"),
    ({"entries": []}, "entries", "non-empty list"),
])
def test_header_errors_name_document_and_field(change, field, message):
    with pytest.raises(er.DocumentRejected) as err:
        er.validate_document(grid_doc(**change))
    assert err.value.field == field and message in err.value.reason
    assert str(err.value).startswith("grid")


def test_entry_errors_name_the_entry_field():
    doc = grid_doc()
    doc["entries"][1]["kg_co2e_per_kwh"] = -0.1
    with pytest.raises(er.DocumentRejected, match=r"entries\[1\]\.kg_co2e_per_kwh: must be >= 0"):
        er.validate_document(doc)
    doc = grid_doc()
    del doc["entries"][0]["basis"]
    with pytest.raises(er.DocumentRejected, match=r"entries\[0\]\.basis: required field is missing"):
        er.validate_document(doc)
    doc = grid_doc()
    doc["entries"][0]["tonnes"] = 1
    with pytest.raises(er.DocumentRejected, match=r"entries\[0\]\.tonnes: unknown field"):
        er.validate_document(doc)


def test_a_document_that_contradicts_itself_is_rejected():
    doc = grid_doc()
    doc["entries"].append({"region": "DE", "basis": "location", "kg_co2e_per_kwh": 0.41})
    with pytest.raises(er.DocumentRejected) as err:
        er.validate_document(doc)
    assert err.value.field == "entries[2]"
    assert "contradicts entries[0]: same region=DE, basis=location with kg_co2e_per_kwh 0.38 vs 0.41" in err.value.reason
    gwp = {"document_id": "g", "version": 1, "kind": "gwp_set", "gwp_set": "AR6", "title": "t", "source": "s",
           "valid_from": "2021-08-09", "entries": [{"gas": "co2", "gwp100": 2}]}
    with pytest.raises(er.DocumentRejected, match="GWP of CO2 is 1 by definition"):
        er.validate_document(gwp)
    pricing = {"document_id": "c", "version": 1, "kind": "carbon_pricing", "title": "t", "source": "s",
               "valid_from": "2024-01-01", "entries": [{"plant_id": "smelter", "scheme": "eu_ets", "free_allocation_share": 0.5}]}
    with pytest.raises(er.DocumentRejected, match=r"price_series: scheme eu_ets needs the allowance price series"):
        er.validate_document(pricing)


def test_every_shipped_document_is_valid():
    docs = [er.validate_document(yaml.safe_load(p.read_text()), p.name) for p in er.seed_documents_dir().glob("*.yaml")]
    accepted, rejected = er.resolve_versions(sorted(docs, key=lambda d: (d.document_id, d.version)))
    assert rejected == [] and len(accepted) == len(docs) >= 7


# ---------------------------------------------------------------------------------- versions
def test_a_later_version_closes_the_earlier_one():
    v1, v2 = er.validate_document(grid_doc(1)), er.validate_document(grid_doc(2, "2025-01-01", de=0.363))
    accepted, rejected = er.resolve_versions([v1, v2])
    assert rejected == []
    assert [(d.version, to) for d, to in accepted] == [(1, D(2025, 1, 1)), (2, None)]


@pytest.mark.parametrize(("v1", "v2", "field", "message"), [
    (grid_doc(1, valid_to="2025-06-01"), grid_doc(2, "2025-01-01"), "valid_from",
     "2025-01-01 overlaps version 1, in force 2024-01-01 to 2025-06-01"),
    (grid_doc(1, "2024-01-01"), grid_doc(2, "2023-01-01"), "valid_from",
     "2023-01-01 must be after version 1's valid_from 2024-01-01"),
    (grid_doc(1), grid_doc(1, de=0.5), "version",
     "version 1 of grid is already in force with different content; issue version 2 instead"),
])
def test_conflicting_versions_are_rejected_and_earlier_stay_in_force(v1, v2, field, message):
    a, b = er.validate_document(v1), er.validate_document(v2)
    accepted, rejected = er.resolve_versions([a, b])
    assert [d.version for d, _ in accepted] == [1] and accepted[0][0] is a
    assert len(rejected) == 1 and rejected[0][0] is b and rejected[0][1] == field
    assert message in rejected[0][2]


def test_versions_arriving_out_of_order_give_the_same_result():
    docs = [er.validate_document(grid_doc(v, f"{2023 + v}-01-01", de=0.3 + v / 100)) for v in (1, 2, 3)]
    forward = er.resolve_versions(docs)[0]
    backward = er.resolve_versions(sorted(docs[::-1], key=lambda d: d.version))[0]
    assert [(d.version, to) for d, to in forward] == [(d.version, to) for d, to in backward] == [
        (1, D(2025, 1, 1)), (2, D(2026, 1, 1)), (3, None)]


# ------------------------------------------------------------------------------ as-of lookup
@pytest.fixture(scope="module")
def rules():
    docs = [er.validate_document(yaml.safe_load(p.read_text()), p.name) for p in er.seed_documents_dir().glob("*.yaml")]
    accepted, _ = er.resolve_versions(sorted(docs, key=lambda d: (d.document_id, d.version)))
    return pd.DataFrame([row for doc, to in accepted for row in er.rule_rows(doc, to)])


def test_rules_in_force_follow_the_date(rules):
    old = er.rules_from_frame(rules, "co2_electrolyzer", D(2024, 7, 1))
    new = er.rules_from_frame(rules, "co2_electrolyzer", D(2025, 7, 1))
    assert (old.grid_location_kg_per_kwh, new.grid_location_kg_per_kwh) == (0.380, 0.363)
    assert ("grid-emission-factors", 1) in old.documents and ("grid-emission-factors", 2) in new.documents
    assert er.rules_from_frame(rules, "smelter", D(2025, 12, 31)).carbon_pricing["free_allocation_share"] == 0.90
    assert er.rules_from_frame(rules, "smelter", D(2026, 1, 1)).carbon_pricing["free_allocation_share"] == 0.8775
    before = er.rules_from_frame(rules, "smelter", D(2023, 6, 1))
    assert before.grid_location_kg_per_kwh is None and before.carbon_pricing["scheme"] == "none"


def test_gwp_sets_and_co2e(rules):
    ar6 = er.rules_from_frame(rules, "smelter", D(2025, 1, 1))
    ar5 = er.rules_from_frame(rules, "smelter", D(2025, 1, 1), gwp_set="AR5")
    assert ar6.co2e_kg("cf4", 1.0) == 7380 and ar5.co2e_kg("cf4", 1.0) == 6630
    assert ar6.co2e_kg("n2o", 2.0) == 546 and ar6.gwp100["c2f6"] == 12400
    gas = ar6.fuels["natural_gas"]
    # 1 GJ of natural gas: 56.1 kg CO2 + 0.001 kg CH4 x 29.8 + 0.0001 kg N2O x 273 = 56.1571 kg CO2e
    co2e = gas["co2_kg_per_gj"] + ar6.co2e_kg("ch4_fossil", gas["ch4_kg_per_gj"]) + ar6.co2e_kg("n2o", gas["n2o_kg_per_gj"])
    assert co2e == pytest.approx(56.1571, abs=1e-6)
    assert ar6.fuels["biogas"]["biogenic"] is True and ar6.fuels["natural_gas"]["biogenic"] is False


def test_scenario_overrides(rules):
    base = er.rules_from_frame(rules, "biorefinery", D(2025, 3, 1))
    scen = er.rules_from_frame(rules, "biorefinery", D(2025, 3, 1), overrides={
        "grid_location_kg_per_kwh": 0.1,
        "carbon_pricing": {"scheme": "carbon_tax", "tax_rate": 150.0, "currency": "USD"}})
    assert base.carbon_pricing["scheme"] == "none" and scen.carbon_pricing["tax_rate"] == 150.0
    assert scen.grid_location_kg_per_kwh == 0.1 and scen.grid_market_kg_per_kwh == base.grid_market_kg_per_kwh
    with pytest.raises(ValueError, match="unknown override"):
        er.apply_overrides(base, {"carbon_price": 10})


# ---------------------------------------------------------------------------------- pipeline
def test_pipeline_rejects_bad_documents_and_is_idempotent(lake, tmp_path):
    inbox = tmp_path / "landing" / "regulatory"
    inbox.mkdir(parents=True)
    for p in er.seed_documents_dir().glob("*.yaml"):
        shutil.copy(p, inbox / p.name)
    (inbox / "grid-v3-overlap.yaml").write_text(yaml.safe_dump(grid_doc(3, "2024-06-01") | {"document_id": "grid-emission-factors"}))
    (inbox / "broken.yaml").write_text("document_id: [unclosed\n")
    (inbox / "notes.txt").write_text("not a document")
    meta = CommitMeta("pytest", "r1", "regulatory")
    out = er.run_all(lake, tmp_path / "landing", meta)
    assert out["land"]["rejected"] == ["notes.txt"]
    rejected = dict(r.split(": ", 1) for r in out["silver"]["rejected"])
    assert "not a valid YAML document" in rejected["broken.yaml"]
    assert "must be after version 2's valid_from 2025-01-01" in rejected["grid-v3-overlap.yaml"]
    docs = lake.read(SILVER_REGULATORY_DOCUMENTS).to_pandas()
    assert set(docs[docs["document_id"] == "grid-emission-factors"]["version"]) == {1, 2}
    factors = lake.read(DIM_EMISSION_FACTORS).to_pandas()
    de = factors[(factors["subject"] == "DE") & (factors["qualifier"] == "location")].sort_values("valid_from")
    assert de["value"].tolist() == [0.380, 0.363]
    assert er.rules_in_force("smelter", D(2026, 2, 1), lake=lake).carbon_pricing["free_allocation_share"] == 0.8775
    before = lake.read(DIM_CARBON_PRICING).to_pandas()
    er.run_all(lake, tmp_path / "landing", CommitMeta("pytest", "r2", "regulatory"))  # nothing new: same result
    pd.testing.assert_frame_equal(lake.read(DIM_CARBON_PRICING).to_pandas(), before)


def test_limits_in_force_tighten_with_the_new_permit(rules):
    old = er.rules_from_frame(rules, "smelter", D(2025, 12, 31)).limits
    new = er.rules_from_frame(rules, "smelter", D(2026, 1, 1)).limits
    assert old[("cf4", "day")]["limit"] == 12.0 and new[("cf4", "day")]["limit"] == 10.0
    assert new[("cf4", "day")]["unit"] == "kg" and new[("cf4", "day")]["version"] == 2
    assert er.rules_from_frame(rules, "cstr", D(2026, 1, 1)).limits == {}
