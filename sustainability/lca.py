"""Life cycle assessment by the matrix method (Heijungs & Suh 2002).

A product system is a set of unit processes, each with one reference product and its exchanges:
technosphere flows (products of other processes; outputs positive, inputs negative) and elementary
flows (emissions and resource uses positive, uptakes negative). With

* ``A`` the technosphere matrix (technosphere flows x processes),
* ``B`` the intervention matrix (elementary flows x processes),
* ``C`` the characterisation matrix (impact categories x elementary flows),

the scaling vector for a final demand ``f`` is ``s = A^-1 f``, the inventory ``g = B s`` and the impacts
``h = C g`` (Heijungs, R., Suh, S. (2002) *The Computational Structure of Life Cycle Assessment*,
Kluwer, ch. 2-3). The contribution of process ``j`` to category ``k`` is ``(C B)_kj s_j``.

Multi-output processes (a process with technosphere outputs besides its reference product) are
resolved by the ``allocation`` mode of :func:`solve`:

* ``"mass"``, ``"energy"``, ``"economic"``: partitioning (ISO 14044:2006, 4.3.4.2 step 2). Each co-product
  ``i`` gets the factor ``F_i = p_i a_i / sum_j p_j a_j`` of all non-product exchanges, ``a`` the output
  amounts and ``p`` the property per unit (``mass`` kg, ``energy`` MJ LHV, ``economic`` price) given in
  :attr:`LcaSystem.properties`. A co-product partition becomes its own column only if no other process
  provides that flow (otherwise its share leaves the system with the co-product).
* ``"system_expansion"``: substitution (ISO 14044 step 1). The co-product output stays in the process's
  column; the process providing that flow (e.g. grid electricity for exported power) is then scaled
  negatively, i.e. its production is avoided and credited.

Monte Carlo (:func:`monte_carlo`) samples every exchange that carries an :class:`Uncertainty`
(lognormal with the squared geometric standard deviation GSD^2 of ecoinvent's pedigree approach,
Weidema et al. 2013, or a triangular / uniform range), builds all ``A`` and ``B`` at once and solves the
stacked systems with one batched LAPACK call. Allocation factors are kept at their deterministic values.

Climate change uses GWP100 (IPCC AR6, Forster et al. 2021, WG1 ch. 7, Table 7.15, by default). Biogenic
CO2 has a GWP of 0 by convention (its uptake is counted as 0 too) but stays in the inventory as
``co2_biogenic``. ``ghg_co2e`` is a background flow already expressed as CO2e by its source.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd

from nexus.errors import NexusError

__all__ = [
    "ALLOCATION_MODES",
    "ELEMENTARY_FLOWS",
    "GWP100_AR6",
    "IMPACT_CATEGORIES",
    "Exchange",
    "LcaError",
    "LcaResult",
    "LcaSystem",
    "MonteCarloResult",
    "Process",
    "Uncertainty",
    "characterisation_matrix",
    "monte_carlo",
    "solve",
]


class LcaError(NexusError, ValueError):
    """An LCA system or demand is ill-posed (unknown flow, unit mismatch, non-square or singular matrix)."""


#: Elementary flows and their units.
ELEMENTARY_FLOWS: Mapping[str, str] = MappingProxyType(
    {
        "co2_fossil": "kg",
        "co2_biogenic": "kg",
        "ch4_fossil": "kg",
        "ch4_biogenic": "kg",
        "n2o": "kg",
        "cf4": "kg",
        "c2f6": "kg",
        "ghg_co2e": "kg",  # background GHGs reported only as a GWP100 total by their source
        "fossil_energy": "MJ",
        "water_consumption": "m3",
    }
)

#: GWP100, kg CO2e/kg: IPCC AR6 WG1 ch. 7 Table 7.15 (Forster et al. 2021). Fossil CH4 includes the CO2
#: of its oxidation; biogenic CO2 is 0 by convention; ``ghg_co2e`` is already CO2e.
GWP100_AR6: Mapping[str, float] = MappingProxyType(
    {
        "co2_fossil": 1.0,
        "co2_biogenic": 0.0,
        "ch4_fossil": 29.8,
        "ch4_biogenic": 27.0,
        "n2o": 273.0,
        "cf4": 7380.0,
        "c2f6": 12400.0,
        "ghg_co2e": 1.0,
    }
)

#: Impact categories and units; the last two are inventory indicators (characterisation factor 1).
IMPACT_CATEGORIES: Mapping[str, str] = MappingProxyType(
    {"climate_change_gwp100": "kg CO2e", "fossil_energy": "MJ", "water_consumption": "m3"}
)
_INDICATOR_FLOW = {"fossil_energy": "fossil_energy", "water_consumption": "water_consumption"}

Allocation = Literal["mass", "energy", "economic", "system_expansion"]
ALLOCATION_MODES: tuple[str, ...] = ("mass", "energy", "economic", "system_expansion")
DISTRIBUTIONS: tuple[str, ...] = ("lognormal", "triangular", "uniform")
_UNIT_ALIASES = {"m**3": "m3", "m^3": "m3", "tkm": "t*km", "t km": "t*km", "kW*h": "kWh", "kwh": "kWh"}


def _unit(u: str) -> str:
    return _UNIT_ALIASES.get(u.strip(), u.strip())


# --------------------------------------------------------------------------- description of a system


@dataclass(frozen=True)
class Uncertainty:
    """Uncertainty of one exchange amount.

    Parameters
    ----------
    distribution : {"lognormal", "triangular", "uniform"}
        ``lognormal``: the amount is the median, ``gsd2`` the squared geometric standard deviation
        (95 % of samples in ``[amount/gsd2, amount*gsd2]``; ecoinvent convention, Weidema et al. 2013).
        ``triangular``: ``low``, mode = amount, ``high``. ``uniform``: ``low`` to ``high``.
    gsd2 : float, optional
        >= 1; lognormal only.
    low, high : float, optional
        Range in the exchange's unit; triangular and uniform only.
    """

    distribution: Literal["lognormal", "triangular", "uniform"]
    gsd2: float | None = None
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise LcaError(f"unknown distribution {self.distribution!r}; expected one of {DISTRIBUTIONS}")
        if self.distribution == "lognormal":
            if self.gsd2 is None or not (math.isfinite(self.gsd2) and self.gsd2 >= 1.0):
                raise LcaError(f"lognormal uncertainty needs gsd2 >= 1, got {self.gsd2!r}")
        elif self.low is None or self.high is None or not self.low <= self.high:
            raise LcaError(f"{self.distribution} uncertainty needs low <= high, got low={self.low!r} high={self.high!r}")

    @classmethod
    def from_mapping(cls, m: Mapping) -> Uncertainty | None:
        """``{"gsd2": 1.2}`` or ``{"distribution": "triangular", "low": .., "high": ..}``; None if neither."""
        if m.get("distribution") in ("triangular", "uniform"):
            return cls(m["distribution"], low=float(m["low"]), high=float(m["high"]))
        if m.get("gsd2") is not None:
            return cls("lognormal", gsd2=float(m["gsd2"]))
        if m.get("distribution") not in (None, "lognormal"):
            raise LcaError(f"unknown distribution {m['distribution']!r}; expected one of {DISTRIBUTIONS}")
        return None

    def scaled(self, factor: float) -> Uncertainty:
        """The same relative uncertainty around an amount multiplied by ``factor``."""
        if self.distribution == "lognormal":
            return self
        lo, hi = sorted((self.low * factor, self.high * factor))
        return Uncertainty(self.distribution, low=lo, high=hi)

    def check(self, amount: float, where: str) -> None:
        if self.distribution != "lognormal" and not self.low <= amount <= self.high:
            raise LcaError(f"{where}: amount {amount} lies outside its {self.distribution} range [{self.low}, {self.high}]")

    def sample(self, amount: float, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` samples of the amount."""
        if self.distribution == "lognormal":
            return amount * np.exp(rng.standard_normal(n) * (math.log(self.gsd2) / 2.0))
        if self.distribution == "uniform":
            return rng.uniform(self.low, self.high, n)
        if self.low == self.high:
            return np.full(n, amount)
        return rng.triangular(self.low, amount, self.high, n)


