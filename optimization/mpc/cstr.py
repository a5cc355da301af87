"""Economic nonlinear MPC with moving-horizon estimation (MHE) for the jacketed CSTR.

The controller replaces TC102's PI law: every sampling interval (1 min) it reads the plant's
noisy historian measurements, estimates the state and the jacket fouling with an MHE, and
solves an economic optimal-control problem over a receding horizon (20-30 min); the first move
(jacket temperature set point, ``CSTR.TC102.OUT``) is applied for one interval.

Physics (the same as :func:`models.cstr.balances` plus the jacket lag of
:class:`models.cstr.CSTRParams`)::

    dCa/dt = q/V (Caf - Ca) - k(T) Ca                                            mol/(L min)
    dT/dt  = q/V (Tf - T) + (-dH)/(rho Cp) k(T) Ca + theta UA/(V rho Cp) (Tj - T) K/min
    dTj/dt = (u - Tj) / tau_j                                                      K/min

``theta`` is the fraction of the clean jacket's UA (fouling: theta < 1), the unmeasured
disturbance the MHE estimates. Both problems are discretised with ``pyomo.dae`` (Radau
collocation, one finite element per sampling interval, inputs piecewise constant) and solved
with IPOPT through :func:`optimization.solvers.solve`.

Measurements (what the twin's historian has, :data:`models.cstr.TAGS`): reactor temperature
``CSTR.TI102`` and jacket temperature ``CSTR.TI103`` (noise 0.15 / 0.16 K), and the feed tags
``CSTR.FI101``, ``CSTR.AI101``, ``CSTR.TI101`` used as measured inputs. The outlet analyser
``CSTR.AI102`` is *not* used: Ca is fixed by the temperatures and the measured feed through the
mass balance (at steady state Ca = q Caf / (q + V k(T))), so the MHE observes Ca and theta from
temperatures alone, and the controller keeps working through analyser outages and sample delays.

NMPC problem (per step; prices as in :mod:`optimization.cstr`, the *same* profit formula)::

    min  -int_0^H profit(t)/60 dt + rho sum s(t) + w_du sum (u_k - u_{k-1})^2 + terminal cost
    s.t. the balances above, x(0) = MHE estimate, theta, q, Caf, Tf held at their estimates,
         250 <= u_k <= 350 K, |u_k - u_{k-1}| <= rate dt,
         T(t) <= T_max - backoff + s(t), s >= 0            (soft runaway limit, exact L1 penalty)
         steady state (Ca_s, T_s, Tj_s = u_s) of the same balances with T_s <= T_max - backoff,
         (T(H) - T_s)^2 <= delta^2 + s_H, u_{N-1} = u_s   (terminal region around it)

``T_max`` is :func:`optimization.cstr.runaway_limit_k` (ignition temperature minus 2 K). Because
the terminal steady state lies below the ignition temperature, it is on the cold branch, the only
steady state there, which is open-loop stable: the horizon always ends in a region from which the
reactor cannot ignite, however close to the multiplicity region the transient runs. The penalty
``rho`` (USD per K per collocation point) is far above the runaway constraint's multiplier
(~0.5 USD/(K min)), so the slack is zero whenever the hard limit can be met (exact penalty).

MHE problem (window of the last N samples)::

    min  sum_j ((T(t_j) - yT_j)/sT)^2 + ((Tj(t_j) - yTj_j)/sTj)^2
         + sum_i ((x_i(0) - xbar_i)/P_i)^2 + ((theta - thetabar)/P_theta)^2
         + sum_k ((theta_k - theta_{k-1})/s_rw)^2 + sum_k (w_k/s_w)^2
    s.t. the balances with the applied moves and measured feed, theta_k per interval (random
         walk) and a process noise w_k on dT/dt (model error of the filtered feed inputs).

The arrival cost's prior (xbar, thetabar) always refers to the window's first sample: when the
window slides it is the previous MHE's estimate of the state at the new first sample or, if that
solve failed, the old prior integrated one interval through the model (applied move, measured
feed, the prior's UA fraction). Its weights are fixed, not propagated by an EKF: a documented
simplification. Until N samples exist the window grows from the first measurement.

Example
-------
>>> table = compare_with_pi(make_scenario("setpoint_change", minutes=20), horizon=10)
>>> list(table.index)
['pi_noise_free', 'pi', 'nmpc']
>>> bool(table.loc["nmpc", "iae_temp_k_min"] < table.loc["pi", "iae_temp_k_min"])
True
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
import pyomo.dae as dae
import pyomo.environ as pyo
from scipy.integrate import solve_ivp
from scipy.optimize import minimize_scalar

from models import cstr as plant
from models.cstr.physics import CSTRParams, LoopInputs, LoopState, PITuning
from nexus.errors import ConfigError
from optimization.cstr import CSTRPrices, _performance, ignition_point, runaway_limit_k
from optimization.mpc.core import HorizonConfig, RecedingHorizon, sample_times
from optimization.solvers import solve

__all__ = [
    "DEFAULT_PRICES",
    "MEASUREMENT_TAGS",
    "SCENARIOS",
    "CSTREstimate",
    "CSTRMeasurement",
    "CSTRMHE",
    "CSTRNMPC",
    "ClosedLoopResult",
    "Scenario",
    "compare_with_pi",
    "make_scenario",
    "measurement_noise",
    "plant_step",
    "predict_open_loop",
    "run_nmpc",
    "run_pi",
    "run_pi_measured",
    "runaway_limit_at",
]

#: Prices of the comparisons (the defaults of :mod:`optimization.cstr`'s plant interface and its
#: tests; the carbon cost of the chiller's electricity is included as there).
DEFAULT_PRICES = CSTRPrices(
    product_usd_mol=0.40, feed_usd_mol=0.02, electricity_usd_kwh=0.15, carbon_usd_tco2e=85.0,
    electricity_kgco2e_kwh=0.35,
)

#: Historian tag (canonical unit) of every field of :class:`CSTRMeasurement`.
MEASUREMENT_TAGS: dict[str, str] = {
    "temp_k": "CSTR.TI102",
    "jacket_k": "CSTR.TI103",
    "feed_flow_l_min": "CSTR.FI101",
    "feed_conc_mol_l": "CSTR.AI101",
    "feed_temp_k": "CSTR.TI101",
}


def measurement_noise() -> dict[str, float]:
    """Standard deviation of each measured field, from the tag catalogue (noise % of span)."""
    by_tag = {t.tag: t for t in plant.TAGS}
    return {f: by_tag[tag].noise_pct / 100.0 * (by_tag[tag].range_max - by_tag[tag].range_min)
            for f, tag in MEASUREMENT_TAGS.items()}


@dataclass(frozen=True)
class CSTRMeasurement:
    """One sample of the CSTR's measured tags (K, L/min, mol/L)."""

    temp_k: float
    jacket_k: float
    feed_flow_l_min: float
    feed_conc_mol_l: float
    feed_temp_k: float


