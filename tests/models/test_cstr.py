"""CSTR digital twin: published steady state, multiplicity, PI control, scenario and historian files."""

from __future__ import annotations

import ast
import datetime as dt
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pint
import pytest

import models
from models import cstr, get_plant, historian
from models.base import Episode, Plant

UTC = dt.timezone.utc
DAY1 = dt.datetime(2026, 1, 1, tzinfo=UTC)
DAY = dt.timedelta(days=1)
SP0 = cstr.NOMINAL_SETPOINT_K
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


def inputs_with(n: int, interlocks: tuple[cstr.Interlock, ...] = (), **profiles: np.ndarray) -> cstr.LoopInputs:
    """Nominal constant inputs with some profiles replaced."""
    base = cstr.LoopInputs.constant(n, setpoint_k=SP0)
    names = ("setpoint_k", "feed_flow", "feed_conc", "feed_temp_k", "ua_factor", "coolant_floor_k")
    fields = {f: getattr(base, f) for f in names}
    fields.update(profiles)
    return cstr.LoopInputs(**fields, interlocks=interlocks)


def recovery_minutes(temp: np.ndarray, sp: float, tol: float = 0.5) -> int:
    """Minutes until T stays within ``tol`` of ``sp``."""
    outside = np.flatnonzero(np.abs(temp - sp) > tol)
    return int(outside[-1] + 1) if outside.size else 0


# ------------------------------------------------------------------ physics


def test_published_steady_state_at_300k():
    # APMonitor CSTR example: Tc = 300 K -> Ca = 0.87725294 mol/L, T = 324.475443 K (cold branch).
    ca, temp = cstr.steady_states(300.0)[0]
    assert ca == pytest.approx(0.87725294, rel=1e-6)
    assert temp == pytest.approx(324.475443, rel=1e-6)


def test_multiplicity_range_and_counts():
    lo, hi = cstr.multiplicity_range()
    assert lo == pytest.approx(298.0805, abs=1e-3)
    assert hi == pytest.approx(303.2293, abs=1e-3)
    for tc in (298.2, 300.0, 302.0, 303.2):
        assert len(cstr.steady_states(tc)) == 3, tc
    for tc in (280.0, 297.9, 303.3, 310.0):
        assert len(cstr.steady_states(tc)) == 1, tc
    temps = [t for _, t in cstr.steady_states(300.0)]
    assert temps == sorted(temps)
    assert temps == pytest.approx([324.4754, 350.0055, 369.7049], abs=1e-3)


@pytest.mark.parametrize("tc", [280.0, 295.0, 298.5, 300.0, 302.0, 303.0, 305.0, 310.0, 330.0])
def test_every_steady_state_satisfies_both_balances(tc):
    for ca, temp in cstr.steady_states(tc):
        dca, dtemp = cstr.balances(ca, temp, tc)
        assert abs(dca) < 1e-8 and abs(dtemp) < 1e-8, (tc, ca, temp, dca, dtemp)


def test_stability_cold_stable_middle_saddle():
    cold, middle, hot = cstr.analyse_steady_states(300.0)
    assert cold.stable and all(ev.real < 0 for ev in cold.eigenvalues)
    assert not middle.stable
    assert sorted(ev.real for ev in middle.eigenvalues)[0] < 0 < sorted(ev.real for ev in middle.eigenvalues)[1]
    assert not hot.stable  # unstable focus at Tc = 300 K (the hot branch oscillates there)
    (only,) = cstr.analyse_steady_states(310.0)
    assert only.stable and only.temp_k > 380.0  # ignited


# ------------------------------------------------------------------ closed loop


