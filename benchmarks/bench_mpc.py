"""Benchmark: economic NMPC + MHE of the CSTR against TC102's PI law, and its solve time per step.

Runs every scenario of :mod:`optimization.mpc` (``setpoint_change``, ``feed_disturbance``,
``near_ignition``) for ``--minutes`` minutes with a ``--horizon``-minute horizon, the plant being
the twin's ODE (scipy) with seeded measurement noise, and prints per scenario and controller:

* IAE of the reactor temperature against the economic target (K min),
* minutes above the runaway limit of the plant's true conditions and the largest excursion (K),
* profit over the run (USD, the profit of :mod:`optimization.cstr`),
* NMPC solve time per step (MHE + NMPC, mean / p95 / max, s) against the 60-s sampling interval.

Controllers: ``pi_noise_free`` (the twin's own loop, :func:`models.cstr.run_closed_loop`,
noise-free T), ``pi`` (the same PI law reading the noisy TI102 the NMPC reads), ``nmpc``.

Then the continuous fermenter (:mod:`optimization.mpc.fermenter`, ``--hours`` h, horizon
``--fermenter-horizon`` h, 1-h sampling): PI on effluent glucose vs economic NMPC + MHE, with IAE
on the glucose, hours above the residual-sugar spec, washout margin (lowest cell mass), value
(USD/m3 of broth) and solve times against the 3600-s interval.

    .venv/bin/python benchmarks/bench_mpc.py [--minutes 120] [--horizon 20] [--hours 72]
        [--fermenter-horizon 24] [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=120)
    parser.add_argument("--horizon", type=int, default=20, help="NMPC horizon, min (1-min sampling)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the measurement noise")
    parser.add_argument("--scenarios", nargs="+", default=None)
    parser.add_argument("--hours", type=int, default=72, help="fermenter run length, h (0: skip)")
    parser.add_argument("--fermenter-horizon", type=int, default=24, help="fermenter NMPC horizon, h")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of tables")
    args = parser.parse_args(argv)

    from optimization.mpc import (
        FERMENTER_SCENARIOS,
        SCENARIOS,
        compare_fermenter_with_pi,
        compare_with_pi,
        make_fermenter_scenario,
        make_scenario,
    )

    names = args.scenarios or list(SCENARIOS)
    results: dict[str, dict] = {}
    for name in names:
        start = time.perf_counter()
        table = compare_with_pi(make_scenario(name, minutes=args.minutes), horizon=args.horizon, seed=args.seed)
        results[name] = {"wall_s": time.perf_counter() - start, "description": table.attrs["description"],
                         "table": table}

    fermenter: dict[str, dict] = {}
    for name in FERMENTER_SCENARIOS if args.hours > 0 else ():
        start = time.perf_counter()
        table = compare_fermenter_with_pi(make_fermenter_scenario(name, hours=args.hours),
                                          horizon=args.fermenter_horizon, seed=args.seed)
        fermenter[name] = {"wall_s": time.perf_counter() - start, "description": table.attrs["description"],
                           "table": table}

    def as_json(res: dict[str, dict]) -> dict:
        return {n: {"wall_s": r["wall_s"], "description": r["description"],
                    **{c: r["table"].loc[c].to_dict() for c in r["table"].index}} for n, r in res.items()}

    if args.json:
        print(json.dumps({"minutes": args.minutes, "horizon": args.horizon, "seed": args.seed,
                          "scenarios": as_json(results), "hours": args.hours,
                          "fermenter_horizon": args.fermenter_horizon, "fermenter": as_json(fermenter)},
                         default=float))
        return 0

    print(f"CSTR economic NMPC + MHE vs PI: {args.minutes} min per scenario, horizon {args.horizon} min, "
          f"sampling 60 s, noise seed {args.seed}")
    head = (f"{'scenario':<18}{'controller':<15}{'IAE K min':>10}{'min>lim':>9}{'max exc K':>10}{'max T K':>9}"
            f"{'profit USD':>11}{'solve mean s':>13}{'p95 s':>7}{'max s':>7}{'fails':>6}")
    print(head)
    for name, r in results.items():
        for controller, row in r["table"].iterrows():
            solve = (f"{row['solve_mean_s']:>13.3f}{row['solve_p95_s']:>7.3f}{row['solve_max_s']:>7.3f}"
                     if controller == "nmpc" else f"{'-':>13}{'-':>7}{'-':>7}")
            print(f"{name:<18}{controller:<15}{row['iae_temp_k_min']:>10.1f}{row['minutes_above_limit']:>9.0f}"
                  f"{row['max_excursion_k']:>10.2f}{row['max_temp_k']:>9.2f}{row['profit_usd']:>11.1f}{solve}"
                  f"{row['failed_solves']:>6.0f}")
    for name, r in results.items():
        nmpc = r["table"].loc["nmpc"]
        print(f"{name}: {r['description']}; NMPC p95 solve {nmpc['solve_p95_s']:.3f} s = "
              f"{100 * nmpc['solve_p95_s'] / nmpc['sampling_interval_s']:.2f} % of the sampling interval; "
              f"scenario wall time {r['wall_s']:.1f} s")
    if not fermenter:
        return 0
    print()
    print(f"Continuous fermenter economic NMPC + MHE vs PI on effluent glucose: {args.hours} h per scenario, "
          f"horizon {args.fermenter_horizon} h, sampling 3600 s")
    print(f"{'scenario':<18}{'controller':<12}{'IAE g/L h':>10}{'h>spec':>8}{'max exc':>8}{'min X':>7}"
          f"{'value USD/m3':>13}{'D P g/L/h':>10}{'solve mean s':>13}{'p95 s':>7}{'max s':>7}{'fails':>6}")
    for name, r in fermenter.items():
        for controller, row in r["table"].iterrows():
            solve = (f"{row['solve_mean_s']:>13.3f}{row['solve_p95_s']:>7.3f}{row['solve_max_s']:>7.3f}"
                     if controller == "nmpc" else f"{'-':>13}{'-':>7}{'-':>7}")
            print(f"{name:<18}{controller:<12}{row['iae_sugar_g_l_h']:>10.1f}{row['hours_above_spec']:>8.0f}"
                  f"{row['max_excess_g_l']:>8.2f}{row['min_cells_g_l']:>7.2f}{row['value_usd_m3']:>13.1f}"
                  f"{row['ethanol_productivity_g_l_h']:>10.2f}{solve}{row['failed_solves']:>6.0f}")
    for name, r in fermenter.items():
        print(f"{name}: {r['description']}; scenario wall time {r['wall_s']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