@dataclass(frozen=True)
class CSTREstimate:
    """MHE estimate at the current sample: states and the UA fraction ``ua_factor``."""

    ca: float
    temp_k: float
    jacket_k: float
    ua_factor: float


def _balances(p: CSTRParams, ca, temp, tj, u, q, caf, tf, ua, exp=pyo.exp):
    """Right-hand sides (dCa, dT, dTj) written once for Pyomo expressions (``models.cstr`` physics)."""
    rho_cp = p.rho * p.Cp
    r = p.k0 * exp(-p.EoverR / temp) * ca
    dca = q / p.V * (caf - ca) - r
    dtemp = q / p.V * (tf - temp) + p.mdelH / rho_cp * r + ua / (p.V * rho_cp) * (tj - temp)
    dtj = (u - tj) / p.tau_j
    return dca, dtemp, dtj


def _add_dynamics(owner: RecedingHorizon, m: pyo.ConcreteModel, p: CSTRParams) -> None:
    """States ca, temp, tj with derivatives; inputs u[k]; disturbance params; collocated balances."""
    if p.tau_j <= 0:
        raise ConfigError(f"mpc expected a jacket lag tau_j > 0 min, found {p.tau_j}")
    m.ca = pyo.Var(m.t, bounds=(0.0, 2.0 * max(p.Caf, 1.0)), initialize=0.8, doc="Ca, mol/L")
    m.temp = pyo.Var(m.t, bounds=(250.0, 500.0), initialize=330.0, doc="reactor temperature, K")
    m.tj = pyo.Var(m.t, bounds=(200.0, 400.0), initialize=300.0, doc="jacket temperature, K")
    m.dca = dae.DerivativeVar(m.ca, wrt=m.t)
    m.dtemp = dae.DerivativeVar(m.temp, wrt=m.t)
    m.dtj = dae.DerivativeVar(m.tj, wrt=m.t)
    m.u = pyo.Var(m.k, bounds=(200.0, 400.0), initialize=300.0, doc="jacket set point, K")
    m.q = pyo.Param(m.k, mutable=True, initialize=p.q, doc="feed flow, L/min")
    m.caf = pyo.Param(m.k, mutable=True, initialize=p.Caf, doc="feed concentration, mol/L")
    m.tf = pyo.Param(m.k, mutable=True, initialize=p.Tf, doc="feed temperature, K")
    return None


def _add_balances(owner: RecedingHorizon, m: pyo.ConcreteModel, p: CSTRParams, ua_expr: Callable[[int], object],
                  temp_noise: Callable[[int], object] | None = None) -> None:
    def rhs(t):
        k = owner.interval(t)
        dca, dtemp, dtj = _balances(p, m.ca[t], m.temp[t], m.tj[t], m.u[k], m.q[k], m.caf[k], m.tf[k], ua_expr(k))
        return dca, (dtemp if temp_noise is None else dtemp + temp_noise(k)), dtj

    m.ode_ca = pyo.Constraint(m.t, rule=lambda m, t: pyo.Constraint.Skip if t == m.t.first() else m.dca[t] == rhs(t)[0])
    m.ode_temp = pyo.Constraint(m.t, rule=lambda m, t: pyo.Constraint.Skip if t == m.t.first()
                                else m.dtemp[t] == rhs(t)[1])
    m.ode_tj = pyo.Constraint(m.t, rule=lambda m, t: pyo.Constraint.Skip if t == m.t.first() else m.dtj[t] == rhs(t)[2])


def _simulate_into(owner: RecedingHorizon, m: pyo.ConcreteModel, state: tuple[float, float, float], ua: float,
                   params: CSTRParams, moves: list[float] | None = None) -> tuple[float, float, float]:
    """Initial guess: integrate the balances (scipy) through the horizon with the model's inputs.

    ``moves`` overrides ``m.u`` (e.g. hold the current move); returns the final state.
    """
    times = list(m.t)
    x = tuple(float(v) for v in state)
    for k in m.k:
        lo, hi = k * owner.config.dt_min, (k + 1) * owner.config.dt_min
        pts = [t for t in times if lo - 1e-9 <= t <= hi + 1e-9]
        u = float(moves[k] if moves is not None else m.u[k].value)
        q, caf, tf = pyo.value(m.q[k]), pyo.value(m.caf[k]), pyo.value(m.tf[k])

        def f(t, y):
            dca, dtemp = plant.balances(y[0], y[1], y[2], params, q=q, caf=caf, tf=tf, ua=ua)
            return [float(dca), float(dtemp), (u - y[2]) / params.tau_j]

        sol = solve_ivp(f, (lo, hi), list(x), method="LSODA", t_eval=pts, rtol=1e-8, atol=1e-10)
        for i, t in enumerate(pts):
            for var, val in zip((m.ca, m.temp, m.tj), sol.y[:, i]):
                if not var[t].fixed:
                    var[t].set_value(float(val), skip_validation=True)
            for var, val in zip((m.dca, m.dtemp, m.dtj), f(t, sol.y[:, i])):
                var[t].set_value(float(val), skip_validation=True)
        x = tuple(float(v) for v in sol.y[:, -1])
    return x


def _model_step(state: tuple[float, float, float], move_k: float, q: float, caf: float, tf: float, ua: float,
                dt_min: float, params: CSTRParams) -> tuple[float, float, float]:
    """The model's state after one interval, move and feed held (scipy LSODA, as :func:`_simulate_into`)."""
    def f(t, y):
        dca, dtemp = plant.balances(y[0], y[1], y[2], params, q=q, caf=caf, tf=tf, ua=ua)
        return [float(dca), float(dtemp), (move_k - y[2]) / params.tau_j]

    sol = solve_ivp(f, (0.0, dt_min), [float(v) for v in state], method="LSODA", rtol=1e-8, atol=1e-10)
    if not sol.success:
        raise RuntimeError(f"cstr model integration failed: {sol.message}")
    return float(sol.y[0, -1]), float(sol.y[1, -1]), float(sol.y[2, -1])


