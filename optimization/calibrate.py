"""Lake-facing calibration: fit each plant's drifting parameters on a rolling window of gold data.

For a day D, the window is the ``window_days`` days ending with D. Only hours that monitoring
classed as steady normal operation are used (:func:`etl.monitoring.steady_normal_hours`: plant
mode steady, no process-anomaly, transient or shutdown event — detected from the data, as on a real
plant; the simulator's ground truth is never read), and an hour is left out when a tag the fit
needs has no good reading, less than ``min_good_fraction`` good readings, or readings that
sensor-health monitoring flagged (stuck, spike, drift, noise).
:func:`models.calibration.calibrate` fits on the rest, holding out every 4th hour for validation.
The result goes to ``gold.fct_calibration_runs`` (one row per plant and day, also when the fit
failed or there was too little data) and ``gold.fct_model_parameters`` (one row per parameter).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nexus.errors import CalibrationFailed
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import (
    FCT_ASSET_HEALTH,
    FCT_CALIBRATION_RUNS,
    FCT_MODEL_PARAMETERS,
    FCT_TAG_HOURLY,
)

log = logging.getLogger(__name__)


def _utc(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)


def normal_hours(lake: Lake, plant_id: str, tags: Sequence[str], start: dt.datetime, end: dt.datetime, *,
                 min_good_fraction: float = 0.8, select: bool = True) -> tuple[pd.DataFrame, int]:
    """Wide hourly frame (index hour_start, columns tags, gold canonical units) of steady normal operation.

    Returns the frame and the number of hours of the window left out. ``select=False`` applies
    only the per-hour quality rules, not monitoring's selection (for evaluating that selection).
    """
    from etl.monitoring import steady_normal_hours

    hours = pd.date_range(start, end, freq="h", inclusive="left")
    if not lake.exists(FCT_TAG_HOURLY):
        return pd.DataFrame(columns=list(tags)), len(hours)
    h = lake.read(FCT_TAG_HOURLY, where={"plant_id": plant_id}, start=start, end=end,
                  columns=["tag", "hour_start", "twa_value", "good_fraction", "flagged_count"]).to_pandas()
    h = h[h["tag"].isin(tags)]
    h.loc[(h["good_fraction"] < min_good_fraction) | (h["flagged_count"] > 0), "twa_value"] = np.nan
    wide = h.pivot_table(index="hour_start", columns="tag", values="twa_value", aggfunc="first")
    wide = wide.reindex(index=pd.DatetimeIndex(hours, name="hour_start"), columns=list(tags))
    keep = wide.notna().all(axis=1).to_numpy().copy()
    if select:
        keep &= wide.index.isin(steady_normal_hours(lake, plant_id, start, end))
    return wide[keep], int((~keep).sum())


def calibrate_day(lake: Lake, day: dt.date, *, meta: CommitMeta, plants: Sequence[str] | None = None,
                  window_days: int = 7, scenario_id: str = "base", raise_on_failure: bool = True) -> dict[str, Any]:
    """Calibrate each plant on the window ending with ``day``; write runs and parameters to gold.

    A plant whose data are too few is recorded as ``insufficient_data`` (its last calibration
    stays in use). A fit that fails is recorded as ``failed`` with the engine's message, and —
    after every plant was tried and written — raised as :class:`CalibrationFailed` when
    ``raise_on_failure``, so the pipeline run shows it instead of passing silently.
    """
    from models.calibration import InsufficientData, calibrate, calibration_for
    from models.fleet import instance_ids

    start, end = _utc(day - dt.timedelta(days=window_days - 1)), _utc(day + dt.timedelta(days=1))
    now = pd.Timestamp.now(tz="UTC")
    out: dict[str, Any] = {}
    failures = []
    for plant_id in plants or instance_ids(capability="calibration"):
        spec = calibration_for(plant_id)
        version = f"{plant_id}@{day.isoformat()}"
        t0 = time.perf_counter()
        wide, excluded = normal_hours(lake, plant_id, spec.tags, start, end)
        run = {"scenario_id": scenario_id, "plant_id": plant_id, "fit_date": day, "model_version": version,
               "window_start": start, "window_end": end, "hours_in_window": int(window_days * 24),
               "hours_excluded": excluded, "fit_hours": 0, "validation_hours": 0, "validation_mape_pct": None,
               "validation_mape_json": None, "fit_mape_json": None, "output_uncertainty_json": None, "parameters_out_of_band": 0,
               "run_id": meta.run_id, "computed_at": now}
        params = pd.DataFrame(columns=FCT_MODEL_PARAMETERS.column_names)
        try:
            res = calibrate(plant_id, wide)
        except CalibrationFailed as exc:
            few = isinstance(exc, InsufficientData)
            run |= {"status": "insufficient_data" if few else "failed", "message": str(exc)}
            if not few:
                failures.append(f"{plant_id}: {exc}")
        else:
            mape = res.validation_mape_pct
            worst = max(mape.values()) if mape else None
            run |= {"fit_hours": res.fit_hours, "validation_hours": res.validation_hours, "validation_mape_pct": worst,
                    "validation_mape_json": json.dumps(mape), "fit_mape_json": json.dumps(res.fit_mape_pct),
                    "output_uncertainty_json": json.dumps(res.output_uncertainty),
                    "parameters_out_of_band": int(res.parameters["out_of_band"].sum()), "status": "calibrated",
                    "message": res.message}
            params = res.parameters.assign(scenario_id=scenario_id, plant_id=plant_id, fit_date=day,
                                           model_version=version, window_start=start, window_end=end,
                                           validation_mape_pct=worst, run_id=meta.run_id, computed_at=now)
            for r in params[params["out_of_band"]].itertuples():
                log.warning("%s: %s = %.4g %s is outside its band [%.4g, %.4g] (%.1f %% from design): maintenance alert",
                            plant_id, r.parameter, r.estimate, r.unit, r.band_low, r.band_high, r.drift_pct)
        run["seconds"] = time.perf_counter() - t0
        where = {"scenario_id": scenario_id, "plant_id": plant_id}
        nxt = day + dt.timedelta(days=1)
        lake.replace_interval(FCT_CALIBRATION_RUNS, pd.DataFrame([run], columns=FCT_CALIBRATION_RUNS.column_names),
                              start=day, end=nxt, where=where, meta=meta)
        lake.replace_interval(FCT_MODEL_PARAMETERS, params[FCT_MODEL_PARAMETERS.column_names], start=day, end=nxt,
                              where=where, meta=meta)
        out[plant_id] = {"status": run["status"], "fit_hours": run["fit_hours"], "excluded_hours": excluded,
                         "validation_mape_pct": run["validation_mape_pct"],
                         "out_of_band": run["parameters_out_of_band"], "seconds": round(run["seconds"], 2),
                         **({"message": run["message"]} if run["status"] != "calibrated" else {})}
    if failures and raise_on_failure:
        raise CalibrationFailed("calibration failed for " + "; ".join(failures))
    return out


def assess_asset_health(lake: Lake, plant_id: str, day: dt.date, meta: CommitMeta, *, history_days: int = 180,
                        scenario_id: str = "base") -> list[dict[str, Any]]:
    """Remaining useful life of the plant's degrading assets as of ``day`` into ``gold.fct_asset_health``.

    Each health indicator of :data:`models.maintenance.DEGRADATIONS` — a calibrated parameter from
    ``gold.fct_model_parameters`` or an indicator from the hourly tag means (hours with flagged
    readings left out) — is trended since its last maintenance and projected to its threshold
    (:func:`models.maintenance.remaining_useful_life`). Idempotent for the plant and day.
    """
    from models.maintenance import DEGRADATIONS, health_indicators, remaining_useful_life

    degradations = DEGRADATIONS.get(plant_id, ())
    if not degradations:
        return []
    start = _utc(day - dt.timedelta(days=history_days - 1))
    end = _utc(day + dt.timedelta(days=1))
    params = (lake.read(FCT_MODEL_PARAMETERS, where={"scenario_id": scenario_id, "plant_id": plant_id},
                        start=start.date(), end=end.date()).to_pandas()
              if lake.exists(FCT_MODEL_PARAMETERS) else None)
    hourly = (lake.read(FCT_TAG_HOURLY, where={"plant_id": plant_id}, start=start, end=end,
                        columns=["tag", "hour_start", "twa_value", "good_fraction", "flagged_count"]).to_pandas()
              if lake.exists(FCT_TAG_HOURLY) else None)
    history = health_indicators(plant_id, params, hourly)
    now = pd.Timestamp.now(tz="UTC")
    rows = []
    for deg in degradations:
        h = history[history["indicator"] == deg.indicator]
        row = remaining_useful_life(h, deg, as_of=day)
        rows.append({"plant_id": plant_id, **row, "run_id": meta.run_id, "computed_at": now})
        if row["status"] in ("plan_maintenance", "maintenance_due"):
            log.warning("%s %s: %s — %s", plant_id, deg.asset, row["status"], row["recommendation"])
    frame = pd.DataFrame(rows, columns=FCT_ASSET_HEALTH.column_names)
    lake.replace_interval(FCT_ASSET_HEALTH, frame, start=day, end=day + dt.timedelta(days=1),
                          where={"plant_id": plant_id}, meta=meta)
    return [{k: r[k] for k in ("asset", "indicator", "status", "rul_p50_days")} for r in rows]
