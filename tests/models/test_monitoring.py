"""Tests of models.monitoring against independent formulas and seeded synthetic plants.

Data: 10 sensors driven by 3 latent variables (rank 3) plus independent noise, so the true number
of components, the direction a fault moves the data in and the expected alarm rates are known.
Alarm-rate tolerances are stated next to each assertion: binomial standard deviation of the test
sample plus the sampling error of limits estimated from the training sample.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from models.monitoring import IsolationForestMonitor, PCAMonitor, operating_modes

P, RANK, NOISE = 10, 3, 0.3
LOADINGS = np.random.default_rng(42).normal(size=(RANK, P))  # fixed plant structure


def plant(n: int, seed: int) -> np.ndarray:
    """In-control data: rank-3 structure plus noise (std 0.3 per sensor)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, RANK)) @ LOADINGS + NOISE * rng.normal(size=(n, P))


@pytest.fixture(scope="module")
def train() -> np.ndarray:
    return plant(2000, seed=1)


@pytest.fixture(scope="module")
def fresh() -> np.ndarray:
    return plant(20000, seed=2)


@pytest.fixture(scope="module")
def model(train) -> PCAMonitor:
    return PCAMonitor(variance=0.90, alpha=0.99).fit(train)


# ---- PCA: structure, limits, alarm rates ----------------------------------------------------
def test_finds_true_rank_and_nominal_false_alarm_rate(model, fresh):
    assert model.n_components == RANK
    s = model.score(fresh)
    # nominal 0.01; binomial sd on 20 000 rows is 0.0007, the limits' own sampling error from
    # 2 000 training rows adds ~0.001 -> tolerance 0.003 (3 sd of the combined error)
    assert abs(s["t2_alarm"].mean() - 0.01) < 0.003
    assert abs(s["spe_alarm"].mean() - 0.01) < 0.003


def test_robust_training_leaves_clean_data_almost_untouched(model, train):
    plain = PCAMonitor(robust=False).fit(train)
    assert model.n_excluded_ <= 0.005 * len(train)  # exclude_alpha 0.999: ~0.2 % tails
    assert model.t2_limit == pytest.approx(plain.t2_limit, rel=0.01)
    assert model.spe_limit == pytest.approx(plain.spe_limit, rel=0.02)


def test_limits_equal_f_and_jackson_mudholkar_formulas(train):
    m = PCAMonitor(variance=0.90, alpha=0.99, robust=False).fit(train)
    n, k, alpha = len(train), m.n_components, 0.99
    t2 = k * (n**2 - 1) / (n * (n - k)) * stats.f.ppf(alpha, k, n - k)
    assert m.t2_limit == pytest.approx(t2, rel=1e-12)

    lam = np.sort(np.linalg.eigvalsh(np.corrcoef(train, rowvar=False)))[::-1][k:]
    th1, th2, th3 = lam.sum(), (lam**2).sum(), (lam**3).sum()
    h0 = 1 - 2 * th1 * th3 / (3 * th2**2)
    ca = stats.norm.ppf(alpha)
    q = th1 * (ca * np.sqrt(2 * th2 * h0**2) / th1 + 1 + th2 * h0 * (h0 - 1) / th1**2) ** (1 / h0)
    assert m.spe_limit_method_ == "jackson-mudholkar"
    assert m.spe_limit == pytest.approx(q, rel=1e-9)


def test_spe_limit_falls_back_to_box_when_jackson_mudholkar_degenerates():
    # one large and 39 small residual eigenvalues: h0 = 1 - 2 θ1 θ3 / (3 θ2²) < 0
    rng = np.random.default_rng(0)
    n, p = 3000, 40
    rotation = np.linalg.qr(rng.normal(size=(p, p)))[0]
    resid = np.column_stack([2.0 * rng.normal(size=n), 0.4 * rng.normal(size=(n, p - 1))])
    X = 3.0 * rng.normal(size=(n, 2)) @ rng.normal(size=(2, p)) + resid @ rotation
    m = PCAMonitor(n_components=2, robust=False).fit(X)
    lam = m.eigenvalues_[2:]
    assert 1 - 2 * lam.sum() * (lam**3).sum() / (3 * ((lam**2).sum()) ** 2) < 0
    spe = m.score(X)["spe"].to_numpy()
    g, h = spe.var(ddof=1) / (2 * spe.mean()), 2 * spe.mean() ** 2 / spe.var(ddof=1)
    assert m.spe_limit_method_ == "box"
    assert m.spe_limit == pytest.approx(g * stats.chi2.ppf(0.99, h), rel=1e-9)
    assert 0.005 < (spe > m.spe_limit).mean() < 0.03  # an approximation: near, not at, 0.01


