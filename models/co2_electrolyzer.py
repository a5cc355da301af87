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

Layout: constants and parameters -> physics -> steady state -> dynamics ->
scenario -> data binding (tags, ``simulate_true``, ``simulate``) -> what-if.
The data-driven surrogate and the hybrid twin live in
:mod:`models._co2_electrolyzer_surrogate` and are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from models import historian
from models.base import SENSOR_FAULT_LABELS, ActivityStream, Episode, PlantInfo, TagSpec
from models.engine import DayContext, Item, PlantType, integerize, split

__all__ = [
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

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

#: Faraday constant, C/mol (CODATA 2018, exact: N_A e).
F = 96485.33212
#: Molar gas constant, J/(mol K) (CODATA 2018, exact).
R = 8.314462618
#: Electrons per formate / HCOOH.
Z = 2
#: Molar masses, kg/mol (IUPAC 2013 standard atomic weights, conventional values).
M_HCOOH = 46.025e-3
M_CO2 = 44.009e-3
M_KHCO3 = 100.115e-3
M_H2O = 18.015e-3
#: Molar volume of an ideal gas at 273.15 K and 101.325 kPa, m3/mol (CODATA 2018).
#: Gas flows in Nm3/h are converted with it (ideal-gas basis; real CO2 is 0.7 % denser).
V_M_NORMAL = 22.413969545e-3
P_REF_KPA = 101.325
T_REF_K = 298.15
_ZERO_C = 273.15

#: Standard Gibbs energies of formation at 298.15 K, J/mol (NBS tables, Wagman et al. 1982).
DGF_HCOOH_L, DGF_H2O_L, DGF_CO2_G = -361.35e3, -237.129e3, -394.359e3
#: Standard enthalpies of formation at 298.15 K, J/mol (same source).
DHF_HCOOH_L, DHF_H2O_L, DHF_CO2_G = -424.72e3, -285.830e3, -393.509e3
#: Reaction CO2(g) + H2O(l) -> HCOOH(l) + 1/2 O2(g): dG = 270.138 kJ/mol, dH = 254.619 kJ/mol.
DG_FORMATE = DGF_HCOOH_L - DGF_H2O_L - DGF_CO2_G
DH_FORMATE = DHF_HCOOH_L - DHF_H2O_L - DHF_CO2_G
#: Reaction entropy from dG and dH at 298.15 K, J/(mol K) (-52.05; S0 values give -52.1).
DS_FORMATE = (DH_FORMATE - DG_FORMATE) / T_REF_K
#: Water splitting H2O(l) -> H2 + 1/2 O2: dH = 285.830 kJ/mol (thermoneutral 1.4812 V).
DH_WATER = -DHF_H2O_L


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CO2ElectrolyzerParams:
    """Stack, electrochemistry, degradation and balance-of-plant parameters.

    Values marked *assumption* are this project's choices for a
    demonstration-scale Sn-GDE formate stack, consistent with the published
    behaviour cited in the module docstring; they are the parameters a
    calibration would estimate.

    Attributes
    ----------
    n_cells : int
        Cells in electrical series, -. Assumption: 40.
    cell_area_cm2 : float
        Active (geometric) area per cell, cm2. Assumption: 2500 (0.25 m2).
    rated_current_a : float
        Stack current rating, A (300 mA/cm2). Assumption: 750.
    fe_max : float
        Formate FE plateau of a fresh cathode, -. Assumption 0.92, from the
        ~90 % with H2 < 3 % reported up to 200 mA/cm2 on Sn GDEs by Kopljar
        et al. 2014 (J. Appl. Electrochem. 44, 1107).
    j_onset_ma_cm2 : float
        Current-density scale of the rise of formate selectivity over H2,
        mA/cm2. Assumption: 20 (FE reaches 85 % of the plateau at ~40 mA/cm2).
    j_lim_ref_ma_cm2 : float
        CO2-transport-limited formate partial current at pure CO2, 101.325 kPa
        and the reference gas flow, mA/cm2. Assumption: 420, which puts FE at
        ~89 % at 200 mA/cm2 and ~84 % at 300 mA/cm2 (decline above
        200 mA/cm2 as in Kopljar et al. 2014).
    mt_sharpness : float
        Exponent n of the smooth minimum ``jk jl / (jk^n + jl^n)^(1/n)``, -.
        Assumption: 3 (n = 1 is the Koutecky-Levich harmonic sum, which has no
        plateau; large n is a hard minimum).
    mt_gas_side_fraction : float
        Share of the CO2 mass-transfer resistance on the gas-channel side at
        the reference flow, -. Assumption: 0.3 (the rest: GDL and catalyst-layer
        liquid film, flow-independent).
    mt_flow_ref_nm3_h_per_cell : float
        Reference gas flow per cell for ``j_lim_ref``, Nm3/h. Assumption: 0.75
        (30 Nm3/h for the stack).
    cathode_pressure_kpa : float
        Cathode gas pressure (absolute), kPa. Assumption: 101.325.
    alpha : float
        Transfer coefficient of both electrodes (symmetric Butler-Volmer), -.
        0.5, the usual value for a rate-determining first electron transfer
        (Bard & Faulkner 2001, sec. 3.3); it gives a Tafel slope of
        2.303 x 2RT/F = 118 mV/decade at 25 degC.
    j0_anode_ma_cm2 : float
        Apparent OER exchange current density at ``t_ref_k``, mA/cm2.
        Assumption: 0.1 (eta_OER ~ 0.41 V at 200 mA/cm2, 40 degC).
    ea_anode_j_mol : float
        Activation energy of j0_anode, J/mol. Assumption: 40e3.
    j0_cathode_ma_cm2 : float
        Apparent exchange current density of the lumped cathode (CO2R + HER)
        at ``t_ref_k``, mA/cm2. Assumption: 1e-4 (|eta_c| ~ 0.78 V at
        200 mA/cm2, i.e. about -1.0 V vs RHE for formate on Sn).
    ea_cathode_j_mol : float
        Activation energy of j0_cathode, J/mol. Assumption: 30e3.
    asr_ohm_cm2 : float
        Area-specific ohmic resistance at ``t_ref_k`` (Nafion 117 membrane
        ~0.2 plus the catholyte gap and contacts), ohm cm2. Assumption: 2.0.
    asr_activation_k : float
        Temperature coefficient of the conductivity, K: 1268 (Springer et al.
        1991, Nafion).
    t_ref_k : float
        Reference temperature of j0 and ASR, K. 313.15 (40 degC, nominal).
    fe_decay_per_kh : float
        Relative loss of the FE plateau per 1000 h of electrode age, -.
        Assumption: 0.04.
    j0_cathode_decay_h : float
        e-folding time of the cathode exchange current density with age, h.
        Assumption: 3000 (+20 mV after 1000 h).
    asr_growth_per_kh : float
        Relative ASR increase per 1000 h of electrode age, -. Assumption: 0.10.
    catholyte_flow_m3_h : float
        Catholyte recirculation through the stack, m3/h. Assumption: 6.0.
    catholyte_density_kg_m3 : float
        0.5 M KHCO3, kg/m3. Assumption: 1030.
    catholyte_cp_kj_kg_k : float
        Specific heat of the catholyte, kJ/(kg K). Assumption: 3.95 (water
        4.18, lowered for the dissolved salt).
    stack_heat_capacity_kj_k : float
        Lumped heat capacity of the stack incl. hold-up, kJ/K. Assumption: 600.
    ambient_ua_kw_k : float
        Heat loss coefficient to ambient, kW/K. Assumption: 0.05.
    ambient_temp_c : float
        Ambient temperature, degC. Assumption: 20.
    co2_standby_nm3_h : float
        CO2 flow kept through the cathodes while the stack is de-energised
        (blanketing), Nm3/h. Assumption: 2.0.
    dp_ref_kpa : float
        Cathode gas-side pressure drop at ``dp_ref_flow_nm3_h``, kPa.
        Assumption: 6.0.
    dp_ref_flow_nm3_h : float
        Reference flow of the pressure drop, Nm3/h. 30.
    dp_exponent : float
        Flow exponent of the pressure drop, -. Assumption: 1.8 (serpentine
        channels, transitional flow).
    khco3_mol_l : float
        KHCO3 concentration of the catholyte make-up, mol/L. Assumption: 0.5.
    loop_volume_l : float
        Catholyte loop hold-up (tank, piping, stack), L. Assumption: 80.
    bleed_l_per_ah : float
        Product bleed (= make-up) ratio to the stack current, L/(h A).
        Assumption: 0.30 (~100 g/L formate as HCOOH at FE 0.9).
    pka1 : float
        First dissociation constant of carbonic acid at 25 degC, -: 6.35
        (Harned & Davis 1943, J. Am. Chem. Soc. 65, 2030).
    henry_co2_mol_m3_pa : float
        Henry solubility of CO2 at 298.15 K, mol/(m3 Pa): 3.3e-4 (Sander 2015).
    henry_co2_dlnh_k : float
        d ln H / d(1/T) of CO2, K: 2400 (Sander 2015).
    ph_co2_floor_mol_l : float
        Dissolved-CO2 floor representing carbonate buffering at CO2
        depletion, mol/L. Assumption: 1e-4 (caps pH near 10).
    tau_mix_min, tau_ph_min : float
        Time constants of the CO2/N2 blend at the stack inlet and of the pH
        probe/loop mixing, min. Assumptions: 3 and 5.
    rectifier_efficiency : float
        AC->DC efficiency of the rectifier, -. Assumption: 0.96.
    bop_kw : float
        Balance-of-plant electricity with pumps running (catholyte and
        anolyte pumps, MFCs, analysers), kW. Assumption: 3.0.
    chiller_cop : float
        Coefficient of performance of the catholyte chiller, -. Assumption: 4.
    """

    n_cells: int = 40
    cell_area_cm2: float = 2500.0
    rated_current_a: float = 750.0
    fe_max: float = 0.92
    j_onset_ma_cm2: float = 20.0
    j_lim_ref_ma_cm2: float = 420.0
    mt_sharpness: float = 3.0
    mt_gas_side_fraction: float = 0.3
    mt_flow_ref_nm3_h_per_cell: float = 0.75
    cathode_pressure_kpa: float = 101.325
    alpha: float = 0.5
    j0_anode_ma_cm2: float = 0.1
    ea_anode_j_mol: float = 40.0e3
    j0_cathode_ma_cm2: float = 1.0e-4
    ea_cathode_j_mol: float = 30.0e3
    asr_ohm_cm2: float = 2.0
    asr_activation_k: float = 1268.0
    t_ref_k: float = 313.15
    fe_decay_per_kh: float = 0.04
    j0_cathode_decay_h: float = 3000.0
    asr_growth_per_kh: float = 0.10
    catholyte_flow_m3_h: float = 6.0
    catholyte_density_kg_m3: float = 1030.0
    catholyte_cp_kj_kg_k: float = 3.95
    stack_heat_capacity_kj_k: float = 600.0
    ambient_ua_kw_k: float = 0.05
    ambient_temp_c: float = 20.0
    co2_standby_nm3_h: float = 2.0
    dp_ref_kpa: float = 6.0
    dp_ref_flow_nm3_h: float = 30.0
    dp_exponent: float = 1.8
    khco3_mol_l: float = 0.5
    loop_volume_l: float = 80.0
    bleed_l_per_ah: float = 0.30
    pka1: float = 6.35
    henry_co2_mol_m3_pa: float = 3.3e-4
    henry_co2_dlnh_k: float = 2400.0
    ph_co2_floor_mol_l: float = 1.0e-4
    tau_mix_min: float = 3.0
    tau_ph_min: float = 5.0
    rectifier_efficiency: float = 0.96
    bop_kw: float = 3.0
    chiller_cop: float = 4.0

    def __post_init__(self) -> None:
        if self.n_cells < 1 or self.cell_area_cm2 <= 0 or self.rated_current_a <= 0:
            raise ValueError("n_cells, cell_area_cm2 and rated_current_a must be positive")
        if not 0.0 < self.fe_max <= 1.0:
            raise ValueError(f"fe_max must lie in (0, 1], got {self.fe_max}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha}")

    @property
    def total_area_cm2(self) -> float:
        """Active area of the stack, N A, cm2."""
        return self.n_cells * self.cell_area_cm2

    @property
    def rated_current_density_ma_cm2(self) -> float:
        return 1000.0 * self.rated_current_a / self.cell_area_cm2


DEFAULT = CO2ElectrolyzerParams()
DEFAULT_PARAMS = DEFAULT

# --------------------------------------------------------------------------
# Physics: thermodynamics, Faraday, kinetics
# --------------------------------------------------------------------------


def standard_cell_potential(
    dgf_hcooh: float = DGF_HCOOH_L, dgf_h2o: float = DGF_H2O_L, dgf_co2: float = DGF_CO2_G
) -> float:
    """E0 = dG / (zF) of CO2 + H2O -> HCOOH(l) + 1/2 O2, V, from Gibbs energies of formation in J/mol.

    Default NBS values give 1.39989 V.
    """
    return (dgf_hcooh - dgf_h2o - dgf_co2) / (Z * F)


def reversible_voltage(temp_k):
    """Reversible cell voltage E_rev(T) = (dH - T dS)/(zF), V (dH, dS constant; +0.27 mV/K)."""
    return (DH_FORMATE - np.asarray(temp_k, dtype=float) * DS_FORMATE) / (Z * F)


def thermoneutral_voltage(fe):
    """Thermoneutral cell voltage for formate FE ``fe`` (rest H2), V: FE 1.3195 + (1 - FE) 1.4812."""
    fe = np.asarray(fe, dtype=float)
    return (fe * DH_FORMATE + (1.0 - fe) * DH_WATER) / (Z * F)


def faraday_rate_mol_s(current_a, fe, n_cells: int = 1):
    """Formate (= HCOOH) production, mol/s, of ``n_cells`` in series at ``current_a`` and FE ``fe``."""
    return n_cells * np.asarray(current_a, dtype=float) * np.asarray(fe, dtype=float) / (Z * F)


def formic_acid_rate_kg_h(current_a, fe, n_cells: int = 1):
    """Formic acid production, kg/h of 100 % HCOOH (1000 A, FE 1, one cell: 0.85863 kg/h)."""
    return faraday_rate_mol_s(current_a, fe, n_cells) * M_HCOOH * 3600.0


def specific_energy_kwh_kg(cell_voltage_v, fe):
    """Specific electricity use of the stack, kWh per kg HCOOH: V z F / (FE M 3.6e6)."""
    return np.asarray(cell_voltage_v, dtype=float) * Z * F / (np.asarray(fe, dtype=float) * M_HCOOH * 3.6e6)


def exchange_current_density(j0_ref, ea_j_mol: float, temp_k, t_ref_k: float):
    """Arrhenius temperature dependence j0(T) = j0_ref exp(-Ea/R (1/T - 1/T_ref)), units of ``j0_ref``."""
    return j0_ref * np.exp(-ea_j_mol / R * (1.0 / np.asarray(temp_k, dtype=float) - 1.0 / t_ref_k))


def butler_volmer_current(eta_v, j0, temp_k, alpha_a: float = 0.5, alpha_c: float = 0.5):
    """Butler-Volmer net current density (units of ``j0``) at overpotential ``eta_v`` (V, >0 anodic).

    ``j = j0 [exp(alpha_a F eta / RT) - exp(-alpha_c F eta / RT)]`` (Bard & Faulkner 2001, eq. 3.4.11,
    without mass-transfer terms).
    """
    f = F / (R * np.asarray(temp_k, dtype=float))
    eta = np.asarray(eta_v, dtype=float)
    return j0 * (np.exp(alpha_a * f * eta) - np.exp(-alpha_c * f * eta))


def bv_overpotential(j, j0, temp_k):
    """Exact inverse of the symmetric (alpha = 0.5) Butler-Volmer equation, V.

    ``eta = (2 R T / F) asinh(j / (2 j0))``; ``j`` and ``j0`` in the same units.
    """
    return 2.0 * R * np.asarray(temp_k, dtype=float) / F * np.arcsinh(np.asarray(j, dtype=float) / (2.0 * j0))


def tafel_overpotential(j, j0, temp_k, alpha: float = 0.5):
    """High-overpotential (Tafel) limit ``eta = RT/(alpha F) ln(j/j0)``, V."""
    return R * np.asarray(temp_k, dtype=float) / (alpha * F) * np.log(np.asarray(j, dtype=float) / j0)


def electrode_state(age_h, params: CO2ElectrolyzerParams = DEFAULT):
    """Degradation with electrode age (h): (FE plateau -, cathode j0 factor -, ASR factor -)."""
    age = np.maximum(np.asarray(age_h, dtype=float), 0.0)
    p = params
    fe_max = p.fe_max * (1.0 - p.fe_decay_per_kh * age / 1000.0)
    j0_factor = np.exp(-age / p.j0_cathode_decay_h)
    asr_factor = 1.0 + p.asr_growth_per_kh * age / 1000.0
    return fe_max, j0_factor, asr_factor


def area_specific_resistance(temp_k, age_h=0.0, params: CO2ElectrolyzerParams = DEFAULT, extra_ohm_cm2=0.0):
    """Ohmic ASR, ohm cm2: ``asr_ref exp(b (1/T - 1/T_ref)) * ageing + extra`` (extra: flooding, salt)."""
    p = params
    _, _, ageing = electrode_state(age_h, p)
    t = np.asarray(temp_k, dtype=float)
    return p.asr_ohm_cm2 * np.exp(p.asr_activation_k * (1.0 / t - 1.0 / p.t_ref_k)) * ageing + extra_ohm_cm2


@dataclass(frozen=True)
class CellVoltage:
    """Cell-voltage breakdown, V (arrays or floats): ``total = e_rev + eta_anode + eta_cathode + ohmic``."""

    e_rev: np.ndarray
    eta_anode: np.ndarray
    eta_cathode: np.ndarray
    ohmic: np.ndarray
    total: np.ndarray


def cell_voltage(
    j_ma_cm2, temp_k, age_h=0.0, params: CO2ElectrolyzerParams = DEFAULT, asr_extra_ohm_cm2=0.0
) -> CellVoltage:
    """Cell voltage at current density ``j_ma_cm2`` (mA/cm2) and temperature ``temp_k`` (K).

    Both electrodes follow the symmetric Butler-Volmer law solved exactly for
    |eta| (:func:`bv_overpotential`); the cathode exchange current density
    declines and the ASR rises with electrode age (:func:`electrode_state`).
    At j = 0 the voltage is E_rev (open circuit approximated by equilibrium).
    """
    p = params
    j = np.asarray(j_ma_cm2, dtype=float)
    t = np.asarray(temp_k, dtype=float)
    _, j0c_factor, _ = electrode_state(age_h, p)
    j0a = exchange_current_density(p.j0_anode_ma_cm2, p.ea_anode_j_mol, t, p.t_ref_k)
    j0c = exchange_current_density(p.j0_cathode_ma_cm2, p.ea_cathode_j_mol, t, p.t_ref_k) * j0c_factor
    e_rev = reversible_voltage(t)
    eta_a = bv_overpotential(j, j0a, t)
    eta_c = bv_overpotential(j, j0c, t)
    ohmic = j * 1e-3 * area_specific_resistance(t, age_h, p, asr_extra_ohm_cm2)
    return CellVoltage(e_rev, eta_a, eta_c, ohmic, e_rev + eta_a + eta_c + ohmic)


# --------------------------------------------------------------------------
# Physics: selectivity and CO2 mass transfer
# --------------------------------------------------------------------------


def kinetic_formate_current(j_ma_cm2, fe_max, params: CO2ElectrolyzerParams = DEFAULT):
    """Formate partial current without CO2 transport limit, mA/cm2: ``FE_max j (1 - exp(-j/j_on))``."""
    j = np.asarray(j_ma_cm2, dtype=float)
    return fe_max * j * (1.0 - np.exp(-j / params.j_onset_ma_cm2))


def mean_mole_fraction(y_in, y_out):
    """Logarithmic mean of inlet and outlet CO2 fractions, Chen (1987) form ``(a b (a+b)/2)^(1/3)``.

    Exact for a == b, zero when either end is zero (depleted outlet), within
    ~1 % of the true log mean for a/b < 10.
    """
    a = np.maximum(np.asarray(y_in, dtype=float), 0.0)
    b = np.maximum(np.asarray(y_out, dtype=float), 0.0)
    return np.cbrt(a * b * (a + b) / 2.0)


def co2_limiting_current(
    y_mean, flow_nm3_h_per_cell, params: CO2ElectrolyzerParams = DEFAULT, factor=1.0, pressure_kpa=None
):
    """CO2-transport-limited formate partial current density, mA/cm2.

    ``j_lim = j_lim_ref * factor * y_mean * p/p_ref / (w (q_ref/q)^(1/3) + 1 - w)``: proportional
    to the mean CO2 partial pressure (Henry's law + linear film), the gas-side share ``w`` of the
    resistance scaling with flow^(-1/3) (Leveque). ``factor`` < 1 models a flooded or
    salt-blocked GDE.
    """
    p = params
    pk = p.cathode_pressure_kpa if pressure_kpa is None else pressure_kpa
    q = np.maximum(np.asarray(flow_nm3_h_per_cell, dtype=float), 1e-9)
    w = p.mt_gas_side_fraction
    resistance = w * np.cbrt(p.mt_flow_ref_nm3_h_per_cell / q) + (1.0 - w)
    return p.j_lim_ref_ma_cm2 * factor * np.asarray(y_mean, dtype=float) * (pk / P_REF_KPA) / resistance


def formate_partial_current(j_kin, j_lim, sharpness: float = DEFAULT.mt_sharpness):
    """Smooth minimum ``jk jl / (jk^n + jl^n)^(1/n)`` of kinetic and transport-limited currents (mA/cm2)."""
    jk = np.maximum(np.asarray(j_kin, dtype=float), 0.0)
    jl = np.maximum(np.asarray(j_lim, dtype=float), 0.0)
    if sharpness == 3.0:  # the default: cube and cube root are much cheaper than general powers
        den = np.cbrt(jk * jk * jk + jl * jl * jl)
    else:
        den = (jk**sharpness + jl**sharpness) ** (1.0 / sharpness)
    return np.where(den > 0.0, jk * jl / np.where(den > 0.0, den, 1.0), 0.0)


def nm3_h_to_mol_s(q_nm3_h):
    """Normal gas flow (0 degC, 101.325 kPa, ideal gas), Nm3/h -> mol/s."""
    return np.asarray(q_nm3_h, dtype=float) / (V_M_NORMAL * 3600.0)


def solve_formate_current(
    j_ma_cm2,
    co2_in_mol_s,
    inert_mol_s,
    flow_nm3_h,
    params: CO2ElectrolyzerParams = DEFAULT,
    *,
    fe_max=None,
    jlim_factor=1.0,
    active_cells=None,
    iterations: int = 50,
):
    """Formate partial current consistent with the cathode gas balance (vectorised bisection).

    The unknown ``jf`` (mA/cm2) satisfies ``jf = min_smooth(j_kin, j_lim(y_mean(jf)))`` where the
    outlet gas holds ``CO2_in - r_f`` CO2, ``r_H`` H2 and the inert diluent (r = N A j / (2F)).
    ``g(jf) = jf - rhs(jf)`` is <= 0 at 0 and >= 0 at ``min(j_kin, j_supply)`` (at full supply the
    outlet is depleted and the log-mean vanishes), so bisection brackets a root; 50 halvings give
    ~1e-15 relative precision.

    Returns
    -------
    (jf mA/cm2, y_out -, y_mean -) arrays; FE = jf / j.
    """
    p = params
    n_act = p.n_cells if active_cells is None else active_cells
    fe_max = p.fe_max if fe_max is None else fe_max
    j = np.asarray(j_ma_cm2, dtype=float)
    co2 = np.maximum(np.asarray(co2_in_mol_s, dtype=float), 0.0)
    inert = np.maximum(np.asarray(inert_mol_s, dtype=float), 0.0)
    j, co2, inert = np.broadcast_arrays(j, co2, inert)
    k = np.asarray(n_act, dtype=float) * p.cell_area_cm2 * 1e-3 / (Z * F)  # mol/s per mA/cm2
    total_in = co2 + inert
    y_in = np.where(total_in > 0, co2 / np.where(total_in > 0, total_in, 1.0), 0.0)
    q_cell = np.asarray(flow_nm3_h, dtype=float) / np.asarray(n_act, dtype=float)
    jk = kinetic_formate_current(j, fe_max, p)
    j_sup = co2 / k

    def rhs(jf):
        r_f = k * jf
        r_h = k * (j - jf)
        co2_out = np.maximum(co2 - r_f, 0.0)
        tot = co2_out + inert + r_h
        y_out = np.where(tot > 0, co2_out / np.where(tot > 0, tot, 1.0), 0.0)
        y_mean = mean_mole_fraction(y_in, y_out)
        jl = co2_limiting_current(y_mean, q_cell, p, jlim_factor)
        return formate_partial_current(jk, jl, p.mt_sharpness), y_out, y_mean

    lo = np.zeros_like(j)
    hi = np.minimum(jk, j_sup)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        g = mid - rhs(mid)[0]
        pos = g > 0.0
        hi = np.where(pos, mid, hi)
        lo = np.where(pos, lo, mid)
    jf = 0.5 * (lo + hi)
    _, y_out, y_mean = rhs(jf)
    return jf, y_out, y_mean


def catholyte_ph(y_mean, temp_k, params: CO2ElectrolyzerParams = DEFAULT):
    """Catholyte pH from HCO3-/CO2(aq) at the mean CO2 partial pressure (Henderson-Hasselbalch).

    ``pH = pKa1 + log10(c_HCO3 / (H(T) p_CO2 + c_floor))``; 0.5 M KHCO3 under 1 atm CO2 at 25 degC
    gives 7.52. Ionic-strength effects and the temperature dependence of pKa1 are neglected.
    """
    p = params
    t = np.asarray(temp_k, dtype=float)
    h = p.henry_co2_mol_m3_pa * np.exp(p.henry_co2_dlnh_k * (1.0 / t - 1.0 / T_REF_K))  # mol/(m3 Pa)
    co2_aq = h * np.asarray(y_mean, dtype=float) * p.cathode_pressure_kpa * 1000.0 / 1000.0  # mol/L
    return p.pka1 + np.log10(p.khco3_mol_l / (co2_aq + p.ph_co2_floor_mol_l))


# --------------------------------------------------------------------------
# Steady state
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class OperatingPoint:
    """Operator set points: stack current (A), CO2 feed flow (Nm3/h), CO2 in feed (%), catholyte inlet (degC)."""

    current_a: float
    co2_flow_nm3_h: float
    co2_concentration_pct: float
    inlet_temp_c: float = 40.0


#: Nominal operating point: 200 mA/cm2, 30 Nm3/h of pure CO2 (3.6 x stoichiometric), 40 degC.
NOMINAL = OperatingPoint(500.0, 30.0, 100.0, 40.0)


@dataclass(frozen=True)
class SteadyState:
    """Steady state of the stack (all fields floats or equally shaped arrays).

    Units: A, mA/cm2, V, degC, kg/h (mass flows), Nm3/h (gas flows), %, kW, kWh/kg;
    ``faradaic_efficiency`` and ``co2_conversion`` are fractions.
    """

    current_a: np.ndarray
    current_density_ma_cm2: np.ndarray
    co2_flow_nm3_h: np.ndarray
    co2_concentration_pct: np.ndarray
    inlet_temp_c: np.ndarray
    electrode_age_h: np.ndarray
    active_cells: np.ndarray
    faradaic_efficiency: np.ndarray
    fe_h2: np.ndarray
    cell_temp_c: np.ndarray
    voltage: CellVoltage
    cell_voltage_v: np.ndarray
    stack_voltage_v: np.ndarray
    stack_power_kw: np.ndarray
    heat_kw: np.ndarray
    cooling_kw: np.ndarray
    formic_acid_kg_h: np.ndarray
    co2_feed_kg_h: np.ndarray
    co2_converted_kg_h: np.ndarray
    co2_out_kg_h: np.ndarray
    h2_nm3_h: np.ndarray
    o2_nm3_h: np.ndarray
    outlet_gas_nm3_h: np.ndarray
    h2_outlet_pct: np.ndarray
    co2_outlet_pct: np.ndarray
    co2_conversion: np.ndarray
    co2_stoich_ratio: np.ndarray
    y_mean: np.ndarray
    specific_energy_kwh_kg: np.ndarray
    ph: np.ndarray


def _electrochem(j, temp_k, co2_mol_s, inert_mol_s, flow_nm3_h, age_h, jlim_factor, asr_extra, active, p,
                 iterations=50):
    fe_max, _, _ = electrode_state(age_h, p)
    jf, y_out, y_mean = solve_formate_current(
        j, co2_mol_s, inert_mol_s, flow_nm3_h, p, fe_max=fe_max, jlim_factor=jlim_factor, active_cells=active,
        iterations=iterations,
    )
    jj = np.asarray(j, dtype=float)
    fe = np.where(jj > 0, jf / np.where(jj > 0, jj, 1.0), 0.0)
    v = cell_voltage(j, temp_k, age_h, p, asr_extra)
    return fe, v, y_out, y_mean


#: Passes of the electrochemistry / heat-balance fixed point (see module docstring).
_THERMAL_PASSES = 3
_PASS_ITERATIONS = 32  # bisection steps of the intermediate passes (FE to ~1e-9; only heat depends on it)


def _heat_kw(current_a, v_cell, fe, active):
    return np.asarray(current_a) * np.asarray(active) * (v_cell - thermoneutral_voltage(fe)) / 1000.0


def _thermal_coeffs(flow_m3_h, p: CO2ElectrolyzerParams):
    k_c = np.asarray(flow_m3_h, dtype=float) * p.catholyte_density_kg_m3 / 3600.0 * p.catholyte_cp_kj_kg_k
    return k_c, k_c + p.ambient_ua_kw_k  # kW/K


def _temp_eq(inlet_c, heat_kw, flow_m3_h, p, hot_spot_k=0.0):
    k_c, k = _thermal_coeffs(flow_m3_h, p)
    return (k_c * inlet_c + p.ambient_ua_kw_k * p.ambient_temp_c + heat_kw) / k + hot_spot_k


def steady_state(
    current_a,
    co2_flow_nm3_h,
    co2_concentration_pct,
    inlet_temp_c=40.0,
    *,
    catholyte_flow_m3_h=None,
    electrode_age_h=0.0,
    params: CO2ElectrolyzerParams | None = None,
    jlim_factor=1.0,
    asr_extra_ohm_cm2=0.0,
    active_cells=None,
) -> SteadyState:
    """Steady state for operator set points and feed conditions (vectorised).

    Parameters
    ----------
    current_a : float or array
        Stack (series) current, A.
    co2_flow_nm3_h : float or array
        Cathode feed gas flow (CO2 + N2 diluent), Nm3/h.
    co2_concentration_pct : float or array
        CO2 in the feed gas, mol-%.
    inlet_temp_c : float or array
        Catholyte stack-inlet temperature (chiller set point), degC.
    catholyte_flow_m3_h : float or array, optional
        Catholyte recirculation, m3/h (default ``params.catholyte_flow_m3_h``).
    electrode_age_h : float or array
        Hours since electrode replacement (degradation state).
    params : CO2ElectrolyzerParams, optional
    jlim_factor, asr_extra_ohm_cm2 : float or array
        GDE flooding / salt precipitation: CO2 transport factor (<= 1) and extra ASR (ohm cm2).
    active_cells : float or array, optional
        Cells carrying the reaction (N minus shorted cells).

    Returns
    -------
    SteadyState
        Heat balance: stack temperature from the heat generated at the inlet temperature, then the
        electrochemistry at that temperature (see module docstring).

    Examples
    --------
    >>> s = steady_state(500.0, 30.0, 100.0, 40.0)
    >>> round(float(s.faradaic_efficiency), 3), round(float(s.cell_voltage_v), 2)
    (0.894, 2.97)
    """
    p = DEFAULT if params is None else params
    cur = np.asarray(current_a, dtype=float)
    q = np.asarray(co2_flow_nm3_h, dtype=float)
    y = np.asarray(co2_concentration_pct, dtype=float) / 100.0
    t_in = np.asarray(inlet_temp_c, dtype=float)
    flow_l = p.catholyte_flow_m3_h if catholyte_flow_m3_h is None else np.asarray(catholyte_flow_m3_h, dtype=float)
    active = p.n_cells if active_cells is None else np.asarray(active_cells, dtype=float)
    age = np.asarray(electrode_age_h, dtype=float)
    j = cur * 1000.0 / p.cell_area_cm2
    n_in = nm3_h_to_mol_s(q)
    co2_in, inert = y * n_in, (1.0 - y) * n_in
    # Fixed-point passes: electrochemistry at a temperature -> heat -> stack temperature (first at the inlet).
    args = (co2_in, inert, q, age, jlim_factor, asr_extra_ohm_cm2, active, p)
    t_c = t_in
    for _ in range(_THERMAL_PASSES - 1):
        fe, v, _, _ = _electrochem(j, t_c + _ZERO_C, *args, iterations=_PASS_ITERATIONS)
        t_c = _temp_eq(t_in, _heat_kw(cur, v.total, fe, active), flow_l, p)
    fe, v, y_out, y_mean = _electrochem(j, t_c + _ZERO_C, *args)
    heat = _heat_kw(cur, v.total, fe, active)
    t2 = _temp_eq(t_in, heat, flow_l, p)
    k_c, _ = _thermal_coeffs(flow_l, p)
    r_f = active * cur * fe / (Z * F)
    r_h = active * cur * (1.0 - fe) / (Z * F)
    co2_out = co2_in - r_f
    tot_out = co2_out + r_h + inert
    safe = np.where(tot_out > 0, tot_out, 1.0)
    need = p.n_cells * cur / (Z * F)
    v_stack = active * v.total
    prod = r_f * M_HCOOH * 3600.0
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(prod > 0, cur * v_stack / 1000.0 / np.where(prod > 0, prod, 1.0), np.nan)
        conv = np.where(co2_in > 0, r_f / np.where(co2_in > 0, co2_in, 1.0), np.nan)
        ratio = np.where(need > 0, co2_in / np.where(need > 0, need, 1.0), np.inf)
    to_nm3_h = V_M_NORMAL * 3600.0
    return SteadyState(
        current_a=cur,
        current_density_ma_cm2=j,
        co2_flow_nm3_h=q,
        co2_concentration_pct=100.0 * y,
        inlet_temp_c=t_in,
        electrode_age_h=age,
        active_cells=np.asarray(active, dtype=float),
        faradaic_efficiency=fe,
        fe_h2=1.0 - fe,
        cell_temp_c=t2,
        voltage=v,
        cell_voltage_v=v.total,
        stack_voltage_v=v_stack,
        stack_power_kw=cur * v_stack / 1000.0,
        heat_kw=heat,
        cooling_kw=k_c * (t2 - t_in),
        formic_acid_kg_h=prod,
        co2_feed_kg_h=co2_in * M_CO2 * 3600.0,
        co2_converted_kg_h=r_f * M_CO2 * 3600.0,
        co2_out_kg_h=co2_out * M_CO2 * 3600.0,
        h2_nm3_h=r_h * to_nm3_h,
        o2_nm3_h=active * cur / (2 * Z * F) * to_nm3_h,
        outlet_gas_nm3_h=tot_out * to_nm3_h,
        h2_outlet_pct=np.where(tot_out > 0, 100.0 * r_h / safe, 0.0),
        co2_outlet_pct=np.where(tot_out > 0, 100.0 * co2_out / safe, 0.0),
        co2_conversion=conv,
        co2_stoich_ratio=ratio,
        y_mean=y_mean,
        specific_energy_kwh_kg=se,
        ph=catholyte_ph(y_mean, t2 + _ZERO_C, p),
    )


# --------------------------------------------------------------------------
# Dynamics (1-min quasi-steady electrochemistry + first-order slow states)
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Inputs:
    """Input profiles on a uniform grid (one value per step)."""

    current_a: np.ndarray  # applied stack current
    co2_flow_nm3_h: np.ndarray  # delivered feed gas flow (PV)
    co2_pct_target: np.ndarray  # blend concentration before the mixing lag
    inlet_temp_c: np.ndarray
    catholyte_flow_m3_h: np.ndarray
    bleed_l_h: np.ndarray
    age_h: np.ndarray
    jlim_factor: np.ndarray
    asr_extra: np.ndarray
    dp_factor: np.ndarray
    active_cells: np.ndarray
    hot_spot_k: np.ndarray
    pump_on: np.ndarray


def _lag_const(u: np.ndarray, a: float, y0: float) -> np.ndarray:
    # y[k] = a y[k-1] + (1 - a) u[k], y[-1] = y0 (exact for a piecewise-constant input over the step).
    y, _ = lfilter([1.0 - a], [1.0, -a], u, zi=[a * y0])
    return y


def _lag_tv(target: np.ndarray, a: np.ndarray, y0: float) -> np.ndarray:
    # Same recursion with a time-varying coefficient (plain loop on Python floats: ~0.3 us/step).
    out = np.empty(len(target))
    y = y0
    for k, (ak, tk) in enumerate(zip(a.tolist(), target.tolist())):
        y = ak * y + (1.0 - ak) * tk
        out[k] = y
    return out


def _respond(inp: _Inputs, p: CO2ElectrolyzerParams, dt_min: float) -> dict[str, np.ndarray]:
    """Integrate the slow states over the profiles; return every plant variable per step.

    Starts from the steady state of the first step's inputs.
    """
    cur = inp.current_a
    q = inp.co2_flow_nm3_h
    active = inp.active_cells
    j = cur * 1000.0 / p.cell_area_cm2
    y_pct = _lag_const(inp.co2_pct_target, math.exp(-dt_min / p.tau_mix_min), float(inp.co2_pct_target[0]))
    y = y_pct / 100.0
    n_in = nm3_h_to_mol_s(q)
    co2_in, inert = y * n_in, (1.0 - y) * n_in
    t_in = inp.inlet_temp_c
    flow_l = inp.catholyte_flow_m3_h
    _, k_tot = _thermal_coeffs(flow_l, p)
    a_th = np.exp(-dt_min * 60.0 * k_tot / p.stack_heat_capacity_kj_k)

    args = (co2_in, inert, q, inp.age_h, inp.jlim_factor, inp.asr_extra, active, p)
    t_c = t_in
    for _ in range(_THERMAL_PASSES - 1):  # the same fixed-point passes as steady_state, through the lag
        fe, v, _, _ = _electrochem(j, t_c + _ZERO_C, *args, iterations=_PASS_ITERATIONS)
        target = _temp_eq(t_in, _heat_kw(cur, v.total, fe, active), flow_l, p, inp.hot_spot_k)
        t_c = _lag_tv(target, a_th, float(target[0]))
    fe, v, y_out, y_mean = _electrochem(j, t_c + _ZERO_C, *args)
    heat = _heat_kw(cur, v.total, fe, active)
    target2 = _temp_eq(t_in, heat, flow_l, p, inp.hot_spot_k)
    t2 = _lag_tv(target2, a_th, float(target2[0]))

    k_c, _ = _thermal_coeffs(flow_l, p)
    r_f = active * cur * fe / (Z * F)
    r_h = active * cur * (1.0 - fe) / (Z * F)
    prod_kg_h = r_f * M_HCOOH * 3600.0
    bleed = inp.bleed_l_h
    with np.errstate(divide="ignore", invalid="ignore"):
        c_target = np.where(bleed > 0, prod_kg_h * 1000.0 / np.where(bleed > 0, bleed, 1.0), 0.0)
    a_c = np.exp(-dt_min / 60.0 * bleed / p.loop_volume_l)
    c0 = float(c_target[0]) if bleed[0] > 0 else 100.0  # idle loop at start: typical hold-up concentration
    c_loop = _lag_tv(c_target, a_c, c0)
    ph_eq = catholyte_ph(y_mean, t2 + _ZERO_C, p)
    ph = _lag_const(ph_eq, math.exp(-dt_min / p.tau_ph_min), float(ph_eq[0]))
    co2_out = co2_in - r_f
    to_nm3_h = V_M_NORMAL * 3600.0
    v_stack = active * v.total
    cooling = k_c * (t2 - t_in)
    dp = p.dp_ref_kpa * (np.maximum(q, 0.0) / p.dp_ref_flow_nm3_h) ** p.dp_exponent * inp.dp_factor
    return {
        "current_a": cur,
        "j": j,
        "co2_flow": q,
        "co2_pct": y_pct,
        "inlet_temp_c": t_in,
        "cell_temp_c": t2,
        "catholyte_flow": flow_l,
        "fe": fe,
        "v_cell_true": v.total,
        "v_stack": v_stack,
        "power_kw": cur * v_stack / 1000.0,
        "cooling_kw": cooling,
        "prod_kg_h": prod_kg_h,
        "co2_in_mol_s": co2_in,
        "co2_out_mol_s": co2_out,
        "h2_mol_s": r_h,
        "inert_mol_s": inert,
        "o2_nm3_h": active * cur / (2 * Z * F) * to_nm3_h,
        "formate_g_l": c_loop,
        "ph": ph,
        "dp_kpa": dp,
        "bleed_l_h": bleed,
        "age_h": inp.age_h,
        "y_mean": y_mean,
        "active": active,
    }


# --------------------------------------------------------------------------
# Operating scenario
# --------------------------------------------------------------------------

PLANT_ID = "co2_electrolyzer"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_DAY = 1440  # minutes
_BLOCK_DAYS = 10  # scenario quotas are met exactly in every 10-day block
_BLOCK_MIN = _BLOCK_DAYS * _DAY
_TRANSIENT_MIN = round(0.20 * _BLOCK_MIN)  # 2880
_ABNORMAL_MIN = round(0.08 * _BLOCK_MIN)  # 1152
_EXTREME_MIN = round(0.02 * _BLOCK_MIN)  # 288
_START_GAP, _MIN_GAP, _END_GAP = 30, 20, 120  # min of steady operation around episodes
_CYCLE_BLOCKS = 4  # electrode replacement once per 40-day maintenance cycle
_REPLACEMENT_MIN = 360
_WARMUP_MIN = 360  # simulated tail of the previous day (initial-condition memory < 1e-3)
_RUN_DOWN, _RUN_UP = 30, 45  # min: current ramps of the stop / start sequences
_STREAM_SCHEDULE, _STREAM_GRADE, _STREAM_DISTURBANCE, _STREAM_MAINT = 31, 32, 33, 34
_ABNORMAL_LABELS = (
    "co2_supply_disruption",
    "gde_flooding",
    "salt_precipitation",
    "pump_trip",
    "stuck_sensor",
    "spiking_sensor",
    "sensor_drift",
)
_EXTREME_LABELS = ("stack_short", "emergency_shutdown")
_MOVE_LABELS = ("current_change", "co2_flow_change", "co2_concentration_change", "temperature_change")

#: Operating grades (current density mA/cm2, CO2 feed Nm3/h, CO2 %, catholyte inlet degC) and block weights.
#: All keep >= 3 x the CO2 needed at FE = 1 (0.0418 Nm3/h per mA/cm2 for the default stack).
GRADES: tuple[tuple[float, float, float, float], ...] = (
    (200.0, 30.0, 100.0, 40.0),
    (150.0, 24.0, 100.0, 40.0),
    (250.0, 36.0, 100.0, 45.0),
    (200.0, 36.0, 70.0, 40.0),
    (120.0, 20.0, 85.0, 35.0),
    (280.0, 45.0, 95.0, 50.0),
)
_GRADE_WEIGHTS = (0.35, 0.15, 0.15, 0.15, 0.10, 0.10)
_Op = tuple[float, float, float, float]


def _op_args(op: _Op, prefix: str = "") -> tuple[tuple[str, float], ...]:
    return tuple((prefix + k, float(v)) for k, v in zip(("j", "q", "y", "t"), op))


def _op_of(a: dict[str, float], prefix: str = "") -> _Op:
    return (a[prefix + "j"], a[prefix + "q"], a[prefix + "y"], a[prefix + "t"])


def _block_grade(seed: int, block: int) -> _Op:
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_GRADE, block)
    return GRADES[int(rng.choice(len(GRADES), p=_GRADE_WEIGHTS))]


