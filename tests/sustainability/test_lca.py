"""Matrix-method LCA (sustainability.lca) and the plants' cradle-to-gate systems (sustainability.inventories).

Hand-checked three-process system (demand: 1 kg widget)
-------------------------------------------------------
Processes (one operation each)::

    fuel_production : +10 kg fuel,        -5 kWh electricity, 2 kg CO2 fossil, 0.1 kg CH4 fossil, 500 MJ fossil energy
    power_plant     : +10 kWh electricity, -4 kg fuel,        12 kg CO2 fossil, 0.001 kg N2O, 0.02 m3 water
    widget_factory  : +1 kg widget,        -1 kg fuel, -5 kWh, 3 kg CO2 biogenic

            fuel_prod  power  widget                       fuel_prod  power  widget
    A = [[   10,       -4,     -1  ],  fuel         B = [[ 2,         12,     0 ],  co2_fossil
         [   -5,       10,     -5  ],  electricity       [ 0,          0,     3 ],  co2_biogenic
         [    0,        0,      1  ]]  widget            [ 0.1,        0,     0 ],  ch4_fossil
                                                         [ 0,      0.001,     0 ],  n2o
                                                         [ 500,        0,     0 ],  fossil_energy
                                                         [ 0,       0.02,     0 ]]  water_consumption

A s = f = (0, 0, 1): s3 = 1; 10 s1 - 4 s2 = 1 and -5 s1 + 10 s2 = 5 give s2 = 5.5/8 = 0.6875,
s1 = (1 + 4 x 0.6875)/10 = 0.375. Inventory g = B s: CO2 fossil 2 x 0.375 + 12 x 0.6875 = 9.0 kg, CO2 biogenic
3 kg, CH4 0.0375 kg, N2O 0.0006875 kg, fossil energy 187.5 MJ, water 0.01375 m3.
GWP100 (AR6) = 9.0 + 0.0375 x 29.8 + 0.0006875 x 273 = 9.0 + 1.1175 + 0.1876875 = 10.3051875 kg CO2e
(biogenic CO2 counts 0). Contributions: fuel_production 0.75 + 1.1175 = 1.8675, power_plant
8.25 + 0.1876875 = 8.4376875, widget_factory 0.

Hand-checked two-output process
-------------------------------
refinery: +6 kg a (reference), +4 kg b (co-product), -5 MJ steam, 10 kg CO2 fossil; boiler: +1 MJ steam,
0.2 kg CO2. The refinery's burden is 10 + 5 x 0.2 = 11 kg CO2e. Properties per kg: a mass 1, LHV 20 MJ,
price 2; b mass 1, LHV 40 MJ, price 0.5. Factors of a: mass 6/10, energy 120/280 = 3/7, economic
12/14 = 6/7, so per kg a: 11 x 0.6/6 = 1.1, 11 x (3/7)/6 = 11/14, 11 x (6/7)/6 = 11/7 kg CO2e; per kg b
(mass) 11 x 0.4/4 = 1.1. System expansion with b_conventional (1 kg b, 2 kg CO2): s_refinery = 1/6,
s_b_conventional = -4/6, GWP = 11/6 - 8/6 = 0.5 kg CO2e per kg a.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sustainability.inventories import (
    PLANTS,
    assess,
    foreground_amounts,
    load_background,
    product_system,
)
from sustainability.lca import (
    ALLOCATION_MODES,
    GWP100_AR6,
    Exchange,
    LcaError,
    LcaSystem,
    Process,
    Uncertainty,
    characterisation_matrix,
    monte_carlo,
    solve,
)

GWP = "climate_change_gwp100"
REL = 1e-12  # exact arithmetic up to floating point


def _ex(flow, amount, unit, gsd2=None):
    return {"flow": flow, "amount": amount, "unit": unit, **({"gsd2": gsd2} if gsd2 else {})}


def hand_system(gsd2: float | None = None) -> LcaSystem:
    return LcaSystem.from_records(
        [
            {"name": "fuel_production", "reference_product": "fuel", "exchanges": [
                _ex("fuel", 10, "kg"), _ex("electricity", -5, "kWh", gsd2), _ex("co2_fossil", 2, "kg", gsd2),
                _ex("ch4_fossil", 0.1, "kg", gsd2), _ex("fossil_energy", 500, "MJ", gsd2)]},
            {"name": "power_plant", "reference_product": "electricity", "exchanges": [
                _ex("electricity", 10, "kWh"), _ex("fuel", -4, "kg", gsd2), _ex("co2_fossil", 12, "kg", gsd2),
                _ex("n2o", 0.001, "kg", gsd2), _ex("water_consumption", 0.02, "m3", gsd2)]},
            {"name": "widget_factory", "reference_product": "widget", "exchanges": [
                _ex("widget", 1, "kg"), _ex("fuel", -1, "kg", gsd2), _ex("electricity", -5, "kWh", gsd2),
                _ex("co2_biogenic", 3, "kg", gsd2)]},
        ]
    )


def coproduct_system(with_substitute: bool) -> LcaSystem:
    records = [
        {"name": "refinery", "reference_product": "a", "exchanges": [
            _ex("a", 6, "kg"), _ex("b", 4, "kg"), _ex("steam", -5, "MJ"), _ex("co2_fossil", 10, "kg")]},
        {"name": "boiler", "reference_product": "steam", "exchanges": [_ex("steam", 1, "MJ"), _ex("co2_fossil", 0.2, "kg")]},
    ]
    if with_substitute:
        records.append({"name": "b_conventional", "reference_product": "b", "exchanges": [
            _ex("b", 1, "kg"), _ex("co2_fossil", 2, "kg")]})
    props = {"a": {"mass": 1.0, "energy": 20.0, "economic": 2.0}, "b": {"mass": 1.0, "energy": 40.0, "economic": 0.5}}
    return LcaSystem.from_records(records, properties=props)


# ------------------------------------------------------------------ matrix method, hand-checked


def test_hand_system_matrices_scaling_inventory_and_gwp():
    r = solve(hand_system(), {"widget": 1.0})
    a = r.technosphere.loc[["fuel", "electricity", "widget"], ["fuel_production", "power_plant", "widget_factory"]]
    np.testing.assert_array_equal(a.to_numpy(), [[10, -4, -1], [-5, 10, -5], [0, 0, 1]])
    np.testing.assert_allclose(r.scaling["scaling"], [0.375, 0.6875, 1.0], rtol=REL)
    expected = {"co2_fossil": 9.0, "co2_biogenic": 3.0, "ch4_fossil": 0.0375, "n2o": 0.0006875,
                "fossil_energy": 187.5, "water_consumption": 0.01375, "cf4": 0.0}
    for flow, value in expected.items():
        assert r.flow(flow) == pytest.approx(value, rel=REL, abs=1e-15)
    assert r.impact(GWP) == pytest.approx(10.3051875, rel=REL)
    assert r.impact("fossil_energy") == pytest.approx(187.5, rel=REL)
    assert r.impact("water_consumption") == pytest.approx(0.01375, rel=REL)
    c = r.contributions[r.contributions["category"] == GWP].set_index("process")["value"]
    assert c["fuel_production"] == pytest.approx(1.8675, rel=REL)
    assert c["power_plant"] == pytest.approx(8.4376875, rel=REL)
    assert c["widget_factory"] == 0.0  # only biogenic CO2
    assert c.sum() == pytest.approx(r.impact(GWP), rel=REL)


def test_biogenic_co2_has_no_gwp_but_is_reported():
    c = characterisation_matrix()
    assert c.loc[GWP, "co2_biogenic"] == 0.0 and c.loc[GWP, "co2_fossil"] == 1.0
    assert c.loc[GWP, "ch4_biogenic"] == 27.0 and c.loc[GWP, "cf4"] == 7380.0 and c.loc[GWP, "c2f6"] == 12400.0
    r = solve(hand_system(), {"widget": 1.0})
    assert r.flow("co2_biogenic") == 3.0
    # Counting biogenic CO2 like fossil CO2 would add exactly its 3 kg:
    counted = solve(hand_system(), {"widget": 1.0}, gwp={**GWP100_AR6, "co2_biogenic": 1.0})
    assert counted.impact(GWP) - r.impact(GWP) == pytest.approx(3.0, rel=1e-12)


def test_demand_is_linear():
    one, two = solve(hand_system(), {"widget": 1.0}), solve(hand_system(), {"widget": 2.5})
    assert two.impact(GWP) == pytest.approx(2.5 * one.impact(GWP), rel=REL)


# ------------------------------------------------------------------ allocation and system expansion


@pytest.mark.parametrize(
    "allocation, per_kg_a",
    [("mass", 1.1), ("energy", 11 / 14), ("economic", 11 / 7)],
)
def test_partitioning_two_output_process(allocation, per_kg_a):
    r = solve(coproduct_system(False), {"a": 1.0}, allocation=allocation)
    assert r.impact(GWP) == pytest.approx(per_kg_a, rel=REL)
    f = r.allocation_factors.set_index("product")["factor"]
    assert f.sum() == pytest.approx(1.0, rel=REL)
    # With a substitute provider of b present, partitioning gives the same result for a.
    assert solve(coproduct_system(True), {"a": 1.0}, allocation=allocation).impact(GWP) == pytest.approx(per_kg_a, rel=REL)


def test_partitioned_coproduct_can_be_demanded():
    r = solve(coproduct_system(False), {"b": 1.0}, allocation="mass")
    assert r.impact(GWP) == pytest.approx(1.1, rel=REL)
    assert "refinery [b]" in set(r.scaling["process"])


def test_system_expansion_credits_the_avoided_product():
    r = solve(coproduct_system(True), {"a": 1.0}, allocation="system_expansion")
    s = r.scaling.set_index("process")["scaling"]
    assert s["refinery"] == pytest.approx(1 / 6, rel=REL)
    assert s["b_conventional"] == pytest.approx(-4 / 6, rel=REL)
    assert r.impact(GWP) == pytest.approx(0.5, rel=REL)
    credit = r.contributions.query("category == @GWP and process == 'b_conventional'")["value"].item()
    assert credit == pytest.approx(-8 / 6, rel=REL)


def test_allocation_errors_are_explicit():
    with pytest.raises(ValueError, match="valid modes.*mass.*energy.*economic.*system_expansion"):
        solve(coproduct_system(True), {"a": 1.0}, allocation="volume")
    with pytest.raises(LcaError, match="substitution process"):
        solve(coproduct_system(False), {"a": 1.0}, allocation="system_expansion")
    no_props = LcaSystem(coproduct_system(False).processes)
    with pytest.raises(LcaError, match="'energy' property of co-product 'a'"):
        solve(no_props, {"a": 1.0}, allocation="energy")


# ------------------------------------------------------------------ validation errors


def test_non_square_unknown_flow_unit_mismatch_and_singular_systems():
    grid = {"name": "grid", "reference_product": "electricity", "exchanges": [_ex("electricity", 1, "kWh")]}
    other = {"name": "grid2", "reference_product": "electricity", "exchanges": [_ex("electricity", 1, "kWh")]}
    with pytest.raises(LcaError, match="exactly one provider"):
        LcaSystem.from_records([grid, other])
    user = {"name": "user", "reference_product": "x", "exchanges": [_ex("x", 1, "kg"), _ex("steam", -1, "MJ")]}
    with pytest.raises(LcaError, match="unknown flow 'steam'"):
        LcaSystem.from_records([grid, user])
    mismatch = {"name": "user", "reference_product": "x", "exchanges": [_ex("x", 1, "kg"), _ex("electricity", -1, "MJ")]}
    with pytest.raises(LcaError, match="unit 'MJ' does not match 'kWh'"):
        LcaSystem.from_records([grid, mismatch])
    with pytest.raises(LcaError, match="unit 'g' does not match 'kg'"):
        LcaSystem.from_records([{"name": "p", "reference_product": "x", "exchanges": [_ex("x", 1, "kg"), _ex("n2o", 1, "g")]}])
    loop = LcaSystem.from_records([
        {"name": "p1", "reference_product": "a", "exchanges": [_ex("a", 1, "kg"), _ex("b", -1, "kg")]},
        {"name": "p2", "reference_product": "b", "exchanges": [_ex("b", 1, "kg"), _ex("a", -1, "kg")]},
    ])
    with pytest.raises(LcaError, match="singular"):
        solve(loop, {"a": 1.0})
    with pytest.raises(LcaError, match="unknown flow 'c'"):
        solve(loop, {"c": 1.0})
    with pytest.raises(LcaError, match="positive exchange of its reference product"):
        Process("p", "a", (Exchange("a", -1.0, "kg"),))
    with pytest.raises(LcaError, match="lacks the greenhouse gases"):
        characterisation_matrix({"co2_fossil": 1.0})


# ------------------------------------------------------------------ Monte Carlo


def test_monte_carlo_without_uncertainty_reproduces_the_deterministic_result():
    mc = monte_carlo(hand_system(), {"widget": 1.0}, n=50, seed=3)
    s = mc.summary.set_index("category")
    for col in ("mean", "median", "p2_5", "p97_5"):
        assert s.loc[GWP, col] == pytest.approx(10.3051875, rel=1e-12)
    assert s.loc[GWP, "std"] == pytest.approx(0.0, abs=1e-12)


def test_monte_carlo_is_deterministic_with_a_seed():
    a = monte_carlo(hand_system(1.3), {"widget": 1.0}, n=200, seed=7).samples
    b = monte_carlo(hand_system(1.3), {"widget": 1.0}, n=200, seed=7).samples
    c = monte_carlo(hand_system(1.3), {"widget": 1.0}, n=200, seed=8).samples
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_lognormal_median_and_interval_converge_to_the_analytical_values():
    """GWP = (2 kWh, GSD^2 1.5) x (0.5 kg CO2/kWh, GSD^2 1.5): a product of independent lognormals.

    Its median is exactly the deterministic 1.0 kg; ln GWP ~ N(0, sigma^2), sigma = sqrt(2) ln(1.5)/2 =
    0.2867, so the 95 % interval is exp(+-1.96 sigma) = [0.570, 1.754] and the mean exp(sigma^2/2) = 1.042.
    With n = 20000 the standard error of the sample median of ln GWP is 1.2533 sigma/sqrt(n) = 0.0025:
    tolerance 1 % (4 standard errors) for the median, 3 % for the percentiles and the mean.
    """
    system = LcaSystem.from_records([
        {"name": "grid", "reference_product": "electricity", "exchanges": [
            _ex("electricity", 1, "kWh"), _ex("co2_fossil", 0.5, "kg", 1.5)]},
        {"name": "widget_factory", "reference_product": "widget", "exchanges": [
            _ex("widget", 1, "kg"), _ex("electricity", -2, "kWh", 1.5)]},
    ])
    mc = monte_carlo(system, {"widget": 1.0}, n=20_000, seed=0)
    s = mc.summary.set_index("category").loc[GWP]
    sigma = math.sqrt(2) * math.log(1.5) / 2
    assert s["deterministic"] == pytest.approx(1.0, rel=REL)
    assert s["median"] == pytest.approx(1.0, rel=0.01)
    assert s["p2_5"] == pytest.approx(math.exp(-1.959964 * sigma), rel=0.03)
    assert s["p97_5"] == pytest.approx(math.exp(1.959964 * sigma), rel=0.03)
    assert s["mean"] == pytest.approx(math.exp(sigma**2 / 2), rel=0.03)
    assert s["p2_5"] < s["deterministic"] < s["p97_5"]


def test_triangular_and_uniform_ranges():
    """Triangular (0.4, 0.5, 0.9) has mean 0.6; uniform (0.4, 0.8) mean 0.6 and 95 % interval [0.41, 0.79].
    n = 20000: standard errors of the means < 0.001, tolerance 1 %."""
    def system(unc):
        return LcaSystem((Process("grid", "electricity", (
            Exchange("electricity", 1.0, "kWh"), Exchange("co2_fossil", 0.5 if unc.distribution == "triangular" else 0.6,
                                                          "kg", unc))),))
    tri = monte_carlo(system(Uncertainty("triangular", low=0.4, high=0.9)), {"electricity": 1.0}, n=20_000, seed=1)
    assert tri.summary.set_index("category").loc[GWP, "mean"] == pytest.approx(0.6, rel=0.01)
    uni = monte_carlo(system(Uncertainty("uniform", low=0.4, high=0.8)), {"electricity": 1.0}, n=20_000, seed=1)
    u = uni.summary.set_index("category").loc[GWP]
    assert (u["mean"], u["p2_5"], u["p97_5"]) == pytest.approx((0.6, 0.41, 0.79), rel=0.01)
    with pytest.raises(LcaError, match="outside its triangular range"):
        Process("p", "x", (Exchange("x", 1.0, "kg"), Exchange("n2o", 2.0, "kg", Uncertainty("triangular", low=0, high=1))))
    with pytest.raises(LcaError, match="unknown distribution"):
        Uncertainty("beta")


# ------------------------------------------------------------------ the plants


def test_every_activity_stream_is_in_the_foreground():
    from models import get_plant

    for pid in PLANTS:
        fg = foreground_amounts(pid)
        assert {a.tag for a in get_plant(pid).ACTIVITY} <= set(fg["tag"])
        assert np.isfinite(fg["amount_per_h"]).all()


def test_background_file_cites_every_factor():
    doc = load_background()
    for name, spec in doc["processes"].items():
        for ex in spec.get("inputs", []) + spec.get("emissions", []):
            assert len(ex["source"]) > 20, (name, ex["flow"])
    for name in ("combustion", "coproducts"):
        assert all("source" in v for v in doc[name].values())


@pytest.fixture(scope="module")
def results():
    return {pid: assess(pid, n_monte_carlo=300, seed=0) for pid in PLANTS}


def test_assess_tables(results):
    for pid, a in results.items():
        r = a.results.set_index("impact_category")
        assert list(r.index) == [GWP, "fossil_energy", "water_consumption"]
        assert (r["product"] == PLANTS[pid]).all() and (r["allocation"] == "system_expansion").all()
        assert (r["p2_5"] <= r["median"]).all() and (r["median"] <= r["p97_5"]).all()
        assert (r["p2_5"] <= r["value"]).all() and (r["value"] <= r["p97_5"]).all()
        sums = a.contributions.groupby("impact_category")["value"].sum()
        np.testing.assert_allclose(sums[r.index], r["value"], rtol=1e-9)


def test_ethanol_gwp_is_plausible_and_biogenic_co2_is_excluded(results):
    """Cradle-to-gate GWP of corn-stover ethanol with power export (system expansion).

    Wang et al. (2012, Environ. Res. Lett. 7, 045905, GREET) find 90-103 % lower life-cycle GHG than gasoline
    (~93 g CO2e/MJ) for stover ethanol without land-use change, i.e. about -0.1 to +0.25 kg CO2e/kg; other
    enzyme (Hong et al. 2013) and co-product assumptions widen this. Accepted band: -0.5 to 1.0 kg CO2e/kg.
    The foreground's own GWP is only its CH4 and N2O (digester 1 % fugitive, boiler IPCC 2006 factors),
    not its 3.9 kg/kg of fermentation and boiler CO2, which is biogenic.
    """
    gwp = results["biorefinery"].results.set_index("impact_category").loc[GWP, "value"]
    assert -0.5 < gwp < 1.0
    system, demand = product_system("biorefinery")
    r = solve(system, demand)
    fg = system.process("biorefinery")
    amount = {e.flow: e.amount for e in fg.exchanges}
    per_kg = 1.0 / amount["ethanol"]
    assert amount["co2_biogenic"] * per_kg > 3.5  # fermentation + boiler CO2, kg/kg ethanol
    own = (amount["ch4_biogenic"] * 27.0 + amount["n2o"] * 273.0) * per_kg
    c = r.contributions.query("category == @GWP").set_index("process")["value"]
    assert c["biorefinery"] == pytest.approx(own, rel=1e-12)
    assert r.flow("co2_biogenic") < 0  # net uptake: carbon leaves in the ethanol


def test_ethanol_allocation_modes_and_export_credit():
    """Energy allocation factor of ethanol = 22174 kg x 26.82 MJ/kg / (that + 11862 kWh x 3.6 MJ/kWh) ~ 0.933;
    mass allocation gives electricity (no mass) nothing. System expansion credits the net 0.530 kWh/kg of US-MROW grid."""
    system, demand = product_system("biorefinery")
    by_mode = {m: solve(system, demand, allocation=m) for m in ALLOCATION_MODES}
    fg = {e.flow: e.amount for e in system.process("biorefinery").exchanges}
    e_eth = fg["ethanol"] * 26.82
    f_energy = e_eth / (e_eth + fg["electricity"] * 3.6)
    factors = by_mode["energy"].allocation_factors.set_index("product")["factor"]
    assert factors["ethanol"] == pytest.approx(f_energy, rel=1e-12)
    assert by_mode["mass"].allocation_factors.set_index("product").loc["ethanol", "factor"] == 1.0
    gwp = {m: r.impact(GWP) for m, r in by_mode.items()}
    assert gwp["energy"] == pytest.approx(f_energy * gwp["mass"], rel=1e-9)
    credit = by_mode["system_expansion"].contributions.query("category == @GWP and process == 'electricity_grid_US-MROW'")
    net_kwh = fg["electricity"] + fg["water"] * 0.5  # export less the grid power of the water supply (0.5 kWh/m3)
    assert credit["value"].item() == pytest.approx(-net_kwh / fg["ethanol"] * 0.46, rel=1e-9)
    assert gwp["system_expansion"] < gwp["energy"] < gwp["economic"] < gwp["mass"]


def test_formic_acid_gwp_scales_with_the_grid():
    """d GWP / d grid factor = electricity per kg formic acid including the CO2 supply (0.10 kWh/kg CO2) and
    water (0.5 kWh/m3): (72.78 + 58.90 x 0.10 + 0.157 x 0.5) / 15.36 = 5.13 kWh/kg, from the twin's
    nominal steady state. Banu et al. (2023, Energy Convers. Manage. X 20, 100441) report 3.27 kg CO2e/kg for
    a lab cell with 96 % from electricity; at the German grid the result must lie within 1.5-8 kg CO2e/kg.
    """
    system, _ = product_system("co2_electrolyzer")
    amount = {e.flow: -e.amount for e in system.process("co2_electrolyzer").exchanges}
    kwh_per_kg = (amount["electricity"] + amount["co2_feed"] * 0.10 + amount["water"] * 0.5) / -amount["formic_acid"]
    assert kwh_per_kg == pytest.approx(5.13, abs=0.01)
    low = solve(*product_system("co2_electrolyzer", region_grid_kg_per_kwh=0.0)).impact(GWP)
    high = solve(*product_system("co2_electrolyzer", region_grid_kg_per_kwh=0.5)).impact(GWP)
    assert high - low == pytest.approx(0.5 * kwh_per_kg, rel=1e-9)
    de = solve(*product_system("co2_electrolyzer")).impact(GWP)
    assert 1.5 < de < 8.0
    r = solve(*product_system("co2_electrolyzer"))
    assert r.flow("co2_biogenic") == pytest.approx(-44.0095 / 46.025, rel=1e-3)  # carbon bound in HCOOH


def test_aluminium_gwp_within_published_ranges():
    """IAI (2023, Aluminium Carbon Footprint FAQs): most cradle-to-gate footprints of primary aluminium lie in
    4.5-22 t CO2e/t, hydropower-based ones at the low end (Hydro's REDUXA 4.0 certifies < 4.0 incl. casting).
    Norwegian grid: 3-6 kg CO2e/kg; German and US-MROW grids: 4.5-22. The difference DE - NO equals the
    twin's 13.77 kWh/kg (AC, rectifier 97.5 % + auxiliaries) x (0.41 - 0.020) kg CO2e/kWh."""
    no = solve(*product_system("smelter")).impact(GWP)
    de = solve(*product_system("smelter", region="DE")).impact(GWP)
    us = solve(*product_system("smelter", region="US-MROW")).impact(GWP)
    assert 3.0 < no < 6.0
    assert 4.5 < de < 22.0 and 4.5 < us < 22.0
    system, _ = product_system("smelter")
    amount = {e.flow: e.amount for e in system.process("smelter").exchanges}
    kwh = -amount["electricity"] / amount["aluminium"]
    assert kwh == pytest.approx(13.77, abs=0.01)
    assert de - no == pytest.approx(kwh * (0.41 - 0.020), rel=1e-9)
    assert amount["co2_fossil"] / amount["aluminium"] == pytest.approx(1.514, abs=0.002)  # twin: 1.51 t CO2/t Al


def test_overrides_and_errors():
    base = solve(*product_system("biorefinery")).impact(GWP)
    cheap = solve(*product_system("biorefinery", overrides={"cellulase.ghg_co2e": 4.0})).impact(GWP)
    system, _ = product_system("biorefinery")
    enzyme = -{e.flow: e.amount for e in system.process("biorefinery").exchanges}["cellulase"]
    ethanol = {e.flow: e.amount for e in system.process("biorefinery").exchanges}["ethanol"]
    assert base - cheap == pytest.approx(4.0 * enzyme / ethanol, rel=1e-9)
    with pytest.raises(LcaError, match="unknown background overrides"):
        product_system("biorefinery", overrides={"cellulase.co2": 1.0})
    with pytest.raises(LcaError, match="known regions"):
        product_system("smelter", region="FR")
    with pytest.raises(LcaError, match="expected one of"):
        product_system("cstr")
    assert product_system("aluminium")[1] == {"aluminium": 1.0}


def test_sustainability_never_imports_airflow():
    code = (
        "import sys, sustainability.lca, sustainability.inventories; "
        "sustainability.inventories.product_system('smelter'); "
        "sys.exit(any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
