"""The plant edge of the live path (``nexus edge``): live twins published over MQTT, writes applied.

An edge is the gateway next to a plant's control system. This one runs live twins
(:mod:`models.live`) in place of the plants, in real time or accelerated, and speaks the wire contract
(:mod:`nexus.wire`)::

    edge = Edge("127.0.0.1", 1883, ["cstr"], factor=600, buffer_path="edge.sqlite", edge_id="edge-a")
    edge.run(duration_s=60)       # or: python -m nexus.edge --plant cstr --factor 600 --duration 60

**Clock.** Twin time = ``start + factor x`` (wall time since :meth:`Edge.run` began). Every tick
(0.2 s) advances each twin to twin-now (by at most :data:`MAX_SAMPLES_PER_TICK` samples while it
catches up after a start in the past); each sample instant gives one data message per unit operation
(``TagSpec.unit_operation``) with the transmitted values (:func:`models.live.measured`: noise,
saturation, quality 192) timestamped with the twin time of the sample.

**Store-and-forward.** Every message is first committed to a SQLite buffer, together with the next
``seq`` of its stream (edge/plant/unit), so ``seq`` counts on across restarts and a message exists
exactly once with its number; it is deleted only when the broker's PUBACK for it arrives. Pending
messages go out in buffer order, acks ahead of data, with at most :data:`MAX_IN_FLIGHT`
unacknowledged; after every (re)connect all of them are sent again from the start (same payload, same
``seq``: the collector deduplicates on ``(stream, seq)``). While the broker is away the edge keeps
sampling into the buffer, which is bounded only by the disk. The buffer also keeps each plant's last
sample instant, so a restarted edge resumes after it (its twins restart from steady state; a CSTR set
point written before the restart is not remembered) and timestamps never repeat. A lock file keeps a
second edge off the same buffer.

**Sessions.** One MQTT v5 client per plant, because the Last Will (retained state ``offline``) can
name one topic only. On connect: retained birth (tags with unit, unit operation, range, writable) and
retained state ``online``; a clean stop publishes ``offline`` itself. The edge connects with a clean
session on purpose: a set-point write issued while the edge was away must not be applied minutes
later; Nexus sees no ``accepted`` ack and handles the timeout.

**Epoch.** The buffer has a random id, drawn when its file is created and kept with it; every data
message carries it, so on the wire a stream is ``edge.epoch/plant/unit`` (:class:`Buffer`). A lost
buffer means a new epoch: its ``seq`` restarting at 1 is a new stream, not a redelivery.

**Writes.** ``.../write`` (QoS 1) of each plant: a writable tag with a value in range is passed to the
twin and answered ``accepted`` (value = target); anything else ``rejected`` with the reason; when a ramp
reaches its target, ``done``. A later write to the same tag supersedes a ramp under way (the earlier
write then gets no ``done``). Acks go through the buffer like data (they are not lost either), but
ahead of it: the buffer publishes acks before any pending data, so an ack is not stuck behind a
backlog after a reconnect while Nexus's write-back waits for it.
Metadata times (``sent_at``, ack ``at``, birth, state) are wall-clock UTC; data ``ts`` are twin time.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import fcntl
import json
import logging
import os
import re
import secrets
import signal
import sqlite3
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt

from nexus import wire
from nexus.errors import ConfigError
from nexus.settings import mqtt_broker

__all__ = ["Edge", "Buffer", "MAX_IN_FLIGHT", "default_buffer_path", "main"]

log = logging.getLogger("nexus.edge")

#: Messages published and not yet acknowledged by the broker, per plant connection.
MAX_IN_FLIGHT = 1000
#: Samples a twin may advance by in one tick (catching up after a start in the past).
MAX_SAMPLES_PER_TICK = 600
#: Wall seconds between ticks of the edge's loop.
TICK_S = 0.2
#: Publication priorities in the buffer (lower goes first): acks before data.
PRIORITY_ACK, PRIORITY_DATA = 0, 1
_EDGE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")  # one level of a stream name edge/plant/unit


#: Wall seconds between the edge's status lines (twin time, published, buffered).
STATUS_EVERY_S = 30.0


_us, _wall_us = wire.to_us, wire.now_us


# ------------------------------------------------------------------------------------------ buffer


class Buffer:
    """The store-and-forward buffer: a SQLite file of messages not yet acknowledged by the broker.

    Tables: ``messages(id, plant_id, stream, seq, topic, payload, priority)`` (``id`` only grows),
    ``streams(stream, last_seq)`` (the ``seq`` counters), ``clocks(plant_id, last_sample_us)`` and
    ``meta(key, value)`` with the buffer's ``epoch``. A batch of messages and the counters it moves
    are committed in one transaction, so a killed edge never reuses or skips a ``seq``. WAL journal: a
    process crash loses nothing committed. Used by one thread at a time: built where the edge is
    built, then used by the thread that runs it.

    **Epoch.** A random 12-hex-character id drawn once, when the file is created (or first opened by
    an edge that knows epochs), and kept in ``meta`` for the file's life. Every data message carries
    it (:func:`nexus.wire.encode_data`), so the collector's stream is ``edge.epoch/plant/unit``: an
    edge whose buffer was deleted starts ``seq`` at 1 again under a new epoch, a new stream, instead
    of having its new data dropped as redeliveries of the old buffer's messages.

    **Priority.** Publication order is ``(priority, id)``: acks (:data:`PRIORITY_ACK`) go out before
    data (:data:`PRIORITY_DATA`), so after a reconnect an ack is not stuck behind a data backlog while
    Nexus's write-back waits for it; within one priority the order is the order of commit.

    Raises:
        ConfigError: another edge holds the buffer.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._open()
        except (OSError, sqlite3.Error) as exc:  # permissions, a full disk, a file that is no database
            raise ConfigError(f"cannot open the edge buffer {self.path}: {exc} (choose another with --buffer or "
                              f"NEXUS_STATE_DIR)") from exc

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.path.with_name(self.path.name + ".lock"), "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise ConfigError(f"edge buffer {self.path} is in use by another edge process; "
                              "give each edge its own --buffer") from None
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)  # one thread at a time
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript("""
            CREATE TABLE IF NOT EXISTS messages (
                id INTEGER PRIMARY KEY AUTOINCREMENT, plant_id TEXT NOT NULL, stream TEXT NOT NULL,
                seq INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, UNIQUE (stream, seq));
            CREATE INDEX IF NOT EXISTS messages_by_plant ON messages (plant_id, id);
            CREATE TABLE IF NOT EXISTS streams (stream TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS clocks (plant_id TEXT PRIMARY KEY, last_sample_us INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """)
        with self.db:  # a buffer written before priorities and epochs existed gets them now
            self.db.execute("BEGIN IMMEDIATE")
            if "priority" not in {r[1] for r in self.db.execute("PRAGMA table_info(messages)")}:
                self.db.execute(f"ALTER TABLE messages ADD COLUMN priority INTEGER NOT NULL DEFAULT {PRIORITY_DATA}")
            self.db.execute("CREATE INDEX IF NOT EXISTS messages_by_priority ON messages (plant_id, priority, id)")
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', ?)", (secrets.token_hex(6),))
        #: the buffer's epoch: 12 hex characters, drawn when the file was created (class docstring)
        self.epoch: str = self.db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0]
        self.last_seq: dict[str, int] = dict(self.db.execute("SELECT stream, last_seq FROM streams"))
        self.pending = int(self.db.execute("SELECT count(*) FROM messages").fetchone()[0])

    def last_sample_us(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT plant_id, last_sample_us FROM clocks"))

    def append(self, plant_id: str, messages: Sequence[tuple],
               last_sample_us: int | None = None) -> int:
        """Commit ``(stream, topic, build[, priority])`` messages; ``build(seq) -> payload`` gets the
        stream's next seq; ``priority`` defaults to :data:`PRIORITY_DATA`."""
        if not messages and last_sample_us is None:
            return 0
        seqs = dict(self.last_seq)
        rows = []
        for stream, topic, build, *rest in messages:
            seq = seqs.get(stream, 0) + 1
            seqs[stream] = seq
            rows.append((plant_id, stream, seq, topic, build(seq), int(rest[0]) if rest else PRIORITY_DATA))
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO messages (plant_id, stream, seq, topic, payload, priority) "
                                "VALUES (?, ?, ?, ?, ?, ?)", rows)
            self.db.executemany("INSERT INTO streams VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET "
                                "last_seq = excluded.last_seq",
                                [(s, seqs[s]) for s in {r[1] for r in rows}])
            if last_sample_us is not None:
                self.db.execute("INSERT INTO clocks VALUES (?, ?) ON CONFLICT (plant_id) DO UPDATE SET "
                                "last_sample_us = excluded.last_sample_us", (plant_id, last_sample_us))
        self.last_seq = seqs
        self.pending += len(rows)
        return len(rows)

    def next_batch(self, plant_id: str, after: Mapping[int, int] | int,
                   limit: int) -> list[tuple[int, str, bytes, int]]:
        """Up to ``limit`` pending ``(id, topic, payload, priority)`` of a plant in publication order,
        ``(priority, id)``, that come after ``after``: per priority the last id already sent (absent:
        none), or one id for every priority. Ids only grow, so a message committed later at one
        priority always comes after that priority's cursor."""
        cursors = {PRIORITY_ACK: after, PRIORITY_DATA: after} if isinstance(after, int) else dict(after)
        return self.db.execute(
            "SELECT id, topic, payload, priority FROM messages WHERE plant_id = ? "
            "AND ((priority = ? AND id > ?) OR (priority = ? AND id > ?)) ORDER BY priority, id LIMIT ?",
            (plant_id, PRIORITY_ACK, cursors.get(PRIORITY_ACK, 0), PRIORITY_DATA, cursors.get(PRIORITY_DATA, 0),
             limit)).fetchall()

    def get(self, ids: Sequence[int]) -> list[tuple[int, str, bytes, int]]:
        """The pending ``(id, topic, payload, priority)`` of these ids (acknowledged ones are gone)."""
        return [r for i in ids for r in self.db.execute(
            "SELECT id, topic, payload, priority FROM messages WHERE id = ?", (i,))]

    def delete(self, ids: Sequence[int]) -> int:
        """Forget acknowledged messages."""
        if not ids:
            return 0
        with self.db:
            self.db.execute("BEGIN")
            n = self.db.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in ids]).rowcount
        self.pending -= n
        return n

    def close(self) -> None:
        self.db.close()
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()