def _demand_nm3_h_per_ma_cm2(p: CO2ElectrolyzerParams = DEFAULT) -> float:
    # CO2 consumed at FE = 1 per mA/cm2 of current density, Nm3/h.
    return p.n_cells * p.cell_area_cm2 * 1e-3 / (Z * F) * V_M_NORMAL * 3600.0


def _move_target(op: _Op, kind: str, u: float) -> tuple[str, _Op]:
    """Target of an operator move from ``op``: uniform quantile ``u`` in a safe range (>= 1.4 x stoich)."""
    j, q, y, t = op
    d = _demand_nm3_h_per_ma_cm2()
    ratio = 1.4
    if kind == "current_change":
        hi = min(300.0, q * y / 100.0 / (ratio * d))
        new = round((80.0 + u * (hi - 80.0)) / 5.0) * 5.0
        if hi > 90.0 and abs(new - j) >= 10.0:
            return kind, (new, q, y, t)
    elif kind == "co2_flow_change":
        lo = max(10.0, ratio * d * j / (y / 100.0))
        new = round((lo + u * (55.0 - lo)) * 2.0) / 2.0
        if lo < 50.0 and abs(new - q) >= 2.0:
            return kind, (j, new, y, t)
    elif kind == "co2_concentration_change":
        lo = max(50.0, 100.0 * ratio * d * j / q)
        new = float(round(lo + u * (100.0 - lo)))
        if lo < 95.0 and abs(new - y) >= 3.0:
            return kind, (j, q, new, t)
    new_t = round((30.0 + u * 25.0) * 2.0) / 2.0
    if abs(new_t - t) < 2.0:
        new_t = t + 4.0 if t < 45.0 else t - 4.0
    return "temperature_change", (j, q, y, new_t)


