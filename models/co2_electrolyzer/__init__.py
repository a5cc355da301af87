"""CO2 electroreduction to formic acid / formate in a flow-electrolyzer stack.

The plant is a filter-press stack of ``n_cells`` = 40 flow cells in electrical
series, 2500 cm2 active area each (a demonstration-scale unit of this project,
about 15 kg/h of formic acid at 200 mA/cm2). Each cell has a Sn (or Bi)
gas-diffusion cathode (GDE) fed with CO2 gas on its back side and a thin
catholyte channel (0.5 M KHCO3, recirculated) on its front side, a
cation-exchange membrane (Nafion 117 type) and an IrO2/Ti anode producing O2::

    cathode  CO2 + H2O + 2 e-  -> HCOO- + OH-       (wanted, z = 2)
             2 H2O + 2 e-      -> H2 + 2 OH-         (competing H2 evolution)
    anode    H2O               -> 1/2 O2 + 2 H+ + 2 e-
    overall  CO2 + H2O -> HCOOH + 1/2 O2              (per 2 electrons)

Physics (plain functions of parameters and arrays, written with arithmetic,
``exp``, ``log`` and ``asinh`` so that they can be ported to an algebraic
modelling language)
----------------------------------------------------------------------------
* **Faraday's law**: formate rate ``N I FE / (z F)`` mol/s, z = 2,
  F = 96485.33212 C/mol (CODATA 2018, exact), M(HCOOH) = 46.025 g/mol (IUPAC
  2013 standard atomic weights: 12.011 + 2 x 1.008 + 2 x 15.999). 1000 A at
  FE = 1 give 0.85863 kg/h.
* **Equilibrium voltage** from standard Gibbs energies of formation (NBS
  tables, Wagman et al. 1982, J. Phys. Chem. Ref. Data 11 Suppl. 2):
  HCOOH(l) -361.35, H2O(l) -237.129, CO2(g) -394.359 kJ/mol give
  dG = +270.138 kJ/mol and **E0 = dG/(zF) = 1.3999 V** at 298.15 K. (The
  1.48 V sometimes quoted is the *thermoneutral* voltage of water
  electrolysis, dH/(2F) with dH = 285.83 kJ/mol; the formic-acid reaction has
  dH = 254.619 kJ/mol, i.e. a thermoneutral voltage of 1.3195 V, below E0
  because dS < 0.) E_rev(T) = (dH - T dS)/(zF), dS = (dH - dG)/298.15 K,
  heat capacities neglected (+0.27 mV/K).
* **Overpotentials**: symmetric Butler-Volmer (alpha = 0.5) for the anode (OER)
  and the lumped cathode, solved exactly for eta,
  ``eta = 2RT/F asinh(j / (2 j0))`` (Bard & Faulkner 2001, *Electrochemical
  Methods*, 2nd ed., Wiley, eq. 3.4.11 and sec. 3.4.3 for the Tafel limit);
  exchange current densities with an Arrhenius temperature dependence.
* **Ohmic loss** ``j ASR`` (membrane + catholyte gap + contacts), with the
  temperature dependence of Nafion conductivity, exp(1268 (1/T_ref - 1/T))
  (Springer, Zawodzinski & Gottesfeld 1991, J. Electrochem. Soc. 138, 2334,
  eq. 25).
* **Faradaic efficiency** FE(j): formate partial current = smooth minimum of a
  *kinetic* demand ``FE_max j (1 - exp(-j/j_on))`` (H2 evolution dominates
  at low cathode overpotential, the plateau FE_max at moderate j) and a CO2
  *mass-transfer limit* ``j_lim`` that is proportional to the mean CO2 partial
  pressure along the gas channel (Henry's law at the gas/liquid interface,
  linear diffusion film) and rises with the gas flow through the gas-side
  resistance (Leveque: k ~ u^(1/3)). The mean is the logarithmic mean of inlet
  and outlet mole fractions in Chen's approximation (J.J.J. Chen 1987, Chem.
  Eng. Sci. 42, 2488), which vanishes when the outlet is depleted, so CO2
  starvation is physical: FE can never exceed the CO2 supply. The shape
  follows Kopljar et al. 2014 (J. Appl. Electrochem. 44, 1107: Sn GDE, about
  90 % formate up to 200 mA/cm2, H2 < 3 %, then mass-transport limits and
  rising H2) and the analysis of CO2 transport in GDEs by Weng, Bell & Weber
  2018 (Phys. Chem. Chem. Phys. 20, 16973) and Burdyny & Smith 2019 (Energy
  Environ. Sci. 12, 1442). FE(formate) + FE(H2) = 1: the non-formate charge is
  lumped as H2 (minor CO, a few % on Sn, is neglected).
* **Gas balance**: unreacted CO2, H2 and the N2 diluent leave with the cathode
  gas (dry basis); O2 = N I / (4F) at the anode. No CO2 crosses the
  cation-exchange membrane and the net CO2 uptake of the buffered catholyte
  is neglected, so carbon closes exactly: CO2 in = CO2 out + formate.
* **Heat**: ``Q = I (V_stack - N V_tn)``, ``V_tn = FE dH_f/(2F) + (1-FE)
  dH_w/(2F)``; removed by the catholyte loop (stack lumped heat capacity,
  first-order), inlet temperature controlled by a chiller.
* **Catholyte pH** from the CO2/HCO3- equilibrium at the mean CO2 partial
  pressure (Henderson-Hasselbalch, pKa1 = 6.35; Henry constant of CO2
  3.3e-4 mol/(m3 Pa), d ln H / d(1/T) = 2400 K, Sander 2015, Atmos. Chem.
  Phys. 15, 4399).
* **Degradation**: with electrode (GDE) age the FE plateau and the cathode
  exchange current density decline and the ohmic resistance rises; an
  electrode (stack) replacement resets the age.

Where a number is this project's assumption, the parameter docstring says so.

Dynamics
--------
Electrochemistry is quasi-steady at a 1-min step (double-layer and gas-channel
time constants are seconds). Slow states are exact first-order
discretisations: CO2 blend concentration (3 min), stack temperature (lumped
heat capacity against catholyte flow and ambient), formate concentration in
the catholyte loop (loop volume over bleed flow), pH (5 min). The
electrochemistry and the heat balance are coupled by three fixed-point passes
(electrochemistry at the inlet temperature -> heat -> stack temperature ->
electrochemistry there -> ...): the last evaluation is within 0.015 K of the
converged temperature at the nominal catholyte flow (0.04 K at 4 m3/h; 0.1 and
0.3 mV of cell voltage) because dV/dT is only a few mV/K. :func:`steady_state` applies exactly the same passes,
so a run at constant inputs reproduces it.

Scenario and determinism
------------------------
:func:`schedule` tiles time with episodes: exactly 70 / 20 / 8 / 2 % normal /
transient / abnormal / extreme time in every 10-day block aligned to
1970-01-01 (minutes). Electrode replacement (a 6-h transient) happens once per
40-day maintenance cycle at a day and time drawn from ``(seed, cycle)`` only,
so the electrode age is a deterministic function of absolute time. Each UTC
day is simulated on its own with a 6-h warm-up over the end of the previous
day's plan, started from the steady state of its first minute: an initial
error decays by exp(-360 min / tau), < 1e-3 for every slow state at 120
mA/cm2 and above (the formate loop, tau = V/bleed, is the slowest), so the data
of a day are identical whether it is simulated alone or inside a longer window
and continuous across midnight.

Speed (measured on the 2-core CI machine): ``simulate_true`` takes about 10 ms per
simulated day (96 samples at 15 min from a 1-min internal grid over 30 h incl.
the warm-up); ``simulate`` with historian files about 17 ms per day, i.e.
about 30 s for a 5-year backfill of this plant.

Layout (a package on the shared engine, :mod:`models.engine`): ``physics``
(constants, parameters, physics, steady state, dynamics) -> ``tags`` ->
``scenarios`` (plans, episode details, day inputs) -> ``simulator`` (DCS
calculations, the day simulator and ``TYPE``, its engine binding) ->
``experiments`` (what-if). The data-driven surrogate and the hybrid twin live
in :mod:`models.co2_electrolyzer.surrogate`. This module re-exports the API.
"""

