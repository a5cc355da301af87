"""Generic core of the receding-horizon problems (NMPC and MHE) on ``pyomo.dae``.

A problem is a Pyomo model on a ContinuousSet ``t`` over the horizon, discretised by Radau
collocation with one finite element per sampling interval, and an interval set ``k`` for
piecewise-constant inputs. :class:`RecedingHorizon` gives the grid, warm start by shifting the
previous solution one interval, and a guarded solve through :func:`optimization.solvers.solve`
(a non-optimal termination is counted as a failure and left to the caller to fall back on),
recording the wall time of every solve.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pyomo.dae as dae
import pyomo.environ as pyo

from nexus.errors import ConfigError, InfeasibleOptimization
from optimization.solvers import nlp_solver, solve

__all__ = ["HorizonConfig", "RecedingHorizon", "sample_times"]


@dataclass(frozen=True)
class HorizonConfig:
    """Time grid of a receding-horizon problem.

    Attributes
    ----------
    samples : int
        Horizon (NMPC) or window (MHE) length in sampling intervals.
    dt_min : float
        Sampling interval, min.
    ncp : int
        Radau collocation points per interval (3: order 5).
    """

    samples: int = 20
    dt_min: float = 1.0
    ncp: int = 3

    def __post_init__(self) -> None:
        if self.samples < 1 or self.dt_min <= 0 or self.ncp < 1:
            raise ConfigError(f"horizon expected samples >= 1, dt_min > 0, ncp >= 1, found {self}")

    @property
    def length_min(self) -> float:
        return self.samples * self.dt_min


class RecedingHorizon:
    """Generic core of an NMPC or MHE on a ``pyomo.dae`` model.

    A subclass builds its model in :meth:`build` on ``self.t`` (a ContinuousSet over the horizon,
    discretised here with Radau collocation, one finite element per sampling interval) and
    ``self.k`` (interval index of piecewise-constant inputs). This class provides the grid,
    warm start by shifting the previous solution one interval, the guarded solve (failures are
    counted and leave the caller to fall back) and per-solve wall times.
    """

    stage_name = "receding horizon"

    def __init__(self, config: HorizonConfig, *, max_iter: int = 200) -> None:
        self.config = config
        self.solver = nlp_solver(max_iter=max_iter, tol=1e-6, acceptable_tol=1e-5)
        self.solve_times_s: list[float] = []
        self.failures = 0
        self.solved = False

    def grid(self, samples: int | None = None) -> pyo.ConcreteModel:
        """Empty model with ``t`` (ContinuousSet, discretised) and ``k`` (intervals)."""
        n = self.config.samples if samples is None else samples
        m = pyo.ConcreteModel()
        m.t = dae.ContinuousSet(bounds=(0.0, n * self.config.dt_min))
        m.k = pyo.Set(initialize=range(n), ordered=True)
        return m

    def discretize(self, m: pyo.ConcreteModel) -> None:
        """Radau collocation of every DerivativeVar of ``m`` declared so far."""
        n = len(m.k)
        pyo.TransformationFactory("dae.collocation").apply_to(
            m, wrt=m.t, nfe=n, ncp=self.config.ncp, scheme="LAGRANGE-RADAU")

    def interval(self, t: float) -> int:
        """Index of the sampling interval holding time ``t`` (right-continuous at boundaries)."""
        return max(0, int(math.ceil(t / self.config.dt_min - 1e-9)) - 1)

    def shift(self, m: pyo.ConcreteModel) -> None:
        """Warm start: move every time-indexed value one interval earlier, repeat the last one."""
        dt = self.config.dt_min
        times = list(m.t)
        end = times[-1]
        lookup = {round(t, 9): t for t in times}
        for var in m.component_objects(pyo.Var, descend_into=True):
            if not var.is_indexed():
                continue
            index_set = var.index_set()
            if index_set is m.t:
                for t in times:
                    src = lookup.get(round(min(t + dt, end), 9), end)
                    if var[src].value is not None and not var[t].fixed:
                        var[t].set_value(var[src].value, skip_validation=True)
            elif index_set is m.k:
                ks = list(m.k)
                for i, k in enumerate(ks):
                    src = ks[min(i + 1, len(ks) - 1)]
                    if var[src].value is not None and not var[k].fixed:
                        var[k].set_value(var[src].value, skip_validation=True)

    def guarded_solve(self, m: pyo.ConcreteModel) -> bool:
        """Solve ``m``; record the wall time; False (and count a failure) unless optimal."""
        start = time.perf_counter()
        try:
            solve(m, self.solver, stage_name=self.stage_name)
            ok = True
        except InfeasibleOptimization:
            self.failures += 1
            ok = False
        except (ValueError, RuntimeError, ArithmeticError):  # evaluation errors inside IPOPT's callbacks
            self.failures += 1
            ok = False
        self.solve_times_s.append(time.perf_counter() - start)
        self.solved = self.solved or ok
        return ok


def sample_times(m: pyo.ConcreteModel, dt: float) -> list[float]:
    """Points of ``m.t`` on the sampling grid (0, dt, 2 dt, ...)."""
    return [t for t in m.t if abs(t / dt - round(t / dt)) < 1e-9]
