"""Rollups of gold facts to coarser grains: ``gold.fct_tag_daily`` from ``gold.fct_tag_hourly``.

A daily question over years ("daily means of every tag of every plant since 2022") then reads one
row per tag and day instead of 24, so it stays fast whatever the lake's size.

:func:`build_daily` is idempotent per plant and day: it reads the days' hourly aggregates and
replaces exactly those days of the rollup (a rerun, a backfill or a rebuild after monitoring set
flags leaves the table as one run would). The sensor pipeline calls it right after it writes the
hourly table (``etl.sensor.build_hourly``), so the bulk history load and the daily DAG both keep it
current.

How a day is rolled up from its hours (UTC days):

- ``twa_value`` = Σ twa_h · good_count_h / Σ good_count_h over the hours with a time-weighted
  average. An hour's twa_h is already time-weighted within the hour; weighting hours by their good
  readings weighs each by the time its good readings hold at the plant's fixed sampling period,
  so an hour half lost to bad quality counts half.
- ``min_value`` / ``max_value`` are the extremes of the hourly ones; counts are sums.
- ``hours_covered`` counts hours with at least one good reading; ``coverage`` = hours_covered / 24,
  so a day with gaps (missing files, outages, bad quality) shows ``coverage < 1``.

Example:
    >>> from etl.rollups import daily_rollup
    >>> daily = daily_rollup(hourly_table)            # pure: Arrow in, Arrow out
    >>> build_daily(lake, "cstr", [dt.date(2026, 3, 1)], meta)   # read hourly, replace the day
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from warehouse.duck import scratch
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import FCT_TAG_DAILY, FCT_TAG_HOURLY

HOURS_PER_DAY = 24

DAILY_SQL = f"""
SELECT plant_id, tag, CAST(timezone('UTC', hour_start) AS DATE) AS day, any_value(unit) AS unit,
       sum(twa_value * good_count) FILTER (WHERE twa_value IS NOT NULL AND good_count > 0)
           / nullif(sum(good_count) FILTER (WHERE twa_value IS NOT NULL AND good_count > 0), 0) AS twa_value,
       min(min_value) AS min_value, max(max_value) AS max_value,
       sum(sample_count)::BIGINT AS sample_count, sum(good_count)::BIGINT AS good_count,
       coalesce(sum(good_count) / nullif(sum(sample_count), 0), 0.0) AS good_fraction,
       sum(flagged_count)::BIGINT AS flagged_count,
       count(*) FILTER (WHERE good_count > 0)::INTEGER AS hours_covered,
       count(*) FILTER (WHERE good_count > 0) / {HOURS_PER_DAY} AS coverage
FROM hourly
GROUP BY ALL
ORDER BY plant_id, tag, day
"""


def daily_rollup(hourly: pa.Table) -> pa.Table:
    """Daily statistics (``gold.fct_tag_daily`` columns) of hourly tag aggregates (``gold.fct_tag_hourly`` rows)."""
    # One thread over sorted input (the scratch database's): sums add in the same order on every
    # run, so a rerun is bit for bit equal.
    with scratch() as con:
        con.register("hourly", hourly.sort_by([("plant_id", "ascending"), ("tag", "ascending"),
                                               ("hour_start", "ascending")]))
        return con.sql(DAILY_SQL).to_arrow_table().select(FCT_TAG_DAILY.column_names).cast(
            pa.schema([f.remove_metadata() for f in FCT_TAG_DAILY.schema]))


def _runs(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days as ``[first, stop)`` ranges."""
    out: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if out and out[-1][1] == day:
            out[-1] = (out[-1][0], day + dt.timedelta(days=1))
        else:
            out.append((day, day + dt.timedelta(days=1)))
    return out


def build_daily(lake: Lake, plant_id: str, days: Iterable[dt.date], meta: CommitMeta) -> dict[str, Any]:
    """Replace the plant's rows of ``days`` in ``gold.fct_tag_daily`` with the rollup of their hourly rows.

    One read and one commit per run of consecutive days. Days without hourly rows end with no
    daily rows (a rebuild after the hours were removed removes the day too).
    """
    rows = 0
    for first, stop in _runs(days):
        start = dt.datetime.combine(first, dt.time(), dt.timezone.utc)
        end = dt.datetime.combine(stop, dt.time(), dt.timezone.utc)
        hourly = (lake.read(FCT_TAG_HOURLY, where={"plant_id": plant_id}, start=start, end=end)
                  if lake.exists(FCT_TAG_HOURLY) else FCT_TAG_HOURLY.schema.empty_table())
        daily = daily_rollup(hourly)
        rows += lake.replace_interval(FCT_TAG_DAILY, daily, start=first, end=stop, where={"plant_id": plant_id},
                                      meta=meta)
    return {"daily_rows": rows}
