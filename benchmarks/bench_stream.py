"""Benchmark: the live path — a plant edge streaming over MQTT into the lake, steady and under faults.

Runs what a plant runs, as separate processes on this machine: a private Mosquitto broker
(persistence on), ``nexus collect`` (the collector, etl.stream) and ``nexus edge`` (the plant
side) with a plant of ``--tags`` tags sampled every ``--sample-every`` seconds in real time
(default: the 1,000-tag reactor bank at 1 Hz, 60,000 points/min). The edge reaches the broker
through a TCP relay the benchmark can cut, as a network outage would.

Phase 1, steady (``--seconds``): points per minute committed to silver, the latency from each
point's reading time to the end of the silver commit that published it (p50 / p95 / max), CPU of
the collector and of the edge (share of one core) and the collector's peak RSS. The floor is a
bare DuckDB pass over the same points (read_csv → Parquet of the run's readings exported as one
historian file), in the same run.

Phase 2, faults (``--faults``): while the edge streams, the collector is killed (SIGKILL) and
restarted, the broker is restarted, and the edge's line is cut for ``--cut-seconds``. At the
end every tag's points are counted in bronze and silver against what the edge sent (its buffer's
``seq`` numbers): lost and duplicated points must both be zero.

    .venv/bin/python benchmarks/bench_stream.py                      # both phases, ~7 min
    .venv/bin/python benchmarks/bench_stream.py --seconds 60 --no-faults --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_sensor_pipeline import report  # noqa: E402
from tests.mqtt import Broker, Cut  # noqa: E402

NEXUS = str(Path(sys.executable).with_name("nexus"))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(args: list[str], log: Path, env: dict[str, str], ready: str | None = None) -> subprocess.Popen:
    offset = log.stat().st_size if log.exists() else 0
    with log.open("a") as out:
        proc = subprocess.Popen([NEXUS, *args], env=env, stdout=out, stderr=out, text=True)
    deadline = time.monotonic() + 120
    while ready and ready not in log.read_text()[offset:]:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{args[0]} did not start: {log.read_text()[-3000:]}")
        time.sleep(0.1)
    return proc


def last_json(log: Path) -> dict:
    for line in reversed(log.read_text().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON summary in {log}: {log.read_text()[-2000:]}")


def bronze_count(lake: Path) -> int:
    from warehouse.lake import Lake
    from warehouse.tables import BRONZE_STREAM_READINGS

    lk = Lake(str(lake))
    return lk.read(BRONZE_STREAM_READINGS, columns=["_seq"]).num_rows if lk.exists(BRONZE_STREAM_READINGS) else 0


def run_phase(work: Path, plant: str, sample_every: float, seconds: float, faults: bool, cut_seconds: float,
              flush: float, warmup: float = 20.0) -> dict:
    work.mkdir(parents=True)
    lake = work / "lake"
    env = {**os.environ, "NEXUS_LAKE_ROOT": str(lake)}
    figures: dict = {}
    with Broker(work) as broker, Cut(broker.port) as line:
        coll_args = ["collect", "--broker", f"mqtt://127.0.0.1:{broker.port}", "--client-id", "bench-collector",
                     "--flush-seconds", str(flush), "--gold-seconds", "30"]
        coll_log, edge_log = work / "collector.log", work / "edge.log"
        collector = start(coll_args, coll_log, env, ready="connected to")
        edge = start(["edge", "--plant", plant, "--sample-every", str(sample_every), "--broker",
                      f"mqtt://127.0.0.1:{line.port}", "--edge-id", "bench-edge", "--buffer", str(work / "edge.sqlite")],
                     edge_log, env)
        t0 = time.monotonic()
        warm = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=warmup)
        c_cpu0 = cpu_seconds(collector.pid)
        events = []
        plan = ([(0.2 * seconds, "kill -9 collector"), (0.2 * seconds + 5, "restart collector"),
                 (0.45 * seconds, "restart broker"), (0.55 * seconds, "cut edge line"),
                 (0.55 * seconds + cut_seconds, "mend edge line")] if faults else [])
        collector_cpu = 0.0
        while time.monotonic() - t0 < seconds:
            now = time.monotonic() - t0
            while plan and plan[0][0] <= now:
                _, what = plan.pop(0)
                events.append(f"{now:.0f}s {what}")
                if what == "kill -9 collector":
                    collector_cpu += cpu_seconds(collector.pid) - c_cpu0
                    collector.send_signal(signal.SIGKILL)
                    collector.wait()
                elif what == "restart collector":
                    collector = start(coll_args, coll_log, env, ready="connected to")
                    c_cpu0 = cpu_seconds(collector.pid)
                elif what == "restart broker":
                    broker.stop()
                    time.sleep(3)
                    broker.start()
                elif what == "cut edge line":
                    line.cut()
                elif what == "mend edge line":
                    line.mend()
            time.sleep(0.2)
        edge_cpu = cpu_seconds(edge.pid)
        edge.send_signal(signal.SIGTERM)
        edge.wait(120)
        sent = last_json(edge_log)
        generated = sent["points_generated"]
        # drain: the collector commits what is still queued
        deadline = time.monotonic() + 180
        while (have := bronze_count(lake)) < generated and time.monotonic() < deadline:
            time.sleep(1)
        drained_s = time.monotonic() - t0 - seconds
        collector_cpu += cpu_seconds(collector.pid) - c_cpu0
        rss = peak_rss_mib(collector.pid)
        collector.send_signal(signal.SIGTERM)
        collector.wait(120)
        summary = last_json(coll_log)

    from warehouse.lake import Lake
    from warehouse.tables import BRONZE_STREAM_READINGS, SILVER_SENSOR_QUARANTINE, SILVER_SENSOR_READINGS
    import pyarrow.compute as pc

    lk = Lake(str(lake))
    bronze = lk.read(BRONZE_STREAM_READINGS, columns=["tag", "_stream", "_seq", "_point"])
    silver = lk.read(SILVER_SENSOR_READINGS, columns=["tag", "ts"])
    quarantined = lk.read(SILVER_SENSOR_QUARANTINE, columns=["tag"]).num_rows if lk.exists(SILVER_SENSOR_QUARANTINE) else 0
    keys = len(set(zip(bronze["_stream"].to_pylist(), bronze["_seq"].to_pylist(), bronze["_point"].to_pylist())))
    per_tag = pc.value_counts(silver["tag"]).to_pylist()
    samples = {r["counts"] for r in per_tag}
    tags = len(per_tag)
    # the edge numbers each unit's messages 1..n: the last seq per stream is what it sent
    sent_messages = sum(sent["last_seq"].values())
    stored_messages = len(set(zip(bronze["_stream"].to_pylist(), bronze["_seq"].to_pylist())))
    figures.update({
        "tags": tags, "points_sent": generated, "messages_sent": sent_messages,
        "messages_stored": stored_messages, "points_in_bronze": bronze.num_rows,
        "lost_points": generated - keys, "duplicated_points": bronze.num_rows - keys,
        "points_in_silver": silver.num_rows, "quarantined": quarantined,
        "silver_points_per_tag": sorted(samples) if len(samples) <= 3 else f"{min(samples)}..{max(samples)}",
        "points_per_min": round(silver.num_rows / (seconds + max(drained_s, 0)) * 60) if faults else
        round(silver.num_rows / seconds * 60),
        "collector_cpu_share": round(collector_cpu / (seconds + max(drained_s, 0)), 3),
        "edge_cpu_share": round(edge_cpu / seconds, 3),
        "collector_peak_rss_mib": round(rss, 1),
        "latency_to_silver_collector": summary.get("latency_to_silver"),
        f"latency_to_silver_after_{warmup:g}s": commit_latencies(lake, warm),
        "redeliveries_dropped": summary.get("redeliveries_dropped"),
        "drain_s": round(max(drained_s, 0), 1),
        "events": events,
    })
    if not faults:
        figures["floor_cpu_s_per_min"], figures["collector_cpu_s_per_min"] = floor(lake, work), round(
            collector_cpu / seconds * 60, 2)
        figures["collector_vs_floor"] = round(figures["collector_cpu_s_per_min"] / figures["floor_cpu_s_per_min"], 1)
    return figures


def commit_latencies(lake: Path, after: dt.datetime) -> dict:
    """Sample-to-queryable latency measured on the lake itself: for every silver commit, its commit time
    minus the reading time of each row in the files it added (readings at or after ``after``)."""
    import numpy as np
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    from warehouse.lake import Lake
    from warehouse.tables import SILVER_SENSOR_READINGS

    path = Lake(str(lake)).path(SILVER_SENSOR_READINGS)
    table = DeltaTable(path)
    # commits that wrote rows (a compaction rewrites old rows into new files: not a publication)
    history = {h["version"]: h["timestamp"] for h in table.history() if h.get("operation") != "OPTIMIZE"}
    versions = sorted(h["version"] for h in table.history())
    seen: set[str] = set()
    values = []
    for version in versions:
        files = set(DeltaTable(path, version=version).file_uris())
        added, seen = files - seen, files
        if not added or version not in history:
            continue
        ts = ds.dataset(sorted(added), format="parquet").to_table(columns=["ts"])["ts"]
        us = ts.cast("int64").to_numpy()
        us = us[us >= int(after.timestamp() * 1e6)]
        values.append(history[version] / 1e3 - us / 1e6)
    lat = np.concatenate(values) if values else np.array([np.nan])
    return {"points": int(lat.size), "p50_s": round(float(np.percentile(lat, 50)), 2),
            "p95_s": round(float(np.percentile(lat, 95)), 2), "max_s": round(float(lat.max()), 2)}


def floor(lake: Path, work: Path) -> float:
    """CPU seconds per minute of stream of a bare DuckDB pass over the same readings (CSV → Parquet)."""
    import duckdb

    from warehouse.lake import Lake
    from warehouse.tables import BRONZE_STREAM_READINGS

    readings = Lake(str(lake)).read(BRONZE_STREAM_READINGS, columns=["tag", "timestamp", "value", "quality"])
    csv = work / "floor.csv"
    con = duckdb.connect()
    con.register("r", readings)
    con.execute(f"COPY r TO '{csv}' (HEADER)")
    minutes = (readings["timestamp"].to_numpy().max() - readings["timestamp"].to_numpy().min()).astype(
        "timedelta64[s]").astype(float) / 60 or 1.0
    c0 = time.process_time()
    con.execute(f"COPY (SELECT * FROM read_csv('{csv}', header=true, columns={{'tag': 'VARCHAR', "
                f"'timestamp': 'TIMESTAMPTZ', 'value': 'DOUBLE', 'quality': 'INTEGER'}})) TO '{work}/floor.parquet' "
                "(FORMAT parquet)")
    return round((time.process_time() - c0) / minutes, 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plant", default="reactor_bank", help="plant instance streamed (default: the 1,000-tag bank)")
    ap.add_argument("--sample-every", type=float, default=1.0, help="seconds between samples (default 1 Hz)")
    ap.add_argument("--seconds", type=float, default=120, help="length of the steady phase (default 120)")
    ap.add_argument("--fault-seconds", type=float, default=200, help="length of the fault phase (default 200)")
    ap.add_argument("--cut-seconds", type=float, default=60, help="how long the edge's line is cut (default 60)")
    ap.add_argument("--flush-seconds", type=float, default=2.0, help="collector micro-batch interval (default 2)")
    ap.add_argument("--no-faults", action="store_true", help="steady phase only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nexus-bench-stream-") as tmp:
        result = {"plant": args.plant, "sample_every_s": args.sample_every,
                  "steady": run_phase(Path(tmp) / "steady", args.plant, args.sample_every, args.seconds, False,
                                      args.cut_seconds, args.flush_seconds)}
        if not args.no_faults:
            result["faults"] = run_phase(Path(tmp) / "faults", args.plant, args.sample_every, args.fault_seconds, True,
                                         args.cut_seconds, args.flush_seconds)
    if args.json:
        print(json.dumps(result))
    else:
        for phase in ("steady", "faults"):
            if phase in result:
                print(f"--- {phase}")
                report(result[phase], False)


if __name__ == "__main__":
    main()
