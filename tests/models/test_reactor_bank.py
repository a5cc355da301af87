"""The reactor bank: a 1,000-tag plant type built from the CSTR twin on the shared engine."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import models.reactor_bank as rb
from models import get_plant
from models.base import SENSOR_FAULT_LABELS

DAY = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def day():
    return rb.simulate_true(DAY, DAY + dt.timedelta(days=1), seed=4)


def test_catalogue_is_the_cstr_template_once_per_reactor():
    cstr = get_plant("cstr")
    assert len(rb.TAGS) == rb.N_REACTORS * len(cstr.TAGS) == 1000
    assert len({t.tag for t in rb.TAGS}) == 1000
    r17 = [t for t in rb.TAGS if t.unit_operation == "reactor_017"]
    assert [t.tag for t in r17] == [rb.reactor_tag(17, t.tag) for t in cstr.TAGS]
    assert r17[3].tag == "RB.R017.TI102" and (r17[3].unit, r17[3].range_max) == ("degC", 150.0)
    assert get_plant("reactor_bank") is rb


def test_reactors_differ_within_the_declared_spread():
    params = rb.reactor_params(rb.DEFAULT)
    ua = np.array([p.UA for p in params]) / rb.DEFAULT.reactor.UA - 1
    vol = np.array([p.V for p in params]) / rb.DEFAULT.reactor.V - 1
    assert len(params) == 100 and np.abs(ua).max() <= 0.10 and np.abs(vol).max() <= 0.05
    assert ua.std() > 0.04 and vol.std() > 0.02  # uniform on ±10 % / ±5 %: sd 0.058 / 0.029
    assert rb.reactor_params(rb.ReactorBankParams(design_seed=1)) != params


def test_each_reactor_is_the_cstr_twin_with_its_own_parameters(day):
    data, episodes = day
    cstr = get_plant("cstr")
    assert data.shape == (1440, 1000)
    for k in (1, 64):
        own, _ = cstr.simulate_true(DAY, DAY + dt.timedelta(days=1), seed=4, params=rb.reactor_params(rb.DEFAULT)[k - 1])
        cols = [rb.reactor_tag(k, c) for c in own.columns]
        np.testing.assert_array_equal(data[cols].to_numpy(), own.to_numpy())
    # different jackets: different jacket temperatures at the same reactor temperature set point
    assert (data["RB.R001.TI103"] - data["RB.R064.TI103"]).abs().max() > 0.1
    # one plan for the bank; a sensor fault hits one reactor's instrument
    plan = cstr.schedule(DAY, DAY + dt.timedelta(days=1), seed=4)
    assert [(e.label, e.start, e.end) for e in episodes] == [(e.label, e.start, e.end) for e in plan]
    for e, c in zip(episodes, plan):
        if e.label in SENSOR_FAULT_LABELS:
            assert e.tag.startswith("RB.R") and e.tag.endswith(c.tag.removeprefix("CSTR."))
        else:
            assert e.tag is None and e.detail.endswith("(whole bank)")
