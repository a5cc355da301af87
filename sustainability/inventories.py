"""Cradle-to-gate product systems of the Nexus plants (issue 6): ethanol, formic acid, aluminium.

Foreground
    One process per plant: one hour of operation at the design steady state of its twin
    (:func:`models.biorefinery.steady_state`, :func:`models.co2_electrolyzer.steady_state` at
    ``NOMINAL``, :func:`models.smelter.steady_state` at the nominal line current). Its exchanges are the
    plant's ``ACTIVITY`` streams (flow name = the stream's ``item``), computed the way the plant's DCS
    computes the stream's tag, in LCA units (kg, kWh, GJ, m3). Sign and flow by stream kind:
    feedstock / chemical / fuel / electricity_import / water_intake are inputs; product is the
    reference product; electricity_export is a co-product; biogenic_co2 is ``co2_biogenic``;
    process_emission is the gas (CO2 of the smelter's anodes ``co2_fossil``, the digester's CH4
    ``ch4_biogenic``, the electrolyzer's vented CO2 of the CO2 supply's origin). Added: CH4 and N2O of the
    biorefinery's boiler (IPCC 2006 default factors) and the biogenic CO2 taken up by the corn stover
    (its carbon content from the twin's feed composition x 44.0095/12.011).
Background
    Grid electricity of the plant's region (:mod:`models.sites`), fuels, feedstocks, chemicals, CO2
    and water supply from ``sustainability/data/background.yaml`` (value, unit, uncertainty and source of
    every factor). Only processes reachable from the foreground are included.
System boundary
    Cradle to gate. Ethanol: 99.5 wt% as shipped. Formic acid: formate (100 % HCOOH basis) in the
    catholyte bleed; acidification and purification, which dominate some published inventories, are
    outside the twin and not included. Aluminium: liquid metal at the potline, casting excluded. Capital
    goods excluded. Water consumption: all water taken in is consumed (zero liquid discharge assumed).
Co-products
    The biorefinery exports electricity: system expansion (default) credits the avoided grid
    electricity of its region; mass / energy / economic partitioning use ``coproducts`` of the data file.

Example
-------
>>> system, demand = product_system("smelter")
>>> round(solve(system, demand).impact("climate_change_gwp100"), 1) > 3.0
True
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
import yaml

from models.sites import get_site
from sustainability.lca import (
    ELEMENTARY_FLOWS,
    Allocation,
    Exchange,
    LcaError,
    LcaSystem,
    Process,
    Uncertainty,
    monte_carlo,
    solve,
)

__all__ = [
    "DATA_FILE",
    "FUNCTIONAL_UNITS",
    "PLANTS",
    "LcaAssessment",
    "assess",
    "foreground_amounts",
    "load_background",
    "product_system",
]

DATA_FILE = Path(__file__).with_name("data") / "background.yaml"

#: Plant -> product assessed (1 kg of it).
PLANTS: Mapping[str, str] = {"biorefinery": "ethanol", "co2_electrolyzer": "formic_acid", "smelter": "aluminium"}

FUNCTIONAL_UNITS: Mapping[str, str] = {
    "biorefinery": "1 kg fuel ethanol, 99.5 wt% as shipped, at the plant gate",
    "co2_electrolyzer": "1 kg formic acid (100 % HCOOH basis) as formate in the catholyte bleed, at the stack",
    "smelter": "1 kg liquid primary aluminium at the potline (before casting)",
}

_INPUT_KINDS = ("feedstock", "chemical", "fuel", "electricity_import", "water_intake", "steam_import")
_MOLAR_CO2_PER_C = 44.0095 / 12.011  # IUPAC standard atomic weights
_LCA_UNITS = {"corn_stover": "kg", "natural_gas": "GJ", "electricity": "kWh", "water": "m3"}  # others: kg


# --------------------------------------------------------------------------- background data


@functools.lru_cache(maxsize=4)
def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    for name, spec in doc["processes"].items():
        for key in ("reference_product", "unit"):
            if key not in spec:
                raise LcaError(f"{path}: background process {name!r} lacks {key!r}")
        for ex in spec.get("inputs", []) + spec.get("emissions", []):
            missing = [k for k in ("flow", "value", "unit", "source") if k not in ex]
            if missing:
                raise LcaError(f"{path}: process {name!r}, exchange {ex.get('flow')!r} lacks {missing}")
    return doc


def load_background(path: str | Path = DATA_FILE) -> dict:
    """The background data file as a dict (a copy; the parsed file is cached)."""
    return copy.deepcopy(_load(str(path)))


def _background_process(name: str, spec: Mapping, overrides: Mapping[str, float], extra: list[Exchange]) -> Process:
    unit = spec["unit"]
    exchanges = [Exchange(spec["reference_product"], 1.0, unit)]
    origin = spec.get("origin", "biogenic")
    for sign, key in ((-1.0, "inputs"), (1.0, "emissions")):
        for ex in spec.get(key, []):
            value = float(ex["value"])
            new = float(overrides.get(f"{name}.{ex['flow']}", value))
            unc = Uncertainty.from_mapping(ex)
            if unc is not None and new != value:
                unc = unc.scaled(new / value) if value else None
            flow = f"co2_{origin}" if ex["flow"] == "co2_biogenic" else ex["flow"]
            exchanges.append(Exchange(flow, sign * new, ex["unit"], unc))
    return Process(name, spec["reference_product"], tuple(exchanges) + tuple(extra), spec.get("description", ""))


# --------------------------------------------------------------------------- foreground (the twins)
# Each returns (hourly amount per ACTIVITY tag, extra foreground emissions, extra background exchanges);
# cached because the steady states are deterministic (callers must not mutate the dicts).


@functools.lru_cache(maxsize=1)
def _biorefinery() -> tuple[dict[str, float], dict[str, float], dict]:
    from models import biorefinery as m
    from models._biorefinery_physics import (
        carbon_fraction,  # not re-exported by models.biorefinery
    )

    p = m.DEFAULT_PARAMS
    r = {k: float(np.asarray(v)) for k, v in m.steady_state(params=p).items()}
    bg = _load(str(DATA_FILE))["combustion"]
    ng_gj = r["ng_gj_h"]
    cake_gj = r["cake_heat_kw"] * 3.6e-3
    biogas_gj = max(r["fuel_kw"] * 3.6e-3 - cake_gj - ng_gj, 0.0)
    tags = {
        "BIO.WY101": p.dry_feed_t_h * 1000.0,
        "BIO.FI301": r["enzyme_kg_h"],
        "BIO.FI202": r["acid_kg_h"],
        "BIO.FI205": r["ammonia_kg_h"],
        "BIO.QY803": ng_gj,
        "BIO.JI822": r["import_kw"],
        "BIO.JI821": r["export_kw"],
        "BIO.FI507": r["product_kg_h"],
        "BIO.FI402": r["ferm_co2_kg_h"],
        "BIO.FY850": r["co2_boiler_biogenic_kg_h"],
        "BIO.FI901": r["water_intake_kg_h"] / 1000.0,
        "BIO.FY707": r["ch4_fugitive_kg_h"],
    }
    fuels = {"solid_biomass": cake_gj, "biogas": biogas_gj, "natural_gas": ng_gj}
    extra = {
        "ch4_biogenic": sum(bg[f]["ch4_kg_per_gj"] * gj for f, gj in fuels.items() if f != "natural_gas"),
        "ch4_fossil": bg["natural_gas"]["ch4_kg_per_gj"] * ng_gj,
        "n2o": sum(bg[f]["n2o_kg_per_gj"] * gj for f, gj in fuels.items()),
        "co2_fossil": r["co2_ng_fossil_kg_h"],
    }
    comp = m.feed_composition(p)
    carbon = sum(float(v) * carbon_fraction(c) for c, v in comp.items() if c != "ash")
    background_extra = {"corn_stover": {"co2_biogenic": -carbon * _MOLAR_CO2_PER_C}}
    return tags, extra, background_extra


@functools.lru_cache(maxsize=1)
def _co2_electrolyzer() -> tuple[dict[str, float], dict[str, float], dict]:
    from models import co2_electrolyzer as m

    p, op = m.DEFAULT_PARAMS, m.NOMINAL
    s = m.steady_state(op.current_a, op.co2_flow_nm3_h, op.co2_concentration_pct, op.inlet_temp_c, params=p)
    f = {k: float(np.asarray(getattr(s, k))) for k in ("stack_power_kw", "cooling_kw", "co2_feed_kg_h",
                                                        "formic_acid_kg_h", "co2_out_kg_h", "active_cells")}
    bleed_l_h = p.bleed_l_per_ah * op.current_a
    # Same expressions as the DCS blocks of models.co2_electrolyzer (ECR.JI103, FY303, FY304), pumps running.
    electricity = (
        f["stack_power_kw"] / p.rectifier_efficiency + p.bop_kw
        + max(f["cooling_kw"], 0.0) / p.chiller_cop + max(-f["cooling_kw"], 0.0)
    )
    water_m3 = bleed_l_h / 1000.0 + p.n_cells * op.current_a / (m.Z * m.F) * m.M_H2O * 3600.0 / 1000.0
    tags = {
        "ECR.JI103": electricity,
        "ECR.FY201": f["co2_feed_kg_h"],
        "ECR.FY301": f["formic_acid_kg_h"],
        "ECR.FY202": f["co2_out_kg_h"],
        "ECR.FY303": bleed_l_h * p.khco3_mol_l * m.M_KHCO3,
        "ECR.FY304": water_m3,
    }
    return tags, {}, {}


@functools.lru_cache(maxsize=1)
def _smelter() -> tuple[dict[str, float], dict[str, float], dict]:
    from models import smelter as m

    p = m.DEFAULT_PARAMS
    s = m.steady_state(p.nominal_current_ka, p)
    tags = {
        "SMT.JI100": s.power_kw / p.rectifier_efficiency + p.auxiliary_kw,
        "SMT.FY501": s.alumina_t_h * 1000.0,
        "SMT.FY503": s.anode_t_h * 1000.0,
        "SMT.FY502": s.alf3_kg_h,
        "SMT.FY401": s.aluminium_t_h * 1000.0,
        "SMT.FY504": s.co2_t_h * 1000.0,
        "SMT.FY303": s.cf4_kg_h,
        "SMT.FY304": s.c2f6_kg_h,
    }
    return tags, {}, {}


_FOREGROUND = {"biorefinery": _biorefinery, "co2_electrolyzer": _co2_electrolyzer, "smelter": _smelter}


def _plant_id(plant_id: str) -> str:
    by_product = {v: k for k, v in PLANTS.items()}
    pid = by_product.get(plant_id, plant_id)
    if pid not in PLANTS:
        raise LcaError(f"no LCA product system for {plant_id!r}; expected one of {sorted(PLANTS)} (or {sorted(by_product)})")
    return pid


def _activity(plant_id: str):
    from models import get_plant

    return get_plant(plant_id).ACTIVITY


def _emission_flow(plant_id: str, item: str, co2_origin: str) -> str:
    from models.fleet import type_of

    plant_id = type_of(plant_id)
    if item == "co2":
        return f"co2_{co2_origin}" if plant_id == "co2_electrolyzer" else "co2_fossil"
    if item == "ch4":
        return "ch4_biogenic" if plant_id == "biorefinery" else "ch4_fossil"  # the digester's methane
    return item


def foreground_amounts(plant_id: str, *, co2_origin: str = "biogenic") -> pd.DataFrame:
    """Hourly amounts of the plant's ``ACTIVITY`` streams at its design steady state, in LCA units.

    Returns
    -------
    DataFrame
        ``kind, item, tag, flow, unit, amount_per_h`` (amount signed as an LCA exchange), plus rows with
        ``tag`` "" for the emissions added to the activity streams (boiler CH4 / N2O, NG combustion CO2).
    """
    pid = _plant_id(plant_id)
    tags, extra, _ = _FOREGROUND[pid]()
    rows = []
    for a in _activity(pid):
        if a.tag not in tags:
            raise LcaError(f"{pid}: ACTIVITY stream {a.tag} ({a.item}) has no steady-state amount in the LCA foreground")
        if a.kind in _INPUT_KINDS:
            flow, sign = a.item, -1.0
        elif a.kind in ("product", "electricity_export"):
            flow, sign = a.item, 1.0
        elif a.kind == "biogenic_co2":
            flow, sign = "co2_biogenic", 1.0
        else:
            flow, sign = _emission_flow(pid, a.item, co2_origin), 1.0
        unit = ELEMENTARY_FLOWS.get(flow, _LCA_UNITS.get(flow, "kg"))
        rows.append((a.kind, a.item, a.tag, flow, unit, sign * tags[a.tag]))
    for flow, amount in extra.items():
        rows.append(("process_emission", flow, "", flow, ELEMENTARY_FLOWS[flow], amount))
    return pd.DataFrame(rows, columns=["kind", "item", "tag", "flow", "unit", "amount_per_h"])


# --------------------------------------------------------------------------- product systems


def product_system(
    plant_id: str,
    *,
    region_grid_kg_per_kwh: float | None = None,
    overrides: Mapping[str, float] | None = None,
    region: str | None = None,
    co2_origin: Literal["biogenic", "fossil"] | None = None,
) -> tuple[LcaSystem, dict[str, float]]:
    """Cradle-to-gate product system of one plant and the demand for 1 kg of its product.

    Parameters
    ----------
    plant_id : str
        ``biorefinery``, ``co2_electrolyzer`` or ``smelter`` (or the product name: ``ethanol``,
        ``formic_acid``, ``aluminium``).
    region_grid_kg_per_kwh : float, optional
        Life-cycle GHG factor of the grid electricity, kg CO2e/kWh, replacing the data file's value
        (fossil energy and water of the grid are kept).
    overrides : mapping, optional
        ``{"<background process>.<flow>": value}`` for scenarios, e.g. ``{"cellulase.ghg_co2e": 4.0}``;
        the uncertainty is kept relative to the value.
    region : str, optional
        Grid region (``DE``, ``NO``, ``US-MROW``); default the plant's site (:mod:`models.sites`).
    co2_origin : {"biogenic", "fossil"}, optional
        Origin of the electrolyzer's CO2 feed (default from the data file: fermentation CO2, biogenic).
        ``fossil`` books the captured CO2 as a fossil uptake (avoided emission) and the vented CO2 as
        fossil, i.e. the carbon bound in the product counts as a credit.

    Returns
    -------
    (LcaSystem, dict)
        The system and the final demand ``{product: 1.0}`` (kg).
    """
    pid = _plant_id(plant_id)
    doc = _load(str(DATA_FILE))
    region = region or get_site(pid).grid_region
    grid = f"electricity_grid_{region}"
    bg = dict(doc["processes"])
    if grid not in bg:
        known = sorted(k.removeprefix("electricity_grid_") for k in bg if k.startswith("electricity_grid_"))
        raise LcaError(f"no grid electricity for region {region!r}; known regions: {known}")
    bg = {k: v for k, v in bg.items() if not k.startswith("electricity_grid_") or k == grid}
    origin = co2_origin or bg["co2_supply"].get("origin", "biogenic")
    if origin not in ("biogenic", "fossil"):
        raise LcaError(f"co2_origin must be 'biogenic' or 'fossil', got {origin!r}")
    bg["co2_supply"] = {**bg["co2_supply"], "origin": origin}
    overrides = dict(overrides or {})
    if region_grid_kg_per_kwh is not None:
        overrides[f"{grid}.ghg_co2e"] = float(region_grid_kg_per_kwh)
    valid = {f"{n}.{e['flow']}" for n, s in bg.items() for e in s.get("inputs", []) + s.get("emissions", [])}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise LcaError(f"unknown background overrides {unknown}; expected keys among {sorted(valid)}")

    fg = foreground_amounts(pid, co2_origin=origin)
    _, _, bg_extra = _FOREGROUND[pid]()
    unc = doc["foreground"]
    product = PLANTS[pid]
    exchanges = []
    for (flow, unit), amount in fg.groupby(["flow", "unit"], sort=False)["amount_per_h"].sum().items():
        if amount == 0.0:
            continue
        gsd2 = unc["overrides"].get(flow, {}).get("gsd2", unc["default_gsd2"])
        exchanges.append(Exchange(flow, amount, unit, None if flow == product else Uncertainty("lognormal", gsd2)))
    foreground = Process(pid, product, tuple(exchanges), f"1 h at the design steady state of models.{pid}")

    extra = {n: [Exchange(f, v, ELEMENTARY_FLOWS[f]) for f, v in d.items()] for n, d in bg_extra.items()}
    background = {n: _background_process(n, s, overrides, extra.get(n, [])) for n, s in bg.items()}
    providers = {p.reference_product: p for p in background.values()}
    processes, todo, seen = [foreground], [foreground], {foreground.name}
    while todo:  # only background processes reachable from the foreground
        for e in todo.pop().exchanges:
            p = providers.get(e.flow)
            if p is not None and p.name not in seen:
                seen.add(p.name)
                processes.append(p)
                todo.append(p)
    props = {k: {a: float(v[a]) for a in ("mass", "energy", "economic")} for k, v in doc["coproducts"].items()}
    return LcaSystem(tuple(processes), props), {product: 1.0}


class LcaAssessment(NamedTuple):
    """Result of :func:`assess`: ``results`` one row per (product, impact category); ``contributions``
    one row per (product, impact category, process)."""

    results: pd.DataFrame
    contributions: pd.DataFrame


def assess(
    plant_id: str,
    allocation: Allocation = "system_expansion",
    n_monte_carlo: int = 500,
    seed: int = 0,
    *,
    region_grid_kg_per_kwh: float | None = None,
    overrides: Mapping[str, float] | None = None,
    region: str | None = None,
) -> LcaAssessment:
    """Cradle-to-gate LCA of 1 kg of a plant's product, with Monte Carlo intervals.

    Returns
    -------
    LcaAssessment
        ``results``: ``plant_id, product, functional_unit, impact_category, unit, value, mean, median,
        std, p2_5, p97_5, allocation, grid_region, n_monte_carlo, seed`` (Monte Carlo columns NaN when
        ``n_monte_carlo`` is 0). ``contributions``: ``plant_id, product, impact_category, unit,
        process, value, share, allocation``.
    """
    pid = _plant_id(plant_id)
    region = region or get_site(pid).grid_region
    system, demand = product_system(
        pid, region_grid_kg_per_kwh=region_grid_kg_per_kwh, overrides=overrides, region=region
    )
    det = solve(system, demand, allocation=allocation)
    res = det.impacts.rename(columns={"category": "impact_category"})
    if n_monte_carlo:
        mc = monte_carlo(system, demand, n=n_monte_carlo, seed=seed, allocation=allocation).summary
        res = res.merge(mc.drop(columns=["unit", "deterministic"]).rename(columns={"category": "impact_category"}))
    else:
        res = res.assign(mean=np.nan, median=np.nan, std=np.nan, p2_5=np.nan, p97_5=np.nan)
    head = {"plant_id": pid, "product": PLANTS[pid], "functional_unit": FUNCTIONAL_UNITS[pid]}
    results = res.assign(**head, allocation=allocation, grid_region=region, n_monte_carlo=n_monte_carlo, seed=seed)
    results = results[
        ["plant_id", "product", "functional_unit", "impact_category", "unit", "value", "mean", "median", "std",
         "p2_5", "p97_5", "allocation", "grid_region", "n_monte_carlo", "seed"]
    ]
    con = det.contributions.rename(columns={"category": "impact_category"})
    con = con.assign(plant_id=pid, product=PLANTS[pid], allocation=allocation)
    con = con[["plant_id", "product", "impact_category", "unit", "process", "value", "share", "allocation"]]
    return LcaAssessment(results.reset_index(drop=True), con.reset_index(drop=True))
