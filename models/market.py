"""Market price series: the catalog of what the plants buy and sell, and a price simulator.

The catalog (:data:`SERIES`) says, for every price series the lakehouse ingests, which vendor
delivers it, in which market convention (currency and quantity unit, e.g. USD per US gallon,
EUR per MWh, USD per dry short ton), at which frequency, and which activity ``item`` of the
plant models (:class:`models.base.ActivityStream`) it prices. The ETL validates and converts
vendor files against it; the simulator writes vendor files from it.

Simulator
---------
Each series' log price is a reference level (the ``reference`` of its :class:`PriceSeries`,
with the public statistic it is taken from) plus

* seasonality (annual sine, e.g. winter gas and power, harvest-time stover),
* an Ornstein–Uhlenbeck deviation (mean reversion with half-life ``half_life_days``, daily
  volatility ``vol``),
* Poisson jumps that decay with the same mean reversion,
* for energy (gas, power) and carbon: one energy price shock per simulated history (a 2- to
  3.5-fold rise over a month that decays over about half a year, as European gas and power did in
  2021–2022).

Hourly power prices add a daily and weekly shape (morning and evening peaks, a midday solar dip
that can push German prices below zero on sunny weekend hours, as EPEX day-ahead prices did in
2023–2024) and hourly noise.

Paths are generated on a fixed calendar from :data:`EPOCH` and cached per (seed, series), so a
day's prices do not depend on the requested window and the same seed gives byte-identical
files. Every random draw comes from :func:`models.historian.derive_rng`.

Vendor files
------------
``<landing>/market/<vendor>/<vendor>__<YYYY-MM-DD>__<NN>.csv``, the date being the publication
date, UTF-8, header ``series_id,period_start,period,value,currency,unit,issued_at``:

* ``period_start``: an ISO date for daily prices (the trade or assessment date), an ISO
  timestamp with offset for hourly prices (day-ahead power is published on day D for the hours
  of D+1, in the exchange's local time);
* ``period``: ``P1D`` or ``PT1H``; ``value`` in ``currency`` per ``unit`` (the market convention);
* ``issued_at``: when the vendor issued the value (ISO timestamp, UTC). A **re-issue** (late
  correction) repeats a period with a later ``issued_at``; about 3 % of vendor-days carry one
  for one of the previous three periods, and about 1 % of days a second file ``__02`` re-issues
  the day itself.
* Bad rows as real feeds have them (about 0.4 % of rows): a missing value, a negative price, a
  price in another unit, an unknown series id, a value off by a factor 100 (fat finger).

Exchange-traded and assessed series publish on business days (Monday–Friday); power day-ahead
auctions run every day.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.historian import derive_rng

__all__ = [
    "EPOCH",
    "HEADER",
    "HORIZON_END",
    "SERIES",
    "PriceSeries",
    "VendorFile",
    "get_series",
    "price_path",
    "simulate",
    "vendors",
]

HEADER = "series_id,period_start,period,value,currency,unit,issued_at"
EPOCH = dt.date(2019, 1, 1)
HORIZON_END = dt.date(2032, 1, 1)
_PLANT = "market"  # derive_rng namespace
_STREAM_PATH, _STREAM_SHOCK, _STREAM_FILE, _STREAM_HOURLY = 21, 22, 23, 24


@dataclass(frozen=True)
class PriceSeries:
    """One price series as a vendor delivers it.

    Attributes:
        series_id: ``<vendor>.<code>``, unique.
        item: activity item it prices (``electricity``, ``natural_gas``, ``ethanol``, ``eua``,
            ``fx_eur`` ...), shared with :class:`models.base.ActivityStream`.
        region: market region (``DE``, ``NO2``, ``US-MISO``, ``EU``, ``global`` ...).
        description: what the price is.
        currency: ISO 4217 code the vendor quotes in.
        unit: quantity unit of the quote (pint notation; ``USD/gal`` has unit ``gal``).
        frequency: ``daily`` (business days), ``hourly`` (day-ahead, published the day before
            delivery), ``monthly`` (contract price on the first business day of the month).
        reference: long-run level in ``currency`` per ``unit``.
        source: the public statistic the reference level and volatility follow.
        density_kg_m3: for volume-quoted materials, the density that converts to mass.
        seasonal_amp: amplitude of the annual log-price seasonality.
        peak_day: day of year of the seasonal maximum.
        vol: daily volatility of the log price.
        half_life_days: mean-reversion half-life.
        jump_rate_per_year, jump_size: Poisson jump frequency and log-size standard deviation.
        shock: whether the series takes part in the energy price shock.
        utc_offset_h: standard-time offset of the exchange's local time (hourly series).
        allow_negative: prices can be negative (power day-ahead).
    """

    series_id: str
    item: str
    region: str
    description: str
    currency: str
    unit: str
    frequency: str
    reference: float
    source: str
    density_kg_m3: float | None = None
    seasonal_amp: float = 0.0
    peak_day: int = 15
    vol: float = 0.012
    half_life_days: float = 60.0
    jump_rate_per_year: float = 0.5
    jump_size: float = 0.05
    shock: bool = False
    utc_offset_h: int = 0
    allow_negative: bool = False

    @property
    def vendor(self) -> str:
        return self.series_id.partition(".")[0]

    @property
    def quote_unit(self) -> str:
        """``<currency>/<unit>`` as printed by the vendor."""
        return f"{self.currency}/{self.unit}"


# Reference levels: long-run levels of the 2019-2024 public statistics named in `source`
# (rounded; the simulator's job is realistic behaviour, not a forecast).
SERIES: tuple[PriceSeries, ...] = (
    PriceSeries("ecb.usd_per_eur", "fx_eur", "EU", "ECB euro foreign exchange reference rate, US dollars per euro",
                "USD", "EUR", "daily", 1.10, "ECB reference rates 2019-2024 (range 0.96-1.23 USD/EUR)",
                vol=0.004, half_life_days=250, jump_rate_per_year=0.2, jump_size=0.01),
    PriceSeries("eex.power_de_da", "electricity", "DE", "EPEX SPOT day-ahead, DE-LU bidding zone, hourly",
                "EUR", "MWh", "hourly", 80.0,
                "EPEX SPOT DE-LU day-ahead annual averages 2019-2024: 37.7, 30.5, 96.9, 235.5, 95.2, 78.0 EUR/MWh",
                seasonal_amp=0.12, peak_day=20, vol=0.06, half_life_days=20, jump_rate_per_year=3,
                jump_size=0.15, shock=True, utc_offset_h=1, allow_negative=True),
    PriceSeries("nordpool.power_no2_da", "electricity", "NO2", "Nord Pool day-ahead, NO2 bidding zone, hourly",
                "EUR", "MWh", "hourly", 50.0,
                "Nord Pool NO2 day-ahead annual averages 2019-2024 (about 10-210 EUR/MWh; hydro-driven)",
                seasonal_amp=0.15, peak_day=30, vol=0.05, half_life_days=30, jump_rate_per_year=2,
                jump_size=0.15, shock=True, utc_offset_h=1),
    PriceSeries("eex.gas_ttf", "natural_gas", "EU", "Dutch TTF natural gas, day-ahead",
                "EUR", "MWh", "daily", 35.0,
                "TTF annual averages 2019-2024: 13.5, 9.4, 46.9, 123.6, 41.0, 34.4 EUR/MWh",
                seasonal_amp=0.10, peak_day=20, vol=0.035, half_life_days=45, jump_rate_per_year=2,
                jump_size=0.12, shock=True),
    PriceSeries("eex.eua", "eua", "EU", "EU ETS emission allowance (EUA), spot, per t CO2e",
                "EUR", "t", "daily", 75.0, "EEX EUA spot averages 2021-2024: 53.6, 80.8, 83.6, 64.7 EUR/t",
                vol=0.02, half_life_days=120, jump_rate_per_year=1, jump_size=0.08, shock=True),
    PriceSeries("usmkt.henry_hub", "natural_gas", "US", "Henry Hub natural gas spot",
                "USD", "MMBtu", "daily", 3.0, "EIA Henry Hub spot annual averages 2019-2024: 2.56, 2.03, 3.89, 6.45, 2.53, 2.19 USD/MMBtu",
                seasonal_amp=0.10, peak_day=20, vol=0.03, half_life_days=45, jump_rate_per_year=2, jump_size=0.12),
    PriceSeries("usmkt.power_miso_da", "electricity", "US-MISO", "MISO day-ahead, Illinois hub, hourly",
                "USD", "MWh", "hourly", 35.0, "MISO Illinois hub day-ahead annual averages 2019-2024 (about 25-65 USD/MWh)",
                seasonal_amp=0.10, peak_day=200, vol=0.04, half_life_days=20, jump_rate_per_year=3,
                jump_size=0.15, utc_offset_h=-6),
    PriceSeries("usmkt.ethanol_chicago", "ethanol", "US", "Fuel ethanol, Chicago rack",
                "USD", "gal", "daily", 2.00, "USDA AMS / EIA Chicago ethanol 2019-2024 (about 1.3-3.4 USD/gal)",
                density_kg_m3=789.0, seasonal_amp=0.04, peak_day=180, vol=0.015, half_life_days=60, jump_size=0.06),
    PriceSeries("usmkt.corn_stover", "corn_stover", "US", "Corn stover bales delivered, dry basis",
                "USD", "ton", "monthly", 75.0,
                "NREL 2011 design feedstock cost 58.50 USD/dry US ton (2007 USD), escalated; seasonal low after harvest",
                seasonal_amp=0.08, peak_day=200, vol=0.006, half_life_days=120, jump_rate_per_year=0.3),
    PriceSeries("usmkt.cellulase", "cellulase", "US", "Cellulase enzyme supply contract, per kg enzyme protein",
                "USD", "kg", "monthly", 5.0, "NREL 2011 (Humbird et al.) enzyme cost basis 4.24 USD/kg protein (2007 USD), escalated",
                vol=0.003, half_life_days=250, jump_rate_per_year=0.2),
    PriceSeries("usmkt.sulfuric_acid", "sulfuric_acid", "US", "Sulfuric acid 93 %, delivered US Midwest",
                "USD", "ton", "monthly", 120.0, "US Midwest delivered sulfuric acid assessments 2019-2024 (about 80-250 USD/short ton)",
                vol=0.006, half_life_days=120),
    PriceSeries("usmkt.ammonia", "ammonia", "US", "Anhydrous ammonia, US Gulf (NOLA)",
                "USD", "t", "daily", 550.0, "US Gulf ammonia assessments 2019-2024 (about 200-1500 USD/t)",
                vol=0.015, half_life_days=90, jump_rate_per_year=1, jump_size=0.1, shock=True),
    PriceSeries("lme.aluminium", "aluminium", "global", "LME aluminium cash settlement",
                "USD", "t", "daily", 2300.0, "LME aluminium cash averages 2019-2024: 1792, 1704, 2480, 2705, 2250, 2419 USD/t",
                vol=0.013, half_life_days=120, jump_rate_per_year=1, jump_size=0.06),
    PriceSeries("lme.alumina", "alumina", "global", "Alumina FOB Australia (Platts index, LME-cleared)",
                "USD", "t", "daily", 380.0, "Platts alumina FOB Australia 2019-2024 (about 270-500 USD/t)",
                vol=0.012, half_life_days=90, jump_rate_per_year=1, jump_size=0.08),
    PriceSeries("chem.formic_acid", "formic_acid", "EU", "Formic acid 85 %, FD NWE, per t of 100 % acid",
                "EUR", "t", "monthly", 700.0, "European formic acid contract assessments 2019-2024 (about 500-1500 EUR/t)",
                vol=0.006, half_life_days=120, jump_rate_per_year=0.5, jump_size=0.08),
    PriceSeries("chem.co2_liquid", "co2_feed", "EU", "Liquid CO2 (biogenic, food grade), delivered",
                "EUR", "t", "monthly", 60.0, "European merchant CO2 contract prices 2019-2024 (about 40-150 EUR/t)",
                vol=0.005, half_life_days=120, shock=True),
    PriceSeries("chem.prebaked_anode", "anode_carbon", "global", "Prebaked carbon anodes, FOB China",
                "USD", "t", "monthly", 550.0, "Prebaked anode export prices 2019-2024 (about 400-900 USD/t)",
                vol=0.006, half_life_days=120),
    PriceSeries("chem.aluminium_fluoride", "aluminium_fluoride", "global", "Aluminium fluoride, FOB China",
                "USD", "t", "monthly", 1300.0, "Aluminium fluoride export prices 2019-2024 (about 1000-2000 USD/t)",
                vol=0.006, half_life_days=120),
)
_BY_ID = {s.series_id: s for s in SERIES}


def get_series(series_id: str) -> PriceSeries:
    try:
        return _BY_ID[series_id]
    except KeyError:
        raise KeyError(f"unknown price series {series_id!r}; known: {sorted(_BY_ID)}") from None


def vendors() -> list[str]:
    return sorted({s.vendor for s in SERIES})


# ------------------------------------------------------------------------------------ the paths
def _days() -> pd.DatetimeIndex:
    return pd.date_range(EPOCH, HORIZON_END, freq="D", inclusive="left")


@functools.cache
def _log_path(seed: int, series_id: str) -> np.ndarray:
    """Daily log price on the fixed calendar from EPOCH (one value per calendar day)."""
    s = get_series(series_id)
    idx = _days()
    n = len(idx)
    rng = derive_rng(seed, _PLANT, _STREAM_PATH, _BY_ID_INDEX[series_id])
    kappa = math.log(2.0) / s.half_life_days
    phi = math.exp(-kappa)
    shocks = rng.normal(0.0, s.vol, n)
    jumps = rng.poisson(s.jump_rate_per_year / 365.0, n) * rng.normal(0.0, s.jump_size, n)
    y = np.empty(n)
    acc = 0.0
    for i in range(n):  # AR(1) = exact discretisation of the OU process at a 1-day step
        acc = phi * acc + shocks[i] + jumps[i]
        y[i] = acc
    doy = idx.dayofyear.to_numpy()
    season = s.seasonal_amp * np.cos(2.0 * math.pi * (doy - s.peak_day) / 365.25)
    shock = _shock_profile(seed, n) * (1.0 if s.shock else 0.0)
    return math.log(s.reference) + season + y + shock


_BY_ID_INDEX = {s.series_id: i for i, s in enumerate(SERIES)}


@functools.cache
def _shock_profile(seed: int, n: int) -> np.ndarray:
    """One energy price shock shared by the energy and carbon series (log multiplier)."""
    rng = derive_rng(seed, _PLANT, _STREAM_SHOCK)
    start = int(rng.integers(365, 3 * 365))  # in the 2nd to 4th year of the calendar
    peak = math.log(rng.uniform(2.0, 3.5))
    t = np.arange(n) - start
    rise = np.clip(t / 30.0, 0.0, 1.0)
    decay = np.where(t > 30, np.exp(-(t - 30) / 180.0), 1.0)
    return np.where(t >= 0, peak * rise * decay, 0.0)


def _hourly_shape(s: PriceSeries, local_hours: np.ndarray, weekday: np.ndarray, doy: np.ndarray) -> np.ndarray:
    """Multiplicative hour-of-day / weekday shape of power prices (mean about 1)."""
    morning = 0.18 * np.exp(-0.5 * ((local_hours - 8.0) / 1.5) ** 2)
    evening = 0.25 * np.exp(-0.5 * ((local_hours - 19.0) / 2.0) ** 2)
    night = -0.15 * np.exp(-0.5 * ((local_hours - 3.0) / 2.0) ** 2)
    weekend = np.where(weekday >= 5, -0.15, 0.0)
    shape = 1.0 + morning + evening + night + weekend
    if s.region == "DE":  # midday solar dip, deepest in summer
        summer = np.clip(np.cos(2.0 * math.pi * (doy - 172) / 365.25), 0.0, 1.0)
        shape -= (0.55 + 0.5 * (weekday >= 5)) * summer * np.exp(-0.5 * ((local_hours - 13.0) / 2.2) ** 2)
    return shape


def price_path(series_id: str, start: dt.date, end: dt.date, seed: int = 0) -> pd.Series:
    """True prices of a series in its market convention over ``[start, end)``.

    Daily and monthly series: one value per calendar day (index = date; vendors publish only the
    business days or first business days of it). Hourly series: one value per hour of delivery
    (UTC ``DatetimeIndex``).
    """
    s = get_series(series_id)
    if not (EPOCH <= start < end <= HORIZON_END):
        raise ValueError(f"window must lie in [{EPOCH}, {HORIZON_END}) and start < end, got [{start}, {end})")
    days = _days()
    base = np.exp(_log_path(seed, series_id))
    i0, i1 = (start - EPOCH).days, (end - EPOCH).days
    if s.frequency != "hourly":
        return pd.Series(base[i0:i1], index=pd.Index([d.date() for d in days[i0:i1]], name="period"), name=series_id)
    hours = pd.date_range(pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"), freq="h", inclusive="left")
    local = hours + pd.Timedelta(hours=s.utc_offset_h)
    day_ix = np.asarray((local.normalize().tz_localize(None) - pd.Timestamp(EPOCH)).days)
    day_ix = np.clip(day_ix, 0, len(base) - 1)
    shape = _hourly_shape(s, local.hour.to_numpy(), local.weekday.to_numpy(), local.dayofyear.to_numpy())
    # Hourly noise drawn per UTC day so that a day's prices do not depend on the window.
    noise = np.concatenate([
        derive_rng(seed, _PLANT, _STREAM_HOURLY, _BY_ID_INDEX[series_id], d).normal(0.0, 0.05, 24)
        for d in range(i0, i1)
    ])
    level = base[day_ix]
    values = level * (shape + noise)
    if not s.allow_negative:
        values = np.maximum(values, 0.05 * level)
    return pd.Series(values, index=hours, name=series_id)


# ------------------------------------------------------------------------------- vendor files
@dataclass(frozen=True)
class VendorFile:
    """A written vendor file and what it carries (ground truth for tests)."""

    path: Path
    vendor: str
    publication_date: dt.date
    rows: int
    reissues: int
    bad_rows: tuple[str, ...]


def _is_business_day(d: dt.date) -> bool:
    return d.weekday() < 5


def _month_first_business_day(d: dt.date) -> dt.date:
    first = d.replace(day=1)
    while not _is_business_day(first):
        first += dt.timedelta(days=1)
    return first


def _first_business_day_of_month(d: dt.date) -> bool:
    return d == _month_first_business_day(d)


def monthly_quote_day(day: dt.date) -> dt.date:
    """The day the monthly contract prices in force on ``day`` were published: the first business
    day of ``day``'s month, or of the month before when ``day`` comes before it."""
    first = _month_first_business_day(day)
    return first if first <= day else _month_first_business_day(day.replace(day=1) - dt.timedelta(days=1))


