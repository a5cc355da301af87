"""Dynamic fermentation model: closed forms, chemostat steady states, balances and the link to the twin."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from models.biorefinery import physics
from models.biorefinery.fermentation import (
    ETHANOL_YIELD_THEORETICAL_G_G,
    FermentationIntegrationFailed,
    FermentationParams,
    chemostat_steady_state,
    derivatives,
    folded_uptake_g_l_h,
    implied_biomass_g_l,
    integrated_batch_monod_time,
    simulate,
    specific_rates,
    twin_params,
    washout_dilution_h,
)
from nexus.errors import NexusError

#: Plain Monod growth with growth-associated ethanol only (no inhibition, maintenance or death).
MONOD = FermentationParams(ki_g_l=math.inf, p_max_g_l=math.inf, ms_g_g_h=0.0, kd_h=0.0, beta_g_g_h=0.0)


def observed_yield(p: FermentationParams) -> float:
    return 1.0 / (1.0 / p.yxs_g_g + p.alpha_g_g / p.yps_g_g)


def test_defaults_reproduce_the_published_overall_yields():
    p = FermentationParams()
    # Fogler's example: Yx/s = 0.08, Yp/x = 5.6, Yp/s = 0.45 (overall, per g glucose consumed).
    assert observed_yield(p) == pytest.approx(0.08, rel=1e-12)
    assert observed_yield(p) * p.alpha_g_g == pytest.approx(0.448, rel=1e-12)
    assert p.yps_g_g == pytest.approx(0.5114, abs=1e-4)


def test_batch_without_inhibition_matches_integrated_monod():
    x0, s0 = 0.5, 100.0
    targets = np.array([95.0, 70.0, 40.0, 10.0, 1.0, 0.1])
    t_ref = integrated_batch_monod_time(MONOD, x0, s0, targets)
    run = simulate(MONOD, "batch", float(t_ref[-1]) + 1.0, [x0, s0, 0.0], t_eval=t_ref)
    s = run["s_g_l"].to_numpy()
    np.testing.assert_allclose(s, targets, rtol=1e-6)
    # The same statement on t: the closed form evaluated at the simulated S gives back the simulated t.
    np.testing.assert_allclose(integrated_batch_monod_time(MONOD, x0, s0, s), run["t_h"], rtol=1e-7)
    np.testing.assert_allclose(run["x_g_l"], x0 + observed_yield(MONOD) * (s0 - s), rtol=1e-8)
    np.testing.assert_allclose(run["p_g_l"], MONOD.alpha_g_g * (run["x_g_l"] - x0), rtol=1e-8)


def test_integrated_batch_monod_refuses_inhibition_maintenance_or_death():
    with pytest.raises(ValueError, match="ms_g_g_h"):
        integrated_batch_monod_time(FermentationParams(), 0.5, 100.0, 50.0)


def test_monod_chemostat_steady_state_is_the_textbook_one():
    d, sf = 0.1, 50.0
    ss = chemostat_steady_state(MONOD, d, sf)
    s_star = MONOD.ks_g_l * d / (MONOD.mu_max_h - d)  # 0.7391 g/L
    x_star = observed_yield(MONOD) * (sf - s_star)
    assert not ss["washout"] and ss["stable"] and ss["n_nontrivial"] == 1
    assert ss["s_g_l"] == pytest.approx(s_star, rel=1e-10)
    assert ss["x_g_l"] == pytest.approx(x_star, rel=1e-10)
    assert ss["p_g_l"] == pytest.approx(MONOD.alpha_g_g * x_star, rel=1e-10)


@pytest.mark.parametrize("params", [MONOD, FermentationParams()], ids=["monod", "defaults"])
def test_continuous_run_converges_to_the_chemostat_steady_state(params):
    d, sf = 0.1, 50.0
    ss = chemostat_steady_state(params, d, sf)
    run = simulate(params, "continuous", 500.0, [0.5, sf, 0.0], dilution_h=d, s_feed_g_l=sf, t_eval=[500.0])
    end = run.iloc[-1]
    for col in ("x_g_l", "s_g_l", "p_g_l"):
        assert end[col] == pytest.approx(ss[col], rel=1e-6), col


def test_washout_above_the_critical_dilution_rate():
    p, sf = FermentationParams(), 50.0
    d_c = washout_dilution_h(p, sf)
    # Transcritical point mu(Sf, P=0) - kd = 0.33 * 50/51.7 - 0.01 = 0.3091 1/h.
    assert d_c == pytest.approx(p.mu_max_h * sf / (p.ks_g_l + sf) - p.kd_h, rel=1e-12)
    below = chemostat_steady_state(p, 0.98 * d_c, sf)
    above = chemostat_steady_state(p, 1.02 * d_c, sf)
    assert not below["washout"] and below["x_g_l"] > 0.05
    assert above["washout"] and above["stable"] and above["x_g_l"] == 0.0 and above["s_g_l"] == sf
    # Cells wash out at least at the rate D - (mu(Sf) - kd) = 0.2 d_c = 0.062 1/h: e**-18 in 300 h.
    run = simulate(p, "continuous", 300.0, [2.0, sf, 0.0], dilution_h=1.2 * d_c, s_feed_g_l=sf)
    assert run["x_g_l"].iloc[-1] < 2.0 * math.exp(-0.2 * d_c * 300.0)
    assert run["s_g_l"].iloc[-1] == pytest.approx(sf, rel=1e-6)


def test_haldane_chemostat_returns_the_stable_low_substrate_root():
    p = FermentationParams(ki_g_l=20.0, p_max_g_l=math.inf, ms_g_g_h=0.0, kd_h=0.0)
    sf = 100.0  # mu peaks at sqrt(Ks Ki) = 5.83 g/L < Sf
    mu_sf = float(specific_rates(0.0, sf, 0.0, p)[0])  # 0.0494 1/h
    d = 0.1  # above mu(Sf): between the two thresholds washout and growth are both stable
    ss = chemostat_steady_state(p, d, sf)
    assert ss["n_nontrivial"] == 2 and not ss["washout"] and ss["stable"]
    s_peak = math.sqrt(p.ks_g_l * p.ki_g_l)
    assert ss["s_g_l"] < s_peak
    # Closed form of the rising-branch root of mu_max S/(Ks + S + S^2/Ki) = D.
    a, b, c = d / p.ki_g_l, d - p.mu_max_h, d * p.ks_g_l
    assert ss["s_g_l"] == pytest.approx((-b - math.sqrt(b * b - 4 * a * c)) / (2 * a), rel=1e-9)
    d_c = washout_dilution_h(p, sf)
    mu_peak = float(specific_rates(0.0, s_peak, 0.0, p)[0])
    assert mu_sf < d_c < mu_peak
    assert chemostat_steady_state(p, 1.01 * d_c, sf)["washout"]


def test_batch_substrate_closes_on_growth_product_and_maintenance():
    p = FermentationParams()  # with Levenspiel inhibition, maintenance and death
    y0 = np.array([1.0, 100.0, 0.0])

    def augmented(t, z):
        x, s, pr = z[:3]
        mu, qp, _ = specific_rates(x, s, pr, p)
        f_s = max(s, 0.0) / (p.ks_g_l + max(s, 0.0))
        to_cells, to_ethanol, to_maint = mu * x / p.yxs_g_g, qp * x / p.yps_g_g, p.ms_g_g_h * f_s * x
        return np.concatenate([derivatives(t, z[:3], p), [to_cells, to_ethanol, to_maint, mu * x, qp * x]])

    sol = solve_ivp(augmented, (0.0, 30.0), np.concatenate([y0, np.zeros(5)]), method="Radau", rtol=1e-10, atol=1e-12)
    x, s, pr, cells, ethanol, maint, grown, formed = sol.y[:, -1]
    consumed = y0[1] - s
    assert consumed == pytest.approx(100.0, rel=1e-9)  # exhausted within 30 h
    assert cells + ethanol + maint == pytest.approx(consumed, rel=1e-8)
    # 12.30 g/L to cells, 86.86 to ethanol + CO2, 0.84 to maintenance: a real share, not a rounding term.
    assert (cells, ethanol, maint) == pytest.approx((12.30, 86.86, 0.842), abs=0.01)
    assert pr - y0[2] == pytest.approx(formed, rel=1e-8)
    # Viable cells: growth minus death.
    run = simulate(p, "batch", 30.0, y0, t_eval=[30.0])
    assert run["x_g_l"].iloc[-1] == pytest.approx(x, rel=1e-7)
    assert grown > x - y0[0]


def test_batch_without_maintenance_closes_exactly():
    p = FermentationParams(ms_g_g_h=0.0, kd_h=0.0)
    run = simulate(p, "batch", 20.0, [0.5, 120.0, 5.0])
    used = (run["x_g_l"] - 0.5) / p.yxs_g_g + (run["p_g_l"] - 5.0) / p.yps_g_g
    np.testing.assert_allclose(used, 120.0 - run["s_g_l"], rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("profile", [None, lambda t: 0.5 + 0.02 * t], ids=["constant", "ramp"])
def test_fed_batch_volume_and_mass_balance(profile):
    p = FermentationParams(ms_g_g_h=0.0, kd_h=0.0)
    v0, sf, feed = 10.0, 300.0, 0.5
    y0 = [1.0, 20.0, 0.0, v0]
    run = simulate(p, "fed_batch", 24.0, y0, s_feed_g_l=sf, feed_l_h=feed, feed_profile=profile)
    t = run["t_h"].to_numpy()
    fed_l = feed * t if profile is None else 0.5 * t + 0.01 * t**2
    np.testing.assert_allclose(run["v_l"], v0 + fed_l, rtol=1e-10)
    v = run["v_l"]
    glucose_in = v0 * y0[1] + sf * fed_l
    used = (v * run["x_g_l"] - v0 * y0[0]) / p.yxs_g_g + (v * run["p_g_l"]) / p.yps_g_g
    np.testing.assert_allclose(glucose_in - v * run["s_g_l"], used, rtol=1e-8)
    assert run["p_g_l"].iloc[-1] > 40.0  # the feed is fermented, not just diluted


def test_parameter_override_changes_the_result():
    base = simulate(FermentationParams(), "batch", 10.0, [1.0, 100.0, 0.0], t_eval=[10.0])
    slow = simulate(FermentationParams(mu_max_h=0.2), "batch", 10.0, [1.0, 100.0, 0.0], t_eval=[10.0])
    assert slow["s_g_l"].iloc[-1] > base["s_g_l"].iloc[-1] + 20.0
    tolerant = chemostat_steady_state(FermentationParams(p_max_g_l=150.0), 0.1, 100.0)
    assert tolerant["s_g_l"] < chemostat_steady_state(FermentationParams(), 0.1, 100.0)["s_g_l"]
    with pytest.raises(AttributeError):
        FermentationParams().mu_max_h = 1.0  # frozen


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"mu_max_h": -0.1}, "mu_max_h expected a finite number > 0"),
        ({"ks_g_l": 0.0}, "ks_g_l expected a finite number > 0"),
        ({"mu_max_h": math.inf}, "mu_max_h expected a finite number > 0"),
        ({"ki_g_l": 0.0}, r"ki_g_l expected a number > 0 \(math.inf = none\)"),
        ({"ms_g_g_h": -0.01}, "ms_g_g_h expected a finite number >= 0"),
        ({"kd_h": math.nan}, "kd_h expected a number, found NaN"),
        ({"yps_g_g": 0.6}, "stoichiometric"),
        ({"alpha_g_g": "5.6"}, "alpha_g_g expected a real number"),
    ],
)
def test_invalid_params_raise(override, match):
    with pytest.raises(ValueError, match=match):
        FermentationParams(**override)


def test_invalid_operation_raises():
    with pytest.raises(ValueError, match="mode expected"):
        simulate(FermentationParams(), "perfusion", 10.0, [1.0, 10.0, 0.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="y0 for mode 'fed_batch' expected 4"):
        simulate(FermentationParams(), "fed_batch", 10.0, [1.0, 10.0, 0.0])
    with pytest.raises(ValueError, match="dilution_h expected"):
        chemostat_steady_state(FermentationParams(), 0.0, 50.0)


def test_failed_integration_raises_a_nexus_error():
    def broken_feed(t):
        return 0.1 if t < 1.0 else math.nan

    with pytest.raises(FermentationIntegrationFailed, match="expected to reach t = 5.0 h") as info:
        simulate(FermentationParams(), "continuous", 5.0, [1.0, 50.0, 0.0], s_feed_g_l=50.0, feed_profile=broken_feed)
    assert isinstance(info.value, NexusError)


def test_rates_are_vectorised():
    p = FermentationParams()
    s = np.array([0.0, 1.7, 1e3])
    mu, qp, qs = specific_rates(np.ones(3), s, np.array([0.0, 0.0, 93.0]), p)
    np.testing.assert_allclose(mu, [0.0, 0.165, 0.0], atol=1e-15)
    np.testing.assert_allclose(qp, p.alpha_g_g * mu)
    assert qs[2] == pytest.approx(p.ms_g_g_h * 1e3 / 1001.7)
    dy = derivatives(0.0, [np.ones(3), s, np.zeros(3)], p, dilution_h=0.1, s_feed_g_l=50.0)
    assert dy.shape == (3, 3)


def test_twin_steady_state_satisfies_this_models_substrate_balance():
    # monod_cstr on glucose alone (no pentose) at the design theta and residence time.
    k = physics.fermentation_constants(physics.DEFAULT)
    fp = twin_params(physics.DEFAULT, "glucose")
    x_implied = implied_biomass_g_l(fp, k["theta_glucose"], k["tau_h"])
    assert x_implied == pytest.approx(0.505, abs=1e-3)
    assert folded_uptake_g_l_h(fp, x_implied) * k["tau_h"] == pytest.approx(k["theta_glucose"], rel=1e-12)
    s0 = np.array([20.0, 68.86, 120.0])
    sg, _, p = physics.monod_cstr(s0, np.zeros(3), k["theta_glucose"], 0.0)
    _, qp, qs = specific_rates(x_implied, sg, p, fp)
    np.testing.assert_allclose(k["tau_h"] * qs * x_implied, s0 - sg, rtol=1e-9)
    np.testing.assert_allclose(k["tau_h"] * qp * x_implied, p, rtol=1e-9)
    # The twin's overall yields: 0.5114 * 0.95/0.98 ethanol and 0.02/0.98 cells per g glucose consumed.
    assert qp / qs == pytest.approx(np.full(3, ETHANOL_YIELD_THEORETICAL_G_G * 0.95 / 0.98), rel=1e-12)


def test_module_docstring_example_runs():
    import doctest

    from models.biorefinery import fermentation

    result = doctest.testmod(fermentation, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0
