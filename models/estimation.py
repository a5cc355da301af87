"""Generic parameter estimation: weighted nonlinear least squares for steady-state and ODE models.

The physics, the data and the choice of estimated parameters are three separate things, as in
Pyomo's ``parmest``:

* a **model** takes parameters and operating conditions and returns predictions, and knows
  nothing about data: a :class:`SteadyStateModel` (``f(theta, conditions) -> outputs``) or an
  :class:`ODEModel` (``rhs(t, y, theta, conditions)`` plus an observation map);
* an :class:`Experiment` binds one data set to the model: its conditions, its time points
  (``None`` for a steady state), the measured outputs, their standard deviations or weights and,
  for ODEs, the initial state;
* a tuple of :class:`Parameter` says which parameters are estimated, from where, within which
  bounds, on which scale (``log=True`` for rate constants spanning decades) and which are held
  fixed.

:func:`estimate` minimises the weighted sum of squared residuals over every experiment with
``scipy.optimize.least_squares`` (trust-region reflective, bounds, ``x_scale``), integrating ODEs
with ``scipy.integrate.solve_ivp`` at tight tolerances, and returns an :class:`Estimate` with the
parameters, their linearised covariance, standard errors, correlation matrix, t-based confidence
intervals and residual statistics. It raises :class:`~nexus.errors.CalibrationFailed` instead of
returning a bad fit: when the optimiser stops without converging, when the integration fails,
and when the Jacobian at the optimum is rank deficient (the non-identifiable parameters are
named).

:func:`monte_carlo_propagation` pushes the parameter uncertainty of an :class:`Estimate` (or any
mean and covariance) through any function of the parameters.

Statistical assumptions
-----------------------
Residuals are independent with zero mean; the variance of output ``k`` is ``sigma_k**2`` (known,
when every experiment gives ``sigma``) or ``s**2 / w_k`` (unknown scale ``s**2`` estimated as
``SSR / (n - p)``, when weights or nothing are given). The covariance is the Gauss-Newton
approximation at the optimum (Bates & Watts, *Nonlinear Regression Analysis and Its
Applications*, Wiley 1988, ch. 2)::

    cov = s**2 (J^T J)^-1    (unknown variance)      cov = (J^T J)^-1    (known sigma)

with ``J`` the Jacobian of the weighted residuals. Parameters estimated on a log scale are
optimised in ``z = ln(theta)``; their covariance is mapped back with the delta method
``cov_theta = D cov_z D``, ``D = diag(theta)``, and their confidence interval is
``exp(z +- q se_z)`` (asymmetric, always positive).

Example
-------
>>> import numpy as np, pandas as pd
>>> model = SteadyStateModel(lambda th, c: {"y": th["a"] * c["x"] + th["b"]}, outputs=("y",))
>>> exps = [Experiment(f"x={x}", {"y": 2.0 * x + 1.0}, conditions={"x": x}) for x in range(4)]
>>> est = estimate(model, exps, [Parameter("a", 1.0), Parameter("b", 0.0)])
>>> round(est.theta["a"], 6), round(est.theta["b"], 6)
(2.0, 1.0)
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.integrate import solve_ivp
from scipy.optimize import least_squares

from nexus.errors import CalibrationFailed

__all__ = [
    "Estimate",
    "Experiment",
    "ODEModel",
    "Parameter",
    "Propagation",
    "SteadyStateModel",
    "estimate",
    "experiments_from_frame",
    "monte_carlo_propagation",
    "predict",
]

Theta = Mapping[str, float]
Conditions = Mapping[str, Any]
Outputs = Mapping[str, Any] | Sequence[float] | np.ndarray

_ODE_METHODS = ("LSODA", "Radau", "BDF", "RK45", "DOP853", "RK23")


# --------------------------------------------------------------------------------------------
# Specifications: parameters, models, experiments
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """One model parameter: its starting value, bounds, scale and whether it is estimated.

    Parameters
    ----------
    name : str
        Name the model functions look up in ``theta``.
    initial : float
        Starting value of the fit (the value used when ``fixed``).
    lower, upper : float
        Bounds (``-inf``/``inf`` for none). ``lower <= initial <= upper``.
    log : bool
        Estimate ``ln(theta)`` instead of ``theta``: for positive quantities spanning decades
        (rate constants, pre-exponential factors). Needs ``initial > 0`` and ``lower >= 0``.
    unit : str
        Unit, for reports (pint-parsable, e.g. ``"1/min"``).
    fixed : bool
        Hold at ``initial``; the parameter is passed to the model but not estimated.
    """

    name: str
    initial: float
    lower: float = -math.inf
    upper: float = math.inf
    log: bool = False
    unit: str = ""
    fixed: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("Parameter name must be a non-empty string")
        if not all(math.isfinite(v) for v in (self.initial,)):
            raise ValueError(f"Parameter {self.name!r}: initial must be finite, got {self.initial!r}")
        if not self.lower <= self.initial <= self.upper:
            raise ValueError(
                f"Parameter {self.name!r}: expected lower <= initial <= upper, "
                f"got {self.lower} <= {self.initial} <= {self.upper}"
            )
        if self.lower == self.upper and not self.fixed:
            raise ValueError(f"Parameter {self.name!r}: lower == upper; declare it fixed=True instead")
        if self.log and (self.initial <= 0 or self.lower < 0):
            raise ValueError(
                f"Parameter {self.name!r}: log=True needs initial > 0 and lower >= 0, "
                f"got initial={self.initial}, lower={self.lower}"
            )

    # Transforms between the parameter and the optimiser's variable z.
    def to_z(self, value: float) -> float:
        """Map a parameter value to the optimiser's variable (``ln`` when ``log``)."""
        return math.log(value) if self.log else float(value)

    def from_z(self, z: float) -> float:
        """Map the optimiser's variable back to the parameter value."""
        return math.exp(z) if self.log else float(z)

    def z_bounds(self) -> tuple[float, float]:
        """Bounds in the optimiser's variable."""
        if self.log:
            lo = math.log(self.lower) if self.lower > 0 else -math.inf
            hi = math.log(self.upper) if math.isfinite(self.upper) else math.inf
            return lo, hi
        return self.lower, self.upper


