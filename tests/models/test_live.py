"""Live twins (models.live): the CSTR's closed loop run forward with set-point writes, playback of the
other types, the transmitter model."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from models import cstr, live
from models.cstr.scenarios import NOMINAL_SETPOINT_K

START = dt.datetime(2026, 12, 6, tzinfo=dt.timezone.utc)
MIN = dt.timedelta(minutes=1)
SP, TI = "CSTR.TC102.SP", "CSTR.TI102"
NOMINAL_C = NOMINAL_SETPOINT_K - 273.15


def series(samples, tag):
    return np.array([v[tag] for _, v in samples])


def test_cstr_without_writes_holds_the_closed_loop_steady_state():
    twin = live.live_twin("cstr", START)
    assert isinstance(twin, live.CSTRLive) and isinstance(twin, live.LiveTwin)
    samples = twin.advance(START + 30 * MIN)
    assert [t for t, _ in samples] == [START + k * MIN for k in range(31)]
    assert np.abs(series(samples, TI) - NOMINAL_C).max() < 0.05
    assert np.all(series(samples, SP) == pytest.approx(NOMINAL_C, abs=1e-12))
    assert set(samples[0][1]) == {t.tag for t in cstr.TAGS}
    assert twin.advance(START + 30 * MIN) == []  # nothing new in (last, until]


def test_a_step_write_moves_the_reactor_to_the_new_set_point():
    twin = live.live_twin("cstr", START)
    twin.advance(START + 10 * MIN)
    twin.write(SP, NOMINAL_C + 5.0, None, START + 10 * MIN)
    assert twin.setpoint(SP) == (pytest.approx(NOMINAL_C), pytest.approx(NOMINAL_C + 5.0))
    samples = twin.advance(START + 40 * MIN)
    assert series(samples, SP) == pytest.approx(np.full(30, NOMINAL_C + 5.0))  # from the next minute on
    assert twin.ramp_done(SP)
    assert abs(series(samples, TI)[-1] - (NOMINAL_C + 5.0)) < 0.2
    assert series(samples, TI)[0] < NOMINAL_C + 1.0  # it moves, it does not jump


def test_a_ramp_reaches_the_target_after_ten_minutes_not_before():
    twin = live.live_twin("cstr", START)
    twin.advance(START + 5 * MIN)
    at = START + 5 * MIN
    twin.write(SP, NOMINAL_C + 5.0, 0.5, at)
    done_at = None
    sps = []
    for k in range(1, 16):
        (t, values), = twin.advance(at + k * MIN)
        sps.append(values[SP])
        if done_at is None and twin.ramp_done(SP):
            done_at = k
    assert done_at == 10
    assert sps[:10] == pytest.approx([NOMINAL_C + 0.5 * k for k in range(1, 11)], abs=1e-9)
    assert max(sps[:9]) < NOMINAL_C + 5.0 and sps[9:] == pytest.approx([NOMINAL_C + 5.0] * 6)


def test_stepping_in_pieces_gives_the_same_samples():
    whole, pieces = live.live_twin("cstr", START), live.live_twin("cstr", START)
    for twin in (whole, pieces):
        twin.advance(START)
        twin.write(SP, NOMINAL_C + 3.0, 0.25, START + dt.timedelta(seconds=30))
    a = whole.advance(START + 60 * MIN)
    b = [s for k in range(1, 61) for s in pieces.advance(START + k * MIN)]
    assert [t for t, _ in a] == [t for t, _ in b]
    for (_, va), (_, vb) in zip(a, b):
        assert list(va.values()) == pytest.approx(list(vb.values()), abs=1e-9)


def test_refused_writes_say_why():
    twin = live.live_twin("cstr", START)
    with pytest.raises(ValueError, match=r"\[0, 150\] degC, found 200"):
        twin.write(SP, 200.0, None, START)
    with pytest.raises(ValueError, match="CSTR.TI102 is not writable"):
        twin.write(TI, 60.0, None, START)
    with pytest.raises(ValueError, match="ramp_per_min must be a positive"):
        twin.write(SP, 60.0, -1.0, START)


def test_coarser_cstr_sampling_must_be_whole_minutes():
    twin = live.live_twin("cstr", START + dt.timedelta(seconds=20), sampling=5 * MIN)
    assert [t for t, _ in twin.advance(START + 20 * MIN)] == [START + k * 5 * MIN for k in range(1, 5)]
    with pytest.raises(ValueError, match="multiple of 0:01:00"):
        live.live_twin("cstr", START, sampling=dt.timedelta(seconds=30))


def test_playback_equals_simulate_true_on_its_grid_and_interpolates_between():
    from models.fleet import get_instance

    start = dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.timezone.utc)  # 15-min type, across midnight
    twin = live.live_twin("co2_electrolyzer", start, seed=3, sampling=dt.timedelta(minutes=5))
    assert isinstance(twin, live.PlaybackTwin) and twin.writable == {}
    samples = twin.advance(start + dt.timedelta(hours=1))
    truth, _ = get_instance("co2_electrolyzer").simulate_true(start, start + dt.timedelta(minutes=75), seed=3)
    step = truth.index[1] - truth.index[0]
    assert step == dt.timedelta(minutes=15) and len(samples) == 13
    by_time = dict(samples)
    for t in truth.index:
        assert list(by_time[t.to_pydatetime()].values()) == pytest.approx(truth.loc[t].tolist(), rel=1e-12)
    for t0 in truth.index[:-1]:
        mid = by_time[(t0 + step / 3).to_pydatetime()]
        expected = truth.loc[t0] * (2 / 3) + truth.loc[t0 + step] * (1 / 3)
        assert list(mid.values()) == pytest.approx(expected.tolist(), rel=1e-9, abs=1e-9)
    with pytest.raises(ValueError, match="co2_electrolyzer has no live model of its controls; writes are not"):
        twin.write(twin.tags[0].tag, 1.0, None, start)


def test_the_reactor_bank_plays_back_1000_tags():
    twin = live.live_twin("reactor_bank", START)
    assert len(twin.tags) == 1000 and len({t.unit_operation for t in twin.tags}) == 100


def test_measured_adds_noise_of_the_span_and_clips_to_the_range():
    twin = live.live_twin("cstr", START)
    samples = twin.advance(START + 999 * MIN)
    readings = live.measured(twin, samples, np.random.default_rng(0))
    ti = np.array([v[TI][0] for _, v in readings]) - series(samples, TI)
    assert np.std(ti) == pytest.approx(0.1 / 100 * 150.0, rel=0.1)  # 0.1 % of a 150 K span
    assert [v[SP] for _, v in readings] == [(x, 192) for x in series(samples, SP)]  # set points exact
    hot = [(START, {**samples[0][1], TI: 400.0})]
    assert live.measured(twin, hot, np.random.default_rng(0))[0][1][TI] == (150.0, 192)