def test_closed_loop_holds_its_steady_state():
    traj = cstr.run_closed_loop(cstr.LoopInputs.constant(600, setpoint_k=SP0))
    assert np.max(np.abs(traj.temp_k - SP0)) < 1e-6
    assert np.max(np.abs(traj.ca - traj.ca[0])) < 1e-8
    assert np.max(np.abs(traj.output_k - traj.output_k[0])) < 1e-6  # no controller drift
    assert np.max(np.abs(traj.integral_k - traj.integral_k[0])) < 1e-6
    assert traj.output_k[0] == pytest.approx(300.0, abs=1e-5)  # the published jacket temperature


def test_setpoint_ramp_is_tracked_without_saturation():
    n = 300
    sp = np.minimum(SP0 + 0.25 * np.maximum(np.arange(n) - 30, 0), 335.0)  # 0.25 K/min ramp to 335 K
    traj = cstr.run_closed_loop(inputs_with(n, setpoint_k=sp))
    tu = cstr.DEFAULT_TUNING
    assert np.max(np.abs(traj.temp_k - sp)) < 0.5  # tracking error during the ramp, K
    assert np.max(traj.temp_k) - 335.0 < 0.2  # overshoot, K
    assert abs(traj.temp_k[-1] - 335.0) < 0.01
    assert tu.out_min + 20 < traj.output_k.min() and traj.output_k.max() < tu.out_max - 20  # far from limits
    assert np.max(np.abs(np.diff(traj.output_k))) < 0.2 * tu.out_rate  # rate limit never active


def test_anti_windup_bounds_the_integral_and_recovery():
    # 270 K would need a jacket below 250 K: the output saturates for an hour, then SP steps back.
    n = 240
    sp = np.full(n, SP0)
    sp[20:80] = 270.0
    inp = inputs_with(n, setpoint_k=sp)
    aw = cstr.run_closed_loop(inp)
    plain = cstr.run_closed_loop(inp, tuning=replace(cstr.DEFAULT_TUNING, tau_t=math.inf))
    tu = cstr.DEFAULT_TUNING
    assert np.isclose(aw.output_k[30:80], tu.out_min).all()  # really saturated
    assert aw.integral_k.min() > tu.out_min - 5.0  # back-calculation keeps I at the limit
    assert plain.integral_k.min() < 0.0  # without it I winds up by > 250 K
    rec_aw = recovery_minutes(aw.temp_k[80:], SP0)
    rec_plain = recovery_minutes(plain.temp_k[80:], SP0)
    assert rec_aw <= 30 and rec_plain >= 1.5 * rec_aw, (rec_aw, rec_plain)
    assert np.max(aw.temp_k[80:]) - SP0 < 1.0  # bounded overshoot after the return


def test_cooling_failure_trips_and_is_controlled_back():
    n = 200
    sp = np.full(n, 335.0)  # top grade, closest to the ignition fold
    floor = np.zeros(n)
    floor[10:45] = np.minimum(290.0 + 1.0 * np.arange(35), 312.0)
    il = cstr.Interlock(armed_from=10, armed_until=65, restart_at=50)
    traj = cstr.run_closed_loop(inputs_with(n, setpoint_k=sp, coolant_floor_k=floor, interlocks=(il,)))
    assert len(traj.trips) == 1 and 10 <= traj.trips[0] < 45
    assert traj.temp_k.max() < 345.0  # caught before ignition runs away (hot branch ~384 K)
    assert traj.feed_flow[int(traj.trips[0]) + 2 : 50].max() == 0.0
    assert abs(traj.temp_k[-1] - 335.0) < 0.05


# ------------------------------------------------------------------ scenario


