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

Layout (a package on the shared engine, :mod:`models.engine`): ``physics``
(parameters in, numbers out; closed-loop integration: profiles in,
trajectories out) -> ``tags`` (INFO, TAGS, ACTIVITY) -> ``scenarios`` (seeded
schedule of episodes, episode details, day inputs) -> ``simulator`` (the day
simulator and ``TYPE``, its engine binding: ``schedule``, ``simulate_true``,
``simulate``). This module re-exports the API.
"""

from __future__ import annotations

from models.base import forward_to
from models.cstr import physics, tags, scenarios, simulator
from models.cstr.physics import (
    CSTRParams,
    DEFAULT,
    DEFAULT_PARAMS,
    DEFAULT_TUNING,
    Interlock,
    LoopInputs,
    LoopState,
    PITuning,
    SteadyState,
    Trajectory,
    analyse_steady_states,
    balances,
    closed_loop_steady_state,
    energy_residual,
    fold_points,
    initial_state,
    jacobian,
    multiplicity_range,
    rate_constant,
    run_closed_loop,
    steady_states,
)
from models.cstr.tags import (
    ACTIVITY,
    INFO,
    TAGS,
)
from models.cstr.scenarios import (
    GRADES_K,
    NOMINAL_SETPOINT_K,
)
from models.cstr.simulator import (
    TYPE,
    schedule,
    simulate,
    simulate_true,
)

__all__ = [
    "TYPE",
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


#: Module-level helpers of the parts (``models.cstr._x``), for callers and tests that used the flat module.
__getattr__ = forward_to(__name__, physics, tags, scenarios, simulator)
