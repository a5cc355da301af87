"""What the console shows, read from the lake through the read-only DuckDB layer (:func:`warehouse.sql.connect`).

Every function takes a :class:`Reader` and returns a pandas DataFrame (empty, with the expected
columns where it matters, when a table does not exist yet: a fresh lake is not an error).

Speed on years of history (``benchmarks/bench_console.py``): each query names the plant and a time
window as literals, so the SQL layer opens only the Delta files whose partition values and
min/max statistics can match. "The newest" of anything (KPIs, batches, assessments,
recommendations, writes, compliance, reports) is looked for in the last :data:`RECENT_DAYS`
windows first (8 days, then 95) and in the whole table only when those are empty — a live
plant's newest rows are days old, a demo lake's may be months old. Long trends read
``gold.fct_tag_daily`` rather than the hourly table. Open events are those that started within
:data:`OPEN_EVENT_DAYS`.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Iterable, Sequence

import duckdb
import pandas as pd

from warehouse.lake import Lake
from warehouse.sql import connect

#: Trends longer than this read daily roll-ups instead of hourly aggregates.
HOURLY_MAX_DAYS = 14
#: Windows (days before today) in which "the newest" rows are looked for, widest last (None: all).
RECENT_DAYS: tuple[int | None, ...] = (8, 95, None)
#: Open events are looked for among those that started within this many days.
OPEN_EVENT_DAYS = 366
#: The event list also shows events that started up to this long before its window and still ran in it.
EVENT_LOOKBACK = dt.timedelta(days=31)


def lit(value: object) -> str:
    """A SQL literal of a string, date or timestamp (quotes doubled)."""
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return f"TIMESTAMPTZ '{value.isoformat()}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def lits(values: Iterable[object]) -> str:
    return "(" + ", ".join(lit(v) for v in values) + ")"


class Reader:
    """Read-only SQL on the lake for the console's threads.

    One connection per thread, renewed after ``ttl_s`` seconds so pages see new commits (a connection
    keeps the table versions it first opened); ``fresh=True`` runs the query on a connection of its
    own (the newest table versions: the live trend, the write audit) and leaves the thread's one, with
    its opened tables, for the other queries.
    """

    def __init__(self, lake: Lake, *, ttl_s: float = 10.0, memory_limit: str | None = None) -> None:
        self.lake, self.ttl_s = lake, ttl_s
        # each request thread holds a connection: a smaller limit than nexus sql's (the console's queries are small)
        self.memory_limit = memory_limit or os.environ.get("NEXUS_CONSOLE_SQL_MEMORY_LIMIT", "1GB")
        self._local = threading.local()

    def con(self):
        made = getattr(self._local, "made", None)
        if made is None or time.monotonic() - made > self.ttl_s:
            old = getattr(self._local, "con", None)
            if old is not None:
                old.close()
            self._local.con, self._local.made = connect(self.lake, memory_limit=self.memory_limit), time.monotonic()
        return self._local.con

    def df(self, sql: str, *, fresh: bool = False) -> pd.DataFrame:
        """The query's result; an empty frame when a table it reads does not exist yet."""
        try:
            if fresh:
                with connect(self.lake, memory_limit=self.memory_limit) as con:
                    return con.sql(sql).df()
            return self.con().sql(sql).df()
        except duckdb.CatalogException as exc:
            if "does not exist" in str(exc):
                return pd.DataFrame()
            raise

    def today(self) -> dt.date:
        return dt.datetime.now(dt.UTC).date()

    def recent(self, template: str, column: str, *, timestamp: bool = False, fresh: bool = False) -> pd.DataFrame:
        """``template`` with ``{recent}`` as ``column >= today - N days`` for each of :data:`RECENT_DAYS`
        until one gives rows (the last: no bound)."""
        df = pd.DataFrame()
        for days in RECENT_DAYS:
            if days is None:
                cond = "TRUE"
            else:
                since = self.today() - dt.timedelta(days=days)
                cond = f"{column} >= {lit(dt.datetime.combine(since, dt.time(), dt.UTC) if timestamp else since)}"
            df = self.df(template.format(recent=cond), fresh=fresh)
            if len(df):
                return df
        return df


