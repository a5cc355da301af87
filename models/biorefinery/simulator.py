"""Biorefinery day simulator: residence-time kernel, driver profiles, day simulation, tag values, and its binding to the shared engine (:mod:`models.engine`)."""

from __future__ import annotations

import datetime as dt
import functools
import math

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from models.biorefinery.physics import (
    BiorefineryParams,
    DEFAULT,
    ETHANOL_DENSITY_KG_M3,
    ETHANOL_YIELD_THEORETICAL,
    FEED_COMPONENTS,
    GALLON_M3,
    MW,
    SHORT_TON_T,
    SPECIES,
    back_end,
    feed_composition,
    front_end,
    front_end_results,
    saturation_pressure_kpa,
    steady_state,
)
from models.base import Episode
from models.engine import PlantType
from models.biorefinery.tags import INFO, TAGS
from models.biorefinery.scenarios import (
    _CHANGE_KINDS,
    _DAY_H,
    _EPOCH,
    _day_items,
    _detail,
    _season,
    _supplier_offsets,
    _wiggle,
    fouling_ratio,
)

DEFAULT_PARAMS = DEFAULT

# --------------------------------------------------------------------------
# Residence-time kernel of the hydrolysis + fermentation trains
# --------------------------------------------------------------------------

_LOOKBACK_D = 14
_KERNEL_H = _LOOKBACK_D * _DAY_H
_EH_TANKS, _FERM_TANKS = 4, 2


@functools.lru_cache(maxsize=8)
def residence_time_kernel(eh_time_h: float = 84.0, ferm_time_h: float = 36.0) -> np.ndarray:
    """Hourly weights (sum 1, length 336) of the hydrolysis + fermentation residence-time distribution.

    Hydrolysis = 4, fermentation = 2 ideal tanks in series (assumption; the
    NREL trains are continuous vessels in series followed by batch
    finishing). The weight of lag k hours is the probability that material
    entered fermentation between k and k + 1 h after entering hydrolysis
    (evaluated on a 1-min grid), truncated at 14 days and renormalised.
    """
    dt_h = 1.0 / 60.0
    out = np.zeros(_KERNEL_H * 60)
    out[0] = 1.0  # unit impulse on the 1-min grid
    for n, tau in ((_EH_TANKS, eh_time_h), (_FERM_TANKS, ferm_time_h)):
        a = math.exp(-dt_h / (tau / n))
        for _ in range(n):
            # first-order lag y_i = a y_(i-1) + (1 - a) x_i, applied once per ideal tank
            out = lfilter([1.0 - a], [1.0, -a], out)
    w = out.reshape(_KERNEL_H, 60).sum(axis=1)
    w /= w.sum()
    w.flags.writeable = False
    return w


@functools.lru_cache(maxsize=8)
def _kernel_matrix(eh_time_h: float, ferm_time_h: float) -> np.ndarray:
    # y[i] = sum_k w[k] x[K + i - k] for a history x of K + 24 hours (oldest first).
    w = residence_time_kernel(eh_time_h, ferm_time_h)
    m = np.zeros((_DAY_H, _KERNEL_H + _DAY_H))
    for i in range(_DAY_H):
        m[i, i + 1 : i + 1 + _KERNEL_H] = w[::-1]
    m.flags.writeable = False
    return m


# --------------------------------------------------------------------------
# Driver profiles of one day
# --------------------------------------------------------------------------

_DRIVERS = (
    "feed_sp",
    "feed_frac",
    "pt_temp_sp",
    "acid_mg_g",
    "enzyme_sp",
    "enzyme_frac",
    "ferm_temp",
    "contamination",
    "boiler_avail",
    "ng_main_kw",
    "dist_cap",
    "moisture",
    "ambient",
    "cw_temp",
    "bin_level",
    "fouling",
    *(f"x_{c}" for c in FEED_COMPONENTS),
)


