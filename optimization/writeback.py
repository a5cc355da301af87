"""Setpoint write-back: a recommendation becomes a checked, acknowledged and confirmed plant write.

A write moves through states, each one an appended row of ``gold.fct_setpoint_writes`` (append-only,
primary key ``(write_id, step)``, steps 1..n in order)::

    proposed ──approve──▶ approved ──publish──▶ published ──ack──▶ acknowledged ──confirm──▶ confirmed
        │                    │  (envelope fails)      │ (edge rejects / no ack)          │ (settle time passed,
        ▼ reject             ▼                         ▼                                   ▼  plant did not move)
     rejected             refused                   failed                             reverted (or failed)

Example (a lake with a recommendation of plant ``cstr`` for the day and fresh silver readings)::

    from optimization import writeback as wb
    [wid] = wb.propose(lake, "cstr", day, meta=meta)                 # tc102_setpoint_k: K -> degC
    wb.approve(lake, wid, operator="alice", reason="shift plan", meta=meta)
    out = wb.publish(lake, wid, broker_host="127.0.0.1", broker_port=1883, now=now, meta=meta, timeout_s=10)
    out.state                                                        # acknowledged | refused | failed
    wb.confirm(lake, wid, now=later, meta=meta)                      # confirmed | pending | reverted | failed

**What is written.** Only a recommended setpoint whose historian tag (``SETPOINT_TAGS`` of the plant
type's optimizer module) is a *set point* tag (name ending in ``.SP``: what an operator enters at
the controller). A setpoint mapped to a measurement (``coolant_temp_k`` -> ``CSTR.TI103``) is the
result of a controller, not something to write, and is skipped with a log line. Values in the
audit are in the tag's engineering unit (the historian's and the edge's, ``degC`` for
``CSTR.TC102.SP``); recommendations are converted with :func:`etl.units.convert`, silver readings
(stored in the tag's canonical unit) likewise.

**The safety envelope** (:func:`check`, run again inside :func:`publish`; a failed check means
state ``refused`` and nothing is sent to the broker). Checks, by name in ``checks_json``:

* ``approved``: the write's latest state is ``approved`` (an operator said yes).
* ``instrument_range``: the target lies in the tag's calibrated range (tag catalog).
* ``operating_limits``: the target lies in the envelope's tighter limits for the tag, if any, and
  in the tag's model-based limit: for ``CSTR.TC102.SP`` the runaway limit
  (:func:`optimization.cstr.runaway_limit_k`: lowest ignition temperature minus
  ``Envelope.runaway_margin_k``, 1.5 K) evaluated with the latest calibrated UA and k0 over the
  feed flows between nominal and the latest measured one, converted to degC. The optimizer keeps
  2 K from ignition at the nominal feed; the envelope's hard limit keeps 1.5 K at the *measured*
  feed, so a recommendation on the optimizer's limit passes while the feed reads within about
  ±6 L/min of nominal (ignition falls about 0.08 K per L/min), and a real move toward runaway
  does not.
* ``max_step``: ``|target - last good value|`` within ``Envelope.max_step`` (default 10 % of the
  span), the last good value being the latest good reading of the set point tag in silver, which
  must be at most ``Envelope.max_staleness`` before ``now`` (a step is not measured from a value the
  plant may have left hours ago).
* ``ramp_rate``: the write goes out with a ramp (tag unit per minute) so the edge moves the set
  point gradually; the requested ramp must not exceed ``Envelope.max_rate_per_min``.
* ``no_open_event``: no ``process_anomaly`` or ``shutdown`` event of the plant in
  ``gold.fct_events`` open at ``now`` (``end_at`` null) or ended less than ``Envelope.event_grace``
  before it.
* ``plant_clock``: ``now`` is not earlier than the plant's newest silver reading (any tag, any
  quality). The plant's clock cannot be behind its own data; a ``now`` (``--plant-time``) in the
  past would make every other check look at a plant that no longer exists (an anomaly opened since,
  stale readings judged fresh) while the write goes to the live plant.
* ``fresh_data``: the plant's newest silver reading is at most ``Envelope.max_staleness`` old.
* ``operating_mode``: the plant runs in a mode that permits writes (:data:`OPERATING_MODES`, one
  rule per plant type; a type without a rule is refused), judged on the rule tag's latest good
  reading, which must be at most ``Envelope.max_staleness`` before ``now``.
* ``no_write_in_flight``: no other write of the same tag is *in flight*: published or
  acknowledged and not yet confirmed or reverted, or ``failed`` in a way that may still have
  reached the plant. The latter is a write that was sent and then ended ``failed`` by Nexus, not
  by the edge: no ack within the timeout after publishing, no PUBACK from the broker (recorded
  ``published``, then ``failed``), or its revert sent without an ack or PUBACK. The broker may
  still deliver such a write (QoS 1, persistent session) and the edge's contract has no expiry, so
  it counts as in flight until its settle deadline, ``published`` time (for a revert: the failure's
  time) + ramp time (``|to - from| / ramp``) + ``Envelope.settle_time``, has passed, or until a
  write of the same tag published after it was confirmed. A write the edge ``rejected``, or one
  that never left Nexus (broker unreachable before sending), is not in flight.

**Confirmation.** After the edge's ``accepted`` ack, the set point tag must read the target within a
tolerance and so must its process value (:data:`PROCESS_VALUES`: ``CSTR.TC102.SP`` ->
``CSTR.TI102``), within the settle time ``ramp time + Envelope.settle_time`` after the ack. If the
settle time passes without it, a revert write to the value the set point held before the write (the
``from_value`` of the ``published`` row, read back from silver) is published with the same ramp and
ack wait, and the write ends ``reverted``; gold.fct_events belongs to monitoring, so no event is
opened here.

**Assumptions.** One process drives a given write at a time (the CLI): steps are numbered from the
rows read, and Delta appends do not enforce the primary key across commits. A write whose ack did
not come within the timeout is recorded ``failed`` although the broker may still deliver it to the
edge later (QoS 1, persistent session): the edge contract has no expiry for writes, hence the
settle deadline of ``no_write_in_flight``. All timestamps are UTC; ``now`` is a parameter
everywhere, so tests and replays set the clock, but it is checked against the plant's data
(``plant_clock``, ``fresh_data``): it must be the plant's current time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import math
import queue
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from etl.units import convert
from models.base import TagSpec, get_plant
from nexus import wire
from nexus.errors import NexusError
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import (
    FCT_EVENTS,
    FCT_SETPOINT_RECOMMENDATIONS,
    FCT_SETPOINT_WRITES,
    SILVER_SENSOR_READINGS,
)

__all__ = ["OPERATING_MODES", "PROCESS_VALUES", "Check", "Envelope", "InvalidWriteRequest", "ModeRule", "Outcome",
           "approve", "check", "confirm", "is_writable", "main", "propose", "publish", "reject", "writes"]

log = logging.getLogger(__name__)

NEXUS, EDGE = "nexus", "edge"
#: States after which nothing more happens to a write.
FINAL_STATES = frozenset({"rejected", "refused", "failed", "confirmed", "reverted"})
#: Event kinds that block writes while open (gold.fct_events.kind).
BLOCKING_EVENTS = ("process_anomaly", "shutdown")
#: How far back silver is read for the last good value of a tag.
READBACK_LOOKBACK = dt.timedelta(days=1)
#: Process value that shows a set point took effect: set point tag -> measured tag (same dimension).
#: A set point without an entry is confirmed on its own readback only.
PROCESS_VALUES: dict[str, str] = {"CSTR.TC102.SP": "CSTR.TI102"}


class InvalidWriteRequest(NexusError):
    """A request the write's state or its inputs do not allow (approving a published write, no operator)."""


