"""Where each plant instance stands: country, electricity grid region and the market series it trades on.

Carbon accounting needs the grid region (grid emission factors), optimization and reports need
the electricity and gas price series of the site. Declared once, in the fleet file (:mod:`models.fleet`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InboundLeg", "Site", "get_site", "sites"]


@dataclass(frozen=True)
class InboundLeg:
    """One transport leg of a purchased item to the site (Scope 3 category 4 activity data).

    Attributes:
        item: activity item carried (``corn_stover``, ``alumina`` ...).
        mode: freight mode, a key of the transport emission factors (``truck``, ``rail``, ``bulk_ship``).
        km: distance of the leg.
        note: where the distance comes from.
    """

    item: str
    mode: str
    km: float
    note: str = ""


@dataclass(frozen=True)
class Site:
    """A plant's site.

    Attributes:
        plant_id: plant.
        country: ISO 3166 alpha-2 code.
        grid_region: region key of the grid emission factors (regulatory feed).
        power_series: market series of the electricity price (hourly day-ahead).
        gas_series: market series of the natural gas price.
        carbon_series: market series of the carbon allowance price, if the site is in a trading scheme.
        inbound: transport legs of the purchased items (an item may travel several legs).
    """

    plant_id: str
    country: str
    grid_region: str
    power_series: str
    gas_series: str
    carbon_series: str | None = None
    inbound: tuple[InboundLeg, ...] = ()


def sites() -> dict[str, Site]:
    """The site of every plant instance of the fleet in use (:mod:`models.fleet`), by instance id."""
    from models.fleet import load_fleet

    return {i.plant_id: _site_of(i) for i in load_fleet()}


def _site_of(instance) -> Site:
    s = instance.site
    return Site(instance.plant_id, s.country, s.grid_region, s.power_series, s.gas_series, s.carbon_series,
                tuple(InboundLeg(leg.item, leg.mode, leg.km, leg.note) for leg in instance.inbound))


def get_site(plant_id: str) -> Site:
    """The site of a plant instance (declared in the fleet file, :mod:`models.fleet`)."""
    from models.fleet import load_fleet

    fleet = load_fleet()
    try:
        return _site_of(fleet.instances[plant_id])
    except KeyError:
        raise KeyError(f"no site for plant {plant_id!r}; instances of {fleet.path}: "
                       f"{', '.join(sorted(fleet.instances)[:12])}") from None
