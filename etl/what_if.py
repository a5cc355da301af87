"""What-if experiments on the CO2 electrolyzer twin, with results in gold.

An operator chooses a stack current, the CO2 concentration and flow of the feed gas and a
duration (the origin project's what-if form); :func:`run_experiment` runs the twin's dynamic
response (:func:`models.co2_electrolyzer.what_if`) and :func:`publish_experiment` writes it to
``gold.fct_what_if_runs`` (one row per experiment: inputs, totals, which source answered each
output) and ``gold.fct_what_if_timeseries`` (the trajectory).

Outputs can be answered per variable by the data-driven surrogate instead of the physics
(:class:`models.co2_electrolyzer.HybridTwin`). :func:`train_surrogate_from_lake` fits it on the
plant's hourly history in ``gold.fct_tag_hourly``, leaving out the hours monitoring found
abnormal — process-anomaly events and tag-hours with flagged readings (the surrogate's inputs
cannot see faults such as membrane flooding, so those hours would only teach it noise), and keeps the fitted model as an artifact under
``<lake>/artifacts/surrogates/`` — tasks pass its path, never the model itself.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import pickle
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from etl.units import convert
from nexus.errors import ContractViolation
from warehouse import storage
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import FCT_TAG_HOURLY, FCT_WHAT_IF_RUNS, FCT_WHAT_IF_TIMESERIES

log = logging.getLogger(__name__)
PLANT_ID = "co2_electrolyzer"

#: What-if trajectory column answered by each twin variable (hybrid replacement).
VARIABLE_COLUMNS = {
    "faradaic_efficiency": "faradaic_efficiency_pct",
    "cell_voltage": "cell_voltage_v",
    "h2_outlet": "h2_outlet_pct",
    "co2_conversion": "co2_conversion_pct",
    "formic_acid_rate": "formic_acid_kg_h",
    "specific_energy": "specific_energy_kwh_kg",
    "stack_power": "stack_power_kw",
}
SERIES_COLUMNS = ["current_a", "current_density_ma_cm2", "co2_flow_nm3_h", "co2_concentration_pct",
                  "faradaic_efficiency_pct", "cell_voltage_v", "cell_temp_c", "formic_acid_kg_h", "formic_acid_cum_kg",
                  "h2_outlet_pct", "co2_conversion_pct", "co2_vented_kg_h", "stack_power_kw", "energy_kwh",
                  "specific_energy_kwh_kg", "co2_starved"]


def hourly_history(lake: Lake, start: dt.datetime, end: dt.datetime, *,
                   exclude: Sequence[str] = ("process_anomaly", "shutdown")) -> pd.DataFrame:
    """The electrolyzer's hourly tag means as a wide frame in the tags' historian units.

    Hours that overlap a detected event of a kind in ``exclude`` (``gold.fct_events``) are left
    out, and so are tag-hours with readings that sensor-health monitoring flagged (NaN).
    """
    from models import get_plant

    tags = {t.tag: t for t in get_plant(PLANT_ID).TAGS}
    hourly = lake.read(FCT_TAG_HOURLY, where={"plant_id": PLANT_ID}, start=start, end=end,
                       columns=["tag", "hour_start", "twa_value", "flagged_count"]).to_pandas()
    if hourly.empty:
        raise ContractViolation(f"gold.fct_tag_hourly has no {PLANT_ID} hours in [{start}, {end}); ingest them first")
    hourly.loc[hourly["flagged_count"] > 0, "twa_value"] = np.nan
    wide = hourly.pivot_table(index="hour_start", columns="tag", values="twa_value", aggfunc="first")
    for tag in wide.columns:  # gold is in canonical units; the twin speaks the historian's
        spec = tags.get(tag)
        if spec is not None and spec.unit != spec.canonical_unit:
            wide[tag] = convert(wide[tag].to_numpy(), spec.canonical_unit, spec.unit)
    if exclude:
        from etl.monitoring import hours_in_events

        wide = wide[~hours_in_events(lake, PLANT_ID, pd.DatetimeIndex(wide.index), exclude)]
    return wide


def train_surrogate_from_lake(lake: Lake, *, outputs: Sequence[str], days: int, end: dt.datetime, run_id: str,
                              seed: int = 0) -> dict[str, Any]:
    """Fit the surrogate on ``days`` of hourly history before ``end``; save it; return its path and metrics."""
    from models.co2_electrolyzer import train_surrogate

    frame = hourly_history(lake, end - dt.timedelta(days=days), end)
    surrogate = train_surrogate(frame, outputs=list(outputs), seed=seed)
    rel = f"artifacts/surrogates/{PLANT_ID}/{_safe(run_id)}.pkl"
    ranges = {t: (float(frame[t].min()), float(frame[t].max())) for t in surrogate.inputs if t in frame}
    lake.files.write_bytes(rel, pickle.dumps({"surrogate": {"inputs": surrogate.inputs, "outputs": surrogate.outputs,
                                                            "seed": surrogate.seed, "models": dict(surrogate.models),
                                                            "metrics": dict(surrogate.metrics)},
                                              "input_ranges": ranges}))
    path = lake.files.uri(rel)
    metrics = {k: {"r2": round(m.r2, 5), "mape": round(m.mape, 5), "n_train": m.n_train, "n_test": m.n_test}
               for k, m in surrogate.metrics.items()}
    log.info("surrogate on %s hours: %s", len(frame), metrics)
    return {"path": str(path), "hours": len(frame), "metrics": metrics, "input_ranges": ranges}


def load_surrogate(path: str | Path):
    """A surrogate saved by :func:`train_surrogate_from_lake` and the input ranges it was trained on.

    The artifact is a pickle: load only files Nexus wrote.
    """
    from models.co2_electrolyzer import Surrogate

    location = storage.folder(posixpath.dirname(str(path)))
    saved = pickle.loads(location.read_bytes(posixpath.basename(str(path))))
    return Surrogate(**saved["surrogate"]), saved["input_ranges"]


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def run_experiment(current_a: float, co2_concentration_pct: float, co2_flow_nm3_h: float, duration_h: float, *,
                   start: dt.datetime | None = None, step_minutes: float = 5.0, electrode_age_h: float = 0.0,
                   surrogate_path: str | None = None, sources: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The twin's response to the operator's set points, with chosen outputs from the surrogate.

    Returns the trajectory (``SERIES_COLUMNS`` plus ``elapsed_h``); ``attrs["source"]`` says which
    source answered each variable.
    """
    import warnings

    from models import co2_electrolyzer as ecr

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        traj = ecr.what_if(current_a, co2_concentration_pct, co2_flow_nm3_h, duration_h, start=start,
                           step=dt.timedelta(minutes=step_minutes), electrode_age_h=electrode_age_h)
    notes = [str(w.message) for w in caught]
    source = {v: "mechanistic" for v in VARIABLE_COLUMNS}
    chosen = {k: v for k, v in (sources or {}).items() if v == "surrogate"}
    if chosen:
        if surrogate_path is None:
            raise ValueError(f"{sorted(chosen)} are to come from the surrogate, but none was trained")
        surrogate, ranges = load_surrogate(surrogate_path)
        p = ecr.DEFAULT
        inputs = pd.DataFrame({
            "ECR.II101": traj["current_a"], "ECR.JI101": traj["current_density_ma_cm2"],
            "ECR.FI201": traj["co2_flow_nm3_h"], "ECR.AI201": traj["co2_concentration_pct"],
            "ECR.TI301": np.full(len(traj), ecr.NOMINAL.inlet_temp_c),
            "ECR.KY101": electrode_age_h + traj["elapsed_h"].to_numpy(),
        }, index=traj.index)
        for tag, (lo, hi) in ranges.items():
            if tag in inputs and ((inputs[tag] < lo).any() or (inputs[tag] > hi).any()):
                notes.append(f"surrogate extrapolates: {tag} spans {inputs[tag].min():.4g}..{inputs[tag].max():.4g}, "
                             f"trained on {lo:.4g}..{hi:.4g}")
        twin = ecr.HybridTwin(ecr.MechanisticTwin(p), surrogate, {**source, **chosen})
        answered = twin.predict(inputs)
        for var in chosen:
            traj[VARIABLE_COLUMNS[var]] = answered[var].to_numpy()
        source.update(chosen)
    traj.attrs["source"] = source
    traj.attrs["notes"] = notes
    return traj