@dataclass(frozen=True)
class Exchange:
    """One exchange of a process: ``amount`` of ``flow`` in ``unit`` per operation of the process.

    Technosphere flows: output > 0, input < 0. Elementary flows: emission / resource use > 0, uptake < 0.
    """

    flow: str
    amount: float
    unit: str
    uncertainty: Uncertainty | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.amount):
            raise LcaError(f"exchange {self.flow!r}: amount must be finite, got {self.amount}")
        object.__setattr__(self, "amount", float(self.amount))
        object.__setattr__(self, "unit", _unit(self.unit))


@dataclass(frozen=True)
class Process:
    """A unit process with one reference product (a positive exchange of that flow)."""

    name: str
    reference_product: str
    exchanges: tuple[Exchange, ...]
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "exchanges", tuple(self.exchanges))
        flows = [e.flow for e in self.exchanges]
        dup = sorted({f for f in flows if flows.count(f) > 1})
        if dup:
            raise LcaError(f"process {self.name!r}: each flow may appear once, found duplicates {dup}")
        if self.reference_product not in flows or self.reference.amount <= 0:
            raise LcaError(
                f"process {self.name!r}: expected a positive exchange of its reference product "
                f"{self.reference_product!r}, found {[(e.flow, e.amount) for e in self.exchanges]}"
            )
        for e in self.exchanges:
            if e.uncertainty is not None:
                e.uncertainty.check(e.amount, f"process {self.name!r}, flow {e.flow!r}")

    @property
    def reference(self) -> Exchange:
        return next(e for e in self.exchanges if e.flow == self.reference_product)


