"""Smelter potline: episode details, day inputs, section simulator and its binding to the shared engine (:mod:`models.engine`)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from models import historian
from models.smelter.physics import (
    DEFAULT,
    FARADAY,
    GAS_CONSTANT,
    KG_AL_PER_KAH,
    M_AL,
    M_AL2O3,
    M_ALF3,
    M_C,
    M_NA2O,
    SmelterParams,
    WallModel,
    ZERO_C,
    alumina_saturation_wt,
    alumina_step,
    anode_effect_threshold_wt,
    anode_exchange_current_density,
    bath_heat_step,
    bath_ratio,
    carbon_consumption_t_per_t,
    cathode_voltage_drop,
    dissolution_rate_constant,
    enthalpy_voltage,
    faraday_aluminium_kg_h,
    heat_balance_resistance,
    heat_loss_floor_flux,
    liquidus_temperature,
    pfc_slope_method,
    process_co2_t_per_t,
    steady_state,
)
from models.smelter.scenarios import ANODE_ROUND, EPOCH, Item, PLANT_ID, SLOT, SLOTS_PER_DAY, TAP_ROUND, day_plan
from models.base import Episode
from models.engine import DayContext, PlantType
from models.smelter.tags import INFO, TAGS, _MEASURED

DEFAULT_PARAMS = DEFAULT
_DAY = dt.timedelta(days=1)
_H = SLOT.total_seconds() / 3600.0  # step, h
_UTC = dt.timezone.utc
_STREAM_AE, _STREAM_PROCESS, _STREAM_EVENT = 41, 42, 43
_RESISTANCE_LIMITS_UOHM = (5.0, 13.0)  # window of the pot-control resistance target
_RECOVERED_SUPERHEAT_K = 4.0  # end of the post-outage extra heat
_PREROLL_STEPS = 96  # the whole previous day is simulated first (slowest state: sidewall, ~2.6 h)
_RECENT_D, _RECENT_PAIRS = 5.0, 8  # anode settings that still matter: the last 5 days before the window
_ALUMINA_PER_AL = M_AL2O3 / (2 * M_AL)  # 1.8895 t Al2O3 / t Al
_ALF3_PER_NA2O = 2 * M_ALF3 / (3 * M_NA2O)  # 3 Na2O + 2 AlF3 -> 6 NaF + Al2O3

# --------------------------------------------------------------------------
# Schedule (ground-truth episodes)
# --------------------------------------------------------------------------


def _plan(seed: int, day_no: int) -> tuple[float, tuple[Item, ...]]:
    return day_plan(seed, day_no, _MEASURED)


def _detail(item: Item, ctx: DayContext) -> str:
    """Detail text of a process episode (sensor faults are described by the engine)."""
    day_no, params = ctx.day_no, ctx.params
    a = dict(item.args)
    hours = (item.end - item.start) * _H
    if item.label == "steady":
        return f"steady at {a['current_ka']:.0f} kA"
    if item.label == "line_current_change":
        return f"line current {a['from_ka']:.0f} -> {a['to_ka']:.0f} kA, ramp over {_ramp_slots(item) * 15} min, " \
               "resistance target from the amperage table"
    if item.label == "anode_setting":
        n_pairs = int(_anode_pairs_set(day_no, params))
        return f"anode-setting round: {2 * n_pairs} anodes ({n_pairs} pairs) replaced, butts removed"
    if item.label == "metal_tapping":
        n = sum(1 for i in range(params.n_cells) if (day_no + i) % params.tap_interval_d == 0)
        tapped = n * faraday_aluminium_kg_h(params.nominal_current_ka, params.ce_ref) * 24 * params.tap_interval_d / 1e3
        return f"tapping round: {n} cells tapped, ~{tapped:.0f} t metal"
    if item.label == "feeder_blockage":
        return f"point feeders blocked in {int(a['cells'])} cells (feed delivered {100 * a['efficiency']:.0f} %), " \
               "cleared by the crew after each cell's anode effect"
    if item.label == "bath_temperature_excursion":
        return f"pot-control resistance targets {a['dv']:+.2f} V too high for {hours:.1f} h (bath heats up)"
    if item.label == "load_shedding":
        return f"power supplier cuts the line current to {100 * a['fraction']:.0f} % " \
               f"({a['fraction'] * a['current_ka']:.0f} kA) for {_shed_slots(item) * 15} min"
    if item.label == "power_outage":
        return f"rectifier trip: line current 0 kA for {int(a['off']) * 15} min, restart at " \
               f"{ctx.hhmm(item.start + a['off'])} with extra voltage for heat"
    if item.label == "metal_pad_instability":
        return f"metal-pad (MHD) instability in {int(a['cells'])} cells, severity {a['severity']:.2f}: " \
               "voltage noise, anodes raised, current efficiency lost"
    raise ValueError(f"no detail text for {item.label!r}")


# --------------------------------------------------------------------------
# Day inputs (deterministic functions of absolute time and the plan)
# --------------------------------------------------------------------------


def _ramp_slots(item: Item) -> int:
    return max(2, round(0.6 * (item.end - item.start)))


def _shed_slots(item: Item) -> int:
    return max(2, round(0.6 * (item.end - item.start)))


@dataclass(frozen=True, eq=False)
class _Inputs:
    """Per-step inputs of one UTC day (96 steps) or of two concatenated days."""

    current_sp: np.ndarray  # kA
    current: np.ndarray  # kA, actual
    dv_target: np.ndarray  # V added to the pot-control target (all cells)
    mhd_sev: np.ndarray  # severity of metal-pad instability (0 = none)
    mhd_cells: np.ndarray  # (steps, n) bool
    block_eff: np.ndarray  # (steps, n) delivered fraction of commanded feed (1 = healthy)
    heat_boost: np.ndarray  # 1 during outage recovery (pot control runs at its heat limit)

    def tail(self, steps: int) -> _Inputs:
        return _Inputs(*(getattr(self, f)[-steps:] for f in _Inputs.__dataclass_fields__))

    @staticmethod
    def concat(parts: list[_Inputs]) -> _Inputs:
        return _Inputs(*(np.concatenate([getattr(p, f) for p in parts]) for f in _Inputs.__dataclass_fields__))


def _cells_of(seed_value: float, n_pick: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(int(seed_value))
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[:n_pick]] = True
    return mask


def _day_inputs(seed: int, day_no: int, params: SmelterParams) -> _Inputs:
    start_current, items = _plan(seed, day_no)
    n, k = params.n_cells, SLOTS_PER_DAY
    sp = np.full(k, start_current)
    cur = np.full(k, start_current)
    dv = np.zeros(k)
    sev = np.zeros(k)
    mhd = np.zeros((k, n), dtype=bool)
    eff = np.ones((k, n))
    boost = np.zeros(k)
    mid = np.arange(k) + 0.5
    for it in items:
        s, e = it.start, it.end
        a = dict(it.args)
        if it.label == "line_current_change":
            r = _ramp_slots(it)
            frac = np.clip((mid[s:] - s) / r, 0.0, 1.0)
            sp[s:] = a["from_ka"] + (a["to_ka"] - a["from_ka"]) * frac
            cur[s:] = sp[s:]
        elif it.label == "load_shedding":
            m = _shed_slots(it)
            cur[s : s + m] = a["fraction"] * sp[s : s + m]
            sp[s : s + m] = cur[s : s + m]
        elif it.label == "power_outage":
            off = int(a["off"])
            cur[s : s + off] = 0.0
            cur[s + off] = 0.5 * sp[s + off]  # restart ramp
            boost[s + off : e] = 1.0
        elif it.label == "bath_temperature_excursion":
            dv[s:e] = a["dv"]
            dv[s] = dv[e - 1] = 0.5 * a["dv"]
        elif it.label == "metal_pad_instability":
            sev[s:e] = a["severity"]
            mhd[s:e] = _cells_of(a["seed"], int(a["cells"]), n)
        elif it.label == "feeder_blockage":
            cells = np.flatnonzero(_cells_of(a["seed"], int(a["cells"]), n))
            onset = np.random.default_rng(int(a["seed"]) + 1).integers(s, s + max(1, (e - s) // 2), size=cells.size)
            for c, o in zip(cells, onset):
                eff[o:e, c] = a["efficiency"]
    return _Inputs(sp, cur, dv, sev, mhd, eff, boost)


def _anode_schedule(params: SmelterParams) -> tuple[np.ndarray, np.ndarray]:
    """(day offset o_ik in [0, life), time of day in h) of every anode pair (cells x pairs).

    Pair k of cell i is set on days n with (n - o_ik) mod 28 == 0, during the
    anode-setting round. Within a cell the pairs are spread by 1.4 days,
    between cells by 11 days (coprime with 28): ~71 pairs per day.
    """
    n_pairs = params.n_anodes // 2
    life = int(round(params.anode_life_d))
    i = np.arange(params.n_cells)[:, None]
    k = np.arange(n_pairs)[None, :]
    offset = (np.floor(k * life / n_pairs) + 11 * i) % life
    frac = ((i * n_pairs + k) * 0.6180339887498949) % 1.0
    hour = (ANODE_ROUND[0] + frac * (ANODE_ROUND[1] - ANODE_ROUND[0])) * _H
    return offset, hour


def _anode_pairs_set(day_no: int, params: SmelterParams) -> int:
    offset, _ = _anode_schedule(params)
    return int(np.sum((day_no - offset) % round(params.anode_life_d) == 0))


def _anode_state(t_h: np.ndarray, params: SmelterParams):
    """Per step (hours since epoch, interval midpoints) and cell: active-area fraction, mean carbon height
    weighted by current share, and the section-mean heat drawn by new anodes (kW per cell).

    Only anodes set in the last ``_RECENT_D`` days still pick up current or draw heat (exp(-96 h/8 h) ~ 6e-6);
    the carbon height of all anodes is linear in their age, so the mean age of a cell's anodes follows from
    the setting times of its pairs: each setting moves that pair's setting time forward by one anode life.
    """
    p = params
    offset, hour = _anode_schedule(p)
    life = round(p.anode_life_d)
    n_pairs = offset.shape[1]
    t_end = float(t_h[-1])
    day_end = math.floor(t_end / 24.0)
    last = day_end - (day_end - offset) % life  # last setting day <= day_end, per (cell, pair)
    ts = last * 24.0 + hour
    ts = np.where(ts > t_end, ts - 24.0 * life, ts)  # latest setting time <= t_end, h
    recent = np.sort(ts, axis=1)[:, -_RECENT_PAIRS:]  # (cells, E): the most recent settings of each cell
    if np.any(recent[:, 0] > t_h[0] - 24.0 * _RECENT_D):
        raise RuntimeError("anode schedule denser than the recent-settings window")  # cannot happen (1.4 d apart)
    # exp(-(t - ts)/tau) = exp(-(t - t0)/tau) exp((ts - t0)/tau): cumulative sums over each cell's settings.
    t0 = float(t_h[0])
    cells = np.arange(offset.shape[0])[None, :]
    n_done = (t_h[:, None, None] >= recent[None]).sum(axis=2)  # (steps, cells) settings already made

    def decayed(tau):
        w = np.exp((recent - t0) / tau)
        cum_w = np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(w, axis=1)], axis=1)
        cum_tw = np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(recent * w, axis=1)], axis=1)
        decay = np.exp(-(t_h - t0) / tau)[:, None]
        sum_e = decay * cum_w[cells, n_done]  # sum of exp(-age/tau) over set anodes
        sum_age_e = decay * (t_h[:, None] * cum_w[cells, n_done] - cum_tw[cells, n_done])  # sum of age exp(-age/tau)
        return sum_e, sum_age_e

    pick, pick_age = decayed(p.anode_pickup_h)
    heat_e = pick if p.anode_heatup_h == p.anode_pickup_h else decayed(p.anode_heatup_h)[0]
    share_sum = n_pairs - pick
    v_burn = (p.anode_height_new_m - p.anode_butt_m) / (24.0 * p.anode_life_d)
    future = recent.shape[1] - n_done
    sum_age = n_pairs * t_h[:, None] - (ts.sum(axis=1)[None] - 24.0 * life * future)
    h_all = n_pairs * p.anode_height_new_m - v_burn * sum_age
    h_new_weighted = p.anode_height_new_m * pick - v_burn * pick_age
    mean_h = (h_all - h_new_weighted) / share_sum
    heat = 2.0 * p.anode_heat_kj / (p.anode_heatup_h * 3600.0) * heat_e.mean(axis=1)
    return np.maximum(share_sum / n_pairs, 0.5), mean_h, heat


def _metal_height(t_h: np.ndarray, params: SmelterParams) -> np.ndarray:
    """Metal-pad height (cm) per step and cell: tapping every ``tap_interval_d`` days in the tapping round."""
    p = params
    i = np.arange(p.n_cells)
    hour = (TAP_ROUND[0] + ((i * 0.3819660112501051) % 1.0) * (TAP_ROUND[1] - TAP_ROUND[0])) * _H
    per = p.tap_interval_d
    day = np.floor(t_h / 24.0)[:, None]
    last = day - (day + i[None]) % per
    tap = last * 24.0 + hour[None]
    tap = np.where(tap > t_h[:, None], tap - 24.0 * per, tap)
    rise = faraday_aluminium_kg_h(p.nominal_current_ka, p.ce_ref) / (p.metal_density_kg_m3 * p.cathode_area_m2) * 100
    return p.metal_height_after_tap_cm + rise * (t_h[:, None] - tap)


def _smooth(t_h: np.ndarray, seed: int, params: SmelterParams):
    """Slow, smooth functions of absolute time: air temperature (degC), excess-AlF3 wander (wt %) and its
    time derivative (wt %/h), duct-flow factor."""
    ph = historian.derive_rng(seed, PLANT_ID, _STREAM_EVENT, 0).uniform(0.0, 2 * math.pi, 5)
    year = 2 * math.pi * (t_h / 24.0 - 110.0) / 365.2425
    daily = 2 * math.pi * (t_h + 1.0 - 15.0) / 24.0  # warmest at 15:00 local (UTC+1)
    air = 25.0 + 8.0 * np.sin(year) + 3.0 * np.cos(daily) + 0.8 * np.sin(2 * math.pi * t_h / 77.0 + ph[0])
    w1, w2 = 2 * math.pi / (11.0 * 24.0), 2 * math.pi / (4.3 * 24.0)
    a1, a2 = params.alf3_wander_wt
    alf3 = a1 * np.sin(w1 * t_h + ph[1]) + a2 * np.sin(w2 * t_h + ph[2])
    dalf3 = a1 * w1 * np.cos(w1 * t_h + ph[1]) + a2 * w2 * np.cos(w2 * t_h + ph[2])
    duct = 1.0 + 0.015 * np.sin(2 * math.pi * t_h / 31.0 + ph[3]) + 0.01 * np.sin(2 * math.pi * t_h / 170.0 + ph[4])
    return air, alf3, dalf3, duct


def _feed_cycle(t_h: np.ndarray, params: SmelterParams) -> np.ndarray:
    """Point-feeder tracking target (wt %) per time and cell: slow underfeed ramp down, fast overfeed up."""
    p = params
    phase = (np.arange(p.n_cells) * 0.7548776662466927) % 1.0
    x = (np.asarray(t_h)[..., None] / p.alumina_cycle_h + phase) % 1.0
    uf = p.underfeed_fraction
    span = p.alumina_high_wt - p.alumina_low_wt
    return np.where(x < uf, p.alumina_high_wt - span * x / uf, p.alumina_low_wt + span * (x - uf) / (1.0 - uf))


# --------------------------------------------------------------------------
# Section simulator
# --------------------------------------------------------------------------

_F_OVER_R = FARADAY / GAS_CONSTANT


def _resistance_table(current_ka: np.ndarray, params: SmelterParams) -> np.ndarray:
    """Amperage-resistance table (:func:`heat_balance_resistance`) within the pot-control target window."""
    return np.clip(heat_balance_resistance(current_ka, params), *_RESISTANCE_LIMITS_UOHM)


def _simulate_day(seed: int, day_no: int, params: SmelterParams) -> tuple[pd.DataFrame, list[Episode]]:
    """Simulate UTC day ``day_no`` with the previous day as pre-roll; returns the tag frame and episodes.

    Step = 15 min. Per step: pot control sets each cell's ACD for its resistance target (at the mean
    tracking-cycle alumina, as the controller does not chase the cycle), current efficiency, dead-beat
    point feeding towards the tracking cycle with Fickian dissolution, anode effects (mass-transfer limit
    or spontaneous), cell voltages (same equations as :func:`cell_voltage_breakdown`, unrolled for
    speed), the section heat balance (:func:`bath_heat_step`) and the sidewall conduction (:class:`WallModel`).
    """
    p = params
    n = p.n_cells
    pre = _PREROLL_STEPS
    days = range(day_no - (-(-pre // SLOTS_PER_DAY)), day_no + 1)
    steps = pre + SLOTS_PER_DAY
    inp = _Inputs.concat([_day_inputs(seed, d, p) for d in days]).tail(steps)
    t_start = day_no * 24.0 + (np.arange(steps) - pre) * _H  # step start, h since epoch
    t_mid = t_start + 0.5 * _H
    age = float(p.cell_age_days(day_no * 86400.0))
    air, alf3_w, dalf3, duct_f = _smooth(t_mid, seed, p)
    alf3 = p.alf3_target_wt + alf3_w
    area, height, anode_heat = _anode_state(t_mid, p)
    metal = _metal_height(t_start, p)
    target = _feed_cycle(t_start + _H, p)  # feed-control target at the end of each step
    cur = inp.current
    on_all = cur > 0.05 * p.nominal_current_ka
    r_table = _resistance_table(np.where(on_all, cur, inp.current_sp), p)

    draws = [historian.derive_rng(seed, PLANT_ID, _STREAM_AE, d) for d in days]
    u_ae = np.concatenate([r.random((SLOTS_PER_DAY, n)) for r in draws])[-steps:]
    z_dur = np.concatenate([r.standard_normal((SLOTS_PER_DAY, n)) for r in draws])[-steps:]
    noise = np.concatenate(
        [historian.derive_rng(seed, PLANT_ID, _STREAM_PROCESS, d).standard_normal((SLOTS_PER_DAY, n)) for d in days]
    )[-steps:]

    # Step-wise arrays that do not depend on the dynamic state.
    j = cur[:, None] * 1000.0 / (p.anode_area_cm2 * area)  # anode current density per cell, A/cm**2
    jc = cur * 1000.0 / p.cathode_area_cm2
    anode_v = cur[:, None] * 1e-3 * (
        p.anode_fixed_uohm + p.anode_resistivity_uohm_m * height / (p.anode_area_cm2 * 1e-4)
    ) / area
    ohmic = anode_v + (cathode_voltage_drop(age, cur, p) + cur * 1e-3 * p.external_uohm)[:, None]
    ext = cur * 1e-3 * p.external_uohm
    mhd = inp.mhd_sev[:, None] * inp.mhd_cells
    v_target = (p.back_emf_v + cur * r_table * 1e-3 + inp.dv_target)[:, None] + 0.15 * mhd
    c_ref = 0.5 * (p.alumina_low_wt + p.alumina_high_wt)  # the controller's cycle-mean alumina
    jj = j * j
    poly_j = 0.509 + 0.1823 * j - 0.1723 * jj + 0.05504 * jj * j
    d_b = (0.5517 + j) / (1.0 + 2.167 * j)
    g_num = j / p.fanning  # bath conductance factor times kappa
    c_ae = anode_effect_threshold_wt(j, p)
    k_lim = 6.0 * FARADAY * p.mass_transfer_cm_s * p.bath_density_g_cm3 / (100.0 * M_AL2O3)  # j_lim per wt %
    br_ref = bath_ratio(alf3, p.caf2_wt, c_ref)
    dd = np.maximum(c_ref - c_ae, 0.0)
    cov = np.minimum(poly_j + ((0.4322 - 0.3781 * br_ref) / (1.0 + 1.637 * br_ref))[:, None]
                     + (0.431 - 0.1437 * dd) / (1.0 + 7.353 * dd), 0.97)
    bub_ref = g_num * d_b * cov / (1.0 - cov)  # / kappa
    asinh_ref = np.arcsinh(0.5 * j / anode_exchange_current_density(c_ref, p))
    log_ca_ref = -np.log1p(-np.minimum(j / (k_lim * c_ref), 0.999))
    asinh_c = np.arcsinh(0.5 * jc / p.cathode_j0)
    log_jc = np.log(np.maximum(jc, 1e-6) / 0.257)
    ce_base = p.ce_j * np.log(np.maximum(j.mean(axis=1), 1e-3) / p.ce_j_ref)
    ce_mhd = 0.06 * mhd
    noise_v = 0.12 * mhd * noise
    ae_dur = np.minimum(np.exp(math.log(p.ae_duration_median_min) + p.ae_duration_sigma * z_dur), 10.0)
    ae_p = p.ae_rate_per_cell_day / 24.0 * _H  # spontaneous AE probability per step at c = c_AE
    feed_cap = p.feeder_capacity * faraday_aluminium_kg_h(p.nominal_current_ka, p.ce_ref) * _ALUMINA_PER_AL
    c_sat_all = alumina_saturation_wt(alf3, p.caf2_wt, 965.0)  # refreshed with T below
    wall = WallModel.build(p, age, SLOT.total_seconds())
    g_other = p.g_top_kw_k + p.g_bottom_kw_k * (1.0 + p.g_bottom_aging_per_yr * age / 365.25)
    side_kw = p.side_area_m2 / 1000.0
    r_wall = wall.resistance
    lf = p.ledge_max_cm / 100.0
    frt_scale = GAS_CONSTANT / FARADAY

    # Initial state: steady state at the first step's conditions (heat balance incl. the mean anode heat).
    i0 = float(inp.current_sp[0])
    ss = steady_state(i0, p, resistance_uohm=float(r_table[0]), alf3_wt=float(alf3[0]), air_temp_c=float(air[0]),
                      cell_age_d=age)
    temp = ss.bath_temp_c
    tw = wall.steady(ss.side_loss_kw / side_kw, float(air[0]))
    c = _feed_cycle(t_start[:1], p)[0]
    k0 = dissolution_rate_constant(c, c_sat_all[0], ss.superheat_k, p)
    u = faraday_aluminium_kg_h(i0, ss.current_efficiency) * _ALUMINA_PER_AL / k0  # undissolved at steady feeding
    acd = np.full(n, ss.acd_cm)
    cleared = np.zeros(n, dtype=bool)
    recovering = False  # after an outage the pot control runs at its heat limit until the superheat is back

    names = ("temp", "tliq", "ledge", "shell", "q_side", "heat_loss", "v_mean", "ce", "c_mean")
    rec = {name: np.empty(steps) for name in names}
    rows = {name: np.zeros((steps, n)) for name in ("acd", "v", "ae", "dur", "feed", "prod", "ce", "c")}
    # Per-step scalars as Python floats (cheaper than numpy scalars in the loop).
    cur_l, on_l, x_l, air_l = cur.tolist(), on_all.tolist(), alf3.tolist(), air.tolist()
    heat_l, boost_l, brr_l = anode_heat.tolist(), (inp.heat_boost > 0).tolist(), br_ref.tolist()
    logjc_l, asinhc_l, ext_l = log_jc.tolist(), asinh_c.tolist(), ext.tolist()
    for k in range(steps):
        on, x, cur_k, air_k = on_l[k], x_l[k], cur_l[k], air_l[k]
        c_mean = float(np.add.reduce(c)) / n
        t_liq = float(liquidus_temperature(x, p.caf2_wt, c_mean))
        sh = temp - t_liq
        t_k = temp + ZERO_C
        rt_f = frt_scale * t_k
        c_sat = float(alumina_saturation_wt(x, p.caf2_wt, temp))
        e_rev_0 = 1.896 - 0.000572 * t_k
        kap_0 = 1.977 - 0.0131 * x - 0.0060 * p.caf2_wt - 1204.3 / t_k
        rec["temp"][k], rec["tliq"][k], rec["c_mean"][k] = temp, t_liq, c_mean
        rows["c"][k] = c
        if on:
            # Pot control: ACD that meets the resistance target at the cycle-mean alumina.
            r = min(max(c_ref / c_sat, 0.02), 1.0)
            act = r * (-0.03791 + r * (2.364 + r * (-2.194 + 0.8686 * r)))
            kappa_ref = math.exp(kap_0 - 0.0200 * c_ref)
            eta_cc = max(2.0 * rt_f / 3.0 * (1.375 - 0.25 * brr_l[k]) * logjc_l[k], 0.0)
            rest0 = (e_rev_0 - rt_f / 6.0 * math.log(act) + rt_f / p.cathode_alpha * asinhc_l[k] + eta_cc)
            rest = (rt_f / p.anode_alpha) * asinh_ref[k] + (0.5 * rt_f) * log_ca_ref[k] + bub_ref[k] / kappa_ref
            rest += ohmic[k] + rest0
            acd = d_b[k] + (v_target[k] - rest) * (kappa_ref / g_num[k])
            acd = np.minimum(np.maximum(acd, p.acd_min_cm), p.acd_max_cm)
            recovering = boost_l[k] or (recovering and sh < _RECOVERED_SUPERHEAT_K)
            if recovering:
                acd = np.full(n, p.acd_max_cm)
        ce = (p.ce_ref - p.ce_dt * (temp - p.ce_t_ref_c) + p.ce_alf3 * (x - p.alf3_target_wt) + ce_base[k]) + (
            p.ce_acd * np.log(acd / p.ce_acd_ref_cm) - ce_mhd[k])
        ce = np.minimum(np.maximum(ce, 0.80), 0.965)
        prod = (KG_AL_PER_KAH * cur_k) * ce  # kg/h per cell
        cons = prod * _ALUMINA_PER_AL
        # Point feeding (dead-beat on dissolved + undissolved alumina) and Fickian dissolution.
        kd = dissolution_rate_constant(c, c_sat, sh, p)
        e = np.exp(-kd * _H)
        if on:
            denom = np.maximum(_H - (1.0 - e) / np.maximum(kd, 1e-9), 1e-6)
            cmd = (p.bath_mass_kg / 100.0 * (target[k] - c) + cons * _H - u * (1.0 - e)) / denom
            cmd = np.minimum(np.maximum(cmd, 0.0), feed_cap)
        else:
            cmd = np.zeros(n)
        c_new, u, _ = alumina_step(c, u, cmd * np.where(cleared, 1.0, inp.block_eff[k]), cons, kd, _H, p)
        if on:
            cm = np.maximum(0.5 * (c + c_new), 0.3)
            r = np.minimum(np.maximum(cm * (1.0 / c_sat), 0.02), 1.0)
            act = r * (-0.03791 + r * (2.364 + r * (-2.194 + 0.8686 * r)))
            br = bath_ratio(x, p.caf2_wt, cm)
            jk = j[k]
            eta_a = (rt_f / p.anode_alpha) * np.arcsinh(0.5 * jk / (p.anode_j0_coeff * cm**p.anode_j0_exp))
            eta_ca = (-0.5 * rt_f) * np.log1p(-np.minimum(jk / (k_lim * cm), 0.999))
            eta_cc = np.maximum((2.0 * rt_f / 3.0 * logjc_l[k]) * (1.375 - 0.25 * br), 0.0)
            dd = np.maximum(cm - c_ae[k], 0.0)
            cov = np.minimum(poly_j[k] + (0.4322 - 0.3781 * br) / (1.0 + 1.637 * br)
                             + (0.431 - 0.1437 * dd) / (1.0 + 7.353 * dd), 0.97)
            g = g_num[k] / np.exp(kap_0 - 0.0200 * cm)
            v = (e_rev_0 + rt_f / p.cathode_alpha * asinhc_l[k]) - (rt_f / 6.0) * np.log(act) + eta_a + eta_ca + eta_cc
            v += g * (d_b[k] * cov / (1.0 - cov) + np.maximum(acd - d_b[k], 0.0)) + ohmic[k] + noise_v[k]
            # Anode effects: mass-transfer limit reached (forced) or spontaneous (local depletion).
            forced = c_new <= c_ae[k]
            ae = forced | (u_ae[k] < ae_p * np.exp((c_ae[k] - cm) / p.ae_alumina_scale_wt))
            dur = np.where(ae, ae_dur[k] * (1.0 + forced), 0.0)
            v += dur / 15.0 * (p.ae_voltage_v - v)
            c_new = np.where(ae, np.maximum(c_new, target[k]), c_new)  # AE kill routine overfeeds
            cleared |= forced
            ce_sec = float(np.add.reduce(ce)) / n  # production-weighted (all cells carry the same current)
            e_h = float(enthalpy_voltage(ce_sec, temp, p))
            v_mean = float(np.add.reduce(v)) / n
            p_gen = cur_k * (v_mean - ext_l[k] - e_h)
            rows["ae"][k], rows["dur"][k], rows["prod"][k] = ae, dur, prod
        else:
            r = min(max(c_mean / c_sat, 0.02), 1.0)
            act = r * (-0.03791 + r * (2.364 + r * (-2.194 + 0.8686 * r)))
            v_mean = e_rev_0 - rt_f / 6.0 * math.log(act)  # open circuit: back EMF only
            v = v_mean
            ce_sec, p_gen = float("nan"), 0.0
        c = c_new
        # Section heat balance, side flux, wall and ledge.
        q_floor = float(heat_loss_floor_flux(t_liq, air_k, r_wall, p))
        temp_new = bath_heat_step(temp, _H, p_gen - heat_l[k], t_liq, air_k, q_floor, g_other, p)
        hb = p.h_bath_ledge_w_m2k
        q_old = max(hb * max(temp - t_liq, 0.0), q_floor)  # = side_flux(temp, ...)
        q_side = max(hb * max(temp_new - t_liq, 0.0), q_floor)
        tw = wall.m @ tw + wall.n_q * q_side + wall.n_a * air_k
        rec["ledge"][k] = lf if temp < t_liq else min(max(p.k_ledge_w_mk * (t_liq - wall.inner_face(tw, q_old))
                                                          / q_old, 0.0), lf)
        rec["shell"][k] = wall.shell_surface(tw, air_k)
        rec["q_side"][k] = 0.5 * (q_side + q_old)
        rec["heat_loss"][k] = side_kw * rec["q_side"][k] + g_other * (0.5 * (temp + temp_new) - air_k)
        temp = temp_new
        rec["v_mean"][k], rec["ce"][k] = v_mean, ce_sec
        rows["v"][k], rows["acd"][k], rows["feed"][k], rows["ce"][k] = v, acd, cmd, ce
    rec["r_target"] = r_table
    rec["acd_mean"], rec["acd_p1"] = rows["acd"].mean(axis=1), rows["acd"][:, 0]
    rec["v_p1"], rec["c_p1"] = rows["v"][:, 0], rows["c"][:, 0]
    rec["prod"] = rows["prod"].sum(axis=1)
    rec["ae_n"], rec["ae_min"] = rows["ae"].sum(axis=1), rows["dur"].sum(axis=1)
    rec["feed"] = rows["feed"].sum(axis=1) / (1.0 - p.alumina_loss_frac)
    rec["carbon"] = np.sum(rows["prod"] * carbon_consumption_t_per_t(rows["ce"], p), axis=1)  # kg C/h

    sel = slice(pre, steps)
    frame = _tag_frame(rec, inp, sel, air, alf3, dalf3, duct_f, metal, age, p)
    frame.index = pd.date_range(EPOCH + day_no * _DAY, periods=SLOTS_PER_DAY, freq=SLOT, tz="UTC")
    episodes = _outcomes(TYPE.day_episodes(seed, day_no, p), frame)
    return frame, episodes


def _tag_frame(rec, inp: _Inputs, sel: slice, air, alf3, dalf3, duct_f, metal, age, p: SmelterParams) -> pd.DataFrame:
    n = p.n_cells
    r = {k: v[sel] for k, v in rec.items()}
    cur = inp.current[sel]
    on = cur > 0.05 * p.nominal_current_ka
    v_sec = r["v_mean"] * n
    p_dc = v_sec * cur  # kW
    prod_t = r["prod"] / 1000.0  # t/h
    aem = r["ae_min"] / (n * _H / 24.0)  # AE-min per cell-day in the interval
    cf4, c2f6 = pfc_slope_method(aem, prod_t, p)
    anode_t = r["carbon"] / 1000.0 / (1.0 - (p.anode_sulfur_wt + p.anode_ash_wt) / 100.0)
    x = alf3[sel]
    feed_t = r["feed"] / 1000.0
    na2o_kg = prod_t * 1000.0 * _ALUMINA_PER_AL / (1.0 - p.alumina_loss_frac) * p.na2o_wt / 100.0
    bath_alf3 = n * p.bath_mass_kg * dalf3[sel] / 100.0  # AlF3 that changes the bath acidity
    alf3_kg = na2o_kg * _ALF3_PER_NA2O + p.fluoride_loss_kg_alf3_per_t * prod_t + bath_alf3
    duct = p.duct_flow_nm3_h_per_cell * n * duct_f[sel]
    co2_vol = 100.0 * (r["carbon"] / M_C) / (duct / 22.414) + 0.04
    hf_kg = (n * p.hf_kg_per_t * KG_AL_PER_KAH * p.nominal_current_ka * p.ce_ref / 1000.0
             * np.exp(p.hf_dt_per_k * (r["temp"] - 965.0)) * (1.0 + p.hf_alf3_per_wt * (x - p.alf3_target_wt))
             * (0.3 + 0.7 * cur / p.nominal_current_ka))
    with np.errstate(invalid="ignore", divide="ignore"):
        sec = np.where(on, r["v_mean"] / (KG_AL_PER_KAH * r["ce"]), np.nan)
    cols = {
        "SMT.II101": cur,
        "SMT.IC101.SP": inp.current_sp[sel],
        "SMT.EI101": v_sec,
        "SMT.JI101": p_dc,
        "SMT.JI100": p_dc / p.rectifier_efficiency + p.auxiliary_kw,
        "SMT.EI102": r["v_mean"],
        "SMT.RC102.SP": r["r_target"],
        "SMT.ZY103": r["acd_mean"],
        "SMT.EI104": cathode_voltage_drop(age, cur, p),
        "SMT.LI105": metal[sel].mean(axis=1),
        "SMT.TI201": r["temp"],
        "SMT.TY202": r["tliq"],
        "SMT.TY203": r["temp"] - r["tliq"],
        "SMT.AI204": x,
        "SMT.AY205": bath_ratio(x, p.caf2_wt, r["c_mean"]),
        "SMT.AY206": r["c_mean"],
        "SMT.NY301": r["ae_n"] / _H,
        "SMT.NY302": r["ae_min"] / _H,
        "SMT.FY303": cf4,
        "SMT.FY304": c2f6,
        "SMT.FY401": prod_t,
        "SMT.EY402": np.where(on, 100.0 * r["ce"], np.nan),
        "SMT.EY403": sec,
        "SMT.FY501": feed_t,
        "SMT.FY502": np.maximum(alf3_kg, 0.0),
        "SMT.FY503": anode_t,
        "SMT.FY504": process_co2_t_per_t(anode_t, p),
        "SMT.FI505": duct,
        "SMT.AI506": co2_vol,
        "SMT.AI507": hf_kg * 1e6 / duct,
        "SMT.TI601": r["shell"],
        "SMT.ZY602": 100.0 * r["ledge"],
        "SMT.QY603": n * p.side_area_m2 * r["q_side"] / 1000.0,
        "SMT.QY604": n * r["heat_loss"],
        "SMT.TI605": air[sel],
        "SMT.P001.EI": r["v_p1"],
        "SMT.P001.ZY": r["acd_p1"],
        "SMT.P001.AY": r["c_p1"],
    }
    return pd.DataFrame({t.tag: np.asarray(cols[t.tag], dtype=float) for t in TAGS})


def _outcomes(episodes: list[Episode], frame: pd.DataFrame) -> list[Episode]:
    """Append the simulated outcome to the details of abnormal and extreme episodes."""
    out = []
    for ep in episodes:
        if ep.category in ("abnormal", "extreme") and ep.tag is None:
            w = frame.loc[(frame.index >= ep.start) & (frame.index < ep.end)]
            n_ae = int(round(float((w["SMT.NY301"] * _H).sum())))
            ae_min = float((w["SMT.NY302"] * _H).sum())
            sh = w["SMT.TY203"]
            ep = replace(ep, detail=f"{ep.detail}; outcome: {n_ae} anode effects ({ae_min:.1f} AE-min), bath "
                                    f"{w['SMT.TI201'].min():.1f}-{w['SMT.TI201'].max():.1f} degC, superheat "
                                    f"{sh.min():.1f}-{sh.max():.1f} K")
        out.append(ep)
    return out


#: The smelter on the shared simulation engine (:mod:`models.engine`): the day plan, the
#: episode details and the day simulator are its own, the rest is the engine's.
TYPE = PlantType(
    info=INFO,
    tags=TAGS,
    default_params=DEFAULT,
    step=SLOT,
    day_items=lambda seed, day_no: _plan(seed, day_no)[1],
    detail=_detail,
    simulate_day=_simulate_day,
    hours_format=".2f",
    drift_format="+.4g",
)

#: Planned episodes tiling ``[start, end)`` (:meth:`models.engine.PlantType.schedule`): each UTC
#: day's plan comes from its 25-day block, on the 15-min grid; category shares are exactly
#: 70/20/8/2 % of time in every aligned block. :func:`simulate_true` appends the outcome (anode
#: effects, bath temperature range ...) to the details of abnormal and extreme episodes.
schedule = TYPE.schedule
#: True values on the 15-min grid and episodes (:meth:`models.engine.PlantType.simulate_true`);
#: each day is simulated with its previous day as pre-roll. CE and specific energy are NaN
#: while the line current is off.
simulate_true = TYPE.simulate_true
#: Historian exports plus ground truth (:meth:`models.engine.PlantType.simulate`).
simulate = TYPE.simulate
