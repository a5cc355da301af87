"""Predictive maintenance: remaining useful life (RUL) of each plant's degrading assets.

    >>> import datetime as dt, numpy as np, pandas as pd
    >>> from models.maintenance import DEGRADATIONS, remaining_useful_life
    >>> deg = DEGRADATIONS["co2_electrolyzer"][0]              # FE plateau of the aged cathode
    >>> days = pd.date_range("2025-03-01", periods=20).date
    >>> hist = pd.DataFrame({"day": days, "value": 0.92 - 0.00088 * np.arange(20), "std_error": 0.001})
    >>> r = remaining_useful_life(hist, deg, as_of=days[-1])
    >>> r["status"], round(r["rul_p50_days"])                  # 0.9033 now, -0.00088/d, threshold 0.89
    ('plan_maintenance', 15)

What degrades, and how a real plant sees it
-------------------------------------------
:data:`DEGRADATIONS` declares per plant the asset, its **health indicator** (a calibrated parameter
from ``gold.fct_model_parameters`` or an indicator computed from hourly tag means in
``gold.fct_tag_hourly`` — never the simulator's internals), the unit, which direction is bad, the
maintenance threshold with its source, and what maintenance resets. :func:`health_indicators`
builds the daily history of those indicators from the two gold tables.

* **cstr** — reactor jacket: calibrated ``UA`` (jacket fouling), threshold 0.85 x design (the
  calibration band's cleaning criterion). The twin fouls only in abnormal episodes of 1-6 h that
  the standby exchanger ends; those hours are not calibrated on, so no trend is expected.
* **biorefinery** — beer-column reboiler: UA = duty / (steam-chest - bottoms temperature) from the
  DCS duty QI502 and the temperatures TI504, TI503. Fouling is not a calibrated parameter (the
  calibration covers hydrolysis and fermentation), so the indicator is data-derived. Threshold:
  the UA at which the design duty needs the whole available steam-chest temperature difference
  (design duty / dT_max = UA_clean 20 K / 32.9 K); below it the column is duty-limited and
  ethanol slips to the stillage. Fouling resistance follows Kern & Seaton (1959, Brit. Chem. Eng. 4, 258),
  R_f = R* (1 - exp(-t/tau)), so the trend is a saturating curve fitted on 1/UA.
* **co2_electrolyzer** — cathode GDEs: the calibrated ``fe_max`` and ``asr_ohm_cm2`` are
  *fresh-electrode* values (the calibration applies the ageing law with the electrode-age tag
  ECR.KY101), so trending them shows only ageing faster than the law. The health indicators are the
  *aged* values at the day's electrode age: FE plateau ``fe_max (1 - fe_decay age)`` and ASR
  ``asr (1 + asr_growth age)``; thresholds are the calibration bands' edges (FE 0.89, ASR 2.5
  ohm cm2). Electrode replacement resets the age. Their trend is estimated from the data; the
  ageing law's slope serves as a prior until a complete earlier cycle is in the history.
* **smelter** — cathode lining: cathode voltage drop SMT.EI104 normalised to the nominal line
  current (rises ~10 mV/yr with sodium and bath penetration), threshold 0.35 V (upper end of the
  typical 0.25-0.35 V); relining resets it. Current efficiency ``ce_ref`` (calibrated), threshold
  the band's low edge 0.93. Both change over years, not within a maintenance cycle.

Method (:func:`remaining_useful_life`)
--------------------------------------
A degradation-path model (Lu & Meeker 1993, Technometrics 35, 161; review: Si, Wang, Hu & Zhou
2011, Eur. J. Oper. Res. 213, 1): the indicator is followed since the last maintenance and its
fitted path is extrapolated to the threshold, with the fit's uncertainty carried into the
distribution of the crossing time.

1. **Last maintenance** — a changepoint: the latest step *back toward design* between the median
   of the three values before and of the (up to) three from a day on that exceeds both 5 robust
   standard deviations of the day-to-day differences (1.4826 MAD) and ``min_reset_step``, placed
   where the two sides deviate least from their medians. Medians make one bad day neither a reset
   nor a missed one. Earlier maintenances split the history into complete cycles.
2. **Path** — weighted least squares in the declared fit space (the indicator, or its reciprocal
   where the physics is linear in it, e.g. a fouling resistance 1/UA): a straight line, or the
   saturating ``y0 + A (1 - exp(-(t - t0)/tau))`` with tau on a log grid within declared bounds and
   its posterior from the marginal likelihood (flat prior in log tau; y0, A integrated out).
   Weights 1/(se_i^2 + s^2): ``se_i`` the calibration's standard error, ``s^2`` the scatter beyond
   it, chosen so that chi^2 = n - p (Paule & Mandel 1982, J. Res. NBS 87, 377). Values averaged
   over a ``window_days`` window (7-day calibration windows) are correlated day to day; the
   covariance is multiplied by ``window_days``, the long-run variance ratio of such a moving average
   (effective sample size n / window_days). One pass drops points more than 4 robust SD off each
   cycle's path.
3. **Earlier cycles** — complete cycles (between two detected maintenances) give a population prior
   for the current one, as in the Bayesian updating of degradation signals (Gebraeel, Lawley, Li &
   Ryan 2005, IIE Trans. 37, 543): the path coefficients (start level and slope or amplitude) get a
   Gaussian prior with the mean of the earlier cycles' estimates and their scatter plus estimation
   covariance plus a floor of 20 % of the mean (cycle-to-cycle variation that few cycles cannot
   show; assumption); the earlier cycles also sharpen the tau posterior. Without an earlier cycle, an
   asset with a known ageing law (the electrolyzer's, which the calibration itself applies) gets that
   law's slope as the prior of its slope (+-50 %). With a prior, three values since the maintenance
   suffice for a forecast.
4. **Uncertainty** — ``n_draws`` Monte Carlo draws of the path parameters (and tau) from their
   posterior; each draw's crossing time is solved in closed form. RUL percentiles P10/P50/P90 are
   days from the end of ``as_of``: 0 for a draw already past the threshold, infinite for one that
   never reaches it within ``max_horizon_days`` (trend away, or a saturating path levelling off
   short of it).

The status follows the draws: ``maintenance_due`` when the latest value is past the threshold
(beyond 2 standard errors) or the median draw is; ``no_degradation_trend`` when the median draw never
crosses; ``plan_maintenance`` when P10 falls within the asset's planning lead time; else ``ok``;
``insufficient_data`` with fewer than ``min_points`` values since the last maintenance (3 with a
prior). Times: a daily value is placed at the middle of its day (t = day + 0.5); a maintenance
during the ``as_of`` day shows the next day (daily medians).

Pure functions on DataFrames; no lake I/O. Assumptions that matter: the future path continues the
path since the last maintenance (no change of operating regime); the crossing is that of the
mean path, not of a single noisy reading.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from models import calibration as _cal
from models import co2_electrolyzer as _ecr
from models import smelter as _smt
from models._biorefinery_physics import reboiler_ua_clean
from models.biorefinery import DEFAULT as _BIO

__all__ = [
    "DEGRADATIONS",
    "STATUSES",
    "Degradation",
    "degradation",
    "health_indicators",
    "remaining_useful_life",
]

Direction = Literal["falling", "rising"]
STATUSES = ("ok", "plan_maintenance", "maintenance_due", "insufficient_data", "no_degradation_trend")
_PLAN_TEMPLATE = ("Schedule {action} before {p10_date} (P10 of the time to {indicator} {op} {threshold:.4g}{unit}; "
                  "median {p50_date}).")


@dataclass(frozen=True)
class Degradation:
    """One degradation of one asset, seen through one health indicator.

    Attributes
    ----------
    plant_id, asset : str
        Plant type and the equipment that degrades.
    indicator : str
        Name of the health indicator (as :func:`health_indicators` names it).
    unit : str
        Unit of the indicator.
    direction : {'falling', 'rising'}
        Which way is worse.
    threshold : float
        Maintenance threshold of the indicator.
    source : str
        Where the threshold comes from (standard, design data or a stated assumption).
    action : str
        The maintenance job, as the planner names it.
    resets : str
        What the maintenance restores.
    design_value : float
        As-new value of the indicator.
    basis : str
        Where the indicator comes from (calibrated parameter or historian tags).
    model : {'linear', 'saturating'}
        Shape of the degradation path since the last maintenance.
    fit_space : {'value', 'reciprocal'}
        Space the path is fitted in (reciprocal: e.g. fouling resistance 1/UA).
    window_days : int
        Days each value averages over (7 for calibrated parameters, 1 for daily tag aggregates).
    lead_time_days : float
        Planning lead time: ``plan_maintenance`` when P10 of the RUL falls within it.
    min_points : int
        Fewest values since the last maintenance for a forecast.
    min_reset_step : float
        Smallest step toward design that counts as a maintenance (units of the indicator).
    tau_bounds_days : tuple of float
        Range of the saturating model's time constant.
    max_horizon_days : float
        Crossings later than this count as never.
    law_slope_per_day : float or None
        Slope the asset's known ageing law expects (indicator units per day), used as the prior of a
        linear path's slope when no earlier cycle is in the history; None: no such law.
    law_slope_rel_sd : float
        Relative standard deviation of that prior.
    recommendation : str
        Template of the planning recommendation (fields: action, p10_date, p50_date, indicator, op,
        threshold, unit).
    """

    plant_id: str
    asset: str
    indicator: str
    unit: str
    direction: Direction
    threshold: float
    source: str
    action: str
    resets: str
    design_value: float
    basis: str
    model: Literal["linear", "saturating"] = "linear"
    fit_space: Literal["value", "reciprocal"] = "value"
    window_days: int = 1
    lead_time_days: float = 14.0
    min_points: int = 5
    min_reset_step: float = 0.0
    tau_bounds_days: tuple[float, float] = (1.0, 200.0)
    max_horizon_days: float = 3650.0
    law_slope_per_day: float | None = None
    law_slope_rel_sd: float = 0.5
    recommendation: str = _PLAN_TEMPLATE

    def __post_init__(self) -> None:
        if self.direction not in ("falling", "rising"):
            raise ValueError(f"{self.indicator}: direction must be 'falling' or 'rising', got {self.direction!r}")
        if self.model not in ("linear", "saturating"):
            raise ValueError(f"{self.indicator}: model must be 'linear' or 'saturating', got {self.model!r}")
        if self.fit_space not in ("value", "reciprocal"):
            raise ValueError(f"{self.indicator}: fit_space must be 'value' or 'reciprocal', got {self.fit_space!r}")
        worse = (self.threshold < self.design_value) if self.direction == "falling" \
            else (self.threshold > self.design_value)
        if not worse:
            raise ValueError(f"{self.indicator}: a {self.direction} indicator needs its threshold beyond the design "
                             f"value {self.design_value:g}, got {self.threshold:g}")
        if self.fit_space == "reciprocal" and (self.threshold <= 0 or self.design_value <= 0):
            raise ValueError(f"{self.indicator}: the reciprocal fit space needs positive values")
        if self.law_slope_per_day is not None:
            if self.model != "linear" or self.fit_space != "value":
                raise ValueError(f"{self.indicator}: an ageing-law slope needs a linear path in the value space")
            if (self.law_slope_per_day < 0) != (self.direction == "falling") or self.law_slope_rel_sd <= 0:
                raise ValueError(f"{self.indicator}: the ageing-law slope must point toward the threshold "
                                 f"({self.direction}) with a positive relative SD, got {self.law_slope_per_day:g} "
                                 f"+- {self.law_slope_rel_sd:g}")
        if self.min_points < 3 or self.window_days < 1:
            raise ValueError(f"{self.indicator}: min_points must be >= 3 and window_days >= 1")


# --------------------------------------------------------------------------------------------
# Declared degradations
# --------------------------------------------------------------------------------------------

_CSTR_CAL, _ECR_CAL, _SMT_CAL = (_cal.calibration_for(p) for p in ("cstr", "co2_electrolyzer", "smelter"))
_ECR = _ecr.DEFAULT
_REBOILER_UA_CLEAN = reboiler_ua_clean(_BIO)
_REBOILER_UA_MIN = _REBOILER_UA_CLEAN * _BIO.reboiler_dt_design_k / _BIO.reboiler_dt_max_k
_CVD_NEW = _smt.DEFAULT.cvd_new_v

DEGRADATIONS: Mapping[str, tuple[Degradation, ...]] = {
    "cstr": (
        Degradation(
            plant_id="cstr", asset="reactor cooling jacket", indicator="UA", unit="J/(min*K)", direction="falling",
            threshold=_CSTR_CAL.bands["UA"][0], design_value=_CSTR_CAL.design["UA"],
            basis="calibrated parameter UA (gold.fct_model_parameters)",
            source="lower edge of the calibration band, 0.85 x design UA: this project's jacket-cleaning "
                   "criterion (models/calibration.py; assumption)",
            action="jacket cleaning (or change-over to the cleaned standby exchanger)",
            resets="cleaning restores the design UA", window_days=7, lead_time_days=14.0,
            min_reset_step=0.3 * (_CSTR_CAL.design["UA"] - _CSTR_CAL.bands["UA"][0]),
        ),
    ),
    "biorefinery": (
        Degradation(
            plant_id="biorefinery", asset="beer-column reboiler (A500)", indicator="reboiler_ua_kw_k", unit="kW/K",
            direction="falling", threshold=_REBOILER_UA_MIN, design_value=_REBOILER_UA_CLEAN,
            basis="BIO.QI502 / (BIO.TI504 - BIO.TI503): reboiler duty over steam-chest-to-bottoms dT, daily median "
                  "of hourly means",
            source=f"design duty / largest steam-chest dT = clean UA x {_BIO.reboiler_dt_design_k:g} K / "
                   f"{_BIO.reboiler_dt_max_k:g} K (LP header saturation 147.9 degC - 3 K line losses - bottoms): below "
                   "it the reboiler cannot deliver the design boil-up and ethanol slips to the stillage",
            action="beer-column reboiler cleaning",
            resets="cleaning removes the fouling layer (Kern-Seaton resistance back to zero, UA to clean)",
            model="saturating", fit_space="reciprocal", window_days=1, lead_time_days=5.0,
            min_reset_step=0.3 * (_REBOILER_UA_CLEAN - _REBOILER_UA_MIN), tau_bounds_days=(2.0, 120.0),
            min_points=4,
        ),
    ),
    "co2_electrolyzer": (
        Degradation(
            plant_id="co2_electrolyzer", asset="electrolyser stack cathodes (Sn GDEs)", indicator="fe_plateau_aged",
            unit="1", direction="falling", threshold=_ECR_CAL.bands["fe_max"][0],
            design_value=_ECR_CAL.design["fe_max"],
            basis="calibrated fresh-electrode fe_max x (1 - fe_decay_per_kh x age/1000 h), age from the DCS "
                  "electrode-age counter ECR.KY101 at mid-day",
            source="lower edge of the calibration band, design - 0.03 (Kopljar et al. 2014 report ~0.90 on Sn GDEs; "
                   "0.89 is a weak cathode; models/calibration.py, assumption)",
            action="electrode (GDE) replacement",
            resets="new GDEs: electrode age to zero, FE plateau to the fresh value", window_days=7,
            lead_time_days=14.0, min_reset_step=0.005,  # ~6 days of ageing; a replacement restores >= 0.02
            law_slope_per_day=-_ECR_CAL.design["fe_max"] * _ECR.fe_decay_per_kh * 24.0 / 1000.0,
        ),
        Degradation(
            plant_id="co2_electrolyzer", asset="electrolyser stack cathodes (Sn GDEs)", indicator="asr_aged_ohm_cm2",
            unit="ohm*cm**2", direction="rising", threshold=_ECR_CAL.bands["asr_ohm_cm2"][1],
            design_value=_ECR_CAL.design["asr_ohm_cm2"],
            basis="calibrated fresh-electrode asr_ohm_cm2 x (1 + asr_growth_per_kh x age/1000 h), age from ECR.KY101",
            source="upper edge of the calibration band, 1.25 x design ASR (membrane cation fouling, contact corrosion; "
                   "models/calibration.py, assumption)",
            action="electrode (GDE) and membrane replacement",
            resets="new GDEs: electrode age to zero, ASR to the fresh value", window_days=7, lead_time_days=14.0,
            min_reset_step=0.05,  # ~10 days of ageing; a replacement restores >= 0.1 ohm cm2
            law_slope_per_day=_ECR_CAL.design["asr_ohm_cm2"] * _ECR.asr_growth_per_kh * 24.0 / 1000.0,
        ),
    ),
    "smelter": (
        Degradation(
            plant_id="smelter", asset="potline cathode lining", indicator="cathode_drop_nominal_v", unit="V",
            direction="rising", threshold=0.35, design_value=_CVD_NEW,
            basis="SMT.EI104 x I_nom / SMT.II101: section-mean cathode voltage drop at the nominal line current, "
                  "daily median of hourly means",
            source="upper end of the typical 0.25-0.35 V cathode voltage drop of prebake cells "
                   "(models/_smelter_physics.py; assumption): beyond it relining pays back in energy (~3 % of the cell "
                   "voltage above a new lining)",
            action="cathode relining of the section's cells (plan in the relining programme)",
            resets="relining: new cathode blocks and collector bars, drop back to ~0.22 V", window_days=1,
            lead_time_days=365.0, min_reset_step=0.05,
        ),
        Degradation(
            plant_id="smelter", asset="potline cells (process)", indicator="ce_ref", unit="1", direction="falling",
            threshold=_SMT_CAL.bands["ce_ref"][0], design_value=_SMT_CAL.design["ce_ref"],
            basis="calibrated parameter ce_ref (gold.fct_model_parameters)",
            source="lower edge of the calibration band, design - 1.5 points (modern cells 92-96 %, Thonstad et al. "
                   "2001; assumption)",
            action="cell condition review (ACD, bath chemistry, cathode heave, metal-pad stability)",
            resets="corrective operation or relining restores the current efficiency", window_days=7,
            lead_time_days=30.0, min_reset_step=0.3 * 0.015,
        ),
    ),
}


def _type_of(plant_id: str) -> str:
    from models.fleet import type_of

    return type_of(plant_id)


def degradation(plant_id: str, indicator: str) -> Degradation:
    """The declared :class:`Degradation` of a plant's indicator (ValueError lists the valid ones)."""
    for d in DEGRADATIONS.get(_type_of(plant_id), ()):
        if d.indicator == indicator:
            return d
    valid = {p: [d.indicator for d in ds] for p, ds in DEGRADATIONS.items()}
    raise ValueError(f"no degradation {indicator!r} declared for {plant_id!r}; expected one of {valid}")


