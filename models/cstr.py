"""Jacketed exothermic A -> B CSTR with PI temperature control.

The reactor is the classic non-isothermal CSTR of Seborg, Edgar, Mellichamp &
Doyle, *Process Dynamics and Control* (Wiley), used as a benchmark by
J. D. Hedengren's APMonitor "CSTR" example
(https://apmonitor.com/do/index.php/Main/NonlinearControl and
https://apmonitor.com/pdc/index.php/Main/StirredReactor). Parameter values are
the APMonitor ones; the published open-loop steady state at a jacket
temperature of 300 K is Ca = 0.87725294 mol/L, T = 324.475443 K.

Model (first-order irreversible A -> B, perfectly mixed, constant volume,
density and heat capacity, no heat loss other than the jacket)::

    dCa/dt = q/V (Caf - Ca) - k(T) Ca
    dT/dt  = q/V (Tf - T) + (-dH)/(rho Cp) k(T) Ca + UA/(V rho Cp) (Tj - T)
    k(T)   = k0 exp(-E/R / T)

Multiplicity (default parameters, computed by :func:`fold_points`): three
steady states exist for 298.080 K < Tc < 303.229 K (fold points at
T = 360.511 K and T = 335.654 K). Below that band only the cold ("extinguished")
state exists, above it only the hot ("ignited", runaway) state. At Tc = 300 K
the three states are T = 324.475, 350.006 and 369.705 K: the published
APMonitor value is the cold one (stable), the middle one is a saddle and the
hot one an unstable focus (the ignited reactor oscillates at this Tc).

Additions of this project (not in the original benchmark)
---------------------------------------------------------
* Jacket temperature Tj follows its set point (the temperature controller
  output, i.e. a fast secondary coolant loop) with a first-order lag
  ``CSTRParams.tau_j`` = 0.25 min.
* A discrete PI controller (scan 6 s) on T manipulates the jacket set point
  with output limits, rate limit and back-calculation anti-windup; a safety
  interlock (high-high T) stops the feed and switches to backup cooling.
* An operating-scenario generator and bindings to historian tags.

Scenario and determinism
------------------------
:func:`schedule` tiles time with episodes: exactly 70 / 20 / 8 / 2 % normal /
transient / abnormal / extreme time in every 10-day block aligned to
1970-01-01 (episodes 1-6 h; steady periods fill the rest). A block's plan is
drawn from ``(seed, block)`` only, and episodes never cross UTC midnight. Each
day is integrated on its own, starting from the closed-loop steady state at
the set point the plan prescribes for midnight; the plan ends every day with
>= 2 h of steady operation at that same set point, so the restart at midnight
is seamless (slow feed disturbances are smooth functions of absolute time).
Hence simulating day 2 alone gives exactly the data of day 2 of a longer run.

Layout: physics (parameters in, numbers out) -> closed-loop integration
(profiles in, trajectories out) -> scenario (seeded schedule of episodes) ->
data binding (tags, ``simulate_true``, ``simulate``). Only the last part
knows about tags, files and calendars.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from models import historian
from models.base import SENSOR_FAULT_LABELS, ActivityStream, Episode, PlantInfo, TagSpec
from models.engine import DayContext, Item, PlantType, integerize, split

__all__ = [
    "ACTIVITY",
    "DEFAULT",
    "DEFAULT_PARAMS",
    "DEFAULT_TUNING",
    "GRADES_K",
    "INFO",
    "NOMINAL_SETPOINT_K",
    "TAGS",
    "CSTRParams",
    "Interlock",
    "LoopInputs",
    "LoopState",
    "PITuning",
    "SteadyState",
    "Trajectory",
    "analyse_steady_states",
    "balances",
    "closed_loop_steady_state",
    "energy_residual",
    "fold_points",
    "initial_state",
    "jacobian",
    "multiplicity_range",
    "rate_constant",
    "run_closed_loop",
    "schedule",
    "simulate",
    "simulate_true",
    "steady_states",
]

# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CSTRParams:
    """Reactor parameters (defaults: Seborg et al. / APMonitor CSTR benchmark).

    Attributes
    ----------
    q : float
        Feed (= outlet) volumetric flow, L/min. Source: APMonitor, 100.
    V : float
        Reactor liquid volume, L. Source: APMonitor, 100.
    rho : float
        Density of the reacting mixture, g/L. Source: APMonitor, 1000.
    Cp : float
        Heat capacity of the mixture, J/(g K). Source: APMonitor, 0.239.
    mdelH : float
        Heat of reaction, minus delta H, J/mol (exothermic). Source: APMonitor, 5e4.
    EoverR : float
        Activation energy over gas constant, K. Source: APMonitor, 8750.
    k0 : float
        Arrhenius pre-exponential factor, 1/min. Source: APMonitor, 7.2e10.
    UA : float
        Jacket overall heat-transfer coefficient times area, J/(min K).
        Source: APMonitor, 5e4.
    Caf : float
        Feed concentration of A, mol/L. Source: APMonitor, 1.
    Tf : float
        Feed temperature, K. Source: APMonitor, 350.
    tau_j : float
        Jacket temperature time constant, min. Assumption of this project
        (fast secondary coolant loop, ~15 s); 0 makes the jacket follow the
        controller output instantly. Does not affect steady states.
    """

    q: float = 100.0
    V: float = 100.0
    rho: float = 1000.0
    Cp: float = 0.239
    mdelH: float = 5.0e4
    EoverR: float = 8750.0
    k0: float = 7.2e10
    UA: float = 5.0e4
    Caf: float = 1.0
    Tf: float = 350.0
    tau_j: float = 0.25


DEFAULT = CSTRParams()
DEFAULT_PARAMS = DEFAULT

# --------------------------------------------------------------------------
# Physics
# --------------------------------------------------------------------------


def rate_constant(temp_k, params: CSTRParams = DEFAULT):
    """Arrhenius rate constant k(T) = k0 exp(-E/R / T), 1/min (scalar or array)."""
    return params.k0 * np.exp(-params.EoverR / np.asarray(temp_k, dtype=float))


def balances(
    ca,
    temp_k,
    coolant_temp_k,
    params: CSTRParams = DEFAULT,
    *,
    q: float | None = None,
    caf: float | None = None,
    tf: float | None = None,
    ua: float | None = None,
):
    """Right-hand sides (dCa/dt in mol/(L min), dT/dt in K/min) of the two balances.

    ``coolant_temp_k`` is the jacket temperature Tj (K). Feed flow ``q`` (L/min),
    feed concentration ``caf`` (mol/L), feed temperature ``tf`` (K) and ``ua``
    (J/(min K)) default to ``params``. Works element-wise on arrays.
    """
    q = params.q if q is None else q
    caf = params.Caf if caf is None else caf
    tf = params.Tf if tf is None else tf
    ua = params.UA if ua is None else ua
    r = rate_constant(temp_k, params) * ca
    dca = q / params.V * (caf - ca) - r
    dtemp = (
        q / params.V * (tf - temp_k)
        + params.mdelH / (params.rho * params.Cp) * r
        + ua / (params.V * params.rho * params.Cp) * (coolant_temp_k - temp_k)
    )
    return dca, dtemp


def _ca_steady(temp_k, params: CSTRParams, q: float, caf: float):
    # Mass balance at steady state: Ca = q Caf / (q + V k(T)); a stopped feed converts A completely.
    if q <= 0:
        return np.zeros_like(np.asarray(temp_k, dtype=float))
    return q * caf / (q + params.V * rate_constant(temp_k, params))


def energy_residual(temp_k, coolant_temp_k: float, params: CSTRParams = DEFAULT):
    """dT/dt (K/min) with Ca eliminated by the steady mass balance; zero at steady states."""
    ca = _ca_steady(temp_k, params, params.q, params.Caf)
    return balances(ca, temp_k, coolant_temp_k, params)[1]


def steady_states(coolant_temp_k: float, params: CSTRParams = DEFAULT) -> list[tuple[float, float]]:
    """All open-loop steady states at jacket temperature ``coolant_temp_k`` (K).

    Ca is eliminated (Ca = q Caf / (q + V k(T))); the energy-balance residual
    is scanned on a fine grid of T and every sign change is refined with
    Brent's method. The grid spans the exact bracket
    ``[(f Tf + b Tc)/(f+b), (f Tf + b Tc + a f Caf)/(f+b)]`` (f = q/V,
    b = UA/(V rho Cp), a = -dH/(rho Cp)), because the generation term lies
    between 0 and ``a f Caf``, so no root can be outside. Roots closer than the
    grid step (~0.02 K; only within ~1e-4 K of a fold's Tc) may be missed.

    Returns
    -------
    list of (Ca mol/L, T K), sorted by T. Three entries inside
    :func:`multiplicity_range`, one outside.

    Examples
    --------
    >>> steady_states(300.0)[0]   # APMonitor: Ca = 0.87725294, T = 324.475443
    (0.877252..., 324.475443...)
    """
    p = params
    f, b, a = p.q / p.V, p.UA / (p.V * p.rho * p.Cp), p.mdelH / (p.rho * p.Cp)
    t_lo = (f * p.Tf + b * coolant_temp_k) / (f + b)
    t_hi = (f * p.Tf + b * coolant_temp_k + a * f * p.Caf) / (f + b)
    grid = np.linspace(t_lo, t_hi, 8001)
    res = energy_residual(grid, coolant_temp_k, p)
    residual = lambda t: float(energy_residual(t, coolant_temp_k, p))  # noqa: E731
    roots: list[float] = []
    for i in range(len(grid) - 1):
        if res[i] == 0.0:
            roots.append(float(grid[i]))
        elif res[i] * res[i + 1] < 0.0:
            roots.append(brentq(residual, grid[i], grid[i + 1], xtol=1e-12, rtol=1e-15))
    return [(float(_ca_steady(t, p, p.q, p.Caf)), float(t)) for t in sorted(roots)]


def fold_points(params: CSTRParams = DEFAULT) -> list[tuple[float, float]]:
    """Turning points (Tc K, T K) of the steady-state curve, sorted by T.

    Along the steady-state locus Tc(T) = T - (f (Tf - T) + g(T)) / b with
    g(T) = a k Ca the heat generation, so folds are the roots of
    g'(T) = f + b. Empty if the reactor has no multiplicity.
    """
    p = params
    f, b, a = p.q / p.V, p.UA / (p.V * p.rho * p.Cp), p.mdelH / (p.rho * p.Cp)

    def dg_minus(t: float) -> float:
        k = float(rate_constant(t, p))
        return a * p.Caf * f * f * k * p.EoverR / t**2 / (f + k) ** 2 - (f + b)

    grid = np.linspace(200.0, 1000.0, 16001)
    vals = np.array([dg_minus(t) for t in grid])
    out = []
    for i in np.flatnonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) < 0):
        t = brentq(dg_minus, grid[i], grid[i + 1], xtol=1e-12)
        g = a * float(rate_constant(t, p)) * float(_ca_steady(t, p, p.q, p.Caf))
        out.append((t - (f * (p.Tf - t) + g) / b, t))
    return [(float(tc), float(t)) for tc, t in out]


def multiplicity_range(params: CSTRParams = DEFAULT) -> tuple[float, float] | None:
    """Open interval of jacket temperatures (K) with three steady states.

    Default parameters: (298.080, 303.229) K. None if there is no multiplicity.
    """
    folds = fold_points(params)
    if len(folds) != 2:
        return None
    lo, hi = sorted(tc for tc, _ in folds)
    return lo, hi


def jacobian(ca: float, temp_k: float, params: CSTRParams = DEFAULT) -> np.ndarray:
    """Open-loop Jacobian d(dCa/dt, dT/dt)/d(Ca, T) at fixed jacket temperature, 1/min."""
    p = params
    f, b, a = p.q / p.V, p.UA / (p.V * p.rho * p.Cp), p.mdelH / (p.rho * p.Cp)
    k = float(rate_constant(temp_k, p))
    dk = k * p.EoverR / temp_k**2
    return np.array([[-f - k, -dk * ca], [a * k, -f + a * dk * ca - b]])


@dataclass(frozen=True)
class SteadyState:
    """An open-loop steady state with its linear stability (eigenvalues in 1/min)."""

    ca: float
    temp_k: float
    coolant_temp_k: float
    eigenvalues: tuple[complex, complex]
    stable: bool


def analyse_steady_states(coolant_temp_k: float, params: CSTRParams = DEFAULT) -> list[SteadyState]:
    """:func:`steady_states` plus Jacobian eigenvalues; stable iff all real parts < 0."""
    out = []
    for ca, t in steady_states(coolant_temp_k, params):
        ev = np.linalg.eigvals(jacobian(ca, t, params))
        out.append(SteadyState(ca, t, coolant_temp_k, (complex(ev[0]), complex(ev[1])), bool(np.all(ev.real < 0))))
    return out


def closed_loop_steady_state(
    setpoint_k: float,
    params: CSTRParams = DEFAULT,
    *,
    q: float | None = None,
    caf: float | None = None,
    tf: float | None = None,
    ua: float | None = None,
) -> tuple[float, float]:
    """(Ca mol/L, jacket temperature K) that hold T = ``setpoint_k`` at steady state."""
    p = params
    q = p.q if q is None else q
    caf = p.Caf if caf is None else caf
    tf = p.Tf if tf is None else tf
    ua = p.UA if ua is None else ua
    ca = float(_ca_steady(setpoint_k, p, q, caf))
    dtemp_without_jacket = balances(ca, setpoint_k, setpoint_k, p, q=q, caf=caf, tf=tf, ua=ua)[1]
    return ca, setpoint_k - float(dtemp_without_jacket) * p.V * p.rho * p.Cp / ua


# --------------------------------------------------------------------------
# Closed loop: PI temperature control, interlock, integration
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PITuning:
    """Discrete PI controller TC102: reactor temperature -> jacket temperature set point.

    ``u = Kc e + I``, ``e = SP - T``, ``dI/dt = Kc/tau_i e + (u_applied - u)/tau_t``
    (positional form; ``I`` carries the bias, so initialising ``I = u0`` is
    bumpless). Raising the jacket temperature raises T, so the loop is
    *reverse acting* in ISA terms and ``kc`` is positive with ``e = SP - PV``.

    Tuning (kc = 3 K/K, tau_i = 5 min) was chosen from the linearised closed
    loop incl. the jacket lag: all closed-loop eigenvalues have negative real
    parts for set points 298-336 K, UA 60-100 % and feed 0-110 % (open loop,
    the cold branch ends at the 335.65 K fold); a 0.25 K/min set-point ramp
    324.5 -> 335 K is tracked within 0.2 K, without overshoot, the output
    moving only 300 -> 303.3 K (the benchmark's original tuning saturated at once).

    Attributes
    ----------
    kc : float
        Proportional gain, K (jacket) per K (reactor).
    tau_i : float
        Integral time, min.
    tau_t : float
        Back-calculation tracking time, min (``math.inf`` disables anti-windup:
        plain clamping, used in tests to show the difference).
    out_min, out_max : float
        Output (jacket set point) limits, K: coolant/heating-medium supply.
    out_rate : float
        Output rate limit, K/min (protects the jacket loop).
    scan : float
        Controller execution interval, min (0.1 min = 6 s); must divide 1 min.
    """

    kc: float = 3.0
    tau_i: float = 5.0
    tau_t: float = 5.0
    out_min: float = 250.0
    out_max: float = 350.0
    out_rate: float = 10.0
    scan: float = 0.1


DEFAULT_TUNING = PITuning()


@dataclass(frozen=True)
class Interlock:
    """High-high temperature trip (safety instrumented function), times in min.

    While armed (``armed_from <= t < armed_until``) it trips on T > SP +
    ``margin_k`` or, to catch ignition early, on T > SP + ``rise_margin_k``
    while rising faster than ``rise_rate`` K/min (rate-of-rise trip). A trip
    blocks the feed until ``restart_at``, then ramps it back over
    ``restart_ramp`` min; the backup coolant supply removes any coolant limit
    until ``armed_until``. TC102 stays in automatic.
    """

    armed_from: float
    armed_until: float
    restart_at: float
    margin_k: float = 10.0
    rise_margin_k: float = 6.0
    rise_rate: float = 2.0
    restart_ramp: float = 15.0


@dataclass(frozen=True, eq=False)
class LoopInputs:
    """Input profiles, one value per minute (linearly interpolated within a minute).

    Attributes
    ----------
    setpoint_k : ndarray
        Reactor temperature set point, K.
    feed_flow : ndarray
        Feed flow q, L/min.
    feed_conc : ndarray
        Feed concentration Caf, mol/L.
    feed_temp_k : ndarray
        Feed temperature Tf, K.
    ua_factor : ndarray
        Fraction of ``params.UA`` available (fouling < 1).
    coolant_floor_k : ndarray
        Lowest jacket temperature the coolant supply can deliver, K (values at
        or below ``PITuning.out_min`` mean unconstrained).
    interlocks : tuple of Interlock
    """

    setpoint_k: np.ndarray
    feed_flow: np.ndarray
    feed_conc: np.ndarray
    feed_temp_k: np.ndarray
    ua_factor: np.ndarray
    coolant_floor_k: np.ndarray
    interlocks: tuple[Interlock, ...] = ()

    def __post_init__(self) -> None:
        names = ("setpoint_k", "feed_flow", "feed_conc", "feed_temp_k", "ua_factor", "coolant_floor_k")
        arrays = [np.asarray(getattr(self, n), dtype=float) for n in names]
        if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1 or arrays[0].size == 0:
            raise ValueError("input profiles must be 1-D arrays of equal, non-zero length")
        for n, a in zip(names, arrays):
            object.__setattr__(self, n, a)

    def __len__(self) -> int:
        return int(self.setpoint_k.size)

    @classmethod
    def constant(cls, n_minutes: int, params: CSTRParams = DEFAULT, *, setpoint_k: float) -> LoopInputs:
        """Nominal, constant inputs (feed and UA from ``params``, no coolant limit)."""
        full = lambda v: np.full(n_minutes, float(v))  # noqa: E731
        return cls(full(setpoint_k), full(params.q), full(params.Caf), full(params.Tf), full(1.0), full(0.0))


@dataclass(frozen=True)
class LoopState:
    """Dynamic state: Ca mol/L, T K, jacket T K, PI integral term K, controller output K."""

    ca: float
    temp_k: float
    jacket_k: float
    integral_k: float
    output_k: float


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Closed-loop result sampled at the start of every minute (index = minute).

    Feed flow and UA are the values actually applied (after interlock
    action); ``trips`` lists interlock trip times (min).
    """

    ca: np.ndarray
    temp_k: np.ndarray
    jacket_k: np.ndarray
    output_k: np.ndarray
    integral_k: np.ndarray
    setpoint_k: np.ndarray
    feed_flow: np.ndarray
    feed_conc: np.ndarray
    feed_temp_k: np.ndarray
    ua: np.ndarray
    trips: tuple[float, ...]
    final: LoopState


def initial_state(inputs: LoopInputs, params: CSTRParams = DEFAULT) -> LoopState:
    """Closed-loop steady state at the first input sample; PI initialised bumplessly."""
    ca, tc = closed_loop_steady_state(
        float(inputs.setpoint_k[0]),
        params,
        q=float(inputs.feed_flow[0]),
        caf=float(inputs.feed_conc[0]),
        tf=float(inputs.feed_temp_k[0]),
        ua=params.UA * float(inputs.ua_factor[0]),
    )
    return LoopState(ca, float(inputs.setpoint_k[0]), tc, tc, tc)


def run_closed_loop(
    inputs: LoopInputs,
    params: CSTRParams = DEFAULT,
    tuning: PITuning = DEFAULT_TUNING,
    initial: LoopState | None = None,
) -> Trajectory:
    """Integrate reactor + jacket + PI controller over ``len(inputs)`` minutes.

    The controller runs every ``tuning.scan`` minutes (zero-order hold on its
    output); between scans the plant is integrated with classical RK4 whose
    sub-step is limited to ``1 / lambda`` where ``lambda`` bounds the Jacobian
    (``f + k + b + a k' Ca + 1/tau_j``), re-evaluated every sub-step. That
    keeps RK4 accurate through ignition (k' Ca can exceed 20 1/min) while
    normal operation needs one sub-step per scan. Fixed steps make it
    bit-reproducible and fast (~70 ms per simulated day); against LSODA
    (rtol 1e-11) through an unrestrained ignition to 437 K the temperature
    error stays below 0.03 K.

    Raises
    ------
    RuntimeError
        If the state leaves 100-1000 K (numerical divergence).
    """
    p, tu = params, tuning
    nsub = int(round(1.0 / tu.scan))
    if nsub < 1 or abs(nsub * tu.scan - 1.0) > 1e-9:
        raise ValueError("tuning.scan must divide one minute")
    n = len(inputs)
    fine = np.arange(n * nsub) * tu.scan
    minutes = np.arange(n, dtype=float)
    sp_l, q_l, caf_l, tf_l, uaf_l, fl_l = (
        np.interp(fine, minutes, arr).tolist()
        for arr in (
            inputs.setpoint_k,
            inputs.feed_flow,
            inputs.feed_conc,
            inputs.feed_temp_k,
            inputs.ua_factor,
            inputs.coolant_floor_k,
        )
    )
    st = initial or initial_state(inputs, p)
    ca, temp, tj, integ, u = st.ca, st.temp_k, st.jacket_k, st.integral_k, st.output_k

    inv_v, a, c_ua = 1.0 / p.V, p.mdelH / (p.rho * p.Cp), 1.0 / (p.V * p.rho * p.Cp)
    k0, e_r = p.k0, p.EoverR
    ij = 1.0 / p.tau_j if p.tau_j > 0 else 0.0
    kc, ki = tu.kc, tu.kc / tu.tau_i
    kt = 0.0 if math.isinf(tu.tau_t) else 1.0 / tu.tau_t
    dt_s, rate = tu.scan, tu.out_rate * tu.scan
    exp = math.exp
    ils = inputs.interlocks
    tripped: list[float | None] = [None] * len(ils)
    temp_prev = temp

    rec = np.empty((n, 10))
    for j in range(n * nsub):
        t = j * dt_s
        s, q, caf, tf, ua, floor = sp_l[j], q_l[j], caf_l[j], tf_l[j], p.UA * uaf_l[j], fl_l[j]
        if ils:
            rise = (temp - temp_prev) / dt_s
            temp_prev = temp
        for i, il in enumerate(ils):
            if (
                tripped[i] is None
                and il.armed_from <= t < il.armed_until
                and (temp > s + il.margin_k or (temp > s + il.rise_margin_k and rise > il.rise_rate))
            ):
                tripped[i] = t
            if tripped[i] is not None and t < il.armed_until:
                floor = -math.inf  # backup coolant supply
                q *= min(1.0, max(0.0, (t - il.restart_at) / il.restart_ramp))

        # PI with limits (incl. the coolant-supply limit propagated from the jacket loop).
        e = s - temp
        v = kc * e + integ
        w = min(max(v, tu.out_min, floor), tu.out_max)
        w = min(max(w, u - rate), u + rate)
        integ += (ki * e + kt * (w - v)) * dt_s
        u = w
        target = max(u, floor)  # what the coolant supply can actually deliver

        if j % nsub == 0:
            rec[j // nsub] = (ca, temp, tj, u, integ, s, q, caf, tf, ua)

        f, b = q * inv_v, ua * c_ua
        rem = dt_s
        while rem > 1e-12:
            kk = k0 * exp(-e_r / temp)
            lam = f + kk + b + a * kk * e_r / (temp * temp) * abs(ca) + ij
            h = rem if rem * lam <= 1.0 else 1.0 / lam
            rem -= h
            x0, x1, x2 = ca, temp, tj
            if ij == 0.0:
                x2 = target
            r = kk * x0
            d0 = f * (caf - x0) - r
            d1 = f * (tf - x1) + a * r + b * (x2 - x1)
            d2 = (target - x2) * ij
            y0, y1, y2 = x0 + 0.5 * h * d0, x1 + 0.5 * h * d1, x2 + 0.5 * h * d2
            r = k0 * exp(-e_r / y1) * y0
            e0 = f * (caf - y0) - r
            e1 = f * (tf - y1) + a * r + b * (y2 - y1)
            e2 = (target - y2) * ij
            y0, y1, y2 = x0 + 0.5 * h * e0, x1 + 0.5 * h * e1, x2 + 0.5 * h * e2
            r = k0 * exp(-e_r / y1) * y0
            g0 = f * (caf - y0) - r
            g1 = f * (tf - y1) + a * r + b * (y2 - y1)
            g2 = (target - y2) * ij
            y0, y1, y2 = x0 + h * g0, x1 + h * g1, x2 + h * g2
            r = k0 * exp(-e_r / y1) * y0
            p0 = f * (caf - y0) - r
            p1 = f * (tf - y1) + a * r + b * (y2 - y1)
            p2 = (target - y2) * ij
            ca = x0 + h / 6.0 * (d0 + 2.0 * e0 + 2.0 * g0 + p0)
            temp = x1 + h / 6.0 * (d1 + 2.0 * e1 + 2.0 * g1 + p1)
            tj = x2 + h / 6.0 * (d2 + 2.0 * e2 + 2.0 * g2 + p2)
            if not 100.0 < temp < 1000.0:
                raise RuntimeError(f"integration diverged at t = {t:.1f} min (T = {temp})")

    return Trajectory(
        *(rec[:, i].copy() for i in range(10)),
        trips=tuple(x for x in tripped if x is not None),
        final=LoopState(ca, temp, tj, integ, u),
    )


# --------------------------------------------------------------------------
# Operating scenario
# --------------------------------------------------------------------------

#: Published APMonitor steady state (Tc = 300 K): the nominal operating point.
NOMINAL_SETPOINT_K = 324.475443
#: Production grades (reactor temperature set points, K). All on the cold
#: branch, the highest just below the 335.65 K fold, where PI control is
#: still well damped (closed loop stable to ~340 K even with UA at 60 %).
GRADES_K: tuple[float, ...] = (320.0, NOMINAL_SETPOINT_K, 328.0, 331.5, 335.0)
_GRADE_WEIGHTS = (0.15, 0.40, 0.15, 0.15, 0.15)
IDLE_SETPOINT_K = 300.0  # hold temperature while shut down
_SP_RATE, _SP_RATE_MAX = 0.2, 0.5  # K/min, preferred / maximum set-point ramp

_BLOCK_DAYS = 10  # scenario quotas are met exactly in every 10-day block
_DAY = 1440  # minutes
_BLOCK_MIN = _BLOCK_DAYS * _DAY
_TRANSIENT_MIN = round(0.20 * _BLOCK_MIN)  # 2880
_ABNORMAL_MIN = round(0.08 * _BLOCK_MIN)  # 1152
_EXTREME_MIN = round(0.02 * _BLOCK_MIN)  # 288
_START_GAP, _MIN_GAP, _END_GAP = 30, 20, 120  # min of steady operation around episodes
_ABNORMAL_LABELS = ("feed_disruption", "jacket_fouling", "stuck_sensor", "spiking_sensor", "sensor_drift")
_STREAM_SCHEDULE, _STREAM_GRADE, _STREAM_DISTURBANCE = 21, 22, 23

PLANT_ID = "cstr"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _sp_change(t: int, length: int, from_k: float, to_k: float) -> Item:
    return Item(t, t + length, "transient", "setpoint_change", None, (("from_k", from_k), ("to_k", to_k)))


def _block_grade(seed: int, block: int) -> float:
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_GRADE, block)
    return float(GRADES_K[int(rng.choice(len(GRADES_K), p=_GRADE_WEIGHTS))])


def _ramp_minutes(delta: float, available: float) -> int:
    # Preferred 0.2 K/min; faster only if the episode is short, but never above 0.5 K/min
    # (episode minimum lengths are chosen so that the cap does not overrun the episode).
    minutes = max(min(abs(delta) / _SP_RATE, available), abs(delta) / _SP_RATE_MAX, 1.0)
    return int(math.ceil(minutes - 1e-9))


@functools.lru_cache(maxsize=64)
def _block_plan(seed: int, block: int) -> tuple[tuple[float, tuple[Item, ...]], ...]:
    """Episode plan of a 10-day block: per day (start set point K, items tiling the day).

    Blocks are aligned to 1970-01-01, so a day's plan depends only on (seed,
    day). Category time quotas (20 / 8 / 2 % transient / abnormal / extreme,
    rest normal) are met exactly per block; days in a block get random
    subsets, so single days vary. Each day ends with >= 2 h steady at the set
    point the next day starts from.
    """
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_SCHEDULE, block)
    g_now, g_next = _block_grade(seed, block), _block_grade(seed, block + 1)
    measured = [t.tag for t in TAGS if t.measured]

    # Units: lists of pieces (label, minutes, args); a unit is placed contiguously in one day.
    units: list[list[tuple[str, int, dict]]] = []
    transient = _TRANSIENT_MIN
    transition = None
    d_tr = int(rng.integers(90, 181))
    if g_next != g_now:
        transition = [("transition", d_tr, {})]
        transient -= d_tr
    d_sd, d_su = int(rng.integers(150, 301)), int(rng.integers(150, 241))
    if rng.random() < 0.5:
        units.append([("shutdown", d_sd, {}), ("startup", d_su, {})])
        transient -= d_sd + d_su
    m = max(1, round(transient / 240))
    durs = split(rng, transient, 2 * m, 60, 180)
    for i in range(m):
        hold = int(rng.integers(30, 241))
        units.append([("sp_out", durs[2 * i], {}), ("hold", hold, {}), ("sp_back", durs[2 * i + 1], {})])

    n_ab = int(rng.integers(5, 8))
    for d in split(rng, _ABNORMAL_MIN, n_ab, 60, 360):
        label = _ABNORMAL_LABELS[int(rng.integers(len(_ABNORMAL_LABELS)))]
        args = {
            "tag": measured[int(rng.integers(len(measured)))],
            "feed_fraction": float(rng.uniform(0.3, 0.8)),
            "ua_final": float(rng.uniform(0.6, 0.8)),
        }
        units.append([(label, d, args)])
    n_ex = int(rng.integers(1, 3))
    for d in split(rng, _EXTREME_MIN, n_ex, 120, 360):
        args = {
            "floor_k": float(rng.uniform(306.0, 315.0)),
            "floor_rate": float(rng.uniform(0.5, 2.0)),
            "restart": float(min(int(rng.integers(40, 71)), d - 45)),
        }
        units.append([("cooling_failure", d, args)])

    # Assign units to days (largest first), respecting a per-day capacity.
    load = [0] * _BLOCK_DAYS
    count = [0] * _BLOCK_DAYS
    per_day: list[list[list[tuple[str, int, dict]]]] = [[] for _ in range(_BLOCK_DAYS)]

    def fits(day: int, length: int) -> bool:
        return load[day] + length + _START_GAP + _END_GAP + _MIN_GAP * count[day] <= _DAY

    def put(day: int, unit: list) -> None:
        per_day[day].append(unit)
        load[day] += sum(pc[1] for pc in unit)
        count[day] += 1

    if transition is not None:
        put(_BLOCK_DAYS - 1, transition)
    lengths = [sum(pc[1] for pc in u) for u in units]
    for i in sorted(range(len(units)), key=lambda i: -lengths[i]):
        ok = [d for d in range(_BLOCK_DAYS) if fits(d, lengths[i])]
        put(int(rng.choice(ok)) if ok else int(np.argmin(load)), units[i])

    plan = []
    grade = g_now
    for d in range(_BLOCK_DAYS):
        day_units = per_day[d]
        order = rng.permutation(len(day_units))
        k = len(day_units)
        extra = _DAY - load[d] - (_START_GAP + _END_GAP + _MIN_GAP * max(k - 1, 0))
        if k == 0:
            gaps = [_DAY]
        else:
            if extra < 0:
                raise RuntimeError("scenario day over capacity")  # cannot happen with the quotas above
            gaps = integerize(rng.dirichlet(np.ones(k + 1)) * extra, extra).tolist()
            gaps = [g + (_START_GAP if i == 0 else _END_GAP if i == k else _MIN_GAP) for i, g in enumerate(gaps)]
        items: list[Item] = []
        t = 0
        day_start_grade = grade

        def steady(length: int, sp: float) -> None:
            nonlocal t
            if length > 0:
                items.append(Item(t, t + length, "normal", "steady", None, (("setpoint_k", sp),)))
                t += length

        for ui, idx in enumerate(order):
            steady(gaps[ui], grade)
            unit = day_units[idx]
            if unit[0][0] == "sp_out":
                others = [g for g in GRADES_K if g != grade]
                target = others[int(rng.integers(len(others)))]
                (_, d_out, _), (_, hold, _), (_, d_back, _) = unit
                items.append(_sp_change(t, d_out, grade, target))
                t += d_out
                steady(hold, target)
                items.append(_sp_change(t, d_back, target, grade))
                t += d_back
            elif unit[0][0] == "transition":
                items.append(_sp_change(t, unit[0][1], grade, g_next))
                t += unit[0][1]
                grade = g_next
            elif unit[0][0] == "shutdown":
                (_, d1, _), (_, d2, _) = unit
                items.append(Item(t, t + d1, "transient", "shutdown", None, (("from_k", grade),)))
                t += d1
                items.append(Item(t, t + d2, "transient", "startup", None, (("to_k", grade),)))
                t += d2
            elif unit[0][0] == "cooling_failure":
                label, d1, args = unit[0]
                items.append(Item(t, t + d1, "extreme", label, None, (("setpoint_k", grade), *sorted(args.items()))))
                t += d1
            else:
                label, d1, args = unit[0]
                tag = args["tag"] if label in SENSOR_FAULT_LABELS else None
                extra_args = {"feed_disruption": ("feed_fraction",), "jacket_fouling": ("ua_final",)}.get(label, ())
                pairs = (("setpoint_k", grade), *((a, args[a]) for a in extra_args))
                items.append(Item(t, t + d1, "abnormal", label, tag, pairs))
                t += d1
        steady(gaps[-1], grade)
        if t != _DAY:
            raise RuntimeError("scenario day does not tile 24 h")
        plan.append((day_start_grade, tuple(items)))
    return tuple(plan)


def _day_plan(seed: int, day_no: int) -> tuple[float, tuple[Item, ...]]:
    block = day_no // _BLOCK_DAYS
    return _block_plan(seed, block)[day_no - block * _BLOCK_DAYS]


def _hhmm(day_start: dt.datetime, minute: float) -> str:
    return f"{day_start + dt.timedelta(minutes=minute):%H:%M}Z"


def _detail(item: Item, ctx: DayContext) -> str:
    """Detail text of a process episode (sensor faults are described by the engine)."""
    a = dict(item.args)
    hours = (item.end - item.start) / 60
    if item.label == "steady":
        return f"steady at set point {a['setpoint_k']:.2f} K"
    if item.label == "setpoint_change":
        ramp = _ramp_minutes(a["to_k"] - a["from_k"], 0.6 * (item.end - item.start))
        return f"set point {a['from_k']:.2f} -> {a['to_k']:.2f} K, ramp over {ramp} min"
    if item.label == "shutdown":
        return f"set point {a['from_k']:.2f} -> {IDLE_SETPOINT_K:.2f} K, feed stopped, idle"
    if item.label == "startup":
        return f"feed restarted, set point {IDLE_SETPOINT_K:.2f} -> {a['to_k']:.2f} K"
    if item.label == "feed_disruption":
        return f"feed flow drops to {100 * a['feed_fraction']:.0f} % for {(item.end - item.start - 38) / 60:.1f} h"
    if item.label == "jacket_fouling":
        return f"UA falls to {100 * a['ua_final']:.0f} % over {hours - 40 / 60:.1f} h, then restored over 20 min"
    if item.label == "cooling_failure":
        return (
            f"coolant supply limited to >= {a['floor_k']:.1f} K (rising {a['floor_rate']:.1f} K/min); "
            f"feed restart planned {ctx.hhmm(item.start + a['restart'])}"
        )
    raise ValueError(f"no detail text for {item.label!r}")


def _disturbance_phases(seed: int) -> np.ndarray:
    return historian.derive_rng(seed, PLANT_ID, _STREAM_DISTURBANCE).uniform(0.0, 2.0 * math.pi, 6)


def _day_inputs(seed: int, day_no: int, params: CSTRParams) -> LoopInputs:
    """Per-minute input profiles of one UTC day from its plan."""
    start_grade, items = _day_plan(seed, day_no)
    n = _DAY
    sp = np.full(n, start_grade)
    feed = np.ones(n)  # fraction of nominal flow
    uaf = np.ones(n)
    floor = np.zeros(n)
    interlocks: list[Interlock] = []
    minute = np.arange(n, dtype=float)
    for it in items:
        s, e, a = it.start, it.end, dict(it.args)
        if it.label == "setpoint_change":
            r = _ramp_minutes(a["to_k"] - a["from_k"], 0.6 * (e - s))
            sp[s:] = a["to_k"]
            sp[s : s + r] = a["from_k"] + (a["to_k"] - a["from_k"]) * (minute[s : s + r] - s) / r
        elif it.label == "shutdown":
            # Cool down with feed on (a hot stop would run the hold-up away), then stop the feed.
            r = _ramp_minutes(IDLE_SETPOINT_K - a["from_k"], e - s - 45)
            sp[s:] = IDLE_SETPOINT_K
            sp[s : s + r] = a["from_k"] + (IDLE_SETPOINT_K - a["from_k"]) * (minute[s : s + r] - s) / r
            feed[s + r :] = 0.0
            feed[s + r : s + r + 15] = 1.0 - (minute[s + r : s + r + 15] - s - r) / 15.0
        elif it.label == "startup":
            # Feed first at idle temperature, then heat up along the set-point ramp.
            feed[s:] = 1.0
            feed[s : s + 20] = (minute[s : s + 20] - s) / 20.0
            r = _ramp_minutes(a["to_k"] - IDLE_SETPOINT_K, e - s - 60)
            sp[s:] = a["to_k"]
            sp[s : s + 30] = IDLE_SETPOINT_K
            heat = minute[s + 30 : s + 30 + r] - s - 30
            sp[s + 30 : s + 30 + r] = IDLE_SETPOINT_K + (a["to_k"] - IDLE_SETPOINT_K) * heat / r
        elif it.label == "feed_disruption":
            frac = a["feed_fraction"]
            feed[s : s + 3] = 1.0 - (1.0 - frac) * (minute[s : s + 3] - s + 1) / 3.0
            feed[s + 3 : e - 35] = frac
            feed[e - 35 : e - 30] = frac + (1.0 - frac) * (minute[e - 35 : e - 30] - (e - 35) + 1) / 5.0
        elif it.label == "jacket_fouling":
            # Fouling builds up, then the standby exchanger is brought in gradually: a
            # step back to clean UA would overshoot T into ignition near the upper grades.
            low = a["ua_final"]
            uaf[s : e - 40] = 1.0 - (1.0 - low) * (minute[s : e - 40] - s) / (e - 40 - s)
            uaf[e - 40 : e - 20] = low + (1.0 - low) * (minute[e - 40 : e - 20] - (e - 40) + 1) / 20.0
        elif it.label == "cooling_failure":
            restart = s + a["restart"]
            end_fail = int(restart) - 5
            floor[s:end_fail] = np.minimum(290.0 + a["floor_rate"] * (minute[s:end_fail] - s), a["floor_k"])
            interlocks.append(Interlock(armed_from=s, armed_until=restart + 15.0, restart_at=restart))

    # Slow feed disturbances: smooth functions of absolute time (continuous across midnight).
    ph = _disturbance_phases(seed)
    t_abs = (day_no * _DAY + minute) * 2.0 * math.pi
    tf = params.Tf + 1.5 * np.sin(t_abs / _DAY + ph[0]) + 0.4 * np.sin(t_abs / 197.0 + ph[1])
    caf = params.Caf * (1.0 + 0.01 * np.sin(t_abs / (1.7 * _DAY) + ph[2]) + 0.004 * np.sin(t_abs / 131.0 + ph[3]))
    q = params.q * feed * (1.0 + 0.003 * np.sin(t_abs / 89.0 + ph[4]))
    return LoopInputs(sp, q, caf, tf, uaf, floor, tuple(interlocks))


# --------------------------------------------------------------------------
# Data binding: tags and simulation entry points
# --------------------------------------------------------------------------

INFO = PlantInfo(
    plant_id=PLANT_ID,
    name="Jacketed exothermic CSTR (A -> B)",
    description="100 L CSTR, first-order exothermic reaction, PI control of reactor temperature via jacket "
    "temperature (Seborg et al.; APMonitor benchmark).",
    sampling=dt.timedelta(minutes=1),
)

#: Historian tag catalogue. Ranges cover shutdown (idle 300 K, no feed) and the
#: interlocked cooling failures (T < 360 K); noise is 0.1-0.2 % of span.
TAGS: tuple[TagSpec, ...] = (
    TagSpec("CSTR.FI101", "Feed flow", "L/min", "L/min", 0.0, 150.0, "feed", 0.2),
    TagSpec("CSTR.TI101", "Feed temperature", "degC", "K", 0.0, 120.0, "feed", 0.1),
    TagSpec("CSTR.AI101", "Feed concentration of A", "mol/L", "mol/L", 0.0, 2.0, "feed", 0.2),
    TagSpec("CSTR.TI102", "Reactor temperature", "degC", "K", 0.0, 150.0, "reactor", 0.1),
    TagSpec("CSTR.AI102", "Reactor outlet concentration of A", "mol/L", "mol/L", 0.0, 2.0, "reactor", 0.2),
    TagSpec("CSTR.AY102", "Conversion of A, 1 - AI102/AI101", "percent", "percent", 0.0, 100.0, "reactor", 0.1),
    TagSpec("CSTR.TC102.SP", "Reactor temperature set point", "degC", "K", 0.0, 150.0, "controller"),
    TagSpec("CSTR.TC102.OUT", "TC102 output = jacket temperature set point", "degC", "K", -40.0, 120.0, "controller"),
    TagSpec("CSTR.TI103", "Jacket temperature", "degC", "K", -40.0, 120.0, "jacket", 0.1),
    TagSpec("CSTR.QI101", "Heat removed by the jacket, UA (T - Tj)", "kW", "kW", -50.0, 150.0, "jacket", 0.2),
)
_TAG_BY_NAME = {t.tag: t for t in TAGS}

#: Activity data for carbon accounting. The pilot reactor buys its feed solution
#: and the electricity of the chiller that cools the jacket; its product is not sold.
ACTIVITY: tuple[ActivityStream, ...] = (
    ActivityStream("feedstock", "cstr_feed", "CSTR.FI101", "m**3", note="feed solution of A, 1 mol/L"),
    ActivityStream(
        "electricity_import",
        "electricity",
        "CSTR.QI101",
        "kWh",
        factor=0.25,
        note="chiller electricity = jacket heat duty / COP, COP 4 (typical water-cooled chiller at 7 degC supply)",
    ),
)
_ZERO_C = 273.15


def _tag_frame(traj: Trajectory, index: pd.DatetimeIndex) -> pd.DataFrame:
    conv = 100.0 * (1.0 - traj.ca / traj.feed_conc)
    cols = {
        "CSTR.FI101": traj.feed_flow,
        "CSTR.TI101": traj.feed_temp_k - _ZERO_C,
        "CSTR.AI101": traj.feed_conc,
        "CSTR.TI102": traj.temp_k - _ZERO_C,
        "CSTR.AI102": traj.ca,
        "CSTR.AY102": np.clip(conv, 0.0, 100.0),  # the DCS calculation block clamps to 0-100 %
        "CSTR.TC102.SP": traj.setpoint_k - _ZERO_C,
        "CSTR.TC102.OUT": traj.output_k - _ZERO_C,
        "CSTR.TI103": traj.jacket_k - _ZERO_C,
        "CSTR.QI101": traj.ua * (traj.temp_k - traj.jacket_k) / 60_000.0,  # J/min -> kW
    }
    return pd.DataFrame({t.tag: cols[t.tag] for t in TAGS}, index=index)


def _simulate_day(seed: int, day_no: int, params: CSTRParams, tuning: PITuning) -> tuple[pd.DataFrame, list[Episode]]:
    # Every day starts from the closed-loop steady state of its plan (the previous
    # day ends >= 2 h steady at that set point), so days are independent.
    day_start = _EPOCH + dt.timedelta(days=day_no)
    inputs = _day_inputs(seed, day_no, params)
    traj = run_closed_loop(inputs, params, tuning)
    index = pd.date_range(day_start, periods=_DAY, freq=INFO.sampling, tz="UTC")
    episodes = TYPE.day_episodes(seed, day_no)
    out = []
    for ep in episodes:
        if ep.label == "cooling_failure":
            s = int((ep.start - day_start) / INFO.sampling)
            e = int((ep.end - day_start) / INFO.sampling)
            trips = [t for t in traj.trips if s <= t < e]
            peak = float(traj.temp_k[s:e].max())
            outcome = (
                f"; high-high trip at {_hhmm(day_start, trips[0])} stopped the feed, backup coolant"
                if trips
                else "; no trip"
            )
            ep = replace(ep, detail=f"{ep.detail}{outcome}; peak T {peak:.1f} K")
        out.append(ep)
    return _tag_frame(traj, index), out


#: The CSTR on the shared simulation engine (:mod:`models.engine`): the day plan, the episode
#: details and the day simulator are the CSTR's own, the rest is the engine's.
TYPE = PlantType(
    info=INFO,
    tags=TAGS,
    default_params=DEFAULT,
    step=dt.timedelta(minutes=1),
    day_items=lambda seed, day_no: _day_plan(seed, day_no)[1],
    detail=_detail,
    simulate_day=lambda seed, day_no, params, tuning=DEFAULT_TUNING: _simulate_day(seed, day_no, params, tuning),
)

#: Planned episodes tiling ``[start, end)`` (:meth:`models.engine.PlantType.schedule`). Each UTC
#: day's plan comes from its 10-day block (aligned to 1970-01-01), seeded by ``(seed, block)``;
#: category shares are exactly 70/20/8/2 % over every aligned block. Details of
#: ``cooling_failure`` episodes gain the simulated outcome in :func:`simulate_true`.
schedule = TYPE.schedule
#: True values at 1-min sampling and episodes, ``simulate_true(start, end, seed=0, params=None,
#: plant_id=None, *, tuning=DEFAULT_TUNING)`` (:meth:`models.engine.PlantType.simulate_true`);
#: whole UTC days are integrated (~0.07 s each) and sliced.
simulate_true = TYPE.simulate_true
#: Historian exports into ``<landing_dir>/sensor/<plant_id>/`` plus ground truth
#: (:meth:`models.engine.PlantType.simulate`).
simulate = TYPE.simulate
