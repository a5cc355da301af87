"""Benchmark: do the physics-aware quality gates close on normal operation and catch faults?

Simulates ``--days`` days of every plant (``--plants``) into a temporary lake, monitors them
day by day (:func:`etl.monitoring.monitor_range`: sensor health, process scores, balance checks,
events), then reads ``gold.fct_balance_checks`` against the simulator's truth:

* **false violations** — violating balance-hours among the hours that overlap only normal
  episodes (hours a check could judge: no tag missing or flagged, plant running);
* **episodes caught** — abnormal and extreme episodes with at least one violating hour;
* **injected bias** — every measured tag a balance reads, 10 % high (``--bias``) over each
  plant's judged normal hours: the share of those hours each balance reading the tag flags,
  and the smallest |z| (evaluated in memory on the gold hourly means; the lake is not changed).

    .venv/bin/python benchmarks/bench_balances.py --days 7 [--plants cstr smelter] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path


def _only_normal(hours, episodes):
    import numpy as np
    import pandas as pd

    other = episodes[episodes["category"] != "normal"]
    bad = np.zeros(len(hours), dtype=bool)
    h = pd.DatetimeIndex(hours)
    for s, e in zip(other["start_at"], other["end_at"]):
        bad |= np.asarray((h + pd.Timedelta(hours=1) > s) & (h < e))
    return ~bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--plants", nargs="+", default=["cstr", "biorefinery", "co2_electrolyzer", "smelter"])
    parser.add_argument("--start", default="2026-03-01")
    parser.add_argument("--seed", type=int, default=57)
    parser.add_argument("--bias", type=float, default=0.10, help="relative bias of the injected instrument fault")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import pandas as pd

    from etl.balances import evaluate_plant, hourly_values
    from etl.monitoring import monitor_range
    from models import get_plant
    from models.balances import balances_for
    from nexus.history import backfill_history
    from nexus.truth import read_episodes
    from warehouse.lake import CommitMeta, Lake
    from warehouse.tables import FCT_BALANCE_CHECKS

    start = dt.date.fromisoformat(args.start)
    end = start + dt.timedelta(days=args.days)
    out: dict = {"days": args.days, "start": args.start, "seed": args.seed, "bias": args.bias, "plants": {}}
    with tempfile.TemporaryDirectory(prefix="bench-balances-") as tmp:
        lake = Lake(Path(tmp) / "lake")
        backfill_history(args.plants, start, end, lake=lake, seed=args.seed, chunk_days=args.days)
        meta = CommitMeta("bench_balances", "bench", "bench")
        for plant_id in args.plants:
            monitor_range(lake, plant_id, start, end, meta)
            checks = lake.read(FCT_BALANCE_CHECKS, where={"plant_id": plant_id}).to_pandas()
            truth = read_episodes(lake, plant_id)
            checks["normal"] = _only_normal(checks["hour_start"], truth)
            judged = checks[checks["normal"] & (checks["status"] != "insufficient_data")]
            per_balance = {}
            for name, g in judged.groupby("balance"):
                per_balance[name] = {
                    "judged_normal_hours": len(g), "false_violations": int((g["status"] == "violation").sum()),
                    "p95_abs_residual_pct": round(float(g["residual_pct"].abs().quantile(0.95)), 2),
                    "p99_abs_z": round(float(g["z_score"].abs().quantile(0.99)), 2)}
            caught = []
            for _, ep in truth[truth["category"].isin(["abnormal", "extreme"])].iterrows():
                hit = checks[(checks["status"] == "violation") & (checks["hour_start"] + pd.Timedelta(hours=1)
                                                                  > ep["start_at"]) & (checks["hour_start"] < ep["end_at"])]
                caught.append({"label": ep["label"], "tag": ep["tag"], "start": ep["start_at"].isoformat(),
                               "caught_by": sorted(set(hit["balance"]))})
            # injected bias on the judged normal hours, in memory
            values, counts = hourly_values(lake, plant_id, pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"))
            normal_hours = pd.DatetimeIndex(sorted(set(judged["hour_start"])))
            values, counts = values.loc[normal_hours], counts.loc[normal_hours]
            measured = {t.tag for t in get_plant(plant_id).TAGS if t.noise_pct > 0}
            bias = {}
            for tag in sorted({t for b in balances_for(plant_id) for t in b.tags} & measured):
                biased = values.copy()
                biased[tag] = biased[tag] * (1 + args.bias)
                res = evaluate_plant(plant_id, biased, counts)
                res = res[res["tags_used"].str.contains(tag, regex=False) & (res["status"] != "insufficient_data")]
                bias[tag] = {b: {"flagged_share": round(float((g["status"] == "violation").mean()), 3),
                                 "min_abs_z": round(float(g["z_score"].abs().min()), 1)}
                             for b, g in res.groupby("balance")}
            out["plants"][plant_id] = {"balances": per_balance, "episodes": caught, "bias": bias}
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    total = sum(v["judged_normal_hours"] for p in out["plants"].values() for v in p["balances"].values())
    false = sum(v["false_violations"] for p in out["plants"].values() for v in p["balances"].values())
    print(f"{args.days} days from {args.start}, seed {args.seed}: {false} violation(s) in {total} judged "
          f"balance-hours of normal operation ({100 * false / max(total, 1):.2f} %)")
    for plant_id, p in out["plants"].items():
        for name, v in p["balances"].items():
            print(f"  {plant_id:17s} {name:21s} {v['judged_normal_hours']:4d} h  false {v['false_violations']}  "
                  f"p95 |resid| {v['p95_abs_residual_pct']:.2f} %  p99 |z| {v['p99_abs_z']:.2f}")
        for ep in p["episodes"]:
            print(f"  {plant_id:17s} episode {ep['label']} {ep['tag'] or ''} {ep['start'][:16]}: "
                  f"{', '.join(ep['caught_by']) or 'not caught'}")
        for tag, by in p["bias"].items():
            print(f"  {plant_id:17s} {tag} +{100 * args.bias:.0f} %: " + ", ".join(
                f"{b} {100 * v['flagged_share']:.0f} % of hours (min |z| {v['min_abs_z']})" for b, v in by.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
