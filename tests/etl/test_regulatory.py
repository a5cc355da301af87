"""Regulatory feed: document validation, versions and supersession, as-of lookup, overrides, pipeline."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tracemalloc

import pandas as pd
import pytest
import yaml

from etl import regulatory as er
from warehouse.lake import CommitMeta
from etl.landing import manifest
from warehouse.tables import (
    DIM_CARBON_PRICING,
    DIM_EMISSION_FACTORS,
    SILVER_REGULATORY_DOCUMENTS,
    SILVER_REGULATORY_REJECTIONS,
)

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
    ({"valid_from": "2026-02-30"}, "valid_from", "found '2026-02-30' (day is out of range for month)"),
    ({"valid_from": "2024-1-1"}, "valid_from", "expected a date YYYY-MM-DD"),
    ({"version": float("inf")}, "version", "expected a finite number, found inf"),
    ({"version": 2**40}, "version", "must be <= 2147483647"),
    ({"valid_too": "2025-01-01"}, "valid_too", "unknown field for kind grid_emission_factors"),
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
    docs = [er.validate_document(er.parse_document(p.read_bytes(), p.name), p.name) for p in er.seed_documents_dir().glob("*.yaml")]
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


# ----------------------------------------------------------------------------- hostile files
LAUGHS = b"""a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.mark.parametrize(("name", "content", "message"), [
    ("latin1.yaml", "document_id: Gr\xfcn\n".encode("latin-1"), "not UTF-8 text: byte 0xfc at offset 15"),
    ("empty.yaml", b"", "the file is empty"),
    ("empty.json", b" \n", "the file is empty"),
    ("comments.yaml", b"# nothing yet\n", "holds no document"),
    ("list.yaml", b"- document_id: grid\n", "expected a mapping with document_id, version, kind ..., found a list"),
    ("scalar.json", b'"grid"', "expected a mapping with document_id, version, kind ..., found text"),
    ("set.yaml", b"!!set {document_id, version}\n", "found a set"),
    ("dup.yaml", b"document_id: grid\nversion: 1\nvalid_from: 2024-01-01\nversion: 2\n",
     "duplicate key 'version' on line 4 (first on line 2)"),
    ("dup-entry.yaml", b"entries:\n  - region: DE\n    region: NO\n", "duplicate key 'region' on line 3 (first on line 2)"),
    ("dup.json", b'{"document_id": "grid",\n "entries": [\n  {"region": "DE", "region": "NO"}]}',
     "duplicate key 'region' in the object starting on line 3"),
    ("alias.yaml", b"base: &b {region: DE}\nentries: [*b]\n", "anchor &b on line 1: anchors and aliases are not allowed"),
    ("merge.yaml", b"entries:\n  - <<: {region: DE}\n", "merge key << on line 2 is not allowed"),
    ("intkey.yaml", b"1: grid\n", "key 1 on line 1 is a number; keys must be text"),
    ("deep.yaml", b"a: " + b"[" * 40 + b"]" * 40, "nested more than 32 levels deep"),
    ("deep.json", b"[" * 5000 + b"]" * 5000, "nested more than 32 levels deep"),
    ("broken.yaml", b"document_id: grid\nentries: [unclosed\n", "expected ',' or ']', but got '<stream end>' (line 3"),
    ("python.yaml", b"a: !!python/object/apply:os.system [ls]\n", "could not determine a constructor"),
])
def test_files_that_are_not_documents_are_rejected_with_the_reason(name, content, message):
    with pytest.raises(er.DocumentRejected) as err:
        er.parse_document(content, name)
    assert err.value.field == "(file)" and message in err.value.reason


