"""The market feed: vendor price files → raw → bronze → silver → gold.

One batch is one **publication date**: the files every vendor published that day (the run for
logical date *D* handles the files published on *D−1*, like the sensor feed). Steps:

1. :func:`land` — each vendor's files of the day go from ``landing/market/<vendor>/`` into raw
   (sha256 manifest; a file already landed is not loaded twice).
2. :func:`load_bronze` — every data line typed into ``bronze.market__price_quotes``, in the
   vendor's own currency and unit.
3. :func:`publish_silver` — Great Expectations validates the rows against the series catalog
   (:data:`models.market.SERIES`: known series, its currency, unit and period, no negative price
   unless the market allows it, within 20× of the series' reference level); failing rows go to
   ``silver.market__price_quarantine`` with the reason. Passing rows are converted to canonical
   units (materials per metric tonne, energy per MWh) and the reporting currency (exchange rate
   of the period's date, or the latest before it, but never one published after the quote), the
   original quote kept, and written to
   ``silver.market__price_history`` (every issue). ``silver.market__prices`` keeps the latest
   issue per (series, period): a vendor's re-issue of a past day replaces the value there and
   stays in the history.
4. :func:`build_gold` — ``gold.fct_prices_daily`` (a price for every calendar day, carried
   forward over days without a quote and flagged) and ``gold.fct_prices_hourly`` (power),
   recomputed from the earliest period the batch touched.

Every step is idempotent for its publication date. Runs of the market DAG go one at a time
(``max_active_runs=1``) because a re-issue changes gold for the days after it.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.historian import _split_lines
from etl.landing import land_files, manifest
from etl.units import registry
from models.market import SERIES, PriceSeries
from nexus.errors import UnparseableFile
from warehouse.lake import CommitMeta, Lake
from warehouse.quality import ROW_ID, expectations, validate_rows
from warehouse.tables import (
    BRONZE_PRICE_QUOTES,
    FCT_INGEST_BATCHES,
    FCT_PRICES_DAILY,
    FCT_PRICES_HOURLY,
    RAW_FILES,
    SILVER_PRICE_HISTORY,
    SILVER_PRICE_QUARANTINE,
    SILVER_PRICES,
)

log = logging.getLogger(__name__)
SOURCE = "market"
HEADER = ("series_id", "period_start", "period", "value", "currency", "unit", "issued_at")
PERIODS = {"daily": "P1D", "monthly": "P1D", "hourly": "PT1H"}
#: Canonical quantity unit of a price by what is priced; everything else is per metric tonne.
CANONICAL_UNIT = {"electricity": "MWh", "natural_gas": "MWh"}
#: Units pint does not know by the name vendors use.
_UNIT_ALIASES = {"MMBtu": "1e6 * Btu_it", "ton": "short_ton", "t": "metric_ton", "gal": "US_liquid_gallon"}
#: Lowest price a row may carry where the market allows negative prices (EPEX/Nord Pool floor).
NEGATIVE_FLOOR = -500.0
PLAUSIBILITY_FACTOR = 20.0

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_WITH_ZONE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")


@dataclass(frozen=True)
class Batch:
    """Publication dates ``day`` to ``last`` (inclusive; default one day), all vendors.

    The DAG processes one day per run; a bulk load of history (``nexus load-market``) takes a
    month at a time, which writes the same rows with far fewer commits.
    """

    day: dt.date
    last: dt.date | None = None

    def __post_init__(self) -> None:
        if self.last is not None and self.last < self.day:
            raise ValueError(f"batch ends ({self.last}) before it starts ({self.day})")

    @property
    def end_day(self) -> dt.date:
        return self.last or self.day

    @property
    def days(self) -> list[dt.date]:
        return [self.day + dt.timedelta(days=i) for i in range((self.end_day - self.day).days + 1)]

    @property
    def stop(self) -> dt.date:
        """The day after the batch (exclusive end)."""
        return self.end_day + dt.timedelta(days=1)

    @classmethod
    def from_interval(cls, start: dt.datetime, end: dt.datetime) -> Batch:
        """The last whole UTC day before ``end`` (see :meth:`etl.sensor.Batch.from_interval`)."""
        if not start < end:
            raise ValueError(f"empty data interval [{start}, {end})")
        return cls((end.astimezone(dt.timezone.utc) - dt.timedelta(days=1)).date())


def catalog() -> dict[str, PriceSeries]:
    return {s.series_id: s for s in SERIES}


# ------------------------------------------------------------------------------ conversions
def canonical_unit(series: PriceSeries) -> str:
    """Canonical quantity unit of a series: MWh for energy, t for materials, the quote unit for FX."""
    if series.item.startswith("fx_"):
        return series.unit
    return CANONICAL_UNIT.get(series.item, "t")


@functools.cache
def quantity_factor(unit: str, canonical: str, density_kg_m3: float | None = None) -> float:
    """How many ``unit`` make one ``canonical`` unit (so price per canonical = price per unit × factor).

    Volume-quoted materials convert to mass through ``density_kg_m3``.

    >>> round(quantity_factor("gal", "t", 789.0), 2)   # US gallons of ethanol in a metric tonne
    334.82
    >>> round(quantity_factor("MMBtu", "MWh"), 6)
    3.412142
    """
    if unit == canonical:
        return 1.0
    ureg = registry()
    one = ureg.parse_expression(_UNIT_ALIASES.get(canonical, canonical)) * 1.0
    target = ureg.parse_expression(_UNIT_ALIASES.get(unit, unit)) * 1.0
    if one.dimensionality != target.dimensionality:
        if density_kg_m3 is None:
            raise ValueError(f"cannot convert {canonical} to {unit} without a density")
        density = ureg.Quantity(density_kg_m3, "kg/m**3")
        one = one / density if one.check("[mass]") else one * density
    return float((one / target).to("dimensionless").magnitude)


def fx_rates(prices: pd.DataFrame, currency: str, reporting: str) -> pd.DataFrame:
    """Daily exchange rates (``reporting`` per ``currency``) from FX price rows.

    ``prices`` has columns ``series_id, period_start, value_original`` for FX series of the
    catalog (currency per unit-currency, e.g. ``ecb.usd_per_eur`` = USD per EUR). Returns
    ``fx_date, rate`` sorted by date.
    """
    cat = catalog()
    for sid, s in cat.items():
        if not s.item.startswith("fx_"):
            continue
        if (s.currency, s.unit) in ((reporting, currency), (currency, reporting)):
            rows = prices[prices["series_id"] == sid]
            rate = rows["value_original"].astype(float)
            if s.currency == currency:  # quoted the other way round
                rate = 1.0 / rate
            return (pd.DataFrame({"fx_date": pd.to_datetime(rows["period_start"], utc=True).dt.date, "rate": rate})
                    .dropna().sort_values("fx_date").drop_duplicates("fx_date", keep="last").reset_index(drop=True))
    return pd.DataFrame({"fx_date": pd.Series([], dtype=object), "rate": pd.Series([], dtype=float)})


# ----------------------------------------------------------------------------------------- raw
def inbox_vendors(landing_dir: Path) -> list[str]:
    folder = landing_dir / SOURCE
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def land(lake: Lake, landing_dir: Path, batch: Batch, meta: CommitMeta) -> dict[str, Any]:
    """Land every vendor's files of the publication date into raw."""
    reports: dict[str, dict[str, list[str]]] = {}
    for vendor in inbox_vendors(landing_dir):
        report = land_files(lake, landing_dir, source=SOURCE, plant_id=vendor, day=batch.day, last_day=batch.end_day,
                            meta=meta)
        reports[vendor] = {k: v for k, v in report.as_dict().items() if v}
    return reports


