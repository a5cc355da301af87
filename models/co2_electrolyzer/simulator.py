"""CO2 electrolyzer day simulator (DCS calculations, tag frame) and its binding to the shared engine (:mod:`models.engine`)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from models.base import Episode
from models.engine import PlantType
from models.co2_electrolyzer.physics import CO2ElectrolyzerParams, DEFAULT, F, M_CO2, M_H2O, M_HCOOH, M_KHCO3, V_M_NORMAL, Z, _respond
from models.co2_electrolyzer.tags import INFO, TAGS
from models.co2_electrolyzer.scenarios import _DAY, _EPOCH, _WARMUP_MIN, _day_inputs, _day_plan, _detail

_MIN_CURRENT_FRACTION = 0.02  # DCS: FE / specific-energy blocks are invalid below 2 % of rated current


def _dcs_calcs(r: dict[str, np.ndarray], p: CO2ElectrolyzerParams) -> dict[str, np.ndarray]:
    """DCS calculation blocks, evaluated on the true measured values (the historian adds noise to inputs only)."""
    cur = r["current_a"]
    to_nm3_h = V_M_NORMAL * 3600.0
    out_gas = (r["co2_out_mol_s"] + r["h2_mol_s"] + r["inert_mol_s"]) * to_nm3_h
    safe_gas = np.where(out_gas > 0, out_gas, 1.0)
    h2_pct = np.where(out_gas > 0, 100.0 * r["h2_mol_s"] * to_nm3_h / safe_gas, 0.0)
    co2_pct_out = np.where(out_gas > 0, 100.0 * r["co2_out_mol_s"] * to_nm3_h / safe_gas, 0.0)
    on = cur >= _MIN_CURRENT_FRACTION * p.rated_current_a
    safe_cur = np.where(on, cur, 1.0)
    # The DCS divides the H2 flow by all N cells: with shorted cells it over-reports FE (as a real DCS would).
    h2_mol_s = out_gas * h2_pct / 100.0 / to_nm3_h
    fe_dcs = np.where(on, 100.0 * (1.0 - h2_mol_s * Z * F / (p.n_cells * safe_cur)), np.nan)
    prod = np.where(on, p.n_cells * cur * fe_dcs / 100.0 / (Z * F) * M_HCOOH * 3600.0, 0.0)
    power = cur * r["v_stack"] / 1000.0
    with np.errstate(invalid="ignore"):
        se = np.where(on & (prod > 0), np.minimum(power / np.where(prod > 0, prod, 1.0), 100.0), np.nan)
    co2_feed = r["co2_in_mol_s"] * M_CO2 * 3600.0
    co2_vent = out_gas * co2_pct_out / 100.0 / to_nm3_h * M_CO2 * 3600.0
    conv = np.where(co2_feed > 0.5, 100.0 * (1.0 - co2_vent / np.where(co2_feed > 0.5, co2_feed, 1.0)), np.nan)
    water = r["bleed_l_h"] / 1000.0 + p.n_cells * cur / (Z * F) * M_H2O * 3600.0 / 1000.0
    cooling = r["cooling_kw"]
    # Chiller at its COP; negative duty (idle loop kept at temperature) is electric trace heating.
    electricity = (
        power / p.rectifier_efficiency
        + p.bop_kw * (0.4 + 0.6 * r["pump"])
        + np.maximum(cooling, 0.0) / p.chiller_cop
        + np.maximum(-cooling, 0.0)
    )
    return {
        "out_gas": out_gas,
        "h2_pct": h2_pct,
        "co2_pct_out": co2_pct_out,
        "fe_dcs": fe_dcs,
        "prod": prod,
        "power": power,
        "se": se,
        "co2_feed": co2_feed,
        "co2_vent": co2_vent,
        "conv": np.clip(conv, 0.0, 100.0),
        "water": water,
        "electricity": electricity,
    }


def _tag_frame(r: dict[str, np.ndarray], sp: dict[str, np.ndarray], p: CO2ElectrolyzerParams, index) -> pd.DataFrame:
    c = _dcs_calcs(r, p)
    cols = {
        "ECR.IIC101.SP": sp["current"],
        "ECR.II101": r["current_a"],
        "ECR.JI101": r["j"],
        "ECR.EI101": r["v_stack"],
        "ECR.EY101": r["v_stack"] / p.n_cells,
        "ECR.JI102": c["power"],
        "ECR.JI103": c["electricity"],
        "ECR.FIC201.SP": sp["q"],
        "ECR.FI201": r["co2_flow"],
        "ECR.AIC201.SP": sp["y"],
        "ECR.AI201": r["co2_pct"],
        "ECR.FY201": c["co2_feed"],
        "ECR.PDI201": r["dp_kpa"],
        "ECR.FI202": c["out_gas"],
        "ECR.AI202": c["h2_pct"],
        "ECR.AI203": c["co2_pct_out"],
        "ECR.FY202": c["co2_vent"],
        "ECR.XY201": c["conv"],
        "ECR.FI301": r["catholyte_flow"],
        "ECR.TIC301.SP": sp["t"],
        "ECR.TI301": r["inlet_temp_c"],
        "ECR.TI302": r["cell_temp_c"],
        "ECR.AI301": r["ph"],
        "ECR.AI302": r["formate_g_l"],
        "ECR.FI302": r["bleed_l_h"],
        "ECR.FY301": c["prod"],
        "ECR.AY301": c["fe_dcs"],
        "ECR.EY102": c["se"],
        "ECR.FI401": r["o2_nm3_h"],
        "ECR.QI501": r["cooling_kw"],
        "ECR.FY303": r["bleed_l_h"] * p.khco3_mol_l * M_KHCO3,
        "ECR.FY304": c["water"],
        "ECR.KY101": r["age_h"],
    }
    return pd.DataFrame({t.tag: cols[t.tag] for t in TAGS}, index=index)


def _simulate_day(seed: int, day_no: int, params: CO2ElectrolyzerParams) -> tuple[pd.DataFrame, list[Episode]]:
    day_start = _EPOCH + dt.timedelta(days=day_no)
    inputs, sp = _day_inputs(seed, day_no, params)
    r = _respond(inputs, params, 1.0)
    r["pump"] = inputs.pump_on
    step = int(INFO.sampling / dt.timedelta(minutes=1))
    rows = _WARMUP_MIN + np.arange(0, _DAY, step)
    r = {k: np.asarray(v)[rows] if np.ndim(v) else np.full(len(rows), float(v)) for k, v in r.items()}
    sp = {k: v[rows] for k, v in sp.items()}
    index = pd.date_range(day_start, periods=len(rows), freq=INFO.sampling, tz="UTC")
    return _tag_frame(r, sp, params, index), TYPE.day_episodes(seed, day_no)


#: The electrolyzer on the shared simulation engine (:mod:`models.engine`): the day plan, the
#: episode details and the day simulator are its own, the rest is the engine's.
TYPE = PlantType(
    info=INFO,
    tags=TAGS,
    default_params=DEFAULT,
    step=dt.timedelta(minutes=1),
    day_items=lambda seed, day_no: _day_plan(seed, day_no)[1],
    detail=_detail,
    simulate_day=_simulate_day,
)

#: Planned episodes tiling ``[start, end)`` (:meth:`models.engine.PlantType.schedule`): a day's
#: plan comes from its 10-day block and the 40-day maintenance cycle; category shares are
#: exactly 70 / 20 / 8 / 2 % over every aligned block.
schedule = TYPE.schedule
#: True values at 15-min sampling and episodes (:meth:`models.engine.PlantType.simulate_true`);
#: FE and specific energy are NaN while the stack is de-energised (bad quality in the DCS).
simulate_true = TYPE.simulate_true
#: Historian exports plus ground truth (:meth:`models.engine.PlantType.simulate`).
simulate = TYPE.simulate