# ------------------------------------------------------------------------------------------- links


class HistorianArchive:
    """The plant historian behind the edge: it archives every transmitted reading and exports each
    completed UTC day as the daily file a real historian would drop into the landing folder.

    Readings of a day accumulate in ``<landing>/.historian-partial/<plant>/<plant>__<day>__01.csv``
    (appended after the buffer has committed them; a restarted edge resumes after its last buffered
    sample, so nothing repeats); when the twin's clock passes the day's end, or when an edge starts
    after it (:meth:`close_days_before`), the file moves to
    ``<landing>/sensor/<plant>/`` (:func:`models.historian.export_path`), where the daily sensor
    pipeline picks it up and reconciles it with what was streamed (``etl.stream.reconcile``).
    Values are written with the historian's resolution (:func:`models.historian.value_decimals`).
    """

    def __init__(self, landing_dir: str | Path) -> None:
        self.landing = Path(landing_dir)
        self.partial = self.landing / ".historian-partial"
        self._decimals: dict[str, dict[str, int]] = {}
        self._day: dict[str, dt.date] = {}

    def _path(self, plant_id: str, day: dt.date) -> Path:
        from models.historian import export_path

        return self.partial / plant_id / export_path("", plant_id, day, 1).name

    def record(self, plant_id: str, tags: Sequence[Any], rows: Sequence[tuple[dt.datetime, dict[str, tuple]]]) -> None:
        """Append ``(ts, {tag: (value, quality)})`` rows of a plant; closes the days the rows leave behind."""
        from models.historian import HEADER, value_decimals

        if not rows:
            return
        decimals = self._decimals.setdefault(plant_id, {t.tag: value_decimals(t) for t in tags})
        by_day: dict[dt.date, list[str]] = {}
        for ts, readings in rows:
            stamp = ts.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ts.microsecond:06d}" if ts.microsecond else "") + "Z"
            lines = by_day.setdefault(ts.date(), [])
            for tag, (value, quality) in readings.items():
                text = "" if value is None or not np.isfinite(value) else f"{round(value, decimals[tag]) + 0.0:.{decimals[tag]}f}"
                lines.append(f"{tag},{stamp},{text},{quality}\n")
        for day in sorted(by_day):
            previous = self._day.get(plant_id)
            if previous is not None and day > previous:
                self.close_day(plant_id, previous)
            self._day[plant_id] = day
            path = self._path(plant_id, day)
            path.parent.mkdir(parents=True, exist_ok=True)
            new = not path.exists()
            with path.open("a", encoding="utf-8") as fh:
                fh.write((HEADER + "\n" if new else "") + "".join(by_day[day]))

    def close_days_before(self, plant_id: str, day: dt.date) -> list[Path]:
        """Move every partial file of a plant for a day before ``day`` into the landing folder.

        The day being written lives in memory only; an edge that stopped before midnight and starts
        again after it would otherwise leave that day's partial file behind for good. Called when
        the edge starts, with the day of its start time (no later sample can belong to those days).
        Returns where the files went, oldest day first.
        """
        folder = self.partial / plant_id
        days = []
        for path in folder.glob(f"{plant_id}__*__01.csv") if folder.is_dir() else ():
            try:
                found = dt.date.fromisoformat(path.name[len(plant_id) + 2:-len("__01.csv")])
            except ValueError:
                log.warning("historian: %s is not a partial day file (<plant>__<YYYY-MM-DD>__01.csv); left as is",
                            path)
                continue
            if found < day:
                days.append(found)
        return [p for d in sorted(days) if (p := self.close_day(plant_id, d)) is not None]

    def close_day(self, plant_id: str, day: dt.date) -> Path | None:
        """Move a completed day's file into the landing folder (atomic rename); returns where it went."""
        from models.historian import export_path

        source = self._path(plant_id, day)
        if not source.exists():
            return None
        target = export_path(self.landing, plant_id, day, 1)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        log.info("historian export of %s %s landed: %s", plant_id, day, target)
        return target


