"""Physics-aware quality gates: the mass, energy, carbon and charge balances each plant's tags allow.

Example::

    import pandas as pd
    from models.balances import BALANCES, evaluate

    cstr_energy = next(b for b in BALANCES["cstr"] if b.name == "energy")
    hourly = pd.DataFrame({"CSTR.FI101": [100.0], "CSTR.AI101": [1.0], "CSTR.AI102": [0.877],
                           "CSTR.TI101": [350.0], "CSTR.TI102": [324.5], "CSTR.QI101": [20.4]})
    u = pd.DataFrame({t: [0.0] for t in hourly})          # standard uncertainty of each hourly value
    evaluate(cstr_energy, hourly, u)[["residual", "sigma", "z", "status"]]

A balance is a list of *in* and *out* terms, each a function of hourly tag values in the tags'
canonical (silver/gold) units; its residual is ``sum(in) - sum(out)`` and its throughput
``max(|sum(in)|, |sum(out)|)``. Only tags that exist in the plant's catalog are used, and only
constants that are published (CODATA, IUPAC, JANAF, the benchmark a plant model reproduces) or
the plant's own design data (cell count, busbar share, anode size), each cited where declared.

Uncertainty (``sigma`` of the residual), two independent parts added in quadrature:

* **Instruments.** Each measured tag's stated noise (``TagSpec.noise_pct`` of span) is the
  standard deviation of one reading; the hourly value is a mean of ``n`` good readings, so its
  standard uncertainty is ``noise / sqrt(n)`` (computed by the caller, see
  :func:`etl.balances.tag_uncertainty`). DCS-calculated tags (``noise_pct`` 0) carry no
  instrument term: their inputs' errors belong to the model-form term. Each tag's uncertainty is
  propagated through the balance by central differences (exact for the bilinear terms used here
  up to second-order products).
* **Model form.** A fraction of throughput (``model_form_pct``) for what the balance leaves
  out: hold-up (accumulation) over an hour, hourly averages of products, constant physical
  properties, unmetered sinks. Each balance states its reason next to its figure. The figures
  were checked against normal simulated operation (README: false-violation rate per plant).

An hour is a *violation* when ``|residual| > K_SIGMA * sigma`` (``K_SIGMA = 3``: 0.27 % of
normal hours for a Gaussian residual), *insufficient_data* when a tag is missing or flagged
or the throughput is below the balance's floor (the plant idles and percentages are
meaningless), else *ok*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["BALANCES", "K_SIGMA", "STATUSES", "Balance", "Term", "balances_for", "evaluate"]

K_SIGMA = 3.0
STATUSES = ("ok", "violation", "insufficient_data")

# ---------------------------------------------------------------------------------- constants
#: Faraday constant, C/mol (CODATA 2018, exact).
FARADAY = 96485.33212
#: Molar volume of an ideal gas at 0 degC, 101.325 kPa, m3/mol (CODATA 2018): normal m3 -> mol.
V_M_NORMAL = 22.413969545e-3
#: Molar masses, kg/mol, from IUPAC 2013 conventional atomic weights (C 12.011, H 1.008, O 15.999).
M_CO2 = 44.009e-3
M_ETHANOL = 46.069e-3
M_HCOOH = 46.025e-3
#: Ambient CO2 in the potroom air drawn into the fume ducts, volume % (~400 ppm; NOAA global
#: mean 2015-2020 is 400-414 ppm).
AMBIENT_CO2_PCT = 0.04


def _cstr_constants() -> dict[str, float]:
    # Seborg et al. / APMonitor CSTR benchmark values, as documented on models.cstr.CSTRParams.
    from models.cstr import CSTRParams

    p = CSTRParams()
    return {"rho": p.rho, "cp": p.Cp, "mdelh": p.mdelH, "ua": p.UA}


def _electrolyzer_cells() -> int:
    # Design datum of the stack (the catalog's own DCS blocks divide by it: EI101 / 40).
    from models.co2_electrolyzer import CO2ElectrolyzerParams

    return int(CO2ElectrolyzerParams().n_cells)


def _smelter_design() -> dict[str, float]:
    # Section design data (models.smelter.SmelterParams): cells in series, busbar share per cell
    # (0.15 V at 350 kA) and the anode-setting heat sink (anodes per cell / life x anode mass x cp x dT).
    from models.smelter import DEFAULT

    return {"n": float(DEFAULT.n_cells), "r_ext_uohm": float(DEFAULT.external_uohm),
            "anode_kw": float(DEFAULT.anode_heat_kw)}


def _enthalpy_voltage(ce: np.ndarray, temp_c: np.ndarray) -> np.ndarray:
    # Voltage equivalent of the reduction enthalpy, from JANAF formation and sensible enthalpies
    # (models._smelter_physics.enthalpy_voltage: ~2.08 V at CE 1, ~2.00 V at CE 0.945, 965 degC).
    from models.smelter import enthalpy_voltage

    return np.asarray(enthalpy_voltage(ce, temp_c), dtype=float)


# ---------------------------------------------------------------------------------- declarations
Values = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Term:
    """One term of a balance: ``fn`` of the hourly tag values (canonical units) in the balance's unit."""

    name: str
    side: Literal["in", "out"]
    fn: Callable[[Values], np.ndarray]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Balance:
    """A conservation law over a plant section, written with the plant's tags.

    Attributes:
        plant_id: plant type whose catalog the tags belong to.
        name: short name, unique per plant (``energy``, ``carbon``, ``beer_column_ethanol`` ...).
        quantity: what is conserved: mass | energy | carbon | charge | component.
        section: unit operation the balance closes over (the event frame's unit).
        unit: unit of every term (kW, t/h, kg/h, A).
        description: the law, for people.
        terms: in and out terms.
        model_form_pct: standard uncertainty of what the balance leaves out, % of throughput.
        model_form_note: why that figure.
        min_throughput: below it (the plant idles) the hour is insufficient_data, in ``unit``.
    """

    plant_id: str
    name: str
    quantity: str
    section: str
    unit: str
    description: str
    terms: tuple[Term, ...]
    model_form_pct: float
    model_form_note: str
    min_throughput: float
    tags: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        tags: list[str] = []
        for t in self.terms:
            tags += [x for x in t.tags if x not in tags]
        object.__setattr__(self, "tags", tuple(tags))
        if self.model_form_pct < 0 or self.min_throughput < 0:
            raise ValueError(f"{self.plant_id}/{self.name}: model_form_pct and min_throughput must be >= 0")
        if not any(t.side == "in" for t in self.terms) or not any(t.side == "out" for t in self.terms):
            raise ValueError(f"{self.plant_id}/{self.name}: a balance needs at least one in and one out term")

    def side_totals(self, v: Values) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        terms = {t.name: np.asarray(t.fn(v), dtype=float) for t in self.terms}
        t_in = sum(terms[t.name] for t in self.terms if t.side == "in")
        t_out = sum(terms[t.name] for t in self.terms if t.side == "out")
        return t_in, t_out, terms

    def residual(self, v: Values) -> np.ndarray:
        t_in, t_out, _ = self.side_totals(v)
        return t_in - t_out


