"""Physics of a Hall–Héroult reduction cell with prebaked anodes (used by :mod:`models.smelter`).

Plain functions, parameters in, numbers out. Everything is written with
arithmetic, ``exp``, ``log`` and ``sqrt`` on numpy arrays (vectorised over
cells or time), so that it can be ported to an algebraic (Pyomo) model; the
only iterative pieces are the Newton inverse of an asymmetric Butler–Volmer
law, the banded linear solves of the conduction model and the scalar root
of :func:`steady_state`.

Units, unless a name says otherwise: line current ``kA``, current density
``A/cm**2``, voltage ``V``, temperature ``degC`` (``temp_k`` in K),
concentrations in ``wt %`` of bath, anode–cathode distance (ACD) ``cm``,
heat flows ``kW`` per cell, heat fluxes ``W/m**2``, time ``h``.

Sources
-------
* [TH01] J. Thonstad, P. Fellner, G. M. Haarberg, J. Híveš, H. Kvande,
  Å. Sterten, *Aluminium Electrolysis — Fundamentals of the Hall–Héroult
  Process*, 3rd ed., Aluminium-Verlag, Düsseldorf, 2001 (orders of magnitude
  of the voltage components, ~2.2 S/cm bath conductivity, typical current
  efficiency 92–96 %, Pearson–Waddington relation between anode-gas
  composition and current efficiency).
* [HA98] W. E. Haupin, "Interpreting the components of cell voltage",
  Light Metals 1998, TMS, pp. 531–537: reversible potential
  E0 = 1.896 - 0.000572 T(K) for 2 Al2O3 + 3 C = 4 Al + 3 CO2 and the
  alumina-activity correction, anode reaction (Tafel) overvoltage with
  i_r = 0.0029 [Al2O3]^0.56 A/cm**2 and slope T/12533 V, cathode
  concentration overvoltage, bubble-layer thickness and coverage.
* [GW88] K. Grjotheim, B. J. Welch, *Aluminium Smelter Technology — a Pure
  and Applied Approach*, 2nd ed., Aluminium-Verlag, 1988 (cell design and
  operating practice).
* [SO96] A. Solheim, S. Rolseth, E. Skybakmoen, L. Støen, Å. Sterten,
  T. Støre, "Liquidus temperatures for primary crystallization of cryolite
  in molten salt systems of interest for aluminum electrolysis",
  Metall. Mater. Trans. B 27 (1996) 739–744.
* [SK97] E. Skybakmoen, A. Solheim, Å. Sterten, "Alumina solubility in
  molten salt systems of interest for aluminum electrolysis and related phase
  diagram data", Metall. Mater. Trans. B 28 (1997) 81–86.
* [WA92] X. Wang, R. D. Peterson, A. T. Tabereaux, "A multiple regression
  equation for the electrical conductivity of cryolitic melts", Light Metals
  1992, TMS: ln kappa = 1.977 - 0.0200[Al2O3] - 0.0131[AlF3]
  - 0.0060[CaF2] - 1204.3/T (wt %, K; MgF2, LiF, KF terms omitted here).
* [IPCC06] IPCC 2006 Guidelines for National GHG Inventories, Vol. 3,
  Ch. 4.4 (Primary aluminium production): Tier 2/3 CO2 from prebaked anode
  consumption (Eq. 4.21: NAC x MP x (100 - S_a - Ash_a)/100 x 44/12, default
  S_a = 2 %, Ash_a = 0.4 %) and the Tier 2 slope method for PFCs (Eq. 4.25,
  Table 4.16: CWPB slope 0.143 (kg CF4/t Al)/(AE-min/cell-day), C2F6/CF4
  weight fraction 0.121). The 2019 Refinement re-classifies point-fed
  prebake technologies and adds low-voltage anode-effect emissions, which
  this model does not represent; the 2006 CWPB coefficients are used.
* [JANAF] M. W. Chase, NIST-JANAF Thermochemical Tables, 4th ed., J. Phys.
  Chem. Ref. Data Monograph 9 (1998); formation enthalpies at 298.15 K as
  in CODATA: Al2O3(alpha) -1675.7, CO2 -393.51, CO -110.53 kJ/mol.

Where a number is an assumption of this project it says so.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import solve_banded
from scipy.optimize import brentq

__all__ = [
    "FARADAY",
    "GAS_CONSTANT",
    "Grid",
    "KG_AL_PER_KAH",
    "Layer",
    "NOMINAL_RESISTANCE_UOHM",
    "SmelterParams",
    "SteadyState",
    "VoltageBreakdown",
    "WallModel",
    "acd_for_voltage",
    "alumina_activity",
    "alumina_saturation_wt",
    "alumina_step",
    "anode_concentration_overvoltage",
    "anode_effect_threshold_wt",
    "anode_exchange_current_density",
    "anode_gas_co2_fraction",
    "bath_conductivity",
    "bath_heat_step",
    "bath_ratio",
    "bubble_layer",
    "butler_volmer_current",
    "butler_volmer_overpotential",
    "carbon_consumption_t_per_t",
    "cathode_concentration_overvoltage",
    "cathode_voltage_drop",
    "cell_voltage_breakdown",
    "composite_wall_flux",
    "conduction_matrices",
    "current_efficiency",
    "dissolution_rate_constant",
    "enthalpy_voltage",
    "faraday_aluminium_kg_h",
    "heat_balance_resistance",
    "heat_loss_floor_flux",
    "ledge_thickness_m",
    "limiting_current_density",
    "liquidus_temperature",
    "make_grid",
    "pfc_slope_method",
    "process_co2_t_per_t",
    "reversible_potential",
    "side_flux",
    "solve_conduction",
    "specific_energy_kwh_per_kg",
    "steady_conduction",
    "steady_state",
    "stoichiometric_co2_t_per_t",
]

# --------------------------------------------------------------------------
# Constants (CODATA 2018 / IUPAC 2021 standard atomic weights)
# --------------------------------------------------------------------------

FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)
M_AL = 26.9815385  # g/mol
M_O = 15.999
M_C = 12.011
M_F = 18.998403
M_NA = 22.98977
M_AL2O3 = 2 * M_AL + 3 * M_O  # 101.961
M_CO2 = M_C + 2 * M_O  # 44.009
M_NAF = M_NA + M_F
M_ALF3 = M_AL + 3 * M_F
M_NA2O = 2 * M_NA + M_O
#: Mass of aluminium deposited per kA h at 100 % current efficiency (Faraday, z = 3): 0.33557 kg.
KG_AL_PER_KAH = 3.6e6 * M_AL / (3.0 * FARADAY) / 1000.0
#: Mass fraction of NaF in cryolite Na3AlF6 (3 NaF . AlF3).
X_NAF_CRYOLITE = 3 * M_NAF / (3 * M_NAF + M_ALF3)
ZERO_C = 273.15

# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SmelterParams:
    """Potline-section parameters: 100 cells of a 350 kA point-fed prebake technology.

    Geometry and heat-balance numbers describe a generic modern ~350 kA
    cell; they are this project's assumptions of typical magnitude (no
    vendor's design), unless a source is given.

    Attributes
    ----------
    n_cells : int
        Cells in the simulated potline section (in series). Assumption, 100.
    nominal_current_ka : float
        Nominal line current, kA. Assumption, 350.
    n_anodes : int
        Prebaked anodes per cell (set in pairs). Assumption, 40.
    anode_length_m, anode_width_m : float
        Anode footprint, m; 40 x 1.60 x 0.68 m = 43.5 m**2, i.e. 0.80 A/cm**2 at
        350 kA. Assumption (typical of 300–400 kA cells, [GW88]).
    anode_height_new_m, anode_butt_m : float
        Carbon height of a new anode and of the butt at removal, m. Assumption, 0.60 / 0.15.
    anode_life_d : float
        Anode cycle (time between settings of one anode), d. Assumption, 28 (typical 25–30).
    anode_density_kg_m3 : float
        Baked-anode apparent density, kg/m**3. Assumption, 1550 (typical 1.50–1.60 g/cm**3).
    anode_cp_kj_kg_k : float
        Mean heat capacity of anode carbon between 25 and 960 degC, kJ/(kg K).
        Assumption, 1.5.
    anode_heatup_h : float
        Time constant of the heat uptake of a freshly set (cold) anode, h. Assumption, 8.
    anode_pickup_h : float
        Time constant with which a new anode picks up its share of the cell
        current (frozen bath under a cold anode), h. Assumption, 8.
    anode_resistivity_uohm_m : float
        Electrical resistivity of baked anode carbon, micro-ohm m. Assumption,
        55 (typical specification 50–60).
    anode_fixed_uohm : float
        Cell resistance of rods, yokes and the stub–carbon contact, micro-ohm.
        Assumption, 0.33 (with the carbon term, an anode drop of ~0.29 V at 350 kA).
    cathode_area_m2 : float
        Current-carrying metal-pad (cathode) area, m**2. Assumption, 54.
    fanning : float
        Ratio of the effective (fanned) bath conduction area to the anode
        footprint, as used with Haupin's voltage analysis. Assumption, 1.10.
    side_area_m2 : float
        Ledge-covered sidewall area in contact with bath and metal, m**2. Assumption, 18.
    bath_mass_kg, metal_mass_kg : float
        Liquid bath and metal inventories per cell, kg. Assumption, 7000 / 27000.
    bath_cp_kj_kg_k, metal_cp_kj_kg_k : float
        Heat capacities, kJ/(kg K): cryolitic melt ~1.88 (assumption, [TH01]
        order of magnitude), liquid aluminium 1.177 (31.75 J/(mol K), [JANAF]).
    solid_heat_capacity_kj_k : float
        Heat capacity of the solids that follow the melt temperature within
        hours (lower anode carbon, cathode blocks), kJ/K. Assumption, 50 000
        (~40 t of anodes and ~20 t of cathode carbon, partly coupled).
    bath_density_g_cm3 : float
        Bath density at 960 degC, g/cm**3. Assumption, 2.08 ([TH01]: 2.05–2.10).
    metal_density_kg_m3 : float
        Liquid aluminium density near 960 degC, kg/m**3 (~2300, [TH01]).
    metal_height_after_tap_cm : float
        Metal-pad height just after tapping, cm. Assumption, 20.
    tap_interval_d : int
        Each cell is tapped every ``tap_interval_d`` days (half the section per
        daily tapping round). Assumption, 2.
    caf2_wt : float
        CaF2 in bath, wt %. Assumption, 5.0.
    alf3_target_wt : float
        Excess-AlF3 target of the bath-chemistry control, wt %. Assumption, 12.0.
    alf3_wander_wt : tuple of float
        Amplitudes (wt %) of the slow excess-AlF3 excursions around the target
        (periods 11 d and 4.3 d). Assumption, (0.4, 0.15).
    anode_alpha : float
        Apparent anodic transfer coefficient of the anode reaction. 1.08, from
        Haupin's Tafel slope T/12533 V = RT/(alpha F) [HA98].
    anode_j0_coeff, anode_j0_exp : float
        Exchange current density of the anode reaction i_r = coeff x
        [Al2O3]^exp, A/cm**2 (wt %): 0.0029 and 0.56 [HA98].
    cathode_alpha : float
        Transfer coefficient of the cathode charge transfer (Al(III) + 3e),
        symmetric. Assumption, 1.5 (3 electrons, symmetry factor 0.5).
    cathode_j0 : float
        Cathodic exchange current density, A/cm**2. Assumption, 5; charge
        transfer at the cathode is fast and its overvoltage negligible, the
        cathode overvoltage is mainly a concentration overvoltage [TH01], [HA98].
    mass_transfer_cm_s : float
        Mass-transfer coefficient of the oxide-bearing species to the anode
        (Fick film), cm/s. Assumption, 3.8e-3, chosen so that the limiting
        current 6 F k c equals 0.80 A/cm**2 at 1.79 wt % Al2O3: the anode
        effect sets in at 1.5–2 wt % alumina [TH01].
    cvd_new_v, cvd_rise_v, cvd_rise_d, cvd_slope_v_per_yr : float
        Cathode voltage drop at the nominal current: 0.22 V for a new cell,
        rising by 0.04 V with time constant 180 d (sodium and bath penetration)
        and by 0.010 V/yr afterwards. Assumption (typical 0.25–0.35 V).
    external_uohm : float
        Share of the external busbar resistance per cell, micro-ohm. Assumption,
        0.43 (0.15 V at 350 kA).
    back_emf_v : float
        Intercept of the pot-control pseudo-resistance R = (V - E) / I, V.
        Assumption, 1.65 (common pot-control convention, [GW88]).
    acd_min_cm, acd_max_cm : float
        ACD limits of the pot control, cm. Assumption, 3.0 / 6.5.
    ae_voltage_v : float
        Mean cell voltage during an anode effect, V. Assumption, 25.
    ce_ref, ce_t_ref_c, ce_dt, ce_alf3, ce_acd, ce_acd_ref_cm, ce_j, ce_j_ref : float
        Current-efficiency correlation (this project's assumption, see
        :func:`current_efficiency`): 0.945 at 965 degC, -0.0020 per K, +0.0025
        per wt % excess AlF3, +0.030 ln(ACD/4.5 cm), +0.020 ln(j/0.80 A/cm**2).
    h_bath_ledge_w_m2k : float
        Bath-to-ledge heat-transfer coefficient, W/(m**2 K). Assumption, 1200
        (literature values are of order 10**3).
    k_ledge_w_mk : float
        Thermal conductivity of the frozen ledge, W/(m K). Assumption, 1.2.
    ledge_max_cm : float
        Largest ledge thickness (ledge toe reaches under the anodes), cm. Assumption, 25.
    sic_thickness_m, sic_wear_m_per_yr : float
        Si3N4-bonded SiC sidewall block thickness of a new lining, m, and its
        loss by oxidation/erosion, m/yr. Assumption, 0.09 / 0.003.
    sic_k_w_mk, sic_rho_kg_m3, sic_cp_j_kg_k : float
        SiC block properties. Assumption, 18 W/(m K), 2650 kg/m**3, 1000 J/(kg K).
    shell_thickness_m, shell_k_w_mk, shell_rho_kg_m3, shell_cp_j_kg_k : float
        Steel shell. Assumption, 0.02 m, 45 W/(m K), 7850 kg/m**3, 550 J/(kg K).
    h_air_w_m2k : float
        Effective shell-to-potroom coefficient (radiation + convection with
        forced shell ventilation), W/(m**2 K). Assumption, 35.
    g_top_kw_k, g_bottom_kw_k, g_bottom_aging_per_yr : float
        Conductances of the other heat-loss paths (anode assembly and cover,
        cathode bottom) per cell, kW/K of bath-to-air difference; the bottom
        path degrades by 6 %/yr (bath penetration into the insulation).
        Assumption, calibrated to ~50 % of the electrical input lost as heat.
    latent_kj_kg : float
        Heat of fusion of cryolite, kJ/kg (~107 kJ/mol, [JANAF]), 510.
    freeze_interval_k : float
        Temperature interval over which a cooling bath freezes out (liquidus
        depression as the melt enriches in AlF3), K. Assumption, 30.
    alumina_cycle_h, underfeed_fraction, alumina_low_wt, alumina_high_wt : float
        Point-feeder tracking cycle: period 2.5 h, underfeed over 70 % of it,
        concentration swinging between 2.3 and 3.3 wt %. Assumption (typical
        practice, [GW88]).
    feeder_capacity : float
        Maximum feed rate relative to the nominal consumption. Assumption, 2.5.
    dissolution_per_h : float
        Dissolution rate constant k A of undissolved alumina at the reference
        driving force (c_sat - c) = 5 wt % and ample superheat, 1/h (Fick film:
        rate = k A (c_sat - c)). Assumption, 20 (time constant 3 min).
    dissolution_superheat_k : float
        Superheat at which dissolution is half as fast (alumina dissolution
        draws heat; a cold bath forms sludge). Assumption, 3 K.
    alumina_loss_frac : float
        Fraction of the fed alumina lost (dust, not dissolved). Assumption, 0.015.
    na2o_wt : float
        Na2O in smelter-grade alumina, wt %. Assumption, 0.35 (it consumes AlF3:
        3 Na2O + 2 AlF3 -> 6 NaF + Al2O3).
    fluoride_loss_kg_alf3_per_t : float
        Fluoride lost to the environment and to spent materials, kg AlF3
        equivalent per t Al. Assumption, 8.
    ae_rate_per_cell_day, ae_alumina_scale_wt : float
        Spontaneous anode effects: rate lambda = rate x exp(-(c - c_AE)/scale)
        per cell-day. Assumption, 1.6 per cell-day and 0.3 wt %: about 0.09
        AE/cell-day and 0.13 AE-min/cell-day in normal operation (of the order
        reported for modern point-fed prebake lines in the IAI anode-effect surveys).
    ae_duration_median_min, ae_duration_sigma : float
        Log-normal anode-effect duration: median 1.2 min, log-sd 0.6. Assumption.
    excess_carbon_t_per_t : float
        Carbon consumed beyond the electrolytic demand (air burn, carboxy
        reactivity, dusting), t C/t Al. Assumption, 0.060; with CE 0.945 it
        gives a net carbon consumption of 0.41 t C/t Al and ~1.5 t CO2/t Al.
    anode_sulfur_wt, anode_ash_wt : float
        Sulfur and ash in baked anodes, wt % ([IPCC06] defaults 2.0 / 0.4).
    pfc_slope_cf4, pfc_c2f6_per_cf4 : float
        Tier 2 slope coefficient, (kg CF4/t Al)/(AE-min/cell-day), and the
        C2F6/CF4 weight fraction, CWPB: 0.143 and 0.121 [IPCC06].
    duct_flow_nm3_h_per_cell : float
        Pot exhaust (fume duct) flow per cell, Nm**3/h. Assumption, 7500.
    hf_kg_per_t, hf_dt_per_k, hf_alf3_per_wt : float
        Raw-gas HF generation, kg HF/t Al at 965 degC and 12 wt % AlF3, and its
        sensitivities (vapour pressure of NaAlF4 rising with temperature and
        acidity). Assumption, 10 kg/t, +2 %/K, +3 %/wt %.
    rectifier_efficiency : float
        AC-to-DC efficiency of the rectifier and its transformers. Assumption, 0.975.
    auxiliary_kw : float
        Auxiliary load of the section (fume-treatment fans, cranes,
        compressed air) on the same meter, kW. Assumption, 1500.
    commissioning : datetime.date
        Start-up of the section's cells (cell age zero). Assumption,
        2021-01-01; relining is not due within the simulated years.
    """

    n_cells: int = 100
    nominal_current_ka: float = 350.0
    n_anodes: int = 40
    anode_length_m: float = 1.60
    anode_width_m: float = 0.68
    anode_height_new_m: float = 0.60
    anode_butt_m: float = 0.15
    anode_life_d: float = 28.0
    anode_density_kg_m3: float = 1550.0
    anode_cp_kj_kg_k: float = 1.5
    anode_heatup_h: float = 8.0
    anode_pickup_h: float = 8.0
    anode_resistivity_uohm_m: float = 55.0
    anode_fixed_uohm: float = 0.33
    cathode_area_m2: float = 54.0
    fanning: float = 1.10
    side_area_m2: float = 18.0
    bath_mass_kg: float = 7000.0
    metal_mass_kg: float = 27000.0
    bath_cp_kj_kg_k: float = 1.88
    metal_cp_kj_kg_k: float = 1.177
    solid_heat_capacity_kj_k: float = 50000.0
    bath_density_g_cm3: float = 2.08
    metal_density_kg_m3: float = 2300.0
    metal_height_after_tap_cm: float = 20.0
    tap_interval_d: int = 2
    caf2_wt: float = 5.0
    alf3_target_wt: float = 12.0
    alf3_wander_wt: tuple[float, float] = (0.4, 0.15)
    anode_alpha: float = 1.08
    anode_j0_coeff: float = 0.0029
    anode_j0_exp: float = 0.56
    cathode_alpha: float = 1.5
    cathode_j0: float = 5.0
    mass_transfer_cm_s: float = 3.8e-3
    cvd_new_v: float = 0.22
    cvd_rise_v: float = 0.04
    cvd_rise_d: float = 180.0
    cvd_slope_v_per_yr: float = 0.010
    external_uohm: float = 0.43
    back_emf_v: float = 1.65
    acd_min_cm: float = 3.0
    acd_max_cm: float = 6.5
    ae_voltage_v: float = 25.0
    ce_ref: float = 0.945
    ce_t_ref_c: float = 965.0
    ce_dt: float = 0.0020
    ce_alf3: float = 0.0025
    ce_acd: float = 0.030
    ce_acd_ref_cm: float = 4.5
    ce_j: float = 0.020
    ce_j_ref: float = 0.80
    h_bath_ledge_w_m2k: float = 1200.0
    k_ledge_w_mk: float = 1.2
    ledge_max_cm: float = 25.0
    sic_thickness_m: float = 0.09
    sic_wear_m_per_yr: float = 0.003
    sic_k_w_mk: float = 18.0
    sic_rho_kg_m3: float = 2650.0
    sic_cp_j_kg_k: float = 1000.0
    shell_thickness_m: float = 0.02
    shell_k_w_mk: float = 45.0
    shell_rho_kg_m3: float = 7850.0
    shell_cp_j_kg_k: float = 550.0
    h_air_w_m2k: float = 35.0
    g_top_kw_k: float = 0.44
    g_bottom_kw_k: float = 0.10
    g_bottom_aging_per_yr: float = 0.06
    latent_kj_kg: float = 510.0
    freeze_interval_k: float = 30.0
    alumina_cycle_h: float = 2.5
    underfeed_fraction: float = 0.7
    alumina_low_wt: float = 2.3
    alumina_high_wt: float = 3.3
    feeder_capacity: float = 2.5
    dissolution_per_h: float = 20.0
    dissolution_superheat_k: float = 3.0
    alumina_loss_frac: float = 0.015
    na2o_wt: float = 0.35
    fluoride_loss_kg_alf3_per_t: float = 8.0
    ae_rate_per_cell_day: float = 1.6
    ae_alumina_scale_wt: float = 0.3
    ae_duration_median_min: float = 1.2
    ae_duration_sigma: float = 0.6
    excess_carbon_t_per_t: float = 0.060
    anode_sulfur_wt: float = 2.0
    anode_ash_wt: float = 0.4
    pfc_slope_cf4: float = 0.143
    pfc_c2f6_per_cf4: float = 0.121
    duct_flow_nm3_h_per_cell: float = 7500.0
    hf_kg_per_t: float = 10.0
    hf_dt_per_k: float = 0.02
    hf_alf3_per_wt: float = 0.03
    rectifier_efficiency: float = 0.975
    auxiliary_kw: float = 1500.0
    commissioning: dt.date = field(default=dt.date(2021, 1, 1))

    @property
    def anode_area_cm2(self) -> float:
        """Total anode footprint of one cell, cm**2."""
        return self.n_anodes * self.anode_length_m * self.anode_width_m * 1e4

    @property
    def cathode_area_cm2(self) -> float:
        return self.cathode_area_m2 * 1e4

    @property
    def heat_capacity_kj_k(self) -> float:
        """Sensible heat capacity of liquid bath + metal + coupled solids per cell, kJ/K."""
        return (self.bath_mass_kg * self.bath_cp_kj_kg_k + self.metal_mass_kg * self.metal_cp_kj_kg_k
                + self.solid_heat_capacity_kj_k)

    @property
    def anode_heat_kj(self) -> float:
        """Heat to bring one new anode from 25 degC to ~965 degC, kJ."""
        mass = self.anode_length_m * self.anode_width_m * self.anode_height_new_m * self.anode_density_kg_m3
        return mass * self.anode_cp_kj_kg_k * (965.0 - 25.0)

    @property
    def anode_heat_kw(self) -> float:
        """Mean heat drawn per cell by the anode-setting cycle, kW."""
        per_day = self.n_anodes / self.anode_life_d * self.anode_heat_kj
        return per_day / 86400.0

    def cell_age_days(self, when) -> np.ndarray:
        """Cell age (d) at ``when`` (datetime or seconds since the epoch), zero before commissioning."""
        start = dt.datetime.combine(self.commissioning, dt.time(), tzinfo=dt.timezone.utc).timestamp()
        secs = when.timestamp() if isinstance(when, dt.datetime) else np.asarray(when, dtype=float)
        return np.maximum((secs - start) / 86400.0, 0.0)


DEFAULT = SmelterParams()

# --------------------------------------------------------------------------
# Faraday's law, energy, carbon and CO2
# --------------------------------------------------------------------------


def faraday_aluminium_kg_h(current_ka, current_efficiency):
    """Aluminium production rate, kg/h per cell: KG_AL_PER_KAH x I x CE.

    ``KG_AL_PER_KAH`` = 3.6e6 C/kAh x 26.98 g/mol / (3 x 96485 C/mol) = 0.33557 kg/(kA h).
    """
    return KG_AL_PER_KAH * np.asarray(current_ka, dtype=float) * current_efficiency


def specific_energy_kwh_per_kg(cell_voltage_v, current_efficiency):
    """DC energy per kg of aluminium, kWh/kg: V / (0.33557 x CE)."""
    return np.asarray(cell_voltage_v, dtype=float) / (KG_AL_PER_KAH * current_efficiency)


def carbon_consumption_t_per_t(current_efficiency, params: SmelterParams = DEFAULT):
    """Net carbon consumption, t C/t Al: electrolytic demand plus excess consumption.

    Per Faraday of charge the anode reaction C + 2 O(2-) -> CO2 + 4 e- takes
    1/4 mol C. The back reaction 2 Al + 3 CO2 -> Al2O3 + 3 CO (the cause of
    current efficiency below 1) turns CO2 into CO but does not change the
    carbon taken from the anode, while only CE/3 mol Al per Faraday survive.
    Hence (3/4) M_C / M_Al / CE = 0.3339/CE t C/t Al, plus the excess carbon
    burnt by air and CO2 (Boudouard, carboxy reactivity) or lost as dust.
    """
    electrolytic = 0.75 * M_C / M_AL / np.asarray(current_efficiency, dtype=float)
    return electrolytic + params.excess_carbon_t_per_t


def stoichiometric_co2_t_per_t(current_efficiency=1.0):
    """CO2 from the electrolytic carbon only, all carbon as CO2, t CO2/t Al.

    2 Al2O3 + 3 C -> 4 Al + 3 CO2 gives 3 M_CO2 / (4 M_Al) = 1.2233 t CO2/t Al
    at CE = 1. At CE < 1 the anode gas holds (2 CE - 1) CO2 and 2 (1 - CE) CO
    per mole of gas (Pearson–Waddington, [TH01]); counting the CO as CO2
    after its oxidation the minimum becomes 1.2233/CE.
    """
    return 3 * M_CO2 / (4 * M_AL) / np.asarray(current_efficiency, dtype=float)


def anode_gas_co2_fraction(current_efficiency):
    """Mole fraction of CO2 in the primary anode gas (CO2 + CO), Pearson–Waddington: 2 CE - 1."""
    return 2.0 * np.asarray(current_efficiency, dtype=float) - 1.0


def process_co2_t_per_t(net_anode_t_per_t, params: SmelterParams = DEFAULT):
    """[IPCC06] Eq. 4.21 per t Al: NAC x (100 - S_a - Ash_a)/100 x 44/12 (t CO2/t Al)."""
    return net_anode_t_per_t * (100.0 - params.anode_sulfur_wt - params.anode_ash_wt) / 100.0 * 44.0 / 12.0


def pfc_slope_method(aem, production_t, params: SmelterParams = DEFAULT):
    """Tier 2 slope method [IPCC06] Eq. 4.25: CF4 and C2F6 (kg) for ``production_t`` of aluminium.

    ``aem`` is the anode-effect minutes per cell-day of the period.
    E_CF4 = slope x AEM x MP; E_C2F6 = E_CF4 x F_C2F6/CF4.
    """
    cf4 = params.pfc_slope_cf4 * np.asarray(aem, dtype=float) * production_t
    return cf4, cf4 * params.pfc_c2f6_per_cf4


# Sensible enthalpies H(T) - H(298.15 K) near 1238 K, kJ/mol, and heat capacities
# there, J/(mol K): CO2, CO and Al(l) (relative to Al(s) at 298 K, incl. fusion) from
# the NIST Shomate fits of [JANAF]; graphite and alpha-Al2O3 integrated from tabulated
# heat capacities (+-1-3 kJ/mol). Together they move the enthalpy voltage by < 10 mV.
_H_REF_K = 1238.15
_H_SENS = {"al": (38.4, 31.75), "co2": (46.6, 57.4), "co": (29.7, 35.3), "c": (17.3, 24.0), "al2o3": (108.0, 126.0)}
_DHF = {"al2o3": -1675.7, "co2": -393.51, "co": -110.53}


def _h_sens(species: str, temp_k):
    h, cp = _H_SENS[species]
    return h + cp * 1e-3 * (temp_k - _H_REF_K)


def enthalpy_voltage(current_efficiency, temp_c, params: SmelterParams = DEFAULT):
    """Voltage equivalent of the enthalpy demand of the cell reaction, V.

    Per Faraday: 1/6 Al2O3 (25 degC) + 1/4 C (at bath temperature; the heat to
    warm anodes is booked separately as the anode-setting heat sink) ->
    1/3 Al(l) + 1/4 CO2 at bath temperature, minus the heat released by the
    back reaction of the fraction (1 - CE): (1-CE)/3 Al + (1-CE)/2 CO2 ->
    (1-CE)/6 Al2O3 + (1-CE)/2 CO. Formation enthalpies [JANAF]; dissolution
    enthalpy of alumina neglected. E_H ~ 2.08 V at CE = 1 and ~2.00 V at CE =
    0.945 near 965 degC; the cell's heat generation is I (V_cell - V_ext - E_H).
    """
    t = temp_c + ZERO_C
    ce = current_efficiency
    primary = (
        _h_sens("al", t) / 3.0
        + (_DHF["co2"] + _h_sens("co2", t)) / 4.0
        - _DHF["al2o3"] / 6.0
        - _h_sens("c", t) / 4.0
    )
    back = (
        (_DHF["al2o3"] + _h_sens("al2o3", t)) / 6.0
        + (_DHF["co"] + _h_sens("co", t)) / 2.0
        - _h_sens("al", t) / 3.0
        - (_DHF["co2"] + _h_sens("co2", t)) / 2.0
    )
    return (primary + (1.0 - ce) * back) * 1000.0 / FARADAY


def current_efficiency(temp_c, alf3_wt, acd_cm, current_density, params: SmelterParams = DEFAULT):
    """Current efficiency (fraction), this project's linearised correlation.

    CE = ce_ref - ce_dt (T - 965) + ce_alf3 (AlF3 - 12) + ce_acd ln(ACD/4.5)
    + ce_j ln(j/0.80), clipped to [0.80, 0.965]. The signs and magnitudes follow
    the trends reported in [TH01] (CE falls by roughly 1–2 % per 10 K, rises
    with bath acidity, ACD and current density, back reaction of dissolved
    metal); the coefficients are assumptions, not a published fit.
    """
    p = params
    ce = (
        p.ce_ref
        - p.ce_dt * (np.asarray(temp_c, dtype=float) - p.ce_t_ref_c)
        + p.ce_alf3 * (np.asarray(alf3_wt, dtype=float) - p.alf3_target_wt)
        + p.ce_acd * np.log(np.maximum(acd_cm, 0.5) / p.ce_acd_ref_cm)
        + p.ce_j * np.log(np.maximum(current_density, 1e-3) / p.ce_j_ref)
    )
    return np.clip(ce, 0.80, 0.965)


# --------------------------------------------------------------------------
# Bath chemistry
# --------------------------------------------------------------------------


def liquidus_temperature(alf3_wt, caf2_wt, al2o3_wt):
    """Liquidus (primary cryolite crystallisation) temperature, degC [SO96].

    t = 1011 + 0.50[AlF3] - 0.13[AlF3]^2.2 - 3.45[CaF2]/(1 + 0.0173[CaF2])
    + 0.124[CaF2][AlF3] - 0.00542([CaF2][AlF3])^1.5
    - 7.93[Al2O3]/(1 + 0.0936[Al2O3] - 0.0017[Al2O3]^2 - 0.0023[AlF3][Al2O3]),
    wt %, LiF = MgF2 = KF = 0. (The linear AlF3 coefficient is 0.50 as the
    equation is usually quoted; an abstract database prints 0.05, which would
    shift the liquidus by < 6 K at 12 wt %.)
    """
    a, c, x = alf3_wt, caf2_wt, al2o3_wt  # floats or numpy arrays
    a_pos = np.maximum(a, 0.0)
    return (
        1011.0
        + 0.50 * a
        - 0.13 * a_pos**2.2
        - 3.45 * c / (1.0 + 0.0173 * c)
        + 0.124 * c * a
        - 0.00542 * (c * a_pos) ** 1.5
        - 7.93 * x / (1.0 + 0.0936 * x - 0.0017 * x * x - 0.0023 * a * x)
    )


def alumina_saturation_wt(alf3_wt, caf2_wt, temp_c):
    """Alumina solubility, wt % [SK97]: A (t/1000)^B, A = 11.9 - 0.062[AlF3]
    - 0.0031[AlF3]^2 - 0.2[CaF2], B = 4.8 - 0.048[AlF3] (LiF = MgF2 = 0)."""
    a = alf3_wt
    big_a = 11.9 - 0.062 * a - 0.0031 * a * a - 0.2 * caf2_wt
    big_b = 4.8 - 0.048 * a
    return big_a * (temp_c / 1000.0) ** big_b


def alumina_activity(ratio_to_saturation):
    """Alumina activity (relative to saturation) vs ROS = c/c_sat [HA98]:
    a = -0.03791 ROS + 2.364 ROS^2 - 2.194 ROS^3 + 0.8686 ROS^4."""
    r = np.clip(ratio_to_saturation, 0.02, 1.0)
    return -0.03791 * r + 2.364 * r**2 - 2.194 * r**3 + 0.8686 * r**4


def bath_ratio(alf3_wt, caf2_wt, al2o3_wt):
    """Bath ratio, mass NaF/AlF3 (1.5 for cryolite): 0.6 (B - x) / (0.4 (B - x) + x),
    B = 100 - [CaF2] - [Al2O3] the cryolite + excess-AlF3 part, x = excess AlF3."""
    cryo = 100.0 - caf2_wt - al2o3_wt - alf3_wt
    return X_NAF_CRYOLITE * cryo / ((1.0 - X_NAF_CRYOLITE) * cryo + alf3_wt)


def bath_conductivity(alf3_wt, caf2_wt, al2o3_wt, temp_c):
    """Electrical conductivity of the bath, S/cm [WA92] (2.15 S/cm at 965 degC,
    12 % AlF3, 5 % CaF2, 2.8 % Al2O3)."""
    t = np.asarray(temp_c, dtype=float) + ZERO_C
    return np.exp(
        1.977 - 0.0200 * np.asarray(al2o3_wt, dtype=float) - 0.0131 * np.asarray(alf3_wt, dtype=float)
        - 0.0060 * np.asarray(caf2_wt, dtype=float) - 1204.3 / t
    )


# --------------------------------------------------------------------------
# Electrode kinetics and cell voltage
# --------------------------------------------------------------------------


def butler_volmer_current(eta_v, j0, alpha_a, alpha_c, temp_k):
    """Butler–Volmer current density j = j0 [exp(aa F eta/RT) - exp(-ac F eta/RT)] (units of j0)."""
    f = FARADAY / (GAS_CONSTANT * np.asarray(temp_k, dtype=float))
    eta = np.asarray(eta_v, dtype=float)
    return j0 * (np.exp(alpha_a * f * eta) - np.exp(-alpha_c * f * eta))


def butler_volmer_overpotential(j, j0, alpha_a, alpha_c, temp_k, *, tol: float = 1e-13, max_iter: int = 60):
    """Overpotential (V) that drives current density ``j`` (inverse of :func:`butler_volmer_current`).

    Symmetric transfer coefficients have the closed form
    eta = RT/(alpha F) asinh(j / (2 j0)). Otherwise Newton's method on
    g(eta) = j_BV(eta) - j, started from that closed form with the mean
    alpha; g is strictly increasing and convex for eta > 0 (concave for
    eta < 0), so the iteration converges monotonically after the first step.
    Vectorised; raises if it does not converge.
    """
    temp_k = np.asarray(temp_k, dtype=float)
    f = FARADAY / (GAS_CONSTANT * temp_k)
    jj = np.asarray(j, dtype=float) / j0
    if np.all(np.asarray(alpha_a) == np.asarray(alpha_c)):
        return np.arcsinh(0.5 * jj) / (alpha_a * f)
    eta = np.arcsinh(0.5 * jj) / (0.5 * (alpha_a + alpha_c) * f)
    for _ in range(max_iter):
        ea, ec = np.exp(alpha_a * f * eta), np.exp(-alpha_c * f * eta)
        step = (ea - ec - jj) / (f * (alpha_a * ea + alpha_c * ec))
        eta = eta - step
        if np.all(np.abs(step) <= tol * (1.0 + np.abs(eta))):
            return eta
    raise RuntimeError("Butler-Volmer inversion did not converge")


def anode_exchange_current_density(al2o3_wt, params: SmelterParams = DEFAULT):
    """Exchange current density of the anode reaction, A/cm**2: 0.0029 [Al2O3]^0.56 [HA98]."""
    return params.anode_j0_coeff * np.maximum(al2o3_wt, 0.05) ** params.anode_j0_exp


def limiting_current_density(al2o3_wt, params: SmelterParams = DEFAULT):
    """Mass-transfer limited anode current density, A/cm**2 (Fick film model).

    j_lim = z F k c with z = 6 electrons per Al2O3 (the oxide delivers 3 O
    for 1.5 CO2), k the film mass-transfer coefficient and c the molar
    concentration of dissolved alumina (wt % x bath density / M_Al2O3).
    Above j_lim the anode cannot be served by oxide and fluorides are
    discharged: the anode effect.
    """
    conc = np.asarray(al2o3_wt, dtype=float) / 100.0 * params.bath_density_g_cm3 / M_AL2O3  # mol/cm**3
    return 6.0 * FARADAY * params.mass_transfer_cm_s * conc


def anode_effect_threshold_wt(current_density, params: SmelterParams = DEFAULT):
    """Alumina concentration (wt %) at which j = j_lim, i.e. the anode-effect onset."""
    return np.asarray(current_density, dtype=float) * M_AL2O3 * 100.0 / (
        6.0 * FARADAY * params.mass_transfer_cm_s * params.bath_density_g_cm3
    )


def anode_concentration_overvoltage(j, j_lim, temp_c):
    """Anode concentration overvoltage (RT/2F) ln(j_lim/(j_lim - j)), V (form of [HA98]).

    ``j`` must stay below ``j_lim``; values are capped at j = 0.999 j_lim
    (the anode effect itself is handled by the caller).
    """
    t = np.asarray(temp_c, dtype=float) + ZERO_C
    ratio = np.minimum(np.asarray(j, dtype=float) / j_lim, 0.999)
    return GAS_CONSTANT * t / (2.0 * FARADAY) * -np.log1p(-ratio)


def cathode_concentration_overvoltage(j_cathode, bath_ratio_mass, temp_c):
    """Cathode concentration overvoltage [HA98], V: (2RT/3F)(1.375 - 0.25 BR) ln(j_c/0.257), >= 0.

    ``j_cathode`` in A/cm**2, BR the NaF/AlF3 mass ratio. ~0.07 V at 0.65 A/cm**2.
    """
    t = np.asarray(temp_c, dtype=float) + ZERO_C
    jc = np.maximum(np.asarray(j_cathode, dtype=float), 1e-6)
    val = 2.0 * GAS_CONSTANT * t / (3.0 * FARADAY) * (1.375 - 0.25 * bath_ratio_mass) * np.log(jc / 0.257)
    return np.maximum(val, 0.0)


def bubble_layer(j, bath_ratio_mass, al2o3_wt, ae_threshold_wt):
    """Gas-bubble layer under the anodes [HA98]: thickness (cm) and fractional coverage.

    d_b = (0.5517 + j)/(1 + 2.167 j); coverage = 0.509 + 0.1823 j - 0.1723 j^2
    + 0.05504 j^3 + (0.4322 - 0.3781 BR)/(1 + 1.637 BR)
    + (0.431 - 0.1437 D)/(1 + 7.353 D), D = [Al2O3] - [Al2O3]_AE >= 0,
    capped at 0.97 (the coverage tends to 1 at the anode effect).
    """
    j = np.asarray(j, dtype=float)
    d_b = (0.5517 + j) / (1.0 + 2.167 * j)
    d = np.maximum(np.asarray(al2o3_wt, dtype=float) - ae_threshold_wt, 0.0)
    cov = (
        0.509 + 0.1823 * j - 0.1723 * j * j + 0.05504 * j**3
        + (0.4322 - 0.3781 * bath_ratio_mass) / (1.0 + 1.637 * bath_ratio_mass)
        + (0.431 - 0.1437 * d) / (1.0 + 7.353 * d)
    )
    return d_b, np.clip(cov, 0.0, 0.97)


def reversible_potential(temp_c, al2o3_wt, alf3_wt, caf2_wt):
    """Reversible decomposition potential of 2 Al2O3 + 3 C = 4 Al + 3 CO2, V [HA98].

    E = 1.896 - 0.000572 T + (RT/12F) ln(1/a^2), a the alumina activity
    relative to saturation (:func:`alumina_activity`); ~1.22 V at 965 degC and
    2.8 wt % alumina, rising as alumina is depleted.
    """
    t = np.asarray(temp_c, dtype=float) + ZERO_C
    sat = alumina_saturation_wt(alf3_wt, caf2_wt, temp_c)
    act = alumina_activity(np.asarray(al2o3_wt, dtype=float) / sat)
    return 1.896 - 0.000572 * t - GAS_CONSTANT * t / (6.0 * FARADAY) * np.log(act)


def cathode_voltage_drop(cell_age_d, current_ka, params: SmelterParams = DEFAULT):
    """Cathode voltage drop (collector bars, cathode blocks, contacts), V; ohmic, rises with age.

    CVD = (I/I_nom) [cvd_new + cvd_rise (1 - exp(-age/cvd_rise_d)) + cvd_slope age/365.25].
    """
    p = params
    age = np.asarray(cell_age_d, dtype=float)
    at_nominal = p.cvd_new_v + p.cvd_rise_v * (1.0 - np.exp(-age / p.cvd_rise_d)) + p.cvd_slope_v_per_yr * age / 365.25
    return at_nominal * np.asarray(current_ka, dtype=float) / p.nominal_current_ka


@dataclass(frozen=True, eq=False)
class VoltageBreakdown:
    """Cell voltage components, V (arrays or floats). ``total`` is their sum.

    ``reversible``: decomposition potential; ``anode_reaction``: Butler–Volmer
    anode overvoltage; ``anode_concentration``: Fick-film concentration
    overvoltage; ``cathode``: cathode charge-transfer + concentration
    overvoltage; ``bath``: ohmic drop of the bubble-free bath; ``bubbles``:
    extra drop of the gas layer; ``anode``, ``cathode_drop``, ``external``:
    ohmic drops of anode assembly, cathode and busbar share. ``acd_cm`` and
    ``current_density`` are the inputs that produced them.
    """

    reversible: np.ndarray
    anode_reaction: np.ndarray
    anode_concentration: np.ndarray
    cathode: np.ndarray
    bath: np.ndarray
    bubbles: np.ndarray
    anode: np.ndarray
    cathode_drop: np.ndarray
    external: np.ndarray
    acd_cm: np.ndarray
    current_density: np.ndarray

    COMPONENTS = (
        "reversible", "anode_reaction", "anode_concentration", "cathode", "bath", "bubbles", "anode",
        "cathode_drop", "external",
    )

    @property
    def total(self):
        return sum(getattr(self, c) for c in self.COMPONENTS)

    @property
    def internal(self):
        """Voltage across the cell itself (without the external busbar share)."""
        return self.total - self.external


def _non_bath_terms(current_ka, temp_c, al2o3_wt, alf3_wt, params, area_factor, anode_height_m, cell_age_d):
    """Every voltage term except the bath ohmic drop; also j, d_b and the bath conductance factor."""
    p = params
    cur = np.maximum(np.asarray(current_ka, dtype=float), 0.0)
    af = np.asarray(area_factor, dtype=float)
    j = cur * 1000.0 / (p.anode_area_cm2 * af)
    jc = cur * 1000.0 / p.cathode_area_cm2
    t_k = np.asarray(temp_c, dtype=float) + ZERO_C
    kappa = bath_conductivity(alf3_wt, p.caf2_wt, al2o3_wt, temp_c)
    br = bath_ratio(alf3_wt, p.caf2_wt, al2o3_wt)
    e_rev = reversible_potential(temp_c, al2o3_wt, alf3_wt, p.caf2_wt)
    j0 = anode_exchange_current_density(al2o3_wt, p)
    eta_a = butler_volmer_overpotential(j, j0, p.anode_alpha, p.anode_alpha, t_k)
    jlim = limiting_current_density(al2o3_wt, p)
    eta_ca = anode_concentration_overvoltage(j, jlim, temp_c)
    eta_c = butler_volmer_overpotential(jc, p.cathode_j0, p.cathode_alpha, p.cathode_alpha, t_k)
    eta_c = eta_c + cathode_concentration_overvoltage(jc, br, temp_c)
    d_b, cov = bubble_layer(j, br, al2o3_wt, anode_effect_threshold_wt(j, p))
    j_bath = j / p.fanning
    bubbles = j_bath * d_b * cov / (kappa * (1.0 - cov))
    h = (p.anode_height_new_m + p.anode_butt_m) / 2.0 if anode_height_m is None else anode_height_m
    carbon_uohm = p.anode_resistivity_uohm_m * np.asarray(h) / (p.anode_area_cm2 * 1e-4)
    anode = cur * 1e-3 * (p.anode_fixed_uohm + carbon_uohm) / af
    cathode_drop = cathode_voltage_drop(cell_age_d, cur, p)
    external = cur * 1e-3 * p.external_uohm
    return dict(
        reversible=e_rev, anode_reaction=eta_a, anode_concentration=eta_ca, cathode=eta_c, bubbles=bubbles,
        anode=anode, cathode_drop=cathode_drop, external=external, j=j, d_b=d_b, g=j_bath / kappa,
    )


def cell_voltage_breakdown(
    current_ka,
    acd_cm,
    temp_c,
    al2o3_wt,
    alf3_wt,
    params: SmelterParams = DEFAULT,
    *,
    area_factor=1.0,
    anode_height_m=None,
    cell_age_d=0.0,
) -> VoltageBreakdown:
    """Voltage components of a cell at line current ``current_ka`` and ACD ``acd_cm``.

    ``area_factor`` is the fraction of the anode area carrying current (new
    cold anodes pick up current slowly), ``anode_height_m`` the mean carbon
    height (default: mid-life), ``cell_age_d`` sets the cathode drop. The
    bath drop is j/fanning x (ACD - d_b)/kappa (bubble-free part of the gap).
    At 350 kA, ACD 4.5 cm, 965 degC, 2.8 % Al2O3, 12 % AlF3 the total is
    ~4.2 V (1.22 reversible, 0.50 anode reaction, 0.05 anode concentration,
    0.08 cathode, 1.36 bath, 0.27 bubbles, 0.29 anode, 0.27 cathode, 0.15
    external).
    """
    t = _non_bath_terms(current_ka, temp_c, al2o3_wt, alf3_wt, params, area_factor, anode_height_m, cell_age_d)
    bath = t["g"] * np.maximum(np.asarray(acd_cm, dtype=float) - t["d_b"], 0.0)
    return VoltageBreakdown(
        reversible=t["reversible"], anode_reaction=t["anode_reaction"], anode_concentration=t["anode_concentration"],
        cathode=t["cathode"], bath=bath, bubbles=t["bubbles"], anode=t["anode"], cathode_drop=t["cathode_drop"],
        external=t["external"], acd_cm=np.asarray(acd_cm, dtype=float), current_density=t["j"],
    )


def acd_for_voltage(
    voltage_v,
    current_ka,
    temp_c,
    al2o3_wt,
    alf3_wt,
    params: SmelterParams = DEFAULT,
    *,
    area_factor=1.0,
    anode_height_m=None,
    cell_age_d=0.0,
):
    """ACD (cm, unclipped) at which :func:`cell_voltage_breakdown` totals ``voltage_v``.

    The bath term is the only one that depends on the ACD, and linearly:
    ACD = d_b + (V - sum of the other terms) / (j/fanning/kappa). This is
    what the pot control achieves by moving the anode beam to hold its
    resistance target.
    """
    t = _non_bath_terms(current_ka, temp_c, al2o3_wt, alf3_wt, params, area_factor, anode_height_m, cell_age_d)
    rest = sum(t[c] for c in VoltageBreakdown.COMPONENTS if c != "bath")
    return t["d_b"] + (np.asarray(voltage_v, dtype=float) - rest) / t["g"]


# --------------------------------------------------------------------------
# 1-D transient heat conduction (finite volumes, theta method)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """A homogeneous wall layer: thickness m, conductivity W/(m K), density kg/m**3, heat capacity J/(kg K)."""

    thickness: float
    k: float
    rho: float
    cp: float
    cells: int


@dataclass(frozen=True, eq=False)
class Grid:
    """Cell-centred finite-volume grid: widths ``dx`` (m), conductivity ``k``,
    volumetric heat capacity ``rc`` (J/(m**3 K)) and centre positions ``x`` (m)."""

    dx: np.ndarray
    k: np.ndarray
    rc: np.ndarray
    x: np.ndarray

    @property
    def n(self) -> int:
        return int(self.dx.size)

    @property
    def faces(self) -> np.ndarray:
        return np.concatenate(([0.0], np.cumsum(self.dx)))


def make_grid(layers) -> Grid:
    """Uniform cells within each layer; layer interfaces fall on cell faces."""
    dx, k, rc = [], [], []
    for layer in layers:
        dx += [layer.thickness / layer.cells] * layer.cells
        k += [layer.k] * layer.cells
        rc += [layer.rho * layer.cp] * layer.cells
    dx_a = np.array(dx)
    return Grid(dx_a, np.array(k), np.array(rc), np.cumsum(dx_a) - dx_a / 2.0)


def _boundary_conductance(grid: Grid, side: str, bc: tuple) -> float:
    """Conductance (W/(m**2 K)) from the boundary cell centre to the BC's reference temperature."""
    i = 0 if side == "left" else grid.n - 1
    half = grid.dx[i] / (2.0 * grid.k[i])
    kind = bc[0]
    if kind == "dirichlet":
        return 1.0 / half
    if kind == "robin":
        return 1.0 / (half + 1.0 / bc[1])
    if kind == "neumann":
        return 0.0
    raise ValueError(f"unknown boundary condition {kind!r}; expected dirichlet, neumann or robin")


