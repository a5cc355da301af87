"""CO2 electrolyzer physics: constants, parameters, thermodynamics, Faraday, kinetics, CO2 mass transfer, steady state and stack dynamics."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter


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
