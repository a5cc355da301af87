"""Parameter estimation engine (models.estimation): analytic, synthetic and published benchmarks.

Tolerances are stated next to each assertion. The published benchmark is the alpha-pinene
isomerisation of Box, Hunter, MacGregor & Erjavec (1973), fitted from its data table alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from models.estimation import (
    Estimate,
    Experiment,
    ODEModel,
    Parameter,
    SteadyStateModel,
    estimate,
    experiments_from_frame,
    monte_carlo_propagation,
    predict,
)
from nexus.errors import CalibrationFailed

# --------------------------------------------------------------------------------------------
# Consecutive first-order reactions A -> B -> C (synthetic data, known truth)
# --------------------------------------------------------------------------------------------

K_TRUE = {"k1": 0.5, "k2": 0.2}  # 1/h
T_SAMPLE = np.linspace(0.5, 12.0, 12)  # h
SIGMA = 0.02  # mol/L, measurement noise of every species


def _abc_rhs(t, y, theta, conditions):
    a, b, _ = y
    return [-theta["k1"] * a, theta["k1"] * a - theta["k2"] * b, theta["k2"] * b]


ABC = ODEModel(_abc_rhs, states=("A", "B", "C"))


def _abc_analytic(t, a0, k1, k2):
    """Closed-form solution (k1 != k2) of A -> B -> C from A(0) = a0, B(0) = C(0) = 0."""
    a = a0 * np.exp(-k1 * t)
    b = a0 * k1 / (k2 - k1) * (np.exp(-k1 * t) - np.exp(-k2 * t))
    return a, b, a0 - a - b


def _abc_experiments(seed: int) -> list[Experiment]:
    """Two batch runs (A0 = 1 and 2 mol/L) with Gaussian noise of known sigma."""
    rng = np.random.default_rng(seed)
    exps = []
    for name, a0 in (("run1", 1.0), ("run2", 2.0)):
        a, b, c = _abc_analytic(T_SAMPLE, a0, **K_TRUE)
        data = pd.DataFrame({"A": a, "B": b, "C": c}) + rng.normal(0.0, SIGMA, (T_SAMPLE.size, 3))
        exps.append(Experiment(name, data, times=T_SAMPLE, y0=[a0, 0.0, 0.0], sigma=SIGMA,
                               conditions={"a0_mol_l": a0}))
    return exps


ABC_PARAMS = [
    Parameter("k1", 0.1, lower=0.0, log=True, unit="1/h"),
    Parameter("k2", 0.1, lower=0.0, log=True, unit="1/h"),
]


def test_ode_predictions_match_the_analytic_solution():
    exp = _abc_experiments(0)[1]
    pred = predict(ABC, exp, K_TRUE)
    a, b, c = _abc_analytic(T_SAMPLE, 2.0, **K_TRUE)
    for name, ref in (("A", a), ("B", b), ("C", c)):
        got = pred.loc[pred["output"] == name, "predicted"].to_numpy()
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-8)  # rtol 1e-10 integration


def test_ode_fit_recovers_rate_constants_within_three_standard_errors():
    est = estimate(ABC, _abc_experiments(0), ABC_PARAMS)
    assert isinstance(est, Estimate) and est.status > 0 and est.absolute_sigma
    assert est.n_observations == 2 * 12 * 3 and est.dof == 72 - 2
    for name, truth in K_TRUE.items():
        assert abs(est.theta[name] - truth) < 3 * est.standard_errors[name]
        lo, hi = est.confidence_intervals[name]
        assert lo < est.theta[name] < hi
    # Known sigma: reduced chi-square ~ 1 (chi2 with 70 dof: 0.6..1.4 covers > 99 %).
    assert 0.6 < est.residual_variance < 1.4
    frame = est.to_frame()
    assert list(frame.index) == ["k1", "k2"]
    assert {"value", "unit", "std_error", "ci_low", "ci_high", "at_bound"} <= set(frame.columns)
    assert frame.loc["k1", "unit"] == "1/h"
    assert set(est.residual_stats.index) == {"A", "B", "C"}
    assert (est.residual_stats["r2"] > 0.99).all()
    np.testing.assert_allclose(np.diag(est.correlation), 1.0)


def test_standard_errors_match_the_spread_of_repeated_fits():
    """The linearised standard error predicts the scatter of estimates over noise realisations."""
    fits = [estimate(ABC, _abc_experiments(seed), ABC_PARAMS) for seed in range(1, 26)]
    values = np.array([[f.theta["k1"], f.theta["k2"]] for f in fits])
    reported = np.array([[f.standard_errors["k1"], f.standard_errors["k2"]] for f in fits]).mean(axis=0)
    spread = values.std(axis=0, ddof=1)
    # 25 repeats: the sample std is known to ~ +-14 % (1 sigma); accept a ratio in 0.7..1.4.
    ratio = spread / reported
    assert np.all((ratio > 0.7) & (ratio < 1.4)), ratio
    # Unbiased: the mean estimate is within 3 standard errors of the mean of the truth.
    assert np.all(np.abs(values.mean(axis=0) - [0.5, 0.2]) < 3 * reported / np.sqrt(len(fits)))


def test_log_and_linear_parameterisations_give_the_same_covariance():
    """The delta method makes the covariance independent of the optimiser's scale."""
    exps = _abc_experiments(3)
    log_fit = estimate(ABC, exps, ABC_PARAMS)
    lin_fit = estimate(ABC, exps, [Parameter("k1", 0.3, lower=0.0), Parameter("k2", 0.3, lower=0.0)])
    for name in K_TRUE:
        assert log_fit.theta[name] == pytest.approx(lin_fit.theta[name], rel=1e-6)
        assert log_fit.standard_errors[name] == pytest.approx(lin_fit.standard_errors[name], rel=1e-3)
    # Log-scale interval is asymmetric about the estimate, linear one symmetric.
    lo, hi = log_fit.confidence_intervals["k1"]
    assert hi - log_fit.theta["k1"] > log_fit.theta["k1"] - lo