@dataclass(frozen=True)
class SteadyStateModel:
    """A model whose outputs are algebraic functions of parameters and conditions.

    Parameters
    ----------
    fun : callable
        ``fun(theta, conditions) -> outputs``: ``theta`` maps every parameter name (estimated and
        fixed) to a float, ``conditions`` is the experiment's conditions mapping; outputs are a
        mapping ``name -> float`` or a sequence ordered as ``outputs``.
    outputs : sequence of str
        Output names, in the order of a sequence return value (optional when ``fun`` returns a
        mapping).
    """

    fun: Callable[[Theta, Conditions], Outputs]
    outputs: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.outputs is not None:
            object.__setattr__(self, "outputs", tuple(self.outputs))


@dataclass(frozen=True)
class ODEModel:
    """A model given by an ODE right-hand side and an observation map.

    Parameters
    ----------
    rhs : callable
        ``rhs(t, y, theta, conditions) -> dy/dt`` (``y`` a 1-D array ordered as ``states``).
    states : sequence of str
        State names, in the order of ``y``.
    observe : callable, optional
        ``observe(t, y, theta, conditions) -> outputs`` with ``t`` of shape ``(n_t,)`` and ``y``
        of shape ``(n_states, n_t)``; outputs are a mapping ``name -> array (n_t,)`` or an array
        ``(n_outputs, n_t)`` ordered as ``outputs``. Default: every state is an output.
    outputs : sequence of str, optional
        Output names (default: ``states`` when ``observe`` is None).
    initial_state : callable, optional
        ``initial_state(theta, conditions) -> y0``, for initial states that depend on parameters
        (e.g. an estimated initial concentration). An experiment's own ``y0`` takes precedence.
    method : str
        ``solve_ivp`` method; ``"LSODA"`` (default) switches between stiff and non-stiff
        automatically, ``"Radau"``/``"BDF"`` are implicit (stiff) methods.
    rtol, atol : float
        Integration tolerances. Finite-difference Jacobians need them far tighter than the data
        noise; the defaults (1e-10, 1e-12) suit states of order 1e-3..1e3.
    max_rhs_calls : int
        Budget of right-hand-side calls per integration; past it (or on a non-finite
        derivative) the integration is abandoned and :class:`CalibrationFailed` raised, so a
        runaway parameter set cannot stall the fit.
    """

    rhs: Callable[[float, np.ndarray, Theta, Conditions], Any]
    states: tuple[str, ...]
    observe: Callable[[np.ndarray, np.ndarray, Theta, Conditions], Outputs] | None = None
    outputs: tuple[str, ...] | None = None
    initial_state: Callable[[Theta, Conditions], Sequence[float]] | None = None
    method: str = "LSODA"
    rtol: float = 1e-10
    atol: float = 1e-12
    max_rhs_calls: int = 200_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "states", tuple(self.states))
        if self.outputs is not None:
            object.__setattr__(self, "outputs", tuple(self.outputs))
        elif self.observe is None:
            object.__setattr__(self, "outputs", self.states)
        if self.method not in _ODE_METHODS:
            raise ValueError(f"ODEModel.method must be one of {_ODE_METHODS}, got {self.method!r}")
        if not (self.rtol > 0 and self.atol > 0):
            raise ValueError(f"ODEModel tolerances must be > 0, got rtol={self.rtol}, atol={self.atol}")


Model = SteadyStateModel | ODEModel