# -------------------------------------------------------------------------------------- bronze
def parse_price_csv(content: bytes, *, vendor: str, publication_date: dt.date, source_file: str, sha256: str,
                    ingested_at: dt.datetime, run_id: str) -> pa.Table:
    """Type every data line of one vendor file as a bronze row.

    A date (``2026-03-02``) in ``period_start`` means that UTC day; timestamps must carry an
    offset. ``issued_at`` must carry an offset.

    Raises:
        UnparseableFile: not UTF-8 text, or the header is not ``series_id,period_start,...``.
    """
    lines = _split_lines(content, source_file)
    if lines:
        header = tuple(h.strip().lower() for h in next(csv.reader([lines[0]])))
        if header != HEADER:
            raise UnparseableFile(f"{source_file}: header must be {','.join(HEADER)!r}, found {lines[0][:80]!r}")
    raw = lines[1:]
    rows: list[dict[str, Any]] = []
    for i, fields in enumerate(csv.reader(raw)):
        row: dict[str, Any] = dict.fromkeys(HEADER)
        error = None
        if len(fields) != len(HEADER):
            error = f"malformed line: expected {len(HEADER)} fields ({','.join(HEADER)}), found {len(fields)}"
        else:
            sid, start, period, value, currency, unit, issued = (f.strip() for f in fields)
            row.update(series_id=sid or None, period=period or None, currency=currency or None, unit=unit or None)
            if _DATE.match(start):
                try:
                    row["period_start"] = dt.datetime.combine(dt.date.fromisoformat(start), dt.time(), dt.timezone.utc)
                except ValueError:
                    error = f"period_start {start!r} is not a valid date"
            elif _ISO_WITH_ZONE.match(start):
                try:
                    row["period_start"] = dt.datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
                except ValueError:
                    error = f"period_start {start!r} is not a valid date and time"
            else:
                error = f"period_start {start!r} must be a date (YYYY-MM-DD) or an ISO 8601 time with a UTC offset"
            if error is None and value:
                try:
                    number = float(value)
                except ValueError:
                    number = float("nan")
                if not np.isfinite(number):
                    error = f"value {value!r} is not a finite number"
                else:
                    row["value"] = number
            if error is None:
                if _ISO_WITH_ZONE.match(issued):
                    try:
                        row["issued_at"] = dt.datetime.fromisoformat(issued.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
                    except ValueError:
                        error = f"issued_at {issued!r} is not a valid date and time"
                else:
                    error = f"issued_at {issued!r} must be an ISO 8601 time with a UTC offset"
        if error is not None:
            row = dict.fromkeys(HEADER)
        rows.append({**row, "vendor": vendor, "publication_date": publication_date, "_raw_line": raw[i],
                     "_parse_error": error, "_source_file": source_file, "_source_sha256": sha256,
                     "_line_number": i + 2, "_ingested_at": ingested_at, "_run_id": run_id})
    return pa.Table.from_pylist(rows, schema=BRONZE_PRICE_QUOTES.schema)


def load_bronze(lake: Lake, batch: Batch, meta: CommitMeta) -> dict[str, Any]:
    """Parse every landed vendor file of the batch and replace the batch's bronze rows (per vendor)."""
    now = dt.datetime.now(dt.timezone.utc)
    out: dict[str, Any] = {}
    files_all = manifest(lake, source=SOURCE)
    in_batch = files_all.filter(pc.and_(pc.greater_equal(files_all["period_date"], pa.scalar(batch.day, pa.date32())),
                                        pc.less(files_all["period_date"], pa.scalar(batch.stop, pa.date32()))))
    vendors = sorted(set(in_batch["plant_id"].to_pylist()) - {None})
    for vendor in vendors:
        files = _files_to_load(in_batch, vendor)
        parts, updates, rejected = [], [], []
        for row in files.to_pylist():
            content = (Path(lake.root) / row["raw_path"]).read_bytes()
            try:
                table = parse_price_csv(content, vendor=vendor, publication_date=row["period_date"], source_file=row["raw_path"],
                                        sha256=row["sha256"], ingested_at=now, run_id=meta.run_id)
            except UnparseableFile as exc:
                log.warning("rejected %s: %s", row["file_name"], exc)
                rejected.append(row["file_name"])
                updates.append({**row, "status": "rejected", "reason": str(exc), "rows_loaded": 0, "_run_id": meta.run_id})
                continue
            parts.append(table)
            updates.append({**row, "status": "loaded", "reason": None, "rows_loaded": table.num_rows, "_run_id": meta.run_id})
        bronze = pa.concat_tables(parts) if parts else BRONZE_PRICE_QUOTES.schema.empty_table()
        lake.replace_interval(BRONZE_PRICE_QUOTES, bronze, start=batch.day, end=batch.stop, where={"vendor": vendor},
                              column="publication_date", meta=meta)
        if updates:
            lake.upsert(RAW_FILES, pa.Table.from_pylist(updates, schema=RAW_FILES.schema), meta=meta)
        errors = int(pc.sum(pc.is_valid(bronze["_parse_error"])).as_py() or 0) if bronze.num_rows else 0
        out[vendor] = {"files": len(parts), "rejected_files": rejected, "rows": bronze.num_rows, "parse_errors": errors}
    return out


def _files_to_load(rows: pa.Table, vendor: str) -> pa.Table:
    keep = pc.and_(pc.equal(rows["plant_id"], vendor), pc.is_in(rows["status"], pa.array(["landed", "loaded"])))
    return rows.filter(keep).sort_by([("period_date", "ascending"), ("received_at", "ascending"), ("file_name", "ascending")])


# -------------------------------------------------------------------------------------- silver
def price_suite() -> list[Any]:
    """Great Expectations suite of a market batch (rows joined with the series catalog)."""
    gxe = expectations()
    cat = catalog()
    suite = [gxe.ExpectColumnValuesToBeInSet(
        column="series_id", value_set=sorted(cat),
        meta={"rule": "known_series", "reason": "series_id must be in the market series catalog"})]
    for col, what in (("value", "a price"), ("period_start", "a period start"), ("issued_at", "an issue time")):
        suite.append(gxe.ExpectColumnValuesToNotBeNull(column=col, meta={"rule": f"{col}_present", "reason": f"a quote must have {what}"}))
    for col, expected in (("currency", "expected_currency"), ("unit", "expected_unit"), ("period", "expected_period")):
        suite.append(gxe.ExpectColumnPairValuesToBeEqual(
            column_A=col, column_B=expected, ignore_row_if="either_value_is_missing",
            meta={"rule": f"{col}_matches_contract", "reason": f"the quote's {col} must match the series contract",
                  "row_reason": "{series_id} is quoted in {expected_currency}/{expected_unit} per {expected_period}; "
                                "found {currency}/{unit} per {period}"}))
    suite.append(gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="value", column_B="floor", or_equal=True, ignore_row_if="either_value_is_missing",
        meta={"rule": "price_floor", "reason": "a price must not be below the market's floor",
              "row_reason": "{series_id} must not be below {floor:g} {currency}/{unit}; found {value!r}"}))
    suite.append(gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="ceiling", column_B="value", or_equal=True, ignore_row_if="either_value_is_missing",
        meta={"rule": "plausible_level", "reason": f"a price must be within {PLAUSIBILITY_FACTOR:g}x of the series' reference level",
              "row_reason": "{series_id} = {value!r} {currency}/{unit} is more than "
                            f"{PLAUSIBILITY_FACTOR:g}x its reference level {{reference:g}} (fat finger or wrong unit?)"}))
    return suite


