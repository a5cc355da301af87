"""Physics-aware quality gates on gold: do the plant's balances close, hour by hour?

For one plant and one UTC day, :func:`check_balances` evaluates every balance of
:mod:`models.balances` for the plant (CSTR energy and jacket duty; biorefinery fermentation
CO2, beer-column mass and ethanol, stillage filter; electrolyzer carbon and charge on cathode
and anode; smelter DC power, energy and carbon) on the day's ``gold.fct_tag_hourly``
time-weighted averages and replaces the day's rows of ``gold.fct_balance_checks``:
idempotent for its day, like the other monitoring steps.

* A tag-hour with no good reading or with readings flagged by sensor-health monitoring is
  missing: the balances that need it are ``insufficient_data`` for that hour (a stuck or
  spiking instrument is the sensor-health detector's finding, not a balance's).
* Each measured tag's hourly uncertainty is its catalog noise (``noise_pct`` of the span in
  the canonical unit) over the square root of the hour's good readings
  (:func:`tag_uncertainty`); calculated tags carry none (their share is in the model-form term).
* :func:`balance_events` turns runs of violating hours into ``balance_violation`` event
  frames; :func:`etl.monitoring.build_events` calls it, so ``gold.fct_events`` keeps a single
  writer and balance events are rebuilt, like the others, from the hourly table.

Only historian data and the tag catalog are read: never the simulator's truth.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd

from warehouse.lake import CommitMeta, Lake
from warehouse.tables import FCT_BALANCE_CHECKS, FCT_TAG_HOURLY

BALANCE_VERSION = "balances-1"
DETECTOR = "balance"


def _utc(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize("UTC")


def tag_noise(plant_id: str) -> dict[str, float]:
    """Standard deviation of one reading per measured tag, in the tag's canonical unit (catalog noise_pct x span)."""
    from etl.units import convert
    from models import get_plant

    out = {}
    for t in get_plant(plant_id).TAGS:
        if t.noise_pct <= 0:
            continue
        lo, hi = (float(convert(np.asarray(x, dtype=float), t.unit, t.canonical_unit))
                  for x in (t.range_min, t.range_max))
        out[t.tag] = t.noise_pct / 100.0 * abs(hi - lo)
    return out


def tag_uncertainty(noise: dict[str, float], good_count: pd.DataFrame) -> pd.DataFrame:
    """Standard uncertainty of each hourly mean: one reading's noise / sqrt(good readings in the hour).

    ``good_count`` is wide (hours x tags). Readings are independent draws of the instrument's
    noise (the catalog's model), so the mean of ``n`` of them is ``sqrt(n)`` times tighter;
    calculated tags (not in ``noise``) get 0.
    """
    u = pd.DataFrame(0.0, index=good_count.index, columns=good_count.columns)
    for tag in good_count.columns:
        if tag in noise:
            n = good_count[tag].astype(float).where(good_count[tag] > 0)
            u[tag] = noise[tag] / np.sqrt(n)
    return u


