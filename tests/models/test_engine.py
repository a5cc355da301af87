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
