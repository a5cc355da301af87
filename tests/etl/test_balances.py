"""Balance checks on a real lake: closure on normal operation, injected instrument faults, events, reruns.

The session's gold lake (``gold_lake_template``: 2026-03-01..02 of every plant ingested and
monitored, which includes :func:`etl.balances.check_balances`) is the normal-operation sample;
the simulator's truth tells which hours were normal (tests may read it, production code may not).
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from etl.balances import check_balances
from etl.monitoring import build_events
from models.balances import BALANCES
from nexus.truth import read_episodes
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import FCT_BALANCE_CHECKS, FCT_EVENTS, FCT_TAG_HOURLY

DAY = dt.date(2026, 3, 2)
META = CommitMeta("pytest", "balances", "monitoring:test")
UTC = dt.UTC


def _normal_hours(episodes: pd.DataFrame, hours: pd.Series) -> np.ndarray:
    """Hours that overlap only episodes of category normal."""
    other = episodes[episodes["category"] != "normal"]
    bad = np.zeros(len(hours), dtype=bool)
    h = hours.to_numpy()
    for s, e in zip(other["start_at"], other["end_at"]):
        bad |= (h + pd.Timedelta(hours=1) > s) & (h < e)
    return ~bad


@pytest.fixture(scope="module")
def template(gold_lake_template):
    return Lake(gold_lake_template)


def test_balances_close_on_normal_operation(template):
    checks = template.read(FCT_BALANCE_CHECKS).to_pandas()
    truth = read_episodes(template)
    assert set(checks["plant_id"]) == set(BALANCES)
    assert set(checks["status"]) <= {"ok", "violation", "insufficient_data"}
    for plant_id, g in checks.groupby("plant_id"):
        normal = _normal_hours(truth[truth["plant_id"] == plant_id], g["hour_start"])
        assert set(g["balance"]) == {b.name for b in BALANCES[plant_id]}
        judged = g[normal & (g["status"] != "insufficient_data")]
        # every balance has a day's worth of normal hours judged, and none of them is a violation
        assert judged.groupby("balance").size().min() >= 20, plant_id
        assert (judged["status"] == "ok").all(), judged[judged["status"] != "ok"][["balance", "hour_start", "z_score"]]
        assert judged["residual_pct"].abs().max() < 4.0, plant_id
        assert judged["z_score"].abs().max() < 3.0
        # sigma is mostly the stated model form, and never below it
        assert (judged["sigma"] >= judged["sigma_model"] - 1e-12).all()
    # terms are stored by name and side
    row = checks[(checks["plant_id"] == "co2_electrolyzer") & (checks["balance"] == "charge")].iloc[0]
    terms = json.loads(row["terms_json"])
    assert {k: v["side"] for k, v in terms.items()} == {"cell_current": "in", "formate_current": "out",
                                                       "h2_current": "out"}
    assert terms["cell_current"]["value"] == pytest.approx(row["in_total"])
    assert row["tags_used"] == "ECR.II101, ECR.FI302, ECR.AI302, ECR.FI202, ECR.AI202"


def test_a_drifting_heat_meter_is_caught_by_both_cstr_energy_balances(template):
    """The CSTR simulated on 2026-03-01 has its jacket heat meter QI101 drifting (14:30-17:07 UTC)."""
    truth = read_episodes(template, "cstr")
    drift = truth[(truth["label"] == "sensor_drift") & (truth["tag"] == "CSTR.QI101")].iloc[0]
    checks = template.read(FCT_BALANCE_CHECKS, where={"plant_id": "cstr"}).to_pandas().set_index(
        ["balance", "hour_start"])
    for balance in ("energy", "jacket_duty"):
        for hour in pd.date_range("2026-03-01 15:00", "2026-03-01 16:00", freq="h", tz="UTC"):
            row = checks.loc[(balance, hour)]
            assert row["status"] == "violation" and row["residual"] > 0, (balance, hour)
    events = template.read(FCT_EVENTS, where={"plant_id": "cstr"}).to_pandas()
    ev = events[(events["kind"] == "balance_violation") & (events["unit"] == "jacket")]
    assert len(ev) == 1
    ev = ev.iloc[0]
    assert drift["start_at"] <= ev["start_at"] <= drift["start_at"] + pd.Timedelta(hours=1)
    assert ev["detector"] == "balance" and ev["model_version"].endswith("cstr/jacket_duty")
    assert ev["detail"].startswith("jacket_duty balance (energy)")
    assert ev["top_tags"].startswith("CSTR.QI101:")


def _bias(lake: Lake, plant_id: str, tag: str, start: pd.Timestamp, end: pd.Timestamp, factor: float) -> None:
    rows = lake.read(FCT_TAG_HOURLY, where={"plant_id": plant_id, "tag": tag}, start=start.to_pydatetime(),
                     end=end.to_pydatetime()).to_pandas()
    assert len(rows) == (end - start) / pd.Timedelta(hours=1)
    for c in ("twa_value", "min_value", "max_value"):
        rows[c] = rows[c] * factor
    lake.upsert(FCT_TAG_HOURLY, rows, meta=META)


@pytest.mark.parametrize(("plant_id", "tag", "caught_by"), [
    ("cstr", "CSTR.QI101", {"energy", "jacket_duty"}),
    ("biorefinery", "BIO.FI501", {"beer_column_mass", "beer_column_ethanol"}),
    ("co2_electrolyzer", "ECR.II101", {"charge", "anode_charge"}),
    ("smelter", "SMT.JI101", {"dc_power", "energy"}),
])
def test_an_instrument_reading_10_percent_high_is_flagged_and_opens_an_event(copy_lake, plant_id, tag, caught_by):
    lake = copy_lake
    start = pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(hours=9)  # 09-15 h: every balance ok
    end = start + pd.Timedelta(hours=6)
    before = lake.read(FCT_BALANCE_CHECKS, where={"plant_id": plant_id}).to_pandas()
    in_window = (before["hour_start"] >= start) & (before["hour_start"] < end)
    assert (before.loc[in_window & before["balance"].isin(caught_by), "status"] == "ok").all()

    _bias(lake, plant_id, tag, start, end, 1.10)
    res = check_balances(lake, plant_id, DAY, META)
    build_events(lake, plant_id, DAY, META)

    after = lake.read(FCT_BALANCE_CHECKS, where={"plant_id": plant_id}).to_pandas()
    assert len(after) == len(before)                       # the day was replaced, not appended
    hit = after[(after["hour_start"] >= start) & (after["hour_start"] < end) & after["balance"].isin(caught_by)]
    assert len(hit) == 6 * len(caught_by)
    assert (hit["status"] == "violation").all(), hit[["balance", "hour_start", "z_score"]]
    assert (hit["z_score"].abs() > 3.0).all() and hit["tags_used"].str.contains(tag, regex=False).all()
    assert res["violations"] >= 6 * len(caught_by)
    # balances that do not read the tag, and hours outside the window, keep their verdicts
    key = ["balance", "hour_start"]
    merged = before.merge(after, on=key, suffixes=("_before", "_after"))
    untouched = ~((merged["hour_start"] >= start) & (merged["hour_start"] < end)
                  & merged["tags_used_after"].str.contains(tag, regex=False))
    assert (merged.loc[untouched, "status_before"] == merged.loc[untouched, "status_after"]).all()

    events = lake.read(FCT_EVENTS, where={"plant_id": plant_id}).to_pandas()
    ev = events[(events["kind"] == "balance_violation") & (events["start_at"] == start)]
    causes = {v.rsplit("/", 1)[1] for v in ev["model_version"]}
    assert causes == caught_by
    assert (ev["end_at"] == end).all() and (ev["duration_h"] == 6.0).all()
    assert ev["top_tags"].str.contains(tag, regex=False).all()


def test_rerun_replaces_the_day_and_events_are_not_duplicated(copy_lake):
    lake = copy_lake
    events0 = lake.read(FCT_EVENTS, where={"plant_id": "cstr"}).to_pandas()
    checks0 = lake.read(FCT_BALANCE_CHECKS).num_rows
    for _ in range(2):
        check_balances(lake, "cstr", DAY, META)
        build_events(lake, "cstr", DAY, META)
    assert lake.read(FCT_BALANCE_CHECKS).num_rows == checks0
    events = lake.read(FCT_EVENTS, where={"plant_id": "cstr"}).to_pandas()
    assert sorted(events["event_id"]) == sorted(events0["event_id"])
    assert events["event_id"].is_unique
    assert {"balance_violation", "sensor_fault"} <= set(events["kind"])


def test_a_flagged_or_missing_tag_makes_the_hour_insufficient_data(copy_lake):
    lake = copy_lake
    hour = pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(hours=3)
    rows = lake.read(FCT_TAG_HOURLY, where={"plant_id": "smelter", "tag": "SMT.AI506"}, start=hour.to_pydatetime(),
                     end=(hour + pd.Timedelta(hours=1)).to_pydatetime()).to_pandas()
    rows["flagged_count"] = 1
    rows["flagged_fraction"] = 1 / rows["good_count"]
    lake.upsert(FCT_TAG_HOURLY, rows, meta=META)
    check_balances(lake, "smelter", DAY, META)
    checks = lake.read(FCT_BALANCE_CHECKS, where={"plant_id": "smelter"}, start=hour.to_pydatetime(),
                       end=(hour + pd.Timedelta(hours=1)).to_pydatetime()).to_pandas().set_index("balance")
    assert checks.loc["carbon", "status"] == "insufficient_data"
    assert checks.loc["carbon", "missing_tags"] == "SMT.AI506"
    assert np.isnan(checks.loc["carbon", "z_score"])
    assert checks.loc["dc_power", "status"] == "ok" and checks.loc["energy", "status"] == "ok"


def test_monitor_dag_checks_balances_before_building_events():
    import monitor_plants  # dags/ is on sys.path (conftest)

    dag = monitor_plants.monitor_plants()
    tasks = dag.task_dict
    assert tasks["check_balances"].upstream_task_ids == {"score_process"}
    assert tasks["build_events"].upstream_task_ids == {"check_balances"}
    assert [a.name for a in tasks["check_balances"].outlets] == ["gold.fct_balance_checks"]
    assert [a.name for a in tasks["build_events"].outlets] == ["gold.fct_events"]


def test_an_events_table_from_before_balances_accepts_balance_violations(lake, meta):
    """A lake whose gold.fct_events was created with the old kind vocabulary (constraint kind_known)
    takes balance_violation events: Lake.ensure swaps the constraint, which still rejects unknown kinds."""
    import dataclasses

    from nexus.errors import ContractViolation

    old = dataclasses.replace(FCT_EVENTS, constraints={
        "kind_known": "kind IN ('sensor_fault', 'process_anomaly', 'transient', 'shutdown')",
        "severity_known": "severity IN ('low', 'medium', 'high')",
        "window_ordered": "end_at IS NULL OR start_at < end_at"})
    start = pd.Timestamp("2026-03-02 09:00", tz="UTC")

    def event(kind: str, n: int) -> pd.DataFrame:
        return pd.DataFrame([{
            "event_id": f"e{n}", "plant_id": "cstr", "unit": "reactor", "kind": kind, "start_at": start,
            "end_at": start + pd.Timedelta(hours=2), "duration_h": 2.0, "severity": "high", "peak_score": 3.0,
            "top_tags": "CSTR.QI101:1.00", "detail": "test", "detector": "balance", "model_version": "v",
            "run_id": "r", "computed_at": start}])

    lake.append(old, event("sensor_fault", 1), meta=meta)
    with pytest.raises(ContractViolation):
        lake.append(old, event("balance_violation", 2), meta=meta)   # the old table's rule
    lake.append(FCT_EVENTS, event("balance_violation", 2), meta=meta)
    conf = lake.ensure(FCT_EVENTS, meta).metadata().configuration
    assert {k for k in conf if k.startswith("delta.constraints.")} == {
        f"delta.constraints.{k}" for k in FCT_EVENTS.constraints}
    assert sorted(lake.read(FCT_EVENTS).column("kind").to_pylist()) == ["balance_violation", "sensor_fault"]
    with pytest.raises(ContractViolation):
        lake.append(FCT_EVENTS, event("made_up", 3), meta=meta)
