"""Economic NMPC + MHE of the CSTR (optimization.mpc) against TC102's PI law.

Closed loops are short (60 min, horizon 10 min) and seeded, so the numbers are reproducible;
the plant is the twin's own ODE integrated with scipy, the controller sees noisy tags only.
Needs IPOPT (cyipopt + PyNumero ASL): fails, never skips, where `make install` did not run.
"""

from __future__ import annotations

import numpy as np
import pytest

from models import cstr as plant
from optimization.mpc import (
    CSTRMeasurement,
    CSTRNMPC,
    compare_with_pi,
    make_scenario,
    plant_step,
    predict_open_loop,
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
