"""Sobol' sensitivity indices (models.sensitivity) against analytic values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from models.sensitivity import SobolResult, sobol_indices

# Ishigami & Homma (1990): Y = sin x1 + a sin^2 x2 + b x3^4 sin x1, x_i ~ U(-pi, pi).
A, B = 7.0, 0.1
ISHIGAMI_BOUNDS = {name: (-math.pi, math.pi) for name in ("x1", "x2", "x3")}


def _ishigami(x):
    return np.sin(x["x1"]) + A * np.sin(x["x2"]) ** 2 + B * x["x3"] ** 4 * np.sin(x["x1"])


def _ishigami_analytic():
    """Analytic partial variances (e.g. Saltelli et al., Global Sensitivity Analysis, 2008)."""
    pi = math.pi
    v1 = 0.5 * (1 + B * pi ** 4 / 5) ** 2
    v2 = A ** 2 / 8
    v13 = B ** 2 * pi ** 8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    s1 = {"x1": v1 / v, "x2": v2 / v, "x3": 0.0}
    st = {"x1": (v1 + v13) / v, "x2": v2 / v, "x3": v13 / v}
    return s1, st, v13 / v


def test_analytic_ishigami_values_are_the_published_ones():
    s1, st, s13 = _ishigami_analytic()
    assert [round(s1[k], 4) for k in ("x1", "x2", "x3")] == [0.3139, 0.4424, 0.0]
    assert [round(st[k], 4) for k in ("x1", "x2", "x3")] == [0.5576, 0.4424, 0.2437]
    assert s13 == pytest.approx(0.2437, abs=1e-4)


def test_ishigami_first_and_total_order_indices():
    res = sobol_indices(_ishigami, ISHIGAMI_BOUNDS, n=8192, seed=7)
    assert isinstance(res, SobolResult)
    assert res.outputs == ("y",) and res.inputs == ("x1", "x2", "x3")
    assert res.n_evaluations == 8192 * 5
    s1, st, _ = _ishigami_analytic()
    for name in ISHIGAMI_BOUNDS:
        assert res.first_order.loc["y", name] == pytest.approx(s1[name], abs=0.03)
        assert res.total_order.loc["y", name] == pytest.approx(st[name], abs=0.03)
        # The bootstrap intervals contain the analytic values and are narrower than 0.1.
        assert res.first_order_low.loc["y", name] <= s1[name] <= res.first_order_high.loc["y", name]
        assert res.total_order_low.loc["y", name] <= st[name] <= res.total_order_high.loc["y", name]
        assert res.first_order_high.loc["y", name] - res.first_order_low.loc["y", name] < 0.1
    table = res.to_frame()
    assert list(table.columns) == ["S1", "S1_low", "S1_high", "ST", "ST_low", "ST_high"]
    # Output variance of the Ishigami function: a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2 = 13.845.
    assert res.variance["y"] == pytest.approx(
        A ** 2 / 8 + B * math.pi ** 4 / 5 + B ** 2 * math.pi ** 8 / 18 + 0.5, rel=0.02)


def test_ishigami_second_order_finds_the_x1_x3_interaction():
    res = sobol_indices(_ishigami, ISHIGAMI_BOUNDS, n=4096, seed=3, second_order=True)
    assert res.n_evaluations == 4096 * 8
    s2 = res.second_order["y"]
    _, _, s13 = _ishigami_analytic()
    assert s2.loc["x1", "x3"] == pytest.approx(s13, abs=0.05)
    assert s2.loc["x3", "x1"] == s2.loc["x1", "x3"]
    assert abs(s2.loc["x1", "x2"]) < 0.05 and abs(s2.loc["x2", "x3"]) < 0.05
    assert np.isnan(s2.loc["x1", "x1"])
    assert res.second_order_low["y"].loc["x1", "x3"] <= s13 <= res.second_order_high["y"].loc["x1", "x3"]


def test_linear_additive_model_indices_are_the_variance_shares():
    """y = sum c_i x_i with independent uniforms: S1_i = ST_i = c_i^2 w_i^2 / sum_j c_j^2 w_j^2."""
    coef = {"x1": 1.0, "x2": 2.0, "x3": -3.0}
    bounds = {"x1": (0.0, 1.0), "x2": (-1.0, 1.0), "x3": (5.0, 5.5)}
    var = {k: coef[k] ** 2 * (bounds[k][1] - bounds[k][0]) ** 2 / 12 for k in coef}
    share = {k: v / sum(var.values()) for k, v in var.items()}

    def model(x):  # two outputs: the sum, and one depending on x1 only
        return {"y": sum(coef[k] * x[k] for k in coef), "x1_only": 4.0 * x["x1"] ** 3}

    res = sobol_indices(model, bounds, n=4096, seed=1)
    assert res.outputs == ("y", "x1_only")
    for k in coef:
        assert res.first_order.loc["y", k] == pytest.approx(share[k], abs=0.01)
        assert res.total_order.loc["y", k] == pytest.approx(share[k], abs=0.01)
    assert res.first_order.loc["y"].sum() == pytest.approx(1.0, abs=0.01)
    # x1_only: all variance from x1, none from the others (exactly zero: AB_i = A for i != 1).
    assert res.first_order.loc["x1_only", "x1"] == pytest.approx(1.0, abs=0.01)
    assert res.total_order.loc["x1_only", "x2"] == 0.0 and res.total_order.loc["x1_only", "x3"] == 0.0


def test_distributions_as_inputs():
    """Normal inputs: y = x1 + x2, sd 1 and 2 -> shares 0.2 and 0.8."""
    res = sobol_indices(lambda x: x["x1"] + x["x2"],
                        {"x1": stats.norm(0, 1), "x2": stats.norm(3, 2)}, n=2048, seed=4)
    assert res.first_order.loc["y"].tolist() == pytest.approx([0.2, 0.8], abs=0.02)


def test_same_numbers_as_scipy_and_as_the_scalar_path():
    """The backend is scipy.stats.sobol_indices: same seed, same indices; vectorized or not."""
    res = sobol_indices(_ishigami, ISHIGAMI_BOUNDS, n=256, seed=11, n_resamples=0)
    ref = stats.sobol_indices(
        func=lambda x: _ishigami({"x1": x[0], "x2": x[1], "x3": x[2]}),
        n=256, dists=[stats.uniform(-math.pi, 2 * math.pi)] * 3, rng=11,
    )
    np.testing.assert_allclose(res.first_order.loc["y"].to_numpy(), ref.first_order, atol=1e-12)
    np.testing.assert_allclose(res.total_order.loc["y"].to_numpy(), ref.total_order, atol=1e-12)
    assert res.first_order_low.isna().all().all()  # no bootstrap asked

    scalar = sobol_indices(lambda x: float(_ishigami(x)), ISHIGAMI_BOUNDS, n=256, seed=11,
                           vectorized=False, n_resamples=0)
    np.testing.assert_allclose(scalar.first_order.to_numpy(), res.first_order.to_numpy(), atol=1e-12)


def test_reproducible_with_a_seed():
    a = sobol_indices(_ishigami, ISHIGAMI_BOUNDS, n=512, seed=2, n_resamples=100)
    b = sobol_indices(_ishigami, ISHIGAMI_BOUNDS, n=512, seed=2, n_resamples=100)
    assert a.to_frame().equals(b.to_frame())


def test_constant_output_has_zero_indices():
    res = sobol_indices(lambda x: np.full_like(x["a"], 3.0), {"a": (0, 1), "b": (0, 1)}, n=64, seed=0)
    assert (res.first_order.to_numpy() == 0).all() and (res.total_order.to_numpy() == 0).all()


@pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")
def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError, match="power of 2"):
        sobol_indices(_ishigami, ISHIGAMI_BOUNDS, n=1000)
    with pytest.raises(ValueError, match="low < high"):
        sobol_indices(_ishigami, {"x1": (1.0, 0.0)}, n=64)
    with pytest.raises(ValueError, match="non-finite"):
        sobol_indices(lambda x: np.log(x["a"] - 0.5), {"a": (0.0, 1.0)}, n=64)