def _maintenance(seed: int, cycle: int) -> tuple[int, int]:
    """Electrode replacement of a 40-day cycle: (day of the cycle 1..8, start minute 06:00-12:00 UTC)."""
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_MAINT, cycle)
    return int(rng.integers(1, 9)), int(rng.integers(360, 721))


def _swap_minute(seed: int, cycle: int) -> int:
    """Absolute minute (since 1970) at which the fresh electrodes are installed in ``cycle``."""
    if cycle < 0:  # before the epoch: a fixed, plausible history
        return -20 * _DAY
    day, start = _maintenance(seed, cycle)
    return (cycle * _CYCLE_BLOCKS * _BLOCK_DAYS + day) * _DAY + start + _REPLACEMENT_MIN // 2


def electrode_age_h(seed: int, minutes_since_epoch) -> np.ndarray:
    """Electrode (GDE) age in hours at absolute minutes since 1970-01-01 UTC (deterministic per seed)."""
    m = np.asarray(minutes_since_epoch, dtype=np.int64)
    cycle = m // (_CYCLE_BLOCKS * _BLOCK_MIN)
    out = np.empty(m.shape, dtype=float)
    for c in np.unique(cycle):
        sel = cycle == c
        sw, prev = _swap_minute(seed, int(c)), _swap_minute(seed, int(c) - 1)
        out[sel] = (m[sel] - np.where(m[sel] >= sw, sw, prev)) / 60.0
    return out