def publish_experiment(lake: Lake, traj: pd.DataFrame, *, experiment_id: str, inputs: Mapping[str, float],
                       meta: CommitMeta, surrogate: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write one experiment to gold (replacing an earlier one with the same id)."""
    hours = traj["elapsed_h"].to_numpy(dtype=float)
    dt_h = np.diff(hours, prepend=0.0)
    series = traj[SERIES_COLUMNS].copy()
    series.insert(0, "elapsed_h", hours)
    series.insert(0, "experiment_id", experiment_id)
    series["ts"] = traj.index if isinstance(traj.index, pd.DatetimeIndex) else pd.NaT
    series["co2_starved"] = series["co2_starved"].astype(bool)
    summary = {
        "experiment_id": experiment_id, "plant_id": PLANT_ID, "run_id": meta.run_id,
        "requested_at": dt.datetime.now(dt.timezone.utc), **{k: float(v) for k, v in inputs.items()},
        "step_minutes": float(dt_h[1] * 60.0) if len(dt_h) > 1 else float("nan"),
        "formic_acid_kg": float(np.sum(traj["formic_acid_kg_h"].to_numpy() * dt_h)),
        "energy_kwh": float(np.sum(traj["stack_power_kw"].to_numpy() * dt_h)),
        "co2_vented_kg": float(np.sum(traj["co2_vented_kg_h"].to_numpy() * dt_h)),
        "mean_faradaic_efficiency_pct": float(np.average(traj["faradaic_efficiency_pct"], weights=np.maximum(dt_h, 1e-12))),
        "final_cell_voltage_v": float(traj["cell_voltage_v"].iloc[-1]),
        "co2_starved_fraction": float(np.sum(traj["co2_starved"].to_numpy(dtype=float) * dt_h) / max(hours[-1], 1e-12)),
        "sources": json.dumps(traj.attrs.get("source", {}), sort_keys=True),
        "surrogate_metrics": json.dumps(surrogate.get("metrics")) if surrogate else None,
        "notes": "; ".join(traj.attrs.get("notes", [])) or None,
    }
    summary["specific_energy_kwh_kg"] = summary["energy_kwh"] / summary["formic_acid_kg"] if summary["formic_acid_kg"] > 0 else None
    lake.replace_where(FCT_WHAT_IF_TIMESERIES, series, where={"experiment_id": experiment_id}, meta=meta)
    lake.upsert(FCT_WHAT_IF_RUNS, pd.DataFrame([summary]), meta=meta)
    return {k: v for k, v in summary.items() if k not in ("requested_at",)}


def experiments(lake: Lake) -> pd.DataFrame:
    """All what-if experiments, newest first."""
    runs = lake.read(FCT_WHAT_IF_RUNS)
    return runs.sort_by([("requested_at", "descending")]).to_pandas() if runs.num_rows else runs.to_pandas()


__all__ = ["VARIABLE_COLUMNS", "experiments", "hourly_history", "publish_experiment", "run_experiment",
           "train_surrogate_from_lake"]
