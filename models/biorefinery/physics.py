"""Physics of the corn-stover ethanol biorefinery (private helper of :mod:`models.biorefinery`).

Parameters in, numbers out. Every function works element-wise on numpy arrays
(or floats) and uses only arithmetic, ``exp``, ``log``, ``sqrt``, ``min``/``max``
and, in one place, a fixed-count bisection, so that each can be written as
algebraic constraints of a Pyomo model. Mass flows are kg/h unless stated.

Sources (cited by short key in the docstrings)
----------------------------------------------
[Humbird2011]
    D. Humbird, R. Davis, L. Tao, et al., "Process Design and
    Economics for Biochemical Conversion of Lignocellulosic Biomass to Ethanol:
    Dilute-Acid Pretreatment and Enzymatic Hydrolysis of Corn Stover",
    NREL/TP-5100-47764, National Renewable Energy Laboratory, 2011. Design
    basis (2,000 dry t/d, 20 % moisture, feed composition), pretreatment
    (158 degC, 5 min, 18 mg H2SO4/g, 30 % solids; xylan -> xylose 90 %,
    -> furfural 5 %, glucan -> glucose 9.9 %, -> HMF 0.3 %, lignin
    solubilised 5 %), enzymatic hydrolysis (48 degC, 20 % total solids,
    20 mg cellulase protein/g cellulose, 3.5 d; glucan -> glucose 90 %,
    -> oligomers 4.0 %, -> cellobiose 1.2 %), co-fermentation by *Zymomonas
    mobilis* (32 degC, 1.5 d; glucose -> ethanol 95 %, cell mass 2 %,
    glycerol 0.4 %, succinic acid 0.6 %; xylose -> ethanol 85 %, cell mass
    1.9 %, glycerol 0.3 %, xylitol 4.6 %, succinic acid 0.9 %; 3 % of the
    sugars lost to contaminants as lactic acid), 99.5 wt% product, 8,410 h/yr
    on stream, boiler efficiency 80 %; design results 79.0 gal/dry US ton and
    61.0 MMgal/yr; about 41 MW generated and 13 MW exported (the power figures
    are not reproduced exactly, see :mod:`models.biorefinery`).
[OC1987]
    R. P. Overend, E. Chornet, "Fractionation of lignocellulosics by
    steam-aqueous pretreatments", Phil. Trans. R. Soc. Lond. A 321 (1987)
    523-536: severity factor R0 = t exp((T - 100)/14.75), t in min, T in degC.
[Chum1990]
    H. L. Chum, D. K. Johnson, S. K. Black, R. P. Overend, "Pretreatment -
    catalyst effects and the combined severity parameter", Appl. Biochem.
    Biotechnol. 24/25 (1990) 1-14: combined severity CS = log10 R0 - pH.
[IF97]
    W. Wagner et al., "The IAPWS Industrial Formulation 1997 for the
    Thermodynamic Properties of Water and Steam", J. Eng. Gas Turbines Power
    122 (2000) 150-182; saturation-pressure equation (region 4, eq. 30) and
    the enthalpies quoted below (computed with the IF97 formulation).
[CP2002]
    S. A. Channiwala, P. P. Parikh, "A unified correlation for estimating HHV
    of solid, liquid and gaseous fuels", Fuel 81 (2002) 1051-1063:
    HHV [MJ/kg] = 0.3491 C + 1.1783 H + 0.1005 S - 0.1034 O - 0.0151 N - 0.0211 A
    (wt%, dry basis).
[Kremser1930]
    A. Kremser, "Theoretical analysis of absorption process", Natl. Petroleum
    News 22 (1930): fraction of a solute left in the liquid of an
    N-stage stripper with stripping factor S, (S - 1)/(S**(N+1) - 1).
[Rosso1993]
    L. Rosso, J. R. Lobry, J. P. Flandrois, "An unexpected correlation between
    cardinal temperatures of microbial growth highlighted by a new model",
    J. Theor. Biol. 162 (1993) 447-463: cardinal temperature model (CTMI).
[MetcalfEddy]
    Metcalf & Eddy, *Wastewater Engineering: Treatment and Resource Recovery*,
    5th ed., McGraw-Hill, 2014: theoretical methane yield 0.35 m3 CH4 (0 degC,
    1 atm) per kg COD converted; theoretical oxygen demand from the formula.
[KernSeaton1959]
    D. Q. Kern, R. E. Seaton, "A theoretical analysis of thermal surface
    fouling", Brit. Chem. Eng. 4 (1959) 258-262: asymptotic fouling
    resistance R_f(t) = R_f* (1 - exp(-t / tau)).

Molar masses use IUPAC conventional atomic weights (C 12.011, H 1.008,
N 14.007, O 15.999, S 32.06), so every reaction below conserves mass exactly.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

# --------------------------------------------------------------------------
# Molar masses, element data
# --------------------------------------------------------------------------

_AW = {"C": 12.011, "H": 1.008, "O": 15.999, "N": 14.007, "S": 32.06}


def molar_mass(c: float = 0, h: float = 0, o: float = 0, n: float = 0, s: float = 0) -> float:
    """Molar mass, g/mol, of C_c H_h O_o N_n S_s from IUPAC conventional atomic weights."""
    return c * _AW["C"] + h * _AW["H"] + o * _AW["O"] + n * _AW["N"] + s * _AW["S"]


#: Formulas (C, H, O, N, S) of the lumped species. Polysaccharides are counted
#: per anhydro monomer unit; acetyl groups as acetic acid (the NREL convention);
#: ``byproducts`` (glycerol, succinic acid, xylitol) and ``cell_mass`` are
#: formed mass-for-mass from the sugar (see :func:`cofermentation`); their
#: formulas only serve the heating value and oxygen demand.
FORMULA: dict[str, tuple[float, float, float, float, float]] = {
    "water": (0, 2, 1, 0, 0),
    "glucan": (6, 10, 5, 0, 0),
    "xylan": (5, 8, 4, 0, 0),
    "arabinan": (5, 8, 4, 0, 0),
    "galactan": (6, 10, 5, 0, 0),
    "mannan": (6, 10, 5, 0, 0),
    "sucrose": (12, 22, 11, 0, 0),
    "glucose": (6, 12, 6, 0, 0),
    "xylose": (5, 10, 5, 0, 0),
    "arabinose": (5, 10, 5, 0, 0),
    "galactose": (6, 12, 6, 0, 0),
    "mannose": (6, 12, 6, 0, 0),
    "oligomers": (6, 10, 5, 0, 0),
    "furfural": (5, 4, 2, 0, 0),
    "hmf": (6, 6, 3, 0, 0),
    "acetate": (2, 4, 2, 0, 0),
    "acetic_acid": (2, 4, 2, 0, 0),
    "sulfuric_acid": (0, 2, 4, 0, 1),
    "ammonia": (0, 3, 0, 1, 0),
    "ammonium_sulfate": (0, 8, 4, 2, 1),
    "ammonium_acetate": (2, 7, 2, 1, 0),
    "ethanol": (2, 6, 1, 0, 0),
    "co2": (1, 0, 2, 0, 0),
    "lactic_acid": (3, 6, 3, 0, 0),
    "methane": (1, 4, 0, 0, 0),
    "cell_mass": (1, 1.8, 0.5, 0.2, 0),  # CH1.8O0.5N0.2, Humbird2011 Z. mobilis
    "byproducts": (3, 8, 3, 0, 0),  # glycerol as representative
}
MW: dict[str, float] = {k: molar_mass(*v) for k, v in FORMULA.items()}

#: Elemental composition (wt%, dry, ash-free) assumed for lumps without a
#: formula. Lignin: C 63, H 5.9, O 30, N 1.1 (project assumption, typical of
#: herbaceous lignins, 60-65 % C); protein: C 53, H 7, O 23, N 16, S 1 (textbook
#: average amino-acid composition); extractives: as glucose (water-soluble
#: sugars, sugar alcohols and organic acids; project assumption).
ELEMENTAL_WT: dict[str, tuple[float, float, float, float, float]] = {
    "lignin": (63.0, 5.9, 30.0, 1.1, 0.0),
    "soluble_lignin": (63.0, 5.9, 30.0, 1.1, 0.0),
    "protein": (53.0, 7.0, 23.0, 16.0, 1.0),
    "enzyme": (53.0, 7.0, 23.0, 16.0, 1.0),
    "extractives": (40.0, 6.7, 53.3, 0.0, 0.0),
}


def elemental_wt(species: str) -> tuple[float, float, float, float, float]:
    """(C, H, O, N, S) in wt% of ``species`` (from its formula or :data:`ELEMENTAL_WT`)."""
    if species in ELEMENTAL_WT:
        return ELEMENTAL_WT[species]
    c, h, o, n, s = FORMULA[species]
    m = MW[species]
    return (
        100 * c * _AW["C"] / m,
        100 * h * _AW["H"] / m,
        100 * o * _AW["O"] / m,
        100 * n * _AW["N"] / m,
        100 * s * _AW["S"] / m,
    )


#: Latent heat of water at 25 degC, MJ/kg (IF97), used for HHV -> LHV.
LATENT_25C_MJ_KG = 2.442


def lhv_mj_kg(species: str) -> float:
    """Lower heating value, MJ/kg dry: [CP2002] HHV minus the latent heat of the water formed."""
    c, h, o, n, s = elemental_wt(species)
    hhv = 0.3491 * c + 1.1783 * h + 0.1005 * s - 0.1034 * o - 0.0151 * n
    water_formed = h / 100.0 * MW["water"] / (2 * _AW["H"])  # kg water per kg fuel
    return hhv - LATENT_25C_MJ_KG * water_formed


def carbon_fraction(species: str) -> float:
    """Carbon mass fraction (-) of ``species``."""
    return elemental_wt(species)[0] / 100.0


def thod(species: str) -> float:
    """Theoretical (carbonaceous) oxygen demand, kg O2/kg ([MetcalfEddy]).

    C_cH_hO_oN_n -> c CO2 + n NH3 + (h - 3n)/2 H2O: ThOD = (c + (h - 3n)/4 - o/2) 32/M.
    For lumps given as wt% the same expression is applied per 100 g.
    """
    c, h, o, n, s = elemental_wt(species)
    moles = (c / _AW["C"], h / _AW["H"], o / _AW["O"], n / _AW["N"])
    return max(0.0, moles[0] + (moles[1] - 3 * moles[3]) / 4 - moles[2] / 2) * 2 * _AW["O"] / 100.0


#: Theoretical ethanol yield on glucose (= on xylose), g/g: 2 x 46.069/180.156 = 0.5114.
ETHANOL_YIELD_THEORETICAL = 2 * MW["ethanol"] / MW["glucose"]


def nm3_density(species: str) -> float:
    """kg per normal m3 (0 degC, 101.325 kPa; ideal gas, 22.414 m3/kmol)."""
    return MW[species] / 22.414


#: Steam-cycle specific enthalpies, kJ/kg ([IF97]; project design: 6.2 MPa,
#: 454 degC throttle, extraction at 1.3 MPa and 0.45 MPa, condenser 10 kPa,
#: each turbine section with 85 % isentropic efficiency along the actual
#: expansion line; feedwater 120 degC).
H_THROTTLE = 3309.7
H_EXTRACT_HP = 2957.0  # 1.3 MPa, 261 degC
H_EXTRACT_LP = 2768.5  # 0.45 MPa, 158.7 degC
H_EXHAUST = 2277.0  # 10 kPa, x = 0.872
H_FEEDWATER = 508.6  # 120 degC, 7 MPa
H_COND_LP = 623.2  # saturated liquid at 0.45 MPa (147.9 degC)
H_COND_EXHAUST = 191.8  # saturated liquid at 10 kPa (45.8 degC)
T_SAT_LP_C = 147.9
LATENT_100C = 2256.5  # kJ/kg at 100 degC
CP_WATER = 4.18  # kJ/(kg K), 20-160 degC average

# IAPWS-IF97 region-4 coefficients n1..n10.
_N4 = (
    0.11670521452767e4,
    -0.72421316703206e6,
    -0.17073846940092e2,
    0.12020824702470e5,
    -0.32325550322333e7,
    0.14915108613530e2,
    -0.48232657361591e4,
    0.40511340542057e6,
    -0.23855557567849,
    0.65017534844798e3,
)


def saturation_pressure_kpa(temp_c):
    """Saturation pressure of water, kPa ([IF97] eq. 30, valid 0-374 degC)."""
    t = np.asarray(temp_c, dtype=float) + 273.15
    n = _N4
    th = t + n[8] / (t - n[9])
    a = th * th + n[0] * th + n[1]
    b = n[2] * th * th + n[3] * th + n[4]
    c = n[5] * th * th + n[6] * th + n[7]
    return 1000.0 * (2 * c / (-b + np.sqrt(b * b - 4 * a * c))) ** 4


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------

FEED_COMPONENTS: tuple[str, ...] = (
    "glucan",
    "xylan",
    "lignin",
    "ash",
    "arabinan",
    "galactan",
    "mannan",
    "acetate",
    "protein",
    "extractives",
    "sucrose",
)


@dataclass(frozen=True)
class BiorefineryParams:
    """Design and model parameters of the corn-stover ethanol biorefinery.

    Defaults reproduce the NREL 2011 design case [Humbird2011]. "Assumption"
    marks numbers chosen by this project (with the reasoning); "calibrated"
    marks numbers fitted so that the design case reproduces a published
    design result.

    Attributes
    ----------
    dry_feed_t_h : float
        Corn stover feed, dry basis, t/h. 2,000 dry t/d = 83.333 t/h [Humbird2011].
    moisture : float
        Feed moisture as received, mass fraction (wet basis). 0.20 [Humbird2011].
    x_glucan, x_xylan, x_lignin, x_ash, x_arabinan, x_galactan : float
    x_mannan, x_acetate, x_protein, x_extractives, x_sucrose : float
        Feed composition, mass fraction of dry matter [Humbird2011]: 35.05,
        19.53, 15.76, 4.93, 2.38, 1.43, 0.60, 1.81, 3.10, 14.65, 0.77 wt%
        (sum 100.01 %; normalised to 1 in :func:`feed_composition`).
    on_stream_h_per_yr : float
        Operating hours per year, h. 8,410 (96 %) [Humbird2011].
    cp_dry_solids : float
        Heat capacity of dry biomass solids, kJ/(kg K). Assumption: 1.3
        (lignocellulose 1.2-1.5 kJ/(kg K) at 20-150 degC).
    pt_temp_c, pt_time_min, acid_mg_g, pt_solids : float
        Pretreatment temperature (degC), residence time (min), sulfuric-acid
        loading (mg H2SO4/g dry biomass) and total solids (mass fraction):
        158, 5, 18, 0.30 [Humbird2011].
    severity_t_ref_c, severity_omega : float
        Severity factor reference temperature (degC) and the temperature for a
        factor e of rate, K: 100 and 14.75 [OC1987].
    pt_xylose_yield, pt_furfural_yield : float
        Xylan -> xylose and xylan -> furfural at the design point, fraction of
        xylan: 0.90, 0.05 [Humbird2011]. The remaining 5 % (oligomers and
        unreacted xylan) leaves as unhydrolysed xylan.
    pt_glucose_yield, pt_hmf_yield : float
        Glucan -> glucose and glucan -> HMF at the design point: 0.099, 0.003
        [Humbird2011].
    pt_lignin_solubilised : float
        Lignin solubilised in pretreatment, fraction: 0.05 [Humbird2011].
    pka_bisulfate : float
        pKa of HSO4-, 1.99 at 25 degC (CRC Handbook of Chemistry and Physics).
        Temperature and ash buffering effects on the pretreatment pH are
        neglected (assumption).
    presteam_temp_c : float
        Temperature of the feed after the presteamer (heated by recycled flash
        vapour), degC. Assumption: 100.
    flash_temp_c : float
        Blowdown flash temperature, degC. Assumption: 100 (atmospheric).
    flash_furfural_to_vapour : float
        Fraction of the furfural leaving with the flash vapour. Assumption: 0.6
        (furfural/water relative volatility ~ 5 at 100 degC, single stage).
    conditioning_ph, pka_acetic : float
        Ammonia conditioning target pH and pKa of acetic acid: 5.0
        (assumption: the usual cellulase optimum, pH 4.8-5.0) and 4.76 (CRC
        Handbook).
    eh_solids, eh_temp_c, eh_time_h, enzyme_mg_g : float
        Enzymatic hydrolysis total solids (fraction), temperature (degC),
        residence time at design flow (h) and cellulase loading (mg protein per
        g glucan entering): 0.20, 48, 84, 20 [Humbird2011].
    eh_glucose_yield, eh_oligomer_yield : float
        Glucan -> glucose and glucan -> soluble oligomers + cellobiose at the
        design point, fraction of glucan entering: 0.90 and 0.052 (4.0 + 1.2 %)
        [Humbird2011].
    eh_max_solubilisation : float
        Asymptotic glucan solubilisation at unlimited enzyme x time. Assumption:
        0.98 (recalcitrant fraction ~ 2 %).
    eh_volume_m3, ferm_volume_m3 : float
        Working volumes of the hydrolysis and fermentation trains, m3: 84 h
        and 36 h [Humbird2011] at this model's design slurry flow (424.2 m3/h).
    broth_density : float
        Density of the hydrolysate slurry and beer, kg/m3. Assumption: 1040
        (20 % total solids slurry).
    ferm_temp_c, ferm_time_h : float
        Co-fermentation temperature (degC) and residence time at design flow
        (h): 32, 36 [Humbird2011].
    glucose_to_ethanol, glucose_to_cells, glucose_consumed : float
        Fractions of glucose converted to ethanol (0.95), to cell mass (0.02)
        and in total (0.98 = 0.95 + 0.02 + 0.004 glycerol + 0.006 succinic
        acid) at the design point [Humbird2011].
    xylose_to_ethanol, xylose_to_cells, xylose_consumed : float
        The same for xylose: 0.85, 0.019, 0.927 (0.85 + 0.019 + 0.003 + 0.046
        + 0.009) [Humbird2011]. Arabinose is co-fermented with the xylose
        yields (assumption: an arabinose-utilising strain, as required for the
        published 79 gal/ton; without it the model gives ~76 gal/ton).
        Galactose and mannose are not fermented (assumption).
    contamination_loss : float
        Fraction of each fermentable sugar lost to contaminating lactic-acid
        bacteria (as lactic acid) in normal operation: 0.03 [Humbird2011].
    monod_k_glucose, monod_k_pentose : float
        Monod saturation constants of sugar uptake, g/L. Assumption: 1.5 and
        10 (Z. mobilis takes up glucose with far higher affinity than xylose).
    ethanol_inhibition_g_l : float
        Ethanol concentration that stops sugar uptake (linear product
        inhibition), g/L. Assumption: 100 (recombinant Z. mobilis
        co-fermentations stall at 90-110 g/L).
    ferm_t_min_c, ferm_t_max_c : float
        Cardinal temperatures of the [Rosso1993] model for Z. mobilis, degC.
        Assumption: 5 and 42 (optimum = ``ferm_temp_c``).
    product_purity : float
        Ethanol content of the dehydrated product, mass fraction: 0.995 [Humbird2011].
    beer_feed_temp_c, beer_bottoms_temp_c : float
        Beer column feed temperature after the feed/bottoms exchanger and
        bottoms temperature, degC. Assumption: 95 and 112 (column at ~1.5 bar).
    boilup_ratio : float
        Beer column vapour boil-up per unit beer feed (mass), set by ratio
        control. Assumption: 0.125 (stripping factor 1.5 at design).
    k_ethanol : float
        Ethanol K-value (y/x) at infinite dilution in the stripping section.
        Assumption: 12 (gamma_inf ~ 5.4 x p_sat,EtOH(112 degC) ~ 338 kPa /
        column pressure 153 kPa).
    beer_column_stages : float
        Theoretical stages of the stripping section. Assumption: 20.
    rectifier_steam_per_ethanol : float
        LP steam of rectifier and molecular-sieve regeneration per kg of
        ethanol distilled, kg/kg. Assumption: 0.5 (the rectifier is fed with
        the beer-column overhead vapour, so it needs little steam of its own).
    reboiler_dt_design_k : float
        Steam-chest-to-bottoms temperature difference of the clean beer column
        reboiler at design duty, K. Assumption: 20.
    reboiler_dt_max_k : float
        Largest achievable difference (LP header saturation 147.9 degC minus
        3 K valve/line losses minus bottoms temperature), K: 32.9.
    fouling_ratio_max, fouling_tau_d : float
        Asymptotic fouling resistance times the clean U (-) and its time
        constant (d) in the [KernSeaton1959] model. Assumption: 1.2 and 12:
        beer-column reboilers foul with protein and solids; the clean
        reboiler has 65 % duty margin, which fouling uses up after ~9 days,
        after which the boil-up and the ethanol recovery fall until the
        cleaning every 3-4 weeks.
    cake_moisture : float
        Moisture of the lignin-rich filter cake sent to the boiler, mass
        fraction. Assumption: 0.45.
    ad_cod_removal, ad_sludge_cod_fraction, ch4_yield_nm3_kg_cod : float
        Anaerobic digestion COD removal (assumption 0.90), share of the removed
        COD turned into sludge instead of methane (assumption 0.08), and the
        theoretical methane yield, 0.35 Nm3 CH4 per kg COD converted [MetcalfEddy].
    biogas_ch4_fraction : float
        Methane in the biogas, mole fraction. Assumption: 0.60.
    ad_fugitive_ch4 : float
        Fraction of the methane produced that escapes unburned (leaks, pressure
        relief). Assumption: 0.01.
    aerobic_cod_removal, aeration_kwh_per_kg_o2 : float
        Aerobic polishing COD removal (assumption 0.95) and blower energy per
        kg O2 transferred (assumption 0.6 kWh/kg, fine-bubble diffusers).
    boiler_efficiency : float
        Fuel heat input to steam, fraction: 0.80 [Humbird2011]; applied here
        to the LHV of the wet fuel (latent heat of its moisture deducted).
    generator_efficiency : float
        Generator and gearbox efficiency. Assumption: 0.97.
    min_condensing_fraction : float
        Minimum flow to the condensing section (cooling of the last stages),
        fraction of throttle steam. Assumption: 0.05.
    misc_lp_steam_fraction : float
        Deaerator, tank heating and tracing steam, fraction of throttle steam.
        Assumption: 0.04.
    aux_boiler_capacity_t_h, aux_boiler_efficiency : float
        Natural-gas package boiler (back-up during boiler trips), LP steam t/h
        and efficiency on LHV. Assumption: 60 t/h, 0.85.
    ng_lhv_mj_nm3 : float
        Natural gas LHV, MJ/Nm3. Pure methane: 50.0 MJ/kg x 0.7158 kg/Nm3 =
        35.8 MJ/Nm3 (assumption: pipeline gas treated as methane).
    power_fixed_kw : float
        Load independent of throughput (EH/fermentation agitators, lighting,
        buildings, instrument air, chilled water), kW. Assumption: 12,000,
        giving a design-case internal demand of 24.7 MW. The published
        demand (~41 - 13 = 28 MW) also covers the on-site cellulase
        production area of the NREL design, which this plant replaces by
        purchased enzyme; it is not reproduced.
    power_feed_kwh_t, power_pt_kwh_t : float
        Feed handling (shredding, conveying) and pretreatment (screw feeders,
        pumps) energy per dry t of feed. Assumption: 15 and 55 kWh/t.
    power_beer_kwh_t, power_steam_kwh_t, power_cooling_kwh_gj : float
        Distillation pumping per t beer (assumption 2 kWh/t), boiler fans and
        feedwater pumps per t steam (assumption 7 kWh/t) and cooling-tower
        fans/pumps per GJ rejected (assumption 10 kWh/GJ).
    ct_cycles : float
        Cooling-tower cycles of concentration. Assumption: 5.
    ro_recovery : float
        Fraction of the wastewater recycled as process water. Assumption: 0.90.
    """

    dry_feed_t_h: float = 2000.0 / 24.0
    moisture: float = 0.20
    x_glucan: float = 0.3505
    x_xylan: float = 0.1953
    x_lignin: float = 0.1576
    x_ash: float = 0.0493
    x_arabinan: float = 0.0238
    x_galactan: float = 0.0143
    x_mannan: float = 0.0060
    x_acetate: float = 0.0181
    x_protein: float = 0.0310
    x_extractives: float = 0.1465
    x_sucrose: float = 0.0077
    on_stream_h_per_yr: float = 8410.0
    cp_dry_solids: float = 1.3
    pt_temp_c: float = 158.0
    pt_time_min: float = 5.0
    acid_mg_g: float = 18.0
    pt_solids: float = 0.30
    severity_t_ref_c: float = 100.0
    severity_omega: float = 14.75
    pt_xylose_yield: float = 0.90
    pt_furfural_yield: float = 0.05
    pt_glucose_yield: float = 0.099
    pt_hmf_yield: float = 0.003
    pt_lignin_solubilised: float = 0.05
    pka_bisulfate: float = 1.99
    presteam_temp_c: float = 100.0
    flash_temp_c: float = 100.0
    flash_furfural_to_vapour: float = 0.6
    conditioning_ph: float = 5.0
    pka_acetic: float = 4.76
    eh_solids: float = 0.20
    eh_temp_c: float = 48.0
    eh_time_h: float = 84.0
    enzyme_mg_g: float = 20.0
    eh_glucose_yield: float = 0.90
    eh_oligomer_yield: float = 0.052
    eh_max_solubilisation: float = 0.98
    eh_volume_m3: float = 35_630.0
    ferm_volume_m3: float = 15_270.0
    broth_density: float = 1040.0
    ferm_temp_c: float = 32.0
    ferm_time_h: float = 36.0
    glucose_to_ethanol: float = 0.95
    glucose_to_cells: float = 0.02
    glucose_consumed: float = 0.98
    xylose_to_ethanol: float = 0.85
    xylose_to_cells: float = 0.019
    xylose_consumed: float = 0.927
    contamination_loss: float = 0.03
    monod_k_glucose: float = 1.5
    monod_k_pentose: float = 10.0
    ethanol_inhibition_g_l: float = 100.0
    ferm_t_min_c: float = 5.0
    ferm_t_max_c: float = 42.0
    product_purity: float = 0.995
    beer_feed_temp_c: float = 95.0
    beer_bottoms_temp_c: float = 112.0
    boilup_ratio: float = 0.125
    k_ethanol: float = 12.0
    beer_column_stages: float = 20.0
    rectifier_steam_per_ethanol: float = 0.5
    reboiler_dt_design_k: float = 20.0
    reboiler_dt_max_k: float = 32.9
    fouling_ratio_max: float = 1.2
    fouling_tau_d: float = 12.0
    cake_moisture: float = 0.45
    ad_cod_removal: float = 0.90
    ad_sludge_cod_fraction: float = 0.08
    ch4_yield_nm3_kg_cod: float = 0.35
    biogas_ch4_fraction: float = 0.60
    ad_fugitive_ch4: float = 0.01
    aerobic_cod_removal: float = 0.95
    aeration_kwh_per_kg_o2: float = 0.6
    boiler_efficiency: float = 0.80
    generator_efficiency: float = 0.97
    min_condensing_fraction: float = 0.05
    misc_lp_steam_fraction: float = 0.04
    aux_boiler_capacity_t_h: float = 60.0
    aux_boiler_efficiency: float = 0.85
    ng_lhv_mj_nm3: float = 35.8
    power_fixed_kw: float = 12_000.0
    power_feed_kwh_t: float = 15.0
    power_pt_kwh_t: float = 55.0
    power_beer_kwh_t: float = 2.0
    power_steam_kwh_t: float = 7.0
    power_cooling_kwh_gj: float = 10.0
    ct_cycles: float = 5.0
    ro_recovery: float = 0.90

    def composition(self) -> dict[str, float]:
        """Feed composition as published (mass fractions of dry matter, not normalised)."""
        return {c: getattr(self, f"x_{c}") for c in FEED_COMPONENTS}


DEFAULT = BiorefineryParams()

# --------------------------------------------------------------------------
# Feed
# --------------------------------------------------------------------------


def feed_composition(params: BiorefineryParams = DEFAULT, **override) -> dict[str, np.ndarray]:
    """Dry-matter composition normalised to sum 1; ``override`` replaces raw fractions."""
    raw = {c: np.asarray(override.get(c, getattr(params, f"x_{c}")), dtype=float) for c in FEED_COMPONENTS}
    total = sum(raw.values())
    return {c: v / total for c, v in raw.items()}


# --------------------------------------------------------------------------
# Pretreatment
# --------------------------------------------------------------------------


def log_severity(temp_c, time_min, params: BiorefineryParams = DEFAULT):
    """Severity log10 R0, R0 = t exp((T - 100)/14.75) [OC1987] (t min, T degC)."""
    t = np.asarray(time_min, dtype=float)
    temp = np.asarray(temp_c, dtype=float)
    return np.log10(t) + (temp - params.severity_t_ref_c) / params.severity_omega / math.log(10.0)


def acid_ph(acid_kg_h, liquid_kg_h, params: BiorefineryParams = DEFAULT):
    """pH of the pretreatment liquor from the sulfuric-acid concentration.

    First dissociation complete, second with Ka2 = 10**-pKa2:
    [H+] = c + x, x**2 + (c + Ka2) x - Ka2 c = 0 (c in mol/L, liquor density 1 kg/L).
    """
    c = np.asarray(acid_kg_h, dtype=float) / MW["sulfuric_acid"] / np.maximum(np.asarray(liquid_kg_h, float), 1e-9)
    c = c * 1000.0  # kmol/kg -> mol/L
    ka = 10.0 ** (-params.pka_bisulfate)
    x = (-(c + ka) + np.sqrt((c + ka) ** 2 + 4 * ka * c)) / 2.0
    return -np.log10(np.maximum(c + x, 1e-7))


def _consecutive_yield(u: float, v: float) -> float:
    # Intermediate of A -> B -> C (first order, "times" u = k1 t, v = k2 t).
    if abs(v - u) < 1e-12:
        return u * math.exp(-u)
    return u / (v - u) * (math.exp(-u) - math.exp(-v))


@functools.lru_cache(maxsize=32)
def pretreatment_constants(params: BiorefineryParams = DEFAULT) -> dict[str, float]:
    """Rate constants (per unit of effective severity, 1/min) through the design point.

    Polysaccharide -> monomer -> dehydration product as consecutive first-order
    reactions whose "time" is the effective severity R = R0 [H+]/[H+]_design
    (rates proportional to acid activity, the assumption behind the combined
    severity of [Chum1990]). Two constants per chain are fixed by the two
    design yields: remaining polymer exp(-a R_d) = 1 - y - f and monomer
    yield a/(b - a) (exp(-a R_d) - exp(-b R_d)) = y.
    """
    r_d = 10.0 ** float(log_severity(params.pt_temp_c, params.pt_time_min, params))
    out = {"r_design": r_d}
    for name, y, f in (
        ("xylan", params.pt_xylose_yield, params.pt_furfural_yield),
        ("glucan", params.pt_glucose_yield, params.pt_hmf_yield),
    ):
        u = -math.log(1.0 - y - f)
        v = brentq(lambda v, u=u, y=y: _consecutive_yield(u, v) - y, 1e-12, u - 1e-12, xtol=1e-15, rtol=1e-15)
        out[f"a_{name}"] = u / r_d
        out[f"b_{name}"] = v / r_d
    return out


def pretreatment_yields(log_r_eff, params: BiorefineryParams = DEFAULT) -> dict[str, np.ndarray]:
    """Fractions of xylan and glucan to monomer, dehydration product and remaining.

    ``log_r_eff`` is log10 of the effective severity (= log10 R0 at the design
    acid concentration). Pentosans (xylan, arabinan) and the minor hexosans
    (galactan, mannan) share the xylan kinetics (assumption).
    """
    k = pretreatment_constants(params)
    r = 10.0 ** np.asarray(log_r_eff, dtype=float)
    out = {}
    for name in ("xylan", "glucan"):
        a, b = k[f"a_{name}"], k[f"b_{name}"]
        rem = np.exp(-a * r)
        mono = a / (b - a) * (rem - np.exp(-b * r))
        out[f"{name}_remaining"] = rem
        out[f"{name}_monomer"] = mono
        out[f"{name}_degraded"] = 1.0 - rem - mono
    return out


# --------------------------------------------------------------------------
# Enzymatic hydrolysis
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def enzymatic_constant(params: BiorefineryParams = DEFAULT) -> float:
    """k of X = Xmax (1 - exp(-k E t)), 1/((mg/g) h), through the design point.

    X counts glucan solubilised (glucose + oligomers + cellobiose): at 20 mg/g
    and 84 h, X = 0.90 + 0.052 [Humbird2011].
    """
    x_d = params.eh_glucose_yield + params.eh_oligomer_yield
    return -math.log(1.0 - x_d / params.eh_max_solubilisation) / (params.enzyme_mg_g * params.eh_time_h)


def enzymatic_conversion(enzyme_mg_g, time_h, params: BiorefineryParams = DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """(glucan -> glucose, glucan -> oligomers) fractions after ``time_h`` at loading ``enzyme_mg_g``.

    Saturating first-order form X = Xmax (1 - exp(-k E t)) with the design
    monomer/oligomer split (90 : 5.2) [Humbird2011].
    """
    k = enzymatic_constant(params)
    x = params.eh_max_solubilisation * (
        1.0 - np.exp(-k * np.maximum(np.asarray(enzyme_mg_g, float), 0.0) * np.asarray(time_h, float))
    )
    share = params.eh_glucose_yield / (params.eh_glucose_yield + params.eh_oligomer_yield)
    return x * share, x * (1.0 - share)


# --------------------------------------------------------------------------
# Front end: feed -> pretreatment -> conditioning -> hydrolysis
# --------------------------------------------------------------------------

#: Species carried in process streams (kg/h).
SPECIES: tuple[str, ...] = (
    "water",
    "glucan",
    "xylan",
    "arabinan",
    "galactan",
    "mannan",
    "sucrose",
    "lignin",
    "soluble_lignin",
    "ash",
    "acetate",
    "acetic_acid",
    "protein",
    "extractives",
    "glucose",
    "xylose",
    "arabinose",
    "galactose",
    "mannose",
    "oligomers",
    "furfural",
    "hmf",
    "sulfuric_acid",
    "ammonium_sulfate",
    "ammonium_acetate",
    "enzyme",
    "ethanol",
    "lactic_acid",
    "cell_mass",
    "byproducts",
)
#: Species that stay with the solids in the stillage filter.
INSOLUBLE: frozenset[str] = frozenset(
    {"glucan", "xylan", "arabinan", "galactan", "mannan", "lignin", "ash", "protein", "enzyme", "cell_mass"}
)


def _zeros_like(x) -> np.ndarray:
    return np.zeros_like(np.asarray(x, dtype=float))


def _hydrolyse(st: dict, poly: str, mono: str, frac) -> None:
    # polymer unit + H2O -> monomer (mass exact via molar masses)
    moved = st[poly] * frac
    st[poly] = st[poly] - moved
    st[mono] = st[mono] + moved * MW[mono] / MW[poly]
    st["water"] = st["water"] - moved * MW["water"] / MW[poly]


def _dehydrate(st: dict, poly: str, product: str, frac) -> None:
    # polymer unit -> (monomer) -> product + 3 H2O, net: unit -> product + 2 H2O
    moved = st[poly] * frac
    st[poly] = st[poly] - moved
    st[product] = st[product] + moved * MW[product] / MW[poly]
    st["water"] = st["water"] + moved * (MW[poly] - MW[product]) / MW[poly]


@dataclass(frozen=True)
class FrontEnd:
    """Feed handling, pretreatment, conditioning and hydrolysis results (arrays or floats).

    Attributes (all mass flows kg/h)
    ----------
    feed_wet, feed_water : wet stover and its water.
    feed : dict of dry feed components.
    acid, ammonia, enzyme : chemicals added (H2SO4 100 % basis; NH3; cellulase protein).
    pt_steam : 1.3 MPa steam injected into the pretreatment reactor.
    pt_water, eh_water : process water added before pretreatment and before hydrolysis.
    flash_water, flash_furfural : blowdown flash vapour (to the condensate system / WWT).
    log_r0, ph_pt, combined_severity : pretreatment severity (-), liquor pH, log10 R0 - pH.
    xylan_to_xylose, xylan_to_furfural, glucan_to_glucose, glucan_to_hmf : pretreatment yields.
    eh_time_h, eh_glucose, eh_oligomers : residence time (h) and conversions of glucan entering.
    eh_in_glucan : glucan entering hydrolysis.
    slurry_m3_h : volumetric flow into hydrolysis/fermentation, m3/h.
    pt_slurry : slurry mass in the pretreatment reactor.
    out : dict of species, the hydrolysate sent to fermentation.
    """

    feed_wet: np.ndarray
    feed_water: np.ndarray
    feed: dict
    acid: np.ndarray
    ammonia: np.ndarray
    enzyme: np.ndarray
    pt_steam: np.ndarray
    pt_water: np.ndarray
    eh_water: np.ndarray
    flash_water: np.ndarray
    flash_furfural: np.ndarray
    log_r0: np.ndarray
    ph_pt: np.ndarray
    combined_severity: np.ndarray
    xylan_to_xylose: np.ndarray
    xylan_to_furfural: np.ndarray
    glucan_to_glucose: np.ndarray
    glucan_to_hmf: np.ndarray
    eh_time_h: np.ndarray
    eh_glucose: np.ndarray
    eh_oligomers: np.ndarray
    eh_in_glucan: np.ndarray
    slurry_m3_h: np.ndarray
    pt_slurry: np.ndarray
    out: dict


def front_end(
    dry_feed_t_h,
    moisture,
    composition: Mapping[str, np.ndarray] | None = None,
    pt_temp_c=None,
    pt_time_min=None,
    acid_mg_g=None,
    enzyme_mg_g=None,
    eh_time_h=None,
    params: BiorefineryParams = DEFAULT,
) -> FrontEnd:
    """Feed -> dilute-acid pretreatment -> flash -> ammonia conditioning -> enzymatic hydrolysis.

    Steps and assumptions:

    1. Dilution water and direct 1.3 MPa steam bring the presteamed feed
       (``presteam_temp_c``) to ``pt_temp_c`` at ``pt_solids`` total solids
       (solids = dry biomass + acid); slurry heat capacity mass-weighted.
    2. Consecutive first-order hydrolysis/dehydration in the effective severity
       (:func:`pretreatment_yields`); sucrose -> 2 hexoses and acetyl -> acetic
       acid completely; 5 % of the lignin solubilised.
    3. Flash to ``flash_temp_c``: the sensible heat above it evaporates water
       (with a share of the furfural).
    4. Ammonia neutralises H2SO4 to (NH4)2SO4 and, at pH 5.0, the dissociated
       share 1/(1 + 10**(pKa - pH)) of acetic acid to ammonium acetate.
    5. Water and cellulase to ``eh_solids`` total solids; glucan -> glucose and
       oligomers by :func:`enzymatic_conversion` at the residence time
       ``eh_volume_m3 / flow`` (or ``eh_time_h`` if given).

    ``None`` arguments take the design values of ``params``.
    """
    p = params
    comp = feed_composition(p) if composition is None else composition
    pt_temp_c = p.pt_temp_c if pt_temp_c is None else pt_temp_c
    pt_time_min = p.pt_time_min if pt_time_min is None else pt_time_min
    acid_mg_g = p.acid_mg_g if acid_mg_g is None else acid_mg_g
    enzyme_mg_g = p.enzyme_mg_g if enzyme_mg_g is None else enzyme_mg_g
    dry = np.asarray(dry_feed_t_h, dtype=float) * 1000.0
    w = np.asarray(moisture, dtype=float)
    feed = {c: dry * comp[c] for c in FEED_COMPONENTS}
    feed_water = dry * w / (1.0 - w)
    acid = np.asarray(acid_mg_g, float) * 1e-3 * dry

    # 1. Pretreatment heating and dilution.
    pt_slurry = (dry + acid) / p.pt_solids
    cp = p.pt_solids * p.cp_dry_solids + (1.0 - p.pt_solids) * CP_WATER
    temp = np.asarray(pt_temp_c, dtype=float)
    heat = pt_slurry * cp * np.maximum(temp - p.presteam_temp_c, 0.0)
    pt_steam = heat / (H_EXTRACT_HP - CP_WATER * temp)
    pt_water = pt_slurry - dry - acid - feed_water - pt_steam

    st = {s: _zeros_like(dry) for s in SPECIES}
    for c in FEED_COMPONENTS:
        st[c] = st[c] + feed[c]
    st["water"] = feed_water + pt_water + pt_steam
    st["sulfuric_acid"] = acid

    # 2. Reactions.
    log_r0 = log_severity(temp, pt_time_min, p)
    liquid = pt_slurry - dry - acid
    ph = acid_ph(acid, liquid, p)
    ph_design = float(
        acid_ph(p.acid_mg_g * 1e-3, (1.0 / p.pt_solids) * (1.0 + p.acid_mg_g * 1e-3) - 1.0 - p.acid_mg_g * 1e-3, p)
    )
    log_r_eff = log_r0 + (ph_design - ph)
    y = pretreatment_yields(log_r_eff, p)
    x_mono, x_deg = y["xylan_monomer"], y["xylan_degraded"]
    g_mono, g_deg = y["glucan_monomer"], y["glucan_degraded"]
    # Degradation first, on the original amounts (fractions refer to the feed polymer).
    for poly, mono, prod, fm, fd in (
        ("xylan", "xylose", "furfural", x_mono, x_deg),
        ("arabinan", "arabinose", "furfural", x_mono, x_deg),
        ("galactan", "galactose", "hmf", x_mono, x_deg),
        ("mannan", "mannose", "hmf", x_mono, x_deg),
        ("glucan", "glucose", "hmf", g_mono, g_deg),
    ):
        _dehydrate(st, poly, prod, fd)
        _hydrolyse(st, poly, mono, fm / np.maximum(1.0 - fd, 1e-12))  # fm of the original = fm/(1 - fd) of the rest
    # sucrose + H2O -> 2 hexoses (fructose counted with glucose: Z. mobilis ferments both)
    moved = st["sucrose"]
    st["glucose"] = st["glucose"] + moved * 2 * MW["glucose"] / MW["sucrose"]
    st["water"] = st["water"] - moved * MW["water"] / MW["sucrose"]
    st["sucrose"] = st["sucrose"] - moved
    st["acetic_acid"] = st["acetic_acid"] + st["acetate"]
    st["acetate"] = st["acetate"] * 0.0
    sol = st["lignin"] * p.pt_lignin_solubilised
    st["lignin"] = st["lignin"] - sol
    st["soluble_lignin"] = st["soluble_lignin"] + sol

    # 3. Flash.
    vapour = pt_slurry * cp * np.maximum(temp - p.flash_temp_c, 0.0) / LATENT_100C
    flash_furfural = st["furfural"] * p.flash_furfural_to_vapour
    flash_water = np.maximum(vapour - flash_furfural, 0.0)
    st["furfural"] = st["furfural"] - flash_furfural
    st["water"] = st["water"] - flash_water

    # 4. Ammonia conditioning.
    nh3_acid = st["sulfuric_acid"] * 2 * MW["ammonia"] / MW["sulfuric_acid"]
    st["ammonium_sulfate"] = st["ammonium_sulfate"] + st["sulfuric_acid"] + nh3_acid
    st["sulfuric_acid"] = st["sulfuric_acid"] * 0.0
    alpha = 1.0 / (1.0 + 10.0 ** (p.pka_acetic - p.conditioning_ph))
    acetic_n = st["acetic_acid"] * alpha
    nh3_acetic = acetic_n * MW["ammonia"] / MW["acetic_acid"]
    st["ammonium_acetate"] = st["ammonium_acetate"] + acetic_n + nh3_acetic
    st["acetic_acid"] = st["acetic_acid"] - acetic_n
    ammonia = nh3_acid + nh3_acetic

    # 5. Enzymatic hydrolysis.
    eh_in_glucan = st["glucan"].copy()
    enzyme = np.asarray(enzyme_mg_g, float) * 1e-3 * eh_in_glucan
    st["enzyme"] = st["enzyme"] + enzyme
    non_water = sum(v for k, v in st.items() if k != "water")
    total = non_water + st["water"]
    eh_water = non_water / p.eh_solids - total
    st["water"] = st["water"] + eh_water
    slurry_m3_h = (non_water / p.eh_solids) / p.broth_density
    if eh_time_h is None:
        eh_time_h = p.eh_volume_m3 / np.maximum(slurry_m3_h, 1e-9)
    eh_time_h = np.asarray(eh_time_h, float)
    x_glc, x_olig = enzymatic_conversion(enzyme_mg_g, eh_time_h, p)
    olig = st["glucan"] * x_olig
    _hydrolyse(st, "glucan", "glucose", x_glc)
    st["glucan"] = st["glucan"] - olig
    st["oligomers"] = st["oligomers"] + olig

    return FrontEnd(
        feed_wet=dry + feed_water,
        feed_water=feed_water,
        feed=feed,
        acid=acid,
        ammonia=ammonia,
        enzyme=enzyme,
        pt_steam=pt_steam,
        pt_water=pt_water,
        eh_water=eh_water,
        flash_water=flash_water,
        flash_furfural=flash_furfural,
        log_r0=log_r0,
        ph_pt=ph,
        combined_severity=log_r0 - ph,
        xylan_to_xylose=x_mono,
        xylan_to_furfural=x_deg,
        glucan_to_glucose=g_mono,
        glucan_to_hmf=g_deg,
        eh_time_h=eh_time_h,
        eh_glucose=x_glc,
        eh_oligomers=x_olig,
        eh_in_glucan=eh_in_glucan,
        slurry_m3_h=slurry_m3_h,
        pt_slurry=pt_slurry,
        out=st,
    )


# --------------------------------------------------------------------------
# Co-fermentation
# --------------------------------------------------------------------------


def cardinal_temperature_factor(temp_c, params: BiorefineryParams = DEFAULT):
    """Relative rate of the [Rosso1993] cardinal temperature model, 1 at ``ferm_temp_c``, 0 outside (Tmin, Tmax)."""
    t = np.asarray(temp_c, dtype=float)
    lo, opt, hi = params.ferm_t_min_c, params.ferm_temp_c, params.ferm_t_max_c
    num = (t - hi) * (t - lo) ** 2
    den = (opt - lo) * ((opt - lo) * (t - opt) - (opt - hi) * (opt + lo - 2 * t))
    f = num / np.where(np.abs(den) < 1e-12, 1e-12, den)
    return np.where((t > lo) & (t < hi), np.maximum(f, 0.0), 0.0)


def _monod_residual(s0, k, theta):
    # S0 - S = theta S/(K + S)  ->  S**2 + (K + theta - S0) S - S0 K = 0, positive root.
    b = k + theta - s0
    return (-b + np.sqrt(b * b + 4.0 * s0 * k)) / 2.0


def _ethanol_selectivity(params: BiorefineryParams) -> tuple[float, float]:
    return (
        params.glucose_to_ethanol / params.glucose_consumed,
        params.xylose_to_ethanol / params.xylose_consumed,
    )


def monod_cstr(s0_glucose, s0_pentose, theta_glucose, theta_pentose, params: BiorefineryParams = DEFAULT):
    """Residual sugars and ethanol (g/L) of a co-fermentation CSTR with ethanol inhibition.

    Sugar uptake r_i = q_i X S_i/(K_i + S_i) (1 - P/Pm); at steady state
    S0_i - S_i = theta_i (1 - P/Pm) S_i/(K_i + S_i) with theta_i = tau q_i X
    (g/L) and P = sum_i Y_i (S0_i - S_i), Y_i = 0.5114 x ethanol share of the
    consumed sugar. For a given P each S_i is the positive root of a
    quadratic; P is found by 60 bisection steps on the monotone residual
    (vectorised; a Pyomo port states the same equations directly).

    Returns
    -------
    (S_glucose, S_pentose, P) in g/L.
    """
    sel_g, sel_x = _ethanol_selectivity(params)
    yg, yx = ETHANOL_YIELD_THEORETICAL * sel_g, ETHANOL_YIELD_THEORETICAL * sel_x
    s0g = np.asarray(s0_glucose, dtype=float)
    s0x = np.asarray(s0_pentose, dtype=float)
    thg = np.asarray(theta_glucose, dtype=float)
    thx = np.asarray(theta_pentose, dtype=float)
    pm = params.ethanol_inhibition_g_l
    lo = np.zeros(np.broadcast(s0g, s0x, thg, thx).shape)
    hi = np.minimum(yg * s0g + yx * s0x, pm) + lo
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        inh = np.maximum(1.0 - mid / pm, 0.0)
        sg = _monod_residual(s0g, params.monod_k_glucose, thg * inh)
        sx = _monod_residual(s0x, params.monod_k_pentose, thx * inh)
        above = yg * (s0g - sg) + yx * (s0x - sx) > mid
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    p = 0.5 * (lo + hi)
    inh = np.maximum(1.0 - p / pm, 0.0)
    sg = _monod_residual(s0g, params.monod_k_glucose, thg * inh)
    sx = _monod_residual(s0x, params.monod_k_pentose, thx * inh)
    return sg, sx, yg * (s0g - sg) + yx * (s0x - sx)


@functools.lru_cache(maxsize=32)
def fermentation_constants(params: BiorefineryParams = DEFAULT) -> dict[str, float]:
    """theta_i (g/L) and residence time (h) of the design point, where consumption = published fractions.

    At the design point S_i = (1 - consumed_i) S0_i and P follow from the
    [Humbird2011] conversions, so theta_i = (S0 - S)(K + S)/(S (1 - P/Pm)) in
    closed form.
    """
    fe = front_end(params.dry_feed_t_h, params.moisture, params=params)
    vol = float(fe.slurry_m3_h)
    keep = 1.0 - params.contamination_loss
    s0g = float(fe.out["glucose"]) * keep / vol
    s0x = float(fe.out["xylose"] + fe.out["arabinose"]) * keep / vol
    sg, sx = s0g * (1 - params.glucose_consumed), s0x * (1 - params.xylose_consumed)
    sel_g, sel_x = _ethanol_selectivity(params)
    p = ETHANOL_YIELD_THEORETICAL * (sel_g * (s0g - sg) + sel_x * (s0x - sx))
    inh = 1.0 - p / params.ethanol_inhibition_g_l
    return {
        "theta_glucose": (s0g - sg) * (params.monod_k_glucose + sg) / (sg * inh),
        "theta_pentose": (s0x - sx) * (params.monod_k_pentose + sx) / (sx * inh),
        "tau_h": params.ferm_volume_m3 / vol,
        "slurry_m3_h": vol,
    }


@dataclass(frozen=True)
class Fermentation:
    """Co-fermentation result: beer species (kg/h), vent CO2 (kg/h), concentrations (g/L) and yields."""

    beer: dict
    co2: np.ndarray
    tau_h: np.ndarray
    s0_glucose: np.ndarray
    s0_pentose: np.ndarray
    glucose: np.ndarray
    pentose: np.ndarray
    ethanol: np.ndarray
    lactic: np.ndarray
    glucose_consumed: np.ndarray
    pentose_consumed: np.ndarray
    ethanol_from_glucose: np.ndarray
    ethanol_from_pentose: np.ndarray
    sugar_fermentable: np.ndarray
    lactic_from_hexoses: np.ndarray
    lactic_from_pentoses: np.ndarray
    activity_factor: np.ndarray


def cofermentation(
    hydrolysate: Mapping[str, np.ndarray],
    slurry_m3_h,
    temp_c=None,
    contamination_loss=None,
    activity=1.0,
    params: BiorefineryParams = DEFAULT,
) -> Fermentation:
    """Contamination loss, then the Monod CSTR (:func:`monod_cstr`) on glucose and pentoses.

    ``contamination_loss`` (fraction of every monomer sugar turned into lactic
    acid, 1:1 by mass: glucose -> 2 lactic acid, 3 pentose -> 5 lactic acid)
    defaults to 3 % [Humbird2011]. The uptake capacity theta scales with the
    residence time ``ferm_volume_m3 / slurry_m3_h``, the cardinal temperature
    factor and ``activity`` (viable-cell fraction, 1 normally). Consumed
    glucose/pentose is split into ethanol + CO2, cell mass and by-products in
    the published design ratios; every split conserves mass.
    """
    p = params
    temp_c = p.ferm_temp_c if temp_c is None else temp_c
    loss = p.contamination_loss if contamination_loss is None else contamination_loss
    k = fermentation_constants(p)
    vol = np.maximum(np.asarray(slurry_m3_h, dtype=float), 1e-6)
    st = {s: np.asarray(v, dtype=float) * 1.0 for s, v in hydrolysate.items()}
    loss = np.asarray(loss, dtype=float)
    lactic_c6 = _zeros_like(vol)
    lactic_c5 = _zeros_like(vol)
    for sugar in ("glucose", "xylose", "arabinose", "galactose", "mannose"):
        moved = st[sugar] * loss
        st[sugar] = st[sugar] - moved
        if sugar in ("xylose", "arabinose"):
            lactic_c5 = lactic_c5 + moved
        else:
            lactic_c6 = lactic_c6 + moved
    st["lactic_acid"] = st["lactic_acid"] + lactic_c6 + lactic_c5

    tau = p.ferm_volume_m3 / vol
    scale = (tau / k["tau_h"]) * cardinal_temperature_factor(temp_c, p) * np.asarray(activity, dtype=float)
    s0g = st["glucose"] / vol
    pent = st["xylose"] + st["arabinose"]
    s0x = pent / vol
    sg, sx, _ = monod_cstr(s0g, s0x, k["theta_glucose"] * scale, k["theta_pentose"] * scale, p)
    cons_g = (s0g - sg) * vol
    cons_x = (s0x - sx) * vol
    frac_x = np.where(pent > 0, st["xylose"] / np.where(pent > 0, pent, 1.0), 1.0)
    st["glucose"] = st["glucose"] - cons_g
    st["xylose"] = st["xylose"] - cons_x * frac_x
    st["arabinose"] = st["arabinose"] - cons_x * (1.0 - frac_x)

    sel_g, sel_x = _ethanol_selectivity(p)
    e_share = MW["ethanol"] / (MW["ethanol"] + MW["co2"])  # ethanol + CO2 from CH2O units: 3 CH2O -> C2H6O + CO2
    to_e_g, to_e_x = cons_g * sel_g, cons_x * sel_x
    eth_g, eth_x = to_e_g * e_share, to_e_x * e_share
    cells = cons_g * p.glucose_to_cells / p.glucose_consumed + cons_x * p.xylose_to_cells / p.xylose_consumed
    byp = cons_g + cons_x - to_e_g - to_e_x - cells
    st["ethanol"] = st["ethanol"] + eth_g + eth_x
    st["cell_mass"] = st["cell_mass"] + cells
    st["byproducts"] = st["byproducts"] + byp
    co2 = (to_e_g + to_e_x) * (1.0 - e_share)
    fermentable = (hydrolysate["glucose"] + hydrolysate["xylose"] + hydrolysate["arabinose"]) * 1.0
    return Fermentation(
        beer=st,
        co2=co2,
        tau_h=tau,
        s0_glucose=s0g,
        s0_pentose=s0x,
        glucose=sg,
        pentose=sx,
        ethanol=st["ethanol"] / vol,
        lactic=st["lactic_acid"] / vol,
        glucose_consumed=cons_g,
        pentose_consumed=cons_x,
        ethanol_from_glucose=eth_g,
        ethanol_from_pentose=eth_x,
        sugar_fermentable=fermentable,
        lactic_from_hexoses=lactic_c6,
        lactic_from_pentoses=lactic_c5,
        activity_factor=scale,
    )


# --------------------------------------------------------------------------
# Distillation and dehydration
# --------------------------------------------------------------------------

#: Latent heat of the boil-up at the beer-column bottoms (112 degC), kJ/kg [IF97].
LATENT_BOTTOMS = 2224.0


def kremser_unstripped(stripping_factor, stages):
    """Fraction of a solute left in the bottoms of an ``stages``-stage stripper [Kremser1930]."""
    s = np.asarray(stripping_factor, dtype=float)
    near = np.abs(s - 1.0) < 1e-9
    safe = np.where(near, 2.0, s)
    frac = (safe - 1.0) / (safe ** (stages + 1.0) - 1.0)
    return np.where(near, 1.0 / (stages + 1.0), frac)


def beer_column_duty_kw(beer_kg_h, params: BiorefineryParams = DEFAULT):
    """Reboiler duty (kW) demanded by boil-up ratio control: vapour + sensible heating to the bottoms."""
    beer = np.asarray(beer_kg_h, dtype=float)
    sensible = beer * CP_WATER * (params.beer_bottoms_temp_c - params.beer_feed_temp_c)
    return (params.boilup_ratio * beer * LATENT_BOTTOMS + sensible) / 3600.0


def specific_distillation_steam(titer_wt, params: BiorefineryParams = DEFAULT):
    """LP steam per kg of ethanol distilled, kg/kg, for a beer of ethanol mass fraction ``titer_wt``.

    Beer-column steam scales with the beer flow (boil-up ratio control), i.e.
    with 1/titer per kg of ethanol; rectifier/sieve steam scales with the
    ethanol. Hence the specific steam demand falls monotonically with titer.
    """
    x = np.asarray(titer_wt, dtype=float)
    beer_per_kg = 1.0 / x
    reb = beer_column_duty_kw(beer_per_kg, params) * 3600.0 / (H_EXTRACT_LP - H_COND_LP)
    return reb + params.rectifier_steam_per_ethanol


@dataclass(frozen=True)
class Distillation:
    """Beer column, rectifier and molecular sieves (mass flows kg/h, duty kW, temperatures degC)."""

    product_ethanol: np.ndarray
    product_water: np.ndarray
    stillage: dict
    duty_kw: np.ndarray
    duty_demand_kw: np.ndarray
    reboiler_steam: np.ndarray
    rectifier_steam: np.ndarray
    boilup: np.ndarray
    stripping_factor: np.ndarray
    ethanol_slip: np.ndarray
    chest_temp_c: np.ndarray
    ua_kw_k: np.ndarray


@functools.lru_cache(maxsize=32)
def reboiler_ua_clean(params: BiorefineryParams = DEFAULT) -> float:
    """Clean reboiler UA, kW/K: design duty / design temperature difference."""
    fe = front_end(params.dry_feed_t_h, params.moisture, params=params)
    fm = cofermentation(fe.out, fe.slurry_m3_h, params=params)
    beer = sum(fm.beer.values())
    return float(beer_column_duty_kw(beer, params)) / params.reboiler_dt_design_k


def distillation(
    beer: Mapping[str, np.ndarray], fouling_ratio=0.0, params: BiorefineryParams = DEFAULT
) -> Distillation:
    """Beer column with a fouling-limited reboiler, rectifier and molecular-sieve dehydration.

    The duty demanded by boil-up ratio control is delivered unless the fouled
    reboiler (U = U_clean/(1 + ratio), [KernSeaton1959]) cannot transfer it
    within the largest steam-chest temperature difference; then the boil-up
    falls and the ethanol left in the stillage follows the Kremser equation
    with the stripping factor K V/L. Overhead ethanol leaves as 99.5 wt%
    product; all other water and solutes leave with the stillage.
    """
    p = params
    st = {s: np.asarray(v, dtype=float) * 1.0 for s, v in beer.items()}
    feed = sum(st.values())
    demand = beer_column_duty_kw(feed, p)
    ua = reboiler_ua_clean(p) / (1.0 + np.asarray(fouling_ratio, dtype=float))
    duty = np.minimum(demand, ua * p.reboiler_dt_max_k)
    sensible = feed * CP_WATER * (p.beer_bottoms_temp_c - p.beer_feed_temp_c) / 3600.0
    boilup = np.maximum(duty - sensible, 0.0) * 3600.0 / LATENT_BOTTOMS
    s = p.k_ethanol * boilup / np.maximum(feed, 1e-9)
    slip = kremser_unstripped(s, p.beer_column_stages)
    eth_over = st["ethanol"] * (1.0 - slip)
    prod_water = eth_over * (1.0 - p.product_purity) / p.product_purity
    prod_water = np.minimum(prod_water, st["water"])
    st["ethanol"] = st["ethanol"] - eth_over
    st["water"] = st["water"] - prod_water
    return Distillation(
        product_ethanol=eth_over,
        product_water=prod_water,
        stillage=st,
        duty_kw=duty,
        duty_demand_kw=demand,
        reboiler_steam=duty * 3600.0 / (H_EXTRACT_LP - H_COND_LP),
        rectifier_steam=eth_over * p.rectifier_steam_per_ethanol,
        boilup=boilup,
        stripping_factor=s,
        ethanol_slip=slip,
        chest_temp_c=p.beer_bottoms_temp_c + duty / np.maximum(ua, 1e-9),
        ua_kw_k=ua,
    )


# --------------------------------------------------------------------------
# Stillage filter, wastewater treatment
# --------------------------------------------------------------------------


def stillage_filter(stillage: Mapping[str, np.ndarray], params: BiorefineryParams = DEFAULT) -> tuple[dict, dict]:
    """Pressure filter: (cake, filtrate). Insolubles to the cake with liquor at ``cake_moisture``."""
    insol = sum(v for k, v in stillage.items() if k in INSOLUBLE)
    liquid = sum(v for k, v in stillage.items() if k not in INSOLUBLE)
    cake_liquid = np.minimum(insol * params.cake_moisture / (1.0 - params.cake_moisture), liquid)
    share = cake_liquid / np.maximum(liquid, 1e-9)
    cake, filtrate = {}, {}
    for k, v in stillage.items():
        if k in INSOLUBLE:
            cake[k], filtrate[k] = v * 1.0, v * 0.0
        else:
            cake[k], filtrate[k] = v * share, v * (1.0 - share)
    return cake, filtrate


#: Soluble organic species counted in the wastewater COD.
COD_SPECIES: tuple[str, ...] = (
    "glucose",
    "xylose",
    "arabinose",
    "galactose",
    "mannose",
    "oligomers",
    "furfural",
    "hmf",
    "acetic_acid",
    "ammonium_acetate",
    "soluble_lignin",
    "extractives",
    "ethanol",
    "lactic_acid",
    "byproducts",
)


@dataclass(frozen=True)
class Wastewater:
    """Anaerobic digestion + aerobic polishing (kg/h unless stated)."""

    influent_m3_h: np.ndarray
    cod_in: np.ndarray
    cod_removed_ad: np.ndarray
    ch4_nm3_h: np.ndarray
    ch4_kg_h: np.ndarray
    biogas_nm3_h: np.ndarray
    biogas_co2_kg_h: np.ndarray
    ch4_fugitive_kg_h: np.ndarray
    o2_demand: np.ndarray
    cod_out: np.ndarray
    recycle_water: np.ndarray
    sludge: np.ndarray


def wastewater(streams: Mapping[str, np.ndarray], params: BiorefineryParams = DEFAULT) -> Wastewater:
    """COD from theoretical oxygen demands; methane 0.35 Nm3/kg COD converted ([MetcalfEddy]).

    AD removes ``ad_cod_removal`` of the COD; the share ``ad_sludge_cod_fraction``
    of it becomes sludge, the rest methane. Biogas CO2 from the assumed
    methane mole fraction. Aerobic polishing removes ``aerobic_cod_removal``
    of the rest with an oxygen demand of 0.6 kg O2/kg COD (assumption: net
    aerobic heterotrophic yield 0.4 g COD/g COD). Treated water is recycled
    at ``ro_recovery``.
    """
    p = params
    cod = sum(streams[s] * thod(s) for s in COD_SPECIES if s in streams)
    removed = p.ad_cod_removal * cod
    ch4_nm3 = p.ch4_yield_nm3_kg_cod * removed * (1.0 - p.ad_sludge_cod_fraction)
    ch4_kg = ch4_nm3 * nm3_density("methane")
    biogas_nm3 = ch4_nm3 / p.biogas_ch4_fraction
    co2_kg = (biogas_nm3 - ch4_nm3) * nm3_density("co2")
    aer = p.aerobic_cod_removal * (cod - removed)
    water = streams["water"]
    return Wastewater(
        influent_m3_h=sum(streams.values()) / 1000.0,
        cod_in=cod,
        cod_removed_ad=removed,
        ch4_nm3_h=ch4_nm3,
        ch4_kg_h=ch4_kg,
        biogas_nm3_h=biogas_nm3,
        biogas_co2_kg_h=co2_kg,
        ch4_fugitive_kg_h=ch4_kg * p.ad_fugitive_ch4,
        o2_demand=0.6 * aer,
        cod_out=cod - removed - aer,
        recycle_water=water * p.ro_recovery,
        sludge=removed * p.ad_sludge_cod_fraction / 1.42 + aer * 0.4 / 1.42,  # 1.42 kg COD/kg VSS
    )


# --------------------------------------------------------------------------
# Boiler and turbogenerator
# --------------------------------------------------------------------------

LHV_METHANE_MJ_KG = 50.0  # methane LHV, MJ/kg (e.g. Perry's Chemical Engineers' Handbook)
#: Cake species that burn (ash and inorganic salts do not; ammonium sulfate is
#: treated as inert, its sulfur leaves as SO2 scrubbed in the flue gas cleaning).
COMBUSTIBLE: tuple[str, ...] = tuple(
    s for s in SPECIES if s not in ("water", "ash", "sulfuric_acid", "ammonium_sulfate")
)


def fuel_properties(cake: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Heat input (kW, LHV of the wet cake), carbon (kg/h) and stoichiometric O2 (kmol/h) of the cake."""
    heat = _zeros_like(cake["water"])
    carbon = _zeros_like(cake["water"])
    o2 = _zeros_like(cake["water"])
    nitrogen = _zeros_like(cake["water"])
    for s in COMBUSTIBLE:
        m = cake[s]
        heat = heat + m * lhv_mj_kg(s) / 3.6
        c, h, o, n, _ = elemental_wt(s)
        carbon = carbon + m * c / 100.0
        o2 = o2 + m * (c / 100 / _AW["C"] + h / 100 / _AW["H"] / 4 - o / 100 / _AW["O"] / 2)
        nitrogen = nitrogen + m * n / 100.0
    heat = heat - cake["water"] * LATENT_25C_MJ_KG / 3.6
    return {"heat_kw": heat, "carbon": carbon, "o2_kmol": o2, "nitrogen": nitrogen}


