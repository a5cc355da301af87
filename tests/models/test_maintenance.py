"""Remaining useful life on synthetic degradation paths with a known threshold crossing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from models import co2_electrolyzer as ecr
from models.maintenance import (
    DEGRADATIONS,
    STATUSES,
    Degradation,
    degradation,
    health_indicators,
    remaining_useful_life,
)
from warehouse.tables import FCT_ASSET_HEALTH

START = dt.date(2025, 1, 1)

#: A generic falling indicator: design 1.0, threshold 0.8, daily values (no window averaging).
LINEAR = Degradation(
    plant_id="test", asset="test exchanger", indicator="u", unit="1", direction="falling", threshold=0.8,
    source="test", action="cleaning", resets="cleaning", design_value=1.0, basis="synthetic", window_days=1,
    lead_time_days=10.0, min_reset_step=0.05,
)


def _days(n: int, start: dt.date = START) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


def _linear_history(n: int, *, slope: float = -0.004, level0: float = 1.0, sd: float = 0.004, seed: int = 1):
    """Values at mid-day t = i + 0.5 on a straight line with Gaussian noise; returns (frame, true RUL after day n-1)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) + 0.5
    value = level0 + slope * t + rng.normal(0.0, sd, n)
    frame = pd.DataFrame({"day": _days(n), "value": value, "std_error": sd})
    t_cross = (LINEAR.threshold - level0) / slope
    return frame, t_cross - n  # RUL counts from the end of the last day


def test_result_has_the_gold_table_columns():
    frame, _ = _linear_history(30)
    res = remaining_useful_life(frame, LINEAR, as_of=frame["day"].iloc[-1])
    expected = set(FCT_ASSET_HEALTH.column_names) - {"plant_id", "run_id", "computed_at"}
    assert set(res) == expected
    assert res["status"] in STATUSES


def test_linear_degradation_p50_close_to_truth_and_truth_inside_p10_p90():
    frame, truth = _linear_history(30)  # 0.88 now, -0.004/d: 20 days to 0.80
    res = remaining_useful_life(frame, LINEAR, as_of=frame["day"].iloc[-1])
    assert truth == pytest.approx(20.0)
    assert res["rul_p50_days"] == pytest.approx(truth, abs=3.0)  # 15 % of the horizon
    assert res["rul_p10_days"] <= truth <= res["rul_p90_days"]
    assert res["trend_per_day"] == pytest.approx(-0.004, rel=0.15)
    assert res["status"] == "ok"  # P10 beyond the 10-day lead time
    assert res["threshold_date_p50"] == frame["day"].iloc[-1] + dt.timedelta(days=1 + math.floor(res["rul_p50_days"]))


def test_p10_p90_covers_the_truth_about_eighty_percent_of_the_time():
    inside = []
    for seed in range(40):
        frame, truth = _linear_history(20, seed=seed, sd=0.006)
        res = remaining_useful_life(frame, LINEAR, as_of=frame["day"].iloc[-1], n_draws=1000)
        inside.append(res["rul_p10_days"] <= truth <= (res["rul_p90_days"] or math.inf))
    assert 0.65 <= np.mean(inside) <= 0.95


