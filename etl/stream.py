"""The collector of the live path: MQTT micro-batches into bronze, silver and gold of the current day.

Plant edges (:mod:`nexus.edge`, or any publisher that keeps :mod:`nexus.wire`) publish readings at
QoS 1. The collector holds an MQTT v5 *persistent session* (a fixed client id, ``clean_start``
off, a long session expiry), so the broker queues what arrives while it is down, and it
acknowledges a message only after the message's rows are committed to bronze (manual PUBACK).
Every few seconds (:attr:`CollectorConfig.flush_seconds`) it takes what arrived and:

1. **deduplicates** on the wire contract's key ``(stream, seq)``: a message the broker delivers
   again (the collector died before its acknowledgement; an edge re-sent its buffer after a
   reconnect) is already in bronze and is dropped, counted in ``redeliveries_dropped``. The keys
   committed so far are kept as intervals of ``seq`` per stream (:class:`SeqLog`), rebuilt from
   bronze when the collector starts;
2. **appends** one row per point to ``bronze.mqtt__tag_readings`` in one commit (an unreadable
   message is one row with the reason), then acknowledges the batch's messages: at-least-once
   delivery plus the key gives an exactly-once effect;
3. **publishes silver** through the same staging and Great Expectations suite as the historian
   path (:func:`etl.sensor._silver_group`): passing points are appended to
   ``silver.process__sensor_readings`` (``_source_file`` = ``mqtt:<stream>#<seq>``, ``_line_number``
   = the point's position), failing ones to the sensor quarantine with their reasons. A point of a
   day whose historian export has already been loaded is *held*: it stays in bronze and is
   reconciled (:func:`reconcile`), never published twice.

Every :attr:`CollectorConfig.gold_seconds` it replaces ``gold.fct_tag_hourly`` of the hours that
received readings (from silver, :func:`etl.sensor.hourly_aggregates`) and writes the day's
accounting to ``gold.fct_stream_batches`` (``points_received = silver_rows + quarantined_rows +
held_rows``, each counted where it happens).

The daily historian export stays the record: when it is loaded, :func:`etl.sensor.publish_silver`
replaces the plant-day in silver (the streamed rows go, the export's come), keeps the streamed
points' quarantine rows, and :func:`reconcile` compares the two sides tag by tag into
``gold.fct_stream_reconciliation``.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import hashlib
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from models import get_plant
from nexus import wire
from nexus.errors import ContractViolation
from warehouse.duck import scratch
from warehouse.lake import CommitMeta, Lake
from warehouse.quality import ROW_ID, take_results
from warehouse.tables import (
    BRONZE_STREAM_READINGS,
    FCT_INGEST_BATCHES,
    FCT_STREAM_BATCHES,
    FCT_STREAM_RECONCILIATION,
    FCT_TAG_HOURLY,
    SILVER_SENSOR_QUARANTINE,
    SILVER_SENSOR_READINGS,
)

log = logging.getLogger(__name__)

SOURCE_PREFIX = "mqtt:"
_EPOCH_DAY = dt.date(1970, 1, 1)
_HOUR_US = 3_600_000_000
_DAY_US = 86_400_000_000
RAW_PAYLOAD_BYTES = 4096
LATENCY_WINDOW = 1_000_000
_TS = pa.timestamp("us", tz="UTC")


_us, _ts, _now_us = wire.to_us, wire.from_us, wire.now_us


def _day_of(us: int) -> dt.date:
    return _EPOCH_DAY + dt.timedelta(days=us // _DAY_US)


# ------------------------------------------------------------------------------------- seq log


class SeqLog:
    """The ``(stream, seq)`` keys committed to bronze, as sorted disjoint intervals per stream.

    An edge numbers a stream's messages 1, 2, 3 ..., so a day of a stream is one interval or a few
    (a gap is open until its messages arrive): memory grows with the gaps, not with the messages.
    """

    def __init__(self) -> None:
        self._lo: dict[str, list[int]] = {}
        self._hi: dict[str, list[int]] = {}

    def __contains__(self, key: tuple[str, int]) -> bool:
        stream, seq = key
        lo = self._lo.get(stream)
        if not lo:
            return False
        i = bisect.bisect_right(lo, seq) - 1
        return i >= 0 and seq <= self._hi[stream][i]

    def add(self, stream: str, seq: int) -> None:
        lo, hi = self._lo.setdefault(stream, []), self._hi.setdefault(stream, [])
        i = bisect.bisect_right(lo, seq) - 1
        if i >= 0 and lo[i] <= seq <= hi[i]:
            return
        joins_left = i >= 0 and hi[i] == seq - 1
        joins_right = i + 1 < len(lo) and lo[i + 1] == seq + 1
        if joins_left and joins_right:
            hi[i] = hi[i + 1]
            del lo[i + 1], hi[i + 1]
        elif joins_left:
            hi[i] = seq
        elif joins_right:
            lo[i + 1] = seq
        else:
            lo.insert(i + 1, seq)
            hi.insert(i + 1, seq)

    def update(self, keys: Iterable[tuple[str, int]]) -> None:
        for stream, seq in keys:
            self.add(stream, seq)

    def intervals(self, stream: str) -> list[tuple[int, int]]:
        return list(zip(self._lo.get(stream, []), self._hi.get(stream, [])))

    def streams(self) -> list[str]:
        return sorted(self._lo)


# ------------------------------------------------------------------------------ messages -> rows


@dataclass
class Received:
    """One MQTT message as the broker delivered it (``mid`` is needed for the manual PUBACK)."""

    mid: int
    topic: str
    payload: bytes
    received_us: int


def _unreadable_seq(payload: bytes) -> int:
    """A stable key for a message that breaks the contract: a redelivery of the same bytes is stored once."""
    return int.from_bytes(hashlib.sha256(payload).digest()[:7], "big")


def message_rows(message: Received) -> tuple[tuple[str, int], list[dict[str, Any]]]:
    """The message's key ``(stream, seq)`` and its bronze rows (one per point, or one for the message).

    A message whose envelope is unreadable is one row with ``_point = -1`` and the reason; a point
    that breaks the contract is a row with the reason and whatever could not be read left null.
    """
    topic = message.topic
    try:
        where = wire.parse_topic(topic)
    except wire.WireError:
        where = {"plant_id": "unknown", "kind": "?"}
    base = {"_topic": topic, "_received_at": _ts(message.received_us)}
    try:
        env = wire.decode_envelope(message.payload)
        if where.get("kind") != "data":
            raise wire.WireError(f"data messages go to {wire.ROOT}/<e>/<s>/<p>/<unit>/data, found topic {topic!r}")
        if env.plant_id != where["plant_id"] or env.unit != where["unit"]:
            raise wire.WireError(f"payload names plant {env.plant_id!r} unit {env.unit!r}, its topic plant "
                                 f"{where['plant_id']!r} unit {where['unit']!r}")
    except wire.WireError as exc:
        seq = _unreadable_seq(message.payload)
        stream = f"?/{topic}"
        raw = message.payload[:RAW_PAYLOAD_BYTES].decode("utf-8", "replace")
        return (stream, seq), [{**base, "plant_id": where["plant_id"], "period_date": _day_of(message.received_us),
                                "tag": None, "timestamp": None, "value": None, "quality": None, "_raw_line": raw,
                                "_parse_error": f"message: {exc}", "_stream": stream, "_seq": seq, "_point": -1,
                                "_sent_at": None}]
    rows = []
    sent = _ts(env.sent_at_us)
    for i, point in enumerate(env.points):
        row = {**base, "plant_id": env.plant_id, "_stream": env.stream, "_seq": env.seq, "_point": i, "_sent_at": sent,
               "_raw_line": json.dumps(point, separators=(",", ":"))[:RAW_PAYLOAD_BYTES]}
        try:
            tag, ts, value, quality = wire.check_point(point)
            row |= {"period_date": _day_of(ts), "tag": tag, "timestamp": _ts(ts), "value": value, "quality": quality,
                    "_parse_error": None}
        except wire.WireError as exc:
            row |= {"period_date": _day_of(message.received_us), "tag": None, "timestamp": None, "value": None,
                    "quality": None, "_parse_error": f"point {i}: {exc}"}
        rows.append(row)
    if not rows:  # an empty message still accounts for itself
        rows.append({**base, "plant_id": env.plant_id, "period_date": _day_of(message.received_us), "tag": None,
                     "timestamp": None, "value": None, "quality": None, "_raw_line": "[]",
                     "_parse_error": "message: no points", "_stream": env.stream, "_seq": env.seq, "_point": -1,
                     "_sent_at": sent})
    return (env.stream, env.seq), rows


# ------------------------------------------------------------------------------------ collector


@dataclass(frozen=True)
class CollectorConfig:
    """How a collector connects and how often it commits.

    Attributes:
        host, port: the MQTT broker.
        client_id: the persistent session's id; one collector per id (a second one would take the
            session over).
        session_expiry_s: how long the broker keeps the session (and queues messages) while the
            collector is away; the broker's own ``max_queued_messages`` must hold that outage.
        flush_seconds: micro-batch interval: bronze, acknowledgements and silver.
        gold_seconds: interval of the hourly gold rows and the day's accounting.
        max_points: a micro-batch is cut at this many points (memory bound at high rates).
        lookback_days: days of bronze read at start-up to rebuild the deduplication keys.
        compact_seconds: interval of compacting the plant-days the micro-batches appended to (a
            commit every ``flush_seconds`` leaves a small file per commit and partition).
    """

    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "nexus-collector"
    session_expiry_s: int = 7 * 86400
    flush_seconds: float = 2.0
    gold_seconds: float = 60.0
    max_points: int = 60_000
    lookback_days: int = 2
    compact_seconds: float = 300.0

    def __post_init__(self) -> None:
        if not self.flush_seconds > 0 or not self.gold_seconds > 0:
            raise ValueError(f"flush_seconds and gold_seconds must be positive, found {self.flush_seconds}, "
                             f"{self.gold_seconds}")


@dataclass
class DayCount:
    messages: int = 0
    redeliveries_dropped: int = 0
    points_received: int = 0
    silver_rows: int = 0
    quarantined_rows: int = 0
    held_rows: int = 0
    last_reading_us: int | None = None
    last_commit_us: int = 0
    duplicates_removed: int = 0


@dataclass
class Stats:
    messages: int = 0
    redeliveries_dropped: int = 0
    points: int = 0
    flushes: int = 0
    #: seconds from each point's reading time to the end of the silver commit that published it (the
    #: most recent :data:`LATENCY_WINDOW` points)
    latencies_s: collections.deque = field(default_factory=lambda: collections.deque(maxlen=LATENCY_WINDOW))

    def latency(self) -> dict[str, float | None]:
        """p50 / p95 / max of :attr:`latencies_s`, in seconds (None before any point)."""
        if not self.latencies_s:
            return {"p50_s": None, "p95_s": None, "max_s": None}
        values = np.fromiter(self.latencies_s, float)
        return {"p50_s": round(float(np.percentile(values, 50)), 3), "p95_s": round(float(np.percentile(values, 95)), 3),
                "max_s": round(float(values.max()), 3)}


class Collector:
    """A long-running MQTT → lake collector (see the module docstring); ``run()`` until stopped."""

    def __init__(self, lake: Lake, config: CollectorConfig | None = None, *, run_id: str | None = None) -> None:
        self.lake = lake
        self.config = config or CollectorConfig()
        self.run_id = run_id or f"collect__{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"
        self.meta = CommitMeta(dag_id="nexus-collect", run_id=self.run_id, source="mqtt")
        self.seqlog = SeqLog()
        self.days: dict[tuple[str, dt.date], DayCount] = {}
        self.stats = Stats()
        self._pending: list[Received] = []
        self._lock = threading.Lock()
        self._dirty_hours: dict[str, set[int]] = {}
        self._historian_days: dict[tuple[str, dt.date], bool] = {}
        self._loaded: set[tuple[str, dt.date]] = set()  # plant-days whose bronze keys are in seqlog
        self._marks: dict[tuple[str, dt.date], dict[str, int]] = {}  # plant-day -> tag -> newest published µs
        self._client = None
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._last_gold = time.monotonic()
        self._last_compact = time.monotonic()
        #: (table name, plant, day) partitions appended to since the last compaction
        self._appended: set[tuple[str, str, dt.date]] = set()

    # ---------------------------------------------------------------- MQTT
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("collector: broker refused the connection: %s", reason_code)
            return
        client.subscribe(wire.DATA_FILTER, qos=1)
        self._connected.set()
        log.info("collector %s connected to %s:%s (session present: %s)", self.config.client_id, self.config.host,
                 self.config.port, flags.session_present)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        log.warning("collector disconnected from the broker (%s); paho reconnects", reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self._pending.append(Received(msg.mid, msg.topic, bytes(msg.payload), _now_us()))

    def connect(self, timeout_s: float | None = 10.0) -> None:
        """Open the persistent session and start paho's network thread.

        With ``timeout_s=None`` (a service) it waits for the broker as long as it takes, saying so
        every 30 s, and returns early only if the collector is stopped.
        """
        import paho.mqtt.client as mqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.config.client_id,
                             protocol=mqtt.MQTTv5)
        client.manual_ack_set(True)  # PUBACK only after the rows are committed
        client.on_connect, client.on_disconnect, client.on_message = (
            self._on_connect, self._on_disconnect, self._on_message)
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.config.session_expiry_s
        props.ReceiveMaximum = 65535  # unacknowledged messages in flight to us (we ack per micro-batch)
        client.connect_async(self.config.host, self.config.port, keepalive=30, clean_start=False, properties=props)
        client.loop_start()
        self._client = client
        if timeout_s is None:
            waited = 0
            while not self._connected.wait(1.0) and not self._stop.is_set():
                waited += 1
                if waited % 30 == 0:
                    log.warning("collector: still waiting for the MQTT broker at %s:%s", self.config.host,
                                self.config.port)
            return
        if not self._connected.wait(timeout_s):
            raise ConnectionError(f"collector: no MQTT broker answered at {self.config.host}:{self.config.port} "
                                  f"within {timeout_s:g} s")

    def close(self) -> None:
        """Commit what has arrived, then leave the session (the broker keeps it and queues for us)."""
        try:
            self.flush()
            self.refresh_gold()
            self.compact()
        finally:
            if self._client is not None:
                self._client.disconnect()
                self._client.loop_stop()
                self._client = None

    # ---------------------------------------------------------------- start-up
    def recover(self, now: dt.datetime | None = None) -> dict[str, int]:
        """Pick up where a stopped collector left off (at start-up).

        The plant-days bronze received rows for in the last :attr:`CollectorConfig.lookback_days`
        (found from the files' ``_ingested_at`` statistics) get their deduplication keys loaded,
        their accounting rows read, and the points a killed predecessor committed to bronze but
        did not publish are published (:meth:`_finish_unpublished`). Keys of any other plant-day
        are loaded when its first message arrives (:meth:`_ensure_keys`).
        """
        now = now or dt.datetime.now(dt.timezone.utc)
        since = now - dt.timedelta(days=self.config.lookback_days)
        if not self.lake.exists(BRONZE_STREAM_READINGS):
            return {"partitions": 0, "published": 0}
        ingested = self.lake.dataset(BRONZE_STREAM_READINGS, files=[("_ingested_at", ">=", since)]).to_table(
            columns=["plant_id", "period_date"], filter=pc.field("_ingested_at") >= pa.scalar(since, _TS))
        partitions = sorted(set(zip(ingested["plant_id"].to_pylist(), ingested["period_date"].to_pylist())))
        if partitions and self.lake.exists(FCT_STREAM_BATCHES):
            for r in self.lake.read(FCT_STREAM_BATCHES).to_pylist():
                if (r["plant_id"], r["period_date"]) in partitions:
                    self.days[(r["plant_id"], r["period_date"])] = _stored_count(r)
        published = 0
        for plant, day in partitions:
            self._ensure_keys(plant, day)
            published += self._finish_unpublished(plant, day)
        log.info("collector recovered %d plant-day(s), %d stream(s); published %d point(s) its predecessor had "
                 "committed to bronze only", len(partitions), len(self.seqlog.streams()), published)
        return {"partitions": len(partitions), "published": published}

    def _ensure_keys(self, plant: str, day: dt.date) -> None:
        """Load the ``(stream, seq)`` keys bronze holds for a plant-day, once per collector."""
        if (plant, day) in self._loaded:
            return
        self._loaded.add((plant, day))
        if not self.lake.exists(BRONZE_STREAM_READINGS):
            return
        keys = self.lake.dataset(BRONZE_STREAM_READINGS, files=[("plant_id", "=", plant), ("period_date", "=", day)]) \
            .to_table(columns=["_stream", "_seq"],
                      filter=(pc.field("plant_id") == plant) & (pc.field("period_date") == pa.scalar(day)))
        if keys.num_rows:
            with scratch() as con:
                con.register("k", keys)
                self.seqlog.update(con.sql("SELECT DISTINCT _stream, _seq FROM k ORDER BY ALL").fetchall())
                con.unregister("k")

    def _finish_unpublished(self, plant: str, day: dt.date) -> int:
        """Publish the plant-day's bronze points a stopped collector committed but did not publish.

        Unless the day's historian export is loaded, the day's counts are taken from the tables
        (bronze messages; silver and quarantine rows from the stream), and the bronze points in
        neither are published now. A day the export has replaced keeps its accounting row as it was
        written (its streamed rows left silver with the export).
        """
        try:
            get_plant(plant)
        except KeyError:
            return 0
        published = 0
        if not self._historian_loaded(plant, day):
            part = self.lake.dataset(BRONZE_STREAM_READINGS, files=[("plant_id", "=", plant), ("period_date", "=", day)]) \
                .to_table(filter=(pc.field("plant_id") == plant) & (pc.field("period_date") == pa.scalar(day)))
            done = []
            for spec, column in ((SILVER_SENSOR_READINGS, "reading_date"), (SILVER_SENSOR_QUARANTINE, "period_date")):
                if self.lake.exists(spec):
                    rows = self.lake.dataset(spec, files=[("plant_id", "=", plant), (column, "=", day)]).to_table(
                        columns=["_source_file", "_line_number"],
                        filter=(pc.field("plant_id") == plant) & (pc.field(column) == pa.scalar(day))
                        & pc.starts_with(pc.field("_source_file"), SOURCE_PREFIX))
                    done.append(rows)
                else:
                    done.append(pa.table({"_source_file": pa.array([], pa.string()),
                                          "_line_number": pa.array([], pa.int64())}))
            with scratch() as con:
                con.register("b", part)
                con.register("s", done[0])
                con.register("q", done[1])
                messages = con.sql("SELECT count(DISTINCT (_stream, _seq)) FROM b").fetchall()[0][0]
                todo = con.sql(f"""SELECT b.* FROM b ANTI JOIN (SELECT * FROM s UNION ALL SELECT * FROM q) d
                                   ON d._source_file = '{SOURCE_PREFIX}' || b._stream || '#' || CAST(b._seq AS VARCHAR)
                                   AND d._line_number = b._point ORDER BY b._stream, b._seq, b._point""").to_arrow_table()
                for name in ("b", "s", "q"):
                    con.unregister(name)
            old = self.days.get((plant, day), DayCount())
            self.days[(plant, day)] = DayCount(
                messages=messages, redeliveries_dropped=old.redeliveries_dropped,
                points_received=done[0].num_rows + done[1].num_rows, silver_rows=done[0].num_rows,
                quarantined_rows=done[1].num_rows, held_rows=0, last_reading_us=old.last_reading_us,
                last_commit_us=old.last_commit_us or _now_us())
            if todo.num_rows:
                self._publish(todo.cast(BRONZE_STREAM_READINGS.schema), _now_us())
                published += todo.num_rows
        return published

    # ---------------------------------------------------------------- micro-batches
    def _take(self) -> list[Received]:
        """The messages of the next micro-batch, in arrival order, cut at about ``max_points`` points."""
        with self._lock:
            points = 0
            for i, m in enumerate(self._pending):
                points += m.payload.count(b"],[") + 1  # points in a data payload (an estimate suffices)
                if points > self.config.max_points and i:
                    taken, self._pending = self._pending[:i], self._pending[i:]
                    return taken
            taken, self._pending = self._pending, []
            return taken

    def flush(self) -> dict[str, int]:
        """One micro-batch: dedup, bronze commit, acknowledgements, silver. Returns its figures."""
        batch = self._take()
        if not batch:
            return {"messages": 0, "points": 0, "dropped": 0}
        fresh: list[dict[str, Any]] = []
        seen: set[tuple[str, int]] = set()
        dropped: dict[tuple[str, dt.date], int] = {}
        counted: dict[tuple[str, dt.date], int] = {}
        for message in batch:
            key, rows = message_rows(message)
            day = (rows[0]["plant_id"], rows[0]["period_date"])
            for plant_day in {(r["plant_id"], r["period_date"]) for r in rows}:  # its points' partitions
                self._ensure_keys(*plant_day)
            if rows[0]["_point"] == -1:  # an unreadable one on its day of receipt: a redelivery may cross midnight
                self._ensure_keys(rows[0]["plant_id"], rows[0]["period_date"] - dt.timedelta(days=1))
            if key in self.seqlog or key in seen:
                dropped[day] = dropped.get(day, 0) + 1
                continue
            seen.add(key)
            fresh.extend(rows)
            counted[day] = counted.get(day, 0) + 1
        now_us = _now_us()
        if fresh:
            for r in fresh:
                r["_ingested_at"], r["_run_id"] = _ts(now_us), self.run_id
            bronze = pa.Table.from_pylist(fresh, schema=BRONZE_STREAM_READINGS.schema)
            self.lake.append(BRONZE_STREAM_READINGS, bronze, meta=self.meta)
            self._appended.update((BRONZE_STREAM_READINGS.name, r["plant_id"], r["period_date"]) for r in fresh)
        else:
            bronze = BRONZE_STREAM_READINGS.schema.empty_table()
        # committed (or already there): acknowledge, so the broker forgets them
        self.seqlog.update(seen)
        if self._client is not None:
            for message in batch:
                self._client.ack(message.mid, 1)
        for (plant, day), n in counted.items():
            self._day(plant, day).messages += n
        for (plant, day), n in dropped.items():
            self._day(plant, day).redeliveries_dropped += n
        figures = self._publish(bronze, now_us)
        self.stats.messages += len(seen)
        self.stats.redeliveries_dropped += sum(dropped.values())
        self.stats.points += bronze.num_rows
        self.stats.flushes += 1
        _release_validations()
        return {"messages": len(seen), "points": bronze.num_rows, "dropped": sum(dropped.values()), **figures}

    def _day(self, plant: str, day: dt.date) -> DayCount:
        """The plant-day's running counts; a day first touched since start-up continues its stored row."""
        key = (plant, day)
        if key not in self.days:
            count = DayCount()
            if self.lake.exists(FCT_STREAM_BATCHES):
                for r in self.lake.read(FCT_STREAM_BATCHES, where={"plant_id": plant}).to_pylist():
                    if r["period_date"] == day:
                        count = _stored_count(r)
            self.days[key] = count
        return self.days[key]

    def _historian_loaded(self, plant: str, day: dt.date) -> bool:
        """Whether the plant-day's historian export has been loaded (then its silver rows are the export's)."""
        key = (plant, day)
        if key not in self._historian_days or not self._historian_days[key]:
            loaded = False
            if self.lake.exists(FCT_INGEST_BATCHES):  # a day the export filled (a day without files keeps the stream)
                rows = self.lake.read(FCT_INGEST_BATCHES, where={"source": "sensor", "plant_id": plant},
                                      columns=["period_date", "bronze_rows"])
                loaded = any(d == day and n > 0 for d, n in zip(rows["period_date"].to_pylist(),
                                                                 rows["bronze_rows"].to_pylist()))
            self._historian_days[key] = loaded
        return self._historian_days[key]

    def _publish(self, bronze: pa.Table, now_us: int) -> dict[str, int]:
        """Silver and quarantine of a micro-batch's bronze rows, per plant (see the module docstring)."""
        from etl.sensor import Batch, _silver_group, _stage, sensor_suite

        out = {"silver_rows": 0, "quarantined_rows": 0, "held_rows": 0}
        if not bronze.num_rows:
            return out
        for plant in sorted(set(bronze["plant_id"].to_pylist())):
            rows = bronze.filter(pc.equal(bronze["plant_id"], plant))
            for day in sorted(set(rows["period_date"].to_pylist())):
                part = rows.filter(pc.equal(rows["period_date"], pa.scalar(day, pa.date32())))
                count = self._day(plant, day)
                count.points_received += part.num_rows
                count.last_commit_us = now_us
                stamps = pc.max(part["timestamp"]).as_py()
                if stamps is not None:
                    count.last_reading_us = max(count.last_reading_us or 0, _us(stamps))
                try:
                    get_plant(plant)
                    known = True
                except KeyError:
                    known = False
                if known and self._historian_loaded(plant, day):
                    count.held_rows += part.num_rows
                    out["held_rows"] += part.num_rows
                    continue
                staged = _as_historian_bronze(part)
                if known:
                    batch = Batch(plant, day)
                    with scratch() as con:
                        _stage(con, get_plant(plant), {})
                        result = _silver_group(con, staged, sensor_suite(plant, batch), batch, self.meta,
                                               _ts(now_us), f"{SILVER_SENSOR_READINGS.name}#stream")
                    silver, quarantine = result["silver"], result["quarantine"].drop_columns(["_row"])
                    duplicates = result["dropped"]  # identical repeats within the micro-batch, kept once
                    silver, quarantine, repeated = self._against_published(plant, day, silver, quarantine, staged,
                                                                           now_us)
                    duplicates += repeated
                else:  # no catalog to check against: every point waits in quarantine with the reason
                    silver = SILVER_SENSOR_READINGS.schema.empty_table()
                    quarantine = _unknown_plant_quarantine(staged, plant, now_us, self.run_id)
                    duplicates = 0
                if silver.num_rows:
                    self.lake.append(SILVER_SENSOR_READINGS, silver, meta=self.meta)
                    self._appended.update((SILVER_SENSOR_READINGS.name, plant, d)
                                          for d in set(silver["reading_date"].to_pylist()))
                    queryable = _now_us()
                    stamps = pc.cast(silver["ts"], pa.int64()).to_numpy()
                    self.stats.latencies_s.extend(((queryable - stamps) / 1e6).tolist())
                    hours = np.unique(stamps // _HOUR_US).tolist()
                    self._dirty_hours.setdefault(plant, set()).update(int(h) for h in hours)
                    marks = self._published_until(plant, day)
                    for row in silver.select(["tag", "ts"]).group_by("tag").aggregate(
                            [("ts", "max")]).to_pylist():
                        marks[row["tag"]] = max(marks.get(row["tag"], -1), _us(row["ts_max"]))
                if quarantine.num_rows:
                    self.lake.append(SILVER_SENSOR_QUARANTINE, quarantine, meta=self.meta)
                    self._appended.add((SILVER_SENSOR_QUARANTINE.name, plant, day))
                # every point counted where it went: silver, quarantine, or an identical repeat of a reading
                # already published (the contract sends a point once; an edge re-running a period repeats)
                if part.num_rows != silver.num_rows + quarantine.num_rows + duplicates:
                    raise ContractViolation(
                        f"{plant} {day}: {part.num_rows} points received but {silver.num_rows} published + "
                        f"{quarantine.num_rows} quarantined + {duplicates} repeats")
                count.silver_rows += silver.num_rows
                count.quarantined_rows += quarantine.num_rows
                count.duplicates_removed += duplicates
                out["silver_rows"] += silver.num_rows
                out["quarantined_rows"] += quarantine.num_rows
        return out

    def _published_until(self, plant: str, day: dt.date) -> dict[str, int]:
        """Per tag, the newest reading time (µs) published to silver for the plant-day (loaded once)."""
        key = (plant, day)
        if key not in self._marks:
            marks: dict[str, int] = {}
            if self.lake.exists(SILVER_SENSOR_READINGS):
                got = self.lake.dataset(SILVER_SENSOR_READINGS, files=[("plant_id", "=", plant),
                                                                       ("reading_date", "=", day)]).to_table(
                    columns=["tag", "ts"], filter=(pc.field("plant_id") == plant) & (pc.field("reading_date") == pa.scalar(day)))
                if got.num_rows:
                    for row in got.group_by("tag").aggregate([("ts", "max")]).to_pylist():
                        marks[row["tag"]] = _us(row["ts_max"])
            self._marks[key] = marks
        return self._marks[key]

    def _against_published(self, plant: str, day: dt.date, silver: pa.Table, quarantine: pa.Table,
                           staged: pa.Table, now_us: int) -> tuple[pa.Table, pa.Table, int]:
        """Silver rows checked against the readings already published: ``(silver, quarantine, repeats)``.

        A row newer than everything published for its tag (the usual case: the stream moves forward)
        is new. An older one is looked up in silver: absent, it is a late reading and published; the
        same value and quality, it is an identical repeat (counted, not published again); another
        value, it is a conflict and goes to quarantine with both values, as a conflict between
        historian files does.
        """
        marks = self._published_until(plant, day)
        if not silver.num_rows or not marks:
            return silver, quarantine, 0
        ts_us = pc.cast(silver["ts"], pa.int64()).to_numpy()
        mark = np.array([marks.get(t, -1) for t in silver["tag"].to_pylist()], dtype=np.int64)
        older = ts_us <= mark
        if not older.any():
            return silver, quarantine, 0
        candidates = silver.filter(pa.array(older))
        tags = sorted(set(candidates["tag"].to_pylist()))
        lo, hi = pc.min(candidates["ts"]), pc.max(candidates["ts"])
        published = self.lake.dataset(SILVER_SENSOR_READINGS, files=[("plant_id", "=", plant), ("reading_date", "=", day)]) \
            .to_table(columns=["tag", "ts", "value", "quality_code", "_source_file", "_line_number"],
                      filter=(pc.field("plant_id") == plant) & (pc.field("reading_date") == pa.scalar(day))
                      & pc.field("tag").isin(tags) & (pc.field("ts") >= lo) & (pc.field("ts") <= hi))
        with scratch() as con:
            con.register("cand", candidates.select(["tag", "ts", "value", "quality_code", "_source_file",
                                                    "_line_number"]))
            con.register("pub", published)
            verdict = con.sql("""
                SELECT c._source_file, c._line_number,
                       CASE WHEN p.ts IS NULL THEN 'late'
                            WHEN c.value IS NOT DISTINCT FROM p.value AND c.quality_code = p.quality_code THEN 'repeat'
                            ELSE 'conflict' END AS verdict,
                       p.value AS published_value, p.quality_code AS published_quality, p._source_file AS published_in
                FROM cand c LEFT JOIN (SELECT * FROM pub QUALIFY row_number() OVER (PARTITION BY tag, ts
                                                                                   ORDER BY _source_file) = 1) p
                  ON p.tag = c.tag AND p.ts = c.ts""").to_arrow_table()
            for name in ("cand", "pub"):
                con.unregister(name)
        drop = verdict.filter(pc.not_equal(verdict["verdict"], "late"))
        if not drop.num_rows:
            return silver, quarantine, 0
        gone = set(zip(drop["_source_file"].to_pylist(), drop["_line_number"].to_pylist()))
        keep = pa.array([(f, n) not in gone for f, n in zip(silver["_source_file"].to_pylist(),
                                                            silver["_line_number"].to_pylist())])
        conflicts = drop.filter(pc.equal(drop["verdict"], "conflict")).to_pylist()
        if conflicts:
            raw = {(f, n): i for i, (f, n) in enumerate(zip(staged["_source_file"].to_pylist(),
                                                             staged["_line_number"].to_pylist()))}
            rows = []
            for c in conflicts:
                b = staged.slice(raw[(c["_source_file"], c["_line_number"])], 1).to_pylist()[0]
                rows.append({"plant_id": plant, "period_date": day, "tag": b["tag"], "timestamp": b["timestamp"],
                             "value": b["value"], "quality": b["quality"], "rule": "conflict",
                             "reason": f"{b['tag']} at {b['timestamp'].isoformat()} was already published from "
                                       f"{c['published_in']} with value {c['published_value']!r} (canonical unit) and "
                                       f"quality {c['published_quality']}; this reading differs",
                             "_raw_line": b["_raw_line"], "_source_file": b["_source_file"],
                             "_line_number": b["_line_number"], "_quarantined_at": _ts(now_us), "_run_id": self.run_id})
            quarantine = pa.concat_tables([quarantine, pa.Table.from_pylist(rows, schema=SILVER_SENSOR_QUARANTINE.schema)])
        repeats = drop.num_rows - len(conflicts)
        log.warning("%s %s: %d reading(s) already published came again (%d identical, %d conflicting)",
                    plant, day, drop.num_rows, repeats, len(conflicts))
        return silver.filter(keep), quarantine, repeats

    # ---------------------------------------------------------------- gold
    def refresh_gold(self) -> dict[str, int]:
        """Replace the hourly gold rows of the hours that got readings, and write the days' accounting."""
        from etl.sensor import hourly_aggregates

        rows = 0
        dirty, self._dirty_hours = self._dirty_hours, {}
        for plant, hours in sorted(dirty.items()):
            for lo_h, hi_h in _runs(sorted(hours)):
                start, end = _ts(lo_h * _HOUR_US), _ts((hi_h + 1) * _HOUR_US)
                first_day, last_day = start.date(), (end - dt.timedelta(microseconds=1)).date()
                data = self.lake.dataset(SILVER_SENSOR_READINGS, files=[
                    ("plant_id", "=", plant), ("reading_date", ">=", first_day), ("reading_date", "<=", last_day)])
                expr = ((pc.field("plant_id") == plant) & (pc.field("ts") >= pa.scalar(start, SILVER_SENSOR_READINGS.column("ts").type))
                        & (pc.field("ts") < pa.scalar(end, SILVER_SENSOR_READINGS.column("ts").type)))
                readings = data.to_table(columns=["tag", "unit", "ts", "value", "quality", "flag"], filter=expr)
                hourly = hourly_aggregates(readings, plant)
                self.lake.replace_interval(FCT_TAG_HOURLY, hourly, start=start, end=end, where={"plant_id": plant},
                                           meta=self.meta)
                rows += hourly.num_rows
        if self.days:
            accounting = [{"plant_id": p, "period_date": d, "messages": c.messages,
                           "redeliveries_dropped": c.redeliveries_dropped, "points_received": c.points_received,
                           "silver_rows": c.silver_rows, "quarantined_rows": c.quarantined_rows,
                           "held_rows": c.held_rows, "duplicates_removed": c.duplicates_removed,
                           "last_reading_at": _ts(c.last_reading_us) if c.last_reading_us else None,
                           "last_commit_at": _ts(c.last_commit_us or _now_us()), "run_id": self.run_id}
                          for (p, d), c in sorted(self.days.items())]
            self.lake.upsert(FCT_STREAM_BATCHES, pa.Table.from_pylist(accounting, schema=FCT_STREAM_BATCHES.schema),
                             meta=self.meta)
        self._last_gold = time.monotonic()
        return {"hourly_rows": rows}

    def compact(self) -> dict[str, int]:
        """Compact the partitions the micro-batches appended to since the last time (one file each).

        Readers of the current day then open a few files instead of one per micro-batch; the
        superseded files go with the lake's vacuum (``maintain_lake``).
        """
        done, self._appended = self._appended, set()
        removed = 0
        specs = {s.name: s for s in (BRONZE_STREAM_READINGS, SILVER_SENSOR_READINGS, SILVER_SENSOR_QUARANTINE)}
        for name, plant, day in sorted(done):
            spec = specs[name]
            column = "reading_date" if spec is SILVER_SENSOR_READINGS else "period_date"
            removed += self.lake.compact(spec, meta=self.meta, where={"plant_id": plant, column: day})["files_removed"]
        self._last_compact = time.monotonic()
        return {"partitions": len(done), "files_removed": removed}

    # ---------------------------------------------------------------- loop
    def run(self, duration_s: float | None = None, stop: threading.Event | None = None) -> Stats:
        """Connect (if needed), then flush every ``flush_seconds`` and refresh gold every ``gold_seconds``."""
        if self._client is None:
            self.recover()
            self.connect(timeout_s=None)
        stop = stop or self._stop
        deadline = None if duration_s is None else time.monotonic() + duration_s
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                started = time.monotonic()
                self.flush()
                if time.monotonic() - self._last_gold >= self.config.gold_seconds:
                    self.refresh_gold()
                if time.monotonic() - self._last_compact >= self.config.compact_seconds:
                    self.compact()
                stop.wait(max(0.0, self.config.flush_seconds - (time.monotonic() - started)))
        finally:
            self.close()
        return self.stats

    def stop(self) -> None:
        self._stop.set()


def _stored_count(r: dict[str, Any]) -> DayCount:
    last = r["last_reading_at"]
    return DayCount(r["messages"], r["redeliveries_dropped"], r["points_received"], r["silver_rows"],
                    r["quarantined_rows"], r["held_rows"], _us(last) if last else None, _us(r["last_commit_at"]),
                    r["duplicates_removed"])


def _runs(values: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted integers as ``(first, last)``."""
    out: list[tuple[int, int]] = []
    for v in values:
        if out and out[-1][1] == v - 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def _as_historian_bronze(part: pa.Table) -> pa.Table:
    """Stream bronze rows in the historian bronze shape :func:`etl.sensor._silver_group` stages."""
    n = part.num_rows
    prefixed = pc.binary_join_element_wise(pa.array([SOURCE_PREFIX] * n, pa.string()), part["_stream"], "")
    source = pc.binary_join_element_wise(prefixed, pc.cast(part["_seq"], pa.string()), "#")
    return pa.table({
        "plant_id": part["plant_id"], "period_date": part["period_date"], "tag": part["tag"],
        "timestamp": part["timestamp"], "value": part["value"], "quality": part["quality"],
        "_raw_line": part["_raw_line"], "_parse_error": part["_parse_error"], "_source_file": source,
        "_source_sha256": pa.nulls(n, pa.string()), "_line_number": pc.cast(part["_point"], pa.int64()),
        "_ingested_at": part["_ingested_at"], "_run_id": part["_run_id"],
        ROW_ID: pa.array(np.arange(n, dtype=np.int64)),
    })


def _unknown_plant_quarantine(staged: pa.Table, plant: str, now_us: int, run_id: str) -> pa.Table:
    n = staged.num_rows
    reason = f"plant {plant!r} is neither a plant type nor an instance of the fleet (models.fleet)"
    return pa.table({
        "plant_id": staged["plant_id"], "period_date": staged["period_date"], "tag": staged["tag"],
        "timestamp": staged["timestamp"], "value": staged["value"], "quality": staged["quality"],
        "rule": pa.array(["unknown_plant"] * n), "reason": pa.array([reason] * n),
        "_raw_line": staged["_raw_line"], "_source_file": staged["_source_file"],
        "_line_number": staged["_line_number"], "_quarantined_at": pa.array([_ts(now_us)] * n, pa.timestamp("us", "UTC")),
        "_run_id": pa.array([run_id] * n),
    }).cast(SILVER_SENSOR_QUARANTINE.schema)


def _release_validations() -> None:
    """Drop the micro-batches' Great Expectations results from memory (a collector runs for months).

    The daily historian path records its validations in ``gold.fct_validation_results``; the
    stream's outcomes are in ``gold.fct_stream_batches`` and the quarantine rows' reasons.
    """
    take_results()


# ------------------------------------------------------------------------------- reconciliation


def reconcile(lake: Lake, plant_id: str, day: dt.date, meta: CommitMeta) -> dict[str, Any]:
    """Compare a plant-day's streamed readings with its historian export, tag by tag, into gold.

    The stream side is bronze's readable points of the day, once per (tag, time) (the latest
    delivery); the historian side is silver's rows of the day that came from export files (the
    record). Two readings at the same time agree when their values differ by at most the
    tolerance: half a unit in the export's last digit (the historian writes values rounded to
    :func:`models.historian.value_decimals`, 1e-5 of the span or finer; the stream carries them
    unrounded), plus 1e-9 of the span for the unit conversion back from silver's canonical unit.
    """
    from models.historian import value_decimals

    plant = get_plant(plant_id)
    spans = {t.tag: (t.range_max - t.range_min, t.unit, t.canonical_unit, value_decimals(t)) for t in plant.TAGS}
    stream = lake.dataset(BRONZE_STREAM_READINGS, files=[("plant_id", "=", plant_id), ("period_date", "=", day)]) \
        .to_table(columns=["tag", "timestamp", "value", "quality", "_parse_error", "_received_at", "_seq"],
                  filter=(pc.field("plant_id") == plant_id) & (pc.field("period_date") == pa.scalar(day)))
    silver = lake.dataset(SILVER_SENSOR_READINGS, files=[("plant_id", "=", plant_id), ("reading_date", "=", day)]) \
        .to_table(columns=["tag", "ts", "value", "unit", "_source_file"],
                  filter=(pc.field("plant_id") == plant_id) & (pc.field("reading_date") == pa.scalar(day)))
    from etl.sensor import _to_canonical

    # silver is in canonical units; compare in the engineering unit the stream carries
    with scratch() as con:
        con.register("stream_raw", stream)
        con.register("silver_raw", silver)
        tol = pa.table({"tag": list(spans), "tolerance": [0.5 * 10.0 ** -s[3] + 1e-9 * s[0] for s in spans.values()],
                        "engineering_unit": [s[1] for s in spans.values()]})
        con.register("tol", tol)
        con.execute("""CREATE OR REPLACE TEMP TABLE st AS SELECT tag, timestamp AS ts, value FROM (
            SELECT *, row_number() OVER (PARTITION BY tag, timestamp ORDER BY _received_at DESC, _seq DESC) AS k
            FROM stream_raw WHERE _parse_error IS NULL) WHERE k = 1""")
        # back to engineering units: the silver conversion's runs of one tag, from canonical to engineering
        hist = _to_canonical(con.sql(
            "SELECT h.tag, h.ts, h.value, h.unit AS source_unit, coalesce(t.engineering_unit, h.unit) AS unit "
            f"FROM silver_raw h LEFT JOIN tol t USING (tag) WHERE h._source_file NOT LIKE '{SOURCE_PREFIX}%' "
            "ORDER BY h.tag, h.ts").to_arrow_table())
        con.register("hist", hist.select(["tag", "ts", "value"]))
        rows = con.sql("""
            SELECT coalesce(s.tag, h.tag) AS tag,
                   count(s.ts) AS streamed, count(h.ts) AS historian,
                   count(*) FILTER (WHERE s.ts IS NOT NULL AND h.ts IS NOT NULL
                                    AND (abs(s.value - h.value) <= t.tolerance OR (s.value IS NULL AND h.value IS NULL))) AS matched,
                   count(*) FILTER (WHERE s.ts IS NOT NULL AND h.ts IS NOT NULL
                                    AND NOT (abs(s.value - h.value) <= t.tolerance OR (s.value IS NULL AND h.value IS NULL))) AS differing,
                   count(*) FILTER (WHERE h.ts IS NULL) AS stream_only,
                   count(*) FILTER (WHERE s.ts IS NULL) AS historian_only,
                   max(abs(s.value - h.value)) AS max_abs_difference,
                   any_value(coalesce(t.tolerance, 0.0)) AS tolerance
            FROM st s FULL OUTER JOIN hist h ON s.tag = h.tag AND s.ts = h.ts
            LEFT JOIN tol t ON t.tag = coalesce(s.tag, h.tag)
            GROUP BY ALL ORDER BY tag""").to_arrow_table().to_pylist()
        con.execute("DROP TABLE st")
        for name in ("stream_raw", "silver_raw", "tol", "hist"):
            con.unregister(name)
    now = dt.datetime.now(dt.timezone.utc)
    for r in rows:
        r.update(plant_id=plant_id, reading_date=day, reconciled_at=now, run_id=meta.run_id,
                 status="differ" if r["differing"] else "incomplete" if r["stream_only"] or r["historian_only"]
                 else "agree")
    table = pa.Table.from_pylist(rows, schema=FCT_STREAM_RECONCILIATION.schema)
    lake.replace_interval(FCT_STREAM_RECONCILIATION, table, start=day, end=day + dt.timedelta(days=1),
                          where={"plant_id": plant_id}, meta=meta)
    summary = {k: int(sum(r[k] for r in rows)) for k in
               ("streamed", "historian", "matched", "differing", "stream_only", "historian_only")}
    log.info("reconciled %s %s: %s", plant_id, day, summary)
    return {**summary, "tags": len(rows), "status": {s: sum(r["status"] == s for r in rows)
                                                     for s in ("agree", "differ", "incomplete")}}


def reconcile_days(lake: Lake, plant_id: str, days: Iterable[dt.date], meta: CommitMeta) -> dict[str, Any]:
    """:func:`reconcile` for each of ``days`` the plant streamed (the daily sensor pipeline's step after
    its export is in silver); days without streamed readings are left alone. Returns day -> summary."""
    if not lake.exists(BRONZE_STREAM_READINGS):
        return {}
    out = {}
    for day in days:
        streamed = lake.dataset(BRONZE_STREAM_READINGS, files=[("plant_id", "=", plant_id), ("period_date", "=", day)])
        if streamed.count_rows(filter=(pc.field("plant_id") == plant_id) & (pc.field("period_date") == pa.scalar(day))):
            out[day.isoformat()] = reconcile(lake, plant_id, day, meta)
    return out


# ------------------------------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    """``nexus collect``: run the collector until SIGTERM / Ctrl-C (or ``--duration`` seconds)."""
    import argparse
    import signal

    from nexus.errors import ConfigError
    from nexus.settings import get_settings, mqtt_broker

    ap = argparse.ArgumentParser(prog="nexus collect", description=__doc__.split("\n")[0])
    ap.add_argument("--broker", help="mqtt://host:port (default NEXUS_MQTT_URL, else mqtt://127.0.0.1:1883)")
    ap.add_argument("--lake", help="lake root (default NEXUS_LAKE_ROOT)")
    ap.add_argument("--client-id", default=CollectorConfig.client_id, help="persistent session id (one collector each)")
    ap.add_argument("--flush-seconds", type=float, default=CollectorConfig.flush_seconds)
    ap.add_argument("--gold-seconds", type=float, default=CollectorConfig.gold_seconds)
    ap.add_argument("--duration", type=float, help="stop after this many seconds (default: run until stopped)")
    args = ap.parse_args(argv)
    try:
        host, port = mqtt_broker(args.broker)
    except ConfigError as exc:
        print(f"nexus collect: {exc}", file=sys.stderr)
        return 2
    lake = Lake(args.lake or str(get_settings().lake_root))
    collector = Collector(lake, CollectorConfig(host=host, port=port, client_id=args.client_id,
                                                flush_seconds=args.flush_seconds, gold_seconds=args.gold_seconds))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: collector.stop())
    stats = collector.run(duration_s=args.duration)
    print(json.dumps({"messages": stats.messages, "points": stats.points,
                      "redeliveries_dropped": stats.redeliveries_dropped, "flushes": stats.flushes,
                      "latency_to_silver": stats.latency()}), flush=True)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
