"""Monitoring on a real lake: flags in silver, tag health, monitor scores, event frames, calibration windows.

One module-scoped lake: five days of the CSTR twin (1-min sampling, 10 tags) simulated, loaded
through the sensor pipeline and monitored day by day; the first days train the monitors.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from etl.monitoring import (
    CONFIGS,
    PLANT_UNIT,
    MonitorConfig,
    build_events,
    detect_events,
    monitor_day,
    monitor_range,
    steady_normal_hours,
)
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import (
    FCT_EVENTS,
    FCT_MONITOR_SCORES,
    FCT_TAG_HEALTH,
    FCT_TAG_HOURLY,
    SILVER_SENSOR_READINGS,
)

START, DAYS = dt.date(2026, 1, 14), 5  # a spiking, a drifting and a stuck sensor
META = CommitMeta("pytest", "monitor", "monitoring:cstr")
UTC = dt.UTC
SHORT = MonitorConfig(load_tags=("CSTR.FI101",), training_days=3, min_training_hours=36)  # five days of history


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    from nexus.history import backfill_history

    root = tmp_path_factory.mktemp("monitored")
    lake = Lake(root / "lake")
    backfill_history(["cstr"], START, START + dt.timedelta(days=DAYS), lake=lake, seed=57, chunk_days=DAYS)
    silver_rows = lake.read(SILVER_SENSOR_READINGS, columns=["tag"]).num_rows
    results = monitor_range(lake, "cstr", START, START + dt.timedelta(days=DAYS), META, config=SHORT)
    return lake, silver_rows, results


def test_flags_stay_in_silver_with_their_reason(monitored):
    lake, silver_rows, results = monitored
    silver = lake.read(SILVER_SENSOR_READINGS, columns=["tag", "ts", "value", "quality", "flag", "flag_reason"]).to_pandas()
    assert len(silver) == silver_rows  # flagging deletes nothing
    flagged = silver[silver["flag"].notna()]
    assert len(flagged) == sum(r["sensors"]["flagged"] for r in results) > 0
    assert set(flagged["flag"]) <= {"stuck", "spike", "drift", "noise"}
    assert flagged["flag_reason"].notna().all()
    assert (flagged["quality"] == "good").all() and flagged["value"].notna().all()
    # the reason names its detector
    assert all(r.split(":")[0] in {"stuck", "spike", "drift", "noise"} for r in flagged["flag_reason"])


def test_hourly_gold_and_tag_health_count_the_flags(monitored):
    lake, _, _ = monitored
    silver = lake.read(SILVER_SENSOR_READINGS, columns=["tag", "ts", "flag"]).to_pandas()
    silver["hour_start"] = silver["ts"].dt.floor("h")
    per_hour = silver[silver["flag"].notna()].groupby(["tag", "hour_start"]).size()
    hourly = lake.read(FCT_TAG_HOURLY, columns=["tag", "hour_start", "flagged_count", "flagged_fraction", "good_count"]
                       ).to_pandas().set_index(["tag", "hour_start"])
    health = lake.read(FCT_TAG_HEALTH).to_pandas().set_index(["tag", "hour_start"])
    assert hourly["flagged_count"].sum() == len(silver[silver["flag"].notna()]) == health["flagged_count"].sum()
    for key, n in per_hour.items():
        assert hourly.loc[key, "flagged_count"] == n == health.loc[key, "flagged_count"]
        assert hourly.loc[key, "flagged_fraction"] == pytest.approx(n / hourly.loc[key, "good_count"])
        assert health.loc[key, "status"] in ("suspect", "faulty")
    kinds = health[["stuck_count", "spike_count", "drift_count", "noise_count"]].sum(axis=1)
    assert (kinds == health["flagged_count"]).all()
    assert set(health.loc[health["flagged_count"] == 0, "status"]) == {"ok"}
    # one row per tag and hour of the monitored days
    assert len(health) == 10 * 24 * DAYS


def test_monitor_scores_are_trained_on_earlier_days(monitored):
    lake, _, results = monitored
    scores = lake.read(FCT_MONITOR_SCORES).to_pandas()
    plant = scores[scores["unit"] == PLANT_UNIT]
    assert len(plant) == 24 * DAYS
    assert set(plant["mode"]) <= {"steady", "transient", "shutdown"}
    assert results[0]["process"]["status"] == "insufficient_training"  # nothing before the first day
    scored = plant.dropna(subset=["t2"])
    assert len(scored) >= 48  # the days after enough steady training hours
    assert (scored["hour_start"] >= pd.Timestamp(START + dt.timedelta(days=1), tz=UTC)).all()
    assert (scored["t2_limit"] > 0).all() and (scored["spe_limit"] > 0).all()
    assert scored["pca_alarm"].notna().all() and scored["if_alarm"].notna().all()
    alarmed = scored[scored["pca_alarm"].astype(bool)]
    assert alarmed["top_tags"].notna().all()  # an alarm names the tags behind it
    # units of the CSTR with three or more monitored tags get their own model
    assert {"feed", "reactor"} <= set(scores["unit"])


def test_events_are_replaced_not_duplicated_on_rerun(monitored):
    lake, _, _ = monitored
    before = lake.read(FCT_EVENTS).to_pandas().sort_values("event_id").reset_index(drop=True)
    assert len(before) and before["event_id"].is_unique
    assert set(before["kind"]) <= {"sensor_fault", "process_anomaly", "transient", "shutdown", "balance_violation"}
    build_events(lake, "cstr", START + dt.timedelta(days=2), META, config=SHORT)
    build_events(lake, "cstr", START + dt.timedelta(days=2), META, config=SHORT)
    after = lake.read(FCT_EVENTS).to_pandas().sort_values("event_id").reset_index(drop=True)
    cols = ["event_id", "kind", "unit", "start_at", "end_at", "severity", "top_tags"]
    pd.testing.assert_frame_equal(before[cols], after[cols])
    sensor = after[after["kind"] == "sensor_fault"]
    assert sensor["top_tags"].str.match(r"^CSTR\.\w+(\.\w+)?:1\.00$").all()


def test_steady_normal_hours_leave_out_events_and_transients(monitored):
    lake, _, _ = monitored
    start = dt.datetime.combine(START, dt.time(), tzinfo=UTC)
    end = start + dt.timedelta(days=DAYS)
    hours = steady_normal_hours(lake, "cstr", start, end)
    scores = lake.read(FCT_MONITOR_SCORES, where={"unit": PLANT_UNIT}).to_pandas()
    steady = set(scores.loc[scores["mode"] == "steady", "hour_start"])
    assert 0 < len(hours) <= len(steady) and set(hours) <= steady
    events = lake.read(FCT_EVENTS).to_pandas()
    events = events[events["kind"].isin(["process_anomaly", "transient", "shutdown"])]
    for s, e in zip(events["start_at"], events["end_at"].fillna(pd.Timestamp(end))):
        assert not ((hours + pd.Timedelta(hours=1) > s) & (hours < e)).any()


def test_calibration_fits_only_detected_steady_normal_hours(monitored):
    from optimization.calibrate import calibrate_day, normal_hours

    lake, _, _ = monitored
    last = START + dt.timedelta(days=DAYS - 1)
    start = dt.datetime.combine(START, dt.time(), tzinfo=UTC)
    end = start + dt.timedelta(days=DAYS)
    allowed = steady_normal_hours(lake, "cstr", start, end)
    wide, excluded = normal_hours(lake, "cstr", ["CSTR.TI102", "CSTR.TI103"], start, end)
    assert set(wide.index) <= set(allowed)
    assert len(wide) + excluded == 24 * DAYS
    flagged = lake.read(FCT_TAG_HOURLY, where={"plant_id": "cstr"}, columns=["tag", "hour_start", "flagged_count"]
                        ).to_pandas()
    bad = set(flagged.loc[flagged["tag"].isin(["CSTR.TI102", "CSTR.TI103"]) & (flagged["flagged_count"] > 0),
                          "hour_start"])
    assert not bad & set(wide.index)  # hours with flagged readings of a needed tag are left out
    out = calibrate_day(lake, last, meta=META, plants=["cstr"], window_days=DAYS, raise_on_failure=False)
    assert out["cstr"]["status"] in ("calibrated", "insufficient_data")
    assert out["cstr"]["fit_hours"] <= len(allowed)


def _scores(hours: pd.DatetimeIndex, ratio: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"plant_id": "p", "unit": PLANT_UNIT, "hour_start": hours, "mode": "steady",
                         "t2": np.asarray(ratio) * 10.0, "t2_limit": 10.0, "spe": 0.1, "spe_limit": 1.0,
                         "pca_alarm": np.asarray(ratio) > 1.0, "top_tags": "A:0.80, B:0.20", "model_version": "m1"})


def test_an_open_event_is_extended_by_later_data():
    """An alarm running into the end of the data stays open (no end); later hours close it, same id."""
    cfg = CONFIGS["cstr"]
    hours = pd.date_range("2026-01-01", periods=6, freq="h", tz="UTC")
    first = detect_events(_scores(hours, [0.5, 0.5, 0.5, 1.5, 1.8, 2.5]), pd.DataFrame(), "p", cfg,
                          hours[-1] + pd.Timedelta(hours=1), {})
    (ev,) = [e for e in first if e["kind"] == "process_anomaly"]
    assert ev["end_at"] is None and ev["start_at"] == hours[3] and ev["peak_score"] == pytest.approx(2.5)
    assert ev["severity"] == "medium" and ev["duration_h"] == 3
    more = pd.date_range("2026-01-01", periods=9, freq="h", tz="UTC")
    later = detect_events(_scores(more, [0.5, 0.5, 0.5, 1.5, 1.8, 2.5, 3.5, 0.5, 0.4]), pd.DataFrame(), "p", cfg,
                          more[-1] + pd.Timedelta(hours=1), {})
    (ev2,) = [e for e in later if e["kind"] == "process_anomaly"]
    assert ev2["event_id"] == ev["event_id"]
    assert ev2["end_at"] == more[7] and ev2["peak_score"] == pytest.approx(3.5) and ev2["severity"] == "high"


def test_a_single_weak_alarm_hour_is_no_event_but_a_strong_one_is():
    cfg = CONFIGS["cstr"]
    hours = pd.date_range("2026-01-01", periods=8, freq="h", tz="UTC")
    weak = detect_events(_scores(hours, [0.5, 1.2, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]), pd.DataFrame(), "p", cfg,
                         hours[-1] + pd.Timedelta(hours=1), {})
    assert not [e for e in weak if e["kind"] == "process_anomaly"]
    strong = detect_events(_scores(hours, [0.5, 4.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]), pd.DataFrame(), "p", cfg,
                           hours[-1] + pd.Timedelta(hours=1), {})
    (ev,) = [e for e in strong if e["kind"] == "process_anomaly"]
    assert ev["start_at"] == hours[1] and ev["end_at"] == hours[2] and ev["top_tags"] == "A:0.80, B:0.20"


def test_rerunning_a_day_gives_the_same_rows(monitored):
    lake, _, _ = monitored
    day = START + dt.timedelta(days=DAYS - 1)
    cols = ["tag", "hour_start", "flagged_count", "status", "reason"]
    before = lake.read(FCT_TAG_HEALTH).to_pandas()[cols].sort_values(["tag", "hour_start"]).reset_index(drop=True)
    score_cols = ["unit", "hour_start", "mode", "t2", "spe", "pca_alarm", "model_version"]
    scores_before = lake.read(FCT_MONITOR_SCORES).to_pandas()[score_cols].sort_values(["unit", "hour_start"])
    monitor_day(lake, "cstr", day, META, config=SHORT)
    after = lake.read(FCT_TAG_HEALTH).to_pandas()[cols].sort_values(["tag", "hour_start"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)
    scores_after = lake.read(FCT_MONITOR_SCORES).to_pandas()[score_cols].sort_values(["unit", "hour_start"])
    pd.testing.assert_frame_equal(scores_before.reset_index(drop=True), scores_after.reset_index(drop=True))
