"""Per-tag sensor health from historian data alone: stuck, spike, drift and noise flags.

Example::

    import pandas as pd
    from models.sensor_health import TagInfo, assess, hourly_health

    tags = [TagInfo("CSTR.TI102", 0.0, 150.0, measured=True, unit_operation="reactor"), ...]
    flagged = assess(readings, tags, start=pd.Timestamp("2026-01-08", tz="UTC"),
                     end=pd.Timestamp("2026-01-09", tz="UTC"), sampling=pd.Timedelta("1min"))
    hourly = hourly_health(flagged)

``readings`` is the long silver frame (``tag, ts, value, quality``) of ``[start - context, end)``;
the context (typically 7 days) is the *reference*: noise levels, repeat rates and the redundancy
model are learned there, and every detector is warmed up on it. Nothing here knows the plant
simulator; thresholds are keyword options (:class:`Thresholds`).

Invariant: flag, don't delete. ``assess`` returns exactly the input rows with ``ts`` in
``[start, end)``, in their input order, with a ``flag`` (``None`` or one of :data:`FLAGS`) and a
``flag_reason`` naming detector, statistic, threshold and reference. Only good-quality readings
with a value are assessed.

Detectors (priority stuck > spike > drift > noise when several apply)
--------------------------------------------------------------------
Noise scale everywhere is the MAD-sigma of first differences, ``sigma = 1.4826 MAD(diff x) /
sqrt(2)``: robust to level changes and outliers (Donoho & Johnstone, Biometrika 81 (1994) 425
use the same estimator on finest-scale Haar coefficients; 1.4826 makes the MAD consistent for
Gaussian data, Rousseeuw & Croux, JASA 88 (1993) 1273). Readings at a range end are transmitter
saturation (NAMUR NE 43) and never count as frozen or as noise.

stuck
    Flat-line / run-length test (the "flat line test" of U.S. IOOS QARTOD, Manual for Real-Time
    Quality Control of In-situ Temperature and Salinity Data v2.0, 2015, doi:10.7289/V5V40SD4),
    with the run length derived instead of guessed: ``L`` identical consecutive readings of a
    measured tag are flagged when ``p**(L-1)`` is below ``stuck_alpha`` per tag-hour, ``p`` being
    the chance that two healthy consecutive readings are equal -- the larger of the rounding
    chance ``resolution / (2 sigma sqrt(pi))`` (the difference of two readings is
    N(0, 2 sigma^2); its density at 0 times the recording step) and the rate of isolated repeats
    in the reference. A tag whose noise is far above its resolution cannot repeat by chance; a
    quiet or coarsely recorded tag needs a long run. Set points, controller outputs and
    calculated values (``measured=False``) are never flagged stuck.
spike
    Hampel identifier (Hampel, JASA 69 (1974) 383; Pearson, IEEE Trans. Control Syst. Technol. 10
    (2002) 55; Pearson, Neuvo, Astola & Gabbouj, "Generalized Hampel filters", EURASIP J. Adv.
    Signal Process. 2016:87): ``|x - median(x[t-k..t+k])| > t * S`` with ``S`` the MAD-sigma of
    ``x`` over a window ``hampel_scale_factor`` times wider (at 15-min or hourly sampling a
    spiking transmitter spikes in most readings of a narrow window), floored by the reference
    noise. Two guards make it a *sensor* test: a reading is not a spike when other measured tags
    deviate at the same moment (``collective_fraction``: a process upset), and a run of more than
    ``hampel_max_run`` readings off to the same side is a departure, reported as drift. Readings
    outside the instrument range are spikes (upstream normally quarantines them). Tags without
    measurement noise (``measured=False``) only get the out-of-range check.
drift
    Analytical redundancy (Gertler, *Fault Detection and Diagnosis in Engineering Systems*,
    Dekker 1998). Each tag is predicted by ridge regression on the reference from the other tags
    of the plant, or of its unit operation, or only from its own level and the time of day (two
    harmonics, for daily cycles no other tag explains); per tag the scope with the smallest
    blocked (per-day) cross-validated spread of the drift statistic is used. All regressions of a
    group come at once from the regularised precision matrix ``P = (C + lambda I)^-1`` of the
    standardised reference: residual ``r_j = (P x)_j / P_jj`` (Hastie, Tibshirani & Friedman,
    *Elements of Statistical Learning*, 2nd ed., section 17.3). The residual, re-centred on its
    running median ``drift_baseline_lag_hours`` .. ``+ drift_baseline_hours`` earlier (a slow
    model offset at a new operating point is absorbed), is smoothed by an EWMA (Roberts,
    Technometrics 1 (1959) 239; Lucas & Saccucci, Technometrics 32 (1990) 1; Montgomery,
    *Introduction to Statistical Quality Control*) in units of its cross-validated robust
    spread; a faster EWMA must confirm it. The limit goes from ``drift_limit`` for a smoothed
    EWMA to ``drift_limit_individual`` for a Shewhart individuals chart (hourly data). No claim
    while the tag's prediction itself is moving (``drift_move_limit``: set point change, upset),
    while a tag of the unit that was constant through the reference has changed (an input the
    model never saw) or while the tag is clearly noisier than in the reference (that is noise).
    Isolation (reconstruction-based identification, Dunia, Qin, Edgar & McAvoy, AIChE J. 42
    (1996) 2797; Dunia & Qin, AIChE J. 44 (1998) 1813): "tag j drifts" explains the alarms
    when, with j removed from every model (a rank-1 update of ``P``), no other measured tag is
    beyond ``drift_collective_limit``; of several explaining tags the largest own statistic wins
    (for a bias on j the standardised residual shift of any other tag k is
    ``|P_kj| / sqrt(P_kk) <= sqrt(P_jj)``). Several tags inconsistent at once is a process
    event and is not flagged.
noise
    Running MAD-sigma of first differences over a centred window (``noise_window`` readings, at
    least one hour) divided by the reference value; flagged above ``noise_ratio_high`` or below
    ``noise_ratio_low`` unless other measured tags change at the same time (a process event).

No reference (fewer than ``min_reference_samples`` readings before ``start``): stuck and spike
use the noise seen in the window itself; drift and noise are not judged (no reference, no claim).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from nexus.errors import ConfigError, ContractViolation

__all__ = ["FLAGS", "HOURLY_COLUMNS", "SCORE_COLUMNS", "TagInfo", "Thresholds", "assess", "hourly_health"]

#: Flags in priority order (the first that applies wins).
FLAGS: tuple[str, ...] = ("stuck", "spike", "drift", "noise")

#: Score columns ``assess`` adds next to ``flag``/``flag_reason`` (dimensionless, NaN where not
#: computed): ``spike_z`` Hampel statistic |x - running median| / S; ``drift_z`` drift EWMA
#: statistic in units of its reference spread (signed); ``noise_ratio`` running / reference noise.
SCORE_COLUMNS: tuple[str, ...] = ("spike_z", "drift_z", "noise_ratio")

_MAD = 1.482602218505602  # 1 / Phi^-1(3/4): MAD -> sigma for Gaussian data
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class TagInfo:
    """What the health checks need to know about one tag.

    Parameters
    ----------
    tag : str
        Historian tag name.
    range_min, range_max : float
        Calibrated instrument range, same unit as the values.
    measured : bool
        True for field measurements (PV); False for set points, controller outputs and calculated
        values (never flagged stuck, no drift or noise flag).
    unit_operation : str
        Plant section.
    resolution : float or None
        Smallest step the historian records, if known (else inferred from the data).
    """

    tag: str
    range_min: float
    range_max: float
    measured: bool
    unit_operation: str
    resolution: float | None = None

    def __post_init__(self) -> None:
        if not self.range_max > self.range_min:
            raise ConfigError(f"{self.tag}: range_max must exceed range_min, got {self.range_min}..{self.range_max}")
        if self.resolution is not None and not self.resolution >= 0:
            raise ConfigError(f"{self.tag}: resolution must be >= 0 or None, got {self.resolution}")


@dataclass(frozen=True)
class Thresholds:
    """Detector settings (pass any of them as keyword to :func:`assess`).

    Windows are in samples unless named ``_hours``.
    """

    #: Hampel half window k (samples each side).
    hampel_half_window: int = 7
    #: Hampel threshold t in MAD-sigma.
    hampel_t: float = 6.0
    #: Longest run of same-side outliers still called spikes (readings).
    hampel_max_run: int = 2
    #: The MAD-sigma window is this many times wider than the median window.
    hampel_scale_factor: int = 3
    #: A spike or noise change is not flagged when at least this fraction (and at least one) of
    #: the other measured tags show half the effect at the same time (a process upset, not a
    #: sensor): Hampel statistic > hampel_t / 2 within one sample, noise ratio beyond the square
    #: root of its limit.
    collective_fraction: float = 0.05
    #: Chance per tag-hour that a healthy tag shows a run as long as a flagged one.
    stuck_alpha: float = 1e-4
    #: Shortest run ever called stuck (readings).
    stuck_min_run: int = 3
    #: Noise window (samples, centred); at least one hour of samples is used.
    noise_window: int = 30
    noise_ratio_high: float = 3.0
    noise_ratio_low: float = 0.3
    #: Ridge penalty of the redundancy model (on the correlation scale).
    drift_ridge: float = 0.01
    #: EWMA time constant of the drift statistic (hours).
    drift_tau_hours: float = 0.5
    #: Running-median baseline of the residual: window end lag and length (hours).
    drift_baseline_lag_hours: float = 3.0
    drift_baseline_hours: float = 9.0
    #: Control limit of the drift EWMA (robust reference spreads) for a well-smoothed EWMA, and
    #: for a Shewhart individuals chart (EWMA weight 1). The limit used is interpolated linearly
    #: in the weight ``w = 1 - exp(-sampling / tau)`` of the newest reading: coarse readings
    #: average fast transients within themselves, so the statistic has lighter tails.
    drift_limit: float = 8.0
    drift_limit_individual: float = 3.5
    #: Steadiness gate: largest move of a tag's prediction against its baseline (residual sigmas).
    drift_move_limit: float = 10.0
    #: Consistency limit (same units): a tag explains the alarms when, without it as a predictor,
    #: no other measured tag is beyond this limit, and its own statistic is.
    drift_collective_limit: float = 3.0
    #: Fewest reference readings of a tag for drift and noise checks.
    min_reference_samples: int = 48

    def __post_init__(self) -> None:
        for name in ("hampel_half_window", "stuck_min_run", "noise_window", "min_reference_samples"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("hampel_t", "noise_ratio_high", "drift_ridge", "drift_tau_hours", "drift_limit",
                     "drift_limit_individual", "drift_move_limit",
                     "drift_collective_limit", "drift_baseline_hours"):
            if not float(getattr(self, name)) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.stuck_alpha < 1:
            raise ConfigError(f"stuck_alpha must be in (0, 1), got {self.stuck_alpha}")
        if not 0 <= self.noise_ratio_low < 1 < self.noise_ratio_high:
            raise ConfigError("need 0 <= noise_ratio_low < 1 < noise_ratio_high, got "
                              f"{self.noise_ratio_low}, {self.noise_ratio_high}")

    @classmethod
    def from_kwargs(cls, kwargs: dict) -> Thresholds:
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - valid)
        if unknown:
            raise ConfigError(f"unknown threshold(s) {unknown}; valid: {sorted(valid)}")
        return cls(**kwargs)


# --------------------------------------------------------------------------- panel


@dataclass
class _Panel:
    """Readings on a regular (time x tag) grid; NaN = nothing assessable."""

    times: pd.DatetimeIndex
    values: np.ndarray  # (T, N) good readings, NaN elsewhere
    n_ref: int  # rows before `start`
    n_win: int  # rows in [start, end)
    info: list[TagInfo]
    sampling: pd.Timedelta

    @property
    def span(self) -> np.ndarray:
        return np.array([t.range_max - t.range_min for t in self.info])


def _utc(ts: pd.Timestamp, name: str) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    if ts.tzinfo is None:
        raise ContractViolation(f"{name} must be tz-aware UTC, got {ts!r}")
    return ts.tz_convert("UTC")


def _build_panel(readings: pd.DataFrame, info: list[TagInfo], start: pd.Timestamp, end: pd.Timestamp,
                 sampling: pd.Timedelta) -> tuple[_Panel, np.ndarray, np.ndarray, np.ndarray]:
    """Wide grid of assessable readings and, per input row, its (row, col) cell and mask."""
    col_of = {t.tag: j for j, t in enumerate(info)}
    ts = pd.to_datetime(readings["ts"], utc=True)
    step = sampling.value
    t0 = ts.min() if len(ts) else start
    first = min(t0.floor(sampling), start) if pd.notna(t0) else start
    # Grid anchored at `start` so both windows share it exactly.
    n_before = int(-(-(start.value - first.value) // step))
    n_win = int(-(-(end.value - start.value) // step))
    grid0 = start.value - n_before * step
    times = pd.DatetimeIndex(grid0 + step * np.arange(n_before + n_win), tz="UTC")
    row = np.rint((ts.to_numpy(dtype="datetime64[ns]").astype(np.int64) - grid0) / step).astype(np.int64)
    col = readings["tag"].map(col_of).to_numpy()
    known = ~pd.isna(col)
    col = np.where(known, col, -1).astype(np.int64)
    value = pd.to_numeric(readings["value"], errors="coerce").to_numpy(dtype=float)
    good = (readings["quality"].to_numpy() == "good") & np.isfinite(value) & known
    good &= (row >= 0) & (row < len(times))
    vals = np.full((len(times), len(info)), np.nan)
    # Later rows win for duplicate cells (assignment order).
    vals[row[good], col[good]] = value[good]
    return _Panel(times, vals, n_before, n_win, info, sampling), row, col, good


# --------------------------------------------------------------------------- helpers


def _diffs(x: np.ndarray) -> np.ndarray:
    """Differences of consecutive finite values of each column, placed at the later reading."""
    out = np.full_like(x, np.nan)
    for j in range(x.shape[1]):
        idx = np.flatnonzero(np.isfinite(x[:, j]))
        if idx.size > 1:
            out[idx[1:], j] = np.diff(x[idx, j])
    return out


def _robust_sigma(a: np.ndarray, axis: int = 0) -> np.ndarray:
    """1.4826 * MAD along ``axis`` (NaN-aware; NaN where no data)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, as intended
        med = np.nanmedian(a, axis=axis, keepdims=True)
        return _MAD * np.nanmedian(np.abs(a - med), axis=axis)