def _fmt_value(v: float) -> str:
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"


def _iso_utc(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rows_for(s: PriceSeries, day: dt.date, seed: int, issued: dt.datetime) -> list[list[str]]:
    """Rows a vendor publishes for series ``s`` on ``day`` (may be none)."""
    if s.frequency == "hourly":
        delivery = day + dt.timedelta(days=1)
        prices = price_path(s.series_id, delivery, delivery + dt.timedelta(days=1), seed)
        tz = dt.timezone(dt.timedelta(hours=s.utc_offset_h))
        return [[s.series_id, ts.to_pydatetime().astimezone(tz).isoformat(), "PT1H", _fmt_value(v), s.currency,
                 s.unit, _iso_utc(issued)] for ts, v in prices.items()]
    publishes = _is_business_day(day) if s.frequency == "daily" else _first_business_day_of_month(day)
    if not publishes:
        return []
    v = float(price_path(s.series_id, day, day + dt.timedelta(days=1), seed).iloc[0])
    return [[s.series_id, day.isoformat(), "P1D", _fmt_value(v), s.currency, s.unit, _iso_utc(issued)]]


def _spoil(row: list[str], rng: np.random.Generator) -> tuple[list[str], str]:
    kind = ("missing_value", "negative", "wrong_unit", "unknown_series", "fat_finger")[int(rng.integers(5))]
    row = list(row)
    if kind == "missing_value":
        row[3] = ""
    elif kind == "negative":
        row[3] = "-" + row[3].lstrip("-")
    elif kind == "wrong_unit":
        row[5] = {"gal": "bbl", "MWh": "kWh", "MMBtu": "GJ", "t": "lb", "ton": "lb", "kg": "lb", "EUR": "GBP"}[row[5]]
    elif kind == "unknown_series":
        row[0] = row[0] + "_x"
    else:
        row[3] = _fmt_value(float(row[3]) * 100.0)
    return row, kind


def _write(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(HEADER + "\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


def simulate(start: dt.date, end: dt.date, *, landing_dir: str | Path, seed: int = 0,
             vendors_: Iterable[str] | None = None, quirks: bool = True) -> list[VendorFile]:
    """Write the vendor files published on the days ``[start, end)`` into ``<landing_dir>/market/``.

    Args:
        start, end: publication dates (half-open).
        landing_dir: landing-zone root.
        seed: scenario seed (same seed → byte-identical files).
        vendors_: restrict to these vendors (default all).
        quirks: add re-issues and bad rows (see the module docstring).
    """
    chosen = set(vendors_) if vendors_ is not None else set(vendors())
    out: list[VendorFile] = []
    day = start
    while day < end:
        day_no = (day - EPOCH).days
        for vendor in sorted(chosen):
            series = [s for s in SERIES if s.vendor == vendor]
            rng = derive_rng(seed, _PLANT, _STREAM_FILE, day_no, sum(map(ord, vendor)))
            issued = dt.datetime.combine(day, dt.time(17, 30), tzinfo=dt.timezone.utc) + dt.timedelta(
                minutes=int(rng.integers(0, 60)))
            rows: list[list[str]] = []
            for s in series:
                rows.extend(_rows_for(s, day, seed, issued))
            if not rows:
                continue
            reissues, bad = 0, []
            if quirks and rng.random() < 0.03:  # re-issue of one of the previous three periods
                daily = [s for s in series if s.frequency == "daily"]
                if daily:
                    s = daily[int(rng.integers(len(daily)))]
                    back = day - dt.timedelta(days=int(rng.integers(1, 4)))
                    if back >= EPOCH and _is_business_day(back):
                        old = _rows_for(s, back, seed, issued)
                        if old:
                            row = old[0]
                            row[3] = _fmt_value(float(row[3]) * (1.0 + rng.choice([-1, 1]) * rng.uniform(0.02, 0.05)))
                            rows.append(row)
                            reissues += 1
            if quirks:
                for i in range(len(rows)):
                    if rng.random() < 0.004:
                        rows[i], kind = _spoil(rows[i], rng)
                        bad.append(kind)
            path = Path(landing_dir) / "market" / vendor / f"{vendor}__{day.isoformat()}__01.csv"
            _write(path, rows)
            out.append(VendorFile(path, vendor, day, len(rows), reissues, tuple(bad)))
            if quirks and rng.random() < 0.01:  # same-day correction file with a later issue time
                later = issued + dt.timedelta(hours=2)
                fix = [r for r in _rows_for(series[0], day, seed, later)][:1]
                if fix:
                    fix[0][3] = _fmt_value(float(fix[0][3]) * (1.0 + rng.uniform(0.01, 0.03)))
                    path2 = path.with_name(f"{vendor}__{day.isoformat()}__02.csv")
                    _write(path2, fix)
                    out.append(VendorFile(path2, vendor, day, 1, 1, ()))
        day += dt.timedelta(days=1)
    return out