def _candidates(bronze: pd.DataFrame) -> pd.DataFrame:
    cat = catalog()

    def attr(name, fn):
        return bronze["series_id"].map(lambda s: fn(cat[s]) if s in cat else None)

    cand = bronze[["series_id", "period_start", "period", "value", "currency", "unit", "issued_at"]].copy()
    cand[ROW_ID] = bronze[ROW_ID]
    cand["expected_currency"] = attr("currency", lambda s: s.currency)
    cand["expected_unit"] = attr("unit", lambda s: s.unit)
    cand["expected_period"] = attr("period", lambda s: PERIODS[s.frequency])
    cand["reference"] = attr("reference", lambda s: s.reference).astype(float)
    cand["floor"] = attr("floor", lambda s: NEGATIVE_FLOOR if s.allow_negative else 0.0).astype(float)
    cand["ceiling"] = cand["reference"] * PLAUSIBILITY_FACTOR
    return cand


def _convert(good: pd.DataFrame, fx_source: pd.DataFrame, reporting: str) -> tuple[pd.DataFrame, dict[int, str]]:
    """Canonical units and reporting currency; returns converted rows and row id → reason for failures."""
    cat = catalog()
    failed: dict[int, str] = {}
    out = good.copy()
    out["period_date"] = out["period_start"].dt.tz_convert("UTC").dt.date
    out["item"] = out["series_id"].map(lambda s: cat[s].item)
    out["region"] = out["series_id"].map(lambda s: cat[s].region)
    canon = out["series_id"].map(lambda s: canonical_unit(cat[s]))
    factor = [quantity_factor(cat[s].unit, c, cat[s].density_kg_m3) for s, c in zip(out["series_id"], canon)]
    out["fx_rate"] = 1.0
    out["fx_date"] = None
    is_fx = out["item"].str.startswith("fx_")
    for currency in sorted(set(out.loc[~is_fx, "currency"]) - {reporting}):
        rates = fx_rates(fx_source, currency, reporting)
        idx = out.index[(out["currency"] == currency) & ~is_fx]
        if rates.empty:
            for rid in out.loc[idx, ROW_ID]:
                failed[int(rid)] = f"no {currency}->{reporting} exchange rate series in the catalog or no rate loaded yet"
            continue
        dates = np.array(rates["fx_date"].tolist(), dtype="datetime64[D]")
        # The rate of the period's date, but never one published after the quote itself: a day-ahead
        # price published on D for D+1 converts at D's rate, however the days are batched.
        wanted = np.minimum(np.array(out.loc[idx, "period_date"].tolist(), dtype="datetime64[D]"),
                            np.array(out.loc[idx, "publication_date"].tolist(), dtype="datetime64[D]"))
        pos = np.searchsorted(dates, wanted, side="right") - 1
        for j, (i, p) in enumerate(zip(idx, pos)):
            if p < 0:
                failed[int(out.at[i, ROW_ID])] = (f"no {currency}->{reporting} exchange rate on or before "
                                                   f"{wanted[j]} (load the rates first)")
            else:
                out.at[i, "fx_rate"] = float(rates["rate"].iat[p])
                out.at[i, "fx_date"] = rates["fx_date"].iat[p]
    out["price"] = out["value"].astype(float) * np.asarray(factor) * out["fx_rate"]
    out["unit_original"] = out["currency"] + "/" + out["unit"]
    out["price_unit"] = np.where(is_fx, out["unit_original"], reporting + "/" + canon)
    out.loc[is_fx, "price"] = out.loc[is_fx, "value"]
    return out[~out[ROW_ID].isin(failed)], failed