def conduction_matrices(grid: Grid, left: tuple, right: tuple):
    """Semi-discrete system C dT/dt = A T + b of the conduction equation.

    Boundary conditions: ``("dirichlet", T)`` surface temperature,
    ``("neumann", q)`` heat flux into the domain (W/m**2), ``("robin", h,
    T_inf)`` convection. Interior conductances use the harmonic mean of the
    half-cell resistances, which makes the steady solution of a composite wall
    exact (linear profile in each layer).

    Returns
    -------
    cap : ndarray
        Cell heat capacities per unit area, J/(m**2 K).
    ab : ndarray, shape (3, n)
        A in the banded storage of :func:`scipy.linalg.solve_banded` (upper, main, lower).
    b_left, b_right : ndarray
        Unit responses: b = b_left * v_left + b_right * v_right, where v is T
        (Dirichlet, Robin T_inf) or q (Neumann).
    """
    n = grid.n
    g_int = 1.0 / (grid.dx[:-1] / (2 * grid.k[:-1]) + grid.dx[1:] / (2 * grid.k[1:]))
    g_l = _boundary_conductance(grid, "left", left)
    g_r = _boundary_conductance(grid, "right", right)
    ab = np.zeros((3, n))
    ab[0, 1:] = g_int
    ab[2, :-1] = g_int
    diag = np.zeros(n)
    diag[:-1] -= g_int
    diag[1:] -= g_int
    diag[0] -= g_l
    diag[-1] -= g_r
    ab[1] = diag
    b_left = np.zeros(n)
    b_right = np.zeros(n)
    b_left[0] = 1.0 if left[0] == "neumann" else g_l
    b_right[-1] = 1.0 if right[0] == "neumann" else g_r
    return grid.rc * grid.dx, ab, b_left, b_right


