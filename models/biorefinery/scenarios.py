"""Biorefinery operating scenario: 25-day block plans, day plans, slow states (fouling, stover supplier, seasons) and episode details."""

from __future__ import annotations

import functools
import math

import numpy as np

from models import historian
from models.biorefinery.physics import BiorefineryParams, DEFAULT
from models.base import EPOCH, SENSOR_FAULT_LABELS
from models.engine import (
    DayContext, DayPacker, Item, Move, Piece, Timeline, TransientSpec, category_quotas, quota, transients,
)
from models.biorefinery.tags import PLANT_ID, TAGS

_EPOCH = EPOCH  # day numbers count UTC days from 1970-01-01
_DAY_H = 24


# --------------------------------------------------------------------------
# Operating scenario
# --------------------------------------------------------------------------

_BLOCK_DAYS = 25
_BLOCK_H = _BLOCK_DAYS * _DAY_H  # 600 h
_TRANSIENT_H, _ABNORMAL_H, _EXTREME_H = category_quotas(_BLOCK_H)  # 120, 48, 12
_START_GAP, _MIN_GAP, _END_GAP = 1, 1, 2  # h of steady operation around episodes
#: Transient durations, h: front-end shutdown + startup, set-point ramps and holds (one move per 9 h of budget).
_TRANSIENTS = TransientSpec(shutdown=(2, 4), startup=(3, 5), ramp=(2, 6), hold=(2, 6), per_move=9, concentration=3.0,
                            tries=200)
_CLEAN_DAYS = (19, 24)  # cleaning day within the block: [19, 24)
_STREAM_SCHEDULE, _STREAM_SUPPLIER, _STREAM_WIGGLE = 31, 32, 33

_ABNORMAL_LABELS = (
    "feed_disruption",
    "fermentation_contamination",
    "enzyme_dosing_failure",
    "fermenter_cooling_failure",
    "stuck_sensor",
    "spiking_sensor",
    "sensor_drift",
)
_ABNORMAL_WEIGHTS = (0.20, 0.15, 0.12, 0.12, 0.14, 0.14, 0.13)
_CHANGE_KINDS = ("rate_change", "severity_change", "enzyme_loading_change")
_RATE_TARGETS = (0.75, 0.85, 0.92, 1.05)  # fraction of design feed
_SEVERITY_TARGETS = (152.0, 155.0, 161.0, 163.0)  # degC
_ENZYME_TARGETS = (15.0, 17.5, 22.5, 25.0)  # mg/g


def _measured_tags() -> list[str]:
    return [t.tag for t in TAGS if t.measured]


@functools.lru_cache(maxsize=16)
def _block_plan(seed: int, block: int) -> tuple[tuple[Item, ...], ...]:
    """Episode plan of a 25-day block: per day, the items tiling its 24 hours.

    Exact quotas per block: 120 h transient, 48 h abnormal, 12 h extreme.
    Units (groups of items placed contiguously in one day) are assigned to
    days largest first; every day starts and ends with steady operation at
    the design set points.
    """
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_SCHEDULE, block)
    measured = _measured_tags()
    clean_h = int(rng.integers(4, 7))
    clean_day = int(rng.integers(*_CLEAN_DAYS))
    switch_h = int(rng.integers(3, 7))

    def move_args(rng: np.random.Generator) -> tuple[str, float]:
        kind = _CHANGE_KINDS[int(rng.integers(len(_CHANGE_KINDS)))]
        targets = {"rate_change": _RATE_TARGETS, "severity_change": _SEVERITY_TARGETS}.get(kind, _ENZYME_TARGETS)
        return kind, float(targets[int(rng.integers(len(targets)))])

    tr = transients(rng, _TRANSIENTS, _TRANSIENT_H - clean_h - switch_h, args=move_args, args_first=True)

    def move(mv: Move) -> list[Piece]:
        kind, target = mv.args
        return [
            Piece(kind, mv.out, {"target": target, "phase": 0.0}),
            Piece("steady", mv.hold, {"target": target, "phase": 1.0, "kind": kind}, "normal"),
            Piece(kind, mv.back, {"target": target, "phase": 2.0}),
        ]

    units = [[Piece("supplier_switch", switch_h)], *tr.units(move)]

    def abnormal(rng: np.random.Generator, d: int) -> Piece:
        label = _ABNORMAL_LABELS[int(rng.choice(len(_ABNORMAL_LABELS), p=_ABNORMAL_WEIGHTS))]
        args = {
            "tag": measured[int(rng.integers(len(measured)))],
            "feed_fraction": float(rng.uniform(0.3, 0.7)),
            "peak_loss": float(rng.uniform(0.10, 0.25)),
            "enzyme_fraction": float(rng.uniform(0.0, 0.5)),
            "temp_rise": float(rng.uniform(3.0, 7.0)),
        }
        return Piece(label, d, args, "abnormal")

    kw = dict(concentration=3.0, tries=200)
    units += [[pc] for _, pc in quota(rng, _ABNORMAL_H, (9, 13), (2, 6), abnormal, **kw)]
    units += [[Piece("boiler_trip", d, {}, "extreme")] for d, _ in quota(rng, _EXTREME_H, (2, 3), (3, 6), **kw)]

    # Assign units to days.
    days = DayPacker(_BLOCK_DAYS, _DAY_H, start_gap=_START_GAP, min_gap=_MIN_GAP, end_gap=_END_GAP)
    days.put(clean_day, [Piece("reboiler_cleaning", clean_h)])
    days.place(rng, units)

    def render(line: Timeline, unit: list[Piece]) -> None:
        for pc in unit:
            tag = pc.args.get("tag") if pc.label in SENSOR_FAULT_LABELS else None
            pairs = tuple(sorted((a, float(v)) for a, v in pc.args.items() if a not in ("tag", "kind")))
            if pc.label == "steady":
                pairs = (*pairs, ("kind", float(_CHANGE_KINDS.index(pc.args["kind"]))))
            line.add(pc.length, pc.category, pc.label, tag, pairs)

    return tuple(days.tile(rng, d, render) for d in range(_BLOCK_DAYS))


