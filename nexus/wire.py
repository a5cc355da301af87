"""The live path's wire contract: MQTT topics and JSON payloads between plant edges and Nexus.

One module, imported by both sides (:mod:`nexus.edge` on the plant side, :mod:`etl.stream` and
:mod:`optimization.writeback` on Nexus's side), so the contract cannot drift between them::

    from nexus import wire
    topic = wire.data_topic("nexus", "de_chempark", "cstr", "reactor")  # nexus/v1/nexus/de_chempark/cstr/reactor/data
    payload = wire.encode_data(edge="edge-a", plant_id="cstr", unit="reactor", seq=7, sent_at_us=...,
                               points=[("CSTR.TI102", ts_us, 65.21, 192)])
    message = wire.decode_data(payload)  # raises wire.WireError with the reason on a malformed payload

**Why JSON and not Sparkplug B.** Sparkplug B (Eclipse Tahu) carries protobuf payloads and a host
state machine (NBIRTH/DBIRTH/NDEATH certificates, ``bdSeq``, rebirth requests); there is no
well-kept Python implementation of the host side on PyPI, its payloads cannot be read with
``mosquitto_sub``, and Nexus needs only three of its ideas, which this contract keeps: a topic
namespace that follows the asset hierarchy, one message per *device* (here: unit operation)
carrying many metrics with their own timestamps and qualities, and a per-stream sequence number
with retained birth and last-will state messages. A schema version is part of every topic
(``nexus/v1/...``) and payload (``"schema"``), so a v2 can run beside v1.

**Topics** (``<e>/<s>/<p>`` = enterprise / site / plant instance, as in ``gold.dim_assets``)::

    nexus/v1/<e>/<s>/<p>/<unit>/data   QoS 1       readings of one unit operation   edge -> Nexus
    nexus/v1/<e>/<s>/<p>/birth         QoS 1, kept  the edge's tag list when it starts edge -> Nexus
    nexus/v1/<e>/<s>/<p>/state         QoS 1, kept  online | offline (also the will)    edge -> Nexus
    nexus/v1/<e>/<s>/<p>/write         QoS 1       a checked setpoint write         Nexus -> edge
    nexus/v1/<e>/<s>/<p>/ack           QoS 1       the edge's answer to a write     edge -> Nexus

**Data payload** (``nexus.data/1``)::

    {"schema": "nexus.data/1", "edge": "edge-a", "epoch": "3f9c2a", "plant_id": "cstr", "unit": "reactor",
     "seq": 7, "sent_at": 1733457600123456,
     "points": [["CSTR.TI102", 1733457600000000, 65.21, 192], ...]}

``points`` are ``[tag, ts, value, quality]``: ``ts`` in microseconds since 1970-01-01 UTC,
``value`` in the tag's engineering unit (the tag catalog's ``unit``; ``null`` when there is none,
never NaN), ``quality`` the OPC DA code 0–255 (192 good, 64 uncertain, 0 bad), as the historian
exports them. ``seq`` counts the messages of one *stream* — (edge, epoch, plant, unit) — from 1, by
one, and survives edge restarts (the edge keeps it with its store-and-forward buffer): a message
delivered twice (QoS 1 is at-least-once) carries the same ``(stream, seq)``, which is the
collector's deduplication key. ``epoch`` (optional, ``[A-Za-z0-9]{1,32}``) names the edge's buffer:
an edge whose buffer was lost or recreated starts a new epoch, so its ``seq`` restarting at 1 is a
new stream, not a redelivery of the old one's messages.

**Write payload** (``nexus.write/1``) and **ack payload** (``nexus.ack/1``)::

    {"schema": "nexus.write/1", "write_id": "w-...", "plant_id": "cstr", "tag": "CSTR.TC102.SP",
     "value": 62.5, "unit": "degC", "ramp_per_min": 0.5, "issued_at": <us>, "issued_by": "alice"}
    {"schema": "nexus.ack/1", "write_id": "w-...", "plant_id": "cstr", "status": "accepted",
     "reason": "", "at": <us>, "value": 62.5}

``status`` is ``accepted`` (the edge started moving the setpoint), ``rejected`` (with a reason:
an unknown or read-only tag, a value outside the instrument range) or ``done`` (the ramp reached
the target).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

VERSION = "v1"
ROOT = f"nexus/{VERSION}"
DATA_SCHEMA, WRITE_SCHEMA, ACK_SCHEMA, BIRTH_SCHEMA, STATE_SCHEMA = (
    "nexus.data/1", "nexus.write/1", "nexus.ack/1", "nexus.birth/1", "nexus.state/1")
#: Subscription of a collector: every unit's data of every plant.
DATA_FILTER = f"{ROOT}/+/+/+/+/data"
#: Subscription of Nexus to the edges' answers to writes.
ACK_FILTER = f"{ROOT}/+/+/+/ack"
ACK_STATUSES = ("accepted", "rejected", "done")

Point = tuple[str, int, float | None, int]

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICROSECOND = dt.timedelta(microseconds=1)


def to_us(t: dt.datetime) -> int:
    """A tz-aware datetime as the contract's time: whole microseconds since 1970-01-01 UTC (exact)."""
    return (t - EPOCH) // _MICROSECOND