def publish_silver(lake: Lake, batch: Batch, meta: CommitMeta, *, reporting_currency: str = "USD") -> dict[str, Any]:
    """Validate the batch's bronze quotes; publish history and latest prices, quarantine the rest."""
    bronze = (lake.dataset(BRONZE_PRICE_QUOTES).to_table(filter=(pc.field("publication_date") >= pa.scalar(batch.day, pa.date32()))
                                                         & (pc.field("publication_date") < pa.scalar(batch.stop, pa.date32())))
              if lake.exists(BRONZE_PRICE_QUOTES) else BRONZE_PRICE_QUOTES.schema.empty_table()).to_pandas()
    bronze[ROW_ID] = np.arange(len(bronze))
    parse_failed = bronze["_parse_error"].notna()
    reasons: dict[int, list[tuple[str, str]]] = {
        int(i): [("parse", e)] for i, e in zip(bronze.loc[parse_failed, ROW_ID], bronze.loc[parse_failed, "_parse_error"])}
    cand = _candidates(bronze.loc[~parse_failed])
    result = validate_rows(cand, price_suite(), name=f"{SILVER_PRICES.name}:{batch.day}")
    reasons.update(result.failed)

    valid = cand[~cand[ROW_ID].isin(reasons)].merge(
        bronze[[ROW_ID, "vendor", "publication_date", "_source_file", "_line_number"]], on=ROW_ID)
    # Exchange rates: what silver already has plus this batch's own rates.
    fx_ids = [s.series_id for s in SERIES if s.item.startswith("fx_")]
    known_fx = lake.read(SILVER_PRICES, columns=["series_id", "period_start", "value_original"]).to_pandas() \
        if lake.exists(SILVER_PRICES) else pd.DataFrame(columns=["series_id", "period_start", "value_original"])
    batch_fx = valid[valid["series_id"].isin(fx_ids)].sort_values("issued_at")[["series_id", "period_start", "value"]]
    fx_source = pd.concat([known_fx[known_fx["series_id"].isin(fx_ids)],
                           batch_fx.rename(columns={"value": "value_original"})], ignore_index=True)
    converted, fx_failed = _convert(valid, fx_source, reporting_currency)
    for rid, why in fx_failed.items():
        reasons[rid] = [("fx_rate", why)]

    # Quarantine: one row per failing bronze row.
    bad = bronze[bronze[ROW_ID].isin(reasons)]
    now = pd.Timestamp.now(tz="UTC")
    quarantine = pd.DataFrame({
        "vendor": bad["vendor"], "publication_date": bad["publication_date"], "series_id": bad["series_id"],
        "period_start": bad["period_start"], "value": bad["value"],
        "rule": [reasons[i][0][0] for i in bad[ROW_ID]],
        "reason": ["; ".join(r for _, r in reasons[i]) for i in bad[ROW_ID]],
        "_raw_line": bad["_raw_line"], "_source_file": bad["_source_file"], "_line_number": bad["_line_number"],
        "_quarantined_at": now, "_run_id": meta.run_id,
    })

    # History: every issue once (a repeated line of the same issue is a duplicate).
    converted = converted.sort_values(["issued_at", "_source_file", "_line_number"], kind="stable")
    before = len(converted)
    converted = converted.drop_duplicates(["series_id", "period_start", "issued_at"], keep="last")
    duplicates = before - len(converted)
    history = pd.DataFrame({
        "series_id": converted["series_id"], "item": converted["item"], "region": converted["region"],
        "period_start": converted["period_start"], "period": converted["period"], "price": converted["price"],
        "unit": converted["price_unit"], "value_original": converted["value"],
        "unit_original": converted["unit_original"], "fx_rate": converted["fx_rate"], "fx_date": converted["fx_date"],
        "issued_at": converted["issued_at"], "publication_date": converted["publication_date"],
        "_source_file": converted["_source_file"], "_line_number": converted["_line_number"], "_run_id": meta.run_id,
    })
    for spec, rows in ((SILVER_PRICE_HISTORY, history), (SILVER_PRICE_QUARANTINE, quarantine)):
        lake.replace_interval(spec, rows, start=batch.day, end=batch.stop, column="publication_date", meta=meta)

    latest = _latest(lake, history)
    if not latest.empty:
        lake.upsert(SILVER_PRICES, latest, meta=meta)

    # Row accounting per vendor and publication day.
    files = manifest(lake, source=SOURCE).to_pandas()
    audits = []
    for (vendor, day), rows in bronze.groupby(["vendor", "publication_date"], sort=True):
        status = files.loc[(files["plant_id"] == vendor) & (files["period_date"] == day), "status"].tolist()
        n_bad = int(((quarantine["vendor"] == vendor) & (quarantine["publication_date"] == day)).sum())
        n_hist = int(history["_source_file"].isin(rows["_source_file"]).sum())
        audits.append({"source": SOURCE, "plant_id": vendor, "period_date": day,
                       "files_landed": status.count("loaded"), "files_duplicate": status.count("duplicate"),
                       "files_rejected": status.count("rejected"), "bronze_rows": len(rows), "silver_rows": n_hist,
                       "quarantined_rows": n_bad, "duplicates_removed": len(rows) - n_hist - n_bad,
                       "dag_id": meta.dag_id, "run_id": meta.run_id, "completed_at": now.to_pydatetime()})
    if audits:
        lake.upsert(FCT_INGEST_BATCHES, pa.Table.from_pylist(audits, schema=FCT_INGEST_BATCHES.schema), meta=meta)
    rules = quarantine["rule"].value_counts().to_dict()
    reissued = int((latest["revision_count"] > 1).sum()) if not latest.empty else 0
    figures = {"bronze_rows": len(bronze), "silver_rows": len(history), "quarantined_rows": len(quarantine),
               "duplicates_removed": duplicates, "reissued_periods": reissued, "quarantine_rules": rules,
               "first_period": str(history["period_start"].min().date()) if len(history) else None}
    log.info("market silver %s: %s", batch.day, figures)
    return figures


