"""Multivariate statistical process monitoring on any numeric data.

Fit a model of normal operation, then score new rows: a PCA monitor with Hotelling's T² and SPE
(Q) charts and per-variable contributions, a nonlinear Isolation-Forest monitor with the same API
for comparison, and a data-driven labeller of operating modes (shutdown / transient / steady) to
choose the training rows.

>>> import numpy as np
>>> from models.monitoring import PCAMonitor
>>> rng = np.random.default_rng(0)
>>> t = rng.normal(size=(500, 2))                      # two latent drivers ...
>>> X = t @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(500, 6))   # ... seen by 6 sensors
>>> m = PCAMonitor(variance=0.90, alpha=0.99).fit(X)
>>> m.n_components, round(m.t2_limit, 2), round(m.spe_limit, 3), m.n_excluded_
(2, 9.33, 0.924, 2)
>>> x_new = X[:3].copy()
>>> x_new[2, 4] += 1.0                                  # a sensor bias on variable 4
>>> m.score(x_new).round(3)
      t2    spe  t2_alarm  spe_alarm  missing
0  0.016  0.051     False      False        0
1  0.923  0.039     False      False        0
2  0.600  0.963     False       True        0
>>> m.top_contributors(x_new, n=2)[2]                   # (variable, share of SPE)
[(4, 0.694), (5, 0.146)]

PCA monitor (:class:`PCAMonitor`)
---------------------------------
* Data are autoscaled with the training mean and standard deviation (``ddof=1``). Columns whose
  training standard deviation is ~0 (``std <= 1e-9 |mean|``) are kept out of the model, listed in
  ``constant_columns_`` and always get a zero contribution (a change in them is *not* detected:
  check such columns separately).
* Components: the smallest ``k`` whose cumulative explained variance (eigenvalues of the
  correlation matrix) reaches ``variance``, or ``n_components`` if given.
* T² = Σ t_a²/λ_a over the ``k`` retained scores. Its limit for a *new* observation is
  ``k (n² − 1) / (n (n − k)) · F_{k, n−k}(alpha)`` (Tracy, Young & Mason 1992; MacGregor & Kourti
  1995; Montgomery, *Introduction to Statistical Quality Control*, ch. 11), ``n`` the number of
  training rows used.
* SPE = ‖z − P Pᵀ z‖², the squared residual of the scaled row. Its limit is Jackson & Mudholkar
  (1979) from the residual eigenvalues θ_i = Σ_{j>k} λ_jⁱ; when that formula is degenerate
  (h₀ ≤ 0, which happens with very unequal residual eigenvalues) Box's (1954) ``g·χ²_h``
  approximation with ``g = var/(2·mean)``, ``h = 2·mean²/var`` of the training SPE is used
  (Nomikos & MacGregor 1995). ``spe_limit_method_`` says which one was used.
* ``limits="empirical"`` replaces both limits by the ``alpha``-quantile of the training
  statistics. Real process data are autocorrelated and not Gaussian, so the theoretical limits
  often over-alarm; the caller chooses. ``limits="cross-validated"`` takes the quantiles of
  *out-of-fold* statistics instead (4 contiguous folds, each scored by a model fitted on the other
  three with the same number of components): with many variables and few rows a model fits its
  own training rows too well, and in-sample quantiles are then far too tight.
* Robust training (``robust=True``, the default, needs no labels): fit, flag the training rows
  above either *theoretical* limit at confidence ``exclude_alpha``, refit on the rest, and repeat
  until the flagged set no longer changes or ``max_iter`` fits were made. Each pass re-tests all
  rows, so a row excluded early comes back if the cleaner model accepts it; never more than
  ``max_excluded`` (30 %) of the rows are excluded (the most extreme first). ``exclude_alpha``
  defaults to ``1 − (1 − alpha)/10`` (0.999 for ``alpha=0.99``) rather than ``alpha`` itself:
  trimming at the alarm limit also trims the ordinary tails of clean data at every pass, which
  shrinks the covariance and the limits and inflates the false-alarm rate (about +30 % at
  ``alpha=0.99``); at the stricter level clean data lose ~0.2 % of rows and gross outliers still
  go. Pass ``exclude_alpha=alpha`` for the textbook variant. The exclusion always uses the
  theoretical limits, because an empirical quantile flags ``1 − alpha`` of any data set.
* Rows with a NaN in any column are ignored by ``fit``. In ``score`` and ``contributions`` a
  missing variable is replaced by its training mean (a zero in scaled units), i.e. it is assumed
  normal; the ``missing`` column of :meth:`PCAMonitor.score` counts the imputed variables per row.
  A row with every model variable missing gets NaN statistics and no alarm.
* Contributions: SPE — the squared scaled residual per variable (they sum to SPE); T² — the
  complete decomposition ``c_j = ((P Λ^{-1/2} Pᵀ z)_j)²`` (Alcala & Qin 2009, 2011), which are
  non-negative and sum to T².
* Column alignment: a DataFrame is matched to the training columns by name (any order, extra
  columns ignored, missing ones raise ``ValueError``); a 2-D array must have the training columns
  in training order. A model fitted on an array names its columns ``0 … p−1``.
* :meth:`PCAMonitor.to_dict` / :meth:`PCAMonitor.from_dict` round-trip the fitted model through
  plain JSON types (column names must be ``str`` or ``int``); :attr:`PCAMonitor.version` is the
  SHA-1 of that content, a model version for tables of scores.

Isolation-Forest monitor (:class:`IsolationForestMonitor`)
---------------------------------------------------------
scikit-learn's ``IsolationForest`` (Liu, Ting & Zhou 2008) on the autoscaled data. ``score`` is
the anomaly score ``s(x) = 2^{−E[h(x)]/c(ψ)}`` of Liu et al. (``-score_samples``; higher = more
anomalous, ≈0.5 for ordinary points); the threshold is the ``alpha``-quantile of the training
scores, so its in-control alarm rate is ``1 − alpha`` up to the sampling error of that quantile
(≈ ``sqrt((1 − alpha)/n)``). Optional robust exclusion (``robust=True``) drops training rows
above Tukey's (1977) far-out fence Q3 + 3·IQR of the training scores and refits, with the PCA
monitor's pass and cap rules but one cleaning pass by default (``max_iter=2``): the score
distribution of clean data has a long right tail, so further passes keep shaving it. Sub-sampling
already makes the forest fairly insensitive to a few outliers (Liu et al. 2008). Axis-parallel
splits isolate points *outside* a curved manifold well but not a hole *inside* it (the empty
centre of a ring scores as normal); no ``to_dict`` (pickle the object if it must be stored).

Operating modes (:func:`operating_modes`)
-----------------------------------------
Per row ``'shutdown' | 'transient' | 'steady'`` from the load variable(s), see the function.

References
----------
Alcala, C.F., Qin, S.J. (2009). Reconstruction-based contribution for process monitoring.
*Automatica* 45(7), 1593-1600.
Alcala, C.F., Qin, S.J. (2011). Analysis and generalization of fault diagnosis methods for process
monitoring. *J. Process Control* 21(3), 322-330.
Box, G.E.P. (1954). Some theorems on quadratic forms applied in the study of analysis of variance
problems. *Ann. Math. Statist.* 25(2), 290-302.
Cao, S., Rhinehart, R.R. (1995). An efficient method for on-line identification of steady state.
*J. Process Control* 5(6), 363-374.
Jackson, J.E., Mudholkar, G.S. (1979). Control procedures for residuals associated with principal
component analysis. *Technometrics* 21(3), 341-349.
Kelly, J.D., Hedengren, J.D. (2013). A steady-state detection (SSD) algorithm to detect
non-stationary drifts in processes. *J. Process Control* 23(3), 326-331.
Liu, F.T., Ting, K.M., Zhou, Z.-H. (2008). Isolation forest. *Proc. IEEE ICDM 2008*, 413-422.
MacGregor, J.F., Kourti, T. (1995). Statistical process control of multivariate processes.
*Control Engineering Practice* 3(3), 403-414.
Montgomery, D.C. (2009). *Introduction to Statistical Quality Control*, 6th ed., Wiley, ch. 11.
Nomikos, P., MacGregor, J.F. (1995). Multivariate SPC charts for monitoring batch processes.
*Technometrics* 37(1), 41-59.
Tracy, N.D., Young, J.C., Mason, R.L. (1992). Multivariate control charts for individual
observations. *J. Quality Technology* 24(2), 88-95.
Tukey, J.W. (1977). *Exploratory Data Analysis*. Addison-Wesley.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["IsolationForestMonitor", "PCAMonitor", "operating_modes"]

Limits = Literal["theoretical", "empirical", "cross-validated"]
Statistic = Literal["spe", "t2"]

_LIMITS = ("theoretical", "empirical", "cross-validated")
_CV_FOLDS = 4
_STATISTICS = ("spe", "t2")
_CONSTANT_RTOL = 1e-9  # std <= rtol*|mean| counts as constant (also catches std == 0)
_DICT_FORMAT = 1


# --------------------------------------------------------------------------------------------
# shared input handling
# --------------------------------------------------------------------------------------------
def _check_fraction(name: str, value: float, *, closed_right: bool = False) -> float:
    value = float(value)
    ok = 0.0 < value <= 1.0 if closed_right else 0.0 < value < 1.0
    if not ok:
        interval = "(0, 1]" if closed_right else "(0, 1)"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return value


def _plain_name(name: Hashable) -> Hashable:
    """numpy scalars as column names become Python ones (JSON and equality friendly)."""
    return name.item() if isinstance(name, np.generic) else name


def _to_frame(X: Any) -> tuple[pd.DataFrame, bool]:
    """``X`` as a float DataFrame and whether it was a DataFrame (to keep its index)."""
    if isinstance(X, pd.DataFrame):
        non_numeric = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if non_numeric:
            raise ValueError(f"expected numeric columns only, found non-numeric {non_numeric}")
        values = X.to_numpy(dtype=float, na_value=np.nan)
        names = [_plain_name(c) for c in X.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"expected unique column names, got {names}")
        return pd.DataFrame(values, index=X.index, columns=names), True
    arr = np.asarray(X, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D array or a DataFrame, got an array of shape {arr.shape}")
    return pd.DataFrame(arr), False


class _ScaledMonitor:
    """Autoscaling, constant-column handling and column alignment shared by the monitors."""

    feature_names_: list[Hashable]
    mean_: np.ndarray
    scale_: np.ndarray
    active_: np.ndarray  # bool mask over feature_names_: columns in the model

    @property
    def constant_columns_(self) -> list[Hashable]:
        """Training columns with ~zero variance, kept out of the model."""
        self._check_fitted()
        return [c for c, a in zip(self.feature_names_, self.active_) if not a]

    def _check_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(X) first")

    @staticmethod
    def _valid_rows(values: np.ndarray, min_rows: int) -> np.ndarray:
        valid = np.isfinite(values).all(axis=1)
        if valid.sum() < min_rows:
            raise ValueError(f"need at least {min_rows} training rows without NaN, "
                             f"found {int(valid.sum())} of {len(values)}")
        return valid

    def _training_rows(self, X: Any, scale_floor: float | Mapping[Hashable, float] | None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Record the columns and floors of ``X``; its values, NaN-free mask and NaN-free rows."""
        frame, _ = _to_frame(X)
        values = frame.to_numpy()
        self.feature_names_ = list(frame.columns)
        self._set_floor(scale_floor)
        valid = self._valid_rows(values, min_rows=3)
        return values, valid, values[valid]

    def _set_robust(self, robust: bool, max_iter: int, max_excluded: float) -> None:
        """Validate and keep the robust-training options shared by the monitors."""
        self.robust = bool(robust)
        if int(max_iter) < 1:
            raise ValueError(f"max_iter must be >= 1, got {max_iter!r}")
        self.max_iter = int(max_iter)
        self.max_excluded = _check_fraction("max_excluded", max_excluded)

    def _set_floor(self, scale_floor: float | Mapping[Hashable, float] | None) -> None:
        """Per-column lower bound of the scale (0 = none), from a number or a column -> floor mapping."""
        if scale_floor is None:
            self._floor = np.zeros(len(self.feature_names_))
        elif isinstance(scale_floor, Mapping):
            self._floor = np.array([float(scale_floor.get(c, 0.0)) for c in self.feature_names_])
        else:
            self._floor = np.full(len(self.feature_names_), float(scale_floor))
        if np.any(self._floor < 0) or not np.all(np.isfinite(self._floor)):
            raise ValueError("scale_floor must be finite and >= 0")

    def _set_scaling(self, rows: np.ndarray) -> None:
        mean = rows.mean(axis=0)
        std = rows.std(axis=0, ddof=1)
        floor = getattr(self, "_floor", np.zeros(rows.shape[1]))
        # A column with a floor stays in the model even if it was constant in training: a change
        # of it then shows in SPE, scaled by the floor (e.g. the instrument's resolution or noise).
        active = (std > _CONSTANT_RTOL * np.abs(mean)) | (floor > 0)
        if not active.any():
            raise ValueError("every column is constant in the training data: nothing to monitor")
        self.mean_, self.scale_, self.active_ = mean, np.where(active, np.maximum(std, floor), 1.0), active

    def _align(self, X: Any) -> tuple[np.ndarray, pd.Index]:
        """Rows of ``X`` in training column order, and the index for the result."""
        self._check_fitted()
        if isinstance(X, pd.DataFrame):  # select by name first: extra columns may be anything
            X = X.set_axis([_plain_name(c) for c in X.columns], axis=1)
            missing = [c for c in self.feature_names_ if c not in X.columns]
            if missing:
                raise ValueError(f"X lacks the training column(s) {missing}; "
                                 f"expected {self.feature_names_}")
            X = X.loc[:, ~X.columns.duplicated()][self.feature_names_]
        frame, is_frame = _to_frame(X)
        if not is_frame and frame.shape[1] != len(self.feature_names_):
            raise ValueError(f"expected {len(self.feature_names_)} columns, got {frame.shape[1]}")
        return frame.to_numpy(), frame.index

    def _scaled(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scaled active columns with NaN -> 0 (training mean), missing count, all-missing mask."""
        z = (values[:, self.active_] - self.mean_[self.active_]) / self.scale_[self.active_]
        nan = np.isnan(z)
        z[nan] = 0.0
        missing = nan.sum(axis=1)
        return z, missing, missing == z.shape[1]


def _robust_passes(fit_rows, flag_rows, n_rows: int, *, robust: bool, max_iter: int,
                   max_excluded: float) -> tuple[np.ndarray, int, bool]:
    """Fit on kept rows, re-flag all rows, refit until the flagged set is stable.

    ``fit_rows(keep)`` fits the model on ``rows[keep]``; ``flag_rows()`` returns a severity per row
    (> 1 means excluded). Returns the kept mask, the number of fits and whether it converged.
    """
    keep = np.ones(n_rows, dtype=bool)
    cap = int(np.floor(max_excluded * n_rows))
    for n_fit in range(1, max_iter + 1):
        fit_rows(keep)
        if not robust:
            return keep, n_fit, True
        severity = flag_rows()
        flagged = severity > 1.0
        if flagged.sum() > cap:  # keep the cap, excluding the most extreme rows first
            flagged = np.zeros(n_rows, dtype=bool)
            if cap:
                flagged[np.argsort(-severity, kind="stable")[:cap]] = True
        if np.array_equal(~flagged, keep):
            return keep, n_fit, True
        if n_fit == max_iter:
            return keep, n_fit, False
        keep = ~flagged
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# PCA monitor
# --------------------------------------------------------------------------------------------
def _t2_limit_f(k: int, n: int, alpha: float) -> float:
    """T² limit for a new observation: ``k (n²−1)/(n (n−k)) F_{k,n−k}(alpha)``."""
    return float(k * (n**2 - 1) / (n * (n - k)) * stats.f.ppf(alpha, k, n - k))


def _spe_limit_jackson_mudholkar(residual_eigenvalues: np.ndarray, alpha: float) -> float:
    """Jackson & Mudholkar (1979) SPE limit; NaN when the approximation is degenerate."""
    lam = np.asarray(residual_eigenvalues, dtype=float)
    theta1, theta2, theta3 = (float(np.sum(lam**i)) for i in (1, 2, 3))
    if not (theta1 > 0 and theta2 > 0):
        return float("nan")
    h0 = 1.0 - 2.0 * theta1 * theta3 / (3.0 * theta2**2)
    if h0 <= 0:
        return float("nan")
    c = stats.norm.ppf(alpha)
    base = c * np.sqrt(2.0 * theta2 * h0**2) / theta1 + 1.0 + theta2 * h0 * (h0 - 1.0) / theta1**2
    if base <= 0:
        return float("nan")
    return float(theta1 * base ** (1.0 / h0))


def _spe_limit_box(spe: np.ndarray, alpha: float) -> float:
    """Box's ``g·χ²_h`` SPE limit from moments of the training SPE (Nomikos & MacGregor 1995)."""
    mean, var = float(np.mean(spe)), float(np.var(spe, ddof=1))
    if mean <= 0 or var <= 0:
        return float(np.max(spe)) if len(spe) else 0.0
    g, h = var / (2.0 * mean), 2.0 * mean**2 / var
    return float(g * stats.chi2.ppf(alpha, h))


class PCAMonitor(_ScaledMonitor):
    """PCA model of normal operation with Hotelling's T² and SPE (Q) charts.

    Parameters
    ----------
    variance : float, default 0.90
        Keep the smallest number of components whose cumulative explained variance (of the
        autoscaled data) reaches this fraction. Ignored when ``n_components`` is given.
    alpha : float, default 0.99
        Confidence level of the control limits (the expected in-control alarm rate of each chart
        is ``1 - alpha``).
    n_components : int, optional
        Fixed number of components (overrides ``variance``).
    limits : {"theoretical", "empirical"}, default "theoretical"
        ``"theoretical"``: F-distribution T² limit and Jackson-Mudholkar SPE limit.
        ``"empirical"``: ``alpha``-quantiles of the training T² and SPE.
    robust : bool, default True
        Exclude training outliers iteratively (see the module docstring).
    max_iter : int, default 10
        Maximum number of fits in robust training.
    max_excluded : float, default 0.30
        Never exclude more than this fraction of the (NaN-free) training rows.
    exclude_alpha : float, optional
        Confidence of the theoretical limits used to exclude training rows. Default
        ``1 - (1 - alpha) / 10``.

    Attributes
    ----------
    n_components : int
        Number of retained components ``k``.
    t2_limit, spe_limit : float
        Control limits of T² and SPE.
    feature_names_ : list
        Training columns (``0 … p-1`` for an array).
    constant_columns_ : list
        Training columns with ~zero variance (not in the model).
    mean_, scale_ : ndarray
        Training mean and standard deviation per column (scale 1 for constant columns).
    loadings_ : ndarray, shape (p_model, k)
        Loadings of the model (non-constant) columns.
    eigenvalues_ : ndarray
        All eigenvalues of the correlation matrix of the model columns, descending.
    explained_variance_ratio_ : ndarray
        ``eigenvalues_ / eigenvalues_.sum()``.
    n_samples_ : int
        Training rows the final model was fitted on.
    n_incomplete_ : int
        Training rows ignored because they contain NaN.
    n_excluded_ : int
        Training rows excluded as outliers by robust training.
    excluded_ : ndarray of bool or None
        Per row of the ``X`` given to ``fit``: excluded as an outlier (``None`` after
        :meth:`from_dict`).
    n_iter_ : int
        Number of fits made; ``converged_`` says whether the excluded set became stable.
    spe_limit_method_ : str
        ``"jackson-mudholkar"``, ``"box"``, ``"empirical"`` or ``"none"`` (no residual space).
    """

    def __init__(self, variance: float = 0.90, alpha: float = 0.99, *,
                 n_components: int | None = None, limits: Limits = "theoretical",
                 robust: bool = True, max_iter: int = 10, max_excluded: float = 0.30,
                 exclude_alpha: float | None = None) -> None:
        self.variance = _check_fraction("variance", variance, closed_right=True)
        self.alpha = _check_fraction("alpha", alpha)
        if n_components is not None and (int(n_components) != n_components or n_components < 1):
            raise ValueError(f"n_components must be a positive integer, got {n_components!r}")
        self.n_components_param = None if n_components is None else int(n_components)
        if limits not in _LIMITS:
            raise ValueError(f"limits must be one of {_LIMITS}, got {limits!r}")
        self.limits = limits
        self._set_robust(robust, max_iter, max_excluded)
        self.exclude_alpha = (1.0 - (1.0 - self.alpha) / 10.0 if exclude_alpha is None
                              else _check_fraction("exclude_alpha", exclude_alpha))

    # ---- fitting ---------------------------------------------------------------------------
    def fit(self, X: Any, *, scale_floor: float | Mapping[Hashable, float] | None = None) -> PCAMonitor:
        """Fit the model of normal operation.

        Parameters
        ----------
        X : ndarray of shape (n, p) or DataFrame
            Rows of normal operation. Rows containing NaN are ignored.
        scale_floor : float or mapping of column to float, optional
            Lower bound of each column's scale (in the column's units). Autoscaling divides by the
            training standard deviation; a column that barely moved in training (a tag held by a
            controller, a quiet analyser) would otherwise turn a harmless change into a huge
            statistic. A floor such as a small fraction of the instrument span keeps such changes
            in proportion.

        Returns
        -------
        PCAMonitor
            ``self``, fitted.
        """
        values, valid, rows = self._training_rows(X, scale_floor)

        def fit_rows(keep: np.ndarray) -> None:
            self._fit_pca(rows[keep])

        def flag_rows() -> np.ndarray:
            t2, spe = self._statistics(self._scaled(rows)[0])
            t2_lim = _t2_limit_f(self.n_components, self.n_samples_, self.exclude_alpha)
            sev = t2 / t2_lim
            if self._residual_eigenvalues.size:
                spe_lim = self._theoretical_spe_limit(self.exclude_alpha)
                sev = np.maximum(sev, spe / spe_lim)
            return sev

        keep, self.n_iter_, self.converged_ = _robust_passes(
            fit_rows, flag_rows, len(rows), robust=self.robust, max_iter=self.max_iter,
            max_excluded=self.max_excluded)
        self.excluded_ = np.zeros(len(values), dtype=bool)
        self.excluded_[np.flatnonzero(valid)[~keep]] = True
        self.n_excluded_ = int(self.excluded_.sum())
        self.n_incomplete_ = int((~valid).sum())
        self._set_limits(rows[keep])
        return self

    def _fit_pca(self, rows: np.ndarray) -> None:
        self._set_scaling(rows)
        z = (rows[:, self.active_] - self.mean_[self.active_]) / self.scale_[self.active_]
        n, p = z.shape
        _, s, vt = np.linalg.svd(z, full_matrices=False)
        eig = np.zeros(p)
        eig[: s.size] = s**2 / (n - 1)
        loadings = vt.T
        # sign convention: the largest |loading| of each component is positive (reproducible)
        idx = np.argmax(np.abs(loadings), axis=0)
        loadings = loadings * np.sign(loadings[idx, np.arange(loadings.shape[1])])
        rank = int(np.sum(eig > eig[0] * 1e-12)) if eig[0] > 0 else 0
        if self.n_components_param is not None:
            k = self.n_components_param
            if k > rank:
                raise ValueError(f"n_components={k} exceeds the rank {rank} of the training data "
                                 f"({p} non-constant columns, {n} rows)")
        else:
            cum = np.cumsum(eig) / eig.sum()
            k = min(int(np.searchsorted(cum, self.variance - 1e-12) + 1), rank)
        if n - k < 1:
            raise ValueError(f"need more training rows than components: {n} rows, k={k}")
        self.n_components = k
        self.n_samples_ = n
        self.eigenvalues_ = eig
        self.loadings_ = loadings[:, :k]
        self._residual_eigenvalues = eig[k:][eig[k:] > 0]
        self._train_spe = self._statistics(z)[1]  # for Box's fallback

    def _theoretical_spe_limit(self, alpha: float) -> float:
        lim = _spe_limit_jackson_mudholkar(self._residual_eigenvalues, alpha)
        self._spe_method = "jackson-mudholkar"
        if not np.isfinite(lim):
            lim = _spe_limit_box(self._train_spe, alpha)
            self._spe_method = "box"
        return lim

    def _out_of_fold(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """T² and SPE of each training row from a model fitted without its (contiguous) fold."""
        folds = np.array_split(np.arange(len(rows)), _CV_FOLDS)
        t2, spe = np.empty(len(rows)), np.empty(len(rows))
        for idx in folds:
            rest = np.setdiff1d(np.arange(len(rows)), idx)
            sub = PCAMonitor(alpha=self.alpha, n_components=min(self.n_components, len(rest) - 2, rows.shape[1]),
                             limits="theoretical", robust=False)
            sub.feature_names_ = self.feature_names_
            sub._floor = getattr(self, "_floor", np.zeros(rows.shape[1]))
            sub._fit_pca(rows[rest])
            t2[idx], spe[idx] = sub._statistics(sub._scaled(rows[idx])[0])
        return t2, spe

    def _set_limits(self, rows: np.ndarray) -> None:
        t2, spe = self._statistics(self._scaled(rows)[0])
        k, n = self.n_components, self.n_samples_
        if self.limits == "cross-validated" and len(rows) >= 4 * _CV_FOLDS:
            t2, spe = self._out_of_fold(rows)
        if self.limits in ("empirical", "cross-validated"):
            self.t2_limit = float(np.quantile(t2, self.alpha))
            self.t2_limit_method_ = self.limits
        else:
            self.t2_limit = _t2_limit_f(k, n, self.alpha)
            self.t2_limit_method_ = "f"
        if not self._residual_eigenvalues.size:
            self.spe_limit, self.spe_limit_method_ = 0.0, "none"
        elif self.limits in ("empirical", "cross-validated"):
            self.spe_limit = float(np.quantile(spe, self.alpha))
            self.spe_limit_method_ = self.limits
        else:
            self.spe_limit = self._theoretical_spe_limit(self.alpha)
            self.spe_limit_method_ = self._spe_method

    # ---- statistics ------------------------------------------------------------------------
    @property
    def explained_variance_ratio_(self) -> np.ndarray:
        self._check_fitted()
        return self.eigenvalues_ / self.eigenvalues_.sum()

    def _statistics(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = z @ self.loadings_
        t2 = np.sum(scores**2 / self.eigenvalues_[: self.n_components], axis=1)
        if self.n_components == z.shape[1]:
            spe = np.zeros(len(z))  # no residual subspace
        else:
            spe = np.sum((z - scores @ self.loadings_.T) ** 2, axis=1)
        return t2, spe

    def score(self, X: Any) -> pd.DataFrame:
        """T², SPE and their alarms for each row of ``X``.

        Parameters
        ----------
        X : ndarray of shape (m, p) or DataFrame
            New rows; a DataFrame is aligned to the training columns by name.

        Returns
        -------
        DataFrame
            Index of ``X`` (a RangeIndex for arrays); columns ``t2``, ``spe`` (float),
            ``t2_alarm``, ``spe_alarm`` (bool, statistic above its limit) and ``missing``
            (number of model variables that were NaN and replaced by the training mean).
        """
        values, index = self._align(X)
        z, missing, empty = self._scaled(values)
        t2, spe = self._statistics(z)
        t2[empty], spe[empty] = np.nan, np.nan
        with np.errstate(invalid="ignore"):
            t2_alarm = t2 > self.t2_limit
            spe_alarm = spe > self.spe_limit
        if self.spe_limit_method_ == "none":  # no residual subspace: SPE is 0 by construction
            spe_alarm[:] = False
        return pd.DataFrame({"t2": t2, "spe": spe, "t2_alarm": t2_alarm, "spe_alarm": spe_alarm,
                             "missing": missing.astype(int)}, index=index)

    def contributions(self, X: Any, statistic: Statistic = "spe") -> pd.DataFrame:
        """Per-variable contributions to SPE or T²; each row sums to the statistic.

        Parameters
        ----------
        X : ndarray or DataFrame
            Rows to explain (aligned as in :meth:`score`).
        statistic : {"spe", "t2"}, default "spe"
            ``"spe"``: squared scaled residual per variable. ``"t2"``: complete-decomposition
            contributions ``((P Λ^{-1/2} Pᵀ z)_j)²`` (Alcala & Qin 2009).

        Returns
        -------
        DataFrame
            Index of ``X``, one column per training column; constant columns are 0.
        """
        if statistic not in _STATISTICS:
            raise ValueError(f"statistic must be one of {_STATISTICS}, got {statistic!r}")
        values, index = self._align(X)
        z, _, empty = self._scaled(values)
        scores = z @ self.loadings_
        if statistic == "spe":
            part = (z - scores @ self.loadings_.T) ** 2
        else:
            root = scores / np.sqrt(self.eigenvalues_[: self.n_components])
            part = (root @ self.loadings_.T) ** 2  # (z P Λ^-1/2 Pᵀ)_j²
        out = np.zeros((len(values), len(self.feature_names_)))
        out[:, self.active_] = part
        out[empty] = np.nan
        return pd.DataFrame(out, index=index, columns=pd.Index(self.feature_names_, dtype=object))

    def top_contributors(self, X: Any, n: int = 3, statistic: Statistic = "spe") -> pd.Series:
        """The ``n`` largest contributors of each row as ``[(column, share), ...]``, descending.

        ``share`` is the contribution divided by the row's statistic, rounded to 3 decimals
        (0 when the statistic is 0). Returns a Series with the index of ``X``.
        """
        contrib = self.contributions(X, statistic=statistic)
        values = contrib.to_numpy()
        total = values.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, values / total, 0.0)
        order = np.argsort(-share, axis=1, kind="stable")[:, :n]
        names = list(contrib.columns)
        rows = [[(names[j], round(float(share[i, j]), 3)) for j in order[i]]
                for i in range(len(values))]
        return pd.Series(rows, index=contrib.index, name=f"top_{statistic}_contributors",
                         dtype=object)

    # ---- persistence -----------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "kind": "PCAMonitor",
            "format": _DICT_FORMAT,
            "params": {"variance": self.variance, "alpha": self.alpha,
                       "n_components": self.n_components_param, "limits": self.limits,
                       "robust": self.robust, "max_iter": self.max_iter,
                       "max_excluded": self.max_excluded, "exclude_alpha": self.exclude_alpha},
            "columns": list(self.feature_names_),
            "active": self.active_.tolist(),
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "loadings": self.loadings_.tolist(),
            "eigenvalues": self.eigenvalues_.tolist(),
            "n_components": self.n_components,
            "t2_limit": self.t2_limit,
            "spe_limit": self.spe_limit,
            "t2_limit_method": self.t2_limit_method_,
            "spe_limit_method": self.spe_limit_method_,
            "n_samples": self.n_samples_,
            "n_incomplete": self.n_incomplete_,
            "n_excluded": self.n_excluded_,
            "n_iter": self.n_iter_,
            "converged": self.converged_,
        }

    @staticmethod
    def _fingerprint(state: Mapping[str, Any]) -> str:
        payload = json.dumps(state, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha1(payload.encode()).hexdigest()

    @property
    def version(self) -> str:
        """SHA-1 (hex) of the fitted model's content: equal models share it."""
        return self._fingerprint(self._state())

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-serialisable types (``json.dumps`` works on it)."""
        state = self._state()
        return {**state, "version": self._fingerprint(state)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PCAMonitor:
        """Rebuild a fitted model from :meth:`to_dict`; checks kind, format and version."""
        if d.get("kind") != "PCAMonitor" or d.get("format") != _DICT_FORMAT:
            raise ValueError(f"expected a PCAMonitor dict of format {_DICT_FORMAT}, "
                             f"got kind={d.get('kind')!r} format={d.get('format')!r}")
        state = {k: v for k, v in d.items() if k != "version"}
        if "version" in d and d["version"] != cls._fingerprint(state):
            raise ValueError(f"version {d['version']!r} does not match the content "
                             f"({cls._fingerprint(state)!r}): the dict was altered")
        m = cls(**d["params"])
        m.feature_names_ = list(d["columns"])
        m.active_ = np.asarray(d["active"], dtype=bool)
        m.mean_ = np.asarray(d["mean"], dtype=float)
        m.scale_ = np.asarray(d["scale"], dtype=float)
        m.n_components = int(d["n_components"])
        m.loadings_ = np.asarray(d["loadings"], dtype=float).reshape(int(m.active_.sum()),
                                                                    m.n_components)
        m.eigenvalues_ = np.asarray(d["eigenvalues"], dtype=float)
        residual = m.eigenvalues_[m.n_components:]
        m._residual_eigenvalues = residual[residual > 0]
        m.t2_limit, m.spe_limit = float(d["t2_limit"]), float(d["spe_limit"])
        m.t2_limit_method_, m.spe_limit_method_ = d["t2_limit_method"], d["spe_limit_method"]
        m.n_samples_, m.n_incomplete_ = int(d["n_samples"]), int(d["n_incomplete"])
        m.n_excluded_, m.n_iter_ = int(d["n_excluded"]), int(d["n_iter"])
        m.converged_ = bool(d["converged"])
        m.excluded_ = None
        return m

    def __repr__(self) -> str:
        if not hasattr(self, "mean_"):
            return f"PCAMonitor(variance={self.variance}, alpha={self.alpha}, unfitted)"
        return (f"PCAMonitor(k={self.n_components}, t2_limit={self.t2_limit:.4g}, "
                f"spe_limit={self.spe_limit:.4g}, n_samples={self.n_samples_}, "
                f"n_excluded={self.n_excluded_})")


# --------------------------------------------------------------------------------------------
# Isolation-Forest monitor
# --------------------------------------------------------------------------------------------
class IsolationForestMonitor(_ScaledMonitor):
    """Nonlinear detector with the PCA monitor's API: scikit-learn's Isolation Forest.

    Parameters
    ----------
    alpha : float, default 0.99
        The alarm threshold is the ``alpha``-quantile of the training scores.
    n_estimators : int, default 200
        Number of trees.
    random_state : int, default 0
        Seed; results are identical for the same seed and data.
    max_samples : int, float or "auto", default "auto"
        Sub-sample size per tree (``IsolationForest``'s parameter).
    robust : bool, default False
        Exclude training rows above Tukey's far-out fence of the training scores and refit.
    max_iter : int, default 2
        Maximum number of fits in robust training (2 = one cleaning pass).
    max_excluded : float, default 0.30
        As for :class:`PCAMonitor`.

    Attributes
    ----------
    threshold : float
        Alarm threshold on ``score``.
    model_ : sklearn.ensemble.IsolationForest
        The fitted forest (on the scaled non-constant columns).
    n_samples_, n_incomplete_, n_excluded_, excluded_, feature_names_, constant_columns_
        As for :class:`PCAMonitor`.
    """

    def __init__(self, alpha: float = 0.99, n_estimators: int = 200, random_state: int = 0, *,
                 max_samples: int | float | str = "auto", robust: bool = False,
                 max_iter: int = 2, max_excluded: float = 0.30) -> None:
        self.alpha = _check_fraction("alpha", alpha)
        if int(n_estimators) < 1:
            raise ValueError(f"n_estimators must be >= 1, got {n_estimators!r}")
        self.n_estimators = int(n_estimators)
        self.random_state = random_state
        self.max_samples = max_samples
        self._set_robust(robust, max_iter, max_excluded)

    def fit(self, X: Any, *, scale_floor: float | Mapping[Hashable, float] | None = None
            ) -> IsolationForestMonitor:
        """Fit the forest on normal operation (rows with NaN ignored); returns ``self``.

        ``scale_floor`` bounds each column's scale from below, as in :meth:`PCAMonitor.fit`.
        """
        from sklearn.ensemble import IsolationForest

        values, valid, rows = self._training_rows(X, scale_floor)
        z_all: list[np.ndarray] = []

        def fit_rows(keep: np.ndarray) -> None:
            self._set_scaling(rows[keep])
            z_all[:] = [self._scaled(rows)[0]]
            self.model_ = IsolationForest(n_estimators=self.n_estimators,
                                          max_samples=self.max_samples,
                                          random_state=self.random_state, n_jobs=1)
            self.model_.fit(z_all[0][keep])
            self._keep = keep

        def flag_rows() -> np.ndarray:
            s = -self.model_.score_samples(z_all[0])
            q1, q3 = np.quantile(s[self._keep], [0.25, 0.75])
            fence = q3 + 3.0 * (q3 - q1)
            return s / fence

        keep, self.n_iter_, self.converged_ = _robust_passes(
            fit_rows, flag_rows, len(rows), robust=self.robust, max_iter=self.max_iter,
            max_excluded=self.max_excluded)
        del self._keep
        self.excluded_ = np.zeros(len(values), dtype=bool)
        self.excluded_[np.flatnonzero(valid)[~keep]] = True
        self.n_excluded_ = int(self.excluded_.sum())
        self.n_incomplete_ = int((~valid).sum())
        self.n_samples_ = int(keep.sum())
        self.threshold = float(np.quantile(-self.model_.score_samples(z_all[0][keep]), self.alpha))
        return self

    def score(self, X: Any) -> pd.DataFrame:
        """Anomaly score per row (higher = more anomalous) and ``alarm = score > threshold``.

        Returns a DataFrame with the index of ``X`` and columns ``score``, ``alarm`` and
        ``missing`` (variables replaced by the training mean). Rows with every model variable
        missing get a NaN score and no alarm.
        """
        values, index = self._align(X)
        z, missing, empty = self._scaled(values)
        s = -self.model_.score_samples(z) if len(z) else np.zeros(0)
        s[empty] = np.nan
        with np.errstate(invalid="ignore"):
            alarm = s > self.threshold
        return pd.DataFrame({"score": s, "alarm": alarm, "missing": missing.astype(int)},
                            index=index)


# --------------------------------------------------------------------------------------------
# operating modes
# --------------------------------------------------------------------------------------------
def _running_level(x: pd.Series) -> float:
    """Median of the top half of the values: the typical running level, even with long outages."""
    v = np.sort(x.dropna().to_numpy())
    if v.size == 0:
        raise ValueError(f"load column {x.name!r} has no values")
    return float(np.median(v[v.size // 2:]))


def _noise_sd(y: pd.Series, running: pd.Series) -> float:
    """Noise standard deviation from successive differences of running rows.

    ``median |Δy| / (√2 · 0.6745)``: the von Neumann successive-difference idea (also the noise
    estimate of Cao & Rhinehart 1995) made robust with the median, so ramps and steps, which
    are a minority of the differences, do not inflate it.
    """
    d = y.diff().where(running & running.shift(1, fill_value=False)).abs().dropna()
    return float(d.median() / (np.sqrt(2.0) * stats.norm.ppf(0.75))) if len(d) else 0.0


def _window_slope_test(y: pd.Series, window: int, significance: float, min_change: float,
                       noise_sd: float) -> pd.Series:
    """True where a centred window shows a significant AND relevant linear trend.

    Least-squares slope ``b`` against the row number in a centred window of ``window`` rows;
    ``z = b / (noise_sd / sqrt(S_tt))``. A row is transient when ``|z| > z_{1-significance/2}``
    and ``|b| (window - 1) >= min_change``. Rows with fewer than 3 valid rows in their window are
    transient (not provably steady).
    """
    pos = pd.Series(np.arange(len(y), dtype=float) - len(y) / 2.0, index=y.index).where(y.notna())
    roll = {"window": window, "center": True, "min_periods": 1}
    m = y.notna().astype(float).rolling(**roll).sum()
    st, sy = pos.rolling(**roll).sum(), y.rolling(**roll).sum()
    stt, sty = (pos * pos).rolling(**roll).sum(), (pos * y).rolling(**roll).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        ctt = (stt - st * st / m).to_numpy()
        b = np.abs((sty - st * sy / m).to_numpy() / ctt)
        z = np.where(noise_sd > 0, b * np.sqrt(ctt) / noise_sd, np.where(b > 0, np.inf, 0.0))
    trend = (z > stats.norm.ppf(1.0 - significance / 2.0)) & (b * (window - 1) >= min_change)
    too_few = (m < 3).to_numpy()
    return pd.Series(too_few | np.nan_to_num(trend, nan=True).astype(bool), index=y.index)


def operating_modes(X: pd.DataFrame, load: str | Sequence[str], *, shutdown_fraction: float = 0.2,
                    window: int = 7, significance: float = 0.01, min_change: float = 0.03,
                    columns: Mapping[str, float] | None = None, margin: int | None = None,
                    how: Literal["all", "any"] = "all") -> pd.Series:
    """Label each row ``'shutdown'``, ``'transient'`` or ``'steady'`` from the data alone.

    Parameters
    ----------
    X : DataFrame
        Process data with a regular, increasing :class:`~pandas.DatetimeIndex` (e.g. hourly;
        gaps must be NaN rows — resample first: ``X.resample("1h").mean()``).
    load : str or list of str
        Load / throughput column(s) (feed rate, production rate, power), positive when running.
    shutdown_fraction : float, default 0.2
        A load column is "down" below ``shutdown_fraction ×`` its typical running level, the
        median of the top half of its values (robust to outages covering up to ~75 % of the data).
    window : int, default 7
        Rows in the centred window of the steady-state test (7 h for hourly data).
    significance : float, default 0.01
        Two-sided level of the slope test.
    min_change : float, default 0.03
        Smallest relevant change of a load column across the window, as a fraction of its running
        level (a statistically significant but tiny drift is still steady).
    columns : mapping of str to float, optional
        Further columns to test, each with its own smallest relevant change across the window in
        its own units, e.g. ``{"reactor_temp_degc": 2.0}``.
    margin : int, optional
        Rows just before and after a shutdown that are transient whatever the test says (shut-down
        and start-up ramps). Default ``window``.
    how : {"all", "any"}, default "all"
        With several load columns: shutdown when all (or any) of them are down.

    Returns
    -------
    Series of str
        Index of ``X``, name ``"mode"``.

    Notes
    -----
    Steady-state test: a windowed least-squares slope test — is the slope of the window's linear
    trend different from zero (Montgomery & Runger, *Applied Statistics and Probability for
    Engineers*, sec. 11-4; the moving-window steady-state detector of Kelly & Hedengren 2013 uses
    the same idea)? The noise standard deviation is pooled over all running rows from successive
    differences (``median |Δy| / (√2·0.6745)``, cf. the δ² filter of Cao & Rhinehart 1995)
    instead of taken from the window's own residuals, so a step change, which a line fits badly,
    is flagged as well as a ramp. The test is combined with the practical threshold
    ``min_change`` because process noise is autocorrelated: successive differences then
    understate the noise and a pure significance test would flag harmless slow drifts.

    Assumptions: the rows are equally spaced (the window counts rows); the load is positive when
    running; a row whose load is NaN cannot be classified and is reported as ``'transient'`` (so
    it is not used as steady training data); the centred window widens transients by up to
    ``window // 2`` rows on each side.
    """
    if not isinstance(X.index, pd.DatetimeIndex):
        raise ValueError(f"X must have a DatetimeIndex, got {type(X.index).__name__}")
    if not (X.index.is_monotonic_increasing and X.index.is_unique):
        raise ValueError("X's DatetimeIndex must be increasing and unique")
    if len(X) > 2:
        steps = np.unique(np.diff(X.index.asi8))
        if steps.size > 1:
            raise ValueError(f"X's DatetimeIndex must be regular (one step), found {steps.size} "
                             "different steps; resample first, e.g. X.resample('1h').mean()")
    loads = [load] if isinstance(load, str) else list(load)
    extra = dict(columns or {})
    missing = [c for c in [*loads, *extra] if c not in X.columns]
    if missing:
        raise ValueError(f"X lacks the column(s) {missing}; has {list(X.columns)}")
    if not loads:
        raise ValueError("load must name at least one column")
    if how not in ("all", "any"):
        raise ValueError(f"how must be 'all' or 'any', got {how!r}")
    _check_fraction("shutdown_fraction", shutdown_fraction)
    _check_fraction("significance", significance)
    if int(window) < 3:
        raise ValueError(f"window must be >= 3 rows, got {window!r}")
    window = int(window)
    margin = window if margin is None else int(margin)

    levels, down = {}, []
    for col in loads:
        y = X[col].astype(float)
        levels[col] = _running_level(y)
        if levels[col] <= 0:
            raise ValueError(f"load column {col!r} must be positive when running; "
                             f"its running level is {levels[col]}")
        down.append((y < shutdown_fraction * levels[col]).where(y.notna()))
    down_frame = pd.concat(down, axis=1).astype(float)  # 1 down, 0 running, NaN unknown
    shutdown = (down_frame.min(axis=1) if how == "all" else down_frame.max(axis=1)) == 1.0
    running = ~shutdown
    transient = pd.Series(False, index=X.index)
    tests = [(X[c].astype(float) / levels[c], min_change) for c in loads]
    tests += [(X[c].astype(float), float(change)) for c, change in extra.items()]
    for y, change in tests:
        transient |= _window_slope_test(y, window, significance, change, _noise_sd(y, running))
    if margin > 0:
        near = shutdown.astype(float).rolling(2 * margin + 1, center=True, min_periods=1).max() > 0
        transient |= near
    no_load = X[loads].isna().all(axis=1)
    mode = np.where(shutdown, "shutdown", np.where(transient | no_load, "transient", "steady"))
    return pd.Series(mode, index=X.index, name="mode", dtype=object)