@functools.lru_cache(maxsize=64)
def _block_plan(seed: int, block: int) -> tuple[tuple[_Op, tuple[Item, ...]], ...]:
    """Episode plan of a 10-day block: per day (operating point at midnight, items tiling the day).

    Category time quotas (20 / 8 / 2 % transient / abnormal / extreme, rest normal) are met
    exactly per block. The electrode replacement of a maintenance cycle gets a day of its own in
    the cycle's first block; the other units are placed at random on the remaining days.
    """
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_SCHEDULE, block)
    g_now, g_next = _block_grade(seed, block), _block_grade(seed, block + 1)
    measured = [t.tag for t in TAGS if t.measured]
    maint_day = None
    if block % _CYCLE_BLOCKS == 0:
        maint_day, maint_start = _maintenance(seed, block // _CYCLE_BLOCKS)

    units: list[list[tuple[str, int, dict]]] = []
    transient = _TRANSIENT_MIN - (_REPLACEMENT_MIN if maint_day is not None else 0)
    transition = None
    d_tr = int(rng.integers(90, 181))
    if g_next != g_now:
        transition = [("grade_change", d_tr, {})]
        transient -= d_tr
    d_sd, d_su = int(rng.integers(150, 301)), int(rng.integers(120, 241))
    if rng.random() < 0.5:
        units.append([("shutdown", d_sd, {}), ("startup", d_su, {})])
        transient -= d_sd + d_su
    m = max(1, round(transient / 240))
    durs = split(rng, transient, 2 * m, 60, 180)
    for i in range(m):
        hold = int(rng.integers(30, 241))
        kind = _MOVE_LABELS[int(rng.integers(len(_MOVE_LABELS)))]
        u = float(rng.random())
        out, back = ("move_out", durs[2 * i], {"kind": kind, "u": u}), ("move_back", durs[2 * i + 1], {})
        units.append([out, ("hold", hold, {}), back])

    n_ab = int(rng.integers(5, 8))
    for d in split(rng, _ABNORMAL_MIN, n_ab, 120, 360):
        label = _ABNORMAL_LABELS[int(rng.integers(len(_ABNORMAL_LABELS)))]
        args = {  # drawn unconditionally: a label's parameters never shift the others
            "tag": measured[int(rng.integers(len(measured)))],
            "frac": float(rng.uniform(0.15, 0.6)),
            "purity": float(rng.random() < 0.35),
            "y_frac": float(rng.uniform(0.45, 0.8)),
            "jlim_final": float(rng.uniform(0.35, 0.7)),
            "asr_final": float(rng.uniform(0.4, 1.5)),
            "dp_final": float(rng.uniform(1.5, 2.5)),
            "restart": float(rng.integers(20, 61)),
        }
        units.append([(label, d, args)])
    n_ex = int(rng.integers(1, 3))
    for d in split(rng, _EXTREME_MIN, n_ex, 120, 288):
        label = _EXTREME_LABELS[int(rng.integers(len(_EXTREME_LABELS)))]
        args = {
            "cells": float(rng.integers(1, 4)),
            "detect": float(rng.integers(3, 11)),
            "hot_k": float(rng.uniform(4.0, 10.0)),
        }
        units.append([(label, d, args)])

    load = [0] * _BLOCK_DAYS
    count = [0] * _BLOCK_DAYS
    per_day: list[list[list[tuple[str, int, dict]]]] = [[] for _ in range(_BLOCK_DAYS)]

    def fits(day: int, length: int) -> bool:
        if day == maint_day:
            return False
        return load[day] + length + _START_GAP + _END_GAP + _MIN_GAP * count[day] <= _DAY

    def put(day: int, unit: list) -> None:
        per_day[day].append(unit)
        load[day] += sum(pc[1] for pc in unit)
        count[day] += 1

    if transition is not None:
        put(_BLOCK_DAYS - 1, transition)
    lengths = [sum(pc[1] for pc in u) for u in units]
    for i in sorted(range(len(units)), key=lambda i: -lengths[i]):
        ok = [d for d in range(_BLOCK_DAYS) if fits(d, lengths[i])]
        if not ok:
            raise RuntimeError("scenario block over capacity")  # cannot happen with the quotas above
        put(int(rng.choice(ok)), units[i])

    plan = []
    grade = g_now
    for d in range(_BLOCK_DAYS):
        items: list[Item] = []
        t = 0
        day_start_grade = grade

        def steady(length: int, op: _Op) -> None:
            nonlocal t
            if length > 0:
                items.append(Item(t, t + length, "normal", "steady", None, _op_args(op)))
                t += length

        if d == maint_day:
            steady(maint_start, grade)
            items.append(Item(t, t + _REPLACEMENT_MIN, "transient", "electrode_replacement", None, _op_args(grade)))
            t += _REPLACEMENT_MIN
            steady(_DAY - t, grade)
            plan.append((day_start_grade, tuple(items)))
            continue
        day_units = per_day[d]
        order = rng.permutation(len(day_units))
        k = len(day_units)
        extra = _DAY - load[d] - (_START_GAP + _END_GAP + _MIN_GAP * max(k - 1, 0))
        if k == 0:
            gaps = [_DAY]
        else:
            gaps = integerize(rng.dirichlet(np.ones(k + 1)) * extra, extra).tolist()
            gaps = [g + (_START_GAP if i == 0 else _END_GAP if i == k else _MIN_GAP) for i, g in enumerate(gaps)]
        for ui, idx in enumerate(order):
            steady(gaps[ui], grade)
            unit = day_units[idx]
            head = unit[0][0]
            if head == "move_out":
                (_, d_out, a), (_, hold, _), (_, d_back, _) = unit
                label, target = _move_target(grade, a["kind"], a["u"])
                items.append(Item(t, t + d_out, "transient", label, None, _op_args(grade) + _op_args(target, "to_")))
                t += d_out
                steady(hold, target)
                items.append(Item(t, t + d_back, "transient", label, None, _op_args(target) + _op_args(grade, "to_")))
                t += d_back
            elif head == "grade_change":
                pairs = _op_args(grade) + _op_args(g_next, "to_")
                items.append(Item(t, t + unit[0][1], "transient", "grade_change", None, pairs))
                t += unit[0][1]
                grade = g_next
            elif head == "shutdown":
                (_, d1, _), (_, d2, _) = unit
                items.append(Item(t, t + d1, "transient", "shutdown", None, _op_args(grade)))
                t += d1
                items.append(Item(t, t + d2, "transient", "startup", None, _op_args(grade)))
                t += d2
            else:
                label, d1, a = unit[0]
                category = "extreme" if label in _EXTREME_LABELS else "abnormal"
                tag = a["tag"] if label in SENSOR_FAULT_LABELS else None
                pairs = _op_args(grade) + tuple(sorted((kk, vv) for kk, vv in a.items() if kk != "tag"))
                items.append(Item(t, t + d1, category, label, tag, pairs))
                t += d1
        steady(gaps[-1], grade)
        if t != _DAY:
            raise RuntimeError("scenario day does not tile 24 h")
        plan.append((day_start_grade, tuple(items)))
    return tuple(plan)


def _day_plan(seed: int, day_no: int) -> tuple[_Op, tuple[Item, ...]]:
    block = day_no // _BLOCK_DAYS
    return _block_plan(seed, block)[day_no - block * _BLOCK_DAYS]


def _fmt_op(op: _Op) -> str:
    return f"{op[0]:.0f} mA/cm2, CO2 {op[1]:.1f} Nm3/h at {op[2]:.0f} %, catholyte {op[3]:.1f} degC"


def _pump_restart(item: Item) -> int:
    # Pump restart after the trip, leaving room for the current restart ramp and settling.
    return int(min(item.kw["restart"], item.end - item.start - 10 - _RUN_UP - 15))


def _detail(item: Item, ctx: DayContext) -> str:
    """Detail text of a process episode (sensor faults are described by the engine)."""
    a = item.kw
    hours = (item.end - item.start) / 60
    if item.label == "steady":
        return f"steady at {_fmt_op(_op_of(a))}"
    if item.label in _MOVE_LABELS or item.label == "grade_change":
        return f"{_fmt_op(_op_of(a))} -> {_fmt_op(_op_of(a, 'to_'))}, ramp {_ramp_len(item)} min"
    if item.label == "shutdown":
        return f"current ramped to 0 over {_RUN_DOWN} min, CO2 to standby {DEFAULT.co2_standby_nm3_h:.0f} Nm3/h, idle"
    if item.label == "startup":
        return f"CO2 feed restored, current ramped up over {_RUN_UP} min to {a['j']:.0f} mA/cm2"
    if item.label == "electrode_replacement":
        swap = item.start + _REPLACEMENT_MIN // 2
        return f"stack shut down, electrodes (GDEs) replaced at {ctx.hhmm(swap)}, electrode age reset, restart"
    if item.label == "co2_supply_disruption":
        span = f"for {hours - 0.5:.1f} h, recovered over 10 min"
        if a["purity"] > 0.5:
            return f"CO2 supply purity loss: feed CO2 falls to {100 * a['y_frac']:.0f} % of set point {span}"
        return f"CO2 supply pressure loss: delivered flow falls to {100 * a['frac']:.0f} % of set point {span}"
    if item.label == "gde_flooding":
        return (
            f"GDE flooding: CO2 transport falls to {100 * a['jlim_final']:.0f} %, ASR +{a['asr_final']:.2f} ohm cm2, "
            f"recovered by raising the gas-side pressure in the last 40 min"
        )
    if item.label == "salt_precipitation":
        return (
            f"carbonate salt precipitation in the GDE: CO2 transport to {100 * a['jlim_final']:.0f} %, gas dP x"
            f"{a['dp_final']:.1f}; water flush at reduced current at {ctx.hhmm(item.end - 60)}"
        )
    if item.label == "pump_trip":
        r = _pump_restart(item)
        return (
            f"catholyte pump trip, low-flow interlock de-energises the stack within 1 min; pump restarted "
            f"at {ctx.hhmm(item.start + r)}, current restored over {_RUN_UP} min"
        )
    if item.label == "stack_short":
        return (
            f"short circuit across {a['cells']:.0f} cell(s) (salt bridge in a manifold): stack voltage drop, "
            f"hot spot +{a['hot_k']:.0f} K; ESD after {a['detect']:.0f} min, flush, restart "
            f"{ctx.hhmm(item.end - 75)}"
        )
    if item.label == "emergency_shutdown":
        return f"emergency shutdown (rectifier trip on grid dip), stack idle, restart {ctx.hhmm(item.end - 75)}"
    raise ValueError(f"no detail text for {item.label!r}")


# ---------------------------------------------------------------- profiles


def _ramp_len(item: Item) -> int:
    return max(1, int(math.ceil(0.4 * (item.end - item.start))))


@dataclass
class _Day:
    """Mutable per-minute profiles of one day while the plan is rendered."""

    j: np.ndarray
    q: np.ndarray
    y: np.ndarray
    t: np.ndarray
    run: np.ndarray  # current multiplier of the start/stop sequences
    standby: np.ndarray  # CO2 feed at standby flow
    q_frac: np.ndarray  # delivered / set flow (supply disruption)
    y_frac: np.ndarray  # delivered / set CO2 purity
    pump: np.ndarray
    jlim: np.ndarray
    asr: np.ndarray
    dp: np.ndarray
    shorted: np.ndarray
    hot: np.ndarray


def _ramp(arr: np.ndarray, s: int, e: int, v0: float, v1: float) -> None:
    # Linear ramp over [s, e) reaching v1 at e (and holding v1 afterwards is the caller's job).
    if e > s:
        arr[s:e] = v0 + (v1 - v0) * (np.arange(s, e) - s + 1) / (e - s)


def _render_day(seed: int, day_no: int) -> _Day:
    start_op, items = _day_plan(seed, day_no)
    n = _DAY
    full = lambda v: np.full(n, float(v))  # noqa: E731
    d = _Day(
        *(full(v) for v in start_op),
        run=full(1.0),
        standby=np.zeros(n, dtype=bool),
        q_frac=full(1.0),
        y_frac=full(1.0),
        pump=full(1.0),
        jlim=full(1.0),
        asr=full(0.0),
        dp=full(1.0),
        shorted=full(0.0),
        hot=full(0.0),
    )
    ops = (d.j, d.q, d.y, d.t)
    for it in items:
        s, e, a = it.start, it.end, it.kw
        op = _op_of(a)
        for arr, v in zip(ops, op):
            arr[s:e] = v
        if it.label in _MOVE_LABELS or it.label == "grade_change":
            to = _op_of(a, "to_")
            r = _ramp_len(it)
            for arr, v0, v1 in zip(ops, op, to):
                arr[s:e] = v1
                _ramp(arr, s, s + r, v0, v1)
        elif it.label == "shutdown":
            _ramp(d.run, s, s + _RUN_DOWN, 1.0, 0.0)
            d.run[s + _RUN_DOWN : e] = 0.0
            d.standby[s + _RUN_DOWN + 2 : e] = True
        elif it.label == "startup":
            d.run[s : s + 15] = 0.0
            _ramp(d.run, s + 15, s + 15 + _RUN_UP, 0.0, 1.0)
        elif it.label == "electrode_replacement":
            up = e - 30 - _RUN_UP
            _ramp(d.run, s, s + _RUN_DOWN, 1.0, 0.0)
            d.run[s + _RUN_DOWN : up] = 0.0
            _ramp(d.run, up, up + _RUN_UP, 0.0, 1.0)
            d.standby[s + _RUN_DOWN + 2 : up - 10] = True
            d.pump[s + _RUN_DOWN + 10 : up - 20] = 0.0  # loop drained for the stack exchange
        elif it.label == "co2_supply_disruption":
            rec = e - 30
            target = d.y_frac if a["purity"] > 0.5 else d.q_frac
            low = a["y_frac"] if a["purity"] > 0.5 else a["frac"]
            _ramp(target, s, s + 3, 1.0, low)
            target[s + 3 : rec] = low
            _ramp(target, rec, rec + 10, low, 1.0)
        elif it.label == "gde_flooding":
            rec = e - 40
            _ramp(d.jlim, s, rec, 1.0, a["jlim_final"])
            _ramp(d.asr, s, rec, 0.0, a["asr_final"])
            _ramp(d.dp, s, rec, 1.0, 1.3)
            _ramp(d.jlim, rec, rec + 20, a["jlim_final"], 1.0)
            _ramp(d.asr, rec, rec + 20, a["asr_final"], 0.0)
            _ramp(d.dp, rec, rec + 20, 1.3, 1.0)
        elif it.label == "salt_precipitation":
            flush = e - 60
            _ramp(d.jlim, s, flush, 1.0, a["jlim_final"])
            _ramp(d.dp, s, flush, 1.0, a["dp_final"])
            _ramp(d.asr, s, flush, 0.0, 0.3)
            _ramp(d.run, flush, flush + 5, 1.0, 0.3)  # water flush at 30 % current
            d.run[flush + 5 : flush + 25] = 0.3
            _ramp(d.run, flush + 25, flush + 45, 0.3, 1.0)
            _ramp(d.jlim, flush + 5, flush + 25, a["jlim_final"], 1.0)
            _ramp(d.dp, flush + 5, flush + 25, a["dp_final"], 1.0)
            _ramp(d.asr, flush + 5, flush + 25, 0.3, 0.0)
        elif it.label == "pump_trip":
            r = s + _pump_restart(it)
            d.pump[s:r] = 0.0
            _ramp(d.pump, r, r + 2, 0.0, 1.0)
            d.run[s + 1 : r + 10] = 0.0
            _ramp(d.run, r + 10, r + 10 + _RUN_UP, 0.0, 1.0)
            d.standby[s + 5 : r + 5] = True
        elif it.label in ("stack_short", "emergency_shutdown"):
            trip = s + (int(a["detect"]) if it.label == "stack_short" else 0)
            up = e - 75
            if it.label == "stack_short":
                d.shorted[s:trip] = a["cells"]
                _ramp(d.hot, s, trip, 0.0, a["hot_k"])
            d.run[trip : trip + 1] = 0.0 if it.label == "emergency_shutdown" else 0.5
            d.run[trip + 1 : up] = 0.0
            _ramp(d.run, up, up + _RUN_UP, 0.0, 1.0)
            d.standby[trip + 2 : up - 10] = True
    return d


def _disturbance_phases(seed: int) -> np.ndarray:
    return historian.derive_rng(seed, PLANT_ID, _STREAM_DISTURBANCE).uniform(0.0, 2.0 * math.pi, 6)


def _day_inputs(seed: int, day_no: int, params: CO2ElectrolyzerParams) -> tuple[_Inputs, dict[str, np.ndarray]]:
    """Per-minute inputs over [midnight - warm-up, next midnight) and the operator set points."""
    p = params
    prev, cur = _render_day(seed, day_no - 1), _render_day(seed, day_no)
    w = _WARMUP_MIN

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(prev, name)[-w:], getattr(cur, name)])

    j, q_sp, y_sp, t_sp = cat("j"), cat("q"), cat("y"), cat("t")
    run, standby = cat("run"), cat("standby")
    minute = (day_no * _DAY - w + np.arange(w + _DAY)).astype(np.int64)
    ph = _disturbance_phases(seed)
    ang = minute * 2.0 * math.pi
    current_sp = j * p.cell_area_cm2 / 1000.0 * run
    q_set = np.where(standby, p.co2_standby_nm3_h, q_sp)
    q_pv = q_set * cat("q_frac") * (1.0 + 0.002 * np.sin(ang / 97.0 + ph[0]))
    purity = 1.0 - 0.0015 * (1.0 + np.sin(ang / (2.3 * _DAY) + ph[1]))  # supply purity ripple
    y_target = y_sp * cat("y_frac") * purity
    t_in = t_sp + 0.25 * np.sin(ang / _DAY + ph[2]) + 0.1 * np.sin(ang / 173.0 + ph[3])
    pump = cat("pump")
    flow = p.catholyte_flow_m3_h * pump * (1.0 + 0.01 * np.sin(ang / 311.0 + ph[4]))
    inputs = _Inputs(
        current_a=current_sp,
        co2_flow_nm3_h=q_pv,
        co2_pct_target=y_target,
        inlet_temp_c=t_in,
        catholyte_flow_m3_h=flow,
        bleed_l_h=p.bleed_l_per_ah * current_sp,
        age_h=electrode_age_h(seed, minute),
        jlim_factor=cat("jlim"),
        asr_extra=cat("asr"),
        dp_factor=cat("dp") * (1.0 + 0.01 * np.sin(ang / 53.0 + ph[5])),
        active_cells=p.n_cells - cat("shorted"),
        hot_spot_k=cat("hot"),
        pump_on=pump,
    )
    setpoints = {"current": current_sp, "q": q_set, "y": y_sp, "t": t_sp}
    return inputs, setpoints