def _day_items(seed: int, day_no: int) -> tuple[Item, ...]:
    block = day_no // _BLOCK_DAYS
    return _block_plan(seed, block)[day_no - block * _BLOCK_DAYS]


@functools.lru_cache(maxsize=64)
def _block_events(seed: int, block: int, label: str) -> tuple[tuple[int, int], ...]:
    """(start, end) absolute hours of the episodes labelled ``label`` in a block."""
    out = []
    for i, items in enumerate(_block_plan(seed, block)):
        h0 = (block * _BLOCK_DAYS + i) * _DAY_H
        out.extend((h0 + it.start, h0 + it.end) for it in items if it.label == label)
    return tuple(out)


# --------------------------------------------------------------------------
# Slow states as functions of absolute time
# --------------------------------------------------------------------------


def fouling_ratio(hours_abs: np.ndarray, seed: int, params: BiorefineryParams = DEFAULT) -> np.ndarray:
    """Beer-column reboiler fouling ratio R_f U_clean at absolute hours since 1970 (Kern-Seaton).

    Zero from the start of the last cleaning; then
    ``fouling_ratio_max (1 - exp(-(t - t_clean_end)/tau))``. Each 25-day block
    holds exactly one cleaning, so the previous block always has one.
    """
    h = np.asarray(hours_abs, dtype=float)
    out = np.empty_like(h)
    tau_h = params.fouling_tau_d * 24.0
    for i, t in enumerate(h):
        block = int(t // _BLOCK_H)
        events = _block_events(seed, block - 1, "reboiler_cleaning") + _block_events(seed, block, "reboiler_cleaning")
        past = [(s, e) for s, e in events if s <= t]
        s, e = past[-1]
        out[i] = 0.0 if t < e else params.fouling_ratio_max * (1.0 - math.exp(-(t - e) / tau_h))
    return out


@functools.lru_cache(maxsize=64)
def _supplier(seed: int, block: int) -> tuple[float, ...]:
    """Offsets of the stover supplier delivering after the switch in ``block``.

    (moisture, glucan, xylan, lignin, ash) as (absolute fraction, relative,
    relative, relative, relative). Project assumption: supplier-to-supplier
    spread of +-3-4 % moisture, +-4-5 % carbohydrates, -25..+35 % ash (soil
    contamination from harvest and storage).
    """
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_SUPPLIER, block)
    return (
        float(rng.uniform(-0.03, 0.04)),
        float(rng.uniform(-0.04, 0.04)),
        float(rng.uniform(-0.05, 0.05)),
        float(rng.uniform(-0.05, 0.05)),
        float(rng.uniform(-0.25, 0.35)),
    )