@dataclass(frozen=True)
class CHP:
    """Boiler + extraction-condensing turbogenerator (kg/h, kW)."""

    fuel_kw: np.ndarray
    steam: np.ndarray
    hp_extraction: np.ndarray
    lp_extraction: np.ndarray
    condensing: np.ndarray
    aux_steam: np.ndarray
    hp_shortfall: np.ndarray
    lp_shortfall: np.ndarray
    generation_kw: np.ndarray


def chp(fuel_kw, hp_demand, lp_demand, ng_main_kw=0.0, params: BiorefineryParams = DEFAULT) -> CHP:
    """Steam raised = efficiency x (fuel + natural gas support firing) / (h_throttle - h_feedwater).

    Extraction steam serves the 1.3 MPa and 0.45 MPa process demands first,
    keeping ``min_condensing_fraction`` flowing to the condenser; the rest
    condenses. LP shortfall is covered by the natural-gas package boiler up
    to its capacity. Power = generator efficiency x sum of section flows x
    enthalpy drops (IF97 expansion line, 85 % isentropic sections).
    """
    p = params
    q = p.boiler_efficiency * (np.asarray(fuel_kw, dtype=float) + np.asarray(ng_main_kw, dtype=float))
    steam = np.maximum(q, 0.0) * 3600.0 / (H_THROTTLE - H_FEEDWATER)
    avail = steam * (1.0 - p.min_condensing_fraction)
    hp = np.minimum(np.asarray(hp_demand, dtype=float), avail)
    lp = np.minimum(np.asarray(lp_demand, dtype=float), avail - hp)
    cond = steam - hp - lp
    lp_short = np.asarray(lp_demand, dtype=float) - lp
    aux = np.minimum(lp_short, p.aux_boiler_capacity_t_h * 1000.0)
    gen = (
        p.generator_efficiency
        * (
            steam * (H_THROTTLE - H_EXTRACT_HP)
            + (steam - hp) * (H_EXTRACT_HP - H_EXTRACT_LP)
            + cond * (H_EXTRACT_LP - H_EXHAUST)
        )
        / 3600.0
    )
    return CHP(
        fuel_kw=np.asarray(fuel_kw, dtype=float) * 1.0,
        steam=steam,
        hp_extraction=hp,
        lp_extraction=lp,
        condensing=cond,
        aux_steam=aux,
        hp_shortfall=np.asarray(hp_demand, dtype=float) - hp,
        lp_shortfall=lp_short - aux,
        generation_kw=gen,
    )


