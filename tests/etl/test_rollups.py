"""Daily rollup of hourly tag aggregates (gold.fct_tag_daily) on a real Delta lake."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from etl.rollups import build_daily, daily_rollup
from warehouse.tables import FCT_TAG_DAILY, FCT_TAG_HOURLY

UTC = dt.timezone.utc
DAY = dt.date(2026, 3, 1)


def _hour(h: int, twa: float | None, good: int, *, day: dt.date = DAY, tag: str = "T", sample: int = 60,
          lo: float | None = None, hi: float | None = None, flagged: int = 0) -> dict:
    return {"plant_id": "cstr", "tag": tag, "hour_start": dt.datetime.combine(day, dt.time(h), UTC), "unit": "K",
            "twa_value": twa, "min_value": lo if lo is not None else twa, "max_value": hi if hi is not None else twa,
            "sample_count": sample, "good_count": good, "good_fraction": good / sample, "flagged_count": flagged,
            "flagged_fraction": flagged / good if good else 0.0}


def _hourly(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=FCT_TAG_HOURLY.schema)


def test_time_weighted_daily_mean_by_hand():
    # 22 full hours at 300 K, one hour at 310 K with half its readings good, one hour with none good
    rows = [_hour(h, 300.0, 60) for h in range(22)]
    rows += [_hour(22, 310.0, 30, lo=305.0, hi=320.0, flagged=2), _hour(23, None, 0)]
    out = daily_rollup(_hourly(rows)).to_pylist()
    assert len(out) == 1
    day = out[0]
    # (22 * 60 * 300 + 30 * 310) / (22 * 60 + 30) = 405300 / 1350
    assert day["twa_value"] == pytest.approx(405300 / 1350, rel=1e-12)
    assert day["twa_value"] == pytest.approx(300.2222222222, rel=1e-10)
    assert (day["min_value"], day["max_value"]) == (300.0, 320.0)
    assert (day["sample_count"], day["good_count"], day["flagged_count"]) == (24 * 60, 1350, 2)
    assert day["good_fraction"] == pytest.approx(1350 / 1440)
    assert (day["hours_covered"], day["coverage"]) == (23, pytest.approx(23 / 24))
    assert day["day"] == DAY and day["unit"] == "K"


def test_build_daily_is_idempotent_and_shows_gaps(lake, meta):
    day2 = DAY + dt.timedelta(days=1)
    full = [_hour(h, 100.0 + h, 60) for h in range(24)]
    gappy = [_hour(h, 50.0, 60, day=day2) for h in range(12)]  # the afternoon's file never arrived
    lake.append(FCT_TAG_HOURLY, _hourly(full + gappy), meta=meta)

    assert build_daily(lake, "cstr", [DAY, day2], meta) == {"daily_rows": 2}
    first = lake.read(FCT_TAG_DAILY).sort_by("day")
    assert build_daily(lake, "cstr", [day2, DAY], meta) == {"daily_rows": 2}
    again = lake.read(FCT_TAG_DAILY).sort_by("day")
    assert again.equals(first)  # a rerun replaces, bit for bit
    rows = again.to_pylist()
    assert rows[0]["twa_value"] == pytest.approx(111.5) and rows[0]["coverage"] == 1.0
    assert rows[1]["twa_value"] == 50.0 and rows[1]["hours_covered"] == 12 and rows[1]["coverage"] == 0.5

    # rebuilding one day after its hours changed touches that day only
    lake.replace_interval(FCT_TAG_HOURLY, _hourly([_hour(0, 7.0, 60, day=day2)]),
                          start=dt.datetime.combine(day2, dt.time(), UTC),
                          end=dt.datetime.combine(day2 + dt.timedelta(days=1), dt.time(), UTC),
                          where={"plant_id": "cstr"}, meta=meta)
    build_daily(lake, "cstr", [day2], meta)
    rows = lake.read(FCT_TAG_DAILY).sort_by("day").to_pylist()
    assert [(r["day"], r["twa_value"], r["hours_covered"]) for r in rows] == [(DAY, pytest.approx(111.5), 24),
                                                                              (day2, 7.0, 1)]


def test_the_hourly_step_keeps_the_daily_rollup_current(lake, meta):
    from etl.sensor import Batch, build_hourly
    from warehouse.tables import SILVER_SENSOR_READINGS

    def readings(day: dt.date, value: float) -> pa.Table:  # one reading a minute for two hours of the day
        return pa.Table.from_pylist([
            {"plant_id": "cstr", "reading_date": day, "tag": "T",
             "ts": dt.datetime.combine(day, dt.time(), UTC) + dt.timedelta(minutes=m), "value": value + m // 60,
             "unit": "K", "quality": "good", "quality_code": 192, "flag": None, "flag_reason": None,
             "_source_file": "raw/x.csv", "_line_number": m + 2, "_ingested_at": dt.datetime(2026, 3, 9, tzinfo=UTC),
             "_run_id": "r"} for m in range(120)], schema=SILVER_SENSOR_READINGS.schema)

    day2 = DAY + dt.timedelta(days=1)
    lake.append(SILVER_SENSOR_READINGS, pa.concat_tables([readings(DAY, 10.0), readings(day2, 20.0)]), meta=meta)
    build_hourly(lake, Batch("cstr", DAY, day2), meta)
    rows = lake.read(FCT_TAG_DAILY).sort_by("day").to_pylist()
    assert [(r["day"], r["twa_value"], r["hours_covered"], r["good_count"]) for r in rows] == [
        (DAY, 10.5, 2, 120), (day2, 20.5, 2, 120)]
    assert rows[0]["coverage"] == pytest.approx(2 / 24)