def _bc_value(bc: tuple, step: int) -> float:
    v = bc[-1]
    return float(v[step]) if np.ndim(v) else float(v)


def solve_conduction(
    grid: Grid,
    t_init,
    dt_s: float,
    n_steps: int,
    left: tuple,
    right: tuple,
    *,
    theta: float = 0.5,
) -> np.ndarray:
    """Integrate C dT/dt = A T + b with the theta method; returns T (n_steps + 1, n) at cell centres.

    theta = 1/2 is Crank–Nicolson (second order, A-stable), theta = 1
    backward Euler (first order, L-stable; use it for steps with cell Fourier
    numbers >> 1). Boundary values may be arrays of length n_steps + 1 (value
    at each time level). Each step is one tridiagonal solve
    (:func:`scipy.linalg.solve_banded`).
    """
    cap, ab, b_l, b_r = conduction_matrices(grid, left, right)
    lhs = -theta * ab
    lhs[1] += cap / dt_s
    out = np.empty((n_steps + 1, grid.n))
    t = np.asarray(t_init, dtype=float) * np.ones(grid.n)
    out[0] = t
    b_old = b_l * _bc_value(left, 0) + b_r * _bc_value(right, 0)
    for s in range(1, n_steps + 1):
        b_new = b_l * _bc_value(left, s) + b_r * _bc_value(right, s)
        at = ab[1] * t
        at[:-1] += ab[0, 1:] * t[1:]
        at[1:] += ab[2, :-1] * t[:-1]
        rhs = cap / dt_s * t + (1.0 - theta) * (at + b_old) + theta * b_new
        t = solve_banded((1, 1), lhs, rhs)
        out[s] = t
        b_old = b_new
    return out