def from_us(us: int) -> dt.datetime:
    """The contract's time as a UTC datetime."""
    return EPOCH + dt.timedelta(microseconds=us)


def now_us() -> int:
    """Wall-clock time now in the contract's unit."""
    return time.time_ns() // 1000


class WireError(ValueError):
    """A topic or payload that breaks the contract; the message says what was expected and found."""


def _level(name: str, value: str) -> str:
    if not isinstance(value, str) or not value or any(c in value for c in "/+#\0"):
        raise WireError(f"{name} must be a non-empty topic level without '/', '+', '#', found {value!r}")
    return value


def plant_topic(enterprise: str, site: str, plant_id: str) -> str:
    """``nexus/v1/<enterprise>/<site>/<plant_id>``: the prefix of every topic of one plant instance."""
    return "/".join((ROOT, _level("enterprise", enterprise), _level("site", site), _level("plant_id", plant_id)))


def data_topic(enterprise: str, site: str, plant_id: str, unit: str) -> str:
    return f"{plant_topic(enterprise, site, plant_id)}/{_level('unit', unit)}/data"


def birth_topic(enterprise: str, site: str, plant_id: str) -> str:
    return f"{plant_topic(enterprise, site, plant_id)}/birth"


def state_topic(enterprise: str, site: str, plant_id: str) -> str:
    return f"{plant_topic(enterprise, site, plant_id)}/state"


def write_topic(enterprise: str, site: str, plant_id: str) -> str:
    return f"{plant_topic(enterprise, site, plant_id)}/write"


def ack_topic(enterprise: str, site: str, plant_id: str) -> str:
    return f"{plant_topic(enterprise, site, plant_id)}/ack"


def parse_topic(topic: str) -> dict[str, str]:
    """The hierarchy in a topic: ``enterprise``, ``site``, ``plant_id``, ``kind`` and, for data, ``unit``."""
    parts = topic.split("/")
    if parts[:2] != ROOT.split("/"):
        raise WireError(f"topic must start with {ROOT}/, found {topic!r}")
    rest = parts[2:]
    if len(rest) == 5 and rest[4] == "data":
        return {"enterprise": rest[0], "site": rest[1], "plant_id": rest[2], "unit": rest[3], "kind": "data"}
    if len(rest) == 4 and rest[3] in ("birth", "state", "write", "ack"):
        return {"enterprise": rest[0], "site": rest[1], "plant_id": rest[2], "kind": rest[3]}
    raise WireError(f"topic {topic!r} is none of {ROOT}/<e>/<s>/<p>/<unit>/data or .../birth|state|write|ack")