def _latest(lake: Lake, history: pd.DataFrame) -> pd.DataFrame:
    """Latest issue (and issue count) of every (series, period) the batch touched."""
    if history.empty:
        return pd.DataFrame()
    keys = history[["series_id", "period_start"]].drop_duplicates()
    lo = history["period_start"].min().to_pydatetime()
    # Every issue of a period is published at most a day before it (day-ahead auctions), so the
    # publication-date partitions before that cannot hold one: prune them.
    first_pub = lo.date() - dt.timedelta(days=1)
    full = lake.dataset(SILVER_PRICE_HISTORY).to_table(
        filter=(pc.field("publication_date") >= pa.scalar(first_pub, pa.date32()))
        & (pc.field("period_start") >= pa.scalar(lo, SILVER_PRICE_HISTORY.schema.field("period_start").type))
        ).to_pandas()
    full = full.merge(keys, on=["series_id", "period_start"])
    full = full.sort_values(["issued_at", "publication_date", "_source_file", "_line_number"], kind="stable")
    counts = full.groupby(["series_id", "period_start"]).size().rename("revision_count").reset_index()
    latest = full.drop_duplicates(["series_id", "period_start"], keep="last").merge(counts, on=["series_id", "period_start"])
    return latest[SILVER_PRICES.column_names]


