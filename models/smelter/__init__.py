"""Hall–Héroult aluminium smelter: one 100-cell section of a 350 kA prebake potline.

The twin models a section of ``SmelterParams.n_cells`` = 100 point-fed,
centre-worked prebake (CWPB) reduction cells in series at a nominal line
current of 350 kA (40 anodes of 1.60 x 0.68 m, 0.80 A/cm**2), cell by cell
for the fast alumina / anode-effect dynamics and as the average cell for the
heat balance, and reports section aggregates plus one instrumented reference
pot (P001) on a 15-minute historian grid.

Physics (:mod:`models.smelter.physics`, each a documented function)
--------------------------------------------------------------------
1. Heat: lumped bath + metal (+ coupled carbon) energy balance with freezing (exact
   piecewise-exponential steps), quasi-steady ledge from the Stefan condition
   at the liquidus, and 1-D finite-volume transient conduction through the
   SiC sidewall block and steel shell (theta method, banded solver; checked
   against series resistances, the erfc solution and the slab Fourier series).
2. Alumina: point-feeder tracking cycles (underfeed/overfeed) per cell,
   Fickian film dissolution k A (c_sat - c) of fed alumina, consumption by
   Faraday's law, anode effect when the anode current density reaches the
   mass-transfer limit 6 F k c (about 1.8 wt % at 0.8 A/cm**2), plus
   spontaneous anode effects.
3. Electrode kinetics: Butler–Volmer anode and cathode overvoltages and the
   Haupin (1998) voltage breakdown (reversible potential, concentration
   overvoltages, bath and bubble drops, anode, cathode and busbar drops):
   ~4.2 V; current efficiency ~94.5 %; 13.3 kWh/kg Al; 0.42 t anode and
   1.51 t CO2 per t Al.
4. PFC: CF4 and C2F6 by the IPCC 2006 Tier 2 slope method (CWPB).

Operation and scenario
----------------------
The pot control holds a pseudo-resistance target (V = 1.65 V + I R) by moving
the anodes, i.e. the ACD is what absorbs disturbances; the target follows the
amperage–resistance table (constant heat generation) when the line current
changes. Routine transients every day: anode setting 06:30–09:00 UTC (each
anode is replaced every 28 days; cold anodes draw heat and pick up current
over ~8 h, a daily sawtooth in ACD), metal tapping 13:00–14:30 UTC (each
cell every 48 h, a sawtooth in metal height). Slow degradation: cathode
voltage drop rises and bottom insulation loses resistance with cell age
(section commissioned 2021-01-01), SiC sidewall thins. Abnormal: feeder
blockage (-> anode effects), bath temperature excursion, load shedding by the
power supplier, sensor faults. Extreme: power outage (bath freezing, restart
with extra heat), metal-pad instability. See :mod:`models.smelter.scenarios`
for the exact 70/20/8/2 % quotas per 25-day block.

Simplifications (stated, not hidden)
------------------------------------
* One heat balance for the average cell; per-cell states are alumina,
  undissolved alumina, ACD, anode ages, metal height and anode effects.
* Quasi-steady ledge: its latent heat is not stored, so the shell temperature
  follows superheat changes with the wall's conduction lag only (faster and
  stronger than in a real cell, whose ledge buffers for hours to days).
* The pot control knows each cell's alumina (a real one estimates it from the
  resistance slope); its target is the tracking cycle, so in normal operation
  only spontaneous anode effects occur.
* Not modelled: tap-out / cell cut-out, low-voltage (non-propagating) anode
  effects and their PFCs, cell-to-cell thermal differences, bath tapping.

Determinism and day independence
--------------------------------
Every UTC day is simulated on its own, starting from the steady state of its
previous day's midnight conditions and running through that previous day as
a pre-roll: all dynamic states forget their initial condition within hours
(bath + metal ~1.2 h, sidewall and shell ~2.6 h, dead-beat feed control,
frozen bath re-melts during the post-outage recovery), so the pre-roll
reproduces the previous day's end state (to < 0.01 K) and days join
seamlessly at midnight. Random draws come from
``models.historian.derive_rng`` keyed by (seed, plant, stream, day), anode
and tapping schedules are functions of absolute time. Hence day D alone is
identical to day D inside any window.

Speed (measured on the project's 2-core machine while other jobs ran):
``simulate_true`` ~26 ms per simulated day (96 pre-roll + 96 steps of 15 min,
100 cells vectorised per step); ``simulate`` including the historian files
35–60 ms per day (the CSV writer varies with disk and load).

Layout (a package on the shared engine, :mod:`models.engine`): physics
(:mod:`models.smelter.physics`) -> scenario (:mod:`models.smelter.scenarios`)
-> tags (:mod:`models.smelter.tags`) -> day inputs, episode details and the
section simulator (:mod:`models.smelter.simulator`); this module re-exports the API.
"""

from __future__ import annotations

from models.base import forward_to
from models.smelter import physics, scenarios, simulator, tags
from models.smelter.tags import (
    ACTIVITY,
    INFO,
    TAGS,
)
from models.smelter.simulator import (
    TYPE,
    DEFAULT_PARAMS,
    schedule,
    simulate,
    simulate_true,
)
from models.smelter.physics import (
    DEFAULT,
    KG_AL_PER_KAH,
    Layer,
    NOMINAL_RESISTANCE_UOHM,
    SmelterParams,
    SteadyState,
    VoltageBreakdown,
    WallModel,
    acd_for_voltage,
    alumina_activity,
    alumina_saturation_wt,
    alumina_step,
    anode_concentration_overvoltage,
    anode_effect_threshold_wt,
    anode_exchange_current_density,
    anode_gas_co2_fraction,
    bath_conductivity,
    bath_heat_step,
    bath_ratio,
    bubble_layer,
    butler_volmer_current,
    butler_volmer_overpotential,
    carbon_consumption_t_per_t,
    cathode_concentration_overvoltage,
    cathode_voltage_drop,
    cell_voltage_breakdown,
    composite_wall_flux,
    current_efficiency,
    dissolution_rate_constant,
    enthalpy_voltage,
    faraday_aluminium_kg_h,
    heat_balance_resistance,
    heat_loss_floor_flux,
    ledge_thickness_m,
    limiting_current_density,
    liquidus_temperature,
    make_grid,
    pfc_slope_method,
    process_co2_t_per_t,
    reversible_potential,
    side_flux,
    solve_conduction,
    specific_energy_kwh_per_kg,
    steady_conduction,
    steady_state,
    stoichiometric_co2_t_per_t,
)
from models.smelter.scenarios import (
    PLANT_ID,
)

__all__ = [
    "TYPE",
    "ACTIVITY",
    "DEFAULT",
    "DEFAULT_PARAMS",
    "INFO",
    "KG_AL_PER_KAH",
    "NOMINAL_RESISTANCE_UOHM",
    "PLANT_ID",
    "TAGS",
    "Layer",
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
    "schedule",
    "side_flux",
    "simulate",
    "simulate_true",
    "solve_conduction",
    "specific_energy_kwh_per_kg",
    "steady_conduction",
    "steady_state",
    "stoichiometric_co2_t_per_t",
]


#: Module-level helpers of the parts (``models.smelter._x``), for callers and tests that used the flat module.
__getattr__ = forward_to(__name__, tags, simulator, scenarios, physics)
