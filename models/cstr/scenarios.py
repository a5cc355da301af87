"""CSTR operating scenario: grades, 10-day block plans, day plans, episode details, day inputs."""

from __future__ import annotations

import datetime as dt
import functools
import math

import numpy as np

from models import historian
from models.base import EPOCH, SENSOR_FAULT_LABELS
from models.engine import (
    DayContext, DayPacker, Item, Piece, Timeline, TransientSpec, category_quotas, quota, transients,
)
from models.cstr.physics import CSTRParams, Interlock, LoopInputs
from models.cstr.tags import PLANT_ID, TAGS

# --------------------------------------------------------------------------
# Operating scenario
# --------------------------------------------------------------------------

#: Published APMonitor steady state (Tc = 300 K): the nominal operating point.
NOMINAL_SETPOINT_K = 324.475443
#: Production grades (reactor temperature set points, K). All on the cold
#: branch, the highest just below the 335.65 K fold, where PI control is
#: still well damped (closed loop stable to ~340 K even with UA at 60 %).
GRADES_K: tuple[float, ...] = (320.0, NOMINAL_SETPOINT_K, 328.0, 331.5, 335.0)
_GRADE_WEIGHTS = (0.15, 0.40, 0.15, 0.15, 0.15)
IDLE_SETPOINT_K = 300.0  # hold temperature while shut down
_SP_RATE, _SP_RATE_MAX = 0.2, 0.5  # K/min, preferred / maximum set-point ramp

_BLOCK_DAYS = 10  # scenario quotas are met exactly in every 10-day block
_DAY = 1440  # minutes
_BLOCK_MIN = _BLOCK_DAYS * _DAY
_TRANSIENT_MIN, _ABNORMAL_MIN, _EXTREME_MIN = category_quotas(_BLOCK_MIN)  # 2880, 1152, 288
_START_GAP, _MIN_GAP, _END_GAP = 30, 20, 120  # min of steady operation around episodes
#: Transient durations, min: grade change, shutdown + startup, set-point ramps and holds (one move per 4 h of budget).
_TRANSIENTS = TransientSpec(shutdown=(150, 300), startup=(150, 240), ramp=(60, 180), hold=(30, 240), per_move=240,
                            grade_change=(90, 180))
_ABNORMAL_LABELS = ("feed_disruption", "jacket_fouling", "stuck_sensor", "spiking_sensor", "sensor_drift")
_STREAM_SCHEDULE, _STREAM_GRADE, _STREAM_DISTURBANCE = 21, 22, 23
_EPOCH = EPOCH  # day numbers count UTC days from 1970-01-01


def _sp_args(from_k: float, to_k: float) -> tuple[tuple[str, float], ...]:
    return (("from_k", from_k), ("to_k", to_k))


def _block_grade(seed: int, block: int) -> float:
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_GRADE, block)
    return float(GRADES_K[int(rng.choice(len(GRADES_K), p=_GRADE_WEIGHTS))])


def _ramp_minutes(delta: float, available: float) -> int:
    # Preferred 0.2 K/min; faster only if the episode is short, but never above 0.5 K/min
    # (episode minimum lengths are chosen so that the cap does not overrun the episode).
    minutes = max(min(abs(delta) / _SP_RATE, available), abs(delta) / _SP_RATE_MAX, 1.0)
    return int(math.ceil(minutes - 1e-9))


