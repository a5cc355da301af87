"""Detectors against the simulator's truth: detection rate, false alarms, delay — evaluation only.

Monitoring (:mod:`etl.monitoring`) sees a plant only through its historian data. The twins also
know what really happened (``sim.truth__operating_episodes``), and this module compares the two,
per plant, detector and episode label, into ``gold.fct_detector_evaluation``:

* **abnormal / extreme episodes** — detected when the detector alarms in an hour that overlaps the
  episode (``[start, end)``); the delay runs from the episode start to the end of the first
  alarmed hour (an hourly detector knows at the end of the hour);
* **normal hours** — hours that lie wholly inside a ``normal`` episode; the false-alarm rate is the
  share of them the detector alarmed;
* **sensor faults** (stuck, spiking, drifting sensors) — detected when sensor-health monitoring
  flagged readings *of the episode's tag* during the episode.

Detectors: ``pca`` (plant-wide T² or SPE above its limit, each hour on its own), ``isolation_forest``
(the nonlinear comparison), ``sensor_health`` (per-tag flags) and ``events`` (the event frames
people see: process anomalies, shutdowns and sensor faults, after persistence filtering).
Goals (issue 12): ≥ 90 % of abnormal and extreme episodes detected with ≤ 5 % of normal hours
alarmed; ≥ 90 % of sensor faults flagged on the right tag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nexus.truth import read_episodes
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import FCT_DETECTOR_EVALUATION, FCT_EVENTS, FCT_MONITOR_SCORES, FCT_TAG_HEALTH

SENSOR_FAULTS = ("stuck_sensor", "spiking_sensor", "sensor_drift")
ALARM_KINDS = ("process_anomaly", "shutdown", "sensor_fault")
DETECTION_GOAL, FALSE_ALARM_GOAL, SENSOR_GOAL = 0.90, 0.05, 0.90
HOUR = pd.Timedelta(hours=1)


def _utc_index(values) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(values)
    return idx.tz_localize("UTC") if idx.tz is None else idx


def _hours_overlapping(hours: pd.DatetimeIndex, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    return np.asarray((hours + HOUR > start) & (hours < end))


def _detect(alarm_hours: pd.DatetimeIndex, start: pd.Timestamp, end: pd.Timestamp) -> float | None:
    """Hours from ``start`` to the end of the first alarmed hour overlapping ``[start, end)``; None if none."""
    hit = alarm_hours[_hours_overlapping(alarm_hours, start, end)]
    if not len(hit):
        return None
    return max(0.0, (hit.min() + HOUR - start) / HOUR)


def _event_hours(events: pd.DataFrame, data_end: pd.Timestamp) -> pd.DatetimeIndex:
    hours: list[pd.Timestamp] = []
    for s, e in zip(events["start_at"], events["end_at"].fillna(data_end)):
        hours.extend(pd.date_range(s.floor("h"), e, freq="h", inclusive="left"))
    return pd.DatetimeIndex(sorted(set(hours)), tz="UTC") if hours else pd.DatetimeIndex([], tz="UTC")


def evaluate_plant(lake: Lake, plant_id: str, start: dt.datetime | None = None, end: dt.datetime | None = None
                   ) -> pd.DataFrame:
    """Evaluation rows of one plant over the monitored hours in ``[start, end)`` (default: all)."""
    truth = read_episodes(lake, plant_id)
    if truth.empty or not lake.exists(FCT_MONITOR_SCORES):
        return pd.DataFrame(columns=FCT_DETECTOR_EVALUATION.column_names)
    scores = lake.read(FCT_MONITOR_SCORES, where={"plant_id": plant_id, "unit": "plant"}, start=start, end=end,
                       columns=["hour_start", "pca_alarm", "if_alarm", "t2"]).to_pandas()
    scored = scores.dropna(subset=["t2"])
    if scored.empty:
        return pd.DataFrame(columns=FCT_DETECTOR_EVALUATION.column_names)
    hours = pd.DatetimeIndex(scored["hour_start"]).sort_values()
    w_start, w_end = hours.min(), hours.max() + HOUR
    alarms = {
        "pca": pd.DatetimeIndex(scored.loc[scored["pca_alarm"].fillna(False).astype(bool), "hour_start"]),
        "isolation_forest": pd.DatetimeIndex(scored.loc[scored["if_alarm"].fillna(False).astype(bool), "hour_start"]),
    }
    events = (lake.read(FCT_EVENTS, where={"plant_id": plant_id}).to_pandas() if lake.exists(FCT_EVENTS)
              else pd.DataFrame(columns=FCT_EVENTS.column_names))
    alarms["events"] = _event_hours(events[events["kind"].isin(ALARM_KINDS)], w_end)
    health = (lake.read(FCT_TAG_HEALTH, where={"plant_id": plant_id}, start=w_start.to_pydatetime(),
                        end=w_end.to_pydatetime(), columns=["tag", "hour_start", "flagged_count"]).to_pandas()
              if lake.exists(FCT_TAG_HEALTH) else pd.DataFrame(columns=["tag", "hour_start", "flagged_count"]))
    flagged = health[health["flagged_count"] > 0]

    eps = truth[(truth["start_at"] >= w_start) & (truth["end_at"] <= w_end)].copy()
    normal = eps[eps["category"] == "normal"]
    normal_hours = pd.DatetimeIndex(sorted({h for s, e in zip(normal["start_at"], normal["end_at"])
                                            for h in pd.date_range(s.ceil("h"), e, freq="h", inclusive="left")
                                            if h + HOUR <= e}), tz="UTC")
    normal_hours = normal_hours[normal_hours.isin(hours)]
    now = pd.Timestamp.now(tz="UTC")
    rows: list[dict[str, Any]] = []

    def row(detector: str, category: str, label: str, n: int, found: int, delays: Sequence[float],
            fa: int | None, goal: str | None, met: bool | None) -> None:
        rows.append({"plant_id": plant_id, "detector": detector, "category": category, "label": label,
                     "window_start": w_start, "window_end": w_end, "episodes": n, "detected": found,
                     "detection_rate": found / n if n else None,
                     "mean_delay_h": float(np.mean(delays)) if delays else None,
                     "normal_hours": len(normal_hours) if fa is not None else 0,
                     "false_alarm_hours": fa or 0,
                     "false_alarm_rate": (fa / len(normal_hours)) if fa is not None and len(normal_hours) else None,
                     "goal": goal, "goal_met": met, "evaluated_at": now})

    bad = eps[eps["category"].isin(["abnormal", "extreme"])]
    for detector in ("pca", "isolation_forest", "events"):
        al = alarms[detector]
        fa = int(normal_hours.isin(al).sum())
        fa_rate = fa / len(normal_hours) if len(normal_hours) else None
        row(detector, "normal", "*", 0, 0, [], fa, f"<= {FALSE_ALARM_GOAL:.0%} of normal hours alarmed",
            None if fa_rate is None else fa_rate <= FALSE_ALARM_GOAL)
        all_delays: list[float] = []
        found_all = 0
        for (category, label), g in bad.groupby(["category", "label"]):
            delays = [d for d in (_detect(al, s, e) for s, e in zip(g["start_at"], g["end_at"])) if d is not None]
            row(detector, category, label, len(g), len(delays), delays, None, None, None)
            all_delays += delays
            found_all += len(delays)
        rate = found_all / len(bad) if len(bad) else None
        row(detector, "abnormal+extreme", "*", len(bad), found_all, all_delays, fa,
            f">= {DETECTION_GOAL:.0%} detected with <= {FALSE_ALARM_GOAL:.0%} of normal hours alarmed",
            None if rate is None or fa_rate is None else rate >= DETECTION_GOAL and fa_rate <= FALSE_ALARM_GOAL)

    # Sensor faults on the right tag; false flags counted per (tag, hour) of normal hours.
    pairs = health[health["hour_start"].isin(normal_hours)]
    n_pairs, n_flagged = len(pairs), int((pairs["flagged_count"] > 0).sum())
    rows.append({"plant_id": plant_id, "detector": "sensor_health", "category": "normal", "label": "*",
                 "window_start": w_start, "window_end": w_end, "episodes": 0, "detected": 0, "detection_rate": None,
                 "mean_delay_h": None, "normal_hours": len(normal_hours), "false_alarm_hours": n_flagged,
                 "false_alarm_rate": n_flagged / n_pairs if n_pairs else None,
                 "goal": f"(tag, hour) pairs of normal hours flagged: {n_flagged} of {n_pairs}; <= 1 %",
                 "goal_met": (n_flagged / n_pairs <= 0.01) if n_pairs else None, "evaluated_at": now})
    faults = eps[eps["label"].isin(SENSOR_FAULTS)]
    all_delays, found_all = [], 0
    for label, g in faults.groupby("label"):
        delays = []
        for s, e, tag in zip(g["start_at"], g["end_at"], g["tag"]):
            d = _detect(_utc_index(flagged.loc[flagged["tag"] == tag, "hour_start"]), s, e)
            if d is not None:
                delays.append(d)
        row("sensor_health", "sensor_fault", label, len(g), len(delays), delays, None, None, None)
        all_delays += delays
        found_all += len(delays)
    if len(faults):
        row("sensor_health", "sensor_fault", "*", len(faults), found_all, all_delays, None,
            f">= {SENSOR_GOAL:.0%} flagged on the right tag", found_all / len(faults) >= SENSOR_GOAL)
    return pd.DataFrame(rows, columns=FCT_DETECTOR_EVALUATION.column_names)


def evaluate_detectors(lake: Lake, plants: Sequence[str], meta: CommitMeta, *, start: dt.datetime | None = None,
                       end: dt.datetime | None = None) -> pd.DataFrame:
    """Evaluate every plant and replace its rows in ``gold.fct_detector_evaluation``; returns all rows."""
    frames = []
    for plant_id in plants:
        rows = evaluate_plant(lake, plant_id, start, end)
        lake.replace_where(FCT_DETECTOR_EVALUATION, rows, where={"plant_id": plant_id}, meta=meta)
        frames.append(rows)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FCT_DETECTOR_EVALUATION.column_names)


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per plant and detector: detection rate, false-alarm rate, delay, goal met."""
    main = rows[(rows["label"] == "*") & (rows["category"] != "normal")]
    normal = rows[rows["category"] == "normal"].set_index(["plant_id", "detector"])["false_alarm_rate"]
    out = main[["plant_id", "detector", "category", "episodes", "detected", "detection_rate", "mean_delay_h",
                "goal_met"]].copy()
    out["false_alarm_rate"] = [normal.get((p, d)) for p, d in zip(out["plant_id"], out["detector"])]
    return out.sort_values(["plant_id", "detector"]).reset_index(drop=True)


