"""Setpoint optimization of the plant twins with Pyomo (profit vs. CO2e under prices and limits).

Optimizers follow staged flows (build, set conditions, initialize, set up, solve, report) and
raise :class:`nexus.errors.InfeasibleOptimization` on non-optimal termination.

Pyomo reads ``PYOMO_CONFIG_DIR`` once, when it is first imported, and looks there for the
PyNumero ASL library that ``make install`` builds into the project's environment. It is set
here, before any module of this package imports Pyomo, and is inherited by the processes this
one starts (Airflow task subprocesses). An explicit ``PYOMO_CONFIG_DIR`` wins.
"""

import os
import sys

#: Pyomo's configuration directory inside the project's environment (``$VENV/share/pyomo``).
PYOMO_CONFIG_DIR = os.path.join(sys.prefix, "share", "pyomo")

os.environ.setdefault("PYOMO_CONFIG_DIR", PYOMO_CONFIG_DIR)