# ---------------------------------------------------------------------------------------- gold
def daily_prices(latest: pd.DataFrame, until: dt.date) -> pd.DataFrame:
    """A price per series and calendar day up to ``until`` (inclusive) from the latest quotes.

    Daily/monthly quotes are carried forward over days without one; hourly series are averaged
    over each UTC day (baseload) and carried forward over days without any hour.
    """
    frames = []
    for sid, rows in latest.groupby("series_id", sort=True):
        rows = rows.assign(price_date=rows["period_start"].dt.tz_convert("UTC").dt.date)
        hourly = (rows["period"] == "PT1H").any()
        if hourly:
            obs = rows.groupby("price_date").agg(price=("price", "mean"), value_original=("value_original", "mean"),
                                                 hours=("price", "size"), revision_count=("revision_count", "max"))
        else:
            obs = rows.sort_values("period_start").groupby("price_date").agg(
                price=("price", "last"), value_original=("value_original", "last"), revision_count=("revision_count", "max"))
        first = min(obs.index)
        last = max(until, max(obs.index))
        calendar = pd.Index([first + dt.timedelta(days=i) for i in range((last - first).days + 1)], name="price_date")
        obs["observed_date"] = obs.index
        full = obs.reindex(calendar)
        full["is_filled"] = full["price"].isna()
        full = full.ffill()
        full["hours"] = full["hours"].where(~full["is_filled"], 0).astype("Int32") if hourly else pd.NA
        meta = rows.iloc[0]
        full = full.reset_index().assign(series_id=sid, item=meta["item"], region=meta["region"], unit=meta["unit"],
                                         unit_original=meta["unit_original"])
        frames.append(full)
    if not frames:
        return FCT_PRICES_DAILY.schema.empty_table().to_pandas()
    out = pd.concat(frames, ignore_index=True)
    out["hours"] = out["hours"].astype("Int32")
    out["revision_count"] = out["revision_count"].astype(int)
    return out[FCT_PRICES_DAILY.column_names]