# --------------------------------------------------------------------------
# Data binding: tags and simulation entry points
# --------------------------------------------------------------------------

INFO = PlantInfo(
    plant_id=PLANT_ID,
    name="CO2-to-formic-acid electrolyzer",
    description="40-cell flow-electrolyzer stack (2500 cm2 Sn GDE cathodes, KHCO3 catholyte, Nafion membrane, "
    "IrO2 anodes) reducing CO2 to formate; Faraday, Butler-Volmer and CO2 mass-transfer physics.",
    sampling=dt.timedelta(minutes=15),
    utc_offset=dt.timedelta(hours=1),
)

_CALC = "DCS calculation"
#: Historian tag catalogue (33 tags). Ranges cover shutdowns, trips, CO2 starvation and stack shorts.
TAGS: tuple[TagSpec, ...] = (
    TagSpec("ECR.IIC101.SP", "Stack current set point (start/stop sequence ramps)", "A", "A", 0.0, 1000.0, "rectifier"),
    TagSpec("ECR.II101", "Stack current", "A", "A", 0.0, 1000.0, "rectifier", 0.1),
    TagSpec("ECR.JI101", f"Current density, II101 / cell area ({_CALC})", "mA/cm**2", "A/m**2", 0.0, 400.0, "stack"),
    TagSpec("ECR.EI101", "Stack voltage", "V", "V", 0.0, 250.0, "rectifier", 0.1),
    TagSpec("ECR.EY101", f"Average cell voltage, EI101 / 40 ({_CALC})", "V", "V", 0.0, 8.0, "stack"),
    TagSpec("ECR.JI102", "Stack DC power, EI101 x II101 (rectifier power meter)", "kW", "kW", 0.0, 250.0, "rectifier",
            0.1),
    TagSpec(
        "ECR.JI103",
        f"Plant electricity import: JI102 / rectifier eff. + balance of plant + chiller (QI501 / COP) ({_CALC})",
        "kW", "kW", 0.0, 300.0, "utilities",
    ),
    TagSpec("ECR.FIC201.SP", "Cathode feed gas flow set point (normal m3/h, 0 degC, 1 atm)", "m**3/h", "m**3/h",
            0.0, 60.0, "feed"),
    TagSpec("ECR.FI201", "Cathode feed gas flow (normal m3/h)", "m**3/h", "m**3/h", 0.0, 60.0, "feed", 0.2),
    TagSpec("ECR.AIC201.SP", "CO2 concentration set point of the CO2/N2 blend", "percent", "percent", 0.0, 100.0,
            "feed"),
    TagSpec("ECR.AI201", "CO2 concentration in the feed gas (NDIR)", "percent", "percent", 0.0, 100.0, "feed", 0.1),
    TagSpec("ECR.FY201", f"CO2 feed, mass of pure CO2: FI201 x AI201 ({_CALC})", "kg/h", "kg/h", 0.0, 120.0, "feed"),
    TagSpec("ECR.PDI201", "Cathode gas-side pressure drop", "kPa", "kPa", 0.0, 80.0, "stack", 0.2),
    TagSpec("ECR.FI202", "Cathode outlet gas flow, dry (normal m3/h)", "m**3/h", "m**3/h", 0.0, 60.0, "cathode_gas",
            0.2),
    TagSpec("ECR.AI202", "H2 in cathode outlet gas, dry (TCD analyser)", "percent", "percent", 0.0, 100.0,
            "cathode_gas", 0.1),
    TagSpec("ECR.AI203", "CO2 in cathode outlet gas, dry (NDIR)", "percent", "percent", 0.0, 100.0, "cathode_gas",
            0.1),
    TagSpec("ECR.FY202", f"Unreacted CO2 vented: FI202 x AI203 ({_CALC})", "kg/h", "kg/h", 0.0, 120.0, "cathode_gas"),
    TagSpec("ECR.XY201", f"CO2 single-pass conversion, 1 - FY202/FY201 ({_CALC})", "percent", "percent", 0.0, 100.0,
            "cathode_gas"),
    TagSpec("ECR.FI301", "Catholyte recirculation flow", "m**3/h", "m**3/h", 0.0, 10.0, "catholyte", 0.2),
    TagSpec("ECR.TIC301.SP", "Catholyte stack-inlet temperature set point", "degC", "K", 0.0, 100.0, "catholyte"),
    TagSpec("ECR.TI301", "Catholyte stack-inlet temperature", "degC", "K", 0.0, 100.0, "catholyte", 0.1),
    TagSpec("ECR.TI302", "Catholyte stack-outlet (cell) temperature", "degC", "K", 0.0, 100.0, "stack", 0.1),
    TagSpec("ECR.AI301", "Catholyte pH", "dimensionless", "dimensionless", 0.0, 14.0, "catholyte", 0.1),
    TagSpec("ECR.AI302", "Formate in product catholyte, as HCOOH (online analyser)", "g/L", "g/L", 0.0, 250.0,
            "product", 0.2),
    TagSpec("ECR.FI302", "Product bleed flow (= KHCO3 make-up flow, ratio to current)", "L/h", "m**3/h", 0.0, 400.0,
            "product", 0.2),
    TagSpec("ECR.FY301", f"Formic acid production, 100 % HCOOH: 40 x II101 x AY301 M/(2F) ({_CALC})", "kg/h", "kg/h",
            0.0, 40.0, "product"),
    TagSpec("ECR.AY301", f"Faradaic efficiency to formate, 1 - H2 (FI202 x AI202) 2F / (40 II101) ({_CALC})",
            "percent", "percent", 0.0, 100.0, "product"),
    TagSpec("ECR.EY102", f"Specific electricity use of the stack, JI102 / FY301 ({_CALC})", "kWh/kg", "kWh/kg",
            0.0, 100.0, "product"),
    TagSpec("ECR.FI401", "Anode O2 flow (normal m3/h)", "m**3/h", "m**3/h", 0.0, 15.0, "anode", 0.3),
    TagSpec("ECR.QI501", "Catholyte cooling duty (heat meter; < 0 when the idle loop is kept warm)", "kW", "kW",
            -30.0, 150.0, "utilities", 0.3),
    TagSpec("ECR.FY303", f"KHCO3 make-up, FI302 x 0.5 mol/L ({_CALC})", "kg/h", "kg/h", 0.0, 30.0, "catholyte"),
    TagSpec("ECR.FY304", f"DI water make-up: catholyte make-up + anode water consumption ({_CALC})", "m**3/h",
            "m**3/h", 0.0, 0.6, "utilities"),
    TagSpec("ECR.KY101", "Electrode (GDE) age since last replacement, calendar hours (DCS counter)", "h", "h",
            0.0, 1500.0, "stack"),
)
_TAG_BY_NAME = {t.tag: t for t in TAGS}

