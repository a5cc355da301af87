"""The staged flow every Nexus optimization follows (IDAES / WaterTAP style).

    build -> set_conditions -> initialize -> setup_optimization -> solve -> report

* ``build()`` writes the physics: variables, equations, no data and no objective.
* ``set_conditions(...)`` fixes the inputs and setpoints of one operating point. The result is
  a *square* simulation problem: 0 degrees of freedom, checked by :meth:`StagedFlow.initialize`.
* ``initialize()`` solves that square problem (objectives and inequality constraints switched
  off), so the optimization starts from a converged, physically meaningful point.
* ``setup_optimization(...)`` unfixes the decision variables within their bounds and adds the
  objective and the operating constraints.
* ``solve()`` checks that there is something to decide (degrees of freedom > 0, one objective)
  and solves; non-optimal termination raises :class:`~nexus.errors.InfeasibleOptimization`.
* ``report()`` returns the result as a table.

Degrees of freedom follow IDAES' definition: unfixed variables that appear in active equality
constraints minus the number of active equality constraints. Variables that appear only in
inequalities or the objective, and inequality constraints, do not count.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pandas as pd
import pyomo.environ as pyo
from pyomo.common.collections import ComponentSet
from pyomo.core.expr.visitor import identify_variables

from nexus.errors import ConfigError
from optimization.solvers import SolveReport, nlp_solver, solve

__all__ = ["StagedFlow", "check_degrees_of_freedom", "degrees_of_freedom", "square_problem"]


def _equalities(block: pyo.Block) -> list:
    return [c for c in block.component_data_objects(pyo.Constraint, active=True, descend_into=True) if c.equality]


def _free_variables(block: pyo.Block) -> ComponentSet:
    return ComponentSet(v for c in _equalities(block) for v in identify_variables(c.body, include_fixed=False))


def degrees_of_freedom(block: pyo.Block) -> int:
    """Unfixed variables in active equality constraints minus active equality constraints."""
    return len(_free_variables(block)) - len(_equalities(block))


def check_degrees_of_freedom(block: pyo.Block, expected: int, *, stage_name: str) -> None:
    """Raise :class:`~nexus.errors.ConfigError` unless ``block`` has ``expected`` degrees of freedom.

    The message lists the unfixed variables, so an under-specified problem says what to fix.
    """
    dof = degrees_of_freedom(block)
    if dof != expected:
        free = sorted(v.name for v in _free_variables(block))
        raise ConfigError(
            f"{stage_name}: expected {expected} degrees of freedom, found {dof} "
            f"({len(_equalities(block))} active equalities; unfixed variables: {', '.join(free) or 'none'})"
        )


@contextlib.contextmanager
def square_problem(block: pyo.Block) -> Iterator[pyo.Block]:
    """Switch off objectives and inequality constraints for a simulation solve, then restore them."""
    off = [o for o in block.component_data_objects(pyo.Objective, active=True, descend_into=True)]
    off += [c for c in block.component_data_objects(pyo.Constraint, active=True, descend_into=True) if not c.equality]
    for component in off:
        component.deactivate()
    try:
        yield block
    finally:
        for component in off:
            component.activate()


class StagedFlow(ABC):
    """Base of an optimization in named stages; subclasses write the physics and the economics.

    Subclasses implement :meth:`build`, :meth:`set_conditions`, :meth:`setup_optimization` and
    :meth:`report`, and may override :meth:`initial_guess` (values before the square solve) and
    :meth:`solver`. :meth:`run` performs every stage in order.

    Attributes
    ----------
    name : str
        Names the flow in stage names, errors and reports.
    model : pyomo ConcreteModel or None
        Set by :meth:`build`.
    solves : list of SolveReport
        Every accepted solve, in order (``<name>: initialize``, ``<name>: solve``).
    """

    name: ClassVar[str] = "flow"

    def __init__(self) -> None:
        self.model: pyo.ConcreteModel | None = None
        self.solves: list[SolveReport] = []

    # -- stages written by each plant --------------------------------------------------------

    @abstractmethod
    def build(self) -> pyo.ConcreteModel:
        """Create ``self.model``: variables with bounds and units, equations; no objective."""

    @abstractmethod
    def set_conditions(self, **conditions: Any) -> None:
        """Fix the inputs and setpoints of one operating point (square problem)."""

    @abstractmethod
    def setup_optimization(self, **options: Any) -> None:
        """Unfix the decision variables within bounds; add objective and operating constraints."""

    @abstractmethod
    def report(self) -> pd.DataFrame:
        """The result as a table (setpoints, KPIs), compared with the initialized point."""

    # -- hooks -------------------------------------------------------------------------------

    def initial_guess(self) -> None:
        """Set starting values before the square solve (default: keep the model's values)."""

    def solver(self):
        """The solver of both solves (default: IPOPT via :func:`~optimization.solvers.nlp_solver`)."""
        return nlp_solver()

    # -- stages common to every plant -------------------------------------------------------

    def _model(self, stage: str) -> pyo.ConcreteModel:
        if self.model is None:
            raise ConfigError(f"{self.name}: {stage} expected a built model, found none (call build() first)")
        return self.model

    def initialize(self) -> SolveReport:
        """Check 0 degrees of freedom, then solve the square problem at the set conditions.

        A subclass with a ``_state()`` method (the operating point as a dict) keeps that point as
        ``self.current``: the report's ``current`` case.
        """
        stage = f"{self.name}: initialize"
        model = self._model("initialize")
        check_degrees_of_freedom(model, 0, stage_name=stage)
        self.initial_guess()
        with square_problem(model):
            report = solve(model, self.solver(), stage_name=stage)
        self.solves.append(report)
        state = getattr(self, "_state", None)
        if state is not None:
            self.current = state()
        return report

    def solve(self) -> SolveReport:
        """Solve the optimization; raises unless it has freedom, one objective and ends optimal."""
        stage = f"{self.name}: solve"
        model = self._model("solve")
        dof = degrees_of_freedom(model)
        if dof <= 0:
            raise ConfigError(f"{stage}: expected decision variables (degrees of freedom > 0), found {dof}")
        n_obj = sum(1 for _ in model.component_data_objects(pyo.Objective, active=True, descend_into=True))
        if n_obj != 1:
            raise ConfigError(f"{stage}: expected one active objective, found {n_obj} (call setup_optimization())")
        report = solve(model, self.solver(), stage_name=stage)
        self.solves.append(report)
        return report

    def run(self, conditions: Mapping[str, Any], optimization: Mapping[str, Any]) -> pd.DataFrame:
        """Every stage in order: build, set conditions, initialize, set up, solve, report."""
        self.build()
        self.set_conditions(**conditions)
        self.initialize()
        self.setup_optimization(**optimization)
        self.solve()
        return self.report()