def steady_conduction(grid: Grid, left: tuple, right: tuple) -> np.ndarray:
    """Steady cell-centre temperatures, A T + b = 0 (one banded solve)."""
    _, ab, b_l, b_r = conduction_matrices(grid, left, right)
    return solve_banded((1, 1), -ab, b_l * float(left[-1]) + b_r * float(right[-1]))


def composite_wall_flux(layers, t_hot: float, t_inf: float, h_out: float) -> tuple[float, np.ndarray]:
    """Analytic steady flux (W/m**2) and interface temperatures of a composite wall.

    Hot face at ``t_hot``, convection ``h_out`` to ``t_inf`` on the cold face:
    q = (t_hot - t_inf) / (sum L_i/k_i + 1/h). Returns q and the face
    temperatures (hot face, each interface, cold face).
    """
    res = [ly.thickness / ly.k for ly in layers]
    q = (t_hot - t_inf) / (sum(res) + 1.0 / h_out)
    faces = [t_hot]
    for r in res:
        faces.append(faces[-1] - q * r)
    return q, np.array(faces)


@dataclass(frozen=True, eq=False)
class WallModel:
    """Sidewall block + steel shell for the simulator: backward-Euler propagator for a fixed step.

    T_next = M T + n_q q_in + n_a T_air, with q_in the heat flux entering
    the wall from the ledge (W/m**2) and T_air the potroom temperature.
    """

    grid: Grid
    h_air: float
    m: np.ndarray
    n_q: np.ndarray
    n_a: np.ndarray

    @classmethod
    def build(cls, params: SmelterParams, cell_age_d: float, dt_s: float) -> WallModel:
        p = params
        sic = max(p.sic_thickness_m - p.sic_wear_m_per_yr * cell_age_d / 365.25, 0.03)
        grid = make_grid(
            [
                Layer(sic, p.sic_k_w_mk, p.sic_rho_kg_m3, p.sic_cp_j_kg_k, 6),
                Layer(p.shell_thickness_m, p.shell_k_w_mk, p.shell_rho_kg_m3, p.shell_cp_j_kg_k, 2),
            ]
        )
        cap, ab, b_l, b_r = conduction_matrices(grid, ("neumann", 0.0), ("robin", p.h_air_w_m2k, 0.0))
        lhs = -ab
        lhs[1] += cap / dt_s
        rhs = np.column_stack([np.diag(cap / dt_s), b_l, b_r])
        sol = solve_banded((1, 1), lhs, rhs)
        return cls(grid, p.h_air_w_m2k, sol[:, : grid.n], sol[:, grid.n], sol[:, grid.n + 1])

    @property
    def resistance(self) -> float:
        """Conductive resistance of the wall (block + shell), m**2 K/W."""
        return float(np.sum(self.grid.dx / self.grid.k))

    def steady(self, q_in: float, t_air: float) -> np.ndarray:
        return steady_conduction(self.grid, ("neumann", q_in), ("robin", self.h_air, t_air))

    def inner_face(self, temps: np.ndarray, q_in: float) -> float:
        """Hot-face temperature (ledge side) from the first cell and the entering flux."""
        return float(temps[0] + q_in * self.grid.dx[0] / (2.0 * self.grid.k[0]))

    def shell_surface(self, temps: np.ndarray, t_air: float) -> float:
        """Outer shell surface temperature."""
        g = 2.0 * self.grid.k[-1] / self.grid.dx[-1]
        return float((g * temps[-1] + self.h_air * t_air) / (g + self.h_air))


