"""Global sensitivity analysis: Sobol' first-, total- (and second-) order indices.

One public function, :func:`sobol_indices`, takes any model function and the ranges (or
distributions) of its inputs and returns, per output, how much of the output variance each input
explains alone (first order ``S1``) and together with all its interactions (total order ``ST``),
with bootstrap confidence intervals.

Method
------
* Sampling (Saltelli et al. 2010, sec. 5): one scrambled Sobol' sequence of dimension ``2d``
  (``scipy.stats.qmc.Sobol``) is split into the base matrices ``A`` and ``B`` (``n`` rows each);
  ``AB_i`` is ``A`` with column ``i`` taken from ``B`` (and, for second order, ``BA_i`` is ``B``
  with column ``i`` from ``A``). Cost: ``n (d + 2)`` model runs, ``n (2 d + 2)`` with second order.
* First and total order: ``scipy.stats.sobol_indices`` (SciPy >= 1.11) on these evaluations, i.e.
  the Saltelli et al. (2010) estimator for ``S1`` (Table 2 (b)) and Jansen's (1999) estimator for
  ``ST`` (Table 2 (f)), with outputs centred first (Sobol' & Levitan 1999). The sample is drawn
  here rather than inside SciPy so that second-order indices can reuse it and the result is fully
  reproducible from ``seed``; with the same seed the indices equal SciPy's own.
* Second order: Saltelli (2002), ``S_ij = mean(f(BA_i) f(AB_j) - f(A) f(B)) / V - S_i - S_j``
  (as in SALib).
* Confidence intervals: ``scipy.stats.bootstrap`` (percentile by default) over the ``n`` sample
  rows, seeded, with the same estimators.

References
----------
Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M., Tarantola, S. (2010). Variance
based sensitivity analysis of model output. Design and estimator for the total sensitivity index.
*Computer Physics Communications* 181(2), 259-270. doi:10.1016/j.cpc.2009.09.018

Saltelli, A. (2002). Making best use of model evaluations to compute sensitivity indices.
*Computer Physics Communications* 145(2), 280-297. doi:10.1016/S0010-4655(02)00280-1

Jansen, M. J. W. (1999). Analysis of variance designs for model output. *Computer Physics
Communications* 117(1-2), 35-43.

Example
-------
>>> import numpy as np
>>> res = sobol_indices(lambda x: x["a"] + 2 * x["b"], {"a": (0, 1), "b": (0, 1)}, n=1024, seed=1)
>>> res.first_order.round(2).loc["y"].tolist()   # variance shares 1/5 and 4/5
[0.2, 0.8]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import qmc

__all__ = ["SobolResult", "sobol_indices"]

Bound = tuple[float, float] | Any  # (low, high) or a frozen scipy distribution with .ppf


@dataclass(frozen=True, eq=False)
class SobolResult:
    """Sobol' indices of every output with respect to every input.

    Attributes
    ----------
    inputs, outputs : tuple of str
    first_order, total_order : DataFrame
        Index: outputs; columns: inputs.
    first_order_low, first_order_high, total_order_low, total_order_high : DataFrame
        Bootstrap confidence bounds, same layout.
    second_order : dict of DataFrame or None
        Per output, a symmetric inputs x inputs table of ``S_ij`` (NaN diagonal) when
        ``second_order=True``.
    second_order_low, second_order_high : dict of DataFrame or None
        Bootstrap bounds of ``second_order``.
    mean, variance : Series
        Output mean and variance over the base sample (index: outputs).
    n : int
        Base sample size (rows of ``A`` and of ``B``).
    n_evaluations : int
        Model evaluations performed.
    confidence_level : float
    """

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    first_order: pd.DataFrame
    total_order: pd.DataFrame
    first_order_low: pd.DataFrame
    first_order_high: pd.DataFrame
    total_order_low: pd.DataFrame
    total_order_high: pd.DataFrame
    second_order: dict[str, pd.DataFrame] | None
    second_order_low: dict[str, pd.DataFrame] | None
    second_order_high: dict[str, pd.DataFrame] | None
    mean: pd.Series
    variance: pd.Series
    n: int
    n_evaluations: int
    confidence_level: float

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per (output, input) with ``S1, S1_low, S1_high, ST, ST_low, ST_high``."""
        rows = []
        for out in self.outputs:
            for inp in self.inputs:
                rows.append({
                    "output": out, "input": inp,
                    "S1": self.first_order.loc[out, inp],
                    "S1_low": self.first_order_low.loc[out, inp],
                    "S1_high": self.first_order_high.loc[out, inp],
                    "ST": self.total_order.loc[out, inp],
                    "ST_low": self.total_order_low.loc[out, inp],
                    "ST_high": self.total_order_high.loc[out, inp],
                })
        return pd.DataFrame(rows).set_index(["output", "input"])


