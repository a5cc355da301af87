"""The solvers of Nexus' optimizations: IPOPT through Pyomo's ``cyipopt`` interface, and HiGHS.

IPOPT route (shared STACK.md): no Debian package ships an ``ipopt`` executable, so Pyomo's
``ipopt`` solver is unavailable. Pyomo's ``cyipopt`` solver calls IPOPT in-process through
PyPI ``cyipopt`` (compiled against Debian's ``coinor-libipopt-dev``) and evaluates the model
through PyNumero's ASL library, which ``make install`` builds into
``$VENV/share/pyomo/lib``. HiGHS (PyPI ``highspy``) solves the LP / MILP / QP parts.

:func:`solve` is the only way Nexus runs a solver: it raises
:class:`~nexus.errors.InfeasibleOptimization` with the solver's termination condition and
message unless the solver proved the point optimal (or locally optimal), and loads the
solution into the model only then.

Examples
--------
>>> import pyomo.environ as pyo
>>> m = pyo.ConcreteModel()
>>> m.x = pyo.Var(bounds=(0, 4))
>>> m.obj = pyo.Objective(expr=(m.x - 1) ** 2)
>>> solve(m, nlp_solver(), stage_name="demo").termination
'optimal'
>>> print(round(m.x.value, 6))
1.0
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pyomo.environ as pyo
from pyomo.contrib.pynumero.asl import AmplInterface
from pyomo.opt import TerminationCondition

import optimization
from nexus.errors import ConfigError, InfeasibleOptimization

__all__ = [
    "ACCEPTED_TERMINATIONS",
    "NLP_OPTIONS",
    "SolveReport",
    "asl_library",
    "check_available",
    "lp_solver",
    "nlp_solver",
    "solve",
]

#: IPOPT options of :func:`nlp_solver` (IPOPT's defaults except where stated).
NLP_OPTIONS: dict[str, object] = {
    "tol": 1e-8,  # IPOPT's default
    "max_iter": 500,  # plant setpoint problems converge in tens of iterations; fail fast
    "print_level": 0,  # Pyomo captures the output anyway; keep task logs short
    "sb": "yes",  # no IPOPT banner
    "linear_solver": "mumps",  # the one linear solver in Debian's IPOPT build
}

#: Terminations :func:`solve` accepts; anything else raises InfeasibleOptimization.
ACCEPTED_TERMINATIONS = frozenset({TerminationCondition.optimal, TerminationCondition.locallyOptimal})

_SETUP_HINT = "run `make install` (Debian coinor-libipopt-dev and libamplsolver-dev, PyPI cyipopt, PyNumero's ASL build)"


def asl_library() -> Path | None:
    """Path of the PyNumero ASL library Pyomo will load, or None if there is none.

    Pyomo looks in ``$PYOMO_CONFIG_DIR/lib``; if Pyomo was imported before this package set
    ``PYOMO_CONFIG_DIR`` (it reads the variable only once), the library of the project's
    environment is pointed to explicitly.
    """
    if not AmplInterface.available():
        built = Path(optimization.PYOMO_CONFIG_DIR) / "lib" / "libpynumero_ASL.so"
        if not built.is_file():
            return None
        AmplInterface.libname = str(built)
    return Path(AmplInterface.libname)


def check_available() -> None:
    """Raise :class:`~nexus.errors.ConfigError` unless IPOPT (cyipopt) and HiGHS can run here."""
    missing = []
    if not pyo.SolverFactory("cyipopt").available(exception_flag=False):
        missing.append("cyipopt (PyPI, built against Debian's IPOPT)")
    if asl_library() is None:
        missing.append(
            f"PyNumero's ASL library (libpynumero_ASL.so in {os.environ.get('PYOMO_CONFIG_DIR')}/lib)"
        )
    if not pyo.SolverFactory("highs").available(exception_flag=False):
        missing.append("highspy (PyPI)")
    if missing:
        raise ConfigError(f"optimization solvers expected, missing: {'; '.join(missing)}; {_SETUP_HINT}")


def nlp_solver(*, tol: float = 1e-8, max_iter: int = 500, **options: object):
    """IPOPT through Pyomo's ``cyipopt`` solver with :data:`NLP_OPTIONS`.

    Parameters
    ----------
    tol : float
        IPOPT's convergence tolerance (scaled NLP error).
    max_iter : int
        Iteration limit; reaching it is a failure (:func:`solve` raises).
    **options
        Further IPOPT options, e.g. ``acceptable_tol``; they override the defaults.
    """
    check_available()
    return pyo.SolverFactory("cyipopt", options={**NLP_OPTIONS, "tol": tol, "max_iter": max_iter, **options})


def lp_solver(**options: object):
    """HiGHS through Pyomo's ``highs`` solver (LP, MILP and convex QP); ``options`` go to HiGHS."""
    solver = pyo.SolverFactory("highs")
    if not solver.available(exception_flag=False):
        raise ConfigError(f"HiGHS expected, highspy is not installed; {_SETUP_HINT}")
    if options:
        solver.options.update(options)
    return solver


