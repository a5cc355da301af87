"""Shared simulation engine: plant instances of a plant type, and a new plant type built on it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models import SENSOR_FAULT_LABELS, get_plant

UTC = dt.timezone.utc
DAY1 = dt.datetime(2026, 1, 1, tzinfo=UTC)
DAY = dt.timedelta(days=1)


def _names(paths, plant_id):
    return sorted(p.name.replace(plant_id, "<id>") for p in paths)


def test_instance_writes_its_own_files_with_the_types_rows(tmp_path):
    cstr = get_plant("cstr")
    kw = dict(seed=0, landing_dir=tmp_path / "landing", truth_dir=tmp_path / "truth")
    own = cstr.simulate(DAY1, DAY1 + 2 * DAY, **kw)
    inst = cstr.simulate(DAY1, DAY1 + 2 * DAY, plant_id="cstr_007", **kw)

    assert own.plant_id == "cstr" and inst.plant_id == "cstr_007"
    assert all(p.parent == tmp_path / "landing" / "sensor" / "cstr_007" for p in inst.paths)
    assert all(p.name.startswith("cstr_007__") for p in inst.paths)
    assert _names(inst.paths, "cstr_007") == _names(own.paths, "cstr")
    for a, b in zip(sorted(own.paths), sorted(inst.paths)):
        assert a.read_bytes() == b.read_bytes(), b.name  # rows name tags, not plants
    assert (inst.n_readings, inst.n_lines) == (own.n_readings, own.n_lines)
    assert any(e.label in SENSOR_FAULT_LABELS for e in own.episodes)  # fault rendering is keyed too
    assert {e.plant_id for e in inst.episodes} == {"cstr_007"}
    assert [(e.episode_id, e.label, e.start, e.end, e.tag, e.detail) for e in inst.episodes] == [
        (e.episode_id, e.label, e.start, e.end, e.tag, e.detail) for e in own.episodes
    ]
    assert inst.truth_path.name == "cstr_007_episodes.csv"
    truth = inst.truth_path.read_text().replace("cstr_007,", "cstr,")
    assert truth == own.truth_path.read_text()

    other = cstr.simulate(DAY1, DAY1 + DAY, plant_id="cstr_008", seed=5, landing_dir=tmp_path / "l2",
                          truth_dir=tmp_path / "t2")
    first = sorted(p for p in inst.paths if "2026-01-01__01" in p.name)[0]
    other_first = next(p for p in other.paths if "2026-01-01__01" in p.name)
    assert first.read_bytes() != other_first.read_bytes()


@pytest.mark.parametrize("plant_id", ["cstr", "co2_electrolyzer", "smelter", "biorefinery"])
def test_simulate_true_of_an_instance_equals_the_type_but_for_the_id(plant_id):
    plant = get_plant(plant_id)
    step = plant.INFO.sampling
    start, end = DAY1 + 6 * dt.timedelta(hours=1), DAY1 + 6 * dt.timedelta(hours=1) + 8 * step
    df, eps = plant.simulate_true(start, end, seed=2)
    df_i, eps_i = plant.simulate_true(start, end, seed=2, plant_id=f"{plant_id}_042")
    assert df_i.equals(df)
    assert {e.plant_id for e in eps_i} == {f"{plant_id}_042"}
    assert [e.episode_id for e in eps_i] == [e.episode_id for e in eps]


# ------------------------------------------------------------------ a new plant type: nothing copied

from models.base import EPOCH, PlantInfo, TagSpec  # noqa: E402
from models.engine import Item, PlantType, split  # noqa: E402

TOY_INFO = PlantInfo("toy", "Toy tank", "A tank held at its set point", sampling=dt.timedelta(minutes=10))
TOY_TAGS = (
    TagSpec("TOY.TI1", "Tank temperature", "degC", "K", 0.0, 100.0, "tank", 0.5),
    TagSpec("TOY.TC1.SP", "Temperature set point", "degC", "K", 0.0, 100.0, "controller"),
)


def _toy_items(seed, day_no):
    steady = (("sp_c", 50.0),)
    return (Item(0, 60, "normal", "steady", None, steady), Item(60, 90, "abnormal", "sensor_drift", "TOY.TI1"),
            Item(90, 144, "normal", "steady", None, steady))


def _toy_day(seed, day_no, params):
    index = pd.date_range(EPOCH + day_no * DAY, periods=144, freq=TOY_INFO.sampling)
    values = pd.DataFrame({"TOY.TI1": params, "TOY.TC1.SP": params}, index=index)
    return values, TOY.day_episodes(seed, day_no, params)


TOY = PlantType(TOY_INFO, TOY_TAGS, 50.0, step=TOY_INFO.sampling, day_items=_toy_items,
                detail=lambda item, ctx: f"steady at {item.arg('sp_c'):.0f} degC until {ctx.hhmm(item.end)}",
                simulate_day=_toy_day)


def test_a_new_plant_type_gets_episodes_windows_and_files_from_the_engine(tmp_path):
    eps = TOY.schedule(DAY1 + dt.timedelta(hours=12), DAY1 + DAY + dt.timedelta(hours=12))
    assert [e.episode_id for e in eps] == [2026010102, 2026010103, 2026010201, 2026010202]
    drift = eps[0]  # 10:00-15:00 planned, clipped to the window
    assert (drift.start, drift.end) == (DAY1 + dt.timedelta(hours=12), DAY1 + dt.timedelta(hours=15))
    assert drift.category == "abnormal" and drift.tag == "TOY.TI1" and drift.detail.startswith("TOY.TI1 drifts ")
    assert drift.detail.endswith("% of span) over 5.0 h")
    assert eps[2].detail == "steady at 50 degC until 10:00Z"
    assert eps[3].end == DAY1 + DAY + dt.timedelta(hours=12)

    with pytest.raises(ValueError, match="aligned"):
        TOY.schedule(DAY1 + dt.timedelta(minutes=5), DAY1 + DAY)

    values, eps = TOY.simulate_true(DAY1, DAY1 + DAY, params=40.0, plant_id="toy_2")
    assert len(values) == 144 and (values["TOY.TC1.SP"] == 40.0).all()
    assert {e.plant_id for e in eps} == {"toy_2"}

    res = TOY.simulate(DAY1, DAY1 + DAY, landing_dir=tmp_path / "landing", truth_dir=tmp_path / "truth",
                       params=40.0, plant_id="toy_2")
    main = pd.read_csv(next(p for p in res.paths if p.name == "toy_2__2026-01-01__01.csv"))
    ti = main[(main["tag"] == "TOY.TI1") & (main["quality"] == 192)].set_index("timestamp")["value"]
    before, during = ti.iloc[:60], ti.iloc[60:90]
    assert abs(before.mean() - 40.0) < 0.2  # noise 0.5 % of span
    assert abs(during.iloc[-10:].mean() - 40.0) > 1.0  # drifted by 2-6 % of span at the end
    assert res.truth_path.name == "toy_2_episodes.csv"


def test_split_gives_exact_totals_within_bounds():
    rng = np.random.default_rng(0)
    parts = split(rng, 100, 7, 10, 20)
    assert sum(parts) == 100 and min(parts) >= 10 and max(parts) <= 20
    with pytest.raises(ValueError):
        split(rng, 100, 3, 10, 20)


# ------------------------------------------------------------------ block-planner helpers

from models.engine import (  # noqa: E402
    DayPacker, Piece, Timeline, TransientSpec, category_quotas, moves, quota, spread, transients,
)


def test_category_quotas_are_20_8_2_percent_of_the_block():
    assert category_quotas(14400) == (2880, 1152, 288)  # 10 days of minutes
    assert category_quotas(2400) == (480, 192, 48)  # 25 days of 15-min slots
    assert category_quotas(600) == (120, 48, 12)  # 25 days of hours


def test_day_packer_bins_with_their_own_capacities():
    # Two days of segments 26 and 38 slots; 2 slots reserved per unit (0 before, 2 between, 2 after).
    bins = DayPacker(4, [26, 38] * 2, start_gap=0, min_gap=2, end_gap=2)
    assert bins.fits(0, 24) and not bins.fits(0, 25) and bins.fits(1, 36)
    bins.place(np.random.default_rng(0), ["a", "b", "c", "d"], [36, 36, 20, 20])
    assert sorted(bins.load) == [20, 20, 36, 36] and bins.load[1] == bins.load[3] == 36
    with pytest.raises(RuntimeError, match="capacity"):
        bins.place(np.random.default_rng(0), ["e"], [30])
    with pytest.raises(ValueError):
        DayPacker(3, [26, 38], start_gap=0, min_gap=2, end_gap=2)


def test_moves_use_the_budget_exactly_within_bounds():
    mv = moves(np.random.default_rng(3), 1000, ramp=(60, 180), hold=(30, 240), per_move=240,
               args=lambda rng: int(rng.integers(10)))
    assert len(mv) == 4  # round(1000 / 240)
    assert sum(m.out + m.back for m in mv) == 1000
    assert all(60 <= r <= 180 for m in mv for r in (m.out, m.back))
    assert all(30 <= m.hold <= 240 and 0 <= m.args < 10 for m in mv)
    assert [m.length for m in mv] == [m.out + m.hold + m.back for m in mv]
    assert len(moves(np.random.default_rng(3), 74, ramp=(4, 12), hold=(2, 16), n=5)) == 5
    with pytest.raises(ValueError):
        moves(np.random.default_rng(3), 100, ramp=(60, 180), hold=(30, 240))


def test_transients_take_grade_change_and_shutdown_from_the_budget():
    spec = TransientSpec(shutdown=(150, 300), startup=(150, 240), ramp=(60, 180), hold=(30, 240), per_move=240,
                         grade_change=(90, 180))
    seen_shutdown = set()
    for seed in range(20):
        tr = transients(np.random.default_rng(seed), spec, 2880, grade_changes=seed % 2 == 0)
        assert (tr.grade_change is not None) == (seed % 2 == 0)
        used = (tr.grade_change or 0) + sum(tr.shutdown or ()) + sum(m.out + m.back for m in tr.moves)
        assert used == 2880
        if tr.grade_change is not None:
            assert 90 <= tr.grade_change <= 180
        if tr.shutdown is not None:
            assert 150 <= tr.shutdown[0] <= 300 and 150 <= tr.shutdown[1] <= 240
        seen_shutdown.add(tr.shutdown is None)
        units = tr.units(lambda mv: [Piece("out", mv.out), Piece("hold", mv.hold), Piece("back", mv.back)])
        assert len(units) == len(tr.moves) + (tr.shutdown is not None)
        assert sum(pc.length for u in units for pc in u if pc.label != "hold") == 2880 - (tr.grade_change or 0)
        if tr.shutdown is not None:
            assert [(pc.label, pc.length) for pc in units[0]] == [("shutdown", tr.shutdown[0]), ("startup", tr.shutdown[1])]
    assert seen_shutdown == {True, False}  # probability 0.5 over 20 seeds


def test_quota_fills_the_category_exactly():
    q = quota(np.random.default_rng(1), 1152, (5, 7), (60, 360), lambda rng, d: ("x", d))
    assert 5 <= len(q) <= 7 and sum(d for d, _ in q) == 1152
    assert all(60 <= d <= 360 and lab == ("x", d) for d, lab in q)
    assert all(x is None for _, x in quota(np.random.default_rng(1), 12, (2, 3), (3, 6)))


def test_spread_and_tile_fill_the_day_exactly():
    units, gaps = spread(np.random.default_rng(0), ["a", "b", "c"], 300, 1440, start_gap=30, min_gap=20, end_gap=120)
    assert sorted(units) == ["a", "b", "c"] and len(gaps) == 4
    assert sum(gaps) == 1440 - 300 and gaps[0] >= 30 and gaps[-1] >= 120 and min(gaps[1:3]) >= 20
    assert spread(np.random.default_rng(0), [], 0, 96, start_gap=1, min_gap=1, end_gap=1) == ([], [96])

    days = DayPacker(2, 24, start_gap=1, min_gap=1, end_gap=2, closed=frozenset({1}))
    days.place(np.random.default_rng(0), [[Piece("a", 5)], [Piece("b", 7, category="abnormal")]])  # unit_length
    assert days.units[1] == [] and days.load == [12, 0]

    def render(line: Timeline, unit) -> None:
        for pc in unit:
            line.add(pc.length, pc.category, pc.label)

    items = days.tile(np.random.default_rng(0), 0, render, lambda: (("sp", 1.0),))
    assert items[0].start == 0 and items[-1].end == 24
    assert all(x.end == y.start for x, y in zip(items, items[1:]))
    assert sorted(it.label for it in items if it.label != "steady") == ["a", "b"]
    assert {it.args for it in items if it.label == "steady"} == {(("sp", 1.0),)}
    assert items[-1].label == "steady" and items[-1].end - items[-1].start >= 2
    with pytest.raises(RuntimeError, match="tile"):
        Timeline().done(24)