def _t(tag: str) -> Callable[[Values], np.ndarray]:
    return lambda v: v[tag]


def _cstr() -> tuple[Balance, ...]:
    c = _cstr_constants()
    per_min = 60_000.0  # J/min -> kW
    rcp = c["rho"] * c["cp"]
    return (
        Balance(
            "cstr", "energy", "energy", "reactor", "kW",
            "Reactor energy balance at steady state: heat released by A -> B, (-dH) q (CAf - CA), plus the feed's "
            "sensible heat rho Cp q (Tf - T) = heat removed by the jacket (heat meter QI101). Constants: "
            "-dH 5e4 J/mol, rho 1000 g/L, Cp 0.239 J/(g K) (Seborg et al.; APMonitor CSTR benchmark).",
            (Term("reaction_heat", "in", lambda v: c["mdelh"] * v["CSTR.FI101"] * (v["CSTR.AI101"] - v["CSTR.AI102"])
                  / per_min, ("CSTR.FI101", "CSTR.AI101", "CSTR.AI102")),
             Term("feed_sensible_heat", "in", lambda v: rcp * v["CSTR.FI101"] * (v["CSTR.TI101"] - v["CSTR.TI102"])
                  / per_min, ("CSTR.FI101", "CSTR.TI101", "CSTR.TI102")),
             Term("jacket_duty", "out", _t("CSTR.QI101"), ("CSTR.QI101",))),
            model_form_pct=1.0,
            model_form_note="constant rho and Cp; hold-up rho Cp V dT/dt neglected (V 100 L: 1 K/h is 0.007 kW, "
            "0.03 % of the duty); hourly means of the products q (CAf - CA) and q (Tf - T) differ from the "
            "products of the means when the feed moves within the hour (up to ~0.3 % of throughput on rate changes)",
            min_throughput=2.0,
        ),
        Balance(
            "cstr", "jacket_duty", "energy", "jacket", "kW",
            "Heat through the jacket wall UA (T - Tj) = heat removed by the jacket (heat meter QI101). UA 5e4 "
            "J/(min K) is the clean-jacket benchmark value (APMonitor); a fouled jacket fails this check.",
            (Term("wall_heat_flow", "in", lambda v: c["ua"] * (v["CSTR.TI102"] - v["CSTR.TI103"]) / per_min,
                  ("CSTR.TI102", "CSTR.TI103")),
             Term("jacket_duty", "out", _t("CSTR.QI101"), ("CSTR.QI101",))),
            model_form_pct=1.0,
            model_form_note="single jacket temperature (well-mixed jacket) and a constant clean UA; hourly means of "
            "UA (T - Tj) are exact because the law is linear",
            min_throughput=2.0,
        ),
    )


