"""Dynamic ethanol fermentation with a biomass balance: batch, fed-batch and chemostat.

Unstructured, unsegregated kinetics for one substrate (glucose, S), the cells
(X) and one product (ethanol, P); all concentrations in g/L, time in h.

Example
-------
>>> from models.biorefinery.fermentation import FermentationParams, simulate, chemostat_steady_state
>>> params = FermentationParams()
>>> run = simulate(params, "batch", 40.0, [1.0, 100.0, 0.0])
>>> print(f"{run['p_g_l'].iloc[-1]:.1f} g/L ethanol, {max(run['s_g_l'].iloc[-1], 0.0):.3f} g/L glucose left")
44.4 g/L ethanol, 0.000 g/L glucose left
>>> ss = chemostat_steady_state(FermentationParams(inhibition_exponent=1.0, p_max_g_l=math.inf), 0.1, 50.0)
>>> round(ss["s_g_l"], 4)  # Ks (D + kd) / (mu_max - D - kd) = 1.7 * 0.11 / 0.22
0.85

Equations
---------
Specific rates (1/h for mu, g/g/h for qp and qs)::

    mu = mu_max S / (Ks + S + S**2/Ki) * (1 - P/Pmax)**n        Monod [Monod1949], Haldane/Andrews
                                                                  substrate inhibition [Andrews1968],
                                                                  Levenspiel product inhibition [Levenspiel1980]
    f_S = S / (Ks + S)                                           substrate availability of non-growth terms
    qp = alpha mu + beta f_S                                     Luedeking-Piret [LuedekingPiret1959]
    qs = mu / Yxs + qp / Yps + ms f_S                            substrate for growth, product, maintenance
                                                                 (Pirt's maintenance, [ShulerKargi2002] ch. 6)

Balances with the dilution rate D (1/h; 0 in batch, F/V in fed-batch) and a
sterile feed of substrate only (concentration Sf)::

    dX/dt = (mu - kd - D) X
    dS/dt = D (Sf - S) - qs X
    dP/dt = qp X - D P
    dV/dt = F                                                    (fed-batch only)

Assumptions
-----------
* The non-growth terms (``beta`` product formation and ``ms`` maintenance) are
  multiplied by the Monod factor ``f_S = S/(Ks + S)``: without it a culture
  with no substrate would keep consuming substrate and S would turn negative.
  For S >> Ks this is the textbook Luedeking-Piret / Pirt form. Product
  inhibition acts on growth only (the default ``beta`` is 0).
* ``(1 - P/Pmax)`` is clipped at 0 (no growth at or above Pmax); S and X are
  clipped at 0 inside the rates of numpy inputs (integration error can leave
  them at -1e-12).
* Death (``kd``) removes viable cells; dead cells and their substrate are not
  tracked. The feed carries no cells and no product.

Link to the twin (:func:`models.biorefinery.physics.monod_cstr`)
----------------------------------------------------------------
The twin's quasi-steady co-fermentation CSTR uses, per sugar, the uptake law
``r = q X S/(K + S) (1 - P/Pm)`` with ``theta = tau q X`` a single constant,
calibrated so that the design point reproduces the published conversions
[Humbird2011]: biomass is frozen into ``theta``. That is exactly this model's
``qs X`` with ``inhibition_exponent = 1``, ``ki_g_l = inf``, ``beta = ms = 0``
at a fixed biomass concentration X, with ``q = mu_max (1/Yxs + alpha/Yps)``
(:func:`max_specific_uptake_g_g_h`). :func:`twin_params` builds those
parameters from :class:`~models.biorefinery.physics.BiorefineryParams`
(Ks, Pm and the design yields; the overall ethanol and cell yields of the
twin fix ``alpha`` and ``Yxs`` once ``Yps`` is the theoretical 0.511 g/g),
:func:`folded_uptake_g_l_h` gives ``q X`` (the twin's ``theta / tau``) for a
biomass concentration and :func:`implied_biomass_g_l` inverts it. Only the
product ``q X`` is identifiable from the twin, so ``mu_max`` (and with it X)
comes from this module's defaults: with the default 0.33 1/h the twin's design
``theta_glucose / tau`` = 8.16 g/L/h corresponds to X = 0.50 g/L of active
cells, about a third of the 1.4 g/L of cells that the twin's design yields grow
on the design glucose (68.9 g/L; 2.2 g/L with the pentoses).
The twin is therefore not changed (its numbers are calibrated to the published
design, and replacing ``theta`` by a biomass balance would move them); the
tests check that the twin's steady state satisfies this module's substrate
balance at the implied biomass.

Sources
-------
[Monod1949]
    J. Monod, "The growth of bacterial cultures", Annu. Rev. Microbiol. 3
    (1949) 371-394.
[Andrews1968]
    J. F. Andrews, "A mathematical model for the continuous culture of
    microorganisms utilizing inhibitory substrates", Biotechnol. Bioeng. 10
    (1968) 707-723 (the Haldane form of substrate inhibition); see also
    J. H. T. Luong, "Generalization of Monod kinetics for analysis of growth
    data with substrate inhibition", Biotechnol. Bioeng. 29 (1987) 242-248.
[Levenspiel1980]
    O. Levenspiel, "The Monod equation: a revisit and a generalization to
    product inhibition situations", Biotechnol. Bioeng. 22 (1980) 1671-1687:
    mu = mu_max (1 - P/P*)**n S/(Ks + S); for yeast ethanol fermentation
    (data of Bazua and Wilke, 1977) P* = 93 g/L, n = 0.52 (as tabulated in
    [Fogler2006]). J. H. T. Luong, "Kinetics of ethanol inhibition in alcohol
    fermentation", Biotechnol. Bioeng. 27 (1985) 280-285, generalises it.
[LuedekingPiret1959]
    R. Luedeking, E. L. Piret, "A kinetic study of the lactic acid
    fermentation. Batch process at controlled pH", J. Biochem. Microbiol.
    Technol. Eng. 1 (1959) 393-412: qp = alpha mu + beta.
[ShulerKargi2002]
    M. L. Shuler, F. Kargi, *Bioprocess Engineering: Basic Concepts*, 2nd ed.,
    Prentice Hall, 2002, ch. 6: maintenance in the substrate balance, the
    chemostat steady state S* = Ks D/(mu_max - D), X* = Yxs (Sf - S*), the
    critical dilution rate and the integrated batch Monod equation.
[Fogler2006]
    H. S. Fogler, *Elements of Chemical Reaction Engineering*, 4th ed.,
    Prentice Hall, 2006, sec. 7.5 (bioreactors), batch glucose-to-ethanol
    yeast fermentation example: mu_max = 0.33 1/h, Ks = 1.7 g/L,
    Cp* = 93 g/L, n = 0.52, Yx/s = 0.08 g/g, Yp/s = 0.45 g/g,
    Yp/x = 5.6 g/g, kd = 0.01 1/h, m = 0.03 g/(g h).
[GayLussac]
    Stoichiometry C6H12O6 -> 2 C2H5OH + 2 CO2: 2 x 46.069/180.156 =
    0.5114 g ethanol per g glucose (IUPAC atomic weights).
[Humbird2011]
    D. Humbird et al., NREL/TP-5100-47764, 2011 (see :mod:`models.biorefinery.physics`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from nexus.errors import NexusError

__all__ = [
    "ETHANOL_YIELD_THEORETICAL_G_G",
    "FermentationIntegrationFailed",
    "FermentationParams",
    "chemostat_steady_state",
    "derivatives",
    "folded_uptake_g_l_h",
    "implied_biomass_g_l",
    "integrated_batch_monod_time",
    "max_specific_uptake_g_g_h",
    "simulate",
    "specific_rates",
    "twin_params",
    "washout_dilution_h",
]

#: Stoichiometric ethanol yield on glucose, g/g [GayLussac].
ETHANOL_YIELD_THEORETICAL_G_G = 2 * 46.069 / 180.156

Mode = Literal["batch", "fed_batch", "continuous"]


class FermentationIntegrationFailed(NexusError):
    """The ODE solver did not reach the end time (nexus.errors has no model-error class, so it lives here)."""


@dataclass(frozen=True)
class FermentationParams:
    """Kinetic and yield parameters of the fermentation (units in the names).

    Defaults are the yeast (*Saccharomyces*) glucose-to-ethanol example of
    [Fogler2006] (product inhibition after [Levenspiel1980]); the split of the
    substrate between cells and ethanol is derived from its yields as stated.

    Attributes
    ----------
    mu_max_h : float
        Maximum specific growth rate, 1/h: 0.33 [Fogler2006].
    ks_g_l : float
        Monod saturation constant, g/L: 1.7 [Fogler2006].
    ki_g_l : float
        Haldane/Andrews substrate inhibition constant, g/L; ``math.inf`` = no
        substrate inhibition (default, as in [Fogler2006]).
    p_max_g_l : float
        Ethanol concentration that stops growth, g/L: 93 [Levenspiel1980];
        ``math.inf`` = no product inhibition.
    inhibition_exponent : float
        Levenspiel exponent n of (1 - P/Pmax)**n: 0.52 [Levenspiel1980].
    yxs_g_g : float
        Biomass yield on the substrate used for growth (cell building blocks),
        g/g. Derived: [Fogler2006] gives overall Yx/s = 0.08 and Yp/x = 5.6,
        i.e. 12.5 g glucose per g cells of which 5.6/0.5114 = 10.95 g go to
        ethanol + CO2; the remaining 1.55 g give 1/1.55 = 0.646 g/g.
    alpha_g_g : float
        Growth-associated ethanol formation, g ethanol/g cells: 5.6 (Yp/x of
        [Fogler2006]) [LuedekingPiret1959].
    beta_g_g_h : float
        Non-growth-associated ethanol formation, g/(g h): 0 [Fogler2006].
    yps_g_g : float
        Ethanol yield on the substrate used for ethanol, g/g: 0.5114,
        stoichiometric [GayLussac]; with the above the overall yield is
        5.6 x 0.08 = 0.448 g/g, the 0.45 of [Fogler2006].
    ms_g_g_h : float
        Maintenance coefficient, g glucose/(g cells h): 0.03 [Fogler2006].
    kd_h : float
        Specific death rate, 1/h: 0.01 [Fogler2006]; 0 = no death.
    """

    mu_max_h: float = 0.33
    ks_g_l: float = 1.7
    ki_g_l: float = math.inf
    p_max_g_l: float = 93.0
    inhibition_exponent: float = 0.52
    yxs_g_g: float = 1.0 / (1.0 / 0.08 - 5.6 / ETHANOL_YIELD_THEORETICAL_G_G)
    alpha_g_g: float = 5.6
    beta_g_g_h: float = 0.0
    yps_g_g: float = ETHANOL_YIELD_THEORETICAL_G_G
    ms_g_g_h: float = 0.03
    kd_h: float = 0.01

    def __post_init__(self) -> None:
        positive = ("mu_max_h", "ks_g_l", "yxs_g_g", "yps_g_g", "inhibition_exponent")
        may_be_inf = ("ki_g_l", "p_max_g_l")
        non_negative = ("alpha_g_g", "beta_g_g_h", "ms_g_g_h", "kd_h")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise ValueError(f"FermentationParams.{f.name} expected a real number, found {value!r}")
            value = float(value)
            if math.isnan(value):
                raise ValueError(f"FermentationParams.{f.name} expected a number, found NaN")
            if f.name in positive and not (math.isfinite(value) and value > 0):
                raise ValueError(f"FermentationParams.{f.name} expected a finite number > 0, found {value!r}")
            if f.name in may_be_inf and not value > 0:
                raise ValueError(f"FermentationParams.{f.name} expected a number > 0 (math.inf = none), found {value!r}")
            if f.name in non_negative and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"FermentationParams.{f.name} expected a finite number >= 0, found {value!r}")
        if self.yxs_g_g > 1.0 or self.yps_g_g > ETHANOL_YIELD_THEORETICAL_G_G + 1e-9:
            raise ValueError(
                "FermentationParams yields expected yxs_g_g <= 1 and yps_g_g <= "
                f"{ETHANOL_YIELD_THEORETICAL_G_G:.4f} (stoichiometric), found {self.yxs_g_g!r} and {self.yps_g_g!r}"
            )


# --------------------------------------------------------------------------
# Kinetics
# --------------------------------------------------------------------------


def _is_numeric(v: Any) -> bool:
    return isinstance(v, (int, float, np.ndarray, np.number))


def _nonneg(v: Any) -> Any:
    # Clip numpy/float inputs; symbolic ones (e.g. Pyomo expressions) pass through, their bounds do the job.
    return np.maximum(v, 0.0) if _is_numeric(v) else v


def specific_rates(x: Any, s: Any, p: Any, params: FermentationParams) -> tuple[Any, Any, Any]:
    """Specific growth rate mu (1/h), ethanol formation qp and substrate uptake qs (g/(g h)).

    Element-wise on numpy arrays or floats (broadcast together). Uses only
    arithmetic and powers, so Pyomo expressions work too (no clipping is
    applied to them: bound S >= 0, X >= 0 and P <= Pmax in the model).
    ``x`` does not enter these unstructured kinetics; it is taken so that
    callers pass the full state.

    Returns
    -------
    (mu, qp, qs)
    """
    if _is_numeric(s):
        s = np.maximum(np.asarray(s, dtype=float), 0.0)
    if _is_numeric(p):
        p = np.asarray(p, dtype=float)
    pr = params
    denom = pr.ks_g_l + s
    if math.isfinite(pr.ki_g_l):
        denom = denom + s * s / pr.ki_g_l
    mu = pr.mu_max_h * s / denom
    if math.isfinite(pr.p_max_g_l):
        base = _nonneg(1.0 - p / pr.p_max_g_l)
        mu = mu * (base if pr.inhibition_exponent == 1.0 else base**pr.inhibition_exponent)
    f_s = s / (pr.ks_g_l + s)
    qp = pr.alpha_g_g * mu + pr.beta_g_g_h * f_s
    qs = mu / pr.yxs_g_g + qp / pr.yps_g_g + pr.ms_g_g_h * f_s
    if _is_numeric(x) and _is_numeric(s) and _is_numeric(p):
        shape = np.broadcast(np.asarray(x), s, p).shape
        mu, qp, qs = (np.broadcast_to(v, shape) * 1.0 for v in (mu, qp, qs))
    return mu, qp, qs


def derivatives(
    t: float,
    y: Sequence[Any],
    params: FermentationParams,
    *,
    dilution_h: float | Callable[[float], float] = 0.0,
    s_feed_g_l: float = 0.0,
    feed_l_h: float | Callable[[float], float] = 0.0,
) -> np.ndarray | list[Any]:
    """Right-hand side of the balances (see module docstring), g/(L h) and L/h.

    Parameters
    ----------
    t : float
        Time, h (used only by callable feeds).
    y : sequence
        ``[X, S, P]`` (g/L) for batch (``dilution_h = 0``) and continuous
        operation, or ``[X, S, P, V]`` (V in L) for fed-batch, where the
        dilution rate is ``feed_l_h / V`` and ``dilution_h`` is ignored.
        Entries may be numpy arrays of equal shape (vectorised) or Pyomo
        expressions.
    dilution_h : float or callable t -> float
        Dilution rate D = F/V of the constant-volume chemostat, 1/h.
    s_feed_g_l : float
        Substrate concentration of the sterile feed, g/L.
    feed_l_h : float or callable t -> float
        Feed flow of the fed-batch, L/h.

    Returns
    -------
    ``[dX/dt, dS/dt, dP/dt]`` (and ``dV/dt``): a numpy array for numeric
    input, else a list.
    """
    if len(y) == 4:
        x, s, p, v = y
        f = feed_l_h(t) if callable(feed_l_h) else feed_l_h
        d = f / v
    elif len(y) == 3:
        x, s, p = y
        d = dilution_h(t) if callable(dilution_h) else dilution_h
    else:
        raise ValueError(f"state expected [X, S, P] or [X, S, P, V], found {len(y)} entries")
    xc = _nonneg(x)
    mu, qp, qs = specific_rates(xc, s, p, params)
    dx = (mu - params.kd_h - d) * x
    ds = d * (s_feed_g_l - s) - qs * xc
    dp = qp * xc - d * p
    out = [dx, ds, dp] if len(y) == 3 else [dx, ds, dp, f]
    if all(_is_numeric(v) for v in y):
        return np.array([np.asarray(o, dtype=float) for o in np.broadcast_arrays(*out)])
    return out


# --------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------


def simulate(
    params: FermentationParams,
    mode: Mode,
    t_end_h: float,
    y0: Sequence[float],
    *,
    dilution_h: float = 0.0,
    s_feed_g_l: float = 0.0,
    feed_l_h: float = 0.0,
    feed_profile: Callable[[float], float] | None = None,
    t_eval: Sequence[float] | np.ndarray | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> pd.DataFrame:
    """Integrate the balances from 0 to ``t_end_h`` with scipy's Radau (implicit, stiff-safe) method.

    Parameters
    ----------
    params : FermentationParams
    mode : "batch", "fed_batch" or "continuous"
        Batch: ``y0 = [X0, S0, P0]``, no flow. Fed-batch: ``y0 = [X0, S0, P0, V0]``,
        feed ``feed_l_h`` (or ``feed_profile(t)``, L/h) at ``s_feed_g_l``.
        Continuous: ``y0 = [X0, S0, P0]``, constant volume, dilution rate
        ``dilution_h`` (or ``feed_profile(t)``, 1/h) at ``s_feed_g_l``.
    t_end_h : float
        End time, h.
    t_eval : array-like, optional
        Output times (h); default 201 evenly spaced points.
    rtol, atol : float
        Solver tolerances (defaults tight: 1e-10, 1e-12 g/L).

    Returns
    -------
    pandas.DataFrame
        Columns ``t_h, x_g_l, s_g_l, p_g_l`` (``v_l`` for fed-batch), and
        ``mu_h, qp_g_g_h, qs_g_g_h``.

    Raises
    ------
    ValueError
        Bad mode, state length or operating values.
    FermentationIntegrationFailed
        The solver stopped before ``t_end_h`` (its message is included).
    """
    if mode not in ("batch", "fed_batch", "continuous"):
        raise ValueError(f"mode expected 'batch', 'fed_batch' or 'continuous', found {mode!r}")
    n_state = 4 if mode == "fed_batch" else 3
    y0 = np.asarray(y0, dtype=float)
    if y0.shape != (n_state,) or not np.all(np.isfinite(y0)) or np.any(y0 < 0):
        raise ValueError(f"y0 for mode {mode!r} expected {n_state} finite values >= 0, found {y0.tolist()!r}")
    if mode == "fed_batch" and y0[3] <= 0:
        raise ValueError(f"fed-batch initial volume expected > 0 L, found {y0[3]!r}")
    if not (math.isfinite(t_end_h) and t_end_h > 0):
        raise ValueError(f"t_end_h expected a finite number > 0, found {t_end_h!r}")
    for name, value in (("dilution_h", dilution_h), ("s_feed_g_l", s_feed_g_l), ("feed_l_h", feed_l_h)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} expected a finite number >= 0, found {value!r}")
    kwargs: dict[str, Any] = {"s_feed_g_l": s_feed_g_l}
    if mode == "continuous":
        kwargs["dilution_h"] = feed_profile if feed_profile is not None else dilution_h
    elif mode == "fed_batch":
        kwargs["feed_l_h"] = feed_profile if feed_profile is not None else feed_l_h
    else:
        kwargs["s_feed_g_l"] = 0.0
    t_eval = np.linspace(0.0, t_end_h, 201) if t_eval is None else np.asarray(t_eval, dtype=float)

    sol = solve_ivp(
        lambda t, y: derivatives(t, y, params, **kwargs),
        (0.0, float(t_end_h)),
        y0,
        method="Radau",
        t_eval=t_eval,
        rtol=rtol,
        atol=atol,
    )
    if sol.status != 0:
        raise FermentationIntegrationFailed(
            f"fermentation {mode} integration expected to reach t = {t_end_h} h, "
            f"stopped at t = {sol.t[-1] if sol.t.size else 0.0} h: {sol.message}"
        )
    cols = ["x_g_l", "s_g_l", "p_g_l"] + (["v_l"] if mode == "fed_batch" else [])
    out = pd.DataFrame({"t_h": sol.t, **{c: sol.y[i] for i, c in enumerate(cols)}})
    mu, qp, qs = specific_rates(out["x_g_l"].to_numpy(), out["s_g_l"].to_numpy(), out["p_g_l"].to_numpy(), params)
    out["mu_h"], out["qp_g_g_h"], out["qs_g_g_h"] = mu, qp, qs
    return out


# --------------------------------------------------------------------------
# Chemostat
# --------------------------------------------------------------------------


def _jacobian(y: np.ndarray, params: FermentationParams, d: float, sf: float) -> np.ndarray:
    # Central differences of the chemostat right-hand side (3 states).
    jac = np.empty((3, 3))
    for j in range(3):
        h = 1e-7 * max(abs(y[j]), 1.0)
        up, dn = y.copy(), y.copy()
        up[j] += h
        dn[j] -= h
        jac[:, j] = (derivatives(0.0, up, params, dilution_h=d, s_feed_g_l=sf)
                     - derivatives(0.0, dn, params, dilution_h=d, s_feed_g_l=sf)) / (2 * h)
    return jac


def _nontrivial_states(params: FermentationParams, d: float, sf: float) -> list[np.ndarray]:
    # On a non-trivial steady state mu = D + kd, so qp and qs depend on S alone:
    # X(S) = D (Sf - S)/qs(S), P(S) = qp(S) X(S)/D; the root of mu(S, P(S)) - (D + kd) gives S.
    pr = params
    m = d + pr.kd_h

    def state(s: np.ndarray | float) -> tuple[Any, Any]:
        f_s = s / (pr.ks_g_l + s)
        qp = pr.alpha_g_g * m + pr.beta_g_g_h * f_s
        qs = m / pr.yxs_g_g + qp / pr.yps_g_g + pr.ms_g_g_h * f_s
        x = d * (sf - s) / qs
        return x, qp * x / d

    def residual(s: np.ndarray | float) -> Any:
        x, p = state(s)
        return specific_rates(x, s, p, pr)[0] - m

    grid = np.unique(np.concatenate([sf * np.geomspace(1e-12, 1.0, 4000), np.linspace(0.0, sf, 4001)[1:]]))
    grid = grid[grid < sf]
    g = residual(grid)
    roots = []
    for i in np.nonzero(np.sign(g[:-1]) * np.sign(g[1:]) < 0)[0]:
        s = brentq(lambda v: float(residual(v)), grid[i], grid[i + 1], xtol=1e-15, rtol=4 * np.finfo(float).eps)
        x, p = state(s)
        roots.append(np.array([x, s, p], dtype=float))
    return roots


def chemostat_steady_state(params: FermentationParams, dilution_h: float, s_feed_g_l: float) -> dict[str, Any]:
    """Stable steady state of the chemostat (constant volume, sterile feed of substrate only).

    Non-trivial steady states satisfy mu(S*, P*) = D + kd with X*, P* from the
    substrate and product balances; they are found by scanning S in (0, Sf)
    and refining each sign change with Brent's method. For Monod kinetics
    without product inhibition, maintenance or death this is the textbook
    S* = Ks D/(mu_max - D), X* = Yxs_obs (Sf - S*) [ShulerKargi2002].

    With Haldane substrate inhibition two non-trivial roots can exist: the one
    on the rising branch of mu(S) (lower S, higher conversion) is stable, the
    other is a saddle (and washout is then stable too). Stability is decided
    by the eigenvalues of the numerical Jacobian of :func:`derivatives`; the
    stable non-trivial state with the lowest S is returned. When none exists
    the washout state (X = 0, S = Sf, P = 0) is returned with ``washout`` True.

    Returns
    -------
    dict
        ``x_g_l, s_g_l, p_g_l, mu_h`` (= D + kd, or mu(Sf) at washout),
        ``productivity_g_l_h`` (D P), ``washout`` (bool), ``stable`` (bool:
        the returned state's Jacobian eigenvalues all have negative real parts),
        ``n_nontrivial`` (number of non-trivial roots found).
    """
    if not (math.isfinite(dilution_h) and dilution_h > 0):
        raise ValueError(f"dilution_h expected a finite number > 0, found {dilution_h!r}")
    if not (math.isfinite(s_feed_g_l) and s_feed_g_l > 0):
        raise ValueError(f"s_feed_g_l expected a finite number > 0, found {s_feed_g_l!r}")
    d, sf = float(dilution_h), float(s_feed_g_l)
    roots = _nontrivial_states(params, d, sf)
    for y in sorted(roots, key=lambda r: r[1]):
        if y[0] > 0 and np.all(np.linalg.eigvals(_jacobian(y, params, d, sf)).real < 0):
            return {
                "x_g_l": float(y[0]), "s_g_l": float(y[1]), "p_g_l": float(y[2]),
                "mu_h": d + params.kd_h, "productivity_g_l_h": d * float(y[2]),
                "washout": False, "stable": True, "n_nontrivial": len(roots),
            }
    washed = np.array([0.0, sf, 0.0])
    stable = bool(np.all(np.linalg.eigvals(_jacobian(washed, params, d, sf)).real < 0))
    mu_sf = float(specific_rates(0.0, sf, 0.0, params)[0])
    return {
        "x_g_l": 0.0, "s_g_l": sf, "p_g_l": 0.0, "mu_h": mu_sf, "productivity_g_l_h": 0.0,
        "washout": True, "stable": stable, "n_nontrivial": len(roots),
    }


def washout_dilution_h(params: FermentationParams, s_feed_g_l: float) -> float:
    """Largest dilution rate (1/h) with a stable non-trivial chemostat steady state.

    Without substrate inhibition (or with ``Ks Ki`` >= Sf**2, i.e. mu rising
    up to Sf) it is the transcritical point D_c = mu(Sf, P = 0) - kd
    [ShulerKargi2002]. With Haldane kinetics peaking below Sf the non-trivial
    branch survives to a saddle-node above mu(Sf) - kd (bistable range); that
    point is found by bisection on :func:`chemostat_steady_state`.
    """
    if not (math.isfinite(s_feed_g_l) and s_feed_g_l > 0):
        raise ValueError(f"s_feed_g_l expected a finite number > 0, found {s_feed_g_l!r}")
    mu_sf = float(specific_rates(0.0, s_feed_g_l, 0.0, params)[0])
    s_peak = math.sqrt(params.ks_g_l * params.ki_g_l) if math.isfinite(params.ki_g_l) else math.inf
    if s_peak >= s_feed_g_l:
        return max(mu_sf - params.kd_h, 0.0)
    lo = max(mu_sf - params.kd_h, 0.0)
    hi = params.mu_max_h
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if mid > 0 and not chemostat_steady_state(params, mid, s_feed_g_l)["washout"]:
            lo = mid
        else:
            hi = mid
    return lo


# --------------------------------------------------------------------------
# Closed forms and the link to the twin
# --------------------------------------------------------------------------


def integrated_batch_monod_time(params: FermentationParams, x0: float, s0: float, s: Any) -> Any:
    """Time (h) at which batch Monod growth has brought the substrate from ``s0`` to ``s`` (g/L).

    Closed-form solution of dS/dt = -mu_max S X/(Y (Ks + S)) with
    X = X0 + Y (S0 - S) [ShulerKargi2002, ch. 6]::

        mu_max t = (1 + Ks Y/(X0 + Y S0)) ln(X/X0) - Ks Y/(X0 + Y S0) ln(S/S0)

    Valid without substrate or product inhibition, maintenance, death or
    non-growth product formation (raises ValueError otherwise). Growth-
    associated product formation is allowed: it only lowers the observed
    yield to Y = 1/(1/Yxs + alpha/Yps).
    """
    pr = params
    if math.isfinite(pr.ki_g_l) or math.isfinite(pr.p_max_g_l) or pr.ms_g_g_h or pr.kd_h or pr.beta_g_g_h:
        raise ValueError(
            "integrated_batch_monod_time expected ki_g_l = p_max_g_l = inf and ms_g_g_h = kd_h = beta_g_g_h = 0, "
            f"found {pr!r}"
        )
    y = 1.0 / (1.0 / pr.yxs_g_g + pr.alpha_g_g / pr.yps_g_g)
    s = np.asarray(s, dtype=float)
    a = x0 + y * s0
    x = a - y * s
    c = pr.ks_g_l * y / a
    return ((1.0 + c) * np.log(x / x0) - c * np.log(s / s0)) / pr.mu_max_h


def max_specific_uptake_g_g_h(params: FermentationParams) -> float:
    """Specific substrate uptake at S >> Ks and P = 0 (g/(g h)), the ``q`` of the twin's ``theta = tau q X``."""
    p = params
    return p.mu_max_h / p.yxs_g_g + (p.alpha_g_g * p.mu_max_h + p.beta_g_g_h) / p.yps_g_g + p.ms_g_g_h


def folded_uptake_g_l_h(params: FermentationParams, x_g_l: float) -> float:
    """``q X`` (g/(L h)): the twin's folded constant ``theta / tau`` for a biomass concentration ``x_g_l``."""
    return max_specific_uptake_g_g_h(params) * float(x_g_l)


def implied_biomass_g_l(params: FermentationParams, theta_g_l: float, tau_h: float) -> float:
    """Active biomass (g/L) that makes this model's uptake equal the twin's ``theta`` at residence time ``tau_h``."""
    return float(theta_g_l) / (float(tau_h) * max_specific_uptake_g_g_h(params))


def twin_params(bio_params: Any = None, sugar: Literal["glucose", "pentose"] = "glucose",
                **overrides: float) -> FermentationParams:
    """FermentationParams whose uptake law is the twin's :func:`~models.biorefinery.physics.monod_cstr` for one sugar.

    Ks = ``monod_k_<sugar>``, Pmax = ``ethanol_inhibition_g_l`` with n = 1,
    no substrate inhibition, maintenance, death or non-growth production;
    Yps = 0.5114 g/g [GayLussac]; ``alpha`` and ``Yxs`` reproduce the twin's
    overall yields per g of sugar consumed: ethanol 0.5114 x to_ethanol/consumed
    and cells to_cells/consumed [Humbird2011] (the rest, by-products, counts
    as substrate for growth). ``mu_max_h`` is this module's default unless
    overridden (the twin identifies only mu_max X).
    """
    from models.biorefinery import physics

    bp = physics.DEFAULT if bio_params is None else bio_params
    if sugar == "glucose":
        ks, to_e, to_x, consumed = bp.monod_k_glucose, bp.glucose_to_ethanol, bp.glucose_to_cells, bp.glucose_consumed
    elif sugar == "pentose":
        ks, to_e, to_x, consumed = bp.monod_k_pentose, bp.xylose_to_ethanol, bp.xylose_to_cells, bp.xylose_consumed
    else:
        raise ValueError(f"sugar expected 'glucose' or 'pentose', found {sugar!r}")
    yield_p = physics.ETHANOL_YIELD_THEORETICAL * to_e / consumed
    yield_x = to_x / consumed
    alpha = yield_p / yield_x
    yps = ETHANOL_YIELD_THEORETICAL_G_G
    yxs = 1.0 / (1.0 / yield_x - alpha / yps)
    base = dict(ks_g_l=ks, ki_g_l=math.inf, p_max_g_l=bp.ethanol_inhibition_g_l, inhibition_exponent=1.0,
                yxs_g_g=yxs, alpha_g_g=alpha, beta_g_g_h=0.0, yps_g_g=yps, ms_g_g_h=0.0, kd_h=0.0)
    return FermentationParams(**{**base, **overrides})