@functools.lru_cache(maxsize=64)
def _day_drivers(seed: int, day_no: int, params: BiorefineryParams) -> dict[str, np.ndarray]:
    """Hourly operating drivers of one UTC day (set points, disturbances, slow states)."""
    p = params
    n = _DAY_H
    hours = day_no * _DAY_H + np.arange(n, dtype=float)
    idx = np.arange(n)
    d = {
        "feed_sp": np.full(n, p.dry_feed_t_h),
        "feed_frac": np.ones(n),
        "pt_temp_sp": np.full(n, p.pt_temp_c),
        "acid_mg_g": np.full(n, p.acid_mg_g),
        "enzyme_sp": np.full(n, p.enzyme_mg_g),
        "enzyme_frac": np.ones(n),
        "ferm_temp": np.full(n, p.ferm_temp_c),
        "contamination": np.full(n, p.contamination_loss),
        "boiler_avail": np.ones(n),
        "ng_main_kw": np.zeros(n),
        "dist_cap": np.ones(n),
        "bin_level": np.full(n, 60.0),
    }
    base = {"rate_change": p.dry_feed_t_h, "severity_change": p.pt_temp_c, "enzyme_loading_change": p.enzyme_mg_g}
    key = {"rate_change": "feed_sp", "severity_change": "pt_temp_sp", "enzyme_loading_change": "enzyme_sp"}
    items = _day_items(seed, day_no)
    for it in items:
        s, e, a = it.start, it.end, dict(it.args)
        span = idx[s:e]
        frac_in = (span - s + 1) / (e - s)  # 1/n ... 1
        if it.label in _CHANGE_KINDS:
            b0 = base[it.label]
            target = a["target"] * (p.dry_feed_t_h if it.label == "rate_change" else 1.0)
            arr = d[key[it.label]]
            if a["phase"] == 0.0:
                arr[s:e] = b0 + (target - b0) * frac_in
            else:
                arr[s:e] = target + (b0 - target) * frac_in
        elif it.label == "steady" and "kind" in a:
            kind = _CHANGE_KINDS[int(a["kind"])]
            target = a["target"] * (p.dry_feed_t_h if kind == "rate_change" else 1.0)
            d[key[kind]][s:e] = target
        elif it.label == "feed_disruption":
            f = a["feed_fraction"]
            d["feed_frac"][s:e] = f
            d["feed_frac"][e - 1] = 0.5 * (1.0 + f)
            d["bin_level"][s:e] = 5.0 + 20.0 * f
            d["bin_level"][e - 1] = 35.0
        elif it.label == "shutdown":
            d["feed_frac"][s] = 0.5
            d["feed_frac"][s + 1 : e] = 0.0
            # the shutdown is followed by its start-up (same unit): feed stays off until then
        elif it.label == "startup":
            d["feed_frac"][s:e] = frac_in
        elif it.label == "fermentation_contamination":
            m = e - s
            peak = a["peak_loss"]
            grow = np.minimum(1.0, (span - s + 1) / max(1.0, 0.6 * m))
            prof = p.contamination_loss + (peak - p.contamination_loss) * grow
            prof[-1] = p.contamination_loss + 0.3 * (peak - p.contamination_loss)  # antimicrobial dosed
            d["contamination"][s:e] = prof
        elif it.label == "enzyme_dosing_failure":
            d["enzyme_frac"][s:e] = a["enzyme_fraction"]
            d["enzyme_frac"][e - 1] = 1.0
        elif it.label == "fermenter_cooling_failure":
            rise = a["temp_rise"] * np.minimum(1.0, (span - s + 1) / 2.0)
            rise[-1] = 0.4 * a["temp_rise"]
            d["ferm_temp"][s:e] = p.ferm_temp_c + rise
        elif it.label == "boiler_trip":
            d["boiler_avail"][s:e] = 0.0
            d["boiler_avail"][e - 2] = 0.4
            d["boiler_avail"][e - 1] = 0.8
            d["ng_main_kw"][e - 2] = 25_000.0  # support firing during light-off
            d["ng_main_kw"][e - 1] = 15_000.0
            d["feed_frac"][s:e] = 0.0
            d["feed_frac"][e - 1] = 0.5
            d["dist_cap"][s : e - 1] = 0.6
        elif it.label == "reboiler_cleaning":
            d["dist_cap"][s:e] = 0.6

    # Small continuous fluctuations of normal operation (functions of absolute time).
    d["feed_frac"] = d["feed_frac"] * (1.0 + 0.008 * _wiggle(seed, 0, hours, (5.3, 17.1, 41.0)))
    d["pt_temp"] = d["pt_temp_sp"] + 0.3 * _wiggle(seed, 1, hours, (3.1, 11.3))
    d["ferm_temp"] = d["ferm_temp"] + 0.15 * _wiggle(seed, 2, hours, (7.7, 2.9))
    d["acid_mg_g"] = d["acid_mg_g"] * (1.0 + 0.01 * _wiggle(seed, 3, hours, (6.1, 23.0)))

    harvest, summer = _season(hours)
    sup = _supplier_offsets(seed, hours)
    slow = _wiggle(seed, 4, hours, (91.0, 223.0, 37.0))
    d["moisture"] = np.clip(p.moisture + 0.04 * harvest + sup[:, 0] + 0.01 * slow, 0.08, 0.40)
    rel = {
        "glucan": 1.0 + 0.02 * harvest + sup[:, 1] + 0.005 * _wiggle(seed, 5, hours, (71.0, 163.0)),
        "xylan": 1.0 + 0.025 * harvest + sup[:, 2] + 0.005 * _wiggle(seed, 6, hours, (67.0, 149.0)),
        "lignin": 1.0 - 0.01 * harvest + sup[:, 3],
        "ash": 1.0 - 0.08 * harvest + sup[:, 4] + 0.03 * _wiggle(seed, 7, hours, (53.0, 131.0)),
        "sucrose": 1.0 + 0.3 * harvest,
        "extractives": 1.0 + 0.05 * harvest,
    }
    for c in FEED_COMPONENTS:
        d[f"x_{c}"] = getattr(p, f"x_{c}") * rel.get(c, np.ones(n))

    # Weather (Central Iowa-like climate, project assumption): mean 10 degC,
    # seasonal +-14 degC (warmest ~20 Jul), diurnal +-5 degC peaking 15:00 CST = 21:00 UTC.
    diurnal = np.cos(2 * math.pi * ((hours % 24) - 21.0) / 24.0)
    d["ambient"] = 10.0 + 14.0 * summer + 5.0 * diurnal + 3.0 * _wiggle(seed, 8, hours, (97.0, 190.0, 61.0))
    d["cw_temp"] = np.clip(21.0 + 0.35 * (d["ambient"] - 10.0), 14.0, 30.0)
    d["fouling"] = fouling_ratio(hours, seed, p)
    for v in d.values():
        v.flags.writeable = False
    return d