@dataclass(frozen=True)
class ModeRule:
    """The plant is in a mode that permits writes when the latest good reading of ``tag`` exceeds ``minimum``.

    Attributes:
        tag: historian tag read from silver.
        minimum: threshold, in ``unit``.
        unit: unit of ``minimum`` (pint notation).
        why: what the rule means, for people.
    """

    tag: str
    minimum: float
    unit: str
    why: str


#: Permitted operating mode per plant *type*. The CSTR is in production when feed flows (FI101 is
#: 0 L/min at shutdown and idle, ~100 L/min in production); a write to TC102 while it idles has no
#: process to act on and would arm a jump at restart. Types without a rule get every write refused
#: until one is declared here.
OPERATING_MODES: dict[str, ModeRule] = {
    "cstr": ModeRule("CSTR.FI101", 1.0, "L/min", "feed flowing (reactor in production, not idle or shut down)"),
}


@dataclass(frozen=True)
class Envelope:
    """Limits a write must respect; values in the tag's engineering unit unless stated.

    Attributes:
        limits: tag -> (low, high) operating limits tighter than the instrument range (either may be None).
        max_step: tag -> largest change per write relative to the last good value; default
            ``step_fraction`` of the tag's span.
        max_rate_per_min: tag -> fastest ramp the write may ask of the edge, unit per minute;
            default ``rate_fraction_per_min`` of the span per minute.
        step_fraction: default step as a fraction of span (0.10).
        rate_fraction_per_min: default ramp as a fraction of span per minute (0.01).
        max_staleness: newest silver reading of the plant may be at most this old.
        event_grace: a blocking event that ended less than this before ``now`` still blocks.
        runaway_margin_k: margin below the CSTR's ignition temperature, K (1.5: inside the optimizer's 2 K).
        settle_time: time after the ramp within which the plant must read the target.
        tolerance_fraction: default readback tolerance as a fraction of span (0.005).
    """

    limits: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    max_step: Mapping[str, float] = field(default_factory=dict)
    max_rate_per_min: Mapping[str, float] = field(default_factory=lambda: {"CSTR.TC102.SP": 0.5})
    step_fraction: float = 0.10
    rate_fraction_per_min: float = 0.01
    max_staleness: dt.timedelta = dt.timedelta(minutes=10)
    event_grace: dt.timedelta = dt.timedelta(minutes=30)
    runaway_margin_k: float = 1.5
    settle_time: dt.timedelta = dt.timedelta(minutes=30)
    tolerance_fraction: float = 0.005

    def __post_init__(self) -> None:
        for name in ("step_fraction", "rate_fraction_per_min", "tolerance_fraction"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"Envelope.{name} must be a positive number, found {value!r}")
        if not (math.isfinite(self.runaway_margin_k) and self.runaway_margin_k >= 0):
            raise ValueError(f"Envelope.runaway_margin_k must be >= 0 K, found {self.runaway_margin_k!r}")
        for name in ("max_staleness", "event_grace", "settle_time"):
            if getattr(self, name) < dt.timedelta(0):
                raise ValueError(f"Envelope.{name} must not be negative, found {getattr(self, name)}")
        for name in ("max_step", "max_rate_per_min"):
            for tag, value in getattr(self, name).items():
                if not (math.isfinite(value) and value > 0):
                    raise ValueError(f"Envelope.{name}[{tag!r}] must be a positive number, found {value!r}")
        for tag, (lo, hi) in self.limits.items():
            if lo is not None and hi is not None and not lo < hi:
                raise ValueError(f"Envelope.limits[{tag!r}] must have low < high, found ({lo}, {hi})")

    def step_limit(self, spec: TagSpec) -> float:
        return float(self.max_step.get(spec.tag, self.step_fraction * (spec.range_max - spec.range_min)))

    def rate_limit(self, spec: TagSpec) -> float:
        return float(self.max_rate_per_min.get(spec.tag,
                                               self.rate_fraction_per_min * (spec.range_max - spec.range_min)))

    def tolerance(self, spec: TagSpec) -> float:
        return self.tolerance_fraction * (spec.range_max - spec.range_min)


@dataclass(frozen=True)
class Check:
    """One envelope check: passed or not, why (with the numbers), and a value worth keeping (the ramp)."""

    passed: bool
    detail: str
    value: float | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"passed": self.passed, "detail": self.detail}
        if self.value is not None:
            out["value"] = self.value
        return out


@dataclass(frozen=True)
class Outcome:
    """Where :func:`publish` left a write: its state, the reason recorded and the envelope's checks."""

    write_id: str
    state: str
    reason: str
    checks: Mapping[str, Check] = field(default_factory=dict)

    @property
    def failed_checks(self) -> dict[str, Check]:
        return {k: c for k, c in self.checks.items() if not c.passed}


# ---------------------------------------------------------------------------------------- helpers


