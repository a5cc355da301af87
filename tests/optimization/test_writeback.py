"""Setpoint write-back (optimization.writeback) on a real lake in tmp_path and a private Mosquitto broker.

The plant side is a small paho client standing in for the edge: it records the writes it receives
on the plant's write topic and answers each with an ack (accepted, rejected, or none).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pyarrow as pa
import pytest

from models.fleet import get_instance
from nexus import wire
from optimization import writeback as wb
from tests.mqtt import Broker
from warehouse.tables import FCT_EVENTS, FCT_SETPOINT_RECOMMENDATIONS, FCT_SETPOINT_WRITES, SILVER_SENSOR_READINGS

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
DAY = NOW.date()
ZERO_C = 273.15
PLANT = "cstr"


# ------------------------------------------------------------------------------------------ inputs


def recommendation(lake, meta, *, current_k: float = 57.0 + ZERO_C, target_k: float = 60.0 + ZERO_C,
                   day: dt.date = DAY) -> None:
    """One day's recommendation of plant cstr: the TC102 set point (writable) and the jacket temperature (not)."""
    base = {"scenario_id": "base", "plant_id": PLANT, "recommendation_date": day, "expected_profit_usd_h": 12.0,
            "current_profit_usd_h": 10.0, "delta_profit_usd_h": 2.0, "expected_co2e_kg_h": 1.1,
            "current_co2e_kg_h": 1.0, "delta_co2e_kg_h": 0.1, "model_version": "cstr@2026-12-05",
            "prices_json": "{}", "carbon_price_usd_t": 85.0, "grid_kg_co2e_per_kwh": 0.35, "limits_json": "{}",
            "active_constraints": "runaway", "termination": "optimal", "solve_seconds": 0.2, "run_id": "opt-1",
            "computed_at": NOW - dt.timedelta(hours=3)}
    rows = [{**base, "setpoint": "tc102_setpoint_k", "unit": "K", "current_value": current_k,
             "recommended_value": target_k, "lower_bound": 300.0, "upper_bound": 400.0},
            {**base, "setpoint": "coolant_temp_k", "unit": "K", "current_value": 300.0,
             "recommended_value": 302.0, "lower_bound": 250.0, "upper_bound": 350.0}]
    lake.append(FCT_SETPOINT_RECOMMENDATIONS, pa.Table.from_pylist(rows, schema=FCT_SETPOINT_RECOMMENDATIONS.schema),
                meta=meta)


def readings(lake, meta, points: list[tuple[str, dt.datetime, float]]) -> None:
    """Silver rows (value in the tag's canonical unit: K for temperatures, L/min for the feed)."""
    units = {"CSTR.TC102.SP": "K", "CSTR.TI102": "K", "CSTR.FI101": "L/min"}
    rows = [{"plant_id": PLANT, "reading_date": ts.date(), "tag": tag, "ts": ts, "value": value, "unit": units[tag],
             "quality": "good", "quality_code": 192, "flag": None, "flag_reason": None,
             "_source_file": "test", "_line_number": i + 1, "_ingested_at": ts, "_run_id": "test"}
            for i, (tag, ts, value) in enumerate(points)]
    lake.append(SILVER_SENSOR_READINGS, pa.Table.from_pylist(rows, schema=SILVER_SENSOR_READINGS.schema), meta=meta)


def plant_state(lake, meta, *, sp_c: float = 57.0, pv_c: float | None = None, flow: float = 100.0,
                last: dt.datetime = NOW - dt.timedelta(minutes=1), minutes: int = 5) -> None:
    """A few minutes of readings up to ``last``: TC102.SP and TI102 at ``sp_c`` (degC), the feed at ``flow``."""
    pv_c = sp_c if pv_c is None else pv_c
    points = []
    for i in range(minutes):
        ts = last - dt.timedelta(minutes=i)
        points += [("CSTR.TC102.SP", ts, sp_c + ZERO_C), ("CSTR.TI102", ts, pv_c + ZERO_C), ("CSTR.FI101", ts, flow)]
    readings(lake, meta, points)