def _single_thread_blas():
    """Small matrices: BLAS threads only add overhead (10x on a busy 2-core host)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional (ships with scikit-learn)
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _fmt_t(t: pd.Timestamp) -> str:
    return f"{t:%Y-%m-%dT%H:%MZ}"


@dataclass
class _Stats:
    sigma: np.ndarray  # noise sigma (first differences), reference or whole panel
    sigma_ref: np.ndarray  # same, reference only (NaN if too little reference)
    has_ref: np.ndarray  # bool per tag: enough reference for drift / noise
    resolution: np.ndarray
    saturated: np.ndarray  # (T, N) reading at a range end


def _stats(p: _Panel, cfg: Thresholds) -> _Stats:
    v = p.values
    lo = np.array([t.range_min for t in p.info])
    hi = np.array([t.range_max for t in p.info])
    sat = (v <= lo) | (v >= hi)
    vv = np.where(sat, np.nan, v)
    d = _diffs(vv)
    ref = np.zeros(len(v), bool)
    ref[: p.n_ref] = True
    n_ref = np.isfinite(v[ref]).sum(0)
    has_ref = n_ref >= cfg.min_reference_samples
    sig_ref = _robust_sigma(d[ref]) / _SQRT2 if p.n_ref > 1 else np.full(v.shape[1], np.nan)
    sig_all = _robust_sigma(d) / _SQRT2
    sig = np.where(has_ref & (sig_ref > 0), sig_ref, sig_all)
    res = np.array([t.resolution if t.resolution is not None else np.nan for t in p.info], dtype=float)
    # Infer the recording step: smallest non-zero change (an upper bound of the true step).
    absd = np.abs(d)
    absd[absd == 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        inferred = np.nanmin(absd, axis=0)
    res = np.where(np.isfinite(res), res, inferred)
    return _Stats(sig, np.where(has_ref, sig_ref, np.nan), has_ref, res, sat)


# --------------------------------------------------------------------------- detectors


@dataclass
class _Result:
    """One detector's verdict on the (T, N) grid: flag mask, score and a reason formatter."""

    mask: np.ndarray
    score: np.ndarray
    reason: object  # callable (rows, cols) -> list[str]
    extra: _Result | None = None  # a verdict of another kind found on the way (spike -> drift)


