"""The live path as a whole: edge → broker → collector → lake, through an outage, and the day's export.

The edge (nexus.edge) runs a CSTR twin at 600x real time, the collector (etl.stream) runs in
this process, both against a private Mosquitto broker; the edge reaches it through a relay that can
cut the line (tests.mqtt.Cut), as a network outage would.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pyarrow.compute as pc
import pytest

from etl.stream import Collector, CollectorConfig, reconcile_days
from models.cstr import TAGS
from nexus.edge import Edge
from tests.mqtt import Broker, Cut
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import (
    BRONZE_STREAM_READINGS,
    FCT_STREAM_BATCHES,
    FCT_STREAM_RECONCILIATION,
    SILVER_SENSOR_READINGS,
)

pytestmark = pytest.mark.slow
META = CommitMeta(dag_id="test", run_id="live-path", source="test")


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.2)


def _bronze_rows(lake: Lake) -> int:
    return lake.read(BRONZE_STREAM_READINGS, columns=["_seq"]).num_rows if lake.exists(BRONZE_STREAM_READINGS) else 0


def test_an_edge_cut_off_buffers_and_forwards_everything_once(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    start = dt.datetime(2026, 3, 4, 10, tzinfo=dt.timezone.utc)
    stop = threading.Event()
    with Broker(tmp_path) as broker, Cut(broker.port) as line:
        collector = Collector(lake, CollectorConfig(port=broker.port, client_id="cut-collector", flush_seconds=0.3))
        collector.connect()
        edge = Edge("127.0.0.1", line.port, ["cstr"], factor=600, start=start, buffer_path=tmp_path / "edge.sqlite",
                    edge_id="cut-edge")
        threads = [threading.Thread(target=collector.run, kwargs={"stop": stop}, daemon=True),
                   threading.Thread(target=edge.run, kwargs={"stop_event": stop}, daemon=True)]
        for t in threads:
            t.start()
        try:
            _wait(lambda: _bronze_rows(lake) > 0, 30, "the first readings")
            line.cut()  # the edge keeps sampling into its buffer
            time.sleep(3)
            buffered = edge.stats()["buffered"]
            line.mend()
            time.sleep(2)
            edge.stop()  # no new samples; what is buffered still goes out
            _wait(lambda: edge.stats()["buffered"] == 0, 30, "the edge's buffer to empty")
            sent = edge.stats()
            _wait(lambda: _bronze_rows(lake) >= sent["points_generated"], 30, "every point in bronze")
        finally:
            stop.set()
            for t in threads:
                t.join(30)
            edge.close()
    assert buffered > 0, "the cut should have left messages in the edge's buffer"
    bronze = lake.read(BRONZE_STREAM_READINGS, columns=["tag", "_stream", "_seq", "_point"])
    keys = set(zip(bronze["_stream"].to_pylist(), bronze["_seq"].to_pylist(), bronze["_point"].to_pylist()))
    assert bronze.num_rows == len(keys) == sent["points_generated"]  # nothing lost, nothing twice
    assert sum(sent["last_seq"].values()) == len({k[:2] for k in keys})
    silver = lake.read(SILVER_SENSOR_READINGS, columns=["tag", "ts"])
    per_tag = {r["values"]: r["counts"] for r in pc.value_counts(silver["tag"]).to_pylist()}
    assert set(per_tag) == {t.tag for t in TAGS} and len(set(per_tag.values())) == 1  # every minute of every tag
    [row] = lake.read(FCT_STREAM_BATCHES).to_pylist()
    assert row["points_received"] == row["silver_rows"] == sent["points_generated"]


def test_the_plant_historians_export_of_the_day_agrees_with_the_stream(tmp_path):
    from etl.sensor import Batch, build_gold, land, load_bronze, publish_silver

    lake = Lake(str(tmp_path / "lake"))
    landing = tmp_path / "landing"
    day = dt.date(2026, 3, 4)
    start = dt.datetime(2026, 3, 4, 23, tzinfo=dt.timezone.utc)  # the day's last hour, then past midnight
    stop = threading.Event()
    with Broker(tmp_path) as broker:
        collector = Collector(lake, CollectorConfig(port=broker.port, client_id="export-collector", flush_seconds=0.3,
                                                    gold_seconds=1.0))
        collector.connect()
        edge = Edge("127.0.0.1", broker.port, ["cstr"], factor=600, start=start, buffer_path=tmp_path / "edge.sqlite",
                    edge_id="export-edge", historian_dir=landing)
        threads = [threading.Thread(target=collector.run, kwargs={"stop": stop}, daemon=True),
                   threading.Thread(target=edge.run, kwargs={"stop_event": stop}, daemon=True)]
        for t in threads:
            t.start()
        export = landing / "sensor" / "cstr" / f"cstr__{day}__01.csv"
        try:
            _wait(export.exists, 60, "the historian's export of the day")
            lines = export.read_text().splitlines()
            n = len(lines) - 1  # the samples after 23:00 up to the day's end, every tag
            _wait(lambda: lake.exists(FCT_STREAM_BATCHES) and any(
                r["period_date"] == day and r["points_received"] == n
                for r in lake.read(FCT_STREAM_BATCHES).to_pylist()), 30, "the day's stream in the lake")
        finally:
            stop.set()
            for t in threads:
                t.join(30)
            edge.close()
    assert lines[0] == "tag,timestamp,value,quality" and n % len(TAGS) == 0 and n >= 59 * len(TAGS)

    batch = Batch("cstr", day)
    land(lake, landing, batch, META)
    load_bronze(lake, batch, META)
    silver = publish_silver(lake, batch, META)
    build_gold(lake, batch, META)
    assert silver["silver_rows"] == n  # the export's rows replaced the streamed ones, not added
    assert lake.read(SILVER_SENSOR_READINGS, where={"plant_id": "cstr"}, start=start,
                     end=start + dt.timedelta(hours=1)).num_rows == n

    out = reconcile_days(lake, "cstr", batch.days, META)
    summary = out[day.isoformat()]
    assert summary["matched"] == summary["streamed"] == summary["historian"] == n
    assert summary["status"] == {"agree": len(TAGS), "differ": 0, "incomplete": 0}
    rows = lake.read(FCT_STREAM_RECONCILIATION).to_pylist()
    # the export rounds to 1e-5 of the span; the stream carries the transmitted value unrounded
    assert all(r["max_abs_difference"] <= r["tolerance"] for r in rows)
    assert any(r["max_abs_difference"] > 0 for r in rows)