def test_multiple_starts_escape_a_local_minimum():
    """y = sin(w t) has many local minima in w; one start from w=0.5 misses the truth 2.3."""
    t = np.linspace(0.0, 10.0, 60)
    frame = pd.DataFrame({"t": t, "y": np.sin(2.3 * t)})
    exps = experiments_from_frame(frame, conditions=["t"], outputs=["y"])
    model = SteadyStateModel(lambda th, c: {"y": np.sin(th["w"] * c["t"])})
    params = [Parameter("w", 0.5, lower=0.1, upper=4.0)]
    single = estimate(model, exps, params)
    assert abs(single.theta["w"] - 2.3) > 0.1  # stuck in a local minimum
    multi = estimate(model, exps, params, n_starts=12, seed=0)
    assert multi.theta["w"] == pytest.approx(2.3, abs=1e-6)
    assert len(multi.starts) == 12 and multi.ssr < 1e-12


# --------------------------------------------------------------------------------------------
# Steady-state models against analytic regression results
# --------------------------------------------------------------------------------------------


def test_straight_line_matches_ordinary_least_squares():
    """For y = a x + b the covariance must equal the OLS one (scipy.stats.linregress)."""
    rng = np.random.default_rng(11)
    x = np.linspace(0.0, 10.0, 15)
    y = 1.7 * x - 3.0 + rng.normal(0.0, 0.4, x.size)
    exps = experiments_from_frame(pd.DataFrame({"x": x, "y": y}), conditions=["x"], outputs=["y"])
    model = SteadyStateModel(lambda th, c: [th["a"] * c["x"] + th["b"]], outputs=("y",))
    est = estimate(model, exps, [Parameter("a", 1.0), Parameter("b", 0.0)])
    ref = stats.linregress(x, y)
    assert est.absolute_sigma is False  # no sigma given: variance estimated from residuals
    assert est.theta["a"] == pytest.approx(ref.slope, rel=1e-9)
    assert est.theta["b"] == pytest.approx(ref.intercept, rel=1e-9)
    assert est.standard_errors["a"] == pytest.approx(ref.stderr, rel=1e-6)
    assert est.standard_errors["b"] == pytest.approx(ref.intercept_stderr, rel=1e-6)
    q = stats.t.ppf(0.975, x.size - 2)
    lo, hi = est.confidence_intervals["a"]
    assert lo == pytest.approx(ref.slope - q * ref.stderr, rel=1e-6)
    assert hi == pytest.approx(ref.slope + q * ref.stderr, rel=1e-6)
    assert est.residual_stats.loc["y", "r2"] == pytest.approx(ref.rvalue ** 2, rel=1e-9)