# --------------------------------------------------------------------------------------------
# Health indicators from gold
# --------------------------------------------------------------------------------------------

_HI_COLUMNS = ["day", "indicator", "value", "std_error"]
_MIN_HOURS_PER_DAY = 6


def _wide_hourly(hourly: pd.DataFrame, tags: tuple[str, ...], min_good_fraction: float) -> pd.DataFrame:
    h = hourly[hourly["tag"].isin(tags)].copy()
    bad = h["good_fraction"] < min_good_fraction
    if "flagged_count" in h.columns:
        bad |= h["flagged_count"].fillna(0) > 0
    h.loc[bad, "twa_value"] = np.nan
    wide = h.pivot_table(index="hour_start", columns="tag", values="twa_value", aggfunc="first")
    wide = wide.reindex(columns=list(tags))
    wide.index = pd.to_datetime(wide.index, utc=True)
    return wide.sort_index()


def _daily_median(values: pd.Series, indicator: str) -> pd.DataFrame:
    """Daily median of hourly values with the standard error of a median, 1.2533 x 1.4826 MAD / sqrt(n)."""
    v = values.dropna()
    if v.empty:
        return pd.DataFrame(columns=_HI_COLUMNS)
    rows = []
    for day, x in v.groupby(v.index.date):
        x = x.to_numpy(dtype=float)
        if len(x) < _MIN_HOURS_PER_DAY:
            continue
        med = float(np.median(x))
        mad = 1.4826 * float(np.median(np.abs(x - med)))
        rows.append({"day": day, "indicator": indicator, "value": med, "std_error": 1.2533 * mad / math.sqrt(len(x))})
    return pd.DataFrame(rows, columns=_HI_COLUMNS)