def ledge_thickness_m(q_in_w_m2, t_liquidus_c, t_wall_c, params: SmelterParams = DEFAULT):
    """Quasi-steady ledge (Stefan condition at the liquidus isotherm), m.

    The flux arriving from the bath, q = h (T_bath - T_liq), is conducted
    through the frozen ledge to the wall: q = k_ledge (T_liq - T_wall)/s, so
    s = k_ledge (T_liq - T_wall)/q, clipped to [0, ledge_max]. Less heat
    input (lower superheat) gives a thicker ledge.
    """
    q = np.maximum(np.asarray(q_in_w_m2, dtype=float), 1e-6)
    s = params.k_ledge_w_mk * (np.asarray(t_liquidus_c, dtype=float) - t_wall_c) / q
    return np.clip(s, 0.0, params.ledge_max_cm / 100.0)


def heat_loss_floor_flux(t_liquidus_c, t_air_c, wall_resistance, params: SmelterParams = DEFAULT):
    """Sidewall flux (W/m**2) with the ledge at its maximum thickness: the lower limit of the side loss."""
    r = params.ledge_max_cm / 100.0 / params.k_ledge_w_mk + wall_resistance + 1.0 / params.h_air_w_m2k
    return (np.asarray(t_liquidus_c, dtype=float) - t_air_c) / r