def _supplier_offsets(seed: int, hours_abs: np.ndarray) -> np.ndarray:
    """Blended supplier offsets (n, 5) at absolute hours (linear blend during the switch episode)."""
    out = np.empty((len(hours_abs), 5))
    for i, t in enumerate(hours_abs):
        block = int(t // _BLOCK_H)
        ((s, e),) = _block_events(seed, block, "supplier_switch")
        old, new = np.array(_supplier(seed, block - 1)), np.array(_supplier(seed, block))
        b = 0.0 if t < s else 1.0 if t >= e else (t - s + 1) / (e - s)
        out[i] = old + b * (new - old)
    return out


@functools.lru_cache(maxsize=8)
def _wiggle_phases(seed: int) -> np.ndarray:
    return historian.derive_rng(seed, PLANT_ID, _STREAM_WIGGLE).uniform(0.0, 2 * math.pi, 32)


def _wiggle(seed: int, k: int, hours_abs: np.ndarray, periods_h: tuple[float, ...]) -> np.ndarray:
    """Smooth zero-mean fluctuation in [-1, 1] (sum of sinusoids of absolute time, seeded phases)."""
    ph = _wiggle_phases(seed)
    out = np.zeros(len(hours_abs))
    for j, per in enumerate(periods_h):
        out += np.sin(2 * math.pi * hours_abs / per + ph[(k * 3 + j) % 32])
    return out / len(periods_h)


def _season(hours_abs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(harvest signal, temperature signal): cosines of the day of year peaking on 25 Oct and 20 Jul."""
    doy = (hours_abs / 24.0 + 0.5) % 365.2425  # 1970-01-01 is day 0; calendar drift is < 1 d over decades
    harvest = np.cos(2 * math.pi * (doy - 297.0) / 365.2425)
    summer = np.cos(2 * math.pi * (doy - 200.0) / 365.2425)
    return harvest, summer


# --------------------------------------------------------------------------
# Episodes
# --------------------------------------------------------------------------


def _detail(item: Item, ctx: DayContext) -> str:
    """Detail text of a process episode (sensor faults are described by the engine)."""
    a = dict(item.args)
    hours = item.end - item.start
    p = ctx.params
    if item.label == "steady":
        if "kind" in a:
            kind = _CHANGE_KINDS[int(a["kind"])]
            what = {
                "rate_change": f"dry feed {a['target'] * p.dry_feed_t_h:.1f} t/h",
                "severity_change": f"pretreatment {a['target']:.1f} degC",
                "enzyme_loading_change": f"cellulase {a['target']:.1f} mg/g",
            }[kind]
            return f"steady, holding {what}"
        return "steady at design set points"
    if item.label in _CHANGE_KINDS:
        unit, b0, t = {
            "rate_change": ("t/h dry feed", p.dry_feed_t_h, a["target"] * p.dry_feed_t_h),
            "severity_change": ("degC pretreatment", p.pt_temp_c, a["target"]),
            "enzyme_loading_change": ("mg/g cellulase", p.enzyme_mg_g, a["target"]),
        }[item.label]
        lo, hi = (b0, t) if a["phase"] == 0.0 else (t, b0)
        return f"set point {lo:.1f} -> {hi:.1f} {unit}, ramp over {hours} h"
    if item.label == "supplier_switch":
        return f"stover supplier switch, bale blend changes over {hours} h (moisture and composition step)"
    if item.label == "reboiler_cleaning":
        return f"beer-column reboiler taken off for cleaning, column at 60 % on live steam for {hours} h"
    if item.label == "shutdown":
        return f"front end (feed, pretreatment) stopped for maintenance for {hours} h; hydrolysis runs on holdup"
    if item.label == "startup":
        return f"front end restarted, feed ramped 0 -> 100 % over {hours} h"
    if item.label == "feed_disruption":
        return f"stover feed drops to {100 * a['feed_fraction']:.0f} % (bale conveyor jam) for {hours - 1} h"
    if item.label == "fermentation_contamination":
        peak = 100 * a["peak_loss"]
        return f"lactic-acid bacteria contamination, sugar loss rises to {peak:.0f} %, antimicrobial dosed"
    if item.label == "enzyme_dosing_failure":
        return f"cellulase dosing pump failure, {100 * a['enzyme_fraction']:.0f} % of set point for {hours - 1} h"
    if item.label == "fermenter_cooling_failure":
        return f"fermenter cooling water loss, broth temperature up to {p.ferm_temp_c + a['temp_rise']:.1f} degC"
    if item.label == "boiler_trip":
        return (
            f"boiler trip: turbogenerator off, front end stopped, beer column at 60 % on the gas package boiler, "
            f"light-off with natural gas support from {ctx.hhmm(item.end - 2)}"
        )
    raise ValueError(f"no detail text for {item.label!r}")