def _biorefinery() -> tuple[Balance, ...]:
    co2_per_ethanol = M_CO2 / M_ETHANOL  # C6H12O6 -> 2 C2H5OH + 2 CO2 (and 3 C5H10O5 -> 5 + 5)
    return (
        Balance(
            "biorefinery", "fermentation_co2", "carbon", "fermentation", "t/h",
            "Sugar -> ethanol stoichiometry in co-fermentation: every mole of ethanol formed releases one mole of "
            "CO2 (glucose -> 2 ethanol + 2 CO2; 3 xylose -> 5 ethanol + 5 CO2), so the vent CO2 (FI402) equals "
            "the ethanol leaving in the beer (AI404 x FI401) x M(CO2)/M(ethanol) = 0.9553.",
            (Term("co2_from_ethanol_formed", "in", lambda v: v["BIO.AI404"] * v["BIO.FI401"] / 1000.0
                  * co2_per_ethanol, ("BIO.AI404", "BIO.FI401")),
             Term("vent_co2", "out", _t("BIO.FI402"), ("BIO.FI402",))),
            model_form_pct=1.0,
            model_form_note="no ethanol in the hydrolysate; CO2 dissolved in the beer and ethanol stripped into "
            "the vent (recovered by the scrubber) neglected; hourly mean of AI404 x FI401 as the product of means",
            min_throughput=2.0,
        ),
        Balance(
            "biorefinery", "beer_column_mass", "mass", "distillation", "t/h",
            "Distillation total mass: beer fed to the beer column (FI501) = ethanol product (FI507) + stillage "
            "(FI503); the reboiler is indirect (steam condensate does not join the stillage).",
            (Term("beer_feed", "in", _t("BIO.FI501"), ("BIO.FI501",)),
             Term("ethanol_product", "out", _t("BIO.FI507"), ("BIO.FI507",)),
             Term("stillage", "out", _t("BIO.FI503"), ("BIO.FI503",))),
            model_form_pct=0.5,
            model_form_note="column and sieve hold-up constant over an hour; vent and sieve-regeneration losses "
            "neglected",
            min_throughput=40.0,
        ),
        Balance(
            "biorefinery", "beer_column_ethanol", "component", "distillation", "t/h",
            "Distillation ethanol: beer feed x ethanol wt% (FI501 x AI501) = product x purity (FI507 x AI507) + "
            "stillage x ethanol in stillage (FI503 x AI502, g/L taken as kg/t at 1 t/m3).",
            (Term("ethanol_in_beer", "in", lambda v: v["BIO.FI501"] * v["BIO.AI501"] / 100.0,
                  ("BIO.FI501", "BIO.AI501")),
             Term("ethanol_in_product", "out", lambda v: v["BIO.FI507"] * v["BIO.AI507"] / 100.0,
                  ("BIO.FI507", "BIO.AI507")),
             Term("ethanol_in_stillage", "out", lambda v: v["BIO.FI503"] * v["BIO.AI502"] / 1000.0,
                  ("BIO.FI503", "BIO.AI502"))),
            model_form_pct=1.0,
            model_form_note="stillage density taken as 1 t/m3 (the slip term is < 1 % of the ethanol, so even a 5 % "
            "density error moves the residual < 0.05 %); hold-up and sieve losses as for the total mass",
            min_throughput=2.0,
        ),
        Balance(
            "biorefinery", "stillage_filter_mass", "mass", "filter", "t/h",
            "Stillage pressure filter solids/liquor split: stillage (FI503) = filter cake (FI601) + filtrate (FI602, "
            "m3/h at 1 t/m3).",
            (Term("stillage", "in", _t("BIO.FI503"), ("BIO.FI503",)),
             Term("filter_cake", "out", _t("BIO.FI601"), ("BIO.FI601",)),
             Term("filtrate", "out", _t("BIO.FI602"), ("BIO.FI602",))),
            model_form_pct=1.0,
            model_form_note="filtrate density taken as 1 t/m3 (dissolved solids make it 1.00-1.02); filter hold-up "
            "constant over an hour",
            min_throughput=40.0,
        ),
    )