@functools.lru_cache(maxsize=64)
def _day_front(seed: int, day_no: int, params: BiorefineryParams):
    """Front-end results of one day (actual feed) and the analyzer view (feed >= 5 t/h)."""
    d = _day_drivers(seed, day_no, params)
    comp = feed_composition(params, **{c: d[f"x_{c}"] for c in FEED_COMPONENTS})
    feed = d["feed_sp"] * d["feed_frac"]
    enzyme = d["enzyme_sp"] * d["enzyme_frac"]
    args = dict(
        moisture=d["moisture"],
        composition=comp,
        pt_temp_c=d["pt_temp"],
        pt_time_min=params.pt_time_min,
        acid_mg_g=d["acid_mg_g"],
        enzyme_mg_g=enzyme,
        eh_time_h=np.full(_DAY_H, params.eh_time_h),
        params=params,
    )
    fe = front_end(feed, **args)
    fe_view = front_end(np.maximum(feed, 5.0), **args)
    return fe, fe_view, comp


def _beer_backlog(seed: int, day_no: int, params: BiorefineryParams) -> tuple[np.ndarray, np.ndarray]:
    """(distilled fraction of beer production u, backlog B in hours of flow at the start of each hour).

    B grows by (1 - u) per hour while the column is limited (cap < 1) and is
    worked off at u = 1.15 when the column is free. Recomputed from B = 0 three
    days back, so the day does not depend on the simulated window.
    """
    caps = np.concatenate([_day_drivers(seed, day_no - k, params)["dist_cap"] for k in (3, 2, 1, 0)])
    u = np.empty_like(caps)
    b_start = np.empty_like(caps)
    b = 0.0
    for i, c in enumerate(caps):
        b_start[i] = b
        if c < 1.0:
            ui = c
        else:
            ui = min(1.15, 1.0 + b)
        u[i] = ui
        b = max(0.0, b + 1.0 - ui)
    return u[-_DAY_H:], b_start[-_DAY_H:]


# --------------------------------------------------------------------------
# Day simulation
# --------------------------------------------------------------------------


