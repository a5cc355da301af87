"""The plant edge (nexus.edge) against a real private Mosquitto broker and plain paho subscribers:
every tag published in sequence, retained birth and state, writes answered, nothing lost through a
broker outage or an edge killed with SIGKILL; the buffer's epoch and ack priority, the historian's
days left open by an earlier run."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from models.cstr import TAGS
from models.cstr.scenarios import NOMINAL_SETPOINT_K
from nexus import wire
from nexus.edge import Edge, main
from tests.mqtt import Broker

ROOT = Path(__file__).resolve().parents[2]
START = dt.datetime(2026, 12, 6, tzinfo=dt.timezone.utc)
PLANT = wire.plant_topic("nexus", "de_chempark", "cstr")
UNITS = {"feed", "reactor", "controller", "jacket"}
NOMINAL_C = NOMINAL_SETPOINT_K - 273.15


class Subscriber:
    """A plain paho client that keeps every message of the CSTR's topics."""

    def __init__(self, port: int, client_id: str, *, persistent: bool = False) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(1, 1)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(f"{PLANT}/#", qos=1)
        self.subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        props = None
        if persistent:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 600
        self.client.connect("127.0.0.1", port, keepalive=10, clean_start=not persistent, properties=props)
        self.client.loop_start()

    def _on_message(self, _c, _u, message) -> None:
        with self.lock:
            self.messages.append(message)

    def of(self, kind: str) -> list[mqtt.MQTTMessage]:
        with self.lock:
            return [m for m in self.messages if wire.parse_topic(m.topic)["kind"] == kind]

    def data(self) -> list[wire.DataMessage]:
        return [wire.decode_data(m.payload) for m in self.of("data")]

    def seqs(self) -> dict[str, set[int]]:
        """The seqs received per stream, keyed ``edge/plant/unit`` like ``Edge.stats()["last_seq"]``
        (on the wire the edge is ``edge.epoch``; :func:`assert_complete` checks the epoch)."""
        out: dict[str, set[int]] = defaultdict(set)
        for m in self.data():
            out[f"{m.edge}/{m.plant_id}/{m.unit}"].add(m.seq)
        return out

    def acks(self) -> dict[str, list[wire.Ack]]:
        out: dict[str, list[wire.Ack]] = defaultdict(list)
        for m in self.of("ack"):
            a = wire.decode_ack(m.payload)
            out[a.write_id].append(a)
        return out

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_for(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def retained(port: int) -> dict[str, mqtt.MQTTMessage]:
    """The retained birth and state of the CSTR, as a new subscriber gets them."""
    sub = Subscriber(port, f"retained-{time.monotonic_ns()}")
    try:
        wait_for(lambda: sub.of("birth") and sub.of("state"), 10, "retained birth and state")
        return {"birth": sub.of("birth")[-1], "state": sub.of("state")[-1]}
    finally:
        sub.close()


def data_streams(last_seq: dict[str, int]) -> dict[str, int]:
    assert not any(s.endswith("/ack") for s in last_seq)  # acks are counted apart
    return last_seq


def assert_complete(sub: Subscriber, stats: dict, edge_id: str) -> None:
    """Every stream's seq 1..n arrived (at least once), each (stream, seq) always with the same points,
    every message with the epoch of the edge's buffer."""
    assert {m.epoch for m in sub.data()} == {stats["epoch"]}
    streams = data_streams(stats["last_seq"])
    assert set(streams) == {f"{edge_id}/cstr/{u}" for u in UNITS}
    seen = sub.seqs()
    for stream, n in streams.items():
        assert seen[stream] == set(range(1, n + 1)), stream
    by_key: dict[tuple[str, int], tuple] = {}
    for m in sub.data():
        assert by_key.setdefault((m.stream, m.seq), m.points) == m.points  # a resend is the same message


def run_edge(edge: Edge) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=edge.run, kwargs={"stop_event": stop}, daemon=True)
    thread.start()
    return thread, stop


@pytest.fixture
def broker(tmp_path):
    with Broker(tmp_path) as b:
        yield b