def _co2_electrolyzer() -> tuple[Balance, ...]:
    n_cells = _electrolyzer_cells()
    mol_h = 1.0 / V_M_NORMAL  # Nm3/h -> mol/h

    # FI302 m3/h x AI302 g/L (= kg/m3) = kg/h; / M (kg/mol) = mol/h.
    def formate(v: Values) -> np.ndarray:
        return v["ECR.FI302"] * v["ECR.AI302"] / M_HCOOH

    zf = 2.0 * FARADAY / 3600.0  # mol/h of a 2-electron product -> A
    return (
        Balance(
            "co2_electrolyzer", "carbon", "carbon", "stack", "kg/h",
            "Cathode carbon: CO2 fed (FI201 x AI201) = CO2 vented with the cathode gas (FI202 x AI203) + CO2 "
            "converted to formate (product bleed FI302 x formate analyser AI302, one C per HCOOH). Normal m3 "
            "converted at 22.414 L/mol (ideal gas, CODATA).",
            (Term("co2_feed", "in", lambda v: v["ECR.FI201"] * v["ECR.AI201"] / 100.0 * mol_h * M_CO2,
                  ("ECR.FI201", "ECR.AI201")),
             Term("co2_vented", "out", lambda v: v["ECR.FI202"] * v["ECR.AI203"] / 100.0 * mol_h * M_CO2,
                  ("ECR.FI202", "ECR.AI203")),
             Term("co2_to_formate", "out", lambda v: formate(v) * M_CO2, ("ECR.FI302", "ECR.AI302"))),
            model_form_pct=1.0,
            model_form_note="formate hold-up of the catholyte loop (~0.5 h turnover) lags the bleed after current "
            "changes; carbonate crossover to the anode neglected; ideal-gas normal volumes (real CO2 is 0.7 % "
            "denser, same on both sides)",
            min_throughput=5.0,
        ),
        Balance(
            "co2_electrolyzer", "charge", "charge", "stack", "A",
            f"Faraday's law on the cathode: electrons supplied, {n_cells} cells x stack current II101 = 2F x "
            "(formate from bleed x analyser + H2 from outlet gas FI202 x AI202); F = 96485.33212 C/mol (CODATA). "
            "Equivalently current x Faradaic efficiency = 2F x formate rate.",
            (Term("cell_current", "in", lambda v: n_cells * v["ECR.II101"], ("ECR.II101",)),
             Term("formate_current", "out", lambda v: zf * formate(v), ("ECR.FI302", "ECR.AI302")),
             Term("h2_current", "out", lambda v: zf * v["ECR.FI202"] * v["ECR.AI202"] / 100.0 * mol_h,
                  ("ECR.FI202", "ECR.AI202"))),
            model_form_pct=2.0,
            model_form_note="formate hold-up of the catholyte loop: after a current step the analysed bleed "
            "lags the charge by ~0.5 h, up to ~2 % of an hour's charge; CO and other minor products neglected",
            min_throughput=600.0,
        ),
        Balance(
            "co2_electrolyzer", "anode_charge", "charge", "anode", "A",
            f"Faraday's law on the anode: {n_cells} cells x II101 = 4F x O2 evolved (FI401).",
            (Term("cell_current", "in", lambda v: n_cells * v["ECR.II101"], ("ECR.II101",)),
             Term("o2_current", "out", lambda v: 4.0 * FARADAY / 3600.0 * v["ECR.FI401"] * mol_h, ("ECR.FI401",))),
            model_form_pct=1.0,
            model_form_note="100 % oxygen evolution efficiency at the anode (no parasitic anode reactions); "
            "ideal-gas normal volume",
            min_throughput=600.0,
        ),
    )


