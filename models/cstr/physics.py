"""CSTR physics: parameters, mass and energy balances, steady states, PI closed loop with interlock."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

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