@dataclass(frozen=True, eq=False)  # holds a DataFrame: compared by identity
class Experiment:
    """One data set bound to a model: conditions, time points and measured outputs.

    Parameters
    ----------
    name : str
        Identifier used in reports and error messages.
    data : DataFrame or mapping
        Measured outputs, one column per output (a subset of the model's outputs). One row per
        time point for a dynamic experiment; for a steady-state experiment one row (or several
        replicate rows, each compared with the same prediction). A mapping ``name -> value``
        is a one-row steady-state data set. NaN marks a missing measurement (skipped).
    conditions : mapping, optional
        Operating conditions passed to the model (feed, temperature set points ...).
    times : array_like, optional
        Sample times (same length as ``data``); ``None`` for a steady-state experiment.
    sigma : float or mapping, optional
        Standard deviation of the measurement noise, one value for all outputs or per output
        (a float or an array matching the rows). Residuals are divided by it.
    weights : float or mapping, optional
        Relative weights of the squared residuals (``sigma`` and ``weights`` are exclusive);
        the noise scale is then estimated from the residuals.
    y0 : sequence of float, optional
        Initial state of an ODE experiment at ``t0`` (ordered as the model's states).
    t0 : float
        Start of the integration (default 0).
    """

    name: str
    data: pd.DataFrame | Mapping[str, Any]
    conditions: Mapping[str, Any] = field(default_factory=dict)
    times: Sequence[float] | np.ndarray | None = None
    sigma: float | Mapping[str, Any] | None = None
    weights: float | Mapping[str, Any] | None = None
    y0: Sequence[float] | np.ndarray | None = None
    t0: float = 0.0

    def __post_init__(self) -> None:
        data = self.data
        if not isinstance(data, pd.DataFrame):
            if isinstance(data, Mapping) and all(np.ndim(v) == 0 for v in data.values()):
                data = pd.DataFrame([dict(data)])
            else:
                data = pd.DataFrame(dict(data))
        data = data.astype(float).reset_index(drop=True)
        if data.shape[1] == 0 or data.shape[0] == 0:
            raise ValueError(f"Experiment {self.name!r}: data has no measurements")
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "conditions", dict(self.conditions))
        if self.times is not None:
            times = np.asarray(self.times, dtype=float).ravel()
            if times.size != len(data):
                raise ValueError(
                    f"Experiment {self.name!r}: expected one time per data row ({len(data)}), "
                    f"got {times.size}"
                )
            if np.any(times < self.t0) or not np.all(np.isfinite(times)):
                raise ValueError(f"Experiment {self.name!r}: times must be finite and >= t0={self.t0}")
            object.__setattr__(self, "times", times)
        if self.sigma is not None and self.weights is not None:
            raise ValueError(f"Experiment {self.name!r}: give sigma or weights, not both")
        if self.y0 is not None:
            object.__setattr__(self, "y0", np.asarray(self.y0, dtype=float).ravel())

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the measured outputs."""
        return tuple(self.data.columns)

    @property
    def is_dynamic(self) -> bool:
        """Whether the experiment has time points (an ODE experiment)."""
        return self.times is not None

    def _column_factor(self, spec: float | Mapping[str, Any] | None, column: str) -> np.ndarray:
        n = len(self.data)
        if spec is None:
            return np.ones(n)
        value = spec.get(column, None) if isinstance(spec, Mapping) else spec
        if value is None:
            raise ValueError(f"Experiment {self.name!r}: no sigma/weight for output {column!r}")
        arr = np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()
        if np.any(~np.isfinite(arr)) or np.any(arr <= 0):
            raise ValueError(f"Experiment {self.name!r}: sigma/weights of {column!r} must be finite and > 0")
        return arr

    def residual_scale(self, column: str) -> np.ndarray:
        """Multiplier of the raw residuals of ``column``: ``1/sigma`` or ``sqrt(weight)``."""
        if self.sigma is not None:
            return 1.0 / self._column_factor(self.sigma, column)
        return np.sqrt(self._column_factor(self.weights, column))


def experiments_from_frame(
    frame: pd.DataFrame,
    *,
    conditions: Sequence[str],
    outputs: Sequence[str],
    sigma: float | Mapping[str, float] | None = None,
    weights: float | Mapping[str, float] | None = None,
    name_column: str | None = None,
) -> list[Experiment]:
    """One steady-state :class:`Experiment` per row of a table.

    Parameters
    ----------
    frame : DataFrame
        One operating point per row.
    conditions, outputs : sequence of str
        Columns holding the conditions and the measured outputs.
    sigma, weights : optional
        As in :class:`Experiment` (the same for every row).
    name_column : str, optional
        Column naming each experiment (default ``"row <index>"``).

    Returns
    -------
    list of Experiment
    """
    missing = [c for c in (*conditions, *outputs) if c not in frame.columns]
    if missing:
        raise ValueError(f"experiments_from_frame: columns {missing} not in the frame {list(frame.columns)}")
    exps = []
    for idx, row in frame.iterrows():
        name = str(row[name_column]) if name_column else f"row {idx}"
        exps.append(
            Experiment(
                name,
                {c: float(row[c]) for c in outputs},
                conditions={c: row[c] for c in conditions},
                sigma=sigma,
                weights=weights,
            )
        )
    return exps


# --------------------------------------------------------------------------------------------
# Model evaluation
# --------------------------------------------------------------------------------------------


def _as_outputs(raw: Outputs, names: tuple[str, ...] | None, what: str) -> dict[str, np.ndarray]:
    if isinstance(raw, Mapping):
        return {k: np.asarray(v, dtype=float) for k, v in raw.items()}
    arr = np.asarray(raw, dtype=float)
    if names is None:
        raise ValueError(f"{what} returned an array; declare the model's outputs names")
    if arr.shape[0] != len(names):
        raise ValueError(f"{what} returned {arr.shape[0]} outputs, expected {len(names)} {names}")
    return {k: arr[i] for i, k in enumerate(names)}


def _fmt_theta(theta: Theta) -> str:
    return "{" + ", ".join(f"{k}={v:.6g}" for k, v in theta.items()) + "}"


def _simulate(model: Model, exp: Experiment, theta: Theta) -> dict[str, np.ndarray]:
    """Predictions for every measured output of ``exp``, shaped like its data rows."""
    n = len(exp.data)
    if isinstance(model, SteadyStateModel):
        if exp.is_dynamic:
            raise ValueError(f"Experiment {exp.name!r} has times but the model is steady-state")
        out = _as_outputs(model.fun(theta, exp.conditions), model.outputs, "SteadyStateModel.fun")
        pred = {k: np.broadcast_to(np.asarray(v, dtype=float), (n,)) for k, v in out.items()}
    else:
        if not exp.is_dynamic:
            raise ValueError(f"Experiment {exp.name!r} has no times but the model is an ODE")
        pred = _integrate(model, exp, theta)
    missing = [c for c in exp.outputs if c not in pred]
    if missing:
        raise ValueError(
            f"Experiment {exp.name!r} measures {missing}, which the model does not output; "
            f"model outputs: {sorted(pred)}"
        )
    return {c: pred[c] for c in exp.outputs}


class _IntegrationAborted(Exception):
    """Raised inside the right-hand side to stop a failing integration."""


def _integrate(model: ODEModel, exp: Experiment, theta: Theta) -> dict[str, np.ndarray]:
    if exp.y0 is not None:
        y0 = exp.y0
    elif model.initial_state is not None:
        y0 = np.asarray(model.initial_state(theta, exp.conditions), dtype=float).ravel()
    else:
        raise ValueError(f"Experiment {exp.name!r}: no initial state (give y0 or ODEModel.initial_state)")
    if y0.size != len(model.states):
        raise ValueError(
            f"Experiment {exp.name!r}: y0 has {y0.size} values, the model has states {model.states}"
        )
    times = np.asarray(exp.times, dtype=float)
    order = np.argsort(times, kind="stable")
    t_sorted = times[order]
    conditions = exp.conditions
    rhs = model.rhs
    calls = [0]

    def fun(t: float, y: np.ndarray) -> np.ndarray:
        # Abort instead of letting the integrator loop on inf/NaN or on a runaway solution.
        calls[0] += 1
        dy = np.asarray(rhs(t, y, theta, conditions), dtype=float)
        if not np.all(np.isfinite(dy)):
            state = np.array2string(np.asarray(y), precision=4)
            raise _IntegrationAborted(f"non-finite derivative at t={t:.6g}, y={state}")
        if calls[0] > model.max_rhs_calls:
            raise _IntegrationAborted(f"more than {model.max_rhs_calls} right-hand-side calls (t={t:.6g})")
        return dy

    t_end = float(t_sorted[-1])
    if t_end == exp.t0:
        y_sorted = np.repeat(y0[:, None], times.size, axis=1)
    else:
        try:
            sol = solve_ivp(
                fun, (exp.t0, t_end), y0, method=model.method, t_eval=t_sorted,
                rtol=model.rtol, atol=model.atol,
            )
        except (_IntegrationAborted, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            raise CalibrationFailed(
                f"ODE integration of experiment {exp.name!r} failed ({model.method}): {exc}; "
                f"parameters: {_fmt_theta(theta)}"
            ) from exc
        # scipy returns plain empty lists (not arrays) when it stops before the first output time
        sol_t, sol_y = np.asarray(sol.t, dtype=float), np.asarray(sol.y, dtype=float)
        if not sol.success or sol_y.ndim != 2 or sol_y.shape[1] != times.size or not np.all(np.isfinite(sol_y)):
            reached = sol_t[-1] if sol_t.size else exp.t0
            raise CalibrationFailed(
                f"ODE integration of experiment {exp.name!r} failed at t={reached:.6g} of {t_end:.6g} "
                f"({model.method}, rtol={model.rtol:g}): {sol.message}; parameters: {_fmt_theta(theta)}"
            )
        y_sorted = sol_y
    y = np.empty_like(y_sorted)
    y[:, order] = y_sorted
    if model.observe is None:
        return {s: y[i] for i, s in enumerate(model.states)}
    return _as_outputs(model.observe(times, y, theta, conditions), model.outputs, "ODEModel.observe")


def predict(model: Model, experiment: Experiment, theta: Theta) -> pd.DataFrame:
    """Model predictions at the experiment's rows, next to the measurements.

    Parameters
    ----------
    model : SteadyStateModel or ODEModel
    experiment : Experiment
    theta : mapping
        Every parameter the model reads.

    Returns
    -------
    DataFrame
        Long format: ``experiment, time, output, measured, predicted, residual``
        (``residual = measured - predicted``; ``time`` is NaN for steady state).
    """
    pred = _simulate(model, experiment, dict(theta))
    n = len(experiment.data)
    times = experiment.times if experiment.is_dynamic else np.full(n, np.nan)
    frames = []
    for col, p in pred.items():
        meas = experiment.data[col].to_numpy()
        frames.append(pd.DataFrame({
            "experiment": experiment.name, "time": times, "output": col,
            "measured": meas, "predicted": np.asarray(p, dtype=float), "residual": meas - p,
        }))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Estimate:
    """Result of :func:`estimate`.

    Attributes
    ----------
    theta : dict
        Every parameter (estimated and fixed) at the optimum.
    parameters : tuple of Parameter
        The specifications the fit used.
    estimated : tuple of str
        Names of the estimated (non-fixed) parameters, the order of the matrices below.
    covariance, correlation : DataFrame
        Linearised covariance and correlation of the estimated parameters (delta method for
        log-scaled ones).
    standard_errors : dict
        Square roots of the covariance diagonal.
    confidence_intervals : dict
        ``name -> (low, high)`` at ``confidence_level`` (t-quantile with ``dof`` degrees of
        freedom when the noise scale is estimated, normal quantile when sigma is known; log-scaled
        parameters use ``exp(z +- q se_z)``).
    confidence_level : float
    ssr : float
        Weighted sum of squared residuals at the optimum.
    residual_variance : float
        ``SSR / dof`` (the reduced chi-square when sigma is known).
    absolute_sigma : bool
        Whether the covariance treats the given sigmas as known (``(J^T J)^-1``) or scales it by
        the residual variance.
    n_observations, n_parameters, dof : int
        Residuals used, parameters estimated, ``n - p``.
    residual_stats : DataFrame
        Per output: ``n, ssr (weighted), rmse, mape_pct, r2`` (unweighted residuals).
    residuals : DataFrame
        Long table ``experiment, time, output, measured, predicted, residual,
        weighted_residual``.
    nfev, njev : int
        Residual and Jacobian evaluations of the best start (``njev`` = iterations of TRF).
    status : int
        ``least_squares`` status (> 0 converged).
    message : str
        Solver message.
    starts : DataFrame
        One row per start: initial point, final SSR, status, message.
    at_bound : tuple of str
        Estimated parameters that ended on a bound (their covariance is unreliable).
    singular_values : tuple of float
        Singular values of the column-normalised Jacobian (identifiability diagnostics).
    runtime_s : float
        Wall time of the whole estimation.
    """

    theta: dict[str, float]
    parameters: tuple[Parameter, ...]
    estimated: tuple[str, ...]
    covariance: pd.DataFrame
    correlation: pd.DataFrame
    standard_errors: dict[str, float]
    confidence_intervals: dict[str, tuple[float, float]]
    confidence_level: float
    ssr: float
    residual_variance: float
    absolute_sigma: bool
    n_observations: int
    n_parameters: int
    dof: int
    residual_stats: pd.DataFrame
    residuals: pd.DataFrame
    nfev: int
    njev: int
    status: int
    message: str
    starts: pd.DataFrame
    at_bound: tuple[str, ...]
    singular_values: tuple[float, ...]
    runtime_s: float

    @property
    def success(self) -> bool:
        """Always True: a failed estimation raises instead of returning."""
        return self.status > 0

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter: value, unit, bounds, scale, standard error and interval."""
        rows = []
        for p in self.parameters:
            se = self.standard_errors.get(p.name, np.nan)
            lo, hi = self.confidence_intervals.get(p.name, (np.nan, np.nan))
            value = self.theta[p.name]
            rows.append({
                "parameter": p.name, "value": value, "unit": p.unit, "initial": p.initial,
                "lower": p.lower, "upper": p.upper, "log": p.log, "fixed": p.fixed,
                "std_error": se,
                "rel_std_error": se / abs(value) if value != 0 and not p.fixed else np.nan,
                "ci_low": lo, "ci_high": hi, "at_bound": p.name in self.at_bound,
            })
        return pd.DataFrame(rows).set_index("parameter")


