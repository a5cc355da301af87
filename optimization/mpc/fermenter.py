"""Economic NMPC with moving-horizon estimation for the continuous ethanol fermenter (chemostat).

Physics: :mod:`models.biorefinery.fermentation` (unstructured Monod kinetics with Levenspiel
product inhibition, Luedeking-Piret ethanol formation, maintenance and death; yeast parameters of
Fogler 2006), constant volume, sterile feed of glucose only::

    dX/dt = (theta mu(S, P) - kd - D) X
    dS/dt = D (Sf - S) - qs X,   qs = theta mu / Yxs + qp / Yps + ms S/(Ks + S)
    dP/dt = qp X - D P,          qp = alpha theta mu + beta S/(Ks + S)

``theta`` scales ``mu_max`` (the culture's activity: inhibitors in the hydrolysate lower it), the
unmeasured disturbance the MHE estimates; the input is the dilution rate D (1/h); time in h,
concentrations in g/L (= kg/m3).

Measurements (the biorefinery's fermentation tags, :data:`models.biorefinery.TAGS`): glucose in
beer ``BIO.AI402`` (HPLC, noise 0.2 g/L) and ethanol in beer ``BIO.AI404`` (HPLC, 0.3 g/L), one
sample per hour; the feed glucose ``BIO.AI303`` (HPLC, 0.6 g/L) as a measured input (median of
the last 3 samples). The cell-mass optical density ``BIO.AI406`` is not used: in a lignocellulosic
beer the solids make it a poor measure of viable cells, and X is observable from S and P through
the balances (X = D (Sf - S)/qs at steady state).

Economics, USD per m3 of broth per hour (prices are parameters, :class:`FermenterPrices`)::

    value = D (ethanol price x P - sugar price x S)

ethanol leaving in the beer is the product; glucose leaving unconverted is lost at the price of
hydrolysate sugar. The value rises with D (productivity D P) until the sugar loss takes over; the
residual-sugar spec ``S <= s_spec`` is active at the optimum for the defaults.

NMPC (one finite element per hour, Radau, D piecewise constant)::

    min  -int value dt + rho sum (s_S + s_X) + w_du sum (D_k - D_{k-1})^2
    s.t. balances; S <= s_spec - backoff + s_S; X >= x_min - s_X (no washout; soft, exact penalty)
         D_min <= D_k <= D_max, |D_k - D_{k-1}| <= rate
         terminal: a non-trivial chemostat steady state (X_s >= x_min, S_s <= s_spec - backoff) at
         the last move, and |S(H) - S_s| <= band: the horizon ends near a stable operating point,
         never on the washout branch.

MHE: window of the last N hourly samples; unknowns the initial state, ``theta_k`` per interval
(random walk) and a process noise on dX/dt; the arrival cost's prior always refers to the window's
first sample: the previous MHE's estimate of it, or, when the previous solve failed, the old prior
integrated one interval through the model (applied D, measured feed, the prior's theta).

PI baseline: effluent glucose (``BIO.AI402``) -> dilution rate, hourly, the same noisy samples,
IMC tuning from the chemostat's steady-state gain and residence time (:func:`pi_tuning`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
import pyomo.dae as dae
import pyomo.environ as pyo
from scipy.integrate import solve_ivp

from models.biorefinery import TAGS as BIO_TAGS
from models.biorefinery.fermentation import (
    FermentationParams,
    chemostat_steady_state,
    derivatives,
    specific_rates,
    washout_dilution_h,
)
from nexus.errors import ConfigError
from optimization.mpc.core import HorizonConfig, RecedingHorizon, sample_times
from optimization.solvers import solve

__all__ = [
    "FERMENTER_SCENARIOS",
    "FERMENTER_TAGS",
    "FermenterEstimate",
    "FermenterMHE",
    "FermenterMeasurement",
    "FermenterNMPC",
    "FermenterPI",
    "FermenterPrices",
    "FermenterResult",
    "FermenterScenario",
    "compare_fermenter_with_pi",
    "fermenter_measurement_noise",
    "fermenter_step",
    "make_fermenter_scenario",
    "pi_tuning",
    "predict_fermenter_open_loop",
    "run_fermenter_nmpc",
    "run_fermenter_pi",
]

#: Historian tag of each measured field.
FERMENTER_TAGS: dict[str, str] = {"s_g_l": "BIO.AI402", "p_g_l": "BIO.AI404", "s_feed_g_l": "BIO.AI303"}
#: Nominal feed glucose, g/L (a conditioned hydrolysate; assumption of these scenarios).
S_FEED_G_L = 100.0


def fermenter_measurement_noise() -> dict[str, float]:
    """Noise standard deviation of each measured field, g/L (tag catalogue: % of span)."""
    by_tag = {t.tag: t for t in BIO_TAGS}
    return {f: by_tag[tag].noise_pct / 100.0 * (by_tag[tag].range_max - by_tag[tag].range_min)
            for f, tag in FERMENTER_TAGS.items()}


@dataclass(frozen=True)
class FermenterPrices:
    """Prices of the economic objective, USD/kg.

    Attributes
    ----------
    ethanol_usd_kg : float
        Fuel ethanol: 0.67 USD/kg = the 2.00 USD/gal reference of :mod:`models.market`
        (0.789 kg/L) as used in :mod:`optimization.biorefinery`'s example.
    sugar_usd_kg : float
        Hydrolysate glucose lost unconverted: 0.30 USD/kg (assumption of this module, the order
        of the minimum sugar selling prices of NREL's lignocellulosic sugar studies).
    """

    ethanol_usd_kg: float = 0.67
    sugar_usd_kg: float = 0.30

    def __post_init__(self) -> None:
        for name in ("ethanol_usd_kg", "sugar_usd_kg"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"fermenter price {name} expected a finite number >= 0, found {value!r}")


@dataclass(frozen=True)
class FermenterMeasurement:
    """One hourly sample: effluent glucose and ethanol, feed glucose (g/L)."""

    s_g_l: float
    p_g_l: float
    s_feed_g_l: float


@dataclass(frozen=True)
class FermenterEstimate:
    """MHE estimate: X, S, P (g/L) and the activity factor ``theta`` (mu_max multiplier)."""

    x_g_l: float
    s_g_l: float
    p_g_l: float
    theta: float


def _rates(params: FermentationParams, x, s, p, theta):
    """(mu, qp, qs) of :func:`models.biorefinery.fermentation.specific_rates` with mu scaled by theta."""
    mu, _, _ = specific_rates(x, s, p, params)
    mu = theta * mu
    f_s = s / (params.ks_g_l + s)
    qp = params.alpha_g_g * mu + params.beta_g_g_h * f_s
    qs = mu / params.yxs_g_g + qp / params.yps_g_g + params.ms_g_g_h * f_s
    return mu, qp, qs


def _rhs(params: FermentationParams, x, s, p, d, sf, theta):
    mu, qp, qs = _rates(params, x, s, p, theta)
    return (mu - params.kd_h - d) * x, d * (sf - s) - qs * x, qp * x - d * p


def _add_dynamics(m: pyo.ConcreteModel, params: FermentationParams) -> None:
    """States x, s, p on ``m.t``, input d[k], feed sf[k]; collocated balances (call after grid())."""
    p_cap = 0.97 * params.p_max_g_l if math.isfinite(params.p_max_g_l) else 1e3
    m.x = pyo.Var(m.t, bounds=(1e-6, 50.0), initialize=5.0, doc="cells, g/L")
    m.s = pyo.Var(m.t, bounds=(0.0, 500.0), initialize=5.0, doc="glucose, g/L")
    m.p = pyo.Var(m.t, bounds=(0.0, p_cap), initialize=40.0, doc="ethanol, g/L")
    m.dx = dae.DerivativeVar(m.x, wrt=m.t)
    m.ds = dae.DerivativeVar(m.s, wrt=m.t)
    m.dp = dae.DerivativeVar(m.p, wrt=m.t)
    m.d = pyo.Var(m.k, bounds=(0.0, 2.0), initialize=0.1, doc="dilution rate, 1/h")
    m.sf = pyo.Param(m.k, mutable=True, initialize=S_FEED_G_L, doc="feed glucose, g/L")


def _add_balances(owner: RecedingHorizon, m: pyo.ConcreteModel, params: FermentationParams, theta_of,
                  x_noise=None) -> None:
    t0 = m.t.first()

    def rhs(t):
        k = owner.interval(t)
        dx, ds, dp = _rhs(params, m.x[t], m.s[t], m.p[t], m.d[k], m.sf[k], theta_of(k))
        return (dx if x_noise is None else dx + x_noise(k)), ds, dp

    m.ode_x = pyo.Constraint(m.t, rule=lambda m, t: pyo.Constraint.Skip if t == t0 else m.dx[t] == rhs(t)[0])
    m.ode_s = pyo.Constraint(m.t, rule=lambda m, t: pyo.Constraint.Skip if t == t0 else m.ds[t] == rhs(t)[1])
    m.ode_p = pyo.Constraint(m.t, rule=lambda m, t: pyo.Constraint.Skip if t == t0 else m.dp[t] == rhs(t)[2])


def _simulate_into(owner: RecedingHorizon, m: pyo.ConcreteModel, state, params: FermentationParams,
                   theta_of) -> tuple[float, float, float]:
    """Initial guess by scipy integration with the model's inputs; returns the final state."""
    times = list(m.t)
    y = np.asarray(state, dtype=float)
    for k in m.k:
        lo, hi = k * owner.config.dt_min, (k + 1) * owner.config.dt_min
        pts = [t for t in times if lo - 1e-9 <= t <= hi + 1e-9]
        d, sf, th = float(m.d[k].value), float(pyo.value(m.sf[k])), float(theta_of(k))
        prm = replace(params, mu_max_h=params.mu_max_h * th)
        sol = solve_ivp(lambda t, z: derivatives(t, z, prm, dilution_h=d, s_feed_g_l=sf), (lo, hi), y,
                        method="Radau", t_eval=pts, rtol=1e-8, atol=1e-10)
        for i, t in enumerate(pts):
            z = sol.y[:, i]
            for var, val in zip((m.x, m.s, m.p), z):
                if not var[t].fixed:
                    var[t].set_value(max(float(val), 1e-6), skip_validation=True)
            for var, val in zip((m.dx, m.ds, m.dp), derivatives(t, z, prm, dilution_h=d, s_feed_g_l=sf)):
                var[t].set_value(float(val), skip_validation=True)
        y = sol.y[:, -1]
    return float(y[0]), float(y[1]), float(y[2])


def _model_step(state, dilution_h: float, s_feed_g_l: float, theta: float, dt_h: float,
                params: FermentationParams) -> tuple[float, float, float]:
    """The model's state after one interval, inputs and theta held (scipy Radau, as :func:`_simulate_into`)."""
    prm = replace(params, mu_max_h=params.mu_max_h * theta)
    sol = solve_ivp(lambda t, z: derivatives(t, z, prm, dilution_h=dilution_h, s_feed_g_l=s_feed_g_l),
                    (0.0, dt_h), np.asarray(state, dtype=float), method="Radau", rtol=1e-8, atol=1e-10)
    if not sol.success:
        raise RuntimeError(f"fermenter model integration failed: {sol.message}")
    return float(sol.y[0, -1]), float(sol.y[1, -1]), float(sol.y[2, -1])


# ---------------------------------------------------------------------------------- plant


def fermenter_step(state, dilution_h: float, t0_h: float, dt_h: float, scenario: FermenterScenario,
                   params: FermentationParams = FermentationParams()) -> tuple[float, float, float]:
    """Integrate :func:`models.biorefinery.fermentation.derivatives` over one interval (scipy Radau).

    The dilution rate is held; the feed glucose and the activity follow the scenario's hourly
    profiles (linearly interpolated).
    """
    hours = np.arange(len(scenario.s_feed_g_l), dtype=float)

    def f(t, y):
        th = float(np.interp(t, hours, scenario.theta))
        prm = replace(params, mu_max_h=params.mu_max_h * th)
        return derivatives(t, y, prm, dilution_h=dilution_h, s_feed_g_l=float(np.interp(t, hours, scenario.s_feed_g_l)))

    sol = solve_ivp(f, (t0_h, t0_h + dt_h), list(state), method="Radau", rtol=1e-9, atol=1e-10)
    if not sol.success:
        raise RuntimeError(f"fermenter integration failed at t = {t0_h} h: {sol.message}")
    return float(sol.y[0, -1]), float(sol.y[1, -1]), float(sol.y[2, -1])


# ---------------------------------------------------------------------------------- MHE


class FermenterMHE(RecedingHorizon):
    """Moving-horizon estimator of X, S, P and the activity factor theta from hourly S and P.

    Parameters
    ----------
    params : FermentationParams
    window : int
        Past intervals in the window.
    dt_h : float
        Sampling interval, h.
    arrival_std : mapping, optional
        Prior standard deviations: ``x_g_l`` 1.0, ``s_g_l`` 1.0, ``p_g_l`` 1.0, ``theta`` 0.05.
    theta_std_per_h : float
        Random-walk standard deviation of theta per interval.
    x_noise_std : float
        Process noise on dX/dt, g/(L h).

    The arrival cost's prior (``prior``) refers to the window's first sample, whose index among
    the samples received so far is ``prior_sample``. When the window slides it becomes the last
    solution's estimate at the new first sample; if that solve failed (or none succeeded yet), the
    old prior is integrated one interval through the model (:func:`_model_step`) with the applied
    dilution rate, the measured feed glucose and the prior's theta (a random walk: kept).
    """

    stage_name = "fermenter: mhe"

    def __init__(self, params: FermentationParams = FermentationParams(), *, window: int = 8, dt_h: float = 1.0,
                 arrival_std: Mapping[str, float] | None = None, theta_std_per_h: float = 0.01,
                 x_noise_std: float = 0.02, ncp: int = 4) -> None:
        super().__init__(HorizonConfig(window, dt_h, ncp))
        self.params = params
        self.noise = fermenter_measurement_noise()
        self.arrival_std = {"x_g_l": 1.0, "s_g_l": 1.0, "p_g_l": 1.0, "theta": 0.05, **(arrival_std or {})}
        self.theta_std = float(theta_std_per_h)
        self.x_noise_std = float(x_noise_std)
        self._models: dict[int, pyo.ConcreteModel] = {}
        self.history: deque[tuple[FermenterMeasurement, float | None]] = deque(maxlen=window + 1)
        self.prior: FermenterEstimate | None = None
        self.prior_sample = 0  # index of the sample the prior refers to (the window's first)
        self.samples_seen = 0
        self._last_solve_ok = False
        self.estimates: list[FermenterEstimate] = []

    def _model(self, n: int) -> pyo.ConcreteModel:
        if n in self._models:
            return self._models[n]
        m = self.grid(n)
        _add_dynamics(m, self.params)
        m.theta = pyo.Var(m.k, bounds=(0.2, 2.0), initialize=1.0)
        m.w = pyo.Var(m.k, initialize=0.0)
        self.discretize(m)
        _add_balances(self, m, self.params, lambda k: m.theta[k], lambda k: m.w[k])
        samples = sample_times(m, self.config.dt_min)
        m.j = pyo.Set(initialize=range(n + 1), ordered=True)
        m.ys = pyo.Param(m.j, mutable=True, initialize=5.0)
        m.yp = pyo.Param(m.j, mutable=True, initialize=40.0)
        m.prior_x = pyo.Param(mutable=True, initialize=5.0)
        m.prior_s = pyo.Param(mutable=True, initialize=5.0)
        m.prior_p = pyo.Param(mutable=True, initialize=40.0)
        m.prior_theta = pyo.Param(mutable=True, initialize=1.0)
        sd, a, t0 = self.noise, self.arrival_std, m.t.first()
        m.fit = pyo.Objective(expr=(
            sum(((m.s[samples[j]] - m.ys[j]) / sd["s_g_l"]) ** 2 + ((m.p[samples[j]] - m.yp[j]) / sd["p_g_l"]) ** 2
                for j in m.j)
            + ((m.x[t0] - m.prior_x) / a["x_g_l"]) ** 2 + ((m.s[t0] - m.prior_s) / a["s_g_l"]) ** 2
            + ((m.p[t0] - m.prior_p) / a["p_g_l"]) ** 2 + ((m.theta[0] - m.prior_theta) / a["theta"]) ** 2
            + sum(((m.theta[k] - m.theta[k - 1]) / self.theta_std) ** 2 for k in m.k if k > 0)
            + sum((m.w[k] / self.x_noise_std) ** 2 for k in m.k)))
        m.samples = samples
        self._models[n] = m
        return m

    def _initial_prior(self, y: FermenterMeasurement, dilution_h: float) -> FermenterEstimate:
        # Cells from the steady substrate balance at the measured S (X = D (Sf - S) / qs), nominal activity.
        _, _, qs = _rates(self.params, 1.0, max(y.s_g_l, 1e-3), min(max(y.p_g_l, 0.0), 0.9 * self.params.p_max_g_l), 1.0)
        x = dilution_h * max(y.s_feed_g_l - y.s_g_l, 0.0) / max(float(qs), 1e-6)
        return FermenterEstimate(max(x, 0.1), max(y.s_g_l, 0.0), max(y.p_g_l, 0.0), 1.0)

    def step(self, measurement: FermenterMeasurement, applied_dilution_h: float | None,
             current_dilution_h: float) -> FermenterEstimate:
        """Add a sample and the dilution rate applied since the previous one; return the estimate."""
        full_before = len(self.history) == self.history.maxlen
        previous = self._models.get(len(self.history) - 1) if self.history else None
        if self.prior is None:
            self.prior = self._initial_prior(measurement, current_dilution_h)
            self.prior_sample = self.samples_seen
        elif full_before:
            # The window slides one sample: the prior moves to its new first sample.
            if previous is not None and self._last_solve_ok:
                t1 = previous.samples[1]
                self.prior = FermenterEstimate(previous.x[t1].value, previous.s[t1].value, previous.p[t1].value,
                                               previous.theta[1].value)
            else:
                # No fresh estimate of that sample: integrate the old prior over the dropped interval.
                pr, (y0, _), (_, d01) = self.prior, self.history[0], self.history[1]
                x, s, p = _model_step((pr.x_g_l, pr.s_g_l, pr.p_g_l), d01, y0.s_feed_g_l, pr.theta,
                                      self.config.dt_min, self.params)
                self.prior = FermenterEstimate(x, s, p, pr.theta)
            self.prior_sample += 1
        self.samples_seen += 1
        self._last_solve_ok = False
        self.history.append((measurement, applied_dilution_h))
        n = len(self.history) - 1
        if n == 0:
            self.estimates.append(self.prior)
            return self.prior
        m = self._model(n)
        ys = list(self.history)
        for j, (y, _) in enumerate(ys):
            m.ys[j], m.yp[j] = y.s_g_l, y.p_g_l
        for k in m.k:
            m.sf[k] = ys[k][0].s_feed_g_l
            m.d[k].fix(ys[k + 1][1])
        pr = self.prior
        m.prior_x, m.prior_s, m.prior_p, m.prior_theta = pr.x_g_l, pr.s_g_l, pr.p_g_l, pr.theta
        if full_before and previous is m and self.solved:
            self.shift(m)
        else:
            for k in m.k:
                m.theta[k].set_value(pr.theta)
                m.w[k].set_value(0.0)
            _simulate_into(self, m, (pr.x_g_l, pr.s_g_l, pr.p_g_l), self.params, lambda k: pr.theta)
        self._last_solve_ok = self.guarded_solve(m)
        if self._last_solve_ok:
            tn = m.t.last()
            est = FermenterEstimate(m.x[tn].value, m.s[tn].value, m.p[tn].value, m.theta[m.k.last()].value)
        else:
            last = self.estimates[-1] if self.estimates else pr
            est = replace(last, s_g_l=measurement.s_g_l, p_g_l=measurement.p_g_l)
        self.estimates.append(est)
        return est


# ---------------------------------------------------------------------------------- NMPC


class FermenterNMPC(RecedingHorizon):
    """Economic NMPC of the chemostat's dilution rate, with its MHE.

    Parameters
    ----------
    params : FermentationParams
    prices : FermenterPrices
    horizon : int
        Prediction horizon, sampling intervals (h).
    dt_h : float
        Sampling interval, h.
    s_spec_g_l : float
        Residual-glucose spec of the beer, g/L.
    x_min_g_l : float
        Lowest cell concentration (no washout), g/L.
    backoff_g_l : float
        Margin below the spec kept by the constraint: the HPLC's noise (0.2 g/L); the MHE's
        estimate of S is tighter than one sample.
    dilution_bounds_h : (float, float)
        Dilution-rate range, 1/h; the upper end defaults to 90 % of the nominal washout rate.
    move_rate_h : float
        Largest change of D per interval, 1/h.
    move_weight : float
        Regularising weight on squared moves, USD h^2/m3.
    slack_penalty : float
        Exact-penalty weight, USD/m3 per g/L per collocation point.
    """

    stage_name = "fermenter: nmpc"

    def __init__(self, params: FermentationParams = FermentationParams(), prices: FermenterPrices = FermenterPrices(),
                 *, horizon: int = 24, dt_h: float = 1.0, s_spec_g_l: float = 5.0, x_min_g_l: float = 2.0,
                 backoff_g_l: float = 0.2, dilution_bounds_h: tuple[float, float] | None = None,
                 move_rate_h: float = 0.02, move_weight: float = 50.0, slack_penalty: float = 10.0,
                 terminal_band_g_l: float = 0.5, mhe_window: int = 8, feed_filter: int = 3, ncp: int = 4) -> None:
        super().__init__(HorizonConfig(horizon, dt_h, ncp))
        self.params, self.prices = params, prices
        self.s_spec, self.x_min, self.backoff = float(s_spec_g_l), float(x_min_g_l), float(backoff_g_l)
        self.bounds = dilution_bounds_h or (0.02, 0.9 * washout_dilution_h(params, S_FEED_G_L))
        self.move_rate, self.move_weight = float(move_rate_h), float(move_weight)
        self.slack_penalty, self.band = float(slack_penalty), float(terminal_band_g_l)
        self.mhe = FermenterMHE(params, window=mhe_window, dt_h=dt_h)
        self.d_spec = _dilution_at_spec(params, S_FEED_G_L, self.s_spec - self.backoff)
        self.feed_history: deque[float] = deque(maxlen=max(1, int(feed_filter)))
        self.model = self.build()
        self.last_move: float | None = None
        self.moves: list[float] = []

    def build(self) -> pyo.ConcreteModel:
        p, pr = self.params, self.prices
        m = self.grid()
        _add_dynamics(m, p)
        m.theta = pyo.Param(mutable=True, initialize=1.0)
        m.value = pyo.Var(m.t, initialize=0.0, doc="value accumulated, USD/m3")
        m.dvalue = dae.DerivativeVar(m.value, wrt=m.t)
        self.discretize(m)
        _add_balances(self, m, p, lambda k: m.theta)
        t0, tH = m.t.first(), m.t.last()
        ks = list(m.k)
        for k in m.k:
            m.d[k].setlb(self.bounds[0])
            m.d[k].setub(self.bounds[1])
        m.value_rate = pyo.Constraint(m.t, rule=lambda m, t: pyo.Constraint.Skip if t == t0 else m.dvalue[t] == m.d[
            self.interval(t)] * (pr.ethanol_usd_kg * m.p[t] - pr.sugar_usd_kg * m.s[t]))
        m.value[t0].fix(0.0)
        for v in (m.x, m.s, m.p):
            v[t0].fix()
        m.s_limit = pyo.Param(mutable=True, initialize=self.s_spec - self.backoff, doc="S limit incl. back-off, g/L")
        m.slack_s = pyo.Var(m.t, bounds=(0.0, None), initialize=0.0)
        m.slack_x = pyo.Var(m.t, bounds=(0.0, None), initialize=0.0)
        m.spec = pyo.Constraint(m.t, rule=lambda m, t: pyo.Constraint.Skip if t == t0 else m.s[t] <= m.s_limit + m.slack_s[t])
        m.no_washout = pyo.Constraint(m.t, rule=lambda m, t: pyo.Constraint.Skip if t == t0
                                      else m.x[t] >= self.x_min - m.slack_x[t])
        m.d_prev = pyo.Param(mutable=True, initialize=0.1)
        m.du = pyo.Expression(m.k, rule=lambda m, k: m.d[k] - (m.d_prev if k == ks[0] else m.d[k - 1]))
        m.rate_up = pyo.Constraint(m.k, rule=lambda m, k: m.du[k] <= self.move_rate)
        m.rate_down = pyo.Constraint(m.k, rule=lambda m, k: m.du[k] >= -self.move_rate)
        # Terminal: a non-trivial, within-spec chemostat steady state at the last move.
        m.x_s = pyo.Var(bounds=(self.x_min, 50.0), initialize=7.0)
        m.s_s = pyo.Var(bounds=(0.0, None), initialize=4.0)
        m.terminal_spec = pyo.Constraint(expr=m.s_s <= m.s_limit)
        m.p_s = pyo.Var(bounds=(0.0, 0.97 * p.p_max_g_l), initialize=42.0)
        kl = ks[-1]
        ss = _rhs(p, m.x_s, m.s_s, m.p_s, m.d[kl], m.sf[kl], m.theta)
        m.ss_x = pyo.Constraint(expr=ss[0] / m.x_s == 0)  # mu = D + kd (non-trivial branch)
        m.ss_s = pyo.Constraint(expr=ss[1] == 0)
        m.ss_p = pyo.Constraint(expr=ss[2] == 0)
        m.slack_end = pyo.Var(bounds=(0.0, None), initialize=0.0)
        m.terminal_region = pyo.Constraint(expr=(m.s[tH] - m.s_s) ** 2 <= self.band**2 + m.slack_end)
        m.objective = pyo.Objective(expr=(
            -m.value[tH]
            + self.slack_penalty * (sum(m.slack_s[t] + m.slack_x[t] for t in m.t if t != t0) + m.slack_end)
            + self.move_weight * sum(m.du[k] ** 2 for k in m.k)))
        return m

    def _cold_start(self, est: FermenterEstimate) -> None:
        """Initial guess: D ramps (at the rate limit) from the current rate to the one that holds
        the spec at nominal activity; states simulated; terminal point the chemostat there."""
        m = self.model
        d = self.last_move if self.last_move is not None else 0.1
        goal = min(max(self.d_spec, self.bounds[0]), self.bounds[1])
        for k in m.k:
            step = max(-self.move_rate, min(self.move_rate, goal - d))
            d = d + step
            m.d[k].set_value(d)
        _simulate_into(self, m, (est.x_g_l, est.s_g_l, est.p_g_l), self.params, lambda k: pyo.value(m.theta))
        ss = chemostat_steady_state(replace(self.params, mu_max_h=self.params.mu_max_h * pyo.value(m.theta)),
                                    d, float(pyo.value(m.sf[0])))
        if not ss["washout"]:
            m.x_s.set_value(max(ss["x_g_l"], self.x_min), skip_validation=True)
            m.s_s.set_value(ss["s_g_l"], skip_validation=True)
            m.p_s.set_value(ss["p_g_l"], skip_validation=True)

    def step(self, measurement: FermenterMeasurement, *, current_dilution_h: float | None = None,
             ceiling_s_g_l: float | None = None) -> float:
        """One execution: filter the feed tag, estimate, optimise; return the dilution rate (1/h).

        ``current_dilution_h`` is the rate in force before the first step (bumpless start);
        ``ceiling_s_g_l`` an operating ceiling on S below the spec (the constraint is then
        ``S <= ceiling``, without back-off). A failed solve holds the previous move.
        """
        ceiling = math.inf if ceiling_s_g_l is None else float(ceiling_s_g_l)
        self.model.s_limit = min(self.s_spec - self.backoff, ceiling)
        self.feed_history.append(measurement.s_feed_g_l)
        y = replace(measurement, s_feed_g_l=float(np.median(self.feed_history)))
        d_now = self.last_move if self.last_move is not None else float(current_dilution_h or 0.1)
        est = self.mhe.step(y, self.last_move, d_now)
        m = self.model
        t0 = m.t.first()
        m.x[t0].fix(max(est.x_g_l, 1e-3))
        m.s[t0].fix(max(est.s_g_l, 0.0))
        m.p[t0].fix(min(max(est.p_g_l, 0.0), 0.96 * self.params.p_max_g_l))
        m.theta = est.theta
        for k in m.k:
            m.sf[k] = y.s_feed_g_l
        m.d_prev = d_now
        if self.solved:
            self.shift(m)
        else:
            self.last_move = d_now
            self._cold_start(est)
        if self.guarded_solve(m):
            move = float(m.d[m.k.first()].value)
        else:
            move = d_now
        self.last_move = move
        self.moves.append(move)
        return move


def predict_fermenter_open_loop(state, dilutions_h: list[float], *, params: FermentationParams = FermentationParams(),
                                s_feed_g_l: float = S_FEED_G_L, dt_h: float = 1.0, ncp: int = 4) -> pd.DataFrame:
    """Open-loop prediction of the NMPC's collocation model (square solve), rows per sample (h)."""
    core = RecedingHorizon(HorizonConfig(len(dilutions_h), dt_h, ncp))
    core.stage_name = "fermenter: open-loop prediction"
    m = core.grid()
    _add_dynamics(m, params)
    core.discretize(m)
    _add_balances(core, m, params, lambda k: 1.0)
    for k, d in zip(m.k, dilutions_h):
        m.d[k].fix(d)
        m.sf[k] = s_feed_g_l
    for v, x in zip((m.x, m.s, m.p), state):
        v[m.t.first()].fix(x)
    _simulate_into(core, m, state, params, lambda k: 1.0)
    solve(m, core.solver, stage_name=core.stage_name)
    rows = [(t, m.x[t].value, m.s[t].value, m.p[t].value) for t in sample_times(m, dt_h)]
    return pd.DataFrame(rows, columns=["hour", "x_g_l", "s_g_l", "p_g_l"]).set_index("hour")


# ---------------------------------------------------------------------------------- scenarios and loops

FERMENTER_SCENARIOS: tuple[str, ...] = ("spec_change", "feed_disturbance", "near_washout")


@dataclass(frozen=True, eq=False)
class FermenterScenario:
    """Hourly profiles: feed glucose (g/L), activity ``theta``, the economic target on S (g/L).

    ``target_s_g_l`` is the IAE reference (the steady-state optimum: the spec, or the starting
    point before a target change); ``initial`` the plant state (X, S, P) and ``d0`` the dilution
    rate in force at hour 0.
    """

    name: str
    s_feed_g_l: np.ndarray
    theta: np.ndarray
    target_s_g_l: np.ndarray
    ceiling_s_g_l: np.ndarray
    initial: tuple[float, float, float]
    d0: float
    description: str


def make_fermenter_scenario(name: Literal["spec_change", "feed_disturbance", "near_washout"], *, hours: int = 72,
                            params: FermentationParams = FermentationParams(), s_spec_g_l: float = 5.0
                            ) -> FermenterScenario:
    """* ``spec_change``: steady at D = 0.10 1/h (S = 1.47 g/L); at hour 3 the target moves to the
      economic optimum, S at the spec.
    * ``feed_disturbance``: at the spec's steady state; feed glucose +10 % at hour 4, culture
      activity (mu_max) falling 20 % over hours 12-24 (inhibitors in the hydrolysate).
    * ``near_washout``: start at D = 0.28 1/h (X = 2.9 g/L, S = 63 g/L, 90 % of the washout rate).
    """
    if name not in FERMENTER_SCENARIOS:
        raise ConfigError(f"fermenter scenario expected one of {list(FERMENTER_SCENARIOS)}, found {name!r}")
    h = np.arange(hours, dtype=float)
    sf = np.full(hours, S_FEED_G_L)
    theta = np.ones(hours)
    target = np.full(hours, s_spec_g_l)
    ceiling = np.full(hours, math.inf)
    if name == "spec_change":
        d0 = 0.10
        target[:3] = ceiling[:3] = chemostat_steady_state(params, d0, S_FEED_G_L)["s_g_l"]
        text = f"target S {target[0]:.2f} -> {s_spec_g_l:.2f} g/L at hour 3"
    elif name == "feed_disturbance":
        sf[4:] *= 1.10
        theta[:] = np.clip(1.0 - 0.2 * (h - 12.0) / 12.0, 0.8, 1.0)
        d0 = _dilution_at_spec(params, S_FEED_G_L, s_spec_g_l)
        text = "feed glucose +10 % at 4 h, mu_max -20 % over 12-24 h"
    else:
        d0 = 0.28
        text = "start at D = 0.28 1/h, near washout"
    ss = chemostat_steady_state(params, d0, S_FEED_G_L)
    return FermenterScenario(name, sf, theta, target, ceiling, (ss["x_g_l"], ss["s_g_l"], ss["p_g_l"]), d0, text)


def _dilution_at_spec(params: FermentationParams, sf: float, s_spec: float) -> float:
    from scipy.optimize import brentq

    return float(brentq(lambda d: chemostat_steady_state(params, d, sf)["s_g_l"] - s_spec, 0.05,
                        0.99 * washout_dilution_h(params, sf)))


@dataclass(frozen=True)
class FermenterPI:
    """PI on effluent glucose -> dilution rate (positional form, back-calculation anti-windup).

    ``D = D_bias + kc (S_sp - S_meas) + I``: more dilution raises the residual glucose.
    """

    kc: float
    tau_i_h: float
    d_min: float = 0.02
    d_max: float = 0.28
    rate_h: float = 0.02


def pi_tuning(params: FermentationParams = FermentationParams(), s_spec_g_l: float = 5.0,
              closed_loop_h: float = 6.0) -> FermenterPI:
    """IMC-PI (Rivera, Morari & Skogestad 1986) from the steady-state gain dS*/dD and 1/D at the spec.

    First-order approximation: gain K (g/L per 1/h) and time constant 1/D (the residence time),
    ``kc = tau / (K lambda)``, ``tau_i = tau``; ``lambda = closed_loop_h``.
    """
    d = _dilution_at_spec(params, S_FEED_G_L, s_spec_g_l)
    h = 1e-3
    gain = (chemostat_steady_state(params, d + h, S_FEED_G_L)["s_g_l"]
            - chemostat_steady_state(params, d - h, S_FEED_G_L)["s_g_l"]) / (2 * h)
    tau = 1.0 / d
    return FermenterPI(kc=tau / (gain * closed_loop_h), tau_i_h=tau,
                       d_max=0.9 * washout_dilution_h(params, S_FEED_G_L))


@dataclass(frozen=True, eq=False)
class FermenterResult:
    """Hourly trajectory and (NMPC) per-step solve times (MHE + NMPC)."""

    frame: pd.DataFrame
    solve_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    failures: int = 0


def _measure(rng, sd, x, sc: FermenterScenario, hour: int) -> FermenterMeasurement:
    return FermenterMeasurement(x[1] + float(rng.normal(0.0, sd["s_g_l"])), x[2] + float(rng.normal(0.0, sd["p_g_l"])),
                                float(sc.s_feed_g_l[hour]) + float(rng.normal(0.0, sd["s_feed_g_l"])))


def _row(x, d, sc: FermenterScenario, hour: int, **extra) -> dict:
    return {"x_g_l": x[0], "s_g_l": x[1], "p_g_l": x[2], "dilution_h": d, "target_s_g_l": float(sc.target_s_g_l[hour]),
            "s_feed_g_l": float(sc.s_feed_g_l[hour]), "theta": float(sc.theta[hour]), **extra}


def run_fermenter_pi(sc: FermenterScenario, *, seed: int = 0, params: FermentationParams = FermentationParams(),
                     tuning: FermenterPI | None = None, s_spec_g_l: float = 5.0) -> FermenterResult:
    """The PI loop on the noisy hourly glucose sample, set point = ``sc.target_s_g_l``."""
    tu = tuning or pi_tuning(params, s_spec_g_l)
    rng = np.random.default_rng(seed)
    sd = fermenter_measurement_noise()
    x, d = sc.initial, sc.d0
    integ = d
    rows = []
    for hour in range(len(sc.s_feed_g_l)):
        y = _measure(rng, sd, x, sc, hour)
        e = float(sc.target_s_g_l[hour]) - y.s_g_l
        v = tu.kc * e + integ
        w = min(max(v, tu.d_min), tu.d_max)
        w = min(max(w, d - tu.rate_h), d + tu.rate_h)
        integ += tu.kc / tu.tau_i_h * e + (w - v) / tu.tau_i_h  # back-calculation with tau_t = tau_i (1-h scan)
        d = w
        rows.append(_row(x, d, sc, hour))
        x = fermenter_step(x, d, float(hour), 1.0, sc, params)
    return FermenterResult(pd.DataFrame(rows))


def run_fermenter_nmpc(sc: FermenterScenario, controller: FermenterNMPC, *, seed: int = 0,
                       params: FermentationParams = FermentationParams()) -> FermenterResult:
    """Close the loop around the scipy plant with noisy hourly samples."""
    rng = np.random.default_rng(seed)
    sd = fermenter_measurement_noise()
    x = sc.initial
    rows = []
    for hour in range(len(sc.s_feed_g_l)):
        y = _measure(rng, sd, x, sc, hour)
        d = controller.step(y, current_dilution_h=sc.d0, ceiling_s_g_l=float(sc.ceiling_s_g_l[hour]))
        est = controller.mhe.estimates[-1]
        rows.append(_row(x, d, sc, hour, est_x_g_l=est.x_g_l, est_s_g_l=est.s_g_l, est_theta=est.theta))
        x = fermenter_step(x, d, float(hour), 1.0, sc, params)
    times = np.asarray(controller.solve_times_s)
    mhe_times = np.asarray(controller.mhe.solve_times_s)
    times[len(times) - len(mhe_times):] += mhe_times
    return FermenterResult(pd.DataFrame(rows), times, controller.failures + controller.mhe.failures)


def _fermenter_metrics(r: FermenterResult, prices: FermenterPrices, s_spec: float, x_min: float) -> dict[str, float]:
    f = r.frame
    value = f["dilution_h"] * (prices.ethanol_usd_kg * f["p_g_l"] - prices.sugar_usd_kg * f["s_g_l"])
    excess = f["s_g_l"] - s_spec
    t = r.solve_times_s
    return {
        "iae_sugar_g_l_h": float((f["s_g_l"] - f["target_s_g_l"]).abs().sum()),
        "hours_above_spec": float((excess > 0).sum()),
        "max_excess_g_l": float(max(0.0, excess.max())),
        "min_cells_g_l": float(f["x_g_l"].min()),
        "hours_below_x_min": float((f["x_g_l"] < x_min).sum()),
        "value_usd_m3": float(value.sum()),
        "ethanol_productivity_g_l_h": float((f["dilution_h"] * f["p_g_l"]).mean()),
        "solve_mean_s": float(t.mean()) if t.size else math.nan,
        "solve_p95_s": float(np.percentile(t, 95)) if t.size else math.nan,
        "solve_max_s": float(t.max()) if t.size else math.nan,
        "sampling_interval_s": 3600.0,
        "failed_solves": float(r.failures),
    }


def compare_fermenter_with_pi(scenario: FermenterScenario | str, *, horizon: int = 24, seed: int = 0,
                              params: FermentationParams = FermentationParams(),
                              prices: FermenterPrices = FermenterPrices(), s_spec_g_l: float = 5.0,
                              **controller_options) -> pd.DataFrame:
    """PI on effluent glucose vs economic NMPC + MHE; rows ``pi``, ``nmpc``.

    Columns: ``iae_sugar_g_l_h`` (|S - target| summed over the hours), ``hours_above_spec``,
    ``max_excess_g_l``, ``min_cells_g_l`` and ``hours_below_x_min`` (washout margin),
    ``value_usd_m3`` (the economic objective over the run, USD per m3 of broth),
    ``ethanol_productivity_g_l_h`` (mean D P), solve times per step against the 3600-s interval.
    """
    sc = make_fermenter_scenario(scenario, params=params, s_spec_g_l=s_spec_g_l) if isinstance(scenario, str) \
        else scenario
    controller = FermenterNMPC(params, prices, horizon=horizon, s_spec_g_l=s_spec_g_l, **controller_options)
    pi = run_fermenter_pi(sc, seed=seed, params=params, s_spec_g_l=s_spec_g_l)
    nmpc = run_fermenter_nmpc(sc, controller, seed=seed, params=params)
    table = pd.DataFrame({n: _fermenter_metrics(r, prices, s_spec_g_l, controller.x_min)
                          for n, r in (("pi", pi), ("nmpc", nmpc))}).T
    table.index.name = "controller"
    table.attrs = {"scenario": sc.name, "description": sc.description,
                   "trajectories": {"pi": pi.frame, "nmpc": nmpc.frame}}
    return table