def test_saturating_fouling_with_previous_cycles():
    # Kern-Seaton fouling of a reboiler: 1/U = (1 + R*(1 - exp(-t/tau)))/U_clean, cleaned every 25 days.
    deg = degradation("biorefinery", "reboiler_ua_kw_k")
    u_clean, r_max, tau = deg.design_value, 1.2, 12.0
    r_thr = u_clean / deg.threshold - 1.0
    t_cross = -tau * math.log(1.0 - r_thr / r_max)  # 9.25 d after a cleaning
    cleanings = [2.0, 27.0, 52.0, 77.0]
    t = np.arange(83) + 0.5
    since = np.array([x - max(c for c in cleanings if c <= x) if x >= cleanings[0] else x + 20.0 for x in t])
    rng = np.random.default_rng(7)
    ua = u_clean / (1.0 + r_max * (1.0 - np.exp(-since / tau))) * (1.0 + rng.normal(0.0, 0.01, len(t)))
    frame = pd.DataFrame({"day": _days(len(t)), "value": ua, "std_error": 0.004 * ua})
    res = remaining_useful_life(frame, deg, as_of=frame["day"].iloc[-1])
    truth = cleanings[-1] + t_cross - len(t)  # 3.25 d
    assert res["since_maintenance_date"] == START + dt.timedelta(days=77)
    assert "prior from the 3 previous cycle(s)" in res["method"]
    assert res["rul_p50_days"] == pytest.approx(truth, abs=1.0)
    assert res["rul_p10_days"] <= truth <= res["rul_p90_days"]
    assert res["status"] == "plan_maintenance"  # P10 within the 5-day lead time
    assert res["recommendation"].startswith("Schedule beer-column reboiler cleaning before ")


def test_reset_detected_and_only_the_cycle_since_is_fitted():
    # 40 days of ageing, a replacement, then 20 days at a different (faster) rate.
    a, _ = _linear_history(40, slope=-0.003, seed=3)
    b, truth = _linear_history(20, slope=-0.006, seed=4)
    b["day"] = _days(20, START + dt.timedelta(days=40))
    frame = pd.concat([a, b], ignore_index=True)
    res = remaining_useful_life(frame, LINEAR, as_of=frame["day"].iloc[-1])
    assert res["since_maintenance_date"] == START + dt.timedelta(days=40)
    assert res["history_points"] == 20
    assert res["trend_per_day"] == pytest.approx(-0.006, rel=0.2)
    assert res["rul_p50_days"] == pytest.approx(truth, abs=2.5)  # 13.3 d
    assert "1 maintenance step(s) detected" in res["method"]


def test_single_outlier_is_no_reset():
    frame, _ = _linear_history(30)
    frame.loc[20, "value"] = 1.0  # one day looks like new
    res = remaining_useful_life(frame, LINEAR, as_of=frame["day"].iloc[-1])
    assert res["since_maintenance_date"] == START
    assert "1 outlier(s)" in res["method"]


def test_insufficient_data_after_a_reset():
    a, _ = _linear_history(30, seed=5)
    b = pd.DataFrame({"day": _days(3, START + dt.timedelta(days=30)), "value": [0.999, 0.996, 0.992],
                      "std_error": 0.004})
    res = remaining_useful_life(pd.concat([a, b]), LINEAR, as_of=b["day"].iloc[-1])
    assert res["status"] == "insufficient_data"
    assert res["history_points"] == 3
    assert res["rul_p50_days"] is None
    assert res["since_maintenance_date"] == START + dt.timedelta(days=30)


def test_empty_history_is_insufficient_data():
    res = remaining_useful_life(pd.DataFrame(columns=["day", "value", "std_error"]), LINEAR, as_of=START)
    assert res["status"] == "insufficient_data" and res["indicator_value"] is None


def test_trend_away_from_the_threshold():
    frame, _ = _linear_history(30, slope=+0.002, level0=0.9)
    res = remaining_useful_life(frame, LINEAR, as_of=frame["day"].iloc[-1])
    assert res["status"] == "no_degradation_trend"
    assert res["rul_p50_days"] is None and res["threshold_date_p50"] is None
    assert res["trend_per_day"] > 0


def test_already_past_the_threshold_is_due():
    frame, truth = _linear_history(60)  # crossed on day 50
    assert truth < 0
    res = remaining_useful_life(frame, LINEAR, as_of=frame["day"].iloc[-1])
    assert res["status"] == "maintenance_due"
    assert res["rul_p50_days"] == 0.0
    assert res["recommendation"].endswith("cleaning now.")


