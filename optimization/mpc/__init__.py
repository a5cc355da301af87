"""Economic nonlinear MPC with moving-horizon estimation (``pyomo.dae`` + IPOPT).

* :mod:`optimization.mpc.core`: the receding-horizon core (grid, Radau collocation, warm start
  by shifting, guarded solve with per-step wall times).
* :mod:`optimization.mpc.cstr`: the jacketed exothermic CSTR (jacket set point; runaway limit;
  MHE of Ca, T, Tj and UA fouling), its scenarios and the comparison with TC102's PI law.
* :mod:`optimization.mpc.fermenter`: the continuous ethanol fermenter of
  :mod:`models.biorefinery.fermentation` (dilution rate; residual-sugar spec, no washout; MHE of
  X, S, P and the culture's activity), its scenarios and the comparison with a PI on effluent sugar.
"""

from optimization.mpc.core import HorizonConfig, RecedingHorizon, sample_times
from optimization.mpc.cstr import (
    DEFAULT_PRICES,
    MEASUREMENT_TAGS,
    SCENARIOS,
    ClosedLoopResult,
    CSTREstimate,
    CSTRMeasurement,
    CSTRMHE,
    CSTRNMPC,
    Scenario,
    compare_with_pi,
    make_scenario,
    measurement_noise,
    plant_step,
    predict_open_loop,
    run_nmpc,
    run_pi,
    run_pi_measured,
    runaway_limit_at,
)
from optimization.mpc.fermenter import (
    FERMENTER_SCENARIOS,
    FermenterMHE,
    FermenterNMPC,
    FermenterPrices,
    compare_fermenter_with_pi,
    make_fermenter_scenario,
)

__all__ = [
    "DEFAULT_PRICES",
    "FERMENTER_SCENARIOS",
    "FermenterMHE",
    "FermenterNMPC",
    "FermenterPrices",
    "compare_fermenter_with_pi",
    "make_fermenter_scenario",
    "MEASUREMENT_TAGS",
    "SCENARIOS",
    "CSTREstimate",
    "CSTRMeasurement",
    "CSTRMHE",
    "CSTRNMPC",
    "ClosedLoopResult",
    "HorizonConfig",
    "RecedingHorizon",
    "Scenario",
    "compare_with_pi",
    "make_scenario",
    "measurement_noise",
    "plant_step",
    "predict_open_loop",
    "run_nmpc",
    "run_pi",
    "run_pi_measured",
    "runaway_limit_at",
    "sample_times",
]