def _sample(bounds: Mapping[str, Bound], n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Base matrices A and B, shape (d, n), as ``scipy.stats.sobol_indices`` draws them."""
    d = len(bounds)
    a_b = qmc.Sobol(d=2 * d, rng=rng, bits=64).random(n).T.reshape(2, d, -1)
    for i, (name, spec) in enumerate(bounds.items()):
        if hasattr(spec, "ppf"):
            a_b[:, i] = spec.ppf(a_b[:, i])
        else:
            lo, hi = (float(v) for v in spec)
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise ValueError(
                    f"sobol_indices: bounds of {name!r} must be finite with low < high, got {spec!r}"
                )
            a_b[:, i] = lo + (hi - lo) * a_b[:, i]
    return a_b[0], a_b[1]


def _evaluate(fun: Callable[..., Any], x: np.ndarray, names: tuple[str, ...],
              vectorized: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    """Run the model on the columns of ``x`` (shape (d, N)); return (s, N) outputs and names."""
    if vectorized:
        raw = fun({k: x[i] for i, k in enumerate(names)})
        if isinstance(raw, pd.DataFrame):
            return raw.to_numpy(dtype=float).T, tuple(str(c) for c in raw.columns)
        if isinstance(raw, Mapping):
            keys = tuple(raw)
            return np.vstack([np.asarray(raw[k], dtype=float).ravel() for k in keys]), keys
        arr = np.asarray(raw, dtype=float)
        if arr.ndim == 1:
            return arr[None, :], ("y",)
        if arr.ndim == 2 and arr.shape[0] == x.shape[1]:
            return arr.T, tuple(f"y{i}" for i in range(arr.shape[1]))
        raise ValueError(
            f"sobol_indices: a vectorized fun must return shape ({x.shape[1]},) or "
            f"({x.shape[1]}, n_outputs) or a mapping of such arrays, got shape {arr.shape}"
        )
    rows = []
    keys: tuple[str, ...] | None = None
    for j in range(x.shape[1]):
        y = fun({k: float(x[i, j]) for i, k in enumerate(names)})
        if isinstance(y, Mapping):
            keys = keys or tuple(y)
            rows.append([float(y[k]) for k in keys])
        elif np.ndim(y) == 0:
            keys = keys or ("y",)
            rows.append([float(y)])
        else:
            v = np.asarray(y, dtype=float).ravel()
            keys = keys or tuple(f"y{i}" for i in range(v.size))
            rows.append(v.tolist())
    return np.asarray(rows, dtype=float).T, keys or ("y",)


def _indices(f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray,
             f_ba: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """Vectorised estimators over a leading batch: f_a, f_b (s, ..., n); f_ab, f_ba (d, s, ..., n).

    Same formulas as ``scipy.stats.sobol_indices`` (centred outputs, Saltelli 2010 S1, Jansen
    ST) plus Saltelli (2002) S2. Returns S1, ST of shape (d, s, ...) and S2 (d, d, s, ...).
    """
    mean = 0.5 * (f_a.mean(axis=-1) + f_b.mean(axis=-1))[..., None]
    f_a, f_b, f_ab = f_a - mean, f_b - mean, f_ab - mean
    var = 0.5 * ((f_a ** 2).mean(axis=-1) + (f_b ** 2).mean(axis=-1)) - (
        0.5 * (f_a.mean(axis=-1) + f_b.mean(axis=-1))) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(var > 0, 1.0 / var, 0.0)
        s1 = np.mean(f_b * (f_ab - f_a), axis=-1) * inv
        st = 0.5 * np.mean((f_a - f_ab) ** 2, axis=-1) * inv
        s2 = None
        if f_ba is not None:
            f_ba = f_ba - mean
            d = f_ab.shape[0]
            ab = np.mean(f_a * f_b, axis=-1)
            s2 = np.full((d, d, *s1.shape[1:]), np.nan)
            for i in range(d):
                for j in range(i + 1, d):
                    v = (np.mean(f_ba[i] * f_ab[j], axis=-1) - ab) * inv
                    s2[i, j] = s2[j, i] = v - s1[i] - s1[j]
    return s1, st, s2


def sobol_indices(
    fun: Callable[..., Any],
    bounds: Mapping[str, Bound],
    *,
    n: int = 4096,
    seed: int | None = None,
    second_order: bool = False,
    vectorized: bool = True,
    confidence_level: float = 0.95,
    n_resamples: int = 500,
    bootstrap_method: Literal["percentile", "basic", "BCa"] = "percentile",
) -> SobolResult:
    """Sobol' first- and total-order sensitivity indices of any model function.

    Parameters
    ----------
    fun : callable
        The model. With ``vectorized=True`` it is called once with a dict ``name -> ndarray``
        (every sample point; numpy functions work element-wise) and returns an array ``(N,)``,
        an array ``(N, n_outputs)``, a mapping ``output -> array (N,)`` or a DataFrame. With
        ``vectorized=False`` it is called per point with a dict ``name -> float`` and returns a
        float, a sequence or a mapping ``output -> float``. Unnamed outputs are called ``y`` (one)
        or ``y0, y1, ...``.
    bounds : mapping
        Input name -> ``(low, high)`` (uniform distribution) or a frozen ``scipy.stats``
        distribution (anything with ``ppf``). Inputs are independent.
    n : int
        Base sample size, a power of 2 (the Sobol' sequence is balanced only then). The model
        runs ``n (d + 2)`` times, ``n (2 d + 2)`` with ``second_order``.
    seed : int, optional
        Seed of the Sobol' scrambling and of the bootstrap; same seed, same result.
    second_order : bool
        Also estimate the pairwise interaction indices ``S_ij``.
    vectorized : bool
        Whether ``fun`` takes whole arrays (see ``fun``).
    confidence_level : float
        Level of the bootstrap confidence intervals.
    n_resamples : int
        Bootstrap resamples (0 skips the intervals; bounds are then NaN).
    bootstrap_method : {"percentile", "basic", "BCa"}
        ``scipy.stats.bootstrap`` interval method (BCa costs ``n`` extra jackknife estimates).

    Returns
    -------
    SobolResult

    Raises
    ------
    ValueError
        If ``n`` is not a power of 2, a bound is invalid, or the model returns non-finite values.
    """
    if not bounds:
        raise ValueError("sobol_indices: give at least one input in bounds")
    if n < 2 or n & (n - 1):
        raise ValueError(f"sobol_indices: n must be a power of 2 (>= 2), got {n}")
    if not 0 < confidence_level < 1:
        raise ValueError(f"sobol_indices: confidence_level must be in (0, 1), got {confidence_level}")
    if bootstrap_method not in ("percentile", "basic", "BCa"):
        raise ValueError(
            "sobol_indices: bootstrap_method must be 'percentile', 'basic' or 'BCa', "
            f"got {bootstrap_method!r}"
        )
    names = tuple(bounds)
    d = len(names)
    rng = np.random.default_rng(seed)
    a, b = _sample(bounds, n, rng)

    # AB_i: A with row i from B; BA_i: B with row i from A (matrices are (d, n)).
    pages = [a, b]
    for i in range(d):
        ab = a.copy()
        ab[i] = b[i]
        pages.append(ab)
    if second_order:
        for i in range(d):
            ba = b.copy()
            ba[i] = a[i]
            pages.append(ba)
    x = np.concatenate(pages, axis=1)
    f, outputs = _evaluate(fun, x, names, vectorized)
    if f.shape[1] != x.shape[1]:
        raise ValueError(f"sobol_indices: fun returned {f.shape[1]} values for {x.shape[1]} points")
    if not np.all(np.isfinite(f)):
        bad = int((~np.isfinite(f)).any(axis=0).sum())
        raise ValueError(f"sobol_indices: fun returned non-finite values at {bad} of {x.shape[1]} points")
    s = f.shape[0]
    blocks = f.reshape(s, -1, n)  # (s, pages, n)
    f_a, f_b = blocks[:, 0], blocks[:, 1]
    f_ab = np.moveaxis(blocks[:, 2:2 + d], 1, 0)  # (d, s, n)
    f_ba = np.moveaxis(blocks[:, 2 + d:], 1, 0) if second_order else None

    # First and total order from SciPy on our evaluations.
    res = stats.sobol_indices(func={"f_A": f_a, "f_B": f_b, "f_AB": f_ab}, n=n)
    s1 = np.asarray(res.first_order, dtype=float).reshape(s, d)
    st = np.asarray(res.total_order, dtype=float).reshape(s, d)
    s2 = None
    if second_order:
        _, _, s2_all = _indices(f_a, f_b, f_ab, f_ba)
        s2 = s2_all  # (d, d, s)

    lo1 = hi1 = lot = hit = np.full((s, d), np.nan)
    lo2 = hi2 = None
    if n_resamples > 0:
        lo, hi = _bootstrap(f_a, f_b, f_ab, f_ba, rng, confidence_level, n_resamples, bootstrap_method)
        lo1, lot = lo[0].T, lo[1].T
        hi1, hit = hi[0].T, hi[1].T
        if second_order:
            lo2, hi2 = lo[2], hi[2]
            for arr in (lo2, hi2):
                arr[np.arange(d), np.arange(d)] = np.nan

    def table(arr: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(arr, index=list(outputs), columns=list(names))

    def pair_tables(arr: np.ndarray | None) -> dict[str, pd.DataFrame] | None:
        if arr is None:
            return None
        return {o: pd.DataFrame(arr[:, :, k], index=list(names), columns=list(names))
                for k, o in enumerate(outputs)}

    both = np.concatenate([f_a, f_b], axis=1)
    return SobolResult(
        inputs=names,
        outputs=tuple(outputs),
        first_order=table(s1),
        total_order=table(st),
        first_order_low=table(lo1),
        first_order_high=table(hi1),
        total_order_low=table(lot),
        total_order_high=table(hit),
        second_order=pair_tables(s2),
        second_order_low=pair_tables(lo2) if second_order else None,
        second_order_high=pair_tables(hi2) if second_order else None,
        mean=pd.Series(both.mean(axis=1), index=list(outputs)),
        variance=pd.Series(both.var(axis=1), index=list(outputs)),
        n=n,
        n_evaluations=int(x.shape[1]),
        confidence_level=confidence_level,
    )


def _bootstrap(f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray, f_ba: np.ndarray | None,
               rng: np.random.Generator, confidence_level: float, n_resamples: int,
               method: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Bootstrap confidence bounds of S1, ST (d, s) and S2 (d, d, s) over the sample rows."""
    d, s, n = f_ab.shape
    shapes = [(d, s), (d, s)] + ([(d, d, s)] if f_ba is not None else [])
    sizes = [int(np.prod(sh)) for sh in shapes]

    def statistic(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.intp)  # (batch, n) or (n,)
        s1, st, s2 = _indices(f_a[:, idx], f_b[:, idx], f_ab[:, :, idx],
                              None if f_ba is None else f_ba[:, :, idx])
        parts = [s1, st] + ([np.nan_to_num(s2)] if s2 is not None else [])  # NaN diagonal
        tail = idx.shape[:-1]
        return np.concatenate([p.reshape(-1, *tail) for p in parts], axis=0)

    # Keep each batch's gathered arrays to ~20 M numbers.
    per_resample = (2 + d * (2 if f_ba is not None else 1)) * s * n
    batch = max(1, min(n_resamples, int(2e7 // per_resample)))
    with np.errstate(invalid="ignore"):
        boot = stats.bootstrap(
            (np.arange(n),), statistic, vectorized=True, n_resamples=n_resamples,
            confidence_level=confidence_level, method=method, rng=rng, batch=batch,
        )
    lows, highs, start = [], [], 0
    for sh, size in zip(shapes, sizes, strict=True):
        lows.append(np.asarray(boot.confidence_interval.low[start:start + size]).reshape(sh))
        highs.append(np.asarray(boot.confidence_interval.high[start:start + size]).reshape(sh))
        start += size
    return lows, highs
