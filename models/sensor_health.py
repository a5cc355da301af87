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
stuck
    Run-length (flat-line) test. A run of ``L`` identical consecutive readings of a *measured*
    tag is flagged when ``p**(L-1) < stuck_alpha``, with ``p`` the chance that two consecutive
    healthy readings are identical: the larger of the empirical rate of isolated repeats in the
    reference and the rounding chance ``resolution / (2 sigma sqrt(pi))`` of Gaussian noise of
    standard deviation ``sigma`` recorded with step ``resolution`` (the difference of two readings
    is N(0, 2 sigma^2); its density at 0 times the step). Readings at a range end are
    transmitter saturation (NAMUR NE 43), not a frozen value, and never count. Set points,
    controller outputs and calculated values (``measured=False``) are never flagged stuck.
    Cf. Dunia et al., AIChE J. 42 (1996) 2797 and the flat-line checks of ISO 16587 / WMO-No. 8
    quality control (a stuck reading is one whose variability drops below the noise floor).
spike
    Hampel identifier (Hampel, JASA 69 (1974) 383; Pearson, Neuhaus, Gabbouj et al.,
    "Generalized Hampel filters", EURASIP J. Adv. Signal Process. 2016:87; Pearson, *Mining
    Imperfect Data*, SIAM 2005): ``|x - median(x[t-k..t+k])| > t * S``. ``S`` is the tag's noise
    scale from the reference, ``1.4826 MAD(diff(x)) / sqrt(2)`` (the "MAD-sigma" of first
    differences, robust to level changes), floored by the process movement of the running median
    itself, so a fast but real process move is not a spike. The local window MAD of the
    classical filter is not used because at 15-min or 1-h sampling a spiking transmitter spikes
    in most samples of a window and would inflate it. Readings outside the instrument range are
    spikes too (upstream normally quarantines them).
drift
    Analytical redundancy (Gertler, *Fault Detection and Diagnosis in Engineering Systems*,
    1998; Dunia & Qin, AIChE J. 44 (1998) 1813). Every tag is predicted from all other tags of
    the plant by ridge regression fitted on the reference; the regressions of each tag on all the
    others come at once from the regularised precision matrix ``P = (C + lambda I)^-1`` of the
    standardised reference (residual ``r_j = (P x)_j / P_jj``). Residuals are standardised by
    their robust scale in blocked (per-day) cross-validation, re-centred on their own running
    median of the past hours (so a slow model offset at a new operating point is absorbed) and
    smoothed by an EWMA (Roberts 1959; Lucas & Saccucci, Technometrics 32 (1990) 1) whose
    control limit ``drift_limit`` is in units of its cross-validated robust spread. A sensor
    fault is one tag: an alarm on tag ``j`` is kept only when no other measured tag stays in
    alarm once ``j`` is removed from the predictors (a rank-1 update of ``P``); several tags
    inconsistent at once is a process event and is not flagged.
noise
    Ratio of the running robust noise level ``1.4826 MAD(diff(x)) / sqrt(2)`` over a centred
    window to the reference level; flagged above ``noise_ratio_high`` or below
    ``noise_ratio_low``. With fewer than ``min_reference_samples`` reference readings a tag gets
    no drift or noise flag (no reference, no claim).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from nexus.errors import ConfigError, ContractViolation