def _stuck(p: _Panel, st: _Stats, cfg: Thresholds) -> _Result:
    v = p.values
    T, N = v.shape
    mask = np.zeros((T, N), bool)
    run_len = np.zeros((T, N), np.int64)
    run_first = np.zeros((T, N), np.int64)
    l_min = np.full(N, np.iinfo(np.int64).max)
    p_rep = np.ones(N)
    alpha = cfg.stuck_alpha * min(1.0, p.sampling / pd.Timedelta(hours=1))  # per reading
    for j, tag in enumerate(p.info):
        idx = np.flatnonzero(np.isfinite(v[:, j]))
        if not tag.measured or idx.size < 2:
            continue
        x = v[idx, j]
        sat = st.saturated[idx, j]
        same = (x[1:] == x[:-1]) & ~sat[1:] & ~sat[:-1]
        rid = np.cumsum(np.r_[True, ~same]) - 1
        lens = np.bincount(rid)
        first = np.flatnonzero(np.r_[True, ~same])
        # Chance of a repeat: isolated repeats (runs of exactly 2) in the reference, and rounding.
        in_ref = idx[1:] < p.n_ref if st.has_ref[j] else np.ones(idx.size - 1, bool)
        pair_run = lens[rid[1:]]
        p_emp = float(np.sum(same & in_ref & (pair_run == 2))) / max(1, int(in_ref.sum()))
        sig, res = st.sigma[j], st.resolution[j]
        if not (sig > 0 and np.isfinite(res)):
            continue  # no noise seen: cannot tell frozen from quiet
        p_theory = res / (2.0 * sig * math.sqrt(math.pi))
        pj = min(1.0, max(p_emp, p_theory, 1e-12))
        if pj >= 1.0:
            continue
        lm = max(cfg.stuck_min_run, 1 + math.ceil(math.log(alpha) / math.log(pj)))
        l_min[j], p_rep[j] = lm, pj
        L = lens[rid]
        hit = L >= lm
        mask[idx[hit], j] = True
        run_len[idx, j] = L
        run_first[idx, j] = idx[first[rid]]

    def reason(r: np.ndarray, c: np.ndarray) -> list[str]:
        return [
            f"stuck: {run_len[i, j]} identical readings ({v[i, j]:.6g}) since {_fmt_t(p.times[run_first[i, j]])}"
            f" >= {l_min[j]}, the shortest run with chance < {alpha:.2g} per reading for this tag"
            f" (repeat chance {p_rep[j]:.2g} from noise sigma {st.sigma[j]:.3g}, step {st.resolution[j]:.3g}"
            f" and reference repeats)"
            for i, j in zip(r, c)
        ]

    return _Result(mask, run_len.astype(float), reason)