def runaway_limit_at(params: CSTRParams, q: float, caf: float, tf: float, ua_factor: float,
                     *, margin_k: float = 2.0) -> float:
    """:func:`optimization.cstr.runaway_limit_k` at given feed and fouling: ignition T - ``margin_k``, K.

    The ignition temperature falls with fouling and with a hotter or richer feed (UA 75 %:
    328.8 K instead of 333.7 K), so the controller re-evaluates it every step. The ignition point
    is the top of the cold branch, where the jacket temperature that holds T at steady state
    (:func:`models.cstr.closed_loop_steady_state`) peaks: a bounded scalar search over
    300-360 K (the cold fold lies below the hot fold, 360.5 K at nominal conditions), ~1 ms
    instead of the ~40 ms grid scan of :func:`models.cstr.fold_points`; both agree to 1e-4 K
    (tests) wherever an ignition point exists. Where none lies below 360 K (no multiplicity, e.g.
    a feed of 70 L/min) the search ends on its bound and the limit is 360 K - ``margin_k``: a
    finite, conservative ceiling where :func:`optimization.cstr.runaway_limit_k` raises.
    """
    ua = params.UA * ua_factor

    def minus_tc(temp_k: float) -> float:
        return -plant.closed_loop_steady_state(temp_k, params, q=q, caf=caf, tf=tf, ua=ua)[1]

    res = minimize_scalar(minus_tc, bounds=(300.0, 360.0), method="bounded", options={"xatol": 1e-7})
    return float(res.x) - margin_k


# ---------------------------------------------------------------------------------- plant (scipy)


def _disturbance_at(inputs: LoopInputs, params: CSTRParams):
    minutes = np.arange(len(inputs), dtype=float)

    def at(t: float) -> tuple[float, float, float, float]:
        # Linear interpolation within a minute, as run_closed_loop does.
        return (float(np.interp(t, minutes, inputs.feed_flow)), float(np.interp(t, minutes, inputs.feed_conc)),
                float(np.interp(t, minutes, inputs.feed_temp_k)),
                params.UA * float(np.interp(t, minutes, inputs.ua_factor)))

    return at


def plant_step(
    state: tuple[float, float, float],
    move_k: float,
    t0_min: float,
    dt_min: float,
    inputs: LoopInputs,
    params: CSTRParams = plant.DEFAULT,
) -> tuple[float, float, float]:
    """Integrate the twin's balances (:func:`models.cstr.balances`) + jacket lag over one interval.

    ``state`` = (Ca mol/L, T K, Tj K); the jacket set point ``move_k`` is held (zero-order hold);
    feed and UA follow ``inputs`` (per-minute profiles, linearly interpolated). scipy's LSODA with
    rtol 1e-9 (stiff through an ignition).
    """
    dist = _disturbance_at(inputs, params)

    def f(t, y):
        q, caf, tf, ua = dist(t)
        dca, dtemp = plant.balances(y[0], y[1], y[2], params, q=q, caf=caf, tf=tf, ua=ua)
        return [float(dca), float(dtemp), (move_k - y[2]) / params.tau_j]

    sol = solve_ivp(f, (t0_min, t0_min + dt_min), list(state), method="LSODA", rtol=1e-9, atol=1e-9)
    if not sol.success:
        raise RuntimeError(f"plant integration failed at t = {t0_min} min: {sol.message}")
    return float(sol.y[0, -1]), float(sol.y[1, -1]), float(sol.y[2, -1])


# ---------------------------------------------------------------------------------- MHE


