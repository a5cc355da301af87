"""Economic NMPC + MHE of the CSTR (optimization.mpc) against TC102's PI law.

Closed loops are short (60 min, horizon 10 min) and seeded, so the numbers are reproducible;
the plant is the twin's own ODE integrated with scipy, the controller sees noisy tags only.
Needs IPOPT (cyipopt + PyNumero ASL): fails, never skips, where `make install` did not run.
"""

from __future__ import annotations

import numpy as np
import pytest

from dataclasses import replace

from models import cstr as plant
from optimization.cstr import runaway_limit_k
from optimization.mpc import (
    CSTRMeasurement,
    CSTRNMPC,
    compare_with_pi,
    make_scenario,
    plant_step,
    predict_open_loop,
    runaway_limit_at,
)
from optimization.solvers import nlp_solver

HORIZON = 10  # min; the benchmark runs 20


@pytest.fixture(scope="module")
def setpoint_change():
    return compare_with_pi(make_scenario("setpoint_change", minutes=60), horizon=HORIZON, seed=0)


@pytest.fixture(scope="module")
def disturbance():
    return compare_with_pi(make_scenario("feed_disturbance", minutes=60), horizon=HORIZON, seed=0)


def test_collocation_prediction_matches_scipy_integration():
    # Radau, 3 points per 1-min element, against LSODA (rtol 1e-9) of models.cstr.balances + jacket lag.
    sc = make_scenario("setpoint_change", minutes=30)
    x0 = (sc.initial.ca, sc.initial.temp_k, sc.initial.jacket_k)
    moves = [302.0] * 5 + [303.0] * 5 + [301.0] * 10  # stays on the cold branch
    predicted = predict_open_loop(x0, moves).to_numpy()
    x, reference = x0, [x0]
    for minute, u in enumerate(moves):
        x = plant_step(x, u, float(minute), 1.0, sc.inputs)
        reference.append(x)
    reference = np.asarray(reference)
    assert predicted.shape == reference.shape
    np.testing.assert_allclose(predicted, reference, rtol=1e-3)
    # In absolute terms the reactor temperature agrees to 0.05 K over 20 min.
    assert np.abs(predicted[:, 1] - reference[:, 1]).max() < 0.05


@pytest.mark.parametrize("ua_factor, tf, caf, q", [(1.0, 350.0, 1.0, 100.0), (0.75, 353.0, 1.05, 100.0),
                                                   (0.9, 350.0, 1.0, 80.0), (0.6, 355.0, 1.1, 110.0)])
def test_runaway_limit_at_matches_the_optimizer(ua_factor, tf, caf, q):
    expected = runaway_limit_k(replace(plant.DEFAULT, UA=ua_factor * plant.DEFAULT.UA, Tf=tf, Caf=caf, q=q))
    assert runaway_limit_at(plant.DEFAULT, q, caf, tf, ua_factor) == pytest.approx(expected, abs=1e-4)


def test_setpoint_change_nmpc_beats_pi(setpoint_change):
    t = setpoint_change
    nmpc, pi, ideal = t.loc["nmpc"], t.loc["pi"], t.loc["pi_noise_free"]
    # Measured (seed 0): IAE 87.8 vs 221.4 K min; profit 357 vs 293 USD; 3 vs 4 min above the limit.
    assert nmpc["iae_temp_k_min"] < 0.5 * pi["iae_temp_k_min"]
    assert nmpc["profit_usd"] > pi["profit_usd"] + 40.0
    assert nmpc["minutes_above_limit"] <= pi["minutes_above_limit"]
    assert nmpc["max_excursion_k"] <= pi["max_excursion_k"] + 0.05
    # Stated tolerance: the NMPC never runs more than 0.5 K above the runaway limit (noise 0.15 K).
    assert nmpc["max_excursion_k"] < 0.5
    # Against the noise-free PI too on speed and money (it holds the limit exactly, so violations differ).
    assert nmpc["iae_temp_k_min"] < 0.5 * ideal["iae_temp_k_min"]
    assert nmpc["profit_usd"] > ideal["profit_usd"] + 40.0
    assert nmpc["failed_solves"] == 0
    assert nmpc["solve_max_s"] < nmpc["sampling_interval_s"]