from __future__ import annotations

from models.base import forward_to
from models.co2_electrolyzer import physics, tags, scenarios, simulator, experiments
from models.co2_electrolyzer.physics import (
    CO2ElectrolyzerParams,
    CellVoltage,
    DEFAULT,
    DEFAULT_PARAMS,
    DG_FORMATE,
    DH_FORMATE,
    F,
    M_CO2,
    M_HCOOH,
    NOMINAL,
    OperatingPoint,
    R,
    SteadyState,
    area_specific_resistance,
    butler_volmer_current,
    bv_overpotential,
    catholyte_ph,
    cell_voltage,
    co2_limiting_current,
    electrode_state,
    exchange_current_density,
    faraday_rate_mol_s,
    formate_partial_current,
    formic_acid_rate_kg_h,
    kinetic_formate_current,
    mean_mole_fraction,
    nm3_h_to_mol_s,
    reversible_voltage,
    solve_formate_current,
    specific_energy_kwh_kg,
    standard_cell_potential,
    steady_state,
    tafel_overpotential,
    thermoneutral_voltage,
)
from models.co2_electrolyzer.tags import (
    ACTIVITY,
    CALC_SOURCES,
    INDEPENDENT_TAGS,
    INFO,
    PLANT_ID,
    TAGS,
)
from models.co2_electrolyzer.scenarios import (
    GRADES,
    electrode_age_h,
)
from models.co2_electrolyzer.simulator import (
    TYPE,
    schedule,
    simulate,
    simulate_true,
)
from models.co2_electrolyzer.experiments import (
    CO2_FLOW_MAX_NM3_H,
    CURRENT_RAMP_A_PER_MIN,
    what_if,
)
from models.co2_electrolyzer.surrogate import (
    DEFAULT_SURROGATE_INPUTS,
    DEFAULT_SURROGATE_OUTPUTS,
    HybridTwin,
    MechanisticTwin,
    Surrogate,
    SurrogateMetrics,
    VARIABLES,
    check_surrogate_inputs,
    train_surrogate,
)