def _need(cfg: Thresholds, measured: np.ndarray) -> int:
    """Other measured tags showing an effect at once that make it a process event."""
    return max(1, math.ceil(cfg.collective_fraction * (int(measured.sum()) - 1)))


def _spike(p: _Panel, st: _Stats, cfg: Thresholds) -> _Result:
    v = p.values
    lo = np.array([t.range_min for t in p.info])
    hi = np.array([t.range_max for t in p.info])
    outside = (v < lo) | (v > hi)
    x = np.where(outside, np.nan, v)
    k = int(cfg.hampel_half_window)
    med = pd.DataFrame(x).rolling(2 * k + 1, center=True, min_periods=k + 1).median().to_numpy()
    # Local spread over a window three times wider than the median's (robust to dense bursts of
    # spikes at coarse sampling), floored by the reference noise.
    big = 2 * cfg.hampel_scale_factor * k + 1
    xd = pd.DataFrame(x)
    centre = xd.rolling(big, center=True, min_periods=k + 1).median()
    local = _MAD * (xd - centre).abs().rolling(big, center=True, min_periods=k + 1).median().to_numpy()
    base = np.where(np.isfinite(st.sigma) & (st.sigma > 0), st.sigma, np.nan)
    base = np.fmax(base, np.where(np.isfinite(st.resolution), st.resolution, 0.0))
    base = np.fmax(base, 1e-9 * p.span)
    scale = np.fmax(local, base)
    measured = np.array([t.measured for t in p.info])
    with np.errstate(invalid="ignore"):
        z = np.where(measured, np.abs(x - med) / scale, np.nan)
        # A process upset moves several measured tags at once; a spike is one transmitter.
        near = pd.DataFrame(z > cfg.hampel_t / 2).rolling(3, center=True, min_periods=1).max().to_numpy() > 0
    n_near = near.sum(axis=1, keepdims=True) - near
    collective = n_near >= _need(cfg, measured)
    with np.errstate(invalid="ignore"):
        out = (z > cfg.hampel_t) & ~collective
    # A spike is short: a run of more than hampel_max_run consecutive readings all off to the
    # same side of the median, on this tag alone, is a departure of the sensor (a fast drift, as
    # seen at coarse sampling) and reported as drift.
    sign = np.sign(x - med)
    departure = np.zeros_like(out)
    run_len = np.zeros(x.shape, np.int64)
    for j in np.flatnonzero(out.any(axis=0)):
        idx = np.flatnonzero(np.isfinite(x[:, j]))
        o, sg = out[idx, j], sign[idx, j]
        same = o[1:] & o[:-1] & (sg[1:] == sg[:-1])
        rid = np.cumsum(np.r_[True, ~same]) - 1
        length = np.bincount(rid)[rid]
        long_run = (length > cfg.hampel_max_run) & o
        out[idx[long_run], j] = False
        departure[idx[long_run], j] = True
        run_len[idx[long_run], j] = length[long_run]
    mask = out | outside

    def reason(r: np.ndarray, c: np.ndarray) -> list[str]:
        texts = []
        for i, j in zip(r, c):
            if outside[i, j]:
                texts.append(f"spike: value {v[i, j]:.6g} outside the instrument range "
                             f"[{lo[j]:g}, {hi[j]:g}]")
            else:
                texts.append(f"spike: Hampel |x - median| = {z[i, j]:.1f} MAD-sigma > {cfg.hampel_t:g} over "
                             f"±{k} samples (x {v[i, j]:.6g}, median {med[i, j]:.6g}, MAD-sigma {scale[i, j]:.3g} "
                             f"= max(local over ±{big // 2}, reference noise {base[j]:.3g}); "
                             f"{n_near[i, j]} other tags deviating at the same time)")
        return texts

    def departure_reason(r: np.ndarray, c: np.ndarray) -> list[str]:
        return [
            f"drift: departure of {run_len[i, j]} consecutive readings to one side of the running median, "
            f"|x - median| = {z[i, j]:.1f} MAD-sigma > {cfg.hampel_t:g} (more than {cfg.hampel_max_run} is "
            f"not a spike), no other tag deviating"
            for i, j in zip(r, c)
        ]

    extra = _Result(departure, z, departure_reason)
    return _Result(mask, z, reason, extra)