def test_empirical_limits_are_training_quantiles(train):
    m = PCAMonitor(limits="empirical", alpha=0.95, robust=False).fit(train)
    s = m.score(train)
    assert m.t2_limit == pytest.approx(np.quantile(s["t2"], 0.95), rel=1e-12)
    assert m.spe_limit == pytest.approx(np.quantile(s["spe"], 0.95), rel=1e-12)
    assert s["t2_alarm"].mean() == pytest.approx(0.05, abs=0.001)


def test_n_components_override(train):
    m = PCAMonitor(n_components=5).fit(train)
    assert m.n_components == 5 and m.loadings_.shape == (P, 5)
    with pytest.raises(ValueError, match="limits must be one of"):
        PCAMonitor(limits="chi2")


# ---- PCA: faults and diagnosis -----------------------------------------------------------------
def test_sensor_bias_breaks_correlation_caught_by_spe_and_named_first(model, fresh):
    faulty = fresh[:2000].copy()
    faulty[:, 7] += 2.0  # bias of 6.7 noise sd = 1.8 sd of the sensor's own spread
    univariate = (np.abs(faulty[:, 7] - model.mean_[7]) > 3 * model.scale_[7]).mean()
    assert univariate < 0.15  # a 3-sigma chart on the sensor alone mostly misses it
    s = model.score(faulty)
    assert s["spe_alarm"].mean() > 0.95
    top = model.top_contributors(faulty[s["spe_alarm"].to_numpy()], n=3)
    first = np.array([row[0][0] for row in top])
    assert (first == 7).mean() > 0.98
    assert all(row[0][1] >= row[1][1] >= row[2][1] for row in top)  # sorted shares


def test_shift_along_principal_direction_caught_by_t2_not_spe(model, fresh):
    # a shift of 5 sd along the first principal direction: inside the model plane
    lam1 = model.eigenvalues_[0]
    step_scaled = 5.0 * np.sqrt(lam1) * model.loadings_[:, 0]
    faulty = fresh[:2000] + step_scaled * model.scale_
    s = model.score(faulty)
    assert s["t2_alarm"].mean() > 0.9
    assert s["spe_alarm"].mean() < 0.02  # unchanged residual: nominal 0.01 (+4 binomial sd)


def test_contributions_sum_to_statistics(model, fresh):
    x = fresh[:200].copy()
    x[:, 7] += 3.0
    s = model.score(x)
    spe_c = model.contributions(x, statistic="spe")
    t2_c = model.contributions(x, statistic="t2")
    np.testing.assert_allclose(spe_c.sum(axis=1), s["spe"], rtol=1e-10)
    np.testing.assert_allclose(t2_c.sum(axis=1), s["t2"], rtol=1e-10)
    assert (t2_c.to_numpy() >= 0).all()
    assert list(spe_c.columns) == list(range(P))