@dataclass
class _Link:
    """One plant on the edge: its twin, topics, MQTT client and publication state.

    Callbacks (paho's network thread) only set flags and append to deques; the edge's loop thread
    does everything else, so the buffer and the twin are touched by one thread.
    """

    plant_id: str
    plant_type: str
    twin: Any
    enterprise: str
    site: str
    units: dict[str, list[str]]
    client: Any = None
    connected: bool = False
    fresh: bool = False                      # (re)connected: resend everything from the start
    inflight: dict[int, int] = field(default_factory=dict)   # mid -> buffer id
    cursor: dict[int, int] = field(default_factory=dict)     # priority -> last buffer id sent on this connection
    retry: list[int] = field(default_factory=list)           # ids whose PUBACK carried a failure
    pubacks: collections.deque = field(default_factory=collections.deque)  # (mid, failed)
    writes: collections.deque = field(default_factory=collections.deque)   # raw write payloads
    pending_done: dict[str, tuple[str, float]] = field(default_factory=dict)  # tag -> (write_id, target)
    rng: Any = None
    horizon: dt.datetime | None = None       # twin time the twin has been advanced to

    def topic(self, kind: str) -> str:
        return getattr(wire, f"{kind}_topic")(self.enterprise, self.site, self.plant_id)


# -------------------------------------------------------------------------------------------- edge