def truth_normal_hours(lake: Lake, plant_id: str, start: dt.datetime, end: dt.datetime) -> pd.DatetimeIndex:
    """Hours of ``[start, end)`` wholly inside a ``normal`` episode of the truth (the old answer-key selection)."""
    eps = read_episodes(lake, plant_id)
    eps = eps[(eps["category"] == "normal") & (eps["end_at"] > start) & (eps["start_at"] < end)]
    hours = {h for s, e in zip(eps["start_at"], eps["end_at"])
             for h in pd.date_range(s.ceil("h"), e, freq="h", inclusive="left") if h + HOUR <= e}
    return pd.DatetimeIndex(sorted(h for h in hours if start <= h < end), tz="UTC", name="hour_start")


def compare_calibration_windows(lake: Lake, plant_id: str, day: dt.date, *, window_days: int = 7) -> dict[str, Any]:
    """Validation MAPE of calibrating on the detected steady-normal hours against the truth's normal hours.

    Both fits use the same window, the same tag-hour quality rules (good fraction, no flagged reading
    of a needed tag) and the same held-out rule; only the choice of hours differs. The second is what
    calibration did before monitoring existed — possible only on a simulator.
    """
    from models.calibration import calibrate, calibration_for
    from nexus.errors import CalibrationFailed
    from optimization.calibrate import normal_hours

    start = dt.datetime.combine(day - dt.timedelta(days=window_days - 1), dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    tags = calibration_for(plant_id).tags
    detected, _ = normal_hours(lake, plant_id, tags, start, end)
    # The same quality rules without the monitor's selection: every complete, unflagged hour ...
    every, _ = normal_hours(lake, plant_id, tags, start, end, select=False)
    # ... of which the truth's normal hours.
    truth = every[every.index.isin(truth_normal_hours(lake, plant_id, start, end))]
    out: dict[str, Any] = {"plant_id": plant_id, "day": day}
    for name, frame in (("detected", detected), ("truth", truth)):
        try:
            res = calibrate(plant_id, frame)
            mape = res.validation_mape_pct
            out[f"{name}_hours"] = res.fit_hours + res.validation_hours
            out[f"{name}_validation_mape_pct"] = max(mape.values()) if mape else None
        except CalibrationFailed as exc:
            out[f"{name}_hours"] = len(frame)
            out[f"{name}_validation_mape_pct"] = None
            out[f"{name}_message"] = str(exc)[:200]
    both = detected.index.intersection(truth.index)
    out["detected_hours_truly_normal_pct"] = 100.0 * len(both) / len(detected) if len(detected) else None
    return out
