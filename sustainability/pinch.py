"""Heat integration targets by pinch analysis (problem table algorithm).

Given the process streams that must be heated (cold) or cooled (hot) and a
minimum approach temperature ΔTmin, :func:`pinch_analysis` returns the
minimum hot and cold utility, the pinch, the problem table, the hot and cold
composite curves and the grand composite curve. :func:`utility_savings`
compares the targets with a plant's current utility use, and
:func:`plant_heat_streams` extracts the stream data of a Nexus plant twin
from its design steady state.

Method (Linnhoff & Flower 1978; Kemp 2007, Ch. 2 and App. 3.9):

1. Shift hot-stream temperatures down and cold-stream temperatures up by
   ΔTmin/2, so that any two streams at the same shifted temperature are
   ΔTmin apart in real temperature.
2. Cut the shifted temperature range at every stream supply/target
   temperature (streams that share a boundary share the cut).
3. In each interval, surplus = (ΣCP_hot - ΣCP_cold) × ΔT.
4. Cascade the surpluses downwards from zero; the most negative cascade value
   is the minimum hot utility QH,min. Adding it gives the feasible cascade,
   whose bottom value is QC,min and whose zeros are the pinch.
5. If QH,min or QC,min is zero the problem is a *threshold problem*: it has no
   pinch (``pinch_shifted_c`` is None) and only one utility.

Assumptions: constant CP per stream (split a stream into several
:class:`Stream` segments for a varying CP); isothermal duties (condensing,
boiling, reaction heat) are represented with a small temperature span
(:data:`ISOTHERMAL_SPAN_K`); a single ΔTmin for all matches; a single hot and
a single cold utility level.

References
----------
[LF1978]
    B. Linnhoff, J. R. Flower, "Synthesis of heat exchanger networks: I.
    Systematic generation of energy optimal networks", AIChE J. 24 (1978)
    633-642.
[Kemp2007]
    I. C. Kemp, *Pinch Analysis and Process Integration: A User Guide on
    Process Integration for the Efficient Use of Energy*, 2nd ed.,
    Butterworth-Heinemann, 2007: problem table algorithm (Ch. 2 and appendix
    3.9), threshold problems, grand composite curve.
[Smith2005]
    R. Smith, *Chemical Process Design and Integration*, Wiley, 2005, Ch. 16.

Examples
--------
The four-stream problem of [Kemp2007] (p. 4), ΔTmin = 10 K:

>>> streams = [
...     Stream("cold 1", 20, 135, 2.0), Stream("hot 1", 170, 60, 3.0),
...     Stream("cold 2", 80, 140, 4.0), Stream("hot 2", 150, 30, 1.5),
... ]
>>> r = pinch_analysis(streams, dt_min=10)
>>> r.hot_utility_kw, r.cold_utility_kw, r.pinch_shifted_c, r.pinch_hot_c, r.pinch_cold_c
(20.0, 60.0, 85.0, 90.0, 80.0)
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "ISOTHERMAL_SPAN_K",
    "PLANTS",
    "Curve",
    "PinchResult",
    "Stream",
    "UtilitySavings",
    "composite_curves_figure",
    "grand_composite_figure",
    "pinch_analysis",
    "plant_heat_streams",
    "stream_table",
    "utility_savings",
]

#: Temperature span (K) used for duties at (nearly) constant temperature:
#: condensation, boiling, heat of reaction removed at the reactor temperature.
ISOTHERMAL_SPAN_K = 1.0

#: Plants whose stream data :func:`plant_heat_streams` can extract.
PLANTS: tuple[str, ...] = ("biorefinery",)

_DECIMALS = 9  # temperatures are compared after rounding to 1e-9 K


@dataclass(frozen=True)
class Stream:
    """A process stream to be heated or cooled, with constant heat-capacity flowrate.

    Parameters
    ----------
    name : str
        Unique, non-empty name.
    supply_c, target_c : float
        Supply and target temperature, °C. The stream is *hot* (needs cooling)
        if ``supply_c > target_c``, *cold* (needs heating) otherwise.
    cp_kw_k : float, optional
        Heat-capacity flowrate CP = m·cp, kW/K, > 0.
    duty_kw : float, optional, keyword-only
        Heat load, kW, > 0 — the alternative to ``cp_kw_k`` (give exactly one);
        CP = duty / |target - supply|. After construction both are set.
    note : str, optional, keyword-only
        Where the data come from (shown in :func:`stream_table`).

    Raises
    ------
    ValueError
        Naming the stream and what is wrong: empty name, non-finite or equal
        temperatures, CP or duty missing, both given, zero or negative.
    """

    name: str
    supply_c: float
    target_c: float
    cp_kw_k: float | None = None
    duty_kw: float | None = field(default=None, kw_only=True)
    note: str = field(default="", kw_only=True, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"stream name must be a non-empty string, got {self.name!r}")
        who = f"stream {self.name!r}"
        for label, t in (("supply", self.supply_c), ("target", self.target_c)):
            if not isinstance(t, numbers.Real) or not math.isfinite(t):
                raise ValueError(f"{who}: {label} temperature must be a finite number of °C, got {t!r}")
        span = abs(self.target_c - self.supply_c)
        if span == 0:
            raise ValueError(
                f"{who}: supply and target temperature are equal ({self.supply_c} °C); a stream must change "
                f"temperature (give an isothermal duty a small span, e.g. {ISOTHERMAL_SPAN_K} K)"
            )
        if (self.cp_kw_k is None) == (self.duty_kw is None):
            raise ValueError(f"{who}: give exactly one of cp_kw_k (kW/K) and duty_kw (kW)")
        label, value = ("CP", self.cp_kw_k) if self.cp_kw_k is not None else ("duty", self.duty_kw)
        unit = "kW/K" if label == "CP" else "kW"
        if not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{who}: {label} must be a finite number > 0 {unit}, got {value!r}")
        if self.cp_kw_k is None:
            object.__setattr__(self, "cp_kw_k", float(self.duty_kw) / span)
        else:
            object.__setattr__(self, "duty_kw", float(self.cp_kw_k) * span)

    @property
    def is_hot(self) -> bool:
        """True if the stream must be cooled (supply hotter than target)."""
        return self.supply_c > self.target_c

    def shifted(self, dt_min: float) -> tuple[float, float]:
        """(supply, target) shifted temperatures, °C: hot - ΔTmin/2, cold + ΔTmin/2."""
        d = -dt_min / 2 if self.is_hot else dt_min / 2
        return self.supply_c + d, self.target_c + d


@dataclass(frozen=True, eq=False)
class Curve:
    """A piecewise-linear T-H curve: ``temperature_c[i]`` at cumulative ``heat_kw[i]``."""

    temperature_c: np.ndarray
    heat_kw: np.ndarray


@dataclass(frozen=True, eq=False)
class PinchResult:
    """Targets and curves of a pinch analysis (see :func:`pinch_analysis`).

    Attributes
    ----------
    streams : tuple of Stream
    dt_min_k : float
        Minimum approach temperature used, K.
    hot_utility_kw, cold_utility_kw : float
        Minimum hot and cold utility QH,min and QC,min, kW.
    hot_duty_kw, cold_duty_kw : float
        Total duty of the hot streams (to be cooled) and the cold streams, kW.
    heat_recovery_kw : float
        Maximum process-to-process heat recovery, kW (= hot duty - QC,min).
    pinch_shifted_c : float or None
        Pinch in shifted temperature, °C (the highest one if there are
        several); None for a threshold problem.
    pinch_hot_c, pinch_cold_c : float or None
        Real temperatures of the hot and cold streams at the pinch, °C
        (shifted ± ΔTmin/2).
    pinches_shifted_c : tuple of float
        All shifted temperatures where the feasible cascade is zero.
    threshold : bool
        True if only one (or no) utility is needed: no pinch.
    summary : str
        One sentence saying what was found (threshold problems say so).
    problem_table : DataFrame
        One row per shifted temperature interval, from the top: ``t_high_shifted_c``,
        ``t_low_shifted_c``, ``hot_streams``, ``cold_streams`` (names present),
        ``cp_hot_kw_k``, ``cp_cold_kw_k``, ``cp_net_kw_k``, ``surplus_kw``
        (> 0 = heat surplus), ``cascade_kw`` (heat flowing out of the interval
        with zero hot utility) and ``heat_flow_kw`` (the same with QH,min added).
    hot_composite, cold_composite : Curve
        Real temperature vs cumulative heat. The hot composite starts at 0 kW at
        its coldest point; the cold composite starts at QC,min, so that the
        overlap is the heat recovery and the overhangs are QC,min (bottom) and
        QH,min (top). Empty curves if there are no hot (cold) streams.
    grand_composite : Curve
        Shifted temperature (from the top) vs net heat flow of the feasible
        cascade: QH,min at the top, QC,min at the bottom, 0 at the pinch.
    """

    streams: tuple[Stream, ...]
    dt_min_k: float
    hot_utility_kw: float
    cold_utility_kw: float
    hot_duty_kw: float
    cold_duty_kw: float
    heat_recovery_kw: float
    pinch_shifted_c: float | None
    pinch_hot_c: float | None
    pinch_cold_c: float | None
    pinches_shifted_c: tuple[float, ...]
    threshold: bool
    summary: str
    problem_table: pd.DataFrame
    hot_composite: Curve
    cold_composite: Curve
    grand_composite: Curve


def _check_streams(streams: Sequence[Stream]) -> tuple[Stream, ...]:
    streams = tuple(streams)
    if not streams:
        raise ValueError("no streams: pinch analysis needs at least one hot or cold stream")
    for s in streams:
        if not isinstance(s, Stream):
            raise TypeError(f"expected Stream objects, got {type(s).__name__}: {s!r}")
    names = [s.name for s in streams]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"stream names must be unique; repeated: {dup}")
    return streams


def _composite(streams: list[Stream], offset_kw: float) -> Curve:
    """Composite T-H curve of ``streams`` (real temperatures), starting at ``offset_kw``."""
    if not streams:
        return Curve(np.empty(0), np.empty(0))
    lo = np.round([min(s.supply_c, s.target_c) for s in streams], _DECIMALS)
    hi = np.round([max(s.supply_c, s.target_c) for s in streams], _DECIMALS)
    cp = np.array([s.cp_kw_k for s in streams])
    t = np.unique(np.concatenate([lo, hi]))  # ascending
    cp_sum = [cp[(lo <= a) & (hi >= b)].sum() for a, b in itertools.pairwise(t)]
    h = offset_kw + np.concatenate([[0.0], np.cumsum(np.asarray(cp_sum) * np.diff(t))])
    return Curve(t, h)


def pinch_analysis(streams: Sequence[Stream], dt_min: float) -> PinchResult:
    """Minimum utility targets, pinch and curves by the problem table algorithm.

    Parameters
    ----------
    streams : sequence of Stream
        At least one stream; names unique.
    dt_min : float
        Minimum approach temperature ΔTmin, K, >= 0.

    Returns
    -------
    PinchResult

    Raises
    ------
    ValueError
        No streams, repeated names, or ΔTmin negative or not finite.
    TypeError
        An item of ``streams`` is not a :class:`Stream`.

    Notes
    -----
    Energy balance: QH,min - QC,min = cold duty - hot duty exactly (the sum of
    the interval surpluses is hot duty - cold duty). See the module docstring
    for the method and [Kemp2007] for the definitions.
    """
    streams = _check_streams(streams)
    if not isinstance(dt_min, numbers.Real) or not math.isfinite(dt_min) or dt_min < 0:
        raise ValueError(f"dt_min must be a finite number >= 0 K, got {dt_min!r}")
    dt_min = float(dt_min)

    shifted = np.round([s.shifted(dt_min) for s in streams], _DECIMALS)
    lo, hi = shifted.min(axis=1), shifted.max(axis=1)
    hot = np.array([s.is_hot for s in streams])
    cp = np.array([s.cp_kw_k for s in streams])
    bounds = np.unique(shifted)[::-1]  # shifted interval boundaries, from the top

    rows = []
    for t_high, t_low in itertools.pairwise(bounds):
        present = (lo <= t_low) & (hi >= t_high)
        cp_hot, cp_cold = cp[present & hot].sum(), cp[present & ~hot].sum()
        rows.append({
            "t_high_shifted_c": t_high,
            "t_low_shifted_c": t_low,
            "hot_streams": ", ".join(s.name for s, p, h in zip(streams, present, hot) if p and h),
            "cold_streams": ", ".join(s.name for s, p, h in zip(streams, present, hot) if p and not h),
            "cp_hot_kw_k": cp_hot,
            "cp_cold_kw_k": cp_cold,
            "cp_net_kw_k": cp_hot - cp_cold,
            "surplus_kw": (cp_hot - cp_cold) * (t_high - t_low),
        })
    table = pd.DataFrame(rows, columns=[
        "t_high_shifted_c", "t_low_shifted_c", "hot_streams", "cold_streams",
        "cp_hot_kw_k", "cp_cold_kw_k", "cp_net_kw_k", "surplus_kw",
    ])
    cascade = np.concatenate([[0.0], np.cumsum(table["surplus_kw"].to_numpy(dtype=float))])
    q_hot = max(0.0, -float(cascade.min()))
    flow = cascade + q_hot  # feasible cascade at each boundary, from the top
    q_cold = float(flow[-1])
    table["cascade_kw"] = cascade[1:]
    table["heat_flow_kw"] = flow[1:]

    hot_duty = float(sum(s.duty_kw for s in streams if s.is_hot))
    cold_duty = float(sum(s.duty_kw for s in streams if not s.is_hot))
    tol = 1e-9 * max(1.0, hot_duty + cold_duty)
    q_hot = 0.0 if q_hot <= tol else q_hot
    q_cold = 0.0 if q_cold <= tol else q_cold
    threshold = q_hot == 0.0 or q_cold == 0.0
    pinches = () if threshold else tuple(float(t) for t, f in zip(bounds, flow) if abs(f) <= tol)
    pinch = pinches[0] if pinches else None

    if pinch is not None:
        summary = (
            f"Pinch at {pinch:g} °C shifted ({pinch + dt_min / 2:g} °C hot side, {pinch - dt_min / 2:g} °C cold side); "
            f"QH,min = {q_hot:.6g} kW, QC,min = {q_cold:.6g} kW at ΔTmin = {dt_min:g} K"
        )
        if len(pinches) > 1:
            summary += f"; {len(pinches)} pinches at {', '.join(f'{p:g}' for p in pinches)} °C shifted"
    else:
        needed = "no utility" if q_hot == q_cold == 0.0 else "only cold utility" if q_hot == 0.0 else "only hot utility"
        summary = (
            f"Threshold problem at ΔTmin = {dt_min:g} K: {needed} is needed (QH,min = {q_hot:.6g} kW, "
            f"QC,min = {q_cold:.6g} kW), so there is no pinch"
        )

    return PinchResult(
        streams=streams,
        dt_min_k=dt_min,
        hot_utility_kw=q_hot,
        cold_utility_kw=q_cold,
        hot_duty_kw=hot_duty,
        cold_duty_kw=cold_duty,
        heat_recovery_kw=hot_duty - q_cold,
        pinch_shifted_c=pinch,
        pinch_hot_c=None if pinch is None else round(pinch + dt_min / 2, _DECIMALS),
        pinch_cold_c=None if pinch is None else round(pinch - dt_min / 2, _DECIMALS),
        pinches_shifted_c=pinches,
        threshold=threshold,
        summary=summary,
        problem_table=table,
        hot_composite=_composite([s for s in streams if s.is_hot], 0.0),
        cold_composite=_composite([s for s in streams if not s.is_hot], q_cold),
        grand_composite=Curve(bounds.astype(float), flow),
    )


def stream_table(streams: Sequence[Stream]) -> pd.DataFrame:
    """The stream data as a table (one row per stream, units in the column names)."""
    return pd.DataFrame(
        [
            {
                "stream": s.name,
                "kind": "hot" if s.is_hot else "cold",
                "supply_c": s.supply_c,
                "target_c": s.target_c,
                "cp_kw_k": s.cp_kw_k,
                "duty_kw": s.duty_kw,
                "note": s.note,
            }
            for s in streams
        ],
        columns=["stream", "kind", "supply_c", "target_c", "cp_kw_k", "duty_kw", "note"],
    )


# --------------------------------------------------------------------------
# Targets against current use
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class UtilitySavings:
    """Minimum utility (pinch targets) against the plant's current use, kW and %.

    ``balance_gap_kw`` = (current hot - current cold) - (QH,min - QC,min):
    zero when the current figures close the energy balance of the same stream
    data; a non-zero gap means they describe a different set of streams.
    """

    current_hot_kw: float
    current_cold_kw: float
    min_hot_kw: float
    min_cold_kw: float
    hot_saving_kw: float
    cold_saving_kw: float
    hot_saving_pct: float
    cold_saving_pct: float
    balance_gap_kw: float


def utility_savings(result: PinchResult, current_hot_kw: float, current_cold_kw: float) -> UtilitySavings:
    """Saving of hot and cold utility if the pinch targets of ``result`` were reached.

    Parameters
    ----------
    result : PinchResult
    current_hot_kw, current_cold_kw : float
        Hot utility (steam, fired heat) and cold utility (cooling water,
        refrigeration) the plant uses today on the same streams, kW, >= 0.

    Returns
    -------
    UtilitySavings
        Savings in kW and in % of the current use (0 % when the current use
        is 0). A negative saving means the plant uses less than the target at
        this ΔTmin: its exchangers already work with approaches below ΔTmin
        (try a smaller ΔTmin), or the current figures do not belong to these
        streams (see ``balance_gap_kw``).

    Raises
    ------
    ValueError
        Negative or non-finite current use.
    """
    out = {}
    for label, current, minimum in (
        ("hot", current_hot_kw, result.hot_utility_kw),
        ("cold", current_cold_kw, result.cold_utility_kw),
    ):
        if not isinstance(current, numbers.Real) or not math.isfinite(current) or current < 0:
            raise ValueError(f"current {label} utility must be a finite number >= 0 kW, got {current!r}")
        saving = float(current) - minimum
        out[label] = (float(current), saving, 100.0 * saving / current if current > 0 else 0.0)
    return UtilitySavings(
        current_hot_kw=out["hot"][0],
        current_cold_kw=out["cold"][0],
        min_hot_kw=result.hot_utility_kw,
        min_cold_kw=result.cold_utility_kw,
        hot_saving_kw=out["hot"][1],
        cold_saving_kw=out["cold"][1],
        hot_saving_pct=out["hot"][2],
        cold_saving_pct=out["cold"][2],
        balance_gap_kw=(out["hot"][0] - out["cold"][0]) - (result.hot_utility_kw - result.cold_utility_kw),
    )


# --------------------------------------------------------------------------
# Figures (plotly; nothing is written to disk)
# --------------------------------------------------------------------------


def composite_curves_figure(result: PinchResult) -> go.Figure:
    """Hot and cold composite curves (real temperature vs heat flow) with the targets and the pinch."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for curve, name, color in (
        (result.hot_composite, "Hot composite", "#d62728"),
        (result.cold_composite, "Cold composite", "#1f77b4"),
    ):
        if curve.heat_kw.size:
            fig.add_trace(go.Scatter(x=curve.heat_kw, y=curve.temperature_c, mode="lines+markers", name=name,
                                     line={"color": color}, hovertemplate="%{x:.4g} kW, %{y:.4g} °C"))
    if result.pinch_hot_c is not None:
        for t, side in ((result.pinch_hot_c, "hot"), (result.pinch_cold_c, "cold")):
            fig.add_hline(y=t, line_dash="dot", line_color="grey", annotation_text=f"pinch, {side} side {t:g} °C")
    fig.update_layout(
        title=(f"Composite curves, ΔTmin = {result.dt_min_k:g} K: QH,min = {result.hot_utility_kw:.4g} kW, "
               f"QC,min = {result.cold_utility_kw:.4g} kW, recovery = {result.heat_recovery_kw:.4g} kW"),
        xaxis_title="Heat flow (kW)",
        yaxis_title="Temperature (°C)",
        template="plotly_white",
    )
    return fig


