"""Steady-state setpoint optimization of the CO2-to-formic-acid electrolyzer (:mod:`models.co2_electrolyzer`).

Physics: the twin's steady state (:func:`models.co2_electrolyzer.steady_state`), written in Pyomo
with the twin's constants and :class:`~models.co2_electrolyzer.CO2ElectrolyzerParams`::

    j        = 1000 I / A_cell                                         mA/cm2
    j_kin    = FE_max j (1 - exp(-j / j_on))                           kinetic formate demand
    j_lim    = j_lim_ref y_mean (p/p_ref) / (w (q_ref/q_cell)^(1/3) + 1 - w)   CO2 transport limit
    j_f      = j_kin j_lim / (j_kin^n + j_lim^n)^(1/n)                 formate partial current, n = 3
    y_out    = (CO2_in - r_f) / (CO2_in - r_f + inert + r_H2)          r = N A j / (2F)
    y_mean^3 = y_in y_out (y_in + y_out) / 2                           Chen's log mean, cubed
    FE       = j_f / j
    V_cell   = E_rev(T) + 2RT/F asinh(j / 2 j0_a(T)) + 2RT/F asinh(j / 2 j0_c(T)) + j ASR(T)
    (k_c + UA) T_cell = k_c T_in + UA T_amb + N I (V_cell - V_tn(FE))  heat balance of the stack

Outputs as the twin's DCS blocks and activity streams define them: formic acid = N I FE M / (2F),
vented CO2 = fed - converted (a Scope 1 process emission), electricity import (``ECR.JI103``) =
stack DC power / rectifier efficiency + balance of plant + chiller duty / COP (trace heating when
the duty is negative), KHCO3 make-up (``ECR.FY303``) = bleed ratio x current x 0.5 mol/L.

Differences from the twin, all smooth reformulations:

* The twin's fixed point (formate current by bisection, three electrochemistry / heat-balance
  passes) becomes simultaneous equations; the heat balance is solved exactly where the twin
  stops after three passes (<= 0.015 K, 0.1 mV apart at the nominal catholyte flow).
* ``max(CO2_in - r_f, 0)`` becomes ``y_out >= 0``: the model cannot enter the depleted region,
  which the starvation constraint excludes anyway. Chen's cube root is written cubed.
* ``max(duty, 0)`` of the chiller and trace heating is the smooth maximum
  ``(d + sqrt(d^2 + eps^2)) / 2`` with eps = 1e-3 kW (error <= 0.5 W).

At any operating point the simulation stage reproduces :func:`~models.co2_electrolyzer.steady_state`
to better than 1e-4 relative (tested at two operating points; the stated tolerance is 5e-4).

Decisions (:data:`SETPOINTS`): stack current, 200-750 A (80 mA/cm2, the lowest current of the
twin's operating moves, up to the stack rating of 300 mA/cm2), and cathode CO2 feed flow,
2-60 Nm3/h (standby blanketing flow up to the full scale of FIC201). The CO2 concentration of
the blend, the catholyte inlet temperature and flow are held at their current values.

Objective, USD/h (see :mod:`optimization.plants`)::

    profit = p_FA formic acid - p_CO2 CO2 fed - p_el electricity - p_KHCO3 KHCO3
             - carbon price x vented CO2
    co2e   = vented CO2 (Scope 1) + grid factor x electricity (Scope 2, location-based)

Constraints (``setup_optimization`` options, defaults are this project's assumptions):

* CO2 not starved: CO2 fed >= ``min_co2_stoich_ratio`` (1.2) x the CO2 the current converts at
  FE = 1. The twin flags ratio < 1 as starved; 20 % margin for the MFC's accuracy and supply dips.
* Cell voltage <= ``max_cell_voltage_v`` (4.0 V: anode / membrane durability).
* Cell (catholyte outlet) temperature <= ``max_cell_temp_c`` (70 degC: Nafion, KHCO3 loop).
* Optional: FE >= ``min_faradaic_efficiency``; H2 in the dry cathode outlet <= ``max_h2_outlet_pct``
  (the twin has neither limit; the outlet is CO2/H2 without O2).
* Permit: vented CO2 <= ``limits["co2_kg_h"]`` (the daily permit / 24); the CO2e cap.

Example
-------
>>> from optimization.plants import OperatingConditions
>>> prices = {"formic_acid": 1.65, "co2_feed": 0.066, "electricity": 0.088, "potassium_bicarbonate": 1.0}
>>> sol = optimize(OperatingConditions("co2_electrolyzer", prices, carbon_price_usd_t=82.5,
...                                    grid_kg_co2e_per_kwh=0.363))
>>> sol.termination, round(sol.setpoints["current_a"]), sol.profit_usd_h > sol.current_profit_usd_h
('optimal', 644, True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, Literal

import pandas as pd
import pyomo.environ as pyo

from models import co2_electrolyzer as plant
from nexus.errors import ConfigError
from optimization.flow import StagedFlow
from optimization.plants import OperatingConditions, Setpoint, Solution
from optimization.solvers import SolveReport

__all__ = [
    "CALIBRATED_PARAMETERS",
    "HELD_CONDITIONS",
    "LIMIT_KEYS",
    "PLANT_ID",
    "PRICE_ITEMS",
    "SETPOINTS",
    "CO2ElectrolyzerOptimization",
    "OperatingLimits",
    "calibrated_params",
    "optimize",
]

PLANT_ID = plant.PLANT_ID
_P = plant.DEFAULT

#: Lowest stack current density of the twin's operating moves, mA/cm2 (turndown; assumption).
MIN_CURRENT_DENSITY_MA_CM2 = 80.0

#: Decision variables: what the operator moves, with the equipment range.
SETPOINTS: dict[str, Setpoint] = {
    "current_a": Setpoint(
        "current_a", "A", MIN_CURRENT_DENSITY_MA_CM2 * _P.cell_area_cm2 / 1000.0, _P.rated_current_a,
        f"stack current (rectifier IIC101): {MIN_CURRENT_DENSITY_MA_CM2:g} mA/cm2 turndown up to the stack "
        f"rating {_P.rated_current_density_ma_cm2:g} mA/cm2",
    ),
    "co2_flow_nm3_h": Setpoint(
        "co2_flow_nm3_h", "Nm3/h", _P.co2_standby_nm3_h, plant.CO2_FLOW_MAX_NM3_H,
        "cathode feed gas flow (FIC201, normal m3/h): standby blanketing flow up to the MFC's full scale",
    ),
}

#: Conditions held at their current value (``OperatingConditions.current`` may carry them).
HELD_CONDITIONS: dict[str, float] = {
    "co2_concentration_pct": plant.NOMINAL.co2_concentration_pct,
    "inlet_temp_c": plant.NOMINAL.inlet_temp_c,
    # the electrode's age: the calibration fits the new-electrode Faradaic efficiency and ages it by
    # this counter, so the optimizer must age it the same way (a new electrode overstates FE ~3 %)
    "electrode_age_h": 0.0,
}

#: Market items of the objective and the unit their price must be in.
PRICE_ITEMS: dict[str, str] = {
    "formic_acid": "USD/kg",  # product, 100 % HCOOH basis (market: chem.formic_acid, EUR/t)
    "co2_feed": "USD/kg",  # pure CO2 in the cathode feed (market: chem.co2_liquid, EUR/t)
    "electricity": "USD/kWh",  # plant import ECR.JI103 (market: eex.power_de_da, EUR/MWh)
    "potassium_bicarbonate": "USD/kg",  # KHCO3 catholyte make-up (no market series: a contract price)
}

#: Parameters a calibration may replace (names of CO2ElectrolyzerParams): the FE curve (plateau,
#: onset, CO2-transport limit), the cathode exchange current density and the ohmic ASR, the ones
#: the twin's electrode ageing moves.
CALIBRATED_PARAMETERS: tuple[str, ...] = (
    "fe_max",
    "j_onset_ma_cm2",
    "j_lim_ref_ma_cm2",
    "j0_cathode_ma_cm2",
    "asr_ohm_cm2",
)

#: Emission-limit keys understood (hourly caps, kg/h): both are the vented CO2, this plant's only
#: Scope 1 emission.
LIMIT_KEYS: tuple[str, ...] = ("co2_kg_h", "co2e_scope1_kg_h")

_ZERO_C = 273.15  # K at 0 degC (definition of the Celsius scale)
_SMOOTH_KW = 1e-3  # eps of the smooth max of the chiller duty, kW
_ACTIVE_RTOL = 1e-5  # a constraint within this relative distance of its bound is reported active


def calibrated_params(
    parameters: Mapping[str, float], base: plant.CO2ElectrolyzerParams = plant.DEFAULT
) -> plant.CO2ElectrolyzerParams:
    """``base`` with calibrated values; names must be in :data:`CALIBRATED_PARAMETERS`.

    Raises
    ------
    ValueError
        Unknown name (the message lists the valid ones), a value that is not a finite positive
        number, or one the parameter dataclass rejects (``fe_max`` outside (0, 1]).
    """
    unknown = sorted(set(parameters) - set(CALIBRATED_PARAMETERS))
    if unknown:
        raise ValueError(
            f"co2_electrolyzer: unknown calibrated parameter(s) {unknown}; expected names from {list(CALIBRATED_PARAMETERS)}"
        )
    values = {}
    for name, value in parameters.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"co2_electrolyzer: parameter {name} must be a number, found {value!r}") from None
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"co2_electrolyzer: parameter {name} must be finite and > 0, found {value!r}")
        values[name] = v
    return replace(base, **values)


@dataclass(frozen=True)
class OperatingLimits:
    """Operating constraints of :meth:`CO2ElectrolyzerOptimization.setup_optimization`.

    Attributes
    ----------
    min_co2_stoich_ratio : float
        CO2 fed / CO2 the current converts at FE = 1, -. 1.2 (assumption: the twin's
        starvation threshold 1 plus a 20 % margin).
    max_cell_voltage_v : float
        Mean cell voltage, V. 4.0 (assumption).
    max_cell_temp_c : float
        Cell (catholyte outlet) temperature, degC. 70 (assumption).
    min_faradaic_efficiency : float or None
        Formate FE, -; None: no limit.
    max_h2_outlet_pct : float or None
        H2 in the dry cathode outlet gas, mol-%; None: no limit.
    vented_co2_max_kg_h : float or None
        Permit on the vented CO2, kg/h (daily limit / 24).
    co2e_cap_kg_h : float or None
        Scope 1 + location-based Scope 2 CO2e, kg/h (the epsilon-constraint).
    """

    min_co2_stoich_ratio: float = 1.2
    max_cell_voltage_v: float = 4.0
    max_cell_temp_c: float = 70.0
    min_faradaic_efficiency: float | None = None
    max_h2_outlet_pct: float | None = None
    vented_co2_max_kg_h: float | None = None
    co2e_cap_kg_h: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and (not isinstance(value, (int, float)) or not math.isfinite(value)):
                raise ValueError(f"limit {f.name} must be a finite number or None, found {value!r}")


@dataclass(frozen=True)
class _Economics:
    prices: dict[str, float]
    carbon_price_usd_t: float
    grid_kg_co2e_per_kwh: float

    @classmethod
    def build(cls, prices: Mapping[str, float], carbon_price_usd_t: float, grid_kg_co2e_per_kwh: float) -> _Economics:
        missing = [k for k in PRICE_ITEMS if k not in prices]
        if missing:
            raise ValueError(
                f"co2_electrolyzer: prices expected for {dict(PRICE_ITEMS)}, missing {missing} (found {sorted(prices)})"
            )
        checked = {}
        for name, value in [*((k, prices[k]) for k in PRICE_ITEMS), ("carbon_price_usd_t", carbon_price_usd_t),
                            ("grid_kg_co2e_per_kwh", grid_kg_co2e_per_kwh)]:
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"co2_electrolyzer: {name} must be a finite number, found {value!r}")
            checked[name] = float(value)
        if checked["grid_kg_co2e_per_kwh"] < 0:
            raise ValueError(f"co2_electrolyzer: grid_kg_co2e_per_kwh must be >= 0, found {grid_kg_co2e_per_kwh!r}")
        carbon, grid = checked.pop("carbon_price_usd_t"), checked.pop("grid_kg_co2e_per_kwh")
        return cls(checked, carbon, grid)

    def evaluate(self, out: Mapping[str, Any]) -> dict[str, Any]:
        """Economics and CO2e of a rate dict; works on floats and Pyomo expressions alike."""
        p = self.prices
        scope1 = out["co2_vented_kg_h"]  # GWP100 of CO2 is 1 by definition
        scope2 = self.grid_kg_co2e_per_kwh * out["electricity_kw"]
        revenue = p["formic_acid"] * out["formic_acid_kg_h"]
        purchases = (
            p["co2_feed"] * out["co2_feed_kg_h"]
            + p["electricity"] * out["electricity_kw"]
            + p["potassium_bicarbonate"] * out["potassium_bicarbonate_kg_h"]
        )
        carbon_cost = self.carbon_price_usd_t / 1000.0 * scope1
        return {
            "revenue_usd_h": revenue,
            "purchases_usd_h": purchases,
            "carbon_cost_usd_h": carbon_cost,
            "profit_usd_h": revenue - purchases - carbon_cost,
            "scope1_co2e_kg_h": scope1,
            "scope2_co2e_kg_h": scope2,
            "co2e_kg_h": scope1 + scope2,
        }


class CO2ElectrolyzerOptimization(StagedFlow):
    """Staged optimization of the electrolyzer's stack current and CO2 feed flow.

    Parameters
    ----------
    params : models.co2_electrolyzer.CO2ElectrolyzerParams
        Stack parameters (design or calibrated, :func:`calibrated_params`).

    Stages
    ------
    ``build()``; ``set_conditions(current_a=500, co2_flow_nm3_h=30, co2_concentration_pct=100,
    inlet_temp_c=40, catholyte_flow_m3_h=None, electrode_age_h=0)``; ``initialize()`` (square
    solve started from :func:`models.co2_electrolyzer.steady_state`); ``setup_optimization(prices,
    ...)``; ``solve()``; ``report()``.
    """

    name: ClassVar[str] = "co2_electrolyzer"

    def __init__(self, params: plant.CO2ElectrolyzerParams = plant.DEFAULT) -> None:
        super().__init__()
        self.params = params
        self.economics: _Economics | None = None
        self.limits: OperatingLimits | None = None
        self.objective: str = "profit"
        self.current: dict[str, float] | None = None
        self.electrode_age_h = 0.0

    # ------------------------------------------------------------------ stages

    def build(self) -> pyo.ConcreteModel:
        """The steady-state stack: inputs are fixed variables, four states, four equations."""
        p = self.params
        nom = plant.NOMINAL
        m = pyo.ConcreteModel(name="co2_electrolyzer_setpoints")
        # Inputs (fixed by set_conditions; the first two are the decisions)
        m.current_a = pyo.Var(bounds=(0.0, p.rated_current_a), initialize=nom.current_a, doc="stack current, A")
        m.co2_flow_nm3_h = pyo.Var(bounds=(1e-3, plant.CO2_FLOW_MAX_NM3_H), initialize=nom.co2_flow_nm3_h,
                                   doc="cathode feed gas flow, Nm3/h")
        m.co2_fraction = pyo.Var(bounds=(1e-3, 1.0), initialize=nom.co2_concentration_pct / 100.0,
                                 doc="CO2 mole fraction of the feed gas, -")
        m.inlet_temp_c = pyo.Var(bounds=(5.0, 80.0), initialize=nom.inlet_temp_c, doc="catholyte inlet, degC")
        m.catholyte_flow_m3_h = pyo.Var(bounds=(0.1, None), initialize=p.catholyte_flow_m3_h,
                                        doc="catholyte recirculation, m3/h")
        # Degradation state (electrode age) enters through these; set_conditions sets them.
        m.fe_plateau = pyo.Param(mutable=True, initialize=p.fe_max, doc="FE plateau at the electrode age, -")
        m.j0c_factor = pyo.Param(mutable=True, initialize=1.0, doc="cathode j0 ageing factor, -")
        m.asr_factor = pyo.Param(mutable=True, initialize=1.0, doc="ASR ageing factor, -")
        # States
        m.j_formate = pyo.Var(bounds=(0.0, None), initialize=180.0, doc="formate partial current density, mA/cm2")
        m.y_out = pyo.Var(bounds=(0.0, 1.0), initialize=0.8, doc="CO2 fraction of the dry cathode outlet, -")
        m.y_mean = pyo.Var(bounds=(0.0, 1.0), initialize=0.9, doc="Chen log mean of inlet and outlet CO2, -")
        m.cell_temp_c = pyo.Var(bounds=(0.0, 100.0), initialize=45.0, doc="cell (catholyte outlet) temp., degC")

        n, F, Z = p.n_cells, plant.F, plant.Z
        m.j = pyo.Expression(expr=1000.0 * m.current_a / p.cell_area_cm2, doc="current density, mA/cm2")
        k = n * p.cell_area_cm2 * 1e-3 / (Z * F)  # mol/s per mA/cm2 (twin: solve_formate_current)
        n_in = m.co2_flow_nm3_h / (plant.V_M_NORMAL * 3600.0)  # twin: nm3_h_to_mol_s
        m.co2_in_mol_s = pyo.Expression(expr=m.co2_fraction * n_in)
        m.inert_mol_s = pyo.Expression(expr=(1.0 - m.co2_fraction) * n_in)
        m.formate_mol_s = pyo.Expression(expr=k * m.j_formate)
        m.h2_mol_s = pyo.Expression(expr=k * (m.j - m.j_formate))
        m.co2_out_mol_s = pyo.Expression(expr=m.co2_in_mol_s - m.formate_mol_s)
        m.outlet_mol_s = pyo.Expression(expr=m.co2_out_mol_s + m.inert_mol_s + m.h2_mol_s)
        m.fe = pyo.Expression(expr=m.j_formate / m.j, doc="Faradaic efficiency to formate, -")

        # Selectivity and CO2 transport (twin: kinetic_formate_current, co2_limiting_current,
        # formate_partial_current, mean_mole_fraction)
        m.j_kinetic = pyo.Expression(expr=m.fe_plateau * m.j * (1.0 - pyo.exp(-m.j / p.j_onset_ma_cm2)))
        w = p.mt_gas_side_fraction
        q_cell = m.co2_flow_nm3_h / n
        resistance = w * (p.mt_flow_ref_nm3_h_per_cell / q_cell) ** (1.0 / 3.0) + (1.0 - w)
        m.j_limit = pyo.Expression(
            expr=p.j_lim_ref_ma_cm2 * m.y_mean * (p.cathode_pressure_kpa / plant.P_REF_KPA) / resistance
        )
        s, scale = p.mt_sharpness, 100.0  # scaled by 100 mA/cm2 so the n-th powers stay O(1)
        jk, jl = m.j_kinetic / scale, m.j_limit / scale
        m.formate_current = pyo.Constraint(expr=m.j_formate / scale * (jk**s + jl**s) ** (1.0 / s) == jk * jl)
        m.outlet_co2 = pyo.Constraint(expr=m.y_out * m.outlet_mol_s == m.co2_out_mol_s)
        m.mean_co2 = pyo.Constraint(
            expr=m.y_mean**3 == m.co2_fraction * m.y_out * (m.co2_fraction + m.y_out) / 2.0
        )

        # Cell voltage (twin: cell_voltage, reversible_voltage, bv_overpotential, exchange_current_density,
        # area_specific_resistance)
        t = m.cell_temp_c + _ZERO_C
        arrh = 1.0 / t - 1.0 / p.t_ref_k
        j0a = p.j0_anode_ma_cm2 * pyo.exp(-p.ea_anode_j_mol / plant.R * arrh)
        j0c = p.j0_cathode_ma_cm2 * pyo.exp(-p.ea_cathode_j_mol / plant.R * arrh) * m.j0c_factor
        m.e_rev = pyo.Expression(expr=(plant.DH_FORMATE - t * plant.DS_FORMATE) / (Z * F))
        m.eta_anode = pyo.Expression(expr=2.0 * plant.R * t / F * pyo.asinh(m.j / (2.0 * j0a)))
        m.eta_cathode = pyo.Expression(expr=2.0 * plant.R * t / F * pyo.asinh(m.j / (2.0 * j0c)))
        m.asr = pyo.Expression(expr=p.asr_ohm_cm2 * pyo.exp(p.asr_activation_k * arrh) * m.asr_factor)
        m.ohmic = pyo.Expression(expr=m.j * 1e-3 * m.asr)
        m.cell_voltage = pyo.Expression(expr=m.e_rev + m.eta_anode + m.eta_cathode + m.ohmic, doc="V")

        # Heat balance (twin: thermoneutral_voltage, _heat_kw, _thermal_coeffs, _temp_eq)
        v_tn = (m.fe * plant.DH_FORMATE + (1.0 - m.fe) * plant.DH_WATER) / (Z * F)
        m.heat_kw = pyo.Expression(expr=m.current_a * n * (m.cell_voltage - v_tn) / 1000.0)
        k_c = m.catholyte_flow_m3_h * p.catholyte_density_kg_m3 / 3600.0 * p.catholyte_cp_kj_kg_k  # kW/K
        m.heat_balance = pyo.Constraint(
            expr=(k_c + p.ambient_ua_kw_k) * m.cell_temp_c
            == k_c * m.inlet_temp_c + p.ambient_ua_kw_k * p.ambient_temp_c + m.heat_kw
        )
        m.cooling_kw = pyo.Expression(expr=k_c * (m.cell_temp_c - m.inlet_temp_c), doc="catholyte chiller duty, kW")

        # Rates of the activity streams (twin: _dcs_calcs ECR.JI103, FY201, FY202, FY301, FY303, FY304)
        m.stack_power_kw = pyo.Expression(expr=m.current_a * n * m.cell_voltage / 1000.0)
        chill = 0.5 * (m.cooling_kw + pyo.sqrt(m.cooling_kw**2 + _SMOOTH_KW**2))  # smooth max(duty, 0)
        m.electricity_kw = pyo.Expression(
            expr=m.stack_power_kw / p.rectifier_efficiency + p.bop_kw + chill / p.chiller_cop + (chill - m.cooling_kw),
            doc="plant electricity import: rectifier, balance of plant, chiller / trace heating, kW",
        )
        m.formic_acid_kg_h = pyo.Expression(expr=m.formate_mol_s * plant.M_HCOOH * 3600.0)
        m.co2_feed_kg_h = pyo.Expression(expr=m.co2_in_mol_s * plant.M_CO2 * 3600.0)
        m.co2_vented_kg_h = pyo.Expression(expr=m.co2_out_mol_s * plant.M_CO2 * 3600.0)
        bleed_l_h = p.bleed_l_per_ah * m.current_a
        m.potassium_bicarbonate_kg_h = pyo.Expression(expr=bleed_l_h * p.khco3_mol_l * plant.M_KHCO3)
        m.water_m3_h = pyo.Expression(expr=bleed_l_h / 1000.0 + n * m.current_a / (Z * F) * plant.M_H2O * 3.6)
        m.co2_stoich_ratio = pyo.Expression(expr=m.co2_in_mol_s / (n * m.current_a / (Z * F)))
        m.h2_outlet_fraction = pyo.Expression(expr=m.h2_mol_s / m.outlet_mol_s)
        self.model = m
        return m

    def set_conditions(
        self,
        *,
        current_a: float = plant.NOMINAL.current_a,
        co2_flow_nm3_h: float = plant.NOMINAL.co2_flow_nm3_h,
        co2_concentration_pct: float = HELD_CONDITIONS["co2_concentration_pct"],
        inlet_temp_c: float = HELD_CONDITIONS["inlet_temp_c"],
        catholyte_flow_m3_h: float | None = None,
        electrode_age_h: float = 0.0,
    ) -> None:
        """Fix one operating point (A, Nm3/h, mol-%, degC, m3/h, h since electrode replacement).

        Raises ValueError outside the twin's ranges (current (0, rating], flow (0, 60] Nm3/h,
        concentration (0, 100] %, inlet 5-80 degC).
        """
        m = self._model("set_conditions")
        p = self.params
        checks = (
            ("current_a", current_a, 0.0, p.rated_current_a, False),
            ("co2_flow_nm3_h", co2_flow_nm3_h, 0.0, plant.CO2_FLOW_MAX_NM3_H, False),
            ("co2_concentration_pct", co2_concentration_pct, 0.0, 100.0, False),
            ("inlet_temp_c", inlet_temp_c, 5.0, 80.0, True),
            ("electrode_age_h", electrode_age_h, 0.0, math.inf, True),
        )
        for name, value, lo, hi, closed in checks:
            v = float(value)
            if not (math.isfinite(v) and (lo <= v if closed else lo < v) and v <= hi):
                raise ValueError(f"co2_electrolyzer: {name} must lie in {'[' if closed else '('}{lo:g}, {hi:g}], found {value!r}")
        m.current_a.fix(float(current_a))
        m.co2_flow_nm3_h.fix(float(co2_flow_nm3_h))
        m.co2_fraction.fix(float(co2_concentration_pct) / 100.0)
        m.inlet_temp_c.fix(float(inlet_temp_c))
        m.catholyte_flow_m3_h.fix(float(p.catholyte_flow_m3_h if catholyte_flow_m3_h is None else catholyte_flow_m3_h))
        fe_max, j0c_factor, asr_factor = plant.electrode_state(float(electrode_age_h), p)
        m.fe_plateau.set_value(float(fe_max))
        m.j0c_factor.set_value(float(j0c_factor))
        m.asr_factor.set_value(float(asr_factor))
        self.electrode_age_h = float(electrode_age_h)

    def initial_guess(self) -> None:
        """Start the square solve at the twin's own steady state."""
        m = self.model
        s = self._twin_steady_state(m.current_a.value, m.co2_flow_nm3_h.value)
        m.j_formate.set_value(float(s.faradaic_efficiency * s.current_density_ma_cm2))
        m.y_out.set_value(min(max(float(s.co2_outlet_pct) / 100.0, 1e-6), 1.0))
        m.y_mean.set_value(min(max(float(s.y_mean), 1e-6), 1.0))
        m.cell_temp_c.set_value(float(s.cell_temp_c))


    def setup_optimization(
        self,
        prices: Mapping[str, float],
        *,
        carbon_price_usd_t: float = 0.0,
        grid_kg_co2e_per_kwh: float = 0.0,
        limits: OperatingLimits | None = None,
        objective: Literal["profit", "co2e"] = "profit",
        current_bounds_a: tuple[float, float] | None = None,
        co2_flow_bounds_nm3_h: tuple[float, float] | None = None,
    ) -> None:
        """Free current and CO2 flow within their ranges; add the objective and the constraints.

        Parameters
        ----------
        prices : mapping
            Item -> price in the unit of :data:`PRICE_ITEMS` (all items required; others ignored).
        carbon_price_usd_t, grid_kg_co2e_per_kwh : float
            Carbon price on Scope 1, USD/t; location-based grid factor, kg CO2e/kWh.
        limits : OperatingLimits, optional
            Defaults of :class:`OperatingLimits` when None.
        objective : {"profit", "co2e"}
            Maximise profit or minimise CO2e.
        current_bounds_a, co2_flow_bounds_nm3_h : (float, float), optional
            Default: the ranges of :data:`SETPOINTS`.
        """
        m = self._model("setup_optimization")
        if self.current is None:
            raise ConfigError(
                "co2_electrolyzer: setup_optimization expected an initialized model, found none (call initialize())"
            )
        if objective not in ("profit", "co2e"):
            raise ValueError(f"co2_electrolyzer: objective must be 'profit' or 'co2e', found {objective!r}")
        self.economics = _Economics.build(prices, carbon_price_usd_t, grid_kg_co2e_per_kwh)
        self.limits = lim = OperatingLimits() if limits is None else limits
        self.objective = objective
        for var, bounds, sp in ((m.current_a, current_bounds_a, SETPOINTS["current_a"]),
                                (m.co2_flow_nm3_h, co2_flow_bounds_nm3_h, SETPOINTS["co2_flow_nm3_h"])):
            lo, hi = (sp.lower, sp.upper) if bounds is None else bounds
            var.unfix()
            var.setlb(float(lo))
            var.setub(float(hi))

        for comp in list(m.component_objects((pyo.Constraint, pyo.Objective), descend_into=False)):
            if comp.local_name.startswith(("limit_", "objective_")):
                m.del_component(comp)
        m.limit_co2_not_starved = pyo.Constraint(expr=m.co2_stoich_ratio >= lim.min_co2_stoich_ratio)
        m.limit_cell_voltage = pyo.Constraint(expr=m.cell_voltage <= lim.max_cell_voltage_v)
        m.limit_cell_temp = pyo.Constraint(expr=m.cell_temp_c <= lim.max_cell_temp_c)
        if lim.min_faradaic_efficiency is not None:
            m.limit_faradaic_efficiency = pyo.Constraint(expr=m.fe >= lim.min_faradaic_efficiency)
        if lim.max_h2_outlet_pct is not None:
            m.limit_h2_outlet = pyo.Constraint(expr=100.0 * m.h2_outlet_fraction <= lim.max_h2_outlet_pct)
        if lim.vented_co2_max_kg_h is not None:
            m.limit_vented_co2 = pyo.Constraint(expr=m.co2_vented_kg_h <= lim.vented_co2_max_kg_h)
        econ = self.economics.evaluate(self._rates(m))
        if lim.co2e_cap_kg_h is not None:
            m.limit_co2e_cap = pyo.Constraint(expr=econ["co2e_kg_h"] <= lim.co2e_cap_kg_h)
        if objective == "profit":
            m.objective_profit = pyo.Objective(expr=econ["profit_usd_h"], sense=pyo.maximize)
        else:
            m.objective_co2e = pyo.Objective(expr=econ["co2e_kg_h"], sense=pyo.minimize)

    def report(self) -> pd.DataFrame:
        """Current vs optimal operating point (rows ``current``, ``optimal``, ``change``).

        Columns: setpoints, held conditions, process outputs and economics per hour.
        ``attrs``: limits, prices, active constraints and the solves (stage, termination, seconds).
        """
        if (self.current is None or self.economics is None or not self.solves
                or self.solves[-1].stage != f"{self.name}: solve"):
            raise ConfigError("co2_electrolyzer: report expected a solved optimization, found none (run every stage first)")
        rows = {"current": self.current, "optimal": self._state()}
        table = pd.DataFrame({case: {**s, **self.economics.evaluate(s)} for case, s in rows.items()}).T
        table.loc["change"] = table.loc["optimal"] - table.loc["current"]
        table.index.name = "case"
        table.attrs = {
            "limits": {f.name: getattr(self.limits, f.name) for f in fields(self.limits)},
            "prices": dict(self.economics.prices),
            "carbon_price_usd_t": self.economics.carbon_price_usd_t,
            "grid_kg_co2e_per_kwh": self.economics.grid_kg_co2e_per_kwh,
            "objective": self.objective,
            "active_constraints": self.active_constraints(),
            "solves": [(s.stage, s.termination, s.wall_time_s) for s in self.solves],
        }
        return table

    # ------------------------------------------------------------------ helpers

    def active_constraints(self) -> list[str]:
        """Operating constraints and decision bounds at their bound (relative distance <= 1e-5)."""
        m = self._model("active_constraints")
        active = []
        for con in m.component_data_objects(pyo.Constraint, active=True):
            if con.equality:
                continue
            body = pyo.value(con.body)
            for bound in (con.lower, con.upper):
                if bound is not None and abs(body - pyo.value(bound)) <= _ACTIVE_RTOL * max(1.0, abs(pyo.value(bound))):
                    active.append(con.local_name.removeprefix("limit_"))
        for name in SETPOINTS:
            var = m.component(name)
            if var.fixed:
                continue
            for side, bound in (("lower", var.lb), ("upper", var.ub)):
                if bound is not None and abs(var.value - bound) <= _ACTIVE_RTOL * max(1.0, abs(bound)):
                    active.append(f"{name}.{side}")
        return active

    def _twin_steady_state(self, current_a: float, co2_flow_nm3_h: float) -> plant.SteadyState:
        m = self.model
        return plant.steady_state(
            current_a, co2_flow_nm3_h, 100.0 * m.co2_fraction.value, m.inlet_temp_c.value,
            catholyte_flow_m3_h=m.catholyte_flow_m3_h.value, electrode_age_h=self.electrode_age_h, params=self.params,
        )

    @staticmethod
    def _rates(m: pyo.ConcreteModel) -> dict[str, Any]:
        return {
            "formic_acid_kg_h": m.formic_acid_kg_h,
            "co2_feed_kg_h": m.co2_feed_kg_h,
            "co2_vented_kg_h": m.co2_vented_kg_h,
            "electricity_kw": m.electricity_kw,
            "potassium_bicarbonate_kg_h": m.potassium_bicarbonate_kg_h,
        }

    def _state(self) -> dict[str, float]:
        """Setpoints, held conditions and process outputs at the model's current values."""
        m = self.model
        v = {
            "current_a": m.current_a,
            "co2_flow_nm3_h": m.co2_flow_nm3_h,
            "co2_concentration_pct": 100.0 * m.co2_fraction,
            "inlet_temp_c": m.inlet_temp_c,
            "current_density_ma_cm2": m.j,
            "faradaic_efficiency": m.fe,
            "cell_voltage_v": m.cell_voltage,
            "cell_temp_c": m.cell_temp_c,
            "stack_power_kw": m.stack_power_kw,
            "cooling_kw": m.cooling_kw,
            "electricity_kw": m.electricity_kw,
            "formic_acid_kg_h": m.formic_acid_kg_h,
            "co2_feed_kg_h": m.co2_feed_kg_h,
            "co2_vented_kg_h": m.co2_vented_kg_h,
            "co2_conversion": m.formate_mol_s / m.co2_in_mol_s,
            "co2_stoich_ratio": m.co2_stoich_ratio,
            "h2_outlet_pct": 100.0 * m.h2_outlet_fraction,
            "potassium_bicarbonate_kg_h": m.potassium_bicarbonate_kg_h,
            "water_m3_h": m.water_m3_h,
        }
        out = {k: float(pyo.value(e)) for k, e in v.items()}
        out["specific_energy_kwh_kg"] = out["stack_power_kw"] / out["formic_acid_kg_h"]  # twin: stack DC basis
        out["electricity_kwh_kg"] = out["electricity_kw"] / out["formic_acid_kg_h"]  # plant import basis
        return out