@dataclass(frozen=True, eq=False)
class LcaSystem:
    """A product system: processes, co-product properties for allocation and the elementary-flow catalogue.

    Parameters
    ----------
    processes : tuple of Process
        Every technosphere flow used must be the reference product of exactly one process (so that the
        technosphere matrix is square) or a co-product of some process.
    properties : mapping, optional
        ``{flow: {"mass": kg/unit, "energy": MJ/unit, "economic": price/unit}}`` of co-products, for
        partitioning.
    elementary_flows : mapping, optional
        Elementary flow -> unit (default :data:`ELEMENTARY_FLOWS`).

    Raises
    ------
    LcaError
        Duplicate process names or providers, unknown flows, unit mismatches.
    """

    processes: tuple[Process, ...]
    properties: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    elementary_flows: Mapping[str, str] = field(default_factory=lambda: ELEMENTARY_FLOWS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "processes", tuple(self.processes))
        names = [p.name for p in self.processes]
        if len(set(names)) != len(names):
            raise LcaError(f"process names must be unique, found duplicates {sorted({n for n in names if names.count(n) > 1})}")
        providers: dict[str, str] = {}
        units: dict[str, str] = {}
        for p in self.processes:
            ref = p.reference_product
            if ref in self.elementary_flows:
                raise LcaError(f"process {p.name!r}: reference product {ref!r} is an elementary flow")
            if ref in providers:
                raise LcaError(
                    f"flow {ref!r} is the reference product of both {providers[ref]!r} and {p.name!r}: each "
                    "technosphere flow needs exactly one provider (the technosphere matrix must be square); "
                    "model alternatives as a market process with shares"
                )
            providers[ref], units[ref] = p.name, p.reference.unit
        for p in self.processes:  # co-products: technosphere outputs besides the reference product
            for e in p.exchanges:
                if e.flow not in self.elementary_flows and e.flow not in units and e.amount > 0:
                    units[e.flow] = e.unit
        for p in self.processes:
            for e in p.exchanges:
                expected = self.elementary_flows.get(e.flow, units.get(e.flow))
                if expected is None:
                    raise LcaError(
                        f"process {p.name!r}: unknown flow {e.flow!r}; expected a technosphere flow "
                        f"{sorted(units)} or an elementary flow {sorted(self.elementary_flows)}"
                    )
                if e.unit != expected:
                    raise LcaError(f"process {p.name!r}, flow {e.flow!r}: unit {e.unit!r} does not match {expected!r}")
        object.__setattr__(self, "_providers", providers)
        object.__setattr__(self, "_units", units)

    @property
    def technosphere_units(self) -> dict[str, str]:
        """Technosphere flow -> unit (reference products and co-products)."""
        return dict(self._units)

    def process(self, name: str) -> Process:
        for p in self.processes:
            if p.name == name:
                return p
        raise LcaError(f"no process {name!r}; known: {[p.name for p in self.processes]}")

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping],
        *,
        properties: Mapping[str, Mapping[str, float]] | None = None,
        elementary_flows: Mapping[str, str] = ELEMENTARY_FLOWS,
    ) -> LcaSystem:
        """Build a system from plain dicts.

        Each record: ``{"name", "reference_product", "exchanges": [{"flow", "amount", "unit", and
        optionally "gsd2" or "distribution" + "low" + "high"}], "note"}``.

        Examples
        --------
        >>> sys_ = LcaSystem.from_records([
        ...     {"name": "grid", "reference_product": "electricity", "exchanges": [
        ...         {"flow": "electricity", "amount": 1.0, "unit": "kWh"},
        ...         {"flow": "co2_fossil", "amount": 0.5, "unit": "kg"}]}])
        >>> solve(sys_, {"electricity": 2.0}).impact("climate_change_gwp100")
        1.0
        """
        processes = []
        for r in records:
            ex = tuple(
                Exchange(e["flow"], float(e["amount"]), e["unit"], Uncertainty.from_mapping(e)) for e in r["exchanges"]
            )
            processes.append(Process(r["name"], r["reference_product"], ex, r.get("note", "")))
        return cls(tuple(processes), dict(properties or {}), elementary_flows)