def _reboiler_ua(wide: pd.DataFrame) -> pd.Series:
    duty, chest, bottoms = (wide[t] for t in ("BIO.QI502", "BIO.TI504", "BIO.TI503"))
    dtemp = chest - bottoms
    # Reboiler in service at a meaningful load: duty above a third of design, dT above 2 K.
    ok = (duty > 0.33 * _REBOILER_UA_CLEAN * _BIO.reboiler_dt_design_k) & (dtemp > 2.0)
    return (duty / dtemp).where(ok)


def _cathode_drop(wide: pd.DataFrame) -> pd.Series:
    cur, cvd = wide["SMT.II101"], wide["SMT.EI104"]
    nominal = _smt.DEFAULT.nominal_current_ka
    return (cvd * nominal / cur).where(cur > 0.5 * nominal)


def _age_at_noon(wide: pd.DataFrame) -> pd.DataFrame:
    """Electrode age (h) at 12:00 UTC per day from the hourly means of the DCS counter ECR.KY101.

    Each hour implies the age at noon (its mean is the age at half past); the day's value is their
    median. Days on which the counter goes back (an electrode replacement) are left out: their
    calibration window mixes old and new electrodes around the swap.
    """
    age = wide["ECR.KY101"].dropna()
    rows = []
    for day, a in age.groupby(age.index.date):
        hours = a.index.hour.to_numpy() + a.index.minute.to_numpy() / 60.0
        reset = bool((np.diff(a.to_numpy()) < -1.0).any())
        if reset or len(a) < _MIN_HOURS_PER_DAY:
            continue
        rows.append({"day": day, "age_h": float(np.median(a.to_numpy() + (12.0 - (hours + 0.5))))})
    return pd.DataFrame(rows, columns=["day", "age_h"])


