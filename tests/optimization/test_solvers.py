"""IPOPT (cyipopt + PyNumero ASL) and HiGHS as installed by `make install`; errors on failure.

These tests need the solvers and fail (never skip) where they are missing: CI installs them.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pyomo.environ as pyo
import pytest
from pyomo.contrib.pynumero.asl import AmplInterface

import optimization
from nexus.errors import ConfigError, InfeasibleOptimization
from optimization.flow import degrees_of_freedom
from optimization.solvers import (
    asl_library,
    check_available,
    lp_solver,
    nlp_solver,
    solve,
)

ROOT = Path(__file__).resolve().parents[2]


def test_solvers_installed_in_the_project_environment():
    check_available()
    assert asl_library() == Path(sys.prefix) / "share" / "pyomo" / "lib" / "libpynumero_ASL.so"
    assert Path(optimization.PYOMO_CONFIG_DIR) == Path(sys.prefix) / "share" / "pyomo"


def test_missing_asl_library_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(AmplInterface, "libname", None)  # as if Pyomo had found nothing
    monkeypatch.setattr(optimization, "PYOMO_CONFIG_DIR", str(tmp_path))  # and nothing was built
    with pytest.raises(ConfigError, match=r"missing: PyNumero's ASL library .*; run `make install`"):
        nlp_solver()


@pytest.mark.parametrize("pyomo_first", [False, True], ids=["package-first", "pyomo-first"])
def test_asl_library_found_in_a_fresh_process(pyomo_first):
    # An Airflow task runs in a new process that may have imported Pyomo (reading the user's
    # ~/.pyomo) before this package: the library must be found either way, and the variable
    # must reach the processes it starts.
    code = (
        ("import pyomo.environ\n" if pyomo_first else "")
        + "import os, subprocess, sys\n"
        "from optimization.solvers import asl_library\n"
        "print(asl_library())\n"
        "print(subprocess.run([sys.executable, '-c', 'import os; print(os.environ[\"PYOMO_CONFIG_DIR\"])'],"
        " capture_output=True, text=True, check=True).stdout.strip())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYOMO_CONFIG_DIR"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    library, child_config_dir = out.stdout.split()
    assert Path(library) == Path(sys.prefix) / "share" / "pyomo" / "lib" / "libpynumero_ASL.so"
    assert Path(child_config_dir) == Path(sys.prefix) / "share" / "pyomo"


# Van de Vusse reactions in a CSTR: A -> B (k1), B -> C (k2), 2A -> D (k3, rate k3 CA^2 in the
# A balance); maximise CB over the dilution rate D = F/V. J. G. van de Vusse, Chem. Eng. Sci. 19
# (1964) 994; parameter set of B. W. Bequette's Van de Vusse examples (Process Control, 2003:
# k1 = 5/6 1/min, k2 = 5/3 1/min, k3 = 1/6 L/(mol min), CAf = 10 mol/L), here per hour.
K1, K2, K3, CAF = 50.0, 100.0, 10.0, 10.0


def van_de_vusse_analytic() -> tuple[float, float, float]:
    """(D*, CA*, CB*) in closed form.

    With D = (k1 CA + k3 CA^2) / (CAf - CA) from the A balance and CB = k1 CA / (D + k2),
    dCB/dCA = 0 reduces to (k3 CAf + k1 - k2) CA^2 + 2 k2 CAf CA - k2 CAf^2 = 0.
    """
    a, b, c = K3 * CAF + K1 - K2, 2 * K2 * CAF, -K2 * CAF**2
    ca = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    d = (K1 * ca + K3 * ca**2) / (CAF - ca)
    return d, ca, K1 * ca / (d + K2)


def van_de_vusse_model() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.d = pyo.Var(bounds=(0.0, 1000.0), initialize=50.0)  # dilution rate, 1/h
    m.ca = pyo.Var(bounds=(0.0, CAF), initialize=5.0)  # mol/L
    m.cb = pyo.Var(bounds=(0.0, CAF), initialize=1.0)
    m.a_balance = pyo.Constraint(expr=m.d * (CAF - m.ca) - K1 * m.ca - K3 * m.ca**2 == 0)
    m.b_balance = pyo.Constraint(expr=-m.d * m.cb + K1 * m.ca - K2 * m.cb == 0)
    m.obj = pyo.Objective(expr=m.cb, sense=pyo.maximize)
    return m


def test_van_de_vusse_optimum_matches_the_closed_form():
    d_star, ca_star, cb_star = van_de_vusse_analytic()
    assert (d_star, cb_star) == pytest.approx((77.5255, 1.26599), abs=1e-4)  # shared STACK.md
    assert ca_star == pytest.approx(10 * (math.sqrt(6) - 2), rel=1e-12)

    m = van_de_vusse_model()
    assert degrees_of_freedom(m) == 1
    report = solve(m, nlp_solver(), stage_name="van de vusse")
    assert report.termination == "optimal" and report.solver == "cyipopt"
    assert m.d.value == pytest.approx(d_star, rel=1e-6)
    assert m.ca.value == pytest.approx(ca_star, rel=1e-6)
    assert m.cb.value == pytest.approx(cb_star, rel=1e-8)
    assert report.objective == pytest.approx(cb_star, rel=1e-8)
    assert report.wall_time_s < 2.0


def test_highs_lp_known_optimum():
    # max 3x + 4y s.t. x + 2y <= 14, 3x - y >= 0, x - y <= 2, x, y >= 0. The feasible polygon's
    # vertices are (0, 0), (2, 0), (6, 4), (2, 6) with objective 0, 6, 34, 30: optimum 34 at (6, 4).
    m = pyo.ConcreteModel()
    m.x = pyo.Var(within=pyo.NonNegativeReals)
    m.y = pyo.Var(within=pyo.NonNegativeReals)
    m.c1 = pyo.Constraint(expr=m.x + 2 * m.y <= 14)
    m.c2 = pyo.Constraint(expr=3 * m.x - m.y >= 0)
    m.c3 = pyo.Constraint(expr=m.x - m.y <= 2)
    m.obj = pyo.Objective(expr=3 * m.x + 4 * m.y, sense=pyo.maximize)
    report = solve(m, lp_solver(), stage_name="lp")
    assert report.solver == "highs" and report.termination == "optimal"
    assert (m.x.value, m.y.value, report.objective) == pytest.approx((6.0, 4.0, 34.0), abs=1e-9)


def test_infeasible_nlp_raises_with_the_solvers_message():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=0.5)
    m.y = pyo.Var(initialize=0.5)
    m.circle = pyo.Constraint(expr=m.x**2 + m.y**2 == 1)
    m.far = pyo.Constraint(expr=m.x + m.y >= 3)  # the unit circle never reaches x + y = 3
    m.obj = pyo.Objective(expr=m.x)
    with pytest.raises(InfeasibleOptimization) as err:
        solve(m, nlp_solver(), stage_name="circle")
    message = str(err.value)
    assert message.startswith("circle: expected an optimal solution from cyipopt")
    assert "'infeasible'" in message and "local infeasibility" in message  # IPOPT's own words
    assert (m.x.value, m.y.value) == (0.5, 0.5)  # nothing loaded from a failed solve
    assert not list(m.component_objects(pyo.Objective))[1:]  # no helper objective left behind


def test_iteration_limit_is_not_success():
    m = van_de_vusse_model()
    with pytest.raises(InfeasibleOptimization, match="maxIterations"):
        solve(m, nlp_solver(max_iter=2), stage_name="too few iterations")


def test_infeasible_lp_raises():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 4))
    m.need = pyo.Constraint(expr=m.x >= 5)
    m.obj = pyo.Objective(expr=m.x)
    with pytest.raises(InfeasibleOptimization, match=r"lp: .* highs, found termination 'infeasible'"):
        solve(m, lp_solver(), stage_name="lp")
    assert m.x.value is None