def test_billion_laughs_is_refused_before_it_expands():
    tracemalloc.start()
    try:
        with pytest.raises(er.DocumentRejected, match="anchors and aliases are not allowed"):
            er.parse_document(LAUGHS, "laughs.yaml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # expanded, the document is 9**9 strings (about 4 GB)


def test_size_and_value_limits(monkeypatch):
    monkeypatch.setattr(er, "MAX_DOCUMENT_BYTES", 100)
    with pytest.raises(er.DocumentRejected, match="101 bytes, more than the 100 bytes a document may have"):
        er.parse_document(b"#" * 101, "big.yaml")
    monkeypatch.setattr(er, "MAX_NODES", 10)
    flat = b"entries: [" + b",".join([b"1"] * 10) + b"]\n"
    with pytest.raises(er.DocumentRejected, match="more than 10 values"):
        er.parse_document(flat, "many.yaml")
    with pytest.raises(er.DocumentRejected, match="more than 10 values"):
        er.parse_document(json.dumps({"entries": [1] * 10}).encode(), "many.json")


def test_dates_are_read_as_text_so_an_impossible_date_is_a_field_error():
    data = er.parse_document(yaml.safe_dump(grid_doc()).encode().replace(b"'2024-01-01'", b"2026-02-30"), "g.yaml")
    assert data["valid_from"] == "2026-02-30"
    with pytest.raises(er.DocumentRejected) as err:
        er.validate_document(data)
    assert err.value.field == "valid_from"


def test_an_unforeseen_error_in_the_checks_rejects_only_that_document(monkeypatch):
    def boom(data, file_name):
        raise KeyError("surprise")
    monkeypatch.setattr(er, "validate_document", boom)
    with pytest.raises(er.DocumentRejected) as err:
        er.check_document(grid_doc(), "g.yaml")
    assert err.value.field == "(document)" and "KeyError" in err.value.reason


def _rejections(lake):
    return lake.read(SILVER_REGULATORY_REJECTIONS).to_pandas().drop(columns="_run_id").sort_values(
        ["file_name"]).reset_index(drop=True)


def test_bad_files_are_each_rejected_and_never_block_the_feed(lake, tmp_path, monkeypatch):
    monkeypatch.setattr(er, "MAX_DOCUMENT_BYTES", 4096)
    inbox = tmp_path / "landing" / "regulatory"
    inbox.mkdir(parents=True)
    good = yaml.safe_dump(grid_doc())
    (inbox / "grid-v1.yaml").write_text(good)
    (inbox / "zz-grid-v1-copy.yaml").write_text(good)  # same bytes, other name
    impossible = yaml.safe_dump(grid_doc(2)).replace("'2024-01-01'", "2026-02-30")
    assert "valid_from: 2026-02-30" in impossible
    (inbox / "impossible-date.yaml").write_text(impossible)
    (inbox / "dup-key.yaml").write_text(good + "version: 7\n")
    (inbox / "laughs.yaml").write_bytes(LAUGHS)
    (inbox / "latin1.json").write_bytes(json.dumps(grid_doc(3)).encode().replace(b'"t"', b'"\xe9"'))
    (inbox / "empty.yaml").write_bytes(b"")
    (inbox / "list.json").write_text("[1, 2]")
    (inbox / "big.yaml").write_text("# padding\n" * 500)
    (inbox / "readme.txt").write_text("not a document")
    out = er.run_all(lake, tmp_path / "landing", CommitMeta("pytest", "r1", "regulatory"))

    docs = lake.read(SILVER_REGULATORY_DOCUMENTS).to_pandas()
    assert docs[["document_id", "version"]].values.tolist() == [["grid", 1]]
    rej = _rejections(lake)
    reasons = dict(zip(rej["file_name"], rej["field"] + " | " + rej["reason"]))
    assert sorted(reasons) == ["big.yaml", "dup-key.yaml", "empty.yaml", "impossible-date.yaml", "latin1.json",
                               "laughs.yaml", "list.json", "readme.txt", "zz-grid-v1-copy.yaml"]
    assert reasons["impossible-date.yaml"].startswith("valid_from | grid v2: valid_from: expected a date YYYY-MM-DD")
    assert "duplicate key 'version'" in reasons["dup-key.yaml"]
    assert "anchors and aliases are not allowed" in reasons["laughs.yaml"]
    assert "not UTF-8 text" in reasons["latin1.json"]
    assert "the file is empty" in reasons["empty.yaml"]
    assert "found a list" in reasons["list.json"]
    assert "more than the 4096 bytes" in reasons["big.yaml"]
    assert "expected a document ending in .yaml, .yml, .json" in reasons["readme.txt"]
    assert "not loaded again: same content as" in reasons["zz-grid-v1-copy.yaml"]
    # Every file that arrived is loaded or has its rejection; a file rejected on its own is marked in the manifest.
    files = manifest(lake, source="regulatory").to_pandas()
    assert set(files["file_name"]) == set(reasons) | {"grid-v1.yaml"}
    not_loaded = files[files["status"] != "loaded"]
    assert set(not_loaded["file_name"]) == set(reasons)
    status = dict(zip(files["file_name"], files["status"]))
    assert status["impossible-date.yaml"] == status["laughs.yaml"] == status["readme.txt"] == "rejected"
    manifest_reason = dict(zip(files["file_name"], files["reason"]))
    assert "valid_from" in manifest_reason["impossible-date.yaml"] and "2026-02-30" in manifest_reason["impossible-date.yaml"]
    assert len(out["silver"]["rejected"]) == 9

    # A later run is not blocked, and the rejections stay as they were (no duplicates).
    (inbox / "grid-v2.yaml").write_text(yaml.safe_dump(grid_doc(2, "2025-01-01", de=0.36)))
    er.run_all(lake, tmp_path / "landing", CommitMeta("pytest", "r2", "regulatory"))
    docs = lake.read(SILVER_REGULATORY_DOCUMENTS).to_pandas()
    assert sorted(docs["version"]) == [1, 2]
    pd.testing.assert_frame_equal(_rejections(lake), rej)
    er.run_all(lake, tmp_path / "landing", CommitMeta("pytest", "r3", "regulatory"))
    pd.testing.assert_frame_equal(_rejections(lake), rej)