def event(lake, meta, *, kind: str = "process_anomaly", start: dt.datetime, end: dt.datetime | None) -> None:
    row = {"event_id": f"cstr-reactor-{kind}-{start:%H%M}", "plant_id": PLANT, "unit": "reactor", "kind": kind,
           "start_at": start, "end_at": end, "duration_h": 1.0, "severity": "high", "peak_score": 3.0,
           "top_tags": "CSTR.TI102:1.0", "detail": "test event", "detector": "test", "model_version": "test",
           "run_id": "mon-1", "computed_at": start}
    lake.append(FCT_EVENTS, pa.Table.from_pylist([row], schema=FCT_EVENTS.schema), meta=meta)


def audit(lake, write_id: str) -> list[dict]:
    return sorted(lake.read(FCT_SETPOINT_WRITES, where={"write_id": write_id}).to_pylist(), key=lambda r: r["step"])


# -------------------------------------------------------------------------------------- plant side


class Edge:
    """Stand-in for the plant edge: records writes, answers with ``status`` (None: stays silent)."""

    def __init__(self, port: int, status: str | None = "accepted", reason: str = "", decoys: bool = False) -> None:
        inst = get_instance(PLANT)
        self.write_topic = wire.write_topic(inst.enterprise, inst.site.site_id, PLANT)
        self.ack_topic = wire.ack_topic(inst.enterprise, inst.site.site_id, PLANT)
        self.status, self.reason, self.decoys = status, reason, decoys
        self.received: list[tuple[str, wire.Write]] = []
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-edge-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(self.write_topic, qos=1)
        assert subscribed.wait(10)

    def _on_message(self, client, userdata, msg) -> None:
        w = wire.decode_write(msg.payload)
        self.received.append((msg.topic, w))
        if self.status is None:
            return
        at = int(time.time() * 1e6)
        if self.decoys:  # noise Nexus must skip: a malformed payload and another write's ack
            client.publish(self.ack_topic, b"not json", qos=1)
            client.publish(self.ack_topic, wire.encode_ack(wire.Ack("w-other", PLANT, "rejected", "not yours", at, None)),
                           qos=1)
        client.publish(self.ack_topic, wire.encode_ack(wire.Ack(w.write_id, w.plant_id, self.status, self.reason, at,
                                                                w.value)), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Broker(tmp_path_factory.mktemp("broker"))
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def edge_factory(broker):
    edges = []

    def make(**kwargs) -> Edge:
        edges.append(Edge(broker.port, **kwargs))
        return edges[-1]

    try:
        yield make
    finally:
        for e in edges:
            e.close()


def _publish(lake, meta, broker, wid, *, now=NOW, timeout_s=5.0, **kwargs) -> wb.Outcome:
    return wb.publish(lake, wid, broker_host="127.0.0.1", broker_port=broker.port, now=now, meta=meta,
                      timeout_s=timeout_s, **kwargs)


def _proposed(lake, meta, **state) -> str:
    recommendation(lake, meta, **{k: state.pop(k) for k in ("current_k", "target_k") if k in state})
    plant_state(lake, meta, **state)
    [wid] = wb.propose(lake, PLANT, DAY, meta=meta, now=NOW - dt.timedelta(minutes=30))
    return wid


def _approved(lake, meta, **state) -> str:
    wid = _proposed(lake, meta, **state)
    wb.approve(lake, wid, operator="alice", reason="shift plan", meta=meta, now=NOW - dt.timedelta(minutes=10))
    return wid


def _nothing_sent(edge: Edge) -> bool:
    time.sleep(0.3)  # a write, had one gone out, would be delivered by now: QoS 1 on loopback
    return edge.received == []


# ------------------------------------------------------------------------------------------- tests


def test_propose_converts_kelvin_to_degc_and_is_idempotent(lake, meta, caplog):
    recommendation(lake, meta)
    with caplog.at_level(logging.INFO, logger="optimization.writeback"):
        ids = wb.propose(lake, PLANT, DAY, meta=meta, now=NOW)
    assert len(ids) == 1 and ids[0].startswith("w-cstr-20261206-tc102_setpoint_k-")
    assert "coolant_temp_k maps to CSTR.TI103, a measurement" in caplog.text
    [row] = audit(lake, ids[0])
    assert (row["step"], row["state"], row["actor"], row["tag"], row["unit"]) == (1, "proposed", "nexus",
                                                                                  "CSTR.TC102.SP", "degC")
    assert row["to_value"] == pytest.approx(60.0, abs=1e-9)
    assert row["from_value"] == pytest.approx(57.0, abs=1e-9)
    assert (row["recommendation_date"], row["scenario_id"]) == (DAY, "base")
    assert wb.propose(lake, PLANT, DAY, meta=meta, now=NOW + dt.timedelta(hours=1), actor="erin") == ids
    assert lake.read(FCT_SETPOINT_WRITES).num_rows == 1
    with pytest.raises(wb.InvalidWriteRequest, match="found none"):
        wb.propose(lake, PLANT, DAY + dt.timedelta(days=1), meta=meta, now=NOW)


def test_propose_records_who_proposed(lake, meta):
    recommendation(lake, meta)
    [wid] = wb.propose(lake, PLANT, DAY, meta=meta, now=NOW, actor="erin")
    assert audit(lake, wid)[0]["actor"] == "erin"
    with pytest.raises(wb.InvalidWriteRequest, match="identity"):
        wb.propose(lake, PLANT, DAY + dt.timedelta(days=1), meta=meta, now=NOW, actor=" ")


def test_propose_takes_normal_cubic_metres_as_the_catalog_stores_them(lake, meta):
    """The electrolyzer's optimizer labels its gas flow Nm3/h; the tag catalog stores normal m3 as m**3."""
    base = {"scenario_id": "base", "plant_id": "co2_electrolyzer", "recommendation_date": DAY,
            "expected_profit_usd_h": 12.0, "current_profit_usd_h": 10.0, "delta_profit_usd_h": 2.0,
            "expected_co2e_kg_h": 1.1, "current_co2e_kg_h": 1.0, "delta_co2e_kg_h": 0.1, "model_version": "design",
            "prices_json": "{}", "carbon_price_usd_t": 85.0, "grid_kg_co2e_per_kwh": 0.35, "limits_json": "{}",
            "active_constraints": "", "termination": "optimal", "solve_seconds": 0.2, "run_id": "opt-1",
            "computed_at": NOW, "lower_bound": 2.0, "upper_bound": 60.0}
    rows = [{**base, "setpoint": "co2_flow_nm3_h", "unit": "Nm3/h", "current_value": 24.0, "recommended_value": 4.014},
            {**base, "setpoint": "current_a", "unit": "A", "current_value": 375.0, "recommended_value": 200.0}]
    lake.append(FCT_SETPOINT_RECOMMENDATIONS, pa.Table.from_pylist(rows, schema=FCT_SETPOINT_RECOMMENDATIONS.schema),
                meta=meta)
    ids = wb.propose(lake, "co2_electrolyzer", DAY, meta=meta, now=NOW)
    got = {r["tag"]: (r["from_value"], r["to_value"], r["unit"]) for r in wb.writes(lake).to_pylist()}
    assert len(ids) == 2 and got == {"ECR.FIC201.SP": (24.0, pytest.approx(4.014), "m**3/h"),
                                     "ECR.IIC101.SP": (375.0, 200.0, "A")}


def test_approve_and_reject_need_an_operator_and_a_proposed_write(lake, meta):
    wid = _proposed(lake, meta)
    with pytest.raises(wb.InvalidWriteRequest, match="operator"):
        wb.approve(lake, wid, operator="  ", reason="", meta=meta, now=NOW)
    with pytest.raises(wb.InvalidWriteRequest, match="expects a reason"):
        wb.reject(lake, wid, operator="bob", reason="", meta=meta, now=NOW)
    assert wb.reject(lake, wid, operator="bob", reason="lab sample pending", meta=meta, now=NOW) == "rejected"
    with pytest.raises(wb.InvalidWriteRequest, match="expects state proposed, found rejected"):
        wb.approve(lake, wid, operator="alice", reason="", meta=meta, now=NOW)
    rows = audit(lake, wid)
    assert [(r["step"], r["state"], r["actor"], r["reason"]) for r in rows][1:] == [
        (2, "rejected", "bob", "lab sample pending")]
    assert wb.writes(lake)["state"].to_pylist() == ["rejected"]


def test_an_unapproved_write_is_never_published(lake, meta, broker, edge_factory):
    edge = edge_factory()
    wid = _proposed(lake, meta)
    checks = wb.check(lake, wid, now=NOW)
    assert not checks["approved"].passed and "state is proposed" in checks["approved"].detail
    with pytest.raises(wb.InvalidWriteRequest, match="publish expects state approved, found proposed"):
        _publish(lake, meta, broker, wid)
    assert _nothing_sent(edge)
    assert [r["state"] for r in audit(lake, wid)] == ["proposed"]


@pytest.mark.parametrize("case, state, extra, failing", [
    ("out of instrument range", {"sp_c": 1.0, "current_k": 1.0 + ZERO_C, "target_k": -5.0 + ZERO_C}, {},
     "instrument_range"),
    # the envelope keeps 1.5 K from ignition: 61.00 degC at the nominal 100 L/min
    ("above the runaway limit with its margin", {"target_k": 61.5 + ZERO_C}, {}, "operating_limits"),
    # ignition falls with the feed flow: at 120 L/min the limit is 60.36 degC, below a 60.5 degC target
    ("above the runaway limit at the measured feed flow", {"flow": 120.0, "target_k": 60.5 + ZERO_C}, {},
     "operating_limits"),
    ("step too large", {"sp_c": 40.0, "current_k": 40.0 + ZERO_C, "target_k": 58.0 + ZERO_C}, {}, "max_step"),
    ("ramp faster than allowed", {}, {"ramp_per_min": 2.0}, "ramp_rate"),
    ("open process_anomaly event", {"event": ("process_anomaly", None)}, {}, "no_open_event"),
    ("shutdown ended within the grace period", {"event": ("shutdown", NOW - dt.timedelta(minutes=10))}, {},
     "no_open_event"),
    # every tag is stale: the set point and the feed too, so step and mode have no recent value to judge by
    ("stale data", {"last": NOW - dt.timedelta(minutes=20)}, {}, {"fresh_data", "max_step", "operating_mode"}),
    ("plant not running", {"flow": 0.0}, {}, "operating_mode"),
])
def test_each_envelope_check_refuses_on_its_own(lake, meta, broker, edge_factory, case, state, extra, failing):
    edge = edge_factory()
    ev = state.pop("event", None)
    wid = _approved(lake, meta, **state)
    if ev:
        event(lake, meta, kind=ev[0], start=NOW - dt.timedelta(hours=2), end=ev[1])
    out = _publish(lake, meta, broker, wid, **extra)
    failing = {failing} if isinstance(failing, str) else failing
    assert out.state == "refused", case
    assert set(out.failed_checks) == failing, out.failed_checks
    assert _nothing_sent(edge)
    rows = audit(lake, wid)
    assert [r["state"] for r in rows] == ["proposed", "approved", "refused"]
    assert rows[-1]["actor"] == "nexus" and all(f in rows[-1]["reason"] for f in failing)
    recorded = json.loads(rows[-1]["checks_json"])
    assert set(recorded) == {"approved", "instrument_range", "operating_limits", "max_step", "ramp_rate",
                             "no_open_event", "plant_clock", "fresh_data", "operating_mode", "no_write_in_flight"}
    assert {k for k, v in recorded.items() if not v["passed"]} == failing
    with pytest.raises(wb.InvalidWriteRequest):  # refused is final
        _publish(lake, meta, broker, wid)


def test_runaway_limit_is_the_optimizers_in_degc(lake, meta):
    """The optimum at the optimizer's runaway limit (333.654 K at 100 L/min, 2 K from ignition) passes; the
    envelope's own limit keeps 1.5 K (61.004 degC) and is stated in degC."""
    wid = _approved(lake, meta, target_k=333.6540683087416)
    checks = wb.check(lake, wid, now=NOW)
    assert all(c.passed for c in checks.values()), {k: c.detail for k, c in checks.items() if not c.passed}
    assert "runaway limit 61.004 degC" in checks["operating_limits"].detail


def test_an_approved_write_in_the_envelope_is_published_with_its_ramp_and_acknowledged(lake, meta, broker,
                                                                                        edge_factory):
    edge = edge_factory(decoys=True)
    wid = _approved(lake, meta)
    out = _publish(lake, meta, broker, wid)
    assert out.state == "acknowledged", out.reason
    [(topic, w)] = edge.received
    assert topic == "nexus/v1/nexus/de_chempark/cstr/write"
    assert (w.write_id, w.plant_id, w.tag, w.unit, w.issued_by) == (wid, PLANT, "CSTR.TC102.SP", "degC", "alice")
    assert w.value == pytest.approx(60.0) and w.ramp_per_min == 0.5
    assert w.issued_at_us == int(NOW.timestamp() * 1e6)
    rows = audit(lake, wid)
    assert [(r["step"], r["state"], r["actor"]) for r in rows] == [
        (1, "proposed", "nexus"), (2, "approved", "alice"), (3, "published", "nexus"), (4, "acknowledged", "edge")]
    assert rows[1]["reason"] == "shift plan"
    assert rows[2]["from_value"] == pytest.approx(57.0) and "at 0.5 degC/min" in rows[2]["reason"]
    assert all(v["passed"] for v in json.loads(rows[2]["checks_json"]).values())
    assert rows[3]["reason"].startswith("edge accepted")
    assert [r["changed_at"] for r in rows] == sorted(r["changed_at"] for r in rows)
    latest = wb.writes(lake)
    assert latest.num_rows == 1 and latest["state"].to_pylist() == ["acknowledged"]
    assert latest["step"].to_pylist() == [4]
    assert wb.writes(lake, state="proposed").num_rows == 0
    assert wb.writes(lake, plant_id="smelter").num_rows == 0


def test_an_edge_rejection_fails_the_write_with_the_edges_reason(lake, meta, broker, edge_factory):
    edge_factory(status="rejected", reason="CSTR.TC102.SP is in manual")
    wid = _approved(lake, meta)
    out = _publish(lake, meta, broker, wid)
    assert out.state == "failed"
    rows = audit(lake, wid)
    assert [r["state"] for r in rows] == ["proposed", "approved", "published", "failed"]
    assert rows[-1]["actor"] == "edge"
    assert rows[-1]["reason"] == "edge rejected the write: CSTR.TC102.SP is in manual"


def test_no_ack_fails_the_write(lake, meta, broker, edge_factory):
    edge = edge_factory(status=None)
    wid = _approved(lake, meta)
    out = _publish(lake, meta, broker, wid, timeout_s=1.0)
    assert out.state == "failed" and out.reason == "no acknowledgement within 1 s"
    assert len(edge.received) == 1
    assert [r["state"] for r in audit(lake, wid)] == ["proposed", "approved", "published", "failed"]


def test_an_unreachable_broker_fails_the_write_before_publishing(lake, meta, tmp_path):
    from tests.mqtt import free_port

    wid = _approved(lake, meta)
    out = wb.publish(lake, wid, broker_host="127.0.0.1", broker_port=free_port(), now=NOW, meta=meta, timeout_s=2.0)
    assert out.state == "failed" and "unreachable" in out.reason
    assert [r["state"] for r in audit(lake, wid)] == ["proposed", "approved", "failed"]


def test_readback_at_the_target_confirms(lake, meta, broker, edge_factory):
    edge_factory()
    wid = _approved(lake, meta)
    assert _publish(lake, meta, broker, wid).state == "acknowledged"
    kw = dict(meta=meta, broker_host="127.0.0.1", broker_port=broker.port, timeout_s=5.0)
    # not there yet, settle time not over: nothing recorded
    assert wb.confirm(lake, wid, now=NOW + dt.timedelta(minutes=3), **kw) == "pending"
    assert audit(lake, wid)[-1]["state"] == "acknowledged"
    plant_state(lake, meta, sp_c=60.0, pv_c=59.8, last=NOW + dt.timedelta(minutes=12))
    assert wb.confirm(lake, wid, now=NOW + dt.timedelta(minutes=13), **kw) == "confirmed"
    rows = audit(lake, wid)
    assert [r["state"] for r in rows][-2:] == ["acknowledged", "confirmed"] and rows[-1]["step"] == 5
    assert "CSTR.TI102 reads 59.8 degC" in rows[-1]["reason"]
    assert wb.confirm(lake, wid, now=NOW + dt.timedelta(minutes=14), **kw) == "confirmed"  # no second row
    assert len(audit(lake, wid)) == 5
    assert wb.writes(lake)["state"].to_pylist() == ["confirmed"]


def test_a_plant_that_does_not_move_within_the_settle_time_is_reverted(lake, meta, broker, edge_factory):
    edge = edge_factory()
    wid = _approved(lake, meta)
    assert _publish(lake, meta, broker, wid).state == "acknowledged"
    # the set point moved, the reactor did not follow (57 degC); settle deadline: ack + 6 min ramp + 30 min
    plant_state(lake, meta, sp_c=60.0, pv_c=57.0, last=NOW + dt.timedelta(minutes=39), minutes=30)
    kw = dict(meta=meta, broker_host="127.0.0.1", broker_port=broker.port, timeout_s=5.0)
    assert wb.confirm(lake, wid, now=NOW + dt.timedelta(minutes=30), **kw) == "pending"
    assert wb.confirm(lake, wid, now=NOW + dt.timedelta(minutes=40), **kw) == "reverted"
    assert len(edge.received) == 2
    _, revert = edge.received[1]
    assert revert.write_id == f"{wid}.revert" and revert.value == pytest.approx(57.0)
    assert (revert.ramp_per_min, revert.issued_by, revert.tag) == (0.5, "nexus", "CSTR.TC102.SP")
    rows = audit(lake, wid)
    assert [(r["step"], r["state"]) for r in rows] == [(1, "proposed"), (2, "approved"), (3, "published"),
                                                       (4, "acknowledged"), (5, "reverted")]
    assert rows[-1]["from_value"] == pytest.approx(60.0) and rows[-1]["to_value"] == pytest.approx(57.0)
    assert "CSTR.TI102 reads 57 degC" in rows[-1]["reason"] and "reverted to the last good value 57" in rows[-1]["reason"]
    assert wb.writes(lake, state="reverted")["write_id"].to_pylist() == [wid]


def test_cli_propose_approve_list(lake, meta, broker, edge_factory, monkeypatch, capsys):
    """The CLI runs on the wall clock, so the plant's readings are recent in real time."""
    edge_factory()
    now = dt.datetime.now(UTC)
    recommendation(lake, meta, day=now.date())
    plant_state(lake, meta, last=now - dt.timedelta(seconds=30))
    monkeypatch.setenv("NEXUS_MQTT_URL", f"mqtt://127.0.0.1:{broker.port}")
    root = ["--lake", lake.root]
    assert wb.main([*root, "propose", "--plant", PLANT, "--date", now.date().isoformat()]) == 0
    wid = capsys.readouterr().out.split()[0]
    assert wb.main([*root, "reject", wid, "--operator", "bob", "--reason", " "]) == 2
    assert "expects a reason" in capsys.readouterr().err
    assert wb.main([*root, "approve", wid, "--operator", "alice", "--reason", "ok"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["approved", "published", "acknowledged"]
    assert wb.main([*root, "list", "--state", "acknowledged"]) == 0
    assert wid in capsys.readouterr().out
    assert wb.main([*root, "approve", wid, "--operator", "alice"]) == 2  # not proposed any more


def test_a_second_write_of_the_tag_waits_for_the_first_to_be_confirmed(lake, meta, broker, edge_factory):
    edge = edge_factory()
    first = _approved(lake, meta)
    assert _publish(lake, meta, broker, first).state == "acknowledged"
    next_day = DAY + dt.timedelta(days=1)
    recommendation(lake, meta, day=next_day, target_k=59.0 + ZERO_C)
    [second] = wb.propose(lake, PLANT, next_day, meta=meta, now=NOW)
    assert second != first
    wb.approve(lake, second, operator="alice", reason="", meta=meta, now=NOW)
    out = _publish(lake, meta, broker, second, now=NOW + dt.timedelta(minutes=1))
    assert out.state == "refused" and set(out.failed_checks) == {"no_write_in_flight"}
    assert first in out.failed_checks["no_write_in_flight"].detail
    assert len(edge.received) == 1
    assert audit(lake, second)[1]["reason"] == "approved"  # no reason given: recorded as such


def test_a_plant_time_before_the_plants_newest_reading_is_refused(lake, meta, broker, edge_factory):
    """The reviewer's scenario: an anomaly open since 03:40, readings up to 04:00, and the write asked with the
    plant time 03:35, when the anomaly had not started yet: refused on the plant's clock, nothing sent."""
    edge = edge_factory()
    wid = _approved(lake, meta, last=NOW)
    event(lake, meta, start=dt.datetime(2026, 12, 6, 3, 40, tzinfo=UTC), end=None)
    early = dt.datetime(2026, 12, 6, 3, 35, tzinfo=UTC)
    out = _publish(lake, meta, broker, wid, now=early)
    assert out.state == "refused"
    assert "plant_clock" in out.failed_checks
    assert out.failed_checks["plant_clock"].detail == ("plant time 2026-12-06T03:35:00Z precedes the plant's newest "
                                                       "reading 2026-12-06T04:00:00Z; pass the plant's current time")
    assert "no_open_event" not in out.failed_checks  # at 03:35 the anomaly had not started: the hole it closes
    assert _nothing_sent(edge)
    assert [r["state"] for r in audit(lake, wid)] == ["proposed", "approved", "refused"]
    # at the plant's own time the clock check passes and the open anomaly would refuse the write
    checks = wb.check(lake, wid, now=NOW)
    assert checks["plant_clock"].passed and not checks["no_open_event"].passed


def test_mode_and_step_need_their_own_tag_to_be_fresh(lake, meta):
    """FI101 (the mode's tag) last read good 2 h ago while the set point and TI102 are fresh: fresh_data passes,
    the mode cannot be told; likewise a set point whose last good value is old gives no step to measure from."""
    recommendation(lake, meta)
    old = NOW - dt.timedelta(hours=2)
    readings(lake, meta, [("CSTR.FI101", old, 100.0)]
             + [(tag, NOW - dt.timedelta(minutes=i), 57.0 + ZERO_C) for i in range(1, 4)
                for tag in ("CSTR.TC102.SP", "CSTR.TI102")])
    [wid] = wb.propose(lake, PLANT, DAY, meta=meta, now=NOW - dt.timedelta(minutes=30))
    wb.approve(lake, wid, operator="alice", meta=meta, now=NOW - dt.timedelta(minutes=10))
    checks = wb.check(lake, wid, now=NOW)
    assert {k for k, c in checks.items() if not c.passed} == {"operating_mode"}
    assert checks["operating_mode"].detail.startswith("CSTR.FI101 has no good reading since 2026-12-06T02:00:00Z")
    assert checks["fresh_data"].passed and checks["max_step"].passed
    # 15 min on: the feed and TI102 read on, the set point's last good value (03:59) is 16 min old
    later = NOW + dt.timedelta(minutes=15)
    readings(lake, meta, [("CSTR.FI101", later, 100.0), ("CSTR.TI102", later, 57.0 + ZERO_C)])
    checks = wb.check(lake, wid, now=later)
    assert {k for k, c in checks.items() if not c.passed} == {"max_step"}
    assert checks["max_step"].detail.startswith("CSTR.TC102.SP has no good reading since 2026-12-06T03:59:00Z")


def test_a_write_failed_without_ack_blocks_the_tag_until_its_settle_deadline(lake, meta, broker, edge_factory):
    """No ack within the timeout: the write may still reach the plant (QoS 1), so a second write of the tag is
    refused until published + ramp (57 -> 60 degC at 0.5 degC/min: 6 min) + settle time (30 min) = 04:36."""
    edge = edge_factory(status=None)
    first = _approved(lake, meta)
    assert _publish(lake, meta, broker, first, timeout_s=1.0).state == "failed"
    next_day = DAY + dt.timedelta(days=1)
    recommendation(lake, meta, day=next_day, target_k=59.0 + ZERO_C)
    [second] = wb.propose(lake, PLANT, next_day, meta=meta, now=NOW)
    wb.approve(lake, second, operator="alice", meta=meta, now=NOW)
    before = NOW + dt.timedelta(minutes=35)
    plant_state(lake, meta, last=before)  # the plant reads on: the other checks stay green
    checks = wb.check(lake, second, now=before)
    assert {k for k, c in checks.items() if not c.passed} == {"no_write_in_flight"}
    detail = checks["no_write_in_flight"].detail
    assert first in detail and "no acknowledgement within 1 s" in detail and "2026-12-06T04:36:00Z" in detail
    after = NOW + dt.timedelta(minutes=37)
    plant_state(lake, meta, last=after)
    out = _publish(lake, meta, broker, second, now=after, timeout_s=1.0)
    assert out.failed_checks == {}, out.failed_checks
    assert [w.write_id for _, w in edge.received] == [first, second]


def test_a_rejected_or_unsent_write_is_not_in_flight_and_a_later_confirmed_write_clears_one(lake, meta, broker,
                                                                                            edge_factory):
    """An edge rejection is a real failure and a broker unreachable before sending sent nothing: neither blocks.
    A write failed without ack stops blocking once a write of the tag published after it is confirmed."""
    from tests.mqtt import free_port

    rejecting = edge_factory(status="rejected", reason="in manual")
    first = _approved(lake, meta)
    assert _publish(lake, meta, broker, first).state == "failed"
    rejecting.close()
    wids = []
    for i, target in enumerate((59.0, 58.0, 58.5)):
        day = DAY + dt.timedelta(days=i + 1)
        recommendation(lake, meta, day=day, target_k=target + ZERO_C)
        [w] = wb.propose(lake, PLANT, day, meta=meta, now=NOW)
        wb.approve(lake, w, operator="alice", meta=meta, now=NOW)
        wids.append(w)
    # unreachable broker: nothing sent, not in flight
    out = wb.publish(lake, wids[0], broker_host="127.0.0.1", broker_port=free_port(), now=NOW, meta=meta,
                     timeout_s=2.0)
    assert out.state == "failed" and out.failed_checks == {}
    # a silent edge: the write fails without ack and blocks
    edge_factory(status=None)
    assert _publish(lake, meta, broker, wids[1], timeout_s=1.0).state == "failed"
    assert not wb.check(lake, wids[2], now=NOW)["no_write_in_flight"].passed
    # a later write of the tag (written here as its audit rows) confirmed: the failed one no longer blocks
    later = NOW + dt.timedelta(minutes=2)
    rows = [dict(audit(lake, wids[1])[0], write_id="w-later", step=i + 1, state=st, changed_at=later,
                 checks_json=json.dumps({"ramp_rate": {"passed": True, "detail": "", "value": 0.5}}))
            for i, st in enumerate(("proposed", "approved", "published", "acknowledged", "confirmed"))]
    lake.append(FCT_SETPOINT_WRITES, pa.Table.from_pylist(rows, schema=FCT_SETPOINT_WRITES.schema), meta=meta)
    checks = wb.check(lake, wids[2], now=NOW + dt.timedelta(minutes=3))
    assert checks["no_write_in_flight"].passed, checks["no_write_in_flight"].detail


def test_an_unanswered_revert_keeps_the_write_in_flight(lake, meta, broker, edge_factory):
    """The plant did not follow, the revert went out and no ack came: the revert may still reach the plant."""
    accepting = edge_factory()
    first = _approved(lake, meta)
    assert _publish(lake, meta, broker, first).state == "acknowledged"
    accepting.close()
    silent = edge_factory(status=None)
    plant_state(lake, meta, sp_c=60.0, pv_c=57.0, last=NOW + dt.timedelta(minutes=39), minutes=30)
    kw = dict(meta=meta, broker_host="127.0.0.1", broker_port=broker.port, timeout_s=1.0)
    assert wb.confirm(lake, first, now=NOW + dt.timedelta(minutes=40), **kw) == "failed"
    assert [w.write_id for _, w in silent.received] == [f"{first}.revert"]
    assert "timeout: no acknowledgement within 1 s" in audit(lake, first)[-1]["reason"]
    next_day = DAY + dt.timedelta(days=1)
    recommendation(lake, meta, day=next_day, target_k=59.0 + ZERO_C)
    [second] = wb.propose(lake, PLANT, next_day, meta=meta, now=NOW)
    wb.approve(lake, second, operator="alice", meta=meta, now=NOW)
    checks = wb.check(lake, second, now=NOW + dt.timedelta(minutes=40))
    assert not checks["no_write_in_flight"].passed and first in checks["no_write_in_flight"].detail
    # the revert's settle deadline: its failure (04:40 + the 1 s wait) + 6 min ramp + 30 min
    later = NOW + dt.timedelta(minutes=77)
    assert wb.check(lake, second, now=later)["no_write_in_flight"].passed