#: How DCS calculation tags are computed from other tags (used by the surrogate leakage check).
CALC_SOURCES: dict[str, tuple[str, ...]] = {
    "ECR.JI101": ("ECR.II101",),
    "ECR.EY101": ("ECR.EI101",),
    "ECR.JI102": ("ECR.EI101", "ECR.II101"),
    "ECR.JI103": ("ECR.JI102", "ECR.QI501"),
    "ECR.FY201": ("ECR.FI201", "ECR.AI201"),
    "ECR.FY202": ("ECR.FI202", "ECR.AI203"),
    "ECR.XY201": ("ECR.FY202", "ECR.FY201"),
    "ECR.AY301": ("ECR.FI202", "ECR.AI202", "ECR.II101"),
    "ECR.FY301": ("ECR.AY301", "ECR.II101"),
    "ECR.EY102": ("ECR.JI102", "ECR.FY301"),
    "ECR.FY303": ("ECR.FI302",),
    "ECR.FY304": ("ECR.FI302", "ECR.II101"),
}

#: Operator set points, feed conditions and counters: the only admissible surrogate inputs.
INDEPENDENT_TAGS: frozenset[str] = frozenset(
    {
        "ECR.IIC101.SP",
        "ECR.II101",
        "ECR.JI101",
        "ECR.FIC201.SP",
        "ECR.FI201",
        "ECR.AIC201.SP",
        "ECR.AI201",
        "ECR.TIC301.SP",
        "ECR.TI301",
        "ECR.FI301",
        "ECR.KY101",
    }
)