def _empty(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return df if len(df.columns) else pd.DataFrame(columns=list(columns))


# ------------------------------------------------------------------------------------------ fleet


def plants(r: Reader) -> pd.DataFrame:
    """Plant instances: id, name, type, site (the fleet's asset hierarchy, else the plant dimension)."""
    df = r.df("SELECT plant_id, name, plant_type, site_id, capacity, capacity_unit FROM gold.dim_assets "
              "WHERE level = 'plant' ORDER BY plant_id")
    if len(df):
        return df
    df = r.df("SELECT plant_id, name, plant_id AS plant_type, NULL AS site_id FROM gold.dim_plants ORDER BY plant_id")
    return _empty(df, ["plant_id", "name", "plant_type", "site_id"])


def latest_kpis(r: Reader) -> pd.DataFrame:
    return r.recent("SELECT * FROM gold.fct_kpis_daily WHERE {recent} QUALIFY row_number() OVER (PARTITION BY plant_id "
                    "ORDER BY kpi_date DESC) = 1", "kpi_date")


def open_events(r: Reader) -> pd.DataFrame:
    """Events still open (no end) that started within :data:`OPEN_EVENT_DAYS`, per plant and kind."""
    since = dt.datetime.combine(r.today() - dt.timedelta(days=OPEN_EVENT_DAYS), dt.time(), dt.UTC)
    return r.df(f"SELECT plant_id, kind, count(*) AS n, max(severity = 'high')::INT AS any_high FROM gold.fct_events "
                f"WHERE end_at IS NULL AND start_at >= {lit(since)} GROUP BY ALL")


def ingest_status(r: Reader) -> pd.DataFrame:
    """Per plant: the newest sensor batch (day, completeness, status) and the mean completeness of its last 7 days."""
    return r.recent("""
        WITH b AS (SELECT * FROM gold.fct_ingest_batches WHERE source = 'sensor' AND {recent}),
             n AS (SELECT plant_id, max(period_date) AS last_day FROM b GROUP BY plant_id)
        SELECT b.plant_id, n.last_day, arg_max(b.completeness, b.period_date) AS last_completeness,
               arg_max(b.status, b.period_date) AS last_status, avg(b.completeness) AS completeness_7d
        FROM b JOIN n USING (plant_id) WHERE b.period_date > n.last_day - 7 GROUP BY ALL""", "period_date")


def newest_readings(r: Reader, since: dt.date) -> pd.DataFrame:
    """Per plant, the newest silver reading on or after ``since`` (historian files and the live stream)."""
    return r.df(f"SELECT plant_id, max(ts) AS newest_ts FROM silver.process__sensor_readings "
                f"WHERE reading_date >= {lit(since)} GROUP BY plant_id", fresh=True)


def pending_writes(r: Reader) -> pd.DataFrame:
    """Per plant, the writes proposed (among the recent ones) and not yet approved or rejected."""
    return r.recent("SELECT plant_id, count(*) AS proposed FROM (SELECT * FROM gold.fct_setpoint_writes WHERE {recent} "
                    "QUALIFY row_number() OVER (PARTITION BY write_id ORDER BY step DESC) = 1) WHERE state = 'proposed' "
                    "GROUP BY ALL", "changed_at", timestamp=True, fresh=True)


def worst_health(r: Reader) -> pd.DataFrame:
    return r.recent("""
        SELECT plant_id, min(rul_p50_days) AS min_rul_p50_days,
               max(CASE status WHEN 'maintenance_due' THEN 3 WHEN 'plan_maintenance' THEN 2 ELSE 0 END) AS health_rank
        FROM (SELECT * FROM gold.fct_asset_health WHERE {recent} QUALIFY row_number() OVER (
              PARTITION BY plant_id, asset, indicator ORDER BY assessed_date DESC) = 1) GROUP BY ALL""", "assessed_date")


def fleet(r: Reader, now: dt.datetime | None = None) -> pd.DataFrame:
    """One row per plant instance: latest KPIs, open events, freshness, completeness, health, pending writes."""
    now = now or dt.datetime.now(dt.UTC)
    out = plants(r)
    if not len(out):
        return out
    batches = ingest_status(r)
    days = [d for d in (batches["last_day"].tolist() if len(batches) else []) if pd.notna(d)]
    since = (min(pd.Timestamp(d).date() for d in days) - dt.timedelta(days=1)) if days else now.date() - dt.timedelta(days=2)
    newest = newest_readings(r, min(since, now.date() - dt.timedelta(days=2)))
    kpis = latest_kpis(r)
    events = open_events(r)
    for part in (batches, newest, pending_writes(r), worst_health(r)):
        if len(part):
            out = out.merge(part, on="plant_id", how="left")
    if len(kpis):
        out = out.merge(kpis[["plant_id", "kpi_date", "product", "product_unit", "product_amount", "operating_profit_usd",
                              "specific_energy_gj_per_unit", "co2e_s12_t", "intensity_s12_t_per_unit"]],
                        on="plant_id", how="left")
    if len(events):
        wide = events.pivot_table(index="plant_id", columns="kind", values="n", aggfunc="sum", fill_value=0)
        wide.columns = [f"open_{c}" for c in wide.columns]
        out = out.merge(wide.reset_index(), on="plant_id", how="left")
        out["open_events"] = out[[c for c in out.columns if c.startswith("open_")]].fillna(0).sum(axis=1).astype(int)
    else:
        out["open_events"] = 0
    if "newest_ts" in out:
        ts = pd.to_datetime(out["newest_ts"], utc=True)
        out["age_h"] = (pd.Timestamp(now) - ts).dt.total_seconds() / 3600.0
    return out


# ----------------------------------------------------------------------------------------- trends


def tags(r: Reader, plant_id: str) -> pd.DataFrame:
    return _empty(r.df(f"SELECT tag, description, unit, unit_operation, range_min, range_max FROM gold.dim_tags "
                       f"WHERE plant_id = {lit(plant_id)} ORDER BY tag"),
                  ["tag", "description", "unit", "unit_operation", "range_min", "range_max"])


def newest_day(r: Reader, plant_id: str) -> dt.date | None:
    """The newest day of the plant in the daily roll-up (small), else in silver."""
    df = r.recent(f"SELECT max(day) AS d FROM gold.fct_tag_daily WHERE plant_id = {lit(plant_id)} AND {{recent}} "
                  f"HAVING max(day) IS NOT NULL", "day")
    if len(df) and pd.notna(df["d"].iloc[0]):
        return pd.Timestamp(df["d"].iloc[0]).date()
    df = r.df(f"SELECT max(reading_date) AS d FROM silver.process__sensor_readings WHERE plant_id = {lit(plant_id)}")
    return pd.Timestamp(df["d"].iloc[0]).date() if len(df) and pd.notna(df["d"].iloc[0]) else None


def newest_reading(r: Reader, plant_id: str, since: dt.date) -> pd.Timestamp | None:
    df = r.df(f"SELECT max(ts) AS ts FROM silver.process__sensor_readings WHERE plant_id = {lit(plant_id)} "
              f"AND reading_date >= {lit(since)}", fresh=True)
    return pd.Timestamp(df["ts"].iloc[0]) if len(df) and pd.notna(df["ts"].iloc[0]) else None


def history(r: Reader, plant_id: str, tag_names: Sequence[str], start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Gold aggregates of the tags in [start, end): hourly up to :data:`HOURLY_MAX_DAYS`, else daily.

    Columns ``tag, t, mean, lo, hi, unit`` (``t`` the start of the hour or day).
    """
    if not tag_names:
        return pd.DataFrame(columns=["tag", "t", "mean", "lo", "hi", "unit"])
    if (end - start) <= dt.timedelta(days=HOURLY_MAX_DAYS):
        sql = (f"SELECT tag, hour_start AS t, twa_value AS mean, min_value AS lo, max_value AS hi, unit "
               f"FROM gold.fct_tag_hourly WHERE plant_id = {lit(plant_id)} AND tag IN {lits(tag_names)} "
               f"AND hour_start >= {lit(start)} AND hour_start < {lit(end)} ORDER BY tag, t")
    else:
        sql = (f"SELECT tag, day::TIMESTAMPTZ AS t, twa_value AS mean, min_value AS lo, max_value AS hi, unit "
               f"FROM gold.fct_tag_daily WHERE plant_id = {lit(plant_id)} AND tag IN {lits(tag_names)} "
               f"AND day >= {lit(start.date())} AND day < {lit(end.date())} ORDER BY tag, t")
    return _empty(r.df(sql), ["tag", "t", "mean", "lo", "hi", "unit"])


def live(r: Reader, plant_id: str, tag_names: Sequence[str], after: dt.datetime) -> pd.DataFrame:
    """Good silver readings of the tags newer than ``after`` (a fresh snapshot: what the stream has committed)."""
    if not tag_names:
        return pd.DataFrame(columns=["tag", "ts", "value"])
    return _empty(r.df(
        f"SELECT tag, ts, value FROM silver.process__sensor_readings WHERE plant_id = {lit(plant_id)} "
        f"AND reading_date >= {lit(after.date())} AND ts > {lit(after)} AND tag IN {lits(tag_names)} "
        f"AND quality = 'good' ORDER BY ts", fresh=True), ["tag", "ts", "value"])


def events(r: Reader, *, plant_id: str | None = None, start: dt.datetime | None = None,
           end: dt.datetime | None = None, kinds: Sequence[str] | None = None, open_only: bool = False,
           limit: int = 500) -> pd.DataFrame:
    """Event frames overlapping [start, end), newest first."""
    where = ["TRUE"]
    if plant_id:
        where.append(f"plant_id = {lit(plant_id)}")
    if end is not None:
        where.append(f"start_at < {lit(end)}")
    if start is not None:
        where.append(f"(end_at IS NULL OR end_at > {lit(start)}) AND start_at >= {lit(start - EVENT_LOOKBACK)}")
    if kinds:
        where.append(f"kind IN {lits(kinds)}")
    if open_only:
        where.append("end_at IS NULL")
    return _empty(r.df(f"SELECT event_id, plant_id, unit, kind, start_at, end_at, duration_h, severity, peak_score, "
                       f"top_tags, detail, detector FROM gold.fct_events WHERE {' AND '.join(where)} "
                       f"ORDER BY start_at DESC LIMIT {int(limit)}"),
                  ["event_id", "plant_id", "unit", "kind", "start_at", "end_at", "duration_h", "severity",
                   "peak_score", "top_tags", "detail", "detector"])


def newest_event_start(r: Reader) -> pd.Timestamp | None:
    df = r.recent("SELECT max(start_at) AS t FROM gold.fct_events WHERE {recent} HAVING max(start_at) IS NOT NULL",
                  "start_at", timestamp=True)
    return pd.Timestamp(df["t"].iloc[0]) if len(df) and pd.notna(df["t"].iloc[0]) else None


def event(r: Reader, event_id: str) -> dict | None:
    df = r.df(f"SELECT * FROM gold.fct_events WHERE event_id = {lit(event_id)}")
    return df.iloc[0].to_dict() if len(df) else None


def top_tags(text: str | None) -> list[tuple[str, float]]:
    """``'tag:share, tag:share'`` -> [(tag, share)]; a tag without a share gets NaN."""
    out: list[tuple[str, float]] = []
    if not isinstance(text, str):  # null (NaN in pandas)
        return out
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        tag, _, share = part.rpartition(":")
        try:
            out.append((tag, float(share)) if tag else (part, float("nan")))
        except ValueError:
            out.append((part, float("nan")))
    return out


# ----------------------------------------------------------------------------------------- health


def asset_health(r: Reader) -> pd.DataFrame:
    """The latest assessment of each (plant, asset, indicator)."""
    return r.recent("SELECT * FROM gold.fct_asset_health WHERE {recent} QUALIFY row_number() OVER (PARTITION BY "
                    "plant_id, asset, indicator ORDER BY assessed_date DESC) = 1 ORDER BY plant_id, asset, indicator",
                    "assessed_date")


def health_history(r: Reader, plant_id: str, asset: str, indicator: str) -> pd.DataFrame:
    return r.df(f"SELECT assessed_date, indicator_value, indicator_std_error, threshold, rul_p10_days, rul_p50_days, "
                f"rul_p90_days, status FROM gold.fct_asset_health WHERE plant_id = {lit(plant_id)} AND asset = "
                f"{lit(asset)} AND indicator = {lit(indicator)} ORDER BY assessed_date")


# -------------------------------------------------------------------------------- recommendations


def recommendations(r: Reader) -> pd.DataFrame:
    """The newest day's recommendations of each plant (the rules in force, scenario ``base``)."""
    return r.recent("SELECT * FROM gold.fct_setpoint_recommendations WHERE scenario_id = 'base' AND {recent} QUALIFY "
                    "dense_rank() OVER (PARTITION BY plant_id ORDER BY recommendation_date DESC) = 1 "
                    "ORDER BY plant_id, setpoint", "recommendation_date")


def writes(r: Reader, limit: int = 200) -> pd.DataFrame:
    """The latest state of each setpoint write, newest first."""
    return r.recent(f"SELECT * FROM gold.fct_setpoint_writes WHERE {{recent}} QUALIFY row_number() OVER (PARTITION BY "
                    f"write_id ORDER BY step DESC) = 1 ORDER BY changed_at DESC, write_id LIMIT {int(limit)}",
                    "changed_at", timestamp=True, fresh=True)


def audit(r: Reader, write_id: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Every state change (the audit trail), of one write or of all, newest first."""
    where = f"write_id = {lit(write_id)}" if write_id else "TRUE"
    return r.recent(f"SELECT write_id, step, state, changed_at, actor, plant_id, tag, from_value, to_value, unit, reason "
                    f"FROM gold.fct_setpoint_writes WHERE {where} AND {{recent}} ORDER BY changed_at DESC, step DESC "
                    f"LIMIT {int(limit)}", "changed_at", timestamp=True, fresh=True)


# ------------------------------------------------------------------------------------------ what-if


def what_if_runs(r: Reader) -> pd.DataFrame:
    return r.df("SELECT * FROM gold.fct_what_if_runs ORDER BY requested_at DESC")


def what_if_series(r: Reader, experiment_id: str) -> pd.DataFrame:
    return r.df(f"SELECT * FROM gold.fct_what_if_timeseries WHERE experiment_id = {lit(experiment_id)} "
                f"ORDER BY elapsed_h", fresh=True)


# ----------------------------------------------------------------------------------- sustainability


def kpi_trend(r: Reader, days: int = 90) -> pd.DataFrame:
    """Daily KPIs of every plant over the ``days`` days up to the newest day with KPIs."""
    newest = latest_kpis(r)
    if not len(newest):
        return newest
    since = pd.Timestamp(newest["kpi_date"].max()).date() - dt.timedelta(days=days - 1)
    return r.df(f"SELECT * FROM gold.fct_kpis_daily WHERE kpi_date >= {lit(since)} ORDER BY plant_id, kpi_date")


def targets(r: Reader) -> pd.DataFrame:
    """Promised against achieved, per plant and KPI, under the default decision policy (scenario ``base``)."""
    from optimization.policy import DEFAULT_POLICY

    return r.df(f"SELECT * FROM gold.v_benefit_targets WHERE scenario_id = 'base' AND policy = {lit(DEFAULT_POLICY)} "
                f"ORDER BY plant_id, kpi")


def report_months(r: Reader) -> pd.DataFrame:
    """Months with reports and how many, newest first."""
    return r.df("SELECT strftime(report_date, '%Y-%m') AS month, count(*) AS n FROM gold.fct_reports GROUP BY ALL "
                "ORDER BY month DESC")


def reports(r: Reader, month: str | None = None) -> pd.DataFrame:
    """The reports of ``month`` (``YYYY-MM``; default the newest month with reports), newest first."""
    cols = ("SELECT report_kind, scenario_id, report_date, path, size_bytes, plants, total_market_tco2e, exceedances, "
            "sections, computed_at FROM gold.fct_reports")
    if month is None:
        newest = r.recent("SELECT max(report_date) AS d FROM gold.fct_reports WHERE {recent} "
                          "HAVING max(report_date) IS NOT NULL", "report_date")
        if not len(newest):
            return pd.DataFrame()
        month = pd.Timestamp(newest["d"].iloc[0]).strftime("%Y-%m")
    first = dt.date.fromisoformat(f"{month}-01")
    after = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return r.df(f"{cols} WHERE report_date >= {lit(first)} AND report_date < {lit(after)} "
                f"ORDER BY report_date DESC, scenario_id")


def compliance(r: Reader) -> pd.DataFrame:
    """The newest day's compliance of each plant with its limits (scenario ``base``)."""
    return r.recent("SELECT * FROM gold.fct_emission_compliance_daily WHERE scenario_id = 'base' AND {recent} QUALIFY "
                    "dense_rank() OVER (PARTITION BY plant_id ORDER BY emission_date DESC) = 1 "
                    "ORDER BY plant_id, pollutant", "emission_date")