@functools.lru_cache(maxsize=64)
def _block_plan(seed: int, block: int) -> tuple[tuple[float, tuple[Item, ...]], ...]:
    """Episode plan of a 10-day block: per day (start set point K, items tiling the day).

    Blocks are aligned to 1970-01-01, so a day's plan depends only on (seed,
    day). Category time quotas (20 / 8 / 2 % transient / abnormal / extreme,
    rest normal) are met exactly per block; days in a block get random
    subsets, so single days vary. Each day ends with >= 2 h steady at the set
    point the next day starts from.
    """
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_SCHEDULE, block)
    g_now, g_next = _block_grade(seed, block), _block_grade(seed, block + 1)
    measured = [t.tag for t in TAGS if t.measured]

    # Units: lists of pieces placed contiguously in one day.
    tr = transients(rng, _TRANSIENTS, _TRANSIENT_MIN, grade_changes=g_next != g_now)
    units = tr.units(lambda mv: [Piece("sp_out", mv.out), Piece("hold", mv.hold), Piece("sp_back", mv.back)])

    def abnormal(rng: np.random.Generator, d: int) -> Piece:
        label = _ABNORMAL_LABELS[int(rng.integers(len(_ABNORMAL_LABELS)))]
        args = {
            "tag": measured[int(rng.integers(len(measured)))],
            "feed_fraction": float(rng.uniform(0.3, 0.8)),
            "ua_final": float(rng.uniform(0.6, 0.8)),
        }
        return Piece(label, d, args, "abnormal")

    def extreme(rng: np.random.Generator, d: int) -> Piece:
        args = {
            "floor_k": float(rng.uniform(306.0, 315.0)),
            "floor_rate": float(rng.uniform(0.5, 2.0)),
            "restart": float(min(int(rng.integers(40, 71)), d - 45)),
        }
        return Piece("cooling_failure", d, args, "extreme")

    units += [[pc] for _, pc in quota(rng, _ABNORMAL_MIN, (5, 7), (60, 360), abnormal)]
    units += [[pc] for _, pc in quota(rng, _EXTREME_MIN, (1, 2), (120, 360), extreme)]

    # Assign units to days (largest first), respecting a per-day capacity.
    days = DayPacker(_BLOCK_DAYS, _DAY, start_gap=_START_GAP, min_gap=_MIN_GAP, end_gap=_END_GAP)
    if tr.grade_change is not None:
        days.put(_BLOCK_DAYS - 1, [Piece("transition", tr.grade_change)])
    days.place(rng, units, overflow="least_loaded")

    grade = g_now

    def render(line: Timeline, unit: list[Piece]) -> None:
        nonlocal grade
        head = unit[0]
        if head.label == "sp_out":
            others = [g for g in GRADES_K if g != grade]
            target = others[int(rng.integers(len(others)))]
            out, hold, back = unit
            line.add(out.length, "transient", "setpoint_change", None, _sp_args(grade, target))
            line.steady(hold.length, (("setpoint_k", target),))
            line.add(back.length, "transient", "setpoint_change", None, _sp_args(target, grade))
        elif head.label == "transition":
            line.add(head.length, "transient", "setpoint_change", None, _sp_args(grade, g_next))
            grade = g_next
        elif head.label == "shutdown":
            line.add(head.length, "transient", "shutdown", None, (("from_k", grade),))
            line.add(unit[1].length, "transient", "startup", None, (("to_k", grade),))
        elif head.label == "cooling_failure":
            line.add(head.length, "extreme", head.label, None, (("setpoint_k", grade), *sorted(head.args.items())))
        else:
            tag = head.args["tag"] if head.label in SENSOR_FAULT_LABELS else None
            extra_args = {"feed_disruption": ("feed_fraction",), "jacket_fouling": ("ua_final",)}.get(head.label, ())
            pairs = (("setpoint_k", grade), *((a, head.args[a]) for a in extra_args))
            line.add(head.length, "abnormal", head.label, tag, pairs)

    # Per day: (set point at midnight, items); render moves the grade on at the transition.
    return tuple((grade, days.tile(rng, d, render, lambda: (("setpoint_k", grade),))) for d in range(_BLOCK_DAYS))


def _day_plan(seed: int, day_no: int) -> tuple[float, tuple[Item, ...]]:
    block = day_no // _BLOCK_DAYS
    return _block_plan(seed, block)[day_no - block * _BLOCK_DAYS]


def _hhmm(day_start: dt.datetime, minute: float) -> str:
    return f"{day_start + dt.timedelta(minutes=minute):%H:%M}Z"


def _detail(item: Item, ctx: DayContext) -> str:
    """Detail text of a process episode (sensor faults are described by the engine)."""
    a = dict(item.args)
    hours = (item.end - item.start) / 60
    if item.label == "steady":
        return f"steady at set point {a['setpoint_k']:.2f} K"
    if item.label == "setpoint_change":
        ramp = _ramp_minutes(a["to_k"] - a["from_k"], 0.6 * (item.end - item.start))
        return f"set point {a['from_k']:.2f} -> {a['to_k']:.2f} K, ramp over {ramp} min"
    if item.label == "shutdown":
        return f"set point {a['from_k']:.2f} -> {IDLE_SETPOINT_K:.2f} K, feed stopped, idle"
    if item.label == "startup":
        return f"feed restarted, set point {IDLE_SETPOINT_K:.2f} -> {a['to_k']:.2f} K"
    if item.label == "feed_disruption":
        return f"feed flow drops to {100 * a['feed_fraction']:.0f} % for {(item.end - item.start - 38) / 60:.1f} h"
    if item.label == "jacket_fouling":
        return f"UA falls to {100 * a['ua_final']:.0f} % over {hours - 40 / 60:.1f} h, then restored over 20 min"
    if item.label == "cooling_failure":
        return (
            f"coolant supply limited to >= {a['floor_k']:.1f} K (rising {a['floor_rate']:.1f} K/min); "
            f"feed restart planned {ctx.hhmm(item.start + a['restart'])}"
        )
    raise ValueError(f"no detail text for {item.label!r}")