def _parameter_series(parameters: pd.DataFrame, name: str) -> pd.DataFrame:
    p = parameters[parameters["parameter"] == name]
    out = pd.DataFrame({"day": pd.to_datetime(p["fit_date"]).dt.date, "value": p["estimate"].astype(float),
                        "std_error": p["std_error"].astype(float)})
    return out.dropna(subset=["value"]).drop_duplicates("day", keep="last").sort_values("day")


def health_indicators(plant_id: str, parameters: pd.DataFrame | None, hourly: pd.DataFrame | None, *,
                      min_good_fraction: float = 0.8) -> pd.DataFrame:
    """Daily history of a plant's health indicators: columns ``day, indicator, value, std_error``.

    Parameters
    ----------
    plant_id : str
        A plant of :data:`DEGRADATIONS`.
    parameters : DataFrame or None
        Rows of ``gold.fct_model_parameters`` (at least ``fit_date, parameter, estimate,
        std_error``; other plants' rows are ignored when ``plant_id`` is a column). One scenario.
    hourly : DataFrame or None
        Rows of ``gold.fct_tag_hourly`` (``tag, hour_start, twa_value, good_fraction``; optional
        ``flagged_count``, ``plant_id``). Hours with fewer good readings than ``min_good_fraction`` or
        with flagged readings are not used.

    Returns
    -------
    DataFrame
        One row per indicator and day. Calibrated parameters keep their fit's standard error;
        indicators from hourly means are daily medians (days with >= 6 usable hours) with the
        standard error of the median from the hourly scatter. Indicators whose inputs are missing
        are simply absent.
    """
    kind = _type_of(plant_id)
    if kind not in DEGRADATIONS:
        raise ValueError(f"no degradations declared for {plant_id!r}; expected one of {list(DEGRADATIONS)}")
    if parameters is not None and "plant_id" in parameters.columns:
        parameters = parameters[parameters["plant_id"] == plant_id]
    if hourly is not None and "plant_id" in hourly.columns:
        hourly = hourly[hourly["plant_id"] == plant_id]
    have_p = parameters is not None and not parameters.empty
    have_h = hourly is not None and not hourly.empty
    parts: list[pd.DataFrame] = []
    if kind == "cstr" and have_p:
        parts.append(_parameter_series(parameters, "UA").assign(indicator="UA"))
    elif kind == "biorefinery" and have_h:
        wide = _wide_hourly(hourly, ("BIO.QI502", "BIO.TI504", "BIO.TI503"), min_good_fraction)
        parts.append(_daily_median(_reboiler_ua(wide), "reboiler_ua_kw_k"))
    elif kind == "co2_electrolyzer" and have_p and have_h:
        age = _age_at_noon(_wide_hourly(hourly, ("ECR.KY101",), min_good_fraction))
        for name, indicator, factor in (
            ("fe_max", "fe_plateau_aged", lambda a: 1.0 - _ECR.fe_decay_per_kh * a / 1000.0),
            ("asr_ohm_cm2", "asr_aged_ohm_cm2", lambda a: 1.0 + _ECR.asr_growth_per_kh * a / 1000.0),
        ):
            s = _parameter_series(parameters, name).merge(age, on="day", how="inner")
            f = factor(s["age_h"].to_numpy())
            parts.append(pd.DataFrame({"day": s["day"], "indicator": indicator, "value": s["value"] * f,
                                       "std_error": s["std_error"] * f}))
    elif kind == "smelter":
        if have_h:
            wide = _wide_hourly(hourly, ("SMT.II101", "SMT.EI104"), min_good_fraction)
            parts.append(_daily_median(_cathode_drop(wide), "cathode_drop_nominal_v"))
        if have_p:
            parts.append(_parameter_series(parameters, "ce_ref").assign(indicator="ce_ref"))
    parts = [p[_HI_COLUMNS] for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=_HI_COLUMNS)
    return pd.concat(parts, ignore_index=True).sort_values(["indicator", "day"], ignore_index=True)


