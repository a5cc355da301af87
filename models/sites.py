"""Where each plant stands: country, electricity grid region and the market series it trades on.

Carbon accounting needs the grid region (grid emission factors), optimization and reports need
the electricity and gas price series of the site. One small table, declared once.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SITES", "InboundLeg", "Site", "get_site"]


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


SITES: dict[str, Site] = {
    "cstr": Site("cstr", "DE", "DE", "eex.power_de_da", "eex.gas_ttf", "eex.eua"),
    "biorefinery": Site("biorefinery", "US", "US-MROW", "usmkt.power_miso_da", "usmkt.henry_hub", inbound=(
        InboundLeg("corn_stover", "truck", 56.0, "NREL design (Humbird et al. 2011): bales from a ~35-mile radius"),
        InboundLeg("cellulase", "truck", 500.0, "regional enzyme plant (assumed)"),
        InboundLeg("sulfuric_acid", "rail", 400.0, "regional acid plant (assumed)"),
        InboundLeg("ammonia", "rail", 300.0, "regional ammonia terminal (assumed)"),
    )),
    "co2_electrolyzer": Site("co2_electrolyzer", "DE", "DE", "eex.power_de_da", "eex.gas_ttf", "eex.eua", inbound=(
        InboundLeg("co2_feed", "truck", 150.0, "liquid CO2 from a regional bioethanol/ammonia plant (assumed)"),
        InboundLeg("potassium_bicarbonate", "truck", 300.0, "chemical distributor (assumed)"),
    )),
    "smelter": Site("smelter", "NO", "NO", "nordpool.power_no2_da", "eex.gas_ttf", "eex.eua", inbound=(
        InboundLeg("alumina", "bulk_ship", 9500.0, "Atlantic alumina trade, e.g. Barcarena (BR) to western Norway"),
        InboundLeg("anode_carbon", "bulk_ship", 1500.0, "North Sea anode plant (assumed)"),
        InboundLeg("aluminium_fluoride", "truck", 400.0, "regional supplier (assumed)"),
    )),
}


def get_site(plant_id: str) -> Site:
    try:
        return SITES[plant_id]
    except KeyError:
        raise KeyError(f"no site for plant {plant_id!r}; known: {sorted(SITES)}") from None
