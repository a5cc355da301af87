"""Carbon accounting by the GHG Protocol Corporate Standard: daily Scope 1, 2 and 3 per plant.

Activity data come from measurements: each plant declares its activity streams
(:class:`models.base.ActivityStream`: a metered rate tag, the item it carries and the unit of the
amount), and the daily amount is the integral of the tag's hourly time-weighted means in
``gold.fct_tag_hourly``. Hours without a good reading are gap-filled with the mean of the covered
hours of that day (``coverage_fraction`` says how much was measured); a day with no covered hour
gives no row and is listed as missing.

Emission factors are the ones in force that day (:func:`etl.regulatory.rules_in_force`), or a
scenario's overrides of them, and every row names the factor's document and version.

* **Scope 1** — stationary combustion per fuel (CO2, CH4 and N2O, each × GWP100 of the set in
  force); process emissions (smelter anode CO2 and anode-effect PFCs, electrolyzer vented CO2);
  fugitive CH4 (biorefinery digester). CO2 from biomass fuels is *biogenic*: reported in its own
  rows (``scope = 'biogenic'``) and never added to a scope total, as the GHG Protocol requires;
  the CH4 and N2O of biomass combustion stay in Scope 1.
* **Scope 2** — purchased electricity (and steam, where a plant buys it), once location-based
  (grid average of the region) and once market-based (residual mix / contractual), the dual
  reporting of the GHG Protocol Scope 2 Guidance (2015). Exported electricity is not netted
  against imports; its displaced grid emissions are a memo item in the summary.
* **Scope 3** — category 1 (purchased goods: feedstock, enzymes, chemicals × cradle-to-gate
  factors) and category 4 (inbound transport: mass × distance of each leg in
  :func:`models.sites.get_site` (the fleet file) × the freight mode's factor per tonne-kilometre).

Units: gas masses in kg, ``co2e_t`` in tonnes CO2e.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from etl.regulatory import RulesInForce
from etl.units import convert
from models.base import ActivityStream
from models.sites import Site

__all__ = [
    "FOSSIL_SCOPES",
    "account_day",
    "compliance",
    "daily_activity",
    "summarize_day",
]

#: Scopes that add up to a plant's reported total (biogenic CO2 is reported outside them).
FOSSIL_SCOPES = ("1", "2", "3")
_PROCESS_CATEGORY = {"ch4": "fugitive", "ch4_fossil": "fugitive", "ch4_biogenic": "fugitive"}


@dataclass(frozen=True)
class _Factor:
    value: float
    unit: str
    source: str


def daily_activity(hourly: pd.DataFrame, streams: Sequence[ActivityStream]) -> pd.DataFrame:
    """Daily amounts of a plant's activity streams from its hourly tag means.

    Args:
        hourly: rows of ``gold.fct_tag_hourly`` (``tag``, ``hour_start``, ``unit``, ``twa_value``).
        streams: the plant's activity streams.

    Returns:
        One row per (day, stream): ``activity_date``, ``kind``, ``item``, ``tag``, ``amount`` (in
        ``unit``), ``unit``, ``hours_covered`` and ``coverage_fraction``. Days on which a stream has
        no covered hour are left out.
    """
    cols = ["activity_date", "kind", "item", "tag", "amount", "unit", "hours_covered", "coverage_fraction"]
    out = []
    for s in streams:
        h = hourly[(hourly["tag"] == s.tag) & hourly["twa_value"].notna()]
        if h.empty:
            continue
        units = h["unit"].unique()
        if len(units) != 1:
            raise ValueError(f"tag {s.tag} has several units in gold ({list(units)}); expected one")
        # A rate in the tag's unit held for one hour, expressed as an amount in the stream's unit.
        per_hour = float(convert(1.0, f"({units[0]}) * hour", s.unit)) * s.factor
        day = pd.to_datetime(h["hour_start"], utc=True).dt.date
        g = h.assign(activity_date=day).groupby("activity_date")["twa_value"].agg(["mean", "count"])
        for d, row in g.iterrows():
            n = int(row["count"])
            out.append({"activity_date": d, "kind": s.kind, "item": s.item, "tag": s.tag,
                        "amount": float(row["mean"]) * 24.0 * per_hour, "unit": s.unit,
                        "hours_covered": n, "coverage_fraction": min(n / 24.0, 1.0)})
    return pd.DataFrame(out, columns=cols)


def _kg(amount: float, unit: str) -> float:
    return float(convert(amount, unit, "kg"))


def account_day(activity: pd.DataFrame, rules: RulesInForce, site: Site, *,
                gaps: list[str] | None = None) -> list[dict[str, Any]]:
    """Emission rows of one plant-day from its activity amounts and the rules in force.

    Args:
        activity: the day's rows of :func:`daily_activity`.
        rules: factors in force that day (possibly with a scenario's overrides).
        site: the plant's site (grid region, inbound transport legs).
        gaps: when given, an activity with no factor in force is appended here as a message and
            left out, instead of raising.

    Returns:
        Rows with ``scope``, ``category``, ``scope2_basis``, ``gas``, ``source``, ``source_ref``,
        activity and factor (value, unit, document), ``gwp100``, ``gas_kg`` and ``co2e_t``.

    Raises:
        KeyError: an activity needs a factor that is not in force (the message names it) and
            ``gaps`` is None, so a missing factor is never silently counted as zero.
    """
    rows: list[dict[str, Any]] = []
    gwp_src = rules.sources.get("gwp100", "")

    def add(scope: str, category: str, gas: str, a: Mapping[str, Any], factor: _Factor, gas_kg: float, *,
            basis: str = "", source_ref: str | None = None, activity_amount: float | None = None,
            activity_unit: str | None = None) -> None:
        biogenic = scope == "biogenic"
        if gas == "co2e":
            gwp, co2e_kg = 1.0, gas_kg
        elif biogenic:
            gwp, co2e_kg = 1.0, gas_kg  # tonnes of biogenic CO2, reported, never summed into scopes
        else:
            gwp = rules.co2e_kg(gas, 1.0)
            co2e_kg = gas_kg * gwp
        rows.append({"scope": scope, "category": category, "scope2_basis": basis, "gas": gas, "source": a["item"],
                     "source_ref": source_ref or a["tag"],
                     "activity_amount": float(a["amount"] if activity_amount is None else activity_amount),
                     "activity_unit": activity_unit or a["unit"], "factor_value": factor.value,
                     "factor_unit": factor.unit, "factor_source": factor.source, "gwp100": gwp,
                     "gwp_source": "" if gas == "co2e" or biogenic else gwp_src, "gas_kg": gas_kg,
                     "co2e_t": co2e_kg / 1000.0, "biogenic": biogenic,
                     "coverage_fraction": float(a["coverage_fraction"])})

    for a in activity.to_dict("records"):
        try:
            _account(a, rules, site, add)
        except KeyError as exc:
            if gaps is None:
                raise
            gaps.append(str(exc.args[0]))
    return rows


def _methane(gas: str, biogenic: bool, rules: RulesInForce) -> str:
    """The GWP key of a fuel's CH4: non-fossil for biomass fuels (AR6 Table 7.15: 27.0, without the
    CO2 of its oxidation, which is biogenic), fossil otherwise (29.8); plain ``ch4`` when the GWP
    set in force does not tell them apart."""
    if gas != "ch4":
        return gas
    key = "ch4_biogenic" if biogenic else "ch4_fossil"
    return key if key in rules.gwp100 else "ch4"


def _account(a: Mapping[str, Any], rules: RulesInForce, site: Site, add: Any) -> None:
    """Emission rows of one activity amount (through ``add``)."""
    kind, item = a["kind"], a["item"]
    if kind == "fuel":
        f = rules.fuels.get(item)
        if f is None:
            raise KeyError(f"no fuel emission factor for {item!r} in force at {rules.plant_id} on {rules.on}")
        gj = float(convert(a["amount"], a["unit"], "GJ"))
        src = rules.sources.get(f"fuel:{item}", "")
        for gas in ("co2", "ch4", "n2o"):
            ef = float(f.get(f"{gas}_kg_per_gj", 0.0))
            scope = "biogenic" if gas == "co2" and f.get("biogenic") else "1"
            add(scope, "biogenic_combustion" if scope == "biogenic" else "stationary_combustion",
                _methane(gas, bool(f.get("biogenic")), rules), a, _Factor(ef, "kg/GJ", src), gj * ef)
    elif kind == "process_emission":
        add("1", _PROCESS_CATEGORY.get(item, "process"), item, a, _Factor(1.0, "kg/kg", "measured"),
            _kg(a["amount"], a["unit"]))
    elif kind == "biogenic_co2":
        add("biogenic", "biogenic_process", "co2", a, _Factor(1.0, "kg/kg", "measured"),
            _kg(a["amount"], a["unit"]))
    elif kind == "electricity_import":
        kwh = float(convert(a["amount"], a["unit"], "kWh"))
        for basis, ef in (("location", rules.grid_location_kg_per_kwh), ("market", rules.grid_market_kg_per_kwh)):
            if ef is None:
                raise KeyError(f"no {basis}-based grid factor for region {site.grid_region} in force on {rules.on}")
            add("2", "purchased_electricity", "co2e", a,
                _Factor(float(ef), "kg/kWh", rules.sources.get(f"grid:{basis}", "")), kwh * float(ef), basis=basis)
    elif kind == "steam_import":
        ef, source = steam_factor(rules)
        gj = float(convert(a["amount"], a["unit"], "GJ"))
        for basis in ("location", "market"):
            add("2", "purchased_steam", "co2e", a, _Factor(ef, "kg/GJ", source), gj * ef, basis=basis)
    elif kind in ("feedstock", "chemical"):
        ef = rules.materials.get(item)
        if ef is None:
            raise KeyError(f"no cradle-to-gate factor for {item!r} in force on {rules.on}; "
                           f"add it to a material_emission_factors document")
        kg = _kg(a["amount"], a["unit"])
        add("3", "cat1_purchased_goods", "co2e", a,
            _Factor(float(ef), "kg/kg", rules.sources.get(f"material:{item}", "")), kg * float(ef))
        for leg in (leg for leg in site.inbound if leg.item == item):
            tf = rules.transport.get(leg.mode)
            if tf is None:
                raise KeyError(f"no transport factor for mode {leg.mode!r} in force on {rules.on}")
            tkm = kg / 1000.0 * leg.km
            add("3", "cat4_upstream_transport", "co2e", a,
                _Factor(float(tf), "kg/(t*km)", rules.sources.get(f"transport:{leg.mode}", "")),
                tkm * float(tf), source_ref=f"{leg.mode} {leg.km:g} km", activity_amount=tkm,
                activity_unit="t*km")


#: Efficiency of the supplier's boiler assumed for purchased steam without a supplier factor
#: (US EPA Center for Corporate Climate Leadership, "Indirect Emissions From Purchased Steam": a
#: natural-gas boiler at 80 % efficiency).
STEAM_BOILER_EFFICIENCY = 0.80


def steam_factor(rules: RulesInForce) -> tuple[float, str]:
    """kg CO2e per GJ of purchased steam and where it comes from.

    A supplier's factor in force (``material_emission_factors`` item ``steam_kg_co2e_per_gj``) wins;
    otherwise the EPA default: natural-gas combustion (CO2, CH4, N2O × GWP100 in force) per GJ of
    fuel divided by :data:`STEAM_BOILER_EFFICIENCY`. Location- and market-based are the same.
    """
    supplier = rules.materials.get("steam_kg_co2e_per_gj")
    if supplier is not None:
        return float(supplier), rules.sources.get("material:steam_kg_co2e_per_gj", "")
    gas = rules.fuels.get("natural_gas")
    if gas is None:
        raise KeyError(f"no natural-gas factor in force at {rules.plant_id} on {rules.on} for the default steam factor")
    per_gj_fuel = sum(float(gas.get(f"{g}_kg_per_gj", 0.0)) * rules.co2e_kg(g, 1.0) for g in ("co2", "ch4", "n2o"))
    return per_gj_fuel / STEAM_BOILER_EFFICIENCY, (f"{rules.sources.get('fuel:natural_gas', '')} / "
                                                   f"{STEAM_BOILER_EFFICIENCY:g} boiler efficiency (EPA default)")


def _product(activity: pd.DataFrame) -> tuple[str | None, float]:
    prod = activity[activity["kind"] == "product"]
    if prod.empty:
        return None, float("nan")
    item = str(prod["item"].iloc[0])
    return item, sum(_kg(a, u) for a, u in zip(prod["amount"], prod["unit"]))


def summarize_day(emissions: pd.DataFrame, activity: pd.DataFrame, rules: RulesInForce) -> dict[str, Any]:
    """Totals of one plant-day: per scope (both Scope 2 bases), biogenic CO2, product and intensities.

    Intensities are kg CO2e per kg of the plant's main product with no allocation to co-products
    (the LCA allocates); ``intensity_s12_market`` uses Scope 1 + market-based Scope 2, ``intensity_total``
    adds Scope 3.
    """
    def total(scope: str, basis: str | None = None) -> float:
        e = emissions[emissions["scope"] == scope]
        if basis is not None:
            e = e[e["scope2_basis"] == basis]
        return float(e["co2e_t"].sum())

    s1, s2l, s2m, s3 = total("1"), total("2", "location"), total("2", "market"), total("3")
    item, product_kg = _product(activity)
    export = activity[activity["kind"] == "electricity_export"]
    export_kwh = float(sum(convert(a, u, "kWh") for a, u in zip(export["amount"], export["unit"])))
    water = activity[activity["kind"] == "water_intake"]
    water_m3 = float(sum(convert(a, u, "m**3") for a, u in zip(water["amount"], water["unit"])))

    def per_kg(t: float) -> float:
        return t * 1000.0 / product_kg if product_kg and product_kg > 0 else float("nan")

    return {"scope1_tco2e": s1, "scope2_location_tco2e": s2l, "scope2_market_tco2e": s2m, "scope3_tco2e": s3,
            "total_location_tco2e": s1 + s2l + s3, "total_market_tco2e": s1 + s2m + s3,
            "biogenic_co2_t": total("biogenic"), "product": item, "product_t": product_kg / 1000.0,
            "intensity_s12_market_kg_per_kg": per_kg(s1 + s2m), "intensity_total_market_kg_per_kg": per_kg(s1 + s2m + s3),
            "electricity_export_kwh": export_kwh,
            "avoided_grid_tco2e_memo": export_kwh * (rules.grid_location_kg_per_kwh or 0.0) / 1000.0,
            "water_intake_m3": water_m3,
            "coverage_fraction": float(activity["coverage_fraction"].min()) if len(activity) else 0.0}


def pollutant_value(emissions: pd.DataFrame, pollutant: str) -> float:
    """A day's value of a permit pollutant, in kg: a gas's Scope 1 mass, or ``co2e_scope1`` in kg CO2e.

    A limit on a gas covers it whatever its origin: ``ch4`` sums fossil and biogenic methane
    (``ch4_fossil``, ``ch4_biogenic``: the digester's fugitive methane and the boilers' alike).
    """
    s1 = emissions[emissions["scope"] == "1"]
    if pollutant == "co2e_scope1":
        return float(s1["co2e_t"].sum()) * 1000.0
    if pollutant == "co2e_total":
        return float(emissions[emissions["scope"].isin(FOSSIL_SCOPES) & emissions["scope2_basis"].isin(["", "market"])]
                     ["co2e_t"].sum()) * 1000.0
    gases = {pollutant, f"{pollutant}_fossil", f"{pollutant}_biogenic"}
    return float(s1.loc[s1["gas"].isin(gases), "gas_kg"].sum())


#: Share of a limit at which its projected use is reported ``at_risk``: a warning while there is
#: still room to act (an assumption of this project; operators commonly alarm at 80-90 %).
AT_RISK_FRACTION = 0.9


def compliance(daily: pd.DataFrame, limits: Iterable[Mapping[str, Any]], on: dt.date) -> list[dict[str, Any]]:
    """Compliance of one plant-day with each limit in force.

    Args:
        daily: per-day pollutant values of the plant for the calendar year up to and including
            ``on`` (columns ``emission_date``, ``pollutant``, ``value_kg``).
        limits: the limits in force on ``on``: ``pollutant``, ``averaging`` (day | year),
            ``limit``, ``unit`` (kg | t), ``document_id``, ``version``.
        on: the day checked.

    Returns:
        One row per limit: the value over the averaging period (the day, or the year to date), the
        limit, the utilisation (value / limit), the projected utilisation (the day's for a daily
        limit, the year-end projection at the year-to-date daily rate for a yearly one) and
        ``status``, one rule for both averagings: ``exceeded`` when the value is over the limit,
        ``at_risk`` when the projected utilisation reaches :data:`AT_RISK_FRACTION` of it, else ``ok``.
        (A daily limit at 98.6 % used to show ``ok`` while a yearly one at 0.9 % year to date, set
        to cross at year end, showed ``at_risk``: both now read their projection.)
    """
    out = []
    year_start = dt.date(on.year, 1, 1)
    days_in_year = (dt.date(on.year + 1, 1, 1) - year_start).days
    for lim in limits:
        kg_per_unit = 1000.0 if lim["unit"] == "t" else 1.0
        p = daily[daily["pollutant"] == lim["pollutant"]]
        if lim["averaging"] == "day":
            value = float(p.loc[p["emission_date"] == on, "value_kg"].sum())
            projected = value
        else:
            ytd = p[(p["emission_date"] >= year_start) & (p["emission_date"] <= on)]
            value = float(ytd["value_kg"].sum())
            n = max(ytd["emission_date"].nunique(), 1)
            projected = value / n * days_in_year
        limit_kg = float(lim["limit"]) * kg_per_unit
        status = "exceeded" if value > limit_kg else "at_risk" if projected >= AT_RISK_FRACTION * limit_kg else "ok"
        out.append({"pollutant": lim["pollutant"], "averaging": lim["averaging"], "value": value / kg_per_unit,
                    "projected_value": projected / kg_per_unit, "limit_value": float(lim["limit"]), "unit": lim["unit"],
                    "utilisation_pct": 100.0 * value / limit_kg if limit_kg > 0 else float(np.inf), "status": status,
                    "projected_utilisation_pct": 100.0 * projected / limit_kg if limit_kg > 0 else float(np.inf),
                    "document_id": lim.get("document_id", ""), "version": int(lim.get("version", 0))})
    return out