class CSTRMHE(RecedingHorizon):
    """Moving-horizon estimator of (Ca, T, Tj) and the UA fraction from temperatures.

    Parameters
    ----------
    params : CSTRParams
        Model parameters (UA is the clean-jacket value; the estimate scales it).
    window : int
        Number of past intervals in the window (N + 1 measurements).
    dt_min : float
        Sampling interval, min.
    arrival_std : mapping, optional
        Prior standard deviations of the arrival cost: ``ca`` mol/L, ``temp_k`` K, ``jacket_k``
        K, ``ua_factor`` (-). Defaults: 0.05, 0.5, 0.5, 0.05 (fouling moves UA by a few % per
        hour, so one window's prior on it is kept loose).
    process_std_k_min : float
        Standard deviation of the process noise on dT/dt, K/min (one value per interval): model
        error the estimate may absorb, e.g. from the filtered feed measurements.
    fouling_std_per_min : float
        Standard deviation of the UA fraction's random walk per interval (fouling drifts: the
        twin's episodes take UA to 60-80 % within hours, ~0.004 per min in this module's
        scenario), so a drift is followed without lag instead of averaged over the window.
    ncp : int
        Collocation points per interval.

    The arrival cost's prior (``prior``) refers to the window's first sample, whose index among
    the samples received so far is ``prior_sample``. When the window slides it becomes the last
    solution's estimate at the new first sample; if that solve failed (or none succeeded yet), the
    old prior is integrated one interval through the model (:func:`_model_step`) with the applied
    move, the measured feed and the prior's UA fraction (a random walk: kept).
    """

    stage_name = "cstr: mhe"

    def __init__(self, params: CSTRParams = plant.DEFAULT, *, window: int = 10, dt_min: float = 1.0,
                 arrival_std: Mapping[str, float] | None = None, process_std_k_min: float = 0.1,
                 fouling_std_per_min: float = 0.005, ncp: int = 3) -> None:
        super().__init__(HorizonConfig(window, dt_min, ncp))
        self.params = params
        self.noise = measurement_noise()
        self.arrival_std = {"ca": 0.05, "temp_k": 0.5, "jacket_k": 0.5, "ua_factor": 0.05,
                            **(arrival_std or {})}
        self.process_std_k_min = float(process_std_k_min)
        self.fouling_std_min = float(fouling_std_per_min)
        self._models: dict[int, pyo.ConcreteModel] = {}
        self.history: deque[tuple[CSTRMeasurement, float | None]] = deque(maxlen=window + 1)
        self.prior: CSTREstimate | None = None
        self.prior_sample = 0  # index of the sample the prior refers to (the window's first)
        self.samples_seen = 0
        self._last_solve_ok = False
        self.estimates: list[CSTREstimate] = []

    def _model(self, n: int) -> pyo.ConcreteModel:
        if n in self._models:
            return self._models[n]
        m = self.grid(n)
        _add_dynamics(self, m, self.params)
        m.theta = pyo.Var(m.k, bounds=(0.2, 1.5), initialize=1.0, doc="UA fraction per interval")
        m.w = pyo.Var(m.k, initialize=0.0, doc="process noise on dT/dt, K/min")
        self.discretize(m)
        _add_balances(self, m, self.params, lambda k: m.theta[k] * self.params.UA,
                      lambda k: m.w[k])
        m.n_meas = n + 1
        samples = sample_times(m, self.config.dt_min)
        m.j = pyo.Set(initialize=range(n + 1), ordered=True)
        m.yT = pyo.Param(m.j, mutable=True, initialize=330.0)
        m.yTj = pyo.Param(m.j, mutable=True, initialize=300.0)
        m.prior_ca = pyo.Param(mutable=True, initialize=0.8)
        m.prior_temp = pyo.Param(mutable=True, initialize=330.0)
        m.prior_tj = pyo.Param(mutable=True, initialize=300.0)
        m.prior_theta = pyo.Param(mutable=True, initialize=1.0)
        s, a = self.noise, self.arrival_std
        t0 = m.t.first()
        m.fit = pyo.Objective(expr=(
            sum(((m.temp[samples[j]] - m.yT[j]) / s["temp_k"]) ** 2 for j in m.j)
            + sum(((m.tj[samples[j]] - m.yTj[j]) / s["jacket_k"]) ** 2 for j in m.j)
            + ((m.ca[t0] - m.prior_ca) / a["ca"]) ** 2
            + ((m.temp[t0] - m.prior_temp) / a["temp_k"]) ** 2
            + ((m.tj[t0] - m.prior_tj) / a["jacket_k"]) ** 2
            + ((m.theta[0] - m.prior_theta) / a["ua_factor"]) ** 2
            + sum(((m.theta[k] - m.theta[k - 1]) / self.fouling_std_min) ** 2 for k in m.k if k > 0)
            + sum((m.w[k] / self.process_std_k_min) ** 2 for k in m.k)))
        m.samples = samples
        self._models[n] = m
        return m

    def _initial_prior(self, y: CSTRMeasurement) -> CSTREstimate:
        # Ca from the steady mass balance at the measured temperature and feed: the best guess
        # without an analyser; UA clean.
        p = self.params
        k = float(plant.rate_constant(y.temp_k, p))
        ca = y.feed_flow_l_min * y.feed_conc_mol_l / (y.feed_flow_l_min + p.V * k)
        return CSTREstimate(ca, y.temp_k, y.jacket_k, 1.0)

    def step(self, measurement: CSTRMeasurement, applied_move_k: float | None) -> CSTREstimate:
        """Add a sample (and the move applied since the previous one); return the current estimate.

        ``applied_move_k`` is the jacket set point held over the interval that ends at this
        sample (None for the first sample).
        """
        if self.history and applied_move_k is None:
            raise ConfigError("cstr mhe: expected the move applied since the previous sample, found None")
        full_before = len(self.history) == self.history.maxlen
        previous = self._models.get(len(self.history) - 1) if self.history else None
        if self.prior is None:
            self.prior = self._initial_prior(measurement)
            self.prior_sample = self.samples_seen
        elif full_before:
            # The window slides: the prior moves to its new first sample.
            if previous is not None and self._last_solve_ok:
                # The last estimate of the state at that sample.
                t1 = previous.samples[1]
                self.prior = CSTREstimate(previous.ca[t1].value, previous.temp[t1].value, previous.tj[t1].value,
                                          previous.theta[1].value)
            else:
                # No fresh estimate of that sample: integrate the old prior over the dropped interval.
                pr, (y0, _), (_, u01) = self.prior, self.history[0], self.history[1]
                ca, temp, tj = _model_step((max(pr.ca, 0.0), pr.temp_k, pr.jacket_k), u01, y0.feed_flow_l_min,
                                           y0.feed_conc_mol_l, y0.feed_temp_k, pr.ua_factor * self.params.UA,
                                           self.config.dt_min, self.params)
                self.prior = CSTREstimate(ca, temp, tj, pr.ua_factor)
            self.prior_sample += 1
        self.samples_seen += 1
        self._last_solve_ok = False
        self.history.append((measurement, applied_move_k))
        n = len(self.history) - 1
        if n == 0:
            est = self.prior
            self.estimates.append(est)
            return est
        m = self._model(n)
        ys = list(self.history)
        for j, (y, _) in enumerate(ys):
            m.yT[j] = y.temp_k
            m.yTj[j] = y.jacket_k
        for k in m.k:
            y_k, u_next = ys[k][0], ys[k + 1][1]
            m.q[k], m.caf[k], m.tf[k] = y_k.feed_flow_l_min, y_k.feed_conc_mol_l, y_k.feed_temp_k
            m.u[k].fix(u_next)
        pr = self.prior
        m.prior_ca, m.prior_temp, m.prior_tj, m.prior_theta = pr.ca, pr.temp_k, pr.jacket_k, pr.ua_factor
        self._initialize(m, n, full_before and previous is m)
        self._last_solve_ok = self.guarded_solve(m)
        if not self._last_solve_ok:
            last = self.estimates[-1] if self.estimates else pr
            est = replace(last, temp_k=measurement.temp_k, jacket_k=measurement.jacket_k)
        else:
            t_end = m.t.last()
            est = CSTREstimate(m.ca[t_end].value, m.temp[t_end].value, m.tj[t_end].value,
                               m.theta[m.k.last()].value)
        self.estimates.append(est)
        return est

    def _initialize(self, m: pyo.ConcreteModel, n: int, warm: bool) -> None:
        """Warm start from the shifted previous solution, or simulate the prior through the window."""
        if warm and self.solved:
            self.shift(m)
            return
        pr = self.prior
        _simulate_into(self, m, (max(pr.ca, 0.0), pr.temp_k, pr.jacket_k), pr.ua_factor * self.params.UA,
                       self.params)
        for k in m.k:
            m.theta[k].set_value(pr.ua_factor)


# ---------------------------------------------------------------------------------- NMPC


