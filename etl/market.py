"""The market feed: vendor price files → raw → bronze → silver → gold.

One batch is one **publication date**: the files every vendor published that day (the run for
logical date *D* handles the files published on *D−1*, like the sensor feed). Steps:

1. :func:`land` — each vendor's files of the day go from ``landing/market/<vendor>/`` into raw
   (sha256 manifest; a file already landed is not loaded twice). A misnamed file, or one named
   for another vendor, is kept in raw as ``rejected`` on the day of the run that received it.
2. :func:`load_bronze` — every data line typed into ``bronze.market__price_quotes``, in the
   vendor's own currency and unit (a ``.csv.gz`` file is decompressed). Lines are decoded and split one by one: a line that is not
   UTF-8 or not valid CSV (a field over 128 KiB) becomes a row with a parse error; a file that
   cannot be read is ``rejected`` with the reason and the files after it still load; a file
   without a data line is ``empty``.
3. :func:`publish_silver` — write-audit-publish. Great Expectations validates the rows against
   the series catalog (:data:`models.market.SERIES`: known series, from its own vendor, its
   currency, unit and period, no negative price unless the market allows it, an exchange rate
   above 0, within 20× of the series' reference level). Identical repeats of one issue (series,
   period, ``issued_at``) are counted as duplicates; different values for one issue are all
   quarantined as a conflict. Passing rows are converted to canonical units (materials per
   metric tonne, energy per MWh) and the reporting currency (exchange rate of the period's date,
   or the latest before it, but never one published after the quote; a price whose rate was
   delivered but quarantined waits instead of taking an older one), the original quote kept.
   Only when every row of every vendor-day is accounted for (bronze = silver + quarantine +
   duplicates, checked, not derived) is anything written: ``silver.market__price_history``
   (every issue), ``silver.market__price_quarantine`` (rule and reason), ``silver.market__prices``
   (the latest issue per (series, period): a vendor's re-issue of a past day replaces the value
   there and stays in the history) and ``gold.fct_ingest_batches`` (every file that arrived and
   where every row went, per vendor and publication day).
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

from etl.historian import decompress
from etl.landing import land_files, manifest
from etl.units import registry
from models.market import SERIES, PriceSeries
from nexus.errors import ContractViolation, UnparseableFile
from warehouse import storage
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

    ``prices`` has columns ``series_id, period_start, value_original`` (and optionally
    ``problem``) for FX series of the catalog (currency per unit-currency, e.g.
    ``ecb.usd_per_eur`` = USD per EUR). Returns ``fx_date, rate, problem`` sorted by date, the
    last row of a date winning. A quote that is not a positive finite number gives a NaN rate
    with the problem said: a price of that date must not silently take another day's rate.
    """
    cat = catalog()
    for sid, s in cat.items():
        if not s.item.startswith("fx_"):
            continue
        if (s.currency, s.unit) in ((reporting, currency), (currency, reporting)):
            rows = prices[prices["series_id"] == sid]
            quoted = pd.to_numeric(rows["value_original"], errors="coerce").astype(float)
            usable = np.isfinite(quoted) & (quoted > 0)
            rate = quoted.where(usable)
            if s.currency == currency:  # quoted the other way round
                rate = 1.0 / rate
            given = rows["problem"] if "problem" in rows else pd.Series(None, index=rows.index, dtype=object)
            problem = given.where(given.notna() | usable, "rate " + quoted.astype(str) + " is not a positive finite number")
            out = pd.DataFrame({"fx_date": pd.to_datetime(rows["period_start"], utc=True).dt.date, "rate": rate,
                                "problem": problem.where(~usable | given.notna(), None)})
            return (out.dropna(subset=["fx_date"]).sort_values("fx_date", kind="stable")
                    .drop_duplicates("fx_date", keep="last").reset_index(drop=True))
    return pd.DataFrame({"fx_date": pd.Series([], dtype=object), "rate": pd.Series([], dtype=float),
                         "problem": pd.Series([], dtype=object)})