def test_disturbance_nmpc_beats_pi(disturbance):
    t = disturbance
    nmpc, pi = t.loc["nmpc"], t.loc["pi"]
    # Measured (seed 0): IAE 65 vs 129 K min; 11 vs 52 min above the limit; max 0.54 vs 5.05 K.
    # PI holds its set point while fouling and a hotter, richer feed lower the ignition point,
    # so it earns more running above the limit (344 vs 440 USD): profit is not the winning measure here.
    assert nmpc["iae_temp_k_min"] < 0.6 * pi["iae_temp_k_min"]
    assert nmpc["minutes_above_limit"] < 0.5 * pi["minutes_above_limit"]
    assert pi["max_excursion_k"] > 4.0
    assert nmpc["max_excursion_k"] < 1.0  # stated tolerance under disturbances
    assert nmpc["failed_solves"] == 0


def test_mhe_tracks_the_fouling(disturbance):
    frame = disturbance.attrs["trajectories"]["nmpc"]
    true_factor = frame["ua_j_min_k"] / plant.DEFAULT.UA
    error = (frame["est_ua_factor"] - true_factor).abs()
    # UA drifts from 100 % to 82 % over minutes 10-60 (plus a feed T and Caf step): the estimate
    # is within 0.01 of the truth over the last 10 minutes (measured: <= 0.006).
    assert true_factor.iloc[-1] < 0.83
    assert error.iloc[-10:].max() < 0.01
    # State estimate after the first 10 min (measured: T max 0.35 K; Ca max 0.035 mol/L, right
    # after the Caf step, which the median feed filter passes 2 min late).
    temp_error = (frame["est_temp_k"] - frame["temp_k"]).abs().iloc[10:]
    ca_error = (frame["est_ca"] - frame["ca"]).abs().iloc[10:]
    assert temp_error.max() < 0.5 and temp_error.median() < 0.15
    assert ca_error.max() < 0.05 and ca_error.median() < 0.005


def test_failed_solve_holds_the_previous_move():
    controller = CSTRNMPC(horizon=5)
    controller.solver = nlp_solver(max_iter=1)  # IPOPT stops at its iteration limit: solve() raises
    y = CSTRMeasurement(temp_k=324.5, jacket_k=300.0, feed_flow_l_min=100.0, feed_conc_mol_l=1.0, feed_temp_k=350.0)
    move = controller.step(y)
    assert controller.failures == 1
    assert move == pytest.approx(300.0)  # no previous move yet: hold the jacket where it is
    assert len(controller.solve_times_s) == 1


# ---------------------------------------------------------------------------------- fermenter

from optimization.mpc.fermenter import (  # noqa: E402
    compare_fermenter_with_pi,
    fermenter_step,
    make_fermenter_scenario,
    predict_fermenter_open_loop,
)

FERMENTER_HORIZON = 12  # h; the benchmark runs 24


@pytest.fixture(scope="module")
def fermenter_disturbance():
    return compare_fermenter_with_pi(make_fermenter_scenario("feed_disturbance", hours=40), horizon=FERMENTER_HORIZON)


def test_fermenter_collocation_matches_scipy_integration():
    # Radau, 4 points per 1-h element, against scipy's Radau (rtol 1e-9) of fermentation.derivatives.
    sc = make_fermenter_scenario("spec_change", hours=30)
    dilutions = [0.12] * 5 + [0.18] * 5 + [0.15] * 10
    predicted = predict_fermenter_open_loop(sc.initial, dilutions).to_numpy()
    x, reference = sc.initial, [sc.initial]
    for hour, d in enumerate(dilutions):
        x = fermenter_step(x, d, float(hour), 1.0, sc)
        reference.append(x)
    np.testing.assert_allclose(predicted, np.asarray(reference), rtol=1e-3)