def test_schedule_shares_and_tiling():
    start = DAY1 + dt.timedelta(days=3)  # deliberately not aligned to the 10-day quota blocks
    eps = cstr.schedule(start, start + 60 * DAY, seed=7)
    total = 60 * DAY.total_seconds()
    share = {c: sum(e.duration.total_seconds() for e in eps if e.category == c) / total for c in models.CATEGORIES}
    target = {"normal": 0.70, "transient": 0.20, "abnormal": 0.08, "extreme": 0.02}
    tol = {"normal": 0.01, "transient": 0.01, "abnormal": 0.006, "extreme": 0.004}
    for c in target:
        assert abs(share[c] - target[c]) <= tol[c], (c, share[c])
    assert eps[0].start == start and eps[-1].end == start + 60 * DAY
    for a, b in zip(eps, eps[1:]):
        assert a.end == b.start  # contiguous, no overlap
    assert len({e.episode_id for e in eps}) == len(eps)
    for e in eps:
        assert e.start.date() == (e.end - dt.timedelta(microseconds=1)).date()  # never crosses midnight
        if e.category != "normal":
            assert dt.timedelta(hours=1) <= e.duration <= dt.timedelta(hours=6), e
        assert (e.tag is not None) == (e.label in models.SENSOR_FAULT_LABELS)
    labels = {e.label for e in eps}
    assert {"steady", "setpoint_change", "cooling_failure", "stuck_sensor", "spiking_sensor", "sensor_drift"} <= labels


def test_schedule_of_a_day_does_not_depend_on_the_window():
    big = cstr.schedule(DAY1 - 15 * DAY, DAY1 + 15 * DAY, seed=3)
    day = cstr.schedule(DAY1 + 4 * DAY, DAY1 + 5 * DAY, seed=3)
    assert day == [e for e in big if DAY1 + 4 * DAY <= e.start < DAY1 + 5 * DAY]
    assert day != cstr.schedule(DAY1 + 4 * DAY, DAY1 + 5 * DAY, seed=4)


def test_true_values_stay_inside_instrument_ranges():
    # The days holding the first shutdown and the first cooling failure of the period.
    eps = cstr.schedule(DAY1, DAY1 + 40 * DAY, seed=0)
    days = sorted({next(e.start.date() for e in eps if e.label == lab) for lab in ("shutdown", "cooling_failure")})
    for d in days:
        t0 = dt.datetime.combine(d, dt.time(), tzinfo=UTC)
        df, _ = cstr.simulate_true(t0, t0 + DAY, seed=0)
        assert len(df) == 1440 and list(df.columns) == [t.tag for t in cstr.TAGS]
        for t in cstr.TAGS:
            assert df[t.tag].between(t.range_min, t.range_max).all(), (d, t.tag, df[t.tag].min(), df[t.tag].max())


# ------------------------------------------------------------------ simulator and files