# --------------------------------------------------------------------------------------------
# Remaining useful life
# --------------------------------------------------------------------------------------------


def _robust_sd(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return 0.0
    return 1.4826 * float(np.median(np.abs(x - np.median(x))))


def _resets(s: np.ndarray, min_step: float, *, z: float = 5.0, k: int = 3) -> list[tuple[int, float]]:
    """Maintenance steps in ``s`` (worse = larger): (index of the first value after, size of the drop).

    A step at i compares the median of ``s[i-k:i]`` with the median of ``s[i:i+k]``; it counts when
    the drop exceeds both ``z`` robust SDs of the day-to-day differences and ``min_step``. A run of
    consecutive qualifying indices is one maintenance, split where the values on either side deviate
    least from their side's median.
    """
    n = len(s)
    if n < 2:
        return []
    limit = max(z * _robust_sd(np.diff(s)), min_step, 1e-12 * float(np.max(np.abs(s))))
    steps = np.array([-np.inf] + [float(np.median(s[max(0, i - k):i]) - np.median(s[i:i + k])) for i in range(1, n)])
    hits = list(np.flatnonzero(steps > limit))
    out = []
    while hits:
        run = [hits.pop(0)]
        while hits and hits[0] == run[-1] + 1:
            run.append(hits.pop(0))
        # Where exactly in the run: the split with the least absolute deviation from the two sides' medians.
        cands = range(max(1, run[0] - 1), min(n - 1, run[-1] + 1) + 1)

        def cost(j: int) -> float:
            a, b = s[max(0, j - k):j], s[j:j + k]
            return float(np.sum(np.abs(a - np.median(a))) + np.sum(np.abs(b - np.median(b))))

        best = min((j for j in cands if steps[j] > 0), key=lambda j: (cost(j), -steps[j]))
        out.append((int(best), float(steps[best])))
    return out


def _paule_mandel(resid: np.ndarray, se2: np.ndarray, dof: int) -> float:
    """Extra variance s^2 >= 0 with sum r^2 / (se^2 + s^2) = dof (Paule & Mandel 1982)."""
    r2 = resid ** 2
    if dof <= 0:
        return 0.0
    hi = float(np.sum(r2)) / dof  # sum r^2 / (se^2 + hi) <= dof
    if not np.all(se2 > 0):
        return hi
    if float(np.sum(r2 / se2)) <= dof:
        return 0.0
    lo = 0.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if float(np.sum(r2 / (se2 + mid))) > dof:
            lo = mid
        else:
            hi = mid
    return hi


def _basis(kind: str, t: np.ndarray, t0: float, tau: float) -> np.ndarray:
    g = t - t0 if kind == "linear" else -np.expm1(-(t - t0) / tau)
    return np.column_stack([np.ones_like(t), g])


def _gauss_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray,
               prior: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray, float]:
    """Posterior mean and covariance of the path coefficients and the log marginal likelihood.

    Flat prior: weighted least squares, log ML = -chi2_min/2 - log det(X'WX)/2 (+ const).
    Gaussian prior N(mu0, P0): the conjugate update, log ML = log N(y; X mu0, W^-1 + X P0 X').
    """
    info = (x.T * w) @ x
    rhs = (x.T * w) @ y
    if prior is None:
        cov = np.linalg.pinv(info)
        beta = cov @ rhs
        r = y - x @ beta
        return beta, cov, -0.5 * float(np.sum(w * r ** 2)) - 0.5 * float(np.linalg.slogdet(info)[1])
    mu0, p0 = prior
    p0i = np.linalg.inv(p0)
    cov = np.linalg.inv(info + p0i)
    beta = cov @ (rhs + p0i @ mu0)
    s = np.diag(1.0 / w) + x @ p0 @ x.T
    r = y - x @ mu0
    return beta, cov, -0.5 * float(r @ np.linalg.solve(s, r)) - 0.5 * float(np.linalg.slogdet(s)[1])


