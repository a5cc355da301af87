"""Seeing the plant from its own data: sensor health, process monitoring and event frames.

For one plant and one UTC day, :func:`monitor_day` runs three steps (and, before the third, the
balance checks of :mod:`etl.balances`), each idempotent for its day and using only what a real
plant gives — historian data in silver/gold and the tag catalog:

1. :func:`assess_sensors` — per-tag sensor health (:mod:`models.sensor_health`: stuck, spike,
   drift, noise) over the day with the ``context_days`` before it as reference. Flags are written
   back onto the day's silver readings (``flag``, ``flag_reason``; nothing is deleted), the day's
   ``gold.fct_tag_hourly`` is rebuilt so it counts them (``flagged_count``) and
   ``gold.fct_tag_health`` gets one row per tag and hour.
2. :func:`score_process` — multivariate monitoring of the hourly tag means
   (:class:`models.monitoring.PCAMonitor`, Hotelling T² and SPE with contributions, and an
   IsolationForest for comparison), plant-wide and per unit operation, trained without labels on
   the trailing ``training_days`` hours that the robust fit itself keeps as normal; the operating
   mode (steady, transient, shutdown) detected from the load tags. ``gold.fct_monitor_scores``.
3. :func:`build_events` — event frames from the hourly results: sensor faults per tag, process
   anomalies, transients, shutdowns and violated balances (``gold.fct_balance_checks``, written
   by :func:`etl.balances.check_balances` before this step), in ``gold.fct_events``. Events are rebuilt from the
   hourly tables over the period the day can affect (back to the start of an event still open
   before it), so a rerun replaces and never duplicates, and an open event is extended by later days.

:func:`steady_normal_hours` is what calibration and surrogate training select their data with:
hours the monitor classed as steady operation with no anomaly, shutdown or transient event.
The simulator's ground truth is never read here (it is for :mod:`nexus.evaluation`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from warehouse.lake import CommitMeta, Lake
from warehouse.tables import (
    DIM_TAGS,
    FCT_BALANCE_CHECKS,
    FCT_EVENTS,
    FCT_MONITOR_SCORES,
    FCT_TAG_HEALTH,
    FCT_TAG_HOURLY,
    SILVER_SENSOR_READINGS,
)

log = logging.getLogger(__name__)

PLANT_UNIT = "plant"
DETECTOR_VERSION = "sensor-health-1"
MONITOR_VERSION = "pca-1"


@dataclass(frozen=True)
class MonitorConfig:
    """How a plant is monitored: the tags its operating mode is read from and the model settings.

    ``load_tags`` are the throughput measurements (feed rate, stack or line current) whose level
    says whether the plant runs and whose changes mark transients; every plant historian has them.
    """

    load_tags: tuple[str, ...]
    variance: float = 0.90
    alpha: float = 0.99
    training_days: int = 14
    min_training_hours: int = 48
    scale_floor_pct: float = 1.0    # floor of a tag's scale, percent of its instrument span
    setpoint_suffix: str = ".SP"    # set-point tags (ISA-5.1 naming): inputs of the set-point adjustment
    persistence_h: int = 2          # consecutive alarm hours that open an event ...
    strong_ratio: float = 2.0       # ... unless one hour is this far above its limit
    merge_gap_h: int = 1            # alarm runs this close are one event


CONFIGS: dict[str, MonitorConfig] = {
    "cstr": MonitorConfig(load_tags=("CSTR.FI101",)),
    "biorefinery": MonitorConfig(load_tags=("BIO.WI101",)),
    "co2_electrolyzer": MonitorConfig(load_tags=("ECR.II101",)),
    "smelter": MonitorConfig(load_tags=("SMT.II101",)),
}


def config_for(plant_id: str) -> MonitorConfig:
    from models.fleet import plant_type

    kind = plant_type(plant_id)  # KeyError: neither an instance of the fleet nor a plant type
    if kind not in CONFIGS:
        raise KeyError(f"no monitoring configuration for plant {plant_id!r} of type {kind!r}; "
                       f"plant types with one: {sorted(CONFIGS)}")
    return CONFIGS[kind]


def _utc(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize("UTC")


def _catalog(plant_id: str) -> list[Any]:
    from models import get_plant
    from models.sensor_health import TagInfo

    return [TagInfo(tag=t.tag, range_min=float(t.range_min), range_max=float(t.range_max), measured=t.measured,
                    unit_operation=t.unit_operation) for t in get_plant(plant_id).TAGS]


def _canonical_catalog(lake: Lake, plant_id: str) -> list[Any]:
    """Tag catalog with ranges in the canonical (silver) unit, from gold.dim_tags when it exists."""
    from models import get_plant
    from models.sensor_health import TagInfo

    specs = {t.tag: t for t in get_plant(plant_id).TAGS}
    if lake.exists(DIM_TAGS):
        dims = lake.read(DIM_TAGS, where={"plant_id": plant_id}).to_pandas().set_index("tag")
    else:
        dims = pd.DataFrame()
    out = []
    for tag, t in specs.items():
        lo, hi = (float(dims.at[tag, "range_min"]), float(dims.at[tag, "range_max"])) if tag in dims.index else \
            (float(t.range_min), float(t.range_max))
        out.append(TagInfo(tag=tag, range_min=lo, range_max=hi, measured=t.measured, unit_operation=t.unit_operation))
    return out


# ---------------------------------------------------------------------------------- 1. sensors
def assess_sensors(lake: Lake, plant_id: str, day: dt.date, meta: CommitMeta, *, context_days: int = 7
                   ) -> dict[str, Any]:
    """Flag the day's silver readings, rebuild its hourly gold and write ``gold.fct_tag_health``."""
    from etl.sensor import Batch, build_hourly
    from models import get_plant
    from models.sensor_health import assess, hourly_health

    start, end = _utc(day), _utc(day + dt.timedelta(days=1))
    if not lake.exists(SILVER_SENSOR_READINGS):
        return {"readings": 0, "flagged": 0}
    readings = lake.read(SILVER_SENSOR_READINGS, where={"plant_id": plant_id},
                         start=(start - pd.Timedelta(days=context_days)).to_pydatetime(), end=end.to_pydatetime()
                         ).to_pandas()
    day_rows = readings[readings["ts"] >= start]
    if day_rows.empty:
        return {"readings": 0, "flagged": 0}
    sampling = pd.Timedelta(get_plant(plant_id).INFO.sampling)
    flagged = assess(readings[["tag", "ts", "value", "quality"]], _canonical_catalog(lake, plant_id),
                     start=start, end=end, sampling=sampling)
    keyed = flagged.set_index(["tag", "ts"])[["flag", "flag_reason"]]
    day_rows = day_rows.drop(columns=["flag", "flag_reason"]).join(keyed, on=["tag", "ts"])
    day_rows["flag"] = day_rows["flag"].astype(object).where(day_rows["flag"].notna(), None)
    day_rows["flag_reason"] = day_rows["flag_reason"].astype(object).where(day_rows["flag_reason"].notna(), None)
    lake.replace_interval(SILVER_SENSOR_READINGS, day_rows[SILVER_SENSOR_READINGS.column_names],
                          start=start.to_pydatetime(), end=end.to_pydatetime(), where={"plant_id": plant_id}, meta=meta)
    build_hourly(lake, Batch(plant_id, day), meta)

    health = hourly_health(flagged)
    now = pd.Timestamp.now(tz="UTC")
    scores_cols = [c for c in health.columns if c not in FCT_TAG_HEALTH.column_names and c not in ("tag", "hour_start")]
    rows = pd.DataFrame({
        "plant_id": plant_id, "tag": health["tag"], "hour_start": health["hour_start"],
        "sample_count": health["sample_count"].astype("int64"), "flagged_count": health["flagged_count"].astype("int64"),
        "stuck_count": health["stuck_count"].astype("int64"), "spike_count": health["spike_count"].astype("int64"),
        "drift_count": health["drift_count"].astype("int64"), "noise_count": health["noise_count"].astype("int64"),
        "flagged_fraction": health["flagged_fraction"].astype(float).fillna(0.0), "status": health["status"],
        "reason": health["reason"].astype(object).where(health["reason"].notna(), None),
        "scores_json": [json.dumps({c: _json_num(r[c]) for c in scores_cols}) if scores_cols else None
                        for _, r in health.iterrows()],
        "detector_version": DETECTOR_VERSION, "run_id": meta.run_id, "computed_at": now,
    })
    lake.replace_interval(FCT_TAG_HEALTH, rows[FCT_TAG_HEALTH.column_names], start=start.to_pydatetime(),
                          end=end.to_pydatetime(), where={"plant_id": plant_id}, meta=meta)
    counts = day_rows["flag"].value_counts().to_dict()
    return {"readings": len(day_rows), "flagged": int(sum(counts.values())), "flags": counts,
            "tags_flagged": int(rows.loc[rows["flagged_count"] > 0, "tag"].nunique())}


