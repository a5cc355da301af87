"""CO2 electrolyzer operating scenario: grades, maintenance cycle, block and day plans, episode details, day inputs."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from models import historian
from models.base import EPOCH, SENSOR_FAULT_LABELS
from models.engine import (
    DayContext, DayPacker, Item, Piece, Timeline, TransientSpec, category_quotas, quota, transients,
)
from models.co2_electrolyzer.physics import CO2ElectrolyzerParams, DEFAULT, F, V_M_NORMAL, Z, _Inputs
from models.co2_electrolyzer.tags import PLANT_ID, TAGS

_EPOCH = EPOCH  # day numbers count UTC days from 1970-01-01
_DAY = 1440  # minutes
_BLOCK_DAYS = 10  # scenario quotas are met exactly in every 10-day block
_BLOCK_MIN = _BLOCK_DAYS * _DAY
_TRANSIENT_MIN, _ABNORMAL_MIN, _EXTREME_MIN = category_quotas(_BLOCK_MIN)  # 2880, 1152, 288
_START_GAP, _MIN_GAP, _END_GAP = 30, 20, 120  # min of steady operation around episodes
#: Transient durations, min: grade change, shutdown + startup, operator-move ramps and holds (one move per 4 h).
_TRANSIENTS = TransientSpec(shutdown=(150, 300), startup=(120, 240), ramp=(60, 180), hold=(30, 240), per_move=240,
                            grade_change=(90, 180))
_CYCLE_BLOCKS = 4  # electrode replacement once per 40-day maintenance cycle
_REPLACEMENT_MIN = 360
_WARMUP_MIN = 360  # simulated tail of the previous day (initial-condition memory < 1e-3)
_RUN_DOWN, _RUN_UP = 30, 45  # min: current ramps of the stop / start sequences
_STREAM_SCHEDULE, _STREAM_GRADE, _STREAM_DISTURBANCE, _STREAM_MAINT = 31, 32, 33, 34
_ABNORMAL_LABELS = (
    "co2_supply_disruption",
    "gde_flooding",
    "salt_precipitation",
    "pump_trip",
    "stuck_sensor",
    "spiking_sensor",
    "sensor_drift",
)
_EXTREME_LABELS = ("stack_short", "emergency_shutdown")
_MOVE_LABELS = ("current_change", "co2_flow_change", "co2_concentration_change", "temperature_change")

#: Operating grades (current density mA/cm2, CO2 feed Nm3/h, CO2 %, catholyte inlet degC) and block weights.
#: All keep >= 3 x the CO2 needed at FE = 1 (0.0418 Nm3/h per mA/cm2 for the default stack).
GRADES: tuple[tuple[float, float, float, float], ...] = (
    (200.0, 30.0, 100.0, 40.0),
    (150.0, 24.0, 100.0, 40.0),
    (250.0, 36.0, 100.0, 45.0),
    (200.0, 36.0, 70.0, 40.0),
    (120.0, 20.0, 85.0, 35.0),
    (280.0, 45.0, 95.0, 50.0),
)
_GRADE_WEIGHTS = (0.35, 0.15, 0.15, 0.15, 0.10, 0.10)
_Op = tuple[float, float, float, float]


def _op_args(op: _Op, prefix: str = "") -> tuple[tuple[str, float], ...]:
    return tuple((prefix + k, float(v)) for k, v in zip(("j", "q", "y", "t"), op))


def _op_of(a: dict[str, float], prefix: str = "") -> _Op:
    return (a[prefix + "j"], a[prefix + "q"], a[prefix + "y"], a[prefix + "t"])


def _block_grade(seed: int, block: int) -> _Op:
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_GRADE, block)
    return GRADES[int(rng.choice(len(GRADES), p=_GRADE_WEIGHTS))]


def _demand_nm3_h_per_ma_cm2(p: CO2ElectrolyzerParams = DEFAULT) -> float:
    # CO2 consumed at FE = 1 per mA/cm2 of current density, Nm3/h.
    return p.n_cells * p.cell_area_cm2 * 1e-3 / (Z * F) * V_M_NORMAL * 3600.0


def _move_target(op: _Op, kind: str, u: float) -> tuple[str, _Op]:
    """Target of an operator move from ``op``: uniform quantile ``u`` in a safe range (>= 1.4 x stoich)."""
    j, q, y, t = op
    d = _demand_nm3_h_per_ma_cm2()
    ratio = 1.4
    if kind == "current_change":
        hi = min(300.0, q * y / 100.0 / (ratio * d))
        new = round((80.0 + u * (hi - 80.0)) / 5.0) * 5.0
        if hi > 90.0 and abs(new - j) >= 10.0:
            return kind, (new, q, y, t)
    elif kind == "co2_flow_change":
        lo = max(10.0, ratio * d * j / (y / 100.0))
        new = round((lo + u * (55.0 - lo)) * 2.0) / 2.0
        if lo < 50.0 and abs(new - q) >= 2.0:
            return kind, (j, new, y, t)
    elif kind == "co2_concentration_change":
        lo = max(50.0, 100.0 * ratio * d * j / q)
        new = float(round(lo + u * (100.0 - lo)))
        if lo < 95.0 and abs(new - y) >= 3.0:
            return kind, (j, q, new, t)
    new_t = round((30.0 + u * 25.0) * 2.0) / 2.0
    if abs(new_t - t) < 2.0:
        new_t = t + 4.0 if t < 45.0 else t - 4.0
    return "temperature_change", (j, q, y, new_t)


def _maintenance(seed: int, cycle: int) -> tuple[int, int]:
    """Electrode replacement of a 40-day cycle: (day of the cycle 1..8, start minute 06:00-12:00 UTC)."""
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_MAINT, cycle)
    return int(rng.integers(1, 9)), int(rng.integers(360, 721))


def _swap_minute(seed: int, cycle: int) -> int:
    """Absolute minute (since 1970) at which the fresh electrodes are installed in ``cycle``."""
    if cycle < 0:  # before the epoch: a fixed, plausible history
        return -20 * _DAY
    day, start = _maintenance(seed, cycle)
    return (cycle * _CYCLE_BLOCKS * _BLOCK_DAYS + day) * _DAY + start + _REPLACEMENT_MIN // 2


def electrode_age_h(seed: int, minutes_since_epoch) -> np.ndarray:
    """Electrode (GDE) age in hours at absolute minutes since 1970-01-01 UTC (deterministic per seed)."""
    m = np.asarray(minutes_since_epoch, dtype=np.int64)
    cycle = m // (_CYCLE_BLOCKS * _BLOCK_MIN)
    out = np.empty(m.shape, dtype=float)
    for c in np.unique(cycle):
        sel = cycle == c
        sw, prev = _swap_minute(seed, int(c)), _swap_minute(seed, int(c) - 1)
        out[sel] = (m[sel] - np.where(m[sel] >= sw, sw, prev)) / 60.0
    return out


@functools.lru_cache(maxsize=64)
def _block_plan(seed: int, block: int) -> tuple[tuple[_Op, tuple[Item, ...]], ...]:
    """Episode plan of a 10-day block: per day (operating point at midnight, items tiling the day).

    Category time quotas (20 / 8 / 2 % transient / abnormal / extreme, rest normal) are met
    exactly per block. The electrode replacement of a maintenance cycle gets a day of its own in
    the cycle's first block; the other units are placed at random on the remaining days.
    """
    rng = historian.derive_rng(seed, PLANT_ID, _STREAM_SCHEDULE, block)
    g_now, g_next = _block_grade(seed, block), _block_grade(seed, block + 1)
    measured = [t.tag for t in TAGS if t.measured]
    maint_day = None
    if block % _CYCLE_BLOCKS == 0:
        maint_day, maint_start = _maintenance(seed, block // _CYCLE_BLOCKS)

    budget = _TRANSIENT_MIN - (_REPLACEMENT_MIN if maint_day is not None else 0)
    tr = transients(rng, _TRANSIENTS, budget, grade_changes=g_next != g_now, args=lambda rng: {
        "kind": _MOVE_LABELS[int(rng.integers(len(_MOVE_LABELS)))], "u": float(rng.random())})
    units = tr.units(lambda mv: [Piece("move_out", mv.out, mv.args), Piece("hold", mv.hold),
                                 Piece("move_back", mv.back)])

    def abnormal(rng: np.random.Generator, d: int) -> Piece:
        label = _ABNORMAL_LABELS[int(rng.integers(len(_ABNORMAL_LABELS)))]
        args = {  # drawn unconditionally: a label's parameters never shift the others
            "tag": measured[int(rng.integers(len(measured)))],
            "frac": float(rng.uniform(0.15, 0.6)),
            "purity": float(rng.random() < 0.35),
            "y_frac": float(rng.uniform(0.45, 0.8)),
            "jlim_final": float(rng.uniform(0.35, 0.7)),
            "asr_final": float(rng.uniform(0.4, 1.5)),
            "dp_final": float(rng.uniform(1.5, 2.5)),
            "restart": float(rng.integers(20, 61)),
        }
        return Piece(label, d, args, "abnormal")

    def extreme(rng: np.random.Generator, d: int) -> Piece:
        label = _EXTREME_LABELS[int(rng.integers(len(_EXTREME_LABELS)))]
        args = {
            "cells": float(rng.integers(1, 4)),
            "detect": float(rng.integers(3, 11)),
            "hot_k": float(rng.uniform(4.0, 10.0)),
        }
        return Piece(label, d, args, "extreme")

    units += [[pc] for _, pc in quota(rng, _ABNORMAL_MIN, (5, 7), (120, 360), abnormal)]
    units += [[pc] for _, pc in quota(rng, _EXTREME_MIN, (1, 2), (120, 288), extreme)]

    days = DayPacker(_BLOCK_DAYS, _DAY, start_gap=_START_GAP, min_gap=_MIN_GAP, end_gap=_END_GAP,
                     closed=frozenset({maint_day}))
    if tr.grade_change is not None:
        days.put(_BLOCK_DAYS - 1, [Piece("grade_change", tr.grade_change)])
    days.place(rng, units)

    grade = g_now

    def render(line: Timeline, unit: list[Piece]) -> None:
        nonlocal grade
        head = unit[0]
        if head.label == "move_out":
            out, hold, back = unit
            label, target = _move_target(grade, head.args["kind"], head.args["u"])
            line.add(out.length, "transient", label, None, _op_args(grade) + _op_args(target, "to_"))
            line.steady(hold.length, _op_args(target))
            line.add(back.length, "transient", label, None, _op_args(target) + _op_args(grade, "to_"))
        elif head.label == "grade_change":
            line.add(head.length, "transient", "grade_change", None, _op_args(grade) + _op_args(g_next, "to_"))
            grade = g_next
        elif head.label == "shutdown":
            line.add(head.length, "transient", "shutdown", None, _op_args(grade))
            line.add(unit[1].length, "transient", "startup", None, _op_args(grade))
        else:
            tag = head.args["tag"] if head.label in SENSOR_FAULT_LABELS else None
            pairs = _op_args(grade) + tuple(sorted((kk, vv) for kk, vv in head.args.items() if kk != "tag"))
            line.add(head.length, head.category, head.label, tag, pairs)

    plan = []
    for d in range(_BLOCK_DAYS):
        if d == maint_day:
            line = Timeline()
            line.steady(maint_start, _op_args(grade))
            line.add(_REPLACEMENT_MIN, "transient", "electrode_replacement", None, _op_args(grade))
            line.steady(_DAY - line.t, _op_args(grade))
            plan.append((grade, line.done(_DAY)))
            continue
        plan.append((grade, days.tile(rng, d, render, lambda: _op_args(grade))))
    return tuple(plan)


def _day_plan(seed: int, day_no: int) -> tuple[_Op, tuple[Item, ...]]:
    block = day_no // _BLOCK_DAYS
    return _block_plan(seed, block)[day_no - block * _BLOCK_DAYS]


def _fmt_op(op: _Op) -> str:
    return f"{op[0]:.0f} mA/cm2, CO2 {op[1]:.1f} Nm3/h at {op[2]:.0f} %, catholyte {op[3]:.1f} degC"


def _pump_restart(item: Item) -> int:
    # Pump restart after the trip, leaving room for the current restart ramp and settling.
    return int(min(item.kw["restart"], item.end - item.start - 10 - _RUN_UP - 15))


def _detail(item: Item, ctx: DayContext) -> str:
    """Detail text of a process episode (sensor faults are described by the engine)."""
    a = item.kw
    hours = (item.end - item.start) / 60
    if item.label == "steady":
        return f"steady at {_fmt_op(_op_of(a))}"
    if item.label in _MOVE_LABELS or item.label == "grade_change":
        return f"{_fmt_op(_op_of(a))} -> {_fmt_op(_op_of(a, 'to_'))}, ramp {_ramp_len(item)} min"
    if item.label == "shutdown":
        return f"current ramped to 0 over {_RUN_DOWN} min, CO2 to standby {DEFAULT.co2_standby_nm3_h:.0f} Nm3/h, idle"
    if item.label == "startup":
        return f"CO2 feed restored, current ramped up over {_RUN_UP} min to {a['j']:.0f} mA/cm2"
    if item.label == "electrode_replacement":
        swap = item.start + _REPLACEMENT_MIN // 2
        return f"stack shut down, electrodes (GDEs) replaced at {ctx.hhmm(swap)}, electrode age reset, restart"
    if item.label == "co2_supply_disruption":
        span = f"for {hours - 0.5:.1f} h, recovered over 10 min"
        if a["purity"] > 0.5:
            return f"CO2 supply purity loss: feed CO2 falls to {100 * a['y_frac']:.0f} % of set point {span}"
        return f"CO2 supply pressure loss: delivered flow falls to {100 * a['frac']:.0f} % of set point {span}"
    if item.label == "gde_flooding":
        return (
            f"GDE flooding: CO2 transport falls to {100 * a['jlim_final']:.0f} %, ASR +{a['asr_final']:.2f} ohm cm2, "
            f"recovered by raising the gas-side pressure in the last 40 min"
        )
    if item.label == "salt_precipitation":
        return (
            f"carbonate salt precipitation in the GDE: CO2 transport to {100 * a['jlim_final']:.0f} %, gas dP x"
            f"{a['dp_final']:.1f}; water flush at reduced current at {ctx.hhmm(item.end - 60)}"
        )
    if item.label == "pump_trip":
        r = _pump_restart(item)
        return (
            f"catholyte pump trip, low-flow interlock de-energises the stack within 1 min; pump restarted "
            f"at {ctx.hhmm(item.start + r)}, current restored over {_RUN_UP} min"
        )
    if item.label == "stack_short":
        return (
            f"short circuit across {a['cells']:.0f} cell(s) (salt bridge in a manifold): stack voltage drop, "
            f"hot spot +{a['hot_k']:.0f} K; ESD after {a['detect']:.0f} min, flush, restart "
            f"{ctx.hhmm(item.end - 75)}"
        )
    if item.label == "emergency_shutdown":
        return f"emergency shutdown (rectifier trip on grid dip), stack idle, restart {ctx.hhmm(item.end - 75)}"
    raise ValueError(f"no detail text for {item.label!r}")


# ---------------------------------------------------------------- profiles


def _ramp_len(item: Item) -> int:
    return max(1, int(math.ceil(0.4 * (item.end - item.start))))


@dataclass
class _Day:
    """Mutable per-minute profiles of one day while the plan is rendered."""

    j: np.ndarray
    q: np.ndarray
    y: np.ndarray
    t: np.ndarray
    run: np.ndarray  # current multiplier of the start/stop sequences
    standby: np.ndarray  # CO2 feed at standby flow
    q_frac: np.ndarray  # delivered / set flow (supply disruption)
    y_frac: np.ndarray  # delivered / set CO2 purity
    pump: np.ndarray
    jlim: np.ndarray
    asr: np.ndarray
    dp: np.ndarray
    shorted: np.ndarray
    hot: np.ndarray


def _ramp(arr: np.ndarray, s: int, e: int, v0: float, v1: float) -> None:
    # Linear ramp over [s, e) reaching v1 at e (and holding v1 afterwards is the caller's job).
    if e > s:
        arr[s:e] = v0 + (v1 - v0) * (np.arange(s, e) - s + 1) / (e - s)


def _render_day(seed: int, day_no: int) -> _Day:
    start_op, items = _day_plan(seed, day_no)
    n = _DAY
    full = lambda v: np.full(n, float(v))  # noqa: E731
    d = _Day(
        *(full(v) for v in start_op),
        run=full(1.0),
        standby=np.zeros(n, dtype=bool),
        q_frac=full(1.0),
        y_frac=full(1.0),
        pump=full(1.0),
        jlim=full(1.0),
        asr=full(0.0),
        dp=full(1.0),
        shorted=full(0.0),
        hot=full(0.0),
    )
    ops = (d.j, d.q, d.y, d.t)
    for it in items:
        s, e, a = it.start, it.end, it.kw
        op = _op_of(a)
        for arr, v in zip(ops, op):
            arr[s:e] = v
        if it.label in _MOVE_LABELS or it.label == "grade_change":
            to = _op_of(a, "to_")
            r = _ramp_len(it)
            for arr, v0, v1 in zip(ops, op, to):
                arr[s:e] = v1
                _ramp(arr, s, s + r, v0, v1)
        elif it.label == "shutdown":
            _ramp(d.run, s, s + _RUN_DOWN, 1.0, 0.0)
            d.run[s + _RUN_DOWN : e] = 0.0
            d.standby[s + _RUN_DOWN + 2 : e] = True
        elif it.label == "startup":
            d.run[s : s + 15] = 0.0
            _ramp(d.run, s + 15, s + 15 + _RUN_UP, 0.0, 1.0)
        elif it.label == "electrode_replacement":
            up = e - 30 - _RUN_UP
            _ramp(d.run, s, s + _RUN_DOWN, 1.0, 0.0)
            d.run[s + _RUN_DOWN : up] = 0.0
            _ramp(d.run, up, up + _RUN_UP, 0.0, 1.0)
            d.standby[s + _RUN_DOWN + 2 : up - 10] = True
            d.pump[s + _RUN_DOWN + 10 : up - 20] = 0.0  # loop drained for the stack exchange
        elif it.label == "co2_supply_disruption":
            rec = e - 30
            target = d.y_frac if a["purity"] > 0.5 else d.q_frac
            low = a["y_frac"] if a["purity"] > 0.5 else a["frac"]
            _ramp(target, s, s + 3, 1.0, low)
            target[s + 3 : rec] = low
            _ramp(target, rec, rec + 10, low, 1.0)
        elif it.label == "gde_flooding":
            rec = e - 40
            _ramp(d.jlim, s, rec, 1.0, a["jlim_final"])
            _ramp(d.asr, s, rec, 0.0, a["asr_final"])
            _ramp(d.dp, s, rec, 1.0, 1.3)
            _ramp(d.jlim, rec, rec + 20, a["jlim_final"], 1.0)
            _ramp(d.asr, rec, rec + 20, a["asr_final"], 0.0)
            _ramp(d.dp, rec, rec + 20, 1.3, 1.0)
        elif it.label == "salt_precipitation":
            flush = e - 60
            _ramp(d.jlim, s, flush, 1.0, a["jlim_final"])
            _ramp(d.dp, s, flush, 1.0, a["dp_final"])
            _ramp(d.asr, s, flush, 0.0, 0.3)
            _ramp(d.run, flush, flush + 5, 1.0, 0.3)  # water flush at 30 % current
            d.run[flush + 5 : flush + 25] = 0.3
            _ramp(d.run, flush + 25, flush + 45, 0.3, 1.0)
            _ramp(d.jlim, flush + 5, flush + 25, a["jlim_final"], 1.0)
            _ramp(d.dp, flush + 5, flush + 25, a["dp_final"], 1.0)
            _ramp(d.asr, flush + 5, flush + 25, 0.3, 0.0)
        elif it.label == "pump_trip":
            r = s + _pump_restart(it)
            d.pump[s:r] = 0.0
            _ramp(d.pump, r, r + 2, 0.0, 1.0)
            d.run[s + 1 : r + 10] = 0.0
            _ramp(d.run, r + 10, r + 10 + _RUN_UP, 0.0, 1.0)
            d.standby[s + 5 : r + 5] = True
        elif it.label in ("stack_short", "emergency_shutdown"):
            trip = s + (int(a["detect"]) if it.label == "stack_short" else 0)
            up = e - 75
            if it.label == "stack_short":
                d.shorted[s:trip] = a["cells"]
                _ramp(d.hot, s, trip, 0.0, a["hot_k"])
            d.run[trip : trip + 1] = 0.0 if it.label == "emergency_shutdown" else 0.5
            d.run[trip + 1 : up] = 0.0
            _ramp(d.run, up, up + _RUN_UP, 0.0, 1.0)
            d.standby[trip + 2 : up - 10] = True
    return d


def _disturbance_phases(seed: int) -> np.ndarray:
    return historian.derive_rng(seed, PLANT_ID, _STREAM_DISTURBANCE).uniform(0.0, 2.0 * math.pi, 6)


def _day_inputs(seed: int, day_no: int, params: CO2ElectrolyzerParams) -> tuple[_Inputs, dict[str, np.ndarray]]:
    """Per-minute inputs over [midnight - warm-up, next midnight) and the operator set points."""
    p = params
    prev, cur = _render_day(seed, day_no - 1), _render_day(seed, day_no)
    w = _WARMUP_MIN

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(prev, name)[-w:], getattr(cur, name)])

    j, q_sp, y_sp, t_sp = cat("j"), cat("q"), cat("y"), cat("t")
    run, standby = cat("run"), cat("standby")
    minute = (day_no * _DAY - w + np.arange(w + _DAY)).astype(np.int64)
    ph = _disturbance_phases(seed)
    ang = minute * 2.0 * math.pi
    current_sp = j * p.cell_area_cm2 / 1000.0 * run
    q_set = np.where(standby, p.co2_standby_nm3_h, q_sp)
    q_pv = q_set * cat("q_frac") * (1.0 + 0.002 * np.sin(ang / 97.0 + ph[0]))
    purity = 1.0 - 0.0015 * (1.0 + np.sin(ang / (2.3 * _DAY) + ph[1]))  # supply purity ripple
    y_target = y_sp * cat("y_frac") * purity
    t_in = t_sp + 0.25 * np.sin(ang / _DAY + ph[2]) + 0.1 * np.sin(ang / 173.0 + ph[3])
    pump = cat("pump")
    flow = p.catholyte_flow_m3_h * pump * (1.0 + 0.01 * np.sin(ang / 311.0 + ph[4]))
    inputs = _Inputs(
        current_a=current_sp,
        co2_flow_nm3_h=q_pv,
        co2_pct_target=y_target,
        inlet_temp_c=t_in,
        catholyte_flow_m3_h=flow,
        bleed_l_h=p.bleed_l_per_ah * current_sp,
        age_h=electrode_age_h(seed, minute),
        jlim_factor=cat("jlim"),
        asr_extra=cat("asr"),
        dp_factor=cat("dp") * (1.0 + 0.01 * np.sin(ang / 53.0 + ph[5])),
        active_cells=p.n_cells - cat("shorted"),
        hot_spot_k=cat("hot"),
        pump_on=pump,
    )
    setpoints = {"current": current_sp, "q": q_set, "y": y_sp, "t": t_sp}
    return inputs, setpoints