def _current_point(current: Mapping[str, float]) -> dict[str, float]:
    valid = [*SETPOINTS, *HELD_CONDITIONS]
    unknown = sorted(set(current) - set(valid))
    if unknown:
        raise ValueError(f"co2_electrolyzer: unknown current setpoint(s) {unknown}; expected names from {valid}")
    point = {"current_a": plant.NOMINAL.current_a, "co2_flow_nm3_h": plant.NOMINAL.co2_flow_nm3_h, **HELD_CONDITIONS}
    return point | {k: float(v) for k, v in current.items()}


def _limits(limits: Mapping[str, float], co2e_cap_kg_h: float | None) -> OperatingLimits:
    unknown = sorted(set(limits) - set(LIMIT_KEYS))
    if unknown:
        raise ValueError(f"co2_electrolyzer: unknown emission limit(s) {unknown}; expected keys from {list(LIMIT_KEYS)}")
    vented = [float(limits[k]) for k in LIMIT_KEYS if k in limits]
    return OperatingLimits(
        vented_co2_max_kg_h=min(vented) if vented else None,
        co2e_cap_kg_h=None if co2e_cap_kg_h is None else float(co2e_cap_kg_h),
    )


def optimize(
    conditions: OperatingConditions,
    *,
    co2e_cap_kg_h: float | None = None,
    objective: Literal["profit", "co2e"] = "profit",
) -> Solution:
    """Optimal stack current and CO2 feed under the prices, limits and parameters in force.

    Parameters
    ----------
    conditions : OperatingConditions
        ``prices`` keyed as :data:`PRICE_ITEMS`; ``carbon_price_usd_t`` (on the vented CO2);
        ``grid_kg_co2e_per_kwh``; ``limits`` keyed as :data:`LIMIT_KEYS`; ``parameters`` named in
        :data:`CALIBRATED_PARAMETERS`; ``current`` keyed as :data:`SETPOINTS` or
        :data:`HELD_CONDITIONS` (missing: :data:`models.co2_electrolyzer.NOMINAL`).
    co2e_cap_kg_h : float, optional
        Cap on Scope 1 + location-based Scope 2 CO2e, kg/h.
    objective : {"profit", "co2e"}

    Raises
    ------
    ValueError
        Wrong plant, unknown parameter / setpoint / limit name, missing price.
    nexus.errors.InfeasibleOptimization
        The square solve at the current point or the optimization did not end optimal.
    """
    start = time.perf_counter()
    if conditions.plant_id != PLANT_ID:
        raise ValueError(f"co2_electrolyzer: conditions are for plant {PLANT_ID!r}, found {conditions.plant_id!r}")
    params = calibrated_params(conditions.parameters)
    point = _current_point(conditions.current)
    limits = _limits(conditions.limits, co2e_cap_kg_h)
    flow = CO2ElectrolyzerOptimization(params)
    flow.build()
    flow.set_conditions(**point)
    flow.initialize()
    flow.setup_optimization(
        conditions.prices,
        carbon_price_usd_t=conditions.carbon_price_usd_t,
        grid_kg_co2e_per_kwh=conditions.grid_kg_co2e_per_kwh,
        limits=limits,
        objective=objective,
    )
    flow.solve()
    table = flow.report()
    current, optimal = table.loc["current"], table.loc["optimal"]
    econ_cols = {"revenue_usd_h", "purchases_usd_h", "carbon_cost_usd_h", "profit_usd_h", "co2e_kg_h"}
    output_cols = [c for c in table.columns if c not in econ_cols and c not in SETPOINTS]
    return Solution(
        plant_id=PLANT_ID,
        objective=objective,
        co2e_cap_kg_h=limits.co2e_cap_kg_h,
        setpoints={k: float(optimal[k]) for k in SETPOINTS},
        current_setpoints={k: float(current[k]) for k in SETPOINTS},
        profit_usd_h=float(optimal["profit_usd_h"]),
        co2e_kg_h=float(optimal["co2e_kg_h"]),
        current_profit_usd_h=float(current["profit_usd_h"]),
        current_co2e_kg_h=float(current["co2e_kg_h"]),
        outputs={k: float(optimal[k]) for k in output_cols},
        current_outputs={k: float(current[k]) for k in output_cols},
        active_constraints=list(table.attrs["active_constraints"]),
        termination=flow.solves[-1].termination,
        solve_seconds=time.perf_counter() - start,
        model_version=conditions.model_version,
    )

#: Prices without a market series: this project's assumption (KHCO3, technical grade, bulk).
DEFAULT_PRICES: dict[str, float] = {"potassium_bicarbonate": 1.0}
#: Historian tag (gold canonical unit) and factor giving each setpoint's, or held condition's, current value.
SETPOINT_TAGS: dict[str, tuple[str, float]] = {"current_a": ("ECR.IIC101.SP", 1.0),
                                               "co2_flow_nm3_h": ("ECR.FIC201.SP", 1.0),
                                               "co2_concentration_pct": ("ECR.AIC201.SP", 1.0),
                                               "electrode_age_h": ("ECR.KY101", 1.0)}
