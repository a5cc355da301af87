"""Pipeline step: Sobol' sensitivity of each plant's profit and CO2e to its calibrated parameters.

:mod:`models.sensitivity` is the method; this module applies it to the fleet for a day and writes
``gold.fct_sensitivity_indices``. For every plant instance with optimization (``models.fleet``):

1. **Conditions** — :func:`optimization.pipeline.conditions_for` gives the day's prices, carbon
   price, grid factor, limits, calibrated parameters and current setpoints (the scenario's, with
   ``scenario_id`` only: no price or rule change).
2. **Uncertainty** — :func:`parameter_uncertainty` reads the fit
   :func:`optimization.pipeline.calibrated_parameters` uses (latest ``fit_date <= day``, the scenario's
   rows first, then base; names in the optimizer module's ``CALIBRATED_PARAMETERS``). Each parameter
   is normal(estimate, std_error), truncated to its physical range: positive, and within [0, 1]
   where the table's unit is ``"1"`` (in this project's calibration every dimensionless calibrated
   parameter is a fraction: hydrolysis and fermentation yields, faradaic and current efficiencies).
   A parameter with a missing, NaN or zero standard error is held at its estimate and reported with
   indices 0 (a constant explains no variance). Parameters are taken as **independent**, as the
   Sobol'-Hoeffding decomposition and these estimators require; the fit's correlations
   (``correlation_json``) are not used. So the indices rank each parameter's *own* uncertainty, and
   where estimates are strongly correlated the output spread (``output_sd``) is overstated: the
   CSTR's UA and k0, both seen through the reactor temperature, correlate at 0.99 in the demo fit and
   act on profit with opposite signs, so the joint linearised SD of profit is about 40 % of the
   independent one. Indices for dependent inputs (e.g. Kucherenko et al. 2012) are not attempted.
3. **Model** — profit (USD/h) and CO2e (kg/h) at the day's *current operating point*, not at the
   optimum: ``plant_optimizer(plant).optimize(replace(cond, parameters=sample))`` and its
   ``current_profit_usd_h`` / ``current_co2e_kg_h`` (the square solve at the current setpoints).
   This answers "how much of our uncertainty about today's profit and footprint comes from each
   calibrated parameter", with the operating point held as it is.
4. **Indices** — :func:`models.sensitivity.sobol_indices` (Saltelli 2010 sampling, Saltelli S1 and
   Jansen ST estimators, bootstrap 95 % intervals), ``n (d + 2)`` model runs for ``d`` uncertain
   parameters.

Failed samples
--------------
:func:`models.sensitivity.sobol_indices` refuses non-finite outputs; it has no NaN-skipping mode.
So a sample whose solve fails (``InfeasibleOptimization``, or a parameter set the plant model
rejects, e.g. a biorefinery fermentation yield above the sugar consumed) is evaluated as NaN here,
and when any point failed the indices are computed on the sample *rows* ``j`` whose ``d + 2``
evaluations (``A_j``, ``B_j`` and every ``AB_i,j``) all succeeded — the row is dropped for both
outputs alike — with the same estimators and bootstrap (``models.sensitivity``'s own, which accept
any row count; SciPy's require a power of 2). Where the feasible set is a box (a bound per
parameter) this is exact: ``A_j`` and ``B_j`` inside the box imply every ``AB_i,j`` is inside, so
dropping rows is sampling the inputs truncated to the box, still independent. For other feasible
sets it is an approximation. The failures and dropped rows are logged and returned; more than half
the rows dropped is a failure of the plant (raised after every plant was tried and written).

Cost
----
Each model run is one ``optimize`` call (square solve + optimization, 0.03-0.3 s on the 2-core
reference machine). The calibrations fit 2-3 parameters per plant, so the default ``n = 32`` costs
128-160 runs: about 5 s for the electrolyzer and the CSTR, 10 s for the biorefinery and 25-35 s
for the smelter. Intervals at this ``n`` are wide (a few tenths); raise ``n`` (a power of 2) when
the ordering of close parameters matters.

Writes are idempotent per (scenario, plant, day): ``Lake.replace_interval`` on ``analysis_date``.
A plant with no calibration rows gets no rows (logged, and any earlier rows of that day removed).

Example
-------
>>> from optimization.sensitivity import sensitivity_day                     # doctest: +SKIP
>>> sensitivity_day(lake, dt.date(2026, 3, 2), meta=meta, plants=["cstr"])   # doctest: +SKIP
{'cstr': {'status': 'ok', 'model_version': 'cstr@2026-03-02', 'uncertain': ['UA', 'k0'], ...}}
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from models.fleet import instance_ids
from models.sensitivity import SobolResult, sobol_indices
from nexus.errors import ConfigError, InfeasibleOptimization
from optimization.pipeline import BASE, Scenario, conditions_for
from optimization.plants import OperatingConditions, plant_optimizer
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import FCT_MODEL_PARAMETERS, FCT_SENSITIVITY_INDICES

__all__ = ["DEFAULT_N", "OUTPUTS", "ParameterUncertainty", "parameter_uncertainty", "plant_sensitivity",
           "sensitivity_day"]

log = logging.getLogger(__name__)

#: Base sample size (rows of A and B): n (d + 2) optimize calls per plant, see the module docstring.
DEFAULT_N = 32
#: Outputs analysed, as ``gold.fct_sensitivity_indices.output`` names them.
OUTPUTS: tuple[str, ...] = ("profit_usd_h", "co2e_kg_h")
#: Units whose parameters are fractions, bounded above by 1.
FRACTION_UNITS = frozenset({"1", "fraction"})
#: An output whose sample standard deviation is below this share of max(1, |mean|) is taken as
#: constant (solver round-off only): its indices are 0, not ratios of noise.
CONSTANT_OUTPUT_RTOL = 1e-9
#: Exceptions that mean "this parameter sample has no solution", not a bug: solver verdicts and
#: parameter sets the plant model rejects.
SAMPLE_FAILURES = (InfeasibleOptimization, ConfigError, ValueError, ArithmeticError)


@dataclasses.dataclass(frozen=True)
class ParameterUncertainty:
    """One calibrated parameter and its uncertainty.

    Attributes:
        name: parameter name (as the optimizer's ``CALIBRATED_PARAMETERS`` names it).
        unit: unit from ``gold.fct_model_parameters``.
        estimate: fitted value.
        std_error: standard error of the fit (NaN when the fit gave none).
        low, high: physical range the distribution is truncated to.
    """

    name: str
    unit: str
    estimate: float
    std_error: float
    low: float
    high: float

    @property
    def uncertain(self) -> bool:
        """Whether the parameter varies (a finite, positive standard error)."""
        return bool(np.isfinite(self.std_error) and self.std_error > 0)

    def distribution(self) -> Any:
        """Frozen ``scipy.stats.truncnorm``: normal(estimate, std_error) within [low, high]."""
        if not self.uncertain:
            raise ValueError(f"{self.name}: no distribution, the standard error is {self.std_error!r}")
        a, b = (self.low - self.estimate) / self.std_error, (self.high - self.estimate) / self.std_error
        if not a < b:
            raise ValueError(f"{self.name}: expected a range with low < high, got [{self.low}, {self.high}]")
        return stats.truncnorm(a, b, loc=self.estimate, scale=self.std_error)


def parameter_uncertainty(lake: Lake, plant_id: str, day: dt.date, scenario_id: str = BASE,
                          accepted: Sequence[str] = ()) -> tuple[list[ParameterUncertainty], str | None]:
    """Estimates and standard errors of the calibration in use on ``day``, with their physical ranges.

    The same fit :func:`optimization.pipeline.calibrated_parameters` uses: the latest ``fit_date <=
    day``, the scenario's rows first, then base; only names in ``accepted``.

    Returns:
        The parameters (in ``accepted`` order) and the fit's ``model_version``; ``([], None)`` when the
        plant has no calibration rows.
    """
    if not lake.exists(FCT_MODEL_PARAMETERS):
        return [], None
    p = lake.read(FCT_MODEL_PARAMETERS, where={"plant_id": plant_id}, end=day + dt.timedelta(days=1)).to_pandas()
    for sid in (scenario_id, BASE):
        rows = p[p["scenario_id"] == sid]
        if len(rows):
            last = rows[rows["fit_date"] == rows["fit_date"].max()].set_index("parameter")
            out = []
            for name in accepted:
                if name not in last.index:
                    continue
                r = last.loc[name]
                se = float(r["std_error"]) if pd.notna(r["std_error"]) else math.nan
                high = 1.0 if str(r["unit"]).strip().lower() in FRACTION_UNITS else math.inf
                out.append(ParameterUncertainty(name, str(r["unit"]), float(r["estimate"]), se, 0.0, high))
            return out, str(last["model_version"].iloc[0])
    return [], None


class _SampleFailures(Exception):
    """Raised out of :func:`sobol_indices` by the model when some points failed, carrying all points."""

    def __init__(self, x: dict[str, np.ndarray], f: np.ndarray) -> None:
        super().__init__("some samples failed")
        self.x, self.f = x, f


def _model(module: Any, cond: OperatingConditions, fixed: Mapping[str, float], names: Sequence[str],
           failures: list[str]) -> Any:
    """Vectorised model for :func:`sobol_indices`: outputs at the current point per parameter sample."""

    def fun(x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n_points = len(next(iter(x.values())))
        f = np.full((len(OUTPUTS), n_points), np.nan)
        for j in range(n_points):
            params = {**fixed, **{k: float(x[k][j]) for k in names}}
            try:
                s = module.optimize(dataclasses.replace(cond, parameters=params))
            except SAMPLE_FAILURES as exc:
                failures.append(f"{ {k: round(v, 6) for k, v in params.items()} }: {type(exc).__name__}: {exc}")
                continue
            f[:, j] = (s.current_profit_usd_h, s.current_co2e_kg_h)
        if not np.isfinite(f).all():
            raise _SampleFailures(x, f)
        return dict(zip(OUTPUTS, f, strict=True))

    return fun


def _indices_without_failed_rows(x: dict[str, np.ndarray], f: np.ndarray, names: Sequence[str], n: int,
                                 seed: int, n_resamples: int) -> tuple[dict[str, np.ndarray], int]:
    """S1, ST and bootstrap bounds on the Saltelli rows whose every evaluation succeeded.

    ``x`` holds the points in :func:`models.sensitivity.sobol_indices`' order: pages ``A``, ``B``,
    ``AB_1`` ... ``AB_d`` of ``n`` columns each; checked here so that a change there cannot go unseen.
    """
    from models.sensitivity import _bootstrap, _indices  # the same estimators, for any row count

    d = len(names)
    xm = np.vstack([x[k] for k in names]).reshape(d, d + 2, n)  # (inputs, pages, rows)
    for i in range(d):
        expect = xm[:, 0].copy()
        expect[i] = xm[i, 1]
        if not np.array_equal(xm[:, 2 + i], expect):
            raise RuntimeError("models.sensitivity.sobol_indices expected to evaluate pages A, B, AB_i in order")
    blocks = f.reshape(len(OUTPUTS), d + 2, n)
    keep = np.isfinite(blocks).all(axis=(0, 1))
    f_a, f_b = blocks[:, 0, keep], blocks[:, 1, keep]
    f_ab = np.moveaxis(blocks[:, 2:, keep], 1, 0)  # (d, s, rows)
    s1, st, _ = _indices(f_a, f_b, f_ab, None)  # (d, s)
    if n_resamples > 0:
        lo, hi = _bootstrap(f_a, f_b, f_ab, None, np.random.default_rng(seed), 0.95, n_resamples, "percentile")
    else:
        lo = hi = [np.full_like(s1, np.nan)] * 2
    both = np.concatenate([f_a, f_b], axis=1)
    return {"S1": s1.T, "ST": st.T, "S1_low": lo[0].T, "S1_high": hi[0].T, "ST_low": lo[1].T, "ST_high": hi[1].T,
            "mean": both.mean(axis=1), "sd": both.std(axis=1)}, int(keep.sum())


def plant_sensitivity(plant_id: str, cond: OperatingConditions, uncertain: Sequence[ParameterUncertainty],
                      fixed: Mapping[str, float], *, n: int = DEFAULT_N, seed: int = 0,
                      n_resamples: int = 500) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Sobol' indices of profit and CO2e at the current point of ``cond`` for one plant.

    Args:
        plant_id: plant instance.
        cond: the day's operating conditions (``conditions_for``); its ``parameters`` are replaced
            by each sample.
        uncertain: parameters that vary (each with a positive standard error).
        fixed: parameters held at their estimate.
        n: base sample size, a power of 2 (``n (len(uncertain) + 2)`` optimize calls).
        seed: seed of the Sobol' scrambling and the bootstrap.
        n_resamples: bootstrap resamples for the 95 % intervals.

    Returns:
        A frame with one row per output and parameter (``output, parameter, first_order,
        first_order_low, first_order_high, total_order, total_order_low, total_order_high,
        output_mean, output_sd, n_samples``; fixed parameters with indices 0) and a summary
        (evaluations, failed samples, rows used).

    Raises:
        InfeasibleOptimization: when more than half of the sample rows have a failed evaluation.
    """
    module = plant_optimizer(plant_id)
    names = [p.name for p in uncertain]
    failures: list[str] = []
    info: dict[str, Any] = {"uncertain": names, "fixed": sorted(fixed), "n": n}
    if not names:  # nothing varies: one evaluation gives the outputs, every index is 0
        try:
            s = module.optimize(dataclasses.replace(cond, parameters=dict(fixed)))
        except SAMPLE_FAILURES as exc:
            raise InfeasibleOptimization(f"{plant_id}: the calibrated point does not solve: {exc}") from exc
        mean, sd = np.array([s.current_profit_usd_h, s.current_co2e_kg_h]), np.zeros(len(OUTPUTS))
        table = dict.fromkeys(("S1", "ST", "S1_low", "S1_high", "ST_low", "ST_high"), np.zeros((len(OUTPUTS), 0)))
        evaluations = used = 1
    else:
        bounds = {p.name: p.distribution() for p in uncertain}
        fun = _model(module, cond, fixed, names, failures)
        try:
            res: SobolResult = sobol_indices(fun, bounds, n=n, seed=seed, vectorized=True, n_resamples=n_resamples)
        except _SampleFailures as exc:
            table, rows = _indices_without_failed_rows(exc.x, exc.f, names, n, seed, n_resamples)
            mean, sd = table["mean"], table["sd"]
            evaluations, used = exc.f.shape[1], rows * (len(names) + 2)
            info["rows_used"] = rows
            log.warning("%s: %d of %d evaluations failed; %d of %d sample rows dropped. First: %s", plant_id,
                        len(failures), evaluations, n - rows, n, failures[0])
            if rows < n / 2:
                raise InfeasibleOptimization(
                    f"{plant_id}: expected at least half of the {n} Sobol' sample rows to solve, {rows} did; "
                    f"first failure: {failures[0]}") from None
        else:
            pick = lambda df: df.loc[list(OUTPUTS), names].to_numpy(dtype=float)  # noqa: E731
            table = {"S1": pick(res.first_order), "ST": pick(res.total_order),
                     "S1_low": pick(res.first_order_low), "S1_high": pick(res.first_order_high),
                     "ST_low": pick(res.total_order_low), "ST_high": pick(res.total_order_high)}
            mean = res.mean.loc[list(OUTPUTS)].to_numpy(dtype=float)
            sd = np.sqrt(res.variance.loc[list(OUTPUTS)].to_numpy(dtype=float))
            evaluations = used = res.n_evaluations
            info["rows_used"] = n
    info |= {"evaluations": evaluations, "failed_evaluations": len(failures)}
    rows_out = []
    for k, output in enumerate(OUTPUTS):
        constant = not sd[k] > CONSTANT_OUTPUT_RTOL * max(1.0, abs(mean[k]))
        if constant and names:
            log.info("%s: %s is constant over the sample (sd %.3g): indices 0", plant_id, output, sd[k])
        for i, name in enumerate(names):
            vals = {c: (0.0 if constant else float(table[c][k, i])) for c in table if c not in ("mean", "sd")}
            rows_out.append({"output": output, "parameter": name,
                             "first_order": vals["S1"], "first_order_low": vals["S1_low"],
                             "first_order_high": vals["S1_high"], "total_order": vals["ST"],
                             "total_order_low": vals["ST_low"], "total_order_high": vals["ST_high"],
                             "output_mean": float(mean[k]), "output_sd": float(sd[k]), "n_samples": int(used)})
        for name in sorted(fixed):
            rows_out.append({"output": output, "parameter": name, **dict.fromkeys(
                ("first_order", "first_order_low", "first_order_high", "total_order", "total_order_low",
                 "total_order_high"), 0.0), "output_mean": float(mean[k]), "output_sd": float(sd[k]),
                "n_samples": int(used)})
    return pd.DataFrame(rows_out), info


def sensitivity_day(lake: Lake, day: dt.date, *, meta: CommitMeta, plants: Sequence[str] | None = None,
                    scenario_id: str = BASE, n: int = DEFAULT_N, seed: int = 0,
                    n_resamples: int = 500) -> dict[str, Any]:
    """Sobol' indices of ``day`` for each plant into ``gold.fct_sensitivity_indices``.

    Args:
        lake: the lake (gold prices, rules, calibrations and hourly tags).
        day: the day whose conditions, current setpoints and calibration (latest fit on or before it) are used.
        meta: commit metadata of the run.
        plants: plant instances (default: every instance with optimization).
        scenario_id: the scenario whose calibration rows are preferred (then base) and under which rows
            are written; conditions are the day's own (a scenario's price or rule changes are not
            known from its id alone).
        n: base sample size, a power of 2; see the module docstring for the cost.
        seed: seed of the sampling and the bootstrap (same seed, same rows).
        n_resamples: bootstrap resamples of the 95 % intervals.

    Returns:
        Per plant: status (``ok`` or ``no_calibration``), model version, uncertain and fixed
        parameters, evaluations, failed evaluations, seconds, rows written and, per output, the
        parameter with the largest total-order index.

    Raises:
        InfeasibleOptimization: after every plant was tried and written, if any plant's sample
            mostly failed (that plant's rows for the day are left as they were).
    """
    scenario = Scenario(scenario_id=scenario_id)
    now = pd.Timestamp.now(tz="UTC")
    end = day + dt.timedelta(days=1)
    out: dict[str, Any] = {}
    errors = []
    for plant_id in plants or instance_ids(capability="optimization"):
        t0 = time.perf_counter()
        module = plant_optimizer(plant_id)
        where = {"scenario_id": scenario_id, "plant_id": plant_id}
        params, version = parameter_uncertainty(lake, plant_id, day, scenario_id,
                                                getattr(module, "CALIBRATED_PARAMETERS", ()))
        if not params:
            log.warning("%s: no calibration on or before %s (scenario %s or base): no sensitivity rows",
                        plant_id, day, scenario_id)
            lake.replace_interval(FCT_SENSITIVITY_INDICES, pd.DataFrame(columns=FCT_SENSITIVITY_INDICES.column_names),
                                  start=day, end=end, where=where, meta=meta)
            out[plant_id] = {"status": "no_calibration", "rows": 0}
            continue
        cond, _ = conditions_for(lake, plant_id, day, scenario)
        if cond.model_version != version:
            raise RuntimeError(f"{plant_id}: conditions use calibration {cond.model_version}, the uncertainty "
                               f"read {version}; expected the same fit")
        uncertain = [p for p in params if p.uncertain]
        fixed = {p.name: p.estimate for p in params if not p.uncertain}
        try:
            frame, info = plant_sensitivity(plant_id, cond, uncertain, fixed, n=n, seed=seed,
                                            n_resamples=n_resamples)
        except InfeasibleOptimization as exc:
            errors.append(str(exc))
            out[plant_id] = {"status": "failed", "message": str(exc)}
            continue
        frame = frame.assign(scenario_id=scenario_id, plant_id=plant_id, analysis_date=day, model_version=version,
                             run_id=meta.run_id, computed_at=now)[FCT_SENSITIVITY_INDICES.column_names]
        lake.replace_interval(FCT_SENSITIVITY_INDICES, frame, start=day, end=end, where=where, meta=meta)
        top = {o: g.loc[g["total_order"].idxmax(), "parameter"] for o, g in frame.groupby("output")}
        out[plant_id] = {"status": "ok", "model_version": version, **info, "rows": len(frame),
                         "largest_total_order": top, "seconds": round(time.perf_counter() - t0, 2)}
        log.info("%s: Sobol' indices from %d evaluations in %.1f s; largest total order %s", plant_id,
                 info["evaluations"], out[plant_id]["seconds"], top)
    if errors:
        raise InfeasibleOptimization("sensitivity failed for " + "; ".join(errors))
    return out