# --------------------------------------------------------------------------
# Lumped bath + metal heat balance (with freezing)
# --------------------------------------------------------------------------


def _other_loss_kw_k(cell_age_d, params: SmelterParams):
    return params.g_top_kw_k + params.g_bottom_kw_k * (1.0 + params.g_bottom_aging_per_yr * cell_age_d / 365.25)


def side_flux(temp_c, t_liq_c, q_floor, params: SmelterParams = DEFAULT):
    """Heat flux from bath into the ledge/sidewall, W/m**2: max(h (T - T_liq), q_floor) (q_floor below liquidus)."""
    return np.maximum(params.h_bath_ledge_w_m2k * np.maximum(temp_c - t_liq_c, 0.0), q_floor)


def bath_heat_step(
    temp_c: float,
    hours: float,
    p_net_kw: float,
    t_liq_c: float,
    t_air_c: float,
    q_floor: float,
    g_other_kw_k: float,
    params: SmelterParams = DEFAULT,
) -> float:
    """Advance the lumped bath + metal temperature by ``hours`` (exact piecewise-exponential solution).

    C dT/dt = P_net - A q_side(T) - G (T - T_air), with three linear regimes:
    (a) superheat above q_floor/h: q_side = h (T - T_liq);
    (b) 0 <= superheat < q_floor/h: the ledge is at its maximum, q_side = q_floor;
    (c) T < T_liq: the bath freezes, the heat capacity includes the latent
    heat over ``freeze_interval_k`` (C_eff = C + m_bath L / dT_f).
    Each regime is solved exactly and regime changes are located in time,
    so the step length does not affect accuracy.
    """
    p = params
    a_side = p.side_area_m2 / 1000.0  # kW per (W/m**2)
    cap = p.heat_capacity_kj_k / 3600.0  # kWh/K
    cap_f = cap + p.bath_mass_kg * p.latent_kj_kg / p.freeze_interval_k / 3600.0
    h = p.h_bath_ledge_w_m2k
    t_hi = t_liq_c + q_floor / h
    temp, left = float(temp_c), float(hours)
    for _ in range(8):
        if left <= 0.0:
            break
        num_b = p_net_kw - a_side * q_floor - g_other_kw_k * (temp - t_air_c)
        if temp > t_hi or (temp == t_hi and num_b > 0.0):
            c, b = cap, (a_side * h + g_other_kw_k)
            t_inf = (p_net_kw + a_side * h * t_liq_c + g_other_kw_k * t_air_c) / b
            lo, hi = t_hi, math.inf
        elif temp > t_liq_c or (temp == t_liq_c and num_b > 0.0):
            c, b = cap, g_other_kw_k
            t_inf = (p_net_kw - a_side * q_floor + g_other_kw_k * t_air_c) / b
            lo, hi = t_liq_c, t_hi
        else:
            c, b = cap_f, g_other_kw_k
            t_inf = (p_net_kw - a_side * q_floor + g_other_kw_k * t_air_c) / b
            lo, hi = -math.inf, t_liq_c
        rate = b / c
        target = hi if t_inf > hi else lo if t_inf < lo else None
        if target is None:
            return t_inf + (temp - t_inf) * math.exp(-rate * left)
        t_cross = math.log((temp - t_inf) / (target - t_inf)) / rate
        if t_cross >= left:
            return t_inf + (temp - t_inf) * math.exp(-rate * left)
        temp, left = target, left - t_cross
    return temp