__all__ = [
    "TYPE",
    "ACTIVITY",
    "CALC_SOURCES",
    "CO2_FLOW_MAX_NM3_H",
    "CURRENT_RAMP_A_PER_MIN",
    "DEFAULT",
    "DEFAULT_PARAMS",
    "DEFAULT_SURROGATE_INPUTS",
    "DEFAULT_SURROGATE_OUTPUTS",
    "DH_FORMATE",
    "DG_FORMATE",
    "F",
    "GRADES",
    "INDEPENDENT_TAGS",
    "INFO",
    "M_CO2",
    "M_HCOOH",
    "NOMINAL",
    "PLANT_ID",
    "R",
    "TAGS",
    "VARIABLES",
    "CO2ElectrolyzerParams",
    "CellVoltage",
    "HybridTwin",
    "MechanisticTwin",
    "OperatingPoint",
    "SteadyState",
    "Surrogate",
    "SurrogateMetrics",
    "area_specific_resistance",
    "butler_volmer_current",
    "bv_overpotential",
    "catholyte_ph",
    "cell_voltage",
    "check_surrogate_inputs",
    "co2_limiting_current",
    "electrode_age_h",
    "electrode_state",
    "exchange_current_density",
    "faraday_rate_mol_s",
    "formate_partial_current",
    "formic_acid_rate_kg_h",
    "kinetic_formate_current",
    "mean_mole_fraction",
    "nm3_h_to_mol_s",
    "reversible_voltage",
    "schedule",
    "simulate",
    "simulate_true",
    "solve_formate_current",
    "specific_energy_kwh_kg",
    "standard_cell_potential",
    "steady_state",
    "tafel_overpotential",
    "thermoneutral_voltage",
    "train_surrogate",
    "what_if",
]


#: Module-level helpers of the parts (``models.co2_electrolyzer._x``), for callers and tests that used the flat module.
__getattr__ = forward_to(__name__, physics, tags, scenarios, simulator, experiments)