def test_steady_state_arrhenius_cstr_recovers_kinetics():
    """First-order CSTR conversion X = k tau / (1 + k tau), k = k_ref exp(-E/R (1/T - 1/T_ref)).

    Noise-free data at 4 temperatures x 3 residence times: the fit must be exact.
    """
    r_gas, t_ref = 8.314, 350.0  # J/(mol K), K

    def conversion(theta, c):
        k = theta["k_ref"] * np.exp(-theta["ea"] / r_gas * (1 / c["temp_k"] - 1 / t_ref))
        return {"x": k * c["tau_min"] / (1 + k * c["tau_min"])}

    truth = {"k_ref": 0.08, "ea": 65_000.0}  # 1/min, J/mol
    rows = [{"temp_k": tk, "tau_min": tau} for tk in (330.0, 345.0, 360.0, 375.0) for tau in (2.0, 5.0, 15.0)]
    for r in rows:
        r["x"] = conversion(truth, r)["x"]
    exps = experiments_from_frame(pd.DataFrame(rows), conditions=["temp_k", "tau_min"], outputs=["x"],
                                  sigma=0.01)
    est = estimate(
        SteadyStateModel(conversion),
        exps,
        [Parameter("k_ref", 0.01, lower=0.0, log=True, unit="1/min"),
         Parameter("ea", 40_000.0, lower=0.0, upper=200_000.0, unit="J/mol")],
    )
    assert est.theta["k_ref"] == pytest.approx(truth["k_ref"], rel=1e-7)
    assert est.theta["ea"] == pytest.approx(truth["ea"], rel=1e-7)
    assert est.ssr < 1e-14


def test_fixed_parameters_are_passed_through_and_not_estimated():
    model = SteadyStateModel(lambda th, c: {"y": th["a"] * c["x"] + th["b"]})
    exps = [Experiment(f"x{x}", {"y": 3.0 * x + 2.0}, conditions={"x": x}) for x in range(5)]
    est = estimate(model, exps, [Parameter("a", 1.0), Parameter("b", 2.0, fixed=True)])
    assert est.estimated == ("a",)
    assert est.theta == pytest.approx({"a": 3.0, "b": 2.0})
    assert np.isnan(est.to_frame().loc["b", "std_error"])


def test_missing_measurements_are_skipped():
    model = SteadyStateModel(lambda th, c: {"y": th["a"] * c["x"]})
    exps = [Experiment(f"x{x}", {"y": 2.0 * x if x != 2 else np.nan}, conditions={"x": x})
            for x in range(1, 5)]
    est = estimate(model, exps, [Parameter("a", 1.0)])
    assert est.n_observations == 3 and est.theta["a"] == pytest.approx(2.0)


# --------------------------------------------------------------------------------------------
# Failures are raised, never returned
# --------------------------------------------------------------------------------------------


def test_non_identifiable_product_is_rejected_and_named():
    """y = a b x: only the product a*b is determined by the data."""
    model = SteadyStateModel(lambda th, c: {"y": th["a"] * th["b"] * c["x"]})
    exps = [Experiment(f"x{x}", {"y": 6.0 * x}, conditions={"x": float(x)}) for x in range(1, 6)]
    with pytest.raises(CalibrationFailed, match="not identifiable") as info:
        estimate(model, exps, [Parameter("a", 1.0), Parameter("b", 1.0)])
    assert "'a'" in str(info.value) and "'b'" in str(info.value)


def test_parameter_without_influence_is_rejected():
    model = SteadyStateModel(lambda th, c: {"y": th["a"] * c["x"]})
    exps = [Experiment(f"x{x}", {"y": 2.0 * x}, conditions={"x": float(x)}) for x in range(1, 5)]
    with pytest.raises(CalibrationFailed, match=r"\['unused'\] are not identifiable"):
        estimate(model, exps, [Parameter("a", 1.0), Parameter("unused", 1.0)])