@dataclass
class _Segment:
    """Values between two maintenances, in the oriented fit space; ``t0`` the start of its first day."""

    t: np.ndarray
    z: np.ndarray
    se2: np.ndarray
    t0: float


@dataclass
class _Fit:
    """The fitted path of the current segment: per tau (one for linear) the coefficient posterior."""

    kind: str
    t0: float
    taus: np.ndarray
    post: np.ndarray
    betas: list[np.ndarray]
    covs: list[np.ndarray]
    extra_sd: float
    kept: int
    dropped: int
    n_prior: int
    law_prior: bool = False


def _best_residuals(seg: _Segment, kind: str, taus: np.ndarray) -> np.ndarray:
    """Residuals of the segment's own unweighted least-squares path (best tau of the grid)."""
    best = None
    for tau in taus:
        x = _basis(kind, seg.t, seg.t0, tau)
        r = seg.z - x @ _gauss_fit(x, seg.z, np.ones(len(seg.t)), None)[0]
        if best is None or np.sum(r ** 2) < np.sum(best ** 2):
            best = r
    return best


def _drop_outliers(seg: _Segment, kind: str, taus: np.ndarray, min_left: int) -> tuple[_Segment, int]:
    """One pass: drop points more than 4 SD (model and robust residual SD) off the segment's own best fit."""
    if len(seg.t) <= min_left:
        return seg, 0
    r = _best_residuals(seg, kind, taus)
    sd = max(math.sqrt(float(np.median(seg.se2))), _robust_sd(r), 1e-300)
    out = np.abs(r) > 4.0 * sd
    if not out.any() or int((~out).sum()) < min_left:
        return seg, 0
    keep = ~out
    return _Segment(seg.t[keep], seg.z[keep], seg.se2[keep], seg.t0), int(out.sum())


def _fit_path(deg: Degradation, segments: list[_Segment], n_prior: int) -> _Fit:
    """Fit the current (last) segment, with a population prior from the ``n_prior`` complete cycles before it.

    The prior on the path coefficients (start level, slope or amplitude) is the mean of the previous
    cycles' estimates, its covariance their scatter plus their mean estimation covariance plus a floor
    of 20 % of the mean per coefficient (cycle-to-cycle variation not seen in few cycles; assumption),
    as in the Bayesian updating of degradation signals (Gebraeel et al. 2005, IIE Trans. 37, 543).
    For the saturating path tau has a grid posterior from all these segments together. Without an
    earlier cycle, a declared ageing-law slope is the prior of a linear path's slope (level flat).
    """
    kind = deg.model
    taus = np.array([np.nan]) if kind == "linear" else np.geomspace(*deg.tau_bounds_days, 48)
    p = 2
    use = segments[-(n_prior + 1):]
    cleaned, dropped = [], 0
    for seg in use:
        s, d = _drop_outliers(seg, kind, taus, 3 if kind == "linear" else 4)
        cleaned.append(s)
        dropped += d
    # Extra scatter beyond the standard errors, pooled over the segments (Paule-Mandel at the best tau).
    resid, se2, dof = [], [], 0
    for seg in cleaned:
        resid.append(_best_residuals(seg, kind, taus))
        se2.append(seg.se2)
        dof += len(seg.t) - p - (0 if kind == "linear" else 1)
    s2 = _paule_mandel(np.concatenate(resid), np.concatenate(se2), dof)
    inflate = float(deg.window_days)
    weights = [1.0 / (np.maximum(seg.se2 + s2, 1e-300) * inflate) for seg in cleaned]
    prev, cur = cleaned[:-1], cleaned[-1]
    # The ageing law's slope in the oriented fit space (value space only; worse = larger).
    law = abs(deg.law_slope_per_day) if deg.law_slope_per_day is not None and kind == "linear" else None
    logpost, betas, covs = [], [], []
    for tau in taus:
        lp = 0.0
        prior = None
        if prev:
            est = []
            for seg, w in zip(prev, weights[:-1]):
                b, c, l = _gauss_fit(_basis(kind, seg.t, seg.t0, tau), seg.z, w, None)
                est.append((b, c))
                lp += l
            mu0 = np.mean([b for b, _ in est], axis=0)
            p0 = np.diag((0.2 * np.abs(mu0)) ** 2) + np.mean([c for _, c in est], axis=0)
            if len(est) >= 2:
                p0 = p0 + np.cov(np.array([b for b, _ in est]).T, ddof=1)
            prior = (mu0, p0)
        elif law is not None:
            level = float(np.median(cur.z))
            prior = (np.array([level, law]), np.diag([(100.0 * (abs(level) + 1e-12)) ** 2,
                                                      (deg.law_slope_rel_sd * law) ** 2]))
        b, c, l = _gauss_fit(_basis(kind, cur.t, cur.t0, tau), cur.z, weights[-1], prior)
        logpost.append(lp + l)
        betas.append(b)
        covs.append(c)
    lp = np.array(logpost)
    post = np.exp(lp - lp.max())
    post /= post.sum()
    return _Fit(kind, cur.t0, taus, post, betas, covs, math.sqrt(s2), len(cur.t), dropped, len(prev),
                law_prior=not prev and law is not None)


