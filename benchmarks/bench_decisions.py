"""Benchmark: calibration, setpoint optimization, Pareto fronts and the sustainability report.

Builds a temporary lake with the shipped regulatory documents, simulated prices and ``--days``
days of every plant ingested to gold, then times, per plant:

* calibration on the window of ``--days`` days (and per plant-day),
* one profit optimization (IPOPT, all stages; median of ``--repeats`` solves after a warm-up),
* one ε-constraint Pareto front of ``--pareto-points`` points,

and the day's carbon accounting, LCA (Monte Carlo ``--lca-samples``), pinch analysis, the benefits
(measured KPIs of the last day, its counterfactual replay under every decision policy with the
uncertainty propagation, and the Sobol' indices with ``--sobol-n``), and the HTML report.

    .venv/bin/python benchmarks/bench_decisions.py --days 7 [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--start", default="2026-03-01")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pareto-points", type=int, default=7)
    parser.add_argument("--lca-samples", type=int, default=500)
    parser.add_argument("--sobol-n", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    args = parser.parse_args(argv)

    from etl import market as em
    from etl import regulatory as er
    from etl.sensor import load_history
    from nexus.demo import seed_regulatory, simulate, simulate_market
    from optimization.calibrate import calibrate_day
    from optimization.pipeline import conditions_for, pareto_front
    from optimization.plants import OPTIMIZED_PLANTS, plant_optimizer
    from sustainability.pipeline import compute_emissions, compute_heat_integration, compute_lca, write_report
    from warehouse.lake import CommitMeta, Lake

    start = dt.date.fromisoformat(args.start)
    end = start + dt.timedelta(days=args.days)
    last = end - dt.timedelta(days=1)
    meta = CommitMeta("bench", "bench_decisions", "bench")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="nexus-bench-") as tmp:
        root = Path(tmp)
        lake, landing = Lake(root / "lake"), root / "landing"
        t0 = time.perf_counter()
        seed_regulatory(landing)
        er.run_all(lake, landing, meta)
        prices_from = start - dt.timedelta(days=16)
        while prices_from.weekday() >= 5:
            prices_from -= dt.timedelta(days=1)
        simulate_market(prices_from, (end - prices_from).days, seed=3, landing_dir=landing)
        em.load_history(lake, landing, prices_from, end, meta, reporting_currency="USD")
        from etl.monitoring import monitor_range

        for plant_id in OPTIMIZED_PLANTS:
            simulate(plant_id, start, args.days, seed=3, landing_dir=landing, lake=lake)
            load_history(lake, landing, plant_id, start, end, meta)
            # calibration fits the hours monitoring found steady and normal: without event frames it has none
            monitor_range(lake, plant_id, start, end, meta)
        setup_s = time.perf_counter() - t0

        for plant_id in OPTIMIZED_PLANTS:
            r: dict = {}
            t0 = time.perf_counter()
            cal = calibrate_day(lake, last, meta=meta, plants=[plant_id], window_days=args.days,
                                raise_on_failure=False)[plant_id]
            r["calibration_s"] = time.perf_counter() - t0
            r["calibration_s_per_plant_day"] = r["calibration_s"] / args.days
            r["calibration_status"] = cal["status"]
            r["validation_mape_pct"] = cal["validation_mape_pct"]
            module = plant_optimizer(plant_id)
            cond, _ = conditions_for(lake, plant_id, last)
            module.optimize(cond)  # warm-up: solver library and model imports
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                best = module.optimize(cond)
                times.append(time.perf_counter() - t0)
            r["optimize_s_median"] = statistics.median(times)
            t0 = time.perf_counter()
            front = pareto_front(plant_id, cond, args.pareto_points, best)
            r["pareto_s"] = time.perf_counter() - t0
            r["pareto_points"] = len(front)
            r["delta_profit_usd_h"] = best.profit_usd_h - best.current_profit_usd_h
            r["delta_co2e_kg_h"] = best.co2e_kg_h - best.current_co2e_kg_h
            results[plant_id] = r

        t0 = time.perf_counter()
        compute_emissions(lake, start, end, meta=meta)
        emissions_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        compute_lca(lake, last, meta=meta, n_samples=args.lca_samples)
        lca_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        compute_heat_integration(lake, last, meta=meta)
        pinch_s = time.perf_counter() - t0
        from optimization.benefits import measure_day, replay_day, write_targets
        from optimization.sensitivity import sensitivity_day

        t0 = time.perf_counter()
        measure_day(lake, last, meta=meta)
        kpis_s = time.perf_counter() - t0
        write_targets(lake, meta=meta)
        replay = replay_day(lake, last, meta=meta)
        for plant_id, out in replay.items():
            results[plant_id]["replay_s"] = out.get("seconds")
            results[plant_id]["replay_evaluations"] = out.get("twin_evaluations")
        t0 = time.perf_counter()
        sensitivity_day(lake, last, meta=meta, n=args.sobol_n)
        sobol_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rep = write_report(lake, last, meta=meta, window_days=args.days)
        report_s = time.perf_counter() - t0

    summary = {"days": args.days, "setup_s": round(setup_s, 1), "plants": results,
               "emissions_s": round(emissions_s, 2), "lca_s": round(lca_s, 2), "pinch_s": round(pinch_s, 3),
               "kpis_s": round(kpis_s, 2), "sobol_s": round(sobol_s, 1),
               "report_s": round(report_s, 2), "report_mb": round(rep["size_bytes"] / 1e6, 2),
               "peak_rss_mib": round(peak_rss_mib())}
    if args.json:
        print(json.dumps(summary, default=float))
        return 0
    print(f"lake with {args.days} days of 4 plants, prices and rules built in {setup_s:.1f} s")
    print(f"{'plant':<18}{'calib s':>9}{'s/plant-day':>13}{'val MAPE %':>12}{'optimize s':>12}{'Pareto s':>10}"
          f"{'points':>8}{'dProfit USD/h':>15}{'dCO2e kg/h':>12}{'replay s':>10}{'twin evals':>12}")
    for plant_id, r in results.items():
        mape = "" if r["validation_mape_pct"] is None else f"{r['validation_mape_pct']:.2f}"
        print(f"{plant_id:<18}{r['calibration_s']:>9.2f}{r['calibration_s_per_plant_day']:>13.3f}{mape:>12}"
              f"{r['optimize_s_median']:>12.3f}{r['pareto_s']:>10.2f}{r['pareto_points']:>8}"
              f"{r['delta_profit_usd_h']:>15.2f}{r['delta_co2e_kg_h']:>12.2f}{r.get('replay_s') or 0:>10.2f}"
              f"{r.get('replay_evaluations') or 0:>12}")
    print(f"carbon accounting of {args.days} days x 4 plants {emissions_s:.2f} s; LCA ({args.lca_samples} samples) "
          f"{lca_s:.2f} s; pinch {pinch_s:.3f} s; KPIs of a day {kpis_s:.2f} s; Sobol' (n={args.sobol_n}) {sobol_s:.1f} s; "
          f"report {report_s:.2f} s ({rep['size_bytes'] / 1e6:.1f} MB); "
          f"peak RSS {peak_rss_mib():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
