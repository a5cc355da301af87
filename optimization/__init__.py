"""Setpoint optimization of the plant twins with Pyomo (profit vs. CO2e under prices and limits).

Optimizers follow staged flows (build, set conditions, initialize, set up, solve, report) and
raise :class:`nexus.errors.InfeasibleOptimization` on non-optimal termination.
"""