def test_fermenter_spec_change_nmpc_beats_pi():
    t = compare_fermenter_with_pi(make_fermenter_scenario("spec_change", hours=24), horizon=FERMENTER_HORIZON)
    nmpc, pi = t.loc["nmpc"], t.loc["pi"]
    # Measured (seed 0): IAE 20.0 vs 35.8 g/L h; value 98.7 vs 94.7 USD/m3. The PI approaches the
    # spec slowly and never crosses it in 24 h; the NMPC rides 0.2 g/L below it and crossed it once
    # by 0.02 g/L (a tenth of the HPLC noise): the stated tolerance is 0.05 g/L.
    assert nmpc["iae_sugar_g_l_h"] < 0.7 * pi["iae_sugar_g_l_h"]
    assert nmpc["value_usd_m3"] > pi["value_usd_m3"] + 3.0
    assert nmpc["max_excess_g_l"] < 0.05
    assert nmpc["hours_below_x_min"] == 0 and nmpc["min_cells_g_l"] > 6.5  # far from washout
    assert nmpc["failed_solves"] == 0


def test_fermenter_disturbance_nmpc_keeps_the_spec(fermenter_disturbance):
    t = fermenter_disturbance
    nmpc, pi = t.loc["nmpc"], t.loc["pi"]
    # Measured (seed 0): 8 vs 36 h above the 5 g/L spec, max excess 0.55 vs 1.65 g/L, IAE 16.5 vs
    # 24.9 g/L h. The PI sits on the spec and crosses it with the noisy samples and the disturbances;
    # the NMPC keeps a 0.2 g/L back-off, which costs value (161.9 vs 167.9 USD/m3: the PI earns part
    # of its value above the spec).
    assert nmpc["hours_above_spec"] < 0.35 * pi["hours_above_spec"]
    assert nmpc["max_excess_g_l"] < 0.7 < 1.0 < pi["max_excess_g_l"]
    assert nmpc["iae_sugar_g_l_h"] < 0.8 * pi["iae_sugar_g_l_h"]
    assert nmpc["hours_below_x_min"] == 0
    assert nmpc["failed_solves"] == 0


def test_fermenter_mhe_finds_the_activity_loss(fermenter_disturbance):
    frame = fermenter_disturbance.attrs["trajectories"]["nmpc"]
    # mu_max falls 20 % over hours 12-24 (theta 1 -> 0.8); unmeasured, estimated from hourly S and P.
    assert frame["theta"].iloc[-1] == pytest.approx(0.8)
    assert (frame["est_theta"] - frame["theta"]).abs().iloc[-8:].max() < 0.05  # measured 0.034
    assert (frame["est_x_g_l"] - frame["x_g_l"]).abs().iloc[-8:].max() < 0.3  # cells, g/L (unmeasured); 0.13


# ---------------------------------------------------------------------------------- MHE arrival cost after a failed solve

from optimization.mpc import CSTRMHE, FermenterMHE  # noqa: E402
from optimization.mpc import core as mpc_core  # noqa: E402
from optimization.mpc.fermenter import FermenterMeasurement  # noqa: E402
from models.cstr.physics import LoopInputs  # noqa: E402
from nexus.errors import InfeasibleOptimization  # noqa: E402

MHE_WINDOW = 4
FAILING_SAMPLES = {6, 7}  # two solves in a row after the window is full (it slides from sample 5 on)


def _failing_solve(monkeypatch, mhe, samples):
    """Make the MHE's solve raise (as IPOPT's iteration limit does) while it processes ``samples``."""
    real = mpc_core.solve

    def solve(model, solver, **kwargs):
        if mhe.samples_seen - 1 in samples:
            raise InfeasibleOptimization("forced failure")
        return real(model, solver, **kwargs)

    monkeypatch.setattr(mpc_core, "solve", solve)