def build_gold(lake: Lake, batch: Batch, meta: CommitMeta, *, since: dt.date | None = None) -> dict[str, Any]:
    """Recompute gold prices from ``since`` (the earliest period the batch touched) onwards."""
    if not lake.exists(SILVER_PRICES):
        return {"daily_rows": 0, "hourly_rows": 0}
    latest = lake.read(SILVER_PRICES).to_pandas()
    if latest.empty:
        return {"daily_rows": 0, "hourly_rows": 0}
    start = since or batch.day
    # Fill every series up to the latest day any series has reached (or the batch's day), so a
    # rerun of an earlier day reproduces the rows later runs wrote.
    until = max(batch.end_day, latest["period_start"].max().date())
    daily = daily_prices(latest, until=until)
    daily = daily[daily["price_date"] >= start]
    end = max(daily["price_date"]) + dt.timedelta(days=1) if len(daily) else start + dt.timedelta(days=1)
    lake.replace_interval(FCT_PRICES_DAILY, daily, start=start, end=max(end, start + dt.timedelta(days=1)), meta=meta)

    hourly = latest[latest["period"] == "PT1H"].rename(columns={"period_start": "hour_start"})
    t0 = dt.datetime.combine(start, dt.time(), dt.timezone.utc)
    hourly = hourly[hourly["hour_start"] >= pd.Timestamp(t0)]
    hourly_rows = 0
    if len(hourly):
        t1 = hourly["hour_start"].max().to_pydatetime() + dt.timedelta(hours=1)
        hourly_rows = lake.replace_interval(FCT_PRICES_HOURLY, hourly[FCT_PRICES_HOURLY.column_names], start=t0,
                                           end=t1, meta=meta)
    return {"daily_rows": len(daily), "hourly_rows": hourly_rows, "since": str(start)}