#: Activity data for carbon accounting and LCA (hourly means of the rate tags integrate to amounts).
ACTIVITY: tuple[ActivityStream, ...] = (
    ActivityStream(
        "electricity_import", "electricity", "ECR.JI103", "kWh",
        note="stack DC / rectifier efficiency 0.96 + balance of plant 3 kW + chiller at COP 4",
    ),
    ActivityStream(
        "feedstock", "co2_feed", "ECR.FY201", "t", note="pure CO2 in the cathode feed (N2 diluent excluded)"
    ),
    ActivityStream("product", "formic_acid", "ECR.FY301", "t", note="formate as 100 % HCOOH basis"),
    ActivityStream(
        "process_emission", "co2", "ECR.FY202", "kg", note="unreacted CO2 vented with the cathode gas (after H2 use)"
    ),
    ActivityStream("chemical", "potassium_bicarbonate", "ECR.FY303", "kg", note="KHCO3 in the catholyte make-up"),
    ActivityStream("water_intake", "water", "ECR.FY304", "m**3", note="deionised water, catholyte and anolyte make-up"),
)

_MIN_CURRENT_FRACTION = 0.02  # DCS: FE / specific-energy blocks are invalid below 2 % of rated current


def _dcs_calcs(r: dict[str, np.ndarray], p: CO2ElectrolyzerParams) -> dict[str, np.ndarray]:
    """DCS calculation blocks, evaluated on the true measured values (the historian adds noise to inputs only)."""
    cur = r["current_a"]
    to_nm3_h = V_M_NORMAL * 3600.0
    out_gas = (r["co2_out_mol_s"] + r["h2_mol_s"] + r["inert_mol_s"]) * to_nm3_h
    safe_gas = np.where(out_gas > 0, out_gas, 1.0)
    h2_pct = np.where(out_gas > 0, 100.0 * r["h2_mol_s"] * to_nm3_h / safe_gas, 0.0)
    co2_pct_out = np.where(out_gas > 0, 100.0 * r["co2_out_mol_s"] * to_nm3_h / safe_gas, 0.0)
    on = cur >= _MIN_CURRENT_FRACTION * p.rated_current_a
    safe_cur = np.where(on, cur, 1.0)
    # The DCS divides the H2 flow by all N cells: with shorted cells it over-reports FE (as a real DCS would).
    h2_mol_s = out_gas * h2_pct / 100.0 / to_nm3_h
    fe_dcs = np.where(on, 100.0 * (1.0 - h2_mol_s * Z * F / (p.n_cells * safe_cur)), np.nan)
    prod = np.where(on, p.n_cells * cur * fe_dcs / 100.0 / (Z * F) * M_HCOOH * 3600.0, 0.0)
    power = cur * r["v_stack"] / 1000.0
    with np.errstate(invalid="ignore"):
        se = np.where(on & (prod > 0), np.minimum(power / np.where(prod > 0, prod, 1.0), 100.0), np.nan)
    co2_feed = r["co2_in_mol_s"] * M_CO2 * 3600.0
    co2_vent = out_gas * co2_pct_out / 100.0 / to_nm3_h * M_CO2 * 3600.0
    conv = np.where(co2_feed > 0.5, 100.0 * (1.0 - co2_vent / np.where(co2_feed > 0.5, co2_feed, 1.0)), np.nan)
    water = r["bleed_l_h"] / 1000.0 + p.n_cells * cur / (Z * F) * M_H2O * 3600.0 / 1000.0
    cooling = r["cooling_kw"]
    # Chiller at its COP; negative duty (idle loop kept at temperature) is electric trace heating.
    electricity = (
        power / p.rectifier_efficiency
        + p.bop_kw * (0.4 + 0.6 * r["pump"])
        + np.maximum(cooling, 0.0) / p.chiller_cop
        + np.maximum(-cooling, 0.0)
    )
    return {
        "out_gas": out_gas,
        "h2_pct": h2_pct,
        "co2_pct_out": co2_pct_out,
        "fe_dcs": fe_dcs,
        "prod": prod,
        "power": power,
        "se": se,
        "co2_feed": co2_feed,
        "co2_vent": co2_vent,
        "conv": np.clip(conv, 0.0, 100.0),
        "water": water,
        "electricity": electricity,
    }


def _tag_frame(r: dict[str, np.ndarray], sp: dict[str, np.ndarray], p: CO2ElectrolyzerParams, index) -> pd.DataFrame:
    c = _dcs_calcs(r, p)
    cols = {
        "ECR.IIC101.SP": sp["current"],
        "ECR.II101": r["current_a"],
        "ECR.JI101": r["j"],
        "ECR.EI101": r["v_stack"],
        "ECR.EY101": r["v_stack"] / p.n_cells,
        "ECR.JI102": c["power"],
        "ECR.JI103": c["electricity"],
        "ECR.FIC201.SP": sp["q"],
        "ECR.FI201": r["co2_flow"],
        "ECR.AIC201.SP": sp["y"],
        "ECR.AI201": r["co2_pct"],
        "ECR.FY201": c["co2_feed"],
        "ECR.PDI201": r["dp_kpa"],
        "ECR.FI202": c["out_gas"],
        "ECR.AI202": c["h2_pct"],
        "ECR.AI203": c["co2_pct_out"],
        "ECR.FY202": c["co2_vent"],
        "ECR.XY201": c["conv"],
        "ECR.FI301": r["catholyte_flow"],
        "ECR.TIC301.SP": sp["t"],
        "ECR.TI301": r["inlet_temp_c"],
        "ECR.TI302": r["cell_temp_c"],
        "ECR.AI301": r["ph"],
        "ECR.AI302": r["formate_g_l"],
        "ECR.FI302": r["bleed_l_h"],
        "ECR.FY301": c["prod"],
        "ECR.AY301": c["fe_dcs"],
        "ECR.EY102": c["se"],
        "ECR.FI401": r["o2_nm3_h"],
        "ECR.QI501": r["cooling_kw"],
        "ECR.FY303": r["bleed_l_h"] * p.khco3_mol_l * M_KHCO3,
        "ECR.FY304": c["water"],
        "ECR.KY101": r["age_h"],
    }
    return pd.DataFrame({t.tag: cols[t.tag] for t in TAGS}, index=index)


def _simulate_day(seed: int, day_no: int, params: CO2ElectrolyzerParams) -> tuple[pd.DataFrame, list[Episode]]:
    day_start = _EPOCH + dt.timedelta(days=day_no)
    inputs, sp = _day_inputs(seed, day_no, params)
    r = _respond(inputs, params, 1.0)
    r["pump"] = inputs.pump_on
    step = int(INFO.sampling / dt.timedelta(minutes=1))
    rows = _WARMUP_MIN + np.arange(0, _DAY, step)
    r = {k: np.asarray(v)[rows] if np.ndim(v) else np.full(len(rows), float(v)) for k, v in r.items()}
    sp = {k: v[rows] for k, v in sp.items()}
    index = pd.date_range(day_start, periods=len(rows), freq=INFO.sampling, tz="UTC")
    return _tag_frame(r, sp, params, index), TYPE.day_episodes(seed, day_no)


#: The electrolyzer on the shared simulation engine (:mod:`models.engine`): the day plan, the
#: episode details and the day simulator are its own, the rest is the engine's.
TYPE = PlantType(
    info=INFO,
    tags=TAGS,
    default_params=DEFAULT,
    step=dt.timedelta(minutes=1),
    day_items=lambda seed, day_no: _day_plan(seed, day_no)[1],
    detail=_detail,
    simulate_day=_simulate_day,
)