def grand_composite_figure(result: PinchResult) -> go.Figure:
    """Grand composite curve (shifted temperature vs net heat flow) with QH,min, QC,min and the pinch."""
    import plotly.graph_objects as go

    g = result.grand_composite
    fig = go.Figure(go.Scatter(x=g.heat_kw, y=g.temperature_c, mode="lines+markers", name="Grand composite",
                               line={"color": "black"}, hovertemplate="%{x:.4g} kW, %{y:.4g} °C shifted"))
    fig.add_annotation(x=g.heat_kw[0], y=g.temperature_c[0], text=f"QH,min = {result.hot_utility_kw:.4g} kW",
                       showarrow=True, ax=40, ay=-25)
    fig.add_annotation(x=g.heat_kw[-1], y=g.temperature_c[-1], text=f"QC,min = {result.cold_utility_kw:.4g} kW",
                       showarrow=True, ax=40, ay=25)
    for p in result.pinches_shifted_c:
        fig.add_hline(y=p, line_dash="dot", line_color="grey", annotation_text=f"pinch {p:g} °C shifted")
    fig.update_layout(
        title=f"Grand composite curve, ΔTmin = {result.dt_min_k:g} K" + (" (threshold problem)" if result.threshold else ""),
        xaxis_title="Net heat flow (kW)",
        yaxis_title="Shifted temperature (°C)",
        template="plotly_white",
    )
    return fig


