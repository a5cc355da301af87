"""Live twins: plant instances that run forward in time, for the plant edge (:mod:`nexus.edge`).

The day simulators (``simulate_true``) integrate whole UTC days from a plan fixed in advance; a live
plant instead runs forward sample by sample and answers set-point writes while it runs. Every live
twin meets :class:`LiveTwin`::

    twin = live_twin("cstr", dt.datetime(2026, 12, 6, tzinfo=dt.timezone.utc))
    samples = twin.advance(start + dt.timedelta(minutes=10))   # [(ts, {tag: true value}), ...]
    twin.write("CSTR.TC102.SP", 70.0, ramp_per_min=0.5, at=ts)  # degC; ValueError(reason) if refused
    readings = measured(twin, samples, rng)                      # [(ts, {tag: (value, quality)}), ...]

* :class:`CSTRLive` steps the CSTR's closed loop (:func:`models.cstr.physics.run_closed_loop`) one
  minute at a time, carrying the loop state, so its set point TC102.SP can be written.
* :class:`PlaybackTwin` serves every other plant type (and the 1,000-tag reactor bank): the type's
  true values for whole UTC days, interpolated linearly at the sample instants. It has no model of
  its controls, so it takes no writes.

Values are true process values in each tag's engineering unit (``TagSpec.unit``), as the day
simulators give them; :func:`measured` adds the transmitter's noise and saturation.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from models.base import EPOCH, TagSpec

__all__ = ["LiveTwin", "CSTRLive", "PlaybackTwin", "Sample", "Reading", "live_twin", "measured", "resolve_instance"]

#: One sample of a twin: its instant (UTC) and the true value of every tag in the tag's unit.
Sample = tuple[dt.datetime, dict[str, float]]
#: One transmitted sample: instant and ``tag -> (value, OPC DA quality)``.
Reading = tuple[dt.datetime, dict[str, tuple[float, int]]]

_MINUTE = dt.timedelta(minutes=1)
_ZERO_C = 273.15
GOOD, BAD = 192, 0


@runtime_checkable
class LiveTwin(Protocol):
    """A plant instance that runs forward in time.

    Attributes:
        plant_id: the instance id.
        plant_type: the instance's plant type (a key of :data:`models.base.PLANTS`).
        tags: the tag catalogue (the type's).
        sampling: interval of the sample grid; the grid is aligned to 1970-01-01 UTC.
        writable: ``tag -> (low, high)``, the values a write may ask for, in the tag's unit.
    """

    plant_id: str
    plant_type: str
    tags: tuple[TagSpec, ...]
    sampling: dt.timedelta
    writable: Mapping[str, tuple[float, float]]

    def advance(self, until: dt.datetime) -> list[Sample]:
        """True values on the sample grid in ``(last instant returned, until]``, oldest first."""
        ...

    def write(self, tag: str, value: float, ramp_per_min: float | None, at: dt.datetime) -> None:
        """Move ``tag`` to ``value`` (tag unit) from ``at``, at ``ramp_per_min`` (unit/min; None = step).

        Raises ValueError with the reason when the write is refused.
        """
        ...

    def setpoint(self, tag: str) -> tuple[float, float]:
        """(current, target) of a writable tag, in the tag's unit, at the last instant returned."""
        ...

    def ramp_done(self, tag: str) -> bool:
        """True once the last sample returned carries the target of the last write to ``tag``."""
        ...


def _utc(name: str, value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() != dt.timedelta(0):
        raise ValueError(f"{name} must be a tz-aware UTC datetime, found {value!r}")
    return value.astimezone(dt.timezone.utc)


def _first_grid_at_or_after(t: dt.datetime, step: dt.timedelta) -> dt.datetime:
    """The first instant of the grid ``EPOCH + k step`` at or after ``t``."""
    k = -((EPOCH - t) // step)  # ceil((t - EPOCH) / step) in integer arithmetic on timedeltas
    return EPOCH + k * step


def _check_sampling(sampling: dt.timedelta, base: dt.timedelta | None = None) -> dt.timedelta:
    if sampling <= dt.timedelta(0):
        raise ValueError(f"sampling must be positive, found {sampling}")
    if dt.timedelta(days=1) % sampling:
        raise ValueError(f"sampling must divide one day (a grid aligned to midnight UTC), found {sampling}")
    if base is not None and sampling % base:
        raise ValueError(f"sampling must be a multiple of {base}, found {sampling}")
    return sampling


def resolve_instance(plant_id: str):
    """The fleet instance ``plant_id`` (:mod:`models.fleet`); a plant type that has no instance of its
    own in the fleet (e.g. ``reactor_bank``) stands for a bare instance of itself, on site
    ``unassigned`` of the fleet's enterprise, with the type's parameters and seed 0.

    Raises:
        KeyError: ``plant_id`` is neither an instance of the fleet nor a plant type.
    """
    from models.base import PLANTS
    from models.fleet import Instance, Site, load_fleet

    fleet = load_fleet()
    if plant_id in fleet.instances:
        return fleet.instances[plant_id]
    if plant_id not in PLANTS:
        fleet.get(plant_id)  # raises KeyError listing the known instances
    site = Site("unassigned", "No site declared", "ZZ", "", "", "", None)
    return Instance(plant_id=plant_id, plant_type=plant_id, name=plant_id, enterprise=fleet.enterprise_id,
                    site=site, capacity=None, capacity_unit=None, seed=0, params={}, inbound=())


# ----------------------------------------------------------------------------------------- CSTR


@dataclass
class _Ramp:
    """A set-point move in continuous time: from ``from_k`` at ``at`` towards ``target_k``."""

    from_k: float
    target_k: float
    at: dt.datetime
    rate_k_min: float | None  # None: a step

    def value(self, t: dt.datetime) -> float:
        if self.rate_k_min is None:
            return self.target_k if t > self.at else self.from_k  # a write acts after its instant
        if t <= self.at:
            return self.from_k
        moved = self.rate_k_min * (t - self.at) / _MINUTE
        gap = self.target_k - self.from_k
        return self.target_k if moved >= abs(gap) else self.from_k + math.copysign(moved, gap)


class CSTRLive:
    """The CSTR (:mod:`models.cstr`) as a live plant: its PI loop stepped one minute at a time.

    It starts at the closed-loop steady state (:func:`models.cstr.physics.initial_state`) at
    ``setpoint_k`` (default: the nominal operating point ``NOMINAL_SETPOINT_K``, 324.48 K, the
    published APMonitor steady state at a 300 K jacket) with the instance's nominal feed (flow, feed
    concentration and temperature from its parameters, full UA, no coolant limit, no interlock
    episodes). Each minute is integrated by :func:`run_closed_loop` from the previous minute's final
    state, with the set point held over the minute (the controller scans every 6 s, so a ramp is a
    staircase of 1-min steps), which makes the samples independent of how time is cut into
    :meth:`advance` calls.

    Samples are on the 1-min grid aligned to midnight UTC (or every ``sampling``, a multiple of
    1 min); the tag values are the day simulator's (``models.cstr.simulator._tag_frame``).
    The set point ``CSTR.TC102.SP`` (degC) is writable within its instrument range.
    """

    SP_TAG = "CSTR.TC102.SP"

    def __init__(self, plant_id: str, start: dt.datetime, *, params: Any = None, setpoint_k: float | None = None,
                 sampling: dt.timedelta = _MINUTE, tuning: Any = None, plant_type: str = "cstr") -> None:
        from models.cstr import physics, scenarios, tags

        self.plant_id, self.plant_type = plant_id, plant_type
        self.tags = tags.TAGS
        self.sampling = _check_sampling(sampling, _MINUTE)
        self.params = physics.DEFAULT if params is None else params
        self.tuning = physics.DEFAULT_TUNING if tuning is None else tuning
        spec = next(t for t in self.tags if t.tag == self.SP_TAG)
        self.writable: dict[str, tuple[float, float]] = {self.SP_TAG: (spec.range_min, spec.range_max)}
        sp = scenarios.NOMINAL_SETPOINT_K if setpoint_k is None else float(setpoint_k)
        self._t = _first_grid_at_or_after(_utc("start", start), _MINUTE)  # next minute to integrate
        self._last: dt.datetime | None = None  # last sample returned
        self._ramp = _Ramp(sp, sp, self._t, None)
        self._state = physics.initial_state(self._inputs(sp), self.params)

    def _inputs(self, setpoint_k: float):
        from models.cstr.physics import LoopInputs

        return LoopInputs.constant(1, self.params, setpoint_k=setpoint_k)

    def advance(self, until: dt.datetime) -> list[Sample]:
        """Integrate minute by minute up to ``until``; samples on the grid in ``(last, until]``."""
        from models.cstr.physics import run_closed_loop
        from models.cstr.simulator import _tag_frame

        until = _utc("until", until)
        out: list[Sample] = []
        while self._t <= until:
            t = self._t
            traj = run_closed_loop(self._inputs(self._ramp.value(t)), self.params, self.tuning, initial=self._state)
            self._state = traj.final
            self._t = t + _MINUTE
            if (t - EPOCH) % self.sampling == dt.timedelta(0):
                row = _tag_frame(traj, pd.DatetimeIndex([t])).iloc[0]
                out.append((t, {k: float(v) for k, v in row.items()}))
                self._last = t
        return out

    def write(self, tag: str, value: float, ramp_per_min: float | None, at: dt.datetime) -> None:
        """Move the set point to ``value`` degC from ``at`` (clamped to the last sample returned), at
        ``ramp_per_min`` K/min from its current value; None steps it. A new write replaces a ramp
        under way, starting from where that ramp is at ``at``.

        Raises:
            ValueError: ``tag`` is not writable, ``value`` is outside the instrument range, or
                ``ramp_per_min`` is not positive.
        """
        if tag not in self.writable:
            raise ValueError(f"{tag} is not writable on {self.plant_id}; writable: {', '.join(self.writable)}")
        lo, hi = self.writable[tag]
        if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"{tag} must be within its instrument range [{lo:g}, {hi:g}] degC, found {value!r}")
        if ramp_per_min is not None and not (math.isfinite(ramp_per_min) and ramp_per_min > 0):
            raise ValueError(f"ramp_per_min must be a positive rate in K/min or None (a step), found {ramp_per_min!r}")
        at = _utc("at", at)
        if self._last is not None and at < self._last:
            at = self._last  # the past is published: a write acts from the last sample on
        current = self._ramp.value(at)
        self._ramp = _Ramp(current, float(value) + _ZERO_C, at, None if ramp_per_min is None else float(ramp_per_min))

    def setpoint(self, tag: str) -> tuple[float, float]:
        """(current, target) set point in degC at the last sample returned (or at the start)."""
        if tag not in self.writable:
            raise ValueError(f"{tag} is not writable on {self.plant_id}; writable: {', '.join(self.writable)}")
        t = self._last if self._last is not None else self._t
        return self._ramp.value(t) - _ZERO_C, self._ramp.target_k - _ZERO_C

    def ramp_done(self, tag: str) -> bool:
        current, target = self.setpoint(tag)
        return self._last is not None and current == target


# ------------------------------------------------------------------------------------- playback


class PlaybackTwin:
    """Any plant type played back from its day simulator, readable at any instant.

    True values come from the instance's ``simulate_true`` for whole UTC days (seed = run seed +
    instance seed, the instance's parameters), cached two days at a time, and are interpolated
    linearly in time between the type's own samples, so an hourly or 1-min type can be sampled every
    second (``sampling``, default the type's). The day plan (episodes, grade changes) is the
    simulator's: this twin has no model of its controls, so it refuses every write.
    """

    def __init__(self, instance: Any, start: dt.datetime, *, seed: int = 0,
                 sampling: dt.timedelta | None = None) -> None:
        self.instance = instance
        self.plant_id, self.plant_type = instance.plant_id, instance.plant_type
        plant = instance.plant
        self.tags: tuple[TagSpec, ...] = tuple(plant.TAGS)
        self._base = plant.INFO.sampling
        self.sampling = _check_sampling(sampling or self._base)
        self.writable: dict[str, tuple[float, float]] = {}
        self.seed = seed
        self._next = _first_grid_at_or_after(_utc("start", start), self.sampling)
        self._days: dict[int, np.ndarray] = {}
        self._columns = [t.tag for t in self.tags]

    def _day(self, day_no: int) -> np.ndarray:
        """True values of one UTC day, shape (samples per day, tags), in catalogue order."""
        if day_no not in self._days:
            start = EPOCH + dt.timedelta(days=day_no)
            frame, _ = self.instance.simulate_true(start, start + dt.timedelta(days=1), seed=self.seed)
            n = int(dt.timedelta(days=1) / self._base)
            index = pd.date_range(start, periods=n, freq=self._base, tz="UTC")
            values = frame.reindex(index)[self._columns].to_numpy(dtype=float)
            while len(self._days) >= 2:  # keep the day and its neighbour
                self._days.pop(min(self._days))
            self._days[day_no] = values
        return self._days[day_no]

    def values_at(self, t: dt.datetime) -> dict[str, float]:
        """True values at instant ``t``, linear in time between the type's samples."""
        t = _utc("t", t)
        day_no = (t - EPOCH) // dt.timedelta(days=1)
        offset = t - (EPOCH + dt.timedelta(days=day_no))
        i, rest = divmod(offset, self._base)
        day = self._day(day_no)
        lo = day[i]
        if rest == dt.timedelta(0):
            row = lo
        else:
            hi = day[i + 1] if i + 1 < len(day) else self._day(day_no + 1)[0]
            w = rest / self._base
            row = (1.0 - w) * lo + w * hi
        return dict(zip(self._columns, row.tolist()))

    def advance(self, until: dt.datetime) -> list[Sample]:
        until = _utc("until", until)
        out: list[Sample] = []
        while self._next <= until:
            out.append((self._next, self.values_at(self._next)))
            self._next += self.sampling
        return out

    def write(self, tag: str, value: float, ramp_per_min: float | None, at: dt.datetime) -> None:
        raise ValueError(f"{self.plant_type} has no live model of its controls; writes are not supported")

    def setpoint(self, tag: str) -> tuple[float, float]:
        raise ValueError(f"{self.plant_type} has no live model of its controls; it has no writable set points")

    def ramp_done(self, tag: str) -> bool:
        return False


# ---------------------------------------------------------------------------- factory, transmitter


def live_twin(plant_id: str, start: dt.datetime, *, seed: int = 0,
              sampling: dt.timedelta | None = None) -> LiveTwin:
    """The live twin of instance ``plant_id`` (see :func:`resolve_instance`), starting at ``start``.

    CSTR instances get a :class:`CSTRLive` with the instance's parameters (``sampling`` must then be
    a multiple of 1 min); every other type a :class:`PlaybackTwin` (seed = ``seed`` + instance seed).

    Raises:
        KeyError: unknown plant; ValueError: a sampling the twin cannot give.
    """
    inst = resolve_instance(plant_id)
    if inst.plant_type == "cstr":
        return CSTRLive(inst.plant_id, start, params=inst.parameters(), sampling=sampling or _MINUTE)
    return PlaybackTwin(inst, start, seed=seed, sampling=sampling)


def measured(twin: LiveTwin, samples: Sequence[Sample], rng: np.random.Generator) -> list[Reading]:
    """What the transmitters report for ``samples``: value + Gaussian noise, clipped to the range.

    The noise is the historian's (:mod:`models.historian`): standard deviation ``noise_pct`` % of the
    span for measured tags, none for set points and controller outputs. A transmitter saturates at its
    range ends, so values are clipped to ``[range_min, range_max]``. Quality is 192 (good), or 0 (bad)
    for a value the twin could not give (NaN). Sensor faults are not simulated here.
    """
    specs = twin.tags
    sd = np.array([s.noise_pct / 100.0 * s.span for s in specs])
    lo = np.array([s.range_min for s in specs])
    hi = np.array([s.range_max for s in specs])
    names = [s.tag for s in specs]
    out: list[Reading] = []
    for ts, values in samples:
        true = np.array([values[n] for n in names], dtype=float)
        meas = np.clip(true + rng.standard_normal(len(names)) * sd, lo, hi)
        out.append((ts, {n: (float(v), GOOD if math.isfinite(v) else BAD) for n, v in zip(names, meas.tolist())}))
    return out