__all__ = ["FLAGS", "SCORE_COLUMNS", "TagInfo", "Thresholds", "assess", "hourly_health"]

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
    #: The MAD-sigma window is this many times wider than the median window.
    hampel_scale_factor: int = 3
    #: A spike is not flagged when at least this fraction (and at least one) of the other measured
    #: tags deviate by more than hampel_t / 2 within one sample (a process upset, not a sensor).
    spike_collective_fraction: float = 0.05
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
    #: Control limit of the drift EWMA (robust reference spreads).
    drift_limit: float = 8.0
    #: Another tag still beyond this (same units) once the suspect is removed => process event.
    drift_collective_limit: float = 6.0
    #: Fewest reference readings of a tag for drift and noise checks.
    min_reference_samples: int = 48

    def __post_init__(self) -> None:
        for name in ("hampel_half_window", "stuck_min_run", "noise_window", "min_reference_samples"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("hampel_t", "noise_ratio_high", "drift_ridge", "drift_tau_hours", "drift_limit",
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
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
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
    with np.errstate(all="ignore"):
        import warnings

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
    need = max(1, math.ceil(cfg.spike_collective_fraction * (measured.sum() - 1)))
    collective = n_near >= need
    with np.errstate(invalid="ignore"):
        mask = ((z > cfg.hampel_t) & ~collective) | outside

    def reason(r: np.ndarray, c: np.ndarray) -> list[str]:
        out = []
        for i, j in zip(r, c):
            if outside[i, j]:
                out.append(f"spike: value {v[i, j]:.6g} outside the instrument range "
                           f"[{lo[j]:g}, {hi[j]:g}]")
            else:
                out.append(f"spike: Hampel |x - median| = {z[i, j]:.1f} MAD-sigma > {cfg.hampel_t:g} over "
                           f"±{k} samples (x {v[i, j]:.6g}, median {med[i, j]:.6g}, MAD-sigma {scale[i, j]:.3g} "
                           f"= max(local over ±{big // 2}, reference noise {base[j]:.3g}); "
                           f"{n_near[i, j]} other tags deviating at the same time)")
        return out

    return _Result(mask, np.where(outside, np.inf, z), reason)


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

    def reason(r: np.ndarray, c: np.ndarray) -> list[str]:
        return [
            f"noise: robust noise sigma {sig[i, j]:.3g} over {w} samples = {ratio[i, j]:.2f} x reference "
            f"{st.sigma_ref[j]:.3g} ({'>' if ratio[i, j] > 1 else '<'} "
            f"{cfg.noise_ratio_high if ratio[i, j] > 1 else cfg.noise_ratio_low:g}; MAD of first differences)"
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


def _drift(p: _Panel, st: _Stats, cfg: Thresholds, exclude: np.ndarray) -> _Result:
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
    if g.size < 2:
        return empty
    xs = (filled[:, g] - mu[g]) / sd[g]
    G = g.size
    valid = np.isfinite(v[:, g])
    measured = np.array([p.info[j].measured for j in g])
    units = np.array([p.info[j].unit_operation for j in g])
    per_day = max(1, int(pd.Timedelta(days=1) / p.sampling))
    n_blocks = int(min(7, max(2, nr // per_day)))
    edges = np.linspace(0, nr, n_blocks + 1).astype(int)
    # Two candidate scopes, chosen per tag by cross-validated residual spread: the whole plant
    # (more redundancy) or the tag's unit operation (fewer spurious predictors).
    scopes = {"plant": [np.arange(G)], "unit": [np.flatnonzero(units == u) for u in np.unique(units)]}
    models: dict[str, list[_Model]] = {
        name: [_fit_group(xs, cols, nr, cfg.drift_ridge, edges) for cols in groups]
        for name, groups in scopes.items()
    }
    best_sig = np.full(G, np.inf)
    choice: list[tuple[str, int, int]] = [("", -1, -1)] * G  # scope, group, position
    resid = np.full((T, G), np.nan)
    cv = np.full((nr, G), np.nan)
    for name, ms in models.items():
        for gi, m in enumerate(ms):
            cvm = np.where(valid[:nr, m.cols], m.cv, np.nan)
            sig_m = _robust_sigma(cvm)
            for pos, c in enumerate(m.cols):
                if sig_m[pos] > 0 and sig_m[pos] < best_sig[c]:
                    best_sig[c] = sig_m[pos]
                    choice[c] = (name, gi, pos)
                    resid[:, c] = m.resid[:, pos]
                    cv[:, c] = cvm[:, pos]
    ok = np.isfinite(best_sig)
    sig = np.where(ok, best_sig, np.nan)
    resid[~valid] = np.nan
    alpha = 1.0 - math.exp(-p.sampling / pd.Timedelta(hours=cfg.drift_tau_hours))
    lag = max(1, int(round(pd.Timedelta(hours=cfg.drift_baseline_lag_hours) / p.sampling)))
    length = max(1, int(round(pd.Timedelta(hours=cfg.drift_baseline_hours) / p.sampling)))

    def statistic(z: np.ndarray) -> np.ndarray:
        return _ewma_minus_baseline(z, alpha, lag, length)

    sig_e = _robust_sigma(statistic(cv / sig))
    sig_e = np.where(sig_e > 0, sig_e, np.nan)
    e = statistic(resid / sig) / sig_e
    with np.errstate(invalid="ignore"):
        alarm = (np.abs(e) > cfg.drift_limit) & measured & valid
        alarm[:nr] = False
    keep = np.zeros_like(alarm)
    for jj in np.flatnonzero(alarm.any(axis=0)):
        # Remove jj from the predictors of every model it is in and recompute the tags using them.
        e2 = e.copy()
        for name, ms in models.items():
            for gi, m in enumerate(ms):
                hit = np.flatnonzero(m.cols == jj)
                if not hit.size or m.cols.size < 2:
                    continue
                q = int(hit[0])
                rest = np.r_[0:q, q + 1:m.cols.size]
                users = [i for i in rest if choice[m.cols[i]][:2] == (name, gi)]
                if not users:
                    continue
                pj = m.prec[:, q]
                p2 = (m.prec - np.outer(pj, pj) / m.prec[q, q])[np.ix_(rest, rest)]
                r2 = xs[:, m.cols[rest]] @ p2 / np.diag(p2)
                at = [int(np.flatnonzero(rest == i)[0]) for i in users]
                cols_u = m.cols[users]
                scale = sig[cols_u] * np.sqrt(np.diag(m.prec)[users] / np.diag(p2)[at])
                z2 = np.where(valid[:, cols_u], r2[:, at] / scale, np.nan)
                e2[:, cols_u] = statistic(z2) / sig_e[cols_u]
        e2[:, jj] = 0.0
        with np.errstate(invalid="ignore"):
            collective = ((np.abs(e2) > cfg.drift_collective_limit) & measured).any(axis=1)
        keep[:, jj] = alarm[:, jj] & ~collective
    mask[:, g] = keep
    score[:, g] = e
    resid_unit = np.full((T, N), np.nan)
    resid_unit[:, g] = resid * sd[g]
    sig_unit = np.full(N, np.nan)
    sig_unit[g] = sig * sd[g]
    n_pred = np.zeros(N, np.int64)
    scope_of = np.full(N, "", dtype=object)
    for c in range(G):
        name, gi, _ = choice[c]
        if name:
            n_pred[g[c]] = models[name][gi].cols.size - 1
            scope_of[g[c]] = "plant" if name == "plant" else f"unit {units[c]!r}"
    ref_days = (nr * p.sampling) / pd.Timedelta(days=1)
    lag_h = cfg.drift_baseline_lag_hours

    def reason(r: np.ndarray, c: np.ndarray) -> list[str]:
        return [
            f"drift: EWMA of residual change = {score[i, j]:+.1f} > {cfg.drift_limit:g} reference spreads "
            f"(residual vs ridge prediction from {n_pred[j]} other tags of {scope_of[j]} fitted on {ref_days:.1f} d "
            f"reference = {resid_unit[i, j]:+.4g}, cross-validated sigma {sig_unit[j]:.3g}, baseline = its median "
            f"{lag_h:g}-{lag_h + cfg.drift_baseline_hours:g} h earlier; no other tag inconsistent without it)"
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
        exclude = stuck.mask | spike.mask
        with _single_thread_blas():
            drift = _drift(panel, st, cfg, exclude)
        noise = _noise(panel, st, cfg, exclude)
        code = np.zeros(panel.values.shape, np.int8)  # 0 = healthy, else 1 + FLAGS index
        for k, res in reversed(list(enumerate((stuck, spike, drift, noise)))):
            code[res.mask] = k + 1
        code[: panel.n_ref] = 0
        r_in, c_in, g_in = row[in_win], col[in_win], good[in_win]
        cell_code = np.zeros(n, np.int8)
        cell_code[g_in] = code[r_in[g_in], c_in[g_in]]
        for k, res in enumerate((stuck, spike, drift, noise)):
            sel = np.flatnonzero(cell_code == k + 1)
            if sel.size:
                flag[sel] = FLAGS[k]
                why[sel] = res.reason(r_in[sel], c_in[sel])
        for name, res in zip(SCORE_COLUMNS, (spike, drift, noise)):
            scores[name][g_in] = res.score[r_in[g_in], c_in[g_in]]
    out["flag"] = flag
    out["flag_reason"] = why
    for name in SCORE_COLUMNS:
        out[name] = scores[name]
    return out