def _utc(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError(f"now must be a timezone-aware UTC datetime, found naive {now.isoformat()}")
    return now.astimezone(dt.UTC)


def _iso(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _g(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _tags(plant_id: str) -> dict[str, TagSpec]:
    return {t.tag: t for t in get_plant(plant_id).TAGS}


def _plant_type(plant_id: str) -> str:
    from models.fleet import plant_type

    return plant_type(plant_id)


def is_writable(spec: TagSpec) -> bool:
    """A set point tag (name ending in ``.SP``): entered by operators, exported exactly (no noise)."""
    return spec.tag.endswith(".SP")


def _write_id(scenario_id: str, plant_id: str, day: dt.date, setpoint: str, value: float) -> str:
    """Stable id of the write of one recommendation: the same recommendation always gives the same id."""
    digest = hashlib.sha256(f"{scenario_id}|{plant_id}|{day.isoformat()}|{setpoint}|{value:.6f}".encode())
    return f"w-{plant_id}-{day:%Y%m%d}-{setpoint}-{digest.hexdigest()[:8]}"


def _rows(lake: Lake, write_id: str) -> list[dict[str, Any]]:
    """The audit rows of one write, by step; raises :class:`InvalidWriteRequest` if there are none."""
    rows = []
    if lake.exists(FCT_SETPOINT_WRITES):
        rows = lake.read(FCT_SETPOINT_WRITES, where={"write_id": write_id}).to_pylist()
    if not rows:
        raise InvalidWriteRequest(f"expected a write {write_id!r} in {FCT_SETPOINT_WRITES.name}, found none")
    return sorted(rows, key=lambda r: r["step"])


def _record(lake: Lake, rows: list[dict[str, Any]], *, state: str, at: dt.datetime, actor: str, reason: str,
            meta: CommitMeta, checks: Mapping[str, Check] | None = None, **values: Any) -> dict[str, Any]:
    """Append the write's next state (step = last + 1); ``values`` override from_value / to_value."""
    last = rows[-1]
    row = {**last, "step": last["step"] + 1, "state": state, "changed_at": at, "actor": actor, "reason": reason,
           "checks_json": json.dumps({k: c.as_json() for k, c in checks.items()}) if checks is not None else None,
           **values}
    lake.append(FCT_SETPOINT_WRITES, pa.Table.from_pylist([row], schema=FCT_SETPOINT_WRITES.schema), meta=meta)
    rows.append(row)
    log.info("write %s step %d: %s by %s (%s)", row["write_id"], row["step"], state, actor, reason)
    return row


def _expect(rows: list[dict[str, Any]], *states: str, action: str) -> None:
    state = rows[-1]["state"]
    if state not in states:
        raise InvalidWriteRequest(f"write {rows[-1]['write_id']}: {action} expects state {' or '.join(states)}, "
                                  f"found {state}")


# ---------------------------------------------------------------------------------------- readings


@dataclass(frozen=True)
class _Readback:
    """What silver says about a plant in a window: per tag the latest good value (tag engineering unit) and
    its time, and the newest reading of any tag (any quality)."""

    values: Mapping[str, float]
    times: Mapping[str, dt.datetime]
    newest: dt.datetime | None


def _readback(lake: Lake, plant_id: str, tags: Mapping[str, TagSpec], start: dt.datetime,
              end: dt.datetime) -> _Readback:
    """Silver readings of ``plant_id`` with ``start <= ts <= end``, read partition by partition (plant, days)."""
    if not lake.exists(SILVER_SENSOR_READINGS):
        return _Readback({}, {}, None)
    days = [start.date() + dt.timedelta(days=i) for i in range((end.date() - start.date()).days + 1)]
    ts_type = SILVER_SENSOR_READINGS.column("ts").type
    dataset = lake.dataset(SILVER_SENSOR_READINGS, files=[("plant_id", "=", plant_id), ("reading_date", "in", days)])
    table = dataset.to_table(
        columns=["tag", "ts", "value", "unit", "quality"],
        filter=(pc.field("plant_id") == plant_id) & (pc.field("ts") >= pa.scalar(start, ts_type))
        & (pc.field("ts") <= pa.scalar(end, ts_type)))
    if table.num_rows == 0:
        return _Readback({}, {}, None)
    newest = pc.max(table["ts"]).as_py()
    good = table.filter(pc.and_(pc.equal(table["quality"], "good"), pc.is_valid(table["value"])))
    good = good.filter(pc.is_in(good["tag"], pa.array(sorted(tags)))).sort_by([("tag", "ascending"),
                                                                              ("ts", "ascending")])
    values, times = {}, {}
    for row in good.to_pylist():  # ascending ts: the last row of a tag wins
        spec = tags[row["tag"]]
        values[row["tag"]] = float(convert(row["value"], row["unit"], spec.unit))
        times[row["tag"]] = row["ts"]
    return _Readback(values, times, newest)


def _newest_after(lake: Lake, plant_id: str, after: dt.datetime) -> dt.datetime | None:
    """The newest silver reading of ``plant_id`` (any tag, any quality) later than ``after``, else None."""
    if not lake.exists(SILVER_SENSOR_READINGS):
        return None
    ts_type = SILVER_SENSOR_READINGS.column("ts").type
    dataset = lake.dataset(SILVER_SENSOR_READINGS,
                           files=[("plant_id", "=", plant_id), ("reading_date", ">=", after.date())])
    table = dataset.to_table(columns=["ts"], filter=(pc.field("plant_id") == plant_id)
                             & (pc.field("ts") > pa.scalar(after, ts_type)))
    return pc.max(table["ts"]).as_py() if table.num_rows else None


def _stale(readback: _Readback, tag: str, now: dt.datetime, envelope: Envelope) -> str | None:
    """Why the latest good value of ``tag`` is too old to act on (older than ``max_staleness``), else None."""
    at = readback.times.get(tag)
    if at is None or now - at <= envelope.max_staleness:
        return None
    return (f"{tag} has no good reading since {_iso(at)}, {now - at} before {_iso(now)}, "
            f"max {envelope.max_staleness}")


# ------------------------------------------------------------------------------- model-based limits


@lru_cache(maxsize=64)
def _cstr_runaway_limit_k(ua: float, k0: float, flow_l_min: float | None, margin_k: float) -> tuple[float, str]:
    from optimization import cstr as opt

    params = replace(opt.plant.DEFAULT, UA=ua, k0=k0)
    bounds = None if flow_l_min is None else tuple(sorted((params.q, flow_l_min)))
    if bounds is not None and bounds[0] == bounds[1]:
        bounds = None
    limit = opt.runaway_limit_k(params, bounds, margin_k=margin_k)
    flows = f"q = {params.q:g} L/min" if bounds is None else f"q in [{bounds[0]:g}, {bounds[1]:g}] L/min"
    return limit, flows


def _cstr_tc102_limit(lake: Lake, plant_id: str, now: dt.datetime, readback: _Readback, spec: TagSpec,
                      envelope: Envelope) -> tuple[float | None, float | None, str]:
    """Upper limit of the TC102 set point: the runaway limit (ignition temperature minus the margin), degC."""
    from optimization import cstr as opt
    from optimization.pipeline import calibrated_parameters

    fitted, version = calibrated_parameters(lake, plant_id, now.date(), accepted=opt.CALIBRATED_PARAMETERS)
    flow = readback.values.get("CSTR.FI101")
    flow = None if flow is None or flow <= 0 else round(flow, 1)
    ua = float(fitted.get("UA", opt.plant.DEFAULT.UA))
    k0 = float(fitted.get("k0", opt.plant.DEFAULT.k0))
    limit_k, flows = _cstr_runaway_limit_k(ua, k0, flow, envelope.runaway_margin_k)
    hi = float(convert(limit_k, "K", spec.unit))
    return None, hi, (f"runaway limit {hi:.3f} {spec.unit} (ignition - {envelope.runaway_margin_k:g} K, "
                      f"{flows}, parameters {version})")


#: Model-based operating limits per set point tag: (lake, plant, now, readback, tag spec, envelope) ->
#: (low, high, detail) in the tag's engineering unit.
MODEL_LIMITS: dict[str, Callable[..., tuple[float | None, float | None, str]]] = {
    "CSTR.TC102.SP": _cstr_tc102_limit,
}


# ----------------------------------------------------------------------------------------- envelope


def _value_checks(lake: Lake, plant_id: str, spec: TagSpec, value: float, now: dt.datetime, readback: _Readback,
                  envelope: Envelope) -> dict[str, Check]:
    """Checks on the value alone: instrument range, operating limits, step from the last good value."""
    u = spec.unit
    out = {"instrument_range": Check(
        spec.range_min <= value <= spec.range_max,
        f"target {value:.4g} {u} {'within' if spec.range_min <= value <= spec.range_max else 'outside'} the "
        f"instrument range [{spec.range_min:g}, {spec.range_max:g}] {u} of {spec.tag}")}
    bounds: list[tuple[float | None, float | None, str]] = []
    if spec.tag in envelope.limits:
        lo, hi = envelope.limits[spec.tag]
        bounds.append((lo, hi, f"envelope limits [{_g(lo)}, {_g(hi)}] {u}"))
    if spec.tag in MODEL_LIMITS:
        bounds.append(MODEL_LIMITS[spec.tag](lake, plant_id, now, readback, spec, envelope))
    tol = 1e-9 * max(1.0, abs(value))  # the optimizer's optimum sits on the runaway limit itself
    broken = [d for lo, hi, d in bounds
              if (lo is not None and value < lo - tol) or (hi is not None and value > hi + tol)]
    if broken:
        out["operating_limits"] = Check(False, f"target {value:.4g} {u} breaks the " + "; ".join(broken))
    else:
        out["operating_limits"] = Check(True, f"target {value:.4g} {u} within " + (
            "; ".join(d for _, _, d in bounds) if bounds else "the instrument range (no tighter limits declared)"))
    last = readback.values.get(spec.tag)
    limit = envelope.step_limit(spec)
    if last is None:
        out["max_step"] = Check(False, f"no good reading of {spec.tag} in silver in the {READBACK_LOOKBACK} before "
                                       f"{_iso(now)}: no last good value to step from")
    elif (stale := _stale(readback, spec.tag, now, envelope)) is not None:
        out["max_step"] = Check(False, f"{stale}: the last good value {last:.4g} {u} is too old to step from")
    else:
        step = abs(value - last)
        out["max_step"] = Check(step <= limit + 1e-9, f"step {step:.4g} {u} from the last good value {last:.4g} {u} "
                                                      f"({_iso(readback.times[spec.tag])}), max {limit:.4g} {u}",
                                value=last)
    return out


def _interlocks(lake: Lake, write: Mapping[str, Any], plant_id: str, now: dt.datetime, readback: _Readback,
                tags: Mapping[str, TagSpec], envelope: Envelope) -> dict[str, Check]:
    out = {}
    # open events: the plant's partition of gold.fct_events
    blocking = []
    if lake.exists(FCT_EVENTS):
        ev = lake.read(FCT_EVENTS, where={"plant_id": plant_id},
                       columns=["event_id", "kind", "start_at", "end_at", "detail"]).to_pylist()
        since = now - envelope.event_grace
        blocking = [e for e in ev if e["kind"] in BLOCKING_EVENTS and e["start_at"] <= now
                    and (e["end_at"] is None or e["end_at"] > since)]
    if blocking:
        e = max(blocking, key=lambda e: e["start_at"])
        state = "open" if e["end_at"] is None else f"ended {_iso(e['end_at'])}, within the {envelope.event_grace} grace"
        out["no_open_event"] = Check(False, f"{len(blocking)} blocking event(s) on {plant_id}, latest {e['kind']} "
                                            f"{e['event_id']} since {_iso(e['start_at'])} ({state})")
    else:
        out["no_open_event"] = Check(True, f"no {' or '.join(BLOCKING_EVENTS)} event of {plant_id} open at "
                                           f"{_iso(now)} or ended within {envelope.event_grace}")
    # the plant's clock: not behind the plant's own data
    ahead = _newest_after(lake, plant_id, now)
    if ahead is not None:
        out["plant_clock"] = Check(False, f"plant time {_iso(now)} precedes the plant's newest reading {_iso(ahead)}; "
                                          "pass the plant's current time")
    else:
        out["plant_clock"] = Check(True, f"plant time {_iso(now)} not earlier than the plant's newest reading "
                                         f"({'none' if readback.newest is None else _iso(readback.newest)})")
    # stale data
    if readback.newest is None:
        out["fresh_data"] = Check(False, f"no silver reading of {plant_id} in the {READBACK_LOOKBACK} "
                                         f"before {_iso(now)}")
    else:
        age = now - readback.newest
        out["fresh_data"] = Check(age <= envelope.max_staleness,
                                  f"newest reading of {plant_id} at {_iso(readback.newest)}, {age} before now, "
                                  f"max {envelope.max_staleness}")
    # operating mode
    ptype = _plant_type(plant_id)
    rule = OPERATING_MODES.get(ptype)
    if rule is None:
        out["operating_mode"] = Check(False, f"no operating-mode rule declared for plant type {ptype!r} "
                                             f"(OPERATING_MODES has {sorted(OPERATING_MODES)}): writes are refused")
    elif rule.tag not in readback.values:
        out["operating_mode"] = Check(False, f"no good reading of {rule.tag} to tell the mode ({rule.why})")
    elif (stale := _stale(readback, rule.tag, now, envelope)) is not None:
        out["operating_mode"] = Check(False, f"{stale}: too old to tell the mode ({rule.why})")
    else:
        reading = float(convert(readback.values[rule.tag], tags[rule.tag].unit, rule.unit))
        out["operating_mode"] = Check(reading > rule.minimum, f"{rule.tag} = {reading:.4g} {rule.unit}, must exceed "
                                                              f"{rule.minimum:g} {rule.unit}: {rule.why}")
    # another write of the same tag still moving the plant
    busy = _in_flight(lake, plant_id, write["tag"], now, envelope, exclude=write["write_id"])
    out["no_write_in_flight"] = Check(not busy, ("; ".join(f"write {w} of {write['tag']} {why}" for w, why in busy))
                                      if busy else f"no other write of {write['tag']} in flight")
    return out


#: Outcomes of :func:`_exchange` after which the write may still reach the edge (sent, no ack or no PUBACK).
MAYBE_DELIVERED = ("timeout", "unconfirmed")


def _maybe_delivered(rows: list[dict[str, Any]], envelope: Envelope) -> tuple[dt.datetime, dt.datetime] | None:
    """For a write that ended ``failed`` after it (or its revert) was sent without an ack or PUBACK: (the time
    it was sent, its settle deadline); None for any other write.

    Publish failures are ``published`` then ``failed`` by Nexus (an edge rejection is recorded by the edge, a
    broker unreachable before sending has no ``published`` row); a revert sent without an answer is
    ``acknowledged`` then ``failed`` by Nexus, its outcome (:data:`MAYBE_DELIVERED`) named in the reason.
    """
    last = rows[-1]
    if last["state"] != "failed" or last["actor"] != NEXUS or len(rows) < 2:
        return None
    prev = rows[-2]
    if prev["state"] == "published":
        sent = prev["changed_at"]
    elif prev["state"] == "acknowledged" and re.search(
            rf"revert write {re.escape(last['write_id'])}\.revert to .* ({'|'.join(MAYBE_DELIVERED)}): ",
            last["reason"] or ""):
        sent = last["changed_at"]  # the revert went out just before its failure was recorded
    else:
        return None
    published = next(r for r in reversed(rows) if r["state"] == "published")
    ramp = float(json.loads(published["checks_json"])["ramp_rate"]["value"])
    held = published["from_value"]
    ramp_min = 0.0 if held is None else abs(float(published["to_value"]) - float(held)) / ramp
    return sent, sent + dt.timedelta(minutes=ramp_min) + envelope.settle_time


def _in_flight(lake: Lake, plant_id: str, tag: str, now: dt.datetime, envelope: Envelope, *,
               exclude: str) -> list[tuple[str, str]]:
    """Writes of ``tag`` in flight at ``now`` (``no_write_in_flight`` in the module docstring): (write id, why)."""
    if not lake.exists(FCT_SETPOINT_WRITES):
        return []
    by_id: dict[str, list[dict[str, Any]]] = {}
    for r in lake.read(FCT_SETPOINT_WRITES, where={"plant_id": plant_id}).to_pylist():
        if r["tag"] == tag and r["write_id"] != exclude:
            by_id.setdefault(r["write_id"], []).append(r)
    for rows in by_id.values():
        rows.sort(key=lambda r: r["step"])
    confirmed_sent = [r["changed_at"] for rows in by_id.values() if rows[-1]["state"] == "confirmed"
                      for r in rows if r["state"] == "published"]
    busy = []
    for wid, rows in sorted(by_id.items()):
        state = rows[-1]["state"]
        if state in ("published", "acknowledged"):
            busy.append((wid, f"{state}, not yet confirmed or reverted"))
            continue
        maybe = _maybe_delivered(rows, envelope)
        if maybe is None:
            continue
        sent, deadline = maybe
        if now >= deadline or any(t > sent for t in confirmed_sent):
            continue
        busy.append((wid, f"failed at {_iso(rows[-1]['changed_at'])} after it was sent ({rows[-1]['reason']}): "
                          f"it may still reach the plant, in flight until its settle deadline {_iso(deadline)}"))
    return busy


def _evaluate(lake: Lake, rows: list[dict[str, Any]], now: dt.datetime, envelope: Envelope,
              ramp_per_min: float | None) -> tuple[dict[str, Check], _Readback]:
    last = rows[-1]
    plant_id, tags = last["plant_id"], _tags(last["plant_id"])
    spec = tags[last["tag"]]
    readback = _readback(lake, plant_id, tags, now - READBACK_LOOKBACK, now)
    approval = next((r for r in reversed(rows) if r["state"] == "approved"), None)
    checks = {"approved": Check(last["state"] == "approved",
                                f"approved by {approval['actor']} at {_iso(approval['changed_at'])}"
                                if last["state"] == "approved" and approval else
                                f"state is {last['state']}: only an approved write may be published")}
    checks |= _value_checks(lake, plant_id, spec, float(last["to_value"]), now, readback, envelope)
    limit = envelope.rate_limit(spec)
    ramp = limit if ramp_per_min is None else float(ramp_per_min)
    ok = math.isfinite(ramp) and 0 < ramp <= limit + 1e-12
    checks["ramp_rate"] = Check(ok, f"ramp {ramp:.4g} {spec.unit}/min, max {limit:.4g} {spec.unit}/min", value=ramp)
    checks |= _interlocks(lake, last, plant_id, now, readback, tags, envelope)
    return checks, readback


def check(lake: Lake, write_id: str, *, now: dt.datetime, envelope: Envelope = Envelope(),
          ramp_per_min: float | None = None) -> dict[str, Check]:
    """The safety envelope of a write at ``now`` (see the module docstring); reads only, records nothing.

    Args:
        ramp_per_min: ramp to ask of the edge, tag unit per minute; default the envelope's maximum.

    Returns:
        check name -> :class:`Check`; the write may be published only if every one passed.
    """
    checks, _ = _evaluate(lake, _rows(lake, write_id), _utc(now), envelope, ramp_per_min)
    return checks


# ------------------------------------------------------------------------------------ state changes


def propose(lake: Lake, plant_id: str, day: dt.date, *, scenario_id: str = "base", meta: CommitMeta,
            now: dt.datetime | None = None, actor: str = NEXUS) -> list[str]:
    """One ``proposed`` write per recommended setpoint of ``(scenario, plant, day)`` that maps to a set point tag.

    ``from_value`` is the recommendation's current value and ``to_value`` its recommended value, both
    converted to the tag's engineering unit. Idempotent: a recommendation already proposed keeps its
    write (same id, no new row). ``actor`` is who proposed (an engineer's name in the console; default
    ``nexus``, the pipeline).

    Returns:
        The write ids of the day's writable recommendations, new and existing.

    Raises:
        InvalidWriteRequest: the day has no recommendation for the plant.
    """
    from optimization.plants import plant_optimizer

    now = _utc(now)
    who = _operator(actor)
    module = plant_optimizer(plant_id)
    tags = _tags(plant_id)
    recs = lake.read(FCT_SETPOINT_RECOMMENDATIONS, where={"scenario_id": scenario_id, "plant_id": plant_id,
                                                          "recommendation_date": day}).to_pylist()
    if not recs:
        raise InvalidWriteRequest(f"expected recommendations of {plant_id} for {day} (scenario {scenario_id}) in "
                                  f"{FCT_SETPOINT_RECOMMENDATIONS.name}, found none")
    existing: set[str] = set()
    if lake.exists(FCT_SETPOINT_WRITES):
        existing = set(lake.read(FCT_SETPOINT_WRITES, where={"plant_id": plant_id, "recommendation_date": day},
                                 columns=["write_id"]).column("write_id").to_pylist())
    ids, new = [], []
    for rec in sorted(recs, key=lambda r: r["setpoint"]):
        name = rec["setpoint"]
        mapped = getattr(module, "SETPOINT_TAGS", {}).get(name)
        if mapped is None:
            log.info("%s %s: setpoint %s has no historian tag in SETPOINT_TAGS: not writable, skipped",
                     plant_id, day, name)
            continue
        tag, factor = mapped
        spec = tags[tag]
        if not is_writable(spec):
            log.info("%s %s: setpoint %s maps to %s, a measurement (%s), not a set point tag: not writable, skipped",
                     plant_id, day, name, tag, spec.description)
            continue
        # SETPOINT_TAGS: setpoint = tag value (canonical unit) x factor; with factor 1 the row's own unit holds
        source = rec["unit"] if factor == 1.0 else spec.canonical_unit
        to_value = float(convert(rec["recommended_value"] / factor, source, spec.unit))
        from_value = (None if rec["current_value"] is None
                      else float(convert(rec["current_value"] / factor, source, spec.unit)))
        wid = _write_id(scenario_id, plant_id, day, name, float(rec["recommended_value"]))
        ids.append(wid)
        if wid in existing:
            log.info("%s %s: %s already proposed as %s", plant_id, day, name, wid)
            continue
        new.append({
            "write_id": wid, "step": 1, "state": "proposed", "changed_at": now, "actor": who,
            "plant_id": plant_id,
            "tag": tag, "setpoint": name, "unit": spec.unit, "from_value": from_value, "to_value": to_value,
            "reason": (f"recommendation {scenario_id} {day}: {name} {_g(rec['current_value'])} -> "
                       f"{rec['recommended_value']:.6g} {rec['unit']}, expected {rec['delta_profit_usd_h']:+.2f} USD/h "
                       f"and {rec['delta_co2e_kg_h']:+.3f} kg CO2e/h ({rec['model_version']})"),
            "checks_json": None, "recommendation_date": day, "scenario_id": scenario_id})
    if new:
        lake.append(FCT_SETPOINT_WRITES, pa.Table.from_pylist(new, schema=FCT_SETPOINT_WRITES.schema), meta=meta)
    return ids


def _operator(operator: str) -> str:
    if not isinstance(operator, str) or not operator.strip():
        raise InvalidWriteRequest(f"expected the operator's identity (non-empty), found {operator!r}")
    return operator.strip()


def approve(lake: Lake, write_id: str, *, operator: str, reason: str = "", meta: CommitMeta,
            now: dt.datetime | None = None) -> str:
    """An operator approves a ``proposed`` write (state ``approved``); returns the state."""
    rows = _rows(lake, write_id)
    who = _operator(operator)
    _expect(rows, "proposed", action="approve")
    _record(lake, rows, state="approved", at=_utc(now), actor=who, reason=reason.strip() or "approved", meta=meta)
    return "approved"


def reject(lake: Lake, write_id: str, *, operator: str, reason: str, meta: CommitMeta,
           now: dt.datetime | None = None) -> str:
    """An operator rejects a ``proposed`` write, saying why (state ``rejected``); returns the state."""
    rows = _rows(lake, write_id)
    who = _operator(operator)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidWriteRequest(f"rejecting {write_id} expects a reason, found {reason!r}")
    _expect(rows, "proposed", action="reject")
    _record(lake, rows, state="rejected", at=_utc(now), actor=who, reason=reason.strip(), meta=meta)
    return "rejected"


# ---------------------------------------------------------------------------------------------- MQTT


class _EdgeLink:
    """One MQTT v5 session to the broker for one exchange: subscribed to the plant's ack topic before
    anything is published, then a write out (QoS 1, PUBACK awaited) and the edge's ack in."""

    def __init__(self, host: str, port: int, ack_topic: str, timeout_s: float) -> None:
        import paho.mqtt.client as mqtt

        self.host, self.port, self.ack_topic, self.timeout_s = host, int(port), ack_topic, float(timeout_s)
        self.acks: queue.Queue[bytes] = queue.Queue()
        self._connected, self._subscribed = threading.Event(), threading.Event()
        self._connect_rc: Any = None
        self._sub_rc: list[Any] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"nexus-writeback-{uuid.uuid4().hex[:12]}", protocol=mqtt.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda client, userdata, msg: self.acks.put(msg.payload)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connect_rc = reason_code
        self._connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._sub_rc = list(reason_codes)
        self._subscribed.set()

    def __enter__(self) -> _EdgeLink:
        wait = min(self.timeout_s, 10.0) if self.timeout_s > 0 else 10.0
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise ConnectionError(f"broker {self.host}:{self.port} unreachable: {exc}") from None
        self.client.loop_start()
        try:
            if not self._connected.wait(wait):
                raise ConnectionError(f"broker {self.host}:{self.port} did not accept the connection within {wait:g} s")
            if self._connect_rc.is_failure:
                raise ConnectionError(f"broker {self.host}:{self.port} refused the connection: {self._connect_rc}")
            self.client.subscribe(self.ack_topic, qos=1)
            if not self._subscribed.wait(wait) or any(rc.is_failure for rc in self._sub_rc):
                raise ConnectionError(f"broker {self.host}:{self.port} did not grant the subscription to "
                                      f"{self.ack_topic}: {self._sub_rc}")
        except BaseException:
            self.__exit__()
            raise
        return self

    def send(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        try:
            info.wait_for_publish(min(self.timeout_s, 10.0) if self.timeout_s > 0 else 10.0)
        except (RuntimeError, ValueError) as exc:
            raise ConnectionError(f"publishing to {topic} failed: {exc}") from None
        if not info.is_published():
            raise ConnectionError(f"the broker did not confirm (PUBACK) the write on {topic}")

    def await_ack(self, wire_id: str, plant_id: str, deadline: float) -> wire.Ack | None:
        """The first ack (accepted, rejected or done) of ``wire_id`` before ``deadline`` (monotonic), else None."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                payload = self.acks.get(timeout=remaining)
            except queue.Empty:
                return None
            try:
                ack = wire.decode_ack(payload)
            except wire.WireError as exc:
                log.warning("ignored a malformed ack on %s: %s", self.ack_topic, exc)
                continue
            if ack.write_id == wire_id and ack.plant_id == plant_id:
                return ack

    def __exit__(self, *exc: Any) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


def _exchange(write: wire.Write, *, broker_host: str, broker_port: int, timeout_s: float,
              on_sent: Callable[[bool], None]) -> tuple[str, wire.Ack | None, float, str]:
    """Send ``write`` to its plant's edge and wait for the ack.

    Returns ``(outcome, ack, seconds waited, detail)``, outcome one of ``unreachable`` (nothing sent),
    ``unconfirmed`` (sent, but the broker's PUBACK did not come: it may still be delivered),
    ``accepted``, ``rejected``, ``timeout`` (sent, no ack). ``on_sent(confirmed)`` runs once the write
    left Nexus: ``confirmed`` True when the broker confirmed it, False when the PUBACK is missing.
    """
    from models.fleet import get_instance

    inst = get_instance(write.plant_id)
    topics = (wire.write_topic(inst.enterprise, inst.site.site_id, write.plant_id),
              wire.ack_topic(inst.enterprise, inst.site.site_id, write.plant_id))
    t0 = time.monotonic()
    try:
        link = _EdgeLink(broker_host, broker_port, topics[1], timeout_s).__enter__()
    except ConnectionError as exc:
        return "unreachable", None, time.monotonic() - t0, str(exc)
    try:
        try:
            link.send(topics[0], wire.encode_write(write))
        except ConnectionError as exc:
            on_sent(False)
            return "unconfirmed", None, time.monotonic() - t0, str(exc)
        on_sent(True)
        ack = link.await_ack(write.write_id, write.plant_id, t0 + timeout_s)
    finally:
        link.__exit__()
    waited = time.monotonic() - t0
    if ack is None:
        return "timeout", None, waited, f"no acknowledgement within {timeout_s:g} s"
    if ack.status == "rejected":
        return "rejected", ack, waited, ack.reason or "(no reason given)"
    return "accepted", ack, waited, f"edge {ack.status} at {_iso(dt.datetime.fromtimestamp(ack.at_us / 1e6, dt.UTC))}"


_us = wire.to_us


def publish(lake: Lake, write_id: str, *, broker_host: str, broker_port: int, now: dt.datetime, meta: CommitMeta,
            timeout_s: float = 10.0, envelope: Envelope = Envelope(), ramp_per_min: float | None = None) -> Outcome:
    """Check an ``approved`` write against the envelope and, only if every check passes, publish it.

    The write goes out as ``nexus.write/1`` on the plant's write topic at QoS 1 with the ramp, after
    subscribing to the ack topic; then: ``published`` (sent; ``from_value`` the set point read back
    from silver; the reason says when the broker's PUBACK did not come, and the write then ends
    ``failed``), and ``acknowledged`` on the edge's ``accepted`` (or ``done``) ack, ``failed`` on
    ``rejected`` (the edge's reason) or when no ack came within ``timeout_s``. A write ``failed``
    after ``published`` by Nexus may still reach the edge and blocks other writes of its tag until
    its settle deadline (``no_write_in_flight``). A broker unreachable before sending records
    ``failed`` with no ``published`` row. A failed check records ``refused`` with the reasons, and
    nothing reaches the broker.

    Raises:
        InvalidWriteRequest: the write is not ``approved`` (nothing is recorded or sent).
    """
    now = _utc(now)
    rows = _rows(lake, write_id)
    _expect(rows, "approved", action="publish")
    checks, readback = _evaluate(lake, rows, now, envelope, ramp_per_min)
    failed = {k: c for k, c in checks.items() if not c.passed}
    if failed:
        reason = "; ".join(f"{k}: {c.detail}" for k, c in failed.items())
        _record(lake, rows, state="refused", at=now, actor=NEXUS, reason=reason, meta=meta, checks=checks)
        return Outcome(write_id, "refused", reason, checks)
    last = rows[-1]
    ramp = checks["ramp_rate"].value
    held = readback.values[last["tag"]]
    approval = next(r for r in reversed(rows) if r["state"] == "approved")
    w = wire.Write(write_id=write_id, plant_id=last["plant_id"], tag=last["tag"], value=float(last["to_value"]),
                   unit=last["unit"], ramp_per_min=ramp, issued_at_us=_us(now), issued_by=approval["actor"])
    sent_reason = (f"to {w.value:.4g} {w.unit} from {held:.4g} {w.unit} at {ramp:.4g} {w.unit}/min, "
                   f"approved by {approval['actor']}")

    def on_sent(confirmed: bool) -> None:
        reason = sent_reason if confirmed else f"{sent_reason}; the broker did not confirm it (no PUBACK)"
        _record(lake, rows, state="published", at=now, actor=NEXUS, reason=reason, meta=meta, checks=checks,
                from_value=held)

    outcome, ack, waited, detail = _exchange(w, broker_host=broker_host, broker_port=broker_port,
                                             timeout_s=timeout_s, on_sent=on_sent)
    at = now + dt.timedelta(seconds=waited)
    if outcome == "accepted":
        state, actor, reason = "acknowledged", EDGE, detail
    elif outcome == "rejected":
        state, actor, reason = "failed", EDGE, f"edge rejected the write: {detail}"
    else:
        state, actor, reason = "failed", NEXUS, detail
    _record(lake, rows, state=state, at=at, actor=actor, reason=reason, meta=meta)
    return Outcome(write_id, state, reason, checks)


def confirm(lake: Lake, write_id: str, *, now: dt.datetime, meta: CommitMeta, tolerance: float | None = None,
            envelope: Envelope = Envelope(), broker_host: str = "127.0.0.1", broker_port: int = 1883,
            timeout_s: float = 10.0) -> str:
    """Read back an ``acknowledged`` write from silver: ``confirmed``, ``pending``, ``reverted`` or ``failed``.

    Confirmed when the set point tag's latest good reading since publication (up to ``now``, at most
    the settle deadline) is within ``tolerance`` of the target (default ``Envelope.tolerance``: 0.5 %
    of span, 0.75 degC for TC102.SP) and so is its process value (:data:`PROCESS_VALUES`). The
    settle deadline is the ack's time + ramp time (``|to - from| / ramp``) + ``Envelope.settle_time``.
    Before it, a plant not yet there leaves the write as it is (``pending``); after it, a revert write
    to the published ``from_value`` goes out (same ramp, ack wait) and the write ends ``reverted``,
    or ``failed`` if the revert is refused by the envelope's value checks, rejected or unanswered.
    A write already confirmed or reverted returns its state unchanged.

    Raises:
        InvalidWriteRequest: the write is in another state than acknowledged, confirmed or reverted.
    """
    now = _utc(now)
    rows = _rows(lake, write_id)
    if rows[-1]["state"] in ("confirmed", "reverted"):
        return rows[-1]["state"]
    _expect(rows, "acknowledged", action="confirm")
    last = rows[-1]
    published = next(r for r in reversed(rows) if r["state"] == "published")
    plant_id, tags = last["plant_id"], _tags(last["plant_id"])
    spec = tags[last["tag"]]
    target, held = float(last["to_value"]), published["from_value"]
    ramp = json.loads(published["checks_json"])["ramp_rate"]["value"]
    ramp_min = 0.0 if held is None else abs(target - held) / ramp
    deadline = last["changed_at"] + dt.timedelta(minutes=ramp_min) + envelope.settle_time
    tol = envelope.tolerance(spec) if tolerance is None else float(tolerance)
    pv = PROCESS_VALUES.get(spec.tag)
    wanted = {spec.tag: spec} | ({pv: tags[pv]} if pv else {})
    readback = _readback(lake, plant_id, wanted, published["changed_at"], min(now, deadline))
    sp_value = readback.values.get(spec.tag)
    pv_value = None if pv is None or pv not in readback.values else float(
        convert(readback.values[pv], tags[pv].unit, spec.unit))
    sp_ok = sp_value is not None and abs(sp_value - target) <= tol
    pv_ok = pv is None or (pv_value is not None and abs(pv_value - target) <= tol)
    seen = (f"{spec.tag} reads {_g(sp_value)} {spec.unit}" + (f", {pv} reads {_g(pv_value)} {spec.unit}" if pv else "")
            + f"; target {target:.4g} +- {tol:.3g} {spec.unit}, settle deadline {_iso(deadline)}")
    if sp_ok and pv_ok:
        _record(lake, rows, state="confirmed", at=now, actor=NEXUS, reason=f"readback: {seen}", meta=meta)
        return "confirmed"
    if now < deadline:
        log.info("write %s pending: %s", write_id, seen)
        return "pending"
    if held is None:
        _record(lake, rows, state="failed", at=now, actor=NEXUS, meta=meta,
                reason=f"plant did not reach the target ({seen}) and no last good value to revert to")
        return "failed"
    # revert to the last good value, through the value checks of the envelope
    full = _readback(lake, plant_id, tags, now - READBACK_LOOKBACK, now)
    checks = _value_checks(lake, plant_id, spec, float(held), now, full, envelope)
    checks.pop("max_step")  # the revert returns to a value the plant held: no step limit on the way back
    bad = {k: c for k, c in checks.items() if not c.passed}
    if bad:
        _record(lake, rows, state="failed", at=now, actor=NEXUS, meta=meta, checks=checks,
                reason=f"plant did not reach the target ({seen}); revert to {held:.4g} {spec.unit} refused: "
                       + "; ".join(f"{k}: {c.detail}" for k, c in bad.items()))
        return "failed"
    revert_id = f"{write_id}.revert"
    w = wire.Write(write_id=revert_id, plant_id=plant_id, tag=spec.tag, value=float(held), unit=spec.unit,
                   ramp_per_min=ramp, issued_at_us=_us(now), issued_by=NEXUS)
    outcome, _, waited, detail = _exchange(w, broker_host=broker_host, broker_port=broker_port, timeout_s=timeout_s,
                                           on_sent=lambda confirmed: None)
    at = now + dt.timedelta(seconds=waited)
    if outcome == "accepted":
        _record(lake, rows, state="reverted", at=at, actor=NEXUS, meta=meta, checks=checks,
                from_value=target, to_value=float(held),
                reason=f"plant did not reach the target by the settle deadline ({seen}); reverted to the last good "
                       f"value {held:.4g} {spec.unit} by write {revert_id} at {ramp:.4g} {spec.unit}/min ({detail})")
        return "reverted"
    _record(lake, rows, state="failed", at=at, actor=NEXUS if outcome != "rejected" else EDGE, meta=meta,
            checks=checks, reason=f"plant did not reach the target ({seen}); revert write {revert_id} to "
                                  f"{held:.4g} {spec.unit} {outcome}: {detail}")
    return "failed"


def writes(lake: Lake, *, plant_id: str | None = None, state: str | None = None) -> pa.Table:
    """The latest state of each write (optionally of one plant, or only those now in ``state``), oldest first."""
    schema = FCT_SETPOINT_WRITES.schema
    if not lake.exists(FCT_SETPOINT_WRITES):
        return schema.empty_table()
    table = lake.read(FCT_SETPOINT_WRITES, where={"plant_id": plant_id} if plant_id else None)
    if table.num_rows == 0:
        return table
    last = table.group_by("write_id").aggregate([("step", "max")]).rename_columns(["write_id", "step"])
    latest = table.join(last, keys=["write_id", "step"], join_type="inner").select(schema.names)
    if state is not None:
        latest = latest.filter(pc.equal(latest["state"], state))
    return latest.sort_by([("changed_at", "ascending"), ("write_id", "ascending")])


# ----------------------------------------------------------------------------------------------- CLI


def _print_rows(rows: Sequence[Mapping[str, Any]], out=None) -> None:
    out = out or sys.stdout
    for r in rows:
        print(f"{r['write_id']}  step {r['step']}  {r['state']:<12} {_iso(r['changed_at'])}  {r['plant_id']} {r['tag']} "
              f"{_g(r['from_value'])} -> {_g(r['to_value'])} {r['unit']}  by {r['actor']}: {r['reason']}", file=out)


PLANT_TIME_HELP = ("the plant's clock (ISO 8601 UTC) for the envelope's checks and the audit, default now; for an "
                   "accelerated twin (nexus edge --factor) or a replay, its current time. The envelope refuses a "
                   "plant time earlier than the plant's newest reading in silver (check plant_clock)")


def _utc_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"--plant-time needs a UTC offset (e.g. 2026-03-04T02:00:00Z), found {text!r}")
    return value.astimezone(dt.UTC)


def main(argv: list[str] | None = None) -> int:
    """``setpoints`` commands: list, propose, approve (then check and publish), reject, confirm.

    Exit codes: 0 done (confirm: confirmed or still pending), 2 refused or invalid request, 1 failed
    (no ack, edge rejected, or the write was reverted).
    """
    from nexus.settings import get_settings, mqtt_broker

    parser = argparse.ArgumentParser(prog="nexus setpoints", description="Setpoint write-back with a safety envelope.")
    parser.add_argument("--lake", help="lake root (default: the settings' lake)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="latest state of each write")
    p.add_argument("--plant")
    p.add_argument("--state")
    p = sub.add_parser("propose", help="propose the day's recommended setpoints as writes")
    p.add_argument("--plant", required=True)
    p.add_argument("--date", required=True, type=dt.date.fromisoformat)
    p.add_argument("--scenario", default="base")
    p = sub.add_parser("approve", help="approve a write, check it against the envelope and publish it")
    p.add_argument("write_id")
    p.add_argument("--operator", required=True)
    p.add_argument("--reason", default="")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the edge's ack")
    p.add_argument("--plant-time", type=_utc_time, help=PLANT_TIME_HELP)
    p = sub.add_parser("reject", help="reject a proposed write")
    p.add_argument("write_id")
    p.add_argument("--operator", required=True)
    p.add_argument("--reason", required=True)
    p = sub.add_parser("confirm", help="confirm an acknowledged write by readback, or revert it")
    p.add_argument("write_id")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--plant-time", type=_utc_time, help=PLANT_TIME_HELP)
    args = parser.parse_args(argv)

    lake = Lake(args.lake) if args.lake else Lake(get_settings().lake_root)
    now = dt.datetime.now(dt.UTC)
    meta = CommitMeta("nexus-cli", f"setpoints_{args.command}__{now:%Y%m%dT%H%M%S%fZ}", "writeback")
    try:
        if args.command == "list":
            _print_rows(writes(lake, plant_id=args.plant, state=args.state).to_pylist())
            return 0
        if args.command == "propose":
            for wid in propose(lake, args.plant, args.date, scenario_id=args.scenario, meta=meta, now=now):
                print(wid)
            return 0
        if args.command == "reject":
            print(reject(lake, args.write_id, operator=args.operator, reason=args.reason, meta=meta, now=now))
            return 0
        host, port = mqtt_broker()
        if args.plant_time is not None:
            now = args.plant_time
        if args.command == "approve":
            print(approve(lake, args.write_id, operator=args.operator, reason=args.reason, meta=meta, now=now))
            outcome = publish(lake, args.write_id, broker_host=host, broker_port=port,
                              now=args.plant_time or dt.datetime.now(dt.UTC), meta=meta, timeout_s=args.timeout)
            for r in _rows(lake, args.write_id):
                if r["state"] not in ("proposed", "approved"):
                    print(f"{r['state']}: {r['reason']}")
            for name, c in outcome.failed_checks.items():
                print(f"  failed check {name}: {c.detail}")
            return {"acknowledged": 0, "refused": 2}.get(outcome.state, 1)
        state = confirm(lake, args.write_id, now=now, meta=meta, broker_host=host, broker_port=port,
                        timeout_s=args.timeout)
        print(f"{state}: {_rows(lake, args.write_id)[-1]['reason']}" if state != "pending" else state)
        return 0 if state in ("confirmed", "pending") else 1
    except (NexusError, KeyError, ValueError) as exc:
        print(f"nexus setpoints {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