# --------------------------------------------------------------------------
# Plant stream data
# --------------------------------------------------------------------------


def plant_heat_streams(plant_id: str) -> tuple[list[Stream], dict[str, float]]:
    """Hot and cold process streams of a plant twin at its design steady state, and its current utility use.

    Parameters
    ----------
    plant_id : str
        One of :data:`PLANTS`. The ``cstr`` twin is not supported: it is a
        single jacketed reactor whose only duty is the jacket cooling, so it
        has no heat to recover (a trivial threshold problem), and the heating
        of its 350 K feed is outside the model.

    Returns
    -------
    (list of Stream, dict)
        The streams (each with a ``note`` naming its origin in the model) and
        the current utility use, kW: ``hot_utility_kw`` (heat from the steam
        system to these streams), ``cold_utility_kw`` (heat these streams
        reject to cooling water) and, for information only,
        ``turbine_condenser_kw`` (the power cycle's condenser: a utility-system
        duty, not a process stream, so not part of the targets).

    Raises
    ------
    ValueError
        Unknown ``plant_id`` (the message lists the supported ones).
    """
    if plant_id == "biorefinery":
        return _biorefinery_streams()
    raise ValueError(f"no heat-stream data for plant {plant_id!r}; supported: {list(PLANTS)}")


def _biorefinery_streams() -> tuple[list[Stream], dict[str, float]]:
    """Stream data of :mod:`models.biorefinery` (NREL 2011 corn-stover ethanol design case).

    Every duty is the one the model computes (``models._biorefinery_physics.back_end``
    and ``front_end``) at ``steady_state()`` with default parameters; temperatures
    are the model's parameters. Left out, with the reason:

    * feed presteaming to 100 °C by the recycled blowdown-flash vapour: already
      matched in the design and the model gives no heat balance for it;
    * boiler, deaerator, tracing and the turbine condenser: utility system;
    * wastewater treatment (digester at 35 °C): no duty in the model.
    """
    from models import _biorefinery_physics as phys  # physics constants of the twin
    from models.biorefinery import DEFAULT, steady_state

    p, r = DEFAULT, steady_state(params=DEFAULT)

    def f(key: str) -> float:
        return float(r[key])  # results are 0-d arrays

    cp_w = phys.CP_WATER
    span = ISOTHERMAL_SPAN_K

    # Pretreatment: the presteamed slurry (30 % solids) heated from presteam to reactor temperature by
    # direct 1.3 MPa steam injection (front_end step 1).
    cp_pt = p.pt_solids * p.cp_dry_solids + (1 - p.pt_solids) * cp_w
    q_pt = f("pt_slurry_kg_h") * cp_pt * (p.pt_temp_c - p.presteam_temp_c) / 3600.0

    # Hydrolysate cooler (back_end process cooling, first term): the flashed slurry at flash_temp_c, diluted
    # with process water at DILUTION_WATER_TEMP_C to eh_solids, cooled to eh_temp_c. Written as the mixture
    # cooled from its adiabatic mixing temperature, which gives exactly the model's duty.
    cp_slurry = p.eh_solids * p.cp_dry_solids + (1 - p.eh_solids) * cp_w  # the model's 20 %-solids cp
    c_slurry = (f("pt_slurry_kg_h") - f("flash_vapour_kg_h")) * cp_slurry / 3600.0  # kW/K
    c_water = f("eh_water_kg_h") * cp_w / 3600.0
    t_mix = (c_slurry * p.flash_temp_c + c_water * phys.DILUTION_WATER_TEMP_C) / (c_slurry + c_water)

    # Fermentation: the hydrolysate cooled from eh_temp_c to ferm_temp_c (back_end, second term) and the heat
    # of fermentation removed at ferm_temp_c (the BIO.QI401 tag of models.biorefinery): combustion enthalpies
    # glucose -2803, ethanol -1367 kJ/mol -> 69 kJ/mol glucose = 749 kJ/kg ethanol.
    q_ferm = f("beer_ethanol_kg_h") * (2803.0 - 2 * 1367.0) / (2 * phys.MW["ethanol"] / 1000.0) / 3600.0

    # Distillation (beer column with boil-up ratio control, rectifier/sieves; Distillation in the model).
    beer = f("dist_feed_kg_h")
    q_preheat = beer * cp_w * (p.beer_feed_temp_c - p.ferm_temp_c) / 3600.0
    q_sensible = beer * cp_w * (p.beer_bottoms_temp_c - p.beer_feed_temp_c) / 3600.0
    q_reboiler = f("reboiler_duty_kw")
    q_rectifier = f("rectifier_steam_kg_h") * (phys.H_EXTRACT_LP - phys.H_COND_LP) / 3600.0
    t_stillage_out = p.beer_bottoms_temp_c - q_preheat / (f("stillage_kg_h") * cp_w / 3600.0)
    t_condenser = 78.6  # rectifier overhead (~ethanol-water azeotrope at 1 atm; BIO.TI505 of the twin)

    streams = [
        Stream("pretreatment heating", p.presteam_temp_c, p.pt_temp_c, duty_kw=q_pt,
               note="slurry 30 % solids, presteamer -> reactor; now direct 1.3 MPa steam"),
        Stream("beer preheat", p.ferm_temp_c, p.beer_feed_temp_c, duty_kw=q_preheat,
               note="beer from fermentation to the column feed; now feed/bottoms exchanger"),
        Stream("beer column sensible heat", p.beer_feed_temp_c, p.beer_bottoms_temp_c, duty_kw=q_sensible,
               note="column feed to bottoms temperature; now reboiler (LP steam)"),
        Stream("beer column boil-up", p.beer_bottoms_temp_c, p.beer_bottoms_temp_c + span,
               duty_kw=q_reboiler - q_sensible, note="reboiler latent duty; now LP steam"),
        Stream("rectifier and sieve steam", p.beer_bottoms_temp_c, p.beer_bottoms_temp_c + span, duty_kw=q_rectifier,
               note="LP steam of rectifier/mol-sieve regeneration; level assumed = beer-column bottoms"),
        Stream("hydrolysate cooling", t_mix, p.eh_temp_c, duty_kw=(c_slurry + c_water) * (t_mix - p.eh_temp_c),
               note="flashed slurry + dilution water to hydrolysis; now cooling water"),
        Stream("fermenter feed cooling", p.eh_temp_c, p.ferm_temp_c,
               cp_kw_k=f("beer_kg_h") * cp_slurry / 3600.0, note="hydrolysate to fermentation; now cooling water"),
        Stream("fermentation heat", p.ferm_temp_c, p.ferm_temp_c - span, duty_kw=q_ferm,
               note="heat of fermentation at 32 °C; now cooling water"),
        Stream("stillage", p.beer_bottoms_temp_c, t_stillage_out, duty_kw=q_preheat,
               note="column bottoms; now heats the beer in the feed/bottoms exchanger"),
        Stream("rectifier condenser", t_condenser, t_condenser - span, duty_kw=q_reboiler + q_rectifier,
               note="all distillation heat to cooling water, as the model's cooling balance"),
    ]
    current = {
        "hot_utility_kw": q_pt + q_reboiler + q_rectifier,
        "cold_utility_kw": f("process_cooling_kw") + q_reboiler + q_rectifier + q_ferm,
        "turbine_condenser_kw": f("condenser_kw"),
    }
    return streams, current
