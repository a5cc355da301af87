"""What-if experiments on the CO2 electrolyzer twin (set-point moves from a given state)."""

from __future__ import annotations

import datetime as dt
import math
import warnings

import numpy as np
import pandas as pd

from models.co2_electrolyzer.physics import CO2ElectrolyzerParams, DEFAULT, F, M_CO2, NOMINAL, OperatingPoint, V_M_NORMAL, Z, _Inputs, _respond

# --------------------------------------------------------------------------
# What-if experiments
# --------------------------------------------------------------------------

#: Largest CO2 feed flow the mass-flow controller delivers, Nm3/h (FIC201 range).
CO2_FLOW_MAX_NM3_H = 60.0
#: Rectifier ramp rate used in what-if runs, A/min (operating procedure; assumption).
CURRENT_RAMP_A_PER_MIN = 50.0
_WHAT_IF_MAX_H = 24.0 * 31


def _check_finite(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _validate_op(current_a, co2_concentration_pct, co2_flow_nm3_h, p: CO2ElectrolyzerParams, what: str):
    cur = _check_finite(f"{what}current_a", current_a)
    conc = _check_finite(f"{what}co2_concentration_pct", co2_concentration_pct)
    flow = _check_finite(f"{what}co2_flow_nm3_h", co2_flow_nm3_h)
    if cur < 0:
        raise ValueError(f"{what}current_a must be >= 0 A, got {cur:g} A")
    if cur > p.rated_current_a:
        raise ValueError(
            f"{what}current_a {cur:g} A exceeds the stack rating {p.rated_current_a:g} A "
            f"({p.rated_current_density_ma_cm2:g} mA/cm2 on {p.cell_area_cm2:g} cm2 cells)"
        )
    if not 0.0 < conc <= 100.0:
        raise ValueError(f"{what}co2_concentration_pct must lie in (0, 100] %, got {conc:g}")
    if not 0.0 < flow <= CO2_FLOW_MAX_NM3_H:
        raise ValueError(f"{what}co2_flow_nm3_h must lie in (0, {CO2_FLOW_MAX_NM3_H:g}] Nm3/h, got {flow:g}")
    return cur, conc, flow


def what_if(
    current_a: float,
    co2_concentration_pct: float,
    co2_flow_nm3_h: float,
    duration_h: float,
    *,
    start: dt.datetime | None = None,
    params: CO2ElectrolyzerParams | None = None,
    step: dt.timedelta = dt.timedelta(minutes=1),
    initial: OperatingPoint = NOMINAL,
    inlet_temp_c: float | None = None,
    electrode_age_h: float = 0.0,
) -> pd.DataFrame:
    """Response of the stack to new operator set points held for ``duration_h``.

    The run starts at the steady state of ``initial`` (default :data:`NOMINAL`); at t = 0 the CO2
    flow steps to ``co2_flow_nm3_h``, the blend moves to ``co2_concentration_pct`` (3-min mixing
    lag) and the current ramps at 50 A/min to ``current_a``; stack temperature, loop formate
    concentration and pH follow with their first-order dynamics. The last rows equal
    :func:`steady_state` at the new set points.

    Parameters
    ----------
    current_a : float
        Stack current, A (0 .. rated current).
    co2_concentration_pct : float
        CO2 in the feed gas, % (0 < x <= 100).
    co2_flow_nm3_h : float
        Cathode feed gas flow, Nm3/h (0 < x <= 60).
    duration_h : float
        Length of the experiment, h (0 < x <= 744).
    start : datetime, optional
        tz-aware UTC time of the step; the index is then a UTC ``DatetimeIndex``, otherwise a
        ``TimedeltaIndex`` of elapsed time.
    params : CO2ElectrolyzerParams, optional
    step : timedelta
        Output and integration step (default 1 min; at most ``duration_h``).
    initial : OperatingPoint
        Operating point before the step.
    inlet_temp_c : float, optional
        Catholyte inlet temperature after the step (default: ``initial.inlet_temp_c``).
    electrode_age_h : float
        Electrode age at the start (degradation state); it advances with time.

    Returns
    -------
    DataFrame
        One row per step from 0 to ``duration_h`` inclusive: ``elapsed_h``, ``current_a``,
        ``current_density_ma_cm2``, ``co2_flow_nm3_h``, ``co2_concentration_pct``,
        ``faradaic_efficiency_pct``, ``cell_voltage_v``, ``stack_voltage_v``, ``cell_temp_c``,
        ``formic_acid_kg_h`` (100 % HCOOH), ``formic_acid_cum_kg``, ``h2_outlet_pct``,
        ``co2_outlet_pct``, ``co2_conversion_pct``, ``co2_vented_kg_h``, ``stack_power_kw``,
        ``energy_kwh`` (cumulative stack DC energy), ``specific_energy_kwh_kg`` (instantaneous),
        ``formate_g_l``, ``ph``, ``co2_stoich_ratio`` (CO2 fed / CO2 needed at FE = 1) and
        ``co2_starved`` (ratio < 1: the feed cannot sustain the current as formate).

    Raises
    ------
    ValueError
        Current negative or above the stack rating, concentration outside (0, 100] %, flow
        outside (0, 60] Nm3/h, non-positive or too long duration, bad step or start.

    Warns
    -----
    UserWarning
        If the new set points starve the stack of CO2 (``co2_starved``); the run still completes.
    """
    p = DEFAULT if params is None else params
    cur, conc, flow = _validate_op(current_a, co2_concentration_pct, co2_flow_nm3_h, p, "")
    cur0, conc0, flow0 = _validate_op(initial.current_a, initial.co2_concentration_pct, initial.co2_flow_nm3_h, p,
                                      "initial.")
    dur = _check_finite("duration_h", duration_h)
    if not 0.0 < dur <= _WHAT_IF_MAX_H:
        raise ValueError(f"duration_h must lie in (0, {_WHAT_IF_MAX_H:g}] h, got {dur:g}")
    if not isinstance(step, dt.timedelta) or step <= dt.timedelta(0) or step > dt.timedelta(hours=dur):
        raise ValueError(f"step must be a positive timedelta no longer than duration_h, got {step!r}")
    if start is not None and (start.tzinfo is None or start.utcoffset() != dt.timedelta(0)):
        raise ValueError(f"start must be a tz-aware UTC datetime, got {start!r}")
    t0 = _check_finite("initial.inlet_temp_c", initial.inlet_temp_c)
    t1 = t0 if inlet_temp_c is None else _check_finite("inlet_temp_c", inlet_temp_c)
    for name, value in (("initial.inlet_temp_c", t0), ("inlet_temp_c", t1)):
        if not 5.0 <= value <= 80.0:
            raise ValueError(f"{name} must lie in [5, 80] degC (catholyte loop design range), got {value:g}")
    age0 = _check_finite("electrode_age_h", electrode_age_h)
    if age0 < 0:
        raise ValueError(f"electrode_age_h must be >= 0, got {age0:g}")

    dt_min = step.total_seconds() / 60.0
    n_steps = int(math.floor(dur * 60.0 / dt_min + 1e-9))
    n = n_steps + 2  # row 0 = state before the step (dropped), rows 1.. = t = 0 .. duration
    elapsed_min = (np.arange(n) - 1) * dt_min
    ramp = np.clip(elapsed_min * CURRENT_RAMP_A_PER_MIN, 0.0, None)
    current = np.where(elapsed_min < 0, cur0, np.where(cur >= cur0, np.minimum(cur0 + ramp, cur),
                                                       np.maximum(cur0 - ramp, cur)))
    before = elapsed_min < 0
    inp = _Inputs(
        current_a=current,
        co2_flow_nm3_h=np.where(before, flow0, flow),
        co2_pct_target=np.where(before, conc0, conc),
        inlet_temp_c=np.where(before, t0, t1),
        catholyte_flow_m3_h=np.full(n, p.catholyte_flow_m3_h),
        bleed_l_h=p.bleed_l_per_ah * current,
        age_h=age0 + np.maximum(elapsed_min, 0.0) / 60.0,
        jlim_factor=np.ones(n),
        asr_extra=np.zeros(n),
        dp_factor=np.ones(n),
        active_cells=np.full(n, float(p.n_cells)),
        hot_spot_k=np.zeros(n),
        pump_on=np.ones(n),
    )
    r = {k: np.asarray(v)[1:] for k, v in _respond(inp, p, dt_min).items()}
    to_nm3_h = V_M_NORMAL * 3600.0
    out_gas = r["co2_out_mol_s"] + r["h2_mol_s"] + r["inert_mol_s"]
    safe_gas = np.where(out_gas > 0, out_gas, 1.0)
    need = p.n_cells * r["current_a"] / (Z * F)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(need > 0, r["co2_in_mol_s"] / np.where(need > 0, need, 1.0), np.inf)
        se = np.where(r["prod_kg_h"] > 0, r["power_kw"] / np.where(r["prod_kg_h"] > 0, r["prod_kg_h"], 1.0), np.nan)
    hours = elapsed_min[1:] / 60.0
    dt_h = dt_min / 60.0

    def cumulative(rate: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * dt_h)])

    starved = ratio < 1.0
    if starved.any():
        warnings.warn(
            f"CO2 feed {conc:g} % x {flow:g} Nm3/h supplies only {float(ratio[-1]):.2f} x the CO2 that "
            f"{cur:g} A would convert at 100 % FE: the stack is CO2-starved, excess current makes H2",
            UserWarning,
            stacklevel=2,
        )
    frame = pd.DataFrame(
        {
            "elapsed_h": hours,
            "current_a": r["current_a"],
            "current_density_ma_cm2": r["j"],
            "co2_flow_nm3_h": r["co2_flow"],
            "co2_concentration_pct": r["co2_pct"],
            "faradaic_efficiency_pct": 100.0 * r["fe"],
            "cell_voltage_v": r["v_cell_true"],
            "stack_voltage_v": r["v_stack"],
            "cell_temp_c": r["cell_temp_c"],
            "formic_acid_kg_h": r["prod_kg_h"],
            "formic_acid_cum_kg": cumulative(r["prod_kg_h"]),
            "h2_outlet_pct": np.where(out_gas > 0, 100.0 * r["h2_mol_s"] / safe_gas, 0.0),
            "co2_outlet_pct": np.where(out_gas > 0, 100.0 * r["co2_out_mol_s"] / safe_gas, 0.0),
            "co2_conversion_pct": 100.0 * (1.0 - r["co2_out_mol_s"] / r["co2_in_mol_s"]),
            "co2_vented_kg_h": r["co2_out_mol_s"] * M_CO2 * 3600.0,
            "outlet_gas_nm3_h": out_gas * to_nm3_h,
            "stack_power_kw": r["power_kw"],
            "energy_kwh": cumulative(r["power_kw"]),
            "specific_energy_kwh_kg": se,
            "formate_g_l": r["formate_g_l"],
            "ph": r["ph"],
            "co2_stoich_ratio": ratio,
            "co2_starved": starved,
        }
    )
    if start is None:
        frame.index = pd.timedelta_range(start=pd.Timedelta(0), periods=len(frame), freq=step, name="elapsed")
    else:
        frame.index = pd.date_range(pd.Timestamp(start).tz_convert("UTC"), periods=len(frame), freq=step, name="ts")
    return frame