class CSTRNMPC(RecedingHorizon):
    """Economic NMPC of the CSTR's jacket set point, with its MHE.

    Parameters
    ----------
    params : CSTRParams
        Model parameters (clean-jacket UA).
    prices : CSTRPrices
        Prices of the profit (:mod:`optimization.cstr`).
    horizon : int
        Prediction horizon, sampling intervals.
    dt_min : float
        Sampling interval, min.
    t_max_k : float, optional
        Fixed runaway limit, K. Default: :func:`runaway_limit_at` re-evaluated every step for the
        measured feed and the estimated fouling (``t_max_k`` then holds the clean-jacket value).
    backoff_k : float
        Margin kept below ``t_max_k`` by the constraint (covers the estimation error, ~2 sigma
        of the MHE's temperature estimate at 0.15 K measurement noise).
    coolant_bounds_k : (float, float)
        Jacket set-point range, K (TC102's output range).
    move_rate_k_min : float
        Move-rate limit, K/min (TC102's output rate limit).
    move_weight : float
        Regularising weight on squared moves, USD/K^2.
    tracking_weight : float
        Weight of the integral of (T - T_s)^2 towards the terminal steady state, USD/(K^2 min).
    slack_penalty : float
        Exact-penalty weight of the runaway slack, USD per K per collocation point.
    terminal_band_k : float
        Half width of the terminal region in T around the terminal steady state, K.
    feed_filter : int
        The feed tags (FI101, AI101, TI101) enter both problems as measured inputs, the median of
        the last ``feed_filter`` samples: their noise (0.12 K on the feed temperature, with a
        feed turnover q/V = 1 /min) would otherwise move dT/dt by ~0.1 K/min from sample to
        sample, while a median (unlike a mean) passes a step whole after (n + 1) / 2 samples.
    mhe_window : int
        MHE window, sampling intervals.
    mhe_options : mapping, optional
        Further keyword arguments of :class:`CSTRMHE` (``arrival_std``, ``process_std_k_min``).
    ncp : int
        Radau points per interval of the NMPC.
    """

    stage_name = "cstr: nmpc"

    def __init__(
        self,
        params: CSTRParams = plant.DEFAULT,
        prices: CSTRPrices = DEFAULT_PRICES,
        *,
        horizon: int = 20,
        dt_min: float = 1.0,
        t_max_k: float | None = None,
        backoff_k: float = 0.4,
        coolant_bounds_k: tuple[float, float] = (plant.DEFAULT_TUNING.out_min, plant.DEFAULT_TUNING.out_max),
        move_rate_k_min: float = plant.DEFAULT_TUNING.out_rate,
        move_weight: float = 2.0,
        tracking_weight: float = 0.0,
        slack_penalty: float = 100.0,
        terminal_band_k: float = 0.5,
        feed_filter: int = 3,
        mhe_window: int = 10,
        mhe_options: Mapping[str, object] | None = None,
        ncp: int = 3,
    ) -> None:
        super().__init__(HorizonConfig(horizon, dt_min, ncp))
        self.params = params
        self.prices = CSTRPrices.from_mapping(prices)
        self.t_max_k = float(runaway_limit_k(params) if t_max_k is None else t_max_k)
        self.t_max_fixed = None if t_max_k is None else float(t_max_k)
        self.limits: list[float] = []
        self.backoff_k = float(backoff_k)
        self.coolant_bounds_k = coolant_bounds_k
        self.move_rate_k_min = float(move_rate_k_min)
        self.move_weight = float(move_weight)
        self.tracking_weight = float(tracking_weight)
        self.slack_penalty = float(slack_penalty)
        self.terminal_band_k = float(terminal_band_k)
        self.mhe = CSTRMHE(params, window=mhe_window, dt_min=dt_min, **(mhe_options or {}))
        self.feed_history: deque[tuple[float, float, float]] = deque(maxlen=max(1, int(feed_filter)))
        self.model = self.build()
        self.moves: list[float] = []
        self.last_move: float | None = None

    def build(self) -> pyo.ConcreteModel:
        """The horizon problem: dynamics, profit integral, soft runaway limit, terminal region."""
        p = self.params
        m = self.grid()
        _add_dynamics(self, m, p)
        m.ua = pyo.Param(mutable=True, initialize=p.UA, doc="estimated UA, J/(min K)")
        m.profit = pyo.Var(m.t, initialize=0.0, doc="profit accumulated, USD")
        m.dprofit = dae.DerivativeVar(m.profit, wrt=m.t)
        self.discretize(m)
        _add_balances(self, m, p, lambda k: m.ua)
        lo, hi = self.coolant_bounds_k
        for k in m.k:
            m.u[k].setlb(lo)
            m.u[k].setub(hi)
        t0, tH = m.t.first(), m.t.last()

        def stage_profit(m, t):
            if t == t0:
                return pyo.Constraint.Skip
            k = self.interval(t)
            perf = _performance(m.q[k], m.caf[k], m.ca[t], m.temp[t], m.tj[t], m.ua, self.prices)
            return m.dprofit[t] == perf["profit_usd_h"] / 60.0

        m.profit_rate = pyo.Constraint(m.t, rule=stage_profit)
        m.profit[t0].fix(0.0)
        for v in (m.ca, m.temp, m.tj):
            v[t0].fix()

        # Soft runaway limit (exact L1 penalty).
        m.t_limit = pyo.Param(mutable=True, initialize=self.t_max_k - self.backoff_k)
        m.slack = pyo.Var(m.t, bounds=(0.0, None), initialize=0.0, doc="runaway slack, K")
        m.runaway = pyo.Constraint(m.t, rule=lambda m, t: pyo.Constraint.Skip if t == t0
                                   else m.temp[t] <= m.t_limit + m.slack[t])

        # Move-rate limit, from the move applied now.
        m.u_prev = pyo.Param(mutable=True, initialize=300.0)
        rate = self.move_rate_k_min * self.config.dt_min
        ks = list(m.k)
        m.du = pyo.Expression(m.k, rule=lambda m, k: m.u[k] - (m.u_prev if k == ks[0] else m.u[k - 1]))
        m.rate_up = pyo.Constraint(m.k, rule=lambda m, k: m.du[k] <= rate)
        m.rate_down = pyo.Constraint(m.k, rule=lambda m, k: m.du[k] >= -rate)

        # Terminal steady state on the cold branch (T_s below the ignition temperature) and region.
        m.ca_s = pyo.Var(bounds=(0.0, 2.0 * max(p.Caf, 1.0)), initialize=0.8)
        m.temp_s = pyo.Var(bounds=(250.0, None), initialize=330.0)
        m.temp_s.setub(self.t_max_k - self.backoff_k)
        k_last = ks[-1]
        ss = _balances(p, m.ca_s, m.temp_s, m.u[k_last], m.u[k_last], m.q[k_last], m.caf[k_last], m.tf[k_last], m.ua)
        m.ss_mass = pyo.Constraint(expr=ss[0] == 0)
        m.ss_energy = pyo.Constraint(expr=ss[1] == 0)
        m.slack_end = pyo.Var(bounds=(0.0, None), initialize=0.0)
        band = self.terminal_band_k
        m.terminal_region = pyo.Constraint(expr=(m.temp[tH] - m.temp_s) ** 2 <= band**2 + m.slack_end)

        m.objective = pyo.Objective(expr=(
            -m.profit[tH]
            + self.slack_penalty * (sum(m.slack[t] for t in m.t if t != t0) + m.slack_end)
            + self.move_weight * sum(m.du[k] ** 2 for k in m.k)
            + self.tracking_weight * self.config.dt_min / self.config.ncp
            * sum((m.temp[t] - m.temp_s) ** 2 for t in m.t if t != t0)
            + self.move_weight * ((m.temp[tH] - m.temp_s) ** 2 + (100.0 * (m.ca[tH] - m.ca_s)) ** 2)))
        return m

    # -------------------------------------------------------------- per step

    def set_initial(self, est: CSTREstimate, y: CSTRMeasurement) -> None:
        """Bind the estimate (initial state, UA) and the measured feed (held over the horizon)."""
        m = self.model
        t0 = m.t.first()
        m.ca[t0].fix(max(est.ca, 0.0))
        m.temp[t0].fix(est.temp_k)
        m.tj[t0].fix(est.jacket_k)
        m.ua = est.ua_factor * self.params.UA
        for k in m.k:
            m.q[k], m.caf[k], m.tf[k] = y.feed_flow_l_min, y.feed_conc_mol_l, y.feed_temp_k
        m.u_prev = self.last_move if self.last_move is not None else est.jacket_k

    def _cold_start(self, est: CSTREstimate) -> None:
        """Initial guess: hold the current jacket set point and simulate; terminal state there."""
        m = self.model
        u = self.last_move if self.last_move is not None else est.jacket_k
        u = min(max(u, self.coolant_bounds_k[0]), self.coolant_bounds_k[1])
        for k in m.k:
            m.u[k].set_value(u)
        end = _simulate_into(self, m, (max(est.ca, 0.0), est.temp_k, est.jacket_k), pyo.value(m.ua), self.params)
        m.ca_s.set_value(max(end[0], 0.0), skip_validation=True)
        m.temp_s.set_value(min(end[1], self.t_max_k - self.backoff_k), skip_validation=True)

    def step(self, measurement: CSTRMeasurement, *, ceiling_k: float | None = None) -> float:
        """One controller execution: estimate, optimise, return the jacket set point (K).

        ``ceiling_k`` is an operating ceiling on T below the runaway limit (e.g. the target grade
        the operators allow); the constraint is ``T <= min(t_max_k, ceiling_k) - backoff_k``. A
        failed solve holds the previous move (counted in ``failures``).
        """
        self.feed_history.append((measurement.feed_flow_l_min, measurement.feed_conc_mol_l, measurement.feed_temp_k))
        q, caf, tf = np.median(np.asarray(self.feed_history), axis=0)
        measurement = replace(measurement, feed_flow_l_min=float(q), feed_conc_mol_l=float(caf), feed_temp_k=float(tf))
        est = self.mhe.step(measurement, self.last_move)
        self.set_initial(est, measurement)
        m = self.model
        t_max = runaway_limit_at(self.params, measurement.feed_flow_l_min, measurement.feed_conc_mol_l,
                                 measurement.feed_temp_k, est.ua_factor) if self.t_max_fixed is None else self.t_max_fixed
        self.limits.append(t_max)
        limit = min(t_max, math.inf if ceiling_k is None else float(ceiling_k)) - self.backoff_k
        m.t_limit = limit
        m.temp_s.setub(limit)
        if self.solved:
            self.shift(m)
        else:
            self._cold_start(est)
        if self.guarded_solve(m):
            move = float(m.u[m.k.first()].value)
        else:
            move = self.last_move if self.last_move is not None else est.jacket_k
            if not self.solved:
                self._cold_start(est)  # do not shift an unsolved point next time
        self.last_move = move
        self.moves.append(move)
        return move