def run_batch(lake: Lake, landing_dir: Path, batch: Batch, meta: CommitMeta, *, reporting_currency: str = "USD") -> dict[str, Any]:
    """All steps of one publication date in order (what the DAG does)."""
    landed = land(lake, landing_dir, batch, meta)
    bronze = load_bronze(lake, batch, meta)
    silver = publish_silver(lake, batch, meta, reporting_currency=reporting_currency)
    since = dt.date.fromisoformat(silver["first_period"]) if silver["first_period"] else batch.day
    gold = build_gold(lake, batch, meta, since=min(since, batch.day))
    return {"land": landed, "bronze": bronze, "silver": silver, "gold": gold}


def load_history(lake: Lake, landing_dir: Path, start: dt.date, end: dt.date, meta: CommitMeta, *,
                 chunk_days: int = 31, reporting_currency: str = "USD") -> dict[str, Any]:
    """Bulk-load the files published on ``[start, end)`` in chunks of ``chunk_days`` (the initial history load).

    Gives the same silver and gold as running the DAG day by day, with a few commits per chunk
    instead of per day.
    """
    totals = {"chunks": 0, "bronze_rows": 0, "silver_rows": 0, "quarantined_rows": 0}
    day = start
    while day < end:
        last = min(day + dt.timedelta(days=chunk_days - 1), end - dt.timedelta(days=1))
        out = run_batch(lake, landing_dir, Batch(day, last), meta, reporting_currency=reporting_currency)
        totals["chunks"] += 1
        for k in ("bronze_rows", "silver_rows", "quarantined_rows"):
            totals[k] += out["silver"][k]
        day = last + dt.timedelta(days=1)
    return totals
