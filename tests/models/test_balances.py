"""Balance equations on analytical and published values: closure, uncertainty propagation, verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models import get_plant
from models.balances import BALANCES, FARADAY, K_SIGMA, M_HCOOH, V_M_NORMAL, balances_for, evaluate


def _balance(plant_id: str, name: str):
    return next(b for b in balances_for(plant_id) if b.name == name)


def _one(values: dict[str, float], u: dict[str, float] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    x = pd.DataFrame({k: [v] for k, v in values.items()})
    return x, pd.DataFrame({k: [(u or {}).get(k, 0.0)] for k in values})


def test_every_balance_uses_only_tags_of_its_plant_catalog():
    for plant_id in BALANCES:
        catalog = {t.tag for t in get_plant(plant_id).TAGS}
        names = [b.name for b in balances_for(plant_id)]
        assert len(names) == len(set(names)) >= 2
        for b in balances_for(plant_id):
            assert set(b.tags) <= catalog, (plant_id, b.name, set(b.tags) - catalog)
            assert b.quantity in {"mass", "energy", "carbon", "charge", "component"}
            assert b.model_form_pct > 0 and b.model_form_note
    assert {b.quantity for p in BALANCES for b in balances_for(p)} == {"mass", "energy", "carbon", "charge",
                                                                      "component"}


def test_cstr_energy_balance_closes_on_the_published_steady_state():
    # APMonitor / Seborg benchmark: Tc = 300 K, Tf = 350 K, Caf = 1 mol/L, q = 100 L/min
    # -> Ca = 0.87725294 mol/L, T = 324.475443 K (open loop, the module docstring's reference).
    ca, t = 0.87725294, 324.475443
    jacket_kw = 5e4 * (t - 300.0) / 60_000.0
    x, u = _one({"CSTR.FI101": 100.0, "CSTR.AI101": 1.0, "CSTR.AI102": ca, "CSTR.TI101": 350.0,
                 "CSTR.TI102": t, "CSTR.QI101": jacket_kw, "CSTR.TI103": 300.0})
    energy = evaluate(_balance("cstr", "energy"), x, u).iloc[0]
    assert energy["term:reaction_heat"] == pytest.approx(5e4 * 100 * (1 - ca) / 60_000)  # 10.229 kW
    assert energy["throughput"] == pytest.approx(20.397, abs=1e-3)
    assert abs(energy["residual_pct"]) < 1e-5          # published digits: 8 significant
    assert energy["status"] == "ok"
    jacket = evaluate(_balance("cstr", "jacket_duty"), x, u).iloc[0]
    assert jacket["residual"] == pytest.approx(0.0, abs=1e-12)


def test_electrolyzer_charge_and_carbon_follow_faradays_law():
    # 40 cells x 500 A at 90 % Faradaic efficiency to formate, the rest H2.
    cells, amps, fe = 40, 500.0, 0.90
    formate_mol_h = cells * amps * fe * 3600.0 / (2 * FARADAY)          # 335.8 mol/h
    h2_nm3_h = cells * amps * (1 - fe) * 3600.0 / (2 * FARADAY) * V_M_NORMAL
    bleed_m3_h = 0.150
    formate_g_l = formate_mol_h * M_HCOOH / bleed_m3_h                 # kg/m3 = g/L
    feed_co2_nm3_h = 40.0
    vent_co2_nm3_h = feed_co2_nm3_h - formate_mol_h * V_M_NORMAL
    out_gas = vent_co2_nm3_h + h2_nm3_h
    x, u = _one({"ECR.II101": amps, "ECR.FI302": bleed_m3_h, "ECR.AI302": formate_g_l,
                 "ECR.FI202": out_gas, "ECR.AI202": 100 * h2_nm3_h / out_gas,
                 "ECR.AI203": 100 * vent_co2_nm3_h / out_gas,
                 "ECR.FI201": feed_co2_nm3_h / 0.8, "ECR.AI201": 80.0,
                 "ECR.FI401": cells * amps * 3600.0 / (4 * FARADAY) * V_M_NORMAL})
    charge = evaluate(_balance("co2_electrolyzer", "charge"), x, u).iloc[0]
    assert charge["in_total"] == pytest.approx(20_000.0)
    assert charge["term:formate_current"] == pytest.approx(fe * 20_000.0)
    assert charge["residual"] == pytest.approx(0.0, abs=1e-6)
    carbon = evaluate(_balance("co2_electrolyzer", "carbon"), x, u).iloc[0]
    assert carbon["term:co2_to_formate"] == pytest.approx(formate_mol_h * 44.009e-3)   # 14.78 kg/h
    assert carbon["residual"] == pytest.approx(0.0, abs=1e-9)
    anode = evaluate(_balance("co2_electrolyzer", "anode_charge"), x, u).iloc[0]
    assert anode["residual"] == pytest.approx(0.0, abs=1e-6)
    # A formate analyser reading 10 % high books 1800 A more than the 20 000 A supplied
    # (throughput = the larger side, 21 800 A).
    x["ECR.AI302"] *= 1.10
    biased = evaluate(_balance("co2_electrolyzer", "charge"), x, u).iloc[0]
    assert biased["residual"] == pytest.approx(-1800.0)
    assert biased["residual_pct"] == pytest.approx(-100 * 1800 / 21_800)
    assert biased["status"] == "violation"                              # sigma = 2 % model form


def test_instrument_uncertainty_propagates_in_quadrature_and_sets_the_verdict():
    b = _balance("biorefinery", "beer_column_mass")     # FI501 = FI507 + FI503, linear
    u = {"BIO.FI501": 2.1, "BIO.FI507": 0.12, "BIO.FI503": 2.1}
    x, uu = _one({"BIO.FI501": 400.0, "BIO.FI507": 21.0, "BIO.FI503": 379.0}, u)
    r = evaluate(b, x, uu).iloc[0]
    assert r["sigma_instruments"] == pytest.approx(math.sqrt(2.1**2 + 0.12**2 + 2.1**2))
    assert r["sigma_model"] == pytest.approx(0.005 * 400.0)
    assert r["sigma"] == pytest.approx(math.hypot(r["sigma_instruments"], r["sigma_model"]))
    assert r["tag_shares"].startswith(("BIO.FI501:0.50", "BIO.FI503:0.50"))
    sigma = r["sigma"]
    # just inside and just outside k sigma (stillage reading low)
    for gap, status in ((0.99 * K_SIGMA * sigma, "ok"), (1.01 * K_SIGMA * sigma, "violation")):
        x2, _ = _one({"BIO.FI501": 400.0, "BIO.FI507": 21.0, "BIO.FI503": 379.0 - gap})
        r2 = evaluate(b, x2, uu).iloc[0]
        assert r2["status"] == status
        assert r2["z"] == pytest.approx(gap / r2["sigma"])


def test_missing_tag_or_idle_plant_is_insufficient_data():
    b = _balance("smelter", "dc_power")
    x = pd.DataFrame({"SMT.EI101": [420.0, np.nan, 5.0], "SMT.II101": [350.0, 350.0, 1.0],
                      "SMT.JI101": [147_000.0, 147_000.0, 5.0]})
    r = evaluate(b, x, pd.DataFrame(0.01, index=x.index, columns=x.columns))
    assert r["status"].tolist() == ["ok", "insufficient_data", "insufficient_data"]
    assert r["z"].isna().tolist() == [False, True, True]


def test_smelter_reduction_enthalpy_is_the_published_figure():
    # E_H ~ 2.08 V at CE 1 and ~2.00 V at CE 0.945 near 965 degC: at 350 kA, 100 cells and CE 94.5 %
    # the reduction takes ~70 MW of ~148 MW DC.
    b = _balance("smelter", "energy")
    x, u = _one({"SMT.JI101": 148_000.0, "SMT.II101": 350.0, "SMT.EY402": 94.5, "SMT.TI201": 965.0 + 273.15,
                 "SMT.QY604": 70_000.0})
    r = evaluate(b, x, u).iloc[0]
    assert r["term:reduction_enthalpy"] / (100 * 350.0) == pytest.approx(2.00, abs=0.01)
    assert r["term:busbar_loss"] == pytest.approx(100 * 350.0**2 * 0.43e-3)   # 0.15 V per cell