def write(port: int, write_id: str, tag: str, value: float, *, ramp: float | None = None, unit: str = "degC",
          raw: bytes | None = None) -> None:
    payload = raw or wire.encode_write(wire.Write(write_id, "cstr", tag, value, unit, ramp,
                                                  time.time_ns() // 1000, "test"))
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"writer-{write_id}", protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        c.publish(f"{PLANT}/write", payload, qos=1).wait_for_publish(5)
    finally:
        c.disconnect()
        c.loop_stop()


@pytest.mark.slow
def test_an_accelerated_cstr_edge_publishes_every_tag_in_sequence_and_answers_writes(broker, tmp_path):
    sub = Subscriber(broker.port, "sub-a")
    edge = Edge("127.0.0.1", broker.port, ["cstr"], factor=600, start=START, buffer_path=tmp_path / "a.sqlite",
                edge_id="edge-a")
    thread, stop = run_edge(edge)
    try:
        wait_for(lambda: len(sub.seqs().get("edge-a/cstr/reactor", ())) >= 5, what="first samples")
        state = retained(broker.port)
        assert state["birth"].retain and state["state"].retain
        assert wire.decode_state(state["state"].payload)["status"] == "online"
        birth = json.loads(state["birth"].payload)
        assert birth["schema"] == wire.BIRTH_SCHEMA and birth["sampling_s"] == 60.0
        assert {t["tag"] for t in birth["tags"]} == {t.tag for t in TAGS}
        assert [t["tag"] for t in birth["tags"] if t["writable"]] == ["CSTR.TC102.SP"]
        assert {t["tag"]: (t["unit"], t["unit_operation"]) for t in birth["tags"]} == \
            {t.tag: (t.unit, t.unit_operation) for t in TAGS}

        target = round(NOMINAL_C + 5.0, 3)
        write(broker.port, "w-ramp", "CSTR.TC102.SP", target, ramp=0.5)
        write(broker.port, "w-ro", "CSTR.TI102", 60.0)
        write(broker.port, "w-range", "CSTR.TC102.SP", 200.0)
        write(broker.port, "w-unit", "CSTR.TC102.SP", 330.0, unit="K")
        write(broker.port, "w-bad", "", 0.0, raw=b'{"schema": "nexus.write/1", "write_id": "w-bad", "value": "hot"}')
        write(broker.port, "w-none", "", 0.0, raw=b"not json")  # no write_id to answer: logged only
        wait_for(lambda: [a.status for a in sub.acks().get("w-ramp", [])] == ["accepted", "done"]
                 and len(sub.acks()) == 5, what="the acks")
        time.sleep(0.5)  # a few more twin minutes at the new set point
    finally:
        stop.set()
        thread.join(20)
        edge.close()
    stats = edge.stats()
    try:
        wait_for(lambda: all(len(sub.seqs()[s]) == n for s, n in data_streams(stats["last_seq"]).items()),
                 what="every message")
        assert stats["buffered"] == 0 and stats["messages_published"] == stats["messages_generated"]
        assert stats["acks_sent"] == {"cstr": 6}  # accepted + done + 4 rejected
        assert stats["messages_generated"] == sum(stats["last_seq"].values()) + 6
        assert_complete(sub, stats, "edge-a")
        assert wire.decode_state(retained(broker.port)["state"].payload)["status"] == "offline"
        acks = sub.acks()
    finally:
        sub.close()

    # Data: one message per unit and sample instant, each unit's tags, 1-min twin time steps in seq order.
    messages = sub.data()
    catalogue = defaultdict(set)
    for t in TAGS:
        catalogue[t.unit_operation].add(t.tag)
    instants = defaultdict(set)
    for m in messages:
        assert {p[0] for p in m.points} == catalogue[m.unit]
        assert len({p[1] for p in m.points}) == 1 and all(p[3] == 192 for p in m.points)
        instants[m.unit].add(m.points[0][1])
    assert len({frozenset(v) for v in instants.values()}) == 1  # every unit at every instant
    ts = sorted(instants["reactor"])
    assert ts[0] == START.timestamp() * 1e6 and set(b - a for a, b in zip(ts, ts[1:])) == {60_000_000}
    assert stats["points_generated"] == 10 * len(ts)

    # Writes: the ramp is accepted, followed at 0.5 K/min, done; the others rejected with the reason.
    assert [(a.status, a.value) for a in acks["w-ramp"]] == [("accepted", target), ("done", target)]
    assert [a.status for a in acks["w-ro"]] == ["rejected"] and "read-only" in acks["w-ro"][0].reason
    assert "instrument range [0, 150] degC, found 200" in acks["w-range"][0].reason
    assert "written in degC" in acks["w-unit"][0].reason
    assert acks["w-bad"][0].status == "rejected" and "malformed" in acks["w-bad"][0].reason
    sp = [p[2] for m in sorted((m for m in messages if m.unit == "controller"), key=lambda m: m.seq)
          for p in m.points if p[0] == "CSTR.TC102.SP"]
    moving = [v for v in sp if NOMINAL_C + 1e-9 < v < target - 1e-9]
    steps = [b - a for a, b in zip([NOMINAL_C, *moving, target], [*moving, target])]
    assert len(moving) in (9, 10)  # 10 min of ramp, started between two samples (or on one)
    assert steps[1:-1] == pytest.approx([0.5] * (len(steps) - 2), abs=1e-6)  # 0.5 K per sample minute
    assert 0 < steps[0] <= 0.5 + 1e-9 and 0 < steps[-1] <= 0.5 + 1e-9
    assert sp == sorted(sp) and sp[0] == pytest.approx(NOMINAL_C) and sp[-1] == pytest.approx(target)


@pytest.mark.slow
def test_a_broker_outage_loses_nothing(broker, tmp_path):
    sub = Subscriber(broker.port, "collector-b", persistent=True)
    edge = Edge("127.0.0.1", broker.port, ["cstr"], factor=600, start=START, buffer_path=tmp_path / "b.sqlite",
                edge_id="edge-b")
    thread, stop = run_edge(edge)
    try:
        wait_for(lambda: len(sub.seqs().get("edge-b/cstr/reactor", ())) >= 5, what="first samples")
        broker.stop()
        before = max(sub.seqs()["edge-b/cstr/reactor"])
        time.sleep(3.0)
        during = edge.stats()
        assert during["buffered"] > 0 and not during["connected"]["cstr"]
        broker.start()
        wait_for(lambda: edge.stats()["connected"]["cstr"], what="the edge to reconnect")
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(20)
        edge.close()
    stats = edge.stats()
    try:
        assert stats["buffered"] == 0
        streams = data_streams(stats["last_seq"])
        wait_for(lambda: all(len(sub.seqs()[s]) == n for s, n in streams.items()), what="every message")
        assert_complete(sub, stats, "edge-b")
        assert during["last_seq"]["edge-b/cstr/reactor"] > before + 10  # sampled on while the broker was away
        assert stats["messages_generated"] == sum(streams.values())
    finally:
        sub.close()


def edge_process(port: int, buffer: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nexus.edge", "--plant", "cstr", "--broker", f"127.0.0.1:{port}", "--factor", "600",
         "--start", "2026-12-06T00:00Z", "--buffer", str(buffer), "--edge-id", "edge-k"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def states(sub: Subscriber) -> list[str]:
    return [wire.decode_state(m.payload)["status"] for m in sub.of("state")]


@pytest.mark.slow
def test_a_killed_edge_resumes_its_sequence_and_clock_from_the_buffer(broker, tmp_path):
    buffer = tmp_path / "k.sqlite"
    sub = Subscriber(broker.port, "collector-k", persistent=True)
    reactor = "edge-k/cstr/reactor"
    proc = edge_process(broker.port, buffer)
    try:
        wait_for(lambda: len(sub.seqs().get(reactor, ())) >= 10, 30, "the first edge's samples")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        wait_for(lambda: states(sub)[-1:] == ["offline"], what="the Last Will")
        with sqlite3.connect(buffer) as db:
            killed_at = dict(db.execute("SELECT stream, last_seq FROM streams"))[reactor]
        assert killed_at >= max(sub.seqs()[reactor])

        proc = edge_process(broker.port, buffer)
        wait_for(lambda: max(sub.seqs()[reactor]) >= killed_at + 10, 30, "the restarted edge's samples")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stats = json.loads(out.strip().splitlines()[-1])
    try:
        streams = data_streams(stats["last_seq"])
        assert stats["buffered"] == 0 and streams[reactor] >= killed_at + 10
        wait_for(lambda: all(len(sub.seqs()[s]) == n for s, n in streams.items()), what="every message")
        assert_complete(sub, stats, "edge-k")  # no seq skipped, none reused for other data
        ts = {m.seq: m.points[0][1] for m in sub.data() if m.stream == f"edge-k.{stats['epoch']}/cstr/reactor"}
        steps = {ts[k + 1] - ts[k] for k in range(1, max(ts))}
        assert min(steps) > 0  # the restarted twin resumed after the last buffered sample
        assert wire.decode_state(retained(broker.port)["state"].payload)["status"] == "offline"
    finally:
        sub.close()


def test_the_cli_refuses_bad_settings(tmp_path, capsys):
    assert main(["--broker", "mqtt://h:notaport", "--buffer", str(tmp_path / "x.sqlite")]) == 2
    assert "HOST:PORT" in capsys.readouterr().out
    assert main(["--plant", "cstr", "--sample-every", "30", "--buffer", str(tmp_path / "x.sqlite")]) == 2
    assert "multiple of 0:01:00" in capsys.readouterr().out
    assert main(["--plant", "nowhere", "--buffer", str(tmp_path / "x.sqlite")]) == 2
    assert "unknown plant" in capsys.readouterr().out


@pytest.mark.slow
def test_a_playback_plant_is_published_on_its_site_and_refuses_writes(broker, tmp_path):
    plant = wire.plant_topic("nexus", "de_chempark", "co2_electrolyzer")
    got: list[mqtt.MQTTMessage] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sub-p", protocol=mqtt.MQTTv5)
    sub.on_message = lambda _c, _u, m: got.append(m)
    sub.on_connect = lambda c, *_: c.subscribe(f"{plant}/#", qos=1)
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    edge = Edge("127.0.0.1", broker.port, ["co2_electrolyzer"], factor=600, start=START, sample_every=60,
                buffer_path=tmp_path / "p.sqlite", edge_id="edge-p")
    thread, stop = run_edge(edge)
    try:
        kinds = lambda k: [m for m in list(got) if wire.parse_topic(m.topic)["kind"] == k]  # noqa: E731
        wait_for(lambda: len(kinds("data")) > 20, what="playback samples")
        payload = wire.encode_write(wire.Write("w-p", "co2_electrolyzer", "ECR.IIC101.SP", 400.0, "A", None, 1, "t"))
        sub.publish(f"{plant}/write", payload, qos=1)
        wait_for(lambda: kinds("ack"), what="the ack")
    finally:
        stop.set()
        thread.join(20)
        edge.close()
        sub.disconnect()
        sub.loop_stop()
    from models.co2_electrolyzer import TAGS as ECR_TAGS

    ack = wire.decode_ack(kinds("ack")[0].payload)
    assert ack.status == "rejected" and "co2_electrolyzer has no live model of its controls" in ack.reason
    messages = [wire.decode_data(m.payload) for m in kinds("data")]
    assert {m.unit for m in messages} == {t.unit_operation for t in ECR_TAGS}
    times = sorted({m.points[0][1] for m in messages})
    assert {b - a for a, b in zip(times, times[1:])} == {60_000_000}  # a 15-min type sampled every minute
    birth = json.loads(kinds("birth")[0].payload)
    assert birth["sampling_s"] == 60.0 and not any(t["writable"] for t in birth["tags"])


def test_a_buffer_serves_one_edge_at_a_time(tmp_path):
    from nexus.errors import ConfigError

    first = Edge("127.0.0.1", 1, ["cstr"], start=START, buffer_path=tmp_path / "one.sqlite", edge_id="e1")
    try:
        with pytest.raises(ConfigError, match="in use by another edge process"):
            Edge("127.0.0.1", 1, ["cstr"], start=START, buffer_path=tmp_path / "one.sqlite", edge_id="e1")
    finally:
        first.close()
    Edge("127.0.0.1", 1, ["cstr"], start=START, buffer_path=tmp_path / "one.sqlite", edge_id="e1").close()


# ------------------------------------------------------------------ buffer epoch and ack priority


def test_a_buffer_file_keeps_one_epoch_for_life_and_every_data_message_carries_it(tmp_path):
    from nexus.edge import Buffer

    first = Buffer(tmp_path / "one.sqlite")
    epoch = first.epoch
    first.close()
    again = Buffer(tmp_path / "one.sqlite")
    other = Buffer(tmp_path / "two.sqlite")
    try:
        assert re.fullmatch(r"[0-9a-f]{12}", epoch)
        assert again.epoch == epoch  # the same file after a restart
        assert other.epoch != epoch  # a new file: a new epoch
    finally:
        again.close()
        other.close()

    edge = Edge("127.0.0.1", 1, ["cstr"], start=START, buffer_path=tmp_path / "one.sqlite", edge_id="e1")
    try:
        edge._tick()  # the sample at START, into the buffer (no broker)
        rows = edge.buffer.next_batch("cstr", {}, 100)
        stats = edge.stats()
    finally:
        edge.close()
    messages = [wire.decode_data(payload) for _id, _topic, payload, _priority in rows]
    assert stats["epoch"] == epoch and len(messages) == 4
    assert {m.epoch for m in messages} == {epoch}
    assert {m.stream for m in messages} == {f"e1.{epoch}/cstr/{u}" for u in UNITS}
    assert set(stats["last_seq"]) == {f"e1/cstr/{u}" for u in UNITS}  # stats keep edge/plant/unit


def test_a_buffer_from_before_epochs_and_priorities_is_upgraded_in_place(tmp_path):
    from nexus.edge import PRIORITY_ACK, Buffer

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the schema an earlier edge left on disk, one message pending
        db.executescript("""
            CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, plant_id TEXT NOT NULL,
                stream TEXT NOT NULL, seq INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
                UNIQUE (stream, seq));
            CREATE TABLE streams (stream TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);
            CREATE TABLE clocks (plant_id TEXT PRIMARY KEY, last_sample_us INTEGER NOT NULL);
            INSERT INTO messages (plant_id, stream, seq, topic, payload) VALUES ('cstr', 'e/cstr/feed', 7, 't', x'00');
            INSERT INTO streams VALUES ('e/cstr/feed', 7);
        """)
    buffer = Buffer(path)
    try:
        assert re.fullmatch(r"[0-9a-f]{12}", buffer.epoch) and buffer.last_seq == {"e/cstr/feed": 7}
        buffer.append("cstr", [("e/cstr/ack", "a", lambda _seq: b"ack", PRIORITY_ACK)])
        assert [r[2] for r in buffer.next_batch("cstr", {}, 10)] == [b"ack", b"\x00"]
    finally:
        buffer.close()
    assert Buffer(path).epoch == buffer.epoch


def test_the_buffer_hands_out_acks_before_pending_data(tmp_path):
    from nexus.edge import PRIORITY_ACK, PRIORITY_DATA, Buffer

    def data(n):
        return [("e/cstr/reactor", "d", lambda seq: f"d{seq}".encode())] * n

    def ack(name, plant="cstr"):
        return [(f"e/{plant}/ack", "a", lambda _seq: name.encode(), PRIORITY_ACK)]

    buffer = Buffer(tmp_path / "p.sqlite")
    try:
        buffer.append("cstr", data(3))
        buffer.append("cstr", ack("accepted"))
        buffer.append("other", ack("other plant", "other"))
        first = buffer.next_batch("cstr", {}, 2)
        assert [r[2] for r in first] == [b"accepted", b"d1"]
        # Sent so far: the ack and d1. A later ack still overtakes the data not yet sent.
        cursor = {priority: row_id for row_id, _t, _p, priority in first}
        buffer.append("cstr", data(1) + ack("done"))
        assert [r[2] for r in buffer.next_batch("cstr", cursor, 10)] == [b"done", b"d2", b"d3", b"d4"]
        # One cursor (the last id sent) would have skipped d2 and d3: the first ack's id is after theirs.
        assert cursor[PRIORITY_ACK] > cursor[PRIORITY_DATA]
        assert buffer.last_seq == {"e/cstr/reactor": 4, "e/cstr/ack": 2, "e/other/ack": 1}
    finally:
        buffer.close()


def test_after_an_outage_a_buffered_ack_goes_out_before_the_data_backlog(broker, tmp_path):
    from nexus.edge import PRIORITY_ACK

    buffer = tmp_path / "q.sqlite"
    broker.stop()
    edge = Edge("127.0.0.1", broker.port, ["cstr"], factor=6000, start=START, buffer_path=buffer, edge_id="edge-q")
    try:
        edge.run(duration_s=1.0)  # no broker: everything stays in the buffer
        backlog = edge.stats()["buffered"]
        ack = wire.encode_ack(wire.Ack("w-q", "cstr", "accepted", "", time.time_ns() // 1000, 60.0))
        edge.buffer.append("cstr", [("edge-q/cstr/ack", f"{PLANT}/ack", lambda _seq: ack, PRIORITY_ACK)])
    finally:
        edge.close()
    assert backlog >= 40

    broker.start()
    sub = Subscriber(broker.port, "collector-q")
    wait_for(sub.subscribed.is_set, what="the subscription")
    edge = Edge("127.0.0.1", broker.port, ["cstr"], factor=600, start=START, buffer_path=buffer, edge_id="edge-q")
    thread, stop = run_edge(edge)
    try:
        wait_for(lambda: sub.of("ack") and len(sub.of("data")) >= backlog, what="the ack and the backlog")
    finally:
        stop.set()
        thread.join(20)
        edge.close()
        sub.close()
    with sub.lock:
        kinds = [wire.parse_topic(m.topic)["kind"] for m in sub.messages]
    ordered = [k for k in kinds if k in ("ack", "data")]
    assert ordered[0] == "ack" and ordered.count("ack") == 1  # ahead of the whole backlog


# ------------------------------------------------------------------------------------ historian


def test_a_starting_edge_closes_the_historian_days_an_earlier_run_left_open(tmp_path):
    landing = tmp_path / "landing"
    partial = landing / ".historian-partial"
    header = "tag,ts,value,quality\n"
    files = {
        partial / "cstr" / "cstr__2026-12-04__01.csv": "CSTR.TI102,2026-12-04T23:59:00Z,65.2,192\n",
        partial / "cstr" / "cstr__2026-12-05__01.csv": "CSTR.TI102,2026-12-05T23:50:00Z,65.3,192\n",
        partial / "cstr" / "cstr__2026-12-06__01.csv": "CSTR.TI102,2026-12-06T00:00:00Z,65.4,192\n",  # START's day
        partial / "other" / "other__2026-12-05__01.csv": "X,2026-12-05T23:50:00Z,1.0,192\n",  # not this edge's
    }
    for path, body in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + body)
    Edge("127.0.0.1", 1, ["cstr"], start=START, buffer_path=tmp_path / "h.sqlite", edge_id="e1",
         historian_dir=landing).close()
    for day in ("2026-12-04", "2026-12-05"):
        landed = landing / "sensor" / "cstr" / f"cstr__{day}__01.csv"
        assert landed.read_text() == header + files[partial / "cstr" / f"cstr__{day}__01.csv"]
        assert not (partial / "cstr" / f"cstr__{day}__01.csv").exists()
    assert (partial / "cstr" / "cstr__2026-12-06__01.csv").exists()  # the start's own day goes on
    assert (partial / "other" / "other__2026-12-05__01.csv").exists()
    assert sorted(p.name for p in (landing / "sensor").rglob("*.csv")) == \
        ["cstr__2026-12-04__01.csv", "cstr__2026-12-05__01.csv"]


def test_the_historian_records_only_what_the_buffer_committed(tmp_path):
    landing = tmp_path / "landing"
    edge = Edge("127.0.0.1", 1, ["cstr"], start=START, buffer_path=tmp_path / "c.sqlite", edge_id="e1",
                historian_dir=landing)
    try:
        edge.buffer.db.execute("PRAGMA query_only = ON")  # the buffer's commit fails (like a full disk)
        with pytest.raises(sqlite3.OperationalError):
            edge._tick()
        assert not list(landing.rglob("*.csv"))  # so the historian holds nothing of that tick
    finally:
        edge.close()
    edge = Edge("127.0.0.1", 1, ["cstr"], start=START, buffer_path=tmp_path / "d.sqlite", edge_id="e1",
                historian_dir=landing)
    try:
        edge._tick()  # committed: the historian has the same readings
        points = [p for _i, _t, payload, _p in edge.buffer.next_batch("cstr", {}, 100)
                  for p in wire.decode_data(payload).points]
    finally:
        edge.close()
    (path,) = landing.rglob("*.csv")
    lines = path.read_text().splitlines()[1:]
    assert len(points) == len(lines) == 10
    assert {line.split(",")[0] for line in lines} == {p[0] for p in points}
    assert {line.split(",")[1] for line in lines} == {"2026-12-06T00:00:00Z"}