def _smelter() -> tuple[Balance, ...]:
    d = _smelter_design()
    n = d["n"]

    def reaction(v: Values) -> np.ndarray:
        ce = v["SMT.EY402"] / 100.0
        return n * v["SMT.II101"] * _enthalpy_voltage(ce, v["SMT.TI201"] - 273.15)  # kA x V = kW

    return (
        Balance(
            "smelter", "dc_power", "energy", "rectifier", "kW",
            "Rectifier metering: section voltage x line current (EI101 x II101) = section DC power (JI101).",
            (Term("voltage_x_current", "in", lambda v: v["SMT.EI101"] * v["SMT.II101"], ("SMT.EI101", "SMT.II101")),
             Term("dc_power_meter", "out", _t("SMT.JI101"), ("SMT.JI101",))),
            model_form_pct=0.2,
            model_form_note="hourly mean of V x I as the product of means (current and voltage move together "
            "during set-point ramps, < 0.01 % here); meter class 0.2",
            min_throughput=0.05 * 148_000.0,
        ),
        Balance(
            "smelter", "energy", "energy", "potline", "kW",
            "Section energy balance: DC power in (JI101) = enthalpy of the reduction 1/2 Al2O3 + 3/4 C -> Al + "
            "3/4 CO2 with back reaction, n I E_H(CE, T) (E_H from JANAF enthalpies, ~2.0 V) + cell heat losses "
            "(QY604) + external busbar share n I^2 R_ext + anode-setting heat sink (design data).",
            (Term("dc_power", "in", _t("SMT.JI101"), ("SMT.JI101",)),
             Term("reduction_enthalpy", "out", reaction, ("SMT.II101", "SMT.EY402", "SMT.TI201")),
             Term("cell_heat_loss", "out", _t("SMT.QY604"), ("SMT.QY604",)),
             Term("busbar_loss", "out", lambda v: n * v["SMT.II101"] ** 2 * d["r_ext_uohm"] / 1000.0,
                  ("SMT.II101",)),
             Term("anode_preheat", "out", lambda v: n * d["anode_kw"] + 0.0 * v["SMT.II101"], ("SMT.II101",))),
            model_form_pct=1.5,
            model_form_note="thermal inertia of bath, ledge and lining (hours: the bath cools by ~1 K/h after "
            "anode setting, releasing ~2 % of the power); anode-setting heat taken as its daily mean; heat of "
            "alumina dissolution neglected; QY604 is itself a heat-flux estimate",
            min_throughput=0.05 * 148_000.0,
        ),
        Balance(
            "smelter", "carbon", "carbon", "fume", "t/h",
            "Anode carbon: CO2 from net anode consumption (FY504, IPCC 2006 Tier 2/3) = CO2 in the fume duct "
            "(FI505 x (AI506 - ambient 0.04 %), normal m3 at 22.414 L/mol).",
            (Term("anode_co2", "in", _t("SMT.FY504"), ("SMT.FY504",)),
             Term("fume_co2", "out", lambda v: v["SMT.FI505"] * (v["SMT.AI506"] - AMBIENT_CO2_PCT) / 100.0
                  / V_M_NORMAL * M_CO2 / 1000.0, ("SMT.FI505", "SMT.AI506"))),
            model_form_pct=1.0,
            model_form_note="all anode carbon leaves as CO2 through the duct (CO from the back reaction and "
            "potroom leakage neglected); ambient CO2 taken as 400 ppm",
            min_throughput=0.5,
        ),
    )


_BUILDERS: dict[str, Callable[[], tuple[Balance, ...]]] = {
    "cstr": _cstr, "biorefinery": _biorefinery, "co2_electrolyzer": _co2_electrolyzer, "smelter": _smelter,
}