#: Planned episodes tiling ``[start, end)`` (:meth:`models.engine.PlantType.schedule`): a day's
#: plan comes from its 10-day block and the 40-day maintenance cycle; category shares are
#: exactly 70 / 20 / 8 / 2 % over every aligned block.
schedule = TYPE.schedule
#: True values at 15-min sampling and episodes (:meth:`models.engine.PlantType.simulate_true`);
#: FE and specific energy are NaN while the stack is de-energised (bad quality in the DCS).
simulate_true = TYPE.simulate_true
#: Historian exports plus ground truth (:meth:`models.engine.PlantType.simulate`).
simulate = TYPE.simulate


# --------------------------------------------------------------------------
# What-if experiments
# --------------------------------------------------------------------------

#: Largest CO2 feed flow the mass-flow controller delivers, Nm3/h (FIC201 range).
CO2_FLOW_MAX_NM3_H = 60.0
#: Rectifier ramp rate used in what-if runs, A/min (operating procedure; assumption).
CURRENT_RAMP_A_PER_MIN = 50.0
_WHAT_IF_MAX_H = 24.0 * 31


def _check_finite(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _validate_op(current_a, co2_concentration_pct, co2_flow_nm3_h, p: CO2ElectrolyzerParams, what: str):
    cur = _check_finite(f"{what}current_a", current_a)
    conc = _check_finite(f"{what}co2_concentration_pct", co2_concentration_pct)
    flow = _check_finite(f"{what}co2_flow_nm3_h", co2_flow_nm3_h)
    if cur < 0:
        raise ValueError(f"{what}current_a must be >= 0 A, got {cur:g} A")
    if cur > p.rated_current_a:
        raise ValueError(
            f"{what}current_a {cur:g} A exceeds the stack rating {p.rated_current_a:g} A "
            f"({p.rated_current_density_ma_cm2:g} mA/cm2 on {p.cell_area_cm2:g} cm2 cells)"
        )
    if not 0.0 < conc <= 100.0:
        raise ValueError(f"{what}co2_concentration_pct must lie in (0, 100] %, got {conc:g}")
    if not 0.0 < flow <= CO2_FLOW_MAX_NM3_H:
        raise ValueError(f"{what}co2_flow_nm3_h must lie in (0, {CO2_FLOW_MAX_NM3_H:g}] Nm3/h, got {flow:g}")
    return cur, conc, flow


def what_if(
    current_a: float,
    co2_concentration_pct: float,
    co2_flow_nm3_h: float,
    duration_h: float,
    *,
    start: dt.datetime | None = None,
    params: CO2ElectrolyzerParams | None = None,
    step: dt.timedelta = dt.timedelta(minutes=1),
    initial: OperatingPoint = NOMINAL,
    inlet_temp_c: float | None = None,
    electrode_age_h: float = 0.0,
) -> pd.DataFrame:
    """Response of the stack to new operator set points held for ``duration_h``.

    The run starts at the steady state of ``initial`` (default :data:`NOMINAL`); at t = 0 the CO2
    flow steps to ``co2_flow_nm3_h``, the blend moves to ``co2_concentration_pct`` (3-min mixing
    lag) and the current ramps at 50 A/min to ``current_a``; stack temperature, loop formate
    concentration and pH follow with their first-order dynamics. The last rows equal
    :func:`steady_state` at the new set points.

    Parameters
    ----------
    current_a : float
        Stack current, A (0 .. rated current).
    co2_concentration_pct : float
        CO2 in the feed gas, % (0 < x <= 100).
    co2_flow_nm3_h : float
        Cathode feed gas flow, Nm3/h (0 < x <= 60).
    duration_h : float
        Length of the experiment, h (0 < x <= 744).
    start : datetime, optional
        tz-aware UTC time of the step; the index is then a UTC ``DatetimeIndex``, otherwise a
        ``TimedeltaIndex`` of elapsed time.
    params : CO2ElectrolyzerParams, optional
    step : timedelta
        Output and integration step (default 1 min; at most ``duration_h``).
    initial : OperatingPoint
        Operating point before the step.
    inlet_temp_c : float, optional
        Catholyte inlet temperature after the step (default: ``initial.inlet_temp_c``).
    electrode_age_h : float
        Electrode age at the start (degradation state); it advances with time.

    Returns
    -------
    DataFrame
        One row per step from 0 to ``duration_h`` inclusive: ``elapsed_h``, ``current_a``,
        ``current_density_ma_cm2``, ``co2_flow_nm3_h``, ``co2_concentration_pct``,
        ``faradaic_efficiency_pct``, ``cell_voltage_v``, ``stack_voltage_v``, ``cell_temp_c``,
        ``formic_acid_kg_h`` (100 % HCOOH), ``formic_acid_cum_kg``, ``h2_outlet_pct``,
        ``co2_outlet_pct``, ``co2_conversion_pct``, ``co2_vented_kg_h``, ``stack_power_kw``,
        ``energy_kwh`` (cumulative stack DC energy), ``specific_energy_kwh_kg`` (instantaneous),
        ``formate_g_l``, ``ph``, ``co2_stoich_ratio`` (CO2 fed / CO2 needed at FE = 1) and
        ``co2_starved`` (ratio < 1: the feed cannot sustain the current as formate).

    Raises
    ------
    ValueError
        Current negative or above the stack rating, concentration outside (0, 100] %, flow
        outside (0, 60] Nm3/h, non-positive or too long duration, bad step or start.

    Warns
    -----
    UserWarning
        If the new set points starve the stack of CO2 (``co2_starved``); the run still completes.
    """
    p = DEFAULT if params is None else params
    cur, conc, flow = _validate_op(current_a, co2_concentration_pct, co2_flow_nm3_h, p, "")
    cur0, conc0, flow0 = _validate_op(initial.current_a, initial.co2_concentration_pct, initial.co2_flow_nm3_h, p,
                                      "initial.")
    dur = _check_finite("duration_h", duration_h)
    if not 0.0 < dur <= _WHAT_IF_MAX_H:
        raise ValueError(f"duration_h must lie in (0, {_WHAT_IF_MAX_H:g}] h, got {dur:g}")
    if not isinstance(step, dt.timedelta) or step <= dt.timedelta(0) or step > dt.timedelta(hours=dur):
        raise ValueError(f"step must be a positive timedelta no longer than duration_h, got {step!r}")
    if start is not None and (start.tzinfo is None or start.utcoffset() != dt.timedelta(0)):
        raise ValueError(f"start must be a tz-aware UTC datetime, got {start!r}")
    t0 = _check_finite("initial.inlet_temp_c", initial.inlet_temp_c)
    t1 = t0 if inlet_temp_c is None else _check_finite("inlet_temp_c", inlet_temp_c)
    for name, value in (("initial.inlet_temp_c", t0), ("inlet_temp_c", t1)):
        if not 5.0 <= value <= 80.0:
            raise ValueError(f"{name} must lie in [5, 80] degC (catholyte loop design range), got {value:g}")
    age0 = _check_finite("electrode_age_h", electrode_age_h)
    if age0 < 0:
        raise ValueError(f"electrode_age_h must be >= 0, got {age0:g}")

    dt_min = step.total_seconds() / 60.0
    n_steps = int(math.floor(dur * 60.0 / dt_min + 1e-9))
    n = n_steps + 2  # row 0 = state before the step (dropped), rows 1.. = t = 0 .. duration
    elapsed_min = (np.arange(n) - 1) * dt_min
    ramp = np.clip(elapsed_min * CURRENT_RAMP_A_PER_MIN, 0.0, None)
    current = np.where(elapsed_min < 0, cur0, np.where(cur >= cur0, np.minimum(cur0 + ramp, cur),
                                                       np.maximum(cur0 - ramp, cur)))
    before = elapsed_min < 0
    inp = _Inputs(
        current_a=current,
        co2_flow_nm3_h=np.where(before, flow0, flow),
        co2_pct_target=np.where(before, conc0, conc),
        inlet_temp_c=np.where(before, t0, t1),
        catholyte_flow_m3_h=np.full(n, p.catholyte_flow_m3_h),
        bleed_l_h=p.bleed_l_per_ah * current,
        age_h=age0 + np.maximum(elapsed_min, 0.0) / 60.0,
        jlim_factor=np.ones(n),
        asr_extra=np.zeros(n),
        dp_factor=np.ones(n),
        active_cells=np.full(n, float(p.n_cells)),
        hot_spot_k=np.zeros(n),
        pump_on=np.ones(n),
    )
    r = {k: np.asarray(v)[1:] for k, v in _respond(inp, p, dt_min).items()}
    to_nm3_h = V_M_NORMAL * 3600.0
    out_gas = r["co2_out_mol_s"] + r["h2_mol_s"] + r["inert_mol_s"]
    safe_gas = np.where(out_gas > 0, out_gas, 1.0)
    need = p.n_cells * r["current_a"] / (Z * F)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(need > 0, r["co2_in_mol_s"] / np.where(need > 0, need, 1.0), np.inf)
        se = np.where(r["prod_kg_h"] > 0, r["power_kw"] / np.where(r["prod_kg_h"] > 0, r["prod_kg_h"], 1.0), np.nan)
    hours = elapsed_min[1:] / 60.0
    dt_h = dt_min / 60.0

    def cumulative(rate: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * dt_h)])

    starved = ratio < 1.0
    if starved.any():
        warnings.warn(
            f"CO2 feed {conc:g} % x {flow:g} Nm3/h supplies only {float(ratio[-1]):.2f} x the CO2 that "
            f"{cur:g} A would convert at 100 % FE: the stack is CO2-starved, excess current makes H2",
            UserWarning,
            stacklevel=2,
        )
    frame = pd.DataFrame(
        {
            "elapsed_h": hours,
            "current_a": r["current_a"],
            "current_density_ma_cm2": r["j"],
            "co2_flow_nm3_h": r["co2_flow"],
            "co2_concentration_pct": r["co2_pct"],
            "faradaic_efficiency_pct": 100.0 * r["fe"],
            "cell_voltage_v": r["v_cell_true"],
            "stack_voltage_v": r["v_stack"],
            "cell_temp_c": r["cell_temp_c"],
            "formic_acid_kg_h": r["prod_kg_h"],
            "formic_acid_cum_kg": cumulative(r["prod_kg_h"]),
            "h2_outlet_pct": np.where(out_gas > 0, 100.0 * r["h2_mol_s"] / safe_gas, 0.0),
            "co2_outlet_pct": np.where(out_gas > 0, 100.0 * r["co2_out_mol_s"] / safe_gas, 0.0),
            "co2_conversion_pct": 100.0 * (1.0 - r["co2_out_mol_s"] / r["co2_in_mol_s"]),
            "co2_vented_kg_h": r["co2_out_mol_s"] * M_CO2 * 3600.0,
            "outlet_gas_nm3_h": out_gas * to_nm3_h,
            "stack_power_kw": r["power_kw"],
            "energy_kwh": cumulative(r["power_kw"]),
            "specific_energy_kwh_kg": se,
            "formate_g_l": r["formate_g_l"],
            "ph": r["ph"],
            "co2_stoich_ratio": ratio,
            "co2_starved": starved,
        }
    )
    if start is None:
        frame.index = pd.timedelta_range(start=pd.Timedelta(0), periods=len(frame), freq=step, name="elapsed")
    else:
        frame.index = pd.date_range(pd.Timestamp(start).tz_convert("UTC"), periods=len(frame), freq=step, name="ts")
    return frame


# --------------------------------------------------------------------------
# Surrogate and hybrid twin (module kept separate; sklearn is imported lazily)
# --------------------------------------------------------------------------

from models._co2_electrolyzer_surrogate import (  # noqa: E402  (re-export after the names it uses)
    DEFAULT_SURROGATE_INPUTS,
    DEFAULT_SURROGATE_OUTPUTS,
    VARIABLES,
    HybridTwin,
    MechanisticTwin,
    Surrogate,
    SurrogateMetrics,
    check_surrogate_inputs,
    train_surrogate,
)