class Edge:
    """Live plants published over MQTT with store-and-forward; set-point writes applied (module docstring).

    Args:
        broker_host, broker_port: the MQTT broker.
        plants: instance ids of the fleet (:func:`models.live.resolve_instance`; a bare plant type
            such as ``reactor_bank`` is accepted too).
        factor: twin seconds per wall second (1 = real time; 600 = 10 twin minutes per second).
        start: twin time at launch (UTC; default: now). A buffer that already holds later samples of
            a plant moves the start just after them.
        sample_every: seconds of twin time between samples (default: each type's sampling; CSTR:
            whole minutes only).
        buffer_path: the SQLite store-and-forward file (kept across restarts).
        edge_id: the edge's name (``edge`` in payloads; part of every stream).
        seed: seed of the twins' day plans (playback) and of the measurement noise.

    Raises:
        ConfigError: a bad factor or sampling, an unknown plant, a buffer in use.
    """

    def __init__(self, broker_host: str, broker_port: int, plants: Sequence[str], *, factor: float = 1.0,
                 start: dt.datetime | None = None, sample_every: float | None = None,
                 buffer_path: str | Path, edge_id: str, seed: int = 0,
                 historian_dir: str | Path | None = None) -> None:
        from models import live

        if not factor > 0:
            raise ConfigError(f"factor must be a positive number of twin seconds per second, found {factor!r}")
        if not plants or len(set(plants)) != len(plants):
            raise ConfigError(f"plants must be distinct instance ids, found {list(plants)!r}")
        if not _EDGE_ID.match(edge_id or ""):
            raise ConfigError(f"edge_id must be letters, digits, '_', '-' or '.', found {edge_id!r}")
        self.host, self.port, self.factor, self.edge_id, self.seed = broker_host, int(broker_port), float(factor), \
            edge_id, seed
        sampling = None
        if sample_every is not None:
            if not sample_every > 0:
                raise ConfigError(f"sample_every must be a positive number of seconds, found {sample_every!r}")
            sampling = dt.timedelta(seconds=sample_every)
        self.buffer = Buffer(buffer_path)
        try:
            resumed = self.buffer.last_sample_us()
            if start is not None and (start.tzinfo is None or start.utcoffset() != dt.timedelta(0)):
                raise ConfigError(f"start must be a tz-aware UTC datetime, found {start!r}")
            start = dt.datetime.now(dt.timezone.utc) if start is None else start.astimezone(dt.timezone.utc)
            later = [v for p, v in resumed.items() if p in plants]
            if later and wire.from_us(max(later) + 1) > start:
                start = wire.from_us(max(later) + 1)
                log.info("buffer %s holds samples up to %s: resuming after them", buffer_path, start.isoformat())
            self.start = start
            self.links: list[_Link] = []
            for plant_id in plants:
                try:
                    inst = live.resolve_instance(plant_id)
                    twin = live.live_twin(plant_id, start, seed=seed, sampling=sampling)
                except KeyError as exc:
                    raise ConfigError(str(exc).strip("'\"")) from None
                except ValueError as exc:
                    raise ConfigError(f"{plant_id}: {exc}") from None
                units: dict[str, list[str]] = {}
                for spec in twin.tags:
                    units.setdefault(spec.unit_operation, []).append(spec.tag)
                # Noise drawn per (seed, plant, start): a resumed edge does not repeat its noise.
                rng = np.random.default_rng([seed, zlib.crc32(plant_id.encode()), 0xED6E, _us(start)])
                self.links.append(_Link(plant_id, inst.plant_type, twin, inst.enterprise, inst.site.site_id, units,
                                        rng=rng))
        except BaseException:
            self.buffer.close()
            raise
        #: the plant historian's daily exports into this landing folder (None: the edge streams only)
        self.historian = HistorianArchive(historian_dir) if historian_dir is not None else None
        if self.historian is not None:  # days an earlier run left open (it stopped before their end)
            for plant_id in plants:
                self.historian.close_days_before(plant_id, start.date())
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._stats = {"messages_generated": 0, "points_generated": 0, "messages_published": 0}
        self._twin_now = start
        self._launch: float | None = None

    # ---------------------------------------------------------------------------- time and stats

    def twin_now(self) -> dt.datetime:
        """Twin time now: ``start + factor x`` wall time since :meth:`run` began."""
        if self._launch is None:
            return self.start
        return self.start + dt.timedelta(seconds=self.factor * (time.monotonic() - self._launch))

    def stats(self) -> dict[str, Any]:
        """Counters: messages and points generated, messages published (acknowledged by the broker),
        messages in the buffer now, the last ``seq`` of every data stream (keyed ``edge/plant/unit``,
        without the epoch: the messages it has sent, as seq counts from 1 without gaps), the buffer's
        ``epoch`` (on the wire the stream is ``edge.epoch/plant/unit``), acks sent per plant (they are
        numbered in the buffer as stream ``edge/plant/ack``, not part of the wire contract), the twin
        time every plant has reached and whether each plant is connected."""
        with self._lock:
            seqs = self.buffer.last_seq
            acks = {f"{self.edge_id}/{k.plant_id}/ack": k.plant_id for k in self.links}
            return {**self._stats, "buffered": self.buffer.pending,
                    "last_seq": {s: n for s, n in seqs.items() if s not in acks},
                    "acks_sent": {p: seqs.get(s, 0) for s, p in acks.items()}, "epoch": self.buffer.epoch,
                    "twin_time": self._twin_now.isoformat(), "connected": {k.plant_id: k.connected for k in self.links}}

    def stop(self) -> None:
        """Ask :meth:`run` to stop after its current tick (safe from signal handlers and other threads)."""
        self._stop.set()

    # -------------------------------------------------------------------------------------- MQTT

    def _birth(self, link: _Link) -> bytes:
        tags = [{"tag": t.tag, "unit": t.unit, "unit_operation": t.unit_operation, "description": t.description,
                 "range_min": t.range_min, "range_max": t.range_max, "writable": t.tag in link.twin.writable}
                for t in link.twin.tags]
        return wire.encode_birth(edge=self.edge_id, plant_id=link.plant_id, plant_type=link.plant_type,
                                 started_at_us=_wall_us(), sampling_s=link.twin.sampling.total_seconds(), tags=tags)

    def _state(self, link: _Link, status: str) -> bytes:
        return wire.encode_state(edge=self.edge_id, plant_id=link.plant_id, status=status, at_us=_wall_us())

    def _client(self, link: _Link) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{self.edge_id}-{link.plant_id}",
                             protocol=mqtt.MQTTv5)
        client.will_set(link.topic("state"), self._state(link, "offline"), qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=5)

        def on_connect(c, _u, _flags, reason, _props):
            if reason.is_failure:
                log.warning("%s: broker refused the connection: %s", link.plant_id, reason)
                return
            c.publish(link.topic("birth"), self._birth(link), qos=1, retain=True)
            c.publish(link.topic("state"), self._state(link, "online"), qos=1, retain=True)
            c.subscribe(link.topic("write"), qos=1)
            link.fresh = True
            link.connected = True
            log.info("%s: connected to %s:%s", link.plant_id, self.host, self.port)

        def on_disconnect(_c, _u, _flags, reason, _props):
            link.connected = False
            log.info("%s: disconnected (%s); buffering", link.plant_id, reason)

        def on_publish(_c, _u, mid, reason, _props):
            link.pubacks.append((mid, bool(reason.is_failure)))

        def on_message(_c, _u, message):
            link.writes.append(message.payload)

        client.on_connect, client.on_disconnect = on_connect, on_disconnect
        client.on_publish, client.on_message = on_publish, on_message
        return client

    def _flush(self, link: _Link) -> None:
        """Settle PUBACKs (delete acknowledged messages), then send pending messages up to the bound."""
        if link.fresh:  # a new connection: nothing of the old one will be acknowledged to us
            link.fresh = False
            link.inflight.clear()
            link.retry.clear()
            link.pubacks.clear()
            link.cursor = {}
        done: list[int] = []
        while link.pubacks:
            mid, failed = link.pubacks.popleft()
            row = link.inflight.pop(mid, None)
            if row is None:
                continue  # paho's own resend of a message of an earlier connection: sent again by us anyway
            if failed:
                log.warning("%s: broker refused message %s; it stays buffered", link.plant_id, row)
                link.retry.append(row)
            else:
                done.append(row)
        if done:
            with self._lock:
                self.buffer.delete(done)
                self._stats["messages_published"] += len(done)
        if not link.connected:
            return
        room = MAX_IN_FLIGHT - len(link.inflight)
        batch = self.buffer.get(link.retry[:room]) if link.retry else []
        link.retry = link.retry[len(batch):]
        if room - len(batch) > 0:
            fresh = self.buffer.next_batch(link.plant_id, link.cursor, room - len(batch))
            batch += fresh
            for row_id, _topic, _payload, priority in fresh:
                link.cursor[priority] = row_id  # ascending within a priority
        for row_id, topic, payload, _priority in batch:
            info = link.client.publish(topic, payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                # Lost the connection meanwhile: all pending messages go out again after the reconnect.
                break
            link.inflight[info.mid] = row_id

    # ------------------------------------------------------------------------------------ writes

    def _ack(self, link: _Link, write_id: str, status: str, reason: str = "", value: float | None = None):
        payload = wire.encode_ack(wire.Ack(write_id, link.plant_id, status, reason, _wall_us(), value))
        log.info("%s: write %s %s%s", link.plant_id, write_id, status, f" ({reason})" if reason else "")
        return (f"{self.edge_id}/{link.plant_id}/ack", link.topic("ack"), lambda _seq: payload, PRIORITY_ACK)

    def _apply_write(self, link: _Link, payload: bytes, at: dt.datetime) -> tuple | None:
        try:
            w = wire.decode_write(payload)
        except wire.WireError as exc:
            try:
                write_id = json.loads(payload).get("write_id")
            except (ValueError, AttributeError):
                write_id = None
            if isinstance(write_id, str) and write_id:
                return self._ack(link, write_id, "rejected", f"malformed write: {exc}")
            log.warning("%s: dropped a write without a readable write_id: %s", link.plant_id, exc)
            return None
        specs = {t.tag: t for t in link.twin.tags}
        if w.plant_id != link.plant_id:
            reason = f"write for plant {w.plant_id!r} arrived on the topic of {link.plant_id!r}"
        elif w.tag not in specs:
            reason = f"unknown tag {w.tag!r} on {link.plant_id}"
        elif link.twin.writable and w.tag not in link.twin.writable:  # a twin without any: it says why
            reason = f"{w.tag} is read-only on {link.plant_id} (writable: {', '.join(link.twin.writable)})"
        elif w.unit != specs[w.tag].unit:
            reason = f"{w.tag} is written in {specs[w.tag].unit}, the write is in {w.unit!r}"
        else:
            try:
                link.twin.write(w.tag, w.value, w.ramp_per_min, at)
            except ValueError as exc:
                reason = str(exc)
            else:
                link.pending_done[w.tag] = (w.write_id, w.value)
                return self._ack(link, w.write_id, "accepted", value=w.value)
        return self._ack(link, w.write_id, "rejected", reason, value=w.value)

    # -------------------------------------------------------------------------------------- tick

    def _tick(self) -> None:
        from models.live import measured

        now = self.twin_now()
        for link in self.links:
            self._flush(link)
            # A twin far behind (a start in the past) catches up a bounded number of samples per tick,
            # so one tick never builds an unbounded transaction.
            horizon = link.horizon or self.start
            until = min(now, horizon + MAX_SAMPLES_PER_TICK * link.twin.sampling)
            messages = []
            while link.writes:  # a write acts at the plant's own clock: as far as its twin has run
                ack = self._apply_write(link, link.writes.popleft(), horizon)
                if ack is not None:
                    messages.append(ack)
            samples = link.twin.advance(until)
            link.horizon = until
            points = 0
            transmitted = measured(link.twin, samples, link.rng)
            for ts, readings in transmitted:
                ts_us = _us(ts)
                for unit, tags in link.units.items():
                    pts = [(tag, ts_us, *readings[tag]) for tag in tags]
                    points += len(pts)
                    messages.append((f"{self.edge_id}/{link.plant_id}/{unit}",
                                     wire.data_topic(link.enterprise, link.site, link.plant_id, unit),
                                     self._data_builder(link.plant_id, unit, pts)))
            for tag, (write_id, target) in list(link.pending_done.items()):
                if link.twin.ramp_done(tag):
                    del link.pending_done[tag]
                    messages.append(self._ack(link, write_id, "done", value=target))
            with self._lock:
                n = self.buffer.append(link.plant_id, messages, _us(samples[-1][0]) if samples else None)
                self._stats["messages_generated"] += n
                self._stats["points_generated"] += points
                self._twin_now = min(k.horizon or self.start for k in self.links)
            # The historian archives the readings only once the buffer has committed them: an edge
            # killed in between resumes after them and never samples these instants again, so the
            # export holds each instant at most once (a kill right here loses them from the export;
            # the reconciliation shows it).
            if self.historian is not None:
                self.historian.record(link.plant_id, link.twin.tags, transmitted)
            self._flush(link)

    def _data_builder(self, plant_id: str, unit: str, points: list):
        def build(seq: int) -> bytes:
            return wire.encode_data(edge=self.edge_id, plant_id=plant_id, unit=unit, seq=seq, sent_at_us=_wall_us(),
                                    points=points, epoch=self.buffer.epoch)
        return build

    def run(self, duration_s: float | None = None, stop_event: threading.Event | None = None) -> dict[str, Any]:
        """Connect, then tick until ``duration_s`` wall seconds passed, ``stop_event`` is set or :meth:`stop`.

        The broker need not be up: the clients keep retrying (paho's automatic reconnect) while the
        edge samples into the buffer. On the way out each plant's state goes ``offline`` (retained)
        and the clients disconnect cleanly (no Last Will); the buffer is kept for the next run.
        Returns :meth:`stats`.
        """
        self._launch = time.monotonic()
        for link in self.links:
            link.client = self._client(link)
            link.client.connect_async(self.host, self.port, keepalive=30, clean_start=True)
            link.client.loop_start()
        try:
            deadline = None if duration_s is None else self._launch + duration_s
            said = self._launch
            while not self._stop.is_set() and not (stop_event is not None and stop_event.is_set()):
                began = time.monotonic()
                self._tick()
                if began - said >= STATUS_EVERY_S:  # the plant's clock, for people (an accelerated twin runs ahead)
                    said = began
                    stats = self.stats()
                    log.info("twin time %s; %d messages published, %d buffered", self._twin_now.isoformat(
                        timespec="seconds"), stats["messages_published"], stats["buffered"])
                if deadline is not None and began >= deadline:
                    break
                wait = TICK_S - (time.monotonic() - began)
                if wait > 0:
                    self._stop.wait(wait if stop_event is None else min(wait, 0.05))
        finally:
            self._shutdown()
        return self.stats()

    def _shutdown(self) -> None:
        for link in self.links:
            client = link.client
            if client is None:
                continue
            try:
                if link.connected:
                    self._flush(link)  # settle the PUBACKs that arrived
                    info = client.publish(link.topic("state"), self._state(link, "offline"), qos=1, retain=True)
                    info.wait_for_publish(timeout=2.0)
                client.disconnect()
            except (RuntimeError, ValueError, OSError) as exc:
                log.warning("%s: unclean disconnect: %s", link.plant_id, exc)
            finally:
                client.loop_stop()
                link.connected = False
        # PUBACKs that arrived during the shutdown still count.
        for link in self.links:
            link.connected = False
            self._flush(link)

    def close(self) -> None:
        """Release the buffer (its file and lock)."""
        self.buffer.close()


# --------------------------------------------------------------------------------------------- CLI


def default_buffer_path(edge_id: str) -> Path:
    """``<state dir>/edge/<edge_id>.sqlite``: a SQLite file on this machine's disk, in the folder of
    ``NEXUS_STATE_DIR`` (default ``<lake root>/_state`` for a local lake; :mod:`nexus.settings` has
    the defaults for a lake on object storage). Pass ``--buffer`` to choose.
    """
    from nexus.settings import get_settings

    return Path(get_settings().state_dir) / "edge" / f"{edge_id}.sqlite"


def _iso(text: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time like 2026-12-06T00:00Z, found {text!r}") from None
    return t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t.astimezone(dt.timezone.utc)


def _historian_dir(value: str | None) -> Path | None:
    if value is None:
        return None
    if value:
        return Path(value)
    from nexus.settings import get_settings
    from warehouse.storage import is_remote

    landing = get_settings().landing_dir
    if is_remote(landing):
        raise ConfigError(f"the historian export appends to files on local disk; NEXUS_LANDING_DIR is "
                          f"{landing}: give a local folder after --historian")
    return Path(landing)


def main(argv: list[str] | None = None) -> int:
    """``nexus edge``: run live plants on MQTT until SIGTERM / Ctrl-C (or ``--duration`` seconds).

    Prints the final :meth:`Edge.stats` as JSON. Returns 0, or 2 on a configuration error.
    """
    ap = argparse.ArgumentParser(prog="nexus edge", description=__doc__.split("\n")[0])
    ap.add_argument("--plant", action="append", help="plant instance id (repeatable; default cstr)")
    ap.add_argument("--broker", help="HOST:PORT or mqtt://host:port (default NEXUS_MQTT_URL, else 127.0.0.1:1883)")
    ap.add_argument("--factor", type=float, default=1.0, help="twin seconds per wall second (default 1)")
    ap.add_argument("--start", type=_iso, help="twin time at launch, ISO 8601 UTC (default now)")
    ap.add_argument("--sample-every", type=float, help="seconds of twin time between samples (default: the type's)")
    ap.add_argument("--buffer", help="store-and-forward SQLite file (default <NEXUS_STATE_DIR>/edge/<edge-id>.sqlite)")
    ap.add_argument("--edge-id", default="edge-a", help="the edge's name (default edge-a)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--historian", metavar="LANDING_DIR", nargs="?", const="",
                    help="also export each completed UTC day as the plant historian's daily file into this landing "
                         "folder (default with no value: NEXUS_LANDING_DIR), as a real plant's historian does")
    ap.add_argument("--duration", type=float, help="stop after this many wall seconds (default: run until stopped)")
    args = ap.parse_args(argv)
    try:
        host, port = mqtt_broker(args.broker)
        edge = Edge(host, port, args.plant or ["cstr"], factor=args.factor, start=args.start,
                    sample_every=args.sample_every, buffer_path=args.buffer or default_buffer_path(args.edge_id),
                    edge_id=args.edge_id, seed=args.seed, historian_dir=_historian_dir(args.historian))
    except (ConfigError, wire.WireError) as exc:
        print(f"nexus edge: {exc}", flush=True)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: edge.stop())
    try:
        stats = edge.run(duration_s=args.duration)
    finally:
        edge.close()
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
