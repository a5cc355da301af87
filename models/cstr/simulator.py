"""CSTR day simulator and its binding to the shared engine (:mod:`models.engine`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd

from models.base import Episode
from models.engine import PlantType
from models.cstr.physics import CSTRParams, DEFAULT, DEFAULT_TUNING, PITuning, Trajectory, run_closed_loop
from models.cstr.tags import INFO, TAGS
from models.cstr.scenarios import _DAY, _EPOCH, _day_inputs, _day_plan, _detail, _hhmm

_ZERO_C = 273.15


def _tag_frame(traj: Trajectory, index: pd.DatetimeIndex) -> pd.DataFrame:
    conv = 100.0 * (1.0 - traj.ca / traj.feed_conc)
    cols = {
        "CSTR.FI101": traj.feed_flow,
        "CSTR.TI101": traj.feed_temp_k - _ZERO_C,
        "CSTR.AI101": traj.feed_conc,
        "CSTR.TI102": traj.temp_k - _ZERO_C,
        "CSTR.AI102": traj.ca,
        "CSTR.AY102": np.clip(conv, 0.0, 100.0),  # the DCS calculation block clamps to 0-100 %
        "CSTR.TC102.SP": traj.setpoint_k - _ZERO_C,
        "CSTR.TC102.OUT": traj.output_k - _ZERO_C,
        "CSTR.TI103": traj.jacket_k - _ZERO_C,
        "CSTR.QI101": traj.ua * (traj.temp_k - traj.jacket_k) / 60_000.0,  # J/min -> kW
    }
    return pd.DataFrame({t.tag: cols[t.tag] for t in TAGS}, index=index)


def _simulate_day(seed: int, day_no: int, params: CSTRParams, tuning: PITuning) -> tuple[pd.DataFrame, list[Episode]]:
    # Every day starts from the closed-loop steady state of its plan (the previous
    # day ends >= 2 h steady at that set point), so days are independent.
    day_start = _EPOCH + dt.timedelta(days=day_no)
    inputs = _day_inputs(seed, day_no, params)
    traj = run_closed_loop(inputs, params, tuning)
    index = pd.date_range(day_start, periods=_DAY, freq=INFO.sampling, tz="UTC")
    episodes = TYPE.day_episodes(seed, day_no)
    out = []
    for ep in episodes:
        if ep.label == "cooling_failure":
            s = int((ep.start - day_start) / INFO.sampling)
            e = int((ep.end - day_start) / INFO.sampling)
            trips = [t for t in traj.trips if s <= t < e]
            peak = float(traj.temp_k[s:e].max())
            outcome = (
                f"; high-high trip at {_hhmm(day_start, trips[0])} stopped the feed, backup coolant"
                if trips
                else "; no trip"
            )
            ep = replace(ep, detail=f"{ep.detail}{outcome}; peak T {peak:.1f} K")
        out.append(ep)
    return _tag_frame(traj, index), out


#: The CSTR on the shared simulation engine (:mod:`models.engine`): the day plan, the episode
#: details and the day simulator are the CSTR's own, the rest is the engine's.
TYPE = PlantType(
    info=INFO,
    tags=TAGS,
    default_params=DEFAULT,
    step=dt.timedelta(minutes=1),
    day_items=lambda seed, day_no: _day_plan(seed, day_no)[1],
    detail=_detail,
    simulate_day=lambda seed, day_no, params, tuning=DEFAULT_TUNING: _simulate_day(seed, day_no, params, tuning),
)

#: Planned episodes tiling ``[start, end)`` (:meth:`models.engine.PlantType.schedule`). Each UTC
#: day's plan comes from its 10-day block (aligned to 1970-01-01), seeded by ``(seed, block)``;
#: category shares are exactly 70/20/8/2 % over every aligned block. Details of
#: ``cooling_failure`` episodes gain the simulated outcome in :func:`simulate_true`.
schedule = TYPE.schedule
#: True values at 1-min sampling and episodes, ``simulate_true(start, end, seed=0, params=None,
#: plant_id=None, *, tuning=DEFAULT_TUNING)`` (:meth:`models.engine.PlantType.simulate_true`);
#: whole UTC days are integrated (~0.07 s each) and sliced.
simulate_true = TYPE.simulate_true
#: Historian exports into ``<landing_dir>/sensor/<plant_id>/`` plus ground truth
#: (:meth:`models.engine.PlantType.simulate`).
simulate = TYPE.simulate
