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
from models.engine import Item, integerize, split

PLANT_ID = "smelter"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
SLOT = dt.timedelta(minutes=15)
SLOTS_PER_DAY = 96
BLOCK_DAYS = 25
BLOCK_SLOTS = BLOCK_DAYS * SLOTS_PER_DAY
TRANSIENT_SLOTS = BLOCK_SLOTS * 20 // 100  # 480
ABNORMAL_SLOTS = BLOCK_SLOTS * 8 // 100  # 192
EXTREME_SLOTS = BLOCK_SLOTS * 2 // 100  # 48
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


@functools.lru_cache(maxsize=32)
def block_plan(seed: int, block: int, measured_tags: tuple[str, ...]) -> tuple[tuple[float, tuple[Item, ...]], ...]:
    """Per day of the block: (line current at midnight, kA; items tiling the day)."""
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_SCHEDULE, block)
    g_now, g_next = block_grade(seed, block), block_grade(seed, block + 1)

    # Units: (kind, total slots, args); one unit is placed contiguously in one free segment.
    units: list[tuple[str, int, dict]] = []
    change = CURRENT_CHANGE_SLOTS
    transition = None
    if g_next != g_now:
        d_tr = int(rng.integers(4, 9))
        transition = ("transition", d_tr, {"from_ka": g_now, "to_ka": g_next})
        change -= d_tr
    m = 5
    pieces = split(rng, change, 2 * m, 4, 12)
    for i in range(m):
        out, back = pieces[2 * i], pieces[2 * i + 1]
        hold = int(rng.integers(2, 17))
        hold = min(hold, 36 - out - back)
        target = float(np.clip(g_now + _EXCURSIONS_KA[int(rng.integers(len(_EXCURSIONS_KA)))], 320.0, 370.0))
        units.append(("excursion", out + hold + back, {"out": out, "hold": hold, "back": back, "to_ka": target}))

    n_ab = int(rng.integers(10, 15))
    for d in split(rng, ABNORMAL_SLOTS, n_ab, 4, 24):
        label = ABNORMAL_LABELS[int(rng.choice(len(ABNORMAL_LABELS), p=_ABNORMAL_WEIGHTS))]
        args = {
            "tag_index": float(rng.integers(len(measured_tags))),
            "cells": float(rng.integers(5, 16)),
            "efficiency": float(rng.uniform(0.3, 0.6)),
            "dv": float(rng.uniform(0.25, 0.5)),
            "fraction": float(rng.uniform(0.80, 0.93)),
            "seed": float(rng.integers(1 << 30)),
        }
        units.append((label, d, args))
    n_ex = int(rng.integers(2, 4))
    for d in split(rng, EXTREME_SLOTS, n_ex, 12, 24):
        label = "power_outage" if rng.random() < 0.35 else "metal_pad_instability"
        args = {
            "off": float(min(int(rng.integers(4, 9)), d - 6)),
            "cells": float(rng.integers(6, 21)),
            "severity": float(rng.uniform(0.5, 1.0)),
            "seed": float(rng.integers(1 << 30)),
        }
        units.append((label, d, args))

    # Place units into (day, segment), largest first; each unit needs >= 2 slots of gap.
    used = np.zeros((BLOCK_DAYS, len(SEGMENTS)), dtype=int)
    placed: list[list[list[tuple[str, int, dict]]]] = [[[] for _ in SEGMENTS] for _ in range(BLOCK_DAYS)]
    seg_len = [b - a for a, b in SEGMENTS]

    def put(day: int, seg: int, unit) -> None:
        placed[day][seg].append(unit)
        used[day, seg] += unit[1] + 2

    if transition is not None:
        seg = int(np.argmax([seg_len[s] - used[-1, s] for s in range(len(SEGMENTS))]))
        put(BLOCK_DAYS - 1, seg, transition)
    order = sorted(range(len(units)), key=lambda i: -units[i][1])
    for i in order:
        need = units[i][1] + 2
        cands = [(d, s) for d in range(BLOCK_DAYS) for s in range(len(SEGMENTS)) if used[d, s] + need <= seg_len[s]]
        if not cands:
            raise RuntimeError("scenario block over capacity")  # cannot happen with these quotas
        d, s = cands[int(rng.integers(len(cands)))]
        put(d, s, units[i])

    plan = []
    current = g_now
    for day in range(BLOCK_DAYS):
        items: list[Item] = []
        day_start_current = current

        def steady(a: int, b: int) -> None:
            if b > a:
                items.append(Item(a, b, "normal", "steady", None, (("current_ka", current),)))

        for s, (a, b) in enumerate(SEGMENTS):
            seg_units = [placed[day][s][i] for i in rng.permutation(len(placed[day][s]))]
            k = len(seg_units)
            slack = (b - a) - sum(u[1] for u in seg_units) - (k + 1)
            gaps = (integerize(rng.dirichlet(np.ones(k + 1)) * slack, slack) + 1).tolist() if k else [b - a]
            t = a
            for ui, (kind, length, args) in enumerate(seg_units):
                steady(t, t + gaps[ui])
                t += gaps[ui]
                if kind == "excursion":
                    out, hold, back = args["out"], args["hold"], args["back"]
                    items.append(Item(t, t + out, "transient", "line_current_change", None,
                                      (("from_ka", current), ("to_ka", args["to_ka"]))))
                    base = current
                    current = args["to_ka"]
                    steady(t + out, t + out + hold)
                    items.append(Item(t + out + hold, t + length, "transient", "line_current_change", None,
                                      (("from_ka", current), ("to_ka", base))))
                    current = base
                elif kind == "transition":
                    items.append(Item(t, t + length, "transient", "line_current_change", None,
                                      (("from_ka", args["from_ka"]), ("to_ka", args["to_ka"]))))
                    current = args["to_ka"]
                elif kind in ("power_outage", "metal_pad_instability"):
                    items.append(Item(t, t + length, "extreme", kind, None,
                                      (("current_ka", current), *sorted(args.items()))))
                else:
                    sensor = kind in ("stuck_sensor", "spiking_sensor", "sensor_drift")
                    tag = measured_tags[int(args["tag_index"])] if sensor else None
                    items.append(Item(t, t + length, "abnormal", kind, tag,
                                      (("current_ka", current), *sorted(args.items()))))
                t += length
            steady(t, b)
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