def test_exhausted_evaluation_budget_raises_with_solver_message():
    with pytest.raises(CalibrationFailed, match="did not converge") as info:
        estimate(ABC, _abc_experiments(0), ABC_PARAMS, max_nfev=2)
    message = str(info.value)
    assert "evaluations" in message and "k1=" in message and "k2=" in message


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_failed_ode_integration_raises():
    """dy/dt = k y^2 from y(0)=1 blows up at t = 1/k, before the last sample."""
    model = ODEModel(lambda t, y, th, c: [th["k"] * y[0] ** 2], states=("y",))
    exp = Experiment("blowup", {"y": [1.1, 1.3, 2.0]}, times=[0.1, 0.2, 2.0], y0=[1.0])
    with pytest.raises(CalibrationFailed, match="ODE integration of experiment 'blowup'"):
        estimate(model, [exp], [Parameter("k", 1.0, lower=0.0)])


def test_too_few_measurements_raise():
    model = SteadyStateModel(lambda th, c: {"y": th["a"] + th["b"]})
    with pytest.raises(CalibrationFailed, match="more measurements than estimated parameters"):
        estimate(model, [Experiment("one", {"y": 1.0})], [Parameter("a", 0.0), Parameter("b", 0.0)])


def test_invalid_specifications_are_refused_when_built():
    with pytest.raises(ValueError, match="log=True needs initial > 0"):
        Parameter("k", 0.0, log=True)
    with pytest.raises(ValueError, match="lower <= initial <= upper"):
        Parameter("k", 5.0, lower=0.0, upper=1.0)
    with pytest.raises(ValueError, match="one time per data row"):
        Experiment("e", {"y": [1.0, 2.0]}, times=[0.0])
    model = SteadyStateModel(lambda th, c: {"y": th["a"]})
    with pytest.raises(ValueError, match="does not output"):
        estimate(model, [Experiment("e", {"z": 1.0}), Experiment("f", {"z": 2.0})], [Parameter("a", 0.0)])


# --------------------------------------------------------------------------------------------
# Published benchmark: alpha-pinene isomerisation (5 species, 5 rate constants, 8 samples)
# --------------------------------------------------------------------------------------------

# Data: Fuguitt & Hawkins (1947, JACS 69:461) as tabulated by Box, Hunter, MacGregor & Erjavec,
# "Some problems associated with the analysis of multiresponse data", Technometrics 15(1):33-51
# (1973). The same table is the COPS 3.0 problem "pinene" (Dolan, Moré & Munson, ANL/MCS-TM-273,
# 2004) and the MINPACK-2 problem "Isomerization of alpha-pinene" (Averick, Carter, Moré & Xue,
# ANL/MCS-P153-0692, 1992; subroutine dpndfj). Times in min; concentrations in % of the initial
# alpha-pinene.
PINENE_TIMES_MIN = [1230.0, 3060.0, 4920.0, 7800.0, 10680.0, 15030.0, 22620.0, 36420.0]
PINENE_DATA = pd.DataFrame(
    {
        "alpha_pinene": [88.35, 76.4, 65.1, 50.4, 37.5, 25.9, 14.0, 4.5],
        "dipentene": [7.3, 15.6, 23.1, 32.9, 42.7, 49.1, 57.4, 63.1],
        "allo_ocimene": [2.3, 4.5, 5.3, 6.0, 6.0, 5.9, 5.1, 3.8],
        "pyronene": [0.4, 0.7, 1.1, 1.5, 1.9, 2.2, 2.6, 2.9],
        "dimer": [1.75, 2.8, 5.8, 9.3, 12.0, 17.0, 21.0, 25.7],
    }
)
# Least-squares optimum of the first-order model (Box et al. 1973; Tjoa & Biegler 1991, Ind. Eng.
# Chem. Res. 30:376; COPS 3.0): rate constants in 1/min and the residual sum of squares.
PINENE_P_PUBLISHED = {"p1": 5.9256e-5, "p2": 2.9632e-5, "p3": 2.0450e-5, "p4": 2.7473e-4, "p5": 3.9975e-5}
PINENE_SSR_PUBLISHED = 19.872


def _pinene_rhs(t, y, th, conditions):
    """Hunter & MacGregor's first-order scheme: y1 -> y2 (p1), y1 -> y3 (p2), y3 -> y4 (p3),
    y3 <-> y5 (p4 forward, p5 back)."""
    p1, p2, p3, p4, p5 = th["p1"], th["p2"], th["p3"], th["p4"], th["p5"]
    return [
        -(p1 + p2) * y[0],
        p1 * y[0],
        p2 * y[0] - (p3 + p4) * y[2] + p5 * y[4],
        p3 * y[2],
        p4 * y[2] - p5 * y[4],
    ]