# ----------------------------------------------------------------------------------------- raw
def inbox_vendors(landing_dir: str | Path) -> list[str]:
    return storage.folder(landing_dir).sub(SOURCE).folders()


def land(lake: Lake, landing_dir: str | Path, batch: Batch, meta: CommitMeta) -> dict[str, Any]:
    """Land every vendor's files of the publication date into raw.

    A misnamed file, or one named for another vendor, is kept in raw as ``rejected`` with the
    reason and booked on the batch's first day (:func:`etl.landing.land_files`), so every file
    that arrives is counted.
    """
    reports: dict[str, dict[str, list[str]]] = {}
    for vendor in inbox_vendors(landing_dir):
        report = land_files(lake, landing_dir, source=SOURCE, plant_id=vendor, day=batch.day, last_day=batch.end_day,
                            meta=meta)
        reports[vendor] = {k: v for k, v in report.as_dict().items() if v}
    return reports


# -------------------------------------------------------------------------------------- bronze
_BOM = b"\xef\xbb\xbf"


def _split_raw_lines(content: bytes) -> list[bytes]:
    """Data lines as bytes (``\\n``, ``\\r\\n`` or ``\\r`` ends a line), without a BOM or trailing blank lines.

    Lines are decoded one by one, so one undecodable byte costs its line, not the file.
    """
    lines = content.removeprefix(_BOM).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()  # trailing blank lines are formatting, not data
    return lines


def _csv_fields(text: str) -> list[str]:
    """The fields of one CSV line; raises :class:`csv.Error` for a malformed line (e.g. a field over 128 KiB)."""
    return next(csv.reader([text], strict=True), [])


def parse_price_csv(content: bytes, *, vendor: str, publication_date: dt.date, source_file: str, sha256: str,
                    ingested_at: dt.datetime, run_id: str) -> pa.Table:
    """Type every data line of one vendor file as a bronze row.

    A date (``2026-03-02``) in ``period_start`` means that UTC day; timestamps must carry an
    offset. ``issued_at`` must carry an offset. Each line is decoded and split on its own: a line
    that is not UTF-8, is not valid CSV (unbalanced quotes, a field over :func:`csv.field_size_limit`)
    or does not type keeps its text in ``_raw_line`` and says why, with its line number, in
    ``_parse_error``; the other lines load. Fields that did type are kept on such a row (the
    quarantine shows which series and period a bad value belonged to). A file with no data line
    (0 bytes or a header only) gives an empty table.

    Raises:
        UnparseableFile: the header line is not UTF-8 or not ``series_id,period_start,...``.
    """
    lines = _split_raw_lines(content)
    if lines:
        try:
            header_text = lines[0].decode("utf-8")
            header = tuple(h.strip().lower() for h in _csv_fields(header_text))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise UnparseableFile(f"{source_file} line 1: the header is not a UTF-8 CSV line ({exc})") from None
        if header != HEADER:
            raise UnparseableFile(f"{source_file} line 1: header must be {','.join(HEADER)!r}, found {header_text[:80]!r}")
    rows: list[dict[str, Any]] = []
    for number, raw_bytes in enumerate(lines[1:], start=2):
        row: dict[str, Any] = dict.fromkeys(HEADER)
        error = None
        text = raw_bytes.decode("utf-8", errors="backslashreplace")
        try:
            raw_bytes.decode("utf-8")
            fields = _csv_fields(text)
        except UnicodeDecodeError as exc:
            error = f"line {number}: not UTF-8 text (byte 0x{raw_bytes[exc.start]:02x} at column {exc.start + 1})"
        except csv.Error as exc:
            error = f"line {number}: malformed CSV ({exc}; {len(raw_bytes)} bytes)"
        if error is None and "\x00" in text:
            error = f"line {number}: binary content (NUL byte), not a CSV line"
        if error is None and len(fields) != len(HEADER):
            error = (f"malformed line: expected {len(HEADER)} fields ({','.join(HEADER)}), found {len(fields)}"
                     if text.strip() else "malformed line: empty line inside the file")
        if error is None:
            error = _type_fields(row, [f.strip() for f in fields])
        rows.append({**row, "vendor": vendor, "publication_date": publication_date, "_raw_line": text,
                     "_parse_error": error, "_source_file": source_file, "_source_sha256": sha256,
                     "_line_number": number, "_ingested_at": ingested_at, "_run_id": run_id})
    return pa.Table.from_pylist(rows, schema=BRONZE_PRICE_QUOTES.schema)