# --------------------------------------------------------------------------
# Alumina feeding and dissolution (Fick film)
# --------------------------------------------------------------------------


def dissolution_rate_constant(al2o3_wt, c_sat_wt, superheat_k, params: SmelterParams = DEFAULT):
    """Rate constant K (1/h) of dissolution of undissolved alumina, rate = K x undissolved mass.

    Fickian film: rate = k A (c_sat - c), with the particle area A
    proportional to the undissolved mass, scaled to ``dissolution_per_h`` at
    a driving force of 5 wt % and slowed when the superheat is small
    (dissolution needs heat: factor (sh + 1)/(sh + 1 + sh_half), normalised
    to 1 at 10 K; without superheat it is 4x slower, and alumina that is
    fed faster than that accumulates as sludge).
    """
    p = params
    drive = np.maximum(c_sat_wt - al2o3_wt, 0.0) / 5.0
    sh = np.maximum(superheat_k, 0.0) + 1.0
    heat = sh / (sh + p.dissolution_superheat_k) * (11.0 + p.dissolution_superheat_k) / 11.0
    return p.dissolution_per_h * drive * heat


def alumina_step(
    al2o3_wt, undissolved_kg, feed_kg_h, consumption_kg_h, k_per_h, hours, params: SmelterParams = DEFAULT
):
    """Exact update of dissolved (wt %) and undissolved (kg) alumina over ``hours`` with constant rates.

    du/dt = F - K u; M dc/dt = K u - D. Returns (c, u, dissolved_kg).
    """
    k = np.maximum(np.asarray(k_per_h, dtype=float), 1e-9)
    e = np.exp(-k * hours)
    u_new = undissolved_kg * e + feed_kg_h * (1.0 - e) / k
    dissolved = undissolved_kg + feed_kg_h * hours - u_new
    c_new = al2o3_wt + 100.0 * (dissolved - consumption_kg_h * hours) / params.bath_mass_kg
    return c_new, u_new, dissolved