def predict_open_loop(
    state: tuple[float, float, float],
    moves_k: list[float],
    *,
    params: CSTRParams = plant.DEFAULT,
    dt_min: float = 1.0,
    ncp: int = 3,
    feed: tuple[float, float, float] | None = None,
    ua_factor: float = 1.0,
) -> pd.DataFrame:
    """Open-loop prediction of the NMPC's collocation model for given moves (a square solve).

    Returns Ca, T, Tj at the sampling instants (rows: minute). Used to check the ``pyomo.dae``
    discretisation against scipy's integration of the same physics (:func:`plant_step`).
    """
    core = RecedingHorizon(HorizonConfig(len(moves_k), dt_min, ncp))
    core.stage_name = "cstr: open-loop prediction"
    m = core.grid()
    _add_dynamics(core, m, params)
    core.discretize(m)
    q, caf, tf = feed or (params.q, params.Caf, params.Tf)
    _add_balances(core, m, params, lambda k: ua_factor * params.UA)
    t0 = m.t.first()
    for k, u in zip(m.k, moves_k):
        m.u[k].fix(u)
        m.q[k], m.caf[k], m.tf[k] = q, caf, tf
    for v, x in zip((m.ca, m.temp, m.tj), state):
        v[t0].fix(x)
    _simulate_into(core, m, state, ua_factor * params.UA, params)
    solve(m, core.solver, stage_name=core.stage_name)
    rows = [(t, m.ca[t].value, m.temp[t].value, m.tj[t].value) for t in sample_times(m, dt_min)]
    return pd.DataFrame(rows, columns=["minute", "ca", "temp_k", "jacket_k"]).set_index("minute")


# ---------------------------------------------------------------------------------- scenarios


SCENARIOS: tuple[str, ...] = ("setpoint_change", "feed_disturbance", "near_ignition")
#: Operators' set-point ramp of TC102, K/min (the preferred rate of models.cstr.scenarios).
_SP_RAMP_K_MIN = 0.2


@dataclass(frozen=True, eq=False)
class Scenario:
    """A closed-loop test case.

    Attributes
    ----------
    name : str
    inputs : LoopInputs
        Per-minute profiles: ``setpoint_k`` is the economic target handed to TC102 (and the
        reference of the IAE), feed and ``ua_factor`` the plant's disturbances.
    initial : LoopState
        Plant state at minute 0 (and the PI's bumpless initialisation).
    target_k : ndarray
        Economic target per minute, K: the steady-state optimum under the plant's true
        conditions, i.e. ``min(limit_k, ceiling_k)`` (profit rises with T up to the runaway
        limit). The IAE's reference for both controllers.
    limit_k : ndarray
        Runaway limit under the plant's true feed and fouling per minute, K
        (:func:`runaway_limit_at`): the violation metrics' reference.
    ceiling_k : ndarray
        Operating ceiling handed to the NMPC (inf: none; the NMPC then uses its own limit
        estimate). TC102's set point (``inputs.setpoint_k``) is the steady-state optimizer's
        value for the conditions at minute 0, held for the run (the optimizer runs on calibrated
        data, hours apart), and reached after a target change along the operators' 0.2 K/min
        ramp (:mod:`models.cstr.scenarios`; a 9 K step of TC102's set point ignites the reactor).
    description : str
    """

    name: str
    inputs: LoopInputs
    initial: LoopState
    target_k: np.ndarray
    limit_k: np.ndarray
    ceiling_k: np.ndarray
    description: str