def _type_fields(row: dict[str, Any], fields: list[str]) -> str | None:
    """Fill ``row`` with the typed fields of one line; return the first typing error, else None."""
    sid, start, period, value, currency, unit, issued = fields
    row.update(series_id=sid or None, period=period or None, currency=currency or None, unit=unit or None)
    error = None
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
    if value:
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if np.isfinite(number):
            row["value"] = number
        else:
            error = error or f"value {value!r} is not a finite number"
    if _ISO_WITH_ZONE.match(issued):
        try:
            row["issued_at"] = dt.datetime.fromisoformat(issued.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
        except ValueError:
            error = error or f"issued_at {issued!r} is not a valid date and time"
    else:
        error = error or f"issued_at {issued!r} must be an ISO 8601 time with a UTC offset"
    return error


def load_bronze(lake: Lake, batch: Batch, meta: CommitMeta) -> dict[str, Any]:
    """Parse every landed vendor file of the batch and replace the batch's bronze rows (per vendor).

    A file is marked ``loaded`` (at least one data line), ``empty`` (0 bytes or a header only) or
    ``rejected`` with the reason. Whatever goes wrong reading one file rejects that file with a
    reason naming it; the files after it still load.
    """
    now = dt.datetime.now(dt.timezone.utc)
    out: dict[str, Any] = {}
    in_batch = _batch_manifest(lake, batch)
    vendors = sorted(set(in_batch["plant_id"].to_pylist()) - {None})
    for vendor in vendors:
        files = _files_to_load(in_batch, vendor)
        parts, updates, rejected, empty = [], [], [], []
        for row in files.to_pylist():
            try:
                content = decompress(lake.files.read_bytes(row["raw_path"]), row["raw_path"])
                table = parse_price_csv(content, vendor=vendor, publication_date=row["period_date"], source_file=row["raw_path"],
                                        sha256=row["sha256"], ingested_at=now, run_id=meta.run_id)
            except Exception as exc:  # noqa: BLE001 - one bad file must not block the files after it
                reason = str(exc) if isinstance(exc, UnparseableFile) else \
                    f"{row['raw_path']}: could not be read ({type(exc).__name__}: {exc})"
                log.warning("rejected %s: %s", row["file_name"], reason)
                rejected.append(row["file_name"])
                updates.append({**row, "status": "rejected", "reason": reason, "rows_loaded": 0, "_run_id": meta.run_id})
                continue
            if table.num_rows == 0:
                empty.append(row["file_name"])
                updates.append({**row, "status": "empty", "rows_loaded": 0, "_run_id": meta.run_id,
                                "reason": "0 bytes" if not content.strip() else "no data line (header only)"})
                continue
            parts.append(table)
            updates.append({**row, "status": "loaded", "reason": None, "rows_loaded": table.num_rows, "_run_id": meta.run_id})
        bronze = pa.concat_tables(parts) if parts else BRONZE_PRICE_QUOTES.schema.empty_table()
        lake.replace_interval(BRONZE_PRICE_QUOTES, bronze, start=batch.day, end=batch.stop, where={"vendor": vendor},
                              column="publication_date", meta=meta)
        if updates:
            lake.upsert(RAW_FILES, pa.Table.from_pylist(updates, schema=RAW_FILES.schema), meta=meta)
        errors = int(pc.sum(pc.is_valid(bronze["_parse_error"])).as_py() or 0) if bronze.num_rows else 0
        out[vendor] = {"files": len(parts), "rejected_files": rejected, "empty_files": empty, "rows": bronze.num_rows,
                       "parse_errors": errors}
    return out


def _batch_manifest(lake: Lake, batch: Batch) -> pa.Table:
    """Manifest rows of every market file that arrived for the batch's publication dates."""
    files = manifest(lake, source=SOURCE)
    return files.filter(pc.and_(pc.greater_equal(files["period_date"], pa.scalar(batch.day, pa.date32())),
                                pc.less(files["period_date"], pa.scalar(batch.stop, pa.date32()))))


def _files_to_load(rows: pa.Table, vendor: str) -> pa.Table:
    # "empty" files are parsed again on a rerun, like "loaded" ones: reparsing gives the same outcome.
    keep = pc.and_(pc.equal(rows["plant_id"], vendor),
                   pc.is_in(rows["status"], pa.array(["landed", "loaded", "empty"])))
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
    suite.append(gxe.ExpectColumnPairValuesToBeEqual(
        column_A="vendor", column_B="expected_vendor", ignore_row_if="either_value_is_missing",
        meta={"rule": "vendor_matches_series", "reason": "a series must come from its own vendor's files",
              "row_reason": "{series_id} is delivered by vendor {expected_vendor}; found in a file of vendor {vendor}"}))
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
        column_A="value", column_B="fx_floor", or_equal=False, ignore_row_if="either_value_is_missing",
        meta={"rule": "fx_rate_positive", "reason": "an exchange rate must be above 0",
              "row_reason": "{series_id} is an exchange rate and must be above 0; found {value!r}"}))
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

    cand = bronze[["series_id", "period_start", "period", "value", "currency", "unit", "issued_at", "vendor"]].copy()
    cand[ROW_ID] = bronze[ROW_ID]
    cand["expected_vendor"] = attr("vendor", lambda s: s.vendor)
    cand["expected_currency"] = attr("currency", lambda s: s.currency)
    cand["expected_unit"] = attr("unit", lambda s: s.unit)
    cand["expected_period"] = attr("period", lambda s: PERIODS[s.frequency])
    cand["reference"] = attr("reference", lambda s: s.reference).astype(float)
    cand["floor"] = attr("floor", lambda s: NEGATIVE_FLOOR if s.allow_negative else 0.0).astype(float)
    cand["fx_floor"] = attr("fx_floor", lambda s: 0.0 if s.item.startswith("fx_") else None).astype(float)
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
            elif not np.isfinite(rates["rate"].iat[p]):
                failed[int(out.at[i, ROW_ID])] = (f"the {currency}->{reporting} exchange rate of {rates['fx_date'].iat[p]} "
                                                   f"is not usable ({rates['problem'].iat[p]}); the price waits for a "
                                                   f"corrected rate")
            else:
                out.at[i, "fx_rate"] = float(rates["rate"].iat[p])
                out.at[i, "fx_date"] = rates["fx_date"].iat[p]
    out["price"] = out["value"].astype(float) * np.asarray(factor) * out["fx_rate"]
    out["unit_original"] = out["currency"] + "/" + out["unit"]
    out["price_unit"] = np.where(is_fx, out["unit_original"], reporting + "/" + canon)
    out.loc[is_fx, "price"] = out.loc[is_fx, "value"]
    return out[~out[ROW_ID].isin(failed)], failed


