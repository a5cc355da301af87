"""Every registered plant honours the common interface: catalog, activity data, site, determinism of ids."""

from __future__ import annotations

import pint
import pytest

from models import PLANTS, Plant, get_plant
from models.base import ACTIVITY_KINDS
from models.sites import sites

UREG = pint.UnitRegistry()


@pytest.mark.parametrize("plant_id", sorted(PLANTS))
def test_plant_conforms(plant_id):
    plant = get_plant(plant_id)
    assert isinstance(plant, Plant) and plant.INFO.plant_id == plant_id
    tags = {t.tag: t for t in plant.TAGS}
    assert len(tags) == len(plant.TAGS), "tag names must be unique"
    for t in plant.TAGS:
        assert UREG.Unit(t.unit).dimensionality == UREG.Unit(t.canonical_unit).dimensionality, t.tag
    assert plant.ACTIVITY, "a plant must report its activity data"
    for a in plant.ACTIVITY:
        assert a.kind in ACTIVITY_KINDS and a.tag in tags, (a.kind, a.tag)
        per_hour = UREG.Quantity(1.0, tags[a.tag].canonical_unit) * UREG.hour
        assert per_hour.dimensionality == UREG.Unit(a.unit).dimensionality, f"{a.tag} is not a rate of {a.unit}"
    if plant_id != "reactor_bank":  # the demo fleet has one instance of each type but the 1,000-tag bank
        assert plant_id in sites()


def test_sites_name_known_plants_and_series():
    from models.market import get_series

    for site in sites().values():
        get_series(site.power_series)
        get_series(site.gas_series)
        if site.carbon_series:
            get_series(site.carbon_series)