def _simulate_day(seed: int, day_no: int, params: BiorefineryParams) -> tuple[dict[str, np.ndarray], list[Episode]]:
    p = params
    drv = _day_drivers(seed, day_no, p)
    fe, fe_view, comp = _day_front(seed, day_no, p)
    history = [_day_front(seed, day_no - k, p)[0] for k in range(_LOOKBACK_D, 0, -1)] + [fe]
    km = _kernel_matrix(p.eh_time_h, p.ferm_time_h)
    hyd = {s: km @ np.concatenate([h.out[s] for h in history]) for s in SPECIES}
    slurry = km @ np.concatenate([h.slurry_m3_h for h in history])
    dry_lag = km @ np.concatenate([h.feed_wet - h.feed_water for h in history])
    glucan_lag = km @ np.concatenate([h.eh_in_glucan for h in history])
    enzyme_lag = km @ np.concatenate([h.enzyme for h in history])
    u, backlog = _beer_backlog(seed, day_no, p)
    res = back_end(
        fe,
        hyd,
        slurry,
        ferm_temp_c=drv["ferm_temp"],
        contamination_loss=drv["contamination"],
        fouling_ratio=drv["fouling"],
        dist_fraction=u,
        boiler_availability=drv["boiler_avail"],
        ng_main_kw=drv["ng_main_kw"],
        cw_temp_c=drv["cw_temp"],
        params=p,
    )
    res.update(front_end_results(fe))
    res["_hyd"] = hyd
    res["_fe"] = fe
    res["_fe_view"] = fe_view
    res["_comp"] = comp
    res["_drv"] = drv
    res["_slurry_conv"] = slurry
    res["_dry_lag_kg_h"] = dry_lag
    res["_enzyme_lag"] = enzyme_lag
    res["_glucan_lag"] = glucan_lag
    res["_backlog_h"] = backlog
    res["_u"] = u
    res["_day_no"] = day_no
    return res, TYPE.day_episodes(seed, day_no, p)


@functools.lru_cache(maxsize=8)
def _design(params: BiorefineryParams) -> dict[str, float]:
    r = steady_state(params=params)
    return {k: float(v) for k, v in r.items() if np.ndim(v) == 0 or np.size(v) == 1}