_ISSUE_KEY = ["series_id", "period_start", "issued_at"]


def _split_repeats(valid: pd.DataFrame, published: pd.DataFrame) -> tuple[pd.DataFrame, set[int], dict[int, str]]:
    """Sort out repeats of one issue (series, period, issued_at) among the valid rows of a batch.

    Identical repeats (same value) are duplicates: the first (by publication date, file, line)
    stays, the others are returned by row id and counted. Rows of one publication date that give
    an issue different values are all conflicts, quarantined with a reason naming the other
    values and where they are; the vendor has to say which holds. ``published`` is the history of
    other publication dates: a row repeating one of its issues is a duplicate (same value) or a
    conflict (the published row stays; only the new side is quarantined). Publication dates are
    taken in order, each against what the earlier ones kept, so a multi-day batch decides as the
    same days run one by one.

    Returns:
        the rows to publish, the duplicate row ids, and row id -> conflict reason.
    """
    valid = valid.sort_values(["publication_date", "_source_file", "_line_number"], kind="stable")
    theirs = published[_ISSUE_KEY + ["value_original", "_source_file", "_line_number"]].rename(
        columns={"value_original": "value"}).assign(**{ROW_ID: -1})
    duplicates: set[int] = set()
    conflicts: dict[int, str] = {}
    for _, day in valid.groupby("publication_date", sort=True):
        mine = day[_ISSUE_KEY + ["value", "_source_file", "_line_number", ROW_ID]]
        both = pd.concat([theirs, mine], ignore_index=True) if len(theirs) else mine.reset_index(drop=True)
        n_values = both.groupby(_ISSUE_KEY, dropna=False)["value"].transform("nunique")
        for _, group in both[n_values > 1].groupby(_ISSUE_KEY, dropna=False, sort=True):
            for row in group[group[ROW_ID] >= 0].to_dict(orient="records"):
                others = group[group["value"] != row["value"]]
                where = "; ".join(f"{v!r} at {f} line {n}" + (" (already published)" if r < 0 else "")
                                  for v, f, n, r in zip(others["value"], others["_source_file"],
                                                        others["_line_number"], others[ROW_ID]))
                conflicts[int(row[ROW_ID])] = (
                    f"{row['series_id']} for {row['period_start'].isoformat()} issued {row['issued_at'].isoformat()} "
                    f"is {row['value']!r} here but {where}: one issue with different values")
        repeat = both.duplicated(_ISSUE_KEY, keep="first") & (n_values == 1) & (both[ROW_ID] >= 0)
        duplicates |= {int(r) for r in both.loc[repeat, ROW_ID]}
        kept = mine[~mine[ROW_ID].isin(duplicates) & ~mine[ROW_ID].isin(conflicts)]
        theirs = pd.concat([theirs, kept.assign(**{ROW_ID: -1})], ignore_index=True) if len(kept) else theirs
    keep = ~valid[ROW_ID].isin(duplicates) & ~valid[ROW_ID].isin(conflicts)
    return valid[keep], duplicates, conflicts


