"""Remaining-useful-life predictions against the twins' true degradation (evaluation only).

    .venv/bin/python -m nexus.maintenance_eval --start 2025-01-01 --days 120 --out /tmp/rul_eval.csv

:func:`build_history` produces a real parameter history in a lake: it simulates and loads the
plants' historian data (:func:`nexus.history.backfill_history`), runs monitoring (calibration uses
the hours monitoring classed as steady normal operation) and the daily calibration
(:func:`optimization.calibrate.calibrate_day`). :func:`evaluate_asset_health` then reads the gold
tables, builds each plant's health indicators (:func:`models.maintenance.health_indicators`),
predicts the time to each maintenance threshold at several ``as_of`` dates
(:func:`models.maintenance.remaining_useful_life`) and compares with the truth that only the
simulator knows, computed from the twins' own functions:

* electrolyzer: the electrode age (:func:`models.co2_electrolyzer.electrode_age_h`, replacement
  once per 40-day cycle) through the ageing law at the default parameters;
* biorefinery: the reboiler fouling ratio after the last cleaning
  (:func:`models.biorefinery.fouling_ratio`, Kern-Seaton; cleanings from the block plans);
* smelter: the cathode voltage drop law at the cell age (:func:`models.smelter.cathode_voltage_drop`);
  current efficiency and the CSTR jacket UA do not degrade progressively in the twins (the CSTR's
  fouling episodes last hours and end inside the episode), so their truth is "never".

``actual_days`` is the time from the end of ``as_of`` to the true crossing along the current
cycle's degradation, continued past a maintenance that came first (the twin's law, counterfactual);
``details=True`` adds the time to the actual next maintenance and what the truth was. This module
may read simulator internals; production code may not (``tests/test_truth_isolation.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from models.maintenance import DEGRADATIONS, Degradation, health_indicators, remaining_useful_life
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import FCT_MODEL_PARAMETERS, FCT_TAG_HOURLY

__all__ = ["EVAL_COLUMNS", "build_history", "evaluate_asset_health", "summarize", "true_time_to_threshold"]

EVAL_COLUMNS = ["plant_id", "asset", "indicator", "as_of", "predicted_days_p50", "p10", "p90", "actual_days",
                "error_days", "within_p10_p90"]
#: Plants whose health indicators need calibrated parameters (the biorefinery's is data-derived).
_CALIBRATED_FOR_HEALTH = ("cstr", "co2_electrolyzer", "smelter")
_HOURLY_TAGS = {
    "biorefinery": ("BIO.QI502", "BIO.TI504", "BIO.TI503"),
    "co2_electrolyzer": ("ECR.KY101",),
    "smelter": ("SMT.II101", "SMT.EI104"),
}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(days=1)


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------


def build_history(lake: Lake, plants: Sequence[str], start: dt.date, end: dt.date, *, seed: int = 57,
                  stride_days: int = 1, window_days: int = 7,
                  steps: Sequence[str] = ("backfill", "monitor", "calibrate"),
                  progress: Callable[[str], None] | None = None) -> dict[str, dict[str, float]]:
    """Simulate ``[start, end)``, monitor it and calibrate every ``stride_days``-th day; returns timings (s).

    Calibration starts once a full window is available (``start + window_days - 1``). Plants whose
    health indicators are all data-derived (the biorefinery) are not calibrated. ``steps`` selects
    what to run (a lake can be built in stages).
    """
    from etl.monitoring import monitor_range
    from nexus.history import backfill_history
    from optimization.calibrate import calibrate_day

    say = progress or (lambda _msg: None)
    meta = CommitMeta(dag_id="nexus-maintenance-eval", run_id=f"maintenance_eval__{start}__{end}__seed{seed}",
                      source="evaluation")
    timings: dict[str, dict[str, float]] = {}
    for plant_id in plants:
        t0 = time.perf_counter()
        if "backfill" in steps:
            backfill_history([plant_id], start, end, lake=lake, seed=seed)
        t1 = time.perf_counter()
        if "monitor" in steps:
            monitor_range(lake, plant_id, start, end, meta)
        t2 = time.perf_counter()
        n_cal, cal_s, fit_s = 0, 0.0, 0.0
        if plant_id in _CALIBRATED_FOR_HEALTH and "calibrate" in steps:
            day = start + dt.timedelta(days=window_days - 1)
            while day < end:
                t = time.perf_counter()
                res = calibrate_day(lake, day, meta=meta, plants=[plant_id], window_days=window_days,
                                    raise_on_failure=False)
                cal_s += time.perf_counter() - t
                fit_s += float(res[plant_id]["seconds"])
                n_cal += 1
                day += dt.timedelta(days=stride_days)
        timings[plant_id] = {"backfill_s": t1 - t0, "monitor_s": t2 - t1, "calibrate_s": cal_s,
                             "calibrations": n_cal, "seconds_per_calibration": cal_s / n_cal if n_cal else 0.0,
                             "fit_seconds_per_calibration": fit_s / n_cal if n_cal else 0.0}
        say(f"{plant_id}: backfill {t1 - t0:.0f} s, monitoring {t2 - t1:.0f} s, {n_cal} calibrations "
            f"{cal_s:.0f} s ({timings[plant_id]['seconds_per_calibration']:.2f} s each)")
    return timings


# --------------------------------------------------------------------------------------------
# Truth from the twins
# --------------------------------------------------------------------------------------------


def _ecr_truth(deg: Degradation, as_of: dt.date, seed: int) -> dict:
    from models import co2_electrolyzer as ecr

    p = ecr.DEFAULT
    end = _end_of(as_of)
    m_end = int((end - _EPOCH).total_seconds() // 60)
    age_now = float(ecr.electrode_age_h(seed, np.array([m_end]))[0])
    if deg.indicator == "fe_plateau_aged":
        value = p.fe_max * (1.0 - p.fe_decay_per_kh * age_now / 1000.0)
        age_cross = (1.0 - deg.threshold / p.fe_max) / p.fe_decay_per_kh * 1000.0
    else:
        value = p.asr_ohm_cm2 * (1.0 + p.asr_growth_per_kh * age_now / 1000.0)
        age_cross = (deg.threshold / p.asr_ohm_cm2 - 1.0) / p.asr_growth_per_kh * 1000.0
    cycle_min = 4 * 10 * 1440
    cycle = m_end // cycle_min
    swaps = [ecr._swap_minute(seed, c) for c in (cycle, cycle + 1)]
    nxt = min(s for s in swaps if s > m_end)
    return {"actual_days": max(age_cross - age_now, 0.0) / 24.0, "next_maintenance_days": (nxt - m_end) / 1440.0,
            "last_maintenance_days_ago": age_now / 24.0, "true_value": value}


def _bio_truth(deg: Degradation, as_of: dt.date, seed: int) -> dict:
    from models import biorefinery as bio

    p = bio.DEFAULT
    h_end = (_end_of(as_of) - _EPOCH).total_seconds() / 3600.0
    ua_clean = deg.design_value
    r_thr = ua_clean / deg.threshold - 1.0
    ratio_now = float(bio.fouling_ratio(np.array([h_end]), seed, p)[0])
    block = int(h_end // bio._BLOCK_H)
    cleanings = sorted(bio._block_events(seed, b, "reboiler_cleaning") for b in (block - 1, block, block + 1))
    events = [e for group in cleanings for e in group]
    last_end = max(e for s, e in events if s <= h_end)
    nxt = min(s for s, e in events if s > h_end)
    t_cross = last_end - p.fouling_tau_d * 24.0 * math.log(1.0 - r_thr / p.fouling_ratio_max)
    return {"actual_days": max(t_cross - h_end, 0.0) / 24.0, "next_maintenance_days": (nxt - h_end) / 24.0,
            "last_maintenance_days_ago": (h_end - last_end) / 24.0, "true_value": ua_clean / (1.0 + ratio_now)}


def _smelter_truth(deg: Degradation, as_of: dt.date, seed: int) -> dict:
    from models import smelter as smt

    p = smt.DEFAULT
    end = _end_of(as_of)
    age_now = float(p.cell_age_days(end.timestamp()))
    if deg.indicator == "ce_ref":
        return {"actual_days": math.inf, "next_maintenance_days": math.inf, "last_maintenance_days_ago": math.inf,
                "true_value": p.ce_ref}
    drop = lambda age: float(smt.cathode_voltage_drop(age, p.nominal_current_ka, p))  # noqa: E731
    value = drop(age_now)
    if value >= deg.threshold:
        return {"actual_days": 0.0, "next_maintenance_days": math.inf, "last_maintenance_days_ago": math.inf,
                "true_value": value}
    age_cross = brentq(lambda a: drop(a) - deg.threshold, age_now, age_now + 100 * 365.25)
    return {"actual_days": age_cross - age_now, "next_maintenance_days": math.inf,
            "last_maintenance_days_ago": math.inf, "true_value": value}


def _cstr_truth(deg: Degradation, as_of: dt.date, seed: int) -> dict:
    from models import cstr

    # UA is at design outside abnormal jacket-fouling episodes (1-6 h, restored inside the episode).
    return {"actual_days": math.inf, "next_maintenance_days": math.inf, "last_maintenance_days_ago": math.inf,
            "true_value": cstr.DEFAULT.UA}


_TRUTH = {"co2_electrolyzer": _ecr_truth, "biorefinery": _bio_truth, "smelter": _smelter_truth, "cstr": _cstr_truth}


def true_time_to_threshold(deg: Degradation, as_of: dt.date, *, seed: int = 57) -> dict:
    """Truth from the twin at the end of ``as_of``: days to the threshold (``actual_days``, inf: never), to
    the next maintenance and since the last one, and the true indicator value."""
    return _TRUTH[deg.plant_id](deg, as_of, seed)


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def _read_plant(lake: Lake, plant_id: str, start: dt.date, end: dt.date,
                scenario_id: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    params = hourly = None
    if plant_id in _CALIBRATED_FOR_HEALTH and lake.exists(FCT_MODEL_PARAMETERS):
        params = lake.read(FCT_MODEL_PARAMETERS, where={"scenario_id": scenario_id, "plant_id": plant_id},
                           start=start, end=end + dt.timedelta(days=1),
                           columns=["plant_id", "fit_date", "parameter", "estimate", "std_error"]).to_pandas()
    if plant_id in _HOURLY_TAGS and lake.exists(FCT_TAG_HOURLY):
        t0 = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)
        hourly = lake.read(FCT_TAG_HOURLY, where={"plant_id": plant_id}, start=t0, end=_end_of(end),
                           columns=["plant_id", "tag", "hour_start", "twa_value", "good_fraction",
                                    "flagged_count"]).to_pandas()
        hourly = hourly[hourly["tag"].isin(_HOURLY_TAGS[plant_id])]
    return params, hourly


def _inf(x: float | None) -> float:
    return math.inf if x is None else float(x)


def evaluate_asset_health(lake: Lake, plants: Iterable[str], as_of_dates: Sequence[dt.date], *, seed: int = 57,
                          scenario_id: str = "base", n_draws: int = 2000, details: bool = False) -> pd.DataFrame:
    """Predicted vs true time to each declared maintenance threshold, per plant, indicator and ``as_of``.

    Columns :data:`EVAL_COLUMNS` (``p10``/``p90``/``predicted_days_p50`` NaN = never within the
    horizon, ``actual_days`` inf = the twin never crosses; ``error_days`` = P50 - actual, NaN unless
    both are finite; ``within_p10_p90`` treats never as +inf). ``details=True`` adds ``status``,
    ``next_maintenance_days``, ``indicator_value``, ``true_value``, ``history_points`` and
    ``since_maintenance_date``. Rows whose prediction is ``insufficient_data`` are kept (NaN
    predictions, ``within_p10_p90`` False).
    """
    as_of_dates = sorted(as_of_dates)
    rows = []
    for plant_id in plants:
        params, hourly = _read_plant(lake, plant_id, as_of_dates[0] - dt.timedelta(days=400), as_of_dates[-1],
                                     scenario_id)
        hist = health_indicators(plant_id, params, hourly)
        for deg in DEGRADATIONS[plant_id]:
            series = hist[hist["indicator"] == deg.indicator]
            for as_of in as_of_dates:
                pred = remaining_useful_life(series, deg, as_of=as_of, n_draws=n_draws, seed=seed)
                truth = true_time_to_threshold(deg, as_of, seed=seed)
                p10, p50, p90 = (_inf(pred[k]) for k in ("rul_p10_days", "rul_p50_days", "rul_p90_days"))
                actual = truth["actual_days"]
                predicted = pred["status"] != "insufficient_data"
                row = {
                    "plant_id": plant_id, "asset": deg.asset, "indicator": deg.indicator, "as_of": as_of,
                    "predicted_days_p50": pred["rul_p50_days"] if predicted else None,
                    "p10": pred["rul_p10_days"] if predicted else None,
                    "p90": pred["rul_p90_days"] if predicted else None,
                    "actual_days": actual,
                    "error_days": (p50 - actual) if predicted and math.isfinite(p50) and math.isfinite(actual)
                    else None,
                    "within_p10_p90": bool(predicted and p10 <= actual <= p90),
                }
                if details:
                    row |= {"status": pred["status"], "next_maintenance_days": truth["next_maintenance_days"],
                            "last_maintenance_days_ago": truth["last_maintenance_days_ago"],
                            "indicator_value": pred["indicator_value"], "true_value": truth["true_value"],
                            "history_points": pred["history_points"],
                            "since_maintenance_date": pred["since_maintenance_date"]}
                rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=EVAL_COLUMNS)
    for c in ("predicted_days_p50", "p10", "p90", "actual_days", "error_days"):
        out[c] = out[c].astype(float)
    return out


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Per plant and indicator, over the forecasts made (``status`` not ``insufficient_data``; needs
    ``details=True`` rows): before a finite true crossing, the P50 error (median absolute, mean, median
    relative) and the share of truths inside P10-P90; after it, the share flagged ``maintenance_due``;
    for a truth of never, the share whose median draw never crosses (``no_degradation_trend``). Dates
    with a maintenance during the day are counted apart (daily values show it the next day)."""
    out = []
    for (plant, ind), g in frame.groupby(["plant_id", "indicator"], sort=False):
        # A maintenance during the as_of day shows in the daily values only the next day.
        same_day = g["last_maintenance_days_ago"] < 1.0
        made = g[(g["status"] != "insufficient_data") & ~same_day]
        actual = made["actual_days"]
        ahead = made[np.isfinite(actual) & (actual > 0)]
        crossed = made[actual == 0]
        never = made[~np.isfinite(actual)]
        err = ahead["error_days"].dropna()
        out.append({
            "plant_id": plant, "indicator": ind, "as_of_dates": len(g), "maintenance_same_day": int(same_day.sum()),
            "forecasts": len(made),
            "before_crossing": len(ahead),
            "p50_finite": len(err),
            "abs_error_median_d": float(err.abs().median()) if len(err) else np.nan,
            "error_mean_d": float(err.mean()) if len(err) else np.nan,
            "rel_error_median": float((err.abs() / ahead.loc[err.index, "actual_days"]).median())
            if len(err) else np.nan,
            "coverage_p10_p90": float(ahead["within_p10_p90"].mean()) if len(ahead) else np.nan,
            "after_crossing": len(crossed),
            "due_share": float((crossed["status"] == "maintenance_due").mean()) if len(crossed) else np.nan,
            "truth_never": len(never),
            "never_share": float(never["predicted_days_p50"].isna().mean()) if len(never) else np.nan,
        })
    return pd.DataFrame(out)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2025, 1, 1))
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--plants", default="cstr,biorefinery,co2_electrolyzer,smelter")
    ap.add_argument("--seed", type=int, default=57)
    ap.add_argument("--stride", type=int, default=1, help="calibrate every n-th day")
    ap.add_argument("--as-of-every", type=int, default=1, help="assess every n-th day")
    ap.add_argument("--first-as-of", type=int, default=14, help="days after start of the first assessment")
    ap.add_argument("--lake", type=Path, default=None, help="lake folder (default: a temporary one)")
    ap.add_argument("--steps", default="backfill,monitor,calibrate",
                    help="build steps to run, comma-separated (empty: evaluate an existing lake)")
    ap.add_argument("--out", type=Path, default=None, help="CSV of the per-date rows (with details)")
    args = ap.parse_args(argv)
    plants = [p.strip() for p in args.plants.split(",") if p.strip()]
    end = args.start + dt.timedelta(days=args.days)
    with tempfile.TemporaryDirectory(prefix="nexus-rul-eval-") as tmp:
        lake = Lake(args.lake or Path(tmp) / "lake")
        steps = [s for s in args.steps.split(",") if s]
        if steps:
            timings = build_history(lake, plants, args.start, end, seed=args.seed, stride_days=args.stride,
                                    steps=steps, progress=print)
            print(pd.DataFrame(timings).T.round(2).to_string())
        dates = [args.start + dt.timedelta(days=d) for d in range(args.first_as_of, args.days, args.as_of_every)]
        t0 = time.perf_counter()
        frame = evaluate_asset_health(lake, plants, dates, seed=args.seed, details=True)
        print(f"evaluated {len(frame)} predictions in {time.perf_counter() - t0:.1f} s")
        if args.out:
            frame.to_csv(args.out, index=False)
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(summarize(frame).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