def _tag_values(res: dict, seed: int, params: BiorefineryParams) -> dict[str, np.ndarray]:
    """Map one day's simulation results to true tag values (tag units)."""
    p = params
    dsg = _design(p)
    fe, fv, comp, drv = res["_fe"], res["_fe_view"], res["_comp"], res["_drv"]
    hyd, slurry = res["_hyd"], res["_slurry_conv"]
    hours = res["_day_no"] * _DAY_H + np.arange(_DAY_H, dtype=float)
    wig = lambda k, *per: _wiggle(seed, 10 + k, hours, per or (5.0, 13.0))  # noqa: E731
    n = _DAY_H
    const = lambda x: np.full(n, float(x))  # noqa: E731
    dry = (fe.feed_wet - fe.feed_water) / 1000.0
    running = dry > 1.0
    load_feed = dry / p.dry_feed_t_h
    a = drv["boiler_avail"]
    steam = res["steam_kg_h"]
    load_b = steam / dsg["steam_kg_h"]
    fired = a > 0.0

    liquor = np.maximum(fv.out["water"] - fv.eh_water, 1.0) / 1000.0  # m3/h of pretreatment liquor; kg/m3 = g/L
    pt_glucose = (
        fv.feed["glucan"] * fv.glucan_to_glucose * MW["glucose"] / MW["glucan"]
        + fv.feed["sucrose"] * 2 * MW["glucose"] / MW["sucrose"]
    )
    t_reactor = np.where(running, drv["pt_temp"], p.flash_temp_c + 15.0)
    t_flash = np.where(running, p.flash_temp_c + 0.3 * wig(0), 70.0)
    beer = res["beer_kg_h"]
    vol = np.maximum(slurry, 1e-6)
    eth_prod = res["product_ethanol_kg_h"]
    gal_h = eth_prod / ETHANOL_DENSITY_KG_M3 / GALLON_M3
    dry_lag_tons = res["_dry_lag_kg_h"] / 1000.0 / SHORT_TON_T
    cake = res["cake_kg_h"]
    cake_dry = np.maximum(cake - res["cake_water_kg_h"], 1e-9)
    ww_m3 = np.maximum(res["ww_influent_m3_h"], 1e-9)
    sulfate_s = res["_filtrate"]["ammonium_sulfate"] / MW["ammonium_sulfate"] * 0.05  # 5 % of sulfate reduced
    biogas_kmol = res["biogas_nm3_h"] / 22.414
    boilup_rel = res["boilup_kg_h"] / dsg["boilup_kg_h"]
    q_ferm = (
        beer * (p.eh_solids * p.cp_dry_solids + (1 - p.eh_solids) * 4.18) * (p.eh_temp_c - p.ferm_temp_c) / 3600.0
        # heat of fermentation: dcH glucose -2803, ethanol -1367 kJ/mol -> 69 kJ/mol glucose = 750 kJ/kg ethanol
        + res["beer_ethanol_kg_h"] * 750.0 / 3600.0
    ) * np.clip(1.0 - (drv["ferm_temp"] - p.ferm_temp_c) / 8.0, 0.1, 1.0)
    hp_up = np.minimum(1.0, a / 0.8)
    rejected = res["rejected_kw"]
    circ = 12_000.0  # m3/h
    glucan_conv = 1.0 - (hyd["glucan"] + hyd["oligomers"]) / np.maximum(res["_glucan_lag"], 1e-9)
    lactic = res["beer_lactic_g_l"]
    v = {
        "BIO.WI101": fe.feed_wet / 1000.0,
        "BIO.MI101": 100.0 * drv["moisture"],
        "BIO.WY101": dry,
        "BIO.FC101.SP": drv["feed_sp"] * 1.0,
        "BIO.AI101": 100.0 * comp["glucan"],
        "BIO.AI102": 100.0 * comp["xylan"],
        "BIO.AI103": 100.0 * comp["lignin"],
        "BIO.AI104": 100.0 * comp["ash"],
        "BIO.AI105": 100.0 * comp["arabinan"],
        "BIO.AI106": 100.0 * comp["extractives"],
        "BIO.AI107": 100.0 * comp["protein"],
        "BIO.AI108": 100.0 * comp["acetate"],
        "BIO.JI101": p.power_feed_kwh_t * dry,
        "BIO.TI100": drv["ambient"] * 1.0,
        "BIO.LI101": drv["bin_level"] + 3.0 * wig(1),
        "BIO.SI101": 40.0 * fe.feed_wet / dsg["feed_wet_kg_h"],
        "BIO.TI201": t_reactor,
        "BIO.TC201.SP": drv["pt_temp_sp"] * 1.0,
        "BIO.PI201": saturation_pressure_kpa(t_reactor) + 30.0 * running,
        "BIO.FI201": fe.pt_steam / 1000.0,
        "BIO.PI202": 101.3 + (1300.0 - 101.3) * hp_up,
        "BIO.TI202": 100.0 + 161.0 * hp_up,
        "BIO.FI202": fe.acid * 1.0,
        "BIO.FC202.SP": const(p.acid_mg_g),
        "BIO.FI203": fe.pt_water / 1000.0,
        "BIO.XI201": const(p.pt_time_min),
        "BIO.AY201": fv.log_r0 * 1.0,
        "BIO.AY202": fv.combined_severity * 1.0,
        "BIO.AI201": fv.ph_pt * 1.0,
        "BIO.TI203": t_flash,
        "BIO.PI203": saturation_pressure_kpa(t_flash),
        "BIO.FI204": (fe.flash_water + fe.flash_furfural) / 1000.0,
        "BIO.LI201": np.where(running, 50.0, 25.0) + 2.0 * wig(2),
        "BIO.AI202": fv.out["xylose"] / liquor,
        "BIO.AI203": fv.out["furfural"] / liquor,
        "BIO.AI204": fv.feed["acetate"] / liquor,
        "BIO.AI205": pt_glucose / liquor,
        "BIO.AY203": 100.0 * fv.xylan_to_xylose,
        "BIO.AY204": 100.0 * fv.xylan_to_furfural,
        "BIO.FI205": fe.ammonia * 1.0,
        "BIO.AI206": p.conditioning_ph + 0.05 * wig(3),
        "BIO.TI204": np.where(running, 75.0, 55.0) + 0.5 * wig(4),
        "BIO.JI201": p.power_pt_kwh_t * dry + 150.0,
        "BIO.AI207": np.where(running, 100 * p.pt_solids + 0.3 * wig(5), 0.0),
        "BIO.SI201": 30.0 * load_feed,
        "BIO.FI301": fe.enzyme * 1.0,
        "BIO.FC301.SP": drv["enzyme_sp"] * 1.0,
        "BIO.FI302": fe.slurry_m3_h * 1.0,
        "BIO.FI303": fe.eh_water / 1000.0,
        "BIO.TI301": p.eh_temp_c + 0.2 * wig(6),
        "BIO.TC301.SP": const(p.eh_temp_c),
        "BIO.AI301": p.conditioning_ph + 0.05 * wig(7),
        "BIO.AI302": 100.0 * p.eh_solids + 0.3 * wig(8),
        "BIO.AI303": hyd["glucose"] / vol,
        "BIO.AI304": hyd["xylose"] / vol,
        "BIO.AI305": hyd["oligomers"] / vol,
        "BIO.AY301": 100.0 * glucan_conv,
        "BIO.XI301": p.eh_volume_m3 / vol,
        "BIO.LI301": 85.0 + 2.0 * wig(9),
        "BIO.JI301": const(4500.0),
        "BIO.TI302": drv["ferm_temp"] - 0.5,
        "BIO.FI401": slurry * 1.0,
        "BIO.TI401": drv["ferm_temp"] * 1.0,
        "BIO.TC401.SP": const(p.ferm_temp_c),
        "BIO.AI401": np.clip(5.8 - 0.06 * lactic, 3.5, 7.0),
        "BIO.AI402": res["beer_glucose_g_l"] * 1.0,
        "BIO.AI403": res["beer_pentose_g_l"] * 1.0,
        "BIO.AI404": res["beer_ethanol_g_l"] * 1.0,
        "BIO.AI405": lactic * 1.0,
        "BIO.AI406": res["beer_cells_g_l"] * 1.0,
        "BIO.AI407": res["beer_byproducts_g_l"] * 1.0,
        "BIO.FI402": res["ferm_co2_kg_h"] / 1000.0,
        "BIO.AI408": 98.5 + 0.3 * wig(10),
        "BIO.FI403": 0.5 * res["ferm_co2_kg_h"] / 1000.0,
        "BIO.AY401": 100.0 * res["ethanol_from_glucose_kg_h"] / (ETHANOL_YIELD_THEORETICAL * hyd["glucose"]),
        "BIO.AY402": 100.0
        * res["ethanol_from_pentose_kg_h"]
        / (ETHANOL_YIELD_THEORETICAL * (hyd["xylose"] + hyd["arabinose"])),
        "BIO.AY403": res["beer_ethanol_kg_h"] / res["fermentable_sugar_kg_h"],
        "BIO.QI401": q_ferm,
        "BIO.TI402": drv["cw_temp"] * 1.0,
        "BIO.FI404": beer / 1000.0,
        "BIO.LI401": np.clip(25.0 + 100.0 * res["_backlog_h"] / 12.0, 0.0, 98.0) + 1.0 * wig(11),
        "BIO.JI401": const(1500.0),
        "BIO.FI501": res["dist_feed_kg_h"] / 1000.0,
        "BIO.TI501": p.beer_feed_temp_c + 0.3 * wig(12),
        "BIO.AI501": 100.0 * res["beer_ethanol_wt"],
        "BIO.TI502": 96.0 - 30.0 * (res["beer_ethanol_wt"] - dsg["beer_ethanol_wt"]) + 0.2 * wig(13),
        "BIO.TI503": p.beer_bottoms_temp_c + 0.2 * wig(14),
        "BIO.PI501": 140.0 + 1.0 * wig(15),
        "BIO.PDI501": 12.0 * boilup_rel**2,
        "BIO.FI502": res["reboiler_steam_kg_h"] / 1000.0,
        "BIO.PI502": saturation_pressure_kpa(res["reboiler_chest_temp_c"]),
        "BIO.TI504": res["reboiler_chest_temp_c"] * 1.0,
        "BIO.QI502": res["reboiler_duty_kw"] * 1.0,
        "BIO.UY502": res["reboiler_ua_kw_k"] * 1.0,
        "BIO.AI502": 1e6 * res["stillage_ethanol_kg_h"] / np.maximum(res["stillage_kg_h"], 1e-9),
        "BIO.FI503": res["stillage_kg_h"] / 1000.0,
        "BIO.FI504": res["boilup_kg_h"] / 1000.0,
        "BIO.TI505": 78.6 + 0.1 * wig(16),
        "BIO.AI505": 92.5 + 0.2 * wig(17),
        "BIO.FI505": 3.0 * eth_prod / 0.925 / 1000.0,
        "BIO.FI506": res["rectifier_steam_kg_h"] / 1000.0,
        "BIO.FI507": res["product_kg_h"] / 1000.0,
        "BIO.FY507": gal_h,
        "BIO.AI507": 100.0 * p.product_purity + 0.02 * wig(18),
        "BIO.TI507": 116.0 + 0.5 * wig(19),
        "BIO.PI507": 170.0 + 2.0 * wig(20),
        "BIO.LI508": 15.0 + 70.0 * (((hours % 24) - 12.0) % 24) / 23.0,
        "BIO.AY501": gal_h / np.maximum(dry_lag_tons, 1e-9),
        "BIO.AY502": (res["reboiler_steam_kg_h"] + res["rectifier_steam_kg_h"]) / np.maximum(eth_prod, 1e-9),
        "BIO.FI601": cake / 1000.0,
        "BIO.AI601": 100.0 * res["cake_water_kg_h"] / np.maximum(cake, 1e-9),
        "BIO.FI602": res["filtrate_kg_h"] / 1000.0,
        "BIO.AI602": 100.0 * res["cake_ash_kg_h"] / cake_dry,
        "BIO.FI701": ww_m3,
        "BIO.AI701": res["ww_cod_kg_h"] / ww_m3,
        "BIO.TI701": 35.0 + 0.3 * wig(21),
        "BIO.AI702": 7.1 - 0.3 * (res["ww_cod_kg_h"] / dsg["ww_cod_kg_h"] - 1.0),
        "BIO.FI702": res["biogas_nm3_h"] * 1.0,
        "BIO.AI703": 100.0 * p.biogas_ch4_fraction + 0.5 * wig(22),
        "BIO.AI704": 1e6 * sulfate_s / np.maximum(biogas_kmol + sulfate_s, 1e-9),
        "BIO.AI705": (res["ww_cod_kg_h"] - res["ww_cod_removed_ad_kg_h"]) / ww_m3,
        "BIO.AY701": 100.0 * res["ww_cod_removed_ad_kg_h"] / np.maximum(res["ww_cod_kg_h"], 1e-9),
        "BIO.FI703": res["aeration_o2_kg_h"] / (0.21 * 1.429 * 0.25),  # SOTE 25 % (fine-bubble, assumption)
        "BIO.JI703": p.aeration_kwh_per_kg_o2 * res["aeration_o2_kg_h"],
        "BIO.AI706": 2.0 + 0.2 * wig(23),
        "BIO.AI707": 1000.0 * res["ww_cod_out_kg_h"] / ww_m3,
        "BIO.FI704": res["ww_recycle_kg_h"] / 1000.0,
        "BIO.FI705": ww_m3 - res["ww_recycle_kg_h"] / 1000.0,
        "BIO.FI706": res["sludge_kg_h"] * 1.0,
        "BIO.FY707": res["ch4_fugitive_kg_h"] * 1.0,
        "BIO.LI701": 50.0 + 5.0 * wig(24, 9.0, 29.0),
        "BIO.FI801": a * cake / 1000.0,
        "BIO.FI802": a * res["biogas_nm3_h"] * (1.0 - p.ad_fugitive_ch4),
        "BIO.FI803": res["ng_nm3_h"] * 1.0,
        "BIO.QY803": res["ng_gj_h"] * 1.0,
        "BIO.QY801": (res["fuel_kw"] + res["ng_main_kw"]) / 1000.0,
        "BIO.TI801": np.where(fired, 400.0 + 550.0 * np.minimum(load_b, 1.2), 250.0),
        "BIO.AI801": np.where(fired, res["flue_o2_pct"], 20.9),
        "BIO.AI802": np.where(fired, res["flue_co2_pct"], 0.05),
        "BIO.AI803": np.where(fired, 60.0 + 400.0 * (1.0 - np.minimum(load_b, 1.0)) ** 2, 0.0),
        "BIO.AI804": np.where(fired, res["flue_nox_mg_nm3"], 0.0),
        "BIO.FI804": res["combustion_air_nm3_h"] * 1.0,
        "BIO.FI805": res["flue_nm3_h"] * 1.0,
        "BIO.TI805": np.where(fired, 150.0 + 20.0 * np.minimum(load_b, 1.2), 60.0),
        "BIO.FI806": steam / 1000.0,
        "BIO.PI806": 6200.0 * np.minimum(1.0, 0.5 + load_b),
        "BIO.TI806": 454.0 * (0.6 + 0.4 * np.minimum(1.0, load_b / 0.5)),
        "BIO.LI806": 50.0 + 1.5 * wig(25),
        "BIO.FI807": (1.0 + 0.02) * steam / 1000.0,
        "BIO.TI807": np.where(fired, 120.0, 105.0) + 0.3 * wig(26),
        "BIO.FI808": 0.02 * steam / 1000.0,
        "BIO.FI809": a * res["cake_ash_kg_h"] / 1000.0,
        "BIO.FY850": res["co2_boiler_biogenic_kg_h"] / 1000.0,
        "BIO.FY852": res["co2_ng_fossil_kg_h"] / 1000.0,
        "BIO.FI830": res["aux_steam_kg_h"] / 1000.0,
        "BIO.JI810": res["generation_kw"] / 1000.0,
        "BIO.SI810": np.where(res["generation_kw"] > 0.0, 3600.0, 0.0),
        "BIO.FI811": res["hp_extraction_kg_h"] / 1000.0,
        "BIO.FI812": res["lp_extraction_kg_h"] / 1000.0,
        "BIO.FI813": res["condensing_kg_h"] / 1000.0,
        "BIO.PI813": res["condenser_kpa"] * 1.0,
        "BIO.PI811": np.where(steam > 0.0, 1300.0, 101.3) + 3.0 * wig(27),
        "BIO.PI812": 450.0 + 2.0 * wig(28),
        "BIO.JI820": res["demand_kw"] / 1000.0,
        "BIO.JI821": res["export_kw"] / 1000.0,
        "BIO.JI822": res["import_kw"] / 1000.0,
        "BIO.FI901": res["water_intake_kg_h"] / 1000.0,
        "BIO.FI902": res["ct_makeup_kg_h"] / 1000.0,
        "BIO.TI903": drv["cw_temp"] * 1.0,
        "BIO.TI904": drv["cw_temp"] + rejected * 3.6 / (circ * 4.18),
        "BIO.FI905": circ + 100.0 * wig(29),
        "BIO.QY906": rejected / 1000.0,
        "BIO.PI907": 700.0 + 5.0 * wig(30),
        "BIO.FI908": res["process_water_kg_h"] / 1000.0,
    }
    return {k: np.asarray(val, dtype=float) * np.ones(n) for k, val in v.items()}


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------