# ---- PCA: robust training ------------------------------------------------------------------
def test_gross_outliers_in_training_are_excluded(train):
    rng = np.random.default_rng(7)
    dirty = train.copy()
    bad = rng.choice(len(train), size=len(train) // 10, replace=False)  # 10 %
    sd = train.std(axis=0)
    for i in bad:
        j = rng.choice(P, size=rng.integers(1, 4), replace=False)
        dirty[i, j] += rng.choice([-1, 1], size=j.size) * rng.uniform(5, 10, size=j.size) * sd[j]
    clean = PCAMonitor().fit(train)
    robust = PCAMonitor().fit(dirty)
    naive = PCAMonitor(robust=False).fit(dirty)

    assert robust.excluded_[bad].mean() > 0.98
    assert np.delete(robust.excluded_, bad).mean() < 0.01
    assert robust.n_excluded_ == robust.excluded_.sum() and robust.converged_
    assert robust.n_components == clean.n_components
    assert robust.t2_limit == pytest.approx(clean.t2_limit, rel=0.05)
    assert robust.spe_limit == pytest.approx(clean.spe_limit, rel=0.05)
    # without exclusion the outliers distort the model (this is what the test guards against)
    assert naive.n_components > clean.n_components
    assert naive.spe_limit > 1.5 * clean.spe_limit


def test_exclusion_never_exceeds_cap():
    rng = np.random.default_rng(3)
    X = plant(300, seed=3)
    X[:150] += rng.normal(scale=20.0, size=(150, P))  # half the rows are garbage
    m = PCAMonitor(max_excluded=0.3).fit(X)
    assert m.n_excluded_ <= 90


# ---- PCA: inputs -------------------------------------------------------------------------------
def test_dataframe_index_column_order_and_missing_column(train, fresh):
    cols = [f"tag_{j}_degc" for j in range(P)]
    df = pd.DataFrame(train, columns=cols)
    m = PCAMonitor().fit(df)
    idx = pd.date_range("2024-01-01", periods=50, freq="h", tz="UTC")
    new = pd.DataFrame(fresh[:50], columns=cols, index=idx)
    s = m.score(new)
    assert s.index.equals(idx)
    assert list(s.columns[:4]) == ["t2", "spe", "t2_alarm", "spe_alarm"]
    assert s["t2_alarm"].dtype == bool and s["spe_alarm"].dtype == bool

    shuffled = new[cols[::-1]].assign(extra="text")  # other order, an extra (text) column
    pd.testing.assert_frame_equal(m.score(shuffled), s)
    pd.testing.assert_frame_equal(m.contributions(shuffled), m.contributions(new))
    assert list(m.contributions(new).columns) == cols

    # same numbers as the array API
    np.testing.assert_allclose(s["t2"], PCAMonitor().fit(train).score(fresh[:50])["t2"], rtol=1e-9)
    assert m.score(fresh[:5]).index.equals(pd.RangeIndex(5))
    with pytest.raises(ValueError, match="tag_3_degc"):
        m.score(new.drop(columns="tag_3_degc"))
    with pytest.raises(ValueError, match="expected 10 columns"):
        m.score(fresh[:5, :9])


def test_nan_rows_ignored_in_fit_and_imputed_in_score(train, fresh):
    dirty = train.copy()
    dirty[[3, 10, 500], [0, 5, 9]] = np.nan
    m = PCAMonitor(robust=False).fit(dirty)
    ref = PCAMonitor(robust=False).fit(np.delete(train, [3, 10, 500], axis=0))
    assert m.n_incomplete_ == 3 and m.n_samples_ == len(train) - 3
    assert m.t2_limit == ref.t2_limit and m.spe_limit == pytest.approx(ref.spe_limit, rel=1e-12)

    x = fresh[:4].copy()
    x[1, 2] = np.nan
    x[2, [0, 1]] = np.nan
    x[3, :] = np.nan
    s = m.score(x)
    assert s["missing"].tolist() == [0, 1, 2, P]
    filled = x[:3].copy()
    filled[1, 2], filled[2, 0], filled[2, 1] = m.mean_[2], m.mean_[0], m.mean_[1]
    expected = m.score(filled)[["t2", "spe"]]
    np.testing.assert_allclose(s[["t2", "spe"]].iloc[:3], expected, rtol=1e-12)
    assert np.isnan(s.loc[3, "t2"]) and not s.loc[3, "t2_alarm"] and not s.loc[3, "spe_alarm"]


def test_constant_column_kept_out_with_zero_contribution(train, fresh):
    with_const = np.column_stack([train, np.full(len(train), 7.5)])
    m = PCAMonitor().fit(with_const)
    assert m.constant_columns_ == [P]
    ref = PCAMonitor().fit(train)
    new = np.column_stack([fresh[:100], np.full(100, 9.0)])
    pd.testing.assert_frame_equal(m.score(new), ref.score(fresh[:100]))
    assert (m.contributions(new, statistic="spe")[P] == 0).all()
    assert (m.contributions(new, statistic="t2")[P] == 0).all()


def test_to_dict_round_trip_gives_identical_scores(train, fresh):
    cols = [f"x{j}" for j in range(P)]
    m = PCAMonitor(alpha=0.95).fit(pd.DataFrame(train, columns=cols))
    d = json.loads(json.dumps(m.to_dict()))  # what a table column would hold
    m2 = PCAMonitor.from_dict(d)
    new = pd.DataFrame(fresh[:500], columns=cols)
    pd.testing.assert_frame_equal(m2.score(new), m.score(new), check_exact=True)
    pd.testing.assert_frame_equal(m2.contributions(new, "t2"), m.contributions(new, "t2"),
                                  check_exact=True)
    assert m2.version == m.version == d["version"] and len(m.version) == 40
    assert PCAMonitor(alpha=0.99).fit(pd.DataFrame(train, columns=cols)).version != m.version

    d["spe_limit"] *= 2
    with pytest.raises(ValueError, match="altered"):
        PCAMonitor.from_dict(d)


# ---- Isolation Forest --------------------------------------------------------------------------
def ring(n: int, seed: int) -> np.ndarray:
    """Points on a unit circle with 5 % radial noise: a one-dimensional curved manifold."""
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 2 * np.pi, n)
    r = 1 + 0.05 * rng.normal(size=n)
    return np.column_stack([r * np.cos(theta), r * np.sin(theta)])