# --------------------------------------------------------------------------------------------
# Estimation
# --------------------------------------------------------------------------------------------


@dataclass
class _Problem:
    model: Model
    experiments: tuple[Experiment, ...]
    free: tuple[Parameter, ...]
    fixed: dict[str, float]
    scales: dict[tuple[str, str], np.ndarray]
    masks: dict[tuple[str, str], np.ndarray]
    measured: dict[tuple[str, str], np.ndarray]

    def theta(self, z: np.ndarray) -> dict[str, float]:
        th = dict(self.fixed)
        for p, zi in zip(self.free, z, strict=True):
            th[p.name] = p.from_z(float(zi))
        return th

    def residuals(self, z: np.ndarray) -> np.ndarray:
        """Weighted residuals ``scale * (predicted - measured)`` over every experiment."""
        theta = self.theta(z)
        parts = []
        for exp in self.experiments:
            pred = _simulate(self.model, exp, theta)
            for col, p in pred.items():
                key = (exp.name, col)
                m = self.masks[key]
                parts.append(self.scales[key][m] * (np.asarray(p, dtype=float)[m] - self.measured[key][m]))
        r = np.concatenate(parts) if parts else np.empty(0)
        if not np.all(np.isfinite(r)):
            raise CalibrationFailed(
                f"the model returned non-finite predictions at parameters {_fmt_theta(theta)}"
            )
        return r