def _day_frame(seed: int, day_no: int, params: BiorefineryParams) -> tuple[pd.DataFrame, list[Episode]]:
    res, episodes = _simulate_day(seed, day_no, params)
    values = _tag_values(res, seed, params)
    day_start = _EPOCH + dt.timedelta(days=day_no)
    index = pd.date_range(day_start, periods=_DAY_H, freq=INFO.sampling, tz="UTC")
    data = np.column_stack([values[t.tag] for t in TAGS])
    return pd.DataFrame(data, index=index, columns=[t.tag for t in TAGS]), episodes


#: The biorefinery on the shared simulation engine (:mod:`models.engine`): the day plan, the
#: episode details and the day simulator are its own, the rest is the engine's.
TYPE = PlantType(
    info=INFO,
    tags=TAGS,
    default_params=DEFAULT,
    step=dt.timedelta(hours=1),
    day_items=_day_items,
    detail=_detail,
    simulate_day=_day_frame,
    hours_format=".0f",
)

#: Planned episodes tiling ``[start, end)`` (:meth:`models.engine.PlantType.schedule`): each UTC
#: day's plan comes from its 25-day block (aligned to 1970-01-01), seeded by ``(seed, block)``;
#: category shares are exactly 70/20/8/2 % over every aligned block.
schedule = TYPE.schedule
#: True values on the hourly grid and episodes (:meth:`models.engine.PlantType.simulate_true`).
simulate_true = TYPE.simulate_true
#: Historian exports plus ground truth (:meth:`models.engine.PlantType.simulate`).
simulate = TYPE.simulate