def test_as_of_cuts_the_history():
    frame, _ = _linear_history(60)
    early = remaining_useful_life(frame, LINEAR, as_of=START + dt.timedelta(days=29))
    assert early["history_points"] == 30
    assert early["rul_p50_days"] == pytest.approx(20.0, abs=3.0)


def test_deterministic_for_a_seed():
    frame, _ = _linear_history(25, sd=0.01)
    as_of = frame["day"].iloc[-1]
    one = remaining_useful_life(frame, LINEAR, as_of=as_of, seed=3)
    assert one == remaining_useful_life(frame, LINEAR, as_of=as_of, seed=3)
    other = remaining_useful_life(frame, LINEAR, as_of=as_of, seed=4)
    assert other["rul_p50_days"] != one["rul_p50_days"]
    assert other["rul_p50_days"] == pytest.approx(one["rul_p50_days"], rel=0.05)


def test_window_averaged_values_get_wider_intervals():
    frame, _ = _linear_history(25, sd=0.006)
    as_of = frame["day"].iloc[-1]
    daily = remaining_useful_life(frame, LINEAR, as_of=as_of)
    weekly = remaining_useful_life(frame, dataclasses.replace(LINEAR, window_days=7), as_of=as_of)
    assert (weekly["rul_p90_days"] - weekly["rul_p10_days"]) > 2.0 * (daily["rul_p90_days"] - daily["rul_p10_days"])


def test_ageing_law_prior_steadies_a_short_first_cycle():
    # 6 noisy days of a cycle whose true slope is the law's: the flat fit scatters, the law prior does not.
    law = dataclasses.replace(LINEAR, law_slope_per_day=-0.004, window_days=7)
    flat = dataclasses.replace(LINEAR, window_days=7)
    frame, truth = _linear_history(6, sd=0.006, seed=11)  # truth 44 d
    as_of = frame["day"].iloc[-1]
    with_law = remaining_useful_life(frame, law, as_of=as_of)
    without = remaining_useful_life(frame, flat, as_of=as_of)
    assert "slope prior from the ageing law" in with_law["method"]
    assert with_law["rul_p10_days"] <= truth <= with_law["rul_p90_days"]
    assert with_law["rul_p50_days"] == pytest.approx(truth, rel=0.3)
    width = lambda r: (r["rul_p90_days"] or math.inf) - r["rul_p10_days"]  # noqa: E731
    assert width(without) > 3.0 * width(with_law)
    # Three values suffice with a prior, five without.
    assert remaining_useful_life(frame.head(3), law, as_of=frame["day"].iloc[2])["status"] != "insufficient_data"
    assert remaining_useful_life(frame.head(3), flat, as_of=frame["day"].iloc[2])["status"] == "insufficient_data"


def test_ageing_law_slope_must_point_to_the_threshold():
    with pytest.raises(ValueError, match="ageing-law slope must point toward the threshold"):
        dataclasses.replace(LINEAR, law_slope_per_day=+0.004)


def test_threshold_on_the_wrong_side_is_rejected():
    with pytest.raises(ValueError, match="threshold beyond the design value"):
        dataclasses.replace(LINEAR, threshold=1.2)


def test_declared_thresholds():
    reboiler = degradation("biorefinery", "reboiler_ua_kw_k")
    assert reboiler.threshold == pytest.approx(reboiler.design_value * 20.0 / 32.9)
    assert degradation("co2_electrolyzer", "fe_plateau_aged").threshold == pytest.approx(0.89)
    assert {p: len(d) for p, d in DEGRADATIONS.items()} == {"cstr": 1, "biorefinery": 1, "co2_electrolyzer": 2,
                                                              "smelter": 2}
    with pytest.raises(ValueError, match="fe_plateau_aged"):
        degradation("co2_electrolyzer", "UA")


# ---------------------------------------------------------------------------- health indicators