def _disturbance_phases(seed: int) -> np.ndarray:
    return historian.derive_rng(seed, PLANT_ID, _STREAM_DISTURBANCE).uniform(0.0, 2.0 * math.pi, 6)


def _day_inputs(seed: int, day_no: int, params: CSTRParams) -> LoopInputs:
    """Per-minute input profiles of one UTC day from its plan."""
    start_grade, items = _day_plan(seed, day_no)
    n = _DAY
    sp = np.full(n, start_grade)
    feed = np.ones(n)  # fraction of nominal flow
    uaf = np.ones(n)
    floor = np.zeros(n)
    interlocks: list[Interlock] = []
    minute = np.arange(n, dtype=float)
    for it in items:
        s, e, a = it.start, it.end, dict(it.args)
        if it.label == "setpoint_change":
            r = _ramp_minutes(a["to_k"] - a["from_k"], 0.6 * (e - s))
            sp[s:] = a["to_k"]
            sp[s : s + r] = a["from_k"] + (a["to_k"] - a["from_k"]) * (minute[s : s + r] - s) / r
        elif it.label == "shutdown":
            # Cool down with feed on (a hot stop would run the hold-up away), then stop the feed.
            r = _ramp_minutes(IDLE_SETPOINT_K - a["from_k"], e - s - 45)
            sp[s:] = IDLE_SETPOINT_K
            sp[s : s + r] = a["from_k"] + (IDLE_SETPOINT_K - a["from_k"]) * (minute[s : s + r] - s) / r
            feed[s + r :] = 0.0
            feed[s + r : s + r + 15] = 1.0 - (minute[s + r : s + r + 15] - s - r) / 15.0
        elif it.label == "startup":
            # Feed first at idle temperature, then heat up along the set-point ramp.
            feed[s:] = 1.0
            feed[s : s + 20] = (minute[s : s + 20] - s) / 20.0
            r = _ramp_minutes(a["to_k"] - IDLE_SETPOINT_K, e - s - 60)
            sp[s:] = a["to_k"]
            sp[s : s + 30] = IDLE_SETPOINT_K
            heat = minute[s + 30 : s + 30 + r] - s - 30
            sp[s + 30 : s + 30 + r] = IDLE_SETPOINT_K + (a["to_k"] - IDLE_SETPOINT_K) * heat / r
        elif it.label == "feed_disruption":
            frac = a["feed_fraction"]
            feed[s : s + 3] = 1.0 - (1.0 - frac) * (minute[s : s + 3] - s + 1) / 3.0
            feed[s + 3 : e - 35] = frac
            feed[e - 35 : e - 30] = frac + (1.0 - frac) * (minute[e - 35 : e - 30] - (e - 35) + 1) / 5.0
        elif it.label == "jacket_fouling":
            # Fouling builds up, then the standby exchanger is brought in gradually: a
            # step back to clean UA would overshoot T into ignition near the upper grades.
            low = a["ua_final"]
            uaf[s : e - 40] = 1.0 - (1.0 - low) * (minute[s : e - 40] - s) / (e - 40 - s)
            uaf[e - 40 : e - 20] = low + (1.0 - low) * (minute[e - 40 : e - 20] - (e - 40) + 1) / 20.0
        elif it.label == "cooling_failure":
            restart = s + a["restart"]
            end_fail = int(restart) - 5
            floor[s:end_fail] = np.minimum(290.0 + a["floor_rate"] * (minute[s:end_fail] - s), a["floor_k"])
            interlocks.append(Interlock(armed_from=s, armed_until=restart + 15.0, restart_at=restart))

    # Slow feed disturbances: smooth functions of absolute time (continuous across midnight).
    ph = _disturbance_phases(seed)
    t_abs = (day_no * _DAY + minute) * 2.0 * math.pi
    tf = params.Tf + 1.5 * np.sin(t_abs / _DAY + ph[0]) + 0.4 * np.sin(t_abs / 197.0 + ph[1])
    caf = params.Caf * (1.0 + 0.01 * np.sin(t_abs / (1.7 * _DAY) + ph[2]) + 0.004 * np.sin(t_abs / 131.0 + ph[3]))
    q = params.q * feed * (1.0 + 0.003 * np.sin(t_abs / 89.0 + ph[4]))
    return LoopInputs(sp, q, caf, tf, uaf, floor, tuple(interlocks))