def _build_problem(
    model: Model, experiments: Sequence[Experiment], parameters: Sequence[Parameter]
) -> _Problem:
    if not experiments:
        raise ValueError("estimate: give at least one Experiment")
    names = [e.name for e in experiments]
    if len(set(names)) != len(names):
        raise ValueError(f"estimate: experiment names must be unique, got {names}")
    pnames = [p.name for p in parameters]
    if len(set(pnames)) != len(pnames):
        raise ValueError(f"estimate: parameter names must be unique, got {pnames}")
    free = tuple(p for p in parameters if not p.fixed)
    if not free:
        raise ValueError("estimate: every parameter is fixed; nothing to estimate")
    scales, masks, measured = {}, {}, {}
    for exp in experiments:
        for col in exp.outputs:
            key = (exp.name, col)
            meas = exp.data[col].to_numpy(dtype=float)
            measured[key] = meas
            masks[key] = np.isfinite(meas)
            scales[key] = exp.residual_scale(col)
    return _Problem(
        model=model, experiments=tuple(experiments), free=free,
        fixed={p.name: float(p.initial) for p in parameters if p.fixed},
        scales=scales, masks=masks, measured=measured,
    )


def _central_jacobian(fun: Callable[[np.ndarray], np.ndarray], z: np.ndarray, steps: np.ndarray,
                      lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Central differences (one-sided where a bound is closer than the step)."""
    f0 = fun(z)
    jac = np.empty((f0.size, z.size))
    for i in range(z.size):
        h = steps[i]
        zp, zm = z.copy(), z.copy()
        if z[i] + h <= upper[i] and z[i] - h >= lower[i]:
            zp[i] += h
            zm[i] -= h
            jac[:, i] = (fun(zp) - fun(zm)) / (2 * h)
        elif z[i] + h <= upper[i]:
            zp[i] += h
            jac[:, i] = (fun(zp) - f0) / h
        else:
            zm[i] -= h
            jac[:, i] = (f0 - fun(zm)) / h
    return jac


def _start_points(free: tuple[Parameter, ...], n_starts: int, seed: int | None) -> list[np.ndarray]:
    z0 = np.array([p.to_z(p.initial) for p in free])
    starts = [z0]
    rng = np.random.default_rng(seed)
    for _ in range(n_starts - 1):
        z = np.empty_like(z0)
        for i, p in enumerate(free):
            lo, hi = p.z_bounds()
            if math.isfinite(lo) and math.isfinite(hi):
                z[i] = rng.uniform(lo, hi)
            elif p.log:  # one decade either side of the initial guess
                z[i] = z0[i] + rng.uniform(-math.log(10), math.log(10))
            else:
                z[i] = z0[i] + rng.uniform(-0.5, 0.5) * max(abs(z0[i]), 1.0)
            z[i] = min(max(z[i], lo), hi)
        starts.append(z)
    return starts


def estimate(
    model: Model,
    experiments: Sequence[Experiment],
    parameters: Sequence[Parameter],
    *,
    n_starts: int = 1,
    seed: int | None = None,
    absolute_sigma: bool | None = None,
    confidence_level: float = 0.95,
    max_nfev: int | None = None,
    ftol: float = 1e-10,
    xtol: float = 1e-10,
    gtol: float = 1e-10,
    x_scale: Literal["auto", "jac"] | Sequence[float] = "auto",
    jac: Literal["2-point", "3-point"] = "2-point",
    diff_step: float | None = None,
    rank_rtol: float = 1e-6,
) -> Estimate:
    """Fit parameters of a steady-state or ODE model to one or more experiments.

    Minimises ``sum_k (scale_k * (predicted_k - measured_k))**2`` over every experiment, output
    and time point with ``scipy.optimize.least_squares`` (method ``"trf"``: trust-region
    reflective, which honours the bounds), then computes the covariance from a central-difference
    Jacobian at the optimum and checks that the parameters are identifiable.

    Parameters
    ----------
    model : SteadyStateModel or ODEModel
    experiments : sequence of Experiment
    parameters : sequence of Parameter
        Every parameter the model reads; ``fixed`` ones are passed through unchanged.
    n_starts : int
        Number of starts: the initial guess plus ``n_starts - 1`` points drawn uniformly (on the
        optimiser's scale) within the bounds, or one decade / +-50 % around the guess where a
        bound is infinite. The start with the lowest SSR is kept.
    seed : int, optional
        Seed of the multi-start draws.
    absolute_sigma : bool, optional
        Treat the experiments' ``sigma`` as the known noise standard deviation (covariance
        ``(J^T J)^-1``) instead of relative weights (covariance ``s^2 (J^T J)^-1``). Default:
        True when every experiment gives ``sigma``.
    confidence_level : float
        Level of the confidence intervals (0.95).
    max_nfev : int, optional
        Maximum residual evaluations per start (``least_squares`` default when None).
    ftol, xtol, gtol : float
        ``least_squares`` termination tolerances.
    x_scale : "auto", "jac" or sequence of float
        Characteristic scale of each estimated parameter on the optimiser's scale. ``"auto"``:
        1 for log-scaled parameters, ``|initial|`` (or the bound span, or 1) otherwise.
    jac : "2-point" or "3-point"
        Finite-difference scheme of the optimiser's Jacobian.
    diff_step : float, optional
        Relative finite-difference step. Default: ``sqrt(rtol)`` for ODE models (the step must
        dominate the integration error), ``least_squares``' own default for steady state.
    rank_rtol : float
        A singular value of the column-normalised Jacobian below ``rank_rtol`` times the largest
        marks the parameters in its singular vector as not identifiable.

    Returns
    -------
    Estimate

    Raises
    ------
    CalibrationFailed
        When no start converges (``least_squares`` status <= 0, e.g. ``max_nfev`` exhausted),
        when an ODE integration fails, when the model returns non-finite values, when there are
        fewer residuals than parameters, or when the Jacobian at the optimum is rank deficient.
    ValueError
        For inconsistent inputs (unknown outputs, missing initial state, duplicate names ...).
    """
    t_start = _time.perf_counter()
    if n_starts < 1:
        raise ValueError(f"estimate: n_starts must be >= 1, got {n_starts}")
    if not 0 < confidence_level < 1:
        raise ValueError(f"estimate: confidence_level must be in (0, 1), got {confidence_level}")
    prob = _build_problem(model, experiments, parameters)
    free = prob.free
    p = len(free)
    n_obs = int(sum(m.sum() for m in prob.masks.values()))
    if absolute_sigma is None:
        absolute_sigma = all(e.sigma is not None for e in experiments)
    if n_obs < p or (n_obs == p and not absolute_sigma):
        raise CalibrationFailed(
            f"expected more measurements than estimated parameters, found {n_obs} measurements "
            f"for {p} parameters {[q.name for q in free]}: the parameters are not identifiable"
        )

    z_lower = np.array([q.z_bounds()[0] for q in free])
    z_upper = np.array([q.z_bounds()[1] for q in free])
    if isinstance(x_scale, str):
        if x_scale == "jac":
            xs: Any = "jac"
        elif x_scale == "auto":
            xs = np.array([_auto_scale(q) for q in free])
        else:
            raise ValueError(f"estimate: x_scale must be 'auto', 'jac' or a sequence, got {x_scale!r}")
    else:
        xs = np.asarray(x_scale, dtype=float)
        if xs.shape != (p,) or np.any(xs <= 0):
            raise ValueError(f"estimate: x_scale needs {p} positive values, got {x_scale!r}")
    if diff_step is None and isinstance(model, ODEModel):
        diff_step = math.sqrt(model.rtol)

    best = None
    errors: list[str] = []
    rows = []
    for k, z0 in enumerate(_start_points(free, n_starts, seed)):
        theta0 = prob.theta(z0)
        try:
            res = least_squares(
                prob.residuals, z0, jac=jac, bounds=(z_lower, z_upper), method="trf",
                x_scale=xs, ftol=ftol, xtol=xtol, gtol=gtol, max_nfev=max_nfev,
                diff_step=diff_step,
            )
        except CalibrationFailed as exc:
            errors.append(f"start {k} from {_fmt_theta(theta0)}: {exc}")
            rows.append({"start": k, **{f"{n}_initial": v for n, v in theta0.items() if n in _names(free)},
                         "ssr": np.nan, "status": -99, "nfev": np.nan, "message": str(exc)})
            continue
        ssr_k = float(2 * res.cost)
        rows.append({"start": k, **{f"{n}_initial": v for n, v in theta0.items() if n in _names(free)},
                     "ssr": ssr_k, "status": int(res.status), "nfev": int(res.nfev),
                     "message": str(res.message)})
        if res.status <= 0:
            errors.append(
                f"start {k} did not converge after {res.nfev} evaluations and {res.njev} iterations "
                f"(status {res.status}: {res.message}); parameters at failure: "
                f"{_fmt_theta(prob.theta(res.x))}, SSR={ssr_k:.6g}"
            )
            continue
        if best is None or ssr_k < 2 * best.cost:
            best = res
    starts = pd.DataFrame(rows)
    if best is None:
        raise CalibrationFailed(
            f"least_squares found no converged solution in {n_starts} start(s): " + "; ".join(errors)
        )

    z = best.x
    theta = prob.theta(z)
    names = _names(free)

    # Covariance Jacobian: central differences at the optimum, step ~ noise^(1/3).
    noise = model.rtol if isinstance(model, ODEModel) else np.finfo(float).eps
    scale_vec = xs if not isinstance(xs, str) else np.array([_auto_scale(q) for q in free])
    steps = np.cbrt(noise) * np.maximum(np.abs(z), scale_vec)
    J = _central_jacobian(prob.residuals, z, steps, z_lower, z_upper)
    r = prob.residuals(z)
    ssr = float(r @ r)
    dof = n_obs - p

    singular, vt, norms = _check_identifiable(J, names, rank_rtol, theta)

    # (J^T J)^-1 from the SVD of the column-normalised Jacobian (better conditioned than
    # inverting J^T J, whose condition number is the square of J's).
    JtJ_inv = (vt.T / singular ** 2) @ vt / np.outer(norms, norms)
    s2 = ssr / dof if dof > 0 else np.nan
    cov_z = JtJ_inv if absolute_sigma else s2 * JtJ_inv
    dtheta_dz = np.array([theta[q.name] if q.log else 1.0 for q in free])
    cov = cov_z * np.outer(dtheta_dz, dtheta_dz)
    se_z = np.sqrt(np.diag(cov_z))
    se = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):  # a perfect fit has se = 0
        corr = np.where(np.outer(se, se) > 0, cov / np.outer(se, se), np.nan)
    np.fill_diagonal(corr, 1.0)
    if absolute_sigma or dof <= 0:
        q = stats.norm.ppf(0.5 + confidence_level / 2)
    else:
        q = stats.t.ppf(0.5 + confidence_level / 2, dof)
    cis = {}
    for i, par in enumerate(free):
        if par.log:
            cis[par.name] = (math.exp(z[i] - q * se_z[i]), math.exp(z[i] + q * se_z[i]))
        else:
            cis[par.name] = (z[i] - q * se_z[i], z[i] + q * se_z[i])

    tol_bound = 1e-8 * np.maximum(1.0, np.abs(z))
    at_bound = tuple(
        names[i] for i in range(p)
        if abs(z[i] - z_lower[i]) <= tol_bound[i] or abs(z[i] - z_upper[i]) <= tol_bound[i]
    )
    residual_table = _residual_table(prob, theta)
    return Estimate(
        theta={q.name: theta[q.name] for q in parameters},
        parameters=tuple(parameters),
        estimated=names,
        covariance=pd.DataFrame(cov, index=list(names), columns=list(names)),
        correlation=pd.DataFrame(corr, index=list(names), columns=list(names)),
        standard_errors=dict(zip(names, se.tolist(), strict=True)),
        confidence_intervals=cis,
        confidence_level=confidence_level,
        ssr=ssr,
        residual_variance=s2,
        absolute_sigma=bool(absolute_sigma),
        n_observations=n_obs,
        n_parameters=p,
        dof=dof,
        residual_stats=_residual_stats(residual_table),
        residuals=residual_table,
        nfev=int(best.nfev),
        njev=int(best.njev or 0),
        status=int(best.status),
        message=str(best.message),
        starts=starts,
        at_bound=at_bound,
        singular_values=tuple(float(s) for s in singular),
        runtime_s=_time.perf_counter() - t_start,
    )


def _names(free: Iterable[Parameter]) -> tuple[str, ...]:
    return tuple(q.name for q in free)


def _auto_scale(p: Parameter) -> float:
    if p.log:
        return 1.0
    if p.initial != 0:
        return abs(p.initial)
    if math.isfinite(p.lower) and math.isfinite(p.upper):
        return p.upper - p.lower
    return 1.0


def _check_identifiable(J: np.ndarray, names: tuple[str, ...], rank_rtol: float,
                        theta: Theta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SVD of the column-normalised Jacobian ``(s, vt, column norms)``; raise on rank deficiency."""
    norms = np.linalg.norm(J, axis=0)
    dead = [names[i] for i in range(len(names)) if not norms[i] > 0]
    if dead:
        raise CalibrationFailed(
            f"parameters {dead} are not identifiable: the residuals do not depend on them at "
            f"{_fmt_theta(theta)}; fix them or add data that they influence"
        )
    Jn = J / norms
    _, s, vt = np.linalg.svd(Jn, full_matrices=False)
    small = np.flatnonzero(s < rank_rtol * s[0])
    if small.size:
        involved: list[str] = []
        combos = []
        for k in small:
            v = vt[k]
            idx = [i for i in range(len(names)) if abs(v[i]) > 0.1]
            involved += [names[i] for i in idx if names[i] not in involved]
            combos.append(" ".join(f"{v[i]:+.3f}*{names[i]}" for i in idx))
        raise CalibrationFailed(
            f"parameters {involved} are not identifiable from these data: the Jacobian is rank "
            f"deficient (expected rank {len(names)}, found {len(names) - small.size}; smallest "
            f"singular value ratio {s[-1] / s[0]:.2e} < {rank_rtol:g}); the fit only sees the "
            f"combination(s) {combos} of the scaled parameters. Fix one of them or add data. "
            f"Parameters at the optimum: {_fmt_theta(theta)}"
        )
    return s, vt, norms


def _residual_table(prob: _Problem, theta: Theta) -> pd.DataFrame:
    frames = []
    for exp in prob.experiments:
        df = predict(prob.model, exp, theta)
        w = np.concatenate([prob.scales[(exp.name, c)] for c in exp.outputs])
        df["weighted_residual"] = w * df["residual"].to_numpy()
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    return table[np.isfinite(table["measured"])].reset_index(drop=True)


def _residual_stats(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for out, g in table.groupby("output", sort=False):
        res = g["residual"].to_numpy()
        meas = g["measured"].to_numpy()
        nz = meas != 0
        ss_tot = float(((meas - meas.mean()) ** 2).sum())
        rows.append({
            "output": out, "n": int(res.size),
            "ssr": float((g["weighted_residual"] ** 2).sum()),
            "rmse": float(np.sqrt(np.mean(res ** 2))),
            "mape_pct": float(np.mean(np.abs(res[nz] / meas[nz])) * 100) if nz.any() else np.nan,
            "r2": 1 - float((res ** 2).sum()) / ss_tot if ss_tot > 0 else np.nan,
        })
    return pd.DataFrame(rows).set_index("output")


# --------------------------------------------------------------------------------------------
# Uncertainty propagation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Propagation:
    """Result of :func:`monte_carlo_propagation`.

    Attributes
    ----------
    summary : DataFrame
        One row per output: ``mean, std`` and one column per requested percentile (``p2.5``,
        ``p50``, ``p97.5`` ...).
    samples : DataFrame
        The output of every draw (one row per draw).
    parameter_samples : DataFrame
        The parameter draws (one row per draw, every parameter).
    """

    summary: pd.DataFrame
    samples: pd.DataFrame
    parameter_samples: pd.DataFrame


def monte_carlo_propagation(
    fun: Callable[[dict[str, float]], float | Mapping[str, float] | Sequence[float]],
    theta: Mapping[str, float] | Estimate,
    cov: pd.DataFrame | np.ndarray | None = None,
    *,
    n: int = 1000,
    seed: int | None = None,
    log_parameters: Iterable[str] = (),
    percentiles: Sequence[float] = (2.5, 50.0, 97.5),
) -> Propagation:
    """Propagate parameter uncertainty to model outputs by Monte Carlo sampling.

    Parameters are drawn from the multivariate normal ``N(theta, cov)``; parameters listed in
    ``log_parameters`` (or estimated with ``log=True`` when an :class:`Estimate` is given) are
    drawn lognormally, ``ln(theta) ~ N(ln(theta_hat), D^-1 cov D^-1)``, ``D = diag(theta_hat)``,
    so they stay positive and match the fit's log-scale covariance.

    Parameters
    ----------
    fun : callable
        ``fun(theta_dict) -> float | mapping | sequence``: the key outputs of one parameter set.
    theta : mapping or Estimate
        Parameter values (the mean). An :class:`Estimate` brings its own covariance and log
        scales; parameters absent from the covariance (fixed ones) are held constant.
    cov : DataFrame or ndarray, optional
        Covariance of the parameters; a DataFrame is matched by name, an array follows the order
        of ``theta``. Required unless ``theta`` is an Estimate.
    n : int
        Number of draws.
    seed : int, optional
        Seed of the draws.
    log_parameters : iterable of str
        Names drawn lognormally (added to those of an Estimate).
    percentiles : sequence of float
        Percentiles reported in the summary.

    Returns
    -------
    Propagation
    """
    log_names = set(log_parameters)
    if isinstance(theta, Estimate):
        if cov is None:
            cov = theta.covariance
        log_names |= {p.name for p in theta.parameters if p.log and not p.fixed}
        theta = theta.theta
    if cov is None:
        raise ValueError("monte_carlo_propagation: give cov, or pass an Estimate as theta")
    theta = {k: float(v) for k, v in theta.items()}
    if isinstance(cov, pd.DataFrame):
        names = list(cov.index)
        missing = [k for k in names if k not in theta]
        if missing:
            raise ValueError(
                f"monte_carlo_propagation: covariance names {missing} not in theta {list(theta)}"
            )
        c = cov.loc[names, names].to_numpy(dtype=float)
    else:
        names = list(theta)
        c = np.asarray(cov, dtype=float)
    if c.shape != (len(names), len(names)):
        raise ValueError(f"monte_carlo_propagation: covariance shape {c.shape} does not match {names}")
    if n < 2:
        raise ValueError(f"monte_carlo_propagation: n must be >= 2, got {n}")
    bad = [k for k in names if k in log_names and theta[k] <= 0]
    if bad:
        raise ValueError(f"monte_carlo_propagation: log-scaled parameters {bad} must be > 0")

    mean = np.array([theta[k] for k in names])
    is_log = np.array([k in log_names for k in names])
    d = np.where(is_log, mean, 1.0)
    c_z = c / np.outer(d, d)
    mu_z = np.where(is_log, np.log(np.where(is_log, mean, 1.0)), mean)
    rng = np.random.default_rng(seed)
    draws_z = rng.multivariate_normal(mu_z, c_z, size=n, method="eigh")
    draws = draws_z.copy()
    draws[:, is_log] = np.exp(draws_z[:, is_log])  # only the log-scale columns (the others would overflow)

    param_rows = []
    out_rows = []
    for row in draws:
        th = dict(theta)
        th.update(zip(names, row.tolist(), strict=True))
        param_rows.append(th)
        y = fun(th)
        if isinstance(y, Mapping):
            out_rows.append({k: float(v) for k, v in y.items()})
        elif np.ndim(y) == 0:
            out_rows.append({"y": float(y)})
        else:
            out_rows.append({f"y{i}": float(v) for i, v in enumerate(np.asarray(y).ravel())})
    samples = pd.DataFrame(out_rows)
    summary = pd.DataFrame({"mean": samples.mean(), "std": samples.std(ddof=1)})
    for q in percentiles:
        summary[f"p{q:g}"] = samples.quantile(q / 100.0)
    summary.index.name = "output"
    return Propagation(summary=summary, samples=samples, parameter_samples=pd.DataFrame(param_rows))