def hourly_values(lake: Lake, plant_id: str, start: pd.Timestamp, end: pd.Timestamp
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wide hourly means (NaN where no good reading or any reading flagged) and good-reading counts."""
    hours = pd.date_range(start, end, freq="h", inclusive="left", name="hour_start")
    if not lake.exists(FCT_TAG_HOURLY):
        return pd.DataFrame(index=hours), pd.DataFrame(index=hours)
    h = lake.read(FCT_TAG_HOURLY, where={"plant_id": plant_id}, start=start.to_pydatetime(), end=end.to_pydatetime(),
                  columns=["tag", "hour_start", "twa_value", "good_count", "flagged_count"]).to_pandas()
    h.loc[h["flagged_count"] > 0, "twa_value"] = np.nan
    values = h.pivot_table(index="hour_start", columns="tag", values="twa_value", aggfunc="first", dropna=False)
    counts = h.pivot_table(index="hour_start", columns="tag", values="good_count", aggfunc="first", dropna=False)
    return values.reindex(hours), counts.reindex(index=hours, columns=values.columns).fillna(0)


def evaluate_plant(plant_id: str, values: pd.DataFrame, counts: pd.DataFrame, *, k: float | None = None
                   ) -> pd.DataFrame:
    """Every balance of the plant on hourly values: long frame, one row per (balance, hour), table columns."""
    from models.balances import K_SIGMA, balances_for, evaluate

    k = K_SIGMA if k is None else k
    u = tag_uncertainty(tag_noise(plant_id), counts)
    frames = []
    for b in balances_for(plant_id):
        res = evaluate(b, values, u, k=k)
        present = values.reindex(columns=list(b.tags))
        missing = [", ".join(t for t in b.tags if not np.isfinite(row[t])) or None
                   for _, row in present.astype(float).iterrows()]
        term_cols = [c for c in res.columns if c.startswith("term:")]
        sides = {t.name: t.side for t in b.terms}
        terms_json = [json.dumps({c[5:]: {"side": sides[c[5:]], "value": _num(r[c])} for c in term_cols})
                      for _, r in res.iterrows()]
        frames.append(pd.DataFrame({
            "plant_id": plant_id, "hour_start": res.index, "balance": b.name, "quantity": b.quantity,
            "section": b.section, "unit": b.unit, "in_total": res["in_total"].to_numpy(),
            "out_total": res["out_total"].to_numpy(), "terms_json": terms_json, "residual": res["residual"].to_numpy(),
            "residual_pct": res["residual_pct"].to_numpy(), "sigma": res["sigma"].to_numpy(),
            "sigma_instruments": res["sigma_instruments"].to_numpy(), "sigma_model": res["sigma_model"].to_numpy(),
            "z_score": res["z"].to_numpy(), "k_sigma": float(k), "status": res["status"].to_numpy(),
            "tags_used": ", ".join(b.tags), "tag_shares": res["tag_shares"].to_numpy(), "missing_tags": missing,
            "model_version": f"{BALANCE_VERSION}:{b.plant_id}/{b.name}",
        }))
    if not frames:
        return pd.DataFrame(columns=[c for c in FCT_BALANCE_CHECKS.column_names if c not in ("run_id", "computed_at")])
    out = pd.concat(frames, ignore_index=True)
    for c in ("in_total", "out_total", "residual", "residual_pct", "sigma", "sigma_instruments", "sigma_model",
              "z_score"):
        out[c] = out[c].astype(float).where(np.isfinite(out[c].astype(float)), np.nan)
    return out


def _num(v: Any) -> float | None:
    return round(float(v), 6) if v is not None and np.isfinite(v) else None


def check_balances(lake: Lake, plant_id: str, day: dt.date, meta: CommitMeta, *, k: float | None = None
                   ) -> dict[str, Any]:
    """Evaluate the plant's balances on the day's hourly gold and replace the day in ``gold.fct_balance_checks``."""
    from models.balances import BALANCES

    if plant_id not in BALANCES:
        return {"status": "no_balances"}
    start, end = _utc(day), _utc(day + dt.timedelta(days=1))
    values, counts = hourly_values(lake, plant_id, start, end)
    if values.empty or values.notna().sum().sum() == 0:
        return {"status": "no_data"}
    rows = evaluate_plant(plant_id, values, counts, k=k)
    rows = rows.assign(run_id=meta.run_id, computed_at=pd.Timestamp.now(tz="UTC"))
    lake.replace_interval(FCT_BALANCE_CHECKS, rows[FCT_BALANCE_CHECKS.column_names], start=start.to_pydatetime(),
                          end=end.to_pydatetime(), where={"plant_id": plant_id}, meta=meta)
    by = rows.groupby(["balance", "status"]).size().unstack(fill_value=0)
    summary = {b: {s: int(n) for s, n in r.items() if n} for b, r in by.iterrows()}
    return {"status": "checked", "hours": int(rows["hour_start"].nunique()),
            "violations": int((rows["status"] == "violation").sum()), "balances": summary}


def balance_events(checks: pd.DataFrame, plant_id: str, data_end: pd.Timestamp, *, persistence_h: int = 2,
                   strong_ratio: float = 2.0) -> list[dict[str, Any]]:
    """Event frames from runs of consecutive violating hours of each balance (pure function of the checks).

    A run opens an event when it lasts ``persistence_h`` hours or one of its hours is at least
    ``strong_ratio`` times beyond the band (|z| >= strong_ratio x k). The event's cause is the
    balance (in ``detail`` and ``model_version``); ``top_tags`` are the instruments that could
    explain the gap (their share of the residual's instrument variance at the worst hour);
    ``peak_score`` is the worst |z| / k. An ok or insufficient_data hour ends a run.
    """
    from etl.monitoring import _event, _runs, _severity

    events: list[dict[str, Any]] = []
    if checks.empty:
        return events
    bad = checks[checks["status"] == "violation"]
    for name, g in bad.groupby("balance"):
        g = g.set_index("hour_start").sort_index()
        for first, last, members in _runs(g.index, 0):
            sub = g.loc[members]
            ratio = (sub["z_score"].abs() / sub["k_sigma"]).astype(float)
            peak = float(ratio.max())
            if len(members) < persistence_h and peak < strong_ratio:
                continue
            at = ratio.idxmax()
            worst = sub.loc[at]
            direction = "more in than out" if worst["residual"] > 0 else "more out than in"
            events.append(_event(
                plant_id, str(worst["section"]), "balance_violation", first, last, data_end,
                severity=_severity(peak), peak=peak, top=worst["tag_shares"],
                detail=f"{name} balance ({worst['quantity']}) off by more than {worst['k_sigma']:g} sigma for "
                       f"{len(members)} h: worst {worst['residual']:+.4g} {worst['unit']} "
                       f"({worst['residual_pct']:+.2f} % of throughput, z {worst['z_score']:+.1f}), {direction}",
                detector=DETECTOR, version=str(worst["model_version"]), tag=str(name)))
    return events