def power_export(generation_kw, demand_kw) -> tuple[np.ndarray, np.ndarray]:
    """(export, import) in kW: export = max(generation - demand, 0), import = max(demand - generation, 0)."""
    net = np.asarray(generation_kw, dtype=float) - np.asarray(demand_kw, dtype=float)
    return np.maximum(net, 0.0), np.maximum(-net, 0.0)


# --------------------------------------------------------------------------
# Whole plant
# --------------------------------------------------------------------------

EXCESS_AIR = 0.30  # boiler excess air, fraction of stoichiometric (assumption; ~4 % O2 dry)
FUEL_N_TO_NOX = 0.04  # share of fuel nitrogen emitted as NO (assumption; 3-10 % for N-rich biomass fuels)
CT_EVAPORATIVE_SHARE = 0.80  # share of cooling-tower heat rejected by evaporation (assumption)
BOILER_BLOWDOWN = 0.02  # boiler blowdown + deaerator vent, fraction of steam (assumption)
DILUTION_WATER_TEMP_C = 25.0  # process (recycle) water temperature (assumption)


def back_end(
    fe: FrontEnd,
    hydrolysate: Mapping[str, np.ndarray],
    slurry_m3_h,
    *,
    ferm_temp_c=None,
    contamination_loss=None,
    activity=1.0,
    fouling_ratio=0.0,
    dist_fraction=1.0,
    boiler_availability=1.0,
    ng_main_kw=0.0,
    cw_temp_c=25.0,
    params: BiorefineryParams = DEFAULT,
) -> dict[str, np.ndarray]:
    """Fermentation -> distillation -> filter -> wastewater -> boiler/CHP -> power and water.

    ``fe`` supplies the current front-end utilities (pretreatment steam,
    process water, feed rate); ``hydrolysate`` and ``slurry_m3_h`` the stream
    that enters fermentation (equal to ``fe.out`` at steady state, the
    residence-time-weighted history in the dynamic simulator).
    ``dist_fraction`` is the share of the beer produced that is distilled in
    the hour (beer-well buffering, 1 at steady state); ``boiler_availability``
    the share of the available fuel fired (0 during a boiler trip);
    ``ng_main_kw`` natural-gas support firing in the main boiler (LHV, kW).

    Returns a flat dict of results (kg/h, kW, degC, g/L, fractions; keys
    documented in :func:`steady_state`).
    """
    p = params
    fm = cofermentation(hydrolysate, slurry_m3_h, ferm_temp_c, contamination_loss, activity, p)
    u = np.asarray(dist_fraction, dtype=float)
    beer_to_dist = {k: v * u for k, v in fm.beer.items()}
    ds = distillation(beer_to_dist, fouling_ratio, p)
    cake, filtrate = stillage_filter(ds.stillage, p)
    ww_in = dict(filtrate)
    ww_in["water"] = ww_in["water"] + fe.flash_water
    ww_in["furfural"] = ww_in["furfural"] + fe.flash_furfural
    ww = wastewater(ww_in, p)

    a = np.asarray(boiler_availability, dtype=float)
    fuel = fuel_properties(cake)
    ch4_fired = (ww.ch4_kg_h - ww.ch4_fugitive_kg_h) * a
    fuel_kw = a * fuel["heat_kw"] + ch4_fired * LHV_METHANE_MJ_KG / 3.6
    ng_main_kw = np.asarray(ng_main_kw, dtype=float) + 0.0 * a  # broadcast to the time axis

    hp_dem = fe.pt_steam * 1.0
    lp_process = ds.reboiler_steam + ds.rectifier_steam
    # Misc LP (deaerator, tracing) scales with the steam raised; estimate it from the fuel first.
    steam_est = p.boiler_efficiency * (fuel_kw + ng_main_kw) * 3600.0 / (H_THROTTLE - H_FEEDWATER)
    lp_dem = lp_process + p.misc_lp_steam_fraction * steam_est
    ch = chp(fuel_kw, hp_dem, lp_dem, ng_main_kw, p)
    ng_aux_kw = ch.aux_steam * (H_EXTRACT_LP - H_COND_LP) / 3600.0 / p.aux_boiler_efficiency
    ng_total_kw = ng_main_kw + ng_aux_kw

    # Heat rejected to cooling water, kW.
    dry = np.asarray(fe.feed_wet - fe.feed_water, dtype=float)
    cp_slurry = p.eh_solids * p.cp_dry_solids + (1 - p.eh_solids) * CP_WATER
    beer_mass = sum(fm.beer.values())
    process_cool = (
        np.maximum(
            (fe.pt_slurry - fe.flash_water - fe.flash_furfural) * cp_slurry * (p.flash_temp_c - p.eh_temp_c)
            - fe.eh_water * CP_WATER * (p.eh_temp_c - DILUTION_WATER_TEMP_C),
            0.0,
        )
        / 3600.0
        + beer_mass * cp_slurry * max(p.eh_temp_c - p.ferm_temp_c, 0.0) / 3600.0
    )
    condenser_kw = ch.condensing * (H_EXHAUST - H_COND_EXHAUST) / 3600.0
    distill_cool = ds.duty_kw + ds.rectifier_steam * (H_EXTRACT_LP - H_COND_LP) / 3600.0
    rejected_kw = condenser_kw + process_cool + distill_cool

    feed_t_h = dry / 1000.0
    demand_kw = (
        p.power_fixed_kw
        + (p.power_feed_kwh_t + p.power_pt_kwh_t) * feed_t_h
        + p.power_beer_kwh_t * sum(beer_to_dist.values()) / 1000.0
        + p.power_steam_kwh_t * (ch.steam + ch.aux_steam) / 1000.0
        + p.aeration_kwh_per_kg_o2 * ww.o2_demand
        + p.power_cooling_kwh_gj * rejected_kw * 3.6e-3
    )
    export_kw, import_kw = power_export(ch.generation_kw, demand_kw)

    # Water.
    evap = rejected_kw * 3600.0 * CT_EVAPORATIVE_SHARE / 2400.0
    ct_makeup = evap * p.ct_cycles / (p.ct_cycles - 1.0)
    boiler_makeup = fe.pt_steam + BOILER_BLOWDOWN * (ch.steam + ch.aux_steam)
    process_water = fe.pt_water + fe.eh_water
    intake = np.maximum(process_water + ct_makeup + boiler_makeup - ww.recycle_water, 0.0)

    # Combustion gas.
    mol_c = a * fuel["carbon"] / _AW["C"] + (ch4_fired + ng_total_kw * 3.6 / LHV_METHANE_MJ_KG) / MW["methane"]
    co2_biogas = a * ww.biogas_co2_kg_h
    o2_st = a * fuel["o2_kmol"] + 2.0 * (ch4_fired + ng_total_kw * 3.6 / LHV_METHANE_MJ_KG) / MW["methane"]
    n2 = (1.0 + EXCESS_AIR) * o2_st / 0.21 * 0.79
    o2_ex = EXCESS_AIR * o2_st
    dry_flue = mol_c + co2_biogas / MW["co2"] + n2 + o2_ex
    nox_kg = a * fuel["nitrogen"] * FUEL_N_TO_NOX / _AW["N"] * (_AW["N"] + 2 * _AW["O"])
    flue_nm3 = dry_flue * 22.414
    co2_boiler_bio = a * fuel["carbon"] * MW["co2"] / _AW["C"] + ch4_fired * MW["co2"] / MW["methane"] + co2_biogas
    # Biogas not fired while the boiler is down is flared (biogenic CO2 as well).
    flared_ch4 = (ww.ch4_kg_h - ww.ch4_fugitive_kg_h) * (1.0 - a)
    co2_flare_bio = flared_ch4 * MW["co2"] / MW["methane"] + (1.0 - a) * ww.biogas_co2_kg_h
    ng_nm3 = ng_total_kw * 3.6 / p.ng_lhv_mj_nm3

    product = ds.product_ethanol + ds.product_water
    out = {
        # fermentation
        "ferm_tau_h": fm.tau_h,
        "ferm_glucose_in_g_l": fm.s0_glucose,
        "ferm_pentose_in_g_l": fm.s0_pentose,
        "beer_glucose_g_l": fm.glucose,
        "beer_pentose_g_l": fm.pentose,
        "beer_ethanol_g_l": fm.ethanol,
        "beer_lactic_g_l": fm.lactic,
        "beer_cells_g_l": fm.beer["cell_mass"] / np.maximum(np.asarray(slurry_m3_h, float), 1e-6),
        "beer_byproducts_g_l": fm.beer["byproducts"] / np.maximum(np.asarray(slurry_m3_h, float), 1e-6),
        "beer_kg_h": beer_mass,
        "beer_ethanol_kg_h": fm.beer["ethanol"],
        "beer_ethanol_wt": fm.beer["ethanol"] / np.maximum(beer_mass, 1e-9),
        "ferm_co2_kg_h": fm.co2,
        "ferm_activity": fm.activity_factor,
        "glucose_consumed_kg_h": fm.glucose_consumed,
        "pentose_consumed_kg_h": fm.pentose_consumed,
        "ethanol_from_glucose_kg_h": fm.ethanol_from_glucose,
        "ethanol_from_pentose_kg_h": fm.ethanol_from_pentose,
        "fermentable_sugar_kg_h": fm.sugar_fermentable,
        "lactic_from_hexoses_kg_h": fm.lactic_from_hexoses,
        "lactic_from_pentoses_kg_h": fm.lactic_from_pentoses,
        # distillation
        "dist_feed_kg_h": sum(beer_to_dist.values()),
        "reboiler_duty_kw": ds.duty_kw,
        "reboiler_duty_demand_kw": ds.duty_demand_kw,
        "reboiler_steam_kg_h": ds.reboiler_steam,
        "rectifier_steam_kg_h": ds.rectifier_steam,
        "boilup_kg_h": ds.boilup,
        "stripping_factor": ds.stripping_factor,
        "ethanol_slip": ds.ethanol_slip,
        "reboiler_chest_temp_c": ds.chest_temp_c,
        "reboiler_ua_kw_k": ds.ua_kw_k,
        "stillage_kg_h": sum(ds.stillage.values()),
        "stillage_ethanol_kg_h": ds.stillage["ethanol"],
        "product_ethanol_kg_h": ds.product_ethanol,
        "product_kg_h": product,
        # filter
        "cake_kg_h": sum(cake.values()),
        "cake_water_kg_h": cake["water"],
        "cake_ash_kg_h": cake["ash"],
        "filtrate_kg_h": sum(filtrate.values()),
        # wastewater
        "ww_influent_m3_h": ww.influent_m3_h,
        "ww_cod_kg_h": ww.cod_in,
        "ww_cod_removed_ad_kg_h": ww.cod_removed_ad,
        "ch4_nm3_h": ww.ch4_nm3_h,
        "ch4_kg_h": ww.ch4_kg_h,
        "biogas_nm3_h": ww.biogas_nm3_h,
        "ch4_fugitive_kg_h": ww.ch4_fugitive_kg_h,
        "aeration_o2_kg_h": ww.o2_demand,
        "ww_cod_out_kg_h": ww.cod_out,
        "ww_recycle_kg_h": ww.recycle_water,
        "sludge_kg_h": ww.sludge,
        # boiler / CHP
        "cake_heat_kw": fuel["heat_kw"],
        "fuel_kw": ch.fuel_kw,
        "steam_kg_h": ch.steam,
        "hp_extraction_kg_h": ch.hp_extraction,
        "lp_extraction_kg_h": ch.lp_extraction,
        "lp_demand_kg_h": lp_dem,
        "condensing_kg_h": ch.condensing,
        "aux_steam_kg_h": ch.aux_steam,
        "hp_shortfall_kg_h": ch.hp_shortfall,
        "lp_shortfall_kg_h": ch.lp_shortfall,
        "generation_kw": ch.generation_kw,
        "demand_kw": demand_kw,
        "export_kw": export_kw,
        "import_kw": import_kw,
        "ng_main_kw": ng_main_kw,
        "ng_aux_kw": ng_aux_kw,
        "ng_nm3_h": ng_nm3,
        "ng_gj_h": ng_total_kw * 3.6e-3,
        "flue_nm3_h": flue_nm3,
        "flue_o2_pct": 100.0 * o2_ex / np.maximum(dry_flue, 1e-9),
        "flue_co2_pct": 100.0 * (mol_c + co2_biogas / MW["co2"]) / np.maximum(dry_flue, 1e-9),
        "flue_nox_mg_nm3": 1e6 * nox_kg / np.maximum(flue_nm3, 1e-9),
        "combustion_air_nm3_h": (1.0 + EXCESS_AIR) * o2_st / 0.21 * 22.414,
        "co2_boiler_biogenic_kg_h": co2_boiler_bio + co2_flare_bio,
        "co2_ng_fossil_kg_h": ng_total_kw * 3.6 / LHV_METHANE_MJ_KG * MW["co2"] / MW["methane"],
        "rejected_kw": rejected_kw,
        "condenser_kw": condenser_kw,
        "process_cooling_kw": process_cool,
        # condensing temperature = cooling water + 10 K range/approach + up to ~10 K with load (assumption)
        "condenser_kpa": saturation_pressure_kpa(np.asarray(cw_temp_c, float) + 10.0 + 10.0 * ch.condensing / 1.2e5),
        # water
        "water_intake_kg_h": intake,
        "ct_makeup_kg_h": ct_makeup,
        "boiler_makeup_kg_h": boiler_makeup,
        "process_water_kg_h": process_water,
        # streams for balances
        "_cake": cake,
        "_filtrate": filtrate,
        "_product_water_kg_h": ds.product_water,
    }
    return out