def test_isolation_forest_is_deterministic_for_a_seed(train, fresh):
    a = IsolationForestMonitor(random_state=3).fit(train).score(fresh[:500])
    b = IsolationForestMonitor(random_state=3).fit(train).score(fresh[:500])
    c = IsolationForestMonitor(random_state=4).fit(train).score(fresh[:500])
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not np.array_equal(a["score"], c["score"])


def test_isolation_forest_alarm_rate_on_in_control_data(train, fresh):
    f = IsolationForestMonitor(alpha=0.99).fit(train)
    rate = f.score(fresh[:10000])["alarm"].mean()
    # threshold = empirical 0.99-quantile of 2 000 training scores: its exceedance probability
    # has sd sqrt(0.01/2000) = 0.0022; test sample adds 0.001 -> 3 sd = 0.0075
    assert abs(rate - 0.01) < 0.0075


def test_isolation_forest_catches_off_manifold_points_that_pca_misses():
    X = ring(2000, seed=11)
    rng = np.random.default_rng(12)
    theta = rng.uniform(0, 2 * np.pi, 100)
    off = 1.5 * np.column_stack([np.cos(theta), np.sin(theta)])  # 10 noise sd off the ring
    pca = PCAMonitor().fit(X)
    iso = IsolationForestMonitor().fit(X)
    pca_s = pca.score(off)
    assert (pca_s["t2_alarm"] | pca_s["spe_alarm"]).mean() < 0.05  # inside the T² ellipse
    assert iso.score(off)["alarm"].mean() > 0.9
    assert iso.score(ring(2000, seed=13))["alarm"].mean() < 0.03  # and the ring itself is normal


def test_isolation_forest_robust_exclusion_and_nan():
    X = plant(1500, seed=5)
    X[:30] += 15.0  # 2 % gross outliers
    f = IsolationForestMonitor(robust=True).fit(X)
    assert f.excluded_[:30].all() and f.excluded_[30:].mean() < 0.01
    x = X[30:33].copy()
    x[0, 1] = np.nan
    s = f.score(pd.DataFrame(x))
    assert s["missing"].tolist() == [1, 0, 0] and np.isfinite(s["score"]).all()


# ---- operating modes --------------------------------------------------------------------------
def _load_profile(seed: int = 3):
    """Plateau 100, ramp down, 30 h shutdown, start-up ramp, plateau 100, ramp to 70, plateau 70."""
    parts = [("steady", np.full(48, 100.0)), ("ramp", np.linspace(100, 0, 8)[1:-1]),
             ("shutdown", np.zeros(30)), ("ramp", np.linspace(0, 100, 14)[1:-1]),
             ("steady", np.full(48, 100.0)), ("ramp", np.linspace(100, 70, 12)[1:-1]),
             ("steady", np.full(48, 70.0))]
    truth = np.concatenate([[k] * len(v) for k, v in parts])
    rng = np.random.default_rng(seed)
    y = np.concatenate([v for _, v in parts])
    y = np.abs(y + np.where(truth == "shutdown", 0.3, 1.0) * rng.normal(size=y.size))
    idx = pd.date_range("2024-03-01", periods=y.size, freq="h", tz="UTC")
    return pd.DataFrame({"feed_kg_h": y}, index=idx), truth


def _clear(truth: np.ndarray, label: str, edge: int) -> np.ndarray:
    """Rows labelled ``label`` at least ``edge`` rows away from any other label."""
    same = pd.Series(truth == label)
    return (same.rolling(2 * edge + 1, center=True, min_periods=1).min() == 1).to_numpy()