def _json_num(v: Any) -> Any:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return round(float(v), 6)
    return v


# ---------------------------------------------------------------------------------- 2. process
def hourly_frame(lake: Lake, plant_id: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Wide hourly tag means (index hour_start, one column per tag); tag-hours with flagged readings are NaN."""
    hours = pd.date_range(start, end, freq="h", inclusive="left", name="hour_start")
    if not lake.exists(FCT_TAG_HOURLY):
        return pd.DataFrame(index=hours)
    h = lake.read(FCT_TAG_HOURLY, where={"plant_id": plant_id}, start=start.to_pydatetime(), end=end.to_pydatetime(),
                  columns=["tag", "hour_start", "twa_value", "flagged_count"]).to_pandas()
    h.loc[h["flagged_count"] > 0, "twa_value"] = np.nan
    wide = h.pivot_table(index="hour_start", columns="tag", values="twa_value", aggfunc="first", dropna=False)
    return wide.reindex(hours)


def _units(plant_id: str, columns: Sequence[str]) -> dict[str, list[str]]:
    """Unit operation -> its tags among ``columns`` (units with at least 3 tags get a model of their own)."""
    from models import get_plant

    groups: dict[str, list[str]] = {}
    for t in get_plant(plant_id).TAGS:
        if t.tag in columns:
            groups.setdefault(t.unit_operation, []).append(t.tag)
    return {u: tags for u, tags in groups.items() if len(tags) >= 3}


def _top(contrib: list[list[tuple[str, float]]]) -> list[str | None]:
    return [", ".join(f"{n}:{s:.2f}" for n, s in row) if row else None for row in contrib]


def _setpoint_tags(plant_id: str, columns: Sequence[str], suffix: str) -> list[str]:
    from models import get_plant

    return [t.tag for t in get_plant(plant_id).TAGS if t.tag.endswith(suffix) and t.tag in columns]


def _counters(train: pd.DataFrame) -> list[str]:
    """Tags that only count up or down in training (run-hour and age counters): not process states."""
    if len(train) < 3:
        return []
    order = pd.Series(np.arange(len(train), dtype=float), index=train.index)
    return [c for c in train.columns if abs(train[c].corr(order, method="spearman")) >= 0.98]


@dataclass
class SetpointAdjustment:
    """Regression of the process tags on the set points, fitted on normal operation.

    Normal operation visits many operating points (set-point, rate and grade changes), and a
    linear PCA of the raw values would call every new combination abnormal. Monitoring the
    residuals of a regression on the known inputs instead — "regression adjustment" (Hawkins
    1991; model-based PCA, Wachs & Lewin 1999; Rato & Reis 2013) — removes what the operator's
    set points explain and keeps what they do not. The regression is a ridge fit on second-order
    polynomial features of the standardised set points; inputs are clipped to their training
    range so that a set point never seen before cannot extrapolate the quadratic terms.
    """

    inputs: list[str]
    outputs: list[str]
    model: Any = None
    low: Any = None
    high: Any = None

    def fit(self, train: pd.DataFrame) -> SetpointAdjustment:
        if self.inputs:
            from sklearn.linear_model import Ridge
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import PolynomialFeatures, StandardScaler

            x = train[self.inputs]
            self.low, self.high = x.min(), x.max()
            self.model = make_pipeline(StandardScaler(), PolynomialFeatures(2), Ridge(alpha=1.0)).fit(
                x.to_numpy(), train[self.outputs].to_numpy())
        return self

    def residuals(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[self.outputs]
        if self.model is None:
            return out
        x = frame[self.inputs].fillna(self.low).clip(self.low, self.high, axis=1)
        return out - self.model.predict(x.to_numpy())


def score_process(lake: Lake, plant_id: str, day: dt.date, meta: CommitMeta, *,
                  config: MonitorConfig | None = None) -> dict[str, Any]:
    """Score the day's hours with monitors trained on the days before; write ``gold.fct_monitor_scores``.

    Training uses the ``training_days`` before the day, hours the mode detector found steady; the
    robust PCA fit then leaves out the hours it judges abnormal itself (no labels). Monotone
    counters are left out, process tags are adjusted for the set points
    (:class:`SetpointAdjustment`), scales have a floor of ``scale_floor_pct`` of the instrument
    span, and the control limits are cross-validated quantiles (see :class:`PCAMonitor`).
    """
    from models.monitoring import IsolationForestMonitor, PCAMonitor, operating_modes

    cfg = config or config_for(plant_id)
    start, end = _utc(day), _utc(day + dt.timedelta(days=1))
    train_start = start - pd.Timedelta(days=cfg.training_days)
    wide = hourly_frame(lake, plant_id, train_start, end)
    wide = wide.dropna(axis=1, how="all")
    if wide.empty or not set(cfg.load_tags) <= set(wide.columns):
        return {"status": "no_data"}
    modes = operating_modes(wide, list(cfg.load_tags))
    train = wide[(wide.index < start) & (modes == "steady").to_numpy()]
    train = train[train.notna().mean(axis=1) >= 0.8]
    today = wide[wide.index >= start]
    now = pd.Timestamp.now(tz="UTC")
    base = pd.DataFrame({"plant_id": plant_id, "hour_start": today.index, "mode": modes[today.index].to_numpy()})
    if len(train) < cfg.min_training_hours:
        rows = base.assign(unit=PLANT_UNIT, n_tags=0, training_hours=len(train),
                           model_version=f"{plant_id}/{PLANT_UNIT}@{day}:insufficient-training")
        _write_scores(lake, plant_id, start, end, rows, meta, now)
        return {"status": "insufficient_training", "training_hours": len(train)}
    # Tags that vary in training; the few tag-hours missing or flagged in training are filled
    # with the tag's training median, so one bad tag does not cost the model the whole hour.
    cols = [c for c in train.columns if train[c].notna().mean() >= 0.8 and train[c].std(skipna=True) > 0]
    train = train[cols].fillna(train[cols].median())
    today = today[cols].fillna(train.median())
    counters = _counters(train)
    setpoints = [c for c in _setpoint_tags(plant_id, cols, cfg.setpoint_suffix) if c not in counters]
    monitored = [c for c in cols if c not in counters and c not in setpoints]
    adjust = SetpointAdjustment(setpoints, monitored).fit(train)
    train_r, today_r = adjust.residuals(train), adjust.residuals(today)
    spans = {t.tag: t.range_max - t.range_min for t in _canonical_catalog(lake, plant_id)}
    floor = {c: cfg.scale_floor_pct / 100.0 * spans.get(c, 0.0) for c in monitored}
    models: dict[str, list[str]] = {PLANT_UNIT: monitored, **_units(plant_id, monitored)}
    frames, summary = [], {}
    for unit, tags in models.items():
        pca = PCAMonitor(variance=cfg.variance, alpha=cfg.alpha, limits="cross-validated").fit(
            train_r[tags], scale_floor=floor)
        sc = pca.score(today_r[tags])
        alarm = sc["t2_alarm"] | sc["spe_alarm"]
        stat = np.where(sc["spe"] / pca.spe_limit >= sc["t2"] / pca.t2_limit, "spe", "t2")
        top: list[str | None] = [None] * len(sc)
        if alarm.any():
            for statistic in ("spe", "t2"):
                sel = alarm.to_numpy() & (stat == statistic)
                if sel.any():
                    tops = _top(list(pca.top_contributors(today_r[tags][sel], n=3, statistic=statistic)))
                    for i, t in zip(np.flatnonzero(sel), tops):
                        top[i] = t
        version = f"{plant_id}/{unit}@{train.index.min():%Y-%m-%d}..{day}:{pca.version[:12]}"
        rows = base.assign(unit=unit, t2=sc["t2"].to_numpy(), t2_limit=pca.t2_limit, spe=sc["spe"].to_numpy(),
                           spe_limit=pca.spe_limit, pca_alarm=alarm.to_numpy(), top_tags=top, n_tags=len(tags),
                           training_hours=int(pca.n_samples_), model_version=version)
        if unit == PLANT_UNIT:
            iso = IsolationForestMonitor(alpha=cfg.alpha, random_state=0).fit(train_r[tags], scale_floor=floor)
            isc = iso.score(today_r[tags])
            rows = rows.assign(if_score=isc["score"].to_numpy(), if_limit=float(iso.threshold),
                               if_alarm=isc["alarm"].to_numpy())
            summary = {"tags": len(tags), "setpoints": len(setpoints), "counters": counters,
                       "components": int(pca.n_components), "training_hours": int(pca.n_samples_),
                       "pca_alarm_hours": int(alarm.sum()), "if_alarm_hours": int(isc["alarm"].sum())}
        frames.append(rows)
    _write_scores(lake, plant_id, start, end, pd.concat(frames, ignore_index=True), meta, now)
    return {"status": "scored", "units": len(models), **summary,
            "modes": base["mode"].value_counts().to_dict()}


def _write_scores(lake: Lake, plant_id: str, start: pd.Timestamp, end: pd.Timestamp, rows: pd.DataFrame,
                  meta: CommitMeta, now: pd.Timestamp) -> None:
    rows = rows.assign(run_id=meta.run_id, computed_at=now)
    for c in FCT_MONITOR_SCORES.column_names:
        if c not in rows:
            rows[c] = None
    rows = rows[FCT_MONITOR_SCORES.column_names]
    rows = rows.astype({"t2": float, "t2_limit": float, "spe": float, "spe_limit": float, "if_score": float,
                        "if_limit": float})
    for c in ("pca_alarm", "if_alarm"):
        rows[c] = rows[c].astype(object).where(rows[c].notna(), None)
    lake.replace_interval(FCT_MONITOR_SCORES, rows, start=start.to_pydatetime(), end=end.to_pydatetime(),
                          where={"plant_id": plant_id}, meta=meta)


# ----------------------------------------------------------------------------------- 3. events
def _runs(hours: pd.DatetimeIndex, gap_h: int) -> list[tuple[pd.Timestamp, pd.Timestamp, list[pd.Timestamp]]]:
    """Group sorted hour starts into runs whose members are at most ``gap_h`` hours apart (gaps bridged)."""
    out: list[tuple[pd.Timestamp, pd.Timestamp, list[pd.Timestamp]]] = []
    for h in sorted(hours):
        if out and h - out[-1][1] <= pd.Timedelta(hours=gap_h + 1):
            out[-1] = (out[-1][0], h, out[-1][2] + [h])
        else:
            out.append((h, h, [h]))
    return out


def _event_id(*parts: Any) -> str:
    return hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()[:16]


def _severity(ratio: float) -> str:
    return "high" if ratio >= 3.0 else "medium" if ratio >= 1.5 else "low"


def _event(plant_id: str, unit: str, kind: str, first: pd.Timestamp, last: pd.Timestamp, data_end: pd.Timestamp,
           *, severity: str, peak: float | None, top: str | None, detail: str, detector: str, version: str,
           tag: str | None = None) -> dict[str, Any]:
    end = last + pd.Timedelta(hours=1)
    is_open = end >= data_end
    return {"event_id": _event_id(plant_id, unit, kind, tag or "", first.isoformat()), "plant_id": plant_id,
            "unit": unit, "kind": kind, "start_at": first, "end_at": None if is_open else end,
            "duration_h": (end - first) / pd.Timedelta(hours=1), "severity": severity, "peak_score": peak,
            "top_tags": top, "detail": detail, "detector": detector, "model_version": version}


def detect_events(scores: pd.DataFrame, health: pd.DataFrame, plant_id: str, cfg: MonitorConfig,
                  data_end: pd.Timestamp, units_of: dict[str, str]) -> list[dict[str, Any]]:
    """Event frames from hourly monitor scores and tag health (pure function of the two tables)."""
    events: list[dict[str, Any]] = []
    plant = scores[scores["unit"] == PLANT_UNIT].sort_values("hour_start").set_index("hour_start")
    # Process anomalies: runs of plant-model alarm hours, kept when they persist or are strong.
    if not plant.empty:
        ratio = np.fmax(plant["t2"] / plant["t2_limit"], plant["spe"] / plant["spe_limit"])
        alarm_hours = plant.index[plant["pca_alarm"].fillna(False).astype(bool)]
        units = scores[(scores["unit"] != PLANT_UNIT) & scores["pca_alarm"].fillna(False).astype(bool)]
        for first, last, members in _runs(alarm_hours, cfg.merge_gap_h):
            peak = float(ratio.loc[members].max())
            if len(members) < cfg.persistence_h and peak < cfg.strong_ratio:
                continue
            at = ratio.loc[members].idxmax()
            in_run = units[(units["hour_start"] >= first) & (units["hour_start"] <= last)]
            unit = PLANT_UNIT
            if not in_run.empty:
                r = in_run.assign(q=np.fmax(in_run["t2"] / in_run["t2_limit"], in_run["spe"] / in_run["spe_limit"]))
                unit = str(r.loc[r["q"].idxmax(), "unit"])
            top = plant.at[at, "top_tags"]
            modes = plant.loc[members, "mode"].value_counts()
            events.append(_event(
                plant_id, unit, "process_anomaly", first, last, data_end, severity=_severity(peak), peak=peak, top=top,
                detail=f"T2/SPE above the {cfg.alpha:.0%} limits for {len(members)} h (peak {peak:.1f}x the limit); "
                       f"most affected unit {unit}; modes {modes.to_dict()}",
                detector="pca", version=str(plant.at[at, "model_version"])))
        # Operating modes: transients and shutdowns.
        for kind in ("transient", "shutdown"):
            hours = plant.index[plant["mode"] == kind]
            for first, last, members in _runs(hours, 0):
                events.append(_event(
                    plant_id, PLANT_UNIT, kind, first, last, data_end, severity="low" if kind == "transient" else "medium",
                    peak=None, top=None, detail=f"operating mode {kind} for {len(members)} h (from the load tags "
                    f"{', '.join(cfg.load_tags)})", detector="operating_mode", version=MONITOR_VERSION))
    # Sensor faults: runs of flagged hours per tag.
    if not health.empty:
        bad = health[health["status"] != "ok"]
        for tag, g in bad.groupby("tag"):
            g = g.set_index("hour_start").sort_index()
            for first, last, members in _runs(g.index, cfg.merge_gap_h):
                sub = g.loc[members]
                counts = {k: int(sub[f"{k}_count"].sum()) for k in ("stuck", "spike", "drift", "noise")}
                kind = max(counts, key=counts.get)
                frac = float(sub["flagged_count"].sum() / max(int(sub["sample_count"].sum()), 1))
                reason = sub["reason"].dropna()
                events.append(_event(
                    plant_id, units_of.get(tag, PLANT_UNIT), "sensor_fault", first, last, data_end,
                    severity="high" if (sub["status"] == "faulty").any() else "medium" if len(members) > 1 else "low",
                    peak=frac, top=f"{tag}:1.00",
                    detail=f"{tag}: {kind} ({counts[kind]} readings flagged over {len(members)} h)"
                           + (f"; {reason.iloc[0]}" if len(reason) else ""),
                    detector="sensor_health", version=DETECTOR_VERSION, tag=tag))
    return events


def build_events(lake: Lake, plant_id: str, day: dt.date, meta: CommitMeta, *,
                 config: MonitorConfig | None = None) -> dict[str, Any]:
    """Rebuild the plant's events over the period the day can affect and replace them in gold."""
    from models import get_plant

    cfg = config or config_for(plant_id)
    if not lake.exists(FCT_MONITOR_SCORES):
        return {"events": 0}
    since = _utc(day) - pd.Timedelta(days=1)
    if lake.exists(FCT_EVENTS):
        old = lake.read(FCT_EVENTS, where={"plant_id": plant_id}, columns=["start_at", "end_at"]).to_pandas()
        crossing = old[(old["start_at"] < since) & (old["end_at"].isna() | (old["end_at"] >= since))]
        if not crossing.empty:
            since = min(since, crossing["start_at"].min())
    scores = lake.read(FCT_MONITOR_SCORES, where={"plant_id": plant_id}, start=since.to_pydatetime()).to_pandas()
    if scores.empty:
        return {"events": 0}
    data_end = scores["hour_start"].max() + pd.Timedelta(hours=1)
    health = (lake.read(FCT_TAG_HEALTH, where={"plant_id": plant_id}, start=since.to_pydatetime()).to_pandas()
              if lake.exists(FCT_TAG_HEALTH) else pd.DataFrame())
    if not health.empty:
        health = health[health["hour_start"] < data_end]
    units_of = {t.tag: t.unit_operation for t in get_plant(plant_id).TAGS}
    events = detect_events(scores, health, plant_id, cfg, data_end, units_of)
    if lake.exists(FCT_BALANCE_CHECKS):  # physics-aware quality gates (etl.balances): violated balances
        from etl.balances import balance_events

        checks = lake.read(FCT_BALANCE_CHECKS, where={"plant_id": plant_id}, start=since.to_pydatetime(),
                           end=data_end.to_pydatetime()).to_pandas()
        events += balance_events(checks, plant_id, data_end, persistence_h=cfg.persistence_h,
                                 strong_ratio=cfg.strong_ratio)
    now = pd.Timestamp.now(tz="UTC")
    frame = pd.DataFrame(events, columns=[c for c in FCT_EVENTS.column_names if c not in ("run_id", "computed_at")])
    frame = frame.assign(run_id=meta.run_id, computed_at=now)
    frame["peak_score"] = frame["peak_score"].astype(float)
    lake.replace_interval(FCT_EVENTS, frame[FCT_EVENTS.column_names], start=since.to_pydatetime(),
                          end=(data_end + pd.Timedelta(days=3650)).to_pydatetime(), where={"plant_id": plant_id},
                          meta=meta)
    kinds = frame["kind"].value_counts().to_dict()
    return {"events": len(frame), "kinds": kinds, "open": int(frame["end_at"].isna().sum()), "since": str(since)}


def monitor_day(lake: Lake, plant_id: str, day: dt.date, meta: CommitMeta, *,
                config: MonitorConfig | None = None) -> dict[str, Any]:
    """All steps for one plant-day (what the DAG does, for scripts and the demo): sensors, process,
    balances (:func:`etl.balances.check_balances`), then the events of all three."""
    from etl.balances import check_balances

    return {"sensors": assess_sensors(lake, plant_id, day, meta),
            "process": score_process(lake, plant_id, day, meta, config=config),
            "balances": check_balances(lake, plant_id, day, meta),
            "events": build_events(lake, plant_id, day, meta, config=config)}


def monitor_range(lake: Lake, plant_id: str, start: dt.date, end: dt.date, meta: CommitMeta, *,
                  config: MonitorConfig | None = None, progress: Any = None) -> list[dict[str, Any]]:
    """:func:`monitor_day` for every day of ``[start, end)`` in order (history, backfills)."""
    out = []
    day = start
    while day < end:
        res = monitor_day(lake, plant_id, day, meta, config=config)
        out.append(res)
        if progress:
            progress(f"{plant_id} {day}: {res['sensors'].get('flagged', 0)} readings flagged, "
                     f"{res['process'].get('status')}, {res['balances'].get('violations', 0)} balance-hours "
                     f"violated, {res['events'].get('events', 0)} events")
        day += dt.timedelta(days=1)
    return out


# --------------------------------------------------------------------------- calibration windows
def steady_normal_hours(lake: Lake, plant_id: str, start: dt.datetime, end: dt.datetime) -> pd.DatetimeIndex:
    """Hours of ``[start, end)`` the monitor classed as steady operation with no detected event.

    An hour qualifies when the plant-wide monitor scored it in mode ``steady`` and no process
    anomaly, transient or shutdown event overlaps it. Sensor faults are handled per tag
    (``gold.fct_tag_hourly.flagged_count``) by the caller. Hours never monitored do not qualify.
    """
    if not lake.exists(FCT_MONITOR_SCORES):
        return pd.DatetimeIndex([], tz="UTC", name="hour_start")
    sc = lake.read(FCT_MONITOR_SCORES, where={"plant_id": plant_id, "unit": PLANT_UNIT}, start=start, end=end,
                   columns=["hour_start", "mode"]).to_pandas()
    hours = pd.DatetimeIndex(sc.loc[sc["mode"] == "steady", "hour_start"]).sort_values()
    if len(hours):
        hours = hours[~hours_in_events(lake, plant_id, hours, ("process_anomaly", "transient", "shutdown"))]
    return pd.DatetimeIndex(hours, name="hour_start")


def hours_in_events(lake: Lake, plant_id: str, hours: pd.DatetimeIndex, kinds: Sequence[str]) -> np.ndarray:
    """Mask of the hours (by hour start) that overlap a detected event of one of ``kinds`` (open events included)."""
    inside = np.zeros(len(hours), dtype=bool)
    if not lake.exists(FCT_EVENTS) or not len(hours):
        return inside
    ev = lake.read(FCT_EVENTS, where={"plant_id": plant_id}, columns=["kind", "start_at", "end_at"]).to_pandas()
    ev = ev[ev["kind"].isin(list(kinds))]
    far = pd.Timestamp.max.tz_localize("UTC")
    for s, e in zip(ev["start_at"], ev["end_at"].fillna(far)):
        inside |= np.asarray((hours + pd.Timedelta(hours=1) > s) & (hours < e))
    return inside