# --------------------------------------------------------------------------
# Steady state (calibration / optimisation)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SteadyState:
    """Steady operating point of the average cell and of the section.

    Per cell: ``voltage_v``, ``acd_cm``, ``bath_temp_c``, ``liquidus_c``,
    ``superheat_k``, ``ledge_cm``, ``shell_temp_c``, ``side_loss_kw``,
    ``heat_loss_kw`` (all paths), ``current_efficiency``, ``breakdown``
    (:class:`VoltageBreakdown`). Section: ``aluminium_t_h``,
    ``power_kw`` (DC), ``specific_energy_kwh_kg``, ``alumina_t_h``,
    ``anode_t_h`` (net anode consumption), ``co2_t_h``, ``cf4_kg_h``,
    ``c2f6_kg_h``, ``alf3_kg_h``, ``frozen_fraction`` (bath below liquidus).
    """

    voltage_v: float
    acd_cm: float
    bath_temp_c: float
    liquidus_c: float
    superheat_k: float
    ledge_cm: float
    shell_temp_c: float
    side_loss_kw: float
    heat_loss_kw: float
    current_efficiency: float
    aluminium_t_h: float
    power_kw: float
    specific_energy_kwh_kg: float
    alumina_t_h: float
    anode_t_h: float
    co2_t_h: float
    cf4_kg_h: float
    c2f6_kg_h: float
    alf3_kg_h: float
    frozen_fraction: float
    breakdown: VoltageBreakdown


def heat_balance_resistance(current_ka, params: SmelterParams = DEFAULT, *, heat_kw: float | None = None):
    """Pot-control resistance target (micro-ohm) that keeps the cell's heat generation at ``heat_kw``.

    Default ``heat_kw`` is the generation at the nominal current and
    resistance :data:`NOMINAL_RESISTANCE_UOHM`. With V = E + I R and
    heat = I (V - V_ext - E_H): R = (heat/I + V_ext + E_H - E)/I, using E_H at
    the reference current efficiency. This is the amperage–resistance table
    operators use when the line current is changed. Vectorised over ``current_ka``.
    """
    p = params
    e_h = float(enthalpy_voltage(p.ce_ref, p.ce_t_ref_c, p))
    if heat_kw is None:
        v_nom = p.back_emf_v + p.nominal_current_ka * NOMINAL_RESISTANCE_UOHM * 1e-3
        heat_kw = p.nominal_current_ka * (v_nom - p.nominal_current_ka * p.external_uohm * 1e-3 - e_h)
    cur = np.maximum(current_ka, 1e-3)
    v = heat_kw / cur + cur * p.external_uohm * 1e-3 + e_h
    return (v - p.back_emf_v) / (cur * 1e-3)


#: Pot-control resistance target at the nominal current, micro-ohm ((4.22 V - 1.65 V)/350 kA).
NOMINAL_RESISTANCE_UOHM = (4.22 - 1.65) / 350.0 * 1e3


def steady_state(
    current_ka: float,
    params: SmelterParams = DEFAULT,
    *,
    resistance_uohm: float | None = None,
    alf3_wt: float | None = None,
    al2o3_wt: float | None = None,
    air_temp_c: float = 30.0,
    cell_age_d: float = 730.0,
    aem: float = 0.09,
) -> SteadyState:
    """Steady state of the section for operator set points and feed conditions.

    Inputs: line current (kA), pot-control resistance target (micro-ohm,
    default from :func:`heat_balance_resistance`), excess AlF3 (wt %,
    default target), mean alumina (wt %, default mid-cycle), potroom air
    temperature, cell age and the anode-effect minutes per cell-day ``aem``
    (for the PFC rates). The ACD follows from the resistance target (clipped
    to the pot-control limits); the bath temperature solves the heat balance
    I (V - V_ext - E_H(CE)) - anode heating = A q_side(T) + G (T - T_air)
    (Brent's method), with the quasi-steady ledge of
    :func:`ledge_thickness_m`. A heat deficit that the ledge cannot absorb
    shows as a bath below its liquidus (``frozen_fraction`` > 0).
    """
    p = params
    alf3 = p.alf3_target_wt if alf3_wt is None else alf3_wt
    c = 0.5 * (p.alumina_low_wt + p.alumina_high_wt) if al2o3_wt is None else al2o3_wt
    r = heat_balance_resistance(current_ka, p) if resistance_uohm is None else resistance_uohm
    v_target = p.back_emf_v + current_ka * r * 1e-3
    t_liq = float(liquidus_temperature(alf3, p.caf2_wt, c))
    wall = WallModel.build(p, cell_age_d, 900.0)
    q_floor = float(heat_loss_floor_flux(t_liq, air_temp_c, wall.resistance, p))
    g_other = float(_other_loss_kw_k(cell_age_d, p))

    def operating(temp):
        acd = float(np.clip(acd_for_voltage(v_target, current_ka, temp, c, alf3, p, cell_age_d=cell_age_d),
                            p.acd_min_cm, p.acd_max_cm))
        bd = cell_voltage_breakdown(current_ka, acd, temp, c, alf3, p, cell_age_d=cell_age_d)
        ce = float(current_efficiency(temp, alf3, acd, float(bd.current_density), p))
        heat = current_ka * (float(bd.internal) - float(enthalpy_voltage(ce, temp, p))) - p.anode_heat_kw
        return acd, bd, ce, heat

    def balance(temp):
        q = float(side_flux(temp, t_liq, q_floor, p))
        return operating(temp)[3] - p.side_area_m2 * q / 1000.0 - g_other * (temp - air_temp_c)

    temp = brentq(balance, t_liq - 200.0, t_liq + 150.0, xtol=1e-10)
    acd, bd, ce, heat = operating(temp)
    q = float(side_flux(temp, t_liq, q_floor, p))
    temps = wall.steady(q, air_temp_c)
    t_wall = wall.inner_face(temps, q)
    ledge = float(ledge_thickness_m(q, t_liq, t_wall, p)) if temp >= t_liq else p.ledge_max_cm / 100.0
    n = p.n_cells
    al_t_h = float(faraday_aluminium_kg_h(current_ka, ce)) * n / 1000.0
    carbon = float(carbon_consumption_t_per_t(ce, p))
    anode = carbon / (1.0 - (p.anode_sulfur_wt + p.anode_ash_wt) / 100.0)
    cf4, c2f6 = pfc_slope_method(aem, al_t_h, p)
    alumina = al_t_h * M_AL2O3 / (2 * M_AL) / (1.0 - p.alumina_loss_frac)
    na2o_kg_h = alumina * 1000.0 * p.na2o_wt / 100.0
    alf3_kg_h = al_t_h * p.fluoride_loss_kg_alf3_per_t + na2o_kg_h * 2 * M_ALF3 / (3 * M_NA2O)
    v_cell = float(bd.total)
    return SteadyState(
        voltage_v=v_cell,
        acd_cm=acd,
        bath_temp_c=float(temp),
        liquidus_c=t_liq,
        superheat_k=float(temp - t_liq),
        ledge_cm=100.0 * ledge,
        shell_temp_c=wall.shell_surface(temps, air_temp_c),
        side_loss_kw=p.side_area_m2 * q / 1000.0,
        heat_loss_kw=p.side_area_m2 * q / 1000.0 + g_other * (temp - air_temp_c),
        current_efficiency=ce,
        aluminium_t_h=al_t_h,
        power_kw=v_cell * current_ka * n,
        specific_energy_kwh_kg=float(specific_energy_kwh_per_kg(v_cell, ce)),
        alumina_t_h=alumina,
        anode_t_h=anode * al_t_h,
        co2_t_h=float(process_co2_t_per_t(anode, p)) * al_t_h,
        cf4_kg_h=float(cf4),
        c2f6_kg_h=float(c2f6),
        alf3_kg_h=float(alf3_kg_h),
        frozen_fraction=float(np.clip((t_liq - temp) / p.freeze_interval_k, 0.0, 1.0)),
        breakdown=bd,
    )