# --------------------------------------------------------------------------- matrices


@dataclass(frozen=True, eq=False)
class _Structure:
    """Matrix layout after allocation: entries ``coef * amount[ex]`` at (row, col) of A or B."""

    columns: tuple[str, ...]
    products: tuple[str, ...]  # row r of A is the flow provided by column r
    units: tuple[str, ...]
    flows: tuple[str, ...]  # rows of B
    exchanges: tuple[Exchange, ...]
    a: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # rows, cols, coef, exchange index
    b: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    factors: pd.DataFrame  # process, product, allocation, factor

    def matrices(self, amounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A (n, m, m) and B (n, k, m) for ``amounts`` of shape (n, number of exchanges)."""
        n, m = amounts.shape[0], len(self.columns)
        out = []
        for (rows, cols, coef, idx), nrows in ((self.a, m), (self.b, len(self.flows))):
            mat = np.zeros((n, nrows, m))
            np.add.at(mat, (slice(None), rows, cols), coef * amounts[:, idx])
            out.append(mat)
        return out[0], out[1]


def _structure(system: LcaSystem, allocation: str) -> _Structure:
    if allocation not in ALLOCATION_MODES:
        raise ValueError(f"unknown allocation {allocation!r}; valid modes: {ALLOCATION_MODES}")
    elem, providers = system.elementary_flows, system._providers
    exchanges: list[Exchange] = []
    columns: list[tuple[str, str, list[tuple[str, float, int]]]] = []  # (label, product, [(flow, coef, ex)])
    factors = []
    for p in system.processes:
        ids = {e.flow: len(exchanges) + i for i, e in enumerate(p.exchanges)}
        exchanges.extend(p.exchanges)
        outputs = [p.reference] + [
            e for e in p.exchanges if e.flow != p.reference_product and e.flow not in elem and e.amount > 0
        ]
        if len(outputs) == 1 or allocation == "system_expansion":
            columns.append((p.name, p.reference_product, [(e.flow, 1.0, ids[e.flow]) for e in p.exchanges]))
            continue
        weights = []
        for e in outputs:
            props = system.properties.get(e.flow, {})
            if allocation not in props:
                raise LcaError(
                    f"{allocation} allocation of process {p.name!r} needs the {allocation!r} property of co-product "
                    f"{e.flow!r} (per {e.unit}) in LcaSystem.properties; found {dict(props)}"
                )
            weights.append(float(props[allocation]) * e.amount)
        total = sum(weights)
        if not total > 0:
            raise LcaError(f"{allocation} allocation of process {p.name!r}: the co-products' {allocation} sums to {total}")
        others = [e for e in p.exchanges if e not in outputs]
        for e, w in zip(outputs, weights):
            factors.append((p.name, e.flow, allocation, w / total))
            if e is not p.reference and e.flow in providers:
                continue  # this share leaves the system with the co-product; its flow has its own provider
            label = p.name if e is p.reference else f"{p.name} [{e.flow}]"
            entries = [(e.flow, 1.0, ids[e.flow])] + [(x.flow, w / total, ids[x.flow]) for x in others]
            columns.append((label, e.flow, entries))
    products = [c[1] for c in columns]
    dup = sorted({f for f in products if products.count(f) > 1})
    if dup:
        raise LcaError(f"flows {dup} are provided by several columns after {allocation} allocation; the matrix is not square")
    row = {f: i for i, f in enumerate(products)}
    flows = tuple(elem)
    erow = {f: i for i, f in enumerate(flows)}
    a, b = [], []
    for j, (label, _, entries) in enumerate(columns):
        for flow, coef, k in entries:
            if flow in erow:
                b.append((erow[flow], j, coef, k))
            elif flow in row:
                a.append((row[flow], j, coef, k))
            else:
                raise LcaError(
                    f"co-product {flow!r} of process {label!r} has no provider: system expansion needs a "
                    f"substitution process whose reference product is {flow!r} (its production is avoided), "
                    "or use allocation 'mass', 'energy' or 'economic'"
                )

    def arrays(entries):
        r, c, coef, k = zip(*entries) if entries else ((), (), (), ())
        return np.array(r, int), np.array(c, int), np.array(coef, float), np.array(k, int)

    units = system._units
    return _Structure(
        columns=tuple(c[0] for c in columns),
        products=tuple(products),
        units=tuple(units[f] for f in products),
        flows=flows,
        exchanges=tuple(exchanges),
        a=arrays(a),
        b=arrays(b),
        factors=pd.DataFrame(factors, columns=["process", "product", "allocation", "factor"]),
    )


def characterisation_matrix(
    gwp: Mapping[str, float] | None = None, elementary_flows: Mapping[str, str] = ELEMENTARY_FLOWS
) -> pd.DataFrame:
    """C (impact categories x elementary flows) for a GWP100 mapping (default :data:`GWP100_AR6`).

    The mapping must cover every greenhouse-gas flow of :data:`GWP100_AR6` that is in ``elementary_flows``
    (so that a gas is never silently counted as 0); keys must be elementary flows.
    """
    gwp = GWP100_AR6 if gwp is None else gwp
    unknown = sorted(set(gwp) - set(elementary_flows))
    if unknown:
        raise LcaError(f"GWP mapping has unknown elementary flows {unknown}; expected some of {sorted(elementary_flows)}")
    missing = sorted(f for f in GWP100_AR6 if f in elementary_flows and f not in gwp)
    if missing:
        raise LcaError(f"GWP mapping lacks the greenhouse gases {missing} (give 0 explicitly to exclude one)")
    c = pd.DataFrame(0.0, index=pd.Index(list(IMPACT_CATEGORIES), name="category"), columns=list(elementary_flows))
    for flow, value in gwp.items():
        c.loc["climate_change_gwp100", flow] = float(value)
    for cat, flow in _INDICATOR_FLOW.items():
        if flow in c.columns:
            c.loc[cat, flow] = 1.0
    return c


def _demand_vector(st: _Structure, demand: Mapping[str, float]) -> np.ndarray:
    if not demand:
        raise LcaError("demand is empty; expected {flow: amount}")
    f = np.zeros(len(st.products))
    for flow, amount in demand.items():
        if flow not in st.products:
            raise LcaError(f"demand for unknown flow {flow!r}; the system provides {sorted(st.products)}")
        f[st.products.index(flow)] = float(amount)
    return f


def _solve_batch(a: np.ndarray, f: np.ndarray, st: _Structure) -> np.ndarray:
    """Scaling vectors (n, m) of the stacked technosphere matrices ``a`` (n, m, m)."""
    try:
        s = np.linalg.solve(a, np.broadcast_to(f, a.shape[:2])[..., None])[..., 0]
    except np.linalg.LinAlgError:
        s = np.full(a.shape[:2], np.nan)
    if not np.all(np.isfinite(s)):
        zero = [st.columns[j] for j in range(a.shape[2]) if np.all(a[0, :, j] == 0)]
        raise LcaError(
            f"the technosphere matrix is singular (processes with an all-zero column: {zero}); expected every "
            "process to have a net output of its reference product"
        )
    return s


def _check_condition(a: np.ndarray, st: _Structure) -> None:
    cond = np.linalg.cond(a)
    if not np.isfinite(cond) or cond > 1e12:
        zero = [st.columns[j] for j in range(a.shape[1]) if np.all(a[:, j] == 0)]
        raise LcaError(
            f"the technosphere matrix is singular or ill-conditioned (condition number {cond:.3g}; all-zero "
            f"columns: {zero}); expected each process to have a net output of its reference product"
        )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class LcaResult:
    """Result of :func:`solve` (all tables are pandas DataFrames).

    Attributes
    ----------
    technosphere, intervention, characterisation : DataFrame
        A (flows x processes), B (elementary flows x processes), C (categories x elementary flows).
    scaling : DataFrame
        ``process, reference_product, unit, scaling`` (s = A^-1 f).
    inventory : DataFrame
        ``flow, unit, amount`` (g = B s).
    impacts : DataFrame
        ``category, unit, value`` (h = C g).
    contributions : DataFrame
        ``process, category, unit, value, share``: (C B)_kj s_j and its share of the category total.
    allocation_factors : DataFrame
        ``process, product, allocation, factor`` of partitioned processes (empty otherwise).
    """

    demand: Mapping[str, float]
    allocation: str
    technosphere: pd.DataFrame
    intervention: pd.DataFrame
    characterisation: pd.DataFrame
    scaling: pd.DataFrame
    inventory: pd.DataFrame
    impacts: pd.DataFrame
    contributions: pd.DataFrame
    allocation_factors: pd.DataFrame

    def impact(self, category: str) -> float:
        """Value of one impact category."""
        hit = self.impacts.loc[self.impacts["category"] == category, "value"]
        if hit.empty:
            raise LcaError(f"unknown impact category {category!r}; expected one of {list(IMPACT_CATEGORIES)}")
        return float(hit.iloc[0])

    def flow(self, name: str) -> float:
        """Inventory amount of one elementary flow."""
        hit = self.inventory.loc[self.inventory["flow"] == name, "amount"]
        if hit.empty:
            raise LcaError(f"unknown elementary flow {name!r}; expected one of {list(self.inventory['flow'])}")
        return float(hit.iloc[0])


@dataclass(frozen=True, eq=False)
class MonteCarloResult:
    """Result of :func:`monte_carlo`.

    Attributes
    ----------
    summary : DataFrame
        ``category, unit, deterministic, mean, median, std, p2_5, p97_5`` (95 % interval = [p2_5, p97_5]).
    samples : DataFrame
        One row per sample, one column per impact category.
    """

    summary: pd.DataFrame
    samples: pd.DataFrame
    n: int
    seed: int
    allocation: str


# --------------------------------------------------------------------------- solving


def solve(
    system: LcaSystem,
    demand: Mapping[str, float],
    *,
    allocation: Allocation = "system_expansion",
    gwp: Mapping[str, float] | None = None,
) -> LcaResult:
    """Deterministic LCA: s = A^-1 f, g = B s, h = C g, and the contribution of every process.

    Parameters
    ----------
    system : LcaSystem
    demand : dict
        Final demand ``{technosphere flow: amount}`` in the flows' units.
    allocation : {"mass", "energy", "economic", "system_expansion"}
        How multi-output processes are resolved (see module docstring).
    gwp : mapping, optional
        GWP100 per greenhouse-gas flow (default :data:`GWP100_AR6`).

    Raises
    ------
    ValueError
        Unknown allocation mode (the message lists the valid ones).
    LcaError
        Unknown demanded flow, missing co-product property or provider, singular technosphere matrix.
    """
    st = _structure(system, allocation)
    f = _demand_vector(st, demand)
    c = characterisation_matrix(gwp, system.elementary_flows)
    x = np.array([[e.amount for e in st.exchanges]])
    a3, b3 = st.matrices(x)
    a, b = a3[0], b3[0]
    _check_condition(a, st)
    s = _solve_batch(a3, f, st)[0]
    g = b @ s
    cm = c.to_numpy()
    h = cm @ g
    contrib = (cm @ b) * s  # categories x processes
    cats = list(c.index)
    cat_units = [IMPACT_CATEGORIES[k] for k in cats]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(h[:, None] != 0, contrib / h[:, None], np.nan)
    contributions = pd.DataFrame(
        {
            "process": np.tile(st.columns, len(cats)),
            "category": np.repeat(cats, len(st.columns)),
            "unit": np.repeat(cat_units, len(st.columns)),
            "value": contrib.ravel(),
            "share": share.ravel(),
        }
    )
    return LcaResult(
        demand=dict(demand),
        allocation=allocation,
        technosphere=pd.DataFrame(a, index=pd.Index(st.products, name="flow"), columns=st.columns),
        intervention=pd.DataFrame(b, index=pd.Index(st.flows, name="flow"), columns=st.columns),
        characterisation=c,
        scaling=pd.DataFrame({"process": st.columns, "reference_product": st.products, "unit": st.units, "scaling": s}),
        inventory=pd.DataFrame({"flow": st.flows, "unit": [system.elementary_flows[f] for f in st.flows], "amount": g}),
        impacts=pd.DataFrame({"category": cats, "unit": cat_units, "value": h}),
        contributions=contributions,
        allocation_factors=st.factors,
    )


def monte_carlo(
    system: LcaSystem,
    demand: Mapping[str, float],
    n: int = 1000,
    seed: int = 0,
    *,
    allocation: Allocation = "system_expansion",
    gwp: Mapping[str, float] | None = None,
    chunk: int = 2000,
) -> MonteCarloResult:
    """Monte Carlo propagation of exchange uncertainties to the impact categories.

    All uncertain exchanges are drawn at once (``n`` x exchanges, independent draws, in the order of the
    processes and their exchanges, from ``numpy.random.default_rng(seed)``), the ``n`` technosphere
    matrices are solved in batches of ``chunk`` by one stacked ``numpy.linalg.solve``. Exchanges without
    uncertainty keep their amount, so a system without uncertainty reproduces :func:`solve` exactly.

    Returns
    -------
    MonteCarloResult
        Per category: deterministic value, mean, median, std (ddof 1), 2.5 and 97.5 % percentiles.
    """
    if n < 2:
        raise LcaError(f"monte_carlo needs n >= 2 samples, got {n}")
    det = solve(system, demand, allocation=allocation, gwp=gwp)
    st = _structure(system, allocation)
    f = _demand_vector(st, demand)
    cm = characterisation_matrix(gwp, system.elementary_flows).to_numpy()
    rng = np.random.default_rng(seed)
    x = np.empty((n, len(st.exchanges)))
    for k, e in enumerate(st.exchanges):
        x[:, k] = e.amount if e.uncertainty is None else e.uncertainty.sample(e.amount, rng, n)
    h = np.empty((n, cm.shape[0]))
    for lo in range(0, n, chunk):
        a, b = st.matrices(x[lo : lo + chunk])
        s = _solve_batch(a, f, st)
        h[lo : lo + chunk] = np.einsum("kf,nfm,nm->nk", cm, b, s)
    cats = list(IMPACT_CATEGORIES)
    samples = pd.DataFrame(h, columns=cats)
    summary = pd.DataFrame(
        {
            "category": cats,
            "unit": [IMPACT_CATEGORIES[k] for k in cats],
            "deterministic": [det.impact(k) for k in cats],
            "mean": h.mean(axis=0),
            "median": np.median(h, axis=0),
            "std": h.std(axis=0, ddof=1),
            "p2_5": np.percentile(h, 2.5, axis=0),
            "p97_5": np.percentile(h, 97.5, axis=0),
        }
    )
    return MonteCarloResult(summary=summary, samples=samples, n=n, seed=seed, allocation=allocation)