class _Registry(Mapping[str, tuple[Balance, ...]]):
    """Balances per plant type, built on first use (plant modules load lazily)."""

    def __init__(self) -> None:
        self._built: dict[str, tuple[Balance, ...]] = {}

    def __getitem__(self, plant_id: str) -> tuple[Balance, ...]:
        if plant_id not in _BUILDERS:  # an instance: the balances of its type
            from models.fleet import type_of

            plant_id = type_of(plant_id)
        if plant_id not in _BUILDERS:
            raise KeyError(f"no balances declared for plant {plant_id!r}; known: {sorted(_BUILDERS)}")
        if plant_id not in self._built:
            self._built[plant_id] = _BUILDERS[plant_id]()
        return self._built[plant_id]

    def __iter__(self):
        return iter(_BUILDERS)

    def __len__(self) -> int:
        return len(_BUILDERS)


BALANCES: Mapping[str, tuple[Balance, ...]] = _Registry()


def balances_for(plant_id: str) -> tuple[Balance, ...]:
    return BALANCES[plant_id]


# ---------------------------------------------------------------------------------- evaluation
def evaluate(balance: Balance, values: pd.DataFrame, uncertainty: pd.DataFrame, *, k: float = K_SIGMA
             ) -> pd.DataFrame:
    """Residual, uncertainty and verdict of ``balance`` for every row (hour) of ``values``.

    Args:
        values: hourly tag values in canonical units, one column per tag (NaN = missing or flagged).
        uncertainty: standard uncertainty of each value, same shape (0 for calculated tags).
        k: coverage factor of the violation band.

    Returns:
        DataFrame on ``values.index`` with ``in_total``, ``out_total``, one column per term
        (``term:<name>``), ``residual``, ``throughput``, ``residual_pct``, ``sigma``,
        ``sigma_instruments``, ``sigma_model``, ``z``, ``status`` and ``tag_shares`` (each measured
        tag's share of the instrument variance, ``'tag:share'`` joined by ``', '``, largest first: the
        instruments most able to explain a gap).
    """
    cols = list(balance.tags)
    missing = [c for c in cols if c not in values.columns]
    x = values.reindex(columns=cols).astype(float)
    u = uncertainty.reindex(index=values.index, columns=cols).astype(float).fillna(0.0)
    v = {c: x[c].to_numpy() for c in cols}
    t_in, t_out, terms = balance.side_totals(v)
    t_in, t_out = np.broadcast_to(t_in, len(x)).astype(float), np.broadcast_to(t_out, len(x)).astype(float)
    residual = t_in - t_out
    parts: dict[str, np.ndarray] = {}
    for c in cols:
        step = u[c].to_numpy()
        if not np.any(step > 0):
            continue
        hi, lo = dict(v), dict(v)
        hi[c], lo[c] = v[c] + step, v[c] - step
        parts[c] = ((balance.residual(hi) - balance.residual(lo)) / 2.0) ** 2
    var = sum(parts.values()) if parts else np.zeros(len(x))
    throughput = np.fmax(np.abs(t_in), np.abs(t_out))
    sigma_model = balance.model_form_pct / 100.0 * throughput
    sigma_inst = np.sqrt(var)
    sigma = np.sqrt(var + sigma_model**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = residual / sigma
        pct = 100.0 * residual / throughput
    bad = ~np.isfinite(residual) | ~(throughput >= balance.min_throughput) | ~(sigma > 0)
    if missing:
        bad[:] = True
    status = np.where(bad, "insufficient_data", np.where(np.abs(z) > k, "violation", "ok"))
    out = pd.DataFrame({
        "in_total": t_in, "out_total": t_out,
        **{f"term:{name}": np.broadcast_to(val, len(x)).astype(float) for name, val in terms.items()},
        "residual": residual, "throughput": throughput, "residual_pct": pct, "sigma": sigma,
        "sigma_instruments": sigma_inst, "sigma_model": sigma_model, "z": z, "status": status,
        "tag_shares": _shares(parts, len(x)),
    }, index=values.index)
    for c in ("residual_pct", "z"):
        out.loc[bad, c] = np.nan
    return out


def _shares(parts: Mapping[str, np.ndarray], n: int) -> list[str | None]:
    out: list[str | None] = []
    for i in range(n):
        row = {t: float(p[i]) for t, p in parts.items() if np.isfinite(p[i])}
        total = sum(row.values())
        out.append(", ".join(f"{t}:{w / total:.2f}" for t, w in sorted(row.items(), key=lambda kv: -kv[1]))
                   if total > 0 else None)
    return out
