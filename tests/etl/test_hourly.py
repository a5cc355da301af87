"""Hourly time-weighted statistics against hand-computed values."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from warehouse.registry import UTC_TS

UTC = dt.timezone.utc


def readings(*rows):
    tag, minute, value, quality = zip(*rows)
    base = dt.datetime(2026, 1, 1, tzinfo=UTC)
    return pa.table({
        "tag": list(tag), "unit": ["K"] * len(rows),
        "ts": pa.array([base + dt.timedelta(minutes=m) for m in minute], UTC_TS),
        "value": pa.array(list(value), pa.float64()), "quality": list(quality),
    })


def test_time_weighted_average_sample_and_hold():
    from etl.sensor import hourly_aggregates

    table = readings(
        ("T", 0, 300.0, "good"),    # holds 0-10 min
        ("T", 10, 310.0, "good"),   # holds 10-40
        ("T", 40, None, "bad"),     # 40-50 excluded from the average
        ("T", 50, 320.0, "good"),   # holds 50-60 (end of hour)
        ("T", 65, 330.0, "good"),   # next hour: holds 65-120
        ("P", 0, 1.0, "uncertain"), # no good reading in its hour
    )
    out = {(r["tag"], r["hour_start"].hour): r for r in hourly_aggregates(table, "cstr").to_pylist()}
    t0 = out[("T", 0)]
    assert t0["twa_value"] == pytest.approx((300 * 10 + 310 * 30 + 320 * 10) / 50, rel=1e-12)
    assert (t0["min_value"], t0["max_value"], t0["sample_count"], t0["good_count"]) == (300.0, 320.0, 4, 3)
    assert t0["good_fraction"] == pytest.approx(0.75)
    assert out[("T", 1)]["twa_value"] == pytest.approx(330.0)
    p = out[("P", 0)]
    assert p["twa_value"] is None and p["good_count"] == 0 and p["good_fraction"] == 0.0
    assert {r["plant_id"] for r in out.values()} == {"cstr"}


def test_unevenly_sampled_hour_weights_by_time_not_count():
    from etl.sensor import hourly_aggregates

    table = readings(("T", 0, 0.0, "good"), ("T", 59, 100.0, "good"), ("T", 59.5, 100.0, "good"))
    row = hourly_aggregates(table, "x").to_pylist()[0]
    assert row["twa_value"] == pytest.approx(100.0 * 1 / 60)  # the mean of samples would be 66.7