@dataclass(frozen=True)
class SolveReport:
    """Outcome of one accepted solve.

    Attributes
    ----------
    stage : str
        The ``stage_name`` given to :func:`solve`.
    solver : str
        Pyomo's name of the solver (``cyipopt``, ``highs``).
    termination : str
        Pyomo's termination condition (``optimal`` or ``locallyOptimal``).
    message : str
        The solver's own message.
    objective : float or None
        Value of the active objective, None for a square (simulation) problem.
    wall_time_s : float
        Wall time of the solve call, s (model hand-over included).
    """

    stage: str
    solver: str
    termination: str
    message: str
    objective: float | None
    wall_time_s: float


def _message(results) -> str:
    info = results.solver
    for key in ("message", "termination_message"):
        msg = getattr(info, key, None)
        if msg is not None and str(msg) != "<undefined>":
            return msg.decode() if isinstance(msg, bytes) else str(msg)
    return ""


def solve(model: pyo.Block, solver, *, stage_name: str, tee: bool = False) -> SolveReport:
    """Solve ``model`` and load the solution, or raise with the solver's verdict.

    Parameters
    ----------
    model : pyomo Block
        Square (no objective) or optimization problem.
    solver : Pyomo solver
        From :func:`nlp_solver` or :func:`lp_solver`.
    stage_name : str
        Named in the report and in the error, e.g. ``"cstr: initialize"``.
    tee : bool
        Stream the solver's log.

    Raises
    ------
    nexus.errors.InfeasibleOptimization
        The termination is not in :data:`ACCEPTED_TERMINATIONS` (infeasible, iteration limit,
        restoration failure ...). The message holds the termination condition and the solver's
        message; the model keeps the values it had before the solve.
    """
    name = getattr(solver, "name", None) or ("cyipopt" if "CyIpopt" in type(solver).__name__ else type(solver).__name__)
    objectives_before = {id(o) for o in model.component_objects(pyo.Objective, descend_into=True)}
    start = time.perf_counter()
    try:
        # load_solutions=False: nothing reaches the model before the termination is checked (and
        # Pyomo's HiGHS interface would raise its own error on an infeasible problem).
        results = solver.solve(model, load_solutions=False, tee=tee)
    finally:
        # Pyomo 6.10's cyipopt interface adds a constant objective `_obj` to a square problem
        # and fails to remove it again; leave the model as it was.
        for objective in list(model.component_objects(pyo.Objective, descend_into=True)):
            if id(objective) not in objectives_before:
                objective.parent_block().del_component(objective)
    wall = time.perf_counter() - start
    condition = results.solver.termination_condition
    message = _message(results)
    if condition not in ACCEPTED_TERMINATIONS:
        raise InfeasibleOptimization(
            f"{stage_name}: expected an optimal solution from {name}, found termination "
            f"'{condition}' ({message or 'no message'})"
        )
    model.solutions.load_from(results)
    objectives = list(model.component_data_objects(pyo.Objective, active=True))
    objective = float(pyo.value(objectives[0])) if len(objectives) == 1 else None
    return SolveReport(stage_name, str(name), str(condition), message, objective, wall)