def steady_state(
    dry_feed_t_h=None,
    moisture=None,
    composition: Mapping[str, np.ndarray] | None = None,
    pt_temp_c=None,
    pt_time_min=None,
    acid_mg_g=None,
    enzyme_mg_g=None,
    ferm_temp_c=None,
    contamination_loss=None,
    fouling_ratio=0.0,
    cw_temp_c=25.0,
    params: BiorefineryParams = DEFAULT,
) -> dict[str, np.ndarray]:
    """Steady state of the whole plant for operator set points and feed conditions.

    Inputs (``None`` = design value of ``params``): dry feed t/h, moisture
    (fraction), raw dry composition fractions (normalised), pretreatment
    temperature degC / time min / acid mg/g, enzyme loading mg/g,
    fermentation temperature degC, contamination loss fraction, reboiler
    fouling ratio (R_f U_clean), cooling-water temperature degC.

    Returns
    -------
    dict
        Key results (all element-wise): the back-end results of
        :func:`back_end` plus ``log_r0``, ``combined_severity``,
        ``xylan_to_xylose``, ``xylan_to_furfural``, ``glucan_to_glucose_pt``,
        ``eh_glucose_conversion``, ``pt_steam_kg_h``, ``acid_kg_h``,
        ``ammonia_kg_h``, ``enzyme_kg_h``, ``ethanol_gal_h``,
        ``yield_gal_per_dry_ton`` (US gal per dry short ton),
        ``annual_mmgal`` (at ``on_stream_h_per_yr``), ``ethanol_yield_g_g``
        (ethanol per fermentable sugar entering fermentation) and the
        balance terms ``mass_in_kg_h``, ``mass_out_kg_h``, ``c6_in_kmol_h``,
        ``c6_out_kmol_h``, ``c5_in_kmol_h``, ``c5_out_kmol_h``.
    """
    p = params
    dry_feed_t_h = p.dry_feed_t_h if dry_feed_t_h is None else dry_feed_t_h
    moisture = p.moisture if moisture is None else moisture
    comp = feed_composition(p, **(composition or {}))
    fe = front_end(dry_feed_t_h, moisture, comp, pt_temp_c, pt_time_min, acid_mg_g, enzyme_mg_g, params=p)
    out = back_end(
        fe,
        fe.out,
        fe.slurry_m3_h,
        ferm_temp_c=ferm_temp_c,
        contamination_loss=contamination_loss,
        fouling_ratio=fouling_ratio,
        cw_temp_c=cw_temp_c,
        params=p,
    )
    out.update(front_end_results(fe))
    eth = out["product_ethanol_kg_h"]
    out["ethanol_gal_h"] = eth / ETHANOL_DENSITY_KG_M3 / GALLON_M3
    dry_short_tons_h = np.asarray(dry_feed_t_h, float) / SHORT_TON_T
    out["yield_gal_per_dry_ton"] = out["ethanol_gal_h"] / np.maximum(dry_short_tons_h, 1e-12)
    out["annual_mmgal"] = out["ethanol_gal_h"] * p.on_stream_h_per_yr / 1e6
    out["ethanol_yield_g_g"] = out["beer_ethanol_kg_h"] / np.maximum(out["fermentable_sugar_kg_h"], 1e-12)

    # Balances over the conversion section (feed to product, vent, flash vapour, cake, filtrate).
    cake, filtrate = out.pop("_cake"), out.pop("_filtrate")
    prod_water = out.pop("_product_water_kg_h")
    m_in = fe.feed_wet + fe.pt_water + fe.pt_steam + fe.acid + fe.ammonia + fe.eh_water + fe.enzyme
    m_out = (
        fe.flash_water
        + fe.flash_furfural
        + out["ferm_co2_kg_h"]
        + out["product_ethanol_kg_h"]
        + prod_water
        + sum(cake.values())
        + sum(filtrate.values())
    )
    hexosan = ("glucan", "galactan", "mannan")
    c6_in = sum(fe.feed[s] for s in hexosan) / MW["glucan"] + 2 * fe.feed["sucrose"] / MW["sucrose"]
    left = {s: cake[s] + filtrate[s] for s in cake}
    c6_out = (
        sum(left[s] for s in (*hexosan, "oligomers")) / MW["glucan"]
        + sum(left[s] for s in ("glucose", "galactose", "mannose")) / MW["glucose"]
        + (left["hmf"]) / MW["hmf"]
        + (out["glucose_consumed_kg_h"] + out["lactic_from_hexoses_kg_h"]) / MW["glucose"]
    )
    c5_in = (fe.feed["xylan"] + fe.feed["arabinan"]) / MW["xylan"]
    c5_out = (
        (left["xylan"] + left["arabinan"]) / MW["xylan"]
        + (left["xylose"] + left["arabinose"]) / MW["xylose"]
        + (left["furfural"] + fe.flash_furfural) / MW["furfural"]
        + (out["pentose_consumed_kg_h"] + out["lactic_from_pentoses_kg_h"]) / MW["xylose"]
    )
    out.update(
        mass_in_kg_h=m_in,
        mass_out_kg_h=m_out,
        c6_in_kmol_h=c6_in,
        c6_out_kmol_h=c6_out,
        c5_in_kmol_h=c5_in,
        c5_out_kmol_h=c5_out,
    )
    return out