def test_operating_modes_on_clear_parts():
    X, truth = _load_profile()
    modes = operating_modes(X, "feed_kg_h", window=7)
    assert modes.index.equals(X.index) and set(modes) == {"steady", "transient", "shutdown"}
    m = modes.to_numpy()
    assert (m[truth == "shutdown"] == "shutdown").all()
    assert (m[_clear(truth, "steady", edge=7)] == "steady").all()
    ramp_mid = (truth == "ramp") & (X["feed_kg_h"].to_numpy() > 25)  # above the shutdown cut
    assert (m[ramp_mid] == "transient").all()
    # start-up: rows right after the shutdown are transient even where the ramp is still low
    first_up = np.flatnonzero(truth == "shutdown")[-1] + 1
    assert (m[first_up:first_up + 5] != "steady").all()


def test_operating_modes_robust_level_with_long_outage_and_extra_column():
    idx = pd.date_range("2024-01-01", periods=200, freq="h")
    rng = np.random.default_rng(0)
    load = np.r_[np.zeros(130), np.full(70, 50.0)] + rng.normal(scale=0.5, size=200).clip(0)
    temp = 80 + rng.normal(scale=0.3, size=200)
    temp[170:] += 10  # temperature step while the load is steady
    X = pd.DataFrame({"feed_kg_h": load, "temp_degc": temp}, index=idx)
    plain = operating_modes(X, "feed_kg_h")
    assert (plain.iloc[:120] == "shutdown").all()  # 65 % outage: running level still ~50
    assert (plain.iloc[145:195] == "steady").all()
    with_temp = operating_modes(X, "feed_kg_h", columns={"temp_degc": 2.0})
    assert (with_temp.iloc[168:172] == "transient").all()
    assert (with_temp.iloc[145:160] == "steady").all()


def test_operating_modes_rejects_irregular_index_and_unknown_column():
    X, _ = _load_profile()
    with pytest.raises(ValueError, match="regular"):
        operating_modes(X.drop(X.index[5]), "feed_kg_h")
    with pytest.raises(ValueError, match="power_kw"):
        operating_modes(X, ["feed_kg_h", "power_kw"])


def test_cross_validated_limits_are_not_fooled_by_overfitting():
    """Many variables, few rows: in-sample SPE is tiny; out-of-fold limits keep fresh-data alarms near 1 - alpha."""
    rng = np.random.default_rng(7)
    p, n = 40, 80
    w = rng.normal(size=(5, p))

    def draw(m: int) -> np.ndarray:
        return rng.normal(size=(m, 5)) @ w + 0.5 * rng.normal(size=(m, p))

    train, fresh = draw(n), draw(4000)
    emp = PCAMonitor(variance=0.95, alpha=0.99, limits="empirical", robust=False).fit(train)
    cv = PCAMonitor(variance=0.95, alpha=0.99, limits="cross-validated", robust=False).fit(train)
    assert cv.spe_limit > 1.3 * emp.spe_limit and cv.spe_limit_method_ == "cross-validated"
    fa_emp = emp.score(fresh)["spe_alarm"].mean()
    fa_cv = cv.score(fresh)["spe_alarm"].mean()
    assert fa_emp > 0.10         # in-sample quantiles of an overfitted model: over 10x the design rate (0.156)
    assert fa_cv < 0.03          # out-of-fold quantiles stay near the 1 % design rate (0.013)


def test_scale_floor_keeps_a_quiet_column_in_proportion():
    rng = np.random.default_rng(3)
    t = rng.normal(size=(300, 1))
    X = np.hstack([t, 2 * t + 0.1 * rng.normal(size=(300, 1)), np.full((300, 1), 5.0)])  # column 2 never moved
    plain = PCAMonitor(variance=0.95).fit(X)
    assert plain.constant_columns_ == [2]
    floored = PCAMonitor(variance=0.95).fit(X, scale_floor={2: 0.05})
    assert floored.constant_columns_ == [] and floored.scale_[2] == pytest.approx(0.05)
    moved = X[:5].copy()
    moved[:, 2] += 1.0  # 20 floors: a real change of a quiet tag
    assert not plain.score(moved)["spe_alarm"].any()
    assert floored.score(moved)["spe_alarm"].all()
    assert all(row[0][0] == 2 for row in floored.top_contributors(moved, n=1))
    with pytest.raises(ValueError, match="scale_floor"):
        PCAMonitor().fit(X, scale_floor=-1.0)
