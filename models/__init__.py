"""Nexus plant models: physics, operating scenarios and historian exports.

Usage::

    from models import get_plant
    cstr = get_plant("cstr")
    cstr.TAGS                                   # historian tag catalogue
    df, episodes = cstr.simulate_true(start, end, seed=1)
    cstr.simulate(start, end, landing_dir="landing", truth_dir="truth", seed=1)

Plant modules are imported lazily by :func:`get_plant`; this package never
imports Airflow.
"""

from models.base import (
    ACTIVITY_KINDS,
    CATEGORIES,
    ActivityStream,
    PLANTS,
    SENSOR_FAULT_LABELS,
    DeliveryQuirk,
    Episode,
    Plant,
    PlantInfo,
    SimulationResult,
    TagSpec,
    get_plant,
)

__all__ = [
    "ACTIVITY_KINDS",
    "CATEGORIES",
    "ActivityStream",
    "PLANTS",
    "SENSOR_FAULT_LABELS",
    "DeliveryQuirk",
    "Episode",
    "Plant",
    "PlantInfo",
    "SimulationResult",
    "TagSpec",
    "get_plant",
]