# ---------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DataMessage:
    """One decoded data message; ``stream`` is ``edge[.epoch]/plant_id/unit``, the deduplication scope of ``seq``."""

    edge: str
    plant_id: str
    unit: str
    seq: int
    sent_at_us: int
    points: tuple[Point, ...]
    epoch: str | None = None

    @property
    def stream(self) -> str:
        edge = f"{self.edge}.{self.epoch}" if self.epoch else self.edge
        return f"{edge}/{self.plant_id}/{self.unit}"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def encode_data(*, edge: str, plant_id: str, unit: str, seq: int, sent_at_us: int,
                points: Sequence[Point], epoch: str | None = None) -> bytes:
    """A data payload; NaN or infinite values go out as ``null`` (the contract has no NaN)."""
    if seq < 1:
        raise WireError(f"seq counts from 1, found {seq}")
    rows = [[tag, int(ts), (None if v is None or not math.isfinite(v) else float(v)), int(q)]
            for tag, ts, v, q in points]
    head = {"schema": DATA_SCHEMA, "edge": edge}
    if epoch is not None:
        head["epoch"] = _epoch(epoch)
    return _dumps({**head, "plant_id": plant_id, "unit": unit, "seq": int(seq), "sent_at": int(sent_at_us),
                   "points": rows})