def _crossings(fit: _Fit, n: int, rng: np.random.Generator, t_now: float, thr: float,
               horizon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Monte Carlo draws of the path: days from ``t_now`` to the threshold (0 if past, inf if never),
    level and slope at ``t_now`` (oriented fit space)."""
    idx = rng.choice(len(fit.taus), size=n, p=fit.post)
    a, b = np.empty(n), np.empty(n)
    for i in np.unique(idx):
        sel = idx == i
        th = rng.multivariate_normal(fit.betas[i], fit.covs[i], size=int(sel.sum()), method="svd")
        a[sel], b[sel] = th[:, 0], th[:, 1]
    dt_now = t_now - fit.t0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if fit.kind == "linear":
            level, slope = a + b * dt_now, b
            rul = np.where(b > 0, (thr - level) / b, np.inf)
        else:
            tau = fit.taus[idx]
            decay = np.exp(-dt_now / tau)
            level, slope = a + b * (1.0 - decay), b * decay / tau
            u = (thr - a) / b  # fraction of the asymptotic change at which the threshold is met
            rul = np.where((b > 0) & (u < 1.0), fit.t0 - tau * np.log1p(-u) - t_now, np.inf)
    rul = np.where(level >= thr, 0.0, rul)
    rul = np.where(rul > horizon, np.inf, np.maximum(rul, 0.0))
    return rul, level, slope


def _pct(x: np.ndarray, q: float) -> float | None:
    v = float(np.percentile(x, q, method="inverted_cdf"))  # no interpolation: inf (never) stays inf
    return None if not np.isfinite(v) else v


def _fmt_day(d: dt.date | None) -> str:
    return d.isoformat() if d else "n/a"


def _orient(deg: Degradation):
    """Maps value -> oriented fit space (worse = larger), back, and the standard-error transform."""
    sign = 1.0 if deg.direction == "rising" else -1.0
    if deg.fit_space == "reciprocal":
        sign = -sign  # 1/x reverses the direction
        return (lambda v: sign / np.asarray(v, dtype=float), lambda z: sign / np.asarray(z, dtype=float),
                lambda v, s: np.asarray(s, dtype=float) / np.asarray(v, dtype=float) ** 2)
    return (lambda v: sign * np.asarray(v, dtype=float), lambda z: sign * np.asarray(z, dtype=float),
            lambda v, s: np.asarray(s, dtype=float))


def remaining_useful_life(history: pd.DataFrame, degradation: Degradation, *, as_of: dt.date, n_draws: int = 2000,
                          seed: int = 0) -> dict:
    """Remaining useful life of one degradation from its indicator history (see the module docstring).

    Parameters
    ----------
    history : DataFrame
        ``day`` (date), ``value``, ``std_error`` (may be NaN): the indicator, one value per day.
        Values after ``as_of`` are ignored.
    degradation : Degradation
    as_of : date
        Day of the assessment; RUL counts from its end.
    n_draws : int
        Monte Carlo draws of the path.
    seed : int
        Seed of the draws (same inputs and seed, same result).

    Returns
    -------
    dict
        The columns of ``gold.fct_asset_health`` except ``plant_id, run_id, computed_at``:
        ``asset, indicator, assessed_date, indicator_value, indicator_std_error, unit, threshold,
        trend_per_day, trend_std_error, rul_p10_days, rul_p50_days, rul_p90_days,
        threshold_date_p50, history_points, since_maintenance_date, method, status,
        recommendation``. RUL percentiles are None where the draws never reach the threshold
        within ``max_horizon_days``.
    """
    deg = degradation
    if n_draws < 100:
        raise ValueError(f"n_draws must be >= 100, got {n_draws}")
    missing = {"day", "value"} - set(history.columns)
    if missing:
        raise ValueError(f"history needs the columns day, value, std_error; missing {sorted(missing)}")
    h = history.copy()
    h["day"] = pd.to_datetime(h["day"]).dt.date
    if "std_error" not in h.columns:
        h["std_error"] = np.nan
    h["value"] = h["value"].astype(float)
    h = h[(h["day"] <= as_of) & np.isfinite(h["value"])]
    if deg.fit_space == "reciprocal":
        h = h[h["value"] > 0]
    h = h.sort_values("day").drop_duplicates("day", keep="last")
    op = "<" if deg.direction == "falling" else ">"
    unit = "" if deg.unit == "1" else f" {deg.unit}"
    cite = "degradation-path extrapolation [Lu & Meeker 1993; Si et al. 2011]"
    out = {
        "asset": deg.asset, "indicator": deg.indicator, "assessed_date": as_of, "indicator_value": None,
        "indicator_std_error": None, "unit": deg.unit, "threshold": float(deg.threshold), "trend_per_day": None,
        "trend_std_error": None, "rul_p10_days": None, "rul_p50_days": None, "rul_p90_days": None,
        "threshold_date_p50": None, "history_points": 0, "since_maintenance_date": None, "method": "", "status": "",
        "recommendation": "",
    }
    if h.empty:
        return out | {"method": f"{cite}: no indicator values up to {as_of}", "status": "insufficient_data",
                      "recommendation": f"No {deg.indicator} values up to {as_of}: check the calibration and "
                                        "historian feeds."}

    fwd, back, se_t = _orient(deg)
    v = h["value"].to_numpy(dtype=float)
    se = h["std_error"].to_numpy(dtype=float)
    se = np.where(np.isfinite(se) & (se >= 0), se, 0.0)
    days = list(h["day"])
    epoch = days[0]
    t = np.array([(d - epoch).days + 0.5 for d in days])  # a daily value sits at the middle of its day
    t_now = (as_of - epoch).days + 1.0  # end of as_of
    z, z_se2 = fwd(v), se_t(v, se) ** 2
    thr = float(fwd(deg.threshold))
    signed_step = deg.min_reset_step if deg.direction == "rising" else -deg.min_reset_step
    min_step = abs(float(fwd(deg.design_value + signed_step) - fwd(deg.design_value)))
    steps = _resets(z, min_step)
    bounds = [0] + [i for i, _ in steps] + [len(z)]
    segments = [_Segment(t[a:b], z[a:b], z_se2[a:b], t[a] - 0.5) for a, b in zip(bounds[:-1], bounds[1:])]
    # Complete cycles (between two detected maintenances) with enough values inform the current one.
    enough = 3 if deg.model == "linear" else 4
    n_prior = 0
    for seg in reversed(segments[1:-1]):
        if len(seg.t) < enough:
            break
        n_prior += 1
    i0 = bounds[-2]
    since = days[i0]
    latest, latest_se = float(v[-1]), (float(se[-1]) if se[-1] > 0 else None)
    n_cur = len(z) - i0
    out |= {"indicator_value": latest, "indicator_std_error": latest_se, "since_maintenance_date": since,
            "history_points": int(n_cur)}
    if steps:
        i_last = steps[-1][0]
        pre = float(np.median(v[max(0, i_last - 3):i_last]))
        post = float(np.median(v[i_last:i_last + 3]))
        reset_txt = (f"{len(steps)} maintenance step(s) detected, the last before {since} ({pre:.4g} -> {post:.4g} "
                     f"{unit})")
    else:
        reset_txt = "no maintenance step detected"
    past_now = (z[-1] - thr) > 2.0 * math.sqrt(z_se2[-1])
    need = min(deg.min_points, 3) if n_prior or deg.law_slope_per_day is not None else deg.min_points

    if n_cur < need:
        status = "maintenance_due" if past_now else "insufficient_data"
        rec = (f"{deg.indicator} = {latest:.4g}{unit} has crossed the maintenance threshold ({op} "
               f"{deg.threshold:.4g}{unit}): {deg.action} now."
               if past_now else
               f"Only {n_cur} {deg.indicator} value(s) since {since} ({need} needed for a forecast); latest "
               f"{latest:.4g}{unit} against the threshold {op} {deg.threshold:.4g}.")
        return out | {"method": f"{cite}: {reset_txt}; {n_cur} value(s) since, {need} needed", "status": status,
                      "recommendation": rec}

    fit = _fit_path(deg, segments, n_prior)
    rng = np.random.default_rng(seed)
    rul, level, slope = _crossings(fit, n_draws, rng, t_now, thr, deg.max_horizon_days)
    # Trend in the indicator's own units at the end of as_of: d value/dt = d back(z)/dz * dz/dt.
    eps = 1e-6 * max(float(np.median(np.abs(level))), 1e-12)
    trend = (back(level + eps) - back(level - eps)) / (2.0 * eps) * slope
    p10, p50, p90 = (_pct(rul, q) for q in (10, 50, 90))

    def date_after(days_: float | None) -> dt.date | None:
        return as_of + dt.timedelta(days=1 + math.floor(days_)) if days_ is not None else None

    out |= {"trend_per_day": float(np.median(trend)), "trend_std_error": float(np.std(trend, ddof=1)),
            "rul_p10_days": p10, "rul_p50_days": p50, "rul_p90_days": p90, "threshold_date_p50": date_after(p50),
            "history_points": fit.kept}
    if deg.model == "linear":
        shape = "weighted linear path"
    else:
        tau_map = float(fit.taus[int(np.argmax(fit.post))])
        shape = (f"saturating path y0 + A (1 - exp(-t/tau)) of {'1/' if deg.fit_space == 'reciprocal' else ''}"
                 f"{deg.indicator} (Kern-Seaton), tau grid posterior {deg.tau_bounds_days[0]:g}-"
                 f"{deg.tau_bounds_days[1]:g} d (MAP {tau_map:.3g} d)")
    prior_txt = (f", prior from the {fit.n_prior} previous cycle(s) (Gebraeel et al. 2005)" if fit.n_prior
                 else f", slope prior from the ageing law {deg.law_slope_per_day:+.3g}{unit}/d +- "
                      f"{100 * deg.law_slope_rel_sd:.0f} %" if fit.law_prior else ", flat prior")
    out["method"] = (
        f"{cite}: {reset_txt}; {shape} on {fit.kept} daily values since{prior_txt}"
        f"{f', {fit.dropped} outlier(s) > 4 SD dropped' if fit.dropped else ''}; weights 1/(se^2 + s^2), extra scatter "
        f"s = {fit.extra_sd:.3g} in fit space (Paule-Mandel), covariance x {deg.window_days} for "
        f"{deg.window_days}-day averaging windows; {n_draws} Monte Carlo draws (seed {seed}); crossings beyond "
        f"{deg.max_horizon_days:g} d count as never")

    fields = {"action": deg.action, "p10_date": _fmt_day(date_after(p10)), "p50_date": _fmt_day(date_after(p50)),
              "indicator": deg.indicator, "op": op, "threshold": deg.threshold, "unit": unit}
    trend_txt = f"trend {out['trend_per_day']:+.3g} +- {out['trend_std_error']:.2g}{unit}/d"
    if past_now or p50 == 0.0:
        status = "maintenance_due"
        rec = (f"{deg.indicator} = {latest:.4g}{unit} has crossed the maintenance threshold ({op} "
               f"{deg.threshold:.4g}{unit}): {deg.action} now.")
    elif p50 is None:
        status = "no_degradation_trend"
        rec = (f"No trend of {deg.indicator} toward {deg.threshold:.4g}{unit} since {since} ({trend_txt}; latest "
               f"{latest:.4g}): no maintenance indicated by this indicator"
               + (f" (P10 of the time to the threshold {fields['p10_date']})" if p10 is not None else "") + ".")
    elif p10 is not None and p10 <= deg.lead_time_days:
        status = "plan_maintenance"
        rec = deg.recommendation.format(**fields)
    else:
        status = "ok"
        rec = (f"{deg.indicator} {latest:.4g}{unit}, {trend_txt}: threshold {op} {deg.threshold:.4g} expected "
               f"{fields['p50_date']} (P10 {fields['p10_date']}); plan {deg.action} at least "
               f"{deg.lead_time_days:g} days before the P10 date.")
    return out | {"status": status, "recommendation": rec}
