"""Shared simulation engine: plant instances of a plant type."""

from __future__ import annotations

import datetime as dt

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