def _epoch(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 32 or not value.isascii() or not value.isalnum():
        raise WireError(f"'epoch' must be 1-32 ASCII letters or digits, found {value!r}")
    return value


def _int(obj: dict[str, Any], key: str, lo: int = 0) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < lo:
        raise WireError(f"{key!r} must be an integer >= {lo}, found {value!r}")
    return value


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise WireError(f"{key!r} must be a non-empty string, found {value!r}")
    return value


def _object(payload: bytes | str, schema: str) -> dict[str, Any]:
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"payload is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise WireError(f"payload must be a JSON object, found {type(obj).__name__}")
    if obj.get("schema") != schema:
        raise WireError(f"schema must be {schema!r}, found {obj.get('schema')!r}")
    return obj


def decode_envelope(payload: bytes | str) -> DataMessage:
    """The message's identity (edge, plant, unit, seq, sent_at) without checking its points.

    A message whose points break the contract is still delivered once: the collector needs its
    stream and ``seq`` to deduplicate it before it quarantines the points one by one.
    """
    obj = _object(payload, DATA_SCHEMA)
    points = obj.get("points")
    if not isinstance(points, list):
        raise WireError(f"'points' must be a list, found {type(points).__name__}")
    epoch = obj.get("epoch")
    return DataMessage(_str(obj, "edge"), _str(obj, "plant_id"), _str(obj, "unit"), _int(obj, "seq", 1),
                       _int(obj, "sent_at"), tuple(points), None if epoch is None else _epoch(epoch))


def check_point(point: Any) -> Point:
    """One ``[tag, ts, value, quality]`` of a data payload, checked; raises :class:`WireError`."""
    if not isinstance(point, list) or len(point) != 4:
        raise WireError(f"a point must be [tag, ts, value, quality], found {point!r}")
    tag, ts, value, quality = point
    if not isinstance(tag, str) or not tag:
        raise WireError(f"tag must be a non-empty string, found {tag!r}")
    if not isinstance(ts, int) or isinstance(ts, bool) or not 0 <= ts < 253402300800_000000:
        raise WireError(f"ts must be microseconds since 1970-01-01 UTC before year 10000, found {ts!r}")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise WireError(f"value must be a number or null, found {value!r}")
    if not isinstance(quality, int) or isinstance(quality, bool) or not 0 <= quality <= 255:
        raise WireError(f"quality must be an OPC DA code 0-255, found {quality!r}")
    return tag, ts, (None if value is None else float(value)), quality


def decode_data(payload: bytes | str) -> DataMessage:
    """A data payload, every point checked; raises :class:`WireError` on the first breach."""
    message = decode_envelope(payload)
    return DataMessage(message.edge, message.plant_id, message.unit, message.seq, message.sent_at_us,
                       tuple(check_point(p) for p in message.points), message.epoch)


# ------------------------------------------------------------------------------- writes and acks


@dataclass(frozen=True)
class Write:
    write_id: str
    plant_id: str
    tag: str
    value: float
    unit: str
    ramp_per_min: float | None
    issued_at_us: int
    issued_by: str


def encode_write(w: Write) -> bytes:
    if not math.isfinite(w.value):
        raise WireError(f"a write needs a finite value, found {w.value!r}")
    if w.ramp_per_min is not None and not (math.isfinite(w.ramp_per_min) and w.ramp_per_min > 0):
        raise WireError(f"ramp_per_min must be positive or null, found {w.ramp_per_min!r}")
    return _dumps({"schema": WRITE_SCHEMA, "write_id": w.write_id, "plant_id": w.plant_id, "tag": w.tag,
                   "value": float(w.value), "unit": w.unit, "ramp_per_min": w.ramp_per_min,
                   "issued_at": int(w.issued_at_us), "issued_by": w.issued_by})


def decode_write(payload: bytes | str) -> Write:
    obj = _object(payload, WRITE_SCHEMA)
    value, ramp = obj.get("value"), obj.get("ramp_per_min")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise WireError(f"'value' must be a finite number, found {value!r}")
    if ramp is not None and (isinstance(ramp, bool) or not isinstance(ramp, (int, float)) or not ramp > 0):
        raise WireError(f"'ramp_per_min' must be a positive number or null, found {ramp!r}")
    return Write(_str(obj, "write_id"), _str(obj, "plant_id"), _str(obj, "tag"), float(value), _str(obj, "unit"),
                 None if ramp is None else float(ramp), _int(obj, "issued_at"), _str(obj, "issued_by"))


@dataclass(frozen=True)
class Ack:
    write_id: str
    plant_id: str
    status: str
    reason: str
    at_us: int
    value: float | None


def encode_ack(a: Ack) -> bytes:
    if a.status not in ACK_STATUSES:
        raise WireError(f"ack status must be one of {ACK_STATUSES}, found {a.status!r}")
    return _dumps({"schema": ACK_SCHEMA, "write_id": a.write_id, "plant_id": a.plant_id, "status": a.status,
                   "reason": a.reason, "at": int(a.at_us), "value": a.value})


def decode_ack(payload: bytes | str) -> Ack:
    obj = _object(payload, ACK_SCHEMA)
    status = obj.get("status")
    if status not in ACK_STATUSES:
        raise WireError(f"'status' must be one of {ACK_STATUSES}, found {status!r}")
    value = obj.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise WireError(f"'value' must be a number or null, found {value!r}")
    reason = obj.get("reason", "")
    if not isinstance(reason, str):
        raise WireError(f"'reason' must be a string, found {reason!r}")
    return Ack(_str(obj, "write_id"), _str(obj, "plant_id"), status, reason, _int(obj, "at"),
               None if value is None else float(value))


# ------------------------------------------------------------------------------ birth and state


def encode_birth(*, edge: str, plant_id: str, plant_type: str, started_at_us: int, sampling_s: float,
                 tags: Sequence[dict[str, Any]]) -> bytes:
    """The edge's birth certificate: which tags it publishes (tag, unit, unit_operation, writable)."""
    return _dumps({"schema": BIRTH_SCHEMA, "edge": edge, "plant_id": plant_id, "plant_type": plant_type,
                   "started_at": int(started_at_us), "sampling_s": float(sampling_s), "tags": list(tags)})


def encode_state(*, edge: str, plant_id: str, status: str, at_us: int) -> bytes:
    if status not in ("online", "offline"):
        raise WireError(f"state must be online or offline, found {status!r}")
    return _dumps({"schema": STATE_SCHEMA, "edge": edge, "plant_id": plant_id, "status": status, "at": int(at_us)})


def decode_state(payload: bytes | str) -> dict[str, Any]:
    obj = _object(payload, STATE_SCHEMA)
    if obj.get("status") not in ("online", "offline"):
        raise WireError(f"'status' must be online or offline, found {obj.get('status')!r}")
    return {"edge": _str(obj, "edge"), "plant_id": _str(obj, "plant_id"), "status": obj["status"],
            "at_us": _int(obj, "at")}