def make_scenario(
    name: Literal["setpoint_change", "feed_disturbance", "near_ignition"],
    *,
    minutes: int = 120,
    params: CSTRParams = plant.DEFAULT,
    target_k: float | None = None,
) -> Scenario:
    """The comparison scenarios (1-min profiles), target = the runaway limit unless ``target_k``.

    * ``setpoint_change``: steady at the nominal 324.475 K (Tc = 300 K); at minute 5 the
      economic target steps to the steady-state optimum, which is the runaway limit
      (:mod:`optimization.cstr`: profit rises with T, the runaway constraint is active).
    * ``feed_disturbance``: steady at the target; feed temperature +3 K at minute 10, feed
      concentration +5 % at minute 40, and jacket fouling from minute 10: UA falls linearly to
      75 % at minute 80 and stays there.
    * ``near_ignition``: the reactor sits 1 K from the ignition point (T = ignition - 1 K, above
      the runaway limit, on the cold branch) with a +0.5 K temperature upset; target the limit.
    """
    if name not in SCENARIOS:
        raise ConfigError(f"scenario expected one of {list(SCENARIOS)}, found {name!r}")
    target = float(runaway_limit_k(params) if target_k is None else target_k)
    base = LoopInputs.constant(minutes, params, setpoint_k=target)
    sp, tf, caf, uaf = (base.setpoint_k.copy(), base.feed_temp_k.copy(), base.feed_conc.copy(),
                        base.ua_factor.copy())
    minute = np.arange(minutes, dtype=float)
    if name == "setpoint_change":
        sp[:5] = plant.NOMINAL_SETPOINT_K
        sp[5:] = np.minimum(target, plant.NOMINAL_SETPOINT_K + _SP_RAMP_K_MIN * (minute[5:] - 5.0))
        start_k, upset_k = plant.NOMINAL_SETPOINT_K, 0.0
        text = f"target {plant.NOMINAL_SETPOINT_K:.3f} -> {target:.3f} K at minute 5"
    elif name == "feed_disturbance":
        tf[10:] += 3.0
        caf[40:] *= 1.05
        uaf[:] = np.clip(1.0 - 0.25 * (minute - 10.0) / 70.0, 0.75, 1.0)
        start_k, upset_k = target, 0.0
        text = "feed T +3 K at 10 min, Caf +5 % at 40 min, UA -> 75 % over 10-80 min"
    else:
        ign = ignition_point(params)
        if ign is None:
            raise ConfigError("near_ignition expected a reactor with multiplicity, found none")
        start_k, upset_k = ign[1] - 1.0, 0.5
        text = f"start at T = {start_k:.3f} K (ignition {ign[1]:.3f} K) with a +{upset_k} K upset"
    inputs = replace(base, setpoint_k=sp, feed_temp_k=tf, feed_conc=caf, ua_factor=uaf)
    ca, tc = plant.closed_loop_steady_state(start_k, params, q=float(base.feed_flow[0]), caf=float(caf[0]),
                                            tf=float(tf[0]), ua=params.UA * float(uaf[0]))
    limit = np.array([runaway_limit_at(params, float(q), float(c), float(t), float(u))
                      for q, c, t, u in zip(base.feed_flow, caf, tf, uaf)])
    ceiling = np.full(minutes, math.inf)
    if name == "setpoint_change":
        ceiling[:5] = plant.NOMINAL_SETPOINT_K
    goal = np.minimum(limit, ceiling)
    return Scenario(name, inputs, LoopState(ca, start_k + upset_k, tc, tc, tc), goal, limit, ceiling, text)


# ---------------------------------------------------------------------------------- closed loops


@dataclass(frozen=True, eq=False)
class ClosedLoopResult:
    """Per-minute trajectory (``frame``: ca, temp_k, jacket_k, move_k, ua_factor, ...) and solve times."""

    frame: pd.DataFrame
    solve_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    failures: int = 0
    mhe_failures: int = 0


def run_pi(scenario: Scenario, params: CSTRParams = plant.DEFAULT,
           tuning: PITuning = plant.DEFAULT_TUNING) -> ClosedLoopResult:
    """The twin's TC102 loop as simulated (:func:`models.cstr.run_closed_loop`): 6-s scan, noise-free T."""
    traj = plant.run_closed_loop(scenario.inputs, params, tuning, scenario.initial)
    frame = pd.DataFrame({
        "ca": traj.ca, "temp_k": traj.temp_k, "jacket_k": traj.jacket_k, "move_k": traj.output_k,
        "setpoint_k": traj.setpoint_k, "target_k": scenario.target_k, "limit_k": scenario.limit_k,
        "feed_flow_l_min": traj.feed_flow, "feed_conc_mol_l": traj.feed_conc,
        "feed_temp_k": traj.feed_temp_k, "ua_j_min_k": traj.ua,
    })
    return ClosedLoopResult(frame)


def run_pi_measured(scenario: Scenario, *, seed: int = 0, params: CSTRParams = plant.DEFAULT,
                    tuning: PITuning = plant.DEFAULT_TUNING) -> ClosedLoopResult:
    """TC102's PI law (:class:`models.cstr.PITuning`, as in :func:`models.cstr.run_closed_loop`)
    reading the *noisy* TI102 (one reading per 6-s scan) on the scipy plant of :func:`plant_step`.

    The same information as the NMPC gets, so the comparison is between control laws; the
    interlocks and coolant floors of the twin are not part of these scenarios.
    """
    rng = np.random.default_rng(seed)
    sd = measurement_noise()["temp_k"]
    inputs, tu = scenario.inputs, tuning
    nsub = int(round(1.0 / tu.scan))
    kc, ki = tu.kc, tu.kc / tu.tau_i
    kt = 0.0 if math.isinf(tu.tau_t) else 1.0 / tu.tau_t
    rate = tu.out_rate * tu.scan
    minutes = np.arange(len(inputs), dtype=float)
    init = scenario.initial
    x = (init.ca, init.temp_k, init.jacket_k)
    integ, u = init.integral_k, init.output_k
    rows = []
    for minute in range(len(inputs)):
        rows.append({"ca": x[0], "temp_k": x[1], "jacket_k": x[2], "move_k": u,
                     "setpoint_k": float(inputs.setpoint_k[minute]), "target_k": float(scenario.target_k[minute]),
                     "limit_k": float(scenario.limit_k[minute]), "feed_flow_l_min": float(inputs.feed_flow[minute]),
                     "feed_conc_mol_l": float(inputs.feed_conc[minute]), "feed_temp_k": float(inputs.feed_temp_k[minute]),
                     "ua_j_min_k": params.UA * float(inputs.ua_factor[minute])})
        for j in range(nsub):
            t = minute + j * tu.scan
            e = float(np.interp(t, minutes, inputs.setpoint_k)) - (x[1] + float(rng.normal(0.0, sd)))
            v = kc * e + integ
            w = min(max(v, tu.out_min), tu.out_max)
            w = min(max(w, u - rate), u + rate)
            integ += (ki * e + kt * (w - v)) * tu.scan
            u = w
            x = plant_step(x, u, t, tu.scan, inputs, params)
    return ClosedLoopResult(pd.DataFrame(rows))


