"""Shared simulation engine of the plant types: episodes, windows and historian files, once.

A plant *type* (``models.cstr``, ``models.biorefinery`` ...) supplies only what is its own and
wraps it in a :class:`PlantType`:

* its identity and tag catalogue (``INFO``, ``TAGS``) and default parameters,
* ``day_items(seed, day_no)`` -- the day plan: the :class:`Item` list tiling one UTC day, in
  units of ``step`` from midnight (minutes, hours or 15-min slots),
* ``detail(item, ctx)`` -- the episode text of a process episode (sensor-fault details are
  written here, from the numbers the historian renders),
* ``simulate_day(seed, day_no, params, **options)`` -- true values of one whole UTC day on the
  sampling grid plus its episodes (from :meth:`PlantType.day_episodes`, with outcomes added).

The engine turns that into the public API every plant type exposes: :meth:`PlantType.schedule`,
:meth:`PlantType.simulate_true` and :meth:`PlantType.simulate` (day by day into
:func:`models.historian.write_exports` and the ground-truth file), with window checks, stable
episode ids (``YYYYMMDD * 100 + position``), clipping and plant *instances*::

    from models.engine import Item, PlantType
    TYPE = PlantType(INFO, TAGS, DEFAULT, step=dt.timedelta(minutes=1), day_items=..., detail=...,
                     simulate_day=...)
    schedule, simulate_true, simulate = TYPE.schedule, TYPE.simulate_true, TYPE.simulate

Instances: ``plant_id`` (default: the type id) names the export files, the episodes, the
truth file and the result. Random streams stay keyed by the type id, so an instance's data
depend on its ``seed`` and ``params`` only and the default instance reproduces the type's data
bit for bit.

Scenario helpers shared by the block planners (a type passes only its labels, duration ranges
and parameter draws): :func:`category_quotas` (20 / 8 / 2 % of a block), :func:`integerize` and
:func:`split` (integer durations with exact totals, so the quotas hold exactly per block),
:func:`transients` (grade change, shutdown + startup pair, set-point :func:`moves` filling the
transient budget), :func:`quota` (a category's episodes), :class:`DayPacker` (units of
:class:`Piece` packed into the days of a block, laid out with steady gaps by :func:`spread`) and
:class:`Timeline` (a day's items back to back).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models import historian
from models.base import (
    EPOCH,
    SENSOR_FAULT_LABELS,
    DeliveryQuirk,
    Episode,
    PlantInfo,
    SimulationResult,
    TagSpec,
    check_window,
    clip_episodes,
    day_range,
    episode_id,
)

__all__ = [
    "CATEGORY_SHARES", "DayContext", "DayPacker", "Item", "Move", "Piece", "PlantType", "Timeline", "TransientSpec",
    "Transients", "category_quotas", "draw_int", "integerize", "moves", "quota", "split", "spread", "transients",
    "unit_length",
]

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Item:
    """One planned episode of a day: ``[start, end)`` in plan steps from UTC midnight.

    ``args`` are the label's parameters as ``(name, value)`` pairs (hashable, so day plans can
    be cached); ``tag`` is set for sensor faults only.
    """

    start: int
    end: int
    category: str
    label: str
    tag: str | None
    args: tuple[tuple[str, float], ...] = ()

    @property
    def kw(self) -> dict[str, float]:
        """``args`` as a dict."""
        return dict(self.args)

    def arg(self, name: str) -> float:
        """One parameter of ``args``."""
        return self.kw[name]


@dataclass(frozen=True)
class DayContext:
    """What an episode detail may quote: the day, its scenario seed, the episode id and params."""

    seed: int
    day_no: int
    day_start: dt.datetime
    episode_id: int
    params: Any
    step: dt.timedelta

    def hhmm(self, offset: float) -> str:
        """Clock time ``offset`` plan steps after midnight, ``"HH:MMZ"``."""
        return f"{self.day_start + offset * self.step:%H:%M}Z"


def integerize(x: np.ndarray, total: int) -> np.ndarray:
    """Largest-remainder rounding of ``x`` to integers summing exactly to ``total``."""
    fl = np.floor(x).astype(int)
    rem = total - int(fl.sum())
    order = np.argsort(-(x - fl), kind="stable")
    fl[order[:rem]] += 1
    return fl


def split(
    rng: np.random.Generator, total: int, n: int, lo: int, hi: int, *, concentration: float = 4.0, tries: int = 1000
) -> list[int]:
    """``n`` integer durations in ``[lo, hi]`` summing exactly to ``total``.

    Dirichlet(``concentration``) shares above the minimum, redrawn up to ``tries`` times until
    every duration is within bounds; then as equal as possible.
    """
    if not n * lo <= total <= n * hi:
        raise ValueError("infeasible split")
    for _ in range(tries):
        x = integerize(lo + rng.dirichlet(np.full(n, concentration)) * (total - n * lo), total)
        if x.min() >= lo and x.max() <= hi:
            return [int(v) for v in x]
    return [int(v) for v in integerize(np.full(n, total / n), total)]


#: Share of every scenario block per non-normal category (the rest, 70 %, is normal operation).
CATEGORY_SHARES = (("transient", 0.20), ("abnormal", 0.08), ("extreme", 0.02))


def category_quotas(steps: int) -> tuple[int, int, int]:
    """(transient, abnormal, extreme) plan steps of a block of ``steps``: 20 / 8 / 2 %, rounded."""
    t, a, e = (round(share * steps) for _, share in CATEGORY_SHARES)
    return t, a, e


def draw_int(rng: np.random.Generator, lo: int, hi: int) -> int:
    """One integer uniform in ``[lo, hi]`` (both ends included)."""
    return int(rng.integers(lo, hi + 1))


@dataclass(frozen=True)
class Piece:
    """One planned episode of a *unit* (a group of episodes kept together in one day), before placement.

    ``length`` is in plan steps; ``args`` are the label's parameters (the type decides how they
    become :attr:`Item.args`).
    """

    label: str
    length: int
    args: dict[str, Any] = field(default_factory=dict)
    category: str = "transient"


@dataclass(frozen=True)
class Move:
    """A set-point move out and back: ramp ``out`` steps, hold ``hold`` steps, ramp ``back`` steps."""

    out: int
    hold: int
    back: int
    args: Any = None

    @property
    def length(self) -> int:
        """Total length in plan steps."""
        return self.out + self.hold + self.back


def moves(
    rng: np.random.Generator,
    budget: int,
    *,
    ramp: tuple[int, int],
    hold: tuple[int, int],
    n: int | None = None,
    per_move: int | None = None,
    args: Callable[[np.random.Generator], Any] | None = None,
    args_first: bool = False,
    concentration: float = 4.0,
    tries: int = 1000,
) -> list[Move]:
    """Set-point moves whose out and back ramps use exactly ``budget`` plan steps.

    ``n`` moves (or ``max(1, round(budget / per_move))``); the ``2 n`` ramps are a :func:`split`
    of ``budget`` within ``ramp`` (inclusive), each hold is uniform in ``hold`` (inclusive) and
    not counted in the budget. ``args(rng)`` draws a move's own parameters, after its hold
    (before it with ``args_first``).
    """
    if n is None:
        if per_move is None:
            raise ValueError("moves needs n or per_move")
        n = max(1, round(budget / per_move))
    ramps = split(rng, budget, 2 * n, *ramp, concentration=concentration, tries=tries)
    out = []
    for i in range(n):
        a = args(rng) if args is not None and args_first else None
        h = draw_int(rng, *hold)
        if args is not None and not args_first:
            a = args(rng)
        out.append(Move(ramps[2 * i], h, ramps[2 * i + 1], a))
    return out


@dataclass(frozen=True)
class TransientSpec:
    """A type's transient durations (plan steps, ranges inclusive) for :func:`transients`.

    ``grade_change`` is the range of the block-end grade change (None: the type has none);
    a shutdown + startup pair happens with probability ``p_shutdown``; the rest of the transient
    budget goes to set-point moves (:func:`moves`, one per ``per_move`` steps of budget).
    """

    shutdown: tuple[int, int]
    startup: tuple[int, int]
    ramp: tuple[int, int]
    hold: tuple[int, int]
    per_move: int
    grade_change: tuple[int, int] | None = None
    p_shutdown: float = 0.5
    concentration: float = 4.0
    tries: int = 1000


@dataclass(frozen=True)
class Transients:
    """The transients of a block: grade change length (or None), (shutdown, startup) lengths (or None), moves."""

    grade_change: int | None
    shutdown: tuple[int, int] | None
    moves: list[Move]

    def units(self, move: Callable[[Move], list[Piece]]) -> list[list[Piece]]:
        """The shutdown + startup unit (labels ``shutdown``, ``startup``), if any, then ``move(m)`` per move."""
        out = []
        if self.shutdown is not None:
            out.append([Piece("shutdown", self.shutdown[0]), Piece("startup", self.shutdown[1])])
        return out + [move(m) for m in self.moves]


def transients(
    rng: np.random.Generator,
    spec: TransientSpec,
    budget: int,
    *,
    grade_changes: bool = False,
    args: Callable[[np.random.Generator], Any] | None = None,
    args_first: bool = False,
) -> Transients:
    """The transient episodes of a block, using exactly ``budget`` plan steps (holds not counted).

    Draw order: the grade-change length (always drawn when ``spec.grade_change`` is set, used
    only if ``grade_changes``), the shutdown and startup lengths and whether they happen, then
    the moves filling the rest of the budget (``args``/``args_first`` as in :func:`moves`).
    """
    change = None
    if spec.grade_change is not None:
        d = draw_int(rng, *spec.grade_change)
        if grade_changes:
            change = d
            budget -= d
    pair = (draw_int(rng, *spec.shutdown), draw_int(rng, *spec.startup))
    shutdown = pair if rng.random() < spec.p_shutdown else None
    if shutdown is not None:
        budget -= sum(shutdown)
    mv = moves(rng, budget, ramp=spec.ramp, hold=spec.hold, per_move=spec.per_move, args=args, args_first=args_first,
               concentration=spec.concentration, tries=spec.tries)
    return Transients(change, shutdown, mv)


def quota(
    rng: np.random.Generator,
    total: int,
    count: tuple[int, int],
    length: tuple[int, int],
    draw: Callable[[np.random.Generator, int], Any] | None = None,
    *,
    concentration: float = 4.0,
    tries: int = 1000,
) -> list[tuple[int, Any]]:
    """Episodes of one category filling exactly ``total`` plan steps: ``[(length, draw(rng, length)), ...]``.

    Their number is uniform in ``count`` (inclusive), their lengths a :func:`split` of ``total``
    within ``length`` (inclusive); ``draw`` gives each one's label and parameters, in order
    (None: nothing is drawn, the second entries are None).
    """
    n = draw_int(rng, *count)
    lengths = split(rng, total, n, *length, concentration=concentration, tries=tries)
    return [(d, None if draw is None else draw(rng, d)) for d in lengths]


def spread(
    rng: np.random.Generator, units: Sequence[Any], load: int, capacity: int, *, start_gap: int, min_gap: int,
    end_gap: int,
) -> tuple[list[Any], list[int]]:
    """(``units`` in a random order, the ``k + 1`` steady gaps before, between and after them).

    ``load`` is the units' total length; the gaps and the units tile ``capacity`` steps exactly,
    the free time beyond the minimum gaps spread with Dirichlet(1) shares.
    """
    order = rng.permutation(len(units))
    k = len(units)
    if k == 0:
        return [], [capacity]
    extra = capacity - load - (start_gap + end_gap + min_gap * (k - 1))
    if extra < 0:
        raise RuntimeError("scenario day over capacity")
    gaps = integerize(rng.dirichlet(np.ones(k + 1)) * extra, extra).tolist()
    gaps = [g + (start_gap if i == 0 else end_gap if i == k else min_gap) for i, g in enumerate(gaps)]
    return [units[i] for i in order], gaps


def unit_length(unit: Piece | Sequence[Piece]) -> int:
    """Length in plan steps of a :class:`Piece` or of a unit of pieces."""
    return unit.length if isinstance(unit, Piece) else sum(pc.length for pc in unit)


class Timeline:
    """Items of one day appended back to back from plan step ``start``."""

    def __init__(self, start: int = 0) -> None:
        self.items: list[Item] = []
        self.t = start

    def add(self, length: int, category: str, label: str, tag: str | None = None,
            args: tuple[tuple[str, float], ...] = ()) -> None:
        """Append an item of ``length`` steps."""
        self.items.append(Item(self.t, self.t + length, category, label, tag, args))
        self.t += length

    def steady(self, length: int, args: tuple[tuple[str, float], ...] = ()) -> None:
        """Append ``length`` steps of normal steady operation (nothing if ``length`` is 0)."""
        if length > 0:
            self.add(length, "normal", "steady", None, args)

    def done(self, end: int) -> tuple[Item, ...]:
        """The items, checked to end exactly at ``end``."""
        if self.t != end:
            raise RuntimeError("scenario day does not tile 24 h")
        return tuple(self.items)


class DayPacker:
    """Units of a scenario block packed into its days, with steady operation around them.

    A *unit* is a group of plan items kept together in one day (e.g. a set-point move out and
    back); its length is in plan steps. A day of ``capacity`` steps holding ``k`` units keeps at
    least ``start_gap`` steady steps before the first unit, ``min_gap`` between units and
    ``end_gap`` after the last, so every day starts and ends steady. Days in ``closed`` take no
    units. Random draws happen in a fixed order (:meth:`place`, then :meth:`layout` day by
    day), so a block's plan is a function of its generator alone.

    A "day" is any bin of the block: ``capacity`` may give one capacity per bin (e.g. the
    free segments between a day's fixed routine rounds, day-major).
    """

    def __init__(self, n_days: int, capacity: int | Sequence[int], *, start_gap: int, min_gap: int, end_gap: int,
                 closed: frozenset[int] = frozenset()) -> None:
        self.capacity = [capacity] * n_days if isinstance(capacity, int) else [int(c) for c in capacity]
        if len(self.capacity) != n_days:
            raise ValueError("one capacity per day")
        self.start_gap, self.min_gap, self.end_gap = start_gap, min_gap, end_gap
        self.closed = closed
        self.load = [0] * n_days
        self.count = [0] * n_days
        self.units: list[list[Any]] = [[] for _ in range(n_days)]

    def fits(self, day: int, length: int) -> bool:
        """Whether a unit of ``length`` steps still fits into ``day`` with all its gaps."""
        if day in self.closed:
            return False
        need = self.load[day] + length + self.start_gap + self.end_gap + self.min_gap * self.count[day]
        return need <= self.capacity[day]

    def put(self, day: int, unit: Any, length: int | None = None) -> None:
        """Put ``unit`` (``length`` steps; default :func:`unit_length`) into ``day`` unconditionally."""
        self.units[day].append(unit)
        self.load[day] += unit_length(unit) if length is None else length
        self.count[day] += 1

    def place(self, rng: np.random.Generator, units: Sequence[Any], lengths: Sequence[int] | None = None, *,
              overflow: str = "raise") -> None:
        """Place ``units`` largest first, each on a random day it fits in.

        ``lengths`` default to :func:`unit_length` of each unit. ``overflow="least_loaded"`` puts a
        unit that fits nowhere on the least loaded day; ``"raise"`` raises RuntimeError (the
        block's quotas exceed its capacity).
        """
        if lengths is None:
            lengths = [unit_length(u) for u in units]
        for i in sorted(range(len(units)), key=lambda i: -lengths[i]):
            ok = [d for d in range(len(self.units)) if self.fits(d, lengths[i])]
            if ok:
                self.put(int(rng.choice(ok)), units[i], lengths[i])
            elif overflow == "least_loaded":
                self.put(int(np.argmin(self.load)), units[i], lengths[i])
            else:
                raise RuntimeError("scenario block over capacity")

    def layout(self, rng: np.random.Generator, day: int) -> tuple[list[Any], list[int]]:
        """(the day's units in a random order, the ``k + 1`` steady gaps before, between and after them).

        The gaps and the units tile the day exactly (:func:`spread`).
        """
        return spread(rng, self.units[day], self.load[day], self.capacity[day], start_gap=self.start_gap,
                      min_gap=self.min_gap, end_gap=self.end_gap)

    def tile(self, rng: np.random.Generator, day: int, render: Callable[[Timeline, Any], None],
             steady: Callable[[], tuple[tuple[str, float], ...]] = tuple) -> tuple[Item, ...]:
        """The items of ``day``: its units (:meth:`layout`), each appended by ``render(line, unit)``,
        with steady gaps around them (args ``steady()``, asked at each gap)."""
        units, gaps = self.layout(rng, day)
        line = Timeline()
        for unit, gap in zip(units, gaps):
            line.steady(gap, steady())
            render(line, unit)
        line.steady(gaps[-1], steady())
        return line.done(self.capacity[day])


@dataclass(frozen=True)
class PlantType:
    """A plant type on the shared engine (see the module docstring).

    Parameters
    ----------
    info : PlantInfo
        Type identity and historian sampling; ``info.plant_id`` is the type id.
    tags : tuple of TagSpec
    default_params
        The type's frozen parameter dataclass instance (used when ``params`` is None).
    step : datetime.timedelta
        Unit of :class:`Item` ``start``/``end`` in the day plan.
    day_items : callable ``(seed, day_no) -> sequence of Item``
        The day plan; items tile the day.
    detail : callable ``(item, ctx) -> str``
        Detail text of a process episode (not called for sensor faults).
    simulate_day : callable ``(seed, day_no, params, **options) -> (DataFrame, list of Episode)``
        True values of the whole UTC day (columns = tag names) and its episodes.
    hours_format, drift_format : str
        Number formats of the sensor-fault details (duration in hours, drift in the tag unit).
    """

    info: PlantInfo
    tags: tuple[TagSpec, ...]
    default_params: Any
    step: dt.timedelta
    day_items: Callable[[int, int], Sequence[Item]]
    detail: Callable[[Item, DayContext], str]
    simulate_day: Callable[..., tuple[pd.DataFrame, list[Episode]]]
    hours_format: str = ".1f"
    drift_format: str = "+.3g"

    @property
    def plant_id(self) -> str:
        """The type id."""
        return self.info.plant_id

    # ------------------------------------------------------------ episodes

    def episode(self, item: Item, day_start: dt.datetime, eid: int, detail: str = "") -> Episode:
        """The :class:`Episode` of ``item`` on the day starting at ``day_start`` (type id)."""
        return Episode(
            plant_id=self.info.plant_id,
            episode_id=eid,
            category=item.category,
            label=item.label,
            start=day_start + item.start * self.step,
            end=day_start + item.end * self.step,
            tag=item.tag,
            detail=detail,
        )

    def sensor_fault_detail(self, item: Item, ctx: DayContext) -> str:
        """Detail of a sensor-fault item, quoting the drift/spikes the historian will render."""
        spec = next(t for t in self.tags if t.tag == item.tag)
        ep = self.episode(item, ctx.day_start, ctx.episode_id)
        f = historian.sensor_fault(ep, spec, seed=ctx.seed, sampling=self.info.sampling)
        hours = format((item.end - item.start) * self.step.total_seconds() / 3600, self.hours_format)
        if item.label == "sensor_drift":
            pct = 100 * f.drift / spec.span
            return (f"{item.tag} drifts {format(f.drift, self.drift_format)} {spec.unit} ({pct:+.1f} % of span) "
                    f"over {hours} h")
        if item.label == "spiking_sensor":
            n_out = sum(v is not None for _, v, _ in f.spikes)
            return f"{item.tag}: {len(f.spikes)} isolated spikes, {n_out} outside the instrument range"
        return f"{item.tag} frozen at its first reading for {hours} h (quality stays good)"

    def day_episodes(self, seed: int, day_no: int, params: Any = None) -> list[Episode]:
        """Planned episodes of UTC day ``day_no`` (days since 1970-01-01), type id, not clipped."""
        params = self.default_params if params is None else params
        day_start = EPOCH + day_no * _DAY
        items = self.day_items(seed, day_no)
        if len(items) > 99:
            raise RuntimeError("too many episodes in a day for the episode-id scheme")
        out = []
        for i, it in enumerate(items):
            eid = episode_id(day_start, i)
            ctx = DayContext(seed, day_no, day_start, eid, params, self.step)
            text = self.sensor_fault_detail(it, ctx) if it.label in SENSOR_FAULT_LABELS else self.detail(it, ctx)
            out.append(self.episode(it, day_start, eid, text))
        return out

    # ------------------------------------------------------------ public API

    def check_window(self, start: dt.datetime, end: dt.datetime) -> None:
        """Raise ValueError unless ``[start, end)`` is a non-empty UTC window on the sampling grid."""
        check_window(start, end, self.info.sampling)

    def schedule(self, start: dt.datetime, end: dt.datetime, seed: int = 0) -> list[Episode]:
        """Planned episodes tiling ``[start, end)`` (no simulation; cheap).

        Deterministic per (seed, day): a day's plan does not depend on the requested window.
        Episodes never cross UTC midnight; details carry no simulated outcomes (those are added
        by :meth:`simulate_true`).
        """
        self.check_window(start, end)
        eps: list[Episode] = []
        for d in day_range(start, end):
            eps.extend(self.day_episodes(seed, d))
        return clip_episodes(eps, start, end)

    def simulate_true(
        self,
        start: dt.datetime,
        end: dt.datetime,
        seed: int = 0,
        params: Any = None,
        plant_id: str | None = None,
        **options: Any,
    ) -> tuple[pd.DataFrame, list[Episode]]:
        """True process values on the sampling grid and ground-truth episodes of ``[start, end)``.

        Whole UTC days are simulated and cut to the window, so a day's values never depend on
        the window asked for. Columns are the tag names in each tag's ``unit``, UTC index;
        episodes are clipped to the window and carry ``plant_id`` (default: the type id).
        ``options`` go to the type's day simulator (e.g. the CSTR's ``tuning``).
        """
        self.check_window(start, end)
        params = self.default_params if params is None else params
        frames, episodes = [], []
        for d in day_range(start, end):
            df, eps = self.simulate_day(seed, d, params, **options)
            frames.append(df)
            episodes.extend(eps)
        data = pd.concat(frames) if len(frames) > 1 else frames[0]
        data = data.loc[(data.index >= start) & (data.index < end)]
        return data, historian.as_instance(clip_episodes(episodes, start, end), plant_id)

    def simulate(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        landing_dir: str | Path,
        truth_dir: str | Path,
        seed: int = 0,
        params: Any = None,
        plant_id: str | None = None,
        config: historian.HistorianConfig = historian.DEFAULT_CONFIG,
    ) -> SimulationResult:
        """Simulate ``[start, end)`` and write historian exports plus ground truth.

        Day by day (memory bounded by one day): :meth:`simulate_true`, then
        :func:`models.historian.write_exports` (noise, sensor faults, delivery quirks) into
        ``<landing_dir>/sensor/<plant_id>/``; episodes are merged into
        ``<truth_dir>/<plant_id>_episodes.csv``. Same seed -> byte-identical files, and a day's
        files do not depend on the window it was simulated in. ``plant_id`` is the instance id
        (default: the type id); the random streams stay keyed by the type id.
        """
        self.check_window(start, end)
        instance = plant_id or self.info.plant_id
        info = self.info if instance == self.info.plant_id else replace(self.info, plant_id=instance)
        paths: list[Path] = []
        quirks: list[DeliveryQuirk] = []
        episodes: list[Episode] = []
        n_readings = n_lines = 0
        for d in day_range(start, end):
            d0 = EPOCH + d * _DAY
            df, eps = self.simulate_true(max(start, d0), min(end, d0 + _DAY), seed, params, instance)
            res = historian.write_exports(df, self.tags, eps, plant=info, landing_dir=landing_dir, seed=seed,
                                          config=config, rng_id=self.info.plant_id)
            paths.extend(res.paths)
            quirks.extend(res.quirks)
            n_readings += res.n_readings
            n_lines += res.n_lines
            episodes.extend(eps)
        truth = historian.write_episodes(episodes, truth_dir, instance)
        return SimulationResult(plant_id=instance, start=start, end=end, paths=tuple(paths), n_readings=n_readings,
                                n_lines=n_lines, quirks=tuple(quirks), episodes=tuple(episodes), truth_path=truth)