def _noise(p: _Panel, st: _Stats, cfg: Thresholds, exclude: np.ndarray) -> _Result:
    v = np.where(exclude | st.saturated, np.nan, p.values)
    d = _diffs(v)
    per_hour = max(1, int(pd.Timedelta(hours=1) / p.sampling))
    w = max(int(cfg.noise_window), per_hour)
    dd = pd.DataFrame(d)
    m = dd.rolling(w, center=True, min_periods=w // 2).median()
    mad = (dd - m).abs().rolling(w, center=True, min_periods=w // 2).median().to_numpy()
    sig = _MAD * mad / _SQRT2
    measured = np.array([t.measured for t in p.info])
    ok = measured & st.has_ref & (st.sigma_ref > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(ok, sig / st.sigma_ref, np.nan)
        mask = ((ratio > cfg.noise_ratio_high) | (ratio < cfg.noise_ratio_low)) & np.isfinite(p.values)
        near = (ratio > math.sqrt(cfg.noise_ratio_high)) | (ratio < math.sqrt(cfg.noise_ratio_low))
    n_near = near.sum(axis=1, keepdims=True) - near
    mask &= n_near < _need(cfg, measured)

    def reason(r: np.ndarray, c: np.ndarray) -> list[str]:
        return [
            f"noise: robust noise sigma {sig[i, j]:.3g} over {w} samples = {ratio[i, j]:.2f} x reference "
            f"{st.sigma_ref[j]:.3g} ({'>' if ratio[i, j] > 1 else '<'} "
            f"{cfg.noise_ratio_high if ratio[i, j] > 1 else cfg.noise_ratio_low:g}; MAD of first differences; "
            f"{n_near[i, j]} other tags changing at the same time)"
            for i, j in zip(r, c)
        ]

    return _Result(mask, ratio, reason)


def _ewma_minus_baseline(z: np.ndarray, alpha: float, lag: int, length: int) -> np.ndarray:
    zd = pd.DataFrame(z)
    base = zd.shift(lag).rolling(length, min_periods=max(1, length // 3)).median()
    return (zd - base).ewm(alpha=alpha, ignore_na=True).mean().to_numpy()


@dataclass
class _Model:
    """Ridge regressions of every column of one group on the others (precision-matrix form)."""

    cols: np.ndarray  # indices into the standardised matrix
    prec: np.ndarray  # (C + lambda I)^-1 on the reference
    resid: np.ndarray  # (T, len(cols)) residuals, standardised units
    cv: np.ndarray  # (n_ref, len(cols)) blocked cross-validation residuals


def _fit_group(xs: np.ndarray, cols: np.ndarray, nr: int, ridge: float, edges: np.ndarray) -> _Model:
    a = xs[:, cols]
    eye = np.eye(cols.size)

    def precision(rows: slice | np.ndarray) -> np.ndarray:
        r = a[rows]
        return np.linalg.inv(r.T @ r / len(r) + ridge * eye)

    prec = precision(slice(0, nr))
    cv = np.empty((nr, cols.size))
    for lo, hi in zip(edges[:-1], edges[1:]):
        pk = precision(np.r_[0:lo, hi:nr])
        cv[lo:hi] = a[lo:hi] @ pk / np.diag(pk)
    return _Model(cols, prec, a @ prec / np.diag(prec), cv)


def _drift(p: _Panel, st: _Stats, cfg: Thresholds, exclude: np.ndarray, noise_ratio: np.ndarray) -> _Result:
    v = np.where(exclude, np.nan, p.values)
    T, N = v.shape
    nr = p.n_ref
    mask = np.zeros((T, N), bool)
    score = np.full((T, N), np.nan)
    empty = _Result(mask, score, lambda r, c: [])
    if nr < cfg.min_reference_samples:
        return empty
    filled = pd.DataFrame(v).ffill().bfill().to_numpy()
    mu = filled[:nr].mean(axis=0)
    sd = filled[:nr].std(axis=0)
    g = np.flatnonzero(st.has_ref & np.isfinite(sd) & (sd > 0))
    if not g.size:
        return empty
    G = g.size
    # Exogenous predictors every model may use: time of day (two harmonics), for daily cycles
    # such as ambient temperature that no other tag explains.
    day_frac = ((p.times - p.times.normalize()) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    exo = np.column_stack([f(2 * np.pi * h * day_frac) for h in (1, 2) for f in (np.sin, np.cos)])
    exo_sd = exo[:nr].std(axis=0)
    exo = exo[:, exo_sd > 1e-6]
    xs = np.column_stack([(filled[:, g] - mu[g]) / sd[g], (exo - exo[:nr].mean(axis=0)) / exo[:nr].std(axis=0)])
    ex = np.arange(G, xs.shape[1])
    valid = np.isfinite(v[:, g])
    measured = np.array([p.info[j].measured for j in g])
    units = np.array([p.info[j].unit_operation for j in g])
    per_day = max(1, int(pd.Timedelta(days=1) / p.sampling))
    n_blocks = int(min(7, max(2, nr // per_day)))
    edges = np.linspace(0, nr, n_blocks + 1).astype(int)
    alpha = 1.0 - math.exp(-p.sampling / pd.Timedelta(hours=cfg.drift_tau_hours))
    lag = max(1, int(round(pd.Timedelta(hours=cfg.drift_baseline_lag_hours) / p.sampling)))
    length = max(1, int(round(pd.Timedelta(hours=cfg.drift_baseline_hours) / p.sampling)))

    def statistic(z: np.ndarray) -> np.ndarray:
        return _ewma_minus_baseline(z, alpha, lag, length)

    # Candidate scopes per tag: the whole plant (most redundancy), its unit operation (fewer
    # spurious predictors) or itself (only its own level and daily cycle, for inputs such as
    # feed temperature that nothing else explains). Each tag uses the scope whose blocked
    # cross-validated drift statistic has the smallest robust spread.
    scopes = {
        "plant": [np.r_[np.arange(G), ex]],
        "unit": [np.r_[np.flatnonzero(units == u), ex] for u in np.unique(units)],
        "self": [np.r_[c, ex] for c in range(G)],
    }
    models: dict[str, list[_Model]] = {
        name: [_fit_group(xs, cols, nr, cfg.drift_ridge, edges) for cols in groups]
        for name, groups in scopes.items()
    }
    # One pass over every (scope, group, target) candidate: stack the CV residuals, score them.
    cand = [(name, gi, int(pos), int(m.cols[pos])) for name, ms in models.items() for gi, m in enumerate(ms)
            for pos in np.flatnonzero(m.cols < G)]
    cv_all = np.column_stack([models[n][gi].cv[:, pos] for n, gi, pos, _ in cand])
    tgt_all = np.array([c for *_, c in cand])
    cv_all[~valid[:nr, tgt_all]] = np.nan
    spread = _robust_sigma(statistic(cv_all))
    spread = np.where(spread > 0, spread, np.inf)
    choice: list[tuple[str, int, int]] = [("", -1, -1)] * G  # scope, group, position
    resid = np.full((T, G), np.nan)
    cv = np.full((nr, G), np.nan)
    for c in range(G):
        k = np.flatnonzero(tgt_all == c)
        k = int(k[np.argmin(spread[k])])
        if np.isfinite(spread[k]):
            name, gi, pos, _ = cand[k]
            choice[c] = (name, gi, pos)
            resid[:, c] = models[name][gi].resid[:, pos]
            cv[:, c] = cv_all[:, k]
    chosen = np.array([bool(choice[c][0]) for c in range(G)])
    sig = _robust_sigma(cv)
    sig = np.where(chosen & (sig > 0), sig, np.nan)
    resid[~valid] = np.nan
    sig_e = _robust_sigma(statistic(cv / sig))
    sig_e = np.where(sig_e > 0, sig_e, np.nan)
    # Judge the residual against the current noise when that is clearly higher than in the
    # reference (beyond the square root of noise_ratio_high): a noisier transmitter is a noise
    # fault, not a drift.
    ratio = np.nan_to_num(noise_ratio[:, g], nan=1.0)
    inflate = np.where(ratio > math.sqrt(cfg.noise_ratio_high), ratio, 1.0)
    e = statistic(resid / sig) / sig_e / inflate
    # A faster EWMA (tau / 4) must confirm that the residual is still off now (same sign, at least
    # half the slow statistic), so a flag ends soon after a recalibration instead of waiting for
    # the slow EWMA to decay.
    alpha_fast = 1.0 - math.exp(-p.sampling / pd.Timedelta(hours=cfg.drift_tau_hours / 4))
    fast_cv = _ewma_minus_baseline(cv / sig, alpha_fast, lag, length)
    e_fast = _ewma_minus_baseline(resid / sig, alpha_fast, lag, length) / _robust_sigma(fast_cv) / inflate
    # Steadiness gate: where the *prediction* itself moved by more than drift_move_limit residual
    # sigmas against its baseline, the process is in transition (set point change, upset) and a
    # residual change may be a model error at the new operating point. Novelty gate: a tag that
    # was constant through the reference (often a set point) and has left that value within the
    # baseline horizon is an input the models never saw, so its unit operation is not judged.
    move = np.abs(statistic(np.where(valid, xs[:, :G] - resid, np.nan) / sig))
    const = np.flatnonzero(np.isfinite(sd) & (sd == 0) & (np.isfinite(v[:nr]).sum(axis=0) > 0))
    novel_unit = np.zeros((T, G), bool)
    if const.size:
        ref_val = np.nanmedian(v[:nr, const], axis=0)
        left = np.abs(filled[:, const] - ref_val) > 1e-9 * np.maximum(1.0, np.abs(ref_val))
        horizon = lag + length
        left = pd.DataFrame(left).rolling(horizon, min_periods=1).max().to_numpy() > 0
        for k, c in enumerate(const):
            novel_unit |= left[:, [k]] & (units == p.info[c].unit_operation)[None, :]
    limit = cfg.drift_limit_individual + (cfg.drift_limit - cfg.drift_limit_individual) * (1.0 - alpha)
    with np.errstate(invalid="ignore"):
        judged = valid & ~(move > cfg.drift_move_limit) & ~novel_unit & np.isfinite(e)
        alarm = (np.abs(e) > limit) & measured & judged
        alarm &= np.sign(e) * e_fast > np.maximum(cfg.drift_collective_limit, 0.5 * np.abs(e))
        alarm[:nr] = False
        own = (np.abs(e) > cfg.drift_collective_limit) & measured & judged
        own &= (alarm.any(axis=1))[:, None]
        # Tags in transition still witness a process upset; unmodelled-input units do not.
        witness = measured & valid & ~novel_unit & np.isfinite(e)
    # Single-fault isolation (reconstruction-based identification, Dunia & Qin 1998). Hypothesis
    # "tag j is faulty" explains the alarms at t when, with j removed from every model (a rank-1
    # update of P), no other judged measured tag is beyond drift_collective_limit; of several
    # explaining hypotheses the largest own statistic wins (the faulty tag's standardised
    # residual shift is the largest: |P_kj| / sqrt(P_kk) <= sqrt(P_jj) for a positive definite P).
    explains = np.zeros_like(alarm)
    for jj in np.flatnonzero(own.any(axis=0)):
        e2 = e.copy()
        for name, ms in models.items():
            for gi, m in enumerate(ms):
                hit = np.flatnonzero(m.cols == jj)
                if not hit.size or m.cols.size < 2:
                    continue
                q = int(hit[0])
                rest = np.r_[0:q, q + 1:m.cols.size]
                users = np.array([i for i in rest if m.cols[i] < G and choice[m.cols[i]][:2] == (name, gi)],
                                 dtype=np.int64)
                if not users.size:
                    continue
                pj = m.prec[:, q]
                p2 = (m.prec - np.outer(pj, pj) / m.prec[q, q])[np.ix_(rest, rest)]
                at = np.searchsorted(rest, users)
                r2 = xs[:, m.cols[rest]] @ p2[:, at] / np.diag(p2)[at]
                cols_u = m.cols[users]
                scale = sig[cols_u] * np.sqrt(np.diag(m.prec)[users] / np.diag(p2)[at])
                z2 = np.where(valid[:, cols_u], r2 / scale, np.nan)
                e2[:, cols_u] = statistic(z2) / sig_e[cols_u]
        e2[:, jj] = 0.0
        with np.errstate(invalid="ignore"):
            inconsistent = ((np.abs(e2) > cfg.drift_collective_limit) & witness).any(axis=1)
        explains[:, jj] = own[:, jj] & ~inconsistent
    strength = np.where(explains, np.abs(e), -np.inf)
    winner = np.argmax(strength, axis=1)
    keep = np.zeros_like(alarm)
    rows = np.flatnonzero(explains.any(axis=1))
    keep[rows, winner[rows]] = True
    mask[:, g] = keep
    score[:, g] = e
    resid_unit = np.full((T, N), np.nan)
    resid_unit[:, g] = resid * sd[g]
    sig_unit = np.full(N, np.nan)
    sig_unit[g] = sig * sd[g]
    model_of = np.full(N, "", dtype=object)
    for c in range(G):
        name, gi, _ = choice[c]
        if name:
            n_tags = int((models[name][gi].cols < G).sum()) - 1
            name = name if n_tags else "self"
            model_of[g[c]] = {
                "plant": f"{n_tags} other tags of the plant and the time of day",
                "unit": f"{n_tags} other tags of unit {units[c]!r} and the time of day",
                "self": "its own reference level and the time of day",
            }[name]
    ref_days = (nr * p.sampling) / pd.Timedelta(days=1)
    lag_h = cfg.drift_baseline_lag_hours

    def reason(r: np.ndarray, c: np.ndarray) -> list[str]:
        return [
            f"drift: EWMA of residual change = {score[i, j]:+.1f} reference spreads, beyond ±{limit:.1f} "
            f"(residual {resid_unit[i, j]:+.4g} vs ridge prediction from {model_of[j]}, fitted on "
            f"{ref_days:.1f} d reference, cross-validated sigma {sig_unit[j]:.3g}; baseline = its median "
            f"{lag_h:g}-{lag_h + cfg.drift_baseline_hours:g} h earlier; without this tag no other tag is beyond "
            f"±{cfg.drift_collective_limit:g})"
            for i, j in zip(r, c)
        ]

    return _Result(mask, score, reason)


# --------------------------------------------------------------------------- public API


def assess(readings: pd.DataFrame, tags: Sequence[TagInfo], *, start: pd.Timestamp, end: pd.Timestamp,
           sampling: pd.Timedelta, **thresholds) -> pd.DataFrame:
    """Flag every reading of ``[start, end)`` as healthy (``None``) or stuck/spike/drift/noise.

    Parameters
    ----------
    readings : pandas.DataFrame
        Long frame ``tag, ts`` (tz-aware UTC), ``value`` (float, NaN allowed), ``quality``
        (``'good'|'uncertain'|'bad'``) covering ``[start - context, end)``; rows before ``start``
        are the reference (may be empty: then no drift or noise flags).
    tags : sequence of TagInfo
        Catalogue; readings of other tags get no flag.
    start, end : pandas.Timestamp
        Window to assess (tz-aware).
    sampling : pandas.Timedelta
        Historian sampling interval (timestamps are put on this grid).
    **thresholds
        Any field of :class:`Thresholds`.

    Returns
    -------
    pandas.DataFrame
        The rows of ``readings`` with ``start <= ts < end`` in input order, plus ``flag``
        (``None`` or one of :data:`FLAGS`), ``flag_reason`` (``None`` or text) and the
        :data:`SCORE_COLUMNS`.
    """
    cfg = Thresholds.from_kwargs(thresholds)
    missing = {"tag", "ts", "value", "quality"} - set(readings.columns)
    if missing:
        raise ContractViolation(f"readings need columns tag, ts, value, quality; missing {sorted(missing)}")
    start, end = _utc(start, "start"), _utc(end, "end")
    sampling = pd.Timedelta(sampling)
    if not sampling > pd.Timedelta(0):
        raise ConfigError(f"sampling must be positive, got {sampling}")
    if not start < end:
        raise ConfigError(f"start must precede end, got {start} .. {end}")
    info = list(tags)
    if len({t.tag for t in info}) != len(info):
        raise ConfigError("tags must be unique")
    ts = pd.to_datetime(readings["ts"], utc=True)
    in_win = ((ts >= start) & (ts < end)).to_numpy()
    out = readings.loc[in_win].copy()
    n = len(out)
    flag = np.full(n, None, dtype=object)
    why = np.full(n, None, dtype=object)
    scores = {c: np.full(n, np.nan) for c in SCORE_COLUMNS}
    if n and info:
        panel, row, col, good = _build_panel(readings, info, start, end, sampling)
        st = _stats(panel, cfg)
        stuck = _stuck(panel, st, cfg)
        spike = _spike(panel, st, cfg)
        exclude = stuck.mask | spike.mask | spike.extra.mask
        noise = _noise(panel, st, cfg, exclude)
        with _single_thread_blas():
            drift = _drift(panel, st, cfg, exclude, noise.score)
        # Verdicts in priority order; a departure is drift found by the Hampel window.
        verdicts = [("stuck", stuck), ("spike", spike), ("drift", drift), ("drift", spike.extra), ("noise", noise)]
        code = np.zeros(panel.values.shape, np.int8)  # 0 = healthy, else 1 + index in verdicts
        for k in reversed(range(len(verdicts))):
            code[verdicts[k][1].mask] = k + 1
        code[: panel.n_ref] = 0
        r_in, c_in, g_in = row[in_win], col[in_win], good[in_win]
        cell_code = np.zeros(n, np.int8)
        cell_code[g_in] = code[r_in[g_in], c_in[g_in]]
        for k, (name, res) in enumerate(verdicts):
            sel = np.flatnonzero(cell_code == k + 1)
            if sel.size:
                flag[sel] = name
                why[sel] = res.reason(r_in[sel], c_in[sel])
        for name, res in zip(SCORE_COLUMNS, (spike, drift, noise)):
            scores[name][g_in] = res.score[r_in[g_in], c_in[g_in]]
    out["flag"] = flag
    out["flag_reason"] = why
    for name in SCORE_COLUMNS:
        out[name] = scores[name]
    return out


#: Columns of :func:`hourly_health`, with units.
HOURLY_COLUMNS: dict[str, str] = {
    "tag": "historian tag",
    "hour_start": "start of the UTC hour (tz-aware), the hour is [hour_start, hour_start + 1 h)",
    "sample_count": "good-quality readings with a value, the ones assess() judged (count)",
    "flagged_count": "readings with any flag (count, <= sample_count)",
    "stuck_count": "readings flagged stuck (count)",
    "spike_count": "readings flagged spike (count)",
    "drift_count": "readings flagged drift (count)",
    "noise_count": "readings flagged noise (count)",
    "flagged_fraction": "flagged_count / sample_count (1); NaN without samples",
    "status": "'faulty' if flagged_fraction >= 0.5 or every sample of the hour is stuck or every one is "
              "drift; 'suspect' if any reading is flagged; else 'ok'",
    "reason": "reason of the hour: of the most frequent flag (ties: priority order of FLAGS) its most "
              "frequent flag_reason text (ties: earliest); None when nothing is flagged",
    "max_abs_robust_z": "largest Hampel statistic |x - running median| / MAD-sigma (1)",
    "max_abs_drift_score": "largest |drift EWMA statistic| in reference spreads (1)",
    "noise_ratio": "median running / reference robust noise level (1)",
    "reading_count": "readings of the tag in the hour, any quality or none (count)",
}


def hourly_health(flagged: pd.DataFrame) -> pd.DataFrame:
    """Per ``(tag, hour_start)`` summary of :func:`assess` output; columns in :data:`HOURLY_COLUMNS`.

    Rows are sorted by tag then hour. Score columns are NaN where ``flagged`` lacks the
    :data:`SCORE_COLUMNS` or nothing was computed.
    """
    need = {"tag", "ts", "quality", "value", "flag", "flag_reason"}
    missing = need - set(flagged.columns)
    if missing:
        raise ContractViolation(f"hourly_health needs assess() output; missing columns {sorted(missing)}")
    if flagged.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HOURLY_COLUMNS})
    value = pd.to_numeric(flagged["value"], errors="coerce")
    f = pd.DataFrame({
        "tag": flagged["tag"].to_numpy(),
        "hour_start": pd.to_datetime(flagged["ts"], utc=True).dt.floor("h").to_numpy(),
        "assessed": ((flagged["quality"] == "good") & value.notna()).to_numpy(),
        "flag": flagged["flag"].to_numpy(),
    })
    for kind in FLAGS:
        f[kind] = f["flag"] == kind
    f["flagged"] = f["flag"].isin(FLAGS)
    for col in SCORE_COLUMNS:
        f[col] = pd.to_numeric(flagged[col], errors="coerce").to_numpy() if col in flagged else np.nan
    f["drift_z"] = f["drift_z"].abs()
    keys = ["tag", "hour_start"]
    g = f.groupby(keys, sort=True)
    out = g.agg(
        reading_count=("flag", "size"),
        sample_count=("assessed", "sum"),
        flagged_count=("flagged", "sum"),
        stuck_count=("stuck", "sum"),
        spike_count=("spike", "sum"),
        drift_count=("drift", "sum"),
        noise_count=("noise", "sum"),
        max_abs_robust_z=("spike_z", "max"),
        max_abs_drift_score=("drift_z", "max"),
        noise_ratio=("noise_ratio", "median"),
    ).reset_index()
    out["flagged_fraction"] = out["flagged_count"] / out["sample_count"].where(out["sample_count"] > 0)
    whole = (out["sample_count"] > 0) & ((out["stuck_count"] == out["sample_count"])
                                         | (out["drift_count"] == out["sample_count"]))
    out["status"] = np.select([(out["flagged_fraction"] >= 0.5) | whole, out["flagged_count"] > 0],
                              ["faulty", "suspect"], "ok")
    # Representative reason: most frequent flag of the hour, then its most frequent text.
    fl = pd.DataFrame({"tag": f["tag"], "hour_start": f["hour_start"], "flag": f["flag"],
                       "reason": flagged["flag_reason"].to_numpy(), "order": np.arange(len(f))})
    fl = fl[f["flagged"].to_numpy()]
    if len(fl):
        fl["prio"] = fl["flag"].map({k: i for i, k in enumerate(FLAGS)})
        n_flag = fl.groupby(keys + ["flag"])["order"].transform("size")
        n_text = fl.groupby(keys + ["flag", "reason"])["order"].transform("size")
        fl = fl.assign(n_flag=n_flag, n_text=n_text).sort_values(
            ["tag", "hour_start", "n_flag", "prio", "n_text", "order"],
            ascending=[True, True, False, True, False, True])
        rep = fl.drop_duplicates(keys)[keys + ["reason"]]
        out = out.merge(rep, on=keys, how="left")
    else:
        out["reason"] = None
    out["reason"] = out["reason"].astype(object).where(out["reason"].notna(), None)
    for c in ("sample_count", "reading_count", "flagged_count", "stuck_count", "spike_count", "drift_count",
              "noise_count"):
        out[c] = out[c].astype(np.int64)
    return out[list(HOURLY_COLUMNS)]
