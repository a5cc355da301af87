"""The collector (etl.stream): MQTT micro-batches into bronze, silver and gold, exactly once.

A private Mosquitto broker per module (tests.mqtt.Broker) and a plain paho publisher that speaks
the wire contract (nexus.wire) stand in for a plant edge; lakes are real Delta tables in tmp_path.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pyarrow.compute as pc
import pytest

from etl.stream import Collector, CollectorConfig, Received, SeqLog, message_rows, reconcile
from models.cstr import TAGS
from nexus import wire
from tests.mqtt import Broker
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import (
    BRONZE_STREAM_READINGS,
    FCT_STREAM_BATCHES,
    FCT_STREAM_RECONCILIATION,
    FCT_TAG_HOURLY,
    SILVER_SENSOR_QUARANTINE,
    SILVER_SENSOR_READINGS,
)

DAY = dt.date(2026, 3, 2)
T0 = int(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc).timestamp() * 1_000_000)
MINUTE = 60_000_000
UNITS = sorted({t.unit_operation for t in TAGS})
META = CommitMeta(dag_id="test", run_id="test", source="test")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with Broker(tmp_path_factory.mktemp("broker")) as b:
        yield b


def value_of(tag: str, minute: int) -> float:
    spec = next(t for t in TAGS if t.tag == tag)
    return round(spec.range_min + (spec.range_max - spec.range_min) * (0.3 + 0.001 * (minute % 100)), 4)


def messages(minutes: range, edge: str = "edge-t", plant: str = "cstr") -> list[tuple[str, bytes]]:
    """One message per unit operation per minute, seq 1, 2, ... per stream (as an edge sends them)."""
    out, seq = [], {u: 0 for u in UNITS}
    for m in minutes:
        for unit in UNITS:
            seq[unit] += 1
            points = [(t.tag, T0 + m * MINUTE, value_of(t.tag, m), 192) for t in TAGS if t.unit_operation == unit]
            out.append((wire.data_topic("nexus", "de_chempark", plant, unit),
                        wire.encode_data(edge=edge, plant_id=plant, unit=unit, seq=seq[unit], sent_at_us=T0 + m * MINUTE,
                                         points=points)))
    return out


def publish(broker: Broker, items: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for topic, payload in items:
            client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def collect_until(collector: Collector, points: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while collector.stats.points + collector.stats.redeliveries_dropped * 0 < points and time.monotonic() < deadline:
        time.sleep(0.2)
        collector.flush()
    collector.refresh_gold()


# ------------------------------------------------------------------------------------ pure parts


def test_seqlog_keeps_intervals_and_answers_membership():
    log = SeqLog()
    for seq in (1, 2, 3, 7, 5, 6, 4, 10):
        log.add("a", seq)
    log.add("a", 3)  # again: no change
    assert log.intervals("a") == [(1, 7), (10, 10)]
    assert ("a", 4) in log and ("a", 10) in log
    assert ("a", 8) not in log and ("a", 0) not in log and ("b", 1) not in log


def test_message_rows_keep_unreadable_messages_and_points_with_a_reason():
    topic = wire.data_topic("nexus", "de_chempark", "cstr", "reactor")
    key, rows = message_rows(Received(1, topic, b"\xff not json", T0))
    assert key[0] == f"?/{topic}" and len(rows) == 1 and rows[0]["_point"] == -1
    assert rows[0]["_parse_error"].startswith("message: payload is not JSON")
    assert message_rows(Received(2, topic, b"\xff not json", T0))[0] == key  # a redelivery has the same key

    payload = json.dumps({"schema": "nexus.data/1", "edge": "e", "plant_id": "cstr", "unit": "reactor", "seq": 4,
                          "sent_at": T0, "points": [["CSTR.TI102", T0, 61.5, 192], ["CSTR.TI102", "noon", 1, 192],
                                                    ["CSTR.TI102", T0 + MINUTE, 61.7, 300]]}).encode()
    key, rows = message_rows(Received(3, topic, payload, T0))
    assert key == ("e/cstr/reactor", 4)
    assert [r["_parse_error"] is None for r in rows] == [True, False, False]
    assert "ts must be microseconds" in rows[1]["_parse_error"] and "quality must be" in rows[2]["_parse_error"]
    assert rows[0]["value"] == 61.5 and rows[0]["timestamp"] == dt.datetime(2026, 3, 2, 10, tzinfo=dt.timezone.utc)

    other = wire.data_topic("nexus", "de_chempark", "cstr", "jacket")
    (_, rows) = message_rows(Received(4, other, payload, T0))
    assert "its topic plant 'cstr' unit 'jacket'" in rows[0]["_parse_error"]


# ------------------------------------------------------------------------------ through a broker


def test_a_stream_lands_in_bronze_silver_and_gold_once(broker, tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    collector = Collector(lake, CollectorConfig(port=broker.port, client_id="c-once", flush_seconds=0.2))
    collector.connect()
    try:
        items = messages(range(90))  # 10:00-11:29, every tag each minute
        publish(broker, items[:180])
        collect_until(collector, 45 * len(TAGS))  # a first micro-batch (its own files)
        publish(broker, items[180:])
        publish(broker, items[:7])  # an edge re-sends part of its buffer after a reconnect
        collect_until(collector, 90 * len(TAGS))
        deadline = time.monotonic() + 10
        while collector.stats.redeliveries_dropped < 7 and time.monotonic() < deadline:
            time.sleep(0.2)
            collector.flush()
        collector.refresh_gold()
    finally:
        collector.close()
    bronze = lake.read(BRONZE_STREAM_READINGS)
    assert bronze.num_rows == 90 * len(TAGS)
    assert collector.stats.redeliveries_dropped == 7
    assert collector.stats.flushes > 1
    # the micro-batches' small files are compacted: one file per partition when the collector stops
    for spec, day_column in ((BRONZE_STREAM_READINGS, "period_date"), (SILVER_SENSOR_READINGS, "reading_date")):
        assert len(lake.dataset(spec, files=[("plant_id", "=", "cstr"), (day_column, "=", DAY)]).files) == 1
    silver = lake.read(SILVER_SENSOR_READINGS, where={"plant_id": "cstr"})
    assert silver.num_rows == 90 * len(TAGS)
    assert set(pc.unique(silver["_source_file"]).to_pylist()) >= {"mqtt:edge-t/cstr/reactor#1"}
    # canonical units: the reactor temperature in K
    ti = silver.filter(pc.equal(silver["tag"], "CSTR.TI102")).sort_by("ts")
    assert ti["value"][0].as_py() == pytest.approx(value_of("CSTR.TI102", 0) + 273.15, abs=1e-9)
    hourly = lake.read(FCT_TAG_HOURLY, where={"plant_id": "cstr"})
    assert sorted({h.hour for h in hourly["hour_start"].to_pylist()}) == [10, 11]
    assert hourly.filter(pc.equal(hourly["tag"], "CSTR.TI102"))["sample_count"].to_pylist() == [60, 30]
    [acct] = lake.read(FCT_STREAM_BATCHES).to_pylist()
    assert acct["messages"] == 90 * len(UNITS) and acct["redeliveries_dropped"] == 7
    assert acct["points_received"] == acct["silver_rows"] == 90 * len(TAGS)
    assert acct["quarantined_rows"] == acct["held_rows"] == 0


def test_bad_points_go_to_quarantine_with_their_reason(broker, tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    topic = wire.data_topic("nexus", "de_chempark", "cstr", "reactor")
    payload = wire.encode_data(edge="edge-q", plant_id="cstr", unit="reactor", seq=1, sent_at_us=T0, points=[
        ("CSTR.TI102", T0, 65.0, 192), ("CSTR.TI102", T0 + MINUTE, 999.0, 192), ("CSTR.NOPE", T0, 1.0, 192),
        ("CSTR.TI102", T0 + 2 * MINUTE, None, 192)])
    collector = Collector(lake, CollectorConfig(port=broker.port, client_id="c-quarantine", flush_seconds=0.2))
    collector.connect()
    try:
        publish(broker, [(topic, payload), (topic, b"{not json")])
        collect_until(collector, 5)
    finally:
        collector.close()
    quarantine = lake.read(SILVER_SENSOR_QUARANTINE).sort_by("_line_number").to_pylist()
    rules = sorted(r["rule"] for r in quarantine)
    assert rules == ["good_has_value", "in_instrument_range", "known_tag", "parse"]
    assert lake.read(SILVER_SENSOR_READINGS).num_rows == 1
    # the unreadable message is booked on the day it was received, the points on their own day
    accounts = {r["period_date"]: r for r in lake.read(FCT_STREAM_BATCHES).to_pylist()}
    assert accounts[DAY]["points_received"] == 4 and accounts[DAY]["silver_rows"] == 1
    assert accounts[DAY]["quarantined_rows"] == 3
    [today] = [r for d, r in accounts.items() if d != DAY]
    assert today["points_received"] == today["quarantined_rows"] == 1 and today["messages"] == 1


def _collector_process(lake: Path, port: int, client_id: str, log: Path) -> subprocess.Popen:
    """``python -m etl.stream`` (what ``nexus collect`` runs), returned once its session is subscribed."""
    env = {**os.environ, "NEXUS_LAKE_ROOT": str(lake)}
    start = log.stat().st_size if log.exists() else 0
    with log.open("a") as out:
        proc = subprocess.Popen([sys.executable, "-m", "etl.stream", "--broker", f"mqtt://127.0.0.1:{port}",
                                 "--client-id", client_id, "--flush-seconds", "0.3", "--gold-seconds", "1"],
                                env=env, stdout=out, stderr=out, text=True)
    deadline = time.monotonic() + 60
    while "connected to" not in log.read_text()[start:]:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)
    return proc


def _wait_rows(lake: Lake, n: int, timeout: float = 60.0) -> int:
    deadline, rows = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        if lake.exists(BRONZE_STREAM_READINGS):
            rows = Lake(lake.root).read(BRONZE_STREAM_READINGS, columns=["_seq"]).num_rows
            if rows >= n:
                return rows
        time.sleep(0.3)
    return rows


@pytest.mark.slow
def test_kill_9_of_the_collector_and_a_broker_restart_lose_and_duplicate_nothing(tmp_path):
    """At-least-once delivery (persistent session, PUBACK after commit) + the (stream, seq) key."""
    lake_dir = tmp_path / "lake"
    lake = Lake(str(lake_dir))
    items = messages(range(300))
    with Broker(tmp_path) as broker:
        proc = _collector_process(lake_dir, broker.port, "c-kill", tmp_path / "collector.log")
        try:
            publish(broker, items[:600])
            assert _wait_rows(lake, 1) > 0
            proc.send_signal(signal.SIGKILL)  # whatever it held unacknowledged, the broker redelivers
            proc.wait(10)
            publish(broker, items[600:900])  # queued by the broker for the absent session
            broker.restart()  # the persistent session and its queue survive a clean broker restart
            proc = _collector_process(lake_dir, broker.port, "c-kill", tmp_path / "collector.log")
            publish(broker, items[900:])
            rows = _wait_rows(lake, 300 * len(TAGS))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert proc.returncode == 0, (tmp_path / "collector.log").read_text()[-3000:]
    bronze = Lake(str(lake_dir)).read(BRONZE_STREAM_READINGS)
    assert rows == bronze.num_rows == 300 * len(TAGS)  # nothing lost, nothing twice
    keys = {(s, q, p) for s, q, p in zip(bronze["_stream"].to_pylist(), bronze["_seq"].to_pylist(),
                                         bronze["_point"].to_pylist())}
    assert len(keys) == bronze.num_rows
    silver = Lake(str(lake_dir)).read(SILVER_SENSOR_READINGS)
    assert silver.num_rows == 300 * len(TAGS)
    per_tag = {r["values"]: r["counts"] for r in pc.value_counts(silver["tag"]).to_pylist()}
    assert per_tag == {t.tag: 300 for t in TAGS}


def test_the_historian_export_replaces_the_streamed_day_and_reconciles(broker, tmp_path):
    from etl.sensor import Batch, land, load_bronze, publish_silver

    lake = Lake(str(tmp_path / "lake"))
    collector = Collector(lake, CollectorConfig(port=broker.port, client_id="c-reconcile", flush_seconds=0.2))
    collector.connect()
    try:
        items = messages(range(30))
        bad = wire.encode_data(edge="edge-t", plant_id="cstr", unit="reactor", seq=999, sent_at_us=T0,
                               points=[("CSTR.TI102", T0 + 40 * MINUTE, 999.0, 192)])
        publish(broker, items + [(wire.data_topic("nexus", "de_chempark", "cstr", "reactor"), bad)])
        collect_until(collector, 30 * len(TAGS) + 1)
    finally:
        collector.close()
    # the historian exports the same readings, minus one minute of one tag, plus one reading the stream missed
    landing = tmp_path / "landing" / "sensor" / "cstr"
    landing.mkdir(parents=True)
    lines = ["tag,timestamp,value,quality"]
    for m in range(30):
        for t in TAGS:
            if t.tag == "CSTR.FI101" and m == 5:
                continue
            stamp = dt.datetime.fromtimestamp((T0 + m * MINUTE) / 1e6, dt.timezone.utc).isoformat()
            lines.append(f"{t.tag},{stamp},{value_of(t.tag, m)},192")
    lines.append(f"CSTR.FI101,{dt.datetime.fromtimestamp((T0 + 50 * MINUTE) / 1e6, dt.timezone.utc).isoformat()},"
                 f"{value_of('CSTR.FI101', 50)},192")
    (landing / f"cstr__{DAY:%Y-%m-%d}__01.csv").write_text("\n".join(lines) + "\n")
    batch = Batch("cstr", DAY)
    land(lake, tmp_path / "landing", batch, META)
    load_bronze(lake, batch, META)
    publish_silver(lake, batch, META)

    silver = lake.read(SILVER_SENSOR_READINGS, where={"plant_id": "cstr"})
    assert silver.num_rows == 30 * len(TAGS)  # the export's rows only: nothing counted twice
    assert not any(f.startswith("mqtt:") for f in silver["_source_file"].to_pylist())
    quarantine = lake.read(SILVER_SENSOR_QUARANTINE)
    assert quarantine.filter(pc.starts_with(quarantine["_source_file"], "mqtt:")).num_rows == 1  # kept

    out = reconcile(lake, "cstr", DAY, META)
    assert out["matched"] == 30 * len(TAGS) - 1 and out["differing"] == 0
    # the stream's own out-of-range point has no counterpart in the export
    assert out["stream_only"] == 2 and out["historian_only"] == 1
    rows = {r["tag"]: r for r in lake.read(FCT_STREAM_RECONCILIATION).to_pylist()}
    assert rows["CSTR.FI101"]["status"] == "incomplete" and rows["CSTR.FI101"]["historian_only"] == 1
    assert rows["CSTR.AI102"]["status"] == "agree" and rows["CSTR.AI102"]["matched"] == 30


def _offline(lake: Lake) -> Collector:
    """A collector fed by hand (no broker): messages go straight into its queue, as paho would put them."""
    return Collector(lake, CollectorConfig(client_id="offline"))


def _feed(collector: Collector, items: list[tuple[str, bytes]]) -> dict:
    collector._pending.extend(Received(0, topic, payload, T0) for topic, payload in items)
    return collector.flush()


def test_a_reading_sent_again_under_another_key_is_counted_once_and_a_changed_one_quarantined(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    collector = _offline(lake)
    _feed(collector, messages(range(3)))
    # the same readings again from another edge (a new stream): identical repeats, not new readings
    again = _feed(collector, messages(range(3), edge="edge-u"))
    assert again["silver_rows"] == 0 and again["quarantined_rows"] == 0
    # one reading with another value: a conflict with what silver already holds
    topic = wire.data_topic("nexus", "de_chempark", "cstr", "reactor")
    changed = wire.encode_data(edge="edge-v", plant_id="cstr", unit="reactor", seq=1, sent_at_us=T0,
                               points=[("CSTR.TI102", T0, value_of("CSTR.TI102", 0) + 1.0, 192),
                                       ("CSTR.TI102", T0 + 30 * MINUTE, 60.0, 192)])  # and a late new one
    out = _feed(collector, [(topic, changed)])
    assert out["silver_rows"] == 1 and out["quarantined_rows"] == 1
    collector.refresh_gold()
    silver = lake.read(SILVER_SENSOR_READINGS)
    keys = list(zip(silver["tag"].to_pylist(), silver["ts"].to_pylist()))
    assert len(keys) == len(set(keys)) == 3 * len(TAGS) + 1
    [conflict] = lake.read(SILVER_SENSOR_QUARANTINE).to_pylist()
    assert conflict["rule"] == "conflict" and "was already published from mqtt:edge-t/cstr/reactor#1" in conflict["reason"]
    [acct] = lake.read(FCT_STREAM_BATCHES).to_pylist()
    assert acct["points_received"] == 2 * 3 * len(TAGS) + 2
    assert acct["duplicates_removed"] == 3 * len(TAGS) and acct["silver_rows"] == 3 * len(TAGS) + 1


def test_a_day_without_an_export_keeps_its_streamed_readings(tmp_path):
    from etl.sensor import Batch, run_batch

    lake = Lake(str(tmp_path / "lake"))
    collector = _offline(lake)
    _feed(collector, messages(range(30)))
    collector.refresh_gold()
    before = lake.read(SILVER_SENSOR_READINGS).num_rows
    # the nightly run finds no export file for the day: it must not empty the streamed day
    run_batch(lake, tmp_path / "landing", Batch("cstr", DAY), META)
    assert lake.read(SILVER_SENSOR_READINGS).num_rows == before == 30 * len(TAGS)
    assert lake.read(FCT_TAG_HOURLY, where={"plant_id": "cstr"}).num_rows == len(TAGS)
    assert not Collector(lake)._historian_loaded("cstr", DAY)  # later points are still published
    late = wire.encode_data(edge="edge-t", plant_id="cstr", unit="reactor", seq=999, sent_at_us=T0,
                            points=[("CSTR.TI102", T0 + 40 * MINUTE, 61.0, 192)])
    assert _feed(Collector(lake), [(wire.data_topic("nexus", "de_chempark", "cstr", "reactor"), late)])["silver_rows"] == 1