def _published_history(lake: Lake, batch: Batch, keys: pd.DataFrame) -> pa.Table:
    """History rows of other publication dates for the (series, period) pairs in ``keys``."""
    empty = SILVER_PRICE_HISTORY.schema.empty_table()
    if keys.empty or not lake.exists(SILVER_PRICE_HISTORY):
        return empty
    lo = keys["period_start"].min().to_pydatetime()
    # Every issue of a period is published at most a day before it (day-ahead auctions), so the
    # publication-date partitions before that cannot hold one: prune them.
    day = pc.field("publication_date")
    found = lake.dataset(SILVER_PRICE_HISTORY).to_table(
        filter=(day >= pa.scalar(lo.date() - dt.timedelta(days=1), pa.date32()))
        & ~((day >= pa.scalar(batch.day, pa.date32())) & (day < pa.scalar(batch.stop, pa.date32())))
        & (pc.field("period_start") >= pa.scalar(lo, SILVER_PRICE_HISTORY.schema.field("period_start").type)))
    if not found.num_rows:
        return empty
    pairs = pa.Table.from_pandas(keys[["series_id", "period_start"]].drop_duplicates(), preserve_index=False).cast(
        pa.schema([SILVER_PRICE_HISTORY.schema.field("series_id"), SILVER_PRICE_HISTORY.schema.field("period_start")]))
    return found.join(pairs, keys=["series_id", "period_start"], join_type="inner").select(
        SILVER_PRICE_HISTORY.column_names).cast(SILVER_PRICE_HISTORY.schema)