def read_export(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_simulator_is_deterministic_and_window_independent(tmp_path):
    two = cstr.simulate(DAY1, DAY1 + 2 * DAY, landing_dir=tmp_path / "a", truth_dir=tmp_path / "ta", seed=5)
    again = cstr.simulate(DAY1, DAY1 + 2 * DAY, landing_dir=tmp_path / "b", truth_dir=tmp_path / "tb", seed=5)
    alone = cstr.simulate(DAY1 + DAY, DAY1 + 2 * DAY, landing_dir=tmp_path / "c", truth_dir=tmp_path / "tc", seed=5)
    other = cstr.simulate(DAY1 + DAY, DAY1 + 2 * DAY, landing_dir=tmp_path / "d", truth_dir=tmp_path / "td", seed=6)

    def files(result, root):
        return {p.relative_to(root): p.read_bytes() for p in result.paths}

    assert files(two, tmp_path / "a") == files(again, tmp_path / "b")
    assert (tmp_path / "ta" / "cstr_episodes.csv").read_bytes() == (tmp_path / "tb" / "cstr_episodes.csv").read_bytes()
    day2 = {k: v for k, v in files(two, tmp_path / "a").items() if "2026-01-02" in k.name}
    assert day2 and day2 == files(alone, tmp_path / "c")
    assert [e for e in two.episodes if e.start >= DAY1 + DAY] == list(alone.episodes)
    assert historian.read_episodes(tmp_path / "tc" / "cstr_episodes.csv") == list(alone.episodes)
    assert files(other, tmp_path / "d") != files(alone, tmp_path / "c")
    assert two.n_readings == 2 * 1440 * len(cstr.TAGS)

    # and the true values of day 2 agree exactly
    df2, _ = cstr.simulate_true(DAY1, DAY1 + 2 * DAY, seed=5)
    df1, _ = cstr.simulate_true(DAY1 + DAY, DAY1 + 2 * DAY, seed=5)
    pd.testing.assert_frame_equal(df2.loc[DAY1 + DAY :], df1, check_exact=True)


def test_simulated_files_obey_the_contract(tmp_path):
    res = cstr.simulate(DAY1, DAY1 + DAY, landing_dir=tmp_path / "landing", truth_dir=tmp_path / "truth", seed=2)
    (path,) = res.paths
    assert path == tmp_path / "landing" / "sensor" / "cstr" / "cstr__2026-01-01__01.csv"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("tag,timestamp,value,quality\n") and text.endswith("\n")
    df = read_export(path)
    assert len(df) == 1440 * len(cstr.TAGS) == res.n_readings
    assert df["timestamp"].str.match(TS_RE).all()
    ts = pd.to_datetime(df["timestamp"], utc=True, format="ISO8601")
    assert ts.min() == pd.Timestamp(DAY1) and ts.max() == pd.Timestamp(DAY1 + DAY - dt.timedelta(minutes=1))
    assert df.assign(ts=ts).sort_values(["ts", "tag"]).index.equals(df.index)
    assert set(df["quality"].astype(int)) <= {192, 64, 0, 24}
    assert ((df["value"] == "") == df["quality"].isin(["0", "24"])).all()
    specs = {t.tag: t for t in cstr.TAGS}
    for tag, vals in df[df["value"] != ""].groupby("tag")["value"]:
        dec = historian.value_decimals(specs[tag])
        assert vals.str.fullmatch(rf"-?\d+\.\d{{{dec}}}").all(), tag
    truth = pd.read_csv(tmp_path / "truth" / "cstr_episodes.csv", dtype=str, keep_default_na=False)
    assert list(truth.columns) == list(historian.EPISODE_COLUMNS)
    assert truth["start"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert len(truth) == len(res.episodes)


def test_historian_effects_and_delivery_quirks(tmp_path):
    """Every quirk forced on (probability 1) on constant true values, plus one fault of each kind."""
    idx = pd.date_range(DAY1, periods=1440, freq="1min", tz="UTC")
    mid = {t.tag: t.range_min + 0.4 * t.span for t in cstr.TAGS}
    true = pd.DataFrame({t: np.full(1440, v) for t, v in mid.items()}, index=idx)

    def ep(i, label, tag, h0, h1):
        t0, t1 = DAY1 + dt.timedelta(hours=h0), DAY1 + dt.timedelta(hours=h1)
        return Episode("cstr", 100 + i, "abnormal", label, t0, t1, tag, "")

    faults = [
        ep(1, "stuck_sensor", "CSTR.TI102", 2, 4),
        ep(2, "spiking_sensor", "CSTR.AI102", 5, 9),
        ep(3, "sensor_drift", "CSTR.TI101", 10, 14),
    ]
    cfg = replace(historian.DEFAULT_CONFIG, p_local_time=1.0, p_late_partial=1.0, p_overlap=1.0,
                  p_duplicate_file=1.0, p_comm_failure=1.0, p_spike_out_of_range=0.5)
    res = historian.write_exports(true, cstr.TAGS, faults, plant=cstr.INFO, landing_dir=tmp_path, seed=1, config=cfg)
    names = [p.name for p in res.paths]
    assert names == [f"cstr__2026-01-01__{nn:02d}.csv" for nn in (1, 2, 3, 4)]
    kinds = {"local_time", "late_partial", "overlap_reexport", "duplicate_file", "comm_failure"}
    assert {q.kind for q in res.quirks} == kinds
    p1, p2, p3, p4 = res.paths
    assert p4.read_bytes() == p1.read_bytes()  # exact duplicate file
    f1, f2, f3 = (read_export(p) for p in (p1, p2, p3))
    for f in (f1, f2, f3):
        assert f["timestamp"].str.endswith("+01:00").all()  # plant local time, explicit offset
    key = lambda f: set(zip(f["tag"], f["timestamp"]))  # noqa: E731
    assert not key(f1) & key(f2)  # late partial: split, not repeated
    assert len(key(f1) | key(f2)) == 1440 * len(cstr.TAGS) == res.n_readings
    assert key(f3) <= key(f1) and len(f3) == 60 * len(cstr.TAGS)  # one hour re-exported
    assert res.n_lines == len(f1) * 2 + len(f2) + len(f3)
    full = pd.concat([f1, f2], ignore_index=True)
    full["ts"] = pd.to_datetime(full["timestamp"], utc=True, format="ISO8601")
    assert full["ts"].min() == pd.Timestamp(DAY1)  # 01:00+01:00 is midnight UTC
    assert (full["quality"] == "24").sum() >= 2 * len(cstr.TAGS)
    full["v"] = pd.to_numeric(full["value"].replace("", np.nan))

    def window(tag, h0, h1):
        sel = full[(full["tag"] == tag) & (full["ts"] >= pd.Timestamp(DAY1 + dt.timedelta(hours=h0)))
                   & (full["ts"] < pd.Timestamp(DAY1 + dt.timedelta(hours=h1)))]
        return sel.dropna(subset=["v"])

    stuck = window("CSTR.TI102", 2, 4)
    assert stuck["v"].nunique() == 1 and (stuck["quality"] != "0").all()
    assert window("CSTR.TI102", 4, 6)["v"].nunique() > 50  # alive again afterwards
    spec_ai = next(t for t in cstr.TAGS if t.tag == "CSTR.AI102")
    outside = full[(full["tag"] != "") & full["v"].notna()]
    outside = outside[[not (s.range_min <= v <= s.range_max) for s, v in
                       zip((next(t for t in cstr.TAGS if t.tag == g) for g in outside["tag"]), outside["v"])]]
    assert len(outside) >= 1 and set(outside["tag"]) == {"CSTR.AI102"}  # only spikes leave the range
    spikes = window("CSTR.AI102", 5, 9)
    assert (spikes["v"] - mid["CSTR.AI102"]).abs().gt(0.05 * spec_ai.span).sum() >= 5
    assert (window("CSTR.AI102", 0, 5)["v"] - mid["CSTR.AI102"]).abs().max() < 0.02 * spec_ai.span  # noise only
    drift = historian.sensor_fault(faults[2], next(t for t in cstr.TAGS if t.tag == "CSTR.TI101"),
                                   seed=1, sampling=cstr.INFO.sampling, config=cfg).drift
    late = window("CSTR.TI101", 13, 14)["v"].mean() - mid["CSTR.TI101"]
    assert late == pytest.approx(drift * 3.5 / 4, abs=0.05)  # ramp reaches 7/8 of its end value on average


# ------------------------------------------------------------------ interface


def test_plant_registry_and_tag_catalog():
    plant = get_plant("cstr")
    assert plant is cstr and isinstance(plant, Plant)
    assert "cstr" in models.PLANTS
    with pytest.raises(KeyError, match="unknown plant"):
        get_plant("no_such_plant")
    assert plant.INFO.sampling == dt.timedelta(minutes=1)
    ureg = pint.UnitRegistry()
    assert len({t.tag for t in plant.TAGS}) == len(plant.TAGS)
    for t in plant.TAGS:
        assert ureg.Unit(t.unit).dimensionality == ureg.Unit(t.canonical_unit).dimensionality, t.tag
        assert t.range_min < t.range_max


def test_models_never_import_airflow():
    for path in Path(models.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] == "airflow" for n in names), path
