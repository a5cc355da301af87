"""Operating scenario of the smelter section: seeded episode plans on the 15-min grid.

Time is counted in 15-minute *slots* (96 per UTC day). Two routine
transients happen every day at fixed shift times: the anode-setting round
06:30–09:00 UTC (slots 26–35) and the metal-tapping round 13:00–14:30 UTC
(slots 52–57). All other non-normal episodes are placed in the free
segments around them, so no episode crosses midnight or a routine window.

Quotas are exact per 25-day block aligned to 1970-01-01 (2400 slots):
480 transient (400 routine + 80 line-current changes), 192 abnormal,
48 extreme, 1680 normal slots, i.e. 70 / 20 / 8 / 2 % of time. A block's
plan is drawn from ``(seed, block)`` only, so a day's plan does not depend on
the simulated window.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np

from models import historian
from models.engine import DayPacker, Item, Piece, Timeline, category_quotas, moves, quota, spread

PLANT_ID = "smelter"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
SLOT = dt.timedelta(minutes=15)
SLOTS_PER_DAY = 96
BLOCK_DAYS = 25
BLOCK_SLOTS = BLOCK_DAYS * SLOTS_PER_DAY
TRANSIENT_SLOTS, ABNORMAL_SLOTS, EXTREME_SLOTS = category_quotas(BLOCK_SLOTS)  # 480, 192, 48
ANODE_ROUND = (26, 36)  # 06:30-09:00 UTC
TAP_ROUND = (52, 58)  # 13:00-14:30 UTC
SEGMENTS = ((0, 26), (36, 52), (58, 96))
ROUTINE_SLOTS = BLOCK_DAYS * ((ANODE_ROUND[1] - ANODE_ROUND[0]) + (TAP_ROUND[1] - TAP_ROUND[0]))  # 400
CURRENT_CHANGE_SLOTS = TRANSIENT_SLOTS - ROUTINE_SLOTS  # 80

#: Line-current grades of the power contract, kA, and their weights as block base load.
GRADES_KA: tuple[float, ...] = (335.0, 340.0, 345.0, 350.0, 355.0, 360.0)
_GRADE_WEIGHTS = (0.05, 0.15, 0.20, 0.30, 0.20, 0.10)
#: Power-modulation excursions away from the block's base current, kA.
_EXCURSIONS_KA = (-25.0, -20.0, -15.0, -10.0, 10.0)
ABNORMAL_LABELS = (
    "feeder_blockage", "bath_temperature_excursion", "load_shedding", "stuck_sensor", "spiking_sensor", "sensor_drift",
)
_ABNORMAL_WEIGHTS = (0.22, 0.16, 0.18, 0.15, 0.15, 0.14)
_STREAM_SCHEDULE, _STREAM_GRADE = 31, 32


def block_grade(seed: int, block: int) -> float:
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_GRADE, block)
    return float(GRADES_KA[int(rng.choice(len(GRADES_KA), p=_GRADE_WEIGHTS))])


def _change(from_ka: float, to_ka: float) -> tuple[tuple[str, float], ...]:
    return (("from_ka", from_ka), ("to_ka", to_ka))


@functools.lru_cache(maxsize=32)
def block_plan(seed: int, block: int, measured_tags: tuple[str, ...]) -> tuple[tuple[float, tuple[Item, ...]], ...]:
    """Per day of the block: (line current at midnight, kA; items tiling the day)."""
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_SCHEDULE, block)
    g_now, g_next = block_grade(seed, block), block_grade(seed, block + 1)

    # Units: one piece each, placed contiguously in one free segment.
    units: list[Piece] = []
    change = CURRENT_CHANGE_SLOTS
    transition = None
    if g_next != g_now:
        d_tr = int(rng.integers(4, 9))
        transition = Piece("transition", d_tr, {"from_ka": g_now, "to_ka": g_next})
        change -= d_tr
    def excursion(rng: np.random.Generator) -> float:
        return float(np.clip(g_now + _EXCURSIONS_KA[int(rng.integers(len(_EXCURSIONS_KA)))], 320.0, 370.0))

    for mv in moves(rng, change, ramp=(4, 12), hold=(2, 16), n=5, args=excursion):
        hold = min(mv.hold, 36 - mv.out - mv.back)
        units.append(Piece("excursion", mv.out + hold + mv.back,
                           {"out": mv.out, "hold": hold, "back": mv.back, "to_ka": mv.args}))

    def abnormal(rng: np.random.Generator, d: int) -> Piece:
        label = ABNORMAL_LABELS[int(rng.choice(len(ABNORMAL_LABELS), p=_ABNORMAL_WEIGHTS))]
        args = {
            "tag_index": float(rng.integers(len(measured_tags))),
            "cells": float(rng.integers(5, 16)),
            "efficiency": float(rng.uniform(0.3, 0.6)),
            "dv": float(rng.uniform(0.25, 0.5)),
            "fraction": float(rng.uniform(0.80, 0.93)),
            "seed": float(rng.integers(1 << 30)),
        }
        return Piece(label, d, args, "abnormal")

    def extreme(rng: np.random.Generator, d: int) -> Piece:
        label = "power_outage" if rng.random() < 0.35 else "metal_pad_instability"
        args = {
            "off": float(min(int(rng.integers(4, 9)), d - 6)),
            "cells": float(rng.integers(6, 21)),
            "severity": float(rng.uniform(0.5, 1.0)),
            "seed": float(rng.integers(1 << 30)),
        }
        return Piece(label, d, args, "extreme")

    units += [pc for _, pc in quota(rng, ABNORMAL_SLOTS, (10, 14), (4, 24), abnormal)]
    units += [pc for _, pc in quota(rng, EXTREME_SLOTS, (2, 3), (12, 24), extreme)]

    # Place units into (day, segment) bins, largest first; each unit reserves 2 slots of gap
    # (0 before the first, 2 between, 2 after the last); laid out with >= 1 slot gaps.
    n_seg = len(SEGMENTS)
    seg_len = [b - a for a, b in SEGMENTS]
    bins = DayPacker(BLOCK_DAYS * n_seg, seg_len * BLOCK_DAYS, start_gap=0, min_gap=2, end_gap=2)
    if transition is not None:  # the last day is still empty: its longest segment
        bins.put((BLOCK_DAYS - 1) * n_seg + int(np.argmax(seg_len)), transition)
    bins.place(rng, units)

    current = g_now

    def render(line: Timeline, unit: Piece) -> None:
        nonlocal current
        kind, length, args = unit.label, unit.length, unit.args
        if kind == "excursion":
            base = current
            line.add(args["out"], "transient", "line_current_change", None, _change(current, args["to_ka"]))
            current = args["to_ka"]
            line.steady(args["hold"], (("current_ka", current),))
            line.add(args["back"], "transient", "line_current_change", None, _change(current, base))
            current = base
        elif kind == "transition":
            line.add(length, "transient", "line_current_change", None, _change(args["from_ka"], args["to_ka"]))
            current = args["to_ka"]
        else:
            sensor = kind in ("stuck_sensor", "spiking_sensor", "sensor_drift")
            tag = measured_tags[int(args["tag_index"])] if sensor else None
            line.add(length, unit.category, kind, tag, (("current_ka", current), *sorted(args.items())))

    plan = []
    for day in range(BLOCK_DAYS):
        items: list[Item] = []
        day_start_current = current
        for s, (a, b) in enumerate(SEGMENTS):
            k = day * n_seg + s
            seg_units, gaps = spread(rng, bins.units[k], bins.load[k], b - a, start_gap=1, min_gap=1, end_gap=1)
            line = Timeline(a)
            for unit, gap in zip(seg_units, gaps):
                line.steady(gap, (("current_ka", current),))
                render(line, unit)
            line.steady(gaps[-1], (("current_ka", current),))
            items.extend(line.done(b))
            if s == 0:
                items.append(Item(ANODE_ROUND[0], ANODE_ROUND[1], "transient", "anode_setting", None,
                                  (("current_ka", current),)))
            elif s == 1:
                items.append(Item(TAP_ROUND[0], TAP_ROUND[1], "transient", "metal_tapping", None,
                                  (("current_ka", current),)))
        items.sort(key=lambda it: it.start)
        if items[0].start != 0 or items[-1].end != SLOTS_PER_DAY or any(
            x.end != y.start for x, y in zip(items, items[1:])
        ):
            raise RuntimeError("scenario day does not tile 24 h")
        plan.append((day_start_current, tuple(items)))
    return tuple(plan)


def day_plan(seed: int, day_no: int, measured_tags: tuple[str, ...]) -> tuple[float, tuple[Item, ...]]:
    """(line current at midnight, items) of UTC day ``day_no`` (days since 1970-01-01)."""
    block = day_no // BLOCK_DAYS
    return block_plan(seed, block, measured_tags)[day_no - block * BLOCK_DAYS]