def _fx_source(lake: Lake, valid: pd.DataFrame, bronze: pd.DataFrame, reasons: dict[int, list[tuple[str, str]]]) -> pd.DataFrame:
    """Exchange rates to convert with: silver's, this batch's, and this batch's unusable ones as NaN.

    A rate the batch delivered but quarantined (zero, negative, not a number, conflicting ...)
    for a date with no valid rate, in the batch or in silver, blocks the prices that would use it
    instead of letting them fall back to an older day's rate.
    """
    fx_ids = sorted(s.series_id for s in SERIES if s.item.startswith("fx_"))
    cols = ["series_id", "period_start", "value_original"]
    known = lake.dataset(SILVER_PRICES).to_table(filter=pc.field("series_id").isin(fx_ids), columns=cols).to_pandas() \
        if lake.exists(SILVER_PRICES) else pd.DataFrame(columns=cols)
    mine = valid[valid["series_id"].isin(fx_ids)].sort_values("issued_at")[["series_id", "period_start", "value"]] \
        .rename(columns={"value": "value_original"})
    bad = bronze[bronze[ROW_ID].isin(reasons) & bronze["series_id"].isin(fx_ids) & bronze["period_start"].notna()]
    # a date that already has a good rate (in this batch or published before) keeps it
    ok = set(zip(mine["series_id"], mine["period_start"])) | set(zip(known["series_id"], known["period_start"]))
    bad = bad[pd.Series([k not in ok for k in zip(bad["series_id"], bad["period_start"])], index=bad.index, dtype=bool)]
    unusable = pd.DataFrame({
        "series_id": bad["series_id"], "period_start": bad["period_start"], "value_original": np.nan,
        "problem": [f"{reasons[r][0][1]} at {f} line {n}"
                    for r, f, n in zip(bad[ROW_ID], bad["_source_file"], bad["_line_number"])]})
    frames = [f for f in (known, mine, unusable) if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def publish_silver(lake: Lake, batch: Batch, meta: CommitMeta, *, reporting_currency: str = "USD") -> dict[str, Any]:
    """Validate the batch's bronze quotes; publish history and latest prices, quarantine the rest.

    Write-audit-publish: every decision is made in memory first — parse errors, the suite,
    repeated issues (duplicates counted, conflicts quarantined), exchange rates, the contracts
    of every table to be written and the row accounting of every vendor-day — and only then is
    anything written, so a batch that fails a check leaves silver and gold as they were.

    Raises:
        ContractViolation: the rows do not add up for a vendor-day (bronze = silver + quarantine
            + duplicates), or rows to publish break a table constraint.
    """
    days = [("publication_date", ">=", batch.day), ("publication_date", "<", batch.stop)]
    bronze = (lake.dataset(BRONZE_PRICE_QUOTES, files=days).to_table(
        filter=(pc.field("publication_date") >= pa.scalar(batch.day, pa.date32()))
        & (pc.field("publication_date") < pa.scalar(batch.stop, pa.date32())))
        if lake.exists(BRONZE_PRICE_QUOTES) else BRONZE_PRICE_QUOTES.schema.empty_table()).to_pandas()
    bronze[ROW_ID] = np.arange(len(bronze))
    parse_failed = bronze["_parse_error"].notna()
    reasons: dict[int, list[tuple[str, str]]] = {
        int(i): [("parse", e)] for i, e in zip(bronze.loc[parse_failed, ROW_ID], bronze.loc[parse_failed, "_parse_error"])}
    cand = _candidates(bronze.loc[~parse_failed])
    result = validate_rows(cand, price_suite(), name=f"{SILVER_PRICES.name}:{batch.day}")
    reasons.update(result.failed)

    valid = cand[~cand[ROW_ID].isin(reasons)].drop(columns=["vendor"]).merge(
        bronze[[ROW_ID, "vendor", "publication_date", "_source_file", "_line_number"]], on=ROW_ID)
    published = _published_history(lake, batch, valid[["series_id", "period_start"]])
    valid, duplicate_ids, conflicts = _split_repeats(valid, published.to_pandas())
    for rid, why in conflicts.items():
        reasons[rid] = [("conflicting_issue", why)]
    converted, fx_failed = _convert(valid, _fx_source(lake, valid, bronze, reasons), reporting_currency)
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
    history = pd.DataFrame({
        "series_id": converted["series_id"], "item": converted["item"], "region": converted["region"],
        "period_start": converted["period_start"], "period": converted["period"], "price": converted["price"],
        "unit": converted["price_unit"], "value_original": converted["value"],
        "unit_original": converted["unit_original"], "fx_rate": converted["fx_rate"], "fx_date": converted["fx_date"],
        "issued_at": converted["issued_at"], "publication_date": converted["publication_date"],
        "_source_file": converted["_source_file"], "_line_number": converted["_line_number"], "_run_id": meta.run_id,
    })

    # Audit before publishing: contracts of what will be written, and every row accounted for.
    history_t = lake.conform(SILVER_PRICE_HISTORY, history)
    quarantine_t = lake.conform(SILVER_PRICE_QUARANTINE, quarantine)
    latest = _latest(published, history_t)
    _check_prices(history_t, batch)
    audits = _accounting(lake, batch, meta, bronze, silver_ids=set(converted[ROW_ID].astype(int)),
                         quarantined=quarantine, duplicate_ids=duplicate_ids, conflict_ids=set(conflicts),
                         completed_at=now.to_pydatetime())
    audits_t = lake.conform(FCT_INGEST_BATCHES, pa.Table.from_pylist(audits, schema=FCT_INGEST_BATCHES.schema))
    latest_t = lake.conform(SILVER_PRICES, latest) if len(latest) else None

    # Publish.
    for spec, rows in ((SILVER_PRICE_HISTORY, history_t), (SILVER_PRICE_QUARANTINE, quarantine_t)):
        lake.replace_interval(spec, rows, start=batch.day, end=batch.stop, column="publication_date", meta=meta)
    if latest_t is not None:
        lake.upsert(SILVER_PRICES, latest_t, meta=meta)
    if audits_t.num_rows:
        lake.upsert(FCT_INGEST_BATCHES, audits_t, meta=meta)
    rules = quarantine["rule"].value_counts().to_dict()
    reissued = int((latest["revision_count"] > 1).sum()) if len(latest) else 0
    figures = {"bronze_rows": len(bronze), "silver_rows": len(history), "quarantined_rows": len(quarantine),
               "duplicates_removed": len(duplicate_ids), "conflicting_rows": len(conflicts),
               "reissued_periods": reissued, "quarantine_rules": rules,
               "files": {k: sum(a[k] for a in audits) for k in ("files_received", "files_landed", "files_duplicate",
                                                                 "files_rejected", "files_empty")},
               "first_period": str(history["period_start"].min().date()) if len(history) else None}
    log.info("market silver %s: %s", batch.day, figures)
    return figures


def _check_prices(history: pa.Table, batch: Batch) -> None:
    """The rows to publish have a positive exchange rate and a finite price (silver's contracts)."""
    bad_rate = pc.sum(pc.invert(pc.greater(history["fx_rate"], 0.0))).as_py() or 0
    bad_price = pc.sum(pc.invert(pc.is_finite(history["price"]))).as_py() or 0
    if bad_rate or bad_price:
        raise ContractViolation(f"market batch {batch.day}..{batch.end_day}: {bad_rate} row(s) to publish with an "
                                f"exchange rate not above 0 and {bad_price} with a price that is not finite; "
                                f"nothing was written")


def _accounting(lake: Lake, batch: Batch, meta: CommitMeta, bronze: pd.DataFrame, *, silver_ids: set[int],
                quarantined: pd.DataFrame, duplicate_ids: set[int], conflict_ids: set[int],
                completed_at: dt.datetime) -> list[dict[str, Any]]:
    """One row per vendor and publication day that received any file, each outcome counted where it happened.

    Raises:
        ContractViolation: a vendor-day's bronze rows are not exactly silver + quarantine + duplicates.
    """
    files = _batch_manifest(lake, batch).to_pandas()
    quarantined_by_day = quarantined.groupby(["vendor", "publication_date"]).size().to_dict()
    keys = set(zip(files["plant_id"], files["period_date"])) | set(zip(bronze["vendor"], bronze["publication_date"]))
    audits = []
    for vendor, day in sorted(k for k in keys if k[0] is not None and k[1] is not None):
        status = files.loc[(files["plant_id"] == vendor) & (files["period_date"] == day), "status"].tolist()
        ids = set(bronze.loc[(bronze["vendor"] == vendor) & (bronze["publication_date"] == day), ROW_ID].astype(int))
        counts = {"bronze_rows": len(ids), "silver_rows": len(ids & silver_ids),
                  "quarantined_rows": int(quarantined_by_day.get((vendor, day), 0)),
                  "duplicates_removed": len(ids & duplicate_ids), "conflicting_rows": len(ids & conflict_ids)}
        if counts["bronze_rows"] != counts["silver_rows"] + counts["quarantined_rows"] + counts["duplicates_removed"]:
            raise ContractViolation(
                f"market batch {vendor} {day}: {counts['bronze_rows']} bronze rows but {counts['silver_rows']} silver + "
                f"{counts['quarantined_rows']} quarantined + {counts['duplicates_removed']} duplicates; nothing was written")
        audits.append({"source": SOURCE, "plant_id": vendor, "period_date": day, "files_received": len(status),
                       "files_landed": status.count("loaded"), "files_duplicate": status.count("duplicate"),
                       "files_rejected": status.count("rejected"), "files_empty": status.count("empty"), **counts,
                       "expected_rows": None, "completeness": None,
                       "status": "empty" if not ids else "complete",
                       "dag_id": meta.dag_id, "run_id": meta.run_id, "completed_at": completed_at})
    return audits


def _latest(published: pa.Table, history: pa.Table) -> pd.DataFrame:
    """Latest issue (and issue count) of every (series, period) the batch touched, as silver will hold them."""
    if not history.num_rows:
        return pd.DataFrame()
    keys = history.select(["series_id", "period_start"]).to_pandas().drop_duplicates()
    full = pa.concat_tables([published, history]).to_pandas().merge(keys, on=["series_id", "period_start"])
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


def run_batch(lake: Lake, landing_dir: str | Path, batch: Batch, meta: CommitMeta, *, reporting_currency: str = "USD") -> dict[str, Any]:
    """All steps of one publication date in order (what the DAG does)."""
    landed = land(lake, landing_dir, batch, meta)
    bronze = load_bronze(lake, batch, meta)
    silver = publish_silver(lake, batch, meta, reporting_currency=reporting_currency)
    since = dt.date.fromisoformat(silver["first_period"]) if silver["first_period"] else batch.day
    gold = build_gold(lake, batch, meta, since=min(since, batch.day))
    return {"land": landed, "bronze": bronze, "silver": silver, "gold": gold}


def load_history(lake: Lake, landing_dir: str | Path, start: dt.date, end: dt.date, meta: CommitMeta, *,
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