def run_nmpc(scenario: Scenario, controller: CSTRNMPC, *, seed: int = 0,
             params: CSTRParams = plant.DEFAULT) -> ClosedLoopResult:
    """Close the loop around the scipy plant (:func:`plant_step`) with noisy measurements.

    The controller sees only :class:`CSTRMeasurement` samples (Gaussian noise of the tag
    catalogue from ``numpy.random.default_rng(seed)``); the plant is the twin's own ODE.
    """
    rng = np.random.default_rng(seed)
    sd = measurement_noise()
    inputs = scenario.inputs
    dt = controller.config.dt_min
    if abs(dt - 1.0) > 1e-12:
        raise ConfigError(f"run_nmpc expected the 1-min sampling of the scenario profiles, found {dt} min")
    x = (scenario.initial.ca, scenario.initial.temp_k, scenario.initial.jacket_k)
    rows = []
    for minute in range(len(inputs)):
        q, caf, tf = (float(inputs.feed_flow[minute]), float(inputs.feed_conc[minute]),
                      float(inputs.feed_temp_k[minute]))
        true = dict(temp_k=x[1], jacket_k=x[2], feed_flow_l_min=q, feed_conc_mol_l=caf, feed_temp_k=tf)
        y = CSTRMeasurement(**{f: v + float(rng.normal(0.0, sd[f])) for f, v in true.items()})
        move = controller.step(y, ceiling_k=float(scenario.ceiling_k[minute]))
        est = controller.mhe.estimates[-1]
        rows.append({"ca": x[0], "temp_k": x[1], "jacket_k": x[2], "move_k": move,
                     "setpoint_k": float(inputs.setpoint_k[minute]), "target_k": float(scenario.target_k[minute]),
                     "limit_k": float(scenario.limit_k[minute]),
                     "feed_flow_l_min": q, "feed_conc_mol_l": caf,
                     "feed_temp_k": tf, "ua_j_min_k": params.UA * float(inputs.ua_factor[minute]),
                     "est_ca": est.ca, "est_temp_k": est.temp_k, "est_ua_factor": est.ua_factor,
                     "meas_temp_k": y.temp_k})
        x = plant_step(x, move, float(minute), dt, inputs, params)
    return ClosedLoopResult(pd.DataFrame(rows), np.asarray(controller.solve_times_s), controller.failures,
                            controller.mhe.failures)


def _metrics(res: ClosedLoopResult, prices: CSTRPrices, dt_min: float,
             tolerance_k: float) -> dict[str, float]:
    f = res.frame
    perf = _performance(f["feed_flow_l_min"].to_numpy(), f["feed_conc_mol_l"].to_numpy(), f["ca"].to_numpy(),
                        f["temp_k"].to_numpy(), f["jacket_k"].to_numpy(), f["ua_j_min_k"].to_numpy(), prices)
    excursion = f["temp_k"].to_numpy() - f["limit_k"].to_numpy()
    times = res.solve_times_s
    return {
        "iae_temp_k_min": float(np.sum(np.abs(f["temp_k"] - f["target_k"])) * dt_min),
        "minutes_above_limit": float(np.sum(excursion > tolerance_k) * dt_min),
        "max_excursion_k": float(max(0.0, excursion.max())),
        "max_temp_k": float(f["temp_k"].max()),
        "profit_usd": float(np.sum(perf["profit_usd_h"]) * dt_min / 60.0),
        "solve_mean_s": float(times.mean()) if times.size else math.nan,
        "solve_p95_s": float(np.percentile(times, 95)) if times.size else math.nan,
        "solve_max_s": float(times.max()) if times.size else math.nan,
        "sampling_interval_s": dt_min * 60.0,
        "failed_solves": float(res.failures + res.mhe_failures),
    }


def compare_with_pi(
    scenario: Scenario | str,
    *,
    horizon: int = 20,
    seed: int = 0,
    params: CSTRParams = plant.DEFAULT,
    prices: CSTRPrices = DEFAULT_PRICES,
    tolerance_k: float = 0.01,
    **controller_options,
) -> pd.DataFrame:
    """PI (TC102) vs economic NMPC + MHE on one scenario.

    Rows ``pi`` and ``nmpc``; columns: ``iae_temp_k_min`` (|T - target| summed over the minutes,
    K min), ``minutes_above_limit`` (minutes with T above the runaway limit by more than
    ``tolerance_k``, 0.01 K: a loop holding T exactly at the limit is not counted for the last
    digits of the integrator), ``max_excursion_k`` (largest T - limit, >= 0), ``max_temp_k``,
    ``profit_usd`` (profit of :mod:`optimization.cstr` over the run, from the per-minute
    samples), NMPC solve time per step (``solve_mean_s``, ``solve_p95_s``, ``solve_max_s``:
    MHE + NMPC wall time, NaN for PI) against ``sampling_interval_s``, and ``failed_solves``.
    The per-minute trajectories are in ``attrs["trajectories"]``.
    """
    sc = make_scenario(scenario, params=params) if isinstance(scenario, str) else scenario
    controller = CSTRNMPC(params, prices, horizon=horizon, **controller_options)
    pi_ideal = run_pi(sc, params)
    pi = run_pi_measured(sc, seed=seed, params=params)
    nmpc = run_nmpc(sc, controller, seed=seed, params=params)
    # Solve time per step: the MHE's and the NMPC's solves of the same step added.
    mhe_times = np.asarray(controller.mhe.solve_times_s)
    per_step = nmpc.solve_times_s.copy()
    per_step[len(per_step) - len(mhe_times):] += mhe_times
    nmpc = replace(nmpc, solve_times_s=per_step)
    table = pd.DataFrame({name: _metrics(r, controller.prices, 1.0, tolerance_k)
                          for name, r in (("pi_noise_free", pi_ideal), ("pi", pi), ("nmpc", nmpc))}).T
    table.index.name = "controller"
    table.attrs = {"scenario": sc.name, "description": sc.description, "t_max_k": controller.t_max_k,
                   "trajectories": {"pi_noise_free": pi_ideal.frame, "pi": pi.frame, "nmpc": nmpc.frame}}
    return table
