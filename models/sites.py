"""Where each plant stands: country, electricity grid region and the market series it trades on.

Carbon accounting needs the grid region (grid emission factors), optimization and reports need
the electricity and gas price series of the site. One small table, declared once.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SITES", "Site", "get_site"]


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
    """

    plant_id: str
    country: str
    grid_region: str
    power_series: str
    gas_series: str
    carbon_series: str | None = None


SITES: dict[str, Site] = {
    "cstr": Site("cstr", "DE", "DE", "eex.power_de_da", "eex.gas_ttf", "eex.eua"),
    "biorefinery": Site("biorefinery", "US", "US-MROW", "usmkt.power_miso_da", "usmkt.henry_hub"),
    "co2_electrolyzer": Site("co2_electrolyzer", "DE", "DE", "eex.power_de_da", "eex.gas_ttf", "eex.eua"),
    "smelter": Site("smelter", "NO", "NO", "nordpool.power_no2_da", "eex.gas_ttf", "eex.eua"),
}


def get_site(plant_id: str) -> Site:
    try:
        return SITES[plant_id]
    except KeyError:
        raise KeyError(f"no site for plant {plant_id!r}; known: {sorted(SITES)}") from None
