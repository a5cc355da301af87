"""Reactor bank day simulator on the shared engine: the CSTR twin once per reactor, one plan for the bank."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import pandas as pd

from models.base import SENSOR_FAULT_LABELS, Episode
from models.cstr.physics import DEFAULT as CSTR_DEFAULT
from models.cstr.physics import DEFAULT_TUNING, CSTRParams, PITuning
from models.cstr.simulator import TYPE as CSTR
from models.engine import DayContext, Item, PlantType
from models.reactor_bank.tags import INFO, N_REACTORS, TAGS, reactor_tag


@dataclass(frozen=True)
class ReactorBankParams:
    """Bank parameters.

    Attributes
    ----------
    reactor : CSTRParams
        Nominal reactor (the CSTR twin's parameters).
    ua_spread : float
        Reactor k's jacket UA is ``reactor.UA * (1 + ua_spread * u_k)``, ``u_k`` uniform in [-1, 1]
        (fabrication and fouling differences; assumption of this project).
    volume_spread : float
        Likewise for the liquid volume ``V``.
    design_seed : int
        Seed of the reactors' ``u_k`` (which reactor is which), fixed for a bank.
    """

    reactor: CSTRParams = field(default_factory=lambda: CSTR_DEFAULT)
    ua_spread: float = 0.10
    volume_spread: float = 0.05
    design_seed: int = 0

    def __post_init__(self) -> None:
        if not (0.0 <= self.ua_spread < 0.5 and 0.0 <= self.volume_spread < 0.5):
            raise ValueError("ua_spread and volume_spread must be in [0, 0.5)")


DEFAULT = ReactorBankParams()
DEFAULT_PARAMS = DEFAULT


@lru_cache(maxsize=8)
def reactor_params(params: ReactorBankParams) -> tuple[CSTRParams, ...]:
    """The parameters of each reactor of the bank (index 0 = reactor 1)."""
    u = np.random.default_rng([params.design_seed, 0xBA2C]).uniform(-1.0, 1.0, (N_REACTORS, 2))
    base = params.reactor
    return tuple(replace(base, UA=float(base.UA * (1.0 + params.ua_spread * a)),
                         V=float(base.V * (1.0 + params.volume_spread * b))) for a, b in u)


def _faulty_reactor(seed: int, day_no: int, position: int) -> int:
    """Which reactor's instrument a planned sensor fault hits (deterministic)."""
    return 1 + zlib.crc32(f"{seed}:{day_no}:{position}".encode()) % N_REACTORS


def _day_items(seed: int, day_no: int) -> list[Item]:
    """The CSTR's day plan for the whole bank (common feed header and coolant supply); each sensor
    fault lands on one reactor's instrument."""
    items = []
    for i, it in enumerate(CSTR.day_items(seed, day_no)):
        if it.label in SENSOR_FAULT_LABELS:
            it = replace(it, tag=reactor_tag(_faulty_reactor(seed, day_no, i), it.tag))
        items.append(it)
    return items


def _detail(item: Item, ctx: DayContext) -> str:
    return CSTR.detail(item, replace(ctx, params=ctx.params.reactor)) + " (whole bank)"


def _simulate_day(seed: int, day_no: int, params: ReactorBankParams, tuning: PITuning
                  ) -> tuple[pd.DataFrame, list[Episode]]:
    frames = []
    for k, p in enumerate(reactor_params(params), start=1):
        df, _ = CSTR.simulate_day(seed, day_no, p, tuning=tuning)
        frames.append(df.rename(columns=lambda c, k=k: reactor_tag(k, c)))
    data = pd.concat(frames, axis=1)
    return data[[t.tag for t in TAGS]], TYPE.day_episodes(seed, day_no, params)


#: The reactor bank on the shared simulation engine (:mod:`models.engine`).
TYPE = PlantType(
    info=INFO,
    tags=TAGS,
    default_params=DEFAULT,
    step=dt.timedelta(minutes=1),
    day_items=_day_items,
    detail=_detail,
    simulate_day=lambda seed, day_no, params, tuning=DEFAULT_TUNING: _simulate_day(seed, day_no, params, tuning),
)

schedule = TYPE.schedule
simulate_true = TYPE.simulate_true
simulate = TYPE.simulate