@pytest.mark.parametrize("failing", [FAILING_SAMPLES, set(range(1, 8))], ids=["after_solves", "from_the_start"])
def test_cstr_mhe_prior_follows_the_window_after_a_failed_solve(monkeypatch, failing):
    sc = make_scenario("setpoint_change", minutes=30)
    inputs = replace(LoopInputs.constant(30, plant.DEFAULT, setpoint_k=330.0), ua_factor=np.full(30, 0.95))
    mhe = CSTRMHE(window=MHE_WINDOW)
    _failing_solve(monkeypatch, mhe, failing)
    x, truth, u_prev = (sc.initial.ca, sc.initial.temp_k, sc.initial.jacket_k), [], None
    for minute in range(20):
        truth.append(x)
        y = CSTRMeasurement(x[1], x[2], inputs.feed_flow[minute], inputs.feed_conc[minute], inputs.feed_temp_k[minute])
        prior_before, first_before = mhe.prior, mhe.history[0] if len(mhe.history) == MHE_WINDOW + 1 else None
        est = mhe.step(y, u_prev)
        first = max(0, minute - MHE_WINDOW)
        assert mhe.prior_sample == first  # the prior refers to the window's first sample
        if minute - 1 in failing and first_before is not None:
            # No fresh estimate of the new first sample: the old prior moved one interval through the model.
            held = replace(inputs, ua_factor=np.full(30, prior_before.ua_factor))
            expected = plant_step((prior_before.ca, prior_before.temp_k, prior_before.jacket_k), mhe.history[0][1],
                                  float(first - 1), 1.0, held)
            np.testing.assert_allclose((mhe.prior.ca, mhe.prior.temp_k, mhe.prior.jacket_k), expected, rtol=1e-6)
            assert mhe.prior.ua_factor == prior_before.ua_factor
            if failing == FAILING_SAMPLES:  # moved from a fresh estimate: near the truth at that sample
                assert abs(mhe.prior.temp_k - truth[first][1]) < 0.2
        u_prev = 301.0 if minute < 6 else 299.0
        x = plant_step(x, u_prev, float(minute), 1.0, inputs)
    assert mhe.failures == len(failing)
    # Recovered: the estimate follows the plant again (noise-free samples) and finds the fouling.
    assert abs(est.temp_k - truth[-1][1]) < 0.05 and abs(est.ca - truth[-1][0]) < 0.01
    assert est.ua_factor == pytest.approx(0.95, abs=0.02)


@pytest.mark.parametrize("failing", [FAILING_SAMPLES, set(range(1, 8))], ids=["after_solves", "from_the_start"])
def test_fermenter_mhe_prior_follows_the_window_after_a_failed_solve(monkeypatch, failing):
    sc = make_fermenter_scenario("spec_change", hours=30)
    sc = replace(sc, theta=np.full(30, 0.9))
    mhe = FermenterMHE(window=MHE_WINDOW)
    _failing_solve(monkeypatch, mhe, failing)
    x, truth, d_prev = sc.initial, [], None
    for hour in range(20):
        truth.append(x)
        y = FermenterMeasurement(x[1], x[2], float(sc.s_feed_g_l[hour]))
        prior_before, first_before = mhe.prior, mhe.history[0] if len(mhe.history) == MHE_WINDOW + 1 else None
        est = mhe.step(y, d_prev, d_prev or sc.d0)
        first = max(0, hour - MHE_WINDOW)
        assert mhe.prior_sample == first
        if hour - 1 in failing and first_before is not None:
            held = replace(sc, theta=np.full(30, prior_before.theta))
            expected = fermenter_step((prior_before.x_g_l, prior_before.s_g_l, prior_before.p_g_l),
                                      mhe.history[0][1], float(first - 1), 1.0, held)
            np.testing.assert_allclose((mhe.prior.x_g_l, mhe.prior.s_g_l, mhe.prior.p_g_l), expected, rtol=1e-5)
            assert mhe.prior.theta == prior_before.theta
        d_prev = 0.13 if hour < 6 else 0.11
        x = fermenter_step(x, d_prev, float(hour), 1.0, sc)
    assert mhe.failures == len(failing)
    assert abs(est.s_g_l - truth[-1][1]) < 0.05 and abs(est.x_g_l - truth[-1][0]) < 0.2
    assert est.theta == pytest.approx(0.9, abs=0.03)