def test_alpha_pinene_benchmark_is_fitted_from_data_alone():
    model = ODEModel(_pinene_rhs, states=tuple(PINENE_DATA.columns))
    exp = Experiment("fuguitt_hawkins_1947", PINENE_DATA, times=PINENE_TIMES_MIN, y0=[100.0, 0, 0, 0, 0])
    # A poor start: every rate constant 1e-4 1/min (off by up to a factor of 5).
    params = [Parameter(f"p{i}", 1e-4, lower=0.0, log=True, unit="1/min") for i in range(1, 6)]
    est = estimate(model, [exp], params)
    for name, published in PINENE_P_PUBLISHED.items():
        assert est.theta[name] == pytest.approx(published, rel=0.01), name  # within 1 %
    assert est.ssr == pytest.approx(PINENE_SSR_PUBLISHED, rel=0.005)  # within 0.5 %
    assert est.n_observations == 40 and est.dof == 35
    assert est.runtime_s < 5.0


# --------------------------------------------------------------------------------------------
# Monte Carlo propagation
# --------------------------------------------------------------------------------------------


def test_monte_carlo_matches_linear_propagation():
    """For a linear output c.theta with normal parameters: mean c.mu, std sqrt(c' C c)."""
    theta = {"a": 2.0, "b": -1.0, "fixed": 10.0}
    cov = pd.DataFrame([[0.04, 0.01], [0.01, 0.09]], index=["a", "b"], columns=["a", "b"])
    res = monte_carlo_propagation(
        lambda th: {"y": 3 * th["a"] + 2 * th["b"] + th["fixed"]}, theta, cov, n=20_000, seed=5
    )
    c = np.array([3.0, 2.0])
    expected_std = float(np.sqrt(c @ cov.to_numpy() @ c))
    assert res.summary.loc["y", "mean"] == pytest.approx(14.0, abs=4 * expected_std / np.sqrt(20_000))
    assert res.summary.loc["y", "std"] == pytest.approx(expected_std, rel=0.03)  # ~1 % MC error
    assert res.summary.loc["y", "p97.5"] - res.summary.loc["y", "p2.5"] == pytest.approx(
        2 * 1.959964 * expected_std, rel=0.05)
    assert (res.parameter_samples["fixed"] == 10.0).all()


def test_monte_carlo_from_an_estimate_uses_lognormal_for_log_parameters():
    est = estimate(ABC, _abc_experiments(0), ABC_PARAMS)

    def b_max(th):  # time and height of the intermediate's maximum, a key output
        k1, k2 = th["k1"], th["k2"]
        t_max = np.log(k1 / k2) / (k1 - k2)
        return {"t_bmax_h": t_max, "ratio": k1 / k2}

    res = monte_carlo_propagation(b_max, est, n=4000, seed=2)
    assert (res.parameter_samples[["k1", "k2"]] > 0).all().all()
    # Lognormal with small spread: median ~ estimate, std ~ delta-method standard error.
    assert res.parameter_samples["k1"].median() == pytest.approx(est.theta["k1"], rel=0.005)
    assert res.parameter_samples["k1"].std() == pytest.approx(est.standard_errors["k1"], rel=0.06)
    t_hat = b_max(est.theta)["t_bmax_h"]
    assert res.summary.loc["t_bmax_h", "p2.5"] < t_hat < res.summary.loc["t_bmax_h", "p97.5"]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_ode_failure_before_the_first_sample_is_a_calibration_failure():
    """scipy returns empty *lists* when it stops before the first output time (blow-up at t = 1,
    samples from t = 2): a CalibrationFailed naming the experiment, not an AttributeError."""
    model = ODEModel(lambda t, y, th, c: [th["k"] * y[0] ** 2], states=("y",), method="RK45")
    exp = Experiment("early", {"y": [1.1, 1.3]}, times=[2.0, 3.0], y0=[1.0])
    with pytest.raises(CalibrationFailed, match=r"ODE integration of experiment 'early' failed at t=0 of 3 \(RK45"):
        estimate(model, [exp], [Parameter("k", 1.0, lower=0.0)])
