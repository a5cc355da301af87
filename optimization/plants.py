"""The common interface of the plant setpoint optimizers (one module per plant).

Every plant module in :mod:`optimization` (``cstr``, ``biorefinery``, ``co2_electrolyzer``,
``smelter``) exposes:

* ``SETPOINTS``: :class:`Setpoint` per decision variable an operator actually moves (name, unit,
  equipment bounds, description).
* ``PRICE_ITEMS``: the market items the objective needs, with the unit its price must be in
  (``{"electricity": "USD/kWh", "ethanol": "USD/kg", ...}``; items are the activity/market keys).
* ``optimize(conditions, *, co2e_cap_kg_h=None, objective="profit") -> Solution``: the staged flow
  (build → set conditions → initialise at the current operating point → set up → solve →
  report), raising :class:`nexus.errors.InfeasibleOptimization` with the solver's message when
  the solve is not optimal.

Objective conventions, the same for every plant so that results compare:

* ``profit_usd_h`` = product revenue − purchased feedstock, chemicals, energy − carbon cost, per hour
  at steady state. Carbon cost = ``carbon_price_usd_t`` × Scope 1 CO2e (direct emissions in a
  trading scheme or under a tax; ``carbon_price_usd_t`` is already net of free allocation).
  Electricity is bought at the market price, which carries the power sector's own carbon cost.
* ``co2e_kg_h`` = Scope 1 + location-based Scope 2 CO2e (the physical footprint the plant
  controls), with the GWP100 and grid factor in force. Biogenic CO2 is not counted.
* ``co2e_cap_kg_h`` adds ``co2e_kg_h <= cap`` (the ε-constraint of the Pareto front);
  ``objective="co2e"`` minimises CO2e subject to the same constraints (the front's other end).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["OPTIMIZED_PLANTS", "OperatingConditions", "Setpoint", "Solution", "plant_optimizer"]

OPTIMIZED_PLANTS: tuple[str, ...] = ("cstr", "biorefinery", "co2_electrolyzer", "smelter")
Objective = Literal["profit", "co2e"]


@dataclass(frozen=True)
class Setpoint:
    """A decision variable: what the operator moves, its unit and equipment bounds."""

    name: str
    unit: str
    lower: float
    upper: float
    description: str = ""


@dataclass(frozen=True)
class OperatingConditions:
    """Everything an optimization depends on besides the physics.

    Attributes:
        plant_id: plant.
        prices: item → price in the unit ``PRICE_ITEMS`` of the plant module asks for.
        carbon_price_usd_t: cost of one tonne of Scope 1 CO2e, net of free allocation.
        grid_kg_co2e_per_kwh: location-based grid factor in force.
        gwp100: gas → GWP100 of the set in force (``ch4``, ``n2o``, ``cf4``, ``c2f6`` ...).
        limits: hourly caps from the emission limits in force, e.g. ``{"cf4_kg_h": 0.42}``
            (a daily limit / 24); keys are ``<pollutant>_kg_h``.
        parameters: calibrated parameter values (names as the plant's calibration declares them);
            empty = the model's design values.
        current: the current setpoints (names as in ``SETPOINTS``); empty = the design point.
        model_version: identifies the parameter set (e.g. the calibration run), stored with the result.
    """

    plant_id: str
    prices: Mapping[str, float]
    carbon_price_usd_t: float = 0.0
    grid_kg_co2e_per_kwh: float = 0.0
    gwp100: Mapping[str, float] = field(default_factory=dict)
    limits: Mapping[str, float] = field(default_factory=dict)
    parameters: Mapping[str, float] = field(default_factory=dict)
    current: Mapping[str, float] = field(default_factory=dict)
    model_version: str = "design"


@dataclass
class Solution:
    """An optimal operating point against the current one (all rates per hour at steady state).

    Attributes:
        plant_id, objective, co2e_cap_kg_h: the question asked.
        setpoints, current_setpoints: decision variables at the optimum and now.
        profit_usd_h, co2e_kg_h: at the optimum; ``current_*``: at the current setpoints.
        outputs, current_outputs: key process outputs (product rate, temperatures, efficiencies ...).
        active_constraints: the constraints at their bound at the optimum.
        termination: solver termination condition; solve_seconds: wall time of all stages.
        model_version: the parameter set used.
    """

    plant_id: str
    objective: str
    co2e_cap_kg_h: float | None
    setpoints: dict[str, float]
    current_setpoints: dict[str, float]
    profit_usd_h: float
    co2e_kg_h: float
    current_profit_usd_h: float
    current_co2e_kg_h: float
    outputs: dict[str, float] = field(default_factory=dict)
    current_outputs: dict[str, float] = field(default_factory=dict)
    active_constraints: list[str] = field(default_factory=list)
    termination: str = ""
    solve_seconds: float = 0.0
    model_version: str = "design"


class PlantOptimizer(Protocol):
    SETPOINTS: Mapping[str, Setpoint]
    PRICE_ITEMS: Mapping[str, str]

    def optimize(self, conditions: OperatingConditions, *, co2e_cap_kg_h: float | None = None,
                 objective: Objective = "profit") -> Solution: ...


def plant_optimizer(plant_id: str) -> Any:
    """The optimizer module of a plant instance's type (``optimization.<plant type>``)."""
    from models.fleet import plant_type

    plant_id = plant_type(plant_id)
    if plant_id not in OPTIMIZED_PLANTS:
        raise KeyError(f"no optimizer for plant {plant_id!r}; known: {list(OPTIMIZED_PLANTS)}")
    return importlib.import_module(f"optimization.{plant_id}")