def _hourly(rows: list[tuple[str, str, float]], good: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({"tag": [r[0] for r in rows], "hour_start": pd.to_datetime([r[1] for r in rows], utc=True),
                         "twa_value": [r[2] for r in rows], "good_fraction": good})


def test_health_indicators_reboiler_ua_from_duty_and_temperatures():
    rows = []
    for h in range(8):
        hour = f"2025-01-01T{h:02d}:00"
        dtemp = 25.0 + (0.5 if h % 2 else -0.5)
        rows += [("BIO.QI502", hour, 40_000.0), ("BIO.TI503", hour, 385.0), ("BIO.TI504", hour, 385.0 + dtemp)]
    rows += [("BIO.QI502", "2025-01-02T00:00", 40_000.0)]  # a day with too few hours is left out
    hi = health_indicators("biorefinery", None, _hourly(rows))
    assert list(hi.columns) == ["day", "indicator", "value", "std_error"]
    assert len(hi) == 1
    row = hi.iloc[0]
    assert row["day"] == dt.date(2025, 1, 1) and row["indicator"] == "reboiler_ua_kw_k"
    assert row["value"] == pytest.approx(40_000.0 / 25.0, rel=0.011)  # median of 40000/24.5 and 40000/25.5
    assert 0.0 < row["std_error"] < 0.02 * row["value"]


def test_health_indicators_electrolyzer_aged_values_at_noon():
    params = pd.DataFrame({"plant_id": "co2_electrolyzer", "fit_date": [dt.date(2025, 1, 1)] * 2,
                           "parameter": ["fe_max", "asr_ohm_cm2"], "estimate": [0.91, 2.1], "std_error": [0.002, 0.01]})
    # The age counter reads 500.5 h in the hour 00:00-01:00 (mean over the hour): 512 h at noon.
    rows = [("ECR.KY101", f"2025-01-01T{h:02d}:00", 500.5 + h) for h in range(24)]
    hi = health_indicators("co2_electrolyzer", params, _hourly(rows)).set_index("indicator")
    p = ecr.DEFAULT
    assert hi.loc["fe_plateau_aged", "value"] == pytest.approx(0.91 * (1 - p.fe_decay_per_kh * 0.512))
    assert hi.loc["fe_plateau_aged", "std_error"] == pytest.approx(0.002 * (1 - p.fe_decay_per_kh * 0.512))
    assert hi.loc["asr_aged_ohm_cm2", "value"] == pytest.approx(2.1 * (1 + p.asr_growth_per_kh * 0.512))


def test_health_indicators_skip_the_electrode_replacement_day_and_bad_hours():
    params = pd.DataFrame({"fit_date": [dt.date(2025, 1, 1)], "parameter": ["fe_max"], "estimate": [0.92],
                           "std_error": [0.002]})
    rows = [("ECR.KY101", f"2025-01-01T{h:02d}:00", 900.0 + h if h < 10 else h - 9.5) for h in range(24)]
    assert health_indicators("co2_electrolyzer", params, _hourly(rows)).empty
    rows = [("ECR.KY101", f"2025-01-01T{h:02d}:00", 100.5 + h) for h in range(24)]
    assert health_indicators("co2_electrolyzer", params, _hourly(rows, good=0.5)).empty


def test_health_indicators_smelter_cathode_drop_at_nominal_current():
    rows = []
    for h in range(12):
        hour = f"2025-01-01T{h:02d}:00"
        rows += [("SMT.II101", hour, 315.0), ("SMT.EI104", hour, 0.27)]
    rows += [("SMT.II101", "2025-01-01T12:00", 100.0), ("SMT.EI104", "2025-01-01T12:00", 0.09)]  # load shed: skipped
    hi = health_indicators("smelter", None, _hourly(rows))
    assert hi["value"].tolist() == pytest.approx([0.27 * 350.0 / 315.0])
    with pytest.raises(ValueError, match="no degradations declared"):
        health_indicators("refinery", None, None)