#: Ethanol density at 60 degF (15.56 degC), kg/m3 (fuel-ethanol gallons are 60 degF gallons).
ETHANOL_DENSITY_KG_M3 = 793.6
GALLON_M3 = 3.785411784e-3  # US gallon, exact
SHORT_TON_T = 0.90718474  # US short ton, exact


def front_end_results(fe: FrontEnd) -> dict[str, np.ndarray]:
    """Flat dict of the front-end quantities used by tags and :func:`steady_state`."""
    return {
        "log_r0": fe.log_r0,
        "ph_pt": fe.ph_pt,
        "combined_severity": fe.combined_severity,
        "xylan_to_xylose": fe.xylan_to_xylose,
        "xylan_to_furfural": fe.xylan_to_furfural,
        "glucan_to_glucose_pt": fe.glucan_to_glucose,
        "glucan_to_hmf_pt": fe.glucan_to_hmf,
        "eh_glucose_conversion": fe.eh_glucose,
        "eh_oligomer_conversion": fe.eh_oligomers,
        "eh_time_h": fe.eh_time_h,
        "pt_steam_kg_h": fe.pt_steam,
        "pt_water_kg_h": fe.pt_water,
        "eh_water_kg_h": fe.eh_water,
        "flash_vapour_kg_h": fe.flash_water + fe.flash_furfural,
        "acid_kg_h": fe.acid,
        "ammonia_kg_h": fe.ammonia,
        "enzyme_kg_h": fe.enzyme,
        "feed_wet_kg_h": fe.feed_wet,
        "slurry_m3_h": fe.slurry_m3_h,
        "pt_slurry_kg_h": fe.pt_slurry,
    }
